//! `ExtractField$Key` / `ExtractField$Value`: replace the key or value with
//! one of its fields, like `org.apache.kafka.connect.transforms.ExtractField`.
//!
//! Schema'd records need a Struct (or null) and a struct schema that has the
//! field; the record then carries the field's schema. Schemaless records need
//! a Map (or null); a missing field extracts null. Null keys/values pass
//! through as null. `field.syntax.version=V2` (KIP-821) reads nested fields
//! with dotted paths, backticks wrapping names that contain dots.

use crate::connect::config::{ConfigDef, ConfigType, Importance, Props, Validator};
use crate::connect::transform::{Transform, TransformError};
use crate::connect::{ConnectError, ConnectRecord, SchemaRef, SchemaType, Struct, Value};

use super::util::{
    field_value, key_value_plugins, map_get, only_maps, only_structs, type_of, ConfigDefExt, Part,
};
use super::TransformPlugin;

pub const PLUGINS: &[TransformPlugin] = key_value_plugins!(ExtractField);

pub const FIELD_CONFIG: &str = "field";
pub const FIELD_SYNTAX_VERSION_CONFIG: &str = "field.syntax.version";
pub use super::util::REPLACE_NULL_WITH_DEFAULT_CONFIG;

const FIELD_SYNTAX_VERSION_DOC: &str = "Defines the version of the syntax to access fields. \
If set to `V1`, then the field paths are limited to access the elements at the root level of \
the struct or map. If set to `V2`, the syntax will support accessing nested elements. To access \
nested elements, dotted notation is used. If dots are already included in the field name, then \
backtick pairs can be used to wrap field names containing dots. E.g. to access the subfield \
`baz` from a field named \"foo.bar\" in a struct/map the following format can be used to access \
its elements: \"`foo.bar`.baz\".";

const PURPOSE: &str = "field extraction";

/// The keys of `ExtractField`, as Java declares them.
pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            FIELD_CONFIG,
            ConfigType::String,
            None,
            Importance::Medium,
            "Field name to extract.",
        )
        .define(
            FIELD_SYNTAX_VERSION_CONFIG,
            ConfigType::String,
            Some("V1"),
            Importance::High,
            FIELD_SYNTAX_VERSION_DOC,
        )
        .validate_with(Validator::OneOf(&["V1", "V2"]))
        .define_replace_null_with_default()
}

/// A field path (Java's `SingleFieldPath`): one step with V1, dotted steps
/// with V2.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FieldPath {
    original: String,
    steps: Vec<String>,
}

impl FieldPath {
    fn v1(path: &str) -> FieldPath {
        FieldPath {
            original: path.to_owned(),
            steps: vec![path.to_owned()],
        }
    }

    /// Java's `SingleFieldPath.buildFieldPathV2`, step for step: dots split
    /// steps; a step starting with a backtick runs to the next backtick that
    /// is followed by a dot (or ends the path) and is not escaped with a
    /// backslash.
    fn v2(path: &str) -> Result<FieldPath, String> {
        let bytes = path.as_bytes();
        let find = |from: usize, c: u8| {
            bytes[from.min(bytes.len())..]
                .iter()
                .position(|b| *b == c)
                .map(|p| p + from)
        };
        let incomplete = |at: usize| {
            format!(
                "Incomplete backtick pair in path: [{path}], consider adding a backslash before \
                 backtick at position {at} to escape it"
            )
        };
        let mut steps = Vec::new();
        let mut idx = 0;
        while idx < bytes.len() {
            if bytes[idx] != b'`' {
                let start = idx;
                match find(idx, b'.') {
                    Some(dot) => {
                        steps.push(path[start..dot].to_owned());
                        idx = dot + 1;
                    }
                    None => {
                        steps.push(path[start..].to_owned());
                        idx = bytes.len();
                    }
                }
                continue;
            }
            let backtick_at = idx;
            idx += 1;
            let mut field = String::new();
            let mut start = idx;
            loop {
                let Some(close) = find(idx, b'`') else {
                    return Err(incomplete(backtick_at));
                };
                idx = close;
                let escaped = bytes[idx - 1] == b'\\';
                if idx >= bytes.len() - 1 {
                    if escaped {
                        return Err(incomplete(backtick_at));
                    }
                    field.push_str(&path[start..idx]);
                    steps.push(field);
                    idx += 1;
                    break;
                }
                if bytes[idx + 1] != b'.' {
                    idx += 1;
                    continue;
                }
                if escaped {
                    field.push_str(&path[start..idx - 1]);
                    field.push('`');
                    idx += 1;
                    start = idx;
                    continue;
                }
                field.push_str(&path[start..idx]);
                steps.push(field);
                idx += 2;
                break;
            }
        }
        if path.ends_with('.') {
            steps.push(String::new());
        }
        Ok(FieldPath {
            original: path.to_owned(),
            steps,
        })
    }

