//! `JsonConverter`: Connect data as JSON, byte-compatible with Apache Kafka's
//! `org.apache.kafka.connect.json.JsonConverter` (4.x, Jackson output).
//!
//! With `schemas.enable=true` (the default) every record is an envelope
//! `{"schema":…,"payload":…}`; with `false` only the payload is written and
//! read back schemaless.
//!
//! Output is written by hand rather than through `serde_json` so that every
//! byte matches what Jackson writes: compact separators, Jackson's string
//! escaping (`\u00XX` in upper case, characters outside the BMP as escaped
//! surrogate pairs), `Double.toString`/`Float.toString` number formatting,
//! `"NaN"`/`"Infinity"` as quoted strings, standard padded base64 for bytes.
//!
//! Input is parsed by a small JSON reader that keeps every number's text, so
//! 64-bit integers and NUMERIC decimals stay exact, and which follows the
//! Jackson settings Kafka uses (leading zeros allowed, nesting depth 1000,
//! numbers at most 1000 characters, anything after the first root value
//! ignored, later duplicate keys replace earlier ones). Writing is limited to
//! 1000 levels too, like Jackson's `StreamWriteConstraints`. Documents nested
//! deeper than 128 levels are handled on a helper thread with a
//! large stack, so no input can overflow the caller's stack.
//!
//! Where Java is lossy in ways that are not a property of the format, this
//! implementation deliberately differs, and says so at each place:
//! * `"NaN"`, `"Infinity"` and `"-Infinity"` payloads for float schemas are
//!   read as those values (Java reads any string as `0.0`);
//! * a payload of the wrong JSON type (a string for an `int32`, an object for
//!   an array, …) or an integer out of the schema's range is an error (Java
//!   silently reads `0`, `null` or a truncated value);
//! * strings containing lone UTF-16 surrogates (only expressible as `\uD800`
//!   style escapes) are rejected, as Rust strings cannot hold them.
//!
//! Maps read from JSON keep the key order of the input; Java reads them into
//! a `HashMap`, so a Java round trip may reorder keys where ours does not.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use indexmap::IndexMap;
use num_bigint::{BigInt, Sign};

use crate::connect::config::{ConfigDef, ConfigType, Importance, Validator};
use crate::connect::data::{java_double_to_string, java_float_to_string, logical};
use crate::connect::{
    Converter, ConverterError, Decimal, Props, Schema, SchemaAndValue, SchemaRef, SchemaType,
    Struct, Value,
};

/// `schemas.enable`
pub const SCHEMAS_ENABLE_CONFIG: &str = "schemas.enable";
/// `schemas.cache.size`
pub const SCHEMAS_CACHE_SIZE_CONFIG: &str = "schemas.cache.size";
/// `decimal.format`
pub const DECIMAL_FORMAT_CONFIG: &str = "decimal.format";
/// `replace.null.with.default`
pub const REPLACE_NULL_WITH_DEFAULT_CONFIG: &str = "replace.null.with.default";

/// Java's error when an envelope is expected but not found.
pub const ENVELOPE_ERROR: &str = "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and may not contain additional fields. If you are trying to deserialize plain JSON data, set schemas.enable=false in your converter configuration.";

/// Jackson's `StreamReadConstraints` defaults used by Kafka's deserializer.
const MAX_NESTING_DEPTH: usize = 1000;
const MAX_NUMBER_LENGTH: usize = 1000;

/// Nesting handled on the caller's stack. Deeper documents (up to the
/// limits above) are converted on a short-lived thread with a large stack,
/// so that the recursive reader and writer can never overflow a task's
/// stack (an overflow aborts the whole process).
const INLINE_NESTING_DEPTH: usize = 128;
const DEEP_STACK_SIZE: usize = 16 << 20;

/// Milliseconds in a day, the upper bound (inclusive) of a Connect `Time`.
const MILLIS_PER_DAY: i32 = 86_400_000;

/// The settings `JsonConverter` accepts, as Java's `JsonConverterConfig`.
pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            SCHEMAS_ENABLE_CONFIG,
            ConfigType::Boolean,
            Some("true"),
            Importance::High,
            "Include schemas within each of the serialized values and keys.",
        )
        .define(
            SCHEMAS_CACHE_SIZE_CONFIG,
            ConfigType::Int,
            Some("1000"),
            Importance::High,
            "The maximum number of schemas that can be cached in this converter instance.",
        )
        .define(
            DECIMAL_FORMAT_CONFIG,
            ConfigType::String,
            Some("BASE64"),
            Importance::Low,
            "Controls which format this converter will serialize decimals in. This value is case insensitive and can be either 'BASE64' (default) or 'NUMERIC'",
        )
        .validate_with(Validator::OneOf(&["BASE64", "NUMERIC"]))
        .define(
            REPLACE_NULL_WITH_DEFAULT_CONFIG,
            ConfigType::Boolean,
            Some("true"),
            Importance::Low,
            "Whether to replace fields that have a default value and that are null to the default value. When set to true, the default value is used, otherwise null is used.",
        )
}

/// How Decimal values are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalFormat {
    /// Base64 of the unscaled value's two's-complement bytes (Java's default).
    Base64,
    /// A JSON number, as `BigDecimal.toString()` writes it.
    Numeric,
}

#[derive(Debug, Clone, Copy)]
struct Settings {
    schemas_enable: bool,
    decimal_format: DecimalFormat,
    replace_null_with_default: bool,
}

/// Connect data to JSON and back; see the module documentation.
pub struct JsonConverter {
    settings: Settings,
    is_key: bool,
    cache_size: usize,
    /// Schema JSON text (as received) to parsed schema.
    to_connect_cache: Mutex<HashMap<Box<[u8]>, SchemaRef>>,
    /// Schema (by address; the entry keeps the `Arc` alive so the address
    /// cannot be reused) to its JSON text.
    from_connect_cache: Mutex<HashMap<usize, (SchemaRef, Arc<str>)>>,
    /// The schema member found in the cache last: a topic's envelopes
    /// usually all start with the same schema bytes, which then need no
    /// parsing at all.
    last_schema: Mutex<Option<LastSchema>>,
}

struct LastSchema {
    raw: Box<[u8]>,
    schema: SchemaRef,
    /// The nesting depth its validation reached (the root object is 1).
    depth: usize,
}

impl std::fmt::Debug for JsonConverter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonConverter")
            .field("schemas_enable", &self.settings.schemas_enable)
            .field("decimal_format", &self.settings.decimal_format)
            .field(
                "replace_null_with_default",
                &self.settings.replace_null_with_default,
            )
            .field("is_key", &self.is_key)
            .field("cache_size", &self.cache_size)
            .finish()
    }
}

impl JsonConverter {
    /// Configures a converter from its settings (the `key.converter.` /
    /// `value.converter.` prefix already removed). Unknown keys are ignored,
    /// as in Java; a bad value is an error naming the key.
    pub fn configure(settings: &Props, is_key: bool) -> Result<JsonConverter, String> {
        let config = config_def().parse(settings).map_err(|e| e.message)?;
        let decimal_format = match config
            .string(DECIMAL_FORMAT_CONFIG)
            .map_err(|e| e.message)?
            .unwrap_or_default()
            .trim()
            .to_ascii_uppercase()
            .as_str()
        {
            "NUMERIC" => DecimalFormat::Numeric,
            _ => DecimalFormat::Base64,
        };
        Ok(JsonConverter {
            settings: Settings {
                schemas_enable: config
                    .boolean(SCHEMAS_ENABLE_CONFIG)
                    .map_err(|e| e.message)?,
                decimal_format,
                replace_null_with_default: config
                    .boolean(REPLACE_NULL_WITH_DEFAULT_CONFIG)
                    .map_err(|e| e.message)?,
            },
            is_key,
            // Java's LRU cache with a size <= 0 never holds anything.
            cache_size: usize::try_from(
                config
                    .int(SCHEMAS_CACHE_SIZE_CONFIG)
                    .map_err(|e| e.message)?,
            )
            .unwrap_or(0),
            to_connect_cache: Mutex::new(HashMap::new()),
            from_connect_cache: Mutex::new(HashMap::new()),
            last_schema: Mutex::new(None),
        })
    }

    /// Whether this converter writes and expects the schema envelope.
    pub fn schemas_enabled(&self) -> bool {
        self.settings.schemas_enable
    }

    /// The schema's JSON text (compact, Jackson field order), cached.
    fn schema_json(&self, schema: &SchemaRef, max_depth: usize) -> Result<Arc<str>, Fail> {
        let key = Arc::as_ptr(schema) as usize;
        if self.cache_size > 0 {
            if let Ok(cache) = self.from_connect_cache.lock() {
                if let Some((cached, text)) = cache.get(&key) {
                    if Arc::ptr_eq(cached, schema) {
                        return Ok(text.clone());
                    }
                }
            }
        }
        let mut w = Writer::new(self.settings, max_depth);
        w.depth = 1; // the schema sits inside the envelope
        w.schema(schema, None)?;
        let text: Arc<str> = Arc::from(w.out);
        if self.cache_size > 0 {
            if let Ok(mut cache) = self.from_connect_cache.lock() {
                if cache.len() >= self.cache_size {
                    cache.clear();
                }
                cache.insert(key, (schema.clone(), text.clone()));
            }
        }
        Ok(text)
    }

    /// The schema converted earlier from these bytes, if cached.
    fn cached_schema(&self, raw: &[u8]) -> Option<SchemaRef> {
        if self.cache_size == 0 {
            return None;
        }
        let cache = self.to_connect_cache.lock().ok()?;
        cache.get(raw).cloned()
    }

    /// Converts an envelope's schema the cache did not know (the parser
    /// already looked its bytes up) and caches it by its raw text.
    fn schema_from_json(&self, raw: &[u8], node: &Node) -> Result<Option<SchemaRef>, Fail> {
        if matches!(node, Node::Null) {
            return Ok(None);
        }
        let schema = parse_schema(node, self.settings)?;
        if self.cache_size > 0 {
            if let Ok(mut cache) = self.to_connect_cache.lock() {
                if cache.len() >= self.cache_size {
                    cache.clear();
                }
                cache.insert(raw.into(), schema.clone());
            }
        }
        Ok(Some(schema))
    }
}

