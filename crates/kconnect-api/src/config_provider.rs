//! Config providers (Kafka's KIP-297 and KIP-421): values in worker and
//! connector configs may hold `${provider:[path:]key}` variables, resolved
//! on the worker by the providers the worker config declares:
//!
//! ```properties
//! config.providers=file,env,dir
//! config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider
//! config.providers.file.param.allowed.paths=/etc/kafka/secrets
//! config.providers.env.param.allowlist.pattern=KC_.*
//! ```
//!
//! `${file:/etc/kafka/secrets/db.properties:password}` is the `password`
//! key of a Java properties file, `${dir:/etc/kafka/secrets:password}` the
//! content of the file `password` in that folder, `${env:DB_PASSWORD}` an
//! environment variable of the worker process.
//!
//! Secrets stay out of the config topic: connector configs are stored with
//! their variables, resolved on the worker when the connector or a task
//! starts, and task configs are written back with the variables restored
//! ([`reverse_transform`]). Keys that held a variable are printed as
//! `[hidden]` ([`Masked`]), and resolved values are scrubbed from status
//! traces ([`Redactor`]).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, LazyLock};

use regex::Regex;

use super::config::{split_list, with_prefix, ConfigDef, ConfigError, ConfigType, Importance};
use super::config::{Validator, HIDDEN};
use super::Props;

/// Worker key listing the provider names.
pub const CONFIG_PROVIDERS: &str = "config.providers";
/// `FileConfigProvider`/`DirectoryConfigProvider` parameter.
pub const ALLOWED_PATHS: &str = "allowed.paths";
/// `EnvVarConfigProvider` parameter.
pub const ALLOWLIST_PATTERN: &str = "allowlist.pattern";

const FILE_CLASS: &str = "org.apache.kafka.common.config.provider.FileConfigProvider";
const DIR_CLASS: &str = "org.apache.kafka.common.config.provider.DirectoryConfigProvider";
const ENV_CLASS: &str = "org.apache.kafka.common.config.provider.EnvVarConfigProvider";

/// Java's `${provider:[path:]key}` (`ConfigTransformer.DEFAULT_PATTERN`),
/// except that no part may contain `}`: Java's `(.*?)` lets the path of
/// `${env:A}${env:B}` run across both variables (`A}${env`).
static VARIABLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\$\{([^}]*?):(([^}]*?):)?([^}]*?)\}").expect("the variable pattern compiles")
});

/// Resolved values shorter than this are not scrubbed from free text: a
/// two-character value would mangle every trace it appears in.
const MIN_REDACTED_LEN: usize = 4;

/// Text sharing this many consecutive characters with a resolved value is
/// scrubbed too: errors quote parts of values (the parent folder of a
/// resolved path, a host of a resolved URL).
const FRAGMENT_LEN: usize = 8;

/// The worker keys of config providers, for `--help` and validation.
pub fn config_def() -> ConfigDef {
    ConfigDef::new().define(
        CONFIG_PROVIDERS,
        ConfigType::List,
        Some(""),
        Importance::Low,
        "Names of ConfigProvider instances, each configured with config.providers.<name>.class \
         (built in: file, env, dir) and config.providers.<name>.param.*, that resolve \
         ${<name>:[path:]key} variables in worker and connector configs",
    )
}

/// One `${provider:[path:]key}` variable in a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    pub provider: String,
    /// Empty when the variable has no path (`${env:NAME}`).
    pub path: String,
    pub key: String,
    /// The variable as written, e.g. `${env:NAME}`.
    pub text: String,
}

/// The variables in `value`, left to right.
pub fn variables(value: &str) -> impl Iterator<Item = Variable> + '_ {
    VARIABLE.captures_iter(value).map(|c| Variable {
        provider: c[1].to_owned(),
        path: c.get(3).map_or("", |m| m.as_str()).to_owned(),
        key: c[4].to_owned(),
        text: c[0].to_owned(),
    })
}

/// Whether `value` holds a `${provider:[path:]key}` variable.
pub fn has_variable(value: &str) -> bool {
    VARIABLE.is_match(value)
}

/// A variable that names a configured provider but cannot be resolved.
/// The message names the variable and key, never a resolved value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot resolve {variable} in \"{key}\": {message}")]
pub struct ResolveError {
    /// The config key whose value holds the variable.
    pub key: String,
    /// The variable as written.
    pub variable: String,
    pub message: String,
}

/// Looks up values for variables, like Java's `ConfigProvider`.
pub trait ConfigProvider: Send + Sync {
    /// The values of `keys` at `path`. A key left out of the answer has no
    /// value there; an error fails every variable with this path.
    fn get(&self, path: &str, keys: &BTreeSet<String>) -> Result<BTreeMap<String, String>, String>;

