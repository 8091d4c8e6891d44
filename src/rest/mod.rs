//! Kafka Connect's REST API, served with axum: the same paths, query
//! parameters, status codes and JSON bodies as Apache Kafka Connect's
//! `ConnectorsResource`, `ConnectorPluginsResource`, `RootResource` and
//! `LoggingResource`, so `curl`, kcctl and other Connect tooling work
//! unchanged.
//!
//! The API is one router over a [`Backend`]: standalone mode
//! ([`crate::standalone`]) answers everything, reads and writes, from the
//! one process's state; a distributed worker ([`crate::distributed`])
//! answers reads from the config and status topics as it folded them and,
//! unless the worker config says `kconnect.rest.writes=true`, refuses
//! changes with 409 naming the Connector resource to change instead.
//!
//! Besides Connect's own paths the listener serves `GET /metrics`: the
//! registry its mode built, rendered by [`crate::metrics::render`].

pub mod entities;
pub mod logging;
pub mod plugins;
mod server;
pub mod sink_offsets;
pub mod tls;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use async_trait::async_trait;
use axum::http::StatusCode;

use crate::connect::Props;
use entities::{
    ConnectorInfo, ConnectorOffset, ConnectorOffsets, ConnectorStateInfo, InitialState, Message,
    TaskInfo, TaskState,
};

pub use server::{bind, router, serve, serve_worker, Listener};

/// The HTTPS settings when any listener is `https://`, checked before
/// anything is served; `None` for plain HTTP.
pub fn https_config(
    listeners: &[ListenerAddr],
    worker: &crate::connect::Props,
) -> Result<Option<std::sync::Arc<rustls::ServerConfig>>, String> {
    if listeners.iter().any(|l| l.https) {
        tls::server_config(worker).map(Some)
    } else {
        Ok(None)
    }
}

/// Worker config key: where the REST API listens, a comma-separated list of
/// `http://host:port` (Java's `listeners`).
pub const LISTENERS: &str = "listeners";
/// Java's default for [`LISTENERS`].
pub const DEFAULT_LISTENERS: &str = "http://:8083";
/// Worker config keys of KIP-558 topic tracking (both default to true).
pub const TOPIC_TRACKING_ENABLE: &str = "topic.tracking.enable";
pub const TOPIC_TRACKING_ALLOW_RESET: &str = "topic.tracking.allow.reset";
/// kconnect's worker config key: whether a distributed worker's REST API
/// accepts changes (the operator sets it from `spec.restApi.writes`).
pub const REST_WRITES: &str = "kconnect.rest.writes";

/// How long a request may take before it fails with 500, as Java's
/// `RestServer` (90 s).
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(90);

/// The version `GET /` reports: the Kafka Connect release whose REST API
/// this one follows, then kconnect's own version (Confluent's builds add
/// a suffix the same way), so tools that gate features on the version see
/// a current Connect.
pub fn server_version() -> String {
    format!("4.1.1-kconnect-{}", env!("CARGO_PKG_VERSION"))
}

/// An error answer: an HTTP status and Java's `{"error_code", "message"}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub struct RestError {
    pub status: StatusCode,
    pub message: String,
}

