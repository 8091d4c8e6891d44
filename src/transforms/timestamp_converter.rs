//! `TimestampConverter$Key` / `$Value`: converts timestamps between Unix
//! epoch numbers, formatted strings and Connect's Date, Time and Timestamp
//! types, like `org.apache.kafka.connect.transforms.TimestampConverter`.
//! Applies to the whole key/value or to one field (`field`, with nested
//! paths under `field.syntax.version=V2`), with or without a schema.
//!
//! Also home of [`JavaDateFormat`], the subset of `java.text.SimpleDateFormat`
//! (always in UTC) that Connect's configs use; `TimestampRouter` and
//! `InsertHeader` share it.

use std::sync::Arc;

use super::util::{
    copy_schema_basics, field_value, java_class_name, key_value_plugins, map_get, map_put,
    map_update, only_maps, only_structs, ConfigDefExt, Part, REPLACE_NULL_WITH_DEFAULT_CONFIG,
};
use super::TransformPlugin;
use crate::connect::config::{ConfigDef, ConfigType, Importance, Props, Validator};
use crate::connect::data::logical;
use crate::connect::transform::{Transform, TransformError};
use crate::connect::{
    ConnectError, ConnectRecord, Field, Schema, SchemaBuilder, SchemaRef, SchemaType, Struct, Value,
};

pub const PLUGINS: &[TransformPlugin] = key_value_plugins!(TimestampConverter);

const FIELD_CONFIG: &str = "field";
const TARGET_TYPE_CONFIG: &str = "target.type";
const FORMAT_CONFIG: &str = "format";
const UNIX_PRECISION_CONFIG: &str = "unix.precision";
const FIELD_SYNTAX_VERSION_CONFIG: &str = "field.syntax.version";

const PURPOSE: &str = "converting timestamp formats";

const TARGET_TYPES: &[&str] = &["string", "unix", "Date", "Time", "Timestamp"];
const UNIX_PRECISIONS: &[&str] = &["nanoseconds", "microseconds", "milliseconds", "seconds"];

pub(super) const MILLIS_PER_DAY: i64 = 24 * 60 * 60 * 1000;

fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            FIELD_CONFIG,
            ConfigType::String,
            Some(""),
            Importance::High,
            "The field containing the timestamp, or empty if the entire value is a timestamp",
        )
        .define(
            TARGET_TYPE_CONFIG,
            ConfigType::String,
            None,
            Importance::High,
            "The desired timestamp representation: string, unix, Date, Time, or Timestamp",
        )
        .validate_with(Validator::OneOf(TARGET_TYPES))
        .define(
            FORMAT_CONFIG,
            ConfigType::String,
            Some(""),
            Importance::Medium,
            "A SimpleDateFormat-compatible format for the timestamp. Used to generate the output when type=string or used to parse the input if the input is a string.",
        )
        .define(
            UNIX_PRECISION_CONFIG,
            ConfigType::String,
            Some("milliseconds"),
            Importance::Low,
            "The desired Unix precision for the timestamp: seconds, milliseconds, microseconds, or nanoseconds. Used to generate the output when type=unix or used to parse the input if the input is a Long.Note: This SMT will cause precision loss during conversions from, and to, values with sub-millisecond components.",
        )
        .validate_with(Validator::OneOf(UNIX_PRECISIONS))
        .define_replace_null_with_default()
        .define(
            FIELD_SYNTAX_VERSION_CONFIG,
            ConfigType::String,
            Some("V1"),
            Importance::High,
            "Defines the version of the syntax to access fields. If set to <code>V1</code>, then the field paths are limited to access the elements at the root level of the struct or map. If set to <code>V2</code>, the syntax will support accessing nested elements. To access nested elements, dotted notation is used. If dots are already included in the field name, then backtick pairs can be used to wrap field names containing dots. E.g. to access the subfield <code>baz</code> from a field named \"foo.bar\" in a struct/map the following format can be used to access its elements: \"<code>foo.bar</code>.baz\".",
        )
        .validate_with(Validator::OneOf(&["V1", "V2"]))
}

/// A timestamp representation (Java's translator names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TsType {
    String,
    Unix,
    Date,
    Time,
    Timestamp,
}

impl TsType {
    fn from_config(s: &str) -> Option<TsType> {
        Some(match s {
            "string" => TsType::String,
            "unix" => TsType::Unix,
            "Date" => TsType::Date,
            "Time" => TsType::Time,
            "Timestamp" => TsType::Timestamp,
            _ => return None,
        })
    }

