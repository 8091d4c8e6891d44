//! A sink's dead letter queue, like Java's `DeadLetterQueueReporter`: the
//! original record's raw key, value, headers and timestamp go to
//! `errors.deadletterqueue.topic.name`, with `__connect.errors.*` context
//! headers when `errors.deadletterqueue.context.headers.enable=true`.
//!
//! Deliveries are counted, not tracked per record: before the sink commits
//! consumer offsets it waits until nothing sent to the queue is still
//! unacknowledged ([`DeadLetterQueue::acknowledged`]), so a record is never
//! committed before its copy in the dead letter queue is safe.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;
use tokio_util::sync::CancellationToken;

use super::kafka::{admin_config, producer_config, with_statistics};
use super::metrics::{task_metrics, ClientStatsHandle, TaskMetrics};
use super::stage::{Stage, StageError};
use super::task::{TaskFailure, TaskId};
use super::topic_creation::{create_topic, NewTopicSpec};
use crate::connect::{ConnectorKind, Props};

/// Java's `DeadLetterQueueReporter` header names.
pub const ERROR_HEADER_PREFIX: &str = "__connect.errors.";
pub const ERROR_HEADER_ORIG_TOPIC: &str = "__connect.errors.topic";
pub const ERROR_HEADER_ORIG_PARTITION: &str = "__connect.errors.partition";
pub const ERROR_HEADER_ORIG_OFFSET: &str = "__connect.errors.offset";
pub const ERROR_HEADER_CONNECTOR_NAME: &str = "__connect.errors.connector.name";
pub const ERROR_HEADER_TASK_ID: &str = "__connect.errors.task.id";
pub const ERROR_HEADER_STAGE: &str = "__connect.errors.stage";
pub const ERROR_HEADER_EXECUTING_CLASS: &str = "__connect.errors.class.name";
pub const ERROR_HEADER_EXCEPTION: &str = "__connect.errors.exception.class.name";
pub const ERROR_HEADER_EXCEPTION_MESSAGE: &str = "__connect.errors.exception.message";
pub const ERROR_HEADER_EXCEPTION_STACK_TRACE: &str = "__connect.errors.exception.stacktrace";

/// `errors.deadletterqueue.*`.
#[derive(Debug, Clone, PartialEq)]
pub struct DlqConfig {
    pub topic: String,
    /// `-1`: the broker's default.
    pub replication_factor: i32,
    pub context_headers: bool,
}

/// Java creates the queue's topic with one partition.
const DLQ_PARTITIONS: i32 = 1;

#[derive(Default)]
struct DlqState {
    in_flight: AtomicUsize,
    error: Mutex<Option<String>>,
}

/// Producer context counting the queue's outstanding deliveries.
pub struct DlqContext {
    state: Arc<DlqState>,
    /// Failed deliveries count as `deadletterqueue-produce-failures`.
    metrics: Arc<TaskMetrics>,
    stats: ClientStatsHandle,
}

impl ClientContext for DlqContext {
    /// librdkafka's statistics: the queue producer's `kafka_producer_*`.
    fn stats_raw(&self, statistics: &[u8]) {
        self.stats.record(statistics);
    }
}

impl ProducerContext for DlqContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            self.metrics.errors.dlq_failure();
            let mut slot = self
                .state
                .error
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            slot.get_or_insert_with(|| e.to_string());
        }
        self.state.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The dead letter queue of one sink task.
pub struct DeadLetterQueue {
    topic: String,
    context_headers: bool,
    connector: String,
    task: String,
    producer: ThreadedProducer<DlqContext>,
    state: Arc<DlqState>,
}

