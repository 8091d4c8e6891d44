//! The operator (`kconnect operator`): reconciles ConnectCluster and
//! Connector resources.
//!
//! - [`cluster`]: ConnectCluster → worker Pods, Service, internal topics,
//!   status; drains a Pod's tasks before scale-down and rolling updates.
//! - [`connector`]: Connector → records in the cluster's config topic,
//!   status from the status topic, Events; a finalizer removes it.
//! - [`runtime`]: one loop per cluster that reads the topics, decides which
//!   workers are live, places tasks and requests restarts.
//! - [`kafka_access`]: `spec.tls` and `spec.authentication` as worker keys,
//!   Secret mounts and the operator's own client settings.
//! - [`network_policy`]: who may reach a cluster's REST port.
//! - [`pods`]: the worker Pod and Service as the operator builds them.
//! - [`leader`]: leader election through a Lease, so that two operator
//!   replicas can run and only one reconciles.
//! - [`metrics`]: the operator's Prometheus metrics, served at `/metrics`
//!   on `KCONNECT_OPERATOR_METRICS_LISTEN` (default `0.0.0.0:8080`).

pub mod cluster;
pub mod cluster_key;
pub mod connector;
pub mod fencing;
pub mod kafka_access;
pub mod leader;
pub mod metrics;
pub mod network_policy;
pub mod offsets;
pub mod pods;
pub mod rbac;
pub mod runtime;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher;
use kube::runtime::Controller;
use kube::runtime::WatchStreamExt;
use kube::{Client, ResourceExt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tokio_util::sync::CancellationToken;

use crate::api::{ConnectCluster, Connector, CLUSTER_LABEL};
use cluster_key::ClusterKey;
pub use runtime::Timings;
use runtime::{ClusterRuntime, Triggers};

/// Name under which the operator manages objects (field manager, Event
/// reporter, `app.kubernetes.io/managed-by`).
pub use pods::MANAGER;

/// How the operator runs.
#[derive(Debug, Clone)]
pub struct OperatorConfig {
    /// Namespaces to watch; empty watches all.
    pub namespaces: Vec<String>,
    /// Image of the worker Pods when a ConnectCluster does not set one.
    pub worker_image: String,
    /// This replica's name (Pod name) for the Lease and Events.
    pub identity: String,
    /// Namespace of the leader-election Lease.
    pub lease_namespace: String,
    /// Name of the Lease.
    pub lease_name: String,
    pub timings: Timings,
    /// Whether clusters get their REST NetworkPolicy unless they say.
    pub network_policies: bool,
    /// Labels of the operator's Pods, admitted by the NetworkPolicies.
    pub operator_pod_labels: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("{0}")]
    Runtime(#[from] runtime::RuntimeError),
    #[error("{0}")]
    Finalizer(String),
    #[error("Kafka: {0}")]
    Kafka(String),
    #[error("timed out: {0}")]
    Timeout(String),
}

/// Shared state of the reconcilers of one watch scope.
pub struct Context {
    pub client: Client,
    pub config: OperatorConfig,
    pub recorder: Recorder,
    pub pods: Store<Pod>,
    pub clusters: Store<ConnectCluster>,
    pub runtimes: Mutex<BTreeMap<ClusterKey, Arc<ClusterRuntime>>>,
    pub triggers: Triggers,
    /// Reconcile failures in a row per object, for the retry backoff.
    failures: Mutex<BTreeMap<String, u32>>,
}

impl Error {
    /// The kind of error, as the `error` label of the reconcile metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Kube(_) => "kube",
            Error::Runtime(_) => "runtime",
            Error::Finalizer(_) => "finalizer",
            Error::Timeout(_) => "timeout",
            Error::Kafka(_) => "kafka",
        }
    }
}

impl Context {
    /// Records a failed reconcile of `object` and returns how long to wait
    /// before the next attempt: 1 s, doubling up to 5 minutes.
    pub fn backoff(&self, object: String) -> std::time::Duration {
        let mut failures = self.failures.lock().expect("failures lock");
        let n = failures.entry(object).or_insert(0);
        *n = n.saturating_add(1);
        let secs = 1u64 << (*n - 1).min(9);
        std::time::Duration::from_secs(secs.min(300))
    }

    /// Forgets the failures of `object` after a successful reconcile.
    pub fn succeeded(&self, object: &str) {
        self.failures.lock().expect("failures lock").remove(object);
    }

    /// The running loop of a cluster, if it has been started.
    pub fn runtime(&self, key: &ClusterKey) -> Option<Arc<ClusterRuntime>> {
        self.runtimes
            .lock()
            .expect("runtimes lock")
            .get(key)
            .cloned()
    }
}

/// Runs the operator until `stop` is cancelled: waits to lead, reconciles
/// while leading, and goes back to waiting if the lease is lost. Serves its
/// metrics meanwhile (standbys too) on `KCONNECT_OPERATOR_METRICS_LISTEN`
/// (default `0.0.0.0:8080`, `off` disables it); see [`metrics`].
pub async fn run(client: Client, config: OperatorConfig, stop: CancellationToken) {
    let listen = metrics::listen_address().unwrap_or_else(|e| {
        tracing::warn!(error = %e, "operator metrics listener not started");
        None
    });
    run_with_metrics(client, config, listen, stop).await
}

