//! Kafka Connect's worker metrics: the groups of Java's
//! `ConnectMetricsRegistry`, exported under the names Strimzi's JMX-exporter
//! rules give them (`kafka_connect_<group without -metrics>_<attribute>`,
//! dashes as underscores, labels `connector` and `task`), so Strimzi's alerts
//! and Grafana dashboard work unchanged.
//!
//! | Java group | exported as |
//! |---|---|
//! | `connector-metrics` | `kafka_connect_connector_status{connector,status}` 1, `…_connector_class{connector,connector_class}` 1, `…_connector_type`, `…_connector_version` |
//! | `connector-task-metrics` | `kafka_connect_connector_task_status{connector,task,status}` 1, `…_running_ratio`, `…_pause_ratio`, `…_batch_size_avg`/`_max`, `…_offset_commit_avg_time_ms`/`_max_time_ms`, `…_offset_commit_success_percentage`/`_failure_percentage` |
//! | `source-task-metrics` | `kafka_connect_source_task_source_record_poll_total`/`_rate`, `…_source_record_write_total`/`_rate`, `…_poll_batch_avg_time_ms`/`_max_time_ms`, `…_source_record_active_count`/`_max`/`_avg` |
//! | `sink-task-metrics` | `kafka_connect_sink_task_sink_record_read_total`/`_rate`, `…_sink_record_send_total`/`_rate`, `…_put_batch_avg_time_ms`/`_max_time_ms`, `…_partition_count`, `…_offset_commit_seq_no`, `…_offset_commit_completion_total`/`_rate`, `…_offset_commit_skip_total`/`_rate` |
//! | `task-error-metrics` | `kafka_connect_task_error_total_record_failures`, `…_total_record_errors`, `…_total_records_skipped`, `…_total_retries`, `…_total_errors_logged`, `…_deadletterqueue_produce_requests`, `…_deadletterqueue_produce_failures`, `…_last_error_timestamp` |
//! | `connect-worker-metrics` | `kafka_connect_worker_connector_count`, `…_task_count`, `…_connector_startup_{attempts,success,failure}_total`, `…_connector_startup_{success,failure}_percentage`, the same for `task_startup`, and per connector `kafka_connect_worker_connector_{total,running,paused,failed,unassigned,destroyed,restarting}_task_count{connector}` |
//! | `connect-worker-rebalance-metrics` | `kafka_connect_worker_rebalance_completed_rebalances_total`, `…_epoch`, `…_rebalancing`, `…_rebalance_avg_time_ms`/`_max_time_ms`, `…_time_since_last_rebalance_ms` (distributed workers) |
//! | `connect-coordinator-metrics` | `kafka_connect_coordinator_assigned_connectors{clientid}`, `…_assigned_tasks{clientid}` (distributed workers) |
//! | `producer-metrics`, `consumer-metrics` (the tasks' clients) | `kafka_producer_outgoing_byte_total{clientid}`, `…_incoming_byte_total`, `…_connection_count`, the same for `kafka_consumer_…`, from librdkafka's statistics (`statistics.interval.ms`, 15 s by default here) |
//!
//! Types follow the rules: attributes ending in `-total` are counters,
//! everything else gauges (the `task-error-metrics` `total-…` attributes
//! are gauges there too). Rates, averages and maxima cover the last 30
//! seconds ([`crate::metrics::sampled`]); "percentages" are fractions from
//! 0 to 1, as Java's. A task's metrics exist from its start until it stops
//! (a FAILED task keeps them, with its status, until it is restarted or
//! forgotten), and start again from zero on restart, as in Java.
//!
//! The loops record per poll batch / consumed chunk / commit: a few atomic
//! operations each, no lock and no allocation on the record path. What
//! they record is process-wide, so no handle has to reach them; a mode
//! exports it by [`register`]ing this module's collector into its registry,
//! which encodes each group from a table of rows (name, help, type, getter).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError, RwLock};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, NoLabelSet};
use prometheus_client::metrics::MetricType;

use super::task::TaskId;
use crate::connect::ConnectorKind;
use crate::metrics::{epoch_ms, ticks_us, Meter, Outcomes, Registry, Stat};
use crate::storage::status_topic::State;

/// Connect's connector and task states, as the `status` label spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Unassigned,
    Running,
    Paused,
    Failed,
    Restarting,
    Destroyed,
    Stopped,
}

impl From<State> for Status {
    fn from(state: State) -> Status {
        match state {
            State::Unassigned => Status::Unassigned,
            State::Running => Status::Running,
            State::Paused => Status::Paused,
            State::Stopped => Status::Stopped,
            State::Failed => Status::Failed,
            State::Restarting => Status::Restarting,
            State::Destroyed => Status::Destroyed,
        }
    }
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Unassigned,
        Status::Running,
        Status::Paused,
        Status::Failed,
        Status::Restarting,
        Status::Destroyed,
        Status::Stopped,
    ];

    /// Java's `state.toString().toLowerCase()`.
    pub fn name(self) -> &'static str {
        match self {
            Status::Unassigned => "unassigned",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Failed => "failed",
            Status::Restarting => "restarting",
            Status::Destroyed => "destroyed",
            Status::Stopped => "stopped",
        }
    }
}

/// Time spent per state, for `running-ratio` and `pause-ratio`.
#[derive(Debug)]
struct StateTimes {
    status: Status,
    since_us: u64,
    running_us: u64,
    paused_us: u64,
}

/// Java's `task-error-metrics` of one task.
#[derive(Debug, Default)]
pub struct ErrorMetrics {
    failures: AtomicU64,
    errors: AtomicU64,
    skipped: AtomicU64,
    retries: AtomicU64,
    logged: AtomicU64,
    dlq_requests: AtomicU64,
    dlq_failures: AtomicU64,
    last_error_ms: AtomicI64,
}

impl ErrorMetrics {
    /// One failed attempt of an operation (`total-record-failures`).
    pub fn failure(&self) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        self.last_error_ms.store(epoch_ms(), Ordering::Relaxed);
    }

    /// A failure that was not tolerated (`total-record-errors`).
    pub fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// A record skipped because its failure was tolerated.
    pub fn skipped(&self) {
        self.skipped.fetch_add(1, Ordering::Relaxed);
    }

    /// One more attempt of a failed operation.
    pub fn retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// A failure written to the log (`errors.log.enable`).
    pub fn logged(&self) {
        self.logged.fetch_add(1, Ordering::Relaxed);
    }

    /// A record handed to the dead letter queue's producer.
    pub fn dlq_request(&self) {
        self.dlq_requests.fetch_add(1, Ordering::Relaxed);
    }

    /// A write to the dead letter queue that failed.
    pub fn dlq_failure(&self) {
        self.dlq_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub fn total_failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    pub fn total_skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }
}

/// The metrics of one task: `connector-task-metrics`, its
/// `source-task-metrics` or `sink-task-metrics`, and `task-error-metrics`.
pub struct TaskMetrics {
    id: TaskId,
    task_label: String,
    kind: ConnectorKind,
    created_us: u64,
    states: Mutex<StateTimes>,
    batch_size: Stat,
    commit_time_us: Stat,
    commits: Outcomes,
    // Source tasks.
    poll: Meter,
    write: Meter,
    poll_time_us: Stat,
    active: AtomicI64,
    active_stat: Stat,
    /// Records per committed transaction (exactly-once tasks).
    transaction_size: Stat,
    transactions_committed: AtomicU64,
    transactions_aborted: AtomicU64,
    /// Whether the task delivers exactly once (its transaction rows shown).
    exactly_once: AtomicBool,
    // Sink tasks.
    read: Meter,
    send: Meter,
    put_time_us: Stat,
    partitions: AtomicU64,
    commit_seq: AtomicU64,
    commit_completion: Meter,
    commit_skip: Meter,
    pub errors: ErrorMetrics,
}

