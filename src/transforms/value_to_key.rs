//! `ValueToKey`: replace the key with a Struct (schema'd) or Map
//! (schemaless) of some of the value's fields, like
//! `org.apache.kafka.connect.transforms.ValueToKey`.
//!
//! The key schema is an unnamed struct with the listed fields, in the listed
//! order, each with its schema from the value. A field missing from a
//! schema'd value fails ("Field does not exist"); missing from a schemaless
//! value it is null. As in Java, the value must be a Struct / Map: a null
//! value (tombstone) is an error, so guard the transform with a
//! `RecordIsTombstone` predicate where tombstones occur.

use std::collections::BTreeSet;

use crate::connect::config::{ConfigDef, ConfigType, Importance, Props};
use crate::connect::transform::{Transform, TransformError};
use crate::connect::{ConnectError, ConnectRecord, SchemaBuilder, SchemaRef, Struct, Value};

use super::util::{
    field_value, map_get, only_maps, only_structs, type_of, ConfigDefExt, SchemaCache,
};
use super::TransformPlugin;

pub const PLUGINS: &[TransformPlugin] = &[TransformPlugin {
    class: "org.apache.kafka.connect.transforms.ValueToKey",
    aliases: &["ValueToKey"],
    create: || Box::new(ValueToKey::new()),
}];

pub const FIELDS_CONFIG: &str = "fields";
pub use super::util::REPLACE_NULL_WITH_DEFAULT_CONFIG;

const PURPOSE: &str = "copying fields from value to key";

/// The keys of `ValueToKey`, as Java declares them.
pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            FIELDS_CONFIG,
            ConfigType::List,
            None,
            Importance::High,
            "Field names on the record value to extract as the record key.",
        )
        .define_replace_null_with_default()
}

/// `ValueToKey`.
pub struct ValueToKey {
    fields: Vec<String>,
    replace_null_with_default: bool,
    /// Key schemas by value schema.
    cache: SchemaCache,
}

impl Default for ValueToKey {
    fn default() -> Self {
        Self::new()
    }
}

impl ValueToKey {
    pub fn new() -> Self {
        ValueToKey {
            fields: Vec::new(),
            replace_null_with_default: true,
            cache: SchemaCache::new(),
        }
    }

    fn key_schema(&self, value_schema: &SchemaRef) -> Result<SchemaRef, TransformError> {
        self.cache.get_or_try_insert(value_schema, || {
            let mut builder = SchemaBuilder::struct_();
            for name in &self.fields {
                let field = value_schema
                    .field(name)
                    .ok_or_else(|| TransformError::new(format!("Field does not exist: {name}")))?;
                builder = builder.field(name.clone(), field.schema.clone());
            }
            Ok(builder.build())
        })
    }
}

