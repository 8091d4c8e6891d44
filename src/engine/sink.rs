//! The sink task loop: consume in group `connect-<connector>`, convert,
//! transform, `put`, and commit consumer offsets only for what the task's
//! `pre_commit` (flush) declared safe — at-least-once, nothing lost.
//!
//! Offsets are stored per batch (`enable.auto.offset.store=false` +
//! `store_offsets`) and committed on the flush interval, synchronously on
//! partition revocation (cooperative-sticky, incremental) and on shutdown.
//!
//! Revocation works like Java's `onPartitionsRevoked`: the partitions are
//! given up only after the task flushed and the offsets were committed, so
//! a rebalance (a task joining, moving or leaving) redelivers nothing. The
//! rebalance callback runs inside the consumer's poll, where the task
//! cannot be flushed; it hands the revocation to the loop instead and
//! librdkafka waits (the rebalance stays in progress) until the loop calls
//! `incremental_unassign`. A lost assignment (session timed out) is given
//! up at once: its offsets can no longer be committed.
//!
//! Positions come from the consumed records, not the transformed ones (a
//! transform may rename the topic). A record a transform drops, or that is
//! skipped under `errors.tolerance=all`, counts as processed; one sent to
//! the dead letter queue is committed only once the queue acknowledged it
//! (every commit first waits for the queue's outstanding deliveries).
//!
//! A `put` failing with a retriable error is retried like Java's
//! `WorkerSinkTask`: the task's partitions are paused, rewound to the
//! batch's first offsets and resumed after a backoff, so the same records
//! come again while the consumer keeps polling (and stays in its group).
//!
//! Metrics ([`super::metrics`]) are recorded per consumed chunk (records
//! read), per `put` (records sent, batch size, duration), per commit
//! (duration, outcome, sequence number) and per rebalance (partitions).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, RebalanceProtocol, StreamConsumer,
};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::client_failure::ClientFailure;
use super::errors::{
    transform_message, ErrantRecord, ErrorConfig, ErrorHandler, Stage, StageError, Tolerance,
    CONNECT_EXCEPTION,
};
use super::metrics::{task_metrics, ClientStatsHandle, TaskMetrics};
use super::task::{header_from_bytes, TaskContext, TaskFailure};
use crate::connect::{
    ConnectError, ConnectRecord, ConnectResult, ConnectorKind, ConverterError,
    ErrantRecordReporter, SchemaAndValue, SinkContextControl, SinkOffsets, SinkRecord, SinkTask,
    TopicPartition,
};
use crate::transforms::TransformChain;

/// Most records handed to one `put`.
const MAX_BATCH: usize = 2000;

/// Partition changes seen by the consumer's rebalance callback.
#[derive(Debug)]
pub enum RebalanceEvent {
    Assigned(Vec<TopicPartition>),
    /// Already given up (lost, or revoked while the loop was not running).
    Revoked(Vec<TopicPartition>),
    /// To give up once flushed and committed: librdkafka waits for the
    /// loop's `incremental_unassign`.
    Revoking(Vec<TopicPartition>),
}

/// Consumer context that commits the flushed offsets synchronously before
/// partitions are given away, and tells the loop what changed.
pub struct SinkContext {
    task: String,
    events: mpsc::UnboundedSender<RebalanceEvent>,
    stats: ClientStatsHandle,
    /// Authentication and TLS failures, which fail the task.
    pub failure: ClientFailure,
    /// Who the consumer authenticates as, for ACL denials.
    pub principal: String,
    /// Whether the loop runs and can flush before partitions go: off before
    /// it starts and once it ended, so the revocation of `close` is not
    /// left waiting for a loop that will not come.
    defer_revokes: AtomicBool,
}

impl SinkContext {
    pub fn new(task: String) -> (SinkContext, mpsc::UnboundedReceiver<RebalanceEvent>) {
        let (events, rx) = mpsc::unbounded_channel();
        (
            SinkContext {
                task,
                events,
                stats: ClientStatsHandle::default(),
                failure: ClientFailure::default(),
                principal: "User:ANONYMOUS".to_owned(),
                defer_revokes: AtomicBool::new(false),
            },
            rx,
        )
    }
}

