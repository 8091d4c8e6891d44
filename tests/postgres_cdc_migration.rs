//! Migration both ways between Debezium 3.6.1's PostgresConnector on Java
//! Connect 4.1.2 (distributed) and kconnect's worker, as a user would move:
//! the same `group.id`, the same three internal topics, the same slot and
//! publication, the connector config Java wrote to the config topic.
//!
//! Debezium snapshots and streams, then stops; changes keep coming while
//! nothing runs; kconnect resumes from Debezium's offsets and streams; it
//! stops; more changes; Debezium resumes from kconnect's offsets. Every
//! change lands in the topic exactly once (clean stops commit offsets, so
//! at-least-once has nothing to repeat here), the snapshot is not taken
//! again, and kconnect's records carry the schemas Debezium's do.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kconnect::connect::Props;
use kconnect::storage::status_topic::StatusRecord;
use kconnect::storage::topic_log::TopicLog;
use serde_json::{json, Value as Json};
use support::java_connect::{self, JavaConnect};
use support::postgres::{connect, create_database, debezium_plugin_path, drop_database};
use support::rest::Api;
use support::*;

/// The worker config both runtimes share.
fn common_props(group: &str) -> Vec<(&'static str, String)> {
    let mut props = java_connect::shared_cluster_props(group);
    props.push(("offset.flush.interval.ms", "500".into()));
    props
}

/// One event as the test follows it: op, the row's id, its `v` after (or
/// before, for deletes); tombstones as `("tombstone", id, "")`.
type Event = (String, i64, String);

fn events(topic: &str) -> Vec<Event> {
    read_topic_records(topic)
        .into_iter()
        .map(|(k, v)| {
            let key: Json =
                serde_json::from_slice(&k.expect("every record has a key")).expect("JSON key");
            let id = key["payload"]["id"].as_i64().expect("key id");
            let Some(v) = v else {
                return ("tombstone".to_owned(), id, String::new());
            };
            let value: Json = serde_json::from_slice(&v).expect("JSON value");
            let p = &value["payload"];
            let op = p["op"].as_str().expect("op").to_owned();
            let row = if op == "d" { &p["before"] } else { &p["after"] };
            (op, id, row["v"].as_str().unwrap_or("").to_owned())
        })
        .collect()
}

/// Missing and repeated events, or `None` when `got` has each of `want`
/// exactly once.
fn differences(got: &[Event], want: &[Event]) -> Option<String> {
    let mut counts = BTreeMap::<&Event, i64>::new();
    for e in got {
        *counts.entry(e).or_default() += 1;
    }
    for e in want {
        *counts.entry(e).or_default() -= 1;
    }
    let missing: Vec<_> = counts.iter().filter(|(_, n)| **n < 0).collect();
    let extra: Vec<_> = counts.iter().filter(|(_, n)| **n > 0).collect();
    (!missing.is_empty() || !extra.is_empty()).then(|| {
        format!(
            "{} events instead of {}; missing: {missing:?}; repeated or unexpected: {extra:?}",
            got.len(),
            want.len()
        )
    })
}

fn high_watermark(topic: &str) -> i64 {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", kafka_bootstrap())
        .create()
        .expect("consumer");
    consumer
        .fetch_watermarks(topic, 0, Duration::from_secs(5))
        .map_or(0, |(_, high)| high)
}

