//! Error handling in a task's pipeline, like Java's
//! `RetryWithToleranceOperator`, `LogReporter` and (for sinks, in
//! [`super::dlq`]) `DeadLetterQueueReporter`.
//!
//! - `errors.retry.timeout` / `errors.retry.delay.max.ms`: a retriable
//!   failure is retried with Java's backoff (300 ms, doubling; past the cap a
//!   random delay below it) until the timeout (`-1`: forever).
//! - `errors.tolerance`: `none` fails the task on the first failure; `all`
//!   skips records whose conversion or transformation failed.
//! - `errors.log.enable` / `errors.log.include.messages`: every failure is
//!   logged with its stage, class and (optionally) the record's position.
//!
//! The happy path pays nothing: runners call the converter or transform
//! directly and only enter this module once an operation has failed.
//!
//! Java's `task-error-metrics` are counted here ([`super::metrics`]): every
//! failed attempt (`total-record-failures`), every retry, failures tolerated
//! (`total-records-skipped`) or not (`total-record-errors`), failures logged
//! and records sent to the dead letter queue.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::message::{BorrowedMessage, Message, Timestamp};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::dlq::{DeadLetterQueue, DlqConfig};
use super::metrics::{task_metrics, TaskMetrics};
// Part of Java's `runtime.errors` package too: the task loops import them here.
pub use super::stage::{Stage, StageError, CONNECT_EXCEPTION, DATA_EXCEPTION, RETRIABLE_EXCEPTION};
use super::task::{TaskFailure, TaskId};
use crate::connect::config::split_list;
use crate::connect::{
    ConfigDef, ConfigError, ConfigType, ConnectError, ConnectRecord, ConnectorKind, ConverterError,
    Importance, OffsetMap, Props, Validator,
};
use crate::transforms::TransformChain;

pub const ERRORS_RETRY_TIMEOUT: &str = "errors.retry.timeout";
pub const ERRORS_RETRY_MAX_DELAY: &str = "errors.retry.delay.max.ms";
pub const ERRORS_TOLERANCE: &str = "errors.tolerance";
pub const ERRORS_LOG_ENABLE: &str = "errors.log.enable";
pub const ERRORS_LOG_INCLUDE_MESSAGES: &str = "errors.log.include.messages";
pub const DLQ_TOPIC_NAME: &str = "errors.deadletterqueue.topic.name";
pub const DLQ_TOPIC_REPLICATION_FACTOR: &str = "errors.deadletterqueue.topic.replication.factor";
pub const DLQ_CONTEXT_HEADERS_ENABLE: &str = "errors.deadletterqueue.context.headers.enable";

/// Java's `RetryWithToleranceOperator.RETRIES_DELAY_MIN_MS`.
pub const RETRIES_DELAY_MIN: Duration = Duration::from_millis(300);

/// Java's class behind the `TRANSFORMATION` stage when the step is unknown.
const TRANSFORMATION_CHAIN_CLASS: &str = "org.apache.kafka.connect.runtime.TransformationChain";

