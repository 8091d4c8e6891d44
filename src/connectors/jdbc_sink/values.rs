//! Connect values as PostgreSQL text literals. The sink sends every column
//! as text in arrays (`unnest($1::text[], …)`) and lets the server cast each
//! to its column's type with that type's own input function, so one
//! statement writes a whole batch and every PostgreSQL type accepts what
//! its input syntax accepts.

use jiff::tz::TimeZone;
use jiff::Timestamp;

use crate::connect::{Schema, SchemaType, Value};

/// Why a value has no text form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub String);

/// The text of `value` for a column (`None` for SQL NULL). `zone` is where
/// timestamps without a zone of their own are written (`db.timezone`).
/// With `debezium_types`, Debezium's logical types (`io.debezium.time.*`,
/// `VariableScaleDecimal`) are written as what they stand for; without,
/// as their plain values.
pub fn text(
    schema: &Schema,
    value: &Value,
    zone: &TimeZone,
    debezium_types: bool,
) -> Result<Option<String>, ValueError> {
    if value.is_null() {
        return Ok(None);
    }
    if let Some(name) = schema.name.as_deref().filter(|_| debezium_types) {
        if let Some(t) = debezium(name, value, zone)? {
            return Ok(Some(t));
        }
    }
    Ok(Some(match value {
        Value::Null => return Ok(None),
        Value::Int8(v) => v.to_string(),
        Value::Int16(v) => v.to_string(),
        Value::Int32(v) => v.to_string(),
        Value::Int64(v) => v.to_string(),
        Value::Float32(v) => float(f64::from(*v)),
        Value::Float64(v) => float(*v),
        Value::Boolean(v) => v.to_string(),
        Value::String(s) => s.clone(),
        Value::Bytes(b) => bytea(b),
        Value::Decimal(d) => d.to_string(),
        Value::Date(days) => date(i64::from(*days))?,
        Value::Time(ms) => time_of_day(i64::from(*ms) * 1_000_000)?,
        Value::Timestamp(ms) => timestamp(i128::from(*ms) * 1_000_000, zone)?,
        Value::Array(items) => {
            let element = schema
                .value_schema
                .as_deref()
                .ok_or_else(|| ValueError("an array without an element schema".into()))?;
            array(element, items, zone, debezium_types)?
        }
        Value::Map(_) | Value::Struct(_) => {
            return Err(ValueError(format!(
                "a {} has no column type",
                match schema.schema_type {
                    SchemaType::Map => "map",
                    _ => "struct",
                }
            )))
        }
    }))
}

/// Debezium's logical types, by schema name.
fn debezium(name: &str, value: &Value, zone: &TimeZone) -> Result<Option<String>, ValueError> {
    let int = |v: &Value| -> Option<i64> {
        match v {
            Value::Int32(i) => Some(i64::from(*i)),
            Value::Int64(i) => Some(*i),
            _ => None,
        }
    };
    Ok(Some(match name {
        "io.debezium.time.Date" => match int(value) {
            Some(days) => date(days)?,
            None => return Ok(None),
        },
        "io.debezium.time.Time" => time_of_day(int(value).unwrap_or(0) * 1_000_000)?,
        "io.debezium.time.MicroTime" => time_of_day(int(value).unwrap_or(0) * 1_000)?,
        "io.debezium.time.NanoTime" => time_of_day(int(value).unwrap_or(0))?,
        "io.debezium.time.Timestamp" => {
            timestamp(i128::from(int(value).unwrap_or(0)) * 1_000_000, zone)?
        }
        "io.debezium.time.MicroTimestamp" => {
            timestamp(i128::from(int(value).unwrap_or(0)) * 1_000, zone)?
        }
        "io.debezium.time.NanoTimestamp" => timestamp(i128::from(int(value).unwrap_or(0)), zone)?,
        "io.debezium.time.MicroDuration" => format!("{} microseconds", int(value).unwrap_or(0)),
        "io.debezium.data.VariableScaleDecimal" => match value {
            Value::Struct(s) => {
                let scale = match s.get("scale") {
                    Some(Value::Int32(v)) => *v,
                    _ => 0,
                };
                match s.get("value") {
                    Some(Value::Bytes(b)) => crate::connect::Decimal::new(
                        num_bigint::BigInt::from_signed_bytes_be(b),
                        scale,
                    )
                    .to_string(),
                    _ => return Err(ValueError("a VariableScaleDecimal without value".into())),
                }
            }
            _ => return Ok(None),
        },
        _ => return Ok(None),
    }))
}

fn float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        // Shortest text that reads back to the same value.
        format!("{v:?}")
    }
}

fn bytea(b: &[u8]) -> String {
    let mut s = String::with_capacity(2 + b.len() * 2);
    s.push_str("\\x");
    for byte in b {
        s.push_str(&format!("{byte:02x}"));
    }
    s
}

fn date(days: i64) -> Result<String, ValueError> {
    let ts = Timestamp::from_second(days * 86_400)
        .map_err(|e| ValueError(format!("date {days}: {e}")))?;
    Ok(ts.to_zoned(TimeZone::UTC).date().to_string())
}

fn time_of_day(nanos: i64) -> Result<String, ValueError> {
    if !(0..=86_400_000_000_000).contains(&nanos) {
        return Err(ValueError(format!(
            "time of day {nanos} ns is out of range"
        )));
    }
    let (secs, frac) = (nanos / 1_000_000_000, nanos % 1_000_000_000);
    Ok(format!(
        "{:02}:{:02}:{:02}.{:09}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        frac
    ))
}

