//! End to end against the real Kafka broker: the Prometheus metrics of a
//! worker that runs a datagen source and a FileStreamSink (and a sink that
//! tolerates bad records into a dead letter queue), scraped over HTTP from
//! `kconnect::metrics::serve`, under the names Strimzi's JMX-exporter rules
//! give Java Connect's metrics.
//!
//! The engine runs in-process (the worker API standalone mode uses), so the
//! test reads exact counts; the scrape is a real `GET /metrics`. Then the
//! same from a `kconnect standalone` process on its REST listener, and the
//! operator's own metrics from a `kconnect operator` process against the
//! test control plane.

mod support;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use kconnect::connect::config::props_of;
use kconnect::engine::connector_config;
use kconnect::engine::{Worker, WorkerConfig};
use kconnect::storage::MemoryOffsetStore;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;
use tokio_util::sync::CancellationToken;

use kconnect::api::{ConnectCluster, Connector, CLUSTER_LABEL};
use kube::api::{Api, PostParams};
use serde_json::json;
use support::*;

/// A worker on the test broker, started in its own runtime.
struct Running {
    rt: tokio::runtime::Runtime,
    stop: CancellationToken,
    done: tokio::task::JoinHandle<
        std::collections::BTreeMap<kconnect::engine::TaskId, kconnect::engine::TaskState>,
    >,
    metrics: SocketAddr,
    registry: Arc<kconnect::metrics::Registry>,
}

impl Running {
    fn start(connectors: &[Vec<(&str, String)>]) -> Running {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let config = WorkerConfig::parse(&props_of(&[
            ("bootstrap.servers", &kafka_bootstrap()),
            ("offset.flush.interval.ms", "500"),
            ("value.converter.schemas.enable", "false"),
            // Client statistics (15 s by default) often enough for a test.
            ("producer.statistics.interval.ms", "300"),
            ("consumer.statistics.interval.ms", "300"),
        ]))
        .expect("worker config");
        let registry = kconnect::metrics::registry(|r| {
            kconnect::engine::metrics::register(r);
            kconnect::engine::plugin_metrics::register(r);
        });
        let (stop, done, metrics) = rt.block_on(async {
            let worker = Worker::new(
                config,
                kafka_bootstrap(),
                Arc::new(MemoryOffsetStore::default()),
            );
            let connectors = connectors
                .iter()
                .map(|props| {
                    let props: Vec<(&str, &str)> =
                        props.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    connector_config::validate(&props_of(&props)).expect("valid connector")
                })
                .collect();
            let herder = support::herder::start(worker, connectors).await;
            let stop = CancellationToken::new();
            let metrics = kconnect::metrics::serve(
                "127.0.0.1:0".parse().unwrap(),
                registry.clone(),
                stop.clone(),
            )
            .await
            .expect("metrics listener");
            let done = tokio::spawn(support::herder::run_until(herder, stop.clone()));
            (stop, done, metrics)
        });
        Running {
            rt,
            stop,
            done,
            metrics,
            registry,
        }
    }

    /// `GET /metrics` over HTTP: the body, after checking status and type.
    fn scrape(&self) -> String {
        let (head, body) = http_metrics(self.metrics).expect("GET /metrics");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(
            head.contains("Content-Type: text/plain; version=0.0.4"),
            "{head}"
        );
        body.to_owned()
    }

    fn stop(self) {
        self.stop.cancel();
        self.rt
            .block_on(async { tokio::time::timeout(Duration::from_secs(30), self.done).await })
            .expect("worker stopped in time")
            .expect("worker task");
    }
}

/// `GET /metrics` from `addr`; `None` while nothing answers.
fn http_metrics(addr: SocketAddr) -> Option<(String, String)> {
    let mut sock = std::net::TcpStream::connect(addr).ok()?;
    sock.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    sock.write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut response = String::new();
    sock.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    Some((head.to_owned(), body.to_owned()))
}

/// The value of the sample of `name` whose labels contain every one of
/// `labels` (`key="value"` pairs); `None` when there is none.
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .find(|l| labels.iter().all(|want| l.contains(want)))
        .and_then(|l| l.rsplit(' ').next())
        .map(|v| v.parse().expect("numeric sample"))
}

