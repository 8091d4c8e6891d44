//! The plugin API: connectors split a job into task configs; tasks move the
//! data. Mirrors `org.apache.kafka.connect.{connector,source,sink}`,
//! including the contexts through which a plugin talks back to the
//! framework and the exactly-once hooks of KIP-618.
//!
//! Lifecycle, as in Java: a connector is created, [`Connector::validate`]d
//! (offline: it must not reach the outside system), then on the worker that
//! runs it [`Connector::start`]ed and asked for [`Connector::task_configs`];
//! each task is created, `start`ed and driven (`poll`/`commit` or
//! `open`/`put`/`pre_commit`/`close`) until it is `stop`ped. See
//! `docs/connector-contract.md`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;

use super::config::{ConfigDef, ConfigError, Props};
pub use super::error::{ConnectError, ConnectResult};
use super::metrics::PluginMetrics;
use super::record::{OffsetMap, SinkRecord, SourceRecord, TopicPartition};

/// Source or sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectorKind {
    Source,
    Sink,
}

impl std::fmt::Display for ConnectorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ConnectorKind::Source => "source",
            ConnectorKind::Sink => "sink",
        })
    }
}

/// What a connector's own framework services are (Java's
/// `ConnectorContext`), implemented by the worker that runs it.
pub trait ConnectorContext: Send + Sync {
    /// The connector's input changed (a table or bucket appeared): the
    /// framework calls [`Connector::task_configs`] again and restarts the
    /// tasks whose configs changed.
    fn request_task_reconfiguration(&self);

    /// A failure the connector found outside a framework call (a monitoring
    /// thread lost its connection): the connector becomes FAILED with it.
    fn raise_error(&self, error: ConnectError);

    /// The connector's own metrics, labelled with its name.
    fn metrics(&self) -> &PluginMetrics;
}

/// A [`ConnectorContext`] outside the framework (unit tests, tools): it
/// remembers what the connector asked for.
pub struct DetachedContext {
    reconfigurations: std::sync::atomic::AtomicUsize,
    errors: Mutex<Vec<String>>,
    metrics: PluginMetrics,
}

impl DetachedContext {
    pub fn new() -> Arc<DetachedContext> {
        Arc::new(DetachedContext {
            reconfigurations: std::sync::atomic::AtomicUsize::new(0),
            errors: Mutex::new(Vec::new()),
            metrics: PluginMetrics::detached(),
        })
    }

    /// How often the connector asked for a reconfiguration.
    pub fn reconfigurations(&self) -> usize {
        self.reconfigurations
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The traces of the errors the connector raised.
    pub fn errors(&self) -> Vec<String> {
        self.errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl ConnectorContext for DetachedContext {
    fn request_task_reconfiguration(&self) {
        self.reconfigurations
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn raise_error(&self, error: ConnectError) {
        self.errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(error.trace());
    }

    fn metrics(&self) -> &PluginMetrics {
        &self.metrics
    }
}

/// What both connector kinds share: a config definition, validation and the
/// split of the job into task configs.
#[async_trait]
pub trait Connector: Send + Sync {
    /// The connector's own config keys (the framework adds `name`,
    /// `connector.class`, `tasks.max`, converters …).
    fn config_def(&self) -> ConfigDef;

    /// Checks a full connector config without contacting the outside system
    /// (the operator validates configs without network access to it and
    /// without its secrets). The default checks [`Connector::config_def`];
    /// a connector adds the rules that span keys. Every problem is
    /// reported, each naming its key.
    fn validate(&self, props: &Props) -> Vec<ConfigError> {
        self.config_def().validate(props)
    }

    /// Checks that need the outside system (can we connect, is the
    /// replication slot usable …). Run only when a caller asks for live
    /// checks (REST `PUT /connector-plugins/{plugin}/config/validate`), never
    /// by the operator. The default has none.
    async fn validate_live(&self, _props: &Props) -> Vec<ConfigError> {
        Vec::new()
    }

    /// Called once, on the worker that runs the connector, with the
    /// connector's full (validated, secrets resolved) properties.
    async fn start(&mut self, ctx: Arc<dyn ConnectorContext>, props: &Props) -> ConnectResult<()>;

    /// At most `max_tasks` task configs. The framework adds `task.class`
    /// (and a sink's `topics`/`topics.regex`) as Java's worker does.
    async fn task_configs(&self, max_tasks: usize) -> ConnectResult<Vec<Props>>;

    /// Releases what `start` acquired. Called once, also after a failure.
    async fn stop(&mut self) -> ConnectResult<()> {
        Ok(())
    }

    fn version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }
}

/// Whether a source connector can deliver exactly once (KIP-618's
/// `ExactlyOnceSupport`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExactlyOnceSupport {
    Supported,
    Unsupported,
}

/// Whether a source connector can define its own transaction boundaries
/// (`transaction.boundary=connector`, KIP-618's
/// `ConnectorTransactionBoundaries`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionBoundaries {
    Supported,
    Unsupported,
}

#[async_trait]
pub trait SourceConnector: Connector {
    fn create_task(&self) -> Box<dyn SourceTask>;

