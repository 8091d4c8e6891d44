//! Where Connect state lives: source offsets (a file in standalone mode,
//! the offset topic in distributed mode, memory in tests), and the config
//! topic's records and the state they fold into.

pub mod config_topic;
pub mod connector_offsets;
pub mod offset_topic;
pub mod offsets;
pub mod status_topic;
pub mod topic_log;

pub use offsets::{FileOffsetStore, MemoryOffsetStore, OffsetStore, OffsetStoreError};
