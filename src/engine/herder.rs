//! The herder both modes share: it owns the engine's [`Worker`], one
//! [`ConnectorInstance`] per connector it runs and one [`TaskSlot`] per
//! task, and brings the tasks in line with what is wanted of them
//! ([`Herder::reconcile`]) and with how they end ([`Herder::on_exit`]).
//!
//! Standalone mode ([`crate::standalone`]) and a distributed worker
//! ([`crate::distributed`]) are adapters over it that differ only in where
//! the wanted state comes from (REST calls and connector files vs the
//! config topic and the operator's assignment) and where the statuses the
//! herder reports go (memory vs the status topic).
//!
//! A task is restarted by asking for more restarts than it started at
//! ([`TaskTarget::Run`]'s `restarts`), the way the operator's assignment
//! record asks; a FAILED task stays down until then or until its config
//! changes, as in Java.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::connect::config::validating_resolved;
use crate::connect::config_provider::has_variable;
use crate::connect::{ConnectorKind, Props, Redactor, Resolved};
use crate::connectors::AnyConnector;
use crate::engine::connector_config::{self, ConnectorConfigError, ValidatedConnector};
use crate::engine::connector_context::{ConnectorEvent, HostedConnector};
use crate::engine::{metrics, TaskId, TaskState, Worker};
use crate::storage::status_topic::State;

/// A connector config that validated, and its instance (Java's
/// `WorkerConnector`): started when its task configs are first asked for,
/// stopped when the herder lets it go.
pub struct ConnectorInstance {
    /// The config as submitted or stored, variables unresolved.
    pub raw: Props,
    /// Validated with the variables resolved.
    pub validated: ValidatedConnector,
    pub connector: AnyConnector,
    /// The values resolved for its variables, scrubbed from traces.
    pub redactor: Redactor,
    /// How many restarts of the connector had been asked for when it was
    /// loaded (distributed: the operator's count; standalone: REST's).
    pub loaded_at: u32,
    /// The running instance's context: `Some` once `start`ed.
    context: Option<Arc<HostedConnector>>,
    /// Task configs computed since the instance started (completed with
    /// `task.class` and the topics); `None` until the first computation
    /// and after a reconfiguration request.
    computed: Option<Vec<Props>>,
    /// The trace the instance raised through its context.
    failed: Option<String>,
}

impl ConnectorInstance {
    /// Validates a connector config whose variables were resolved; the
    /// error has the resolved values scrubbed.
    pub fn load(raw: Props, resolved: Resolved) -> Result<ConnectorInstance, ConnectorConfigError> {
        let redactor = resolved.redactor.clone();
        let (validated, connector) = validating_resolved(|| {
            connector_config::validate(&resolved.props)
        })
        .map_err(|e| ConnectorConfigError {
            message: redactor.redact(&e.message),
            ..e
        })?;
        for key in &resolved.variable_keys {
            if resolved.props.get(key).is_some_and(|v| has_variable(v)) {
                tracing::warn!(
                    connector = %validated.name,
                    key = %key,
                    "a ${{provider:…}} variable names no configured config provider; the value is used as written"
                );
            }
        }
        let def = connector_config::common_def().merge(&connector.as_connector().config_def());
        tracing::info!(
            connector = %validated.name,
            config = %resolved.masked(Some(&def)),
            "connector config loaded"
        );
        Ok(ConnectorInstance::new(raw, validated, connector, redactor))
    }

    /// An instance of a connector validated elsewhere.
    pub fn new(
        raw: Props,
        validated: ValidatedConnector,
        connector: AnyConnector,
        redactor: Redactor,
    ) -> ConnectorInstance {
        ConnectorInstance {
            raw,
            validated,
            connector,
            redactor,
            loaded_at: 0,
            context: None,
            computed: None,
            failed: None,
        }
    }

    pub fn name(&self) -> &str {
        &self.validated.name
    }

    pub fn kind(&self) -> ConnectorKind {
        self.connector.kind()
    }

    pub fn version(&self) -> &str {
        self.connector.as_connector().version()
    }

    /// The config with its variables resolved.
    pub fn resolved(&self) -> &Props {
        &self.validated.props
    }

    /// Whether the instance was started and not stopped since.
    pub fn is_started(&self) -> bool {
        self.context.is_some()
    }

