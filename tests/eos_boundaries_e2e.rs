//! Exactly-once transaction boundaries (KIP-618) end to end, on the real
//! broker through `kconnect standalone`: `transaction.boundary=poll` ends a
//! transaction after every batch, `interval` after
//! `transaction.boundary.interval.ms`, `connector` where the task asks
//! (datagen's `transaction.records`), each seen in the task's
//! `transaction-size-*` metrics; every record is read exactly once by a
//! `read_committed` consumer; the offsets went to the offset topic in
//! Java's key format and in the partition Java's producer would choose.
//! Validation refuses `transaction.boundary=connector` for a connector
//! that cannot draw boundaries, as Java does.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde_json::{json, Value as Json};
use support::rest::Api;
use support::*;

const RECORDS: usize = 1_000;

/// A record as read: partition, key, value.
type Read = (i32, Option<Vec<u8>>, Option<Vec<u8>>);

/// A connector of the test: name, topic, its own settings.
type Case = (String, String, Vec<(&'static str, &'static str)>);

/// Every record of `topic` (all partitions) a consumer with
/// `isolation.level` reads within `settle` after the `expected`-th, as
/// `(partition, key, value)`.
fn read_all(topic: &str, isolation: &str, expected: usize, settle: Duration) -> Vec<Read> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka_bootstrap())
        .set("group.id", unique("eos-reader"))
        .set("enable.auto.commit", "false")
        .set("isolation.level", isolation)
        .create()
        .expect("creating a reader");
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("topic metadata");
    let mut tpl = TopicPartitionList::new();
    for p in metadata.topics()[0].partitions() {
        tpl.add_partition_offset(topic, p.id(), Offset::Beginning)
            .expect("partition");
    }
    consumer.assign(&tpl).expect("assigning");
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut enough_at: Option<Instant> = None;
    loop {
        if out.len() >= expected {
            let at = *enough_at.get_or_insert_with(Instant::now);
            if at.elapsed() >= settle {
                return out;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{topic}: read {} of {expected} records ({isolation})",
            out.len()
        );
        if let Some(m) = consumer.poll(Duration::from_millis(100)) {
            let m = m.expect("reading");
            out.push((
                m.partition(),
                m.key().map(<[u8]>::to_vec),
                m.payload().map(<[u8]>::to_vec),
            ));
        }
    }
}

/// The value of metric `name` for task 0 of `connector`.
fn metric(body: &str, name: &str, connector: &str) -> Option<f64> {
    let label = format!("connector=\"{connector}\"");
    body.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && l.contains(&label))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
}