    /// The schema of the field at this path, `Ok(None)` if there is none.
    /// Looking into a non-struct schema fails, as in Java.
    fn schema_from(&self, schema: &SchemaRef) -> Result<Option<SchemaRef>, TransformError> {
        let mut current = schema.clone();
        for step in &self.steps {
            if current.schema_type != SchemaType::Struct {
                return Err(TransformError::new(
                    "Cannot look up fields on non-struct type",
                ));
            }
            let Some(field) = current.field(step) else {
                return Ok(None);
            };
            current = field.schema.clone();
        }
        Ok((!self.steps.is_empty()).then_some(current))
    }

    /// The value at this path in a Struct; intermediate structs are read with
    /// their defaults, the last field with or without.
    fn value_from_struct(
        &self,
        value: &Struct,
        with_default: bool,
    ) -> Result<Value, TransformError> {
        let Some((last, parents)) = self.steps.split_last() else {
            return Ok(Value::Null);
        };
        let mut current = value;
        for step in parents {
            match current.get(step) {
                None | Some(Value::Null) => return Ok(Value::Null),
                Some(Value::Struct(s)) => current = s,
                Some(other) => return Err(only_structs("nested field access", type_of(other))),
            }
        }
        let Some(field) = current.schema().field(last) else {
            return Ok(Value::Null);
        };
        Ok(field_value(current, field.index, with_default).clone())
    }

    /// The value at this path in a schemaless map; anything missing is null.
    fn value_from_map(&self, entries: &[(Value, Value)]) -> Result<Value, TransformError> {
        let Some((last, parents)) = self.steps.split_last() else {
            return Ok(Value::Null);
        };
        let mut current = entries;
        for step in parents {
            match map_get(current, step) {
                None | Some(Value::Null) => return Ok(Value::Null),
                Some(Value::Map(inner)) => current = inner,
                Some(other) => return Err(only_maps("nested field access", type_of(other))),
            }
        }
        Ok(map_get(current, last).cloned().unwrap_or(Value::Null))
    }
}

/// `ExtractField$Key` or `ExtractField$Value`.
pub struct ExtractField {
    part: Part,
    path: FieldPath,
    replace_null_with_default: bool,
}

impl ExtractField {
    pub fn new(part: Part) -> Self {
        ExtractField {
            part,
            path: FieldPath::v1(""),
            replace_null_with_default: true,
        }
    }
}

