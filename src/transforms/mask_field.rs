//! `MaskField$Key` / `MaskField$Value`: replace fields with their type's
//! "null" value (`0`, `false`, `""`, epoch, empty array/map) or with a
//! configured `replacement`, like `org.apache.kafka.connect.transforms.MaskField`.
//!
//! The schema is unchanged. Null fields stay null; null keys/values pass
//! through. As in Java, bytes and struct fields cannot be masked, and a
//! `replacement` only applies to numeric, decimal and string fields.

use std::collections::BTreeSet;

use num_bigint::BigInt;

use crate::connect::config::{ConfigDef, ConfigType, Importance, Props};
use crate::connect::transform::{Transform, TransformError};
use crate::connect::{ConnectError, ConnectRecord, Decimal, Struct, Value};

use super::util::{
    copy_fields, key_value_plugins, map_update, only_maps, only_structs, type_of, ConfigDefExt,
    Part,
};
use super::TransformPlugin;

pub const PLUGINS: &[TransformPlugin] = key_value_plugins!(MaskField);

pub const FIELDS_CONFIG: &str = "fields";
pub const REPLACEMENT_CONFIG: &str = "replacement";
pub use super::util::REPLACE_NULL_WITH_DEFAULT_CONFIG;

const PURPOSE: &str = "mask fields";

/// The keys of `MaskField`, as Java declares them. `replacement` has Java's
/// `null` default as an empty string; an explicitly empty value is rejected.
pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            FIELDS_CONFIG,
            ConfigType::List,
            None,
            Importance::High,
            "Names of fields to mask.",
        )
        .define(
            REPLACEMENT_CONFIG,
            ConfigType::String,
            Some(""),
            Importance::Low,
            "Custom value replacement, that will be applied to all 'fields' values (numeric or \
             non-empty string values only).",
        )
        .define_replace_null_with_default()
}

/// `MaskField$Key` or `MaskField$Value`.
pub struct MaskField {
    part: Part,
    /// In configuration order; schemaless masking adds missing ones as null.
    fields: Vec<String>,
    replacement: Option<String>,
    replace_null_with_default: bool,
}

impl MaskField {
    pub fn new(part: Part) -> Self {
        MaskField {
            part,
            fields: Vec::new(),
            replacement: None,
            replace_null_with_default: true,
        }
    }

    /// Java's `masked`: null stays null; the rest is masked by type.
    /// `decimal_scale` is the field schema's scale, when it has one.
    fn masked(&self, value: &Value, decimal_scale: Option<i32>) -> Result<Value, TransformError> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        match &self.replacement {
            None => mask_with_null_value(value),
            Some(r) => mask_with_replacement(value, r, decimal_scale),
        }
    }
}

fn mask_with_null_value(value: &Value) -> Result<Value, TransformError> {
    Ok(match value {
        Value::Boolean(_) => Value::Boolean(false),
        Value::Int8(_) => Value::Int8(0),
        Value::Int16(_) => Value::Int16(0),
        Value::Int32(_) => Value::Int32(0),
        Value::Int64(_) => Value::Int64(0),
        Value::Float32(_) => Value::Float32(0.0),
        Value::Float64(_) => Value::Float64(0.0),
        // BigDecimal.ZERO, at the value's own scale so it still fits a
        // Decimal schema.
        Value::Decimal(d) => Value::Decimal(Decimal::new(0, d.scale)),
        // java.util.Date(0), whichever logical type carries it.
        Value::Date(_) => Value::Date(0),
        Value::Time(_) => Value::Time(0),
        Value::Timestamp(_) => Value::Timestamp(0),
        Value::String(_) => Value::from(""),
        Value::Array(_) => Value::Array(Vec::new()),
        Value::Map(_) => Value::Map(Vec::new()),
        other => {
            return Err(TransformError::new(format!(
                "Cannot mask value of type: {}",
                type_of(other)
            )))
        }
    })
}