    /// Whether this config can deliver exactly once; `None` when the
    /// connector cannot tell (Java's `null`), which the worker treats as
    /// unsupported when `exactly.once.support=required`.
    fn exactly_once_support(&self, _props: &Props) -> Option<ExactlyOnceSupport> {
        None
    }

    /// Whether this config may use `transaction.boundary=connector`.
    fn can_define_transaction_boundaries(&self, _props: &Props) -> TransactionBoundaries {
        TransactionBoundaries::Unsupported
    }

    /// KIP-875: the user alters (`Some`) or resets (`None`) these source
    /// offsets while the connector is stopped. A connector that keeps
    /// offsets elsewhere too (a replication slot) updates them here or
    /// refuses with an error; `Ok(true)` says it handled the request,
    /// `Ok(false)` (the default) that the framework's offsets are all
    /// there is. The framework writes the offsets either way.
    async fn alter_offsets(
        &self,
        _props: &Props,
        _offsets: &[(OffsetMap, Option<OffsetMap>)],
    ) -> ConnectResult<bool> {
        Ok(false)
    }
}

#[async_trait]
pub trait SinkConnector: Connector {
    fn create_task(&self) -> Box<dyn SinkTask>;

    /// KIP-875 for sinks: consumer offsets to set (`Some`) or reset
    /// (`None`); see [`SourceConnector::alter_offsets`].
    async fn alter_offsets(
        &self,
        _props: &Props,
        _offsets: &[(TopicPartition, Option<i64>)],
    ) -> ConnectResult<bool> {
        Ok(false)
    }
}

/// Read access to committed source offsets.
pub trait OffsetReader: Send + Sync {
    fn offset(&self, partition: &OffsetMap) -> Option<OffsetMap>;
}

/// A connector-defined transaction boundary (KIP-618's
/// `TransactionContext`), for tasks of connectors with
/// `transaction.boundary=connector`.
pub trait TransactionContext: Send + Sync {
    /// Commit the transaction after the next batch the task returns.
    fn commit_transaction(&self);
    /// Commit the transaction right after `record`.
    fn commit_transaction_after(&self, record: &SourceRecord);
    /// Abort the transaction after the next batch.
    fn abort_transaction(&self);
    /// Abort the transaction right after `record` (it and every record of
    /// the transaction before it are discarded).
    fn abort_transaction_after(&self, record: &SourceRecord);
}

/// What a source task gets from the framework (Java's
/// `SourceTaskContext`).
#[derive(Clone)]
pub struct SourceTaskContext {
    offsets: Arc<dyn OffsetReader>,
    transactions: Option<Arc<dyn TransactionContext>>,
    metrics: PluginMetrics,
}

impl SourceTaskContext {
    pub fn new(offsets: Arc<dyn OffsetReader>, metrics: PluginMetrics) -> SourceTaskContext {
        SourceTaskContext {
            offsets,
            transactions: None,
            metrics,
        }
    }

    /// With connector-defined transaction boundaries.
    pub fn with_transactions(mut self, transactions: Arc<dyn TransactionContext>) -> Self {
        self.transactions = Some(transactions);
        self
    }

    /// The committed offsets, to resume where the task left off.
    pub fn offset_reader(&self) -> &Arc<dyn OffsetReader> {
        &self.offsets
    }

    /// `Some` only when exactly-once support is on and the connector
    /// defines transaction boundaries.
    pub fn transaction_context(&self) -> Option<&Arc<dyn TransactionContext>> {
        self.transactions.as_ref()
    }

    /// The task's own metrics, labelled with connector and task.
    pub fn metrics(&self) -> &PluginMetrics {
        &self.metrics
    }
}

/// Source offsets the framework has just made durable: for each source
/// partition, the newest offset whose records Kafka acknowledged.
pub type CommittedOffsets = [(OffsetMap, OffsetMap)];

/// A source task turns an outside system into records.
#[async_trait]
pub trait SourceTask: Send {
    async fn start(&mut self, ctx: SourceTaskContext, props: &Props) -> ConnectResult<()>;

