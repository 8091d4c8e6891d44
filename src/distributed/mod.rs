//! Distributed mode: the process in each worker pod (`kconnect worker`).
//!
//! Everything reaches the worker through Kafka, so it needs no Kubernetes
//! credentials: it follows the config topic (connector configs, target
//! states, committed task configs) and the operator's
//! `status-assignment-<group>` record in the status topic, runs the
//! connectors and tasks of the newest assignment that names it (a task
//! whose config it has not read yet starts at a later sync), stops what is
//! no longer its own (tasks commit their offsets first), writes task
//! configs for the connectors it runs, and reports connector/task statuses
//! and a heartbeat to the status topic.
//!
//! Config-provider variables (`${file:/secrets/db.properties:password}`,
//! see [`crate::connect::config_provider`]) are resolved here, by the
//! providers of the worker config: when a connector's config is loaded and
//! again when each task starts. The config topic keeps the variables: task
//! configs computed from the resolved connector config get them back before
//! they are written. Resolved values are printed as `[hidden]` in logs and
//! scrubbed from status traces.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod heartbeat;
mod resource_writes;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use self::heartbeat::{Heartbeats, Snapshot};
use self::resource_writes::ConnectorResources;
use crate::api::connector::{
    RestartRequest, ALTER_OFFSETS_ANNOTATION, OFFSETS_ANNOTATION, RESTART_ANNOTATION,
    RESTART_TASK_ANNOTATION,
};
use crate::api::ConnectorState;
use crate::connect::config::validating_resolved;
use crate::connect::config_provider::{self, has_variable, reverse_transform};
use crate::connect::OffsetMap;
use crate::connect::{
    Config, ConfigDef, ConfigError, ConfigProviders, ConfigType, Importance, Props, Redactor,
    ResolveError, Resolved, Validator,
};
use crate::engine::connector_config;
use crate::engine::connector_context::ConnectorEvent;
use crate::engine::herder::{ConnectorInstance, Herder, TaskResolver, TaskTarget};
use crate::engine::{metrics, TaskId, TaskState, Worker, WorkerConfig};
use crate::placement::{AssignmentRecord, WorkerAssignment};
use crate::rest::entities::{
    ConnectorInfo as RestConnectorInfo, ConnectorOffset, ConnectorOffsets,
    ConnectorState as RestConnectorState, ConnectorStateInfo, ConnectorTaskId, ConnectorType,
    InitialState, Message, TaskInfo, TaskState as RestTaskState,
};
use crate::rest::{self, sink_offsets, Backend, Created, Health, RestError};
use crate::storage::config_topic::{ConfigRecord, ConfigState, TargetState};
use crate::storage::offset_topic::KafkaOffsetStore;
use crate::storage::offsets::parse_offset_key;
use crate::storage::status_topic::{State, Status, StatusRecord, StatusState};
use crate::storage::topic_log::{TopicLog, TopicLogError, TopicSpec};

pub const GROUP_ID: &str = "group.id";
pub const CONFIG_TOPIC: &str = "config.storage.topic";
pub const OFFSET_TOPIC: &str = "offset.storage.topic";
pub const STATUS_TOPIC: &str = "status.storage.topic";

/// Distributed-mode keys on top of the worker's, with Java's defaults.
pub fn config_def() -> ConfigDef {
    config_provider::config_def()
        .define(
            GROUP_ID,
            ConfigType::String,
            None,
            Importance::High,
            "Unique name of the cluster this worker belongs to",
        )
        .validate_with(Validator::NonEmpty)
        .define(
            CONFIG_TOPIC,
            ConfigType::String,
            None,
            Importance::High,
            "Topic holding connector and task configurations",
        )
        .validate_with(Validator::NonEmpty)
        .define(
            OFFSET_TOPIC,
            ConfigType::String,
            None,
            Importance::High,
            "Topic holding source connector offsets",
        )
        .validate_with(Validator::NonEmpty)
        .define(
            STATUS_TOPIC,
            ConfigType::String,
            None,
            Importance::High,
            "Topic holding connector and task statuses",
        )
        .validate_with(Validator::NonEmpty)
        .define(
            "config.storage.replication.factor",
            ConfigType::Int,
            Some("3"),
            Importance::Low,
            "Replication factor of the config topic when it is created",
        )
        .define(
            "offset.storage.replication.factor",
            ConfigType::Int,
            Some("3"),
            Importance::Low,
            "Replication factor of the offset topic when it is created",
        )
        .define(
            "offset.storage.partitions",
            ConfigType::Int,
            Some("25"),
            Importance::Low,
            "Partitions of the offset topic when it is created",
        )
        .define(
            "status.storage.replication.factor",
            ConfigType::Int,
            Some("3"),
            Importance::Low,
            "Replication factor of the status topic when it is created",
        )
        .define(
            "status.storage.partitions",
            ConfigType::Int,
            Some("5"),
            Importance::Low,
            "Partitions of the status topic when it is created",
        )
        .define(
            "worker.sync.interval.ms",
            ConfigType::Long,
            Some("500"),
            Importance::Low,
            "How often the worker reads the config and status topics for new configs and assignments",
        )
        .validate_with(Validator::Range {
            min: Some(10),
            max: None,
        })
        .define(
            rest::LISTENERS,
            ConfigType::List,
            Some(""),
            Importance::Low,
            "Where the REST API listens: a comma-separated list of http://host:port. Empty: http://$POD_IP:8083 when POD_IP is set, else http://:8083",
        )
        .define(
            rest::REST_WRITES,
            ConfigType::Boolean,
            Some("false"),
            Importance::Low,
            "Whether the REST API accepts changes to connectors (the operator sets it from spec.restApi.writes). When false, changes are refused with 409 and Connector resources are the way to change connectors",
        )
        .define(
            "worker.heartbeat.interval.ms",
            ConfigType::Long,
            Some("1000"),
            Importance::Low,
            "How often the worker writes its heartbeat to the status topic",
        )
        .validate_with(Validator::Range {
            min: Some(10),
            max: None,
        })
}

