//! The JDBC sink for PostgreSQL, for the configs of both Java JDBC sinks:
//! Confluent's `io.confluent.connect.jdbc.JdbcSinkConnector` and
//! Debezium's `io.debezium.connector.jdbc.JdbcSinkConnector`, each with its
//! own keys and defaults ([`config`]).
//!
//! A `put` is planned into per-table runs ([`rows`], [`writer`]), tables
//! are created or evolved as the config allows ([`tables`]), and the runs
//! are written in one transaction of multi-row statements ([`dialect`],
//! values as text cast by the server, [`values`]). The framework commits
//! consumer offsets only after `put` returned, so after a crash records are
//! written again: with `insert.mode=upsert` that is harmless.

pub mod config;
pub mod dialect;
pub mod rows;
pub mod session;
pub mod tables;
pub mod url;
pub mod values;
pub mod writer;

use std::sync::Arc;

use async_trait::async_trait;
use jiff::tz::TimeZone;

use crate::connect::{
    ConfigDef, ConfigError, ConnectError, ConnectResult, Connector, ConnectorContext, Props,
    SinkConnector, SinkRecord, SinkTask, SinkTaskContext,
};
use crate::connectors::postgres_cdc::tls::PgTls;

use config::{Flavor, SinkSettings};
use writer::{Failure, Writer};

/// Confluent's sink classes.
pub const CONFLUENT_CLASS: &str = "io.confluent.connect.jdbc.JdbcSinkConnector";
pub const CONFLUENT_TASK_CLASS: &str = "io.confluent.connect.jdbc.sink.JdbcSinkTask";
/// Debezium's sink classes.
pub const DEBEZIUM_CLASS: &str = "io.debezium.connector.jdbc.JdbcSinkConnector";
pub const DEBEZIUM_TASK_CLASS: &str = "io.debezium.connector.jdbc.JdbcSinkConnectorTask";

/// Parses the settings and the TLS policy (whose files are read now).
fn settings(flavor: Flavor, props: &Props) -> Result<(SinkSettings, PgTls, TimeZone), ConfigError> {
    let settings = SinkSettings::parse(flavor, props)?;
    let tls = session::tls(&settings)?;
    let zone = TimeZone::get(&settings.time_zone).map_err(|e| {
        let key = match flavor {
            Flavor::Confluent => config::DB_TIMEZONE,
            Flavor::Debezium => config::USE_TIME_ZONE,
        };
        ConfigError::new(
            key,
            format!("{:?} is not a time zone: {e}", settings.time_zone),
        )
    })?;
    Ok((settings, tls, zone))
}

/// The connector: validates, and hands every task the same config (each
/// task writes the partitions the consumer group gives it).
pub struct JdbcSinkConnector {
    flavor: Flavor,
    props: Props,
}

impl JdbcSinkConnector {
    pub fn confluent() -> JdbcSinkConnector {
        JdbcSinkConnector {
            flavor: Flavor::Confluent,
            props: Props::new(),
        }
    }

    pub fn debezium() -> JdbcSinkConnector {
        JdbcSinkConnector {
            flavor: Flavor::Debezium,
            props: Props::new(),
        }
    }
}

#[async_trait]
impl Connector for JdbcSinkConnector {
    fn config_def(&self) -> ConfigDef {
        config::config_def(self.flavor)
    }

    fn validate(&self, props: &Props) -> Vec<ConfigError> {
        let mut errors = self.config_def().validate(props);
        if errors.is_empty() {
            if let Err(e) = settings(self.flavor, props) {
                errors.push(e);
            }
        }
        errors
    }

    /// Connects once, as the Java sinks' validation does.
    async fn validate_live(&self, props: &Props) -> Vec<ConfigError> {
        let Ok((settings, tls, _)) = settings(self.flavor, props) else {
            return Vec::new();
        };
        match session::connect(&settings, &tls).await {
            Ok(_) => Vec::new(),
            Err(e) => vec![ConfigError::new(config::CONNECTION_URL, e.to_string())],
        }
    }

    async fn start(&mut self, _ctx: Arc<dyn ConnectorContext>, props: &Props) -> ConnectResult<()> {
        settings(self.flavor, props)?;
        self.props = props.clone();
        Ok(())
    }

    async fn task_configs(&self, max_tasks: usize) -> ConnectResult<Vec<Props>> {
        Ok(vec![self.props.clone(); max_tasks.max(1)])
    }
}

impl SinkConnector for JdbcSinkConnector {
    fn create_task(&self) -> Box<dyn SinkTask> {
        Box::new(JdbcSinkTask {
            flavor: self.flavor,
            state: None,
        })
    }
}

