//! Config definitions in the style of Java's `ConfigDef`: every key is
//! declared once with type, default, importance and doc, and parsing a raw
//! string map against the definition yields typed values or an error that
//! names the key and what was expected.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// Raw connector or worker properties, as they appear in a properties file.
pub type Props = BTreeMap<String, String>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    String,
    Int,
    Long,
    Double,
    Boolean,
    /// Comma-separated list.
    List,
    /// Java class name (or alias).
    Class,
    /// A secret: never printed.
    Password,
}

impl fmt::Display for ConfigType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConfigType::String => "STRING",
            ConfigType::Int => "INT",
            ConfigType::Long => "LONG",
            ConfigType::Double => "DOUBLE",
            ConfigType::Boolean => "BOOLEAN",
            ConfigType::List => "LIST",
            ConfigType::Class => "CLASS",
            ConfigType::Password => "PASSWORD",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Importance {
    High,
    Medium,
    Low,
}

/// Extra checks beyond the type.
#[derive(Debug, Clone)]
pub enum Validator {
    /// Inclusive numeric range; `None` is unbounded.
    Range { min: Option<i64>, max: Option<i64> },
    /// One of these strings (case-insensitive).
    OneOf(&'static [&'static str]),
    /// A non-empty string.
    NonEmpty,
    /// A valid regular expression.
    Regex,
}

/// One declared config key.
#[derive(Debug, Clone)]
pub struct ConfigKey {
    pub name: &'static str,
    pub ty: ConfigType,
    /// `None` means the key is required.
    pub default: Option<&'static str>,
    pub importance: Importance,
    pub doc: &'static str,
    pub validator: Option<Validator>,
}

/// A set of declared keys.
#[derive(Debug, Clone, Default)]
pub struct ConfigDef {
    keys: Vec<ConfigKey>,
}

impl ConfigDef {
    pub fn new() -> Self {
        ConfigDef::default()
    }

    /// Declares a key. Chainable like Java's `ConfigDef.define`.
    pub fn define(
        mut self,
        name: &'static str,
        ty: ConfigType,
        default: Option<&'static str>,
        importance: Importance,
        doc: &'static str,
    ) -> Self {
        self.keys.push(ConfigKey {
            name,
            ty,
            default,
            importance,
            doc,
            validator: None,
        });
        self
    }

    /// Attaches a validator to the most recently defined key.
    pub fn validate_with(mut self, validator: Validator) -> Self {
        if let Some(last) = self.keys.last_mut() {
            last.validator = Some(validator);
        }
        self
    }

    pub fn keys(&self) -> &[ConfigKey] {
        &self.keys
    }

    pub fn key(&self, name: &str) -> Option<&ConfigKey> {
        self.keys.iter().find(|k| k.name == name)
    }

    /// Merges another definition's keys (later keys win on name clashes).
    pub fn merge(mut self, other: &ConfigDef) -> Self {
        for k in &other.keys {
            self.keys.retain(|existing| existing.name != k.name);
            self.keys.push(k.clone());
        }
        self
    }

    /// Validates every declared key of `props`, collecting all errors rather
    /// than stopping at the first, like Connect's validate endpoint.
    pub fn validate(&self, props: &Props) -> Vec<ConfigError> {
        self.keys
            .iter()
            .filter_map(|k| check_key(k, props.get(k.name).map(String::as_str)).err())
            .collect()
    }

    /// Parses `props` into a [`Config`], failing with the first error.
    pub fn parse(&self, props: &Props) -> Result<Config, ConfigError> {
        if let Some(err) = self.validate(props).into_iter().next() {
            return Err(err);
        }
        Ok(Config {
            def: self.clone(),
            props: props.clone(),
        })
    }
}

fn check_key(key: &ConfigKey, raw: Option<&str>) -> Result<(), ConfigError> {
    let Some(raw) = raw.or(key.default) else {
        return Err(ConfigError::missing(key));
    };
    parse_typed(key, raw)?;
    if let Some(v) = &key.validator {
        run_validator(key, v, raw)?;
    }
    Ok(())
}

fn parse_typed(key: &ConfigKey, raw: &str) -> Result<(), ConfigError> {
    let trimmed = raw.trim();
    let ok = match key.ty {
        ConfigType::Int => trimmed.parse::<i32>().is_ok(),
        ConfigType::Long => trimmed.parse::<i64>().is_ok(),
        ConfigType::Double => trimmed.parse::<f64>().is_ok(),
        ConfigType::Boolean => {
            trimmed.eq_ignore_ascii_case("true") || trimmed.eq_ignore_ascii_case("false")
        }
        ConfigType::String | ConfigType::List | ConfigType::Class | ConfigType::Password => true,
    };
    if ok {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            key,
            raw,
            format!("Expected value to be a {}", type_expectation(key.ty)),
        ))
    }
}

fn type_expectation(ty: ConfigType) -> &'static str {
    match ty {
        ConfigType::Int => "32-bit integer",
        ConfigType::Long => "64-bit integer",
        ConfigType::Double => "number",
        ConfigType::Boolean => "boolean (true or false)",
        _ => "string",
    }
}

