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
//! altered and reset (KIP-875). The shared [`Herder`] runs the connectors
//! and tasks; this adapter keeps every connector's target state and status
//! and runs REST calls as jobs on its loop, between task exits. Pausing stops a connector's tasks (their
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
use crate::engine::connector_config::{
    common_topics, offsets_request_allowed, ConnectorConfigError, OffsetChanges,
};
use crate::engine::connector_context::ConnectorEvent;
use crate::engine::herder::{
    connector_task_targets, AlreadyResolved, ConnectorInstance, Herder, TaskReport, TaskTarget,
};
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
    let (listeners, configured) =
        rest_listeners(&worker_props.props).map_err(|message| StandaloneError::Parse {
            path: worker_file.to_owned(),
            message,
        })?;
    let https = rest::https_config(&listeners, &worker_props.props).map_err(|message| {
        StandaloneError::Parse {
            path: worker_file.to_owned(),
            message,
        }
    })?;

    // Validate every connector before starting anything, like Java does.
    let mut connectors: Vec<(Props, ConnectorInstance)> = Vec::new();
    for file in connector_files {
        let raw = read_props(file)?;
        let loaded = load(&providers, &raw).map_err(|e| match e {
            LoadError::Resolve(source) => StandaloneError::Resolve {
                path: file.clone(),
                source,
            },
            LoadError::Invalid(e) => StandaloneError::Connector(e),
        })?;
        if connectors.iter().any(|(_, c)| c.name() == loaded.name()) {
            return Err(StandaloneError::DuplicateName(loaded.name().to_owned()));
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

    if worker_config.exactly_once_source() && embedded.is_some() {
        return Err(worker_err(crate::connect::ConfigError::new(
            crate::engine::worker_config::EXACTLY_ONCE_SOURCE_SUPPORT,
            "exactly.once.source.support=enabled needs a real Kafka cluster (set bootstrap.servers): \
             the embedded in-memory Kafka keeps no offset topic to write offsets into transactionally",
        )));
    }
    let offsets: Arc<dyn OffsetStore> = if worker_config.exactly_once_source() {
        // Offsets must be written in the tasks' transactions: a topic.
        Arc::new(
            offset_topic(&bootstrap, &worker_props.props)
                .await
                .map_err(worker_err)?,
        )
    } else {
        Arc::new(match worker_config.offset_storage_file() {
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
        })
    };

    let worker_id = worker_id(&worker_props.props, listeners.first().map(|l| l.addr));
    let worker = Worker::new(worker_config.clone(), bootstrap.clone(), offsets.clone());
    let mut herder = Standalone {
        herder: Herder::new(worker),
        worker_config,
        worker_props: worker_props.props.clone(),
        bootstrap: bootstrap.clone(),
        providers,
        worker_id,
        offsets,
        embedded,
        connectors: BTreeMap::new(),
        secrets: Redactor::default(),
    };
    let mut connector_events = herder
        .herder
        .take_connector_events()
        .expect("a new worker has its connector events");
    for (raw, instance) in connectors {
        herder.add(raw, instance, TargetState::Started).await?;
    }
    herder.publish_metrics();

    // The REST API, and this mode's metrics at /metrics.
    let stop_rest = CancellationToken::new();
    let (jobs, mut job_rx) = mpsc::channel::<Job>(64);
    let cluster_id = rest::spawn_cluster_id_lookup(bootstrap, herder.worker_props.clone());
    let backend = Arc::new(StandaloneBackend {
        jobs,
        worker_props: herder.worker_props.clone(),
        cluster_id,
        shutdown_timeout: herder.worker_config.task_shutdown_timeout(),
    });
    rest::serve_worker(&listeners, configured, https, backend, stop_rest.clone())
        .await
        .map_err(|(addr, source)| StandaloneError::Listen { addr, source })?;

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
            Some((id, state)) = herder.herder.next_exit() => herder.on_exit(id, state).await,
        }
        herder.publish_metrics();
    }
    stop_rest.cancel();
    job_rx.close();
    let Standalone {
        mut herder,
        secrets,
        embedded,
        ..
    } = herder;
    herder.shutdown().await;
    let states = herder.final_states().clone();
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

