//! The built-in predicates of
//! `org.apache.kafka.connect.transforms.predicates`: `TopicNameMatches`,
//! `HasHeaderKey` and `RecordIsTombstone`.

use regex::Regex;

use super::PredicatePlugin;
use crate::connect::config::{ConfigDef, ConfigType, Importance, Props, Validator};
use crate::connect::transform::Predicate;
use crate::connect::{ConnectError, ConnectRecord};

pub const PLUGINS: &[PredicatePlugin] = &[
    PredicatePlugin {
        class: "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
        aliases: &["TopicNameMatches"],
        create: || Box::new(TopicNameMatches::default()),
    },
    PredicatePlugin {
        class: "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
        aliases: &["HasHeaderKey"],
        create: || Box::new(HasHeaderKey::default()),
    },
    PredicatePlugin {
        class: "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
        aliases: &["RecordIsTombstone"],
        create: || Box::new(RecordIsTombstone),
    },
];

const PATTERN_CONFIG: &str = "pattern";
const NAME_CONFIG: &str = "name";

/// True for records whose topic name matches `pattern` (the whole name, as
/// Java's `Matcher.matches`).
#[derive(Debug, Default)]
pub struct TopicNameMatches {
    /// The pattern anchored at both ends.
    pattern: Option<Regex>,
}

fn topic_name_matches_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            PATTERN_CONFIG,
            ConfigType::String,
            None,
            Importance::Medium,
            "A Java regular expression for matching against the name of a record's topic.",
        )
        .validate_with(Validator::Regex)
}

impl Predicate for TopicNameMatches {
    fn config_def(&self) -> ConfigDef {
        topic_name_matches_def()
    }

    fn configure(&mut self, props: &Props) -> Result<(), ConnectError> {
        let config = topic_name_matches_def().parse(props)?;
        let value = config.string(PATTERN_CONFIG)?.unwrap_or_default();
        // Java composes NonEmptyString with RegexValidator.
        if value.is_empty() {
            return Err(ConnectError::config(
                PATTERN_CONFIG,
                format!("Invalid value {value} for configuration {PATTERN_CONFIG}: String must be non-empty"),
            ));
        }
        let anchored = Regex::new(&format!(r"\A(?:{value})\z")).map_err(|e| {
            ConnectError::config(
                PATTERN_CONFIG,
                format!(
                    "Invalid value {value} for configuration {PATTERN_CONFIG}: Invalid regex: {e}"
                ),
            )
        })?;
        self.pattern = Some(anchored);
        Ok(())
    }

    fn test(&self, record: &ConnectRecord) -> bool {
        self.pattern
            .as_ref()
            .is_some_and(|p| p.is_match(&record.topic))
    }
}

/// True for records with at least one header called `name`.
#[derive(Debug, Default)]
pub struct HasHeaderKey {
    name: String,
}

fn has_header_key_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            NAME_CONFIG,
            ConfigType::String,
            None,
            Importance::Medium,
            "The header name.",
        )
        .validate_with(Validator::NonEmpty)
}

impl Predicate for HasHeaderKey {
    fn config_def(&self) -> ConfigDef {
        has_header_key_def()
    }

    fn configure(&mut self, props: &Props) -> Result<(), ConnectError> {
        let config = has_header_key_def().parse(props)?;
        self.name = config.string(NAME_CONFIG)?.unwrap_or_default();
        Ok(())
    }

    fn test(&self, record: &ConnectRecord) -> bool {
        record.headers.iter().any(|h| h.key == self.name)
    }
}

/// True for tombstones: records whose value is null.
#[derive(Debug, Default)]
pub struct RecordIsTombstone;

