//! Worker-level configuration (`connect-standalone.properties` and friends).

use std::time::Duration;

use crate::connect::{Config, ConfigDef, ConfigError, ConfigType, Importance, Props, Validator};

pub const BOOTSTRAP_SERVERS: &str = "bootstrap.servers";
pub const KEY_CONVERTER: &str = "key.converter";
pub const VALUE_CONVERTER: &str = "value.converter";
pub const OFFSET_FLUSH_INTERVAL_MS: &str = "offset.flush.interval.ms";
pub const OFFSET_FLUSH_TIMEOUT_MS: &str = "offset.flush.timeout.ms";
pub const OFFSET_STORAGE_FILE: &str = "offset.storage.file.filename";
pub const TASK_SHUTDOWN_TIMEOUT_MS: &str = "task.shutdown.graceful.timeout.ms";
pub use super::topic_creation::TOPIC_CREATION_ENABLE;
pub const EXACTLY_ONCE_SOURCE_SUPPORT: &str = "exactly.once.source.support";

pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(BOOTSTRAP_SERVERS, ConfigType::List, Some(""), Importance::High,
            "Kafka brokers to connect to. Empty in standalone mode runs an embedded in-memory Kafka for trying things out")
        .define(KEY_CONVERTER, ConfigType::Class, Some("org.apache.kafka.connect.json.JsonConverter"), Importance::High,
            "Converter class for record keys")
        .define(VALUE_CONVERTER, ConfigType::Class, Some("org.apache.kafka.connect.json.JsonConverter"), Importance::High,
            "Converter class for record values")
        .define(OFFSET_FLUSH_INTERVAL_MS, ConfigType::Long, Some("60000"), Importance::Low,
            "Interval at which to try committing offsets for tasks")
        .validate_with(Validator::Range { min: Some(1), max: None })
        .define(OFFSET_FLUSH_TIMEOUT_MS, ConfigType::Long, Some("5000"), Importance::Low,
            "Maximum milliseconds to wait for records to flush and offsets to be committed before cancelling the commit")
        .validate_with(Validator::Range { min: Some(0), max: None })
        .define(OFFSET_STORAGE_FILE, ConfigType::String, Some(""), Importance::High,
            "File to store source connector offsets in (standalone mode)")
        .define(TASK_SHUTDOWN_TIMEOUT_MS, ConfigType::Long, Some("5000"), Importance::Low,
            "Time to wait for tasks to shut down gracefully")
        .validate_with(Validator::Range { min: Some(0), max: None })
        .define(TOPIC_CREATION_ENABLE, ConfigType::Boolean, Some("true"), Importance::Low,
            "Whether to allow automatic creation of topics used by source connectors, when source connectors are configured with `topic.creation.` properties. Each task will use an admin client to create its topics and will not depend on the Kafka brokers to create topics automatically.")
        .define(EXACTLY_ONCE_SOURCE_SUPPORT, ConfigType::String, Some("disabled"), Importance::High,
            "Whether source connectors deliver exactly once (KIP-618): disabled, preparing or enabled. With enabled, every source task produces in transactions with its offsets, and tasks of older generations are fenced before new ones start")
        .validate_with(Validator::OneOf(&["disabled", "preparing", "enabled"]))
}

/// Checks `exactly.once.source.support` alone (disabled, preparing or
/// enabled): the operator checks a ConnectCluster's `spec.config` with it
/// before any worker Pod is made to refuse it at start.
pub fn check_exactly_once(props: &Props) -> Result<(), ConfigError> {
    let value = props
        .get(EXACTLY_ONCE_SOURCE_SUPPORT)
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match value.as_str() {
        "" | "disabled" | "preparing" | "enabled" => Ok(()),
        _ => Err(ConfigError::new(
            EXACTLY_ONCE_SOURCE_SUPPORT,
            format!(
                "Invalid value {} for configuration {EXACTLY_ONCE_SOURCE_SUPPORT}: String must be one of: disabled, preparing, enabled",
                props.get(EXACTLY_ONCE_SOURCE_SUPPORT).map(String::as_str).unwrap_or_default()
            ),
        )),
    }
}

/// Whether a worker config says `exactly.once.source.support=enabled`.
pub fn exactly_once_enabled(props: &Props) -> bool {
    props
        .get(EXACTLY_ONCE_SOURCE_SUPPORT)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("enabled"))
}

