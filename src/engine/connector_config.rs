//! The framework's connector keys (`name`, `connector.class`, `tasks.max`,
//! converters, `transforms`, `errors.*`, `topics`, `topic.creation.*` …)
//! and validation of a connector's full config against them plus the
//! plugin's own definition.

use super::errors::{self, DLQ_TOPIC_NAME};
use super::topic_creation::{self, TopicCreationGroups};
use crate::connect::{
    ConfigDef, ConfigError, ConfigType, ConnectorKind, ExactlyOnceSupport, Importance, Props,
    TransactionBoundaries, Validator,
};
use crate::connectors::{self, AnyConnector, Plugin};
use crate::transforms::TransformChain;

pub const NAME: &str = "name";
pub const CONNECTOR_CLASS: &str = "connector.class";
pub const TASKS_MAX: &str = "tasks.max";
pub const TOPICS: &str = "topics";
pub const TOPICS_REGEX: &str = "topics.regex";
pub const TRANSFORMS: &str = "transforms";
pub const PREDICATES: &str = "predicates";
/// Java's `TaskConfig.TASK_CLASS_CONFIG`, in every task config Java writes.
pub const TASK_CLASS: &str = "task.class";
pub const EXACTLY_ONCE_SUPPORT: &str = "exactly.once.support";
pub const TRANSACTION_BOUNDARY: &str = "transaction.boundary";

pub fn common_def() -> ConfigDef {
    let def = ConfigDef::new()
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
        .define(
            TRANSFORMS,
            ConfigType::List,
            Some(""),
            Importance::Low,
            "Aliases for the transformations to be applied to records",
        )
        .define(
            PREDICATES,
            ConfigType::List,
            Some(""),
            Importance::Low,
            "Aliases for the predicates used by transformations",
        );
    errors::define_common(def)
}

/// The framework keys of a source connector.
pub fn source_def() -> ConfigDef {
    // KIP-618's connector keys, validated as Java does.
    let def = common_def()
        .define(
            EXACTLY_ONCE_SUPPORT,
            ConfigType::String,
            Some("requested"),
            Importance::Medium,
            "Whether the connector must deliver exactly once (required) or may (requested), when the worker has exactly-once source support enabled",
        )
        .validate_with(Validator::OneOf(&["requested", "required"]))
        .define(
            TRANSACTION_BOUNDARY,
            ConfigType::String,
            Some("poll"),
            Importance::Medium,
            "Where exactly-once source transactions end: poll, interval or connector",
        )
        .validate_with(Validator::OneOf(&["poll", "interval", "connector"]))
        .define(
            crate::engine::transactions::TRANSACTION_BOUNDARY_INTERVAL_MS,
            // Java's Long with a null default; a bad value fails the task.
            ConfigType::String,
            Some(""),
            Importance::Low,
            "With transaction.boundary=interval: how long a transaction lasts; the worker's offset.flush.interval.ms when unset",
        )
        .define(
            crate::storage::connector_offsets::CONNECTOR_OFFSETS_TOPIC,
            ConfigType::String,
            Some(""),
            Importance::Low,
            "A Kafka topic of the connector's own for its source offsets, read together with the worker's offset topic (KIP-618)",
        );
    topic_creation::define_source(def)
}

/// The framework keys of a sink connector.
pub fn sink_def() -> ConfigDef {
    let def = common_def()
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
        );
    errors::define_sink(def)
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
    let class = common
        .string(CONNECTOR_CLASS)
        .map_err(|e| ConnectorConfigError::from_config(&name, e))?
        .unwrap_or_default();
    let plugin = connectors::find(&class).map_err(|message| ConnectorConfigError {
        connector: name.clone(),
        key: Some(CONNECTOR_CLASS.into()),
        message,
    })?;
    let connector = (plugin.create)();
    let framework = match plugin.kind {
        ConnectorKind::Sink => sink_def(),
        ConnectorKind::Source => source_def(),
    };
    let full = framework.merge(&connector.as_connector().config_def());
    full.parse(props)
        .map_err(|e| ConnectorConfigError::from_config(&name, e))?;
    // Build the chain once, so a bad transform or predicate fails here,
    // naming its full key (`transforms.<alias>.<key>`).
    TransformChain::from_props(props)
        .map_err(|e| ConnectorConfigError::from_config(&name, e.into()))?;
    if plugin.kind == ConnectorKind::Source {
        // Checked as if the worker's topic.creation.enable were on (its
        // default): the worker ignores these keys when it is off.
        TopicCreationGroups::parse(props)
            .map_err(|e| ConnectorConfigError::from_config(&name, e))?;
    }
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
        check_dlq_topic(&name, props, &topics, regex)?;
    }
    // The connector's own rules, offline: validating never reaches the
    // outside system (the operator validates without access to it).
    if let Some(e) = connector.as_connector().validate(props).into_iter().next() {
        return Err(ConnectorConfigError::from_config(&name, e));
    }
    let tasks_max = common
        .int(TASKS_MAX)
        .map_err(|e| ConnectorConfigError::from_config(&name, e))?;
    Ok((
        ValidatedConnector {
            name,
            plugin,
            tasks_max: tasks_max.max(1) as usize,
            props: props.clone(),
        },
        connector,
    ))
}

