//! `datagen`: a schema'd stream of synthetic orders at a configurable rate,
//! for demos and benchmarks. Values derive from the record id, so a run is
//! reproducible and a sink's output can be checked for completeness.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use serde_json::json;
use tokio::time::Instant;

use crate::connect::{
    ConfigDef, ConfigType, ConnectError, ConnectRecord, ConnectResult, Connector, ConnectorContext,
    Importance, OffsetMap, Props, SchemaBuilder, SchemaRef, SourceConnector, SourceRecord,
    SourceTask, SourceTaskContext, Struct, TransactionContext, Validator, Value,
};

pub const TOPIC: &str = "topic";
pub const RATE: &str = "rate";
pub const COUNT: &str = "count";
pub const BATCH_SIZE: &str = "batch.size";
/// With `transaction.boundary=connector`: records per transaction.
pub const TRANSACTION_RECORDS: &str = "transaction.records";
/// Set by the connector on each task config.
const TASK_ID: &str = "datagen.task.id";
const TASK_COUNT: &str = "datagen.task.count";

fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(TOPIC, ConfigType::String, None, Importance::High, "Topic to write generated records to")
        .validate_with(Validator::NonEmpty)
        .define(RATE, ConfigType::Double, Some("10"), Importance::Medium,
            "Records per second for the whole connector (split across tasks); 0 means as fast as possible")
        .define(COUNT, ConfigType::Long, Some("-1"), Importance::Medium,
            "Total records to generate across all tasks; -1 means no limit")
        .validate_with(Validator::Range { min: Some(-1), max: None })
        .define(BATCH_SIZE, ConfigType::Int, Some("500"), Importance::Low,
            "Maximum records returned by one poll")
        .validate_with(Validator::Range { min: Some(1), max: None })
        .define(TRANSACTION_RECORDS, ConfigType::Long, Some("0"), Importance::Low,
            "With exactly-once support and transaction.boundary=connector: a task ends a transaction after every record whose count (per task) is a multiple of this; 0 ends one after every batch")
        .validate_with(Validator::Range { min: Some(0), max: None })
}

/// The schema of generated values.
pub fn order_schema() -> SchemaRef {
    SchemaBuilder::struct_()
        .name("dev.kconnect.datagen.Order")
        .field("id", SchemaBuilder::int64().build())
        .field("customer", SchemaBuilder::string().build())
        .field("product", SchemaBuilder::string().build())
        .field("quantity", SchemaBuilder::int32().build())
        .field("amount", SchemaBuilder::float64().build())
        .field("created_at", SchemaBuilder::timestamp().build())
        .build()
}

const PRODUCTS: &[&str] = &["keyboard", "mouse", "monitor", "laptop", "cable", "dock"];

