//! `AvroConverter`: Connect data as Avro in Confluent's wire format, with
//! schemas kept in a Schema Registry, configured and behaving like
//! Confluent's `io.confluent.connect.avro.AvroConverter`.
//!
//! Wire format: magic byte `0`, the schema id as a 4-byte big-endian int,
//! then the Avro binary encoding of the value. A null value is a null Kafka
//! value (tombstone) and is not registered.
//!
//! Serializing maps the record's Connect schema to an Avro schema the way
//! Confluent's `AvroData` does (with `connect.meta.data=true`):
//! * INT8/INT16 → `int` with `"connect.type": "int8"`/`"int16"`; INT32 →
//!   `int`; INT64 → `long`; FLOAT32/64 → `float`/`double`; BOOLEAN, STRING,
//!   BYTES alike;
//! * an optional schema → a union with `null`: `["null", T]` with default
//!   `null`, or `[T, "null"]` when it has a non-null default;
//! * STRUCT → `record` named after the schema (namespace = the part before the
//!   last dot), unnamed ones `io.confluent.connect.avro.ConnectDefault`,
//!   `…ConnectDefault2`, …; fields keep their order and defaults;
//! * ARRAY → `array`; MAP with non-optional STRING keys → `map`, other maps →
//!   an `array` of `io.confluent.connect.avro.MapEntry` records `{key, value}`;
//! * Decimal → `bytes` with `logicalType: decimal`, `scale` and `precision`
//!   (from the `connect.decimal.precision` parameter, else 64); Date → `int`
//!   `date`; Time → `int` `time-millis`; Timestamp → `long`
//!   `timestamp-millis`;
//! * the schema's name, version, doc, parameters and default travel as
//!   `connect.name`, `connect.version`, `connect.doc`, `connect.parameters`
//!   and `connect.default`, so a round trip gives the same Connect schema;
//!   Avro record and field docs come from (and go back to) the parameters
//!   `io.confluent.connect.avro.record.doc` / `…field.doc.<field>`;
//! * with `connect.meta.data=false` none of that is written (INT8/INT16 then
//!   read back as INT32), as in Confluent;
//! * STRING schemas with Confluent's enum parameters become Avro enums only
//!   with `enhanced.avro.schema.support=true`.
//!
//! Deserializing fetches the writer's schema by id (cached) and maps it back
//! the same way, giving the top-level schema the version it has under the
//! topic's subject when the writer set no `connect.version` (one lookup per
//! schema id, cached), as Confluent's converter does; schemas written by other producers map as Confluent maps
//! them: `enum` → STRING (with `io.confluent.connect.avro.Enum` parameters),
//! `fixed` → BYTES (`connect.fixed.size`), a union of several non-null types
//! → a STRUCT `io.confluent.connect.avro.Union` with one optional field per
//! branch, other logical types → their physical type.
//!
//! Subjects come from `key.subject.name.strategy` /
//! `value.subject.name.strategy`: `TopicNameStrategy` (`<topic>-key` /
//! `<topic>-value`, the default), `RecordNameStrategy` (the record's full
//! name) or `TopicRecordNameStrategy` (`<topic>-<record full name>`),
//! by Confluent's class names or their short forms.
//!
//! Differences from Confluent's converter, on purpose or not yet done:
//! * schemaless data (no Connect schema) is an error rather than mapped to
//!   Confluent's "anything" union;
//! * `use.latest.version` applies only with `auto.register.schemas=false`
//!   (as Confluent documents it); the latest version is cached for the
//!   converter's life (Confluent's `latest.cache.ttl.sec=-1`);
//! * `basic.auth.credentials.source=SASL_INHERIT`, bearer auth, TLS client
//!   settings, schema references, `enhanced.avro.schema.support`,
//!   `scrub.invalid.names` and recursive Avro schemas are not supported;
//! * decoding rejects values out of their Connect type's range (an `int`
//!   tagged `int8` holding 300) instead of truncating them;
//! * several unnamed structs in one schema are named `ConnectDefault`,
//!   `ConnectDefault2`, … (Confluent names them all `ConnectDefault`, which
//!   Avro cannot tell apart); a map with non-string keys always uses the
//!   record name `MapEntry`, also when the map schema has a name;
//! * a schema id the topic's subject does not hold (written under another
//!   subject name strategy) reads without a registry version, where
//!   Confluent fails the record;
//! * Avro `decimal` on `fixed` writes and reads like on `bytes`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indexmap::IndexMap;
use serde_json::{json, Map as JsonMap, Value as Json};

use super::schema_registry::{RegistryConfig, RegistryError, SchemaRegistryClient};
use crate::connect::config::{ConfigDef, ConfigType, Importance, Validator};
use crate::connect::data::logical;
use crate::connect::{
    Converter, ConverterError, Decimal, Props, Schema, SchemaAndValue, SchemaBuilder, SchemaRef,
    SchemaType, Struct, Value,
};

pub const SCHEMA_REGISTRY_URL_CONFIG: &str = "schema.registry.url";
pub const AUTO_REGISTER_SCHEMAS_CONFIG: &str = "auto.register.schemas";
pub const USE_LATEST_VERSION_CONFIG: &str = "use.latest.version";
pub const KEY_SUBJECT_NAME_STRATEGY_CONFIG: &str = "key.subject.name.strategy";
pub const VALUE_SUBJECT_NAME_STRATEGY_CONFIG: &str = "value.subject.name.strategy";
pub const BASIC_AUTH_CREDENTIALS_SOURCE_CONFIG: &str = "basic.auth.credentials.source";
pub const BASIC_AUTH_USER_INFO_CONFIG: &str = "basic.auth.user.info";
pub const SR_BASIC_AUTH_USER_INFO_CONFIG: &str = "schema.registry.basic.auth.user.info";
pub const NORMALIZE_SCHEMAS_CONFIG: &str = "normalize.schemas";
pub const MAX_SCHEMAS_PER_SUBJECT_CONFIG: &str = "max.schemas.per.subject";
pub const SCHEMAS_CACHE_CONFIG: &str = "schemas.cache.config";
pub const CONNECT_META_DATA_CONFIG: &str = "connect.meta.data";
pub const ENHANCED_AVRO_SCHEMA_SUPPORT_CONFIG: &str = "enhanced.avro.schema.support";
pub const MAX_RETRIES_CONFIG: &str = "max.retries";
pub const RETRIES_WAIT_MS_CONFIG: &str = "retries.wait.ms";
pub const RETRIES_MAX_WAIT_MS_CONFIG: &str = "retries.max.wait.ms";
pub const HTTP_CONNECT_TIMEOUT_MS_CONFIG: &str = "http.connect.timeout.ms";
pub const HTTP_READ_TIMEOUT_MS_CONFIG: &str = "http.read.timeout.ms";

/// Confluent's subject name strategy classes.
pub const TOPIC_NAME_STRATEGY: &str = "io.confluent.kafka.serializers.subject.TopicNameStrategy";
pub const RECORD_NAME_STRATEGY: &str = "io.confluent.kafka.serializers.subject.RecordNameStrategy";
pub const TOPIC_RECORD_NAME_STRATEGY: &str =
    "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy";

/// Avro property names AvroData uses.
pub mod props {
    pub const CONNECT_NAME: &str = "connect.name";
    pub const CONNECT_DOC: &str = "connect.doc";
    pub const CONNECT_VERSION: &str = "connect.version";
    pub const CONNECT_PARAMETERS: &str = "connect.parameters";
    pub const CONNECT_DEFAULT: &str = "connect.default";
    pub const CONNECT_TYPE: &str = "connect.type";
    pub const LOGICAL_TYPE: &str = "logicalType";
    /// Connect parameter holding a Decimal's Avro precision.
    pub const DECIMAL_PRECISION_PARAM: &str = "connect.decimal.precision";
    pub const DECIMAL_PRECISION_DEFAULT: u32 = 64;
    pub const NAMESPACE: &str = "io.confluent.connect.avro";
    pub const DEFAULT_RECORD_NAME: &str = "io.confluent.connect.avro.ConnectDefault";
    pub const MAP_ENTRY_NAME: &str = "io.confluent.connect.avro.MapEntry";
    pub const UNION_NAME: &str = "io.confluent.connect.avro.Union";
    pub const ENUM_PARAM: &str = "io.confluent.connect.avro.Enum";
    pub const FIXED_SIZE_PARAM: &str = "connect.fixed.size";
    /// Connect parameter holding an Avro record's doc.
    pub const RECORD_DOC: &str = "io.confluent.connect.avro.record.doc";
    /// Prefix of Connect parameters holding an Avro record field's doc.
    pub const FIELD_DOC_PREFIX: &str = "io.confluent.connect.avro.field.doc.";
    /// Connect parameter marking a default that came from an Avro field
    /// default (not from `connect.default`).
    pub const FIELD_DEFAULT_FLAG: &str = "io.confluent.connect.avro.field.default";
}

/// The settings `AvroConverter` accepts (Confluent's `AvroConverterConfig`
/// and the registry client's).
pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(SCHEMA_REGISTRY_URL_CONFIG, ConfigType::List, None, Importance::High,
            "Comma-separated list of URLs for Schema Registry instances that can be used to register or look up schemas.")
        .validate_with(Validator::NonEmpty)
        .define(AUTO_REGISTER_SCHEMAS_CONFIG, ConfigType::Boolean, Some("true"), Importance::Medium,
            "Specify if the Serializer should attempt to register the Schema with Schema Registry")
        .define(USE_LATEST_VERSION_CONFIG, ConfigType::Boolean, Some("false"), Importance::Low,
            "Specify if the Serializer should use the latest subject version for serialization (only with auto.register.schemas=false)")
        .define(KEY_SUBJECT_NAME_STRATEGY_CONFIG, ConfigType::Class, Some(TOPIC_NAME_STRATEGY), Importance::Medium,
            "Determines how to construct the subject name under which the key schema is registered with the schema registry. By default, <topic>-key is used as subject.")
        .define(VALUE_SUBJECT_NAME_STRATEGY_CONFIG, ConfigType::Class, Some(TOPIC_NAME_STRATEGY), Importance::Medium,
            "Determines how to construct the subject name under which the value schema is registered with the schema registry. By default, <topic>-value is used as subject.")
        .define(BASIC_AUTH_CREDENTIALS_SOURCE_CONFIG, ConfigType::String, Some("URL"), Importance::Medium,
            "Specify how to pick the credentials for Basic Auth header. The supported values are URL and USER_INFO")
        .validate_with(Validator::OneOf(&["URL", "USER_INFO", "SASL_INHERIT"]))
        .define(BASIC_AUTH_USER_INFO_CONFIG, ConfigType::Password, Some(""), Importance::Medium,
            "Specify the user info for Basic Auth in the form of {username}:{password}")
        .define(SR_BASIC_AUTH_USER_INFO_CONFIG, ConfigType::Password, Some(""), Importance::Medium,
            "Specify the user info for Basic Auth in the form of {username}:{password}")
        .define(NORMALIZE_SCHEMAS_CONFIG, ConfigType::Boolean, Some("false"), Importance::Low,
            "Whether to normalize schemas, which generally ignores ordering when it is not significant")
        .define(MAX_SCHEMAS_PER_SUBJECT_CONFIG, ConfigType::Int, Some("1000"), Importance::Low,
            "Maximum number of schemas to create or cache locally.")
        .validate_with(Validator::Range { min: Some(0), max: None })
        .define(SCHEMAS_CACHE_CONFIG, ConfigType::Int, Some("1000"), Importance::Low,
            "Size of the converted schemas cache")
        .validate_with(Validator::Range { min: Some(0), max: None })
        .define(CONNECT_META_DATA_CONFIG, ConfigType::Boolean, Some("true"), Importance::Low,
            "Allow connect converter to add its meta data to the output schema")
        .define(ENHANCED_AVRO_SCHEMA_SUPPORT_CONFIG, ConfigType::Boolean, Some("false"), Importance::Low,
            "Enable enhanced schema support to preserve package information and Enums")
        .define(MAX_RETRIES_CONFIG, ConfigType::Int, Some("3"), Importance::Low,
            "Maximum number of retries for a request to Schema Registry that fails to connect or answers 5xx")
        .validate_with(Validator::Range { min: Some(0), max: None })
        .define(RETRIES_WAIT_MS_CONFIG, ConfigType::Int, Some("1000"), Importance::Low,
            "Time to wait before the first retry; doubled on each further retry")
        .validate_with(Validator::Range { min: Some(0), max: None })
        .define(RETRIES_MAX_WAIT_MS_CONFIG, ConfigType::Int, Some("20000"), Importance::Low,
            "Maximum time to wait between retries")
        .validate_with(Validator::Range { min: Some(0), max: None })
        .define(HTTP_CONNECT_TIMEOUT_MS_CONFIG, ConfigType::Int, Some("60000"), Importance::Low,
            "Timeout for connecting to Schema Registry")
        .validate_with(Validator::Range { min: Some(1), max: None })
        .define(HTTP_READ_TIMEOUT_MS_CONFIG, ConfigType::Int, Some("60000"), Importance::Low,
            "Timeout for reading an answer from Schema Registry")
        .validate_with(Validator::Range { min: Some(1), max: None })
}

// ---------------------------------------------------------------------------
// Subject names
// ---------------------------------------------------------------------------

/// How subjects are named (Confluent's `SubjectNameStrategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectNameStrategy {
    TopicName,
    RecordName,
    TopicRecordName,
}

impl SubjectNameStrategy {
    /// By Confluent's class name or its simple name.
    pub fn from_class(class: &str) -> Option<SubjectNameStrategy> {
        let simple = class.trim().rsplit('.').next().unwrap_or_default();
        match simple {
            "TopicNameStrategy" => Some(SubjectNameStrategy::TopicName),
            "RecordNameStrategy" => Some(SubjectNameStrategy::RecordName),
            "TopicRecordNameStrategy" => Some(SubjectNameStrategy::TopicRecordName),
            _ => None,
        }
    }

    /// The subject for a record of `topic` whose Avro schema's full name is
    /// `record_name` (`None` for unnamed types).
    pub fn subject(
        self,
        topic: &str,
        is_key: bool,
        record_name: Option<&str>,
    ) -> Result<String, String> {
        let named = || {
            record_name.ok_or_else(|| {
                format!(
                    "{self:?}Strategy needs a named Avro schema (a record, enum or fixed) for the {} of topic {topic}",
                    if is_key { "key" } else { "value" }
                )
            })
        };
        Ok(match self {
            SubjectNameStrategy::TopicName => {
                format!("{topic}-{}", if is_key { "key" } else { "value" })
            }
            SubjectNameStrategy::RecordName => named()?.to_owned(),
            SubjectNameStrategy::TopicRecordName => format!("{topic}-{}", named()?),
        })
    }
}

// ---------------------------------------------------------------------------
// Avro schemas
// ---------------------------------------------------------------------------

