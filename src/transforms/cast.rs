//! `Cast$Key` / `Cast$Value`: cast fields, or the whole key or value, to
//! another primitive type, like `org.apache.kafka.connect.transforms.Cast`.
//!
//! `spec` is either one type (`int32`: cast the whole key/value) or
//! `field:type` pairs (cast those fields of a Struct or Map). Targets are
//! `int8`, `int16`, `int32`, `int64`, `float32`, `float64`, `boolean` and
//! `string`; sources are those plus `bytes` (to string only, as base64), and
//! the logical types: Decimal casts as a number, Date/Time/Timestamp as their
//! integer encoding, or to strings formatted as Java's
//! `Values.dateFormatFor` does. Numbers narrow like Java's `Number.xxxValue()`
//! (wrapping; floats truncate toward zero and saturate), strings parse like
//! `Integer.parseInt` / `Double.parseDouble`, booleans are 1/0.
//!
//! Cast fields keep their optionality and get their default cast too; other
//! fields keep their schema. Null keys/values pass through unchanged.

use std::sync::Arc;

use base64::Engine;
use num_bigint::BigInt;

use crate::connect::config::{ConfigDef, ConfigType, Importance, Props};
use crate::connect::data::{java_double_to_string, java_float_to_string, logical};
use crate::connect::transform::{Transform, TransformError};
use crate::connect::{
    ConnectError, ConnectRecord, Decimal, Field, Schema, SchemaRef, SchemaType, Struct, Value,
};

use super::timestamp_converter::{civil_from_days, MILLIS_PER_DAY};
use super::util::{
    copy_fields, copy_schema_basics, key_value_plugins, map_update, only_maps, only_structs,
    ConfigDefExt, Part, SchemaCache,
};
use super::TransformPlugin;

pub const PLUGINS: &[TransformPlugin] = key_value_plugins!(Cast);

pub const SPEC_CONFIG: &str = "spec";
pub use super::util::REPLACE_NULL_WITH_DEFAULT_CONFIG;

const PURPOSE: &str = "cast types";

/// The keys of `Cast`, as Java declares them.
pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            SPEC_CONFIG,
            ConfigType::List,
            None,
            Importance::High,
            "List of fields and the type to cast them to of the form field1:type,field2:type to \
             cast fields of Maps or Structs. A single type to cast the entire value. Valid types \
             are int8, int16, int32, int64, float32, float64, boolean, and string. Note that \
             binary fields can only be cast to string.",
        )
        .define_replace_null_with_default()
}

/// Java's `Schema.Type` constant names, as its messages print them.
fn java_type_name(t: SchemaType) -> &'static str {
    match t {
        SchemaType::Int8 => "INT8",
        SchemaType::Int16 => "INT16",
        SchemaType::Int32 => "INT32",
        SchemaType::Int64 => "INT64",
        SchemaType::Float32 => "FLOAT32",
        SchemaType::Float64 => "FLOAT64",
        SchemaType::Boolean => "BOOLEAN",
        SchemaType::String => "STRING",
        SchemaType::Bytes => "BYTES",
        SchemaType::Array => "ARRAY",
        SchemaType::Map => "MAP",
        SchemaType::Struct => "STRUCT",
    }
}

const ALL_TYPES: [SchemaType; 12] = [
    SchemaType::Int8,
    SchemaType::Int16,
    SchemaType::Int32,
    SchemaType::Int64,
    SchemaType::Float32,
    SchemaType::Float64,
    SchemaType::Boolean,
    SchemaType::String,
    SchemaType::Bytes,
    SchemaType::Array,
    SchemaType::Map,
    SchemaType::Struct,
];

/// `SUPPORTED_CAST_INPUT_TYPES`; the outputs are the same less BYTES.
const INPUT_TYPES: [SchemaType; 9] = [
    SchemaType::Int8,
    SchemaType::Int16,
    SchemaType::Int32,
    SchemaType::Int64,
    SchemaType::Float32,
    SchemaType::Float64,
    SchemaType::Boolean,
    SchemaType::String,
    SchemaType::Bytes,
];

fn type_list(types: &[SchemaType]) -> String {
    let names: Vec<_> = types.iter().map(|t| java_type_name(*t)).collect();
    format!("[{}]", names.join(", "))
}

/// A type values can be cast to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Boolean,
    String,
}

impl Target {
    /// `Schema.Type.valueOf(name.trim().toUpperCase())`, then Java's
    /// `validCastType(type, OUTPUT)`.
    fn parse(name: &str) -> Result<Target, String> {
        let upper = name.trim().to_ascii_uppercase();
        let ty = ALL_TYPES
            .into_iter()
            .find(|t| java_type_name(*t) == upper)
            .ok_or_else(|| format!("Invalid type found in casting spec: {}", name.trim()))?;
        Ok(match ty {
            SchemaType::Int8 => Target::Int8,
            SchemaType::Int16 => Target::Int16,
            SchemaType::Int32 => Target::Int32,
            SchemaType::Int64 => Target::Int64,
            SchemaType::Float32 => Target::Float32,
            SchemaType::Float64 => Target::Float64,
            SchemaType::Boolean => Target::Boolean,
            SchemaType::String => Target::String,
            other => {
                return Err(format!(
                    "Cast transformation does not support casting to {}; supported types are {}",
                    java_type_name(other),
                    type_list(&INPUT_TYPES[..8])
                ))
            }
        })
    }

    fn schema_type(self) -> SchemaType {
        match self {
            Target::Int8 => SchemaType::Int8,
            Target::Int16 => SchemaType::Int16,
            Target::Int32 => SchemaType::Int32,
            Target::Int64 => SchemaType::Int64,
            Target::Float32 => SchemaType::Float32,
            Target::Float64 => SchemaType::Float64,
            Target::Boolean => SchemaType::Boolean,
            Target::String => SchemaType::String,
        }
    }
}

/// Java's `parseFieldTypes`: the whole-value target, or the field targets.
#[derive(Debug, Clone, PartialEq)]
enum Spec {
    Whole(Target),
    Fields(Vec<(String, Target)>),
}

