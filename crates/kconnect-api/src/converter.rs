//! The converter contract: Connect data to bytes and back, like
//! `org.apache.kafka.connect.storage.Converter`.

use std::borrow::Cow;

use super::data::{SchemaRef, Value};

/// A schema (absent for schemaless data) and a value.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaAndValue {
    pub schema: Option<SchemaRef>,
    pub value: Value,
}

impl SchemaAndValue {
    pub fn null() -> SchemaAndValue {
        SchemaAndValue {
            schema: None,
            value: Value::Null,
        }
    }
}

/// A record the converter cannot handle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConverterError {
    pub message: String,
}

impl ConverterError {
    pub fn new(message: impl Into<String>) -> ConverterError {
        ConverterError {
            message: message.into(),
        }
    }
}

impl From<super::data::DataError> for ConverterError {
    fn from(e: super::data::DataError) -> Self {
        ConverterError::new(e.message)
    }
}

/// Turns Connect data into the bytes of a Kafka key or value and back.
/// Implementations are configured once and then shared by a task's loop.
pub trait Converter: Send + Sync {
    /// Serializes; `Ok(None)` is a null (tombstone) key or value. Named after
    /// Java's `fromConnectData`, hence the clippy allowance.
    #[allow(clippy::wrong_self_convention)]
    fn from_connect(
        &self,
        topic: &str,
        schema: Option<&SchemaRef>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, ConverterError>;

    /// Like [`Converter::from_connect`], but may hand back the value's own
    /// bytes instead of a copy. The producer copies a record into its queue
    /// anyway, so a converter that serializes by copying (String,
    /// ByteArray) overrides this to cost the source path no allocation.
    #[allow(clippy::wrong_self_convention)]
    fn from_connect_ref<'v>(
        &self,
        topic: &str,
        schema: Option<&SchemaRef>,
        value: &'v Value,
    ) -> Result<Option<Cow<'v, [u8]>>, ConverterError> {
        Ok(self.from_connect(topic, schema, value)?.map(Cow::Owned))
    }

    /// Deserializes; `None` bytes is a null key or value.
    fn to_connect(
        &self,
        topic: &str,
        bytes: Option<&[u8]>,
    ) -> Result<SchemaAndValue, ConverterError>;
}
