//! Records of the config topic in Java Connect's formats, and the state
//! they fold into. Keys and values are JSON without schema envelope.
//!
//! - `connector-<name>` → `{"properties": {...}}`; a tombstone deletes it
//! - `task-<name>-<n>` → `{"properties": {...}}`
//! - `commit-<name>` → `{"tasks": n}`: makes the task configs written
//!   before it visible, all at once
//! - `target-state-<name>` → `{"state": "STARTED"|"PAUSED", "state.v2": …}`
//! - `tasks-fencing-<name>` → `{"task-count": n}`: Java's task-count record
//!   (exactly-once sources): the producers of the connector's earlier task
//!   generations were fenced, and `n` tasks may run now
//!
//! Nothing else goes here: Java's `KafkaConfigBackingStore` logs every key
//! it does not know at ERROR. Older kconnect wrote its placement record
//! `assignment-<group>` here; it is still read (see
//! [`ConfigRecord::LegacyAssignment`]) until the operator has moved it to
//! the status topic (`status-assignment-<group>`) and removed it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

use crate::connect::Props;

/// `spec.state` of a connector as stored in the config topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TargetState {
    Started,
    Paused,
    Stopped,
}

/// Key prefix of Java's task-count records (`TASK_COUNT_RECORD_PREFIX`).
pub const TASK_COUNT_PREFIX: &str = "tasks-fencing-";

/// Key prefix of the placement record older kconnect wrote here.
pub const LEGACY_ASSIGNMENT_PREFIX: &str = "assignment-";

#[derive(Debug, Clone, PartialEq)]
pub enum ConfigRecord {
    /// `None` is a tombstone: the connector was deleted.
    Connector {
        name: String,
        props: Option<Props>,
    },
    Task {
        connector: String,
        task: u32,
        props: Props,
    },
    Commit {
        connector: String,
        tasks: u32,
    },
    TargetState {
        connector: String,
        state: TargetState,
    },
    /// `tasks-fencing-<name>`: the zombie fencing of an exactly-once
    /// source connector's older tasks is done, for `tasks` tasks.
    TaskCount {
        connector: String,
        tasks: u32,
    },
    /// `assignment-<group>`: where older kconnect kept its placement
    /// record (now `status-assignment-<group>` in the status topic). Read
    /// for the upgrade, written only as a tombstone (`None`).
    LegacyAssignment {
        group: String,
        value: Option<Json>,
    },
    /// A key kconnect does not use (Java's `session-key`, restart requests …).
    Other {
        key: String,
    },
}

#[derive(Debug, thiserror::Error)]
#[error("config topic record {key}: {message}")]
pub struct RecordError {
    pub key: String,
    pub message: String,
}

fn err(key: &str, message: impl Into<String>) -> RecordError {
    RecordError {
        key: key.to_owned(),
        message: message.into(),
    }
}

fn properties(key: &str, v: &Json) -> Result<Props, RecordError> {
    let obj = v
        .get("properties")
        .and_then(Json::as_object)
        .ok_or_else(|| err(key, "expected {\"properties\": {...}}"))?;
    obj.iter()
        .map(|(k, v)| match v {
            Json::String(s) => Ok((k.clone(), s.clone())),
            Json::Null => Err(err(key, format!("property {k} is null"))),
            other => Ok((k.clone(), other.to_string())),
        })
        .collect()
}

impl ConfigRecord {
    pub fn key(&self) -> String {
        match self {
            ConfigRecord::Connector { name, .. } => format!("connector-{name}"),
            ConfigRecord::Task {
                connector, task, ..
            } => format!("task-{connector}-{task}"),
            ConfigRecord::Commit { connector, .. } => format!("commit-{connector}"),
            ConfigRecord::TargetState { connector, .. } => format!("target-state-{connector}"),
            ConfigRecord::TaskCount { connector, .. } => format!("{TASK_COUNT_PREFIX}{connector}"),
            ConfigRecord::LegacyAssignment { group, .. } => {
                format!("{LEGACY_ASSIGNMENT_PREFIX}{group}")
            }
            ConfigRecord::Other { key } => key.clone(),
        }
    }

