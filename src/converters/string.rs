//! `StringConverter`: values as UTF-8 text.

use std::borrow::Cow;

use crate::connect::{
    Converter, ConverterError, Props, SchemaAndValue, SchemaBuilder, SchemaRef, Value,
};

#[derive(Debug, Clone)]
pub struct StringConverter {
    schema: SchemaRef,
}

impl StringConverter {
    /// Java's `converter.encoding` may name another charset; UTF-8 is the only
    /// one supported, and asking for another is an error rather than mojibake.
    pub fn configure(settings: &Props) -> Result<StringConverter, String> {
        if let Some(enc) = settings.get("encoding") {
            if !enc.eq_ignore_ascii_case("utf8") && !enc.eq_ignore_ascii_case("utf-8") {
                return Err(format!("StringConverter supports only UTF-8, not {enc}"));
            }
        }
        Ok(StringConverter {
            schema: SchemaBuilder::string().optional().build(),
        })
    }
}

impl Converter for StringConverter {
    fn from_connect(
        &self,
        _topic: &str,
        _schema: Option<&SchemaRef>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, ConverterError> {
        Ok(match value {
            Value::Null => None,
            Value::String(s) => Some(s.as_bytes().to_vec()),
            // Java calls toString() on anything else.
            other => Some(other.to_java_string().into_bytes()),
        })
    }

    fn from_connect_ref<'v>(
        &self,
        topic: &str,
        schema: Option<&SchemaRef>,
        value: &'v Value,
    ) -> Result<Option<Cow<'v, [u8]>>, ConverterError> {
        match value {
            Value::String(s) => Ok(Some(Cow::Borrowed(s.as_bytes()))),
            other => Ok(self.from_connect(topic, schema, other)?.map(Cow::Owned)),
        }
    }

    fn to_connect(
        &self,
        topic: &str,
        bytes: Option<&[u8]>,
    ) -> Result<SchemaAndValue, ConverterError> {
        let value = match bytes {
            None => Value::Null,
            Some(b) => Value::String(String::from_utf8(b.to_vec()).map_err(|e| {
                ConverterError::new(format!(
                    "Failed to deserialize string for topic {topic}: not valid UTF-8 ({e})"
                ))
            })?),
        };
        Ok(SchemaAndValue {
            schema: Some(self.schema.clone()),
            value,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bad_utf8() {
        let c = StringConverter::configure(&Props::new()).unwrap();
        let bytes = c.from_connect("t", None, &Value::from("héllo")).unwrap();
        assert_eq!(bytes.as_deref(), Some("héllo".as_bytes()));
        assert_eq!(
            c.to_connect("t", bytes.as_deref()).unwrap().value,
            Value::from("héllo")
        );
        assert!(c.to_connect("t", Some(&[0xff, 0xfe])).is_err());
        assert_eq!(c.from_connect("t", None, &Value::Null).unwrap(), None);
    }

    proptest::proptest! {
        /// The borrowing path gives the same bytes as the copying one, and
        /// borrows a string's own bytes instead of copying them.
        #[test]
        fn from_connect_ref_matches_from_connect(s in ".{0,40}", n in proptest::prelude::any::<i64>(), null in proptest::prelude::any::<bool>()) {
            let c = StringConverter::configure(&Props::new()).unwrap();
            let text = Value::from(s.as_str());
            let borrowed = c.from_connect_ref("t", None, &text).unwrap();
            proptest::prop_assert!(matches!(borrowed, Some(Cow::Borrowed(_))));
            let copied = c.from_connect("t", None, &text).unwrap();
            proptest::prop_assert_eq!(borrowed.as_deref(), copied.as_deref());
            let other = if null { Value::Null } else { Value::Int64(n) };
            let (borrowed, copied) = (
                c.from_connect_ref("t", None, &other).unwrap().map(Cow::into_owned),
                c.from_connect("t", None, &other).unwrap(),
            );
            proptest::prop_assert_eq!(borrowed, copied);
        }
    }
}
