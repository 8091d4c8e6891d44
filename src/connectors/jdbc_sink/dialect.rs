//! PostgreSQL's dialect of the JDBC sink: identifiers, the column type of a
//! Connect schema (Confluent's `PostgreSqlDatabaseDialect.getSqlType`, plus
//! Debezium's logical types as its JDBC sink maps them), and the statements
//! for each write mode. Statements take `$n` parameters in column order.
//! Other databases would be modules beside this one.

use crate::connect::{Schema, SchemaType};

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

/// The column type for a field's schema, or `None` when there is no mapping
/// (a struct or map).
pub fn column_type(schema: &Schema) -> Option<String> {
    if let Some(name) = schema.name.as_deref() {
        let logical = match name {
            "org.apache.kafka.connect.data.Decimal" | "io.debezium.data.VariableScaleDecimal" => {
                Some("DECIMAL")
            }
            "org.apache.kafka.connect.data.Date" | "io.debezium.time.Date" => Some("DATE"),
            "org.apache.kafka.connect.data.Time"
            | "io.debezium.time.Time"
            | "io.debezium.time.MicroTime"
            | "io.debezium.time.NanoTime" => Some("TIME"),
            "io.debezium.time.ZonedTime" => Some("TIME WITH TIME ZONE"),
            "org.apache.kafka.connect.data.Timestamp"
            | "io.debezium.time.Timestamp"
            | "io.debezium.time.MicroTimestamp"
            | "io.debezium.time.NanoTimestamp" => Some("TIMESTAMP"),
            "io.debezium.time.ZonedTimestamp" => Some("TIMESTAMP WITH TIME ZONE"),
            "io.debezium.time.MicroDuration" | "io.debezium.time.Interval" => Some("INTERVAL"),
            "io.debezium.data.Json" => Some("JSONB"),
            "io.debezium.data.Uuid" => Some("UUID"),
            "io.debezium.data.Xml" => Some("XML"),
            _ => None,
        };
        if let Some(t) = logical {
            return Some(t.to_owned());
        }
    }
    Some(
        match schema.schema_type {
            SchemaType::Int8 | SchemaType::Int16 => "SMALLINT",
            SchemaType::Int32 => "INT",
            SchemaType::Int64 => "BIGINT",
            SchemaType::Float32 => "REAL",
            SchemaType::Float64 => "DOUBLE PRECISION",
            SchemaType::Boolean => "BOOLEAN",
            SchemaType::String => "TEXT",
            SchemaType::Bytes => "BYTEA",
            SchemaType::Array => {
                let element = column_type(schema.value_schema.as_deref()?)?;
                return Some(format!("{element}[]"));
            }
            SchemaType::Map | SchemaType::Struct => return None,
        }
        .to_owned(),
    )
}

/// A column to create or add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDef {
    pub name: String,
    pub sql_type: String,
    pub nullable: bool,
}