    /// The record's key and value bytes as Java writes them.
    pub fn encode(&self) -> (String, Option<Vec<u8>>) {
        let value = match self {
            ConfigRecord::Connector { props: None, .. } | ConfigRecord::Other { .. } => None,
            ConfigRecord::Connector { props: Some(p), .. }
            | ConfigRecord::Task { props: p, .. } => Some(json!({ "properties": p })),
            ConfigRecord::Commit { tasks, .. } => Some(json!({ "tasks": tasks })),
            ConfigRecord::TaskCount { tasks, .. } => Some(json!({ "task-count": tasks })),
            ConfigRecord::TargetState { state, .. } => {
                // Older readers know only STARTED and PAUSED.
                let v1 = match state {
                    TargetState::Started => "STARTED",
                    TargetState::Paused | TargetState::Stopped => "PAUSED",
                };
                Some(json!({ "state": v1, "state.v2": state }))
            }
            ConfigRecord::LegacyAssignment { value, .. } => value.clone(),
        };
        (self.key(), value.map(|v| v.to_string().into_bytes()))
    }

    /// Parses a record read from the topic.
    pub fn decode(key: &str, value: Option<&[u8]>) -> Result<ConfigRecord, RecordError> {
        let json = value
            .map(|v| {
                serde_json::from_slice::<Json>(v)
                    .map_err(|e| err(key, format!("invalid JSON: {e}")))
            })
            .transpose()?;
        if let Some(name) = key.strip_prefix("connector-") {
            let props = json.as_ref().map(|v| properties(key, v)).transpose()?;
            return Ok(ConfigRecord::Connector {
                name: name.to_owned(),
                props,
            });
        }
        if let Some(rest) = key.strip_prefix("task-") {
            let (connector, n) = rest
                .rsplit_once('-')
                .ok_or_else(|| err(key, "expected task-<connector>-<n>"))?;
            let task = n
                .parse()
                .map_err(|_| err(key, "task number is not a number"))?;
            let Some(v) = json else {
                return Ok(ConfigRecord::Other {
                    key: key.to_owned(),
                });
            };
            return Ok(ConfigRecord::Task {
                connector: connector.to_owned(),
                task,
                props: properties(key, &v)?,
            });
        }
        if let Some(connector) = key.strip_prefix("commit-") {
            let Some(v) = json else {
                return Ok(ConfigRecord::Other {
                    key: key.to_owned(),
                });
            };
            let tasks = v
                .get("tasks")
                .and_then(Json::as_u64)
                .ok_or_else(|| err(key, "expected {\"tasks\": n}"))?;
            return Ok(ConfigRecord::Commit {
                connector: connector.to_owned(),
                tasks: u32::try_from(tasks).map_err(|_| err(key, "task count too large"))?,
            });
        }
        if let Some(connector) = key.strip_prefix(TASK_COUNT_PREFIX) {
            let Some(v) = json else {
                return Ok(ConfigRecord::Other {
                    key: key.to_owned(),
                });
            };
            let tasks = v
                .get("task-count")
                .and_then(Json::as_u64)
                .ok_or_else(|| err(key, "expected {\"task-count\": n}"))?;
            return Ok(ConfigRecord::TaskCount {
                connector: connector.to_owned(),
                tasks: u32::try_from(tasks).map_err(|_| err(key, "task count too large"))?,
            });
        }
        if let Some(connector) = key.strip_prefix("target-state-") {
            let Some(v) = json else {
                return Ok(ConfigRecord::Other {
                    key: key.to_owned(),
                });
            };
            let state = v
                .get("state.v2")
                .or_else(|| v.get("state"))
                .cloned()
                .ok_or_else(|| err(key, "expected {\"state\": …}"))?;
            let state: TargetState = serde_json::from_value(state)
                .map_err(|e| err(key, format!("unknown state: {e}")))?;
            return Ok(ConfigRecord::TargetState {
                connector: connector.to_owned(),
                state,
            });
        }
        if let Some(group) = key.strip_prefix(LEGACY_ASSIGNMENT_PREFIX) {
            return Ok(ConfigRecord::LegacyAssignment {
                group: group.to_owned(),
                value: json,
            });
        }
        Ok(ConfigRecord::Other {
            key: key.to_owned(),
        })
    }
}

/// The config topic folded into current state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigState {
    pub connectors: BTreeMap<String, Props>,
    pub target_states: BTreeMap<String, TargetState>,
    /// Committed task configs per connector, in task order.
    pub tasks: BTreeMap<String, Vec<Props>>,
    /// Task configs written but not yet committed.
    pending: BTreeMap<String, BTreeMap<u32, Props>>,
    /// `assignment-<group>` records an older kconnect left here.
    pub legacy_assignments: BTreeMap<String, Json>,
    /// The newest task-count record per connector (exactly-once sources).
    pub task_count_records: BTreeMap<String, u32>,
    /// Connectors whose newest task configs came after their newest
    /// task-count record: their older tasks' producers must be fenced
    /// before the new tasks start (Java's `pendingFencing`).
    pub pending_fencing: BTreeSet<String>,
    /// Task-config commits seen per connector (Java's task config
    /// generation): a fencing done for one generation is stale if another
    /// was committed meanwhile.
    pub task_generations: BTreeMap<String, u64>,
}