#[derive(Debug, thiserror::Error)]
pub enum DistributedError {
    #[error("worker config: {0}")]
    Config(#[from] ConfigError),
    #[error("worker config: {0}")]
    Resolve(#[from] ResolveError),
    #[error("worker config: bootstrap.servers is required in distributed mode")]
    NoBootstrap,
    #[error("{0}")]
    Topic(#[from] TopicLogError),
    #[error("health endpoint on {addr}: {source}")]
    Health {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("worker config: {0}")]
    Listeners(String),
    #[error("REST API listener {addr}: {source}")]
    Rest {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("REST writes need the Kubernetes API (the Pod's service account): {0}")]
    Kubernetes(#[source] kube::Error),
    #[error("the engine's connector events were already taken by another loop")]
    EventsTaken,
    #[error("worker config: {0}")]
    Security(#[from] crate::engine::kafka_security::SecurityError),
}

impl DistributedError {
    /// Whether connecting again may succeed without a new worker config:
    /// Kafka unreachable, or refusing the credentials (a Secret being fixed:
    /// the files under the mounts change, and they are read again).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            DistributedError::Topic(_) | DistributedError::Resolve(_)
        )
    }
}

/// Resolves variables with the worker's providers, off the async runtime
/// since providers read files. An error is a status trace.
async fn resolve(providers: &Arc<ConfigProviders>, raw: &Props) -> Result<Resolved, String> {
    if providers.is_empty() || !raw.values().any(|v| has_variable(v)) {
        // Nothing to look up: no file is read.
        return providers.transform(raw).map_err(|e| e.to_string());
    }
    let (providers, raw) = (providers.clone(), raw.clone());
    tokio::task::spawn_blocking(move || providers.transform(&raw))
        .await
        .map_err(|e| format!("resolving config provider variables failed: {e}"))?
        .map_err(|e| e.to_string())
}

/// Task configs hold variables, as the config topic does: each start
/// resolves them.
struct ProviderResolver(Arc<ConfigProviders>);

#[async_trait(?Send)]
impl TaskResolver for ProviderResolver {
    async fn resolve(&mut self, _id: &TaskId, config: &Props) -> Result<Resolved, String> {
        resolve(&self.0, config).await
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub struct DistributedWorker {
    id: String,
    group: String,
    config: Config,
    /// `config.providers` of the worker config.
    providers: Arc<ConfigProviders>,
    bootstrap: String,
    config_log: TopicLog,
    status_log: TopicLog,
    /// Re-read before tasks start, for offsets their last worker committed.
    offsets: Arc<KafkaOffsetStore>,
    state: ConfigState,
    /// The status topic as read, to write UNASSIGNED only over our own status.
    statuses: StatusState,
    generation: u64,
    /// The generation the last completed sync acted on (the heartbeat's).
    acted: u64,
    /// The connectors and tasks this worker runs.
    herder: Herder,
    /// Last status written per connector/task (state, generation, trace),
    /// to write only changes and to repeat one the topic lost.
    written: BTreeMap<String, (State, u64, Option<String>)>,
    /// The newest assignment (its restart counts).
    assignment: AssignmentRecord,
    /// Milliseconds since the epoch of the last completed sync.
    last_sync: Arc<AtomicI64>,
    /// The topics as folded here, for the REST API.
    view: Arc<RwLock<RestView>>,
    /// Whether `view` was filled once.
    view_published: bool,
    /// The worker config with its variables resolved.
    worker_props: Props,
    /// `exactly.once.source.support=enabled`: source tasks wait for the
    /// fencing of their connector's older tasks.
    exactly_once: bool,
}

impl DistributedWorker {
    /// Creates the internal topics if missing and connects to them. The
    /// worker config's own variables are resolved first (KIP-421).
    pub async fn connect(
        props: &Props,
        worker_id: &str,
    ) -> Result<DistributedWorker, DistributedError> {
        let providers = ConfigProviders::from_worker_props(props)?;
        let resolved = providers.transform_worker(props)?;
        let def = config_def().merge(&crate::engine::worker_config::config_def());
        let (worker_config, config) = validating_resolved(|| {
            Ok::<_, ConfigError>((
                WorkerConfig::parse(&resolved.props)?,
                def.parse(&resolved.props)?,
            ))
        })?;
        tracing::info!(
            worker = worker_id,
            providers = ?providers,
            config = %resolved.masked(Some(&def)),
            "worker config"
        );
        let bootstrap = worker_config
            .bootstrap_servers()
            .ok_or(DistributedError::NoBootstrap)?;
        // The worker's own clients: the worker config's bare security keys.
        let client = crate::engine::kafka::worker_client_settings(&resolved.props)?;
        let topic = |key: &str| -> Result<String, ConfigError> {
            Ok(config.string(key)?.unwrap_or_default())
        };
        for (name, partitions, rf) in [
            (
                topic(CONFIG_TOPIC)?,
                1,
                config.int("config.storage.replication.factor")?,
            ),
            (
                topic(OFFSET_TOPIC)?,
                config.int("offset.storage.partitions")?,
                config.int("offset.storage.replication.factor")?,
            ),
            (
                topic(STATUS_TOPIC)?,
                config.int("status.storage.partitions")?,
                config.int("status.storage.replication.factor")?,
            ),
        ] {
            TopicLog::ensure_topic(
                &bootstrap,
                &client,
                &TopicSpec {
                    name,
                    partitions,
                    replication_factor: rf,
                },
            )
            .await?;
        }
        let read_timeout = Duration::from_secs(60);
        let offsets = Arc::new(
            KafkaOffsetStore::load(
                TopicLog::open(&bootstrap, &topic(OFFSET_TOPIC)?, &client)?,
                read_timeout,
            )
            .await?,
        );
        let exactly_once = worker_config.exactly_once_source();
        let engine = Worker::new(worker_config, bootstrap.clone(), offsets.clone());
        let me = DistributedWorker {
            id: worker_id.to_owned(),
            group: topic(GROUP_ID)?,
            offsets,
            config_log: TopicLog::open(&bootstrap, &topic(CONFIG_TOPIC)?, &client)?,
            status_log: TopicLog::open(&bootstrap, &topic(STATUS_TOPIC)?, &client)?,
            config,
            providers: Arc::new(providers),
            bootstrap,
            state: ConfigState::default(),
            statuses: StatusState::default(),
            generation: 0,
            acted: 0,
            herder: Herder::new(engine),
            written: BTreeMap::new(),
            assignment: AssignmentRecord::default(),
            last_sync: Arc::new(AtomicI64::new(0)),
            view: Arc::new(RwLock::new(RestView::default())),
            view_published: false,
            worker_props: resolved.props.clone(),
            exactly_once,
        };
        Ok(me)
    }

    /// Serves `GET /health`: 200 while the sync loop keeps up, 503 after
    /// it has been stuck for ten sync intervals (so the readiness probe
    /// reflects the worker, not just the process).
    pub async fn serve_health(
        &self,
        addr: SocketAddr,
        stop: CancellationToken,
    ) -> Result<(), DistributedError> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| DistributedError::Health { addr, source })?;
        let last = self.last_sync.clone();
        let stale_after = (self.config.long("worker.sync.interval.ms")? * 10).max(5_000);
        tracing::info!(%addr, worker = %self.id, "health endpoint listening");
        tokio::spawn(async move {
            loop {
                let conn = tokio::select! {
                    _ = stop.cancelled() => return,
                    c = listener.accept() => c,
                };
                let Ok((mut sock, _)) = conn else { continue };
                let last = last.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    let _ = tokio::time::timeout(Duration::from_secs(2), sock.read(&mut buf)).await;
                    let fresh = now_ms() - last.load(Ordering::Relaxed) < stale_after;
                    let (code, body) = if fresh {
                        ("200 OK", "{\"status\":\"UP\"}")
                    } else {
                        ("503 Service Unavailable", "{\"status\":\"DOWN\"}")
                    };
                    let resp = format!(
                        "HTTP/1.1 {code}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = sock.write_all(resp.as_bytes()).await;
                });
            }
        });
        Ok(())
    }

    /// Serves the Connect REST API on `listeners` (see [`config_def`]):
    /// reads from the topics as this worker folds them; changes refused
    /// with 409 unless `kconnect.rest.writes=true`. A default listener
    /// whose port is taken is skipped with an error in the log; one the
    /// config names must bind.
    pub async fn serve_rest(&self, stop: CancellationToken) -> Result<(), DistributedError> {
        let configured = self
            .worker_props
            .get(rest::LISTENERS)
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty());
        let raw = configured.clone().unwrap_or_else(|| {
            match std::env::var("POD_IP").ok().filter(|ip| !ip.is_empty()) {
                Some(ip) if ip.contains(':') => format!("http://[{ip}]:8083"),
                Some(ip) => format!("http://{ip}:8083"),
                None => rest::DEFAULT_LISTENERS.to_owned(),
            }
        });
        let addrs = rest::parse_listeners(&raw).map_err(DistributedError::Listeners)?;
        let https =
            rest::https_config(&addrs, &self.worker_props).map_err(DistributedError::Listeners)?;
        let writes = self.config.boolean(rest::REST_WRITES)?;
        let owner = Owner::from_env(&self.id);
        let cluster = match (&owner.cluster, writes) {
            (Some(c), _) => c.clone(),
            (None, false) => String::new(),
            (None, true) => {
                return Err(DistributedError::Listeners(format!(
                    "{}=true needs a worker id <cluster>-worker-<n> (the Pod name) to know the ConnectCluster, got {}",
                    rest::REST_WRITES,
                    self.id
                )))
            }
        };
        let backend = Arc::new(WorkerBackend {
            view: self.view.clone(),
            last_sync: self.last_sync.clone(),
            stale_after: (self.config.long("worker.sync.interval.ms")? * 10).max(5_000),
            worker_props: self.worker_props.clone(),
            bootstrap: self.bootstrap.clone(),
            offset_topic: self.config.string(OFFSET_TOPIC)?.unwrap_or_default(),
            providers: self.providers.clone(),
            cluster_id: rest::spawn_cluster_id_lookup(
                self.bootstrap.clone(),
                self.worker_props.clone(),
            ),
            writes: if writes {
                Some(
                    ConnectorResources::connect(&owner.namespace, &cluster)
                        .await
                        .map_err(DistributedError::Kubernetes)?,
                )
            } else {
                None
            },
            owner,
            source_offsets: tokio::sync::Mutex::new(None),
        });
        rest::serve_worker(&addrs, configured.is_some(), https, backend, stop)
            .await
            .map_err(|(addr, source)| DistributedError::Rest { addr, source })
    }

    /// Runs until `stop` is cancelled, then stops every task gracefully.
    pub async fn run(mut self, stop: CancellationToken) -> Result<(), DistributedError> {
        let sync_every = self.config.duration_ms("worker.sync.interval.ms")?;
        let beat_every = self.config.duration_ms("worker.heartbeat.interval.ms")?;
        let mut sync = tokio::time::interval(sync_every);
        // A sync that overran is followed by one, not by a burst.
        sync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let heartbeats = Heartbeats::spawn(self.id.clone(), self.status_log.writer(), beat_every);
        tracing::info!(worker = %self.id, group = %self.group, "distributed worker started");
        let mut connector_events = self
            .herder
            .take_connector_events()
            .ok_or(DistributedError::EventsTaken)?;
        loop {
            tokio::select! {
                biased;
                _ = stop.cancelled() => break,
                Some(event) = connector_events.recv() => {
                    self.on_connector_event(event).await;
                    sync.reset_immediately();
                }
                Some((id, state)) = self.herder.next_exit() => {
                    self.on_task_exit(&id, state).await;
                    // A task waiting for this run to end starts now.
                    sync.reset_immediately();
                }
                _ = sync.tick() => {
                    if let Err(e) = self.sync().await {
                        tracing::warn!(worker = %self.id, error = %e, "sync with the config topic failed; retrying");
                    } else {
                        self.acted = self.generation;
                        self.last_sync.store(now_ms(), Ordering::Relaxed);
                    }
                }
            }
            heartbeats.publish(self.snapshot());
        }
        let (running, _) = self.herder.task_counts();
        tracing::info!(worker = %self.id, remaining = running, "shutting down");
        for (id, state) in self.herder.shutdown().await {
            self.on_task_exit(&id, state).await;
        }
        // A last heartbeat saying nothing runs here any more (the operator
        // hands this worker's tasks on without waiting for the timeout),
        // then its removal: a Pod recreated under the same name counts as
        // live only once its new process heartbeats. The beat task ends
        // first, so none of its writes lands after the removal.
        heartbeats.stop().await;
        let log = self.status_log.writer();
        heartbeat::write(&log, &self.id, self.snapshot().beat()).await;
        heartbeat::remove(&log, &self.id).await;
        Ok(())
    }

    /// A request of a connector instance running here, through its context:
    /// the next sync computes its task configs again, or reports it FAILED.
    async fn on_connector_event(&mut self, event: ConnectorEvent) {
        // A reconfiguration request is carried out by the next sync.
        if let Some(ConnectorEvent::Failed { connector, trace }) =
            self.herder.on_connector_event(event)
        {
            self.write_status(StatusKey::Connector(connector), State::Failed, Some(trace))
                .await;
        }
    }

    /// What the heartbeat reports: the generation acted on, and how many
    /// tasks run and are still stopping (their offsets not yet committed).
    fn snapshot(&self) -> Snapshot {
        let (running, stopping) = self.herder.task_counts();
        Snapshot {
            generation: self.acted,
            tasks: (running + stopping) as u32,
            stopping: stopping as u32,
        }
    }

    async fn write_status(&mut self, key: StatusKey, state: State, trace: Option<String>) {
        match &key {
            StatusKey::Connector(name) => metrics::set_connector_status(name, state.into()),
            StatusKey::Task(id) => metrics::set_task_status(id, state.into()),
        }
        let status = Status {
            state,
            trace: trace.clone(),
            worker_id: self.id.clone(),
            generation: self.generation,
        };
        let (k, v) = key.record(Some(status)).encode();
        if self
            .written
            .get(&k)
            .is_some_and(|(s, g, _)| *s == state && *g == self.generation)
        {
            return;
        }
        match self.status_log.send(&k, v.as_deref()).await {
            Ok(()) => {
                if state == State::Failed {
                    // Traces written here are scrubbed of resolved values.
                    tracing::warn!(worker = %self.id, key = %k, trace = trace.as_deref().unwrap_or(""), "FAILED");
                }
                self.written.insert(k, (state, self.generation, trace));
            }
            Err(e) => {
                tracing::warn!(worker = %self.id, key = %k, error = %e, "writing a status failed")
            }
        }
    }

    /// A task run ended: a failure is written; a stop was reported by the
    /// sync that asked for it (one that ended unasked starts again at the
    /// next sync).
    async fn on_task_exit(&mut self, id: &TaskId, state: TaskState) {
        if let Some(report) = self
            .herder
            .on_exit(id, state)
            .filter(|r| matches!(r.state, State::Failed | State::Restarting))
        {
            self.write_status(StatusKey::Task(report.id), report.state, report.trace)
                .await;
        }
    }

    /// Reads the config and status topics and brings running connectors and
    /// tasks in line with the newest assignment.
    async fn sync(&mut self) -> Result<(), DistributedError> {
        let config_records = self.config_log.read_to_end(Duration::from_secs(30)).await?;
        let config_changed = !config_records.is_empty();
        for (k, v) in config_records {
            match ConfigRecord::decode(&k, v.as_deref()) {
                Ok(r) => self.state.apply(r),
                Err(e) => tracing::warn!(worker = %self.id, error = %e, "skipping a config record"),
            }
        }
        let status_records = self.status_log.read_to_end(Duration::from_secs(30)).await?;
        let status_changed = !status_records.is_empty();
        let mut topic_records = Vec::new();
        for (k, v) in status_records {
            if k.starts_with(ACTIVE_TOPIC_PREFIX) {
                topic_records.push((k, v));
                continue;
            }
            self.statuses.apply(StatusRecord::decode(&k, v.as_deref()));
        }
        if config_changed || status_changed || !self.view_published {
            let mut view = self.view.write().unwrap_or_else(PoisonError::into_inner);
            if config_changed || !self.view_published {
                view.config = self.state.clone();
            }
            if status_changed || !self.view_published {
                view.statuses = self.statuses.clone();
            }
            for (k, v) in topic_records {
                view.apply_active_topic(&k, v.as_deref());
            }
            self.view_published = true;
        }
        // The status topic holds it; an older operator's record in the
        // config topic counts only until the new one exists.
        let assignment = self
            .statuses
            .assignments
            .get(&self.group)
            .or_else(|| self.state.legacy_assignments.get(&self.group));
        let assignment: AssignmentRecord = match assignment {
            Some(v) => serde_json::from_value(v.clone()).unwrap_or_else(|e| {
                tracing::warn!(worker = %self.id, error = %e, "unreadable assignment record");
                AssignmentRecord::default()
            }),
            None => AssignmentRecord::default(),
        };
        let generation = assignment.assignment.generation;
        if generation < self.generation {
            return Ok(());
        }
        // A new generation is Java's rebalance: timed until this worker
        // acted on it.
        let rebalance_started = (generation > self.generation).then(Instant::now);
        self.generation = generation;
        self.assignment = assignment;
        let mine = self
            .assignment
            .assignment
            .workers
            .get(self.id.as_str())
            .cloned()
            .unwrap_or_default();

        // Connector configs this worker needs: its connectors and the
        // connectors of its tasks.
        let my_tasks: BTreeSet<TaskId> = mine
            .tasks
            .iter()
            .map(|t| TaskId {
                connector: t.connector.clone(),
                task: t.task as usize,
            })
            .collect();
        let mut needed: BTreeSet<String> = mine.connectors.clone();
        needed.extend(my_tasks.iter().map(|t| t.connector.clone()));
        self.load_connectors(&needed, &mine.connectors).await;

        // Connectors placed here compute and publish their task configs.
        for name in &mine.connectors {
            self.place_connector(name).await?;
        }
        let targets = self.task_targets(&my_tasks);
        if self.herder.would_start(&targets) {
            // Offsets the tasks' last workers committed.
            self.offsets.refresh(Duration::from_secs(30)).await?;
        }
        let mut resolver = ProviderResolver(self.providers.clone());
        for report in self.herder.reconcile(&targets, &mut resolver).await {
            // Like Java's putSafe: UNASSIGNED only over a status this
            // worker wrote, never over the new owner's.
            let ours = || {
                self.statuses
                    .tasks
                    .get(&(report.id.connector.clone(), report.id.task as u32))
                    .is_some_and(|st| st.worker_id == self.id)
            };
            if report.state != State::Unassigned || ours() {
                self.write_status(StatusKey::Task(report.id), report.state, report.trace)
                    .await;
            }
        }
        self.finish_sync(&mine, &my_tasks, rebalance_started).await;
        Ok(())
    }

    /// Loads (validates) the connector configs this worker needs, again
    /// when a config changed or a restart was asked for; instances run
    /// only where their connector is placed.
    async fn load_connectors(&mut self, needed: &BTreeSet<String>, placed: &BTreeSet<String>) {
        let loaded: Vec<String> = self.herder.connector_names().cloned().collect();
        for name in loaded {
            if !needed.contains(&name) {
                self.herder.remove(&name).await;
            } else if !placed.contains(&name) {
                self.herder.stop_instance(&name).await;
            }
        }
        for name in needed {
            let Some(raw) = self.state.connectors.get(name).cloned() else {
                continue;
            };
            let restarts = self.assignment.connector_restarts(name);
            let same = self.herder.connector(name).filter(|c| c.raw == raw);
            if same.is_some_and(|c| c.loaded_at >= restarts) {
                continue;
            }
            if same.is_some() && placed.contains(name) {
                tracing::info!(worker = %self.id, connector = %name, "restarting connector");
                self.write_status(StatusKey::Connector(name.clone()), State::Restarting, None)
                    .await;
            }
            match self.load(raw).await {
                Ok(mut instance) => {
                    instance.loaded_at = restarts;
                    self.herder.install(instance).await;
                }
                Err(trace) => {
                    self.herder.remove(name).await;
                    if placed.contains(name) {
                        metrics::connector_startup(false);
                        self.write_status(
                            StatusKey::Connector(name.clone()),
                            State::Failed,
                            Some(trace),
                        )
                        .await;
                    }
                }
            }
        }
    }

    /// What each of our tasks should be doing, from the config topic.
    fn task_targets(&self, my_tasks: &BTreeSet<TaskId>) -> BTreeMap<TaskId, TaskTarget> {
        my_tasks
            .iter()
            .filter(|id| self.state.connectors.contains_key(&id.connector))
            .map(|id| {
                let target = match self.state.target_state(&id.connector) {
                    TargetState::Paused => TaskTarget::Paused,
                    TargetState::Stopped => TaskTarget::Stopped,
                    // New task configs of an exactly-once source: not
                    // before the operator fenced the older tasks' producers
                    // and wrote the task-count record (Java's pendingFencing).
                    TargetState::Started if self.awaits_fencing(&id.connector) => {
                        TaskTarget::Pending
                    }
                    TargetState::Started => {
                        match self
                            .state
                            .tasks
                            .get(&id.connector)
                            .and_then(|t| t.get(id.task))
                        {
                            Some(config) => TaskTarget::Run {
                                config: config.clone(),
                                restarts: self.restart_count(id),
                            },
                            // Task configs not committed yet.
                            None => TaskTarget::Pending,
                        }
                    }
                };
                (id.clone(), target)
            })
            .collect()
    }

    /// Whether tasks of `connector` wait for a zombie fencing.
    fn awaits_fencing(&self, connector: &str) -> bool {
        self.exactly_once
            && self.state.pending_fencing(connector)
            && self
                .herder
                .connector(connector)
                .is_some_and(|c| c.kind() == crate::connect::ConnectorKind::Source)
    }

    /// A connector placed here: its status, and when started its task
    /// configs, computed and published if they changed.
    async fn place_connector(&mut self, name: &str) -> Result<(), DistributedError> {
        let Some(instance) = self.herder.connector(name) else {
            return Ok(());
        };
        let target = self.state.target_state(name);
        let state = match target {
            TargetState::Started => State::Running,
            TargetState::Paused => State::Paused,
            TargetState::Stopped => State::Stopped,
        };
        // Its connector-metrics; a failure below overrides the status.
        metrics::set_connector(
            name,
            instance.validated.plugin.class,
            instance.kind(),
            instance.version(),
            state.into(),
        );
        // It raised an error through its context: FAILED until restarted.
        let mut failure = instance.raised().map(str::to_owned);
        if failure.is_none() && target == TargetState::Started {
            match self.herder.task_configs(name).await {
                Some(Ok(configs)) => self.publish_if_changed(name, configs).await?,
                Some(Err(trace)) => failure = Some(trace),
                None => {}
            }
        }
        match failure {
            Some(trace) => {
                self.write_status(
                    StatusKey::Connector(name.to_owned()),
                    State::Failed,
                    Some(trace),
                )
                .await
            }
            None => {
                self.write_status(StatusKey::Connector(name.to_owned()), state, None)
                    .await
            }
        }
        Ok(())
    }

    /// Writes task configs computed from the resolved connector config,
    /// with the variables of the raw one back in place, when they differ
    /// from the committed ones.
    async fn publish_if_changed(
        &mut self,
        name: &str,
        configs: Vec<Props>,
    ) -> Result<(), DistributedError> {
        let Some(instance) = self.herder.connector(name) else {
            return Ok(());
        };
        let configs: Vec<Props> = configs
            .into_iter()
            .map(|c| reverse_transform(&instance.raw, c))
            .collect();
        if self.state.tasks.get(name) == Some(&configs) {
            return Ok(());
        }
        for (task, key) in resolved_values_in(&configs, &instance.redactor) {
            // Java writes such configs silently.
            tracing::warn!(
                worker = %self.id,
                connector = %name,
                task,
                key = %key,
                "the connector put a value resolved from a config provider in a task-config key without a variable; it is written to the config topic"
            );
        }
        self.publish_task_configs(name, &configs).await
    }

    /// After a sync acted: statuses re-asserted, the rebalance timed.
    async fn finish_sync(
        &mut self,
        mine: &WorkerAssignment,
        my_tasks: &BTreeSet<TaskId>,
        rebalance_started: Option<Instant>,
    ) {
        self.reassert_statuses(&mine.connectors, my_tasks).await;
        metrics::retain(
            |name| mine.connectors.contains(name),
            |id| my_tasks.contains(id),
        );
        if let Some(started) = rebalance_started {
            metrics::rebalance_completed(
                &self.id,
                self.generation,
                mine.connectors.len(),
                my_tasks.len(),
                started.elapsed(),
            );
        }
    }

    /// Resolves a connector config's variables and validates the result.
    /// An error is the status trace, resolved values scrubbed.
    async fn load(&self, raw: Props) -> Result<ConnectorInstance, String> {
        let resolved = resolve(&self.providers, &raw).await?;
        let redactor = resolved.redactor.clone();
        ConnectorInstance::load(raw, resolved).map_err(|e| redactor.redact(&e.to_string()))
    }

    /// Writes `task-<name>-<n>` records, then `commit-<name>`, like Java.
    async fn publish_task_configs(
        &mut self,
        name: &str,
        configs: &[Props],
    ) -> Result<(), DistributedError> {
        for (n, props) in configs.iter().enumerate() {
            let (k, v) = ConfigRecord::Task {
                connector: name.to_owned(),
                task: n as u32,
                props: props.clone(),
            }
            .encode();
            self.config_log.send(&k, v.as_deref()).await?;
        }
        let (k, v) = ConfigRecord::Commit {
            connector: name.to_owned(),
            tasks: configs.len() as u32,
        }
        .encode();
        self.config_log.send(&k, v.as_deref()).await?;
        tracing::info!(worker = %self.id, connector = name, tasks = configs.len(), "published task configs");
        Ok(())
    }

    /// Writes again the status of a connector or task of ours when the
    /// status topic says otherwise in the same or a newer generation: the
    /// worker that gave it up may have written UNASSIGNED after our RUNNING
    /// (both in the generation that moved it), and the newest record wins.
    async fn reassert_statuses(&mut self, connectors: &BTreeSet<String>, tasks: &BTreeSet<TaskId>) {
        let keys = connectors
            .iter()
            .map(|name| StatusKey::Connector(name.clone()))
            .chain(tasks.iter().map(|id| StatusKey::Task(id.clone())));
        let mut stale = Vec::new();
        for key in keys {
            let folded = match &key {
                StatusKey::Connector(name) => self.statuses.connectors.get(name),
                StatusKey::Task(id) => self
                    .statuses
                    .tasks
                    .get(&(id.connector.clone(), id.task as u32)),
            };
            let Some((state, generation, trace)) = self.written.get(&key.record_key()) else {
                continue;
            };
            if folded.is_some_and(|f| {
                (f.worker_id != self.id || f.state != *state) && f.generation >= *generation
            }) {
                stale.push((key, *state, trace.clone()));
            }
        }
        for (key, state, trace) in stale {
            let k = key.record_key();
            tracing::info!(worker = %self.id, key = %k, ?state, "status topic contradicts this worker; writing its status again");
            self.written.remove(&k);
            self.write_status(key, state, trace).await;
        }
    }

    /// How many restarts of `id` the operator has asked for.
    fn restart_count(&self, id: &TaskId) -> u32 {
        self.assignment.task_restarts(&id.connector, id.task as u32)
    }

    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }
}

