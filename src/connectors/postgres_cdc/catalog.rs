//! What the connector reads from and sets up in the database with an
//! ordinary session (tokio-postgres): the captured tables and their
//! columns, the publication, the replication slot's state, and the
//! snapshot's rows.

use tokio_postgres::{Client, SimpleQueryMessage};

use super::config::{AutocreateMode, PostgresConfig};
use super::schema::{Column, TableSchema};
use super::tls::PgTls;
use super::types::PgType;
use crate::connect::ConnectError;

/// Session settings that make PostgreSQL's text output what [`super::types`]
/// parses, on the snapshot's session and the replication stream alike.
pub const SESSION_OPTIONS: &str =
    "-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres -c bytea_output=hex";

/// Why a database call failed, as a task trace: the server's message and
/// code, naming the role for permission problems.
pub fn db_error(what: &str, cfg: &PostgresConfig, e: &tokio_postgres::Error) -> ConnectError {
    db_error_as(what, &cfg.user, e)
}

/// [`db_error`] for a session of `role`.
pub fn db_error_as(what: &str, role: &str, e: &tokio_postgres::Error) -> ConnectError {
    let (message, retriable) = match e.as_db_error() {
        Some(db) => {
            let code = db.code().code();
            let hint = if code == "42501" {
                format!(" (role {role})")
            } else {
                String::new()
            };
            (
                format!("{what}: {} [SQLSTATE {code}]{hint}", db.message()),
                // Connection and server-shutdown classes are worth a retry.
                code.starts_with("08") || code.starts_with("57P"),
            )
        }
        // A certificate the TLS policy refuses, or a server without TLS
        // under require / verify-*, does not heal by retrying.
        None => {
            // tokio-postgres' Display leaves the cause out ("error performing
            // TLS handshake"); the trace needs it ("invalid peer
            // certificate: UnknownIssuer").
            let mut message = format!("{what}: {e}");
            let mut source = std::error::Error::source(e);
            while let Some(cause) = source {
                let text = cause.to_string();
                if !message.ends_with(&text) {
                    message.push_str(": ");
                    message.push_str(&text);
                }
                source = cause.source();
            }
            let tls = message.contains("TLS");
            (message, !tls)
        }
    };
    if retriable {
        ConnectError::retriable(message)
    } else {
        ConnectError::other(message)
    }
}

/// An ordinary session (the snapshot, the catalog), over TLS as
/// `database.sslmode` says.
pub async fn connect(cfg: &PostgresConfig, tls: &PgTls) -> Result<Client, ConnectError> {
    let mut pg = tokio_postgres::Config::new();
    pg.host(&cfg.hostname)
        .port(cfg.port)
        .user(&cfg.user)
        .password(cfg.password.as_bytes())
        .dbname(&cfg.dbname)
        .application_name("kconnect-postgres-cdc")
        .options(SESSION_OPTIONS)
        .ssl_mode(tls.session_mode())
        .connect_timeout(std::time::Duration::from_secs(30));
    let what = format!("connecting to {}:{}/{}", cfg.hostname, cfg.port, cfg.dbname);
    let connector = tls
        .session_connector()
        .map_err(|e| ConnectError::other(format!("{what}: {e}")))?;
    let (client, connection) = pg
        .connect(connector)
        .await
        .map_err(|e| db_error(&what, cfg, &e))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "PostgreSQL session ended");
        }
    });
    Ok(client)
}

const TABLES_SQL: &str = "
SELECT n.nspname, c.relname, c.oid
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
ORDER BY n.nspname, c.relname";

const COLUMNS_SQL: &str = "
SELECT a.attname::text, t.typname::text, a.atttypmod, a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid),
       (SELECT string_agg(e.enumlabel::text, ',' ORDER BY e.enumsortorder)
          FROM pg_enum e WHERE e.enumtypid = CASE WHEN t.typelem <> 0 THEN t.typelem ELSE t.oid END),
       EXISTS (SELECT 1 FROM pg_index i
                WHERE i.indrelid = a.attrelid AND i.indisprimary AND a.attnum = ANY(i.indkey))
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum";

/// A captured table: its OID and its event shapes.
#[derive(Debug, Clone)]
pub struct CapturedTable {
    pub oid: u32,
    pub schema: TableSchema,
}

