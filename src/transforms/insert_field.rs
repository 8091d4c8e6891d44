//! `InsertField$Key` / `InsertField$Value`: add fields from the record's
//! metadata (topic, partition, offset, timestamp) or a static value, like
//! `org.apache.kafka.connect.transforms.InsertField`.
//!
//! Field names take a `!` suffix (required in the new struct schema) or `?`
//! (optional, the default); schemaless records ignore the suffix. Partition
//! and timestamp are only inserted when the record has them. Null keys/values
//! pass through unchanged.
//!
//! `offset.field`: Java supports it only for `SinkRecord`s and fails with a
//! DataException on any other record. Transforms here see a plain
//! [`ConnectRecord`], which has no Kafka offset (see `connect/record.rs`), so
//! a configured `offset.field` fails every non-null record the same way,
//! "Only SinkRecord supported for [field insertion]" — the field is never
//! silently left out or filled with a made-up value.

use crate::connect::config::{ConfigDef, ConfigType, Importance, Props};
use crate::connect::transform::{Transform, TransformError};
use crate::connect::{
    ConnectError, ConnectRecord, SchemaBuilder, SchemaRef, SchemaType, Struct, Value,
};

use super::util::{
    add_field, copy_fields, copy_schema_basics, key_value_plugins, map_put, require_map,
    require_struct, ConfigDefExt, Part, SchemaCache,
};
use super::TransformPlugin;

pub const PLUGINS: &[TransformPlugin] = key_value_plugins!(InsertField);

pub const TOPIC_FIELD: &str = "topic.field";
pub const PARTITION_FIELD: &str = "partition.field";
pub const OFFSET_FIELD: &str = "offset.field";
pub const TIMESTAMP_FIELD: &str = "timestamp.field";
pub const STATIC_FIELD: &str = "static.field";
pub const STATIC_VALUE: &str = "static.value";
pub use super::util::REPLACE_NULL_WITH_DEFAULT_CONFIG;

const PURPOSE: &str = "field insertion";

/// The keys of `InsertField`, as Java declares them. Java's `null` defaults
/// are empty strings here; an empty value means "not configured".
pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            TOPIC_FIELD,
            ConfigType::String,
            Some(""),
            Importance::Medium,
            "Field name for Kafka topic. Suffix with <code>!</code> to make this a required \
             field, or <code>?</code> to keep it optional (the default).",
        )
        .define(
            PARTITION_FIELD,
            ConfigType::String,
            Some(""),
            Importance::Medium,
            "Field name for Kafka partition. Suffix with <code>!</code> to make this a required \
             field, or <code>?</code> to keep it optional (the default).",
        )
        .define(
            OFFSET_FIELD,
            ConfigType::String,
            Some(""),
            Importance::Medium,
            "Field name for Kafka offset - only applicable to sink connectors.<br/>Suffix with \
             <code>!</code> to make this a required field, or <code>?</code> to keep it optional \
             (the default).",
        )
        .define(
            TIMESTAMP_FIELD,
            ConfigType::String,
            Some(""),
            Importance::Medium,
            "Field name for record timestamp. Suffix with <code>!</code> to make this a required \
             field, or <code>?</code> to keep it optional (the default).",
        )
        .define(
            STATIC_FIELD,
            ConfigType::String,
            Some(""),
            Importance::Medium,
            "Field name for static data field. Suffix with <code>!</code> to make this a required \
             field, or <code>?</code> to keep it optional (the default).",
        )
        .define(
            STATIC_VALUE,
            ConfigType::String,
            Some(""),
            Importance::Medium,
            "Static field value, if field name configured.",
        )
        .define_replace_null_with_default()
}

/// A field to insert: its name and whether its schema is optional (Java's
/// `InsertionSpec`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Spec {
    name: String,
    optional: bool,
}

impl Spec {
    fn parse(spec: &str) -> Option<Spec> {
        if spec.is_empty() {
            return None;
        }
        Some(if let Some(name) = spec.strip_suffix('?') {
            Spec {
                name: name.to_owned(),
                optional: true,
            }
        } else if let Some(name) = spec.strip_suffix('!') {
            Spec {
                name: name.to_owned(),
                optional: false,
            }
        } else {
            Spec {
                name: spec.to_owned(),
                optional: true,
            }
        })
    }

