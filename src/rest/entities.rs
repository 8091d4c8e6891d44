//! The JSON bodies of Kafka Connect's REST API, field for field as Java's
//! `org.apache.kafka.connect.runtime.rest.entities` serialize them (Jackson
//! names, `null`s where Java writes them, fields Java leaves out when empty
//! left out here too).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use crate::connect::{ConnectorKind, Props};
use crate::storage::status_topic::State;

/// `GET /`: Java's `ServerInfo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerInfo {
    pub version: String,
    pub commit: String,
    pub kafka_cluster_id: Option<String>,
}

/// `source`, `sink` or `unknown`, as Java's `ConnectorType` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorType {
    Source,
    Sink,
    Unknown,
}

impl From<ConnectorKind> for ConnectorType {
    fn from(kind: ConnectorKind) -> Self {
        match kind {
            ConnectorKind::Source => ConnectorType::Source,
            ConnectorKind::Sink => ConnectorType::Sink,
        }
    }
}

impl ConnectorType {
    /// The type of the connector class a config names (`unknown` when it
    /// names none that exists).
    pub fn of_config(config: &Props) -> ConnectorType {
        config
            .get("connector.class")
            .and_then(|c| crate::connectors::find(c).ok())
            .map_or(ConnectorType::Unknown, |p| p.kind.into())
    }
}

/// Java's `ConnectorTaskId`: `{"connector": …, "task": n}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorTaskId {
    pub connector: String,
    pub task: u32,
}

/// `GET /connectors/{name}`: Java's `ConnectorInfo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorInfo {
    pub name: String,
    pub config: Props,
    pub tasks: Vec<ConnectorTaskId>,
    #[serde(rename = "type")]
    pub kind: ConnectorType,
}

impl ConnectorInfo {
    /// A connector with `tasks` task configs.
    pub fn new(name: &str, config: Props, tasks: usize) -> ConnectorInfo {
        let kind = ConnectorType::of_config(&config);
        ConnectorInfo {
            name: name.to_owned(),
            config,
            tasks: (0..tasks as u32)
                .map(|task| ConnectorTaskId {
                    connector: name.to_owned(),
                    task,
                })
                .collect(),
            kind,
        }
    }
}

/// `GET /connectors/{name}/tasks`: Java's `TaskInfo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskInfo {
    pub id: ConnectorTaskId,
    pub config: Props,
}

/// The connector part of [`ConnectorStateInfo`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorState {
    pub state: State,
    pub worker_id: String,
    /// Java leaves an empty trace out.
    #[serde(default, skip_serializing_if = "trace_is_empty")]
    pub trace: Option<String>,
}

/// One task of [`ConnectorStateInfo`]; also `GET …/tasks/{id}/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskState {
    pub id: u32,
    pub state: State,
    pub worker_id: String,
    #[serde(default, skip_serializing_if = "trace_is_empty")]
    pub trace: Option<String>,
}

fn trace_is_empty(trace: &Option<String>) -> bool {
    trace.as_deref().is_none_or(str::is_empty)
}

/// `GET /connectors/{name}/status`: Java's `ConnectorStateInfo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorStateInfo {
    pub name: String,
    pub connector: ConnectorState,
    /// Sorted by task id.
    pub tasks: Vec<TaskState>,
    #[serde(rename = "type")]
    pub kind: ConnectorType,
}

/// Java 4.1 writes the plugin's version beside the connector's and each
/// task's state (KIP-891: `"version"` after `worker_id`), and leaves it
/// out when unknown (`PluginInfo.NoVersionFilter`). The version is the
/// backend's to give ([`crate::rest::Backend::plugin_version`]), so these
/// add it to the serialized state.
impl ConnectorStateInfo {
    pub fn to_json(&self, version: Option<&str>) -> Json {
        let mut json = serde_json::to_value(self).unwrap_or(Json::Null);
        if let Some(version) = version {
            if let Some(state) = json.get_mut("connector") {
                add_version(state, version);
            }
            for task in json
                .get_mut("tasks")
                .and_then(Json::as_array_mut)
                .into_iter()
                .flatten()
            {
                add_version(task, version);
            }
        }
        json
    }
}

impl TaskState {
    /// `GET …/tasks/{id}/status`, with the version as in
    /// [`ConnectorStateInfo::to_json`].
    pub fn to_json(&self, version: Option<&str>) -> Json {
        let mut json = serde_json::to_value(self).unwrap_or(Json::Null);
        if let Some(version) = version {
            add_version(&mut json, version);
        }
        json
    }
}