/// The tables the filters capture, with their columns (after the column
/// filters) and event shapes.
pub async fn captured_tables(
    client: &Client,
    cfg: &PostgresConfig,
) -> Result<Vec<CapturedTable>, ConnectError> {
    let rows = client
        .query(TABLES_SQL, &[])
        .await
        .map_err(|e| db_error("listing tables", cfg, &e))?;
    let mut out = Vec::new();
    for row in rows {
        let (schema, table, oid): (String, String, u32) = (row.get(0), row.get(1), row.get(2));
        if !cfg.captures_table(&schema, &table) {
            continue;
        }
        let columns = table_columns(client, cfg, oid, &schema, &table).await?;
        let shapes = TableSchema::new(
            &cfg.topic_prefix,
            &schema,
            &table,
            columns,
            &cfg.representation,
        )
        .map_err(|e| ConnectError::other(e.to_string()))?;
        out.push(CapturedTable {
            oid,
            schema: shapes,
        });
    }
    Ok(out)
}

/// A table's included columns, read from the catalog.
pub async fn table_columns(
    client: &Client,
    cfg: &PostgresConfig,
    oid: u32,
    schema: &str,
    table: &str,
) -> Result<Vec<Column>, ConnectError> {
    let rows = client
        .query(COLUMNS_SQL, &[&oid])
        .await
        .map_err(|e| db_error(&format!("reading the columns of {schema}.{table}"), cfg, &e))?;
    let mut columns: Vec<Column> = rows
        .iter()
        .filter(|r| cfg.captures_column(schema, table, r.get::<_, String>(0).as_str()))
        .map(|r| {
            let labels: Option<String> = r.get(5);
            Column {
                name: r.get(0),
                ty: PgType::from_name(
                    r.get::<_, String>(1).as_str(),
                    r.get(2),
                    labels.map(|l| l.split(',').map(str::to_owned).collect()),
                ),
                nullable: !r.get::<_, bool>(3),
                default_expr: r.get(4),
                key: r.get(6),
            }
        })
        .collect();
    apply_message_key_columns(cfg, schema, table, &mut columns)?;
    Ok(columns)
}

/// `message.key.columns`: the first entry whose pattern matches the table
/// makes its columns the key, in the table's column order, as Debezium.
fn apply_message_key_columns(
    cfg: &PostgresConfig,
    schema: &str,
    table: &str,
    columns: &mut [Column],
) -> Result<(), ConnectError> {
    let full = format!("{schema}.{table}");
    let Some((_, keys)) = cfg
        .message_key_columns
        .iter()
        .find(|(r, _)| r.is_match(&full))
    else {
        return Ok(());
    };
    if let Some(missing) = keys
        .iter()
        .find(|k| !columns.iter().any(|c| c.name.eq_ignore_ascii_case(k)))
    {
        return Err(ConnectError::other(format!(
            "message.key.columns: {full} has no captured column {missing:?}"
        )));
    }
    for c in columns.iter_mut() {
        c.key = keys.iter().any(|k| c.name.eq_ignore_ascii_case(k));
    }
    Ok(())
}

/// Creates the publication per `publication.autocreate.mode` when it is
/// missing; `disabled` needs it to exist.
pub async fn ensure_publication(
    client: &Client,
    cfg: &PostgresConfig,
    tables: &[CapturedTable],
) -> Result<(), ConnectError> {
    let exists = client
        .query_opt(
            "SELECT 1 FROM pg_publication WHERE pubname = $1",
            &[&cfg.publication_name],
        )
        .await
        .map_err(|e| db_error("looking the publication up", cfg, &e))?
        .is_some();
    if exists {
        return Ok(());
    }
    let name = quote_ident(&cfg.publication_name);
    let sql = match cfg.publication_autocreate {
        AutocreateMode::Disabled => {
            return Err(ConnectError::other(format!(
                "publication {} does not exist and publication.autocreate.mode=disabled; create it (CREATE PUBLICATION {name} FOR TABLE …)",
                cfg.publication_name
            )))
        }
        AutocreateMode::AllTables => format!("CREATE PUBLICATION {name} FOR ALL TABLES"),
        AutocreateMode::NoTables => format!("CREATE PUBLICATION {name}"),
        AutocreateMode::Filtered => {
            if tables.is_empty() {
                format!("CREATE PUBLICATION {name}")
            } else {
                let list: Vec<String> = tables
                    .iter()
                    .map(|t| format!("{}.{}", quote_ident(&t.schema.schema), quote_ident(&t.schema.table)))
                    .collect();
                format!("CREATE PUBLICATION {name} FOR TABLE {}", list.join(", "))
            }
        }
    };
    tracing::info!(publication = %cfg.publication_name, "creating the publication");
    client.batch_execute(&sql).await.map_err(|e| {
        db_error(
            &format!("creating publication {}", cfg.publication_name),
            cfg,
            &e,
        )
    })
}

