//! Connect's data model: [`Schema`] and [`Value`], mirroring
//! `org.apache.kafka.connect.data` so records convert to and from Java's
//! formats without loss.

use std::fmt;
use std::sync::Arc;

use indexmap::IndexMap;
use num_bigint::BigInt;

/// Shared, immutable schema. Schemas are built once and referenced by every
/// record that carries them, so cloning must be cheap.
pub type SchemaRef = Arc<Schema>;

/// Logical type names, as Java writes them in `schema.name`.
pub mod logical {
    pub const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
    pub const DATE: &str = "org.apache.kafka.connect.data.Date";
    pub const TIME: &str = "org.apache.kafka.connect.data.Time";
    pub const TIMESTAMP: &str = "org.apache.kafka.connect.data.Timestamp";
    /// Parameter carrying a Decimal's scale.
    pub const SCALE_PARAM: &str = "scale";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchemaType {
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Boolean,
    String,
    Bytes,
    Array,
    Map,
    Struct,
}

impl SchemaType {
    /// The lower-case name Java uses in JSON schemas (`"int32"`, `"struct"` …).
    pub fn name(self) -> &'static str {
        match self {
            SchemaType::Int8 => "int8",
            SchemaType::Int16 => "int16",
            SchemaType::Int32 => "int32",
            SchemaType::Int64 => "int64",
            SchemaType::Float32 => "float",
            SchemaType::Float64 => "double",
            SchemaType::Boolean => "boolean",
            SchemaType::String => "string",
            SchemaType::Bytes => "bytes",
            SchemaType::Array => "array",
            SchemaType::Map => "map",
            SchemaType::Struct => "struct",
        }
    }

    pub fn from_name(name: &str) -> Option<SchemaType> {
        Some(match name {
            "int8" => SchemaType::Int8,
            "int16" => SchemaType::Int16,
            "int32" => SchemaType::Int32,
            "int64" => SchemaType::Int64,
            "float" => SchemaType::Float32,
            "double" => SchemaType::Float64,
            "boolean" => SchemaType::Boolean,
            "string" => SchemaType::String,
            "bytes" => SchemaType::Bytes,
            "array" => SchemaType::Array,
            "map" => SchemaType::Map,
            "struct" => SchemaType::Struct,
            _ => return None,
        })
    }

    pub fn is_primitive(self) -> bool {
        !matches!(
            self,
            SchemaType::Array | SchemaType::Map | SchemaType::Struct
        )
    }
}

impl fmt::Display for SchemaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name().to_ascii_uppercase())
    }
}

/// A struct field: name, position and schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub index: usize,
    pub schema: SchemaRef,
}

/// A Connect schema (`org.apache.kafka.connect.data.Schema`).
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    pub schema_type: SchemaType,
    pub optional: bool,
    pub default: Option<Value>,
    pub name: Option<String>,
    pub version: Option<i32>,
    pub doc: Option<String>,
    /// Insertion-ordered like Java's `LinkedHashMap`, so output order matches.
    pub parameters: Option<IndexMap<String, String>>,
    pub fields: Vec<Field>,
    pub key_schema: Option<SchemaRef>,
    pub value_schema: Option<SchemaRef>,
}

impl Schema {
    pub fn new(schema_type: SchemaType) -> Schema {
        Schema {
            schema_type,
            optional: false,
            default: None,
            name: None,
            version: None,
            doc: None,
            parameters: None,
            fields: Vec::new(),
            key_schema: None,
            value_schema: None,
        }
    }

    /// The field called `name`, if this is a struct schema that has it.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    pub fn is_logical(&self, logical_name: &str) -> bool {
        self.name.as_deref() == Some(logical_name)
    }

    /// The scale of a Decimal schema (`parameters.scale`).
    pub fn decimal_scale(&self) -> Option<i32> {
        self.parameters
            .as_ref()?
            .get(logical::SCALE_PARAM)?
            .parse()
            .ok()
    }

    /// Checks that `value` is valid for this schema, like Java's
    /// `ConnectSchema.validateValue`.
    pub fn validate(&self, value: &Value) -> Result<(), DataError> {
        validate_value(None, self, value)
    }
}

/// Builder in the style of Java's `SchemaBuilder`.
#[derive(Debug, Clone)]
pub struct SchemaBuilder {
    schema: Schema,
}

