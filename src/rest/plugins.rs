//! `/connector-plugins`: the built-in plugins (connectors, transforms,
//! predicates, converters), their config definitions as Java's
//! `ConfigKeyInfo`, and connector config validation as Java's
//! `ConfigInfos`, all from the one definition of each key
//! ([`crate::engine::connector_config`] and each plugin's `config_def`).
//!
//! Differences from Java: keys carry no display names, widths or
//! dependents (`display_name` is the key, `width` `NONE`); groups are
//! Java's for the framework keys (`Common`, `Transforms: <alias>`,
//! `Predicates: <alias>`, `Error Handling`, `Topic Creation`), none for a
//! plugin's own keys. Config-provider variables are validated as written,
//! never resolved (Java resolves them first and so echoes secrets back).

use std::collections::{BTreeMap, BTreeSet};

use crate::connect::config::{is_secret_name, split_list, with_prefix, HIDDEN};
use crate::connect::{
    ConfigDef, ConfigError, ConfigType, ConnectorKind, Importance, Props, Validator,
};
use crate::connectors::{self, Plugin};
use crate::engine::connector_config::{
    self, CONNECTOR_CLASS, PREDICATES, TOPICS, TOPICS_REGEX, TRANSFORMS,
};
use crate::engine::errors::DLQ_TOPIC_NAME;
use crate::transforms;

use super::entities::{ConfigInfo, ConfigInfos, ConfigKeyInfo, ConfigValueInfo, PluginInfo};
use super::RestError;

const PLUGIN_VERSION: &str = env!("CARGO_PKG_VERSION");

/// `GET /connector-plugins[?connectorsOnly=false]`, in Java's order: sink
/// connectors, source connectors, then transformations, predicates and
/// converters, each sorted by class name.
pub fn list(connectors_only: bool) -> Vec<PluginInfo> {
    let mut out = Vec::new();
    for kind in [ConnectorKind::Sink, ConnectorKind::Source] {
        let mut of_kind: Vec<&Plugin> = connectors::plugins()
            .iter()
            .filter(|p| p.kind == kind)
            .collect();
        of_kind.sort_by_key(|p| p.class);
        out.extend(of_kind.into_iter().map(|p| PluginInfo {
            class: p.class.to_owned(),
            kind: kind.to_string(),
            version: Some((p.create)().as_connector().version().to_owned()),
        }));
    }
    if connectors_only {
        return out;
    }
    let info = |class: &str, kind: &str| PluginInfo {
        class: class.to_owned(),
        kind: kind.to_owned(),
        version: Some(PLUGIN_VERSION.to_owned()),
    };
    let mut classes: Vec<&str> = transforms::transforms().iter().map(|t| t.class).collect();
    classes.sort_unstable();
    out.extend(classes.iter().map(|c| info(c, "transformation")));
    let mut classes: Vec<&str> = transforms::predicates().iter().map(|p| p.class).collect();
    classes.sort_unstable();
    out.extend(classes.iter().map(|c| info(c, "predicate")));
    let mut classes = crate::converters::available();
    classes.sort_unstable();
    out.extend(classes.iter().map(|c| info(c, "converter")));
    out
}

/// A key definition with its full name (prefixed for transforms and
/// predicates) and group.
struct KeyDef {
    name: String,
    ty: ConfigType,
    default: Option<String>,
    importance: Importance,
    doc: String,
    group: Option<String>,
    order: i32,
}

impl KeyDef {
    fn info(&self) -> ConfigKeyInfo {
        let default_value = self.default.as_ref().map(|d| {
            if self.ty == ConfigType::Password {
                HIDDEN.to_owned()
            } else {
                d.clone()
            }
        });
        ConfigKeyInfo {
            name: self.name.clone(),
            kind: self.ty.to_string(),
            required: self.default.is_none(),
            default_value,
            importance: match self.importance {
                Importance::High => "HIGH",
                Importance::Medium => "MEDIUM",
                Importance::Low => "LOW",
            }
            .to_owned(),
            documentation: self.doc.clone(),
            group: self.group.clone(),
            order: self.order,
            width: "NONE".to_owned(),
            display_name: self.name.clone(),
            dependents: Vec::new(),
        }
    }
}