impl fmt::Debug for TaskMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskMetrics")
            .field("id", &self.id.to_string())
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl TaskMetrics {
    fn new(id: &TaskId, kind: ConnectorKind) -> TaskMetrics {
        let now = ticks_us();
        TaskMetrics {
            id: id.clone(),
            task_label: id.task.to_string(),
            kind,
            created_us: now,
            states: Mutex::new(StateTimes {
                status: Status::Unassigned,
                since_us: now,
                running_us: 0,
                paused_us: 0,
            }),
            batch_size: Stat::default(),
            commit_time_us: Stat::default(),
            commits: Outcomes::default(),
            poll: Meter::default(),
            write: Meter::default(),
            poll_time_us: Stat::default(),
            active: AtomicI64::new(0),
            active_stat: Stat::default(),
            transaction_size: Stat::default(),
            transactions_committed: AtomicU64::new(0),
            transactions_aborted: AtomicU64::new(0),
            exactly_once: AtomicBool::new(false),
            read: Meter::default(),
            send: Meter::default(),
            put_time_us: Stat::default(),
            partitions: AtomicU64::new(0),
            commit_seq: AtomicU64::new(0),
            commit_completion: Meter::default(),
            commit_skip: Meter::default(),
            errors: ErrorMetrics::default(),
        }
    }

    /// Metrics not in the registry (never exported), for task runners built
    /// outside a worker, e.g. in tests.
    pub fn detached(id: &TaskId, kind: ConnectorKind) -> Arc<TaskMetrics> {
        Arc::new(TaskMetrics::new(id, kind))
    }

    pub fn id(&self) -> &TaskId {
        &self.id
    }

    pub fn status(&self) -> Status {
        self.states
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .status
    }

    pub fn set_status(&self, status: Status) {
        let now = ticks_us();
        let mut s = self.states.lock().unwrap_or_else(PoisonError::into_inner);
        let spent = now.saturating_sub(s.since_us);
        match s.status {
            Status::Running => s.running_us += spent,
            Status::Paused => s.paused_us += spent,
            _ => {}
        }
        s.status = status;
        s.since_us = now;
    }

    /// Fractions of the task's life spent running and paused.
    fn ratios(&self, now_us: u64) -> (f64, f64) {
        let s = self.states.lock().unwrap_or_else(PoisonError::into_inner);
        let current = now_us.saturating_sub(s.since_us);
        let (mut running, mut paused) = (s.running_us, s.paused_us);
        match s.status {
            Status::Running => running += current,
            Status::Paused => paused += current,
            _ => {}
        }
        let life = now_us.saturating_sub(self.created_us).max(1) as f64;
        (running as f64 / life, paused as f64 / life)
    }

    /// A source poll returned `records` (before transformation) after
    /// `took_us`.
    pub fn record_poll(&self, records: usize, took_us: u64, now_us: u64) {
        self.poll.mark(records as u64, now_us);
        self.batch_size.record(records as u64, now_us);
        self.poll_time_us.record(took_us, now_us);
    }

    /// A source batch handed `records` to the producer.
    pub fn record_sent(&self, records: usize, now_us: u64) {
        let active = self.active.fetch_add(records as i64, Ordering::Relaxed) + records as i64;
        self.active_stat.record(active.max(0) as u64, now_us);
    }

    /// Kafka acknowledged the last record of a source batch: `written` of
    /// the `sent` records reached Kafka (the rest failed under
    /// `errors.tolerance=all`). Called from the producer's delivery thread.
    pub fn record_written(&self, sent: usize, written: usize) {
        self.write.mark(written as u64, ticks_us());
        self.active.fetch_sub(sent as i64, Ordering::Relaxed);
    }

    /// The task delivers exactly once: its transaction metrics are shown.
    pub fn set_exactly_once(&self) {
        self.exactly_once.store(true, Ordering::Relaxed);
    }

    /// An exactly-once task committed a transaction of `records` records.
    pub fn record_transaction(&self, records: usize) {
        self.transaction_size.record(records as u64, ticks_us());
        self.transactions_committed.fetch_add(1, Ordering::Relaxed);
    }

    /// An exactly-once task aborted a transaction.
    pub fn record_transaction_abort(&self) {
        self.transactions_aborted.fetch_add(1, Ordering::Relaxed);
    }

    /// Transactions committed and aborted so far.
    pub fn transactions(&self) -> (u64, u64) {
        (
            self.transactions_committed.load(Ordering::Relaxed),
            self.transactions_aborted.load(Ordering::Relaxed),
        )
    }

    /// A sink consumed `records` from Kafka (before transformation).
    pub fn record_read(&self, records: usize, now_us: u64) {
        self.read.mark(records as u64, now_us);
    }

    /// A sink's `put` of `records` (after transformation) returned after
    /// `took_us`.
    pub fn record_put(&self, records: usize, took_us: u64, now_us: u64) {
        self.send.mark(records as u64, now_us);
        self.batch_size.record(records as u64, now_us);
        self.put_time_us.record(took_us, now_us);
    }

    /// An offset commit ended after `took_us`.
    pub fn record_commit(&self, ok: bool, took_us: u64) {
        let now = ticks_us();
        self.commits.record(ok, now);
        if ok {
            self.commit_time_us.record(took_us, now);
        }
        if self.kind == ConnectorKind::Sink {
            self.commit_seq.fetch_add(1, Ordering::Relaxed);
            if ok {
                self.commit_completion.mark(1, now);
            }
        }
    }

    /// Partitions assigned to a sink task.
    pub fn set_partitions(&self, n: usize) {
        self.partitions.store(n as u64, Ordering::Relaxed);
    }

    pub fn poll_total(&self) -> u64 {
        self.poll.total()
    }

    pub fn write_total(&self) -> u64 {
        self.write.total()
    }

    pub fn read_total(&self) -> u64 {
        self.read.total()
    }

    pub fn send_total(&self) -> u64 {
        self.send.total()
    }
}

/// What the worker knows of a connector it runs.
#[derive(Debug, Clone)]
struct ConnectorInfo {
    class: String,
    kind: ConnectorKind,
    version: String,
    status: Status,
}

/// Startup attempts of connectors or tasks on this worker.
#[derive(Debug, Default)]
struct Startups {
    attempts: AtomicU64,
    successes: AtomicU64,
    failures: AtomicU64,
    outcomes: Outcomes,
}

