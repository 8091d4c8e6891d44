//! REST writes of an operator-managed worker when its ConnectCluster allows
//! them (`spec.restApi.writes: true`): every change is made to the
//! Connector resource, never to the config topic, so the resources stay
//! the one source of truth and the operator does the rest exactly as for
//! `kubectl`. Creating a connector creates a Connector labelled with the
//! cluster; config updates replace `spec.class`, `spec.tasksMax` and
//! `spec.config`; pause, resume and stop set `spec.state`; restarts are the
//! restart annotations the operator acts on; delete deletes the resource.
//!
//! The worker uses its Pod's service account, which the operator binds to
//! a Role allowing exactly this on Connectors of its namespace.

use std::time::Duration;

use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use crate::api::connector::{
    RestartRequest, ALTER_OFFSETS_ANNOTATION, OFFSETS_ANNOTATION, RESTART_ANNOTATION,
    RESTART_TASK_ANNOTATION,
};
use crate::api::{Connector, ConnectorSpec, ConnectorState, CLUSTER_LABEL};
use crate::connect::Props;
use crate::rest::entities::InitialState;
use crate::rest::RestError;

/// Field manager of the worker's changes, as `kubectl get --show-managed-fields` shows.
const MANAGER: &str = "kconnect-worker-rest";

/// Writes to the Connector resources of one cluster.
pub struct ConnectorResources {
    api: Api<Connector>,
    namespace: String,
    cluster: String,
}

impl ConnectorResources {
    /// With the Pod's service account (in-cluster config, or `KUBECONFIG`).
    pub async fn connect(namespace: &str, cluster: &str) -> Result<Self, kube::Error> {
        let client = Client::try_default().await?;
        Ok(ConnectorResources {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_owned(),
            cluster: cluster.to_owned(),
        })
    }

    /// Creates the Connector `name`, or (with `allow_replace`) replaces its
    /// class, tasks.max and config; `true` when it was created.
    pub async fn put(
        &self,
        name: &str,
        config: &Props,
        allow_replace: bool,
        initial_state: Option<InitialState>,
    ) -> Result<bool, RestError> {
        check_name(name)?;
        let spec = spec_of(config)?;
        // A conflict means someone else changed it in between: read again.
        for _ in 0..5 {
            match self
                .api
                .get_opt(name)
                .await
                .map_err(|e| self.error(name, e))?
            {
                None => {
                    let state = match initial_state {
                        Some(InitialState::Paused) => ConnectorState::Paused,
                        Some(InitialState::Stopped) => ConnectorState::Stopped,
                        _ => ConnectorState::Running,
                    };
                    let mut connector = Connector::new(
                        name,
                        ConnectorSpec {
                            state,
                            ..spec.clone()
                        },
                    );
                    connector.metadata.namespace = Some(self.namespace.clone());
                    connector
                        .labels_mut()
                        .insert(CLUSTER_LABEL.to_owned(), self.cluster.clone());
                    let pp = PostParams {
                        field_manager: Some(MANAGER.to_owned()),
                        ..PostParams::default()
                    };
                    match self.api.create(&pp, &connector).await {
                        Ok(_) => return Ok(true),
                        Err(kube::Error::Api(s)) if s.code == 409 => continue,
                        Err(e) => return Err(self.error(name, e)),
                    }
                }
                Some(existing) => {
                    self.must_be_ours(&existing)?;
                    if !allow_replace {
                        return Err(RestError::conflict(format!(
                            "Connector {name} already exists"
                        )));
                    }
                    let mut updated = existing;
                    updated.spec.class = spec.class.clone();
                    updated.spec.tasks_max = spec.tasks_max;
                    updated.spec.config = spec.config.clone();
                    let pp = PostParams {
                        field_manager: Some(MANAGER.to_owned()),
                        ..PostParams::default()
                    };
                    match self.api.replace(name, &pp, &updated).await {
                        Ok(_) => return Ok(false),
                        Err(kube::Error::Api(s)) if s.code == 409 => continue,
                        Err(e) => return Err(self.error(name, e)),
                    }
                }
            }
        }
        Err(RestError::conflict(format!(
            "Connector {name} kept changing while it was being updated; try again"
        )))
    }

    /// Sets `spec.state` (pause, resume, stop).
    pub async fn set_state(&self, name: &str, state: ConnectorState) -> Result<(), RestError> {
        self.patch(name, json!({"spec": {"state": state.as_str()}}))
            .await
    }

    /// Asks the operator to restart the connector and/or its tasks.
    pub async fn restart(&self, name: &str, request: RestartRequest) -> Result<(), RestError> {
        self.patch(
            name,
            json!({"metadata": {"annotations": {RESTART_ANNOTATION: request.annotation()}}}),
        )
        .await
    }

    /// Asks the operator to restart task `task`.
    pub async fn restart_task(&self, name: &str, task: u32) -> Result<(), RestError> {
        self.patch(
            name,
            json!({"metadata": {"annotations": {RESTART_TASK_ANNOTATION: task.to_string()}}}),
        )
        .await
    }