    fn schema(&self, builder: SchemaBuilder) -> SchemaRef {
        if self.optional {
            builder.optional().build()
        } else {
            builder.build()
        }
    }
}

/// `InsertField$Key` or `InsertField$Value`.
pub struct InsertField {
    part: Part,
    topic: Option<Spec>,
    partition: Option<Spec>,
    offset: Option<Spec>,
    timestamp: Option<Spec>,
    static_field: Option<Spec>,
    static_value: String,
    replace_null_with_default: bool,
    /// Updated schemas by original schema.
    cache: SchemaCache,
}

impl InsertField {
    pub fn new(part: Part) -> Self {
        InsertField {
            part,
            topic: None,
            partition: None,
            offset: None,
            timestamp: None,
            static_field: None,
            static_value: String::new(),
            replace_null_with_default: true,
            cache: SchemaCache::new(),
        }
    }

    fn offset_unavailable() -> TransformError {
        TransformError::new(format!(
            "Only SinkRecord supported for [{PURPOSE}], found: ConnectRecord (records handed to \
             transforms carry no Kafka offset, so offset.field cannot be inserted)"
        ))
    }

    fn apply_schemaless(
        &self,
        record: &ConnectRecord,
        entries: &[(Value, Value)],
    ) -> Result<Value, TransformError> {
        let mut updated = entries.to_vec();
        if let Some(spec) = &self.topic {
            map_put(&mut updated, &spec.name, Value::from(record.topic.as_str()));
        }
        if let (Some(spec), Some(partition)) = (&self.partition, record.kafka_partition) {
            map_put(&mut updated, &spec.name, Value::Int32(partition));
        }
        if self.offset.is_some() {
            return Err(Self::offset_unavailable());
        }
        if let (Some(spec), Some(ts)) = (&self.timestamp, record.timestamp) {
            map_put(&mut updated, &spec.name, Value::Int64(ts));
        }
        if let Some(spec) = &self.static_field {
            map_put(
                &mut updated,
                &spec.name,
                Value::from(self.static_value.as_str()),
            );
        }
        Ok(Value::Map(updated))
    }

    fn updated_schema(&self, schema: &SchemaRef) -> Result<SchemaRef, TransformError> {
        self.cache.get_or_try_insert(schema, || {
            // Java: SchemaUtil.copySchemaBasics(schema, SchemaBuilder.struct()),
            // then the original fields, then the inserted ones.
            let mut updated = copy_schema_basics(schema, SchemaType::Struct);
            updated.fields = schema.fields.clone();
            let inserted = [
                (&self.topic, SchemaBuilder::string()),
                (&self.partition, SchemaBuilder::int32()),
                (&self.offset, SchemaBuilder::int64()),
                (&self.timestamp, SchemaBuilder::timestamp()),
                (&self.static_field, SchemaBuilder::string()),
            ];
            for (spec, builder) in inserted {
                let Some(spec) = spec else { continue };
                add_field(&mut updated, spec.name.clone(), spec.schema(builder))?;
            }
            Ok(updated.into())
        })
    }

    fn apply_with_schema(
        &self,
        record: &ConnectRecord,
        schema: &SchemaRef,
        value: &Struct,
    ) -> Result<(SchemaRef, Value), TransformError> {
        let updated_schema = self.updated_schema(schema)?;
        let mut updated = Struct::new(updated_schema.clone());
        copy_fields(
            value,
            &mut updated,
            self.replace_null_with_default,
            |_, v| Ok(v.clone()),
        )?;
        if let Some(spec) = &self.topic {
            updated.set(&spec.name, Value::from(record.topic.as_str()))?;
        }
        if let (Some(spec), Some(partition)) = (&self.partition, record.kafka_partition) {
            updated.set(&spec.name, Value::Int32(partition))?;
        }
        if self.offset.is_some() {
            return Err(Self::offset_unavailable());
        }
        if let (Some(spec), Some(ts)) = (&self.timestamp, record.timestamp) {
            updated.set(&spec.name, Value::Timestamp(ts))?;
        }
        if let Some(spec) = &self.static_field {
            updated.set(&spec.name, Value::from(self.static_value.as_str()))?;
        }
        Ok((updated_schema, updated.into()))
    }
}

