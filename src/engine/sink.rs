//! The sink task loop: consume in group `connect-<connector>`, convert,
//! `put`, and commit consumer offsets only for what the task's
//! `pre_commit` (flush) declared safe — at-least-once, nothing lost.
//!
//! Offsets are stored per batch (`enable.auto.offset.store=false` +
//! `store_offsets`) and committed on the flush interval, synchronously on
//! partition revocation (cooperative-sticky, incremental) and on shutdown.

use std::collections::HashSet;
use std::sync::Arc;

use futures::StreamExt;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::task::{header_from_bytes, TaskContext, TaskFailure};
use crate::connect::{ConnectRecord, SinkOffsets, SinkRecord, SinkTask, TopicPartition};

/// Most records handed to one `put`.
const MAX_BATCH: usize = 2000;

/// Partition changes seen by the consumer's rebalance callback.
#[derive(Debug)]
pub enum RebalanceEvent {
    Assigned(Vec<TopicPartition>),
    Revoked(Vec<TopicPartition>),
}

/// Consumer context that commits the flushed offsets synchronously before
/// partitions are given away, and tells the loop what changed.
pub struct SinkContext {
    task: String,
    events: mpsc::UnboundedSender<RebalanceEvent>,
}

impl SinkContext {
    pub fn new(task: String) -> (SinkContext, mpsc::UnboundedReceiver<RebalanceEvent>) {
        let (events, rx) = mpsc::unbounded_channel();
        (SinkContext { task, events }, rx)
    }
}

fn partitions(tpl: &TopicPartitionList) -> Vec<TopicPartition> {
    tpl.elements()
        .iter()
        .map(|e| TopicPartition::new(e.topic(), e.partition()))
        .collect()
}

impl ClientContext for SinkContext {}

impl ConsumerContext for SinkContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            match consumer.commit_consumer_state(CommitMode::Sync) {
                Ok(()) => {}
                Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
                Err(e) => tracing::warn!(task = %self.task, error = %e, "commit on revoke failed"),
            }
            let _ = self.events.send(RebalanceEvent::Revoked(partitions(tpl)));
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            let _ = self.events.send(RebalanceEvent::Assigned(partitions(tpl)));
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
}

impl SinkTaskRunner {
    pub fn new(
        ctx: TaskContext,
        task: Box<dyn SinkTask>,
        consumer: SinkConsumer,
        events: mpsc::UnboundedReceiver<RebalanceEvent>,
    ) -> Self {
        SinkTaskRunner {
            ctx,
            task,
            consumer: Arc::new(consumer),
            events,
            assigned: HashSet::new(),
            consumed: SinkOffsets::new(),
            committed: SinkOffsets::new(),
        }
    }

    pub async fn run(mut self) -> Result<(), TaskFailure> {
        let result = self.run_loop().await;
        // On failure, commit only what the task had flushed before; never
        // commit past a batch that failed.
        let committed = if result.is_ok() {
            self.commit(CommitMode::Sync).await
        } else {
            Ok(())
        };
        if let Err(e) = self.task.stop().await {
            tracing::warn!(task = %self.ctx.id, error = %e, "sink task stop failed");
        }
        self.consumer.unsubscribe();
        result.and(committed)
    }

    async fn run_loop(&mut self) -> Result<(), TaskFailure> {
        let consumer = self.consumer.clone();
        let mut stream = consumer.stream().ready_chunks(MAX_BATCH);
        let mut next_commit = Instant::now() + self.ctx.offset_flush_interval;
        loop {
            tokio::select! {
                biased;
                _ = self.ctx.shutdown.cancelled() => return Ok(()),
                Some(event) = self.events.recv() => self.on_rebalance(event).await?,
                _ = tokio::time::sleep_until(next_commit) => {
                    self.commit(CommitMode::Async).await?;
                    next_commit = Instant::now() + self.ctx.offset_flush_interval;
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
                self.task.open(&tps).await?;
            }
            RebalanceEvent::Revoked(tps) => {
                tracing::info!(task = %self.ctx.id, partitions = ?tps, "partitions revoked");
                for tp in &tps {
                    self.assigned.remove(tp);
                    self.consumed.remove(tp);
                    self.committed.remove(tp);
                }
                self.task.close(&tps).await?;
            }
        }
        Ok(())
    }

    async fn deliver(
        &mut self,
        chunk: Vec<Result<BorrowedMessage<'_>, KafkaError>>,
    ) -> Result<(), TaskFailure> {
        let mut records = Vec::with_capacity(chunk.len());
        for msg in chunk {
            let msg = msg.map_err(|e| TaskFailure::new(format!("consumer error: {e}")))?;
            records.push(self.convert(&msg)?);
        }
        // Track before put moves the records; only committed after pre_commit.
        let positions: Vec<(TopicPartition, i64)> = records
            .iter()
            .map(|r| {
                (
                    TopicPartition::new(r.record.topic.clone(), r.kafka_partition),
                    r.kafka_offset + 1,
                )
            })
            .collect();
        self.task.put(records).await.map_err(|e| {
            TaskFailure::new(format!("task {} threw an error in put: {e}", self.ctx.id))
        })?;
        for (tp, next) in positions {
            self.consumed.insert(tp, next);
        }
        Ok(())
    }

    fn convert(&self, msg: &BorrowedMessage<'_>) -> Result<SinkRecord, TaskFailure> {
        let topic = msg.topic();
        let fail = |what: &str, e: crate::connect::ConverterError| {
            TaskFailure::new(format!(
                "task {} failed converting the {what} of the record at {topic}-{} offset {}: {e}",
                self.ctx.id,
                msg.partition(),
                msg.offset()
            ))
        };
        let key = self
            .ctx
            .key_converter
            .to_connect(topic, msg.key())
            .map_err(|e| fail("key", e))?;
        let value = self
            .ctx
            .value_converter
            .to_connect(topic, msg.payload())
            .map_err(|e| fail("value", e))?;
        let headers = msg
            .headers()
            .map(|hs| {
                hs.iter()
                    .map(|h| header_from_bytes(h.key, h.value))
                    .collect()
            })
            .unwrap_or_default();
        Ok(SinkRecord {
            record: ConnectRecord {
                topic: topic.to_owned(),
                kafka_partition: Some(msg.partition()),
                key_schema: key.schema,
                key: key.value,
                value_schema: value.schema,
                value: value.value,
                timestamp: msg.timestamp().to_millis(),
                headers,
            },
            kafka_partition: msg.partition(),
            kafka_offset: msg.offset(),
        })
    }

    /// Asks the task what is safe (flushing it), stores those offsets and
    /// commits them.
    async fn commit(&mut self, mode: CommitMode) -> Result<(), TaskFailure> {
        if self.consumed.is_empty() {
            return Ok(());
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
            return Ok(());
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
        } else {
            tracing::debug!(task = %self.ctx.id, "committed consumer offsets");
            // An async commit may still fail later; the synchronous commit at
            // shutdown and on revoke commits everything regardless.
            self.committed.extend(safe);
        }
        Ok(())
    }
}