    /// Why `key` has no value at `path`, for the error naming the variable.
    fn missing(&self, path: &str, key: &str) -> String;
}

/// `allowed.paths`: folders a provider may read below; all when unset.
#[derive(Debug, Clone, Default)]
struct AllowedPaths(Option<Vec<PathBuf>>);

impl AllowedPaths {
    /// Like Java's: every entry must be absolute and exist.
    fn configure(value: Option<&str>) -> Result<AllowedPaths, String> {
        let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
            return Ok(AllowedPaths(None));
        };
        let mut paths = Vec::new();
        for entry in split_list(value) {
            let path = normalize(Path::new(&entry));
            if !path.is_absolute() || !path.exists() {
                return Err(format!(
                    "Path {} is not valid. The path should be absolute and exist",
                    path.display()
                ));
            }
            paths.push(path);
        }
        Ok(AllowedPaths(Some(paths)))
    }

    /// The normalized path when it lies below an allowed one. Like Java's
    /// check, it is lexical (`..` is folded, symlinks are not followed).
    fn check(&self, path: &str) -> Result<PathBuf, String> {
        let normalized = normalize(Path::new(path));
        match &self.0 {
            Some(allowed) if !allowed.iter().any(|a| normalized.starts_with(a)) => Err(format!(
                "the path {path} is not allowed by {ALLOWED_PATHS} ({})",
                allowed
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            )),
            _ => Ok(normalized),
        }
    }
}

/// Folds `.` and `..` without touching the file system, like Java's
/// `Path.normalize`.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() && !path.is_absolute() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

fn allowed_paths_def() -> ConfigDef {
    ConfigDef::new().define(
        ALLOWED_PATHS,
        ConfigType::List,
        Some(""),
        Importance::Medium,
        "A comma separated list of paths that this config provider is allowed to access. \
         If not set, all paths are allowed",
    )
}

/// Java's `FileConfigProvider`: `${file:/path/to/file.properties:key}` is
/// `key` of that Java properties file (read as UTF-8).
#[derive(Debug, Clone, Default)]
pub struct FileConfigProvider {
    allowed: AllowedPaths,
}

impl FileConfigProvider {
    pub fn config_def() -> ConfigDef {
        allowed_paths_def()
    }

    pub fn configure(params: &Props) -> Result<FileConfigProvider, String> {
        Ok(FileConfigProvider {
            allowed: AllowedPaths::configure(params.get(ALLOWED_PATHS).map(String::as_str))?,
        })
    }
}

impl ConfigProvider for FileConfigProvider {
    fn get(&self, path: &str, keys: &BTreeSet<String>) -> Result<BTreeMap<String, String>, String> {
        if path.is_empty() {
            return Err(
                "FileConfigProvider needs a file: ${file:/path/to/file.properties:key}".into(),
            );
        }
        let file = self.allowed.check(path)?;
        let text = std::fs::read_to_string(&file)
            .map_err(|e| format!("Could not read properties from file {path}: {e}"))?;
        let props = java_properties::read(escape_non_ascii(&text).as_bytes())
            .map_err(|e| format!("Could not read properties from file {path}: {e}"))?;
        Ok(props
            .into_iter()
            .filter(|(k, _)| keys.contains(k))
            .collect())
    }

    fn missing(&self, path: &str, key: &str) -> String {
        format!("no key \"{key}\" in the properties file {path}")
    }
}

