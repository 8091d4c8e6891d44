//! The JDBC sink for PostgreSQL (issue 16), for the configs of both Java
//! JDBC sinks: Confluent's `io.confluent.connect.jdbc.JdbcSinkConnector` and
//! Debezium's `io.debezium.connector.jdbc.JdbcSinkConnector`.
//!
//! In progress: the connection URL and the PostgreSQL dialect (statements
//! and column types) are here and unit-tested; the connector, its task and
//! its registration are not yet, so no config can name it.

pub mod config;
pub mod dialect;
pub mod url;
pub mod values;
