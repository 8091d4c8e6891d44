//! End to end with Avro: datagen → AvroConverter → Kafka → AvroConverter →
//! FileStreamSink through the `kconnect standalone` binary, a real Kafka
//! broker and a real Confluent-API Schema Registry (Apicurio, from
//! `tests/env/registry.sh`), plus a registry that is down.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use std::time::Duration;

use kconnect::connect::Value;
use kconnect::connectors::datagen;
use support::*;

fn registry_url() -> String {
    schema_registry_url()
}

/// GET on the registry's own REST API, as JSON.
fn registry_get(path: &str) -> serde_json::Value {
    let url = format!("{}{path}", registry_url());
    let mut response = ureq::get(&url)
        .header("Accept", "application/vnd.schemaregistry.v1+json")
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let text = response
        .body_mut()
        .read_to_string()
        .unwrap_or_else(|e| panic!("reading GET {url}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {url} is not JSON ({e}): {text}"))
}

/// Every record key in partition 0 of `topic`, from the beginning.
fn read_keys(topic: &str) -> Vec<Vec<u8>> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Message;
    use rdkafka::{ClientConfig, Offset, TopicPartitionList};
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka_bootstrap())
        .set("group.id", unique("avro-key-reader"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("creating key reader");
    let (_, high) = consumer
        .fetch_watermarks(topic, 0, Duration::from_secs(10))
        .expect("fetching watermarks");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .expect("tpl");
    consumer.assign(&tpl).expect("assigning");
    let mut out = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while (out.len() as i64) < high {
        assert!(
            std::time::Instant::now() < deadline,
            "reading keys of {topic}"
        );
        if let Some(m) = consumer.poll(Duration::from_millis(200)) {
            out.push(m.expect("consuming").key().unwrap_or_default().to_vec());
        }
    }
    out
}

/// The schema id of a Confluent-framed record (magic byte 0 checked).
fn framed_id(bytes: &[u8]) -> i32 {
    assert!(
        bytes.len() >= 5,
        "record too short for Confluent framing: {bytes:?}"
    );
    assert_eq!(bytes[0], 0, "magic byte");
    i32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]])
}

struct Files {
    worker: PathBuf,
    source: PathBuf,
    sink: PathBuf,
    output: PathBuf,
}

fn write_pipeline(
    dir: &Path,
    topic: &str,
    registry: &str,
    count: usize,
    extra: &[(&str, String)],
) -> Files {
    let files = Files {
        worker: dir.join("worker.properties"),
        source: dir.join("datagen.properties"),
        sink: dir.join("sink.properties"),
        output: dir.join("orders.txt"),
    };
    let mut worker = vec![
        ("bootstrap.servers", kafka_bootstrap()),
        (
            "key.converter",
            "io.confluent.connect.avro.AvroConverter".to_string(),
        ),
        ("key.converter.schema.registry.url", registry.to_string()),
        (
            "value.converter",
            "io.confluent.connect.avro.AvroConverter".to_string(),
        ),
        ("value.converter.schema.registry.url", registry.to_string()),
        (
            "offset.storage.file.filename",
            dir.join("offsets").display().to_string(),
        ),
        ("offset.flush.interval.ms", "500".into()),
    ];
    worker.extend(extra.iter().cloned());
    write_props(&files.worker, &worker);
    write_props(
        &files.source,
        &[
            ("name", format!("{topic}-gen")),
            ("connector.class", "datagen".into()),
            ("tasks.max", "1".into()),
            ("topic", topic.to_string()),
            ("count", count.to_string()),
            ("rate", "0".into()),
        ],
    );
    write_props(
        &files.sink,
        &[
            ("name", format!("{topic}-sink")),
            ("connector.class", "FileStreamSink".into()),
            ("tasks.max", "1".into()),
            ("topics", topic.to_string()),
            ("file", files.output.display().to_string()),
        ],
    );
    files
}

