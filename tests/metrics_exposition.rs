//! The whole `/metrics` exposition of a worker and of the operator, for a
//! fixed set of connectors, tasks, clients and cluster loops, compared line
//! for line with the golden files in `tests/golden/`: metric names, labels,
//! types, help texts, order and the values that do not depend on time.
//! Values that do (rates, ratios, timestamps, time since the last
//! rebalance) are checked to be numbers and, unless zero, written as
//! `<time>`.
//!
//! A change of the exposition is a change of what dashboards and alerts
//! see: when it is meant, regenerate the files with
//! `KCONNECT_UPDATE_GOLDEN=1 cargo test --test metrics_exposition` and
//! review the diff.
//!
//! One test in this binary: the engine's and the operator's metrics are
//! process-wide, so nothing else may record into them meanwhile.

use std::path::PathBuf;
use std::time::Duration;

use kconnect::connect::ConnectorKind;
use kconnect::engine::metrics::{self, ClientStatsHandle, Status};
use kconnect::engine::task::TaskId;
use kconnect::operator::cluster_key::ClusterKey;
use kconnect::operator::metrics as operator;
use kconnect::storage::status_topic::State;

/// Metrics whose values depend on when they are read.
const TIME_DEPENDENT: [&str; 4] = [
    "_rate",
    "_ratio",
    "kafka_connect_task_error_last_error_timestamp",
    "kafka_connect_worker_rebalance_time_since_last_rebalance_ms",
];

fn golden(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden")).join(name)
}

