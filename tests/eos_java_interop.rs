//! Exactly-once source delivery (KIP-618) across kconnect and Apache Kafka
//! Connect 4.1.2 (Java), both distributed with
//! `exactly.once.source.support=enabled`, on one `group.id` and the same
//! three internal topics, against the real broker.
//!
//! One FileStreamSourceConnector (`exactly.once.support=required`,
//! transactions at a 1 s interval) tails a file of numbered lines while
//! the file keeps growing, and the connector moves back and forth:
//!
//! 1. kconnect (`kconnect worker`, placed and fenced by this test exactly
//!    as the operator does: its assignment record, and
//!    `operator::fencing::fence_zombies` for the task-count record; the
//!    task must not start before that record), then SIGTERM;
//! 2. Java, reconfigured through its REST API while it runs (Java writes
//!    new task configs and its own task-count record), then SIGTERM;
//! 3. kconnect, reconfigured through the config topic while it runs (the
//!    operator's fencing step writes the task-count record), then SIGKILL
//!    while a transaction is open;
//! 4. Java, then SIGKILL while a transaction is open;
//! 5. kconnect, until every line is in, then SIGTERM.
//!
//! Each side must take the other's transactional offsets (Java's format,
//! in the offset topic), task configs and task-count record as they are:
//! start without errors and without writing task configs or a task-count
//! record of its own (no fencing round), abort the other's open
//! transaction (same transactional id, `<group.id>-<connector>-0`), and
//! continue exactly after the last committed transaction. After every
//! phase a `read_committed` consumer must see lines 0..n once each, in
//! order, and the committed offset must be the byte position just after
//! line n-1.

mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kconnect::connect::Props;
use kconnect::operator::fencing::fence_zombies;
use kconnect::storage::config_topic::{ConfigRecord, ConfigState, TargetState, TASK_COUNT_PREFIX};
use kconnect::storage::status_topic::StatusRecord;
use kconnect::storage::topic_log::TopicLog;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde_json::{json, Value as Json};
use support::java_connect::{self, processes_naming, state_dir, JavaConnect};
use support::rest::Api;
use support::*;

const SOURCE_CLASS: &str = "org.apache.kafka.connect.file.FileStreamSourceConnector";
/// `line-NNNNNN\n`: every line is 12 bytes, so a committed position says
/// how many lines it covers.
const LINE_BYTES: u64 = 12;
/// Lines appended between phases, before the next worker starts.
const BLOCK: u64 = 1000;
/// While a worker runs, the feeder appends this many lines every tick
/// (about 1000 lines a second).
const FEED_CHUNK: u64 = 20;
const FEED_TICK: Duration = Duration::from_millis(20);
/// A worker is stopped once it committed this many lines beyond what the
/// file held when it started, with the feeder still appending.
const RUN_BEYOND: u64 = 1500;
/// `transaction.boundary.interval.ms`: transactions stay open long enough
/// for a SIGKILL to land inside one.
const TX_INTERVAL_MS: &str = "1000";

fn line(n: u64) -> String {
    format!("line-{n:06}")
}

fn append_lines(path: &Path, range: std::ops::Range<u64>) {
    let text: String = range.map(|n| line(n) + "\n").collect();
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .expect("appending to the source file");
}

/// Appends lines in the background while a worker runs.
struct Feeder {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<u64>>,
}

impl Feeder {
    /// Starts appending at line `from`.
    fn start(path: &Path, from: u64) -> Feeder {
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, path) = (stop.clone(), path.to_owned());
        let handle = std::thread::spawn(move || {
            let mut next = from;
            while !flag.load(Ordering::Relaxed) {
                append_lines(&path, next..next + FEED_CHUNK);
                next += FEED_CHUNK;
                std::thread::sleep(FEED_TICK);
            }
            next
        });
        Feeder {
            stop,
            handle: Some(handle),
        }
    }

    /// Stops appending; the number of lines now in the file.
    fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.handle
            .take()
            .expect("a running feeder")
            .join()
            .expect("the feeder thread")
    }
}

impl Drop for Feeder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn reader(isolation: &str, eof: bool) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", kafka_bootstrap())
        .set("group.id", unique("eosx-reader"))
        .set("enable.auto.commit", "false")
        .set("isolation.level", isolation)
        .set("enable.partition.eof", if eof { "true" } else { "false" })
        .set("fetch.wait.max.ms", "100")
        .create()
        .expect("creating a reader")
}

