//! End to end against the real Kafka broker: file → Kafka → file through
//! the `kconnect standalone` binary, including a SIGKILL mid-stream.

mod support;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use support::*;

/// Fixed-width lines, so line `i` ends at byte `LINE_LEN * (i + 1)`.
const LINE_LEN: u64 = 12;

fn line(i: usize) -> String {
    format!("line-{i:06}")
}

fn append_lines(path: &Path, range: std::ops::Range<usize>) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("opening input");
    let mut text = String::with_capacity(range.len() * LINE_LEN as usize);
    for i in range {
        text.push_str(&line(i));
        text.push('\n');
    }
    f.write_all(text.as_bytes()).expect("appending input");
}

struct Pipeline {
    dir: tempfile::TempDir,
    topic: String,
    sink_name: String,
    input: PathBuf,
    output: PathBuf,
    offsets: PathBuf,
    worker: PathBuf,
    source: PathBuf,
    sink: PathBuf,
}

impl Pipeline {
    fn new(tag: &str) -> Pipeline {
        let dir = tempfile::tempdir().expect("tempdir");
        let topic = unique(tag);
        create_topic(&topic, 1);
        let p = |n: &str| dir.path().join(n);
        let pipeline = Pipeline {
            topic: topic.clone(),
            sink_name: format!("{topic}-sink"),
            input: p("input.txt"),
            output: p("output.txt"),
            offsets: p("connect.offsets"),
            worker: p("worker.properties"),
            source: p("source.properties"),
            sink: p("sink.properties"),
            dir,
        };
        // Java's standalone defaults: JsonConverter with schemas on.
        write_props(
            &pipeline.worker,
            &[
                ("bootstrap.servers", kafka_bootstrap()),
                (
                    "key.converter",
                    "org.apache.kafka.connect.json.JsonConverter".into(),
                ),
                (
                    "value.converter",
                    "org.apache.kafka.connect.json.JsonConverter".into(),
                ),
                (
                    "offset.storage.file.filename",
                    pipeline.offsets.display().to_string(),
                ),
                ("offset.flush.interval.ms", "200".into()),
            ],
        );
        write_props(
            &pipeline.source,
            &[
                ("name", format!("{topic}-source")),
                (
                    "connector.class",
                    "org.apache.kafka.connect.file.FileStreamSourceConnector".into(),
                ),
                ("tasks.max", "1".into()),
                ("file", pipeline.input.display().to_string()),
                ("topic", topic.clone()),
            ],
        );
        write_props(
            &pipeline.sink,
            &[
                ("name", pipeline.sink_name.clone()),
                ("connector.class", "FileStreamSink".into()),
                ("tasks.max", "1".into()),
                ("file", pipeline.output.display().to_string()),
                ("topics", topic),
            ],
        );
        pipeline
    }

    fn start(&self, tag: &str) -> Process {
        Process::standalone(
            self.dir.path(),
            &[&self.worker, &self.source, &self.sink],
            tag,
        )
    }

    /// The committed source position, from the offsets file.
    fn committed_position(&self) -> u64 {
        let text = std::fs::read_to_string(&self.offsets).unwrap_or_default();
        if text.is_empty() {
            return 0;
        }
        let map: HashMap<String, serde_json::Value> =
            serde_json::from_str(&text).expect("offsets file is JSON");
        map.values()
            .filter_map(|v| v["position"].as_u64())
            .max()
            .unwrap_or(0)
    }
}

#[test]
fn file_to_kafka_to_file_100k_lines_complete_and_in_order() {
    const N: usize = 100_000;
    let p = Pipeline::new("e2e-order");
    append_lines(&p.input, 0..N);
    let mut proc = p.start("run");
    wait_until(
        "100 000 lines in the sink file",
        Duration::from_secs(180),
        || {
            proc.assert_running();
            count_lines(&p.output) >= N
        },
    );
    let status = proc.terminate();
    assert!(
        status.success(),
        "kconnect exited with {status}; log:\n{}",
        proc.log_tail()
    );

    let output = std::fs::read_to_string(&p.output).expect("reading output");
    let lines: Vec<&str> = output.lines().collect();
    assert_eq!(
        lines.len(),
        N,
        "exactly every line, no duplicates without a crash"
    );
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(*l, line(i), "line {i} out of order or altered");
    }
    // The topic holds Java JsonConverter envelopes of the lines.
    let first = &read_topic(&p.topic)[0];
    assert_eq!(
        std::str::from_utf8(first).unwrap(),
        r#"{"schema":{"type":"string","optional":false},"payload":"line-000000"}"#
    );
    // Everything was committed on the graceful stop.
    assert_eq!(p.committed_position(), LINE_LEN * N as u64);
    assert_eq!(
        committed_offset(&format!("connect-{}", p.sink_name), &p.topic),
        N as i64
    );
}

