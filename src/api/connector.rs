//! `Connector`: one Kafka Connect connector running on a `ConnectCluster`.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::condition::Condition;
use crate::storage::config_topic::TargetState;
use crate::storage::status_topic::State;

/// Label on a Connector naming the ConnectCluster (in the same namespace)
/// that runs it, like Strimzi's `strimzi.io/cluster`.
pub const CLUSTER_LABEL: &str = "kconnect.dev/cluster";

/// Annotation asking the operator to restart the connector, like Strimzi's
/// `strimzi.io/restart`: `true` restarts the connector instance; a list of
/// `includeTasks` and `onlyFailed` (comma-separated) has the meaning of
/// Connect's `POST /connectors/{name}/restart` parameters. The operator
/// removes it once the restart was requested from the workers.
pub const RESTART_ANNOTATION: &str = "kconnect.dev/restart";

/// Annotation asking the operator to restart one task, by number, like
/// Strimzi's `strimzi.io/restart-task`.
pub const RESTART_TASK_ANNOTATION: &str = "kconnect.dev/restart-task";

/// What a [`RESTART_ANNOTATION`] asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RestartRequest {
    pub include_tasks: bool,
    pub only_failed: bool,
}

impl RestartRequest {
    /// Parses the annotation's value; the error names what is not understood.
    pub fn parse(value: &str) -> Result<RestartRequest, String> {
        let mut request = RestartRequest::default();
        for token in value.split([',', '&']).map(str::trim) {
            let (flag, on) = match token.split_once('=') {
                Some((flag, v)) => match v.trim() {
                    "true" => (flag.trim(), true),
                    "false" => (flag.trim(), false),
                    other => {
                        return Err(format!(
                            "{RESTART_ANNOTATION}: {flag} must be true or false, not {other:?}"
                        ))
                    }
                },
                None => (token, true),
            };
            match flag {
                "" | "true" => {}
                "includeTasks" => request.include_tasks = on,
                "onlyFailed" => request.only_failed = on,
                other => {
                    return Err(format!(
                        "{RESTART_ANNOTATION}: unknown {other:?}; expected true, includeTasks or onlyFailed"
                    ))
                }
            }
        }
        Ok(request)
    }

    /// Whether the connector instance restarts, in its current state
    /// (Connect's `restartConnectorAndTasks`: all unless `onlyFailed`).
    pub fn restarts_connector(self, state: State) -> bool {
        !self.only_failed || state == State::Failed
    }

    /// Whether a task in `state` restarts: with `includeTasks`, all or
    /// (`onlyFailed`) the FAILED ones.
    pub fn restarts_task(self, state: State) -> bool {
        self.include_tasks && (!self.only_failed || state == State::Failed)
    }

    /// The annotation value that [`RestartRequest::parse`] reads back.
    pub fn annotation(self) -> String {
        match (self.include_tasks, self.only_failed) {
            (false, false) => "true".to_owned(),
            (true, false) => "includeTasks".to_owned(),
            (false, true) => "onlyFailed".to_owned(),
            (true, true) => "includeTasks,onlyFailed".to_owned(),
        }
    }
}

/// Keys of `spec.config` that come from other fields and are rejected there.
pub const RESERVED_CONFIG_KEYS: [&str; 3] = ["connector.class", "tasks.max", "name"];

