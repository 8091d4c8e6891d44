use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt};

use super::{BATCH_SIZE_CONFIG, FILE_CONFIG, TOPIC_CONFIG};
use crate::connect::{
    ConfigDef, ConfigType, ConnectError, ConnectRecord, ConnectResult, Connector, Importance,
    OffsetMap, OffsetReader, Props, SchemaBuilder, SchemaRef, SourceConnector, SourceRecord,
    SourceTask, Validator, Value,
};

/// How long `poll` waits at end of file before returning an empty batch.
const EOF_WAIT: Duration = Duration::from_millis(100);
const READ_CHUNK: usize = 64 * 1024;

fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            FILE_CONFIG,
            ConfigType::String,
            Some(""),
            Importance::High,
            "Source filename. If not specified, the standard input will be used",
        )
        .define(
            TOPIC_CONFIG,
            ConfigType::String,
            None,
            Importance::High,
            "The topic to publish data to",
        )
        .validate_with(Validator::NonEmpty)
        .define(
            BATCH_SIZE_CONFIG,
            ConfigType::Int,
            Some("2000"),
            Importance::Low,
            "The maximum number of records the source task can read from the file each time it is polled",
        )
        .validate_with(Validator::Range {
            min: Some(1),
            max: None,
        })
}

/// Reads lines of a file (or stdin) into one topic. Always one task.
#[derive(Default)]
pub struct FileStreamSourceConnector {
    props: Props,
}

impl Connector for FileStreamSourceConnector {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn start(&mut self, props: &Props) -> ConnectResult<()> {
        config_def().parse(props)?;
        let topic = props.get(TOPIC_CONFIG).map(String::as_str).unwrap_or("");
        if topic.contains(',') {
            return Err(ConnectError::config(
                TOPIC_CONFIG,
                "'topic' in FileStreamSourceConnector configuration requires definition of a single topic",
            ));
        }
        self.props = props.clone();
        Ok(())
    }

    fn task_configs(&self, _max_tasks: usize) -> ConnectResult<Vec<Props>> {
        // One file is read by one task, like Java's connector.
        Ok(vec![self.props.clone()])
    }
}

impl SourceConnector for FileStreamSourceConnector {
    fn create_task(&self) -> Box<dyn SourceTask> {
        Box::<FileStreamSourceTask>::default()
    }
}

/// Tails a file line by line. The offset is the byte position just after
/// the last line handed out, so a restart resumes exactly there.
#[derive(Default)]
pub struct FileStreamSourceTask {
    filename: Option<String>,
    topic: String,
    batch_size: usize,
    schema: Option<SchemaRef>,
    reader: Option<Box<dyn AsyncRead + Send + Unpin>>,
    /// Bytes read but not yet ending in a newline.
    pending: Vec<u8>,
    /// Byte position of the start of `pending` in the file.
    position: u64,
    /// Read buffer, kept across polls (allocated on first use).
    chunk: Vec<u8>,
    warned_missing: bool,
}

impl FileStreamSourceTask {
    fn partition(&self) -> OffsetMap {
        let mut m = OffsetMap::new();
        if let Some(f) = &self.filename {
            m.insert("filename".into(), json!(f));
        }
        m
    }

    async fn open(&mut self) -> ConnectResult<bool> {
        let Some(filename) = self.filename.clone() else {
            self.reader = Some(Box::new(tokio::io::stdin()));
            return Ok(true);
        };
        match tokio::fs::File::open(&filename).await {
            Ok(mut file) => {
                if self.position > 0 {
                    file.seek(std::io::SeekFrom::Start(self.position))
                        .await
                        .map_err(|e| {
                            ConnectError::io(format!("seeking {filename} to {}", self.position), e)
                        })?;
                    tracing::info!(file = %filename, position = self.position, "resuming from committed offset");
                }
                self.reader = Some(Box::new(file));
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !self.warned_missing {
                    tracing::warn!(file = %filename, "couldn't find file for FileStreamSourceTask, sleeping to wait for it to be created");
                    self.warned_missing = true;
                }
                Ok(false)
            }
            Err(e) => Err(ConnectError::io(format!("opening {filename}"), e)),
        }
    }

    /// Splits complete lines off `pending` into records, at most `limit`.
    fn take_lines(&mut self, out: &mut Vec<SourceRecord>, limit: usize) {
        let mut start = 0;
        let partition = Arc::new(self.partition());
        while out.len() < limit {
            let Some(nl) = memchr::memchr(b'\n', &self.pending[start..]) else {
                break;
            };
            let end = start + nl;
            let mut line = &self.pending[start..end];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            // Valid UTF-8 (the usual case) is checked by the fast validator;
            // only a line that fails it pays for the lossy decoding.
            let text = match std::str::from_utf8(line) {
                Ok(text) => text.to_owned(),
                Err(_) => String::from_utf8_lossy(line).into_owned(),
            };
            start = end + 1;
            let position = self.position + start as u64;
            let mut offset = OffsetMap::with_capacity(1);
            if self.filename.is_some() {
                offset.insert("position".into(), json!(position));
            }
            out.push(SourceRecord {
                record: ConnectRecord::new(
                    self.topic.clone(),
                    self.schema.clone(),
                    Value::String(text),
                ),
                source_partition: partition.clone(),
                source_offset: offset,
            });
        }
        self.pending.drain(..start);
        self.position += start as u64;
    }
}

