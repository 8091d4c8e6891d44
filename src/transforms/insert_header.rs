//! `InsertHeader`: adds a header with a literal value to each record, like
//! `org.apache.kafka.connect.transforms.InsertHeader`.
//!
//! The literal is typed the way Java's `Values.parseString` types it:
//! `true`/`false` are booleans, numbers the narrowest of INT8 … INT64, then
//! FLOAT32/FLOAT64 for fractions, else a Decimal; ISO-8601 literals
//! (`yyyy-MM-dd`, `HH:mm:ss.SSS'Z'`, `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'`) are
//! Date/Time/Timestamp; `[…]` and `{…}` are arrays and maps; `null` is a
//! null header; anything else a string.

use num_bigint::BigInt;

use super::timestamp_converter::{JavaDateFormat, MILLIS_PER_DAY};
use super::TransformPlugin;
use crate::connect::config::{ConfigDef, ConfigType, Importance, Props};
use crate::connect::data::logical;
use crate::connect::transform::{Transform, TransformError};
use crate::connect::{
    ConnectError, ConnectRecord, Decimal, Header, Schema, SchemaBuilder, SchemaRef, SchemaType,
    Value,
};

const HEADER_FIELD: &str = "header";
const VALUE_LITERAL_FIELD: &str = "value.literal";

pub const PLUGINS: &[TransformPlugin] = &[TransformPlugin {
    class: "org.apache.kafka.connect.transforms.InsertHeader",
    aliases: &["InsertHeader"],
    create: || Box::new(InsertHeader::default()),
}];

/// Add a header to each record.
#[derive(Debug)]
pub struct InsertHeader {
    header: String,
    schema: Option<SchemaRef>,
    value: Value,
}

impl Default for InsertHeader {
    fn default() -> Self {
        InsertHeader {
            header: String::new(),
            schema: None,
            value: Value::Null,
        }
    }
}

fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            HEADER_FIELD,
            ConfigType::String,
            None,
            Importance::High,
            "The name of the header.",
        )
        .define(
            VALUE_LITERAL_FIELD,
            ConfigType::String,
            None,
            Importance::High,
            "The literal value that is to be set as the header value on all records.",
        )
}

impl Transform for InsertHeader {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, props: &Props) -> Result<(), ConnectError> {
        let config = config_def().parse(props)?;
        self.header = config.string(HEADER_FIELD)?.unwrap_or_default();
        let literal = config.string(VALUE_LITERAL_FIELD)?.unwrap_or_default();
        let (schema, value) = parse_string(&literal);
        self.schema = schema;
        self.value = value;
        Ok(())
    }

    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, TransformError> {
        // Always added, even if there is already a header with that name.
        record.headers.push(Header {
            key: self.header.clone(),
            schema: self.schema.clone(),
            value: self.value.clone(),
        });
        Ok(Some(record))
    }
}

// ---------------------------------------------------------------------------
// org.apache.kafka.connect.data.Values.parseString
// ---------------------------------------------------------------------------

type SchemaAndValue = (SchemaRef, Value);

/// A value that cannot be parsed as what it started like (Java's
/// `DataException` inside the parser, caught to fall back to a string).
struct Unparsable;

const ISO_8601_DATE_FORMAT_PATTERN: &str = "yyyy-MM-dd";
const ISO_8601_TIME_FORMAT_PATTERN: &str = "HH:mm:ss.SSS'Z'";
const ISO_8601_TIMESTAMP_FORMAT_PATTERN: &str = "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'";

/// `Values.parseString`: the schema (none for null) and value of a literal.
fn parse_string(value: &str) -> (Option<SchemaRef>, Value) {
    if value.is_empty() {
        return (Some(SchemaBuilder::string().build()), Value::from(value));
    }
    let mut parser = Parser::new(value);
    let parsed = parse(&mut parser, false).ok().flatten();
    if parser.has_more_than_whitespace() {
        // Trailing tokens: the literal as a whole is a string.
        return (Some(SchemaBuilder::string().build()), Value::from(value));
    }
    match parsed {
        Some((schema, value)) => (Some(schema), value),
        None => (None, Value::Null),
    }
}

