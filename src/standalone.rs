//! Standalone mode: `kconnect standalone worker.properties connector.properties…`,
//! like Java's `connect-standalone.sh`. One process, one worker, file-backed
//! offsets; without `bootstrap.servers` an embedded in-memory Kafka.
//!
//! `config.providers` in the worker config resolves `${provider:[path:]key}`
//! variables in the worker config and in every connector config before they
//! are validated; values that came from a variable are printed `[hidden]`
//! and scrubbed from errors and final task traces.
//!
//! Connect's REST API ([`crate::rest`]) serves on `listeners` (default
//! `http://:8083`): connectors are created, reconfigured, paused, resumed,
//! stopped, restarted and deleted at runtime, and their offsets read,
//! altered and reset (KIP-875). A [`Herder`] owns the engine's [`Worker`]
//! and every connector's target state and status; REST calls run as jobs on
//! its loop, between task exits. Pausing stops a connector's tasks (their
//! offsets committed) and reports them PAUSED; resuming starts them again.
//! The REST API shows configs as submitted, variables unresolved.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::future::LocalBoxFuture;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::api::connector::RestartRequest;
use crate::connect::config::validating_resolved;
use crate::connect::config_provider::{has_variable, reverse_transform};
use crate::connect::{
    ConfigProviders, ConnectorKind, OffsetMap, Props, Redactor, ResolveError, TopicPartition,
};
use crate::connectors::AnyConnector;
use crate::engine::connector_config::{
    self, common_topics, connector_alters_offsets, ConnectorConfigError, OffsetChanges,
    ValidatedConnector,
};
use crate::engine::connector_context::{ConnectorEvent, HostedConnector};
use crate::engine::worker::WorkerError;
use crate::engine::{metrics, TaskId, TaskState, Worker, WorkerConfig};
use crate::rest::entities::{
    ConnectorInfo, ConnectorOffset, ConnectorOffsets, ConnectorState, ConnectorStateInfo,
    ConnectorTaskId, ConnectorType, InitialState, Message, TaskInfo, TaskState as RestTaskState,
};
use crate::rest::{self, sink_offsets, Backend, Created, Health, RestError};
use crate::storage::config_topic::TargetState;
use crate::storage::status_topic::State;
use crate::storage::{FileOffsetStore, OffsetStore, OffsetStoreError};

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
    #[error("REST API listener {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
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
///
/// The connectors of the files start first (a bad one fails the start,
/// naming connector and key); then the REST API serves on `listeners` and
/// connectors can be created, changed, paused, stopped, restarted and
/// deleted at runtime, their offsets read and altered.
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
    let listeners =
        rest_listeners(&worker_props.props).map_err(|message| StandaloneError::Parse {
            path: worker_file.to_owned(),
            message,
        })?;

    // Validate every connector before starting anything, like Java does.
    let mut connectors: Vec<(Props, Loaded)> = Vec::new();
    for file in connector_files {
        let raw = read_props(file)?;
        let loaded = load(&providers, &raw).map_err(|e| match e {
            LoadError::Resolve(source) => StandaloneError::Resolve {
                path: file.clone(),
                source,
            },
            LoadError::Invalid(e) => StandaloneError::Connector(e),
        })?;
        if connectors
            .iter()
            .any(|(_, c)| c.validated.name == loaded.validated.name)
        {
            return Err(StandaloneError::DuplicateName(loaded.validated.name));
        }
        connectors.push((raw, loaded));
    }

    // The embedded cluster must outlive the worker: the herder owns it.
    let mut embedded: Option<MockCluster<'static, DefaultProducerContext>> = None;
    let bootstrap = match worker_config.bootstrap_servers() {
        Some(b) => b,
        None => {
            let cluster = MockCluster::new(1).map_err(StandaloneError::Embedded)?;
            let servers = cluster.bootstrap_servers();
            tracing::warn!(
                bootstrap = %servers,
                "no bootstrap.servers: running on an EMBEDDED IN-MEMORY Kafka (librdkafka mock cluster). \
                 Records live only in this process and are gone when it exits; for trying things out only"
            );
            embedded = Some(cluster);
            servers
        }
    };

    let offsets = Arc::new(match worker_config.offset_storage_file() {
        Some(file) => {
            tracing::info!(file = %file, "source offsets stored in file");
            FileOffsetStore::open(Some(PathBuf::from(file)))?
        }
        None => {
            tracing::warn!(
                "no offset.storage.file.filename: source offsets are kept in memory only"
            );
            FileOffsetStore::open(None)?
        }
    });

    let worker_id = worker_id(&worker_props.props, listeners.first().map(|(a, _)| *a));
    let store: Arc<dyn OffsetStore> = offsets.clone();
    let worker = Worker::new(worker_config.clone(), bootstrap.clone(), store);
    let mut herder = Herder {
        worker,
        worker_config,
        worker_props: worker_props.props.clone(),
        bootstrap: bootstrap.clone(),
        providers,
        worker_id,
        offsets,
        embedded,
        connectors: BTreeMap::new(),
        live: BTreeSet::new(),
        stopping: BTreeSet::new(),
        restart_on_exit: BTreeSet::new(),
        secrets: Redactor::default(),
    };
    let mut connector_events = herder
        .worker
        .take_connector_events()
        .expect("a new worker has its connector events");
    for (raw, loaded) in connectors {
        let name = loaded.validated.name.clone();
        herder.add(&name, raw, loaded, TargetState::Started).await?;
    }
    herder.publish_metrics();

    // The REST API. A listener the worker config names must bind; the
    // default one (port 8083) is skipped with an error in the log when the
    // port is taken, so several standalone workers can share a host.
    let stop_rest = CancellationToken::new();
    let (jobs, mut job_rx) = mpsc::channel::<Job>(64);
    let cluster_id = rest::spawn_cluster_id_lookup(bootstrap, herder.worker_props.clone());
    let backend = Arc::new(StandaloneBackend {
        jobs,
        worker_props: herder.worker_props.clone(),
        cluster_id,
        shutdown_timeout: herder.worker_config.task_shutdown_timeout(),
    });
    // This mode's registry: the worker's Connect metrics and its plugins', at /metrics.
    let registry = crate::metrics::registry(|r| {
        metrics::register(r);
        crate::engine::plugin_metrics::register(r);
    });
    for (addr, explicit) in &listeners {
        match rest::bind(&[*addr]).await {
            Ok(bound) => rest::serve(bound, backend.clone(), registry.clone(), stop_rest.clone()),
            Err((addr, e)) if !explicit => tracing::error!(
                %addr,
                error = %e,
                "the REST API is not served: the default listener's port is taken; set listeners=http://host:port in the worker config"
            ),
            Err((addr, e)) => return Err(StandaloneError::Listen { addr, source: e }),
        }
    }

    let signals = tokio::spawn(wait_for_signal());
    tokio::pin!(signals);
    loop {
        tokio::select! {
            biased;
            result = &mut signals => {
                if let Ok(Err(e)) = result {
                    tracing::error!("{e}");
                }
                break;
            }
            Some(job) = job_rx.recv() => job(&mut herder).await,
            Some(event) = connector_events.recv() => herder.on_connector_event(event).await,
            Some((id, state)) = herder.worker.next_exit() => herder.on_exit(id, state),
        }
        herder.publish_metrics();
    }
    stop_rest.cancel();
    job_rx.close();
    let Herder {
        worker,
        mut connectors,
        secrets,
        embedded,
        ..
    } = herder;
    worker.shutdown_token().cancel();
    let states = worker.run().await;
    for (name, conn) in connectors.iter_mut() {
        if let Some(loaded) = &mut conn.loaded {
            loaded.stop_instance(name).await;
        }
    }
    drop(embedded);
    Ok(states
        .into_iter()
        .map(|(id, s)| {
            let s = match s {
                TaskState::Failed(trace) => TaskState::Failed(secrets.redact(&trace)),
                other => other,
            };
            (id.to_string(), s)
        })
        .collect())
}

