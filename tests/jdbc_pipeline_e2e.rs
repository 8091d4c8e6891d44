//! The pipeline users build from the two halves: PostgreSQL database A →
//! the PostgreSQL CDC source → Kafka → two sinks, each into a database of
//! its own: Debezium's `ExtractNewRecordState` with the Confluent-config
//! JDBC sink into B, and the Debezium-config JDBC sink on the raw change
//! events into C. Inserts, updates, deletes and primary-key changes run
//! against A while the worker is killed with `kill -9` and started again;
//! in the end B and C hold what A holds, compared by SQL.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::postgres::{
    connect, create_database, drop_database, items_source_props, jdbc_url, texts,
};
use support::*;

const TABLE: &str = "CREATE TABLE items (
    id int PRIMARY KEY, name text NOT NULL, qty int, price numeric(10,2),
    updated timestamp, note text)";

/// What is compared: every column as text, in key order.
const CONTENT: &str =
    "SELECT id, name, qty, price::text, updated::text, note FROM items ORDER BY id";

/// The worker and the three connectors' files.
fn configs(dir: &Path, prefix: &str, a: &str, b: &str, c: &str) -> Vec<PathBuf> {
    let pg = postgres();
    let files: Vec<(&str, Vec<(&str, String)>)> = vec![
        (
            "worker",
            vec![
                ("bootstrap.servers", kafka_bootstrap()),
                (
                    "offset.storage.file.filename",
                    dir.join("offsets").display().to_string(),
                ),
                ("offset.flush.interval.ms", "500".into()),
                ("listeners", format!("http://127.0.0.1:{}", free_port())),
            ],
        ),
        ("source", {
            let mut source = items_source_props(prefix, a);
            // What Confluent's sink users set: Connect's own temporal
            // types, which it maps to columns (Debezium's it does not).
            source.push(("time.precision.mode", "connect".into()));
            source
        }),
        (
            "confluent",
            vec![
                ("name", format!("{prefix}-confluent")),
                (
                    "connector.class",
                    "io.confluent.connect.jdbc.JdbcSinkConnector".into(),
                ),
                ("topics", format!("{prefix}.public.items")),
                ("connection.url", jdbc_url(b)),
                ("connection.user", pg["POSTGRES_USER"].clone()),
                ("connection.password", pg["POSTGRES_PASSWORD"].clone()),
                ("insert.mode", "upsert".into()),
                ("pk.mode", "record_key".into()),
                ("delete.enabled", "true".into()),
                ("auto.create", "true".into()),
                ("auto.evolve", "true".into()),
                ("table.name.format", "items".into()),
                ("transforms", "unwrap".into()),
                (
                    "transforms.unwrap.type",
                    "io.debezium.transforms.ExtractNewRecordState".into(),
                ),
                (
                    "transforms.unwrap.delete.tombstone.handling.mode",
                    "tombstone".into(),
                ),
            ],
        ),
        (
            "debezium",
            vec![
                ("name", format!("{prefix}-debezium")),
                (
                    "connector.class",
                    "io.debezium.connector.jdbc.JdbcSinkConnector".into(),
                ),
                ("topics", format!("{prefix}.public.items")),
                ("connection.url", jdbc_url(c)),
                ("connection.username", pg["POSTGRES_USER"].clone()),
                ("connection.password", pg["POSTGRES_PASSWORD"].clone()),
                ("insert.mode", "upsert".into()),
                ("primary.key.mode", "record_key".into()),
                ("delete.enabled", "true".into()),
                ("schema.evolution", "basic".into()),
                ("collection.name.format", "items".into()),
            ],
        ),
    ];
    files
        .into_iter()
        .map(|(name, props)| {
            let path = dir.join(format!("{name}.properties"));
            write_props(&path, &props);
            path
        })
        .collect()
}

async fn content(pg: &tokio_postgres::Client) -> Vec<Vec<Option<String>>> {
    texts(pg, CONTENT).await
}

