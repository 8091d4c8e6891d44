//! `SetSchemaMetadata$Key` / `$Value`: sets the schema name, version or both
//! on the record's key or value schema, like
//! `org.apache.kafka.connect.transforms.SetSchemaMetadata`. A Struct key or
//! value is rebuilt against the renamed schema so that it references it.

use std::sync::Arc;

use super::util::{
    field_value, key_value_plugins, ConfigDefExt, Part, REPLACE_NULL_WITH_DEFAULT_CONFIG,
};
use super::TransformPlugin;
use crate::connect::config::{ConfigDef, ConfigType, Importance, Props};
use crate::connect::transform::{Transform, TransformError};
use crate::connect::{ConnectError, ConnectRecord, SchemaRef, SchemaType, Struct, Value};

const SCHEMA_NAME: &str = "schema.name";
const SCHEMA_VERSION: &str = "schema.version";

pub const PLUGINS: &[TransformPlugin] = key_value_plugins!(SetSchemaMetadata);

/// Set the schema name, version or both on the record's key or value schema.
#[derive(Debug)]
pub struct SetSchemaMetadata {
    part: Part,
    schema_name: Option<String>,
    schema_version: Option<i32>,
    replace_null_with_default: bool,
}

impl SetSchemaMetadata {
    pub fn new(part: Part) -> SetSchemaMetadata {
        SetSchemaMetadata {
            part,
            schema_name: None,
            schema_version: None,
            replace_null_with_default: true,
        }
    }
}

fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            SCHEMA_NAME,
            ConfigType::String,
            Some(""),
            Importance::High,
            "Schema name to set.",
        )
        // Java declares an INT defaulting to null; ConfigDef here cannot
        // express a null INT default, so the number is checked in configure.
        .define(
            SCHEMA_VERSION,
            ConfigType::String,
            Some(""),
            Importance::High,
            "Schema version to set.",
        )
        .define_replace_null_with_default()
}

/// The schema with the configured name and version, everything else kept.
fn updated_schema(schema: &SchemaRef, name: &Option<String>, version: Option<i32>) -> SchemaRef {
    let mut s = (**schema).clone();
    if let Some(n) = name {
        s.name = Some(n.clone());
    }
    if let Some(v) = version {
        s.version = Some(v);
    }
    Arc::new(s)
}

/// Java's `updateSchemaIn`: a Struct is copied field by field into a new
/// Struct of `updated` (whose fields are the same); anything else is kept.
fn update_schema_in(
    value: Value,
    updated: &SchemaRef,
    replace_null_with_default: bool,
) -> Result<Value, TransformError> {
    let Value::Struct(orig) = value else {
        return Ok(value);
    };
    let mut copy = Struct::new(updated.clone());
    for field in &updated.fields {
        let v = orig
            .schema()
            .field(&field.name)
            .map(|f| field_value(&orig, f.index, replace_null_with_default).clone());
        copy.set(&field.name, v.unwrap_or(Value::Null))?;
    }
    Ok(Value::Struct(copy))
}

