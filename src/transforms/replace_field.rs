//! `ReplaceField$Key` / `ReplaceField$Value`: drop, keep and rename fields,
//! like `org.apache.kafka.connect.transforms.ReplaceField`.
//!
//! `exclude` wins over `include`; an empty `include` keeps everything;
//! `renames` maps old to new names (`foo:bar,abc:xyz`). The deprecated
//! `blacklist` / `whitelist` (Kafka 2.x names, dropped in 4.0) are read as
//! `exclude` / `include` when the new key is absent. The schema'd result
//! keeps the original's name, version, doc and parameters, and each kept
//! field's schema. Null keys/values pass through unchanged.

use std::collections::{BTreeMap, BTreeSet};

use crate::connect::config::{split_list, ConfigDef, ConfigType, Importance, Props};
use crate::connect::transform::{Transform, TransformError};
use crate::connect::{ConnectError, ConnectRecord, SchemaRef, SchemaType, Struct, Value};

use super::util::{
    add_field, copy_schema_basics, field_value, key_value_plugins, map_put, only_maps,
    only_structs, type_of, ConfigDefExt, Part, SchemaCache,
};
use super::TransformPlugin;

pub const PLUGINS: &[TransformPlugin] = key_value_plugins!(ReplaceField);

pub const EXCLUDE: &str = "exclude";
pub const INCLUDE: &str = "include";
pub const RENAMES: &str = "renames";
pub use super::util::REPLACE_NULL_WITH_DEFAULT_CONFIG;
/// Deprecated name of `exclude`.
pub const BLACKLIST: &str = "blacklist";
/// Deprecated name of `include`.
pub const WHITELIST: &str = "whitelist";

const PURPOSE: &str = "field replacement";

/// The keys of `ReplaceField`, as Java declares them.
pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            EXCLUDE,
            ConfigType::List,
            Some(""),
            Importance::Medium,
            "Fields to exclude. This takes precedence over the fields to include.",
        )
        .define(
            INCLUDE,
            ConfigType::List,
            Some(""),
            Importance::Medium,
            "Fields to include. If specified, only these fields will be used.",
        )
        .define(
            RENAMES,
            ConfigType::List,
            Some(""),
            Importance::Medium,
            "Field rename mappings.",
        )
        .define_replace_null_with_default()
}

/// Java's `parseRenameMappings`: each item must be `old:new` (`String.split`
/// drops trailing empty parts, so `a:` is invalid and `:b` renames "").
fn parse_renames(raw: &str) -> Result<BTreeMap<String, String>, String> {
    let mut renames = BTreeMap::new();
    for mapping in split_list(raw) {
        let mut parts: Vec<&str> = mapping.split(':').collect();
        while parts.len() > 1 && parts.last() == Some(&"") {
            parts.pop();
        }
        let [from, to] = parts[..] else {
            return Err(format!(
                "Invalid value [{}] for configuration {RENAMES}: Invalid rename mapping: {mapping}",
                split_list(raw).join(", ")
            ));
        };
        renames.insert(from.to_owned(), to.to_owned());
    }
    Ok(renames)
}

/// `ReplaceField$Key` or `ReplaceField$Value`.
pub struct ReplaceField {
    part: Part,
    exclude: BTreeSet<String>,
    include: BTreeSet<String>,
    renames: BTreeMap<String, String>,
    reverse_renames: BTreeMap<String, String>,
    replace_null_with_default: bool,
    /// Updated schemas by original schema.
    cache: SchemaCache,
}

impl ReplaceField {
    pub fn new(part: Part) -> Self {
        ReplaceField {
            part,
            exclude: BTreeSet::new(),
            include: BTreeSet::new(),
            renames: BTreeMap::new(),
            reverse_renames: BTreeMap::new(),
            replace_null_with_default: true,
            cache: SchemaCache::new(),
        }
    }

    fn keeps(&self, name: &str) -> bool {
        !self.exclude.contains(name) && (self.include.is_empty() || self.include.contains(name))
    }

    fn renamed<'a>(&'a self, name: &'a str) -> &'a str {
        self.renames.get(name).map_or(name, String::as_str)
    }

    fn reverse_renamed<'a>(&'a self, name: &'a str) -> &'a str {
        self.reverse_renames.get(name).map_or(name, String::as_str)
    }

