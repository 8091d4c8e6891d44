use async_trait::async_trait;
use tokio::io::{AsyncWrite, AsyncWriteExt, BufWriter};

use super::FILE_CONFIG;
use crate::connect::{
    ConfigDef, ConfigType, ConnectError, ConnectResult, Connector, Importance, Props,
    SinkConnector, SinkOffsets, SinkRecord, SinkTask,
};

const WRITE_BUFFER: usize = 1 << 20;

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

#[derive(Default)]
pub struct FileStreamSinkTask {
    filename: Option<String>,
    out: Option<BufWriter<Box<dyn AsyncWrite + Send + Unpin>>>,
    line: Vec<u8>,
}

impl FileStreamSinkTask {
    fn target(&self) -> &str {
        self.filename.as_deref().unwrap_or("standard output")
    }
}

#[async_trait]
impl SinkTask for FileStreamSinkTask {
    async fn start(&mut self, props: &Props) -> ConnectResult<()> {
        let cfg = config_def().parse(props)?;
        self.filename = cfg.string(FILE_CONFIG).filter(|f| !f.is_empty());
        let writer: Box<dyn AsyncWrite + Send + Unpin> = match &self.filename {
            None => Box::new(tokio::io::stdout()),
            Some(f) => Box::new({
                // Unlike Java's sink, create missing parent folders.
                if let Some(dir) = std::path::Path::new(f).parent().filter(|d| !d.as_os_str().is_empty()) {
                    tokio::fs::create_dir_all(dir)
                        .await
                        .map_err(|e| ConnectError::io(format!("creating {}", dir.display()), e))?;
                }
                tokio::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(f)
                    .await
                    .map_err(|e| ConnectError::io(format!("opening {f} for append"), e))?
            }),
        };
        self.out = Some(BufWriter::with_capacity(WRITE_BUFFER, writer));
        Ok(())
    }

    async fn put(&mut self, records: Vec<SinkRecord>) -> ConnectResult<()> {
        let target = self.target().to_owned();
        let out = self
            .out
            .as_mut()
            .ok_or_else(|| ConnectError::Other("put called before start".into()))?;
        // One buffer per batch keeps the per-record cost to formatting only.
        self.line.clear();
        for r in &records {
            match r.record.value.as_str() {
                Some(s) => self.line.extend_from_slice(s.as_bytes()),
                None => self
                    .line
                    .extend_from_slice(r.record.value.to_java_string().as_bytes()),
            }
            self.line.push(b'\n');
        }
        out.write_all(&self.line)
            .await
            .map_err(|e| ConnectError::io(format!("writing to {target}"), e))
    }

    async fn flush(&mut self, _offsets: &SinkOffsets) -> ConnectResult<()> {
        let target = self.target().to_owned();
        if let Some(out) = self.out.as_mut() {
            out.flush()
                .await
                .map_err(|e| ConnectError::io(format!("flushing {target}"), e))?;
        }
        Ok(())
    }

    async fn stop(&mut self) -> ConnectResult<()> {
        self.flush(&SinkOffsets::new()).await?;
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
        task.put(vec![rec(Value::from("one"), 0), rec(Value::Int64(2), 1), rec(Value::Null, 2)])
            .await
            .unwrap();
        task.flush(&SinkOffsets::new()).await.unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\n2\nnull\n");
        task.stop().await.unwrap();
    }
}
