//! Exactly-once source delivery (KIP-618): where a source task's
//! transactions end, the connector-defined boundaries a task asks for, the
//! partition of an offset record, fencing older producers, and what a
//! failed transaction means for the task.
//!
//! A task with exactly-once support produces through a transactional
//! producer whose `transactional.id` is `<group.id>-<connector>-<task>`
//! (Java's form); the offsets covering a transaction's records are written
//! to the offset topic in the same transaction, so records and offsets
//! become visible together or not at all.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::ClientConfig;

use super::connector_config::TRANSACTION_BOUNDARY;
use crate::connect::{Props, SourceRecord, TransactionContext};

/// `transaction.boundary.interval.ms`.
pub const TRANSACTION_BOUNDARY_INTERVAL_MS: &str = "transaction.boundary.interval.ms";
/// The standalone worker's transactional-id prefix when it has no `group.id`.
pub const STANDALONE_GROUP: &str = "connect-standalone";

/// Where a task's transactions end (`transaction.boundary`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Boundary {
    /// After every non-empty batch the task's `poll` returns (Java's default).
    Poll,
    /// When this long has passed since the transaction began.
    Interval(Duration),
    /// Where the task asks, through its [`TransactionContext`].
    Connector,
}

impl Boundary {
    /// The boundary a connector config asks for; `interval` without
    /// `transaction.boundary.interval.ms` uses the worker's
    /// `offset.flush.interval.ms`, as Java does.
    pub fn of(props: &Props, offset_flush_interval: Duration) -> Result<Boundary, String> {
        let kind = props
            .get(TRANSACTION_BOUNDARY)
            .map(|s| s.trim().to_ascii_lowercase())
            .unwrap_or_else(|| "poll".to_owned());
        let interval = match props.get(TRANSACTION_BOUNDARY_INTERVAL_MS).map(|s| s.trim()) {
            None | Some("") => None,
            Some(v) => match v.parse::<i64>() {
                Ok(ms) if ms >= 0 => Some(Duration::from_millis(ms as u64)),
                _ => {
                    return Err(format!(
                        "Invalid value {v} for configuration {TRANSACTION_BOUNDARY_INTERVAL_MS}: must be a non-negative number of milliseconds"
                    ))
                }
            },
        };
        match kind.as_str() {
            "poll" | "" => Ok(Boundary::Poll),
            "interval" => Ok(Boundary::Interval(
                interval.unwrap_or(offset_flush_interval),
            )),
            "connector" => Ok(Boundary::Connector),
            other => Err(format!(
                "Invalid value {other} for configuration {TRANSACTION_BOUNDARY}: must be one of poll, interval, connector"
            )),
        }
    }
}

/// Java's transactional id of a source task: `<group.id>-<connector>-<task>`.
pub fn transactional_id(group: &str, connector: &str, task: usize) -> String {
    format!("{group}-{connector}-{task}")
}

/// What a task asked for through its [`TransactionContext`] (Java's
/// `WorkerTransactionContext`).
#[derive(Debug, Default)]
pub struct WorkerTransactionContext {
    requests: Mutex<Requests>,
}

#[derive(Debug, Default)]
struct Requests {
    commit_batch: bool,
    abort_batch: bool,
    commit_after: Vec<SourceRecord>,
    abort_after: Vec<SourceRecord>,
}

/// What to do right after a record, or after a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    Commit,
    Abort,
}

impl Request {
    /// What was asked: an abort wins over a commit, as in Java.
    fn of(abort: bool, commit: bool) -> Option<Request> {
        match (abort, commit) {
            (true, _) => Some(Request::Abort),
            (false, true) => Some(Request::Commit),
            (false, false) => None,
        }
    }
}