impl RestError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> RestError {
        RestError {
            status,
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> RestError {
        RestError::new(StatusCode::NOT_FOUND, message)
    }

    pub fn bad_request(message: impl Into<String>) -> RestError {
        RestError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn conflict(message: impl Into<String>) -> RestError {
        RestError::new(StatusCode::CONFLICT, message)
    }

    pub fn internal(message: impl Into<String>) -> RestError {
        RestError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// Java's `NotFoundException("Connector <name> not found")`.
    pub fn connector_not_found(name: &str) -> RestError {
        RestError::not_found(format!("Connector {name} not found"))
    }
}

/// The result of creating or replacing a connector: Java's `Created`.
#[derive(Debug, Clone, PartialEq)]
pub struct Created<T> {
    /// True when the connector did not exist before (201), false when its
    /// config was replaced (200).
    pub created: bool,
    pub result: T,
}

/// What `GET /health` answers (KIP-1017).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Healthy,
    /// 503: still starting, with what it waits for.
    Starting(Option<String>),
    /// 500: not keeping up, with why.
    Unhealthy(String),
}

/// A Connect herder as the REST API sees it. Reads come first; writes
/// follow Java's `Herder` semantics.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// The Kafka cluster id for `GET /`.
    async fn kafka_cluster_id(&self) -> Option<String>;
    async fn health(&self) -> Health;
    /// The worker config (for `topic.tracking.*`).
    fn worker_props(&self) -> &Props;

    /// Connector names, sorted.
    async fn connectors(&self) -> Vec<String>;
    async fn connector_info(&self, name: &str) -> Result<ConnectorInfo, RestError>;
    async fn connector_config(&self, name: &str) -> Result<Props, RestError>;
    async fn connector_status(&self, name: &str) -> Result<ConnectorStateInfo, RestError>;
    async fn task_configs(&self, name: &str) -> Result<Vec<TaskInfo>, RestError>;
    async fn task_status(&self, name: &str, task: u32) -> Result<TaskState, RestError>;
    /// The version of the connector's plugin, which Java 4.1 reports beside
    /// the connector's and each task's state (KIP-891); `None` (left out)
    /// when unknown.
    async fn plugin_version(&self, _name: &str) -> Option<String> {
        None
    }
    /// KIP-558's active topics of a connector.
    async fn active_topics(&self, name: &str) -> Result<Vec<String>, RestError>;
    async fn offsets(&self, name: &str) -> Result<ConnectorOffsets, RestError>;

    async fn put_connector_config(
        &self,
        name: &str,
        config: Props,
        allow_replace: bool,
        initial_state: Option<InitialState>,
    ) -> Result<Created<ConnectorInfo>, RestError>;
    /// Java's `patchConnectorConfig`: keys with a value are set, keys with
    /// `null` removed, then the result is put like `PUT …/config`.
    async fn patch_connector_config(
        &self,
        name: &str,
        patch: BTreeMap<String, Option<String>>,
    ) -> Result<ConnectorInfo, RestError> {
        let mut config = self.connector_config(name).await?;
        for (k, v) in patch {
            match v {
                Some(v) => config.insert(k, v),
                None => config.remove(&k),
            };
        }
        Ok(self
            .put_connector_config(name, config, true, None)
            .await?
            .result)
    }
    async fn delete_connector(&self, name: &str) -> Result<(), RestError>;
    async fn pause_connector(&self, name: &str) -> Result<(), RestError>;
    async fn resume_connector(&self, name: &str) -> Result<(), RestError>;
    async fn stop_connector(&self, name: &str) -> Result<(), RestError>;
    /// `None` for a plain connector restart (204), the connector's state
    /// with what restarts marked RESTARTING otherwise (202).
    async fn restart_connector(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<Option<ConnectorStateInfo>, RestError>;
    async fn restart_task(&self, name: &str, task: u32) -> Result<(), RestError>;
    async fn reset_active_topics(&self, name: &str) -> Result<(), RestError>;
    async fn alter_offsets(
        &self,
        name: &str,
        offsets: Vec<ConnectorOffset>,
    ) -> Result<Message, RestError>;
    async fn reset_offsets(&self, name: &str) -> Result<Message, RestError>;
}

/// Java's `BadRequestException` for offsets of a connector that is not
/// STOPPED.
pub fn offsets_need_stopped(name: &str) -> RestError {
    RestError::bad_request(format!(
        "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/{name}/stop' endpoint"
    ))
}

/// Java's answer to an alter (`reset == false`) or reset of offsets the
/// framework manages, when the connector does not say it handled its own.
pub fn offsets_modified(reset: bool) -> Message {
    let what = if reset { "reset" } else { "altered" };
    Message {
        message: format!(
            "The Connect framework-managed offsets for this connector have been {what} successfully. However, if this connector manages offsets externally, they will need to be manually {what} in the system that the connector uses."
        ),
    }
}

/// One listener of the REST API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerAddr {
    pub addr: SocketAddr,
    /// `https://`: TLS with the worker's `listeners.https.ssl.*` settings.
    pub https: bool,
}

/// The `listeners` of a worker config: Java's `http://host:port` and
/// `https://host:port` list (an empty host listens on every interface).
pub fn parse_listeners(raw: &str) -> Result<Vec<ListenerAddr>, String> {
    let mut out = Vec::new();
    for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (rest, https) = match item.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => (rest, false),
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => (rest, true),
            Some((scheme, _)) => {
                return Err(format!(
                    "listener {item}: the scheme is http or https, not {scheme}"
                ))
            }
            None => (item, false),
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| format!("listener {item}: expected http://host:port"))?;
        let port: u16 = port
            .parse()
            .map_err(|_| format!("listener {item}: port {port} is not a number"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let host = if host.is_empty() { "0.0.0.0" } else { host };
        let addrs = std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
            .map_err(|e| format!("listener {item}: {e}"))?;
        let addr = addrs
            .into_iter()
            .next()
            .ok_or_else(|| format!("listener {item}: {host} resolves to no address"))?;
        out.push(ListenerAddr { addr, https });
    }
    if out.is_empty() {
        return Err(format!("{LISTENERS} is empty"));
    }
    Ok(out)
}

/// The Kafka cluster id once [`spawn_cluster_id_lookup`] found it.
#[derive(Debug, Clone, Default)]
pub struct ClusterId(std::sync::Arc<std::sync::Mutex<Option<String>>>);

impl ClusterId {
    pub fn get(&self) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// Looks the Kafka cluster id up once, in the background, for `GET /`
/// (`admin.*` worker settings apply, as to Java's admin client).
pub fn spawn_cluster_id_lookup(bootstrap: String, worker: Props) -> ClusterId {
    let slot = ClusterId::default();
    let into = slot.0.clone();
    tokio::task::spawn_blocking(move || {
        let mut cfg = rdkafka::ClientConfig::new();
        cfg.set("bootstrap.servers", &bootstrap);
        let admin = crate::connect::config::with_prefix(&worker, "admin.");
        match crate::engine::kafka::client_settings(&[&admin], "admin") {
            Ok(settings) => {
                for (k, v) in settings {
                    cfg.set(k, v);
                }
            }
            Err(e) => tracing::error!(error = %e, "the worker's admin.* client settings"),
        }
        let client: Result<rdkafka::consumer::BaseConsumer, _> = cfg.create();
        let id = client.ok().and_then(|c| {
            rdkafka::consumer::Consumer::client(&c)
                .fetch_cluster_id(std::time::Duration::from_secs(30))
        });
        if id.is_none() {
            tracing::warn!("could not read the Kafka cluster id");
        }
        *into
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = id;
    });
    slot
}

/// Java's `Boolean.parseBoolean` for query parameters: `true` in any case
/// is true, anything else false.
pub(crate) fn java_bool(raw: Option<&str>) -> bool {
    raw.is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// A config map printed as Java's `Map.toString` (`{k=v, k2=v2}`), for the
/// messages that quote one.
pub(crate) fn java_map(props: &Props) -> String {
    let items: Vec<String> = props.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_parse_like_java() {
        let addrs = |raw: &str| -> Vec<(SocketAddr, bool)> {
            parse_listeners(raw)
                .unwrap()
                .into_iter()
                .map(|l| (l.addr, l.https))
                .collect()
        };
        assert_eq!(
            addrs("http://:8083"),
            [("0.0.0.0:8083".parse().unwrap(), false)]
        );
        assert_eq!(
            addrs("http://127.0.0.1:9000, HTTPS://127.0.0.2:9001/"),
            [
                ("127.0.0.1:9000".parse().unwrap(), false),
                ("127.0.0.2:9001".parse().unwrap(), true)
            ]
        );
        assert_eq!(
            addrs("http://[::1]:8083"),
            [("[::1]:8083".parse().unwrap(), false)]
        );
        assert!(parse_listeners("ftp://:8443")
            .unwrap_err()
            .contains("http or https"));
        assert!(parse_listeners("http://localhost").is_err());
        assert!(parse_listeners(" ").is_err());
    }

    #[test]
    fn java_messages() {
        assert_eq!(
            offsets_need_stopped("c").message,
            "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/c/stop' endpoint"
        );
        assert_eq!(
            offsets_modified(true).message,
            "The Connect framework-managed offsets for this connector have been reset successfully. However, if this connector manages offsets externally, they will need to be manually reset in the system that the connector uses."
        );
        let props: Props = [("a".to_string(), "1".to_string()), ("b".into(), "2".into())].into();
        assert_eq!(java_map(&props), "{a=1, b=2}");
        assert!(java_bool(Some("TRUE")) && !java_bool(Some("yes")) && !java_bool(None));
    }
}