    fn schema(self, optional: bool) -> SchemaRef {
        let b = match self {
            TsType::String => SchemaBuilder::string(),
            TsType::Unix => SchemaBuilder::int64(),
            TsType::Date => SchemaBuilder::date(),
            TsType::Time => SchemaBuilder::time(),
            TsType::Timestamp => SchemaBuilder::timestamp(),
        };
        if optional {
            b.optional().build()
        } else {
            b.build()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Precision {
    Seconds,
    Millis,
    Micros,
    Nanos,
}

#[derive(Debug)]
struct Settings {
    /// Empty: the whole key/value.
    path: Vec<String>,
    target: TsType,
    format: Option<JavaDateFormat>,
    precision: Precision,
    replace_null_with_default: bool,
}

/// Convert timestamps between different formats such as Unix epoch, strings,
/// and Connect Date/Timestamp types.
#[derive(Debug)]
pub struct TimestampConverter {
    part: Part,
    settings: Option<Settings>,
}

impl TimestampConverter {
    pub fn new(part: Part) -> TimestampConverter {
        TimestampConverter {
            part,
            settings: None,
        }
    }
}

fn invalid(key: &str, value: &str, why: &str) -> ConnectError {
    ConnectError::config(
        key,
        format!("Invalid value {value} for configuration {key}: {why}"),
    )
}

impl Transform for TimestampConverter {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, props: &Props) -> Result<(), ConnectError> {
        let config = config_def().parse(props)?;
        let field = config.string(FIELD_CONFIG)?.unwrap_or_default();
        let target_raw = config.string(TARGET_TYPE_CONFIG)?.unwrap_or_default();
        // Java's ValidString is case-sensitive.
        let target = TsType::from_config(&target_raw).ok_or_else(|| {
            invalid(
                TARGET_TYPE_CONFIG,
                &target_raw,
                &format!("String must be one of: {}", TARGET_TYPES.join(", ")),
            )
        })?;
        let precision_raw = config.string(UNIX_PRECISION_CONFIG)?.unwrap_or_default();
        let precision = match precision_raw.as_str() {
            "seconds" => Precision::Seconds,
            "milliseconds" => Precision::Millis,
            "microseconds" => Precision::Micros,
            "nanoseconds" => Precision::Nanos,
            other => {
                return Err(invalid(
                    UNIX_PRECISION_CONFIG,
                    other,
                    &format!("String must be one of: {}", UNIX_PRECISIONS.join(", ")),
                ))
            }
        };
        let format_pattern = config.string(FORMAT_CONFIG)?.unwrap_or_default();
        if target == TsType::String && format_pattern.trim().is_empty() {
            return Err(ConnectError::config(
                FORMAT_CONFIG,
                "TimestampConverter requires format option to be specified when using string timestamps",
            ));
        }
        let format = if format_pattern.trim().is_empty() {
            None
        } else {
            Some(JavaDateFormat::new(&format_pattern).map_err(|why| {
                ConnectError::config(
                    FORMAT_CONFIG,
                    format!("TimestampConverter requires a SimpleDateFormat-compatible pattern for string timestamps: {format_pattern} ({why})"),
                )
            })?)
        };
        let v2 = config
            .string(FIELD_SYNTAX_VERSION_CONFIG)?
            .unwrap_or_default()
            .trim()
            .eq_ignore_ascii_case("V2");
        let path = if field.is_empty() {
            Vec::new()
        } else if v2 {
            field_path_v2(&field).map_err(|why| ConnectError::config(FIELD_CONFIG, why))?
        } else {
            vec![field]
        };
        self.settings = Some(Settings {
            path,
            target,
            format,
            precision,
            replace_null_with_default: config.boolean(REPLACE_NULL_WITH_DEFAULT_CONFIG)?,
        });
        Ok(())
    }

    fn apply(&self, record: ConnectRecord) -> Result<Option<ConnectRecord>, TransformError> {
        let settings = self
            .settings
            .as_ref()
            .ok_or_else(|| TransformError::new("TimestampConverter is not configured"))?;
        let part = self.part;
        let value = part.value(&record).clone();
        let out = match part.schema(&record).cloned() {
            None => {
                let updated = settings.apply_schemaless(value)?;
                part.set(record, None, updated)
            }
            Some(schema) if settings.path.is_empty() => {
                let source = timestamp_type_from_schema(&schema)?;
                let updated_schema = settings.target.schema(schema.optional);
                let updated = settings.convert(&value, Some(source))?;
                part.set(record, Some(updated_schema), updated)
            }
            Some(schema) => {
                // Java checks the value before the schema.
                let value = match value {
                    Value::Null => None,
                    Value::Struct(s) => Some(s),
                    other => return Err(only_structs(PURPOSE, java_class_name(&other))),
                };
                let updated_schema = settings.update_schema(&schema, &settings.path)?;
                let updated = match value {
                    None => Value::Null,
                    Some(s) => Value::Struct(settings.apply_value_with_schema(
                        &s,
                        &updated_schema,
                        &settings.path,
                    )?),
                };
                part.set(record, Some(updated_schema), updated)
            }
        };
        Ok(Some(out))
    }
}

/// Java's `timestampTypeFromSchema`.
fn timestamp_type_from_schema(schema: &Schema) -> Result<TsType, TransformError> {
    if schema.is_logical(logical::TIMESTAMP) {
        Ok(TsType::Timestamp)
    } else if schema.is_logical(logical::DATE) {
        Ok(TsType::Date)
    } else if schema.is_logical(logical::TIME) {
        Ok(TsType::Time)
    } else if schema.schema_type == SchemaType::String {
        Ok(TsType::String)
    } else if schema.schema_type == SchemaType::Int64 {
        Ok(TsType::Unix)
    } else {
        Err(TransformError::new(format!(
            "Schema {} does not correspond to a known timestamp type format",
            java_schema_string(schema)
        )))
    }
}

/// `ConnectSchema.toString()`.
fn java_schema_string(schema: &Schema) -> String {
    match &schema.name {
        Some(n) => format!("Schema{{{n}:{}}}", schema.schema_type),
        None => format!("Schema{{{}}}", schema.schema_type),
    }
}

impl Settings {
    /// Java's `convertTimestamp`: `source` is `None` to infer it from the
    /// value (schemaless).
    fn convert(&self, value: &Value, source: Option<TsType>) -> Result<Value, TransformError> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let source = match source {
            Some(s) => s,
            None => infer_timestamp_type(value)?,
        };
        let raw = self.to_raw(source, value)?;
        self.to_type(raw)
    }

    /// Milliseconds since the epoch (Java's `java.util.Date`).
    fn to_raw(&self, source: TsType, value: &Value) -> Result<i64, TransformError> {
        let found = || format!("class {}", java_class_name(value));
        match source {
            TsType::String => {
                let Value::String(s) = value else {
                    return Err(TransformError::new(format!(
                        "Expected string timestamp to be a String, but found {}",
                        found()
                    )));
                };
                let format = self.format.as_ref().ok_or_else(|| {
                    TransformError::new("TimestampConverter requires format option to be specified when using string timestamps")
                })?;
                format.parse(s).ok_or_else(|| {
                    TransformError::new(format!(
                        "Could not parse timestamp: value ({s}) does not match pattern ({})",
                        format.pattern()
                    ))
                })
            }
            TsType::Unix => {
                let Value::Int64(unix) = value else {
                    return Err(TransformError::new(format!(
                        "Expected Unix timestamp to be a Long, but found {}",
                        found()
                    )));
                };
                // TimeUnit conversions: truncating division, saturating products.
                Ok(match self.precision {
                    Precision::Seconds => unix.saturating_mul(1000),
                    Precision::Millis => *unix,
                    Precision::Micros => unix / 1000,
                    Precision::Nanos => unix / 1_000_000,
                })
            }
            TsType::Date | TsType::Time | TsType::Timestamp => match (source, value) {
                (_, Value::Date(days)) => Ok(i64::from(*days) * MILLIS_PER_DAY),
                (_, Value::Time(ms)) => Ok(i64::from(*ms)),
                (_, Value::Timestamp(ms)) => Ok(*ms),
                // The physical forms a schema'd logical value may arrive in.
                (TsType::Date, Value::Int32(days)) => Ok(i64::from(*days) * MILLIS_PER_DAY),
                (TsType::Time, Value::Int32(ms)) => Ok(i64::from(*ms)),
                (TsType::Timestamp, Value::Int64(ms)) => Ok(*ms),
                _ => {
                    let name = match source {
                        TsType::Date => "Date",
                        TsType::Time => "Time",
                        _ => "Timestamp",
                    };
                    Err(TransformError::new(format!(
                        "Expected {name} to be a java.util.Date, but found {}",
                        found()
                    )))
                }
            },
        }
    }

    fn to_type(&self, raw: i64) -> Result<Value, TransformError> {
        Ok(match self.target {
            TsType::String => Value::String(
                self.format
                    .as_ref()
                    .expect("configure requires a format for string")
                    .format(raw),
            ),
            TsType::Unix => Value::Int64(match self.precision {
                Precision::Seconds => raw / 1000,
                Precision::Millis => raw,
                Precision::Micros => raw.saturating_mul(1000),
                Precision::Nanos => raw.saturating_mul(1_000_000),
            }),
            TsType::Date => {
                Value::Date(i32::try_from(raw.div_euclid(MILLIS_PER_DAY)).map_err(|_| {
                    TransformError::new(format!("Timestamp {raw} is out of range for a Date"))
                })?)
            }
            TsType::Time => Value::Time(raw.rem_euclid(MILLIS_PER_DAY) as i32),
            TsType::Timestamp => Value::Timestamp(raw),
        })
    }

    /// The struct schema with the field at `path` given the target type's
    /// schema; name, version, doc and parameters, optionality and default
    /// kept (the default converted too).
    fn update_schema(&self, schema: &Schema, path: &[String]) -> Result<SchemaRef, TransformError> {
        if schema.schema_type != SchemaType::Struct {
            // ConnectSchema.fields() on a non-struct schema.
            return Err(TransformError::new("Cannot list fields on non-struct type"));
        }
        let mut updated = copy_schema_basics(schema, SchemaType::Struct);
        for field in &schema.fields {
            let field_schema = if field.name == path[0] {
                if path.len() == 1 {
                    self.target.schema(field.schema.optional)
                } else if field.schema.schema_type == SchemaType::Struct {
                    self.update_schema(&field.schema, &path[1..])?
                } else {
                    field.schema.clone()
                }
            } else {
                field.schema.clone()
            };
            updated.fields.push(Field {
                name: field.name.clone(),
                index: updated.fields.len(),
                schema: field_schema,
            });
        }
        updated.optional = schema.optional;
        if let Some(Value::Struct(default)) = &schema.default {
            let without_default = Arc::new(updated.clone());
            updated.default = Some(Value::Struct(self.apply_value_with_schema(
                default,
                &without_default,
                path,
            )?));
        }
        Ok(Arc::new(updated))
    }

    /// Java's `applyValueWithSchema`, following `path` into nested structs.
    fn apply_value_with_schema(
        &self,
        value: &Struct,
        updated_schema: &SchemaRef,
        path: &[String],
    ) -> Result<Struct, TransformError> {
        let mut updated = Struct::new(updated_schema.clone());
        for field in &value.schema().fields {
            let v = field_value(value, field.index, self.replace_null_with_default).clone();
            let new_value = if field.name == path[0] {
                if path.len() == 1 {
                    self.convert(&v, Some(timestamp_type_from_schema(&field.schema)?))?
                } else {
                    match v {
                        Value::Struct(nested) => {
                            let nested_schema = updated_schema
                                .field(&field.name)
                                .map(|f| f.schema.clone())
                                .unwrap_or_else(|| nested.schema().clone());
                            Value::Struct(self.apply_value_with_schema(
                                &nested,
                                &nested_schema,
                                &path[1..],
                            )?)
                        }
                        other => other,
                    }
                }
            } else {
                v
            };
            updated.set(&field.name, new_value)?;
        }
        Ok(updated)
    }

    fn apply_schemaless(&self, value: Value) -> Result<Value, TransformError> {
        if value.is_null() || self.path.is_empty() {
            return self.convert(&value, None);
        }
        match value {
            Value::Map(entries) => Ok(Value::Map(self.update_map(entries, &self.path)?)),
            other => Err(only_maps(PURPOSE, java_class_name(&other))),
        }
    }

    /// Converts the entry at `path`. As in Java, a missing last step is put
    /// with a null value; a missing or non-map intermediate step leaves the
    /// map as it is.
    fn update_map(
        &self,
        mut entries: Vec<(Value, Value)>,
        path: &[String],
    ) -> Result<Vec<(Value, Value)>, TransformError> {
        if path.len() == 1 {
            map_update(&mut entries, &path[0], |v| self.convert(v, None))?;
        } else if let Some(Value::Map(nested)) = map_get(&entries, &path[0]) {
            let nested = self.update_map(nested.clone(), &path[1..])?;
            map_put(&mut entries, &path[0], Value::Map(nested));
        }
        Ok(entries)
    }
}

/// Java's `inferTimestampType` for schemaless values.
fn infer_timestamp_type(value: &Value) -> Result<TsType, TransformError> {
    match value {
        // Date, Time and Timestamp are all a java.util.Date without a schema.
        Value::Date(_) | Value::Time(_) | Value::Timestamp(_) => Ok(TsType::Timestamp),
        Value::Int64(_) => Ok(TsType::Unix),
        Value::String(_) => Ok(TsType::String),
        other => Err(TransformError::new(format!(
            "TimestampConverter does not support class {} objects as timestamps",
            java_class_name(other)
        ))),
    }
}

/// `SingleFieldPath` for `field.syntax.version=V2`: dotted steps, with
/// backtick pairs around names that contain dots (a backslash escapes a
/// backtick that is followed by a dot).
fn field_path_v2(path: &str) -> Result<Vec<String>, String> {
    let chars: Vec<char> = path.chars().collect();
    let incomplete = |at: usize| {
        format!(
            "Incomplete backtick pair in path: [{path}], consider adding a backslash before backtick at position {at} to escape it"
        )
    };
    let find = |c: char, from: usize| chars[from..].iter().position(|x| *x == c).map(|i| i + from);
    let mut steps = Vec::new();
    let mut idx = 0usize;
    while idx < chars.len() {
        if chars[idx] != '`' {
            let start = idx;
            match find('.', idx) {
                Some(dot) => {
                    steps.push(chars[start..dot].iter().collect());
                    idx = dot + 1;
                }
                None => {
                    steps.push(chars[start..].iter().collect());
                    break;
                }
            }
        } else {
            let backtick_at = idx;
            idx += 1;
            let mut field = String::new();
            let mut start = idx;
            loop {
                idx = find('`', idx).ok_or_else(|| incomplete(backtick_at))?;
                let escaped = chars[idx - 1] == '\\';
                if idx >= chars.len() - 1 {
                    if escaped {
                        return Err(incomplete(backtick_at));
                    }
                    field.extend(&chars[start..idx]);
                    steps.push(field);
                    idx += 1;
                    break;
                }
                if chars[idx + 1] != '.' {
                    idx += 1;
                    continue;
                }
                if escaped {
                    field.extend(&chars[start..idx - 1]);
                    field.push('`');
                    idx += 1;
                    start = idx;
                    continue;
                }
                field.extend(&chars[start..idx]);
                steps.push(field);
                idx += 2;
                break;
            }
        }
    }
    if path.ends_with('.') {
        steps.push(String::new());
    }
    Ok(steps)
}

// ---------------------------------------------------------------------------
// java.text.SimpleDateFormat, in UTC, US English names.
// ---------------------------------------------------------------------------

const PATTERN_CHARS: &str = "GyMdkHmsSEDFwWahKzZYuXL";

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Sunday first, as `Calendar.DAY_OF_WEEK`.
const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Literal(String),
    Field(char, usize),
}

