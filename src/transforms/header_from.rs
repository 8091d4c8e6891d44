//! `HeaderFrom$Key` / `$Value`: moves or copies fields of the key or value
//! into headers, like `org.apache.kafka.connect.transforms.HeaderFrom`.
//!
//! Corresponding elements of `fields` and `headers` identify a field and the
//! header it goes to. With a schema the key/value must be a Struct and the
//! header gets the field's schema; without one it must be a map and the
//! header has no schema.

use std::sync::Arc;

use super::util::{
    copy_schema_basics, field_value, java_class_name, key_value_plugins, non_empty_list, only_maps,
    only_structs, ConfigDefExt, Part, REPLACE_NULL_WITH_DEFAULT_CONFIG,
};
use super::TransformPlugin;
use crate::connect::config::{ConfigDef, ConfigType, Importance, Props, Validator};
use crate::connect::transform::{Transform, TransformError};
use crate::connect::{
    ConnectError, ConnectRecord, Field, Header, Schema, SchemaRef, SchemaType, Struct, Value,
};

const FIELDS_FIELD: &str = "fields";
const HEADERS_FIELD: &str = "headers";
const OPERATION_FIELD: &str = "operation";
const MOVE_OPERATION: &str = "move";
const COPY_OPERATION: &str = "copy";

pub const PLUGINS: &[TransformPlugin] = key_value_plugins!(HeaderFrom);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Move,
    Copy,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Operation::Move => MOVE_OPERATION,
            Operation::Copy => COPY_OPERATION,
        }
    }
}

/// Moves or copies fields in the key/value of a record into that record's
/// headers.
#[derive(Debug)]
pub struct HeaderFrom {
    part: Part,
    fields: Vec<String>,
    headers: Vec<String>,
    operation: Operation,
    replace_null_with_default: bool,
}

impl HeaderFrom {
    pub fn new(part: Part) -> HeaderFrom {
        HeaderFrom {
            part,
            fields: Vec::new(),
            headers: Vec::new(),
            operation: Operation::Copy,
            replace_null_with_default: true,
        }
    }

    fn purpose(&self) -> String {
        format!("header {}", self.operation.name())
    }

    /// A field's value, with or without the schema default for null.
    fn field_value(&self, value: &Struct, field: &Field) -> Value {
        field_value(value, field.index, self.replace_null_with_default).clone()
    }

    fn apply_with_schema(
        &self,
        record: ConnectRecord,
        schema: SchemaRef,
    ) -> Result<ConnectRecord, TransformError> {
        let value = match self.part.value(&record) {
            Value::Struct(s) => s.clone(),
            other => return Err(only_structs(&self.purpose(), java_class_name(other))),
        };
        let mut headers = record.headers.clone();
        let (updated_schema, updated_value) = match self.operation {
            Operation::Move => {
                let moved = self.move_schema(&schema);
                let mut updated = Struct::new(moved.clone());
                for field in &moved.fields {
                    let v = value
                        .schema()
                        .field(&field.name)
                        .map(|f| self.field_value(&value, f))
                        .unwrap_or(Value::Null);
                    updated.set(&field.name, v)?;
                }
                (moved, updated)
            }
            Operation::Copy => (schema.clone(), value.clone()),
        };
        for (field_name, header_name) in self.fields.iter().zip(&self.headers) {
            let field_value = value
                .schema()
                .field(field_name)
                .map(|f| self.field_value(&value, f))
                .unwrap_or(Value::Null);
            // Java dereferences the field's schema and fails the same way.
            let field_schema = schema.field(field_name).ok_or_else(|| {
                TransformError::new(format!(
                    "{field_name} is not a valid field name for [{}]",
                    self.purpose()
                ))
            })?;
            headers.push(Header {
                key: header_name.clone(),
                schema: Some(field_schema.schema.clone()),
                value: field_value,
            });
        }
        let mut out = self
            .part
            .set(record, Some(updated_schema), Value::Struct(updated_value));
        out.headers = headers;
        Ok(out)
    }