/// Java's `Values.Parser`: tokens split at unescaped `[]{},:"`.
struct Parser {
    chars: Vec<char>,
    pos: usize,
    next_token: Option<String>,
    previous: Option<String>,
}

impl Parser {
    fn new(original: &str) -> Parser {
        Parser {
            chars: original.chars().collect(),
            pos: 0,
            next_token: None,
            previous: None,
        }
    }

    fn original(&self) -> String {
        self.chars.iter().collect()
    }

    fn mark(&self) -> usize {
        self.pos - self.next_token.as_ref().map_or(0, |t| t.chars().count())
    }

    fn rewind_to(&mut self, position: usize) {
        self.pos = position;
        self.next_token = None;
        self.previous = None;
    }

    fn can_consume_next_token(&self) -> bool {
        self.pos < self.chars.len()
    }

    fn has_next(&self) -> bool {
        self.next_token.is_some() || self.can_consume_next_token()
    }

    fn has_more_than_whitespace(&self) -> bool {
        self.next_token
            .as_ref()
            .is_some_and(|t| !java_trim(t).is_empty())
            || self.chars[self.pos..].iter().any(|c| *c > ' ')
    }

    fn consume_next_token(&mut self) -> String {
        let mut escaped = false;
        let start = self.pos;
        while self.can_consume_next_token() {
            let c = self.chars[self.pos];
            match c {
                '\\' => escaped = !escaped,
                ':' | ',' | '{' | '}' | '[' | ']' | '"' => {
                    if !escaped {
                        if start < self.pos {
                            return self.chars[start..self.pos].iter().collect();
                        }
                        self.pos += 1;
                        return c.to_string();
                    }
                    escaped = false;
                }
                _ => escaped = false,
            }
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    fn next(&mut self) -> String {
        let token = match self.next_token.take() {
            Some(t) => t,
            None => self.consume_next_token(),
        };
        self.previous = Some(token.clone());
        token
    }

    /// The text of the next `n` tokens, or `None` (and no move) if fewer.
    fn next_n(&mut self, n: usize) -> Option<String> {
        let start = self.mark();
        for _ in 0..n {
            if !self.has_next() {
                self.rewind_to(start);
                return None;
            }
            self.next();
        }
        Some(self.chars[start..self.pos].iter().collect())
    }

    /// Whether the next token (whitespace-only tokens skipped), trimmed, is
    /// `expected`; consumes it if so.
    fn can_consume(&mut self, expected: &str) -> bool {
        if self.next_token.is_none() {
            if !self.has_next() {
                return false;
            }
            self.next_token = Some(self.consume_next_token());
        }
        while self
            .next_token
            .as_ref()
            .is_some_and(|t| java_trim(t).is_empty())
            && self.can_consume_next_token()
        {
            self.next_token = Some(self.consume_next_token());
        }
        if self
            .next_token
            .as_ref()
            .is_some_and(|t| java_trim(t) == expected)
        {
            self.next_token = None;
            return true;
        }
        false
    }
}

/// `String.trim()`: strips chars up to U+0020.
fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

fn can_parse_single_token_literal(parser: &mut Parser, embedded: bool, literal: &str) -> bool {
    let start = parser.mark();
    if parser.can_consume(literal) && (embedded || !parser.has_more_than_whitespace()) {
        return true;
    }
    parser.rewind_to(start);
    false
}

/// `Values.parse`: `Ok(None)` for null.
fn parse(parser: &mut Parser, embedded: bool) -> Result<Option<SchemaAndValue>, Unparsable> {
    if !parser.has_next() {
        return Ok(None);
    }
    if embedded && parser.can_consume("\"") {
        let mut content = String::new();
        while parser.has_next() {
            if parser.can_consume("\"") {
                break;
            }
            content.push_str(&parser.next());
        }
        // Quoted temporal literals keep their type; others are strings.
        if let (Some(schema), value) = parse_string(&content) {
            if is_temporal(&schema) {
                return Ok(Some((schema, value)));
            }
        }
        return Ok(Some((
            SchemaBuilder::string().build(),
            Value::String(content),
        )));
    }
    if can_parse_single_token_literal(parser, embedded, "null") {
        return Ok(None);
    }
    if can_parse_single_token_literal(parser, embedded, "true") {
        return Ok(Some((
            SchemaBuilder::boolean().build(),
            Value::Boolean(true),
        )));
    }
    if can_parse_single_token_literal(parser, embedded, "false") {
        return Ok(Some((
            SchemaBuilder::boolean().build(),
            Value::Boolean(false),
        )));
    }

    let start = parser.mark();
    match parse_container(parser) {
        Ok(Some(parsed)) => return Ok(Some(parsed)),
        Ok(None) => {}
        Err(Unparsable) => parser.rewind_to(start),
    }

    let token = parser.next();
    if java_trim(&token).is_empty() {
        return Ok(Some((
            SchemaBuilder::string().build(),
            Value::String(token),
        )));
    }
    let token = java_trim(&token).to_owned();
    let first = token.chars().next().unwrap_or(' ');
    if first.is_ascii_digit() {
        // Time and timestamp literals span 5 tokens (':' is a delimiter).
        let position = parser.mark();
        if let Some(remainder) = parser.next_n(4) {
            if let Some(temporal) = parse_as_temporal(&format!("{token}{remainder}")) {
                return Ok(Some(temporal));
            }
        }
        parser.rewind_to(position);
        if let Some(temporal) = parse_as_temporal(&token) {
            return Ok(Some(temporal));
        }
    }
    if first.is_ascii_digit() || first == '+' || first == '-' {
        if let Some(number) = parse_number(&token) {
            return Ok(Some(number));
        }
    }
    if embedded {
        return Err(Unparsable);
    }
    Ok(Some((
        SchemaBuilder::string().build(),
        Value::String(parser.original()),
    )))
}

/// An array or map if the next token opens one; `Ok(None)` if it does not.
fn parse_container(parser: &mut Parser) -> Result<Option<SchemaAndValue>, Unparsable> {
    if parser.can_consume("[") {
        let mut items: Vec<Option<SchemaAndValue>> = Vec::new();
        while parser.has_next() {
            if parser.can_consume("]") {
                return array_of(items).map(Some);
            }
            if parser.can_consume(",") {
                return Err(Unparsable); // an empty array element
            }
            items.push(parse(parser, true)?);
            let position = parser.mark();
            if parser.can_consume("]") {
                parser.rewind_to(position);
            } else if !parser.can_consume(",") {
                return Err(Unparsable); // elements missing ','
            }
        }
        return Err(Unparsable); // missing ']' or an element after ','
    }
    if parser.can_consume("{") {
        let mut entries: Vec<(SchemaAndValue, Option<SchemaAndValue>)> = Vec::new();
        while parser.has_next() {
            if parser.can_consume("}") {
                return map_of(entries).map(Some);
            }
            if parser.can_consume(",") {
                return Err(Unparsable); // an entry with no key or value
            }
            let Some(key) = parse(parser, true)? else {
                return Err(Unparsable); // a null key
            };
            if !parser.can_consume(":") {
                return Err(Unparsable); // missing ':'
            }
            let value = parse(parser, true)?;
            // LinkedHashMap.put: a repeated key keeps its place.
            match entries.iter_mut().find(|(k, _)| k.1 == key.1) {
                Some(entry) => entry.1 = value,
                None => entries.push((key, value)),
            }
            parser.can_consume(",");
        }
        return Err(Unparsable); // missing '}' or an entry after ','
    }
    Ok(None)
}

/// The schema all items share (Java's `commonSchemaFor`, numbers widened),
/// optional when some are null; mixed types cannot be parsed.
fn common_schema<'a>(
    items: impl Iterator<Item = Option<&'a SchemaAndValue>>,
) -> Result<Option<SchemaRef>, Unparsable> {
    let mut common: Option<SchemaRef> = None;
    let mut nulls = false;
    for item in items {
        let Some((schema, _)) = item else {
            nulls = true;
            continue;
        };
        common = Some(match common {
            None => schema.clone(),
            Some(previous) if previous == *schema => previous,
            Some(previous) => {
                let (a, b) = (numeric_rank(&previous), numeric_rank(schema));
                match (a, b) {
                    (Some(a), Some(b)) if a >= b => previous,
                    (Some(_), Some(_)) => schema.clone(),
                    _ => return Err(Unparsable),
                }
            }
        });
    }
    Ok(common.map(|s| {
        if nulls && !s.optional {
            let mut optional = (*s).clone();
            optional.optional = true;
            std::sync::Arc::new(optional)
        } else {
            s
        }
    }))
}

/// The widening order of plain numeric schemas.
fn numeric_rank(schema: &Schema) -> Option<u8> {
    if schema.name.is_some() {
        return None;
    }
    Some(match schema.schema_type {
        SchemaType::Int8 => 0,
        SchemaType::Int16 => 1,
        SchemaType::Int32 => 2,
        SchemaType::Int64 => 3,
        SchemaType::Float32 => 4,
        SchemaType::Float64 => 5,
        _ => return None,
    })
}

/// A parsed item converted to the common schema's type (numbers widened).
fn align(item: Option<SchemaAndValue>, schema: &Schema) -> Value {
    let Some((_, value)) = item else {
        return Value::Null;
    };
    let as_i64 = |v: &Value| match v {
        Value::Int8(n) => Some(i64::from(*n)),
        Value::Int16(n) => Some(i64::from(*n)),
        Value::Int32(n) => Some(i64::from(*n)),
        Value::Int64(n) => Some(*n),
        _ => None,
    };
    let as_f64 = |v: &Value| match v {
        Value::Float32(f) => Some(f64::from(*f)),
        Value::Float64(f) => Some(*f),
        other => as_i64(other).map(|n| n as f64),
    };
    if schema.name.is_some() {
        return value;
    }
    match schema.schema_type {
        SchemaType::Int16 => as_i64(&value).map_or(value, |n| Value::Int16(n as i16)),
        SchemaType::Int32 => as_i64(&value).map_or(value, |n| Value::Int32(n as i32)),
        SchemaType::Int64 => as_i64(&value).map_or(value, Value::Int64),
        SchemaType::Float32 => as_f64(&value).map_or(value, |f| Value::Float32(f as f32)),
        SchemaType::Float64 => as_f64(&value).map_or(value, Value::Float64),
        _ => value,
    }
}

fn array_of(items: Vec<Option<SchemaAndValue>>) -> Result<SchemaAndValue, Unparsable> {
    match common_schema(items.iter().map(Option::as_ref))? {
        Some(element) => {
            let values = items.into_iter().map(|i| align(i, &element)).collect();
            Ok((SchemaBuilder::array(element).build(), Value::Array(values)))
        }
        // Every element is null (or there are none): an array of null.
        None => Ok((
            std::sync::Arc::new(Schema::new(SchemaType::Array)),
            Value::Array(items.into_iter().map(|_| Value::Null).collect()),
        )),
    }
}

fn map_of(
    entries: Vec<(SchemaAndValue, Option<SchemaAndValue>)>,
) -> Result<SchemaAndValue, Unparsable> {
    let key_schema = common_schema(entries.iter().map(|(k, _)| Some(k)))?;
    let value_schema = common_schema(entries.iter().map(|(_, v)| v.as_ref()))?;
    let mut schema = Schema::new(SchemaType::Map);
    schema.key_schema = key_schema.clone();
    schema.value_schema = value_schema.clone();
    let values = entries
        .into_iter()
        .map(|(k, v)| {
            let key = match &key_schema {
                Some(s) => align(Some(k), s),
                None => k.1,
            };
            let value = match &value_schema {
                Some(s) => align(v, s),
                None => Value::Null,
            };
            (key, value)
        })
        .collect();
    Ok((std::sync::Arc::new(schema), Value::Map(values)))
}

fn is_temporal(schema: &Schema) -> bool {
    schema.is_logical(logical::DATE)
        || schema.is_logical(logical::TIME)
        || schema.is_logical(logical::TIMESTAMP)
}

/// `Values.parseAsTemporal`, in UTC.
fn parse_as_temporal(token: &str) -> Option<SchemaAndValue> {
    let token = token.replace("\\:", ":");
    let parse = |pattern: &str| {
        JavaDateFormat::new(pattern)
            .expect("the ISO-8601 patterns compile")
            .parse(&token)
    };
    match token.chars().count() {
        // HH:mm:ss.SSS'Z'
        13 => {
            let ms = parse(ISO_8601_TIME_FORMAT_PATTERN)?;
            let ms = i32::try_from(ms)
                .ok()
                .filter(|ms| i64::from(*ms) < MILLIS_PER_DAY && *ms >= 0)?;
            Some((SchemaBuilder::time().build(), Value::Time(ms)))
        }
        // yyyy-MM-dd'T'HH:mm:ss.SSS'Z'
        24 => Some((
            SchemaBuilder::timestamp().build(),
            Value::Timestamp(parse(ISO_8601_TIMESTAMP_FORMAT_PATTERN)?),
        )),
        // yyyy-MM-dd
        10 => {
            let days = parse(ISO_8601_DATE_FORMAT_PATTERN)?.div_euclid(MILLIS_PER_DAY);
            Some((
                SchemaBuilder::date().build(),
                Value::Date(i32::try_from(days).ok()?),
            ))
        }
        _ => None,
    }
}

/// `new BigDecimal(token)`: the unscaled digits and the scale.
fn parse_big_decimal(token: &str) -> Option<(BigInt, i32)> {
    let (mantissa, exponent) = match token.find(['e', 'E']) {
        Some(i) => (&token[..i], Some(&token[i + 1..])),
        None => (token, None),
    };
    let (negative, digits) = match mantissa.as_bytes().first()? {
        b'-' => (true, &mantissa[1..]),
        b'+' => (false, &mantissa[1..]),
        _ => (false, mantissa),
    };
    let (int_part, frac_part) = match digits.split_once('.') {
        Some((i, f)) => (i, f),
        None => (digits, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int_part.len() + frac_part.len() == 0 || !all_digits(int_part) || !all_digits(frac_part) {
        return None;
    }
    let exponent: i64 = match exponent {
        None => 0,
        Some(e) => {
            let unsigned = e.strip_prefix(['+', '-']).unwrap_or(e);
            if unsigned.is_empty() || !all_digits(unsigned) {
                return None;
            }
            e.parse().ok()?
        }
    };
    let scale = i32::try_from(frac_part.len() as i64 - exponent).ok()?;
    let mut unscaled: BigInt = format!("{int_part}{frac_part}").parse().ok()?;
    if negative {
        unscaled = -unscaled;
    }
    Some((unscaled, scale))
}

/// The numeric schema and value Java's `Values.parse` gives a number.
fn parse_number(token: &str) -> Option<SchemaAndValue> {
    let (unscaled, scale) = parse_big_decimal(token)?;
    // The exact integer value, if the number has no fractional part (and is
    // small enough to possibly fit a long).
    let integral: Option<BigInt> = if scale <= 0 {
        (scale > -20).then(|| &unscaled * BigInt::from(10u8).pow((-scale) as u32))
    } else if scale < 1000 {
        let divisor = BigInt::from(10u8).pow(scale as u32);
        (&unscaled % &divisor == BigInt::from(0u8)).then(|| &unscaled / &divisor)
    } else {
        (unscaled == BigInt::from(0u8)).then(|| BigInt::from(0u8))
    };
    if let Some(n) = integral {
        if let Ok(v) = i8::try_from(&n) {
            return Some((SchemaBuilder::int8().build(), Value::Int8(v)));
        }
        if let Ok(v) = i16::try_from(&n) {
            return Some((SchemaBuilder::int16().build(), Value::Int16(v)));
        }
        if let Ok(v) = i32::try_from(&n) {
            return Some((SchemaBuilder::int32().build(), Value::Int32(v)));
        }
        if let Ok(v) = i64::try_from(&n) {
            return Some((SchemaBuilder::int64().build(), Value::Int64(v)));
        }
    }
    if scale != 0 {
        if let Ok(f) = token.parse::<f32>() {
            if f.is_finite() {
                return Some((SchemaBuilder::float32().build(), Value::Float32(f)));
            }
        }
        if let Ok(d) = token.parse::<f64>() {
            if d.is_finite() {
                return Some((SchemaBuilder::float64().build(), Value::Float64(d)));
            }
        }
    }
    Some((
        SchemaBuilder::decimal(scale).build(),
        Value::Decimal(Decimal::new(unscaled, scale)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::config::props_of;
    use crate::transforms::testing::{
        assert_config_key, assert_non_headers, record_with_headers as source_record, string_header,
    };

    fn xform(header: &str, literal: &str) -> InsertHeader {
        let mut x = InsertHeader::default();
        x.configure(&props_of(&[("header", header), ("value.literal", literal)]))
            .unwrap();
        x
    }

    // InsertHeaderTest.insertionWithExistingOtherHeader
    #[test]
    fn insertion_with_existing_other_header() {
        let original = source_record(vec![string_header("existing", "existing-value")]);
        let out = xform("inserted", "inserted-value")
            .apply(original.clone())
            .unwrap()
            .unwrap();
        assert_non_headers(&original, &out);
        assert_eq!(
            out.headers,
            vec![
                string_header("existing", "existing-value"),
                string_header("inserted", "inserted-value")
            ]
        );
    }

    // InsertHeaderTest.insertionWithExistingSameHeader
    #[test]
    fn insertion_with_existing_same_header() {
        let original = source_record(vec![string_header("existing", "preexisting-value")]);
        let out = xform("existing", "inserted-value")
            .apply(original.clone())
            .unwrap()
            .unwrap();
        assert_non_headers(&original, &out);
        assert_eq!(
            out.headers,
            vec![
                string_header("existing", "preexisting-value"),
                string_header("existing", "inserted-value")
            ]
        );
    }

    // InsertHeaderTest.insertionWithByteHeader
    #[test]
    fn insertion_with_byte_header() {
        let original = source_record(vec![string_header("existing", "existing-value")]);
        let out = xform("inserted", "1").apply(original).unwrap().unwrap();
        assert_eq!(
            out.headers[1],
            Header {
                key: "inserted".into(),
                schema: Some(SchemaBuilder::int8().build()),
                value: Value::Int8(1)
            }
        );
    }

    // InsertHeaderTest.configRejectsNullHeaderKey / configRejectsNullHeaderValue
    #[test]
    fn config_rejects_missing_header_key_or_value() {
        for (props, missing) in [
            (props_of(&[("value.literal", "1")]), "header"),
            (props_of(&[("header", "inserted")]), "value.literal"),
        ] {
            let err = InsertHeader::default().configure(&props).unwrap_err();
            assert_config_key(&err, missing);
        }
    }

    fn parsed(s: &str) -> (Option<SchemaRef>, Value) {
        parse_string(s)
    }

    fn typed(schema: SchemaRef, value: Value) -> (Option<SchemaRef>, Value) {
        (Some(schema), value)
    }

    // Values.parseString typing (connect/api ValuesTest covers it in Java;
    // expectations here follow Values.parse's number and literal rules).
    #[test]
    fn literals_are_typed_like_values_parse_string() {
        assert_eq!(
            parsed("true"),
            typed(SchemaBuilder::boolean().build(), Value::Boolean(true))
        );
        assert_eq!(
            parsed("false"),
            typed(SchemaBuilder::boolean().build(), Value::Boolean(false))
        );
        assert_eq!(parsed("null"), (None, Value::Null));
        assert_eq!(
            parsed("-128"),
            typed(SchemaBuilder::int8().build(), Value::Int8(-128))
        );
        assert_eq!(
            parsed("128"),
            typed(SchemaBuilder::int16().build(), Value::Int16(128))
        );
        assert_eq!(
            parsed("32768"),
            typed(SchemaBuilder::int32().build(), Value::Int32(32768))
        );
        assert_eq!(
            parsed("2147483648"),
            typed(SchemaBuilder::int64().build(), Value::Int64(2_147_483_648))
        );
        assert_eq!(
            parsed("1.0"),
            typed(SchemaBuilder::int8().build(), Value::Int8(1))
        );
        assert_eq!(
            parsed("1.5"),
            typed(SchemaBuilder::float32().build(), Value::Float32(1.5))
        );
        assert_eq!(
            parsed("1e3"),
            typed(SchemaBuilder::int16().build(), Value::Int16(1000))
        );
        assert_eq!(
            parsed("1e300"),
            typed(SchemaBuilder::float64().build(), Value::Float64(1e300))
        );
        assert_eq!(
            parsed("9223372036854775808"),
            typed(
                SchemaBuilder::decimal(0).build(),
                Value::Decimal(Decimal::parse("9223372036854775808").unwrap())
            )
        );
        assert_eq!(
            parsed(""),
            typed(SchemaBuilder::string().build(), Value::from(""))
        );
        assert_eq!(
            parsed("   "),
            typed(SchemaBuilder::string().build(), Value::from("   "))
        );
        assert_eq!(
            parsed("hello"),
            typed(SchemaBuilder::string().build(), Value::from("hello"))
        );
        assert_eq!(
            parsed("true}"),
            typed(SchemaBuilder::string().build(), Value::from("true}"))
        );
        assert_eq!(
            parsed("1,2"),
            typed(SchemaBuilder::string().build(), Value::from("1,2"))
        );
        assert_eq!(
            parsed("12:34"),
            typed(SchemaBuilder::string().build(), Value::from("12:34"))
        );
    }

    // Values.parseAsTemporal: the three ISO-8601 literal forms.
    #[test]
    fn temporal_literals() {
        assert_eq!(
            parsed("2019-08-23"),
            typed(SchemaBuilder::date().build(), Value::Date(18131))
        );
        assert_eq!(
            parsed("14:34:54.346Z"),
            typed(
                SchemaBuilder::time().build(),
                Value::Time(((14 * 60 + 34) * 60 + 54) * 1000 + 346)
            )
        );
        assert_eq!(
            parsed("2019-08-23T14:34:54.346Z"),
            typed(
                SchemaBuilder::timestamp().build(),
                Value::Timestamp(18131 * MILLIS_PER_DAY + ((14 * 60 + 34) * 60 + 54) * 1000 + 346)
            )
        );
    }

    // Values.parse arrays and maps (element schemas widened as in
    // commonSchemaFor).
    #[test]
    fn arrays_and_maps() {
        let int8 = SchemaBuilder::int8().build();
        assert_eq!(
            parsed("[1, 2, 3]"),
            typed(
                SchemaBuilder::array(int8.clone()).build(),
                Value::Array(vec![Value::Int8(1), Value::Int8(2), Value::Int8(3)])
            )
        );
        // Numbers widen to the widest element.
        assert_eq!(
            parsed("[1, 1000]"),
            typed(
                SchemaBuilder::array(SchemaBuilder::int16().build()).build(),
                Value::Array(vec![Value::Int16(1), Value::Int16(1000)])
            )
        );
        assert_eq!(
            parsed("[\"a\",\"b c\"]"),
            typed(
                SchemaBuilder::array(SchemaBuilder::string().build()).build(),
                Value::Array(vec![Value::from("a"), Value::from("b c")])
            )
        );
        assert_eq!(
            parsed("{\"a\":1,\"b\":2}"),
            typed(
                SchemaBuilder::map(SchemaBuilder::string().build(), int8).build(),
                Value::Map(vec![
                    (Value::from("a"), Value::Int8(1)),
                    (Value::from("b"), Value::Int8(2))
                ])
            )
        );
        let (schema, value) = parsed("[]");
        assert_eq!(schema.unwrap().schema_type, SchemaType::Array);
        assert_eq!(value, Value::Array(vec![]));
        // Unquoted words inside containers are not values: the whole is a string.
        assert_eq!(
            parsed("{a:1}"),
            typed(SchemaBuilder::string().build(), Value::from("{a:1}"))
        );
        assert_eq!(
            parsed("[1, \"x\"]"),
            typed(SchemaBuilder::string().build(), Value::from("[1, \"x\"]"))
        );
    }

    #[test]
    fn null_literal_inserts_a_null_header() {
        let out = xform("h", "null")
            .apply(source_record(vec![]))
            .unwrap()
            .unwrap();
        assert_eq!(
            out.headers,
            vec![Header {
                key: "h".into(),
                schema: None,
                value: Value::Null
            }]
        );
    }

    #[test]
    fn registered_under_java_names() {
        assert!(crate::transforms::find_transform(
            "org.apache.kafka.connect.transforms.InsertHeader"
        )
        .is_some());
        assert!(crate::transforms::find_transform("InsertHeader").is_some());
    }
}