/// A compiled `java.text.SimpleDateFormat` pattern, formatting and parsing
/// in UTC with US English month and day names. Parsing is lenient like
/// Java's default: out-of-range fields roll over, and text after the
/// pattern is ignored.
#[derive(Debug, Clone)]
pub(crate) struct JavaDateFormat {
    pattern: String,
    items: Vec<Item>,
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// (year, month 1-12, day 1-31) of a day since 1970-01-01.
pub(super) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// 0 = Sunday.
fn day_of_week(days: i64) -> i64 {
    (days + 4).rem_euclid(7)
}

fn pad(out: &mut String, value: i64, width: usize) {
    if value < 0 {
        out.push('-');
    }
    out.push_str(&format!("{:0width$}", value.unsigned_abs()));
}

/// A numeric field when parsing (and for "abutting" fields).
fn is_numeric(letter: char, count: usize) -> bool {
    match letter {
        'M' | 'L' => count <= 2,
        'y' | 'Y' | 'd' | 'H' | 'k' | 'K' | 'h' | 'm' | 's' | 'S' | 'D' | 'F' | 'w' | 'W' | 'u' => {
            true
        }
        _ => false,
    }
}

#[derive(Debug, Default)]
struct ParsedFields {
    bc: bool,
    year: Option<i64>,
    month: Option<i64>,
    day: Option<i64>,
    day_of_year: Option<i64>,
    hour_of_day: Option<i64>,
    hour: Option<i64>,
    pm: Option<bool>,
    minute: i64,
    second: i64,
    millis: i64,
    offset_ms: i64,
}

impl JavaDateFormat {
    /// Compiles a pattern; errors are Java's `IllegalArgumentException`
    /// messages.
    pub(crate) fn new(pattern: &str) -> Result<JavaDateFormat, String> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut items: Vec<Item> = Vec::new();
        let mut literal = String::new();
        let mut field: Option<(char, usize)> = None;
        let mut in_quote = false;
        let mut i = 0;
        let flush_field = |field: &mut Option<(char, usize)>, items: &mut Vec<Item>| {
            if let Some((c, n)) = field.take() {
                items.push(Item::Field(c, n));
            }
        };
        let flush_literal = |literal: &mut String, items: &mut Vec<Item>| {
            if !literal.is_empty() {
                items.push(Item::Literal(std::mem::take(literal)));
            }
        };
        while i < chars.len() {
            let c = chars[i];
            if c == '\'' {
                if chars.get(i + 1) == Some(&'\'') {
                    // '' is a quote, inside or outside quoted text.
                    flush_field(&mut field, &mut items);
                    literal.push('\'');
                    i += 2;
                    continue;
                }
                flush_field(&mut field, &mut items);
                in_quote = !in_quote;
                i += 1;
                continue;
            }
            if in_quote || !c.is_ascii_alphabetic() {
                flush_field(&mut field, &mut items);
                literal.push(c);
                i += 1;
                continue;
            }
            if !PATTERN_CHARS.contains(c) {
                return Err(format!("Illegal pattern character '{c}'"));
            }
            flush_literal(&mut literal, &mut items);
            match &mut field {
                Some((letter, count)) if *letter == c => *count += 1,
                _ => {
                    flush_field(&mut field, &mut items);
                    field = Some((c, 1));
                }
            }
            i += 1;
        }
        if in_quote {
            return Err("Unterminated quote".into());
        }
        flush_field(&mut field, &mut items);
        flush_literal(&mut literal, &mut items);
        for item in &items {
            if let Item::Field('X', n) = item {
                if *n >= 4 {
                    return Err(format!("invalid ISO 8601 format: length={n}"));
                }
            }
        }
        Ok(JavaDateFormat {
            pattern: pattern.to_owned(),
            items,
        })
    }