/// `java_properties` decodes bytes as ISO-8859-1 (the Java properties
/// default), but Java's `FileConfigProvider` reads UTF-8: pass non-ASCII
/// characters as `\uXXXX` escapes so they survive. (Characters beyond the
/// Basic Multilingual Plane become surrogate pairs, which the parser
/// rejects with an error rather than garbling them.)
fn escape_non_ascii(text: &str) -> String {
    if text.is_ascii() {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            for unit in c.encode_utf16(&mut [0; 2]) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// Java's `DirectoryConfigProvider`: `${dir:/path/to/dir:name}` is the
/// whole content of the regular file `name` in that folder (UTF-8, not
/// trimmed), like a mounted Kubernetes Secret.
#[derive(Debug, Clone, Default)]
pub struct DirectoryConfigProvider {
    allowed: AllowedPaths,
}

impl DirectoryConfigProvider {
    pub fn config_def() -> ConfigDef {
        allowed_paths_def()
    }

    pub fn configure(params: &Props) -> Result<DirectoryConfigProvider, String> {
        Ok(DirectoryConfigProvider {
            allowed: AllowedPaths::configure(params.get(ALLOWED_PATHS).map(String::as_str))?,
        })
    }
}

impl ConfigProvider for DirectoryConfigProvider {
    fn get(&self, path: &str, keys: &BTreeSet<String>) -> Result<BTreeMap<String, String>, String> {
        if path.is_empty() {
            return Err("DirectoryConfigProvider needs a folder: ${dir:/path/to/dir:file}".into());
        }
        let dir = self.allowed.check(path)?;
        if !dir.is_dir() {
            return Err(format!("the path {path} is not a directory"));
        }
        let mut out = BTreeMap::new();
        for key in keys {
            // Only files directly in the folder, as Java lists it.
            let plain = Path::new(key).components().count() == 1
                && matches!(
                    Path::new(key).components().next(),
                    Some(Component::Normal(_))
                );
            let file = dir.join(key);
            if !plain || !file.is_file() {
                continue;
            }
            let value = std::fs::read_to_string(&file).map_err(|e| {
                format!(
                    "Could not read file {} for property {key}: {e}",
                    file.display()
                )
            })?;
            out.insert(key.clone(), value);
        }
        Ok(out)
    }

    fn missing(&self, path: &str, key: &str) -> String {
        format!("no regular file \"{key}\" in the directory {path}")
    }
}

/// Java's `EnvVarConfigProvider`: `${env:NAME}` is the worker's environment
/// variable `NAME`, when it fully matches `allowlist.pattern` (default `.*`).
#[derive(Debug, Clone)]
pub struct EnvVarConfigProvider {
    vars: BTreeMap<String, String>,
}

impl EnvVarConfigProvider {
    pub fn config_def() -> ConfigDef {
        ConfigDef::new()
            .define(
                ALLOWLIST_PATTERN,
                ConfigType::String,
                Some(".*"),
                Importance::Medium,
                "A pattern / regular expression that needs to match for environment variables \
                 to be used by this config provider",
            )
            .validate_with(Validator::Regex)
    }

    /// Over the process environment (variables that are not UTF-8 are left
    /// out).
    pub fn configure(params: &Props) -> Result<EnvVarConfigProvider, String> {
        Self::configure_with(params, std::env::vars_os())
    }

    /// Over the given variables, for tests.
    pub fn configure_with<K, V>(
        params: &Props,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Result<EnvVarConfigProvider, String>
    where
        K: Into<std::ffi::OsString>,
        V: Into<std::ffi::OsString>,
    {
        let pattern = params.get(ALLOWLIST_PATTERN).map_or(".*", String::as_str);
        let re = Regex::new(&format!("^(?:{pattern})$"))
            .map_err(|e| format!("invalid {ALLOWLIST_PATTERN}: {e}"))?;
        let vars = vars
            .into_iter()
            .filter_map(|(k, v)| Some((k.into().into_string().ok()?, v.into().into_string().ok()?)))
            .filter(|(k, _)| re.is_match(k))
            .collect();
        Ok(EnvVarConfigProvider { vars })
    }
}

impl ConfigProvider for EnvVarConfigProvider {
    fn get(&self, path: &str, keys: &BTreeSet<String>) -> Result<BTreeMap<String, String>, String> {
        if !path.is_empty() {
            return Err(format!(
                "Path is not supported for EnvVarConfigProvider, invalid value '{path}'"
            ));
        }
        Ok(keys
            .iter()
            .filter_map(|k| self.vars.get(k).map(|v| (k.clone(), v.clone())))
            .collect())
    }

    fn missing(&self, _path: &str, key: &str) -> String {
        format!("the environment variable {key} is not set or not allowed by {ALLOWLIST_PATTERN}")
    }
}

/// The providers a worker config declares, by name.
#[derive(Clone, Default)]
pub struct ConfigProviders {
    providers: BTreeMap<String, Arc<dyn ConfigProvider>>,
}

impl fmt::Debug for ConfigProviders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.providers.keys()).finish()
    }
}

/// A built-in provider class by Java class name, simple class name or the
/// conventional provider name (`file`, `env`, `dir`).
fn builtin(class: &str) -> Option<&'static str> {
    [FILE_CLASS, ENV_CLASS, DIR_CLASS].into_iter().find(|c| {
        let simple = c.rsplit('.').next().unwrap_or(c);
        let short = match *c {
            FILE_CLASS => "file",
            ENV_CLASS => "env",
            _ => "dir",
        };
        class == *c || class == simple || class == short
    })
}