/// Changes of every kind, one transaction each, `rounds` times.
async fn workload(pg: &tokio_postgres::Client, from: i32, rounds: i32) {
    for i in from..from + rounds {
        let id = 1000 + i;
        let statements = [
            format!(
                "INSERT INTO items VALUES ({id}, 'new {i}', {i}, {i}.25, '2024-03-01 10:00:00'::timestamp + interval '{i} minutes', NULL)"
            ),
            format!("UPDATE items SET qty = qty + 1, note = 'touched {i}' WHERE id = {}", i % 40 + 1),
            format!("DELETE FROM items WHERE id = {}", 1000 + i - 3),
            // A primary-key change: a delete and a create downstream.
            format!("UPDATE items SET id = id + 5000 WHERE id = {}", i % 40 + 41),
            format!("UPDATE items SET price = NULL, name = 'reset' WHERE id = {}", i % 40 + 5041),
        ];
        for s in &statements {
            pg.batch_execute(s).await.expect("a change on A");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_equal(
    a: &tokio_postgres::Client,
    other: &tokio_postgres::Client,
    which: &str,
    proc: &mut Process,
) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        proc.assert_running();
        let want = content(a).await;
        let got = content(other).await;
        if got == want {
            return;
        }
        if Instant::now() > deadline {
            let missing: Vec<_> = want.iter().filter(|r| !got.contains(r)).take(5).collect();
            let extra: Vec<_> = got.iter().filter(|r| !want.contains(r)).take(5).collect();
            panic!(
                "{which} differs from A: {} rows vs {}; missing {missing:?}; extra {extra:?}\nlog:\n{}",
                got.len(),
                want.len(),
                proc.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_to_postgres_through_both_sinks_survives_kill_9() {
    let prefix = unique("pipe");
    let base = prefix.replace('-', "_");
    let (a_db, b_db, c_db) = (
        format!("{base}_a"),
        format!("{base}_b"),
        format!("{base}_c"),
    );
    for db in [&a_db, &b_db, &c_db] {
        create_database(db).await;
    }
    let a = connect(&a_db).await;
    a.batch_execute(TABLE).await.expect("creating A's table");
    // Rows before the connector starts come through the snapshot.
    a.batch_execute(
        "INSERT INTO items SELECT g, 'item ' || g, g * 2, g + 0.5, '2024-01-01'::timestamp + g * interval '1 hour',
                CASE WHEN g % 3 = 0 THEN 'third' END FROM generate_series(1, 80) g",
    )
    .await
    .expect("seeding A");
    create_topic(&format!("{prefix}.public.items"), 1);
    let b = connect(&b_db).await;
    let c = connect(&c_db).await;

    let dir = tempfile::tempdir().expect("tempdir");
    let files = configs(dir.path(), &prefix, &a_db, &b_db, &c_db);
    let args: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let mut proc = Process::standalone(dir.path(), &args, "pipeline");
    wait_equal(
        &a,
        &b,
        "B (ExtractNewRecordState + Confluent's sink)",
        &mut proc,
    )
    .await;
    wait_equal(&a, &c, "C (Debezium's sink on change events)", &mut proc).await;

    // Changes while the worker dies without warning and comes back.
    let changes = {
        let a_db = a_db.clone();
        tokio::spawn(async move { workload(&connect(&a_db).await, 0, 60).await })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    let behind = content(&b).await != content(&a).await;
    proc.kill9();
    eprintln!(
        "killed with the workload running and B {}",
        if behind { "behind A" } else { "caught up" }
    );
    changes.await.expect("the workload");
    let mut proc = Process::standalone(dir.path(), &args, "pipeline-again");
    workload(&a, 60, 30).await;
    wait_equal(&a, &b, "B after kill -9", &mut proc).await;
    wait_equal(&a, &c, "C after kill -9", &mut proc).await;
    let rows = content(&a).await.len();
    assert!(rows > 80, "the workload left {rows} rows");

    // The sinks made their tables: a key, nothing more.
    for (db, client) in [("B", &b), ("C", &c)] {
        let pk: Vec<String> = client
            .query(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint
                  WHERE conrelid = 'items'::regclass AND contype = 'p'",
                &[],
            )
            .await
            .expect("reading the key")
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(pk, ["PRIMARY KEY (id)"], "{db}");
    }

    proc.terminate();
    drop((a, b, c));
    drop_database(&a_db, &[&prefix.replace('-', "_")]).await;
    drop_database(&b_db, &[]).await;
    drop_database(&c_db, &[]).await;
}