fn add_version(state: &mut Json, version: &str) {
    if let Some(state) = state.as_object_mut() {
        state.insert("version".into(), Json::String(version.to_owned()));
    }
}

/// `POST /connectors`: Java's `CreateConnectorRequest` (KIP-980's
/// `initial_state` included).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CreateConnectorRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub config: Option<BTreeMap<String, Option<String>>>,
    #[serde(default)]
    pub initial_state: Option<InitialState>,
}

/// KIP-980's `initial_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum InitialState {
    Running,
    Paused,
    Stopped,
}

/// `GET /connectors/{name}/topics` holds `{"<name>": ActiveTopicsInfo}`;
/// Java serializes only the topics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActiveTopicsInfo {
    pub topics: Vec<String>,
}

/// Java's `ConnectorOffset`: a source partition and its offset, or for a
/// sink `{"kafka_topic", "kafka_partition"}` and `{"kafka_offset"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorOffset {
    pub partition: Map<String, Json>,
    /// `null` in an alter request removes the partition's offset.
    pub offset: Option<Map<String, Json>>,
}

/// `GET|PATCH /connectors/{name}/offsets`: Java's `ConnectorOffsets`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorOffsets {
    #[serde(default)]
    pub offsets: Vec<ConnectorOffset>,
}

/// Java's `Message`: `{"message": …}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub message: String,
}

/// Every error body: Java's `ErrorMessage`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorMessage {
    pub error_code: u16,
    pub message: String,
}

/// `GET /connector-plugins`: Java's `PluginInfo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginInfo {
    pub class: String,
    /// `sink`, `source`, `transformation`, `predicate`, `converter`,
    /// `header_converter`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// One config key's definition: Java's `ConfigKeyInfo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigKeyInfo {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub required: bool,
    pub default_value: Option<String>,
    pub importance: String,
    pub documentation: String,
    pub group: Option<String>,
    pub order: i32,
    pub width: String,
    pub display_name: String,
    pub dependents: Vec<String>,
}

/// One config key's validated value: Java's `ConfigValueInfo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigValueInfo {
    pub name: String,
    pub value: Option<String>,
    pub recommended_values: Vec<String>,
    pub errors: Vec<String>,
    pub visible: bool,
}

/// Java's `ConfigInfo`: a definition (absent for keys no definition
/// declares) and a value (absent for keys not validated).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigInfo {
    pub definition: Option<ConfigKeyInfo>,
    pub value: Option<ConfigValueInfo>,
}

/// `PUT /connector-plugins/{plugin}/config/validate`: Java's `ConfigInfos`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigInfos {
    pub name: String,
    pub error_count: usize,
    pub groups: Vec<String>,
    pub configs: Vec<ConfigInfo>,
}

/// `GET /admin/loggers[/{name}]`: Java's `LoggerLevel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggerLevel {
    pub level: String,
    /// Milliseconds since the epoch of the last change through the API;
    /// `null` when never changed.
    pub last_modified: Option<i64>,
}

/// `GET /health` (KIP-1017): Java's `WorkerStatus`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerStatus {
    pub status: String,
    pub message: String,
}

impl WorkerStatus {
    pub fn healthy() -> WorkerStatus {
        WorkerStatus {
            status: "healthy".into(),
            message: "Worker has completed startup and is ready to handle requests.".into(),
        }
    }

    pub fn starting(details: Option<&str>) -> WorkerStatus {
        let mut message = "Worker is still starting up.".to_owned();
        if let Some(d) = details {
            message.push(' ');
            message.push_str(d);
        }
        WorkerStatus {
            status: "starting".into(),
            message,
        }
    }

