//! Errors raised by connectors and tasks, like Java's `ConnectException`,
//! `RetriableException` and `ConfigException`. Each keeps the error that
//! caused it, so a FAILED task's trace shows the whole chain
//! ([`ConnectError::trace`]), as Java's stack trace shows `Caused by:`.

use std::error::Error as StdError;

/// Any error a plugin wraps as the cause of a [`ConnectError`].
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Errors raised by connectors and tasks.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// Bad configuration: names the key.
    #[error("invalid configuration for \"{key}\": {message}")]
    Config { key: String, message: String },
    /// A transient failure (Java's `RetriableException`): the framework
    /// retries the operation (a sink's `put` is redelivered).
    #[error("{message}")]
    Retriable {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
    /// I/O with context (what was being done, on what).
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// Anything else (Java's `ConnectException`); fails the task or
    /// connector.
    #[error("{message}")]
    Other {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
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

    /// A failure without an underlying cause.
    pub fn other(message: impl Into<String>) -> ConnectError {
        ConnectError::Other {
            message: message.into(),
            source: None,
        }
    }

    /// A failure caused by `source` (a client library's error …), which
    /// stays reachable through [`std::error::Error::source`].
    pub fn caused_by(message: impl Into<String>, source: impl Into<BoxError>) -> ConnectError {
        ConnectError::Other {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// A transient failure the framework retries.
    pub fn retriable(message: impl Into<String>) -> ConnectError {
        ConnectError::Retriable {
            message: message.into(),
            source: None,
        }
    }

    /// A transient failure caused by `source`.
    pub fn retriable_caused_by(
        message: impl Into<String>,
        source: impl Into<BoxError>,
    ) -> ConnectError {
        ConnectError::Retriable {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    pub fn is_retriable(&self) -> bool {
        matches!(self, ConnectError::Retriable { .. })
    }

    /// The message and every cause below it, one `Caused by:` line each:
    /// what a FAILED status's `trace` shows.
    pub fn trace(&self) -> String {
        trace(self)
    }
}

/// `error`'s message followed by its chain of causes, as
/// [`ConnectError::trace`] prints it.
pub fn trace(error: &(dyn StdError + 'static)) -> String {
    let mut out = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        let text = e.to_string();
        // `#[error("{context}: {source}")]` already prints its cause.
        if !out.ends_with(&text) {
            out.push_str("\nCaused by: ");
            out.push_str(&text);
        }
        cause = e.source();
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("connection refused (127.0.0.1:5432)")]
    struct Refused;

    #[derive(Debug, thiserror::Error)]
    #[error("could not open a replication connection")]
    struct Replication(#[source] Refused);

    #[test]
    fn the_trace_keeps_every_cause() {
        let e = ConnectError::caused_by("streaming from PostgreSQL failed", Replication(Refused));
        assert_eq!(
            e.trace(),
            "streaming from PostgreSQL failed\nCaused by: could not open a replication connection\nCaused by: connection refused (127.0.0.1:5432)"
        );
        assert!(std::error::Error::source(&e).is_some());
        assert!(!e.is_retriable());
        assert!(ConnectError::retriable_caused_by("busy", Refused).is_retriable());
    }

    #[test]
    fn io_context_is_not_repeated_as_a_cause() {
        let e = ConnectError::io(
            "opening /tmp/x",
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        );
        assert_eq!(e.trace(), "opening /tmp/x: no such file");
    }
}