fn parse_spec(items: &[String]) -> Result<Spec, String> {
    if items.is_empty() {
        return Err("Must specify at least one field to cast.".into());
    }
    let mut whole = None;
    let mut fields: Vec<(String, Target)> = Vec::new();
    for mapping in items {
        // String.split(":") drops trailing empty parts.
        let mut parts: Vec<&str> = mapping.split(':').collect();
        while parts.len() > 1 && parts.last() == Some(&"") {
            parts.pop();
        }
        match parts[..] {
            [ty] => whole = Some(Target::parse(ty)?),
            [field, ty] => {
                let (field, target) = (field.trim().to_owned(), Target::parse(ty)?);
                match fields.iter_mut().find(|(f, _)| *f == field) {
                    Some(entry) => entry.1 = target,
                    None => fields.push((field, target)),
                }
            }
            _ => return Err(format!("Invalid cast mapping: {mapping}")),
        }
    }
    match whole {
        Some(_) if items.len() > 1 => Err(
            "Cast transformations that specify a type to cast the entire value to may only \
             specify a single cast in their spec"
                .into(),
        ),
        Some(target) => Ok(Spec::Whole(target)),
        None => Ok(Spec::Fields(fields)),
    }
}

/// What a value is, for messages: its schema type, or its logical type.
fn kind(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Decimal(_) => "Decimal".into(),
        Value::Date(_) => "Date".into(),
        Value::Time(_) => "Time".into(),
        Value::Timestamp(_) => "Timestamp".into(),
        other => other
            .schema_type()
            .map_or_else(|| "null".to_owned(), |t| java_type_name(t).to_owned()),
    }
}

/// A number, as Java's `Number` subclasses the casts read.
enum Num {
    Int(i64),
    F32(f32),
    F64(f64),
    Dec(Decimal),
}

impl Num {
    fn of(value: &Value) -> Option<Num> {
        Some(match value {
            Value::Int8(v) => Num::Int(i64::from(*v)),
            Value::Int16(v) => Num::Int(i64::from(*v)),
            Value::Int32(v) => Num::Int(i64::from(*v)),
            Value::Int64(v) => Num::Int(*v),
            Value::Float32(v) => Num::F32(*v),
            Value::Float64(v) => Num::F64(*v),
            Value::Decimal(d) => Num::Dec(d.clone()),
            _ => return None,
        })
    }

    /// `longValue()`: floats truncate and saturate (NaN is 0), BigDecimal
    /// keeps the low 64 bits of its integer part.
    fn long(&self) -> i64 {
        match self {
            Num::Int(v) => *v,
            Num::F32(f) => *f as i64,
            Num::F64(d) => *d as i64,
            Num::Dec(d) => decimal_low_bits(d),
        }
    }

    /// `intValue()`; `shortValue()` and `byteValue()` narrow this further.
    fn int(&self) -> i32 {
        match self {
            Num::Int(v) => *v as i32,
            Num::F32(f) => *f as i32,
            Num::F64(d) => *d as i32,
            Num::Dec(d) => decimal_low_bits(d) as i32,
        }
    }

    fn float(&self) -> f32 {
        match self {
            Num::Int(v) => *v as f32,
            Num::F32(f) => *f,
            Num::F64(d) => *d as f32,
            Num::Dec(d) => d.to_string().parse().unwrap_or(0.0),
        }
    }

    fn double(&self) -> f64 {
        match self {
            Num::Int(v) => *v as f64,
            Num::F32(f) => f64::from(*f),
            Num::F64(d) => *d,
            Num::Dec(d) => d.to_string().parse().unwrap_or(0.0),
        }
    }
}

/// The low 64 bits of a decimal's integer part (truncated toward zero), as
/// `BigDecimal.longValue()` gives them.
fn decimal_low_bits(d: &Decimal) -> i64 {
    let ten = BigInt::from(10u8);
    let integer = if d.scale >= 0 {
        &d.unscaled / ten.pow(d.scale.unsigned_abs())
    } else {
        &d.unscaled * ten.pow(d.scale.unsigned_abs())
    };
    let modulus = BigInt::from(u64::MAX) + 1u8;
    let low = ((integer % &modulus) + &modulus) % &modulus;
    u64::try_from(&low).unwrap_or(0) as i64
}

/// `BigDecimal.toString()`: plain unless the scale is negative or the
/// number is smaller than 1e-6, then scientific (`1.23E+5`, `1E-7`).
fn big_decimal_to_string(d: &Decimal) -> String {
    let digits = d.unscaled.magnitude().to_string();
    let adjusted = -i64::from(d.scale) + (digits.len() as i64 - 1);
    if d.scale >= 0 && adjusted >= -6 {
        return d.to_string();
    }
    let sign = if d.unscaled.sign() == num_bigint::Sign::Minus {
        "-"
    } else {
        ""
    };
    let (first, rest) = digits.split_at(1);
    let fraction = if rest.is_empty() {
        String::new()
    } else {
        format!(".{rest}")
    };
    let exp_sign = if adjusted >= 0 { "+" } else { "" };
    format!("{sign}{first}{fraction}E{exp_sign}{adjusted}")
}

