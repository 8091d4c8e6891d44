//! The plugin API: connectors split a job into task configs; tasks move the
//! data. Mirrors `org.apache.kafka.connect.{source,sink}`.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

use super::config::{ConfigDef, Props};
use super::record::{OffsetMap, SinkRecord, SourceRecord, TopicPartition};

/// Errors raised by connectors and tasks.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// Bad configuration: names the key.
    #[error("invalid configuration for \"{key}\": {message}")]
    Config { key: String, message: String },
    /// A transient failure; the framework may retry.
    #[error("retriable error: {0}")]
    Retriable(String),
    /// I/O with context (what was being done, on what).
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// Anything else; fails the task.
    #[error("{0}")]
    Other(String),
}

impl ConnectError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> ConnectError {
        ConnectError::Io {
            context: context.into(),
            source,
        }
    }

    pub fn config(key: impl Into<String>, message: impl Into<String>) -> ConnectError {
        ConnectError::Config {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl From<super::config::ConfigError> for ConnectError {
    fn from(e: super::config::ConfigError) -> Self {
        ConnectError::Config {
            key: e.key,
            message: e.message,
        }
    }
}

pub type ConnectResult<T> = Result<T, ConnectError>;

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

/// What both connector kinds share: a config definition, validation and the
/// split of the job into task configs.
pub trait Connector: Send + Sync {
    /// The connector's own config keys (the framework adds `name`,
    /// `connector.class`, `tasks.max`, converters …).
    fn config_def(&self) -> ConfigDef;

    /// Called once with the connector's full properties; keeps what it needs
    /// to compute task configs. Fails on invalid configuration.
    fn start(&mut self, props: &Props) -> ConnectResult<()>;

    /// At most `max_tasks` task configs.
    fn task_configs(&self, max_tasks: usize) -> ConnectResult<Vec<Props>>;

    fn stop(&mut self) {}

    fn version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }
}

pub trait SourceConnector: Connector {
    fn create_task(&self) -> Box<dyn SourceTask>;
}

pub trait SinkConnector: Connector {
    fn create_task(&self) -> Box<dyn SinkTask>;
}

/// Read access to committed source offsets, given to source tasks at start.
pub trait OffsetReader: Send + Sync {
    fn offset(&self, partition: &OffsetMap) -> Option<OffsetMap>;
}

/// A source task turns an outside system into records.
#[async_trait]
pub trait SourceTask: Send {
    async fn start(&mut self, props: &Props, offsets: Arc<dyn OffsetReader>) -> ConnectResult<()>;

    /// The next batch of records. An empty batch means "nothing now"; the
    /// task should wait a little inside `poll` rather than spin.
    async fn poll(&mut self) -> ConnectResult<Vec<SourceRecord>>;

    /// Offsets up to the last acknowledged record were committed.
    async fn commit(&mut self) -> ConnectResult<()> {
        Ok(())
    }

    async fn stop(&mut self) -> ConnectResult<()> {
        Ok(())
    }
}

/// Consumer positions: the next offset to read for each partition.
pub type SinkOffsets = HashMap<TopicPartition, i64>;

/// A sink task writes records to an outside system.
#[async_trait]
pub trait SinkTask: Send {
    async fn start(&mut self, props: &Props) -> ConnectResult<()>;

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
