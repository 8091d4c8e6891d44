//! What the `$Key` / `$Value` variants of a transform share: which part of
//! the record they work on.

use crate::connect::{ConnectRecord, SchemaRef, Value};

/// The part of a record a transform variant works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Key,
    Value,
}

impl Part {
    pub fn schema(self, r: &ConnectRecord) -> Option<&SchemaRef> {
        match self {
            Part::Key => r.key_schema.as_ref(),
            Part::Value => r.value_schema.as_ref(),
        }
    }

    pub fn value(self, r: &ConnectRecord) -> &Value {
        match self {
            Part::Key => &r.key,
            Part::Value => &r.value,
        }
    }

    /// The record with this part replaced (Java's `newRecord`): topic,
    /// partition, timestamp, headers and the other part are kept.
    pub fn set(
        self,
        mut r: ConnectRecord,
        schema: Option<SchemaRef>,
        value: Value,
    ) -> ConnectRecord {
        match self {
            Part::Key => {
                r.key_schema = schema;
                r.key = value;
            }
            Part::Value => {
                r.value_schema = schema;
                r.value = value;
            }
        }
        r
    }

    /// "key" or "value", for messages.
    pub fn name(self) -> &'static str {
        match self {
            Part::Key => "key",
            Part::Value => "value",
        }
    }
}
