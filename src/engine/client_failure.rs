//! A Kafka client's unrecoverable errors: failed authentication (SASL) and
//! TLS failures (an untrusted certificate, a host name mismatch, a client
//! certificate the broker refused). librdkafka reports them and retries
//! for ever; Java's clients throw them from `send`/`poll` and the task
//! fails. The task loops here fail too, with librdkafka's reason, which
//! names the broker, the mechanism and the cause.

use std::sync::Arc;

use rdkafka::client::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use tokio::sync::watch;

/// What kind of unrecoverable error a client met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// SASL: wrong password, unknown user, a rejected token.
    Authentication,
    /// TLS: an untrusted certificate, a host name mismatch, a refused
    /// client certificate.
    Tls,
}

impl FailureKind {
    fn of(error: &KafkaError) -> FailureKind {
        match error.rdkafka_error_code() {
            Some(RDKafkaErrorCode::SSL) => FailureKind::Tls,
            _ => FailureKind::Authentication,
        }
    }

    /// How the failure reads at the start of a trace or condition.
    pub fn describe(self) -> &'static str {
        match self {
            FailureKind::Tls => "TLS with the Kafka broker failed",
            FailureKind::Authentication => "Kafka authentication failed",
        }
    }
}

/// A fatal client failure: its kind and librdkafka's reason, prefixed by
/// [`FailureKind::describe`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
}

/// Shared between a client's context (which sees the error) and the task
/// loop (which fails on it): the first fatal error's message.
#[derive(Clone)]
pub struct ClientFailure {
    reason: Arc<watch::Sender<Option<Failure>>>,
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
            let kind = FailureKind::of(error);
            let message = format!("{}: {reason}", kind.describe());
            tracing::error!(task, "{message}");
            *slot = Some(Failure { kind, message });
            true
        });
    }

    /// Waits for a fatal error; its message is the task's trace.
    pub async fn failed(&self) -> String {
        self.failure().await.message
    }

    /// Waits for a fatal error.
    pub async fn failure(&self) -> Failure {
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

/// A client context that only watches for fatal errors (admin clients,
/// the internal topics' clients).
#[derive(Clone)]
pub struct FailureContext {
    pub client: String,
    pub failure: ClientFailure,
}

impl FailureContext {
    pub fn new(client: impl Into<String>) -> FailureContext {
        FailureContext {
            client: client.into(),
            failure: ClientFailure::default(),
        }
    }
}

impl ClientContext for FailureContext {
    fn error(&self, error: KafkaError, reason: &str) {
        self.failure.observe(&self.client, &error, reason);
    }
}

/// A producer that only probes the connection sends nothing.
impl rdkafka::producer::ProducerContext for FailureContext {
    type DeliveryOpaque = ();

    fn delivery(&self, _: &rdkafka::message::DeliveryResult<'_>, _: Self::DeliveryOpaque) {}
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
