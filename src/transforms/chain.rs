//! The transform chain of a connector: `transforms=a,b`,
//! `transforms.<alias>.type`, `.predicate`, `.negate`, and
//! `predicates=p`, `predicates.<alias>.type`, as in Java's ConnectorConfig.

use std::collections::{BTreeMap, BTreeSet};

use crate::connect::config::{split_list, with_prefix, ConfigDef, ConfigError, Props};
use crate::connect::transform::{Predicate, Transform, TransformError};
use crate::connect::{ConnectError, ConnectRecord};

/// A transform or predicate configuration that cannot work; `key` is the
/// full connector key (e.g. `transforms.route.regex`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration for \"{key}\": {message}")]
pub struct ChainError {
    pub key: String,
    pub message: String,
}

impl From<ChainError> for ConfigError {
    fn from(e: ChainError) -> Self {
        ConfigError::new(e.key, e.message)
    }
}

struct Step {
    alias: String,
    transform: Box<dyn Transform>,
    /// The predicate alias, and whether its result is negated.
    predicate: Option<(String, bool)>,
}

/// The configured transforms of a connector, applied in order.
#[derive(Default)]
pub struct TransformChain {
    steps: Vec<Step>,
    predicates: BTreeMap<String, Box<dyn Predicate>>,
}

impl std::fmt::Debug for TransformChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransformChain")
            .field(
                "transforms",
                &self.steps.iter().map(|s| &s.alias).collect::<Vec<_>>(),
            )
            .field("predicates", &self.predicates.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn err(key: impl Into<String>, message: impl Into<String>) -> ChainError {
    ChainError {
        key: key.into(),
        message: message.into(),
    }
}

/// The alias list under `key`, rejecting duplicates like Java.
fn aliases(props: &Props, key: &str) -> Result<Vec<String>, ChainError> {
    let list = props.get(key).map(|v| split_list(v)).unwrap_or_default();
    let mut seen = BTreeSet::new();
    for alias in &list {
        if !seen.insert(alias.as_str()) {
            return Err(err(key, format!("Duplicate alias provided: {alias}")));
        }
    }
    Ok(list)
}

/// The plugin's own settings: everything under the prefix except the
/// framework's keys.
fn own_props(props: &Props, prefix: &str) -> Props {
    let mut own = with_prefix(props, prefix);
    for k in ["type", "predicate", "negate"] {
        own.remove(k);
    }
    own
}

fn configure_error(prefix: &str, e: ConnectError) -> ChainError {
    match e {
        ConnectError::Config { key, message } => err(format!("{prefix}{key}"), message),
        other => err(format!("{prefix}type"), other.to_string()),
    }
}

/// What transforms and predicates share: a config definition and a
/// configure step.
trait Configurable {
    fn config_def(&self) -> ConfigDef;
    fn configure(&mut self, props: &Props) -> Result<(), ConnectError>;
}

impl Configurable for Box<dyn Transform> {
    fn config_def(&self) -> ConfigDef {
        self.as_ref().config_def()
    }
    fn configure(&mut self, props: &Props) -> Result<(), ConnectError> {
        self.as_mut().configure(props)
    }
}

impl Configurable for Box<dyn Predicate> {
    fn config_def(&self) -> ConfigDef {
        self.as_ref().config_def()
    }
    fn configure(&mut self, props: &Props) -> Result<(), ConnectError> {
        self.as_mut().configure(props)
    }
}

/// Creates the plugin `<prefix>type` names and configures it with the keys
/// under `prefix`. `what` is "transform" or "predicate", for messages.
fn instantiate<P: Configurable>(
    props: &Props,
    prefix: &str,
    what: &str,
    find: impl Fn(&str) -> Option<P>,
    known: impl Fn() -> Vec<&'static str>,
) -> Result<P, ChainError> {
    let type_key = format!("{prefix}type");
    let class = props
        .get(&type_key)
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            err(
                &type_key,
                format!("Missing required configuration: the {what} class"),
            )
        })?;
    let mut plugin = find(class).ok_or_else(|| {
        err(
            &type_key,
            format!(
                "Class {class} could not be found. Built-in {what}s: {}",
                known().join(", ")
            ),
        )
    })?;
    let own = own_props(props, prefix);
    plugin
        .config_def()
        .parse(&own)
        .map_err(|e| err(format!("{prefix}{}", e.key), e.message))?;
    plugin
        .configure(&own)
        .map_err(|e| configure_error(prefix, e))?;
    Ok(plugin)
}

