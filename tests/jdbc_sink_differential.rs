//! Differential test of the Debezium-config JDBC sink: Debezium's own JDBC
//! sink (3.6.0.Final, on Java Connect 4.1.2) and kconnect's read the same
//! topic of change events (kconnect's PostgreSQL source, whose events are
//! Debezium's byte for byte) with the same config, each into a database of
//! its own. The tables they create (columns, types, nullability, primary
//! key) and what they hold after a snapshot, inserts, updates, deletes, a
//! primary-key change and an added column are compared by SQL.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::java_connect::{self, JavaConnect};
use support::postgres::{
    connect, create_database, debezium_jdbc_plugin_path, drop_database, items_source_props,
    jdbc_url, texts,
};
use support::*;

const JSON: &str = "org.apache.kafka.connect.json.JsonConverter";

const SOURCE_TABLE: &str = "CREATE TABLE items (
    id int PRIMARY KEY, name varchar(40) NOT NULL, qty int, small smallint, big bigint,
    price numeric(10,2), ratio double precision, rate real, flag boolean,
    day date, at time, created timestamp, changed timestamptz, doc jsonb, uid uuid,
    raw bytea, note text)";

const SEED: &str = "INSERT INTO items SELECT g, 'item ' || g, g * 2, g, g * 1000000000::bigint,
    g + 0.25, g / 3.0, g / 4.0, g % 2 = 0, '2024-01-01'::date + g, '10:00'::time + g * interval '1 minute',
    '2024-01-01 00:00'::timestamp + g * interval '1 hour', '2024-01-01 00:00+00'::timestamptz + g * interval '1 day',
    jsonb_build_object('g', g), md5(g::text)::uuid, decode(lpad(to_hex(g), 4, '0'), 'hex'),
    CASE WHEN g % 3 = 0 THEN 'third' END FROM generate_series(1, 20) g";

const CHANGES: &str =
    "INSERT INTO items (id, name, qty, price, note) VALUES (100, 'new', 1, 9.99, 'fresh');
    UPDATE items SET qty = qty + 100, note = 'changed', doc = '{\"x\": [1, 2]}' WHERE id IN (2, 4);
    DELETE FROM items WHERE id = 5;
    UPDATE items SET id = 500 WHERE id = 6;
    ALTER TABLE items ADD COLUMN extra int DEFAULT 7;
    INSERT INTO items (id, name, extra) VALUES (101, 'after alter', 8);
    UPDATE items SET name = 'still here' WHERE id = 1;";

/// The sink config both run, but for the database it writes to.
fn sink_props(name: &str, topic: &str, db: &str) -> Vec<(&'static str, String)> {
    let pg = postgres();
    vec![
        ("name", name.to_owned()),
        (
            "connector.class",
            "io.debezium.connector.jdbc.JdbcSinkConnector".into(),
        ),
        ("tasks.max", "1".into()),
        ("topics", topic.into()),
        ("connection.url", jdbc_url(db)),
        ("connection.username", pg["POSTGRES_USER"].clone()),
        ("connection.password", pg["POSTGRES_PASSWORD"].clone()),
        ("insert.mode", "upsert".into()),
        ("primary.key.mode", "record_key".into()),
        ("delete.enabled", "true".into()),
        ("truncate.enabled", "true".into()),
        ("schema.evolution", "basic".into()),
        ("collection.name.format", "items".into()),
    ]
}

fn worker_props(dir: &Path, extra: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
    let mut w = vec![
        ("bootstrap.servers", kafka_bootstrap()),
        ("key.converter", JSON.into()),
        ("value.converter", JSON.into()),
        (
            "offset.storage.file.filename",
            dir.join("offsets").display().to_string(),
        ),
        ("offset.flush.interval.ms", "500".into()),
        ("listeners", format!("http://127.0.0.1:{}", free_port())),
    ];
    w.extend(extra.iter().cloned());
    w
}

const COLUMNS: &str = "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
    FROM pg_attribute a WHERE a.attrelid = 'items'::regclass AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY a.attname";
const KEY: &str = "SELECT pg_get_constraintdef(oid) FROM pg_constraint
    WHERE conrelid = 'items'::regclass AND contype = 'p'";

/// Every column as text, rows in key order, columns by name.
async fn content(pg: &tokio_postgres::Client) -> Vec<Vec<Option<String>>> {
    let columns: Vec<String> = texts(pg, COLUMNS)
        .await
        .into_iter()
        .filter_map(|c| c[0].clone())
        .map(|c| format!("\"{c}\"::text"))
        .collect();
    if columns.is_empty() {
        return Vec::new();
    }
    texts(
        pg,
        &format!("SELECT {} FROM items ORDER BY id", columns.join(", ")),
    )
    .await
}

