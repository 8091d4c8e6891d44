//! kconnect: Kafka Connect rebuilt in Rust.
#![forbid(unsafe_code)]

pub mod api;
/// The plugin API, its own crate so connectors build against it alone.
pub use kconnect_api as connect;
pub mod connectors;
pub mod converters;
pub mod distributed;
pub mod engine;
pub mod metrics;
pub mod operator;
pub mod placement;
pub mod rest;
pub mod standalone;
pub mod storage;
pub mod transforms;
