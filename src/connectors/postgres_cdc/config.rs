//! Debezium PostgresConnector's keys, defaults and checks (Debezium
//! 3.6.1.Final), and the settings the task works from.
//!
//! Deliberate difference: `plugin.name` defaults to `pgoutput` (Debezium's
//! default is `decoderbufs`, a server plugin this connector does not speak);
//! any other value is refused with a message saying so.

use std::time::Duration;

use regex::Regex;

use crate::connect::{Config, ConfigDef, ConfigError, ConfigType, Importance, Props, Validator};

pub const HOSTNAME: &str = "database.hostname";
pub const PORT: &str = "database.port";
pub const USER: &str = "database.user";
pub const PASSWORD: &str = "database.password";
pub const DBNAME: &str = "database.dbname";
pub const SSLMODE: &str = "database.sslmode";
pub const SSLROOTCERT: &str = "database.sslrootcert";
pub const SSLCERT: &str = "database.sslcert";
pub const SSLKEY: &str = "database.sslkey";
pub const TOPIC_PREFIX: &str = "topic.prefix";
pub const PLUGIN_NAME: &str = "plugin.name";
pub const SLOT_NAME: &str = "slot.name";
pub const SLOT_DROP_ON_STOP: &str = "slot.drop.on.stop";
pub const PUBLICATION_NAME: &str = "publication.name";
pub const PUBLICATION_AUTOCREATE_MODE: &str = "publication.autocreate.mode";
pub const SNAPSHOT_MODE: &str = "snapshot.mode";
pub const TABLE_INCLUDE_LIST: &str = "table.include.list";
pub const TABLE_EXCLUDE_LIST: &str = "table.exclude.list";
pub const SCHEMA_INCLUDE_LIST: &str = "schema.include.list";
pub const SCHEMA_EXCLUDE_LIST: &str = "schema.exclude.list";
pub const COLUMN_INCLUDE_LIST: &str = "column.include.list";
pub const COLUMN_EXCLUDE_LIST: &str = "column.exclude.list";
pub const MESSAGE_KEY_COLUMNS: &str = "message.key.columns";
pub const SKIPPED_OPERATIONS: &str = "skipped.operations";
pub const TOMBSTONES_ON_DELETE: &str = "tombstones.on.delete";
pub const DECIMAL_HANDLING_MODE: &str = "decimal.handling.mode";
pub const TIME_PRECISION_MODE: &str = "time.precision.mode";
pub const BINARY_HANDLING_MODE: &str = "binary.handling.mode";
pub const INTERVAL_HANDLING_MODE: &str = "interval.handling.mode";
pub const HSTORE_HANDLING_MODE: &str = "hstore.handling.mode";
pub const HEARTBEAT_INTERVAL_MS: &str = "heartbeat.interval.ms";
pub const HEARTBEAT_TOPICS_PREFIX: &str = "topic.heartbeat.prefix";
/// Debezium 1.x's name of [`HEARTBEAT_TOPICS_PREFIX`], still accepted.
pub const LEGACY_HEARTBEAT_TOPICS_PREFIX: &str = "heartbeat.topics.prefix";
pub const MAX_BATCH_SIZE: &str = "max.batch.size";
pub const MAX_QUEUE_SIZE: &str = "max.queue.size";
pub const POLL_INTERVAL_MS: &str = "poll.interval.ms";
pub const SNAPSHOT_FETCH_SIZE: &str = "snapshot.fetch.size";
pub const PROVIDE_TRANSACTION_METADATA: &str = "provide.transaction.metadata";
pub const INCLUDE_UNKNOWN_DATATYPES: &str = "include.unknown.datatypes";

/// Debezium keys that would change what is written, and are not
/// implemented: refused, so nothing differs silently.
pub const REFUSED_KEYS: &[&str] = &[
    "column.propagate.source.type",
    "datatype.propagate.source.type",
    "column.mask.hash",
    "column.mask.with",
    "column.truncate.to",
    "snapshot.select.statement.overrides",
    "schema.name.adjustment.mode",
    "field.name.adjustment.mode",
    "money.fraction.digits",
    "publish.via.partition.root",
    "converters",
    "signal.data.collection",
    "incremental.snapshot.chunk.size",
    "unavailable.value.placeholder",
    "heartbeat.action.query",
    "message.prefix.include.list",
    "message.prefix.exclude.list",
    "replica.identity.autoset.values",
    "snapshot.include.collection.list",
    // TLS settings of pgjdbc's other key formats and factories.
    "database.sslpassword",
    "database.sslfactory",
];