impl ConfigProviders {
    /// Instantiates `config.providers` from worker properties. A provider
    /// named `file`, `env` or `dir` without a class is that built-in.
    pub fn from_worker_props(props: &Props) -> Result<ConfigProviders, ConfigError> {
        let names = split_list(props.get(CONFIG_PROVIDERS).map_or("", String::as_str));
        let mut providers: BTreeMap<String, Arc<dyn ConfigProvider>> = BTreeMap::new();
        for name in names {
            let class_key = format!("{CONFIG_PROVIDERS}.{name}.class");
            let param_prefix = format!("{CONFIG_PROVIDERS}.{name}.param.");
            let given = props
                .get(&class_key)
                .map(|c| c.trim())
                .filter(|c| !c.is_empty());
            let class = match given {
                Some(c) => builtin(c).ok_or_else(|| {
                    ConfigError::new(
                        &class_key,
                        format!(
                            "Invalid value {c} for configuration {class_key}: unknown config \
                             provider class; built in are {FILE_CLASS}, {ENV_CLASS} and {DIR_CLASS}"
                        ),
                    )
                })?,
                None => builtin(&name).ok_or_else(|| {
                    ConfigError::new(
                        &class_key,
                        format!(
                            "Missing required configuration \"{class_key}\": config provider \
                             \"{name}\" is listed in {CONFIG_PROVIDERS} but has no class"
                        ),
                    )
                })?,
            };
            let params = with_prefix(props, &param_prefix);
            let def = match class {
                FILE_CLASS => FileConfigProvider::config_def(),
                ENV_CLASS => EnvVarConfigProvider::config_def(),
                _ => DirectoryConfigProvider::config_def(),
            };
            let param_err = |key: &str, message: String| {
                ConfigError::new(format!("{param_prefix}{key}"), message)
            };
            def.parse(&params)
                .map_err(|e| param_err(&e.key.clone(), e.message))?;
            let provider: Arc<dyn ConfigProvider> = match class {
                FILE_CLASS => Arc::new(
                    FileConfigProvider::configure(&params)
                        .map_err(|m| param_err(ALLOWED_PATHS, m))?,
                ),
                ENV_CLASS => Arc::new(
                    EnvVarConfigProvider::configure(&params)
                        .map_err(|m| param_err(ALLOWLIST_PATTERN, m))?,
                ),
                _ => Arc::new(
                    DirectoryConfigProvider::configure(&params)
                        .map_err(|m| param_err(ALLOWED_PATHS, m))?,
                ),
            };
            providers.insert(name, provider);
        }
        Ok(ConfigProviders { providers })
    }

    /// Registers a provider under `name` (for tests and embedders).
    pub fn with(mut self, name: &str, provider: impl ConfigProvider + 'static) -> ConfigProviders {
        self.providers.insert(name.to_owned(), Arc::new(provider));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.providers.keys().map(String::as_str)
    }

    /// Replaces the variables of every value, like Java's
    /// `ConfigTransformer`: each provider is asked once per path for all
    /// the keys wanted there. A variable naming no configured provider is
    /// left as it is (as in Java: `${…}` may be literal text). A configured
    /// provider that cannot answer, or has no value for a key, is an error
    /// naming the variable (Java leaves such variables unresolved too).
    pub fn transform(&self, props: &Props) -> Result<Resolved, ResolveError> {
        let mut wanted: BTreeMap<(&str, String), (BTreeSet<String>, String, Variable)> =
            BTreeMap::new();
        let mut variable_keys = BTreeSet::new();
        for (key, value) in props {
            for var in variables(value) {
                variable_keys.insert(key.clone());
                let Some((name, _)) = self.providers.get_key_value(&var.provider) else {
                    continue;
                };
                let entry = wanted
                    .entry((name.as_str(), var.path.clone()))
                    .or_insert_with(|| (BTreeSet::new(), key.clone(), var.clone()));
                entry.0.insert(var.key.clone());
            }
        }
        let mut found: BTreeMap<(&str, String), BTreeMap<String, String>> = BTreeMap::new();
        for ((name, path), (keys, first_key, first_var)) in wanted {
            let data = self.providers[name]
                .get(&path, &keys)
                .map_err(|message| ResolveError {
                    key: first_key,
                    variable: first_var.text,
                    message,
                })?;
            found.insert((name, path), data);
        }

        let mut out = Props::new();
        let mut secrets = BTreeSet::new();
        for (key, value) in props {
            let mut resolved = String::with_capacity(value.len());
            let mut last = 0;
            for caps in VARIABLE.captures_iter(value) {
                let whole = caps.get(0).expect("group 0 always matches");
                let provider = &caps[1];
                let path = caps.get(3).map_or("", |m| m.as_str());
                let var_key = &caps[4];
                let Some((name, p)) = self.providers.get_key_value(provider) else {
                    continue; // unknown provider: left as written
                };
                let replacement = found
                    .get(&(name.as_str(), path.to_owned()))
                    .and_then(|d| d.get(var_key))
                    .ok_or_else(|| ResolveError {
                        key: key.clone(),
                        variable: whole.as_str().to_owned(),
                        message: p.missing(path, var_key),
                    })?;
                resolved.push_str(&value[last..whole.start()]);
                resolved.push_str(replacement);
                last = whole.end();
                secrets.insert(replacement.clone());
            }
            resolved.push_str(&value[last..]);
            out.insert(key.clone(), resolved);
        }
        Ok(Resolved {
            props: out,
            variable_keys,
            redactor: Redactor::new(secrets),
        })
    }

