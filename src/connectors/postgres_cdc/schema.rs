//! A captured table's record shapes, named as Debezium names them: the key
//! `<prefix>.<schema>.<table>.Key` (the primary key, or the replica
//! identity, or `message.key.columns`), the row `….Value`, and the change
//! event `….Envelope` (version 2) with `before`, `after`, `source`
//! (`io.debezium.connector.postgresql.Source`), `transaction`, `op`, `ts_ms`,
//! `ts_us`, `ts_ns`.

use std::sync::LazyLock;

use super::config::Representation;
use super::types::{self, PgType};
use crate::connect::{SchemaBuilder, SchemaRef, SchemaType, Struct, Value};

/// What Debezium writes for a TOASTed value that did not change
/// (`unavailable.value.placeholder`).
pub const UNAVAILABLE_VALUE: &str = "__debezium_unavailable_value";

/// One column of a captured table.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub ty: PgType,
    pub nullable: bool,
    /// The column's `DEFAULT` expression as `pg_get_expr` prints it.
    pub default_expr: Option<String>,
    /// Part of the event key.
    pub key: bool,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("column {table}.{column}: {message}")]
pub struct ColumnError {
    pub table: String,
    pub column: String,
    pub message: String,
}

/// The shapes of one table's events.
#[derive(Debug, Clone)]
pub struct TableSchema {
    pub schema: String,
    pub table: String,
    pub topic: String,
    pub columns: Vec<Column>,
    /// `None` for a table without key columns (its events have no key).
    pub key: Option<SchemaRef>,
    pub value: SchemaRef,
    pub envelope: SchemaRef,
}

impl TableSchema {
    pub fn new(
        prefix: &str,
        schema: &str,
        table: &str,
        columns: Vec<Column>,
        repr: &Representation,
    ) -> Result<TableSchema, ColumnError> {
        let base = format!("{prefix}.{schema}.{table}");
        let mut value = SchemaBuilder::struct_()
            .name(format!("{base}.Value"))
            .optional();
        let mut key = SchemaBuilder::struct_().name(format!("{base}.Key"));
        let mut has_key = false;
        for column in &columns {
            let field = column_schema(column, repr).map_err(|message| ColumnError {
                table: format!("{schema}.{table}"),
                column: column.name.clone(),
                message,
            })?;
            if column.key {
                key = key.field(column.name.clone(), field.clone());
                has_key = true;
            }
            value = value.field(column.name.clone(), field);
        }
        let value = value.build();
        let envelope = SchemaBuilder::struct_()
            .name(format!("{base}.Envelope"))
            .version(2)
            .field("before", value.clone())
            .field("after", value.clone())
            .field("source", SOURCE.clone())
            .field("transaction", TRANSACTION.clone())
            .field("op", SchemaBuilder::string().build())
            .field("ts_ms", SchemaBuilder::int64().optional().build())
            .field("ts_us", SchemaBuilder::int64().optional().build())
            .field("ts_ns", SchemaBuilder::int64().optional().build())
            .build();
        Ok(TableSchema {
            schema: schema.to_owned(),
            table: table.to_owned(),
            topic: base,
            columns,
            key: has_key.then(|| key.build()),
            value,
            envelope,
        })
    }

    /// A row from column texts (`None`: SQL NULL); columns absent from a
    /// partial row (a delete's key-only `before`) get their schema default,
    /// as Debezium fills them.
    pub fn row(&self, texts: &[RowValue], repr: &Representation) -> Result<Struct, ColumnError> {
        let mut row = Struct::new(self.value.clone());
        for (i, column) in self.columns.iter().enumerate() {
            let field = &self.value.fields[i].schema;
            let v = match texts.get(i).unwrap_or(&RowValue::Absent) {
                RowValue::Text(t) => {
                    types::value(&column.ty, t, repr, field).map_err(|e| ColumnError {
                        table: format!("{}.{}", self.schema, self.table),
                        column: column.name.clone(),
                        message: e.to_string(),
                    })?
                }
                RowValue::Null => Value::Null,
                RowValue::Unavailable => unavailable(field),
                RowValue::Absent => field.default.clone().unwrap_or_else(|| zero_or_null(field)),
            };
            row.set(&column.name, v).map_err(|e| ColumnError {
                table: format!("{}.{}", self.schema, self.table),
                column: column.name.clone(),
                message: e.message,
            })?;
        }
        Ok(row)
    }

