//! ConnectCluster reconciler: the cluster's loop (internal topics,
//! placement), its worker Pods and Service, and its status.
//!
//! The operator manages the Pods itself, like Strimzi's pod sets, so that a
//! Pod leaves only after its tasks have moved: on scale-down the highest
//! indexes are drained, then deleted; on a change of the Pod template the
//! Pods are rolled one at a time, each drained first.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{finalizer, Event as Finalizer};
use kube::ResourceExt;
use serde_json::json;

use super::cluster_key::ClusterKey;
use super::kafka_access::{self, AccessError, KafkaAccess};
use super::network_policy;
use super::pods;
use super::runtime::{ClusterRuntime, KafkaSettings, RuntimeError};
use super::{Context, Error, MANAGER};
use crate::api::condition::{self, Condition, READY};
use crate::api::{ConnectCluster, ConnectClusterStatus, WorkerStatus, CLUSTER_LABEL};
use crate::engine::client_failure::FailureKind;
use crate::storage::topic_log::TopicLogError;

/// Finalizer that stops the cluster's loop and its Pods first (also where
/// no garbage collector follows ownerReferences).
pub const FINALIZER: &str = "kconnect.dev/cluster";

pub async fn reconcile(cc: Arc<ConnectCluster>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = std::time::Instant::now();
    let result = reconcile_cluster(cc, ctx).await;
    super::metrics::reconciled(
        "connectcluster",
        started.elapsed(),
        result.as_ref().err().map(Error::kind),
    );
    result
}