/// Index of a node in an [`AvroSchema`].
pub type NodeId = usize;

/// A parsed Avro schema: nodes in an arena, so named types can be referenced
/// from several places (and recursive schemas parse).
#[derive(Debug, Clone, PartialEq)]
pub struct AvroSchema {
    nodes: Vec<Node>,
    root: NodeId,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: Kind,
    /// Every attribute besides the ones that define the type
    /// (`logicalType`, `connect.*`, `precision`, `scale`, …).
    pub props: JsonMap<String, Json>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Record {
        /// Full name.
        name: String,
        doc: Option<String>,
        fields: Vec<AvroField>,
    },
    Enum {
        name: String,
        symbols: Vec<String>,
    },
    Array(NodeId),
    Map(NodeId),
    Union(Vec<NodeId>),
    Fixed {
        name: String,
        size: usize,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct AvroField {
    pub name: String,
    pub schema: NodeId,
    pub default: Option<Json>,
    pub doc: Option<String>,
}

impl AvroSchema {
    /// Parses Avro schema JSON text.
    pub fn parse(text: &str) -> Result<AvroSchema, String> {
        let json: Json =
            serde_json::from_str(text).map_err(|e| format!("Avro schema is not JSON: {e}"))?;
        AvroSchema::from_json(&json)
    }

    pub fn from_json(json: &Json) -> Result<AvroSchema, String> {
        let mut parser = Parser {
            nodes: Vec::new(),
            names: HashMap::new(),
            depth: 0,
        };
        let root = parser.parse(json, None)?;
        Ok(AvroSchema {
            nodes: parser.nodes,
            root,
        })
    }

    pub fn root(&self) -> NodeId {
        self.root
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    /// Full name of the root if it is a named type, else `None`.
    pub fn name(&self) -> Option<&str> {
        match &self.nodes[self.root].kind {
            Kind::Record { name, .. } | Kind::Enum { name, .. } | Kind::Fixed { name, .. } => {
                Some(name)
            }
            _ => None,
        }
    }
}

const MAX_DEPTH: usize = 200;

struct Parser {
    nodes: Vec<Node>,
    names: HashMap<String, NodeId>,
    depth: usize,
}

fn full_name(name: &str, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) if !name.contains('.') && !ns.is_empty() => format!("{ns}.{name}"),
        _ => name.to_owned(),
    }
}

fn namespace_of(full: &str) -> Option<&str> {
    full.rsplit_once('.').map(|(ns, _)| ns)
}

impl Parser {
    fn push(&mut self, kind: Kind, props: JsonMap<String, Json>) -> NodeId {
        self.nodes.push(Node { kind, props });
        self.nodes.len() - 1
    }

    fn primitive(name: &str) -> Option<Kind> {
        Some(match name {
            "null" => Kind::Null,
            "boolean" => Kind::Boolean,
            "int" => Kind::Int,
            "long" => Kind::Long,
            "float" => Kind::Float,
            "double" => Kind::Double,
            "bytes" => Kind::Bytes,
            "string" => Kind::String,
            _ => return None,
        })
    }

    fn parse(&mut self, json: &Json, ns: Option<&str>) -> Result<NodeId, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!("Avro schema nested deeper than {MAX_DEPTH} levels"));
        }
        let r = self.parse_inner(json, ns);
        self.depth -= 1;
        r
    }

    fn parse_inner(&mut self, json: &Json, ns: Option<&str>) -> Result<NodeId, String> {
        match json {
            Json::String(name) => {
                if let Some(kind) = Parser::primitive(name) {
                    return Ok(self.push(kind, JsonMap::new()));
                }
                let full = full_name(name, ns);
                self.names
                    .get(&full)
                    .or_else(|| self.names.get(name.as_str()))
                    .copied()
                    .ok_or_else(|| format!("undefined Avro type name {name:?}"))
            }
            Json::Array(branches) => {
                let mut ids = Vec::with_capacity(branches.len());
                for b in branches {
                    if b.is_array() {
                        return Err("Avro unions may not immediately contain other unions".into());
                    }
                    ids.push(self.parse(b, ns)?);
                }
                Ok(self.push(Kind::Union(ids), JsonMap::new()))
            }
            Json::Object(obj) => {
                let ty = obj
                    .get("type")
                    .ok_or_else(|| format!("Avro schema object without \"type\": {json}"))?;
                let ty_name = match ty {
                    Json::String(s) => s.as_str(),
                    // {"type": {...}} or {"type": [...]}: the inner schema.
                    other => return self.parse(other, ns),
                };
                let mut props = obj.clone();
                let take_name = |props: &mut JsonMap<String, Json>| -> Result<String, String> {
                    let name = props
                        .remove("name")
                        .and_then(|n| n.as_str().map(str::to_owned))
                        .ok_or_else(|| format!("Avro {ty_name} without a name: {json}"))?;
                    let namespace = props.remove("namespace");
                    let namespace = namespace.as_ref().and_then(Json::as_str).or(ns);
                    Ok(full_name(&name, namespace))
                };
                props.remove("type");
                match ty_name {
                    "record" | "error" => {
                        let name = take_name(&mut props)?;
                        let doc = props
                            .remove("doc")
                            .and_then(|d| d.as_str().map(str::to_owned));
                        props.remove("aliases");
                        let fields_json = props
                            .remove("fields")
                            .and_then(|f| f.as_array().cloned())
                            .ok_or_else(|| format!("Avro record {name} without fields"))?;
                        // Reserve the node first: fields may refer to the record.
                        let id = self.push(
                            Kind::Record {
                                name: name.clone(),
                                doc,
                                fields: Vec::new(),
                            },
                            props,
                        );
                        self.define(&name, id)?;
                        let inner_ns = namespace_of(&name).map(str::to_owned);
                        let mut fields = Vec::with_capacity(fields_json.len());
                        for f in &fields_json {
                            let fname = f
                                .get("name")
                                .and_then(Json::as_str)
                                .ok_or_else(|| format!("field without a name in record {name}"))?;
                            let ftype = f.get("type").ok_or_else(|| {
                                format!("field {fname} of record {name} has no type")
                            })?;
                            let schema = self.parse(ftype, inner_ns.as_deref())?;
                            fields.push(AvroField {
                                name: fname.to_owned(),
                                schema,
                                default: f.get("default").cloned(),
                                doc: f.get("doc").and_then(Json::as_str).map(str::to_owned),
                            });
                        }
                        if let Kind::Record { fields: slot, .. } = &mut self.nodes[id].kind {
                            *slot = fields;
                        }
                        Ok(id)
                    }
                    "enum" => {
                        let name = take_name(&mut props)?;
                        let symbols = props
                            .remove("symbols")
                            .and_then(|s| s.as_array().cloned())
                            .ok_or_else(|| format!("Avro enum {name} without symbols"))?
                            .iter()
                            .map(|s| {
                                s.as_str()
                                    .map(str::to_owned)
                                    .ok_or_else(|| format!("enum {name} has a non-string symbol"))
                            })
                            .collect::<Result<Vec<_>, _>>()?;
                        let id = self.push(
                            Kind::Enum {
                                name: name.clone(),
                                symbols,
                            },
                            props,
                        );
                        self.define(&name, id)?;
                        Ok(id)
                    }
                    "fixed" => {
                        let name = take_name(&mut props)?;
                        let size = props
                            .remove("size")
                            .and_then(|s| s.as_u64())
                            .and_then(|s| usize::try_from(s).ok())
                            .ok_or_else(|| format!("Avro fixed {name} without a valid size"))?;
                        let id = self.push(
                            Kind::Fixed {
                                name: name.clone(),
                                size,
                            },
                            props,
                        );
                        self.define(&name, id)?;
                        Ok(id)
                    }
                    "array" => {
                        let items = props
                            .remove("items")
                            .ok_or_else(|| format!("Avro array without items: {json}"))?;
                        let items = self.parse(&items, ns)?;
                        Ok(self.push(Kind::Array(items), props))
                    }
                    "map" => {
                        let values = props
                            .remove("values")
                            .ok_or_else(|| format!("Avro map without values: {json}"))?;
                        let values = self.parse(&values, ns)?;
                        Ok(self.push(Kind::Map(values), props))
                    }
                    other => match Parser::primitive(other) {
                        Some(kind) => Ok(self.push(kind, props)),
                        None => {
                            // A named type referenced as {"type": "Name"}.
                            let id = self.parse(&Json::String(other.to_owned()), ns)?;
                            Ok(id)
                        }
                    },
                }
            }
            other => Err(format!("not an Avro schema: {other}")),
        }
    }

    fn define(&mut self, name: &str, id: NodeId) -> Result<(), String> {
        if self.names.insert(name.to_owned(), id).is_some() {
            return Err(format!("Avro type {name} is defined twice"));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Connect schema -> Avro schema
// ---------------------------------------------------------------------------

struct FromConnect {
    meta: bool,
    enhanced: bool,
    /// Named types written so far: full name -> definition.
    defined: HashMap<String, Json>,
    default_names: usize,
}

/// The Avro schema (as JSON) for a Connect schema, as Confluent's
/// `AvroData.fromConnectSchema` builds it. `meta` is `connect.meta.data`.
pub fn avro_schema_json(schema: &Schema, meta: bool) -> Result<Json, String> {
    avro_schema_json_with(schema, meta, false)
}

/// [`avro_schema_json`] with `enhanced.avro.schema.support`: STRING schemas
/// carrying Confluent's enum parameters become Avro enums again.
pub fn avro_schema_json_with(schema: &Schema, meta: bool, enhanced: bool) -> Result<Json, String> {
    let mut ctx = FromConnect {
        meta,
        enhanced,
        defined: HashMap::new(),
        default_names: 0,
    };
    ctx.schema(schema, false, 0)
}

impl FromConnect {
    fn schema(
        &mut self,
        schema: &Schema,
        ignore_optional: bool,
        depth: usize,
    ) -> Result<Json, String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "Connect schema nested deeper than {MAX_DEPTH} levels"
            ));
        }
        let base = self.base(schema, depth)?;
        if ignore_optional || !schema.optional {
            return Ok(base);
        }
        // Avro requires a union's default to match its first branch;
        // Confluent puts null first for structs whatever their default.
        let has_default = schema.schema_type != SchemaType::Struct
            && schema.default.as_ref().is_some_and(|d| !d.is_null());
        Ok(if has_default {
            json!([base, "null"])
        } else {
            json!(["null", base])
        })
    }

    fn base(&mut self, schema: &Schema, depth: usize) -> Result<Json, String> {
        let mut props = JsonMap::new();
        let mut logical_type = None;
        let mut connect_type = None;
        let ty = match schema.schema_type {
            SchemaType::Int8 => {
                connect_type = Some("int8");
                "int"
            }
            SchemaType::Int16 => {
                connect_type = Some("int16");
                "int"
            }
            SchemaType::Int32 => {
                if schema.is_logical(logical::DATE) {
                    logical_type = Some("date");
                } else if schema.is_logical(logical::TIME) {
                    logical_type = Some("time-millis");
                }
                "int"
            }
            SchemaType::Int64 => {
                if schema.is_logical(logical::TIMESTAMP) {
                    logical_type = Some("timestamp-millis");
                }
                "long"
            }
            SchemaType::Float32 => "float",
            SchemaType::Float64 => "double",
            SchemaType::Boolean => "boolean",
            SchemaType::String => {
                if self.enhanced {
                    if let Some(e) = self.enum_schema(schema)? {
                        return Ok(e);
                    }
                }
                "string"
            }
            SchemaType::Bytes => {
                if schema.is_logical(logical::DECIMAL) {
                    let scale = schema.decimal_scale().ok_or_else(|| {
                        "Decimal schema without a valid \"scale\" parameter".to_string()
                    })?;
                    let precision = schema
                        .parameters
                        .as_ref()
                        .and_then(|p| p.get(props::DECIMAL_PRECISION_PARAM))
                        .map(|p| {
                            p.trim().parse::<u32>().map_err(|_| {
                                format!(
                                    "{} must be a positive integer, not {p:?}",
                                    props::DECIMAL_PRECISION_PARAM
                                )
                            })
                        })
                        .transpose()?
                        .unwrap_or(props::DECIMAL_PRECISION_DEFAULT);
                    props.insert("scale".into(), json!(scale));
                    props.insert("precision".into(), json!(precision));
                    logical_type = Some("decimal");
                }
                "bytes"
            }
            SchemaType::Array => {
                let items = schema
                    .value_schema
                    .as_deref()
                    .ok_or("ARRAY schema without a value schema")?;
                let items = self.schema(items, false, depth + 1)?;
                let mut obj = JsonMap::new();
                obj.insert("type".into(), json!("array"));
                obj.insert("items".into(), items);
                return Ok(self.finish(obj, schema, props));
            }
            SchemaType::Map => {
                let ks = schema
                    .key_schema
                    .as_deref()
                    .ok_or("MAP schema without a key schema")?;
                let vs = schema
                    .value_schema
                    .as_deref()
                    .ok_or("MAP schema without a value schema")?;
                let mut obj = JsonMap::new();
                if ks.schema_type == SchemaType::String && !ks.optional {
                    obj.insert("type".into(), json!("map"));
                    obj.insert("values".into(), self.schema(vs, false, depth + 1)?);
                } else {
                    let key = self.schema(ks, false, depth + 1)?;
                    let value = self.schema(vs, false, depth + 1)?;
                    let entry = json!({
                        "type": "record",
                        "name": "MapEntry",
                        "namespace": props::NAMESPACE,
                        "fields": [
                            {"name": "key", "type": key},
                            {"name": "value", "type": value},
                        ],
                    });
                    let entry = self.named(props::MAP_ENTRY_NAME, entry)?;
                    obj.insert("type".into(), json!("array"));
                    obj.insert("items".into(), entry);
                }
                return Ok(self.finish(obj, schema, props));
            }
            SchemaType::Struct => return self.record(schema, depth),
        };
        let mut obj = JsonMap::new();
        obj.insert("type".into(), json!(ty));
        obj.extend(props);
        let mut out = self.finish(obj, schema, JsonMap::new());
        if let Json::Object(o) = &mut out {
            if let (Some(ct), true) = (connect_type, self.meta) {
                o.insert(props::CONNECT_TYPE.into(), json!(ct));
            }
            if let Some(lt) = logical_type {
                o.insert(props::LOGICAL_TYPE.into(), json!(lt));
            }
        }
        // A bare primitive is written as its name, as Avro's toString does.
        if let Json::Object(o) = &out {
            if o.len() == 1 {
                return Ok(o["type"].clone());
            }
        }
        Ok(out)
    }

    /// A STRING schema carrying Confluent's enum parameters.
    fn enum_schema(&mut self, schema: &Schema) -> Result<Option<Json>, String> {
        let Some(params) = schema.parameters.as_ref() else {
            return Ok(None);
        };
        let Some(enum_name) = params.get(props::ENUM_PARAM) else {
            return Ok(None);
        };
        let prefix = format!("{}.", props::ENUM_PARAM);
        let symbols: Vec<&String> = params
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(_, v)| v)
            .collect();
        let (ns, simple) = match enum_name.rsplit_once('.') {
            Some((ns, s)) => (Some(ns), s),
            None => (None, enum_name.as_str()),
        };
        let mut obj = JsonMap::new();
        obj.insert("type".into(), json!("enum"));
        obj.insert("name".into(), json!(simple));
        if let Some(ns) = ns {
            obj.insert("namespace".into(), json!(ns));
        }
        obj.insert("symbols".into(), json!(symbols));
        let def = self.finish(obj, schema, JsonMap::new());
        Ok(Some(self.named(enum_name, def)?))
    }

    fn record(&mut self, schema: &Schema, depth: usize) -> Result<Json, String> {
        let full = match &schema.name {
            Some(n) => n.clone(),
            None => {
                self.default_names += 1;
                if self.default_names == 1 {
                    props::DEFAULT_RECORD_NAME.to_owned()
                } else {
                    format!("{}{}", props::DEFAULT_RECORD_NAME, self.default_names)
                }
            }
        };
        let param = |k: &str| schema.parameters.as_ref().and_then(|p| p.get(k));
        let mut fields = Vec::with_capacity(schema.fields.len());
        for f in &schema.fields {
            let mut field = JsonMap::new();
            field.insert("name".into(), json!(f.name));
            field.insert("type".into(), self.schema(&f.schema, false, depth + 1)?);
            if let Some(doc) = param(&format!("{}{}", props::FIELD_DOC_PREFIX, f.name)) {
                field.insert("doc".into(), json!(doc));
            }
            match &f.schema.default {
                Some(d) if !d.is_null() => {
                    field.insert("default".into(), default_json(&f.schema, d)?);
                }
                _ if f.schema.optional => {
                    field.insert("default".into(), Json::Null);
                }
                _ => {}
            }
            fields.push(Json::Object(field));
        }
        let (ns, simple) = match full.rsplit_once('.') {
            Some((ns, s)) => (Some(ns), s),
            None => (None, full.as_str()),
        };
        let mut obj = JsonMap::new();
        obj.insert("type".into(), json!("record"));
        obj.insert("name".into(), json!(simple));
        if let Some(ns) = ns {
            obj.insert("namespace".into(), json!(ns));
        }
        if let Some(doc) = param(props::RECORD_DOC) {
            obj.insert("doc".into(), json!(doc));
        }
        obj.insert("fields".into(), Json::Array(fields));
        let def = self.finish(obj, schema, JsonMap::new());
        self.named(&full, def)
    }

    /// Adds the `connect.*` properties (Confluent's order: doc, version,
    /// parameters, default, name).
    fn finish(
        &self,
        mut obj: JsonMap<String, Json>,
        schema: &Schema,
        extra: JsonMap<String, Json>,
    ) -> Json {
        obj.extend(extra);
        if self.meta {
            if let Some(doc) = &schema.doc {
                obj.insert(props::CONNECT_DOC.into(), json!(doc));
            }
            if let Some(v) = schema.version {
                obj.insert(props::CONNECT_VERSION.into(), json!(v));
            }
            if let Some(p) = schema.parameters.as_ref().filter(|p| !p.is_empty()) {
                obj.insert(props::CONNECT_PARAMETERS.into(), json!(p));
            }
            let default_from_field = schema
                .parameters
                .as_ref()
                .is_some_and(|p| p.contains_key(props::FIELD_DEFAULT_FLAG));
            if let Some(d) = schema.default.as_ref().filter(|_| !default_from_field) {
                if !d.is_null() {
                    if let Ok(j) = default_json(schema, d) {
                        obj.insert(props::CONNECT_DEFAULT.into(), j);
                    }
                }
            }
            if let Some(n) = &schema.name {
                obj.insert(props::CONNECT_NAME.into(), json!(n));
            }
        }
        Json::Object(obj)
    }

    /// A named type's definition the first time, its name afterwards.
    fn named(&mut self, full: &str, def: Json) -> Result<Json, String> {
        match self.defined.get(full) {
            Some(existing) if *existing == def => Ok(json!(full)),
            Some(_) => Err(format!(
                "two different Connect schemas are both named {full}; Avro names must be unique"
            )),
            None => {
                self.defined.insert(full.to_owned(), def.clone());
                Ok(def)
            }
        }
    }
}