    /// A change event: `op` is `r`, `c`, `u`, `d` or `t`; `ts_micros` is
    /// when the connector handled it.
    pub fn envelope(
        &self,
        op: char,
        before: Option<Struct>,
        after: Option<Struct>,
        source: &SourceInfo,
        ts_micros: i64,
    ) -> Struct {
        let fields: [(&str, Value); 8] = [
            ("before", before.map_or(Value::Null, Value::Struct)),
            ("after", after.map_or(Value::Null, Value::Struct)),
            (
                "source",
                Value::Struct(source.to_struct(&self.schema, &self.table)),
            ),
            ("transaction", Value::Null),
            ("op", Value::String(op.to_string())),
            ("ts_ms", Value::Int64(ts_micros.div_euclid(1000))),
            ("ts_us", Value::Int64(ts_micros)),
            ("ts_ns", Value::Int64(ts_micros.saturating_mul(1000))),
        ];
        let mut envelope = Struct::new(self.envelope.clone());
        for (name, value) in fields {
            envelope
                .set(name, value)
                .expect("the envelope's fields are built to fit its schema");
        }
        envelope
    }

    /// The key struct of a row.
    pub fn key_of(&self, row: &Struct) -> Option<Struct> {
        let schema = self.key.as_ref()?;
        let mut key = Struct::new(schema.clone());
        for field in &schema.fields {
            let v = row.get(&field.name).cloned().unwrap_or(Value::Null);
            key.set(&field.name, v).ok()?;
        }
        Some(key)
    }
}

/// The `source` block of an event, apart from its table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInfo {
    /// `topic.prefix`.
    pub name: String,
    pub db: String,
    /// The transaction's commit time (the snapshot's start for reads).
    pub ts_micros: i64,
    /// `true`, `first`, `last`, … during the snapshot; `false` streaming.
    pub snapshot: &'static str,
    /// The last committed transaction's LSN before this event's, and this
    /// event's LSN (Debezium's `sequence`).
    pub last_commit_lsn: Option<u64>,
    pub lsn: Option<u64>,
    pub tx_id: Option<i64>,
}

/// The Debezium version whose records these are.
pub const DEBEZIUM_VERSION: &str = "3.6.1.Final";

impl SourceInfo {
    fn to_struct(&self, schema: &str, table: &str) -> Struct {
        let lsn_text = |l: Option<u64>| l.map_or("null".to_owned(), |l| format!("\"{l}\""));
        let fields: [(&str, Value); 16] = [
            ("version", Value::String(DEBEZIUM_VERSION.into())),
            ("connector", Value::String("postgresql".into())),
            ("name", Value::String(self.name.clone())),
            ("ts_ms", Value::Int64(self.ts_micros.div_euclid(1000))),
            ("snapshot", Value::String(self.snapshot.into())),
            ("db", Value::String(self.db.clone())),
            (
                "sequence",
                Value::String(format!(
                    "[{},{}]",
                    lsn_text(self.last_commit_lsn),
                    lsn_text(self.lsn)
                )),
            ),
            ("ts_us", Value::Int64(self.ts_micros)),
            ("ts_ns", Value::Int64(self.ts_micros.saturating_mul(1000))),
            ("schema", Value::String(schema.into())),
            ("table", Value::String(table.into())),
            ("txId", self.tx_id.map_or(Value::Null, Value::Int64)),
            (
                "lsn",
                self.lsn.map_or(Value::Null, |l| Value::Int64(l as i64)),
            ),
            ("xmin", Value::Null),
            ("origin", Value::Null),
            ("origin_lsn", Value::Null),
        ];
        let mut source = Struct::new(SOURCE.clone());
        for (name, value) in fields {
            source
                .set(name, value)
                .expect("the source fields are built to fit its schema");
        }
        source
    }
}