impl TransformChain {
    /// Builds and configures the chain from a connector's properties.
    /// Errors name the full key, e.g. `transforms.mask.fields`.
    pub fn from_props(props: &Props) -> Result<TransformChain, ChainError> {
        let mut chain = TransformChain::default();
        for alias in aliases(props, "predicates")? {
            let prefix = format!("predicates.{alias}.");
            let predicate = instantiate(
                props,
                &prefix,
                "predicate",
                |class| super::find_predicate(class).map(|p| (p.create)()),
                || super::predicates().iter().map(|p| p.class).collect(),
            )?;
            chain.predicates.insert(alias, predicate);
        }
        for alias in aliases(props, "transforms")? {
            let prefix = format!("transforms.{alias}.");
            let transform = instantiate(
                props,
                &prefix,
                "transform",
                |class| super::find_transform(class).map(|p| (p.create)()),
                || super::transforms().iter().map(|p| p.class).collect(),
            )?;
            let predicate = match props.get(&format!("{prefix}predicate")).map(|s| s.trim()) {
                None | Some("") => None,
                Some(p) => {
                    if !chain.predicates.contains_key(p) {
                        return Err(err(
                            format!("{prefix}predicate"),
                            format!("Invalid value {p}: no predicate with that alias is defined in \"predicates\""),
                        ));
                    }
                    let negate_key = format!("{prefix}negate");
                    let negate = match props
                        .get(&negate_key)
                        .map(|s| s.trim().to_ascii_lowercase())
                    {
                        None => false,
                        Some(v) if v == "true" => true,
                        Some(v) if v == "false" => false,
                        Some(v) => {
                            return Err(err(
                                negate_key,
                                format!(
                                    "Invalid value {v}: Expected value to be either true or false"
                                ),
                            ))
                        }
                    };
                    Some((p.to_owned(), negate))
                }
            };
            chain.steps.push(Step {
                alias,
                transform,
                predicate,
            });
        }
        Ok(chain)
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Runs the record through every transform whose predicate holds.
    /// `Ok(None)`: a transform dropped it. An error names the transform.
    pub fn apply(&self, record: ConnectRecord) -> Result<Option<ConnectRecord>, TransformError> {
        let mut record = record;
        for step in &self.steps {
            if let Some((alias, negate)) = &step.predicate {
                let holds = self.predicates.get(alias).is_some_and(|p| p.test(&record));
                if holds == *negate {
                    continue;
                }
            }
            match step.transform.apply(record) {
                Ok(Some(next)) => record = next,
                Ok(None) => return Ok(None),
                Err(e) => {
                    return Err(TransformError::new(format!(
                        "transform \"{}\" failed: {}",
                        step.alias, e.message
                    )))
                }
            }
        }
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::config::props_of;

    #[test]
    fn no_transforms_is_an_empty_chain_that_passes_records_through() {
        let chain = TransformChain::from_props(&props_of(&[("name", "c")])).unwrap();
        assert!(chain.is_empty());
        let r = ConnectRecord::new("t", None, crate::connect::Value::from("x"));
        assert_eq!(chain.apply(r.clone()).unwrap(), Some(r));
    }

    #[test]
    fn unknown_or_missing_types_and_predicates_name_the_key() {
        let e = TransformChain::from_props(&props_of(&[("transforms", "a")])).unwrap_err();
        assert_eq!(e.key, "transforms.a.type");
        let e = TransformChain::from_props(&props_of(&[
            ("transforms", "a"),
            ("transforms.a.type", "com.example.Nope"),
        ]))
        .unwrap_err();
        assert_eq!(e.key, "transforms.a.type");
        assert!(e.message.contains("com.example.Nope"), "{}", e.message);
        let e = TransformChain::from_props(&props_of(&[("transforms", "a,a")])).unwrap_err();
        assert_eq!(e.key, "transforms");
        let e = TransformChain::from_props(&props_of(&[("predicates", "p")])).unwrap_err();
        assert_eq!(e.key, "predicates.p.type");
    }
}