fn run_validator(key: &ConfigKey, v: &Validator, raw: &str) -> Result<(), ConfigError> {
    match v {
        Validator::Range { min, max } => {
            let n: i64 = raw
                .trim()
                .parse()
                .map_err(|_| ConfigError::invalid(key, raw, "Expected an integer".to_string()))?;
            if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                let bound = match (min, max) {
                    (Some(lo), Some(hi)) => format!("Value must be in [{lo},...,{hi}]"),
                    (Some(lo), None) => format!("Value must be at least {lo}"),
                    (None, Some(hi)) => format!("Value must be no more than {hi}"),
                    (None, None) => unreachable!("a range check failed without bounds"),
                };
                return Err(ConfigError::invalid(key, raw, bound));
            }
        }
        Validator::OneOf(choices) => {
            if !choices.iter().any(|c| c.eq_ignore_ascii_case(raw.trim())) {
                return Err(ConfigError::invalid(
                    key,
                    raw,
                    format!("String must be one of: {}", choices.join(", ")),
                ));
            }
        }
        Validator::NonEmpty => {
            if raw.trim().is_empty() {
                return Err(ConfigError::invalid(
                    key,
                    raw,
                    "String must be non-empty".into(),
                ));
            }
        }
        Validator::Regex => {
            if let Err(e) = regex::Regex::new(raw) {
                return Err(ConfigError::invalid(
                    key,
                    raw,
                    format!("not a valid regular expression: {e}"),
                ));
            }
        }
    }
    Ok(())
}

/// A config key that is missing or has a bad value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            key: key.into(),
            message: message.into(),
        }
    }

    fn missing(key: &ConfigKey) -> ConfigError {
        ConfigError::new(
            key.name,
            format!(
                "Missing required configuration \"{}\" which has no default value ({}: {})",
                key.name, key.ty, key.doc
            ),
        )
    }

    fn invalid(key: &ConfigKey, raw: &str, why: String) -> ConfigError {
        let shown = if key.ty == ConfigType::Password {
            "[hidden]"
        } else {
            raw
        };
        ConfigError::new(
            key.name,
            format!(
                "Invalid value {shown} for configuration {}: {why}",
                key.name
            ),
        )
    }
}

/// Parsed configuration: typed getters over validated properties.
#[derive(Debug, Clone)]
pub struct Config {
    def: ConfigDef,
    props: Props,
}

impl Config {
    fn raw(&self, name: &str) -> Option<&str> {
        self.props
            .get(name)
            .map(String::as_str)
            .or_else(|| self.def.key(name).and_then(|k| k.default))
    }

    /// A string value; `None` when unset and without default (or when set to
    /// an empty default for optional keys).
    pub fn string(&self, name: &str) -> Option<String> {
        self.raw(name).map(str::to_owned)
    }

    pub fn int(&self, name: &str) -> i32 {
        self.raw(name)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_default()
    }

    pub fn long(&self, name: &str) -> i64 {
        self.raw(name)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_default()
    }

    pub fn double(&self, name: &str) -> f64 {
        self.raw(name)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_default()
    }

    pub fn boolean(&self, name: &str) -> bool {
        self.raw(name)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    }

    /// A comma-separated list, trimmed, empty items dropped.
    pub fn list(&self, name: &str) -> Vec<String> {
        split_list(self.raw(name).unwrap_or(""))
    }

    pub fn duration_ms(&self, name: &str) -> Duration {
        Duration::from_millis(self.long(name).max(0) as u64)
    }

    pub fn props(&self) -> &Props {
        &self.props
    }
}

/// Properties from literal pairs, for code and tests that build configs.
pub fn props_of(pairs: &[(&str, &str)]) -> Props {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Splits a Connect list value (`a, b,c`).
pub fn split_list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Properties whose keys start with `prefix`, with the prefix removed.
pub fn with_prefix(props: &Props, prefix: &str) -> Props {
    props
        .iter()
        .filter_map(|(k, v)| k.strip_prefix(prefix).map(|s| (s.to_owned(), v.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def() -> ConfigDef {
        ConfigDef::new()
            .define(
                "file",
                ConfigType::String,
                None,
                Importance::High,
                "The file",
            )
            .define(
                "batch.size",
                ConfigType::Int,
                Some("2000"),
                Importance::Low,
                "Batch",
            )
            .validate_with(Validator::Range {
                min: Some(1),
                max: None,
            })
            .define(
                "mode",
                ConfigType::String,
                Some("a"),
                Importance::Low,
                "Mode",
            )
            .validate_with(Validator::OneOf(&["a", "b"]))
    }

    #[test]
    fn missing_required_key_is_named() {
        let err = def().parse(&props_of(&[])).unwrap_err();
        assert_eq!(err.key, "file");
        assert!(err
            .message
            .contains("Missing required configuration \"file\""));
    }

    #[test]
    fn mistyped_value_is_named_with_expectation() {
        let err = def()
            .parse(&props_of(&[("file", "x"), ("batch.size", "lots")]))
            .unwrap_err();
        assert_eq!(err.key, "batch.size");
        assert!(err.message.contains("32-bit integer"), "{}", err.message);
    }

    #[test]
    fn validators_apply_and_collect_every_error() {
        let errs = def().validate(&props_of(&[("batch.size", "0"), ("mode", "c")]));
        let keys: Vec<_> = errs.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["file", "batch.size", "mode"]);
    }

    #[test]
    fn defaults_and_typed_getters() {
        let cfg = def().parse(&props_of(&[("file", "/tmp/x")])).unwrap();
        assert_eq!(cfg.int("batch.size"), 2000);
        assert_eq!(cfg.string("file").as_deref(), Some("/tmp/x"));
        assert_eq!(split_list(" a, b,,c "), ["a", "b", "c"]);
    }
}