impl Converter for JsonConverter {
    fn from_connect(
        &self,
        _topic: &str,
        schema: Option<&SchemaRef>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, ConverterError> {
        if schema.is_none() && value.is_null() {
            return Ok(None);
        }
        match self.write(schema, value, INLINE_NESTING_DEPTH) {
            Some(result) => result.map(Some),
            None => on_deep_stack(|| self.write(schema, value, MAX_NESTING_DEPTH))?
                .unwrap_or_else(|| Err(ConverterError::new("document nesting too deep")))
                .map(Some),
        }
    }

    fn to_connect(
        &self,
        _topic: &str,
        bytes: Option<&[u8]>,
    ) -> Result<SchemaAndValue, ConverterError> {
        let Some(bytes) = bytes else {
            return Ok(SchemaAndValue::null());
        };
        match self.read(bytes, INLINE_NESTING_DEPTH) {
            Some(result) => result,
            None => on_deep_stack(|| self.read(bytes, MAX_NESTING_DEPTH))?
                .unwrap_or_else(|| Err(ConverterError::new("document nesting too deep"))),
        }
    }
}

/// Runs `f` on a thread with a large stack, for deeply nested documents.
fn on_deep_stack<T: Send>(f: impl FnOnce() -> T + Send) -> Result<T, ConverterError> {
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name("json-converter-deep".into())
            .stack_size(DEEP_STACK_SIZE)
            .spawn_scoped(scope, f)
            .map_err(|e| {
                ConverterError::new(format!(
                    "cannot start a thread to convert a deeply nested document: {e}"
                ))
            })?;
        match handle.join() {
            Ok(v) => Ok(v),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

impl JsonConverter {
    /// Serializes with nesting up to `max_depth`; `None` if the document is
    /// deeper than that but within Jackson's limit (retry on a deep stack).
    fn write(
        &self,
        schema: Option<&SchemaRef>,
        value: &Value,
        max_depth: usize,
    ) -> Option<Result<Vec<u8>, ConverterError>> {
        let deep = |f: &Fail| f.deep;
        let mut w = Writer::new(self.settings, max_depth);
        let result = if self.settings.schemas_enable {
            w.depth = 1; // inside the envelope
            w.out.push_str("{\"schema\":");
            match schema {
                None => w.out.push_str("null"),
                Some(s) => match self.schema_json(s, max_depth) {
                    Ok(text) => w.out.push_str(&text),
                    Err(f) if deep(&f) => return None,
                    Err(f) => return Some(Err(f.into_error("schema"))),
                },
            }
            w.out.push_str(",\"payload\":");
            let r = w.value(schema.map(|s| &**s), value);
            w.out.push('}');
            r
        } else {
            w.value(schema.map(|s| &**s), value)
        };
        match result {
            Ok(()) => Some(Ok(w.out.into_bytes())),
            Err(f) if deep(&f) => None,
            Err(f) => Some(Err(f.into_error("payload"))),
        }
    }

    /// Deserializes with nesting up to `max_depth`; `None` if the document is
    /// deeper than that but within Jackson's limit (retry on a deep stack).
    fn read(
        &self,
        bytes: &[u8],
        max_depth: usize,
    ) -> Option<Result<SchemaAndValue, ConverterError>> {
        let known: Option<&dyn KnownSchemas> =
            (self.settings.schemas_enable && self.cache_size > 0).then_some(self);
        let parsed = match Parser::parse(bytes, max_depth, known) {
            Ok(p) => p,
            Err(ParseError::TooDeep) => return None,
            Err(ParseError::Invalid(e)) => {
                return Some(Err(ConverterError::new(format!(
                    "Converting byte[] to Kafka Connect data failed due to serialization error: {e}"
                ))))
            }
        };
        // Conversion recursion is bounded by the parsed depth from here on.
        Some(self.convert(bytes, &parsed))
    }

    fn convert(&self, bytes: &[u8], parsed: &Parsed) -> Result<SchemaAndValue, ConverterError> {
        let settings = self.settings;
        if !settings.schemas_enable {
            return match &parsed.root {
                None => Ok(SchemaAndValue::null()),
                Some(node) => Ok(SchemaAndValue {
                    schema: None,
                    value: to_value(None, Some(node), settings)
                        .map_err(|f| f.into_error("payload"))?,
                }),
            };
        }
        let envelope = match &parsed.root {
            Some(Node::Object(members))
                if members.len() == 2
                    && members.contains_key("schema")
                    && members.contains_key("payload") =>
            {
                members
            }
            _ => return Err(ConverterError::new(ENVELOPE_ERROR)),
        };
        let schema = match &parsed.known_schema {
            Some(known) => Some(known.clone()),
            None => {
                let raw_schema = parsed
                    .schema_span
                    .clone()
                    .map(|span| &bytes[span])
                    .unwrap_or_default();
                self.schema_from_json(raw_schema, &envelope["schema"])
                    .map_err(|f| f.into_error("schema"))?
            }
        };
        let value = to_value(schema.as_ref(), Some(&envelope["payload"]), settings)
            .map_err(|f| f.into_error("payload"))?;
        Ok(SchemaAndValue { schema, value })
    }
}

// ---------------------------------------------------------------- errors

/// A conversion failure and where in the document it happened (innermost
/// path segment first while unwinding).
#[derive(Debug)]
struct Fail {
    message: String,
    path: Vec<String>,
    /// Not an error: the document is nested deeper than the current stack
    /// allows; the caller retries on a deep stack.
    deep: bool,
}

impl Fail {
    fn new(message: impl Into<String>) -> Fail {
        Fail {
            message: message.into(),
            path: Vec::new(),
            deep: false,
        }
    }

    fn deep() -> Fail {
        Fail {
            message: String::new(),
            path: Vec::new(),
            deep: true,
        }
    }

    /// Prefixes the message (keeping the path and the deep marker).
    fn context(mut self, prefix: &str) -> Fail {
        if !self.deep {
            self.message = format!("{prefix}{}", self.message);
        }
        self
    }

    fn at_field(mut self, name: &str) -> Fail {
        self.path.push(format!(".{name}"));
        self
    }

    fn at_index(mut self, index: usize) -> Fail {
        self.path.push(format!("[{index}]"));
        self
    }

    fn at_key(mut self, key: &str) -> Fail {
        self.path.push(format!("[{key:?}]"));
        self
    }

    fn into_error(self, root: &str) -> ConverterError {
        if self.path.is_empty() {
            return ConverterError::new(self.message);
        }
        let mut at = root.to_owned();
        for seg in self.path.iter().rev() {
            at.push_str(seg);
        }
        ConverterError::new(format!("{} (at {at})", self.message))
    }
}

type Res<T> = Result<T, Fail>;

// ---------------------------------------------------------------- writing

/// Writes Connect data as Jackson's compact JSON.
struct Writer {
    settings: Settings,
    out: String,
    /// Current nesting of open arrays and objects.
    depth: usize,
    /// Nesting allowed in this run (see [`INLINE_NESTING_DEPTH`]).
    max_depth: usize,
}

/// Logical types recognised by name on a schema of the right physical type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Logical {
    Decimal,
    Date,
    Time,
    Timestamp,
}

fn logical_of(schema: &Schema) -> Option<Logical> {
    let name = schema.name.as_deref()?;
    match (name, schema.schema_type) {
        (logical::DECIMAL, SchemaType::Bytes) => Some(Logical::Decimal),
        (logical::DATE, SchemaType::Int32) => Some(Logical::Date),
        (logical::TIME, SchemaType::Int32) => Some(Logical::Time),
        (logical::TIMESTAMP, SchemaType::Int64) => Some(Logical::Timestamp),
        _ => None,
    }
}

fn decimal_scale(schema: &Schema) -> Res<i32> {
    let raw = schema
        .parameters
        .as_ref()
        .and_then(|p| p.get(logical::SCALE_PARAM))
        .ok_or_else(|| Fail::new("Invalid Decimal schema: scale parameter not found."))?;
    raw.parse().map_err(|_| {
        Fail::new(format!(
            "Invalid Decimal schema: scale parameter {raw:?} is not an integer"
        ))
    })
}

impl Writer {
    fn new(settings: Settings, max_depth: usize) -> Writer {
        Writer {
            settings,
            out: String::with_capacity(128),
            depth: 0,
            max_depth: max_depth.min(MAX_NESTING_DEPTH),
        }
    }

    /// Opens an array or object, enforcing the nesting limits (Jackson's
    /// `StreamWriteConstraints` allow 1000 levels).
    fn open(&mut self, c: char) -> Res<()> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(self.too_deep());
        }
        self.out.push(c);
        Ok(())
    }

    fn close(&mut self, c: char) {
        self.depth -= 1;
        self.out.push(c);
    }

    #[cold]
    #[inline(never)]
    fn too_deep(&self) -> Fail {
        if self.depth > MAX_NESTING_DEPTH {
            Fail::new(format!(
                "Document nesting depth ({}) exceeds the maximum allowed ({MAX_NESTING_DEPTH}, from `StreamWriteConstraints.getMaxNestingDepth()`)",
                self.depth
            ))
        } else {
            Fail::deep()
        }
    }