/// The REST listeners of a worker config, and whether the config names
/// them (else they are Java's default, `http://:8083`).
fn rest_listeners(worker: &Props) -> Result<(Vec<rest::ListenerAddr>, bool), String> {
    let configured = worker
        .get(rest::LISTENERS)
        .map(|l| l.trim())
        .filter(|l| !l.is_empty());
    let addrs = rest::parse_listeners(configured.unwrap_or(rest::DEFAULT_LISTENERS))?;
    Ok((addrs, configured.is_some()))
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

enum LoadError {
    Resolve(ResolveError),
    Invalid(ConnectorConfigError),
}

impl LoadError {
    fn message(self) -> String {
        match self {
            LoadError::Resolve(e) => e.to_string(),
            LoadError::Invalid(e) => e.message,
        }
    }
}

/// Resolves a connector config's variables and validates the result.
fn load(providers: &ConfigProviders, raw: &Props) -> Result<ConnectorInstance, LoadError> {
    let resolved = providers.transform(raw).map_err(LoadError::Resolve)?;
    ConnectorInstance::load(raw.clone(), resolved).map_err(LoadError::Invalid)
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
type Job = Box<dyn for<'a> FnOnce(&'a mut Standalone) -> LocalBoxFuture<'a, ()> + Send>;

/// One connector as the REST API knows it; its instance and tasks run in
/// the [`Herder`].
struct Conn {
    /// The config as submitted, variables unresolved: what the API shows.
    raw: Props,
    target: TargetState,
    kind: ConnectorKind,
    state: State,
    trace: Option<String>,
    /// Task configs (resolved) the tasks start with; empty when stopped.
    task_configs: Vec<Props>,
    task_states: BTreeMap<u32, (State, Option<String>)>,
    /// Restarts asked per task: a task restarts when its count grows.
    restarts: BTreeMap<u32, u32>,
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

    /// Asks every task for one more restart.
    fn restart_all(&mut self) {
        for n in 0..self.task_count() as u32 {
            *self.restarts.entry(n).or_default() += 1;
        }
    }
}

/// Standalone's adapter over the shared [`Herder`]: connectors come from
/// files and REST calls, statuses are kept in memory.
struct Standalone {
    herder: Herder,
    worker_config: WorkerConfig,
    worker_props: Props,
    bootstrap: String,
    providers: ConfigProviders,
    worker_id: String,
    offsets: Arc<dyn OffsetStore>,
    embedded: Option<MockCluster<'static, DefaultProducerContext>>,
    connectors: BTreeMap<String, Conn>,
    /// Every resolved value ever loaded, scrubbed from final states.
    secrets: Redactor,
}

fn task_id(name: &str, task: u32) -> TaskId {
    TaskId {
        connector: name.to_owned(),
        task: task as usize,
    }
}

impl Standalone {
    /// Adds a validated connector and starts it in `target` state. A
    /// failure to start it or its tasks is the error (files at startup).
    async fn add(
        &mut self,
        raw: Props,
        instance: ConnectorInstance,
        target: TargetState,
    ) -> Result<(), WorkerError> {
        let name = instance.name().to_owned();
        if let Some(cluster) = &self.embedded {
            for topic in topics_of(instance.resolved()) {
                if let Err(e) = cluster.create_topic(&topic, 1, 1) {
                    tracing::debug!(topic = %topic, error = %e, "creating a topic on the embedded cluster failed");
                }
            }
        }
        self.secrets = self.secrets.merged(&instance.redactor);
        if let Some(file) = instance.resolved().get("file").filter(|f| !f.is_empty()) {
            let direction = if instance.kind() == ConnectorKind::Sink {
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
            kind: instance.kind(),
            state: State::Unassigned,
            trace: None,
            task_configs: Vec::new(),
            task_states: BTreeMap::new(),
            restarts: BTreeMap::new(),
            topics: BTreeSet::new(),
        };
        self.connectors.insert(name.clone(), conn);
        self.herder.install(instance).await;
        let connector = self.refresh_connector(&name).await;
        let failed_task = self
            .sync()
            .await
            .into_iter()
            .find(|r| r.id.connector == name && r.state == State::Failed);
        connector?;
        match failed_task {
            Some(r) => Err(WorkerError::Connector {
                connector: name,
                message: r.trace.unwrap_or_default(),
            }),
            None => Ok(()),
        }
    }

    /// Brings a connector's instance to its target state: when STARTED its
    /// task configs computed (the tasks follow at the next [`Self::sync`]);
    /// PAUSED or STOPPED reported (a stopped one's instance stops).
    async fn refresh_connector(&mut self, name: &str) -> Result<(), WorkerError> {
        let Some(conn) = self.connectors.get_mut(name) else {
            return Ok(());
        };
        match conn.target {
            TargetState::Paused => {
                conn.state = State::Paused;
                conn.trace = None;
                return Ok(());
            }
            TargetState::Stopped => {
                conn.state = State::Stopped;
                conn.trace = None;
                conn.task_configs.clear();
                conn.task_states.clear();
                self.herder.stop_instance(name).await;
                return Ok(());
            }
            TargetState::Started => {}
        }
        let Some(computed) = self.herder.task_configs(name).await else {
            return Ok(());
        };
        let conn = self.connectors.get_mut(name).expect("looked up above");
        match computed {
            Ok(configs) => {
                conn.state = State::Running;
                conn.trace = None;
                conn.task_states
                    .retain(|n, _| (*n as usize) < configs.len());
                conn.task_configs = configs;
                Ok(())
            }
            Err(trace) => {
                conn.state = State::Failed;
                conn.trace = Some(trace.clone());
                Err(WorkerError::Connector {
                    connector: name.to_owned(),
                    message: trace,
                })
            }
        }
    }

    /// Brings every task in line with its connector: the herder stops and
    /// starts what it must, and its reports become the task statuses.
    async fn sync(&mut self) -> Vec<TaskReport> {
        let targets: BTreeMap<TaskId, TaskTarget> = self
            .connectors
            .iter()
            .flat_map(|(name, c)| {
                connector_task_targets(name, c.target, &c.task_configs, &c.restarts)
            })
            .collect();
        let reports = self.herder.reconcile(&targets, &mut AlreadyResolved).await;
        for report in &reports {
            self.apply(report.clone());
        }
        reports
    }

    /// A task status the herder reported.
    fn apply(&mut self, report: TaskReport) {
        let Some(conn) = self.connectors.get_mut(&report.id.connector) else {
            return; // deleted
        };
        let n = report.id.task as u32;
        if report.id.task >= conn.task_count() {
            // Beyond the task count, or the connector stopped.
            conn.task_states.remove(&n);
            return;
        }
        if report.state == State::Running {
            if let Some(instance) = self.herder.connector(&report.id.connector) {
                conn.topics.extend(topics_of(instance.resolved()));
            }
        }
        conn.task_states.insert(n, (report.state, report.trace));
    }

    /// A connector's request through its context.
    async fn on_connector_event(&mut self, event: ConnectorEvent) {
        match self.herder.on_connector_event(event) {
            Some(ConnectorEvent::Reconfigure { connector }) => {
                self.reconfigure(&connector, false).await
            }
            Some(ConnectorEvent::Failed { connector, trace }) => {
                if let Some(conn) = self.connectors.get_mut(&connector) {
                    conn.state = State::Failed;
                    conn.trace = Some(trace);
                }
            }
            None => {}
        }
    }

    async fn on_exit(&mut self, id: TaskId, state: TaskState) {
        if let Some(report) = self.herder.on_exit(&id, state) {
            self.apply(report);
        }
        // What waited for this run to end starts now.
        self.sync().await;
    }

    /// Brings the connector and task statuses of the metrics in line with
    /// the herder's (after every change: one place instead of one call per
    /// transition).
    fn publish_metrics(&self) {
        for (name, conn) in &self.connectors {
            if let Some(instance) = self.herder.connector(name) {
                metrics::set_connector(
                    name,
                    instance.validated.plugin.class,
                    conn.kind,
                    instance.version(),
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

    fn conn_mut(&mut self, name: &str) -> Result<&mut Conn, RestError> {
        self.connectors
            .get_mut(name)
            .ok_or_else(|| RestError::not_found(format!("Unknown connector {name}")))
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
        instance: ConnectorInstance,
        allow_replace: bool,
        initial: Option<InitialState>,
    ) -> Result<Created<ConnectorInfo>, RestError> {
        let created = match self.connectors.get(name) {
            Some(_) if !allow_replace => {
                return Err(RestError::conflict(format!(
                    "Connector {name} already exists"
                )))
            }
            Some(_) => false,
            None => true,
        };
        if created {
            let target = match initial {
                Some(InitialState::Paused) => TargetState::Paused,
                Some(InitialState::Stopped) => TargetState::Stopped,
                _ => TargetState::Started,
            };
            if let Err(e) = self.add(raw, instance, target).await {
                tracing::error!(connector = %name, error = %e, "connector failed to start");
            }
        } else {
            // Reconfigure: every task restarts with the new config, tasks
            // beyond the new count stop.
            self.secrets = self.secrets.merged(&instance.redactor);
            let conn = self.connectors.get_mut(name).expect("checked above");
            conn.raw = raw;
            conn.kind = instance.kind();
            self.herder.install(instance).await;
            self.reconfigure(name, true).await;
        }
        Ok(Created {
            created,
            result: self.info(name)?,
        })
    }

    /// Recomputes task configs of a (re)loaded connector and brings its
    /// tasks in line: running tasks restart when `force` or when their
    /// configs changed, and stop when no longer wanted.
    async fn reconfigure(&mut self, name: &str, force: bool) {
        if let Err(e) = self.refresh_connector(name).await {
            tracing::error!(connector = %name, error = %e, "connector failed to start");
        }
        if force {
            if let Some(conn) = self.connectors.get_mut(name) {
                conn.restart_all();
            }
        }
        self.sync().await;
    }

    /// Sets a connector's target state (Java's pause, resume and stop).
    async fn set_target(&mut self, name: &str, target: TargetState) -> Result<(), RestError> {
        let conn = self.conn_mut(name)?;
        if conn.target == target {
            return Ok(());
        }
        conn.target = target;
        if let Err(e) = self.refresh_connector(name).await {
            tracing::error!(connector = %name, error = %e, "connector failed to resume");
        }
        self.sync().await;
        Ok(())
    }

    async fn delete(&mut self, name: &str) -> Result<(), RestError> {
        self.connectors
            .remove(name)
            .ok_or_else(|| RestError::connector_not_found(name))?;
        self.herder.remove(name).await;
        self.sync().await;
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
            match load(&self.providers, &conn.raw) {
                Ok(instance) => {
                    self.herder.install(instance).await;
                    if let Err(e) = self.refresh_connector(name).await {
                        tracing::error!(connector = %name, error = %e, "connector failed to start");
                    }
                }
                Err(e) => {
                    let conn = self.connectors.get_mut(name).expect("exists");
                    conn.state = State::Failed;
                    conn.trace = Some(e.message());
                }
            }
        }
        for n in tasks {
            self.ask_restart(name, n);
        }
        self.sync().await;
        Ok((!plain).then_some(plan))
    }

    /// Asks for one more restart of a task of a started connector.
    fn ask_restart(&mut self, name: &str, n: u32) {
        if let Some(conn) = self
            .connectors
            .get_mut(name)
            .filter(|c| c.target == TargetState::Started)
        {
            conn.task_states.insert(n, (State::Restarting, None));
            *conn.restarts.entry(n).or_default() += 1;
        }
    }

    async fn restart_task(&mut self, name: &str, n: u32) -> Result<(), RestError> {
        let conn = self.conn(name)?;
        if (n as usize) >= conn.task_count() {
            return Err(RestError::not_found(format!("Task {name}-{n} not found")));
        }
        self.ask_restart(name, n);
        self.sync().await;
        Ok(())
    }

    /// What reading or changing offsets needs, outside the herder's loop.
    fn offsets_plan(&self, name: &str, modify: bool) -> Result<OffsetsPlan, RestError> {
        let conn = self.conn(name)?;
        if modify && (conn.target != TargetState::Stopped || self.herder.live_tasks(name) > 0) {
            return Err(rest::offsets_need_stopped(name));
        }
        let props = self
            .herder
            .connector(name)
            .map_or_else(|| conn.raw.clone(), |c| c.resolved().clone());
        Ok(match conn.kind {
            ConnectorKind::Source => OffsetsPlan::Source {
                store: self.offsets.clone(),
                props,
            },
            ConnectorKind::Sink => OffsetsPlan::Sink {
                cfg: sink_offsets::client_config(
                    &self.bootstrap,
                    &self.worker_props,
                    &props,
                    name,
                )?,
                props,
            },
        })
    }
}

/// Where a connector's offsets live.
enum OffsetsPlan {
    Source {
        store: Arc<dyn OffsetStore>,
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
        f: impl FnOnce(&mut Standalone) -> R + Send + 'static,
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
        f: impl for<'a> FnOnce(&'a mut Standalone) -> LocalBoxFuture<'a, R> + Send + 'static,
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
            if self.call(move |h| h.herder.live_tasks(&owned)).await? == 0 {
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
    changes: &OffsetChanges<'_>,
) -> Result<(), RestError> {
    offsets_request_allowed(name, props, changes)
        .await
        .map_err(RestError::internal)
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
        self.call(move |h| Some(h.herder.connector(&name)?.version().to_owned()))
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
        let exactly_once = crate::engine::worker_config::exactly_once_enabled(self.worker_props());
        let infos =
            tokio::task::spawn_blocking(move || rest::plugins::validate(&raw, exactly_once))
                .await
                .map_err(|e| RestError::internal(format!("validation failed: {e}")))??;
        if let Some(e) = rest::plugins::invalid_config(&infos) {
            return Err(e);
        }
        let name = name.to_owned();
        self.call_async(move |h| {
            Box::pin(async move {
                let loaded =
                    load(&h.providers, &config).map_err(|e| RestError::bad_request(e.message()))?;
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
        self.call_async(move |h| {
            Box::pin(async move { h.set_target(&name, TargetState::Paused).await })
        })
        .await?
    }

    async fn resume_connector(&self, name: &str) -> Result<(), RestError> {
        let name = name.to_owned();
        self.call_async(move |h| {
            Box::pin(async move { h.set_target(&name, TargetState::Started).await })
        })
        .await?
    }

    async fn stop_connector(&self, name: &str) -> Result<(), RestError> {
        let owned = name.to_owned();
        self.call_async(move |h| {
            Box::pin(async move { h.set_target(&owned, TargetState::Stopped).await })
        })
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
        self.call_async(move |h| Box::pin(async move { h.restart_task(&name, task).await }))
            .await?
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
                connector_says(name, &props, &OffsetChanges::Source(&changes)).await?;
                store.modify(name, &changes).map_err(offsets_error)?;
            }
            OffsetsPlan::Sink { cfg, props } => {
                let changes = sink_offsets::parse(&offsets)?;
                let hook: Vec<_> = changes
                    .iter()
                    .map(|((t, p), o)| (TopicPartition::new(t.clone(), *p), *o))
                    .collect();
                connector_says(name, &props, &OffsetChanges::Sink(&hook)).await?;
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
                let all: Vec<_> = store
                    .list(name)
                    .into_iter()
                    .map(|(p, _)| (p, None))
                    .collect();
                connector_says(name, &props, &OffsetChanges::Source(&all)).await?;
                store.remove_all(name).map_err(offsets_error)?
            }
            OffsetsPlan::Sink { cfg, props } => {
                let (read, connector) = (cfg.clone(), props.clone());
                let committed =
                    Self::blocking(move || sink_offsets::read(&read, &connector)).await?;
                let all: Vec<_> = sink_offsets::parse(&committed)?
                    .into_iter()
                    .map(|((t, p), _)| (TopicPartition::new(t, p), None))
                    .collect();
                connector_says(name, &props, &OffsetChanges::Sink(&all)).await?;
                let group = sink_offsets::group(name);
                Self::blocking(move || sink_offsets::reset(&cfg, &group)).await?;
            }
        }
        Ok(rest::offsets_modified(true))
    }
}

/// Standalone mode with `exactly.once.source.support=enabled` (Java's
/// standalone mode has no exactly-once support): source offsets live in
/// `offset.storage.topic` (default `connect-offsets`, created when missing
/// with `offset.storage.partitions`, default 25, and
/// `offset.storage.replication.factor`, default the broker's), so tasks
/// can write them in their transactions. `offset.storage.file.filename`
/// is not used then.
async fn offset_topic(
    bootstrap: &str,
    props: &Props,
) -> Result<crate::storage::offset_topic::KafkaOffsetStore, crate::connect::ConfigError> {
    use crate::connect::ConfigError;
    use crate::storage::topic_log::{TopicLog, TopicSpec};
    const KEY: &str = "offset.storage.topic";
    let setting = |key: &str, default: &str| -> Result<i32, ConfigError> {
        let v = props.get(key).map(|v| v.trim()).unwrap_or(default);
        v.parse().map_err(|_| {
            ConfigError::new(
                key,
                format!("Invalid value {v} for configuration {key}: not an integer"),
            )
        })
    };
    let topic = props
        .get(KEY)
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "connect-offsets".to_owned());
    let spec = TopicSpec {
        name: topic.clone(),
        partitions: setting("offset.storage.partitions", "25")?,
        replication_factor: setting("offset.storage.replication.factor", "-1")?,
    };
    if props.contains_key(crate::engine::worker_config::OFFSET_STORAGE_FILE) {
        tracing::warn!(topic = %topic, "exactly.once.source.support=enabled: source offsets are kept in the offset topic; offset.storage.file.filename is not used");
    }
    let failed = |e: crate::storage::topic_log::TopicLogError| ConfigError::new(KEY, e.to_string());
    let client = crate::engine::kafka::worker_client_settings(props)
        .map_err(|e| ConfigError::new(KEY, e.to_string()))?;
    TopicLog::ensure_topic(bootstrap, &client, &spec)
        .await
        .map_err(failed)?;
    let log = TopicLog::open(bootstrap, &topic, &client).map_err(failed)?;
    let store = crate::storage::offset_topic::KafkaOffsetStore::load(log, Duration::from_secs(60))
        .await
        .map_err(failed)?;
    tracing::info!(topic = %topic, "exactly-once source support enabled: source offsets stored in the offset topic");
    Ok(store)
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