    /// The next batch of records. An empty batch means "nothing now"; the
    /// task should wait a little inside `poll` rather than spin.
    async fn poll(&mut self) -> ConnectResult<Vec<SourceRecord>>;

    /// `committed` was written to the offset store: everything up to these
    /// offsets is durably in Kafka. A CDC task acknowledges its log
    /// position to the database here, never earlier.
    async fn commit(&mut self, _committed: &CommittedOffsets) -> ConnectResult<()> {
        Ok(())
    }

    async fn stop(&mut self) -> ConnectResult<()> {
        Ok(())
    }
}

/// Consumer positions: the next offset to read for each partition.
pub type SinkOffsets = HashMap<TopicPartition, i64>;

/// Reports a record the task could not write (Java's
/// `ErrantRecordReporter`): it follows the connector's `errors.tolerance`
/// (with `none`, the report fails the task), is logged and sent to the dead
/// letter queue as configured, and the framework commits nothing past it
/// before that is done.
pub trait ErrantRecordReporter: Send + Sync {
    fn report(&self, record: &SinkRecord, error: &ConnectError) -> ConnectResult<()>;
}

/// What a sink task asked of the framework since the framework last looked
/// (see [`SinkTaskContext`]).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SinkRequests {
    /// Rewind or skip: the next offset to read per partition.
    pub seek: BTreeMap<TopicPartition, i64>,
    pub pause: BTreeSet<TopicPartition>,
    pub resume: BTreeSet<TopicPartition>,
    /// Commit offsets as soon as possible.
    pub commit: bool,
    /// Backoff before redelivering after a retriable failure of `put`.
    pub timeout: Option<Duration>,
}

impl SinkRequests {
    pub fn is_empty(&self) -> bool {
        *self == SinkRequests::default()
    }
}

#[derive(Default)]
struct SinkShared {
    assignment: BTreeSet<TopicPartition>,
    paused: BTreeSet<TopicPartition>,
    requests: SinkRequests,
}

/// What a sink task gets from the framework (Java's `SinkTaskContext`):
/// its assignment, and requests to seek, pause, resume, commit or back off
/// that the framework carries out between calls to the task.
#[derive(Clone)]
pub struct SinkTaskContext {
    shared: Arc<Mutex<SinkShared>>,
    reporter: Option<Arc<dyn ErrantRecordReporter>>,
    metrics: PluginMetrics,
}

/// The framework's side of a [`SinkTaskContext`].
#[derive(Clone)]
pub struct SinkContextControl {
    shared: Arc<Mutex<SinkShared>>,
}

impl SinkTaskContext {
    pub fn new(
        metrics: PluginMetrics,
        reporter: Option<Arc<dyn ErrantRecordReporter>>,
    ) -> (SinkTaskContext, SinkContextControl) {
        let shared = Arc::new(Mutex::new(SinkShared::default()));
        (
            SinkTaskContext {
                shared: shared.clone(),
                reporter,
                metrics,
            },
            SinkContextControl { shared },
        )
    }

