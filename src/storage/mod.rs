//! Where source offsets live: a file in standalone mode, memory in tests;
//! the Kafka offset topic comes with distributed mode.

pub mod offsets;

pub use offsets::{FileOffsetStore, MemoryOffsetStore, OffsetStore, OffsetStoreError};
