//! Connectors run in-process on the herder both modes share, the way
//! standalone mode runs them (for tests that need a plugin of their own).

use std::collections::BTreeMap;

use kconnect::connect::Redactor;
use kconnect::connectors::AnyConnector;
use kconnect::engine::connector_config::ValidatedConnector;
use kconnect::engine::herder::{
    connector_task_targets, AlreadyResolved, ConnectorInstance, Herder,
};
use kconnect::engine::{TaskId, TaskState, Worker};
use kconnect::storage::config_topic::TargetState;
use kconnect::storage::status_topic::State;
use tokio_util::sync::CancellationToken;

/// Starts each connector and its tasks; panics unless all run.
pub async fn start(worker: Worker, connectors: Vec<(ValidatedConnector, AnyConnector)>) -> Herder {
    let mut herder = Herder::new(worker);
    let mut targets = BTreeMap::new();
    for (validated, connector) in connectors {
        let name = validated.name.clone();
        let raw = validated.props.clone();
        herder
            .install(ConnectorInstance::new(
                raw,
                validated,
                connector,
                Redactor::default(),
            ))
            .await;
        let configs = herder
            .task_configs(&name)
            .await
            .expect("installed")
            .unwrap_or_else(|trace| panic!("connector {name} failed: {trace}"));
        targets.extend(connector_task_targets(
            &name,
            TargetState::Started,
            &configs,
            &BTreeMap::new(),
        ));
    }
    let reports = herder.reconcile(&targets, &mut AlreadyResolved).await;
    assert!(
        reports.iter().all(|r| r.state == State::Running),
        "{reports:?}"
    );
    herder
}

/// Runs `herder` until `stop` is cancelled, then stops everything; the
/// result is how each task run ended.
pub async fn run_until(mut herder: Herder, stop: CancellationToken) -> BTreeMap<TaskId, TaskState> {
    stop.cancelled().await;
    herder.shutdown().await;
    herder.final_states().clone()
}