/// Assigns every partition of `topic` from the beginning; their count.
fn assign_all(consumer: &BaseConsumer, topic: &str) -> usize {
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("reading the topic's metadata");
    let partitions = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .map_or(0, |t| t.partitions().len());
    assert!(partitions > 0, "topic {topic} has no partitions");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions as i32 {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .expect("adding a partition");
    }
    consumer.assign(&tpl).expect("assigning partitions");
    partitions
}

/// Every record of `topic` (key, value) at `isolation`, up to the end a
/// consumer at that level sees (the last stable offset for
/// `read_committed`).
fn read_all(topic: &str, isolation: &str) -> Vec<RawRecord> {
    let consumer = reader(isolation, true);
    let partitions = assign_all(&consumer, topic);
    let mut at_end = vec![false; partitions];
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    while at_end.iter().any(|e| !e) {
        assert!(
            Instant::now() < deadline,
            "reading {topic} ({isolation}) to its end took over 90 s"
        );
        match consumer.poll(Duration::from_millis(200)) {
            None => {}
            Some(Ok(m)) => {
                at_end[m.partition() as usize] = false;
                out.push((m.key().map(<[u8]>::to_vec), m.payload().map(<[u8]>::to_vec)));
            }
            Some(Err(KafkaError::PartitionEOF(p))) => at_end[p as usize] = true,
            Some(Err(e)) => panic!("reading {topic}: {e}"),
        }
    }
    out
}

/// The line number in a data record: a JsonConverter envelope of
/// `line-NNNNNN`.
fn line_of(value: &[u8]) -> u64 {
    let envelope: Json = serde_json::from_slice(value).unwrap_or_else(|e| {
        panic!(
            "record {:?} is not a JSON envelope: {e}",
            String::from_utf8_lossy(value)
        )
    });
    envelope["payload"]
        .as_str()
        .and_then(|p| p.strip_prefix("line-"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("record {envelope} is not a numbered line"))
}

/// A consumer of the data topic kept open over the whole test: how many
/// records it has seen and the highest line among them.
struct Follower {
    consumer: BaseConsumer,
    records: u64,
    max_line: Option<u64>,
}

impl Follower {
    fn new(topic: &str, isolation: &str) -> Follower {
        let consumer = reader(isolation, false);
        assign_all(&consumer, topic);
        Follower {
            consumer,
            records: 0,
            max_line: None,
        }
    }

    fn poll(&mut self, period: Duration) {
        let deadline = Instant::now() + period;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            match self.consumer.poll(left.min(Duration::from_millis(50))) {
                None => {}
                Some(Ok(m)) => {
                    let n = line_of(m.payload().unwrap_or_default());
                    self.records += 1;
                    self.max_line = Some(self.max_line.map_or(n, |m| m.max(n)));
                }
                Some(Err(e)) => panic!("following the data topic: {e}"),
            }
        }
    }
}

/// Both followers: what is committed, and what was written at all.
struct Watch {
    committed: Follower,
    written: Follower,
}

impl Watch {
    fn poll(&mut self) {
        self.committed.poll(Duration::from_millis(60));
        self.written.poll(Duration::from_millis(60));
    }

    /// Records are in the topic beyond the committed ones: a transaction
    /// is open (as far as the two readers can tell).
    fn open_transaction(&self) -> bool {
        match (self.written.max_line, self.committed.max_line) {
            (Some(w), Some(c)) => w > c,
            (Some(_), None) => true,
            _ => false,
        }
    }
}

/// What the test does in the operator's place: it reads the config topic
/// as the operator does and runs the operator's zombie-fencing step.
struct Operator {
    runtime: tokio::runtime::Runtime,
    group: String,
    config_log: TopicLog,
    config: ConfigState,
    fencing: ClientConfig,
    /// The config-topic records read since the last `take_records`.
    records: Vec<(String, String)>,
}

