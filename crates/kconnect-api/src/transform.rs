//! Single Message Transforms and predicates, like
//! `org.apache.kafka.connect.transforms.{Transformation, predicates.Predicate}`.
//!
//! A transform rewrites one record at a time (or drops it); a predicate
//! decides whether a transform applies to a record. Both are configured from
//! the connector's `transforms.<alias>.*` / `predicates.<alias>.*` keys with
//! the prefix stripped.

use super::config::{ConfigDef, Props};
use super::connector::ConnectError;
use super::record::ConnectRecord;

/// A record a transform cannot handle (wrong type, missing field …). Follows
/// `errors.tolerance` like a conversion failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TransformError {
    pub message: String,
}

impl TransformError {
    pub fn new(message: impl Into<String>) -> TransformError {
        TransformError {
            message: message.into(),
        }
    }
}

impl From<super::data::DataError> for TransformError {
    fn from(e: super::data::DataError) -> Self {
        TransformError::new(e.message)
    }
}

/// One transformation of records.
pub trait Transform: Send + Sync {
    /// The transform's own keys (without the `transforms.<alias>.` prefix).
    fn config_def(&self) -> ConfigDef;

    /// Reads the configuration; called once, after [`Transform::config_def`]
    /// has validated `props`. Errors name the key.
    fn configure(&mut self, props: &Props) -> Result<(), ConnectError>;

    /// The transformed record, or `None` to drop it.
    fn apply(&self, record: ConnectRecord) -> Result<Option<ConnectRecord>, TransformError>;
}

/// A condition on records, for `transforms.<alias>.predicate`.
pub trait Predicate: Send + Sync {
    /// The predicate's own keys (without the `predicates.<alias>.` prefix).
    fn config_def(&self) -> ConfigDef;

    /// Reads the configuration; errors name the key.
    fn configure(&mut self, props: &Props) -> Result<(), ConnectError>;

    fn test(&self, record: &ConnectRecord) -> bool;
}
