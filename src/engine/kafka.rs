//! librdkafka client settings for source producers, sink consumers and
//! admin clients: throughput-minded defaults, then worker
//! `producer.*`/`consumer.*`/`admin.*`, then connector
//! `producer.override.*`/`consumer.override.*`/`admin.override.*`.
//!
//! The worker has its task clients emit librdkafka's statistics every
//! [`STATISTICS_INTERVAL_MS`] ([`with_statistics`]) for the
//! `kafka_producer_*` / `kafka_consumer_*` metrics; `statistics.interval.ms`
//! in `producer.*` / `consumer.*` (0: off) wins.

use std::collections::BTreeSet;
use std::sync::Mutex;

use rdkafka::ClientConfig;

use super::kafka_security::{self, SecurityError};
use crate::connect::config::with_prefix;
use crate::connect::Props;

/// The worker key that says which client settings a connector may
/// override (`producer.override.*`, …): None, Principal or All (Java's
/// default since Kafka 3.0).
pub const OVERRIDE_POLICY: &str = "connector.client.config.override.policy";

/// Keys the Principal policy lets a connector override.
const PRINCIPAL_KEYS: &[&str] = &["sasl.jaas.config", "sasl.mechanism", "security.protocol"];

/// Java client keys librdkafka does not know; dropped with a log line so
/// existing worker configs keep working.
const JAVA_ONLY: &[&str] = &[
    "key.serializer",
    "value.serializer",
    "key.deserializer",
    "value.deserializer",
    "buffer.memory",
    "interceptor.classes",
    "metric.reporters",
    "max.block.ms",
    "delivery.timeout.ms",
    "request.timeout.ms",
    "partitioner.class",
    "exclude.internal.topics",
];

/// How often task clients report statistics for the client metrics.
pub const STATISTICS_INTERVAL_MS: &str = "15000";

/// Turns on librdkafka's statistics unless the configuration set them: only
/// for clients whose context records them (the default context would log
/// them).
pub fn with_statistics(mut cfg: ClientConfig) -> ClientConfig {
    if cfg.get("statistics.interval.ms").is_none() {
        cfg.set("statistics.interval.ms", STATISTICS_INTERVAL_MS);
    }
    cfg
}

