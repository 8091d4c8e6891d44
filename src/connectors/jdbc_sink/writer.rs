//! Writing one `put`: records become per-table runs of rows (a run is a
//! stretch of records of one kind and one column list, so order is kept
//! where it matters), each run becomes statements of up to `batch.size`
//! rows over `unnest` (see [`super::dialect`]), and the whole `put` is one
//! transaction: the framework commits the consumer offsets only after it
//! has committed.
//!
//! A statement the data makes fail (a value the column refuses, a
//! constraint) sends the `put` down the slow path: the same transaction
//! again, row by row under savepoints, each failing record reported as
//! errant with its table, column, offset and the server's error (the dead
//! letter queue gets them with `errors.tolerance=all`; with `none`, the
//! task fails on the first). A failure of the session or server is
//! retriable: the batch is redelivered whole after `retry.backoff.ms`, at
//! most `max.retries` times in a row.

use std::collections::HashMap;

use jiff::tz::TimeZone;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement, Transaction};

use crate::connect::{ConnectError, SinkRecord};

use super::config::{Flavor, InsertMode, SinkSettings};
use super::dialect::{self, Col, ColumnDef, TableId};
use super::rows::{self, Action, Cell};
use super::session;
use super::tables::{Evolution, Needs, Tables};
use super::values;

/// What a run does with its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Write,
    Delete,
    Truncate,
}

/// One record's row: the index of its record in the batch and its column
/// values as text (key columns first).
#[derive(Debug, Clone)]
struct Row {
    record: usize,
    texts: Vec<Option<String>>,
}

/// Consecutive records of one table, one kind and one column list.
#[derive(Debug, Clone)]
struct Run {
    kind: Kind,
    /// Key columns, then value columns.
    columns: Vec<String>,
    key_len: usize,
    rows: Vec<Row>,
}

/// A record that cannot be written: which one and why.
#[derive(Debug)]
pub struct Errant {
    pub record: usize,
    pub error: ConnectError,
}

/// The batch as per-table runs, in the order tables first appear.
#[derive(Debug, Default)]
pub struct Plan {
    tables: Vec<(TableId, Vec<Run>, Needs)>,
}

impl Plan {
    fn table(&mut self, id: &TableId) -> &mut (TableId, Vec<Run>, Needs) {
        let at = match self.tables.iter().position(|(t, ..)| t == id) {
            Some(i) => i,
            None => {
                self.tables.push((id.clone(), Vec::new(), Needs::default()));
                self.tables.len() - 1
            }
        };
        &mut self.tables[at]
    }