#[test]
fn transactions_end_at_poll_interval_and_connector_boundaries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let offsets_topic = unique("eos-bounds-offsets");
    let worker = dir.path().join("worker.properties");
    write_props(
        &worker,
        &[
            ("bootstrap.servers", kafka_bootstrap()),
            ("exactly.once.source.support", "enabled".into()),
            ("offset.storage.topic", offsets_topic.clone()),
            ("offset.storage.partitions", "7".into()),
            ("offset.storage.replication.factor", "1".into()),
            ("listeners", format!("http://127.0.0.1:{port}")),
            (
                "key.converter",
                "org.apache.kafka.connect.json.JsonConverter".into(),
            ),
            (
                "value.converter",
                "org.apache.kafka.connect.json.JsonConverter".into(),
            ),
            ("value.converter.schemas.enable", "false".into()),
            ("key.converter.schemas.enable", "false".into()),
        ],
    );
    // name → (topic, extra config)
    let connectors: Vec<Case> = vec![
        (
            unique("poll"),
            unique("eos-poll"),
            vec![("batch.size", "250"), ("rate", "0")],
        ),
        (
            unique("interval"),
            unique("eos-interval"),
            vec![
                ("transaction.boundary", "interval"),
                ("transaction.boundary.interval.ms", "1000"),
                ("batch.size", "10"),
                ("rate", "400"),
            ],
        ),
        (
            unique("connector"),
            unique("eos-connector"),
            vec![
                ("transaction.boundary", "connector"),
                ("transaction.records", "100"),
                ("batch.size", "300"),
                ("rate", "0"),
                ("exactly.once.support", "required"),
            ],
        ),
        // Offsets in a topic of its own (KIP-618's offsets.storage.topic).
        (
            unique("own"),
            unique("eos-own"),
            vec![("batch.size", "500"), ("rate", "0")],
        ),
    ];
    let own_offsets = unique("eos-own-offsets");
    let mut files = Vec::new();
    for (name, topic, extra) in &connectors {
        create_topic(topic, 3);
        let path = dir.path().join(format!("{name}.properties"));
        let mut props = vec![
            ("name", name.clone()),
            ("connector.class", "datagen".to_owned()),
            ("tasks.max", "1".to_owned()),
            ("topic", topic.clone()),
            ("count", RECORDS.to_string()),
        ];
        props.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        if name.starts_with("own-") {
            props.push(("offsets.storage.topic", own_offsets.clone()));
        }
        write_props(&path, &props);
        files.push(path);
    }
    let args: Vec<&std::path::Path> = std::iter::once(worker.as_path())
        .chain(files.iter().map(|p| p.as_path()))
        .collect();
    let mut kc = Process::standalone(dir.path(), &args, "eos-bounds");
    let api = Api::new(port);

    // Everything committed: each task's offset says it generated RECORDS.
    wait_until(
        "every connector committed all its records",
        Duration::from_secs(90),
        || {
            kc.assert_running();
            connectors.iter().all(|(name, _, _)| {
                let reply = api.try_call("GET", &format!("/connectors/{name}/offsets"), None);
                reply.is_ok_and(|r| r.body["offsets"][0]["offset"]["generated"] == json!(RECORDS))
            })
        },
    );
    let metrics = match api.get("/metrics").body {
        Json::String(s) => s,
        other => panic!("metrics: {other}"),
    };
    let size = |stat: &str, name: &str| {
        metric(
            &metrics,
            &format!("kafka_connect_source_task_transaction_size_{stat}"),
            name,
        )
        .unwrap_or_else(|| panic!("no transaction_size_{stat} for {name}:\n{metrics}"))
    };
    let commits = |name: &str| {
        metric(
            &metrics,
            "kafka_connect_source_task_transaction_commit_total",
            name,
        )
        .unwrap_or_else(|| panic!("no transaction_commit_total for {name}"))
    };
    let [(poll, poll_topic, _), (interval, interval_topic, _), (conn, conn_topic, _), (own, own_topic, _)] =
        &connectors[..]
    else {
        unreachable!()
    };
    // poll: one transaction per batch of 250.
    assert_eq!((size("min", poll), size("max", poll)), (250.0, 250.0));
    assert_eq!(commits(poll), 4.0);
    // connector: one per 100 records, though batches hold 300.
    assert_eq!((size("min", conn), size("max", conn)), (100.0, 100.0));
    assert_eq!(commits(conn), 10.0);
    // interval: batches of 10 at 400/s, a transaction a second: far more
    // than a batch each, far fewer transactions than batches.
    let (avg, n) = (size("avg", interval), commits(interval));
    println!("interval boundary: {n} transactions, {avg:.0} records on average");
    assert!(avg >= 100.0, "interval transactions average {avg}");
    assert!(n <= 8.0, "{n} transactions in ~2.5 s");

    // Every record once, read_committed.
    for topic in [poll_topic, interval_topic, conn_topic, own_topic] {
        let records = read_all(topic, "read_committed", RECORDS, Duration::from_secs(2));
        let mut ids: BTreeMap<i64, usize> = BTreeMap::new();
        for (_, key, _) in &records {
            let id: i64 = serde_json::from_slice(key.as_deref().expect("a key")).expect("id");
            *ids.entry(id).or_default() += 1;
        }
        assert_eq!(records.len(), RECORDS, "{topic}: read {}", records.len());
        assert_eq!(ids.len(), RECORDS, "{topic}: distinct ids");
        assert!(ids.values().all(|n| *n == 1), "{topic}: duplicates");
    }

    // The offsets went in the transactions, keyed as Java keys them, in the
    // partition Java's producer picks for the key.
    let offsets = read_all(&offsets_topic, "read_committed", 3, Duration::from_secs(1));
    for (name, _, _) in &connectors[..3] {
        let mine: Vec<_> = offsets
            .iter()
            .filter(|(_, k, _)| {
                k.as_deref()
                    .is_some_and(|k| k.starts_with(format!("[\"{name}\"").as_bytes()))
            })
            .collect();
        let (partition, key, value) = mine
            .last()
            .unwrap_or_else(|| panic!("no offsets of {name}"));
        let key = key.as_deref().expect("key");
        assert_eq!(
            String::from_utf8_lossy(key),
            format!("[\"{name}\",{{\"datagen.task\":0}}]")
        );
        assert_eq!(
            *partition,
            kconnect::engine::transactions::java_partition(key, 7),
            "{name}: offset record partition"
        );
        let value: Json = serde_json::from_slice(value.as_deref().expect("value")).expect("json");
        assert_eq!(value, json!({"generated": RECORDS}));
    }

    // The connector with a topic of its own: its transactions wrote its
    // offsets there (created with the worker's offset.storage.partitions);
    // they were copied to the worker's topic afterwards.
    let mine = read_all(&own_offsets, "read_committed", 2, Duration::from_secs(1));
    let key = format!("[\"{own}\",{{\"datagen.task\":0}}]");
    let (partition, _, value) = mine
        .iter()
        .rfind(|(_, k, _)| k.as_deref() == Some(key.as_bytes()))
        .unwrap_or_else(|| panic!("no offsets of {own} in {own_offsets}"));
    assert_eq!(
        *partition,
        kconnect::engine::transactions::java_partition(key.as_bytes(), 7)
    );
    let value: Json = serde_json::from_slice(value.as_deref().expect("value")).expect("json");
    assert_eq!(value, json!({"generated": RECORDS}));
    assert!(
        offsets
            .iter()
            .any(|(_, k, _)| k.as_deref() == Some(key.as_bytes())),
        "{own}'s offsets copied to the worker's offset topic"
    );
    assert_eq!(commits(own), 2.0);

    // The status says so (kconnect's addition to Java's shape).
    let status = api.get(&format!("/connectors/{poll}/status")).body;
    assert_eq!(status["exactly_once"], json!(true), "{status}");
    assert_eq!(status["type"], json!("source"));

    // Validation as Java's: the file source draws no boundaries of its own.
    let reply = api.call(
        "PUT",
        "/connector-plugins/FileStreamSource/config/validate",
        Some(
            json!({"connector.class": "FileStreamSource", "name": "f", "topic": "t",
                    "file": "/dev/null", "transaction.boundary": "connector"}),
        ),
    );
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["error_count"], json!(1), "{}", reply.body);
    let errors: Vec<String> = reply.body["configs"]
        .as_array()
        .expect("configs")
        .iter()
        .filter(|c| c["value"]["name"] == json!("transaction.boundary"))
        .flat_map(|c| c["value"]["errors"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e.as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        errors,
        ["The connector does not support connector-defined transaction boundaries with the given configuration. Please reconfigure it to use a different transaction boundary definition."]
    );
    assert!(kc.terminate().success());
}

