//! `Flatten$Key` / `Flatten$Value`: flatten nested Structs (schema'd) or
//! Maps (schemaless) into one level, joining field names with `delimiter`,
//! like `org.apache.kafka.connect.transforms.Flatten`.
//!
//! As in Java: arrays are kept as leaves (not flattened into); a Map inside a
//! schema'd Struct is an error; a flattened field is optional when any of its
//! ancestors is, and takes its default from its own schema or else from the
//! ancestors' default Struct; the top-level schema keeps its name, version,
//! doc and parameters. Null keys/values pass through unchanged.

use std::sync::Arc;

use crate::connect::config::{ConfigDef, ConfigType, Importance, Props};
use crate::connect::transform::{Transform, TransformError};
use crate::connect::{ConnectError, ConnectRecord, Schema, SchemaRef, SchemaType, Struct, Value};

use super::util::{
    add_field, copy_schema_basics, key_value_plugins, map_put, require_map, require_struct,
    type_of, Part, SchemaCache,
};
use super::TransformPlugin;

pub const PLUGINS: &[TransformPlugin] = key_value_plugins!(Flatten);

pub const DELIMITER_CONFIG: &str = "delimiter";
pub const DELIMITER_DEFAULT: &str = ".";

const PURPOSE: &str = "flattening";

/// The keys of `Flatten`, as Java declares them.
pub fn config_def() -> ConfigDef {
    ConfigDef::new().define(
        DELIMITER_CONFIG,
        ConfigType::String,
        Some(DELIMITER_DEFAULT),
        Importance::Medium,
        "Delimiter to insert between field names from the input record when generating field \
         names for the output record",
    )
}

/// `Flatten$Key` or `Flatten$Value`.
pub struct Flatten {
    part: Part,
    delimiter: String,
    /// Flattened schemas by original schema.
    cache: SchemaCache,
}

impl Flatten {
    pub fn new(part: Part) -> Self {
        Flatten {
            part,
            delimiter: DELIMITER_DEFAULT.to_owned(),
            cache: SchemaCache::new(),
        }
    }

    fn field_name(&self, prefix: &str, name: &str) -> String {
        if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}{}{name}", self.delimiter)
        }
    }

    fn flatten_map(
        &self,
        entries: &[(Value, Value)],
        prefix: &str,
        out: &mut Vec<(Value, Value)>,
    ) -> Result<(), TransformError> {
        for (key, value) in entries {
            let Some(key) = key.as_str() else {
                return Err(TransformError::new(format!(
                    "Flatten transformation needs String map keys for record without schemas, \
                     found a {} key",
                    type_of(key)
                )));
            };
            let name = self.field_name(prefix, key);
            match value {
                Value::Map(inner) => self.flatten_map(inner, &name, out)?,
                Value::Struct(_) => {
                    return Err(TransformError::new(format!(
                        "Flatten transformation does not support {} for record without schemas \
                         (for field {name}).",
                        type_of(value)
                    )))
                }
                // Primitives, arrays and nulls are leaves. Logical values
                // (Decimal, Date, Time, Timestamp) are leaves too.
                leaf => map_put(out, &name, leaf.clone()),
            }
        }
        Ok(())
    }

    fn flattened_schema(&self, schema: &SchemaRef) -> Result<SchemaRef, TransformError> {
        self.cache.get_or_try_insert(schema, || {
            let mut flat = copy_schema_basics(schema, SchemaType::Struct);
            let parent_default = match &schema.default {
                Some(Value::Struct(s)) => Some(s),
                _ => None,
            };
            self.build_schema(schema, "", &mut flat, schema.optional, parent_default)?;
            Ok(Arc::new(flat))
        })
    }

    /// Java's `buildUpdatedSchema`: `optional` is true when an ancestor is
    /// optional; `parent_default` is the ancestors' default for this level.
    fn build_schema(
        &self,
        schema: &Schema,
        prefix: &str,
        flat: &mut Schema,
        optional: bool,
        parent_default: Option<&Struct>,
    ) -> Result<(), TransformError> {
        for field in &schema.fields {
            let name = self.field_name(prefix, &field.name);
            let field_optional = optional || field.schema.optional;
            let default = match &field.schema.default {
                Some(d) => Some(d.clone()),
                None => parent_default
                    .map(|d| d.get_by_index(field.index).clone())
                    .filter(|v| !v.is_null()),
            };
            match field.schema.schema_type {
                SchemaType::Struct => {
                    let nested = match &default {
                        Some(Value::Struct(s)) => Some(s),
                        _ => None,
                    };
                    self.build_schema(&field.schema, &name, flat, field_optional, nested)?;
                }
                SchemaType::Map => {
                    return Err(TransformError::new(format!(
                        "Flatten transformation does not support MAP for record with schemas \
                         (for field {name})."
                    )))
                }
                _ => {
                    let mut leaf = copy_schema_basics(&field.schema, field.schema.schema_type);
                    leaf.key_schema = field.schema.key_schema.clone();
                    leaf.value_schema = field.schema.value_schema.clone();
                    leaf.optional = field_optional;
                    leaf.default = default;
                    add_field(flat, name, Arc::new(leaf))?;
                }
            }
        }
        Ok(())
    }

    /// Java's `buildWithSchema`: leaves are copied without default
    /// substitution (the flattened schema carries the defaults); a null
    /// nested struct leaves its flattened fields null.
    fn flatten_struct(
        &self,
        value: Option<&Struct>,
        prefix: &str,
        out: &mut Struct,
    ) -> Result<(), TransformError> {
        let Some(value) = value else {
            return Ok(());
        };
        for field in &value.schema().fields {
            let name = self.field_name(prefix, &field.name);
            if field.schema.schema_type == SchemaType::Struct {
                let nested = value.get_by_index(field.index).as_struct();
                self.flatten_struct(nested, &name, out)?;
                continue;
            }
            let raw = &value.raw_values()[field.index];
            if !raw.is_null() {
                out.set(&name, raw.clone())?;
            }
        }
        Ok(())
    }
}

