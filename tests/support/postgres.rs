//! The test PostgreSQL server and Debezium's plugin folder, shared by the
//! CDC connector's tests.

use std::path::Path;
use std::process::{Command, Stdio};

use super::postgres;

/// A session to the test server's `db` as the connector's role.
pub async fn connect(db: &str) -> tokio_postgres::Client {
    let pg = postgres();
    let (client, connection) = tokio_postgres::Config::new()
        .host(&pg["POSTGRES_HOST"])
        .port(pg["POSTGRES_PORT"].parse().expect("port"))
        .user(&pg["POSTGRES_USER"])
        .password(pg["POSTGRES_PASSWORD"].as_bytes())
        .dbname(db)
        .connect(tokio_postgres::NoTls)
        .await
        .expect("connecting to the test PostgreSQL");
    tokio::spawn(connection);
    client
}

/// Creates the database `db`.
pub async fn create_database(db: &str) {
    connect("postgres")
        .await
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await
        .expect("creating the database");
}

/// Drops `slots` (when they still exist) and the database.
pub async fn drop_database(db: &str, slots: &[&str]) {
    let admin = connect("postgres").await;
    for slot in slots {
        let _ = admin
            .batch_execute(&format!("SELECT pg_drop_replication_slot('{slot}')"))
            .await;
    }
    admin
        .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
        .await
        .expect("dropping the database");
}

/// Debezium's PostgreSQL connector as a Java Connect plugin folder
/// (`tests/env/debezium.sh install`, cached).
pub fn debezium_plugin_path() -> String {
    debezium_install("install", "DEBEZIUM_PLUGIN_PATH")
}

/// Debezium's JDBC sink as a Java Connect plugin folder
/// (`tests/env/debezium.sh install-jdbc`, cached).
pub fn debezium_jdbc_plugin_path() -> String {
    debezium_install("install-jdbc", "DEBEZIUM_JDBC_PLUGIN_PATH")
}

fn debezium_install(command: &str, printed: &str) -> String {
    let out = Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/env/debezium.sh"))
        .arg(command)
        .stderr(Stdio::inherit())
        .output()
        .expect("running tests/env/debezium.sh");
    assert!(
        out.status.success(),
        "tests/env/debezium.sh {command} failed"
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{printed}=")))
        .unwrap_or_else(|| panic!("tests/env/debezium.sh {command} printed no {printed}"))
        .to_owned()
}

/// The slot's `confirmed_flush_lsn` (as a number), if the slot exists.
pub async fn confirmed_flush_lsn(slot: &str) -> Option<u64> {
    let row = connect("postgres")
        .await
        .query_opt(
            "SELECT (confirmed_flush_lsn - '0/0')::text FROM pg_replication_slots WHERE slot_name = $1",
            &[&slot],
        )
        .await
        .expect("reading pg_replication_slots")?;
    row.get::<_, Option<String>>(0)?.parse().ok()
}

/// `jdbc:postgresql://…/db` on the test server, without TLS.
pub fn jdbc_url(db: &str) -> String {
    let pg = postgres();
    format!(
        "jdbc:postgresql://{}:{}/{db}?sslmode=disable",
        pg["POSTGRES_HOST"], pg["POSTGRES_PORT"]
    )
}

/// A query's rows, each column as its text (`None` for NULL); no rows
/// when the query fails (a table not created yet).
pub async fn texts(pg: &tokio_postgres::Client, sql: &str) -> Vec<Vec<Option<String>>> {
    match pg.simple_query(sql).await {
        Ok(messages) => messages
            .into_iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => {
                    Some((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect())
                }
                _ => None,
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// kconnect's PostgreSQL source on `db`'s `public.items`, named
/// `<prefix>-source`, with a slot and publication named after `prefix`.
pub fn items_source_props(prefix: &str, db: &str) -> Vec<(&'static str, String)> {
    let pg = postgres();
    let slot = prefix.replace('-', "_");
    vec![
        ("name", format!("{prefix}-source")),
        (
            "connector.class",
            "io.debezium.connector.postgresql.PostgresConnector".into(),
        ),
        ("database.hostname", pg["POSTGRES_HOST"].clone()),
        ("database.port", pg["POSTGRES_PORT"].clone()),
        ("database.user", pg["POSTGRES_USER"].clone()),
        ("database.password", pg["POSTGRES_PASSWORD"].clone()),
        ("database.dbname", db.into()),
        ("database.sslmode", "disable".into()),
        ("topic.prefix", prefix.into()),
        ("slot.name", slot.clone()),
        ("publication.name", format!("{slot}_pub")),
        ("table.include.list", "public\\.items".into()),
        ("poll.interval.ms", "100".into()),
    ]
}
