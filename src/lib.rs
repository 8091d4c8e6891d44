//! kconnect: Kafka Connect rebuilt in Rust.
#![forbid(unsafe_code)]

pub mod connect;
pub mod converters;