/// Desired state of a Connector: which connector class runs with which
/// configuration, how many tasks it may use, and whether it runs.
// The printcolumn(...) lists repeat `type_ = "string"` and the like, which
// clippy takes for duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "kconnect.dev",
    version = "v1alpha1",
    kind = "Connector",
    plural = "connectors",
    namespaced,
    status = "ConnectorStatus",
    derive = "PartialEq",
    shortname = "kcn",
    category = "kconnect",
    doc = "A Kafka Connect connector. The ConnectCluster that runs it is named by the label kconnect.dev/cluster on the Connector and must be in the same namespace. The connector's name in Kafka Connect (REST API, internal topics) is metadata.name. Deleting the Connector stops and removes the connector; its committed offsets stay in the offset topic.",
    printcolumn(
        name = "Cluster",
        type_ = "string",
        json_path = r".metadata.labels.kconnect\.dev/cluster",
        description = "The ConnectCluster running the connector (label kconnect.dev/cluster)."
    ),
    printcolumn(
        name = "Class",
        type_ = "string",
        json_path = ".spec.class",
        description = "Connector class."
    ),
    printcolumn(
        name = "State",
        type_ = "string",
        json_path = ".spec.state",
        description = "Desired state: running, paused or stopped."
    ),
    printcolumn(
        name = "Tasks Running",
        type_ = "integer",
        json_path = ".status.tasksRunning",
        description = "Number of tasks in state RUNNING."
    ),
    printcolumn(
        name = "Max Tasks",
        type_ = "integer",
        json_path = ".spec.tasksMax",
        description = "Most tasks the connector may run (spec.tasksMax)."
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].status"#,
        description = "Status of the Ready condition."
    ),
    printcolumn(
        name = "Connector State",
        type_ = "string",
        json_path = ".status.connectorStatus.state",
        description = "State of the connector instance as its worker reports it.",
        priority = 1
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].reason"#,
        description = "Reason of the Ready condition.",
        priority = 1
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorSpec {
    /// Connector class: a Java class name such as
    /// org.apache.kafka.connect.file.FileStreamSinkConnector, or one of its
    /// aliases (the simple class name FileStreamSinkConnector, or
    /// FileStreamSink without the Connector suffix), as in Java Kafka
    /// Connect. An unknown class makes the Connector Ready=False.
    #[schemars(length(min = 1))]
    pub class: String,

    /// Most tasks the connector may split its work into (Java's tasks.max).
    /// The connector may create fewer, e.g. a source reading one file.
    #[serde(default = "default_tasks_max")]
    #[schemars(range(min = 1))]
    pub tasks_max: i32,

    /// Desired state. running: the connector and its tasks run. paused:
    /// tasks stay assigned but stop processing (quick to resume). stopped:
    /// the connector and its tasks are shut down and release their
    /// resources; the configuration and offsets are kept. Applies to a
    /// FAILED connector too.
    #[serde(default)]
    pub state: ConnectorState,

    /// Connector configuration, with the keys the connector class defines
    /// (e.g. topics, file) and Connect's common keys (key.converter,
    /// value.converter, transforms.*, predicates.*, errors.*,
    /// producer.override.*, consumer.override.*). connector.class, tasks.max
    /// and name are not allowed here: they come from class, tasksMax and
    /// metadata.name. For secrets use ${file:...} or ${env:...} placeholders
    /// that refer to Secrets mounted into the ConnectCluster (spec.secrets,
    /// spec.env); their values never appear in this resource.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": "!('connector.class' in self) && !('tasks.max' in self) && !('name' in self)",
        "message": "connector.class, tasks.max and name are set from spec.class, spec.tasksMax and metadata.name, not in spec.config"
    }]))]
    pub config: BTreeMap<String, String>,

    /// Automatic restart of the connector and its tasks when they fail
    /// (Java Kafka Connect never restarts a failed task by itself).
    #[serde(default)]
    pub auto_restart: AutoRestart,
}

fn default_tasks_max() -> i32 {
    1
}

/// Desired state of a connector (spec.state).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorState {
    #[default]
    Running,
    Paused,
    Stopped,
}

impl ConnectorState {
    /// The target state as written to the config topic's
    /// `target-state-<name>` record (`state.v2`): STARTED, PAUSED or STOPPED.
    pub fn target_state(self) -> TargetState {
        match self {
            ConnectorState::Running => TargetState::Started,
            ConnectorState::Paused => TargetState::Paused,
            ConnectorState::Stopped => TargetState::Stopped,
        }
    }

    /// The lowercase name used in `spec.state`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectorState::Running => "running",
            ConnectorState::Paused => "paused",
            ConnectorState::Stopped => "stopped",
        }
    }
}

impl std::fmt::Display for ConnectorState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When and how often failed connectors and tasks are restarted.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AutoRestart {
    /// Whether a FAILED connector or task is restarted, with exponential
    /// backoff between attempts. On by default: most failures are transient
    /// (a database or broker briefly away), and a stuck FAILED task that
    /// nobody restarts loses hours of data flow. A restart that fails again
    /// only waits longer.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Most restarts of one connector or task in a row; after that it stays
    /// FAILED until the Connector changes. The count starts over once it has
    /// run healthily for a while. Unset means no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub max_restarts: Option<i32>,
}

impl Default for AutoRestart {
    fn default() -> Self {
        AutoRestart {
            enabled: true,
            max_restarts: None,
        }
    }
}

fn default_true() -> bool {
    true
}

