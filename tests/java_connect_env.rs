//! The real Apache Kafka Connect (Java, from `tests/env/connect-java.sh`)
//! against the test broker. A standalone worker runs FileStreamSource
//! (file → topic) and FileStreamSink (topic → file). The test then checks
//! Java's REST answers for `/`, `/connectors` and `/connectors/<name>/status`.
//! REST compatibility checks and the Java-vs-kconnect benchmarks build on this
//! environment, so this test makes sure it works: install, run, a clean stop
//! on SIGTERM, and no JVM left behind.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::java_connect::{processes_naming, state_dir, JavaConnect};
use support::*;

const LINES: usize = 1000;

/// The body of `GET url` parsed as JSON when the answer is 200, else None.
fn get_json(agent: &ureq::Agent, url: &str) -> Option<Value> {
    let mut response = agent.get(url).call().ok()?;
    if response.status().as_u16() != 200 {
        return None;
    }
    let body = response.body_mut().read_to_string().ok()?;
    Some(
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: not JSON ({e}): {body}")),
    )
}

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object()
        .unwrap_or_else(|| panic!("expected a JSON object, got {v}"))
        .keys()
        .map(String::as_str)
        .collect()
}

fn set<'a>(items: &[&'a str]) -> BTreeSet<&'a str> {
    items.iter().copied().collect()
}