    /// The trace the running instance raised through its context.
    pub fn raised(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    /// Starts the instance if needed and returns its task configs (the
    /// ones computed before unless a reconfiguration was requested),
    /// completed as Java's worker writes them. An error is the status
    /// trace, resolved values scrubbed.
    async fn task_configs(&mut self, worker: &Worker) -> Result<Vec<Props>, String> {
        if self.context.is_none() {
            let ctx = worker.connector_context(self.name());
            let started = self
                .connector
                .as_connector_mut()
                .start(ctx.clone(), &self.validated.props)
                .await;
            metrics::connector_started(
                &self.validated.name,
                self.validated.plugin.class,
                self.kind(),
                self.version(),
                started.is_ok(),
            );
            if let Err(e) = started {
                ctx.release();
                return Err(self.redactor.redact(&e.trace()));
            }
            self.context = Some(ctx);
        }
        if let Some(configs) = &self.computed {
            return Ok(configs.clone());
        }
        let configs = self
            .connector
            .as_connector()
            .task_configs(self.validated.tasks_max)
            .await
            .map_err(|e| self.redactor.redact(&e.trace()))?;
        let configs = connector_config::complete_task_configs(&self.validated, configs);
        tracing::info!(connector = %self.validated.name, tasks = configs.len(), class = self.validated.plugin.class, "task configs computed");
        self.computed = Some(configs.clone());
        Ok(configs)
    }

    /// Stops the instance if it runs (Java's `Connector.stop`).
    async fn stop(&mut self) {
        self.computed = None;
        self.failed = None;
        if let Some(ctx) = self.context.take() {
            if let Err(e) = self.connector.as_connector_mut().stop().await {
                tracing::warn!(connector = %self.validated.name, error = %self.redactor.redact(&e.trace()), "connector stop failed");
            }
            ctx.release();
        }
    }
}

/// What is wanted of one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskTarget {
    /// Running with this config (as the mode stores it, variables
    /// unresolved), restarted whenever the config changes or `restarts`
    /// grows past the count it started at.
    Run {
        config: Props,
        restarts: u32,
    },
    /// Its own, but its config is not known yet: it waits (a running one
    /// stops to be restarted once it is).
    Pending,
    Paused,
    Stopped,
}

/// A task status for the adapter to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskReport {
    pub id: TaskId,
    pub state: State,
    pub trace: Option<String>,
}

impl TaskReport {
    fn new(id: &TaskId, state: State, trace: Option<String>) -> TaskReport {
        TaskReport {
            id: id.clone(),
            state,
            trace,
        }
    }
}

/// One run of a task.
#[derive(Debug, Clone)]
struct TaskRun {
    config: Props,
    restarts: u32,
    /// The connector's and the task config's resolved values.
    redactor: Redactor,
}

/// Where one task stands: the only per-task state of the herder.
#[derive(Debug, Clone)]
enum TaskSlot {
    Running(TaskRun),
    /// Asked to stop; its run is still committing. Nothing of this task
    /// starts before it ended.
    Stopping(TaskRun),
    /// Failed (at this restart count, with this config): down until
    /// either changes.
    Failed {
        restarts: u32,
        config: Props,
    },
}

/// What [`decide`] wants done with one task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    Keep,
    /// Ask it to stop, reporting this state.
    Stop(State),
    Start,
    /// Not running and not to run: report this state.
    Report(State),
    /// Drop the slot (a failed task that is no longer ours or whose
    /// connector stopped).
    Forget(Option<State>),
}

/// The herder's whole policy for one task, from its slot and its target.
fn decide(slot: Option<&TaskSlot>, target: Option<&TaskTarget>) -> Decision {
    use TaskTarget as T;
    match (slot, target) {
        (Some(TaskSlot::Running(run)), target) => match target {
            None => Decision::Stop(State::Unassigned),
            Some(T::Pending) => Decision::Stop(State::Restarting),
            Some(T::Paused) => Decision::Stop(State::Paused),
            Some(T::Stopped) => Decision::Stop(State::Stopped),
            Some(T::Run { config, restarts }) => {
                if *config != run.config || *restarts > run.restarts {
                    Decision::Stop(State::Restarting)
                } else {
                    Decision::Keep
                }
            }
        },
        // One run at a time: a sink's new consumer would fence the old
        // one before it commits.
        (Some(TaskSlot::Stopping(_)), _) => Decision::Keep,
        (Some(TaskSlot::Failed { restarts, config }), target) => match target {
            None => Decision::Forget(None),
            Some(T::Stopped) => Decision::Forget(Some(State::Stopped)),
            // Java leaves a failed task FAILED through pause and resume.
            Some(T::Pending | T::Paused) => Decision::Keep,
            Some(T::Run {
                config: wanted,
                restarts: asked,
            }) => {
                if wanted != config || asked > restarts {
                    Decision::Start
                } else {
                    Decision::Keep
                }
            }
        },
        (None, None | Some(T::Pending)) => Decision::Keep,
        (None, Some(T::Paused)) => Decision::Report(State::Paused),
        (None, Some(T::Stopped)) => Decision::Report(State::Stopped),
        (None, Some(T::Run { .. })) => Decision::Start,
    }
}