    /// The schema without the moved fields; name, version, doc and
    /// parameters kept as Java's `SchemaUtil.copySchemaBasics` does.
    fn move_schema(&self, schema: &Schema) -> SchemaRef {
        let mut moved = copy_schema_basics(schema, SchemaType::Struct);
        for field in schema
            .fields
            .iter()
            .filter(|f| !self.fields.contains(&f.name))
        {
            moved.fields.push(Field {
                name: field.name.clone(),
                index: moved.fields.len(),
                schema: field.schema.clone(),
            });
        }
        Arc::new(moved)
    }

    fn apply_schemaless(&self, record: ConnectRecord) -> Result<ConnectRecord, TransformError> {
        let entries = match self.part.value(&record) {
            Value::Map(entries) => entries.clone(),
            other => return Err(only_maps(&self.purpose(), java_class_name(other))),
        };
        let mut headers = record.headers.clone();
        let mut updated = entries.clone();
        for (field_name, header_name) in self.fields.iter().zip(&self.headers) {
            let key = Value::String(field_name.clone());
            let field_value = entries
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.clone())
                .unwrap_or(Value::Null);
            if self.operation == Operation::Move {
                updated.retain(|(k, _)| *k != key);
            }
            headers.push(Header {
                key: header_name.clone(),
                schema: None,
                value: field_value,
            });
        }
        let mut out = self.part.set(record, None, Value::Map(updated));
        out.headers = headers;
        Ok(out)
    }
}

fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            FIELDS_FIELD,
            ConfigType::List,
            None,
            Importance::High,
            "Field names in the record whose values are to be copied or moved to headers.",
        )
        .validate_with(Validator::NonEmpty)
        .define(
            HEADERS_FIELD,
            ConfigType::List,
            None,
            Importance::High,
            "Header names, in the same order as the field names listed in the fields configuration property.",
        )
        .validate_with(Validator::NonEmpty)
        .define(
            OPERATION_FIELD,
            ConfigType::String,
            None,
            Importance::High,
            "Either <code>move</code> if the fields are to be moved to the headers (removed from the key/value), or <code>copy</code> if the fields are to be copied to the headers (retained in the key/value).",
        )
        .validate_with(Validator::OneOf(&[MOVE_OPERATION, COPY_OPERATION]))
        .define_replace_null_with_default()
}

