//! PostgreSQL column types to Connect schemas and values, as Debezium
//! 3.6.1's PostgresConnector maps them (`PostgresValueConverter`), for the
//! settings `decimal.handling.mode`, `time.precision.mode`,
//! `binary.handling.mode`, `interval.handling.mode`.
//!
//! Values arrive in PostgreSQL's text output format, from pgoutput and from
//! the snapshot's queries alike (the sessions run with `TimeZone=UTC`,
//! `DateStyle=ISO`, `IntervalStyle=postgres`), so one parser serves both.

use base64::Engine as _;
use jiff::civil;

use super::config::{BinaryMode, DecimalMode, Representation, TimePrecision};
use crate::connect::{Decimal, SchemaBuilder, SchemaRef, Struct, Value};

/// A column type, resolved from `pg_type` (by OID or name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgType {
    Bool,
    Int2,
    Int4,
    Int8,
    Oid,
    Float4,
    Float8,
    /// `numeric(p, s)`; `None` without a declared scale.
    Numeric {
        precision: Option<i32>,
        scale: Option<i32>,
    },
    Money,
    /// text, varchar, char(n), name, citext.
    Text,
    Bytea,
    Date,
    /// `time(p)`: fractional-second digits (6 when undeclared).
    Time(i32),
    TimeTz(i32),
    Timestamp(i32),
    TimestampTz(i32),
    Interval,
    Uuid,
    Json,
    Xml,
    /// inet, cidr, macaddr, macaddr8, and other types Debezium maps to a
    /// plain string.
    PlainString,
    Enum(Vec<String>),
    Array(Box<PgType>),
    /// A type without a mapping, by name.
    Unknown(String),
}

impl PgType {
    /// From a `pg_type.typname` (arrays start with `_`), the attribute's
    /// type modifier, and the labels when it is an enum.
    pub fn from_name(name: &str, typmod: i32, enum_labels: Option<Vec<String>>) -> PgType {
        if let Some(labels) = enum_labels {
            return PgType::Enum(labels);
        }
        if let Some(element) = name.strip_prefix('_') {
            return PgType::Array(Box::new(PgType::from_name(element, typmod, None)));
        }
        let fraction = || if typmod >= 0 { typmod } else { 6 };
        match name {
            "bool" => PgType::Bool,
            "int2" | "smallserial" => PgType::Int2,
            "int4" | "serial" => PgType::Int4,
            "int8" | "bigserial" => PgType::Int8,
            "oid" => PgType::Oid,
            "float4" => PgType::Float4,
            "float8" => PgType::Float8,
            "numeric" | "decimal" => {
                if typmod < 4 {
                    PgType::Numeric {
                        precision: None,
                        scale: None,
                    }
                } else {
                    let m = typmod - 4;
                    PgType::Numeric {
                        precision: Some((m >> 16) & 0xffff),
                        scale: Some(m & 0xffff),
                    }
                }
            }
            "money" => PgType::Money,
            "text" | "varchar" | "bpchar" | "char" | "name" | "citext" => PgType::Text,
            "bytea" => PgType::Bytea,
            "date" => PgType::Date,
            "time" => PgType::Time(fraction()),
            "timetz" => PgType::TimeTz(fraction()),
            "timestamp" => PgType::Timestamp(fraction()),
            "timestamptz" => PgType::TimestampTz(fraction()),
            "interval" => PgType::Interval,
            "uuid" => PgType::Uuid,
            "json" | "jsonb" => PgType::Json,
            "xml" => PgType::Xml,
            "inet" | "cidr" | "macaddr" | "macaddr8" | "tsvector" | "ltree" => PgType::PlainString,
            other => PgType::Unknown(other.to_owned()),
        }
    }
}

/// A type Debezium has no mapping for; the column is named by the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("type {0} has no mapping (include.unknown.datatypes=true emits it as text)")]
pub struct UnmappedType(pub String);