/// Java's `Values.dateFormatFor(date).format(date)` in UTC: a time of day
/// below one day, a date on whole days, a timestamp otherwise.
fn java_date_string(ms: i64) -> String {
    let in_day = ms.rem_euclid(MILLIS_PER_DAY);
    let time = format!(
        "{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    );
    if ms < MILLIS_PER_DAY {
        return time;
    }
    let (y, m, d) = civil_from_days(ms.div_euclid(MILLIS_PER_DAY));
    let date = format!("{y:04}-{m:02}-{d:02}");
    if ms % MILLIS_PER_DAY == 0 {
        date
    } else {
        format!("{date}T{time}")
    }
}

/// `Double.parseDouble` / `Float.parseFloat` text: surrounding whitespace,
/// an optional sign, `NaN`, `Infinity`, and an optional `f`/`d` suffix.
fn java_float_text(s: &str) -> Option<(bool, &str)> {
    let t = s.trim_matches(|c: char| c <= ' ');
    let (negative, body) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if body == "NaN" || body == "Infinity" {
        return Some((negative, body));
    }
    let body = body.strip_suffix(['f', 'F', 'd', 'D']).unwrap_or(body);
    let numeric = !body.is_empty()
        && body.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
    numeric.then_some((negative, body))
}

fn parse_java_double(s: &str) -> Option<f64> {
    let (negative, body) = java_float_text(s)?;
    let v = match body {
        "NaN" => f64::NAN,
        "Infinity" => f64::INFINITY,
        _ => body.parse().ok()?,
    };
    Some(if negative { -v } else { v })
}

fn parse_java_float(s: &str) -> Option<f32> {
    let (negative, body) = java_float_text(s)?;
    let v = match body {
        "NaN" => f32::NAN,
        "Infinity" => f32::INFINITY,
        _ => body.parse().ok()?,
    };
    Some(if negative { -v } else { v })
}

/// Java's `castValueToType`. `schema` is `None` for schemaless data.
fn cast_value(
    schema: Option<&Schema>,
    value: &Value,
    target: Target,
) -> Result<Value, TransformError> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    let inferred = match schema {
        Some(s) => Some(s.schema_type),
        // ConnectSchema.schemaType(value.getClass()): BigDecimal and Date
        // are not Connect's own classes.
        None => match value {
            Value::Decimal(_) | Value::Date(_) | Value::Time(_) | Value::Timestamp(_) => None,
            other => other.schema_type(),
        },
    };
    let Some(inferred) = inferred else {
        return Err(TransformError::new(format!(
            "Cast transformation was passed a value of type {} which is not supported by \
             Connect's data API",
            kind(value)
        )));
    };
    if !INPUT_TYPES.contains(&inferred) {
        return Err(TransformError::new(format!(
            "Cast transformation does not support casting from {}; supported types are {}",
            java_type_name(inferred),
            type_list(&INPUT_TYPES)
        )));
    }
    let out_of_range = || {
        TransformError::new(format!(
            "Value ({}) was out of range for requested data type",
            value.to_java_string()
        ))
    };
    let unexpected = |v: &Value| {
        TransformError::new(format!(
            "Unexpected type in Cast transformation: {}",
            kind(v)
        ))
    };
    if target == Target::String {
        return cast_to_string(value).ok_or_else(|| unexpected(value));
    }
    // Logical types are cast from their internal representation.
    let encoded = match value {
        Value::Date(d) | Value::Time(d) if schema.is_some_and(|s| s.name.is_some()) => {
            Value::Int32(*d)
        }
        Value::Timestamp(t) if schema.is_some_and(|s| s.name.is_some()) => Value::Int64(*t),
        other => other.clone(),
    };
    let num = Num::of(&encoded);
    Ok(match (&encoded, target) {
        (Value::Boolean(b), Target::Boolean) => Value::Boolean(*b),
        (Value::Boolean(b), t) => {
            let one = i64::from(*b);
            return cast_value(None, &Value::Int64(one), t);
        }
        (Value::String(s), Target::Boolean) => Value::Boolean(s.eq_ignore_ascii_case("true")),
        (Value::String(s), Target::Int8) => Value::Int8(s.parse().map_err(|_| out_of_range())?),
        (Value::String(s), Target::Int16) => Value::Int16(s.parse().map_err(|_| out_of_range())?),
        (Value::String(s), Target::Int32) => Value::Int32(s.parse().map_err(|_| out_of_range())?),
        (Value::String(s), Target::Int64) => Value::Int64(s.parse().map_err(|_| out_of_range())?),
        (Value::String(s), Target::Float32) => {
            Value::Float32(parse_java_float(s).ok_or_else(out_of_range)?)
        }
        (Value::String(s), Target::Float64) => {
            Value::Float64(parse_java_double(s).ok_or_else(out_of_range)?)
        }
        (_, t) => {
            let Some(n) = num else {
                return Err(unexpected(&encoded));
            };
            match t {
                Target::Int8 => Value::Int8(n.int() as i8),
                Target::Int16 => Value::Int16(n.int() as i16),
                Target::Int32 => Value::Int32(n.int()),
                Target::Int64 => Value::Int64(n.long()),
                Target::Float32 => Value::Float32(n.float()),
                Target::Float64 => Value::Float64(n.double()),
                Target::Boolean => Value::Boolean(n.long() != 0),
                Target::String => unreachable!("handled above"),
            }
        }
    })
}

/// Java's `castToString`: `toString()`, dates formatted, bytes in base64.
fn cast_to_string(value: &Value) -> Option<Value> {
    Some(Value::String(match value {
        Value::Int8(v) => v.to_string(),
        Value::Int16(v) => v.to_string(),
        Value::Int32(v) => v.to_string(),
        Value::Int64(v) => v.to_string(),
        Value::Float32(v) => java_float_to_string(*v),
        Value::Float64(v) => java_double_to_string(*v),
        Value::Boolean(v) => v.to_string(),
        Value::String(s) => s.clone(),
        Value::Bytes(b) => base64::engine::general_purpose::STANDARD.encode(b),
        Value::Decimal(d) => big_decimal_to_string(d),
        Value::Date(days) => java_date_string(i64::from(*days) * MILLIS_PER_DAY),
        Value::Time(ms) => java_date_string(i64::from(*ms)),
        Value::Timestamp(ms) => java_date_string(*ms),
        _ => return None,
    }))
}

fn is_logical(schema: &Schema) -> bool {
    [
        logical::DECIMAL,
        logical::DATE,
        logical::TIME,
        logical::TIMESTAMP,
    ]
    .iter()
    .any(|n| schema.is_logical(n))
}