impl ConfigState {
    pub fn apply(&mut self, record: ConfigRecord) {
        match record {
            ConfigRecord::Connector {
                name,
                props: Some(p),
            } => {
                self.connectors.insert(name, p);
            }
            ConfigRecord::Connector { name, props: None } => {
                self.connectors.remove(&name);
                self.target_states.remove(&name);
                self.tasks.remove(&name);
                self.pending.remove(&name);
                self.pending_fencing.remove(&name);
            }
            ConfigRecord::Task {
                connector,
                task,
                props,
            } => {
                self.pending
                    .entry(connector)
                    .or_default()
                    .insert(task, props);
            }
            ConfigRecord::Commit { connector, tasks } => {
                // Like Java: a commit whose task configs are incomplete is
                // ignored (they were compacted away or never written).
                let pending = self.pending.remove(&connector).unwrap_or_default();
                let configs: Option<Vec<Props>> =
                    (0..tasks).map(|n| pending.get(&n).cloned()).collect();
                match configs {
                    Some(c) => {
                        *self.task_generations.entry(connector.clone()).or_default() += 1;
                        self.pending_fencing.insert(connector.clone());
                        self.tasks.insert(connector, c);
                    }
                    None => {
                        tracing::warn!(connector = %connector, tasks, "ignoring a task commit without all its task configs")
                    }
                }
            }
            ConfigRecord::TargetState { connector, state } => {
                self.target_states.insert(connector, state);
            }
            ConfigRecord::TaskCount { connector, tasks } => {
                self.pending_fencing.remove(&connector);
                self.task_count_records.insert(connector, tasks);
            }
            ConfigRecord::LegacyAssignment {
                group,
                value: Some(v),
            } => {
                self.legacy_assignments.insert(group, v);
            }
            ConfigRecord::LegacyAssignment { group, value: None } => {
                self.legacy_assignments.remove(&group);
            }
            ConfigRecord::Other { .. } => {}
        }
    }

    /// Whether an exactly-once source connector's tasks must wait for a
    /// zombie fencing before they start.
    pub fn pending_fencing(&self, connector: &str) -> bool {
        self.pending_fencing.contains(connector)
    }