/// Builds key definitions in order, numbering keys within their group.
#[derive(Default)]
struct Keys {
    keys: Vec<KeyDef>,
    orders: BTreeMap<String, i32>,
}

impl Keys {
    fn add(&mut self, def: &ConfigDef, prefix: &str, group: impl Fn(&str) -> Option<String>) {
        for k in def.keys() {
            let name = format!("{prefix}{}", k.name);
            if self.keys.iter().any(|existing| existing.name == name) {
                continue;
            }
            let group = group(k.name);
            let order = match &group {
                Some(g) => {
                    let n = self.orders.entry(g.clone()).or_insert(0);
                    *n += 1;
                    *n
                }
                None => -1,
            };
            self.keys.push(KeyDef {
                name,
                ty: k.ty,
                default: k.default.map(str::to_owned),
                importance: k.importance,
                doc: k.doc.to_owned(),
                group,
                order,
            });
        }
    }

    fn groups(&self) -> Vec<String> {
        let mut seen = BTreeSet::new();
        self.keys
            .iter()
            .filter_map(|k| k.group.clone())
            .filter(|g| seen.insert(g.clone()))
            .collect()
    }
}

/// Java's group of a framework connector key.
fn framework_group(key: &str) -> Option<String> {
    let group = if key.starts_with("errors.") {
        "Error Handling"
    } else if key.starts_with("topic.creation.") {
        "Topic Creation"
    } else {
        "Common"
    };
    Some(group.to_owned())
}

/// The framework keys of a connector kind.
fn framework_def(kind: ConnectorKind) -> ConfigDef {
    match kind {
        ConnectorKind::Sink => connector_config::sink_def(),
        ConnectorKind::Source => connector_config::source_def(),
    }
}

/// What Java's `ConnectorConfig.enrich` adds for `transforms=` and
/// `predicates=` aliases: `<prefix>type`, the transform's `predicate` and
/// `negate`, and the plugin's own keys, grouped per alias.
fn alias_keys(keys: &mut Keys, props: &Props) {
    let framework = |what: &'static str, with_condition: bool| {
        let mut def =
            ConfigDef::new().define("type", ConfigType::Class, None, Importance::High, what);
        if with_condition {
            def = def
                .define(
                    "negate",
                    ConfigType::Boolean,
                    Some("false"),
                    Importance::Medium,
                    "Whether the configured predicate should be negated.",
                )
                .define(
                    "predicate",
                    ConfigType::String,
                    Some(""),
                    Importance::Medium,
                    "The alias of a predicate used to determine whether to apply this transformation.",
                );
        }
        def
    };
    let list = |key: &str| split_list(props.get(key).map(String::as_str).unwrap_or(""));
    for alias in list(TRANSFORMS) {
        let prefix = format!("{TRANSFORMS}.{alias}.");
        let group = format!("Transforms: {alias}");
        keys.add(
            &framework("Class for the transformation.", true),
            &prefix,
            |_| Some(group.clone()),
        );
        if let Some(p) = props
            .get(&format!("{prefix}type"))
            .and_then(|c| transforms::find_transform(c))
        {
            keys.add(&(p.create)().config_def(), &prefix, |_| Some(group.clone()));
        }
    }
    for alias in list(PREDICATES) {
        let prefix = format!("{PREDICATES}.{alias}.");
        let group = format!("Predicates: {alias}");
        keys.add(
            &framework("Class for the predicate.", false),
            &prefix,
            |_| Some(group.clone()),
        );
        if let Some(p) = props
            .get(&format!("{prefix}type"))
            .and_then(|c| transforms::find_predicate(c))
        {
            keys.add(&(p.create)().config_def(), &prefix, |_| Some(group.clone()));
        }
    }
}

