//! What the built-in transforms share: which part of the record a `$Key` /
//! `$Value` variant works on and its registration, Java's `Requirements`
//! messages, `SchemaUtil.copySchemaBasics`, the LRU cache of updated
//! schemas, struct rebuilding and the `replace.null.with.default` key
//! (KIP-1040).

use std::convert::Infallible;
use std::fmt::Display;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::connect::config::{ConfigDef, ConfigType, Importance};
use crate::connect::transform::TransformError;
use crate::connect::{
    ConnectError, ConnectRecord, Field, Schema, SchemaRef, SchemaType, Struct, Value,
};

/// The part of a record a transform variant works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Key,
    Value,
}

impl Part {
    pub fn schema(self, r: &ConnectRecord) -> Option<&SchemaRef> {
        match self {
            Part::Key => r.key_schema.as_ref(),
            Part::Value => r.value_schema.as_ref(),
        }
    }

    pub fn value(self, r: &ConnectRecord) -> &Value {
        match self {
            Part::Key => &r.key,
            Part::Value => &r.value,
        }
    }

    /// The record with this part replaced (Java's `newRecord`): topic,
    /// partition, timestamp, headers and the other part are kept.
    pub fn set(
        self,
        mut r: ConnectRecord,
        schema: Option<SchemaRef>,
        value: Value,
    ) -> ConnectRecord {
        match self {
            Part::Key => {
                r.key_schema = schema;
                r.key = value;
            }
            Part::Value => {
                r.value_schema = schema;
                r.value = value;
            }
        }
        r
    }

    /// "key" or "value", for messages.
    pub fn name(self) -> &'static str {
        match self {
            Part::Key => "key",
            Part::Value => "value",
        }
    }
}

/// The `PLUGINS` of a transform with `$Key` and `$Value` variants:
/// `org.apache.kafka.connect.transforms.<Name>$Key` / `$Value` (also
/// `<Name>$Key` / `<Name>$Value`), made by `<Name>::new(Part::Key)` /
/// `<Name>::new(Part::Value)`. The transform's type is named as Java's class.
macro_rules! key_value_plugins {
    ($transform:ident) => {
        &[
            $crate::transforms::TransformPlugin {
                class: concat!(
                    "org.apache.kafka.connect.transforms.",
                    stringify!($transform),
                    "$Key"
                ),
                aliases: &[concat!(stringify!($transform), "$Key")],
                create: || Box::new($transform::new($crate::transforms::util::Part::Key)),
            },
            $crate::transforms::TransformPlugin {
                class: concat!(
                    "org.apache.kafka.connect.transforms.",
                    stringify!($transform),
                    "$Value"
                ),
                aliases: &[concat!(stringify!($transform), "$Value")],
                create: || Box::new($transform::new($crate::transforms::util::Part::Value)),
            },
        ]
    };
}
pub(crate) use key_value_plugins;

/// KIP-1040's key, shared by the transforms that read struct fields.
pub const REPLACE_NULL_WITH_DEFAULT_CONFIG: &str = "replace.null.with.default";

const REPLACE_NULL_WITH_DEFAULT_DOC: &str = "Whether to replace fields that have a default value \
and that are null to the default value. When set to true, the default value is used, otherwise \
null is used.";

/// Declarations every transform family repeats in Java.
pub trait ConfigDefExt {
    /// Declares `replace.null.with.default` (BOOLEAN, default true, MEDIUM)
    /// as the transforms that read struct fields do.
    fn define_replace_null_with_default(self) -> Self;
}

impl ConfigDefExt for ConfigDef {
    fn define_replace_null_with_default(self) -> Self {
        self.define(
            REPLACE_NULL_WITH_DEFAULT_CONFIG,
            ConfigType::Boolean,
            Some("true"),
            Importance::Medium,
            REPLACE_NULL_WITH_DEFAULT_DOC,
        )
    }
}

/// A field of `value`, read with its schema default for null
/// (`replace_null_with_default`, Java's `Struct.get`) or as stored
/// (`Struct.getWithoutDefault`).
pub fn field_value(value: &Struct, index: usize, replace_null_with_default: bool) -> &Value {
    if replace_null_with_default {
        value.get_by_index(index)
    } else {
        &value.raw_values()[index]
    }
}

/// Copies every field of `value` into `updated` by name, through `map`
/// (Java's `updatedValue.put(field.name(), …)` loop). Fields are read with
/// or without their defaults as [`field_value`] does; null results are left
/// unset.
pub fn copy_fields(
    value: &Struct,
    updated: &mut Struct,
    replace_null_with_default: bool,
    mut map: impl FnMut(&Field, &Value) -> Result<Value, TransformError>,
) -> Result<(), TransformError> {
    for field in &value.schema().fields {
        let original = field_value(value, field.index, replace_null_with_default);
        let new = map(field, original)?;
        if !new.is_null() {
            updated.set(&field.name, new)?;
        }
    }
    Ok(())
}

/// A schema of `schema_type` with `source`'s name, version, doc and
/// parameters (Java's `SchemaUtil.copySchemaBasics`).
pub fn copy_schema_basics(source: &Schema, schema_type: SchemaType) -> Schema {
    let mut schema = Schema::new(schema_type);
    schema.name = source.name.clone();
    schema.version = source.version;
    schema.doc = source.doc.clone();
    schema.parameters = source.parameters.clone();
    schema
}

/// Appends a field to a struct schema being built, failing like Java's
/// `SchemaBuilder.field` when the name is taken.
pub fn add_field(
    schema: &mut Schema,
    name: String,
    field_schema: SchemaRef,
) -> Result<(), TransformError> {
    if schema.field(&name).is_some() {
        return Err(TransformError::new(format!(
            "Cannot create field because of field name duplication {name}"
        )));
    }
    let index = schema.fields.len();
    schema.fields.push(Field {
        name,
        index,
        schema: field_schema,
    });
    Ok(())
}