enum StatusKey {
    Connector(String),
    Task(TaskId),
}

impl StatusKey {
    /// The status topic key, e.g. `status-task-<connector>-<n>`.
    fn record_key(&self) -> String {
        self.record(None).key()
    }

    /// The status topic record for this connector or task.
    fn record(&self, status: Option<Status>) -> StatusRecord {
        match self {
            StatusKey::Connector(name) => StatusRecord::Connector {
                name: name.clone(),
                status,
            },
            StatusKey::Task(id) => StatusRecord::Task {
                connector: id.connector.clone(),
                task: id.task as u32,
                status,
            },
        }
    }
}

/// Task-config keys (by task number) that still hold a resolved value
/// after [`reverse_transform`]: a connector that copied a secret to a key
/// of its own.
fn resolved_values_in(configs: &[Props], redactor: &Redactor) -> Vec<(usize, String)> {
    configs
        .iter()
        .enumerate()
        .flat_map(|(n, config)| {
            config
                .iter()
                .filter(|(_, v)| redactor.contains_secret(v))
                .map(move |(k, _)| (n, k.clone()))
        })
        .collect()
}

/// Key prefix of KIP-558 active-topic records in the status topic:
/// `status-topic-<topic>:connector-<connector>`.
const ACTIVE_TOPIC_PREFIX: &str = "status-topic-";