impl Transform for ValueToKey {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, props: &Props) -> Result<(), ConnectError> {
        let config = config_def().parse(props)?;
        let fields = config.list(FIELDS_CONFIG)?;
        let raw = props.get(FIELDS_CONFIG).map_or("", String::as_str);
        if fields.is_empty() {
            return Err(ConnectError::config(
                FIELDS_CONFIG,
                format!("Invalid value {raw} for configuration {FIELDS_CONFIG}: Empty list"),
            ));
        }
        // A repeated name would make a key schema with a duplicate field.
        let mut seen = BTreeSet::new();
        if let Some(dup) = fields.iter().find(|f| !seen.insert(f.as_str())) {
            return Err(ConnectError::config(
                FIELDS_CONFIG,
                format!(
                    "Invalid value {raw} for configuration {FIELDS_CONFIG}: values must not be \
                     duplicated ({dup})"
                ),
            ));
        }
        self.fields = fields;
        self.replace_null_with_default = config.boolean(REPLACE_NULL_WITH_DEFAULT_CONFIG)?;
        self.cache.clear();
        Ok(())
    }

    fn apply(&self, record: ConnectRecord) -> Result<Option<ConnectRecord>, TransformError> {
        match (&record.value_schema, &record.value) {
            (None, Value::Map(entries)) => {
                let key = self
                    .fields
                    .iter()
                    .map(|name| {
                        let v = map_get(entries, name).cloned().unwrap_or(Value::Null);
                        (Value::from(name.as_str()), v)
                    })
                    .collect();
                Ok(Some(record.with_key(None, Value::Map(key))))
            }
            (None, other) => Err(only_maps(PURPOSE, type_of(other))),
            (Some(_), Value::Struct(value)) => {
                let key_schema = self.key_schema(value.schema())?;
                let mut key = Struct::new(key_schema.clone());
                for name in &self.fields {
                    let index = value.schema().field(name).map(|f| f.index).ok_or_else(|| {
                        TransformError::new(format!("Field does not exist: {name}"))
                    })?;
                    let v = field_value(value, index, self.replace_null_with_default);
                    if !v.is_null() {
                        key.set(name, v.clone())?;
                    }
                }
                Ok(Some(record.with_key(Some(key_schema), key.into())))
            }
            (Some(_), other) => Err(only_structs(PURPOSE, type_of(other))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::config::props_of;
    use crate::transforms::testing::{assert_config_key, defaulted_int32};

    fn configured(pairs: &[(&str, &str)]) -> ValueToKey {
        let mut xform = ValueToKey::new();
        xform.configure(&props_of(pairs)).unwrap();
        xform
    }

    // ValueToKeyTest.schemaless
    #[test]
    fn schemaless() {
        let xform = configured(&[("fields", "a,b")]);
        let value = Value::Map(vec![
            ("a".into(), 1i32.into()),
            ("b".into(), 2i32.into()),
            ("c".into(), 3i32.into()),
        ]);
        let out = xform
            .apply(ConnectRecord::new("", None, value.clone()))
            .unwrap()
            .unwrap();
        assert_eq!(out.key_schema, None);
        assert_eq!(
            out.key,
            Value::Map(vec![("a".into(), 1i32.into()), ("b".into(), 2i32.into())])
        );
        assert_eq!(out.value, value);
    }

    // ValueToKeyTest.withSchema
    #[test]
    fn with_schema() {
        let xform = configured(&[("fields", "a,b")]);
        let int32 = || SchemaBuilder::int32().build();
        let value_schema = SchemaBuilder::struct_()
            .field("a", int32())
            .field("b", int32())
            .field("c", int32())
            .build();
        let value = Struct::new(value_schema.clone())
            .put("a", 1i32)
            .unwrap()
            .put("b", 2i32)
            .unwrap()
            .put("c", 3i32)
            .unwrap();
        let out = xform
            .apply(ConnectRecord::new(
                "",
                Some(value_schema.clone()),
                value.clone().into(),
            ))
            .unwrap()
            .unwrap();
        let expected_schema = SchemaBuilder::struct_()
            .field("a", int32())
            .field("b", int32())
            .build();
        let expected_key = Struct::new(expected_schema.clone())
            .put("a", 1i32)
            .unwrap()
            .put("b", 2i32)
            .unwrap();
        assert_eq!(out.key_schema, Some(expected_schema));
        assert_eq!(out.key, Value::Struct(expected_key));
        assert_eq!(out.value_schema, Some(value_schema));
        assert_eq!(out.value, Value::Struct(value));
    }

    // ValueToKeyTest.nonExistingField
    #[test]
    fn non_existing_field() {
        let xform = configured(&[("fields", "not_exist")]);
        let schema = SchemaBuilder::struct_()
            .field("a", SchemaBuilder::int32().build())
            .build();
        let value = Struct::new(schema.clone()).put("a", 1i32).unwrap();
        let err = xform
            .apply(ConnectRecord::new("", Some(schema), value.into()))
            .unwrap_err();
        assert_eq!(err.message, "Field does not exist: not_exist");
    }

    // Requirements.requireMap / requireStruct: tombstones are not handled.
    #[test]
    fn null_value_is_an_error() {
        let xform = configured(&[("fields", "a")]);
        let err = xform
            .apply(ConnectRecord::new("", None, Value::Null))
            .unwrap_err();
        assert_eq!(
            err.message,
            "Only Map objects supported in absence of schema for [copying fields from value to key], found: null"
        );
        let schema = SchemaBuilder::struct_().optional().build();
        assert!(xform
            .apply(ConnectRecord::new("", Some(schema), Value::Null))
            .is_err());
    }

    // KIP-1040: replace.null.with.default=false keeps nulls; the key schema
    // keeps the field's default either way.
    #[test]
    fn replace_null_with_default() {
        let schema = SchemaBuilder::struct_()
            .field("n", defaulted_int32(5))
            .build();
        let r = ConnectRecord::new("t", Some(schema.clone()), Struct::new(schema).into());
        let out = configured(&[("fields", "n")])
            .apply(r.clone())
            .unwrap()
            .unwrap();
        assert_eq!(out.key.as_struct().unwrap().raw_values(), [Value::Int32(5)]);
        let out = configured(&[("fields", "n"), ("replace.null.with.default", "false")])
            .apply(r)
            .unwrap()
            .unwrap();
        assert_eq!(out.key.as_struct().unwrap().raw_values(), [Value::Null]);
    }

    #[test]
    fn config_errors_name_the_key() {
        for props in [&[][..], &[("fields", "")], &[("fields", "a,a")]] {
            let mut xform = ValueToKey::new();
            let err = xform.configure(&props_of(props)).unwrap_err();
            assert_config_key(&err, "fields");
        }
    }

    #[test]
    fn registered_under_java_names() {
        for name in [
            "org.apache.kafka.connect.transforms.ValueToKey",
            "ValueToKey",
        ] {
            assert!(crate::transforms::find_transform(name).is_some(), "{name}");
        }
    }
}
