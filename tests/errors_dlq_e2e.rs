//! End to end against the real Kafka broker: a FileStreamSink's error
//! handling (`errors.tolerance`, the dead letter queue with Java's
//! `__connect.errors.*` context headers, `errors.log.enable`) and its
//! transform chain, through the `kconnect standalone` binary.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;

use support::*;

fn producer() -> BaseProducer {
    ClientConfig::new()
        .set("bootstrap.servers", kafka_bootstrap())
        .set("linger.ms", "0")
        .create()
        .expect("test producer")
}

/// Produces raw values (with optional headers) in order to partition 0.
/// A raw value and its headers.
type Input<'a> = (Vec<u8>, Vec<(&'a str, &'a str)>);

fn produce(topic: &str, records: &[Input<'_>]) {
    let p = producer();
    for (value, headers) in records {
        let mut r = BaseRecord::<(), [u8]>::to(topic)
            .payload(value.as_slice())
            .partition(0);
        if !headers.is_empty() {
            let hs = headers.iter().fold(OwnedHeaders::new(), |hs, (k, v)| {
                hs.insert(Header {
                    key: k,
                    value: Some(*v),
                })
            });
            r = r.headers(hs);
        }
        p.send(r).expect("queueing a test record");
    }
    p.flush(Duration::from_secs(10)).expect("flushing");
}

fn high_watermark(topic: &str) -> i64 {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka_bootstrap())
        .create()
        .expect("watermark consumer");
    consumer
        .fetch_watermarks(topic, 0, Duration::from_secs(10))
        .map(|(_, high)| high)
        .unwrap_or(-1)
}

fn worker_props(path: &Path) {
    write_props(
        path,
        &[
            ("bootstrap.servers", kafka_bootstrap()),
            ("offset.flush.interval.ms", "200".into()),
        ],
    );
}

/// What each input record is, and what must become of it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Good,
    /// Not JSON: VALUE_CONVERTER fails.
    Malformed,
    /// A JSON string: InsertField$Value needs a map, TRANSFORMATION fails.
    NotAMap,
    /// Carries the `skip` header: Filter drops it.
    Skipped,
}

fn kind_of(i: usize) -> Kind {
    match i % 10 {
        3 | 7 => Kind::Malformed,
        5 => Kind::NotAMap,
        9 => Kind::Skipped,
        _ => Kind::Good,
    }
}

