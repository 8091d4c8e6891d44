//! Helpers for the exactly-once chaos tests: a replayable random source,
//! readers of every partition of a topic at either isolation level, and a
//! tally of which generated records arrived how often.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use super::{kafka_bootstrap, unique};

/// SplitMix64: tiny, deterministic, good enough to pick kill times.
pub struct Prng(u64);

impl Prng {
    /// Seeded from `KCONNECT_EOS_SEED` (to replay a failure) or the clock;
    /// the seed is returned so the test can print it.
    pub fn from_env_or_clock() -> (Prng, u64) {
        let seed = std::env::var("KCONNECT_EOS_SEED")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(0x5eed)
            });
        (Prng(seed), seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A duration drawn uniformly from `[lo, hi]`, to the millisecond.
    pub fn between(&mut self, lo: Duration, hi: Duration) -> Duration {
        let (lo, hi) = (lo.as_millis() as u64, hi.as_millis() as u64);
        Duration::from_millis(lo + self.next_u64() % (hi - lo + 1))
    }

    /// One of `items`, drawn uniformly.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next_u64() % items.len() as u64) as usize]
    }
}

/// Whether `KCONNECT_EOS_CHAOS=long` asks for the long form of a chaos
/// test instead of the one sized for CI.
pub fn long_form() -> bool {
    std::env::var("KCONNECT_EOS_CHAOS").is_ok_and(|v| v.trim() == "long")
}

/// Fixed-width numbered lines for a file source's input: `line-000042`.
pub fn line(i: u64) -> String {
    format!("line-{i:06}")
}

/// Writes lines `0..n` ([`line`]) to `path`.
pub fn write_lines(path: &std::path::Path, n: u64) {
    let text: String = (0..n).map(|i| line(i) + "\n").collect();
    std::fs::write(path, text).expect("writing the input file");
}

/// A datagen value is `{"id":…,…}` (JsonConverter without schemas).
pub fn datagen_id(value: &[u8]) -> Option<u64> {
    serde_json::from_slice::<serde_json::Value>(value)
        .ok()?
        .get("id")?
        .as_u64()
}

/// A file-source value is the [`line`] as a JSON string.
pub fn file_line(value: &[u8]) -> Option<u64> {
    let text: String = serde_json::from_slice(value).ok()?;
    text.strip_prefix("line-")?.parse().ok()
}

/// Which records a reader sees: only those of committed transactions, or
/// also those of aborted and still open ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    ReadCommitted,
    ReadUncommitted,
}

impl Isolation {
    fn setting(self) -> &'static str {
        match self {
            Isolation::ReadCommitted => "read_committed",
            Isolation::ReadUncommitted => "read_uncommitted",
        }
    }
}

/// A consumer of every partition of one topic, from the beginning.
pub struct TopicReader {
    consumer: BaseConsumer,
    topic: String,
    partitions: usize,
    /// Partitions whose end was reached with nothing read after it.
    at_end: Vec<bool>,
}

impl TopicReader {
    pub fn new(topic: &str, isolation: Isolation) -> TopicReader {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", kafka_bootstrap())
            .set("group.id", unique("eos-reader"))
            .set("enable.auto.commit", "false")
            // Always explicit: the whole point is which records are visible.
            .set("isolation.level", isolation.setting())
            .set("enable.partition.eof", "true")
            .set("fetch.wait.max.ms", "100")
            .create()
            .expect("creating a topic reader");
        // A topic created a moment ago may not be in the metadata yet.
        let mut partitions = 0;
        let found = super::wait_for(Duration::from_secs(30), || {
            partitions = consumer
                .fetch_metadata(Some(topic), Duration::from_secs(10))
                .map(|m| {
                    m.topics()
                        .iter()
                        .find(|t| t.name() == topic && t.error().is_none())
                        .map_or(0, |t| t.partitions().len())
                })
                .unwrap_or(0);
            partitions > 0
        });
        assert!(found, "topic {topic} has no partitions");
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions as i32 {
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .expect("adding a partition to read");
        }
        consumer
            .assign(&tpl)
            .expect("assigning the topic's partitions");
        TopicReader {
            consumer,
            topic: topic.to_owned(),
            partitions,
            at_end: vec![false; partitions],
        }
    }

    pub fn partitions(&self) -> usize {
        self.partitions
    }

