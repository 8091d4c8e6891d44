//! Built-in converters and the factory that picks one from a
//! `key.converter` / `value.converter` class name.

pub mod avro;
pub mod bytearray;
pub mod json;
pub mod schema_registry;
pub mod string;

use crate::connect::{config::with_prefix, ConfigError, Converter, Props};

/// Converter class names (Java's) and their short aliases.
const JSON: &[&str] = &[
    "org.apache.kafka.connect.json.JsonConverter",
    "JsonConverter",
    "json",
];
const STRING: &[&str] = &[
    "org.apache.kafka.connect.storage.StringConverter",
    "StringConverter",
    "string",
];
const AVRO: &[&str] = &[
    "io.confluent.connect.avro.AvroConverter",
    "AvroConverter",
    "avro",
];
const BYTE_ARRAY: &[&str] = &[
    "org.apache.kafka.connect.converters.ByteArrayConverter",
    "ByteArrayConverter",
    "bytearray",
];

/// Every accepted converter class name, for error messages.
pub fn available() -> Vec<&'static str> {
    [JSON[0], STRING[0], BYTE_ARRAY[0], AVRO[0]].to_vec()
}

/// Builds the converter named by `<prefix>` (e.g. `value.converter`) in
/// `props`, configured with the `<prefix>.*` keys, like Java's worker does.
/// `is_key` selects key or value behaviour.
pub fn from_props(
    props: &Props,
    prefix: &str,
    is_key: bool,
) -> Result<Box<dyn Converter>, ConfigError> {
    let class = props
        .get(prefix)
        .map(String::as_str)
        .unwrap_or(JSON[0])
        .trim();
    let settings = with_prefix(props, &format!("{prefix}."));
    create(class, &settings, is_key).map_err(|message| ConfigError::new(prefix, message))
}

/// Builds a converter by class name with its own settings (prefix removed).
pub fn create(class: &str, settings: &Props, is_key: bool) -> Result<Box<dyn Converter>, String> {
    if JSON.contains(&class) {
        Ok(Box::new(json::JsonConverter::configure(settings, is_key)?))
    } else if STRING.contains(&class) {
        Ok(Box::new(string::StringConverter::configure(settings)?))
    } else if BYTE_ARRAY.contains(&class) {
        Ok(Box::new(bytearray::ByteArrayConverter))
    } else if AVRO.contains(&class) {
        Ok(Box::new(avro::AvroConverter::configure(settings, is_key)?))
    } else {
        Err(format!(
            "Unknown converter class {class}; available: {}",
            available().join(", ")
        ))
    }
}
