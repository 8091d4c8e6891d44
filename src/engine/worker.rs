//! A worker: starts connectors' tasks with their Kafka clients and
//! converters, follows their state, and stops them all gracefully.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::Consumer;
use rdkafka::producer::Producer;
use rdkafka::ClientConfig;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::connector_config::{common_topics, ValidatedConnector, TOPICS_REGEX};
use super::connector_context::{ConnectorEvent, ConnectorEvents, HostedConnector};
use super::dlq::DeadLetterQueue;
use super::errors::{chain_of, converter_class_name, ErrorConfig, ErrorHandler};
use super::kafka::{admin_config, consumer_config, producer_config, with_statistics};
use super::kafka_security::SecurityError;
use super::metrics::{self, Status};
use super::sink::{ErrantReports, SinkConsumer, SinkContext, SinkTaskRunner};
use super::source::{AckContext, ExactlyOnce, SourceProducer, SourceTaskRunner};
use super::task::{TaskContext, TaskEnd, TaskFailure, TaskId};
use super::topic_creation::{TopicCreationGroups, TopicCreator};
use super::transactions::{
    classify, transactional_id, Boundary, TxnFailure, WorkerTransactionContext,
};
use super::worker_config::{WorkerConfig, KEY_CONVERTER, VALUE_CONVERTER};
use crate::connect::{
    ConnectorKind, Converter, PluginMetricsRegistry, Props, SinkTaskContext, SourceTaskContext,
};
use crate::connectors::AnyConnector;
use crate::converters;
use crate::storage::connector_offsets::{own_topic, LayeredOffsetStore, CONNECTOR_OFFSETS_TOPIC};
use crate::storage::OffsetStore;
use crate::transforms::TransformChain;

/// A task's loop ended: a stopped task's metrics go (Java's `destroyed`),
/// a failed one keeps them with status `failed`, and one stopped for a
/// pause (status set to `paused` before it was stopped) keeps them with
/// status `paused`, as a paused task stays on a Java worker.
fn task_ended(task_metrics: &Arc<metrics::TaskMetrics>, result: &Result<(), TaskFailure>) {
    match result {
        Ok(()) if task_metrics.status() == Status::Paused => {}
        Ok(()) => metrics::unregister_task(task_metrics),
        Err(_) => task_metrics.set_status(Status::Failed),
    }
}

/// An exactly-once task's transactional id and boundary.
struct ExactlyOncePlan {
    transactional_id: String,
    boundary: Boundary,
    transaction_timeout: Duration,
}

/// Readies an exactly-once task before it starts: initialises its
/// producer's transactions (which fences any older producer with its id and
/// ends the transaction that one left open), then reads the offsets
/// committed until then, so the task resumes after the last transaction
/// that committed. Returns the offset topic and its partition count.
async fn prepare_transactions(
    id: &TaskId,
    producer: &SourceProducer,
    store: &Arc<dyn OffsetStore>,
    plan: &ExactlyOncePlan,
) -> Result<(String, i32), TaskFailure> {
    let topic = store.topic().unwrap_or_default().to_owned();
    let (producer, store, tid) = (
        producer.clone(),
        store.clone(),
        plan.transactional_id.clone(),
    );
    let task = id.clone();
    tokio::task::spawn_blocking(move || {
        let timeout = Duration::from_secs(60);
        producer.init_transactions(timeout).map_err(|e| {
            match classify(&e, producer.client().fatal_error()) {
                TxnFailure::Fenced(reason) => TaskFailure::fenced(format!(
                    "task {task} was fenced out while initialising transactions ({tid}): {reason}"
                )),
                _ => TaskFailure::new(format!(
                    "task {task}: initialising transactions for transactional id {tid} failed: {e}"
                )),
            }
        })?;
        let metadata = producer
            .client()
            .fetch_metadata(Some(&topic), timeout)
            .map_err(|e| TaskFailure::new(format!("task {task}: reading the offset topic {topic}'s metadata failed: {e}")))?;
        let partitions = metadata
            .topics()
            .iter()
            .find(|t| t.name() == topic)
            .map_or(0, |t| t.partitions().len() as i32);
        if partitions == 0 {
            return Err(TaskFailure::new(format!(
                "task {task}: the offset topic {topic} has no partitions"
            )));
        }
        store
            .refresh()
            .map_err(|e| TaskFailure::new(format!("task {task}: {e}")))?;
        tracing::info!(task = %task, transactional_id = %tid, "transactions initialised; committed offsets read");
        Ok((topic, partitions))
    })
    .await
    .map_err(|e| TaskFailure::new(format!("task {id}: initialising transactions panicked: {e}")))?
}

