//! A compacted Kafka topic read to its end and written through a producer,
//! like Java Connect's `KafkaBasedLog`. The config, status and offset stores
//! of distributed mode sit on top of it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::connect::Props;
use crate::engine::client_failure::{Failure, FailureContext};

#[derive(Debug, thiserror::Error)]
pub enum TopicLogError {
    #[error("topic {topic}: {action}: {source}")]
    Kafka {
        topic: String,
        action: &'static str,
        #[source]
        source: KafkaError,
    },
    /// The client cannot authenticate or cannot establish TLS.
    #[error("topic {topic}: {action}: {}", failure.message)]
    Access {
        topic: String,
        action: &'static str,
        failure: Failure,
    },
    #[error("topic {topic}: reading to the end took longer than {timeout:?}")]
    Timeout { topic: String, timeout: Duration },
    #[error("topic {topic}: background reader failed: {message}")]
    Reader { topic: String, message: String },
}

/// How to create an internal topic when it is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i32,
}

/// One record of the log: key and value (`None` is a tombstone).
pub type LogRecord = (String, Option<Vec<u8>>);

pub struct TopicLog {
    writer: TopicWriter,
    consumer: Arc<BaseConsumer>,
    /// Looks up the partitions' end offsets: `read_uncommitted`, since a
    /// `read_committed` lookup answers the last stable offset, which stops
    /// short of records committed after another producer's open
    /// transaction (Java's `KafkaBasedLog` asks for the end the same way).
    ends: Arc<BaseConsumer>,
    /// Next offset to read per partition.
    positions: HashMap<i32, i64>,
}

fn kafka_err<'a>(
    topic: &'a str,
    action: &'static str,
) -> impl FnOnce(KafkaError) -> TopicLogError + 'a {
    move |source| TopicLogError::Kafka {
        topic: topic.to_owned(),
        action,
        source,
    }
}

impl TopicLog {
    /// Connects to `topic`; `client` holds extra librdkafka settings
    /// (security, timeouts) shared by its producer and consumer.
    pub fn open(bootstrap: &str, topic: &str, client: &Props) -> Result<TopicLog, TopicLogError> {
        let mut base = ClientConfig::new();
        base.set("bootstrap.servers", bootstrap);
        for (k, v) in client {
            base.set(k, v);
        }
        let producer: FutureProducer = base
            .clone()
            .set("acks", "all")
            .set("enable.idempotence", "true")
            // Java's producer partitioning, so keys land where Java's would.
            .set("partitioner", "murmur2_random")
            .set("linger.ms", "0")
            .create()
            .map_err(kafka_err(topic, "creating the producer"))?;
        base.set("group.id", format!("kconnect-log-{topic}"))
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false");
        let ends: BaseConsumer = base
            .clone()
            .set("isolation.level", "read_uncommitted")
            .create()
            .map_err(kafka_err(topic, "creating the consumer"))?;
        let consumer: BaseConsumer = base
            .set("isolation.level", "read_committed")
            .set("fetch.wait.max.ms", "50")
            .create()
            .map_err(kafka_err(topic, "creating the consumer"))?;
        Ok(TopicLog {
            writer: TopicWriter {
                topic: topic.to_owned(),
                producer,
            },
            consumer: Arc::new(consumer),
            ends: Arc::new(ends),
            positions: HashMap::new(),
        })
    }