/// A converter's definition by class name or simple class name.
fn converter_def(name: &str) -> Option<ConfigDef> {
    let class = crate::converters::available()
        .into_iter()
        .find(|c| *c == name || c.rsplit('.').next() == Some(name))?;
    Some(match class.rsplit('.').next().unwrap_or(class) {
        "JsonConverter" => crate::converters::json::config_def(),
        "AvroConverter" => crate::converters::avro::config_def(),
        _ => ConfigDef::new(),
    })
}

/// `GET /connector-plugins/{plugin}/config`: the plugin's keys, for a
/// connector its own keys first and then the framework's (Java's order).
pub fn config_keys(plugin: &str) -> Result<Vec<ConfigKeyInfo>, RestError> {
    let mut keys = Keys::default();
    if let Ok(p) = connectors::find(plugin) {
        keys.add(&(p.create)().as_connector().config_def(), "", |_| None);
        keys.add(&framework_def(p.kind), "", framework_group);
    } else if let Some(t) = transforms::find_transform(plugin) {
        keys.add(&(t.create)().config_def(), "", |_| None);
    } else if let Some(p) = transforms::find_predicate(plugin) {
        keys.add(&(p.create)().config_def(), "", |_| None);
    } else if let Some(def) = converter_def(plugin) {
        keys.add(&def, "", |_| None);
    } else {
        return Err(RestError::not_found(format!("Unknown plugin {plugin}.")));
    }
    Ok(keys.keys.iter().map(KeyDef::info).collect())
}

/// Java's `normalizedPluginName`: a trailing `Connector` dropped.
fn normalized(name: &str) -> &str {
    match name.strip_suffix("Connector") {
        Some(s) if !s.is_empty() => s,
        _ => name,
    }
}

/// `PUT /connector-plugins/{plugin}/config/validate`: every key with its
/// definition, value and errors. A body without `connector.class` is
/// validated as the plugin of the path (Java answers 400).
pub fn validate_for_plugin(
    plugin: &str,
    mut config: Props,
    exactly_once: bool,
) -> Result<ConfigInfos, RestError> {
    match config.get(CONNECTOR_CLASS) {
        Some(included) => {
            let same = normalized(included).ends_with(normalized(plugin))
                || matches!(
                    (connectors::find(included), connectors::find(plugin)),
                    (Ok(a), Ok(b)) if std::ptr::eq(a, b)
                );
            if !same {
                return Err(RestError::bad_request(format!(
                    "Included connector type {included} does not match request type {plugin}"
                )));
            }
        }
        None => {
            config.insert(CONNECTOR_CLASS.into(), plugin.to_owned());
        }
    }
    validate(&config, exactly_once)
}