    fn push(&mut self, id: &TableId, kind: Kind, columns: Vec<String>, key_len: usize, row: Row) {
        let (_, runs, _) = self.table(id);
        match runs.last_mut() {
            Some(last)
                if last.kind == kind && last.columns == columns && kind != Kind::Truncate =>
            {
                last.rows.push(row)
            }
            _ => runs.push(Run {
                kind,
                columns,
                key_len,
                rows: vec![row],
            }),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// How many rows the plan writes.
    pub fn rows(&self) -> usize {
        self.tables
            .iter()
            .flat_map(|(_, runs, _)| runs)
            .map(|r| r.rows.len())
            .sum()
    }
}

fn where_in(r: &SinkRecord) -> String {
    format!(
        "topic {} partition {} offset {}",
        r.record.topic, r.kafka_partition, r.kafka_offset
    )
}

/// Turns records into a plan; records that cannot become rows are
/// returned as errant instead (the others are planned all the same).
pub fn plan(
    settings: &SinkSettings,
    zone: &TimeZone,
    records: &[SinkRecord],
) -> (Plan, Vec<Errant>) {
    let mut plan = Plan::default();
    let mut errant = Vec::new();
    let debezium_types = settings.flavor == Flavor::Debezium;
    for (i, r) in records.iter().enumerate() {
        let table = TableId::parse(&settings.table_name(&r.record.topic));
        let bad = |message: String| Errant {
            record: i,
            error: ConnectError::other(format!(
                "the JDBC sink cannot write the record at {} to table {}: {message}",
                where_in(r),
                table.sql(settings.quote_identifiers)
            )),
        };
        let action = match rows::action(settings, r) {
            Ok(a) => a,
            Err(e) => {
                errant.push(bad(e.0));
                continue;
            }
        };
        match action {
            Action::Skip => {}
            Action::Truncate => plan.push(
                &table,
                Kind::Truncate,
                Vec::new(),
                0,
                Row {
                    record: i,
                    texts: Vec::new(),
                },
            ),
            Action::Delete { key } => match texts(&key, zone, settings.flavor) {
                Ok(texts) => plan.push(
                    &table,
                    Kind::Delete,
                    key.iter().map(|c| c.name.clone()).collect(),
                    key.len(),
                    Row { record: i, texts },
                ),
                Err(e) => errant.push(bad(e)),
            },
            Action::Write { key, values } => {
                let all: Vec<&Cell> = key.iter().chain(&values).collect();
                let texts = match texts_of(&all, zone, settings.flavor) {
                    Ok(t) => t,
                    Err(e) => {
                        errant.push(bad(e));
                        continue;
                    }
                };
                // Every field needs a column type; only the columns the
                // table's needs do not list yet get their definition made.
                let (_, _, needs) = plan.table(&table);
                let mut defs = Vec::new();
                let mut typed = true;
                for (n, c) in all.iter().enumerate() {
                    let Some(sql_type) = dialect::column_type(&c.schema, settings.flavor) else {
                        errant.push(bad(format!(
                            "field {:?} is a {:?}, which has no column type",
                            c.name, c.schema.schema_type
                        )));
                        typed = false;
                        break;
                    };
                    if needs.has(&c.name) || defs.iter().any(|d: &ColumnDef| d.name == c.name) {
                        continue;
                    }
                    let default = match &c.schema.default {
                        Some(v) => values::text(&c.schema, v, zone, debezium_types)
                            .ok()
                            .flatten(),
                        None => None,
                    };
                    defs.push(ColumnDef {
                        name: c.name.clone(),
                        sql_type,
                        // Key columns are never null; value columns as
                        // their fields allow.
                        nullable: n >= key.len() && c.schema.optional,
                        default,
                    });
                }
                if !typed {
                    continue;
                }
                if needs.key.is_empty() {
                    needs.key = key.iter().map(|c| c.name.clone()).collect();
                }
                needs.columns.extend(defs);
                plan.push(
                    &table,
                    Kind::Write,
                    all.iter().map(|c| c.name.clone()).collect(),
                    key.len(),
                    Row { record: i, texts },
                );
            }
        }
    }
    (plan, errant)
}

fn texts(cells: &[Cell], zone: &TimeZone, flavor: Flavor) -> Result<Vec<Option<String>>, String> {
    texts_of(&cells.iter().collect::<Vec<_>>(), zone, flavor)
}

fn texts_of(
    cells: &[&Cell],
    zone: &TimeZone,
    flavor: Flavor,
) -> Result<Vec<Option<String>>, String> {
    // Confluent's sink knows no Debezium type: it writes their values as
    // they are (a MicroTimestamp's number), as its tables expect.
    let debezium_types = flavor == Flavor::Debezium;
    cells
        .iter()
        .map(|c| {
            values::text(&c.schema, &c.value, zone, debezium_types)
                .map_err(|e| format!("field {:?}: {}", c.name, e.0))
        })
        .collect()
}

/// Why a `put` did not commit.
#[derive(Debug)]
pub enum Failure {
    /// The session or server failed: retry the batch whole.
    Transient(ConnectError),
    /// A statement failed on the data (SQLSTATE classes 22, 23): find the
    /// records row by row.
    Data(String),
    /// A statement the table cannot take (an unknown column, no unique
    /// index for ON CONFLICT, no privilege: class 42 and the rest): the
    /// table may have changed under the sink; if a fresh look at it does
    /// not help, it is the task's failure, not every record's.
    Statement(ConnectError),
    /// Not worth retrying (a table the rules do not let the sink create).
    Fatal(ConnectError),
}

/// Writes plans through one session.
pub struct Writer {
    settings: SinkSettings,
    tables: Tables,
    statements: HashMap<String, Statement>,
}

/// A run's statement, resolved against the table's columns.
struct Prepared {
    sql: String,
    /// Parameter order: the run's columns, reordered for this kind.
    order: Vec<usize>,
    /// The casts of the run's columns, for naming a bad value's column.
    casts: Vec<String>,
}

impl Writer {
    pub fn new(settings: SinkSettings) -> Writer {
        Writer {
            settings,
            tables: Tables::default(),
            statements: HashMap::new(),
        }
    }

    /// Forget prepared statements and table shapes (a new session, or a
    /// failed transaction).
    pub fn reset(&mut self) {
        self.tables.clear();
        self.statements.clear();
    }

    fn rules(&self) -> Evolution {
        let (create_key, evolve_key) = match self.settings.flavor {
            Flavor::Confluent => (super::config::AUTO_CREATE, super::config::AUTO_EVOLVE),
            Flavor::Debezium => (
                super::config::SCHEMA_EVOLUTION,
                super::config::SCHEMA_EVOLUTION,
            ),
        };
        Evolution {
            create: self.settings.auto_create,
            evolve: self.settings.auto_evolve,
            quote: self.settings.quote_identifiers,
            create_key,
            evolve_key,
        }
    }

    /// Creates or evolves every table the plan writes (DDL commits on its
    /// own, before the data's transaction).
    pub async fn prepare_tables(&mut self, client: &Client, plan: &Plan) -> Result<(), Failure> {
        let rules = self.rules();
        for (id, runs, needs) in &plan.tables {
            if runs.iter().all(|r| r.kind == Kind::Truncate) && needs.columns.is_empty() {
                continue;
            }
            self.tables
                .ensure(client, id, needs, rules)
                .await
                .map_err(|e| {
                    if e.is_retriable() {
                        Failure::Transient(e)
                    } else {
                        Failure::Fatal(e)
                    }
                })?;
        }
        Ok(())
    }

    fn statement_for(&self, id: &TableId, run: &Run) -> Result<Prepared, Failure> {
        let quote = self.settings.quote_identifiers;
        if run.kind == Kind::Truncate {
            return Ok(Prepared {
                sql: dialect::truncate(id, quote),
                order: Vec::new(),
                casts: Vec::new(),
            });
        }
        let table = self.tables.known(id).ok_or_else(|| {
            Failure::Fatal(ConnectError::other(format!(
                "table {} is missing",
                id.sql(quote)
            )))
        })?;
        let mut casts = Vec::with_capacity(run.columns.len());
        for name in &run.columns {
            let column = table.column(name, quote).ok_or_else(|| {
                Failure::Fatal(ConnectError::other(format!(
                    "table {} has no column {name:?}",
                    id.sql(quote)
                )))
            })?;
            casts.push(column.cast.clone());
        }
        let cols: Vec<Col<'_>> = run
            .columns
            .iter()
            .zip(&casts)
            .map(|(name, cast)| Col { name, cast })
            .collect();
        let (key, values) = cols.split_at(run.key_len);
        let order: Vec<usize> = (0..cols.len()).collect();
        let sql = match run.kind {
            Kind::Delete => dialect::delete(id, key, quote),
            Kind::Write => match self.settings.insert_mode {
                InsertMode::Insert => dialect::insert(id, key, values, quote),
                InsertMode::Upsert if key.is_empty() => dialect::insert(id, key, values, quote),
                InsertMode::Upsert => dialect::upsert(id, key, values, quote),
                // An update with nothing to set changes nothing.
                InsertMode::Update if values.is_empty() => String::new(),
                InsertMode::Update => dialect::update(id, key, values, quote),
            },
            Kind::Truncate => unreachable!("handled above"),
        };
        Ok(Prepared { sql, order, casts })
    }

    async fn statement(
        &mut self,
        tx: &Transaction<'_>,
        sql: &str,
    ) -> Result<Statement, tokio_postgres::Error> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = tx.prepare(sql).await?;
        self.statements.insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    /// Rows of a run as they go into one statement: an upsert or update
    /// may name each key once, so the last row of a key wins (what
    /// writing them one by one would leave).
    fn deduplicated<'r>(&self, run: &'r Run) -> Vec<&'r Row> {
        let dedupe = run.kind == Kind::Write
            && run.key_len > 0
            && self.settings.insert_mode != InsertMode::Insert;
        if !dedupe {
            return run.rows.iter().collect();
        }
        let mut last: HashMap<&[Option<String>], usize> = HashMap::new();
        for (i, row) in run.rows.iter().enumerate() {
            last.insert(&row.texts[..run.key_len], i);
        }
        run.rows
            .iter()
            .enumerate()
            .filter(|(i, row)| last.get(&row.texts[..run.key_len]) == Some(i))
            .map(|(_, row)| row)
            .collect()
    }