/// The REST listeners of a worker config, each with whether the config
/// named it (else it is Java's default, `http://:8083`).
fn rest_listeners(worker: &Props) -> Result<Vec<(SocketAddr, bool)>, String> {
    let configured = worker
        .get(rest::LISTENERS)
        .map(|l| l.trim())
        .filter(|l| !l.is_empty());
    let addrs = rest::parse_listeners(configured.unwrap_or(rest::DEFAULT_LISTENERS))?;
    Ok(addrs
        .into_iter()
        .map(|a| (a, configured.is_some()))
        .collect())
}

/// Java's worker id: the advertised `host:port` of the REST API
/// (`rest.advertised.host.name` / `rest.advertised.port`, else the
/// listener's, with the host name for a wildcard address).
fn worker_id(worker: &Props, listener: Option<SocketAddr>) -> String {
    let host = worker
        .get("rest.advertised.host.name")
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| {
            listener
                .map(|a| a.ip())
                .filter(|ip| !ip.is_unspecified())
                .map(|ip| ip.to_string())
        })
        .unwrap_or_else(hostname);
    let port = worker
        .get("rest.advertised.port")
        .and_then(|p| p.trim().parse::<u16>().ok())
        .or(listener.map(|a| a.port()))
        .unwrap_or(8083);
    format!("{host}:{port}")
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "localhost".to_owned())
}

/// A connector config that passed validation with its variables resolved.
struct Loaded {
    validated: ValidatedConnector,
    connector: AnyConnector,
    /// The connector config with its variables resolved.
    resolved: Props,
    /// Scrubs the resolved values from errors and traces.
    redactor: Redactor,
    /// The running connector instance's context; `None` until `start`ed.
    context: Option<Arc<HostedConnector>>,
}

impl Loaded {
    /// Stops the connector instance if it runs (Java's `Connector.stop`).
    async fn stop_instance(&mut self, name: &str) {
        if let Some(ctx) = self.context.take() {
            if let Err(e) = self.connector.as_connector_mut().stop().await {
                tracing::warn!(connector = %name, error = %self.redactor.redact(&e.trace()), "connector stop failed");
            }
            ctx.release();
        }
    }
}

enum LoadError {
    Resolve(ResolveError),
    Invalid(ConnectorConfigError),
}

/// Resolves a connector config's variables and validates the result.
fn load(providers: &ConfigProviders, raw: &Props) -> Result<Loaded, LoadError> {
    let resolved = providers.transform(raw).map_err(LoadError::Resolve)?;
    let redactor = resolved.redactor.clone();
    let (validated, connector) =
        validating_resolved(|| connector_config::validate(&resolved.props)).map_err(|e| {
            LoadError::Invalid(ConnectorConfigError {
                message: redactor.redact(&e.message),
                ..e
            })
        })?;
    let def = connector_config::common_def().merge(&connector.as_connector().config_def());
    tracing::info!(
        connector = %validated.name,
        config = %resolved.masked(Some(&def)),
        "connector config"
    );
    Ok(Loaded {
        validated,
        connector,
        resolved: resolved.props,
        redactor,
        context: None,
    })
}