/// What a finished task future yields through the join set.
type Joined = Result<(tokio::task::Id, (TaskId, Result<(), TaskFailure>)), tokio::task::JoinError>;

/// What a task runs its records through besides the task itself.
struct Pipeline {
    transforms: Option<TransformChain>,
    error_config: ErrorConfig,
    errors: ErrorHandler,
}

/// Connect's task states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskState {
    Running,
    Failed(String),
    Stopped,
    /// An exactly-once task fenced by a newer run of it (not a failure).
    Fenced(String),
    /// An exactly-once task whose transaction was aborted, to start again.
    Restarting(String),
}

/// Something went wrong starting a connector or task.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("connector \"{connector}\": {message}")]
    Connector { connector: String, message: String },
    #[error("task {task}: creating its Kafka client failed: {source}")]
    Client {
        task: TaskId,
        #[source]
        source: rdkafka::error::KafkaError,
    },
}

impl WorkerError {
    /// A failure of connector `name`'s configuration (its trace).
    fn connector(name: &str, message: impl std::fmt::Display) -> WorkerError {
        WorkerError::Connector {
            connector: name.to_owned(),
            message: message.to_string(),
        }
    }
}

pub struct Worker {
    config: WorkerConfig,
    bootstrap: String,
    offsets: Arc<dyn OffsetStore>,
    shutdown: CancellationToken,
    tasks: JoinSet<(TaskId, Result<(), TaskFailure>)>,
    /// Which task each spawned future runs, to name a task that panicked.
    task_ids: HashMap<tokio::task::Id, TaskId>,
    /// Stop tokens of the tasks still running.
    stops: BTreeMap<TaskId, CancellationToken>,
    states: BTreeMap<TaskId, TaskState>,
    /// Resolved config-provider values, scrubbed from logged traces.
    redactor: crate::connect::Redactor,
    /// The metrics connectors and tasks define themselves.
    plugin_metrics: Arc<PluginMetricsRegistry>,
    /// Where connectors' requests go; the herder takes the receiver.
    connector_events: ConnectorEvents,
    connector_rx: Option<tokio::sync::mpsc::UnboundedReceiver<ConnectorEvent>>,
}

impl Worker {
    /// Adds resolved config-provider values that must never be logged.
    pub fn hide_secrets(&mut self, secrets: &crate::connect::Redactor) {
        self.redactor = self.redactor.merged(secrets);
    }

    pub fn new(config: WorkerConfig, bootstrap: String, offsets: Arc<dyn OffsetStore>) -> Worker {
        let plugin_metrics = Arc::new(PluginMetricsRegistry::default());
        super::plugin_metrics::expose(&plugin_metrics);
        let (connector_events, connector_rx) = ConnectorEvents::new(plugin_metrics.clone());
        Worker {
            plugin_metrics,
            connector_events,
            connector_rx: Some(connector_rx),
            config,
            bootstrap,
            offsets,
            shutdown: CancellationToken::new(),
            tasks: JoinSet::new(),
            task_ids: HashMap::new(),
            stops: BTreeMap::new(),
            redactor: crate::connect::Redactor::new(Vec::new()),
            states: BTreeMap::new(),
        }
    }

    /// The context a run of connector `name` starts with.
    pub fn connector_context(&self, name: &str) -> Arc<HostedConnector> {
        self.connector_events.context(name)
    }

    /// The requests of the connectors this worker's herder runs (taken
    /// once, by the herder).
    pub fn take_connector_events(
        &mut self,
    ) -> Option<tokio::sync::mpsc::UnboundedReceiver<ConnectorEvent>> {
        self.connector_rx.take()
    }