impl Operator {
    fn refresh(&mut self) {
        let records = self
            .runtime
            .block_on(self.config_log.read_to_end(Duration::from_secs(30)))
            .expect("reading the config topic");
        for (k, v) in records {
            self.records.push((
                k.clone(),
                v.as_deref()
                    .map_or("null".into(), |v| String::from_utf8_lossy(v).into_owned()),
            ));
            if let Ok(r) = ConfigRecord::decode(&k, v.as_deref()) {
                self.config.apply(r);
            }
        }
    }

    /// `operator::fencing::fence_zombies`, as the operator's cluster loop
    /// runs it at every pass.
    fn fence(&mut self) {
        self.refresh();
        let Operator {
            runtime,
            group,
            config_log,
            config,
            fencing,
            ..
        } = self;
        runtime
            .block_on(fence_zombies(
                "eos-java-interop",
                group,
                fencing,
                config_log,
                config,
            ))
            .expect("the operator's fencing step");
    }

    fn send(&mut self, record: ConfigRecord) {
        let (k, v) = record.encode();
        self.runtime
            .block_on(self.config_log.send(&k, v.as_deref()))
            .expect("writing a config record");
    }

    /// What was written to the config topic since the last call.
    fn take_writes(&mut self, connector: &str) -> Writes {
        self.refresh();
        let mut w = Writes::default();
        for (k, v) in self.records.drain(..) {
            if k == format!("connector-{connector}") {
                w.connector += 1;
            } else if k.starts_with(&format!("task-{connector}-")) {
                w.tasks += 1;
            } else if k == format!("commit-{connector}") {
                w.commits += 1;
            } else if k == format!("{TASK_COUNT_PREFIX}{connector}") {
                w.task_counts.push(v);
            } else {
                w.other.push(k);
            }
        }
        w
    }
}

/// Config-topic records of one stretch of a phase.
#[derive(Debug, Default)]
struct Writes {
    connector: usize,
    tasks: usize,
    commits: usize,
    /// Values of the task-count records.
    task_counts: Vec<String>,
    other: Vec<String>,
}

impl Writes {
    /// Task configs and their task-count record, as after a
    /// reconfiguration of an exactly-once source with one task.
    fn new_generation(&self) -> bool {
        self.tasks >= 1 && self.commits >= 1 && !self.task_counts.is_empty()
    }

    fn nothing_for_tasks(&self) -> bool {
        self.tasks == 0 && self.commits == 0 && self.task_counts.is_empty()
    }
}

/// The worker config both runtimes share, exactly-once on.
fn common_props(group: &str) -> Vec<(&'static str, String)> {
    let mut props = java_connect::shared_cluster_props(group);
    props.push(("exactly.once.source.support", "enabled".into()));
    props
}

/// The lines of Java's log at ERROR (its layout: `[date] LEVEL message`).
fn error_lines(log: &str) -> Vec<&str> {
    log.lines().filter(|l| l.contains("] ERROR ")).collect()
}

/// Java's log lines about zombie fencing and about the task's
/// transactional producer taking over the transactional id.
fn fencing_lines<'a>(log: &'a str, transactional_id: &str) -> Vec<&'a str> {
    log.lines()
        .filter(|l| {
            let lower = l.to_lowercase().replace("isfenced", "");
            lower.contains("fenc")
                || lower.contains("zombie")
                || (l.contains(transactional_id) && l.contains("ProducerId set"))
        })
        .collect()
}

