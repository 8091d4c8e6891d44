//! Distributed mode: the process in each worker pod (`kconnect worker`).
//!
//! Everything reaches the worker through Kafka, so it needs no Kubernetes
//! credentials: it follows the config topic (connector configs, target
//! states, committed task configs, and the operator's `assignment-<group>`
//! record), runs the connectors and tasks of the newest assignment that
//! names it, stops what is no longer its own (tasks commit their offsets
//! first), writes task configs for the connectors it runs, and reports
//! connector/task statuses and a heartbeat to the status topic.
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
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::connect::config::validating_resolved;
use crate::connect::config_provider::{self, has_variable, reverse_transform};
use crate::connect::{
    Config, ConfigDef, ConfigError, ConfigProviders, ConfigType, Importance, Props, Redactor,
    ResolveError, Resolved, Validator,
};
use crate::connectors::AnyConnector;
use crate::engine::connector_config::{self, ValidatedConnector};
use crate::engine::{TaskId, TaskState, Worker, WorkerConfig};
use crate::storage::config_topic::{ConfigRecord, ConfigState, TargetState};
use crate::storage::offset_topic::KafkaOffsetStore;
use crate::storage::status_topic::{Heartbeat, State, Status, StatusRecord, StatusState};
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
            "How often the worker reads the config topic for new assignments",
        )
        .validate_with(Validator::Range {
            min: Some(10),
            max: None,
        })
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
}

