//! `ByteArrayConverter`: raw bytes through unchanged.

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
