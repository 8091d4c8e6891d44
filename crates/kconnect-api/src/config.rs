//! Config definitions in the style of Java's `ConfigDef`: every key is
//! declared once with type, default, importance and doc, and parsing a raw
//! string map against the definition yields typed values or an error that
//! names the key and what was expected.
//!
//! A value holding a `${provider:[path:]key}` config-provider variable
//! passes parsing untyped (see [`ConfigDef::validate`]), except inside
//! [`validating_resolved`], which the worker uses.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::config_provider::has_variable;

/// Raw connector or worker properties, as they appear in a properties file.
pub type Props = BTreeMap<String, String>;

/// What a secret is printed as, as in Java.
pub const HIDDEN: &str = "[hidden]";

/// Keys that hold secrets by name even where no [`ConfigDef`] declares them
/// PASSWORD: Kafka clients' PASSWORD keys, as they appear with prefixes
/// (`producer.ssl.key.password`, `consumer.override.sasl.jaas.config`).
pub fn is_secret_name(key: &str) -> bool {
    const SUFFIXES: [&str; 6] = [
        "password",
        "sasl.jaas.config",
        "basic.auth.user.info",
        "ssl.keystore.key",
        "ssl.key.pem",
        "client.secret",
    ];
    let key = key.to_ascii_lowercase();
    SUFFIXES.iter().any(|s| key.ends_with(s))
}

/// Keys of `props` that hold a secret written literally (not a
/// `${provider:…}` variable), by name or inside a URL
/// ([`url_secrets_hidden`]): what must not be stored where Connect keeps
/// configs (the config topic) or shown by the REST API.
pub fn literal_secrets(props: &Props) -> impl Iterator<Item = &String> {
    props
        .iter()
        .filter(|(k, v)| {
            !v.is_empty() && (is_literal_secret(k, v) || url_secrets_hidden(v).is_some())
        })
        .map(|(k, _)| k)
}

/// URL query parameters that carry a secret (`jdbc:postgresql://h/db?
/// user=app&password=…`, as pgjdbc and so both JDBC sinks accept).
const URL_SECRET_PARAMS: [&str; 2] = ["password", "sslpassword"];

/// The value with the literal secrets of a URL it holds replaced by
/// `[hidden]` (`…?user=app&password=[hidden]`), or `None` when it holds
/// none; a parameter that is a `${provider:…}` variable is no secret.
pub fn url_secrets_hidden(value: &str) -> Option<String> {
    let (base, query) = value.split_once('?')?;
    if !base.contains("://") && !base.starts_with("jdbc:") {
        return None;
    }
    let mut changed = false;
    let params: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, v))
                if URL_SECRET_PARAMS.iter().any(|s| s.eq_ignore_ascii_case(k))
                    && !v.is_empty()
                    && v != HIDDEN
                    && !has_variable(v) =>
            {
                changed = true;
                format!("{k}={HIDDEN}")
            }
            _ => pair.to_owned(),
        })
        .collect();
    changed.then(|| format!("{base}?{}", params.join("&")))
}

/// A URL sent back as it was shown (`password=[hidden]`) with the hidden
/// parameters taken from `current`, the value it stands for; `None` when
/// `sent` hides nothing or `current` lacks a parameter it hides.
pub fn url_secrets_restored(sent: &str, current: &str) -> Option<String> {
    let (base, query) = sent.split_once('?')?;
    let hidden = format!("={HIDDEN}");
    if !query.split('&').any(|p| p.ends_with(&hidden)) {
        return None;
    }
    let (_, current_query) = current.split_once('?')?;
    let params: Option<Vec<String>> = query
        .split('&')
        .map(|pair| match pair.strip_suffix(&hidden) {
            Some(k) => current_query
                .split('&')
                .find(|c| c.split_once('=').is_some_and(|(ck, _)| ck == k))
                .map(str::to_owned),
            None => Some(pair.to_owned()),
        })
        .collect();
    Some(format!("{base}?{}", params?.join("&")))
}

/// Whether `key` holds a secret (by its name) written as such rather than
/// as a `${provider:…}` variable.
pub fn is_literal_secret(key: &str, value: &str) -> bool {
    is_secret_name(key) && !has_variable(value)
}