    /// Asks the operator for an offsets operation (`alter` with its KIP-875
    /// body, or `reset`) and waits for its outcome in the status: Connect's
    /// message, or the reason it failed.
    pub async fn offsets(
        &self,
        name: &str,
        operation: &str,
        body: Option<String>,
        timeout: Duration,
    ) -> Result<String, RestError> {
        self.patch(
            name,
            json!({"metadata": {"annotations": {
                OFFSETS_ANNOTATION: operation,
                ALTER_OFFSETS_ANNOTATION: body,
            }}}),
        )
        .await?;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let c = self.existing(name).await?;
            if !c.annotations().contains_key(OFFSETS_ANNOTATION) {
                let Some(done) = c.status.and_then(|s| s.last_offsets_operation) else {
                    return Err(RestError::internal(format!(
                        "the operator took the offsets request of {name} but reported no outcome"
                    )));
                };
                return if done.succeeded {
                    Ok(done.message)
                } else if done
                    .message
                    .starts_with("Connectors must be in the STOPPED state")
                {
                    Err(RestError::bad_request(done.message))
                } else {
                    Err(RestError::internal(done.message))
                };
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(RestError::internal(format!(
                    "the operator did not carry out the offsets request of {name} in {timeout:?}; it stays asked for ({OFFSETS_ANNOTATION}={operation})"
                )));
            }
        }
    }

    /// Deletes the Connector; its finalizer removes the connector from the
    /// cluster first.
    pub async fn delete(&self, name: &str) -> Result<(), RestError> {
        self.existing(name).await?;
        match self.api.delete(name, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Err(RestError::connector_not_found(name)),
            Err(e) => Err(self.error(name, e)),
        }
    }

    /// Waits (up to `timeout`) until the Connector is gone.
    pub async fn wait_deleted(&self, name: &str, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            if matches!(self.api.get_opt(name).await, Ok(None)) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    async fn patch(&self, name: &str, patch: serde_json::Value) -> Result<(), RestError> {
        self.existing(name).await?;
        let pp = PatchParams {
            field_manager: Some(MANAGER.to_owned()),
            ..PatchParams::default()
        };
        self.api
            .patch(name, &pp, &Patch::Merge(&patch))
            .await
            .map(|_| ())
            .map_err(|e| self.error(name, e))
    }

    /// The Connector `name` of this cluster, or Connect's 404.
    async fn existing(&self, name: &str) -> Result<Connector, RestError> {
        let existing = self
            .api
            .get_opt(name)
            .await
            .map_err(|e| self.error(name, e))?
            .ok_or_else(|| RestError::connector_not_found(name))?;
        self.must_be_ours(&existing)?;
        Ok(existing)
    }

    /// A Connector of another cluster in the namespace is not this
    /// cluster's to change.
    fn must_be_ours(&self, c: &Connector) -> Result<(), RestError> {
        match c.labels().get(CLUSTER_LABEL) {
            Some(cluster) if *cluster == self.cluster => Ok(()),
            other => Err(RestError::conflict(format!(
                "Connector resource {}/{} belongs to ConnectCluster {}, not {}",
                self.namespace,
                c.name_any(),
                other.map_or("(none: no kconnect.dev/cluster label)", String::as_str),
                self.cluster
            ))),
        }
    }

    fn error(&self, name: &str, e: kube::Error) -> RestError {
        match e {
            kube::Error::Api(s) if s.code == 403 => RestError::internal(format!(
                "the worker may not change Connector resource {}/{name}: {} (the ConnectCluster's REST writes grant the workers' service account access to Connectors; is spec.restApi.writes true?)",
                self.namespace, s.message
            )),
            kube::Error::Api(s) if s.code == 422 || s.code == 400 => {
                RestError::bad_request(format!("Connector resource {name}: {}", s.message))
            }
            other => RestError::internal(format!(
                "changing Connector resource {}/{name} failed: {other}",
                self.namespace
            )),
        }
    }
}

/// A Connector's spec from a Connect config: `connector.class` and
/// `tasks.max` move to their fields, `name` is the resource's name.
pub fn spec_of(config: &Props) -> Result<ConnectorSpec, RestError> {
    let class = config
        .get("connector.class")
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| {
            RestError::bad_request("Connector config is missing connector.class".to_owned())
        })?
        .clone();
    let tasks_max = match config.get("tasks.max") {
        None => 1,
        Some(v) => v
            .trim()
            .parse::<i32>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| {
                RestError::bad_request(format!(
                    "Invalid value {v} for configuration tasks.max: must be a positive integer"
                ))
            })?,
    };
    let config = config
        .iter()
        .filter(|(k, _)| !crate::api::connector::RESERVED_CONFIG_KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(ConnectorSpec {
        class,
        tasks_max,
        state: ConnectorState::Running,
        config,
        auto_restart: Default::default(),
    })
}

/// A connector created through REST becomes a resource of the same name,
/// so the name must be a Kubernetes object name (RFC 1123 subdomain).
fn check_name(name: &str) -> Result<(), RestError> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .last()
            .is_some_and(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(RestError::bad_request(format!(
            "Connector name {name:?} cannot be used on this cluster: connectors are Connector resources here, and a resource name has at most 253 characters of lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Props {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_connect_config_becomes_a_connector_spec() {
        let spec = spec_of(&props(&[
            ("name", "orders"),
            ("connector.class", "FileStreamSink"),
            ("tasks.max", "3"),
            ("topics", "orders"),
        ]))
        .expect("valid");
        assert_eq!(spec.class, "FileStreamSink");
        assert_eq!(spec.tasks_max, 3);
        assert_eq!(
            spec.config.into_iter().collect::<Vec<_>>(),
            vec![("topics".to_owned(), "orders".to_owned())]
        );
    }

    #[test]
    fn bad_tasks_max_and_missing_class_name_the_key() {
        let e = spec_of(&props(&[("connector.class", "X"), ("tasks.max", "zero")]))
            .expect_err("invalid");
        assert!(format!("{e:?}").contains("tasks.max"), "{e:?}");
        let e = spec_of(&props(&[("topics", "t")])).expect_err("invalid");
        assert!(format!("{e:?}").contains("connector.class"), "{e:?}");
    }

    #[test]
    fn names_must_be_resource_names() {
        for ok in ["orders", "a", "orders-sink.v2", "0x"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Orders",
            "orders_sink",
            "-a",
            "a-",
            "a b",
            &"a".repeat(254),
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
