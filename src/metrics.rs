//! Prometheus metrics of workers, standalone mode and the operator, named
//! as Strimzi's JMX-exporter rules name Kafka Connect's metrics.
//! (Being filled in; `render` is what `/metrics` serves.)

/// The registry in Prometheus text format (OpenMetrics).
pub fn render() -> String {
    String::new()
}