impl SchemaBuilder {
    pub fn new(schema_type: SchemaType) -> Self {
        SchemaBuilder {
            schema: Schema::new(schema_type),
        }
    }
    pub fn int8() -> Self {
        Self::new(SchemaType::Int8)
    }
    pub fn int16() -> Self {
        Self::new(SchemaType::Int16)
    }
    pub fn int32() -> Self {
        Self::new(SchemaType::Int32)
    }
    pub fn int64() -> Self {
        Self::new(SchemaType::Int64)
    }
    pub fn float32() -> Self {
        Self::new(SchemaType::Float32)
    }
    pub fn float64() -> Self {
        Self::new(SchemaType::Float64)
    }
    pub fn boolean() -> Self {
        Self::new(SchemaType::Boolean)
    }
    pub fn string() -> Self {
        Self::new(SchemaType::String)
    }
    pub fn bytes() -> Self {
        Self::new(SchemaType::Bytes)
    }
    pub fn struct_() -> Self {
        Self::new(SchemaType::Struct)
    }
    pub fn array(value_schema: SchemaRef) -> Self {
        let mut b = Self::new(SchemaType::Array);
        b.schema.value_schema = Some(value_schema);
        b
    }
    pub fn map(key_schema: SchemaRef, value_schema: SchemaRef) -> Self {
        let mut b = Self::new(SchemaType::Map);
        b.schema.key_schema = Some(key_schema);
        b.schema.value_schema = Some(value_schema);
        b
    }
    /// `Decimal.builder(scale)`.
    pub fn decimal(scale: i32) -> Self {
        Self::bytes()
            .name(logical::DECIMAL)
            .version(1)
            .parameter(logical::SCALE_PARAM, scale.to_string())
    }
    /// `Date.builder()`: days since the epoch as INT32.
    pub fn date() -> Self {
        Self::int32().name(logical::DATE).version(1)
    }
    /// `Time.builder()`: milliseconds since midnight as INT32.
    pub fn time() -> Self {
        Self::int32().name(logical::TIME).version(1)
    }
    /// `Timestamp.builder()`: milliseconds since the epoch as INT64.
    pub fn timestamp() -> Self {
        Self::int64().name(logical::TIMESTAMP).version(1)
    }

    pub fn optional(mut self) -> Self {
        self.schema.optional = true;
        self
    }
    pub fn required(mut self) -> Self {
        self.schema.optional = false;
        self
    }
    pub fn default_value(mut self, value: Value) -> Self {
        self.schema.default = Some(value);
        self
    }
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.schema.name = Some(name.into());
        self
    }
    pub fn version(mut self, version: i32) -> Self {
        self.schema.version = Some(version);
        self
    }
    pub fn doc(mut self, doc: impl Into<String>) -> Self {
        self.schema.doc = Some(doc.into());
        self
    }
    pub fn parameter(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.schema
            .parameters
            .get_or_insert_with(IndexMap::new)
            .insert(key.into(), value.into());
        self
    }
    pub fn field(mut self, name: impl Into<String>, schema: SchemaRef) -> Self {
        let index = self.schema.fields.len();
        self.schema.fields.push(Field {
            name: name.into(),
            index,
            schema,
        });
        self
    }
    pub fn build(self) -> SchemaRef {
        Arc::new(self.schema)
    }
}

/// An arbitrary-precision decimal: `unscaled * 10^-scale`, as Java's
/// `BigDecimal` is serialized by Connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decimal {
    pub unscaled: BigInt,
    pub scale: i32,
}

impl Decimal {
    pub fn new(unscaled: impl Into<BigInt>, scale: i32) -> Decimal {
        Decimal {
            unscaled: unscaled.into(),
            scale,
        }
    }

    /// Parses a plain decimal string such as `-12.340` keeping its scale.
    pub fn parse(text: &str) -> Option<Decimal> {
        let (int_part, frac_part) = match text.split_once('.') {
            Some((i, f)) => (i, f),
            None => (text, ""),
        };
        let digits = format!("{int_part}{frac_part}");
        let unscaled: BigInt = digits.parse().ok()?;
        Some(Decimal {
            unscaled,
            scale: i32::try_from(frac_part.len()).ok()?,
        })
    }