fn value(text: &str, name: &str, labels: &[&str]) -> f64 {
    sample(text, name, labels).unwrap_or_else(|| {
        let related: Vec<&str> = text.lines().filter(|l| l.contains(name)).collect();
        panic!(
            "no {name} with {labels:?}; related lines:\n{}",
            related.join("\n")
        )
    })
}

fn type_of<'a>(text: &'a str, name: &str) -> &'a str {
    let prefix = format!("# TYPE {name} ");
    text.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("no # TYPE line for {name}"))
}

#[test]
fn source_and_sink_metrics_have_strimzi_names_and_live_rates() {
    const N: usize = 12_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let topic = unique("metrics");
    let source = format!("{topic}-src");
    let sink = format!("{topic}-snk");
    let output = dir.path().join("out.txt");
    create_topic(&topic, 2);

    let running = Running::start(&[
        vec![
            ("name", source.clone()),
            ("connector.class", "datagen".into()),
            ("topic", topic.clone()),
            ("rate", "3000".into()),
            ("count", N.to_string()),
            ("batch.size", "100".into()),
        ],
        vec![
            ("name", sink.clone()),
            (
                "connector.class",
                "org.apache.kafka.connect.file.FileStreamSinkConnector".into(),
            ),
            ("topics", topic.clone()),
            ("file", output.display().to_string()),
        ],
    ]);
    let src = format!(r#"connector="{source}""#);
    let snk = format!(r#"connector="{sink}""#);
    let task0 = r#"task="0""#;

    // While records flow: both rates are live, per second, and plausible
    // for a source limited to 3000 records/s.
    wait_until("records flowing", Duration::from_secs(60), || {
        count_lines(&output) > 1000
    });
    let text = running.scrape();
    let poll_rate = value(
        &text,
        "kafka_connect_source_task_source_record_poll_rate",
        &[&src, task0],
    );
    let read_rate = value(
        &text,
        "kafka_connect_sink_task_sink_record_read_rate",
        &[&snk, task0],
    );
    eprintln!("mid-stream: poll rate {poll_rate:.0}/s, sink read rate {read_rate:.0}/s");
    assert!(
        poll_rate > 100.0 && poll_rate < 6000.0,
        "poll rate {poll_rate}"
    );
    assert!(read_rate > 100.0, "read rate {read_rate}");

    // Every record through; then a commit of each side after the flush
    // interval.
    wait_until(
        "every record in the sink file",
        Duration::from_secs(90),
        || count_lines(&output) >= N,
    );
    let mut text = String::new();
    wait_until("offset commits counted", Duration::from_secs(30), || {
        text = running.scrape();
        sample(
            &text,
            "kafka_connect_sink_task_offset_commit_completion_total",
            &[&snk],
        )
        .is_some_and(|n| n >= 1.0)
            && sample(
                &text,
                "kafka_connect_source_task_source_record_write_total",
                &[&src],
            )
            .is_some_and(|n| n as usize == N)
            && sample(
                &text,
                "kafka_connect_sink_task_sink_record_send_total",
                &[&snk],
            )
            .is_some_and(|n| n as usize >= N)
    });
    for line in text.lines().filter(|l| {
        !l.starts_with('#') && (l.contains(&source) || l.contains(&sink) || l.contains("_worker_"))
    }) {
        eprintln!("{line}");
    }

    // Source task: totals exact, rates non-zero.
    let s = [src.as_str(), task0];
    assert_eq!(
        value(
            &text,
            "kafka_connect_source_task_source_record_poll_total",
            &s
        ) as usize,
        N
    );
    assert_eq!(
        value(
            &text,
            "kafka_connect_source_task_source_record_write_total",
            &s
        ) as usize,
        N
    );
    assert!(
        value(
            &text,
            "kafka_connect_source_task_source_record_poll_rate",
            &s
        ) > 0.0
    );
    assert!(
        value(
            &text,
            "kafka_connect_source_task_source_record_write_rate",
            &s
        ) > 0.0
    );
    assert!(
        value(
            &text,
            "kafka_connect_source_task_poll_batch_avg_time_ms",
            &s
        ) >= 0.0
    );
    // Datagen's batches are at most batch.size (smaller when rate-limited).
    let batch_max = value(&text, "kafka_connect_connector_task_batch_size_max", &s);
    assert!(batch_max > 0.0 && batch_max <= 100.0, "{batch_max}");
    assert_eq!(
        value(
            &text,
            "kafka_connect_source_task_source_record_active_count",
            &s
        ),
        0.0
    );

    // Sink task.
    let k = [snk.as_str(), task0];
    assert_eq!(
        value(&text, "kafka_connect_sink_task_sink_record_read_total", &k) as usize,
        N
    );
    assert_eq!(
        value(&text, "kafka_connect_sink_task_sink_record_send_total", &k) as usize,
        N
    );
    assert!(value(&text, "kafka_connect_sink_task_sink_record_read_rate", &k) > 0.0);
    assert!(value(&text, "kafka_connect_sink_task_sink_record_send_rate", &k) > 0.0);
    assert_eq!(
        value(&text, "kafka_connect_sink_task_partition_count", &k),
        2.0
    );
    assert!(value(&text, "kafka_connect_sink_task_offset_commit_seq_no", &k) >= 1.0);
    assert!(value(&text, "kafka_connect_sink_task_put_batch_max_time_ms", &k) >= 0.0);
    assert!(value(&text, "kafka_connect_connector_task_batch_size_avg", &k) > 0.0);

    // Both: status, commits.
    for labels in [&s, &k] {
        assert_eq!(
            value(
                &text,
                "kafka_connect_connector_task_status",
                &[labels[0], labels[1], r#"status="running""#]
            ),
            1.0
        );
        assert_eq!(
            value(
                &text,
                "kafka_connect_connector_task_offset_commit_success_percentage",
                labels
            ),
            1.0
        );
        assert!(
            value(
                &text,
                "kafka_connect_connector_task_offset_commit_avg_time_ms",
                labels
            ) >= 0.0
        );
        assert!(value(&text, "kafka_connect_connector_task_running_ratio", labels) > 0.5);
        assert_eq!(
            value(
                &text,
                "kafka_connect_task_error_total_record_failures",
                labels
            ),
            0.0
        );
    }

    // Connector and worker level, as Strimzi's alerts and dashboard query
    // them.
    assert_eq!(
        value(
            &text,
            "kafka_connect_connector_status",
            &[&src, r#"status="running""#]
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "kafka_connect_connector_connector_type",
            &[&snk, r#"connector_type="sink""#]
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "kafka_connect_worker_connector_running_task_count",
            &[&src]
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "kafka_connect_worker_connector_failed_task_count",
            &[&snk]
        ),
        0.0
    );
    assert!(value(&text, "kafka_connect_worker_connector_count", &[]) >= 2.0);

    // The tasks' Kafka clients, for the dashboard's byte-rate and connection
    // panels (Java's producer-metrics / consumer-metrics).
    let producer = format!(r#"clientid="connector-producer-{source}""#);
    let consumer = format!(r#"clientid="connector-consumer-{sink}-0""#);
    assert!(value(&text, "kafka_producer_outgoing_byte_total", &[&producer]) > 0.0);
    assert!(value(&text, "kafka_producer_connection_count", &[&producer]) >= 1.0);
    assert!(value(&text, "kafka_consumer_incoming_byte_total", &[&consumer]) > 0.0);
    assert!(value(&text, "kafka_consumer_connection_count", &[&consumer]) >= 1.0);
    assert!(value(&text, "kafka_connect_worker_task_count", &[]) >= 2.0);
    for counter in [
        "kafka_connect_source_task_source_record_poll_total",
        "kafka_connect_source_task_source_record_write_total",
        "kafka_connect_sink_task_sink_record_read_total",
        "kafka_connect_sink_task_sink_record_send_total",
        "kafka_connect_worker_task_startup_attempts_total",
    ] {
        assert_eq!(type_of(&text, counter), "counter", "{counter}");
    }
    for gauge in [
        "kafka_connect_source_task_source_record_poll_rate",
        "kafka_connect_connector_task_status",
        "kafka_connect_worker_connector_failed_task_count",
    ] {
        assert_eq!(type_of(&text, gauge), "gauge", "{gauge}");
    }

    // Stopped tasks take their metrics with them (Java's `destroyed`).
    let registry = running.registry.clone();
    running.stop();
    let text = kconnect::metrics::render(&registry);
    assert!(
        sample(&text, "kafka_connect_connector_task_status", &[&src]).is_none(),
        "stopped task still exported"
    );
}

#[test]
fn tolerated_errors_and_the_dead_letter_queue_are_counted() {
    const GOOD: usize = 30;
    const BAD: usize = 7;
    let dir = tempfile::tempdir().expect("tempdir");
    let topic = unique("metrics-err");
    let dlq = format!("{topic}-dlq");
    let sink = format!("{topic}-snk");
    let output = dir.path().join("out.txt");
    create_topic(&topic, 1);
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", kafka_bootstrap())
        .create()
        .expect("test producer");
    for i in 0..GOOD + BAD {
        let value = if i % 5 == 4 && i / 5 < BAD {
            format!("{{not json {i}")
        } else {
            format!(r#"{{"id":{i}}}"#)
        };
        producer
            .send(BaseRecord::<(), str>::to(&topic).payload(value.as_str()))
            .expect("queueing");
    }
    producer.flush(Duration::from_secs(10)).expect("flushing");

    let running = Running::start(&[vec![
        ("name", sink.clone()),
        ("connector.class", "FileStreamSink".into()),
        ("topics", topic.clone()),
        ("file", output.display().to_string()),
        ("errors.tolerance", "all".into()),
        ("errors.log.enable", "true".into()),
        ("errors.deadletterqueue.topic.name", dlq),
        (
            "errors.deadletterqueue.topic.replication.factor",
            "1".into(),
        ),
    ]]);
    let snk = format!(r#"connector="{sink}""#);
    let k = [snk.as_str(), r#"task="0""#];
    wait_until(
        "good records in the sink file",
        Duration::from_secs(60),
        || count_lines(&output) >= GOOD,
    );
    let mut text = String::new();
    wait_until("errors counted", Duration::from_secs(30), || {
        text = running.scrape();
        sample(
            &text,
            "kafka_connect_task_error_deadletterqueue_produce_requests",
            &k,
        )
        .is_some_and(|n| n as usize == BAD)
    });
    for line in text
        .lines()
        .filter(|l| l.starts_with("kafka_connect_task_error") && l.contains(&sink))
    {
        eprintln!("{line}");
    }
    let bad = BAD as f64;
    assert_eq!(
        value(&text, "kafka_connect_task_error_total_record_failures", &k),
        bad
    );
    assert_eq!(
        value(&text, "kafka_connect_task_error_total_records_skipped", &k),
        bad
    );
    assert_eq!(
        value(&text, "kafka_connect_task_error_total_errors_logged", &k),
        bad
    );
    assert_eq!(
        value(&text, "kafka_connect_task_error_total_record_errors", &k),
        0.0
    );
    assert_eq!(
        value(
            &text,
            "kafka_connect_task_error_deadletterqueue_produce_failures",
            &k
        ),
        0.0
    );
    assert!(value(&text, "kafka_connect_task_error_last_error_timestamp", &k) > 1.6e12);
    assert_eq!(
        type_of(&text, "kafka_connect_task_error_total_record_failures"),
        "gauge"
    );
    assert_eq!(
        value(&text, "kafka_connect_sink_task_sink_record_read_total", &k) as usize,
        GOOD + BAD
    );
    assert_eq!(
        value(&text, "kafka_connect_sink_task_sink_record_send_total", &k) as usize,
        GOOD
    );
    running.stop();
}

#[test]
fn kconnect_standalone_serves_them_at_metrics_on_its_rest_listener() {
    const N: usize = 3_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let topic = unique("metrics-bin");
    let source = format!("{topic}-src");
    let sink = format!("{topic}-snk");
    let output = dir.path().join("out.txt");
    create_topic(&topic, 1);
    let port = free_port();
    let worker = dir.path().join("worker.properties");
    let src = dir.path().join("source.properties");
    let snk = dir.path().join("sink.properties");
    write_props(
        &worker,
        &[
            ("bootstrap.servers", kafka_bootstrap()),
            ("listeners", format!("http://127.0.0.1:{port}")),
            ("offset.flush.interval.ms", "500".into()),
            (
                "offset.storage.file.filename",
                dir.path().join("offsets.json").display().to_string(),
            ),
        ],
    );
    write_props(
        &src,
        &[
            ("name", source.clone()),
            ("connector.class", "datagen".into()),
            ("topic", topic.clone()),
            ("rate", "1000".into()),
            ("count", N.to_string()),
        ],
    );
    write_props(
        &snk,
        &[
            ("name", sink.clone()),
            ("connector.class", "FileStreamSink".into()),
            ("topics", topic.clone()),
            ("file", output.display().to_string()),
        ],
    );
    let mut process = Process::standalone(dir.path(), &[&worker, &src, &snk], "metrics");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let src_l = format!(r#"connector="{source}""#);
    let snk_l = format!(r#"connector="{sink}""#);
    let mut scraped = (String::new(), String::new());
    let mut rates = (0.0f64, 0.0f64);
    let done = wait_for(Duration::from_secs(90), || {
        process.assert_running();
        let Some(s) = http_metrics(addr) else {
            return false;
        };
        let text = &s.1;
        // Rates while records flow.
        if let Some(r) = sample(
            text,
            "kafka_connect_source_task_source_record_poll_rate",
            &[&src_l],
        ) {
            rates.0 = rates.0.max(r);
        }
        if let Some(r) = sample(
            text,
            "kafka_connect_sink_task_sink_record_send_rate",
            &[&snk_l],
        ) {
            rates.1 = rates.1.max(r);
        }
        let complete = sample(
            text,
            "kafka_connect_source_task_source_record_write_total",
            &[&src_l],
        ) == Some(N as f64)
            && sample(
                text,
                "kafka_connect_sink_task_sink_record_send_total",
                &[&snk_l],
            ) == Some(N as f64);
        scraped = s;
        complete
    });
    let (head, text) = scraped;
    assert!(
        done,
        "metrics did not reach {N} records; last scrape:\n{head}\n{text}\nlog:\n{}",
        process.log_tail()
    );
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    eprintln!(
        "kconnect standalone: peak poll rate {:.0}/s, send rate {:.0}/s",
        rates.0, rates.1
    );
    assert!(rates.0 > 0.0 && rates.1 > 0.0, "{rates:?}");
    assert_eq!(
        value(
            &text,
            "kafka_connect_connector_task_status",
            &[&src_l, r#"task="0""#, r#"status="running""#]
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "kafka_connect_worker_connector_running_task_count",
            &[&snk_l]
        ),
        1.0
    );
    assert_eq!(value(&text, "kafka_connect_worker_task_count", &[]), 2.0);
    for l in [&src_l, &snk_l] {
        assert_eq!(
            value(
                &text,
                "kafka_connect_connector_status",
                &[l, r#"status="running""#]
            ),
            1.0
        );
    }
    // As Strimzi's rule renders the string attribute: one sample, value 1.
    assert_eq!(
        sample(
            &text,
            "kafka_connect_connector_status",
            &[&src_l, r#"status="paused""#]
        ),
        None
    );

    // Statuses follow REST calls: a paused sink keeps its task metrics with
    // status paused; a deleted source's metrics go.
    let api = support::rest::Api::new(port);
    assert_eq!(
        api.call("PUT", &format!("/connectors/{sink}/pause"), None)
            .status,
        202
    );
    assert_eq!(
        api.call("DELETE", &format!("/connectors/{source}"), None)
            .status,
        204
    );
    let paused_and_gone = |text: &str| {
        sample(
            text,
            "kafka_connect_connector_status",
            &[&snk_l, r#"status="paused""#],
        ) == Some(1.0)
            && sample(
                text,
                "kafka_connect_connector_task_status",
                &[&snk_l, r#"task="0""#, r#"status="paused""#],
            ) == Some(1.0)
            && sample(text, "kafka_connect_connector_status", &[&src_l]).is_none()
            && sample(text, "kafka_connect_connector_task_status", &[&src_l]).is_none()
    };
    let mut last = String::new();
    let settled = wait_for(Duration::from_secs(30), || {
        last = http_metrics(addr).map(|s| s.1).unwrap_or_default();
        paused_and_gone(&last)
    });
    let related: Vec<&str> = last.lines().filter(|l| l.contains("status")).collect();
    assert!(
        settled,
        "after pause and delete:\n{}\nlog:\n{}",
        related.join("\n"),
        process.log_tail()
    );
    assert!(process.terminate().success());
}

#[test]
fn the_operator_serves_reconcile_and_cluster_metrics() {
    const CLUSTER: &str = "metrics";
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let client = rt.block_on(k8s::client());
    rt.block_on(k8s::install_crds(&client));
    let ns = rt.block_on(k8s::namespace(&client, "opm"));
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut operator = Process::spawn(
        dir.path(),
        &["operator", "--namespace", &ns, "--lease-namespace", &ns],
        &[
            (
                "KUBECONFIG",
                k8s::kubeconfig().to_string_lossy().into_owned(),
            ),
            ("POD_NAME", "operator-metrics".into()),
            (
                "KCONNECT_OPERATOR_METRICS_LISTEN",
                format!("127.0.0.1:{port}"),
            ),
        ],
        "operator",
    );
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut text = String::new();
    let leads = wait_for(Duration::from_secs(30), || {
        operator.assert_running();
        text = http_metrics(addr).map(|(_, body)| body).unwrap_or_default();
        sample(&text, "kconnect_operator_leader", &[]) == Some(1.0)
    });
    assert!(
        leads,
        "no leader gauge:\n{text}\nlog:\n{}",
        operator.log_tail()
    );

    // A cluster without workers and one connector: both controllers
    // reconcile, the cluster loop writes its first assignment.
    let cluster: ConnectCluster = serde_json::from_value(json!({
        "apiVersion": "kconnect.dev/v1alpha1",
        "kind": "ConnectCluster",
        "metadata": {"name": CLUSTER, "namespace": ns},
        "spec": {
            "replicas": 0,
            "bootstrapServers": kafka_bootstrap(),
            "config": {
                "config.storage.replication.factor": "1",
                "offset.storage.replication.factor": "1",
                "offset.storage.partitions": "1",
                "status.storage.replication.factor": "1",
                "status.storage.partitions": "1"
            }
        }
    }))
    .expect("ConnectCluster object");
    let connector: Connector = serde_json::from_value(json!({
        "apiVersion": "kconnect.dev/v1alpha1",
        "kind": "Connector",
        "metadata": {"name": "gen", "namespace": ns, "labels": {CLUSTER_LABEL: CLUSTER}},
        "spec": {"class": "datagen", "tasksMax": 1, "config": {"topic": unique("opm")}},
    }))
    .expect("Connector object");
    rt.block_on(async {
        let pp = PostParams::default();
        Api::<ConnectCluster>::namespaced(client.clone(), &ns)
            .create(&pp, &cluster)
            .await
            .expect("creating the ConnectCluster");
        Api::<Connector>::namespaced(client.clone(), &ns)
            .create(&pp, &connector)
            .await
            .expect("creating the Connector");
    });
    let in_ns = format!(r#"namespace="{ns}""#);
    let cluster_l = format!(r#"cluster="{CLUSTER}""#);
    let cluster_labels = [in_ns.as_str(), cluster_l.as_str()];
    let seen = wait_for(Duration::from_secs(60), || {
        operator.assert_running();
        text = http_metrics(addr).map(|(_, body)| body).unwrap_or_default();
        sample(
            &text,
            "kconnect_operator_reconcile_total",
            &[r#"controller="connectcluster""#, r#"result="success""#],
        )
        .is_some_and(|n| n >= 1.0)
            && sample(
                &text,
                "kconnect_operator_reconcile_total",
                &[r#"controller="connector""#],
            )
            .is_some_and(|n| n >= 1.0)
            && sample(
                &text,
                "kconnect_operator_assignment_generation",
                &cluster_labels,
            )
            .is_some_and(|g| g >= 1.0)
            // Counted when the pass that set the generation has ended.
            && sample(
                &text,
                "kconnect_operator_cluster_passes_total",
                &cluster_labels,
            )
            .is_some_and(|n| n >= 1.0)
    });
    assert!(
        seen,
        "operator metrics incomplete:\n{text}\nlog:\n{}",
        operator.log_tail()
    );
    for line in text.lines().filter(|l| l.starts_with("kconnect_operator")) {
        eprintln!("{line}");
    }
    assert_eq!(
        value(&text, "kconnect_operator_live_workers", &cluster_labels),
        0.0
    );
    assert!(
        value(
            &text,
            "kconnect_operator_cluster_passes_total",
            &cluster_labels
        ) >= 1.0
    );
    assert!(
        value(
            &text,
            "kconnect_operator_reconcile_duration_seconds_count",
            &[r#"controller="connectcluster""#]
        ) >= 1.0
    );
    assert_eq!(
        type_of(&text, "kconnect_operator_reconcile_duration_seconds"),
        "histogram"
    );
    assert_eq!(
        type_of(&text, "kconnect_operator_reconcile_total"),
        "counter"
    );
    // An operator process exports no worker metrics.
    assert!(!text.contains("kafka_connect_"), "{text}");
    assert!(operator.terminate().success());
}