fn mask_with_replacement(
    value: &Value,
    replacement: &str,
    decimal_scale: Option<i32>,
) -> Result<Value, TransformError> {
    let not_a_number = || {
        TransformError::new(format!(
            "Unable to convert {replacement} (class java.lang.String) to number"
        ))
    };
    // Values.convertToLong & co.: integral text, or a number truncated.
    let as_long = || -> Result<i64, TransformError> {
        let t = replacement.trim();
        t.parse::<i64>()
            .ok()
            .or_else(|| {
                t.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(|f| f as i64)
            })
            .ok_or_else(not_a_number)
    };
    let as_double = || -> Result<f64, TransformError> {
        replacement
            .trim()
            .parse::<f64>()
            .map_err(|_| not_a_number())
    };
    Ok(match value {
        Value::Int8(_) => Value::Int8(as_long()? as i8),
        Value::Int16(_) => Value::Int16(as_long()? as i16),
        Value::Int32(_) => Value::Int32(as_long()? as i32),
        Value::Int64(_) => Value::Int64(as_long()?),
        Value::Float32(_) => Value::Float32(as_double()? as f32),
        Value::Float64(_) => Value::Float64(as_double()?),
        Value::String(_) => Value::from(replacement),
        Value::Decimal(_) => {
            let parsed = Decimal::parse(replacement).ok_or_else(not_a_number)?;
            Value::Decimal(match decimal_scale {
                Some(scale) => rescale(&parsed, scale).unwrap_or(parsed),
                None => parsed,
            })
        }
        other => {
            return Err(TransformError::new(format!(
                "Cannot mask value of type {} with custom replacement.",
                type_of(other)
            )))
        }
    })
}

/// The same number at `scale`, if that loses nothing.
fn rescale(d: &Decimal, scale: i32) -> Option<Decimal> {
    if scale >= d.scale {
        let factor = BigInt::from(10u8).pow(u32::try_from(scale - d.scale).ok()?);
        return Some(Decimal {
            unscaled: &d.unscaled * factor,
            scale,
        });
    }
    let factor = BigInt::from(10u8).pow(u32::try_from(d.scale - scale).ok()?);
    let zero = BigInt::from(0u8);
    (&d.unscaled % &factor == zero).then(|| Decimal {
        unscaled: &d.unscaled / factor,
        scale,
    })
}