/// Resolves a task config for one start (the mode's config providers;
/// distributed mode also re-reads committed offsets first).
#[async_trait(?Send)]
pub trait TaskResolver {
    /// The config task `id` starts with; an error is its FAILED trace.
    async fn resolve(&mut self, id: &TaskId, config: &Props) -> Result<Resolved, String>;
}

/// For task configs that hold no variables (standalone keeps them
/// resolved).
pub struct AlreadyResolved;

#[async_trait(?Send)]
impl TaskResolver for AlreadyResolved {
    async fn resolve(&mut self, _id: &TaskId, config: &Props) -> Result<Resolved, String> {
        Ok(Resolved {
            props: config.clone(),
            variable_keys: Default::default(),
            redactor: Redactor::default(),
        })
    }
}

/// The worker, its connector instances and its task slots.
pub struct Herder {
    worker: Worker,
    connectors: BTreeMap<String, ConnectorInstance>,
    tasks: BTreeMap<TaskId, TaskSlot>,
}

impl Herder {
    pub fn new(worker: Worker) -> Herder {
        Herder {
            worker,
            connectors: BTreeMap::new(),
            tasks: BTreeMap::new(),
        }
    }

    pub fn worker(&self) -> &Worker {
        &self.worker
    }

    /// The requests of the connectors this herder runs (taken once).
    pub fn take_connector_events(
        &mut self,
    ) -> Option<tokio::sync::mpsc::UnboundedReceiver<ConnectorEvent>> {
        self.worker.take_connector_events()
    }

    pub fn connector(&self, name: &str) -> Option<&ConnectorInstance> {
        self.connectors.get(name)
    }

    pub fn connector_names(&self) -> impl Iterator<Item = &String> {
        self.connectors.keys()
    }

    /// Installs a (re)loaded connector; the instance it replaces stops.
    /// Its resolved values are never logged from here on.
    pub async fn install(&mut self, instance: ConnectorInstance) {
        self.worker.hide_secrets(&instance.redactor);
        let name = instance.name().to_owned();
        if let Some(mut old) = self.connectors.insert(name, instance) {
            old.stop().await;
        }
    }

    /// Stops and forgets a connector's instance (its tasks are the
    /// targets' business).
    pub async fn remove(&mut self, name: &str) {
        if let Some(mut old) = self.connectors.remove(name) {
            old.stop().await;
        }
    }

    /// Stops a connector's instance but keeps it loaded (STOPPED, or no
    /// longer placed on this worker).
    pub async fn stop_instance(&mut self, name: &str) {
        if let Some(instance) = self.connectors.get_mut(name) {
            instance.stop().await;
        }
    }

    /// Starts connector `name` if needed and returns its task configs
    /// (`None`: not loaded here). An error is its FAILED trace.
    pub async fn task_configs(&mut self, name: &str) -> Option<Result<Vec<Props>, String>> {
        let instance = self.connectors.get_mut(name)?;
        Some(instance.task_configs(&self.worker).await)
    }

    /// A running connector's request through its context, for the adapter
    /// to act on: one that asked to reconfigure computes its task configs
    /// again when next asked; one that raised an error is FAILED until
    /// restarted (its trace scrubbed). Events of runs stopped since are
    /// dropped (`None`).
    pub fn on_connector_event(&mut self, event: ConnectorEvent) -> Option<ConnectorEvent> {
        let instance = self
            .connectors
            .get_mut(event.connector())
            .filter(|c| c.is_started())?;
        Some(match event {
            ConnectorEvent::Reconfigure { connector } => {
                instance.computed = None;
                ConnectorEvent::Reconfigure { connector }
            }
            ConnectorEvent::Failed { connector, trace } => {
                let trace = instance.redactor.redact(&trace);
                instance.failed = Some(trace.clone());
                ConnectorEvent::Failed { connector, trace }
            }
        })
    }

