//! One running loop per ConnectCluster: the operator's view of the
//! cluster's config and status topics, and the placement it publishes.
//!
//! Every `sync_interval` (and at once when a Pod of the cluster changes) the
//! loop reads what is new in the config and status topics, works out the
//! live workers (Pods that exist, are not being deleted or drained, and
//! whose heartbeat keeps changing), places connectors and tasks with
//! [`crate::placement::place`], requests restarts of failed tasks whose
//! backoff has passed, and writes a new `status-assignment-<group>` record
//! to the status topic when any of that changed (the status topic, because
//! Java Connect logs every unknown config-topic key at ERROR, which a
//! cluster switched back to Java would hit; it skips unknown status keys
//! with a WARN). An older operator's `assignment-<group>` in the config
//! topic is read once for the generation to continue from, then removed.
//! Reconcilers read the result as a [`ClusterView`] and are woken when the
//! part they show changed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::ResourceExt;
use tokio::sync::{mpsc, watch, Notify};
use tokio_util::sync::CancellationToken;

use super::cluster_key::ClusterKey;
use super::kafka_access::KafkaAccess;
use crate::api::{ConnectCluster, Connector, CLUSTER_LABEL};
use crate::connect::Props;
use crate::placement::{self, Assignment, AssignmentRecord, WorkerId};
use crate::storage::config_topic::{ConfigRecord, ConfigState, TargetState};
use crate::storage::status_topic::{State, Status, StatusRecord, StatusState};
use crate::storage::topic_log::{TopicLog, TopicLogError, TopicSpec};

/// Timings of the operator, shortened by tests.
#[derive(Debug, Clone)]
pub struct Timings {
    /// How often each cluster loop reads its topics.
    pub sync_interval: Duration,
    /// A worker whose heartbeat has not changed for this long is lost.
    pub heartbeat_timeout: Duration,
    /// First wait before restarting a failed task; doubles per restart.
    pub restart_backoff: Duration,
    /// Longest wait between restarts.
    pub restart_backoff_max: Duration,
    /// A task running this long after a restart has its count reset.
    pub healthy_after: Duration,
    /// Longest wait for a worker to stop its tasks before its Pod goes.
    pub drain_timeout: Duration,
    /// Longest a moving task waits for its old worker to let go of it.
    pub hold_timeout: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            sync_interval: Duration::from_millis(250),
            heartbeat_timeout: Duration::from_secs(10),
            restart_backoff: Duration::from_secs(2),
            restart_backoff_max: Duration::from_secs(300),
            healthy_after: Duration::from_secs(600),
            drain_timeout: Duration::from_secs(60),
            hold_timeout: Duration::from_secs(10),
        }
    }
}

/// Where a cluster's state lives in Kafka, from its worker configuration,
/// and how the operator's clients reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaSettings {
    pub bootstrap: String,
    pub group: String,
    pub topics: [TopicSpec; 3],
    pub client: ClientSecurity,
    /// `exactly.once.source.support=enabled`: the operator fences the
    /// producers of source connectors' older task generations.
    pub exactly_once: bool,
}

/// The operator's client security settings (Java keys, Secret values
/// filled in). `Debug` shows the keys only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ClientSecurity(pub Props);

impl std::fmt::Debug for ClientSecurity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl KafkaSettings {
    /// From the cluster's worker configuration, with Java's defaults for
    /// partitions and replication factors, and the operator's client
    /// settings of `kafka`.
    pub fn of(cc: &ConnectCluster, kafka: &KafkaAccess) -> Result<KafkaSettings, String> {
        let config = cc.worker_config();
        let get = |k: &str| config.get(k).cloned().unwrap_or_default();
        let int = |k: &str, default: i32| -> Result<i32, String> {
            match config.get(k) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse::<i32>()
                    .ok()
                    .filter(|n| *n > 0 || (*n == -1 && k.ends_with("replication.factor")))
                    .ok_or_else(|| {
                        format!("spec.config {k}: expected a positive integer, got {v:?}")
                    }),
            }
        };
        Ok(KafkaSettings {
            bootstrap: get("bootstrap.servers"),
            group: get("group.id"),
            topics: [
                TopicSpec {
                    name: get("config.storage.topic"),
                    partitions: 1,
                    replication_factor: int("config.storage.replication.factor", 3)?,
                },
                TopicSpec {
                    name: get("offset.storage.topic"),
                    partitions: int("offset.storage.partitions", 25)?,
                    replication_factor: int("offset.storage.replication.factor", 3)?,
                },
                TopicSpec {
                    name: get("status.storage.topic"),
                    partitions: int("status.storage.partitions", 5)?,
                    replication_factor: int("status.storage.replication.factor", 3)?,
                },
            ],
            client: ClientSecurity(kafka.operator_client().clone()),
            exactly_once: get(crate::engine::worker_config::EXACTLY_ONCE_SOURCE_SUPPORT)
                .trim()
                .eq_ignore_ascii_case("enabled"),
        })
    }
}