/// KIP-618's checks of a source connector's `exactly.once.support` and
/// `transaction.boundary` against the connector, as Java's distributed
/// herder makes them (`validateSourceConnectorExactlyOnceSupport`,
/// `validateSourceConnectorTransactionBoundary`): `required` needs a worker
/// with exactly-once enabled and a connector that says it supports it;
/// `connector` boundaries need a connector that can define them.
pub fn exactly_once_errors(
    props: &Props,
    connector: &AnyConnector,
    worker_enabled: bool,
) -> Vec<ConfigError> {
    let AnyConnector::Source(source) = connector else {
        return Vec::new();
    };
    let value = |key: &str, default: &str| {
        props
            .get(key)
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_else(|| default.to_owned())
    };
    let mut errors = Vec::new();
    if value(EXACTLY_ONCE_SUPPORT, "requested") == "required" {
        if !worker_enabled {
            errors.push(ConfigError::new(
                EXACTLY_ONCE_SUPPORT,
                "This worker does not have exactly-once source support enabled.",
            ));
        }
        match source.exactly_once_support(props) {
            Some(ExactlyOnceSupport::Supported) => {}
            Some(ExactlyOnceSupport::Unsupported) => errors.push(ConfigError::new(
                EXACTLY_ONCE_SUPPORT,
                "The connector does not support exactly-once semantics with the provided configuration.",
            )),
            None => errors.push(ConfigError::new(
                EXACTLY_ONCE_SUPPORT,
                "The connector does not implement the API required for preflight validation of exactly-once \
                 source support. Please consult the documentation for the connector to determine whether it supports exactly-once \
                 semantics, and then consider reconfiguring the connector to use the value \"requested\" for this property \
                 (which will disable this preflight check and allow the connector to be created).",
            )),
        }
    }
    if value(TRANSACTION_BOUNDARY, "poll") == "connector"
        && source.can_define_transaction_boundaries(props) != TransactionBoundaries::Supported
    {
        errors.push(ConfigError::new(
            TRANSACTION_BOUNDARY,
            "The connector does not support connector-defined transaction boundaries with the given configuration. \
             Please reconfigure it to use a different transaction boundary definition.",
        ));
    }
    errors
}

/// Java's `SinkConnectorConfig`: the dead letter queue may not be one of
/// the topics the connector consumes.
fn check_dlq_topic(
    name: &str,
    props: &Props,
    topics: &[String],
    regex: &str,
) -> Result<(), ConnectorConfigError> {
    let dlq = props.get(DLQ_TOPIC_NAME).map(|s| s.trim()).unwrap_or("");
    if dlq.is_empty() {
        return Ok(());
    }
    let message = if topics.iter().any(|t| t == dlq) {
        format!(
            "The DLQ topic '{dlq}' may not be included in the list of topics ('{TOPICS}={}') consumed by the connector",
            topics.join(",")
        )
    } else if !regex.is_empty()
        && regex::Regex::new(&format!("^(?:{regex})$")).is_ok_and(|r| r.is_match(dlq))
    {
        format!(
            "The DLQ topic '{dlq}' may not be included in the regex matching topic names ('{TOPICS_REGEX}={regex}') consumed by the connector"
        )
    } else {
        return Ok(());
    };
    Err(ConnectorConfigError {
        connector: name.into(),
        key: Some(DLQ_TOPIC_NAME.into()),
        message: format!("invalid configuration for \"{DLQ_TOPIC_NAME}\": {message}"),
    })
}

/// The task configs a connector computed, as Java's
/// `Worker.connectorTaskConfigs` completes them: `task.class` set to the
/// plugin's task class, and the connector's own `topics` / `topics.regex`
/// (where its config has them) over whatever the connector put there.
/// Java Connect fails a task whose config lacks `task.class`, so a config
/// topic kconnect wrote must carry it for a switch back to Java; kconnect
/// itself runs tasks from the plugin and reads configs with or without it.
pub fn complete_task_configs(validated: &ValidatedConnector, configs: Vec<Props>) -> Vec<Props> {
    configs
        .into_iter()
        .map(|mut config| {
            config.insert(TASK_CLASS.into(), validated.plugin.task_class.into());
            for key in [TOPICS, TOPICS_REGEX] {
                if let Some(v) = validated.props.get(key) {
                    config.insert(key.into(), v.clone());
                }
            }
            config
        })
        .collect()
}

