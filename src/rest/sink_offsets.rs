//! KIP-875 offsets of sink connectors: the committed offsets of the
//! connector's consumer group `connect-<name>`, read, altered and reset
//! through Kafka as Java's worker does it. Blocking: call from
//! `spawn_blocking`.
//!
//! Sink tasks join the group with static membership, so a member of a task
//! that just stopped stays in the group until its session times out
//! (`session.timeout.ms`, 10 s by default); changes retry until then.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde_json::{json, Map, Value as Json};

use super::entities::ConnectorOffset;
use super::RestError;
use crate::connect::Props;
use crate::engine::connector_config::{common_topics, TOPICS_REGEX};

pub const KAFKA_TOPIC: &str = "kafka_topic";
pub const KAFKA_PARTITION: &str = "kafka_partition";
pub const KAFKA_OFFSET: &str = "kafka_offset";

const TIMEOUT: Duration = Duration::from_secs(10);
/// How long changes wait for members of stopped tasks to leave the group.
const MEMBERS_GONE: Duration = Duration::from_secs(45);

/// The consumer group of a sink connector, as Java names it.
pub fn group(connector: &str) -> String {
    format!("connect-{connector}")
}

/// Client settings for the group: the connector's consumer settings
/// (security, `consumer.override.*`) without static membership.
pub fn client_config(
    bootstrap: &str,
    worker: &Props,
    connector: &Props,
    name: &str,
) -> Result<ClientConfig, RestError> {
    let mut cfg = crate::engine::kafka::consumer_config(bootstrap, worker, connector, name, 0)
        .map_err(|e| RestError::internal(format!("connector {name}'s consumer settings: {e}")))?;
    cfg.remove("group.instance.id");
    cfg.set("client.id", format!("connector-offsets-{name}"));
    cfg.set("enable.auto.commit", "false");
    Ok(cfg)
}

fn kafka(what: &str) -> impl Fn(KafkaError) -> RestError + '_ {
    move |e| RestError::internal(format!("{what}: {e}"))
}

/// Partitions of the topics a sink config consumes (`topics`, or every
/// topic matching `topics.regex`).
fn partitions(consumer: &BaseConsumer, connector: &Props) -> Result<TopicPartitionList, RestError> {
    let metadata = consumer
        .fetch_metadata(None, TIMEOUT)
        .map_err(kafka("reading topic metadata"))?;
    let listed = common_topics(connector);
    let regex = connector
        .get(TOPICS_REGEX)
        .map(|r| r.trim())
        .filter(|r| !r.is_empty())
        .and_then(|r| regex::Regex::new(&format!("^(?:{r})$")).ok());
    let mut tpl = TopicPartitionList::new();
    for t in metadata.topics() {
        let wanted = listed.iter().any(|l| l == t.name())
            || regex.as_ref().is_some_and(|r| r.is_match(t.name()));
        if wanted {
            for p in t.partitions() {
                tpl.add_partition(t.name(), p.id());
            }
        }
    }
    Ok(tpl)
}

fn offset_entry(topic: &str, partition: i32, offset: i64) -> ConnectorOffset {
    let map = |v: Json| v.as_object().cloned().unwrap_or_default();
    ConnectorOffset {
        partition: map(json!({KAFKA_TOPIC: topic, KAFKA_PARTITION: partition})),
        offset: Some(map(json!({KAFKA_OFFSET: offset}))),
    }
}

/// The group's committed offsets, as Java's `ConnectorOffsets` of a sink.
pub fn read(cfg: &ClientConfig, connector: &Props) -> Result<Vec<ConnectorOffset>, RestError> {
    Ok(committed(cfg, connector)?
        .into_iter()
        .map(|((t, p), o)| offset_entry(&t, p, o))
        .collect())
}

fn committed(
    cfg: &ClientConfig,
    connector: &Props,
) -> Result<BTreeMap<(String, i32), i64>, RestError> {
    let consumer: BaseConsumer = cfg.create().map_err(kafka("creating a consumer"))?;
    let tpl = partitions(&consumer, connector)?;
    if tpl.count() == 0 {
        return Ok(BTreeMap::new());
    }
    let committed = consumer
        .committed_offsets(tpl, TIMEOUT)
        .map_err(kafka("reading committed offsets"))?;
    Ok(committed
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => Some(((e.topic().to_owned(), e.partition()), o)),
            _ => None,
        })
        .collect())
}

/// A sink offset of an alter request: topic, partition and the offset
/// (`None` removes the partition's committed offset).
type Parsed = ((String, i32), Option<i64>);