    async fn execute(
        &mut self,
        tx: &Transaction<'_>,
        prepared: &Prepared,
        rows: &[&Row],
    ) -> Result<u64, tokio_postgres::Error> {
        if prepared.sql.is_empty() {
            return Ok(0);
        }
        if prepared.order.is_empty() {
            return tx.execute(prepared.sql.as_str(), &[]).await;
        }
        let statement = self.statement(tx, &prepared.sql).await?;
        let arrays: Vec<Vec<Option<&str>>> = prepared
            .order
            .iter()
            .map(|&c| rows.iter().map(|r| r.texts[c].as_deref()).collect())
            .collect();
        let params: Vec<&(dyn ToSql + Sync)> =
            arrays.iter().map(|a| a as &(dyn ToSql + Sync)).collect();
        tx.execute(&statement, &params).await
    }

    /// The fast path: every run in statements of up to `batch.size` rows,
    /// in one transaction.
    pub async fn write(&mut self, client: &mut Client, plan: &Plan) -> Result<(), Failure> {
        let tx = client
            .transaction()
            .await
            .map_err(|e| classify("starting a transaction", &e))?;
        for (id, runs, _) in &plan.tables {
            for run in runs {
                let prepared = self.statement_for(id, run)?;
                let rows = self.deduplicated(run);
                for chunk in rows.chunks(self.settings.batch_size.max(1)) {
                    if let Err(e) = self.execute(&tx, &prepared, chunk).await {
                        let what =
                            format!("writing to {}", id.sql(self.settings.quote_identifiers));
                        return Err(classify(&what, &e));
                    }
                }
            }
        }
        tx.commit()
            .await
            .map_err(|e| classify("committing the transaction", &e))
    }