/// The Connect schema of a column (without optional/default, which the
/// caller adds from the column's nullability and default).
pub fn schema_builder(ty: &PgType, repr: &Representation) -> Result<SchemaBuilder, UnmappedType> {
    let named = |b: SchemaBuilder, name: &str| b.name(name).version(1);
    Ok(match ty {
        PgType::Bool => SchemaBuilder::boolean(),
        PgType::Int2 => SchemaBuilder::int16(),
        PgType::Int4 => SchemaBuilder::int32(),
        PgType::Int8 | PgType::Oid => SchemaBuilder::int64(),
        PgType::Float4 => SchemaBuilder::float32(),
        PgType::Float8 => SchemaBuilder::float64(),
        PgType::Numeric { precision, scale } => match repr.decimal {
            DecimalMode::Double => SchemaBuilder::float64(),
            DecimalMode::String => SchemaBuilder::string(),
            DecimalMode::Precise => match scale {
                Some(scale) => {
                    let mut b = SchemaBuilder::decimal(*scale);
                    if let Some(p) = precision {
                        b = b.parameter("connect.decimal.precision", p.to_string());
                    }
                    b
                }
                None => variable_scale_decimal(),
            },
        },
        PgType::Money => match repr.decimal {
            DecimalMode::Double => SchemaBuilder::float64(),
            DecimalMode::String => SchemaBuilder::string(),
            DecimalMode::Precise => SchemaBuilder::decimal(2),
        },
        PgType::Text | PgType::PlainString => SchemaBuilder::string(),
        PgType::Bytea => match repr.binary {
            BinaryMode::Bytes => SchemaBuilder::bytes(),
            _ => SchemaBuilder::string(),
        },
        PgType::Date => match repr.time {
            TimePrecision::Connect => SchemaBuilder::date(),
            _ => named(SchemaBuilder::int32(), "io.debezium.time.Date"),
        },
        PgType::Time(p) => match repr.time {
            TimePrecision::Connect => SchemaBuilder::time(),
            TimePrecision::Adaptive if *p <= 3 => {
                named(SchemaBuilder::int32(), "io.debezium.time.Time")
            }
            _ => named(SchemaBuilder::int64(), "io.debezium.time.MicroTime"),
        },
        PgType::TimeTz(_) => named(SchemaBuilder::string(), "io.debezium.time.ZonedTime"),
        PgType::Timestamp(p) => match repr.time {
            TimePrecision::Connect => SchemaBuilder::timestamp(),
            _ if *p <= 3 => named(SchemaBuilder::int64(), "io.debezium.time.Timestamp"),
            _ => named(SchemaBuilder::int64(), "io.debezium.time.MicroTimestamp"),
        },
        PgType::TimestampTz(_) => named(SchemaBuilder::string(), "io.debezium.time.ZonedTimestamp"),
        PgType::Interval => {
            if repr.interval_numeric {
                named(SchemaBuilder::int64(), "io.debezium.time.MicroDuration")
            } else {
                named(SchemaBuilder::string(), "io.debezium.time.Interval")
            }
        }
        PgType::Uuid => named(SchemaBuilder::string(), "io.debezium.data.Uuid"),
        PgType::Json => named(SchemaBuilder::string(), "io.debezium.data.Json"),
        PgType::Xml => named(SchemaBuilder::string(), "io.debezium.data.Xml"),
        PgType::Enum(labels) => named(SchemaBuilder::string(), "io.debezium.data.Enum")
            .parameter("allowed", labels.join(",")),
        PgType::Array(element) => {
            SchemaBuilder::array(schema_builder(element, repr)?.optional().build())
        }
        PgType::Unknown(name) => {
            if repr.include_unknown {
                SchemaBuilder::bytes()
            } else {
                return Err(UnmappedType(name.clone()));
            }
        }
    })
}

/// Debezium's struct for a numeric without a declared scale.
fn variable_scale_decimal() -> SchemaBuilder {
    SchemaBuilder::struct_()
        .name("io.debezium.data.VariableScaleDecimal")
        .version(1)
        .doc("Variable scaled decimal")
        .field("scale", SchemaBuilder::int32().build())
        .field("value", SchemaBuilder::bytes().build())
}

/// Why a text value does not parse as its column's type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a valid {ty}")]
pub struct BadValue {
    pub text: String,
    pub ty: String,
}