/// What the Connector reconciler tells the loop about a connector.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorPolicy {
    pub tasks_max: u32,
    pub auto_restart: bool,
    pub max_restarts: Option<u32>,
    /// Restart counts from the Connector's status, to carry them over an
    /// operator restart.
    pub restart_counts: BTreeMap<u32, u32>,
}

/// Restart bookkeeping of one task.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RestartInfo {
    /// Restarts since the task last ran healthily.
    pub count: u32,
    pub last_restart: Option<Time>,
    /// Whether the task is FAILED and will not be restarted any more.
    pub exhausted: bool,
    /// When the next restart is due (None: not failed).
    next_at: Option<Instant>,
    /// Assignment generation of the last restart request.
    requested_in: u64,
    healthy_since: Option<Instant>,
}

/// The operator's picture of one cluster, as of the loop's last pass.
#[derive(Debug, Clone, Default)]
pub struct ClusterView {
    /// Whether the topics have been read at least once.
    pub synced: bool,
    pub config: ConfigState,
    pub statuses: StatusState,
    pub assignment: Option<AssignmentRecord>,
    /// Workers placement used: existing, not draining, heartbeat fresh.
    pub live: BTreeSet<String>,
    /// Workers whose heartbeat changed within the heartbeat timeout (or,
    /// while no worker is heard at all, those fresh before: [`trusted_fresh`]).
    pub fresh: BTreeSet<String>,
    /// Task count placed per connector: committed, capped at tasks.max.
    pub counts: BTreeMap<String, u32>,
    /// Restart bookkeeping per connector and task number.
    pub restarts: BTreeMap<(String, u32), RestartInfo>,
    /// The last error reading or writing the topics, if the last pass failed.
    pub error: Option<String>,
    /// The cluster runs source connectors exactly once.
    pub exactly_once: bool,
}

impl ClusterView {
    /// The task count placed for a connector.
    pub fn task_count(&self, connector: &str) -> u32 {
        self.counts.get(connector).copied().unwrap_or(0)
    }

    /// The worker a task is placed on.
    pub fn worker_of_task(&self, connector: &str, task: u32) -> Option<String> {
        let id = placement::TaskId::new(connector, task);
        self.assignment
            .as_ref()?
            .assignment
            .worker_of_task(&id)
            .map(|w| w.as_str().to_owned())
    }

    /// Whether a worker has let go of everything: it is absent from the
    /// assignment (or has nothing in it) and has reported acting on that
    /// generation with no task left running, or its heartbeat is gone.
    pub fn drained(&self, worker: &str) -> bool {
        let Some(record) = &self.assignment else {
            return true;
        };
        let a = &record.assignment;
        if a.workers
            .get(worker)
            .is_some_and(|w| !w.tasks.is_empty() || !w.connectors.is_empty())
        {
            return false;
        }
        if !self.fresh.contains(worker) {
            return true; // stopped heartbeating: nothing left to wait for
        }
        self.statuses
            .workers
            .get(worker)
            .is_none_or(|h| h.generation >= a.generation && h.tasks == 0)
    }