impl WorkerTransactionContext {
    pub fn new() -> Arc<WorkerTransactionContext> {
        Arc::new(WorkerTransactionContext::default())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Requests> {
        self.requests.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the task asked for a commit or an abort right after this
    /// record (an abort wins, as in Java); the request is used up.
    pub fn after_record(&self, record: &SourceRecord) -> Option<Request> {
        let mut r = self.lock();
        if r.commit_after.is_empty() && r.abort_after.is_empty() {
            return None;
        }
        let abort = take(&mut r.abort_after, record);
        let commit = take(&mut r.commit_after, record);
        Request::of(abort, commit)
    }

    /// Whether the task asked for a commit or an abort after the batch;
    /// the request is used up.
    pub fn after_batch(&self) -> Option<Request> {
        let mut r = self.lock();
        let abort = std::mem::take(&mut r.abort_batch);
        let commit = std::mem::take(&mut r.commit_batch);
        Request::of(abort, commit)
    }
}

fn take(records: &mut Vec<SourceRecord>, record: &SourceRecord) -> bool {
    match records.iter().position(|r| r == record) {
        Some(i) => {
            records.swap_remove(i);
            true
        }
        None => false,
    }
}

impl TransactionContext for WorkerTransactionContext {
    fn commit_transaction(&self) {
        self.lock().commit_batch = true;
    }

    fn commit_transaction_after(&self, record: &SourceRecord) {
        self.lock().commit_after.push(record.clone());
    }

    fn abort_transaction(&self) {
        self.lock().abort_batch = true;
    }

    fn abort_transaction_after(&self, record: &SourceRecord) {
        self.lock().abort_after.push(record.clone());
    }
}

/// Java's `Utils.murmur2`: the hash its default partitioner gives a key.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let length = data.len();
    let mut h: u32 = SEED ^ (length as u32);
    let chunks = data.chunks_exact(4);
    let rest = chunks.remainder();
    for c in chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition Java's producer sends a keyed record to: where Java's
/// worker writes (and reads) an offset key.
pub fn java_partition(key: &[u8], partitions: i32) -> i32 {
    ((murmur2(key) & 0x7fff_ffff) as i64 % i64::from(partitions.max(1))) as i32
}

/// How a transaction's failure ends the task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnFailure {
    /// A newer producer with the same transactional id exists: another
    /// run of the task took over. Stop quietly.
    Fenced(String),
    /// The transaction was aborted (broker timeout, a record that could
    /// not be written): start again from the last committed offsets.
    Aborted(String),
    /// Anything else: the task fails.
    Fatal(String),
}

/// The error codes that mean another producer took over this
/// transactional id.
pub fn is_fencing(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::Fenced
            | RDKafkaErrorCode::ProducerFenced
            | RDKafkaErrorCode::InvalidProducerEpoch
    )
}

/// Sorts a failed transactional call, given the producer's fatal error
/// (librdkafka reports the cause of a fatal state there).
pub fn classify(error: &KafkaError, fatal: Option<(RDKafkaErrorCode, String)>) -> TxnFailure {
    if let Some((code, message)) = fatal {
        if is_fencing(code) {
            return TxnFailure::Fenced(message);
        }
        return TxnFailure::Fatal(format!("{message} ({code:?})"));
    }
    match error {
        KafkaError::Transaction(e) if e.txn_requires_abort() => TxnFailure::Aborted(e.to_string()),
        KafkaError::Transaction(e) if is_fencing(e.code()) => TxnFailure::Fenced(e.to_string()),
        other => match other.rdkafka_error_code() {
            Some(code) if is_fencing(code) => TxnFailure::Fenced(other.to_string()),
            _ => TxnFailure::Fatal(other.to_string()),
        },
    }
}