impl Transform for HeaderFrom {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, props: &Props) -> Result<(), ConnectError> {
        let config = config_def().parse(props)?;
        let fields = config.list(FIELDS_FIELD)?;
        let headers = config.list(HEADERS_FIELD)?;
        non_empty_list(FIELDS_FIELD, &fields)?;
        non_empty_list(HEADERS_FIELD, &headers)?;
        if headers.len() != fields.len() {
            return Err(ConnectError::config(
                HEADERS_FIELD,
                format!(
                    "'{FIELDS_FIELD}' config must have the same number of elements as '{HEADERS_FIELD}' config."
                ),
            ));
        }
        // Java's ValidString is case-sensitive.
        let operation = config.string(OPERATION_FIELD)?.unwrap_or_default();
        self.operation = match operation.as_str() {
            MOVE_OPERATION => Operation::Move,
            COPY_OPERATION => Operation::Copy,
            other => {
                return Err(ConnectError::config(
                    OPERATION_FIELD,
                    format!(
                        "Invalid value {other} for configuration {OPERATION_FIELD}: String must be one of: {MOVE_OPERATION}, {COPY_OPERATION}"
                    ),
                ))
            }
        };
        self.fields = fields;
        self.headers = headers;
        self.replace_null_with_default = config.boolean(REPLACE_NULL_WITH_DEFAULT_CONFIG)?;
        Ok(())
    }

    fn apply(&self, record: ConnectRecord) -> Result<Option<ConnectRecord>, TransformError> {
        let out = match self.part.schema(&record).cloned() {
            Some(schema) => self.apply_with_schema(record, schema)?,
            None => self.apply_schemaless(record)?,
        };
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::config::props_of;
    use crate::connect::SchemaBuilder;

    /// Java's HeaderFromTest.RecordBuilder.
    #[derive(Clone, Default)]
    struct RecordBuilder {
        fields: Vec<(String, SchemaRef, Value)>,
        headers: Vec<(String, SchemaRef, Value)>,
    }

    impl RecordBuilder {
        fn with_field(mut self, name: &str, schema: SchemaRef, value: Value) -> Self {
            self.fields.push((name.into(), schema, value));
            self
        }

        fn add_header(mut self, name: &str, schema: SchemaRef, value: Value) -> Self {
            self.headers.push((name.into(), schema, value));
            self
        }

        fn schemaless(&self, key_transform: bool) -> ConnectRecord {
            let map = self
                .fields
                .iter()
                .map(|(n, _, v)| (Value::String(n.clone()), v.clone()))
                .collect();
            self.record(key_transform, None, Value::Map(map))
        }

        fn with_schema(&self, key_transform: bool) -> ConnectRecord {
            let mut b = SchemaBuilder::struct_();
            for (n, s, _) in &self.fields {
                b = b.field(n.clone(), s.clone());
            }
            let schema = b.build();
            let mut s = Struct::new(schema.clone());
            for (n, _, v) in &self.fields {
                s.set(n, v.clone()).unwrap();
            }
            self.record(key_transform, Some(schema), Value::Struct(s))
        }

        fn record(
            &self,
            key_transform: bool,
            schema: Option<SchemaRef>,
            value: Value,
        ) -> ConnectRecord {
            let headers = self
                .headers
                .iter()
                .map(|(k, s, v)| Header {
                    key: k.clone(),
                    // Schemaless: the headers carry no schema either.
                    schema: schema.as_ref().map(|_| s.clone()),
                    value: v.clone(),
                })
                .collect();
            let (ks, k, vs, v) = if key_transform {
                (schema, value, None, Value::from("value"))
            } else {
                (None, Value::from("key"), schema, value)
            };
            let mut r = ConnectRecord::new("topic", vs, v).with_key(ks, k);
            r.kafka_partition = Some(0);
            r.timestamp = Some(0);
            r.headers = headers;
            r
        }
    }

    fn string() -> SchemaRef {
        SchemaBuilder::string().build()
    }

    fn s(v: &str) -> Value {
        Value::from(v)
    }

    struct Case {
        description: &'static str,
        original: RecordBuilder,
        fields: &'static str,
        headers: &'static str,
        operation: &'static str,
        expected: RecordBuilder,
    }

    /// HeaderFromTest.data()
    fn data() -> Vec<Case> {
        let foo_schema = SchemaBuilder::struct_().field("foo", string()).build();
        let foo = Value::Struct(
            Struct::new(foo_schema.clone())
                .put("foo", "foo-value")
                .unwrap(),
        );
        let two_fields = RecordBuilder::default()
            .with_field("field1", string(), s("field1-value"))
            .with_field("field2", string(), s("field2-value"));
        vec![
            Case {
                description: "basic copy",
                original: two_fields
                    .clone()
                    .add_header("header1", string(), s("existing-value")),
                fields: "field1",
                headers: "inserted1",
                operation: "copy",
                expected: two_fields
                    .clone()
                    .add_header("header1", string(), s("existing-value"))
                    .add_header("inserted1", string(), s("field1-value")),
            },
            Case {
                description: "basic move",
                original: two_fields
                    .clone()
                    .add_header("header1", string(), s("existing-value")),
                fields: "field1",
                headers: "inserted1",
                operation: "move",
                expected: RecordBuilder::default()
                    .with_field("field2", string(), s("field2-value"))
                    .add_header("header1", string(), s("existing-value"))
                    .add_header("inserted1", string(), s("field1-value")),
            },
            Case {
                description: "copy with preexisting header",
                original: two_fields
                    .clone()
                    .add_header("inserted1", string(), s("existing-value")),
                fields: "field1",
                headers: "inserted1",
                operation: "copy",
                expected: two_fields
                    .clone()
                    .add_header("inserted1", string(), s("existing-value"))
                    .add_header("inserted1", string(), s("field1-value")),
            },
            Case {
                description: "move with preexisting header",
                original: two_fields
                    .clone()
                    .add_header("inserted1", string(), s("existing-value")),
                fields: "field1",
                headers: "inserted1",
                operation: "move",
                expected: RecordBuilder::default()
                    .with_field("field2", string(), s("field2-value"))
                    .add_header("inserted1", string(), s("existing-value"))
                    .add_header("inserted1", string(), s("field1-value")),
            },
            Case {
                description: "copy with struct value",
                original: RecordBuilder::default()
                    .with_field("field1", foo_schema.clone(), foo.clone())
                    .with_field("field2", string(), s("field2-value"))
                    .add_header("header1", string(), s("existing-value")),
                fields: "field1",
                headers: "inserted1",
                operation: "copy",
                expected: RecordBuilder::default()
                    .with_field("field1", foo_schema.clone(), foo.clone())
                    .with_field("field2", string(), s("field2-value"))
                    .add_header("header1", string(), s("existing-value"))
                    .add_header("inserted1", foo_schema.clone(), foo.clone()),
            },
            Case {
                description: "move with struct value",
                original: RecordBuilder::default()
                    .with_field("field1", foo_schema.clone(), foo.clone())
                    .with_field("field2", string(), s("field2-value"))
                    .add_header("header1", string(), s("existing-value")),
                fields: "field1",
                headers: "inserted1",
                operation: "move",
                expected: RecordBuilder::default()
                    .with_field("field2", string(), s("field2-value"))
                    .add_header("header1", string(), s("existing-value"))
                    .add_header("inserted1", foo_schema.clone(), foo.clone()),
            },
            Case {
                description: "two headers from same field",
                original: two_fields
                    .clone()
                    .add_header("header1", string(), s("existing-value")),
                fields: "field1,field1",
                headers: "inserted1,inserted2",
                operation: "move",
                expected: RecordBuilder::default()
                    .with_field("field2", string(), s("field2-value"))
                    .add_header("header1", string(), s("existing-value"))
                    .add_header("inserted1", string(), s("field1-value"))
                    .add_header("inserted2", string(), s("field1-value")),
            },
            Case {
                description: "two fields to same header",
                original: two_fields
                    .clone()
                    .add_header("header1", string(), s("existing-value")),
                fields: "field1,field2",
                headers: "inserted1,inserted1",
                operation: "move",
                expected: RecordBuilder::default()
                    .add_header("header1", string(), s("existing-value"))
                    .add_header("inserted1", string(), s("field1-value"))
                    .add_header("inserted1", string(), s("field2-value")),
            },
        ]
    }

    fn xform(key: bool, fields: &str, headers: &str, operation: &str) -> HeaderFrom {
        let mut x = HeaderFrom::new(if key { Part::Key } else { Part::Value });
        x.configure(&props_of(&[
            ("fields", fields),
            ("headers", headers),
            ("operation", operation),
        ]))
        .unwrap();
        x
    }

    // HeaderFromTest.schemaless
    #[test]
    fn schemaless() {
        for key in [true, false] {
            for case in data() {
                let x = xform(key, case.fields, case.headers, case.operation);
                let out = x.apply(case.original.schemaless(key)).unwrap().unwrap();
                assert_eq!(
                    out,
                    case.expected.schemaless(key),
                    "{} (key: {key})",
                    case.description
                );
            }
        }
    }

    // HeaderFromTest.withSchema
    #[test]
    fn with_schema() {
        for key in [true, false] {
            for case in data() {
                let x = xform(key, case.fields, case.headers, case.operation);
                let out = x.apply(case.original.with_schema(key)).unwrap().unwrap();
                assert_eq!(
                    out,
                    case.expected.with_schema(key),
                    "{} (key: {key})",
                    case.description
                );
            }
        }
    }

    fn config_error(props: &[(&str, &str)]) -> (String, String) {
        match HeaderFrom::new(Part::Value)
            .configure(&props_of(props))
            .unwrap_err()
        {
            ConnectError::Config { key, message } => (key, message),
            other => panic!("{other}"),
        }
    }

    // HeaderFromTest.invalidConfigExtraHeaderConfig / invalidConfigExtraFieldConfig
    #[test]
    fn invalid_config_mismatched_lengths() {
        for (fields, headers) in [("foo,bar", "foo"), ("foo", "foo,bar")] {
            let (key, message) = config_error(&[
                ("fields", fields),
                ("headers", headers),
                ("operation", "copy"),
            ]);
            assert_eq!(key, "headers");
            assert_eq!(
                message,
                "'fields' config must have the same number of elements as 'headers' config."
            );
        }
    }

    // HeaderFromTest.invalidConfigEmptyHeadersAndFieldsConfig
    #[test]
    fn invalid_config_empty_headers_and_fields() {
        let (key, _) = config_error(&[("fields", ""), ("headers", ""), ("operation", "copy")]);
        assert_eq!(key, "fields");
        let (key, message) =
            config_error(&[("fields", "a"), ("headers", " , "), ("operation", "copy")]);
        assert_eq!(key, "headers");
        assert!(message.contains("Empty list"), "{message}");
    }

    #[test]
    fn invalid_operation_is_named() {
        for op in ["rename", "MOVE", ""] {
            let (key, _) = config_error(&[("fields", "a"), ("headers", "b"), ("operation", op)]);
            assert_eq!(key, "operation", "{op}");
        }
        let (key, _) = config_error(&[("fields", "a"), ("headers", "b")]);
        assert_eq!(key, "operation");
    }

    fn defaulted_record() -> (SchemaRef, ConnectRecord) {
        let schema = SchemaBuilder::struct_()
            .field(
                "f",
                SchemaBuilder::string()
                    .optional()
                    .default_value(s("dflt"))
                    .build(),
            )
            .field("g", string())
            .build();
        let value = Struct::new(schema.clone()).put("g", "x").unwrap();
        let r = ConnectRecord::new("t", Some(schema.clone()), Value::Struct(value));
        (schema, r)
    }

    // KIP-1040 `replace.null.with.default` (no Java test in the HeaderFromTest
    // version read): false keeps a null field null in the header and in the
    // rebuilt struct.
    #[test]
    fn replace_null_with_default() {
        for (replace, expected) in [("true", s("dflt")), ("false", Value::Null)] {
            let (_, r) = defaulted_record();
            let mut x = HeaderFrom::new(Part::Value);
            x.configure(&props_of(&[
                ("fields", "f"),
                ("headers", "h"),
                ("operation", "copy"),
                ("replace.null.with.default", replace),
            ]))
            .unwrap();
            let out = x.apply(r).unwrap().unwrap();
            assert_eq!(out.headers[0].value, expected, "replace={replace}");
        }
        // Move keeps the other fields' raw nulls when asked to.
        let schema = SchemaBuilder::struct_()
            .field("m", string())
            .field(
                "keep",
                SchemaBuilder::int32()
                    .optional()
                    .default_value(Value::Int32(5))
                    .build(),
            )
            .build();
        let value = Struct::new(schema.clone()).put("m", "moved").unwrap();
        for (replace, expected) in [("true", Value::Int32(5)), ("false", Value::Null)] {
            let mut x = HeaderFrom::new(Part::Value);
            x.configure(&props_of(&[
                ("fields", "m"),
                ("headers", "h"),
                ("operation", "move"),
                ("replace.null.with.default", replace),
            ]))
            .unwrap();
            let out = x
                .apply(ConnectRecord::new(
                    "t",
                    Some(schema.clone()),
                    Value::Struct(value.clone()),
                ))
                .unwrap()
                .unwrap();
            assert_eq!(out.value.as_struct().unwrap().raw_values(), &[expected]);
        }
    }

    #[test]
    fn wrong_value_types_fail_like_java() {
        let x = xform(false, "a", "b", "copy");
        let schema = SchemaBuilder::string().build();
        let err = x
            .apply(ConnectRecord::new("t", Some(schema), s("v")))
            .unwrap_err();
        assert_eq!(
            err.message,
            "Only Struct objects supported for [header copy], found: java.lang.String"
        );
        let x = xform(false, "a", "b", "move");
        let err = x
            .apply(ConnectRecord::new("t", None, Value::Null))
            .unwrap_err();
        assert_eq!(
            err.message,
            "Only Map objects supported in absence of schema for [header move], found: null"
        );
    }

    #[test]
    fn schemaless_missing_field_gives_a_null_header() {
        let x = xform(false, "absent", "h", "move");
        let r = ConnectRecord::new("t", None, Value::Map(vec![(s("a"), Value::Int32(1))]));
        let out = x.apply(r).unwrap().unwrap();
        assert_eq!(out.value, Value::Map(vec![(s("a"), Value::Int32(1))]));
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
        for n in [
            "org.apache.kafka.connect.transforms.HeaderFrom$Key",
            "org.apache.kafka.connect.transforms.HeaderFrom$Value",
            "HeaderFrom$Key",
        ] {
            assert!(crate::transforms::find_transform(n).is_some(), "{n}");
        }
    }
}
