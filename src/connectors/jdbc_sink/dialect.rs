//! PostgreSQL's dialect of the JDBC sink: identifiers, the column type of a
//! Connect schema (as Confluent's `PostgreSqlDatabaseDialect` or Debezium's
//! PostgreSQL dialect maps it), and the statements for each write mode.
//! Statements take one `text[]` parameter per column and write a whole
//! batch through `unnest`. Other databases would be modules beside this
//! one.

use crate::connect::{Schema, SchemaType};

use super::config::Flavor;

/// A table name as Confluent's sink reads `table.name.format`'s result:
/// `table`, `schema.table`, or `catalog.schema.table` (the catalog is the
/// database, which the connection already names).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableId {
    pub schema: Option<String>,
    pub table: String,
}

impl TableId {
    pub fn parse(name: &str) -> TableId {
        let parts: Vec<&str> = name.split('.').collect();
        match parts.as_slice() {
            [table] => TableId {
                schema: None,
                table: (*table).to_owned(),
            },
            [.., schema, table] => TableId {
                schema: Some((*schema).to_owned()),
                table: (*table).to_owned(),
            },
            [] => TableId {
                schema: None,
                table: String::new(),
            },
        }
    }

    pub fn sql(&self, quote: bool) -> String {
        match &self.schema {
            Some(s) => format!("{}.{}", ident(s, quote), ident(&self.table, quote)),
            None => ident(&self.table, quote),
        }
    }
}

/// An identifier, double-quoted (quotes doubled) when `quote`.
pub fn ident(name: &str, quote: bool) -> String {
    if quote {
        format!("\"{}\"", name.replace('"', "\"\""))
    } else {
        name.to_owned()
    }
}

fn list(names: &[String], quote: bool) -> String {
    names
        .iter()
        .map(|n| ident(n, quote))
        .collect::<Vec<_>>()
        .join(",")
}

/// The column type `auto.create` / `auto.evolve` give a field, or `None`
/// when there is none (a struct or map), as each Java sink maps it:
///
/// - Confluent's `PostgreSqlDatabaseDialect`: Connect's own logical types
///   (`Decimal` → `DECIMAL`, `Date`, `Time`, `Timestamp`) and the base
///   types; Debezium's logical types are not known to it, so they get their
///   base type (`MicroTimestamp` → `BIGINT`, `Json` → `TEXT`).
/// - Debezium's PostgreSQL dialect (through Hibernate): temporal types at
///   microsecond precision (`TIMESTAMP(6)`, `TIME(6)`, `… WITH TIME ZONE`),
///   `Decimal` with the source's precision (`NUMERIC(10,2)`),
///   `VariableScaleDecimal` → `DOUBLE PRECISION`, `Json` → `JSON`, `Uuid`,
///   `Xml`, `MicroDuration` → `INTERVAL`.
pub fn column_type(schema: &Schema, flavor: Flavor) -> Option<String> {
    if let Some(name) = schema.name.as_deref() {
        let logical = match flavor {
            Flavor::Confluent => confluent_logical(name),
            Flavor::Debezium => debezium_logical(schema, name),
        };
        if let Some(t) = logical {
            return Some(t);
        }
    }
    Some(
        match schema.schema_type {
            SchemaType::Int8 | SchemaType::Int16 => "SMALLINT",
            SchemaType::Int32 => match flavor {
                Flavor::Confluent => "INT",
                Flavor::Debezium => "INTEGER",
            },
            SchemaType::Int64 => "BIGINT",
            SchemaType::Float32 => "REAL",
            SchemaType::Float64 => "DOUBLE PRECISION",
            SchemaType::Boolean => "BOOLEAN",
            SchemaType::String => "TEXT",
            SchemaType::Bytes => "BYTEA",
            SchemaType::Array => {
                let element = column_type(schema.value_schema.as_deref()?, flavor)?;
                return Some(format!("{element}[]"));
            }
            SchemaType::Map | SchemaType::Struct => return None,
        }
        .to_owned(),
    )
}

fn confluent_logical(name: &str) -> Option<String> {
    Some(
        match name {
            "org.apache.kafka.connect.data.Decimal" => "DECIMAL",
            "org.apache.kafka.connect.data.Date" => "DATE",
            "org.apache.kafka.connect.data.Time" => "TIME",
            "org.apache.kafka.connect.data.Timestamp" => "TIMESTAMP",
            _ => return None,
        }
        .to_owned(),
    )
}