/// One column of a change, before conversion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowValue {
    Text(String),
    Null,
    /// An unchanged TOASTed value PostgreSQL did not send.
    Unavailable,
    /// Not sent at all (a delete's non-key columns).
    Absent,
}

fn column_schema(column: &Column, repr: &Representation) -> Result<SchemaRef, String> {
    let mut b = types::schema_builder(&column.ty, repr).map_err(|e| e.to_string())?;
    if column.nullable {
        b = b.optional();
    }
    let probe = b.clone().build();
    if let Some(default) = column
        .default_expr
        .as_deref()
        .and_then(|expr| default_value(expr, &column.ty, repr, &probe))
    {
        b = b.default_value(default);
    }
    Ok(b.build())
}

/// A column default as Debezium puts it in the schema: a literal
/// (`'new'::text`, `42`, `true`) parsed as the column's type; a sequence
/// (`nextval(…)`) as the type's zero; anything else (functions) none.
fn default_value(
    expr: &str,
    ty: &PgType,
    repr: &Representation,
    schema: &SchemaRef,
) -> Option<Value> {
    let expr = expr.trim();
    if expr.starts_with("nextval(") {
        return match ty {
            PgType::Int2 => Some(Value::Int16(0)),
            PgType::Int4 => Some(Value::Int32(0)),
            PgType::Int8 => Some(Value::Int64(0)),
            _ => None,
        };
    }
    let literal = match expr.strip_prefix('\'') {
        Some(rest) => {
            let end = rest
                .rfind("'::")
                .or_else(|| rest.strip_suffix('\'').map(str::len))?;
            rest[..end].replace("''", "'")
        }
        None => {
            let bare = expr
                .split("::")
                .next()
                .unwrap_or(expr)
                .trim_matches(['(', ')']);
            if bare.eq_ignore_ascii_case("null") {
                return None;
            }
            if !bare
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'))
            {
                return None; // a function call or expression
            }
            bare.to_owned()
        }
    };
    types::value(ty, &literal, repr, schema).ok()
}

/// A required field's zero (Debezium's `Schema.defaultValue()` fallback for
/// absent columns), or null for an optional one.
fn zero_or_null(schema: &SchemaRef) -> Value {
    if schema.optional {
        return Value::Null;
    }
    match schema.schema_type {
        SchemaType::Int8 => Value::Int8(0),
        SchemaType::Int16 => Value::Int16(0),
        SchemaType::Int32 => Value::Int32(0),
        SchemaType::Int64 => Value::Int64(0),
        SchemaType::Float32 => Value::Float32(0.0),
        SchemaType::Float64 => Value::Float64(0.0),
        SchemaType::Boolean => Value::Boolean(false),
        SchemaType::String => Value::String(String::new()),
        SchemaType::Bytes => Value::Bytes(Vec::new()),
        SchemaType::Array => Value::Array(Vec::new()),
        _ => Value::Null,
    }
}

/// The placeholder of an unchanged TOASTed value.
fn unavailable(schema: &SchemaRef) -> Value {
    match schema.schema_type {
        SchemaType::String => Value::String(UNAVAILABLE_VALUE.into()),
        SchemaType::Bytes => Value::Bytes(UNAVAILABLE_VALUE.as_bytes().to_vec()),
        SchemaType::Array => Value::Array(vec![unavailable_element(schema)]),
        _ => Value::Null,
    }
}

fn unavailable_element(schema: &SchemaRef) -> Value {
    schema
        .value_schema
        .as_ref()
        .map_or(Value::Null, unavailable)
}

/// `io.debezium.connector.postgresql.Source` of Debezium 3.6.
pub static SOURCE: LazyLock<SchemaRef> = LazyLock::new(|| {
    let s = || SchemaBuilder::string().build();
    let os = || SchemaBuilder::string().optional().build();
    let ol = || SchemaBuilder::int64().optional().build();
    SchemaBuilder::struct_()
        .name("io.debezium.connector.postgresql.Source")
        .version(1)
        .field("version", s())
        .field("connector", s())
        .field("name", s())
        .field("ts_ms", SchemaBuilder::int64().build())
        .field(
            "snapshot",
            SchemaBuilder::string()
                .optional()
                .name("io.debezium.data.Enum")
                .version(1)
                .parameter(
                    "allowed",
                    "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental",
                )
                .default_value(Value::String("false".into()))
                .build(),
        )
        .field("db", s())
        .field("sequence", os())
        .field("ts_us", ol())
        .field("ts_ns", ol())
        .field("schema", s())
        .field("table", s())
        .field("txId", ol())
        .field("lsn", ol())
        .field("xmin", ol())
        .field("origin", os())
        .field("origin_lsn", ol())
        .build()
});