/// Debezium keys that only tune Debezium's own machinery: accepted with a
/// warning naming them.
pub const IGNORED_KEYS: &[&str] = &[
    "slot.max.retries",
    "slot.retry.delay.ms",
    "slot.stream.params",
    "status.update.interval.ms",
    "snapshot.lock.timeout.ms",
    "snapshot.delay.ms",
    "snapshot.max.threads",
    "event.processing.failure.handling.mode",
    "retriable.restart.connector.wait.ms",
    "xmin.fetch.interval.ms",
    "custom.metric.tags",
    "notification.enabled.channels",
    "errors.max.retries",
    "database.initial.statements",
    "database.tcpKeepAlive",
    "lsn.flush.mode",
    "offset.mismatch.strategy",
    "openlineage.integration.enabled",
    "flush.lsn.source",
];

const SSLMODES: &[&str] = &[
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];
const AUTOCREATE_MODES: &[&str] = &["all_tables", "filtered", "disabled", "no_tables"];
const SNAPSHOT_MODES: &[&str] = &[
    "initial",
    "always",
    "initial_only",
    "no_data",
    "when_needed",
    "never",
];

pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(HOSTNAME, ConfigType::String, None, Importance::High, "Host of the PostgreSQL server")
        .validate_with(Validator::NonEmpty)
        .define(PORT, ConfigType::Int, Some("5432"), Importance::High, "Port of the PostgreSQL server")
        .validate_with(Validator::Range { min: Some(1), max: Some(65535) })
        .define(USER, ConfigType::String, None, Importance::High,
            "Role to connect as; needs REPLICATION and SELECT on the captured tables")
        .validate_with(Validator::NonEmpty)
        .define(PASSWORD, ConfigType::Password, Some(""), Importance::High, "Password of the role")
        .define(DBNAME, ConfigType::String, None, Importance::High, "Database to capture")
        .validate_with(Validator::NonEmpty)
        .define(SSLMODE, ConfigType::String, Some("prefer"), Importance::Medium,
            "TLS to the server: disable, allow, prefer, require, verify-ca, verify-full")
        .validate_with(Validator::OneOf(SSLMODES))
        .define(SSLROOTCERT, ConfigType::String, Some(""), Importance::Medium,
            "PEM file of the CA that signed the server's certificate (verify-ca, verify-full; ~/.postgresql/root.crt when empty)")
        .define(SSLCERT, ConfigType::String, Some(""), Importance::Medium,
            "PEM file of the client certificate, for servers that authenticate clients by certificate")
        .define(SSLKEY, ConfigType::String, Some(""), Importance::Medium,
            "PEM file of the client certificate's private key (unencrypted)")
        .define(TOPIC_PREFIX, ConfigType::String, None, Importance::High,
            "Prefix of every topic (<prefix>.<schema>.<table>) and the source partition's server name")
        .validate_with(Validator::custom("a topic name prefix", check_topic_prefix))
        .define(PLUGIN_NAME, ConfigType::String, Some("pgoutput"), Importance::Medium,
            "Logical decoding plugin; only pgoutput (built into PostgreSQL 10+) is supported")
        .validate_with(Validator::custom("pgoutput", |v| {
            if v.trim().eq_ignore_ascii_case("pgoutput") {
                Ok(())
            } else {
                Err(format!("only pgoutput is supported, not {v} (pgoutput is built into PostgreSQL 10 and later)"))
            }
        }))
        .define(SLOT_NAME, ConfigType::String, Some("debezium"), Importance::Medium,
            "Replication slot the changes are read from")
        .validate_with(Validator::custom("a replication slot name", check_slot_name))
        .define(SLOT_DROP_ON_STOP, ConfigType::Boolean, Some("false"), Importance::Low,
            "Drop the slot when the task stops (tests only: changes made meanwhile are lost)")
        .define(PUBLICATION_NAME, ConfigType::String, Some("dbz_publication"), Importance::Medium,
            "Publication pgoutput streams")
        .validate_with(Validator::NonEmpty)
        .define(PUBLICATION_AUTOCREATE_MODE, ConfigType::String, Some("all_tables"), Importance::Medium,
            "all_tables, filtered (the included tables), disabled (must exist), no_tables")
        .validate_with(Validator::OneOf(AUTOCREATE_MODES))
        .define(SNAPSHOT_MODE, ConfigType::String, Some("initial"), Importance::Medium,
            "initial, always, initial_only, no_data, when_needed, never")
        .validate_with(Validator::OneOf(SNAPSHOT_MODES))
        .define(TABLE_INCLUDE_LIST, ConfigType::List, Some(""), Importance::High,
            "Regular expressions of <schema>.<table> to capture")
        .validate_with(Validator::custom("regular expressions", check_regex_list))
        .define(TABLE_EXCLUDE_LIST, ConfigType::List, Some(""), Importance::Medium,
            "Regular expressions of <schema>.<table> not to capture")
        .validate_with(Validator::custom("regular expressions", check_regex_list))
        .define(SCHEMA_INCLUDE_LIST, ConfigType::List, Some(""), Importance::Medium,
            "Regular expressions of schemas to capture")
        .validate_with(Validator::custom("regular expressions", check_regex_list))
        .define(SCHEMA_EXCLUDE_LIST, ConfigType::List, Some(""), Importance::Medium,
            "Regular expressions of schemas not to capture")
        .validate_with(Validator::custom("regular expressions", check_regex_list))
        .define(COLUMN_INCLUDE_LIST, ConfigType::List, Some(""), Importance::Medium,
            "Regular expressions of <schema>.<table>.<column> to include")
        .validate_with(Validator::custom("regular expressions", check_regex_list))
        .define(COLUMN_EXCLUDE_LIST, ConfigType::List, Some(""), Importance::Medium,
            "Regular expressions of <schema>.<table>.<column> to leave out")
        .validate_with(Validator::custom("regular expressions", check_regex_list))
        .define(MESSAGE_KEY_COLUMNS, ConfigType::String, Some(""), Importance::Low,
            "Key columns for tables without (or instead of) a primary key: <table regex>:<col>,<col>;…")
        .validate_with(Validator::custom("<schema.table regex>:<column>,…;…", |v| {
            parse_key_columns(v).map(|_| ())
        }))
        .define(SKIPPED_OPERATIONS, ConfigType::List, Some("t"), Importance::Low,
            "Operations not emitted: c, u, d, t, or none")
        .validate_with(Validator::custom("c, u, d, t or none", |v| {
            for op in v.split(',').map(str::trim).filter(|o| !o.is_empty()) {
                if !matches!(op, "c" | "u" | "d" | "t" | "none") {
                    return Err(format!("{op} is not one of c, u, d, t, none"));
                }
            }
            Ok(())
        }))
        .define(TOMBSTONES_ON_DELETE, ConfigType::Boolean, Some("true"), Importance::Low,
            "A delete is followed by a tombstone (null value) for log compaction")
        .define(DECIMAL_HANDLING_MODE, ConfigType::String, Some("precise"), Importance::Medium,
            "numeric as precise (Connect Decimal), double or string")
        .validate_with(Validator::OneOf(&["precise", "double", "string"]))
        .define(TIME_PRECISION_MODE, ConfigType::String, Some("adaptive"), Importance::Medium,
            "adaptive, adaptive_time_microseconds or connect")
        .validate_with(Validator::OneOf(&["adaptive", "adaptive_time_microseconds", "connect"]))
        .define(BINARY_HANDLING_MODE, ConfigType::String, Some("bytes"), Importance::Low,
            "bytea as bytes, base64, base64-url-safe or hex")
        .validate_with(Validator::OneOf(&["bytes", "base64", "base64-url-safe", "hex"]))
        .define(INTERVAL_HANDLING_MODE, ConfigType::String, Some("numeric"), Importance::Low,
            "interval as numeric (microseconds) or string (ISO 8601)")
        .validate_with(Validator::OneOf(&["numeric", "string"]))
        .define(HSTORE_HANDLING_MODE, ConfigType::String, Some("json"), Importance::Low,
            "hstore as json or map")
        .validate_with(Validator::OneOf(&["json", "map"]))
        .define(HEARTBEAT_INTERVAL_MS, ConfigType::Int, Some("0"), Importance::Medium,
            "Interval of heartbeat records to <topic.heartbeat.prefix>.<topic.prefix>; 0 is off")
        .validate_with(Validator::Range { min: Some(0), max: None })
        .define(HEARTBEAT_TOPICS_PREFIX, ConfigType::String, Some("__debezium-heartbeat"), Importance::Low,
            "Prefix of the heartbeat topic")
        .define(LEGACY_HEARTBEAT_TOPICS_PREFIX, ConfigType::String, Some(""), Importance::Low,
            "Debezium 1.x's name of topic.heartbeat.prefix")
        .define(MAX_BATCH_SIZE, ConfigType::Int, Some("2048"), Importance::Low,
            "Most records one poll returns")
        .validate_with(Validator::Range { min: Some(1), max: None })
        .define(MAX_QUEUE_SIZE, ConfigType::Int, Some("8192"), Importance::Low,
            "Most records buffered between the reader and poll; must exceed max.batch.size")
        .validate_with(Validator::Range { min: Some(1), max: None })
        .define(POLL_INTERVAL_MS, ConfigType::Long, Some("500"), Importance::Low,
            "Longest wait of an empty poll")
        .validate_with(Validator::Range { min: Some(1), max: None })
        .define(SNAPSHOT_FETCH_SIZE, ConfigType::Int, Some("10240"), Importance::Low,
            "Rows fetched per round trip during the snapshot")
        .validate_with(Validator::Range { min: Some(1), max: None })
        .define(PROVIDE_TRANSACTION_METADATA, ConfigType::Boolean, Some("false"), Importance::Low,
            "Fill the transaction block of each event and write BEGIN/END to <prefix>.transaction")
        .define(INCLUDE_UNKNOWN_DATATYPES, ConfigType::Boolean, Some("false"), Importance::Low,
            "Emit columns of types without a mapping as their text form instead of failing")
}