fn bad(text: &str, ty: &str) -> BadValue {
    BadValue {
        text: text.chars().take(64).collect(),
        ty: ty.to_owned(),
    }
}

/// A column value from PostgreSQL's text output; `schema` is the column's
/// (for struct-valued types).
pub fn value(
    ty: &PgType,
    text: &str,
    repr: &Representation,
    schema: &SchemaRef,
) -> Result<Value, BadValue> {
    Ok(match ty {
        PgType::Bool => Value::Boolean(match text {
            "t" | "true" => true,
            "f" | "false" => false,
            _ => return Err(bad(text, "boolean")),
        }),
        PgType::Int2 => Value::Int16(text.parse().map_err(|_| bad(text, "int2"))?),
        PgType::Int4 => Value::Int32(text.parse().map_err(|_| bad(text, "int4"))?),
        PgType::Int8 | PgType::Oid => Value::Int64(text.parse().map_err(|_| bad(text, "int8"))?),
        PgType::Float4 => Value::Float32(float(text).map_err(|_| bad(text, "float4"))? as f32),
        PgType::Float8 => Value::Float64(float(text).map_err(|_| bad(text, "float8"))?),
        PgType::Numeric { scale, .. } => numeric(text, *scale, repr, schema)?,
        PgType::Money => {
            // Output as in the lc_monetary locale (C: "$1,234.50").
            let plain: String = text
                .chars()
                .filter(|c| c.is_ascii_digit() || matches!(c, '.' | '-'))
                .collect();
            numeric(&plain, Some(2), repr, schema).map_err(|_| bad(text, "money"))?
        }
        PgType::Text | PgType::PlainString | PgType::Json | PgType::Xml | PgType::Uuid => {
            Value::String(text.to_owned())
        }
        PgType::Enum(_) => Value::String(text.to_owned()),
        PgType::TimeTz(_) => Value::String(zoned_time(text).ok_or_else(|| bad(text, "timetz"))?),
        PgType::Bytea => {
            let bytes = bytea(text).ok_or_else(|| bad(text, "bytea"))?;
            match repr.binary {
                BinaryMode::Bytes => Value::Bytes(bytes),
                BinaryMode::Base64 => {
                    Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
                }
                BinaryMode::Base64UrlSafe => {
                    Value::String(base64::engine::general_purpose::URL_SAFE.encode(bytes))
                }
                BinaryMode::Hex => {
                    Value::String(bytes.iter().map(|b| format!("{b:02x}")).collect())
                }
            }
        }
        PgType::Date => {
            let days = days_since_epoch(text).ok_or_else(|| bad(text, "date"))?;
            match repr.time {
                TimePrecision::Connect => Value::Date(days),
                _ => Value::Int32(days),
            }
        }
        PgType::Time(p) => {
            let micros = time_micros(text).ok_or_else(|| bad(text, "time"))?;
            match repr.time {
                TimePrecision::Connect => Value::Time((micros / 1000) as i32),
                TimePrecision::Adaptive if *p <= 3 => Value::Int32((micros / 1000) as i32),
                _ => Value::Int64(micros),
            }
        }
        PgType::Timestamp(p) => {
            let micros = timestamp_micros(text).ok_or_else(|| bad(text, "timestamp"))?;
            match repr.time {
                TimePrecision::Connect => Value::Timestamp(micros.div_euclid(1000)),
                _ if *p <= 3 => Value::Int64(micros.div_euclid(1000)),
                _ => Value::Int64(micros),
            }
        }
        PgType::TimestampTz(p) => {
            Value::String(zoned_timestamp(text, *p).ok_or_else(|| bad(text, "timestamptz"))?)
        }
        PgType::Interval => {
            if repr.interval_numeric {
                Value::Int64(interval_micros(text).ok_or_else(|| bad(text, "interval"))?)
            } else {
                Value::String(interval_iso(text).ok_or_else(|| bad(text, "interval"))?)
            }
        }
        PgType::Array(element) => {
            let items = array_items(text).ok_or_else(|| bad(text, "array"))?;
            let element_schema = schema
                .value_schema
                .clone()
                .ok_or_else(|| bad(text, "array"))?;
            Value::Array(
                items
                    .into_iter()
                    .map(|item| match item {
                        None => Ok(Value::Null),
                        Some(t) => value(element, &t, repr, &element_schema),
                    })
                    .collect::<Result<_, _>>()?,
            )
        }
        PgType::Unknown(_) => Value::Bytes(text.as_bytes().to_vec()),
    })
}