    /// Task and connector counts per worker in the newest assignment.
    pub fn load(&self, worker: &str) -> (i32, i32) {
        self.assignment
            .as_ref()
            .and_then(|r| r.assignment.workers.get(worker))
            .map_or((0, 0), |w| {
                (w.connectors.len() as i32, w.tasks.len() as i32)
            })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("{0}")]
    Topic(#[from] TopicLogError),
    #[error("ConnectCluster {cluster}: {message}")]
    Settings {
        cluster: ClusterKey,
        message: String,
    },
    #[error("fencing the producers of connector {connector}'s previous tasks failed: {message}")]
    Fencing { connector: String, message: String },
}

#[derive(Default)]
struct Inputs {
    draining: BTreeSet<String>,
    policies: BTreeMap<String, ConnectorPolicy>,
    /// Restart requests (a Connector's restart annotations): the least
    /// restart count a key (`<connector>-<n>`, `connector:<name>`) must
    /// have in the next assignment.
    restart_floors: BTreeMap<String, u32>,
}

/// A running cluster loop and the handles reconcilers use.
pub struct ClusterRuntime {
    pub key: ClusterKey,
    pub settings: KafkaSettings,
    view: watch::Receiver<Arc<ClusterView>>,
    /// Writes config and status records for the reconcilers.
    config_writer: TopicLog,
    status_writer: TopicLog,
    inputs: Arc<Mutex<Inputs>>,
    wake: Arc<Notify>,
    stop: CancellationToken,
    /// When each draining worker started draining.
    drain_started: Mutex<BTreeMap<String, Instant>>,
    timings: Timings,
}

/// Where the loop reports what changed.
#[derive(Clone)]
pub struct Triggers {
    pub connectors: mpsc::UnboundedSender<ObjectRef<Connector>>,
    pub clusters: mpsc::UnboundedSender<ObjectRef<ConnectCluster>>,
}

impl ClusterRuntime {
    /// Creates the internal topics if missing and starts the loop.
    pub async fn start(
        key: ClusterKey,
        settings: KafkaSettings,
        pods: Store<Pod>,
        timings: Timings,
        triggers: Triggers,
    ) -> Result<ClusterRuntime, RuntimeError> {
        let client =
            crate::engine::kafka::worker_client_settings(&settings.client.0).map_err(|e| {
                RuntimeError::Settings {
                    cluster: key.clone(),
                    message: e.to_string(),
                }
            })?;
        for spec in &settings.topics {
            TopicLog::ensure_topic(&settings.bootstrap, &client, spec).await?;
        }
        let [config_topic, _, status_topic] = &settings.topics;
        let config_log = TopicLog::open(&settings.bootstrap, &config_topic.name, &client)?;
        let status_log = TopicLog::open(&settings.bootstrap, &status_topic.name, &client)?;
        let config_writer = TopicLog::open(&settings.bootstrap, &config_topic.name, &client)?;
        let status_writer = TopicLog::open(&settings.bootstrap, &status_topic.name, &client)?;
        let (tx, rx) = watch::channel(Arc::new(ClusterView::default()));
        let inputs = Arc::new(Mutex::new(Inputs::default()));
        let wake = Arc::new(Notify::new());
        let stop = CancellationToken::new();
        let mut fencing = rdkafka::ClientConfig::new();
        fencing.set("bootstrap.servers", &settings.bootstrap);
        for (k, v) in &client {
            fencing.set(k, v);
        }
        let looper = Loop {
            key: key.clone(),
            group: settings.group.clone(),
            exactly_once: settings.exactly_once.then_some(fencing),
            config_log,
            status_log,
            pods,
            inputs: inputs.clone(),
            wake: wake.clone(),
            stop: stop.clone(),
            view: tx,
            timings: timings.clone(),
            triggers,
            config: ConfigState::default(),
            statuses: StatusState::default(),
            seen: BTreeMap::new(),
            restarts: BTreeMap::new(),
            holds: BTreeMap::new(),
            status_stalled: false,
        };
        tokio::spawn(looper.run());
        tracing::info!(cluster = %key, group = %settings.group, "cluster loop started");
        Ok(ClusterRuntime {
            key,
            settings,
            view: rx,
            config_writer,
            status_writer,
            inputs,
            wake,
            stop,
            drain_started: Mutex::new(BTreeMap::new()),
            timings,
        })
    }

    /// The newest view.
    pub fn view(&self) -> Arc<ClusterView> {
        self.view.borrow().clone()
    }