/// Topics a connector config names (`topic`, `topics`): created up front
/// on the embedded cluster, and the connector's active topics.
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

/// Work for the herder, run on its loop with exclusive access.
type Job = Box<dyn for<'a> FnOnce(&'a mut Herder) -> LocalBoxFuture<'a, ()> + Send>;

/// One connector of the herder.
struct Conn {
    /// The config as submitted, variables unresolved: what the API shows.
    raw: Props,
    target: TargetState,
    kind: ConnectorKind,
    /// Validated and instantiated; `None` when that failed.
    loaded: Option<Loaded>,
    state: State,
    trace: Option<String>,
    /// Task configs (resolved) the tasks start with; empty when stopped.
    task_configs: Vec<Props>,
    task_states: BTreeMap<u32, (State, Option<String>)>,
    /// KIP-558 active topics.
    topics: BTreeSet<String>,
}

impl Conn {
    fn task_count(&self) -> usize {
        self.task_configs.len()
    }

    /// Task configs as shown: variables of the raw config put back.
    fn raw_task_configs(&self) -> Vec<Props> {
        self.task_configs
            .iter()
            .map(|c| reverse_transform(&self.raw, c.clone()))
            .collect()
    }
}

/// Standalone's herder: the one worker's connectors, their target states
/// and statuses, over the engine's [`Worker`].
struct Herder {
    worker: Worker,
    worker_config: WorkerConfig,
    worker_props: Props,
    bootstrap: String,
    providers: ConfigProviders,
    worker_id: String,
    offsets: Arc<FileOffsetStore>,
    embedded: Option<MockCluster<'static, DefaultProducerContext>>,
    connectors: BTreeMap<String, Conn>,
    /// Tasks whose loop runs (started and not yet ended).
    live: BTreeSet<TaskId>,
    /// Tasks asked to stop: their end is expected.
    stopping: BTreeSet<TaskId>,
    /// Tasks to start again once they ended.
    restart_on_exit: BTreeSet<TaskId>,
    /// Every resolved value ever loaded, scrubbed from final states.
    secrets: Redactor,
}

fn task_id(name: &str, task: u32) -> TaskId {
    TaskId {
        connector: name.to_owned(),
        task: task as usize,
    }
}

impl Herder {
    /// Adds a validated connector and starts it in `target` state. A
    /// failure to start its tasks is the error (files at startup).
    async fn add(
        &mut self,
        name: &str,
        raw: Props,
        loaded: Loaded,
        target: TargetState,
    ) -> Result<(), WorkerError> {
        if let Some(cluster) = &self.embedded {
            for topic in topics_of(&loaded.resolved) {
                if let Err(e) = cluster.create_topic(&topic, 1, 1) {
                    tracing::debug!(topic = %topic, error = %e, "creating a topic on the embedded cluster failed");
                }
            }
        }
        self.secrets = self.secrets.merged(&loaded.redactor);
        self.worker.hide_secrets(&loaded.redactor);
        if let Some(file) = loaded.validated.props.get("file").filter(|f| !f.is_empty()) {
            let direction = if loaded.connector.kind() == ConnectorKind::Sink {
                "writing to"
            } else {
                "reading from"
            };
            let file = if raw.get("file").is_some_and(|v| has_variable(v)) {
                crate::connect::config::HIDDEN
            } else {
                file.as_str()
            };
            tracing::info!(connector = %name, "{direction} {file}");
        }
        let conn = Conn {
            raw,
            target,
            kind: loaded.connector.kind(),
            loaded: Some(loaded),
            state: State::Unassigned,
            trace: None,
            task_configs: Vec::new(),
            task_states: BTreeMap::new(),
            topics: BTreeSet::new(),
        };
        self.connectors.insert(name.to_owned(), conn);
        self.start_connector(name).await
    }