#[test]
fn sigkill_mid_stream_loses_nothing_and_resumes_from_committed_offsets() {
    const N: usize = 100_000;
    const CHUNK: usize = 5_000;
    let p = Pipeline::new("e2e-crash");
    append_lines(&p.input, 0..CHUNK);

    // The input grows while kconnect runs, so the kill lands mid-stream.
    let mut proc = p.start("before-kill");
    let mut written = CHUNK;
    // Keep a fifth of the input for after the restart, so the kill always
    // lands before the end, however slow the machine.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while count_lines(&p.output) < 30_000 || p.committed_position() == 0 {
        proc.assert_running();
        assert!(
            std::time::Instant::now() < deadline,
            "the sink never reached 30 000 lines; log:\n{}",
            proc.log_tail()
        );
        if written < N - N / 5 {
            append_lines(&p.input, written..written + CHUNK);
            written += CHUNK;
        }
        std::thread::sleep(Duration::from_millis(150));
    }
    proc.kill9();

    let committed_position = p.committed_position();
    let sink_group = format!("connect-{}", p.sink_name);
    let committed_sink = committed_offset(&sink_group, &p.topic);
    let lines_before_restart = count_lines(&p.output);
    assert!(
        committed_position > 0,
        "source offsets were committed before the kill"
    );
    assert!(
        committed_sink > 0,
        "sink offsets were committed before the kill"
    );
    assert!(
        lines_before_restart as i64 >= committed_sink,
        "the sink never commits past what it flushed"
    );
    eprintln!(
        "killed with {written} lines written, {lines_before_restart} in the sink file, \
         source committed to byte {committed_position}, sink group at offset {committed_sink}"
    );

    append_lines(&p.input, written..N);
    let mut proc = p.start("after-restart");
    let topic_len = || read_topic(&p.topic).len();
    wait_until(
        "every line in the sink file",
        Duration::from_secs(180),
        || {
            proc.assert_running();
            let out = std::fs::read_to_string(&p.output).unwrap_or_default();
            out.ends_with(&format!("{}\n", line(N - 1)))
        },
    );
    let status = proc.terminate();
    assert!(
        status.success(),
        "kconnect exited with {status}; log:\n{}",
        proc.log_tail()
    );

    // Nothing lost: every line reached Kafka and the sink file, in order of
    // first appearance.
    let topic: Vec<String> = read_topic(&p.topic)
        .iter()
        .map(|v| {
            let json: serde_json::Value = serde_json::from_slice(v).expect("topic holds JSON");
            json["payload"].as_str().expect("string payload").to_owned()
        })
        .collect();
    let output = std::fs::read_to_string(&p.output).expect("reading output");
    let out_lines: Vec<&str> = output.lines().collect();
    for (what, seq) in [
        (
            "topic",
            topic.iter().map(String::as_str).collect::<Vec<_>>(),
        ),
        ("sink file", out_lines.clone()),
    ] {
        let mut next = 0;
        for l in &seq {
            let i: usize = l
                .strip_prefix("line-")
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("{what} holds a corrupt line {l:?}"));
            assert!(i <= next, "{what}: line {i} appears before line {next}");
            if i == next {
                next += 1;
            }
        }
        assert_eq!(next, N, "{what} holds every line");
    }

    // The source did not re-read lines whose offsets were committed: each of
    // them is in the topic exactly once.
    let committed_lines = (committed_position / LINE_LEN) as usize;
    let mut seen = vec![0u32; N];
    for l in &topic {
        seen[l[5..].parse::<usize>().unwrap()] += 1;
    }
    assert!(
        seen[..committed_lines].iter().all(|c| *c == 1),
        "a line before the committed source offset was produced twice"
    );
    let source_dups = topic.len() - N;

    // The sink resumed from its committed group offset: everything after it
    // was written again, nothing before it.
    assert_eq!(
        out_lines.len(),
        lines_before_restart + (topic_len() - committed_sink as usize),
        "sink output = lines before the kill + records from the committed offset on"
    );
    eprintln!(
        "duplicates: {source_dups} re-produced by the source, {} re-written by the sink",
        out_lines.len() - topic.len()
    );
}