fn check_topic_prefix(v: &str) -> Result<(), String> {
    if v.is_empty() {
        return Err("must not be empty".into());
    }
    match v
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        Some(c) => Err(format!(
            "{c:?} is not allowed in a topic name (letters, digits, '.', '_', '-')"
        )),
        None => Ok(()),
    }
}

/// PostgreSQL's rule: lower-case letters, digits and underscores, at most
/// 63 characters.
fn check_slot_name(v: &str) -> Result<(), String> {
    if v.is_empty() || v.len() > 63 {
        return Err("must be 1 to 63 characters".into());
    }
    if v.chars()
        .any(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
    {
        return Err("may only hold lower-case letters, digits and underscores".into());
    }
    Ok(())
}

fn check_regex_list(v: &str) -> Result<(), String> {
    for item in split_regex_list(v) {
        Regex::new(&format!("^(?:{item})$")).map_err(|e| format!("{item}: {e}"))?;
    }
    Ok(())
}

/// Debezium's list of regular expressions: comma-separated, a comma inside
/// a regex escaped as `\,`.
pub fn split_regex_list(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&',') => {
                current.push(',');
                chars.next();
            }
            ',' => {
                if !current.trim().is_empty() {
                    out.push(current.trim().to_owned());
                }
                current.clear();
            }
            c => current.push(c),
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_owned());
    }
    out
}

