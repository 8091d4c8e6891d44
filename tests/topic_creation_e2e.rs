//! End to end against the real Kafka broker: topic creation for source
//! connectors (KIP-158) through the `kconnect standalone` binary, with a
//! source transform chain in front of it.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::ClientConfig;

use support::*;

/// What `kafka-topics --describe` says of a topic: partition count,
/// replication factor and the configs set on it (None if it does not exist).
#[derive(Debug, PartialEq)]
struct Described {
    partitions: u32,
    replication_factor: u32,
    configs: BTreeMap<String, String>,
}

fn describe(topic: &str) -> Option<Described> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/env/kafka.sh");
    let out = Command::new("bash")
        .arg(&script)
        .args([
            "topics",
            "--bootstrap-server",
            &kafka_bootstrap(),
            "--describe",
            "--topic",
            topic,
        ])
        .stderr(Stdio::null())
        .output()
        .expect("running kafka.sh topics --describe");
    let text = String::from_utf8_lossy(&out.stdout);
    // Topic: t	TopicId: …	PartitionCount: 2	ReplicationFactor: 1	Configs: cleanup.policy=compact,…
    let summary = text.lines().find(|l| l.contains("PartitionCount:"))?;
    let field = |name: &str| -> Option<String> {
        summary
            .split('\t')
            .map(str::trim)
            .find_map(|f| f.strip_prefix(name).map(|v| v.trim().to_owned()))
    };
    let configs = field("Configs:")
        .unwrap_or_default()
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Some(Described {
        partitions: field("PartitionCount:")?.parse().ok()?,
        replication_factor: field("ReplicationFactor:")?.parse().ok()?,
        configs,
    })
}

/// Records in every partition of a topic (sum of high watermarks).
fn record_count(topic: &str, partitions: u32) -> i64 {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka_bootstrap())
        .create()
        .expect("watermark consumer");
    (0..partitions as i32)
        .map(|p| {
            consumer
                .fetch_watermarks(topic, p, Duration::from_secs(10))
                .map(|(_, high)| high)
                .unwrap_or(0)
        })
        .sum()
}

/// The committed `generated` offset of a datagen connector, from the
/// standalone offsets file.
fn committed_generated(offsets: &Path, connector: &str) -> i64 {
    let text = std::fs::read_to_string(offsets).unwrap_or_default();
    if text.is_empty() {
        return 0;
    }
    let map: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(&text).expect("offsets file is JSON");
    map.iter()
        .filter(|(k, _)| k.contains(&format!("\"{connector}\"")))
        .filter_map(|(_, v)| v["generated"].as_i64())
        .sum()
}

const COUNT: i64 = 300;

fn datagen(path: &Path, name: &str, topic: &str, extra: &[(&str, String)]) {
    let mut props = vec![
        ("name", name.to_owned()),
        ("connector.class", "datagen".to_owned()),
        ("topic", topic.to_owned()),
        ("count", COUNT.to_string()),
        ("rate", "0".to_owned()),
        ("batch.size", "50".to_owned()),
        ("topic.creation.default.partitions", "3".to_owned()),
        ("topic.creation.default.replication.factor", "1".to_owned()),
        ("topic.creation.groups", "compacted".to_owned()),
        (
            "topic.creation.compacted.include",
            format!("{}.*-compacted", prefix(topic)),
        ),
        ("topic.creation.compacted.partitions", "2".to_owned()),
        (
            "topic.creation.compacted.cleanup.policy",
            "compact".to_owned(),
        ),
    ];
    props.extend(extra.iter().map(|(k, v)| (*k, v.clone())));
    write_props(path, &props);
}

/// The unique part shared by the test's topics.
fn prefix(topic: &str) -> &str {
    topic.split("--").next().unwrap_or(topic)
}