/// A Connect default as an Avro JSON default.
fn default_json(schema: &Schema, value: &Value) -> Result<Json, String> {
    Ok(match value {
        Value::Null => Json::Null,
        Value::Int8(v) => json!(v),
        Value::Int16(v) => json!(v),
        Value::Int32(v) | Value::Date(v) | Value::Time(v) => json!(v),
        Value::Int64(v) | Value::Timestamp(v) => json!(v),
        Value::Float32(v) => serde_json::Number::from_f64(f64::from(*v))
            .map(Json::Number)
            .ok_or("a non-finite float default has no Avro JSON form")?,
        Value::Float64(v) => serde_json::Number::from_f64(*v)
            .map(Json::Number)
            .ok_or("a non-finite double default has no Avro JSON form")?,
        Value::Boolean(v) => json!(v),
        Value::String(s) => json!(s),
        Value::Bytes(b) => json!(latin1(b)),
        Value::Decimal(d) => json!(latin1(&d.to_bytes())),
        Value::Array(items) => {
            let vs = schema
                .value_schema
                .as_deref()
                .ok_or("array without items")?;
            Json::Array(
                items
                    .iter()
                    .map(|i| default_json(vs, i))
                    .collect::<Result<_, _>>()?,
            )
        }
        Value::Map(entries) => {
            let ks = schema.key_schema.as_deref().ok_or("map without keys")?;
            let vs = schema.value_schema.as_deref().ok_or("map without values")?;
            if ks.schema_type == SchemaType::String && !ks.optional {
                let mut m = JsonMap::new();
                for (k, v) in entries {
                    let k = k.as_str().ok_or("map default with a non-string key")?;
                    m.insert(k.to_owned(), default_json(vs, v)?);
                }
                Json::Object(m)
            } else {
                Json::Array(
                    entries
                        .iter()
                        .map(|(k, v)| {
                            Ok(json!({"key": default_json(ks, k)?, "value": default_json(vs, v)?}))
                        })
                        .collect::<Result<_, String>>()?,
                )
            }
        }
        Value::Struct(s) => {
            let mut m = JsonMap::new();
            for f in &s.schema().fields {
                m.insert(
                    f.name.clone(),
                    default_json(&f.schema, s.get_by_index(f.index))?,
                );
            }
            Json::Object(m)
        }
    })
}

/// Avro's JSON form of bytes: one ISO-8859-1 character per byte.
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|b| char::from(*b)).collect()
}