/// Validates a connector config as Java's `AbstractHerder.validateConnectorConfig`
/// (with its distributed herder's exactly-once checks; `exactly_once`:
/// the worker's `exactly.once.source.support=enabled`).
pub fn validate(config: &Props, exactly_once: bool) -> Result<ConfigInfos, RestError> {
    let class = config.get(CONNECTOR_CLASS).ok_or_else(|| {
        RestError::bad_request(format!(
            "Connector config {} contains no connector type",
            super::java_map(config)
        ))
    })?;
    let plugin = connectors::find(class).map_err(RestError::bad_request)?;
    let connector = (plugin.create)();
    let framework = framework_def(plugin.kind);
    let own = connector.as_connector().config_def();

    let mut keys = Keys::default();
    keys.add(&framework, "", framework_group);
    alias_keys(&mut keys, config);
    keys.add(&own, "", |_| None);

    // Per-key checks: types, validators, required keys.
    let mut errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut add = |e: ConfigError| errors.entry(e.key).or_default().push(e.message);
    let merged = framework.merge(&own);
    for e in merged.validate(config) {
        // Java's `ConfigDef.parseForValidate` runs a key's validator on
        // the null that a failed parse leaves, and a range refuses null:
        // `tasks.max=two` has two errors there.
        let null_refused = e.message.contains("Expected value to be")
            && matches!(
                merged.key(&e.key).and_then(|k| k.validator.as_ref()),
                Some(Validator::Range { .. })
            );
        let key = e.key.clone();
        add(e);
        if null_refused {
            add(ConfigError::new(
                key.clone(),
                format!("Invalid value null for configuration {key}: Value must be non-null"),
            ));
        }
    }
    // KIP-618's checks, on keys that passed their own.
    for e in connector_config::exactly_once_errors(config, &connector, exactly_once) {
        match errors.get_mut(&e.key) {
            Some(_) => {}
            None => {
                errors.insert(e.key, vec![e.message]);
            }
        }
    }
    let mut add = |e: ConfigError| errors.entry(e.key).or_default().push(e.message);
    for (list, find_def) in [
        (
            TRANSFORMS,
            (|c: &str| transforms::find_transform(c).map(|p| (p.create)().config_def()))
                as fn(&str) -> Option<ConfigDef>,
        ),
        (PREDICATES, |c: &str| {
            transforms::find_predicate(c).map(|p| (p.create)().config_def())
        }),
    ] {
        for alias in split_list(config.get(list).map(String::as_str).unwrap_or("")) {
            let prefix = format!("{list}.{alias}.");
            let Some(def) = config
                .get(&format!("{prefix}type"))
                .and_then(|c| find_def(c))
            else {
                continue;
            };
            for e in def.validate(&with_prefix(config, &prefix)) {
                add(ConfigError::new(format!("{prefix}{}", e.key), e.message));
            }
        }
    }
    // Rules that span keys, the transform chain, the connector's own start
    // check. They stop at the first failure: run them again with each key
    // that failed replaced (its default, or a placeholder of its type), so
    // every key gets its error, as Java reports them all at once.
    let mut repaired = config.clone();
    for key in errors.keys() {
        placeholder(&mut repaired, &keys, key);
    }
    let mut seen = BTreeSet::new();
    for _ in 0..16 {
        let Err(e) = connector_config::validate(&repaired) else {
            break;
        };
        let key = e.key.clone().unwrap_or_else(|| CONNECTOR_CLASS.to_owned());
        let prefix = format!("invalid configuration for \"{key}\": ");
        let message = e
            .message
            .strip_prefix(&prefix)
            .unwrap_or(&e.message)
            .to_owned();
        let entry = errors.entry(key.clone()).or_default();
        if entry.is_empty() {
            entry.push(message);
        }
        if !seen.insert(key.clone()) || key == CONNECTOR_CLASS {
            break;
        }
        placeholder(&mut repaired, &keys, &key);
    }

    sink_topic_errors_as_java(&mut errors);

    let value_of = |k: &KeyDef| -> ConfigValueInfo {
        let errs = errors.get(&k.name).cloned().unwrap_or_default();
        let raw = config.get(&k.name).cloned();
        let unparsable = errs.iter().any(|e| e.contains("Expected value to be"));
        let value = match raw {
            Some(_) if unparsable => None,
            Some(_) if k.ty == ConfigType::Password || is_secret_name(&k.name) => {
                Some(HIDDEN.to_owned())
            }
            Some(v) => Some(v),
            None => k.default.clone(),
        };
        ConfigValueInfo {
            name: k.name.clone(),
            value,
            recommended_values: Vec::new(),
            errors: errs,
            visible: true,
        }
    };
    let declared: BTreeSet<&str> = keys.keys.iter().map(|k| k.name.as_str()).collect();
    let mut configs = Vec::new();
    let mut error_count = 0;
    // Java lists values without a definition first.
    for (key, errs) in &errors {
        if !declared.contains(key.as_str()) {
            error_count += errs.len();
            configs.push(ConfigInfo {
                definition: None,
                value: Some(ConfigValueInfo {
                    name: key.clone(),
                    value: config.get(key).cloned(),
                    recommended_values: Vec::new(),
                    errors: errs.clone(),
                    visible: true,
                }),
            });
        }
    }
    for k in &keys.keys {
        let value = value_of(k);
        error_count += value.errors.len();
        configs.push(ConfigInfo {
            definition: Some(k.info()),
            value: Some(value),
        });
    }
    Ok(ConfigInfos {
        name: class.clone(),
        error_count,
        groups: keys.groups(),
        configs,
    })
}

