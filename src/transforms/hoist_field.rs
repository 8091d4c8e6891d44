//! `HoistField$Key` / `HoistField$Value`: wrap the key or value in a
//! single-field Struct (schema'd) or Map (schemaless), like
//! `org.apache.kafka.connect.transforms.HoistField`.
//!
//! The new struct schema is unnamed, required, with one field carrying the
//! original schema. A null with a required original schema fails, as Java's
//! `Struct.put` does; schemaless nulls are wrapped as `{field: null}`.

use crate::connect::config::{ConfigDef, ConfigType, Importance, Props};
use crate::connect::transform::{Transform, TransformError};
use crate::connect::{ConnectError, ConnectRecord, SchemaBuilder, SchemaRef, Struct, Value};

use super::util::{key_value_plugins, Part, SchemaCache};
use super::TransformPlugin;

pub const PLUGINS: &[TransformPlugin] = key_value_plugins!(HoistField);

pub const FIELD_CONFIG: &str = "field";

/// The keys of `HoistField`, as Java declares them.
pub fn config_def() -> ConfigDef {
    ConfigDef::new().define(
        FIELD_CONFIG,
        ConfigType::String,
        None,
        Importance::Medium,
        "Field name for the single field that will be created in the resulting Struct or Map.",
    )
}

/// `HoistField$Key` or `HoistField$Value`.
pub struct HoistField {
    part: Part,
    field: String,
    /// Wrapped schemas by original schema.
    cache: SchemaCache,
}

impl HoistField {
    pub fn new(part: Part) -> Self {
        HoistField {
            part,
            field: String::new(),
            cache: SchemaCache::new(),
        }
    }

    fn wrapped_schema(&self, schema: &SchemaRef) -> SchemaRef {
        self.cache.get_or_insert(schema, || {
            SchemaBuilder::struct_()
                .field(self.field.clone(), schema.clone())
                .build()
        })
    }
}

impl Transform for HoistField {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, props: &Props) -> Result<(), ConnectError> {
        let config = config_def().parse(props)?;
        self.field = config
            .string(FIELD_CONFIG)?
            .unwrap_or_default()
            .trim()
            .to_owned();
        self.cache.clear();
        Ok(())
    }

    fn apply(&self, record: ConnectRecord) -> Result<Option<ConnectRecord>, TransformError> {
        let part = self.part;
        let value = part.value(&record).clone();
        match part.schema(&record).cloned() {
            None => {
                let wrapped = Value::Map(vec![(Value::from(self.field.as_str()), value)]);
                Ok(Some(part.set(record, None, wrapped)))
            }
            Some(schema) => {
                let updated = self.wrapped_schema(&schema);
                let mut wrapped = Struct::new(updated.clone());
                wrapped.set(&self.field, value)?;
                Ok(Some(part.set(record, Some(updated), wrapped.into())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::connect::config::props_of;
    use crate::connect::SchemaType;
    use crate::transforms::testing::assert_config_key;

    fn configured(part: Part, field: &str) -> HoistField {
        let mut xform = HoistField::new(part);
        xform.configure(&props_of(&[("field", field)])).unwrap();
        xform
    }

    // HoistFieldTest.schemaless (and testSchemalessMapIsMutable: the map is a
    // plain owned value)
    #[test]
    fn schemaless() {
        let xform = configured(Part::Key, "magic");
        let record = ConnectRecord::new("test", None, Value::Null).with_key(None, 42i32.into());
        let out = xform.apply(record).unwrap().unwrap();
        assert_eq!(out.key_schema, None);
        assert_eq!(
            out.key,
            Value::Map(vec![(Value::from("magic"), Value::Int32(42))])
        );
    }

    // HoistFieldTest.withSchema
    #[test]
    fn with_schema() {
        let xform = configured(Part::Key, "magic");
        let int32 = SchemaBuilder::int32().build();
        let record = ConnectRecord::new("test", None, Value::Null)
            .with_key(Some(int32.clone()), 42i32.into());
        let out = xform.apply(record).unwrap().unwrap();
        let schema = out.key_schema.clone().unwrap();
        assert_eq!(schema.schema_type, SchemaType::Struct);
        assert_eq!(schema.field("magic").unwrap().schema, int32);
        assert_eq!(
            out.key.as_struct().unwrap().get("magic"),
            Some(&Value::Int32(42))
        );
        // The schema is cached: the same Arc for the next record.
        let again = xform
            .apply(ConnectRecord::new("test", None, Value::Null).with_key(Some(int32), 1i32.into()))
            .unwrap()
            .unwrap();
        assert!(Arc::ptr_eq(&schema, again.key_schema.as_ref().unwrap()));
    }

    // HoistField.Value on a schema'd value; the key is untouched.
    #[test]
    fn value_variant_with_schema_and_null() {
        let xform = configured(Part::Value, "v");
        let optional = SchemaBuilder::string().optional().build();
        let out = xform
            .apply(
                ConnectRecord::new("t", Some(optional.clone()), Value::Null)
                    .with_key(None, "k".into()),
            )
            .unwrap()
            .unwrap();
        assert_eq!(out.key, Value::from("k"));
        assert_eq!(out.value.as_struct().unwrap().get("v"), Some(&Value::Null));
        // Struct.put(null) on a required field is a DataException in Java.
        let required = SchemaBuilder::string().build();
        let err = xform
            .apply(ConnectRecord::new("t", Some(required), Value::Null))
            .unwrap_err();
        assert!(
            err.message.contains("null used for required field"),
            "{}",
            err.message
        );
        // Schemaless null is wrapped.
        let out = xform
            .apply(ConnectRecord::new("t", None, Value::Null))
            .unwrap()
            .unwrap();
        assert_eq!(out.value, Value::Map(vec![(Value::from("v"), Value::Null)]));
    }

    #[test]
    fn missing_field_names_the_key() {
        let mut xform = HoistField::new(Part::Value);
        let err = xform.configure(&props_of(&[])).unwrap_err();
        assert_config_key(&err, "field");
    }

    #[test]
    fn registered_under_java_names() {
        for name in [
            "org.apache.kafka.connect.transforms.HoistField$Key",
            "org.apache.kafka.connect.transforms.HoistField$Value",
            "HoistField$Key",
        ] {
            assert!(crate::transforms::find_transform(name).is_some(), "{name}");
        }
    }
}