fn from_latin1(s: &str) -> Result<Vec<u8>, String> {
    s.chars()
        .map(|c| {
            u8::try_from(u32::from(c))
                .map_err(|_| format!("bytes default {s:?} has a character above U+00FF"))
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Avro schema -> Connect schema
// ---------------------------------------------------------------------------

/// The Connect schema for an Avro (writer's) schema, as Confluent's
/// `AvroData.toConnectSchema` builds it.
pub fn connect_schema(avro: &AvroSchema) -> Result<SchemaRef, String> {
    let mut stack = Vec::new();
    to_connect(avro, avro.root, &mut stack)
}

/// Is this union `[null, T]` / `[T, null]`? Returns T.
fn optional_branch(avro: &AvroSchema, branches: &[NodeId]) -> Option<NodeId> {
    if branches.len() != 2 {
        return None;
    }
    match (&avro.node(branches[0]).kind, &avro.node(branches[1]).kind) {
        (Kind::Null, Kind::Null) => None,
        (Kind::Null, _) => Some(branches[1]),
        (_, Kind::Null) => Some(branches[0]),
        _ => None,
    }
}

fn is_map_entry(avro: &AvroSchema, id: NodeId) -> Option<(NodeId, NodeId)> {
    let node = avro.node(id);
    match &node.kind {
        Kind::Record { name, fields, .. }
            if name == props::MAP_ENTRY_NAME
                && fields.len() == 2
                && fields[0].name == "key"
                && fields[1].name == "value" =>
        {
            Some((fields[0].schema, fields[1].schema))
        }
        _ => None,
    }
}

/// Name of a union branch, used as the field name of Confluent's union struct.
fn branch_name(avro: &AvroSchema, id: NodeId) -> String {
    let node = avro.node(id);
    match &node.kind {
        Kind::Null => "null".into(),
        Kind::Boolean => "boolean".into(),
        Kind::Int => "int".into(),
        Kind::Long => "long".into(),
        Kind::Float => "float".into(),
        Kind::Double => "double".into(),
        Kind::Bytes => "bytes".into(),
        Kind::String => "string".into(),
        Kind::Array(_) => "array".into(),
        Kind::Map(_) => "map".into(),
        Kind::Union(_) => "union".into(),
        Kind::Record { name, .. } | Kind::Enum { name, .. } | Kind::Fixed { name, .. } => {
            name.rsplit('.').next().unwrap_or(name).to_owned()
        }
    }
}

fn to_connect(avro: &AvroSchema, id: NodeId, stack: &mut Vec<NodeId>) -> Result<SchemaRef, String> {
    if stack.contains(&id) {
        return Err(format!(
            "recursive Avro schemas cannot be converted to Connect schemas ({} refers to itself)",
            branch_name(avro, id)
        ));
    }
    if stack.len() > MAX_DEPTH {
        return Err(format!("Avro schema nested deeper than {MAX_DEPTH} levels"));
    }
    stack.push(id);
    let r = to_connect_inner(avro, id, stack);
    stack.pop();
    r
}

fn prop_str<'a>(node: &'a Node, key: &str) -> Option<&'a str> {
    node.props.get(key).and_then(Json::as_str)
}

fn to_connect_inner(
    avro: &AvroSchema,
    id: NodeId,
    stack: &mut Vec<NodeId>,
) -> Result<SchemaRef, String> {
    let node = avro.node(id);
    let logical_type = prop_str(node, props::LOGICAL_TYPE);
    let builder = match &node.kind {
        Kind::Null => return Err("the Avro null type alone has no Connect equivalent".into()),
        Kind::Boolean => SchemaBuilder::boolean(),
        Kind::Int => match prop_str(node, props::CONNECT_TYPE) {
            Some("int8") => SchemaBuilder::int8(),
            Some("int16") => SchemaBuilder::int16(),
            _ => match logical_type {
                Some("date") => SchemaBuilder::date(),
                Some("time-millis") => SchemaBuilder::time(),
                _ => SchemaBuilder::int32(),
            },
        },
        Kind::Long => match logical_type {
            Some("timestamp-millis") => SchemaBuilder::timestamp(),
            _ => SchemaBuilder::int64(),
        },
        Kind::Float => SchemaBuilder::float32(),
        Kind::Double => SchemaBuilder::float64(),
        Kind::String => SchemaBuilder::string(),
        Kind::Bytes | Kind::Fixed { .. } if logical_type == Some("decimal") => {
            let scale = node.props.get("scale").and_then(Json::as_i64).unwrap_or(0);
            let scale =
                i32::try_from(scale).map_err(|_| format!("decimal scale {scale} out of range"))?;
            let mut b = SchemaBuilder::decimal(scale);
            let precision = node.props.get("precision").and_then(Json::as_u64);
            if let Some(p) = precision {
                if p != u64::from(props::DECIMAL_PRECISION_DEFAULT) {
                    b = b.parameter(props::DECIMAL_PRECISION_PARAM, p.to_string());
                }
            }
            b
        }
        Kind::Bytes => SchemaBuilder::bytes(),
        Kind::Fixed { name, size } => SchemaBuilder::bytes()
            .name(name.clone())
            .parameter(props::FIXED_SIZE_PARAM, size.to_string()),
        Kind::Enum { name, symbols } => {
            let mut b = SchemaBuilder::string()
                .name(name.clone())
                .parameter(props::ENUM_PARAM, name.clone());
            for s in symbols {
                b = b.parameter(format!("{}.{s}", props::ENUM_PARAM), s.clone());
            }
            b
        }
        Kind::Array(items) => {
            if let Some((k, v)) = is_map_entry(avro, *items) {
                SchemaBuilder::map(to_connect(avro, k, stack)?, to_connect(avro, v, stack)?)
            } else {
                SchemaBuilder::array(to_connect(avro, *items, stack)?)
            }
        }
        Kind::Map(values) => SchemaBuilder::map(
            SchemaBuilder::string().build(),
            to_connect(avro, *values, stack)?,
        ),
        Kind::Union(branches) => {
            if let Some(inner) = optional_branch(avro, branches) {
                let s = to_connect(avro, inner, stack)?;
                let mut s = (*s).clone();
                s.optional = true;
                return Ok(Arc::new(s));
            }
            let mut b = SchemaBuilder::struct_().name(props::UNION_NAME);
            let mut has_null = false;
            for &br in branches {
                if matches!(avro.node(br).kind, Kind::Null) {
                    has_null = true;
                    continue;
                }
                let s = to_connect(avro, br, stack)?;
                let mut s = (*s).clone();
                s.optional = true;
                b = b.field(branch_name(avro, br), Arc::new(s));
            }
            if has_null {
                b = b.optional();
            }
            return Ok(b.build());
        }
        Kind::Record { name, doc, fields } => {
            let mut b = SchemaBuilder::struct_();
            let default_name = name.starts_with(props::DEFAULT_RECORD_NAME)
                && name[props::DEFAULT_RECORD_NAME.len()..]
                    .chars()
                    .all(|c| c.is_ascii_digit());
            if !default_name {
                b = b.name(name.clone());
            }
            // Avro docs travel as parameters; Connect's doc is connect.doc.
            if let Some(d) = doc {
                b = b.parameter(props::RECORD_DOC, d.clone());
            }
            for f in fields {
                if let Some(d) = &f.doc {
                    b = b.parameter(format!("{}{}", props::FIELD_DOC_PREFIX, f.name), d.clone());
                }
                let fs = to_connect(avro, f.schema, stack)?;
                let is_union = matches!(avro.node(f.schema).kind, Kind::Union(_));
                let fs = match &f.default {
                    // A field default wins over connect.default; one that only
                    // Avro knows is flagged, so writing does not add
                    // connect.default (as AvroData does).
                    Some(d) if !is_union && !d.is_null() => {
                        let v = json_to_value(&fs, d)
                            .map_err(|e| format!("default of field {}.{}: {e}", name, f.name))?;
                        let mut s = (*fs).clone();
                        if s.default.is_none() {
                            s.parameters
                                .get_or_insert_with(IndexMap::new)
                                .insert(props::FIELD_DEFAULT_FLAG.into(), "true".into());
                        }
                        s.default = Some(v);
                        Arc::new(s)
                    }
                    _ => fs,
                };
                b = b.field(f.name.clone(), fs);
            }
            b
        }
    };
    // connect.* properties override what the Avro type says.
    let mut schema = Arc::try_unwrap(builder.build()).unwrap_or_else(|a| (*a).clone());
    if let Some(n) = prop_str(node, props::CONNECT_NAME) {
        schema.name = Some(n.to_owned());
    }
    if let Some(v) = node
        .props
        .get(props::CONNECT_VERSION)
        .and_then(Json::as_i64)
    {
        schema.version =
            Some(i32::try_from(v).map_err(|_| format!("connect.version {v} out of range"))?);
    }
    if let Some(d) = prop_str(node, props::CONNECT_DOC) {
        schema.doc = Some(d.to_owned());
    }
    if let Some(params) = node
        .props
        .get(props::CONNECT_PARAMETERS)
        .and_then(Json::as_object)
    {
        // Parameters the Avro type implies (docs, enum symbols, precision)
        // come first, then connect.parameters, as AvroData adds them.
        let mut merged = schema.parameters.take().unwrap_or_default();
        for (k, v) in params {
            let v = match v {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            };
            merged.insert(k.clone(), v);
        }
        schema.parameters = Some(merged);
    }
    if let Some(d) = node.props.get(props::CONNECT_DEFAULT) {
        schema.default =
            Some(json_to_value(&schema, d).map_err(|e| format!("connect.default: {e}"))?);
    }
    Ok(Arc::new(schema))
}

/// An Avro JSON default (or `connect.default`) as a Connect value.
fn json_to_value(schema: &Schema, json: &Json) -> Result<Value, String> {
    if json.is_null() {
        return Ok(Value::Null);
    }
    let bad = || {
        format!(
            "{json} is not a valid default for a {} schema",
            schema.schema_type
        )
    };
    let int = || json.as_i64().ok_or_else(bad);
    Ok(match schema.schema_type {
        SchemaType::Int8 => Value::Int8(i8::try_from(int()?).map_err(|_| bad())?),
        SchemaType::Int16 => Value::Int16(i16::try_from(int()?).map_err(|_| bad())?),
        SchemaType::Int32 => {
            let v = i32::try_from(int()?).map_err(|_| bad())?;
            if schema.is_logical(logical::DATE) {
                Value::Date(v)
            } else if schema.is_logical(logical::TIME) {
                Value::Time(v)
            } else {
                Value::Int32(v)
            }
        }
        SchemaType::Int64 => {
            if schema.is_logical(logical::TIMESTAMP) {
                Value::Timestamp(int()?)
            } else {
                Value::Int64(int()?)
            }
        }
        SchemaType::Float32 => Value::Float32(json.as_f64().ok_or_else(bad)? as f32),
        SchemaType::Float64 => Value::Float64(json.as_f64().ok_or_else(bad)?),
        SchemaType::Boolean => Value::Boolean(json.as_bool().ok_or_else(bad)?),
        SchemaType::String => Value::String(json.as_str().ok_or_else(bad)?.to_owned()),
        SchemaType::Bytes => {
            let bytes = from_latin1(json.as_str().ok_or_else(bad)?)?;
            if schema.is_logical(logical::DECIMAL) {
                Value::Decimal(Decimal::from_bytes(
                    &bytes,
                    schema.decimal_scale().unwrap_or(0),
                ))
            } else {
                Value::Bytes(bytes)
            }
        }
        SchemaType::Array => {
            let vs = schema.value_schema.as_deref().ok_or_else(bad)?;
            Value::Array(
                json.as_array()
                    .ok_or_else(bad)?
                    .iter()
                    .map(|i| json_to_value(vs, i))
                    .collect::<Result<_, _>>()?,
            )
        }
        SchemaType::Map => {
            let ks = schema.key_schema.as_deref().ok_or_else(bad)?;
            let vs = schema.value_schema.as_deref().ok_or_else(bad)?;
            match json {
                Json::Object(m) => Value::Map(
                    m.iter()
                        .map(|(k, v)| Ok((Value::String(k.clone()), json_to_value(vs, v)?)))
                        .collect::<Result<_, String>>()?,
                ),
                Json::Array(entries) => Value::Map(
                    entries
                        .iter()
                        .map(|e| {
                            Ok((
                                json_to_value(ks, e.get("key").unwrap_or(&Json::Null))?,
                                json_to_value(vs, e.get("value").unwrap_or(&Json::Null))?,
                            ))
                        })
                        .collect::<Result<_, String>>()?,
                ),
                _ => return Err(bad()),
            }
        }
        SchemaType::Struct => {
            let obj = json.as_object().ok_or_else(bad)?;
            let schema_ref = Arc::new(schema.clone());
            let mut s = Struct::new(schema_ref);
            for f in &schema.fields {
                if let Some(v) = obj.get(&f.name) {
                    s.set(&f.name, json_to_value(&f.schema, v)?)
                        .map_err(|e| e.message)?;
                }
            }
            Value::Struct(s)
        }
    })
}

// ---------------------------------------------------------------------------
// Avro binary encoding
// ---------------------------------------------------------------------------

fn write_long(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn write_bytes(out: &mut Vec<u8>, b: &[u8]) {
    write_long(out, b.len() as i64);
    out.extend_from_slice(b);
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Int8(_) => "INT8",
        Value::Int16(_) => "INT16",
        Value::Int32(_) => "INT32",
        Value::Int64(_) => "INT64",
        Value::Float32(_) => "FLOAT32",
        Value::Float64(_) => "FLOAT64",
        Value::Boolean(_) => "BOOLEAN",
        Value::String(_) => "STRING",
        Value::Bytes(_) => "BYTES",
        Value::Array(_) => "ARRAY",
        Value::Map(_) => "MAP",
        Value::Struct(_) => "STRUCT",
        Value::Decimal(_) => "Decimal",
        Value::Date(_) => "Date",
        Value::Time(_) => "Time",
        Value::Timestamp(_) => "Timestamp",
    }
}

fn kind_name(k: &Kind) -> String {
    match k {
        Kind::Null => "null".into(),
        Kind::Boolean => "boolean".into(),
        Kind::Int => "int".into(),
        Kind::Long => "long".into(),
        Kind::Float => "float".into(),
        Kind::Double => "double".into(),
        Kind::Bytes => "bytes".into(),
        Kind::String => "string".into(),
        Kind::Record { name, .. } => format!("record {name}"),
        Kind::Enum { name, .. } => format!("enum {name}"),
        Kind::Array(_) => "array".into(),
        Kind::Map(_) => "map".into(),
        Kind::Union(_) => "union".into(),
        Kind::Fixed { name, .. } => format!("fixed {name}"),
    }
}

/// Writes `value` in Avro binary against the Avro schema node `id`.
pub fn encode(avro: &AvroSchema, value: &Value, out: &mut Vec<u8>) -> Result<(), String> {
    let mut path = String::new();
    write_value(avro, avro.root, value, out, &mut path, 0)
}

/// Does `value` belong in an Avro node of this kind (for picking a union
/// branch)? Exact matches only.
fn fits(avro: &AvroSchema, id: NodeId, value: &Value) -> bool {
    let node = avro.node(id);
    match (&node.kind, value) {
        (Kind::Null, Value::Null) => true,
        (Kind::Boolean, Value::Boolean(_)) => true,
        (
            Kind::Int,
            Value::Int8(_) | Value::Int16(_) | Value::Int32(_) | Value::Date(_) | Value::Time(_),
        ) => true,
        (Kind::Long, Value::Int64(_) | Value::Timestamp(_)) => true,
        (Kind::Float, Value::Float32(_)) => true,
        (Kind::Double, Value::Float64(_)) => true,
        (Kind::Bytes, Value::Bytes(_)) => prop_str(node, props::LOGICAL_TYPE) != Some("decimal"),
        (Kind::Bytes | Kind::Fixed { .. }, Value::Decimal(_)) => {
            prop_str(node, props::LOGICAL_TYPE) == Some("decimal")
        }
        (Kind::Fixed { size, .. }, Value::Bytes(b)) => b.len() == *size,
        (Kind::String, Value::String(_)) => true,
        (Kind::Enum { symbols, .. }, Value::String(s)) => symbols.contains(s),
        (Kind::Record { name, .. }, Value::Struct(s)) => match s.schema().name.as_deref() {
            Some(n) => n == name || prop_str(node, props::CONNECT_NAME) == Some(n),
            None => true,
        },
        (Kind::Array(items), Value::Map(_)) => is_map_entry(avro, *items).is_some(),
        (Kind::Array(_), Value::Array(_)) => true,
        (Kind::Map(_), Value::Map(_)) => true,
        _ => false,
    }
}

fn union_branch(avro: &AvroSchema, branches: &[NodeId], value: &Value) -> Option<(usize, Value)> {
    // Confluent's union struct: the one field that is set names the branch.
    if let Value::Struct(s) = value {
        if s.schema().name.as_deref() == Some(props::UNION_NAME) {
            for f in &s.schema().fields {
                let v = &s.raw_values()[f.index];
                if v.is_null() {
                    continue;
                }
                return branches
                    .iter()
                    .position(|&b| branch_name(avro, b) == f.name)
                    .map(|i| (i, v.clone()));
            }
            return branches
                .iter()
                .position(|&b| matches!(avro.node(b).kind, Kind::Null))
                .map(|i| (i, Value::Null));
        }
    }
    branches
        .iter()
        .position(|&b| fits(avro, b, value))
        .map(|i| (i, value.clone()))
}

fn write_value(
    avro: &AvroSchema,
    id: NodeId,
    value: &Value,
    out: &mut Vec<u8>,
    path: &mut String,
    depth: usize,
) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("value nested deeper than {MAX_DEPTH} levels"));
    }
    let node = avro.node(id);
    let mismatch = |path: &str| {
        format!(
            "{} value does not fit Avro type {}{}",
            type_name(value),
            kind_name(&node.kind),
            if path.is_empty() {
                String::new()
            } else {
                format!(" at {path}")
            }
        )
    };
    match (&node.kind, value) {
        (Kind::Null, Value::Null) => {}
        (Kind::Boolean, Value::Boolean(b)) => out.push(u8::from(*b)),
        (Kind::Int, Value::Int8(v)) => write_long(out, i64::from(*v)),
        (Kind::Int, Value::Int16(v)) => write_long(out, i64::from(*v)),
        (Kind::Int, Value::Int32(v) | Value::Date(v) | Value::Time(v)) => {
            write_long(out, i64::from(*v))
        }
        (Kind::Long, Value::Int8(v)) => write_long(out, i64::from(*v)),
        (Kind::Long, Value::Int16(v)) => write_long(out, i64::from(*v)),
        (Kind::Long, Value::Int32(v)) => write_long(out, i64::from(*v)),
        (Kind::Long, Value::Int64(v) | Value::Timestamp(v)) => write_long(out, *v),
        (Kind::Float, Value::Float32(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (Kind::Double, Value::Float32(v)) => out.extend_from_slice(&f64::from(*v).to_le_bytes()),
        (Kind::Double, Value::Float64(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (Kind::Bytes, Value::Bytes(b)) => write_bytes(out, b),
        (Kind::String, Value::String(s)) => write_bytes(out, s.as_bytes()),
        (Kind::Bytes | Kind::Fixed { .. }, Value::Decimal(d)) => {
            let scale = node.props.get("scale").and_then(Json::as_i64).unwrap_or(0);
            if i64::from(d.scale) != scale {
                return Err(format!(
                    "Decimal {d} has scale {} but its schema has scale {scale}{}",
                    d.scale,
                    if path.is_empty() {
                        String::new()
                    } else {
                        format!(" at {path}")
                    }
                ));
            }
            let bytes = d.to_bytes();
            match &node.kind {
                Kind::Fixed { size, .. } => {
                    if bytes.len() > *size {
                        return Err(format!("Decimal {d} does not fit in fixed({size})"));
                    }
                    // Sign-extend to the fixed size.
                    let pad = if d.unscaled.sign() == num_bigint::Sign::Minus {
                        0xFF
                    } else {
                        0
                    };
                    out.extend(std::iter::repeat_n(pad, size - bytes.len()));
                    out.extend_from_slice(&bytes);
                }
                _ => write_bytes(out, &bytes),
            }
        }
        (Kind::Fixed { size, .. }, Value::Bytes(b)) => {
            if b.len() != *size {
                return Err(format!(
                    "{} bytes do not fit Avro fixed({size}){}",
                    b.len(),
                    if path.is_empty() {
                        String::new()
                    } else {
                        format!(" at {path}")
                    }
                ));
            }
            out.extend_from_slice(b);
        }
        (Kind::Enum { symbols, .. }, Value::String(s)) => {
            let i = symbols
                .iter()
                .position(|x| x == s)
                .ok_or_else(|| format!("{s:?} is not a symbol of {}", kind_name(&node.kind)))?;
            write_long(out, i as i64);
        }
        (Kind::Array(items), Value::Map(entries)) if is_map_entry(avro, *items).is_some() => {
            let (k, v) = is_map_entry(avro, *items).unwrap_or_default();
            if !entries.is_empty() {
                write_long(out, entries.len() as i64);
                for (key, val) in entries {
                    write_value(avro, k, key, out, path, depth + 1)?;
                    write_value(avro, v, val, out, path, depth + 1)?;
                }
            }
            out.push(0);
        }
        (Kind::Array(items), Value::Array(vs)) => {
            if !vs.is_empty() {
                write_long(out, vs.len() as i64);
                for item in vs {
                    write_value(avro, *items, item, out, path, depth + 1)?;
                }
            }
            out.push(0);
        }
        (Kind::Map(values), Value::Map(entries)) => {
            if !entries.is_empty() {
                write_long(out, entries.len() as i64);
                for (key, val) in entries {
                    let k = key.as_str().ok_or_else(|| {
                        format!("Avro map keys must be strings, got {}", type_name(key))
                    })?;
                    write_bytes(out, k.as_bytes());
                    write_value(avro, *values, val, out, path, depth + 1)?;
                }
            }
            out.push(0);
        }
        (Kind::Union(branches), v) => {
            let (i, branch_value) =
                union_branch(avro, branches, v).ok_or_else(|| mismatch(path))?;
            write_long(out, i as i64);
            write_value(avro, branches[i], &branch_value, out, path, depth + 1)?;
        }
        (Kind::Record { fields, .. }, Value::Struct(s)) => {
            for f in fields {
                let field_value = s.get(&f.name).cloned().unwrap_or(Value::Null);
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&f.name);
                let r = write_value(avro, f.schema, &field_value, out, path, depth + 1);
                path.truncate(len);
                r?;
            }
        }
        _ => return Err(mismatch(path)),
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Avro binary decoding
// ---------------------------------------------------------------------------

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.remaining() {
            return Err(format!(
                "Avro data ends early: need {n} bytes at offset {}, {} left",
                self.pos,
                self.remaining()
            ));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn long(&mut self) -> Result<i64, String> {
        let mut z: u64 = 0;
        let mut shift = 0;
        loop {
            let b = *self.take(1)?.first().unwrap_or(&0);
            if shift == 63 && b > 1 {
                return Err("Avro varint longer than 64 bits".into());
            }
            z |= u64::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 63 {
                return Err("Avro varint longer than 64 bits".into());
            }
        }
        Ok(((z >> 1) as i64) ^ -((z & 1) as i64))
    }

    fn int(&mut self) -> Result<i32, String> {
        let v = self.long()?;
        i32::try_from(v).map_err(|_| format!("Avro int out of range: {v}"))
    }

    fn len(&mut self) -> Result<usize, String> {
        let n = self.long()?;
        usize::try_from(n).map_err(|_| format!("negative Avro length {n}"))
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = self.len()?;
        self.take(n)
    }

    /// The item count of the next array/map block (0 ends the sequence).
    /// `min_item` is the fewest bytes an item can take, to refuse counts
    /// the remaining data cannot hold.
    fn block(&mut self, min_item: usize) -> Result<usize, String> {
        let n = self.long()?;
        let count = if n < 0 {
            let _byte_size = self.long()?;
            n.checked_neg().ok_or("bad Avro block count")?
        } else {
            n
        };
        let count = usize::try_from(count).map_err(|_| "bad Avro block count".to_string())?;
        let limit = self.remaining().checked_div(min_item).unwrap_or(1 << 20);
        if count > limit {
            return Err(format!(
                "Avro block claims {count} items but only {} bytes are left",
                self.remaining()
            ));
        }
        Ok(count)
    }
}

/// Fewest bytes a value of this node takes (0 for null and empty records).
fn min_size(avro: &AvroSchema, id: NodeId, depth: usize) -> usize {
    if depth > 8 {
        return 0;
    }
    match &avro.node(id).kind {
        Kind::Null => 0,
        Kind::Float => 4,
        Kind::Double => 8,
        Kind::Fixed { size, .. } => *size,
        Kind::Record { fields, .. } => fields
            .iter()
            .map(|f| min_size(avro, f.schema, depth + 1))
            .sum::<usize>(),
        _ => 1,
    }
}

/// Reads one value of Avro node `id` into a value of Connect schema
/// `schema` (the one [`connect_schema`] derived from the same node).
pub fn decode(avro: &AvroSchema, schema: &SchemaRef, data: &[u8]) -> Result<Value, String> {
    let mut r = Reader { buf: data, pos: 0 };
    read_value(avro, avro.root, schema, &mut r, 0)
}

fn read_value(
    avro: &AvroSchema,
    id: NodeId,
    schema: &SchemaRef,
    r: &mut Reader<'_>,
    depth: usize,
) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!("Avro data nested deeper than {MAX_DEPTH} levels"));
    }
    let node = avro.node(id);
    let range = |v: i32, what: &str| format!("{v} is out of range for {what}");
    Ok(match &node.kind {
        Kind::Null => Value::Null,
        Kind::Boolean => match r.take(1)?[0] {
            0 => Value::Boolean(false),
            1 => Value::Boolean(true),
            b => return Err(format!("invalid Avro boolean byte {b}")),
        },
        Kind::Int => {
            let v = r.int()?;
            match schema.schema_type {
                SchemaType::Int8 => Value::Int8(i8::try_from(v).map_err(|_| range(v, "INT8"))?),
                SchemaType::Int16 => Value::Int16(i16::try_from(v).map_err(|_| range(v, "INT16"))?),
                _ if schema.is_logical(logical::DATE) => Value::Date(v),
                _ if schema.is_logical(logical::TIME) => Value::Time(v),
                _ => Value::Int32(v),
            }
        }
        Kind::Long => {
            let v = r.long()?;
            if schema.is_logical(logical::TIMESTAMP) {
                Value::Timestamp(v)
            } else {
                Value::Int64(v)
            }
        }
        Kind::Float => {
            let b = r.take(4)?;
            Value::Float32(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        }
        Kind::Double => {
            let b = r.take(8)?;
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            Value::Float64(f64::from_le_bytes(a))
        }
        Kind::String => {
            let b = r.bytes()?;
            Value::String(
                std::str::from_utf8(b)
                    .map_err(|e| format!("Avro string is not UTF-8: {e}"))?
                    .to_owned(),
            )
        }
        Kind::Bytes | Kind::Fixed { .. } => {
            let b = match &node.kind {
                Kind::Fixed { size, .. } => r.take(*size)?,
                _ => r.bytes()?,
            };
            if schema.is_logical(logical::DECIMAL) {
                Value::Decimal(Decimal::from_bytes(b, schema.decimal_scale().unwrap_or(0)))
            } else {
                Value::Bytes(b.to_vec())
            }
        }
        Kind::Enum { symbols, name } => {
            let i = r.long()?;
            let s = usize::try_from(i)
                .ok()
                .and_then(|i| symbols.get(i))
                .ok_or_else(|| format!("enum {name} has no symbol number {i}"))?;
            Value::String(s.clone())
        }
        Kind::Array(items) => {
            if let Some((k, v)) = is_map_entry(avro, *items) {
                let ks = schema
                    .key_schema
                    .as_ref()
                    .ok_or("map schema without keys")?;
                let vs = schema
                    .value_schema
                    .as_ref()
                    .ok_or("map schema without values")?;
                let min = min_size(avro, *items, 0);
                let mut entries = Vec::new();
                loop {
                    let n = r.block(min)?;
                    if n == 0 {
                        break;
                    }
                    for _ in 0..n {
                        let key = read_value(avro, k, ks, r, depth + 1)?;
                        let val = read_value(avro, v, vs, r, depth + 1)?;
                        entries.push((key, val));
                    }
                }
                Value::Map(entries)
            } else {
                let vs = schema
                    .value_schema
                    .as_ref()
                    .ok_or("array schema without items")?;
                let min = min_size(avro, *items, 0);
                let mut out = Vec::new();
                loop {
                    let n = r.block(min)?;
                    if n == 0 {
                        break;
                    }
                    for _ in 0..n {
                        out.push(read_value(avro, *items, vs, r, depth + 1)?);
                    }
                }
                Value::Array(out)
            }
        }
        Kind::Map(values) => {
            let vs = schema
                .value_schema
                .as_ref()
                .ok_or("map schema without values")?;
            let mut entries = Vec::new();
            loop {
                let n = r.block(1)?;
                if n == 0 {
                    break;
                }
                for _ in 0..n {
                    let k = r.bytes()?;
                    let k = std::str::from_utf8(k)
                        .map_err(|e| format!("Avro map key is not UTF-8: {e}"))?
                        .to_owned();
                    let v = read_value(avro, *values, vs, r, depth + 1)?;
                    entries.push((Value::String(k), v));
                }
            }
            Value::Map(entries)
        }
        Kind::Union(branches) => {
            let i = r.long()?;
            let b = usize::try_from(i)
                .ok()
                .and_then(|i| branches.get(i))
                .copied()
                .ok_or_else(|| format!("union has no branch number {i}"))?;
            if matches!(avro.node(b).kind, Kind::Null) {
                return Ok(Value::Null);
            }
            if optional_branch(avro, branches).is_some() {
                read_value(avro, b, schema, r, depth + 1)?
            } else {
                let name = branch_name(avro, b);
                let field = schema
                    .field(&name)
                    .ok_or_else(|| format!("union struct has no field {name}"))?;
                let v = read_value(avro, b, &field.schema, r, depth + 1)?;
                let mut s = Struct::new(schema.clone());
                s.set(&name, v).map_err(|e| e.message)?;
                Value::Struct(s)
            }
        }
        Kind::Record { fields, .. } => {
            let mut s = Struct::new(schema.clone());
            for (f, cf) in fields.iter().zip(&schema.fields) {
                let v = read_value(avro, f.schema, &cf.schema, r, depth + 1)?;
                s.set(&cf.name, v).map_err(|e| e.message)?;
            }
            Value::Struct(s)
        }
    })
}

// ---------------------------------------------------------------------------
// The converter
// ---------------------------------------------------------------------------

/// A Connect schema made ready for writing.
struct Prepared {
    text: Arc<str>,
    avro: Arc<AvroSchema>,
}

/// A writer's schema made ready for reading.
struct ReaderSchema {
    text: Arc<str>,
    avro: AvroSchema,
    connect: SchemaRef,
}

/// Connect data to Confluent-framed Avro and back; see the module docs.
pub struct AvroConverter {
    is_key: bool,
    registry: SchemaRegistryClient,
    auto_register: bool,
    use_latest: bool,
    normalize: bool,
    meta: bool,
    enhanced: bool,
    strategy: SubjectNameStrategy,
    cache_size: usize,
    /// Connect schema (by address; the entry keeps the `Arc` alive so the
    /// address is not reused) → prepared Avro schema.
    by_connect: Mutex<HashMap<usize, (SchemaRef, Arc<Prepared>)>>,
    /// Avro JSON text → parsed schema (for schemas rebuilt per record).
    by_text: Mutex<HashMap<Arc<str>, Arc<AvroSchema>>>,
    /// Schema id → reader schema.
    by_id: Mutex<HashMap<i32, Arc<ReaderSchema>>>,
    /// (topic, schema id) → the Connect schema with the subject's version.
    versioned: Mutex<HashMap<(String, i32), SchemaRef>>,
}

impl std::fmt::Debug for AvroConverter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AvroConverter")
            .field("is_key", &self.is_key)
            .field("registry", &self.registry)
            .field("auto_register", &self.auto_register)
            .field("use_latest", &self.use_latest)
            .field("strategy", &self.strategy)
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn bounded_insert<K: std::hash::Hash + Eq, V>(m: &Mutex<HashMap<K, V>>, k: K, v: V, cap: usize) {
    if cap == 0 {
        return;
    }
    let mut map = lock(m);
    if map.len() >= cap {
        map.clear();
    }
    map.insert(k, v);
}

/// [`crate::connect::Config`]'s getters with the error as the message
/// [`AvroConverter::configure`] returns.
struct Getters<'a>(&'a crate::connect::Config);

impl Getters<'_> {
    fn string(&self, key: &str) -> Result<Option<String>, String> {
        self.0.string(key).map_err(|e| e.message)
    }
    fn int(&self, key: &str) -> Result<i32, String> {
        self.0.int(key).map_err(|e| e.message)
    }
    fn boolean(&self, key: &str) -> Result<bool, String> {
        self.0.boolean(key).map_err(|e| e.message)
    }
    fn list(&self, key: &str) -> Result<Vec<String>, String> {
        self.0.list(key).map_err(|e| e.message)
    }
}