/// The order with this id. Pure, so tests can rebuild what was generated.
pub fn order(schema: &SchemaRef, id: i64, created_at: i64) -> Result<Struct, ConnectError> {
    let mix = (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let build = || -> Result<Struct, crate::connect::data::DataError> {
        Struct::new(schema.clone())
            .put("id", id)?
            .put("customer", format!("customer-{}", mix % 1000))?
            .put("product", PRODUCTS[(mix >> 20) as usize % PRODUCTS.len()])?
            .put("quantity", 1 + (mix >> 32) as i32 % 5)?
            .put("amount", ((mix >> 40) % 100_000) as f64 / 100.0)?
            .put("created_at", Value::Timestamp(created_at))
    };
    build().map_err(|e| ConnectError::other(e.message))
}

#[derive(Default)]
pub struct DatagenConnector {
    props: Props,
}

#[async_trait]
impl Connector for DatagenConnector {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    async fn start(&mut self, _ctx: Arc<dyn ConnectorContext>, props: &Props) -> ConnectResult<()> {
        config_def().parse(props)?;
        self.props = props.clone();
        Ok(())
    }

    async fn task_configs(&self, max_tasks: usize) -> ConnectResult<Vec<Props>> {
        let n = max_tasks.max(1);
        Ok((0..n)
            .map(|i| {
                let mut p = self.props.clone();
                p.insert(TASK_ID.into(), i.to_string());
                p.insert(TASK_COUNT.into(), n.to_string());
                p
            })
            .collect())
    }
}

#[async_trait]
impl SourceConnector for DatagenConnector {
    fn create_task(&self) -> Box<dyn SourceTask> {
        Box::<DatagenTask>::default()
    }

    /// Its records derive from its offsets alone, so a task restarted from
    /// committed offsets produces exactly what was not committed.
    fn exactly_once_support(&self, _props: &Props) -> Option<crate::connect::ExactlyOnceSupport> {
        Some(crate::connect::ExactlyOnceSupport::Supported)
    }

    /// Its tasks end transactions every `transaction.records` records.
    fn can_define_transaction_boundaries(
        &self,
        _props: &Props,
    ) -> crate::connect::TransactionBoundaries {
        crate::connect::TransactionBoundaries::Supported
    }

    /// Altered offsets must be what a task writes: `{"datagen.task": <n>}`
    /// → `{"generated": <non-negative count>}` (resets always pass).
    async fn alter_offsets(
        &self,
        _props: &Props,
        offsets: &[(OffsetMap, Option<OffsetMap>)],
    ) -> ConnectResult<bool> {
        for (partition, offset) in offsets {
            let Some(offset) = offset else { continue };
            if !partition.get(PARTITION_KEY).is_some_and(|t| t.is_i64()) {
                return Err(ConnectError::other(format!(
                    "Partition objects should contain the task number under '{PARTITION_KEY}'"
                )));
            }
            let generated = offset.get(OFFSET_KEY).and_then(|g| g.as_i64());
            if generated.is_none_or(|g| g < 0) {
                return Err(ConnectError::other(format!(
                    "The value for the '{OFFSET_KEY}' key in the offset should be a non-negative integer"
                )));
            }
        }
        Ok(true)
    }
}

/// The source partition's key: the task number.
const PARTITION_KEY: &str = "datagen.task";
/// The source offset's key: how many records the task generated.
const OFFSET_KEY: &str = "generated";

/// Task `i` of `n` generates ids `i, i+n, i+2n, …`; its offset is how many
/// it has generated, so a restart continues the sequence.
#[derive(Default)]
pub struct DatagenTask {
    topic: String,
    schema: Option<SchemaRef>,
    key_schema: Option<SchemaRef>,
    task_id: i64,
    task_count: i64,
    /// Records this task may generate in all; `None` is unbounded.
    limit: Option<i64>,
    rate_per_task: f64,
    batch_size: i64,
    generated: i64,
    started: Option<(Instant, i64)>,
    /// With connector-defined transaction boundaries: where to ask for
    /// them, and every how many records (0: after each batch).
    transactions: Option<Arc<dyn TransactionContext>>,
    transaction_records: i64,
}

impl DatagenTask {
    fn partition(&self) -> OffsetMap {
        let mut m = OffsetMap::new();
        m.insert(PARTITION_KEY.into(), json!(self.task_id));
        m
    }
}

#[async_trait]
impl SourceTask for DatagenTask {
    async fn start(&mut self, ctx: SourceTaskContext, props: &Props) -> ConnectResult<()> {
        let cfg = config_def().parse(props)?;
        self.topic = cfg.string(TOPIC)?.unwrap_or_default();
        self.task_id = props.get(TASK_ID).and_then(|v| v.parse().ok()).unwrap_or(0);
        self.task_count = props
            .get(TASK_COUNT)
            .and_then(|v| v.parse().ok())
            .unwrap_or(1)
            .max(1);
        let count = cfg.long(COUNT)?;
        self.limit = (count >= 0).then(|| {
            // ids below `count` that are congruent to task_id modulo task_count
            (count - self.task_id + self.task_count - 1).max(0) / self.task_count
        });
        self.rate_per_task = cfg.double(RATE)?.max(0.0) / self.task_count as f64;
        self.batch_size = i64::from(cfg.int(BATCH_SIZE)?);
        self.schema = Some(order_schema());
        self.key_schema = Some(SchemaBuilder::int64().build());
        self.transactions = ctx.transaction_context().cloned();
        self.transaction_records = cfg.long(TRANSACTION_RECORDS)?;
        if let Some(off) = ctx.offset_reader().offset(&self.partition()) {
            self.generated = off.get(OFFSET_KEY).and_then(|v| v.as_i64()).unwrap_or(0);
        }
        Ok(())
    }

    async fn poll(&mut self) -> ConnectResult<Vec<SourceRecord>> {
        let remaining = self.limit.map_or(i64::MAX, |l| l - self.generated);
        if remaining <= 0 {
            // Done: idle without spinning.
            tokio::time::sleep(Duration::from_millis(500)).await;
            return Ok(Vec::new());
        }
        let mut n = self.batch_size.min(remaining);
        if self.rate_per_task > 0.0 {
            let (t0, g0) = *self.started.get_or_insert((Instant::now(), self.generated));
            let due =
                |count: i64| t0 + Duration::from_secs_f64((count - g0) as f64 / self.rate_per_task);
            let next = due(self.generated + 1);
            tokio::time::sleep_until(next).await;
            let allowed = ((Instant::now() - t0).as_secs_f64() * self.rate_per_task) as i64 + g0;
            n = n.min((allowed - self.generated).max(1));
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let schema = self
            .schema
            .clone()
            .ok_or_else(|| ConnectError::other("poll before start"))?;
        let partition = Arc::new(self.partition());
        let mut out = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let id = self.task_id + self.generated * self.task_count;
            self.generated += 1;
            let mut offset = OffsetMap::new();
            offset.insert(OFFSET_KEY.into(), json!(self.generated));
            out.push(SourceRecord {
                record: ConnectRecord::new(
                    self.topic.clone(),
                    Some(schema.clone()),
                    order(&schema, id, now)?.into(),
                )
                .with_key(self.key_schema.clone(), Value::Int64(id)),
                source_partition: partition.clone(),
                source_offset: offset,
            });
            if let (Some(tx), Some(last)) = (&self.transactions, out.last()) {
                if self.transaction_records > 0 && self.generated % self.transaction_records == 0 {
                    tx.commit_transaction_after(last);
                }
            }
        }
        if let Some(tx) = &self.transactions {
            if self.transaction_records == 0 && !out.is_empty() {
                tx.commit_transaction();
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::connect::{DetachedContext, OffsetReader, PluginMetrics};

    fn task_context(offsets: Arc<dyn OffsetReader>) -> SourceTaskContext {
        SourceTaskContext::new(offsets, PluginMetrics::detached())
    }

    #[tokio::test]
    async fn altered_offsets_must_be_counts_of_a_task() {
        let map = |v: serde_json::Value| -> OffsetMap { serde_json::from_value(v).unwrap() };
        let connector = DatagenConnector::default();
        let alter = |partition, offset: Option<serde_json::Value>| {
            let offsets = vec![(map(partition), offset.map(map))];
            let connector = &connector;
            async move { connector.alter_offsets(&Props::new(), &offsets).await }
        };
        assert!(
            alter(json!({"datagen.task": 0}), Some(json!({"generated": 7})))
                .await
                .is_ok()
        );
        assert!(alter(json!({"x": 0}), None).await.is_ok());
        for (partition, offset) in [
            (json!({"datagen.task": 0}), json!({"generated": "seven"})),
            (json!({"datagen.task": 0}), json!({"generated": -1})),
            (json!({"task": 0}), json!({"generated": 7})),
        ] {
            assert!(alter(partition, Some(offset)).await.is_err());
        }
    }

    struct NoOffsets;
    impl OffsetReader for NoOffsets {
        fn offset(&self, _: &OffsetMap) -> Option<OffsetMap> {
            None
        }
    }

    #[tokio::test]
    async fn tasks_partition_the_id_space_and_stop_at_count() {
        let mut c = DatagenConnector::default();
        let props: Props = [("topic", "orders"), ("count", "10"), ("rate", "0")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        c.start(DetachedContext::new(), &props).await.unwrap();
        let mut ids = Vec::new();
        for cfg in c.task_configs(3).await.unwrap() {
            let mut t = DatagenTask::default();
            t.start(task_context(Arc::new(NoOffsets)), &cfg)
                .await
                .unwrap();
            for r in t.poll().await.unwrap() {
                assert!(order_schema().validate(&r.record.value).is_ok());
                ids.push(r.record.key.clone());
            }
            assert!(t.limit.unwrap() - t.generated == 0);
        }
        ids.sort_by_key(|v| match v {
            Value::Int64(i) => *i,
            _ => -1,
        });
        assert_eq!(ids, (0..10).map(Value::Int64).collect::<Vec<_>>());
    }

    /// What a task asked of its transaction context.
    #[derive(Default)]
    struct Requests(std::sync::Mutex<Vec<String>>);

    impl TransactionContext for Requests {
        fn commit_transaction(&self) {
            self.0.lock().unwrap().push("batch".into());
        }
        fn commit_transaction_after(&self, record: &SourceRecord) {
            self.0
                .lock()
                .unwrap()
                .push(format!("after {:?}", record.record.key));
        }
        fn abort_transaction(&self) {}
        fn abort_transaction_after(&self, _record: &SourceRecord) {}
    }

    #[tokio::test]
    async fn tasks_draw_transaction_boundaries_every_n_records_or_batch() {
        let start = |n: &str| {
            let props: Props = [
                ("topic", "orders"),
                ("rate", "0"),
                ("batch.size", "10"),
                ("transaction.records", n),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            let requests = Arc::new(Requests::default());
            let ctx = task_context(Arc::new(NoOffsets)).with_transactions(requests.clone());
            async move {
                let mut t = DatagenTask::default();
                t.start(ctx, &props).await.unwrap();
                t.poll().await.unwrap();
                t.poll().await.unwrap();
                let got = requests.0.lock().unwrap().clone();
                got
            }
        };
        assert_eq!(
            start("4").await,
            [
                "after Int64(3)",
                "after Int64(7)",
                "after Int64(11)",
                "after Int64(15)",
                "after Int64(19)"
            ]
        );
        assert_eq!(start("0").await, ["batch", "batch"]);
        // Without a transaction context (no exactly-once), nothing is asked.
        let mut t = DatagenTask::default();
        t.start(
            task_context(Arc::new(NoOffsets)),
            &Props::from([
                ("topic".to_string(), "o".to_string()),
                ("transaction.records".to_string(), "2".to_string()),
            ]),
        )
        .await
        .unwrap();
        assert!(t.transactions.is_none());
        assert!(
            DatagenConnector::default().can_define_transaction_boundaries(&Props::new())
                == crate::connect::TransactionBoundaries::Supported
        );
    }
}