/// Java's `SinkConnectorConfig.validate` reports the topic rules on the
/// keys a user changes to fix them: a missing or doubly set topic
/// selection on both `topics` and `topics.regex`, a dead letter queue
/// among the consumed topics on `topics` (or `topics.regex`), not on the
/// queue's own key.
fn sink_topic_errors_as_java(errors: &mut BTreeMap<String, Vec<String>>) {
    let both: Vec<String> = errors
        .get(TOPICS)
        .into_iter()
        .flatten()
        .filter(|m| {
            m.starts_with("Must configure one of") || m.contains("mutually exclusive options")
        })
        .cloned()
        .collect();
    for message in both {
        let regex = errors.entry(TOPICS_REGEX.to_owned()).or_default();
        if !regex.contains(&message) {
            regex.push(message);
        }
    }
    let Some(dlq) = errors.get_mut(DLQ_TOPIC_NAME) else {
        return;
    };
    let (moved, kept): (Vec<String>, Vec<String>) = std::mem::take(dlq)
        .into_iter()
        .partition(|m| m.starts_with("The DLQ topic"));
    if kept.is_empty() {
        errors.remove(DLQ_TOPIC_NAME);
    } else {
        errors.insert(DLQ_TOPIC_NAME.to_owned(), kept);
    }
    for message in moved {
        let key = if message.contains("list of topics") {
            TOPICS
        } else {
            TOPICS_REGEX
        };
        errors.entry(key.to_owned()).or_default().push(message);
    }
}

/// Replaces a key that failed validation so the checks after it can run:
/// its default, else a value of its type; a broken transform chain is
/// left out.
fn placeholder(props: &mut Props, keys: &Keys, key: &str) {
    // A broken transform or predicate: check the rest without the chain.
    if key.starts_with("transforms.") || key.starts_with("predicates.") {
        props.remove(TRANSFORMS);
        props.remove(PREDICATES);
        return;
    }
    let def = keys.keys.iter().find(|k| k.name == key);
    match def {
        Some(k) if k.default.is_some() => {
            props.remove(key);
        }
        Some(k) => {
            let value = match k.ty {
                ConfigType::Int | ConfigType::Long | ConfigType::Double => "1",
                ConfigType::Boolean => "false",
                _ => "placeholder",
            };
            props.insert(key.to_owned(), value.to_owned());
        }
        None => {
            props.remove(key);
        }
    }
}

