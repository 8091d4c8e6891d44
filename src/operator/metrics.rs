//! The operator's own metrics, served at `/metrics` on its metrics listener
//! (`KCONNECT_OPERATOR_METRICS_LISTEN`, default `0.0.0.0:8080`; `off`
//! disables it):
//!
//! - `kconnect_operator_reconcile_total{controller,result}`: reconciles per
//!   controller (`connectcluster`, `connector`), `result` `success` or
//!   `error`;
//! - `kconnect_operator_reconcile_errors_total{controller,error}`: failed
//!   reconciles by kind of error (`kube`, `runtime`, `finalizer`, `kafka`);
//! - `kconnect_operator_reconcile_duration_seconds{controller}`: histogram;
//! - per cluster loop (`namespace`, `cluster`):
//!   `kconnect_operator_assignment_generation`,
//!   `kconnect_operator_live_workers`,
//!   `kconnect_operator_assignments_written_total`,
//!   `kconnect_operator_cluster_passes_total{…,result}`,
//!   `kconnect_operator_task_restarts_total`, and the cluster-wide task
//!   states of the status topic, `kconnect_operator_tasks{…,state}`;
//! - `kconnect_operator_leader`: 1 while this replica leads.

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use tokio_util::sync::CancellationToken;

use super::cluster_key::ClusterKey;
use crate::metrics::Registry;
use crate::storage::status_topic::State;

/// Environment variable with the metrics listener's address.
pub const LISTEN_ENV: &str = "KCONNECT_OPERATOR_METRICS_LISTEN";
/// Where the operator serves `/metrics` unless told otherwise.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:8080";