/// PostgreSQL's largest `numeric` precision, Hibernate's default for it.
const MAX_DECIMAL_PRECISION: u32 = 1000;

fn debezium_logical(schema: &Schema, name: &str) -> Option<String> {
    let param = |k: &str| {
        schema
            .parameters
            .as_ref()
            .and_then(|p| p.get(k))
            .and_then(|v| v.parse::<i64>().ok())
    };
    Some(match name {
        "org.apache.kafka.connect.data.Decimal" => {
            let scale = param("scale").unwrap_or(0).max(0);
            match param("connect.decimal.precision").filter(|p| *p > 0) {
                Some(p) => format!(
                    "NUMERIC({},{scale})",
                    p.min(i64::from(MAX_DECIMAL_PRECISION))
                ),
                None if scale != 0 => format!("NUMERIC({MAX_DECIMAL_PRECISION},{scale})"),
                None => "NUMERIC".to_owned(),
            }
        }
        "io.debezium.data.VariableScaleDecimal" => "DOUBLE PRECISION".to_owned(),
        "org.apache.kafka.connect.data.Date" | "io.debezium.time.Date" => "DATE".to_owned(),
        "org.apache.kafka.connect.data.Time"
        | "io.debezium.time.Time"
        | "io.debezium.time.MicroTime"
        | "io.debezium.time.NanoTime" => "TIME(6)".to_owned(),
        "io.debezium.time.ZonedTime" => "TIME(6) WITH TIME ZONE".to_owned(),
        "org.apache.kafka.connect.data.Timestamp"
        | "io.debezium.time.Timestamp"
        | "io.debezium.time.MicroTimestamp"
        | "io.debezium.time.NanoTimestamp" => "TIMESTAMP(6)".to_owned(),
        "io.debezium.time.ZonedTimestamp" => "TIMESTAMP(6) WITH TIME ZONE".to_owned(),
        "io.debezium.time.MicroDuration" | "io.debezium.time.Interval" => "INTERVAL".to_owned(),
        "io.debezium.data.Json" => "JSON".to_owned(),
        "io.debezium.data.Uuid" => "UUID".to_owned(),
        "io.debezium.data.Xml" => "XML".to_owned(),
        _ => return None,
    })
}

/// A column to create or add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDef {
    pub name: String,
    pub sql_type: String,
    pub nullable: bool,
    /// The field's default as the column's input text (both Java sinks
    /// give created and added columns their field's default).
    pub default: Option<String>,
}

fn default_clause(c: &ColumnDef) -> String {
    match &c.default {
        Some(text) => format!(" DEFAULT '{}'", text.replace('\'', "''")),
        None => String::new(),
    }
}

/// `CREATE TABLE`, key columns first as the records give them.
pub fn create_table(table: &TableId, columns: &[ColumnDef], key: &[String], quote: bool) -> String {
    let mut parts: Vec<String> = columns
        .iter()
        .map(|c| {
            format!(
                "{} {}{}{}",
                ident(&c.name, quote),
                c.sql_type,
                default_clause(c),
                if c.nullable { " NULL" } else { " NOT NULL" }
            )
        })
        .collect();
    if !key.is_empty() {
        parts.push(format!("PRIMARY KEY({})", list(key, quote)));
    }
    format!(
        "CREATE TABLE {} (\n{})",
        table.sql(quote),
        parts.join(",\n")
    )
}

/// `ALTER TABLE … ADD` for new columns: always nullable, so existing rows
/// stay valid (Confluent's and Debezium's rule for evolution).
pub fn add_columns(table: &TableId, columns: &[ColumnDef], quote: bool) -> String {
    let adds: Vec<String> = columns
        .iter()
        .map(|c| {
            format!(
                "ADD {} {}{} NULL",
                ident(&c.name, quote),
                c.sql_type,
                default_clause(c)
            )
        })
        .collect();
    format!("ALTER TABLE {} {}", table.sql(quote), adds.join(", "))
}

/// A column a statement writes or matches: its name and the type its
/// text is cast to.
#[derive(Debug, Clone, Copy)]
pub struct Col<'a> {
    pub name: &'a str,
    pub cast: &'a str,
}

/// The batch as rows: one `text[]` parameter per column, unnested
/// together, so one statement writes any number of rows and each value
/// goes through its type's input function on the server.
fn unnest(n: usize) -> String {
    let arrays: Vec<String> = (1..=n).map(|i| format!("${i}::text[]")).collect();
    let names: Vec<String> = (1..=n).map(|i| format!("p{i}")).collect();
    format!("unnest({}) AS kc_u({})", arrays.join(","), names.join(","))
}

