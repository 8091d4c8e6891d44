//! Shared helpers for end-to-end tests: the real Kafka broker from
//! `tests/env/kafka.sh`, the `kconnect` binary, and small waiting loops.
#![allow(dead_code)]

pub mod eos;
pub mod herder;
pub mod java_connect;
pub mod k8s;
pub mod kubelet;
pub mod operator;
pub mod postgres;
pub mod rest;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Bootstrap servers of the test broker: `KAFKA_BOOTSTRAP` when the test
/// command started one, else `tests/env/kafka.sh start` (idempotent) is run.
/// A broker that cannot be started fails the test; it is never skipped.
pub fn kafka_bootstrap() -> String {
    static BOOTSTRAP: OnceLock<String> = OnceLock::new();
    BOOTSTRAP
        .get_or_init(|| service("KAFKA_BOOTSTRAP", "kafka.sh"))
        .clone()
}

/// Base URL of the test Schema Registry's Confluent API:
/// `SCHEMA_REGISTRY_URL` when the test command started one, else
/// `tests/env/registry.sh start` (idempotent).
pub fn schema_registry_url() -> String {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| service("SCHEMA_REGISTRY_URL", "registry.sh"))
        .clone()
}

/// The test Schema Registry's HTTPS listener (client certificates
/// required): `SCHEMA_REGISTRY_HTTPS_URL` and `SCHEMA_REGISTRY_TLS_DIR`
/// from `tests/env/registry.sh tls`.
pub fn schema_registry_tls() -> std::collections::BTreeMap<String, String> {
    schema_registry_url();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/env/registry.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg("tls")
        .stderr(Stdio::inherit())
        .output()
        .expect("running registry.sh tls");
    assert!(out.status.success(), "tests/env/registry.sh tls failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// `$var` when the test command set it, else what `tests/env/<script>
/// start` prints as `<var>=…` (the scripts are idempotent). A service that
/// cannot be started fails the test; it is never skipped.
fn service(var: &str, script: &str) -> String {
    if let Ok(v) = std::env::var(var) {
        if !v.is_empty() {
            return v;
        }
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/env")
        .join(script);
    let out = Command::new("bash")
        .arg(&path)
        .arg("start")
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("running tests/env/{script} start: {e}"));
    assert!(out.status.success(), "tests/env/{script} start failed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let prefix = format!("{var}=");
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("{script} printed no {var}: {stdout}"))
}

pub fn kconnect_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kconnect"))
}

/// A unique name for topics and connectors of one test run.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{}", std::process::id(), nanos % 1_000_000_000)
}

/// Creates a topic through the broker's own CLI.
pub fn create_topic(topic: &str, partitions: u32) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/env/kafka.sh");
    let status = Command::new("bash")
        .arg(&script)
        .args([
            "topics",
            "--bootstrap-server",
            &kafka_bootstrap(),
            "--create",
            "--topic",
            topic,
        ])
        .args([
            "--partitions",
            &partitions.to_string(),
            "--replication-factor",
            "1",
        ])
        .stdout(Stdio::null())
        .status()
        .expect("running kafka.sh topics");
    assert!(status.success(), "creating topic {topic} failed");
}

/// Writes `key=value` lines to a properties file.
pub fn write_props(path: &Path, pairs: &[(&str, String)]) {
    let text: String = pairs.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    std::fs::write(path, text).expect("writing properties file");
}

/// A running `kconnect` process, killed (SIGKILL) if dropped still running.
pub struct Process {
    pub child: Child,
    pub log: PathBuf,
}

impl Process {
    pub fn standalone(dir: &Path, args: &[&Path], tag: &str) -> Process {
        let mut argv = vec!["standalone".to_owned()];
        argv.extend(args.iter().map(|p| p.to_string_lossy().into_owned()));
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        Process::spawn(dir, &argv, &[], tag)
    }

    /// Runs `kconnect <args>` with extra environment, logging to
    /// `<dir>/kconnect-<tag>.log`.
    pub fn spawn(dir: &Path, args: &[&str], env: &[(&str, String)], tag: &str) -> Process {
        let log = dir.join(format!("kconnect-{tag}.log"));
        let log_file = std::fs::File::create(&log).expect("creating log file");
        let child = Command::new(kconnect_bin())
            .args(args)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("RUST_LOG", "info,kconnect=debug")
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("starting kconnect");
        Process { child, log }
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for a clean exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting for kconnect") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "kconnect did not stop after SIGTERM; log: {}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(80)..].join("\n")
    }

    pub fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().expect("polling kconnect") {
            panic!(
                "kconnect exited early with {status}; log:\n{}",
                self.log_tail()
            );
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.kill9();
        }
    }
}

/// Number of complete lines in a file (0 if absent).
pub fn count_lines(path: &Path) -> usize {
    std::fs::read(path)
        .map(|b| b.iter().filter(|c| **c == b'\n').count())
        .unwrap_or(0)
}