impl Predicate for RecordIsTombstone {
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
    }

    fn configure(&mut self, _props: &Props) -> Result<(), ConnectError> {
        Ok(())
    }

    fn test(&self, record: &ConnectRecord) -> bool {
        record.value.is_null()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::config::props_of;
    use crate::connect::{Header, SchemaBuilder, Value};

    fn config_err(p: &mut dyn Predicate, props: &[(&str, &str)]) -> (String, String) {
        match p.configure(&props_of(props)).unwrap_err() {
            ConnectError::Config { key, message } => (key, message),
            other => panic!("not a config error: {other}"),
        }
    }

    fn topic(name: &str) -> ConnectRecord {
        ConnectRecord::new(name, None, Value::Null)
    }

    // TopicNameMatchesTest.testPatternRequiredInConfig
    #[test]
    fn topic_name_matches_pattern_required() {
        let (key, message) = config_err(&mut TopicNameMatches::default(), &[]);
        assert_eq!(key, "pattern");
        assert!(message.contains("Missing required configuration \"pattern\""));
    }

    // TopicNameMatchesTest.testPatternMayNotBeEmptyInConfig
    #[test]
    fn topic_name_matches_pattern_not_empty() {
        let (key, message) = config_err(&mut TopicNameMatches::default(), &[("pattern", "")]);
        assert_eq!(key, "pattern");
        assert!(message.contains("String must be non-empty"), "{message}");
    }

    // TopicNameMatchesTest.testPatternIsValidRegexInConfig / testConfig
    #[test]
    fn topic_name_matches_pattern_must_be_a_regex() {
        for bad in ["[", "*"] {
            let (key, message) = config_err(&mut TopicNameMatches::default(), &[("pattern", bad)]);
            assert_eq!(key, "pattern");
            assert!(message.contains("regular expression"), "{message}");
        }
        let errors = topic_name_matches_def().validate(&props_of(&[("pattern", "*")]));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].key, "pattern");
        assert!(topic_name_matches_def()
            .validate(&props_of(&[("pattern", "my-prefix-.*")]))
            .is_empty());
    }

    // TopicNameMatchesTest.testTest
    #[test]
    fn topic_name_matches_whole_topic() {
        let mut p = TopicNameMatches::default();
        p.configure(&props_of(&[("pattern", "my-prefix-.*")]))
            .unwrap();
        assert!(p.test(&topic("my-prefix-")));
        assert!(p.test(&topic("my-prefix-foo")));
        assert!(!p.test(&topic("x-my-prefix-")));
        assert!(!p.test(&topic("x-my-prefix-foo")));
        assert!(!p.test(&topic("your-prefix-")));
        assert!(!p.test(&topic("your-prefix-foo")));
        assert!(!p.test(&topic("")));
        // Alternation is anchored as a whole, as with Matcher.matches.
        let mut p = TopicNameMatches::default();
        p.configure(&props_of(&[("pattern", "a|ab")])).unwrap();
        assert!(p.test(&topic("ab")));
        assert!(!p.test(&topic("abc")));
    }

    // HasHeaderKeyTest.testNameRequiredInConfig
    #[test]
    fn has_header_key_name_required() {
        let (key, message) = config_err(&mut HasHeaderKey::default(), &[]);
        assert_eq!(key, "name");
        assert!(message.contains("Missing required configuration \"name\""));
    }

    // HasHeaderKeyTest.testNameMayNotBeEmptyInConfig / testConfig
    #[test]
    fn has_header_key_name_not_empty() {
        let (key, message) = config_err(&mut HasHeaderKey::default(), &[("name", "")]);
        assert_eq!(key, "name");
        assert_eq!(
            message,
            "Invalid value  for configuration name: String must be non-empty"
        );
        assert!(has_header_key_def()
            .validate(&props_of(&[("name", "foo")]))
            .is_empty());
    }

    fn with_headers(keys: &[&str]) -> ConnectRecord {
        let mut r = topic("t");
        r.headers = keys
            .iter()
            .map(|k| Header {
                key: (*k).into(),
                schema: None,
                value: Value::Null,
            })
            .collect();
        r
    }

    // HasHeaderKeyTest.testTest
    #[test]
    fn has_header_key_test() {
        let mut p = HasHeaderKey::default();
        p.configure(&props_of(&[("name", "foo")])).unwrap();
        assert!(p.test(&with_headers(&["foo"])));
        assert!(p.test(&with_headers(&["foo", "bar"])));
        assert!(p.test(&with_headers(&["bar", "foo", "bar", "foo"])));
        assert!(!p.test(&with_headers(&["bar"])));
        assert!(!p.test(&with_headers(&["bar", "bar"])));
        assert!(!p.test(&with_headers(&[])));
    }

    // RecordIsTombstone has no Java unit test; its contract: value == null.
    #[test]
    fn record_is_tombstone_when_value_is_null() {
        let mut p = RecordIsTombstone;
        p.configure(&props_of(&[])).unwrap();
        assert!(p.test(&ConnectRecord::new("t", None, Value::Null)));
        // A null value is a tombstone even with a schema or a key.
        let schema = SchemaBuilder::string().optional().build();
        assert!(p.test(
            &ConnectRecord::new("t", Some(schema.clone()), Value::Null)
                .with_key(None, Value::from("k"))
        ));
        assert!(!p.test(&ConnectRecord::new("t", Some(schema), Value::from(""))));
    }

    #[test]
    fn registered_under_java_names() {
        for name in [
            "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
            "TopicNameMatches",
            "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
            "HasHeaderKey",
            "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
            "RecordIsTombstone",
        ] {
            assert!(crate::transforms::find_predicate(name).is_some(), "{name}");
        }
    }
}