    /// The slow path after a data error: the same writes one row at a
    /// time under savepoints; each row the database refuses is handed to
    /// `report` (the errant record reporter), and the rest commit. A
    /// `report` error (tolerance `none`) rolls everything back.
    pub async fn write_row_by_row(
        &mut self,
        client: &mut Client,
        plan: &Plan,
        records: &[SinkRecord],
        report: &mut (dyn FnMut(usize, ConnectError) -> Result<(), ConnectError> + Send),
    ) -> Result<(), Failure> {
        let quote = self.settings.quote_identifiers;
        let mut tx = client
            .transaction()
            .await
            .map_err(|e| classify("starting a transaction", &e))?;
        for (id, runs, _) in &plan.tables {
            for run in runs {
                let prepared = self.statement_for(id, run)?;
                let rows = self.deduplicated(run);
                for row in rows {
                    let sp = tx
                        .savepoint("kc_row")
                        .await
                        .map_err(|e| classify("setting a savepoint", &e))?;
                    match self.execute(&sp, &prepared, &[row]).await {
                        Ok(_) => sp
                            .commit()
                            .await
                            .map_err(|e| classify("releasing a savepoint", &e))?,
                        Err(e) if session::is_transient(&e) => {
                            return Err(classify("writing row by row", &e));
                        }
                        Err(e) => {
                            sp.rollback()
                                .await
                                .map_err(|e| classify("rolling a savepoint back", &e))?;
                            let column = self
                                .culprit(&mut tx, &e, run, &prepared, row)
                                .await
                                .map(|c| format!(", column {c:?}"))
                                .unwrap_or_default();
                            let r = &records[row.record];
                            let error = ConnectError::other(format!(
                                "writing the record at {} to table {}{column} failed: {}",
                                where_in(r),
                                id.sql(quote),
                                session::describe(&e)
                            ));
                            report(row.record, error).map_err(Failure::Fatal)?;
                        }
                    }
                }
            }
        }
        tx.commit()
            .await
            .map_err(|e| classify("committing the transaction", &e))
    }