    /// Brings every task in line with `targets` (a task without one is
    /// not wanted here): stops what must stop, starts what may start, and
    /// returns the statuses to publish.
    pub async fn reconcile(
        &mut self,
        targets: &BTreeMap<TaskId, TaskTarget>,
        resolver: &mut impl TaskResolver,
    ) -> Vec<TaskReport> {
        let mut ids: Vec<TaskId> = self.tasks.keys().cloned().collect();
        ids.extend(
            targets
                .keys()
                .filter(|id| !self.tasks.contains_key(*id))
                .cloned(),
        );
        let mut reports = Vec::new();
        for id in ids {
            let target = targets.get(&id);
            match decide(self.tasks.get(&id), target) {
                Decision::Keep => {}
                Decision::Stop(state) => {
                    self.stop_task(&id, state);
                    reports.push(TaskReport::new(&id, state, None));
                }
                Decision::Report(state) => reports.push(TaskReport::new(&id, state, None)),
                Decision::Forget(state) => {
                    self.tasks.remove(&id);
                    reports.extend(state.map(|s| TaskReport::new(&id, s, None)));
                }
                Decision::Start => {
                    let Some(TaskTarget::Run { config, restarts }) = target else {
                        unreachable!("decide starts only tasks that are to run")
                    };
                    if let Some(report) = self.start_task(&id, config, *restarts, resolver).await {
                        reports.push(report);
                    }
                }
            }
        }
        reports
    }

    /// Asks a running task to stop; its metrics show `state` meanwhile
    /// (set before it ends, so a paused task keeps them).
    fn stop_task(&mut self, id: &TaskId, state: State) {
        if let Some(TaskSlot::Running(run)) = self.tasks.remove(id) {
            metrics::set_task_status(id, state.into());
            self.worker.stop_task(id);
            self.tasks.insert(id.clone(), TaskSlot::Stopping(run));
        }
    }

    /// Starts one task; `None` while its connector is not loaded here.
    async fn start_task(
        &mut self,
        id: &TaskId,
        config: &Props,
        restarts: u32,
        resolver: &mut impl TaskResolver,
    ) -> Option<TaskReport> {
        self.connectors.get(&id.connector)?;
        let resolved = resolver.resolve(id, config).await;
        let instance = self.connectors.get(&id.connector)?;
        let started = resolved.and_then(|resolved| {
            let redactor = instance.redactor.merged(&resolved.redactor);
            self.worker
                .start_task(
                    id.task,
                    &instance.validated,
                    &instance.connector,
                    resolved.props,
                )
                .map(|()| redactor.clone())
                .map_err(|e| redactor.redact(&e.to_string()))
        });
        Some(match started {
            Ok(redactor) => {
                self.worker.hide_secrets(&redactor);
                self.tasks.insert(
                    id.clone(),
                    TaskSlot::Running(TaskRun {
                        config: config.clone(),
                        restarts,
                        redactor,
                    }),
                );
                TaskReport::new(id, State::Running, None)
            }
            Err(trace) => {
                tracing::error!(task = %id, error = %trace, "task failed to start");
                self.tasks.insert(
                    id.clone(),
                    TaskSlot::Failed {
                        restarts,
                        config: config.clone(),
                    },
                );
                TaskReport::new(id, State::Failed, Some(trace))
            }
        })
    }

    /// Waits for the next task run to end; `None` when none runs.
    pub async fn next_exit(&mut self) -> Option<(TaskId, TaskState)> {
        self.worker.next_exit().await
    }

    /// A task run ended: a failed one is FAILED (trace scrubbed) until
    /// restarted; a stopped one was reported when it was asked to stop,
    /// and one that ended unasked is UNASSIGNED. Reconcile next, so what
    /// waited for it starts.
    pub fn on_exit(&mut self, id: &TaskId, state: TaskState) -> Option<TaskReport> {
        let slot = self.tasks.remove(id);
        let run = match &slot {
            Some(TaskSlot::Running(run) | TaskSlot::Stopping(run)) => Some(run),
            _ => None,
        };
        match state {
            TaskState::Failed(trace) => {
                let trace = run.map_or(trace.clone(), |r| r.redactor.redact(&trace));
                let (restarts, config) =
                    run.map_or((0, Props::new()), |r| (r.restarts, r.config.clone()));
                self.tasks
                    .insert(id.clone(), TaskSlot::Failed { restarts, config });
                Some(TaskReport::new(id, State::Failed, Some(trace)))
            }
            // A newer run of it fenced this one: nothing to report. It
            // starts again only if the next reconcile, made after reading
            // the newest assignment, still wants it here; a worker that
            // fell behind (frozen, cut off) learns there that it moved, so
            // it never fences the run that took over.
            TaskState::Fenced(_) => None,
            // Started again by the next reconcile (no slot, still wanted).
            TaskState::Restarting(trace) => match slot {
                Some(TaskSlot::Running(r)) => Some(TaskReport::new(
                    id,
                    State::Restarting,
                    Some(r.redactor.redact(&trace)),
                )),
                _ => None,
            },
            _ => match slot {
                Some(TaskSlot::Running(_)) => Some(TaskReport::new(id, State::Unassigned, None)),
                _ => None,
            },
        }
    }

