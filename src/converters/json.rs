//! `JsonConverter` (being written; see tests/jsonconverter_vectors.rs).

use crate::connect::{Converter, ConverterError, Props, SchemaAndValue, SchemaRef, Value};

pub struct JsonConverter {
    _is_key: bool,
}

impl JsonConverter {
    pub fn configure(_settings: &Props, is_key: bool) -> Result<JsonConverter, String> {
        Ok(JsonConverter { _is_key: is_key })
    }
}

impl Converter for JsonConverter {
    fn from_connect(
        &self,
        _topic: &str,
        _schema: Option<&SchemaRef>,
        _value: &Value,
    ) -> Result<Option<Vec<u8>>, ConverterError> {
        Err(ConverterError::new("JsonConverter not yet written"))
    }

    fn to_connect(
        &self,
        _topic: &str,
        _bytes: Option<&[u8]>,
    ) -> Result<SchemaAndValue, ConverterError> {
        Err(ConverterError::new("JsonConverter not yet written"))
    }
}
