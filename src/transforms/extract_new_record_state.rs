//! Debezium's `io.debezium.transforms.ExtractNewRecordState` (3.6.1): a
//! change event envelope (`before`, `after`, `source`, `op`, …) becomes the
//! row itself, as a JDBC sink or any consumer of plain rows wants it.
//!
//! As Debezium's, it works through Kafka's own transforms: `ExtractField$Value`
//! takes `after` (or `before`), `InsertField$Value` adds `__deleted`. Then:
//! - inserts, updates and reads become the `after` row (plus `__deleted:
//!   "false"` in the rewrite modes);
//! - deletes follow `delete.tombstone.handling.mode`: `tombstone` (the
//!   default) keeps a record whose value is null but whose value schema is the
//!   row's, as Debezium's does; `drop` drops it; `rewrite` and
//!   `rewrite-with-tombstone` give the `before` row with `__deleted: "true"`;
//!   `delete-to-tombstone` gives a true tombstone (no value, no schema);
//! - tombstones are dropped, except in `rewrite-with-tombstone`;
//! - truncates (`before` and `after` both null) are dropped;
//! - records that are not envelopes (no value schema named `….Envelope`)
//!   pass unchanged.
//!
//! `add.fields` / `add.headers` copy envelope fields (`op`, `ts_ms`,
//! `source.<f>`, `transaction.<f>`, an unqualified name resolving as
//! Debezium resolves it) into the row or the headers under
//! `add.fields.prefix` / `add.headers.prefix` (`__`), or a `:`-given name;
//! `route.by.field` sends each record to the topic a row column names. The
//! Debezium 2.x keys `delete.handling.mode` and `drop.tombstones` are read as
//! the mode they amount to.

use crate::connect::config::{ConfigDef, ConfigType, Importance, Props, Validator};
use crate::connect::transform::{Transform, TransformError};
use crate::connect::{
    ConnectError, ConnectRecord, Header, Schema, SchemaRef, SchemaType, Struct, Value,
};

use super::extract_field::ExtractField;
use super::insert_field::InsertField;
use super::util::{add_field, copy_schema_basics, require_struct, Part, SchemaCache};
use super::TransformPlugin;

pub const PLUGINS: &[TransformPlugin] = &[TransformPlugin {
    class: "io.debezium.transforms.ExtractNewRecordState",
    aliases: &["ExtractNewRecordState"],
    create: || Box::new(ExtractNewRecordState::default()),
}];

pub const HANDLE_TOMBSTONE_DELETES: &str = "delete.tombstone.handling.mode";
pub const ROUTE_BY_FIELD: &str = "route.by.field";
pub const ADD_FIELDS: &str = "add.fields";
pub const ADD_FIELDS_PREFIX: &str = "add.fields.prefix";
pub const ADD_HEADERS: &str = "add.headers";
pub const ADD_HEADERS_PREFIX: &str = "add.headers.prefix";
pub const REPLACE_NULL_WITH_DEFAULT: &str = "replace.null.with.default";
/// Debezium 2.x keys, read as the mode they amount to.
pub const LEGACY_DELETE_HANDLING_MODE: &str = "delete.handling.mode";
pub const LEGACY_DROP_TOMBSTONES: &str = "drop.tombstones";
/// Debezium's drop-fields keys (set by its column-level features): not
/// implemented, so refused rather than ignored.
const DROP_FIELDS_KEYS: &[&str] = &[
    "drop.fields.header.name",
    "drop.fields.from.key",
    "drop.fields.keep.schema.compatible",
];

pub const DELETED_FIELD: &str = "__deleted";
const MODES: &[&str] = &[
    "drop",
    "tombstone",
    "rewrite",
    "rewrite-with-tombstone",
    "delete-to-tombstone",
];
const PURPOSE: &str = "source field insertion";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeleteMode {
    Drop,
    #[default]
    Tombstone,
    Rewrite,
    RewriteWithTombstone,
    DeleteToTombstone,
}

impl DeleteMode {
    fn parse(v: &str) -> Option<DeleteMode> {
        Some(match v.trim().to_ascii_lowercase().as_str() {
            "drop" => DeleteMode::Drop,
            "tombstone" => DeleteMode::Tombstone,
            "rewrite" => DeleteMode::Rewrite,
            "rewrite-with-tombstone" => DeleteMode::RewriteWithTombstone,
            "delete-to-tombstone" => DeleteMode::DeleteToTombstone,
            _ => return None,
        })
    }

    fn rewrites(self) -> bool {
        matches!(self, DeleteMode::Rewrite | DeleteMode::RewriteWithTombstone)
    }

