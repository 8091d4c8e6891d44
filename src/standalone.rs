//! Standalone mode: `kconnect standalone worker.properties connector.properties…`,
//! like Java's `connect-standalone.sh`. One process, one worker, file-backed
//! offsets; without `bootstrap.servers` an embedded in-memory Kafka.
//!
//! `config.providers` in the worker config resolves `${provider:[path:]key}`
//! variables in the worker config and in every connector config before they
//! are validated; values that came from a variable are printed `[hidden]`
//! and scrubbed from errors and final task traces.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;

use crate::connect::config::validating_resolved;
use crate::connect::{ConfigProviders, Props, Redactor, ResolveError};
use crate::connectors::AnyConnector;
use crate::engine::connector_config::{
    self, common_topics, ConnectorConfigError, ValidatedConnector,
};
use crate::engine::{TaskState, Worker, WorkerConfig};
use crate::storage::{FileOffsetStore, MemoryOffsetStore, OffsetStore};

#[derive(Debug, thiserror::Error)]
pub enum StandaloneError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("worker config {path}: {source}")]
    Worker {
        path: PathBuf,
        #[source]
        source: crate::connect::ConfigError,
    },
    #[error("{path}: {source}")]
    Resolve {
        path: PathBuf,
        #[source]
        source: ResolveError,
    },
    #[error("{0}")]
    Connector(#[from] ConnectorConfigError),
    #[error("two connectors are named \"{0}\"")]
    DuplicateName(String),
    #[error("{0}")]
    Offsets(#[from] crate::storage::OffsetStoreError),
    #[error("embedded Kafka: {0}")]
    Embedded(rdkafka::error::KafkaError),
    #[error("{0}")]
    Start(#[from] crate::engine::worker::WorkerError),
    #[error("waiting for signals: {0}")]
    Signal(std::io::Error),
}

/// Reads a `.properties`, `.yaml`/`.yml` or `.json` file into flat string
/// properties. YAML/JSON may nest (`{value: {converter: …}}` becomes
/// `value.converter`) and may wrap connector configs in Connect's REST shape
/// (`{"name": …, "config": {…}}`).
pub fn read_props(path: &Path) -> Result<Props, StandaloneError> {
    let text = std::fs::read_to_string(path).map_err(|source| StandaloneError::Read {
        path: path.to_owned(),
        source,
    })?;
    let parse_err = |message: String| StandaloneError::Parse {
        path: path.to_owned(),
        message,
    };
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    match ext {
        "yaml" | "yml" | "json" => {
            let doc: serde_yaml::Value =
                serde_yaml::from_str(&text).map_err(|e| parse_err(e.to_string()))?;
            let mut props = Props::new();
            flatten("", &doc, &mut props).map_err(parse_err)?;
            // REST shape: {"name": "x", "config": {...}}
            if let Some(name) = props.remove("name") {
                let inner: Vec<(String, String)> = props
                    .iter()
                    .filter_map(|(k, v)| {
                        k.strip_prefix("config.").map(|s| (s.to_owned(), v.clone()))
                    })
                    .collect();
                if !inner.is_empty() {
                    props.retain(|k, _| !k.starts_with("config."));
                    props.extend(inner);
                }
                props.entry("name".into()).or_insert(name);
            }
            Ok(props)
        }
        _ => {
            let map =
                java_properties::read(text.as_bytes()).map_err(|e| parse_err(e.to_string()))?;
            Ok(map.into_iter().collect())
        }
    }
}

/// Parses Java .properties text (e.g. from an environment variable).
pub fn parse_properties(text: &str) -> Result<Props, StandaloneError> {
    java_properties::read(text.as_bytes())
        .map(|map| map.into_iter().collect())
        .map_err(|e| StandaloneError::Parse {
            path: "<properties text>".into(),
            message: e.to_string(),
        })
}

fn flatten(prefix: &str, v: &serde_yaml::Value, out: &mut Props) -> Result<(), String> {
    use serde_yaml::Value as Y;
    let key = |k: &str| {
        if prefix.is_empty() {
            k.to_owned()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match v {
        Y::Mapping(m) => {
            for (k, v) in m {
                let k = match k {
                    Y::String(s) => s.clone(),
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    other => return Err(format!("unsupported key {other:?}")),
                };
                flatten(&key(&k), v, out)?;
            }
        }
        Y::Sequence(items) => {
            let mut parts = Vec::new();
            for item in items {
                match item {
                    Y::String(s) => parts.push(s.clone()),
                    Y::Number(n) => parts.push(n.to_string()),
                    Y::Bool(b) => parts.push(b.to_string()),
                    _ => return Err(format!("{prefix}: lists may hold only scalars")),
                }
            }
            out.insert(prefix.to_owned(), parts.join(","));
        }
        Y::String(s) => {
            out.insert(prefix.to_owned(), s.clone());
        }
        Y::Number(n) => {
            out.insert(prefix.to_owned(), n.to_string());
        }
        Y::Bool(b) => {
            out.insert(prefix.to_owned(), b.to_string());
        }
        Y::Null => {}
        Y::Tagged(t) => flatten(prefix, &t.value, out)?,
    }
    Ok(())
}

/// Runs standalone mode until SIGINT/SIGTERM. Returns the final task states.
pub async fn run(
    worker_file: &Path,
    connector_files: &[PathBuf],
) -> Result<Vec<(String, TaskState)>, StandaloneError> {
    let raw_worker = read_props(worker_file)?;
    let worker_err = |source| StandaloneError::Worker {
        path: worker_file.to_owned(),
        source,
    };
    let providers = ConfigProviders::from_worker_props(&raw_worker).map_err(worker_err)?;
    let worker_props =
        providers
            .transform_worker(&raw_worker)
            .map_err(|source| StandaloneError::Resolve {
                path: worker_file.to_owned(),
                source,
            })?;
    let worker_config =
        validating_resolved(|| WorkerConfig::parse(&worker_props.props)).map_err(worker_err)?;

    // Validate every connector before starting anything, like Java does.
    let mut connectors: Vec<Loaded> = Vec::new();
    for file in connector_files {
        let raw = read_props(file)?;
        let resolved = providers
            .transform(&raw)
            .map_err(|source| StandaloneError::Resolve {
                path: file.clone(),
                source,
            })?;
        let redactor = resolved.redactor.clone();
        let (validated, connector) = validating_resolved(|| {
            connector_config::validate(&resolved.props)
        })
        .map_err(|e| ConnectorConfigError {
            message: redactor.redact(&e.message),
            ..e
        })?;
        if connectors
            .iter()
            .any(|c| c.validated.name == validated.name)
        {
            return Err(StandaloneError::DuplicateName(validated.name));
        }
        let def = connector_config::common_def().merge(&connector.as_connector().config_def());
        tracing::info!(
            connector = %validated.name,
            config = %resolved.masked(Some(&def)),
            "connector config"
        );
        connectors.push(Loaded {
            validated,
            connector,
            hidden: resolved.variable_keys,
            redactor,
        });
    }

    // The embedded cluster must outlive the worker: it is dropped at the end.
    let mut embedded: Option<MockCluster<'static, DefaultProducerContext>> = None;
    let bootstrap = match worker_config.bootstrap_servers() {
        Some(b) => b,
        None => {
            let cluster = MockCluster::new(1).map_err(StandaloneError::Embedded)?;
            let servers = cluster.bootstrap_servers();
            let topics: std::collections::BTreeSet<String> = connectors
                .iter()
                .flat_map(|c| topics_of(&c.validated.props))
                .collect();
            for topic in topics {
                cluster
                    .create_topic(&topic, 1, 1)
                    .map_err(StandaloneError::Embedded)?;
            }
            tracing::warn!(
                bootstrap = %servers,
                "no bootstrap.servers: running on an EMBEDDED IN-MEMORY Kafka (librdkafka mock cluster). \
                 Records live only in this process and are gone when it exits; for trying things out only"
            );
            embedded = Some(cluster);
            servers
        }
    };

    let offsets: Arc<dyn OffsetStore> = match worker_config.offset_storage_file() {
        Some(file) => {
            tracing::info!(file = %file, "source offsets stored in file");
            Arc::new(FileOffsetStore::open(&file)?)
        }
        None => {
            tracing::warn!(
                "no offset.storage.file.filename: source offsets are kept in memory only"
            );
            Arc::new(MemoryOffsetStore::default())
        }
    };

    let mut worker = Worker::new(worker_config, bootstrap, offsets);
    for c in &connectors {
        worker.hide_secrets(&c.redactor);
    }
    for c in &connectors {
        worker
            .start_connector(&c.validated, &c.connector)
            .map_err(|e| match e {
                crate::engine::worker::WorkerError::Connector { connector, message } => {
                    crate::engine::worker::WorkerError::Connector {
                        connector,
                        message: c.redactor.redact(&message),
                    }
                }
                other => other,
            })?;
        if let Some(file) = c.validated.props.get("file").filter(|f| !f.is_empty()) {
            let direction = if c.connector.kind() == crate::connect::ConnectorKind::Sink {
                "writing to"
            } else {
                "reading from"
            };
            let file = if c.hidden.contains("file") {
                crate::connect::config::HIDDEN
            } else {
                file.as_str()
            };
            tracing::info!(connector = %c.validated.name, "{direction} {file}");
        }
    }

    let shutdown = worker.shutdown_token();
    let signals = tokio::spawn(async move {
        let result = wait_for_signal().await;
        shutdown.cancel();
        result
    });
    let states = worker.run().await;
    signals.abort();
    for c in &mut connectors {
        c.connector.as_connector_mut().stop();
    }
    drop(embedded);
    Ok(states
        .into_iter()
        .map(|(id, s)| {
            let s = match s {
                TaskState::Failed(trace) => TaskState::Failed(
                    connectors
                        .iter()
                        .find(|c| c.validated.name == id.connector)
                        .map_or(trace.clone(), |c| c.redactor.redact(&trace)),
                ),
                other => other,
            };
            (id.to_string(), s)
        })
        .collect())
}

/// A connector validated with its variables resolved.
struct Loaded {
    validated: ValidatedConnector,
    connector: AnyConnector,
    /// Keys whose raw value held a variable: printed `[hidden]`.
    hidden: std::collections::BTreeSet<String>,
    /// Scrubs the resolved values from errors and traces.
    redactor: Redactor,
}

/// Topics a connector config names (`topic`, `topics`), for pre-creating
/// them on the embedded cluster.
fn topics_of(props: &Props) -> Vec<String> {
    let mut topics = common_topics(props);
    if let Some(t) = props
        .get("topic")
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
    {
        topics.push(t.to_owned());
    }
    topics
}

/// Waits for SIGTERM or SIGINT.
pub async fn wait_for_signal() -> Result<(), StandaloneError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).map_err(StandaloneError::Signal)?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received, stopping"),
        r = tokio::signal::ctrl_c() => {
            r.map_err(StandaloneError::Signal)?;
            tracing::info!("SIGINT received, stopping");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_properties_yaml_and_rest_json() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.properties");
        std::fs::write(
            &p,
            "name=a\nconnector.class=FileStreamSink\n# comment\ntopics = x, y\n",
        )
        .unwrap();
        let props = read_props(&p).unwrap();
        assert_eq!(props["topics"], "x, y");

        let y = dir.path().join("c.yaml");
        std::fs::write(
            &y,
            "name: a\nvalue:\n  converter: StringConverter\ntasks.max: 2\ntopics: [x, y]\n",
        )
        .unwrap();
        let props = read_props(&y).unwrap();
        assert_eq!(props["value.converter"], "StringConverter");
        assert_eq!(props["tasks.max"], "2");
        assert_eq!(props["topics"], "x,y");

        let j = dir.path().join("c.json");
        std::fs::write(
            &j,
            r#"{"name": "a", "config": {"connector.class": "FileStreamSink", "topics": "x"}}"#,
        )
        .unwrap();
        let props = read_props(&j).unwrap();
        assert_eq!(props["name"], "a");
        assert_eq!(props["connector.class"], "FileStreamSink");
    }
}
