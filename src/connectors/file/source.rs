use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tokio::io::AsyncReadExt;

use super::{BATCH_SIZE_CONFIG, FILE_CONFIG, TOPIC_CONFIG};
use crate::connect::{
    ConfigDef, ConfigError, ConfigType, ConnectError, ConnectRecord, ConnectResult, Connector,
    ConnectorContext, Importance, OffsetMap, Props, SchemaBuilder, SchemaRef, SourceConnector,
    SourceRecord, SourceTask, SourceTaskContext, Validator, Value,
};

/// How long `poll` waits at end of file before returning an empty batch.
const EOF_WAIT: Duration = Duration::from_millis(100);
/// Bytes read per call: one blocking-pool hand-off feeds several batches of
/// short lines.
const READ_BUFFER: usize = 1 << 20;

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

#[async_trait]
impl Connector for FileStreamSourceConnector {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn validate(&self, props: &Props) -> Vec<ConfigError> {
        let mut errors = config_def().validate(props);
        let topic = props.get(TOPIC_CONFIG).map(String::as_str).unwrap_or("");
        if topic.contains(',') {
            errors.push(ConfigError::new(
                TOPIC_CONFIG,
                "'topic' in FileStreamSourceConnector configuration requires definition of a single topic",
            ));
        }
        errors
    }

    async fn start(&mut self, _ctx: Arc<dyn ConnectorContext>, props: &Props) -> ConnectResult<()> {
        if let Some(e) = self.validate(props).into_iter().next() {
            return Err(e.into());
        }
        self.props = props.clone();
        Ok(())
    }

    async fn task_configs(&self, _max_tasks: usize) -> ConnectResult<Vec<Props>> {
        // One file is read by one task, like Java's connector.
        Ok(vec![self.props.clone()])
    }
}

#[async_trait]
impl SourceConnector for FileStreamSourceConnector {
    fn create_task(&self) -> Box<dyn SourceTask> {
        Box::<FileStreamSourceTask>::default()
    }

    /// Its records derive from its offsets alone, so a task restarted from
    /// committed offsets produces exactly what was not committed.
    fn exactly_once_support(&self, _props: &Props) -> Option<crate::connect::ExactlyOnceSupport> {
        Some(crate::connect::ExactlyOnceSupport::Supported)
    }

    /// Java's checks of altered offsets: a file to have offsets for, and
    /// `{"position": <non-negative integer>}` under a partition naming its
    /// `filename`; resets (null offsets) always pass, so garbage can be
    /// cleaned up. Whether the position fits the file is the task's call
    /// when it starts.
    async fn alter_offsets(
        &self,
        props: &Props,
        offsets: &[(OffsetMap, Option<OffsetMap>)],
    ) -> ConnectResult<bool> {
        if props.get(FILE_CONFIG).is_none_or(|f| f.is_empty()) {
            return Err(ConnectError::other(format!(
                "Offsets cannot be modified if the '{FILE_CONFIG}' configuration is unspecified. This is because stdin is used for input and offsets are not tracked."
            )));
        }
        for (partition, offset) in offsets {
            let Some(offset) = offset else { continue };
            let Some(position) = offset.get(POSITION_FIELD) else {
                return Err(ConnectError::other(format!(
                    "Offset objects should either be null or contain the key '{POSITION_FIELD}'"
                )));
            };
            // JSON integers are Java's Long once Connect normalised them.
            let Some(position) = position.as_i64() else {
                return Err(ConnectError::other(format!(
                    "The value for the '{POSITION_FIELD}' key in the offset is expected to be a Long value"
                )));
            };
            if position < 0 {
                return Err(ConnectError::other(format!(
                    "The value for the '{POSITION_FIELD}' key in the offset should be a non-negative value"
                )));
            }
            if !partition.contains_key(FILENAME_FIELD) {
                return Err(ConnectError::other(format!(
                    "Partition objects should contain the key '{FILENAME_FIELD}'"
                )));
            }
        }
        Ok(true)
    }
}

/// The source partition's key: the file read.
const FILENAME_FIELD: &str = "filename";
/// The source offset's key: the byte position after the last line read.
const POSITION_FIELD: &str = "position";