fn float(text: &str) -> Result<f64, std::num::ParseFloatError> {
    match text {
        "NaN" => Ok(f64::NAN),
        "Infinity" => Ok(f64::INFINITY),
        "-Infinity" => Ok(f64::NEG_INFINITY),
        t => t.parse(),
    }
}

fn numeric(
    text: &str,
    scale: Option<i32>,
    repr: &Representation,
    schema: &SchemaRef,
) -> Result<Value, BadValue> {
    match repr.decimal {
        DecimalMode::Double => Ok(Value::Float64(
            float(text).map_err(|_| bad(text, "numeric"))?,
        )),
        DecimalMode::String => Ok(Value::String(text.to_owned())),
        DecimalMode::Precise => {
            let parsed = Decimal::parse(text).ok_or_else(|| bad(text, "numeric"))?;
            match scale {
                Some(scale) => Ok(Value::Decimal(rescale(parsed, scale))),
                None => {
                    let s = Struct::new(schema.clone())
                        .put("scale", parsed.scale)
                        .and_then(|s| s.put("value", parsed.to_bytes()))
                        .map_err(|_| bad(text, "numeric"))?;
                    Ok(Value::Struct(s))
                }
            }
        }
    }
}

/// The same number at `scale` (PostgreSQL already rounds to the column's
/// scale; this only pads).
fn rescale(d: Decimal, scale: i32) -> Decimal {
    if d.scale >= scale {
        return d;
    }
    let factor = num_bigint::BigInt::from(10).pow((scale - d.scale) as u32);
    Decimal::new(d.unscaled * factor, scale)
}

/// `\x` hex output (bytea_output=hex, the default since PostgreSQL 9.0).
fn bytea(text: &str) -> Option<Vec<u8>> {
    let hex = text.strip_prefix("\\x")?;
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect()
}

fn days_since_epoch(text: &str) -> Option<i32> {
    let date: civil::Date = text.parse().ok()?;
    let epoch = civil::date(1970, 1, 1);
    Some(date.since(epoch).ok()?.get_days())
}

fn time_micros(text: &str) -> Option<i64> {
    // 24:00:00 is a valid PostgreSQL time.
    if text.starts_with("24:00:00") {
        return Some(86_400_000_000);
    }
    let t: civil::Time = text.parse().ok()?;
    Some(
        i64::from(t.hour()) * 3_600_000_000
            + i64::from(t.minute()) * 60_000_000
            + i64::from(t.second()) * 1_000_000
            + i64::from(t.subsec_nanosecond()) / 1000,
    )
}

fn timestamp_micros(text: &str) -> Option<i64> {
    let dt: civil::DateTime = text.replacen(' ', "T", 1).parse().ok()?;
    let ts = dt.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp();
    Some(ts.as_microsecond())
}

/// A timestamptz (session time zone UTC, e.g. `2024-01-02 01:04:05.5+00`)
/// as Debezium's ZonedTimestamp: ISO 8601 in UTC with the column's
/// fractional digits, e.g. `2024-01-02T01:04:05.500000Z`.
fn zoned_timestamp(text: &str, precision: i32) -> Option<String> {
    let ts: jiff::Timestamp = normalize_offset(text).parse().ok()?;
    let dt = ts.to_zoned(jiff::tz::TimeZone::UTC).datetime();
    let digits = precision.clamp(0, 6) as usize;
    let fraction = if digits == 0 {
        String::new()
    } else {
        let micros = dt.subsec_nanosecond() / 1000;
        format!(".{:06}", micros)[..=digits].to_owned()
    };
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{fraction}Z",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    ))
}