/// Observed state of a Connector, written by the operator from the
/// cluster's status topic.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorStatus {
    /// Current conditions. Ready is True only when the connector and all of
    /// its tasks are in their desired state (RUNNING, or PAUSED / STOPPED
    /// as asked); a FAILED task makes it False, with the task named in the
    /// message. An invalid configuration makes it False with the offending
    /// key in the message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// The metadata.generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// State of the connector instance (the part that computes task
    /// configurations), as its worker reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector_status: Option<ConnectorInstanceStatus>,
    /// State of each task, as its worker reports it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<TaskStatus>,
    /// Number of tasks in state RUNNING.
    #[serde(default)]
    pub tasks_running: i32,
    /// Topics the connector has used (KIP-558 active topics).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<String>,
    /// Whether the connector delivers exactly once: a source connector on
    /// a cluster with `exactly.once.source.support: enabled` (KIP-618).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exactly_once: bool,
    /// The connector's offsets as last listed on request
    /// (`kconnect.dev/connector-offsets: list`), in the shape of Connect's
    /// `GET /connectors/{name}/offsets` (KIP-875).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offsets: Option<ListedOffsets>,
    /// The outcome of the last offsets request (list, alter or reset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_offsets_operation: Option<OffsetsOperation>,
}

/// Offsets listed into the status.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListedOffsets {
    /// When they were read.
    pub listed_at: Time,
    /// `{partition, offset}` pairs: for a sink, `{kafka_topic,
    /// kafka_partition}` and `{kafka_offset}`; for a source, the
    /// connector's own partition and offset maps.
    #[schemars(schema_with = "any_objects")]
    pub offsets: Vec<serde_json::Value>,
}

/// What became of an offsets request.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OffsetsOperation {
    /// list, alter or reset.
    pub operation: String,
    /// Whether it was carried out.
    pub succeeded: bool,
    /// Connect's message on success, the reason otherwise.
    pub message: String,
    pub time: Time,
}

/// A list of JSON objects of any shape.
fn any_objects(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
    })
}

/// Annotation asking the operator for an offsets operation, like Strimzi's
/// `strimzi.io/connector-offsets`: `list` (into `status.offsets`), `alter`
/// (the KIP-875 body in [`ALTER_OFFSETS_ANNOTATION`]) or `reset`; alter
/// and reset need the connector stopped (`spec.state: stopped`). Removed
/// once done; the outcome is `status.lastOffsetsOperation`.
pub const OFFSETS_ANNOTATION: &str = "kconnect.dev/connector-offsets";

/// The offsets to alter: Connect's `PATCH /connectors/{name}/offsets` body,
/// `{"offsets": [{"partition": {…}, "offset": {…} | null}]}`.
pub const ALTER_OFFSETS_ANNOTATION: &str = "kconnect.dev/alter-offsets";

/// State of a connector instance.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorInstanceStatus {
    /// State as in Java Kafka Connect's status topic and REST API.
    pub state: ConnectState,
    /// The worker running it, as it names itself in the status topic (the
    /// Pod name for kconnect workers, host:port for Java workers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
    /// The failure's stack trace or message when FAILED (may be shortened).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
    /// How many times the operator restarted it since it last ran
    /// healthily (spec.autoRestart).
    #[serde(default)]
    pub restart_count: i32,
    /// When the operator last restarted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_restart_time: Option<Time>,
}

/// State of one task.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskStatus {
    /// Task number, from 0.
    #[schemars(range(min = 0))]
    pub id: i32,
    /// State as in Java Kafka Connect's status topic and REST API.
    pub state: ConnectState,
    /// The worker running it, as it names itself in the status topic (the
    /// Pod name for kconnect workers, host:port for Java workers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
    /// The failure's stack trace or message when FAILED (may be shortened).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
    /// How many times the operator restarted this task since it last ran
    /// healthily (spec.autoRestart).
    #[serde(default)]
    pub restart_count: i32,
    /// When the operator last restarted this task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_restart_time: Option<Time>,
}

/// The status topic's state enum serves the CRD status too.
pub use crate::storage::status_topic::State as ConnectState;

impl Connector {
    /// The ConnectCluster named by the `kconnect.dev/cluster` label.
    pub fn cluster_name(&self) -> Option<&str> {
        cluster_name(&self.metadata)
    }
}

/// The value of the `kconnect.dev/cluster` label, if set and not empty.
pub fn cluster_name(meta: &ObjectMeta) -> Option<&str> {
    meta.labels
        .as_ref()?
        .get(CLUSTER_LABEL)
        .map(String::as_str)
        .filter(|s| !s.is_empty())
}