#[test]
fn datagen_through_avro_and_the_registry_to_a_file() {
    const COUNT: usize = 2_000;
    let registry = registry_url();
    let dir = tempfile::tempdir().expect("tempdir");
    let topic = unique("e2e-avro");
    create_topic(&topic, 1);
    let files = write_pipeline(dir.path(), &topic, &registry, COUNT, &[]);
    let mut proc = Process::standalone(
        dir.path(),
        &[&files.worker, &files.source, &files.sink],
        "avro",
    );
    wait_until(
        "every generated order in the sink file",
        Duration::from_secs(120),
        || {
            proc.assert_running();
            count_lines(&files.output) >= COUNT
        },
    );
    let status = proc.terminate();
    assert!(status.success(), "log:\n{}", proc.log_tail());

    // The topic holds Confluent-framed Avro: magic byte 0, then one schema
    // id for all values and one for all keys.
    let values = read_topic(&topic);
    assert_eq!(values.len(), COUNT);
    let value_ids: BTreeSet<i32> = values.iter().map(|v| framed_id(v)).collect();
    assert_eq!(value_ids.len(), 1, "one value schema: {value_ids:?}");
    let value_id = *value_ids.iter().next().unwrap();
    let keys = read_keys(&topic);
    let key_ids: BTreeSet<i32> = keys.iter().map(|k| framed_id(k)).collect();
    assert_eq!(key_ids.len(), 1, "one key schema: {key_ids:?}");
    // The key is an INT64 id: zig-zag varint after the 5-byte header.
    assert_eq!(&keys[0][5..], &[0u8][..], "first key is id 0");

    // The registry's own API shows both subjects and the Confluent-shaped schema.
    let subjects = registry_get("/subjects");
    let subjects: Vec<&str> = subjects
        .as_array()
        .expect("subjects list")
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    assert!(
        subjects.contains(&format!("{topic}-value").as_str())
            && subjects.contains(&format!("{topic}-key").as_str()),
        "subjects {subjects:?}"
    );
    let latest = registry_get(&format!("/subjects/{topic}-value/versions/latest"));
    assert_eq!(latest["id"].as_i64(), Some(i64::from(value_id)));
    let schema: serde_json::Value =
        serde_json::from_str(latest["schema"].as_str().expect("schema text")).expect("schema JSON");
    assert_eq!(schema["type"], "record");
    assert_eq!(schema["name"], "Order");
    assert_eq!(schema["namespace"], "dev.kconnect.datagen");
    assert_eq!(schema["connect.name"], "dev.kconnect.datagen.Order");
    let fields: Vec<&str> = schema["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert_eq!(
        fields,
        [
            "id",
            "customer",
            "product",
            "quantity",
            "amount",
            "created_at"
        ]
    );
    assert_eq!(
        schema["fields"][5]["type"]["logicalType"],
        "timestamp-millis"
    );
    let key_latest = registry_get(&format!("/subjects/{topic}-key/versions/latest"));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(key_latest["schema"].as_str().unwrap()).unwrap(),
        serde_json::json!("long")
    );
    // A reader of its own decodes the topic's first record through the
    // registry and reports the subject's version as the schema version.
    let reader = kconnect::converters::avro::AvroConverter::configure(
        &[("schema.registry.url".to_string(), registry.clone())]
            .into_iter()
            .collect(),
        false,
    )
    .expect("configuring a reader");
    let first = kconnect::connect::Converter::to_connect(&reader, &topic, Some(&values[0]))
        .expect("decoding the first record");
    let first_schema = first.schema.expect("a schema");
    assert_eq!(
        first_schema.name.as_deref(),
        Some("dev.kconnect.datagen.Order")
    );
    assert_eq!(
        first_schema.version.map(i64::from),
        latest["version"].as_i64(),
        "the subject's version"
    );
    let by_id = registry_get(&format!("/schemas/ids/{value_id}"));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(by_id["schema"].as_str().unwrap()).unwrap(),
        schema
    );

    // Every order arrived, every field intact: rebuild each line from its
    // id and timestamp with the generator itself.
    let text = std::fs::read_to_string(&files.output).expect("reading output");
    let order_schema = datagen::order_schema();
    let mut ids = BTreeSet::new();
    for line in text.lines() {
        let id: i64 = line
            .strip_prefix("Struct{id=")
            .and_then(|r| r.split(',').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("unexpected sink line {line:?}"));
        let created_at: i64 = line
            .rsplit("created_at=")
            .next()
            .and_then(|r| r.strip_suffix('}'))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no created_at in {line:?}"));
        let expected = Value::from(datagen::order(&order_schema, id, created_at).unwrap());
        assert_eq!(line, expected.to_java_string());
        ids.insert(id);
    }
    assert_eq!(
        ids,
        (0..COUNT as i64).collect::<BTreeSet<_>>(),
        "every order id exactly covered"
    );
}

