//! The connector's one task: a reader (a tokio task of its own) takes the
//! snapshot and then follows the replication slot, turning each change into
//! Debezium's records with Debezium's offsets; `poll` hands them on in
//! batches; `commit` tells the reader which LSN the server may forget (the
//! `lsn_commit` of the newest offset Kafka Connect stored), so the slot
//! never passes a change that is not in Kafka.
//!
//! Offsets follow Debezium 3.6.1 (see shared/notes/debezium-postgres-offsets.md):
//! a change's `lsn` and `lsn_proc` are its own LSN, `lsn_commit` the end of
//! the transaction committed before it; a restart streams from `lsn_proc`
//! and drops the changes at or before it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use pgwire_replication::{Lsn, ReplicationClient, ReplicationConfig, ReplicationEvent};
use serde_json::json;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::catalog;
use super::config::{PostgresConfig, SnapshotMode};
use super::pgoutput::{self, Message, Relation, TupleValue};
use super::schema::{Column, RowValue, SourceInfo, TableSchema};
use super::tls::PgTls;
use super::types::PgType;
use crate::connect::metrics::{Counter, Gauge};
use crate::connect::{
    CommittedOffsets, ConnectError, ConnectRecord, ConnectResult, Header, OffsetMap, PluginMetrics,
    Props, SchemaBuilder, SchemaRef, SourceRecord, SourceTask, SourceTaskContext, Struct, Value,
};

static HEARTBEAT_KEY: std::sync::LazyLock<SchemaRef> = std::sync::LazyLock::new(|| {
    SchemaBuilder::struct_()
        .name("io.debezium.connector.common.ServerNameKey")
        .version(1)
        .field("serverName", SchemaBuilder::string().build())
        .build()
});

static HEARTBEAT_VALUE: std::sync::LazyLock<SchemaRef> = std::sync::LazyLock::new(|| {
    SchemaBuilder::struct_()
        .name("io.debezium.connector.common.Heartbeat")
        .version(1)
        .field("ts_ms", SchemaBuilder::int64().build())
        .build()
});

/// Microseconds between 1970-01-01 and PostgreSQL's epoch, 2000-01-01.
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// How many times a Relation message's columns are looked for in the
/// catalog (50 ms, 100 ms, … apart, about 2 s in all) before the stream's
/// own type names are used: a column dropped since the change was made
/// never shows up.
const CATALOG_CATCH_UP_TRIES: u64 = 10;

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// Where a restart picks up, from the stored offset.
#[derive(Debug, Clone, Default, PartialEq)]
struct Resume {
    /// Changes at or before this LSN were delivered.
    lsn_proc: Option<u64>,
    lsn_commit: Option<u64>,
    /// The offset is a snapshot's, and the snapshot did not finish.
    snapshot_unfinished: bool,
}

impl Resume {
    fn from_offset(offset: &OffsetMap) -> Resume {
        let long = |k: &str| offset.get(k).and_then(|v| v.as_u64());
        let snapshot = offset.contains_key("snapshot");
        let completed = offset
            .get("snapshot_completed")
            .is_some_and(|v| v.as_bool() == Some(true) || v.as_str() == Some("true"));
        Resume {
            lsn_proc: long("lsn_proc").or_else(|| long("lsn")),
            lsn_commit: long("lsn_commit").or_else(|| long("lsn_proc")),
            snapshot_unfinished: snapshot && !completed,
        }
    }
}

/// Debezium's metrics (the names Strimzi's exporter gives its MBeans:
/// `debezium_metrics_<Attribute>{context="snapshot"|"streaming",
/// plugin="postgres", name="<topic.prefix>"}`), and the slot's lag.
#[derive(Clone)]
struct Metrics {
    snapshot_events: Counter,
    snapshot_running: Gauge,
    snapshot_completed: Gauge,
    streaming_events: Counter,
    connected: Gauge,
    behind_source_ms: Gauge,
    committed_transactions: Counter,
    slot_lag_bytes: Gauge,
}

impl Metrics {
    fn new(base: &PluginMetrics, prefix: &str) -> Metrics {
        let debezium = base
            .with_group("debezium_metrics")
            .with_label("plugin", "postgres")
            .with_label("name", prefix);
        let snapshot = debezium.with_label("context", "snapshot");
        let streaming = debezium.with_label("context", "streaming");
        Metrics {
            snapshot_events: snapshot.counter("TotalNumberOfEventsSeen", "Snapshot events read"),
            snapshot_running: snapshot.gauge("SnapshotRunning", "1 while the snapshot runs"),
            snapshot_completed: snapshot.gauge("SnapshotCompleted", "1 once the snapshot finished"),
            streaming_events: streaming.counter(
                "TotalNumberOfEventsSeen",
                "Change events read from the slot",
            ),
            connected: streaming.gauge("Connected", "1 while the replication stream is connected"),
            behind_source_ms: streaming.gauge(
                "MilliSecondsBehindSource",
                "Milliseconds between the last change's commit and its processing",
            ),
            committed_transactions: streaming.counter(
                "NumberOfCommittedTransactions",
                "Transactions read from the slot",
            ),
            slot_lag_bytes: base.with_label("slot", prefix).gauge(
                "postgres_replication_slot_lag_bytes",
                "WAL bytes between the server's current position and the slot's confirmed position",
            ),
        }
    }
}

