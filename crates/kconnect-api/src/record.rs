//! Records as connectors see them: `ConnectRecord` and its source and sink
//! flavours, like `org.apache.kafka.connect.{connector,source,sink}`.

use std::sync::Arc;

use serde_json::{Map, Value as Json};

use super::data::{SchemaRef, Value};

/// A source partition or offset: a small string-keyed map, serialized as JSON
/// in the offset store exactly as Java serializes `Map<String, ?>`.
pub type OffsetMap = Map<String, Json>;

/// A header: key plus a (possibly schema'd) value.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub key: String,
    pub schema: Option<SchemaRef>,
    pub value: Value,
}

/// What every record has, whether it comes from a source or goes to a sink.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectRecord {
    pub topic: String,
    pub kafka_partition: Option<i32>,
    pub key_schema: Option<SchemaRef>,
    pub key: Value,
    pub value_schema: Option<SchemaRef>,
    pub value: Value,
    /// Milliseconds since the epoch.
    pub timestamp: Option<i64>,
    pub headers: Vec<Header>,
}

impl ConnectRecord {
    /// A record with only a topic and a schema'd value.
    pub fn new(topic: impl Into<String>, value_schema: Option<SchemaRef>, value: Value) -> Self {
        ConnectRecord {
            topic: topic.into(),
            kafka_partition: None,
            key_schema: None,
            key: Value::Null,
            value_schema,
            value,
            timestamp: None,
            headers: Vec::new(),
        }
    }

    pub fn with_key(mut self, key_schema: Option<SchemaRef>, key: Value) -> Self {
        self.key_schema = key_schema;
        self.key = key;
        self
    }
}

/// A record produced by a source task, with where it came from.
///
/// The source partition is shared: a task builds it once and hands every
/// record of that partition a clone of the `Arc` (Java's connectors share
/// one `Map` the same way), so a record costs no copy of it.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRecord {
    pub record: ConnectRecord,
    pub source_partition: Arc<OffsetMap>,
    pub source_offset: OffsetMap,
}

/// A record handed to a sink task, with its position in Kafka.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkRecord {
    pub record: ConnectRecord,
    pub kafka_partition: i32,
    pub kafka_offset: i64,
}

/// A Kafka topic partition.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

impl TopicPartition {
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

impl std::fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}
