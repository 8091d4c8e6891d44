//! The destination tables as the catalog has them, created and evolved as
//! `auto.create` / `auto.evolve` (Debezium's `schema.evolution=basic`)
//! allow: a missing table is created from the record's fields (key columns
//! `NOT NULL` and the primary key), a missing column is added nullable;
//! nothing is ever dropped or retyped. Another task (or worker) may create
//! the same table or column at the same moment: a failed DDL statement is
//! followed by a fresh catalog read, and only a still-missing column is an
//! error.

use std::collections::HashMap;

use tokio_postgres::Client;

use crate::connect::ConnectError;

use super::dialect::{self, ColumnDef, TableId};
use super::session;

/// One column of a destination table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// The type without its modifier (`character varying`, `numeric`,
    /// `integer[]`): values are cast to it and the column's own
    /// assignment rules (length, precision) apply on the way in, so a
    /// too-long string fails as it does through pgjdbc instead of being
    /// cut.
    pub cast: String,
}

/// A destination table: its columns by name.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub columns: Vec<Column>,
}

impl Table {
    /// The column a field writes, matched as PostgreSQL would resolve the
    /// identifier: exactly when quoted, case-folded when not.
    pub fn column(&self, field: &str, quoted: bool) -> Option<&Column> {
        if quoted {
            self.columns.iter().find(|c| c.name == field)
        } else {
            let folded = field.to_lowercase();
            self.columns.iter().find(|c| c.name == folded)
        }
    }
}

const COLUMNS_SQL: &str = "
SELECT a.attname::text, format_type(a.atttypid, NULL)
FROM pg_attribute a
WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum";

/// The catalog's view of `table`, or `None` when it does not exist.
pub async fn read(
    client: &Client,
    table: &TableId,
    quote: bool,
) -> Result<Option<Table>, ConnectError> {
    let name = table.sql(quote);
    let what = format!("reading the columns of {name}");
    let exists = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])
        .await
        .map_err(|e| ConnectError::retriable(format!("{what}: {}", session::describe(&e))))?;
    if !exists.get::<_, bool>(0) {
        return Ok(None);
    }
    let rows = client
        .query(COLUMNS_SQL, &[&name])
        .await
        .map_err(|e| ConnectError::retriable(format!("{what}: {}", session::describe(&e))))?;
    Ok(Some(Table {
        columns: rows
            .iter()
            .map(|r| Column {
                name: r.get(0),
                cast: r.get(1),
            })
            .collect(),
    }))
}

/// What a batch needs of one table: every column its rows write, with the
/// type to create it with, and the key columns.
#[derive(Debug, Clone, Default)]
pub struct Needs {
    pub columns: Vec<ColumnDef>,
    pub key: Vec<String>,
}

impl Needs {
    pub fn has(&self, name: &str) -> bool {
        self.columns.iter().any(|c| c.name == name)
    }
}

/// Rules the connector was configured with.
#[derive(Debug, Clone, Copy)]
pub struct Evolution {
    pub create: bool,
    pub evolve: bool,
    pub quote: bool,
    /// The keys that allow it, for the error messages.
    pub create_key: &'static str,
    pub evolve_key: &'static str,
}

/// Known tables, read once and re-read after DDL.
#[derive(Default)]
pub struct Tables {
    known: HashMap<TableId, Table>,
}

impl Tables {
    /// The table as last read.
    pub fn known(&self, id: &TableId) -> Option<&Table> {
        self.known.get(id)
    }

    /// Forgets everything (after a failed transaction, a table may have
    /// been changed behind the sink's back).
    pub fn clear(&mut self) {
        self.known.clear();
    }

    /// The table, created or evolved so that it has every column `needs`
    /// names; an error names the table and the columns when the rules
    /// forbid the change.
    pub async fn ensure(
        &mut self,
        client: &Client,
        id: &TableId,
        needs: &Needs,
        rules: Evolution,
    ) -> Result<&Table, ConnectError> {
        let has_all = |t: &Table| {
            needs
                .columns
                .iter()
                .all(|c| t.column(&c.name, rules.quote).is_some())
        };
        if self.known.get(id).is_some_and(has_all) {
            return Ok(&self.known[id]);
        }
        let name = id.sql(rules.quote);
        let mut table = read(client, id, rules.quote).await?;
        if table.is_none() {
            if !rules.create {
                return Err(ConnectError::other(format!(
                    "Table {name} is missing and auto-creation is disabled ({} is false)",
                    rules.create_key
                )));
            }
            let ddl = dialect::create_table(id, &needs.columns, &needs.key, rules.quote);
            tracing::info!(table = %name, "creating the table: {ddl}");
            if let Err(e) = client.batch_execute(&ddl).await {
                // Another task may have won the race; the re-read decides.
                tracing::info!(table = %name, error = %session::describe(&e), "CREATE TABLE failed; reading the catalog again");
            }
            table = read(client, id, rules.quote).await?;
            if table.is_none() {
                return Err(ConnectError::other(format!(
                    "creating table {name} failed: it is still missing"
                )));
            }
        }
        let mut table = table.unwrap_or_default();
        let missing: Vec<ColumnDef> = needs
            .columns
            .iter()
            .filter(|c| table.column(&c.name, rules.quote).is_none())
            .cloned()
            .collect();
        if !missing.is_empty() {
            let names: Vec<&str> = missing.iter().map(|c| c.name.as_str()).collect();
            if !rules.evolve {
                return Err(ConnectError::other(format!(
                    "Table {name} is missing fields {names:?} and auto-evolution is disabled ({} is off)",
                    rules.evolve_key
                )));
            }
            let ddl = dialect::add_columns(id, &missing, rules.quote);
            tracing::info!(table = %name, "adding columns: {ddl}");
            if let Err(e) = client.batch_execute(&ddl).await {
                tracing::info!(table = %name, error = %session::describe(&e), "ALTER TABLE failed; reading the catalog again");
            }
            table = read(client, id, rules.quote).await?.unwrap_or_default();
            let still: Vec<&str> = missing
                .iter()
                .filter(|c| table.column(&c.name, rules.quote).is_none())
                .map(|c| c.name.as_str())
                .collect();
            if !still.is_empty() {
                return Err(ConnectError::other(format!(
                    "adding columns {still:?} to {name} failed"
                )));
            }
        }
        self.known.insert(id.clone(), table);
        Ok(&self.known[id])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_resolve_as_identifiers_do() {
        let t = Table {
            columns: vec![
                Column {
                    name: "id".into(),
                    cast: "integer".into(),
                },
                Column {
                    name: "Mixed".into(),
                    cast: "text".into(),
                },
            ],
        };
        assert!(t.column("Mixed", true).is_some());
        assert!(t.column("mixed", true).is_none());
        assert!(t.column("ID", false).is_some());
        assert!(
            t.column("Mixed", false).is_none(),
            "unquoted folds to mixed"
        );
    }
}