    /// Brings a connector to its target state: computes task configs and
    /// starts the tasks (STARTED), or reports PAUSED / STOPPED.
    async fn start_connector(&mut self, name: &str) -> Result<(), WorkerError> {
        let Some(conn) = self.connectors.get_mut(name) else {
            return Ok(());
        };
        match conn.target {
            TargetState::Paused => {
                conn.state = State::Paused;
                conn.trace = None;
                for s in conn.task_states.values_mut() {
                    *s = (State::Paused, None);
                }
                return Ok(());
            }
            TargetState::Stopped => {
                conn.state = State::Stopped;
                conn.trace = None;
                conn.task_configs.clear();
                conn.task_states.clear();
                if let Some(loaded) = &mut conn.loaded {
                    loaded.stop_instance(name).await;
                }
                return Ok(());
            }
            TargetState::Started => {}
        }
        let Some(loaded) = &mut conn.loaded else {
            return Ok(());
        };
        let started = match &loaded.context {
            Some(_) => Ok(()),
            None => {
                let ctx = self.worker.connector_context(name);
                let started = loaded
                    .connector
                    .as_connector_mut()
                    .start(ctx.clone(), &loaded.resolved)
                    .await;
                match started {
                    Ok(()) => {
                        loaded.context = Some(ctx);
                        Ok(())
                    }
                    Err(e) => {
                        ctx.release();
                        Err(e)
                    }
                }
            }
        };
        let computed = match started {
            Ok(()) => {
                loaded
                    .connector
                    .as_connector()
                    .task_configs(loaded.validated.tasks_max)
                    .await
            }
            Err(e) => Err(e),
        };
        metrics::connector_startup(computed.is_ok());
        match computed {
            Ok(configs) => {
                tracing::info!(connector = %name, tasks = configs.len(), class = loaded.validated.plugin.class, "starting connector");
                conn.state = State::Running;
                conn.trace = None;
                conn.task_states
                    .retain(|n, _| (*n as usize) < configs.len());
                conn.task_configs =
                    connector_config::complete_task_configs(&loaded.validated, configs);
            }
            Err(e) => {
                let trace = loaded.redactor.redact(&e.trace());
                conn.state = State::Failed;
                conn.trace = Some(trace.clone());
                return Err(WorkerError::Connector {
                    connector: name.to_owned(),
                    message: trace,
                });
            }
        }
        let count = conn.task_count() as u32;
        let mut first_error = None;
        for n in 0..count {
            if let Err(e) = self.start_task(name, n) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Starts task `n` unless it runs (one that is stopping starts again
    /// when it ended).
    fn start_task(&mut self, name: &str, n: u32) -> Result<(), WorkerError> {
        let id = task_id(name, n);
        if self.live.contains(&id) {
            // Still stopping (e.g. resumed right after a pause): start it
            // again once it ended.
            if self.stopping.contains(&id) {
                self.restart_on_exit.insert(id);
            }
            return Ok(());
        }
        let Some(conn) = self.connectors.get_mut(name) else {
            return Ok(());
        };
        let (Some(loaded), Some(config)) = (&conn.loaded, conn.task_configs.get(n as usize)) else {
            return Ok(());
        };
        match self.worker.start_task(
            n as usize,
            &loaded.validated,
            &loaded.connector,
            config.clone(),
        ) {
            Ok(()) => {
                conn.task_states.insert(n, (State::Running, None));
                conn.topics.extend(topics_of(&loaded.resolved));
                self.live.insert(id);
                Ok(())
            }
            Err(e) => {
                let e = match e {
                    WorkerError::Connector { connector, message } => WorkerError::Connector {
                        connector,
                        message: loaded.redactor.redact(&message),
                    },
                    other => other,
                };
                tracing::error!(task = %id, error = %e, "task failed to start");
                conn.task_states.insert(
                    n,
                    (State::Failed, Some(loaded.redactor.redact(&e.to_string()))),
                );
                Err(e)
            }
        }
    }

    /// Asks the connector's running tasks to stop (they commit first).
    fn stop_tasks(&mut self, name: &str) {
        let ids: Vec<TaskId> = self
            .live
            .iter()
            .filter(|id| id.connector == name)
            .cloned()
            .collect();
        for id in ids {
            self.restart_on_exit.remove(&id);
            self.stopping.insert(id.clone());
            self.worker.stop_task(&id);
        }
    }

    /// Tasks of `name` still running or stopping.
    fn live_tasks(&self, name: &str) -> usize {
        self.live.iter().filter(|id| id.connector == name).count()
    }

    /// A connector's request through its context.
    async fn on_connector_event(&mut self, event: ConnectorEvent) {
        let name = event.connector().to_owned();
        let running = self
            .connectors
            .get(&name)
            .is_some_and(|c| c.loaded.as_ref().is_some_and(|l| l.context.is_some()));
        if !running {
            // From a run that has been stopped since.
            return;
        }
        match event {
            ConnectorEvent::Reconfigure { .. } => self.reconfigure(&name, false).await,
            ConnectorEvent::Failed { trace, .. } => {
                if let Some(conn) = self.connectors.get_mut(&name) {
                    let trace = conn
                        .loaded
                        .as_ref()
                        .map_or(trace.clone(), |l| l.redactor.redact(&trace));
                    conn.state = State::Failed;
                    conn.trace = Some(trace);
                }
            }
        }
    }

    fn on_exit(&mut self, id: TaskId, state: TaskState) {
        self.live.remove(&id);
        let requested = self.stopping.remove(&id);
        let n = id.task as u32;
        if self.restart_on_exit.remove(&id) {
            if self
                .connectors
                .get(&id.connector)
                .is_some_and(|c| c.target == TargetState::Started)
            {
                let _ = self.start_task(&id.connector, n);
            }
            return;
        }
        let Some(conn) = self.connectors.get_mut(&id.connector) else {
            return;
        };
        match state {
            TaskState::Failed(trace) => {
                let trace = conn
                    .loaded
                    .as_ref()
                    .map_or(trace.clone(), |l| l.redactor.redact(&trace));
                conn.task_states.insert(n, (State::Failed, Some(trace)));
            }
            _ if requested => {}
            _ => {
                conn.task_states.insert(n, (State::Unassigned, None));
            }
        }
    }

    /// Brings the connector and task statuses of the metrics in line with
    /// the herder's (after every change: one place instead of one call per
    /// transition).
    fn publish_metrics(&self) {
        for (name, conn) in &self.connectors {
            if let Some(loaded) = &conn.loaded {
                metrics::set_connector(
                    name,
                    loaded.validated.plugin.class,
                    conn.kind,
                    loaded.connector.as_connector().version(),
                    conn.state.into(),
                );
            } else {
                metrics::set_connector_status(name, conn.state.into());
            }
            for (n, (state, _)) in &conn.task_states {
                metrics::set_task_status(&task_id(name, *n), (*state).into());
            }
        }
        metrics::retain(
            |name| self.connectors.contains_key(name),
            |id| self.connectors.contains_key(&id.connector),
        );
    }

    fn conn(&self, name: &str) -> Result<&Conn, RestError> {
        self.connectors
            .get(name)
            .ok_or_else(|| RestError::connector_not_found(name))
    }

    fn info(&self, name: &str) -> Result<ConnectorInfo, RestError> {
        let conn = self.conn(name)?;
        Ok(ConnectorInfo::new(
            name,
            conn.raw.clone(),
            conn.task_count(),
        ))
    }

    fn status(&self, name: &str) -> Option<ConnectorStateInfo> {
        let conn = self.connectors.get(name)?;
        Some(ConnectorStateInfo {
            name: name.to_owned(),
            connector: ConnectorState {
                state: conn.state,
                worker_id: self.worker_id.clone(),
                trace: conn.trace.clone(),
            },
            tasks: conn
                .task_states
                .iter()
                .map(|(id, (state, trace))| RestTaskState {
                    id: *id,
                    state: *state,
                    worker_id: self.worker_id.clone(),
                    trace: trace.clone(),
                })
                .collect(),
            kind: ConnectorType::from(conn.kind),
        })
    }

    /// Java's `putConnectorConfig` once the config validated.
    async fn put(
        &mut self,
        name: &str,
        raw: Props,
        loaded: Loaded,
        allow_replace: bool,
        initial: Option<InitialState>,
    ) -> Result<Created<ConnectorInfo>, RestError> {
        let created = match self.connectors.get_mut(name) {
            Some(_) if !allow_replace => {
                return Err(RestError::conflict(format!(
                    "Connector {name} already exists"
                )))
            }
            Some(conn) => {
                if let Some(old) = &mut conn.loaded {
                    old.stop_instance(name).await;
                }
                false
            }
            None => true,
        };
        if created {
            let target = match initial {
                Some(InitialState::Paused) => TargetState::Paused,
                Some(InitialState::Stopped) => TargetState::Stopped,
                _ => TargetState::Started,
            };
            if let Err(e) = self.add(name, raw, loaded, target).await {
                tracing::error!(connector = %name, error = %e, "connector failed to start");
            }
        } else {
            // Reconfigure: every task restarts with the new config, tasks
            // beyond the new count stop.
            let conn = self.connectors.get_mut(name).expect("checked above");
            self.secrets = self.secrets.merged(&loaded.redactor);
            self.worker.hide_secrets(&loaded.redactor);
            conn.raw = raw;
            conn.kind = loaded.connector.kind();
            conn.loaded = Some(loaded);
            self.reconfigure(name, true).await;
        }
        Ok(Created {
            created,
            result: self.info(name)?,
        })
    }

    /// Recomputes task configs of a (re)loaded connector and starts what
    /// does not run; running tasks restart when `force` or when their
    /// configs changed, and stop when no longer wanted.
    async fn reconfigure(&mut self, name: &str, force: bool) {
        let before = self
            .connectors
            .get(name)
            .map(|c| c.task_configs.clone())
            .unwrap_or_default();
        let live: Vec<TaskId> = self
            .live
            .iter()
            .filter(|id| id.connector == name)
            .cloned()
            .collect();
        if let Err(e) = self.start_connector(name).await {
            tracing::error!(connector = %name, error = %e, "connector failed to start");
        }
        let Some(conn) = self.connectors.get(name) else {
            return;
        };
        let changed = conn.task_configs != before;
        let wanted =
            |id: &TaskId| conn.target == TargetState::Started && id.task < conn.task_count();
        let (keep, unwanted): (Vec<TaskId>, Vec<TaskId>) =
            live.into_iter().partition(|id| wanted(id));
        for id in unwanted {
            self.restart_on_exit.remove(&id);
            self.stopping.insert(id.clone());
            self.worker.stop_task(&id);
        }
        if force || changed {
            for id in keep {
                self.restart_task_now(name, id.task as u32);
            }
        }
    }

    async fn pause(&mut self, name: &str) -> Result<(), RestError> {
        let conn = self
            .connectors
            .get_mut(name)
            .ok_or_else(|| RestError::not_found(format!("Unknown connector {name}")))?;
        if conn.target == TargetState::Paused {
            return Ok(());
        }
        conn.target = TargetState::Paused;
        // Set before the tasks end, so their metrics stay (as `paused`).
        for id in self.live.iter().filter(|id| id.connector == name) {
            metrics::set_task_status(id, metrics::Status::Paused);
        }
        self.stop_tasks(name);
        let _ = self.start_connector(name).await;
        Ok(())
    }

    async fn resume(&mut self, name: &str) -> Result<(), RestError> {
        let conn = self
            .connectors
            .get_mut(name)
            .ok_or_else(|| RestError::not_found(format!("Unknown connector {name}")))?;
        if conn.target == TargetState::Started {
            return Ok(());
        }
        conn.target = TargetState::Started;
        if let Err(e) = self.start_connector(name).await {
            tracing::error!(connector = %name, error = %e, "connector failed to resume");
        }
        Ok(())
    }

    async fn stop(&mut self, name: &str) -> Result<(), RestError> {
        let conn = self
            .connectors
            .get_mut(name)
            .ok_or_else(|| RestError::not_found(format!("Unknown connector {name}")))?;
        conn.target = TargetState::Stopped;
        self.stop_tasks(name);
        let _ = self.start_connector(name).await;
        Ok(())
    }

    async fn delete(&mut self, name: &str) -> Result<(), RestError> {
        let mut conn = self
            .connectors
            .remove(name)
            .ok_or_else(|| RestError::connector_not_found(name))?;
        self.stop_tasks(name);
        if let Some(loaded) = &mut conn.loaded {
            loaded.stop_instance(name).await;
        }
        tracing::info!(connector = %name, "connector deleted");
        Ok(())
    }

    /// Java's `restartConnectorAndTasks` (and plain `restartConnector`).
    async fn restart(
        &mut self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<Option<ConnectorStateInfo>, RestError> {
        let plain = !include_tasks && !only_failed;
        let conn = self.connectors.get(name).ok_or_else(|| {
            if plain {
                RestError::connector_not_found(name)
            } else {
                RestError::not_found(format!("Unknown connector: {name}"))
            }
        })?;
        let request = RestartRequest {
            include_tasks,
            only_failed,
        };
        let restart_connector = request.restarts_connector(conn.state);
        let tasks: Vec<u32> = conn
            .task_states
            .iter()
            .filter(|(_, (s, _))| request.restarts_task(*s))
            .map(|(n, _)| *n)
            .collect();
        let mut plan = self.status(name).expect("the connector exists");
        if restart_connector {
            plan.connector.state = State::Restarting;
        }
        for t in &mut plan.tasks {
            if tasks.contains(&t.id) {
                t.state = State::Restarting;
            }
        }
        tracing::info!(connector = %name, restart_connector, tasks = ?tasks, "restarting");
        if restart_connector {
            let raw = conn.raw.clone();
            match load(&self.providers, &raw) {
                Ok(loaded) => {
                    let conn = self.connectors.get_mut(name).expect("exists");
                    if let Some(old) = &mut conn.loaded {
                        old.stop_instance(name).await;
                    }
                    conn.loaded = Some(loaded);
                    self.reconfigure(name, false).await;
                }
                Err(e) => {
                    let message = match e {
                        LoadError::Resolve(e) => e.to_string(),
                        LoadError::Invalid(e) => e.message,
                    };
                    let conn = self.connectors.get_mut(name).expect("exists");
                    conn.state = State::Failed;
                    conn.trace = Some(message);
                }
            }
        }
        for n in tasks {
            self.restart_task_now(name, n);
        }
        Ok((!plain).then_some(plan))
    }

    /// Restarts one task: a running one once it stopped, else now.
    fn restart_task_now(&mut self, name: &str, n: u32) {
        let id = task_id(name, n);
        let started = self
            .connectors
            .get(name)
            .is_some_and(|c| c.target == TargetState::Started);
        if !started {
            return;
        }
        if let Some(conn) = self.connectors.get_mut(name) {
            conn.task_states.insert(n, (State::Restarting, None));
        }
        if self.live.contains(&id) {
            self.stopping.insert(id.clone());
            self.worker.stop_task(&id);
            self.restart_on_exit.insert(id);
        } else {
            let _ = self.start_task(name, n);
        }
    }

    fn restart_task(&mut self, name: &str, n: u32) -> Result<(), RestError> {
        let conn = self.conn(name)?;
        if (n as usize) >= conn.task_count() {
            return Err(RestError::not_found(format!("Task {name}-{n} not found")));
        }
        self.restart_task_now(name, n);
        Ok(())
    }

    /// What reading or changing offsets needs, outside the herder's loop.
    fn offsets_plan(&self, name: &str, modify: bool) -> Result<OffsetsPlan, RestError> {
        let conn = self.conn(name)?;
        if modify && (conn.target != TargetState::Stopped || self.live_tasks(name) > 0) {
            return Err(rest::offsets_need_stopped(name));
        }
        Ok(match conn.kind {
            ConnectorKind::Source => OffsetsPlan::Source {
                store: self.offsets.clone(),
                props: conn
                    .loaded
                    .as_ref()
                    .map_or_else(|| conn.raw.clone(), |l| l.resolved.clone()),
            },
            ConnectorKind::Sink => {
                let props = conn
                    .loaded
                    .as_ref()
                    .map_or_else(|| conn.raw.clone(), |l| l.resolved.clone());
                OffsetsPlan::Sink {
                    cfg: sink_offsets::client_config(
                        &self.bootstrap,
                        &self.worker_props,
                        &props,
                        name,
                    ),
                    props,
                }
            }
        })
    }
}

/// Where a connector's offsets live.
enum OffsetsPlan {
    Source {
        store: Arc<FileOffsetStore>,
        /// The connector's config, for its `alter_offsets` hook.
        props: Props,
    },
    Sink {
        cfg: rdkafka::ClientConfig,
        props: Props,
    },
}

/// The REST API's view of the standalone herder: calls run as jobs on the
/// herder's loop.
struct StandaloneBackend {
    jobs: mpsc::Sender<Job>,
    worker_props: Props,
    cluster_id: rest::ClusterId,
    shutdown_timeout: Duration,
}

impl StandaloneBackend {
    async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Herder) -> R + Send + 'static,
    ) -> Result<R, RestError> {
        self.call_async(move |h| {
            let r = f(h);
            Box::pin(async move { r })
        })
        .await
    }

    /// [`Self::call`] for herder work that awaits (a connector's start or
    /// stop).
    async fn call_async<R: Send + 'static>(
        &self,
        f: impl for<'a> FnOnce(&'a mut Herder) -> LocalBoxFuture<'a, R> + Send + 'static,
    ) -> Result<R, RestError> {
        let (tx, rx) = oneshot::channel();
        let gone = || RestError::internal("The worker is shutting down");
        self.jobs
            .send(Box::new(move |h| {
                Box::pin(async move {
                    let _ = tx.send(f(h).await);
                })
            }))
            .await
            .map_err(|_| gone())?;
        rx.await.map_err(|_| gone())
    }