    fn with<R>(&self, f: impl FnOnce(&mut SinkShared) -> R) -> R {
        f(&mut self.shared.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The partitions assigned to the task now.
    pub fn assignment(&self) -> BTreeSet<TopicPartition> {
        self.with(|s| s.assignment.clone())
    }

    /// Read `partition` from `offset` on (Java's `offset(tp, offset)`): a
    /// task that keeps its own offsets in the outside system calls this
    /// from `open`.
    pub fn offset(&self, partition: TopicPartition, offset: i64) {
        self.with(|s| {
            s.requests.seek.insert(partition, offset);
        });
    }

    /// Stop fetching these partitions until [`SinkTaskContext::resume`].
    pub fn pause(&self, partitions: &[TopicPartition]) {
        self.with(|s| {
            for tp in partitions {
                s.requests.resume.remove(tp);
                s.requests.pause.insert(tp.clone());
            }
        });
    }

    pub fn resume(&self, partitions: &[TopicPartition]) {
        self.with(|s| {
            for tp in partitions {
                s.requests.pause.remove(tp);
                s.requests.resume.insert(tp.clone());
            }
        });
    }

    /// The partitions the task paused.
    pub fn paused(&self) -> BTreeSet<TopicPartition> {
        self.with(|s| s.paused.clone())
    }

    /// Commit offsets soon (after the current `put`), not only at the next
    /// `offset.flush.interval.ms`.
    pub fn request_commit(&self) {
        self.with(|s| s.requests.commit = true);
    }

    /// After the next retriable failure of `put`, wait this long before the
    /// batch is delivered again.
    pub fn timeout(&self, backoff: Duration) {
        self.with(|s| s.requests.timeout = Some(backoff));
    }

    /// Where records the task cannot write go (dead letter queue, log,
    /// tolerance); `None` only outside the framework.
    pub fn errant_record_reporter(&self) -> Option<&Arc<dyn ErrantRecordReporter>> {
        self.reporter.as_ref()
    }

    /// The task's own metrics, labelled with connector and task.
    pub fn metrics(&self) -> &PluginMetrics {
        &self.metrics
    }
}

impl SinkContextControl {
    fn with<R>(&self, f: impl FnOnce(&mut SinkShared) -> R) -> R {
        f(&mut self.shared.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn assigned(&self, partitions: &[TopicPartition]) {
        self.with(|s| s.assignment.extend(partitions.iter().cloned()));
    }

    /// Revoked partitions leave the assignment, the paused set and any
    /// pending request.
    pub fn revoked(&self, partitions: &[TopicPartition]) {
        self.with(|s| {
            for tp in partitions {
                s.assignment.remove(tp);
                s.paused.remove(tp);
                s.requests.seek.remove(tp);
                s.requests.pause.remove(tp);
                s.requests.resume.remove(tp);
            }
        });
    }

    /// Takes the task's requests; pauses and resumes of partitions the task
    /// does not own are dropped, and the paused set is updated.
    pub fn take_requests(&self) -> SinkRequests {
        self.with(|s| {
            let mut r = std::mem::take(&mut s.requests);
            r.pause.retain(|tp| s.assignment.contains(tp));
            r.resume.retain(|tp| s.assignment.contains(tp));
            r.seek.retain(|tp, _| s.assignment.contains(tp));
            s.paused.extend(r.pause.iter().cloned());
            for tp in &r.resume {
                s.paused.remove(tp);
            }
            r
        })
    }

    /// Partitions the task itself paused (a redelivery backoff must not
    /// resume them).
    pub fn paused_by_task(&self) -> BTreeSet<TopicPartition> {
        self.with(|s| s.paused.clone())
    }
}

/// A sink task writes records to an outside system.
#[async_trait]
pub trait SinkTask: Send {
    async fn start(&mut self, ctx: SinkTaskContext, props: &Props) -> ConnectResult<()>;

    /// Partitions newly assigned to this task.
    async fn open(&mut self, _partitions: &[TopicPartition]) -> ConnectResult<()> {
        Ok(())
    }

    /// Partitions taken away; drop any state kept for them.
    async fn close(&mut self, _partitions: &[TopicPartition]) -> ConnectResult<()> {
        Ok(())
    }

    async fn put(&mut self, records: Vec<SinkRecord>) -> ConnectResult<()>;

    /// Make everything `put` so far durable.
    async fn flush(&mut self, _offsets: &SinkOffsets) -> ConnectResult<()> {
        Ok(())
    }

    /// Returns the offsets that are safe to commit. The default flushes and
    /// returns everything consumed, like Java's `SinkTask.preCommit`.
    async fn pre_commit(&mut self, offsets: SinkOffsets) -> ConnectResult<SinkOffsets> {
        self.flush(&offsets).await?;
        Ok(offsets)
    }

    async fn stop(&mut self) -> ConnectResult<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sink_requests_reach_the_framework_for_owned_partitions_only() {
        let (ctx, control) = SinkTaskContext::new(PluginMetrics::detached(), None);
        let a = TopicPartition::new("t", 0);
        let b = TopicPartition::new("t", 1);
        control.assigned(std::slice::from_ref(&a));
        assert_eq!(ctx.assignment(), BTreeSet::from([a.clone()]));

        ctx.pause(&[a.clone(), b.clone()]);
        ctx.offset(a.clone(), 42);
        ctx.offset(b.clone(), 7);
        ctx.request_commit();
        ctx.timeout(Duration::from_millis(5));
        let r = control.take_requests();
        assert_eq!(r.pause, BTreeSet::from([a.clone()]));
        assert_eq!(r.seek, BTreeMap::from([(a.clone(), 42)]));
        assert!(r.commit);
        assert_eq!(r.timeout, Some(Duration::from_millis(5)));
        assert_eq!(ctx.paused(), BTreeSet::from([a.clone()]));
        assert!(
            control.take_requests().is_empty(),
            "requests are taken once"
        );

        ctx.resume(std::slice::from_ref(&a));
        assert_eq!(control.take_requests().resume, BTreeSet::from([a.clone()]));
        assert!(control.paused_by_task().is_empty());

        ctx.pause(std::slice::from_ref(&a));
        control.revoked(std::slice::from_ref(&a));
        assert!(control.take_requests().is_empty());
        assert!(ctx.assignment().is_empty());
    }
}