impl Startups {
    fn record(&self, ok: bool) {
        self.attempts.fetch_add(1, Ordering::Relaxed);
        if ok {
            self.successes.fetch_add(1, Ordering::Relaxed);
        } else {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
        self.outcomes.record(ok, ticks_us());
    }
}

/// `connect-worker-rebalance-metrics` and `connect-coordinator-metrics` of
/// a distributed worker: a rebalance is a new assignment generation acted on.
#[derive(Debug)]
struct Rebalances {
    worker: String,
    generation: u64,
    completed: u64,
    last_us: u64,
    time_us: Stat,
    connectors: usize,
    tasks: usize,
}

/// Byte and connection counts of one librdkafka client handle.
#[derive(Debug, Clone)]
struct ClientStats {
    kind: &'static str,
    client_id: String,
    tx_bytes: u64,
    rx_bytes: u64,
    connections: u64,
}

/// The part of librdkafka's statistics JSON that is exported.
#[derive(serde::Deserialize)]
struct RawStats {
    name: String,
    client_id: String,
    #[serde(rename = "type")]
    kind: String,
    tx_bytes: i64,
    rx_bytes: i64,
    #[serde(default)]
    brokers: HashMap<String, RawBroker>,
}

#[derive(serde::Deserialize)]
struct RawBroker {
    state: String,
    #[serde(default)]
    source: String,
}

/// Records a task client's statistics (librdkafka's JSON, delivered every
/// `statistics.interval.ms`); returns the handle's name, for
/// [`client_closed`].
pub fn client_statistics(json: &[u8]) -> Option<String> {
    let raw: RawStats = serde_json::from_slice(json).ok()?;
    let kind = match raw.kind.as_str() {
        "producer" => "producer",
        "consumer" => "consumer",
        _ => return None,
    };
    let connections = raw
        .brokers
        .values()
        .filter(|b| b.state == "UP" && b.source != "internal" && b.source != "logical")
        .count() as u64;
    CONNECT
        .clients
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(
            raw.name.clone(),
            ClientStats {
                kind,
                client_id: raw.client_id,
                tx_bytes: raw.tx_bytes.max(0) as u64,
                rx_bytes: raw.rx_bytes.max(0) as u64,
                connections,
            },
        );
    Some(raw.name)
}

/// A client handle was closed: its statistics go.
pub fn client_closed(name: &str) {
    CONNECT
        .clients
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(name);
}

/// Remembers the handle name of a client from its statistics, to forget
/// them when the client goes ([`ClientContext`](rdkafka::ClientContext)s
/// of the task clients hold one).
#[derive(Debug, Default)]
pub struct ClientStatsHandle {
    name: Mutex<Option<String>>,
}

impl ClientStatsHandle {
    /// Records statistics delivered to the client's context.
    pub fn record(&self, json: &[u8]) {
        if let Some(name) = client_statistics(json) {
            let mut slot = self.name.lock().unwrap_or_else(PoisonError::into_inner);
            if slot.is_none() {
                *slot = Some(name);
            }
        }
    }
}

impl Drop for ClientStatsHandle {
    fn drop(&mut self) {
        if let Some(name) = self
            .name
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            client_closed(&name);
        }
    }
}

struct Connect {
    /// librdkafka handle name → its statistics.
    clients: RwLock<BTreeMap<String, ClientStats>>,
    tasks: RwLock<BTreeMap<TaskId, Arc<TaskMetrics>>>,
    connectors: RwLock<BTreeMap<String, ConnectorInfo>>,
    connector_startups: Startups,
    task_startups: Startups,
    rebalances: Mutex<Option<Rebalances>>,
}

static CONNECT: LazyLock<Connect> = LazyLock::new(|| Connect {
    clients: RwLock::new(BTreeMap::new()),
    tasks: RwLock::new(BTreeMap::new()),
    connectors: RwLock::new(BTreeMap::new()),
    connector_startups: Startups::default(),
    task_startups: Startups::default(),
    rebalances: Mutex::new(None),
});

/// Fresh metrics for a task that is starting (replacing those of an earlier
/// run), status `unassigned` until it runs.
pub fn register_task(id: &TaskId, kind: ConnectorKind) -> Arc<TaskMetrics> {
    let metrics = Arc::new(TaskMetrics::new(id, kind));
    CONNECT
        .tasks
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(id.clone(), metrics.clone());
    metrics
}

/// The registered metrics of a task, or detached ones when the task was not
/// started by a worker.
pub fn task_metrics(id: &TaskId, kind: ConnectorKind) -> Arc<TaskMetrics> {
    CONNECT
        .tasks
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(id)
        .cloned()
        .unwrap_or_else(|| TaskMetrics::detached(id, kind))
}

/// Removes a task's metrics when it stopped (Java's `destroyed`: the group
/// is closed), unless a newer run of the task replaced them.
pub fn unregister_task(metrics: &Arc<TaskMetrics>) {
    let mut tasks = CONNECT
        .tasks
        .write()
        .unwrap_or_else(PoisonError::into_inner);
    if tasks
        .get(&metrics.id)
        .is_some_and(|m| Arc::ptr_eq(m, metrics))
    {
        tasks.remove(&metrics.id);
    }
}

/// Removes a task's metrics whatever its status: for a FAILED task that is
/// no longer assigned to this worker.
pub fn forget_task(id: &TaskId) {
    CONNECT
        .tasks
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(id);
}

/// Sets the status of a registered task; no-op for others. A task set to
/// `paused` before it is stopped keeps its metrics (status `paused`) until
/// it starts again or is forgotten ([`forget_task`]).
pub fn set_task_status(id: &TaskId, status: Status) {
    if let Some(m) = CONNECT
        .tasks
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(id)
    {
        m.set_status(status);
    }
}

/// Counts a task start attempt on this worker.
pub fn task_startup(ok: bool) {
    CONNECT.task_startups.record(ok);
}

/// Counts a connector start attempt on this worker.
pub fn connector_startup(ok: bool) {
    CONNECT.connector_startups.record(ok);
}

/// A connector was started on this worker (`ok`: it runs; else it failed),
/// with its class, kind and version: its `connector-metrics` appear.
pub fn connector_started(name: &str, class: &str, kind: ConnectorKind, version: &str, ok: bool) {
    connector_startup(ok);
    let status = if ok { Status::Running } else { Status::Failed };
    set_connector(name, class, kind, version, status);
}

/// A connector this worker runs, with its class, kind, version and status:
/// its `connector-metrics` appear or are updated (no startup is counted).
pub fn set_connector(name: &str, class: &str, kind: ConnectorKind, version: &str, status: Status) {
    let mut connectors = CONNECT
        .connectors
        .write()
        .unwrap_or_else(PoisonError::into_inner);
    match connectors.get_mut(name) {
        Some(c) if c.class == class && c.version == version => c.status = status,
        _ => {
            connectors.insert(
                name.to_owned(),
                ConnectorInfo {
                    class: class.to_owned(),
                    kind,
                    version: version.to_owned(),
                    status,
                },
            );
        }
    }
}

/// Keeps the metrics of the connectors and tasks still on this worker; the
/// others were deleted or moved away (a FAILED task's metrics otherwise
/// stay until it restarts).
pub fn retain(keep_connector: impl Fn(&str) -> bool, keep_task: impl Fn(&TaskId) -> bool) {
    CONNECT
        .connectors
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .retain(|name, _| keep_connector(name));
    CONNECT
        .tasks
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .retain(|id, _| keep_task(id));
}

/// Sets the status of a connector this worker runs.
pub fn set_connector_status(name: &str, status: Status) {
    if let Some(c) = CONNECT
        .connectors
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .get_mut(name)
    {
        c.status = status;
    }
}

/// The connector no longer runs on this worker: its metrics go.
pub fn remove_connector(name: &str) {
    CONNECT
        .connectors
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(name);
}

/// A distributed worker acted on assignment `generation` (a rebalance, in
/// Java's terms) in `took`, and now has `connectors` and `tasks` assigned.
pub fn rebalance_completed(
    worker: &str,
    generation: u64,
    connectors: usize,
    tasks: usize,
    took: Duration,
) {
    let now = ticks_us();
    let mut slot = CONNECT
        .rebalances
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let r = slot.get_or_insert_with(|| Rebalances {
        worker: String::new(),
        generation: 0,
        completed: 0,
        last_us: now,
        time_us: Stat::default(),
        connectors: 0,
        tasks: 0,
    });
    r.worker = worker.to_owned();
    r.generation = generation;
    r.completed += 1;
    r.last_us = now;
    r.time_us.record(took.as_micros() as u64, now);
    r.connectors = connectors;
    r.tasks = tasks;
}

