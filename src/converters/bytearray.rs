//! `ByteArrayConverter`: raw bytes through unchanged.

use std::borrow::Cow;

use crate::connect::{
    Converter, ConverterError, SchemaAndValue, SchemaBuilder, SchemaRef, SchemaType, Value,
};

#[derive(Debug, Clone, Copy)]
pub struct ByteArrayConverter;

impl Converter for ByteArrayConverter {
    fn from_connect(
        &self,
        topic: &str,
        schema: Option<&SchemaRef>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, ConverterError> {
        if let Some(s) = schema {
            if s.schema_type != SchemaType::Bytes {
                return Err(ConverterError::new(format!(
                    "Invalid schema type for ByteArrayConverter on topic {topic}: {}",
                    s.schema_type
                )));
            }
        }
        match value {
            Value::Null => Ok(None),
            Value::Bytes(b) => Ok(Some(b.clone())),
            _ => Err(ConverterError::new(format!(
                "ByteArrayConverter is not compatible with objects of type {:?} (topic {topic})",
                value.schema_type()
            ))),
        }
    }

    fn from_connect_ref<'v>(
        &self,
        topic: &str,
        schema: Option<&SchemaRef>,
        value: &'v Value,
    ) -> Result<Option<Cow<'v, [u8]>>, ConverterError> {
        match value {
            Value::Bytes(b) if schema.is_none_or(|s| s.schema_type == SchemaType::Bytes) => {
                Ok(Some(Cow::Borrowed(b)))
            }
            other => Ok(self.from_connect(topic, schema, other)?.map(Cow::Owned)),
        }
    }

    fn to_connect(
        &self,
        _topic: &str,
        bytes: Option<&[u8]>,
    ) -> Result<SchemaAndValue, ConverterError> {
        Ok(SchemaAndValue {
            schema: Some(SchemaBuilder::bytes().optional().build()),
            value: bytes.map_or(Value::Null, |b| Value::Bytes(b.to_vec())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The borrowing path borrows bytes and agrees with the copying one,
        /// errors included (a non-bytes schema or value).
        #[test]
        fn from_connect_ref_matches_from_connect(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64), string_schema in proptest::prelude::any::<bool>()) {
            let c = ByteArrayConverter;
            let value = Value::Bytes(bytes.clone());
            let schema = if string_schema { SchemaBuilder::string().build() } else { SchemaBuilder::bytes().build() };
            let copied = c.from_connect("t", Some(&schema), &value);
            match c.from_connect_ref("t", Some(&schema), &value) {
                Ok(Some(Cow::Borrowed(b))) => proptest::prop_assert_eq!(Ok(Some(b.to_vec())), copied),
                Ok(other) => proptest::prop_assert!(false, "expected borrowed bytes, got {:?}", other),
                Err(e) => proptest::prop_assert_eq!(Err(e), copied),
            }
            let text = Value::from("x");
            proptest::prop_assert_eq!(
                c.from_connect_ref("t", None, &text).map(|b| b.map(Cow::into_owned)),
                c.from_connect("t", None, &text)
            );
        }
    }
}
