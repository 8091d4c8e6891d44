//! Topic creation for source connectors (KIP-158), like Java's
//! `TopicCreation`, `TopicCreationGroup` and `SourceConnectorConfig`:
//!
//! - worker `topic.creation.enable` (default true);
//! - connector `topic.creation.groups`, and per group
//!   `topic.creation.<group>.include` / `.exclude` (regex lists),
//!   `.replication.factor`, `.partitions` (`-1`: the broker's default) and
//!   any other `topic.creation.<group>.<topic config>`;
//! - the `default` group always exists, matches every topic, and needs
//!   `topic.creation.default.replication.factor` and `.partitions` once any
//!   `topic.creation.` key is set. Other groups inherit those two.
//!
//! A task creates each new topic once, before the first record to it is
//! produced; the first matching group in `topic.creation.groups` order wins,
//! the default group last.

use std::collections::HashSet;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::ClientConfig;
use regex::Regex;

use super::task::TaskFailure;
use crate::connect::config::split_list;
use crate::connect::{ConfigDef, ConfigError, ConfigType, Importance, Props};

pub const TOPIC_CREATION_PREFIX: &str = "topic.creation.";
pub const TOPIC_CREATION_GROUPS: &str = "topic.creation.groups";
pub const DEFAULT_GROUP: &str = "default";
pub const INCLUDE: &str = "include";
pub const EXCLUDE: &str = "exclude";
pub const REPLICATION_FACTOR: &str = "replication.factor";
pub const PARTITIONS: &str = "partitions";

/// The worker key (Java's `WorkerConfig.TOPIC_CREATION_ENABLE_CONFIG`).
pub const TOPIC_CREATION_ENABLE: &str = "topic.creation.enable";

/// The statically known source connector key; the per-group keys
/// (`topic.creation.default.replication.factor` and `.partitions`, required
/// once any `topic.creation.` key is set, and the other groups' keys) are
/// dynamic and checked by [`TopicCreationGroups::parse`].
pub fn define_source(def: ConfigDef) -> ConfigDef {
    def.define(
        TOPIC_CREATION_GROUPS,
        ConfigType::List,
        Some(""),
        Importance::Low,
        "Groups of configurations for topics created by source connectors",
    )
}

/// One group: which topics it applies to and how they are created.
#[derive(Debug, Clone)]
pub struct TopicCreationGroup {
    pub name: String,
    include: Regex,
    exclude: Regex,
    pub partitions: i32,
    pub replication_factor: i32,
    /// Other topic configs (`cleanup.policy`, `compression.type` …).
    pub configs: Vec<(String, String)>,
}

impl PartialEq for TopicCreationGroup {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.include.as_str() == other.include.as_str()
            && self.exclude.as_str() == other.exclude.as_str()
            && self.partitions == other.partitions
            && self.replication_factor == other.replication_factor
            && self.configs == other.configs
    }
}

impl TopicCreationGroup {
    /// Java: the topic fully matches the inclusion list and not the
    /// exclusion list (exclusion wins).
    pub fn matches(&self, topic: &str) -> bool {
        !self.exclude.is_match(topic) && self.include.is_match(topic)
    }

    /// The topic as this group would create it.
    pub fn new_topic(&self, topic: &str) -> NewTopicSpec {
        NewTopicSpec {
            name: topic.to_owned(),
            partitions: self.partitions,
            replication_factor: self.replication_factor,
            configs: self.configs.clone(),
        }
    }
}

/// The groups of a connector: its own in order, then the default.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicCreationGroups {
    pub groups: Vec<TopicCreationGroup>,
    pub default: TopicCreationGroup,
}

fn key(group: &str, name: &str) -> String {
    format!("{TOPIC_CREATION_PREFIX}{group}.{name}")
}