    /// The column a refused row's error is about: the one the server
    /// names, else the first whose value its type does not accept.
    async fn culprit(
        &self,
        tx: &mut Transaction<'_>,
        error: &tokio_postgres::Error,
        run: &Run,
        prepared: &Prepared,
        row: &Row,
    ) -> Option<String> {
        let db = error.as_db_error()?;
        if let Some(c) = db.column() {
            return Some(c.to_owned());
        }
        if !db.code().code().starts_with("22") {
            return None;
        }
        for (i, cast) in prepared.casts.iter().enumerate() {
            let Some(text) = row.texts[i].as_deref() else {
                continue;
            };
            let sp = tx.savepoint("kc_cast").await.ok()?;
            let bad = sp
                .query_one(&format!("SELECT $1::text::{cast}"), &[&text])
                .await
                .is_err();
            let _ = sp.rollback().await;
            if bad {
                return Some(run.columns[i].clone());
            }
        }
        None
    }
}

/// Sorts a statement's failure.
fn classify(what: &str, e: &tokio_postgres::Error) -> Failure {
    let message = format!("{what}: {}", session::describe(e));
    if session::is_transient(e) {
        return Failure::Transient(ConnectError::retriable(message));
    }
    match e.as_db_error().map(|db| db.code().code()) {
        Some(code) if code.starts_with("22") || code.starts_with("23") => Failure::Data(message),
        _ => Failure::Statement(ConnectError::other(message)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::{ConnectRecord, Props, SchemaBuilder, SchemaRef, Struct, Value};

    fn settings(pairs: &[(&str, &str)]) -> SinkSettings {
        let mut p: Props = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        p.insert("connection.url".into(), "jdbc:postgresql://db/shop".into());
        SinkSettings::parse(Flavor::Confluent, &p).unwrap()
    }

    fn schema(extra: bool) -> SchemaRef {
        let mut b = SchemaBuilder::struct_()
            .field("id", SchemaBuilder::int32().build())
            .field("name", SchemaBuilder::string().optional().build());
        if extra {
            b = b.field("qty", SchemaBuilder::int64().optional().build());
        }
        b.build()
    }

    fn record(topic: &str, offset: i64, id: i32, name: Option<&str>, extra: bool) -> SinkRecord {
        let key = Value::Int32(id);
        let value = match name {
            Some(n) => {
                let mut s = Struct::new(schema(extra))
                    .put("id", Value::Int32(id))
                    .unwrap()
                    .put("name", Value::from(n))
                    .unwrap();
                if extra {
                    s = s.put("qty", Value::Int64(5)).unwrap();
                }
                Value::Struct(s)
            }
            None => Value::Null,
        };
        SinkRecord {
            record: ConnectRecord::new(topic, name.map(|_| schema(extra)), value)
                .with_key(Some(SchemaBuilder::int32().build()), key),
            kafka_partition: 0,
            kafka_offset: offset,
        }
    }

    fn upserting() -> SinkSettings {
        settings(&[
            ("insert.mode", "upsert"),
            ("pk.mode", "record_key"),
            ("pk.fields", "id"),
            ("delete.enabled", "true"),
        ])
    }

    #[test]
    fn runs_keep_order_within_a_table_and_split_on_kind_and_shape() {
        let records = vec![
            record("a", 0, 1, Some("x"), false),
            record("a", 1, 2, Some("y"), false),
            record("b", 2, 1, Some("z"), false),
            record("a", 3, 1, None, false),
            record("a", 4, 3, Some("w"), true),
            record("a", 5, 4, Some("v"), true),
        ];
        let (plan, errant) = plan(&upserting(), &TimeZone::UTC, &records);
        assert!(errant.is_empty(), "{errant:?}");
        type Shape = Vec<(String, Vec<(Kind, usize, usize)>)>;
        let shape: Shape = plan
            .tables
            .iter()
            .map(|(t, runs, _)| {
                (
                    t.table.clone(),
                    runs.iter()
                        .map(|r| (r.kind, r.columns.len(), r.rows.len()))
                        .collect(),
                )
            })
            .collect();
        assert_eq!(
            shape,
            vec![
                (
                    "a".to_owned(),
                    vec![
                        (Kind::Write, 2, 2),
                        (Kind::Delete, 1, 1),
                        (Kind::Write, 3, 2)
                    ]
                ),
                ("b".to_owned(), vec![(Kind::Write, 2, 1)]),
            ]
        );
        // The table needs every column any of its rows writes; the key
        // is never null.
        let needs = &plan.tables[0].2;
        assert_eq!(needs.key, ["id"]);
        let cols: Vec<(&str, bool)> = needs
            .columns
            .iter()
            .map(|c| (c.name.as_str(), c.nullable))
            .collect();
        assert_eq!(cols, [("id", false), ("name", true), ("qty", true)]);
        assert_eq!(plan.rows(), 6);
    }

    #[test]
    fn an_upsert_run_keeps_the_last_row_of_each_key() {
        let records = vec![
            record("a", 0, 1, Some("first"), false),
            record("a", 1, 2, Some("other"), false),
            record("a", 2, 1, Some("second"), false),
        ];
        let (plan, _) = plan(&upserting(), &TimeZone::UTC, &records);
        let writer = Writer::new(upserting());
        let rows = writer.deduplicated(&plan.tables[0].1[0]);
        let kept: Vec<usize> = rows.iter().map(|r| r.record).collect();
        assert_eq!(kept, [1, 2]);
        // Plain inserts keep every row: a duplicate key is the database's
        // to refuse.
        let insert = settings(&[("pk.mode", "record_key"), ("pk.fields", "id")]);
        let (plan, _) = super::plan(&insert, &TimeZone::UTC, &records);
        assert_eq!(
            Writer::new(insert).deduplicated(&plan.tables[0].1[0]).len(),
            3
        );
    }

    proptest::proptest! {
        /// Whatever the keys, one upsert statement of the deduplicated run
        /// leaves the table as writing every record in order would, and
        /// names each key once (ON CONFLICT DO UPDATE refuses a second).
        #[test]
        fn deduplicated_upserts_end_where_sequential_writes_do(
            keys in proptest::collection::vec(0i32..6, 1..40)
        ) {
            let records: Vec<SinkRecord> = keys
                .iter()
                .enumerate()
                .map(|(i, k)| record("a", i as i64, *k, Some(&format!("v{i}")), false))
                .collect();
            let (plan, errant) = plan(&upserting(), &TimeZone::UTC, &records);
            proptest::prop_assert!(errant.is_empty());
            let writer = Writer::new(upserting());
            let run = &plan.tables[0].1[0];
            let rows = writer.deduplicated(run);
            let mut sequential = std::collections::BTreeMap::new();
            for r in &run.rows {
                sequential.insert(r.texts[0].clone(), r.texts.clone());
            }
            let mut once = std::collections::BTreeMap::new();
            for r in &rows {
                proptest::prop_assert!(
                    once.insert(r.texts[0].clone(), r.texts.clone()).is_none(),
                    "a key twice in one statement"
                );
            }
            proptest::prop_assert_eq!(once, sequential);
        }
    }

    #[test]
    fn unwritable_records_are_errant_with_their_offset_and_the_rest_still_planned() {
        let mut bad = record("a", 9, 1, Some("x"), false);
        bad.record.key = Value::Null;
        let records = vec![bad, record("a", 10, 2, Some("y"), false)];
        let (plan, errant) = plan(&upserting(), &TimeZone::UTC, &records);
        assert_eq!(errant.len(), 1);
        assert_eq!(errant[0].record, 0);
        let text = errant[0].error.to_string();
        assert!(
            text.contains("offset 9") && text.contains("\"a\"") && text.contains("without a key"),
            "{text}"
        );
        assert_eq!(plan.rows(), 1);
    }
}