/// Registers the worker's Connect metrics into `registry`: each scrape
/// reads the process-wide state the task loops record into.
pub fn register(registry: &mut Registry) {
    registry.register_collector(Box::new(ConnectCollector));
}

/// Exports [`Connect`] at each scrape, one group table after the other.
#[derive(Debug)]
struct ConnectCollector;

type TaskLabels<'a> = [(&'static str, &'a str); 2];
type OneLabel<'a> = [(&'static str, &'a str); 1];

/// The label set of a metric without labels.
const NO_LABELS: [(&str, &str); 0] = [];

fn task_labels(t: &TaskMetrics) -> TaskLabels<'_> {
    [
        ("connector", t.id.connector.as_str()),
        ("task", t.task_label.as_str()),
    ]
}

fn ms(us: f64) -> f64 {
    us / 1000.0
}

/// How a row reads its sample from one member of its group (a connector,
/// a task, a client, the worker).
enum Read<T> {
    /// A gauge, read at the scrape's time (microseconds, [`ticks_us`]).
    Gauge(fn(&T, u64) -> f64),
    /// A counter; the encoder adds `_total` to the name.
    Counter(fn(&T) -> u64),
    /// A gauge of 1 with one more label carrying the value: how the JMX
    /// exporter exports Java's string attributes (status, class, …).
    Label(&'static str, fn(&T) -> Cow<'_, str>),
}

impl<T> Read<T> {
    fn metric_type(&self) -> MetricType {
        match self {
            Read::Counter(_) => MetricType::Counter,
            Read::Gauge(_) | Read::Label(..) => MetricType::Gauge,
        }
    }
}

/// One exported metric of a group: Java's attribute under the name
/// Strimzi's rules give it.
struct Row<T> {
    name: &'static str,
    help: &'static str,
    read: Read<T>,
}

const fn gauge<T>(name: &'static str, help: &'static str, get: fn(&T, u64) -> f64) -> Row<T> {
    Row {
        name,
        help,
        read: Read::Gauge(get),
    }
}

const fn counter<T>(name: &'static str, help: &'static str, get: fn(&T) -> u64) -> Row<T> {
    Row {
        name,
        help,
        read: Read::Counter(get),
    }
}

const fn label<T>(
    name: &'static str,
    help: &'static str,
    key: &'static str,
    get: fn(&T) -> Cow<'_, str>,
) -> Row<T> {
    Row {
        name,
        help,
        read: Read::Label(key, get),
    }
}

/// Encodes a group: one family per row, in the table's order, each with a
/// sample per member; nothing when the group has no members.
fn encode_group<T, L: EncodeLabelSet + Copy>(
    enc: &mut DescriptorEncoder<'_>,
    rows: &[Row<T>],
    members: &[(L, &T)],
    now: u64,
) -> fmt::Result {
    if members.is_empty() {
        return Ok(());
    }
    for row in rows {
        let mut family = enc.encode_descriptor(row.name, row.help, None, row.read.metric_type())?;
        for (labels, member) in members {
            match &row.read {
                Read::Gauge(get) => family
                    .encode_family(labels)?
                    .encode_gauge(&get(member, now))?,
                Read::Counter(get) => family
                    .encode_family(labels)?
                    .encode_counter::<NoLabelSet, _, u64>(&get(member), None)?,
                Read::Label(key, get) => family
                    .encode_family(&(*labels, [(*key, get(member))]))?
                    .encode_gauge(&1.0)?,
            }
        }
    }
    Ok(())
}

/// `connector-metrics`, per connector.
const CONNECTOR_METRICS: [Row<ConnectorInfo>; 4] = [
    label(
        "kafka_connect_connector_status",
        "The status of the connector. One of 'unassigned', 'running', 'paused', 'failed', or 'restarting'.",
        "status",
        |c| c.status.name().into(),
    ),
    label(
        "kafka_connect_connector_connector_class",
        "The name of the connector class.",
        "connector_class",
        |c| c.class.as_str().into(),
    ),
    label(
        "kafka_connect_connector_connector_type",
        "The type of the connector. One of 'source' or 'sink'.",
        "connector_type",
        |c| c.kind.to_string().into(),
    ),
    label(
        "kafka_connect_connector_connector_version",
        "The version of the connector class, as reported by the connector.",
        "connector_version",
        |c| c.version.as_str().into(),
    ),
];

/// `connector-task-metrics`, per task.
const CONNECTOR_TASK_METRICS: [Row<TaskMetrics>; 9] = [
    label(
        "kafka_connect_connector_task_status",
        "The status of the connector task. One of 'unassigned', 'running', 'paused', 'failed', or 'restarting'.",
        "status",
        |t| t.status().name().into(),
    ),
    gauge(
        "kafka_connect_connector_task_running_ratio",
        "The fraction of time this task has spent in the running state.",
        |t, now| t.ratios(now).0,
    ),
    gauge(
        "kafka_connect_connector_task_pause_ratio",
        "The fraction of time this task has spent in the pause state.",
        |t, now| t.ratios(now).1,
    ),
    gauge(
        "kafka_connect_connector_task_offset_commit_max_time_ms",
        "The maximum time in milliseconds taken by this task to commit offsets.",
        |t, now| ms(t.commit_time_us.max(now)),
    ),
    gauge(
        "kafka_connect_connector_task_offset_commit_avg_time_ms",
        "The average time in milliseconds taken by this task to commit offsets.",
        |t, now| ms(t.commit_time_us.avg(now)),
    ),
    gauge(
        "kafka_connect_connector_task_batch_size_max",
        "The number of records in the largest batch the task has processed so far.",
        |t, now| t.batch_size.max(now),
    ),
    gauge(
        "kafka_connect_connector_task_batch_size_avg",
        "The average number of records in the batches the task has processed so far.",
        |t, now| t.batch_size.avg(now),
    ),
    gauge(
        "kafka_connect_connector_task_offset_commit_failure_percentage",
        "The average percentage of this task's offset commit attempts that failed.",
        |t, now| t.commits.failure(now),
    ),
    gauge(
        "kafka_connect_connector_task_offset_commit_success_percentage",
        "The average percentage of this task's offset commit attempts that succeeded.",
        |t, now| t.commits.success(now),
    ),
];

/// `source-task-metrics` of exactly-once tasks only (Java's
/// `TransactionMetricsGroup` exists only for them).
const TRANSACTION_METRICS: [Row<TaskMetrics>; 5] = [
    gauge(
        "kafka_connect_source_task_transaction_size_min",
        "The number of records in the smallest transaction the task has committed so far.",
        |t, now| t.transaction_size.min(now),
    ),
    gauge(
        "kafka_connect_source_task_transaction_size_max",
        "The number of records in the largest transaction the task has committed so far.",
        |t, now| t.transaction_size.max(now),
    ),
    gauge(
        "kafka_connect_source_task_transaction_size_avg",
        "The average number of records in the transactions the task has committed so far.",
        |t, now| t.transaction_size.avg(now),
    ),
    counter(
        "kafka_connect_source_task_transaction_commit",
        "The number of transactions this exactly-once task committed (kconnect's; Java has none).",
        |t| t.transactions_committed.load(Ordering::Relaxed),
    ),
    counter(
        "kafka_connect_source_task_transaction_abort",
        "The number of transactions this exactly-once task aborted (kconnect's; Java has none).",
        |t| t.transactions_aborted.load(Ordering::Relaxed),
    ),
];