/// `-1` or at least 1, Java's `minusOneOrPositive`.
fn count(props: &Props, key: &str, default: Option<i32>) -> Result<i32, ConfigError> {
    let Some(raw) = props.get(key) else {
        return default.ok_or_else(|| {
            ConfigError::new(
                key,
                format!("Missing required configuration \"{key}\" which has no default value."),
            )
        });
    };
    let n: i32 = raw.trim().parse().map_err(|_| {
        ConfigError::new(
            key,
            format!("Invalid value {raw} for configuration {key}: Not a number of type INT"),
        )
    })?;
    if n != -1 && n < 1 {
        return Err(ConfigError::new(
            key,
            format!("Invalid value {n} for configuration {key}: Value must be -1 or at least 1"),
        ));
    }
    Ok(n)
}

/// A regex list fully matched, as Java's `Pattern.compile(join("|"))` with
/// `matches()`; an empty list matches nothing but the empty name.
fn pattern(props: &Props, key: &str, default: &[&str]) -> Result<Regex, ConfigError> {
    let items: Vec<String> = match props.get(key) {
        Some(v) => split_list(v),
        None => default.iter().map(|s| s.to_string()).collect(),
    };
    for item in &items {
        Regex::new(item).map_err(|e| {
            ConfigError::new(
                key,
                format!("Invalid value {item} for configuration {key}: not a valid regular expression: {e}"),
            )
        })?;
    }
    let joined = items
        .iter()
        .map(|i| format!("(?:{i})"))
        .collect::<Vec<_>>()
        .join("|");
    Regex::new(&format!("^(?:{joined})$")).map_err(|e| {
        ConfigError::new(
            key,
            format!("Invalid value for configuration {key}: not a valid regular expression: {e}"),
        )
    })
}

/// Keys under `topic.creation.<group>.` other than the group's own.
fn other_configs(props: &Props, group: &str) -> Vec<(String, String)> {
    let prefix = format!("{TOPIC_CREATION_PREFIX}{group}.");
    props
        .iter()
        .filter_map(|(k, v)| k.strip_prefix(&prefix).map(|rest| (rest, v)))
        .filter(|(rest, _)| ![INCLUDE, EXCLUDE, REPLICATION_FACTOR, PARTITIONS].contains(rest))
        .map(|(rest, v)| (rest.to_owned(), v.trim().to_owned()))
        .collect()
}

impl TopicCreationGroups {
    /// Whether a connector config uses topic creation (any
    /// `topic.creation.` key), as Java's `usesTopicCreation`.
    pub fn used_by(props: &Props) -> bool {
        props.keys().any(|k| k.starts_with(TOPIC_CREATION_PREFIX))
    }

    /// The groups of a connector config; `None` when it sets no
    /// `topic.creation.` key. Errors name the key.
    pub fn parse(props: &Props) -> Result<Option<TopicCreationGroups>, ConfigError> {
        if !Self::used_by(props) {
            return Ok(None);
        }
        let mut names = split_list(
            props
                .get(TOPIC_CREATION_GROUPS)
                .map(String::as_str)
                .unwrap_or(""),
        );
        let mut seen = HashSet::new();
        for n in &names {
            if !seen.insert(n.as_str()) {
                return Err(ConfigError::new(
                    TOPIC_CREATION_GROUPS,
                    format!(
                        "Invalid value {} for configuration {TOPIC_CREATION_GROUPS}: Duplicate alias provided.",
                        names.join(",")
                    ),
                ));
            }
        }
        if names.iter().any(|n| n == DEFAULT_GROUP) {
            tracing::warn!("'{DEFAULT_GROUP}' topic creation group always exists and does not need to be listed explicitly");
            names.retain(|n| n != DEFAULT_GROUP);
        }
        let default_rf = count(props, &key(DEFAULT_GROUP, REPLICATION_FACTOR), None)?;
        let default_partitions = count(props, &key(DEFAULT_GROUP, PARTITIONS), None)?;
        let default = TopicCreationGroup {
            name: DEFAULT_GROUP.into(),
            // The default group's include/exclude settings are ignored.
            include: pattern(&Props::new(), "", &[".*"])?,
            exclude: pattern(&Props::new(), "", &[])?,
            partitions: default_partitions,
            replication_factor: default_rf,
            configs: other_configs(props, DEFAULT_GROUP),
        };
        let groups = names
            .iter()
            .map(|g| {
                Ok(TopicCreationGroup {
                    name: g.clone(),
                    include: pattern(props, &key(g, INCLUDE), &[])?,
                    exclude: pattern(props, &key(g, EXCLUDE), &[])?,
                    partitions: count(props, &key(g, PARTITIONS), Some(default_partitions))?,
                    replication_factor: count(
                        props,
                        &key(g, REPLICATION_FACTOR),
                        Some(default_rf),
                    )?,
                    configs: other_configs(props, g),
                })
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        Ok(Some(TopicCreationGroups { groups, default }))
    }

    /// Java's `findFirstGroup`.
    pub fn find_first_group(&self, topic: &str) -> &TopicCreationGroup {
        self.groups
            .iter()
            .find(|g| g.matches(topic))
            .unwrap_or(&self.default)
    }
}

/// A topic to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopicSpec {
    pub name: String,
    /// `-1`: the broker's default.
    pub partitions: i32,
    /// `-1`: the broker's default.
    pub replication_factor: i32,
    pub configs: Vec<(String, String)>,
}

/// What [`create_topic`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    Created,
    Existing,
    /// The cluster cannot create topics (librdkafka's embedded mock): left
    /// to the broker's auto-creation.
    Unsupported,
}