/// A running task's session and settings.
struct Running {
    settings: SinkSettings,
    tls: PgTls,
    zone: TimeZone,
    ctx: SinkTaskContext,
    writer: Writer,
    client: Option<tokio_postgres::Client>,
    /// Retriable failures left before the next one fails the task
    /// (`max.retries`, reset by every committed `put`).
    retries_left: u32,
}

pub struct JdbcSinkTask {
    flavor: Flavor,
    state: Option<Running>,
}

/// Hands a record the sink cannot write to the framework's errant record
/// reporter (DLQ, log, `errors.tolerance`); without one, the task fails
/// with it.
fn report(ctx: &SinkTaskContext, record: &SinkRecord, error: ConnectError) -> ConnectResult<()> {
    match ctx.errant_record_reporter() {
        Some(reporter) => reporter.report(record, &error),
        None => Err(error),
    }
}

impl Running {
    /// A retriable failure: the batch comes again after the backoff,
    /// unless the retries are used up.
    fn transient(&mut self, error: ConnectError) -> ConnectResult<()> {
        if self.client.as_ref().is_some_and(|c| c.is_closed()) {
            self.client = None;
        }
        self.writer.reset();
        if self.retries_left == 0 {
            return Err(ConnectError::other(format!(
                "{error} (failed after {} retries)",
                self.settings.max_retries
            )));
        }
        self.retries_left -= 1;
        tracing::warn!(error = %error, retries_left = self.retries_left, "the JDBC sink will retry the batch");
        self.ctx.timeout(self.settings.retry_backoff);
        Err(error)
    }

    async fn put(&mut self, records: &[SinkRecord]) -> ConnectResult<()> {
        let (plan, errant) = writer::plan(&self.settings, &self.zone, records);
        for e in errant {
            report(&self.ctx, &records[e.record], e.error)?;
        }
        if plan.is_empty() {
            return Ok(());
        }
        if self.client.is_none() {
            match session::connect(&self.settings, &self.tls).await {
                Ok(c) => {
                    self.writer.reset();
                    self.client = Some(c);
                }
                Err(e) if e.is_retriable() => return self.transient(e),
                Err(e) => return Err(e),
            }
        }
        let Some(client) = self.client.as_mut() else {
            return Err(ConnectError::other("no database session"));
        };
        let mut result = self.writer.prepare_tables(client, &plan).await;
        if result.is_ok() {
            result = self.writer.write(client, &plan).await;
        }
        if let Err(Failure::Statement(e)) = &result {
            // Maybe the table changed since it was read: once more with a
            // fresh look (and the DDL the config allows).
            tracing::warn!(error = %e, "a batch statement does not fit the table; reading the table again");
            self.writer.reset();
            result = self.writer.prepare_tables(client, &plan).await;
            if result.is_ok() {
                result = self.writer.write(client, &plan).await;
            }
        }
        if let Err(Failure::Data(why)) = &result {
            // The tables are as read (a statement they cannot take is the
            // Statement case above); only the rows are in question.
            tracing::warn!(error = %why, rows = plan.rows(), "a batch statement failed on its data; writing row by row");
            let ctx = &self.ctx;
            let mut errant = |i: usize, error: ConnectError| report(ctx, &records[i], error);
            result = self
                .writer
                .write_row_by_row(client, &plan, records, &mut errant)
                .await;
        }
        match result {
            Ok(()) => {
                self.retries_left = self.settings.max_retries;
                Ok(())
            }
            Err(Failure::Transient(e)) => self.transient(e),
            Err(Failure::Data(why)) => Err(ConnectError::other(why)),
            Err(Failure::Fatal(e) | Failure::Statement(e)) => {
                self.writer.reset();
                Err(e)
            }
        }
    }
}

#[async_trait]
impl SinkTask for JdbcSinkTask {
    async fn start(&mut self, ctx: SinkTaskContext, props: &Props) -> ConnectResult<()> {
        let (settings, tls, zone) = settings(self.flavor, props)?;
        self.state = Some(Running {
            retries_left: settings.max_retries,
            writer: Writer::new(settings.clone()),
            settings,
            tls,
            zone,
            ctx,
            client: None,
        });
        Ok(())
    }

    async fn put(&mut self, records: Vec<SinkRecord>) -> ConnectResult<()> {
        if records.is_empty() {
            return Ok(());
        }
        match self.state.as_mut() {
            Some(state) => state.put(&records).await,
            None => Err(ConnectError::other("put before start")),
        }
    }

    async fn stop(&mut self) -> ConnectResult<()> {
        self.state = None;
        Ok(())
    }
}
