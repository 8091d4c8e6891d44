//! `TimestampRouter`: rewrites the topic from the original topic and the
//! record timestamp, like `org.apache.kafka.connect.transforms.TimestampRouter`.
//! Mainly useful for sink connectors, since the topic often names the
//! destination entity (e.g. a table or index per day).

use super::timestamp_converter::JavaDateFormat;
use super::TransformPlugin;
use crate::connect::config::{ConfigDef, ConfigType, Importance, Props};
use crate::connect::transform::{Transform, TransformError};
use crate::connect::{ConnectError, ConnectRecord};

const TOPIC_FORMAT: &str = "topic.format";
const TIMESTAMP_FORMAT: &str = "timestamp.format";

pub const PLUGINS: &[TransformPlugin] = &[TransformPlugin {
    class: "org.apache.kafka.connect.transforms.TimestampRouter",
    aliases: &["TimestampRouter"],
    create: || Box::new(TimestampRouter::default()),
}];

/// Update the record's topic field as a function of the original topic value
/// and the record timestamp (formatted in UTC).
#[derive(Debug, Default)]
pub struct TimestampRouter {
    settings: Option<(String, JavaDateFormat)>,
}

fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            TOPIC_FORMAT,
            ConfigType::String,
            Some("${topic}-${timestamp}"),
            Importance::High,
            "Format string which can contain <code>${topic}</code> and <code>${timestamp}</code> as placeholders for the topic and timestamp, respectively.",
        )
        .define(
            TIMESTAMP_FORMAT,
            ConfigType::String,
            Some("yyyyMMdd"),
            Importance::High,
            "Format string for the timestamp that is compatible with <code>java.text.SimpleDateFormat</code>.",
        )
}

impl Transform for TimestampRouter {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, props: &Props) -> Result<(), ConnectError> {
        let config = config_def().parse(props)?;
        let topic_format = config.string(TOPIC_FORMAT)?.unwrap_or_default();
        let pattern = config.string(TIMESTAMP_FORMAT)?.unwrap_or_default();
        // Java builds the SimpleDateFormat lazily and fails on the first
        // record; an invalid pattern is reported here instead.
        let format = JavaDateFormat::new(&pattern).map_err(|why| {
            ConnectError::config(
                TIMESTAMP_FORMAT,
                format!("Invalid value {pattern} for configuration {TIMESTAMP_FORMAT}: {why}"),
            )
        })?;
        self.settings = Some((topic_format, format));
        Ok(())
    }

    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, TransformError> {
        let (topic_format, format) = self
            .settings
            .as_ref()
            .ok_or_else(|| TransformError::new("TimestampRouter is not configured"))?;
        let Some(timestamp) = record.timestamp else {
            return Err(TransformError::new(format!(
                "Timestamp missing on record: topic={}, partition={:?}",
                record.topic, record.kafka_partition
            )));
        };
        let formatted = format.format(timestamp);
        // As in Java: ${topic} first, then ${timestamp} in the result.
        let with_topic = topic_format.replace("${topic}", &record.topic);
        record.topic = with_topic.replace("${timestamp}", &formatted);
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::config::props_of;
    use crate::connect::Value;

    fn router(props: &[(&str, &str)]) -> TimestampRouter {
        let mut r = TimestampRouter::default();
        r.configure(&props_of(props)).unwrap();
        r
    }

    fn record(topic: &str, timestamp: Option<i64>) -> ConnectRecord {
        let mut r = ConnectRecord::new(topic, None, Value::Null);
        r.kafka_partition = Some(0);
        r.timestamp = timestamp;
        r
    }

    // TimestampRouterTest.defaultConfiguration
    #[test]
    fn default_configuration() {
        let out = router(&[])
            .apply(record("test", Some(1_483_425_001_864)))
            .unwrap()
            .unwrap();
        assert_eq!(out.topic, "test-20170103");
    }

    #[test]
    fn custom_formats() {
        let r = router(&[
            ("topic.format", "${timestamp}/${topic}/${timestamp}"),
            ("timestamp.format", "yyyy-MM-dd'T'HH"),
        ]);
        let out = r
            .apply(record("orders", Some(1_483_425_001_864)))
            .unwrap()
            .unwrap();
        assert_eq!(out.topic, "2017-01-03T06/orders/2017-01-03T06");
        // Everything but the topic is kept.
        assert_eq!(out.timestamp, Some(1_483_425_001_864));
        assert_eq!(out.kafka_partition, Some(0));
    }

    #[test]
    fn missing_timestamp_fails() {
        let err = router(&[]).apply(record("test", None)).unwrap_err();
        assert!(
            err.message.starts_with("Timestamp missing on record"),
            "{}",
            err.message
        );
    }

    #[test]
    fn invalid_timestamp_format_names_the_key() {
        let err = TimestampRouter::default()
            .configure(&props_of(&[("timestamp.format", "yyyy-bb")]))
            .unwrap_err();
        assert!(
            matches!(&err, ConnectError::Config { key, message }
                if key == "timestamp.format" && message.contains("Illegal pattern character 'b'")),
            "{err}"
        );
    }

    #[test]
    fn registered_under_java_names() {
        assert!(crate::transforms::find_transform(
            "org.apache.kafka.connect.transforms.TimestampRouter"
        )
        .is_some());
        assert!(crate::transforms::find_transform("TimestampRouter").is_some());
    }
}