#[test]
fn tolerance_all_sends_failed_records_to_the_dlq_with_javas_context_headers() {
    const N: usize = 200;
    let dir = tempfile::tempdir().expect("tempdir");
    let topic = unique("dlq-in");
    let dlq = format!("{topic}-dlq");
    let name = format!("{topic}-sink");
    create_topic(&topic, 1);

    let records: Vec<Input<'_>> = (0..N)
        .map(|i| match kind_of(i) {
            Kind::Good => (format!(r#"{{"id":{i}}}"#).into_bytes(), vec![]),
            Kind::Malformed => (
                format!("{{not json {i}").into_bytes(),
                vec![("trace", "abc")],
            ),
            Kind::NotAMap => (format!(r#""text-{i}""#).into_bytes(), vec![]),
            Kind::Skipped => (format!(r#"{{"id":{i}}}"#).into_bytes(), vec![("skip", "1")]),
        })
        .collect();
    produce(&topic, &records);

    let worker = dir.path().join("worker.properties");
    let sink = dir.path().join("sink.properties");
    let output = dir.path().join("out.txt");
    worker_props(&worker);
    write_props(
        &sink,
        &[
            ("name", name.clone()),
            ("connector.class", "FileStreamSink".into()),
            ("topics", topic.clone()),
            ("file", output.display().to_string()),
            ("key.converter", "StringConverter".into()),
            (
                "value.converter",
                "org.apache.kafka.connect.json.JsonConverter".into(),
            ),
            ("value.converter.schemas.enable", "false".into()),
            ("errors.tolerance", "all".into()),
            ("errors.log.enable", "true".into()),
            ("errors.log.include.messages", "true".into()),
            ("errors.deadletterqueue.topic.name", dlq.clone()),
            (
                "errors.deadletterqueue.topic.replication.factor",
                "1".into(),
            ),
            (
                "errors.deadletterqueue.context.headers.enable",
                "true".into(),
            ),
            ("transforms", "insert,drop".into()),
            (
                "transforms.insert.type",
                "org.apache.kafka.connect.transforms.InsertField$Value".into(),
            ),
            ("transforms.insert.static.field", "src".into()),
            ("transforms.insert.static.value", "kc".into()),
            ("transforms.drop.type", "Filter".into()),
            ("transforms.drop.predicate", "skipped".into()),
            ("predicates", "skipped".into()),
            ("predicates.skipped.type", "HasHeaderKey".into()),
            ("predicates.skipped.name", "skip".into()),
        ],
    );

    let good: Vec<usize> = (0..N).filter(|i| kind_of(*i) == Kind::Good).collect();
    let failed: Vec<usize> = (0..N)
        .filter(|i| matches!(kind_of(*i), Kind::Malformed | Kind::NotAMap))
        .collect();

    let mut proc = Process::standalone(dir.path(), &[&worker, &sink], "dlq-all");
    wait_until(
        "every good record in the sink file and every failed one in the DLQ",
        Duration::from_secs(90),
        || {
            proc.assert_running();
            count_lines(&output) >= good.len() && high_watermark(&dlq) >= failed.len() as i64
        },
    );
    // The committed position covers every record (skipped, filtered and
    // dead-lettered ones too) once the DLQ acknowledged its copies.
    wait_until("offsets committed", Duration::from_secs(30), || {
        committed_offset(&format!("connect-{name}"), &topic) == N as i64
    });
    let status = proc.terminate();
    assert!(status.success(), "log:\n{}", proc.log_tail());

    // Good records, transformed (InsertField) and in order; filtered ones absent.
    let text = std::fs::read_to_string(&output).expect("sink output");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), good.len(), "{lines:?}");
    for (line, i) in lines.iter().zip(&good) {
        assert!(
            line.contains(&format!("id={i}")) && line.contains("src=kc"),
            "record {i}: {line}"
        );
    }

    // Failed records: original bytes and headers, plus Java's context headers.
    let dead = read_with_headers(&dlq, failed.len());
    assert_eq!(dead.len(), failed.len());
    assert_eq!(
        high_watermark(&dlq),
        failed.len() as i64,
        "each exactly once"
    );
    for (r, &i) in dead.iter().zip(&failed) {
        assert_eq!(
            r.value.as_deref(),
            Some(records[i].0.as_slice()),
            "record {i}: original value bytes"
        );
        let h = &r.headers;
        assert_eq!(h["__connect.errors.topic"], topic);
        assert_eq!(h["__connect.errors.partition"], "0");
        assert_eq!(h["__connect.errors.offset"], i.to_string());
        assert_eq!(h["__connect.errors.connector.name"], name);
        assert_eq!(h["__connect.errors.task.id"], "0");
        assert!(!h["__connect.errors.exception.message"].is_empty());
        assert_eq!(
            h["__connect.errors.exception.class.name"],
            "org.apache.kafka.connect.errors.DataException"
        );
        assert!(h["__connect.errors.exception.stacktrace"]
            .starts_with("org.apache.kafka.connect.errors.DataException: "));
        match kind_of(i) {
            Kind::Malformed => {
                assert_eq!(h["__connect.errors.stage"], "VALUE_CONVERTER", "{h:?}");
                assert_eq!(
                    h["__connect.errors.class.name"],
                    "org.apache.kafka.connect.json.JsonConverter"
                );
                assert_eq!(h["trace"], "abc", "the original headers are kept");
            }
            Kind::NotAMap => {
                assert_eq!(h["__connect.errors.stage"], "TRANSFORMATION", "{h:?}");
                assert_eq!(
                    h["__connect.errors.class.name"],
                    "org.apache.kafka.connect.transforms.InsertField$Value"
                );
            }
            other => panic!("record {i} ({other:?}) should not be in the DLQ"),
        }
    }

    // errors.log.enable: LogReporter's line, with the record's position.
    let log = std::fs::read_to_string(&proc.log).unwrap_or_default();
    assert!(
        log.contains(&format!(
            "Error encountered in task {name}-0. Executing stage 'VALUE_CONVERTER' with class 'org.apache.kafka.connect.json.JsonConverter', where consumed record is {{topic='{topic}', partition=0, offset=3"
        )),
        "log:\n{}",
        proc.log_tail()
    );
}

#[test]
fn tolerance_none_fails_the_task_with_stage_and_position_in_the_trace() {
    let dir = tempfile::tempdir().expect("tempdir");
    let topic = unique("dlq-none");
    let name = format!("{topic}-sink");
    create_topic(&topic, 1);
    produce(
        &topic,
        &[
            (br#"{"id":0}"#.to_vec(), vec![]),
            (b"{broken".to_vec(), vec![]),
            (br#"{"id":2}"#.to_vec(), vec![]),
        ],
    );
    let worker = dir.path().join("worker.properties");
    let sink = dir.path().join("sink.properties");
    let output = dir.path().join("out.txt");
    worker_props(&worker);
    write_props(
        &sink,
        &[
            ("name", name.clone()),
            ("connector.class", "FileStreamSink".into()),
            ("topics", topic.clone()),
            ("file", output.display().to_string()),
            ("value.converter", "JsonConverter".into()),
            ("value.converter.schemas.enable", "false".into()),
            ("errors.tolerance", "none".into()),
        ],
    );
    let mut proc = Process::standalone(dir.path(), &[&worker, &sink], "dlq-none");
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
    for part in [
        "Tolerance exceeded in error handler",
        "stage VALUE_CONVERTER",
        "org.apache.kafka.connect.json.JsonConverter",
        &format!("{topic}-0 offset 1"),
        "DataException",
    ] {
        assert!(failed.contains(part), "trace lacks {part:?}: {failed}");
    }
    assert!(
        committed_offset(&format!("connect-{name}"), &topic) < 2,
        "nothing committed past the bad record"
    );
}

#[test]
fn bad_transform_and_dlq_configs_fail_validation_naming_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = dir.path().join("worker.properties");
    worker_props(&worker);
    let cases: [(&str, Vec<(&str, String)>); 3] = [
        (
            "transforms.route.type",
            vec![
                ("transforms", "route".into()),
                ("transforms.route.type", "com.example.Nope".into()),
            ],
        ),
        (
            "transforms.route.regex",
            vec![
                ("transforms", "route".into()),
                ("transforms.route.type", "RegexRouter".into()),
                ("transforms.route.replacement", "x".into()),
            ],
        ),
        (
            "errors.deadletterqueue.topic.name",
            vec![("errors.deadletterqueue.topic.name", "in".into())],
        ),
    ];
    for (i, (key, extra)) in cases.into_iter().enumerate() {
        let sink = dir.path().join(format!("sink-{i}.properties"));
        let mut props = vec![
            ("name", format!("invalid-{i}")),
            ("connector.class", "FileStreamSink".into()),
            ("topics", "in".into()),
        ];
        props.extend(extra);
        write_props(&sink, &props);
        let out = std::process::Command::new(kconnect_bin())
            .arg("standalone")
            .arg(&worker)
            .arg(&sink)
            .output()
            .expect("running kconnect");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{key}: {stderr}");
        assert!(
            stderr.contains(&format!("\"{key}\"")),
            "the error names {key}: {stderr}"
        );
    }
}

/// A sink whose `put` throws a RetriableException on its first calls, run
/// in-process through the engine's `Worker`.
mod flaky {
    use std::sync::{Arc, Mutex};

    use async_trait::async_trait;
    use kconnect::connect::{
        ConfigDef, ConnectError, ConnectResult, Connector, ConnectorKind, Props, SinkConnector,
        SinkRecord, SinkTask,
    };
    use kconnect::connectors::{AnyConnector, Plugin};

    #[derive(Default)]
    pub struct State {
        /// Values of the records accepted by `put`, in order.
        pub accepted: Vec<String>,
        pub puts: usize,
    }

    pub static PLUGIN: Plugin = Plugin {
        class: "test.FlakySink",
        aliases: &[],
        task_class: "test.FlakySinkTask",
        kind: ConnectorKind::Sink,
        create: || unreachable!("created by the test"),
    };

    pub struct FlakyConnector {
        pub state: Arc<Mutex<State>>,
        pub failures: usize,
        pub props: Props,
    }

    #[async_trait]
    impl Connector for FlakyConnector {
        fn config_def(&self) -> ConfigDef {
            ConfigDef::new()
        }
        async fn start(
            &mut self,
            _ctx: Arc<dyn kconnect::connect::ConnectorContext>,
            _props: &Props,
        ) -> ConnectResult<()> {
            Ok(())
        }
        async fn task_configs(&self, _max: usize) -> ConnectResult<Vec<Props>> {
            Ok(vec![self.props.clone()])
        }
    }

    impl SinkConnector for FlakyConnector {
        fn create_task(&self) -> Box<dyn SinkTask> {
            Box::new(FlakyTask {
                state: self.state.clone(),
                failures: self.failures,
            })
        }
    }

    struct FlakyTask {
        state: Arc<Mutex<State>>,
        failures: usize,
    }

    #[async_trait]
    impl SinkTask for FlakyTask {
        async fn start(
            &mut self,
            _ctx: kconnect::connect::SinkTaskContext,
            _props: &Props,
        ) -> ConnectResult<()> {
            Ok(())
        }
        async fn put(&mut self, records: Vec<SinkRecord>) -> ConnectResult<()> {
            let mut state = self.state.lock().unwrap();
            state.puts += 1;
            if state.puts <= self.failures {
                return Err(ConnectError::retriable(format!(
                    "not now ({} records)",
                    records.len()
                )));
            }
            state
                .accepted
                .extend(records.iter().map(|r| r.record.value.to_java_string()));
            Ok(())
        }
    }

    pub fn connector(state: Arc<Mutex<State>>, failures: usize, props: Props) -> AnyConnector {
        AnyConnector::Sink(Box::new(FlakyConnector {
            state,
            failures,
            props,
        }))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retriable_put_failures_redeliver_the_batch_without_loss_or_second_dlq_copies() {
    use std::sync::{Arc, Mutex};

    use kconnect::engine::connector_config::ValidatedConnector;
    use kconnect::engine::{TaskState, Worker, WorkerConfig};
    use kconnect::storage::MemoryOffsetStore;

    const N: usize = 50;
    let topic = unique("flaky-in");
    let dlq = format!("{topic}-dlq");
    let name = format!("{topic}-sink");
    create_topic(&topic, 1);
    let records: Vec<Input<'_>> = (0..N)
        .map(|i| {
            if i == 10 {
                (b"{oops".to_vec(), vec![])
            } else {
                (format!("{i}").into_bytes(), vec![])
            }
        })
        .collect();
    produce(&topic, &records);

    let props: kconnect::connect::Props = [
        ("name", name.clone()),
        ("connector.class", "test.FlakySink".into()),
        ("topics", topic.clone()),
        ("value.converter", "JsonConverter".into()),
        ("value.converter.schemas.enable", "false".into()),
        ("errors.tolerance", "all".into()),
        ("errors.retry.delay.max.ms", "100".into()),
        ("errors.deadletterqueue.topic.name", dlq.clone()),
        (
            "errors.deadletterqueue.topic.replication.factor",
            "1".into(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let worker_config = WorkerConfig::parse(
        &[
            ("bootstrap.servers".to_string(), kafka_bootstrap()),
            ("offset.flush.interval.ms".to_string(), "200".to_string()),
        ]
        .into(),
    )
    .expect("worker config");
    let state = Arc::new(Mutex::new(flaky::State::default()));
    let connector = flaky::connector(state.clone(), 2, props.clone());
    let validated = ValidatedConnector {
        name: name.clone(),
        plugin: &flaky::PLUGIN,
        tasks_max: 1,
        props,
    };
    let worker = Worker::new(
        worker_config,
        kafka_bootstrap(),
        Arc::new(MemoryOffsetStore::default()),
    );
    let herder = support::herder::start(worker, vec![(validated, connector)]).await;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(support::herder::run_until(herder, shutdown.clone()));

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let accepted = state.lock().unwrap().accepted.len();
        if accepted >= N - 1 && committed_offset(&format!("connect-{name}"), &topic) == N as i64 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "accepted {accepted} of {}",
            N - 1
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shutdown.cancel();
    let states = running.await.expect("worker");
    assert!(
        states.values().all(|s| *s == TaskState::Stopped),
        "{states:?}"
    );

    let state = state.lock().unwrap();
    assert!(
        state.puts >= 3,
        "two failed puts, then success: {}",
        state.puts
    );
    let expected: Vec<String> = (0..N).filter(|i| *i != 10).map(|i| i.to_string()).collect();
    assert_eq!(state.accepted, expected, "every record once, in order");
    // The malformed record went to the dead letter queue once, although its
    // batch was consumed three times.
    let dead = read_with_headers(&dlq, 1);
    assert_eq!(dead[0].value.as_deref(), Some(b"{oops".as_slice()));
    assert_eq!(high_watermark(&dlq), 1);
}