    fn updated_schema(&self, schema: &SchemaRef) -> Result<SchemaRef, TransformError> {
        self.cache.get_or_try_insert(schema, || {
            let mut updated = copy_schema_basics(schema, SchemaType::Struct);
            for field in schema.fields.iter().filter(|f| self.keeps(&f.name)) {
                let name = self.renamed(&field.name).to_owned();
                add_field(&mut updated, name, field.schema.clone())?;
            }
            Ok(updated.into())
        })
    }
}

impl Transform for ReplaceField {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, props: &Props) -> Result<(), ConnectError> {
        // Java 3.x's ConfigUtils.translateDeprecatedConfigs: the old name
        // counts only when the new one is not set.
        let mut props = props.clone();
        for (new, old) in [(INCLUDE, WHITELIST), (EXCLUDE, BLACKLIST)] {
            if let Some(value) = props.remove(old) {
                props.entry(new.to_owned()).or_insert(value);
            }
        }
        let config = config_def().parse(&props)?;
        self.exclude = config.list(EXCLUDE)?.into_iter().collect();
        self.include = config.list(INCLUDE)?.into_iter().collect();
        self.renames = parse_renames(props.get(RENAMES).map_or("", String::as_str))
            .map_err(|message| ConnectError::config(RENAMES, message))?;
        self.reverse_renames = self
            .renames
            .iter()
            .map(|(from, to)| (to.clone(), from.clone()))
            .collect();
        self.replace_null_with_default = config.boolean(REPLACE_NULL_WITH_DEFAULT_CONFIG)?;
        self.cache.clear();
        Ok(())
    }

    fn apply(&self, record: ConnectRecord) -> Result<Option<ConnectRecord>, TransformError> {
        let part = self.part;
        let value = part.value(&record);
        if value.is_null() {
            return Ok(Some(record));
        }
        match (part.schema(&record), value) {
            (None, Value::Map(entries)) => {
                let mut updated: Vec<(Value, Value)> = Vec::with_capacity(entries.len());
                for (key, v) in entries {
                    let Some(name) = key.as_str() else {
                        return Err(TransformError::new(format!(
                            "Only Map objects with String keys supported in absence of schema \
                             for [{PURPOSE}], found a {} key",
                            type_of(key)
                        )));
                    };
                    if !self.keeps(name) {
                        continue;
                    }
                    map_put(&mut updated, self.renamed(name), v.clone());
                }
                Ok(Some(part.set(record, None, Value::Map(updated))))
            }
            (None, other) => Err(only_maps(PURPOSE, type_of(other))),
            (Some(_), Value::Struct(s)) => {
                let updated_schema = self.updated_schema(s.schema())?;
                let mut updated = Struct::new(updated_schema.clone());
                for field in &updated_schema.fields {
                    let original = s
                        .schema()
                        .field(self.reverse_renamed(&field.name))
                        .ok_or_else(|| {
                            TransformError::new(format!(
                                "{} is not a valid field name",
                                self.reverse_renamed(&field.name)
                            ))
                        })?;
                    let v = field_value(s, original.index, self.replace_null_with_default);
                    if !v.is_null() {
                        updated.set(&field.name, v.clone())?;
                    }
                }
                Ok(Some(part.set(record, Some(updated_schema), updated.into())))
            }
            (Some(_), other) => Err(only_structs(PURPOSE, type_of(other))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::config::props_of;
    use crate::connect::SchemaBuilder;
    use crate::transforms::testing::{assert_config_key, defaulted_int32, map};
    use proptest::prelude::*;

    fn configured(part: Part, pairs: &[(&str, &str)]) -> ReplaceField {
        let mut xform = ReplaceField::new(part);
        xform.configure(&props_of(pairs)).unwrap();
        xform
    }

    fn schema() -> SchemaRef {
        SchemaBuilder::struct_()
            .field("dont", SchemaBuilder::string().build())
            .field("abc", SchemaBuilder::int32().build())
            .field("foo", SchemaBuilder::boolean().build())
            .field("etc", SchemaBuilder::string().build())
            .build()
    }

    fn value() -> Struct {
        Struct::new(schema())
            .put("dont", "whatever")
            .unwrap()
            .put("abc", 42i32)
            .unwrap()
            .put("foo", true)
            .unwrap()
            .put("etc", "etc")
            .unwrap()
    }

    // ReplaceFieldTest.schemaless (with Java's `exclude`; the old test used
    // the deprecated `blacklist`, see below)
    #[test]
    fn schemaless() {
        let xform = configured(
            Part::Value,
            &[("exclude", "dont"), ("renames", "abc:xyz,foo:bar")],
        );
        let value = map(vec![
            ("dont", Value::from("whatever")),
            ("abc", Value::Int32(42)),
            ("foo", Value::Boolean(true)),
            ("etc", Value::from("etc")),
        ]);
        let out = xform
            .apply(ConnectRecord::new("test", None, value))
            .unwrap()
            .unwrap();
        assert_eq!(
            out.value,
            map(vec![
                ("xyz", Value::Int32(42)),
                ("bar", Value::Boolean(true)),
                ("etc", Value::from("etc")),
            ])
        );
    }

    // ReplaceFieldTest.withSchema
    #[test]
    fn with_schema() {
        let xform = configured(
            Part::Value,
            &[("include", "abc,foo"), ("renames", "abc:xyz,foo:bar")],
        );
        let out = xform
            .apply(ConnectRecord::new("test", Some(schema()), value().into()))
            .unwrap()
            .unwrap();
        let s = out.value.as_struct().unwrap();
        assert_eq!(s.schema().fields.len(), 2);
        assert_eq!(s.get("xyz"), Some(&Value::Int32(42)));
        assert_eq!(s.get("bar"), Some(&Value::Boolean(true)));
        assert_eq!(out.value_schema.as_ref(), Some(s.schema()));
    }

    // ReplaceFieldTest.schemaless / withSchema as first written, with the
    // deprecated `blacklist` / `whitelist` names (ConfigUtils.translateDeprecatedConfigs)
    #[test]
    fn deprecated_blacklist_and_whitelist() {
        let xform = configured(
            Part::Value,
            &[("blacklist", "dont"), ("renames", "abc:xyz,foo:bar")],
        );
        let out = xform
            .apply(ConnectRecord::new("test", Some(schema()), value().into()))
            .unwrap()
            .unwrap();
        let names: Vec<_> = out
            .value
            .as_struct()
            .unwrap()
            .schema()
            .fields
            .iter()
            .map(|f| f.name.clone())
            .collect();
        assert_eq!(names, ["xyz", "bar", "etc"]);
        let xform = configured(Part::Value, &[("whitelist", "abc,foo")]);
        let out = xform
            .apply(ConnectRecord::new("test", Some(schema()), value().into()))
            .unwrap()
            .unwrap();
        assert_eq!(out.value.as_struct().unwrap().schema().fields.len(), 2);
        // The new name wins when both are set.
        let xform = configured(Part::Value, &[("include", "etc"), ("whitelist", "abc,foo")]);
        let out = xform
            .apply(ConnectRecord::new("test", Some(schema()), value().into()))
            .unwrap()
            .unwrap();
        let s = out.value.as_struct().unwrap();
        assert_eq!(s.schema().fields.len(), 1);
        assert_eq!(s.get("etc"), Some(&Value::from("etc")));
    }

    // ReplaceField.apply: a null value is returned unchanged (Java's
    // `operatingValue(record) == null` check), with or without a schema.
    #[test]
    fn tombstones_pass_through() {
        let xform = configured(
            Part::Value,
            &[("include", "abc,foo"), ("renames", "abc:xyz,foo:bar")],
        );
        let r = ConnectRecord::new("test", None, Value::Null);
        assert_eq!(xform.apply(r.clone()).unwrap(), Some(r));
        let r = ConnectRecord::new("test", Some(schema()), Value::Null);
        assert_eq!(xform.apply(r.clone()).unwrap(), Some(r));
    }

    // ReplaceField$Key with schema: exclude wins over include; schema basics
    // kept.
    #[test]
    fn key_with_schema_exclude_wins() {
        let xform = configured(Part::Key, &[("include", "abc,foo"), ("exclude", "foo")]);
        let named = SchemaBuilder::struct_()
            .name("k")
            .version(2)
            .field("abc", SchemaBuilder::int32().build())
            .field("foo", SchemaBuilder::boolean().build())
            .build();
        let key = Struct::new(named.clone())
            .put("abc", 1i32)
            .unwrap()
            .put("foo", false)
            .unwrap();
        let out = xform
            .apply(ConnectRecord::new("t", None, "v".into()).with_key(Some(named), key.into()))
            .unwrap()
            .unwrap();
        let s = out.key.as_struct().unwrap();
        assert_eq!(s.schema().name.as_deref(), Some("k"));
        assert_eq!(s.schema().version, Some(2));
        assert_eq!(s.schema().fields.len(), 1);
        assert_eq!(s.get("abc"), Some(&Value::Int32(1)));
        assert_eq!(out.value, Value::from("v"));
    }

    // ReplaceField.parseRenameMappings: ConfigException on `renames`.
    #[test]
    fn invalid_rename_mapping_names_the_key() {
        for bad in ["abc", "a:b:c", "abc:"] {
            let mut xform = ReplaceField::new(Part::Value);
            let err = xform.configure(&props_of(&[("renames", bad)])).unwrap_err();
            assert!(
                matches!(err, ConnectError::Config { ref key, ref message } if key == "renames" && message.contains("Invalid rename mapping")),
                "{err}"
            );
        }
        let mut xform = ReplaceField::new(Part::Value);
        let err = xform
            .configure(&props_of(&[("replace.null.with.default", "nope")]))
            .unwrap_err();
        assert_config_key(&err, "replace.null.with.default");
    }

    // KIP-1040: replace.null.with.default=false copies nulls as nulls.
    #[test]
    fn replace_null_with_default() {
        let schema = SchemaBuilder::struct_()
            .field("n", defaulted_int32(5))
            .build();
        let r = ConnectRecord::new("t", Some(schema.clone()), Struct::new(schema).into());
        let with = configured(Part::Value, &[("renames", "n:m")]);
        let out = with.apply(r.clone()).unwrap().unwrap();
        assert_eq!(
            out.value.as_struct().unwrap().raw_values(),
            [Value::Int32(5)]
        );
        let without = configured(
            Part::Value,
            &[("renames", "n:m"), ("replace.null.with.default", "false")],
        );
        let out = without.apply(r).unwrap().unwrap();
        assert_eq!(out.value.as_struct().unwrap().raw_values(), [Value::Null]);
    }

    #[test]
    fn registered_under_java_names() {
        for name in [
            "org.apache.kafka.connect.transforms.ReplaceField$Key",
            "org.apache.kafka.connect.transforms.ReplaceField$Value",
            "ReplaceField$Value",
        ] {
            assert!(crate::transforms::find_transform(name).is_some(), "{name}");
        }
    }

    proptest! {
        // The schema'd and schemaless paths agree: the same fields survive,
        // renamed the same way, with the same values, and the output struct
        // is valid against its schema.
        #[test]
        fn schemaless_and_schemad_agree(
            fields in prop::collection::btree_map("[a-e]", any::<i32>(), 0..5),
            exclude in prop::collection::btree_set("[a-e]", 0..3),
            include in prop::collection::btree_set("[a-e]", 0..3),
        ) {
            let exclude = exclude.into_iter().collect::<Vec<_>>().join(",");
            let include = include.into_iter().collect::<Vec<_>>().join(",");
            // Rename every field to its upper-case name: never a collision.
            let renames = "a:A,b:B,c:C,d:D,e:E";
            let xform = configured(
                Part::Value,
                &[("exclude", &exclude), ("include", &include), ("renames", renames)],
            );
            let mut builder = SchemaBuilder::struct_();
            for name in fields.keys() {
                builder = builder.field(name.clone(), SchemaBuilder::int32().build());
            }
            let mut s = Struct::new(builder.build());
            for (k, v) in &fields {
                s.set(k, Value::Int32(*v)).unwrap();
            }
            let schemaless = Value::Map(
                fields.iter().map(|(k, v)| (Value::from(k.as_str()), Value::Int32(*v))).collect(),
            );
            let a = xform.apply(ConnectRecord::new("t", None, schemaless)).unwrap().unwrap().value;
            let b = xform
                .apply(ConnectRecord::new("t", Some(s.schema().clone()), s.clone().into()))
                .unwrap()
                .unwrap()
                .value;
            let b = b.as_struct().unwrap();
            prop_assert!(b.validate().is_ok());
            let from_struct: Vec<(Value, Value)> = b
                .schema()
                .fields
                .iter()
                .map(|f| (Value::from(f.name.as_str()), b.get_by_index(f.index).clone()))
                .collect();
            prop_assert_eq!(a, Value::Map(from_struct));
        }
    }
}