#[test]
fn source_topics_are_created_by_the_first_matching_group_before_the_first_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = unique("tc");
    // Routed by RegexRouter from `<base>--raw` to `<base>--orders-compacted`:
    // topic creation applies to the transformed topic, as in Java.
    let raw = format!("{base}--raw");
    let compacted = format!("{base}--orders-compacted");
    let plain = format!("{base}--plain");
    let filtered = format!("{base}--filtered");
    let offsets = dir.path().join("connect.offsets");
    let worker = dir.path().join("worker.properties");
    write_props(
        &worker,
        &[
            ("bootstrap.servers", kafka_bootstrap()),
            (
                "offset.storage.file.filename",
                offsets.display().to_string(),
            ),
            ("offset.flush.interval.ms", "200".into()),
        ],
    );
    let routed = dir.path().join("routed.properties");
    datagen(
        &routed,
        &format!("{base}-routed"),
        &raw,
        &[
            ("transforms", "route".into()),
            (
                "transforms.route.type",
                "org.apache.kafka.connect.transforms.RegexRouter".into(),
            ),
            ("transforms.route.regex", "(.*)--raw".into()),
            (
                "transforms.route.replacement",
                "$1--orders-compacted".into(),
            ),
        ],
    );
    let default = dir.path().join("default.properties");
    datagen(&default, &format!("{base}-default"), &plain, &[]);
    // Every record dropped: no topic is created, yet the source offsets
    // still advance (dropped records count as processed).
    let dropped = dir.path().join("dropped.properties");
    datagen(
        &dropped,
        &format!("{base}-dropped"),
        &filtered,
        &[
            ("transforms", "all".into()),
            ("transforms.all.type", "Filter".into()),
        ],
    );

    let mut proc = Process::standalone(
        dir.path(),
        &[&worker, &routed, &default, &dropped],
        "topic-creation",
    );
    wait_until(
        "every generated record written and committed",
        Duration::from_secs(90),
        || {
            proc.assert_running();
            record_count(&compacted, 2) == COUNT
                && record_count(&plain, 3) == COUNT
                && committed_generated(&offsets, &format!("{base}-dropped")) == COUNT
                && committed_generated(&offsets, &format!("{base}-routed")) == COUNT
        },
    );
    let status = proc.terminate();
    assert!(status.success(), "log:\n{}", proc.log_tail());

    let c = describe(&compacted).expect("the routed topic exists");
    assert_eq!(c.partitions, 2, "{c:?}");
    assert_eq!(c.replication_factor, 1, "{c:?}");
    assert_eq!(
        c.configs.get("cleanup.policy").map(String::as_str),
        Some("compact"),
        "{c:?}"
    );
    let p = describe(&plain).expect("the default-group topic exists");
    assert_eq!(p.partitions, 3, "{p:?}");
    assert_eq!(p.replication_factor, 1, "{p:?}");
    assert!(!p.configs.contains_key("cleanup.policy"), "{p:?}");
    assert_eq!(
        describe(&raw),
        None,
        "the pre-transform topic is never created"
    );
    assert_eq!(describe(&filtered), None, "no record, no topic");
}

#[test]
fn worker_topic_creation_disabled_leaves_topics_to_the_broker() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = unique("tc-off");
    let topic = format!("{base}--orders-compacted");
    let worker = dir.path().join("worker.properties");
    write_props(
        &worker,
        &[
            ("bootstrap.servers", kafka_bootstrap()),
            ("offset.flush.interval.ms", "200".into()),
            ("topic.creation.enable", "false".into()),
        ],
    );
    let source = dir.path().join("source.properties");
    datagen(&source, &format!("{base}-src"), &topic, &[]);
    let mut proc = Process::standalone(dir.path(), &[&worker, &source], "topic-creation-off");
    wait_until(
        "records in the auto-created topic",
        Duration::from_secs(60),
        || {
            proc.assert_running();
            record_count(&topic, 1) == COUNT
        },
    );
    proc.terminate();
    // The broker's auto-creation: num.partitions=1, no cleanup.policy.
    let d = describe(&topic).expect("auto-created");
    assert_eq!(d.partitions, 1, "{d:?}");
    assert!(!d.configs.contains_key("cleanup.policy"), "{d:?}");
}

#[test]
fn invalid_topic_creation_configs_fail_validation_naming_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = dir.path().join("worker.properties");
    write_props(&worker, &[("bootstrap.servers", kafka_bootstrap())]);
    let cases: [(&str, Vec<(&str, &str)>); 3] = [
        (
            "topic.creation.default.replication.factor",
            vec![("topic.creation.default.partitions", "3")],
        ),
        (
            "topic.creation.default.partitions",
            vec![
                ("topic.creation.default.partitions", "0"),
                ("topic.creation.default.replication.factor", "1"),
            ],
        ),
        (
            "topic.creation.g.include",
            vec![
                ("topic.creation.default.partitions", "1"),
                ("topic.creation.default.replication.factor", "1"),
                ("topic.creation.groups", "g"),
                ("topic.creation.g.include", "(unclosed"),
            ],
        ),
    ];
    for (i, (key, extra)) in cases.into_iter().enumerate() {
        let source = dir.path().join(format!("source-{i}.properties"));
        let mut props: Vec<(&str, String)> = vec![
            ("name", format!("tc-invalid-{i}")),
            ("connector.class", "datagen".into()),
            ("topic", "t".into()),
        ];
        props.extend(extra.into_iter().map(|(k, v)| (k, v.to_owned())));
        write_props(&source, &props);
        let out = Command::new(kconnect_bin())
            .arg("standalone")
            .arg(&worker)
            .arg(&source)
            .output()
            .expect("running kconnect");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{key}: {stderr}");
        assert!(
            stderr.contains(&format!("\"{key}\"")),
            "the error names {key}: {stderr}"
        );
    }
}