/// Polls `check` until it returns true; false if the timeout passes first.
pub fn wait_for(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while !check() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// Polls `check` until it returns true or the timeout passes.
pub fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every record value in partition 0 of `topic`, from the beginning.
pub fn read_topic(topic: &str) -> Vec<Vec<u8>> {
    read_topic_records(topic)
        .into_iter()
        .map(|(_, v)| v.unwrap_or_default())
        .collect()
}

/// A record's key and value as read (`None` for null).
pub type RawRecord = (Option<Vec<u8>>, Option<Vec<u8>>);

/// Every record in partition 0 of `topic`, from the beginning.
pub fn read_topic_records(topic: &str) -> Vec<RawRecord> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka_bootstrap())
        .set("group.id", unique("test-reader"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("creating test consumer");
    let (_, high) = consumer
        .fetch_watermarks(topic, 0, Duration::from_secs(10))
        .expect("fetching watermarks");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .expect("tpl");
    consumer.assign(&tpl).expect("assigning");
    let mut out = Vec::with_capacity(high as usize);
    let deadline = Instant::now() + Duration::from_secs(60);
    while (out.len() as i64) < high {
        assert!(
            Instant::now() < deadline,
            "reading {topic}: got {} of {high}",
            out.len()
        );
        if let Some(m) = consumer.poll(Duration::from_millis(200)) {
            let m = m.expect("consuming test topic");
            out.push((m.key().map(<[u8]>::to_vec), m.payload().map(<[u8]>::to_vec)));
        }
    }
    out
}

/// One record as read back with its headers (as text).
#[derive(Debug)]
pub struct Read {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: std::collections::BTreeMap<String, String>,
}

/// The first `expected` records of partition 0 of `topic`, with headers;
/// fails after a minute without them.
pub fn read_with_headers(topic: &str, expected: usize) -> Vec<Read> {
    use rdkafka::message::Headers;
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka_bootstrap())
        .set("group.id", unique("header-reader"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("test consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .expect("tpl");
    consumer.assign(&tpl).expect("assign");
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while out.len() < expected {
        assert!(
            Instant::now() < deadline,
            "reading {topic}: got {} of {expected}",
            out.len()
        );
        if let Some(m) = consumer.poll(Duration::from_millis(200)) {
            let m = m.expect("consuming");
            let headers = m
                .headers()
                .map(|hs| {
                    hs.iter()
                        .map(|h| {
                            (
                                h.key.to_owned(),
                                String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            out.push(Read {
                key: m.key().map(<[u8]>::to_vec),
                value: m.payload().map(<[u8]>::to_vec),
                headers,
            });
        }
    }
    out
}

/// Produces (key, value) pairs, `None` for null, in order to partition 0.
pub fn produce_keyed(topic: &str, records: &[(Option<String>, Option<String>)]) {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", kafka_bootstrap())
        .set("linger.ms", "0")
        .create()
        .expect("test producer");
    for (key, value) in records {
        let mut r = BaseRecord::<str, str>::to(topic).partition(0);
        if let Some(k) = key {
            r = r.key(k.as_str());
        }
        if let Some(v) = value {
            r = r.payload(v.as_str());
        }
        producer.send(r).expect("queueing a test record");
    }
    producer
        .flush(Duration::from_secs(10))
        .expect("flushing the test records");
}

/// The committed offset of `group` on partition 0 of `topic` (-1 if none).
pub fn committed_offset(group: &str, topic: &str) -> i64 {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka_bootstrap())
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("creating offset reader");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, 0);
    let committed = consumer
        .committed_offsets(tpl, Duration::from_secs(10))
        .expect("fetching committed offsets");
    match committed.elements()[0].offset() {
        Offset::Offset(o) => o,
        _ => -1,
    }
}

/// The test PostgreSQL server (`tests/env/postgres.sh start`, idempotent):
/// `POSTGRES_HOST`, `POSTGRES_PORT`, `POSTGRES_USER`, `POSTGRES_PASSWORD`,
/// and the TLS roles and files (`POSTGRES_TLS_*`, `POSTGRES_CERT_*`), taken
/// from the environment when the test command set them.
pub fn postgres() -> std::collections::BTreeMap<String, String> {
    static PG: OnceLock<std::collections::BTreeMap<String, String>> = OnceLock::new();
    PG.get_or_init(|| {
        let keys = [
            "POSTGRES_HOST",
            "POSTGRES_PORT",
            "POSTGRES_USER",
            "POSTGRES_PASSWORD",
        ];
        if keys
            .iter()
            .all(|k| std::env::var(k).is_ok_and(|v| !v.is_empty()))
        {
            // The four, and the TLS roles and files the script prints too.
            return std::env::vars()
                .filter(|(k, _)| k.starts_with("POSTGRES_"))
                .collect();
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/env/postgres.sh");
        let out = Command::new("bash")
            .arg(&script)
            .arg("start")
            .stderr(Stdio::inherit())
            .output()
            .expect("running tests/env/postgres.sh start");
        assert!(out.status.success(), "tests/env/postgres.sh start failed");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    })
    .clone()
}

/// The test broker's secure listeners and TLS files (`tests/env/kafka.sh
/// security`): `KAFKA_SSL_BOOTSTRAP`, `KAFKA_SASL_SSL_BOOTSTRAP`,
/// `KAFKA_SASL_PLAINTEXT_BOOTSTRAP`, `KAFKA_TLS_DIR`.
pub fn kafka_security() -> std::collections::BTreeMap<String, String> {
    kafka_bootstrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/env/kafka.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg("security")
        .stderr(Stdio::inherit())
        .output()
        .expect("running kafka.sh security");
    assert!(out.status.success(), "tests/env/kafka.sh security failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}