    /// The mode Debezium 2.x's `delete.handling.mode` (none / drop /
    /// rewrite) and `drop.tombstones` (true) amount to.
    fn from_legacy(delete_handling: &str, drop_tombstones: bool) -> Result<DeleteMode, String> {
        match (delete_handling.trim().to_ascii_lowercase().as_str(), drop_tombstones) {
            ("none", true) => Ok(DeleteMode::Tombstone),
            ("drop", true) => Ok(DeleteMode::Drop),
            // The delete dropped, its tombstone kept: one tombstone per delete.
            ("drop", false) => Ok(DeleteMode::DeleteToTombstone),
            ("rewrite", true) => Ok(DeleteMode::Rewrite),
            ("rewrite", false) => Ok(DeleteMode::RewriteWithTombstone),
            ("none", false) => Err(format!(
                "{LEGACY_DELETE_HANDLING_MODE}=none with {LEGACY_DROP_TOMBSTONES}=false (two null records per delete) has no \
                 {HANDLE_TOMBSTONE_DELETES} equivalent; set {HANDLE_TOMBSTONE_DELETES} to tombstone, delete-to-tombstone or rewrite-with-tombstone"
            )),
            (other, _) => Err(format!(
                "{LEGACY_DELETE_HANDLING_MODE}={other}: expected none, drop or rewrite"
            )),
        }
    }
}

/// An envelope field to copy: Debezium's `FieldReference`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FieldReference {
    /// The struct holding it (`source`, `transaction`, …), `None` for the
    /// envelope's own fields (`op`, `ts_ms`, …).
    within: Option<String>,
    field: String,
    /// The outgoing field or header name.
    new_field: String,
}

impl FieldReference {
    fn parse(prefix: &str, spec: &str) -> Result<FieldReference, String> {
        let parts: Vec<&str> = spec.split(':').collect();
        let path: Vec<&str> = parts[0].split('.').collect();
        let field = if path.len() == 1 { path[0] } else { path[1] }.to_owned();
        let within = if path.len() == 1 {
            match field.as_str() {
                "id" | "data_collection_order" | "total_order" => Some("transaction".to_owned()),
                "op" | "ts_ms" | "ts_us" | "ts_ns" => None,
                "updateDescription" => Some("updateDescription".to_owned()),
                _ => Some("source".to_owned()),
            }
        } else {
            Some(path[0].to_owned())
        };
        let new_field = match parts.as_slice() {
            [_] if path.len() == 1 => format!("{prefix}{field}"),
            [_] => format!("{prefix}{}_{field}", path[0]),
            [_, renamed] => format!("{prefix}{renamed}"),
            _ => return Err(format!("Unexpected field name: {spec}")),
        };
        Ok(FieldReference {
            within,
            field,
            new_field,
        })
    }

    fn list(prefix: &str, spec: &str) -> Result<Vec<FieldReference>, String> {
        if spec.is_empty() {
            return Ok(Vec::new());
        }
        spec.split(',')
            .map(|f| FieldReference::parse(prefix, f.trim()))
            .collect()
    }

    /// The field's schema, copied and made optional, if the envelope has it
    /// (in its struct, or else at the top, where another transform may have
    /// put it).
    fn schema(&self, envelope: &Schema) -> Option<SchemaRef> {
        let parent = match &self.within {
            Some(s) => envelope.field(s).map(|f| f.schema.clone()),
            None => None,
        };
        let found = parent
            .as_ref()
            .and_then(|p| p.field(&self.field))
            .or_else(|| envelope.field(&self.field))?;
        let source = &found.schema;
        let mut copy = match source.schema_type {
            // Java's copySchemaBasics would drop a struct's fields or an
            // array's element schema; keep the whole schema instead.
            SchemaType::Struct | SchemaType::Array | SchemaType::Map => (**source).clone(),
            t => copy_schema_basics(source, t),
        };
        copy.optional = true;
        copy.default = None;
        Some(SchemaRef::new(copy))
    }

    /// The field's value without default substitution; null when its
    /// struct is null (no transaction block during a snapshot).
    fn value(&self, envelope: &Struct) -> Value {
        let parent = match &self.within {
            Some(s) => match raw(envelope, s) {
                Some(Value::Struct(p)) => Some(p),
                Some(_) => None,
                None => Some(envelope),
            },
            None => Some(envelope),
        };
        let Some(parent) = parent else {
            return Value::Null;
        };
        raw(parent, &self.field)
            .or_else(|| raw(envelope, &self.field))
            .cloned()
            .unwrap_or(Value::Null)
    }
}