/// `Cast$Key` or `Cast$Value`.
pub struct Cast {
    part: Part,
    spec: Spec,
    replace_null_with_default: bool,
    /// Updated schemas by original schema.
    cache: SchemaCache,
}

impl Cast {
    pub fn new(part: Part) -> Self {
        Cast {
            part,
            spec: Spec::Fields(Vec::new()),
            replace_null_with_default: true,
            cache: SchemaCache::new(),
        }
    }

    fn field_target(&self, name: &str) -> Option<Target> {
        match &self.spec {
            Spec::Whole(_) => None,
            Spec::Fields(fields) => fields.iter().find(|(f, _)| f == name).map(|(_, t)| *t),
        }
    }

    /// Java's `getOrBuildSchema`.
    fn updated_schema(&self, schema: &SchemaRef) -> Result<SchemaRef, TransformError> {
        self.cache
            .get_or_try_insert(schema, || self.build_schema(schema).map(Arc::new))
    }

    fn build_schema(&self, schema: &Schema) -> Result<Schema, TransformError> {
        Ok(match &self.spec {
            Spec::Whole(target) => {
                let mut updated = Schema::new(target.schema_type());
                updated.doc = schema.doc.clone();
                // Java copies name, version and parameters too, which turns
                // e.g. a Timestamp cast to int64 into an INT64 schema still
                // named Timestamp; a logical type's name is dropped here.
                if !is_logical(schema) {
                    updated.name = schema.name.clone();
                    updated.version = schema.version;
                    updated.parameters = schema.parameters.clone();
                }
                updated.optional = schema.optional;
                if let Some(default) = &schema.default {
                    updated.default = Some(cast_value(Some(schema), default, *target)?);
                }
                updated
            }
            Spec::Fields(_) => {
                if schema.schema_type != SchemaType::Struct {
                    return Err(TransformError::new("Cannot list fields on non-struct type"));
                }
                let mut updated = copy_schema_basics(schema, SchemaType::Struct);
                updated.optional = schema.optional;
                // A struct default is not carried over (Java fails casting
                // it: STRUCT is not a cast input type).
                for field in &schema.fields {
                    let field_schema = match self.field_target(&field.name) {
                        Some(target) => {
                            let mut cast = Schema::new(target.schema_type());
                            cast.optional = field.schema.optional;
                            if let Some(default) = &field.schema.default {
                                cast.default =
                                    Some(cast_value(Some(&field.schema), default, target)?);
                            }
                            Arc::new(cast)
                        }
                        None => field.schema.clone(),
                    };
                    updated.fields.push(Field {
                        name: field.name.clone(),
                        index: field.index,
                        schema: field_schema,
                    });
                }
                updated
            }
        })
    }
}