/// Waits until `topic` holds `n` records, checking `alive` in between.
fn wait_for_records(topic: &str, n: i64, what: &str, mut alive: impl FnMut() -> String) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while high_watermark(topic) < n {
        let log = alive();
        assert!(
            Instant::now() < deadline,
            "{what}: {} of {n} records on {topic}\n{log}",
            high_watermark(topic)
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Inserts ids `from..to` with `v = "<tag>-<id>"`, ten rows a transaction,
/// and returns their `c` events.
async fn insert(pg: &tokio_postgres::Client, from: i64, to: i64, tag: &str) -> Vec<Event> {
    let mut id = from;
    while id < to {
        let end = (id + 10).min(to);
        pg.batch_execute(&format!(
            "INSERT INTO moves (id, v) SELECT i, '{tag}-' || i FROM generate_series({id}, {}) i",
            end - 1
        ))
        .await
        .expect("inserting rows");
        id = end;
    }
    (from..to)
        .map(|i| ("c".to_owned(), i, format!("{tag}-{i}")))
        .collect()
}

async fn update(pg: &tokio_postgres::Client, ids: std::ops::Range<i64>, tag: &str) -> Vec<Event> {
    pg.batch_execute(&format!(
        "UPDATE moves SET v = '{tag}-' || id WHERE id >= {} AND id < {}",
        ids.start, ids.end
    ))
    .await
    .expect("updating rows");
    ids.map(|i| ("u".to_owned(), i, format!("{tag}-{i}")))
        .collect()
}

/// Deletes `ids` (whose `v` is `was-<id>`): a delete and a tombstone each.
async fn delete(pg: &tokio_postgres::Client, ids: std::ops::Range<i64>, was: &str) -> Vec<Event> {
    pg.batch_execute(&format!(
        "DELETE FROM moves WHERE id >= {} AND id < {}",
        ids.start, ids.end
    ))
    .await
    .expect("deleting rows");
    ids.flat_map(|i| {
        [
            ("d".to_owned(), i, format!("{was}-{i}")),
            ("tombstone".to_owned(), i, String::new()),
        ]
    })
    .collect()
}

/// Java Connect distributed with Debezium's plugin, until it runs
/// `connector` and its task (creating it first when `config` is given).
fn start_java(
    dir: &std::path::Path,
    group: &str,
    plugin_path: &str,
    connector: &str,
    config: Option<Json>,
) -> JavaConnect {
    std::fs::create_dir_all(dir).expect("creating Java's dir");
    let port = free_port();
    let worker = dir.join("worker.properties");
    let mut props = common_props(group);
    props.extend([
        ("listeners", format!("http://127.0.0.1:{port}")),
        ("plugin.path", plugin_path.to_owned()),
    ]);
    write_props(&worker, &props);
    let mut java = JavaConnect::distributed(dir, &worker);
    let api = Api::new(port);
    let deadline = Instant::now() + Duration::from_secs(180);
    // Until the herder has joined the group, the REST server answers 404.
    while !api
        .try_call("GET", "/connectors", None)
        .is_ok_and(|r| r.status == 200)
    {
        java.assert_running();
        assert!(
            Instant::now() < deadline,
            "Java Connect's REST API never answered\n{}",
            java.log_tail()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    if let Some(config) = config {
        let reply = api.call(
            "PUT",
            &format!("/connectors/{connector}/config"),
            Some(config),
        );
        assert!(
            reply.status == 201 || reply.status == 200,
            "creating {connector} in Java Connect: {reply:?}"
        );
    }
    loop {
        java.assert_running();
        let status = api
            .try_call("GET", &format!("/connectors/{connector}/status"), None)
            .ok()
            .map(|r| r.body)
            .unwrap_or(Json::Null);
        let (c, tasks) = support::rest::states(&status);
        assert!(
            c != "FAILED" && !tasks.iter().any(|t| t == "FAILED"),
            "Debezium FAILED in Java Connect: {status:#}"
        );
        if c == "RUNNING" && tasks == ["RUNNING"] {
            return java;
        }
        assert!(
            Instant::now() < deadline,
            "Java Connect did not run {connector} within 180 s: {status:#}\n{}",
            java.log_tail()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn debezium_to_kconnect_and_back_on_the_same_topics_and_slot() {
    let started = Instant::now();
    java_connect::install();
    let plugin_path = debezium_plugin_path();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let db = unique("mig").replace('-', "_");
    rt.block_on(create_database(&db));
    let pg = rt.block_on(connect(&db));
    // REPLICA IDENTITY FULL: deletes carry the whole row in `before`.
    rt.block_on(pg.batch_execute(
        "CREATE TABLE public.moves (id int8 PRIMARY KEY, v text);
         ALTER TABLE public.moves REPLICA IDENTITY FULL",
    ))
    .expect("creating the table");
    let (_keep, state) = java_connect::state_dir("pg-migration");
    let group = unique("pgmig");
    let prefix = unique("pgmig");
    let slot = prefix.replace('-', "_");
    let topic = format!("{prefix}.public.moves");
    create_topic(&topic, 1);
    let connector = format!("{prefix}-cdc");
    let pgenv = postgres();
    let config = json!({
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "tasks.max": "1",
        "database.hostname": pgenv["POSTGRES_HOST"],
        "database.port": pgenv["POSTGRES_PORT"],
        "database.user": pgenv["POSTGRES_USER"],
        "database.password": pgenv["POSTGRES_PASSWORD"],
        "database.dbname": db,
        "topic.prefix": prefix,
        "plugin.name": "pgoutput",
        "slot.name": slot,
        "publication.name": format!("{slot}_pub"),
        "publication.autocreate.mode": "filtered",
        "table.include.list": "public\\.moves",
    });
    let mut want: Vec<Event> = rt
        .block_on(insert(&pg, 1, 41, "snap"))
        .into_iter()
        .map(|(_, id, v)| ("r".to_owned(), id, v))
        .collect();

    // 1. Debezium snapshots and streams.
    let mut java = start_java(
        &state.join("java-1"),
        &group,
        &plugin_path,
        &connector,
        Some(config),
    );
    want.extend(rt.block_on(insert(&pg, 41, 81, "dbz")));
    want.extend(rt.block_on(update(&pg, 1..6, "dbz-upd")));
    wait_for_records(&topic, want.len() as i64, "Debezium", || {
        java.assert_running();
        java.log_tail()
    });
    assert!(
        java.stop().is_some(),
        "Java Connect still running {:?} after SIGTERM\n{}",
        support::java_connect::STOP_BOUND,
        java.log_tail()
    );
    drop(java);
    assert_eq!(differences(&events(&topic), &want), None, "after Debezium");
    eprintln!(
        "Debezium wrote {} events and stopped after {:?}",
        want.len(),
        started.elapsed()
    );

    // 2. Changes while nothing runs, then kconnect on the same group: the
    // connector config is the one Java wrote to the config topic; its task
    // is placed by hand, as the operator would.
    want.extend(rt.block_on(insert(&pg, 81, 121, "gap1")));
    let kc_dir = state.join("kconnect");
    std::fs::create_dir_all(&kc_dir).expect("creating kconnect's dir");
    let kc_props = kc_dir.join("worker.properties");
    let mut props = common_props(&group);
    props.extend([
        ("listeners", format!("http://127.0.0.1:{}", free_port())),
        ("worker.sync.interval.ms", "100".into()),
    ]);
    write_props(&kc_props, &props);
    let kc_props = kc_props.to_string_lossy().into_owned();
    let mut kc = Process::spawn(
        &kc_dir,
        &[
            "worker",
            "--worker-id",
            "w-0",
            "--health-listen",
            "127.0.0.1:0",
            &kc_props,
        ],
        &[],
        "pg-migration-worker",
    );
    let status_log = TopicLog::open(
        &kafka_bootstrap(),
        &format!("{group}-status"),
        &Props::new(),
    )
    .expect("status topic");
    let (k, v) = StatusRecord::Assignment {
        group: group.clone(),
        value: Some(json!({"generation": 1, "workers": {"w-0": {
            "connectors": [&connector],
            "tasks": [format!("{connector}-0")],
        }}})),
    }
    .encode();
    rt.block_on(status_log.send(&k, v.as_deref()))
        .expect("writing the assignment record");
    wait_for_records(&topic, want.len() as i64, "kconnect catching up", || {
        kc.assert_running();
        kc.log_tail()
    });
    want.extend(rt.block_on(insert(&pg, 121, 161, "kc")));
    want.extend(rt.block_on(update(&pg, 6..11, "kc-upd")));
    want.extend(rt.block_on(delete(&pg, 11..16, "snap")));
    wait_for_records(&topic, want.len() as i64, "kconnect streaming", || {
        kc.assert_running();
        kc.log_tail()
    });
    let exit = kc.terminate();
    assert!(exit.success(), "kconnect worker: {}", kc.log_tail());
    let got = events(&topic);
    assert_eq!(differences(&got, &want), None, "after kconnect");
    // What consumers see does not change with the runtime: kconnect's
    // records carry Debezium's key and value schemas.
    let records = read_topic_records(&topic);
    let schema = |i: usize| -> (Json, Json) {
        let (k, v) = &records[i];
        let parse = |b: &Option<Vec<u8>>| -> Json {
            serde_json::from_slice::<Json>(b.as_deref().expect("record")).expect("JSON")["schema"]
                .clone()
        };
        (parse(k), parse(v))
    };
    let debezium_insert = want.iter().position(|e| e.2 == "dbz-41").expect("dbz-41");
    let kconnect_insert = got.iter().position(|e| e.2 == "kc-121").expect("kc-121");
    assert_eq!(
        schema(kconnect_insert),
        schema(debezium_insert),
        "the key and value schemas of kconnect's insert and Debezium's"
    );
    eprintln!(
        "kconnect resumed from Debezium's offsets; {} events after {:?}",
        want.len(),
        started.elapsed()
    );

    // 3. More changes while nothing runs, then Debezium resumes from the
    // offsets kconnect committed.
    want.extend(rt.block_on(insert(&pg, 161, 201, "gap2")));
    let mut java = start_java(
        &state.join("java-2"),
        &group,
        &plugin_path,
        &connector,
        None,
    );
    want.extend(rt.block_on(insert(&pg, 201, 241, "dbz2")));
    want.extend(rt.block_on(delete(&pg, 16..21, "snap")));
    wait_for_records(&topic, want.len() as i64, "Debezium after kconnect", || {
        java.assert_running();
        java.log_tail()
    });
    // A moment for anything repeated to show up behind the last event.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        differences(&events(&topic), &want),
        None,
        "after Debezium resumed from kconnect's offsets"
    );
    let errors: Vec<String> = java
        .log()
        .lines()
        .filter(|l| l.contains("] ERROR "))
        // Plugin discovery logs Debezium's CloudEventsConverter, whose
        // optional dependencies the plugin folder does not carry.
        .filter(|l| !l.contains("Failed to discover Converter"))
        .map(str::to_owned)
        .collect();
    assert!(
        errors.is_empty(),
        "Java Connect logged ERROR reading what kconnect wrote:\n{}",
        errors.join("\n")
    );
    java.stop();
    drop(pg);
    rt.block_on(drop_database(&db, &[&slot]));
    eprintln!(
        "{} events across Debezium → kconnect → Debezium in {:?}",
        want.len(),
        started.elapsed()
    );
}