/// `source-task-metrics`, per source task.
const SOURCE_TASK_METRICS: [Row<TaskMetrics>; 9] = [
    gauge(
        "kafka_connect_source_task_source_record_poll_rate",
        "The average per-second number of records produced/polled (before transformation) by this task belonging to the named source connector in this worker.",
        |t, now| t.poll.rate(now),
    ),
    counter(
        "kafka_connect_source_task_source_record_poll",
        "The total number of records produced/polled (before transformation) by this task belonging to the named source connector in this worker.",
        |t| t.poll.total(),
    ),
    gauge(
        "kafka_connect_source_task_source_record_write_rate",
        "The average per-second number of records written to Kafka for this task belonging to the named source connector in this worker, since the task was last restarted. This is after transformations are applied, and excludes any records filtered out by the transformations.",
        |t, now| t.write.rate(now),
    ),
    counter(
        "kafka_connect_source_task_source_record_write",
        "The number of records output written to Kafka for this task belonging to the named source connector in this worker, since the task was last restarted. This is after transformations are applied, and excludes any records filtered out by the transformations.",
        |t| t.write.total(),
    ),
    gauge(
        "kafka_connect_source_task_poll_batch_max_time_ms",
        "The maximum time in milliseconds taken by this task to poll for a batch of source records.",
        |t, now| ms(t.poll_time_us.max(now)),
    ),
    gauge(
        "kafka_connect_source_task_poll_batch_avg_time_ms",
        "The average time in milliseconds taken by this task to poll for a batch of source records.",
        |t, now| ms(t.poll_time_us.avg(now)),
    ),
    gauge(
        "kafka_connect_source_task_source_record_active_count",
        "The number of records that have been produced by this task but not yet completely written to Kafka.",
        |t, _| t.active.load(Ordering::Relaxed).max(0) as f64,
    ),
    gauge(
        "kafka_connect_source_task_source_record_active_count_max",
        "The maximum number of records that have been produced by this task but not yet completely written to Kafka.",
        |t, now| t.active_stat.max(now),
    ),
    gauge(
        "kafka_connect_source_task_source_record_active_count_avg",
        "The average number of records that have been produced by this task but not yet completely written to Kafka.",
        |t, now| t.active_stat.avg(now),
    ),
];

/// `sink-task-metrics`, per sink task.
const SINK_TASK_METRICS: [Row<TaskMetrics>; 12] = [
    gauge(
        "kafka_connect_sink_task_sink_record_read_rate",
        "The average per-second number of records read from Kafka for this task belonging to the named sink connector in this worker. This is before transformations are applied.",
        |t, now| t.read.rate(now),
    ),
    counter(
        "kafka_connect_sink_task_sink_record_read",
        "The total number of records read from Kafka by this task belonging to the named sink connector in this worker, since the task was last restarted.",
        |t| t.read.total(),
    ),
    gauge(
        "kafka_connect_sink_task_sink_record_send_rate",
        "The average per-second number of records output from the transformations and sent/put to this task belonging to the named sink connector in this worker. This is after transformations are applied and excludes any records filtered out by the transformations.",
        |t, now| t.send.rate(now),
    ),
    counter(
        "kafka_connect_sink_task_sink_record_send",
        "The total number of records output from the transformations and sent/put to this task belonging to the named sink connector in this worker, since the task was last restarted.",
        |t| t.send.total(),
    ),
    gauge(
        "kafka_connect_sink_task_partition_count",
        "The number of topic partitions assigned to this task belonging to the named sink connector in this worker.",
        |t, _| t.partitions.load(Ordering::Relaxed) as f64,
    ),
    gauge(
        "kafka_connect_sink_task_offset_commit_seq_no",
        "The current sequence number for offset commits.",
        |t, _| t.commit_seq.load(Ordering::Relaxed) as f64,
    ),
    gauge(
        "kafka_connect_sink_task_offset_commit_completion_rate",
        "The average per-second number of offset commit completions that were completed successfully.",
        |t, now| t.commit_completion.rate(now),
    ),
    counter(
        "kafka_connect_sink_task_offset_commit_completion",
        "The total number of offset commit completions that were completed successfully.",
        |t| t.commit_completion.total(),
    ),
    gauge(
        "kafka_connect_sink_task_offset_commit_skip_rate",
        "The average per-second number of offset commit completions that were received too late and skipped/ignored.",
        |t, now| t.commit_skip.rate(now),
    ),
    counter(
        "kafka_connect_sink_task_offset_commit_skip",
        "The total number of offset commit completions that were received too late and skipped/ignored.",
        |t| t.commit_skip.total(),
    ),
    gauge(
        "kafka_connect_sink_task_put_batch_max_time_ms",
        "The maximum time taken by this task to put a batch of sinks records.",
        |t, now| ms(t.put_time_us.max(now)),
    ),
    gauge(
        "kafka_connect_sink_task_put_batch_avg_time_ms",
        "The average time taken by this task to put a batch of sinks records.",
        |t, now| ms(t.put_time_us.avg(now)),
    ),
];

/// `task-error-metrics`, per task: gauges, as the JMX exporter's rules
/// make the `total-…` attributes of this group.
const TASK_ERROR_METRICS: [Row<TaskMetrics>; 8] = [
    gauge(
        "kafka_connect_task_error_total_record_failures",
        "The number of record processing failures in this task.",
        |t, _| t.errors.failures.load(Ordering::Relaxed) as f64,
    ),
    gauge(
        "kafka_connect_task_error_total_record_errors",
        "The number of record processing errors in this task.",
        |t, _| t.errors.errors.load(Ordering::Relaxed) as f64,
    ),
    gauge(
        "kafka_connect_task_error_total_records_skipped",
        "The number of records skipped due to errors.",
        |t, _| t.errors.skipped.load(Ordering::Relaxed) as f64,
    ),
    gauge(
        "kafka_connect_task_error_total_retries",
        "The number of operations retried.",
        |t, _| t.errors.retries.load(Ordering::Relaxed) as f64,
    ),
    gauge(
        "kafka_connect_task_error_total_errors_logged",
        "The number of errors that were logged.",
        |t, _| t.errors.logged.load(Ordering::Relaxed) as f64,
    ),
    gauge(
        "kafka_connect_task_error_deadletterqueue_produce_requests",
        "The number of attempted writes to the dead letter queue.",
        |t, _| t.errors.dlq_requests.load(Ordering::Relaxed) as f64,
    ),
    gauge(
        "kafka_connect_task_error_deadletterqueue_produce_failures",
        "The number of failed writes to the dead letter queue.",
        |t, _| t.errors.dlq_failures.load(Ordering::Relaxed) as f64,
    ),
    gauge(
        "kafka_connect_task_error_last_error_timestamp",
        "The epoch timestamp when this task last encountered an error.",
        |t, _| t.errors.last_error_ms.load(Ordering::Relaxed) as f64,
    ),
];

/// What `connect-worker-metrics` reads of the worker at one scrape.
struct WorkerView<'a> {
    connectors: usize,
    tasks: usize,
    connector_startups: &'a Startups,
    task_startups: &'a Startups,
}