    /// The pattern as given (`toPattern()`).
    pub(crate) fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Formats milliseconds since the epoch, in UTC.
    pub(crate) fn format(&self, epoch_ms: i64) -> String {
        let days = epoch_ms.div_euclid(MILLIS_PER_DAY);
        let ms_of_day = epoch_ms.rem_euclid(MILLIS_PER_DAY);
        let (year, month, dom) = civil_from_days(days);
        let hour = ms_of_day / 3_600_000;
        let minute = ms_of_day / 60_000 % 60;
        let second = ms_of_day / 1000 % 60;
        let millis = ms_of_day % 1000;
        let dow = day_of_week(days);
        let jan1 = days_from_civil(year, 1, 1);
        let doy = days - jan1 + 1;
        // Weeks as in the US locale: Sunday first, one day makes a week.
        let week_start = days - dow;
        let next_jan1 = days_from_civil(year + 1, 1, 1);
        let (week_year, week_of_year) = if week_start + 6 >= next_jan1 {
            (year + 1, 1)
        } else {
            (year, (doy - 1 + day_of_week(jan1)) / 7 + 1)
        };
        let first_of_month = days_from_civil(year, month, 1);
        let week_of_month = (dom - 1 + day_of_week(first_of_month)) / 7 + 1;
        let era_year = |y: i64| if y <= 0 { 1 - y } else { y };

        let mut out = String::new();
        for item in &self.items {
            let (letter, count) = match item {
                Item::Literal(s) => {
                    out.push_str(s);
                    continue;
                }
                Item::Field(c, n) => (*c, *n),
            };
            match letter {
                'G' => out.push_str(if year > 0 { "AD" } else { "BC" }),
                'y' | 'Y' => {
                    let y = era_year(if letter == 'y' { year } else { week_year });
                    if count == 2 {
                        pad(&mut out, y % 100, 2);
                    } else {
                        pad(&mut out, y, count);
                    }
                }
                'M' | 'L' => match count {
                    1 | 2 => pad(&mut out, month, count),
                    3 => out.push_str(&MONTHS[(month - 1) as usize][..3]),
                    _ => out.push_str(MONTHS[(month - 1) as usize]),
                },
                'd' => pad(&mut out, dom, count),
                'k' => pad(&mut out, if hour == 0 { 24 } else { hour }, count),
                'H' => pad(&mut out, hour, count),
                'm' => pad(&mut out, minute, count),
                's' => pad(&mut out, second, count),
                'S' => pad(&mut out, millis, count),
                'E' => {
                    let name = WEEKDAYS[dow as usize];
                    out.push_str(if count >= 4 { name } else { &name[..3] });
                }
                'D' => pad(&mut out, doy, count),
                'F' => pad(&mut out, (dom - 1) / 7 + 1, count),
                'w' => pad(&mut out, week_of_year, count),
                'W' => pad(&mut out, week_of_month, count),
                'a' => out.push_str(if hour < 12 { "AM" } else { "PM" }),
                'h' => pad(&mut out, if hour % 12 == 0 { 12 } else { hour % 12 }, count),
                'K' => pad(&mut out, hour % 12, count),
                'z' => out.push_str(if count >= 4 {
                    "Coordinated Universal Time"
                } else {
                    "UTC"
                }),
                'Z' => out.push_str("+0000"),
                'X' => out.push('Z'),
                'u' => pad(&mut out, if dow == 0 { 7 } else { dow }, count),
                _ => unreachable!("compiled patterns hold only pattern letters"),
            }
        }
        out
    }

    /// Parses the start of `text` leniently, like `DateFormat.parse`;
    /// `None` when it does not match.
    pub(crate) fn parse(&self, text: &str) -> Option<i64> {
        let chars: Vec<char> = text.chars().collect();
        let mut pos = 0usize;
        let mut f = ParsedFields::default();
        for (i, item) in self.items.iter().enumerate() {
            let (letter, count) = match item {
                Item::Literal(s) => {
                    for c in s.chars() {
                        if chars.get(pos) != Some(&c) {
                            return None;
                        }
                        pos += 1;
                    }
                    continue;
                }
                Item::Field(c, n) => (*c, *n),
            };
            while matches!(chars.get(pos), Some(' ') | Some('\t')) {
                pos += 1;
            }
            if is_numeric(letter, count) {
                // Abutting numeric fields take exactly their width.
                let abutting =
                    matches!(self.items.get(i + 1), Some(Item::Field(c, n)) if is_numeric(*c, *n));
                let max = if abutting { count } else { usize::MAX };
                let start = pos;
                while pos < chars.len() && pos - start < max && chars[pos].is_ascii_digit() {
                    pos += 1;
                }
                if pos == start {
                    return None;
                }
                let digits: String = chars[start..pos].iter().collect();
                let value: i64 = digits.parse().ok()?;
                match letter {
                    'y' => {
                        f.year = Some(if count <= 2 && digits.len() == 2 {
                            two_digit_year(value)
                        } else {
                            value
                        })
                    }
                    'M' | 'L' => f.month = Some(value),
                    'd' => f.day = Some(value),
                    'D' => f.day_of_year = Some(value),
                    'H' => f.hour_of_day = Some(value),
                    'k' => f.hour_of_day = Some(if value == 24 { 0 } else { value }),
                    'h' => f.hour = Some(if value == 12 { 0 } else { value }),
                    'K' => f.hour = Some(value),
                    'm' => f.minute = value,
                    's' => f.second = value,
                    'S' => f.millis = value,
                    // Week-based fields, day-in-week numbers: parsed, not used.
                    _ => {}
                }
                continue;
            }
            let rest: String = chars[pos..].iter().collect();
            let matched = match letter {
                'G' => match_text(&rest, &["AD", "BC"]).map(|(i, n)| {
                    f.bc = i == 1;
                    n
                }),
                'M' | 'L' => {
                    let short: Vec<&str> = MONTHS.iter().map(|m| &m[..3]).collect();
                    match_text(&rest, &MONTHS)
                        .or_else(|| match_text(&rest, &short))
                        .map(|(i, n)| {
                            f.month = Some(i as i64 + 1);
                            n
                        })
                }
                'E' => {
                    let short: Vec<&str> = WEEKDAYS.iter().map(|d| &d[..3]).collect();
                    match_text(&rest, &WEEKDAYS)
                        .or_else(|| match_text(&rest, &short))
                        .map(|(_, n)| n)
                }
                'a' => match_text(&rest, &["AM", "PM"]).map(|(i, n)| {
                    f.pm = Some(i == 1);
                    n
                }),
                'z' | 'Z' | 'X' => parse_zone(&rest).map(|(offset, n)| {
                    f.offset_ms = offset;
                    n
                }),
                _ => None,
            };
            pos += matched?;
        }
        let mut year = f.year.unwrap_or(1970);
        if f.bc {
            year = 1 - year;
        }
        let days = match f.day_of_year {
            Some(doy) => days_from_civil(year, 1, 1) + doy - 1,
            None => {
                let month0 = f.month.unwrap_or(1) - 1;
                let y = year + month0.div_euclid(12);
                let m = month0.rem_euclid(12) + 1;
                days_from_civil(y, m, 1) + f.day.unwrap_or(1) - 1
            }
        };
        let hour = match (f.hour_of_day, f.hour) {
            (Some(h), _) => h,
            (None, h) => h.unwrap_or(0) + if f.pm == Some(true) { 12 } else { 0 },
        };
        Some(
            days * MILLIS_PER_DAY
                + hour * 3_600_000
                + f.minute * 60_000
                + f.second * 1000
                + f.millis
                - f.offset_ms,
        )
    }
}

/// The longest of `names` that `text` starts with (ignoring case): its
/// index and length in chars.
fn match_text(text: &str, names: &[&str]) -> Option<(usize, usize)> {
    names
        .iter()
        .enumerate()
        .filter(|(_, n)| {
            text.len() >= n.len()
                && text.is_char_boundary(n.len())
                && text[..n.len()].eq_ignore_ascii_case(n)
        })
        .max_by_key(|(_, n)| n.len())
        .map(|(i, n)| (i, n.chars().count()))
}

/// A zone: `Z`, `UTC`/`GMT`/`UT` (optionally with an offset), or a numeric
/// offset `+hh`, `+hhmm`, `+hh:mm`. Returns the offset in ms and the length.
fn parse_zone(text: &str) -> Option<(i64, usize)> {
    if text.starts_with('Z') {
        return Some((0, 1));
    }
    for name in ["UTC", "GMT", "UT"] {
        if text.len() >= name.len() && text[..name.len()].eq_ignore_ascii_case(name) {
            let rest = &text[name.len()..];
            return match parse_offset(rest) {
                Some((offset, n)) => Some((offset, name.len() + n)),
                None => Some((0, name.len())),
            };
        }
    }
    parse_offset(text)
}