/// The config and status topics as this worker folded them: what the REST
/// API answers from.
#[derive(Debug, Default)]
struct RestView {
    config: ConfigState,
    statuses: StatusState,
    /// KIP-558 active topics per connector, from Java workers' records.
    topics: BTreeMap<String, BTreeSet<String>>,
}

impl RestView {
    fn apply_active_topic(&mut self, key: &str, value: Option<&[u8]>) {
        let Some((topic, connector)) = key
            .strip_prefix(ACTIVE_TOPIC_PREFIX)
            .and_then(|rest| rest.split_once(":connector-"))
        else {
            return;
        };
        let topics = self.topics.entry(connector.to_owned()).or_default();
        if value.is_some() {
            topics.insert(topic.to_owned());
        } else {
            topics.remove(topic);
        }
    }

    fn status(&self, name: &str) -> Option<ConnectorStateInfo> {
        let props = self.config.connectors.get(name)?;
        let connector = self.statuses.connectors.get(name)?;
        let task_count = self.config.tasks.get(name).map(Vec::len);
        let tasks = self
            .statuses
            .tasks
            .range((name.to_owned(), 0)..=(name.to_owned(), u32::MAX))
            .filter(|((_, n), _)| task_count.is_none_or(|c| (*n as usize) < c))
            .map(|((_, n), st)| RestTaskState {
                id: *n,
                state: st.state,
                worker_id: st.worker_id.clone(),
                trace: st.trace.clone(),
            })
            .collect();
        Some(ConnectorStateInfo {
            name: name.to_owned(),
            connector: RestConnectorState {
                state: connector.state,
                worker_id: connector.worker_id.clone(),
                trace: connector.trace.clone(),
            },
            tasks,
            kind: ConnectorType::of_config(props),
        })
    }
}