    /// Waits until the connector's tasks ended (offsets committed), like
    /// Java's `stopAndAwaitTasks`.
    async fn await_tasks_stopped(&self, name: &str) -> Result<(), RestError> {
        let deadline = tokio::time::Instant::now() + self.shutdown_timeout + Duration::from_secs(5);
        loop {
            let owned = name.to_owned();
            if self.call(move |h| h.live_tasks(&owned)).await? == 0 {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!(connector = %name, "tasks did not stop within task.shutdown.graceful.timeout.ms");
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn blocking<R: Send + 'static>(
        f: impl FnOnce() -> Result<R, RestError> + Send + 'static,
    ) -> Result<R, RestError> {
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| RestError::internal(format!("offsets request failed: {e}")))?
    }
}

/// The connector's `alter_offsets` hook, before any offset is written; its
/// error fails the request as in Java.
async fn connector_says(
    name: &str,
    props: &Props,
    changes: &OffsetChanges,
) -> Result<(), RestError> {
    connector_alters_offsets(props, changes)
        .await
        .map(|_| ())
        .map_err(|e| {
            RestError::internal(format!(
                "Failed to alter offsets for connector {name} because it threw an exception: {}",
                e.trace()
            ))
        })
}

fn offsets_error(e: OffsetStoreError) -> RestError {
    RestError::internal(format!("Failed to write offsets: {e}"))
}

#[async_trait]
impl Backend for StandaloneBackend {
    async fn kafka_cluster_id(&self) -> Option<String> {
        self.cluster_id.get()
    }