/// The security settings among a worker config's bare keys: what the
/// worker's own clients (its internal topics) connect with.
pub fn worker_client_settings(worker: &Props) -> Result<Props, SecurityError> {
    let bare: Props = worker
        .iter()
        .filter(|(k, _)| is_security_key(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    client_settings(&[&bare], "worker")
}

/// Whether a client key is about how the client connects and
/// authenticates (`security.protocol`, `ssl.*`, `sasl.*`).
pub fn is_security_key(key: &str) -> bool {
    key == kafka_security::SECURITY_PROTOCOL || key.starts_with("ssl.") || key.starts_with("sasl.")
}

/// One client's settings from Java-style layers, lowest first: Java-only
/// keys dropped, security settings turned into librdkafka's.
pub fn client_settings(layers: &[&Props], client: &str) -> Result<Props, SecurityError> {
    let mut merged = Props::new();
    for layer in layers {
        for (k, v) in *layer {
            if JAVA_ONLY.contains(&k.as_str()) {
                tracing::debug!(client, key = %k, "ignoring a Java-client-only setting");
                continue;
            }
            merged.insert(k.clone(), v.clone());
        }
    }
    let dropped = kafka_security::to_librdkafka(&mut merged)?;
    warn_once_about(&dropped, client);
    Ok(merged)
}

/// One warning per JVM-only key for the life of the process, not one per
/// client.
fn warn_once_about(dropped: &[String], client: &str) {
    static WARNED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let mut warned = WARNED.lock().unwrap_or_else(|p| p.into_inner());
    let new: Vec<&String> = dropped
        .iter()
        .filter(|k| warned.insert((*k).clone()))
        .collect();
    if !new.is_empty() {
        tracing::warn!(client, keys = ?new, "these settings only mean something to Java's Kafka clients; ignored");
    }
}

/// A connector's `<role>.override.*` settings, as the worker's
/// [`OVERRIDE_POLICY`] allows them.
fn overrides(worker: &Props, connector_props: &Props, role: &str) -> Result<Props, SecurityError> {
    let prefix = format!("{role}.override.");
    let wanted = with_prefix(connector_props, &prefix);
    let policy = worker
        .get(OVERRIDE_POLICY)
        .map(|p| p.trim().to_ascii_lowercase())
        .unwrap_or_else(|| "all".into());
    let allowed = |k: &str| match policy.as_str() {
        "none" => false,
        "principal" => PRINCIPAL_KEYS.contains(&k),
        _ => true,
    };
    if !matches!(policy.as_str(), "none" | "principal" | "all") {
        return Err(SecurityError::Invalid {
            key: OVERRIDE_POLICY.into(),
            message: format!("{policy} is not None, Principal or All"),
        });
    }
    if let Some(k) = wanted.keys().find(|k| !allowed(k)) {
        return Err(SecurityError::Invalid {
            key: format!("{prefix}{k}"),
            message: format!(
                "the worker's {OVERRIDE_POLICY}={policy} does not allow a connector to override it"
            ),
        });
    }
    Ok(wanted)
}

/// Sets a task client's settings for `role` (producer, consumer, admin)
/// on `cfg`: the worker's `<role>.*`, then the connector's
/// `<role>.override.*` as the policy allows, security translated.
fn apply_role(
    cfg: &mut ClientConfig,
    worker: &Props,
    connector_props: &Props,
    role: &str,
    client: &str,
) -> Result<(), SecurityError> {
    let layers = [
        &with_prefix(worker, &format!("{role}.")),
        &overrides(worker, connector_props, role)?,
    ];
    for (k, v) in client_settings(&layers, client)? {
        cfg.set(k, v);
    }
    Ok(())
}

/// Producer for a source connector's tasks.
pub fn producer_config(
    bootstrap: &str,
    worker: &Props,
    connector_props: &Props,
    connector: &str,
) -> Result<ClientConfig, SecurityError> {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", bootstrap)
        .set("client.id", format!("connector-producer-{connector}"))
        // Java Connect's producers use acks=all; idempotence keeps per-partition
        // order with several requests in flight.
        .set("acks", "all")
        .set("enable.idempotence", "true")
        // librdkafka batches far better with a linger above its 5 ms default.
        .set("linger.ms", "20")
        .set("batch.num.messages", "10000")
        // Bounded like Java's producer (buffer.memory, 32 MiB): more buys no
        // throughput against one broker, only resident memory.
        .set("queue.buffering.max.messages", "100000")
        .set("queue.buffering.max.kbytes", "32768")
        .set("message.timeout.ms", "300000");
    apply_role(&mut cfg, worker, connector_props, "producer", connector)?;
    Ok(cfg)
}

/// A sink task's static member id, unique per Connect cluster: two
/// clusters on one Kafka with a connector of the same name share the group
/// `connect-<name>` (as in Java), and with one instance id per task number
/// their tasks would fence each other's consumers, each rejoin taking over
/// the other's partitions (even of another topic).
/// Kafka takes `[a-zA-Z0-9._-]`, at most 249 characters; others become `_`.
fn instance_id(worker: &Props, connector: &str, task: usize) -> String {
    let id = match worker
        .get("group.id")
        .map(|g| g.trim())
        .filter(|g| !g.is_empty())
    {
        Some(cluster) => format!("connect-{connector}-{task}-{cluster}"),
        None => format!("connect-{connector}-{task}"),
    };
    id.chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '_' | '-' => c,
            _ => '_',
        })
        .take(249)
        .collect()
}

/// Consumer for a sink connector's tasks, in group `connect-<name>`.
pub fn consumer_config(
    bootstrap: &str,
    worker: &Props,
    connector_props: &Props,
    connector: &str,
    task: usize,
) -> Result<ClientConfig, SecurityError> {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", bootstrap)
        .set("group.id", format!("connect-{connector}"))
        .set(
            "client.id",
            format!("connector-consumer-{connector}-{task}"),
        )
        // Static membership (KIP-345): a task that restarts, here or on
        // another worker, rejoins as the same member and gets its partitions
        // back at once instead of waiting out the dead member's session.
        .set("group.instance.id", instance_id(worker, connector, task))
        .set("session.timeout.ms", "10000")
        // Offsets are committed only after the task's flush says so.
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("partition.assignment.strategy", "cooperative-sticky")
        .set("fetch.min.bytes", "1")
        .set("fetch.wait.max.ms", "100")
        // A bounded prefetch (librdkafka: 100 000 messages / 64 MiB): with
        // the short refetch backoff below the queue refills quickly, so 4 MiB
        // keeps a sink at the raw consumer's rate (bench/) with half the
        // memory. Raise consumer.queued.max.messages.kbytes for brokers far
        // away.
        .set("queued.min.messages", "20000")
        .set("queued.max.messages.kbytes", "4096")
        // librdkafka waits this long before fetching again once its queue
        // holds queued.min.messages (default 1 s): a sink that drains the
        // queue faster than that then sits idle for the rest of the second
        // (measured: 500 000 × 100 B took 1.6–3.1 s with the default, 1.0 s
        // with 10 ms, same memory bound).
        .set("fetch.queue.backoff.ms", "10")
        // Records of aborted transactions (an exactly-once source's) are
        // never delivered. librdkafka's default too, but said here: Java's
        // consumers default to read_uncommitted. `consumer.isolation.level`
        // / `consumer.override.isolation.level` still change it.
        .set("isolation.level", "read_committed");
    apply_role(&mut cfg, worker, connector_props, "consumer", connector)?;
    Ok(cfg)
}