/// Java's log lines about the offset its file task resumed from.
fn offset_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains("Found previous offset") || l.contains("Skipped to offset"))
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Side {
    Kconnect,
    Java,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Stop {
    /// SIGTERM mid-stream.
    Term,
    /// SIGKILL mid-stream, while a transaction is open.
    Kill,
    /// Every line in, then SIGTERM.
    Drain,
}

/// Who runs, how it ends, and whether the connector is reconfigured while
/// it runs (new task configs: Java then writes its own task-count record,
/// the operator kconnect's).
const PHASES: [(Side, Stop, bool); 5] = [
    (Side::Kconnect, Stop::Term, false),
    (Side::Java, Stop::Term, true),
    (Side::Kconnect, Stop::Kill, true),
    (Side::Java, Stop::Kill, false),
    (Side::Kconnect, Stop::Drain, false),
];

/// The topic and offsets as a phase left them.
struct Outcome {
    /// Records `read_committed`, and how many were distinct / repeated.
    committed: u64,
    distinct: u64,
    duplicates: u64,
    /// Records of aborted (or still open) transactions, in all.
    uncommitted: u64,
    /// The committed source offset: its key and value as written.
    offset: Option<(String, String)>,
    position: Option<u64>,
}

fn outcome(data_topic: &str, offsets_topic: &str, connector: &str, file: &str) -> Outcome {
    let lines: Vec<u64> = read_all(data_topic, "read_committed")
        .iter()
        .map(|(_, v)| line_of(v.as_deref().unwrap_or_default()))
        .collect();
    let everything = read_all(data_topic, "read_uncommitted").len() as u64;
    let mut counts = BTreeMap::<u64, u64>::new();
    for n in &lines {
        *counts.entry(*n).or_default() += 1;
    }
    let want_key = json!([connector, {"filename": file}]);
    let offset = read_all(offsets_topic, "read_committed")
        .into_iter()
        .rev()
        .find(|(k, _)| {
            k.as_deref()
                .and_then(|k| serde_json::from_slice::<Json>(k).ok())
                .is_some_and(|k| k == want_key)
        })
        .map(|(k, v)| {
            (
                String::from_utf8_lossy(&k.unwrap_or_default()).into_owned(),
                v.map_or("null".into(), |v| String::from_utf8_lossy(&v).into_owned()),
            )
        });
    let position = offset
        .as_ref()
        .and_then(|(_, v)| serde_json::from_str::<Json>(v).ok()?["position"].as_u64());
    let in_order = lines.iter().enumerate().all(|(i, n)| *n == i as u64);
    let repeated: Vec<_> = counts.iter().filter(|(_, c)| **c > 1).take(10).collect();
    let out = Outcome {
        committed: lines.len() as u64,
        distinct: counts.len() as u64,
        duplicates: lines.len() as u64 - counts.len() as u64,
        uncommitted: everything - lines.len() as u64,
        offset,
        position,
    };
    assert!(
        in_order,
        "read_committed must see lines 0..{} once each, in order; {} distinct, repeated (line, times): {repeated:?}; first out of place: {:?}",
        lines.len(),
        out.distinct,
        lines
            .iter()
            .enumerate()
            .find(|(i, n)| **n != *i as u64)
    );
    out
}

/// Java's connector and task states (`GET /connectors/<name>/status`);
/// panics on FAILED.
fn java_states(api: &Api, connector: &str) -> Option<(String, Vec<String>)> {
    let reply = api
        .try_call("GET", &format!("/connectors/{connector}/status"), None)
        .ok()?;
    if reply.status != 200 {
        return None;
    }
    let (c, tasks) = support::rest::states(&reply.body);
    assert!(
        c != "FAILED" && tasks.iter().all(|t| t != "FAILED"),
        "FAILED in Java Connect: {:#}",
        reply.body
    );
    Some((c, tasks))
}

/// The JVM's threads, for a stop that hangs.
fn jstack(pid: u32) -> String {
    std::process::Command::new("jstack")
        .arg(pid.to_string())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_else(|e| format!("jstack: {e}"))
}

/// Everything the phases share.
struct Run {
    state: PathBuf,
    group: String,
    connector: String,
    data_topic: String,
    input: PathBuf,
    /// The connector config as last written.
    config: Props,
    watch: Watch,
    /// Set up by the first kconnect phase (the worker creates the topics).
    op: Option<Operator>,
    /// Lines in the file.
    written: u64,
}

/// How a phase went, beyond what the topics say.
struct PhaseReport {
    /// Config-topic records until the worker caught up, and after.
    at_start: Writes,
    later: Writes,
    /// Java's log lines about fencing and offsets (Java phases).
    fencing: Vec<String>,
    offsets: Vec<String>,
}

impl Run {
    fn op(&mut self) -> &mut Operator {
        self.op.as_mut().expect("the operator")
    }

    fn transactional_id(&self) -> String {
        format!("{}-{}-0", self.group, self.connector)
    }

    /// The connector config with another transaction interval.
    fn reconfigured(&self) -> Props {
        let mut config = self.config.clone();
        let next = if config["transaction.boundary.interval.ms"] == TX_INTERVAL_MS {
            "1500"
        } else {
            TX_INTERVAL_MS
        };
        config.insert("transaction.boundary.interval.ms".into(), next.into());
        config
    }

    fn kconnect_props(&self, phase: usize) -> String {
        let path = self
            .state
            .join("kconnect")
            .join(format!("worker-{phase}.properties"));
        let mut props = common_props(&self.group);
        props.extend([
            ("listeners", format!("http://127.0.0.1:{}", free_port())),
            ("worker.sync.interval.ms", "100".into()),
        ]);
        write_props(&path, &props);
        path.to_string_lossy().into_owned()
    }

    /// Polls the data topic (and, for kconnect, does the operator's
    /// fencing step) until `done`.
    fn run_until(
        &mut self,
        phase: usize,
        worker: &mut dyn FnMut(&mut Run) -> String,
        what: &str,
        done: &dyn Fn(&Run) -> bool,
    ) {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let trouble = worker(self);
            self.watch.poll();
            if done(self) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "phase {phase}: the worker did not {what} within 180 s ({} committed, {} lines in the file)\n{trouble}",
                self.watch.committed.records,
                self.written,
            );
        }
    }

    fn kconnect_phase(
        &mut self,
        phase: usize,
        stop: Stop,
        reconfigure: bool,
        at_start: u64,
    ) -> PhaseReport {
        let props = self.kconnect_props(phase);
        let dir = self.state.join("kconnect");
        let mut kc = Process::spawn(
            &dir,
            &[
                "worker",
                "--worker-id",
                "w-0",
                "--health-listen",
                "127.0.0.1:0",
                &props,
            ],
            &[],
            &format!("worker-{phase}"),
        );
        let connector = self.connector.clone();
        if self.op.is_none() {
            self.op = Some(first_placement(
                &mut kc,
                &self.group,
                &connector,
                &self.config,
            ));
            // Task configs published, then nothing before the task-count
            // record: the worker waits for the fencing.
            let op = self.op();
            let published = wait_for(Duration::from_secs(60), || {
                kc.assert_running();
                op.refresh();
                op.config.tasks.contains_key(&connector)
            });
            assert!(
                published,
                "kconnect published no task configs for {connector}; log:\n{}",
                kc.log_tail()
            );
            assert!(
                op.config.pending_fencing(&connector),
                "new task configs of an exactly-once source must await a fencing: {:?}",
                op.config
            );
            let quiet_until = Instant::now() + Duration::from_secs(3);
            while Instant::now() < quiet_until {
                kc.assert_running();
                self.watch.poll();
            }
            assert_eq!(
                self.watch.written.records, 0,
                "kconnect's task wrote before the task-count record existed"
            );
            eprintln!(
                "phase {phase}: task configs published; no record written for 3 s before the fencing"
            );
        }
        let mut operate = |run: &mut Run| {
            kc.assert_running();
            run.op().fence();
            kc.log_tail()
        };
        self.run_until(phase, &mut operate, "catch up with the file", &|r| {
            r.watch.committed.records >= at_start
        });
        let op = self.op();
        let before = op.take_writes(&connector);
        assert_eq!(
            op.config.task_count_records.get(&connector),
            Some(&1),
            "the task-count record after the newest task configs"
        );
        if reconfigure {
            // A changed Connector resource: the operator writes the config;
            // the worker publishes task configs; the operator fences.
            let config = self.reconfigured();
            let op = self.op();
            let generation = op.config.task_generations.get(&connector).copied();
            op.send(ConfigRecord::Connector {
                name: connector.clone(),
                props: Some(config.clone()),
            });
            self.config = config;
            self.run_until(phase, &mut operate, "take the new config", &|r| {
                let c = &r.op.as_ref().expect("the operator").config;
                c.task_generations.get(&r.connector).copied() != generation
                    && !c.pending_fencing(&r.connector)
            });
        }
        let feeder = Feeder::start(&self.input, self.written);
        self.run_until(phase, &mut operate, "keep up with the feeder", &|r| {
            r.watch.committed.records >= at_start + RUN_BEYOND
        });
        match stop {
            Stop::Term => {
                let exit = kc.terminate();
                assert!(exit.success(), "kconnect worker: {}", kc.log_tail());
                self.written = feeder.stop();
            }
            Stop::Kill => {
                self.run_until(phase, &mut operate, "open a transaction", &|r| {
                    r.watch.open_transaction()
                });
                kc.kill9();
                self.written = feeder.stop();
            }
            Stop::Drain => {
                self.written = feeder.stop();
                let total = self.written;
                self.run_until(phase, &mut operate, "commit every line", &|r| {
                    r.watch.committed.records >= total
                });
                let exit = kc.terminate();
                assert!(exit.success(), "kconnect worker: {}", kc.log_tail());
            }
        }
        let log = std::fs::read_to_string(&kc.log).unwrap_or_default();
        for l in log
            .lines()
            .filter(|l| l.contains("fenc") || l.contains("resuming from committed offset"))
        {
            eprintln!("  kconnect: {l}");
        }
        let later = self.op().take_writes(&connector);
        PhaseReport {
            at_start: before,
            later,
            fencing: Vec::new(),
            offsets: Vec::new(),
        }
    }

    fn java_phase(
        &mut self,
        phase: usize,
        stop: Stop,
        reconfigure: bool,
        at_start: u64,
    ) -> PhaseReport {
        let dir = self.state.join(format!("java-{phase}"));
        std::fs::create_dir_all(&dir).expect("creating Java's dir");
        let port = free_port();
        let props = dir.join("worker.properties");
        let mut worker = common_props(&self.group);
        worker.extend([
            ("listeners", format!("http://127.0.0.1:{port}")),
            // Every plugin here has a ServiceLoader manifest; scanning the
            // classpath too costs seconds.
            ("plugin.discovery", "service_load".into()),
            // A Java worker SIGKILLed stays in the group until its session
            // times out; nobody should wait for it to come back.
            ("scheduled.rebalance.max.delay.ms", "0".into()),
        ]);
        write_props(&props, &worker);
        let mut java = JavaConnect::distributed(&dir, &props);
        let api = Api::new(port);
        let connector = self.connector.clone();
        // The debug lines that say which offset the task resumed from and
        // what the herder decided about fencing (set as soon as the REST
        // API answers, which is usually before the herder decides).
        let levels = wait_for(Duration::from_secs(120), || {
            java.assert_running();
            [
                "org.apache.kafka.connect.file.FileStreamSourceTask",
                "org.apache.kafka.connect.runtime.distributed.DistributedHerder",
            ]
            .iter()
            .all(|logger| {
                api.try_call(
                    "PUT",
                    &format!("/admin/loggers/{logger}"),
                    Some(json!({"level": "DEBUG"})),
                )
                .is_ok_and(|r| r.status == 200)
            })
        });
        assert!(
            levels,
            "Java's REST API never answered\n{}",
            java.log_tail()
        );
        if phase == 2 {
            // Java takes the connector as an exactly-once source
            // (`exactly.once.support=required`).
            let reply = api.call(
                "PUT",
                "/connector-plugins/FileStreamSourceConnector/config/validate",
                Some(json!(self.config)),
            );
            let eos = reply.body["configs"].as_array().and_then(|cs| {
                cs.iter()
                    .find(|c| c["value"]["name"] == "exactly.once.support")
            });
            assert!(
                reply.status == 200 && reply.body["error_count"] == 0 && eos.is_some(),
                "Java's validation of the connector config: {:#}",
                reply.body
            );
            eprintln!(
                "phase {phase}: Java validates the config with 0 errors; exactly.once.support: {}",
                eos.map(|c| c["value"].to_string()).unwrap_or_default()
            );
        }
        let mut watch_java = |_: &mut Run| {
            java.assert_running();
            let states = java_states(&api, &connector);
            let log = java.log();
            let errors = error_lines(&log);
            assert!(
                errors.is_empty(),
                "phase {phase}: Java Connect logged ERROR:\n{}",
                errors.join("\n")
            );
            format!("states {states:?}\n{}", java.log_tail())
        };
        self.run_until(phase, &mut watch_java, "catch up with the file", &|r| {
            r.watch.committed.records >= at_start
        });
        let before = self.op().take_writes(&connector);
        eprintln!(
            "phase {phase}: Java caught up ({} committed); states {:?}",
            self.watch.committed.records,
            java_states(&api, &connector)
        );
        if reconfigure {
            // Through Java's REST API: Java writes the config, new task
            // configs and (no older generation to fence with one task
            // before and after) its task-count record.
            let config = self.reconfigured();
            let reply = api.call(
                "PUT",
                &format!("/connectors/{connector}/config"),
                Some(json!(config)),
            );
            assert_eq!(reply.status, 200, "reconfiguring in Java: {:#}", reply.body);
            self.config = config;
        }
        let feeder = Feeder::start(&self.input, self.written);
        self.run_until(phase, &mut watch_java, "keep up with the feeder", &|r| {
            r.watch.committed.records >= at_start + RUN_BEYOND
        });
        match stop {
            Stop::Term => {
                // No idle keep-alive connection of ours left open into
                // Jetty's graceful stop.
                drop(api);
                let exit = java.stop();
                assert!(
                    exit.is_some(),
                    "Java Connect still running {:?} after SIGTERM\n{}\n--- jstack ---\n{}",
                    support::java_connect::STOP_BOUND,
                    java.log_tail(),
                    jstack(java.child.id())
                );
            }
            Stop::Kill => {
                self.run_until(phase, &mut watch_java, "open a transaction", &|r| {
                    r.watch.open_transaction()
                });
                java.child.kill().expect("SIGKILL to Java Connect");
                java.child.wait().expect("waiting for Java Connect");
            }
            Stop::Drain => unreachable!("the last phase is kconnect's"),
        }
        self.written = feeder.stop();
        let log = java.log();
        let errors = error_lines(&log);
        assert!(
            errors.is_empty(),
            "phase {phase}: Java Connect logged {} ERROR lines:\n{}",
            errors.len(),
            errors.join("\n")
        );
        let tx_id = self.transactional_id();
        let later = self.op().take_writes(&connector);
        PhaseReport {
            at_start: before,
            later,
            fencing: fencing_lines(&log, &tx_id)
                .into_iter()
                .map(str::to_owned)
                .collect(),
            offsets: offset_lines(&log).into_iter().map(str::to_owned).collect(),
        }
    }
}