#[test]
fn java_connect_standalone_file_source_to_sink_and_rest_shape() {
    support::java_connect::install();

    let (_tmp, state) = state_dir("java-connect");
    let topic = unique("java-connect");
    create_topic(&topic, 1);
    let source_name = format!("{topic}-source");
    let sink_name = format!("{topic}-sink");
    let input = state.join("input.txt");
    let output = state.join("output.txt");
    let offsets = state.join("connect.offsets");
    let expected: String = (0..LINES).map(|i| format!("line-{i:06}\n")).collect();
    std::fs::write(&input, &expected).expect("writing input file");

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let worker = state.join("worker.properties");
    write_props(
        &worker,
        &[
            ("bootstrap.servers", kafka_bootstrap()),
            ("listeners", base.clone()),
            (
                "key.converter",
                "org.apache.kafka.connect.storage.StringConverter".into(),
            ),
            (
                "value.converter",
                "org.apache.kafka.connect.storage.StringConverter".into(),
            ),
            (
                "offset.storage.file.filename",
                offsets.display().to_string(),
            ),
            ("offset.flush.interval.ms", "1000".into()),
            // Every plugin here has a ServiceLoader manifest; the default
            // (hybrid_warn) also scans the classpath by reflection, ~8 s.
            ("plugin.discovery", "service_load".into()),
        ],
    );
    let source = state.join("source.properties");
    write_props(
        &source,
        &[
            ("name", source_name.clone()),
            (
                "connector.class",
                "org.apache.kafka.connect.file.FileStreamSourceConnector".into(),
            ),
            ("tasks.max", "1".into()),
            ("file", input.display().to_string()),
            ("topic", topic.clone()),
        ],
    );
    let sink = state.join("sink.properties");
    write_props(
        &sink,
        &[
            ("name", sink_name.clone()),
            (
                "connector.class",
                "org.apache.kafka.connect.file.FileStreamSinkConnector".into(),
            ),
            ("tasks.max", "1".into()),
            ("file", output.display().to_string()),
            ("topics", topic.clone()),
        ],
    );

    let started = Instant::now();
    let mut connect = JavaConnect::standalone(&state, &[&worker, &source, &sink]);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();

    // GET / answers 404 until the REST resources are up, then Java's
    // server info.
    let deadline = Instant::now() + Duration::from_secs(120);
    let root = loop {
        connect.assert_running();
        if let Some(v) = get_json(&agent, &format!("{base}/")) {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "Java Connect REST not up on {base} after 120 s\n{}",
            connect.log_tail()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    eprintln!("Java Connect REST up after {:?}", started.elapsed());
    assert_eq!(keys(&root), set(&["version", "commit", "kafka_cluster_id"]));
    assert_eq!(root["version"], "4.1.2", "GET /: {root}");

    let deadline = Instant::now() + Duration::from_secs(120);
    while count_lines(&output) < LINES {
        connect.assert_running();
        assert!(
            Instant::now() < deadline,
            "sink file has {} of {LINES} lines after 120 s\n{}",
            count_lines(&output),
            connect.log_tail()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "{LINES} lines in the sink file after {:?}",
        started.elapsed()
    );
    assert_eq!(
        std::fs::read_to_string(&output).expect("reading sink file"),
        expected,
        "the sink file differs from the source file"
    );

    let connectors = get_json(&agent, &format!("{base}/connectors")).expect("GET /connectors");
    let mut names: Vec<&str> = connectors
        .as_array()
        .unwrap_or_else(|| panic!("GET /connectors: expected an array, got {connectors}"))
        .iter()
        .map(|v| v.as_str().expect("connector names are strings"))
        .collect();
    names.sort_unstable();
    let mut want = vec![source_name.as_str(), sink_name.as_str()];
    want.sort_unstable();
    assert_eq!(names, want);

    let worker_id = format!("127.0.0.1:{port}");
    for (name, kind) in [(&source_name, "source"), (&sink_name, "sink")] {
        let url = format!("{base}/connectors/{name}/status");
        let status = get_json(&agent, &url).unwrap_or_else(|| panic!("GET {url}"));
        // Java's shape, key for key:
        // {"name":…,"connector":{"state","worker_id","version"},
        //  "tasks":[{"id","state","worker_id","version"}],"type":"source"|"sink"}
        assert_eq!(
            keys(&status),
            set(&["name", "connector", "tasks", "type"]),
            "{status}"
        );
        assert_eq!(status["name"], name.as_str(), "{status}");
        assert_eq!(status["type"], kind, "{status}");
        let connector = &status["connector"];
        assert_eq!(
            keys(connector),
            set(&["state", "worker_id", "version"]),
            "{status}"
        );
        assert_eq!(connector["state"], "RUNNING", "{status}");
        assert_eq!(connector["worker_id"], worker_id.as_str(), "{status}");
        assert_eq!(connector["version"], "4.1.2", "{status}");
        let tasks = status["tasks"].as_array().expect("tasks is an array");
        assert_eq!(tasks.len(), 1, "{status}");
        assert_eq!(
            keys(&tasks[0]),
            set(&["id", "state", "worker_id", "version"]),
            "{status}"
        );
        assert_eq!(tasks[0]["id"], 0, "{status}");
        assert_eq!(tasks[0]["state"], "RUNNING", "{status}");
        assert_eq!(tasks[0]["worker_id"], worker_id.as_str(), "{status}");
    }

    let stopping = Instant::now();
    let exit = connect.stop();
    assert!(
        exit.is_some(),
        "Java Connect still running {:?} after SIGTERM\n{}",
        support::java_connect::STOP_BOUND,
        connect.log_tail()
    );
    eprintln!(
        "Java Connect stopped in {:?} ({})",
        stopping.elapsed(),
        exit.expect("checked above")
    );
    let log = std::fs::read_to_string(state.join("connect.log")).unwrap_or_default();
    assert!(
        log.contains("Kafka Connect stopped"),
        "no clean shutdown in connect.log\n{}",
        connect.log_tail()
    );
    // The source's offset (a byte position) was flushed to the state dir.
    let offsets = std::fs::read(&offsets).expect("reading connect.offsets");
    let position = format!("{{\"position\":{}}}", expected.len());
    assert!(
        offsets
            .windows(position.len())
            .any(|w| w == position.as_bytes()),
        "connect.offsets lacks {position}"
    );

    let left = processes_naming(&state);
    assert!(left.is_empty(), "processes left behind: {left:#?}");
}