/// `text` with the values of time-dependent samples replaced by `<time>`,
/// after checking they are non-negative numbers.
fn normalize(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let name = line.split(['{', ' ']).next().unwrap_or("");
        let varies = !line.starts_with('#')
            && TIME_DEPENDENT
                .iter()
                .any(|t| name.ends_with(t) || name == *t);
        match line.rsplit_once(' ') {
            Some((series, value)) if varies => {
                let v: f64 = value
                    .parse()
                    .unwrap_or_else(|e| panic!("{line}: value not a number: {e}"));
                assert!(v >= 0.0, "{line}: negative");
                // Zero stays: nothing happened, at any time.
                if v == 0.0 {
                    out.push_str(line);
                } else {
                    out.push_str(series);
                    out.push_str(" <time>");
                }
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// `text` with the samples of each family sorted: prometheus-client's
/// `Family` keeps its series in a hash map, so their order varies from run
/// to run.
fn sort_series(text: &str) -> String {
    let mut out = String::new();
    let mut series: Vec<&str> = Vec::new();
    let flush = |series: &mut Vec<&str>, out: &mut String| {
        series.sort_unstable();
        for s in series.drain(..) {
            out.push_str(s);
            out.push('\n');
        }
    };
    for line in text.lines() {
        if line.starts_with('#') {
            flush(&mut series, &mut out);
            out.push_str(line);
            out.push('\n');
        } else {
            series.push(line);
        }
    }
    flush(&mut series, &mut out);
    out
}

/// Compares with the golden file, or rewrites it when asked to.
fn check(file: &str, text: &str) {
    let path = golden(file);
    let actual = normalize(text);
    if std::env::var_os("KCONNECT_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().expect("golden dir")).expect("golden dir");
        std::fs::write(&path, &actual).expect("writing golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; create it with KCONNECT_UPDATE_GOLDEN=1",
            path.display()
        )
    });
    for (n, (e, a)) in expected.lines().zip(actual.lines()).enumerate() {
        assert_eq!(a, e, "{file} line {}: exposition changed", n + 1);
    }
    assert_eq!(
        actual.lines().count(),
        expected.lines().count(),
        "{file}: number of lines changed:\n{actual}"
    );
}

fn id(connector: &str, task: usize) -> TaskId {
    TaskId {
        connector: connector.into(),
        task,
    }
}

/// librdkafka's statistics JSON of one client handle.
fn stats(name: &str, client_id: &str, kind: &str, tx: u64, rx: u64, up: usize) -> String {
    let brokers: Vec<String> = (0..up)
        .map(|n| {
            format!(r#""b{n}:9092/{n}":{{"name":"b{n}:9092/{n}","state":"UP","source":"learned"}}"#)
        })
        .chain([
            r#""b9:9092/9":{"name":"b9:9092/9","state":"DOWN","source":"learned"}"#.to_owned(),
            r#""GroupCoordinator":{"name":"GroupCoordinator","state":"UP","source":"logical"}"#
                .to_owned(),
        ])
        .collect();
    format!(
        r#"{{"name":"{name}","client_id":"{client_id}","type":"{kind}","ts":1,"time":1,"age":1,"tx_bytes":{tx},"rx_bytes":{rx},"brokers":{{{}}}}}"#,
        brokers.join(",")
    )
}

/// A worker with a running source connector (two tasks, one paused), a
/// sink connector (one running task with errors and a dead letter queue,
/// one failed), a failed connector, startups, client statistics and two
/// rebalances.
fn worker_state() -> Vec<ClientStatsHandle> {
    metrics::connector_started(
        "orders-src",
        "org.apache.kafka.connect.file.FileStreamSourceConnector",
        ConnectorKind::Source,
        "4.1.0",
        true,
    );
    metrics::connector_started(
        "orders-sink",
        "org.apache.kafka.connect.file.FileStreamSinkConnector",
        ConnectorKind::Sink,
        "4.1.0",
        true,
    );
    metrics::connector_started(
        "broken",
        "com.example.BrokenSink",
        ConnectorKind::Sink,
        "1.2.3",
        false,
    );
    metrics::connector_startup(false);

    let src0 = metrics::register_task(&id("orders-src", 0), ConnectorKind::Source);
    let src1 = metrics::register_task(&id("orders-src", 1), ConnectorKind::Source);
    let snk0 = metrics::register_task(&id("orders-sink", 0), ConnectorKind::Sink);
    let snk1 = metrics::register_task(&id("orders-sink", 1), ConnectorKind::Sink);
    for ok in [true, true, true, false] {
        metrics::task_startup(ok);
    }
    src0.set_status(Status::Running);
    src1.set_status(Status::Running);
    metrics::set_task_status(src1.id(), Status::Paused);
    snk0.set_status(Status::Running);
    snk1.set_status(Status::Failed);

    let now = kconnect::metrics::ticks_us();
    src0.record_poll(100, 2_000, now);
    src0.record_poll(50, 6_000, now);
    src0.record_sent(100, now);
    src0.record_sent(50, now);
    src0.record_written(100, 98);
    src0.record_commit(true, 3_000);
    src0.record_commit(true, 5_000);
    src0.record_commit(false, 9_000);
    src1.record_poll(10, 1_000, now);
    src1.record_sent(10, now);

    snk0.record_read(500, now);
    snk0.record_put(400, 1_500, now);
    snk0.record_put(80, 4_500, now);
    snk0.record_commit(true, 500);
    snk0.record_commit(false, 700);
    snk0.set_partitions(6);
    let e = &snk0.errors;
    for _ in 0..3 {
        e.failure();
    }
    e.error();
    e.skipped();
    e.skipped();
    e.retry();
    e.logged();
    e.dlq_request();
    e.dlq_request();
    e.dlq_failure();
    snk1.record_read(7, now);

    let handles: Vec<ClientStatsHandle> = (0..3).map(|_| ClientStatsHandle::default()).collect();
    handles[0].record(
        stats(
            "connector-producer-orders-src#producer-1",
            "connector-producer-orders-src",
            "producer",
            1_000,
            200,
            2,
        )
        .as_bytes(),
    );
    handles[1].record(
        stats(
            "connector-producer-orders-src#producer-2",
            "connector-producer-orders-src",
            "producer",
            500,
            100,
            1,
        )
        .as_bytes(),
    );
    handles[2].record(
        stats(
            "connector-consumer-orders-sink-0#consumer-3",
            "connector-consumer-orders-sink-0",
            "consumer",
            300,
            9_000,
            3,
        )
        .as_bytes(),
    );

    metrics::rebalance_completed("worker-0", 3, 2, 4, Duration::from_millis(20));
    metrics::rebalance_completed("worker-0", 4, 2, 3, Duration::from_millis(60));
    handles
}

/// An operator that reconciled, leads, and runs one cluster loop.
fn operator_state() {
    operator::reconciled("connectcluster", Duration::from_millis(30), None);
    operator::reconciled("connectcluster", Duration::from_millis(700), None);
    operator::reconciled("connector", Duration::from_millis(3), Some("kafka"));
    operator::reconciled("connector", Duration::from_millis(12), None);
    operator::set_leader(true);
    let key = ClusterKey {
        namespace: "ns".into(),
        name: "main".into(),
    };
    operator::cluster_state(
        &key,
        7,
        3,
        true,
        [State::Running, State::Running, State::Failed, State::Paused].into_iter(),
    );
    operator::cluster_pass(&key, true);
    operator::cluster_pass(&key, false);
    operator::task_restart(&key);
}

#[test]
fn worker_and_operator_expositions_match_the_golden_files() {
    let worker_registry = kconnect::metrics::registry(|r| {
        metrics::register(r);
        kconnect::engine::plugin_metrics::register(r);
    });
    let _clients = worker_state();
    check(
        "metrics_worker.txt",
        &kconnect::metrics::render(&worker_registry),
    );

    let operator_registry = kconnect::metrics::registry(operator::register);
    operator_state();
    let text = normalize(&kconnect::metrics::render(&operator_registry));
    check("metrics_operator.txt", &sort_series(&text));
}