/// `+00` → `+00:00` (PostgreSQL prints whole-hour offsets short).
fn normalize_offset(text: &str) -> String {
    let t = text.replacen(' ', "T", 1);
    if let Some(pos) = t.rfind(['+', '-']) {
        let (head, offset) = t.split_at(pos);
        if head.contains('T') && offset.len() == 3 {
            return format!("{head}{offset}:00");
        }
    }
    t
}

/// A timetz as Debezium's ZonedTime: UTC, e.g. `10:15:30Z`.
fn zoned_time(text: &str) -> Option<String> {
    let pos = text.rfind(['+', '-'])?;
    let (time, offset) = text.split_at(pos);
    let micros = time_micros(time)?;
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let mut parts = offset[1..].split(':');
    let h: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next().unwrap_or("0").parse().ok()?;
    let utc = (micros - sign * (h * 3600 + m * 60) * 1_000_000).rem_euclid(86_400_000_000);
    let secs = utc / 1_000_000;
    let frac = utc % 1_000_000;
    let mut out = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    if frac != 0 {
        let f = format!("{frac:06}");
        out.push('.');
        out.push_str(f.trim_end_matches('0'));
    }
    out.push('Z');
    Some(out)
}

/// Debezium's average month (MicroDuration: 365.25 / 12 days).
const DAYS_PER_MONTH_AVG: f64 = 365.25 / 12.0;

/// Parts of an interval in `IntervalStyle=postgres` output, e.g.
/// `1 year 2 mons 3 days 04:05:06.5`.
#[derive(Debug, Default, PartialEq)]
struct IntervalParts {
    years: i64,
    months: i64,
    days: i64,
    micros: i64,
}

fn interval_parts(text: &str) -> Option<IntervalParts> {
    let mut parts = IntervalParts::default();
    let mut tokens = text.split_whitespace().peekable();
    while let Some(token) = tokens.next() {
        if token.contains(':') {
            let negative = token.starts_with('-');
            let t = token.trim_start_matches(['-', '+']);
            let mut hms = t.split(':');
            let h: i64 = hms.next()?.parse().ok()?;
            let m: i64 = hms.next()?.parse().ok()?;
            let s: f64 = hms.next().unwrap_or("0").parse().ok()?;
            let micros = (h * 3600 + m * 60) * 1_000_000 + (s * 1_000_000.0).round() as i64;
            parts.micros += if negative { -micros } else { micros };
            continue;
        }
        let n: i64 = token.parse().ok()?;
        match tokens.next()? {
            "year" | "years" => parts.years += n,
            "mon" | "mons" => parts.months += n,
            "day" | "days" => parts.days += n,
            _ => return None,
        }
    }
    Some(parts)
}

fn interval_micros(text: &str) -> Option<i64> {
    let p = interval_parts(text)?;
    let days = (p.years * 12 + p.months) as f64 * DAYS_PER_MONTH_AVG + p.days as f64;
    Some((days * 86_400_000_000.0).round() as i64 + p.micros)
}

/// ISO 8601 duration as Debezium's Interval, e.g. `P1Y2M3DT4H5M6.5S`.
fn interval_iso(text: &str) -> Option<String> {
    let p = interval_parts(text)?;
    let secs = p.micros / 1_000_000;
    let frac = (p.micros % 1_000_000).abs();
    let mut seconds = format!("{}", secs % 60);
    if frac != 0 {
        seconds.push('.');
        seconds.push_str(format!("{frac:06}").trim_end_matches('0'));
    }
    Some(format!(
        "P{}Y{}M{}DT{}H{}M{}S",
        p.years,
        p.months,
        p.days,
        secs / 3600,
        secs / 60 % 60,
        seconds
    ))
}