impl AvroConverter {
    /// Configures a converter from its settings (the `key.converter.` /
    /// `value.converter.` prefix already removed).
    pub fn configure(settings: &Props, is_key: bool) -> Result<AvroConverter, String> {
        let config = config_def().parse(settings).map_err(|e| e.message)?;
        let tls = super::schema_registry::tls_settings(settings)?;
        let strategy_key = if is_key {
            KEY_SUBJECT_NAME_STRATEGY_CONFIG
        } else {
            VALUE_SUBJECT_NAME_STRATEGY_CONFIG
        };
        // Every key read below is declared; a bad value names its key.
        let config = Getters(&config);
        let strategy_class = config.string(strategy_key)?.unwrap_or_default();
        let strategy = SubjectNameStrategy::from_class(&strategy_class).ok_or_else(|| {
            format!(
                "Invalid value {strategy_class} for configuration {strategy_key}: expected one of {TOPIC_NAME_STRATEGY}, {RECORD_NAME_STRATEGY}, {TOPIC_RECORD_NAME_STRATEGY}"
            )
        })?;
        let source = config
            .string(BASIC_AUTH_CREDENTIALS_SOURCE_CONFIG)?
            .unwrap_or_default()
            .trim()
            .to_ascii_uppercase();
        let user_info = match source.as_str() {
            "USER_INFO" => {
                let fallback = config
                    .string(SR_BASIC_AUTH_USER_INFO_CONFIG)?
                    .filter(|s| !s.is_empty());
                let ui = config
                    .string(BASIC_AUTH_USER_INFO_CONFIG)?
                    .filter(|s| !s.is_empty())
                    .or(fallback)
                    .ok_or_else(|| {
                        format!("{BASIC_AUTH_CREDENTIALS_SOURCE_CONFIG}=USER_INFO needs {BASIC_AUTH_USER_INFO_CONFIG}")
                    })?;
                Some(ui)
            }
            "SASL_INHERIT" => {
                return Err(format!(
                    "{BASIC_AUTH_CREDENTIALS_SOURCE_CONFIG}=SASL_INHERIT is not supported; use USER_INFO or URL"
                ))
            }
            _ => None,
        };
        let ms = |k: &str| -> Result<Duration, String> {
            Ok(Duration::from_millis(
                u64::try_from(config.int(k)?).unwrap_or(0),
            ))
        };
        let mut rc = RegistryConfig::new(config.list(SCHEMA_REGISTRY_URL_CONFIG)?);
        rc.user_info = user_info;
        rc.tls = tls;
        rc.max_retries = u32::try_from(config.int(MAX_RETRIES_CONFIG)?).unwrap_or(0);
        rc.retry_wait = ms(RETRIES_WAIT_MS_CONFIG)?;
        rc.retry_max_wait = ms(RETRIES_MAX_WAIT_MS_CONFIG)?;
        rc.connect_timeout = ms(HTTP_CONNECT_TIMEOUT_MS_CONFIG)?;
        rc.read_timeout = ms(HTTP_READ_TIMEOUT_MS_CONFIG)?;
        rc.cache_capacity =
            usize::try_from(config.int(MAX_SCHEMAS_PER_SUBJECT_CONFIG)?).unwrap_or(0);
        let registry = SchemaRegistryClient::new(rc).map_err(|e| e.to_string())?;
        Ok(AvroConverter {
            is_key,
            registry,
            auto_register: config.boolean(AUTO_REGISTER_SCHEMAS_CONFIG)?,
            use_latest: config.boolean(USE_LATEST_VERSION_CONFIG)?,
            normalize: config.boolean(NORMALIZE_SCHEMAS_CONFIG)?,
            meta: config.boolean(CONNECT_META_DATA_CONFIG)?,
            enhanced: config.boolean(ENHANCED_AVRO_SCHEMA_SUPPORT_CONFIG)?,
            strategy,
            cache_size: usize::try_from(config.int(SCHEMAS_CACHE_CONFIG)?).unwrap_or(0),
            by_connect: Mutex::new(HashMap::new()),
            by_text: Mutex::new(HashMap::new()),
            by_id: Mutex::new(HashMap::new()),
            versioned: Mutex::new(HashMap::new()),
        })
    }