    pub fn states(&self) -> &BTreeMap<TaskId, TaskState> {
        &self.states
    }

    /// The converter for `key.converter`/`value.converter`: the connector's
    /// override if it sets one, else the worker's, each with its settings.
    fn converter(
        &self,
        props: &Props,
        prefix: &str,
        is_key: bool,
    ) -> Result<Arc<dyn Converter>, String> {
        let source = if props.get(prefix).is_some_and(|c| !c.trim().is_empty()) {
            props
        } else {
            self.config.props()
        };
        converters::from_props(source, prefix, is_key)
            .map(Arc::from)
            .map_err(|e| format!("invalid configuration for \"{}\": {}", e.key, e.message))
    }

    /// Whether this worker runs on standalone mode's embedded in-memory
    /// cluster (its config names no brokers).
    fn embedded(&self) -> bool {
        self.config.bootstrap_servers().is_none()
    }

    /// The configured converter class (connector override, else worker),
    /// as Java names it, for error reports.
    fn converter_class(&self, props: &Props, prefix: &str) -> String {
        let configured = props
            .get(prefix)
            .filter(|c| !c.trim().is_empty())
            .or_else(|| self.config.props().get(prefix))
            .map(String::as_str)
            .unwrap_or("");
        converter_class_name(configured)
    }

    /// The transform chain and error handling of one task.
    fn pipeline(
        &self,
        id: &TaskId,
        validated: &ValidatedConnector,
        kind: ConnectorKind,
    ) -> Result<Pipeline, String> {
        let transforms = chain_of(&validated.props).map_err(|e| e.to_string())?;
        let error_config = ErrorConfig::from_props(&validated.props, kind)
            .map_err(|e| format!("invalid configuration for \"{}\": {}", e.key, e.message))?;
        let errors = ErrorHandler::new(
            id.clone(),
            &error_config,
            &validated.props,
            self.converter_class(&validated.props, KEY_CONVERTER),
            self.converter_class(&validated.props, VALUE_CONVERTER),
        );
        Ok(Pipeline {
            transforms,
            error_config,
            errors,
        })
    }

    /// Starts task `n` of a connector with its task config.
    pub fn start_task(
        &mut self,
        n: usize,
        validated: &ValidatedConnector,
        connector: &AnyConnector,
        task_props: Props,
    ) -> Result<(), WorkerError> {
        let id = TaskId {
            connector: validated.name.clone(),
            task: n,
        };
        // Fresh metrics for this run; a task that cannot start has none.
        let task_metrics = metrics::register_task(&id, connector.kind());
        let started = self.try_start_task(id, validated, connector, task_props);
        metrics::task_startup(started.is_ok());
        if started.is_err() {
            metrics::unregister_task(&task_metrics);
        }
        started
    }

    fn try_start_task(
        &mut self,
        id: TaskId,
        validated: &ValidatedConnector,
        connector: &AnyConnector,
        task_props: Props,
    ) -> Result<(), WorkerError> {
        let conn_err = |message: String| WorkerError::Connector {
            connector: validated.name.clone(),
            message,
        };
        let key_converter = self
            .converter(&validated.props, KEY_CONVERTER, true)
            .map_err(conn_err)?;
        let value_converter = self
            .converter(&validated.props, VALUE_CONVERTER, false)
            .map_err(conn_err)?;
        let stop = self.shutdown.child_token();
        let ctx = TaskContext {
            id: id.clone(),
            bootstrap: self.bootstrap.clone(),
            key_converter,
            value_converter,
            offset_flush_interval: self.config.offset_flush_interval(),
            offset_flush_timeout: self.config.offset_flush_timeout(),
            shutdown: stop.clone(),
        };
        let pipeline = self
            .pipeline(&id, validated, connector.kind())
            .map_err(conn_err)?;
        if let Some(e) = super::connector_config::exactly_once_errors(
            &validated.props,
            connector,
            self.config.exactly_once_source(),
        )
        .into_iter()
        .next()
        {
            return Err(conn_err(format!(
                "invalid configuration for \"{}\": {}",
                e.key, e.message
            )));
        }
        match connector {
            AnyConnector::Source(c) => {
                self.start_source(ctx, c.create_task(), task_props, validated, pipeline)?
            }
            AnyConnector::Sink(c) => {
                self.start_sink(ctx, c.create_task(), task_props, validated, pipeline)?
            }
        }
        self.stops.insert(id.clone(), stop);
        self.states.insert(id, TaskState::Running);
        Ok(())
    }