/// Consumer errors librdkafka recovers from by itself (a lost or refused
/// connection, a broker that is down for a while).
fn is_transient(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::AllBrokersDown
                | RDKafkaErrorCode::Resolve
                | RDKafkaErrorCode::OperationTimedOut
                | RDKafkaErrorCode::RequestTimedOut
                | RDKafkaErrorCode::PartitionEOF
        )
    )
}

/// The task's failure for an error the consumer returned: for a failed
/// authentication or TLS handshake, the reason the client reported
/// (broker, mechanism, cause) rather than the bare error code.
async fn consumer_error(
    failure: ClientFailure,
    group: &str,
    principal: &str,
    e: &rdkafka::error::KafkaError,
) -> TaskFailure {
    if ClientFailure::is_fatal(e) {
        // The error callback and the consumed error come together.
        if let Ok(reason) = tokio::time::timeout(Duration::from_secs(1), failure.failed()).await {
            return TaskFailure::new(reason);
        }
    }
    // Kafka's group and topic errors (an ACL denial) do not name them.
    TaskFailure::new(format!(
        "consumer error (group {group}, consuming as {principal}): {e}"
    ))
}

fn partitions(tpl: &TopicPartitionList) -> Vec<TopicPartition> {
    tpl.elements()
        .iter()
        .map(|e| TopicPartition::new(e.topic(), e.partition()))
        .collect()
}

impl ClientContext for SinkContext {
    /// librdkafka's statistics: the consumer's `kafka_consumer_*` metrics.
    fn stats_raw(&self, statistics: &[u8]) {
        self.stats.record(statistics);
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        self.failure.observe(&self.task, &error, reason);
    }
}

impl ConsumerContext for SinkContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        let give_up = |tpl: &TopicPartitionList| {
            if cooperative {
                consumer.incremental_unassign(tpl)
            } else {
                consumer.unassign()
            }
        };
        let result = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let assigned = if cooperative {
                    consumer.incremental_assign(tpl)
                } else {
                    consumer.assign(tpl)
                };
                let _ = self.events.send(RebalanceEvent::Assigned(partitions(tpl)));
                assigned
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                if cooperative
                    && !consumer.assignment_lost()
                    && self.defer_revokes.load(Ordering::Acquire)
                    && self
                        .events
                        .send(RebalanceEvent::Revoking(partitions(tpl)))
                        .is_ok()
                {
                    return; // the loop flushes, commits and unassigns
                }
                if !consumer.assignment_lost() {
                    // What was stored (flushed) is all that can be kept.
                    match consumer.commit_consumer_state(CommitMode::Sync) {
                        Ok(()) => {}
                        Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
                        Err(e) => {
                            tracing::warn!(task = %self.task, error = %e, "commit on revoke failed")
                        }
                    }
                }
                let _ = self.events.send(RebalanceEvent::Revoked(partitions(tpl)));
                give_up(tpl)
            }
            other => {
                let code: RDKafkaErrorCode = other.into();
                tracing::warn!(task = %self.task, error = %code, "rebalance error; giving up the assignment");
                give_up(tpl)
            }
        };
        if let Err(e) = result {
            tracing::warn!(task = %self.task, error = %e, "applying a rebalance failed");
        }
    }
}

pub type SinkConsumer = StreamConsumer<SinkContext>;