    fn what(&self) -> &'static str {
        if self.is_key {
            "key"
        } else {
            "value"
        }
    }

    /// The Avro schema for a Connect schema (cached).
    fn prepare(&self, schema: &SchemaRef) -> Result<Arc<Prepared>, String> {
        let key = Arc::as_ptr(schema) as usize;
        if let Some((cached, p)) = lock(&self.by_connect).get(&key) {
            if Arc::ptr_eq(cached, schema) {
                return Ok(p.clone());
            }
        }
        let json = avro_schema_json_with(schema, self.meta, self.enhanced)?;
        let text: Arc<str> = Arc::from(json.to_string());
        let avro = self.parse_cached(&text, Some(&json))?;
        let p = Arc::new(Prepared { text, avro });
        bounded_insert(
            &self.by_connect,
            key,
            (schema.clone(), p.clone()),
            self.cache_size,
        );
        Ok(p)
    }

    fn parse_cached(
        &self,
        text: &Arc<str>,
        json: Option<&Json>,
    ) -> Result<Arc<AvroSchema>, String> {
        if let Some(a) = lock(&self.by_text).get(text) {
            return Ok(a.clone());
        }
        let avro = Arc::new(match json {
            Some(j) => AvroSchema::from_json(j)?,
            None => AvroSchema::parse(text)?,
        });
        bounded_insert(&self.by_text, text.clone(), avro.clone(), self.cache_size);
        Ok(avro)
    }

    fn reader_schema(&self, id: i32) -> Result<Arc<ReaderSchema>, ConverterError> {
        if let Some(r) = lock(&self.by_id).get(&id) {
            return Ok(r.clone());
        }
        let text = self.registry.schema_by_id(id).map_err(|e| {
            ConverterError::new(format!(
                "Error retrieving Avro {} schema for id {id}: {e}",
                self.what()
            ))
        })?;
        let avro = AvroSchema::parse(&text).map_err(|e| {
            ConverterError::new(format!(
                "Avro schema {id} from the registry is invalid: {e}"
            ))
        })?;
        let connect = connect_schema(&avro).map_err(|e| {
            ConverterError::new(format!("Avro schema {id} has no Connect equivalent: {e}"))
        })?;
        let r = Arc::new(ReaderSchema {
            text,
            avro,
            connect,
        });
        bounded_insert(&self.by_id, id, r.clone(), self.cache_size);
        Ok(r)
    }

    /// The reader's Connect schema with, where the writer set no
    /// `connect.version`, the version the schema has under this topic's
    /// subject (as Confluent's converter reports it). A schema the subject
    /// does not hold (written under another subject name strategy) keeps no
    /// version; Confluent fails such a record instead.
    fn versioned_schema(
        &self,
        topic: &str,
        id: i32,
        reader: &ReaderSchema,
    ) -> Result<SchemaRef, ConverterError> {
        if reader.connect.version.is_some() {
            return Ok(reader.connect.clone());
        }
        let key = (topic.to_owned(), id);
        if let Some(s) = lock(&self.versioned).get(&key) {
            return Ok(s.clone());
        }
        let Ok(subject) = self
            .strategy
            .subject(topic, self.is_key, reader.avro.name())
        else {
            return Ok(reader.connect.clone());
        };
        let version = match self.registry.lookup(&subject, &reader.text, false) {
            Ok(found) => found.version,
            Err(e) if e.is_not_found() => None,
            Err(e) => {
                return Err(registry_failure(
                    self.what(),
                    "retrieving the version of the",
                    &subject,
                    e,
                ))
            }
        };
        let schema = match version {
            Some(v) => {
                let mut s = (*reader.connect).clone();
                s.version = Some(v);
                Arc::new(s)
            }
            None => reader.connect.clone(),
        };
        bounded_insert(&self.versioned, key, schema.clone(), self.cache_size);
        Ok(schema)
    }
}

fn registry_failure(what: &str, action: &str, subject: &str, e: RegistryError) -> ConverterError {
    ConverterError::new(format!(
        "Error {action} Avro {what} schema for subject {subject}: {e}"
    ))
}

