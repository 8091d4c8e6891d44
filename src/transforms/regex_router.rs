//! `RegexRouter`: rewrites the topic with a regular expression, like
//! `org.apache.kafka.connect.transforms.RegexRouter`.
//!
//! As in Java, the topic is only rewritten when the whole topic matches
//! (`Matcher.matches`); the new topic is then `Matcher.replaceFirst` of the
//! replacement, whose syntax is Java's: `$n` (the longest group number that
//! exists), `${name}`, and `\x` for a literal `x`.

use regex::{Captures, Regex};

use super::TransformPlugin;
use crate::connect::config::{ConfigDef, ConfigType, Importance, Props, Validator};
use crate::connect::transform::{Transform, TransformError};
use crate::connect::{ConnectError, ConnectRecord};

const REGEX: &str = "regex";
const REPLACEMENT: &str = "replacement";

pub const PLUGINS: &[TransformPlugin] = &[TransformPlugin {
    class: "org.apache.kafka.connect.transforms.RegexRouter",
    aliases: &["RegexRouter"],
    create: || Box::new(RegexRouter::default()),
}];

/// Update the record topic using the configured regular expression and
/// replacement string.
#[derive(Debug, Default)]
pub struct RegexRouter {
    compiled: Option<Compiled>,
}

#[derive(Debug)]
struct Compiled {
    /// The regex anchored at both ends, for `Matcher.matches`.
    full: Regex,
    /// The regex as given, for `replaceFirst` (which searches anew).
    search: Regex,
    replacement: Vec<Part>,
}

fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            REGEX,
            ConfigType::String,
            None,
            Importance::High,
            "Regular expression to use for matching.",
        )
        .validate_with(Validator::Regex)
        .define(
            REPLACEMENT,
            ConfigType::String,
            None,
            Importance::High,
            "Replacement string.",
        )
}

/// One piece of a compiled Java replacement string.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Group(usize),
    Named(String),
}

/// Compiles a `java.util.regex.Matcher#appendReplacement` replacement
/// against `regex`'s groups. Java fails on the first record instead; the
/// errors here are its messages.
fn compile_replacement(replacement: &str, regex: &Regex) -> Result<Vec<Part>, String> {
    let group_count = regex.captures_len() - 1;
    let chars: Vec<char> = replacement.chars().collect();
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                i += 1;
                let Some(&c) = chars.get(i) else {
                    return Err("character to be escaped is missing".into());
                };
                literal.push(c);
                i += 1;
            }
            '$' => {
                i += 1;
                let Some(&c) = chars.get(i) else {
                    return Err("Illegal group reference: group index is missing".into());
                };
                if !literal.is_empty() {
                    parts.push(Part::Literal(std::mem::take(&mut literal)));
                }
                if c == '{' {
                    i += 1;
                    let start = i;
                    while i < chars.len() && chars[i].is_ascii_alphanumeric() {
                        i += 1;
                    }
                    if i == start {
                        return Err("named capturing group has 0 length name".into());
                    }
                    if chars.get(i) != Some(&'}') {
                        return Err("named capturing group is missing trailing '}'".into());
                    }
                    let name: String = chars[start..i].iter().collect();
                    if !chars[start].is_ascii_alphabetic() {
                        return Err(format!(
                            "capturing group name {{{name}}} starts with digit character"
                        ));
                    }
                    if !regex.capture_names().flatten().any(|n| n == name) {
                        return Err(format!("No group with name {{{name}}}"));
                    }
                    i += 1;
                    parts.push(Part::Named(name));
                } else {
                    let Some(first) = c.to_digit(10) else {
                        return Err("Illegal group reference".into());
                    };
                    let mut group = first as usize;
                    i += 1;
                    // Java takes further digits while the number still names a group.
                    while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
                        let next = group * 10 + d as usize;
                        if next > group_count {
                            break;
                        }
                        group = next;
                        i += 1;
                    }
                    if group > group_count {
                        return Err(format!("No group {group}"));
                    }
                    parts.push(Part::Group(group));
                }
            }
            c => {
                literal.push(c);
                i += 1;
            }
        }
    }
    if !literal.is_empty() {
        parts.push(Part::Literal(literal));
    }
    Ok(parts)
}