    /// Asks a task to stop gracefully (it commits its offsets first); its
    /// end is reported by [`Worker::next_exit`].
    pub fn stop_task(&mut self, id: &TaskId) {
        if let Some(stop) = self.stops.remove(id) {
            tracing::info!(task = %id, "stopping task");
            stop.cancel();
        }
    }

    /// Tasks started and not yet asked to stop.
    pub fn running_tasks(&self) -> impl Iterator<Item = &TaskId> {
        self.stops.keys()
    }

    /// Tasks whose loop has not ended yet, including those asked to stop
    /// that are still flushing and committing.
    pub fn active_tasks(&self) -> usize {
        self.tasks.len()
    }

    /// Whether a run of task `id` has not ended yet (running, or asked to
    /// stop and still flushing and committing).
    pub fn is_active(&self, id: &TaskId) -> bool {
        self.task_ids.values().any(|t| t == id)
    }

    /// Waits for the next task to end (stopped or failed) and records its
    /// state; `None` when no task runs.
    pub async fn next_exit(&mut self) -> Option<(TaskId, TaskState)> {
        loop {
            let joined = self.tasks.join_next_with_id().await?;
            if let Some(exit) = self.record(joined) {
                return Some(exit);
            }
        }
    }

    fn start_source(
        &mut self,
        ctx: TaskContext,
        mut task: Box<dyn crate::connect::SourceTask>,
        task_props: Props,
        validated: &ValidatedConnector,
        pipeline: Pipeline,
    ) -> Result<(), WorkerError> {
        let security = |e: SecurityError| WorkerError::connector(&validated.name, e);
        let cfg: ClientConfig = with_statistics(
            producer_config(
                &self.bootstrap,
                self.config.props(),
                &validated.props,
                &validated.name,
            )
            .map_err(security)?,
        );
        let task_metrics = metrics::task_metrics(&ctx.id, ConnectorKind::Source);
        let principal = super::kafka_security::principal(|k| cfg.get(k).map(str::to_owned));
        let exactly_once = self.exactly_once(&ctx, validated)?;
        let mut cfg = cfg;
        let mut exactly_once = exactly_once;
        if let Some(eos) = &mut exactly_once {
            // librdkafka wants a record's delivery timeout within the
            // transaction's (Java's producer makes the same demand of
            // delivery.timeout.ms).
            let txn_timeout: u64 = cfg
                .get("transaction.timeout.ms")
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(60_000);
            let message_timeout: u64 = cfg
                .get("message.timeout.ms")
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(300_000);
            eos.transaction_timeout = Duration::from_millis(txn_timeout);
            cfg.set("transactional.id", &eos.transactional_id)
                .set("enable.idempotence", "true")
                .set("acks", "all")
                .set("transaction.timeout.ms", txn_timeout.to_string())
                .set(
                    "message.timeout.ms",
                    message_timeout.min(txn_timeout).to_string(),
                );
        }
        let producer: SourceProducer = cfg
            .create_with_context(
                AckContext::new(ctx.id.to_string(), &pipeline.error_config)
                    .with_metrics(task_metrics.clone())
                    .with_principal(principal)
                    .with_transactional_id(
                        exactly_once.as_ref().map(|e| e.transactional_id.clone()),
                    ),
            )
            .map_err(|source| WorkerError::Client {
                task: ctx.id.clone(),
                source,
            })?;
        // KIP-158: only when both the worker and the connector ask for it.
        // The embedded cluster (librdkafka's mock) cannot create topics: it
        // auto-creates them on first use.
        let topics = if self.config.topic_creation_enable() && !self.embedded() {
            TopicCreationGroups::parse(&validated.props)
                .map_err(|e| WorkerError::Connector {
                    connector: validated.name.clone(),
                    message: format!("invalid configuration for \"{}\": {}", e.key, e.message),
                })?
                .map(|groups| {
                    admin_config(&self.bootstrap, self.config.props(), &validated.props)
                        .map(|admin| TopicCreator::new(ctx.id.to_string(), groups, admin))
                        .map_err(security)
                })
                .transpose()?
        } else {
            None
        };
        let store = self.offsets.clone();
        // KIP-618: the connector's own offset topic, over the worker's.
        let own_offsets = own_topic(&validated.props, store.as_ref())
            .map(|topic| -> Result<_, WorkerError> {
                let client =
                    super::kafka::worker_client_settings(self.config.props()).map_err(security)?;
                Ok((
                    topic,
                    client,
                    self.config.props().clone(),
                    self.bootstrap.clone(),
                ))
            })
            .transpose()?;
        let connector = validated.name.clone();
        let id = ctx.id.clone();
        let tracked = id.clone();
        let plugin_metrics = self.plugin_metrics.clone();
        let own_metrics = self.task_plugin_metrics(&id);
        let transaction_context = exactly_once
            .as_ref()
            .filter(|e| e.boundary == Boundary::Connector)
            .map(|_| WorkerTransactionContext::new());
        let handle = self.tasks.spawn(async move {
            let span_id = id.clone();
            let result = async {
                let store: Arc<dyn OffsetStore> = match own_offsets {
                    Some((topic, client, worker_props, bootstrap)) => Arc::new(
                        LayeredOffsetStore::open(&bootstrap, &worker_props, &client, &topic, store)
                            .await
                            .map_err(|e| {
                                TaskFailure::new(format!(
                                    "task {span_id}: the connector's offset topic ({CONNECTOR_OFFSETS_TOPIC}={topic}): {e}"
                                ))
                            })?,
                    ),
                    None => store,
                };
                let reader = Arc::new(crate::storage::offsets::ConnectorOffsets {
                    connector,
                    store: store.clone(),
                });
                let mut task_ctx = SourceTaskContext::new(reader, own_metrics.clone());
                if let Some(c) = &transaction_context {
                    task_ctx = task_ctx.with_transactions(c.clone());
                }
                let eos = match exactly_once {
                    Some(plan) => {
                        let (topic, partitions) =
                            prepare_transactions(&span_id, &producer, &store, &plan).await?;
                        Some(ExactlyOnce::new(
                            plan.boundary,
                            transaction_context,
                            topic,
                            partitions,
                            plan.transaction_timeout,
                        ))
                    }
                    None => None,
                };
                if ctx.shutdown.is_cancelled() {
                    return Ok(());
                }
                task.start(task_ctx, &task_props).await?;
                tracing::info!(task = %span_id, exactly_once = eos.is_some(), "source task RUNNING");
                task_metrics.set_status(Status::Running);
                SourceTaskRunner::new(ctx, task, producer, store)
                    .with_transforms(pipeline.transforms)
                    .with_errors(pipeline.errors)
                    .with_topic_creation(topics)
                    .with_exactly_once(eos)
                    .run()
                    .await
            }
            .await;
            plugin_metrics.remove(&own_metrics);
            task_ended(&task_metrics, &result);
            (id, result)
        });
        self.task_ids.insert(handle.id(), tracked);
        Ok(())
    }