/// The `topics` list of a sink config.
pub fn common_topics(props: &Props) -> Vec<String> {
    crate::connect::config::split_list(props.get(TOPICS).map(String::as_str).unwrap_or(""))
}

/// Offsets a user alters (`Some`) or resets (`None`), KIP-875, borrowed
/// from the caller, which writes them once the connector agreed.
pub enum OffsetChanges<'a> {
    Source(&'a [(crate::connect::OffsetMap, Option<crate::connect::OffsetMap>)]),
    Sink(&'a [(crate::connect::TopicPartition, Option<i64>)]),
}

/// Gives the connector its say before the framework writes altered or
/// reset offsets: as Java's `Worker.modifyConnectorOffsets`, on a new
/// instance that is not started, with the connector's (resolved) config.
/// An error is the request's failure; the framework then writes nothing.
pub async fn connector_alters_offsets(
    props: &Props,
    changes: &OffsetChanges<'_>,
) -> Result<bool, crate::connect::ConnectError> {
    let class = props.get(CONNECTOR_CLASS).map(String::as_str).unwrap_or("");
    let plugin = connectors::find(class).map_err(crate::connect::ConnectError::other)?;
    match ((plugin.create)(), changes) {
        (AnyConnector::Source(c), OffsetChanges::Source(offsets)) => {
            c.alter_offsets(props, offsets).await
        }
        (AnyConnector::Sink(c), OffsetChanges::Sink(offsets)) => {
            c.alter_offsets(props, offsets).await
        }
        _ => Ok(false),
    }
}

/// [`connector_alters_offsets`] for a REST or operator request on connector
/// `name`: its refusal as the request's error message, like Java's.
pub async fn offsets_request_allowed(
    name: &str,
    props: &Props,
    changes: &OffsetChanges<'_>,
) -> Result<(), String> {
    connector_alters_offsets(props, changes)
        .await
        .map(|_| ())
        .map_err(|e| {
            format!(
                "Failed to alter offsets for connector {name} because it threw an exception: {}",
                e.trace()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::config::props_of;

    #[test]
    fn task_configs_get_task_class_and_the_connector_topics_like_java() {
        let (validated, _) = validate(&props_of(&[
            ("name", "snk"),
            ("connector.class", "FileStreamSink"),
            ("tasks.max", "2"),
            ("topics", "a,b"),
            ("file", "/tmp/out.txt"),
        ]))
        .unwrap();
        // What a connector might compute: one task narrowed to topic a,
        // one without topics. Java overrules both with the connector's.
        let computed = vec![
            props_of(&[("file", "/tmp/out.txt"), ("topics", "a")]),
            props_of(&[("file", "/tmp/out.txt")]),
        ];
        let tasks = complete_task_configs(&validated, computed);
        assert_eq!(tasks.len(), 2);
        for t in &tasks {
            assert_eq!(
                t[TASK_CLASS],
                "org.apache.kafka.connect.file.FileStreamSinkTask"
            );
            assert_eq!(t[TOPICS], "a,b");
            assert!(!t.contains_key(TOPICS_REGEX));
            assert_eq!(t["file"], "/tmp/out.txt");
        }

        let (validated, _) = validate(&props_of(&[
            ("name", "src"),
            (
                "connector.class",
                "org.apache.kafka.connect.file.FileStreamSourceConnector",
            ),
            ("topic", "t"),
        ]))
        .unwrap();
        // Idempotent: a config with task.class already keeps it as it is.
        let tasks = complete_task_configs(
            &validated,
            vec![props_of(&[
                ("topic", "t"),
                (
                    "task.class",
                    "org.apache.kafka.connect.file.FileStreamSourceTask",
                ),
            ])],
        );
        assert_eq!(
            tasks,
            vec![props_of(&[
                ("topic", "t"),
                (
                    "task.class",
                    "org.apache.kafka.connect.file.FileStreamSourceTask"
                ),
            ])],
            "a source has no topics key to copy"
        );
    }

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
    fn kip_618_connector_keys_are_validated_as_java_does() {
        let source = |extra: &[(&str, &str)]| {
            let mut p = props_of(&[
                ("name", "s"),
                ("connector.class", "FileStreamSource"),
                ("topic", "t"),
            ]);
            p.extend(
                extra
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
            );
            validate(&p).err().and_then(|e| e.key)
        };
        assert_eq!(source(&[]), None);
        assert_eq!(
            source(&[
                (EXACTLY_ONCE_SUPPORT, "required"),
                (TRANSACTION_BOUNDARY, "interval")
            ]),
            None
        );
        assert_eq!(
            source(&[(EXACTLY_ONCE_SUPPORT, "always")]).as_deref(),
            Some(EXACTLY_ONCE_SUPPORT)
        );
        assert_eq!(
            source(&[(TRANSACTION_BOUNDARY, "never")]).as_deref(),
            Some(TRANSACTION_BOUNDARY)
        );
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

    #[test]
    fn transforms_errors_and_topic_creation_are_validated_naming_the_key() {
        let sink = |extra: &[(&str, &str)]| {
            let mut p = props_of(&[
                ("name", "s"),
                ("connector.class", "FileStreamSink"),
                ("topics", "in"),
            ]);
            p.extend(props_of(extra));
            validate(&p).err().map(|e| (e.key, e.message))
        };
        let source = |extra: &[(&str, &str)]| {
            let mut p = props_of(&[
                ("name", "g"),
                ("connector.class", "datagen"),
                ("topic", "t"),
            ]);
            p.extend(props_of(extra));
            validate(&p).err().map(|e| (e.key, e.message))
        };
        assert_eq!(sink(&[]), None);
        let key = |r: Option<(Option<String>, String)>| r.and_then(|(k, _)| k);
        assert_eq!(
            key(sink(&[("transforms", "x"), ("transforms.x.type", "Nope")])),
            Some("transforms.x.type".into())
        );
        assert_eq!(
            key(sink(&[("predicates", "p")])),
            Some("predicates.p.type".into())
        );
        assert_eq!(
            key(sink(&[("errors.tolerance", "most")])),
            Some("errors.tolerance".into())
        );
        assert_eq!(
            key(sink(&[(
                "errors.deadletterqueue.topic.replication.factor",
                "x"
            )])),
            Some("errors.deadletterqueue.topic.replication.factor".into())
        );
        let (k, message) = sink(&[("errors.deadletterqueue.topic.name", "in")]).unwrap();
        assert_eq!(k.as_deref(), Some("errors.deadletterqueue.topic.name"));
        assert!(
            message.contains("may not be included in the list of topics"),
            "{message}"
        );
        let mut regex = props_of(&[
            ("name", "s"),
            ("connector.class", "FileStreamSink"),
            ("topics.regex", "in.*"),
            ("errors.deadletterqueue.topic.name", "in-dlq"),
        ]);
        let e = validate(&regex).err().unwrap();
        assert_eq!(e.key.as_deref(), Some("errors.deadletterqueue.topic.name"));
        regex.insert("errors.deadletterqueue.topic.name".into(), "dlq".into());
        assert!(validate(&regex).is_ok());

        assert_eq!(source(&[]), None);
        assert_eq!(
            key(source(&[("topic.creation.default.partitions", "2")])),
            Some("topic.creation.default.replication.factor".into())
        );
        assert_eq!(
            source(&[
                ("topic.creation.default.partitions", "2"),
                ("topic.creation.default.replication.factor", "-1"),
            ]),
            None
        );
        // The framework declares the keys, with Java's defaults.
        let def = sink_def();
        for (k, default) in [
            ("transforms", ""),
            ("predicates", ""),
            ("errors.tolerance", "none"),
            ("errors.retry.timeout", "0"),
            ("errors.retry.delay.max.ms", "60000"),
            ("errors.log.enable", "false"),
            ("errors.log.include.messages", "false"),
            ("errors.deadletterqueue.topic.name", ""),
            ("errors.deadletterqueue.topic.replication.factor", "3"),
            ("errors.deadletterqueue.context.headers.enable", "false"),
        ] {
            assert_eq!(def.key(k).and_then(|k| k.default), Some(default), "{k}");
        }
        assert!(source_def().key("topic.creation.groups").is_some());
        assert!(source_def()
            .key("errors.deadletterqueue.topic.name")
            .is_none());
    }

    #[tokio::test]
    async fn the_alter_offsets_hook_runs_on_an_unstarted_instance_of_the_class() {
        let mut props = crate::connect::config::props_of(&[
            ("connector.class", "FileStreamSource"),
            ("topic", "t"),
            ("file", "/tmp/in.txt"),
        ]);
        let offsets = vec![(crate::connect::OffsetMap::new(), None)];
        let changes = OffsetChanges::Source(&offsets);
        // FileStreamSource checks the offsets (as Java's does) and says so.
        assert!(connector_alters_offsets(&props, &changes).await.unwrap());
        // Reading stdin, it has no offsets to change: the request fails
        // with Java's message and the connector's reason.
        props.remove("file");
        let refused = offsets_request_allowed("src", &props, &changes)
            .await
            .unwrap_err();
        assert!(
            refused.starts_with(
                "Failed to alter offsets for connector src because it threw an exception"
            ) && refused.contains("stdin is used for input"),
            "{refused}"
        );
        let unknown = crate::connect::config::props_of(&[("connector.class", "com.acme.Nope")]);
        let err = connector_alters_offsets(&unknown, &changes)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("com.acme.Nope"), "{err}");
    }
}