/// The error keys every connector has (Java's `ConnectorConfig`).
pub fn define_common(def: ConfigDef) -> ConfigDef {
    def.define(
        ERRORS_RETRY_TIMEOUT,
        ConfigType::Long,
        Some("0"),
        Importance::Medium,
        "The maximum duration in milliseconds that a failed operation will be reattempted. The default is 0, which means no retries will be attempted. Use -1 for infinite retries.",
    )
    .validate_with(Validator::Range {
        min: Some(-1),
        max: None,
    })
    .define(
        ERRORS_RETRY_MAX_DELAY,
        ConfigType::Long,
        Some("60000"),
        Importance::Medium,
        "The maximum duration in milliseconds between consecutive retry attempts. Jitter will be added to the delay once this limit is reached to prevent thundering herd issues.",
    )
    .validate_with(Validator::Range {
        min: Some(0),
        max: None,
    })
    .define(
        ERRORS_TOLERANCE,
        ConfigType::String,
        Some("none"),
        Importance::Medium,
        "Behavior for tolerating errors during connector operation. 'none' is the default value and signals that any error will result in an immediate connector task failure; 'all' changes the behavior to skip over problematic records.",
    )
    .validate_with(Validator::OneOf(&["none", "all"]))
    .define(
        ERRORS_LOG_ENABLE,
        ConfigType::Boolean,
        Some("false"),
        Importance::Medium,
        "If true, write each error and the details of the failed operation and problematic record to the Connect application log. This is 'false' by default, so that only errors that are not tolerated are reported.",
    )
    .define(
        ERRORS_LOG_INCLUDE_MESSAGES,
        ConfigType::Boolean,
        Some("false"),
        Importance::Medium,
        "Whether to include in the log the Connect record that resulted in a failure. For sink records, the topic, partition, offset, and timestamp will be logged. For source records, the key and value (and their schemas), all headers, and the timestamp, Kafka topic, Kafka partition, source partition, and source offset will be logged. This is 'false' by default, which will prevent record keys, values, and headers from being written to log files.",
    )
}

/// The dead letter queue keys of sink connectors (Java's `SinkConnectorConfig`).
pub fn define_sink(def: ConfigDef) -> ConfigDef {
    def.define(
        DLQ_TOPIC_NAME,
        ConfigType::String,
        Some(""),
        Importance::Medium,
        "The name of the topic to be used as the dead letter queue (DLQ) for messages that result in an error when processed by this sink connector, or its transformations or converters. The topic name is blank by default, which means that no messages are to be recorded in the DLQ.",
    )
    .define(
        DLQ_TOPIC_REPLICATION_FACTOR,
        ConfigType::Int,
        Some("3"),
        Importance::Medium,
        "Replication factor used to create the dead letter queue topic when it doesn't already exist.",
    )
    .validate_with(Validator::Range {
        min: Some(-1),
        max: Some(i16::MAX as i64),
    })
    .define(
        DLQ_CONTEXT_HEADERS_ENABLE,
        ConfigType::Boolean,
        Some("false"),
        Importance::Medium,
        "If true, add headers containing error context to the messages written to the dead letter queue. To avoid clashing with headers from the original record, all error context header keys, all error context header keys will start with __connect.errors.",
    )
}

/// `errors.tolerance`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tolerance {
    None,
    All,
}

/// A connector's `errors.*` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorConfig {
    pub tolerance: Tolerance,
    /// `errors.retry.timeout`; `None` retries forever (`-1`).
    pub retry_timeout: Option<Duration>,
    pub retry_max_delay: Duration,
    pub log_enable: bool,
    pub log_include_messages: bool,
    /// Sinks only: `errors.deadletterqueue.*` when a topic is named.
    pub dlq: Option<DlqConfig>,
}

impl Default for ErrorConfig {
    fn default() -> Self {
        ErrorConfig {
            tolerance: Tolerance::None,
            retry_timeout: Some(Duration::ZERO),
            retry_max_delay: Duration::from_millis(60_000),
            log_enable: false,
            log_include_messages: false,
            dlq: None,
        }
    }
}

impl ErrorConfig {
    /// Reads the `errors.*` keys of a connector config (defaults for unset
    /// keys, errors naming the key).
    pub fn from_props(props: &Props, kind: ConnectorKind) -> Result<ErrorConfig, ConfigError> {
        let def = match kind {
            ConnectorKind::Source => define_common(ConfigDef::new()),
            ConnectorKind::Sink => define_sink(define_common(ConfigDef::new())),
        };
        let cfg = def.parse(props)?;
        let timeout = cfg.long(ERRORS_RETRY_TIMEOUT)?;
        let dlq = match kind {
            ConnectorKind::Source => None,
            ConnectorKind::Sink => match cfg
                .string(DLQ_TOPIC_NAME)?
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
            {
                Some(topic) => Some(DlqConfig {
                    topic,
                    replication_factor: cfg.int(DLQ_TOPIC_REPLICATION_FACTOR)?,
                    context_headers: cfg.boolean(DLQ_CONTEXT_HEADERS_ENABLE)?,
                }),
                None => None,
            },
        };
        Ok(ErrorConfig {
            tolerance: if cfg
                .string(ERRORS_TOLERANCE)?
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("all"))
            {
                Tolerance::All
            } else {
                Tolerance::None
            },
            retry_timeout: (timeout >= 0).then(|| Duration::from_millis(timeout as u64)),
            retry_max_delay: cfg.duration_ms(ERRORS_RETRY_MAX_DELAY)?,
            log_enable: cfg.boolean(ERRORS_LOG_ENABLE)?,
            log_include_messages: cfg.boolean(ERRORS_LOG_INCLUDE_MESSAGES)?,
            dlq,
        })
    }
}

