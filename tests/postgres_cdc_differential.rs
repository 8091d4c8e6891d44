//! Differential test: real Debezium 3.6.1's PostgresConnector on Java
//! Connect 4.1.2 and kconnect's, on the same PostgreSQL database and the
//! same changes (a snapshot; inserts, updates, deletes and a primary-key
//! change; an `ALTER TABLE ADD COLUMN` mid-stream, `REPLICA IDENTITY FULL`,
//! a truncate), both with JsonConverter (schemas on). Record by record, the
//! key and value JSON texts are identical once the topic prefix is
//! normalized, except:
//! - wall-clock times (`ts_ms`, `ts_us`, `ts_ns` of the event and of
//!   `source`), compared for presence and type;
//! - in snapshot records, `source.lsn`, `source.txId` and
//!   `source.sequence`, which name each connector's own snapshot (its slot's
//!   consistent point and its snapshot transaction).

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use support::java_connect::{self, JavaConnect};
use support::postgres::{connect, create_database, debezium_plugin_path, drop_database};
use support::*;

/// The same connector config for both, with its own prefix, slot and
/// publication.
fn connector_props(db: &str, prefix: &str) -> Vec<(&'static str, String)> {
    let pg = postgres();
    let id = prefix.replace('-', "_");
    vec![
        ("name", format!("{prefix}-cdc")),
        (
            "connector.class",
            "io.debezium.connector.postgresql.PostgresConnector".into(),
        ),
        ("tasks.max", "1".into()),
        ("database.hostname", pg["POSTGRES_HOST"].clone()),
        ("database.port", pg["POSTGRES_PORT"].clone()),
        ("database.user", pg["POSTGRES_USER"].clone()),
        ("database.password", pg["POSTGRES_PASSWORD"].clone()),
        ("database.dbname", db.into()),
        ("database.sslmode", "disable".into()),
        ("topic.prefix", prefix.into()),
        ("plugin.name", "pgoutput".into()),
        ("slot.name", id.clone()),
        ("publication.name", format!("{id}_pub")),
        ("publication.autocreate.mode", "filtered".into()),
        ("table.include.list", "public\\.items".into()),
        ("skipped.operations", "none".into()),
    ]
}

