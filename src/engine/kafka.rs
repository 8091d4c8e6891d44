//! librdkafka client settings for source producers, sink consumers and
//! admin clients: throughput-minded defaults, then worker
//! `producer.*`/`consumer.*`/`admin.*`, then connector
//! `producer.override.*`/`consumer.override.*`/`admin.override.*`.
//!
//! The worker has its task clients emit librdkafka's statistics every
//! [`STATISTICS_INTERVAL_MS`] ([`with_statistics`]) for the
//! `kafka_producer_*` / `kafka_consumer_*` metrics; `statistics.interval.ms`
//! in `producer.*` / `consumer.*` (0: off) wins.

use rdkafka::ClientConfig;

use crate::connect::config::with_prefix;
use crate::connect::Props;

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

fn apply(cfg: &mut ClientConfig, props: &Props, connector: &str) {
    for (k, v) in props {
        if JAVA_ONLY.contains(&k.as_str()) {
            tracing::debug!(connector, key = %k, "ignoring a Java-client-only setting");
            continue;
        }
        cfg.set(k, v);
    }
}

/// Producer for a source connector's tasks.
pub fn producer_config(
    bootstrap: &str,
    worker: &Props,
    connector_props: &Props,
    connector: &str,
) -> ClientConfig {
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
    apply(&mut cfg, &with_prefix(worker, "producer."), connector);
    apply(
        &mut cfg,
        &with_prefix(connector_props, "producer.override."),
        connector,
    );
    cfg
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
) -> ClientConfig {
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
        .set("fetch.queue.backoff.ms", "10");
    apply(&mut cfg, &with_prefix(worker, "consumer."), connector);
    apply(
        &mut cfg,
        &with_prefix(connector_props, "consumer.override."),
        connector,
    );
    cfg
}

/// Admin client for topic creation (source topics, dead letter queues):
/// worker `admin.*`, then connector `admin.override.*`, as in Java.
pub fn admin_config(bootstrap: &str, worker: &Props, connector_props: &Props) -> ClientConfig {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", bootstrap);
    let connector = connector_props
        .get("name")
        .map(String::as_str)
        .unwrap_or_default();
    apply(&mut cfg, &with_prefix(worker, "admin."), connector);
    apply(
        &mut cfg,
        &with_prefix(connector_props, "admin.override."),
        connector,
    );
    cfg
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
        let cfg = producer_config("b:9092", &worker, &conn, "c");
        assert_eq!(cfg.get("linger.ms"), Some("50"));
        assert_eq!(cfg.get("acks"), Some("all"));
        assert_eq!(cfg.get("key.serializer"), None);
        let cfg = consumer_config("b:9092", &worker, &Props::new(), "c", 0);
        assert_eq!(cfg.get("group.id"), Some("connect-c"));
        assert_eq!(cfg.get("group.instance.id"), Some("connect-c-0"));
        assert_eq!(cfg.get("enable.auto.offset.store"), Some("false"));
        // In a Connect cluster the member id names the cluster too.
        let mut clustered = worker.clone();
        clustered.insert("group.id".into(), "ns.main".into());
        let cfg = consumer_config("b:9092", &clustered, &Props::new(), "c", 3);
        assert_eq!(cfg.get("group.id"), Some("connect-c"));
        assert_eq!(cfg.get("group.instance.id"), Some("connect-c-3-ns.main"));
        clustered.insert("group.id".into(), "team a/main".into());
        let cfg = consumer_config("b:9092", &clustered, &Props::new(), "c", 3);
        assert_eq!(
            cfg.get("group.instance.id"),
            Some("connect-c-3-team_a_main")
        );
    }
}