/// A field's value as set (Java's `getWithoutDefault`).
fn raw<'a>(s: &'a Struct, field: &str) -> Option<&'a Value> {
    s.schema().field(field).map(|f| &s.raw_values()[f.index])
}

fn is_envelope(record: &ConnectRecord) -> bool {
    record
        .value_schema
        .as_ref()
        .and_then(|s| s.name.as_deref())
        .is_some_and(|n| n.ends_with(".Envelope"))
}

pub struct ExtractNewRecordState {
    mode: DeleteMode,
    add_fields: Vec<FieldReference>,
    add_headers: Vec<FieldReference>,
    route_by_field: Option<String>,
    after: ExtractField,
    before: ExtractField,
    deleted: InsertField,
    not_deleted: InsertField,
    /// Row schema → row schema with the added fields.
    schemas: SchemaCache,
}

impl Default for ExtractNewRecordState {
    fn default() -> Self {
        ExtractNewRecordState {
            mode: DeleteMode::default(),
            add_fields: Vec::new(),
            add_headers: Vec::new(),
            route_by_field: None,
            after: ExtractField::new(Part::Value),
            before: ExtractField::new(Part::Value),
            deleted: InsertField::new(Part::Value),
            not_deleted: InsertField::new(Part::Value),
            schemas: SchemaCache::new(),
        }
    }
}

pub fn config_def() -> ConfigDef {
    let mut def = ConfigDef::new()
        .define(
            HANDLE_TOMBSTONE_DELETES,
            ConfigType::String,
            Some("tombstone"),
            Importance::Medium,
            "How to handle delete records: drop, tombstone, rewrite, rewrite-with-tombstone, delete-to-tombstone",
        )
        .validate_with(Validator::OneOf(MODES))
        .define(
            ROUTE_BY_FIELD,
            ConfigType::String,
            Some(""),
            Importance::Low,
            "The column whose value replaces the topic name",
        )
        .define(
            ADD_FIELDS_PREFIX,
            ConfigType::String,
            Some("__"),
            Importance::Low,
            "Prefix of the added fields",
        )
        .define(
            ADD_FIELDS,
            ConfigType::String,
            Some(""),
            Importance::Low,
            "Envelope fields to add to the row: op, ts_ms, source.<f>, … (name:newName to rename)",
        )
        .define(
            ADD_HEADERS_PREFIX,
            ConfigType::String,
            Some("__"),
            Importance::Low,
            "Prefix of the added headers",
        )
        .define(
            ADD_HEADERS,
            ConfigType::String,
            Some(""),
            Importance::Low,
            "Envelope fields to add as headers",
        )
        .define(
            REPLACE_NULL_WITH_DEFAULT,
            ConfigType::Boolean,
            Some("true"),
            Importance::Low,
            "Replace null field values with their defaults when rewriting the record",
        )
        .define(
            LEGACY_DELETE_HANDLING_MODE,
            ConfigType::String,
            Some(""),
            Importance::Low,
            "Debezium 2.x: none, drop or rewrite (use delete.tombstone.handling.mode)",
        )
        .validate_with(Validator::custom("none, drop or rewrite", |v| {
            match v.trim().to_ascii_lowercase().as_str() {
                "" | "none" | "drop" | "rewrite" => Ok(()),
                other => Err(format!("{other}: expected none, drop or rewrite")),
            }
        }))
        .define(
            LEGACY_DROP_TOMBSTONES,
            ConfigType::String,
            Some(""),
            Importance::Low,
            "Debezium 2.x: drop tombstones (use delete.tombstone.handling.mode)",
        )
        .validate_with(Validator::custom("true or false", |v| {
            match v.trim().to_ascii_lowercase().as_str() {
                "" | "true" | "false" => Ok(()),
                other => Err(format!("{other}: expected true or false")),
            }
        }));
    for key in DROP_FIELDS_KEYS {
        def = def
            .define(
                key,
                ConfigType::String,
                Some(""),
                Importance::Low,
                "Not implemented by kconnect",
            )
            .validate_with(Validator::custom(
                "not set: not implemented by kconnect",
                |v| {
                    if v.trim().is_empty() {
                        Ok(())
                    } else {
                        Err("Debezium's drop-fields feature is not implemented by kconnect".into())
                    }
                },
            ));
    }
    def
}