impl Transform for ExtractField {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, props: &Props) -> Result<(), ConnectError> {
        let config = config_def().parse(props)?;
        let field = config.string(FIELD_CONFIG)?.unwrap_or_default();
        let field = field.trim();
        let version = config
            .string(FIELD_SYNTAX_VERSION_CONFIG)?
            .unwrap_or_default()
            .trim()
            .to_ascii_uppercase();
        self.path = if version == "V2" {
            FieldPath::v2(field).map_err(|e| ConnectError::config(FIELD_CONFIG, e))?
        } else {
            FieldPath::v1(field)
        };
        self.replace_null_with_default = config.boolean(REPLACE_NULL_WITH_DEFAULT_CONFIG)?;
        Ok(())
    }

    fn apply(&self, record: ConnectRecord) -> Result<Option<ConnectRecord>, TransformError> {
        let part = self.part;
        let Some(schema) = part.schema(&record).cloned() else {
            let extracted = match part.value(&record) {
                Value::Null => Value::Null,
                Value::Map(entries) => self.path.value_from_map(entries)?,
                other => return Err(only_maps(PURPOSE, type_of(other))),
            };
            return Ok(Some(part.set(record, None, extracted)));
        };
        let value = match part.value(&record) {
            Value::Null => None,
            Value::Struct(s) => Some(s),
            other => return Err(only_structs(PURPOSE, type_of(other))),
        };
        let field_schema = self
            .path
            .schema_from(&schema)?
            .ok_or_else(|| TransformError::new(format!("Unknown field: {}", self.path.original)))?;
        let extracted = match value {
            None => Value::Null,
            Some(s) => self
                .path
                .value_from_struct(s, self.replace_null_with_default)?,
        };
        Ok(Some(part.set(record, Some(field_schema), extracted)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::config::props_of;
    use crate::connect::SchemaBuilder;
    use crate::transforms::testing::{assert_config_key, map};

    fn configured(part: Part, pairs: &[(&str, &str)]) -> ExtractField {
        let mut xform = ExtractField::new(part);
        xform.configure(&props_of(pairs)).unwrap();
        xform
    }

    fn key_record(schema: Option<SchemaRef>, key: Value) -> ConnectRecord {
        ConnectRecord::new("test", None, Value::Null).with_key(schema, key)
    }

    fn steps(path: &str) -> Vec<String> {
        FieldPath::v2(path).unwrap().steps
    }

    // ExtractFieldTest.schemaless
    #[test]
    fn schemaless() {
        let xform = configured(Part::Key, &[("field", "magic")]);
        let out = xform
            .apply(key_record(None, map(vec![("magic", Value::Int32(42))])))
            .unwrap()
            .unwrap();
        assert_eq!(out.key_schema, None);
        assert_eq!(out.key, Value::Int32(42));
    }

    // ExtractFieldTest.schemalessAndNestedPath
    #[test]
    fn schemaless_and_nested_path() {
        let xform = configured(
            Part::Key,
            &[("field", "magic.foo"), ("field.syntax.version", "V2")],
        );
        let key = map(vec![("magic", map(vec![("foo", Value::Int32(42))]))]);
        let out = xform.apply(key_record(None, key)).unwrap().unwrap();
        assert_eq!(out.key, Value::Int32(42));
    }

    // ExtractFieldTest.nullSchemaless
    #[test]
    fn null_schemaless() {
        let xform = configured(Part::Key, &[("field", "magic")]);
        let out = xform.apply(key_record(None, Value::Null)).unwrap().unwrap();
        assert_eq!(out.key_schema, None);
        assert_eq!(out.key, Value::Null);
    }

    // ExtractFieldTest.withSchema
    #[test]
    fn with_schema() {
        let xform = configured(Part::Key, &[("field", "magic")]);
        let schema = SchemaBuilder::struct_()
            .field("magic", SchemaBuilder::int32().build())
            .build();
        let key = Struct::new(schema.clone()).put("magic", 42i32).unwrap();
        let out = xform
            .apply(key_record(Some(schema), key.into()))
            .unwrap()
            .unwrap();
        assert_eq!(out.key_schema, Some(SchemaBuilder::int32().build()));
        assert_eq!(out.key, Value::Int32(42));
    }

    // ExtractFieldTest.withSchemaAndNestedPath
    #[test]
    fn with_schema_and_nested_path() {
        let xform = configured(
            Part::Key,
            &[("field", "magic.foo"), ("field.syntax.version", "v2")],
        );
        let foo = SchemaBuilder::struct_()
            .field("foo", SchemaBuilder::int32().build())
            .build();
        let schema = SchemaBuilder::struct_().field("magic", foo.clone()).build();
        let key = Struct::new(schema.clone())
            .put("magic", Struct::new(foo).put("foo", 42i32).unwrap())
            .unwrap();
        let out = xform
            .apply(key_record(Some(schema), key.into()))
            .unwrap()
            .unwrap();
        assert_eq!(out.key_schema, Some(SchemaBuilder::int32().build()));
        assert_eq!(out.key, Value::Int32(42));
    }

    // ExtractFieldTest.testNullWithSchema
    #[test]
    fn null_with_schema() {
        let xform = configured(Part::Key, &[("field", "magic")]);
        let schema = SchemaBuilder::struct_()
            .field("magic", SchemaBuilder::int32().build())
            .optional()
            .build();
        let out = xform
            .apply(key_record(Some(schema), Value::Null))
            .unwrap()
            .unwrap();
        assert_eq!(out.key_schema, Some(SchemaBuilder::int32().build()));
        assert_eq!(out.key, Value::Null);
    }

    // ExtractFieldTest.nonExistentFieldSchemalessShouldReturnNull and
    // nonExistentNestedFieldSchemalessShouldReturnNull
    #[test]
    fn non_existent_field_schemaless_returns_null() {
        let xform = configured(Part::Key, &[("field", "nonexistent")]);
        let out = xform
            .apply(key_record(None, map(vec![("magic", Value::Int32(42))])))
            .unwrap()
            .unwrap();
        assert_eq!(out.key, Value::Null);

        let xform = configured(
            Part::Key,
            &[
                ("field", "magic.nonexistent"),
                ("field.syntax.version", "V2"),
            ],
        );
        let key = map(vec![("magic", map(vec![("foo", Value::Int32(42))]))]);
        let out = xform.apply(key_record(None, key)).unwrap().unwrap();
        assert_eq!(out.key, Value::Null);
    }

    // ExtractFieldTest.nonExistentFieldWithSchemaShouldFail and
    // nonExistentNestedFieldWithSchemaShouldFail
    #[test]
    fn non_existent_field_with_schema_fails() {
        let schema = SchemaBuilder::struct_()
            .field("magic", SchemaBuilder::int32().build())
            .build();
        let key = Struct::new(schema.clone()).put("magic", 42i32).unwrap();
        let xform = configured(Part::Key, &[("field", "nonexistent")]);
        let err = xform
            .apply(key_record(Some(schema), key.into()))
            .unwrap_err();
        assert_eq!(err.message, "Unknown field: nonexistent");

        let foo = SchemaBuilder::struct_()
            .field("foo", SchemaBuilder::int32().build())
            .build();
        let schema = SchemaBuilder::struct_().field("magic", foo.clone()).build();
        let key = Struct::new(schema.clone())
            .put("magic", Struct::new(foo).put("foo", 42i32).unwrap())
            .unwrap();
        let xform = configured(
            Part::Key,
            &[
                ("field", "magic.nonexistent"),
                ("field.syntax.version", "V2"),
            ],
        );
        let err = xform
            .apply(key_record(Some(schema), key.into()))
            .unwrap_err();
        assert_eq!(err.message, "Unknown field: magic.nonexistent");
    }

    // Requirements.requireStructOrNull / requireMapOrNull, as ExtractField
    // applies them (DataException in Java).
    #[test]
    fn wrong_value_types_are_data_errors() {
        let xform = configured(Part::Value, &[("field", "magic")]);
        let record = ConnectRecord::new("t", Some(SchemaBuilder::int32().build()), 42i32.into());
        let err = xform.apply(record).unwrap_err();
        assert_eq!(
            err.message,
            "Only Struct objects supported for [field extraction], found: INT32"
        );
        let record = ConnectRecord::new("t", None, Value::from("x"));
        let err = xform.apply(record).unwrap_err();
        assert!(
            err.message.starts_with("Only Map objects supported"),
            "{}",
            err.message
        );
    }

    // KIP-1040: replace.null.with.default=false keeps the null rather than
    // the field's default; the default keeps Java's old behaviour.
    #[test]
    fn replace_null_with_default() {
        let schema = SchemaBuilder::struct_()
            .field(
                "magic",
                SchemaBuilder::int32()
                    .optional()
                    .default_value(Value::Int32(7))
                    .build(),
            )
            .build();
        let value = Value::Struct(Struct::new(schema.clone()));
        let record = ConnectRecord::new("t", Some(schema), value);
        let with_default = configured(Part::Value, &[("field", "magic")]);
        let out = with_default.apply(record.clone()).unwrap().unwrap();
        assert_eq!(out.value, Value::Int32(7));
        let without = configured(
            Part::Value,
            &[("field", "magic"), ("replace.null.with.default", "false")],
        );
        let out = without.apply(record).unwrap().unwrap();
        assert_eq!(out.value, Value::Null);
        assert_eq!(out.value_schema.unwrap().default, Some(Value::Int32(7)));
    }

    // Value variant: the value is replaced, the key kept.
    #[test]
    fn value_variant_keeps_key() {
        let xform = configured(Part::Value, &[("field", "a")]);
        let record = ConnectRecord::new("t", None, map(vec![("a", Value::from("x"))]))
            .with_key(None, Value::from("k"));
        let out = xform.apply(record).unwrap().unwrap();
        assert_eq!(out.value, Value::from("x"));
        assert_eq!(out.key, Value::from("k"));
    }

    // FieldPathNotationTest.shouldBuildV2WhenIncludesDots,
    // shouldIncludeEmptyFieldNames, shouldBuildV2WithEmptyPath,
    // shouldBuildV2WithoutWrappingBackticks,
    // shouldBuildV2WhenIncludesDotsAndBacktickPair,
    // shouldBuildV2AndIgnoreBackticksThatAreNotWrapping,
    // shouldBuildV2AndEscapeBackticks
    #[test]
    fn v2_path_notation() {
        assert_eq!(steps("foo.bar.baz"), ["foo", "bar", "baz"]);
        assert_eq!(steps(".."), ["", "", ""]);
        assert_eq!(steps("foo.."), ["foo", "", ""]);
        assert_eq!(steps(".bar."), ["", "bar", ""]);
        assert_eq!(steps("..baz"), ["", "", "baz"]);
        assert!(steps("").is_empty());
        assert_eq!(steps("foobarbaz"), ["foobarbaz"]);
        assert_eq!(steps("foo`bar`baz"), ["foo`bar`baz"]);
        assert_eq!(steps("`foo.bar.baz`"), ["foo.bar.baz"]);
        assert_eq!(steps("foo.`bar.baz`"), ["foo", "bar.baz"]);
        assert_eq!(steps("`foo.bar`.baz"), ["foo.bar", "baz"]);
        assert_eq!(steps("foo.`bar`.baz"), ["foo", "bar", "baz"]);
        assert_eq!(steps("foo.``bar.baz`"), ["foo", "`bar.baz"]);
        assert_eq!(steps("foo.`bar.baz``"), ["foo", "bar.baz`"]);
        assert_eq!(steps("foo.`ba`r.baz`"), ["foo", "ba`r.baz"]);
        assert_eq!(steps("foo.ba`r.baz"), ["foo", "ba`r", "baz"]);
        assert_eq!(steps("foo.``bar``.baz"), ["foo", "`bar`", "baz"]);
        assert_eq!(steps("``foo.bar.baz``"), ["`foo.bar.baz`"]);
        assert_eq!(steps("foo.`bar\\`.baz`"), ["foo", "bar`.baz"]);
        assert_eq!(steps("foo.`bar.`baz`"), ["foo", "bar.`baz"]);
        assert_eq!(steps("foo.`bar\\`.`baz`"), ["foo", "bar`.`baz"]);
        assert_eq!(steps("foo.`bar\\\\`.\\`baz`"), ["foo", "bar\\`.\\`baz"]);
    }

    // FieldPathNotationTest.shouldFailV2WhenIncompleteBackticks (the message
    // is Java's; configure names the key)
    #[test]
    fn v2_incomplete_backticks_fail_naming_the_key() {
        for (path, at) in [
            ("`foo.bar.baz", 0),
            ("foo.`bar.baz", 4),
            ("foo.bar.`baz", 8),
            ("foo.bar.`baz\\`", 8),
        ] {
            let err = FieldPath::v2(path).unwrap_err();
            assert_eq!(
                err,
                format!(
                    "Incomplete backtick pair in path: [{path}], consider adding a backslash \
                     before backtick at position {at} to escape it"
                )
            );
        }
        let mut xform = ExtractField::new(Part::Value);
        let err = xform
            .configure(&props_of(&[
                ("field", "`a.b"),
                ("field.syntax.version", "V2"),
            ]))
            .unwrap_err();
        assert_config_key(&err, "field");
    }

    // FieldPathNotationTest.shouldBuildV1WithDotsAndBacktickPair
    #[test]
    fn v1_takes_the_name_as_is() {
        let xform = configured(Part::Value, &[("field", "foo.`bar.baz`")]);
        assert_eq!(xform.path.steps, ["foo.`bar.baz`"]);
    }

    #[test]
    fn config_errors_name_the_key() {
        let mut xform = ExtractField::new(Part::Value);
        let err = xform.configure(&props_of(&[])).unwrap_err();
        assert_config_key(&err, "field");
        let err = xform
            .configure(&props_of(&[("field", "a"), ("field.syntax.version", "V3")]))
            .unwrap_err();
        assert_config_key(&err, "field.syntax.version");
        let err = xform
            .configure(&props_of(&[
                ("field", "a"),
                ("replace.null.with.default", "maybe"),
            ]))
            .unwrap_err();
        assert_config_key(&err, "replace.null.with.default");
    }

    #[test]
    fn registered_under_java_names() {
        for name in [
            "org.apache.kafka.connect.transforms.ExtractField$Key",
            "ExtractField$Value",
        ] {
            assert!(crate::transforms::find_transform(name).is_some(), "{name}");
        }
    }
}