    /// How task `ctx.id` delivers exactly once, or `None` when the worker
    /// does not (`exactly.once.source.support` not `enabled`).
    fn exactly_once(
        &self,
        ctx: &TaskContext,
        validated: &ValidatedConnector,
    ) -> Result<Option<ExactlyOncePlan>, WorkerError> {
        if !self.config.exactly_once_source() {
            return Ok(None);
        }
        let boundary = Boundary::of(&validated.props, self.config.offset_flush_interval())
            .map_err(|e| WorkerError::connector(&validated.name, e))?;
        if self.offsets.topic().is_none() {
            return Err(WorkerError::connector(
                &validated.name,
                "exactly-once source support needs the offsets in a Kafka topic (offset.storage.topic), not a file",
            ));
        }
        Ok(Some(ExactlyOncePlan {
            transactional_id: transactional_id(
                &self.config.transactional_group(),
                &ctx.id.connector,
                ctx.id.task,
            ),
            boundary,
            // Set from the producer's config when it is made.
            transaction_timeout: Duration::from_secs(60),
        }))
    }

    fn start_sink(
        &mut self,
        ctx: TaskContext,
        mut task: Box<dyn crate::connect::SinkTask>,
        task_props: Props,
        validated: &ValidatedConnector,
        pipeline: Pipeline,
    ) -> Result<(), WorkerError> {
        let cfg = with_statistics(
            consumer_config(
                &self.bootstrap,
                self.config.props(),
                &validated.props,
                &validated.name,
                ctx.id.task,
            )
            .map_err(|e| WorkerError::connector(&validated.name, e))?,
        );
        let (mut context, events) = SinkContext::new(ctx.id.to_string());
        context.principal = super::kafka_security::principal(|k| cfg.get(k).map(str::to_owned));
        let consumer: SinkConsumer =
            cfg.create_with_context(context)
                .map_err(|source| WorkerError::Client {
                    task: ctx.id.clone(),
                    source,
                })?;
        let regex = validated
            .props
            .get(TOPICS_REGEX)
            .map(|r| r.trim())
            .unwrap_or("");
        let subscription: Vec<String> = if regex.is_empty() {
            common_topics(&validated.props)
        } else {
            // librdkafka treats a subscription starting with ^ as a regex.
            vec![if regex.starts_with('^') {
                regex.to_owned()
            } else {
                format!("^{regex}")
            }]
        };
        let topics: Vec<&str> = subscription.iter().map(String::as_str).collect();
        consumer
            .subscribe(&topics)
            .map_err(|source| WorkerError::Client {
                task: ctx.id.clone(),
                source,
            })?;
        let id = ctx.id.clone();
        let tracked = id.clone();
        let bootstrap = self.bootstrap.clone();
        let embedded = self.embedded();
        let worker_props = self.config.props().clone();
        let connector_props = validated.props.clone();
        let task_metrics = metrics::task_metrics(&ctx.id, ConnectorKind::Sink);
        let plugin_metrics = self.plugin_metrics.clone();
        let own_metrics = self.task_plugin_metrics(&id);
        let reports = Arc::new(ErrantReports::new(pipeline.error_config.tolerance));
        let (task_ctx, control) = SinkTaskContext::new(own_metrics.clone(), Some(reports.clone()));
        let handle = self.tasks.spawn(async move {
            let span_id = id.clone();
            let result = async {
                // Java sets up the dead letter queue (topic included) before
                // the task starts.
                let dlq = match &pipeline.error_config.dlq {
                    Some(cfg) => Some(
                        DeadLetterQueue::open(
                            &bootstrap,
                            &worker_props,
                            &connector_props,
                            &span_id,
                            cfg,
                            !embedded,
                        )
                        .await?,
                    ),
                    None => None,
                };
                task.start(task_ctx, &task_props).await?;
                tracing::info!(task = %span_id, "sink task RUNNING");
                task_metrics.set_status(Status::Running);
                SinkTaskRunner::new(ctx, task, consumer, events)
                    .with_transforms(pipeline.transforms)
                    .with_errors(pipeline.errors.with_dlq(dlq))
                    .with_context(control, Some(reports))
                    .run()
                    .await
            }
            .await;
            plugin_metrics.remove(&own_metrics);
            task_ended(&task_metrics, &result);
            (id, result)
        });
        self.task_ids.insert(handle.id(), tracked);
        Ok(())
    }