/// Tails a file line by line. The offset is the byte position just after
/// the last line handed out, so a restart resumes exactly there.
#[derive(Default)]
pub struct FileStreamSourceTask {
    filename: Option<String>,
    topic: String,
    batch_size: usize,
    schema: Option<SchemaRef>,
    input: Option<Input>,
    /// Read buffer, kept across polls: `buf[consumed..filled]` holds bytes
    /// read but not yet handed out (at most one unfinished line once the
    /// complete ones are taken).
    buf: Vec<u8>,
    consumed: usize,
    filled: usize,
    /// Byte position of `buf[consumed]` in the file.
    position: u64,
    /// Bytes per read; 0 means [`READ_BUFFER`] (tests use small ones).
    read_size: usize,
    warned_missing: bool,
}

/// Where lines come from.
enum Input {
    /// Read with blocking calls on tokio's blocking pool, straight into the
    /// task's buffer: one hand-off per megabyte instead of `tokio::fs`'s
    /// one per 64 KiB plus a copy through its own buffer.
    File(std::fs::File),
    Stdin(tokio::io::Stdin),
}

impl FileStreamSourceTask {
    fn partition(&self) -> OffsetMap {
        let mut m = OffsetMap::new();
        if let Some(f) = &self.filename {
            m.insert(FILENAME_FIELD.into(), json!(f));
        }
        m
    }