/// Who manages this worker's connectors, for the messages refusing writes.
struct Owner {
    namespace: String,
    cluster: Option<String>,
}

impl Owner {
    /// From the Pod's environment: `POD_NAMESPACE`, and the cluster from
    /// the Pod name `<cluster>-worker-<n>`.
    fn from_env(worker_id: &str) -> Owner {
        let cluster = worker_id
            .rsplit_once("-worker-")
            .filter(|(_, n)| n.parse::<u32>().is_ok())
            .map(|(c, _)| c.to_owned());
        Owner {
            namespace: std::env::var("POD_NAMESPACE")
                .ok()
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "default".to_owned()),
            cluster,
        }
    }

    const DISABLED: &'static str =
        "REST writes are disabled for this ConnectCluster (spec.restApi.writes=false)";

    /// 409 for a change to connector `name`, saying how to make it instead.
    fn refuse(&self, name: &str, how: &str) -> RestError {
        RestError::conflict(format!(
            "Connector {name} is managed by the Connector resource {}/{name}; change it with kubectl ({how}) — {}",
            self.namespace,
            Self::DISABLED
        ))
    }

    /// 409 for creating a connector.
    fn refuse_create(&self, name: &str) -> RestError {
        let cluster = self.cluster.as_deref().unwrap_or("<cluster>");
        RestError::conflict(format!(
            "Connectors of this ConnectCluster are managed by Connector resources; create connector {name} with kubectl (a Connector named {name} in namespace {}, labelled {}={cluster}) — {}",
            self.namespace,
            crate::api::CLUSTER_LABEL,
            Self::DISABLED
        ))
    }
}

