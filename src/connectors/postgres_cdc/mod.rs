//! PostgreSQL change data capture, a drop-in for Debezium's
//! `io.debezium.connector.postgresql.PostgresConnector` (3.6.1.Final):
//! Debezium's keys, topics, record shapes and offsets.
//!
//! - [`config`]: the keys, their defaults and checks.
//! - [`catalog`]: tables, columns, publication, slot and snapshot reads.
//! - [`types`]: PostgreSQL types to Connect schemas and values.
//! - [`pgoutput`]: the change messages of the replication stream.
//! - [`schema`]: a table's key, value and envelope shapes, and rows.
//!
//! Work in progress (issue 15): the snapshot and the streaming task are not
//! built yet, so the connector is not registered with the engine.

pub mod catalog;
pub mod config;
pub mod pgoutput;
pub mod schema;
pub mod types;
