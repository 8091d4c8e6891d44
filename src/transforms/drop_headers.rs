//! `DropHeaders`: removes every header whose key is listed in `headers`,
//! like `org.apache.kafka.connect.transforms.DropHeaders`.

use std::collections::BTreeSet;

use super::util::non_empty_list;
use super::TransformPlugin;
use crate::connect::config::{ConfigDef, ConfigType, Importance, Props, Validator};
use crate::connect::transform::{Transform, TransformError};
use crate::connect::{ConnectError, ConnectRecord};

const HEADERS_FIELD: &str = "headers";

pub const PLUGINS: &[TransformPlugin] = &[TransformPlugin {
    class: "org.apache.kafka.connect.transforms.DropHeaders",
    aliases: &["DropHeaders"],
    create: || Box::new(DropHeaders::default()),
}];

/// Removes one or more headers from each record.
#[derive(Debug, Default)]
pub struct DropHeaders {
    headers: BTreeSet<String>,
}

fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            HEADERS_FIELD,
            ConfigType::List,
            None,
            Importance::High,
            "The name of the headers to be removed.",
        )
        .validate_with(Validator::NonEmpty)
}

impl Transform for DropHeaders {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, props: &Props) -> Result<(), ConnectError> {
        let config = config_def().parse(props)?;
        let headers = config.list(HEADERS_FIELD)?;
        non_empty_list(HEADERS_FIELD, &headers)?;
        self.headers = headers.into_iter().collect();
        Ok(())
    }

    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, TransformError> {
        record.headers.retain(|h| !self.headers.contains(&h.key));
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::config::props_of;
    use crate::transforms::testing::{
        assert_config_key, assert_non_headers, record_with_headers as record,
        string_header as header,
    };

    fn xform(headers: &str) -> DropHeaders {
        let mut x = DropHeaders::default();
        x.configure(&props_of(&[("headers", headers)])).unwrap();
        x
    }

    // DropHeadersTest.dropExistingHeader
    #[test]
    fn drop_existing_header() {
        let original = record(vec![
            header("existing", "existing-value"),
            header("to-drop", "existing-value"),
        ]);
        let xformed = xform("to-drop").apply(original.clone()).unwrap().unwrap();
        assert_non_headers(&original, &xformed);
        assert_eq!(xformed.headers, vec![header("existing", "existing-value")]);
    }

    // DropHeadersTest.dropExistingHeaderWithMultipleValues
    #[test]
    fn drop_existing_header_with_multiple_values() {
        let original = record(vec![
            header("existing", "existing-value"),
            header("to-drop", "existing-value"),
            header("to-drop", "existing-other-value"),
        ]);
        let xformed = xform("to-drop").apply(original.clone()).unwrap().unwrap();
        assert_non_headers(&original, &xformed);
        assert_eq!(xformed.headers, vec![header("existing", "existing-value")]);
    }

    // DropHeadersTest.dropNonExistingHeader
    #[test]
    fn drop_non_existing_header() {
        let original = record(vec![header("existing", "existing-value")]);
        let xformed = xform("to-drop").apply(original.clone()).unwrap().unwrap();
        assert_eq!(xformed, original);
    }

    #[test]
    fn several_names_are_all_dropped() {
        let original = record(vec![header("a", "1"), header("b", "2"), header("c", "3")]);
        let xformed = xform("a, c").apply(original).unwrap().unwrap();
        assert_eq!(xformed.headers, vec![header("b", "2")]);
    }

    // DropHeadersTest.configRejectsEmptyList
    #[test]
    fn config_rejects_empty_or_missing_list() {
        for props in [
            props_of(&[("headers", "")]),
            props_of(&[("headers", " , ")]),
        ] {
            let err = DropHeaders::default().configure(&props).unwrap_err();
            assert_config_key(&err, "headers");
        }
        let err = DropHeaders::default()
            .configure(&props_of(&[]))
            .unwrap_err();
        assert!(matches!(&err, ConnectError::Config { key, message }
            if key == "headers" && message.contains("Missing required configuration")));
    }

    #[test]
    fn registered_under_java_names() {
        assert!(crate::transforms::find_transform(
            "org.apache.kafka.connect.transforms.DropHeaders"
        )
        .is_some());
        assert!(crate::transforms::find_transform("DropHeaders").is_some());
    }
}