/// `CREATE TABLE`, key columns first as the records give them.
pub fn create_table(table: &TableId, columns: &[ColumnDef], key: &[String], quote: bool) -> String {
    let mut parts: Vec<String> = columns
        .iter()
        .map(|c| {
            format!(
                "{} {}{}",
                ident(&c.name, quote),
                c.sql_type,
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
        .map(|c| format!("ADD {} {} NULL", ident(&c.name, quote), c.sql_type))
        .collect();
    format!("ALTER TABLE {} {}", table.sql(quote), adds.join(", "))
}

fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// `INSERT INTO t (k…, v…) VALUES ($1, …)`.
pub fn insert(table: &TableId, key: &[String], values: &[String], quote: bool) -> String {
    let columns: Vec<String> = key.iter().chain(values).cloned().collect();
    format!(
        "INSERT INTO {} ({}) VALUES ({})",
        table.sql(quote),
        list(&columns, quote),
        placeholders(1, columns.len())
    )
}

/// Upsert: `INSERT … ON CONFLICT (k…) DO UPDATE SET v=EXCLUDED.v`, or `DO
/// NOTHING` when every column is a key column.
pub fn upsert(table: &TableId, key: &[String], values: &[String], quote: bool) -> String {
    let action = if values.is_empty() {
        "DO NOTHING".to_owned()
    } else {
        let sets: Vec<String> = values
            .iter()
            .map(|v| format!("{0}=EXCLUDED.{0}", ident(v, quote)))
            .collect();
        format!("DO UPDATE SET {}", sets.join(","))
    };
    format!(
        "{} ON CONFLICT ({}) {action}",
        insert(table, key, values, quote),
        list(key, quote)
    )
}

/// `UPDATE t SET v=$1… WHERE k=$n AND …`: values first, then the key.
pub fn update(table: &TableId, key: &[String], values: &[String], quote: bool) -> String {
    let sets: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{}=${}", ident(v, quote), i + 1))
        .collect();
    format!(
        "UPDATE {} SET {} WHERE {}",
        table.sql(quote),
        sets.join(","),
        conditions(key, values.len() + 1, quote)
    )
}

/// `DELETE FROM t WHERE k=$1 AND …`.
pub fn delete(table: &TableId, key: &[String], quote: bool) -> String {
    format!(
        "DELETE FROM {} WHERE {}",
        table.sql(quote),
        conditions(key, 1, quote)
    )
}

/// `TRUNCATE TABLE t`.
pub fn truncate(table: &TableId, quote: bool) -> String {
    format!("TRUNCATE TABLE {}", table.sql(quote))
}

fn conditions(key: &[String], from: usize, quote: bool) -> String {
    key.iter()
        .enumerate()
        .map(|(i, k)| format!("{}=${}", ident(k, quote), from + i))
        .collect::<Vec<_>>()
        .join(" AND ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::SchemaBuilder;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn statements_as_confluents_postgres_dialect_writes_them() {
        let t = TableId::parse("public.orders");
        let (k, v) = (names(&["id"]), names(&["name", "qty"]));
        assert_eq!(
            upsert(&t, &k, &v, true),
            r#"INSERT INTO "public"."orders" ("id","name","qty") VALUES ($1,$2,$3) ON CONFLICT ("id") DO UPDATE SET "name"=EXCLUDED."name","qty"=EXCLUDED."qty""#
        );
        assert_eq!(
            upsert(&t, &k, &[], true),
            r#"INSERT INTO "public"."orders" ("id") VALUES ($1) ON CONFLICT ("id") DO NOTHING"#
        );
        assert_eq!(
            update(&t, &names(&["a", "b"]), &v, false),
            "UPDATE public.orders SET name=$1,qty=$2 WHERE a=$3 AND b=$4"
        );
        assert_eq!(
            delete(&t, &k, true),
            r#"DELETE FROM "public"."orders" WHERE "id"=$1"#
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
            },
            ColumnDef {
                name: "note".into(),
                sql_type: "TEXT".into(),
                nullable: true,
            },
        ];
        assert_eq!(
            create_table(&t, &cols, &names(&["id"]), true),
            "CREATE TABLE \"orders\" (\n\"id\" INT NOT NULL,\n\"note\" TEXT NULL,\nPRIMARY KEY(\"id\"))"
        );
        assert_eq!(
            add_columns(&t, &cols[1..], true),
            r#"ALTER TABLE "orders" ADD "note" TEXT NULL"#
        );
    }

    #[test]
    fn column_types_for_connect_and_debezium_schemas() {
        let named = |t: SchemaBuilder, n: &str| t.name(n).build();
        assert_eq!(
            column_type(&SchemaBuilder::int16().build()).as_deref(),
            Some("SMALLINT")
        );
        assert_eq!(
            column_type(&SchemaBuilder::int64().build()).as_deref(),
            Some("BIGINT")
        );
        assert_eq!(
            column_type(&named(
                SchemaBuilder::bytes(),
                "org.apache.kafka.connect.data.Decimal"
            ))
            .as_deref(),
            Some("DECIMAL")
        );
        assert_eq!(
            column_type(&named(
                SchemaBuilder::string(),
                "io.debezium.time.ZonedTimestamp"
            ))
            .as_deref(),
            Some("TIMESTAMP WITH TIME ZONE")
        );
        assert_eq!(
            column_type(&named(
                SchemaBuilder::int64(),
                "io.debezium.time.MicroTimestamp"
            ))
            .as_deref(),
            Some("TIMESTAMP")
        );
        assert_eq!(
            column_type(&named(SchemaBuilder::string(), "io.debezium.data.Json")).as_deref(),
            Some("JSONB")
        );
        assert_eq!(
            column_type(&SchemaBuilder::array(SchemaBuilder::string().build()).build()).as_deref(),
            Some("TEXT[]")
        );
        assert_eq!(column_type(&SchemaBuilder::struct_().build()), None);
    }
}
