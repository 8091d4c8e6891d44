//! The source task loop: poll → transforms → convert → produce, and commit
//! source offsets only for records Kafka has acknowledged.
//!
//! Acknowledgements are counted per poll batch, not per record: every record
//! of a batch shares one `BatchAck`, and a batch's offsets become committable
//! once its count reaches zero and every batch before it is done too.
//! Records a transform drops, or that fail conversion or transformation
//! under `errors.tolerance=all`, count as done at once: their source offsets
//! are committed with their batch, as in Java.
//!
//! Without transforms, topic creation or error settings, the loop does what
//! it did before them: the chain is skipped, and error handling only runs
//! once an operation has failed.
//!
//! Metrics ([`super::metrics`]) are recorded per batch: records polled and
//! the poll's duration when a poll returns, records written when Kafka
//! acknowledged a batch's last record (the delivery callback that brings the
//! batch's count to zero), commit duration and outcome per commit.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use indexmap::IndexMap;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult, Header as KafkaHeader, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;
use tokio::time::Instant;

use super::client_failure::ClientFailure;
use super::errors::{
    transform_message, ErrantRecord, ErrorConfig, ErrorHandler, Stage, StageError, Tolerance,
    CONNECT_EXCEPTION,
};
use super::metrics::{task_metrics, ClientStatsHandle, TaskMetrics};
use super::task::{header_bytes, TaskContext, TaskEnd, TaskFailure};
use super::topic_creation::TopicCreator;
use super::transactions::{
    classify, is_fencing, java_partition, Boundary, Request, TxnFailure, WorkerTransactionContext,
};
use crate::connect::{ConnectRecord, ConnectorKind, OffsetMap, SourceRecord, SourceTask};
use crate::storage::offsets::{offset_key, OffsetStore};
use crate::transforms::TransformChain;

/// Java's class behind the `KAFKA_PRODUCE` stage.
const PRODUCER_CLASS: &str = "org.apache.kafka.clients.producer.KafkaProducer";

/// Delivery bookkeeping for one poll batch.
///
/// `remaining` counts the batch's records plus one for the task's loop,
/// which lets go of it once every record was handed over (or skipped): the
/// batch is done when it reaches zero, and whoever brings it there (the
/// loop or a delivery callback) records the batch as written.
#[derive(Default)]
pub struct BatchAck {
    remaining: AtomicUsize,
    error: Mutex<Option<String>>,
    /// Records handed to the producer; set before the loop lets go.
    produced: AtomicUsize,
    /// Deliveries that failed under `errors.tolerance=all`.
    failed: AtomicUsize,
}

impl BatchAck {
    fn done(&self) -> bool {
        self.remaining.load(Ordering::Acquire) == 0
    }

    /// Counts `n` records (or the loop's hold) down; the one that completes
    /// the batch records it as written.
    fn release(&self, n: usize, metrics: Option<&TaskMetrics>) {
        if self.remaining.fetch_sub(n, Ordering::AcqRel) == n {
            if let Some(m) = metrics {
                let produced = self.produced.load(Ordering::Acquire);
                let failed = self.failed.load(Ordering::Acquire);
                m.record_written(produced, produced.saturating_sub(failed));
            }
        }
    }

