//! Metrics a plugin defines for itself (Java's KIP-877 `PluginMetrics`).
//!
//! The framework hands each connector and task a [`PluginMetrics`] handle
//! labelled with its connector (and task); a plugin registers counters and
//! gauges through it, under its own group (`debezium_metrics`,
//! `kafka_connect_plugins` by default), and updates them with an atomic
//! operation. The framework exposes every live metric on `/metrics` and
//! removes a task's metrics when the task ends.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// The group of a handle nobody renamed: KIP-877's `type=plugins`, as
/// Strimzi's exporter names it.
pub const DEFAULT_GROUP: &str = "kafka_connect_plugins";

/// Counter or gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Counter,
    Gauge,
}

/// A monotonically increasing count.
#[derive(Debug, Clone, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    pub fn inc(&self) {
        self.inc_by(1);
    }

    pub fn inc_by(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Debug, Clone, Default)]
pub struct Gauge(Arc<AtomicU64>);

impl Gauge {
    pub fn set(&self, v: f64) {
        self.0.store(v.to_bits(), Ordering::Relaxed);
    }

    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

/// One registered metric, as the framework reads it to expose it.
#[derive(Debug, Clone)]
pub struct MetricSample {
    /// `<group>_<name>`, e.g. `debezium_metrics_total_number_of_events_seen`.
    pub name: String,
    pub help: String,
    pub kind: MetricKind,
    /// `connector`, `task` (for task handles) and the plugin's own tags.
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

#[derive(Debug)]
struct Entry {
    owner: u64,
    name: String,
    help: String,
    labels: Vec<(String, String)>,
    value: Value,
}

#[derive(Debug)]
enum Value {
    Counter(Counter),
    Gauge(Gauge),
}

/// Every plugin metric of a process. The framework owns one, creates the
/// handles and reads [`PluginMetricsRegistry::samples`].
#[derive(Debug, Default)]
pub struct PluginMetricsRegistry {
    entries: Mutex<Vec<Entry>>,
    next_owner: AtomicU64,
}

impl PluginMetricsRegistry {
    /// A handle whose metrics carry `labels` (`connector`, `task`).
    pub fn handle(self: &Arc<Self>, labels: &[(&str, &str)]) -> PluginMetrics {
        PluginMetrics {
            registry: self.clone(),
            owner: self.next_owner.fetch_add(1, Ordering::Relaxed),
            group: DEFAULT_GROUP.to_owned(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// Drops every metric registered through `handle` (and the handles
    /// derived from it): the connector or task it was given to ended.
    pub fn remove(&self, handle: &PluginMetrics) {
        self.lock().retain(|e| e.owner != handle.owner);
    }

    /// The current value of every metric, sorted by name then labels.
    pub fn samples(&self) -> Vec<MetricSample> {
        let mut out: Vec<MetricSample> = self
            .lock()
            .iter()
            .map(|e| MetricSample {
                name: e.name.clone(),
                help: e.help.clone(),
                kind: match e.value {
                    Value::Counter(_) => MetricKind::Counter,
                    Value::Gauge(_) => MetricKind::Gauge,
                },
                labels: e.labels.clone(),
                value: match &e.value {
                    Value::Counter(c) => c.get() as f64,
                    Value::Gauge(g) => g.get(),
                },
            })
            .collect();
        out.sort_by(|a, b| (&a.name, &a.labels).cmp(&(&b.name, &b.labels)));
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A connector's or task's way to define its own metrics.
#[derive(Debug, Clone)]
pub struct PluginMetrics {
    registry: Arc<PluginMetricsRegistry>,
    owner: u64,
    group: String,
    labels: Vec<(String, String)>,
}

impl PluginMetrics {
    /// A handle of its own, for tests and tools that run a plugin outside
    /// the framework.
    pub fn detached() -> PluginMetrics {
        Arc::new(PluginMetricsRegistry::default()).handle(&[])
    }

    /// The same handle with metric names under `group` (e.g.
    /// `debezium_metrics`), so a connector keeps the names its original's
    /// dashboards use.
    pub fn with_group(&self, group: &str) -> PluginMetrics {
        PluginMetrics {
            group: sanitize(group),
            ..self.clone()
        }
    }

    /// The same handle with one more label (Debezium's `context`, …).
    pub fn with_label(&self, key: &str, value: &str) -> PluginMetrics {
        let mut labels = self.labels.clone();
        labels.retain(|(k, _)| k != key);
        labels.push((sanitize(key), value.to_owned()));
        PluginMetrics {
            labels,
            ..self.clone()
        }
    }

    /// Registers (or finds again) a counter `<group>_<name>`.
    pub fn counter(&self, name: &str, help: &str) -> Counter {
        match self.register(name, help, || Value::Counter(Counter::default())) {
            Value::Counter(c) => c,
            Value::Gauge(_) => Counter::default(),
        }
    }

    /// Registers (or finds again) a gauge `<group>_<name>`.
    pub fn gauge(&self, name: &str, help: &str) -> Gauge {
        match self.register(name, help, || Value::Gauge(Gauge::default())) {
            Value::Gauge(g) => g,
            Value::Counter(_) => Gauge::default(),
        }
    }

    /// The labels every metric of this handle carries.
    pub fn labels(&self) -> BTreeMap<String, String> {
        self.labels.iter().cloned().collect()
    }

    /// A metric registered twice by one handle is the same metric; one of
    /// another kind under the same name is detached (never exposed), so a
    /// plugin bug cannot corrupt the exposition.
    fn register(&self, name: &str, help: &str, create: impl FnOnce() -> Value) -> Value {
        let full = format!("{}_{}", self.group, sanitize(name));
        let mut entries = self.registry.lock();
        if let Some(e) = entries
            .iter()
            .find(|e| e.owner == self.owner && e.name == full && e.labels == self.labels)
        {
            return match &e.value {
                Value::Counter(c) => Value::Counter(c.clone()),
                Value::Gauge(g) => Value::Gauge(g.clone()),
            };
        }
        let value = create();
        let shared = match &value {
            Value::Counter(c) => Value::Counter(c.clone()),
            Value::Gauge(g) => Value::Gauge(g.clone()),
        };
        entries.push(Entry {
            owner: self.owner,
            name: full,
            help: help.to_owned(),
            labels: self.labels.clone(),
            value,
        });
        shared
    }
}

/// Prometheus names: `[a-zA-Z0-9_]`, as Strimzi's exporter rewrites
/// `MilliSecondsBehindSource`-style attributes (`-` and `.` become `_`).
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_register_labelled_metrics_and_forget_them_when_removed() {
        let registry = Arc::new(PluginMetricsRegistry::default());
        let task = registry.handle(&[("connector", "pg"), ("task", "0")]);
        let streaming = task
            .with_group("debezium_metrics")
            .with_label("context", "streaming");
        let seen = streaming.counter("TotalNumberOfEventsSeen", "Events seen");
        seen.inc_by(3);
        streaming
            .counter("TotalNumberOfEventsSeen", "Events seen")
            .inc();
        streaming.gauge("MilliSecondsBehindSource", "Lag").set(12.5);
        let other = registry.handle(&[("connector", "s3")]);
        other.counter("uploads", "Uploads").inc();

        let samples = registry.samples();
        assert_eq!(samples.len(), 3);
        let events = samples
            .iter()
            .find(|s| s.name == "debezium_metrics_TotalNumberOfEventsSeen")
            .unwrap();
        assert_eq!(events.value, 4.0);
        assert_eq!(events.kind, MetricKind::Counter);
        assert_eq!(
            events.labels,
            vec![
                ("connector".into(), "pg".into()),
                ("task".into(), "0".into()),
                ("context".into(), "streaming".into())
            ]
        );
        assert!(samples
            .iter()
            .any(|s| s.name == "kafka_connect_plugins_uploads" && s.value == 1.0));

        // A handle and the handles derived from it go together.
        registry.remove(&task);
        let left: Vec<String> = registry.samples().into_iter().map(|s| s.name).collect();
        assert_eq!(left, vec!["kafka_connect_plugins_uploads"]);
    }
}