    /// `asJsonSchema`: type, items|keys/values|fields, optional, name,
    /// version, doc, parameters, default; then "field" for struct fields.
    fn schema(&mut self, schema: &Schema, field_name: Option<&str>) -> Res<()> {
        self.open('{')?;
        self.out.push_str("\"type\":\"");
        self.out.push_str(schema.schema_type.name());
        self.out.push('"');
        match schema.schema_type {
            SchemaType::Array => {
                self.out.push_str(",\"items\":");
                self.optional_schema(schema.value_schema.as_deref())?;
            }
            SchemaType::Map => {
                self.out.push_str(",\"keys\":");
                self.optional_schema(schema.key_schema.as_deref())?;
                self.out.push_str(",\"values\":");
                self.optional_schema(schema.value_schema.as_deref())?;
            }
            SchemaType::Struct => {
                self.out.push_str(",\"fields\":");
                self.open('[')?;
                for (i, f) in schema.fields.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    self.schema(&f.schema, Some(&f.name))
                        .map_err(|e| e.at_field(&f.name))?;
                }
                self.close(']');
            }
            _ => {}
        }
        self.out.push_str(",\"optional\":");
        self.out
            .push_str(if schema.optional { "true" } else { "false" });
        if let Some(name) = &schema.name {
            self.out.push_str(",\"name\":");
            write_str(&mut self.out, name);
        }
        if let Some(version) = schema.version {
            let _ = write!(self.out, ",\"version\":{version}");
        }
        if let Some(doc) = &schema.doc {
            self.out.push_str(",\"doc\":");
            write_str(&mut self.out, doc);
        }
        if let Some(params) = &schema.parameters {
            self.out.push_str(",\"parameters\":");
            self.open('{')?;
            for (i, (k, v)) in params.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                write_str(&mut self.out, k);
                self.out.push(':');
                write_str(&mut self.out, v);
            }
            self.close('}');
        }
        if let Some(default) = &schema.default {
            self.out.push_str(",\"default\":");
            self.value(Some(schema), default)
                .map_err(|e| e.context("Invalid default value: "))?;
        }
        if let Some(name) = field_name {
            self.out.push_str(",\"field\":");
            write_str(&mut self.out, name);
        }
        self.close('}');
        Ok(())
    }

    fn optional_schema(&mut self, schema: Option<&Schema>) -> Res<()> {
        match schema {
            None => {
                self.out.push_str("null");
                Ok(())
            }
            Some(s) => self.schema(s, None),
        }
    }

    /// `convertToJson`. Recursive: kept small, with the work in
    /// non-inlined helpers (see [`parse_schema`]).
    fn value(&mut self, schema: Option<&Schema>, value: &Value) -> Res<()> {
        let Some(schema) = schema else {
            return self.schemaless(value);
        };
        if value.is_null() {
            return self.null_value(schema);
        }
        if let Some(kind) = logical_of(schema) {
            return self.logical(schema, kind, value);
        }
        match (schema.schema_type, value) {
            (SchemaType::Array, Value::Array(items)) => self.array(schema, items),
            (SchemaType::Map, Value::Map(entries)) => self.map(schema, entries),
            (SchemaType::Struct, Value::Struct(s)) => self.struct_(schema, s),
            _ => self.primitive(schema.schema_type, value),
        }
    }

    #[inline(never)]
    fn null_value(&mut self, schema: &Schema) -> Res<()> {
        if let (Some(default), true) = (&schema.default, self.settings.replace_null_with_default) {
            if !default.is_null() {
                return self.value(Some(schema), default);
            }
        }
        if schema.optional {
            self.out.push_str("null");
            return Ok(());
        }
        Err(Fail::new(
            "Conversion error: null value for field that is required and has no default value",
        ))
    }

    #[inline(never)]
    fn primitive(&mut self, ty: SchemaType, value: &Value) -> Res<()> {
        match (ty, value) {
            (SchemaType::Int8, Value::Int8(v)) => self.display(v),
            (SchemaType::Int16, Value::Int16(v)) => self.display(v),
            (SchemaType::Int32, Value::Int32(v)) => self.display(v),
            (SchemaType::Int64, Value::Int64(v)) => self.display(v),
            (SchemaType::Float32, Value::Float32(v)) => self.float32(*v),
            (SchemaType::Float64, Value::Float64(v)) => self.float64(*v),
            (SchemaType::Boolean, Value::Boolean(v)) => self.display(v),
            (SchemaType::String, Value::String(s)) => write_str(&mut self.out, s),
            (SchemaType::Bytes, Value::Bytes(b)) => self.bytes(b),
            (ty, other) => {
                return Err(Fail::new(format!(
                    "Invalid type for {ty}: {}",
                    value_kind(other)
                )))
            }
        }
        Ok(())
    }

    #[inline(never)]
    fn array(&mut self, schema: &Schema, items: &[Value]) -> Res<()> {
        let item_schema = schema.value_schema.as_deref();
        self.open('[')?;
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            self.value(item_schema, item).map_err(|e| e.at_index(i))?;
        }
        self.close(']');
        Ok(())
    }

    #[inline(never)]
    fn map(&mut self, schema: &Schema, entries: &[(Value, Value)]) -> Res<()> {
        let key_schema = schema.key_schema.as_deref();
        let value_schema = schema.value_schema.as_deref();
        if key_schema.map(|k| k.schema_type) == Some(SchemaType::String) {
            let mut keys = Vec::with_capacity(entries.len());
            for (k, _) in entries {
                keys.push(self.object_key(key_schema, k)?);
            }
            self.object(&keys, entries, value_schema)
        } else {
            self.pairs(entries, key_schema, value_schema)
        }
    }

    #[inline(never)]
    fn struct_(&mut self, schema: &Schema, s: &Struct) -> Res<()> {
        if !std::ptr::eq(s.schema().as_ref(), schema) && s.schema().as_ref() != schema {
            return Err(Fail::new("Mismatching schema."));
        }
        self.open('{')?;
        for (i, f) in schema.fields.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            write_str(&mut self.out, &f.name);
            self.out.push(':');
            // Java's getWithoutDefault: null fields go through the null
            // handling (default or null).
            self.value(Some(&f.schema), &s.raw_values()[f.index])
                .map_err(|e| e.at_field(&f.name))?;
        }
        self.close('}');
        Ok(())
    }

    /// Logical values; the physical representation is accepted too, since
    /// the data model allows it (`Struct::put` of an `Int32` to a Date field).
    #[inline(never)]
    fn logical(&mut self, schema: &Schema, kind: Logical, value: &Value) -> Res<()> {
        match (kind, value) {
            (Logical::Decimal, Value::Decimal(d)) => match self.settings.decimal_format {
                DecimalFormat::Numeric => self.out.push_str(&big_decimal_to_string(d)),
                DecimalFormat::Base64 => {
                    if d.scale != decimal_scale(schema)? {
                        return Err(Fail::new(
                            "BigDecimal has mismatching scale value for given Decimal schema",
                        ));
                    }
                    self.bytes(&d.to_bytes());
                }
            },
            (Logical::Decimal, Value::Bytes(b)) => match self.settings.decimal_format {
                DecimalFormat::Base64 => self.bytes(b),
                DecimalFormat::Numeric => {
                    if b.is_empty() {
                        return Err(Fail::new("Invalid bytes for Decimal field: empty"));
                    }
                    let d = Decimal::from_bytes(b, decimal_scale(schema)?);
                    self.out.push_str(&big_decimal_to_string(&d));
                }
            },
            (Logical::Date, Value::Date(days) | Value::Int32(days)) => self.display(days),
            (Logical::Time, Value::Time(ms) | Value::Int32(ms)) => {
                if !(0..=MILLIS_PER_DAY).contains(ms) {
                    return Err(Fail::new(
                        "Kafka Connect Time type should not have any date fields set to non-zero values.",
                    ));
                }
                self.display(ms);
            }
            (Logical::Timestamp, Value::Timestamp(ms) | Value::Int64(ms)) => self.display(ms),
            (kind, other) => {
                let expected = match kind {
                    Logical::Decimal => "Decimal",
                    Logical::Date => "Date",
                    Logical::Time => "Time",
                    Logical::Timestamp => "Timestamp",
                };
                return Err(Fail::new(format!(
                    "Invalid type for {expected}, expected {expected} but was {}",
                    value_kind(other)
                )));
            }
        }
        Ok(())
    }

    /// A value without a schema: the JSON type follows the value's variant.
    #[inline(never)]
    fn schemaless(&mut self, value: &Value) -> Res<()> {
        match value {
            Value::Array(items) => self.schemaless_array(items),
            Value::Map(entries) => self.schemaless_map(entries),
            other => self.schemaless_scalar(other),
        }
    }

    #[inline(never)]
    fn schemaless_array(&mut self, items: &[Value]) -> Res<()> {
        self.open('[')?;
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            self.schemaless(item).map_err(|e| e.at_index(i))?;
        }
        self.close(']');
        Ok(())
    }

    #[inline(never)]
    fn schemaless_map(&mut self, entries: &[(Value, Value)]) -> Res<()> {
        let keys: Option<Vec<&str>> = entries.iter().map(|(k, _)| k.as_str()).collect();
        match keys {
            Some(keys) => self.object(&keys, entries, None),
            None => self.pairs(entries, None, None),
        }
    }

    #[inline(never)]
    fn schemaless_scalar(&mut self, value: &Value) -> Res<()> {
        match value {
            Value::Null => self.out.push_str("null"),
            Value::Int8(v) => self.display(v),
            Value::Int16(v) => self.display(v),
            Value::Int32(v) => self.display(v),
            Value::Int64(v) => self.display(v),
            Value::Float32(v) => self.float32(*v),
            Value::Float64(v) => self.float64(*v),
            Value::Boolean(v) => self.display(v),
            Value::String(s) => write_str(&mut self.out, s),
            Value::Bytes(b) => self.bytes(b),
            // Java: a Struct needs its schema ("Mismatching schema." against
            // a null schema); logical values have no schemaless JSON type.
            Value::Struct(_) => return Err(Fail::new("Mismatching schema.")),
            other => {
                return Err(Fail::new(format!(
                    "{} value does not have a corresponding schema type; a schema is required to write it",
                    value_kind(other)
                )))
            }
        }
        Ok(())
    }

    /// The text of a map key in object mode (`convertToJson(key).asText()`).
    fn object_key<'v>(&self, key_schema: Option<&'v Schema>, key: &'v Value) -> Res<&'v str> {
        match key {
            Value::String(s) => Ok(s),
            Value::Null => {
                let Some(ks) = key_schema else {
                    return Ok("null");
                };
                match (&ks.default, self.settings.replace_null_with_default) {
                    (Some(Value::String(d)), true) => Ok(d),
                    _ if ks.optional => Ok("null"),
                    _ => Err(Fail::new(
                        "Conversion error: null value for field that is required and has no default value",
                    )),
                }
            }
            other => Err(Fail::new(format!(
                "Invalid type for STRING: {}",
                value_kind(other)
            ))),
        }
    }

    /// A JSON object; a repeated key keeps its first position and its last
    /// value, as Jackson's `ObjectNode.set` does.
    #[inline(never)]
    fn object(
        &mut self,
        keys: &[&str],
        entries: &[(Value, Value)],
        value_schema: Option<&Schema>,
    ) -> Res<()> {
        if has_duplicates(keys) {
            return self.object_with_duplicates(keys, entries, value_schema);
        }
        self.open('{')?;
        for (i, (key, (_, v))) in keys.iter().zip(entries).enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            write_str(&mut self.out, key);
            self.out.push(':');
            self.value_or_schemaless(value_schema, v)
                .map_err(|e| e.at_key(key))?;
        }
        self.close('}');
        Ok(())
    }

    #[cold]
    #[inline(never)]
    fn object_with_duplicates(
        &mut self,
        keys: &[&str],
        entries: &[(Value, Value)],
        value_schema: Option<&Schema>,
    ) -> Res<()> {
        self.open('{')?;
        let mut members: IndexMap<&str, String> = IndexMap::new();
        for (key, (_, v)) in keys.iter().zip(entries) {
            let start = self.out.len();
            self.value_or_schemaless(value_schema, v)
                .map_err(|e| e.at_key(key))?;
            let text = self.out.split_off(start);
            members.insert(key, text);
        }
        for (i, (key, text)) in members.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            write_str(&mut self.out, key);
            self.out.push(':');
            self.out.push_str(text);
        }
        self.close('}');
        Ok(())
    }

    /// A map with non-string keys: `[[key,value],…]`.
    #[inline(never)]
    fn pairs(
        &mut self,
        entries: &[(Value, Value)],
        key_schema: Option<&Schema>,
        value_schema: Option<&Schema>,
    ) -> Res<()> {
        self.open('[')?;
        for (i, (k, v)) in entries.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            self.open('[')?;
            self.value_or_schemaless(key_schema, k)
                .map_err(|e| e.at_index(i))?;
            self.out.push(',');
            self.value_or_schemaless(value_schema, v)
                .map_err(|e| e.at_index(i))?;
            self.close(']');
        }
        self.close(']');
        Ok(())
    }

    fn value_or_schemaless(&mut self, schema: Option<&Schema>, value: &Value) -> Res<()> {
        match schema {
            Some(_) => self.value(schema, value),
            None => self.schemaless(value),
        }
    }

    fn display(&mut self, v: impl std::fmt::Display) {
        let _ = write!(self.out, "{v}");
    }

    fn float64(&mut self, v: f64) {
        if v.is_finite() {
            self.out.push_str(&java_double_to_string(v));
        } else {
            // Jackson's QUOTE_NON_NUMERIC_NUMBERS (on by default).
            self.out.push('"');
            self.out.push_str(&java_double_to_string(v));
            self.out.push('"');
        }
    }

    fn float32(&mut self, v: f32) {
        if v.is_finite() {
            self.out.push_str(&java_float_to_string(v));
        } else {
            self.out.push('"');
            self.out.push_str(&java_float_to_string(v));
            self.out.push('"');
        }
    }

    fn bytes(&mut self, b: &[u8]) {
        self.out.push('"');
        base64::engine::general_purpose::STANDARD.encode_string(b, &mut self.out);
        self.out.push('"');
    }
}

fn has_duplicates(keys: &[&str]) -> bool {
    if keys.len() < 2 {
        return false;
    }
    let mut seen = std::collections::HashSet::with_capacity(keys.len());
    !keys.iter().all(|k| seen.insert(*k))
}

/// A short name of a value's variant, for error messages.
fn value_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Int8(_) => "Int8",
        Value::Int16(_) => "Int16",
        Value::Int32(_) => "Int32",
        Value::Int64(_) => "Int64",
        Value::Float32(_) => "Float32",
        Value::Float64(_) => "Float64",
        Value::Boolean(_) => "Boolean",
        Value::String(_) => "String",
        Value::Bytes(_) => "Bytes",
        Value::Array(_) => "Array",
        Value::Map(_) => "Map",
        Value::Struct(_) => "Struct",
        Value::Decimal(_) => "Decimal",
        Value::Date(_) => "Date",
        Value::Time(_) => "Time",
        Value::Timestamp(_) => "Timestamp",
    }
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

fn push_u_escape(out: &mut String, unit: u32) {
    out.push_str("\\u");
    for shift in [12, 8, 4, 0] {
        out.push(char::from(HEX_UPPER[((unit >> shift) & 0xF) as usize]));
    }
}

