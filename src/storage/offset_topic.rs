//! Source offsets in the offset topic (`offset.storage.topic`), in Java's
//! format: key `["<connector>",{partition}]`, value the offset map, a null
//! value resets. Read to the end at start; commits wait for Kafka's ack.

use std::time::Duration;

use futures::future::try_join_all;
use serde_json::Value as Json;

use super::offsets::{offset_key, MemoryOffsetStore, OffsetStore, OffsetStoreError};
use super::topic_log::{TopicLog, TopicLogError};
use crate::connect::OffsetMap;

pub struct KafkaOffsetStore {
    /// Written by commits (shared), read by refreshes (exclusive).
    log: tokio::sync::RwLock<TopicLog>,
    memory: MemoryOffsetStore,
    topic: String,
}

impl KafkaOffsetStore {
    /// Loads every committed offset from the topic.
    pub async fn load(
        mut log: TopicLog,
        timeout: Duration,
    ) -> Result<KafkaOffsetStore, TopicLogError> {
        let memory = MemoryOffsetStore::default();
        // Not waiting for transactions a dead run of this worker left
        // open: each exactly-once task reads to the real end once its own
        // producer has ended them (OffsetStore::refresh).
        let records = log.read_to_stable_end(timeout).await?;
        apply(&memory, log.topic(), records);
        Ok(KafkaOffsetStore {
            topic: log.topic().to_owned(),
            log: tokio::sync::RwLock::new(log),
            memory,
        })
    }

    /// Reads offsets committed since the last read, e.g. by the worker that
    /// ran a task before it moved here, up to the last stable offsets (see
    /// [`TopicLog::read_to_stable_end`]).
    pub async fn refresh(&self, timeout: Duration) -> Result<(), TopicLogError> {
        let mut log = self.log.write().await;
        let records = log.read_to_stable_end(timeout).await?;
        apply(&self.memory, log.topic(), records);
        Ok(())
    }

    /// Reads every offset committed until now, waiting out open
    /// transactions (committed or aborted): for an exactly-once task once
    /// its producer has initialised its transactions.
    pub async fn refresh_to_end(&self, timeout: Duration) -> Result<(), TopicLogError> {
        let mut log = self.log.write().await;
        let records = log.read_to_end(timeout).await?;
        apply(&self.memory, log.topic(), records);
        Ok(())
    }
}

fn apply(memory: &MemoryOffsetStore, topic: &str, records: Vec<(String, Option<Vec<u8>>)>) {
    for (key, value) in records {
        let offset = value.and_then(|v| match serde_json::from_slice::<Json>(&v) {
            Ok(Json::Object(m)) => Some(m),
            _ => {
                tracing::warn!(topic, key = %key, "skipping an offset record that is not a JSON object");
                None
            }
        });
        // Normalise the key as we write it, so lookups match.
        let key = serde_json::from_str::<Json>(&key)
            .map(|k| k.to_string())
            .unwrap_or(key);
        memory.set_by_key(key, offset);
    }
}

impl KafkaOffsetStore {
    /// Writes offsets (`None` resets one) to the topic and waits for
    /// Kafka's acknowledgements. Called from a blocking thread: it blocks
    /// on the runtime.
    fn write(
        &self,
        connector: &str,
        changes: &[(&OffsetMap, Option<&OffsetMap>)],
    ) -> Result<(), OffsetStoreError> {
        let records: Vec<(String, Option<Vec<u8>>)> = changes
            .iter()
            .map(|(p, o)| {
                (
                    offset_key(connector, p),
                    o.map(|o| Json::Object(o.clone()).to_string().into_bytes()),
                )
            })
            .collect();
        tokio::runtime::Handle::current()
            .block_on(async {
                let log = self.log.read().await;
                try_join_all(records.iter().map(|(k, v)| log.send(k, v.as_deref()))).await
            })
            .map(|_| ())
            .map_err(|e| OffsetStoreError::Io {
                context: format!("writing offsets of {connector} to the offset topic"),
                source: std::io::Error::other(e.to_string()),
            })
    }
}

impl OffsetStore for KafkaOffsetStore {
    fn get(&self, connector: &str, partition: &OffsetMap) -> Option<OffsetMap> {
        self.memory.get(connector, partition)
    }

    /// Called from a blocking thread (the source loop commits in
    /// `spawn_blocking`), so it may block on the runtime.
    fn commit(
        &self,
        connector: &str,
        offsets: &[(OffsetMap, OffsetMap)],
    ) -> Result<(), OffsetStoreError> {
        let changes: Vec<(&OffsetMap, Option<&OffsetMap>)> =
            offsets.iter().map(|(p, o)| (p, Some(o))).collect();
        self.write(connector, &changes)?;
        self.memory.commit(connector, offsets)
    }

    fn list(&self, connector: &str) -> Vec<(OffsetMap, OffsetMap)> {
        self.memory.list(connector)
    }

    /// Writes the changes (a null value resets) and waits for them.
    fn modify(
        &self,
        connector: &str,
        changes: &[(OffsetMap, Option<OffsetMap>)],
    ) -> Result<(), OffsetStoreError> {
        let refs: Vec<(&OffsetMap, Option<&OffsetMap>)> =
            changes.iter().map(|(p, o)| (p, o.as_ref())).collect();
        self.write(connector, &refs)?;
        self.memory.modify(connector, changes)
    }

    fn topic(&self) -> Option<&str> {
        Some(&self.topic)
    }

    fn remember(&self, connector: &str, offsets: &[(OffsetMap, OffsetMap)]) {
        // Infallible for memory.
        let _ = self.memory.commit(connector, offsets);
    }

    /// Called from a blocking thread, like `commit`. Longer than the
    /// producers' default transaction timeout (60 s): a transaction whose
    /// producer died with no successor ends only when the broker expires it.
    fn refresh(&self) -> Result<(), OffsetStoreError> {
        tokio::runtime::Handle::current()
            .block_on(self.refresh_to_end(Duration::from_secs(120)))
            .map_err(|e| OffsetStoreError::Io {
                context: format!("reading the offset topic {}", self.topic),
                source: std::io::Error::other(e.to_string()),
            })
    }
}