#[test]
fn exactly_once_file_source_moves_between_kconnect_and_java_connect_without_loss_or_repeats() {
    let started = Instant::now();
    support::java_connect::install();
    let (_tmp, state) = state_dir("eos-java-interop");
    let group = unique("eosx");
    let data_topic = unique("eosx-lines");
    create_topic(&data_topic, 1);
    let connector = unique("eosx-file");
    let input = state.join("lines.txt");
    let file = input.to_string_lossy().into_owned();
    let offsets_topic = format!("{group}-offsets");
    std::fs::create_dir_all(state.join("kconnect")).expect("creating kconnect's dir");
    let config: Props = [
        ("name", connector.as_str()),
        ("connector.class", SOURCE_CLASS),
        ("tasks.max", "1"),
        ("file", file.as_str()),
        ("topic", data_topic.as_str()),
        ("exactly.once.support", "required"),
        ("transaction.boundary", "interval"),
        ("transaction.boundary.interval.ms", TX_INTERVAL_MS),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut run = Run {
        watch: Watch {
            committed: Follower::new(&data_topic, "read_committed"),
            written: Follower::new(&data_topic, "read_uncommitted"),
        },
        state: state.clone(),
        group,
        connector: connector.clone(),
        data_topic,
        input,
        config,
        op: None,
        written: 0,
    };
    let mut before = Outcome {
        committed: 0,
        distinct: 0,
        duplicates: 0,
        uncommitted: 0,
        offset: None,
        position: None,
    };
    let mut summary = Vec::new();

    for (i, (side, stop, reconfigure)) in PHASES.into_iter().enumerate() {
        let phase = i + 1;
        let phase_started = Instant::now();
        append_lines(&run.input, run.written..run.written + BLOCK);
        run.written += BLOCK;
        let at_start = run.written;
        eprintln!(
            "phase {phase}: {side:?} until {stop:?}{}; the file holds {at_start} lines, {} committed",
            if reconfigure { ", reconfigured while running" } else { "" },
            before.committed
        );
        let report = match side {
            Side::Kconnect => run.kconnect_phase(phase, stop, reconfigure, at_start),
            Side::Java => run.java_phase(phase, stop, reconfigure, at_start),
        };
        let took = phase_started.elapsed();
        let now = outcome(&run.data_topic, &offsets_topic, &connector, &file);
        eprintln!(
            "phase {phase} ({side:?}, {stop:?}) in {took:?}: lines written {}, read_committed {} (+{} this phase), distinct {}, duplicates {}, records of aborted/open transactions {} (+{}), committed offset {:?}",
            run.written,
            now.committed,
            now.committed - before.committed,
            now.distinct,
            now.duplicates,
            now.uncommitted,
            now.uncommitted - before.uncommitted,
            now.offset,
        );
        eprintln!(
            "  config topic until caught up: {:?}\n  config topic after: {:?}",
            report.at_start, report.later
        );
        if side == Side::Java {
            eprintln!("  Java log about fencing ({} lines):", report.fencing.len());
            for l in &report.fencing {
                eprintln!("    {l}");
            }
            eprintln!("  Java log about the resumed offset:");
            for l in &report.offsets {
                eprintln!("    {l}");
            }
        }

        assert_eq!(now.duplicates, 0, "phase {phase}: duplicates");
        assert_eq!(
            now.position,
            Some(now.committed * LINE_BYTES),
            "phase {phase}: the committed offset must end where the committed lines end ({} lines); offset {:?}",
            now.committed,
            now.offset
        );
        assert!(
            now.committed >= at_start + RUN_BEYOND,
            "phase {phase}: {side:?} committed only up to {}",
            now.committed
        );
        if phase > 1 {
            // The task configs and the task-count record the other side
            // left were taken as they are: no new task configs, no
            // fencing round, no task-count record of its own.
            assert!(
                report.at_start.nothing_for_tasks(),
                "phase {phase}: {side:?} rewrote task configs or the task-count record the other side left: {:?}",
                report.at_start
            );
        }
        if reconfigure {
            assert!(
                report.later.new_generation()
                    && report
                        .later
                        .task_counts
                        .iter()
                        .all(|v| v == r#"{"task-count":1}"#),
                "phase {phase}: a reconfiguration must leave new task configs and a task-count record: {:?}",
                report.later
            );
        } else {
            assert!(
                report.later.nothing_for_tasks(),
                "phase {phase}: task configs or task-count records written without a reconfiguration: {:?}",
                report.later
            );
        }
        if stop == Stop::Kill {
            assert!(
                now.uncommitted > before.uncommitted,
                "phase {phase}: the SIGKILL was to land inside an open transaction, yet no uncommitted records are in the topic"
            );
        }
        if stop == Stop::Drain {
            assert_eq!(now.committed, run.written, "every line, exactly once");
        }
        summary.push(format!(
            "phase {phase} {side:?}/{stop:?}: written {}, read_committed {} (+{}), distinct {}, duplicates {}, aborted {}",
            run.written,
            now.committed,
            now.committed - before.committed,
            now.distinct,
            now.duplicates,
            now.uncommitted - before.uncommitted
        ));
        before = now;
    }

    let left = processes_naming(&state);
    assert!(left.is_empty(), "processes left behind: {left:#?}");
    eprintln!("summary:");
    for s in &summary {
        eprintln!("  {s}");
    }
    eprintln!("checked in {:?}", started.elapsed());
}

/// The first kconnect worker created the internal topics: writes the
/// connector's config and target state, and its assignment to `w-0`, as
/// the operator does.
fn first_placement(kc: &mut Process, group: &str, connector: &str, config: &Props) -> Operator {
    let bootstrap = kafka_bootstrap();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (config_log, status_log) = java_connect::internal_topic_logs(&runtime, kc, group);
    let mut fencing = ClientConfig::new();
    fencing.set("bootstrap.servers", &bootstrap);
    let mut op = Operator {
        runtime,
        group: group.to_owned(),
        config_log,
        config: ConfigState::default(),
        fencing,
        records: Vec::new(),
    };
    op.send(ConfigRecord::Connector {
        name: connector.to_owned(),
        props: Some(config.clone()),
    });
    op.send(ConfigRecord::TargetState {
        connector: connector.to_owned(),
        state: TargetState::Started,
    });
    let (k, v) = StatusRecord::Assignment {
        group: group.to_owned(),
        value: Some(json!({"generation": 1, "workers": {"w-0": {
            "connectors": [connector],
            "tasks": [format!("{connector}-0")],
        }}})),
    }
    .encode();
    op.runtime
        .block_on(status_log.send(&k, v.as_deref()))
        .expect("writing the assignment record");
    op
}