fn expand(parts: &[Part], caps: &Captures<'_>, out: &mut String) {
    for part in parts {
        match part {
            Part::Literal(s) => out.push_str(s),
            // A group that did not take part in the match appends nothing.
            Part::Group(n) => out.push_str(caps.get(*n).map_or("", |m| m.as_str())),
            Part::Named(name) => out.push_str(caps.name(name).map_or("", |m| m.as_str())),
        }
    }
}

impl Compiled {
    fn route(&self, topic: &str) -> Option<String> {
        if !self.full.is_match(topic) {
            return None;
        }
        let caps = self.search.captures(topic)?;
        let m = caps.get(0).expect("group 0 is always present");
        let mut out = String::with_capacity(topic.len());
        out.push_str(&topic[..m.start()]);
        expand(&self.replacement, &caps, &mut out);
        out.push_str(&topic[m.end()..]);
        Some(out)
    }
}

impl Transform for RegexRouter {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, props: &Props) -> Result<(), ConnectError> {
        let config = config_def().parse(props)?;
        let regex = config.string(REGEX)?.unwrap_or_default();
        let replacement = config.string(REPLACEMENT)?.unwrap_or_default();
        let invalid_regex = |e: regex::Error| {
            ConnectError::config(
                REGEX,
                format!("Invalid value {regex} for configuration {REGEX}: Invalid regex: {e}"),
            )
        };
        let search = Regex::new(&regex).map_err(invalid_regex)?;
        let full = Regex::new(&format!(r"\A(?:{regex})\z")).map_err(invalid_regex)?;
        let replacement = compile_replacement(&replacement, &search).map_err(|why| {
            ConnectError::config(
                REPLACEMENT,
                format!("Invalid value {replacement} for configuration {REPLACEMENT}: {why}"),
            )
        })?;
        self.compiled = Some(Compiled {
            full,
            search,
            replacement,
        });
        Ok(())
    }

    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, TransformError> {
        let compiled = self
            .compiled
            .as_ref()
            .ok_or_else(|| TransformError::new("RegexRouter is not configured"))?;
        if let Some(topic) = compiled.route(&record.topic) {
            record.topic = topic;
        }
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::config::props_of;
    use crate::connect::Value;

    fn router(regex: &str, replacement: &str) -> Result<RegexRouter, ConnectError> {
        let mut r = RegexRouter::default();
        r.configure(&props_of(&[("regex", regex), ("replacement", replacement)]))?;
        Ok(r)
    }

    fn apply(regex: &str, replacement: &str, topic: &str) -> String {
        let record = ConnectRecord::new(topic, None, Value::Null);
        router(regex, replacement)
            .unwrap()
            .apply(record)
            .unwrap()
            .unwrap()
            .topic
    }

    fn config_key(e: ConnectError) -> (String, String) {
        match e {
            ConnectError::Config { key, message } => (key, message),
            other => panic!("not a config error: {other}"),
        }
    }

    // RegexRouterTest.staticReplacement
    #[test]
    fn static_replacement() {
        assert_eq!(apply("foo", "bar", "foo"), "bar");
    }

    // RegexRouterTest.doesntMatch
    #[test]
    fn doesnt_match() {
        assert_eq!(apply("foo", "bar", "orig"), "orig");
        // A partial match is not a match (Matcher.matches).
        assert_eq!(apply("foo", "bar", "foobar"), "foobar");
    }

    // RegexRouterTest.identity
    #[test]
    fn identity() {
        assert_eq!(apply("(.*)", "$1", "orig"), "orig");
    }

    // RegexRouterTest.addPrefix
    #[test]
    fn add_prefix() {
        assert_eq!(apply("(.*)", "prefix-$1", "orig"), "prefix-orig");
    }

    // RegexRouterTest.addSuffix
    #[test]
    fn add_suffix() {
        assert_eq!(apply("(.*)", "$1-suffix", "orig"), "orig-suffix");
    }

    // RegexRouterTest.slice
    #[test]
    fn slice() {
        assert_eq!(
            apply(r"(.*)-(\d\d\d\d\d\d\d\d)", "$1", "index-20160117"),
            "index"
        );
    }

    #[test]
    fn java_replacement_syntax() {
        // `$12` with one group is group 1 then a literal '2', as in Java.
        assert_eq!(apply("(a)", "$12", "a"), "a2");
        // `$1x` is group 1 then 'x' (the regex crate would read `$1x` as a name).
        assert_eq!(apply("(.*)-(.*)", "$2x$1", "a-b"), "bxa");
        // Named groups and escapes.
        assert_eq!(
            apply("(?P<db>.*)\\.(.*)", "${db}_$2", "inventory.orders"),
            "inventory_orders"
        );
        assert_eq!(apply("(.*)", "\\$1-$1", "t"), "$1-t");
        // A group that did not participate appends nothing.
        assert_eq!(apply("(a)|(b)", "[$1$2]", "b"), "[b]");
    }

    #[test]
    fn replace_first_searches_again_after_the_full_match() {
        // matches() succeeds via "ab", but replaceFirst finds "a" first.
        assert_eq!(apply("a|ab", "X", "ab"), "Xb");
    }

    #[test]
    fn invalid_regex_names_the_key() {
        let (key, message) = config_key(router("(", "x").unwrap_err());
        assert_eq!(key, "regex");
        assert!(message.contains("regular expression"), "{message}");
        // An empty replacement is valid.
        assert_eq!(apply("x", "", "x"), "");
    }

    #[test]
    fn invalid_replacement_names_the_key() {
        for bad in ["$2", "$", "${nope}", "x\\", "$x"] {
            let (key, message) = config_key(router("(.*)", bad).unwrap_err());
            assert_eq!(key, "replacement", "{bad}: {message}");
        }
    }

    #[test]
    fn missing_keys_are_named() {
        let mut r = RegexRouter::default();
        let (key, _) = config_key(r.configure(&props_of(&[("regex", "x")])).unwrap_err());
        assert_eq!(key, "replacement");
        let (key, _) = config_key(r.configure(&props_of(&[("replacement", "x")])).unwrap_err());
        assert_eq!(key, "regex");
    }

    #[test]
    fn chain_errors_carry_the_full_key() {
        use crate::transforms::TransformChain;
        let err = TransformChain::from_props(&props_of(&[
            ("transforms", "route"),
            ("transforms.route.type", "RegexRouter"),
            ("transforms.route.regex", "(unclosed"),
            ("transforms.route.replacement", "x"),
        ]))
        .unwrap_err();
        assert_eq!(err.key, "transforms.route.regex");
        let err = TransformChain::from_props(&props_of(&[
            ("transforms", "route"),
            ("transforms.route.type", "RegexRouter"),
            ("transforms.route.regex", "(.*)"),
            ("transforms.route.replacement", "$2"),
        ]))
        .unwrap_err();
        assert_eq!(err.key, "transforms.route.replacement");
        let chain = TransformChain::from_props(&props_of(&[
            ("transforms", "route"),
            (
                "transforms.route.type",
                "org.apache.kafka.connect.transforms.RegexRouter",
            ),
            ("transforms.route.regex", "(.*)-raw"),
            ("transforms.route.replacement", "$1-clean"),
        ]))
        .unwrap();
        let out = chain
            .apply(ConnectRecord::new("orders-raw", None, Value::Null))
            .unwrap()
            .unwrap();
        assert_eq!(out.topic, "orders-clean");
    }

    #[test]
    fn registered_under_java_names() {
        assert!(crate::transforms::find_transform(
            "org.apache.kafka.connect.transforms.RegexRouter"
        )
        .is_some());
        assert!(crate::transforms::find_transform("RegexRouter").is_some());
    }
}
