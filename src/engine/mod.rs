//! The task engine: runs source and sink tasks against Kafka, shared by
//! standalone mode and the worker pods.

pub mod client_failure;
pub mod connector_config;
pub mod connector_context;
pub mod dlq;
pub mod errors;
pub mod herder;
pub mod kafka;
pub mod kafka_security;
pub mod keystores;
pub mod metrics;
pub mod plugin_metrics;
pub mod sink;
pub mod source;
pub mod stage;
pub mod task;
pub mod topic_creation;
pub mod transactions;
pub mod worker;
pub mod worker_config;

pub use task::{TaskContext, TaskFailure, TaskId};
pub use worker::{TaskState, Worker};
pub use worker_config::WorkerConfig;