thread_local! {
    /// Set inside [`validating_resolved`].
    static RESOLVED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with config-provider variables type-checked like any other
/// value. The worker resolves every variable a configured provider can
/// answer before it parses a config, so a variable still there names no
/// provider and is, as in Java, a literal value that must fit its key's type
/// (`tasks.max=${vault:x}` is not an integer). `f` must not hold the scope
/// across an `.await`: the flag is per thread.
pub fn validating_resolved<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            RESOLVED.with(|r| r.set(self.0));
        }
    }
    let _restore = Restore(RESOLVED.with(|r| r.replace(true)));
    f()
}

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
    /// A connector's own rule (Java's custom `ConfigDef.Validator`).
    Custom(Check),
}

impl Validator {
    /// A custom rule: `check` returns why a value is invalid.
    pub fn custom(
        describe: &'static str,
        check: impl Fn(&str) -> Result<(), String> + Send + Sync + 'static,
    ) -> Validator {
        Validator::Custom(Check {
            describe,
            check: Arc::new(check),
        })
    }
}

type CheckFn = Arc<dyn Fn(&str) -> Result<(), String> + Send + Sync>;
type RecommendFn = Arc<dyn Fn(&Props) -> Vec<String> + Send + Sync>;

/// A custom validator: a description (for docs) and the check.
#[derive(Clone)]
pub struct Check {
    pub describe: &'static str,
    check: CheckFn,
}

impl fmt::Debug for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Check({})", self.describe)
    }
}

/// Recommended values of a key given the rest of the config (Java's
/// `ConfigDef.Recommender`), shown by the REST validate endpoint.
#[derive(Clone)]
pub struct Recommender(RecommendFn);

impl Recommender {
    pub fn new(f: impl Fn(&Props) -> Vec<String> + Send + Sync + 'static) -> Recommender {
        Recommender(Arc::new(f))
    }

    pub fn values(&self, props: &Props) -> Vec<String> {
        (self.0)(props)
    }
}