enum Item {
    Record(SourceRecord),
    Failed(ConnectError),
}

struct Running {
    records: mpsc::Receiver<Item>,
    flush: watch::Sender<u64>,
    stop: CancellationToken,
    reader: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
pub struct PostgresCdcTask {
    cfg: Option<Arc<PostgresConfig>>,
    tls: Option<Arc<PgTls>>,
    partition: Arc<OffsetMap>,
    running: Option<Running>,
    /// The offset of the newest record handed on: where a reconnect resumes.
    last_offset: Option<OffsetMap>,
    failures: u32,
    metrics: Option<Metrics>,
}

#[async_trait]
impl SourceTask for PostgresCdcTask {
    async fn start(&mut self, ctx: SourceTaskContext, props: &Props) -> ConnectResult<()> {
        let cfg = Arc::new(PostgresConfig::parse(props)?);
        let tls = PgTls::from_config(&cfg).map_err(|e| ConnectError::other(e.to_string()))?;
        self.tls = Some(Arc::new(tls));
        let ignored = super::config::ignored_keys(props);
        if !ignored.is_empty() {
            tracing::warn!(keys = ?ignored, "Debezium settings without effect in kconnect are ignored");
        }
        let mut partition = OffsetMap::new();
        partition.insert("server".into(), json!(cfg.topic_prefix));
        self.partition = Arc::new(partition);
        self.last_offset = ctx.offset_reader().offset(&self.partition);
        self.metrics = Some(Metrics::new(ctx.metrics(), &cfg.topic_prefix));
        self.cfg = Some(cfg);
        self.spawn_reader();
        Ok(())
    }

    async fn poll(&mut self) -> ConnectResult<Vec<SourceRecord>> {
        let Some(cfg) = self.cfg.clone() else {
            return Ok(Vec::new());
        };
        if self.running.is_none() {
            self.spawn_reader();
        }
        let running = self.running.as_mut().expect("a reader runs");
        let mut batch = Vec::new();
        let first = tokio::time::timeout(cfg.poll_interval, running.records.recv()).await;
        let mut next = match first {
            Err(_) => return Ok(batch),
            Ok(item) => item,
        };
        loop {
            match next {
                Some(Item::Record(r)) => {
                    self.last_offset = Some(r.source_offset.clone());
                    batch.push(r);
                }
                Some(Item::Failed(e)) => {
                    self.stop_reader().await;
                    if batch.is_empty() && e.is_retriable() {
                        // Reconnect from the last record handed on.
                        self.failures += 1;
                        let wait = Duration::from_millis(500 << self.failures.min(6));
                        tracing::warn!(error = %e, retry_in = ?wait, "PostgreSQL connection lost; reconnecting");
                        tokio::time::sleep(wait).await;
                        return Ok(batch);
                    }
                    if batch.is_empty() {
                        return Err(e);
                    }
                    return Ok(batch);
                }
                None => {
                    self.stop_reader().await;
                    return Ok(batch);
                }
            }
            if batch.len() >= cfg.max_batch_size {
                break;
            }
            next = match running.records.try_recv() {
                Ok(item) => Some(item),
                Err(_) => break,
            };
        }
        self.failures = 0;
        Ok(batch)
    }

    async fn commit(&mut self, committed: &CommittedOffsets) -> ConnectResult<()> {
        let Some(running) = &self.running else {
            return Ok(());
        };
        let lsn = committed
            .iter()
            .filter(|(p, _)| *p == *self.partition)
            .filter_map(|(_, o)| {
                let long = |k: &str| o.get(k).and_then(|v| v.as_u64());
                long("lsn_commit")
                    .or_else(|| long("lsn_proc"))
                    .or_else(|| long("lsn"))
            })
            .max();
        if let Some(lsn) = lsn {
            running.flush.send_if_modified(|current| {
                let newer = lsn > *current;
                if newer {
                    *current = lsn;
                }
                newer
            });
        }
        Ok(())
    }