/// Updated schemas by original schema, the most recently used first and at
/// most 16 (Java's `SynchronizedCache(new LRUCache<>(16))`).
#[derive(Debug, Default)]
pub struct SchemaCache(Mutex<Vec<(SchemaRef, SchemaRef)>>);

const SCHEMA_CACHE_SIZE: usize = 16;

impl SchemaCache {
    pub fn new() -> Self {
        SchemaCache::default()
    }

    fn entries(&self) -> MutexGuard<'_, Vec<(SchemaRef, SchemaRef)>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The schema cached for `original`, or the one `build` makes, cached
    /// when it succeeds.
    pub fn get_or_try_insert<E>(
        &self,
        original: &SchemaRef,
        build: impl FnOnce() -> Result<SchemaRef, E>,
    ) -> Result<SchemaRef, E> {
        let mut cache = self.entries();
        if let Some(i) = cache
            .iter()
            .position(|(k, _)| Arc::ptr_eq(k, original) || k == original)
        {
            let hit = cache.remove(i);
            let updated = hit.1.clone();
            cache.insert(0, hit);
            return Ok(updated);
        }
        let updated = build()?;
        cache.insert(0, (original.clone(), updated.clone()));
        cache.truncate(SCHEMA_CACHE_SIZE);
        Ok(updated)
    }

    /// [`SchemaCache::get_or_try_insert`] for a `build` that cannot fail.
    pub fn get_or_insert(
        &self,
        original: &SchemaRef,
        build: impl FnOnce() -> SchemaRef,
    ) -> SchemaRef {
        match self.get_or_try_insert(original, || Ok::<_, Infallible>(build())) {
            Ok(schema) => schema,
            Err(never) => match never {},
        }
    }

    /// Forgets every schema (a reconfigured transform builds them anew).
    pub fn clear(&self) {
        self.entries().clear();
    }
}

/// A value's schema type as Connect prints it (`INT32`, `FLOAT` …), or
/// `null`.
pub fn type_of(value: &Value) -> String {
    value
        .schema_type()
        .map_or_else(|| "null".to_owned(), |t| t.to_string())
}

/// The Java class Connect would report for a value in an error message.
pub fn java_class_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Int8(_) => "java.lang.Byte",
        Value::Int16(_) => "java.lang.Short",
        Value::Int32(_) => "java.lang.Integer",
        Value::Int64(_) => "java.lang.Long",
        Value::Float32(_) => "java.lang.Float",
        Value::Float64(_) => "java.lang.Double",
        Value::Boolean(_) => "java.lang.Boolean",
        Value::String(_) => "java.lang.String",
        Value::Bytes(_) => "[B",
        Value::Array(_) => "java.util.ArrayList",
        Value::Map(_) => "java.util.HashMap",
        Value::Struct(_) => "org.apache.kafka.connect.data.Struct",
        Value::Decimal(_) => "java.math.BigDecimal",
        Value::Date(_) | Value::Time(_) | Value::Timestamp(_) => "java.util.Date",
    }
}

/// Java's `Requirements.requireStruct` failure; `found` describes the value.
pub fn only_structs(purpose: &str, found: impl Display) -> TransformError {
    TransformError::new(format!(
        "Only Struct objects supported for [{purpose}], found: {found}"
    ))
}

/// Java's `Requirements.requireMap` failure; `found` describes the value.
pub fn only_maps(purpose: &str, found: impl Display) -> TransformError {
    TransformError::new(format!(
        "Only Map objects supported in absence of schema for [{purpose}], found: {found}"
    ))
}

/// Java's `Requirements.requireStruct`: the Struct, or [`only_structs`] with
/// the value's [`type_of`].
pub fn require_struct<'a>(value: &'a Value, purpose: &str) -> Result<&'a Struct, TransformError> {
    match value {
        Value::Struct(s) => Ok(s),
        other => Err(only_structs(purpose, type_of(other))),
    }
}

/// Java's `Requirements.requireMap`: the entries, or [`only_maps`] with the
/// value's [`type_of`].
pub fn require_map<'a>(
    value: &'a Value,
    purpose: &str,
) -> Result<&'a [(Value, Value)], TransformError> {
    match value {
        Value::Map(entries) => Ok(entries),
        other => Err(only_maps(purpose, type_of(other))),
    }
}

/// The value under the string `key` of a schemaless map.
pub fn map_get<'a>(entries: &'a [(Value, Value)], key: &str) -> Option<&'a Value> {
    entries
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

/// `Map.put` on an ordered map: replaces the value in place, or appends.
pub fn map_put(entries: &mut Vec<(Value, Value)>, key: &str, value: Value) {
    match entries.iter_mut().find(|(k, _)| k.as_str() == Some(key)) {
        Some(entry) => entry.1 = value,
        None => entries.push((Value::from(key), value)),
    }
}

/// Java's `updatedValue.put(key, f(value.get(key)))` on an ordered map: a
/// missing key is read as null, and put with what `f` makes of it.
pub fn map_update(
    entries: &mut Vec<(Value, Value)>,
    key: &str,
    f: impl FnOnce(&Value) -> Result<Value, TransformError>,
) -> Result<(), TransformError> {
    let new = f(map_get(entries, key).unwrap_or(&Value::Null))?;
    map_put(entries, key, new);
    Ok(())
}

/// Java's `NonEmptyListValidator` on a list key, after parsing.
pub fn non_empty_list(key: &str, list: &[String]) -> Result<(), ConnectError> {
    if list.is_empty() {
        return Err(ConnectError::config(
            key,
            format!("Invalid value [] for configuration {key}: Empty list"),
        ));
    }
    Ok(())
}