/// The checks that span keys, and the Debezium keys that are refused or
/// ignored; every problem names its key.
pub fn validate(props: &Props) -> Vec<ConfigError> {
    let mut errors = config_def().validate(props);
    let set = |k: &str| props.get(k).is_some_and(|v| !v.trim().is_empty());
    for (include, exclude) in [
        (TABLE_INCLUDE_LIST, TABLE_EXCLUDE_LIST),
        (SCHEMA_INCLUDE_LIST, SCHEMA_EXCLUDE_LIST),
        (COLUMN_INCLUDE_LIST, COLUMN_EXCLUDE_LIST),
    ] {
        if set(include) && set(exclude) {
            errors.push(ConfigError::new(
                exclude,
                format!("\"{include}\" is already specified"),
            ));
        }
    }
    for key in props.keys() {
        if REFUSED_KEYS
            .iter()
            .any(|r| key == r || key.starts_with(&format!("{r}.")))
        {
            errors.push(ConfigError::new(
                key.clone(),
                "this Debezium setting is not implemented by kconnect's PostgreSQL connector (see the README)",
            ));
        }
    }
    if let (Ok(batch), Ok(queue)) = (
        props
            .get(MAX_BATCH_SIZE)
            .map_or(Ok(2048), |v| v.trim().parse::<i64>()),
        props
            .get(MAX_QUEUE_SIZE)
            .map_or(Ok(8192), |v| v.trim().parse::<i64>()),
    ) {
        if queue <= batch {
            errors.push(ConfigError::new(
                MAX_QUEUE_SIZE,
                format!("must be larger than {MAX_BATCH_SIZE} ({batch})"),
            ));
        }
    }
    if props
        .get(PROVIDE_TRANSACTION_METADATA)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    {
        errors.push(ConfigError::new(
            PROVIDE_TRANSACTION_METADATA,
            "transaction metadata (the events' transaction block and the <prefix>.transaction topic) is not implemented by kconnect's PostgreSQL connector yet",
        ));
    }
    errors
}