impl DeadLetterQueue {
    /// Creates the topic when missing (one partition, the configured
    /// replication factor; skipped on a cluster that cannot create topics,
    /// `create_topic` false) and the queue's producer (worker `producer.*`,
    /// connector `producer.override.*`, client id
    /// `connector-dlq-producer-<task>` as in Java).
    pub async fn open(
        bootstrap: &str,
        worker_props: &Props,
        connector_props: &Props,
        id: &TaskId,
        config: &DlqConfig,
        create: bool,
    ) -> Result<DeadLetterQueue, TaskFailure> {
        if create {
            let admin = admin_config(bootstrap, worker_props, connector_props)
                .map_err(|e| TaskFailure::new(e.to_string()))?;
            let spec = NewTopicSpec {
                name: config.topic.clone(),
                partitions: DLQ_PARTITIONS,
                replication_factor: config.replication_factor,
                configs: Vec::new(),
            };
            create_topic(&admin, &spec).await.map_err(|e| {
                TaskFailure::new(format!(
                    "Could not initialize dead letter queue with topic={}: {e}",
                    config.topic
                ))
            })?;
        }
        let mut cfg = with_statistics(
            producer_config(bootstrap, worker_props, connector_props, &id.connector)
                .map_err(|e| TaskFailure::new(e.to_string()))?,
        );
        cfg.set("client.id", format!("connector-dlq-producer-{id}"));
        let state = Arc::new(DlqState::default());
        let producer: ThreadedProducer<DlqContext> = cfg
            .create_with_context(DlqContext {
                state: state.clone(),
                metrics: task_metrics(id, ConnectorKind::Sink),
                stats: ClientStatsHandle::default(),
            })
            .map_err(|e| {
                TaskFailure::new(format!(
                    "Could not create the dead letter queue producer for topic={}: {e}",
                    config.topic
                ))
            })?;
        tracing::info!(task = %id, topic = %config.topic, "dead letter queue ready");
        Ok(DeadLetterQueue {
            topic: config.topic.clone(),
            context_headers: config.context_headers,
            connector: id.connector.clone(),
            task: id.task.to_string(),
            producer,
            state,
        })
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Records handed to the producer and not yet acknowledged.
    pub fn pending(&self) -> usize {
        self.state.in_flight.load(Ordering::Acquire)
    }

    /// Sends the original record to the queue (without waiting for Kafka).
    pub async fn report(
        &self,
        msg: &BorrowedMessage<'_>,
        stage: Stage,
        class: &str,
        error: &StageError,
        shutdown: &CancellationToken,
    ) -> Result<(), TaskFailure> {
        let original = msg.headers().map(|h| h.detach());
        let headers = if self.context_headers {
            Some(context_headers(
                original,
                msg.topic(),
                msg.partition(),
                msg.offset(),
                &self.connector,
                &self.task,
                stage,
                class,
                error,
            ))
        } else {
            original
        };
        let mut record = BaseRecord::<[u8], [u8], ()>::to(&self.topic);
        if let Some(k) = msg.key() {
            record = record.key(k);
        }
        if let Some(v) = msg.payload() {
            record = record.payload(v);
        }
        if let Some(ts) = msg.timestamp().to_millis() {
            record = record.timestamp(ts);
        }
        if let Some(h) = headers {
            record = record.headers(h);
        }
        self.state.in_flight.fetch_add(1, Ordering::AcqRel);
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    if shutdown.is_cancelled() {
                        self.state.in_flight.fetch_sub(1, Ordering::AcqRel);
                        return Err(TaskFailure::new(
                            "shutdown while the dead letter queue producer's queue was full",
                        ));
                    }
                }
                Err((e, _)) => {
                    self.state.in_flight.fetch_sub(1, Ordering::AcqRel);
                    return Err(TaskFailure::new(format!(
                        "Could not produce message to dead letter queue. topic={}: {e}",
                        self.topic
                    )));
                }
            }
        }
    }

    /// Waits up to `timeout` until every record reported so far is
    /// acknowledged: `Ok(true)` then, `Ok(false)` on timeout; a failed
    /// delivery fails the task (the record must not be committed).
    pub async fn acknowledged(&self, timeout: Duration) -> Result<bool, TaskFailure> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut pause = Duration::from_millis(1);
        loop {
            if let Some(e) = self
                .state
                .error
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
            {
                return Err(TaskFailure::new(format!(
                    "Could not produce message to dead letter queue. topic={}: {e}",
                    self.topic
                )));
            }
            if self.pending() == 0 {
                return Ok(true);
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }
}

/// The original headers plus Java's error context headers; a key the
/// record already has is not added twice (Java logs and skips it).
#[allow(clippy::too_many_arguments)]
pub fn context_headers(
    original: Option<OwnedHeaders>,
    topic: &str,
    partition: i32,
    offset: i64,
    connector: &str,
    task: &str,
    stage: Stage,
    class: &str,
    error: &StageError,
) -> OwnedHeaders {
    let mut headers = original.unwrap_or_else(|| OwnedHeaders::new_with_capacity(10));
    let partition = partition.to_string();
    let offset = offset.to_string();
    let trace = format!("{}: {}\n", error.exception_class, error.message);
    let context: [(&str, &str); 10] = [
        (ERROR_HEADER_ORIG_TOPIC, topic),
        (ERROR_HEADER_ORIG_PARTITION, &partition),
        (ERROR_HEADER_ORIG_OFFSET, &offset),
        (ERROR_HEADER_CONNECTOR_NAME, connector),
        (ERROR_HEADER_TASK_ID, task),
        (ERROR_HEADER_STAGE, stage.name()),
        (ERROR_HEADER_EXECUTING_CLASS, class),
        (ERROR_HEADER_EXCEPTION, error.exception_class),
        (ERROR_HEADER_EXCEPTION_MESSAGE, &error.message),
        (ERROR_HEADER_EXCEPTION_STACK_TRACE, &trace),
    ];
    for (key, value) in context {
        if headers.iter().any(|h| h.key == key) {
            tracing::error!("Header already contains the '{key}' key.");
            continue;
        }
        headers = headers.insert(Header {
            key,
            value: Some(value),
        });
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_headers_use_javas_names_and_utf8_strings() {
        let original = OwnedHeaders::new().insert(Header {
            key: "trace-id",
            value: Some("abc"),
        });
        let h = context_headers(
            Some(original),
            "orders",
            2,
            41,
            "sink",
            "0",
            Stage::ValueConverter,
            "org.apache.kafka.connect.json.JsonConverter",
            &StageError::data("bad json"),
        );
        let pairs: Vec<(String, String)> = h
            .iter()
            .map(|h| {
                (
                    h.key.to_owned(),
                    String::from_utf8(h.value.unwrap_or_default().to_vec()).unwrap(),
                )
            })
            .collect();
        let expected = [
            ("trace-id", "abc"),
            ("__connect.errors.topic", "orders"),
            ("__connect.errors.partition", "2"),
            ("__connect.errors.offset", "41"),
            ("__connect.errors.connector.name", "sink"),
            ("__connect.errors.task.id", "0"),
            ("__connect.errors.stage", "VALUE_CONVERTER"),
            (
                "__connect.errors.class.name",
                "org.apache.kafka.connect.json.JsonConverter",
            ),
            (
                "__connect.errors.exception.class.name",
                "org.apache.kafka.connect.errors.DataException",
            ),
            ("__connect.errors.exception.message", "bad json"),
            (
                "__connect.errors.exception.stacktrace",
                "org.apache.kafka.connect.errors.DataException: bad json\n",
            ),
        ];
        assert_eq!(
            pairs,
            expected
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        );
        // A record that already carries a context header keeps its own.
        let again = context_headers(
            Some(h),
            "dlq",
            0,
            0,
            "sink",
            "0",
            Stage::KeyConverter,
            "x",
            &StageError::data("y"),
        );
        assert_eq!(again.count(), 11);
    }
}