/// `connect-worker-metrics` of the whole worker.
const WORKER_METRICS: [Row<WorkerView<'_>>; 12] = [
    gauge(
        "kafka_connect_worker_connector_count",
        "The number of connectors run in this worker.",
        |w, _| w.connectors as f64,
    ),
    gauge(
        "kafka_connect_worker_task_count",
        "The number of tasks run in this worker.",
        |w, _| w.tasks as f64,
    ),
    counter(
        "kafka_connect_worker_connector_startup_attempts",
        "The total number of connector startups that this worker has attempted.",
        |w| w.connector_startups.attempts.load(Ordering::Relaxed),
    ),
    counter(
        "kafka_connect_worker_connector_startup_success",
        "The total number of connector starts that succeeded.",
        |w| w.connector_startups.successes.load(Ordering::Relaxed),
    ),
    counter(
        "kafka_connect_worker_connector_startup_failure",
        "The total number of connector starts that failed.",
        |w| w.connector_startups.failures.load(Ordering::Relaxed),
    ),
    gauge(
        "kafka_connect_worker_connector_startup_success_percentage",
        "The average percentage of this worker's connectors starts that succeeded.",
        |w, now| w.connector_startups.outcomes.success(now),
    ),
    gauge(
        "kafka_connect_worker_connector_startup_failure_percentage",
        "The average percentage of this worker's connectors starts that failed.",
        |w, now| w.connector_startups.outcomes.failure(now),
    ),
    counter(
        "kafka_connect_worker_task_startup_attempts",
        "The total number of task startups that this worker has attempted.",
        |w| w.task_startups.attempts.load(Ordering::Relaxed),
    ),
    counter(
        "kafka_connect_worker_task_startup_success",
        "The total number of task starts that succeeded.",
        |w| w.task_startups.successes.load(Ordering::Relaxed),
    ),
    counter(
        "kafka_connect_worker_task_startup_failure",
        "The total number of task starts that failed.",
        |w| w.task_startups.failures.load(Ordering::Relaxed),
    ),
    gauge(
        "kafka_connect_worker_task_startup_success_percentage",
        "The average percentage of this worker's tasks starts that succeeded.",
        |w, now| w.task_startups.outcomes.success(now),
    ),
    gauge(
        "kafka_connect_worker_task_startup_failure_percentage",
        "The average percentage of this worker's tasks starts that failed.",
        |w, now| w.task_startups.outcomes.failure(now),
    ),
];

/// A connector's tasks on this worker, counted per [`Status`].
type StatusCounts = [u64; Status::ALL.len()];

/// `connect-worker-metrics` per connector: its tasks on this worker by
/// status.
const WORKER_CONNECTOR_METRICS: [Row<StatusCounts>; 7] = [
    gauge(
        "kafka_connect_worker_connector_total_task_count",
        "The number of tasks of the connector on the worker.",
        |n, _| n.iter().sum::<u64>() as f64,
    ),
    gauge(
        "kafka_connect_worker_connector_running_task_count",
        "The number of running tasks of the connector on the worker.",
        |n, _| n[Status::Running as usize] as f64,
    ),
    gauge(
        "kafka_connect_worker_connector_paused_task_count",
        "The number of paused tasks of the connector on the worker.",
        |n, _| n[Status::Paused as usize] as f64,
    ),
    gauge(
        "kafka_connect_worker_connector_failed_task_count",
        "The number of failed tasks of the connector on the worker.",
        |n, _| n[Status::Failed as usize] as f64,
    ),
    gauge(
        "kafka_connect_worker_connector_unassigned_task_count",
        "The number of unassigned tasks of the connector on the worker.",
        |n, _| n[Status::Unassigned as usize] as f64,
    ),
    gauge(
        "kafka_connect_worker_connector_destroyed_task_count",
        "The number of destroyed tasks of the connector on the worker.",
        |n, _| n[Status::Destroyed as usize] as f64,
    ),
    gauge(
        "kafka_connect_worker_connector_restarting_task_count",
        "The number of restarting tasks of the connector on the worker.",
        |n, _| n[Status::Restarting as usize] as f64,
    ),
];

/// A client id's byte and connection counts, summed over its handles.
#[derive(Debug, Default)]
struct ClientSums {
    tx_bytes: u64,
    rx_bytes: u64,
    connections: u64,
}

/// `producer-metrics` of the tasks' producers, per client id.
const PRODUCER_METRICS: [Row<ClientSums>; 3] = [
    counter(
        "kafka_producer_outgoing_byte",
        "The total number of outgoing bytes sent to all servers.",
        |s| s.tx_bytes,
    ),
    counter(
        "kafka_producer_incoming_byte",
        "The total number of bytes read off all sockets.",
        |s| s.rx_bytes,
    ),
    gauge(
        "kafka_producer_connection_count",
        "The current number of active connections.",
        |s, _| s.connections as f64,
    ),
];

/// `consumer-metrics` of the tasks' consumers, per client id.
const CONSUMER_METRICS: [Row<ClientSums>; 3] = [
    counter(
        "kafka_consumer_outgoing_byte",
        "The total number of outgoing bytes sent to all servers.",
        |s| s.tx_bytes,
    ),
    counter(
        "kafka_consumer_incoming_byte",
        "The total number of bytes read off all sockets.",
        |s| s.rx_bytes,
    ),
    gauge(
        "kafka_consumer_connection_count",
        "The current number of active connections.",
        |s, _| s.connections as f64,
    ),
];

/// `connect-worker-rebalance-metrics` of a distributed worker.
const REBALANCE_METRICS: [Row<Rebalances>; 6] = [
    counter(
        "kafka_connect_worker_rebalance_completed_rebalances",
        "The total number of rebalances completed by this worker.",
        |r| r.completed,
    ),
    gauge(
        "kafka_connect_worker_rebalance_epoch",
        "The epoch or generation number of this worker.",
        |r, _| r.generation as f64,
    ),
    gauge(
        "kafka_connect_worker_rebalance_rebalancing",
        "Whether this worker is currently rebalancing.",
        |_, _| 0.0,
    ),
    gauge(
        "kafka_connect_worker_rebalance_rebalance_max_time_ms",
        "The maximum time in milliseconds spent by this worker to rebalance.",
        |r, now| ms(r.time_us.max(now)),
    ),
    gauge(
        "kafka_connect_worker_rebalance_rebalance_avg_time_ms",
        "The average time in milliseconds spent by this worker to rebalance.",
        |r, now| ms(r.time_us.avg(now)),
    ),
    gauge(
        "kafka_connect_worker_rebalance_time_since_last_rebalance_ms",
        "The time in milliseconds since this worker completed the most recent rebalance.",
        |r, now| ms(now.saturating_sub(r.last_us) as f64),
    ),
];

/// `connect-coordinator-metrics` of a distributed worker, labelled with
/// the worker's id.
const COORDINATOR_METRICS: [Row<Rebalances>; 2] = [
    gauge(
        "kafka_connect_coordinator_assigned_connectors",
        "The number of connector instances currently assigned to this consumer.",
        |r, _| r.connectors as f64,
    ),
    gauge(
        "kafka_connect_coordinator_assigned_tasks",
        "The number of tasks currently assigned to this consumer.",
        |r, _| r.tasks as f64,
    ),
];