    fn error(&self) -> Option<String> {
        self.error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Producer context whose delivery callback counts a batch down.
pub struct AckContext {
    task: String,
    /// `errors.tolerance=all`: a failed delivery is reported and its record
    /// counts as done (Java commits its offset too).
    tolerate: bool,
    log: bool,
    metrics: Option<Arc<TaskMetrics>>,
    stats: ClientStatsHandle,
    /// Authentication and TLS failures, which fail the task.
    pub failure: ClientFailure,
    /// Who the producer authenticates as, for ACL denials.
    principal: String,
    /// The producer's `transactional.id` (exactly-once tasks).
    pub transactional_id: Option<String>,
}

impl AckContext {
    pub fn new(task: String, errors: &ErrorConfig) -> AckContext {
        AckContext {
            task,
            tolerate: errors.tolerance == Tolerance::All,
            log: errors.log_enable,
            metrics: None,
            stats: ClientStatsHandle::default(),
            failure: ClientFailure::default(),
            principal: "User:ANONYMOUS".to_owned(),
            transactional_id: None,
        }
    }

    /// The producer is transactional with this id.
    pub fn with_transactional_id(mut self, id: Option<String>) -> AckContext {
        self.transactional_id = id;
        self
    }

    /// Who the producer authenticates as (see
    /// [`super::kafka_security::principal`]).
    pub fn with_principal(mut self, principal: String) -> AckContext {
        self.principal = principal;
        self
    }

    /// Where acknowledged batches and failed deliveries are counted.
    pub fn with_metrics(mut self, metrics: Arc<TaskMetrics>) -> AckContext {
        self.metrics = Some(metrics);
        self
    }
}

impl ClientContext for AckContext {
    /// librdkafka's statistics: the producer's `kafka_producer_*` metrics.
    fn stats_raw(&self, statistics: &[u8]) {
        self.stats.record(statistics);
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        self.failure.observe(&self.task, &error, reason);
    }
}

impl ProducerContext for AckContext {
    type DeliveryOpaque = Arc<BatchAck>;

    fn delivery(&self, result: &DeliveryResult<'_>, ack: Arc<BatchAck>) {
        if let Err((e, msg)) = result {
            if let Some(m) = &self.metrics {
                m.errors.failure();
            }
            if self.tolerate {
                ack.failed.fetch_add(1, Ordering::AcqRel);
                if let Some(m) = &self.metrics {
                    m.errors.skipped();
                    if self.log {
                        m.errors.logged();
                    }
                }
                if self.log {
                    tracing::error!(
                        task = %self.task,
                        stage = Stage::KafkaProduce.name(),
                        class = PRODUCER_CLASS,
                        topic = rdkafka::Message::topic(msg),
                        error = %e,
                        "Error encountered in task {}. Executing stage 'KAFKA_PRODUCE' with class '{PRODUCER_CLASS}'.",
                        self.task
                    );
                }
            } else {
                if let Some(m) = &self.metrics {
                    m.errors.error();
                }
                let mut slot = ack.error.lock().unwrap_or_else(PoisonError::into_inner);
                // The topic and the principal, which Kafka's error (e.g. an
                // ACL denial) does not name.
                slot.get_or_insert_with(|| {
                    format!(
                        "topic {}: {e} (producing as {})",
                        rdkafka::Message::topic(msg),
                        self.principal
                    )
                });
            }
        }
        ack.release(1, self.metrics.as_deref());
    }
}

pub type SourceProducer = ThreadedProducer<AckContext>;

struct PendingBatch {
    ack: Arc<BatchAck>,
    /// The last offset of each source partition in this batch. Batches
    /// hold few partitions, so a scan beats hashing a key per record.
    offsets: Vec<(Arc<OffsetMap>, OffsetMap)>,
}

/// What happened to one record of a batch.
enum Sent {
    /// Handed to the producer: its delivery counts the batch down.
    Produced,
    /// Dropped by a transform or skipped under `errors.tolerance=all`.
    Skipped,
}

/// Runs one source task until shutdown or failure.
pub struct SourceTaskRunner {
    ctx: TaskContext,
    task: Box<dyn SourceTask>,
    producer: SourceProducer,
    store: Arc<dyn OffsetStore>,
    /// `None` without transforms: the hot path skips the chain.
    transforms: Option<TransformChain>,
    errors: ErrorHandler,
    /// `None` unless topic creation is on for the worker and the connector.
    topics: Option<TopicCreator>,
    pending: VecDeque<PendingBatch>,
    committable: IndexMap<String, (OffsetMap, OffsetMap)>,
    polled: u64,
    metrics: Arc<TaskMetrics>,
    /// `Some` when the task delivers exactly once: its transaction.
    eos: Option<ExactlyOnce>,
}

/// An exactly-once task's transaction (KIP-618): the records of the open
/// transaction and the offsets covering them, committed together.
pub struct ExactlyOnce {
    boundary: Boundary,
    /// The task's requests, with `transaction.boundary=connector`.
    context: Option<Arc<WorkerTransactionContext>>,
    /// Where offsets go, in the transaction: the offset topic and its
    /// partition count (offset keys go where Java's producer puts them).
    offsets_topic: String,
    offsets_partitions: i32,
    open: bool,
    began: Instant,
    /// Records handed to the producer in the open transaction.
    size: usize,
    /// The open transaction's batches (for delivery errors).
    acks: Vec<Arc<BatchAck>>,
    /// The last offset per source partition of the records since the last
    /// commit (aborted ones included: Java commits their offsets too).
    offsets: IndexMap<String, (OffsetMap, OffsetMap)>,
    /// Offset records never complete a batch: their deliveries count down
    /// this, which starts too high to reach zero.
    offset_ack: Arc<BatchAck>,
    /// The producer's `transaction.timeout.ms`: a transaction open longer
    /// was aborted by the broker, which then fences its producer.
    timeout: Duration,
}

impl ExactlyOnce {
    pub fn new(
        boundary: Boundary,
        context: Option<Arc<WorkerTransactionContext>>,
        offsets_topic: String,
        offsets_partitions: i32,
        timeout: Duration,
    ) -> ExactlyOnce {
        let offset_ack = Arc::new(BatchAck::default());
        offset_ack
            .remaining
            .store(usize::MAX / 2, Ordering::Release);
        ExactlyOnce {
            boundary,
            context,
            offsets_topic,
            offsets_partitions,
            open: false,
            began: Instant::now(),
            size: 0,
            acks: Vec::new(),
            offsets: IndexMap::new(),
            offset_ack,
            timeout,
        }
    }

    /// With `transaction.boundary=interval`, whether the interval passed.
    fn interval_due(&self) -> bool {
        match self.boundary {
            Boundary::Interval(every) => {
                (self.open || !self.offsets.is_empty()) && self.began.elapsed() >= every
            }
            _ => false,
        }
    }
}

/// How long a transaction's commit or abort may take.
const TRANSACTION_TIMEOUT: Duration = Duration::from_secs(60);

impl SourceTaskRunner {
    pub fn new(
        ctx: TaskContext,
        task: Box<dyn SourceTask>,
        producer: SourceProducer,
        store: Arc<dyn OffsetStore>,
    ) -> Self {
        let errors = ErrorHandler::new(
            ctx.id.clone(),
            &ErrorConfig::default(),
            &Default::default(),
            String::new(),
            String::new(),
        );
        let metrics = task_metrics(&ctx.id, ConnectorKind::Source);
        SourceTaskRunner {
            ctx,
            task,
            producer,
            store,
            transforms: None,
            errors,
            topics: None,
            pending: VecDeque::new(),
            committable: IndexMap::new(),
            polled: 0,
            metrics,
            eos: None,
        }
    }

    /// Delivers exactly once: the producer is transactional (its
    /// transactions initialised), and offsets go in its transactions.
    pub fn with_exactly_once(mut self, eos: Option<ExactlyOnce>) -> Self {
        if eos.is_some() {
            self.metrics.set_exactly_once();
        }
        self.eos = eos;
        self
    }

    /// The connector's transform chain (`None`: no transforms).
    pub fn with_transforms(mut self, transforms: Option<TransformChain>) -> Self {
        self.transforms = transforms;
        self
    }

    /// How failures are retried, tolerated and reported.
    pub fn with_errors(mut self, errors: ErrorHandler) -> Self {
        self.errors = errors;
        self
    }

    /// Creates topics before their first record (KIP-158).
    pub fn with_topic_creation(mut self, topics: Option<TopicCreator>) -> Self {
        self.topics = topics;
        self
    }

    /// The task's loop. Returns `Ok` after a graceful stop.
    pub async fn run(mut self) -> Result<(), TaskFailure> {
        if self.eos.is_some() {
            let result = self.run_transactional().await;
            let result = self.finish_transactional(result).await;
            if let Err(e) = self.task.stop().await {
                tracing::warn!(task = %self.ctx.id, error = %e, "source task stop failed");
            }
            return result;
        }
        let result = self.run_loop().await;
        // Whatever happened, commit what Kafka acknowledged.
        let flushed = self.finish().await;
        if let Err(e) = self.task.stop().await {
            tracing::warn!(task = %self.ctx.id, error = %e, "source task stop failed");
        }
        result.and(flushed)
    }

    /// One poll of the task: `None` once the task is to stop, an empty
    /// batch after a retriable failure (retried after a backoff).
    async fn poll_once(
        &mut self,
        poll_failures: &mut u32,
        failure: &ClientFailure,
    ) -> Result<Option<Vec<SourceRecord>>, TaskFailure> {
        let poll_started = crate::metrics::ticks_us();
        let polled = tokio::select! {
            biased;
            _ = self.ctx.shutdown.cancelled() => return Ok(None),
            reason = failure.failed() => return Err(TaskFailure::new(reason)),
            batch = self.task.poll() => batch,
        };
        match polled {
            Ok(batch) => {
                *poll_failures = 0;
                if !batch.is_empty() {
                    let now = crate::metrics::ticks_us();
                    self.metrics
                        .record_poll(batch.len(), now.saturating_sub(poll_started), now);
                }
                Ok(Some(batch))
            }
            // Java retries a poll that threw a RetriableException; here
            // with the errors.* backoff between attempts.
            Err(e) if e.is_retriable() => {
                *poll_failures += 1;
                let delay = self
                    .errors
                    .operator()
                    .backoff(*poll_failures, Instant::now(), None);
                tracing::warn!(task = %self.ctx.id, error = %e, attempt = *poll_failures,
                    "failed to poll records from the source task; will retry in {delay:?}");
                tokio::select! {
                    _ = self.ctx.shutdown.cancelled() => return Ok(None),
                    _ = tokio::time::sleep(delay) => {}
                }
                Ok(Some(Vec::new()))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn run_loop(&mut self) -> Result<(), TaskFailure> {
        let mut last_commit = Instant::now();
        let mut poll_failures = 0u32;
        let failure = self.producer.context().failure.clone();
        loop {
            let Some(batch) = self.poll_once(&mut poll_failures, &failure).await? else {
                return Ok(());
            };
            if !batch.is_empty() {
                let pending = self.send_batch(batch).await?;
                self.pending.push_back(pending);
            }
            if last_commit.elapsed() >= self.ctx.offset_flush_interval {
                self.commit_offsets().await?;
                last_commit = Instant::now();
            }
        }
    }

    /// The exactly-once loop: every record goes out in a transaction, and
    /// the transaction ends where `transaction.boundary` says.
    async fn run_transactional(&mut self) -> Result<(), TaskFailure> {
        let mut poll_failures = 0u32;
        let failure = self.producer.context().failure.clone();
        loop {
            if self.eos.as_ref().is_some_and(ExactlyOnce::interval_due) {
                self.commit_transaction().await?;
            }
            let Some(batch) = self.poll_once(&mut poll_failures, &failure).await? else {
                return Ok(());
            };
            if batch.is_empty() {
                continue;
            }
            let eos = self.eos.as_ref().expect("exactly-once loop");
            let boundary = eos.boundary;
            // The task asked for its boundaries while it polled: the batch
            // splits right after each record it named.
            let segments = match &eos.context {
                Some(ctx) => split_at_requests(batch, ctx),
                None => vec![(batch, None)],
            };
            for (segment, request) in segments {
                self.begin_transaction()?;
                let sent = self.send_batch(segment).await?;
                let eos = self.eos.as_mut().expect("exactly-once loop");
                eos.size += sent.ack.produced.load(Ordering::Acquire);
                for (partition, offset) in sent.offsets {
                    let key = offset_key(&self.ctx.id.connector, &partition);
                    eos.offsets
                        .insert(key, (Arc::unwrap_or_clone(partition), offset));
                }
                eos.acks.push(sent.ack);
                match request {
                    Some(Request::Commit) => self.commit_transaction().await?,
                    Some(Request::Abort) => self.abort_by_request().await?,
                    None => {}
                }
            }
            let eos = self.eos.as_ref().expect("exactly-once loop");
            match boundary {
                Boundary::Poll => self.commit_transaction().await?,
                Boundary::Connector => match eos.context.as_ref().and_then(|c| c.after_batch()) {
                    Some(Request::Commit) => self.commit_transaction().await?,
                    Some(Request::Abort) => self.abort_by_request().await?,
                    None => {}
                },
                Boundary::Interval(_) => {}
            }
        }
    }

    fn begin_transaction(&mut self) -> Result<(), TaskFailure> {
        let eos = self.eos.as_mut().expect("exactly-once loop");
        if eos.open {
            return Ok(());
        }
        if let Err(e) = self.producer.begin_transaction() {
            return Err(self.transaction_failed("beginning a transaction", &e));
        }
        eos.open = true;
        eos.began = Instant::now();
        eos.size = 0;
        Ok(())
    }

    /// The task asked to abort: the open transaction's records are
    /// dropped, but their offsets are committed (in a transaction of their
    /// own), so the task does not see them again, as in Java.
    async fn abort_by_request(&mut self) -> Result<(), TaskFailure> {
        let open = self.eos.as_ref().is_some_and(|e| e.open);
        if !open {
            tracing::warn!(task = %self.ctx.id, "ignoring the task's request to abort a transaction: the current transaction is empty");
            return Ok(());
        }
        tracing::info!(task = %self.ctx.id, "aborting the transaction as the task asked");
        self.abort_open().await?;
        self.metrics.record_transaction_abort();
        self.commit_transaction().await
    }

    /// Aborts the open transaction (blocking in librdkafka).
    async fn abort_open(&mut self) -> Result<(), TaskFailure> {
        let producer = self.producer.clone();
        let aborted =
            tokio::task::spawn_blocking(move || producer.abort_transaction(TRANSACTION_TIMEOUT))
                .await
                .map_err(|e| TaskFailure::new(format!("aborting a transaction panicked: {e}")))?;
        let eos = self.eos.as_mut().expect("exactly-once loop");
        eos.open = false;
        eos.size = 0;
        eos.acks.clear();
        aborted.map_err(|e| self.transaction_failed("aborting a transaction", &e))
    }

    /// Writes the offsets of the records since the last commit into the
    /// open transaction and commits it: records and offsets become visible
    /// together. Then (only then) the task hears its offsets committed.
    async fn commit_transaction(&mut self) -> Result<(), TaskFailure> {
        let eos = self.eos.as_ref().expect("exactly-once loop");
        if !eos.open && eos.offsets.is_empty() {
            return Ok(());
        }
        let started = crate::metrics::ticks_us();
        self.begin_transaction()?;
        let eos = self.eos.as_mut().expect("exactly-once loop");
        let entries: Vec<(OffsetMap, OffsetMap)> = eos.offsets.drain(..).map(|(_, v)| v).collect();
        for (partition, offset) in &entries {
            let key = offset_key(&self.ctx.id.connector, partition);
            let value = serde_json::Value::Object(offset.clone()).to_string();
            let record = BaseRecord::<[u8], [u8], Arc<BatchAck>>::with_opaque_to(
                &eos.offsets_topic,
                eos.offset_ack.clone(),
            )
            .key(key.as_bytes())
            .payload(value.as_bytes())
            .partition(java_partition(key.as_bytes(), eos.offsets_partitions));
            match send(&self.producer, &self.ctx.shutdown, record).await {
                Ok(()) => {}
                Err(SendError::Shutdown) => {
                    return Err(TaskFailure::new(
                        "shutdown while the producer queue was full",
                    ))
                }
                Err(SendError::Kafka(e)) => {
                    return Err(self.transaction_failed("writing offsets in a transaction", &e))
                }
            }
        }
        let size = eos.size;
        let producer = self.producer.clone();
        let committed = tokio::task::spawn_blocking(move || {
            // rust-rdkafka's commit_transaction flushes first, polling in
            // steps of 100 ms that the producer's own polling thread leaves
            // empty: ~100 ms per transaction, whatever its size. Waiting
            // here until the records and offsets are acknowledged (served
            // by that thread) leaves it nothing to flush.
            // A zero-timeout flush sends what lingers (linger.ms) now.
            let _ = producer.flush(Duration::ZERO);
            let deadline = std::time::Instant::now() + TRANSACTION_TIMEOUT;
            while producer.in_flight_count() > 0 && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_micros(200));
            }
            let mut attempts = 0;
            loop {
                match producer.commit_transaction(TRANSACTION_TIMEOUT) {
                    Err(KafkaError::Transaction(e)) if e.is_retriable() && attempts < 5 => {
                        attempts += 1;
                    }
                    other => return other,
                }
            }
        })
        .await
        .map_err(|e| TaskFailure::new(format!("committing a transaction panicked: {e}")))?;
        let took = crate::metrics::ticks_us().saturating_sub(started);
        match committed {
            Ok(()) => {
                let eos = self.eos.as_mut().expect("exactly-once loop");
                eos.open = false;
                eos.acks.clear();
                eos.size = 0;
                self.metrics.record_commit(true, took);
                self.metrics.record_transaction(size);
                self.store.remember(&self.ctx.id.connector, &entries);
                tracing::debug!(task = %self.ctx.id, records = size, partitions = entries.len(), "committed a transaction");
                self.task.commit(&entries).await?;
                Ok(())
            }
            Err(e) => {
                self.metrics.record_commit(false, took);
                let failure = self.transaction_failed("committing a transaction", &e);
                if failure.end != TaskEnd::Fenced {
                    // Best effort: the transaction may be aborted already.
                    let _ = self.abort_open().await;
                }
                Err(failure)
            }
        }
    }

    /// What a failed transactional call means for the task: fenced by a
    /// newer run (stop quietly), aborted (start again from the committed
    /// offsets), or a failure, naming a record that could not be written.
    fn transaction_failed(&self, action: &str, e: &KafkaError) -> TaskFailure {
        let id = &self.ctx.id;
        let delivery = self
            .eos
            .as_ref()
            .and_then(|eos| eos.acks.iter().find_map(|a| a.error()));
        match classify(e, self.producer.client().fatal_error()) {
            TxnFailure::Fenced(reason) => self.fenced(action, &reason),
            _ if delivery.is_some() => TaskFailure::new(format!(
                "task {id} failed: a record of its transaction could not be delivered to Kafka, so the transaction was aborted: {}",
                delivery.unwrap_or_default()
            )),
            TxnFailure::Aborted(reason) => TaskFailure::restart(format!(
                "task {id}: the transaction was aborted while {action} ({reason}); none of its records is visible, and the task starts again from the last committed offsets. \
                 If this repeats, the transaction may be timing out: raise producer.override.transaction.timeout.ms, or use transaction.boundary=poll"
            )),
            TxnFailure::Fatal(reason) => {
                TaskFailure::new(format!("task {id} failed while {action}: {reason}"))
            }
        }
    }

    /// The producer was fenced: by a newer run of the task (stop
    /// quietly), or, when the transaction outlived `transaction.timeout.ms`,
    /// by the broker aborting it, which bumps the producer's epoch just the
    /// same (start again from the committed offsets, saying why).
    fn fenced(&self, action: &str, reason: &str) -> TaskFailure {
        let id = &self.ctx.id;
        let expired = self
            .eos
            .as_ref()
            .filter(|eos| eos.open && eos.began.elapsed() >= eos.timeout);
        match expired {
            Some(eos) => TaskFailure::restart(format!(
                "task {id} was unable to finish writing records to Kafka before its producer transaction expired \
                 (open for more than transaction.timeout.ms = {} ms); the transaction was aborted, none of its records is visible, \
                 and the task starts again from the last committed offsets. If this repeats: raise producer.override.transaction.timeout.ms, \
                 shorten transaction.boundary.interval.ms, or use transaction.boundary=poll ({reason})",
                eos.timeout.as_millis()
            )),
            None => TaskFailure::fenced(format!(
                "task {id} was fenced out while {action}: another run of it (transactional id {}) took over: {reason}",
                self.transactional_id()
            )),
        }
    }

    fn transactional_id(&self) -> String {
        self.producer
            .context()
            .transactional_id
            .clone()
            .unwrap_or_default()
    }

    /// After the loop: a graceful stop commits the open transaction
    /// (unless the connector draws its own boundaries and asked for none);
    /// a failed loop aborts it. A fenced loop touches nothing.
    async fn finish_transactional(
        &mut self,
        result: Result<(), TaskFailure>,
    ) -> Result<(), TaskFailure> {
        let fenced = |f: &TaskFailure| f.end == TaskEnd::Fenced;
        match result {
            Ok(()) => {
                let eos = self.eos.as_ref().expect("exactly-once loop");
                let commit = match eos.boundary {
                    Boundary::Connector => eos
                        .context
                        .as_ref()
                        .and_then(|c| c.after_batch())
                        .is_some_and(|r| r == Request::Commit),
                    _ => true,
                };
                if commit {
                    return self.commit_transaction().await;
                }
                if eos.open {
                    self.abort_open().await?;
                }
                Ok(())
            }
            Err(f) if fenced(&f) => Err(f),
            Err(f) => {
                // A fatal error may hide fencing (librdkafka reports it
                // on the producer, not on the call that failed).
                if let Some((code, reason)) = self.producer.client().fatal_error() {
                    if is_fencing(code) {
                        return Err(self.fenced("producing", &reason));
                    }
                }
                if self.eos.as_ref().is_some_and(|e| e.open) {
                    let _ = self.abort_open().await;
                }
                Err(f)
            }
        }
    }

    async fn send_batch(&mut self, batch: Vec<SourceRecord>) -> Result<PendingBatch, TaskFailure> {
        let ack = Arc::new(BatchAck::default());
        // The batch's records, plus the loop's own hold until all are sent.
        ack.remaining.store(batch.len() + 1, Ordering::Release);
        let mut offsets: Vec<(Arc<OffsetMap>, OffsetMap)> = Vec::new();
        let count = batch.len();
        let mut skipped = 0;
        for (i, rec) in batch.into_iter().enumerate() {
            let SourceRecord {
                record,
                source_partition,
                source_offset,
            } = rec;
            match self
                .send_one(record, &source_partition, &source_offset, &ack)
                .await
            {
                Ok(Sent::Produced) => {}
                Ok(Sent::Skipped) => skipped += 1,
                Err(e) => {
                    // This record and those after it never reached the
                    // producer; the loop lets go of the batch too.
                    ack.produced.store(i - skipped, Ordering::Release);
                    self.metrics
                        .record_sent(i - skipped, crate::metrics::ticks_us());
                    ack.release(count - i + skipped + 1, Some(&self.metrics));
                    return Err(e);
                }
            }
            if !source_partition.is_empty() || !source_offset.is_empty() {
                match offsets
                    .iter_mut()
                    .rev()
                    .find(|(p, _)| Arc::ptr_eq(p, &source_partition) || *p == source_partition)
                {
                    Some(last) => last.1 = source_offset,
                    None => offsets.push((source_partition, source_offset)),
                }
            }
        }
        let produced = count - skipped;
        ack.produced.store(produced, Ordering::Release);
        self.metrics
            .record_sent(produced, crate::metrics::ticks_us());
        ack.release(skipped + 1, Some(&self.metrics));
        self.polled += count as u64;
        Ok(PendingBatch { ack, offsets })
    }

    /// Transforms, converts and produces one record.
    async fn send_one(
        &mut self,
        record: ConnectRecord,
        partition: &OffsetMap,
        offset: &OffsetMap,
        ack: &Arc<BatchAck>,
    ) -> Result<Sent, TaskFailure> {
        // Kept only when errors.log.include.messages asks for it.
        let original = self.errors.keeps_source_records().then(|| record.clone());
        let record = match &self.transforms {
            None => record,
            Some(chain) => match chain.apply(record) {
                Ok(Some(r)) => r,
                Ok(None) => return Ok(Sent::Skipped),
                Err(e) => {
                    let class = self.errors.transform_class(&e.message).to_owned();
                    let error = StageError::data(transform_message(&e.message));
                    let id = &self.ctx.id;
                    self.errors
                        .failed(
                            Stage::Transformation,
                            &class,
                            &error,
                            ErrantRecord::Source {
                                partition,
                                offset,
                                record: original.as_ref(),
                            },
                            &self.ctx.shutdown,
                            || {
                                format!(
                                    "task {id} failed transforming a record (source partition {partition:?}, offset {offset:?})"
                                )
                            },
                        )
                        .await?;
                    return Ok(Sent::Skipped);
                }
            },
        };
        let r = &record;
        if let Some(topics) = &mut self.topics {
            topics.ensure(&r.topic).await?;
        }
        let key =
            match self
                .ctx
                .key_converter
                .from_connect_ref(&r.topic, r.key_schema.as_ref(), &r.key)
            {
                Ok(k) => k,
                Err(e) => {
                    let converter = self.ctx.key_converter.clone();
                    let retried = self
                        .errors
                        .operator()
                        .retry(e, &self.ctx.shutdown, || {
                            converter.from_connect_ref(&r.topic, r.key_schema.as_ref(), &r.key)
                        })
                        .await;
                    match retried {
                        Ok(k) => k,
                        Err(e) => {
                            self.conversion_failed(
                                Stage::KeyConverter,
                                r,
                                &e,
                                partition,
                                offset,
                                original.as_ref(),
                            )
                            .await?;
                            return Ok(Sent::Skipped);
                        }
                    }
                }
            };
        let value = match self.ctx.value_converter.from_connect_ref(
            &r.topic,
            r.value_schema.as_ref(),
            &r.value,
        ) {
            Ok(v) => v,
            Err(e) => {
                let converter = self.ctx.value_converter.clone();
                let retried = self
                    .errors
                    .operator()
                    .retry(e, &self.ctx.shutdown, || {
                        converter.from_connect_ref(&r.topic, r.value_schema.as_ref(), &r.value)
                    })
                    .await;
                match retried {
                    Ok(v) => v,
                    Err(e) => {
                        self.conversion_failed(
                            Stage::ValueConverter,
                            r,
                            &e,
                            partition,
                            offset,
                            original.as_ref(),
                        )
                        .await?;
                        return Ok(Sent::Skipped);
                    }
                }
            }
        };
        let headers = (!r.headers.is_empty()).then(|| {
            r.headers.iter().fold(OwnedHeaders::new(), |hs, h| {
                let bytes = header_bytes(h);
                hs.insert(KafkaHeader {
                    key: &h.key,
                    value: bytes.as_deref(),
                })
            })
        });
        let mut out =
            BaseRecord::<[u8], [u8], Arc<BatchAck>>::with_opaque_to(&r.topic, ack.clone());
        if let Some(k) = key.as_deref() {
            out = out.key(k);
        }
        if let Some(v) = value.as_deref() {
            out = out.payload(v);
        }
        if let Some(p) = r.kafka_partition {
            out = out.partition(p);
        }
        if let Some(ts) = r.timestamp {
            out = out.timestamp(ts);
        }
        if let Some(h) = headers {
            out = out.headers(h);
        }
        match send(&self.producer, &self.ctx.shutdown, out).await {
            Ok(()) => Ok(Sent::Produced),
            Err(SendError::Shutdown) => Err(TaskFailure::new(
                "shutdown while the producer queue was full",
            )),
            Err(SendError::Kafka(e)) => {
                let error = StageError {
                    exception_class: CONNECT_EXCEPTION,
                    message: e.to_string(),
                    retriable: false,
                };
                let id = &self.ctx.id;
                let topic = &r.topic;
                self.errors
                    .failed(
                        Stage::KafkaProduce,
                        PRODUCER_CLASS,
                        &error,
                        ErrantRecord::Source {
                            partition,
                            offset,
                            record: original.as_ref(),
                        },
                        &self.ctx.shutdown,
                        || format!("task {id} failed to send a record to topic {topic}"),
                    )
                    .await?;
                Ok(Sent::Skipped)
            }
        }
    }

    /// A conversion failed for good: skipped under tolerance, else the
    /// task's failure naming the record.
    async fn conversion_failed(
        &mut self,
        stage: Stage,
        record: &ConnectRecord,
        e: &crate::connect::ConverterError,
        partition: &OffsetMap,
        offset: &OffsetMap,
        original: Option<&ConnectRecord>,
    ) -> Result<(), TaskFailure> {
        let what = if stage == Stage::KeyConverter {
            "key"
        } else {
            "value"
        };
        let class = self.errors.converter_class(stage).to_owned();
        let id = &self.ctx.id;
        let topic = &record.topic;
        self.errors
            .failed(
                stage,
                &class,
                &StageError::from(e),
                ErrantRecord::Source {
                    partition,
                    offset,
                    record: original,
                },
                &self.ctx.shutdown,
                || {
                    format!(
                        "task {id} failed converting the {what} of a record for topic {topic} (source partition {partition:?}, offset {offset:?})"
                    )
                },
            )
            .await
    }

    /// Moves acknowledged batches (in order) into the committable set, and
    /// writes it to the offset store. A failed delivery fails the task.
    async fn commit_offsets(&mut self) -> Result<(), TaskFailure> {
        while let Some(front) = self.pending.front() {
            if !front.ack.done() {
                break;
            }
            if let Some(err) = front.ack.error() {
                return Err(TaskFailure::new(format!(
                    "task {} failed: a record could not be delivered to Kafka: {err}",
                    self.ctx.id
                )));
            }
            let batch = self.pending.pop_front().expect("front exists");
            for (partition, offset) in batch.offsets {
                let key = offset_key(&self.ctx.id.connector, &partition);
                self.committable
                    .insert(key, (Arc::unwrap_or_clone(partition), offset));
            }
        }
        if self.committable.is_empty() {
            return Ok(());
        }
        let entries: Vec<(OffsetMap, OffsetMap)> =
            self.committable.drain(..).map(|(_, v)| v).collect();
        let started = crate::metrics::ticks_us();
        let result = self.write_offsets(entries).await;
        self.metrics.record_commit(
            result.is_ok(),
            crate::metrics::ticks_us().saturating_sub(started),
        );
        result
    }

    /// Writes committable offsets to the store, then tells the task.
    async fn write_offsets(
        &mut self,
        entries: Vec<(OffsetMap, OffsetMap)>,
    ) -> Result<(), TaskFailure> {
        let store = self.store.clone();
        let connector = self.ctx.id.connector.clone();
        let n = entries.len();
        let entries = tokio::task::spawn_blocking(move || {
            store.commit(&connector, &entries).map(|()| entries)
        })
        .await
        .map_err(|e| TaskFailure::new(format!("offset commit panicked: {e}")))?
        .map_err(|e| TaskFailure::new(format!("offset commit failed: {e}")))?;
        tracing::debug!(task = %self.ctx.id, partitions = n, records = self.polled, "committed source offsets");
        // Only now may the task acknowledge these positions upstream.
        self.task.commit(&entries).await?;
        Ok(())
    }

    /// Waits (up to `offset.flush.timeout.ms`) for outstanding records, then
    /// commits the offsets of everything acknowledged.
    async fn finish(&mut self) -> Result<(), TaskFailure> {
        let producer = self.producer.clone();
        let timeout = self.ctx.offset_flush_timeout;
        let flushed = tokio::task::spawn_blocking(move || producer.flush(timeout)).await;
        if let Ok(Err(e)) = flushed {
            tracing::warn!(task = %self.ctx.id, error = %e, "not every record was acknowledged before the flush timeout; their offsets stay uncommitted");
        }
        self.commit_offsets().await
    }
}

/// Why a record could not be handed to librdkafka.
enum SendError {
    Shutdown,
    Kafka(KafkaError),
}

/// Hands a record to librdkafka, waiting while its queue is full.
async fn send(
    producer: &SourceProducer,
    shutdown: &tokio_util::sync::CancellationToken,
    mut record: BaseRecord<'_, [u8], [u8], Arc<BatchAck>>,
) -> Result<(), SendError> {
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                record = r;
                tokio::time::sleep(Duration::from_millis(2)).await;
                if shutdown.is_cancelled() {
                    return Err(SendError::Shutdown);
                }
            }
            Err((e, _)) => return Err(SendError::Kafka(e)),
        }
    }
}

/// Splits a batch right after each record the task asked to commit or
/// abort after; the last segment carries no request.
fn split_at_requests(
    batch: Vec<SourceRecord>,
    ctx: &WorkerTransactionContext,
) -> Vec<(Vec<SourceRecord>, Option<Request>)> {
    let mut segments = Vec::new();
    let mut current = Vec::new();
    for record in batch {
        let request = ctx.after_record(&record);
        current.push(record);
        if request.is_some() {
            segments.push((std::mem::take(&mut current), request));
        }
    }
    if !current.is_empty() {
        segments.push((current, None));
    }
    segments
}