    /// Creates the topic (compacted) unless it exists.
    pub async fn ensure_topic(
        bootstrap: &str,
        client: &Props,
        spec: &TopicSpec,
    ) -> Result<(), TopicLogError> {
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", bootstrap);
        for (k, v) in client {
            cfg.set(k, v);
        }
        let admin: AdminClient<DefaultClientContext> = cfg
            .create()
            .map_err(kafka_err(&spec.name, "creating the admin client"))?;
        // librdkafka reports a failed login only as an event on the main
        // queue, which rdkafka's admin client never polls: a producer on the
        // same settings, polled meanwhile, hears of it.
        let context = FailureContext::new(format!("admin of {}", spec.name));
        let failure = context.failure.clone();
        let probe: BaseProducer<FailureContext> = cfg
            .create_with_context(context)
            .map_err(kafka_err(&spec.name, "creating the admin client"))?;
        let probing = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let _poller = {
            let probing = probing.clone();
            tokio::task::spawn_blocking(move || {
                while probing.load(std::sync::atomic::Ordering::Relaxed) {
                    probe.poll(Duration::from_millis(100));
                }
            })
        };
        let _stop_probe = StopOnDrop(probing);
        let topic = NewTopic::new(
            &spec.name,
            spec.partitions,
            TopicReplication::Fixed(spec.replication_factor),
        )
        .set("cleanup.policy", "compact");
        let options = AdminOptions::new()
            .operation_timeout(Some(Duration::from_secs(30)))
            // An unreachable broker fails in seconds, not minutes.
            .request_timeout(Some(Duration::from_secs(15)));
        // librdkafka retries a failed login until the timeout; the
        // context hears of it at once, with the reason.
        let results = tokio::select! {
            results = admin.create_topics([&topic], &options) => {
                results.map_err(kafka_err(&spec.name, "creating the topic"))?
            }
            failure = failure.failure() => {
                return Err(TopicLogError::Access {
                    topic: spec.name.clone(),
                    action: "creating the topic",
                    failure,
                });
            }
        };
        for r in results {
            match r {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((_, code)) => {
                    return Err(TopicLogError::Kafka {
                        topic: spec.name.clone(),
                        action: "creating the topic",
                        source: KafkaError::AdminOp(code),
                    })
                }
            }
        }
        Ok(())
    }

    pub fn topic(&self) -> &str {
        &self.writer.topic
    }

    /// Writes one record and waits until Kafka acknowledged it.
    pub async fn send(&self, key: &str, value: Option<&[u8]>) -> Result<(), TopicLogError> {
        self.writer.send(key, value).await
    }

    /// A handle that only writes, for another task; it shares this log's
    /// producer, so records of one key keep the order they were sent in
    /// whichever handle sent them.
    pub fn writer(&self) -> TopicWriter {
        self.writer.clone()
    }

    /// Reads every record written since the last call (from the beginning on
    /// the first), up to the end offsets as they were when the call started,
    /// so everything written before it is seen ("read your writes").
    pub async fn read_to_end(
        &mut self,
        timeout: Duration,
    ) -> Result<Vec<LogRecord>, TopicLogError> {
        let ends = self.ends.clone();
        self.read_to(ends, timeout).await
    }

    /// Like [`Self::read_to_end`], but only up to the last stable offsets
    /// (where the oldest open transaction begins): never waits for an open
    /// transaction, so it may stop short of records committed after one.
    /// For a first read when no transactional writer of this process has
    /// started yet (one that died may have left a transaction open until
    /// the broker expires it), and for reads that only inform.
    pub async fn read_to_stable_end(
        &mut self,
        timeout: Duration,
    ) -> Result<Vec<LogRecord>, TopicLogError> {
        let ends = self.consumer.clone();
        self.read_to(ends, timeout).await
    }

    /// Reads to the end offsets `ends` looks up.
    async fn read_to(
        &mut self,
        ends: Arc<BaseConsumer>,
        timeout: Duration,
    ) -> Result<Vec<LogRecord>, TopicLogError> {
        let consumer = self.consumer.clone();
        let topic = self.writer.topic.clone();
        let mut positions = self.positions.clone();
        let result = tokio::task::spawn_blocking(move || {
            let records = read_blocking(&consumer, &ends, &topic, &mut positions, timeout)?;
            Ok::<_, TopicLogError>((records, positions))
        })
        .await
        .map_err(|e| TopicLogError::Reader {
            topic: self.writer.topic.clone(),
            message: e.to_string(),
        })??;
        self.positions = result.1;
        Ok(result.0)
    }
}