/// Creates a topic unless it exists (TopicAlreadyExists is fine). When the
/// request is not authorized the topic may still exist: that is checked
/// before failing, as Java's `createOrFindTopics` does.
pub async fn create_topic(admin: &ClientConfig, spec: &NewTopicSpec) -> Result<Created, String> {
    let client: AdminClient<DefaultClientContext> = admin
        .create()
        .map_err(|e| format!("creating the admin client: {e}"))?;
    let mut topic = NewTopic::new(
        &spec.name,
        spec.partitions,
        TopicReplication::Fixed(spec.replication_factor),
    );
    for (k, v) in &spec.configs {
        topic = topic.set(k, v);
    }
    let opts = AdminOptions::new()
        .operation_timeout(Some(Duration::from_secs(30)))
        .request_timeout(Some(Duration::from_secs(30)));
    let results = match client.create_topics([&topic], &opts).await {
        Ok(r) => r,
        Err(KafkaError::AdminOp(
            RDKafkaErrorCode::UnsupportedFeature | RDKafkaErrorCode::UnsupportedVersion,
        )) => return Ok(Created::Unsupported),
        Err(e) => return Err(e.to_string()),
    };
    match results.into_iter().next() {
        Some(Ok(_)) => Ok(Created::Created),
        Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) => Ok(Created::Existing),
        Some(Err((
            _,
            RDKafkaErrorCode::UnsupportedFeature | RDKafkaErrorCode::UnsupportedVersion,
        ))) => Ok(Created::Unsupported),
        Some(Err((
            _,
            code @ (RDKafkaErrorCode::TopicAuthorizationFailed
            | RDKafkaErrorCode::ClusterAuthorizationFailed),
        ))) => {
            // Describing does not auto-create, unlike a metadata request.
            let described = client
                .describe_configs([&ResourceSpecifier::Topic(&spec.name)], &opts)
                .await;
            match described.ok().and_then(|r| r.into_iter().next()) {
                Some(Ok(_)) => Ok(Created::Existing),
                _ => Err(format!("{code}")),
            }
        }
        Some(Err((_, code))) => Err(format!("{code}")),
        None => Err("no result from CreateTopics".into()),
    }
}

/// A source task's topic creation: creates each topic once, before its
/// first record is produced.
pub struct TopicCreator {
    task: String,
    groups: TopicCreationGroups,
    admin: ClientConfig,
    known: HashSet<String>,
}

impl TopicCreator {
    pub fn new(task: String, groups: TopicCreationGroups, admin: ClientConfig) -> TopicCreator {
        TopicCreator {
            task,
            groups,
            admin,
            known: HashSet::new(),
        }
    }