    async fn health(&self) -> Health {
        match self.call(|_| ()).await {
            Ok(()) => Health::Healthy,
            Err(e) => Health::Unhealthy(e.message),
        }
    }

    fn worker_props(&self) -> &Props {
        &self.worker_props
    }

    async fn connectors(&self) -> Vec<String> {
        self.call(|h| h.connectors.keys().cloned().collect())
            .await
            .unwrap_or_default()
    }

    async fn connector_info(&self, name: &str) -> Result<ConnectorInfo, RestError> {
        let name = name.to_owned();
        self.call(move |h| h.info(&name)).await?
    }

    async fn connector_config(&self, name: &str) -> Result<Props, RestError> {
        let name = name.to_owned();
        self.call(move |h| h.conn(&name).map(|c| c.raw.clone()))
            .await?
    }

    async fn connector_status(&self, name: &str) -> Result<ConnectorStateInfo, RestError> {
        let name = name.to_owned();
        self.call(move |h| {
            h.status(&name).ok_or_else(|| {
                RestError::not_found(format!("No status found for connector {name}"))
            })
        })
        .await?
    }

    async fn task_configs(&self, name: &str) -> Result<Vec<TaskInfo>, RestError> {
        let name = name.to_owned();
        self.call(move |h| {
            let conn = h.conn(&name)?;
            Ok(conn
                .raw_task_configs()
                .into_iter()
                .enumerate()
                .map(|(n, config)| TaskInfo {
                    id: ConnectorTaskId {
                        connector: name.clone(),
                        task: n as u32,
                    },
                    config,
                })
                .collect())
        })
        .await?
    }

