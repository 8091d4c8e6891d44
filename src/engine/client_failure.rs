//! A Kafka client's unrecoverable errors: failed authentication (SASL) and
//! TLS failures (an untrusted certificate, a host name mismatch, a client
//! certificate the broker refused). librdkafka reports them and retries
//! for ever; Java's clients throw them from `send`/`poll` and the task
//! fails. The task loops here fail too, with librdkafka's reason, which
//! names the broker, the mechanism and the cause.

use std::sync::Arc;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use tokio::sync::watch;

/// Shared between a client's context (which sees the error) and the task
/// loop (which fails on it): the first fatal error's message.
#[derive(Clone)]
pub struct ClientFailure {
    reason: Arc<watch::Sender<Option<String>>>,
}

impl Default for ClientFailure {
    fn default() -> Self {
        ClientFailure {
            reason: Arc::new(watch::Sender::new(None)),
        }
    }
}

impl ClientFailure {
    /// Whether an error a client reported means it cannot go on.
    pub fn is_fatal(error: &KafkaError) -> bool {
        matches!(
            error.rdkafka_error_code(),
            Some(
                RDKafkaErrorCode::Authentication
                    | RDKafkaErrorCode::SaslAuthenticationFailed
                    | RDKafkaErrorCode::SSL
            )
        )
    }

    /// Called from `ClientContext::error`: records the first fatal error.
    pub fn observe(&self, task: &str, error: &KafkaError, reason: &str) {
        if !Self::is_fatal(error) {
            tracing::warn!(task, error = %error, reason, "Kafka client error");
            return;
        }
        self.reason.send_if_modified(|slot| {
            if slot.is_some() {
                return false;
            }
            let what = match error.rdkafka_error_code() {
                Some(RDKafkaErrorCode::SSL) => "TLS with the Kafka broker failed",
                _ => "Kafka authentication failed",
            };
            let message = format!("{what}: {reason}");
            tracing::error!(task, "{message}");
            *slot = Some(message);
            true
        });
    }

    /// Waits for a fatal error; its message is the task's trace.
    pub async fn failed(&self) -> String {
        let mut rx = self.reason.subscribe();
        // The sender lives in `self`: the wait ends only with a message.
        let reason = rx
            .wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|r| r.clone());
        match reason {
            Some(reason) => reason,
            None => std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn authentication_and_tls_errors_fail_the_task_others_do_not() {
        let f = ClientFailure::default();
        f.observe(
            "t-0",
            &KafkaError::Global(RDKafkaErrorCode::BrokerTransportFailure),
            "connection refused",
        );
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(50), f.failed());
        assert!(waiting.await.is_err(), "a transport error is retried");
        let waiter = tokio::spawn({
            let f = f.clone();
            async move { f.failed().await }
        });
        f.observe(
            "t-0",
            &KafkaError::Global(RDKafkaErrorCode::Authentication),
            "sasl_ssl://localhost:9093/bootstrap: SASL authentication error: Authentication failed due to invalid credentials with SASL mechanism SCRAM-SHA-512",
        );
        let reason = waiter.await.unwrap();
        assert!(
            reason.starts_with("Kafka authentication failed: sasl_ssl://localhost:9093"),
            "{reason}"
        );
        assert!(reason.contains("SCRAM-SHA-512"));
        assert!(ClientFailure::is_fatal(&KafkaError::Global(
            RDKafkaErrorCode::SSL
        )));
    }
}