    /// Creates `topic` with its group's settings unless done before.
    pub async fn ensure(&mut self, topic: &str) -> Result<(), TaskFailure> {
        if self.known.contains(topic) {
            return Ok(());
        }
        let task = self.task.as_str();
        let group = self.groups.find_first_group(topic);
        let spec = group.new_topic(topic);
        tracing::info!(task, topic, group = %group.name, partitions = spec.partitions,
            replication_factor = spec.replication_factor, configs = ?spec.configs,
            "The task will send records to topic '{topic}' for the first time. Creating it unless it exists");
        match create_topic(&self.admin, &spec).await {
            Ok(Created::Created) => {
                tracing::info!(task, topic, "Created topic '{topic}' using creation group {}", group.name)
            }
            Ok(Created::Existing) => tracing::info!(task, topic, "Found existing topic '{topic}'"),
            Ok(Created::Unsupported) => tracing::warn!(
                task,
                topic,
                "the cluster does not support creating topics; leaving '{topic}' to the broker"
            ),
            Err(e) => {
                return Err(TaskFailure::new(format!(
                    "Task failed to create new topic {topic} ({e}). Ensure that the task is authorized to create topics or that the topic exists and restart the task"
                )))
            }
        }
        self.known.insert(topic.to_owned());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::config::props_of;
    use proptest::prelude::*;

    #[test]
    fn no_topic_creation_keys_means_no_groups() {
        assert_eq!(
            TopicCreationGroups::parse(&props_of(&[("topic", "x")])).unwrap(),
            None
        );
    }

    #[test]
    fn default_group_needs_both_settings_and_other_groups_inherit_them() {
        let e =
            TopicCreationGroups::parse(&props_of(&[("topic.creation.default.partitions", "3")]))
                .unwrap_err();
        assert_eq!(e.key, "topic.creation.default.replication.factor");
        let e =
            TopicCreationGroups::parse(&props_of(&[("topic.creation.groups", "a")])).unwrap_err();
        assert_eq!(e.key, "topic.creation.default.replication.factor");

        let g = TopicCreationGroups::parse(&props_of(&[
            ("topic.creation.groups", "compacted, default"),
            ("topic.creation.default.partitions", "3"),
            ("topic.creation.default.replication.factor", "-1"),
            ("topic.creation.default.compression.type", "lz4"),
            ("topic.creation.default.include", "ignored"),
            ("topic.creation.compacted.include", "orders-.*, audit"),
            ("topic.creation.compacted.partitions", "2"),
            ("topic.creation.compacted.cleanup.policy", "compact"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(g.groups.len(), 1, "'default' is not a group of its own");
        let compacted = &g.groups[0];
        assert_eq!(compacted.partitions, 2);
        assert_eq!(compacted.replication_factor, -1);
        assert_eq!(
            compacted.configs,
            [("cleanup.policy".to_string(), "compact".to_string())]
        );
        assert_eq!(
            g.default.configs,
            [("compression.type".to_string(), "lz4".to_string())]
        );
        assert_eq!(g.find_first_group("orders-eu").name, "compacted");
        assert_eq!(g.find_first_group("audit").name, "compacted");
        assert_eq!(g.find_first_group("audit-2").name, "default");
        assert_eq!(g.find_first_group("ignored").name, "default");
        assert_eq!(
            g.find_first_group("orders-eu").new_topic("orders-eu"),
            NewTopicSpec {
                name: "orders-eu".into(),
                partitions: 2,
                replication_factor: -1,
                configs: vec![("cleanup.policy".into(), "compact".into())],
            }
        );
    }

    #[test]
    fn invalid_values_name_the_key() {
        let base = [
            ("topic.creation.default.partitions", "3"),
            ("topic.creation.default.replication.factor", "1"),
        ];
        let with = |extra: &[(&str, &str)]| {
            let mut p = props_of(&base);
            p.extend(props_of(extra));
            TopicCreationGroups::parse(&p)
        };
        for (k, v) in [
            ("topic.creation.default.partitions", "0"),
            ("topic.creation.default.replication.factor", "-2"),
            ("topic.creation.default.partitions", "many"),
        ] {
            let e = with(&[(k, v)]).unwrap_err();
            assert_eq!(e.key, k, "{}", e.message);
        }
        let e = with(&[("topic.creation.groups", "a,b,a")]).unwrap_err();
        assert_eq!(e.key, "topic.creation.groups");
        assert!(e.message.contains("Duplicate alias"), "{}", e.message);
        let e = with(&[
            ("topic.creation.groups", "a"),
            ("topic.creation.a.include", "(unclosed"),
        ])
        .unwrap_err();
        assert_eq!(e.key, "topic.creation.a.include");
        let e = with(&[
            ("topic.creation.groups", "a"),
            ("topic.creation.a.partitions", "0"),
        ])
        .unwrap_err();
        assert_eq!(e.key, "topic.creation.a.partitions");
    }

    #[test]
    fn exclusion_wins_and_empty_include_matches_nothing() {
        let g = TopicCreationGroups::parse(&props_of(&[
            ("topic.creation.groups", "a,b"),
            ("topic.creation.default.partitions", "1"),
            ("topic.creation.default.replication.factor", "1"),
            ("topic.creation.a.include", "x.*"),
            ("topic.creation.a.exclude", "xy.*"),
            ("topic.creation.b.exclude", "z"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(g.find_first_group("xa").name, "a");
        assert_eq!(g.find_first_group("xyz").name, "default");
        assert_eq!(g.find_first_group("z").name, "default");
        // Regexes match whole names, not substrings.
        assert_eq!(g.find_first_group("axa").name, "default");
    }

    /// A group of the model: literal prefixes, each matching `<prefix>.*`.
    #[derive(Debug, Clone)]
    struct ModelGroup {
        include: Vec<String>,
        exclude: Vec<String>,
    }

    fn model_group() -> impl Strategy<Value = ModelGroup> {
        (
            proptest::collection::vec("[abc]{0,2}", 0..3),
            proptest::collection::vec("[abc]{0,2}", 0..2),
        )
            .prop_map(|(include, exclude)| ModelGroup { include, exclude })
    }

    proptest! {
        #[test]
        fn first_matching_group_wins_default_last(
            groups in proptest::collection::vec(model_group(), 0..4),
            topic in "[abc]{1,4}",
        ) {
            let mut props = props_of(&[
                ("topic.creation.default.partitions", "1"),
                ("topic.creation.default.replication.factor", "1"),
            ]);
            let names: Vec<String> = (0..groups.len()).map(|i| format!("g{i}")).collect();
            props.insert("topic.creation.groups".into(), names.join(","));
            let as_list = |prefixes: &[String]| {
                prefixes.iter().map(|p| format!("{p}.*")).collect::<Vec<_>>().join(",")
            };
            for (name, g) in names.iter().zip(&groups) {
                if !g.include.is_empty() {
                    props.insert(format!("topic.creation.{name}.include"), as_list(&g.include));
                }
                if !g.exclude.is_empty() {
                    props.insert(format!("topic.creation.{name}.exclude"), as_list(&g.exclude));
                }
                props.insert(format!("topic.creation.{name}.partitions"), "2".into());
            }
            let parsed = TopicCreationGroups::parse(&props).unwrap().unwrap();
            let expected = groups
                .iter()
                .position(|g| {
                    g.include.iter().any(|p| topic.starts_with(p.as_str()))
                        && !g.exclude.iter().any(|p| topic.starts_with(p.as_str()))
                })
                .map(|i| names[i].clone())
                .unwrap_or_else(|| "default".into());
            let found = parsed.find_first_group(&topic);
            prop_assert_eq!(&found.name, &expected);
            prop_assert_eq!(found.partitions, if expected == "default" { 1 } else { 2 });
        }
    }
}