    async fn task_status(&self, name: &str, task: u32) -> Result<RestTaskState, RestError> {
        let name = name.to_owned();
        self.call(move |h| {
            h.status(&name)
                .and_then(|s| s.tasks.into_iter().find(|t| t.id == task))
                .ok_or_else(|| {
                    RestError::not_found(format!("No status found for task {name}-{task}"))
                })
        })
        .await?
    }

    async fn plugin_version(&self, name: &str) -> Option<String> {
        let name = name.to_owned();
        self.call(move |h| {
            let loaded = h.connectors.get(&name)?.loaded.as_ref()?;
            Some(loaded.connector.as_connector().version().to_owned())
        })
        .await
        .ok()
        .flatten()
    }

    async fn active_topics(&self, name: &str) -> Result<Vec<String>, RestError> {
        let name = name.to_owned();
        self.call(move |h| {
            h.connectors
                .get(&name)
                .map(|c| c.topics.iter().cloned().collect())
                .unwrap_or_default()
        })
        .await
    }

    async fn offsets(&self, name: &str) -> Result<ConnectorOffsets, RestError> {
        let owned = name.to_owned();
        let plan = self.call(move |h| h.offsets_plan(&owned, false)).await??;
        let offsets = match plan {
            OffsetsPlan::Source { store, .. } => store
                .list(name)
                .into_iter()
                .map(|(partition, offset)| ConnectorOffset {
                    partition,
                    offset: Some(offset),
                })
                .collect(),
            OffsetsPlan::Sink { cfg, props } => {
                Self::blocking(move || sink_offsets::read(&cfg, &props)).await?
            }
        };
        Ok(ConnectorOffsets { offsets })
    }