    /// Waits until the loop has published a view with `pred` true.
    pub async fn wait_for(&self, timeout: Duration, pred: impl Fn(&ClusterView) -> bool) -> bool {
        let mut rx = self.view.clone();
        tokio::time::timeout(timeout, async move {
            loop {
                if pred(&rx.borrow_and_update()) {
                    return;
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        })
        .await
        .is_ok()
    }

    /// Asks the loop for a pass now (e.g. a Pod changed).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// Writes the connector's config and target state where they differ
    /// from the config topic.
    pub async fn put_connector(
        &self,
        name: &str,
        props: &Props,
        target: TargetState,
    ) -> Result<bool, RuntimeError> {
        let view = self.view();
        let mut wrote = false;
        if view.config.connectors.get(name) != Some(props) {
            let (k, v) = ConfigRecord::Connector {
                name: name.to_owned(),
                props: Some(props.clone()),
            }
            .encode();
            self.config_writer.send(&k, v.as_deref()).await?;
            wrote = true;
        }
        if view.config.target_states.get(name) != Some(&target) {
            let (k, v) = ConfigRecord::TargetState {
                connector: name.to_owned(),
                state: target,
            }
            .encode();
            self.config_writer.send(&k, v.as_deref()).await?;
            wrote = true;
        }
        if wrote {
            tracing::info!(cluster = %self.key, connector = name, ?target, "connector config written");
            self.wake();
        }
        Ok(wrote)
    }

    /// Removes a connector: tombstones for its config and target state;
    /// once the workers have stopped its tasks (or `timeout` passed),
    /// tombstones for its statuses, as Java writes for DESTROYED.
    pub async fn delete_connector(
        &self,
        name: &str,
        timeout: Duration,
    ) -> Result<(), RuntimeError> {
        for key in [format!("connector-{name}"), format!("target-state-{name}")] {
            self.config_writer.send(&key, None).await?;
        }
        self.inputs
            .lock()
            .expect("inputs lock")
            .policies
            .remove(name);
        self.wake();
        let gone = self
            .wait_for(timeout, |v| {
                v.synced
                    && !v.config.connectors.contains_key(name)
                    && v.assignment.as_ref().is_none_or(|r| {
                        r.assignment.workers.iter().all(|(w, a)| {
                            !a.connectors.contains(name)
                                && a.tasks.iter().all(|t| t.connector != name)
                                && v.statuses
                                    .workers
                                    .get(w.as_str())
                                    .is_none_or(|h| h.generation >= r.assignment.generation)
                        })
                    })
            })
            .await;
        if !gone {
            tracing::warn!(cluster = %self.key, connector = name, "workers did not confirm stopping the connector in time; removing its statuses anyway");
        }
        let view = self.view();
        let mut keys = vec![format!("status-connector-{name}")];
        keys.extend(
            view.statuses
                .tasks
                .keys()
                .filter(|(c, _)| c == name)
                .map(|(c, n)| format!("status-task-{c}-{n}")),
        );
        for key in keys {
            self.status_writer.send(&key, None).await?;
        }
        tracing::info!(cluster = %self.key, connector = name, "connector deleted");
        Ok(())
    }

    /// Asks for a restart of each of `keys` (task ids `<connector>-<n>`,
    /// [`crate::placement::connector_restart_key`] for connectors) and
    /// waits until an assignment that asks the workers for it is written.
    /// Requesting again while one is pending does not restart twice.
    pub async fn restart(&self, keys: &[String], timeout: Duration) -> bool {
        let current = self.view();
        let counts = current.assignment.as_ref().map(|a| &a.restarts);
        let floors: BTreeMap<String, u32> = {
            let mut inputs = self.inputs.lock().expect("inputs lock");
            keys.iter()
                .map(|k| {
                    let count = counts.and_then(|c| c.get(k)).copied().unwrap_or(0);
                    // A floor above the written count is still pending:
                    // asking again does not restart twice.
                    let floor = match inputs.restart_floors.get(k) {
                        Some(f) if *f > count => *f,
                        _ => count + 1,
                    };
                    inputs.restart_floors.insert(k.clone(), floor);
                    (k.clone(), floor)
                })
                .collect()
        };
        self.wake();
        self.wait_for(timeout, |v| {
            v.assignment.as_ref().is_some_and(|a| {
                floors
                    .iter()
                    .all(|(k, f)| a.restarts.get(k).is_some_and(|c| c >= f))
            })
        })
        .await
    }

    /// Tells the loop how to treat a connector (tasks.max, auto-restart).
    pub fn set_policy(&self, name: &str, policy: ConnectorPolicy) {
        let mut inputs = self.inputs.lock().expect("inputs lock");
        if inputs.policies.get(name) != Some(&policy) {
            inputs.policies.insert(name.to_owned(), policy);
            drop(inputs);
            self.wake();
        }
    }

    /// Takes a worker out of placement so its tasks move elsewhere.
    pub fn drain(&self, worker: &str) {
        let added = self
            .inputs
            .lock()
            .expect("inputs lock")
            .draining
            .insert(worker.to_owned());
        if added {
            tracing::info!(cluster = %self.key, worker, "draining worker");
            self.drain_started
                .lock()
                .expect("drain lock")
                .insert(worker.to_owned(), Instant::now());
            self.wake();
        }
    }

    /// Puts a worker back into placement (it is staying after all, or its
    /// Pod is gone and a new one may take its name).
    pub fn undrain(&self, worker: &str) {
        let removed = self
            .inputs
            .lock()
            .expect("inputs lock")
            .draining
            .remove(worker);
        self.drain_started
            .lock()
            .expect("drain lock")
            .remove(worker);
        if removed {
            self.wake();
        }
    }

    pub fn is_draining(&self, worker: &str) -> bool {
        self.inputs
            .lock()
            .expect("inputs lock")
            .draining
            .contains(worker)
    }

    /// Whether a draining worker may go: its tasks stopped elsewhere-bound
    /// (see [`ClusterView::drained`]) or the drain timeout passed.
    pub fn drain_done(&self, worker: &str) -> bool {
        let view = self.view();
        if !view.synced {
            return false;
        }
        let placed_without = view
            .assignment
            .as_ref()
            .is_some_and(|r| !r.assignment.workers.contains_key(worker));
        if placed_without && view.drained(worker) {
            return true;
        }
        let started = self
            .drain_started
            .lock()
            .expect("drain lock")
            .get(worker)
            .copied();
        let late = started.is_some_and(|t| t.elapsed() >= self.timings.drain_timeout);
        if late {
            tracing::warn!(cluster = %self.key, worker, "drain timed out; deleting the Pod anyway");
        }
        late
    }
}

impl Drop for ClusterRuntime {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

struct Loop {
    key: ClusterKey,
    group: String,
    /// With exactly-once sources: the client settings to fence producers.
    exactly_once: Option<rdkafka::ClientConfig>,
    config_log: TopicLog,
    status_log: TopicLog,
    pods: Store<Pod>,
    inputs: Arc<Mutex<Inputs>>,
    wake: Arc<Notify>,
    stop: CancellationToken,
    view: watch::Sender<Arc<ClusterView>>,
    timings: Timings,
    triggers: Triggers,
    config: ConfigState,
    statuses: StatusState,
    /// Heartbeat timestamp per worker and when the operator saw it change
    /// (its own clock, so worker clock skew does not matter).
    seen: BTreeMap<String, (i64, Instant)>,
    restarts: BTreeMap<(String, u32), RestartInfo>,
    /// Tasks on their way from a worker that still runs them.
    holds: BTreeMap<placement::TaskId, Hold>,
    /// Whether the last pass kept the fresh workers although no heartbeat
    /// was heard ([`trusted_fresh`]).
    status_stalled: bool,
}

/// The workers whose heartbeat counts as fresh: those `heard` (their
/// heartbeat changed within the timeout).
///
/// When no worker Pod was heard at all while some counted as fresh before,
/// the evidence points at the observer rather than at every worker at once:
/// the broker stalled or this operator's read of the status topic fell
/// behind. The workers fresh before stay fresh (those whose Pods still
/// exist), so placement, the holds of moving tasks and drains all keep the
/// last view they could trust and nothing moves; unassigning everything
/// would stop every task with nowhere to run them. This is the
/// node-lifecycle controller's rule for a zone whose nodes all go NotReady
/// together. A worker that is really gone is still noticed once any other
/// worker is heard again.
///
/// Returns the fresh workers and whether they were kept by that rule.
pub fn trusted_fresh(
    pods: &BTreeSet<String>,
    heard: BTreeSet<String>,
    previous: &BTreeSet<String>,
) -> (BTreeSet<String>, bool) {
    if pods.iter().any(|p| heard.contains(p)) {
        return (heard, false);
    }
    let kept: BTreeSet<String> = previous.intersection(pods).cloned().collect();
    if kept.is_empty() {
        (heard, false)
    } else {
        (kept, true)
    }
}

/// A task moving off a worker that is still alive stays out of the
/// assignment until that worker has stopped it (offsets committed), so two
/// workers never run it at once: the new owner would otherwise fence the
/// old one's consumer (same group.instance.id) before it could commit.
#[derive(Debug)]
struct Hold {
    from: String,
    /// The generation that took the task away.
    generation: u64,
    since: Instant,
}

impl Loop {
    async fn run(mut self) {
        // Placement from an empty Pod cache would unassign every task.
        tokio::select! {
            _ = self.stop.cancelled() => return,
            r = self.pods.wait_until_ready() => if r.is_err() { return },
        }
        loop {
            let passed = self.pass().await;
            super::metrics::cluster_pass(&self.key, passed.is_ok());
            if let Err(e) = passed {
                tracing::warn!(cluster = %self.key, error = %e, "cluster pass failed; retrying");
                let mut view = (**self.view.borrow()).clone();
                view.error = Some(e.to_string());
                self.view.send_replace(Arc::new(view));
                let _ = self
                    .triggers
                    .clusters
                    .send(ObjectRef::new(&self.key.name).within(&self.key.namespace));
            }
            tokio::select! {
                _ = self.stop.cancelled() => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.timings.sync_interval) => {}
            }
        }
        super::metrics::cluster_gone(&self.key);
        tracing::info!(cluster = %self.key, "cluster loop stopped");
    }

    async fn pass(&mut self) -> Result<(), RuntimeError> {
        let read = Duration::from_secs(30);
        for (k, v) in self.config_log.read_to_end(read).await? {
            match ConfigRecord::decode(&k, v.as_deref()) {
                Ok(r) => self.config.apply(r),
                Err(e) => {
                    tracing::warn!(cluster = %self.key, error = %e, "skipping a config record")
                }
            }
        }
        self.fence_zombies().await?;
        for (k, v) in self.status_log.read_to_end(read).await? {
            self.statuses.apply(StatusRecord::decode(&k, v.as_deref()));
        }
        let now = Instant::now();
        // A removed heartbeat (clean shutdown) is a worker gone at once.
        let workers = &self.statuses.workers;
        self.seen.retain(|id, _| workers.contains_key(id));
        for (id, h) in &self.statuses.workers {
            let fresh = self.seen.get(id).is_none_or(|(ts, _)| *ts != h.timestamp);
            if fresh {
                self.seen.insert(id.clone(), (h.timestamp, now));
            }
        }
        let (draining, policies, restart_floors) = {
            let mut inputs = self.inputs.lock().expect("inputs lock");
            let written = self
                .written_assignment()
                .and_then(|v| serde_json::from_value::<AssignmentRecord>(v.clone()).ok())
                .map(|r| r.restarts)
                .unwrap_or_default();
            // Floors the written assignment meets are done.
            inputs
                .restart_floors
                .retain(|k, floor| written.get(k).is_none_or(|c| c < floor));
            (
                inputs.draining.clone(),
                inputs.policies.clone(),
                inputs.restart_floors.clone(),
            )
        };
        let heard: BTreeSet<String> = self
            .seen
            .iter()
            .filter(|(_, (_, at))| now.duration_since(*at) < self.timings.heartbeat_timeout)
            .map(|(w, _)| w.clone())
            .collect();
        // Worker Pods: existing and not being deleted.
        let pods: BTreeSet<String> = self
            .pods
            .state()
            .iter()
            .filter(|p| {
                p.namespace().as_deref() == Some(self.key.namespace.as_str())
                    && p.labels().get(CLUSTER_LABEL) == Some(&self.key.name)
                    && p.metadata.deletion_timestamp.is_none()
            })
            .map(|p| p.name_any())
            .collect();
        let (fresh, stalled) = trusted_fresh(&pods, heard, &self.view.borrow().fresh);
        if stalled && !self.status_stalled {
            tracing::warn!(cluster = %self.key, fresh = ?fresh, "no worker heartbeat changed within the heartbeat timeout; the status topic looks stalled, so the workers heard last stay live and no task moves");
        }
        self.status_stalled = stalled;
        let live: BTreeSet<String> = pods
            .iter()
            .filter(|w| fresh.contains(*w) && !draining.contains(*w))
            .cloned()
            .collect();
        let previous_live = self.view.borrow().live.clone();
        if live != previous_live {
            self.log_live_change(&previous_live, &live, &pods, &draining, &fresh);
        }

        let previous: Option<AssignmentRecord> = self.written_assignment().and_then(|v| {
            serde_json::from_value(v.clone())
                .map_err(|e| tracing::warn!(cluster = %self.key, error = %e, "unreadable assignment record; placing afresh"))
                .ok()
        });
        let counts: BTreeMap<String, u32> = self
            .config
            .connectors
            .keys()
            .map(|name| (name.clone(), self.task_count(name, &policies)))
            .collect();
        let workers: BTreeSet<WorkerId> = live.iter().map(|w| WorkerId::new(w.as_str())).collect();
        let mut next = AssignmentRecord {
            assignment: placement::place(
                &workers,
                &counts,
                previous.as_ref().map(|r| &r.assignment),
            ),
            restarts: previous
                .as_ref()
                .map(|r| r.restarts.clone())
                .unwrap_or_default(),
        };
        let generation = previous.as_ref().map_or(0, |r| r.assignment.generation);
        self.hold_moving_tasks(
            previous.as_ref(),
            &mut next.assignment,
            &fresh,
            generation,
            now,
        );
        self.request_restarts(&policies, &mut next, generation);
        for (key, floor) in restart_floors {
            let count = next.restarts.entry(key).or_insert(0);
            *count = (*count).max(floor);
        }
        // A new generation exactly when what workers should do changed
        // (placement's own bump does not know about holds and restarts).
        let changed = previous.as_ref().is_none_or(|p| {
            p.assignment.workers != next.assignment.workers || p.restarts != next.restarts
        });
        next.assignment.generation = if changed { generation + 1 } else { generation };
        let legacy = self.config.legacy_assignments.contains_key(&self.group);
        // Moving an older operator's record writes it even unchanged.
        let write = changed || (legacy && !self.statuses.assignments.contains_key(&self.group));
        if write {
            let value = serde_json::to_value(&next).unwrap_or_default();
            let (k, v) = StatusRecord::Assignment {
                group: self.group.clone(),
                value: Some(value.clone()),
            }
            .encode();
            self.status_log.send(&k, v.as_deref()).await?;
            self.statuses.assignments.insert(self.group.clone(), value);
            tracing::info!(
                cluster = %self.key,
                generation = next.assignment.generation,
                workers = next.assignment.workers.len(),
                tasks = counts.values().sum::<u32>(),
                "assignment written"
            );
        }
        if legacy {
            // The status topic has the record now, so workers that read the
            // tombstone also find the new one.
            let (k, v) = ConfigRecord::LegacyAssignment {
                group: self.group.clone(),
                value: None,
            }
            .encode();
            self.config_log.send(&k, v.as_deref()).await?;
            self.config.legacy_assignments.remove(&self.group);
            tracing::info!(
                cluster = %self.key,
                generation = next.assignment.generation,
                "assignment record moved from the config topic ({k}) to the status topic; the old record is tombstoned"
            );
        }
        super::metrics::cluster_state(
            &self.key,
            next.assignment.generation,
            live.len(),
            write,
            self.statuses.tasks.values().map(|s| s.state),
        );
        self.publish(ClusterView {
            synced: true,
            config: self.config.clone(),
            statuses: self.statuses.clone(),
            assignment: Some(next),
            live,
            fresh,
            counts,
            restarts: self.restarts.clone(),
            error: None,
            exactly_once: self.exactly_once.is_some(),
        });
        Ok(())
    }

    /// Zombie fencing of exactly-once source connectors ([`super::fencing`]).
    async fn fence_zombies(&mut self) -> Result<(), RuntimeError> {
        let Some(client) = &self.exactly_once else {
            return Ok(());
        };
        super::fencing::fence_zombies(
            &self.key.to_string(),
            &self.group,
            client,
            &mut self.config_log,
            &mut self.config,
        )
        .await
    }

    /// The assignment as last written: the status topic's record, or while
    /// there is none, the one an older operator left in the config topic.
    fn written_assignment(&self) -> Option<&serde_json::Value> {
        self.statuses
            .assignments
            .get(&self.group)
            .or_else(|| self.config.legacy_assignments.get(&self.group))
    }

    /// Says which workers joined and which left placement, and why.
    fn log_live_change(
        &self,
        before: &BTreeSet<String>,
        after: &BTreeSet<String>,
        pods: &BTreeSet<String>,
        draining: &BTreeSet<String>,
        fresh: &BTreeSet<String>,
    ) {
        let joined: Vec<&String> = after.difference(before).collect();
        let left: Vec<String> = before
            .difference(after)
            .map(|w| {
                let why = if !pods.contains(w) {
                    "Pod deleted"
                } else if draining.contains(w) {
                    "draining"
                } else if !self.statuses.workers.contains_key(w) {
                    "heartbeat removed"
                } else if !fresh.contains(w) {
                    "heartbeat stale"
                } else {
                    "unknown"
                };
                format!("{w} ({why})")
            })
            .collect();
        tracing::info!(cluster = %self.key, ?joined, ?left, live = after.len(), "live workers changed");
    }

    /// Keeps tasks whose old worker is alive out of `next` until that worker
    /// reports it let go: it acted on the generation that took them away
    /// with nothing left stopping, or runs nothing at all (its last
    /// heartbeat on shutdown), or stopped heartbeating, or `hold_timeout`.
    fn hold_moving_tasks(
        &mut self,
        previous: Option<&AssignmentRecord>,
        next: &mut Assignment,
        fresh: &BTreeSet<String>,
        generation: u64,
        now: Instant,
    ) {
        let mut owner: std::collections::HashMap<&placement::TaskId, &WorkerId> =
            std::collections::HashMap::new();
        for (w, a) in previous.iter().flat_map(|p| &p.assignment.workers) {
            for t in &a.tasks {
                owner.insert(t, w);
            }
        }
        for (w, a) in &next.workers {
            for t in &a.tasks {
                let Some(from) = owner.get(t) else { continue };
                if *from != w && fresh.contains(from.as_str()) && !self.holds.contains_key(t) {
                    self.holds.insert(
                        t.clone(),
                        Hold {
                            from: from.as_str().to_owned(),
                            generation: generation + 1,
                            since: now,
                        },
                    );
                }
            }
        }
        let statuses = &self.statuses;
        let timeout = self.timings.hold_timeout;
        self.holds.retain(|task, h| {
            let let_go = statuses.workers.get(&h.from).is_some_and(|hb| {
                hb.tasks == 0 || (hb.generation >= h.generation && hb.stopping == 0)
            });
            let gone = !fresh.contains(&h.from);
            let late = now.duration_since(h.since) >= timeout;
            if late && !let_go && !gone {
                tracing::warn!(task = %task, worker = %h.from, "worker did not let go of a moving task in time; assigning it anyway");
            }
            !(let_go || gone || late)
        });
        if !self.holds.is_empty() {
            for a in next.workers.values_mut() {
                a.tasks.retain(|t| !self.holds.contains_key(t));
            }
        }
    }

    fn task_count(&self, name: &str, policies: &BTreeMap<String, ConnectorPolicy>) -> u32 {
        let committed = self.config.tasks.get(name).map_or(0, Vec::len) as u32;
        let max = policies
            .get(name)
            .map(|p| p.tasks_max)
            .or_else(|| {
                self.config
                    .connectors
                    .get(name)
                    .and_then(|p| p.get("tasks.max"))
                    .and_then(|v| v.trim().parse().ok())
            })
            .unwrap_or(u32::MAX);
        committed.min(max)
    }

    /// Auto-restart: a FAILED task of a connector whose policy allows it
    /// gets a restart request once its backoff has passed.
    fn request_restarts(
        &mut self,
        policies: &BTreeMap<String, ConnectorPolicy>,
        next: &mut AssignmentRecord,
        generation: u64,
    ) {
        let now = Instant::now();
        let t = &self.timings;
        self.restarts
            .retain(|(c, n), _| self.statuses.tasks.contains_key(&(c.clone(), *n)));
        for ((connector, n), status) in &self.statuses.tasks {
            let Some(policy) = policies.get(connector) else {
                continue;
            };
            let key = (connector.clone(), *n);
            let info = self.restarts.entry(key).or_insert_with(|| RestartInfo {
                count: policy.restart_counts.get(n).copied().unwrap_or(0),
                ..RestartInfo::default()
            });
            match status.state {
                State::Failed if status.generation >= info.requested_in => {
                    info.healthy_since = None;
                    let allowed = policy.auto_restart
                        && policy.max_restarts.is_none_or(|max| info.count < max);
                    info.exhausted = !allowed;
                    if !allowed {
                        continue;
                    }
                    let due = *info.next_at.get_or_insert_with(|| {
                        let factor = 1u32 << info.count.min(16);
                        now + t
                            .restart_backoff
                            .saturating_mul(factor)
                            .min(t.restart_backoff_max)
                    });
                    if now >= due {
                        let task = format!("{connector}-{n}");
                        *next.restarts.entry(task.clone()).or_insert(0) += 1;
                        info.count += 1;
                        info.next_at = None;
                        info.requested_in = generation + 1;
                        info.last_restart = Some(Time(k8s_openapi::jiff::Timestamp::now()));
                        super::metrics::task_restart(&self.key);
                        tracing::info!(cluster = %self.key, connector = %connector, task = %task, restarts = info.count, "restarting failed task");
                    }
                }
                State::Running => {
                    info.next_at = None;
                    info.exhausted = false;
                    let since = *info.healthy_since.get_or_insert(now);
                    if info.count > 0 && now.duration_since(since) >= t.healthy_after {
                        info.count = 0;
                    }
                }
                _ => {
                    info.healthy_since = None;
                }
            }
        }
    }

    /// Publishes the view and wakes the reconcilers whose part changed.
    fn publish(&mut self, view: ClusterView) {
        let old = self.view.borrow().clone();
        let ns = &self.key.namespace;
        let mut touched: BTreeSet<&str> = BTreeSet::new();
        let names = old
            .config
            .connectors
            .keys()
            .chain(view.config.connectors.keys())
            .chain(old.statuses.connectors.keys())
            .chain(view.statuses.connectors.keys());
        for name in names {
            let same = old.statuses.connectors.get(name) == view.statuses.connectors.get(name)
                && old.config.tasks.get(name) == view.config.tasks.get(name)
                && old.config.connectors.get(name) == view.config.connectors.get(name)
                && tasks_of(&old.statuses, name).eq(tasks_of(&view.statuses, name))
                && restarts_of(&old.restarts, name).eq(restarts_of(&view.restarts, name));
            if !same || !old.synced {
                touched.insert(name);
            }
        }
        let touched: Vec<String> = touched.into_iter().map(str::to_owned).collect();
        let cluster_changed = !old.synced
            || old.live != view.live
            || old.assignment != view.assignment
            || old.error.is_some();
        // The view first, the wake-ups after: a reconciler woken before the
        // replace would read the old view, and no later pass wakes it again
        // for a change already published.
        self.view.send_replace(Arc::new(view));
        for name in touched {
            let _ = self
                .triggers
                .connectors
                .send(ObjectRef::new(&name).within(ns));
        }
        if cluster_changed {
            let _ = self
                .triggers
                .clusters
                .send(ObjectRef::new(&self.key.name).within(ns));
        }
    }
}

fn tasks_of<'a>(
    s: &'a StatusState,
    name: &'a str,
) -> impl Iterator<Item = (&'a (String, u32), &'a Status)> + 'a {
    s.tasks.iter().filter(move |((c, _), _)| c == name)
}

fn restarts_of<'a>(
    r: &'a BTreeMap<(String, u32), RestartInfo>,
    name: &'a str,
) -> impl Iterator<Item = (u32, u32, bool)> + 'a {
    r.iter()
        .filter(move |((c, _), _)| c == name)
        .map(|((_, n), i)| (*n, i.count, i.exhausted))
}