/// The slot's confirmed position, if the slot exists (and is logical,
/// pgoutput, in this database).
pub async fn slot_position(
    client: &Client,
    cfg: &PostgresConfig,
) -> Result<Option<u64>, ConnectError> {
    let row = client
        .query_opt(
            "SELECT plugin::text, database::text, confirmed_flush_lsn::text
               FROM pg_replication_slots WHERE slot_name = $1",
            &[&cfg.slot_name],
        )
        .await
        .map_err(|e| db_error("looking the replication slot up", cfg, &e))?;
    let Some(row) = row else { return Ok(None) };
    let (plugin, database, lsn): (Option<String>, Option<String>, Option<String>) =
        (row.get(0), row.get(1), row.get(2));
    if plugin.as_deref() != Some("pgoutput") || database.as_deref() != Some(cfg.dbname.as_str()) {
        return Err(ConnectError::other(format!(
            "replication slot {} exists but is not a pgoutput slot of database {} (plugin {}, database {})",
            cfg.slot_name,
            cfg.dbname,
            plugin.unwrap_or_default(),
            database.unwrap_or_default()
        )));
    }
    Ok(lsn.as_deref().and_then(parse_lsn))
}

/// `16/B374D848` as a number.
pub fn parse_lsn(text: &str) -> Option<u64> {
    let (hi, lo) = text.split_once('/')?;
    Some((u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?)
}

/// A number as `16/B374D848`.
pub fn format_lsn(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xffff_ffff)
}

/// An identifier in double quotes.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The rows of a table as text, in batches of `fetch` rows, through a
/// cursor of the current transaction; `each` gets every row's values.
pub async fn read_table(
    client: &Client,
    cfg: &PostgresConfig,
    table: &TableSchema,
    mut each: impl FnMut(Vec<Option<String>>) -> Result<(), ConnectError>,
) -> Result<(), ConnectError> {
    let columns: Vec<String> = table.columns.iter().map(|c| quote_ident(&c.name)).collect();
    let cursor = "kconnect_snapshot";
    let declare = format!(
        "DECLARE {cursor} NO SCROLL CURSOR FOR SELECT {} FROM {}.{}",
        if columns.is_empty() {
            "NULL".to_owned()
        } else {
            columns.join(", ")
        },
        quote_ident(&table.schema),
        quote_ident(&table.table)
    );
    let what = format!("reading {}.{}", table.schema, table.table);
    client
        .batch_execute(&declare)
        .await
        .map_err(|e| db_error(&what, cfg, &e))?;
    loop {
        let messages = client
            .simple_query(&format!("FETCH {} FROM {cursor}", cfg.snapshot_fetch_size))
            .await
            .map_err(|e| db_error(&what, cfg, &e))?;
        let mut rows = 0;
        for m in messages {
            if let SimpleQueryMessage::Row(row) = m {
                rows += 1;
                each(
                    (0..row.len())
                        .map(|i| row.get(i).map(str::to_owned))
                        .collect(),
                )?;
            }
        }
        if rows == 0 {
            break;
        }
    }
    client
        .batch_execute(&format!("CLOSE {cursor}"))
        .await
        .map_err(|e| db_error(&what, cfg, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsns_both_ways() {
        assert_eq!(parse_lsn("16/B374D848"), Some(0x16_B374_D848));
        assert_eq!(format_lsn(0x16_B374_D848), "16/B374D848");
        assert_eq!(parse_lsn("0/0"), Some(0));
        assert_eq!(parse_lsn("x"), None);
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