/// A transaction that outlives the producer's `transaction.timeout.ms` is
/// aborted by the broker (which fences the producer's epoch): the task says
/// why, starts again from the last committed offsets, and nothing of the
/// aborted transactions is ever visible; once its transactions fit the
/// timeout, every record arrives exactly once.
#[test]
fn a_transaction_the_broker_expires_is_aborted_and_the_task_starts_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let worker = dir.path().join("worker.properties");
    write_props(
        &worker,
        &[
            ("bootstrap.servers", kafka_bootstrap()),
            ("exactly.once.source.support", "enabled".into()),
            ("offset.storage.topic", unique("eos-expire-offsets")),
            ("offset.storage.partitions", "3".into()),
            ("offset.storage.replication.factor", "1".into()),
            ("listeners", format!("http://127.0.0.1:{port}")),
            (
                "key.converter",
                "org.apache.kafka.connect.json.JsonConverter".into(),
            ),
            ("key.converter.schemas.enable", "false".into()),
        ],
    );
    let name = unique("expire");
    let topic = unique("eos-expire");
    create_topic(&topic, 1);
    let config = |interval: &str| {
        json!({"connector.class": "datagen", "tasks.max": "1", "topic": topic,
               "count": RECORDS.to_string(), "rate": "100", "batch.size": "10",
               "transaction.boundary": "interval",
               "transaction.boundary.interval.ms": interval,
               "producer.override.transaction.timeout.ms": "2000"})
    };
    let connector = dir.path().join("connector.json");
    let mut first = config("30000");
    first["name"] = json!(name);
    std::fs::write(&connector, first.to_string()).expect("connector file");
    let mut kc = Process::standalone(dir.path(), &[&worker, &connector], "eos-expire");
    let api = Api::new(port);
    // Transactions of 30 s against a 2 s timeout: the broker aborts each
    // (its expiry check runs every few seconds) and the task restarts.
    wait_until(
        "an expired transaction to restart the task",
        Duration::from_secs(60),
        || {
            kc.assert_running();
            std::fs::read_to_string(&kc.log)
            .unwrap_or_default()
            .contains("was unable to finish writing records to Kafka before its producer transaction expired")
        },
    );
    assert_eq!(
        read_all(&topic, "read_committed", 0, Duration::from_secs(2)).len(),
        0,
        "nothing of an aborted transaction is visible"
    );
    assert!(
        !read_all(&topic, "read_uncommitted", 1, Duration::from_secs(1)).is_empty(),
        "the aborted records were written"
    );
    // Transactions that fit the timeout: everything arrives, once.
    let reply = api.call(
        "PUT",
        &format!("/connectors/{name}/config"),
        Some(config("500")),
    );
    assert!(reply.status < 300, "{reply:?}");
    let records = read_all(&topic, "read_committed", RECORDS, Duration::from_secs(2));
    let mut ids: Vec<i64> = records
        .iter()
        .map(|(_, k, _)| serde_json::from_slice(k.as_deref().expect("key")).expect("id"))
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..RECORDS as i64).collect::<Vec<_>>());
    assert!(kc.terminate().success());
}
