//! Fixtures the transforms' unit tests share.

use crate::connect::{ConnectError, ConnectRecord, Header, SchemaBuilder, SchemaRef, Value};

/// A schemaless map of string keys, in the order given.
pub fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    )
}

/// The value under `key` of a schemaless map; panics on anything else.
pub fn get<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    let Value::Map(entries) = value else {
        panic!("not a map: {value:?}")
    };
    super::util::map_get(entries, key)
}

/// An optional INT32 schema with a default, for KIP-1040's
/// `replace.null.with.default` cases.
pub fn defaulted_int32(default: i32) -> SchemaRef {
    SchemaBuilder::int32()
        .optional()
        .default_value(Value::Int32(default))
        .build()
}

/// A string header.
pub fn string_header(key: &str, value: &str) -> Header {
    Header {
        key: key.into(),
        schema: Some(SchemaBuilder::string().build()),
        value: Value::from(value),
    }
}

/// The header tests' source record (Java's `SourceRecord` fixture): topic
/// `topic`, partition 0, key `key`, value `value`, timestamp 0.
pub fn record_with_headers(headers: Vec<Header>) -> ConnectRecord {
    let mut r =
        ConnectRecord::new("topic", None, Value::from("value")).with_key(None, Value::from("key"));
    r.kafka_partition = Some(0);
    r.timestamp = Some(0);
    r.headers = headers;
    r
}

/// Everything but the headers is unchanged.
pub fn assert_non_headers(original: &ConnectRecord, xformed: &ConnectRecord) {
    let (mut a, mut b) = (original.clone(), xformed.clone());
    a.headers.clear();
    b.headers.clear();
    assert_eq!(a, b);
}

/// `err` is a configuration error naming `key`.
pub fn assert_config_key(err: &ConnectError, key: &str) {
    assert!(
        matches!(err, ConnectError::Config { key: k, .. } if k == key),
        "{err}"
    );
}