impl fmt::Debug for Recommender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Recommender")
    }
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
    pub recommender: Option<Recommender>,
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
            recommender: None,
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

    /// Attaches a recommender to the most recently defined key.
    pub fn recommend_with(mut self, recommender: Recommender) -> Self {
        if let Some(last) = self.keys.last_mut() {
            last.recommender = Some(recommender);
        }
        self
    }

    /// The values recommended for `name` given `props`: the recommender's,
    /// else the choices of a one-of validator, else none.
    pub fn recommended_values(&self, name: &str, props: &Props) -> Vec<String> {
        match self.key(name) {
            Some(ConfigKey {
                recommender: Some(r),
                ..
            }) => r.values(props),
            Some(ConfigKey {
                validator: Some(Validator::OneOf(choices)),
                ..
            }) => choices.iter().map(|c| c.to_string()).collect(),
            _ => Vec::new(),
        }
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
    ///
    /// A value holding a `${provider:[path:]key}` variable is accepted
    /// without type or validator checks: the operator validates connector
    /// configs as stored, before any worker resolved them, and must not need
    /// the secrets to do so (`tasks.max=${file:/s/c.properties:tasks}` is
    /// known to be an integer only on the worker). The worker parses
    /// resolved configs inside [`validating_resolved`], where this leniency
    /// is off.
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
    if has_variable(raw) && !RESOLVED.with(Cell::get) {
        return Ok(());
    }
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
        Validator::Custom(c) => {
            if let Err(why) = (c.check)(raw) {
                return Err(ConfigError::invalid(key, raw, why));
            }
        }
        Validator::Regex => {
            if let Err(e) = regex::Regex::new(raw) {
                // The regex error quotes the pattern: not for a password.
                let why = if key.ty == ConfigType::Password {
                    "not a valid regular expression".to_owned()
                } else {
                    format!("not a valid regular expression: {e}")
                };
                return Err(ConfigError::invalid(key, raw, why));
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

    /// Names the key and, unless it is a password, the value (Java prints
    /// `[hidden]` for PASSWORD values).
    fn invalid(key: &ConfigKey, raw: &str, why: String) -> ConfigError {
        let shown = if key.ty == ConfigType::Password || is_secret_name(key.name) {
            HIDDEN
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
    /// The raw value of a declared key (its default when unset); an
    /// undeclared key is a bug in the caller and fails like Java's
    /// `Unknown configuration`.
    fn raw(&self, name: &str) -> Result<Option<&str>, ConfigError> {
        let key = self
            .def
            .key(name)
            .ok_or_else(|| ConfigError::new(name, format!("Unknown configuration '{name}'")))?;
        Ok(self.props.get(name).map(String::as_str).or(key.default))
    }

    /// The value parsed as `T`; a value that does not parse (one that
    /// passed validation only because it holds an unresolved
    /// `${provider:…}` variable) names the key instead of reading as 0.
    fn typed<T: std::str::FromStr>(&self, name: &str, what: &str) -> Result<T, ConfigError> {
        let raw = self.raw(name)?.ok_or_else(|| {
            ConfigError::new(name, format!("Missing required configuration \"{name}\""))
        })?;
        raw.trim().parse().map_err(|_| {
            let shown = if is_secret_name(name) { HIDDEN } else { raw };
            ConfigError::new(
                name,
                format!(
                    "Invalid value {shown} for configuration {name}: Expected value to be a {what}"
                ),
            )
        })
    }

    /// A string value; `None` when unset and without default.
    pub fn string(&self, name: &str) -> Result<Option<String>, ConfigError> {
        Ok(self.raw(name)?.map(str::to_owned))
    }

    pub fn int(&self, name: &str) -> Result<i32, ConfigError> {
        self.typed(name, "32-bit integer")
    }

    pub fn long(&self, name: &str) -> Result<i64, ConfigError> {
        self.typed(name, "64-bit integer")
    }

    pub fn double(&self, name: &str) -> Result<f64, ConfigError> {
        self.typed(name, "number")
    }

    pub fn boolean(&self, name: &str) -> Result<bool, ConfigError> {
        let raw = self
            .raw(name)?
            .unwrap_or("false")
            .trim()
            .to_ascii_lowercase();
        raw.parse().map_err(|_| {
            ConfigError::new(
                name,
                format!("Invalid value {raw} for configuration {name}: Expected value to be a boolean (true or false)"),
            )
        })
    }

    /// A comma-separated list, trimmed, empty items dropped.
    pub fn list(&self, name: &str) -> Result<Vec<String>, ConfigError> {
        Ok(split_list(self.raw(name)?.unwrap_or("")))
    }

    pub fn duration_ms(&self, name: &str) -> Result<Duration, ConfigError> {
        Ok(Duration::from_millis(self.long(name)?.max(0) as u64))
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
mod url_secret_tests {
    use super::*;

    #[test]
    fn url_passwords_are_hidden_and_restored() {
        let url = "jdbc:postgresql://db:5432/shop?user=app&password=s3cret&sslmode=require";
        let shown = url_secrets_hidden(url).unwrap();
        assert_eq!(
            shown,
            "jdbc:postgresql://db:5432/shop?user=app&password=[hidden]&sslmode=require"
        );
        assert_eq!(url_secrets_restored(&shown, url).as_deref(), Some(url));
        // Nothing to hide: no password, a variable, not a URL.
        assert_eq!(
            url_secrets_hidden("jdbc:postgresql://db/shop?user=app"),
            None
        );
        assert_eq!(
            url_secrets_hidden("jdbc:postgresql://db/shop?password=${file:/s:pw}"),
            None
        );
        assert_eq!(url_secrets_hidden("a?password=x"), None);
        assert_eq!(url_secrets_hidden(&shown), None);
        let props: Props = [("connection.url".to_owned(), url.to_owned())]
            .into_iter()
            .collect();
        assert_eq!(
            literal_secrets(&props).collect::<Vec<_>>(),
            ["connection.url"]
        );
        // A hidden parameter the current value lacks cannot be restored.
        assert_eq!(
            url_secrets_restored(&shown, "jdbc:postgresql://db/shop"),
            None
        );
    }
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
    fn variables_pass_untyped_until_the_worker_resolved_them() {
        let props = props_of(&[
            ("file", "${file:/secrets/c.properties:out}"),
            ("batch.size", "${env:BATCH}"),
            ("mode", "x${dir:/s:mode}"),
        ]);
        assert!(def().validate(&props).is_empty());
        assert!(def().parse(&props).is_ok());

        // On the worker a variable still there is a literal: type-checked.
        let errs = validating_resolved(|| def().validate(&props));
        let keys: Vec<_> = errs.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["batch.size", "mode"]);
        assert!(
            def().validate(&props).is_empty(),
            "the scope ends with the call"
        );
        // Required keys are still required.
        assert_eq!(def().validate(&props_of(&[])).len(), 1);
    }

    #[test]
    fn literal_secrets_are_found_and_variables_are_not() {
        let props = props_of(&[
            ("connection.password", "s3cr3t"),
            (
                "producer.override.sasl.jaas.config",
                "${file:/s/kafka.properties:jaas}",
            ),
            ("consumer.override.ssl.key.password", ""),
            ("topic", "t"),
        ]);
        let keys: Vec<&String> = literal_secrets(&props).collect();
        assert_eq!(keys, ["connection.password"]);
    }

    #[test]
    fn password_values_are_never_printed() {
        let pw = ConfigDef::new()
            .define(
                "connection.password",
                ConfigType::Password,
                None,
                Importance::High,
                "pw",
            )
            .validate_with(Validator::Regex)
            .define(
                "producer.ssl.key.password",
                ConfigType::Int,
                Some("1"),
                Importance::Low,
                "an oddly typed client secret",
            );
        let errs = pw.validate(&props_of(&[
            ("connection.password", "(s3cr3t"),
            ("producer.ssl.key.password", "hunter2"),
        ]));
        assert_eq!(errs.len(), 2);
        for e in &errs {
            assert!(e.message.contains(&e.key), "{}", e.message);
            assert!(e.message.contains("[hidden]"), "{}", e.message);
            assert!(
                !e.message.contains("s3cr3t") && !e.message.contains("hunter2"),
                "{}",
                e.message
            );
        }
    }

    #[test]
    fn defaults_and_typed_getters() {
        let cfg = def().parse(&props_of(&[("file", "/tmp/x")])).unwrap();
        assert_eq!(cfg.int("batch.size").unwrap(), 2000);
        assert_eq!(cfg.string("file").unwrap().as_deref(), Some("/tmp/x"));
        // A key nobody declared is a caller's bug, not a 0.
        let err = cfg.int("batch.sise").unwrap_err();
        assert_eq!(err.key, "batch.sise");
        assert_eq!(err.message, "Unknown configuration 'batch.sise'");
        assert!(cfg.string("nope").is_err());
    }

    #[test]
    fn an_unresolved_variable_is_not_read_as_zero() {
        let cfg = def()
            .parse(&props_of(&[("file", "x"), ("batch.size", "${vault:n}")]))
            .unwrap();
        let err = cfg.int("batch.size").unwrap_err();
        assert!(
            err.message
                .contains("Expected value to be a 32-bit integer"),
            "{}",
            err.message
        );
    }

    #[test]
    fn custom_validators_and_recommenders() {
        let def = ConfigDef::new()
            .define(
                "slot.name",
                ConfigType::String,
                Some("debezium"),
                Importance::Medium,
                "Slot",
            )
            .validate_with(Validator::custom("a valid slot name", |v| {
                if v.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                {
                    Ok(())
                } else {
                    Err(
                        "Slot names may contain only lower case letters, digits and underscores"
                            .into(),
                    )
                }
            }))
            .define(
                "plugin.name",
                ConfigType::String,
                Some("pgoutput"),
                Importance::Medium,
                "Plugin",
            )
            .recommend_with(Recommender::new(|_| {
                vec!["pgoutput".into(), "decoderbufs".into()]
            }));
        let errors = def.validate(&props_of(&[("slot.name", "Bad-Slot")]));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].key, "slot.name");
        assert!(
            errors[0].message.contains("lower case letters"),
            "{}",
            errors[0].message
        );
        assert!(def
            .validate(&props_of(&[("slot.name", "good_1")]))
            .is_empty());
        assert_eq!(
            def.recommended_values("plugin.name", &Props::new()),
            ["pgoutput", "decoderbufs"]
        );
        assert!(def
            .recommended_values("slot.name", &Props::new())
            .is_empty());
        assert_eq!(split_list(" a, b,,c "), ["a", "b", "c"]);
    }
}