/// A JSON string as Jackson's `UTF8JsonGenerator` writes it: `"` and `\`
/// escaped, control characters as `\b \t \n \f \r` or `\u00XX` (upper-case
/// hex), other BMP characters raw, characters outside the BMP as an escaped
/// UTF-16 surrogate pair.
fn write_str(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x20 || b == b'"' || b == b'\\' {
            out.push_str(&s[start..i]);
            match b {
                b'"' => out.push_str("\\\""),
                b'\\' => out.push_str("\\\\"),
                b'\n' => out.push_str("\\n"),
                b'\r' => out.push_str("\\r"),
                b'\t' => out.push_str("\\t"),
                0x08 => out.push_str("\\b"),
                0x0C => out.push_str("\\f"),
                _ => push_u_escape(out, u32::from(b)),
            }
            i += 1;
            start = i;
        } else if b >= 0xF0 {
            // A four-byte UTF-8 sequence: a supplementary character.
            out.push_str(&s[start..i]);
            let c = (u32::from(b & 0x07) << 18)
                | (u32::from(bytes[i + 1] & 0x3F) << 12)
                | (u32::from(bytes[i + 2] & 0x3F) << 6)
                | u32::from(bytes[i + 3] & 0x3F);
            let c = c - 0x10000;
            push_u_escape(out, 0xD800 + (c >> 10));
            push_u_escape(out, 0xDC00 + (c & 0x3FF));
            i += 4;
            start = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// `BigDecimal.toString()`: plain for scale >= 0 and adjusted exponent
/// >= -6, otherwise `d.dddE±n`.
pub fn big_decimal_to_string(d: &Decimal) -> String {
    let negative = d.unscaled.sign() == Sign::Minus;
    let coeff = d.unscaled.magnitude().to_string();
    let scale = i64::from(d.scale);
    let adjusted = -scale + (coeff.len() as i64 - 1);
    let mut s = String::with_capacity(coeff.len() + 8);
    if negative {
        s.push('-');
    }
    if scale == 0 {
        s.push_str(&coeff);
    } else if scale > 0 && adjusted >= -6 {
        let pad = scale - coeff.len() as i64;
        if pad >= 0 {
            s.push_str("0.");
            for _ in 0..pad {
                s.push('0');
            }
            s.push_str(&coeff);
        } else {
            let split = coeff.len() - scale as usize;
            s.push_str(&coeff[..split]);
            s.push('.');
            s.push_str(&coeff[split..]);
        }
    } else {
        s.push_str(&coeff[..1]);
        if coeff.len() > 1 {
            s.push('.');
            s.push_str(&coeff[1..]);
        }
        if adjusted != 0 {
            s.push('E');
            if adjusted > 0 {
                s.push('+');
            }
            let _ = write!(s, "{adjusted}");
        }
    }
    s
}

// ---------------------------------------------------------------- parsing

/// A parsed JSON value. Numbers keep their text.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Null,
    Bool(bool),
    Number { text: Box<str>, integral: bool },
    String(String),
    Array(Vec<Node>),
    Object(ObjectMap),
}

/// A JSON object's members in document order. foldhash (seeded per
/// process) rather than SipHash: member lookups and inserts were a quarter
/// of the converter's time.
type ObjectMap = IndexMap<String, Node, foldhash::fast::RandomState>;

impl Node {
    /// Jackson's `JsonNodeType` name.
    fn type_name(&self) -> &'static str {
        match self {
            Node::Null => "NULL",
            Node::Bool(_) => "BOOLEAN",
            Node::Number { .. } => "NUMBER",
            Node::String(_) => "STRING",
            Node::Array(_) => "ARRAY",
            Node::Object(_) => "OBJECT",
        }
    }

    fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Object(m) => m.get(key),
            _ => None,
        }
    }

    fn as_text(&self) -> Option<&str> {
        match self {
            Node::String(s) => Some(s),
            _ => None,
        }
    }
}

struct Parsed {
    /// `None` for empty input (Jackson's `MissingNode`).
    root: Option<Node>,
    /// Bytes of the root object's (last) `schema` member.
    schema_span: Option<std::ops::Range<usize>>,
    /// The converted schema of that member, when the cache knew its bytes:
    /// then the member was validated but not built (its node is `Null`).
    known_schema: Option<SchemaRef>,
}

/// Schemas the converter has seen, looked up while parsing an envelope.
trait KnownSchemas {
    /// A schema whose exact JSON text `rest` starts with and whose
    /// validation stayed within `max_depth`: its length and schema. A JSON
    /// object ends at its matching brace, so the same bytes parse the same
    /// way and need no second look.
    fn prefix_of(&self, rest: &[u8], max_depth: usize) -> Option<(usize, SchemaRef)>;
    /// The schema converted earlier from exactly these (just validated)
    /// bytes, whose nesting reached `depth`.
    fn exact(&self, raw: &[u8], depth: usize) -> Option<SchemaRef>;
}

impl KnownSchemas for JsonConverter {
    fn prefix_of(&self, rest: &[u8], max_depth: usize) -> Option<(usize, SchemaRef)> {
        let last = self.last_schema.lock().ok()?;
        let last = last.as_ref()?;
        (last.depth <= max_depth && rest.starts_with(&last.raw))
            .then(|| (last.raw.len(), last.schema.clone()))
    }

    fn exact(&self, raw: &[u8], depth: usize) -> Option<SchemaRef> {
        let schema = self.cached_schema(raw)?;
        // Only objects are self-delimiting (a number could go on).
        if raw.first() == Some(&b'{') {
            if let Ok(mut last) = self.last_schema.lock() {
                *last = Some(LastSchema {
                    raw: raw.into(),
                    schema: schema.clone(),
                    depth,
                });
            }
        }
        Some(schema)
    }
}

enum ParseError {
    Invalid(String),
    /// Nested deeper than this run allows (but within Jackson's limit).
    TooDeep,
}

struct Parser<'a> {
    b: &'a [u8],
    pos: usize,
    depth: usize,
    max_depth: usize,
    too_deep: bool,
    /// `false` while validating a value whose tree is not needed: the same
    /// grammar and errors, no allocations.
    build: bool,
    /// The deepest nesting reached so far.
    max_seen: usize,
    known: Option<&'a dyn KnownSchemas>,
    schema_span: Option<std::ops::Range<usize>>,
    known_schema: Option<SchemaRef>,
}

impl<'a> Parser<'a> {
    /// Parses the first JSON value of `bytes`, nested at most `max_depth`
    /// (capped at Jackson's 1000) levels.
    ///
    /// With `known`, a root `schema` member whose bytes it recognises is
    /// only validated, not built: most of an envelope is its schema, and
    /// the converter caches schemas by their bytes.
    fn parse(
        bytes: &'a [u8],
        max_depth: usize,
        known: Option<&'a dyn KnownSchemas>,
    ) -> Result<Parsed, ParseError> {
        let mut p = Parser {
            b: bytes,
            pos: 0,
            depth: 0,
            max_depth: max_depth.min(MAX_NESTING_DEPTH),
            too_deep: false,
            build: true,
            max_seen: 0,
            known,
            schema_span: None,
            known_schema: None,
        };
        p.parse_root().map_err(|e| {
            if p.too_deep {
                ParseError::TooDeep
            } else {
                ParseError::Invalid(e)
            }
        })
    }

    fn parse_root(&mut self) -> Result<Parsed, String> {
        let p = self;
        if p.b.starts_with(&[0xEF, 0xBB, 0xBF]) {
            p.pos = 3;
        }
        p.skip_ws();
        if p.pos >= p.b.len() {
            return Ok(Parsed {
                root: None,
                schema_span: None,
                known_schema: None,
            });
        }
        let root = p.value()?;
        // Like Jackson without FAIL_ON_TRAILING_TOKENS, anything after the
        // root value is ignored; but a root-level scalar must be followed by
        // white space (or the end), as Jackson checks.
        if matches!(root, Node::Number { .. } | Node::Bool(_) | Node::Null) {
            if let Some(&c) = p.b.get(p.pos) {
                if !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                    return Err(p.error(&format!(
                        "unexpected character {} after root-level value",
                        describe_byte(c)
                    )));
                }
            }
        }
        Ok(Parsed {
            root: Some(root),
            schema_span: p.schema_span.take(),
            known_schema: p.known_schema.take(),
        })
    }

    fn error(&self, what: &str) -> String {
        format!("invalid JSON at byte {}: {what}", self.pos)
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    /// The root object's `schema` member: validated without building when
    /// the cache knows its bytes, else parsed as usual.
    fn root_schema(&mut self) -> Result<Node, String> {
        let Some(known) = self.known else {
            return self.value();
        };
        let start = self.pos;
        if let Some((len, schema)) = known.prefix_of(&self.b[start..], self.max_depth) {
            self.pos += len;
            self.known_schema = Some(schema);
            return Ok(Node::Null);
        }
        self.build = false;
        self.max_seen = self.depth;
        let skipped = self.value();
        self.build = true;
        skipped?;
        match known.exact(&self.b[start..self.pos], self.max_seen) {
            Some(schema) => {
                self.known_schema = Some(schema);
                Ok(Node::Null)
            }
            None => {
                self.known_schema = None;
                self.pos = start;
                self.value()
            }
        }
    }

    /// Recursive (through `object` and `array`), so these three keep their
    /// frames small and leave error formatting to cold helpers: Jackson's
    /// maximum depth must fit a 2 MiB stack even in debug builds.
    fn value(&mut self) -> Result<Node, String> {
        match self.peek() {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => Ok(Node::String(self.string()?)),
            Some(b't') => self.literal("true", Node::Bool(true)),
            Some(b'f') => self.literal("false", Node::Bool(false)),
            Some(b'n') => self.literal("null", Node::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            other => Err(self.unexpected(other, "a JSON value")),
        }
    }

    #[cold]
    #[inline(never)]
    fn unexpected(&self, found: Option<u8>, expected: &str) -> String {
        match found {
            None => self.error(&format!("unexpected end of input: expected {expected}")),
            Some(c) => self.error(&format!(
                "unexpected character {}: expected {expected}",
                describe_byte(c)
            )),
        }
    }

    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        self.max_seen = self.max_seen.max(self.depth);
        if self.depth > self.max_depth {
            return Err(self.nested_too_deep());
        }
        Ok(())
    }

    #[cold]
    #[inline(never)]
    fn nested_too_deep(&mut self) -> String {
        if self.depth <= MAX_NESTING_DEPTH {
            self.too_deep = true;
            return String::new();
        }
        self.error(&format!(
            "document nesting depth ({}) exceeds the maximum allowed ({MAX_NESTING_DEPTH})",
            self.depth
        ))
    }

    #[inline(never)]
    fn literal(&mut self, word: &str, node: Node) -> Result<Node, String> {
        let end = self.pos + word.len();
        if self.b.get(self.pos..end) != Some(word.as_bytes()) {
            return Err(self.error("unrecognized token: expected true, false or null"));
        }
        self.pos = end;
        if let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80 {
                return Err(self.error(&format!("unrecognized token starting with '{word}'")));
            }
        }
        Ok(node)
    }

    fn object(&mut self) -> Result<Node, String> {
        self.enter()?;
        let is_root = self.depth == 1;
        self.pos += 1;
        let mut members = ObjectMap::default();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(Node::Object(members));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.unexpected(self.peek(), "a double-quoted field name"));
            }
            let key = self.string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.unexpected(self.peek(), "':' after a field name"));
            }
            self.pos += 1;
            self.skip_ws();
            let start = self.pos;
            let value = if is_root && key == "schema" {
                let value = self.root_schema()?;
                self.schema_span = Some(start..self.pos);
                value
            } else {
                self.value()?
            };
            // A repeated key replaces the value but keeps its first position.
            if self.build {
                members.insert(key, value);
            }
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(Node::Object(members));
                }
                other => return Err(self.unexpected(other, "',' or '}' in an object")),
            }
        }
    }

    fn array(&mut self) -> Result<Node, String> {
        self.enter()?;
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(Node::Array(items));
        }
        loop {
            self.skip_ws();
            let item = self.value()?;
            if self.build {
                items.push(item);
            }
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(Node::Array(items));
                }
                other => return Err(self.unexpected(other, "',' or ']' in an array")),
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    /// `-? digits (. digits)? ([eE] [+-]? digits)?`; leading zeros allowed
    /// (Kafka enables `ALLOW_LEADING_ZEROS_FOR_NUMBERS`).
    #[inline(never)]
    fn number(&mut self) -> Result<Node, String> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        if self.digits() == 0 {
            return Err(self.error("expected a digit after '-'"));
        }
        let mut integral = true;
        let mut frac_len = 0i64;
        if self.peek() == Some(b'.') {
            integral = false;
            self.pos += 1;
            frac_len = self.digits() as i64;
            if frac_len == 0 {
                return Err(self.error("expected a digit after the decimal point"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            integral = false;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            let exp_start = self.pos;
            if self.digits() == 0 {
                return Err(self.error("expected a digit in the exponent"));
            }
            // Java parses floats into BigDecimal, whose scale is an int.
            let exp: i64 = std::str::from_utf8(&self.b[exp_start..self.pos])
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(i64::MAX);
            let negative_exp = self.b[exp_start - 1] == b'-';
            let scale = if negative_exp {
                frac_len.saturating_add(exp)
            } else {
                frac_len.saturating_sub(exp)
            };
            if i32::try_from(scale).is_err() {
                return Err(self.error("number exponent out of range"));
            }
        }
        if self.pos - start > MAX_NUMBER_LENGTH {
            return Err(self.error(&format!(
                "number length exceeds the maximum allowed ({MAX_NUMBER_LENGTH})"
            )));
        }
        if !self.build {
            return Ok(Node::Null);
        }
        // Only ASCII digits and signs were consumed.
        let text = String::from_utf8_lossy(&self.b[start..self.pos]).into();
        Ok(Node::Number { text, integral })
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let mut v = 0u32;
        for _ in 0..4 {
            let c = self
                .peek()
                .ok_or_else(|| self.error("unexpected end of input in a \\u escape"))?;
            let d = char::from(c)
                .to_digit(16)
                .ok_or_else(|| self.error("invalid hex digit in a \\u escape"))?;
            v = v * 16 + d;
            self.pos += 1;
        }
        Ok(v)
    }

    #[inline(never)]
    fn string(&mut self) -> Result<String, String> {
        // Skip the opening quote. Most strings have no escapes: find the
        // closing quote at once and copy them in one allocation. Anything
        // unusual (an escape, a control character, bad UTF-8) takes the
        // byte loop below, which reports errors where Jackson does.
        self.pos += 1;
        let rest = &self.b[self.pos..];
        if let Some(end) = memchr::memchr2(b'"', b'\\', rest) {
            let raw = &rest[..end];
            if rest[end] == b'"' && !raw.iter().any(|&c| c < 0x20) {
                if let Ok(text) = std::str::from_utf8(raw) {
                    self.pos += end + 1;
                    return Ok(if self.build {
                        text.to_owned()
                    } else {
                        String::new()
                    });
                }
            }
        }
        let mut out = String::new();
        let mut start = self.pos;
        loop {
            let Some(c) = self.peek() else {
                return Err(self.error("unexpected end of input inside a string"));
            };
            match c {
                b'"' => {
                    self.push_raw(&mut out, start)?;
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => {
                    self.push_raw(&mut out, start)?;
                    self.pos += 1;
                    let Some(e) = self.peek() else {
                        return Err(self.error("unexpected end of input in an escape"));
                    };
                    self.pos += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let unit = self.hex4()?;
                            let c = if (0xD800..0xDC00).contains(&unit) {
                                if self.b.get(self.pos..self.pos + 2) != Some(b"\\u") {
                                    return Err(self.error(&format!(
                                        "lone UTF-16 surrogate \\u{unit:04X} cannot be represented"
                                    )));
                                }
                                self.pos += 2;
                                let low = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&low) {
                                    return Err(self.error(&format!(
                                        "lone UTF-16 surrogate \\u{unit:04X} cannot be represented"
                                    )));
                                }
                                char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
                            } else {
                                char::from_u32(unit)
                            };
                            let Some(c) = c else {
                                return Err(self.error(&format!(
                                    "lone UTF-16 surrogate \\u{unit:04X} cannot be represented"
                                )));
                            };
                            out.push(c);
                        }
                        other => {
                            return Err(self.error(&format!(
                                "unrecognized character escape {}",
                                describe_byte(other)
                            )))
                        }
                    }
                    start = self.pos;
                }
                0..=0x1F => {
                    return Err(self.error(&format!(
                        "illegal unquoted character ({}) in a string: must be escaped",
                        describe_byte(c)
                    )))
                }
                _ => self.pos += 1,
            }
        }
    }

    fn push_raw(&self, out: &mut String, start: usize) -> Result<(), String> {
        let raw = &self.b[start..self.pos];
        match std::str::from_utf8(raw) {
            Ok(s) => {
                out.push_str(s);
                Ok(())
            }
            Err(e) => Err(format!(
                "invalid JSON at byte {}: invalid UTF-8 in a string",
                start + e.valid_up_to()
            )),
        }
    }
}