    /// Runs of connector `name`'s tasks that have not ended (running or
    /// still committing).
    pub fn live_tasks(&self, name: &str) -> usize {
        self.tasks
            .iter()
            .filter(|(id, slot)| {
                id.connector == name && matches!(slot, TaskSlot::Running(_) | TaskSlot::Stopping(_))
            })
            .count()
    }

    /// Tasks running, and tasks asked to stop that are still committing.
    pub fn task_counts(&self) -> (usize, usize) {
        let running = self
            .tasks
            .values()
            .filter(|s| matches!(s, TaskSlot::Running(_)))
            .count();
        let stopping = self
            .tasks
            .values()
            .filter(|s| matches!(s, TaskSlot::Stopping(_)))
            .count();
        (running, stopping)
    }

    /// Whether [`Self::reconcile`] with `targets` would start a task (a
    /// distributed worker re-reads committed offsets first).
    pub fn would_start(&self, targets: &BTreeMap<TaskId, TaskTarget>) -> bool {
        targets
            .iter()
            .any(|(id, t)| decide(self.tasks.get(id), Some(t)) == Decision::Start)
    }

    /// Stops every task gracefully (within `task.shutdown.graceful.timeout.ms`)
    /// and every connector instance. Returns the task ends it saw; how
    /// every task run last ended is [`Self::final_states`].
    pub async fn shutdown(&mut self) -> Vec<(TaskId, TaskState)> {
        let exits = self.worker.drain().await;
        for instance in self.connectors.values_mut() {
            instance.stop().await;
        }
        self.tasks.clear();
        exits
    }

    /// How each task run this herder started last ended (or `Running`).
    pub fn final_states(&self) -> &BTreeMap<TaskId, TaskState> {
        self.worker.states()
    }
}