    /// The target state of a connector (Java's default is STARTED).
    pub fn target_state(&self, connector: &str) -> TargetState {
        self.target_states
            .get(connector)
            .copied()
            .unwrap_or(TargetState::Started)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::config::props_of;

    #[test]
    fn encodes_like_java() {
        let (k, v) = ConfigRecord::Connector {
            name: "sink".into(),
            props: Some(props_of(&[
                ("connector.class", "FileStreamSink"),
                ("topics", "t"),
            ])),
        }
        .encode();
        assert_eq!(k, "connector-sink");
        assert_eq!(
            String::from_utf8(v.unwrap()).unwrap(),
            r#"{"properties":{"connector.class":"FileStreamSink","topics":"t"}}"#
        );
        let (k, v) = ConfigRecord::TargetState {
            connector: "sink".into(),
            state: TargetState::Stopped,
        }
        .encode();
        assert_eq!(k, "target-state-sink");
        assert_eq!(
            String::from_utf8(v.unwrap()).unwrap(),
            r#"{"state":"PAUSED","state.v2":"STOPPED"}"#
        );
        assert_eq!(
            ConfigRecord::Commit {
                connector: "a-b".into(),
                tasks: 2
            }
            .encode(),
            ("commit-a-b".into(), Some(br#"{"tasks":2}"#.to_vec()))
        );
    }

    #[test]
    fn round_trips_and_reads_java_v1_target_state() {
        for r in [
            ConfigRecord::Connector {
                name: "c".into(),
                props: Some(props_of(&[("a", "1")])),
            },
            ConfigRecord::Connector {
                name: "c".into(),
                props: None,
            },
            ConfigRecord::Task {
                connector: "my-conn".into(),
                task: 3,
                props: props_of(&[("x", "y")]),
            },
            ConfigRecord::Commit {
                connector: "c".into(),
                tasks: 4,
            },
            ConfigRecord::TargetState {
                connector: "c".into(),
                state: TargetState::Paused,
            },
        ] {
            let (k, v) = r.encode();
            assert_eq!(ConfigRecord::decode(&k, v.as_deref()).unwrap(), r);
        }
        let java_v1 =
            ConfigRecord::decode("target-state-c", Some(br#"{"state":"PAUSED"}"#)).unwrap();
        assert_eq!(
            java_v1,
            ConfigRecord::TargetState {
                connector: "c".into(),
                state: TargetState::Paused
            }
        );
        assert!(ConfigRecord::decode("connector-c", Some(b"{nope")).is_err());
        assert!(matches!(
            ConfigRecord::decode("session-key", Some(b"{}")).unwrap(),
            ConfigRecord::Other { .. }
        ));
    }

    #[test]
    fn legacy_assignment_is_read_and_its_tombstone_removes_it() {
        let mut s = ConfigState::default();
        s.apply(
            ConfigRecord::decode("assignment-grp", Some(br#"{"generation":4,"workers":{}}"#))
                .unwrap(),
        );
        assert_eq!(s.legacy_assignments["grp"]["generation"], 4);
        let tombstone = ConfigRecord::LegacyAssignment {
            group: "grp".into(),
            value: None,
        };
        let (k, v) = tombstone.encode();
        assert_eq!((k.as_str(), v), ("assignment-grp", None));
        s.apply(ConfigRecord::decode(&k, None).unwrap());
        assert!(s.legacy_assignments.is_empty());
    }

    #[test]
    fn task_configs_become_visible_on_commit_and_vanish_with_the_connector() {
        let mut s = ConfigState::default();
        s.apply(ConfigRecord::Connector {
            name: "c".into(),
            props: Some(props_of(&[("a", "1")])),
        });
        s.apply(ConfigRecord::Task {
            connector: "c".into(),
            task: 0,
            props: props_of(&[("t", "0")]),
        });
        s.apply(ConfigRecord::Task {
            connector: "c".into(),
            task: 1,
            props: props_of(&[("t", "1")]),
        });
        assert!(s.tasks.is_empty(), "not visible before the commit");
        s.apply(ConfigRecord::Commit {
            connector: "c".into(),
            tasks: 2,
        });
        assert_eq!(s.tasks["c"].len(), 2);
        // An incomplete commit is ignored; the previous set stays.
        s.apply(ConfigRecord::Task {
            connector: "c".into(),
            task: 0,
            props: props_of(&[("t", "new")]),
        });
        s.apply(ConfigRecord::Commit {
            connector: "c".into(),
            tasks: 3,
        });
        assert_eq!(s.tasks["c"][0]["t"], "0");
        s.apply(ConfigRecord::TargetState {
            connector: "c".into(),
            state: TargetState::Paused,
        });
        assert_eq!(s.target_state("c"), TargetState::Paused);
        s.apply(ConfigRecord::Connector {
            name: "c".into(),
            props: None,
        });
        assert!(s.connectors.is_empty() && s.tasks.is_empty());
        assert_eq!(s.target_state("c"), TargetState::Started);
    }

    #[test]
    fn task_count_records_read_like_java_and_end_a_pending_fencing() {
        let record = ConfigRecord::TaskCount {
            connector: "orders".into(),
            tasks: 3,
        };
        let (k, v) = record.encode();
        assert_eq!(k, "tasks-fencing-orders");
        assert_eq!(v.as_deref(), Some(&br#"{"task-count":3}"#[..]));
        assert_eq!(ConfigRecord::decode(&k, v.as_deref()).unwrap(), record);

        let mut state = ConfigState::default();
        let task = |n: u32| ConfigRecord::Task {
            connector: "orders".into(),
            task: n,
            props: Props::new(),
        };
        state.apply(task(0));
        state.apply(ConfigRecord::Commit {
            connector: "orders".into(),
            tasks: 1,
        });
        assert!(state.pending_fencing("orders"));
        assert_eq!(state.task_generations["orders"], 1);
        state.apply(record.clone());
        assert!(!state.pending_fencing("orders"));
        assert_eq!(state.task_count_records["orders"], 3);
        // New task configs need a new fencing; a record before them does not count.
        state.apply(task(0));
        state.apply(ConfigRecord::Commit {
            connector: "orders".into(),
            tasks: 1,
        });
        assert!(state.pending_fencing("orders"));
        assert_eq!(state.task_generations["orders"], 2);
        state.apply(ConfigRecord::Connector {
            name: "orders".into(),
            props: None,
        });
        assert!(!state.pending_fencing("orders"));
    }
}