fn parse_offset(text: &str) -> Option<(i64, usize)> {
    let b = text.as_bytes();
    let sign = match b.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digit = |i: usize| {
        b.get(i)
            .filter(|c| c.is_ascii_digit())
            .map(|c| i64::from(c - b'0'))
    };
    let hours = digit(1)? * 10 + digit(2)?;
    let (minutes, len) = if b.get(3) == Some(&b':') {
        (digit(4)? * 10 + digit(5)?, 6)
    } else if let (Some(a), Some(c)) = (digit(3), digit(4)) {
        (a * 10 + c, 5)
    } else {
        (0, 3)
    };
    Some((sign * (hours * 3_600_000 + minutes * 60_000), len))
}

/// Java's two-digit year rule: within 80 years before and 20 after now.
fn two_digit_year(value: i64) -> i64 {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let (this_year, _, _) = civil_from_days(now_ms.div_euclid(MILLIS_PER_DAY));
    let start = this_year - 80;
    let ambiguous = start % 100;
    value + (start / 100) * 100 + if value < ambiguous { 100 } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::config::props_of;

    // TimestampConverterTest's fixtures, in UTC.
    /// 1970-01-02 (Calendar DATE).
    const DATE_MS: i64 = MILLIS_PER_DAY;
    /// 00:00:01.234 on 1970-01-01 (TIME).
    const TIME_MS: i64 = 1234;
    /// 1970-01-02 00:00:01.234 (DATE_PLUS_TIME).
    const DATE_PLUS_TIME_UNIX: i64 = MILLIS_PER_DAY + 1234;
    const DATE_PLUS_TIME_UNIX_MICROS: i64 = DATE_PLUS_TIME_UNIX * 1000;
    const DATE_PLUS_TIME_UNIX_NANOS: i64 = DATE_PLUS_TIME_UNIX * 1_000_000;
    const DATE_PLUS_TIME_UNIX_SECONDS: i64 = DATE_PLUS_TIME_UNIX / 1000;
    const STRING_DATE_FMT: &str = "yyyy MM dd HH mm ss SSS z";
    const DATE_PLUS_TIME_STRING: &str = "1970 01 02 00 00 01 234 UTC";

    fn value_xform(props: &[(&str, &str)]) -> TimestampConverter {
        let mut x = TimestampConverter::new(Part::Value);
        x.configure(&props_of(props)).unwrap();
        x
    }

    fn apply_value(
        x: &TimestampConverter,
        schema: Option<SchemaRef>,
        value: Value,
    ) -> ConnectRecord {
        x.apply(ConnectRecord::new("topic", schema, value))
            .unwrap()
            .unwrap()
    }

    fn config_error(props: &[(&str, &str)]) -> (String, String) {
        match TimestampConverter::new(Part::Value)
            .configure(&props_of(props))
            .unwrap_err()
        {
            ConnectError::Config { key, message } => (key, message),
            other => panic!("{other}"),
        }
    }

    // TimestampConverterTest.testConfigNoTargetType
    #[test]
    fn config_no_target_type() {
        assert_eq!(config_error(&[]).0, "target.type");
    }

    // TimestampConverterTest.testConfigInvalidTargetType
    #[test]
    fn config_invalid_target_type() {
        assert_eq!(config_error(&[("target.type", "invalid")]).0, "target.type");
        // Java's ValidString is case-sensitive.
        assert_eq!(config_error(&[("target.type", "date")]).0, "target.type");
    }

    // TimestampConverterTest.testConfigInvalidUnixPrecision
    #[test]
    fn config_invalid_unix_precision() {
        let (key, _) = config_error(&[("target.type", "unix"), ("unix.precision", "invalid")]);
        assert_eq!(key, "unix.precision");
    }

    // TimestampConverterTest.testConfigMissingFormat
    #[test]
    fn config_missing_format() {
        let (key, message) = config_error(&[("target.type", "string")]);
        assert_eq!(key, "format");
        assert_eq!(
            message,
            "TimestampConverter requires format option to be specified when using string timestamps"
        );
    }

    // TimestampConverterTest.testConfigInvalidFormat
    #[test]
    fn config_invalid_format() {
        let (key, message) = config_error(&[("target.type", "string"), ("format", "bad-format")]);
        assert_eq!(key, "format");
        assert!(message.starts_with(
            "TimestampConverter requires a SimpleDateFormat-compatible pattern for string timestamps: bad-format"
        ));
        let (key, _) = config_error(&[("target.type", "Timestamp"), ("format", "'unterminated")]);
        assert_eq!(key, "format");
    }

    // Conversions without schemas (most flexible Timestamp -> other types)

    // TimestampConverterTest.testSchemalessIdentity
    #[test]
    fn schemaless_identity() {
        let x = value_xform(&[("target.type", "Timestamp")]);
        let out = apply_value(&x, None, Value::Timestamp(DATE_PLUS_TIME_UNIX));
        assert_eq!(out.value_schema, None);
        assert_eq!(out.value, Value::Timestamp(DATE_PLUS_TIME_UNIX));
    }

    // TimestampConverterTest.testSchemalessTimestampToDate
    #[test]
    fn schemaless_timestamp_to_date() {
        let x = value_xform(&[("target.type", "Date")]);
        let out = apply_value(&x, None, Value::Timestamp(DATE_PLUS_TIME_UNIX));
        assert_eq!(out.value_schema, None);
        assert_eq!(out.value, Value::Date(1));
    }

    // TimestampConverterTest.testSchemalessTimestampToTime
    #[test]
    fn schemaless_timestamp_to_time() {
        let x = value_xform(&[("target.type", "Time")]);
        let out = apply_value(&x, None, Value::Timestamp(DATE_PLUS_TIME_UNIX));
        assert_eq!(out.value, Value::Time(TIME_MS as i32));
    }

    // TimestampConverterTest.testSchemalessTimestampToUnix
    #[test]
    fn schemaless_timestamp_to_unix() {
        let x = value_xform(&[("target.type", "unix")]);
        let out = apply_value(&x, None, Value::Timestamp(DATE_PLUS_TIME_UNIX));
        assert_eq!(out.value, Value::Int64(DATE_PLUS_TIME_UNIX));
    }

    // TimestampConverterTest.testSchemalessTimestampToString
    #[test]
    fn schemaless_timestamp_to_string() {
        let x = value_xform(&[("target.type", "string"), ("format", STRING_DATE_FMT)]);
        let out = apply_value(&x, None, Value::Timestamp(DATE_PLUS_TIME_UNIX));
        assert_eq!(out.value_schema, None);
        assert_eq!(out.value, Value::from(DATE_PLUS_TIME_STRING));
    }

    // Conversions without schemas (core types -> most flexible Timestamp format)

    // TimestampConverterTest.testSchemalessDateToTimestamp
    #[test]
    fn schemaless_date_to_timestamp() {
        let x = value_xform(&[("target.type", "Timestamp")]);
        // No change expected since the source type is coarser-grained.
        let out = apply_value(&x, None, Value::Date(1));
        assert_eq!(out.value, Value::Timestamp(DATE_MS));
    }

    // TimestampConverterTest.testSchemalessTimeToTimestamp
    #[test]
    fn schemaless_time_to_timestamp() {
        let x = value_xform(&[("target.type", "Timestamp")]);
        let out = apply_value(&x, None, Value::Time(TIME_MS as i32));
        assert_eq!(out.value, Value::Timestamp(TIME_MS));
    }

    // TimestampConverterTest.testSchemalessUnixToTimestamp
    #[test]
    fn schemaless_unix_to_timestamp() {
        let x = value_xform(&[("target.type", "Timestamp")]);
        let out = apply_value(&x, None, Value::Int64(DATE_PLUS_TIME_UNIX));
        assert_eq!(out.value, Value::Timestamp(DATE_PLUS_TIME_UNIX));
    }

    // TimestampConverterTest.testSchemalessStringToTimestamp
    #[test]
    fn schemaless_string_to_timestamp() {
        let x = value_xform(&[("target.type", "Timestamp"), ("format", STRING_DATE_FMT)]);
        let out = apply_value(&x, None, Value::from(DATE_PLUS_TIME_STRING));
        assert_eq!(out.value, Value::Timestamp(DATE_PLUS_TIME_UNIX));
    }

    // TimestampConverterTest.testSchemalessNullValueToString and friends
    #[test]
    fn schemaless_null_value_stays_null() {
        for target in ["string", "unix", "Date", "Time", "Timestamp"] {
            let x = value_xform(&[("target.type", target), ("format", STRING_DATE_FMT)]);
            let out = apply_value(&x, None, Value::Null);
            assert_eq!(
                (out.value_schema, out.value),
                (None, Value::Null),
                "{target}"
            );
        }
    }

    // Conversions with schemas (most flexible Timestamp -> other types)

    fn ts_schema() -> SchemaRef {
        SchemaBuilder::timestamp().build()
    }

    // TimestampConverterTest.testWithSchemaIdentity
    #[test]
    fn with_schema_identity() {
        let x = value_xform(&[("target.type", "Timestamp")]);
        let out = apply_value(&x, Some(ts_schema()), Value::Timestamp(DATE_PLUS_TIME_UNIX));
        assert_eq!(out.value_schema, Some(ts_schema()));
        assert_eq!(out.value, Value::Timestamp(DATE_PLUS_TIME_UNIX));
    }

    // TimestampConverterTest.testWithSchemaTimestampToDate
    #[test]
    fn with_schema_timestamp_to_date() {
        let x = value_xform(&[("target.type", "Date")]);
        let out = apply_value(&x, Some(ts_schema()), Value::Timestamp(DATE_PLUS_TIME_UNIX));
        assert_eq!(out.value_schema, Some(SchemaBuilder::date().build()));
        assert_eq!(out.value, Value::Date(1));
    }

    // TimestampConverterTest.testWithSchemaTimestampToTime
    #[test]
    fn with_schema_timestamp_to_time() {
        let x = value_xform(&[("target.type", "Time")]);
        let out = apply_value(&x, Some(ts_schema()), Value::Timestamp(DATE_PLUS_TIME_UNIX));
        assert_eq!(out.value_schema, Some(SchemaBuilder::time().build()));
        assert_eq!(out.value, Value::Time(TIME_MS as i32));
    }

    // TimestampConverterTest.testWithSchemaTimestampToUnix
    #[test]
    fn with_schema_timestamp_to_unix() {
        let x = value_xform(&[("target.type", "unix")]);
        let out = apply_value(&x, Some(ts_schema()), Value::Timestamp(DATE_PLUS_TIME_UNIX));
        assert_eq!(out.value_schema, Some(SchemaBuilder::int64().build()));
        assert_eq!(out.value, Value::Int64(DATE_PLUS_TIME_UNIX));
    }

    // TimestampConverterTest.testWithSchemaTimestampToString
    #[test]
    fn with_schema_timestamp_to_string() {
        let x = value_xform(&[("target.type", "string"), ("format", STRING_DATE_FMT)]);
        let out = apply_value(&x, Some(ts_schema()), Value::Timestamp(DATE_PLUS_TIME_UNIX));
        assert_eq!(out.value_schema, Some(SchemaBuilder::string().build()));
        assert_eq!(out.value, Value::from(DATE_PLUS_TIME_STRING));
    }

    // TimestampConverterTest.testWithSchemaNullValueToTimestamp and friends
    #[test]
    fn with_schema_null_value_keeps_optionality() {
        let x = value_xform(&[("target.type", "Timestamp")]);
        let optional_unix = SchemaBuilder::int64().optional().build();
        let out = apply_value(&x, Some(optional_unix), Value::Null);
        assert_eq!(
            out.value_schema,
            Some(SchemaBuilder::timestamp().optional().build())
        );
        assert_eq!(out.value, Value::Null);
    }

    // Conversions with schemas (core types -> most flexible Timestamp format)

    // TimestampConverterTest.testWithSchemaDateToTimestamp
    #[test]
    fn with_schema_date_to_timestamp() {
        let x = value_xform(&[("target.type", "Timestamp")]);
        let out = apply_value(&x, Some(SchemaBuilder::date().build()), Value::Date(1));
        assert_eq!(out.value_schema, Some(ts_schema()));
        assert_eq!(out.value, Value::Timestamp(DATE_MS));
    }

    // TimestampConverterTest.testWithSchemaTimeToTimestamp
    #[test]
    fn with_schema_time_to_timestamp() {
        let x = value_xform(&[("target.type", "Timestamp")]);
        let out = apply_value(
            &x,
            Some(SchemaBuilder::time().build()),
            Value::Time(TIME_MS as i32),
        );
        assert_eq!(out.value_schema, Some(ts_schema()));
        assert_eq!(out.value, Value::Timestamp(TIME_MS));
    }

    // TimestampConverterTest.testWithSchemaUnixToTimestamp
    #[test]
    fn with_schema_unix_to_timestamp() {
        let x = value_xform(&[("target.type", "Timestamp")]);
        let out = apply_value(
            &x,
            Some(SchemaBuilder::int64().build()),
            Value::Int64(DATE_PLUS_TIME_UNIX),
        );
        assert_eq!(out.value_schema, Some(ts_schema()));
        assert_eq!(out.value, Value::Timestamp(DATE_PLUS_TIME_UNIX));
    }

    // TimestampConverterTest.testWithSchemaStringToTimestamp
    #[test]
    fn with_schema_string_to_timestamp() {
        let x = value_xform(&[("target.type", "Timestamp"), ("format", STRING_DATE_FMT)]);
        let out = apply_value(
            &x,
            Some(SchemaBuilder::string().build()),
            Value::from(DATE_PLUS_TIME_STRING),
        );
        assert_eq!(out.value_schema, Some(ts_schema()));
        assert_eq!(out.value, Value::Timestamp(DATE_PLUS_TIME_UNIX));
    }

    // The unix.precision tests of KIP-808 (TimestampConverterTest's *_Seconds,
    // *_Micros, *_Nanos variants, e.g. testSchemalessStringToUnix_Micros).
    #[test]
    fn unix_precisions_both_ways() {
        for (precision, unix) in [
            ("seconds", DATE_PLUS_TIME_UNIX_SECONDS),
            ("milliseconds", DATE_PLUS_TIME_UNIX),
            ("microseconds", DATE_PLUS_TIME_UNIX_MICROS),
            ("nanoseconds", DATE_PLUS_TIME_UNIX_NANOS),
        ] {
            let to_unix = value_xform(&[("target.type", "unix"), ("unix.precision", precision)]);
            let out = apply_value(&to_unix, None, Value::Timestamp(DATE_PLUS_TIME_UNIX));
            assert_eq!(out.value, Value::Int64(unix), "{precision}");
            let from_unix =
                value_xform(&[("target.type", "Timestamp"), ("unix.precision", precision)]);
            let out = apply_value(
                &from_unix,
                Some(SchemaBuilder::int64().build()),
                Value::Int64(unix),
            );
            // Seconds lose the milliseconds.
            let expected = if precision == "seconds" {
                DATE_PLUS_TIME_UNIX_SECONDS * 1000
            } else {
                DATE_PLUS_TIME_UNIX
            };
            assert_eq!(out.value, Value::Timestamp(expected), "{precision}");
        }
        // A string parsed to unix microseconds (testSchemalessStringToUnix_Micros).
        let x = value_xform(&[
            ("target.type", "unix"),
            ("format", STRING_DATE_FMT),
            ("unix.precision", "microseconds"),
        ]);
        let out = apply_value(&x, None, Value::from(DATE_PLUS_TIME_STRING));
        assert_eq!(out.value, Value::Int64(DATE_PLUS_TIME_UNIX_MICROS));
        // Sub-millisecond parts are truncated (TimeUnit.MICROSECONDS.toMillis).
        let x = value_xform(&[
            ("target.type", "string"),
            ("format", STRING_DATE_FMT),
            ("unix.precision", "microseconds"),
        ]);
        let out = apply_value(&x, None, Value::Int64(DATE_PLUS_TIME_UNIX_MICROS + 567));
        assert_eq!(out.value, Value::from(DATE_PLUS_TIME_STRING));
    }

    // Convert field instead of entire key/value

    // TimestampConverterTest.testSchemalessFieldConversion
    #[test]
    fn schemaless_field_conversion() {
        let x = value_xform(&[("target.type", "Date"), ("field", "ts")]);
        let map = Value::Map(vec![(
            Value::from("ts"),
            Value::Timestamp(DATE_PLUS_TIME_UNIX),
        )]);
        let out = apply_value(&x, None, map);
        assert_eq!(out.value_schema, None);
        assert_eq!(
            out.value,
            Value::Map(vec![(Value::from("ts"), Value::Date(1))])
        );
    }

    // TimestampConverterTest.testWithSchemaFieldConversion
    #[test]
    fn with_schema_field_conversion() {
        let x = value_xform(&[("target.type", "Timestamp"), ("field", "ts")]);
        let schema = SchemaBuilder::struct_()
            .field("ts", SchemaBuilder::int64().build())
            .field("other", SchemaBuilder::string().build())
            .build();
        let original = Struct::new(schema.clone())
            .put("ts", DATE_PLUS_TIME_UNIX)
            .unwrap()
            .put("other", "test")
            .unwrap();
        let out = apply_value(&x, Some(schema), Value::Struct(original));
        let expected_schema = SchemaBuilder::struct_()
            .field("ts", ts_schema())
            .field("other", SchemaBuilder::string().build())
            .build();
        assert_eq!(out.value_schema, Some(expected_schema));
        let s = out.value.as_struct().unwrap();
        assert_eq!(s.get("ts"), Some(&Value::Timestamp(DATE_PLUS_TIME_UNIX)));
        assert_eq!(s.get("other"), Some(&Value::from("test")));
    }

    // TimestampConverterTest.testWithSchemaNullFieldToTimestamp (its helper
    // testWithSchemaNullFieldConversion: null field, then null struct)
    #[test]
    fn with_schema_null_field_and_null_struct() {
        let x = value_xform(&[("target.type", "Timestamp"), ("field", "ts")]);
        let schema = SchemaBuilder::struct_()
            .field("ts", SchemaBuilder::int64().optional().build())
            .field("other", SchemaBuilder::string().optional().build())
            .optional()
            .build();
        let expected_schema = SchemaBuilder::struct_()
            .field("ts", SchemaBuilder::timestamp().optional().build())
            .field("other", SchemaBuilder::string().optional().build())
            .optional()
            .build();
        let out = apply_value(
            &x,
            Some(schema.clone()),
            Value::Struct(Struct::new(schema.clone())),
        );
        assert_eq!(out.value_schema, Some(expected_schema.clone()));
        assert_eq!(out.value.as_struct().unwrap().get("ts"), Some(&Value::Null));
        // A null struct stays null, with the updated schema.
        let out = apply_value(&x, Some(schema), Value::Null);
        assert_eq!(out.value_schema, Some(expected_schema));
        assert_eq!(out.value, Value::Null);
    }

    // TimestampConverterTest.testSchemalessNullFieldToTimestamp and friends
    // (helper testSchemalessNullFieldConversion); a map without the field
    // gets it as null too (Java's HashMap.put of the converted null).
    #[test]
    fn schemaless_null_or_missing_field_is_null() {
        for target in ["string", "unix", "Date", "Time", "Timestamp"] {
            let x = value_xform(&[
                ("target.type", target),
                ("format", STRING_DATE_FMT),
                ("field", "ts"),
            ]);
            let null_ts = Value::Map(vec![(Value::from("ts"), Value::Null)]);
            let out = apply_value(&x, None, null_ts.clone());
            assert_eq!((out.value_schema, out.value), (None, null_ts), "{target}");
        }
        let x = value_xform(&[("target.type", "unix"), ("field", "ts")]);
        let out = apply_value(
            &x,
            None,
            Value::Map(vec![(Value::from("a"), Value::Int32(1))]),
        );
        assert_eq!(
            out.value,
            Value::Map(vec![
                (Value::from("a"), Value::Int32(1)),
                (Value::from("ts"), Value::Null)
            ])
        );
    }

    // KIP-1040 replace.null.with.default (no Java test in the version read).
    #[test]
    fn replace_null_with_default_for_fields() {
        let schema = SchemaBuilder::struct_()
            .field(
                "ts",
                SchemaBuilder::int64()
                    .optional()
                    .default_value(Value::Int64(DATE_PLUS_TIME_UNIX))
                    .build(),
            )
            .build();
        let value = Struct::new(schema.clone());
        for (replace, expected) in [
            ("true", Value::Timestamp(DATE_PLUS_TIME_UNIX)),
            ("false", Value::Null),
        ] {
            let x = value_xform(&[
                ("target.type", "Timestamp"),
                ("field", "ts"),
                ("replace.null.with.default", replace),
            ]);
            let out = apply_value(&x, Some(schema.clone()), Value::Struct(value.clone()));
            assert_eq!(
                out.value.as_struct().unwrap().raw_values()[0],
                expected,
                "{replace}"
            );
        }
    }

    // KIP-821 field.syntax.version=V2 (no TimestampConverterTest case read).
    #[test]
    fn nested_fields_with_field_syntax_v2() {
        let inner = SchemaBuilder::struct_()
            .field("ts", SchemaBuilder::int64().build())
            .build();
        let schema = SchemaBuilder::struct_()
            .field("outer", inner.clone())
            .field("a.b", SchemaBuilder::int64().build())
            .build();
        let value = Struct::new(schema.clone())
            .put(
                "outer",
                Struct::new(inner).put("ts", DATE_PLUS_TIME_UNIX).unwrap(),
            )
            .unwrap()
            .put("a.b", 5i64)
            .unwrap();
        let x = value_xform(&[
            ("target.type", "Date"),
            ("field", "outer.ts"),
            ("field.syntax.version", "v2"),
        ]);
        let out = apply_value(&x, Some(schema.clone()), Value::Struct(value.clone()));
        let outer = out.value.as_struct().unwrap().get("outer").unwrap().clone();
        assert_eq!(outer.as_struct().unwrap().get("ts"), Some(&Value::Date(1)));
        assert_eq!(
            out.value_schema
                .unwrap()
                .field("outer")
                .unwrap()
                .schema
                .field("ts")
                .unwrap()
                .schema,
            SchemaBuilder::date().build()
        );
        // Backticks keep a dotted name whole.
        let x = value_xform(&[
            ("target.type", "Timestamp"),
            ("field", "`a.b`"),
            ("field.syntax.version", "V2"),
        ]);
        let out = apply_value(&x, Some(schema), Value::Struct(value));
        assert_eq!(
            out.value.as_struct().unwrap().get("a.b"),
            Some(&Value::Timestamp(5))
        );
        // Schemaless nested maps.
        let x = value_xform(&[
            ("target.type", "unix"),
            ("field", "outer.ts"),
            ("field.syntax.version", "V2"),
        ]);
        let map = Value::Map(vec![(
            Value::from("outer"),
            Value::Map(vec![(Value::from("ts"), Value::Timestamp(7))]),
        )]);
        let out = apply_value(&x, None, map);
        assert_eq!(
            out.value,
            Value::Map(vec![(
                Value::from("outer"),
                Value::Map(vec![(Value::from("ts"), Value::Int64(7))]),
            )])
        );
        // V1 treats the dots as part of the name.
        let x = value_xform(&[("target.type", "unix"), ("field", "outer.ts")]);
        let map = Value::Map(vec![(Value::from("outer.ts"), Value::Timestamp(7))]);
        let out = apply_value(&x, None, map);
        assert_eq!(
            out.value,
            Value::Map(vec![(Value::from("outer.ts"), Value::Int64(7))])
        );
    }

    // Cases in the style of SingleFieldPathTest / FieldPathNotationTest (V2).
    #[test]
    fn field_path_v2_syntax() {
        let p = |s: &str| field_path_v2(s).unwrap();
        assert_eq!(p("foo"), ["foo"]);
        assert_eq!(p("foo.bar"), ["foo", "bar"]);
        assert_eq!(p("`foo.bar`.baz"), ["foo.bar", "baz"]);
        assert_eq!(p("foo.`bar.baz`"), ["foo", "bar.baz"]);
        assert_eq!(p("foo."), ["foo", ""]);
        assert_eq!(p("`foo\\`.bar`.baz"), ["foo`.bar", "baz"]);
        assert!(field_path_v2("`foo.bar").is_err());
        let (key, message) = config_error(&[
            ("target.type", "unix"),
            ("field", "`foo.bar"),
            ("field.syntax.version", "V2"),
        ]);
        assert_eq!(key, "field");
        assert!(message.contains("Incomplete backtick pair"), "{message}");
        assert_eq!(
            config_error(&[("target.type", "unix"), ("field.syntax.version", "V3")]).0,
            "field.syntax.version"
        );
    }

    // Validate Key implementation in addition to Value

    // TimestampConverterTest.testKey
    #[test]
    fn key() {
        let mut x = TimestampConverter::new(Part::Key);
        x.configure(&props_of(&[("target.type", "Timestamp")]))
            .unwrap();
        let r = ConnectRecord::new("topic", None, Value::from("v"))
            .with_key(None, Value::Timestamp(DATE_PLUS_TIME_UNIX));
        let out = x.apply(r).unwrap().unwrap();
        assert_eq!(out.key_schema, None);
        assert_eq!(out.key, Value::Timestamp(DATE_PLUS_TIME_UNIX));
        assert_eq!(out.value, Value::from("v"));
    }

    #[test]
    fn wrong_inputs_fail_like_java() {
        let x = value_xform(&[("target.type", "Timestamp")]);
        let err = x
            .apply(ConnectRecord::new("t", None, Value::Int32(1)))
            .unwrap_err();
        assert_eq!(
            err.message,
            "TimestampConverter does not support class java.lang.Integer objects as timestamps"
        );
        let err = x
            .apply(ConnectRecord::new(
                "t",
                Some(SchemaBuilder::int32().build()),
                Value::Int32(1),
            ))
            .unwrap_err();
        assert_eq!(
            err.message,
            "Schema Schema{INT32} does not correspond to a known timestamp type format"
        );
        let x = value_xform(&[("target.type", "Timestamp"), ("format", "yyyy-MM-dd")]);
        let err = x
            .apply(ConnectRecord::new("t", None, Value::from("nope")))
            .unwrap_err();
        assert_eq!(
            err.message,
            "Could not parse timestamp: value (nope) does not match pattern (yyyy-MM-dd)"
        );
        let x = value_xform(&[("target.type", "Timestamp"), ("field", "ts")]);
        let err = x
            .apply(ConnectRecord::new("t", None, Value::from("s")))
            .unwrap_err();
        assert_eq!(
            err.message,
            "Only Map objects supported in absence of schema for [converting timestamp formats], found: java.lang.String"
        );
    }

    #[test]
    fn field_conversion_needs_a_struct() {
        let x = value_xform(&[("target.type", "Timestamp"), ("field", "ts")]);
        let int64 = SchemaBuilder::int64().optional().build();
        let err = x
            .apply(ConnectRecord::new(
                "t",
                Some(int64.clone()),
                Value::Int64(1),
            ))
            .unwrap_err();
        assert_eq!(
            err.message,
            "Only Struct objects supported for [converting timestamp formats], found: java.lang.Long"
        );
        let err = x
            .apply(ConnectRecord::new("t", Some(int64), Value::Null))
            .unwrap_err();
        assert_eq!(err.message, "Cannot list fields on non-struct type");
    }

    #[test]
    fn chain_errors_carry_the_full_key() {
        use crate::transforms::TransformChain;
        let err = TransformChain::from_props(&props_of(&[
            ("transforms", "ts"),
            ("transforms.ts.type", "TimestampConverter$Value"),
            ("transforms.ts.target.type", "string"),
        ]))
        .unwrap_err();
        assert_eq!(err.key, "transforms.ts.format");
        let err = TransformChain::from_props(&props_of(&[
            ("transforms", "ts"),
            ("transforms.ts.type", "TimestampConverter$Value"),
        ]))
        .unwrap_err();
        assert_eq!(err.key, "transforms.ts.target.type");
    }

    #[test]
    fn registered_under_java_names() {
        for n in [
            "org.apache.kafka.connect.transforms.TimestampConverter$Key",
            "org.apache.kafka.connect.transforms.TimestampConverter$Value",
            "TimestampConverter$Value",
        ] {
            assert!(crate::transforms::find_transform(n).is_some(), "{n}");
        }
    }

    // java.text.SimpleDateFormat behaviour, no Connect test: expected strings
    // are what the JDK prints in UTC with US names.

    #[test]
    fn simple_date_format_formats_like_java() {
        let f = |p: &str, ms: i64| JavaDateFormat::new(p).unwrap().format(ms);
        // 2017-01-03T06:30:01.864Z, a Tuesday.
        let t = 1_483_425_001_864;
        assert_eq!(f("yyyyMMdd", t), "20170103");
        assert_eq!(
            f("yyyy-MM-dd'T'HH:mm:ss.SSSZ", t),
            "2017-01-03T06:30:01.864+0000"
        );
        assert_eq!(
            f("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", t),
            "2017-01-03T06:30:01.864Z"
        );
        assert_eq!(f("yy/M/d h:mm a", t), "17/1/3 6:30 AM");
        assert_eq!(
            f("EEE, d MMM yyyy HH:mm:ss z", t),
            "Tue, 3 Jan 2017 06:30:01 UTC"
        );
        assert_eq!(f("EEEE MMMM dd G", t), "Tuesday January 03 AD");
        assert_eq!(f("D w W F u k K", t), "3 1 1 1 2 6 6");
        assert_eq!(
            f("hh 'o''clock' a, zzzz", t + 8 * 3_600_000),
            "02 o'clock PM, Coordinated Universal Time"
        );
        assert_eq!(f("''yyyy''", 0), "'1970'");
        assert_eq!(f("S SS SSSS", 7), "7 07 0007");
        // Before the epoch.
        assert_eq!(f("yyyy-MM-dd HH:mm:ss.SSS", -1), "1969-12-31 23:59:59.999");
        // Week-year rollover: 2016-12-31 is a Saturday in week 53, 2017-12-31
        // a Sunday in week 1 of 2018 (US rules).
        let d = |y, m, d| days_from_civil(y, m, d) * MILLIS_PER_DAY;
        assert_eq!(f("YYYY-ww", d(2016, 12, 31)), "2016-53");
        assert_eq!(f("YYYY-ww", d(2017, 12, 31)), "2018-01");
    }

    #[test]
    fn simple_date_format_rejects_bad_patterns() {
        assert_eq!(
            JavaDateFormat::new("bad-format").unwrap_err(),
            "Illegal pattern character 'b'"
        );
        assert_eq!(
            JavaDateFormat::new("yyyy'T").unwrap_err(),
            "Unterminated quote"
        );
        assert_eq!(
            JavaDateFormat::new("XXXX").unwrap_err(),
            "invalid ISO 8601 format: length=4"
        );
        assert!(JavaDateFormat::new("yyyy-MM-dd'T'HH:mm:ss.SSSX").is_ok());
    }

    #[test]
    fn simple_date_format_parses_like_java() {
        let p = |pat: &str, s: &str| JavaDateFormat::new(pat).unwrap().parse(s);
        let t = 1_483_425_001_864;
        assert_eq!(
            p("yyyy-MM-dd'T'HH:mm:ss.SSSZ", "2017-01-03T06:30:01.864+0000"),
            Some(t)
        );
        assert_eq!(
            p(
                "yyyy-MM-dd'T'HH:mm:ss.SSSXXX",
                "2017-01-03T07:30:01.864+01:00"
            ),
            Some(t)
        );
        assert_eq!(
            p("yyyy-MM-dd'T'HH:mm:ss.SSSX", "2017-01-03T06:30:01.864Z"),
            Some(t)
        );
        assert_eq!(p("yyyyMMddHHmmssSSS", "20170103063001864"), Some(t));
        assert_eq!(
            p(
                "EEE, d MMM yyyy HH:mm:ss.SSS z",
                "Tue, 3 jan 2017 06:30:01.864 GMT"
            ),
            Some(t)
        );
        assert_eq!(
            p("h:mm:ss.SSS a yyyy-MM-dd", "6:30:01.864 AM 2017-01-03"),
            Some(t)
        );
        assert_eq!(p("h a", "12 PM"), Some(12 * 3_600_000));
        assert_eq!(p("h a", "12 AM"), Some(0));
        // Lenient: month 13 is January of the next year; trailing text ignored.
        assert_eq!(p("yyyy-MM-dd", "2016-13-03"), p("yyyy-MM-dd", "2017-01-03"));
        assert_eq!(
            p("yyyy-MM-dd", "2017-01-03 and more"),
            Some(days_from_civil(2017, 1, 3) * MILLIS_PER_DAY)
        );
        // Literals must match; digits are required.
        assert_eq!(p("yyyy-MM-dd", "2017/01/03"), None);
        assert_eq!(p("yyyy-MM-dd", "x"), None);
        // Round trip through the converter's test format.
        let fmt = JavaDateFormat::new(STRING_DATE_FMT).unwrap();
        assert_eq!(fmt.parse(&fmt.format(t)), Some(t));
    }
}
