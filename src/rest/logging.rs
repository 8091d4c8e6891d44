//! `/admin/loggers`: log levels read and changed at runtime, Java's
//! `LoggingResource` over tracing-subscriber's reloadable `EnvFilter`.
//!
//! Logger names are tracing targets (module paths such as
//! `kconnect::engine::sink`); `root` is the default level. As in Java, a
//! level set on a name applies to everything under it, including names
//! that had their own level. Java's log4j levels map to tracing's: `FATAL`
//! is `ERROR`, `ALL` is `TRACE`.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use super::entities::LoggerLevel;
use super::RestError;

/// The root logger's name, as Java calls it.
pub const ROOT: &str = "root";

type Reload = Box<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

#[derive(Default)]
struct Levels {
    /// The default level (tracing's name, lower case).
    root: String,
    /// Targets with their own level.
    targets: BTreeMap<String, String>,
    /// Directives kept as written (span and field filters).
    other: Vec<String>,
    /// When each name was last changed through the API (ms since epoch).
    modified: BTreeMap<String, i64>,
    reload: Option<Reload>,
}

static LEVELS: Mutex<Option<Levels>> = Mutex::new(None);

fn with<R>(f: impl FnOnce(&mut Levels) -> R) -> R {
    let mut guard = LEVELS.lock().unwrap_or_else(PoisonError::into_inner);
    let levels = guard.get_or_insert_with(|| parse("info"));
    f(levels)
}

/// Tracing's name of a level given as Java or tracing names it.
fn tracing_level(raw: &str) -> Option<&'static str> {
    Some(match raw.trim().to_ascii_uppercase().as_str() {
        "OFF" => "off",
        "FATAL" | "ERROR" => "error",
        "WARN" => "warn",
        "INFO" => "info",
        "DEBUG" => "debug",
        "TRACE" | "ALL" => "trace",
        _ => return None,
    })
}

fn parse(directives: &str) -> Levels {
    let mut levels = Levels {
        root: "error".into(),
        ..Levels::default()
    };
    let mut root_set = false;
    for d in directives
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        if d.contains('[') || d.contains('{') {
            levels.other.push(d.to_owned());
        } else if let Some((target, level)) = d.rsplit_once('=') {
            match tracing_level(level) {
                Some(l) => {
                    levels.targets.insert(target.to_owned(), l.to_owned());
                }
                None => levels.other.push(d.to_owned()),
            }
        } else if let Some(l) = tracing_level(d) {
            levels.root = l.to_owned();
            root_set = true;
        } else {
            // A bare target enables every level for it.
            levels.targets.insert(d.to_owned(), "trace".to_owned());
        }
    }
    if !root_set && directives.trim().is_empty() {
        levels.root = "info".into();
    }
    levels
}

fn directives(levels: &Levels) -> String {
    let mut parts = vec![levels.root.clone()];
    parts.extend(levels.targets.iter().map(|(t, l)| format!("{t}={l}")));
    parts.extend(levels.other.iter().cloned());
    parts.join(",")
}

/// Registers the filter the process started with (`RUST_LOG` syntax) and
/// how to replace it. Called once by `main`.
pub fn install(initial: &str, reload: impl Fn(&str) -> Result<(), String> + Send + Sync + 'static) {
    let mut levels = parse(initial);
    levels.reload = Some(Box::new(reload));
    *LEVELS.lock().unwrap_or_else(PoisonError::into_inner) = Some(levels);
}

fn level_of(levels: &Levels, name: &str, level: &str) -> LoggerLevel {
    LoggerLevel {
        level: level.to_ascii_uppercase(),
        last_modified: levels.modified.get(name).copied(),
    }
}

/// Is `name` `parent` or below it (`parent::…`)?
fn under(name: &str, parent: &str) -> bool {
    name == parent
        || name
            .strip_prefix(parent)
            .is_some_and(|rest| rest.starts_with("::"))
}

/// `GET /admin/loggers`: the root and every name with its own level.
pub fn all() -> BTreeMap<String, LoggerLevel> {
    with(|levels| {
        let mut out = BTreeMap::new();
        out.insert(ROOT.to_owned(), level_of(levels, ROOT, &levels.root));
        for (t, l) in &levels.targets {
            out.insert(t.clone(), level_of(levels, t, l));
        }
        out
    })
}