fn describe_byte(c: u8) -> String {
    if c.is_ascii_graphic() {
        format!("'{}'", char::from(c))
    } else {
        format!("0x{c:02X}")
    }
}

// ---------------------------------------------------------------- JSON to Connect

/// `asConnectSchema`. Recursive, so the frame is kept small: the work is
/// done in non-inlined helpers (deep schemas must fit a 2 MiB stack even in
/// debug builds).
fn parse_schema(node: &Node, settings: Settings) -> Res<SchemaRef> {
    let mut schema = boxed_schema(schema_type_of(node)?);
    match schema.schema_type {
        SchemaType::Array => schema.value_schema = Some(child_schema(node, "items", settings)?),
        SchemaType::Map => {
            schema.key_schema = Some(child_schema(node, "keys", settings)?);
            schema.value_schema = Some(child_schema(node, "values", settings)?);
        }
        SchemaType::Struct => schema.fields = struct_fields(node, settings)?,
        _ => {}
    }
    schema_metadata(&mut schema, node)?;
    if let Some(default_node) = node.get("default") {
        schema_default(&mut schema, default_node, settings)?;
    }
    Ok(SchemaRef::from(schema))
}

/// A new schema on the heap (keeps the large `Schema` value out of the
/// recursive caller's frame).
#[inline(never)]
fn boxed_schema(ty: SchemaType) -> Box<Schema> {
    Box::new(Schema::new(ty))
}

#[inline(never)]
fn schema_type_of(node: &Node) -> Res<SchemaType> {
    let ty_name = node
        .get("type")
        .and_then(Node::as_text)
        .ok_or_else(|| Fail::new("Schema must contain 'type' field"))?;
    SchemaType::from_name(ty_name)
        .ok_or_else(|| Fail::new(format!("Unknown schema type: {ty_name}")))
}

/// The element, key or value schema of a container schema.
#[inline(never)]
fn child_schema(node: &Node, key: &'static str, settings: Settings) -> Res<SchemaRef> {
    match node.get(key) {
        None | Some(Node::Null) => Err(Fail::new(match key {
            "items" => "Array schema did not specify the element type",
            "keys" => "Map schema did not specify the key type",
            _ => "Map schema did not specify the value type",
        })),
        Some(child) => parse_schema(child, settings).map_err(|e| e.at_field(key)),
    }
}

#[inline(never)]
fn struct_fields(node: &Node, settings: Settings) -> Res<Vec<crate::connect::Field>> {
    let Some(Node::Array(fields)) = node.get("fields") else {
        return Err(Fail::new(
            "Struct schema's \"fields\" argument is not an array.",
        ));
    };
    let mut out: Vec<crate::connect::Field> = Vec::with_capacity(fields.len());
    for field in fields {
        let name = field
            .get("field")
            .and_then(Node::as_text)
            .ok_or_else(|| Fail::new("Struct schema's field name not specified properly"))?;
        if out.iter().any(|f| f.name == name) {
            return Err(Fail::new(format!(
                "Cannot create field because of field name duplication {name}"
            )));
        }
        let schema = parse_schema(field, settings).map_err(|e| e.at_field(name))?;
        out.push(crate::connect::Field {
            name: name.to_owned(),
            index: out.len(),
            schema,
        });
    }
    Ok(out)
}

/// optional, name, version, doc, parameters.
#[inline(never)]
fn schema_metadata(schema: &mut Schema, node: &Node) -> Res<()> {
    schema.optional = matches!(node.get("optional"), Some(Node::Bool(true)));
    if let Some(Node::String(name)) = node.get("name") {
        schema.name = Some(name.clone());
    }
    if let Some(Node::Number {
        text,
        integral: true,
    }) = node.get("version")
    {
        schema.version = Some(java_int_value(text));
    }
    if let Some(Node::String(doc)) = node.get("doc") {
        schema.doc = Some(doc.clone());
    }
    if let Some(Node::Object(params)) = node.get("parameters") {
        let mut out = IndexMap::with_capacity(params.len());
        for (k, v) in params {
            let Node::String(v) = v else {
                return Err(Fail::new("Schema parameters must have string values."));
            };
            out.insert(k.clone(), v.clone());
        }
        schema.parameters = Some(out);
    }
    Ok(())
}

/// The default, converted against the schema as built so far, like Java's
/// `convertToConnect(builder, …)`.
#[inline(never)]
fn schema_default(schema: &mut Schema, default_node: &Node, settings: Settings) -> Res<()> {
    let without_default = Arc::new(schema.clone());
    let default = to_value(Some(&without_default), Some(default_node), settings)
        .map_err(|e| e.context("Invalid default value: "))?;
    if !default.is_null() {
        schema.default = Some(default);
    }
    Ok(())
}

/// Jackson's `intValue()` of an integral number: the low 32 bits.
fn java_int_value(text: &str) -> i32 {
    match text.parse::<i64>() {
        Ok(v) => v as i32,
        Err(_) => text
            .parse::<BigInt>()
            .map(|n| {
                let bytes = n.to_signed_bytes_le();
                let fill = if n.sign() == Sign::Minus { 0xFF } else { 0 };
                let mut low = [fill; 4];
                for (dst, src) in low.iter_mut().zip(bytes.iter()) {
                    *dst = *src;
                }
                i32::from_le_bytes(low)
            })
            .unwrap_or(0),
    }
}

#[cold]
#[inline(never)]
fn mismatch(ty: SchemaType, expected: &str, node: &Node) -> Fail {
    Fail::new(format!(
        "Invalid value for {} schema: expected {expected} but found {}",
        ty.name(),
        node.type_name()
    ))
}

fn integral_text(ty: SchemaType, node: &Node) -> Res<&str> {
    match node {
        Node::Number {
            text,
            integral: true,
        } => Ok(text),
        _ => Err(mismatch(ty, "an integer", node)),
    }
}

fn parse_int<T: std::str::FromStr>(ty: SchemaType, node: &Node) -> Res<T> {
    let text = integral_text(ty, node)?;
    text.parse().map_err(|_| {
        Fail::new(format!(
            "Invalid value for {} schema: {text} is out of range",
            ty.name()
        ))
    })
}

/// Whether a number's text denotes zero (Java reads floats as BigDecimal,
/// which has no negative zero, so "-0.0" reads as 0.0).
fn is_zero_text(text: &str) -> bool {
    let mantissa = text.split(['e', 'E']).next().unwrap_or(text);
    mantissa.bytes().all(|b| matches!(b, b'0' | b'-' | b'.'))
}

/// The float types a JSON number can be read into, with the values Java
/// writes as strings.
trait JsonFloat: std::str::FromStr + Copy {
    const ZERO: Self;
    const NAN: Self;
    const INFINITY: Self;
    const NEG_INFINITY: Self;
}

impl JsonFloat for f64 {
    const ZERO: f64 = 0.0;
    const NAN: f64 = f64::NAN;
    const INFINITY: f64 = f64::INFINITY;
    const NEG_INFINITY: f64 = f64::NEG_INFINITY;
}

impl JsonFloat for f32 {
    const ZERO: f32 = 0.0;
    const NAN: f32 = f32::NAN;
    const INFINITY: f32 = f32::INFINITY;
    const NEG_INFINITY: f32 = f32::NEG_INFINITY;
}

/// Parses the number's text straight into `F` (no detour through f64, so
/// FLOAT32 rounds once, like Java).
fn parse_float<F: JsonFloat>(ty: SchemaType, node: &Node) -> Res<F> {
    match node {
        Node::Number { text, .. } => {
            if is_zero_text(text) {
                return Ok(F::ZERO);
            }
            text.parse()
                .map_err(|_| Fail::new(format!("Invalid number {text}")))
        }
        // What Java writes for non-finite values; Java itself reads these
        // back as 0.0, which loses the value, so this deliberately differs.
        Node::String(s) if s == "NaN" => Ok(F::NAN),
        Node::String(s) if s == "Infinity" => Ok(F::INFINITY),
        Node::String(s) if s == "-Infinity" => Ok(F::NEG_INFINITY),
        _ => Err(mismatch(ty, "a number", node)),
    }
}

fn parse_f64(ty: SchemaType, node: &Node) -> Res<f64> {
    parse_float(ty, node)
}

fn parse_f32(ty: SchemaType, node: &Node) -> Res<f32> {
    parse_float(ty, node)
}

/// A number's text as a decimal, keeping its scale like `new BigDecimal(text)`.
fn parse_decimal_text(text: &str) -> Res<Decimal> {
    let (mantissa, exp) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, ""),
    };
    let (int_part, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let unscaled: BigInt = format!("{int_part}{frac}")
        .parse()
        .map_err(|_| Fail::new(format!("Invalid decimal number {text}")))?;
    let exp: i64 = if exp.is_empty() {
        0
    } else {
        exp.parse()
            .map_err(|_| Fail::new(format!("Invalid decimal number {text}")))?
    };
    let scale = i32::try_from(frac.len() as i64 - exp)
        .map_err(|_| Fail::new(format!("Decimal exponent out of range: {text}")))?;
    Ok(Decimal { unscaled, scale })
}