/// The targets of a connector's tasks in `target` state with these task
/// configs: each runs (STARTED) or is paused (PAUSED); a STOPPED
/// connector has no tasks. `restarts` holds the restarts asked per task.
pub fn connector_task_targets<'a>(
    name: &str,
    target: crate::storage::config_topic::TargetState,
    configs: &'a [Props],
    restarts: &'a BTreeMap<u32, u32>,
) -> impl Iterator<Item = (TaskId, TaskTarget)> + 'a {
    use crate::storage::config_topic::TargetState as S;
    let name = name.to_owned();
    configs
        .iter()
        .enumerate()
        .filter(move |_| target != S::Stopped)
        .map(move |(n, config)| {
            let id = TaskId {
                connector: name.clone(),
                task: n,
            };
            let wanted = match target {
                S::Paused => TaskTarget::Paused,
                _ => TaskTarget::Run {
                    config: config.clone(),
                    restarts: restarts.get(&(n as u32)).copied().unwrap_or(0),
                },
            };
            (id, wanted)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn config(v: u8) -> Props {
        [("v".to_owned(), v.to_string())].into()
    }

    fn target() -> impl Strategy<Value = Option<TaskTarget>> {
        prop_oneof![
            Just(None),
            Just(Some(TaskTarget::Pending)),
            Just(Some(TaskTarget::Paused)),
            Just(Some(TaskTarget::Stopped)),
            (0u8..3, 0u32..3).prop_map(|(c, r)| Some(TaskTarget::Run {
                config: config(c),
                restarts: r
            })),
        ]
    }

    fn slot() -> impl Strategy<Value = Option<TaskSlot>> {
        let run = (0u8..3, 0u32..3).prop_map(|(c, r)| TaskRun {
            config: config(c),
            restarts: r,
            redactor: Redactor::default(),
        });
        prop_oneof![
            Just(None),
            run.clone().prop_map(|r| Some(TaskSlot::Running(r))),
            run.prop_map(|r| Some(TaskSlot::Stopping(r))),
            (0u8..3, 0u32..3).prop_map(|(c, r)| Some(TaskSlot::Failed {
                restarts: r,
                config: config(c)
            })),
        ]
    }

    proptest! {
        /// Only a task that is to run starts, never while a run of it is
        /// still ending; only a running task is asked to stop.
        #[test]
        fn starts_and_stops_only_what_may(slot in slot(), target in target()) {
            match decide(slot.as_ref(), target.as_ref()) {
                Decision::Start => {
                    let to_run = matches!(target, Some(TaskTarget::Run { .. }));
                    let may = matches!(slot, None | Some(TaskSlot::Failed { .. }));
                    prop_assert!(to_run && may);
                }
                Decision::Stop(_) => prop_assert!(matches!(slot, Some(TaskSlot::Running(_)))),
                Decision::Report(_) => prop_assert!(slot.is_none()),
                Decision::Forget(_) => {
                    let failed = matches!(slot, Some(TaskSlot::Failed { .. }));
                    prop_assert!(failed);
                }
                Decision::Keep => {}
            }
        }

        /// A running task keeps running exactly while it is wanted with the
        /// config it started with and no restart it has not seen.
        #[test]
        fn a_running_task_restarts_on_a_new_config_or_restart(c in 0u8..3, r in 0u32..3, target in target()) {
            let slot = TaskSlot::Running(TaskRun { config: config(c), restarts: r, redactor: Redactor::default() });
            let keep = matches!(&target, Some(TaskTarget::Run { config: wanted, restarts }) if *wanted == config(c) && *restarts <= r);
            prop_assert_eq!(decide(Some(&slot), target.as_ref()) == Decision::Keep, keep);
        }

        /// Applying the decisions settles: once stops have ended and starts
        /// succeeded, a task needs at most one more step, then nothing.
        #[test]
        fn decisions_settle(slot in slot(), target in target()) {
            let step = |slot: Option<TaskSlot>| {
                let decision = decide(slot.as_ref(), target.as_ref());
                let next = match decision {
                    // A run that was stopping has ended by the next pass.
                    Decision::Keep => match slot {
                        Some(TaskSlot::Stopping(_)) => None,
                        other => other,
                    },
                    Decision::Stop(_) | Decision::Report(_) | Decision::Forget(_) => None,
                    Decision::Start => match &target {
                        Some(TaskTarget::Run { config, restarts }) => Some(TaskSlot::Running(TaskRun {
                            config: config.clone(),
                            restarts: *restarts,
                            redactor: Redactor::default(),
                        })),
                        _ => unreachable!("only a task to run starts"),
                    },
                };
                (decision, next)
            };
            let (_, after_one) = step(slot.clone());
            let (_, after_two) = step(after_one);
            let (last, _) = step(after_two);
            prop_assert!(matches!(last, Decision::Keep | Decision::Report(_)), "{:?} ends with {:?}", slot, last);
        }
    }

    #[test]
    fn a_failed_task_waits_for_a_restart_or_a_new_config() {
        let failed = TaskSlot::Failed {
            restarts: 1,
            config: config(0),
        };
        let run = |c, r| TaskTarget::Run {
            config: config(c),
            restarts: r,
        };
        assert_eq!(decide(Some(&failed), Some(&run(0, 1))), Decision::Keep);
        assert_eq!(
            decide(Some(&failed), Some(&TaskTarget::Paused)),
            Decision::Keep
        );
        assert_eq!(decide(Some(&failed), Some(&run(0, 2))), Decision::Start);
        assert_eq!(decide(Some(&failed), Some(&run(1, 1))), Decision::Start);
        assert_eq!(
            decide(Some(&failed), Some(&TaskTarget::Stopped)),
            Decision::Forget(Some(State::Stopped))
        );
        assert_eq!(decide(Some(&failed), None), Decision::Forget(None));
    }

    #[test]
    fn targets_follow_the_connector_state() {
        use crate::storage::config_topic::TargetState;
        let configs = vec![config(0), config(1)];
        let restarts = [(1, 3)].into();
        let started: Vec<_> =
            connector_task_targets("c", TargetState::Started, &configs, &restarts).collect();
        assert_eq!(
            started[1].1,
            TaskTarget::Run {
                config: config(1),
                restarts: 3
            }
        );
        assert!(
            connector_task_targets("c", TargetState::Paused, &configs, &restarts)
                .all(|(_, t)| t == TaskTarget::Paused)
        );
        assert_eq!(
            connector_task_targets("c", TargetState::Stopped, &configs, &restarts).count(),
            0
        );
    }
}