type ControllerLabels = [(&'static str, &'static str); 1];
type ResultLabels = [(&'static str, &'static str); 2];
type ClusterLabels = [(&'static str, String); 2];
type ClusterStateLabels = [(&'static str, String); 3];

fn reconcile_histogram() -> Histogram {
    Histogram::new([
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    ])
}

struct OperatorMetrics {
    reconciles: Family<ResultLabels, Counter>,
    reconcile_errors: Family<ResultLabels, Counter>,
    durations: Family<ControllerLabels, Histogram, fn() -> Histogram>,
    leader: Gauge,
    generation: Family<ClusterLabels, Gauge>,
    live_workers: Family<ClusterLabels, Gauge>,
    assignments_written: Family<ClusterLabels, Counter>,
    passes: Family<ClusterStateLabels, Counter>,
    restarts: Family<ClusterLabels, Counter>,
    tasks: Family<ClusterStateLabels, Gauge>,
}

static OPERATOR: LazyLock<OperatorMetrics> = LazyLock::new(|| OperatorMetrics {
    reconciles: Family::default(),
    reconcile_errors: Family::default(),
    durations: Family::new_with_constructor(reconcile_histogram),
    leader: Gauge::default(),
    generation: Family::default(),
    live_workers: Family::default(),
    assignments_written: Family::default(),
    passes: Family::default(),
    restarts: Family::default(),
    tasks: Family::default(),
});

/// Every state a task can be in, with its label value.
const STATES: [(State, &str); 7] = [
    (State::Unassigned, "unassigned"),
    (State::Running, "running"),
    (State::Paused, "paused"),
    (State::Stopped, "stopped"),
    (State::Failed, "failed"),
    (State::Restarting, "restarting"),
    (State::Destroyed, "destroyed"),
];

fn cluster_labels(key: &ClusterKey) -> ClusterLabels {
    [
        ("namespace", key.namespace.clone()),
        ("cluster", key.name.clone()),
    ]
}

fn cluster_state_labels(key: &ClusterKey, state: &'static str) -> ClusterStateLabels {
    [
        ("namespace", key.namespace.clone()),
        ("cluster", key.name.clone()),
        ("state", state.to_owned()),
    ]
}

/// Registers the operator's metrics into `registry`: each scrape reads the
/// process-wide state the reconcilers and cluster loops record into.
pub fn register(registry: &mut Registry) {
    registry.register_collector(Box::new(OperatorCollector));
}

/// A reconcile of `controller` ended after `took`; `error` names the kind
/// of error when it failed.
pub fn reconciled(controller: &'static str, took: Duration, error: Option<&'static str>) {
    let m = &*OPERATOR;
    let result = if error.is_some() { "error" } else { "success" };
    m.reconciles
        .get_or_create(&[("controller", controller), ("result", result)])
        .inc();
    if let Some(kind) = error {
        m.reconcile_errors
            .get_or_create(&[("controller", controller), ("error", kind)])
            .inc();
    }
    m.durations
        .get_or_create(&[("controller", controller)])
        .observe(took.as_secs_f64());
}

/// Whether this replica leads.
pub fn set_leader(leading: bool) {
    OPERATOR.leader.set(i64::from(leading));
}

/// One pass of a cluster loop ended.
pub fn cluster_pass(key: &ClusterKey, ok: bool) {
    let [ns, name] = cluster_labels(key);
    OPERATOR
        .passes
        .get_or_create(&[
            ns,
            name,
            ("result", (if ok { "success" } else { "error" }).into()),
        ])
        .inc();
}

/// What a cluster loop's pass saw and decided.
pub fn cluster_state(
    key: &ClusterKey,
    generation: u64,
    live_workers: usize,
    written: bool,
    task_states: impl Iterator<Item = State>,
) {
    let m = &*OPERATOR;
    let labels = cluster_labels(key);
    m.generation.get_or_create(&labels).set(generation as i64);
    m.live_workers
        .get_or_create(&labels)
        .set(live_workers as i64);
    if written {
        m.assignments_written.get_or_create(&labels).inc();
    }
    let mut counts = [0i64; STATES.len()];
    for state in task_states {
        if let Some(i) = STATES.iter().position(|(s, _)| *s == state) {
            counts[i] += 1;
        }
    }
    for ((_, name), n) in STATES.iter().zip(counts) {
        m.tasks
            .get_or_create(&cluster_state_labels(key, name))
            .set(n);
    }
}

/// The loop requested a restart of a failed task.
pub fn task_restart(key: &ClusterKey) {
    OPERATOR.restarts.get_or_create(&cluster_labels(key)).inc();
}

/// The cluster's loop stopped: its series go.
pub fn cluster_gone(key: &ClusterKey) {
    let m = &*OPERATOR;
    let labels = cluster_labels(key);
    m.generation.remove(&labels);
    m.live_workers.remove(&labels);
    m.assignments_written.remove(&labels);
    m.restarts.remove(&labels);
    for (_, name) in STATES {
        m.tasks.remove(&cluster_state_labels(key, name));
    }
    for result in ["success", "error"] {
        let [ns, name] = cluster_labels(key);
        m.passes.remove(&[ns, name, ("result", result.to_owned())]);
    }
}

/// Exports the operator's metrics at each scrape.
#[derive(Debug)]
struct OperatorCollector;

impl Collector for OperatorCollector {
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> fmt::Result {
        let m = &*OPERATOR;
        let families: [(&str, &str, &dyn EncodeMetric); 10] = [
            (
                "kconnect_operator_reconcile",
                "Reconciles per controller and result.",
                &m.reconciles,
            ),
            (
                "kconnect_operator_reconcile_errors",
                "Failed reconciles per controller and kind of error.",
                &m.reconcile_errors,
            ),
            (
                "kconnect_operator_reconcile_duration_seconds",
                "How long reconciles take, per controller.",
                &m.durations,
            ),
            (
                "kconnect_operator_leader",
                "1 while this operator replica holds the leader Lease.",
                &m.leader,
            ),
            (
                "kconnect_operator_assignment_generation",
                "Generation of the newest assignment the cluster loop wrote or read.",
                &m.generation,
            ),
            (
                "kconnect_operator_live_workers",
                "Workers placement uses: Pod exists, not deleted or drained, heartbeat fresh.",
                &m.live_workers,
            ),
            (
                "kconnect_operator_assignments_written",
                "Assignment records written to the status topic.",
                &m.assignments_written,
            ),
            (
                "kconnect_operator_cluster_passes",
                "Passes of the cluster loop per result.",
                &m.passes,
            ),
            (
                "kconnect_operator_task_restarts",
                "Restarts of failed tasks requested by the operator.",
                &m.restarts,
            ),
            (
                "kconnect_operator_tasks",
                "Tasks of the cluster per state, as in the status topic.",
                &m.tasks,
            ),
        ];
        for (name, help, metric) in families {
            let encoder = enc.encode_descriptor(name, help, None, metric.metric_type())?;
            metric.encode(encoder)?;
        }
        Ok(())
    }
}

/// The listener address from [`LISTEN_ENV`] (default [`DEFAULT_LISTEN`]);
/// `None` when it is `off` or empty.
pub fn listen_address() -> Result<Option<SocketAddr>, String> {
    let raw = std::env::var(LISTEN_ENV).unwrap_or_else(|_| DEFAULT_LISTEN.to_owned());
    parse_listen(&raw)
}

pub fn parse_listen(raw: &str) -> Result<Option<SocketAddr>, String> {
    let raw = raw.trim();
    if raw.is_empty() || raw.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let addr = raw.strip_prefix("http://").unwrap_or(raw);
    addr.trim_end_matches('/')
        .parse()
        .map(Some)
        .map_err(|e| format!("{LISTEN_ENV}={raw}: not an address like 0.0.0.0:8080: {e}"))
}

/// Serves `registry` at `/metrics` on `addr` until `stop`. A listener that
/// cannot bind is logged, never fatal: the operator works without it (e.g.
/// a second replica on the same host).
pub async fn start_listener(
    addr: Option<SocketAddr>,
    registry: Arc<Registry>,
    stop: CancellationToken,
) {
    let Some(addr) = addr else {
        tracing::info!("operator metrics listener disabled");
        return;
    };
    match crate::metrics::serve(addr, registry, stop).await {
        Ok(bound) => tracing::info!(addr = %bound, "operator metrics at /metrics"),
        Err(e) => {
            tracing::warn!(%addr, error = %e, "operator metrics listener could not bind; metrics are not served")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the operator's `/metrics` shows.
    fn render() -> String {
        crate::metrics::render(&crate::metrics::registry(register))
    }

    #[test]
    fn listen_address_parses_off_and_urls() {
        assert_eq!(parse_listen("off").unwrap(), None);
        assert_eq!(parse_listen("").unwrap(), None);
        assert_eq!(
            parse_listen("0.0.0.0:8080").unwrap(),
            Some("0.0.0.0:8080".parse().unwrap())
        );
        assert_eq!(
            parse_listen("http://127.0.0.1:9090/").unwrap(),
            Some("127.0.0.1:9090".parse().unwrap())
        );
        assert!(parse_listen("nope").unwrap_err().contains(LISTEN_ENV));
    }

    #[test]
    fn renders_operator_metrics() {
        let key = ClusterKey {
            namespace: "ns-m".into(),
            name: "main".into(),
        };
        reconciled("connectcluster", Duration::from_millis(30), None);
        reconciled("connector", Duration::from_millis(3), Some("kafka"));
        set_leader(true);
        cluster_state(
            &key,
            7,
            3,
            true,
            [State::Running, State::Running, State::Failed].into_iter(),
        );
        cluster_pass(&key, true);
        task_restart(&key);
        let text = render();
        for line in [
            "# TYPE kconnect_operator_reconcile_total counter",
            r#"kconnect_operator_reconcile_total{controller="connectcluster",result="success"}"#,
            r#"kconnect_operator_reconcile_errors_total{controller="connector",error="kafka"} 1"#,
            "# TYPE kconnect_operator_reconcile_duration_seconds histogram",
            r#"kconnect_operator_reconcile_duration_seconds_bucket{controller="connectcluster",le="0.05"}"#,
            "kconnect_operator_leader 1",
            r#"kconnect_operator_assignment_generation{namespace="ns-m",cluster="main"} 7"#,
            r#"kconnect_operator_live_workers{namespace="ns-m",cluster="main"} 3"#,
            r#"kconnect_operator_assignments_written_total{namespace="ns-m",cluster="main"} 1"#,
            r#"kconnect_operator_tasks{namespace="ns-m",cluster="main",state="running"} 2"#,
            r#"kconnect_operator_tasks{namespace="ns-m",cluster="main",state="failed"} 1"#,
            r#"kconnect_operator_cluster_passes_total{namespace="ns-m",cluster="main",result="success"} 1"#,
            r#"kconnect_operator_task_restarts_total{namespace="ns-m",cluster="main"} 1"#,
        ] {
            assert!(text.contains(line), "missing {line} in:\n{text}");
        }
        cluster_gone(&key);
        let text = render();
        assert!(!text.contains(r#"cluster="main""#), "{text}");
    }
}