/// Debezium's transaction block (`event.block`).
pub static TRANSACTION: LazyLock<SchemaRef> = LazyLock::new(|| {
    SchemaBuilder::struct_()
        .name("event.block")
        .version(1)
        .optional()
        .field("id", SchemaBuilder::string().build())
        .field("total_order", SchemaBuilder::int64().build())
        .field("data_collection_order", SchemaBuilder::int64().build())
        .build()
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::{Converter, Props};
    use crate::converters::json::JsonConverter;

    /// The `orders` table of tests/golden/debezium-postgres.
    fn orders() -> TableSchema {
        let col =
            |name: &str, ty: &str, typmod: i32, nullable: bool, default: Option<&str>| Column {
                name: name.into(),
                ty: PgType::from_name(ty, typmod, None),
                nullable,
                default_expr: default.map(str::to_owned),
                key: name == "id",
            };
        let columns = vec![
            col(
                "id",
                "int4",
                -1,
                false,
                Some("nextval('orders_id_seq'::regclass)"),
            ),
            col("customer", "text", -1, false, None),
            col("amount", "numeric", ((10 << 16) | 2) + 4, true, None),
            col("qty", "int2", -1, true, None),
            col("big", "int8", -1, true, None),
            col("price", "numeric", -1, true, None),
            col("f4", "float4", -1, true, None),
            col("f8", "float8", -1, true, None),
            col("ok", "bool", -1, true, None),
            col("data", "jsonb", -1, true, None),
            col("tags", "_text", -1, true, None),
            col("created", "date", -1, true, None),
            col("at", "timestamp", 3, true, None),
            col("atz", "timestamptz", -1, true, None),
            col("t", "time", -1, true, None),
            col("u", "uuid", -1, true, None),
            col("blob", "bytea", -1, true, None),
            col("iv", "interval", -1, true, None),
            col("status", "text", -1, true, Some("'new'::text")),
        ];
        TableSchema::new(
            "sample",
            "public",
            "orders",
            columns,
            &Representation::default(),
        )
        .unwrap()
    }

    fn golden() -> Vec<(serde_json::Value, Option<serde_json::Value>)> {
        include_str!("../../../tests/golden/debezium-postgres/sample-records.txt")
            .lines()
            .map(|l| {
                let (k, v) = l.split_once(" ||| ").unwrap();
                (
                    serde_json::from_str(k).unwrap(),
                    serde_json::from_str(v)
                        .ok()
                        .filter(|v: &serde_json::Value| !v.is_null()),
                )
            })
            .collect()
    }

    fn json(schema: &SchemaRef, value: &Value) -> serde_json::Value {
        let converter = JsonConverter::configure(&Props::new(), false).unwrap();
        let bytes = converter
            .from_connect("t", Some(schema), value)
            .unwrap()
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    fn text(s: &str) -> RowValue {
        RowValue::Text(s.into())
    }

    /// The golden snapshot record, key and value, through JsonConverter:
    /// schemas and payloads equal Debezium's (with its timestamps).
    #[test]
    fn the_snapshot_record_is_debeziums() {
        let t = orders();
        let repr = Representation::default();
        let (key, value) = golden().into_iter().next().unwrap();
        let value = value.unwrap();
        let row = t
            .row(
                &[
                    text("1"),
                    text("alice"),
                    text("12.50"),
                    text("3"),
                    text("9000000000"),
                    text("3.14159"),
                    text("1.5"),
                    text("2.25"),
                    text("t"),
                    text("{\"a\": 1}"),
                    text("{x,y}"),
                    text("2024-01-02"),
                    text("2024-01-02 03:04:05.678"),
                    text("2024-01-02 01:04:05+00"),
                    text("12:34:56"),
                    text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
                    text("\\xdeadbeef"),
                    text("1 day 02:00:00"),
                    text("new"),
                ],
                &repr,
            )
            .unwrap();
        let key_struct = t.key_of(&row).unwrap();
        assert_eq!(
            json(t.key.as_ref().unwrap(), &Value::Struct(key_struct)),
            key
        );
        let source = SourceInfo {
            name: "sample".into(),
            db: "shop".into(),
            ts_micros: 1_796_624_271_776_755,
            snapshot: "last",
            last_commit_lsn: None,
            lsn: Some(26_518_552),
            tx_id: Some(740),
        };
        let event = t.envelope('r', None, Some(row), &source, 1_796_624_271_908_274);
        let ours = json(&t.envelope, &Value::Struct(event));
        assert_eq!(ours["schema"], value["schema"]);
        let mut want = value["payload"].clone();
        // Debezium's event ts_ns carries nanoseconds we do not have.
        want["ts_ns"] = serde_json::json!(1_796_624_271_908_274_000i64);
        assert_eq!(ours["payload"], want);
    }

    #[test]
    fn snapshot_row_and_delete_before_are_debeziums() {
        let t = orders();
        let repr = Representation::default();
        let records = golden();
        // The snapshot row, as PostgreSQL's text output gives it.
        let row = t
            .row(
                &[
                    text("1"),
                    text("alice"),
                    text("12.50"),
                    text("3"),
                    text("9000000000"),
                    text("3.14159"),
                    text("1.5"),
                    text("2.25"),
                    text("t"),
                    text("{\"a\": 1}"),
                    text("{x,y}"),
                    text("2024-01-02"),
                    text("2024-01-02 03:04:05.678"),
                    text("2024-01-02 01:04:05+00"),
                    text("12:34:56"),
                    text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
                    text("\\xdeadbeef"),
                    text("1 day 02:00:00"),
                    text("new"),
                ],
                &repr,
            )
            .unwrap();
        let ours = json(&t.value, &Value::Struct(row));
        assert_eq!(
            ours["payload"],
            records[0].1.as_ref().unwrap()["payload"]["after"]
        );
        // A delete with the default replica identity: only the key came.
        let mut partial = vec![RowValue::Absent; t.columns.len()];
        partial[0] = text("2");
        let before = t.row(&partial, &repr).unwrap();
        let ours = json(&t.value, &Value::Struct(before));
        assert_eq!(
            ours["payload"],
            records[3].1.as_ref().unwrap()["payload"]["before"]
        );
    }

    #[test]
    fn defaults_from_expressions() {
        let repr = Representation::default();
        let s = |ty: &PgType| types::schema_builder(ty, &repr).unwrap().build();
        let d = |expr: &str, ty: PgType| default_value(expr, &ty, &repr, &s(&ty));
        assert_eq!(
            d("'it''s'::character varying", PgType::Text),
            Some(Value::String("it's".into()))
        );
        assert_eq!(d("42", PgType::Int4), Some(Value::Int32(42)));
        assert_eq!(d("'-1'::integer", PgType::Int4), Some(Value::Int32(-1)));
        assert_eq!(d("true", PgType::Bool), Some(Value::Boolean(true)));
        assert_eq!(d("now()", PgType::TimestampTz(6)), None);
        assert_eq!(d("NULL::text", PgType::Text), None);
        assert_eq!(
            d("nextval('s'::regclass)", PgType::Int8),
            Some(Value::Int64(0))
        );
    }

    #[test]
    fn an_unmapped_type_names_its_column() {
        let e = TableSchema::new(
            "p",
            "public",
            "shapes",
            vec![Column {
                name: "area".into(),
                ty: PgType::Unknown("geometry".into()),
                nullable: true,
                default_expr: None,
                key: false,
            }],
            &Representation::default(),
        )
        .unwrap_err();
        assert_eq!(e.column, "area");
        assert!(e
            .to_string()
            .starts_with("column public.shapes.area: type geometry has no mapping"));
    }
}