#[test]
fn the_registry_over_https_with_a_client_certificate() {
    const COUNT: usize = 100;
    let tls = schema_registry_tls();
    let https = tls["SCHEMA_REGISTRY_HTTPS_URL"].clone();
    let file = |f: &str| format!("{}/{f}", tls["SCHEMA_REGISTRY_TLS_DIR"]);
    // As Confluent's client takes them: a JKS truststore with the
    // registry's CA and a PKCS12 keystore with the client certificate.
    let mut keys = Vec::new();
    for side in ["key", "value"] {
        for (k, v) in [
            ("schema.registry.ssl.truststore.location", file("trust.jks")),
            ("schema.registry.ssl.truststore.password", "changeit".into()),
            ("schema.registry.ssl.keystore.type", "PKCS12".into()),
            ("schema.registry.ssl.keystore.location", file("client.p12")),
            ("schema.registry.ssl.keystore.password", "changeit".into()),
        ] {
            keys.push((format!("{side}.converter.{k}"), v));
        }
    }
    let extra: Vec<(&str, String)> = keys.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let topic = unique("e2e-avro-https");
    create_topic(&topic, 1);
    let files = write_pipeline(dir.path(), &topic, &https, COUNT, &extra);
    let mut proc = Process::standalone(
        dir.path(),
        &[&files.worker, &files.source, &files.sink],
        "avro-https",
    );
    wait_until(
        "every order in the sink file",
        Duration::from_secs(120),
        || {
            proc.assert_running();
            count_lines(&files.output) >= COUNT
        },
    );
    proc.terminate();
    let subjects = registry_get("/subjects").to_string();
    assert!(subjects.contains(&format!("{topic}-value")), "{subjects}");

    // Without the client certificate the registry refuses the handshake:
    // the task fails naming the registry.
    let extra: Vec<(&str, String)> = extra
        .into_iter()
        .filter(|(k, _)| k.contains("truststore"))
        .chain([
            ("key.converter.max.retries", "0".to_owned()),
            ("value.converter.max.retries", "0".to_owned()),
        ])
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let topic = unique("e2e-avro-no-cert");
    create_topic(&topic, 1);
    let files = write_pipeline(dir.path(), &topic, &https, 10, &extra);
    let mut proc = Process::standalone(dir.path(), &[&files.worker, &files.source], "avro-no-cert");
    wait_until("the source task to fail", Duration::from_secs(60), || {
        proc.assert_running();
        std::fs::read_to_string(&proc.log)
            .unwrap_or_default()
            .contains("task FAILED")
    });
    proc.terminate();
    let log = std::fs::read_to_string(&proc.log).unwrap_or_default();
    let failed = log
        .lines()
        .find(|l| l.contains("task FAILED"))
        .unwrap_or_default();
    assert!(failed.contains(&https), "{failed}");
    assert!(!log.contains("changeit"), "no store password in the log");
}

#[test]
fn registry_down_fails_the_task_with_a_clear_trace() {
    // Bind then drop a listener: nothing listens there any more.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("binding");
        l.local_addr().expect("local addr").port()
    };
    let dead = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().expect("tempdir");
    let topic = unique("e2e-avro-down");
    create_topic(&topic, 1);
    let files = write_pipeline(
        dir.path(),
        &topic,
        &dead,
        10,
        &[
            ("key.converter.max.retries", "2".into()),
            ("key.converter.retries.wait.ms", "50".into()),
            ("value.converter.max.retries", "2".into()),
            ("value.converter.retries.wait.ms", "50".into()),
        ],
    );
    let mut proc = Process::standalone(dir.path(), &[&files.worker, &files.source], "avro-down");
    wait_until("the source task to fail", Duration::from_secs(60), || {
        proc.assert_running();
        std::fs::read_to_string(&proc.log)
            .unwrap_or_default()
            .contains("task FAILED")
    });
    // The worker itself keeps running and stops cleanly.
    proc.assert_running();
    let status = proc.terminate();
    assert!(status.success(), "log:\n{}", proc.log_tail());
    let log = std::fs::read_to_string(&proc.log).unwrap_or_default();
    assert!(!log.contains("panicked"), "no panic:\n{log}");
    let failed = log
        .lines()
        .find(|l| l.contains("task FAILED"))
        .unwrap_or_default();
    eprintln!("FAILED trace: {failed}");
    assert!(
        failed.contains("Schema Registry unreachable")
            && failed.contains(&dead)
            && failed.contains("after 3 attempts")
            && failed.contains(&format!("subject {topic}-key")),
        "the trace names the registry, the retries and the subject: {failed}"
    );
    assert_eq!(
        read_topic(&topic).len(),
        0,
        "nothing was written to the topic"
    );
}