/// Clears the flag when dropped: ends a polling loop on every return path.
struct StopOnDrop(Arc<std::sync::atomic::AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(false, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The writing half of a [`TopicLog`].
#[derive(Clone)]
pub struct TopicWriter {
    topic: String,
    producer: FutureProducer,
}

impl TopicWriter {
    /// Writes one record and waits until Kafka acknowledged it.
    pub async fn send(&self, key: &str, value: Option<&[u8]>) -> Result<(), TopicLogError> {
        let mut record: FutureRecord<'_, str, [u8]> = FutureRecord::to(&self.topic).key(key);
        if let Some(v) = value {
            record = record.payload(v);
        }
        self.producer
            .send(record, Duration::from_secs(30))
            .await
            .map(|_| ())
            .map_err(|(e, _)| kafka_err(&self.topic, "writing a record")(e))
    }
}

/// Reads to the partitions' end offsets as they are now, committed data
/// only: an open transaction before the end is waited out (committed or
/// aborted, e.g. when its producer is fenced) rather than taken for the
/// end.
fn read_blocking(
    consumer: &BaseConsumer,
    ends_consumer: &BaseConsumer,
    topic: &str,
    positions: &mut HashMap<i32, i64>,
    timeout: Duration,
) -> Result<Vec<LogRecord>, TopicLogError> {
    let deadline = Instant::now() + timeout;
    // A topic created a moment ago may not have leaders yet: retry the
    // lookups until the deadline.
    let (partitions, ends) = loop {
        match end_offsets(ends_consumer, topic, timeout) {
            Ok(found) => break found,
            Err(e) if Instant::now() < deadline => {
                tracing::debug!(topic, error = %e, "end offsets not available yet");
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => return Err(e),
        }
    };
    let mut tpl = TopicPartitionList::new();
    for p in &partitions {
        let from = positions
            .get(p)
            .map_or(Offset::Beginning, |o| Offset::Offset(*o));
        tpl.add_partition_offset(topic, *p, from)
            .map_err(kafka_err(topic, "assigning partitions"))?;
    }
    consumer
        .assign(&tpl)
        .map_err(kafka_err(topic, "assigning partitions"))?;
    let behind = |positions: &HashMap<i32, i64>| {
        ends.iter()
            .any(|(p, end)| positions.get(p).copied().unwrap_or(0) < *end)
    };
    let mut out = Vec::new();
    while behind(positions) {
        if Instant::now() >= deadline {
            return Err(TopicLogError::Timeout {
                topic: topic.to_owned(),
                timeout,
            });
        }
        match consumer.poll(Duration::from_millis(100)) {
            None => {
                // Transaction markers and compacted gaps leave offsets with no
                // record: trust the consumer's position.
                if let Ok(pos) = consumer.position() {
                    for e in pos.elements() {
                        if let Offset::Offset(o) = e.offset() {
                            let cur = positions.entry(e.partition()).or_insert(0);
                            *cur = (*cur).max(o);
                        }
                    }
                }
            }
            Some(Err(e)) => return Err(kafka_err(topic, "reading")(e)),
            Some(Ok(m)) => {
                let key = m
                    .key()
                    .map(|k| String::from_utf8_lossy(k).into_owned())
                    .unwrap_or_default();
                out.push((key, m.payload().map(<[u8]>::to_vec)));
                positions.insert(m.partition(), m.offset() + 1);
            }
        }
    }
    // Stop fetching between reads: an idle long-poll fetch holds the broker
    // connection and would delay the next read's metadata and offset lookups
    // by fetch.wait.max.ms each.
    consumer
        .unassign()
        .map_err(kafka_err(topic, "unassigning"))?;
    Ok(out)
}

/// The topic's partitions and their end offsets.
fn end_offsets(
    consumer: &BaseConsumer,
    topic: &str,
    timeout: Duration,
) -> Result<(Vec<i32>, HashMap<i32, i64>), TopicLogError> {
    let metadata = consumer
        .fetch_metadata(Some(topic), timeout)
        .map_err(kafka_err(topic, "reading metadata"))?;
    let mut partitions = Vec::new();
    for t in metadata.topics() {
        if let Some(e) = t.error() {
            return Err(kafka_err(topic, "reading metadata")(
                KafkaError::MetadataFetch(e.into()),
            ));
        }
        partitions.extend(t.partitions().iter().map(|p| p.id()));
    }
    if partitions.is_empty() {
        return Err(kafka_err(topic, "reading metadata")(
            KafkaError::MetadataFetch(RDKafkaErrorCode::UnknownTopicOrPartition),
        ));
    }
    let mut ends = HashMap::new();
    for p in &partitions {
        let (_, high) = consumer
            .fetch_watermarks(topic, *p, timeout)
            .map_err(kafka_err(topic, "reading end offsets"))?;
        ends.insert(*p, high);
    }
    Ok((partitions, ends))
}