fn fixed(props: &[(&str, &str)]) -> Props {
    props
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

impl ExtractNewRecordState {
    /// The row with the requested envelope fields added (Debezium's
    /// `addFields`).
    fn add_fields(
        &self,
        envelope: &Struct,
        row: ConnectRecord,
    ) -> Result<ConnectRecord, TransformError> {
        // Always rebuilt, added fields or not: Debezium's copy of the row
        // schema (`copySchemaBasics`) is no longer optional, and that shows
        // in what converters write.
        let value = require_struct(&row.value, PURPOSE)?;
        let original = value.schema().clone();
        let envelope_schema = envelope.schema().clone();
        // Keyed by the row's schema: one envelope schema per row schema.
        let schema = self.schemas.get_or_try_insert(&original, || {
            let mut s = copy_schema_basics(&original, SchemaType::Struct);
            for f in &original.fields {
                add_field(&mut s, f.name.clone(), f.schema.clone())?;
            }
            for r in &self.add_fields {
                if let Some(fs) = r.schema(&envelope_schema) {
                    add_field(&mut s, r.new_field.clone(), fs)?;
                }
            }
            Ok::<_, TransformError>(SchemaRef::new(s))
        })?;
        let mut updated = Struct::new(schema.clone());
        for (f, v) in original.fields.iter().zip(value.raw_values()) {
            updated
                .set(&f.name, v.clone())
                .map_err(|e| TransformError::new(e.to_string()))?;
        }
        for r in &self.add_fields {
            if r.schema(&envelope_schema).is_some() {
                updated
                    .set(&r.new_field, r.value(envelope))
                    .map_err(|e| TransformError::new(e.to_string()))?;
            }
        }
        Ok(ConnectRecord {
            value_schema: Some(schema),
            value: Value::Struct(updated),
            ..row
        })
    }

    /// Debezium's `makeHeaders`: for a tombstone only `op` (as `d`).
    fn headers(&self, envelope: Option<&Struct>) -> Vec<Header> {
        let mut out = Vec::new();
        for r in &self.add_headers {
            match envelope {
                None => {
                    if r.field == "op" {
                        out.push(Header {
                            key: r.new_field.clone(),
                            schema: Some(crate::connect::SchemaBuilder::string().build()),
                            value: Value::from("d"),
                        });
                    }
                }
                Some(env) => {
                    if let Some(schema) = r.schema(env.schema()) {
                        out.push(Header {
                            key: r.new_field.clone(),
                            schema: Some(schema),
                            value: r.value(env),
                        });
                    }
                }
            }
        }
        out
    }

    /// The topic `route.by.field` names in `row`, if any.
    fn routed_topic(&self, row: Option<&Struct>) -> Option<String> {
        let field = self.route_by_field.as_ref()?;
        row?.get(field)
            .and_then(Value::as_str)
            .filter(|topic| !topic.trim().is_empty())
            .map(str::to_owned)
    }
}

impl Transform for ExtractNewRecordState {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, props: &Props) -> Result<(), ConnectError> {
        let config = config_def().parse(props)?;
        let string =
            |k: &str| -> Result<String, ConnectError> { Ok(config.string(k)?.unwrap_or_default()) };
        self.mode = if props.contains_key(HANDLE_TOMBSTONE_DELETES)
            || !(props.contains_key(LEGACY_DELETE_HANDLING_MODE)
                || props.contains_key(LEGACY_DROP_TOMBSTONES))
        {
            DeleteMode::parse(&string(HANDLE_TOMBSTONE_DELETES)?).unwrap_or_default()
        } else {
            let handling = props
                .get(LEGACY_DELETE_HANDLING_MODE)
                .cloned()
                .unwrap_or_else(|| "none".into());
            let drop_tombstones = props
                .get(LEGACY_DROP_TOMBSTONES)
                .is_none_or(|v| v.trim().eq_ignore_ascii_case("true"));
            DeleteMode::from_legacy(&handling, drop_tombstones)
                .map_err(|e| ConnectError::config(LEGACY_DELETE_HANDLING_MODE, e))?
        };
        self.add_fields =
            FieldReference::list(&string(ADD_FIELDS_PREFIX)?, string(ADD_FIELDS)?.trim())
                .map_err(|e| ConnectError::config(ADD_FIELDS, e))?;
        self.add_headers =
            FieldReference::list(&string(ADD_HEADERS_PREFIX)?, string(ADD_HEADERS)?.trim())
                .map_err(|e| ConnectError::config(ADD_HEADERS, e))?;
        let route = string(ROUTE_BY_FIELD)?;
        self.route_by_field = (!route.is_empty()).then_some(route);
        let replace = if config.boolean(REPLACE_NULL_WITH_DEFAULT)? {
            "true"
        } else {
            "false"
        };
        self.after.configure(&fixed(&[("field", "after")]))?;
        self.before.configure(&fixed(&[("field", "before")]))?;
        for (delegate, flag) in [
            (&mut self.deleted, "true"),
            (&mut self.not_deleted, "false"),
        ] {
            delegate.configure(&fixed(&[
                ("static.field", DELETED_FIELD),
                ("static.value", flag),
                ("replace.null.with.default", replace),
            ]))?;
        }
        self.schemas.clear();
        Ok(())
    }

    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, TransformError> {
        let tombstone = record.value.is_null();
        let envelope = is_envelope(&record);
        if (envelope || tombstone) && !self.add_headers.is_empty() {
            let headers = self.headers(record.value.as_struct());
            record.headers.extend(headers);
        }
        if tombstone {
            return Ok((self.mode == DeleteMode::RewriteWithTombstone).then_some(record));
        }
        if !envelope {
            return Ok(Some(record));
        }
        // The envelope outlives the record the delegates consume: its
        // fields are added, and deletes are routed by `before`.
        let Value::Struct(original) = &record.value else {
            return Ok(Some(record));
        };
        let original = original.clone();
        // (An envelope without an `after` field goes on to ExtractField,
        // which says so.)
        if raw(&original, "after").is_some_and(Value::is_null) {
            if raw(&original, "before").is_none_or(Value::is_null) {
                // A truncate.
                return Ok(None);
            }
            let mut deleted = match self.mode {
                DeleteMode::Drop => return Ok(None),
                // The `after` field's schema with a null value.
                DeleteMode::Tombstone => match self.after.apply(record)? {
                    Some(r) => r,
                    None => return Ok(None),
                },
                DeleteMode::DeleteToTombstone => ConnectRecord {
                    value_schema: None,
                    value: Value::Null,
                    ..record
                },
                DeleteMode::Rewrite | DeleteMode::RewriteWithTombstone => {
                    let Some(old) = self.before.apply(record)? else {
                        return Ok(None);
                    };
                    if old.value.as_struct().is_some() {
                        match self.deleted.apply(old)? {
                            Some(r) => r,
                            None => return Ok(None),
                        }
                    } else {
                        old
                    }
                }
            };
            if let Some(topic) =
                self.routed_topic(raw(&original, "before").and_then(Value::as_struct))
            {
                deleted.topic = topic;
            }
            if deleted.value.is_null() {
                return Ok(Some(deleted));
            }
            return self.add_fields(&original, deleted).map(Some);
        }
        let Some(mut row) = self.after.apply(record)? else {
            return Ok(None);
        };
        if self.mode.rewrites() && row.value.as_struct().is_some() {
            match self.not_deleted.apply(row)? {
                Some(r) => row = r,
                None => return Ok(None),
            }
        }
        if let Some(topic) = self.routed_topic(row.value.as_struct()) {
            row.topic = topic;
        }
        self.add_fields(&original, row).map(Some)
    }
}