fn names(cols: &[Col<'_>], quote: bool) -> String {
    cols.iter()
        .map(|c| ident(c.name, quote))
        .collect::<Vec<_>>()
        .join(",")
}

fn matches(key: &[Col<'_>], quote: bool) -> String {
    key.iter()
        .enumerate()
        .map(|(i, k)| format!("kc_t.{}=kc_u.p{}::{}", ident(k.name, quote), i + 1, k.cast))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// `INSERT INTO t (k…, v…) SELECT … FROM unnest(…)`: parameters are the
/// key columns, then the value columns.
pub fn insert(table: &TableId, key: &[Col<'_>], values: &[Col<'_>], quote: bool) -> String {
    let all: Vec<Col<'_>> = key.iter().chain(values).copied().collect();
    let casts: Vec<String> = all
        .iter()
        .enumerate()
        .map(|(i, c)| format!("kc_u.p{}::{}", i + 1, c.cast))
        .collect();
    format!(
        "INSERT INTO {} ({}) SELECT {} FROM {}",
        table.sql(quote),
        names(&all, quote),
        casts.join(","),
        unnest(all.len())
    )
}

/// Upsert: the insert with `ON CONFLICT (k…) DO UPDATE SET v=EXCLUDED.v`,
/// or `DO NOTHING` when every column is a key column (Confluent's
/// PostgreSQL dialect). Each key may appear once per statement.
pub fn upsert(table: &TableId, key: &[Col<'_>], values: &[Col<'_>], quote: bool) -> String {
    let action = if values.is_empty() {
        "DO NOTHING".to_owned()
    } else {
        let sets: Vec<String> = values
            .iter()
            .map(|v| format!("{0}=EXCLUDED.{0}", ident(v.name, quote)))
            .collect();
        format!("DO UPDATE SET {}", sets.join(","))
    };
    format!(
        "{} ON CONFLICT ({}) {action}",
        insert(table, key, values, quote),
        names(key, quote)
    )
}

/// `UPDATE t SET v=… FROM unnest(…) WHERE k=…`: parameters are the key
/// columns, then the value columns. Each key may appear once per statement.
pub fn update(table: &TableId, key: &[Col<'_>], values: &[Col<'_>], quote: bool) -> String {
    let sets: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            format!(
                "{}=kc_u.p{}::{}",
                ident(v.name, quote),
                key.len() + i + 1,
                v.cast
            )
        })
        .collect();
    format!(
        "UPDATE {} AS kc_t SET {} FROM {} WHERE {}",
        table.sql(quote),
        sets.join(","),
        unnest(key.len() + values.len()),
        matches(key, quote)
    )
}

/// `DELETE FROM t USING unnest(…) WHERE k=…`: parameters are the key
/// columns.
pub fn delete(table: &TableId, key: &[Col<'_>], quote: bool) -> String {
    format!(
        "DELETE FROM {} AS kc_t USING {} WHERE {}",
        table.sql(quote),
        unnest(key.len()),
        matches(key, quote)
    )
}

/// `TRUNCATE TABLE t`.
pub fn truncate(table: &TableId, quote: bool) -> String {
    format!("TRUNCATE TABLE {}", table.sql(quote))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::SchemaBuilder;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn statements_write_a_whole_batch_as_confluents_dialect_does_a_row() {
        let t = TableId::parse("public.orders");
        let id = Col {
            name: "id",
            cast: "integer",
        };
        let k = [id];
        let v = [
            Col {
                name: "name",
                cast: "character varying",
            },
            Col {
                name: "qty",
                cast: "integer",
            },
        ];
        assert_eq!(
            upsert(&t, &k, &v, true),
            r#"INSERT INTO "public"."orders" ("id","name","qty") SELECT kc_u.p1::integer,kc_u.p2::character varying,kc_u.p3::integer FROM unnest($1::text[],$2::text[],$3::text[]) AS kc_u(p1,p2,p3) ON CONFLICT ("id") DO UPDATE SET "name"=EXCLUDED."name","qty"=EXCLUDED."qty""#
        );
        assert_eq!(
            upsert(&t, &k, &[], true),
            r#"INSERT INTO "public"."orders" ("id") SELECT kc_u.p1::integer FROM unnest($1::text[]) AS kc_u(p1) ON CONFLICT ("id") DO NOTHING"#
        );
        assert_eq!(
            update(&t, &k, &v, false),
            "UPDATE public.orders AS kc_t SET name=kc_u.p2::character varying,qty=kc_u.p3::integer FROM unnest($1::text[],$2::text[],$3::text[]) AS kc_u(p1,p2,p3) WHERE kc_t.id=kc_u.p1::integer"
        );
        assert_eq!(
            delete(&t, &[id, v[1]], true),
            r#"DELETE FROM "public"."orders" AS kc_t USING unnest($1::text[],$2::text[]) AS kc_u(p1,p2) WHERE kc_t."id"=kc_u.p1::integer AND kc_t."qty"=kc_u.p2::integer"#
        );
        assert_eq!(ident(r#"we"ird"#, true), r#""we""ird""#);
        assert_eq!(TableId::parse("db.s.t"), TableId::parse("s.t"));
    }

    #[test]
    fn create_and_evolve() {
        let t = TableId::parse("orders");
        let cols = vec![
            ColumnDef {
                name: "id".into(),
                sql_type: "INT".into(),
                nullable: false,
                default: None,
            },
            ColumnDef {
                name: "note".into(),
                sql_type: "TEXT".into(),
                nullable: true,
                default: Some("it's".into()),
            },
        ];
        assert_eq!(
            create_table(&t, &cols, &names(&["id"]), true),
            "CREATE TABLE \"orders\" (\n\"id\" INT NOT NULL,\n\"note\" TEXT DEFAULT 'it''s' NULL,\nPRIMARY KEY(\"id\"))"
        );
        assert_eq!(
            add_columns(&t, &cols[1..], true),
            r#"ALTER TABLE "orders" ADD "note" TEXT DEFAULT 'it''s' NULL"#
        );
    }

    #[test]
    fn column_types_as_each_java_sink_maps_them() {
        use Flavor::{Confluent, Debezium};
        let named = |t: SchemaBuilder, n: &str| t.name(n).build();
        let both = |s: &Schema| (column_type(s, Confluent), column_type(s, Debezium));
        let some = |a: &str, b: &str| (Some(a.to_owned()), Some(b.to_owned()));
        assert_eq!(
            both(&SchemaBuilder::int16().build()),
            some("SMALLINT", "SMALLINT")
        );
        assert_eq!(
            both(&SchemaBuilder::int32().build()),
            some("INT", "INTEGER")
        );
        assert_eq!(
            both(&SchemaBuilder::int64().build()),
            some("BIGINT", "BIGINT")
        );
        let decimal = SchemaBuilder::bytes()
            .name("org.apache.kafka.connect.data.Decimal")
            .parameter("scale", "2")
            .parameter("connect.decimal.precision", "10")
            .build();
        assert_eq!(both(&decimal), some("DECIMAL", "NUMERIC(10,2)"));
        let unsized_decimal = SchemaBuilder::bytes()
            .name("org.apache.kafka.connect.data.Decimal")
            .parameter("scale", "3")
            .build();
        assert_eq!(
            column_type(&unsized_decimal, Debezium).as_deref(),
            Some("NUMERIC(1000,3)")
        );
        // Confluent's sink knows no Debezium type: their base types.
        assert_eq!(
            both(&named(
                SchemaBuilder::string(),
                "io.debezium.time.ZonedTimestamp"
            )),
            some("TEXT", "TIMESTAMP(6) WITH TIME ZONE")
        );
        assert_eq!(
            both(&named(
                SchemaBuilder::int64(),
                "io.debezium.time.MicroTimestamp"
            )),
            some("BIGINT", "TIMESTAMP(6)")
        );
        assert_eq!(
            both(&named(
                SchemaBuilder::int64(),
                "org.apache.kafka.connect.data.Timestamp"
            )),
            some("TIMESTAMP", "TIMESTAMP(6)")
        );
        assert_eq!(
            both(&named(SchemaBuilder::string(), "io.debezium.data.Json")),
            some("TEXT", "JSON")
        );
        assert_eq!(
            both(&named(
                SchemaBuilder::struct_(),
                "io.debezium.data.VariableScaleDecimal"
            )),
            (None, Some("DOUBLE PRECISION".to_owned()))
        );
        assert_eq!(
            both(&SchemaBuilder::array(SchemaBuilder::string().build()).build()),
            some("TEXT[]", "TEXT[]")
        );
        assert_eq!(both(&SchemaBuilder::struct_().build()), (None, None));
    }
}
