//! What a running task gets from the worker, and how it ends.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::connect::{Converter, Header, Value};

/// `<connector>-<n>`, Connect's task id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId {
    pub connector: String,
    pub task: usize,
}

impl std::fmt::Display for TaskId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.connector, self.task)
    }
}

/// Everything a task runner needs besides the task itself.
#[derive(Clone)]
pub struct TaskContext {
    pub id: TaskId,
    pub bootstrap: String,
    pub key_converter: Arc<dyn Converter>,
    pub value_converter: Arc<dyn Converter>,
    pub offset_flush_interval: Duration,
    pub offset_flush_timeout: Duration,
    /// Cancelled when the worker shuts down or the task is unassigned.
    pub shutdown: CancellationToken,
}

/// Why a task stopped running: Connect's FAILED state with its trace, or
/// one of the ends of an exactly-once task that are not failures.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct TaskFailure {
    pub message: String,
    pub end: TaskEnd,
}

/// How a task's run ended when it did not stop on request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskEnd {
    /// FAILED, until restarted or reconfigured.
    Failed,
    /// Another run of the task fenced this one's transactional producer:
    /// it stops quietly and waits for its next assignment.
    Fenced,
    /// Its transaction was aborted: it starts again at once from the last
    /// committed offsets (RESTARTING, with the reason as the trace).
    Restart,
}

impl TaskFailure {
    pub fn new(message: impl Into<String>) -> TaskFailure {
        TaskFailure {
            message: message.into(),
            end: TaskEnd::Failed,
        }
    }

    /// Fenced by a newer run of the task (see [`TaskEnd::Fenced`]).
    pub fn fenced(message: impl Into<String>) -> TaskFailure {
        TaskFailure {
            message: message.into(),
            end: TaskEnd::Fenced,
        }
    }

    /// To start again from committed offsets (see [`TaskEnd::Restart`]).
    pub fn restart(message: impl Into<String>) -> TaskFailure {
        TaskFailure {
            message: message.into(),
            end: TaskEnd::Restart,
        }
    }
}

impl From<crate::connect::ConnectError> for TaskFailure {
    fn from(e: crate::connect::ConnectError) -> Self {
        TaskFailure::new(e.to_string())
    }
}

/// Header values as bytes, in the spirit of Java's `SimpleHeaderConverter`:
/// strings as UTF-8, bytes unchanged, other values as their text.
pub fn header_bytes(h: &Header) -> Option<Vec<u8>> {
    match &h.value {
        Value::Null => None,
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Bytes(b) => Some(b.clone()),
        other => Some(other.to_java_string().into_bytes()),
    }
}

/// A Kafka header read back: text when it is UTF-8, bytes otherwise.
pub fn header_from_bytes(key: &str, value: Option<&[u8]>) -> Header {
    let value = match value {
        None => Value::Null,
        Some(b) => match std::str::from_utf8(b) {
            Ok(s) => Value::String(s.to_owned()),
            Err(_) => Value::Bytes(b.to_vec()),
        },
    };
    Header {
        key: key.to_owned(),
        schema: None,
        value,
    }
}
