//! Source offset stores. Keys use Java's offset-topic form
//! `["<connector>",{<partition>}]` so offsets carry over to the topic store.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value as Json;

use crate::connect::{OffsetMap, OffsetReader};

#[derive(Debug, thiserror::Error)]
pub enum OffsetStoreError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("offset file {path} is corrupt: {source}")]
    Corrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// The key Java's worker writes for a connector's source partition.
pub fn offset_key(connector: &str, partition: &OffsetMap) -> String {
    Json::Array(vec![Json::from(connector), Json::Object(partition.clone())]).to_string()
}

/// The connector and source partition of an offset key
/// (`["<connector>", {<partition>}]`); `None` for a key of another shape.
pub fn parse_offset_key(key: &str) -> Option<(String, OffsetMap)> {
    match serde_json::from_str::<Json>(key).ok()? {
        Json::Array(mut parts) if parts.len() == 2 => {
            let partition = match parts.pop()? {
                Json::Object(p) => p,
                _ => return None,
            };
            match parts.pop()? {
                Json::String(connector) => Some((connector, partition)),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Stores committed source offsets.
pub trait OffsetStore: Send + Sync {
    fn get(&self, connector: &str, partition: &OffsetMap) -> Option<OffsetMap>;
    /// Records offsets and makes them durable before returning.
    fn commit(
        &self,
        connector: &str,
        offsets: &[(OffsetMap, OffsetMap)],
    ) -> Result<(), OffsetStoreError>;

    /// The Kafka topic the offsets live in, for a task that writes them in
    /// its own transactions (exactly-once); `None` for a file or memory.
    fn topic(&self) -> Option<&str> {
        None
    }

    /// Takes note of offsets a task wrote to [`Self::topic`] itself (in a
    /// transaction that committed), without writing them again.
    fn remember(&self, _connector: &str, _offsets: &[(OffsetMap, OffsetMap)]) {}

    /// Reads offsets committed elsewhere since the last read (blocking).
    fn refresh(&self) -> Result<(), OffsetStoreError> {
        Ok(())
    }

    /// Every partition of `connector` with its offset.
    fn list(&self, connector: &str) -> Vec<(OffsetMap, OffsetMap)>;

    /// Sets partitions' offsets; `None` removes one (blocking).
    fn modify(
        &self,
        connector: &str,
        changes: &[(OffsetMap, Option<OffsetMap>)],
    ) -> Result<(), OffsetStoreError>;

    /// Removes every offset of `connector` (blocking).
    fn remove_all(&self, connector: &str) -> Result<(), OffsetStoreError> {
        let partitions: Vec<(OffsetMap, Option<OffsetMap>)> = self
            .list(connector)
            .into_iter()
            .map(|(p, _)| (p, None))
            .collect();
        self.modify(connector, &partitions)
    }
}

/// The offsets of `connector` among `(key, offset)` entries.
fn of_connector<'a>(
    connector: &str,
    entries: impl Iterator<Item = (&'a String, &'a OffsetMap)>,
) -> Vec<(OffsetMap, OffsetMap)> {
    entries
        .filter_map(|(key, offset)| match parse_offset_key(key) {
            Some((c, p)) if c == connector => Some((p, offset.clone())),
            _ => None,
        })
        .collect()
}

/// In-memory map shared by the file store and tests.
#[derive(Debug, Default)]
pub struct MemoryOffsetStore {
    data: Mutex<HashMap<String, OffsetMap>>,
}

impl MemoryOffsetStore {
    /// Sets (or with `None`, removes) one partition's offset by its key.
    pub(crate) fn set_by_key(&self, key: String, offset: Option<OffsetMap>) {
        let mut data = self.data.lock().unwrap_or_else(PoisonError::into_inner);
        match offset {
            Some(o) => data.insert(key, o),
            None => data.remove(&key),
        };
    }

    fn put_all(&self, connector: &str, offsets: &[(OffsetMap, OffsetMap)]) -> Vec<(String, Json)> {
        let mut data = self.data.lock().unwrap_or_else(PoisonError::into_inner);
        for (p, o) in offsets {
            data.insert(offset_key(connector, p), o.clone());
        }
        data.iter()
            .map(|(k, v)| (k.clone(), Json::Object(v.clone())))
            .collect()
    }
}

impl OffsetStore for MemoryOffsetStore {
    fn get(&self, connector: &str, partition: &OffsetMap) -> Option<OffsetMap> {
        let data = self.data.lock().unwrap_or_else(PoisonError::into_inner);
        data.get(&offset_key(connector, partition)).cloned()
    }

    fn commit(
        &self,
        connector: &str,
        offsets: &[(OffsetMap, OffsetMap)],
    ) -> Result<(), OffsetStoreError> {
        self.put_all(connector, offsets);
        Ok(())
    }

    fn list(&self, connector: &str) -> Vec<(OffsetMap, OffsetMap)> {
        let data = self.data.lock().unwrap_or_else(PoisonError::into_inner);
        of_connector(connector, data.iter())
    }

    fn modify(
        &self,
        connector: &str,
        changes: &[(OffsetMap, Option<OffsetMap>)],
    ) -> Result<(), OffsetStoreError> {
        for (p, o) in changes {
            self.set_by_key(offset_key(connector, p), o.clone());
        }
        Ok(())
    }
}

/// Source offsets of standalone mode: `offset.storage.file.filename` (a
/// JSON object of Java's offset-topic keys to offsets, replaced atomically
/// on every change: write to a temp file, fsync, rename, so a crash leaves
/// the old or the new offsets, never a torn file) or memory only. It lists,
/// alters and removes a connector's offsets for the REST offsets endpoints.
#[derive(Debug)]
pub struct FileOffsetStore {
    path: Option<PathBuf>,
    data: Mutex<BTreeMap<String, OffsetMap>>,
    /// Serializes file writes so renames land in order.
    write_lock: Mutex<()>,
}

impl FileOffsetStore {
    /// The store kept in `path`, or in memory only when `None`.
    pub fn open(path: Option<PathBuf>) -> Result<FileOffsetStore, OffsetStoreError> {
        let mut data = BTreeMap::new();
        if let Some(path) = &path {
            match std::fs::read(path) {
                Ok(bytes) if !bytes.is_empty() => {
                    data = serde_json::from_slice(&bytes).map_err(|source| {
                        OffsetStoreError::Corrupt {
                            path: path.clone(),
                            source,
                        }
                    })?;
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(OffsetStoreError::Io {
                        context: format!("reading offsets file {}", path.display()),
                        source,
                    })
                }
            }
        }
        Ok(FileOffsetStore {
            path,
            data: Mutex::new(data),
            write_lock: Mutex::new(()),
        })
    }

    /// Applies `f` to the offsets, then writes the file.
    fn change(
        &self,
        f: impl FnOnce(&mut BTreeMap<String, OffsetMap>),
    ) -> Result<(), OffsetStoreError> {
        let _write = self
            .write_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let snapshot = {
            let mut data = self.data.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut data);
            self.path.as_ref().map(|_| data.clone())
        };
        match (&self.path, snapshot) {
            (Some(path), Some(data)) => write_atomically(path, &data),
            _ => Ok(()),
        }
    }
}

impl OffsetStore for FileOffsetStore {
    fn get(&self, connector: &str, partition: &OffsetMap) -> Option<OffsetMap> {
        let data = self.data.lock().unwrap_or_else(PoisonError::into_inner);
        data.get(&offset_key(connector, partition)).cloned()
    }

    fn commit(
        &self,
        connector: &str,
        offsets: &[(OffsetMap, OffsetMap)],
    ) -> Result<(), OffsetStoreError> {
        self.change(|data| {
            for (p, o) in offsets {
                data.insert(offset_key(connector, p), o.clone());
            }
        })
    }

    fn list(&self, connector: &str) -> Vec<(OffsetMap, OffsetMap)> {
        let data = self.data.lock().unwrap_or_else(PoisonError::into_inner);
        of_connector(connector, data.iter())
    }

    fn modify(
        &self,
        connector: &str,
        changes: &[(OffsetMap, Option<OffsetMap>)],
    ) -> Result<(), OffsetStoreError> {
        self.change(|data| {
            for (p, o) in changes {
                let key = offset_key(connector, p);
                match o {
                    Some(o) => data.insert(key, o.clone()),
                    None => data.remove(&key),
                };
            }
        })
    }
}

/// Writes to a temp file, fsyncs, renames.
fn write_atomically(
    path: &Path,
    data: &BTreeMap<String, OffsetMap>,
) -> Result<(), OffsetStoreError> {
    use std::io::Write;
    let text = serde_json::to_string(data).unwrap_or_else(|_| "{}".into());
    let tmp = path.with_extension("tmp");
    let io = |context: String| move |source| OffsetStoreError::Io { context, source };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
    }
    let mut f = std::fs::File::create(&tmp).map_err(io(format!("creating {}", tmp.display())))?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(io(format!("writing {}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(io(format!(
        "renaming {} to {}",
        tmp.display(),
        path.display()
    )))
}

/// Gives one connector's tasks read access to a store.
pub struct ConnectorOffsets {
    pub connector: String,
    pub store: Arc<dyn OffsetStore>,
}

impl OffsetReader for ConnectorOffsets {
    fn offset(&self, partition: &OffsetMap) -> Option<OffsetMap> {
        self.store.get(&self.connector, partition)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Json) -> OffsetMap {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn key_matches_java_offset_topic_key() {
        let partition = map(json!({"filename": "test.txt"}));
        let key = offset_key("local-file-source", &partition);
        assert_eq!(key, r#"["local-file-source",{"filename":"test.txt"}]"#);
        assert_eq!(
            parse_offset_key(&key),
            Some(("local-file-source".to_owned(), partition))
        );
        assert_eq!(parse_offset_key(r#"["c", "not a map"]"#), None);
        assert_eq!(parse_offset_key("{}"), None);
        assert_eq!(parse_offset_key("not json"), None);
    }

    #[test]
    fn file_store_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("offsets.json");
        let p = map(json!({"filename": "a"}));
        {
            let s = FileOffsetStore::open(Some(path.clone())).unwrap();
            s.commit("c", &[(p.clone(), map(json!({"position": 10})))])
                .unwrap();
            s.commit("c", &[(p.clone(), map(json!({"position": 20})))])
                .unwrap();
        }
        let s = FileOffsetStore::open(Some(path.clone())).unwrap();
        assert_eq!(s.get("c", &p), Some(map(json!({"position": 20}))));
        assert_eq!(s.get("other", &p), None);
    }

    #[test]
    fn corrupt_file_is_an_error_not_a_reset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("offsets.json");
        std::fs::write(&path, "{not json").unwrap();
        assert!(matches!(
            FileOffsetStore::open(Some(path)),
            Err(OffsetStoreError::Corrupt { .. })
        ));
    }
}