/// Debezium's own cases (`ExtractNewRecordStateTest` and the fixtures of
/// `AbstractExtractStateTest`, v3.6.1.Final), one test each, named after
/// theirs.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::SchemaBuilder;

    fn row_schema() -> SchemaRef {
        SchemaBuilder::struct_()
            .field("id", SchemaBuilder::int8().build())
            .field("name", SchemaBuilder::string().optional().build())
            .build()
    }

    fn envelope_schema(row: &SchemaRef) -> SchemaRef {
        let optional_row = {
            let mut r = (**row).clone();
            r.optional = true;
            SchemaRef::new(r)
        };
        let source = SchemaBuilder::struct_()
            .field("lsn", SchemaBuilder::int32().build())
            .field("ts_ms", SchemaBuilder::int64().optional().build())
            .field("db", SchemaBuilder::string().optional().build())
            .field("table", SchemaBuilder::string().optional().build())
            .build();
        let block = SchemaBuilder::struct_()
            .name("event.block")
            .field("id", SchemaBuilder::string().build())
            .field("total_order", SchemaBuilder::int64().build())
            .field("data_collection_order", SchemaBuilder::int64().build())
            .optional()
            .build();
        SchemaBuilder::struct_()
            .name("dummy.Envelope")
            .field("before", optional_row.clone())
            .field("after", optional_row)
            .field("source", source)
            .field("transaction", block)
            .field("op", SchemaBuilder::string().build())
            .field("ts_ms", SchemaBuilder::int64().optional().build())
            .build()
    }

    fn row(id: i8, name: &str) -> Value {
        Value::Struct(
            Struct::new(row_schema_optional())
                .put("id", Value::Int8(id))
                .unwrap()
                .put("name", Value::from(name))
                .unwrap(),
        )
    }

    /// An envelope with `op`, `before` / `after`, source lsn 1234 and, when
    /// asked, a transaction block (id 571, total order 42).
    fn event(op: &str, before: Option<Value>, after: Option<Value>, tx: bool) -> ConnectRecord {
        let schema = envelope_schema(&row_schema());
        let source_schema = schema.field("source").unwrap().schema.clone();
        let source = Struct::new(source_schema)
            .put("lsn", Value::Int32(1234))
            .unwrap()
            .put("ts_ms", Value::Int64(1_700_000_000_000))
            .unwrap()
            .put("db", Value::from("test_db"))
            .unwrap();
        let mut env = Struct::new(schema.clone())
            .put("source", Value::Struct(source))
            .unwrap()
            .put("op", Value::from(op))
            .unwrap()
            .put("ts_ms", Value::Int64(1_700_000_000_001))
            .unwrap();
        if let Some(b) = before {
            env = env.put("before", b).unwrap();
        }
        if let Some(a) = after {
            env = env.put("after", a).unwrap();
        }
        if tx {
            let block = Struct::new(schema.field("transaction").unwrap().schema.clone())
                .put("id", Value::from("571"))
                .unwrap()
                .put("total_order", Value::Int64(42))
                .unwrap()
                .put("data_collection_order", Value::Int64(42))
                .unwrap();
            env = env.put("transaction", Value::Struct(block)).unwrap();
        }
        ConnectRecord::new("dummy", Some(schema), Value::Struct(env))
    }

    fn create() -> ConnectRecord {
        event("c", None, Some(row(1, "myRecord")), false)
    }
    fn update() -> ConnectRecord {
        event("u", Some(row(1, "old")), Some(row(1, "myRecord")), true)
    }
    fn delete() -> ConnectRecord {
        event("d", Some(row(1, "myRecord")), None, false)
    }
    fn truncate() -> ConnectRecord {
        event("t", None, None, false)
    }
    fn tombstone() -> ConnectRecord {
        ConnectRecord::new("dummy", None, Value::Null)
    }

    fn configured(pairs: &[(&str, &str)]) -> ExtractNewRecordState {
        let mut t = ExtractNewRecordState::default();
        t.configure(&fixed(pairs)).expect("a valid configuration");
        t
    }

    fn field<'a>(r: &'a ConnectRecord, name: &str) -> &'a Value {
        r.value
            .as_struct()
            .expect("a struct")
            .get(name)
            .expect(name)
    }

    fn header<'a>(r: &'a ConnectRecord, key: &str) -> &'a Value {
        &r.headers.iter().find(|h| h.key == key).expect(key).value
    }

    #[test]
    fn test_tombstone_handling_per_mode() {
        // testTombstoneDroppedByDefault, testTombstoneForwardConfigured,
        // testTombstoneRewriteWithTombstone
        for mode in ["drop", "tombstone", "rewrite", "delete-to-tombstone"] {
            let t = configured(&[(HANDLE_TOMBSTONE_DELETES, mode)]);
            assert_eq!(t.apply(tombstone()).unwrap(), None, "{mode}");
        }
        let t = configured(&[(HANDLE_TOMBSTONE_DELETES, "rewrite-with-tombstone")]);
        assert_eq!(t.apply(tombstone()).unwrap(), Some(tombstone()));
    }

    #[test]
    fn test_truncate_dropped_by_default() {
        let t = configured(&[]);
        assert_eq!(t.apply(truncate()).unwrap(), None);
    }

    #[test]
    fn test_handle_delete_per_mode() {
        // testDeleteDroppedByDefault / testHandleDeleteDrop
        assert_eq!(
            configured(&[(HANDLE_TOMBSTONE_DELETES, "drop")])
                .apply(delete())
                .unwrap(),
            None
        );
        // testHandleDeleteNone: a null value that keeps the row's schema.
        let out = configured(&[]).apply(delete()).unwrap().unwrap();
        assert!(out.value.is_null());
        assert_eq!(out.value_schema.as_ref().map(|s| s.fields.len()), Some(2));
        // testHandleDeleteRewrite
        let out = configured(&[(HANDLE_TOMBSTONE_DELETES, "rewrite")])
            .apply(delete())
            .unwrap()
            .unwrap();
        assert_eq!(field(&out, DELETED_FIELD), &Value::from("true"));
        assert_eq!(field(&out, "name"), &Value::from("myRecord"));
        // testDeleteRewriteToTombstoneAndDropActualTombstone
        let t = configured(&[(HANDLE_TOMBSTONE_DELETES, "delete-to-tombstone")]);
        let out = t.apply(delete()).unwrap().unwrap();
        assert!(out.value.is_null() && out.value_schema.is_none());
        assert_eq!(t.apply(tombstone()).unwrap(), None);
    }

    #[test]
    fn test_handle_create_rewrite() {
        let t = configured(&[(HANDLE_TOMBSTONE_DELETES, "rewrite"), (ADD_HEADERS, "op")]);
        let out = t.apply(create()).unwrap().unwrap();
        assert_eq!(field(&out, DELETED_FIELD), &Value::from("false"));
        assert_eq!(out.headers.len(), 1);
        assert_eq!(header(&out, "__op"), &Value::from("c"));
    }

    #[test]
    fn test_unwrap_create_record_and_ignore_unknown_record() {
        let out = configured(&[]).apply(create()).unwrap().unwrap();
        assert_eq!(field(&out, "id"), &Value::Int8(1));
        assert_eq!(field(&out, "name"), &Value::from("myRecord"));
        // The row's schema, no longer optional (Debezium's copy of it).
        assert_eq!(out.value_schema, Some(row_schema()));
        // testIgnoreUnknownRecord: not an envelope, passed unchanged.
        let unknown = ConnectRecord::new("dummy", Some(row_schema()), row(1, "x"));
        assert_eq!(
            configured(&[]).apply(unknown.clone()).unwrap(),
            Some(unknown)
        );
    }

    fn row_schema_optional() -> SchemaRef {
        let mut r = (*row_schema()).clone();
        r.optional = true;
        SchemaRef::new(r)
    }

    #[test]
    fn test_unwrap_propagates_record_headers() {
        let mut r = create();
        r.headers.push(Header {
            key: "application/debezium-test-header".into(),
            schema: Some(SchemaBuilder::string().build()),
            value: Value::from("shouldPropagatePreviousRecordHeaders"),
        });
        let out = configured(&[]).apply(r).unwrap().unwrap();
        assert_eq!(out.headers.len(), 1);
    }

    #[test]
    fn test_add_fields() {
        // testAddFields: unqualified names resolve as Debezium's.
        let t = configured(&[(ADD_FIELDS, "op , lsn,id"), (ADD_FIELDS_PREFIX, "prefix.")]);
        let out = t.apply(update()).unwrap().unwrap();
        assert_eq!(field(&out, "prefix.op"), &Value::from("u"));
        assert_eq!(field(&out, "prefix.lsn"), &Value::Int32(1234));
        assert_eq!(field(&out, "prefix.id"), &Value::from("571"));
        // testAddFieldsForMissingOptionalField: no transaction block.
        let out = configured(&[(ADD_FIELDS, "op,lsn,id")])
            .apply(create())
            .unwrap()
            .unwrap();
        assert_eq!(field(&out, "__op"), &Value::from("c"));
        assert_eq!(field(&out, "__id"), &Value::Null);
        // testAddFieldsSpecifyStruct
        let t = configured(&[(
            ADD_FIELDS,
            "op,source.lsn,transaction.id,transaction.total_order",
        )]);
        let out = t.apply(update()).unwrap().unwrap();
        assert_eq!(field(&out, "__source_lsn"), &Value::Int32(1234));
        assert_eq!(field(&out, "__transaction_id"), &Value::from("571"));
        assert_eq!(field(&out, "__transaction_total_order"), &Value::Int64(42));
        // The added fields' schemas are optional copies.
        let schema = out.value_schema.unwrap();
        assert!(schema.field("__source_lsn").unwrap().schema.optional);
    }

    #[test]
    fn test_new_field_and_header_mapping() {
        let t = configured(&[
            (ADD_FIELDS, "op:OP, lsn:LSN, id:ID, source.lsn:source_lsn, transaction.total_order:TOTAL_ORDER"),
            (ADD_FIELDS_PREFIX, ""),
            (ADD_HEADERS, "op, source.lsn:source_lsn, transaction.id:TXN_ID, transaction.total_order:TOTAL_ORDER"),
            (ADD_HEADERS_PREFIX, "prefix."),
        ]);
        let out = t.apply(update()).unwrap().unwrap();
        assert_eq!(field(&out, "OP"), &Value::from("u"));
        assert_eq!(field(&out, "LSN"), &Value::Int32(1234));
        assert_eq!(field(&out, "ID"), &Value::from("571"));
        assert_eq!(field(&out, "source_lsn"), &Value::Int32(1234));
        assert_eq!(field(&out, "TOTAL_ORDER"), &Value::Int64(42));
        assert_eq!(out.headers.len(), 4);
        assert_eq!(header(&out, "prefix.op"), &Value::from("u"));
        assert_eq!(header(&out, "prefix.source_lsn"), &Value::Int32(1234));
        assert_eq!(header(&out, "prefix.TXN_ID"), &Value::from("571"));
        assert_eq!(header(&out, "prefix.TOTAL_ORDER"), &Value::Int64(42));
    }

    #[test]
    fn test_add_headers_handle_delete_rewrite_and_tombstone() {
        let t = configured(&[
            (HANDLE_TOMBSTONE_DELETES, "rewrite-with-tombstone"),
            (ADD_HEADERS, "op,source.lsn"),
        ]);
        let out = t.apply(delete()).unwrap().unwrap();
        assert_eq!(field(&out, DELETED_FIELD), &Value::from("true"));
        assert_eq!(header(&out, "__op"), &Value::from("d"));
        assert_eq!(header(&out, "__source_lsn"), &Value::Int32(1234));
        // The tombstone gets only `op`, as `d`.
        let out = t.apply(tombstone()).unwrap().unwrap();
        assert_eq!(out.headers.len(), 1);
        assert_eq!(header(&out, "__op"), &Value::from("d"));
    }

    #[test]
    fn test_add_fields_handle_delete_rewrite() {
        let t = configured(&[(HANDLE_TOMBSTONE_DELETES, "rewrite"), (ADD_FIELDS, "op")]);
        let out = t.apply(delete()).unwrap().unwrap();
        assert_eq!(field(&out, DELETED_FIELD), &Value::from("true"));
        assert_eq!(field(&out, "__op"), &Value::from("d"));
    }

    #[test]
    fn test_topic_routing_field() {
        // testAddTopicRoutingField / testUpdateTopicRoutingField /
        // testDeleteTopicRoutingField: the row's column names the topic.
        let t = configured(&[
            (ROUTE_BY_FIELD, "name"),
            (HANDLE_TOMBSTONE_DELETES, "rewrite"),
        ]);
        assert_eq!(t.apply(create()).unwrap().unwrap().topic, "myRecord");
        assert_eq!(t.apply(update()).unwrap().unwrap().topic, "myRecord");
        assert_eq!(t.apply(delete()).unwrap().unwrap().topic, "myRecord");
    }

    #[test]
    fn should_reject_invalid_enum_value_for_delete_handling_mode() {
        let def = config_def();
        let errors = def.validate(&fixed(&[(HANDLE_TOMBSTONE_DELETES, "wrong")]));
        assert!(
            errors.iter().any(|e| e.key == HANDLE_TOMBSTONE_DELETES),
            "{errors:?}"
        );
        assert!(def
            .validate(&fixed(&[(
                HANDLE_TOMBSTONE_DELETES,
                "rewrite-with-tombstone"
            )]))
            .is_empty());
        // Debezium's drop-fields keys are refused, not ignored.
        assert!(!def
            .validate(&fixed(&[("drop.fields.header.name", "x")]))
            .is_empty());
    }

    #[test]
    fn debezium_2_keys_read_as_the_mode_they_amount_to() {
        let mode = |pairs: &[(&str, &str)]| configured(pairs).mode;
        assert_eq!(
            mode(&[(LEGACY_DELETE_HANDLING_MODE, "rewrite")]),
            DeleteMode::Rewrite
        );
        assert_eq!(
            mode(&[
                (LEGACY_DELETE_HANDLING_MODE, "rewrite"),
                (LEGACY_DROP_TOMBSTONES, "false")
            ]),
            DeleteMode::RewriteWithTombstone
        );
        assert_eq!(
            mode(&[(LEGACY_DELETE_HANDLING_MODE, "drop")]),
            DeleteMode::Drop
        );
        assert_eq!(
            mode(&[(LEGACY_DROP_TOMBSTONES, "true")]),
            DeleteMode::Tombstone
        );
        // The current key wins.
        assert_eq!(
            mode(&[
                (HANDLE_TOMBSTONE_DELETES, "drop"),
                (LEGACY_DELETE_HANDLING_MODE, "rewrite")
            ]),
            DeleteMode::Drop
        );
        let mut t = ExtractNewRecordState::default();
        let e = t
            .configure(&fixed(&[(LEGACY_DROP_TOMBSTONES, "false")]))
            .unwrap_err();
        assert!(e.to_string().contains(HANDLE_TOMBSTONE_DELETES), "{e}");
    }
}