/// The operator's placement record, as far as a worker needs it.
#[derive(Debug, Clone, Default, Deserialize)]
struct AssignmentRecord {
    generation: u64,
    #[serde(default)]
    workers: BTreeMap<String, WorkerShare>,
    /// Restart requests: task id (`<connector>-<n>`) → how many times the
    /// operator has asked for it to be restarted. A FAILED task stays down
    /// until this count grows past the one it failed at.
    #[serde(default)]
    restarts: BTreeMap<String, u32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct WorkerShare {
    #[serde(default)]
    connectors: BTreeSet<String>,
    #[serde(default)]
    tasks: BTreeSet<String>,
}

/// A connector config this worker validated, reused to create its tasks.
struct Loaded {
    /// As in the config topic, variables unresolved.
    raw: Props,
    /// The values resolved for its variables, scrubbed from traces.
    redactor: Redactor,
    /// Validated with the variables resolved.
    validated: ValidatedConnector,
    connector: AnyConnector,
}

/// Parses `<connector>-<n>` (the number follows the last dash).
fn parse_task(id: &str) -> Option<(String, usize)> {
    let (c, n) = id.rsplit_once('-')?;
    Some((c.to_owned(), n.parse().ok()?))
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
    worker_config: WorkerConfig,
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
    loaded: BTreeMap<String, Loaded>,
    /// Task configs (as in the config topic) the tasks were started with,
    /// to restart on change.
    started_with: BTreeMap<TaskId, Props>,
    /// Values resolved for the variables of our tasks, scrubbed from their
    /// failure traces.
    redactors: BTreeMap<TaskId, Redactor>,
    /// Last status written per connector/task (state, generation, trace),
    /// to write only changes and to repeat one the topic lost.
    written: BTreeMap<String, (State, u64, Option<String>)>,
    /// Restart counts of the newest assignment.
    restarts: BTreeMap<String, u32>,
    /// Tasks that failed, with the restart count they failed at and the
    /// task config they ran with.
    failed: BTreeMap<TaskId, (u32, Option<Props>)>,
    /// Milliseconds since the epoch of the last completed sync.
    last_sync: Arc<AtomicI64>,
}

impl DistributedWorker {
    /// Creates the internal topics if missing and connects to them. The
    /// worker config's own variables are resolved first (KIP-421).
    pub async fn connect(
        props: &Props,
        worker_id: &str,
    ) -> Result<(DistributedWorker, Worker), DistributedError> {
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
        let client = Props::new();
        let topic = |key: &str| config.string(key).unwrap_or_default();
        for (name, partitions, rf) in [
            (
                topic(CONFIG_TOPIC),
                1,
                config.int("config.storage.replication.factor"),
            ),
            (
                topic(OFFSET_TOPIC),
                config.int("offset.storage.partitions"),
                config.int("offset.storage.replication.factor"),
            ),
            (
                topic(STATUS_TOPIC),
                config.int("status.storage.partitions"),
                config.int("status.storage.replication.factor"),
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
                TopicLog::open(&bootstrap, &topic(OFFSET_TOPIC), &client)?,
                read_timeout,
            )
            .await?,
        );
        let engine = Worker::new(worker_config.clone(), bootstrap.clone(), offsets.clone());
        let me = DistributedWorker {
            id: worker_id.to_owned(),
            group: topic(GROUP_ID),
            offsets,
            config_log: TopicLog::open(&bootstrap, &topic(CONFIG_TOPIC), &client)?,
            status_log: TopicLog::open(&bootstrap, &topic(STATUS_TOPIC), &client)?,
            config,
            worker_config,
            providers: Arc::new(providers),
            bootstrap,
            state: ConfigState::default(),
            statuses: StatusState::default(),
            generation: 0,
            loaded: BTreeMap::new(),
            started_with: BTreeMap::new(),
            redactors: BTreeMap::new(),
            written: BTreeMap::new(),
            restarts: BTreeMap::new(),
            failed: BTreeMap::new(),
            last_sync: Arc::new(AtomicI64::new(0)),
        };
        Ok((me, engine))
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
        let stale_after = (self.config.long("worker.sync.interval.ms") * 10).max(5_000);
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

    /// Runs until `stop` is cancelled, then stops every task gracefully.
    pub async fn run(
        mut self,
        mut engine: Worker,
        stop: CancellationToken,
    ) -> Result<(), DistributedError> {
        let sync_every = self.config.duration_ms("worker.sync.interval.ms");
        let beat_every = self.config.duration_ms("worker.heartbeat.interval.ms");
        let mut sync = tokio::time::interval(sync_every);
        let mut beat = tokio::time::interval(beat_every);
        tracing::info!(worker = %self.id, group = %self.group, "distributed worker started");
        loop {
            tokio::select! {
                biased;
                _ = stop.cancelled() => break,
                Some((id, state)) = engine.next_exit() => self.on_task_exit(&id, state).await,
                _ = sync.tick() => {
                    if let Err(e) = self.sync(&mut engine).await {
                        tracing::warn!(worker = %self.id, error = %e, "sync with the config topic failed; retrying");
                    } else {
                        self.last_sync.store(now_ms(), Ordering::Relaxed);
                    }
                }
                _ = beat.tick() => self.heartbeat(&engine).await,
            }
        }
        let ids: Vec<TaskId> = engine.running_tasks().cloned().collect();
        tracing::info!(worker = %self.id, remaining = ids.len(), "shutting down");
        for id in &ids {
            engine.stop_task(id);
        }
        let deadline = tokio::time::Instant::now() + self.worker_config.task_shutdown_timeout();
        while let Ok(Some((id, state))) =
            tokio::time::timeout_at(deadline, engine.next_exit()).await
        {
            self.on_task_exit(&id, state).await;
        }
        // A last heartbeat saying nothing runs here any more: the operator
        // hands this worker's tasks on without waiting for the timeout.
        self.heartbeat(&engine).await;
        Ok(())
    }

    /// Writes `status-worker-<id>`: alive, the generation acted on, and how
    /// many tasks run and are still stopping (their offsets not yet
    /// committed).
    async fn heartbeat(&mut self, engine: &Worker) {
        let active = engine.active_tasks() as u32;
        let running = engine.running_tasks().count() as u32;
        let (k, v) = StatusRecord::Worker {
            id: self.id.clone(),
            heartbeat: Some(Heartbeat {
                timestamp: now_ms(),
                generation: self.generation,
                tasks: active,
                stopping: active.saturating_sub(running),
            }),
        }
        .encode();
        if let Err(e) = self.status_log.send(&k, v.as_deref()).await {
            tracing::warn!(worker = %self.id, error = %e, "heartbeat failed");
        }
    }

    async fn write_status(&mut self, key: StatusKey, state: State, trace: Option<String>) {
        let status = Status {
            state,
            trace: trace.clone(),
            worker_id: self.id.clone(),
            generation: self.generation,
        };
        let record = match &key {
            StatusKey::Connector(name) => StatusRecord::Connector {
                name: name.clone(),
                status: Some(status),
            },
            StatusKey::Task(id) => StatusRecord::Task {
                connector: id.connector.clone(),
                task: id.task as u32,
                status: Some(status),
            },
        };
        let (k, v) = record.encode();
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

    async fn on_task_exit(&mut self, id: &TaskId, state: TaskState) {
        let config = self.started_with.remove(id);
        let (s, trace) = match state {
            TaskState::Failed(trace) => {
                let trace = match self.redactors.get(id) {
                    Some(r) => r.redact(&trace),
                    None => trace,
                };
                self.failed
                    .insert(id.clone(), (self.restart_count(id), config));
                (State::Failed, Some(trace))
            }
            // Stopped because it was unassigned, paused or stopped: the sync
            // that stopped it knows which and reports it.
            _ => return,
        };
        self.write_status(StatusKey::Task(id.clone()), s, trace)
            .await;
    }

    /// Reads the config topic and brings running connectors and tasks in
    /// line with the newest assignment.
    async fn sync(&mut self, engine: &mut Worker) -> Result<(), DistributedError> {
        for (k, v) in self.config_log.read_to_end(Duration::from_secs(30)).await? {
            match ConfigRecord::decode(&k, v.as_deref()) {
                Ok(r) => self.state.apply(r),
                Err(e) => tracing::warn!(worker = %self.id, error = %e, "skipping a config record"),
            }
        }
        for (k, v) in self.status_log.read_to_end(Duration::from_secs(30)).await? {
            self.statuses.apply(StatusRecord::decode(&k, v.as_deref()));
        }
        let assignment: AssignmentRecord = match self.state.assignments.get(&self.group) {
            Some(v) => serde_json::from_value(v.clone()).unwrap_or_else(|e| {
                tracing::warn!(worker = %self.id, error = %e, "unreadable assignment record");
                AssignmentRecord::default()
            }),
            None => AssignmentRecord::default(),
        };
        if assignment.generation < self.generation {
            return Ok(());
        }
        self.generation = assignment.generation;
        self.restarts = assignment.restarts.clone();
        let mine = assignment
            .workers
            .get(&self.id)
            .cloned()
            .unwrap_or_default();

        // Connector configs this worker needs: its connectors and the
        // connectors of its tasks.
        let mut needed: BTreeSet<String> = mine.connectors.clone();
        let my_tasks: BTreeSet<TaskId> = mine
            .tasks
            .iter()
            .filter_map(|t| parse_task(t))
            .map(|(connector, task)| TaskId { connector, task })
            .collect();
        needed.extend(my_tasks.iter().map(|t| t.connector.clone()));
        self.loaded.retain(|name, _| needed.contains(name));
        for name in &needed {
            let Some(raw) = self.state.connectors.get(name).cloned() else {
                continue;
            };
            if self.loaded.get(name).is_some_and(|l| l.raw == raw) {
                continue;
            }
            match self.load(name, raw).await {
                Ok(loaded) => {
                    self.loaded.insert(name.clone(), loaded);
                }
                Err(trace) => {
                    self.loaded.remove(name);
                    if mine.connectors.contains(name) {
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

        // Connectors placed here compute and publish their task configs.
        for name in &mine.connectors {
            let Some(loaded) = self.loaded.get(name) else {
                continue;
            };
            let target = self.state.target_state(name);
            let state = match target {
                TargetState::Started => State::Running,
                TargetState::Paused => State::Paused,
                TargetState::Stopped => State::Stopped,
            };
            if target == TargetState::Started {
                // Computed from the resolved config; written with the
                // variables of the raw one back in place.
                let computed = loaded
                    .connector
                    .as_connector()
                    .task_configs(loaded.validated.tasks_max)
                    .map(|configs| {
                        let configs: Vec<Props> = configs
                            .into_iter()
                            .map(|c| reverse_transform(&loaded.raw, c))
                            .collect();
                        let leaked = resolved_values_in(&configs, &loaded.redactor);
                        (configs, leaked)
                    })
                    .map_err(|e| loaded.redactor.redact(&e.to_string()));
                match computed {
                    Ok((configs, leaked)) => {
                        if self.state.tasks.get(name) != Some(&configs) {
                            for (task, key) in leaked {
                                // Java writes such configs silently.
                                tracing::warn!(
                                    worker = %self.id,
                                    connector = %name,
                                    task,
                                    key = %key,
                                    "the connector put a value resolved from a config provider in a task-config key without a variable; it is written to the config topic"
                                );
                            }
                            self.publish_task_configs(name, &configs).await?;
                        }
                    }
                    Err(trace) => {
                        self.write_status(
                            StatusKey::Connector(name.clone()),
                            State::Failed,
                            Some(trace),
                        )
                        .await;
                        continue;
                    }
                }
            }
            self.write_status(StatusKey::Connector(name.clone()), state, None)
                .await;
        }

        // Stop tasks that are no longer ours, whose connector is gone or not
        // started, or whose config changed.
        let running: Vec<TaskId> = engine.running_tasks().cloned().collect();
        for id in running {
            let target = self.state.target_state(&id.connector);
            let current = self
                .state
                .tasks
                .get(&id.connector)
                .and_then(|t| t.get(id.task));
            let reason =
                if !my_tasks.contains(&id) || !self.state.connectors.contains_key(&id.connector) {
                    Some(State::Unassigned)
                } else if target == TargetState::Paused {
                    Some(State::Paused)
                } else if target == TargetState::Stopped {
                    Some(State::Stopped)
                } else if current != self.started_with.get(&id) {
                    Some(State::Restarting)
                } else {
                    None
                };
            if let Some(state) = reason {
                engine.stop_task(&id);
                self.started_with.remove(&id);
                self.failed.remove(&id);
                // Like Java's putSafe: UNASSIGNED only over a status this
                // worker wrote, never over the new owner's.
                let ours = self
                    .statuses
                    .tasks
                    .get(&(id.connector.clone(), id.task as u32))
                    .is_some_and(|st| st.worker_id == self.id);
                if state != State::Unassigned || ours {
                    self.write_status(StatusKey::Task(id.clone()), state, None)
                        .await;
                }
            }
        }

        // Start our tasks that are not running.
        let running: BTreeSet<TaskId> = engine.running_tasks().cloned().collect();
        if my_tasks.iter().any(|id| !running.contains(id)) {
            self.offsets.refresh(Duration::from_secs(30)).await?;
        }
        for id in &my_tasks {
            if running.contains(id) {
                continue;
            }
            match self.state.target_state(&id.connector) {
                TargetState::Started => {}
                TargetState::Paused => {
                    self.write_status(StatusKey::Task(id.clone()), State::Paused, None)
                        .await;
                    continue;
                }
                TargetState::Stopped => {
                    self.write_status(StatusKey::Task(id.clone()), State::Stopped, None)
                        .await;
                    continue;
                }
            }
            let task_props = match self.state.tasks.get(&id.connector).map(|t| t.get(id.task)) {
                Some(Some(p)) if self.loaded.contains_key(&id.connector) => p.clone(),
                _ => continue, // task configs not committed yet
            };
            if self
                .failed
                .get(id)
                .is_some_and(|(at, _)| *at >= self.restart_count(id))
            {
                continue; // failed: restarts are the operator's call
            }
            // The task config holds variables, as the config topic does:
            // resolve them for this start.
            let started = match self.resolve(&task_props).await {
                Err(trace) => Err(trace),
                Ok(resolved) => {
                    let loaded = &self.loaded[&id.connector];
                    let redactor = loaded.redactor.merged(&resolved.redactor);
                    engine
                        .start_task(
                            id.task,
                            &loaded.validated,
                            &loaded.connector,
                            resolved.props,
                        )
                        .map(|()| redactor.clone())
                        .map_err(|e| redactor.redact(&e.to_string()))
                }
            };
            match started {
                Ok(redactor) => {
                    engine.hide_secrets(&redactor);
                    self.redactors.insert(id.clone(), redactor);
                    self.started_with.insert(id.clone(), task_props);
                    self.write_status(StatusKey::Task(id.clone()), State::Running, None)
                        .await;
                }
                Err(trace) => {
                    self.failed
                        .insert(id.clone(), (self.restart_count(id), Some(task_props)));
                    self.write_status(StatusKey::Task(id.clone()), State::Failed, Some(trace))
                        .await
                }
            }
        }
        self.reassert_statuses(&mine.connectors, &my_tasks).await;
        // A failed task that moved away or whose config changed starts
        // afresh when it comes back.
        let tasks = &self.state.tasks;
        self.failed.retain(|id, (_, config)| {
            my_tasks.contains(id)
                && tasks.get(&id.connector).and_then(|t| t.get(id.task)) == config.as_ref()
        });
        self.redactors.retain(|id, _| my_tasks.contains(id));
        Ok(())
    }

    /// Resolves a connector config's variables and validates the result.
    /// An error is the status trace, resolved values scrubbed.
    async fn load(&self, name: &str, raw: Props) -> Result<Loaded, String> {
        let resolved = self.resolve(&raw).await?;
        let (validated, connector) =
            validating_resolved(|| connector_config::validate(&resolved.props))
                .map_err(|e| resolved.redactor.redact(&e.to_string()))?;
        for key in &resolved.variable_keys {
            if resolved.props.get(key).is_some_and(|v| has_variable(v)) {
                tracing::warn!(
                    worker = %self.id,
                    connector = name,
                    key = %key,
                    providers = ?self.providers,
                    "a ${{provider:…}} variable names no configured config provider; the value is used as written"
                );
            }
        }
        let def = connector_config::common_def().merge(&connector.as_connector().config_def());
        tracing::info!(
            worker = %self.id,
            connector = name,
            config = %resolved.masked(Some(&def)),
            "connector config loaded"
        );
        Ok(Loaded {
            raw,
            redactor: resolved.redactor,
            validated,
            connector,
        })
    }

    /// Resolves variables with the worker's providers, off the async
    /// runtime since providers read files. An error is a status trace.
    async fn resolve(&self, raw: &Props) -> Result<Resolved, String> {
        let providers = self.providers.clone();
        if providers.is_empty() || !raw.values().any(|v| has_variable(v)) {
            // Nothing to look up: no file is read.
            return providers.transform(raw).map_err(|e| e.to_string());
        }
        let raw = raw.clone();
        tokio::task::spawn_blocking(move || providers.transform(&raw))
            .await
            .map_err(|e| format!("resolving config provider variables failed: {e}"))?
            .map_err(|e| e.to_string())
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
        self.restarts.get(&id.to_string()).copied().unwrap_or(0)
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
        match self {
            StatusKey::Connector(name) => format!("status-connector-{name}"),
            StatusKey::Task(id) => format!("status-task-{}-{}", id.connector, id.task),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ids_parse_after_the_last_dash() {
        assert_eq!(parse_task("my-sink-12"), Some(("my-sink".into(), 12)));
        assert_eq!(parse_task("nodash"), None);
        assert_eq!(parse_task("c-x"), None);
    }

    #[test]
    fn assignment_record_reads_the_operator_shape() {
        let a: AssignmentRecord = serde_json::from_str(
            r#"{"generation": 4, "workers": {"w-0": {"connectors": ["src"], "tasks": ["src-0", "src-1"]}, "w-1": {}}}"#,
        )
        .unwrap();
        assert_eq!(a.generation, 4);
        assert_eq!(a.workers["w-0"].tasks.len(), 2);
        assert!(a.workers["w-1"].connectors.is_empty());
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
    fn topics_and_group_are_required() {
        let props: Props = [("bootstrap.servers".to_string(), "b:9092".to_string())].into();
        let err = config_def().parse(&props).unwrap_err();
        assert_eq!(err.key, GROUP_ID);
    }
}
