//! kconnect: Kafka Connect rebuilt in Rust.
#![forbid(unsafe_code)]

pub mod connect;
pub mod converters;
pub mod connectors;
pub mod storage;
pub mod engine;
pub mod standalone;
