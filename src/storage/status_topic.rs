//! Records of the status topic in Java Connect's format:
//! `status-connector-<name>` / `status-task-<name>-<n>` →
//! `{"state": …, "trace": …, "worker_id": …, "generation": g}`, plus
//! kconnect's own records:
//!
//! - `status-worker-<id>`: a worker's heartbeat
//! - `status-assignment-<group>`: the operator's placement (see
//!   [`crate::placement`]), `{"generation": g, "workers": {…}, "restarts": {…}}`
//!
//! Java's `KafkaStatusBackingStore` skips keys it does not know with a WARN
//! ("Discarding record with invalid key"), values and tombstones alike, so
//! kconnect's own records live here and not in the config topic, where
//! Java's `KafkaConfigBackingStore` logs every unknown key at ERROR.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// States of connectors and tasks in Java Kafka Connect's status topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    Unassigned,
    Running,
    Paused,
    Stopped,
    Failed,
    Restarting,
    Destroyed,
}

/// The value of a connector or task status record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub state: State,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
    pub worker_id: String,
    pub generation: u64,
}

/// A worker's heartbeat: when it last wrote, and what it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    /// The newest assignment generation the worker acted on.
    pub generation: u64,
    /// Tasks still running on the worker, including those asked to stop
    /// that have not finished committing (0 means a drained worker).
    #[serde(default)]
    pub tasks: u32,
    /// Of those, tasks asked to stop that have not finished (flushing,
    /// committing offsets). 0: everything taken away has been let go.
    #[serde(default)]
    pub stopping: u32,
}

/// Key prefix of the operator's placement record.
pub const ASSIGNMENT_PREFIX: &str = "status-assignment-";

#[derive(Debug, Clone, PartialEq)]
pub enum StatusRecord {
    Connector {
        name: String,
        status: Option<Status>,
    },
    Task {
        connector: String,
        task: u32,
        status: Option<Status>,
    },
    Worker {
        id: String,
        heartbeat: Option<Heartbeat>,
    },
    /// The operator's placement for Connect group `group`, kept as JSON for
    /// its readers (`None`: a tombstone).
    Assignment {
        group: String,
        value: Option<Json>,
    },
    Other {
        key: String,
    },
}

impl StatusRecord {
    pub fn key(&self) -> String {
        match self {
            StatusRecord::Connector { name, .. } => format!("status-connector-{name}"),
            StatusRecord::Task {
                connector, task, ..
            } => format!("status-task-{connector}-{task}"),
            StatusRecord::Worker { id, .. } => format!("status-worker-{id}"),
            StatusRecord::Assignment { group, .. } => format!("{ASSIGNMENT_PREFIX}{group}"),
            StatusRecord::Other { key } => key.clone(),
        }
    }

    pub fn encode(&self) -> (String, Option<Vec<u8>>) {
        let value: Option<Json> = match self {
            StatusRecord::Connector { status, .. } | StatusRecord::Task { status, .. } => {
                status.as_ref().and_then(|s| serde_json::to_value(s).ok())
            }
            StatusRecord::Worker { heartbeat, .. } => heartbeat
                .as_ref()
                .and_then(|h| serde_json::to_value(h).ok()),
            StatusRecord::Assignment { value, .. } => value.clone(),
            StatusRecord::Other { .. } => None,
        };
        (self.key(), value.map(|v| v.to_string().into_bytes()))
    }

    /// Parses a record; values that do not parse are `Other` (and logged),
    /// never an error that would stop a reader of a shared topic.
    pub fn decode(key: &str, value: Option<&[u8]>) -> StatusRecord {
        fn parse<T: for<'de> Deserialize<'de>>(
            key: &str,
            value: Option<&[u8]>,
        ) -> Result<Option<T>, ()> {
            match value {
                None => Ok(None),
                Some(v) => serde_json::from_slice(v).map(Some).map_err(|e| {
                    tracing::warn!(key, error = %e, "ignoring an unreadable status record");
                }),
            }
        }
        let other = || StatusRecord::Other {
            key: key.to_owned(),
        };
        if let Some(name) = key.strip_prefix("status-connector-") {
            return parse(key, value).map_or_else(
                |_| other(),
                |status| StatusRecord::Connector {
                    name: name.to_owned(),
                    status,
                },
            );
        }
        if let Some(rest) = key.strip_prefix("status-task-") {
            let Some((connector, n)) = rest.rsplit_once('-') else {
                return other();
            };
            let Ok(task) = n.parse() else { return other() };
            return parse(key, value).map_or_else(
                |_| other(),
                |status| StatusRecord::Task {
                    connector: connector.to_owned(),
                    task,
                    status,
                },
            );
        }
        if let Some(group) = key.strip_prefix(ASSIGNMENT_PREFIX) {
            return parse(key, value).map_or_else(
                |_| other(),
                |value| StatusRecord::Assignment {
                    group: group.to_owned(),
                    value,
                },
            );
        }
        if let Some(id) = key.strip_prefix("status-worker-") {
            return parse(key, value).map_or_else(
                |_| other(),
                |heartbeat| StatusRecord::Worker {
                    id: id.to_owned(),
                    heartbeat,
                },
            );
        }
        other()
    }
}

/// The status topic folded into current state. A record from an older
/// generation never overwrites a newer one (a worker that lost a task may
/// still report it stopping).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatusState {
    pub connectors: BTreeMap<String, Status>,
    pub tasks: BTreeMap<(String, u32), Status>,
    pub workers: BTreeMap<String, Heartbeat>,
    /// The operator's placement record per Connect group, as JSON.
    pub assignments: BTreeMap<String, Json>,
}