impl Transform for Flatten {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, props: &Props) -> Result<(), ConnectError> {
        let config = config_def().parse(props)?;
        // Java's ConfigDef trims STRING values.
        self.delimiter = config
            .string(DELIMITER_CONFIG)?
            .unwrap_or_default()
            .trim()
            .to_owned();
        self.cache.clear();
        Ok(())
    }

    fn apply(&self, record: ConnectRecord) -> Result<Option<ConnectRecord>, TransformError> {
        let part = self.part;
        let value = part.value(&record);
        if value.is_null() {
            return Ok(Some(record));
        }
        match part.schema(&record).cloned() {
            None => {
                let entries = require_map(value, PURPOSE)?;
                let mut out = Vec::new();
                self.flatten_map(entries, "", &mut out)?;
                Ok(Some(part.set(record, None, Value::Map(out))))
            }
            Some(_) => {
                let value = require_struct(value, PURPOSE)?;
                let updated = self.flattened_schema(value.schema())?;
                let mut out = Struct::new(updated.clone());
                self.flatten_struct(Some(value), "", &mut out)?;
                Ok(Some(part.set(record, Some(updated), out.into())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::config::props_of;
    use crate::connect::SchemaBuilder;
    use crate::transforms::testing::{get, map};
    use proptest::prelude::*;

    fn configured(part: Part, pairs: &[(&str, &str)]) -> Flatten {
        let mut xform = Flatten::new(part);
        xform.configure(&props_of(pairs)).unwrap();
        xform
    }

    fn supported_types_schema() -> SchemaRef {
        SchemaBuilder::struct_()
            .field("int8", SchemaBuilder::int8().build())
            .field("int16", SchemaBuilder::int16().build())
            .field("int32", SchemaBuilder::int32().build())
            .field("int64", SchemaBuilder::int64().build())
            .field("float32", SchemaBuilder::float32().build())
            .field("float64", SchemaBuilder::float64().build())
            .field("boolean", SchemaBuilder::boolean().build())
            .field("string", SchemaBuilder::string().build())
            .field("bytes", SchemaBuilder::bytes().build())
            .build()
    }

    fn supported_values() -> Vec<(&'static str, Value)> {
        vec![
            ("int8", Value::Int8(8)),
            ("int16", Value::Int16(16)),
            ("int32", Value::Int32(32)),
            ("int64", Value::Int64(64)),
            ("float32", Value::Float32(32.0)),
            ("float64", Value::Float64(64.0)),
            ("boolean", Value::Boolean(true)),
            ("string", Value::from("stringy")),
            ("bytes", Value::Bytes(b"bytes".to_vec())),
        ]
    }

    // FlattenTest.topLevelStructRequired / topLevelMapRequired
    #[test]
    fn top_level_struct_or_map_required() {
        let xform = configured(Part::Value, &[]);
        let record =
            ConnectRecord::new("topic", Some(SchemaBuilder::int32().build()), 42i32.into());
        assert!(xform.apply(record).is_err());
        let record = ConnectRecord::new("topic", None, 42i32.into());
        let err = xform.apply(record).unwrap_err();
        assert_eq!(
            err.message,
            "Only Map objects supported in absence of schema for [flattening], found: INT32"
        );
    }

    // FlattenTest.testNestedStruct
    #[test]
    fn nested_struct() {
        let xform = configured(Part::Value, &[]);
        let supported = supported_types_schema();
        let one = SchemaBuilder::struct_()
            .field("B", supported.clone())
            .build();
        let two = SchemaBuilder::struct_().field("A", one.clone()).build();
        let mut inner = Struct::new(supported);
        for (k, v) in supported_values() {
            inner.set(k, v).unwrap();
        }
        let value = Struct::new(two.clone())
            .put("A", Struct::new(one).put("B", inner).unwrap())
            .unwrap();
        let out = xform
            .apply(ConnectRecord::new("topic", Some(two), value.into()))
            .unwrap()
            .unwrap();
        assert_eq!(out.value_schema.unwrap().schema_type, SchemaType::Struct);
        let flat = out.value.as_struct().unwrap();
        assert_eq!(flat.schema().fields.len(), 9);
        for (k, v) in supported_values() {
            assert_eq!(flat.get(&format!("A.B.{k}")), Some(&v), "{k}");
        }
    }

    // FlattenTest.testNestedMapWithDelimiter
    #[test]
    fn nested_map_with_delimiter() {
        let xform = configured(Part::Value, &[("delimiter", "#")]);
        let supported = Value::Map(
            supported_values()
                .into_iter()
                .map(|(k, v)| (Value::from(k), v))
                .collect(),
        );
        let value = map(vec![("A", map(vec![("B", supported)]))]);
        let out = xform
            .apply(ConnectRecord::new("topic", None, value))
            .unwrap()
            .unwrap();
        assert_eq!(out.value_schema, None);
        let Value::Map(entries) = &out.value else {
            panic!()
        };
        assert_eq!(entries.len(), 9);
        for (k, v) in supported_values() {
            assert_eq!(get(&out.value, &format!("A#B#{k}")), Some(&v), "{k}");
        }
    }

    // FlattenTest.testOptionalFieldStruct
    #[test]
    fn optional_field_struct() {
        let xform = configured(Part::Value, &[]);
        let supported = SchemaBuilder::struct_()
            .field("opt_int32", SchemaBuilder::int32().optional().build())
            .build();
        let one = SchemaBuilder::struct_()
            .field("B", supported.clone())
            .build();
        let value = Struct::new(one.clone())
            .put("B", Struct::new(supported))
            .unwrap();
        let out = xform
            .apply(ConnectRecord::new("topic", Some(one), value.into()))
            .unwrap()
            .unwrap();
        assert_eq!(
            out.value.as_struct().unwrap().get("B.opt_int32"),
            Some(&Value::Null)
        );
    }

    // FlattenTest.testOptionalStruct and tombstoneEventWithSchemaShouldPassThrough
    #[test]
    fn optional_struct_null_passes_through() {
        let xform = configured(Part::Value, &[]);
        let schema = SchemaBuilder::struct_()
            .optional()
            .field("opt_int32", SchemaBuilder::int32().optional().build())
            .build();
        let record = ConnectRecord::new("topic", Some(schema.clone()), Value::Null);
        let out = xform.apply(record).unwrap().unwrap();
        assert_eq!(out.value, Value::Null);
        assert_eq!(out.value_schema, Some(schema));
    }

    // FlattenTest.testOptionalNestedStruct
    #[test]
    fn optional_nested_struct() {
        let xform = configured(Part::Value, &[]);
        let supported = SchemaBuilder::struct_()
            .optional()
            .field("opt_int32", SchemaBuilder::int32().optional().build())
            .build();
        let one = SchemaBuilder::struct_().field("B", supported).build();
        let value = Struct::new(one.clone());
        let out = xform
            .apply(ConnectRecord::new("topic", Some(one), value.into()))
            .unwrap()
            .unwrap();
        assert_eq!(
            out.value.as_struct().unwrap().get("B.opt_int32"),
            Some(&Value::Null)
        );
    }

    // FlattenTest.testOptionalFieldMap
    #[test]
    fn optional_field_map() {
        let xform = configured(Part::Value, &[]);
        let value = map(vec![("B", map(vec![("opt_int32", Value::Null)]))]);
        let out = xform
            .apply(ConnectRecord::new("topic", None, value))
            .unwrap()
            .unwrap();
        assert_eq!(get(&out.value, "B.opt_int32"), Some(&Value::Null));
    }

    // FlattenTest.testKey
    #[test]
    fn key() {
        let xform = configured(Part::Key, &[]);
        let key = map(vec![("A", map(vec![("B", Value::Int32(12))]))]);
        let record = ConnectRecord::new("topic", None, Value::Null).with_key(None, key);
        let out = xform.apply(record).unwrap().unwrap();
        assert_eq!(out.key_schema, None);
        assert_eq!(get(&out.key, "A.B"), Some(&Value::Int32(12)));
    }

    // FlattenTest.testSchemalessArray
    #[test]
    fn schemaless_array() {
        let xform = configured(Part::Value, &[]);
        let value = map(vec![(
            "foo",
            Value::Array(vec![
                Value::from("bar"),
                map(vec![("baz", map(vec![("lfg", Value::from("lfg"))]))]),
            ]),
        )]);
        let out = xform
            .apply(ConnectRecord::new("topic", None, value.clone()))
            .unwrap()
            .unwrap();
        assert_eq!(out.value, value);
    }

    // FlattenTest.testArrayWithSchema
    #[test]
    fn array_with_schema() {
        let xform = configured(Part::Value, &[]);
        let nested = SchemaBuilder::struct_()
            .field("lfg", SchemaBuilder::string().build())
            .build();
        let inner = SchemaBuilder::struct_()
            .field("baz", nested.clone())
            .build();
        let schema = SchemaBuilder::struct_()
            .field(
                "foo",
                SchemaBuilder::array(inner.clone()).doc("durk").build(),
            )
            .build();
        let inner_value = Struct::new(inner)
            .put("baz", Struct::new(nested).put("lfg", "lfg").unwrap())
            .unwrap();
        let value = Struct::new(schema.clone())
            .put("foo", Value::Array(vec![inner_value.into()]))
            .unwrap();
        let out = xform
            .apply(ConnectRecord::new(
                "topic",
                Some(schema.clone()),
                value.clone().into(),
            ))
            .unwrap()
            .unwrap();
        assert_eq!(out.value, Value::Struct(value));
        assert_eq!(out.value_schema, Some(schema));
    }

    // FlattenTest.testOptionalAndDefaultValuesNested
    #[test]
    fn optional_and_default_values_nested() {
        let xform = configured(Part::Value, &[]);
        let base = SchemaBuilder::struct_()
            .optional()
            .field("req_field", SchemaBuilder::string().build())
            .field(
                "opt_field",
                SchemaBuilder::string()
                    .optional()
                    .default_value("child_default".into())
                    .build(),
            );
        let child_default = Struct::new(base.clone().build())
            .put("req_field", "req_default")
            .unwrap();
        let schema = base.default_value(child_default.into()).build();
        let value = Struct::new(schema.clone());
        let out = xform
            .apply(ConnectRecord::new("topic", Some(schema), value.into()))
            .unwrap()
            .unwrap();
        let flat = out.value_schema.unwrap();
        assert_eq!(flat.schema_type, SchemaType::Struct);
        assert_eq!(flat.fields.len(), 2);
        assert_eq!(
            flat.field("req_field").unwrap().schema,
            SchemaBuilder::string()
                .optional()
                .default_value("req_default".into())
                .build()
        );
        assert_eq!(
            flat.field("opt_field").unwrap().schema,
            SchemaBuilder::string()
                .optional()
                .default_value("child_default".into())
                .build()
        );
    }

    // FlattenTest.tombstoneEventWithoutSchemaShouldPassThrough
    #[test]
    fn tombstone_without_schema_passes_through() {
        let xform = configured(Part::Value, &[]);
        let record = ConnectRecord::new("test", None, Value::Null);
        assert_eq!(xform.apply(record.clone()).unwrap(), Some(record));
    }

    // FlattenTest.testMapWithNullFields
    #[test]
    fn map_with_null_fields() {
        let xform = configured(Part::Value, &[]);
        let value = map(vec![
            ("firstNull", Value::Null),
            ("firstNonNull", Value::from("nonNull")),
            ("secondNull", Value::Null),
            ("secondNonNull", Value::from("alsoNonNull")),
            ("thirdNonNull", Value::Null),
        ]);
        let out = xform
            .apply(ConnectRecord::new("test", None, value.clone()))
            .unwrap()
            .unwrap();
        assert_eq!(out.value, value);
    }

    // FlattenTest.testStructWithNullFields
    #[test]
    fn struct_with_null_fields() {
        let xform = configured(Part::Value, &[]);
        let opt = || SchemaBuilder::string().optional().build();
        let schema = SchemaBuilder::struct_()
            .field("firstNull", opt())
            .field("firstNonNull", opt())
            .field("secondNull", opt())
            .field("secondNonNull", opt())
            .field("thirdNonNull", opt())
            .build();
        let value = Struct::new(schema.clone())
            .put("firstNonNull", "nonNull")
            .unwrap()
            .put("secondNonNull", "alsoNonNull")
            .unwrap();
        let out = xform
            .apply(ConnectRecord::new(
                "test",
                Some(schema),
                value.clone().into(),
            ))
            .unwrap()
            .unwrap();
        assert_eq!(out.value, Value::Struct(value));
    }

    // Flatten.buildUpdatedSchema: MAP fields of schema'd records are
    // rejected; name/version/doc of the top-level schema are kept.
    #[test]
    fn schema_basics_kept_and_map_fields_rejected() {
        let xform = configured(Part::Value, &[("delimiter", "_")]);
        let inner = SchemaBuilder::struct_()
            .field("x", SchemaBuilder::int32().build())
            .build();
        let schema = SchemaBuilder::struct_()
            .name("n")
            .version(3)
            .doc("d")
            .field("a", inner.clone())
            .build();
        let value = Struct::new(schema.clone())
            .put("a", Struct::new(inner).put("x", 1i32).unwrap())
            .unwrap();
        let out = xform
            .apply(ConnectRecord::new("t", Some(schema), value.into()))
            .unwrap()
            .unwrap();
        let flat = out.value_schema.unwrap();
        assert_eq!(
            (flat.name.as_deref(), flat.version, flat.doc.as_deref()),
            (Some("n"), Some(3), Some("d"))
        );
        assert_eq!(
            out.value.as_struct().unwrap().get("a_x"),
            Some(&Value::Int32(1))
        );

        let with_map = SchemaBuilder::struct_()
            .field(
                "m",
                SchemaBuilder::map(
                    SchemaBuilder::string().build(),
                    SchemaBuilder::string().build(),
                )
                .build(),
            )
            .build();
        let err = xform
            .apply(ConnectRecord::new(
                "t",
                Some(with_map.clone()),
                Struct::new(with_map).into(),
            ))
            .unwrap_err();
        assert_eq!(
            err.message,
            "Flatten transformation does not support MAP for record with schemas (for field m)."
        );
    }

    #[test]
    fn registered_under_java_names() {
        for name in [
            "org.apache.kafka.connect.transforms.Flatten$Key",
            "org.apache.kafka.connect.transforms.Flatten$Value",
            "Flatten$Value",
        ] {
            assert!(crate::transforms::find_transform(name).is_some(), "{name}");
        }
    }

    /// Nested schemaless values: keys without the delimiter, leaves that are
    /// primitives, nulls or arrays.
    fn nested_map() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<i32>().prop_map(Value::Int32),
            "[a-z]{0,4}".prop_map(Value::String),
            any::<bool>().prop_map(Value::Boolean),
            prop::collection::vec(any::<i64>().prop_map(Value::Int64), 0..3).prop_map(Value::Array),
        ];
        leaf.prop_recursive(4, 64, 6, |inner| {
            prop::collection::btree_map("[a-z]{1,3}", inner, 0..6).prop_map(|m| {
                Value::Map(m.into_iter().map(|(k, v)| (Value::String(k), v)).collect())
            })
        })
        .prop_map(|v| match v {
            Value::Map(_) => v,
            other => Value::Map(vec![(Value::from("root"), other)]),
        })
    }

    fn leaves(value: &Value) -> usize {
        match value {
            Value::Map(entries) => entries.iter().map(|(_, v)| leaves(v)).sum(),
            _ => 1,
        }
    }

    fn leaves_of_struct(value: &Struct) -> usize {
        value
            .schema()
            .fields
            .iter()
            .map(|f| match value.get_by_index(f.index) {
                Value::Struct(s) => leaves_of_struct(s),
                _ => 1,
            })
            .sum()
    }

    /// Turns a nested map into a schema'd Struct (maps become structs,
    /// leaves optional fields of their type; nulls and arrays become
    /// optional strings / int64 arrays).
    fn to_struct(value: &Value) -> Struct {
        let Value::Map(entries) = value else {
            unreachable!()
        };
        let mut builder = SchemaBuilder::struct_();
        let mut values = Vec::new();
        for (k, v) in entries {
            let k = k.as_str().unwrap().to_owned();
            let (schema, v) = match v {
                Value::Map(_) => {
                    let s = to_struct(v);
                    (s.schema().clone(), Value::Struct(s))
                }
                Value::Int32(_) => (SchemaBuilder::int32().optional().build(), v.clone()),
                Value::String(_) => (SchemaBuilder::string().optional().build(), v.clone()),
                Value::Boolean(_) => (SchemaBuilder::boolean().optional().build(), v.clone()),
                Value::Array(_) => (
                    SchemaBuilder::array(SchemaBuilder::int64().build())
                        .optional()
                        .build(),
                    v.clone(),
                ),
                _ => (SchemaBuilder::string().optional().build(), Value::Null),
            };
            builder = builder.field(k.clone(), schema);
            values.push((k, v));
        }
        let mut s = Struct::new(builder.build());
        for (k, v) in values {
            s.set(&k, v).unwrap();
        }
        s
    }

    proptest! {
        // Flattened output is one level deep and keeps every leaf.
        #[test]
        fn flatten_schemaless_is_flat_and_keeps_leaves(value in nested_map()) {
            let xform = configured(Part::Value, &[]);
            let out = xform
                .apply(ConnectRecord::new("t", None, value.clone()))
                .unwrap()
                .unwrap();
            let Value::Map(entries) = &out.value else { panic!("not a map") };
            prop_assert!(entries.iter().all(|(_, v)| !matches!(v, Value::Map(_) | Value::Struct(_))));
            prop_assert_eq!(entries.len(), leaves(&value));
        }

        #[test]
        fn flatten_struct_is_flat_and_keeps_leaves(value in nested_map()) {
            let xform = configured(Part::Value, &[("delimiter", "_")]);
            let s = to_struct(&value);
            let out = xform
                .apply(ConnectRecord::new("t", Some(s.schema().clone()), s.clone().into()))
                .unwrap()
                .unwrap();
            let flat = out.value.as_struct().unwrap();
            prop_assert!(flat.schema().fields.iter().all(|f| f.schema.schema_type != SchemaType::Struct));
            prop_assert_eq!(flat.schema().fields.len(), leaves_of_struct(&s));
            prop_assert!(flat.validate().is_ok());
            prop_assert_eq!(out.value_schema.as_ref(), Some(flat.schema()));
        }
    }
}