impl Converter for AvroConverter {
    fn from_connect(
        &self,
        topic: &str,
        schema: Option<&SchemaRef>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, ConverterError> {
        if value.is_null() {
            return Ok(None);
        }
        let schema = schema.ok_or_else(|| {
            ConverterError::new(format!(
                "AvroConverter needs a schema: the {} for topic {topic} has none (schemaless data is not supported)",
                self.what()
            ))
        })?;
        let fail = |e: String| {
            ConverterError::new(format!(
                "Converting Kafka Connect data to byte[] failed due to serialization error of topic {topic}: {e}"
            ))
        };
        let prepared = self.prepare(schema).map_err(fail)?;
        let subject = self
            .strategy
            .subject(topic, self.is_key, prepared.avro.name())
            .map_err(fail)?;
        let (id, writer) = if self.use_latest && !self.auto_register {
            let latest = self
                .registry
                .latest(&subject)
                .map_err(|e| registry_failure(self.what(), "retrieving the latest", &subject, e))?;
            let avro = self.parse_cached(&latest.schema, None).map_err(fail)?;
            (latest.id, avro)
        } else if self.auto_register {
            let id = self
                .registry
                .register(&subject, &prepared.text, self.normalize)
                .map_err(|e| registry_failure(self.what(), "registering", &subject, e))?;
            (id, prepared.avro.clone())
        } else {
            let found = self
                .registry
                .lookup(&subject, &prepared.text, self.normalize)
                .map_err(|e| registry_failure(self.what(), "looking up", &subject, e))?;
            (found.id, prepared.avro.clone())
        };
        let mut out = Vec::with_capacity(64);
        out.push(0);
        out.extend_from_slice(&id.to_be_bytes());
        encode(&writer, value, &mut out).map_err(fail)?;
        Ok(Some(out))
    }

    fn to_connect(
        &self,
        topic: &str,
        bytes: Option<&[u8]>,
    ) -> Result<SchemaAndValue, ConverterError> {
        let Some(bytes) = bytes else {
            return Ok(SchemaAndValue::null());
        };
        let fail = |e: String| {
            ConverterError::new(format!(
                "Converting byte[] to Kafka Connect data failed due to serialization error of topic {topic}: {e}"
            ))
        };
        if bytes.len() < 5 || bytes[0] != 0 {
            return Err(fail(format!(
                "Unknown magic byte! (expected Confluent framing: 0, a 4-byte schema id, then Avro; got {})",
                hex_prefix(bytes)
            )));
        }
        let id = i32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
        let reader = self.reader_schema(id)?;
        let schema = self.versioned_schema(topic, id, &reader)?;
        let value = decode(&reader.avro, &schema, &bytes[5..])
            .map_err(|e| fail(format!("schema id {id}: {e}")))?;
        Ok(SchemaAndValue {
            schema: Some(schema),
            value,
        })
    }
}

fn hex_prefix(bytes: &[u8]) -> String {
    let mut s = String::new();
    for b in bytes.iter().take(8) {
        let _ = write!(s, "{b:02x}");
    }
    if bytes.len() > 8 {
        s.push('…');
    }
    if s.is_empty() {
        s.push_str("no bytes");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::config::props_of;
    use proptest::prelude::*;

    fn avro_of(schema: &Schema) -> AvroSchema {
        AvroSchema::from_json(&avro_schema_json(schema, true).unwrap()).unwrap()
    }

    fn round_trip_schema(schema: &SchemaRef) -> SchemaRef {
        let json = avro_schema_json(schema, true).unwrap();
        // Through text, as the registry hands it back.
        let avro = AvroSchema::parse(&json.to_string()).unwrap();
        connect_schema(&avro).unwrap()
    }

    fn round_trip_value(schema: &SchemaRef, value: &Value) -> (SchemaRef, Value) {
        let avro = avro_of(schema);
        let mut bytes = Vec::new();
        encode(&avro, value, &mut bytes).unwrap();
        let back = connect_schema(&avro).unwrap();
        let v = decode(&avro, &back, &bytes).unwrap();
        (back, v)
    }

    fn everything_schema() -> SchemaRef {
        let address = SchemaBuilder::struct_()
            .name("com.example.Address")
            .doc("where")
            .field("street", SchemaBuilder::string().build())
            .field("zip", SchemaBuilder::int32().optional().build())
            .build();
        SchemaBuilder::struct_()
            .name("com.example.Everything")
            .version(3)
            .parameter("owner", "team-a")
            .field("i8", SchemaBuilder::int8().build())
            .field("i16", SchemaBuilder::int16().build())
            .field("i32", SchemaBuilder::int32().build())
            .field("i64", SchemaBuilder::int64().build())
            .field("f32", SchemaBuilder::float32().build())
            .field("f64", SchemaBuilder::float64().build())
            .field("bool", SchemaBuilder::boolean().build())
            .field("str", SchemaBuilder::string().doc("a string").build())
            .field("bytes", SchemaBuilder::bytes().build())
            .field("opt_str", SchemaBuilder::string().optional().build())
            .field(
                "opt_default",
                SchemaBuilder::int32()
                    .optional()
                    .default_value(Value::Int32(42))
                    .build(),
            )
            .field(
                "req_default",
                SchemaBuilder::string()
                    .default_value(Value::from("dflt"))
                    .build(),
            )
            .field("dec", SchemaBuilder::decimal(2).build())
            .field(
                "dec_p",
                SchemaBuilder::decimal(4)
                    .parameter(props::DECIMAL_PRECISION_PARAM, "10")
                    .optional()
                    .build(),
            )
            .field("date", SchemaBuilder::date().build())
            .field("time", SchemaBuilder::time().build())
            .field("ts", SchemaBuilder::timestamp().optional().build())
            .field(
                "list",
                SchemaBuilder::array(SchemaBuilder::int64().optional().build()).build(),
            )
            .field(
                "smap",
                SchemaBuilder::map(
                    SchemaBuilder::string().build(),
                    SchemaBuilder::float64().build(),
                )
                .build(),
            )
            .field(
                "imap",
                SchemaBuilder::map(
                    SchemaBuilder::int32().build(),
                    SchemaBuilder::string().optional().build(),
                )
                .optional()
                .build(),
            )
            .field("home", address.clone())
            .field(
                "work",
                SchemaBuilder::struct_()
                    .name("com.example.Address")
                    .doc("where")
                    .field("street", SchemaBuilder::string().build())
                    .field("zip", SchemaBuilder::int32().optional().build())
                    .optional()
                    .build(),
            )
            .field(
                "anon",
                SchemaBuilder::struct_()
                    .field("x", SchemaBuilder::int32().build())
                    .build(),
            )
            .field(
                "anon2",
                SchemaBuilder::struct_()
                    .field("y", SchemaBuilder::string().build())
                    .optional()
                    .build(),
            )
            .build()
    }

    fn everything_value(schema: &SchemaRef) -> Value {
        let f = |n: &str| schema.field(n).unwrap().schema.clone();
        let addr = |street: &str, zip: Option<i32>| {
            Struct::new(f("home"))
                .put("street", street)
                .unwrap()
                .put("zip", zip)
                .unwrap()
        };
        let work_schema = f("work");
        let work = Struct::new(work_schema)
            .put("street", "Main St")
            .unwrap()
            .put("zip", Value::Null)
            .unwrap();
        Struct::new(schema.clone())
            .put("i8", -8i8)
            .unwrap()
            .put("i16", 1600i16)
            .unwrap()
            .put("i32", -32i32)
            .unwrap()
            .put("i64", i64::MIN)
            .unwrap()
            .put("f32", 1.5f32)
            .unwrap()
            .put("f64", -2.25e300f64)
            .unwrap()
            .put("bool", true)
            .unwrap()
            .put("str", "héllo ✓")
            .unwrap()
            .put("bytes", vec![0u8, 1, 255])
            .unwrap()
            .put("opt_str", Value::Null)
            .unwrap()
            .put("opt_default", Value::Int32(7))
            .unwrap()
            .put("req_default", "given")
            .unwrap()
            .put("dec", Decimal::parse("-12345.67").unwrap())
            .unwrap()
            .put("dec_p", Decimal::parse("3.1416").unwrap())
            .unwrap()
            .put("date", Value::Date(19_000))
            .unwrap()
            .put("time", Value::Time(86_399_999))
            .unwrap()
            .put("ts", Value::Timestamp(1_700_000_000_123))
            .unwrap()
            .put(
                "list",
                Value::Array(vec![Value::Int64(1), Value::Null, Value::Int64(-3)]),
            )
            .unwrap()
            .put(
                "smap",
                Value::Map(vec![
                    (Value::from("a"), Value::Float64(1.0)),
                    (Value::from("b"), Value::Float64(-0.5)),
                ]),
            )
            .unwrap()
            .put(
                "imap",
                Value::Map(vec![
                    (Value::Int32(1), Value::from("one")),
                    (Value::Int32(2), Value::Null),
                ]),
            )
            .unwrap()
            .put("home", addr("Elm St", Some(12345)))
            .unwrap()
            .put("work", work)
            .unwrap()
            .put("anon", Struct::new(f("anon")).put("x", 5i32).unwrap())
            .unwrap()
            .put("anon2", Value::Null)
            .unwrap()
            .into()
    }

    #[test]
    fn avro_schema_has_confluent_shape() {
        let schema = SchemaBuilder::struct_()
            .name("dev.kconnect.datagen.Order")
            .field("id", SchemaBuilder::int64().build())
            .field("small", SchemaBuilder::int8().build())
            .field("note", SchemaBuilder::string().optional().build())
            .field("price", SchemaBuilder::decimal(2).build())
            .field("day", SchemaBuilder::date().build())
            .field("at", SchemaBuilder::time().build())
            .field("created_at", SchemaBuilder::timestamp().build())
            .build();
        let json = avro_schema_json(&schema, true).unwrap();
        assert_eq!(
            json,
            json!({
                "type": "record",
                "name": "Order",
                "namespace": "dev.kconnect.datagen",
                "fields": [
                    {"name": "id", "type": "long"},
                    {"name": "small", "type": {"type": "int", "connect.type": "int8"}},
                    {"name": "note", "type": ["null", "string"], "default": null},
                    {"name": "price", "type": {
                        "type": "bytes", "scale": 2, "precision": 64,
                        "connect.version": 1,
                        "connect.parameters": {"scale": "2"},
                        "connect.name": "org.apache.kafka.connect.data.Decimal",
                        "logicalType": "decimal"}},
                    {"name": "day", "type": {"type": "int", "connect.version": 1,
                        "connect.name": "org.apache.kafka.connect.data.Date", "logicalType": "date"}},
                    {"name": "at", "type": {"type": "int", "connect.version": 1,
                        "connect.name": "org.apache.kafka.connect.data.Time", "logicalType": "time-millis"}},
                    {"name": "created_at", "type": {"type": "long", "connect.version": 1,
                        "connect.name": "org.apache.kafka.connect.data.Timestamp",
                        "logicalType": "timestamp-millis"}},
                ],
                "connect.name": "dev.kconnect.datagen.Order",
            })
        );
        // Without connect.meta.data only what Avro itself needs remains
        // (INT8 is then a plain int, as in AvroData).
        let plain = avro_schema_json(&schema, false).unwrap();
        assert_eq!(plain["fields"][1]["type"], json!("int"));
        assert!(plain.get("connect.name").is_none());
        // Primitives alone are their bare names.
        assert_eq!(
            avro_schema_json(&SchemaBuilder::int64().build(), true).unwrap(),
            json!("long")
        );
        assert_eq!(
            avro_schema_json(&SchemaBuilder::string().optional().build(), true).unwrap(),
            json!(["null", "string"])
        );
    }

    #[test]
    fn optional_with_default_puts_the_type_first() {
        let s = SchemaBuilder::struct_()
            .field(
                "n",
                SchemaBuilder::int32()
                    .optional()
                    .default_value(Value::Int32(5))
                    .build(),
            )
            .build();
        let json = avro_schema_json(&s, true).unwrap();
        assert_eq!(json["name"], json!("ConnectDefault"));
        assert_eq!(json["namespace"], json!("io.confluent.connect.avro"));
        assert_eq!(
            json["fields"][0],
            json!({"name": "n", "type": [{"type": "int", "connect.default": 5}, "null"], "default": 5})
        );
    }

    #[test]
    fn maps_with_non_string_keys_are_arrays_of_map_entries() {
        let s = SchemaBuilder::map(
            SchemaBuilder::int32().build(),
            SchemaBuilder::string().build(),
        )
        .build();
        assert_eq!(
            avro_schema_json(&s, true).unwrap(),
            json!({"type": "array", "items": {
                "type": "record", "name": "MapEntry", "namespace": "io.confluent.connect.avro",
                "fields": [{"name": "key", "type": "int"}, {"name": "value", "type": "string"}]}})
        );
    }

    #[test]
    fn every_type_round_trips_connect_avro_connect() {
        let cases: Vec<SchemaRef> = vec![
            SchemaBuilder::int8().build(),
            SchemaBuilder::int16().optional().build(),
            SchemaBuilder::int32().doc("d").version(2).build(),
            SchemaBuilder::int64()
                .name("my.Long")
                .parameter("k", "v")
                .build(),
            SchemaBuilder::float32().build(),
            SchemaBuilder::float64().optional().build(),
            SchemaBuilder::boolean()
                .default_value(Value::Boolean(true))
                .build(),
            SchemaBuilder::string().build(),
            SchemaBuilder::bytes().optional().build(),
            SchemaBuilder::decimal(0).build(),
            SchemaBuilder::decimal(5)
                .parameter(props::DECIMAL_PRECISION_PARAM, "12")
                .build(),
            SchemaBuilder::date().optional().build(),
            SchemaBuilder::time().build(),
            SchemaBuilder::timestamp().build(),
            SchemaBuilder::array(SchemaBuilder::string().build()).build(),
            SchemaBuilder::map(
                SchemaBuilder::string().build(),
                SchemaBuilder::int32().build(),
            )
            .build(),
            SchemaBuilder::map(
                SchemaBuilder::string().optional().build(),
                SchemaBuilder::int32().build(),
            )
            .build(),
            SchemaBuilder::map(
                SchemaBuilder::int64().build(),
                SchemaBuilder::decimal(1).build(),
            )
            .build(),
            SchemaBuilder::string()
                .name("com.example.Suit")
                .parameter(props::ENUM_PARAM, "com.example.Suit")
                .parameter(format!("{}.HEARTS", props::ENUM_PARAM), "HEARTS")
                .parameter(format!("{}.SPADES", props::ENUM_PARAM), "SPADES")
                .build(),
            everything_schema(),
            SchemaBuilder::struct_()
                .name("Top")
                .optional()
                .field("a", SchemaBuilder::int32().build())
                .build(),
        ];
        for s in cases {
            assert_eq!(round_trip_schema(&s), s, "schema {s:?}");
        }
    }

    #[test]
    fn every_value_round_trips() {
        let schema = everything_schema();
        let value = everything_value(&schema);
        let (back_schema, back) = round_trip_value(&schema, &value);
        assert_eq!(back_schema, schema);
        assert_eq!(back, value);
        // Top-level primitives, nulls and logical values.
        let cases: Vec<(SchemaRef, Value)> = vec![
            (SchemaBuilder::int64().build(), Value::Int64(42)),
            (SchemaBuilder::string().optional().build(), Value::from("x")),
            (
                SchemaBuilder::decimal(3).build(),
                Value::Decimal(Decimal::new(-1, 3)),
            ),
            (SchemaBuilder::timestamp().build(), Value::Timestamp(-1)),
            (
                SchemaBuilder::map(
                    SchemaBuilder::boolean().build(),
                    SchemaBuilder::int8().build(),
                )
                .build(),
                Value::Map(vec![(Value::Boolean(true), Value::Int8(-128))]),
            ),
            (
                SchemaBuilder::array(SchemaBuilder::bytes().build()).build(),
                Value::Array(vec![]),
            ),
        ];
        for (s, v) in cases {
            let (bs, bv) = round_trip_value(&s, &v);
            assert_eq!((bs, bv), (s.clone(), v), "schema {s:?}");
        }
    }

    #[test]
    fn binary_encoding_matches_the_avro_spec() {
        let enc = |schema: &str, v: Value| {
            let avro = AvroSchema::parse(schema).unwrap();
            let mut out = Vec::new();
            encode(&avro, &v, &mut out).unwrap();
            out
        };
        // Zig-zag varints from the spec: 0, -1, 1, -2, 2, -64, 64.
        assert_eq!(enc("\"long\"", Value::Int64(0)), [0x00]);
        assert_eq!(enc("\"long\"", Value::Int64(-1)), [0x01]);
        assert_eq!(enc("\"long\"", Value::Int64(1)), [0x02]);
        assert_eq!(enc("\"long\"", Value::Int64(-2)), [0x03]);
        assert_eq!(enc("\"long\"", Value::Int64(-64)), [0x7f]);
        assert_eq!(enc("\"long\"", Value::Int64(64)), [0x80, 0x01]);
        assert_eq!(
            enc("\"string\"", Value::from("foo")),
            [0x06, 0x66, 0x6f, 0x6f]
        );
        // The spec's record example: {"a": 27, "b": "foo"}.
        let rec = r#"{"type":"record","name":"test","fields":[{"name":"a","type":"long"},{"name":"b","type":"string"}]}"#;
        let cs = connect_schema(&AvroSchema::parse(rec).unwrap()).unwrap();
        let v = Struct::new(cs)
            .put("a", 27i64)
            .unwrap()
            .put("b", "foo")
            .unwrap();
        assert_eq!(enc(rec, v.into()), [0x36, 0x06, 0x66, 0x6f, 0x6f]);
        // Arrays: one block of two longs [3, 27], then 0.
        let arr = Value::Array(vec![Value::Int64(3), Value::Int64(27)]);
        assert_eq!(
            enc(r#"{"type":"array","items":"long"}"#, arr),
            [0x04, 0x06, 0x36, 0x00]
        );
        // Unions: ["null","string"] with "a" is branch 1.
        assert_eq!(
            enc(r#"["null","string"]"#, Value::from("a")),
            [0x02, 0x02, 0x61]
        );
        assert_eq!(enc("\"double\"", Value::Float64(1.0)), 1.0f64.to_le_bytes());
        assert_eq!(enc("\"float\"", Value::Float32(1.0)), 1.0f32.to_le_bytes());
        assert_eq!(enc("\"boolean\"", Value::Boolean(true)), [0x01]);
        // Decimal: two's complement big-endian of the unscaled value.
        let dec = r#"{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}"#;
        assert_eq!(
            enc(dec, Value::Decimal(Decimal::parse("12345.67").unwrap())),
            [0x06, 0x12, 0xD6, 0x87]
        );
    }

    #[test]
    fn blocks_with_negative_counts_decode() {
        // [3, 27] written as one block with a byte size: count -2, size 2.
        let avro = AvroSchema::parse(r#"{"type":"array","items":"long"}"#).unwrap();
        let cs = connect_schema(&avro).unwrap();
        let v = decode(&avro, &cs, &[0x03, 0x04, 0x06, 0x36, 0x00]).unwrap();
        assert_eq!(v, Value::Array(vec![Value::Int64(3), Value::Int64(27)]));
    }

    #[test]
    fn foreign_schemas_map_like_confluent() {
        let text = r#"{
          "type": "record", "name": "Card", "namespace": "cards", "doc": "a card",
          "fields": [
            {"name": "suit", "type": {"type": "enum", "name": "Suit", "symbols": ["HEARTS", "SPADES"]}},
            {"name": "hash", "type": {"type": "fixed", "name": "MD5", "size": 2}},
            {"name": "either", "type": ["int", "string", "Suit"]},
            {"name": "maybe", "type": ["null", "int", "string"], "default": null},
            {"name": "micros", "type": {"type": "long", "logicalType": "timestamp-micros"}},
            {"name": "uuid", "type": {"type": "string", "logicalType": "uuid"}},
            {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 3}},
            {"name": "count", "type": "int", "default": 3}
          ]}"#;
        let avro = AvroSchema::parse(text).unwrap();
        let cs = connect_schema(&avro).unwrap();
        assert_eq!(cs.name.as_deref(), Some("cards.Card"));
        // Avro docs become parameters; Connect's own doc is connect.doc.
        assert_eq!(cs.doc, None);
        assert_eq!(cs.parameters.as_ref().unwrap()[props::RECORD_DOC], "a card");
        let suit = &cs.field("suit").unwrap().schema;
        assert_eq!(suit.schema_type, SchemaType::String);
        assert_eq!(
            suit.parameters.as_ref().unwrap()[props::ENUM_PARAM],
            "cards.Suit"
        );
        let hash = &cs.field("hash").unwrap().schema;
        assert_eq!(hash.schema_type, SchemaType::Bytes);
        assert_eq!(
            hash.parameters.as_ref().unwrap()[props::FIXED_SIZE_PARAM],
            "2"
        );
        let either = &cs.field("either").unwrap().schema;
        assert_eq!(either.name.as_deref(), Some(props::UNION_NAME));
        let names: Vec<&str> = either.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["int", "string", "Suit"]);
        assert!(!either.optional);
        assert!(cs.field("maybe").unwrap().schema.optional);
        assert_eq!(cs.field("micros").unwrap().schema.name, None);
        let count = &cs.field("count").unwrap().schema;
        assert_eq!(count.default, Some(Value::Int32(3)));
        assert_eq!(
            count.parameters.as_ref().unwrap()[props::FIELD_DEFAULT_FLAG],
            "true"
        );
        let amount = &cs.field("amount").unwrap().schema;
        assert!(amount.is_logical(logical::DECIMAL));
        assert_eq!(amount.decimal_scale(), Some(3));
        assert_eq!(
            amount.parameters.as_ref().unwrap()[props::DECIMAL_PRECISION_PARAM],
            "10"
        );

        // Data written by another producer.
        let mut data = Vec::new();
        data.push(0x02); // suit SPADES
        data.extend_from_slice(&[0xAB, 0xCD]); // fixed
        data.extend_from_slice(&[0x04, 0x02]); // either: branch 2 (Suit) = SPADES
        data.extend_from_slice(&[0x04, 0x04, b'h', b'i']); // maybe: branch 2 "hi"
        data.push(0x02); // micros = 1
        data.extend_from_slice(&[0x02, b'u']); // uuid
        data.extend_from_slice(&[0x02, 0x7B]); // amount 0.123
        data.push(0x06); // count 3
        let v = decode(&avro, &cs, &data).unwrap();
        let s = v.as_struct().unwrap();
        assert_eq!(s.get("suit"), Some(&Value::from("SPADES")));
        assert_eq!(s.get("hash"), Some(&Value::Bytes(vec![0xAB, 0xCD])));
        let either = s.get("either").unwrap().as_struct().unwrap();
        assert_eq!(either.get("Suit"), Some(&Value::from("SPADES")));
        assert_eq!(either.get("int"), Some(&Value::Null));
        assert_eq!(
            s.get("maybe").unwrap().as_struct().unwrap().get("string"),
            Some(&Value::from("hi"))
        );
        assert_eq!(s.get("amount"), Some(&Value::Decimal(Decimal::new(123, 3))));
        // And it writes back to the same bytes.
        let mut again = Vec::new();
        encode(&avro, &v, &mut again).unwrap();
        assert_eq!(again, data);
    }

    #[test]
    fn recursive_and_invalid_schemas_are_errors() {
        let list =
            r#"{"type":"record","name":"Node","fields":[{"name":"next","type":["null","Node"]}]}"#;
        let avro = AvroSchema::parse(list).unwrap();
        assert!(connect_schema(&avro).unwrap_err().contains("recursive"));
        assert!(AvroSchema::parse(
            r#"{"type":"record","name":"X","fields":[{"name":"a","type":"Nope"}]}"#
        )
        .is_err());
        assert!(AvroSchema::parse("{").is_err());
        assert!(connect_schema(&AvroSchema::parse("\"null\"").unwrap()).is_err());
    }

    #[test]
    fn values_that_do_not_fit_are_errors_naming_the_field() {
        let schema = SchemaBuilder::struct_()
            .name("R")
            .field("d", SchemaBuilder::decimal(2).build())
            .build();
        let avro = avro_of(&schema);
        // Bypass Struct validation: a Decimal with the wrong scale.
        let bad = Struct::new(schema.clone())
            .put("d", Decimal::new(1, 3))
            .unwrap();
        let err = encode(&avro, &bad.into(), &mut Vec::new()).unwrap_err();
        assert!(err.contains("scale 3") && err.contains("at d"), "{err}");
        let err = encode(&avro, &Value::from("x"), &mut Vec::new()).unwrap_err();
        assert!(
            err.contains("STRING value does not fit Avro type record R"),
            "{err}"
        );
        // int tagged int8 holding 300.
        let avro = AvroSchema::parse(r#"{"type":"int","connect.type":"int8"}"#).unwrap();
        let cs = connect_schema(&avro).unwrap();
        let mut b = Vec::new();
        write_long(&mut b, 300);
        assert!(decode(&avro, &cs, &b)
            .unwrap_err()
            .contains("out of range for INT8"));
    }

    #[test]
    fn subject_name_strategies() {
        use SubjectNameStrategy::*;
        for class in [TOPIC_NAME_STRATEGY, "TopicNameStrategy"] {
            assert_eq!(SubjectNameStrategy::from_class(class), Some(TopicName));
        }
        assert_eq!(
            SubjectNameStrategy::from_class(RECORD_NAME_STRATEGY),
            Some(RecordName)
        );
        assert_eq!(
            SubjectNameStrategy::from_class(TOPIC_RECORD_NAME_STRATEGY),
            Some(TopicRecordName)
        );
        assert_eq!(SubjectNameStrategy::from_class("com.acme.Mine"), None);
        assert_eq!(TopicName.subject("t", true, None).unwrap(), "t-key");
        assert_eq!(
            TopicName.subject("t", false, Some("a.B")).unwrap(),
            "t-value"
        );
        assert_eq!(RecordName.subject("t", false, Some("a.B")).unwrap(), "a.B");
        assert_eq!(
            TopicRecordName.subject("t", false, Some("a.B")).unwrap(),
            "t-a.B"
        );
        assert!(RecordName.subject("t", false, None).is_err());
    }

    #[test]
    fn configuration_is_checked() {
        let err = AvroConverter::configure(&props_of(&[]), false).unwrap_err();
        assert!(err.contains("schema.registry.url"), "{err}");
        let ok = props_of(&[("schema.registry.url", "http://127.0.0.1:1")]);
        let c = AvroConverter::configure(&ok, false).unwrap();
        assert!(c.auto_register && !c.use_latest && c.meta);
        assert_eq!(c.strategy, SubjectNameStrategy::TopicName);
        let bad = props_of(&[
            ("schema.registry.url", "http://127.0.0.1:1"),
            ("value.subject.name.strategy", "com.acme.Mine"),
        ]);
        assert!(AvroConverter::configure(&bad, false)
            .unwrap_err()
            .contains("value.subject.name.strategy"));
        let no_info = props_of(&[
            ("schema.registry.url", "http://127.0.0.1:1"),
            ("basic.auth.credentials.source", "USER_INFO"),
        ]);
        assert!(AvroConverter::configure(&no_info, true)
            .unwrap_err()
            .contains("basic.auth.user.info"));
        // Reachable through the factory by Confluent's class name.
        assert!(
            crate::converters::create("io.confluent.connect.avro.AvroConverter", &ok, false)
                .is_ok()
        );
    }

    #[test]
    fn framing_errors_and_nulls_need_no_registry() {
        let c = AvroConverter::configure(
            &props_of(&[("schema.registry.url", "http://127.0.0.1:1")]),
            false,
        )
        .unwrap();
        assert_eq!(c.from_connect("t", None, &Value::Null).unwrap(), None);
        assert_eq!(c.to_connect("t", None).unwrap(), SchemaAndValue::null());
        let err = c.to_connect("t", Some(b"{\"json\":1}")).unwrap_err();
        assert!(
            err.message.contains("Unknown magic byte"),
            "{}",
            err.message
        );
        assert!(c.to_connect("t", Some(&[0, 0, 0])).is_err());
        let err = c.from_connect("t", None, &Value::from("x")).unwrap_err();
        assert!(err.message.contains("needs a schema"), "{}", err.message);
    }

    /// A stand-in registry on a loopback port: answers the few calls the
    /// converter makes and counts them. (The end-to-end tests use a real
    /// registry; this checks framing, caching and retries in isolation.)
    struct StubRegistry {
        url: String,
        calls: Arc<Mutex<Vec<String>>>,
    }

    impl StubRegistry {
        /// `fail_first` answers 503 to that many requests first.
        fn start(fail_first: usize) -> StubRegistry {
            use std::io::{BufRead, BufReader, Read, Write};
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let calls = Arc::new(Mutex::new(Vec::new()));
            let seen = calls.clone();
            std::thread::spawn(move || {
                let mut schemas: Vec<String> = Vec::new();
                let mut failures = fail_first;
                for stream in listener.incoming() {
                    let Ok(mut stream) = stream else { break };
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut line = String::new();
                    if reader.read_line(&mut line).is_err() {
                        continue;
                    }
                    let mut len = 0;
                    loop {
                        let mut h = String::new();
                        reader.read_line(&mut h).unwrap();
                        if h.trim().is_empty() {
                            break;
                        }
                        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; len];
                    reader.read_exact(&mut body).unwrap();
                    let request = line
                        .split_whitespace()
                        .take(2)
                        .collect::<Vec<_>>()
                        .join(" ");
                    seen.lock().unwrap().push(request.clone());
                    let (status, answer) = if failures > 0 {
                        failures -= 1;
                        (503, json!({"error_code": 50301, "message": "busy"}))
                    } else if request.starts_with("POST") {
                        let b: Json = serde_json::from_slice(&body).unwrap();
                        let s = b["schema"].as_str().unwrap().to_owned();
                        let id = match schemas.iter().position(|x| *x == s) {
                            Some(i) => i,
                            None => {
                                schemas.push(s);
                                schemas.len() - 1
                            }
                        };
                        if request.ends_with("/versions") {
                            (200, json!({"id": id + 1}))
                        } else {
                            (200, json!({"id": id + 1, "version": 1}))
                        }
                    } else if let Some(id) = request.strip_prefix("GET /schemas/ids/") {
                        let id: usize = id.parse().unwrap();
                        match schemas.get(id - 1) {
                            Some(s) => (200, json!({"schema": s})),
                            None => (
                                404,
                                json!({"error_code": 40403, "message": "Schema not found"}),
                            ),
                        }
                    } else {
                        (
                            404,
                            json!({"error_code": 40401, "message": "Subject not found"}),
                        )
                    };
                    let text = answer.to_string();
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                        text.len()
                    );
                }
            });
            StubRegistry { url, calls }
        }

        fn calls(&self) -> Vec<String> {
            self.calls.lock().unwrap().clone()
        }
    }

    fn converter(url: &str, extra: &[(&str, &str)], is_key: bool) -> AvroConverter {
        let mut p = props_of(&[("schema.registry.url", url), ("retries.wait.ms", "10")]);
        for (k, v) in extra {
            p.insert(k.to_string(), v.to_string());
        }
        AvroConverter::configure(&p, is_key).unwrap()
    }

    #[test]
    fn wire_format_and_caching() {
        let reg = StubRegistry::start(0);
        let writer = converter(&reg.url, &[], false);
        let schema = everything_schema();
        let value = everything_value(&schema);
        let bytes = writer
            .from_connect("orders", Some(&schema), &value)
            .unwrap()
            .unwrap();
        assert_eq!(bytes[0], 0, "magic byte");
        assert_eq!(
            i32::from_be_bytes(bytes[1..5].try_into().unwrap()),
            1,
            "schema id"
        );
        let mut body = Vec::new();
        encode(&avro_of(&schema), &value, &mut body).unwrap();
        assert_eq!(&bytes[5..], &body[..], "Avro binary after the header");
        for _ in 0..10 {
            writer
                .from_connect("orders", Some(&schema), &value)
                .unwrap();
        }
        // A structurally equal schema built anew hits the cache too.
        writer
            .from_connect("orders", Some(&everything_schema()), &value)
            .unwrap();
        assert_eq!(reg.calls(), ["POST /subjects/orders-value/versions"]);

        let reader = converter(&reg.url, &[], false);
        for _ in 0..5 {
            let back = reader.to_connect("orders", Some(&bytes)).unwrap();
            assert_eq!(back.schema.as_ref(), Some(&schema));
            assert_eq!(back.value, value);
        }
        assert_eq!(
            reg.calls().len(),
            2,
            "one GET /schemas/ids/1: {:?}",
            reg.calls()
        );

        let key = converter(&reg.url, &[], true);
        let k = key
            .from_connect(
                "orders",
                Some(&SchemaBuilder::int64().build()),
                &Value::Int64(7),
            )
            .unwrap()
            .unwrap();
        assert_eq!(k, [0, 0, 0, 0, 2, 14]);
        assert_eq!(reg.calls()[2], "POST /subjects/orders-key/versions");
        // Without connect.version, a reader reports the subject's version
        // (one lookup, cached).
        for _ in 0..3 {
            let back = key.to_connect("orders", Some(&k)).unwrap();
            assert_eq!(back.value, Value::Int64(7));
            assert_eq!(back.schema.unwrap().version, Some(1));
        }
        // (The id is known from registering: no GET /schemas/ids/2.)
        assert_eq!(reg.calls()[3..], ["POST /subjects/orders-key"]);
    }

    #[test]
    fn docs_defaults_and_enums_follow_avro_data() {
        let s = SchemaBuilder::struct_()
            .name("a.R")
            .parameter(props::RECORD_DOC, "record doc")
            .parameter(format!("{}x", props::FIELD_DOC_PREFIX), "field doc")
            .field("x", SchemaBuilder::int32().build())
            .build();
        let json = avro_schema_json(&s, true).unwrap();
        assert_eq!(json["doc"], "record doc");
        assert_eq!(json["fields"][0]["doc"], "field doc");
        assert_eq!(round_trip_schema(&s), s);

        // A default only Avro knows is not written back as connect.default.
        let foreign =
            r#"{"type":"record","name":"F","fields":[{"name":"n","type":"int","default":3}]}"#;
        let cs = connect_schema(&AvroSchema::parse(foreign).unwrap()).unwrap();
        let again = avro_schema_json(&cs, true).unwrap();
        assert_eq!(again["fields"][0]["default"], 3);
        assert!(
            again["fields"][0]["type"]
                .get(props::CONNECT_DEFAULT)
                .is_none(),
            "{again}"
        );

        // Enums come back as Avro enums only with enhanced.avro.schema.support.
        let suit = SchemaBuilder::string()
            .name("com.example.Suit")
            .parameter(props::ENUM_PARAM, "com.example.Suit")
            .parameter(format!("{}.HEARTS", props::ENUM_PARAM), "HEARTS")
            .build();
        assert_eq!(avro_schema_json(&suit, true).unwrap()["type"], "string");
        let e = avro_schema_json_with(&suit, true, true).unwrap();
        assert_eq!(e["type"], "enum");
        assert_eq!(e["symbols"], json!(["HEARTS"]));
        let avro = AvroSchema::from_json(&e).unwrap();
        assert_eq!(connect_schema(&avro).unwrap(), suit);
        let mut out = Vec::new();
        encode(&avro, &Value::from("HEARTS"), &mut out).unwrap();
        assert_eq!(out, [0]);
        assert!(encode(&avro, &Value::from("CLUBS"), &mut Vec::new()).is_err());
    }

    #[test]
    fn lookup_without_auto_register_and_retry_on_503() {
        let reg = StubRegistry::start(2);
        let c = converter(&reg.url, &[("auto.register.schemas", "false")], false);
        let s = SchemaBuilder::string().build();
        let bytes = c
            .from_connect("t", Some(&s), &Value::from("a"))
            .unwrap()
            .unwrap();
        assert_eq!(bytes[..5], [0, 0, 0, 0, 1]);
        assert_eq!(
            reg.calls(),
            [
                "POST /subjects/t-value",
                "POST /subjects/t-value",
                "POST /subjects/t-value"
            ]
        );
        // Unknown id: the registry's 404 is reported, not retried.
        let err = c.to_connect("t", Some(&[0, 0, 0, 0, 9, 0])).unwrap_err();
        assert!(
            err.message.contains("id 9") && err.message.contains("40403"),
            "{}",
            err.message
        );
    }

    #[test]
    fn registry_down_is_a_clear_error_after_retries() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let c = converter(
            &format!("http://127.0.0.1:{port}"),
            &[("max.retries", "2")],
            false,
        );
        let err = c
            .from_connect(
                "t",
                Some(&SchemaBuilder::string().build()),
                &Value::from("a"),
            )
            .unwrap_err();
        assert!(
            err.message
                .contains("Error registering Avro value schema for subject t-value")
                && err.message.contains("unreachable")
                && err.message.contains("after 3 attempts"),
            "{}",
            err.message
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn works_on_a_tokio_worker_thread() {
        let reg = StubRegistry::start(0);
        let c = converter(&reg.url, &[], false);
        let s = SchemaBuilder::int32().build();
        let bytes = c
            .from_connect("t", Some(&s), &Value::Int32(1))
            .unwrap()
            .unwrap();
        let back = c.to_connect("t", Some(&bytes)).unwrap();
        assert_eq!(back.value, Value::Int32(1));
    }

    #[tokio::test]
    async fn works_on_a_current_thread_runtime() {
        let reg = StubRegistry::start(0);
        let c = converter(&reg.url, &[], false);
        let s = SchemaBuilder::int32().build();
        assert!(c.from_connect("t", Some(&s), &Value::Int32(1)).is_ok());
    }

    fn decimal_strategy() -> impl Strategy<Value = Value> {
        any::<i64>().prop_map(|u| Value::Decimal(Decimal::new(u, 2)))
    }

    prop_compose! {
        fn everything_values()(
            i8v in any::<i8>(), i16v in any::<i16>(), i32v in any::<i32>(), i64v in any::<i64>(),
            f32v in any::<f32>().prop_filter("NaN != NaN", |f| !f.is_nan()),
            f64v in any::<f64>().prop_filter("NaN != NaN", |f| !f.is_nan()),
            b in any::<bool>(), s in ".{0,20}", bytes in proptest::collection::vec(any::<u8>(), 0..20),
            opt in proptest::option::of(".{0,5}"), dec in decimal_strategy(),
            date in any::<i32>(), time in 0..86_400_000i32, ts in proptest::option::of(any::<i64>()),
            list in proptest::collection::vec(proptest::option::of(any::<i64>()), 0..5),
            smap in proptest::collection::btree_map(".{0,4}", any::<i32>().prop_map(f64::from), 0..4),
            imap in proptest::collection::btree_map(any::<i32>(), proptest::option::of("[a-z]{0,3}"), 0..4),
        ) -> Value {
            let schema = everything_schema();
            let mut v = everything_value(&schema);
            if let Value::Struct(st) = &mut v {
                let imap_value = if imap.is_empty() {
                    Value::Null
                } else {
                    Value::Map(imap.into_iter().map(|(k, v)| (Value::Int32(k), Value::from(v))).collect())
                };
                for (name, val) in [
                    ("i8", Value::Int8(i8v)), ("i16", Value::Int16(i16v)), ("i32", Value::Int32(i32v)),
                    ("i64", Value::Int64(i64v)), ("f32", Value::Float32(f32v)), ("f64", Value::Float64(f64v)),
                    ("bool", Value::Boolean(b)), ("str", Value::String(s)), ("bytes", Value::Bytes(bytes)),
                    ("opt_str", Value::from(opt)), ("dec", dec), ("date", Value::Date(date)),
                    ("time", Value::Time(time)), ("ts", ts.map_or(Value::Null, Value::Timestamp)),
                    ("list", Value::Array(list.into_iter().map(Value::from).collect())),
                    ("smap", Value::Map(smap.into_iter().map(|(k, v)| (Value::String(k), Value::Float64(v))).collect())),
                    ("imap", imap_value),
                ] {
                    st.set(name, val).unwrap();
                }
            }
            v
        }
    }

    proptest! {
        #[test]
        fn values_round_trip(v in everything_values()) {
            let schema = everything_schema();
            let (_, back) = round_trip_value(&schema, &v);
            prop_assert_eq!(back, v);
        }

        #[test]
        fn decoding_garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let schema = everything_schema();
            let avro = avro_of(&schema);
            let cs = connect_schema(&avro).unwrap();
            let _ = decode(&avro, &cs, &data);
        }
    }
}