/// Admin client for topic creation (source topics, dead letter queues):
/// worker `admin.*`, then connector `admin.override.*`, as in Java.
pub fn admin_config(
    bootstrap: &str,
    worker: &Props,
    connector_props: &Props,
) -> Result<ClientConfig, SecurityError> {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", bootstrap);
    let connector = connector_props
        .get("name")
        .map(String::as_str)
        .unwrap_or_default();
    apply_role(&mut cfg, worker, connector_props, "admin", connector)?;
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_layer_over_worker_settings_and_defaults() {
        let worker: Props = [
            ("producer.linger.ms".to_string(), "5".to_string()),
            ("producer.key.serializer".to_string(), "x".to_string()),
        ]
        .into();
        let conn: Props = [("producer.override.linger.ms".to_string(), "50".to_string())].into();
        let cfg = producer_config("b:9092", &worker, &conn, "c").unwrap();
        assert_eq!(cfg.get("linger.ms"), Some("50"));
        assert_eq!(cfg.get("acks"), Some("all"));
        assert_eq!(cfg.get("key.serializer"), None);
        let cfg = consumer_config("b:9092", &worker, &Props::new(), "c", 0).unwrap();
        assert_eq!(cfg.get("group.id"), Some("connect-c"));
        assert_eq!(cfg.get("group.instance.id"), Some("connect-c-0"));
        assert_eq!(cfg.get("enable.auto.offset.store"), Some("false"));
        // Aborted transactions are never delivered, unless a user says so.
        assert_eq!(cfg.get("isolation.level"), Some("read_committed"));
        let uncommitted: Props = [(
            "consumer.override.isolation.level".to_string(),
            "read_uncommitted".to_string(),
        )]
        .into();
        let cfg = consumer_config("b:9092", &worker, &uncommitted, "c", 0).unwrap();
        assert_eq!(cfg.get("isolation.level"), Some("read_uncommitted"));
        // In a Connect cluster the member id names the cluster too.
        let mut clustered = worker.clone();
        clustered.insert("group.id".into(), "ns.main".into());
        let cfg = consumer_config("b:9092", &clustered, &Props::new(), "c", 3).unwrap();
        assert_eq!(cfg.get("group.id"), Some("connect-c"));
        assert_eq!(cfg.get("group.instance.id"), Some("connect-c-3-ns.main"));
        clustered.insert("group.id".into(), "team a/main".into());
        let cfg = consumer_config("b:9092", &clustered, &Props::new(), "c", 3).unwrap();
        assert_eq!(
            cfg.get("group.instance.id"),
            Some("connect-c-3-team_a_main")
        );
    }

    #[test]
    fn security_settings_layer_and_translate_per_client_role() {
        let worker: Props = [
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "PLAIN"),
            ("sasl.jaas.config", "org.apache.kafka.common.security.plain.PlainLoginModule required username=worker password=w;"),
            ("producer.security.protocol", "SASL_SSL"),
            ("producer.sasl.mechanism", "SCRAM-SHA-512"),
            ("producer.sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username=tasks password=t;"),
            ("producer.ssl.provider", "SunJSSE"),
            ("group.id", "cluster"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        // The worker's own clients: bare keys only.
        let own = worker_client_settings(&worker).unwrap();
        assert_eq!(own["sasl.username"], "worker");
        assert!(!own.contains_key("group.id"));
        // Task producers: producer.*, then the connector's override.
        let conn: Props = [(
            "producer.override.sasl.jaas.config".to_string(),
            "org.apache.kafka.common.security.scram.ScramLoginModule required username=orders password=o;".to_string(),
        )]
        .into();
        let cfg = producer_config("b:9092", &worker, &conn, "c").unwrap();
        assert_eq!(cfg.get("sasl.username"), Some("orders"));
        assert_eq!(cfg.get("sasl.mechanism"), Some("SCRAM-SHA-512"));
        assert_eq!(cfg.get("ssl.provider"), None);
        // Not inherited: consumers have no consumer.* security here.
        let cfg = consumer_config("b:9092", &worker, &Props::new(), "c", 0).unwrap();
        assert_eq!(cfg.get("sasl.username"), None);
        // The override policy.
        let mut strict = worker.clone();
        strict.insert(OVERRIDE_POLICY.into(), "None".into());
        let e = producer_config("b:9092", &strict, &conn, "c")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("producer.override.sasl.jaas.config: the worker's connector.client.config.override.policy=none"), "{e}");
        strict.insert(OVERRIDE_POLICY.into(), "Principal".into());
        assert!(producer_config("b:9092", &strict, &conn, "c").is_ok());
        let linger: Props = [("producer.override.linger.ms".to_string(), "9".to_string())].into();
        assert!(producer_config("b:9092", &strict, &linger, "c").is_err());
    }
}