    /// Resolves a worker config: every key but the provider settings
    /// themselves (`config.providers*`), as Java's worker does.
    pub fn transform_worker(&self, props: &Props) -> Result<Resolved, ResolveError> {
        let (own, rest): (Props, Props) = props
            .clone()
            .into_iter()
            .partition(|(k, _)| k == CONFIG_PROVIDERS || k.starts_with("config.providers."));
        let mut resolved = self.transform(&rest)?;
        resolved.props.extend(own);
        Ok(resolved)
    }
}

/// Properties with their variables resolved.
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    pub props: Props,
    /// Keys whose raw value held a variable: never printed resolved.
    pub variable_keys: BTreeSet<String>,
    /// Scrubs the values substituted for variables.
    pub redactor: Redactor,
}

impl Resolved {
    /// The resolved properties for logs (see [`Masked`]).
    pub fn masked<'a>(&'a self, def: Option<&'a ConfigDef>) -> Masked<'a> {
        Masked {
            props: &self.props,
            hidden: &self.variable_keys,
            def,
        }
    }
}

/// Puts the variables of the raw connector config back into task configs
/// computed from the resolved one, like Java's
/// `AbstractHerder.reverseTransform`: every task-config key whose
/// connector-config value held a variable gets that raw value again, so
/// the `task-*` records carry the variables and not the secrets.
pub fn reverse_transform(raw_connector: &Props, mut task_config: Props) -> Props {
    for (key, raw) in raw_connector {
        if has_variable(raw) {
            if let Some(v) = task_config.get_mut(key) {
                v.clone_from(raw);
            }
        }
    }
    task_config
}

/// Scrubs values resolved from providers out of free text such as error
/// traces, which may quote a value anywhere (a bad value in a config
/// error) or part of it (the parent folder of a path in an I/O error).
/// Whole values of four characters or more are replaced, and so is every
/// run of text that shares eight or more consecutive characters with a
/// value. This errs on the side of hiding: a trace may lose a word that a
/// secret happens to contain. Values shorter than four characters are kept:
/// scrubbing them would mangle unrelated text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Redactor {
        let secrets: BTreeSet<String> = secrets
            .into_iter()
            .filter(|s| s.chars().count() >= MIN_REDACTED_LEN)
            .collect();
        Redactor {
            secrets: secrets.into_iter().collect(),
        }
    }

    /// Whether `text` holds a whole resolved value.
    pub fn contains_secret(&self, text: &str) -> bool {
        self.secrets.iter().any(|s| text.contains(s.as_str()))
    }

    /// Both redactors' values.
    pub fn merged(&self, other: &Redactor) -> Redactor {
        Redactor::new(self.secrets.iter().chain(&other.secrets).cloned())
    }

    pub fn redact(&self, text: &str) -> String {
        if self.secrets.is_empty() {
            return text.to_owned();
        }
        let chars: Vec<char> = text.chars().collect();
        let values: Vec<Vec<char>> = self.secrets.iter().map(|s| s.chars().collect()).collect();
        let fragments: HashSet<&[char]> = values
            .iter()
            .flat_map(|v| v.windows(FRAGMENT_LEN))
            .collect();
        let mut hide = vec![false; chars.len()];
        for start in 0..chars.len() {
            let rest = &chars[start..];
            let whole = values.iter().filter(|v| rest.starts_with(v)).map(Vec::len);
            let fragment = rest
                .get(..FRAGMENT_LEN)
                .filter(|w| fragments.contains(w))
                .map(<[char]>::len);
            if let Some(len) = whole.chain(fragment).max() {
                hide[start..start + len].fill(true);
            }
        }
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        while i < chars.len() {
            if hide[i] {
                out.push_str(HIDDEN);
                while i < chars.len() && hide[i] {
                    i += 1;
                }
            } else {
                out.push(chars[i]);
                i += 1;
            }
        }
        out
    }
}