/// The items of a one-dimensional array literal (`{a,"b c",NULL}`);
/// `None` items are SQL NULLs.
fn array_items(text: &str) -> Option<Vec<Option<String>>> {
    let inner = text.strip_prefix('{')?.strip_suffix('}')?;
    let mut items = Vec::new();
    if inner.is_empty() {
        return Some(items);
    }
    let mut chars = inner.chars().peekable();
    loop {
        let item = if chars.peek() == Some(&'"') {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next()? {
                    '\\' => s.push(chars.next()?),
                    '"' => break,
                    c => s.push(c),
                }
            }
            Some(s)
        } else {
            let mut s = String::new();
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                s.push(c);
                chars.next();
            }
            (s != "NULL").then_some(s)
        };
        items.push(item);
        match chars.next() {
            None => break,
            Some(',') => continue,
            Some(_) => return None,
        }
    }
    Some(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn repr() -> Representation {
        Representation::default()
    }

    fn v(ty: &PgType, text: &str) -> Value {
        let schema = schema_builder(ty, &repr()).unwrap().optional().build();
        value(ty, text, &repr(), &schema).unwrap()
    }

    #[test]
    fn type_names_and_modifiers() {
        // numeric(10,2): typmod = ((10 << 16) | 2) + 4
        assert_eq!(
            PgType::from_name("numeric", ((10 << 16) | 2) + 4, None),
            PgType::Numeric {
                precision: Some(10),
                scale: Some(2)
            }
        );
        assert_eq!(
            PgType::from_name("numeric", -1, None),
            PgType::Numeric {
                precision: None,
                scale: None
            }
        );
        assert_eq!(
            PgType::from_name("timestamp", 3, None),
            PgType::Timestamp(3)
        );
        assert_eq!(PgType::from_name("time", -1, None), PgType::Time(6));
        assert_eq!(
            PgType::from_name("_text", -1, None),
            PgType::Array(Box::new(PgType::Text))
        );
        assert_eq!(
            PgType::from_name("mood", -1, Some(vec!["sad".into(), "ok".into()])),
            PgType::Enum(vec!["sad".into(), "ok".into()])
        );
    }

    /// The values of tests/golden/debezium-postgres (Debezium 3.6.1).
    #[test]
    fn values_as_debezium_wrote_them() {
        let dec = |t: &str, s: i32| match v(
            &PgType::Numeric {
                precision: Some(10),
                scale: Some(s),
            },
            t,
        ) {
            Value::Decimal(d) => (d.to_bytes(), d.scale),
            other => panic!("{other:?}"),
        };
        assert_eq!(dec("12.50", 2), (vec![0x04, 0xE2], 2)); // "BOI="
        match v(
            &PgType::Numeric {
                precision: None,
                scale: None,
            },
            "3.14159",
        ) {
            Value::Struct(s) => {
                assert_eq!(s.get("scale"), Some(&Value::Int32(5)));
                assert_eq!(s.get("value"), Some(&Value::Bytes(vec![0x04, 0xCB, 0x2F])));
                // "BMsv"
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(v(&PgType::Date, "2024-01-02"), Value::Int32(19724));
        assert_eq!(
            v(&PgType::Timestamp(3), "2024-01-02 03:04:05.678"),
            Value::Int64(1_704_164_645_678)
        );
        assert_eq!(
            v(&PgType::TimestampTz(6), "2024-01-02 01:04:05+00"),
            Value::String("2024-01-02T01:04:05.000000Z".into())
        );
        assert_eq!(
            v(&PgType::Time(6), "12:34:56"),
            Value::Int64(45_296_000_000)
        );
        assert_eq!(
            v(&PgType::Bytea, "\\xdeadbeef"),
            Value::Bytes(vec![0xde, 0xad, 0xbe, 0xef])
        );
        assert_eq!(
            v(&PgType::Interval, "1 day 02:00:00"),
            Value::Int64(93_600_000_000)
        );
        assert_eq!(
            v(&PgType::Array(Box::new(PgType::Text)), "{x,y}"),
            Value::Array(vec![Value::String("x".into()), Value::String("y".into())])
        );
        assert_eq!(v(&PgType::Bool, "t"), Value::Boolean(true));
        assert_eq!(v(&PgType::Float4, "1.5"), Value::Float32(1.5));
    }

    #[test]
    fn times_zones_and_intervals() {
        assert_eq!(
            v(&PgType::TimestampTz(6), "2024-01-02 01:04:05.123456-05:30"),
            Value::String("2024-01-02T06:34:05.123456Z".into())
        );
        assert_eq!(
            v(&PgType::TimestampTz(3), "2024-01-02 01:04:05.5+00"),
            Value::String("2024-01-02T01:04:05.500Z".into())
        );
        assert_eq!(
            v(&PgType::TimeTz(6), "10:15:30+02"),
            Value::String("08:15:30Z".into())
        );
        assert_eq!(v(&PgType::Time(3), "00:00:01.5"), Value::Int32(1500));
        assert_eq!(
            v(&PgType::Time(6), "24:00:00"),
            Value::Int64(86_400_000_000)
        );
        assert_eq!(v(&PgType::Date, "1969-12-31"), Value::Int32(-1));
        assert_eq!(
            v(&PgType::Interval, "1 mon"),
            Value::Int64((DAYS_PER_MONTH_AVG * 86_400_000_000.0) as i64)
        );
        assert_eq!(v(&PgType::Interval, "-00:00:01"), Value::Int64(-1_000_000));
        assert_eq!(
            interval_iso("1 year 2 mons 3 days 04:05:06.5").as_deref(),
            Some("P1Y2M3DT4H5M6.5S")
        );
    }

    #[test]
    fn arrays_with_quotes_and_nulls() {
        assert_eq!(
            array_items(r#"{a,"b c","q\"x",NULL,"NULL"}"#).unwrap(),
            vec![
                Some("a".into()),
                Some("b c".into()),
                Some("q\"x".into()),
                None,
                Some("NULL".into())
            ]
        );
        assert_eq!(array_items("{}").unwrap(), Vec::<Option<String>>::new());
        assert!(array_items("{a").is_none());
    }

    #[test]
    fn other_representations() {
        let double = Representation {
            decimal: DecimalMode::Double,
            ..repr()
        };
        let ty = PgType::Numeric {
            precision: Some(10),
            scale: Some(2),
        };
        let schema = schema_builder(&ty, &double).unwrap().build();
        assert_eq!(
            value(&ty, "12.50", &double, &schema).unwrap(),
            Value::Float64(12.5)
        );
        let hex = Representation {
            binary: BinaryMode::Hex,
            ..repr()
        };
        let schema = schema_builder(&PgType::Bytea, &hex).unwrap().build();
        assert_eq!(
            value(&PgType::Bytea, "\\x00ff", &hex, &schema).unwrap(),
            Value::String("00ff".into())
        );
        let unknown = PgType::Unknown("geometry".into());
        assert_eq!(
            schema_builder(&unknown, &repr()).unwrap_err().to_string(),
            "type geometry has no mapping (include.unknown.datatypes=true emits it as text)"
        );
    }

    proptest! {
        #[test]
        fn decimals_keep_their_value(unscaled in -1_000_000_000i64..1_000_000_000, scale in 0i32..6) {
            let d = Decimal::new(unscaled, scale);
            let ty = PgType::Numeric { precision: Some(20), scale: Some(scale) };
            prop_assert_eq!(v(&ty, &d.to_string()), Value::Decimal(d));
        }

        #[test]
        fn arrays_round_trip(items in proptest::collection::vec("[a-z \"\\\\,{}]{0,6}", 0..5)) {
            let literal = format!(
                "{{{}}}",
                items
                    .iter()
                    .map(|i| format!("\"{}\"", i.replace('\\', "\\\\").replace('"', "\\\"")))
                    .collect::<Vec<_>>()
                    .join(",")
            );
            let parsed = array_items(&literal).unwrap();
            prop_assert_eq!(parsed, items.into_iter().map(Some).collect::<Vec<_>>());
        }

        #[test]
        fn timestamps_round_trip(micros in -2_000_000_000_000_000i64..4_000_000_000_000_000) {
            let ts = jiff::Timestamp::from_microsecond(micros).unwrap();
            let text = ts.to_zoned(jiff::tz::TimeZone::UTC).datetime().to_string().replacen('T', " ", 1);
            prop_assert_eq!(timestamp_micros(&text), Some(micros));
        }
    }
}