/// The REST API of a distributed worker.
struct WorkerBackend {
    view: Arc<RwLock<RestView>>,
    last_sync: Arc<AtomicI64>,
    stale_after: i64,
    worker_props: Props,
    bootstrap: String,
    offset_topic: String,
    providers: Arc<ConfigProviders>,
    cluster_id: rest::ClusterId,
    /// The Connector resources, when REST writes are enabled.
    writes: Option<ConnectorResources>,
    owner: Owner,
    /// The offset topic, read on demand, folded by key.
    source_offsets: tokio::sync::Mutex<Option<(TopicLog, BTreeMap<String, OffsetMap>)>>,
}

impl WorkerBackend {
    fn read<R>(&self, f: impl FnOnce(&RestView) -> R) -> R {
        f(&self.view.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn exists(&self, name: &str) -> bool {
        self.read(|v| v.config.connectors.contains_key(name))
    }

    fn must_exist(&self, name: &str, message: impl FnOnce() -> String) -> Result<(), RestError> {
        if self.exists(name) {
            Ok(())
        } else {
            Err(RestError::not_found(message()))
        }
    }

    /// The Connector resources when writes are enabled, else the refusal.
    fn writer(
        &self,
        refusal: impl FnOnce(&Owner) -> RestError,
    ) -> Result<&ConnectorResources, RestError> {
        self.writes.as_ref().ok_or_else(|| refusal(&self.owner))
    }

    /// Writes the operator does not take from the REST API even when
    /// writes are enabled.
    fn operator_only(&self, name: &str, what: &str, how: &str) -> RestError {
        if self.writes.is_none() {
            self.owner.refuse(name, how)
        } else {
            RestError::conflict(format!(
                "{what} of connector {name} is not available through a distributed kconnect worker's REST API: {how}"
            ))
        }
    }

    async fn sink_client(&self, name: &str) -> Result<(rdkafka::ClientConfig, Props), RestError> {
        let raw = self
            .read(|v| v.config.connectors.get(name).cloned())
            .ok_or_else(|| RestError::connector_not_found(name))?;
        let providers = self.providers.clone();
        let resolved = tokio::task::spawn_blocking(move || providers.transform(&raw))
            .await
            .map_err(|e| RestError::internal(e.to_string()))?
            .map_err(|e| RestError::internal(e.to_string()))?;
        let cfg =
            sink_offsets::client_config(&self.bootstrap, &self.worker_props, &resolved.props, name);
        Ok((cfg?, resolved.props))
    }

    async fn source_offsets(&self, name: &str) -> Result<Vec<ConnectorOffset>, RestError> {
        let mut guard = self.source_offsets.lock().await;
        if guard.is_none() {
            let client = crate::engine::kafka::worker_client_settings(&self.worker_props)
                .map_err(|e| RestError::internal(e.to_string()))?;
            let log = TopicLog::open(&self.bootstrap, &self.offset_topic, &client)
                .map_err(|e| RestError::internal(e.to_string()))?;
            *guard = Some((log, BTreeMap::new()));
        }
        let (log, offsets) = guard.as_mut().expect("opened above");
        let records = log
            .read_to_stable_end(Duration::from_secs(30))
            .await
            .map_err(|e| RestError::internal(e.to_string()))?;
        for (key, value) in records {
            let key = serde_json::from_str::<serde_json::Value>(&key)
                .map(|k| k.to_string())
                .unwrap_or(key);
            match value.and_then(|v| serde_json::from_slice::<OffsetMap>(&v).ok()) {
                Some(o) => offsets.insert(key, o),
                None => offsets.remove(&key),
            };
        }
        Ok(offsets
            .iter()
            .filter_map(|(key, offset)| match parse_offset_key(key) {
                Some((connector, partition)) if connector == name => Some(ConnectorOffset {
                    partition,
                    offset: Some(offset.clone()),
                }),
                _ => None,
            })
            .collect())
    }
}

#[async_trait]
impl Backend for WorkerBackend {
    async fn kafka_cluster_id(&self) -> Option<String> {
        self.cluster_id.get()
    }

    async fn health(&self) -> Health {
        let last = self.last_sync.load(Ordering::Relaxed);
        if last == 0 {
            return Health::Starting(Some("The worker has not read the config topic yet.".into()));
        }
        let age = now_ms() - last;
        if age >= self.stale_after {
            Health::Unhealthy(format!(
                "The worker has not completed a sync with the config topic for {age} ms."
            ))
        } else {
            Health::Healthy
        }
    }

    fn worker_props(&self) -> &Props {
        &self.worker_props
    }

    async fn connectors(&self) -> Vec<String> {
        self.read(|v| v.config.connectors.keys().cloned().collect())
    }

    async fn connector_info(&self, name: &str) -> Result<RestConnectorInfo, RestError> {
        self.read(|v| {
            let config = v
                .config
                .connectors
                .get(name)
                .ok_or_else(|| RestError::connector_not_found(name))?;
            let tasks = v.config.tasks.get(name).map_or(0, Vec::len);
            Ok(RestConnectorInfo::new(name, config.clone(), tasks))
        })
    }

    async fn connector_config(&self, name: &str) -> Result<Props, RestError> {
        self.read(|v| v.config.connectors.get(name).cloned())
            .ok_or_else(|| RestError::connector_not_found(name))
    }

    async fn connector_status(&self, name: &str) -> Result<ConnectorStateInfo, RestError> {
        self.read(|v| v.status(name))
            .ok_or_else(|| RestError::not_found(format!("No status found for connector {name}")))
    }

    async fn task_configs(&self, name: &str) -> Result<Vec<TaskInfo>, RestError> {
        self.read(|v| {
            if !v.config.connectors.contains_key(name) {
                return Err(RestError::connector_not_found(name));
            }
            Ok(v.config
                .tasks
                .get(name)
                .map(|tasks| {
                    tasks
                        .iter()
                        .enumerate()
                        .map(|(n, config)| TaskInfo {
                            id: ConnectorTaskId {
                                connector: name.to_owned(),
                                task: n as u32,
                            },
                            config: config.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default())
        })
    }

    async fn task_status(&self, name: &str, task: u32) -> Result<RestTaskState, RestError> {
        self.read(|v| v.status(name))
            .and_then(|s| s.tasks.into_iter().find(|t| t.id == task))
            .ok_or_else(|| RestError::not_found(format!("No status found for task {name}-{task}")))
    }

    async fn plugin_version(&self, name: &str) -> Option<String> {
        let class = self.read(|v| {
            v.config
                .connectors
                .get(name)?
                .get("connector.class")
                .cloned()
        })?;
        let plugin = crate::connectors::find(&class).ok()?;
        Some((plugin.create)().as_connector().version().to_owned())
    }

    async fn active_topics(&self, name: &str) -> Result<Vec<String>, RestError> {
        // Java workers record the topics they use; kconnect workers do not
        // (yet), so a connector's configured topics stand in while it runs.
        Ok(self.read(|v| {
            if let Some(topics) = v.topics.get(name).filter(|t| !t.is_empty()) {
                return topics.iter().cloned().collect();
            }
            let running = v
                .statuses
                .tasks
                .range((name.to_owned(), 0)..=(name.to_owned(), u32::MAX))
                .any(|(_, st)| st.state == State::Running);
            match v.config.connectors.get(name) {
                Some(props) if running => {
                    let mut topics = connector_config::common_topics(props);
                    if let Some(t) = props
                        .get("topic")
                        .map(|t| t.trim())
                        .filter(|t| !t.is_empty())
                    {
                        topics.push(t.to_owned());
                    }
                    topics.sort();
                    topics.dedup();
                    topics
                }
                _ => Vec::new(),
            }
        }))
    }

    async fn offsets(&self, name: &str) -> Result<ConnectorOffsets, RestError> {
        let kind = self
            .read(|v| v.config.connectors.get(name).map(ConnectorType::of_config))
            .ok_or_else(|| RestError::connector_not_found(name))?;
        let offsets = if kind == ConnectorType::Sink {
            let (cfg, props) = self.sink_client(name).await?;
            tokio::task::spawn_blocking(move || sink_offsets::read(&cfg, &props))
                .await
                .map_err(|e| RestError::internal(e.to_string()))??
        } else {
            self.source_offsets(name).await?
        };
        Ok(ConnectorOffsets { offsets })
    }

    async fn put_connector_config(
        &self,
        name: &str,
        config: Props,
        allow_replace: bool,
        initial_state: Option<InitialState>,
    ) -> Result<Created<RestConnectorInfo>, RestError> {
        let exists = self.exists(name);
        let resources = self.writer(|o| {
            if exists {
                o.refuse(name, "spec.config, spec.class, spec.tasksMax")
            } else {
                o.refuse_create(name)
            }
        })?;
        let raw = config.clone();
        let exactly_once = crate::engine::worker_config::exactly_once_enabled(self.worker_props());
        let infos =
            tokio::task::spawn_blocking(move || rest::plugins::validate(&raw, exactly_once))
                .await
                .map_err(|e| RestError::internal(e.to_string()))??;
        if let Some(e) = rest::plugins::invalid_config(&infos) {
            return Err(e);
        }
        let created = resources
            .put(name, &config, allow_replace, initial_state)
            .await?;
        let tasks = self.read(|v| v.config.tasks.get(name).map_or(0, Vec::len));
        Ok(Created {
            created,
            result: RestConnectorInfo::new(name, config, tasks),
        })
    }

    async fn delete_connector(&self, name: &str) -> Result<(), RestError> {
        self.must_exist(name, || format!("Connector {name} not found"))?;
        let resources = self.writer(|o| {
            o.refuse(
                name,
                &format!("kubectl delete connector {name} -n {}", o.namespace),
            )
        })?;
        resources.delete(name).await?;
        // Like Java, answer once the connector is gone (the finalizer has
        // stopped its tasks).
        if !resources.wait_deleted(name, Duration::from_secs(30)).await {
            tracing::warn!(
                connector = name,
                "the Connector resource is still being deleted"
            );
        }
        Ok(())
    }

    async fn pause_connector(&self, name: &str) -> Result<(), RestError> {
        self.must_exist(name, || format!("Unknown connector {name}"))?;
        self.writer(|o| o.refuse(name, "spec.state: paused"))?
            .set_state(name, ConnectorState::Paused)
            .await
    }

    async fn resume_connector(&self, name: &str) -> Result<(), RestError> {
        self.must_exist(name, || format!("Unknown connector {name}"))?;
        self.writer(|o| o.refuse(name, "spec.state: running"))?
            .set_state(name, ConnectorState::Running)
            .await
    }

    async fn stop_connector(&self, name: &str) -> Result<(), RestError> {
        self.must_exist(name, || format!("Unknown connector {name}"))?;
        self.writer(|o| o.refuse(name, "spec.state: stopped"))?
            .set_state(name, ConnectorState::Stopped)
            .await
    }

    async fn restart_connector(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<Option<ConnectorStateInfo>, RestError> {
        let plain = !include_tasks && !only_failed;
        self.must_exist(name, || {
            if plain {
                format!("Connector {name} not found")
            } else {
                format!("Unknown connector: {name}")
            }
        })?;
        let resources = self.writer(|o| {
            o.refuse(
                name,
                &format!(
                    "kubectl annotate connector {name} {RESTART_ANNOTATION}={}",
                    RestartRequest {
                        include_tasks,
                        only_failed
                    }
                    .annotation()
                ),
            )
        })?;
        // The plan, as Java answers it: what will restart is RESTARTING.
        let request = RestartRequest {
            include_tasks,
            only_failed,
        };
        let plan = self.read(|v| v.status(name)).map(|mut plan| {
            if request.restarts_connector(plan.connector.state) {
                plan.connector.state = State::Restarting;
            }
            for t in &mut plan.tasks {
                if request.restarts_task(t.state) {
                    t.state = State::Restarting;
                }
            }
            plan
        });
        resources.restart(name, request).await?;
        Ok(if plain { None } else { plan })
    }

    async fn restart_task(&self, name: &str, task: u32) -> Result<(), RestError> {
        self.must_exist(name, || format!("Connector {name} not found"))?;
        let resources = self.writer(|o| {
            o.refuse(
                name,
                &format!("kubectl annotate connector {name} {RESTART_TASK_ANNOTATION}={task}"),
            )
        })?;
        let count = self.read(|v| v.config.tasks.get(name).map_or(0, Vec::len));
        if task as usize >= count {
            return Err(RestError::not_found(format!(
                "Task {name}-{task} not found"
            )));
        }
        resources.restart_task(name, task).await
    }

    async fn reset_active_topics(&self, name: &str) -> Result<(), RestError> {
        Err(self.operator_only(
            name,
            "Resetting the active topics",
            "the topics follow the connector's config",
        ))
    }

    async fn alter_offsets(
        &self,
        name: &str,
        offsets: Vec<ConnectorOffset>,
    ) -> Result<Message, RestError> {
        self.must_exist(name, || format!("Connector {name} not found"))?;
        let resources = self.writer(|o| {
            o.refuse(
                name,
                &format!(
                    "spec.state: stopped, then kubectl annotate connector {name} {ALTER_OFFSETS_ANNOTATION}='{{\"offsets\": […]}}' {OFFSETS_ANNOTATION}=alter"
                ),
            )
        })?;
        self.must_be_stopped(name)?;
        let body = serde_json::to_string(&ConnectorOffsets { offsets })
            .map_err(|e| RestError::internal(e.to_string()))?;
        resources
            .offsets(name, "alter", Some(body), rest::REQUEST_TIMEOUT)
            .await
            .map(|message| Message { message })
    }

    async fn reset_offsets(&self, name: &str) -> Result<Message, RestError> {
        self.must_exist(name, || format!("Connector {name} not found"))?;
        let resources = self.writer(|o| {
            o.refuse(
                name,
                &format!(
                    "spec.state: stopped, then kubectl annotate connector {name} {OFFSETS_ANNOTATION}=reset"
                ),
            )
        })?;
        self.must_be_stopped(name)?;
        resources
            .offsets(name, "reset", None, rest::REQUEST_TIMEOUT)
            .await
            .map(|message| Message { message })
    }
}

impl WorkerBackend {
    /// Connect's rule for altering offsets: the connector is STOPPED and
    /// none of its tasks runs.
    fn must_be_stopped(&self, name: &str) -> Result<(), RestError> {
        if self.read(|v| v.statuses.is_stopped(name)) {
            Ok(())
        } else {
            Err(rest::offsets_need_stopped(name))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignment_record_reads_the_operator_shape() {
        let a: AssignmentRecord = serde_json::from_str(
            r#"{"generation": 4, "workers": {"w-0": {"connectors": ["src"], "tasks": ["src-0", "src-1"]}, "w-1": {}}, "restarts": {"src-1": 2, "connector:src": 1}}"#,
        )
        .unwrap();
        assert_eq!(a.assignment.generation, 4);
        assert_eq!(a.assignment.workers["w-0"].tasks.len(), 2);
        assert!(a.assignment.workers["w-1"].connectors.is_empty());
        assert_eq!(a.task_restarts("src", 1), 2);
        assert_eq!(a.task_restarts("src", 0), 0);
        assert_eq!(a.connector_restarts("src"), 1);
    }

    #[test]
    fn copied_secrets_are_found_by_key() {
        let redactor = Redactor::new(["hunter22".to_string()]);
        let configs = [
            Props::from([("pw".to_string(), "${env:PW}".to_string())]),
            Props::from([("copy".to_string(), "user:hunter22".to_string())]),
        ];
        assert_eq!(
            resolved_values_in(&configs, &redactor),
            [(1, "copy".to_string())]
        );
    }

    #[test]
    fn rest_view_answers_java_shapes_from_the_folded_topics() {
        let mut view = RestView::default();
        let props: Props = [
            ("name".to_string(), "gen".to_string()),
            ("connector.class".into(), "datagen".into()),
            ("topic".into(), "orders".into()),
        ]
        .into();
        view.config.apply(ConfigRecord::Connector {
            name: "gen".into(),
            props: Some(props.clone()),
        });
        assert!(view.status("gen").is_none(), "no status written yet");
        let status = |state, worker: &str| Status {
            state,
            trace: None,
            worker_id: worker.into(),
            generation: 1,
        };
        view.statuses.apply(StatusRecord::Connector {
            name: "gen".into(),
            status: Some(status(State::Running, "w-0")),
        });
        for (task, state) in [
            (0, State::Running),
            (1, State::Failed),
            (5, State::Unassigned),
        ] {
            view.statuses.apply(StatusRecord::Task {
                connector: "gen".into(),
                task,
                status: Some(status(state, "w-1")),
            });
        }
        for n in 0..2 {
            view.config.apply(ConfigRecord::Task {
                connector: "gen".into(),
                task: n,
                props: props.clone(),
            });
        }
        view.config.apply(ConfigRecord::Commit {
            connector: "gen".into(),
            tasks: 2,
        });
        let s = serde_json::to_value(view.status("gen").unwrap()).unwrap();
        assert_eq!(
            s,
            serde_json::json!({
                "name": "gen",
                "connector": {"state": "RUNNING", "worker_id": "w-0"},
                "tasks": [
                    {"id": 0, "state": "RUNNING", "worker_id": "w-1"},
                    {"id": 1, "state": "FAILED", "worker_id": "w-1"}
                ],
                "type": "source"
            })
        );
        view.apply_active_topic("status-topic-orders:connector-gen", Some(b"{}"));
        view.apply_active_topic("status-topic-x:connector-gen", Some(b"{}"));
        view.apply_active_topic("status-topic-x:connector-gen", None);
        assert_eq!(view.topics["gen"].iter().collect::<Vec<_>>(), ["orders"]);
    }

    #[test]
    fn refusals_name_the_resource_and_the_kubectl_change() {
        let owner = Owner {
            namespace: "prod".into(),
            cluster: Owner::from_env("main-worker-3").cluster,
        };
        assert_eq!(owner.cluster.as_deref(), Some("main"));
        assert_eq!(Owner::from_env("w-0").cluster, None);
        let e = owner.refuse("orders", "spec.state: paused");
        assert_eq!(e.status.as_u16(), 409);
        assert_eq!(
            e.message,
            "Connector orders is managed by the Connector resource prod/orders; change it with kubectl (spec.state: paused) — REST writes are disabled for this ConnectCluster (spec.restApi.writes=false)"
        );
        let e = owner.refuse_create("new");
        assert!(e
            .message
            .contains("a Connector named new in namespace prod"));
        assert!(e.message.contains("kconnect.dev/cluster=main"));
    }

    #[test]
    fn topics_and_group_are_required() {
        let props: Props = [("bootstrap.servers".to_string(), "b:9092".to_string())].into();
        let err = config_def().parse(&props).unwrap_err();
        assert_eq!(err.key, GROUP_ID);
    }
}