impl Transform for Cast {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, props: &Props) -> Result<(), ConnectError> {
        let config = config_def().parse(props)?;
        self.spec = parse_spec(&config.list(SPEC_CONFIG)?).map_err(|why| {
            ConnectError::config(
                SPEC_CONFIG,
                format!(
                    "Invalid value {} for configuration {SPEC_CONFIG}: {why}",
                    props.get(SPEC_CONFIG).map_or("", String::as_str)
                ),
            )
        })?;
        self.replace_null_with_default = config.boolean(REPLACE_NULL_WITH_DEFAULT_CONFIG)?;
        self.cache.clear();
        Ok(())
    }

    fn apply(&self, record: ConnectRecord) -> Result<Option<ConnectRecord>, TransformError> {
        let part = self.part;
        let value = part.value(&record);
        if value.is_null() {
            return Ok(Some(record));
        }
        let schema = part.schema(&record).cloned();
        let (schema, updated) = match (&self.spec, schema) {
            (Spec::Whole(target), None) => (None, cast_value(None, value, *target)?),
            (Spec::Fields(fields), None) => {
                let Value::Map(entries) = value else {
                    return Err(only_maps(PURPOSE, kind(value)));
                };
                let mut updated = entries.clone();
                for (field, target) in fields {
                    // Java puts the cast of a missing field: null.
                    map_update(&mut updated, field, |v| cast_value(None, v, *target))?;
                }
                (None, Value::Map(updated))
            }
            (Spec::Whole(target), Some(schema)) => {
                let updated_schema = self.updated_schema(&schema)?;
                let cast = cast_value(Some(&schema), value, *target)?;
                (Some(updated_schema), cast)
            }
            (Spec::Fields(_), Some(schema)) => {
                let Value::Struct(s) = value else {
                    return Err(only_structs(PURPOSE, kind(value)));
                };
                let updated_schema = self.updated_schema(&schema)?;
                let mut updated = Struct::new(updated_schema.clone());
                copy_fields(
                    s,
                    &mut updated,
                    self.replace_null_with_default,
                    |field, original| match self.field_target(&field.name) {
                        Some(target) => cast_value(Some(&field.schema), original, target),
                        None => Ok(original.clone()),
                    },
                )?;
                (Some(updated_schema), Value::Struct(updated))
            }
        };
        Ok(Some(part.set(record, schema, updated)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::config::props_of;
    use crate::connect::SchemaBuilder;
    use crate::transforms::testing::{assert_config_key, defaulted_int32, map};

    const MILLIS_PER_HOUR: i64 = 3_600_000;

    fn configured(part: Part, spec: &str) -> Cast {
        let mut xform = Cast::new(part);
        xform.configure(&props_of(&[("spec", spec)])).unwrap();
        xform
    }

    fn config_error(spec: &str) -> String {
        let mut xform = Cast::new(Part::Key);
        match xform.configure(&props_of(&[("spec", spec)])) {
            Err(ConnectError::Config { key, message }) => {
                assert_eq!(key, "spec");
                message
            }
            other => panic!("expected a config error for {spec:?}, got {other:?}"),
        }
    }

    fn whole_value(spec: &str, schema: Option<SchemaRef>, value: Value) -> ConnectRecord {
        configured(Part::Value, spec)
            .apply(ConnectRecord::new("topic", schema, value))
            .unwrap()
            .unwrap()
    }

    fn int32() -> SchemaRef {
        SchemaBuilder::int32().build()
    }

    // CastTest.testConfigEmpty, testConfigInvalidSchemaType,
    // testConfigInvalidTargetType, testUnsupportedTargetType,
    // testConfigInvalidMap, testConfigMixWholeAndFieldTransformation
    #[test]
    fn config_errors_name_the_key() {
        assert!(config_error("").contains("Must specify at least one field to cast."));
        assert!(
            config_error("foo:faketype").contains("Invalid type found in casting spec: faketype")
        );
        assert!(config_error("foo:array").contains(
            "Cast transformation does not support casting to ARRAY; supported types are [INT8, \
             INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING]"
        ));
        assert!(config_error("foo:bytes").contains("does not support casting to BYTES"));
        assert!(config_error("foo:int8:extra").contains("Invalid cast mapping: foo:int8:extra"));
        assert!(config_error("foo:int8,int32").contains("may only specify a single cast"));
        let mut xform = Cast::new(Part::Value);
        let err = xform
            .configure(&props_of(&[
                ("spec", "int8"),
                ("replace.null.with.default", "nah"),
            ]))
            .unwrap_err();
        assert_config_key(&err, "replace.null.with.default");
        let err = xform.configure(&props_of(&[])).unwrap_err();
        assert_config_key(&err, "spec");
    }

    // CastTest.castNullValueRecordWithSchema, castNullValueRecordSchemaless,
    // castNullKeyRecordWithSchema, castNullKeyRecordSchemaless
    #[test]
    fn null_keys_and_values_pass_through() {
        let string = SchemaBuilder::string().build();
        let value_xform = configured(Part::Value, "foo:int64");
        for r in [
            ConnectRecord::new("topic", Some(string.clone()), Value::Null)
                .with_key(Some(string.clone()), "key".into()),
            ConnectRecord::new("topic", None, Value::Null)
                .with_key(Some(string.clone()), "key".into()),
        ] {
            assert_eq!(value_xform.apply(r.clone()).unwrap(), Some(r));
        }
        let key_xform = configured(Part::Key, "foo:int64");
        for r in [
            ConnectRecord::new("topic", Some(string.clone()), "value".into())
                .with_key(Some(string.clone()), Value::Null),
            ConnectRecord::new("topic", Some(string), "value".into()).with_key(None, Value::Null),
        ] {
            assert_eq!(key_xform.apply(r.clone()).unwrap(), Some(r));
        }
    }

    // CastTest.castWholeRecordKeyWithSchema
    #[test]
    fn whole_record_key_with_schema() {
        let xform = configured(Part::Key, "int8");
        let r = ConnectRecord::new(
            "topic",
            Some(SchemaBuilder::string().build()),
            "bogus".into(),
        )
        .with_key(Some(int32()), 42i32.into());
        let out = xform.apply(r).unwrap().unwrap();
        assert_eq!(out.key_schema.unwrap().schema_type, SchemaType::Int8);
        assert_eq!(out.key, Value::Int8(42));
        assert_eq!(out.value, Value::from("bogus"));
    }

    // CastTest.castWholeRecordValueWithSchemaInt8 … String, and the
    // Schemaless variants (castWholeRecordValueSchemalessInt8 … String,
    // castWholeRecordKeySchemaless)
    #[test]
    fn whole_record_value_with_and_without_schema() {
        let cases = [
            ("int8", Value::Int32(42), Value::Int8(42)),
            ("int16", Value::Int32(42), Value::Int16(42)),
            ("int32", Value::Int32(42), Value::Int32(42)),
            ("int64", Value::Int32(42), Value::Int64(42)),
            ("float32", Value::Int32(42), Value::Float32(42.0)),
            ("float64", Value::Int32(42), Value::Float64(42.0)),
            ("boolean", Value::Int32(42), Value::Boolean(true)),
            ("boolean", Value::Int32(0), Value::Boolean(false)),
            ("string", Value::Int32(42), Value::from("42")),
        ];
        for (spec, input, expected) in cases {
            let out = whole_value(spec, Some(int32()), input.clone());
            assert_eq!(out.value, expected, "{spec}");
            assert_eq!(
                out.value_schema.unwrap().schema_type,
                expected.schema_type().unwrap()
            );
            let out = whole_value(spec, None, input);
            assert_eq!(out.value_schema, None);
            assert_eq!(out.value, expected, "{spec} schemaless");
        }
        let out = configured(Part::Key, "int8")
            .apply(ConnectRecord::new("topic", None, Value::Null).with_key(None, 42i32.into()))
            .unwrap()
            .unwrap();
        assert_eq!((out.key_schema, out.key), (None, Value::Int8(42)));
    }

    // CastTest.castWholeBigDecimalRecordValueWithSchemaString
    #[test]
    fn whole_big_decimal_record_value_with_schema_string() {
        let out = whole_value(
            "string",
            Some(SchemaBuilder::decimal(0).build()),
            Value::Decimal(Decimal::new(42, 0)),
        );
        let schema = out.value_schema.unwrap();
        assert_eq!(schema.schema_type, SchemaType::String);
        assert_eq!(schema.name, None);
        assert_eq!(out.value, Value::from("42"));
    }

    // CastTest.castWholeDateRecordValueWithSchemaString
    #[test]
    fn whole_date_record_value_with_schema_string() {
        let out = whole_value(
            "string",
            Some(SchemaBuilder::timestamp().build()),
            Value::Timestamp(MILLIS_PER_DAY + 1),
        );
        assert_eq!(out.value_schema.unwrap().schema_type, SchemaType::String);
        assert_eq!(out.value, Value::from("1970-01-02T00:00:00.001Z"));
    }

    // CastTest.castWholeRecordDefaultValue
    #[test]
    fn whole_record_default_value() {
        let schema = SchemaBuilder::float32()
            .default_value(Value::Float32(-42.125))
            .build();
        let out = whole_value("int32", Some(schema), Value::Float32(42.125));
        let schema = out.value_schema.unwrap();
        assert_eq!(schema.schema_type, SchemaType::Int32);
        assert_eq!(out.value, Value::Int32(42));
        assert_eq!(schema.default, Some(Value::Int32(-42)));
    }

    // CastTest.castWholeRecordValueSchemalessUnsupportedType
    #[test]
    fn whole_record_value_schemaless_unsupported_type() {
        let err = configured(Part::Value, "int8")
            .apply(ConnectRecord::new(
                "topic",
                None,
                Value::Array(vec!["foo".into()]),
            ))
            .unwrap_err();
        assert_eq!(
            err.message,
            "Cast transformation does not support casting from ARRAY; supported types are [INT8, \
             INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING, BYTES]"
        );
    }

    // CastTest.castLogicalToPrimitive
    #[test]
    fn logical_to_primitive() {
        let xform = configured(
            Part::Value,
            "date_to_int32:int32,timestamp_to_int64:int64,time_to_int64:int64,\
             decimal_to_int32:int32,timestamp_to_float64:float64,null_timestamp_to_int32:int32",
        );
        let schema = SchemaBuilder::struct_()
            .field("date_to_int32", SchemaBuilder::date().build())
            .field("timestamp_to_int64", SchemaBuilder::timestamp().build())
            .field("time_to_int64", SchemaBuilder::time().build())
            .field("decimal_to_int32", SchemaBuilder::decimal(0).build())
            .field("timestamp_to_float64", SchemaBuilder::timestamp().build())
            .field(
                "null_timestamp_to_int32",
                SchemaBuilder::timestamp().optional().build(),
            )
            .build();
        let mut value = Struct::new(schema.clone());
        value.set("date_to_int32", Value::Date(1)).unwrap();
        value
            .set("timestamp_to_int64", Value::Timestamp(0))
            .unwrap();
        value.set("time_to_int64", Value::Time(1)).unwrap();
        value
            .set(
                "decimal_to_int32",
                Value::Decimal(Decimal::new(i64::from(i32::MAX) + 1, 0)),
            )
            .unwrap();
        value
            .set("timestamp_to_float64", Value::Timestamp(i64::MAX))
            .unwrap();
        let out = xform
            .apply(ConnectRecord::new("topic", Some(schema), value.into()))
            .unwrap()
            .unwrap();
        let s = out.value.as_struct().unwrap();
        assert_eq!(s.get("date_to_int32"), Some(&Value::Int32(1)));
        assert_eq!(s.get("timestamp_to_int64"), Some(&Value::Int64(0)));
        assert_eq!(s.get("time_to_int64"), Some(&Value::Int64(1)));
        assert_eq!(s.get("decimal_to_int32"), Some(&Value::Int32(i32::MIN)));
        assert_eq!(
            s.get("timestamp_to_float64"),
            Some(&Value::Float64(9.223372036854776E18))
        );
        assert_eq!(s.get("null_timestamp_to_int32"), Some(&Value::Null));
        let types: Vec<_> = s
            .schema()
            .fields
            .iter()
            .map(|f| f.schema.schema_type)
            .collect();
        assert_eq!(
            types,
            [
                SchemaType::Int32,
                SchemaType::Int64,
                SchemaType::Int64,
                SchemaType::Int32,
                SchemaType::Float64,
                SchemaType::Int32
            ]
        );
        assert!(s.schema().fields.iter().all(|f| f.schema.name.is_none()));
        assert!(
            s.schema()
                .field("null_timestamp_to_int32")
                .unwrap()
                .schema
                .optional
        );
    }

    // CastTest.castLogicalToString (with a fixed "now")
    #[test]
    fn logical_to_string() {
        let xform = configured(
            Part::Value,
            "date:string,decimal:string,time:string,timestamp:string",
        );
        let schema = SchemaBuilder::struct_()
            .field("date", SchemaBuilder::date().build())
            .field("decimal", SchemaBuilder::decimal(0).build())
            .field("time", SchemaBuilder::time().build())
            .field("timestamp", SchemaBuilder::timestamp().build())
            .build();
        let mut value = Struct::new(schema.clone());
        value.set("date", Value::Date(1)).unwrap();
        value
            .set("decimal", Value::Decimal(Decimal::new(1982, 0)))
            .unwrap();
        value
            .set("time", Value::Time(MILLIS_PER_HOUR as i32))
            .unwrap();
        value
            .set("timestamp", Value::Timestamp(1_700_000_000_123))
            .unwrap();
        let out = xform
            .apply(ConnectRecord::new("topic", Some(schema), value.into()))
            .unwrap()
            .unwrap();
        let s = out.value.as_struct().unwrap();
        assert_eq!(s.get("date"), Some(&Value::from("1970-01-02")));
        assert_eq!(s.get("decimal"), Some(&Value::from("1982")));
        assert_eq!(s.get("time"), Some(&Value::from("01:00:00.000Z")));
        assert_eq!(
            s.get("timestamp"),
            Some(&Value::from("2023-11-14T22:13:20.123Z"))
        );
        assert!(s
            .schema()
            .fields
            .iter()
            .all(|f| f.schema.schema_type == SchemaType::String && f.schema.name.is_none()));
    }

    // CastTest.castFieldsWithSchema
    #[test]
    fn fields_with_schema() {
        let xform = configured(
            Part::Value,
            "int8:int16,int16:int32,int32:int64,int64:boolean,float32:float64,float64:boolean,\
             boolean:int8,string:int32,bigdecimal:string,date:string,optional:int32,bytes:string,\
             byteArray:string",
        );
        let schema = SchemaBuilder::struct_()
            .field("int8", SchemaBuilder::int8().build())
            .field("int16", SchemaBuilder::int16().optional().build())
            .field(
                "int32",
                SchemaBuilder::int32()
                    .default_value(Value::Int32(2))
                    .build(),
            )
            .field("int64", SchemaBuilder::int64().build())
            .field("float32", SchemaBuilder::float32().build())
            .field(
                "float64",
                SchemaBuilder::float64()
                    .default_value(Value::Float64(-1.125))
                    .build(),
            )
            .field("boolean", SchemaBuilder::boolean().build())
            .field("string", SchemaBuilder::string().build())
            .field("bigdecimal", SchemaBuilder::decimal(0).build())
            .field("date", SchemaBuilder::date().build())
            .field("optional", SchemaBuilder::float32().optional().build())
            .field("timestamp", SchemaBuilder::timestamp().build())
            .field("bytes", SchemaBuilder::bytes().build())
            .field("byteArray", SchemaBuilder::bytes().build())
            .build();
        let bytes = vec![0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10];
        let mut value = Struct::new(schema.clone());
        for (k, v) in [
            ("int8", Value::Int8(8)),
            ("int16", Value::Int16(16)),
            ("int32", Value::Int32(32)),
            ("int64", Value::Int64(64)),
            ("float32", Value::Float32(32.0)),
            ("float64", Value::Float64(-64.0)),
            ("boolean", Value::Boolean(true)),
            ("bigdecimal", Value::Decimal(Decimal::new(42, 0))),
            ("date", Value::Date(1)),
            ("string", Value::from("42")),
            ("timestamp", Value::Timestamp(0)),
            ("bytes", Value::Bytes(bytes.clone())),
            ("byteArray", Value::Bytes(bytes)),
        ] {
            value.set(k, v).unwrap();
        }
        let out = xform
            .apply(ConnectRecord::new("topic", Some(schema), value.into()))
            .unwrap()
            .unwrap();
        let s = out.value.as_struct().unwrap();
        let expected = [
            ("int8", Value::Int16(8), SchemaType::Int16),
            ("int16", Value::Int32(16), SchemaType::Int32),
            ("int32", Value::Int64(32), SchemaType::Int64),
            ("int64", Value::Boolean(true), SchemaType::Boolean),
            ("float32", Value::Float64(32.0), SchemaType::Float64),
            ("float64", Value::Boolean(true), SchemaType::Boolean),
            ("boolean", Value::Int8(1), SchemaType::Int8),
            ("string", Value::Int32(42), SchemaType::Int32),
            ("bigdecimal", Value::from("42"), SchemaType::String),
            ("date", Value::from("1970-01-02"), SchemaType::String),
            ("optional", Value::Null, SchemaType::Int32),
            ("timestamp", Value::Timestamp(0), SchemaType::Int64),
            ("bytes", Value::from("/ty6mHZUMhA="), SchemaType::String),
            ("byteArray", Value::from("/ty6mHZUMhA="), SchemaType::String),
        ];
        for (name, v, t) in expected {
            assert_eq!(s.get(name), Some(&v), "{name}");
            assert_eq!(
                s.schema().field(name).unwrap().schema.schema_type,
                t,
                "{name}"
            );
        }
        let field = |n: &str| s.schema().field(n).unwrap().schema.clone();
        assert!(field("int16").optional);
        assert!(field("optional").optional);
        assert_eq!(field("int32").default, Some(Value::Int64(2)));
        assert_eq!(field("float64").default, Some(Value::Boolean(true)));
        // The timestamp field is not cast: it keeps its schema.
        assert_eq!(field("timestamp"), SchemaBuilder::timestamp().build());
        assert!(s.validate().is_ok());
    }

    // CastTest.castFieldsSchemaless
    #[test]
    fn fields_schemaless() {
        let xform = configured(
            Part::Value,
            "int8:int16,int16:int32,int32:int64,int64:boolean,float32:float64,float64:boolean,\
             boolean:int8,string:int32",
        );
        let value = map(vec![
            ("int8", Value::Int8(8)),
            ("int16", Value::Int16(16)),
            ("int32", Value::Int32(32)),
            ("int64", Value::Int64(64)),
            ("float32", Value::Float32(32.0)),
            ("float64", Value::Float64(-64.0)),
            ("boolean", Value::Boolean(true)),
            ("string", Value::from("42")),
        ]);
        let out = xform
            .apply(ConnectRecord::new("topic", None, value))
            .unwrap()
            .unwrap();
        assert_eq!(out.value_schema, None);
        assert_eq!(
            out.value,
            map(vec![
                ("int8", Value::Int16(8)),
                ("int16", Value::Int32(16)),
                ("int32", Value::Int64(32)),
                ("int64", Value::Boolean(true)),
                ("float32", Value::Float64(32.0)),
                ("float64", Value::Boolean(true)),
                ("boolean", Value::Int8(1)),
                ("string", Value::Int32(42)),
            ])
        );
    }

    // Cast.castToInt32 & co. on strings: NumberFormatException becomes a
    // DataException; Cast$Key on a schemaless map; a missing schemaless
    // field is put as null, as Java's HashMap.put does.
    #[test]
    fn uncastable_strings_and_key_fields() {
        let xform = configured(Part::Key, "a:int32,missing:int8");
        let key = Value::Map(vec![("a".into(), "abc".into())]);
        let err = xform
            .apply(ConnectRecord::new("t", None, Value::Null).with_key(None, key))
            .unwrap_err();
        assert_eq!(
            err.message,
            "Value (abc) was out of range for requested data type"
        );
        let key = Value::Map(vec![("a".into(), "-17".into())]);
        let out = xform
            .apply(ConnectRecord::new("t", None, "v".into()).with_key(None, key))
            .unwrap()
            .unwrap();
        assert_eq!(
            out.key,
            Value::Map(vec![
                ("a".into(), Value::Int32(-17)),
                ("missing".into(), Value::Null)
            ])
        );
        assert_eq!(out.value, Value::from("v"));
        // Out of the target's range.
        let err = configured(Part::Value, "int8")
            .apply(ConnectRecord::new("t", None, "300".into()))
            .unwrap_err();
        assert!(err.message.contains("out of range"), "{}", err.message);
        // A struct with a non-struct value.
        let err = configured(Part::Value, "a:int8")
            .apply(ConnectRecord::new("t", Some(int32()), 1i32.into()))
            .unwrap_err();
        assert_eq!(
            err.message,
            "Only Struct objects supported for [cast types], found: INT32"
        );
    }

    // Java's Number narrowing and parsing rules.
    #[test]
    fn narrowing_and_parsing_follow_java() {
        let cast = |v: Value, t: Target| cast_value(None, &v, t).unwrap();
        assert_eq!(cast(Value::Int32(300), Target::Int8), Value::Int8(44));
        assert_eq!(cast(Value::Int64(1 << 40), Target::Int32), Value::Int32(0));
        assert_eq!(
            cast(Value::Float64(1e10), Target::Int32),
            Value::Int32(i32::MAX)
        );
        assert_eq!(cast(Value::Float64(1e10), Target::Int8), Value::Int8(-1));
        assert_eq!(cast(Value::Float32(-2.9), Target::Int16), Value::Int16(-2));
        assert_eq!(
            cast(Value::Float64(f64::NAN), Target::Int64),
            Value::Int64(0)
        );
        assert_eq!(
            cast(Value::Float64(0.5), Target::Boolean),
            Value::Boolean(false)
        );
        assert_eq!(
            cast(Value::Boolean(true), Target::Float64),
            Value::Float64(1.0)
        );
        assert_eq!(
            cast(Value::from("TRUE"), Target::Boolean),
            Value::Boolean(true)
        );
        assert_eq!(
            cast(Value::from("yes"), Target::Boolean),
            Value::Boolean(false)
        );
        assert_eq!(
            cast(Value::from(" 1.5f "), Target::Float32),
            Value::Float32(1.5)
        );
        assert_eq!(
            cast(Value::from("-Infinity"), Target::Float64),
            Value::Float64(f64::NEG_INFINITY)
        );
        assert_eq!(cast(Value::from("+7"), Target::Int64), Value::Int64(7));
        assert!(cast_value(None, &Value::from("inf"), Target::Float64).is_err());
        assert_eq!(
            cast(Value::Float64(1e21), Target::String),
            Value::from("1.0E21")
        );
        assert_eq!(
            cast(Value::Float32(0.1), Target::String),
            Value::from("0.1")
        );
        assert_eq!(
            cast(Value::Float32(0.1), Target::Float64),
            Value::Float64(f64::from(0.1f32))
        );
        let dec = |s: &str| Value::Decimal(Decimal::parse(s).unwrap());
        let with_schema = |v: Value, t: Target| {
            cast_value(Some(&SchemaBuilder::decimal(0).build()), &v, t).unwrap()
        };
        assert_eq!(with_schema(dec("-3.99"), Target::Int32), Value::Int32(-3));
        assert_eq!(
            with_schema(dec("12.5"), Target::Float64),
            Value::Float64(12.5)
        );
        assert_eq!(
            with_schema(dec("0.00000001"), Target::String),
            Value::from("1E-8")
        );
        assert_eq!(
            with_schema(Value::Decimal(Decimal::new(123, -2)), Target::String),
            Value::from("1.23E+4")
        );
        // Schemaless logical values are not Connect classes to Java.
        assert!(cast_value(None, &dec("1"), Target::Int32).is_err());
    }

    #[test]
    fn java_date_strings() {
        assert_eq!(java_date_string(0), "00:00:00.000Z");
        assert_eq!(java_date_string(-1), "23:59:59.999Z");
        assert_eq!(java_date_string(MILLIS_PER_DAY), "1970-01-02");
        assert_eq!(java_date_string(951_782_400_000), "2000-02-29");
        assert_eq!(
            java_date_string(951_782_400_001),
            "2000-02-29T00:00:00.001Z"
        );
    }

    // KIP-1040: with replace.null.with.default=false a null field with a
    // default is cast as null, not from its default.
    #[test]
    fn replace_null_with_default() {
        let schema = SchemaBuilder::struct_()
            .field("n", defaulted_int32(42))
            .build();
        let r = ConnectRecord::new("t", Some(schema.clone()), Struct::new(schema).into());
        let out = configured(Part::Value, "n:string")
            .apply(r.clone())
            .unwrap()
            .unwrap();
        let s = out.value.as_struct().unwrap();
        assert_eq!(s.raw_values(), [Value::from("42")]);
        assert_eq!(s.schema().fields[0].schema.default, Some(Value::from("42")));
        let mut without = Cast::new(Part::Value);
        without
            .configure(&props_of(&[
                ("spec", "n:string"),
                ("replace.null.with.default", "false"),
            ]))
            .unwrap();
        let out = without.apply(r).unwrap().unwrap();
        assert_eq!(out.value.as_struct().unwrap().raw_values(), [Value::Null]);
    }

    // Schema cache: the same Arc for the same input schema; names of
    // non-logical schemas are kept on whole-value casts.
    #[test]
    fn schemas_are_cached_and_names_kept() {
        let xform = configured(Part::Value, "int64");
        let named = SchemaBuilder::int32()
            .name("my.Id")
            .version(2)
            .optional()
            .build();
        let a = xform
            .apply(ConnectRecord::new("t", Some(named.clone()), 1i32.into()))
            .unwrap()
            .unwrap();
        let b = xform
            .apply(ConnectRecord::new("t", Some(named), 2i32.into()))
            .unwrap()
            .unwrap();
        let schema = a.value_schema.unwrap();
        assert!(Arc::ptr_eq(&schema, b.value_schema.as_ref().unwrap()));
        assert_eq!(schema.name.as_deref(), Some("my.Id"));
        assert_eq!(schema.version, Some(2));
        assert!(schema.optional);
        assert_eq!(b.value, Value::Int64(2));
    }

    #[test]
    fn registered_under_java_names() {
        for name in [
            "org.apache.kafka.connect.transforms.Cast$Key",
            "org.apache.kafka.connect.transforms.Cast$Value",
            "Cast$Key",
        ] {
            assert!(crate::transforms::find_transform(name).is_some(), "{name}");
        }
    }
}