/// Java's 400 for a create or update whose config has errors (from
/// `AbstractHerder.maybeAddConfigErrors`).
pub fn invalid_config(infos: &ConfigInfos) -> Option<RestError> {
    if infos.error_count == 0 {
        return None;
    }
    let mut message = format!(
        "Connector configuration is invalid and contains the following {} error(s):",
        infos.error_count
    );
    for info in &infos.configs {
        for e in info.value.iter().flat_map(|v| &v.errors) {
            message.push('\n');
            message.push_str(e);
        }
    }
    message.push_str(
        "\nYou can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`",
    );
    Some(RestError::bad_request(message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::config::props_of;

    /// On a worker without exactly-once support.
    fn validate(config: &Props) -> Result<ConfigInfos, RestError> {
        super::validate(config, false)
    }

    fn validate_for_plugin(plugin: &str, config: Props) -> Result<ConfigInfos, RestError> {
        super::validate_for_plugin(plugin, config, false)
    }

    #[test]
    fn exactly_once_keys_are_checked_against_the_connector_as_java() {
        let config = |pairs: &[(&str, &str)]| {
            let mut p = props_of(&[
                ("name", "g"),
                ("connector.class", "datagen"),
                ("topic", "t"),
            ]);
            p.extend(props_of(pairs));
            p
        };
        // datagen supports exactly once: required is fine on an EOS worker.
        let ok = super::validate(&config(&[("exactly.once.support", "required")]), true).unwrap();
        assert_eq!(ok.error_count, 0, "{:?}", ok.configs);
        // Not on a worker without it.
        let off = validate(&config(&[("exactly.once.support", "required")])).unwrap();
        assert_eq!(
            value(&off, "exactly.once.support").errors,
            vec!["This worker does not have exactly-once source support enabled."]
        );
        // datagen draws transaction boundaries of its own, the file source
        // does not.
        let ok = super::validate(&config(&[("transaction.boundary", "connector")]), true).unwrap();
        assert_eq!(ok.error_count, 0, "{:?}", ok.configs);
        let file = props_of(&[
            ("name", "f"),
            ("connector.class", "FileStreamSource"),
            ("topic", "t"),
            ("file", "/dev/null"),
            ("transaction.boundary", "connector"),
        ]);
        let boundary = super::validate(&file, true).unwrap();
        assert_eq!(boundary.error_count, 1);
        assert!(
            value(&boundary, "transaction.boundary").errors[0].starts_with(
                "The connector does not support connector-defined transaction boundaries"
            )
        );
        // An invalid value keeps its own error only.
        let bad = super::validate(&config(&[("exactly.once.support", "always")]), true).unwrap();
        assert_eq!(value(&bad, "exactly.once.support").errors.len(), 1);
        // Sinks have neither key.
        let sink = super::validate(
            &props_of(&[
                ("name", "s"),
                ("connector.class", "FileStreamSink"),
                ("topics", "a"),
            ]),
            true,
        )
        .unwrap();
        assert_eq!(sink.error_count, 0);
    }

    fn value<'a>(infos: &'a ConfigInfos, key: &str) -> &'a ConfigValueInfo {
        infos
            .configs
            .iter()
            .filter_map(|c| c.value.as_ref())
            .find(|v| v.name == key)
            .unwrap_or_else(|| panic!("no value for {key}"))
    }

    #[test]
    fn lists_connectors_then_other_plugins() {
        let only = list(true);
        assert_eq!(only[0].kind, "sink");
        assert!(only.iter().all(|p| p.kind == "sink" || p.kind == "source"));
        assert!(only
            .iter()
            .any(|p| p.class == "org.apache.kafka.connect.file.FileStreamSourceConnector"));
        let all = list(false);
        for kind in ["transformation", "predicate", "converter"] {
            assert!(all.iter().any(|p| p.kind == kind), "{kind}");
        }
        assert!(all
            .iter()
            .any(|p| p.class == "org.apache.kafka.connect.transforms.InsertField$Value"));
        assert!(all
            .iter()
            .any(|p| p.class == "org.apache.kafka.connect.json.JsonConverter"));
    }

    #[test]
    fn plugin_config_puts_the_plugins_keys_first() {
        let keys = config_keys("FileStreamSink").unwrap();
        assert_eq!(keys[0].name, "file");
        assert_eq!(keys[0].group, None);
        let tasks = keys.iter().find(|k| k.name == "tasks.max").unwrap();
        assert_eq!(tasks.kind, "INT");
        assert_eq!(tasks.default_value.as_deref(), Some("1"));
        assert_eq!(tasks.group.as_deref(), Some("Common"));
        assert!(!tasks.required);
        let name = keys.iter().find(|k| k.name == "name").unwrap();
        assert!(name.required && name.default_value.is_none());
        assert!(
            !config_keys("org.apache.kafka.connect.transforms.InsertField$Value")
                .unwrap()
                .is_empty()
        );
        assert!(!config_keys("JsonConverter").unwrap().is_empty());
        assert_eq!(
            config_keys("com.acme.Nope").unwrap_err().message,
            "Unknown plugin com.acme.Nope."
        );
    }

    #[test]
    fn validation_reports_every_bad_field() {
        let infos = validate_for_plugin(
            "FileStreamSinkConnector",
            props_of(&[
                (
                    "connector.class",
                    "org.apache.kafka.connect.file.FileStreamSinkConnector",
                ),
                ("tasks.max", "two"),
                ("errors.tolerance", "most"),
                ("transforms", "route"),
                ("transforms.route.type", "com.acme.Nope"),
            ]),
        )
        .unwrap();
        assert_eq!(
            infos.name,
            "org.apache.kafka.connect.file.FileStreamSinkConnector"
        );
        // As Java: the unparsable tasks.max also fails its range check
        // (on null), the missing topics are reported on both keys.
        for (key, count) in [
            ("name", 1),
            ("tasks.max", 2),
            ("errors.tolerance", 1),
            ("topics", 1),
            ("topics.regex", 1),
            ("transforms.route.type", 1),
        ] {
            assert_eq!(value(&infos, key).errors.len(), count, "{key}: {infos:#?}");
        }
        assert_eq!(
            value(&infos, "tasks.max").errors[1],
            "Invalid value null for configuration tasks.max: Value must be non-null"
        );
        assert_eq!(infos.error_count, 7, "{infos:#?}");
        assert_eq!(value(&infos, "tasks.max").value, None);
        assert_eq!(
            value(&infos, "errors.tolerance").value.as_deref(),
            Some("most")
        );
        assert_eq!(value(&infos, "topics.regex").value.as_deref(), Some(""));
        assert!(infos.groups.contains(&"Common".to_owned()));
        assert!(infos.groups.contains(&"Transforms: route".to_owned()));
        let message = invalid_config(&infos).unwrap().message;
        assert!(message.starts_with(
            "Connector configuration is invalid and contains the following 7 error(s):\n"
        ));

        let ok = validate(&props_of(&[
            ("name", "g"),
            ("connector.class", "datagen"),
            ("topic", "t"),
            ("transforms", "f"),
            (
                "transforms.f.type",
                "org.apache.kafka.connect.transforms.InsertField$Value",
            ),
            ("transforms.f.static.field", "src"),
            ("transforms.f.static.value", "x"),
        ]))
        .unwrap();
        assert_eq!(ok.error_count, 0, "{ok:#?}");
        assert_eq!(
            value(&ok, "transforms.f.static.field").value.as_deref(),
            Some("src")
        );
        assert!(invalid_config(&ok).is_none());

        // A dead letter queue among the consumed topics is an error on
        // `topics`, as Java reports it.
        let dlq = validate(&props_of(&[
            ("name", "d"),
            ("connector.class", "FileStreamSink"),
            ("topics", "a"),
            ("errors.deadletterqueue.topic.name", "a"),
        ]))
        .unwrap();
        assert_eq!(dlq.error_count, 1, "{dlq:#?}");
        assert!(value(&dlq, "topics").errors[0].starts_with("The DLQ topic 'a'"));
        assert!(value(&dlq, "errors.deadletterqueue.topic.name")
            .errors
            .is_empty());
        let both = validate(&props_of(&[
            ("name", "b"),
            ("connector.class", "FileStreamSink"),
            ("topics", "a"),
            ("topics.regex", "b.*"),
        ]))
        .unwrap();
        assert_eq!(both.error_count, 2, "{both:#?}");
    }

    #[test]
    fn mismatched_or_missing_connector_types() {
        let e = validate_for_plugin(
            "FileStreamSink",
            props_of(&[("connector.class", "datagen")]),
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "Included connector type datagen does not match request type FileStreamSink"
        );
        assert!(
            validate_for_plugin("Datagen", props_of(&[("connector.class", "datagen")])).is_ok()
        );
        let e = validate(&props_of(&[("name", "x")])).unwrap_err();
        assert_eq!(
            e.message,
            "Connector config {name=x} contains no connector type"
        );
        let e = validate(&props_of(&[("connector.class", "com.acme.Nope")])).unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
        assert!(e.message.contains("com.acme.Nope"));
    }

    #[test]
    fn secrets_are_never_echoed() {
        let infos = validate(&props_of(&[
            ("name", "s"),
            ("connector.class", "FileStreamSink"),
            ("topics", "t"),
            ("consumer.override.sasl.jaas.config", "secret"),
        ]))
        .unwrap();
        let text = serde_json::to_string(&infos).unwrap();
        assert!(!text.contains("\"secret\""), "{text}");
    }
}
