use async_trait::async_trait;

use super::FILE_CONFIG;
use std::sync::Arc;

use crate::connect::{
    ConfigDef, ConfigType, ConnectError, ConnectResult, Connector, ConnectorContext, Importance,
    Props, SinkConnector, SinkOffsets, SinkRecord, SinkTask, SinkTaskContext,
};

/// The write buffer's size. A batch is written in pieces once half of it
/// is full, so lines shorter than the other half never make it grow.
const WRITE_BUFFER: usize = 1 << 20;
const WRITE_AT: usize = WRITE_BUFFER / 2;

fn config_def() -> ConfigDef {
    ConfigDef::new().define(
        FILE_CONFIG,
        ConfigType::String,
        Some(""),
        Importance::High,
        "Destination filename. If not specified, the standard output will be used",
    )
}

/// Appends each record's value, one per line, to a file (or stdout).
#[derive(Default)]
pub struct FileStreamSinkConnector {
    props: Props,
}

#[async_trait]
impl Connector for FileStreamSinkConnector {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    async fn start(&mut self, _ctx: Arc<dyn ConnectorContext>, props: &Props) -> ConnectResult<()> {
        config_def().parse(props)?;
        self.props = props.clone();
        Ok(())
    }

    async fn task_configs(&self, max_tasks: usize) -> ConnectResult<Vec<Props>> {
        Ok(vec![self.props.clone(); max_tasks.max(1)])
    }
}

impl SinkConnector for FileStreamSinkConnector {
    fn create_task(&self) -> Box<dyn SinkTask> {
        Box::<FileStreamSinkTask>::default()
    }
}

/// Where lines go. Each buffer is written with one `write` call on a
/// regular file, so a crash never leaves half a line behind.
enum Output {
    File(std::fs::File),
    Stdout,
}

impl Output {
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        match self {
            Output::File(f) => f.write_all(buf),
            Output::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(buf)?;
                out.flush()
            }
        }
    }
}

#[derive(Default)]
pub struct FileStreamSinkTask {
    filename: Option<String>,
    out: Option<Output>,
    /// Lines not yet written; values are UTF-8 text (strings, or Java's
    /// `toString()` of other values, formatted straight into it).
    buffer: String,
}

impl FileStreamSinkTask {
    fn target(&self) -> String {
        self.filename
            .clone()
            .unwrap_or_else(|| "standard output".into())
    }

    /// Hands the buffer to the OS off the async runtime.
    async fn write_buffer(&mut self) -> ConnectResult<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let target = self.target();
        let mut out = self
            .out
            .take()
            .ok_or_else(|| ConnectError::other("put called before start"))?;
        let buf = std::mem::take(&mut self.buffer);
        let (out, buf, result) = tokio::task::spawn_blocking(move || {
            let r = out.write_all(buf.as_bytes());
            (out, buf, r)
        })
        .await
        .map_err(|e| ConnectError::caused_by("writer thread failed", e))?;
        self.out = Some(out);
        self.buffer = buf;
        self.buffer.clear();
        // A huge line grew it: give the memory back.
        self.buffer.shrink_to(WRITE_BUFFER);
        result.map_err(|e| ConnectError::io(format!("writing to {target}"), e))
    }
}

#[async_trait]
impl SinkTask for FileStreamSinkTask {
    async fn start(&mut self, _ctx: SinkTaskContext, props: &Props) -> ConnectResult<()> {
        let cfg = config_def().parse(props)?;
        self.filename = cfg.string(FILE_CONFIG)?.filter(|f| !f.is_empty());
        self.out = Some(match &self.filename {
            None => Output::Stdout,
            Some(f) => {
                // Unlike Java's sink, create missing parent folders.
                let path = std::path::Path::new(f);
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| ConnectError::io(format!("creating {}", dir.display()), e))?;
                }
                Output::File(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)
                        .map_err(|e| ConnectError::io(format!("opening {f} for append"), e))?,
                )
            }
        });
        self.buffer = String::with_capacity(WRITE_BUFFER);
        Ok(())
    }

    async fn put(&mut self, records: Vec<SinkRecord>) -> ConnectResult<()> {
        for r in &records {
            r.record.value.write_java_string(&mut self.buffer);
            self.buffer.push('\n');
            // Written as it fills, so the buffer never grows past its size
            // plus one line, however large the batch's records are.
            if self.buffer.len() >= WRITE_AT {
                self.write_buffer().await?;
            }
        }
        // One write per batch (Java writes per record): the file trails
        // Kafka by one poll, never by an offset flush interval.
        self.write_buffer().await?;
        Ok(())
    }

    async fn flush(&mut self, _offsets: &SinkOffsets) -> ConnectResult<()> {
        self.write_buffer().await
    }

    async fn stop(&mut self) -> ConnectResult<()> {
        self.write_buffer().await?;
        self.out = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink_context() -> SinkTaskContext {
        SinkTaskContext::new(crate::connect::PluginMetrics::detached(), None).0
    }
    use crate::connect::{ConnectRecord, Value};

    #[tokio::test]
    async fn appends_values_one_per_line_at_each_put() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        let props: Props = [("file".to_string(), path.display().to_string())].into();
        let mut task = FileStreamSinkTask::default();
        task.start(sink_context(), &props).await.unwrap();
        let rec = |v: Value, o| SinkRecord {
            record: ConnectRecord::new("t", None, v),
            kafka_partition: 0,
            kafka_offset: o,
        };
        task.put(vec![
            rec(Value::from("one"), 0),
            rec(Value::Int64(2), 1),
            rec(Value::Null, 2),
        ])
        .await
        .unwrap();
        // Written by the put itself, not held until the offset flush.
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\n2\nnull\n");
        task.flush(&SinkOffsets::new()).await.unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\n2\nnull\n");
        task.stop().await.unwrap();
    }

    #[tokio::test]
    async fn a_large_batch_is_written_in_pieces_without_growing_the_buffer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        let props: Props = [("file".to_string(), path.display().to_string())].into();
        let mut task = FileStreamSinkTask::default();
        task.start(sink_context(), &props).await.unwrap();
        let line = "x".repeat(1023);
        let batch: Vec<SinkRecord> = (0..3000)
            .map(|o| SinkRecord {
                record: ConnectRecord::new("t", None, Value::from(format!("{o:05}{line}"))),
                kafka_partition: 0,
                kafka_offset: o,
            })
            .collect();
        task.put(batch).await.unwrap();
        assert!(
            task.buffer.capacity() <= WRITE_BUFFER,
            "buffer grew to {} bytes",
            task.buffer.capacity()
        );
        let written = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = written.lines().collect();
        assert_eq!(lines.len(), 3000);
        assert!(lines
            .iter()
            .enumerate()
            .all(|(i, l)| l.starts_with(&format!("{i:05}")) && l.len() == 1028));
        task.stop().await.unwrap();
    }
}