/// Properties rendered for logs, `{key=value, …}`, with `[hidden]` (as Java
/// prints it) for keys whose raw value held a variable, keys `def` declares
/// as PASSWORD, and client secrets by name ([`super::config::is_secret_name`]).
pub struct Masked<'a> {
    pub props: &'a Props,
    pub hidden: &'a BTreeSet<String>,
    pub def: Option<&'a ConfigDef>,
}

impl Masked<'_> {
    pub fn is_hidden(&self, key: &str) -> bool {
        self.hidden.contains(key)
            || super::config::is_secret_name(key)
            || self
                .def
                .and_then(|d| d.key(key))
                .is_some_and(|k| k.ty == ConfigType::Password)
    }
}

impl fmt::Display for Masked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (k, v)) in self.props.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            if self.is_hidden(k) {
                write!(f, "{k}={HIDDEN}")?;
            } else if let Some(url) = super::config::url_secrets_hidden(v) {
                write!(f, "{k}={url}")?;
            } else {
                write!(f, "{k}={v}")?;
            }
        }
        f.write_str("}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::props_of;

    fn env(vars: &[(&str, &str)], pattern: Option<&str>) -> EnvVarConfigProvider {
        let params = match pattern {
            Some(p) => props_of(&[(ALLOWLIST_PATTERN, p)]),
            None => Props::new(),
        };
        EnvVarConfigProvider::configure_with(&params, vars.iter().copied()).unwrap()
    }

    #[test]
    fn variables_follow_javas_syntax() {
        let v: Vec<Variable> = variables("${file:/etc/a.properties:user}").collect();
        assert_eq!(
            v,
            [Variable {
                provider: "file".into(),
                path: "/etc/a.properties".into(),
                key: "user".into(),
                text: "${file:/etc/a.properties:user}".into(),
            }]
        );
        // No path: `${env:NAME}` has an empty path, as in Java.
        let v: Vec<Variable> = variables("x${env:HOME}y${env:USER}").collect();
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].path.as_str(), v[0].key.as_str()), ("", "HOME"));
        assert_eq!(v[1].key, "USER");
        // The key takes the rest after the path: `${p:a:b:c}` is path a, key b:c.
        let v: Vec<Variable> = variables("${p:a:b:c}").collect();
        assert_eq!((v[0].path.as_str(), v[0].key.as_str()), ("a", "b:c"));
        assert!(!has_variable("${nocolon}"));
        assert!(!has_variable("$ {a:b}"));
        assert!(has_variable("jdbc:${dir:/s:url}/db"));
    }

    #[test]
    fn resolves_every_provider_and_leaves_unknown_ones() {
        let dir = tempfile::tempdir().unwrap();
        let props_file = dir.path().join("db.properties");
        std::fs::write(
            &props_file,
            "user = admin\npassword=s3cr3t-pw\nname=caf\\u00e9 \u{e9}\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("token"), "tok-123\n").unwrap();
        let providers = ConfigProviders::default()
            .with("file", FileConfigProvider::default())
            .with("dir", DirectoryConfigProvider::default())
            .with("env", env(&[("DB_HOST", "db.local")], None));
        let f = props_file.display().to_string();
        let d = dir.path().display().to_string();
        let raw = props_of(&[
            ("connection.user", &format!("${{file:{f}:user}}")),
            ("connection.password", &format!("${{file:{f}:password}}")),
            ("name", &format!("${{file:{f}:name}}")),
            ("url", "jdbc://${env:DB_HOST}:5432/x"),
            ("token", &format!("${{dir:{d}:token}}")),
            ("other", "${vault:secret/db:pw}"),
            ("plain", "value"),
        ]);
        let r = providers.transform(&raw).unwrap();
        assert_eq!(r.props["connection.user"], "admin");
        assert_eq!(r.props["connection.password"], "s3cr3t-pw");
        assert_eq!(r.props["name"], "café é", "UTF-8 and \\u escapes");
        assert_eq!(r.props["url"], "jdbc://db.local:5432/x");
        assert_eq!(
            r.props["token"], "tok-123\n",
            "file content, untrimmed, like Java"
        );
        assert_eq!(
            r.props["other"], "${vault:secret/db:pw}",
            "unknown provider left as is"
        );
        assert_eq!(r.props["plain"], "value");
        let keys: Vec<&str> = r.variable_keys.iter().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "connection.password",
                "connection.user",
                "name",
                "other",
                "token",
                "url"
            ]
        );
    }

    #[test]
    fn missing_files_and_keys_name_the_variable() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.properties");
        std::fs::write(&f, "present=1\n").unwrap();
        let providers = ConfigProviders::default()
            .with("file", FileConfigProvider::default())
            .with("dir", DirectoryConfigProvider::default())
            .with("env", env(&[("SET", "1")], None));
        let var = format!("${{file:{}:absent}}", f.display());
        let e = providers
            .transform(&props_of(&[("k", &format!("x{var}"))]))
            .unwrap_err();
        assert_eq!((e.key.as_str(), e.variable.as_str()), ("k", var.as_str()));
        assert!(e.to_string().contains("no key \"absent\""), "{e}");
        assert!(e.to_string().contains(&var), "{e}");

        let gone = format!("${{file:{}/gone.properties:k}}", dir.path().display());
        let e = providers
            .transform(&props_of(&[("k2", &gone)]))
            .unwrap_err();
        assert_eq!(e.variable, gone);
        assert!(
            e.message.contains("Could not read properties from file"),
            "{e}"
        );

        let e = providers
            .transform(&props_of(&[("k", "${env:UNSET}")]))
            .unwrap_err();
        assert!(e.message.contains("UNSET is not set"), "{e}");
        let e = providers
            .transform(&props_of(&[("k", "${env:/p:SET}")]))
            .unwrap_err();
        assert!(e.message.contains("Path is not supported"), "{e}");
        let e = providers
            .transform(&props_of(&[(
                "k",
                &format!("${{dir:{}:nofile}}", dir.path().display()),
            )]))
            .unwrap_err();
        assert!(e.message.contains("no regular file \"nofile\""), "{e}");
        let e = providers
            .transform(&props_of(&[(
                "k",
                &format!("${{dir:{}:present}}", f.display()),
            )]))
            .unwrap_err();
        assert!(e.message.contains("is not a directory"), "{e}");
        let e = providers
            .transform(&props_of(&[("k", "${file:nopath}")]))
            .unwrap_err();
        assert!(e.message.contains("needs a file"), "{e}");
    }

    #[test]
    fn allowed_paths_are_enforced() {
        let allowed = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        for d in [allowed.path(), outside.path()] {
            std::fs::write(d.join("s.properties"), "k=v\n").unwrap();
            std::fs::write(d.join("k"), "v").unwrap();
        }
        let a = allowed.path().display().to_string();
        let o = outside.path().display().to_string();
        let worker = props_of(&[
            ("config.providers", "file,dir"),
            ("config.providers.file.param.allowed.paths", &a),
            ("config.providers.dir.param.allowed.paths", &a),
        ]);
        let providers = ConfigProviders::from_worker_props(&worker).unwrap();
        let ok = providers
            .transform(&props_of(&[
                ("f", &format!("${{file:{a}/s.properties:k}}")),
                ("d", &format!("${{dir:{a}:k}}")),
            ]))
            .unwrap();
        assert_eq!((ok.props["f"].as_str(), ok.props["d"].as_str()), ("v", "v"));
        for raw in [
            format!("${{file:{o}/s.properties:k}}"),
            format!("${{dir:{o}:k}}"),
            // `..` cannot climb out.
            format!(
                "${{file:{a}/../{}/s.properties:k}}",
                outside.path().file_name().unwrap().to_string_lossy()
            ),
            "${file:relative/s.properties:k}".to_string(),
        ] {
            let e = providers.transform(&props_of(&[("x", &raw)])).unwrap_err();
            assert!(
                e.message.contains("is not allowed by allowed.paths"),
                "{raw}: {e}"
            );
            assert_eq!(e.variable, raw);
        }
        // allowed.paths entries must be absolute and exist.
        for bad in ["relative/dir", "/no/such/kconnect/dir"] {
            let e = ConfigProviders::from_worker_props(&props_of(&[
                ("config.providers", "file"),
                ("config.providers.file.param.allowed.paths", bad),
            ]))
            .unwrap_err();
            assert_eq!(e.key, "config.providers.file.param.allowed.paths");
            assert!(
                e.message.contains("should be absolute and exist"),
                "{}",
                e.message
            );
        }
    }

    #[test]
    fn worker_keys_pick_built_ins_by_class_or_name() {
        let p = ConfigProviders::from_worker_props(&props_of(&[
            ("config.providers", "file, env,dir,secrets"),
            ("config.providers.secrets.class", DIR_CLASS),
            ("config.providers.file.class", FILE_CLASS),
            ("config.providers.env.class", "EnvVarConfigProvider"),
        ]))
        .unwrap();
        let names: Vec<&str> = p.names().collect();
        assert_eq!(names, ["dir", "env", "file", "secrets"]);
        assert!(ConfigProviders::from_worker_props(&Props::new())
            .unwrap()
            .is_empty());

        let e = ConfigProviders::from_worker_props(&props_of(&[("config.providers", "vault")]))
            .unwrap_err();
        assert_eq!(e.key, "config.providers.vault.class");
        let e = ConfigProviders::from_worker_props(&props_of(&[
            ("config.providers", "vault"),
            (
                "config.providers.vault.class",
                "com.example.VaultConfigProvider",
            ),
        ]))
        .unwrap_err();
        assert!(
            e.message.contains("unknown config provider class"),
            "{}",
            e.message
        );
        let e = ConfigProviders::from_worker_props(&props_of(&[
            ("config.providers", "env"),
            ("config.providers.env.param.allowlist.pattern", "(["),
        ]))
        .unwrap_err();
        assert_eq!(e.key, "config.providers.env.param.allowlist.pattern");
    }

    #[test]
    fn env_allowlist_must_match_the_whole_name() {
        let p = ConfigProviders::default().with(
            "env",
            env(&[("KC_TOKEN", "t0ken"), ("HOME_KC_X", "no")], Some("KC_.*")),
        );
        let r = p.transform(&props_of(&[("a", "${env:KC_TOKEN}")])).unwrap();
        assert_eq!(r.props["a"], "t0ken");
        let e = p
            .transform(&props_of(&[("a", "${env:HOME_KC_X}")]))
            .unwrap_err();
        assert!(
            e.message.contains("not allowed by allowlist.pattern"),
            "{e}"
        );
    }

    #[test]
    fn worker_configs_resolve_everything_but_the_provider_keys() {
        let p = ConfigProviders::default().with("env", env(&[("PW", "hunter22")], None));
        let r = p
            .transform_worker(&props_of(&[
                ("config.providers", "env"),
                ("config.providers.env.param.allowlist.pattern", "${env:PW}"),
                ("producer.ssl.key.password", "${env:PW}"),
            ]))
            .unwrap();
        assert_eq!(r.props["producer.ssl.key.password"], "hunter22");
        assert_eq!(
            r.props["config.providers.env.param.allowlist.pattern"],
            "${env:PW}"
        );
    }

    #[test]
    fn reverse_transform_restores_the_variables() {
        let raw = props_of(&[
            ("file", "${file:/s/a.properties:out}"),
            ("url", "jdbc://${env:HOST}/db"),
            ("topics", "t"),
            ("absent.in.task", "${env:X}"),
        ]);
        let task = props_of(&[
            ("file", "/data/secret-out.txt"),
            ("url", "jdbc://db.internal/db"),
            ("topics", "t"),
            ("task.id", "0"),
        ]);
        let back = reverse_transform(&raw, task);
        assert_eq!(
            back,
            props_of(&[
                ("file", "${file:/s/a.properties:out}"),
                ("url", "jdbc://${env:HOST}/db"),
                ("topics", "t"),
                ("task.id", "0"),
            ])
        );
    }

    #[test]
    fn masking_hides_variables_passwords_and_client_secrets() {
        let p = ConfigProviders::default().with("env", env(&[("PW", "hunter22")], None));
        let r = p
            .transform(&props_of(&[
                ("a.secret.looking.key", "${env:PW}"),
                ("api.key", "plain-but-password-typed"),
                ("consumer.override.ssl.keystore.password", "ks-pass"),
                ("topics", "t"),
            ]))
            .unwrap();
        let def =
            ConfigDef::new().define("api.key", ConfigType::Password, None, Importance::High, "k");
        let shown = r.masked(Some(&def)).to_string();
        assert_eq!(
            shown,
            "{a.secret.looking.key=[hidden], api.key=[hidden], \
             consumer.override.ssl.keystore.password=[hidden], topics=t}"
        );
    }

    #[test]
    fn redactor_scrubs_resolved_values_from_traces() {
        let r = Redactor::new(["s3cr3t".to_string(), "s3cr3t-long".into(), "ab".into()]);
        assert_eq!(
            r.redact("open /x/s3cr3t-long/s3cr3t failed: ab"),
            "open /x/[hidden]/[hidden] failed: ab"
        );
        let m = r.merged(&Redactor::new(["other-1".to_string()]));
        assert_eq!(m.redact("other-1 s3cr3t"), "[hidden] [hidden]");
        assert_eq!(Redactor::default().redact("as is"), "as is");
        assert!(m.contains_secret("x other-1 y") && !m.contains_secret("other"));

        // A quoted part of a value (here its parent folder) is hidden too.
        let path = Redactor::new(["/srv/data/tenant-7f3a9c/out.txt".to_string()]);
        assert_eq!(
            path.redact("creating /srv/data/tenant-7f3a9c: Not a directory (os error 20)"),
            "creating [hidden]: Not a directory (os error 20)"
        );
        assert_eq!(path.redact("the /srv/ folder"), "the /srv/ folder");
        assert_eq!(path.redact("ünïcödé"), "ünïcödé");
    }
}
