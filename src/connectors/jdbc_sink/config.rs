//! The keys of both Java JDBC sinks, read into one settings struct.
//!
//! Confluent's (`io.confluent.connect.jdbc.JdbcSinkConnector`):
//! `connection.url`, `connection.user`, `connection.password`,
//! `insert.mode` (insert), `pk.mode` (none), `pk.fields`,
//! `table.name.format` (`${topic}`), `auto.create`, `auto.evolve`,
//! `delete.enabled` (needs `pk.mode=record_key`), `batch.size` (3000),
//! `fields.whitelist`, `db.timezone` (UTC), `max.retries` (10),
//! `retry.backoff.ms` (3000), `quote.sql.identifiers` (always).
//!
//! Debezium's (`io.debezium.connector.jdbc.JdbcSinkConnector`):
//! `connection.url`, `connection.username`, `connection.password`,
//! `insert.mode` (insert), `primary.key.mode` (none), `primary.key.fields`,
//! `collection.name.format` (`${topic}`, dots becoming underscores as its
//! default naming strategy does), `schema.evolution` (none / basic),
//! `delete.enabled`, `truncate.enabled`, `batch.size` (500),
//! `field.include.list` / `field.exclude.list`, `use.time.zone` (UTC),
//! `quote.identifiers` (false).

use std::time::Duration;

use crate::connect::config::{Config, ConfigDef, ConfigType, Importance, Props, Validator};
use crate::connect::ConfigError;

use super::url::{self, PgUrl};

pub const CONNECTION_URL: &str = "connection.url";
pub const CONNECTION_PASSWORD: &str = "connection.password";
pub const INSERT_MODE: &str = "insert.mode";
pub const DELETE_ENABLED: &str = "delete.enabled";
pub const BATCH_SIZE: &str = "batch.size";

// Confluent's names.
pub const CONNECTION_USER: &str = "connection.user";
pub const PK_MODE: &str = "pk.mode";
pub const PK_FIELDS: &str = "pk.fields";
pub const TABLE_NAME_FORMAT: &str = "table.name.format";
pub const AUTO_CREATE: &str = "auto.create";
pub const AUTO_EVOLVE: &str = "auto.evolve";
pub const FIELDS_WHITELIST: &str = "fields.whitelist";
pub const DB_TIMEZONE: &str = "db.timezone";
pub const MAX_RETRIES: &str = "max.retries";
pub const RETRY_BACKOFF_MS: &str = "retry.backoff.ms";
pub const QUOTE_SQL_IDENTIFIERS: &str = "quote.sql.identifiers";

// Debezium's names.
pub const CONNECTION_USERNAME: &str = "connection.username";
pub const PRIMARY_KEY_MODE: &str = "primary.key.mode";
pub const PRIMARY_KEY_FIELDS: &str = "primary.key.fields";
pub const COLLECTION_NAME_FORMAT: &str = "collection.name.format";
pub const SCHEMA_EVOLUTION: &str = "schema.evolution";
pub const TRUNCATE_ENABLED: &str = "truncate.enabled";
pub const FIELD_INCLUDE_LIST: &str = "field.include.list";
pub const FIELD_EXCLUDE_LIST: &str = "field.exclude.list";
pub const USE_TIME_ZONE: &str = "use.time.zone";
pub const QUOTE_IDENTIFIERS: &str = "quote.identifiers";

/// Whose keys the config uses: the class it names decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Confluent,
    Debezium,
}