/// `GET /admin/loggers/{name}`: the level that applies to `name` (its own,
/// else its closest parent's, else the root's).
pub fn level(name: &str) -> LoggerLevel {
    with(|levels| {
        if name == ROOT {
            return level_of(levels, ROOT, &levels.root);
        }
        let level = levels
            .targets
            .iter()
            .filter(|(t, _)| under(name, t))
            .max_by_key(|(t, _)| t.len())
            .map_or(levels.root.as_str(), |(_, l)| l.as_str());
        level_of(levels, name, level)
    })
}

/// `PUT /admin/loggers/{name}` with `{"level": …}`: sets the level of
/// `name` and of every name under it; returns the names changed.
pub fn set(name: &str, level: Option<&str>) -> Result<Vec<String>, RestError> {
    let raw = level.ok_or_else(|| {
        RestError::bad_request("Desired 'level' parameter was not specified in request.")
    })?;
    // Java answers an unknown level with 404.
    let level = tracing_level(raw)
        .ok_or_else(|| RestError::not_found(format!("invalid log level '{raw}'.")))?;
    with(|levels| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let mut changed = Vec::new();
        if name == ROOT {
            levels.root = level.to_owned();
            changed.push(ROOT.to_owned());
        } else {
            levels.targets.insert(name.to_owned(), level.to_owned());
        }
        for (t, l) in levels.targets.iter_mut() {
            if name == ROOT || under(t, name) {
                *l = level.to_owned();
                changed.push(t.clone());
            }
        }
        for n in &changed {
            levels.modified.insert(n.clone(), now);
        }
        if let Some(reload) = &levels.reload {
            reload(&directives(levels))
                .map_err(|e| RestError::internal(format!("changing the log filter failed: {e}")))?;
        }
        changed.sort();
        Ok(changed)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_round_trip_and_levels_inherit() {
        let mut levels = parse("info,kconnect=debug,rdkafka,[span]=trace");
        assert_eq!(levels.root, "info");
        assert_eq!(levels.targets["kconnect"], "debug");
        assert_eq!(levels.targets["rdkafka"], "trace");
        assert_eq!(levels.other, ["[span]=trace"]);
        levels
            .targets
            .insert("kconnect::engine".into(), "warn".into());
        assert_eq!(
            directives(&levels),
            "info,kconnect=debug,kconnect::engine=warn,rdkafka=trace,[span]=trace"
        );
        assert!(under("kconnect::engine::sink", "kconnect::engine"));
        assert!(!under("kconnect_x", "kconnect"));
        assert_eq!(parse("").root, "info");
        assert_eq!(parse("warn").root, "warn");
    }

    #[test]
    fn set_applies_to_children_and_validates_like_java() {
        let seen = std::sync::Arc::new(Mutex::new(String::new()));
        let record = seen.clone();
        install("info,kconnect::engine=warn", move |d| {
            *record.lock().unwrap() = d.to_owned();
            Ok(())
        });
        assert_eq!(level("kconnect::engine::sink").level, "WARN");
        assert_eq!(level("kconnect::rest").level, "INFO");
        let changed = set("kconnect", Some("DEBUG")).unwrap();
        assert_eq!(changed, ["kconnect", "kconnect::engine"]);
        assert_eq!(
            *seen.lock().unwrap(),
            "info,kconnect=debug,kconnect::engine=debug"
        );
        assert_eq!(level("kconnect::engine::sink").level, "DEBUG");
        assert!(all()["kconnect"].last_modified.is_some());
        assert_eq!(all()["root"].last_modified, None);
        assert_eq!(set("x", None).unwrap_err().status.as_u16(), 400);
        let e = set("x", Some("LOUD")).unwrap_err();
        assert_eq!(
            (e.status.as_u16(), e.message.as_str()),
            (404, "invalid log level 'LOUD'.")
        );
        assert_eq!(set(ROOT, Some("fatal")).unwrap().len(), 3);
        assert_eq!(level("anything").level, "ERROR");
    }
}
