//! The framework's connector keys (`name`, `connector.class`, `tasks.max`,
//! converters, `topics`…) and validation of a connector's full config
//! against them plus the plugin's own definition.

use crate::connect::{
    ConfigDef, ConfigError, ConfigType, ConnectorKind, Importance, Props, Validator,
};
use crate::connectors::{self, AnyConnector, Plugin};

pub const NAME: &str = "name";
pub const CONNECTOR_CLASS: &str = "connector.class";
pub const TASKS_MAX: &str = "tasks.max";
pub const TOPICS: &str = "topics";
pub const TOPICS_REGEX: &str = "topics.regex";

pub fn common_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            NAME,
            ConfigType::String,
            None,
            Importance::High,
            "Globally unique name to use for this connector",
        )
        .validate_with(Validator::NonEmpty)
        .define(
            CONNECTOR_CLASS,
            ConfigType::Class,
            None,
            Importance::High,
            "Name or alias of the class for this connector",
        )
        .define(
            TASKS_MAX,
            ConfigType::Int,
            Some("1"),
            Importance::High,
            "Maximum number of tasks to use for this connector",
        )
        .validate_with(Validator::Range {
            min: Some(1),
            max: None,
        })
        .define(
            "key.converter",
            ConfigType::Class,
            Some(""),
            Importance::Low,
            "Overrides the worker's key.converter for this connector",
        )
        .define(
            "value.converter",
            ConfigType::Class,
            Some(""),
            Importance::Low,
            "Overrides the worker's value.converter for this connector",
        )
}

fn sink_def() -> ConfigDef {
    common_def()
        .define(
            TOPICS,
            ConfigType::List,
            Some(""),
            Importance::High,
            "List of topics to consume, separated by commas",
        )
        .define(
            TOPICS_REGEX,
            ConfigType::String,
            Some(""),
            Importance::High,
            "Regular expression giving topics to consume",
        )
}

/// A connector config that passed validation, with its plugin resolved.
pub struct ValidatedConnector {
    pub name: String,
    pub plugin: &'static Plugin,
    pub tasks_max: usize,
    pub props: Props,
}

/// Errors name the connector and the key, e.g.
/// `connector "sink": invalid configuration for "tasks.max": …`.
#[derive(Debug, thiserror::Error)]
#[error("connector \"{connector}\": {message}")]
pub struct ConnectorConfigError {
    pub connector: String,
    pub key: Option<String>,
    pub message: String,
}

impl ConnectorConfigError {
    fn from_config(connector: &str, e: ConfigError) -> Self {
        ConnectorConfigError {
            connector: connector.into(),
            key: Some(e.key.clone()),
            message: format!("invalid configuration for \"{}\": {}", e.key, e.message),
        }
    }
}

/// Validates the framework keys and the plugin's own keys, and checks the
/// rules that span keys (a sink needs exactly one of `topics`/`topics.regex`).
pub fn validate(props: &Props) -> Result<(ValidatedConnector, AnyConnector), ConnectorConfigError> {
    let name = props
        .get(NAME)
        .cloned()
        .unwrap_or_else(|| "<unnamed>".into());
    let common = common_def()
        .parse(props)
        .map_err(|e| ConnectorConfigError::from_config(&name, e))?;
    let class = common.string(CONNECTOR_CLASS).unwrap_or_default();
    let plugin = connectors::find(&class).map_err(|message| ConnectorConfigError {
        connector: name.clone(),
        key: Some(CONNECTOR_CLASS.into()),
        message,
    })?;
    let mut connector = (plugin.create)();
    let framework = match plugin.kind {
        ConnectorKind::Sink => sink_def(),
        ConnectorKind::Source => common_def(),
    };
    let full = framework.merge(&connector.as_connector().config_def());
    full.parse(props)
        .map_err(|e| ConnectorConfigError::from_config(&name, e))?;
    if plugin.kind == ConnectorKind::Sink {
        let topics = common_topics(props);
        let regex = props.get(TOPICS_REGEX).map(|s| s.trim()).unwrap_or("");
        match (topics.is_empty(), regex.is_empty()) {
            (true, true) => {
                return Err(ConnectorConfigError {
                    connector: name,
                    key: Some(TOPICS.into()),
                    message: "Must configure one of topics or topics.regex".into(),
                })
            }
            (false, false) => {
                return Err(ConnectorConfigError {
                    connector: name,
                    key: Some(TOPICS.into()),
                    message:
                        "topics and topics.regex are mutually exclusive options, but both are set."
                            .into(),
                })
            }
            (true, false) => {
                if let Err(e) = regex::Regex::new(regex) {
                    return Err(ConnectorConfigError {
                        connector: name,
                        key: Some(TOPICS_REGEX.into()),
                        message: format!("invalid regular expression: {e}"),
                    });
                }
            }
            _ => {}
        }
    }
    connector.as_connector_mut().start(props).map_err(|e| {
        let key = match &e {
            crate::connect::ConnectError::Config { key, .. } => Some(key.clone()),
            _ => None,
        };
        ConnectorConfigError {
            connector: name.clone(),
            key,
            message: e.to_string(),
        }
    })?;
    Ok((
        ValidatedConnector {
            name,
            plugin,
            tasks_max: common.int(TASKS_MAX).max(1) as usize,
            props: props.clone(),
        },
        connector,
    ))
}

/// The `topics` list of a sink config.
pub fn common_topics(props: &Props) -> Vec<String> {
    crate::connect::config::split_list(props.get(TOPICS).map(String::as_str).unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::config::props_of;

    #[test]
    fn errors_name_connector_and_key() {
        let e = validate(&props_of(&[
            ("name", "s"),
            ("connector.class", "FileStreamSink"),
            ("tasks.max", "x"),
            ("topics", "t"),
        ]))
        .err()
        .unwrap();
        assert_eq!(e.key.as_deref(), Some("tasks.max"));
        assert!(e.to_string().starts_with("connector \"s\""), "{e}");

        let e = validate(&props_of(&[("name", "s"), ("connector.class", "Nope")]))
            .err()
            .unwrap();
        assert_eq!(e.key.as_deref(), Some("connector.class"));
        assert!(e.message.contains("FileStreamSinkConnector"));

        let e = validate(&props_of(&[
            ("name", "s"),
            ("connector.class", "FileStreamSource"),
        ]))
        .err()
        .unwrap();
        assert_eq!(e.key.as_deref(), Some("topic"));

        let e = validate(&props_of(&[
            ("name", "s"),
            ("connector.class", "FileStreamSink"),
        ]))
        .err()
        .unwrap();
        assert_eq!(e.key.as_deref(), Some("topics"));
    }

    #[test]
    fn valid_sink_resolves_java_class() {
        let (v, c) = validate(&props_of(&[
            ("name", "s"),
            (
                "connector.class",
                "org.apache.kafka.connect.file.FileStreamSinkConnector",
            ),
            ("tasks.max", "2"),
            ("topics", "a,b"),
        ]))
        .unwrap();
        assert_eq!(v.tasks_max, 2);
        assert_eq!(c.kind(), ConnectorKind::Sink);
    }
}