    /// The metrics handle of one run of task `id`.
    fn task_plugin_metrics(&self, id: &TaskId) -> crate::connect::PluginMetrics {
        self.plugin_metrics.handle(&[
            ("connector", id.connector.as_str()),
            ("task", id.task.to_string().as_str()),
        ])
    }

    /// Stops every task gracefully: waits up to
    /// `task.shutdown.graceful.timeout.ms` for them to commit and end, then
    /// abandons the rest. Returns the ends it saw.
    pub async fn drain(&mut self) -> Vec<(TaskId, TaskState)> {
        self.shutdown.cancel();
        tracing::info!("stopping tasks");
        let deadline = tokio::time::Instant::now()
            + self
                .config
                .task_shutdown_timeout()
                .max(Duration::from_millis(100));
        let mut exits = Vec::new();
        while !self.tasks.is_empty() {
            match tokio::time::timeout_at(deadline, self.tasks.join_next_with_id()).await {
                Ok(Some(joined)) => exits.extend(self.record(joined)),
                Ok(None) => break,
                Err(_) => {
                    tracing::warn!(remaining = self.tasks.len(), "tasks did not stop within task.shutdown.graceful.timeout.ms; abandoning them");
                    self.tasks.abort_all();
                    break;
                }
            }
        }
        exits
    }

