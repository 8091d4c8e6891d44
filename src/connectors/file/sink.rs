use async_trait::async_trait;

use super::FILE_CONFIG;
use crate::connect::{
    ConfigDef, ConfigType, ConnectError, ConnectResult, Connector, Importance, Props,
    SinkConnector, SinkOffsets, SinkRecord, SinkTask,
};

const WRITE_BUFFER: usize = 1 << 20;
/// Batches smaller than this (the engine hands over up to 2 000 records
/// per poll) mean no backlog is left: the buffer is written at once.
const CAUGHT_UP_BATCH: usize = 500;

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

impl Connector for FileStreamSinkConnector {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn start(&mut self, props: &Props) -> ConnectResult<()> {
        config_def().parse(props)?;
        self.props = props.clone();
        Ok(())
    }

    fn task_configs(&self, max_tasks: usize) -> ConnectResult<Vec<Props>> {
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
            .ok_or_else(|| ConnectError::Other("put called before start".into()))?;
        let buf = std::mem::take(&mut self.buffer);
        let (out, buf, result) = tokio::task::spawn_blocking(move || {
            let r = out.write_all(buf.as_bytes());
            (out, buf, r)
        })
        .await
        .map_err(|e| ConnectError::Other(format!("writer thread failed: {e}")))?;
        self.out = Some(out);
        self.buffer = buf;
        self.buffer.clear();
        result.map_err(|e| ConnectError::io(format!("writing to {target}"), e))
    }
}

#[async_trait]
impl SinkTask for FileStreamSinkTask {
    async fn start(&mut self, props: &Props) -> ConnectResult<()> {
        let cfg = config_def().parse(props)?;
        self.filename = cfg.string(FILE_CONFIG).filter(|f| !f.is_empty());
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
        }
        // A batch smaller than a full poll means the consumer caught up:
        // write now, so the file trails Kafka by one poll rather than by an
        // offset flush interval.
        if self.buffer.len() >= WRITE_BUFFER || records.len() < CAUGHT_UP_BATCH {
            self.write_buffer().await?;
        }
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
    use crate::connect::{ConnectRecord, Value};

    #[tokio::test]
    async fn appends_values_one_per_line_after_flush() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        let props: Props = [("file".to_string(), path.display().to_string())].into();
        let mut task = FileStreamSinkTask::default();
        task.start(&props).await.unwrap();
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
        task.flush(&SinkOffsets::new()).await.unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\n2\nnull\n");
        task.stop().await.unwrap();
    }
}