    async fn stop(&mut self) -> ConnectResult<()> {
        self.stop_reader().await;
        // `start` sets both or neither.
        if let (Some(cfg), Some(tls)) = (&self.cfg, &self.tls) {
            if cfg.slot_drop_on_stop {
                let client = catalog::connect(cfg, tls).await?;
                client
                    .execute(
                        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1",
                        &[&cfg.slot_name],
                    )
                    .await
                    .map_err(|e| catalog::db_error("dropping the replication slot", cfg, &e))?;
            }
        }
        Ok(())
    }
}

impl PostgresCdcTask {
    fn spawn_reader(&mut self) {
        let (Some(cfg), Some(tls)) = (self.cfg.clone(), self.tls.clone()) else {
            return;
        };
        let resume = self.last_offset.as_ref().map(Resume::from_offset);
        let (tx, rx) = mpsc::channel(cfg.max_queue_size);
        let (flush_tx, flush_rx) =
            watch::channel(resume.as_ref().and_then(|r| r.lsn_commit).unwrap_or(0));
        let stop = CancellationToken::new();
        let Some(metrics) = self.metrics.clone() else {
            return;
        };
        let reader = Reader {
            cfg,
            tls,
            metrics,
            partition: self.partition.clone(),
            tx: tx.clone(),
            tables: HashMap::new(),
            type_names: HashMap::new(),
        };
        let stopping = stop.clone();
        let handle = tokio::spawn(async move {
            let failed = tx.clone();
            tokio::select! {
                result = reader.run(resume, flush_rx) => {
                    if let Err(e) = result {
                        let _ = failed.send(Item::Failed(e)).await;
                    }
                }
                _ = stopping.cancelled() => {}
            }
        });
        self.running = Some(Running {
            records: rx,
            flush: flush_tx,
            stop,
            reader: handle,
        });
    }

    async fn stop_reader(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop.cancel();
            let _ = running.reader.await;
        }
    }
}

/// The snapshot markers of a record: Debezium's `source.snapshot`.
fn snapshot_marker(
    first: bool,
    last: bool,
    first_in_table: bool,
    last_in_table: bool,
) -> &'static str {
    match () {
        _ if last => "last",
        _ if first => "first",
        _ if first_in_table => "first_in_data_collection",
        _ if last_in_table => "last_in_data_collection",
        _ => "true",
    }
}

struct Reader {
    cfg: Arc<PostgresConfig>,
    tls: Arc<PgTls>,
    metrics: Metrics,
    partition: Arc<OffsetMap>,
    tx: mpsc::Sender<Item>,
    /// Captured tables by relation OID.
    tables: HashMap<u32, TableSchema>,
    type_names: HashMap<u32, String>,
}

/// A change's place in the stream, for its source block and offset.
#[derive(Debug, Clone, Copy, Default)]
struct Position {
    lsn: u64,
    last_commit: Option<u64>,
    xid: Option<u32>,
    commit_micros: i64,
}

impl Reader {
    async fn run(
        mut self,
        resume: Option<Resume>,
        mut flush: watch::Receiver<u64>,
    ) -> ConnectResult<()> {
        let cfg = self.cfg.clone();
        let client = catalog::connect(&cfg, &self.tls).await?;
        let captured = catalog::captured_tables(&client, &cfg).await?;
        catalog::ensure_publication(&client, &cfg, &captured).await?;
        let slot = catalog::slot_position(&client, &cfg).await?;
        let snapshot = match (cfg.snapshot_mode, &resume) {
            (SnapshotMode::Always, _) => true,
            (SnapshotMode::Never | SnapshotMode::NoData, _) => false,
            (_, None) => true,
            (_, Some(r)) if r.snapshot_unfinished => true,
            (SnapshotMode::WhenNeeded, Some(_)) => slot.is_none(),
            _ => false,
        };
        let start = match (&resume, snapshot) {
            (Some(r), false) => r.lsn_proc.unwrap_or(0),
            _ => 0, // the slot's own position
        };
        let mut repl = ReplicationClient::connect_gated(
            ReplicationConfig::new(
                cfg.hostname.clone(),
                cfg.user.clone(),
                cfg.password.clone(),
                cfg.dbname.clone(),
                cfg.slot_name.clone(),
                cfg.publication_name.clone(),
            )
            .with_port(cfg.port)
            .with_options(catalog::SESSION_OPTIONS)
            .with_application_name("kconnect-postgres-cdc")
            .with_start_lsn(Lsn::from_u64(start))
            .with_status_interval(Duration::from_secs(1))
            .with_tls(self.tls.replication()),
        )
        .await
        .map_err(replication_error)?;
        // A new slot exports the snapshot it starts after: reading at it
        // leaves no gap and no overlap between snapshot and stream.
        let mut exported = None;
        let mut snapshot_lsn = slot;
        if slot.is_none() {
            let rows = repl
                .simple_query(&format!(
                    "CREATE_REPLICATION_SLOT {} LOGICAL pgoutput",
                    catalog::quote_ident(&cfg.slot_name)
                ))
                .await
                .map_err(replication_error)?;
            let text = |i: usize| {
                rows.first()
                    .and_then(|r| r.get(i).cloned().flatten())
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
            };
            snapshot_lsn = text(1).as_deref().and_then(catalog::parse_lsn);
            exported = text(2);
            tracing::info!(slot = %cfg.slot_name, lsn = ?text(1), "created the replication slot");
        }
        for t in captured {
            self.tables.insert(t.oid, t.schema);
        }
        if snapshot {
            self.snapshot(&client, exported.as_deref(), snapshot_lsn.unwrap_or(0))
                .await?;
        }
        if cfg.snapshot_mode == SnapshotMode::InitialOnly {
            tracing::info!("snapshot.mode=initial_only: not streaming");
            std::future::pending::<()>().await;
        }
        repl.start().await.map_err(replication_error)?;
        repl.wait_started().await.map_err(replication_error)?;
        let skip_until = if snapshot {
            None
        } else {
            resume.and_then(|r| r.lsn_proc)
        };
        self.stream(&client, &mut repl, &mut flush, skip_until)
            .await
    }