async fn reconcile_cluster(cc: Arc<ConnectCluster>, ctx: Arc<Context>) -> Result<Action, Error> {
    let ns = cc.namespace().unwrap_or_default();
    let api: Api<ConnectCluster> = Api::namespaced(ctx.client.clone(), &ns);
    let object = format!("ConnectCluster/{ns}/{}", cc.name_any());
    let result = finalizer(&api, FINALIZER, cc, |event| async {
        match event {
            Finalizer::Apply(cc) => apply(&cc, &ctx, &api).await,
            Finalizer::Cleanup(cc) => cleanup(&cc, &ctx).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(e.to_string()));
    if result.is_ok() {
        ctx.succeeded(&object);
    }
    result
}

/// A failed reconcile is retried with exponential backoff (1 s … 5 min).
pub fn error_policy(cc: Arc<ConnectCluster>, error: &Error, ctx: Arc<Context>) -> Action {
    let ns = cc.namespace().unwrap_or_default();
    let wait = ctx.backoff(format!("ConnectCluster/{ns}/{}", cc.name_any()));
    tracing::warn!(cluster = %cc.name_any(), namespace = %ns, %error, retry_in = ?wait, "reconcile failed");
    Action::requeue(wait)
}

fn key_of(cc: &ConnectCluster) -> ClusterKey {
    ClusterKey {
        namespace: cc.namespace().unwrap_or_default(),
        name: cc.name_any(),
    }
}

/// The Pods of the cluster in the cache, by index.
fn worker_pods(cc: &ConnectCluster, ctx: &Context) -> BTreeMap<u32, Arc<Pod>> {
    let key = key_of(cc);
    ctx.pods
        .state()
        .into_iter()
        .filter(|p| p.namespace().as_deref() == Some(key.namespace.as_str()))
        .filter(|p| p.labels().get(CLUSTER_LABEL) == Some(&key.name))
        .filter_map(|p| Some((pods::pod_index(&key.name, &p.name_any())?, p)))
        .collect()
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn hash_of(pod: &Pod) -> Option<&str> {
    pod.annotations()
        .get(pods::TEMPLATE_HASH_ANNOTATION)
        .map(String::as_str)
}

/// Why the cluster's loop cannot run: the Ready condition's reason and
/// message.
struct NotRunning {
    reason: &'static str,
    message: String,
}

impl NotRunning {
    fn of(error: RuntimeError) -> NotRunning {
        let reason = match &error {
            RuntimeError::Topic(TopicLogError::Access { failure, .. }) => match failure.kind {
                FailureKind::Authentication => "KafkaAuthenticationFailed",
                FailureKind::Tls => "KafkaTlsFailed",
            },
            RuntimeError::Settings { .. } => "InvalidConfig",
            RuntimeError::Topic(_) | RuntimeError::Fencing { .. } => "KafkaUnavailable",
        };
        NotRunning {
            reason,
            message: error.to_string(),
        }
    }

    /// Retried without growing back-off: the cure is usually a fixed
    /// Secret, which nothing watches.
    fn is_credentials(&self) -> bool {
        matches!(self.reason, "KafkaAuthenticationFailed" | "KafkaTlsFailed")
    }
}

/// Starts the cluster's loop, or restarts it when the Kafka settings
/// (including the operator's credentials) changed.
async fn ensure_runtime(
    cc: &ConnectCluster,
    ctx: &Context,
    kafka: &KafkaAccess,
) -> Result<Arc<ClusterRuntime>, NotRunning> {
    let key = key_of(cc);
    let settings = KafkaSettings::of(cc, kafka).map_err(|message| NotRunning {
        reason: "InvalidConfig",
        message,
    })?;
    if let Some(rt) = ctx.runtime(&key) {
        if rt.settings == settings {
            return Ok(rt);
        }
        tracing::info!(cluster = %key, "Kafka settings changed: restarting the cluster loop");
        rt.stop();
        ctx.runtimes.lock().expect("runtimes lock").remove(&key);
    }
    let rt = ClusterRuntime::start(
        key.clone(),
        settings,
        ctx.pods.clone(),
        ctx.config.timings.clone(),
        ctx.triggers.clone(),
    )
    .await
    .map_err(NotRunning::of)?;
    let rt = Arc::new(rt);
    ctx.runtimes
        .lock()
        .expect("runtimes lock")
        .insert(key, rt.clone());
    Ok(rt)
}

async fn apply(
    cc: &ConnectCluster,
    ctx: &Context,
    api: &Api<ConnectCluster>,
) -> Result<Action, Error> {
    let name = cc.name_any();
    let ns = cc.namespace().unwrap_or_default();
    let generation = cc.metadata.generation;
    let cond = |ok: bool, reason: &str, message: String| {
        Condition::new(READY, ok, reason, message, generation)
    };
    if name.len() > pods::max_cluster_name_len() {
        let c = cond(
            false,
            "InvalidName",
            format!(
                "metadata.name: at most {} characters, so that Pod names <name>-worker-<n> stay valid",
                pods::max_cluster_name_len()
            ),
        );
        write_status(cc, api, c, None, &BTreeMap::new()).await?;
        return Ok(Action::await_change());
    }
    // The worker config goes into the Pods' environment as written.
    if let Some(key) = crate::connect::config::literal_secrets(&cc.spec.config).next() {
        let c = cond(
            false,
            "InvalidConfig",
            format!(
                "spec.config.{key}: a secret written literally would be in every worker Pod's environment; put it in a Secret listed in spec.secrets and write ${{file:<mountPath>/<key>}}"
            ),
        );
        write_status(cc, api, c, None, &worker_pods(cc, ctx)).await?;
        return Ok(Action::await_change());
    }
    // A setting the workers would refuse at start: said here, before any
    // Pod is made to crash on it.
    if let Err(e) = crate::engine::worker_config::check_exactly_once(&cc.spec.config) {
        let c = cond(
            false,
            "InvalidConfig",
            format!("spec.config.{}: {}", e.key, e.message),
        );
        write_status(cc, api, c, None, &worker_pods(cc, ctx)).await?;
        return Ok(Action::await_change());
    }
    // The Secrets of spec.tls and spec.authentication, read on every
    // reconcile (at least every 30 s): a changed Secret rolls the workers.
    let secrets = kafka_access::read_secrets(&ctx.client, &ns, &cc.spec).await;
    let kafka = match secrets.and_then(|s| kafka_access::kafka_access(&cc.spec, &s)) {
        Ok(kafka) => kafka,
        Err(e @ AccessError::Api { .. }) => return Err(Error::Kafka(e.to_string())),
        Err(e) => {
            let c = cond(false, "InvalidConfig", e.to_string());
            write_status(cc, api, c, None, &worker_pods(cc, ctx)).await?;
            // A missing Secret may be created later; nothing watches Secrets.
            return Ok(Action::requeue(Duration::from_secs(10)));
        }
    };
    // Until the operator itself gets in with the credentials, the Pods stay
    // as they are: a broken Secret never rolls working workers away.
    let rt = match ensure_runtime(cc, ctx, &kafka).await {
        Ok(rt) => rt,
        Err(not_running) => {
            let c = cond(false, not_running.reason, not_running.message.clone());
            write_status(cc, api, c, None, &worker_pods(cc, ctx)).await?;
            if not_running.is_credentials() {
                return Ok(Action::requeue(Duration::from_secs(5)));
            }
            // Retried with the error backoff.
            return Err(Error::Kafka(not_running.message));
        }
    };

    super::rbac::apply(cc, &ctx.client).await?;

    let services: Api<Service> = Api::namespaced(ctx.client.clone(), &ns);
    let svc = pods::worker_service(cc);
    services
        .patch(
            &pods::service_name(&name),
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&svc),
        )
        .await?;
    let policies: Api<NetworkPolicy> = Api::namespaced(ctx.client.clone(), &ns);
    if network_policy::wanted(cc, ctx.config.network_policies) {
        let policy = network_policy::rest_network_policy(cc, &ctx.config.operator_pod_labels);
        policies
            .patch(
                &pods::service_name(&name),
                &PatchParams::apply(MANAGER).force(),
                &Patch::Apply(&policy),
            )
            .await?;
    } else {
        match policies
            .delete(&pods::service_name(&name), &DeleteParams::default())
            .await
        {
            Ok(_) => tracing::info!(cluster = %name, "REST NetworkPolicy removed"),
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }

    let image = cc
        .spec
        .image
        .clone()
        .unwrap_or_else(|| ctx.config.worker_image.clone());
    let want_hash = pods::template_hash(cc, &image, &kafka);
    let pod_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let existing = worker_pods(cc, ctx);
    let replicas = cc.spec.replicas.max(0) as u32;
    let mut busy = false; // something in progress: look again soon
    let mut phase = "Ready";

    // Missing Pods (new cluster, scale-up, a Pod deleted or rolled).
    for index in 0..replicas {
        let pod_name = pods::pod_name(&name, index);
        if existing.contains_key(&index) {
            continue;
        }
        rt.undrain(&pod_name);
        let pod = pods::worker_pod(cc, index, &image, &kafka);
        match pod_api.create(&PostParams::default(), &pod).await {
            Ok(_) => tracing::info!(cluster = %name, pod = %pod_name, "created worker Pod"),
            Err(kube::Error::Api(e)) if e.code == 409 => {} // still terminating
            Err(e) => return Err(e.into()),
        }
        busy = true;
    }

    // Draining a worker only helps if another live worker takes its tasks;
    // otherwise it would only stop them early.
    let view = rt.view();
    let others_live = |pod: &str| view.live.iter().any(|w| w != pod && !rt.is_draining(w));

    // Scale-down: drain the Pods beyond spec.replicas, then delete them.
    for (index, pod) in existing.range(replicas..) {
        let pod_name = pod.name_any();
        phase = "ScalingDown";
        busy = true;
        if pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        if replicas > 0 && !rt.is_draining(&pod_name) {
            if others_live(&pod_name) {
                rt.drain(&pod_name);
            }
            continue;
        }
        if replicas == 0 || rt.drain_done(&pod_name) {
            tracing::info!(cluster = %name, pod = %pod_name, index, "deleting drained worker Pod");
            delete_pod(&pod_api, &pod_name).await?;
        }
    }

    // Rolling update: one Pod at a time, only while every other wanted Pod
    // is there and Ready.
    let wanted: Vec<(&u32, &Arc<Pod>)> = existing.range(..replicas).collect();
    let outdated = wanted
        .iter()
        .find(|(_, p)| hash_of(p) != Some(want_hash.as_str()));
    if let Some((_, pod)) = outdated {
        phase = "RollingUpdate";
        busy = true;
        let pod_name = pod.name_any();
        let others_ready = wanted.len() as u32 == replicas
            && wanted
                .iter()
                .filter(|(_, p)| p.name_any() != pod_name)
                .all(|(_, p)| is_ready(p) && p.metadata.deletion_timestamp.is_none());
        if pod.metadata.deletion_timestamp.is_none() {
            if replicas <= 1 || !is_ready(pod) {
                // Nowhere to move the tasks, or the Pod runs nothing yet.
                tracing::info!(cluster = %name, pod = %pod_name, "rolling worker Pod");
                delete_pod(&pod_api, &pod_name).await?;
            } else if others_ready {
                if !rt.is_draining(&pod_name) {
                    if others_live(&pod_name) {
                        rt.drain(&pod_name);
                    }
                } else if rt.drain_done(&pod_name) {
                    tracing::info!(cluster = %name, pod = %pod_name, "rolling drained worker Pod");
                    delete_pod(&pod_api, &pod_name).await?;
                }
            }
        }
    }
    // A Pod that is no longer going anywhere takes tasks again.
    for (index, pod) in existing.range(..replicas) {
        let pod_name = pod.name_any();
        let current = hash_of(pod) == Some(want_hash.as_str());
        if current && rt.is_draining(&pod_name) && pod.metadata.deletion_timestamp.is_none() {
            tracing::info!(cluster = %name, pod = %pod_name, index, "worker stays: undraining");
            rt.undrain(&pod_name);
        }
    }
    // Forget drains of Pods that are gone.
    for worker in view.statuses.workers.keys() {
        if rt.is_draining(worker) && !existing.values().any(|p| &p.name_any() == worker) {
            rt.undrain(worker);
        }
    }

    let pods_now = worker_pods(cc, ctx);
    let ready = pods_now
        .range(..replicas)
        .filter(|(_, p)| is_ready(p) && p.metadata.deletion_timestamp.is_none())
        .count() as u32;
    let unplaced = view.synced && view.live.is_empty() && !view.config.connectors.is_empty();
    let c = if let Some(e) = &view.error {
        busy = true;
        cond(false, "KafkaUnavailable", e.clone())
    } else if phase != "Ready" {
        cond(false, phase, format!("{ready} of {replicas} workers ready"))
    } else if ready < replicas {
        busy = true;
        cond(
            false,
            "WorkersNotReady",
            format!("{ready} of {replicas} workers ready"),
        )
    } else if unplaced {
        busy = true;
        cond(
            false,
            "NoLiveWorkers",
            "connectors exist but no worker is live to run them".into(),
        )
    } else {
        cond(
            true,
            "Ready",
            format!("{ready} of {replicas} workers ready"),
        )
    };
    write_status(cc, api, c, Some(&rt), &pods_now).await?;
    Ok(Action::requeue(if busy {
        Duration::from_secs(1)
    } else {
        Duration::from_secs(30)
    }))
}

async fn delete_pod(api: &Api<Pod>, name: &str) -> Result<(), Error> {
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

async fn cleanup(cc: &ConnectCluster, ctx: &Context) -> Result<Action, Error> {
    let key = key_of(cc);
    if let Some(rt) = ctx.runtimes.lock().expect("runtimes lock").remove(&key) {
        rt.stop();
    }
    let pod_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &key.namespace);
    for pod in worker_pods(cc, ctx).values() {
        delete_pod(&pod_api, &pod.name_any()).await?;
    }
    tracing::info!(cluster = %key, "cluster deleted: worker Pods removed");
    Ok(Action::await_change())
}

async fn write_status(
    cc: &ConnectCluster,
    api: &Api<ConnectCluster>,
    ready: Condition,
    rt: Option<&ClusterRuntime>,
    existing: &BTreeMap<u32, Arc<Pod>>,
) -> Result<(), Error> {
    let old = cc.status.clone().unwrap_or_default();
    let mut conditions = old.conditions.clone();
    condition::set(&mut conditions, ready);
    let view = rt.map(|rt| rt.view());
    let workers: Vec<WorkerStatus> = existing
        .values()
        .map(|p| {
            let name = p.name_any();
            let (connectors, tasks) = view.as_ref().map_or((0, 0), |v| v.load(&name));
            WorkerStatus {
                pod_ip: p.status.as_ref().and_then(|s| s.pod_ip.clone()),
                ready: is_ready(p),
                connectors,
                tasks,
                name,
            }
        })
        .collect();
    let status = ConnectClusterStatus {
        conditions,
        observed_generation: cc.metadata.generation,
        replicas: existing.len() as i32,
        ready_replicas: existing.values().filter(|p| is_ready(p)).count() as i32,
        label_selector: Some(pods::label_selector(cc)),
        assignment_generation: view
            .as_ref()
            .and_then(|v| v.assignment.as_ref())
            .map(|a| a.assignment.generation as i64),
        workers,
    };
    let unchanged = {
        let strip = |s: &ConnectClusterStatus| {
            let mut s = s.clone();
            for c in &mut s.conditions {
                c.last_transition_time.0 = k8s_openapi::jiff::Timestamp::UNIX_EPOCH;
            }
            s
        };
        strip(&old) == strip(&status)
    };
    if unchanged {
        return Ok(());
    }
    // Server-side apply: fields the operator no longer sets are removed.
    api.patch_status(
        &cc.name_any(),
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(json!({
            "apiVersion": "kconnect.dev/v1alpha1",
            "kind": "ConnectCluster",
            "status": status,
        })),
    )
    .await?;
    Ok(())
}