/// [`run`], serving `/metrics` on `metrics_listen` (`None`: not served),
/// e.g. from a `--metrics-listen` flag.
pub async fn run_with_metrics(
    client: Client,
    config: OperatorConfig,
    metrics_listen: Option<std::net::SocketAddr>,
    stop: CancellationToken,
) {
    // The operator's registry: its own metrics (no worker runs here).
    let registry = crate::metrics::registry(metrics::register);
    metrics::start_listener(metrics_listen, registry, stop.clone()).await;
    metrics::set_leader(false);
    let mut settings =
        leader::LeaseSettings::new(config.lease_namespace.clone(), config.identity.clone());
    settings.name = config.lease_name.clone();
    // The Lease is released only after the reconcilers have stopped, so a
    // standby never reconciles next to a leader that is still finishing.
    let release = CancellationToken::new();
    let (mut leading, election) = leader::spawn(client.clone(), settings, release.clone());
    loop {
        tracing::info!(identity = %config.identity, "waiting for leadership");
        tokio::select! {
            _ = stop.cancelled() => break,
            r = leading.wait_for(|l| *l) => if r.is_err() { break },
        }
        tracing::info!(identity = %config.identity, "leading: reconciling");
        metrics::set_leader(true);
        let term = stop.child_token();
        let scopes: Vec<Option<String>> = if config.namespaces.is_empty() {
            vec![None]
        } else {
            config.namespaces.iter().cloned().map(Some).collect()
        };
        let runs = futures::future::join_all(
            scopes
                .into_iter()
                .map(|ns| run_scope(client.clone(), config.clone(), ns, term.clone())),
        );
        tokio::pin!(runs);
        tokio::select! {
            _ = &mut runs => {}
            _ = leading.wait_for(|l| !*l) => {
                tracing::warn!(identity = %config.identity, "lost leadership: stopping reconcilers");
                term.cancel();
                runs.await;
            }
        }
        term.cancel();
        metrics::set_leader(false);
        if stop.is_cancelled() {
            break;
        }
    }
    release.cancel();
    let _ = election.await;
}

/// The controllers of one namespace (or of all when `namespace` is None).
async fn run_scope(
    client: Client,
    config: OperatorConfig,
    namespace: Option<String>,
    stop: CancellationToken,
) {
    fn api<K>(client: &Client, ns: &Option<String>) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        match ns {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        }
    }
    let (connector_tx, connector_rx) = mpsc::unbounded_channel();
    let (cluster_tx, cluster_rx) = mpsc::unbounded_channel();
    let triggers = Triggers {
        connectors: connector_tx,
        clusters: cluster_tx.clone(),
    };

    // Worker Pods: one cache for the cluster loops and the reconciler,
    // and each change wakes the Pod's cluster.
    let (pods, pod_writer) = reflector::store::<Pod>();
    let pod_events = watcher::watcher(
        api::<Pod>(&client, &namespace),
        watcher::Config::default().labels(&format!("app.kubernetes.io/managed-by={MANAGER}")),
    )
    .default_backoff()
    .reflect(pod_writer)
    .touched_objects();

    let cluster_controller = Controller::new(
        api::<ConnectCluster>(&client, &namespace),
        watcher::Config::default(),
    );
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: MANAGER.into(),
            instance: Some(config.identity.clone()),
        },
    );
    let ctx = Arc::new(Context {
        client: client.clone(),
        config,
        recorder,
        pods: pods.clone(),
        clusters: cluster_controller.store(),
        runtimes: Mutex::new(BTreeMap::new()),
        triggers,
        failures: Mutex::new(BTreeMap::new()),
    });

    let waker = ctx.clone();
    let pod_changes = pod_events.filter_map(move |pod| {
        let found = pod.ok().and_then(|pod| {
            let cluster = pod.labels().get(CLUSTER_LABEL)?.clone();
            let key = ClusterKey {
                namespace: pod.namespace()?,
                name: cluster.clone(),
            };
            if let Some(rt) = waker.runtime(&key) {
                rt.wake();
            }
            Some(ObjectRef::<ConnectCluster>::new(&cluster).within(&key.namespace))
        });
        futures::future::ready(found)
    });
    let from_loops = UnboundedReceiverStream::new(cluster_rx);
    let clusters = cluster_controller
        .reconcile_on(futures::stream::select(pod_changes, from_loops))
        .graceful_shutdown_on(stop.clone().cancelled_owned())
        .run(cluster::reconcile, cluster::error_policy, ctx.clone())
        .for_each(|_| futures::future::ready(()));
    let connectors = Controller::new(
        api::<Connector>(&client, &namespace),
        watcher::Config::default(),
    )
    .reconcile_on(UnboundedReceiverStream::new(connector_rx))
    .graceful_shutdown_on(stop.clone().cancelled_owned())
    .run(connector::reconcile, connector::error_policy, ctx.clone())
    .for_each(|_| futures::future::ready(()));
    tokio::join!(clusters, connectors);
    for rt in ctx.runtimes.lock().expect("runtimes lock").values() {
        rt.stop();
    }
    drop(cluster_tx);
}
