//! PostgreSQL change data capture, a drop-in for Debezium's
//! `io.debezium.connector.postgresql.PostgresConnector` (3.6.1.Final):
//! Debezium's keys, topics, record shapes and offsets, through PostgreSQL's
//! built-in `pgoutput` plugin.
//!
//! - [`config`]: the keys, their defaults and checks.
//! - [`catalog`]: tables, columns, publication, slot and snapshot reads.
//! - [`types`]: PostgreSQL types to Connect schemas and values.
//! - [`pgoutput`]: the change messages of the replication stream.
//! - [`schema`]: a table's key, value and envelope shapes, and rows.
//! - [`task`]: the snapshot, the stream, offsets and the slot's flush.

pub mod catalog;
pub mod config;
pub mod pgoutput;
pub mod schema;
pub mod task;
pub mod tls;
pub mod types;

use std::sync::Arc;

use async_trait::async_trait;

use crate::connect::{
    ConfigDef, ConfigError, ConnectResult, Connector, ConnectorContext, Props, SourceConnector,
    SourceTask,
};

pub const CLASS: &str = "io.debezium.connector.postgresql.PostgresConnector";
pub const TASK_CLASS: &str = "io.debezium.connector.postgresql.PostgresConnectorTask";

#[derive(Default)]
pub struct PostgresConnector {
    props: Props,
}

#[async_trait]
impl Connector for PostgresConnector {
    fn config_def(&self) -> ConfigDef {
        config::config_def()
    }

    fn validate(&self, props: &Props) -> Vec<ConfigError> {
        let mut errors = config::validate(props);
        // TLS files are read now, so a wrong path fails validation.
        if errors.is_empty() {
            if let Ok(cfg) = config::PostgresConfig::parse(props) {
                if let Err(e) = tls::PgTls::from_config(&cfg) {
                    errors.push(ConfigError::new(e.key, e.message));
                }
            }
        }
        errors
    }

    async fn start(&mut self, _ctx: Arc<dyn ConnectorContext>, props: &Props) -> ConnectResult<()> {
        config::PostgresConfig::parse(props)?;
        self.props = props.clone();
        Ok(())
    }

    /// One task, as Debezium: one slot is read by one session.
    async fn task_configs(&self, _max_tasks: usize) -> ConnectResult<Vec<Props>> {
        Ok(vec![self.props.clone()])
    }

    fn version(&self) -> &'static str {
        schema::DEBEZIUM_VERSION
    }
}

#[async_trait]
impl SourceConnector for PostgresConnector {
    fn create_task(&self) -> Box<dyn SourceTask> {
        Box::<task::PostgresCdcTask>::default()
    }

    /// As Debezium's: the slot is confirmed only up to committed offsets,
    /// so a restart streams again exactly what was not committed.
    fn exactly_once_support(&self, _props: &Props) -> Option<crate::connect::ExactlyOnceSupport> {
        Some(crate::connect::ExactlyOnceSupport::Supported)
    }
}
