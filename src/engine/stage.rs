//! Where in a task's pipeline an operation failed (Java's `Stage`) and how
//! (the exception Java would have thrown): what the error handler
//! ([`super::errors`]) decides on and the dead letter queue
//! ([`super::dlq`]) writes into its headers. A leaf of the engine, so that
//! the two need not import each other.

use crate::connect::{ConnectError, ConverterError};

/// Java exception class names written to DLQ headers and traces.
pub const DATA_EXCEPTION: &str = "org.apache.kafka.connect.errors.DataException";
pub const CONNECT_EXCEPTION: &str = "org.apache.kafka.connect.errors.ConnectException";
pub const RETRIABLE_EXCEPTION: &str = "org.apache.kafka.connect.errors.RetriableException";

/// Where in the pipeline an operation failed: Java's `Stage`, whose names
/// appear in DLQ headers and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    KeyConverter,
    ValueConverter,
    HeaderConverter,
    Transformation,
    TaskPut,
    TaskPoll,
    KafkaProduce,
    KafkaConsume,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::KeyConverter => "KEY_CONVERTER",
            Stage::ValueConverter => "VALUE_CONVERTER",
            Stage::HeaderConverter => "HEADER_CONVERTER",
            Stage::Transformation => "TRANSFORMATION",
            Stage::TaskPut => "TASK_PUT",
            Stage::TaskPoll => "TASK_POLL",
            Stage::KafkaProduce => "KAFKA_PRODUCE",
            Stage::KafkaConsume => "KAFKA_CONSUME",
        }
    }

    /// Java tolerates every exception of converters and transformations
    /// (and a source's failed produce, through `executeFailed`), and only
    /// retriable ones elsewhere.
    pub fn tolerates_everything(self) -> bool {
        matches!(
            self,
            Stage::KeyConverter
                | Stage::ValueConverter
                | Stage::HeaderConverter
                | Stage::Transformation
                | Stage::KafkaProduce
        )
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A failed operation, described as Java would: the exception's class,
/// its message, and whether it was a `RetriableException`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageError {
    pub exception_class: &'static str,
    pub message: String,
    pub retriable: bool,
}

impl StageError {
    pub fn data(message: impl Into<String>) -> StageError {
        StageError {
            exception_class: DATA_EXCEPTION,
            message: message.into(),
            retriable: false,
        }
    }
}

impl std::fmt::Display for StageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.exception_class, self.message)
    }
}

impl From<&ConverterError> for StageError {
    fn from(e: &ConverterError) -> Self {
        // Converters raise DataException in Java; the Rust converter API has
        // no retriable flag (yet), so their failures are never retried.
        StageError::data(e.message.clone())
    }
}

impl From<&ConnectError> for StageError {
    fn from(e: &ConnectError) -> Self {
        match e {
            ConnectError::Retriable { message, .. } => StageError {
                exception_class: RETRIABLE_EXCEPTION,
                message: message.clone(),
                retriable: true,
            },
            ConnectError::Config { .. } => StageError {
                exception_class: "org.apache.kafka.common.config.ConfigException",
                message: e.to_string(),
                retriable: false,
            },
            other => StageError {
                exception_class: CONNECT_EXCEPTION,
                message: other.to_string(),
                retriable: false,
            },
        }
    }
}
