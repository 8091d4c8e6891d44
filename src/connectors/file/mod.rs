//! `FileStreamSource` and `FileStreamSink`, compatible with Apache Kafka's
//! `connect-file` connectors: same keys, same offsets
//! (`{"filename": …}` → `{"position": <byte offset>}`).

mod sink;
mod source;

pub use sink::{FileStreamSinkConnector, FileStreamSinkTask};
pub use source::{FileStreamSourceConnector, FileStreamSourceTask};

pub const FILE_CONFIG: &str = "file";
pub const TOPIC_CONFIG: &str = "topic";
pub const BATCH_SIZE_CONFIG: &str = "batch.size";