async fn wait_rows(
    pg: &tokio_postgres::Client,
    sql: &str,
    want: usize,
    what: &str,
    log: impl Fn() -> String,
) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let got = texts(pg, sql).await;
        if got.first().and_then(|r| r[0].as_deref()) == Some(&want.to_string()) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {got:?} for {want}\n{}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kconnect_writes_what_debeziums_jdbc_sink_writes() {
    java_connect::install();
    let plugin_path = debezium_jdbc_plugin_path();
    let prefix = unique("jdbcdiff");
    let base = prefix.replace('-', "_");
    let (src_db, java_db, ours_db) = (
        format!("{base}_src"),
        format!("{base}_java"),
        format!("{base}_ours"),
    );
    for db in [&src_db, &java_db, &ours_db] {
        create_database(db).await;
    }
    let src = connect(&src_db).await;
    src.batch_execute(SOURCE_TABLE)
        .await
        .expect("creating the source table");
    src.batch_execute(SEED).await.expect("seeding");
    let topic = format!("{prefix}.public.items");
    create_topic(&topic, 1);

    // kconnect: the source, and its sink.
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = dir.path().join("worker.properties");
    write_props(&worker, &worker_props(dir.path(), &[]));
    let source = dir.path().join("source.properties");
    let mut source_props = items_source_props(&prefix, &src_db);
    source_props.push(("skipped.operations", "none".into()));
    write_props(&source, &source_props);
    let ours_sink = dir.path().join("sink.properties");
    write_props(
        &ours_sink,
        &sink_props(&format!("{prefix}-ours"), &topic, &ours_db),
    );
    let mut ours = Process::standalone(dir.path(), &[&worker, &source, &ours_sink], "kc-jdbc");

    // Debezium's sink on Java Connect.
    let (_java_tmp, java_state) = java_connect::state_dir("jdbc-sink-java");
    let java_worker = java_state.join("worker.properties");
    write_props(
        &java_worker,
        &worker_props(&java_state, &[("plugin.path", plugin_path)]),
    );
    let java_sink = java_state.join("sink.properties");
    write_props(
        &java_sink,
        &sink_props(&format!("{prefix}-java"), &topic, &java_db),
    );
    let mut java = JavaConnect::standalone(&java_state, &[&java_worker, &java_sink]);

    let java_db_client = connect(&java_db).await;
    let ours_db_client = connect(&ours_db).await;
    let count = "SELECT count(*) FROM items";
    wait_rows(
        &java_db_client,
        count,
        20,
        "Debezium's sink, snapshot",
        || java.log_tail(),
    )
    .await;
    wait_rows(
        &ours_db_client,
        count,
        20,
        "kconnect's sink, snapshot",
        || ours.log_tail(),
    )
    .await;

    src.batch_execute(CHANGES).await.expect("changing rows");
    // 20 - 1 deleted + 2 inserted (100, 101); 6 became 500.
    let done =
        "SELECT count(*) FROM items WHERE id = 101 OR id = 500 OR id = 1 AND name = 'still here'";
    wait_rows(&java_db_client, done, 3, "Debezium's sink, changes", || {
        java.log_tail()
    })
    .await;
    wait_rows(&ours_db_client, done, 3, "kconnect's sink, changes", || {
        ours.log_tail()
    })
    .await;
    java.assert_running();
    ours.assert_running();

    let theirs = texts(&java_db_client, COLUMNS).await;
    let mine = texts(&ours_db_client, COLUMNS).await;
    assert_eq!(mine, theirs, "the created table's columns");
    assert_eq!(
        texts(&ours_db_client, KEY).await,
        texts(&java_db_client, KEY).await,
        "the primary key"
    );
    let theirs = content(&java_db_client).await;
    let mine = content(&ours_db_client).await;
    assert_eq!(theirs.len(), 21, "{theirs:?}");
    for (t, m) in theirs.iter().zip(&mine) {
        assert_eq!(m, t, "a row");
    }
    assert_eq!(mine.len(), theirs.len());

    // A truncate empties both (truncate.enabled), and writing goes on.
    src.batch_execute("TRUNCATE items; INSERT INTO items (id, name) VALUES (7, 'after truncate');")
        .await
        .expect("truncating");
    for (client, what) in [
        (&java_db_client, "Debezium's sink"),
        (&ours_db_client, "kconnect's sink"),
    ] {
        wait_rows(client, count, 1, what, || {
            format!("{}\n{}", java.log_tail(), ours.log_tail())
        })
        .await;
    }
    assert_eq!(
        content(&ours_db_client).await,
        content(&java_db_client).await
    );

    java.stop();
    ours.terminate();
    drop((src, java_db_client, ours_db_client));
    drop_database(&src_db, &[&base]).await;
    drop_database(&java_db, &[]).await;
    drop_database(&ours_db, &[]).await;
}