/// Checks an alter request like Java's `SinkUtils.parseSinkConnectorOffsets`.
pub fn parse(offsets: &[ConnectorOffset]) -> Result<Vec<Parsed>, RestError> {
    let bad = |m: String| RestError::bad_request(m);
    offsets
        .iter()
        .map(|o| {
            let p: &Map<String, Json> = &o.partition;
            let topic = match p.get(KAFKA_TOPIC) {
                Some(Json::String(t)) if !t.is_empty() => t.clone(),
                _ => {
                    return Err(bad(format!(
                        "Kafka topic names must be valid strings and may not be null; the partition {} has no '{KAFKA_TOPIC}'",
                        Json::Object(p.clone())
                    )))
                }
            };
            let partition = p
                .get(KAFKA_PARTITION)
                .and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
                .filter(|n| (0..=i32::MAX as i64).contains(n))
                .ok_or_else(|| {
                    bad(format!(
                        "Kafka partitions must be valid integers and may not be null or negative; the partition {} has no valid '{KAFKA_PARTITION}'",
                        Json::Object(p.clone())
                    ))
                })? as i32;
            let offset = match &o.offset {
                None => None,
                Some(m) => Some(
                    m.get(KAFKA_OFFSET)
                        .and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
                        .filter(|n| *n >= 0)
                        .ok_or_else(|| {
                            bad(format!(
                                "Kafka offsets must be valid integers and may not be null or negative; the offset {} has no valid '{KAFKA_OFFSET}'",
                                Json::Object(m.clone())
                            ))
                        })?,
                ),
            };
            Ok(((topic, partition), offset))
        })
        .collect()
}

fn retriable(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::UnknownMemberId
                | RDKafkaErrorCode::RebalanceInProgress
                | RDKafkaErrorCode::IllegalGeneration
                | RDKafkaErrorCode::NonEmptyGroup
                | RDKafkaErrorCode::CoordinatorLoadInProgress
                | RDKafkaErrorCode::NotCoordinator
        )
    )
}

fn commit(cfg: &ClientConfig, offsets: &BTreeMap<(String, i32), i64>) -> Result<(), RestError> {
    if offsets.is_empty() {
        return Ok(());
    }
    let consumer: BaseConsumer = cfg.create().map_err(kafka("creating a consumer"))?;
    let mut tpl = TopicPartitionList::new();
    for ((t, p), o) in offsets {
        tpl.add_partition_offset(t, *p, Offset::Offset(*o))
            .map_err(kafka("building the offsets"))?;
    }
    let deadline = Instant::now() + MEMBERS_GONE;
    loop {
        match consumer.commit(&tpl, CommitMode::Sync) {
            Ok(()) => return Ok(()),
            Err(e) if retriable(&e) && Instant::now() < deadline => {
                tracing::debug!(error = %e, "the group still has members of stopped tasks; retrying");
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(e) => return Err(kafka("committing the offsets")(e)),
        }
    }
}

/// Deletes the group (every committed offset); a group that does not
/// exist is already reset.
pub fn reset(cfg: &ClientConfig, group: &str) -> Result<(), RestError> {
    let admin: AdminClient<DefaultClientContext> =
        cfg.create().map_err(kafka("creating an admin client"))?;
    let deadline = Instant::now() + MEMBERS_GONE;
    let opts = AdminOptions::new().request_timeout(Some(TIMEOUT));
    loop {
        // The admin client's own thread completes the future.
        let results = futures::executor::block_on(admin.delete_groups(&[group], &opts))
            .map_err(kafka("deleting the consumer group"))?;
        match results.into_iter().next() {
            None | Some(Ok(_)) | Some(Err((_, RDKafkaErrorCode::GroupIdNotFound))) => return Ok(()),
            Some(Err((_, RDKafkaErrorCode::NonEmptyGroup))) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(500));
            }
            Some(Err((_, code))) => {
                return Err(RestError::internal(format!(
                    "deleting the consumer group {group}: {code}"
                )))
            }
        }
    }
}

/// Alters the group's offsets; a `null` offset removes that partition's
/// (the group is deleted and the other offsets committed again, the way
/// the connector being STOPPED allows).
pub fn alter(
    cfg: &ClientConfig,
    connector: &Props,
    group: &str,
    changes: Vec<Parsed>,
) -> Result<(), RestError> {
    let removes = changes.iter().any(|(_, o)| o.is_none());
    let mut target: BTreeMap<(String, i32), i64> = if removes {
        committed(cfg, connector)?
    } else {
        BTreeMap::new()
    };
    for (tp, o) in changes {
        match o {
            Some(o) => target.insert(tp, o),
            None => target.remove(&tp),
        };
    }
    if removes {
        reset(cfg, group)?;
    }
    commit(cfg, &target)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offset(v: Json) -> ConnectorOffset {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn parses_java_shaped_sink_offsets() {
        let parsed = parse(&[
            offset(json!({"partition": {"kafka_topic": "t", "kafka_partition": 3}, "offset": {"kafka_offset": 1000}})),
            offset(json!({"partition": {"kafka_topic": "t", "kafka_partition": "4"}, "offset": null})),
        ])
        .unwrap();
        assert_eq!(parsed[0], (("t".to_string(), 3), Some(1000)));
        assert_eq!(parsed[1], (("t".to_string(), 4), None));
        for bad in [
            json!({"partition": {"kafka_partition": 3}, "offset": {"kafka_offset": 1}}),
            json!({"partition": {"kafka_topic": "t", "kafka_partition": -1}, "offset": {"kafka_offset": 1}}),
            json!({"partition": {"kafka_topic": "t", "kafka_partition": 0}, "offset": {"kafka_offset": "x"}}),
        ] {
            assert_eq!(parse(&[offset(bad)]).unwrap_err().status.as_u16(), 400);
        }
        assert_eq!(
            serde_json::to_value(offset_entry("t", 1, 5)).unwrap(),
            json!({"partition": {"kafka_topic": "t", "kafka_partition": 1}, "offset": {"kafka_offset": 5}})
        );
        assert_eq!(group("s"), "connect-s");
    }
}