impl Transform for SetSchemaMetadata {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, props: &Props) -> Result<(), ConnectError> {
        let config = config_def().parse(props)?;
        self.schema_name = config.string(SCHEMA_NAME)?.filter(|s| !s.is_empty());
        let version = config.string(SCHEMA_VERSION)?.unwrap_or_default();
        self.schema_version = match version.trim() {
            "" => None,
            v => Some(v.parse::<i32>().map_err(|_| {
                ConnectError::config(
                    SCHEMA_VERSION,
                    format!("Invalid value {version} for configuration {SCHEMA_VERSION}: Not a number of type INT"),
                )
            })?),
        };
        self.replace_null_with_default = config.boolean(REPLACE_NULL_WITH_DEFAULT_CONFIG)?;
        if self.schema_name.is_none() && self.schema_version.is_none() {
            return Err(ConnectError::config(
                SCHEMA_NAME,
                "Neither schema name nor version configured",
            ));
        }
        Ok(())
    }

    fn apply(&self, record: ConnectRecord) -> Result<Option<ConnectRecord>, TransformError> {
        let part = self.part;
        let Some(schema) = part.schema(&record).cloned() else {
            if part.value(&record).is_null() {
                return Ok(Some(record));
            }
            return Err(TransformError::new(
                "Schema required for [updating schema metadata]",
            ));
        };
        let updated = updated_schema(&schema, &self.schema_name, self.schema_version);
        let value = if updated.schema_type == SchemaType::Struct {
            update_schema_in(
                part.value(&record).clone(),
                &updated,
                self.replace_null_with_default,
            )?
        } else {
            part.value(&record).clone()
        };
        Ok(Some(part.set(record, Some(updated), value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::config::props_of;
    use crate::connect::SchemaBuilder;
    use crate::transforms::testing::assert_config_key;

    fn xform(part: Part, props: &[(&str, &str)]) -> SetSchemaMetadata {
        let mut x = SetSchemaMetadata::new(part);
        x.configure(&props_of(props)).unwrap();
        x
    }

    fn value_record(schema: Option<SchemaRef>, value: Value) -> ConnectRecord {
        ConnectRecord::new("", schema, value)
    }

    fn assert_matching_schema(value: &Value, schema: &SchemaRef) {
        let s = value.as_struct().expect("a struct");
        assert_eq!(s.schema(), schema);
        assert_eq!(s.schema().name, schema.name);
        assert_eq!(s.schema().version, schema.version);
    }

    // SetSchemaMetadataTest.schemaNameUpdate
    #[test]
    fn schema_name_update() {
        let x = xform(Part::Value, &[("schema.name", "foo")]);
        let r = value_record(Some(SchemaBuilder::struct_().build()), Value::Null);
        let out = x.apply(r).unwrap().unwrap();
        assert_eq!(out.value_schema.unwrap().name.as_deref(), Some("foo"));
    }

    // SetSchemaMetadataTest.schemaVersionUpdate
    #[test]
    fn schema_version_update() {
        let x = xform(Part::Value, &[("schema.version", "42")]);
        let r = value_record(Some(SchemaBuilder::struct_().build()), Value::Null);
        let out = x.apply(r).unwrap().unwrap();
        assert_eq!(out.value_schema.unwrap().version, Some(42));
    }

    // SetSchemaMetadataTest.schemaNameAndVersionUpdate
    #[test]
    fn schema_name_and_version_update() {
        let x = xform(
            Part::Value,
            &[("schema.name", "foo"), ("schema.version", "42")],
        );
        let r = value_record(Some(SchemaBuilder::struct_().build()), Value::Null);
        let schema = x.apply(r).unwrap().unwrap().value_schema.unwrap();
        assert_eq!(schema.name.as_deref(), Some("foo"));
        assert_eq!(schema.version, Some(42));
    }

    fn f1_f2_schema() -> SchemaRef {
        SchemaBuilder::struct_()
            .name("my.orig.SchemaDefn")
            .field("f1", SchemaBuilder::string().build())
            .field("f2", SchemaBuilder::int32().build())
            .build()
    }

    // SetSchemaMetadataTest.schemaNameAndVersionUpdateWithStruct
    #[test]
    fn schema_name_and_version_update_with_struct() {
        let schema = f1_f2_schema();
        let value = Struct::new(schema.clone())
            .put("f1", "value1")
            .unwrap()
            .put("f2", 1i32)
            .unwrap();
        let x = xform(
            Part::Value,
            &[("schema.name", "foo"), ("schema.version", "42")],
        );
        let out = x
            .apply(value_record(Some(schema), Value::Struct(value)))
            .unwrap()
            .unwrap();
        let new_schema = out.value_schema.clone().unwrap();
        assert_eq!(new_schema.name.as_deref(), Some("foo"));
        assert_eq!(new_schema.version, Some(42));
        assert_matching_schema(&out.value, &new_schema);
        let s = out.value.as_struct().unwrap();
        assert_eq!(s.get("f1"), Some(&Value::from("value1")));
        assert_eq!(s.get("f2"), Some(&Value::Int32(1)));
    }

    // SetSchemaMetadataTest.updateSchemaOfStruct
    #[test]
    fn update_schema_of_struct() {
        let schema = f1_f2_schema();
        let value = Struct::new(schema)
            .put("f1", "value1")
            .unwrap()
            .put("f2", 1i32)
            .unwrap();
        let new_schema = SchemaBuilder::struct_()
            .name("my.updated.SchemaDefn")
            .field("f1", SchemaBuilder::string().build())
            .field("f2", SchemaBuilder::int32().build())
            .build();
        let updated = update_schema_in(Value::Struct(value), &new_schema, true).unwrap();
        assert_matching_schema(&updated, &new_schema);
    }

    // SetSchemaMetadataTest.updateSchemaOfNonStruct / updateSchemaOfNull
    #[test]
    fn update_schema_of_non_struct_and_null() {
        let int32 = SchemaBuilder::int32().build();
        assert_eq!(
            update_schema_in(Value::Int32(1), &int32, true).unwrap(),
            Value::Int32(1)
        );
        assert_eq!(
            update_schema_in(Value::Null, &int32, true).unwrap(),
            Value::Null
        );
    }

    // SetSchemaMetadataTest.schemaNameAndVersionUpdateWithStructAndNullField
    #[test]
    fn null_field_with_default_follows_replace_null_with_default() {
        let schema = SchemaBuilder::struct_()
            .name("my.orig.SchemaDefn")
            .field(
                "f1",
                SchemaBuilder::string()
                    .default_value(Value::from("default"))
                    .optional()
                    .build(),
            )
            .field("f2", SchemaBuilder::int32().build())
            .build();
        let value = Struct::new(schema.clone()).put("f2", 1i32).unwrap();
        for (replace, expected) in [("true", Value::from("default")), ("false", Value::Null)] {
            let x = xform(
                Part::Value,
                &[
                    ("schema.name", "foo"),
                    ("schema.version", "42"),
                    ("replace.null.with.default", replace),
                ],
            );
            let out = x
                .apply(value_record(
                    Some(schema.clone()),
                    Value::Struct(value.clone()),
                ))
                .unwrap()
                .unwrap();
            let new_schema = out.value_schema.clone().unwrap();
            assert_matching_schema(&out.value, &new_schema);
            assert_eq!(out.value.as_struct().unwrap().raw_values()[0], expected);
        }
    }

    // SetSchemaMetadataTest.valueSchemaRequired
    #[test]
    fn value_schema_required() {
        let x = xform(Part::Value, &[("schema.name", "foo")]);
        let err = x.apply(value_record(None, Value::Int32(42))).unwrap_err();
        assert_eq!(
            err.message,
            "Schema required for [updating schema metadata]"
        );
    }

    // SetSchemaMetadataTest.ignoreRecordWithNullValue
    #[test]
    fn ignore_record_with_null_value_and_no_schema() {
        let x = xform(Part::Value, &[("schema.name", "foo")]);
        let r = value_record(None, Value::Null);
        assert_eq!(x.apply(r.clone()).unwrap(), Some(r));
    }

    #[test]
    fn key_variant_touches_only_the_key() {
        let x = xform(Part::Key, &[("schema.name", "k"), ("schema.version", "3")]);
        let key_schema = SchemaBuilder::string().name("old").build();
        let value_schema = SchemaBuilder::int32().build();
        let r = ConnectRecord::new("t", Some(value_schema.clone()), Value::Int32(1))
            .with_key(Some(key_schema), Value::from("id"));
        let out = x.apply(r).unwrap().unwrap();
        let ks = out.key_schema.unwrap();
        assert_eq!(ks.name.as_deref(), Some("k"));
        assert_eq!(ks.version, Some(3));
        assert_eq!(ks.schema_type, SchemaType::String);
        assert_eq!(out.key, Value::from("id"));
        assert_eq!(out.value_schema, Some(value_schema));
        // Only the version: the name is kept.
        let x = xform(Part::Value, &[("schema.version", "7")]);
        let r = ConnectRecord::new(
            "t",
            Some(SchemaBuilder::int64().name("n").build()),
            Value::Int64(1),
        );
        let vs = x.apply(r).unwrap().unwrap().value_schema.unwrap();
        assert_eq!((vs.name.as_deref(), vs.version), (Some("n"), Some(7)));
    }

    #[test]
    fn config_errors_name_the_key() {
        let err = SetSchemaMetadata::new(Part::Value)
            .configure(&props_of(&[]))
            .unwrap_err();
        assert!(matches!(&err, ConnectError::Config { key, message }
            if key == "schema.name" && message == "Neither schema name nor version configured"));
        let err = SetSchemaMetadata::new(Part::Value)
            .configure(&props_of(&[("schema.version", "x")]))
            .unwrap_err();
        assert_config_key(&err, "schema.version");
        let err = SetSchemaMetadata::new(Part::Value)
            .configure(&props_of(&[
                ("schema.name", "a"),
                ("replace.null.with.default", "maybe"),
            ]))
            .unwrap_err();
        assert_config_key(&err, "replace.null.with.default");
    }

    #[test]
    fn registered_under_java_names() {
        for n in [
            "org.apache.kafka.connect.transforms.SetSchemaMetadata$Key",
            "org.apache.kafka.connect.transforms.SetSchemaMetadata$Value",
            "SetSchemaMetadata$Value",
        ] {
            assert!(crate::transforms::find_transform(n).is_some(), "{n}");
        }
    }
}