    /// Records how a task future ended; `None` for an earlier run of a
    /// task that runs again (its end changes nothing).
    fn record(&mut self, joined: Joined) -> Option<(TaskId, TaskState)> {
        let (tid, id, state) = match joined {
            Ok((tid, (id, Ok(())))) => {
                tracing::info!(task = %id, "task stopped");
                (tid, id, TaskState::Stopped)
            }
            Ok((tid, (id, Err(failure)))) => {
                // The trace may quote resolved config-provider values.
                let trace = self.redactor.redact(&failure.message);
                match failure.end {
                    TaskEnd::Failed => {
                        tracing::error!(task = %id, trace = %trace, "task FAILED");
                        (tid, id, TaskState::Failed(failure.message))
                    }
                    TaskEnd::Fenced => {
                        tracing::info!(task = %id, reason = %trace, "task fenced out by a newer run of it; stopped");
                        (tid, id, TaskState::Fenced(failure.message))
                    }
                    TaskEnd::Restart => {
                        tracing::warn!(task = %id, reason = %trace, "task's transaction aborted; restarting it from the last committed offsets");
                        (tid, id, TaskState::Restarting(failure.message))
                    }
                }
            }
            Err(e) => {
                let id = self.task_ids.get(&e.id()).cloned().unwrap_or(TaskId {
                    connector: "<unknown>".into(),
                    task: 0,
                });
                tracing::error!(task = %id, error = %e, "task panicked");
                metrics::set_task_status(&id, Status::Failed);
                (e.id(), id, TaskState::Failed(format!("task panicked: {e}")))
            }
        };
        self.task_ids.remove(&tid);
        if self.task_ids.values().any(|other| *other == id) {
            // An earlier run, asked to stop, ended after the task was
            // started again: the running one keeps its stop token.
            tracing::debug!(task = %id, "an earlier run of the task ended");
            return None;
        }
        self.stops.remove(&id);
        self.states.insert(id.clone(), state.clone());
        Some((id, state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::config::props_of;
    use crate::connect::Value;
    use crate::storage::MemoryOffsetStore;

    #[test]
    fn connector_converter_overrides_the_worker_default() {
        let worker_cfg = WorkerConfig::parse(&props_of(&[
            (
                "value.converter",
                "org.apache.kafka.connect.json.JsonConverter",
            ),
            ("value.converter.schemas.enable", "false"),
        ]))
        .unwrap();
        let worker = Worker::new(
            worker_cfg,
            "b:1".into(),
            Arc::new(MemoryOffsetStore::default()),
        );
        let v = Value::from("x");

        // The worker's JSON converter, with its schemas.enable=false setting.
        let from_worker = worker
            .converter(&Props::new(), VALUE_CONVERTER, false)
            .unwrap();
        assert_eq!(
            from_worker.from_connect("t", None, &v).unwrap().unwrap(),
            b"\"x\""
        );

        // A connector's own converter wins, with its own settings.
        let conn = props_of(&[("value.converter", "StringConverter")]);
        let overridden = worker.converter(&conn, VALUE_CONVERTER, false).unwrap();
        assert_eq!(
            overridden.from_connect("t", None, &v).unwrap().unwrap(),
            b"x"
        );

        let bad = props_of(&[("value.converter", "com.acme.Nope")]);
        let err = worker
            .converter(&bad, VALUE_CONVERTER, false)
            .err()
            .unwrap();
        assert!(
            err.contains("value.converter") && err.contains("Nope"),
            "{err}"
        );
    }
}