#[test]
fn datagen_two_tasks_into_four_partitions_and_a_two_task_sink_deliver_every_record() {
    const COUNT: usize = 20_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let topic = unique("e2e-datagen");
    create_topic(&topic, 4);
    let worker = dir.path().join("worker.properties");
    let source = dir.path().join("datagen.properties");
    let sink = dir.path().join("sink.yaml");
    let output = dir.path().join("orders.txt");
    write_props(
        &worker,
        &[
            ("bootstrap.servers", kafka_bootstrap()),
            (
                "offset.storage.file.filename",
                dir.path().join("offsets").display().to_string(),
            ),
            ("offset.flush.interval.ms", "500".into()),
        ],
    );
    write_props(
        &source,
        &[
            ("name", format!("{topic}-gen")),
            ("connector.class", "datagen".into()),
            ("tasks.max", "2".into()),
            ("topic", topic.clone()),
            ("count", COUNT.to_string()),
            ("rate", "0".into()),
        ],
    );
    // YAML connector config, in Connect's REST shape.
    std::fs::write(
        &sink,
        format!(
            "name: {topic}-sink\nconfig:\n  connector.class: FileStreamSink\n  tasks.max: 2\n  topics: {topic}\n  file: {}\n",
            output.display()
        ),
    )
    .expect("writing sink yaml");
    let mut proc = Process::standalone(dir.path(), &[&worker, &source, &sink], "datagen");
    wait_until(
        "every generated order in the sink file",
        Duration::from_secs(120),
        || {
            proc.assert_running();
            count_lines(&output) >= COUNT
        },
    );
    let status = proc.terminate();
    assert!(status.success(), "log:\n{}", proc.log_tail());
    let log = std::fs::read_to_string(&proc.log).unwrap_or_default();
    assert!(
        log.contains("partitions assigned"),
        "sink tasks got partitions through the group"
    );

    let text = std::fs::read_to_string(&output).expect("reading output");
    let mut ids: Vec<i64> = text
        .lines()
        .map(|l| {
            l.strip_prefix("Struct{id=")
                .and_then(|r| r.split(',').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("unexpected sink line {l:?}"))
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(
        ids,
        (0..COUNT as i64).collect::<Vec<_>>(),
        "every order id exactly covered"
    );
}

#[test]
fn malformed_json_fails_the_sink_task_with_a_trace() {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let dir = tempfile::tempdir().expect("tempdir");
    let topic = unique("e2e-bad-json");
    create_topic(&topic, 1);
    let producer: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", kafka_bootstrap())
        .create()
        .expect("producer");
    producer
        .send(BaseRecord::<(), str>::to(&topic).payload("{this is not json"))
        .expect("queueing bad record");
    producer.flush(Duration::from_secs(10)).expect("flushing");

    let worker = dir.path().join("worker.properties");
    let sink = dir.path().join("sink.properties");
    write_props(&worker, &[("bootstrap.servers", kafka_bootstrap())]);
    write_props(
        &sink,
        &[
            ("name", format!("{topic}-sink")),
            ("connector.class", "FileStreamSink".into()),
            ("topics", topic.clone()),
            ("file", dir.path().join("out.txt").display().to_string()),
        ],
    );
    let mut proc = Process::standalone(dir.path(), &[&worker, &sink], "bad-json");
    wait_until("the sink task to fail", Duration::from_secs(60), || {
        proc.assert_running();
        std::fs::read_to_string(&proc.log)
            .unwrap_or_default()
            .contains("task FAILED")
    });
    let status = proc.terminate();
    assert!(status.success());
    let log = std::fs::read_to_string(&proc.log).unwrap_or_default();
    let failed = log
        .lines()
        .find(|l| l.contains("task FAILED"))
        .unwrap_or_default();
    assert!(
        failed.contains(&format!("{topic}-0 offset 0")) && failed.contains("value"),
        "the trace names the record and what failed: {failed}"
    );
    assert_eq!(count_lines(&dir.path().join("out.txt")), 0);
    assert_eq!(
        committed_offset(&format!("connect-{topic}-sink"), &topic),
        -1,
        "nothing committed past the bad record"
    );
}

/// A consumer-group rebalance redelivers nothing: before a sink task gives
/// up a partition it flushes and commits (Java's `onPartitionsRevoked`), so
/// the member that takes the partition over starts after the last record
/// the task wrote. The periodic commit is out of the picture (flush interval
/// of ten minutes): only the commit on revocation can have stored them.
#[test]
fn a_rebalance_commits_what_the_sink_wrote_before_its_partitions_move() {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Message;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    use rdkafka::ClientConfig;

    const N: usize = 3_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let topic = unique("e2e-revoke");
    create_topic(&topic, 3);
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", kafka_bootstrap())
        .create()
        .expect("producer");
    for i in 0..N {
        let value = format!("record-{i:05}");
        producer
            .send(
                BaseRecord::<(), _>::to(&topic)
                    .partition((i % 3) as i32)
                    .payload(&value),
            )
            .expect("queueing a record");
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(30)).expect("producing");

    let worker = dir.path().join("worker.properties");
    let sink = dir.path().join("sink.properties");
    let output = dir.path().join("out.txt");
    let name = format!("{topic}-sink");
    write_props(
        &worker,
        &[
            ("bootstrap.servers", kafka_bootstrap()),
            (
                "offset.storage.file.filename",
                dir.path().join("offsets").display().to_string(),
            ),
            ("offset.flush.interval.ms", "600000".into()),
            (
                "value.converter",
                "org.apache.kafka.connect.storage.StringConverter".into(),
            ),
        ],
    );
    write_props(
        &sink,
        &[
            ("name", name.clone()),
            ("connector.class", "FileStreamSink".into()),
            ("tasks.max", "1".into()),
            ("topics", topic.clone()),
            ("file", output.display().to_string()),
        ],
    );
    let mut proc = Process::standalone(dir.path(), &[&worker, &sink], "revoke");
    wait_until(
        "every record in the sink file",
        Duration::from_secs(60),
        || {
            proc.assert_running();
            count_lines(&output) >= N
        },
    );

    // A second member joins the task's group: cooperative-sticky takes a
    // partition away from the task and hands it over.
    let joiner: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka_bootstrap())
        .set("group.id", format!("connect-{name}"))
        .set("partition.assignment.strategy", "cooperative-sticky")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("joining consumer");
    joiner.subscribe(&[&topic]).expect("subscribing");
    let mut redelivered = Vec::new();
    let mut owned_since: Option<std::time::Instant> = None;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    // Polled for 3 s after the hand-over: records of the partition would
    // arrive by then (they are all in the topic).
    while owned_since.is_none_or(|t| t.elapsed() < Duration::from_secs(3)) {
        assert!(
            std::time::Instant::now() < deadline,
            "the joining member never got a partition; kconnect log:\n{}",
            proc.log_tail()
        );
        if let Some(m) = joiner.poll(Duration::from_millis(100)) {
            let m = m.expect("consuming");
            redelivered.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
        }
        let owns = joiner.assignment().map(|a| a.count()).unwrap_or(0) > 0;
        if owns && owned_since.is_none() {
            owned_since = Some(std::time::Instant::now());
        }
    }
    let taken = joiner.assignment().expect("assignment");
    let log = std::fs::read_to_string(&proc.log).unwrap_or_default();
    assert!(
        log.contains("partitions revoked"),
        "the task gave a partition up; log:\n{}",
        proc.log_tail()
    );
    assert!(
        redelivered.is_empty(),
        "the member that took over {:?} got {} records the task had already written, e.g. {:?}",
        taken
            .elements()
            .iter()
            .map(|e| e.partition())
            .collect::<Vec<_>>(),
        redelivered.len(),
        redelivered.first()
    );
    // kconnect stops while the joiner still holds its partition (the
    // consumer's close revokes the task's partitions, with the loop gone).
    let status = proc.terminate();
    assert!(status.success(), "log:\n{}", proc.log_tail());
    assert_eq!(count_lines(&output), N, "the sink wrote every record once");
    // Leave the group before the drop: librdkafka's destroy of a member
    // that still owns partitions can wait forever.
    joiner.unsubscribe();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while joiner.assignment().map(|a| a.count()).unwrap_or(0) > 0
        && std::time::Instant::now() < deadline
    {
        joiner.poll(Duration::from_millis(100));
    }
}
