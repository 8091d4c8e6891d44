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

/// Makes ring rustls' process-wide crypto provider. Both of rustls'
/// providers are compiled in (pgwire-replication's TLS brings aws-lc), so
/// clients that build their TLS from the process default (kube's) need one
/// chosen; ring is what every other TLS path here uses. Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
