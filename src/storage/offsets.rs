//! Source offset stores. Keys use Java's offset-topic form
//! `["<connector>",{<partition>}]` so offsets carry over to the topic store.

use std::collections::HashMap;
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

/// Stores committed source offsets.
pub trait OffsetStore: Send + Sync {
    fn get(&self, connector: &str, partition: &OffsetMap) -> Option<OffsetMap>;
    /// Records offsets and makes them durable before returning.
    fn commit(
        &self,
        connector: &str,
        offsets: &[(OffsetMap, OffsetMap)],
    ) -> Result<(), OffsetStoreError>;
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
}

/// `offset.storage.file.filename`: a JSON object of key → offset, replaced
/// atomically (write to a temp file, fsync, rename) on every commit, so a
/// crash leaves either the old or the new offsets, never a torn file.
#[derive(Debug)]
pub struct FileOffsetStore {
    path: PathBuf,
    memory: MemoryOffsetStore,
    /// Serializes writers so renames land in commit order.
    write_lock: Mutex<()>,
}

impl FileOffsetStore {
    pub fn open(path: impl AsRef<Path>) -> Result<FileOffsetStore, OffsetStoreError> {
        let path = path.as_ref().to_path_buf();
        let mut map = HashMap::new();
        match std::fs::read(&path) {
            Ok(bytes) if !bytes.is_empty() => {
                let parsed: HashMap<String, OffsetMap> =
                    serde_json::from_slice(&bytes).map_err(|source| OffsetStoreError::Corrupt {
                        path: path.clone(),
                        source,
                    })?;
                map = parsed;
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
        Ok(FileOffsetStore {
            path,
            memory: MemoryOffsetStore {
                data: Mutex::new(map),
            },
            write_lock: Mutex::new(()),
        })
    }

    fn write(&self, entries: Vec<(String, Json)>) -> Result<(), OffsetStoreError> {
        let _guard = self
            .write_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let obj: serde_json::Map<String, Json> = entries.into_iter().collect();
        let text = Json::Object(obj).to_string();
        let tmp = self.path.with_extension("tmp");
        let io = |context: String| move |source| OffsetStoreError::Io { context, source };
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
        }
        {
            use std::io::Write;
            let mut f =
                std::fs::File::create(&tmp).map_err(io(format!("creating {}", tmp.display())))?;
            f.write_all(text.as_bytes())
                .and_then(|_| f.sync_all())
                .map_err(io(format!("writing {}", tmp.display())))?;
        }
        std::fs::rename(&tmp, &self.path).map_err(io(format!(
            "renaming {} to {}",
            tmp.display(),
            self.path.display()
        )))
    }
}

impl OffsetStore for FileOffsetStore {
    fn get(&self, connector: &str, partition: &OffsetMap) -> Option<OffsetMap> {
        self.memory.get(connector, partition)
    }

    fn commit(
        &self,
        connector: &str,
        offsets: &[(OffsetMap, OffsetMap)],
    ) -> Result<(), OffsetStoreError> {
        let all = self.memory.put_all(connector, offsets);
        self.write(all)
    }
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
        assert_eq!(
            offset_key("local-file-source", &map(json!({"filename": "test.txt"}))),
            r#"["local-file-source",{"filename":"test.txt"}]"#
        );
    }

    #[test]
    fn file_store_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("offsets.json");
        let p = map(json!({"filename": "a"}));
        {
            let s = FileOffsetStore::open(&path).unwrap();
            s.commit("c", &[(p.clone(), map(json!({"position": 10})))])
                .unwrap();
            s.commit("c", &[(p.clone(), map(json!({"position": 20})))])
                .unwrap();
        }
        let s = FileOffsetStore::open(&path).unwrap();
        assert_eq!(s.get("c", &p), Some(map(json!({"position": 20}))));
        assert_eq!(s.get("other", &p), None);
    }

    #[test]
    fn corrupt_file_is_an_error_not_a_reset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("offsets.json");
        std::fs::write(&path, "{not json").unwrap();
        assert!(matches!(
            FileOffsetStore::open(&path),
            Err(OffsetStoreError::Corrupt { .. })
        ));
    }
}