    async fn send(&self, item: Item) -> ConnectResult<()> {
        self.tx
            .send(item)
            .await
            .map_err(|_| ConnectError::other("the task stopped"))
    }

    async fn snapshot(
        &mut self,
        client: &tokio_postgres::Client,
        exported: Option<&str>,
        lsn: u64,
    ) -> ConnectResult<()> {
        let cfg = self.cfg.clone();
        let mut begin = "BEGIN ISOLATION LEVEL REPEATABLE READ;".to_owned();
        if let Some(name) = exported {
            begin.push_str(&format!(
                " SET TRANSACTION SNAPSHOT '{}';",
                name.replace('\'', "''")
            ));
        }
        client
            .batch_execute(&begin)
            .await
            .map_err(|e| catalog::db_error("starting the snapshot", &cfg, &e))?;
        let row = client
            .query_one(
                "SELECT pg_current_xact_id()::text::bigint, (extract(epoch FROM CURRENT_TIMESTAMP) * 1000000)::bigint",
                &[],
            )
            .await
            .map_err(|e| catalog::db_error("starting the snapshot", &cfg, &e))?;
        let (tx_id, ts): (i64, i64) = (row.get(0), row.get(1));
        self.metrics.snapshot_running.set(1.0);
        self.metrics.snapshot_completed.set(0.0);
        let mut oids: Vec<u32> = self.tables.keys().copied().collect();
        oids.sort_by_key(|o| (self.tables[o].schema.clone(), self.tables[o].table.clone()));
        // One record held back, so the last of a table and of the snapshot
        // can be marked.
        let mut pending: Option<(u32, Struct, bool)> = None;
        let mut first = true;
        for oid in &oids {
            let table = self.tables[oid].clone();
            let mut first_in_table = true;
            let mut rows = Vec::new();
            catalog::read_table(client, &cfg, &table, |values| {
                rows.push(values);
                Ok(())
            })
            .await?;
            tracing::info!(table = %format!("{}.{}", table.schema, table.table), rows = rows.len(), "snapshot of a table");
            for values in rows {
                let texts: Vec<RowValue> = values
                    .into_iter()
                    .map(|v| v.map_or(RowValue::Null, RowValue::Text))
                    .collect();
                let row = table
                    .row(&texts, &cfg.representation)
                    .map_err(|e| ConnectError::other(e.to_string()))?;
                if let Some((p_oid, p_row, p_first_in_table)) = pending.take() {
                    let last_in_table = p_oid != *oid;
                    let marker = snapshot_marker(first, false, p_first_in_table, last_in_table);
                    first = false;
                    let record = self.snapshot_record(p_oid, p_row, marker, false, lsn, tx_id, ts);
                    self.send(Item::Record(record)).await?;
                }
                pending = Some((*oid, row, first_in_table));
                first_in_table = false;
                self.metrics.snapshot_events.inc();
            }
        }
        if let Some((oid, row, _)) = pending.take() {
            let record = self.snapshot_record(oid, row, "last", true, lsn, tx_id, ts);
            self.send(Item::Record(record)).await?;
        }
        client
            .batch_execute("COMMIT")
            .await
            .map_err(|e| catalog::db_error("ending the snapshot", &cfg, &e))?;
        self.metrics.snapshot_running.set(0.0);
        self.metrics.snapshot_completed.set(1.0);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn snapshot_record(
        &self,
        oid: u32,
        row: Struct,
        marker: &'static str,
        completed: bool,
        lsn: u64,
        tx_id: i64,
        ts: i64,
    ) -> SourceRecord {
        let table = &self.tables[&oid];
        let source = SourceInfo {
            name: self.cfg.topic_prefix.clone(),
            db: self.cfg.dbname.clone(),
            ts_micros: ts,
            snapshot: marker,
            last_commit_lsn: None,
            lsn: Some(lsn),
            tx_id: Some(tx_id),
        };
        let key = table.key_of(&row);
        let envelope = table.envelope('r', None, Some(row), &source, now_micros());
        let offset: OffsetMap = [
            ("last_snapshot_record", json!(completed)),
            ("lsn", json!(lsn)),
            ("txId", json!(tx_id)),
            ("ts_usec", json!(ts)),
            ("snapshot", json!("INITIAL")),
            ("snapshot_completed", json!(completed)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        self.record(table, key, Some(envelope), offset, Vec::new())
    }

    fn record(
        &self,
        table: &TableSchema,
        key: Option<Struct>,
        value: Option<Struct>,
        offset: OffsetMap,
        headers: Vec<Header>,
    ) -> SourceRecord {
        let mut record = ConnectRecord::new(
            table.topic.clone(),
            value.as_ref().map(|_| table.envelope.clone()),
            value.map_or(Value::Null, Value::Struct),
        );
        record.key_schema = table.key.clone();
        record.key = key.map_or(Value::Null, Value::Struct);
        record.headers = headers;
        SourceRecord {
            record,
            source_partition: self.partition.clone(),
            source_offset: offset,
        }
    }

    async fn stream(
        &mut self,
        client: &tokio_postgres::Client,
        repl: &mut ReplicationClient,
        flush: &mut watch::Receiver<u64>,
        skip_until: Option<u64>,
    ) -> ConnectResult<()> {
        let mut pos = Position::default();
        self.metrics.connected.set(1.0);
        let _disconnected = SetOnDrop(self.metrics.connected.clone(), 0.0);
        let mut lag_check = tokio::time::interval(Duration::from_secs(10));
        let beat = self.cfg.heartbeat_interval;
        let mut next_beat = tokio::time::Instant::now() + beat.unwrap_or(Duration::from_secs(3600));
        // The offset of the newest commit: what a heartbeat carries.
        let mut commit_offset: Option<OffsetMap> = None;
        let mut flush_closed = false;
        loop {
            tokio::select! {
                _ = lag_check.tick() => {
                    let lag = client
                        .query_one(
                            "SELECT coalesce((pg_current_wal_lsn() - confirmed_flush_lsn)::float8, 0)
                               FROM pg_replication_slots WHERE slot_name = $1",
                            &[&self.cfg.slot_name],
                        )
                        .await;
                    if let Ok(row) = lag {
                        self.metrics.slot_lag_bytes.set(row.get::<_, f64>(0));
                    }
                }
                _ = tokio::time::sleep_until(next_beat), if beat.is_some() => {
                    next_beat = tokio::time::Instant::now() + beat.unwrap_or_default();
                    if let Some(offset) = &commit_offset {
                        let record = self.heartbeat(offset.clone());
                        self.send(Item::Record(record)).await?;
                    }
                }
                changed = flush.changed(), if !flush_closed => {
                    match changed {
                        Ok(()) => {
                            let lsn = *flush.borrow_and_update();
                            repl.update_applied_lsn(Lsn::from_u64(lsn));
                        }
                        // The task is going: nothing more to confirm.
                        Err(_) => flush_closed = true,
                    }
                }
                event = repl.recv() => {
                    let Some(event) = event.map_err(replication_error)? else {
                        return Err(ConnectError::retriable("the replication stream ended"));
                    };
                    match event {
                        ReplicationEvent::Begin { xid, commit_time_micros, .. } => {
                            pos.xid = Some(xid);
                            pos.commit_micros = commit_time_micros + PG_EPOCH_MICROS;
                        }
                        ReplicationEvent::Commit { end_lsn, .. } => {
                            self.metrics.committed_transactions.inc();
                            let end = end_lsn.as_u64();
                            pos.last_commit = Some(end);
                            if beat.is_some() {
                                let mut o = OffsetMap::new();
                                o.insert("lsn_proc".into(), json!(end));
                                o.insert("lsn_commit".into(), json!(end));
                                o.insert("lsn".into(), json!(end));
                                if let Some(x) = pos.xid {
                                    o.insert("txId".into(), json!(x));
                                }
                                o.insert("ts_usec".into(), json!(pos.commit_micros));
                                o.insert("messageType".into(), json!("COMMIT"));
                                commit_offset = Some(o);
                            }
                        }
                        ReplicationEvent::XLogData { wal_start, data, .. } => {
                            pos.lsn = wal_start.as_u64();
                            let message = pgoutput::decode(&data)
                                .map_err(|e| ConnectError::other(e.to_string()))?;
                            let Some(message) = message else { continue };
                            if let Message::Relation(rel) = &message {
                                self.relation(client, rel).await?;
                                continue;
                            }
                            if skip_until.is_some_and(|s| pos.lsn <= s) {
                                continue; // delivered before the restart
                            }
                            self.metrics.streaming_events.inc();
                            self.metrics
                                .behind_source_ms
                                .set(((now_micros() - pos.commit_micros) / 1000).max(0) as f64);
                            for record in self.change(message, pos)? {
                                self.send(Item::Record(record)).await?;
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    /// Debezium's heartbeat record (`__debezium-heartbeat.<prefix>`,
    /// partition 0): it carries `offset`, so the slot is confirmed also
    /// while every change is filtered out or none comes.
    fn heartbeat(&self, offset: OffsetMap) -> SourceRecord {
        let key = Struct::new(HEARTBEAT_KEY.clone())
            .put("serverName", self.cfg.topic_prefix.clone())
            .expect("the heartbeat key fits its schema");
        let value = Struct::new(HEARTBEAT_VALUE.clone())
            .put("ts_ms", now_micros() / 1000)
            .expect("the heartbeat value fits its schema");
        let mut record = ConnectRecord::new(
            self.cfg.heartbeat_topic.clone(),
            Some(HEARTBEAT_VALUE.clone()),
            Value::Struct(value),
        );
        record.kafka_partition = Some(0);
        record.key_schema = Some(HEARTBEAT_KEY.clone());
        record.key = Value::Struct(key);
        SourceRecord {
            record,
            source_partition: self.partition.clone(),
            source_offset: offset,
        }
    }

    /// A table's shape from a Relation message: its columns in the
    /// stream's order, with nullability, defaults and keys from the catalog.
    async fn relation(
        &mut self,
        client: &tokio_postgres::Client,
        rel: &Relation,
    ) -> ConnectResult<()> {
        let cfg = self.cfg.clone();
        if !cfg.captures_table(&rel.namespace, &rel.name) {
            self.tables.remove(&rel.id);
            return Ok(());
        }
        let unchanged = self.tables.get(&rel.id).is_some_and(|t| {
            t.columns.len() == rel.columns.len()
                && t.columns
                    .iter()
                    .zip(&rel.columns)
                    .all(|(c, r)| c.name == r.name)
        });
        if unchanged {
            return Ok(());
        }
        // The stream can deliver a transaction a moment before its commit
        // is visible to other sessions, so a column the stream already has
        // (ADD COLUMN … DEFAULT 7) may not be in the catalog yet; without
        // this wait its default and nullability would be lost at random.
        let mut catalog_columns;
        let mut tries = 0;
        loop {
            catalog_columns =
                catalog::table_columns(client, &cfg, rel.id, &rel.namespace, &rel.name).await?;
            let all_there = rel
                .columns
                .iter()
                .all(|rc| catalog_columns.iter().any(|c| c.name == rc.name));
            tries += 1;
            if all_there || tries == CATALOG_CATCH_UP_TRIES {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50 * tries)).await;
        }
        let mut columns = Vec::new();
        for rc in &rel.columns {
            if !cfg.captures_column(&rel.namespace, &rel.name, &rc.name) {
                continue;
            }
            let known = catalog_columns.iter().find(|c| c.name == rc.name);
            let ty = match known {
                Some(c) if type_matches(&c.ty, rc.type_modifier) => c.ty.clone(),
                _ => {
                    let name = self.type_name(client, rc.type_oid).await?;
                    PgType::from_name(&name, rc.type_modifier, None)
                }
            };
            columns.push(Column {
                name: rc.name.clone(),
                ty,
                nullable: known.is_none_or(|c| c.nullable),
                default_expr: known.and_then(|c| c.default_expr.clone()),
                key: known.is_some_and(|c| c.key),
            });
        }
        let table = TableSchema::new(
            &cfg.topic_prefix,
            &rel.namespace,
            &rel.name,
            columns,
            &cfg.representation,
        )
        .map_err(|e| ConnectError::other(e.to_string()))?;
        tracing::info!(table = %format!("{}.{}", rel.namespace, rel.name), "table schema (re)read from the stream");
        self.tables.insert(rel.id, table);
        Ok(())
    }

    async fn type_name(
        &mut self,
        client: &tokio_postgres::Client,
        oid: u32,
    ) -> ConnectResult<String> {
        if let Some(n) = self.type_names.get(&oid) {
            return Ok(n.clone());
        }
        let row = client
            .query_one("SELECT typname::text FROM pg_type WHERE oid = $1", &[&oid])
            .await
            .map_err(|e| catalog::db_error("looking a type up", &self.cfg, &e))?;
        let name: String = row.get(0);
        self.type_names.insert(oid, name.clone());
        Ok(name)
    }

    /// The records of one change (none for tables not captured).
    fn change(&self, message: Message, pos: Position) -> ConnectResult<Vec<SourceRecord>> {
        let cfg = &self.cfg;
        let repr = &cfg.representation;
        let offset = |kind: &str| -> OffsetMap {
            let mut o = OffsetMap::new();
            o.insert("lsn_proc".into(), json!(pos.lsn));
            if let Some(c) = pos.last_commit {
                o.insert("lsn_commit".into(), json!(c));
            }
            o.insert("lsn".into(), json!(pos.lsn));
            if let Some(x) = pos.xid {
                o.insert("txId".into(), json!(x));
            }
            o.insert("ts_usec".into(), json!(pos.commit_micros));
            o.insert("messageType".into(), json!(kind));
            o
        };
        let source = SourceInfo {
            name: cfg.topic_prefix.clone(),
            db: cfg.dbname.clone(),
            ts_micros: pos.commit_micros,
            snapshot: "false",
            last_commit_lsn: pos.last_commit,
            lsn: Some(pos.lsn),
            tx_id: pos.xid.map(i64::from),
        };
        let row = |table: &TableSchema, values: &[TupleValue]| -> ConnectResult<Struct> {
            let texts: Vec<RowValue> = values
                .iter()
                .map(|v| match v {
                    TupleValue::Null => RowValue::Null,
                    TupleValue::UnchangedToast => RowValue::Unavailable,
                    TupleValue::Text(t) => RowValue::Text(t.clone()),
                })
                .collect();
            table
                .row(&texts, repr)
                .map_err(|e| ConnectError::other(e.to_string()))
        };
        // A key-only old tuple: the key columns sent, the rest absent.
        let partial = |table: &TableSchema, values: &[TupleValue]| -> ConnectResult<Struct> {
            let texts: Vec<RowValue> = values
                .iter()
                .map(|v| match v {
                    TupleValue::Null => RowValue::Absent,
                    TupleValue::UnchangedToast => RowValue::Unavailable,
                    TupleValue::Text(t) => RowValue::Text(t.clone()),
                })
                .collect();
            table
                .row(&texts, repr)
                .map_err(|e| ConnectError::other(e.to_string()))
        };
        let now = now_micros();
        let mut out = Vec::new();
        match message {
            Message::Insert { relation, new } => {
                let Some(table) = self.tables.get(&relation) else {
                    return Ok(out);
                };
                if !cfg.emits('c') {
                    return Ok(out);
                }
                let after = row(table, &new)?;
                let key = table.key_of(&after);
                let event = table.envelope('c', None, Some(after), &source, now);
                out.push(self.record(table, key, Some(event), offset("INSERT"), Vec::new()));
            }
            Message::Update {
                relation,
                old,
                old_is_full,
                new,
            } => {
                let Some(table) = self.tables.get(&relation) else {
                    return Ok(out);
                };
                let after = row(table, &new)?;
                let before = match &old {
                    Some(values) if old_is_full => Some(row(table, values)?),
                    Some(values) => Some(partial(table, values)?),
                    None => None,
                };
                let new_key = table.key_of(&after);
                let old_key = before.as_ref().and_then(|b| table.key_of(b));
                if old_key.is_some() && old_key != new_key {
                    // A primary-key change: delete, tombstone, create.
                    let header = |name: &str, k: &Option<Struct>| Header {
                        key: name.to_owned(),
                        schema: table.key.clone(),
                        value: k.clone().map_or(Value::Null, Value::Struct),
                    };
                    if cfg.emits('d') {
                        let event = table.envelope('d', before.clone(), None, &source, now);
                        out.push(self.record(
                            table,
                            old_key.clone(),
                            Some(event),
                            offset("UPDATE"),
                            vec![header("__debezium.newkey", &new_key)],
                        ));
                        if cfg.tombstones_on_delete {
                            out.push(self.record(
                                table,
                                old_key.clone(),
                                None,
                                offset("UPDATE"),
                                Vec::new(),
                            ));
                        }
                    }
                    if cfg.emits('c') {
                        let event = table.envelope('c', None, Some(after), &source, now);
                        out.push(self.record(
                            table,
                            new_key,
                            Some(event),
                            offset("UPDATE"),
                            vec![header("__debezium.oldkey", &old_key)],
                        ));
                    }
                } else if cfg.emits('u') {
                    let before = if old_is_full { before } else { None };
                    let event = table.envelope('u', before, Some(after), &source, now);
                    out.push(self.record(
                        table,
                        new_key,
                        Some(event),
                        offset("UPDATE"),
                        Vec::new(),
                    ));
                }
            }
            Message::Delete {
                relation,
                old,
                old_is_full,
            } => {
                let Some(table) = self.tables.get(&relation) else {
                    return Ok(out);
                };
                if !cfg.emits('d') {
                    return Ok(out);
                }
                let before = if old_is_full {
                    row(table, &old)?
                } else {
                    partial(table, &old)?
                };
                let key = table.key_of(&before);
                let event = table.envelope('d', Some(before), None, &source, now);
                out.push(self.record(
                    table,
                    key.clone(),
                    Some(event),
                    offset("DELETE"),
                    Vec::new(),
                ));
                if cfg.tombstones_on_delete {
                    out.push(self.record(table, key, None, offset("DELETE"), Vec::new()));
                }
            }
            Message::Truncate { relations, .. } => {
                if !cfg.emits('t') {
                    return Ok(out);
                }
                for relation in relations {
                    let Some(table) = self.tables.get(&relation) else {
                        continue;
                    };
                    let event = table.envelope('t', None, None, &source, now);
                    let mut record =
                        self.record(table, None, Some(event), offset("TRUNCATE"), Vec::new());
                    record.record.key_schema = None;
                    out.push(record);
                }
            }
            Message::Relation(_) | Message::Type { .. } | Message::Origin { .. } => {}
        }
        Ok(out)
    }
}

/// Whether a catalog type still describes a column of the stream (same
/// modifier where the type has one).
fn type_matches(ty: &PgType, typmod: i32) -> bool {
    match ty {
        PgType::Numeric { .. }
        | PgType::Time(_)
        | PgType::Timestamp(_)
        | PgType::TimestampTz(_)
        | PgType::TimeTz(_) => {
            let probe = match ty {
                PgType::Numeric { .. } => PgType::from_name("numeric", typmod, None),
                PgType::Time(_) => PgType::from_name("time", typmod, None),
                PgType::TimeTz(_) => PgType::from_name("timetz", typmod, None),
                PgType::Timestamp(_) => PgType::from_name("timestamp", typmod, None),
                _ => PgType::from_name("timestamptz", typmod, None),
            };
            &probe == ty
        }
        _ => true,
    }
}

/// Sets a gauge when dropped: `Connected` goes to 0 however the stream
/// ends.
struct SetOnDrop(Gauge, f64);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.set(self.1);
    }
}

/// A replication error as a task failure; a lost connection is retriable.
fn replication_error(e: pgwire_replication::PgWireError) -> ConnectError {
    let message = format!("PostgreSQL replication: {e}");
    match e {
        // A refused login or certificate does not heal by retrying.
        pgwire_replication::PgWireError::Server(_)
        | pgwire_replication::PgWireError::Auth(_)
        | pgwire_replication::PgWireError::Tls(_) => ConnectError::other(message),
        _ => ConnectError::retriable(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_points_from_debeziums_offsets() {
        let offset = |v: serde_json::Value| -> OffsetMap { serde_json::from_value(v).unwrap() };
        assert_eq!(
            Resume::from_offset(&offset(
                json!({"lsn_proc": 26519112, "lsn_commit": 26519000, "lsn": 26519112, "txId": 743, "ts_usec": 1, "messageType": "DELETE"})
            )),
            Resume {
                lsn_proc: Some(26_519_112),
                lsn_commit: Some(26_519_000),
                snapshot_unfinished: false
            }
        );
        // A snapshot cut short is taken again.
        let r = Resume::from_offset(&offset(
            json!({"lsn": 5, "txId": 740, "ts_usec": 1, "snapshot": "INITIAL", "last_snapshot_record": false, "snapshot_completed": false}),
        ));
        assert!(r.snapshot_unfinished);
        assert_eq!(r.lsn_proc, Some(5));
        let r = Resume::from_offset(&offset(
            json!({"lsn": 5, "snapshot": "INITIAL", "last_snapshot_record": true, "snapshot_completed": true}),
        ));
        assert!(!r.snapshot_unfinished);
    }

    #[test]
    fn snapshot_markers_as_debeziums() {
        assert_eq!(snapshot_marker(true, false, true, false), "first");
        assert_eq!(
            snapshot_marker(false, false, true, false),
            "first_in_data_collection"
        );
        assert_eq!(
            snapshot_marker(false, false, false, true),
            "last_in_data_collection"
        );
        assert_eq!(snapshot_marker(false, false, false, false), "true");
        assert_eq!(snapshot_marker(true, true, true, true), "last");
    }
}