    /// Big-endian two's complement bytes of the unscaled value, as
    /// `BigInteger.toByteArray()` produces them.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.unscaled.to_signed_bytes_be()
    }

    pub fn from_bytes(bytes: &[u8], scale: i32) -> Decimal {
        Decimal {
            unscaled: BigInt::from_signed_bytes_be(bytes),
            scale,
        }
    }
}

impl fmt::Display for Decimal {
    /// Plain notation, like `BigDecimal.toPlainString()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let negative = self.unscaled.sign() == num_bigint::Sign::Minus;
        let digits = self.unscaled.magnitude().to_string();
        let sign = if negative { "-" } else { "" };
        if self.scale <= 0 {
            let zeros = "0".repeat(self.scale.unsigned_abs() as usize);
            if digits == "0" {
                return write!(f, "0");
            }
            return write!(f, "{sign}{digits}{zeros}");
        }
        let scale = self.scale as usize;
        if digits.len() > scale {
            let (i, frac) = digits.split_at(digits.len() - scale);
            write!(f, "{sign}{i}.{frac}")
        } else {
            let pad = "0".repeat(scale - digits.len());
            write!(f, "{sign}0.{pad}{digits}")
        }
    }
}

/// A struct value: a schema and one value per field, in field order.
#[derive(Debug, Clone, PartialEq)]
pub struct Struct {
    schema: SchemaRef,
    values: Vec<Value>,
}

impl Struct {
    /// A struct with every field unset (null).
    pub fn new(schema: SchemaRef) -> Struct {
        let values = vec![Value::Null; schema.fields.len()];
        Struct { schema, values }
    }

    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Sets a field by name; fails if the schema has no such field or the
    /// value does not fit the field's schema.
    pub fn put(mut self, field: &str, value: impl Into<Value>) -> Result<Struct, DataError> {
        self.set(field, value.into())?;
        Ok(self)
    }

    pub fn set(&mut self, field: &str, value: Value) -> Result<(), DataError> {
        let f = self
            .schema
            .field(field)
            .ok_or_else(|| DataError::new(format!("{field} is not a valid field name")))?;
        validate_value(Some(field), &f.schema, &value)?;
        self.values[f.index] = value;
        Ok(())
    }

    /// The value of `field`, or `None` if there is no such field. An unset
    /// field falls back to the field schema's default, as Java's `Struct.get`.
    pub fn get(&self, field: &str) -> Option<&Value> {
        let f = self.schema.field(field)?;
        Some(self.get_by_index(f.index))
    }

    pub fn get_by_index(&self, index: usize) -> &Value {
        let value = &self.values[index];
        if value.is_null() {
            if let Some(default) = &self.schema.fields[index].schema.default {
                return default;
            }
        }
        value
    }

    /// Field values without default substitution.
    pub fn raw_values(&self) -> &[Value] {
        &self.values
    }

    /// Checks every required field is set, like Java's `Struct.validate`.
    pub fn validate(&self) -> Result<(), DataError> {
        for f in &self.schema.fields {
            validate_value(Some(&f.name), &f.schema, self.get_by_index(f.index))?;
        }
        Ok(())
    }
}