/// Operations whose errors may be worth retrying.
pub trait Retriable {
    fn is_retriable(&self) -> bool;
}

impl Retriable for StageError {
    fn is_retriable(&self) -> bool {
        self.retriable
    }
}

impl Retriable for ConnectError {
    fn is_retriable(&self) -> bool {
        ConnectError::is_retriable(self)
    }
}

impl Retriable for ConverterError {
    fn is_retriable(&self) -> bool {
        false
    }
}

/// A small xorshift generator seeded from the process's random hasher keys:
/// enough for backoff jitter without a dependency.
fn jitter_below(bound_ms: u64) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    if bound_ms == 0 {
        return 0;
    }
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.finish() % bound_ms
}

/// Retries and tolerance: Java's `RetryWithToleranceOperator`.
#[derive(Debug, Clone)]
pub struct RetryWithToleranceOperator {
    tolerance: Tolerance,
    retry_timeout: Option<Duration>,
    max_delay: Duration,
    total_failures: u64,
    /// The task's metrics, where failed attempts and retries are counted.
    metrics: Option<Arc<TaskMetrics>>,
}

impl RetryWithToleranceOperator {
    pub fn new(config: &ErrorConfig) -> Self {
        RetryWithToleranceOperator {
            tolerance: config.tolerance,
            retry_timeout: config.retry_timeout,
            max_delay: config.retry_max_delay,
            total_failures: 0,
            metrics: None,
        }
    }

