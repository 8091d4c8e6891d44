//! A source connector's own offset topic (KIP-618: `offsets.storage.topic`
//! in a connector config), read together with the worker's offset topic as
//! Java's `ConnectorOffsetBackingStore` does: the connector's topic is the
//! primary store (an exactly-once task writes its offsets there, in its
//! transactions), the worker's the secondary one (offsets found only there
//! are still read, e.g. those written before the connector had a topic of
//! its own; every commit is copied there afterwards, best effort).

use std::sync::Arc;
use std::time::Duration;

use super::offset_topic::KafkaOffsetStore;
use super::offsets::{OffsetStore, OffsetStoreError};
use super::topic_log::{TopicLog, TopicLogError, TopicSpec};
use crate::connect::{OffsetMap, Props};

/// The connector key naming its own offset topic.
pub const CONNECTOR_OFFSETS_TOPIC: &str = "offsets.storage.topic";

/// A connector's own offset topic over the worker's offsets.
pub struct LayeredOffsetStore {
    own: KafkaOffsetStore,
    worker: Arc<dyn OffsetStore>,
}

/// The connector's own offset topic, when its config names one other than
/// the worker's.
pub fn own_topic(connector: &Props, worker: &dyn OffsetStore) -> Option<String> {
    connector
        .get(CONNECTOR_OFFSETS_TOPIC)
        .map(|t| t.trim())
        .filter(|t| !t.is_empty() && Some(*t) != worker.topic())
        .map(str::to_owned)
}

impl LayeredOffsetStore {
    /// Creates the connector's topic if missing (compacted, with the
    /// worker's `offset.storage.partitions` and
    /// `offset.storage.replication.factor`, as Java does) and reads it.
    pub async fn open(
        bootstrap: &str,
        worker_props: &Props,
        client: &Props,
        topic: &str,
        worker: Arc<dyn OffsetStore>,
    ) -> Result<LayeredOffsetStore, TopicLogError> {
        let int = |key: &str, default: i32| {
            worker_props
                .get(key)
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(default)
        };
        let spec = TopicSpec {
            name: topic.to_owned(),
            partitions: int("offset.storage.partitions", 25),
            replication_factor: int("offset.storage.replication.factor", -1),
        };
        TopicLog::ensure_topic(bootstrap, client, &spec).await?;
        let own = KafkaOffsetStore::load(
            TopicLog::open(bootstrap, topic, client)?,
            Duration::from_secs(60),
        )
        .await?;
        Ok(LayeredOffsetStore { own, worker })
    }

    /// The secondary write, off the caller's thread.
    fn copy_to_worker(&self, connector: &str, offsets: &[(OffsetMap, OffsetMap)]) {
        let (worker, connector, offsets) =
            (self.worker.clone(), connector.to_owned(), offsets.to_vec());
        let copy = move || {
            if let Err(e) = worker.commit(&connector, &offsets) {
                tracing::warn!(connector = %connector, error = %e, "copying offsets to the worker's offset topic failed; the connector's own topic has them");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => drop(rt.spawn_blocking(copy)),
            Err(_) => copy(),
        }
    }
}

impl OffsetStore for LayeredOffsetStore {
    fn get(&self, connector: &str, partition: &OffsetMap) -> Option<OffsetMap> {
        self.own
            .get(connector, partition)
            .or_else(|| self.worker.get(connector, partition))
    }

    fn commit(
        &self,
        connector: &str,
        offsets: &[(OffsetMap, OffsetMap)],
    ) -> Result<(), OffsetStoreError> {
        self.own.commit(connector, offsets)?;
        self.copy_to_worker(connector, offsets);
        Ok(())
    }

    fn topic(&self) -> Option<&str> {
        self.own.topic()
    }

    fn remember(&self, connector: &str, offsets: &[(OffsetMap, OffsetMap)]) {
        self.own.remember(connector, offsets);
        self.copy_to_worker(connector, offsets);
    }

    fn refresh(&self) -> Result<(), OffsetStoreError> {
        OffsetStore::refresh(&self.own)?;
        self.worker.refresh()
    }

    fn list(&self, connector: &str) -> Vec<(OffsetMap, OffsetMap)> {
        let mut all = self.worker.list(connector);
        for (partition, offset) in self.own.list(connector) {
            match all.iter_mut().find(|(p, _)| *p == partition) {
                Some(entry) => entry.1 = offset,
                None => all.push((partition, offset)),
            }
        }
        all
    }

    fn modify(
        &self,
        connector: &str,
        changes: &[(OffsetMap, Option<OffsetMap>)],
    ) -> Result<(), OffsetStoreError> {
        self.own.modify(connector, changes)?;
        self.worker.modify(connector, changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryOffsetStore;

    #[test]
    fn a_connector_topic_other_than_the_workers_is_its_own() {
        let worker = MemoryOffsetStore::default();
        let props = |t: &str| Props::from([(CONNECTOR_OFFSETS_TOPIC.to_owned(), t.to_owned())]);
        assert_eq!(own_topic(&props("mine"), &worker), Some("mine".to_owned()));
        assert_eq!(own_topic(&props(" "), &worker), None);
        assert_eq!(own_topic(&Props::new(), &worker), None);
    }
}