/// Fences the producers of `ids` (Java's `Admin.fenceProducers`): a
/// throw-away producer per id initialises its transactions, which bumps
/// the id's epoch and aborts any transaction an older producer left open.
/// Blocking; run it off the async threads.
pub fn fence_producers(
    base: &ClientConfig,
    ids: &[String],
    timeout: Duration,
) -> Result<(), String> {
    let handles: Vec<_> = ids
        .iter()
        .map(|id| {
            let mut cfg = base.clone();
            cfg.set("transactional.id", id)
                .set("enable.idempotence", "true")
                .set("acks", "all");
            let id = id.clone();
            std::thread::spawn(move || {
                let producer: BaseProducer = cfg
                    .create()
                    .map_err(|e| format!("fencing {id}: creating a producer: {e}"))?;
                producer
                    .init_transactions(timeout)
                    .map_err(|e| format!("fencing {id}: {e}"))
            })
        })
        .collect();
    let mut errors = Vec::new();
    for h in handles {
        match h.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => errors.push(e),
            Err(_) => errors.push("a fencing thread panicked".to_owned()),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::config::props_of as props;
    use crate::connect::{ConnectRecord, OffsetMap, Value};

    #[test]
    fn murmur2_matches_javas_utils() {
        // Kafka's UtilsTest.testMurmur2.
        for (input, hash) in [
            ("21", -973932308),
            ("foobar", -790332482),
            ("a-little-bit-long-string", -985981536),
            ("a-little-bit-longer-string", -1486304829),
            (
                "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58897971,
            ),
            ("abc", 479470107),
        ] {
            assert_eq!(murmur2(input.as_bytes()), hash, "{input}");
        }
    }

    #[test]
    fn java_partition_is_positive_murmur2_modulo() {
        assert_eq!(
            java_partition(b"21", 25),
            ((-973932308i32 & 0x7fffffff) % 25)
        );
        for p in 1..30 {
            let got = java_partition(b"[\"c\",{\"p\":1}]", p);
            assert!((0..p).contains(&got));
        }
    }

    #[test]
    fn boundaries_parse_as_java() {
        let flush = Duration::from_secs(60);
        assert_eq!(Boundary::of(&props(&[]), flush), Ok(Boundary::Poll));
        assert_eq!(
            Boundary::of(&props(&[(TRANSACTION_BOUNDARY, "interval")]), flush),
            Ok(Boundary::Interval(flush))
        );
        assert_eq!(
            Boundary::of(
                &props(&[
                    (TRANSACTION_BOUNDARY, "INTERVAL"),
                    (TRANSACTION_BOUNDARY_INTERVAL_MS, "250")
                ]),
                flush
            ),
            Ok(Boundary::Interval(Duration::from_millis(250)))
        );
        assert_eq!(
            Boundary::of(&props(&[(TRANSACTION_BOUNDARY, "connector")]), flush),
            Ok(Boundary::Connector)
        );
        let err =
            Boundary::of(&props(&[(TRANSACTION_BOUNDARY_INTERVAL_MS, "-1")]), flush).unwrap_err();
        assert!(err.contains(TRANSACTION_BOUNDARY_INTERVAL_MS), "{err}");
    }

    fn record(n: i64) -> SourceRecord {
        let mut offset = OffsetMap::new();
        offset.insert("n".into(), n.into());
        SourceRecord {
            record: ConnectRecord::new("t", None, Value::Int64(n)),
            source_partition: Arc::new(OffsetMap::new()),
            source_offset: offset,
        }
    }

    #[test]
    fn connector_requests_are_used_up_and_an_abort_wins() {
        let ctx = WorkerTransactionContext::new();
        assert_eq!(ctx.after_batch(), None);
        ctx.commit_transaction_after(&record(2));
        assert_eq!(ctx.after_record(&record(1)), None);
        assert_eq!(ctx.after_record(&record(2)), Some(Request::Commit));
        assert_eq!(ctx.after_record(&record(2)), None);
        ctx.commit_transaction_after(&record(3));
        ctx.abort_transaction_after(&record(3));
        assert_eq!(ctx.after_record(&record(3)), Some(Request::Abort));
        ctx.commit_transaction();
        assert_eq!(ctx.after_batch(), Some(Request::Commit));
        assert_eq!(ctx.after_batch(), None);
        ctx.commit_transaction();
        ctx.abort_transaction();
        assert_eq!(ctx.after_batch(), Some(Request::Abort));
    }

    #[test]
    fn fencing_codes_are_told_apart() {
        assert!(is_fencing(RDKafkaErrorCode::ProducerFenced));
        assert!(is_fencing(RDKafkaErrorCode::Fenced));
        assert!(!is_fencing(RDKafkaErrorCode::NotCoordinator));
        let e = KafkaError::MessageProduction(RDKafkaErrorCode::ProducerFenced);
        assert!(matches!(classify(&e, None), TxnFailure::Fenced(_)));
        let e = KafkaError::MessageProduction(RDKafkaErrorCode::MessageTimedOut);
        assert!(matches!(
            classify(&e, Some((RDKafkaErrorCode::Fenced, "fenced".into()))),
            TxnFailure::Fenced(_)
        ));
        assert!(matches!(classify(&e, None), TxnFailure::Fatal(_)));
    }
}