    async fn open(&mut self) -> ConnectResult<bool> {
        let Some(filename) = self.filename.clone() else {
            self.input = Some(Input::Stdin(tokio::io::stdin()));
            return Ok(true);
        };
        let position = self.position;
        let opened = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
            let mut file = std::fs::File::open(&filename)?;
            if position > 0 {
                std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(position))?;
            }
            Ok(file)
        })
        .await
        .map_err(|e| ConnectError::caused_by("file reader thread failed", e))?;
        let filename = self.filename.as_deref().unwrap_or_default();
        match opened {
            Ok(file) => {
                if position > 0 {
                    tracing::info!(file = %filename, position, "resuming from committed offset");
                }
                self.input = Some(Input::File(file));
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !self.warned_missing {
                    tracing::warn!(file = %filename, "couldn't find file for FileStreamSourceTask, sleeping to wait for it to be created");
                    self.warned_missing = true;
                }
                Ok(false)
            }
            Err(e) => Err(ConnectError::io(
                format!("opening {filename} (at position {position})"),
                e,
            )),
        }
    }

    /// Splits complete lines off the buffer into records, at most `limit`.
    fn take_lines(&mut self, out: &mut Vec<SourceRecord>, limit: usize) {
        let start = self.consumed;
        let mut next = start;
        let partition = Arc::new(self.partition());
        while out.len() < limit {
            let Some(nl) = memchr::memchr(b'\n', &self.buf[next..self.filled]) else {
                break;
            };
            let end = next + nl;
            let mut line = &self.buf[next..end];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            // Valid UTF-8 (the usual case) is checked by the fast validator;
            // only a line that fails it pays for the lossy decoding.
            let text = match std::str::from_utf8(line) {
                Ok(text) => text.to_owned(),
                Err(_) => String::from_utf8_lossy(line).into_owned(),
            };
            next = end + 1;
            let mut offset = OffsetMap::with_capacity(1);
            if self.filename.is_some() {
                let position = self.position + (next - start) as u64;
                offset.insert(POSITION_FIELD.into(), json!(position));
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
        self.consumed = next;
        self.position += (next - start) as u64;
    }

    /// Moves the unfinished line to the front of the buffer and makes room
    /// for a read (growing the buffer only for a line longer than it).
    fn make_room(&mut self) {
        let size = match self.read_size {
            0 => READ_BUFFER,
            n => n,
        };
        if self.consumed > 0 {
            self.buf.copy_within(self.consumed..self.filled, 0);
            self.filled -= self.consumed;
            self.consumed = 0;
        }
        if self.buf.len() > size && self.filled <= size / 2 {
            // A long line grew it: give the memory back.
            self.buf.truncate(size);
            self.buf.shrink_to_fit();
        }
        if self.buf.len() < size {
            self.buf.resize(size, 0);
        } else if self.filled == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
    }

    /// Reads once into the free end of the buffer: the number of bytes
    /// read and how many were asked for.
    async fn read_some(&mut self) -> ConnectResult<(usize, usize)> {
        self.make_room();
        let wanted = self.buf.len() - self.filled;
        let read = match self.input.take() {
            None => return Ok((0, wanted)),
            Some(Input::Stdin(mut stdin)) => {
                let r = stdin.read(&mut self.buf[self.filled..]).await;
                self.input = Some(Input::Stdin(stdin));
                r
            }
            Some(Input::File(mut file)) => {
                let mut buf = std::mem::take(&mut self.buf);
                let filled = self.filled;
                let (file, buf, r) = tokio::task::spawn_blocking(move || {
                    let r = std::io::Read::read(&mut file, &mut buf[filled..]);
                    (file, buf, r)
                })
                .await
                .map_err(|e| ConnectError::caused_by("file reader thread failed", e))?;
                self.buf = buf;
                self.input = Some(Input::File(file));
                r
            }
        };
        let n = read.map_err(|e| {
            ConnectError::io(
                format!(
                    "reading {}",
                    self.filename.as_deref().unwrap_or("standard input")
                ),
                e,
            )
        })?;
        self.filled += n;
        Ok((n, wanted))
    }
}

#[async_trait]
impl SourceTask for FileStreamSourceTask {
    async fn start(&mut self, ctx: SourceTaskContext, props: &Props) -> ConnectResult<()> {
        let cfg = config_def().parse(props)?;
        self.filename = cfg.string(FILE_CONFIG)?.filter(|f| !f.is_empty());
        self.topic = cfg.string(TOPIC_CONFIG)?.unwrap_or_default();
        self.batch_size = cfg.int(BATCH_SIZE_CONFIG)?.max(1) as usize;
        self.schema = Some(SchemaBuilder::string().build());
        if self.filename.is_some() {
            if let Some(offset) = ctx.offset_reader().offset(&self.partition()) {
                match offset.get(POSITION_FIELD).and_then(|p| p.as_u64()) {
                    Some(p) => self.position = p,
                    None => {
                        return Err(ConnectError::other(format!(
                            "Offset position is the incorrect type: {offset:?}"
                        )))
                    }
                }
            }
        }
        Ok(())
    }

    async fn poll(&mut self) -> ConnectResult<Vec<SourceRecord>> {
        if self.input.is_none() && !self.open().await? {
            tokio::time::sleep(Duration::from_secs(1)).await;
            return Ok(Vec::new());
        }
        // Sized once: a batch never reallocates (and moves) its records.
        let mut out = Vec::with_capacity(self.batch_size.min(1 << 16));
        self.take_lines(&mut out, self.batch_size);
        while out.len() < self.batch_size {
            let (n, wanted) = self.read_some().await?;
            if n == 0 {
                if out.is_empty() {
                    tokio::time::sleep(EOF_WAIT).await;
                }
                break;
            }
            self.take_lines(&mut out, self.batch_size);
            // A short read means the input is drained for now: return what we
            // have rather than block (stdin would wait for the next line).
            if n < wanted && !out.is_empty() {
                break;
            }
        }
        Ok(out)
    }

    async fn stop(&mut self) -> ConnectResult<()> {
        self.input = None;
        // Reopening seeks to `position`: bytes buffered past it would come twice.
        self.consumed = 0;
        self.filled = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    use crate::connect::{DetachedContext, OffsetReader, PluginMetrics};

    fn task_context(offsets: Arc<dyn OffsetReader>) -> SourceTaskContext {
        SourceTaskContext::new(offsets, PluginMetrics::detached())
    }

    struct Offsets(Option<OffsetMap>);
    impl OffsetReader for Offsets {
        fn offset(&self, _: &OffsetMap) -> Option<OffsetMap> {
            self.0.clone()
        }
    }

    #[tokio::test]
    async fn altered_offsets_are_checked_like_java() {
        let connector = FileStreamSourceConnector::default();
        let map = |v: serde_json::Value| -> OffsetMap { serde_json::from_value(v).unwrap() };
        let file = map(json!({"filename": "/tmp/in.txt"}));
        let alter = |offsets: Vec<(OffsetMap, Option<OffsetMap>)>, props: Props| {
            let connector = &connector;
            async move {
                connector
                    .alter_offsets(&props, &offsets)
                    .await
                    .map_err(|e| e.to_string())
            }
        };
        let ok = alter(
            vec![(file.clone(), Some(map(json!({"position": 5}))))],
            props("/tmp/in.txt"),
        );
        assert_eq!(ok.await, Ok(true));
        // Resets pass whatever the partition holds.
        let reset = alter(vec![(map(json!({"x": 1})), None)], props("/tmp/in.txt"));
        assert_eq!(reset.await, Ok(true));
        for (offset, partition, message) in [
            (
                json!({"pos": 5}),
                file.clone(),
                "should either be null or contain the key 'position'",
            ),
            (
                json!({"position": "5"}),
                file.clone(),
                "is expected to be a Long value",
            ),
            (
                json!({"position": 5.5}),
                file.clone(),
                "is expected to be a Long value",
            ),
            (
                json!({"position": -1}),
                file.clone(),
                "should be a non-negative value",
            ),
            (
                json!({"position": 5}),
                map(json!({"file": "x"})),
                "should contain the key 'filename'",
            ),
        ] {
            let e = alter(vec![(partition, Some(map(offset)))], props("/tmp/in.txt"))
                .await
                .unwrap_err();
            assert!(e.contains(message), "{e}");
        }
        let stdin = alter(vec![(file, Some(map(json!({"position": 5}))))], props(""));
        assert!(stdin.await.unwrap_err().contains("stdin is used for input"));
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
        task.start(task_context(Arc::new(Offsets(None))), &props(&path))
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
            .start(task_context(Arc::new(Offsets(Some(offset)))), &props(&path))
            .await
            .unwrap();
        let batch = resumed.poll().await.unwrap();
        assert_eq!(batch[0].record.value, Value::from("ccc"));
    }

    /// Lines come out whole and in order, each with the byte position just
    /// after it, whatever the read size (lines longer than a read, lines
    /// split across reads) and batch size; a task resumed at any record's
    /// offset reads exactly the lines after it.
    mod split {
        use super::*;
        use proptest::prelude::*;

        fn run(
            path: &str,
            batch: usize,
            read_size: usize,
            from: Option<u64>,
            lines: usize,
        ) -> Vec<(String, u64)> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let mut task = FileStreamSourceTask {
                    read_size,
                    ..Default::default()
                };
                let mut p = props(path);
                p.insert("batch.size".into(), batch.to_string());
                let offset =
                    from.map(|pos| serde_json::from_value(json!({"position": pos})).unwrap());
                task.start(task_context(Arc::new(Offsets(offset))), &p)
                    .await
                    .unwrap();
                let mut got = Vec::new();
                for _ in 0..10_000 {
                    if got.len() >= lines {
                        break;
                    }
                    let records = task.poll().await.unwrap();
                    assert!(
                        records.len() <= batch,
                        "a batch holds at most batch.size records"
                    );
                    for r in records {
                        let Value::String(text) = r.record.value else {
                            panic!("not a string")
                        };
                        got.push((text, r.source_offset["position"].as_u64().unwrap()));
                    }
                }
                got
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(48))]
            #[test]
            fn lines_and_positions(
                lines in proptest::collection::vec(("[a-zé]{0,40}", any::<bool>()), 1..30),
                tail in "[a-z]{0,5}",
                batch in 1usize..7,
                read_size in 1usize..48,
                resume_at in any::<proptest::sample::Index>(),
            ) {
                let mut f = tempfile::NamedTempFile::new().unwrap();
                let mut expected = Vec::new();
                let mut pos = 0u64;
                for (text, crlf) in &lines {
                    let end = if *crlf { "\r\n" } else { "\n" };
                    write!(f, "{text}{end}").unwrap();
                    pos += (text.len() + end.len()) as u64;
                    expected.push((text.clone(), pos));
                }
                // An unfinished last line is never handed out.
                write!(f, "{tail}").unwrap();
                let path = f.path().to_str().unwrap().to_owned();
                let got = run(&path, batch, read_size, None, expected.len());
                prop_assert_eq!(&got, &expected);
                let i = resume_at.index(expected.len());
                let rest = expected.len() - i - 1;
                if rest > 0 {
                    let resumed = run(&path, batch, read_size, Some(expected[i].1), rest);
                    prop_assert_eq!(&resumed[..], &expected[i + 1..]);
                }
            }
        }
    }

    #[tokio::test]
    async fn topic_is_required_and_single() {
        let mut c = FileStreamSourceConnector::default();
        let mut p = props("/tmp/x");
        p.remove("topic");
        assert_eq!(c.validate(&p)[0].key, "topic");
        assert!(
            matches!(c.start(DetachedContext::new(), &p).await, Err(ConnectError::Config { key, .. }) if key == "topic")
        );
        p.insert("topic".into(), "a,b".into());
        let errors = c.validate(&p);
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].message.contains("single topic"),
            "{}",
            errors[0].message
        );
        assert!(c.start(DetachedContext::new(), &p).await.is_err());
    }
}