    /// Counts failed attempts and retries in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<TaskMetrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    pub fn tolerance(&self) -> Tolerance {
        self.tolerance
    }

    /// Failures seen so far (tolerated or not).
    pub fn total_failures(&self) -> u64 {
        self.total_failures
    }

    /// When retries of an operation first attempted at `start` must end;
    /// `None` for `errors.retry.timeout=-1`.
    pub fn deadline(&self, start: Instant) -> Option<Instant> {
        self.retry_timeout.map(|t| start + t)
    }

    /// Whether another attempt may start at `now` (Java's `checkRetry`).
    pub fn can_retry(&self, start: Instant, now: Instant) -> bool {
        match self.retry_timeout {
            None => true,
            Some(t) => now.saturating_duration_since(start) < t,
        }
    }

    /// The pause after failed attempt number `attempt` (1-based): Java's
    /// `backoff`: 300 ms doubling per attempt; once that passes
    /// `errors.retry.delay.max.ms`, a random delay below the cap; never
    /// past the deadline.
    pub fn backoff(&self, attempt: u32, now: Instant, deadline: Option<Instant>) -> Duration {
        let max_ms = self.max_delay.as_millis() as u64;
        let shift = attempt.saturating_sub(1).min(40);
        let mut delay_ms = (RETRIES_DELAY_MIN.as_millis() as u64).saturating_mul(1 << shift);
        if delay_ms > max_ms {
            delay_ms = jitter_below(max_ms);
        }
        let delay = Duration::from_millis(delay_ms);
        match deadline {
            Some(d) => delay.min(d.saturating_duration_since(now)),
            None => delay,
        }
    }

    /// Re-runs an operation that failed with `first`, while its error is
    /// retriable and the retry timeout allows. `Err` carries the last error;
    /// a shutdown ends the retries early.
    pub async fn retry<T, E: Retriable>(
        &self,
        first: E,
        shutdown: &CancellationToken,
        mut op: impl FnMut() -> Result<T, E>,
    ) -> Result<T, E> {
        let mut error = first;
        let start = Instant::now();
        let deadline = self.deadline(start);
        let mut attempt = 1u32;
        while error.is_retriable() && self.can_retry(start, Instant::now()) {
            let delay = self.backoff(attempt, Instant::now(), deadline);
            tracing::debug!(
                attempt,
                delay_ms = delay.as_millis() as u64,
                "retrying a failed operation"
            );
            tokio::select! {
                _ = shutdown.cancelled() => return Err(error),
                _ = tokio::time::sleep(delay) => {}
            }
            attempt += 1;
            if let Some(m) = &self.metrics {
                m.errors.retry();
                // Each retry counts the failed attempt before it; when
                // the retries run out, the report counts the last one.
                m.errors.failure();
            }
            match op() {
                Ok(v) => return Ok(v),
                Err(e) => error = e,
            }
        }
        Err(error)
    }

    /// Counts a failure (after any retries) and says whether it is
    /// tolerated: converter and transformation failures with
    /// `errors.tolerance=all`; elsewhere only retriable errors whose
    /// retries ran out, as in Java.
    pub fn tolerate(&mut self, stage: Stage, error: &StageError) -> bool {
        self.total_failures += 1;
        let tolerable = stage.tolerates_everything() || error.retriable;
        tolerable && self.within_tolerance_limits()
    }

    /// A failure outside the operator's own operations (Java's
    /// `executeFailed`): counted, and tolerated within the limits alone.
    pub fn failed_outside(&mut self) -> bool {
        self.total_failures += 1;
        self.within_tolerance_limits()
    }

    /// Java's `withinToleranceLimits`.
    pub fn within_tolerance_limits(&self) -> bool {
        match self.tolerance {
            Tolerance::None => self.total_failures == 0,
            Tolerance::All => true,
        }
    }
}

/// The record a failure happened to, for reports.
pub enum ErrantRecord<'a> {
    /// A sink's record as consumed from Kafka (raw bytes).
    Consumed(&'a BorrowedMessage<'a>),
    /// A sink's record consumed again after a retriable `put` failure,
    /// already sent to the dead letter queue the first time.
    Redelivered(&'a BorrowedMessage<'a>),
    /// A source task's record: where it came from, and the record itself
    /// when it was kept for logging.
    Source {
        partition: &'a OffsetMap,
        offset: &'a OffsetMap,
        record: Option<&'a ConnectRecord>,
    },
}

/// Reports failures (log, dead letter queue) and decides whether the task
/// goes on. One per task.
pub struct ErrorHandler {
    task: TaskId,
    metrics: Arc<TaskMetrics>,
    operator: RetryWithToleranceOperator,
    log_enable: bool,
    log_include_messages: bool,
    dlq: Option<DeadLetterQueue>,
    key_converter_class: String,
    value_converter_class: String,
    /// `transforms` aliases and their Java class names.
    transform_classes: Vec<(String, String)>,
}

impl ErrorHandler {
    pub fn new(
        task: TaskId,
        config: &ErrorConfig,
        connector_props: &Props,
        key_converter_class: String,
        value_converter_class: String,
    ) -> ErrorHandler {
        let metrics = task_metrics(&task, ConnectorKind::Source);
        ErrorHandler {
            task,
            operator: RetryWithToleranceOperator::new(config).with_metrics(metrics.clone()),
            metrics,
            log_enable: config.log_enable,
            log_include_messages: config.log_include_messages,
            dlq: None,
            key_converter_class,
            value_converter_class,
            transform_classes: transform_classes(connector_props),
        }
    }

    pub fn with_dlq(mut self, dlq: Option<DeadLetterQueue>) -> Self {
        self.dlq = dlq;
        self
    }

    pub fn operator(&self) -> &RetryWithToleranceOperator {
        &self.operator
    }