/// Base64 as Jackson's default variant decodes it: standard alphabet,
/// padding required, white space allowed between four-character groups,
/// unused trailing bits ignored.
fn jackson_base64_decode(s: &str) -> Result<Vec<u8>, String> {
    fn sextet(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len() / 4 * 3);
    let mut i = 0;
    let next = |i: &mut usize| -> Result<u8, String> {
        let c = *b
            .get(*i)
            .ok_or("Unexpected end of base64-encoded String: base64 variant 'MIME-NO-LINEFEEDS' expects padding (one or more '=' characters) at the end")?;
        *i += 1;
        Ok(c)
    };
    let illegal = |c: u8| format!("Illegal character {} in base64 content", describe_byte(c));
    loop {
        let c0 = loop {
            let Some(&c) = b.get(i) else {
                return Ok(out);
            };
            i += 1;
            if c > b' ' {
                break c;
            }
        };
        let s0 = sextet(c0).ok_or_else(|| illegal(c0))?;
        let c1 = next(&mut i)?;
        let s1 = sextet(c1).ok_or_else(|| illegal(c1))?;
        let mut bits = (s0 << 6) | s1;
        let c2 = next(&mut i)?;
        match sextet(c2) {
            Some(s2) => bits = (bits << 6) | s2,
            None if c2 == b'=' => {
                let c3 = next(&mut i)?;
                if c3 != b'=' {
                    return Err(format!(
                        "expected padding character '=' but found {}",
                        describe_byte(c3)
                    ));
                }
                out.push((bits >> 4) as u8);
                continue;
            }
            None => return Err(illegal(c2)),
        }
        let c3 = next(&mut i)?;
        match sextet(c3) {
            Some(s3) => {
                bits = (bits << 6) | s3;
                out.extend_from_slice(&[(bits >> 16) as u8, (bits >> 8) as u8, bits as u8]);
            }
            None if c3 == b'=' => {
                out.extend_from_slice(&[(bits >> 10) as u8, (bits >> 2) as u8]);
            }
            None => return Err(illegal(c3)),
        }
    }
}

/// `convertToConnect`: a JSON node (absent = missing field) to a value of
/// `schema`, or a schemaless value. Recursive: kept small, see
/// [`parse_schema`].
fn to_value(schema: Option<&SchemaRef>, node: Option<&Node>, settings: Settings) -> Res<Value> {
    let Some(schema) = schema else {
        return match node {
            None => Ok(Value::Null),
            Some(n) => schemaless_value(n),
        };
    };
    let node = match node {
        None | Some(Node::Null) => return null_value(schema, settings),
        Some(n) => n,
    };
    if let Some(kind) = logical_of(schema) {
        return logical_value(schema, kind, node);
    }
    match schema.schema_type {
        SchemaType::Array => array_value(schema, node, settings),
        SchemaType::Map => map_value(schema, node, settings),
        SchemaType::Struct => struct_value(schema, node, settings),
        ty => primitive_value(ty, node),
    }
}

#[inline(never)]
fn null_value(schema: &Schema, settings: Settings) -> Res<Value> {
    if let (Some(default), true) = (&schema.default, settings.replace_null_with_default) {
        return Ok(default.clone());
    }
    if schema.optional {
        return Ok(Value::Null);
    }
    Err(Fail::new(format!(
        "Invalid null value for required {} field",
        schema.schema_type
    )))
}

#[inline(never)]
fn primitive_value(ty: SchemaType, node: &Node) -> Res<Value> {
    Ok(match ty {
        SchemaType::Boolean => match node {
            Node::Bool(b) => Value::Boolean(*b),
            _ => return Err(mismatch(ty, "a boolean", node)),
        },
        SchemaType::Int8 => Value::Int8(parse_int(ty, node)?),
        SchemaType::Int16 => Value::Int16(parse_int(ty, node)?),
        SchemaType::Int32 => Value::Int32(parse_int(ty, node)?),
        SchemaType::Int64 => Value::Int64(parse_int(ty, node)?),
        SchemaType::Float32 => Value::Float32(parse_f32(ty, node)?),
        SchemaType::Float64 => Value::Float64(parse_f64(ty, node)?),
        SchemaType::String => match node {
            Node::String(s) => Value::String(s.clone()),
            _ => return Err(mismatch(ty, "a string", node)),
        },
        SchemaType::Bytes => match node {
            Node::String(s) => Value::Bytes(
                jackson_base64_decode(s)
                    .map_err(|e| Fail::new(format!("Invalid bytes field: {e}")))?,
            ),
            _ => return Err(mismatch(ty, "a base64 string", node)),
        },
        SchemaType::Array | SchemaType::Map | SchemaType::Struct => {
            return Err(Fail::new(format!("{ty} is not a primitive type")))
        }
    })
}

#[inline(never)]
fn array_value(schema: &Schema, node: &Node, settings: Settings) -> Res<Value> {
    let Node::Array(items) = node else {
        return Err(mismatch(SchemaType::Array, "an array", node));
    };
    let Some(item_schema) = &schema.value_schema else {
        return Err(Fail::new("Array schema did not specify the element type"));
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        out.push(to_value(Some(item_schema), Some(item), settings).map_err(|e| e.at_index(i))?);
    }
    Ok(Value::Array(out))
}

#[inline(never)]
fn map_value(schema: &Schema, node: &Node, settings: Settings) -> Res<Value> {
    let (Some(key_schema), Some(value_schema)) = (&schema.key_schema, &schema.value_schema) else {
        return Err(Fail::new(
            "Map schema did not specify the key and value types",
        ));
    };
    let mut entries = Vec::new();
    if key_schema.schema_type == SchemaType::String {
        let Node::Object(members) = node else {
            return Err(Fail::new(format!(
                "Maps with string fields should be encoded as JSON objects, but found {}",
                node.type_name()
            )));
        };
        entries.reserve(members.len());
        for (k, v) in members {
            let v = to_value(Some(value_schema), Some(v), settings).map_err(|e| e.at_key(k))?;
            entries.push((Value::String(k.clone()), v));
        }
    } else {
        let Node::Array(items) = node else {
            return Err(Fail::new(format!(
                "Maps with non-string fields should be encoded as JSON array of tuples, but found {}",
                node.type_name()
            )));
        };
        entries.reserve(items.len());
        for (i, item) in items.iter().enumerate() {
            let Node::Array(pair) = item else {
                return Err(Fail::new(format!(
                    "Found invalid map entry instead of array tuple: {}",
                    item.type_name()
                ))
                .at_index(i));
            };
            if pair.len() != 2 {
                return Err(Fail::new(format!(
                    "Found invalid map entry, expected length 2 but found :{}",
                    pair.len()
                ))
                .at_index(i));
            }
            let k =
                to_value(Some(key_schema), Some(&pair[0]), settings).map_err(|e| e.at_index(i))?;
            let v = to_value(Some(value_schema), Some(&pair[1]), settings)
                .map_err(|e| e.at_index(i))?;
            entries.push((k, v));
        }
    }
    Ok(Value::Map(dedup_keys(entries)))
}

#[inline(never)]
fn struct_value(schema: &SchemaRef, node: &Node, settings: Settings) -> Res<Value> {
    let Node::Object(members) = node else {
        return Err(Fail::new(format!(
            "Structs should be encoded as JSON objects, but found {}",
            node.type_name()
        )));
    };
    let mut s = Struct::new(schema.clone());
    for f in &schema.fields {
        let v = to_value(Some(&f.schema), members.get(&f.name), settings)
            .map_err(|e| e.at_field(&f.name))?;
        s.set(&f.name, v)
            .map_err(|e| Fail::new(e.message).at_field(&f.name))?;
    }
    Ok(Value::Struct(s))
}

#[inline(never)]
fn logical_value(schema: &Schema, kind: Logical, node: &Node) -> Res<Value> {
    let java_is_int = |node: &Node| match node {
        Node::Number {
            text,
            integral: true,
        } => text.parse::<i32>().ok(),
        _ => None,
    };
    match kind {
        Logical::Decimal => match node {
            Node::Number { text, .. } => Ok(Value::Decimal(parse_decimal_text(text)?)),
            Node::String(s) => {
                let bytes = jackson_base64_decode(s)
                    .map_err(|e| Fail::new(format!("Invalid bytes for Decimal field: {e}")))?;
                if bytes.is_empty() {
                    return Err(Fail::new(
                        "Invalid bytes for Decimal field: Zero length BigInteger",
                    ));
                }
                Ok(Value::Decimal(Decimal::from_bytes(
                    &bytes,
                    decimal_scale(schema)?,
                )))
            }
            _ => Err(Fail::new(format!(
                "Invalid type for Decimal, underlying representation should be numeric or bytes but was {}",
                node.type_name()
            ))),
        },
        Logical::Date => java_is_int(node).map(Value::Date).ok_or_else(|| {
            Fail::new(format!(
                "Invalid type for Date, underlying representation should be integer but was {}",
                node.type_name()
            ))
        }),
        Logical::Time => {
            let ms = java_is_int(node).ok_or_else(|| {
                Fail::new(format!(
                    "Invalid type for Time, underlying representation should be integer but was {}",
                    node.type_name()
                ))
            })?;
            if !(0..=MILLIS_PER_DAY).contains(&ms) {
                return Err(Fail::new(
                    "Time values must use number of milliseconds greater than 0 and less than 86400000",
                ));
            }
            Ok(Value::Time(ms))
        }
        Logical::Timestamp => match node {
            Node::Number {
                integral: true,
                text,
            } => text.parse().map(Value::Timestamp).map_err(|_| {
                Fail::new(format!("Invalid value for Timestamp: {text} is out of range"))
            }),
            _ => Err(Fail::new(format!(
                "Invalid type for Timestamp, underlying representation should be integral but was {}",
                node.type_name()
            ))),
        },
    }
}

/// A value without a schema: integers are Int64, other numbers Float64,
/// objects maps with String keys.
fn schemaless_value(node: &Node) -> Res<Value> {
    match node {
        Node::Array(items) => schemaless_array_value(items),
        Node::Object(members) => schemaless_object_value(members),
        scalar => schemaless_scalar_value(scalar),
    }
}

#[inline(never)]
fn schemaless_array_value(items: &[Node]) -> Res<Value> {
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        out.push(schemaless_value(item).map_err(|e| e.at_index(i))?);
    }
    Ok(Value::Array(out))
}

#[inline(never)]
fn schemaless_object_value(members: &ObjectMap) -> Res<Value> {
    let mut entries = Vec::with_capacity(members.len());
    for (k, v) in members {
        let v = schemaless_value(v).map_err(|e| e.at_key(k))?;
        entries.push((Value::String(k.clone()), v));
    }
    Ok(Value::Map(dedup_keys(entries)))
}

#[inline(never)]
fn schemaless_scalar_value(node: &Node) -> Res<Value> {
    Ok(match node {
        Node::Bool(b) => Value::Boolean(*b),
        Node::Number {
            text,
            integral: true,
        } => Value::Int64(text.parse().map_err(|_| {
            Fail::new(format!(
                "Invalid value for int64 (schemaless integer): {text} is out of range"
            ))
        })?),
        Node::Number { .. } => Value::Float64(parse_f64(SchemaType::Float64, node)?),
        Node::String(s) => Value::String(s.clone()),
        Node::Null | Node::Array(_) | Node::Object(_) => Value::Null,
    })
}