#[cfg(test)]
mod tests {
    use super::trusted_fresh;
    use std::collections::BTreeSet;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn fresh_workers_are_those_heard_within_the_timeout() {
        let (fresh, stalled) = trusted_fresh(
            &set(&["w-0", "w-1", "w-2"]),
            set(&["w-0", "w-2", "w-9"]),
            &set(&["w-0", "w-1", "w-2"]),
        );
        assert_eq!(fresh, set(&["w-0", "w-2", "w-9"]));
        assert!(!stalled);
    }

    #[test]
    fn no_worker_heard_at_all_keeps_the_previous_fresh_workers() {
        // Every heartbeat stalled at once: the observer, not the workers.
        let (fresh, stalled) = trusted_fresh(
            &set(&["w-0", "w-1", "w-2"]),
            set(&[]),
            &set(&["w-0", "w-1", "w-2"]),
        );
        assert_eq!(fresh, set(&["w-0", "w-1", "w-2"]));
        assert!(stalled);
        // A Pod deleted meanwhile still leaves.
        let (fresh, stalled) =
            trusted_fresh(&set(&["w-0", "w-2"]), set(&[]), &set(&["w-0", "w-1"]));
        assert_eq!(fresh, set(&["w-0"]));
        assert!(stalled);
    }

    #[test]
    fn nothing_fresh_before_and_nothing_heard_is_nothing_fresh() {
        let (fresh, stalled) = trusted_fresh(&set(&["w-0"]), set(&[]), &set(&[]));
        assert!(fresh.is_empty());
        assert!(!stalled);
    }
}
