//! The plugin API and data model shared by connectors, converters and the
//! engine.

pub mod config;
pub mod config_provider;
pub mod connector;
pub mod converter;
pub mod data;
pub mod record;
pub mod transform;

pub use config::{Config, ConfigDef, ConfigError, ConfigType, Importance, Props, Validator};
pub use config_provider::{ConfigProviders, Masked, Redactor, ResolveError, Resolved};
pub use connector::{
    ConnectError, ConnectResult, Connector, ConnectorKind, OffsetReader, SinkConnector,
    SinkOffsets, SinkTask, SourceConnector, SourceTask,
};
pub use converter::{Converter, ConverterError, SchemaAndValue};
pub use data::{Decimal, Field, Schema, SchemaBuilder, SchemaRef, SchemaType, Struct, Value};
pub use record::{ConnectRecord, Header, OffsetMap, SinkRecord, SourceRecord, TopicPartition};