/// Folds repeated keys like a map built by putting the entries in order:
/// a repeated key keeps its first position and takes the last value. Key
/// order is otherwise the input's (Java iterates a `HashMap`, whose order
/// carries no meaning; mimicking it would cost a hash per key on every read).
fn dedup_keys(entries: Vec<(Value, Value)>) -> Vec<(Value, Value)> {
    if entries.len() < 2 {
        return entries;
    }
    let mut out: Vec<(Value, Value)> = Vec::with_capacity(entries.len());
    let mut positions: HashMap<String, usize> = HashMap::with_capacity(entries.len());
    for (k, v) in entries {
        let existing = match &k {
            Value::String(s) => positions.get(s).copied(),
            other => out.iter().position(|(e, _)| e == other),
        };
        match existing {
            Some(pos) => out[pos].1 = v,
            None => {
                if let Value::String(s) = &k {
                    positions.insert(s.clone(), out.len());
                }
                out.push((k, v));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::SchemaBuilder;
    use proptest::prelude::*;

    fn converter(pairs: &[(&str, &str)]) -> JsonConverter {
        let props: Props = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        JsonConverter::configure(&props, false).unwrap()
    }

    fn to_json(c: &JsonConverter, schema: Option<&SchemaRef>, value: &Value) -> String {
        String::from_utf8(c.from_connect("t", schema, value).unwrap().unwrap()).unwrap()
    }

    fn read(c: &JsonConverter, json: &str) -> Result<SchemaAndValue, ConverterError> {
        c.to_connect("t", Some(json.as_bytes()))
    }

    #[test]
    fn config_defaults_and_errors_name_the_key() {
        let c = converter(&[]);
        assert!(c.settings.schemas_enable);
        assert!(c.settings.replace_null_with_default);
        assert_eq!(c.settings.decimal_format, DecimalFormat::Base64);
        assert_eq!(c.cache_size, 1000);
        let c = converter(&[
            ("schemas.enable", " FALSE "),
            ("decimal.format", "numeric"),
            ("replace.null.with.default", "false"),
            ("schemas.cache.size", "0"),
        ]);
        assert!(!c.settings.schemas_enable);
        assert!(!c.settings.replace_null_with_default);
        assert_eq!(c.settings.decimal_format, DecimalFormat::Numeric);
        for (key, bad) in [
            ("schemas.enable", "yes"),
            ("schemas.cache.size", "many"),
            ("decimal.format", "HEX"),
            ("replace.null.with.default", "1"),
        ] {
            let props: Props = [(key.to_string(), bad.to_string())].into_iter().collect();
            let err = JsonConverter::configure(&props, true).unwrap_err();
            assert!(err.contains(key), "{err}");
        }
    }

    #[test]
    fn bad_envelope_is_rejected_with_javas_message() {
        let c = converter(&[]);
        for json in [
            r#"{"payload":1}"#,
            r#"{"schema":null}"#,
            r#"{"schema":null,"payload":1,"extra":true}"#,
            r#"[1,2]"#,
            "42",
            "",
            "   ",
        ] {
            let err = read(&c, json).unwrap_err();
            assert_eq!(err.message, ENVELOPE_ERROR, "{json}");
        }
        // A repeated key is one field (the last value wins), as in Jackson.
        let sv = read(&c, r#"{"schema":null,"payload":1,"payload":2}"#).unwrap();
        assert_eq!(sv.value, Value::Int64(2));
    }

    #[test]
    fn malformed_json_is_an_error_not_a_panic() {
        let c = converter(&[]);
        let plain = converter(&[("schemas.enable", "false")]);
        for json in [
            "{",
            "{\"schema\":",
            "[1,",
            "[1 2]",
            "{\"a\" 1}",
            "{'a':1}",
            "\"abc",
            "\"bad \\q escape\"",
            "\"ctl \u{1} raw\"",
            "tru",
            "truex",
            "nul",
            "-",
            "1.",
            "1e",
            ".5",
            "+1",
            "NaN",
            "12x",
            "\"\\uD800\"",
            "\"\\uDC00\"",
            "\"\\uD800\\u0041\"",
            "\"\\u12G4\"",
            "1e99999999999",
            "{\"a\":1,}",
        ] {
            for conv in [&c, &plain] {
                let err = read(conv, json).unwrap_err();
                if conv.schemas_enabled() && !err.message.contains("serialization error") {
                    // Some inputs parse but are not envelopes.
                    assert_eq!(err.message, ENVELOPE_ERROR, "{json}");
                } else {
                    assert!(err.message.contains("serialization error"), "{json}: {err}");
                }
            }
        }
        let err = plain.to_connect("t", Some(b"\"\xff\"")).unwrap_err();
        assert!(err.message.contains("UTF-8"), "{err}");
        let long = format!("[{}]", "1".repeat(1001));
        assert!(read(&plain, &long).is_err());
        // Nesting deeper than Jackson's 1000 is rejected; 1000 is fine.
        let ok = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
        assert!(read(&plain, &ok).is_ok());
        let deep = format!("{}{}", "[".repeat(1001), "]".repeat(1001));
        assert!(read(&plain, &deep).unwrap_err().message.contains("depth"));
    }

    #[test]
    fn deepest_accepted_documents_fit_a_small_thread_stack() {
        // Tokio worker threads get 2 MiB, and a stack overflow aborts the
        // process: documents up to Jackson's depth limit (1000) must convert
        // within that, and deeper ones must fail cleanly, in debug builds too.
        let run = || {
            let plain = converter(&[("schemas.enable", "false")]);
            for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
                let doc = format!("{}1{}", open.repeat(1000), close.repeat(1000));
                let sv = read(&plain, &doc).unwrap();
                let out = plain.from_connect("t", None, &sv.value).unwrap().unwrap();
                assert_eq!(out, doc.as_bytes());
                let doc = format!("{}1{}", open.repeat(1001), close.repeat(1001));
                let err = read(&plain, &doc).unwrap_err();
                assert!(err.message.contains("nesting depth (1001)"), "{err}");
            }

            // In an envelope the root object is one level: 998 nested arrays
            // in both the schema and the payload make 999 + 1 levels.
            let c = converter(&[]);
            let envelope = |levels: usize| {
                let mut schema = String::from(r#"{"type":"int32"}"#);
                for _ in 0..levels - 1 {
                    schema = format!(r#"{{"type":"array","items":{schema}}}"#);
                }
                let payload = format!("{}7{}", "[".repeat(levels - 1), "]".repeat(levels - 1));
                format!(r#"{{"schema":{schema},"payload":{payload}}}"#)
            };
            let doc = envelope(999);
            let sv = read(&c, &doc).unwrap();
            let out = to_json(&c, sv.schema.as_ref(), &sv.value);
            let payload = format!("{}7{}", "[".repeat(998), "]".repeat(998));
            assert!(out.ends_with(&format!(r#","payload":{payload}}}"#)));
            assert_eq!(read(&c, &out).unwrap(), sv);
            assert!(read(&c, &envelope(1000)).is_err());

            // Writing is limited like Jackson's StreamWriteConstraints, so a
            // Value of any depth is an error, not an overflow.
            let mut deep = Value::Int64(1);
            for _ in 0..5000 {
                deep = Value::Array(vec![deep]);
            }
            let err = plain.from_connect("t", None, &deep).unwrap_err();
            assert!(err.message.contains("nesting depth (1001)"), "{err}");
            let mut schema = SchemaBuilder::int64().build();
            for _ in 0..1000 {
                schema = SchemaBuilder::array(schema).build();
            }
            assert!(c.from_connect("t", Some(&schema), &Value::Null).is_err());
        };
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(run)
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn lenient_where_jackson_is() {
        let plain = converter(&[("schemas.enable", "false")]);
        // Leading zeros, trailing content after the root value, a BOM.
        assert_eq!(read(&plain, "007").unwrap().value, Value::Int64(7));
        assert_eq!(
            read(&plain, "{\"a\":1} trailing ]]").unwrap().value,
            Value::Map(vec![(Value::from("a"), Value::Int64(1))])
        );
        assert_eq!(
            read(&plain, "\u{feff}true").unwrap().value,
            Value::Boolean(true)
        );
        assert_eq!(read(&plain, "true ]").unwrap().value, Value::Boolean(true));
        // Empty input with schemas disabled is a null record.
        assert_eq!(
            plain.to_connect("t", Some(b"")).unwrap(),
            SchemaAndValue::null()
        );
        assert_eq!(plain.to_connect("t", None).unwrap(), SchemaAndValue::null());
    }

    #[test]
    fn type_mismatch_names_the_expected_type() {
        let c = converter(&[]);
        let cases = [
            (r#"{"type":"int32"}"#, r#""12""#, "int32"),
            (r#"{"type":"int8"}"#, "300", "int8"),
            (r#"{"type":"int64"}"#, "1.5", "int64"),
            (r#"{"type":"boolean"}"#, "1", "boolean"),
            (r#"{"type":"string"}"#, "1", "string"),
            (r#"{"type":"double"}"#, r#""1.5""#, "double"),
            (r#"{"type":"bytes"}"#, r#""not base64!""#, "bytes"),
            (
                r#"{"type":"array","items":{"type":"int32"}}"#,
                "{}",
                "array",
            ),
            (
                r#"{"type":"struct","fields":[{"field":"a","type":"int32"}]}"#,
                r#"{"a":"x"}"#,
                "int32",
            ),
            (
                r#"{"type":"map","keys":{"type":"string"},"values":{"type":"int32"}}"#,
                "[]",
                "JSON objects",
            ),
            (
                r#"{"type":"int32","name":"org.apache.kafka.connect.data.Date"}"#,
                "1.5",
                "Date",
            ),
        ];
        for (schema, payload, expected) in cases {
            let json = format!(r#"{{"schema":{schema},"payload":{payload}}}"#);
            let err = read(&c, &json).unwrap_err();
            assert!(
                err.message.contains(expected),
                "{json}: {err} does not mention {expected}"
            );
        }
        // The failing field is named.
        let err = read(
            &c,
            r#"{"schema":{"type":"struct","fields":[{"field":"inner","type":"struct","fields":[{"field":"n","type":"int16"}]}]},"payload":{"inner":{"n":true}}}"#,
        )
        .unwrap_err();
        assert!(err.message.contains("payload.inner.n"), "{err}");
        // Schema errors.
        for (schema, expected) in [
            (r#"{"optional":true}"#, "Schema must contain 'type' field"),
            (r#"{"type":"int128"}"#, "Unknown schema type: int128"),
            (r#"{"type":"array"}"#, "did not specify the element type"),
            (
                r#"{"type":"map","values":{"type":"int32"}}"#,
                "did not specify the key type",
            ),
            (r#"{"type":"struct"}"#, "is not an array"),
            (
                r#"{"type":"struct","fields":[{"type":"int32"}]}"#,
                "field name not specified",
            ),
            (
                r#"{"type":"string","parameters":{"a":1}}"#,
                "must have string values",
            ),
        ] {
            let json = format!(r#"{{"schema":{schema},"payload":null}}"#);
            let err = read(&c, &json).unwrap_err();
            assert!(err.message.contains(expected), "{json}: {err}");
        }
    }

    #[test]
    fn writing_wrong_types_fails() {
        let c = converter(&[]);
        let int32 = SchemaBuilder::int32().build();
        let err = c
            .from_connect("t", Some(&int32), &Value::from("x"))
            .unwrap_err();
        assert_eq!(err.message, "Invalid type for INT32: String");
        let other = SchemaBuilder::struct_().field("a", int32.clone()).build();
        let s = Struct::new(SchemaBuilder::struct_().field("b", int32).build());
        let err = c
            .from_connect("t", Some(&other), &Value::Struct(s.clone()))
            .unwrap_err();
        assert_eq!(err.message, "Mismatching schema.");
        // Java cannot write a Struct or a logical value without a schema.
        assert!(c.from_connect("t", None, &Value::Struct(s)).is_err());
        assert!(c.from_connect("t", None, &Value::Date(1)).is_err());
        let dec = SchemaBuilder::decimal(2).build();
        let err = c
            .from_connect("t", Some(&dec), &Value::Decimal(Decimal::new(1, 3)))
            .unwrap_err();
        assert!(err.message.contains("mismatching scale"), "{err}");
        let time = SchemaBuilder::time().build();
        assert!(c.from_connect("t", Some(&time), &Value::Time(-1)).is_err());
    }

    #[test]
    fn required_null_is_an_error_both_ways() {
        let c = converter(&[]);
        let schema = SchemaBuilder::struct_()
            .field("id", SchemaBuilder::int64().build())
            .build();
        let err = c
            .from_connect(
                "t",
                Some(&schema),
                &Value::Struct(Struct::new(schema.clone())),
            )
            .unwrap_err();
        assert!(
            err.message.starts_with(
                "Conversion error: null value for field that is required and has no default value"
            ),
            "{err}"
        );
        assert!(err.message.contains("payload.id"), "{err}");
        let required = SchemaBuilder::string().build();
        assert!(c.from_connect("t", Some(&required), &Value::Null).is_err());

        let err = read(
            &c,
            r#"{"schema":{"type":"struct","fields":[{"field":"id","type":"int64"}]},"payload":{}}"#,
        )
        .unwrap_err();
        assert!(
            err.message
                .starts_with("Invalid null value for required INT64 field"),
            "{err}"
        );
        let err = read(&c, r#"{"schema":{"type":"string"},"payload":null}"#).unwrap_err();
        assert_eq!(err.message, "Invalid null value for required STRING field");
    }

    #[test]
    fn null_handling_follows_replace_null_with_default() {
        let schema = SchemaBuilder::struct_()
            .field(
                "n",
                SchemaBuilder::int32()
                    .optional()
                    .default_value(Value::Int32(5))
                    .build(),
            )
            .build();
        let value = Value::Struct(Struct::new(schema.clone()));
        let on = converter(&[]);
        let off = converter(&[("replace.null.with.default", "false")]);
        assert!(to_json(&on, Some(&schema), &value).ends_with(r#""payload":{"n":5}}"#));
        assert!(to_json(&off, Some(&schema), &value).ends_with(r#""payload":{"n":null}}"#));
        let json = r#"{"schema":{"type":"int32","optional":true,"default":5},"payload":null}"#;
        assert_eq!(read(&on, json).unwrap().value, Value::Int32(5));
        assert_eq!(read(&off, json).unwrap().value, Value::Null);
    }

    #[test]
    fn numeric_decimals() {
        let c = converter(&[("decimal.format", "NUMERIC")]);
        let schema = SchemaBuilder::decimal(2).build();
        for (unscaled, scale, text) in [
            (156, 2, "1.56"),
            (-1, 3, "-0.001"),
            (0, 2, "0.00"),
            (1, 8, "1E-8"),
            (0, 8, "0E-8"),
            (5, -2, "5E+2"),
            (123, 0, "123"),
        ] {
            let d = Decimal::new(unscaled, scale);
            assert_eq!(big_decimal_to_string(&d), text);
            let json = to_json(&c, Some(&schema), &Value::Decimal(d.clone()));
            assert!(json.ends_with(&format!(r#""payload":{text}}}"#)), "{json}");
            assert_eq!(read(&c, &json).unwrap().value, Value::Decimal(d));
        }
        // Java keeps the scale of the JSON number's text.
        let json = r#"{"schema":{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"4"}},"payload":1.5600}"#;
        assert_eq!(
            read(&c, json).unwrap().value,
            Value::Decimal(Decimal::new(15600, 4))
        );
    }

    #[test]
    fn floats_format_like_java() {
        assert_eq!(java_double_to_string(f64::from_bits(1)), "4.9E-324");
        assert_eq!(java_double_to_string(-f64::from_bits(1)), "-4.9E-324");
        assert_eq!(java_double_to_string(f64::from_bits(2)), "9.9E-324");
        assert_eq!(java_double_to_string(1e-5), "1.0E-5");
        assert_eq!(java_double_to_string(1e23), "1.0E23");
        assert_eq!(java_float_to_string(f32::from_bits(1)), "1.4E-45");
        assert_eq!(java_float_to_string(0.1), "0.1");
    }

    #[test]
    fn strings_escape_like_jackson() {
        let mut s = String::new();
        write_str(&mut s, "a\"\\\n\t\r\u{8}\u{c}\u{0}\u{1f}\u{7f}é中😀/");
        assert_eq!(
            s,
            "\"a\\\"\\\\\\n\\t\\r\\b\\f\\u0000\\u001F\u{7f}é中\\uD83D\\uDE00/\""
        );
    }

    #[test]
    fn base64_decoding_is_jackson_compatible() {
        assert_eq!(
            jackson_base64_decode("AAEC/w==").unwrap(),
            vec![0, 1, 2, 255]
        );
        assert_eq!(jackson_base64_decode("").unwrap(), Vec::<u8>::new());
        assert_eq!(
            jackson_base64_decode(" AQID AQ==").unwrap(),
            vec![1, 2, 3, 1]
        );
        // Unused bits are ignored, padding is required.
        assert_eq!(jackson_base64_decode("AB==").unwrap(), vec![0]);
        assert!(jackson_base64_decode("AQ").is_err());
        assert!(jackson_base64_decode("AQI").is_err());
        assert!(jackson_base64_decode("A===").is_err());
        assert!(jackson_base64_decode("AQ=x").is_err());
    }

    #[test]
    fn maps_keep_input_order_and_fold_repeated_keys() {
        let plain = converter(&[("schemas.enable", "false")]);
        let sv = read(&plain, r#"{"s":1,"l":2,"s":3,"b":4}"#).unwrap();
        let Value::Map(entries) = sv.value else {
            panic!("not a map")
        };
        let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str().unwrap()).collect();
        assert_eq!(keys, ["s", "l", "b"]);
        assert_eq!(entries[0].1, Value::Int64(3));
        let pairs = vec![
            (Value::Int32(2), Value::from("a")),
            (Value::Int32(1), Value::from("b")),
            (Value::Int32(2), Value::from("c")),
        ];
        assert_eq!(
            dedup_keys(pairs),
            vec![
                (Value::Int32(2), Value::from("c")),
                (Value::Int32(1), Value::from("b")),
            ]
        );
    }

    #[test]
    fn schema_cache_returns_equal_schemas() {
        let c = converter(&[("schemas.cache.size", "2")]);
        let a = read(&c, r#"{"schema":{"type":"int32"},"payload":1}"#).unwrap();
        let b = read(&c, r#"{"schema":{"type":"int32"},"payload":2}"#).unwrap();
        assert!(Arc::ptr_eq(
            a.schema.as_ref().unwrap(),
            b.schema.as_ref().unwrap()
        ));
        for i in 0..5 {
            let json = format!(r#"{{"schema":{{"type":"int32","version":{i}}},"payload":1}}"#);
            assert_eq!(read(&c, &json).unwrap().schema.unwrap().version, Some(i));
        }
        let schema = SchemaBuilder::string().optional().build();
        for _ in 0..3 {
            assert_eq!(
                to_json(&c, Some(&schema), &Value::Null),
                r#"{"schema":{"type":"string","optional":true},"payload":null}"#
            );
        }
    }

    // ------------------------------------------------------------ properties

    fn arb_schema() -> impl Strategy<Value = SchemaRef> {
        let leaf = prop_oneof![
            Just(SchemaType::Int8),
            Just(SchemaType::Int16),
            Just(SchemaType::Int32),
            Just(SchemaType::Int64),
            Just(SchemaType::Boolean),
            Just(SchemaType::String),
            Just(SchemaType::Bytes),
        ];
        let leaf = (leaf, any::<bool>()).prop_map(|(ty, optional)| {
            let b = SchemaBuilder::new(ty);
            if optional { b.optional() } else { b }.build()
        });
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                (inner.clone(), any::<bool>()).prop_map(|(items, optional)| {
                    let b = SchemaBuilder::array(items);
                    if optional { b.optional() } else { b }.build()
                }),
                (
                    prop::collection::vec(inner, 1..5),
                    any::<bool>(),
                    any::<bool>()
                )
                    .prop_map(|(fields, optional, named)| {
                        let mut b = SchemaBuilder::struct_();
                        for (i, f) in fields.into_iter().enumerate() {
                            b = b.field(format!("f{i}"), f);
                        }
                        if named {
                            b = b.name("com.example.Generated").version(1).doc("d");
                        }
                        if optional { b.optional() } else { b }.build()
                    }),
            ]
        })
    }

    fn arb_value(schema: SchemaRef) -> BoxedStrategy<Value> {
        let base: BoxedStrategy<Value> = match schema.schema_type {
            SchemaType::Int8 => any::<i8>().prop_map(Value::Int8).boxed(),
            SchemaType::Int16 => any::<i16>().prop_map(Value::Int16).boxed(),
            SchemaType::Int32 => any::<i32>().prop_map(Value::Int32).boxed(),
            SchemaType::Int64 => any::<i64>().prop_map(Value::Int64).boxed(),
            SchemaType::Boolean => any::<bool>().prop_map(Value::Boolean).boxed(),
            SchemaType::String => any::<String>().prop_map(Value::String).boxed(),
            SchemaType::Bytes => prop::collection::vec(any::<u8>(), 0..8)
                .prop_map(Value::Bytes)
                .boxed(),
            SchemaType::Array => {
                let items = schema.value_schema.clone().unwrap();
                prop::collection::vec(arb_value(items), 0..4)
                    .prop_map(Value::Array)
                    .boxed()
            }
            SchemaType::Struct => {
                let fields: Vec<BoxedStrategy<Value>> = schema
                    .fields
                    .iter()
                    .map(|f| arb_value(f.schema.clone()))
                    .collect();
                let s = schema.clone();
                fields
                    .prop_map(move |values| {
                        let mut st = Struct::new(s.clone());
                        for (f, v) in s.fields.iter().zip(values) {
                            st.set(&f.name, v).unwrap();
                        }
                        Value::Struct(st)
                    })
                    .boxed()
            }
            other => unreachable!("not generated: {other}"),
        };
        if schema.optional {
            prop_oneof![1 => Just(Value::Null), 3 => base].boxed()
        } else {
            base
        }
    }

    fn arb_schema_and_value() -> impl Strategy<Value = (SchemaRef, Value)> {
        arb_schema().prop_flat_map(|s| (Just(s.clone()), arb_value(s)))
    }

    proptest! {
        #[test]
        fn schemad_values_round_trip((schema, value) in arb_schema_and_value()) {
            let c = converter(&[]);
            let bytes = c.from_connect("t", Some(&schema), &value).unwrap();
            let back = c.to_connect("t", bytes.as_deref()).unwrap();
            prop_assert_eq!(back.schema.as_ref(), Some(&schema));
            prop_assert_eq!(&back.value, &value);
            // And the JSON itself is stable.
            let again = c.from_connect("t", back.schema.as_ref(), &back.value).unwrap();
            prop_assert_eq!(again, bytes);
        }

        #[test]
        fn finite_doubles_round_trip(bits in any::<u64>()) {
            let d = f64::from_bits(bits);
            prop_assume!(d.is_finite() && d != 0.0);
            let c = converter(&[]);
            let schema = SchemaBuilder::float64().build();
            let bytes = c.from_connect("t", Some(&schema), &Value::Float64(d)).unwrap();
            let back = c.to_connect("t", bytes.as_deref()).unwrap();
            prop_assert_eq!(back.value, Value::Float64(d));
        }

        #[test]
        fn finite_floats_round_trip(bits in any::<u32>()) {
            let f = f32::from_bits(bits);
            prop_assume!(f.is_finite() && f != 0.0);
            let c = converter(&[]);
            let schema = SchemaBuilder::float32().build();
            let bytes = c.from_connect("t", Some(&schema), &Value::Float32(f)).unwrap();
            let back = c.to_connect("t", bytes.as_deref()).unwrap();
            prop_assert_eq!(back.value, Value::Float32(f));
        }

        /// A schema the cache knows is only validated while parsing, not
        /// built: every envelope, and every corruption of one, converts
        /// exactly as without a cache (same value, same error).
        #[test]
        fn cached_schemas_convert_like_uncached(
            (schema, value) in arb_schema_and_value(),
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
        ) {
            let plain = converter(&[("schemas.cache.size", "0")]);
            let cached = converter(&[]);
            let bytes = cached.from_connect("t", Some(&schema), &value).unwrap().unwrap();
            let outcome = |c: &JsonConverter, b: &[u8]| format!("{:?}", c.to_connect("t", Some(b)).map(|sv| (sv.schema, sv.value)));
            let uncached = outcome(&plain, &bytes);
            prop_assert_eq!(outcome(&cached, &bytes), uncached.clone()); // fills the cache
            prop_assert_eq!(outcome(&cached, &bytes), uncached.clone()); // a hit: validated, not built
            prop_assert_eq!(outcome(&cached, &bytes), uncached); // known bytes: not parsed at all
            let mut bad = bytes.clone();
            bad[at.index(bytes.len())] = byte;
            prop_assert_eq!(outcome(&cached, &bad), outcome(&plain, &bad));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            let _ = converter(&[]).to_connect("t", Some(&bytes));
            let _ = converter(&[("schemas.enable", "false")]).to_connect("t", Some(&bytes));
        }
    }
}