impl Collector for ConnectCollector {
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> fmt::Result {
        let c = &*CONNECT;
        let now = ticks_us();
        // Snapshots: the maps' locks are held only to copy them.
        let tasks: Vec<Arc<TaskMetrics>> = c
            .tasks
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        let connectors: Vec<(String, ConnectorInfo)> = c
            .connectors
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let clients: Vec<ClientStats> = c
            .clients
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        let e = &mut enc;

        let by_connector: Vec<(OneLabel<'_>, &ConnectorInfo)> = connectors
            .iter()
            .map(|(name, info)| ([("connector", name.as_str())], info))
            .collect();
        encode_group(e, &CONNECTOR_METRICS, &by_connector, now)?;

        let by_task: Vec<(TaskLabels<'_>, &TaskMetrics)> =
            tasks.iter().map(|t| (task_labels(t), &**t)).collect();
        let tasks_of_kind = |kind: ConnectorKind| -> Vec<(TaskLabels<'_>, &TaskMetrics)> {
            by_task
                .iter()
                .filter(|(_, t)| t.kind == kind)
                .copied()
                .collect()
        };
        encode_group(e, &CONNECTOR_TASK_METRICS, &by_task, now)?;
        encode_group(
            e,
            &SOURCE_TASK_METRICS,
            &tasks_of_kind(ConnectorKind::Source),
            now,
        )?;
        let transactional: Vec<_> = by_task
            .iter()
            .filter(|(_, t)| t.exactly_once.load(Ordering::Relaxed))
            .copied()
            .collect();
        encode_group(e, &TRANSACTION_METRICS, &transactional, now)?;
        encode_group(
            e,
            &SINK_TASK_METRICS,
            &tasks_of_kind(ConnectorKind::Sink),
            now,
        )?;
        encode_group(e, &TASK_ERROR_METRICS, &by_task, now)?;

        let worker = WorkerView {
            connectors: connectors.len(),
            tasks: tasks.len(),
            connector_startups: &c.connector_startups,
            task_startups: &c.task_startups,
        };
        encode_group(e, &WORKER_METRICS, &[(NO_LABELS, &worker)], now)?;
        let mut per_connector: BTreeMap<&str, StatusCounts> = BTreeMap::new();
        for t in &tasks {
            let counts = per_connector.entry(t.id.connector.as_str()).or_default();
            counts[t.status() as usize] += 1;
        }
        let per_connector: Vec<(OneLabel<'_>, &StatusCounts)> = per_connector
            .iter()
            .map(|(name, counts)| ([("connector", *name)], counts))
            .collect();
        encode_group(e, &WORKER_CONNECTOR_METRICS, &per_connector, now)?;

        // Summed per client id: the tasks of a source connector share theirs.
        let mut sums: BTreeMap<(&str, &str), ClientSums> = BTreeMap::new();
        for s in &clients {
            let sum = sums.entry((s.kind, s.client_id.as_str())).or_default();
            sum.tx_bytes += s.tx_bytes;
            sum.rx_bytes += s.rx_bytes;
            sum.connections += s.connections;
        }
        for (kind, rows) in [
            ("producer", &PRODUCER_METRICS),
            ("consumer", &CONSUMER_METRICS),
        ] {
            let clients_of_kind: Vec<(OneLabel<'_>, &ClientSums)> = sums
                .iter()
                .filter(|((k, _), _)| *k == kind)
                .map(|((_, id), sum)| ([("clientid", *id)], sum))
                .collect();
            encode_group(e, rows, &clients_of_kind, now)?;
        }

        let rebalances = c.rebalances.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(r) = rebalances.as_ref() {
            encode_group(e, &REBALANCE_METRICS, &[(NO_LABELS, r)], now)?;
            encode_group(
                e,
                &COORDINATOR_METRICS,
                &[([("clientid", r.worker.as_str())], r)],
                now,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(connector: &str, task: usize) -> TaskId {
        TaskId {
            connector: connector.into(),
            task,
        }
    }

    /// The sample lines of `name` (exactly that metric name).
    fn samples<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
        text.lines()
            .filter(|l| {
                l.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
            })
            .collect()
    }

    fn value(text: &str, name: &str, labels: &str) -> f64 {
        let line = samples(text, name)
            .into_iter()
            .find(|l| l.contains(labels))
            .unwrap_or_else(|| panic!("no {name} with {labels} in:\n{text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    }

    /// What a worker's `/metrics` shows.
    fn render() -> String {
        crate::metrics::render(&crate::metrics::registry(register))
    }

    fn type_of<'a>(text: &'a str, name: &str) -> &'a str {
        let prefix = format!("# TYPE {name} ");
        text.lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .unwrap_or_else(|| panic!("no TYPE for {name}"))
    }

    #[test]
    fn renders_strimzi_names_labels_and_types() {
        let src = register_task(&id("m-src", 0), ConnectorKind::Source);
        let snk = register_task(&id("m-snk", 1), ConnectorKind::Sink);
        let failed = register_task(&id("m-snk", 2), ConnectorKind::Sink);
        connector_started(
            "m-src",
            "org.apache.kafka.connect.file.FileStreamSourceConnector",
            ConnectorKind::Source,
            "0.1.0",
            true,
        );
        src.set_status(Status::Running);
        snk.set_status(Status::Running);
        failed.set_status(Status::Failed);
        let now = ticks_us();
        src.record_poll(100, 2_000, now);
        src.record_sent(100, now);
        src.record_written(100, 98);
        src.record_commit(true, 3_000);
        snk.record_read(50, now);
        snk.record_put(40, 1_500, now);
        snk.record_commit(true, 500);
        snk.set_partitions(3);
        snk.errors.failure();
        snk.errors.skipped();
        snk.errors.dlq_request();

        let text = render();
        let src_l = r#"connector="m-src",task="0""#;
        let snk_l = r#"connector="m-snk",task="1""#;

        assert_eq!(
            value(
                &text,
                "kafka_connect_connector_status",
                r#"connector="m-src",status="running""#
            ),
            1.0
        );
        assert_eq!(
            value(
                &text,
                "kafka_connect_connector_connector_class",
                r#"connector_class="org.apache.kafka.connect.file.FileStreamSourceConnector""#
            ),
            1.0
        );
        assert_eq!(
            value(
                &text,
                "kafka_connect_connector_connector_type",
                r#"connector="m-src",connector_type="source""#
            ),
            1.0
        );
        assert_eq!(
            value(
                &text,
                "kafka_connect_connector_task_status",
                &format!(r#"{src_l},status="running""#)
            ),
            1.0
        );
        assert_eq!(
            value(
                &text,
                "kafka_connect_connector_task_status",
                r#"connector="m-snk",task="2",status="failed""#
            ),
            1.0
        );

        // Counters: `_total` in TYPE and sample, as the JMX exporter writes.
        assert_eq!(
            type_of(&text, "kafka_connect_source_task_source_record_poll_total"),
            "counter"
        );
        assert_eq!(
            value(
                &text,
                "kafka_connect_source_task_source_record_poll_total",
                src_l
            ),
            100.0
        );
        assert_eq!(
            value(
                &text,
                "kafka_connect_source_task_source_record_write_total",
                src_l
            ),
            98.0
        );
        assert_eq!(
            type_of(&text, "kafka_connect_source_task_source_record_poll_rate"),
            "gauge"
        );
        let rate = value(
            &text,
            "kafka_connect_source_task_source_record_poll_rate",
            src_l,
        );
        assert!(rate > 0.0 && rate <= 100.0, "{rate}");
        assert_eq!(
            value(
                &text,
                "kafka_connect_source_task_poll_batch_avg_time_ms",
                src_l
            ),
            2.0
        );
        assert_eq!(
            value(
                &text,
                "kafka_connect_source_task_source_record_active_count",
                src_l
            ),
            0.0
        );
        assert_eq!(
            value(&text, "kafka_connect_connector_task_batch_size_avg", src_l),
            100.0
        );
        assert_eq!(
            value(
                &text,
                "kafka_connect_connector_task_offset_commit_avg_time_ms",
                src_l
            ),
            3.0
        );
        assert_eq!(
            value(
                &text,
                "kafka_connect_connector_task_offset_commit_success_percentage",
                src_l
            ),
            1.0
        );

        assert_eq!(
            value(
                &text,
                "kafka_connect_sink_task_sink_record_read_total",
                snk_l
            ),
            50.0
        );
        assert_eq!(
            value(
                &text,
                "kafka_connect_sink_task_sink_record_send_total",
                snk_l
            ),
            40.0
        );
        assert!(
            value(
                &text,
                "kafka_connect_sink_task_sink_record_send_rate",
                snk_l
            ) > 0.0
        );
        assert_eq!(
            value(&text, "kafka_connect_sink_task_partition_count", snk_l),
            3.0
        );
        assert_eq!(
            value(&text, "kafka_connect_sink_task_offset_commit_seq_no", snk_l),
            1.0
        );
        assert_eq!(
            value(
                &text,
                "kafka_connect_sink_task_offset_commit_completion_total",
                snk_l
            ),
            1.0
        );
        assert_eq!(
            value(
                &text,
                "kafka_connect_sink_task_put_batch_max_time_ms",
                snk_l
            ),
            1.5
        );
        // A source task has no sink metrics and the other way round.
        assert!(
            samples(&text, "kafka_connect_sink_task_sink_record_read_total")
                .iter()
                .all(|l| !l.contains(src_l))
        );

        assert_eq!(
            type_of(&text, "kafka_connect_task_error_total_record_failures"),
            "gauge"
        );
        assert_eq!(
            value(
                &text,
                "kafka_connect_task_error_total_record_failures",
                snk_l
            ),
            1.0
        );
        assert_eq!(
            value(
                &text,
                "kafka_connect_task_error_total_records_skipped",
                snk_l
            ),
            1.0
        );
        assert_eq!(
            value(
                &text,
                "kafka_connect_task_error_deadletterqueue_produce_requests",
                snk_l
            ),
            1.0
        );
        assert!(
            value(
                &text,
                "kafka_connect_task_error_last_error_timestamp",
                snk_l
            ) > 1.6e12
        );

        assert_eq!(type_of(&text, "kafka_connect_worker_task_count"), "gauge");
        assert!(value(&text, "kafka_connect_worker_task_count", "") >= 3.0);
        assert!(value(&text, "kafka_connect_worker_connector_count", "") >= 1.0);
        assert_eq!(
            value(
                &text,
                "kafka_connect_worker_connector_failed_task_count",
                r#"connector="m-snk""#
            ),
            1.0
        );
        assert_eq!(
            value(
                &text,
                "kafka_connect_worker_connector_running_task_count",
                r#"connector="m-snk""#
            ),
            1.0
        );
        assert_eq!(
            value(
                &text,
                "kafka_connect_worker_connector_total_task_count",
                r#"connector="m-snk""#
            ),
            2.0
        );
        assert_eq!(
            type_of(
                &text,
                "kafka_connect_worker_connector_startup_attempts_total"
            ),
            "counter"
        );

        // A stopped task's metrics go; a newer run is not removed by an
        // older run's handle.
        unregister_task(&snk);
        let again = register_task(&id("m-src", 0), ConnectorKind::Source);
        unregister_task(&src);
        let text = render();
        assert!(!text.contains(snk_l));
        assert_eq!(
            value(
                &text,
                "kafka_connect_source_task_source_record_poll_total",
                src_l
            ),
            0.0
        );
        unregister_task(&again);
        forget_task(failed.id());
        let text = render();
        assert!(!text.contains(r#"connector="m-snk""#));
        assert!(!text.contains(src_l));
        remove_connector("m-src");
    }

    #[test]
    fn rebalances_are_counted() {
        rebalance_completed("w-1", 4, 1, 3, Duration::from_millis(20));
        rebalance_completed("w-1", 5, 1, 2, Duration::from_millis(40));
        let text = render();
        assert_eq!(
            type_of(
                &text,
                "kafka_connect_worker_rebalance_completed_rebalances_total"
            ),
            "counter"
        );
        assert!(
            value(
                &text,
                "kafka_connect_worker_rebalance_completed_rebalances_total",
                ""
            ) >= 2.0
        );
        assert_eq!(
            value(
                &text,
                "kafka_connect_coordinator_assigned_tasks",
                r#"clientid="w-1""#
            ),
            2.0
        );
    }

    #[test]
    fn client_statistics_are_summed_per_client_id() {
        let stats = |name: &str, tx: u64| {
            format!(
                r#"{{"name":"{name}","client_id":"connector-producer-m-cli","type":"producer","ts":1,"time":1,"age":1,
                "tx_bytes":{tx},"rx_bytes":10,"brokers":{{
                  "b1:9092/1":{{"name":"b1:9092/1","state":"UP","source":"learned"}},
                  "GroupCoordinator":{{"name":"GroupCoordinator","state":"UP","source":"logical"}},
                  ":0/internal":{{"name":":0/internal","state":"UP","source":"internal"}}}}}}"#
            )
        };
        let a = ClientStatsHandle::default();
        a.record(stats("connector-producer-m-cli#producer-1", 100).as_bytes());
        let b = ClientStatsHandle::default();
        b.record(stats("connector-producer-m-cli#producer-2", 50).as_bytes());
        let text = render();
        let l = r#"clientid="connector-producer-m-cli""#;
        assert_eq!(
            type_of(&text, "kafka_producer_outgoing_byte_total"),
            "counter"
        );
        assert_eq!(value(&text, "kafka_producer_outgoing_byte_total", l), 150.0);
        assert_eq!(value(&text, "kafka_producer_incoming_byte_total", l), 20.0);
        assert_eq!(value(&text, "kafka_producer_connection_count", l), 2.0);
        drop(a);
        drop(b);
        assert!(!render().contains(l));
    }

    #[test]
    fn group_tables_have_unique_strimzi_style_names() {
        fn rows<T>(rows: &[Row<T>]) -> Vec<(&'static str, MetricType)> {
            rows.iter()
                .map(|r| (r.name, r.read.metric_type()))
                .collect()
        }
        let all = [
            rows(&CONNECTOR_METRICS),
            rows(&CONNECTOR_TASK_METRICS),
            rows(&SOURCE_TASK_METRICS),
            rows(&TRANSACTION_METRICS),
            rows(&SINK_TASK_METRICS),
            rows(&TASK_ERROR_METRICS),
            rows(&WORKER_METRICS),
            rows(&WORKER_CONNECTOR_METRICS),
            rows(&PRODUCER_METRICS),
            rows(&CONSUMER_METRICS),
            rows(&REBALANCE_METRICS),
            rows(&COORDINATOR_METRICS),
        ]
        .concat();
        let mut seen = std::collections::BTreeSet::new();
        for (name, kind) in all {
            assert!(seen.insert(name), "{name} twice");
            assert!(name.starts_with("kafka_"), "{name}");
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{name}"
            );
            // The encoder adds `_total` to counters, and no gauge ends so.
            assert!(!name.ends_with("_total"), "{name} ({kind:?})");
        }
    }

    #[test]
    fn running_ratio_follows_the_states() {
        let m = TaskMetrics::detached(&id("ratio", 0), ConnectorKind::Sink);
        let start = m.created_us;
        m.states.lock().unwrap().since_us = start;
        m.set_status(Status::Running);
        let (running, paused) = m.ratios(ticks_us() + 1_000_000);
        assert!(running > 0.9 && paused == 0.0, "{running} {paused}");
    }
}