/// Runs one sink task until shutdown or failure.
pub struct SinkTaskRunner {
    ctx: TaskContext,
    task: Box<dyn SinkTask>,
    consumer: Arc<SinkConsumer>,
    events: mpsc::UnboundedReceiver<RebalanceEvent>,
    assigned: HashSet<TopicPartition>,
    /// Next offset to read per partition, after the last `put`.
    consumed: SinkOffsets,
    /// What was last committed, so an idle task does not commit again.
    committed: SinkOffsets,
    /// `None` without transforms: the hot path skips the chain.
    transforms: Option<TransformChain>,
    errors: ErrorHandler,
    /// After a retriable `put` failure: when to resume the paused
    /// partitions, and how many attempts failed in a row.
    redelivery: Option<Instant>,
    put_failures: u32,
    /// Per partition, the last offset of a batch that is being redelivered:
    /// failures up to it were already sent to the dead letter queue.
    reported: HashMap<TopicPartition, i64>,
    metrics: Arc<TaskMetrics>,
    /// What the task asks through its `SinkTaskContext`.
    control: Option<SinkContextControl>,
    /// Records the task reported through its errant record reporter.
    reports: Option<Arc<ErrantReports>>,
    /// `SinkTaskContext::timeout`: the next redelivery's backoff.
    requested_backoff: Option<Duration>,
}

/// The worker's [`ErrantRecordReporter`]: under `errors.tolerance=none` a
/// report fails the task (Java's "Tolerance exceeded in error handler");
/// otherwise the record is noted, and the runner logs it and sends it to
/// the dead letter queue right after the `put` that reported it, before
/// any offset past it is committed.
pub struct ErrantReports {
    tolerance: Tolerance,
    reported: std::sync::Mutex<Vec<(TopicPartition, i64, String)>>,
}

