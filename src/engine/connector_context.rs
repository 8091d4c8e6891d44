//! The framework side of a connector's [`ConnectorContext`]: requests a
//! running connector makes (recompute task configs, fail) reach the herder
//! that runs it as events on a channel, handled on the herder's loop.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::connect::{ConnectError, ConnectorContext, PluginMetrics, PluginMetricsRegistry};

/// What a connector asked of its herder.
#[derive(Debug)]
pub enum ConnectorEvent {
    /// `request_task_reconfiguration`: compute the task configs again.
    Reconfigure { connector: String },
    /// `raise_error`: the connector is FAILED with this trace.
    Failed { connector: String, trace: String },
}

impl ConnectorEvent {
    pub fn connector(&self) -> &str {
        match self {
            ConnectorEvent::Reconfigure { connector }
            | ConnectorEvent::Failed { connector, .. } => connector,
        }
    }
}

/// Where a herder's connectors send their events, and the registry their
/// metrics go to.
#[derive(Clone)]
pub struct ConnectorEvents {
    tx: mpsc::UnboundedSender<ConnectorEvent>,
    plugin_metrics: Arc<PluginMetricsRegistry>,
}

impl ConnectorEvents {
    pub fn new(
        plugin_metrics: Arc<PluginMetricsRegistry>,
    ) -> (ConnectorEvents, mpsc::UnboundedReceiver<ConnectorEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (ConnectorEvents { tx, plugin_metrics }, rx)
    }

    /// The context of one run of connector `name`; its metrics go when the
    /// context is dropped with [`HostedConnector::release`].
    pub fn context(&self, name: &str) -> Arc<HostedConnector> {
        Arc::new(HostedConnector {
            name: name.to_owned(),
            tx: self.tx.clone(),
            metrics: self.plugin_metrics.handle(&[("connector", name)]),
            registry: self.plugin_metrics.clone(),
        })
    }
}

/// One running connector's [`ConnectorContext`].
pub struct HostedConnector {
    name: String,
    tx: mpsc::UnboundedSender<ConnectorEvent>,
    metrics: PluginMetrics,
    registry: Arc<PluginMetricsRegistry>,
}

impl HostedConnector {
    /// The connector stopped: its own metrics go.
    pub fn release(&self) {
        self.registry.remove(&self.metrics);
    }
}

impl ConnectorContext for HostedConnector {
    fn request_task_reconfiguration(&self) {
        tracing::info!(connector = %self.name, "the connector asked for its task configs to be computed again");
        // The herder is gone only at shutdown, when nothing is recomputed.
        let _ = self.tx.send(ConnectorEvent::Reconfigure {
            connector: self.name.clone(),
        });
    }

    fn raise_error(&self, error: ConnectError) {
        let trace = error.trace();
        tracing::error!(connector = %self.name, trace = %trace, "the connector raised an error");
        let _ = self.tx.send(ConnectorEvent::Failed {
            connector: self.name.clone(),
            trace,
        });
    }

    fn metrics(&self) -> &PluginMetrics {
        &self.metrics
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn requests_reach_the_herder_and_metrics_go_with_the_run() {
        let registry = Arc::new(PluginMetricsRegistry::default());
        let (events, mut rx) = ConnectorEvents::new(registry.clone());
        let ctx = events.context("pg");
        ctx.metrics().counter("tables", "Captured tables").inc();
        assert_eq!(registry.samples().len(), 1);
        ctx.request_task_reconfiguration();
        ctx.raise_error(ConnectError::caused_by(
            "lost the replication connection",
            std::io::Error::other("reset by peer"),
        ));
        assert!(
            matches!(rx.recv().await, Some(ConnectorEvent::Reconfigure { connector }) if connector == "pg")
        );
        match rx.recv().await {
            Some(ConnectorEvent::Failed { connector, trace }) => {
                assert_eq!(connector, "pg");
                assert_eq!(
                    trace,
                    "lost the replication connection\nCaused by: reset by peer"
                );
            }
            other => panic!("{other:?}"),
        }
        ctx.release();
        assert!(registry.samples().is_empty());
    }
}