    pub fn unhealthy(details: Option<&str>) -> WorkerStatus {
        let mut message =
            "Worker was unable to handle this request and may be unable to handle other requests."
                .to_owned();
        if let Some(d) = details {
            message.push(' ');
            message.push_str(d);
        }
        WorkerStatus {
            status: "unhealthy".into(),
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    //! Each entity against the JSON Java's Jackson mapper writes for it, as
    //! documented in Kafka's Connect REST API docs and seen from real
    //! workers (key order aside: JSON objects are unordered).
    use super::*;
    use serde_json::json;

    fn same(value: impl Serialize, java: Json) {
        assert_eq!(serde_json::to_value(value).unwrap(), java);
    }

    #[test]
    fn server_info() {
        same(
            ServerInfo {
                version: "4.1.1".into(),
                commit: "be816b82d25370ce".into(),
                kafka_cluster_id: Some("I4ZmrWqfT2e-upky_4fdPA".into()),
            },
            json!({"version": "4.1.1", "commit": "be816b82d25370ce", "kafka_cluster_id": "I4ZmrWqfT2e-upky_4fdPA"}),
        );
    }

    #[test]
    fn connector_info_and_tasks() {
        let config: Props = [
            ("connector.class", "FileStreamSink"),
            ("name", "local-file-sink"),
            ("tasks.max", "2"),
            ("topics", "connect-test"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        same(
            ConnectorInfo::new("local-file-sink", config.clone(), 2),
            json!({
                "name": "local-file-sink",
                "config": {"connector.class": "FileStreamSink", "name": "local-file-sink", "tasks.max": "2", "topics": "connect-test"},
                "tasks": [{"connector": "local-file-sink", "task": 0}, {"connector": "local-file-sink", "task": 1}],
                "type": "sink"
            }),
        );
        same(
            TaskInfo {
                id: ConnectorTaskId {
                    connector: "local-file-sink".into(),
                    task: 0,
                },
                config: config.clone(),
            },
            json!({"id": {"connector": "local-file-sink", "task": 0}, "config": config}),
        );
        let mut odd = config;
        odd.insert("connector.class".into(), "com.acme.Missing".into());
        assert_eq!(ConnectorType::of_config(&odd), ConnectorType::Unknown);
    }

    #[test]
    fn connector_state_info_leaves_out_empty_traces() {
        same(
            ConnectorStateInfo {
                name: "hdfs-sink-connector".into(),
                connector: ConnectorState {
                    state: State::Running,
                    worker_id: "fakehost:8083".into(),
                    trace: None,
                },
                tasks: vec![
                    TaskState {
                        id: 1,
                        state: State::Running,
                        worker_id: "fakehost:8083".into(),
                        trace: Some(String::new()),
                    },
                    TaskState {
                        id: 2,
                        state: State::Failed,
                        worker_id: "fakehost:8083".into(),
                        trace: Some(
                            "org.apache.kafka.common.errors.RecordTooLargeException\n".into(),
                        ),
                    },
                ],
                kind: ConnectorType::Sink,
            },
            json!({
                "name": "hdfs-sink-connector",
                "connector": {"state": "RUNNING", "worker_id": "fakehost:8083"},
                "tasks": [
                    {"id": 1, "state": "RUNNING", "worker_id": "fakehost:8083"},
                    {"id": 2, "state": "FAILED", "worker_id": "fakehost:8083", "trace": "org.apache.kafka.common.errors.RecordTooLargeException\n"}
                ],
                "type": "sink"
            }),
        );
    }

    #[test]
    fn states_carry_the_plugin_version_when_known() {
        let task = TaskState {
            id: 0,
            state: State::Running,
            worker_id: "w:8083".into(),
            trace: None,
        };
        let info = ConnectorStateInfo {
            name: "c".into(),
            connector: ConnectorState {
                state: State::Running,
                worker_id: "w:8083".into(),
                trace: None,
            },
            tasks: vec![task.clone()],
            kind: ConnectorType::Source,
        };
        assert_eq!(
            info.to_json(Some("4.1.2")),
            json!({
                "name": "c",
                "connector": {"state": "RUNNING", "worker_id": "w:8083", "version": "4.1.2"},
                "tasks": [{"id": 0, "state": "RUNNING", "worker_id": "w:8083", "version": "4.1.2"}],
                "type": "source"
            })
        );
        assert_eq!(info.to_json(None), serde_json::to_value(&info).unwrap());
        assert_eq!(
            task.to_json(Some("4.1.2")),
            json!({"id": 0, "state": "RUNNING", "worker_id": "w:8083", "version": "4.1.2"})
        );
    }

    #[test]
    fn create_request_reads_kip_980_initial_state() {
        let r: CreateConnectorRequest = serde_json::from_value(json!({
            "name": "c", "config": {"connector.class": "datagen", "x": null}, "initial_state": "STOPPED"
        }))
        .unwrap();
        assert_eq!(r.initial_state, Some(InitialState::Stopped));
        assert_eq!(r.config.unwrap()["x"], None);
        assert!(serde_json::from_value::<CreateConnectorRequest>(
            json!({"name": "c", "config": {}, "initial_state": "SLEEPING"})
        )
        .is_err());
    }

    #[test]
    fn offsets_messages_and_errors() {
        same(
            ConnectorOffsets {
                offsets: vec![ConnectorOffset {
                    partition: json!({"kafka_topic": "t", "kafka_partition": 3})
                        .as_object()
                        .cloned()
                        .unwrap(),
                    offset: json!({"kafka_offset": 1000}).as_object().cloned(),
                }],
            },
            json!({"offsets": [{"partition": {"kafka_topic": "t", "kafka_partition": 3}, "offset": {"kafka_offset": 1000}}]}),
        );
        let patch: ConnectorOffsets = serde_json::from_value(
            json!({"offsets": [{"partition": {"filename": "a"}, "offset": null}]}),
        )
        .unwrap();
        assert_eq!(patch.offsets[0].offset, None);
        same(
            Message {
                message: "The offsets for this connector have been reset successfully".into(),
            },
            json!({"message": "The offsets for this connector have been reset successfully"}),
        );
        same(
            ErrorMessage {
                error_code: 404,
                message: "Connector x not found".into(),
            },
            json!({"error_code": 404, "message": "Connector x not found"}),
        );
        same(
            ActiveTopicsInfo {
                topics: vec!["foo".into()],
            },
            json!({"topics": ["foo"]}),
        );
    }

    #[test]
    fn plugin_and_config_infos() {
        same(
            PluginInfo {
                class: "org.apache.kafka.connect.file.FileStreamSinkConnector".into(),
                kind: "sink".into(),
                version: Some("4.1.1".into()),
            },
            json!({"class": "org.apache.kafka.connect.file.FileStreamSinkConnector", "type": "sink", "version": "4.1.1"}),
        );
        same(
            PluginInfo {
                class: "org.apache.kafka.connect.transforms.Filter".into(),
                kind: "transformation".into(),
                version: None,
            },
            json!({"class": "org.apache.kafka.connect.transforms.Filter", "type": "transformation"}),
        );
        let key = ConfigKeyInfo {
            name: "tasks.max".into(),
            kind: "INT".into(),
            required: false,
            default_value: Some("1".into()),
            importance: "HIGH".into(),
            documentation: "Maximum number of tasks to use for this connector.".into(),
            group: Some("Common".into()),
            order: 3,
            width: "SHORT".into(),
            display_name: "Tasks max".into(),
            dependents: vec![],
        };
        let java_key = json!({
            "name": "tasks.max", "type": "INT", "required": false, "default_value": "1",
            "importance": "HIGH", "documentation": "Maximum number of tasks to use for this connector.",
            "group": "Common", "order": 3, "width": "SHORT", "display_name": "Tasks max", "dependents": []
        });
        same(&key, java_key.clone());
        same(
            ConfigInfos {
                name: "FileStreamSink".into(),
                error_count: 1,
                groups: vec!["Common".into()],
                configs: vec![ConfigInfo {
                    definition: Some(key),
                    value: Some(ConfigValueInfo {
                        name: "tasks.max".into(),
                        value: None,
                        recommended_values: vec![],
                        errors: vec!["Invalid value two for configuration tasks.max: Not a number of type INT".into()],
                        visible: true,
                    }),
                }],
            },
            json!({
                "name": "FileStreamSink", "error_count": 1, "groups": ["Common"],
                "configs": [{
                    "definition": java_key,
                    "value": {"name": "tasks.max", "value": null, "recommended_values": [],
                              "errors": ["Invalid value two for configuration tasks.max: Not a number of type INT"], "visible": true}
                }]
            }),
        );
    }

    #[test]
    fn loggers_and_health() {
        same(
            LoggerLevel {
                level: "DEBUG".into(),
                last_modified: None,
            },
            json!({"level": "DEBUG", "last_modified": null}),
        );
        same(
            WorkerStatus::healthy(),
            json!({"status": "healthy", "message": "Worker has completed startup and is ready to handle requests."}),
        );
        assert_eq!(
            WorkerStatus::starting(Some("Reading the config topic.")).message,
            "Worker is still starting up. Reading the config topic."
        );
    }
}
