//! kconnect's plugin API: the data model, records, config definitions,
//! converters, transforms and the connector and task traits, in the shape of
//! Java's `org.apache.kafka.connect.*` API.
//!
//! Connectors, converters and transforms build against this crate alone: it
//! depends on nothing else of kconnect. The engine (the `kconnect` crate)
//! hosts them; see `docs/connector-contract.md` for what a connector must do.
#![forbid(unsafe_code)]

pub mod config;
pub mod config_provider;
pub mod connector;
pub mod converter;
pub mod data;
pub mod error;
pub mod metrics;
pub mod record;
pub mod transform;

pub use config::{
    Config, ConfigDef, ConfigError, ConfigType, Importance, Props, Recommender, Validator,
};
pub use config_provider::{ConfigProviders, Masked, Redactor, ResolveError, Resolved};
pub use connector::{
    CommittedOffsets, Connector, ConnectorContext, ConnectorKind, DetachedContext,
    ErrantRecordReporter, ExactlyOnceSupport, OffsetReader, SinkConnector, SinkContextControl,
    SinkOffsets, SinkRequests, SinkTask, SinkTaskContext, SourceConnector, SourceTask,
    SourceTaskContext, TransactionBoundaries, TransactionContext,
};
pub use converter::{Converter, ConverterError, SchemaAndValue};
pub use data::{Decimal, Field, Schema, SchemaBuilder, SchemaRef, SchemaType, Struct, Value};
pub use error::{BoxError, ConnectError, ConnectResult};
pub use metrics::{PluginMetrics, PluginMetricsRegistry};
pub use record::{ConnectRecord, Header, OffsetMap, SinkRecord, SourceRecord, TopicPartition};