    async fn put_connector_config(
        &self,
        name: &str,
        config: Props,
        allow_replace: bool,
        initial_state: Option<InitialState>,
    ) -> Result<Created<ConnectorInfo>, RestError> {
        // Validated off the herder's loop: the raw config first (every
        // field's errors), then resolved.
        let raw = config.clone();
        let infos = tokio::task::spawn_blocking(move || rest::plugins::validate(&raw))
            .await
            .map_err(|e| RestError::internal(format!("validation failed: {e}")))??;
        if let Some(e) = rest::plugins::invalid_config(&infos) {
            return Err(e);
        }
        let name = name.to_owned();
        self.call_async(move |h| {
            Box::pin(async move {
                let loaded = load(&h.providers, &config).map_err(|e| match e {
                    LoadError::Resolve(e) => RestError::bad_request(e.to_string()),
                    LoadError::Invalid(e) => RestError::bad_request(e.message),
                })?;
                h.put(&name, config, loaded, allow_replace, initial_state)
                    .await
            })
        })
        .await?
    }

    async fn delete_connector(&self, name: &str) -> Result<(), RestError> {
        let owned = name.to_owned();
        self.call_async(move |h| Box::pin(async move { h.delete(&owned).await }))
            .await??;
        self.await_tasks_stopped(name).await
    }

    async fn pause_connector(&self, name: &str) -> Result<(), RestError> {
        let name = name.to_owned();
        self.call_async(move |h| Box::pin(async move { h.pause(&name).await }))
            .await?
    }

    async fn resume_connector(&self, name: &str) -> Result<(), RestError> {
        let name = name.to_owned();
        self.call_async(move |h| Box::pin(async move { h.resume(&name).await }))
            .await?
    }

    async fn stop_connector(&self, name: &str) -> Result<(), RestError> {
        let owned = name.to_owned();
        self.call_async(move |h| Box::pin(async move { h.stop(&owned).await }))
            .await??;
        self.await_tasks_stopped(name).await
    }

    async fn restart_connector(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<Option<ConnectorStateInfo>, RestError> {
        let name = name.to_owned();
        self.call_async(move |h| {
            Box::pin(async move { h.restart(&name, include_tasks, only_failed).await })
        })
        .await?
    }

    async fn restart_task(&self, name: &str, task: u32) -> Result<(), RestError> {
        let name = name.to_owned();
        self.call(move |h| h.restart_task(&name, task)).await?
    }

    async fn reset_active_topics(&self, name: &str) -> Result<(), RestError> {
        let name = name.to_owned();
        self.call(move |h| {
            if let Some(c) = h.connectors.get_mut(&name) {
                c.topics.clear();
            }
        })
        .await
    }

    async fn alter_offsets(
        &self,
        name: &str,
        offsets: Vec<ConnectorOffset>,
    ) -> Result<Message, RestError> {
        let owned = name.to_owned();
        let plan = self.call(move |h| h.offsets_plan(&owned, true)).await??;
        match plan {
            OffsetsPlan::Source { store, props } => {
                let changes: Vec<(OffsetMap, Option<OffsetMap>)> = offsets
                    .into_iter()
                    .map(|o| (o.partition, o.offset))
                    .collect();
                let changes = OffsetChanges::Source(changes);
                connector_says(name, &props, &changes).await?;
                let OffsetChanges::Source(changes) = changes else {
                    unreachable!("built as source changes above")
                };
                store.modify(name, &changes).map_err(offsets_error)?;
            }
            OffsetsPlan::Sink { cfg, props } => {
                let changes = sink_offsets::parse(&offsets)?;
                let hook = OffsetChanges::Sink(
                    changes
                        .iter()
                        .map(|((t, p), o)| (TopicPartition::new(t.clone(), *p), *o))
                        .collect(),
                );
                connector_says(name, &props, &hook).await?;
                let group = sink_offsets::group(name);
                Self::blocking(move || sink_offsets::alter(&cfg, &props, &group, changes)).await?;
            }
        }
        Ok(rest::offsets_modified(false))
    }

    async fn reset_offsets(&self, name: &str) -> Result<Message, RestError> {
        let owned = name.to_owned();
        let plan = self.call(move |h| h.offsets_plan(&owned, true)).await??;
        match plan {
            OffsetsPlan::Source { store, props } => {
                let all = store
                    .list(name)
                    .into_iter()
                    .map(|(p, _)| (p, None))
                    .collect();
                connector_says(name, &props, &OffsetChanges::Source(all)).await?;
                store.remove_all(name).map_err(offsets_error)?
            }
            OffsetsPlan::Sink { cfg, props } => {
                let (read, connector) = (cfg.clone(), props.clone());
                let committed =
                    Self::blocking(move || sink_offsets::read(&read, &connector)).await?;
                let all = sink_offsets::parse(&committed)?
                    .into_iter()
                    .map(|((t, p), _)| (TopicPartition::new(t, p), None))
                    .collect();
                connector_says(name, &props, &OffsetChanges::Sink(all)).await?;
                let group = sink_offsets::group(name);
                Self::blocking(move || sink_offsets::reset(&cfg, &group)).await?;
            }
        }
        Ok(rest::offsets_modified(true))
    }
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