fn worker_props(dir: &Path, extra: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
    let mut w = vec![
        ("bootstrap.servers", kafka_bootstrap()),
        (
            "key.converter",
            "org.apache.kafka.connect.json.JsonConverter".into(),
        ),
        (
            "value.converter",
            "org.apache.kafka.connect.json.JsonConverter".into(),
        ),
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

/// The records of a topic as (key, value) texts with `prefix` replaced by
/// `P`, wall-clock times masked, and (snapshot records) the fields naming
/// each connector's own snapshot masked.
fn normalized(topic: &str, prefix: &str) -> Vec<(String, String)> {
    read_topic_records(topic)
        .into_iter()
        .map(|(k, v)| {
            let text = |b: Option<Vec<u8>>| {
                b.map_or("null".to_owned(), |b| String::from_utf8(b).expect("UTF-8"))
                    .replace(prefix, "P")
            };
            let key = text(k);
            let mut value: Json = serde_json::from_str(&text(v)).expect("JSON");
            if let Some(payload) = value.get_mut("payload").filter(|p| p.is_object()) {
                let snapshot = payload["source"]["snapshot"].as_str() != Some("false");
                for k in ["ts_ms", "ts_us", "ts_ns"] {
                    mask(&mut payload[k]);
                    mask(&mut payload["source"][k]);
                }
                if snapshot {
                    for k in ["lsn", "txId", "sequence"] {
                        mask(&mut payload["source"][k]);
                    }
                }
            }
            (key, value.to_string())
        })
        .collect()
}

/// A value replaced by its JSON type.
fn mask(v: &mut Json) {
    *v = Json::String(
        match v {
            Json::Null => "<null>",
            Json::Number(_) => "<number>",
            Json::String(_) => "<string>",
            _ => "<other>",
        }
        .into(),
    );
}

fn wait_for(topic: &str, n: usize, what: &str, log: impl Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if topic_has(topic, n) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: fewer than {n} records on {topic}\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn topic_has(topic: &str, n: usize) -> bool {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", kafka_bootstrap())
        .create()
        .expect("consumer");
    consumer
        .fetch_watermarks(topic, 0, Duration::from_secs(5))
        .is_ok_and(|(_, high)| high >= n as i64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kconnect_writes_what_debezium_writes() {
    java_connect::install();
    let plugin_path = debezium_plugin_path();
    let db = unique("diff").replace('-', "_");
    create_database(&db).await;
    let pg = connect(&db).await;
    pg.batch_execute(
        "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
         CREATE TABLE public.items (
           id serial PRIMARY KEY, name text NOT NULL, qty int2, big int8, price numeric(10,2),
           ratio numeric, f4 real, f8 double precision, ok boolean, doc jsonb, tags text[],
           day date, at timestamp(3), at6 timestamp, atz timestamptz, t time, u uuid, blob bytea,
           iv interval, feeling mood, note varchar(20) DEFAULT 'none');
         INSERT INTO items (name, qty, big, price, ratio, f4, f8, ok, doc, tags, day, at, at6, atz, t, u, blob, iv, feeling)
         VALUES ('first', 1, 10000000000, 12.50, 3.14159, 1.5, 2.25, true, '{\"a\": [1, 2]}', '{a,\"b c\",NULL}',
                 '2024-01-02', '2024-01-02 03:04:05.678', '2024-01-02 03:04:05.678901', '2024-01-02 03:04:05.5+02',
                 '12:34:56.789', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\\xdeadbeef', '1 year 2 mons 3 days 04:05:06', 'ok'),
                ('second', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);",
    )
    .await
    .expect("creating the table");

    let java_prefix = unique("dbz");
    let ours_prefix = unique("kc");
    let java_topic = format!("{java_prefix}.public.items");
    let ours_topic = format!("{ours_prefix}.public.items");
    create_topic(&java_topic, 1);
    create_topic(&ours_topic, 1);

    // Debezium on Java Connect.
    let (_keep, java_state) = java_connect::state_dir("debezium");
    let java_worker = java_state.join("worker.properties");
    write_props(
        &java_worker,
        &worker_props(&java_state, &[("plugin.path", plugin_path)]),
    );
    let java_connector = java_state.join("postgres.properties");
    write_props(&java_connector, &connector_props(&db, &java_prefix));
    let mut java = JavaConnect::standalone(&java_state, &[&java_worker, &java_connector]);

    // kconnect.
    let dir = tempfile::tempdir().expect("tempdir");
    let ours_worker = dir.path().join("worker.properties");
    write_props(&ours_worker, &worker_props(dir.path(), &[]));
    let ours_connector = dir.path().join("postgres.properties");
    write_props(&ours_connector, &connector_props(&db, &ours_prefix));
    let mut ours = Process::standalone(dir.path(), &[&ours_worker, &ours_connector], "kc-diff");

    wait_for(&java_topic, 2, "Debezium's snapshot", || java.log_tail());
    wait_for(&ours_topic, 2, "kconnect's snapshot", || ours.log_tail());
    java.assert_running();
    ours.assert_running();

    // Both stream the same changes.
    pg.batch_execute(
        "INSERT INTO items (name, qty, price, feeling) VALUES ('third', 3, 7.25, 'happy');
         UPDATE items SET qty = 4, note = 'changed' WHERE name = 'third';
         DELETE FROM items WHERE name = 'second';
         UPDATE items SET id = 100 WHERE name = 'first';",
    )
    .await
    .expect("changing rows");
    // 2 reads, c, u, d + tombstone, d + tombstone + c for the key change.
    wait_for(&java_topic, 9, "Debezium's stream", || java.log_tail());
    wait_for(&ours_topic, 9, "kconnect's stream", || ours.log_tail());

    // The table changes shape mid-stream, then gives full before images,
    // then is truncated.
    pg.batch_execute(
        "ALTER TABLE items ADD COLUMN extra int DEFAULT 7;
         INSERT INTO items (name, extra) VALUES ('fourth', 8);
         ALTER TABLE items REPLICA IDENTITY FULL;
         UPDATE items SET qty = 5 WHERE name = 'fourth';
         DELETE FROM items WHERE name = 'third';
         TRUNCATE items;",
    )
    .await
    .expect("altering and truncating");
    // c, u, d + tombstone, t.
    wait_for(&java_topic, 14, "Debezium's stream", || java.log_tail());
    wait_for(&ours_topic, 14, "kconnect's stream", || ours.log_tail());

    let theirs = normalized(&java_topic, &java_prefix);
    let mine = normalized(&ours_topic, &ours_prefix);
    assert_eq!(theirs.len(), mine.len(), "record counts");
    assert!(theirs.len() >= 14 && theirs[0].1.contains("P.public.items.Envelope"));
    eprintln!(
        "{} records compared; the first:\n{}\n{}",
        theirs.len(),
        theirs[0].0,
        theirs[0].1
    );
    for (i, (t, m)) in theirs.iter().zip(&mine).enumerate() {
        assert_eq!(m.0, t.0, "record {i}: key");
        assert_eq!(m.1, t.1, "record {i}: value");
    }

    java.stop();
    ours.terminate();
    drop(pg);
    let slots = [java_prefix.replace('-', "_"), ours_prefix.replace('-', "_")];
    drop_database(&db, &[&slots[0], &slots[1]]).await;
}

/// Debezium's `ExtractNewRecordState` after each connector, on both sides:
/// Debezium's transform on Java Connect, kconnect's on kconnect, the same
/// changes; once with its defaults (a delete becomes a null value that keeps
/// the row's schema, tombstones and truncates are dropped) and once with
/// `rewrite` and `add.fields`. The unwrapped records are identical record
/// by record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extract_new_record_state_writes_what_debeziums_writes() {
    java_connect::install();
    let plugin_path = debezium_plugin_path();
    let db = unique("unwrap").replace('-', "_");
    create_database(&db).await;
    let pg = connect(&db).await;
    pg.batch_execute(
        "CREATE TABLE public.items (id serial PRIMARY KEY, name text NOT NULL,
           price numeric(10,2), day date, note varchar(20) DEFAULT 'none');
         INSERT INTO items (name, price, day) VALUES ('first', 12.50, '2024-01-02'), ('second', NULL, NULL);",
    )
    .await
    .expect("creating the table");
    let unwrap = |mode: &str| -> Vec<(&'static str, String)> {
        let mut t = vec![
            ("transforms", "unwrap".to_owned()),
            (
                "transforms.unwrap.type",
                "io.debezium.transforms.ExtractNewRecordState".into(),
            ),
        ];
        if mode == "rewrite" {
            t.extend([
                (
                    "transforms.unwrap.delete.tombstone.handling.mode",
                    "rewrite".to_owned(),
                ),
                (
                    "transforms.unwrap.add.fields",
                    "op,table,source.db:origin".into(),
                ),
                ("transforms.unwrap.add.headers", "op".into()),
            ]);
        }
        t
    };
    let (_keep, java_state) = java_connect::state_dir("debezium-unwrap");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut java_files = Vec::new();
    let mut ours_files = Vec::new();
    let mut topics = Vec::new();
    for mode in ["default", "rewrite"] {
        let (java_prefix, ours_prefix) = (unique("dbzu"), unique("kcu"));
        for (prefix, folder, files) in [
            (&java_prefix, &java_state, &mut java_files),
            (&ours_prefix, &dir.path().to_path_buf(), &mut ours_files),
        ] {
            create_topic(&format!("{prefix}.public.items"), 1);
            let mut props = connector_props(&db, prefix);
            props.extend(unwrap(mode));
            let file = folder.join(format!("{mode}.properties"));
            write_props(&file, &props);
            files.push(file);
        }
        topics.push((mode, java_prefix, ours_prefix));
    }
    let java_worker = java_state.join("worker.properties");
    write_props(
        &java_worker,
        &worker_props(&java_state, &[("plugin.path", plugin_path)]),
    );
    let ours_worker = dir.path().join("worker.properties");
    write_props(&ours_worker, &worker_props(dir.path(), &[]));
    let java_args: Vec<&Path> = std::iter::once(java_worker.as_path())
        .chain(java_files.iter().map(|p| p.as_path()))
        .collect();
    let ours_args: Vec<&Path> = std::iter::once(ours_worker.as_path())
        .chain(ours_files.iter().map(|p| p.as_path()))
        .collect();
    let mut java = JavaConnect::standalone(&java_state, &java_args);
    let mut ours = Process::standalone(dir.path(), &ours_args, "kc-unwrap");
    for (_, java_prefix, ours_prefix) in &topics {
        wait_for(
            &format!("{java_prefix}.public.items"),
            2,
            "Debezium's snapshot",
            || java.log_tail(),
        );
        wait_for(
            &format!("{ours_prefix}.public.items"),
            2,
            "kconnect's snapshot",
            || ours.log_tail(),
        );
    }
    pg.batch_execute(
        "INSERT INTO items (name, price) VALUES ('third', 7.25);
         UPDATE items SET price = 8.00, note = 'changed' WHERE name = 'third';
         DELETE FROM items WHERE name = 'second';
         UPDATE items SET id = 100 WHERE name = 'first';
         TRUNCATE items;
         INSERT INTO items (name) VALUES ('last');",
    )
    .await
    .expect("changing rows");
    // 2 reads, c, u, d, d + c for the key change, c: tombstones and the
    // truncate are dropped.
    for (mode, java_prefix, ours_prefix) in &topics {
        let (java_topic, ours_topic) = (
            format!("{java_prefix}.public.items"),
            format!("{ours_prefix}.public.items"),
        );
        wait_for(&java_topic, 8, "Debezium's unwrapped stream", || {
            java.log_tail()
        });
        wait_for(&ours_topic, 8, "kconnect's unwrapped stream", || {
            ours.log_tail()
        });
        // Anything more (a tombstone or truncate let through) shows here.
        std::thread::sleep(Duration::from_secs(1));
        let theirs = normalized(&java_topic, java_prefix);
        let mine = normalized(&ours_topic, ours_prefix);
        eprintln!(
            "{mode}: {} records; a delete:\n{}",
            theirs.len(),
            theirs[4].1
        );
        assert_eq!(theirs.len(), 8, "{mode}: Debezium's record count");
        assert_eq!(mine.len(), theirs.len(), "{mode}: record counts");
        for (i, (t, m)) in theirs.iter().zip(&mine).enumerate() {
            assert_eq!(m.0, t.0, "{mode} record {i}: key");
            assert_eq!(m.1, t.1, "{mode} record {i}: value");
        }
    }
    java.stop();
    ours.terminate();
    drop(pg);
    let slots: Vec<String> = topics
        .iter()
        .flat_map(|(_, a, b)| [a.replace('-', "_"), b.replace('-', "_")])
        .collect();
    let slots: Vec<&str> = slots.iter().map(String::as_str).collect();
    drop_database(&db, &slots).await;
}
