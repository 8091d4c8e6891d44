//! Connector reconciler: validates the connector's configuration, writes
//! `connector-<name>` and `target-state-<name>` to its cluster's config
//! topic, and mirrors the status topic into the resource's status, with
//! Events when states change. A finalizer removes the connector from the
//! config topic (its tasks stop) before the resource goes.

use std::sync::Arc;
use std::time::Duration;

use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::runtime::finalizer::{finalizer, Event as Finalizer};
use kube::{Resource, ResourceExt};
use serde_json::json;

use super::cluster_key::ClusterKey;
use super::offsets;
use super::runtime::{ClusterRuntime, ClusterView, ConnectorPolicy};
use super::{Context, Error, MANAGER};
use crate::api::condition::{self, Condition, READY};
use crate::api::connector::{
    ListedOffsets, OffsetsOperation, RestartRequest, ALTER_OFFSETS_ANNOTATION, OFFSETS_ANNOTATION,
    RESTART_ANNOTATION, RESTART_TASK_ANNOTATION,
};
use crate::api::{
    ConnectState, Connector, ConnectorInstanceStatus, ConnectorState, ConnectorStatus, TaskStatus,
};
use crate::connect::ConnectorKind;
use crate::connect::Props;
use crate::engine::connector_config;
use crate::placement::connector_restart_key;
use crate::storage::status_topic::{State, Status};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::reflector::ObjectRef;

/// Finalizer that removes the connector from its cluster first.
pub const FINALIZER: &str = "kconnect.dev/connector";

/// Longest a trace is kept in status (the status object stays small; the
/// whole trace is in the worker's log and the status topic).
const MAX_TRACE: usize = 4096;

pub async fn reconcile(conn: Arc<Connector>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = std::time::Instant::now();
    let result = reconcile_connector(conn, ctx).await;
    super::metrics::reconciled(
        "connector",
        started.elapsed(),
        result.as_ref().err().map(Error::kind),
    );
    result
}