    pub fn dlq(&self) -> Option<&DeadLetterQueue> {
        self.dlq.as_ref()
    }

    /// Whether a source record must be kept (cloned) before it is
    /// transformed, to be logged if it fails.
    pub fn keeps_source_records(&self) -> bool {
        self.log_enable && self.log_include_messages
    }

    pub fn converter_class(&self, stage: Stage) -> &str {
        match stage {
            Stage::KeyConverter => &self.key_converter_class,
            _ => &self.value_converter_class,
        }
    }

    /// The Java class of the transform a chain error names
    /// (`transform "<alias>" failed: …`).
    pub fn transform_class(&self, message: &str) -> &str {
        transform_alias(message)
            .and_then(|alias| self.transform_classes.iter().find(|(a, _)| a == alias))
            .map(|(_, class)| class.as_str())
            .unwrap_or(TRANSFORMATION_CHAIN_CLASS)
    }

    /// Handles a failure whose retries (if any) are over: reports it to the
    /// log and the dead letter queue, then returns `Ok` when the record is
    /// to be skipped, or the task's failure. `what` describes the failed
    /// operation for the trace ("task x-0 failed converting the value of
    /// the record at t-0 offset 5").
    pub async fn failed(
        &mut self,
        stage: Stage,
        class: &str,
        error: &StageError,
        record: ErrantRecord<'_>,
        shutdown: &CancellationToken,
        what: impl FnOnce() -> String,
    ) -> Result<(), TaskFailure> {
        let tolerated = self.operator.tolerate(stage, error);
        self.report(tolerated, stage, class, error, record, shutdown, what)
            .await
    }

