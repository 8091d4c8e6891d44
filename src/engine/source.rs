//! The source task loop: poll → convert → produce, and commit source
//! offsets only for records Kafka has acknowledged.
//!
//! Acknowledgements are counted per poll batch, not per record: every record
//! of a batch shares one `BatchAck`, and a batch's offsets become committable
//! once its count reaches zero and every batch before it is done too.

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

use super::task::{header_bytes, TaskContext, TaskFailure};
use crate::connect::{OffsetMap, SourceRecord, SourceTask};
use crate::storage::offsets::{offset_key, OffsetStore};

/// Delivery bookkeeping for one poll batch.
#[derive(Default)]
pub struct BatchAck {
    remaining: AtomicUsize,
    error: Mutex<Option<String>>,
}

impl BatchAck {
    fn done(&self) -> bool {
        self.remaining.load(Ordering::Acquire) == 0
    }

    fn error(&self) -> Option<String> {
        self.error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Producer context whose delivery callback counts a batch down.
pub struct AckContext;

impl ClientContext for AckContext {}

impl ProducerContext for AckContext {
    type DeliveryOpaque = Arc<BatchAck>;

    fn delivery(&self, result: &DeliveryResult<'_>, ack: Arc<BatchAck>) {
        if let Err((e, _)) = result {
            let mut slot = ack.error.lock().unwrap_or_else(PoisonError::into_inner);
            slot.get_or_insert_with(|| e.to_string());
        }
        ack.remaining.fetch_sub(1, Ordering::AcqRel);
    }
}

pub type SourceProducer = ThreadedProducer<AckContext>;

struct PendingBatch {
    ack: Arc<BatchAck>,
    /// The last offset of each source partition in this batch. Batches
    /// hold few partitions, so a scan beats hashing a key per record.
    offsets: Vec<(OffsetMap, OffsetMap)>,
}

/// Runs one source task until shutdown or failure.
pub struct SourceTaskRunner {
    ctx: TaskContext,
    task: Box<dyn SourceTask>,
    producer: SourceProducer,
    store: Arc<dyn OffsetStore>,
    pending: VecDeque<PendingBatch>,
    committable: IndexMap<String, (OffsetMap, OffsetMap)>,
    polled: u64,
}

impl SourceTaskRunner {
    pub fn new(
        ctx: TaskContext,
        task: Box<dyn SourceTask>,
        producer: SourceProducer,
        store: Arc<dyn OffsetStore>,
    ) -> Self {
        SourceTaskRunner {
            ctx,
            task,
            producer,
            store,
            pending: VecDeque::new(),
            committable: IndexMap::new(),
            polled: 0,
        }
    }

    /// The task's loop. Returns `Ok` after a graceful stop.
    pub async fn run(mut self) -> Result<(), TaskFailure> {
        let result = self.run_loop().await;
        // Whatever happened, commit what Kafka acknowledged.
        let flushed = self.finish().await;
        if let Err(e) = self.task.stop().await {
            tracing::warn!(task = %self.ctx.id, error = %e, "source task stop failed");
        }
        result.and(flushed)
    }

    async fn run_loop(&mut self) -> Result<(), TaskFailure> {
        let mut last_commit = Instant::now();
        loop {
            let batch = tokio::select! {
                biased;
                _ = self.ctx.shutdown.cancelled() => return Ok(()),
                batch = self.task.poll() => batch?,
            };
            if !batch.is_empty() {
                self.send_batch(batch).await?;
            }
            if last_commit.elapsed() >= self.ctx.offset_flush_interval {
                self.commit_offsets().await?;
                last_commit = Instant::now();
            }
        }
    }

    async fn send_batch(&mut self, batch: Vec<SourceRecord>) -> Result<(), TaskFailure> {
        let ack = Arc::new(BatchAck::default());
        ack.remaining.store(batch.len(), Ordering::Release);
        let mut offsets: Vec<(OffsetMap, OffsetMap)> = Vec::new();
        let count = batch.len();
        for (i, rec) in batch.into_iter().enumerate() {
            let r = &rec.record;
            let key = self
                .ctx
                .key_converter
                .from_connect(&r.topic, r.key_schema.as_ref(), &r.key)
                .map_err(|e| self.conversion_failure("key", &rec, e))?;
            let value = self
                .ctx
                .value_converter
                .from_connect(&r.topic, r.value_schema.as_ref(), &r.value)
                .map_err(|e| self.conversion_failure("value", &rec, e))?;
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
            if let Err(e) = send(&self.producer, &self.ctx.shutdown, out).await {
                // Records after this one were never handed to the producer.
                ack.remaining.fetch_sub(count - i, Ordering::AcqRel);
                return Err(e);
            }
            if !rec.source_partition.is_empty() || !rec.source_offset.is_empty() {
                match offsets
                    .iter_mut()
                    .rev()
                    .find(|(p, _)| *p == rec.source_partition)
                {
                    Some(last) => last.1 = rec.source_offset,
                    None => offsets.push((rec.source_partition, rec.source_offset)),
                }
            }
        }
        self.polled += count as u64;
        self.pending.push_back(PendingBatch { ack, offsets });
        Ok(())
    }

    fn conversion_failure(
        &self,
        what: &str,
        rec: &SourceRecord,
        e: crate::connect::ConverterError,
    ) -> TaskFailure {
        TaskFailure::new(format!(
            "task {} failed converting the {what} of a record for topic {} (source partition {:?}, offset {:?}): {e}",
            self.ctx.id,
            rec.record.topic,
            rec.source_partition,
            rec.source_offset
        ))
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
                self.committable.insert(key, (partition, offset));
            }
        }
        if self.committable.is_empty() {
            return Ok(());
        }
        let entries: Vec<(OffsetMap, OffsetMap)> =
            self.committable.drain(..).map(|(_, v)| v).collect();
        let store = self.store.clone();
        let connector = self.ctx.id.connector.clone();
        let n = entries.len();
        tokio::task::spawn_blocking(move || store.commit(&connector, &entries))
            .await
            .map_err(|e| TaskFailure::new(format!("offset commit panicked: {e}")))?
            .map_err(|e| TaskFailure::new(format!("offset commit failed: {e}")))?;
        tracing::debug!(task = %self.ctx.id, partitions = n, records = self.polled, "committed source offsets");
        self.task.commit().await?;
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

/// Hands a record to librdkafka, waiting while its queue is full.
async fn send(
    producer: &SourceProducer,
    shutdown: &tokio_util::sync::CancellationToken,
    mut record: BaseRecord<'_, [u8], [u8], Arc<BatchAck>>,
) -> Result<(), TaskFailure> {
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                record = r;
                tokio::time::sleep(Duration::from_millis(2)).await;
                if shutdown.is_cancelled() {
                    return Err(TaskFailure::new(
                        "shutdown while the producer queue was full",
                    ));
                }
            }
            Err((e, r)) => {
                return Err(TaskFailure::new(format!(
                    "failed to send a record to topic {}: {e}",
                    r.topic
                )))
            }
        }
    }
}
