//! The JDBC sink for PostgreSQL (issue 16), for the configs of both Java
//! JDBC sinks: Confluent's `io.confluent.connect.jdbc.JdbcSinkConnector` and
//! Debezium's `io.debezium.connector.jdbc.JdbcSinkConnector`.
//!
//! In progress: the connection URL, both sinks' keys, the PostgreSQL
//! dialect (statements and column types), records to actions (keys per
//! `pk.mode`, deletes, Debezium change events) and values as PostgreSQL
//! text are here and unit-tested. The writer, the connector and its
//! registration are not yet, so no config can name it. The plan: one
//! transaction per `put`; per table and kind, one statement over
//! `unnest($1::text[], …)` cast to the catalog's column types; upserts
//! deduplicated by key within a run; `pgjdbc`'s `ssl*` URL parameters
//! through `postgres_cdc::tls::PgTls::new`.

pub mod config;
pub mod dialect;
pub mod rows;
pub mod session;
pub mod tables;
pub mod url;
pub mod values;
pub mod writer;