    /// A record the task itself reported through its errant record
    /// reporter (Java's `executeFailed`): whatever the stage and error,
    /// only `errors.tolerance` decides whether the task goes on.
    pub async fn reported_by_task(
        &mut self,
        class: &str,
        error: &StageError,
        record: ErrantRecord<'_>,
        shutdown: &CancellationToken,
        what: impl FnOnce() -> String,
    ) -> Result<(), TaskFailure> {
        let tolerated = self.operator.failed_outside();
        self.report(
            tolerated,
            Stage::TaskPut,
            class,
            error,
            record,
            shutdown,
            what,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn report(
        &mut self,
        tolerated: bool,
        stage: Stage,
        class: &str,
        error: &StageError,
        record: ErrantRecord<'_>,
        shutdown: &CancellationToken,
        what: impl FnOnce() -> String,
    ) -> Result<(), TaskFailure> {
        let counts = &self.metrics.errors;
        counts.failure();
        if tolerated {
            counts.skipped();
        } else {
            counts.error();
        }
        if self.log_enable {
            log_failure(
                &self.task,
                stage,
                class,
                error,
                &record,
                self.log_include_messages,
            );
            counts.logged();
        }
        if let (Some(dlq), ErrantRecord::Consumed(msg)) = (&self.dlq, &record) {
            counts.dlq_request();
            if let Err(e) = dlq.report(msg, stage, class, error, shutdown).await {
                counts.dlq_failure();
                return Err(e);
            }
        }
        if tolerated {
            return Ok(());
        }
        Err(TaskFailure::new(format!(
            "Tolerance exceeded in error handler: {} (stage {stage}, class {class}): {error}",
            what()
        )))
    }
}

/// `transforms` aliases with the Java class each names.
fn transform_classes(props: &Props) -> Vec<(String, String)> {
    let aliases = props
        .get("transforms")
        .map(|v| split_list(v))
        .unwrap_or_default();
    aliases
        .into_iter()
        .map(|alias| {
            let raw = props
                .get(&format!("transforms.{alias}.type"))
                .map(|s| s.trim().to_owned())
                .unwrap_or_default();
            let class = crate::transforms::find_transform(&raw)
                .map(|p| p.class.to_owned())
                .unwrap_or(raw);
            (alias, class)
        })
        .collect()
}

/// The alias in a [`TransformChain`] error message.
fn transform_alias(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("transform \"")?;
    rest.split_once("\" failed").map(|(alias, _)| alias)
}

/// The transform's own message in a chain error (without the alias prefix).
pub fn transform_message(message: &str) -> &str {
    match (transform_alias(message), message.split_once("\" failed: ")) {
        (Some(_), Some((_, rest))) => rest,
        _ => message,
    }
}

/// Builds the transform chain of a connector, `None` when it has no
/// transforms (so the hot path skips it entirely).
pub fn chain_of(props: &Props) -> Result<Option<TransformChain>, crate::transforms::ChainError> {
    let chain = TransformChain::from_props(props)?;
    Ok((!chain.is_empty()).then_some(chain))
}

/// Java's `LogReporter`: "Error encountered in task x-0. Executing stage
/// 'VALUE_CONVERTER' with class '…', where consumed record is {…}."
fn log_failure(
    task: &TaskId,
    stage: Stage,
    class: &str,
    error: &StageError,
    record: &ErrantRecord<'_>,
    include_messages: bool,
) {
    let mut message =
        format!("Error encountered in task {task}. Executing stage '{stage}' with class '{class}'");
    if include_messages {
        match record {
            ErrantRecord::Consumed(msg) | ErrantRecord::Redelivered(msg) => {
                message.push_str(&format!(
                    ", where consumed record is {{topic='{}', partition={}, offset={}",
                    msg.topic(),
                    msg.partition(),
                    msg.offset()
                ));
                match msg.timestamp() {
                    Timestamp::CreateTime(t) => {
                        message.push_str(&format!(", timestamp={t}, timestampType=CreateTime"))
                    }
                    Timestamp::LogAppendTime(t) => {
                        message.push_str(&format!(", timestamp={t}, timestampType=LogAppendTime"))
                    }
                    Timestamp::NotAvailable => {}
                }
                message.push('}');
            }
            ErrantRecord::Source {
                partition,
                offset,
                record,
            } => {
                message.push_str(&format!(
                    ", where source record is = SourceRecord{{sourcePartition={}, sourceOffset={}}}",
                    serde_json::Value::Object((*partition).clone()),
                    serde_json::Value::Object((*offset).clone())
                ));
                if let Some(r) = record {
                    message.push_str(&format!(
                        " ConnectRecord{{topic='{}', kafkaPartition={}, key={}, value={}, timestamp={}, headers={}}}",
                        r.topic,
                        r.kafka_partition.map_or("null".into(), |p| p.to_string()),
                        r.key.to_java_string(),
                        r.value.to_java_string(),
                        r.timestamp.map_or("null".into(), |t| t.to_string()),
                        r.headers.len()
                    ));
                }
            }
        }
    }
    message.push('.');
    match record {
        ErrantRecord::Consumed(msg) | ErrantRecord::Redelivered(msg) => tracing::error!(
            task = %task,
            stage = stage.name(),
            class,
            exception = error.exception_class,
            error = %error.message,
            topic = msg.topic(),
            partition = msg.partition(),
            offset = msg.offset(),
            "{message}"
        ),
        ErrantRecord::Source { .. } => tracing::error!(
            task = %task,
            stage = stage.name(),
            class,
            exception = error.exception_class,
            error = %error.message,
            "{message}"
        ),
    }
}

/// Java's class name of a converter named by `key.converter` /
/// `value.converter` (aliases resolved), for error reports.
pub fn converter_class_name(configured: &str) -> String {
    let name = configured.trim();
    let full = match name {
        "" | "JsonConverter" | "json" => "org.apache.kafka.connect.json.JsonConverter",
        "StringConverter" | "string" => "org.apache.kafka.connect.storage.StringConverter",
        "ByteArrayConverter" | "bytearray" => {
            "org.apache.kafka.connect.converters.ByteArrayConverter"
        }
        "AvroConverter" | "avro" => "io.confluent.connect.avro.AvroConverter",
        other => other,
    };
    full.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::config::props_of;

    fn operator(
        tolerance: Tolerance,
        timeout_ms: i64,
        max_delay_ms: u64,
    ) -> RetryWithToleranceOperator {
        RetryWithToleranceOperator::new(&ErrorConfig {
            tolerance,
            retry_timeout: (timeout_ms >= 0).then(|| Duration::from_millis(timeout_ms as u64)),
            retry_max_delay: Duration::from_millis(max_delay_ms),
            ..ErrorConfig::default()
        })
    }

    #[test]
    fn config_defaults_and_keys_match_java() {
        let cfg = ErrorConfig::from_props(&Props::new(), ConnectorKind::Sink).unwrap();
        assert_eq!(cfg, ErrorConfig::default());
        let cfg = ErrorConfig::from_props(
            &props_of(&[
                ("errors.tolerance", "all"),
                ("errors.retry.timeout", "-1"),
                ("errors.retry.delay.max.ms", "1000"),
                ("errors.log.enable", "true"),
                ("errors.log.include.messages", "true"),
                ("errors.deadletterqueue.topic.name", "dlq"),
                ("errors.deadletterqueue.topic.replication.factor", "1"),
                ("errors.deadletterqueue.context.headers.enable", "true"),
            ]),
            ConnectorKind::Sink,
        )
        .unwrap();
        assert_eq!(cfg.tolerance, Tolerance::All);
        assert_eq!(cfg.retry_timeout, None);
        assert_eq!(cfg.retry_max_delay, Duration::from_secs(1));
        assert!(cfg.log_enable && cfg.log_include_messages);
        assert_eq!(
            cfg.dlq,
            Some(DlqConfig {
                topic: "dlq".into(),
                replication_factor: 1,
                context_headers: true
            })
        );
        // Sources have no dead letter queue.
        let cfg = ErrorConfig::from_props(
            &props_of(&[("errors.deadletterqueue.topic.name", "dlq")]),
            ConnectorKind::Source,
        )
        .unwrap();
        assert_eq!(cfg.dlq, None);
        let e = ErrorConfig::from_props(
            &props_of(&[("errors.tolerance", "some")]),
            ConnectorKind::Source,
        )
        .unwrap_err();
        assert_eq!(e.key, "errors.tolerance");
        let e = ErrorConfig::from_props(
            &props_of(&[("errors.retry.timeout", "-2")]),
            ConnectorKind::Source,
        )
        .unwrap_err();
        assert_eq!(e.key, "errors.retry.timeout");
    }

    #[test]
    fn backoff_doubles_from_300ms_then_jitters_below_the_cap() {
        let op = operator(Tolerance::None, -1, 5_000);
        let now = Instant::now();
        let delays: Vec<u64> = (1..=5)
            .map(|a| op.backoff(a, now, None).as_millis() as u64)
            .collect();
        assert_eq!(delays, [300, 600, 1200, 2400, 4800]);
        for attempt in 6..60 {
            let d = op.backoff(attempt, now, None);
            assert!(d < Duration::from_millis(5_000), "{attempt}: {d:?}");
        }
        // Never past the deadline.
        let d = op.backoff(3, now, Some(now + Duration::from_millis(100)));
        assert_eq!(d, Duration::from_millis(100));
        // A zero cap means no wait at all.
        assert_eq!(
            operator(Tolerance::None, -1, 0).backoff(9, now, None),
            Duration::ZERO
        );
    }

    #[test]
    fn retry_timeout_zero_means_no_retry_and_minus_one_forever() {
        let start = Instant::now();
        let later = start + Duration::from_secs(3600);
        assert!(!operator(Tolerance::None, 0, 100).can_retry(start, start));
        assert!(operator(Tolerance::None, 1000, 100).can_retry(start, start));
        assert!(!operator(Tolerance::None, 1000, 100).can_retry(start, later));
        assert!(operator(Tolerance::None, -1, 100).can_retry(start, later));
        assert_eq!(operator(Tolerance::None, -1, 100).deadline(start), None);
    }

    #[test]
    fn tolerance_none_fails_on_the_first_error_all_never_for_data_errors() {
        let data = StageError::data("bad");
        let mut none = operator(Tolerance::None, 0, 100);
        assert!(none.within_tolerance_limits());
        assert!(!none.tolerate(Stage::ValueConverter, &data));
        assert_eq!(none.total_failures(), 1);

        let mut all = operator(Tolerance::All, 0, 100);
        for stage in [
            Stage::KeyConverter,
            Stage::ValueConverter,
            Stage::HeaderConverter,
            Stage::Transformation,
        ] {
            assert!(all.tolerate(stage, &data), "{stage}");
        }
        // Outside converters/transforms only retriable errors are tolerated.
        assert!(!all.tolerate(Stage::TaskPut, &data));
        let retriable = StageError::from(&ConnectError::retriable("later"));
        assert!(all.tolerate(Stage::TaskPut, &retriable));
        assert_eq!(all.total_failures(), 6);
        // A record the task reports itself: the tolerance alone decides.
        assert!(all.failed_outside());
        assert!(!none.failed_outside());
        assert_eq!(all.total_failures(), 7);
    }

    #[tokio::test]
    async fn retry_reruns_retriable_failures_until_success() {
        let op = operator(Tolerance::None, 10_000, 1);
        let mut calls = 0;
        let shutdown = CancellationToken::new();
        let result = op
            .retry(ConnectError::retriable("1"), &shutdown, || {
                calls += 1;
                if calls < 3 {
                    Err(ConnectError::retriable(calls.to_string()))
                } else {
                    Ok(calls)
                }
            })
            .await;
        assert_eq!(result.unwrap(), 3);
    }

    #[tokio::test]
    async fn retry_gives_up_at_the_timeout_and_never_retries_other_errors() {
        let shutdown = CancellationToken::new();
        let op = operator(Tolerance::None, 50, 60_000);
        let mut calls = 0;
        let started = std::time::Instant::now();
        let result: Result<(), _> = op
            .retry(ConnectError::retriable("x"), &shutdown, || {
                calls += 1;
                Err(ConnectError::retriable("again"))
            })
            .await;
        assert!(
            matches!(result, Err(ConnectError::Retriable { message, .. }) if message == "again")
        );
        // The first backoff (300 ms) is clipped to the 50 ms deadline.
        assert_eq!(calls, 1);
        assert!(started.elapsed() < Duration::from_millis(1_000));

        let mut calls = 0;
        let result: Result<(), _> = op
            .retry(ConnectError::other("fatal"), &shutdown, || {
                calls += 1;
                Ok(())
            })
            .await;
        assert!(result.is_err());
        assert_eq!(calls, 0, "a non-retriable error is not retried");

        // No retries at all with the default timeout of 0.
        let op = operator(Tolerance::None, 0, 60_000);
        let result: Result<(), _> = op
            .retry(ConnectError::retriable("x"), &shutdown, || Ok(()))
            .await;
        assert!(result.is_err());
    }

    #[test]
    fn transform_errors_resolve_alias_and_class() {
        let msg = "transform \"route\" failed: no field x";
        assert_eq!(transform_alias(msg), Some("route"));
        assert_eq!(transform_message(msg), "no field x");
        assert_eq!(transform_message("plain"), "plain");
        let props = props_of(&[
            ("transforms", "route"),
            ("transforms.route.type", "com.example.Route"),
        ]);
        let handler = ErrorHandler::new(
            TaskId {
                connector: "c".into(),
                task: 0,
            },
            &ErrorConfig::default(),
            &props,
            converter_class_name("JsonConverter"),
            converter_class_name("StringConverter"),
        );
        assert_eq!(handler.transform_class(msg), "com.example.Route");
        assert_eq!(handler.transform_class("other"), TRANSFORMATION_CHAIN_CLASS);
        assert_eq!(
            handler.converter_class(Stage::KeyConverter),
            "org.apache.kafka.connect.json.JsonConverter"
        );
        assert_eq!(
            handler.converter_class(Stage::ValueConverter),
            "org.apache.kafka.connect.storage.StringConverter"
        );
    }
}