fn timestamp(nanos: i128, zone: &TimeZone) -> Result<String, ValueError> {
    let ts = Timestamp::from_nanosecond(nanos)
        .map_err(|e| ValueError(format!("timestamp {nanos} ns: {e}")))?;
    Ok(ts
        .to_zoned(zone.clone())
        .datetime()
        .strftime("%Y-%m-%d %H:%M:%S%.f")
        .to_string())
}

/// A PostgreSQL array literal: `{"a","b c",NULL}`.
fn array(
    element: &Schema,
    items: &[Value],
    zone: &TimeZone,
    debezium_types: bool,
) -> Result<String, ValueError> {
    let mut out = String::from("{");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match text(element, item, zone, debezium_types)? {
            None => out.push_str("NULL"),
            Some(t) if matches!(item, Value::Array(_)) => out.push_str(&t),
            Some(t) => {
                out.push('"');
                for c in t.chars() {
                    if c == '"' || c == '\\' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push('"');
            }
        }
    }
    out.push('}');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::{Decimal, SchemaBuilder};
    use proptest::prelude::*;

    fn utc(schema: &Schema, v: Value) -> Option<String> {
        text(schema, &v, &TimeZone::UTC, true).unwrap()
    }

    #[test]
    fn connect_values() {
        let s = |b: SchemaBuilder| b.build();
        assert_eq!(
            utc(&s(SchemaBuilder::int32()), Value::Int32(-5)).as_deref(),
            Some("-5")
        );
        assert_eq!(utc(&s(SchemaBuilder::string()), Value::Null), None);
        assert_eq!(
            utc(&s(SchemaBuilder::bytes()), Value::Bytes(vec![0xde, 0xad])).as_deref(),
            Some("\\xdead")
        );
        assert_eq!(
            utc(
                &s(SchemaBuilder::bytes()),
                Value::Decimal(Decimal::new(1250, 2))
            )
            .as_deref(),
            Some("12.50")
        );
        assert_eq!(
            utc(&s(SchemaBuilder::int32()), Value::Date(19724)).as_deref(),
            Some("2024-01-02")
        );
        assert_eq!(
            utc(
                &s(SchemaBuilder::int64()),
                Value::Timestamp(1_704_164_645_678)
            )
            .as_deref(),
            Some("2024-01-02 03:04:05.678")
        );
        assert_eq!(
            utc(&s(SchemaBuilder::int32()), Value::Time(45_296_789)).as_deref(),
            Some("12:34:56.789000000")
        );
        assert_eq!(
            utc(&s(SchemaBuilder::float64()), Value::Float64(f64::NAN)).as_deref(),
            Some("NaN")
        );
        let strings = SchemaBuilder::array(SchemaBuilder::string().optional().build()).build();
        assert_eq!(
            utc(
                &strings,
                Value::Array(vec![Value::from("a"), Value::from("b \"c\""), Value::Null])
            )
            .as_deref(),
            Some(r#"{"a","b \"c\"",NULL}"#)
        );
        assert!(text(
            &s(SchemaBuilder::struct_()),
            &Value::Map(vec![]),
            &TimeZone::UTC,
            true
        )
        .is_err());
    }

    #[test]
    fn debezium_values() {
        let named = |b: SchemaBuilder, n: &str| b.name(n).build();
        assert_eq!(
            utc(
                &named(SchemaBuilder::int64(), "io.debezium.time.MicroTimestamp"),
                Value::Int64(1_704_164_645_678_901)
            )
            .as_deref(),
            Some("2024-01-02 03:04:05.678901")
        );
        assert_eq!(
            utc(
                &named(SchemaBuilder::int32(), "io.debezium.time.Date"),
                Value::Int32(19724)
            )
            .as_deref(),
            Some("2024-01-02")
        );
        assert_eq!(
            utc(
                &named(SchemaBuilder::int64(), "io.debezium.time.MicroTime"),
                Value::Int64(45_296_789_000)
            )
            .as_deref(),
            Some("12:34:56.789000000")
        );
        // Zoned values are text already.
        assert_eq!(
            utc(
                &named(SchemaBuilder::string(), "io.debezium.time.ZonedTimestamp"),
                Value::from("2024-01-02T01:04:05.5Z")
            )
            .as_deref(),
            Some("2024-01-02T01:04:05.5Z")
        );
        // Without Debezium's types (Confluent's sink), the plain value.
        assert_eq!(
            text(
                &named(SchemaBuilder::int64(), "io.debezium.time.MicroTimestamp"),
                &Value::Int64(1_704_164_645_678_901),
                &TimeZone::UTC,
                false
            )
            .unwrap()
            .as_deref(),
            Some("1704164645678901")
        );
        // Written in db.timezone.
        let paris = TimeZone::get("Europe/Paris").unwrap();
        assert_eq!(
            text(
                &SchemaBuilder::int64().build(),
                &Value::Timestamp(1_704_164_645_000),
                &paris,
                true
            )
            .unwrap()
            .as_deref(),
            Some("2024-01-02 04:04:05")
        );
    }

    proptest! {
        /// Every timestamp and date renders, and reads back to itself.
        #[test]
        fn timestamps_round_trip(ms in -62_000_000_000_000i64..250_000_000_000_000i64) {
            let t = utc(&SchemaBuilder::int64().build(), Value::Timestamp(ms)).unwrap();
            let parsed: jiff::civil::DateTime = t.parse().unwrap();
            let back = parsed.to_zoned(TimeZone::UTC).unwrap().timestamp().as_millisecond();
            prop_assert_eq!(back, ms);
        }

        #[test]
        fn floats_read_back_exactly(v in proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::ZERO) {
            let t = utc(&SchemaBuilder::float64().build(), Value::Float64(v)).unwrap();
            prop_assert_eq!(t.parse::<f64>().unwrap(), v);
        }
    }
}