fn newer(existing: Option<&Status>, incoming: &Status) -> bool {
    existing.is_none_or(|e| incoming.generation >= e.generation)
}

impl StatusState {
    /// Connect's condition for changing a connector's offsets: the
    /// connector is STOPPED and none of its tasks runs, is paused or is
    /// restarting.
    pub fn is_stopped(&self, connector: &str) -> bool {
        self.connectors
            .get(connector)
            .is_some_and(|s| s.state == State::Stopped)
            && !self.tasks.iter().any(|((c, _), s)| {
                c == connector
                    && matches!(s.state, State::Running | State::Paused | State::Restarting)
            })
    }

    pub fn apply(&mut self, record: StatusRecord) {
        match record {
            StatusRecord::Connector {
                name,
                status: Some(s),
            } => {
                if newer(self.connectors.get(&name), &s) {
                    self.connectors.insert(name, s);
                }
            }
            StatusRecord::Connector { name, status: None } => {
                self.connectors.remove(&name);
            }
            StatusRecord::Task {
                connector,
                task,
                status: Some(s),
            } => {
                let key = (connector, task);
                if newer(self.tasks.get(&key), &s) {
                    self.tasks.insert(key, s);
                }
            }
            StatusRecord::Task {
                connector,
                task,
                status: None,
            } => {
                self.tasks.remove(&(connector, task));
            }
            StatusRecord::Worker {
                id,
                heartbeat: Some(h),
            } => {
                // A worker's heartbeats spread over partitions: the newest
                // wins, not the last one read.
                if self
                    .workers
                    .get(&id)
                    .is_none_or(|old| h.timestamp >= old.timestamp)
                {
                    self.workers.insert(id, h);
                }
            }
            StatusRecord::Worker {
                id,
                heartbeat: None,
            } => {
                self.workers.remove(&id);
            }
            // One key, one partition: the last record read is the newest.
            StatusRecord::Assignment {
                group,
                value: Some(v),
            } => {
                self.assignments.insert(group, v);
            }
            StatusRecord::Assignment { group, value: None } => {
                self.assignments.remove(&group);
            }
            StatusRecord::Other { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running(worker: &str, generation: u64) -> Status {
        Status {
            state: State::Running,
            trace: None,
            worker_id: worker.into(),
            generation,
        }
    }

    #[test]
    fn encodes_like_java_and_round_trips() {
        let r = StatusRecord::Task {
            connector: "my-sink".into(),
            task: 2,
            status: Some(running("w-1", 7)),
        };
        let (k, v) = r.encode();
        assert_eq!(k, "status-task-my-sink-2");
        assert_eq!(
            String::from_utf8(v.clone().unwrap()).unwrap(),
            r#"{"state":"RUNNING","worker_id":"w-1","generation":7}"#
        );
        assert_eq!(StatusRecord::decode(&k, v.as_deref()), r);
        // Java's own record, with a trace.
        let java = br#"{"state":"FAILED","trace":"org.apache.kafka.connect.errors.ConnectException: boom","worker_id":"10.0.0.1:8083","generation":3}"#;
        match StatusRecord::decode("status-connector-c", Some(java)) {
            StatusRecord::Connector {
                status: Some(s), ..
            } => {
                assert_eq!(s.state, State::Failed);
                assert!(s.trace.unwrap().contains("boom"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            StatusRecord::decode("status-task-c-x", Some(b"{}")),
            StatusRecord::Other { .. }
        ));
        assert!(matches!(
            StatusRecord::decode("status-connector-c", Some(b"nope")),
            StatusRecord::Other { .. }
        ));
    }

    #[test]
    fn assignment_records_round_trip_and_fold_by_group() {
        let value = serde_json::json!({"generation": 3, "workers": {"w-0": {"connectors": ["c"], "tasks": ["c-0"]}}});
        let r = StatusRecord::Assignment {
            group: "connect-cluster".into(),
            value: Some(value.clone()),
        };
        let (k, v) = r.encode();
        assert_eq!(k, "status-assignment-connect-cluster");
        assert_eq!(StatusRecord::decode(&k, v.as_deref()), r);
        let mut s = StatusState::default();
        s.apply(r);
        s.apply(StatusRecord::decode(
            "status-assignment-other",
            Some(br#"{"generation":1}"#),
        ));
        assert_eq!(s.assignments["connect-cluster"], value);
        assert_eq!(s.assignments.len(), 2);
        s.apply(StatusRecord::decode(
            "status-assignment-connect-cluster",
            None,
        ));
        assert!(!s.assignments.contains_key("connect-cluster"));
        // Not JSON: skipped, the state keeps what it had.
        assert!(matches!(
            StatusRecord::decode("status-assignment-other", Some(b"{nope")),
            StatusRecord::Other { .. }
        ));
    }

    #[test]
    fn older_generations_do_not_overwrite_newer_status() {
        let mut s = StatusState::default();
        s.apply(StatusRecord::Task {
            connector: "c".into(),
            task: 0,
            status: Some(running("w-2", 5)),
        });
        let stale = Status {
            state: State::Unassigned,
            trace: None,
            worker_id: "w-1".into(),
            generation: 4,
        };
        s.apply(StatusRecord::Task {
            connector: "c".into(),
            task: 0,
            status: Some(stale),
        });
        assert_eq!(s.tasks[&("c".to_string(), 0)].worker_id, "w-2");
        s.apply(StatusRecord::Task {
            connector: "c".into(),
            task: 0,
            status: None,
        });
        assert!(s.tasks.is_empty());
    }
}