impl Transform for InsertField {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, props: &Props) -> Result<(), ConnectError> {
        let config = config_def().parse(props)?;
        // Java's ConfigDef trims STRING values.
        let get = |key: &str| -> Result<String, ConnectError> {
            Ok(config.string(key)?.unwrap_or_default().trim().to_owned())
        };
        self.topic = Spec::parse(&get(TOPIC_FIELD)?);
        self.partition = Spec::parse(&get(PARTITION_FIELD)?);
        self.offset = Spec::parse(&get(OFFSET_FIELD)?);
        self.timestamp = Spec::parse(&get(TIMESTAMP_FIELD)?);
        self.static_field = Spec::parse(&get(STATIC_FIELD)?);
        self.static_value = get(STATIC_VALUE)?;
        self.replace_null_with_default = config.boolean(REPLACE_NULL_WITH_DEFAULT_CONFIG)?;
        if self.topic.is_none()
            && self.partition.is_none()
            && self.offset.is_none()
            && self.timestamp.is_none()
            && self.static_field.is_none()
        {
            return Err(ConnectError::config(
                TOPIC_FIELD,
                "No field insertion configured: set at least one of topic.field, \
                 partition.field, offset.field, timestamp.field or static.field",
            ));
        }
        // Java's default is null; an explicitly empty value is a value.
        if let (Some(spec), false) = (&self.static_field, props.contains_key(STATIC_VALUE)) {
            return Err(ConnectError::config(
                STATIC_VALUE,
                format!(
                    "Invalid value null for configuration static.value: No value specified for \
                     static field: {}",
                    spec.name
                ),
            ));
        }
        self.cache.clear();
        Ok(())
    }

    fn apply(&self, record: ConnectRecord) -> Result<Option<ConnectRecord>, TransformError> {
        let part = self.part;
        let value = part.value(&record);
        if value.is_null() {
            return Ok(Some(record));
        }
        match part.schema(&record) {
            None => {
                let entries = require_map(value, PURPOSE)?;
                let updated = self.apply_schemaless(&record, entries)?;
                Ok(Some(part.set(record, None, updated)))
            }
            Some(schema) => {
                let s = require_struct(value, PURPOSE)?;
                let (schema, updated) = self.apply_with_schema(&record, schema, s)?;
                Ok(Some(part.set(record, Some(schema), updated)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::connect::config::props_of;
    use crate::transforms::testing::{assert_config_key, defaulted_int32, get, map};

    fn configured(part: Part, pairs: &[(&str, &str)]) -> InsertField {
        let mut xform = InsertField::new(part);
        xform.configure(&props_of(pairs)).unwrap();
        xform
    }

    const ALL: &[(&str, &str)] = &[
        ("topic.field", "topic_field!"),
        ("partition.field", "partition_field"),
        ("timestamp.field", "timestamp_field?"),
        ("static.field", "instance_id"),
        ("static.value", "my-instance-id"),
    ];

    fn record(
        partition: Option<i32>,
        schema: Option<SchemaRef>,
        value: Value,
        ts: Option<i64>,
    ) -> ConnectRecord {
        let mut r = ConnectRecord::new("test", schema, value);
        r.kafka_partition = partition;
        r.timestamp = ts;
        r
    }

    // InsertFieldTest.topLevelStructRequired
    #[test]
    fn top_level_struct_required() {
        let xform = configured(Part::Value, &[("topic.field", "topic_field")]);
        let err = xform
            .apply(record(
                Some(0),
                Some(SchemaBuilder::int32().build()),
                42i32.into(),
                None,
            ))
            .unwrap_err();
        assert_eq!(
            err.message,
            "Only Struct objects supported for [field insertion], found: INT32"
        );
    }

    // InsertFieldTest.copySchemaAndInsertConfiguredFields
    #[test]
    fn copy_schema_and_insert_configured_fields() {
        let xform = configured(Part::Value, ALL);
        let schema = SchemaBuilder::struct_()
            .name("name")
            .version(1)
            .doc("doc")
            .field("magic", SchemaBuilder::int64().optional().build())
            .build();
        let value = Struct::new(schema.clone()).put("magic", 42i64).unwrap();
        let out = xform
            .apply(record(
                Some(0),
                Some(schema.clone()),
                value.into(),
                Some(789),
            ))
            .unwrap()
            .unwrap();
        let updated = out.value_schema.clone().unwrap();
        assert_eq!(updated.name.as_deref(), Some("name"));
        assert_eq!(updated.version, Some(1));
        assert_eq!(updated.doc.as_deref(), Some("doc"));
        let s = out.value.as_struct().unwrap();
        let field = |n: &str| updated.field(n).unwrap().schema.clone();
        assert_eq!(field("magic"), SchemaBuilder::int64().optional().build());
        assert_eq!(s.get("magic"), Some(&Value::Int64(42)));
        assert_eq!(field("topic_field"), SchemaBuilder::string().build());
        assert_eq!(s.get("topic_field"), Some(&Value::from("test")));
        assert_eq!(
            field("partition_field"),
            SchemaBuilder::int32().optional().build()
        );
        assert_eq!(s.get("partition_field"), Some(&Value::Int32(0)));
        assert_eq!(
            field("timestamp_field"),
            SchemaBuilder::timestamp().optional().build()
        );
        assert_eq!(s.get("timestamp_field"), Some(&Value::Timestamp(789)));
        assert_eq!(
            field("instance_id"),
            SchemaBuilder::string().optional().build()
        );
        assert_eq!(s.get("instance_id"), Some(&Value::from("my-instance-id")));

        // Exercise caching
        let again = xform
            .apply(record(
                Some(1),
                Some(schema.clone()),
                Struct::new(schema).into(),
                None,
            ))
            .unwrap()
            .unwrap();
        assert!(Arc::ptr_eq(&updated, again.value_schema.as_ref().unwrap()));
    }

    // InsertFieldTest.schemalessInsertConfiguredFields
    #[test]
    fn schemaless_insert_configured_fields() {
        let xform = configured(Part::Value, ALL);
        let out = xform
            .apply(record(
                Some(0),
                None,
                map(vec![("magic", Value::Int64(42))]),
                Some(123),
            ))
            .unwrap()
            .unwrap();
        assert_eq!(get(&out.value, "magic"), Some(&Value::Int64(42)));
        assert_eq!(get(&out.value, "topic_field"), Some(&Value::from("test")));
        assert_eq!(get(&out.value, "partition_field"), Some(&Value::Int32(0)));
        assert_eq!(get(&out.value, "timestamp_field"), Some(&Value::Int64(123)));
        assert_eq!(
            get(&out.value, "instance_id"),
            Some(&Value::from("my-instance-id"))
        );
    }

    // InsertFieldTest.insertConfiguredFieldsIntoTombstoneEventWithoutSchemaLeavesValueUnchanged
    // and ...WithSchemaLeavesValueUnchanged
    #[test]
    fn tombstones_pass_through() {
        let xform = configured(Part::Value, ALL);
        let r = record(Some(0), None, Value::Null, None);
        assert_eq!(xform.apply(r.clone()).unwrap(), Some(r));
        let schema = SchemaBuilder::struct_()
            .name("name")
            .version(1)
            .doc("doc")
            .field("magic", SchemaBuilder::int64().optional().build())
            .build();
        let r = record(Some(0), Some(schema), Value::Null, None);
        assert_eq!(xform.apply(r.clone()).unwrap(), Some(r));
    }

    // InsertFieldTest.insertKeyFieldsIntoTombstoneEvent
    #[test]
    fn insert_key_fields_into_tombstone_event() {
        let xform = configured(Part::Key, ALL);
        let r = record(Some(0), None, Value::Null, None)
            .with_key(None, map(vec![("magic", Value::Int64(42))]));
        let out = xform.apply(r).unwrap().unwrap();
        assert_eq!(get(&out.key, "magic"), Some(&Value::Int64(42)));
        assert_eq!(get(&out.key, "topic_field"), Some(&Value::from("test")));
        assert_eq!(get(&out.key, "partition_field"), Some(&Value::Int32(0)));
        assert_eq!(get(&out.key, "timestamp_field"), None);
        assert_eq!(
            get(&out.key, "instance_id"),
            Some(&Value::from("my-instance-id"))
        );
        assert_eq!(out.value, Value::Null);
    }

    // InsertFieldTest.insertIntoNullKeyLeavesRecordUnchanged
    #[test]
    fn insert_into_null_key_leaves_record_unchanged() {
        let xform = configured(Part::Key, ALL);
        let r = record(Some(0), None, map(vec![("magic", Value::Int64(42))]), None);
        assert_eq!(xform.apply(r.clone()).unwrap(), Some(r));
    }

    // InsertField.insertFields: offset insertion needs a SinkRecord
    // (DataException otherwise); a ConnectRecord never has the offset.
    #[test]
    fn offset_field_needs_a_sink_record() {
        let xform = configured(Part::Value, &[("offset.field", "offset")]);
        for r in [
            record(Some(0), None, map(vec![]), None),
            record(
                Some(0),
                Some(SchemaBuilder::struct_().build()),
                Struct::new(SchemaBuilder::struct_().build()).into(),
                None,
            ),
        ] {
            let err = xform.apply(r).unwrap_err();
            assert!(
                err.message
                    .starts_with("Only SinkRecord supported for [field insertion]"),
                "{}",
                err.message
            );
        }
    }

    // KIP-1040: replace.null.with.default=false copies nulls as nulls.
    #[test]
    fn replace_null_with_default() {
        let schema = SchemaBuilder::struct_()
            .field("n", defaulted_int32(5))
            .build();
        let r = record(None, Some(schema.clone()), Struct::new(schema).into(), None);
        let with = configured(Part::Value, &[("topic.field", "t")]);
        let out = with.apply(r.clone()).unwrap().unwrap();
        assert_eq!(
            out.value.as_struct().unwrap().raw_values()[0],
            Value::Int32(5)
        );
        let without = configured(
            Part::Value,
            &[("topic.field", "t"), ("replace.null.with.default", "false")],
        );
        let out = without.apply(r).unwrap().unwrap();
        assert_eq!(out.value.as_struct().unwrap().raw_values()[0], Value::Null);
    }

    // Missing partition/timestamp are left unset; the `!` field stays null
    // in the struct rather than failing.
    #[test]
    fn missing_metadata_is_not_inserted() {
        let xform = configured(
            Part::Value,
            &[("partition.field", "p!"), ("timestamp.field", "ts")],
        );
        let schema = SchemaBuilder::struct_().build();
        let out = xform
            .apply(record(
                None,
                Some(schema.clone()),
                Struct::new(schema).into(),
                None,
            ))
            .unwrap()
            .unwrap();
        let s = out.value.as_struct().unwrap();
        assert_eq!(s.get("p"), Some(&Value::Null));
        assert!(!s.schema().field("p").unwrap().schema.optional);
        let out = xform
            .apply(record(None, None, map(vec![]), None))
            .unwrap()
            .unwrap();
        assert_eq!(out.value, map(vec![]));
    }

    #[test]
    fn duplicate_field_name_is_an_error() {
        let xform = configured(Part::Value, &[("topic.field", "magic")]);
        let schema = SchemaBuilder::struct_()
            .field("magic", SchemaBuilder::int64().optional().build())
            .build();
        let err = xform
            .apply(record(
                None,
                Some(schema.clone()),
                Struct::new(schema).into(),
                None,
            ))
            .unwrap_err();
        assert_eq!(
            err.message,
            "Cannot create field because of field name duplication magic"
        );
    }

    // InsertField.configure: nothing to insert, or a static field without a
    // value, are configuration errors naming the key.
    #[test]
    fn config_errors_name_the_key() {
        let mut xform = InsertField::new(Part::Value);
        let err = xform.configure(&props_of(&[])).unwrap_err();
        assert_config_key(&err, "topic.field");
        let err = xform
            .configure(&props_of(&[("static.field", "s")]))
            .unwrap_err();
        assert_config_key(&err, "static.value");
        let err = xform
            .configure(&props_of(&[
                ("topic.field", "t"),
                ("replace.null.with.default", "x"),
            ]))
            .unwrap_err();
        assert_config_key(&err, "replace.null.with.default");
    }

    #[test]
    fn registered_under_java_names() {
        for name in [
            "org.apache.kafka.connect.transforms.InsertField$Key",
            "org.apache.kafka.connect.transforms.InsertField$Value",
            "InsertField$Value",
        ] {
            assert!(crate::transforms::find_transform(name).is_some(), "{name}");
        }
    }
}