/// A Connect value. Logical types have their own variants so connectors and
/// transforms need not decode them from their physical form.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int8(i8),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    Float32(f32),
    Float64(f64),
    Boolean(bool),
    String(String),
    Bytes(Vec<u8>),
    Array(Vec<Value>),
    /// Ordered entries; keys may be any value, as in Java.
    Map(Vec<(Value, Value)>),
    Struct(Struct),
    Decimal(Decimal),
    /// Days since 1970-01-01.
    Date(i32),
    /// Milliseconds since midnight.
    Time(i32),
    /// Milliseconds since the epoch.
    Timestamp(i64),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_struct(&self) -> Option<&Struct> {
        match self {
            Value::Struct(s) => Some(s),
            _ => None,
        }
    }

    /// The schema type this value's variant belongs to (logical values report
    /// their physical type).
    pub fn schema_type(&self) -> Option<SchemaType> {
        Some(match self {
            Value::Null => return None,
            Value::Int8(_) => SchemaType::Int8,
            Value::Int16(_) => SchemaType::Int16,
            Value::Int32(_) | Value::Date(_) | Value::Time(_) => SchemaType::Int32,
            Value::Int64(_) | Value::Timestamp(_) => SchemaType::Int64,
            Value::Float32(_) => SchemaType::Float32,
            Value::Float64(_) => SchemaType::Float64,
            Value::Boolean(_) => SchemaType::Boolean,
            Value::String(_) => SchemaType::String,
            Value::Bytes(_) | Value::Decimal(_) => SchemaType::Bytes,
            Value::Array(_) => SchemaType::Array,
            Value::Map(_) => SchemaType::Map,
            Value::Struct(_) => SchemaType::Struct,
        })
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::String(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::String(v)
    }
}
impl From<i8> for Value {
    fn from(v: i8) -> Value {
        Value::Int8(v)
    }
}
impl From<i16> for Value {
    fn from(v: i16) -> Value {
        Value::Int16(v)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Value {
        Value::Int32(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int64(v)
    }
}
impl From<f32> for Value {
    fn from(v: f32) -> Value {
        Value::Float32(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Float64(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Boolean(v)
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Value {
        Value::Bytes(v)
    }
}
impl From<Struct> for Value {
    fn from(v: Struct) -> Value {
        Value::Struct(v)
    }
}
impl From<Decimal> for Value {
    fn from(v: Decimal) -> Value {
        Value::Decimal(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

/// A value that does not fit its schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DataError {
    pub message: String,
}

impl DataError {
    pub fn new(message: impl Into<String>) -> DataError {
        DataError {
            message: message.into(),
        }
    }
}

fn validate_value(field: Option<&str>, schema: &Schema, value: &Value) -> Result<(), DataError> {
    let at = || {
        field
            .map(|f| format!(" for field \"{f}\""))
            .unwrap_or_default()
    };
    if value.is_null() {
        if schema.optional || schema.default.is_some() {
            return Ok(());
        }
        return Err(DataError::new(format!(
            "Invalid value: null used for required field: \"{}\", schema type: {}",
            field.unwrap_or("null"),
            schema.schema_type
        )));
    }
    let logical_ok = match value {
        Value::Decimal(_) => schema.is_logical(logical::DECIMAL),
        Value::Date(_) => schema.is_logical(logical::DATE),
        Value::Time(_) => schema.is_logical(logical::TIME),
        Value::Timestamp(_) => schema.is_logical(logical::TIMESTAMP),
        _ => true,
    };
    if value.schema_type() != Some(schema.schema_type) || !logical_ok {
        return Err(DataError::new(format!(
            "Invalid Java object for schema{} with type {}: {}{}",
            schema
                .name
                .as_ref()
                .map(|n| format!(" \"{n}\""))
                .unwrap_or_default(),
            schema.schema_type,
            describe(value),
            at()
        )));
    }
    match value {
        Value::Array(items) => {
            let vs = schema.value_schema.as_deref().ok_or_else(no_value_schema)?;
            for item in items {
                validate_value(field, vs, item)?;
            }
        }
        Value::Map(entries) => {
            let ks = schema.key_schema.as_deref().ok_or_else(no_value_schema)?;
            let vs = schema.value_schema.as_deref().ok_or_else(no_value_schema)?;
            for (k, v) in entries {
                validate_value(field, ks, k)?;
                validate_value(field, vs, v)?;
            }
        }
        Value::Struct(s) if s.schema().as_ref() != schema => {
            return Err(DataError::new(format!(
                "Struct schemas do not match{}",
                at()
            )));
        }
        _ => {}
    }
    Ok(())
}

fn no_value_schema() -> DataError {
    DataError::new("container schema is missing its key or value schema")
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Int8(_) => "Int8".into(),
        Value::Int16(_) => "Int16".into(),
        Value::Int32(_) => "Int32".into(),
        Value::Int64(_) => "Int64".into(),
        Value::Float32(_) => "Float32".into(),
        Value::Float64(_) => "Float64".into(),
        Value::Boolean(_) => "Boolean".into(),
        Value::String(_) => "String".into(),
        Value::Bytes(_) => "Bytes".into(),
        Value::Array(_) => "Array".into(),
        Value::Map(_) => "Map".into(),
        Value::Struct(_) => "Struct".into(),
        Value::Decimal(_) => "Decimal".into(),
        Value::Date(_) => "Date".into(),
        Value::Time(_) => "Time".into(),
        Value::Timestamp(_) => "Timestamp".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_bytes_match_java_biginteger() {
        // new BigDecimal("12345.67").unscaledValue().toByteArray() == [0x12, 0xD6, 0x87]
        let d = Decimal::parse("12345.67").unwrap();
        assert_eq!(d.scale, 2);
        assert_eq!(d.to_bytes(), vec![0x12, 0xD6, 0x87]);
        assert_eq!(Decimal::from_bytes(&d.to_bytes(), 2), d);
        // -1 is a single 0xFF byte in two's complement.
        assert_eq!(Decimal::parse("-0.001").unwrap().to_bytes(), vec![0xFF]);
    }

    #[test]
    fn decimal_plain_string() {
        for s in [
            "12345.67",
            "-0.001",
            "0.10",
            "123456789012345678901234567890",
            "-5",
        ] {
            assert_eq!(Decimal::parse(s).unwrap().to_string(), s);
        }
        assert_eq!(Decimal::new(5, -2).to_string(), "500");
    }

    #[test]
    fn struct_rejects_wrong_type_and_unknown_field() {
        let schema = SchemaBuilder::struct_()
            .field("id", SchemaBuilder::int64().build())
            .field("name", SchemaBuilder::string().optional().build())
            .build();
        let s = Struct::new(schema.clone());
        assert!(s.clone().put("id", 1i32).is_err());
        assert!(s.clone().put("nope", 1i64).is_err());
        let s = s.put("id", 7i64).unwrap();
        assert!(s.validate().is_ok());
        assert!(Struct::new(schema).validate().is_err());
    }

    #[test]
    fn unset_field_falls_back_to_default() {
        let schema = SchemaBuilder::struct_()
            .field(
                "n",
                SchemaBuilder::int32()
                    .default_value(Value::Int32(5))
                    .build(),
            )
            .build();
        assert_eq!(Struct::new(schema).get("n"), Some(&Value::Int32(5)));
    }
}

/// `Double.toString`: shortest round-trip digits, plain notation for
/// 1e-3 <= |d| < 1e7 and `d.dddE±n` otherwise, always with a fraction digit.
fn shortest_double_to_string(d: f64) -> String {
    if d.is_nan() {
        return "NaN".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    java_float_format(format!("{d:e}"), d == 0.0, d.abs())
}

/// `Float.toString`, with the same rules on the float's own shortest digits.
fn shortest_float_to_string(f: f32) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    java_float_format(format!("{f:e}"), f == 0.0, f64::from(f.abs()))
}

/// `Double.toString` (JDK 19+ semantics). Shortest round-trip digits,
/// plus the fix for the one case where Java's "at least two digits" rule
/// picks different digits than the shortest form: subnormals whose shortest
/// form has one digit (`Double.MIN_VALUE` is `4.9E-324`, not `5.0E-324`).
pub fn java_double_to_string(d: f64) -> String {
    if d.is_finite() && d != 0.0 && d.abs() < 1e-3 {
        if let Some(s) = two_digit_fix(&format!("{:e}", d.abs()), &format!("{:.1e}", d.abs())) {
            return if d < 0.0 { format!("-{s}") } else { s };
        }
    }
    shortest_double_to_string(d)
}

/// `Float.toString`, with the same fix as [`java_double_to_string`]
/// (`Float.MIN_VALUE` is `1.4E-45`).
pub fn java_float_to_string(f: f32) -> String {
    if f.is_finite() && f != 0.0 && f.abs() < 1e-3 {
        if let Some(s) = two_digit_fix(&format!("{:e}", f.abs()), &format!("{:.1e}", f.abs())) {
            return if f < 0.0 { format!("-{s}") } else { s };
        }
    }
    shortest_float_to_string(f)
}

/// Given the shortest (`5e-324`) and the correctly rounded two-digit
/// (`4.9e-324`) scientific forms, returns Java's form when they disagree.
fn two_digit_fix(shortest: &str, two: &str) -> Option<String> {
    let (mantissa, _) = shortest.split_once('e')?;
    if mantissa.len() != 1 {
        return None;
    }
    let (m2, e2) = two.split_once('e')?;
    if m2 == format!("{mantissa}.0") {
        return None;
    }
    Some(format!("{m2}E{e2}"))
}

/// Renders Rust's shortest scientific form (`-1.25e-7`) the way Java does.
fn java_float_format(sci: String, zero: bool, magnitude: f64) -> String {
    let (negative, sci) = match sci.strip_prefix('-') {
        Some(rest) => (true, rest.to_owned()),
        None => (false, sci),
    };
    let sign = if negative { "-" } else { "" };
    if zero {
        return format!("{sign}0.0");
    }
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if (1e-3..1e7).contains(&magnitude) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            let (int_part, frac) = if digits.len() > int_len {
                (digits[..int_len].to_owned(), digits[int_len..].to_owned())
            } else {
                (format!("{digits:0<int_len$}"), String::new())
            };
            let frac = if frac.is_empty() { "0".into() } else { frac };
            format!("{sign}{int_part}.{frac}")
        } else {
            let zeros = "0".repeat((-exp - 1) as usize);
            format!("{sign}0.{zeros}{digits}")
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { "0" } else { rest };
        format!("{sign}{first}.{rest}E{exp}")
    }
}

impl Value {
    /// What Java's `toString()` gives for the equivalent Java object; used
    /// where Connect stringifies values (StringConverter, file sink).
    pub fn to_java_string(&self) -> String {
        match self {
            Value::String(s) => s.clone(),
            other => {
                let mut out = String::new();
                other.write_java_string(&mut out);
                out
            }
        }
    }

    /// [`Self::to_java_string`], appended to `out`: no intermediate strings
    /// for structs, arrays and maps (the file sink's per-record path).
    pub fn write_java_string(&self, out: &mut String) {
        use std::fmt::Write;
        // Writing into a String cannot fail.
        match self {
            Value::Null => out.push_str("null"),
            Value::Int8(v) => {
                let _ = write!(out, "{v}");
            }
            Value::Int16(v) => {
                let _ = write!(out, "{v}");
            }
            Value::Int32(v) => {
                let _ = write!(out, "{v}");
            }
            Value::Int64(v) => {
                let _ = write!(out, "{v}");
            }
            Value::Float32(v) => out.push_str(&java_float_to_string(*v)),
            Value::Float64(v) => out.push_str(&java_double_to_string(*v)),
            Value::Boolean(v) => out.push_str(if *v { "true" } else { "false" }),
            Value::String(s) => out.push_str(s),
            Value::Bytes(b) => {
                let _ = write!(out, "{b:?}");
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write_java_string(out);
                }
                out.push(']');
            }
            Value::Map(entries) => {
                out.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    k.write_java_string(out);
                    out.push('=');
                    v.write_java_string(out);
                }
                out.push('}');
            }
            Value::Struct(s) => {
                out.push_str("Struct{");
                let values = s.raw_values();
                let mut first = true;
                for f in &s.schema().fields {
                    let v = &values[f.index];
                    if v.is_null() {
                        continue;
                    }
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    out.push_str(&f.name);
                    out.push('=');
                    v.write_java_string(out);
                }
                out.push('}');
            }
            Value::Decimal(d) => {
                let _ = write!(out, "{d}");
            }
            Value::Date(v) => {
                let _ = write!(out, "{v}");
            }
            Value::Time(v) => {
                let _ = write!(out, "{v}");
            }
            Value::Timestamp(v) => {
                let _ = write!(out, "{v}");
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::approx_constant)] // the same literals as the Java vectors
mod java_format_tests {
    use super::*;

    #[test]
    fn doubles_print_like_java() {
        assert_eq!(java_double_to_string(1.0), "1.0");
        assert_eq!(
            java_double_to_string(2.718281828459045),
            "2.718281828459045"
        );
        assert_eq!(java_double_to_string(1.0e21), "1.0E21");
        assert_eq!(java_double_to_string(1.0e7), "1.0E7");
        assert_eq!(java_double_to_string(9999999.0), "9999999.0");
        assert_eq!(java_double_to_string(0.001), "0.001");
        assert_eq!(java_double_to_string(0.0001), "1.0E-4");
        assert_eq!(java_double_to_string(-123.456), "-123.456");
        assert_eq!(java_double_to_string(1.2345678e-10), "1.2345678E-10");
        assert_eq!(java_double_to_string(-0.0), "-0.0");
        assert_eq!(java_double_to_string(100.0), "100.0");
        assert_eq!(java_float_to_string(3.14), "3.14");
        assert_eq!(java_float_to_string(1.0e-7), "1.0E-7");
    }
}
