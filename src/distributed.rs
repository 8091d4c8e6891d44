//! Distributed mode: the process in each worker pod (`kconnect worker`).
//!
//! Everything reaches the worker through Kafka, so it needs no Kubernetes
//! credentials: it follows the config topic (connector configs, target
//! states, committed task configs, and the operator's `assignment-<group>`
//! record), runs the connectors and tasks of the newest assignment that
//! names it, stops what is no longer its own (tasks commit their offsets
//! first), writes task configs for the connectors it runs, and reports
//! connector/task statuses and a heartbeat to the status topic.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::connect::{Config, ConfigDef, ConfigError, ConfigType, Importance, Props, Validator};
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
    ConfigDef::new()
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
    props: Props,
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
    /// Task configs the tasks were started with, to restart on change.
    started_with: BTreeMap<TaskId, Props>,
    /// Last status written per connector/task, to write only changes.
    written: BTreeMap<String, (State, u64)>,
    /// Restart counts of the newest assignment.
    restarts: BTreeMap<String, u32>,
    /// Tasks that failed, with the restart count they failed at and the
    /// task config they ran with.
    failed: BTreeMap<TaskId, (u32, Option<Props>)>,
    /// Milliseconds since the epoch of the last completed sync.
    last_sync: Arc<AtomicI64>,
}

impl DistributedWorker {
    /// Creates the internal topics if missing and connects to them.
    pub async fn connect(
        props: &Props,
        worker_id: &str,
    ) -> Result<(DistributedWorker, Worker), DistributedError> {
        let worker_config = WorkerConfig::parse(props)?;
        let config = config_def()
            .merge(&crate::engine::worker_config::config_def())
            .parse(props)?;
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
            bootstrap,
            state: ConfigState::default(),
            statuses: StatusState::default(),
            generation: 0,
            loaded: BTreeMap::new(),
            started_with: BTreeMap::new(),
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
                _ = beat.tick() => {
                    let (k, v) = StatusRecord::Worker {
                        id: self.id.clone(),
                        heartbeat: Some(Heartbeat {
                            timestamp: now_ms(),
                            generation: self.generation,
                            tasks: engine.active_tasks() as u32,
                        }),
                    }
                    .encode();
                    if let Err(e) = self.status_log.send(&k, v.as_deref()).await {
                        tracing::warn!(worker = %self.id, error = %e, "heartbeat failed");
                    }
                }
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
        Ok(())
    }

    async fn write_status(&mut self, key: StatusKey, state: State, trace: Option<String>) {
        let status = Status {
            state,
            trace,
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
        if self.written.get(&k) == Some(&(state, self.generation)) {
            return;
        }
        match self.status_log.send(&k, v.as_deref()).await {
            Ok(()) => {
                self.written.insert(k, (state, self.generation));
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
            let Some(props) = self.state.connectors.get(name).cloned() else {
                continue;
            };
            if self.loaded.get(name).is_some_and(|l| l.props == props) {
                continue;
            }
            match connector_config::validate(&props) {
                Ok((validated, connector)) => {
                    self.loaded.insert(
                        name.clone(),
                        Loaded {
                            props,
                            validated,
                            connector,
                        },
                    );
                }
                Err(e) => {
                    self.loaded.remove(name);
                    if mine.connectors.contains(name) {
                        self.write_status(
                            StatusKey::Connector(name.clone()),
                            State::Failed,
                            Some(e.to_string()),
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
                match loaded
                    .connector
                    .as_connector()
                    .task_configs(loaded.validated.tasks_max)
                {
                    Ok(configs) => {
                        if self.state.tasks.get(name) != Some(&configs) {
                            self.publish_task_configs(name, &configs).await?;
                        }
                    }
                    Err(e) => {
                        self.write_status(
                            StatusKey::Connector(name.clone()),
                            State::Failed,
                            Some(e.to_string()),
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
            let (Some(loaded), Some(task_props)) = (
                self.loaded.get(&id.connector),
                self.state
                    .tasks
                    .get(&id.connector)
                    .and_then(|t| t.get(id.task))
                    .cloned(),
            ) else {
                continue; // task configs not committed yet
            };
            if self
                .failed
                .get(id)
                .is_some_and(|(at, _)| *at >= self.restart_count(id))
            {
                continue; // failed: restarts are the operator's call
            }
            match engine.start_task(
                id.task,
                &loaded.validated,
                &loaded.connector,
                task_props.clone(),
            ) {
                Ok(()) => {
                    self.started_with.insert(id.clone(), task_props);
                    self.write_status(StatusKey::Task(id.clone()), State::Running, None)
                        .await;
                }
                Err(e) => {
                    self.failed
                        .insert(id.clone(), (self.restart_count(id), Some(task_props)));
                    self.write_status(
                        StatusKey::Task(id.clone()),
                        State::Failed,
                        Some(e.to_string()),
                    )
                    .await
                }
            }
        }
        // A failed task that moved away or whose config changed starts
        // afresh when it comes back.
        let tasks = &self.state.tasks;
        self.failed.retain(|id, (_, config)| {
            my_tasks.contains(id)
                && tasks.get(&id.connector).and_then(|t| t.get(id.task)) == config.as_ref()
        });
        Ok(())
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
    fn topics_and_group_are_required() {
        let props: Props = [("bootstrap.servers".to_string(), "b:9092".to_string())].into();
        let err = config_def().parse(&props).unwrap_err();
        assert_eq!(err.key, GROUP_ID);
    }
}
