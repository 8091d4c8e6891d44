//! Exposes the metrics connectors and tasks define themselves
//! ([`crate::connect::PluginMetrics`]) on `/metrics`.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

use crate::connect::metrics::{MetricKind, MetricSample};
use crate::connect::PluginMetricsRegistry;
use crate::metrics::Registry;

/// The plugin registries of the workers of this process (one per worker;
/// tests run several).
static REGISTRIES: Mutex<Vec<Weak<PluginMetricsRegistry>>> = Mutex::new(Vec::new());

/// Makes `registry`'s metrics part of `/metrics` for as long as it lives.
pub fn expose(registry: &Arc<PluginMetricsRegistry>) {
    let mut all = REGISTRIES.lock().unwrap_or_else(PoisonError::into_inner);
    all.retain(|r| r.strong_count() > 0);
    all.push(Arc::downgrade(registry));
}

fn samples() -> Vec<MetricSample> {
    let all = REGISTRIES.lock().unwrap_or_else(PoisonError::into_inner);
    let mut out: Vec<MetricSample> = all
        .iter()
        .filter_map(Weak::upgrade)
        .flat_map(|r| r.samples())
        .collect();
    out.sort_by(|a, b| (&a.name, &a.labels).cmp(&(&b.name, &b.labels)));
    out
}

/// Registers the metrics of every exposed plugin registry into `registry`.
pub fn register(registry: &mut Registry) {
    registry.register_collector(Box::new(PluginCollector));
}

/// The collector of every exposed plugin registry: one family per metric
/// name, one sample per label set.
#[derive(Debug)]
struct PluginCollector;

impl Collector for PluginCollector {
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> fmt::Result {
        let samples = samples();
        let mut i = 0;
        while i < samples.len() {
            let first = &samples[i];
            let family: Vec<&MetricSample> = samples[i..]
                .iter()
                .take_while(|s| s.name == first.name)
                .filter(|s| s.kind == first.kind)
                .collect();
            let n = samples[i..]
                .iter()
                .take_while(|s| s.name == first.name)
                .count();
            i += n;
            let (name, kind) = match first.kind {
                // The encoder adds `_total`.
                MetricKind::Counter => (
                    first.name.strip_suffix("_total").unwrap_or(&first.name),
                    MetricType::Counter,
                ),
                MetricKind::Gauge => (first.name.as_str(), MetricType::Gauge),
            };
            let mut metric = enc.encode_descriptor(name, &first.help, None, kind)?;
            for s in family {
                let labels: Vec<(&str, &str)> = s
                    .labels
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let mut encoder = metric.encode_family(&labels)?;
                match s.kind {
                    MetricKind::Counter => {
                        encoder.encode_counter::<NoLabelSet, _, u64>(&(s.value as u64), None)?
                    }
                    MetricKind::Gauge => encoder.encode_gauge(&s.value)?,
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_metrics_are_exposed_while_their_registry_lives() {
        let plugins = Arc::new(PluginMetricsRegistry::default());
        expose(&plugins);
        let task = plugins.handle(&[("connector", "exposed-pg"), ("task", "0")]);
        task.with_group("debezium_metrics")
            .counter("TotalNumberOfEventsSeen", "Events seen")
            .inc_by(7);
        task.gauge("lag_ms", "Lag").set(1.5);
        let mut registry = Registry::default();
        register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(
            text.contains("debezium_metrics_TotalNumberOfEventsSeen_total{connector=\"exposed-pg\",task=\"0\"} 7"),
            "{text}"
        );
        assert!(
            text.contains("kafka_connect_plugins_lag_ms{connector=\"exposed-pg\",task=\"0\"} 1.5"),
            "{text}"
        );
        drop(task);
        drop(plugins);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(!text.contains("exposed-pg"), "{text}");
    }
}