async fn reconcile_connector(conn: Arc<Connector>, ctx: Arc<Context>) -> Result<Action, Error> {
    let ns = conn.namespace().unwrap_or_default();
    let api: Api<Connector> = Api::namespaced(ctx.client.clone(), &ns);
    let object = format!("Connector/{ns}/{}", conn.name_any());
    let result = finalizer(&api, FINALIZER, conn, |event| async {
        match event {
            Finalizer::Apply(c) => apply(&c, &ctx, &api).await,
            Finalizer::Cleanup(c) => cleanup(&c, &ctx).await,
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
pub fn error_policy(conn: Arc<Connector>, error: &Error, ctx: Arc<Context>) -> Action {
    let ns = conn.namespace().unwrap_or_default();
    let wait = ctx.backoff(format!("Connector/{ns}/{}", conn.name_any()));
    tracing::warn!(connector = %conn.name_any(), namespace = %ns, %error, retry_in = ?wait, "reconcile failed");
    Action::requeue(wait)
}

/// The connector's properties as Java Connect sees them: `spec.config` plus
/// `name`, `connector.class` and `tasks.max`.
pub fn connector_props(conn: &Connector) -> Props {
    let mut props: Props = conn.spec.config.clone().into_iter().collect();
    props.insert("name".into(), conn.name_any());
    props.insert("connector.class".into(), conn.spec.class.clone());
    props.insert("tasks.max".into(), conn.spec.tasks_max.to_string());
    props
}

async fn apply(conn: &Connector, ctx: &Context, api: &Api<Connector>) -> Result<Action, Error> {
    let name = conn.name_any();
    let generation = conn.metadata.generation;
    let ns = conn.namespace().unwrap_or_default();
    let ready = |ok: bool, reason: &str, message: String| {
        Condition::new(READY, ok, reason, message, generation)
    };
    let Some(cluster) = conn.cluster_name().map(str::to_owned) else {
        let c = ready(
            false,
            "NoCluster",
            format!(
                "label {} is missing: it names the ConnectCluster to run on",
                crate::api::CLUSTER_LABEL
            ),
        );
        write_status(conn, ctx, api, c, None).await?;
        return Ok(Action::await_change());
    };
    let key = ClusterKey {
        namespace: ns.clone(),
        name: cluster.clone(),
    };
    let Some(rt) = ctx.runtime(&key) else {
        let c = ready(
            false,
            "ClusterNotFound",
            format!("ConnectCluster {cluster} does not exist or is not running yet"),
        );
        write_status(conn, ctx, api, c, None).await?;
        return Ok(Action::requeue(Duration::from_secs(5)));
    };
    let props = connector_props(conn);
    // The config goes to the config topic as written: a secret belongs in
    // a mounted Secret, referred to by a variable resolved on the workers.
    if let Some(key) = crate::connect::config::literal_secrets(&props).next() {
        let c = ready(
            false,
            "InvalidConfig",
            format!(
                "spec.config.{key}: a secret written literally would be stored in the cluster's config topic; put it in a Secret listed in the ConnectCluster's spec.secrets and write ${{file:<mountPath>/<key>}}"
            ),
        );
        let view = rt.view();
        write_status(conn, ctx, api, c, Some(&view)).await?;
        return Ok(Action::await_change());
    }
    let kind = match connector_config::validate(&props) {
        Ok((_, connector)) => connector.kind(),
        Err(e) => {
            let c = ready(false, "InvalidConfig", invalid_config_message(&e));
            let view = rt.view();
            write_status(conn, ctx, api, c, Some(&view)).await?;
            return Ok(Action::await_change());
        }
    };
    let prev_counts = conn
        .status
        .as_ref()
        .map(|s| {
            s.tasks
                .iter()
                .map(|t| (t.id as u32, t.restart_count as u32))
                .collect()
        })
        .unwrap_or_default();
    rt.set_policy(
        &name,
        ConnectorPolicy {
            tasks_max: conn.spec.tasks_max.max(1) as u32,
            auto_restart: conn.spec.auto_restart.enabled,
            max_restarts: conn.spec.auto_restart.max_restarts.map(|m| m.max(0) as u32),
            restart_counts: prev_counts,
        },
    );
    if let Err(e) = rt
        .put_connector(&name, &props, conn.spec.state.target_state())
        .await
    {
        let c = ready(false, "KafkaUnavailable", e.to_string());
        write_status(conn, ctx, api, c, Some(&rt.view())).await?;
        return Err(e.into());
    }
    restart_on_request(conn, ctx, api, &rt).await?;
    let outcome = match offsets_on_request(conn, ctx, &rt, &kind).await {
        OffsetsStep::None => None,
        OffsetsStep::Wait => return Ok(Action::requeue(Duration::from_secs(1))),
        OffsetsStep::Done(outcome) => Some(outcome),
    };
    let view = rt.view();
    let c = readiness(conn, &view);
    let had_request = outcome.is_some();
    write_status_with(conn, ctx, api, c, Some(&view), outcome).await?;
    if had_request {
        // Only after the outcome is in the status: whoever waits for the
        // annotation to go then finds it.
        let annotations = conn.annotations();
        let handled: Vec<(&str, &String)> = [OFFSETS_ANNOTATION, ALTER_OFFSETS_ANNOTATION]
            .into_iter()
            .filter_map(|k| Some((k, annotations.get(k)?)))
            .collect();
        remove_annotations(api, &conn.name_any(), &handled).await?;
    }
    Ok(Action::requeue(Duration::from_secs(30)))
}

/// Removes request annotations that were acted on, each only if it still
/// has the value acted on: a request made meanwhile (the same annotation
/// set again) makes the patch fail and is acted on at the next reconcile.
async fn remove_annotations(
    api: &Api<Connector>,
    name: &str,
    handled: &[(&str, &String)],
) -> Result<(), Error> {
    if handled.is_empty() {
        return Ok(());
    }
    let ops: Vec<serde_json::Value> = handled
        .iter()
        .flat_map(|(key, value)| {
            // JSON Pointer escapes "~" as "~0" and "/" as "~1".
            let path = format!(
                "/metadata/annotations/{}",
                key.replace('~', "~0").replace('/', "~1")
            );
            [
                json!({"op": "test", "path": path, "value": value}),
                json!({"op": "remove", "path": path}),
            ]
        })
        .collect();
    let patch: json_patch::Patch = serde_json::from_value(serde_json::Value::Array(ops))
        .map_err(|e| Error::Finalizer(format!("building the annotation patch: {e}")))?;
    api.patch(name, &PatchParams::default(), &Patch::Json::<()>(patch))
        .await?;
    Ok(())
}

/// The outcome of an offsets request, for the status.
struct OffsetsOutcome {
    listed: Option<ListedOffsets>,
    operation: OffsetsOperation,
}

enum OffsetsStep {
    /// No request.
    None,
    /// Waiting for the connector to stop.
    Wait,
    Done(OffsetsOutcome),
}

/// Carries out the offsets request of the annotations ([`offsets`]).
async fn offsets_on_request(
    conn: &Connector,
    ctx: &Context,
    rt: &ClusterRuntime,
    kind: &ConnectorKind,
) -> OffsetsStep {
    let Some(request) = offsets::request_of(conn) else {
        return OffsetsStep::None;
    };
    let name = conn.name_any();
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let outcome = |operation: &str, result: Result<String, String>| {
        let (succeeded, message) = match result {
            Ok(m) => (true, m),
            Err(m) => (false, m),
        };
        OffsetsOperation {
            operation: operation.to_owned(),
            succeeded,
            message,
            time: now.clone(),
        }
    };
    let request = match request {
        Ok(r) => r,
        Err(e) => {
            publish(
                ctx,
                conn,
                EventType::Warning,
                "InvalidOffsetsRequest",
                "Offsets",
                e.clone(),
            )
            .await;
            return OffsetsStep::Done(OffsetsOutcome {
                listed: None,
                operation: outcome("unknown", Err(e)),
            });
        }
    };
    if request.modifies() {
        let view = rt.view();
        let stopped = view.statuses.is_stopped(&name);
        if conn.spec.state != ConnectorState::Stopped {
            let message = crate::rest::offsets_need_stopped(&name).message;
            publish(
                ctx,
                conn,
                EventType::Warning,
                "OffsetsNotStopped",
                "Offsets",
                message.clone(),
            )
            .await;
            return OffsetsStep::Done(OffsetsOutcome {
                listed: None,
                operation: outcome(request.name(), Err(message)),
            });
        }
        if !stopped {
            return OffsetsStep::Wait;
        }
    }
    let worker = ctx
        .clusters
        .get(&ObjectRef::new(&rt.key.name).within(&rt.key.namespace))
        .map(|cc| cc.worker_config().into_iter().collect::<Props>())
        .unwrap_or_default();
    let props = connector_props(conn);
    let target = offsets::Target {
        name: &name,
        kind: *kind,
        props: &props,
        bootstrap: &rt.settings.bootstrap,
        worker: &worker,
        offset_topic: &rt.settings.topics[1].name,
    };
    let result = offsets::carry_out(&request, &target).await;
    let (listed, result) = match result {
        Ok((offsets, message)) => {
            let listed = (request == offsets::Request::List).then(|| ListedOffsets {
                listed_at: now.clone(),
                offsets: offsets
                    .into_iter()
                    .map(|o| serde_json::to_value(o).unwrap_or_default())
                    .collect(),
            });
            (listed, Ok(message))
        }
        Err(e) => {
            publish(
                ctx,
                conn,
                EventType::Warning,
                "OffsetsFailed",
                "Offsets",
                e.clone(),
            )
            .await;
            (None, Err(e))
        }
    };
    if result.is_ok() {
        tracing::info!(connector = %name, operation = request.name(), "offsets request carried out");
        publish(
            ctx,
            conn,
            EventType::Normal,
            "Offsets",
            "Offsets",
            format!(
                "offsets {}",
                match request.name() {
                    "list" => "listed",
                    "alter" => "altered",
                    _ => "reset",
                }
            ),
        )
        .await;
    }
    OffsetsStep::Done(OffsetsOutcome {
        listed,
        operation: outcome(request.name(), result),
    })
}

/// Acts on the restart annotations ([`RESTART_ANNOTATION`],
/// [`RESTART_TASK_ANNOTATION`]): asks the workers for the restarts through
/// the assignment, then removes the annotations. A request the operator
/// cannot act on (bad value, unknown task) is removed with a Warning Event.
async fn restart_on_request(
    conn: &Connector,
    ctx: &Context,
    api: &Api<Connector>,
    rt: &ClusterRuntime,
) -> Result<(), Error> {
    let annotations = conn.annotations();
    let restart = annotations.get(RESTART_ANNOTATION);
    let restart_task = annotations.get(RESTART_TASK_ANNOTATION);
    if restart.is_none() && restart_task.is_none() {
        return Ok(());
    }
    let name = conn.name_any();
    let view = rt.view();
    let mut keys = Vec::new();
    let mut problems = Vec::new();
    if let Some(value) = restart {
        match RestartRequest::parse(value) {
            Ok(request) => keys.extend(restart_keys(&view, &name, request)),
            Err(e) => problems.push(e),
        }
    }
    if let Some(value) = restart_task {
        let count = view.task_count(&name);
        match value.trim().parse::<u32>() {
            Ok(n) if n < count => keys.push(format!("{name}-{n}")),
            _ => problems.push(format!(
                "{RESTART_TASK_ANNOTATION}: {value:?} is not a task of connector {name} (it has {count})"
            )),
        }
    }
    if !keys.is_empty() && !rt.restart(&keys, Duration::from_secs(10)).await {
        // Kept: the next reconcile asks again (without restarting twice).
        return Err(Error::Timeout(format!(
            "the restart of {} was not written to the assignment in time",
            keys.join(", ")
        )));
    }
    let handled: Vec<(&str, &String)> = [
        (RESTART_ANNOTATION, restart),
        (RESTART_TASK_ANNOTATION, restart_task),
    ]
    .into_iter()
    .filter_map(|(k, v)| Some((k, v?)))
    .collect();
    remove_annotations(api, &name, &handled).await?;
    if !keys.is_empty() {
        tracing::info!(connector = %name, restarts = ?keys, "restart requested");
        publish(
            ctx,
            conn,
            EventType::Normal,
            "RestartRequested",
            "Restart",
            format!("restarting {}", keys.join(", ")),
        )
        .await;
    }
    for problem in problems {
        publish(
            ctx,
            conn,
            EventType::Warning,
            "InvalidRestart",
            "Restart",
            problem,
        )
        .await;
    }
    Ok(())
}

/// The restart keys for a `POST /connectors/{name}/restart`-like request,
/// with Connect's meaning: the connector unless `onlyFailed` and it is not
/// FAILED; its tasks with `includeTasks` (only FAILED ones with
/// `onlyFailed`).
fn restart_keys(view: &ClusterView, name: &str, request: RestartRequest) -> Vec<String> {
    // No status yet counts as not FAILED.
    let state = |s: Option<&Status>| s.map_or(State::Unassigned, |s| s.state);
    let mut keys = Vec::new();
    if request.restarts_connector(state(view.statuses.connectors.get(name))) {
        keys.push(connector_restart_key(name));
    }
    for n in 0..view.task_count(name) {
        if request.restarts_task(state(view.statuses.tasks.get(&(name.to_owned(), n)))) {
            keys.push(format!("{name}-{n}"));
        }
    }
    keys
}

async fn cleanup(conn: &Connector, ctx: &Context) -> Result<Action, Error> {
    let name = conn.name_any();
    if let Some(cluster) = conn.cluster_name() {
        let key = ClusterKey {
            namespace: conn.namespace().unwrap_or_default(),
            name: cluster.to_owned(),
        };
        if let Some(rt) = ctx.runtime(&key) {
            rt.delete_connector(&name, Duration::from_secs(30)).await?;
        }
    }
    publish(
        ctx,
        conn,
        EventType::Normal,
        "Deleted",
        "Delete",
        format!("connector {name} removed from its cluster"),
    )
    .await;
    Ok(Action::await_change())
}

/// The validation error, led by the resource field it is about
/// (`spec.class`, `spec.tasksMax` or `spec.config.<key>`).
fn invalid_config_message(e: &connector_config::ConnectorConfigError) -> String {
    match e.key.as_deref() {
        Some("connector.class") => format!("spec.class (connector.class): {}", e.message),
        Some("tasks.max") => format!("spec.tasksMax (tasks.max): {}", e.message),
        Some(key) => format!("spec.config.{key}: {}", e.message),
        None => e.message.clone(),
    }
}

/// Ready: True when the connector and every task are in the state asked for.
fn readiness(conn: &Connector, view: &ClusterView) -> Condition {
    let name = conn.name_any();
    let generation = conn.metadata.generation;
    let cond = |ok: bool, reason: &str, message: String| {
        Condition::new(READY, ok, reason, message, generation)
    };
    if !view.synced {
        return cond(false, "Pending", "reading the cluster's topics".into());
    }
    if let Some(e) = &view.error {
        return cond(false, "KafkaUnavailable", e.clone());
    }
    let want = match conn.spec.state {
        ConnectorState::Running => ConnectState::Running,
        ConnectorState::Paused => ConnectState::Paused,
        ConnectorState::Stopped => ConnectState::Stopped,
    };
    let instance = view.statuses.connectors.get(&name);
    if let Some(s) = instance.filter(|s| s.state == ConnectState::Failed) {
        return cond(
            false,
            "ConnectorFailed",
            format!(
                "connector failed on {}: {}",
                s.worker_id,
                first_line(s.trace.as_deref())
            ),
        );
    }
    let count = view.task_count(&name);
    for n in 0..count {
        if let Some(s) = view
            .statuses
            .tasks
            .get(&(name.clone(), n))
            .filter(|s| s.state == ConnectState::Failed)
        {
            return cond(
                false,
                "TaskFailed",
                format!(
                    "task {n} failed on {}: {}",
                    s.worker_id,
                    first_line(s.trace.as_deref())
                ),
            );
        }
    }
    if instance.map(|s| s.state) != Some(want) {
        return cond(
            false,
            "Starting",
            format!(
                "connector is {}, {} asked",
                state_name(instance.map(|s| s.state)),
                conn.spec.state
            ),
        );
    }
    let in_state = (0..count)
        .filter(|n| {
            view.statuses
                .tasks
                .get(&(name.clone(), *n))
                .is_some_and(|s| s.state == want)
        })
        .count() as u32;
    if want == ConnectState::Running && count == 0 {
        return cond(
            false,
            "NoTasks",
            "waiting for the connector's task configurations".into(),
        );
    }
    if in_state < count {
        return cond(
            false,
            "TasksNotReady",
            format!("{in_state} of {count} tasks {}", state_name(Some(want))),
        );
    }
    let reason = match conn.spec.state {
        ConnectorState::Running => "AllTasksRunning",
        ConnectorState::Paused => "Paused",
        ConnectorState::Stopped => "Stopped",
    };
    cond(
        true,
        reason,
        format!("connector and {count} tasks {}", state_name(Some(want))),
    )
}

fn state_name(s: Option<ConnectState>) -> String {
    match s {
        Some(s) => serde_json::to_value(s)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        None => "not reported yet".into(),
    }
}

fn first_line(trace: Option<&str>) -> &str {
    trace.and_then(|t| t.lines().next()).unwrap_or("no trace")
}

fn clip(trace: Option<String>) -> Option<String> {
    trace.map(|mut t| {
        if t.len() > MAX_TRACE {
            let mut cut = MAX_TRACE;
            while !t.is_char_boundary(cut) {
                cut -= 1;
            }
            t.truncate(cut);
            t.push_str("\n…(shortened)");
        }
        t
    })
}

/// The status the resource should have now.
fn desired_status(
    conn: &Connector,
    ready: Condition,
    view: Option<&ClusterView>,
) -> ConnectorStatus {
    let old = conn.status.clone().unwrap_or_default();
    let mut conditions = old.conditions.clone();
    condition::set(&mut conditions, ready);
    let mut status = ConnectorStatus {
        conditions,
        observed_generation: conn.metadata.generation,
        // Kept until the next offsets request replaces them.
        offsets: old.offsets.clone(),
        last_offsets_operation: old.last_offsets_operation.clone(),
        ..ConnectorStatus::default()
    };
    let Some(view) = view else {
        return status;
    };
    let name = conn.name_any();
    status.connector_status =
        view.statuses
            .connectors
            .get(&name)
            .map(|s| ConnectorInstanceStatus {
                state: s.state,
                worker_id: Some(s.worker_id.clone()),
                trace: clip(s.trace.clone()),
                restart_count: 0,
                last_restart_time: None,
            });
    for n in 0..view.task_count(&name) {
        let s = view.statuses.tasks.get(&(name.clone(), n));
        let restart = view.restarts.get(&(name.clone(), n));
        status.tasks.push(TaskStatus {
            id: n as i32,
            state: s.map_or(ConnectState::Unassigned, |s| s.state),
            worker_id: s
                .map(|s| s.worker_id.clone())
                .or_else(|| view.worker_of_task(&name, n)),
            trace: clip(s.and_then(|s| s.trace.clone())),
            restart_count: restart.map_or(0, |r| r.count as i32),
            last_restart_time: restart.and_then(|r| r.last_restart.clone()),
        });
    }
    status.tasks_running = status
        .tasks
        .iter()
        .filter(|t| t.state == ConnectState::Running)
        .count() as i32;
    let props = connector_props(conn);
    let mut topics = connector_config::common_topics(&props);
    if let Some(t) = props.get("topic").filter(|t| !t.trim().is_empty()) {
        topics.push(t.trim().to_owned());
    }
    topics.sort();
    topics.dedup();
    status.topics = topics;
    status.exactly_once = view.exactly_once
        && props
            .get("connector.class")
            .and_then(|c| crate::connectors::find(c).ok())
            .is_some_and(|p| p.kind == crate::connect::ConnectorKind::Source);
    status
}

/// Patches the status if it changed, and publishes Events for the changes
/// people care about.
async fn write_status(
    conn: &Connector,
    ctx: &Context,
    api: &Api<Connector>,
    ready: Condition,
    view: Option<&ClusterView>,
) -> Result<(), Error> {
    write_status_with(conn, ctx, api, ready, view, None).await
}

/// [`write_status`] with the outcome of an offsets request.
async fn write_status_with(
    conn: &Connector,
    ctx: &Context,
    api: &Api<Connector>,
    ready: Condition,
    view: Option<&ClusterView>,
    offsets: Option<OffsetsOutcome>,
) -> Result<(), Error> {
    let mut new = desired_status(conn, ready, view);
    if let Some(outcome) = offsets {
        if let Some(listed) = outcome.listed {
            new.offsets = Some(listed);
        }
        new.last_offsets_operation = Some(outcome.operation);
    }
    let old = conn.status.clone().unwrap_or_default();
    if same_ignoring_times(&old, &new) {
        return Ok(());
    }
    announce(ctx, conn, &old, &new).await;
    // Server-side apply: fields the operator no longer sets are removed.
    api.patch_status(
        &conn.name_any(),
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(json!({
            "apiVersion": "kconnect.dev/v1alpha1",
            "kind": "Connector",
            "status": new,
        })),
    )
    .await?;
    Ok(())
}

fn same_ignoring_times(a: &ConnectorStatus, b: &ConnectorStatus) -> bool {
    let strip = |s: &ConnectorStatus| {
        let mut s = s.clone();
        for c in &mut s.conditions {
            c.last_transition_time.0 = k8s_openapi::jiff::Timestamp::UNIX_EPOCH;
        }
        s
    };
    strip(a) == strip(b)
}

async fn announce(ctx: &Context, conn: &Connector, old: &ConnectorStatus, new: &ConnectorStatus) {
    let old_ready = condition::find(&old.conditions, READY);
    let new_ready = condition::find(&new.conditions, READY);
    if let Some(r) = new_ready {
        if old_ready.map(|o| (&o.status, &o.reason)) != Some((&r.status, &r.reason)) {
            let type_ = if r.is_true() || r.reason == "Starting" || r.reason == "TasksNotReady" {
                EventType::Normal
            } else {
                EventType::Warning
            };
            publish(ctx, conn, type_, &r.reason, "Reconcile", r.message.clone()).await;
        }
    }
    for task in &new.tasks {
        let before = old.tasks.iter().find(|t| t.id == task.id);
        if task.state == ConnectState::Failed
            && before.map(|t| t.state) != Some(ConnectState::Failed)
        {
            publish(
                ctx,
                conn,
                EventType::Warning,
                "TaskFailed",
                "Observe",
                format!(
                    "task {} failed on {}: {}",
                    task.id,
                    task.worker_id.as_deref().unwrap_or("?"),
                    first_line(task.trace.as_deref())
                ),
            )
            .await;
        }
        if task.restart_count > before.map_or(0, |t| t.restart_count) {
            publish(
                ctx,
                conn,
                EventType::Normal,
                "TaskRestarted",
                "Restart",
                format!(
                    "restarted task {} (restart {})",
                    task.id, task.restart_count
                ),
            )
            .await;
        }
    }
}

async fn publish(
    ctx: &Context,
    conn: &Connector,
    type_: EventType,
    reason: &str,
    action: &str,
    note: String,
) {
    let mut note = note;
    if note.len() > 1000 {
        let mut cut = 1000;
        while !note.is_char_boundary(cut) {
            cut -= 1;
        }
        note.truncate(cut);
    }
    let event = Event {
        type_,
        reason: reason.to_owned(),
        note: Some(note),
        action: action.to_owned(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &conn.object_ref(&())).await {
        tracing::warn!(connector = %conn.name_any(), error = %e, "publishing an Event failed");
    }
}