impl Transform for MaskField {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, props: &Props) -> Result<(), ConnectError> {
        let config = config_def().parse(props)?;
        let fields = config.list(FIELDS_CONFIG)?;
        if fields.is_empty() {
            return Err(ConnectError::config(
                FIELDS_CONFIG,
                format!(
                    "Invalid value {} for configuration {FIELDS_CONFIG}: Empty list",
                    props.get(FIELDS_CONFIG).map_or("", |s| s.as_str())
                ),
            ));
        }
        let mut seen = BTreeSet::new();
        self.fields = fields
            .into_iter()
            .filter(|f| seen.insert(f.clone()))
            .collect();
        // Java trims STRING values; its NonEmptyString rejects "" but
        // accepts the null default.
        self.replacement = match props.get(REPLACEMENT_CONFIG).map(|s| s.trim()) {
            None => None,
            Some("") => {
                return Err(ConnectError::config(
                    REPLACEMENT_CONFIG,
                    "Invalid value  for configuration replacement: String must be non-empty",
                ))
            }
            Some(r) => Some(r.to_owned()),
        };
        self.replace_null_with_default = config.boolean(REPLACE_NULL_WITH_DEFAULT_CONFIG)?;
        Ok(())
    }

    fn apply(&self, record: ConnectRecord) -> Result<Option<ConnectRecord>, TransformError> {
        let part = self.part;
        let value = part.value(&record);
        if value.is_null() {
            return Ok(Some(record));
        }
        let schema = part.schema(&record).cloned();
        let updated = match (&schema, value) {
            (None, Value::Map(entries)) => {
                let mut updated = entries.clone();
                for field in &self.fields {
                    // Java puts masked(null) = null for absent fields.
                    map_update(&mut updated, field, |v| self.masked(v, None))?;
                }
                Value::Map(updated)
            }
            (None, other) => return Err(only_maps(PURPOSE, type_of(other))),
            (Some(_), Value::Struct(s)) => {
                let mut updated = Struct::new(s.schema().clone());
                copy_fields(
                    s,
                    &mut updated,
                    self.replace_null_with_default,
                    |field, original| {
                        if self.fields.contains(&field.name) {
                            self.masked(original, field.schema.decimal_scale())
                        } else {
                            Ok(original.clone())
                        }
                    },
                )?;
                Value::Struct(updated)
            }
            (Some(_), other) => return Err(only_structs(PURPOSE, type_of(other))),
        };
        Ok(Some(part.set(record, schema, updated)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::config::props_of;
    use crate::connect::{SchemaBuilder, SchemaRef};
    use crate::transforms::testing::{self, assert_config_key, defaulted_int32};

    fn schema() -> SchemaRef {
        SchemaBuilder::struct_()
            .field("magic", SchemaBuilder::int32().build())
            .field("bool", SchemaBuilder::boolean().build())
            .field("byte", SchemaBuilder::int8().build())
            .field("short", SchemaBuilder::int16().build())
            .field("int", SchemaBuilder::int32().build())
            .field("long", SchemaBuilder::int64().build())
            .field("float", SchemaBuilder::float32().build())
            .field("double", SchemaBuilder::float64().build())
            .field("string", SchemaBuilder::string().build())
            .field("date", SchemaBuilder::date().build())
            .field("time", SchemaBuilder::time().build())
            .field("timestamp", SchemaBuilder::timestamp().build())
            .field("decimal", SchemaBuilder::decimal(0).build())
            .field(
                "array",
                SchemaBuilder::array(SchemaBuilder::int32().build()).build(),
            )
            .field(
                "map",
                SchemaBuilder::map(
                    SchemaBuilder::string().build(),
                    SchemaBuilder::string().build(),
                )
                .build(),
            )
            .build()
    }

    fn values_with_schema() -> Struct {
        let mut s = Struct::new(schema());
        for (k, v) in [
            ("magic", Value::Int32(42)),
            ("bool", Value::Boolean(true)),
            ("byte", Value::Int8(42)),
            ("short", Value::Int16(42)),
            ("int", Value::Int32(42)),
            ("long", Value::Int64(42)),
            ("float", Value::Float32(42.0)),
            ("double", Value::Float64(42.0)),
            ("string", Value::from("hmm")),
            ("date", Value::Date(19_000)),
            ("time", Value::Time(1_000)),
            ("timestamp", Value::Timestamp(1_700_000_000_000)),
            ("decimal", Value::Decimal(Decimal::new(42, 0))),
            (
                "array",
                Value::Array(vec![1i32.into(), 2i32.into(), 3i32.into()]),
            ),
            ("map", Value::Map(vec![("what".into(), "what".into())])),
        ] {
            s.set(k, v).unwrap();
        }
        s
    }

    fn values() -> Value {
        Value::Map(
            [
                ("magic", Value::Int32(42)),
                ("bool", Value::Boolean(true)),
                ("byte", Value::Int8(42)),
                ("short", Value::Int16(42)),
                ("int", Value::Int32(42)),
                ("long", Value::Int64(42)),
                ("float", Value::Float32(42.0)),
                ("double", Value::Float64(42.0)),
                ("string", Value::from("55.121.20.20")),
                ("date", Value::Timestamp(1_700_000_000_000)),
                ("bigdec", Value::Decimal(Decimal::parse("42.0").unwrap())),
                ("list", Value::Array(vec![42i32.into()])),
                ("map", Value::Map(vec![("key".into(), "value".into())])),
            ]
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
        )
    }

    fn transform(
        part: Part,
        fields: &[&str],
        replacement: Option<&str>,
    ) -> Result<MaskField, ConnectError> {
        let joined = fields.join(",");
        let mut pairs = vec![("fields", joined.as_str())];
        if let Some(r) = replacement {
            pairs.push(("replacement", r));
        }
        let mut xform = MaskField::new(part);
        xform.configure(&props_of(&pairs))?;
        Ok(xform)
    }

    fn get<'a>(value: &'a Value, key: &str) -> &'a Value {
        testing::get(value, key).unwrap()
    }

    fn schemaless_with(fields: &[&str], replacement: &str) -> Result<Value, TransformError> {
        let xform = transform(Part::Value, fields, Some(replacement)).unwrap();
        Ok(xform
            .apply(ConnectRecord::new("", None, values()))?
            .unwrap()
            .value)
    }

    fn with_schema_with(field: &str, replacement: &str) -> Result<Value, TransformError> {
        let xform = transform(Part::Value, &[field], Some(replacement)).unwrap();
        let out = xform
            .apply(ConnectRecord::new(
                "",
                Some(schema()),
                values_with_schema().into(),
            ))?
            .unwrap();
        Ok(out.value.as_struct().unwrap().get(field).unwrap().clone())
    }

    // MaskFieldTest.testSchemaless
    #[test]
    fn schemaless() {
        let fields = [
            "bool", "byte", "short", "int", "long", "float", "double", "string", "date", "bigdec",
            "list", "map",
        ];
        let xform = transform(Part::Value, &fields, None).unwrap();
        let out = xform
            .apply(ConnectRecord::new("", None, values()))
            .unwrap()
            .unwrap()
            .value;
        assert_eq!(get(&out, "magic"), &Value::Int32(42));
        assert_eq!(get(&out, "bool"), &Value::Boolean(false));
        assert_eq!(get(&out, "byte"), &Value::Int8(0));
        assert_eq!(get(&out, "short"), &Value::Int16(0));
        assert_eq!(get(&out, "int"), &Value::Int32(0));
        assert_eq!(get(&out, "long"), &Value::Int64(0));
        assert_eq!(get(&out, "float"), &Value::Float32(0.0));
        assert_eq!(get(&out, "double"), &Value::Float64(0.0));
        assert_eq!(get(&out, "string"), &Value::from(""));
        assert_eq!(get(&out, "date"), &Value::Timestamp(0));
        assert_eq!(get(&out, "bigdec"), &Value::Decimal(Decimal::new(0, 1)));
        assert_eq!(get(&out, "list"), &Value::Array(vec![]));
        assert_eq!(get(&out, "map"), &Value::Map(vec![]));
    }

    // MaskFieldTest.testWithSchema
    #[test]
    fn with_schema() {
        let all: Vec<String> = schema()
            .fields
            .iter()
            .map(|f| f.name.clone())
            .filter(|n| n != "magic")
            .collect();
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let xform = transform(Part::Value, &all, None).unwrap();
        let out = xform
            .apply(ConnectRecord::new(
                "",
                Some(schema()),
                values_with_schema().into(),
            ))
            .unwrap()
            .unwrap();
        assert_eq!(out.value_schema, Some(schema()));
        let s = out.value.as_struct().unwrap();
        let expect = [
            ("magic", Value::Int32(42)),
            ("bool", Value::Boolean(false)),
            ("byte", Value::Int8(0)),
            ("short", Value::Int16(0)),
            ("int", Value::Int32(0)),
            ("long", Value::Int64(0)),
            ("float", Value::Float32(0.0)),
            ("double", Value::Float64(0.0)),
            ("string", Value::from("")),
            ("date", Value::Date(0)),
            ("time", Value::Time(0)),
            ("timestamp", Value::Timestamp(0)),
            ("decimal", Value::Decimal(Decimal::new(0, 0))),
            ("array", Value::Array(vec![])),
            ("map", Value::Map(vec![])),
        ];
        for (k, v) in expect {
            assert_eq!(s.get(k), Some(&v), "{k}");
        }
    }

    // MaskFieldTest.testSchemalessWithReplacement
    #[test]
    fn schemaless_with_replacement() {
        for (field, replacement, expected) in [
            ("short", "123", Value::Int16(123)),
            ("byte", "123", Value::Int8(123)),
            ("int", "123", Value::Int32(123)),
            ("long", "123", Value::Int64(123)),
            ("float", "123.0", Value::Float32(123.0)),
            ("double", "123.0", Value::Float64(123.0)),
            ("string", "123", Value::from("123")),
            ("bigdec", "123.0", Value::Decimal(Decimal::new(1230, 1))),
        ] {
            let out = schemaless_with(&[field], replacement).unwrap();
            assert_eq!(get(&out, field), &expected, "{field}");
        }
    }

    // MaskFieldTest.testSchemalessUnsupportedReplacementType
    #[test]
    fn schemaless_unsupported_replacement_type() {
        for fields in [
            &["date"][..],
            &["int", "date"],
            &["bool"],
            &["list"],
            &["map"],
        ] {
            let err = schemaless_with(fields, "123").unwrap_err();
            assert!(
                err.message.starts_with("Cannot mask value of type"),
                "{}",
                err.message
            );
        }
    }

    // MaskFieldTest.testWithSchemaAndReplacement
    #[test]
    fn with_schema_and_replacement() {
        for (field, replacement, expected) in [
            ("short", "123", Value::Int16(123)),
            ("byte", "123", Value::Int8(123)),
            ("int", "123", Value::Int32(123)),
            ("long", "123", Value::Int64(123)),
            ("float", "123.0", Value::Float32(123.0)),
            ("double", "123.0", Value::Float64(123.0)),
            ("string", "123", Value::from("123")),
            // Java keeps BigDecimal("123.0") (scale 1); here it is rescaled
            // to the field's Decimal(0) schema since that loses nothing.
            ("decimal", "123.0", Value::Decimal(Decimal::new(123, 0))),
        ] {
            assert_eq!(
                with_schema_with(field, replacement).unwrap(),
                expected,
                "{field}"
            );
        }
    }

    // MaskFieldTest.testWithSchemaUnsupportedReplacementType
    #[test]
    fn with_schema_unsupported_replacement_type() {
        for field in ["time", "timestamp", "array"] {
            let err = with_schema_with(field, "123").unwrap_err();
            assert!(
                err.message.starts_with("Cannot mask value of type"),
                "{}",
                err.message
            );
        }
    }

    // MaskFieldTest.testReplacementTypeMismatch
    #[test]
    fn replacement_type_mismatch() {
        for fields in [
            &["byte"][..],
            &["short"],
            &["int"],
            &["long"],
            &["float"],
            &["double"],
            &["bigdec"],
            &["string", "int"],
        ] {
            let err = schemaless_with(fields, "foo").unwrap_err();
            assert_eq!(
                err.message,
                "Unable to convert foo (class java.lang.String) to number"
            );
        }
    }

    // MaskFieldTest.testEmptyStringReplacementValue
    #[test]
    fn empty_string_replacement_value() {
        let err = transform(Part::Value, &["short"], Some("")).err().unwrap();
        assert!(
            matches!(err, ConnectError::Config { ref key, ref message } if key == "replacement" && message.contains("String must be non-empty")),
            "{err}"
        );
    }

    // MaskField's NonEmptyListValidator on `fields`; required key.
    #[test]
    fn fields_must_be_a_non_empty_list() {
        let err = transform(Part::Value, &[], None).err().unwrap();
        assert!(
            matches!(err, ConnectError::Config { ref key, ref message } if key == "fields" && message.contains("Empty list")),
            "{err}"
        );
        let mut xform = MaskField::new(Part::Value);
        let err = xform.configure(&props_of(&[])).unwrap_err();
        assert_config_key(&err, "fields");
    }

    // MaskField.Key, plus bytes (not in Java's mask mapping) and null keys.
    #[test]
    fn key_variant_and_unmaskable_bytes() {
        let xform = transform(Part::Key, &["a"], None).unwrap();
        let key = Value::Map(vec![
            ("a".into(), "secret".into()),
            ("b".into(), 1i32.into()),
        ]);
        let out = xform
            .apply(ConnectRecord::new("t", None, "v".into()).with_key(None, key))
            .unwrap()
            .unwrap();
        assert_eq!(
            out.key,
            Value::Map(vec![("a".into(), "".into()), ("b".into(), 1i32.into())])
        );
        assert_eq!(out.value, Value::from("v"));
        let r = ConnectRecord::new("t", None, "v".into());
        assert_eq!(xform.apply(r.clone()).unwrap(), Some(r));
        let key = Value::Map(vec![("a".into(), Value::Bytes(vec![1]))]);
        let err = xform
            .apply(ConnectRecord::new("t", None, Value::Null).with_key(None, key))
            .unwrap_err();
        assert_eq!(err.message, "Cannot mask value of type: BYTES");
    }

    // KIP-1040: with replace.null.with.default=false a null field with a
    // default stays null instead of being masked from its default.
    #[test]
    fn replace_null_with_default() {
        let schema = SchemaBuilder::struct_()
            .field("n", defaulted_int32(5))
            .field("keep", defaulted_int32(6))
            .build();
        let r = ConnectRecord::new("t", Some(schema.clone()), Struct::new(schema).into());
        let with = transform(Part::Value, &["n"], None).unwrap();
        let out = with.apply(r.clone()).unwrap().unwrap();
        let s = out.value.as_struct().unwrap();
        assert_eq!(s.raw_values(), [Value::Int32(0), Value::Int32(6)]);
        let mut without = MaskField::new(Part::Value);
        without
            .configure(&props_of(&[
                ("fields", "n"),
                ("replace.null.with.default", "false"),
            ]))
            .unwrap();
        let out = without.apply(r).unwrap().unwrap();
        assert_eq!(
            out.value.as_struct().unwrap().raw_values(),
            [Value::Null, Value::Null]
        );
    }

    #[test]
    fn registered_under_java_names() {
        for name in [
            "org.apache.kafka.connect.transforms.MaskField$Key",
            "org.apache.kafka.connect.transforms.MaskField$Value",
            "MaskField$Key",
        ] {
            assert!(crate::transforms::find_transform(name).is_some(), "{name}");
        }
    }
}