/// The Debezium keys in `props` that are accepted and ignored.
pub fn ignored_keys(props: &Props) -> Vec<&str> {
    props
        .keys()
        .map(String::as_str)
        .filter(|k| IGNORED_KEYS.contains(k))
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotMode {
    Initial,
    Always,
    InitialOnly,
    NoData,
    WhenNeeded,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalMode {
    Precise,
    Double,
    String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimePrecision {
    Adaptive,
    AdaptiveTimeMicroseconds,
    Connect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryMode {
    Bytes,
    Base64,
    Base64UrlSafe,
    Hex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutocreateMode {
    AllTables,
    Filtered,
    Disabled,
    NoTables,
}

/// How values are represented (the type mapping's settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Representation {
    pub decimal: DecimalMode,
    pub time: TimePrecision,
    pub binary: BinaryMode,
    pub interval_numeric: bool,
    pub hstore_json: bool,
    pub include_unknown: bool,
}

impl Default for Representation {
    fn default() -> Self {
        Representation {
            decimal: DecimalMode::Precise,
            time: TimePrecision::Adaptive,
            binary: BinaryMode::Bytes,
            interval_numeric: true,
            hstore_json: true,
            include_unknown: false,
        }
    }
}

/// A validated connector config.
#[derive(Debug, Clone)]
pub struct PostgresConfig {
    pub hostname: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub dbname: String,
    pub sslmode: String,
    pub sslrootcert: Option<String>,
    pub sslcert: Option<String>,
    pub sslkey: Option<String>,
    pub topic_prefix: String,
    pub slot_name: String,
    pub slot_drop_on_stop: bool,
    pub publication_name: String,
    pub publication_autocreate: AutocreateMode,
    pub snapshot_mode: SnapshotMode,
    pub table_include: Vec<Regex>,
    pub table_exclude: Vec<Regex>,
    pub schema_include: Vec<Regex>,
    pub schema_exclude: Vec<Regex>,
    pub column_include: Vec<Regex>,
    pub column_exclude: Vec<Regex>,
    /// `message.key.columns`: per `<schema>.<table>` pattern, the key.
    pub message_key_columns: Vec<(Regex, Vec<String>)>,
    pub skipped: Vec<char>,
    pub tombstones_on_delete: bool,
    pub representation: Representation,
    pub heartbeat_interval: Option<Duration>,
    pub heartbeat_topic: String,
    pub max_batch_size: usize,
    pub max_queue_size: usize,
    pub poll_interval: Duration,
    pub snapshot_fetch_size: usize,
    pub provide_transaction_metadata: bool,
}

/// `message.key.columns`, Debezium's syntax: `<table regex>:<column>,…`
/// entries separated by `;`, the regex matched against `<schema>.<table>`
/// (case-insensitively, whole name).
fn parse_key_columns(v: &str) -> Result<Vec<(Regex, Vec<String>)>, String> {
    v.split(';')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (table, columns) = entry.rsplit_once(':').ok_or_else(|| {
                format!("{entry:?}: expected <schema.table regex>:<column>,<column>")
            })?;
            let columns: Vec<String> = columns
                .split(',')
                .map(|c| c.trim().to_owned())
                .filter(|c| !c.is_empty())
                .collect();
            if columns.is_empty() {
                return Err(format!("{entry:?}: no key column"));
            }
            let regex = Regex::new(&format!("(?i)^(?:{})$", table.trim()))
                .map_err(|e| format!("{table}: {e}"))?;
            Ok((regex, columns))
        })
        .collect()
}

fn regexes(config: &Config, key: &str) -> Result<Vec<Regex>, ConfigError> {
    let raw = config.string(key)?.unwrap_or_default();
    split_regex_list(&raw)
        .iter()
        .map(|r| {
            // Debezium matches case-insensitively against the whole name.
            Regex::new(&format!("(?i)^(?:{r})$"))
                .map_err(|e| ConfigError::new(key, format!("{r}: {e}")))
        })
        .collect()
}

impl PostgresConfig {
    pub fn parse(props: &Props) -> Result<PostgresConfig, ConfigError> {
        if let Some(e) = validate(props).into_iter().next() {
            return Err(e);
        }
        let c = config_def().parse(props)?;
        let s = |k: &str| -> Result<String, ConfigError> { Ok(c.string(k)?.unwrap_or_default()) };
        let lower =
            |k: &str| -> Result<String, ConfigError> { Ok(s(k)?.trim().to_ascii_lowercase()) };
        let representation = Representation {
            decimal: match lower(DECIMAL_HANDLING_MODE)?.as_str() {
                "double" => DecimalMode::Double,
                "string" => DecimalMode::String,
                _ => DecimalMode::Precise,
            },
            time: match lower(TIME_PRECISION_MODE)?.as_str() {
                "adaptive_time_microseconds" => TimePrecision::AdaptiveTimeMicroseconds,
                "connect" => TimePrecision::Connect,
                _ => TimePrecision::Adaptive,
            },
            binary: match lower(BINARY_HANDLING_MODE)?.as_str() {
                "base64" => BinaryMode::Base64,
                "base64-url-safe" => BinaryMode::Base64UrlSafe,
                "hex" => BinaryMode::Hex,
                _ => BinaryMode::Bytes,
            },
            interval_numeric: lower(INTERVAL_HANDLING_MODE)? != "string",
            hstore_json: lower(HSTORE_HANDLING_MODE)? != "map",
            include_unknown: c.boolean(INCLUDE_UNKNOWN_DATATYPES)?,
        };
        let heartbeat_ms = c.int(HEARTBEAT_INTERVAL_MS)?;
        let prefix = s(TOPIC_PREFIX)?;
        Ok(PostgresConfig {
            hostname: s(HOSTNAME)?,
            port: u16::try_from(c.int(PORT)?).unwrap_or(5432),
            user: s(USER)?,
            password: s(PASSWORD)?,
            dbname: s(DBNAME)?,
            sslmode: lower(SSLMODE)?,
            sslrootcert: Some(s(SSLROOTCERT)?).filter(|p| !p.trim().is_empty()),
            sslcert: Some(s(SSLCERT)?).filter(|p| !p.trim().is_empty()),
            sslkey: Some(s(SSLKEY)?).filter(|p| !p.trim().is_empty()),
            heartbeat_topic: {
                // The current key wins; the Debezium 1.x one counts alone.
                let legacy = s(LEGACY_HEARTBEAT_TOPICS_PREFIX)?;
                let beat_prefix =
                    if props.contains_key(HEARTBEAT_TOPICS_PREFIX) || legacy.trim().is_empty() {
                        s(HEARTBEAT_TOPICS_PREFIX)?
                    } else {
                        legacy
                    };
                format!("{beat_prefix}.{prefix}")
            },
            topic_prefix: prefix,
            slot_name: s(SLOT_NAME)?,
            slot_drop_on_stop: c.boolean(SLOT_DROP_ON_STOP)?,
            publication_name: s(PUBLICATION_NAME)?,
            publication_autocreate: match lower(PUBLICATION_AUTOCREATE_MODE)?.as_str() {
                "filtered" => AutocreateMode::Filtered,
                "disabled" => AutocreateMode::Disabled,
                "no_tables" => AutocreateMode::NoTables,
                _ => AutocreateMode::AllTables,
            },
            snapshot_mode: match lower(SNAPSHOT_MODE)?.as_str() {
                "always" => SnapshotMode::Always,
                "initial_only" => SnapshotMode::InitialOnly,
                "no_data" => SnapshotMode::NoData,
                "when_needed" => SnapshotMode::WhenNeeded,
                "never" => SnapshotMode::Never,
                _ => SnapshotMode::Initial,
            },
            table_include: regexes(&c, TABLE_INCLUDE_LIST)?,
            table_exclude: regexes(&c, TABLE_EXCLUDE_LIST)?,
            schema_include: regexes(&c, SCHEMA_INCLUDE_LIST)?,
            schema_exclude: regexes(&c, SCHEMA_EXCLUDE_LIST)?,
            column_include: regexes(&c, COLUMN_INCLUDE_LIST)?,
            column_exclude: regexes(&c, COLUMN_EXCLUDE_LIST)?,
            message_key_columns: parse_key_columns(&s(MESSAGE_KEY_COLUMNS)?)
                .map_err(|e| ConfigError::new(MESSAGE_KEY_COLUMNS, e))?,
            skipped: c
                .list(SKIPPED_OPERATIONS)?
                .iter()
                .filter(|o| o.as_str() != "none")
                .filter_map(|o| o.chars().next())
                .collect(),
            tombstones_on_delete: c.boolean(TOMBSTONES_ON_DELETE)?,
            representation,
            heartbeat_interval: (heartbeat_ms > 0)
                .then(|| Duration::from_millis(heartbeat_ms as u64)),
            max_batch_size: c.int(MAX_BATCH_SIZE)?.max(1) as usize,
            max_queue_size: c.int(MAX_QUEUE_SIZE)?.max(1) as usize,
            poll_interval: Duration::from_millis(c.long(POLL_INTERVAL_MS)?.max(1) as u64),
            snapshot_fetch_size: c.int(SNAPSHOT_FETCH_SIZE)?.max(1) as usize,
            provide_transaction_metadata: c.boolean(PROVIDE_TRANSACTION_METADATA)?,
        })
    }

    /// Whether `<schema>.<table>` is captured (Debezium's table filters:
    /// schema lists first, then table lists).
    pub fn captures_table(&self, schema: &str, table: &str) -> bool {
        let any = |rs: &[Regex], name: &str| rs.iter().any(|r| r.is_match(name));
        if !self.schema_include.is_empty() && !any(&self.schema_include, schema) {
            return false;
        }
        if any(&self.schema_exclude, schema) {
            return false;
        }
        let full = format!("{schema}.{table}");
        if !self.table_include.is_empty() && !any(&self.table_include, &full) {
            return false;
        }
        !any(&self.table_exclude, &full)
    }

    /// Whether column `<schema>.<table>.<column>` is included.
    pub fn captures_column(&self, schema: &str, table: &str, column: &str) -> bool {
        let full = format!("{schema}.{table}.{column}");
        let any = |rs: &[Regex]| rs.iter().any(|r| r.is_match(&full));
        if !self.column_include.is_empty() {
            return any(&self.column_include);
        }
        !any(&self.column_exclude)
    }

    /// Whether an operation (`c`, `u`, `d`, `t`) is emitted.
    pub fn emits(&self, op: char) -> bool {
        !self.skipped.contains(&op)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Props {
        let mut p: Props = [
            (HOSTNAME, "db"),
            (USER, "cdc"),
            (DBNAME, "shop"),
            (TOPIC_PREFIX, "shop"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        p.extend(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        p
    }

    fn errors(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        validate(&props(pairs))
            .into_iter()
            .map(|e| (e.key, e.message))
            .collect()
    }

    #[test]
    fn debeziums_defaults() {
        let c = PostgresConfig::parse(&props(&[])).unwrap();
        assert_eq!(c.port, 5432);
        assert_eq!(c.slot_name, "debezium");
        assert_eq!(c.publication_name, "dbz_publication");
        assert_eq!(c.publication_autocreate, AutocreateMode::AllTables);
        assert_eq!(c.snapshot_mode, SnapshotMode::Initial);
        assert_eq!(c.sslmode, "prefer");
        assert!(c.tombstones_on_delete);
        assert_eq!(c.skipped, vec!['t']);
        assert!(!c.emits('t') && c.emits('c'));
        assert_eq!(c.representation, Representation::default());
        assert_eq!(c.heartbeat_interval, None);
        assert_eq!(c.heartbeat_topic, "__debezium-heartbeat.shop");
        let legacy =
            PostgresConfig::parse(&props(&[(LEGACY_HEARTBEAT_TOPICS_PREFIX, "beats")])).unwrap();
        assert_eq!(legacy.heartbeat_topic, "beats.shop");
        let both = PostgresConfig::parse(&props(&[
            (LEGACY_HEARTBEAT_TOPICS_PREFIX, "beats"),
            (HEARTBEAT_TOPICS_PREFIX, "hb"),
        ]))
        .unwrap();
        assert_eq!(both.heartbeat_topic, "hb.shop");
        assert_eq!((c.max_batch_size, c.max_queue_size), (2048, 8192));
    }

    #[test]
    fn message_key_columns_in_debeziums_syntax() {
        let c = PostgresConfig::parse(&props(&[(
            MESSAGE_KEY_COLUMNS,
            "public.events:account, day ; (.*).logs:seq",
        )]))
        .unwrap();
        let keys: Vec<(bool, bool, &Vec<String>)> = c
            .message_key_columns
            .iter()
            .map(|(r, cols)| (r.is_match("public.events"), r.is_match("audit.LOGS"), cols))
            .collect();
        assert_eq!(keys.len(), 2);
        assert_eq!((keys[0].0, keys[0].1), (true, false));
        assert_eq!(keys[0].2, &vec!["account".to_owned(), "day".to_owned()]);
        assert_eq!((keys[1].0, keys[1].1), (false, true));
        for bad in ["public.events", "public.events:", "(:a"] {
            assert!(
                errors(&[(MESSAGE_KEY_COLUMNS, bad)])
                    .iter()
                    .any(|(k, _)| k == MESSAGE_KEY_COLUMNS),
                "{bad}"
            );
        }
    }

    #[test]
    fn transaction_metadata_is_refused_rather_than_ignored() {
        assert!(errors(&[(PROVIDE_TRANSACTION_METADATA, "false")]).is_empty());
        assert!(errors(&[(PROVIDE_TRANSACTION_METADATA, "true")])
            .iter()
            .any(|(k, m)| k == PROVIDE_TRANSACTION_METADATA && m.contains("not implemented")));
    }

    #[test]
    fn required_keys_and_bad_values_are_named() {
        let e = validate(&Props::new());
        for key in [HOSTNAME, USER, DBNAME, TOPIC_PREFIX] {
            assert!(e.iter().any(|e| e.key == key), "{key} missing: {e:?}");
        }
        let e = errors(&[(PLUGIN_NAME, "decoderbufs")]);
        assert_eq!(e[0].0, PLUGIN_NAME);
        assert!(e[0].1.contains("only pgoutput is supported"), "{e:?}");
        assert!(errors(&[(PLUGIN_NAME, "pgoutput")]).is_empty());
        assert_eq!(errors(&[(SNAPSHOT_MODE, "sometimes")])[0].0, SNAPSHOT_MODE);
        assert_eq!(errors(&[(SLOT_NAME, "My-Slot")])[0].0, SLOT_NAME);
        assert_eq!(errors(&[(TOPIC_PREFIX, "a b")])[0].0, TOPIC_PREFIX);
        assert_eq!(
            errors(&[(SKIPPED_OPERATIONS, "c,x")])[0].0,
            SKIPPED_OPERATIONS
        );
        assert_eq!(
            errors(&[(TABLE_INCLUDE_LIST, "public.(")])[0].0,
            TABLE_INCLUDE_LIST
        );
        assert_eq!(
            errors(&[(TABLE_INCLUDE_LIST, "a"), (TABLE_EXCLUDE_LIST, "b")])[0].0,
            TABLE_EXCLUDE_LIST
        );
        assert_eq!(
            errors(&[(MAX_QUEUE_SIZE, "10"), (MAX_BATCH_SIZE, "20")])[0].0,
            MAX_QUEUE_SIZE
        );
    }

    #[test]
    fn settings_that_change_output_are_refused_tuning_is_ignored() {
        let e = errors(&[
            ("column.mask.with.12.chars", "public.t.c"),
            ("converters", "x"),
        ]);
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e.iter().all(|(_, m)| m.contains("not implemented")));
        let p = props(&[("slot.max.retries", "6"), ("snapshot.delay.ms", "0")]);
        assert!(validate(&p).is_empty());
        assert_eq!(ignored_keys(&p), ["slot.max.retries", "snapshot.delay.ms"]);
    }

    #[test]
    fn table_and_column_filters_as_debeziums() {
        let c = PostgresConfig::parse(&props(&[
            (SCHEMA_INCLUDE_LIST, "public,sales"),
            (TABLE_EXCLUDE_LIST, "public\\.audit.*"),
            (COLUMN_EXCLUDE_LIST, "public\\.orders\\.secret"),
        ]))
        .unwrap();
        assert!(c.captures_table("public", "orders"));
        assert!(c.captures_table("Sales", "items"), "case-insensitive");
        assert!(!c.captures_table("public", "audit_log"));
        assert!(!c.captures_table("other", "orders"));
        assert!(c.captures_column("public", "orders", "id"));
        assert!(!c.captures_column("public", "orders", "secret"));
        assert_eq!(split_regex_list("a\\,b, c ,,"), ["a,b", "c"]);
    }
}