impl ErrantReports {
    pub fn new(tolerance: Tolerance) -> ErrantReports {
        ErrantReports {
            tolerance,
            reported: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn take(&self) -> Vec<(TopicPartition, i64, String)> {
        std::mem::take(
            &mut *self
                .reported
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

impl ErrantRecordReporter for ErrantReports {
    fn report(&self, record: &SinkRecord, error: &ConnectError) -> ConnectResult<()> {
        if self.tolerance == Tolerance::None {
            return Err(ConnectError::other(format!(
                "Tolerance exceeded in error handler: the task reported the record at {}-{} offset {} as errant: {}",
                record.record.topic,
                record.kafka_partition,
                record.kafka_offset,
                error.trace()
            )));
        }
        self.reported
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((
                TopicPartition::new(record.record.topic.clone(), record.kafka_partition),
                record.kafka_offset,
                error.trace(),
            ));
        Ok(())
    }
}

impl SinkTaskRunner {
    pub fn new(
        ctx: TaskContext,
        task: Box<dyn SinkTask>,
        consumer: SinkConsumer,
        events: mpsc::UnboundedReceiver<RebalanceEvent>,
    ) -> Self {
        let errors = ErrorHandler::new(
            ctx.id.clone(),
            &ErrorConfig::default(),
            &Default::default(),
            String::new(),
            String::new(),
        );
        let metrics = task_metrics(&ctx.id, ConnectorKind::Sink);
        SinkTaskRunner {
            ctx,
            task,
            consumer: Arc::new(consumer),
            events,
            assigned: HashSet::new(),
            consumed: SinkOffsets::new(),
            committed: SinkOffsets::new(),
            transforms: None,
            errors,
            redelivery: None,
            put_failures: 0,
            reported: HashMap::new(),
            metrics,
            control: None,
            reports: None,
            requested_backoff: None,
        }
    }

    /// The framework's side of the task's `SinkTaskContext`, and where its
    /// errant record reports land.
    pub fn with_context(
        mut self,
        control: SinkContextControl,
        reports: Option<Arc<ErrantReports>>,
    ) -> Self {
        self.control = Some(control);
        self.reports = reports;
        self
    }

    /// Carries out what the task asked through its context: seeks, pauses,
    /// resumes, a commit, a backoff.
    async fn apply_requests(&mut self) -> Result<(), TaskFailure> {
        let Some(control) = &self.control else {
            return Ok(());
        };
        let requests = control.take_requests();
        if requests.is_empty() {
            return Ok(());
        }
        let list = |tps: &mut dyn Iterator<Item = &TopicPartition>| {
            let mut tpl = TopicPartitionList::new();
            for tp in tps {
                tpl.add_partition(&tp.topic, tp.partition);
            }
            tpl
        };
        if !requests.pause.is_empty() {
            if let Err(e) = self.consumer.pause(&list(&mut requests.pause.iter())) {
                tracing::warn!(task = %self.ctx.id, error = %e, "pausing partitions the task asked to pause");
            }
        }
        if !requests.resume.is_empty() && self.redelivery.is_none() {
            if let Err(e) = self.consumer.resume(&list(&mut requests.resume.iter())) {
                tracing::warn!(task = %self.ctx.id, error = %e, "resuming partitions the task asked to resume");
            }
        }
        for (tp, offset) in &requests.seek {
            tracing::info!(task = %self.ctx.id, partition = %tp, offset, "the task asked to read from this offset");
            if let Err(e) = self.consumer.seek(
                &tp.topic,
                tp.partition,
                Offset::Offset(*offset),
                Duration::ZERO,
            ) {
                return Err(TaskFailure::new(format!(
                    "task {} asked to read {tp} from offset {offset}, which failed: {e}",
                    self.ctx.id
                )));
            }
            // Committed from there on, as Java's `rewind` does.
            self.consumed.insert(tp.clone(), *offset);
        }
        if let Some(backoff) = requests.timeout {
            self.requested_backoff = Some(backoff);
        }
        if requests.commit {
            self.commit(CommitMode::Async).await?;
        }
        Ok(())
    }

    /// Logs and dead-letters the records the task reported as errant in the
    /// batch just delivered.
    async fn handle_reports(
        &mut self,
        chunk: &[Result<BorrowedMessage<'_>, KafkaError>],
    ) -> Result<(), TaskFailure> {
        let Some(reports) = &self.reports else {
            return Ok(());
        };
        for (tp, offset, trace) in reports.take() {
            let Some(msg) = chunk.iter().filter_map(|m| m.as_ref().ok()).find(|m| {
                m.offset() == offset && m.partition() == tp.partition && m.topic() == tp.topic
            }) else {
                tracing::warn!(task = %self.ctx.id, partition = %tp, offset, "the task reported a record that is not in the batch it was given; only logged");
                continue;
            };
            let error = StageError {
                exception_class: CONNECT_EXCEPTION,
                message: trace,
                retriable: false,
            };
            let id = self.ctx.id.clone();
            let record = self.errant(msg);
            self.errors
                .reported_by_task(
                    CONNECT_EXCEPTION,
                    &error,
                    record,
                    &self.ctx.shutdown,
                    || format!("task {id} reported the record at {tp} offset {offset} as errant"),
                )
                .await?;
        }
        Ok(())
    }

    /// The connector's transform chain (`None`: no transforms).
    pub fn with_transforms(mut self, transforms: Option<TransformChain>) -> Self {
        self.transforms = transforms;
        self
    }

    /// How failures are retried, tolerated and reported (and the dead
    /// letter queue).
    pub fn with_errors(mut self, errors: ErrorHandler) -> Self {
        self.errors = errors;
        self
    }

    pub async fn run(mut self) -> Result<(), TaskFailure> {
        let consumer = self.consumer.clone();
        let defer_revokes = &consumer.context().defer_revokes;
        defer_revokes.store(true, Ordering::Release);
        let result = self.run_loop().await;
        // From here on revocations are carried out at once (the consumer's
        // close revokes everything).
        defer_revokes.store(false, Ordering::Release);
        // On failure, commit only what the task had flushed before; never
        // commit past a batch that failed.
        let committed = if result.is_ok() {
            self.commit(CommitMode::Sync).await
        } else {
            Ok(())
        };
        // Revocations that waited for the loop: after the commit above.
        while let Ok(event) = self.events.try_recv() {
            if let RebalanceEvent::Revoking(tps) = event {
                self.unassign(&tps);
            }
        }
        if let Err(e) = self.task.stop().await {
            tracing::warn!(task = %self.ctx.id, error = %e, "sink task stop failed");
        }
        // Whatever happened, let what went to the dead letter queue reach it.
        if let Some(dlq) = self.errors.dlq() {
            match dlq.acknowledged(self.ctx.offset_flush_timeout).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(task = %self.ctx.id, pending = dlq.pending(), "dead letter queue records still unacknowledged at stop")
                }
                Err(e) => {
                    tracing::warn!(task = %self.ctx.id, error = %e, "dead letter queue delivery failed")
                }
            }
        }
        self.consumer.unsubscribe();
        result.and(committed)
    }

    async fn run_loop(&mut self) -> Result<(), TaskFailure> {
        let consumer = self.consumer.clone();
        let mut stream = consumer.stream().ready_chunks(MAX_BATCH);
        let mut next_commit = Instant::now() + self.ctx.offset_flush_interval;
        let failure = consumer.context().failure.clone();
        loop {
            tokio::select! {
                biased;
                _ = self.ctx.shutdown.cancelled() => return Ok(()),
                reason = failure.failed() => return Err(TaskFailure::new(reason)),
                Some(event) = self.events.recv() => self.on_rebalance(event).await?,
                _ = tokio::time::sleep_until(next_commit) => {
                    self.commit(CommitMode::Async).await?;
                    next_commit = Instant::now() + self.ctx.offset_flush_interval;
                }
                _ = sleep_until_some(self.redelivery), if self.redelivery.is_some() => {
                    self.redelivery = None;
                    self.resume();
                }
                chunk = stream.next() => {
                    let Some(chunk) = chunk else { return Ok(()) };
                    self.deliver(chunk).await?;
                }
            }
        }
    }

    async fn on_rebalance(&mut self, event: RebalanceEvent) -> Result<(), TaskFailure> {
        match event {
            RebalanceEvent::Assigned(tps) => {
                tracing::info!(task = %self.ctx.id, partitions = ?tps, "partitions assigned");
                self.assigned.extend(tps.iter().cloned());
                self.metrics.set_partitions(self.assigned.len());
                if let Some(control) = &self.control {
                    control.assigned(&tps);
                }
                self.task.open(&tps).await?;
                // A task that keeps its offsets elsewhere seeks in `open`.
                self.apply_requests().await?;
            }
            RebalanceEvent::Revoking(tps) => {
                // Flushed and committed while still ours, then given up;
                // given up also when the flush failed (the task then fails).
                let flushed = self.commit(CommitMode::Sync).await;
                self.unassign(&tps);
                flushed?;
                self.forget(tps).await?;
            }
            RebalanceEvent::Revoked(tps) => self.forget(tps).await?,
        }
        Ok(())
    }

    /// Gives partitions whose revocation waited for the loop back to the
    /// group.
    fn unassign(&self, tps: &[TopicPartition]) {
        let mut tpl = TopicPartitionList::new();
        for tp in tps {
            tpl.add_partition(&tp.topic, tp.partition);
        }
        if let Err(e) = self.consumer.incremental_unassign(&tpl) {
            tracing::warn!(task = %self.ctx.id, error = %e, "giving up revoked partitions failed");
        }
    }

    /// Drops revoked partitions from the task's books and closes them.
    async fn forget(&mut self, tps: Vec<TopicPartition>) -> Result<(), TaskFailure> {
        tracing::info!(task = %self.ctx.id, partitions = ?tps, "partitions revoked");
        for tp in &tps {
            self.assigned.remove(tp);
            self.consumed.remove(tp);
            self.committed.remove(tp);
        }
        self.metrics.set_partitions(self.assigned.len());
        if let Some(control) = &self.control {
            control.revoked(&tps);
        }
        self.task.close(&tps).await?;
        Ok(())
    }

    async fn deliver(
        &mut self,
        chunk: Vec<Result<BorrowedMessage<'_>, KafkaError>>,
    ) -> Result<(), TaskFailure> {
        self.metrics
            .record_read(chunk.len(), crate::metrics::ticks_us());
        let mut records = Vec::with_capacity(chunk.len());
        // The next offset to read per partition, by the consumed records;
        // batches hold few partitions, so a scan beats hashing per record.
        let mut last: Vec<(&str, i32, i64)> = Vec::new();
        for msg in &chunk {
            let msg = match msg.as_ref() {
                Ok(msg) => msg,
                // librdkafka reconnects by itself; Java's consumer does not
                // throw these either.
                Err(e) if is_transient(e) => {
                    tracing::warn!(task = %self.ctx.id, error = %e, "Kafka consumer error; the client retries");
                    continue;
                }
                Err(e) => {
                    let failure = self.consumer.context().failure.clone();
                    let principal = self.consumer.context().principal.clone();
                    let group = format!("connect-{}", self.ctx.id.connector);
                    return Err(consumer_error(failure, &group, &principal, e).await);
                }
            };
            // librdkafka's topic name is a C string: read it once per record.
            let topic = msg.topic();
            if let Some(record) = self.convert(msg, topic).await? {
                records.push(record);
            }
            let (partition, next) = (msg.partition(), msg.offset() + 1);
            match last
                .iter_mut()
                .rev()
                .find(|(t, p, _)| *p == partition && *t == topic)
            {
                Some(entry) => entry.2 = next,
                None => last.push((topic, partition, next)),
            }
        }
        if !records.is_empty() {
            let n = records.len();
            let started = crate::metrics::ticks_us();
            let put = self.task.put(records).await;
            let now = crate::metrics::ticks_us();
            if put.is_ok() {
                self.metrics.record_put(n, now.saturating_sub(started), now);
            }
            // Reported records are handled whatever `put` returned, before
            // anything past them can be committed.
            self.handle_reports(&chunk).await?;
            if let Err(e) = put {
                if e.is_retriable() {
                    self.redeliver(&chunk, &e);
                    return Ok(());
                }
                return Err(TaskFailure::new(format!(
                    "task {} threw an error in put (stage {}): {e}",
                    self.ctx.id,
                    Stage::TaskPut
                )));
            }
        }
        self.put_failures = 0;
        for (topic, partition, next) in last {
            self.consumed
                .insert(TopicPartition::new(topic, partition), next);
        }
        self.apply_requests().await
    }

    /// A retriable `put` failure: pause every assigned partition, rewind
    /// the batch's partitions to its first records, and resume after a
    /// backoff (300 ms doubling, capped by `errors.retry.delay.max.ms`).
    fn redeliver(&mut self, chunk: &[Result<BorrowedMessage<'_>, KafkaError>], e: &ConnectError) {
        self.put_failures += 1;
        let delay = self.requested_backoff.take().unwrap_or_else(|| {
            self.errors
                .operator()
                .backoff(self.put_failures, Instant::now(), None)
        });
        tracing::warn!(task = %self.ctx.id, error = %e, attempt = self.put_failures,
            "task threw a retriable exception in put; the batch will be redelivered in {delay:?}");
        if let Ok(assigned) = self.consumer.assignment() {
            if let Err(e) = self.consumer.pause(&assigned) {
                tracing::warn!(task = %self.ctx.id, error = %e, "pausing partitions for redelivery");
            }
        }
        let mut first: Vec<(&str, i32, i64, i64)> = Vec::new();
        for msg in chunk.iter().filter_map(|m| m.as_ref().ok()) {
            let (topic, partition, offset) = (msg.topic(), msg.partition(), msg.offset());
            match first
                .iter_mut()
                .find(|(t, p, _, _)| *p == partition && *t == topic)
            {
                Some(entry) => entry.3 = offset,
                None => first.push((topic, partition, offset, offset)),
            }
        }
        for (topic, partition, from, to) in first {
            // Asynchronous; the fetch restarts here when resumed.
            if let Err(e) =
                self.consumer
                    .seek(topic, partition, Offset::Offset(from), Duration::ZERO)
            {
                tracing::warn!(task = %self.ctx.id, error = %e, topic, partition, "rewinding for redelivery");
            }
            let tp = TopicPartition::new(topic, partition);
            let seen = self.reported.entry(tp).or_insert(to);
            *seen = (*seen).max(to);
        }
        self.redelivery = Some(Instant::now() + delay);
    }

    fn resume(&mut self) {
        if let Ok(mut assigned) = self.consumer.assignment() {
            // Partitions the task paused itself stay paused.
            if let Some(control) = &self.control {
                let paused = control.paused_by_task();
                if !paused.is_empty() {
                    let mut keep = TopicPartitionList::new();
                    for e in assigned.elements() {
                        let tp = TopicPartition::new(e.topic(), e.partition());
                        if !paused.contains(&tp) {
                            keep.add_partition(e.topic(), e.partition());
                        }
                    }
                    assigned = keep;
                }
            }
            if let Err(e) = self.consumer.resume(&assigned) {
                tracing::warn!(task = %self.ctx.id, error = %e, "resuming partitions after redelivery backoff");
            }
        }
    }

    /// Converts and transforms one consumed record; `None` when it was
    /// dropped by a transform or skipped under `errors.tolerance=all`.
    async fn convert(
        &mut self,
        msg: &BorrowedMessage<'_>,
        topic: &str,
    ) -> Result<Option<SinkRecord>, TaskFailure> {
        let key = match self.ctx.key_converter.to_connect(topic, msg.key()) {
            Ok(k) => k,
            Err(e) => match self.conversion_failed(Stage::KeyConverter, msg, e).await? {
                Some(k) => k,
                None => return Ok(None),
            },
        };
        let value = match self.ctx.value_converter.to_connect(topic, msg.payload()) {
            Ok(v) => v,
            Err(e) => match self
                .conversion_failed(Stage::ValueConverter, msg, e)
                .await?
            {
                Some(v) => v,
                None => return Ok(None),
            },
        };
        let headers = msg
            .headers()
            .map(|hs| {
                hs.iter()
                    .map(|h| header_from_bytes(h.key, h.value))
                    .collect()
            })
            .unwrap_or_default();
        let record = ConnectRecord {
            topic: topic.to_owned(),
            kafka_partition: Some(msg.partition()),
            key_schema: key.schema,
            key: key.value,
            value_schema: value.schema,
            value: value.value,
            timestamp: msg.timestamp().to_millis(),
            headers,
        };
        let record = match &self.transforms {
            None => record,
            Some(chain) => match chain.apply(record) {
                Ok(Some(r)) => r,
                Ok(None) => return Ok(None),
                Err(e) => {
                    let class = self.errors.transform_class(&e.message).to_owned();
                    let error = StageError::data(transform_message(&e.message));
                    let id = &self.ctx.id;
                    let record = self.errant(msg);
                    self.errors
                        .failed(
                            Stage::Transformation,
                            &class,
                            &error,
                            record,
                            &self.ctx.shutdown,
                            || {
                                format!(
                                    "task {id} failed transforming the record at {topic}-{} offset {}",
                                    msg.partition(),
                                    msg.offset()
                                )
                            },
                        )
                        .await?;
                    return Ok(None);
                }
            },
        };
        Ok(Some(SinkRecord {
            kafka_partition: record.kafka_partition.unwrap_or(msg.partition()),
            record,
            kafka_offset: msg.offset(),
        }))
    }

    /// A record for reports: a redelivered one that already went to the
    /// dead letter queue is not sent there again.
    fn errant<'a>(&self, msg: &'a BorrowedMessage<'a>) -> ErrantRecord<'a> {
        let redelivered = !self.reported.is_empty()
            && self
                .reported
                .get(&TopicPartition::new(msg.topic(), msg.partition()))
                .is_some_and(|&upto| msg.offset() <= upto);
        if redelivered {
            ErrantRecord::Redelivered(msg)
        } else {
            ErrantRecord::Consumed(msg)
        }
    }

    /// A conversion failed: retried while retriable, then skipped under
    /// tolerance or the task's failure naming the record.
    async fn conversion_failed(
        &mut self,
        stage: Stage,
        msg: &BorrowedMessage<'_>,
        e: ConverterError,
    ) -> Result<Option<SchemaAndValue>, TaskFailure> {
        let topic = msg.topic();
        let converter = if stage == Stage::KeyConverter {
            self.ctx.key_converter.clone()
        } else {
            self.ctx.value_converter.clone()
        };
        let bytes = if stage == Stage::KeyConverter {
            msg.key()
        } else {
            msg.payload()
        };
        let e = match self
            .errors
            .operator()
            .retry(e, &self.ctx.shutdown, || converter.to_connect(topic, bytes))
            .await
        {
            Ok(v) => return Ok(Some(v)),
            Err(e) => e,
        };
        let what = if stage == Stage::KeyConverter {
            "key"
        } else {
            "value"
        };
        let class = self.errors.converter_class(stage).to_owned();
        let id = &self.ctx.id;
        let record = self.errant(msg);
        self.errors
            .failed(
                stage,
                &class,
                &StageError::from(&e),
                record,
                &self.ctx.shutdown,
                || {
                    format!(
                        "task {id} failed converting the {what} of the record at {topic}-{} offset {}",
                        msg.partition(),
                        msg.offset()
                    )
                },
            )
            .await?;
        Ok(None)
    }

    /// Asks the task what is safe (flushing it), stores those offsets and
    /// commits them; counts the commit (when there was one) in the metrics.
    async fn commit(&mut self, mode: CommitMode) -> Result<(), TaskFailure> {
        let started = crate::metrics::ticks_us();
        let committed = self.try_commit(mode).await;
        if let Ok(Some(ok)) = committed {
            self.metrics
                .record_commit(ok, crate::metrics::ticks_us().saturating_sub(started));
        }
        committed.map(|_| ())
    }

    /// [`Self::commit`]: `Some(ok)` when offsets were handed to the
    /// consumer to commit, `None` when there was nothing to commit.
    async fn try_commit(&mut self, mode: CommitMode) -> Result<Option<bool>, TaskFailure> {
        if self.consumed.is_empty() {
            return Ok(None);
        }
        // Nothing sent to the dead letter queue may be committed before the
        // queue has it.
        if let Some(dlq) = self.errors.dlq() {
            if !dlq.acknowledged(self.ctx.offset_flush_timeout).await? {
                tracing::warn!(task = %self.ctx.id, pending = dlq.pending(),
                    "dead letter queue records not acknowledged within offset.flush.timeout.ms; offsets not committed this time");
                return Ok(None);
            }
        }
        let safe = self
            .task
            .pre_commit(self.consumed.clone())
            .await
            .map_err(|e| TaskFailure::new(format!("task {} failed to flush: {e}", self.ctx.id)))?;
        let mut tpl = TopicPartitionList::new();
        for (tp, next) in &safe {
            let unchanged =
                matches!(mode, CommitMode::Async) && self.committed.get(tp) == Some(next);
            if self.assigned.contains(tp) && !unchanged {
                tpl.add_partition_offset(&tp.topic, tp.partition, Offset::Offset(*next))
                    .map_err(|e| TaskFailure::new(format!("bad offset for {tp}: {e}")))?;
            }
        }
        if tpl.count() == 0 {
            return Ok(None);
        }
        if let Err(e) = self.consumer.store_offsets(&tpl) {
            // A partition revoked meanwhile cannot be stored; its new owner
            // re-reads from the last commit (duplicates, never loss).
            tracing::debug!(task = %self.ctx.id, error = %e, "storing offsets");
        }
        let consumer = self.consumer.clone();
        let result = match mode {
            CommitMode::Sync => {
                tokio::task::spawn_blocking(move || consumer.commit(&tpl, CommitMode::Sync))
                    .await
                    .map_err(|e| TaskFailure::new(format!("commit panicked: {e}")))?
            }
            CommitMode::Async => consumer.commit(&tpl, CommitMode::Async),
        };
        if let Err(e) = result {
            tracing::warn!(task = %self.ctx.id, error = %e, "offset commit failed; will retry on the next interval");
            Ok(Some(false))
        } else {
            tracing::debug!(task = %self.ctx.id, "committed consumer offsets");
            // An async commit may still fail later; the synchronous commit at
            // shutdown and on revoke commits everything regardless.
            self.committed.extend(safe);
            Ok(Some(true))
        }
    }
}

/// Sleeps until `at` (never called with `None`).
async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