    /// Hands every record value read within `period` to `each` (a null
    /// value as empty).
    pub fn poll_for(&mut self, period: Duration, mut each: impl FnMut(&[u8])) {
        let deadline = Instant::now() + period;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            self.poll_once(left.min(Duration::from_millis(100)), &mut each);
        }
    }

    /// Reads until every partition reported its end, for a topic nobody
    /// writes to any more.
    pub fn read_to_end(&mut self, timeout: Duration, mut each: impl FnMut(&[u8])) {
        let deadline = Instant::now() + timeout;
        while self.at_end.iter().any(|e| !e) {
            assert!(
                Instant::now() < deadline,
                "reading {} to its end took over {timeout:?}",
                self.topic
            );
            self.poll_once(Duration::from_millis(200), &mut each);
        }
    }

    fn poll_once(&mut self, timeout: Duration, each: &mut impl FnMut(&[u8])) {
        match self.consumer.poll(timeout) {
            None => {}
            Some(Ok(m)) => {
                self.at_end[m.partition() as usize] = false;
                each(m.payload().unwrap_or_default());
            }
            Some(Err(KafkaError::PartitionEOF(p))) => self.at_end[p as usize] = true,
            Some(Err(e)) => panic!("reading {}: {e}", self.topic),
        }
    }
}

/// What a fresh consumer at `isolation` reads from every partition of
/// `topic` (which must have `partitions`), tallied by `id`.
pub fn read_all(
    topic: &str,
    isolation: Isolation,
    partitions: usize,
    expected: u64,
    id: fn(&[u8]) -> Option<u64>,
) -> Tally {
    let mut reader = TopicReader::new(topic, isolation);
    assert_eq!(reader.partitions(), partitions, "partitions of {topic}");
    let mut tally = Tally::new(expected);
    reader.read_to_end(Duration::from_secs(120), |v| tally.add(id(v)));
    tally
}

/// How often each of the records `0..expected` arrived.
pub struct Tally {
    counts: Vec<u32>,
    records: u64,
    /// Records that decoded to no id, or to one outside `0..expected`.
    strays: u64,
}

/// A [`Tally`] summed up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub expected: u64,
    pub records: u64,
    pub distinct: u64,
    /// Records beyond the first of their id.
    pub duplicates: u64,
    pub lost: u64,
    pub strays: u64,
}

impl Tally {
    pub fn new(expected: u64) -> Tally {
        Tally {
            counts: vec![0; expected as usize],
            records: 0,
            strays: 0,
        }
    }

    pub fn add(&mut self, id: Option<u64>) {
        self.records += 1;
        match id.and_then(|i| self.counts.get_mut(i as usize)) {
            Some(c) => *c += 1,
            None => self.strays += 1,
        }
    }

    pub fn distinct(&self) -> u64 {
        self.counts.iter().filter(|c| **c > 0).count() as u64
    }

    pub fn complete(&self) -> bool {
        self.counts.iter().all(|c| *c > 0)
    }

    pub fn report(&self) -> Report {
        let distinct = self.distinct();
        Report {
            expected: self.counts.len() as u64,
            records: self.records,
            distinct,
            duplicates: self
                .counts
                .iter()
                .map(|c| u64::from(c.saturating_sub(1)))
                .sum(),
            lost: self.counts.len() as u64 - distinct,
            strays: self.strays,
        }
    }

    /// The first few ids that arrived more than once, for a failure message.
    pub fn duplicated_ids(&self, max: usize) -> Vec<(usize, u32)> {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 1)
            .map(|(i, c)| (i, *c))
            .take(max)
            .collect()
    }

    /// The first few ids that never arrived, for a failure message.
    pub fn lost_ids(&self, max: usize) -> Vec<usize> {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c == 0)
            .map(|(i, _)| i)
            .take(max)
            .collect()
    }

    /// Fails unless every record arrived and nothing else did; `context`
    /// ends the message (where the logs are, say).
    pub fn assert_none_lost(&self, connector: &str, context: &str) {
        let r = self.report();
        assert_eq!(
            r.strays, 0,
            "{connector}: records that are not generated ones: {r}{context}"
        );
        assert_eq!(
            r.lost,
            0,
            "{connector}: records lost: {r}; first lost ids {:?}{context}",
            self.lost_ids(20)
        );
    }

    /// Fails if any record arrived more than once.
    pub fn assert_no_duplicates(&self, connector: &str, context: &str) {
        let r = self.report();
        assert_eq!(
            r.duplicates,
            0,
            "{connector}: records duplicated: {r}; first (id, times) {:?}{context}",
            self.duplicated_ids(20)
        );
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "records={} distinct={}/{} duplicates={} lost={} strays={}",
            self.records, self.distinct, self.expected, self.duplicates, self.lost, self.strays
        )
    }
}