/// Parsed worker configuration plus the raw properties (for `producer.*`,
/// `consumer.*` and converter settings).
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    config: Config,
    /// Read once at parse time: a bad value fails the worker's start.
    bootstrap_servers: Option<String>,
    offset_flush_interval: Duration,
    offset_flush_timeout: Duration,
    task_shutdown_timeout: Duration,
    topic_creation_enable: bool,
    offset_storage_file: Option<String>,
    exactly_once_source: bool,
}

impl WorkerConfig {
    pub fn parse(props: &Props) -> Result<WorkerConfig, ConfigError> {
        let config = config_def().parse(props)?;
        let list = config.list(BOOTSTRAP_SERVERS)?;
        Ok(WorkerConfig {
            bootstrap_servers: (!list.is_empty()).then(|| list.join(",")),
            offset_flush_interval: config.duration_ms(OFFSET_FLUSH_INTERVAL_MS)?,
            offset_flush_timeout: config.duration_ms(OFFSET_FLUSH_TIMEOUT_MS)?,
            task_shutdown_timeout: config.duration_ms(TASK_SHUTDOWN_TIMEOUT_MS)?,
            topic_creation_enable: config.boolean(TOPIC_CREATION_ENABLE)?,
            offset_storage_file: config
                .string(OFFSET_STORAGE_FILE)?
                .filter(|s| !s.is_empty()),
            exactly_once_source: exactly_once_enabled(config.props()),
            config,
        })
    }

    pub fn props(&self) -> &Props {
        self.config.props()
    }

    /// `None` when no brokers are configured (embedded mode).
    pub fn bootstrap_servers(&self) -> Option<String> {
        self.bootstrap_servers.clone()
    }

    pub fn offset_flush_interval(&self) -> Duration {
        self.offset_flush_interval
    }

    pub fn offset_flush_timeout(&self) -> Duration {
        self.offset_flush_timeout
    }

    pub fn task_shutdown_timeout(&self) -> Duration {
        self.task_shutdown_timeout
    }

    /// `topic.creation.enable`.
    pub fn topic_creation_enable(&self) -> bool {
        self.topic_creation_enable
    }

    /// `exactly.once.source.support=enabled`: source tasks deliver exactly
    /// once (`preparing` only readies a Java cluster for it).
    pub fn exactly_once_source(&self) -> bool {
        self.exactly_once_source
    }

    /// The prefix of source tasks' transactional ids: `group.id`, or in
    /// standalone mode (which has none) `connect-standalone`.
    pub fn transactional_group(&self) -> String {
        self.props()
            .get("group.id")
            .map(|g| g.trim())
            .filter(|g| !g.is_empty())
            .unwrap_or(super::transactions::STANDALONE_GROUP)
            .to_owned()
    }

    pub fn offset_storage_file(&self) -> Option<String> {
        self.offset_storage_file.clone()
    }

    /// A copy with `bootstrap.servers` set (used for the embedded cluster).
    pub fn with_bootstrap(&self, servers: &str) -> WorkerConfig {
        let mut props = self.props().clone();
        props.insert(BOOTSTRAP_SERVERS.into(), servers.into());
        WorkerConfig::parse(&props).unwrap_or_else(|_| self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::config::props_of as props;

    #[test]
    fn exactly_once_source_support_is_read_and_checked() {
        let parsed = WorkerConfig::parse(&props(&[])).unwrap();
        assert!(!parsed.exactly_once_source());
        assert_eq!(parsed.transactional_group(), "connect-standalone");
        for (value, on) in [
            ("disabled", false),
            ("preparing", false),
            ("PREPARING", false),
            ("enabled", true),
            (" Enabled ", true),
        ] {
            let parsed = WorkerConfig::parse(&props(&[
                (EXACTLY_ONCE_SOURCE_SUPPORT, value),
                ("group.id", "g"),
            ]))
            .unwrap();
            assert_eq!(parsed.exactly_once_source(), on, "{value}");
            assert_eq!(parsed.transactional_group(), "g");
            assert!(check_exactly_once(&props(&[(EXACTLY_ONCE_SOURCE_SUPPORT, value)])).is_ok());
        }
        let err =
            WorkerConfig::parse(&props(&[(EXACTLY_ONCE_SOURCE_SUPPORT, "maybe")])).unwrap_err();
        assert_eq!(err.key, EXACTLY_ONCE_SOURCE_SUPPORT);
        let err =
            check_exactly_once(&props(&[(EXACTLY_ONCE_SOURCE_SUPPORT, "always")])).unwrap_err();
        assert_eq!(err.key, EXACTLY_ONCE_SOURCE_SUPPORT);
        assert!(
            err.message.contains("disabled, preparing, enabled"),
            "{}",
            err.message
        );
    }
}