#[async_trait]
impl SourceTask for FileStreamSourceTask {
    async fn start(&mut self, props: &Props, offsets: Arc<dyn OffsetReader>) -> ConnectResult<()> {
        let cfg = config_def().parse(props)?;
        self.filename = cfg.string(FILE_CONFIG).filter(|f| !f.is_empty());
        self.topic = cfg.string(TOPIC_CONFIG).unwrap_or_default();
        self.batch_size = cfg.int(BATCH_SIZE_CONFIG).max(1) as usize;
        self.schema = Some(SchemaBuilder::string().build());
        if self.filename.is_some() {
            if let Some(offset) = offsets.offset(&self.partition()) {
                match offset.get("position").and_then(|p| p.as_u64()) {
                    Some(p) => self.position = p,
                    None => {
                        return Err(ConnectError::Other(format!(
                            "Offset position is the incorrect type: {offset:?}"
                        )))
                    }
                }
            }
        }
        Ok(())
    }

    async fn poll(&mut self) -> ConnectResult<Vec<SourceRecord>> {
        if self.reader.is_none() && !self.open().await? {
            tokio::time::sleep(Duration::from_secs(1)).await;
            return Ok(Vec::new());
        }
        // Sized once: a batch never reallocates (and moves) its records.
        let mut out = Vec::with_capacity(self.batch_size.min(1 << 16));
        self.take_lines(&mut out, self.batch_size);
        let mut chunk = std::mem::take(&mut self.chunk);
        chunk.resize(READ_CHUNK, 0);
        let result = self.read_lines(&mut out, &mut chunk).await;
        self.chunk = chunk;
        result?;
        Ok(out)
    }

    async fn stop(&mut self) -> ConnectResult<()> {
        self.reader = None;
        Ok(())
    }
}

impl FileStreamSourceTask {
    /// Reads into `chunk` and splits lines off until the batch is full or
    /// the input is drained for now.
    async fn read_lines(
        &mut self,
        out: &mut Vec<SourceRecord>,
        chunk: &mut [u8],
    ) -> ConnectResult<()> {
        while out.len() < self.batch_size {
            let Some(reader) = self.reader.as_mut() else {
                break;
            };
            let n = reader.read(chunk).await.map_err(|e| {
                ConnectError::io(
                    format!(
                        "reading {}",
                        self.filename.as_deref().unwrap_or("standard input")
                    ),
                    e,
                )
            })?;
            if n == 0 {
                if out.is_empty() {
                    tokio::time::sleep(EOF_WAIT).await;
                }
                break;
            }
            self.pending.extend_from_slice(&chunk[..n]);
            self.take_lines(out, self.batch_size);
            // A short read means the input is drained for now: return what we
            // have rather than block (stdin would wait for the next line).
            if n < READ_CHUNK && !out.is_empty() {
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    struct Offsets(Option<OffsetMap>);
    impl OffsetReader for Offsets {
        fn offset(&self, _: &OffsetMap) -> Option<OffsetMap> {
            self.0.clone()
        }
    }

    fn props(file: &str) -> Props {
        [("file", file), ("topic", "t"), ("batch.size", "2")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[tokio::test]
    async fn reads_lines_in_batches_and_resumes_at_offset() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        write!(f, "a\r\nbb\nccc\npartial").unwrap();
        let path = f.path().to_str().unwrap().to_owned();

        let mut task = FileStreamSourceTask::default();
        task.start(&props(&path), Arc::new(Offsets(None)))
            .await
            .unwrap();
        let batch = task.poll().await.unwrap();
        let lines: Vec<_> = batch.iter().map(|r| r.record.value.clone()).collect();
        assert_eq!(lines, [Value::from("a"), Value::from("bb")]);
        assert_eq!(batch[1].source_offset["position"], json!(6));
        assert_eq!(batch[1].source_partition["filename"], json!(path));
        let batch = task.poll().await.unwrap();
        assert_eq!(batch.len(), 1, "the partial line waits for its newline");
        assert_eq!(batch[0].source_offset["position"], json!(10));

        // A new task starting from position 6 reads from "ccc".
        let mut resumed = FileStreamSourceTask::default();
        let offset: OffsetMap = serde_json::from_value(json!({"position": 6})).unwrap();
        resumed
            .start(&props(&path), Arc::new(Offsets(Some(offset))))
            .await
            .unwrap();
        let batch = resumed.poll().await.unwrap();
        assert_eq!(batch[0].record.value, Value::from("ccc"));
    }

    #[test]
    fn topic_is_required_and_single() {
        let mut c = FileStreamSourceConnector::default();
        let mut p = props("/tmp/x");
        p.remove("topic");
        assert!(matches!(c.start(&p), Err(ConnectError::Config { key, .. }) if key == "topic"));
        p.insert("topic".into(), "a,b".into());
        assert!(c.start(&p).is_err());
    }
}