impl Flavor {
    /// This flavor's names for the primary key's mode and fields.
    fn pk_keys(self) -> (&'static str, &'static str) {
        match self {
            Flavor::Confluent => (PK_MODE, PK_FIELDS),
            Flavor::Debezium => (PRIMARY_KEY_MODE, PRIMARY_KEY_FIELDS),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertMode {
    Insert,
    Upsert,
    Update,
}

/// Where the primary key comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PkMode {
    None,
    /// `__connect_topic`, `__connect_partition`, `__connect_offset`.
    Kafka,
    RecordKey,
    RecordValue,
}

/// The settings of one sink, whichever flavor's keys gave them.
#[derive(Debug, Clone)]
pub struct SinkSettings {
    pub flavor: Flavor,
    pub url: PgUrl,
    pub user: String,
    pub password: String,
    pub insert_mode: InsertMode,
    pub pk_mode: PkMode,
    pub pk_fields: Vec<String>,
    pub table_format: String,
    pub auto_create: bool,
    pub auto_evolve: bool,
    pub delete_enabled: bool,
    pub truncate_enabled: bool,
    pub batch_size: usize,
    /// Fields written (empty: all).
    pub fields_include: Vec<String>,
    pub fields_exclude: Vec<String>,
    pub time_zone: String,
    pub max_retries: u32,
    pub retry_backoff: Duration,
    pub quote_identifiers: bool,
}

const INSERT_MODES: &[&str] = &["insert", "upsert", "update"];
const CONFLUENT_PK_MODES: &[&str] = &["none", "kafka", "record_key", "record_value"];
const DEBEZIUM_PK_MODES: &[&str] = &["none", "kafka", "record_key", "record_value"];

fn check_url(v: &str) -> Result<(), String> {
    url::parse(v).map(|_| ())
}

pub fn config_def(flavor: Flavor) -> ConfigDef {
    let common = ConfigDef::new()
        .define(
            CONNECTION_URL,
            ConfigType::String,
            None,
            Importance::High,
            "JDBC connection URL: jdbc:postgresql://host:port/database[?sslmode=…]",
        )
        .validate_with(Validator::custom("a jdbc:postgresql:// URL", check_url))
        .define(
            CONNECTION_PASSWORD,
            ConfigType::Password,
            Some(""),
            Importance::High,
            "Password of the database user",
        )
        .define(
            INSERT_MODE,
            ConfigType::String,
            Some("insert"),
            Importance::High,
            "insert, upsert (INSERT … ON CONFLICT) or update",
        )
        .validate_with(Validator::OneOf(INSERT_MODES))
        .define(
            DELETE_ENABLED,
            ConfigType::Boolean,
            Some("false"),
            Importance::Medium,
            "Null record values delete the row with the record's key",
        );
    match flavor {
        Flavor::Confluent => common
            .define(
                CONNECTION_USER,
                ConfigType::String,
                Some(""),
                Importance::High,
                "Database user",
            )
            .define(
                PK_MODE,
                ConfigType::String,
                Some("none"),
                Importance::High,
                "Primary key source: none, kafka, record_key or record_value",
            )
            .validate_with(Validator::OneOf(CONFLUENT_PK_MODES))
            .define(
                PK_FIELDS,
                ConfigType::List,
                Some(""),
                Importance::Medium,
                "Primary key field names (defaults per pk.mode)",
            )
            .define(
                TABLE_NAME_FORMAT,
                ConfigType::String,
                Some("${topic}"),
                Importance::Medium,
                "Table name; ${topic} is the record's topic",
            )
            .define(
                AUTO_CREATE,
                ConfigType::Boolean,
                Some("false"),
                Importance::Medium,
                "CREATE TABLE from the record schema when the table is missing",
            )
            .define(
                AUTO_EVOLVE,
                ConfigType::Boolean,
                Some("false"),
                Importance::Medium,
                "ALTER TABLE ADD nullable columns for new fields",
            )
            .define(
                BATCH_SIZE,
                ConfigType::Int,
                Some("3000"),
                Importance::Medium,
                "Records written per statement batch",
            )
            .validate_with(Validator::Range {
                min: Some(0),
                max: None,
            })
            .define(
                FIELDS_WHITELIST,
                ConfigType::List,
                Some(""),
                Importance::Medium,
                "Value fields written (empty: all)",
            )
            .define(
                DB_TIMEZONE,
                ConfigType::String,
                Some("UTC"),
                Importance::Medium,
                "Time zone of timestamps written without one",
            )
            .define(
                MAX_RETRIES,
                ConfigType::Int,
                Some("10"),
                Importance::Medium,
                "Retries of a failed batch before the task fails",
            )
            .validate_with(Validator::Range {
                min: Some(0),
                max: None,
            })
            .define(
                RETRY_BACKOFF_MS,
                ConfigType::Int,
                Some("3000"),
                Importance::Medium,
                "Wait between retries",
            )
            .validate_with(Validator::Range {
                min: Some(0),
                max: None,
            })
            .define(
                QUOTE_SQL_IDENTIFIERS,
                ConfigType::String,
                Some("always"),
                Importance::Medium,
                "always or never",
            )
            .validate_with(Validator::OneOf(&["always", "never"])),
        Flavor::Debezium => common
            .define(
                CONNECTION_USERNAME,
                ConfigType::String,
                Some(""),
                Importance::High,
                "Database user",
            )
            .define(
                PRIMARY_KEY_MODE,
                ConfigType::String,
                Some("none"),
                Importance::High,
                "Primary key source: none, kafka, record_key or record_value",
            )
            .validate_with(Validator::OneOf(DEBEZIUM_PK_MODES))
            .define(
                PRIMARY_KEY_FIELDS,
                ConfigType::List,
                Some(""),
                Importance::Medium,
                "Primary key field names",
            )
            .define(
                COLLECTION_NAME_FORMAT,
                ConfigType::String,
                Some("${topic}"),
                Importance::Medium,
                "Table name; ${topic} is the record's topic (dots become underscores)",
            )
            .define(
                SCHEMA_EVOLUTION,
                ConfigType::String,
                Some("none"),
                Importance::Medium,
                "none, or basic: create missing tables and add new columns",
            )
            .validate_with(Validator::OneOf(&["none", "basic"]))
            .define(
                TRUNCATE_ENABLED,
                ConfigType::Boolean,
                Some("false"),
                Importance::Medium,
                "Truncate events truncate the table",
            )
            .define(
                BATCH_SIZE,
                ConfigType::Int,
                Some("500"),
                Importance::Medium,
                "Records written per batch",
            )
            .validate_with(Validator::Range {
                min: Some(1),
                max: None,
            })
            .define(
                FIELD_INCLUDE_LIST,
                ConfigType::List,
                Some(""),
                Importance::Medium,
                "<topic>:<field> entries written (empty: all)",
            )
            .define(
                FIELD_EXCLUDE_LIST,
                ConfigType::List,
                Some(""),
                Importance::Medium,
                "<topic>:<field> entries not written",
            )
            .define(
                USE_TIME_ZONE,
                ConfigType::String,
                Some("UTC"),
                Importance::Medium,
                "Time zone of timestamps written without one",
            )
            .define(
                QUOTE_IDENTIFIERS,
                ConfigType::Boolean,
                Some("false"),
                Importance::Medium,
                "Quote table and column names",
            ),
    }
}

fn pk_mode(v: &str) -> PkMode {
    match v.trim().to_ascii_lowercase().as_str() {
        "kafka" => PkMode::Kafka,
        "record_key" => PkMode::RecordKey,
        "record_value" => PkMode::RecordValue,
        _ => PkMode::None,
    }
}

impl SinkSettings {
    /// The settings, or the first error naming its key.
    pub fn parse(flavor: Flavor, props: &Props) -> Result<SinkSettings, ConfigError> {
        let c: Config = config_def(flavor).parse(props)?;
        let s = |k: &str| -> Result<String, ConfigError> { Ok(c.string(k)?.unwrap_or_default()) };
        let url =
            url::parse(&s(CONNECTION_URL)?).map_err(|e| ConfigError::new(CONNECTION_URL, e))?;
        let insert_mode = match s(INSERT_MODE)?.trim().to_ascii_lowercase().as_str() {
            "upsert" => InsertMode::Upsert,
            "update" => InsertMode::Update,
            _ => InsertMode::Insert,
        };
        // A user or password in the URL counts when the keys are empty, as
        // in pgjdbc.
        let from_url = |k: &str| url.params.get(k).cloned().unwrap_or_default();
        let or_url = |v: String, k: &str| if v.is_empty() { from_url(k) } else { v };
        let (pk_mode_key, pk_fields_key) = flavor.pk_keys();
        let pk_mode = pk_mode(&s(pk_mode_key)?);
        let mut pk_fields = c.list(pk_fields_key)?;
        if pk_mode == PkMode::Kafka && pk_fields.is_empty() {
            pk_fields = ["__connect_topic", "__connect_partition", "__connect_offset"]
                .map(str::to_owned)
                .to_vec();
        }
        let settings = match flavor {
            Flavor::Confluent => SinkSettings {
                flavor,
                user: or_url(s(CONNECTION_USER)?, "user"),
                password: or_url(s(CONNECTION_PASSWORD)?, "password"),
                insert_mode,
                pk_mode,
                pk_fields,
                table_format: s(TABLE_NAME_FORMAT)?,
                auto_create: c.boolean(AUTO_CREATE)?,
                auto_evolve: c.boolean(AUTO_EVOLVE)?,
                delete_enabled: c.boolean(DELETE_ENABLED)?,
                truncate_enabled: false,
                batch_size: usize::try_from(c.int(BATCH_SIZE)?).unwrap_or(3000),
                fields_include: c.list(FIELDS_WHITELIST)?,
                fields_exclude: Vec::new(),
                time_zone: s(DB_TIMEZONE)?,
                max_retries: u32::try_from(c.int(MAX_RETRIES)?).unwrap_or(10),
                retry_backoff: Duration::from_millis(
                    u64::try_from(c.int(RETRY_BACKOFF_MS)?).unwrap_or(3000),
                ),
                quote_identifiers: s(QUOTE_SQL_IDENTIFIERS)?
                    .trim()
                    .eq_ignore_ascii_case("always"),
                url,
            },
            Flavor::Debezium => {
                let basic = s(SCHEMA_EVOLUTION)?.trim().eq_ignore_ascii_case("basic");
                SinkSettings {
                    flavor,
                    user: or_url(s(CONNECTION_USERNAME)?, "user"),
                    password: or_url(s(CONNECTION_PASSWORD)?, "password"),
                    insert_mode,
                    pk_mode,
                    pk_fields,
                    table_format: s(COLLECTION_NAME_FORMAT)?,
                    auto_create: basic,
                    auto_evolve: basic,
                    delete_enabled: c.boolean(DELETE_ENABLED)?,
                    truncate_enabled: c.boolean(TRUNCATE_ENABLED)?,
                    batch_size: usize::try_from(c.int(BATCH_SIZE)?).unwrap_or(500),
                    fields_include: c.list(FIELD_INCLUDE_LIST)?,
                    fields_exclude: c.list(FIELD_EXCLUDE_LIST)?,
                    time_zone: s(USE_TIME_ZONE)?,
                    max_retries: 10,
                    retry_backoff: Duration::from_secs(3),
                    quote_identifiers: c.boolean(QUOTE_IDENTIFIERS)?,
                    url,
                }
            }
        };
        settings.check()?;
        Ok(settings)
    }

    /// The rules across keys that each Java sink enforces.
    fn check(&self) -> Result<(), ConfigError> {
        let (pk_mode_key, pk_fields_key) = self.flavor.pk_keys();
        if self.delete_enabled && self.pk_mode != PkMode::RecordKey {
            return Err(ConfigError::new(
                DELETE_ENABLED,
                format!("deletes need {pk_mode_key}=record_key"),
            ));
        }
        if self.insert_mode != InsertMode::Insert && self.pk_mode == PkMode::None {
            return Err(ConfigError::new(
                INSERT_MODE,
                format!("upsert and update need a primary key: set {pk_mode_key}"),
            ));
        }
        if self.pk_mode == PkMode::Kafka && self.pk_fields.len() != 3 {
            return Err(ConfigError::new(
                pk_fields_key,
                "with kafka, three names: for the topic, the partition and the offset",
            ));
        }
        Ok(())
    }

    /// The table for a topic: the format with `${topic}` replaced
    /// (Debezium's default naming strategy turns dots into underscores).
    pub fn table_name(&self, topic: &str) -> String {
        let topic = match self.flavor {
            Flavor::Confluent => topic.to_owned(),
            Flavor::Debezium => topic.replace('.', "_"),
        };
        self.table_format.replace("${topic}", &topic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Props {
        let mut p: Props = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        p.entry(CONNECTION_URL.into())
            .or_insert_with(|| "jdbc:postgresql://db:5432/shop".into());
        p
    }

    #[test]
    fn confluent_defaults_and_names() {
        let s =
            SinkSettings::parse(Flavor::Confluent, &props(&[(CONNECTION_USER, "app")])).unwrap();
        assert_eq!(
            (s.insert_mode, s.pk_mode),
            (InsertMode::Insert, PkMode::None)
        );
        assert_eq!((s.batch_size, s.max_retries), (3000, 10));
        assert!(s.quote_identifiers && !s.auto_create);
        assert_eq!(s.user, "app");
        assert_eq!(s.table_name("shop.public.orders"), "shop.public.orders");
        let s = SinkSettings::parse(
            Flavor::Confluent,
            &props(&[(PK_MODE, "kafka"), (INSERT_MODE, "upsert")]),
        )
        .unwrap();
        assert_eq!(
            s.pk_fields,
            ["__connect_topic", "__connect_partition", "__connect_offset"]
        );
    }

    #[test]
    fn debezium_defaults_and_names() {
        let s = SinkSettings::parse(
            Flavor::Debezium,
            &props(&[
                (CONNECTION_USERNAME, "app"),
                (PRIMARY_KEY_MODE, "record_key"),
                (INSERT_MODE, "upsert"),
                (DELETE_ENABLED, "true"),
                (SCHEMA_EVOLUTION, "basic"),
            ]),
        )
        .unwrap();
        assert_eq!(s.batch_size, 500);
        assert!(s.auto_create && s.auto_evolve && s.delete_enabled && !s.quote_identifiers);
        assert_eq!(s.table_name("shop.public.orders"), "shop_public_orders");
    }

    #[test]
    fn the_java_sinks_cross_key_rules() {
        let err = |f, pairs: &[(&str, &str)]| SinkSettings::parse(f, &props(pairs)).unwrap_err();
        assert_eq!(
            err(Flavor::Confluent, &[(DELETE_ENABLED, "true")]).key,
            DELETE_ENABLED
        );
        assert_eq!(
            err(Flavor::Confluent, &[(INSERT_MODE, "upsert")]).key,
            INSERT_MODE
        );
        let e = err(
            Flavor::Debezium,
            &[(DELETE_ENABLED, "true"), (PRIMARY_KEY_MODE, "record_value")],
        );
        assert!(e.message.contains("primary.key.mode=record_key"), "{e:?}");
        assert_eq!(
            err(Flavor::Confluent, &[(CONNECTION_URL, "jdbc:mysql://h/db")]).key,
            CONNECTION_URL
        );
        // A password in the URL is used when the key is empty.
        let s = SinkSettings::parse(
            Flavor::Confluent,
            &props(&[(CONNECTION_URL, "jdbc:postgresql://h/db?user=u&password=p")]),
        )
        .unwrap();
        assert_eq!((s.user.as_str(), s.password.as_str()), ("u", "p"));
    }
}
