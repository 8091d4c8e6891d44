//! A real `kconnect worker`, driven through the config topic the way the
//! operator drives it, answers Connect's REST reads from the config and
//! status topics with Java's JSON shapes, and refuses changes with 409
//! naming the Connector resource to change instead.

mod support;

use kconnect::connect::Props;
use kconnect::storage::config_topic::{ConfigRecord, TargetState};
use kconnect::storage::status_topic::StatusRecord;
use kconnect::storage::topic_log::TopicLog;
use serde_json::json;
use support::rest::{states, Api};
use support::*;

#[test]
fn worker_serves_reads_and_refuses_writes() {
    let bootstrap = kafka_bootstrap();
    let dir = tempfile::tempdir().expect("tempdir");
    let group = unique("restw");
    let config_topic = format!("{group}-configs");
    let port = free_port();
    let worker_props = dir.path().join("worker.properties");
    write_props(
        &worker_props,
        &[
            ("bootstrap.servers", bootstrap.clone()),
            ("group.id", group.clone()),
            ("config.storage.topic", config_topic.clone()),
            ("offset.storage.topic", format!("{group}-offsets")),
            ("status.storage.topic", format!("{group}-status")),
            ("config.storage.replication.factor", "1".into()),
            ("offset.storage.replication.factor", "1".into()),
            ("status.storage.replication.factor", "1".into()),
            ("offset.flush.interval.ms", "200".into()),
            ("worker.sync.interval.ms", "100".into()),
            ("listeners", format!("http://127.0.0.1:{port}")),
        ],
    );
    let worker_id = "kc-main-worker-0";
    let mut proc = Process::spawn(
        dir.path(),
        &[
            "worker",
            "--worker-id",
            worker_id,
            "--health-listen",
            "127.0.0.1:0",
            &worker_props.display().to_string(),
        ],
        &[("POD_NAMESPACE", "kc-test".to_owned())],
        "worker",
    );
    let api = Api::new(port);

    // Healthy once it has read the config topic (which it created).
    let health = api.wait("the worker healthy", "/health", |r| r.status == 200);
    assert_eq!(health.body["status"], "healthy");
    assert_eq!(api.get("/connectors").body, json!([]));
    proc.assert_running();

    // What the operator writes for a Connector resource `gen`.
    let topic = unique("restw-orders");
    create_topic(&topic, 2);
    let props: Props = [
        ("name", "gen"),
        ("connector.class", "datagen"),
        ("tasks.max", "2"),
        ("topic", topic.as_str()),
        ("rate", "100"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let log = TopicLog::open(&bootstrap, &config_topic, &Props::new()).expect("config topic");
    let send = |r: ConfigRecord| {
        let (k, v) = r.encode();
        runtime
            .block_on(log.send(&k, v.as_deref()))
            .expect("writing a config record");
    };
    send(ConfigRecord::Connector {
        name: "gen".into(),
        props: Some(props.clone()),
    });
    send(ConfigRecord::TargetState {
        connector: "gen".into(),
        state: TargetState::Started,
    });
    // The placement record goes to the status topic, as the operator writes it.
    let status_log = TopicLog::open(&bootstrap, &format!("{group}-status"), &Props::new())
        .expect("status topic");
    let (k, v) = StatusRecord::Assignment {
        group: group.clone(),
        value: Some(json!({"generation": 1, "workers": {worker_id: {"connectors": ["gen"], "tasks": ["gen-0", "gen-1"]}}})),
    }
    .encode();
    runtime
        .block_on(status_log.send(&k, v.as_deref()))
        .expect("writing the assignment record");

    // Reads, in Java's shapes, from the topics.
    let status = api.wait("gen RUNNING", "/connectors/gen/status", |r| {
        states(&r.body) == ("RUNNING".into(), vec!["RUNNING".into(); 2])
    });
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        status.body,
        json!({
            "name": "gen",
            "connector": {"state": "RUNNING", "worker_id": worker_id, "version": version},
            "tasks": [
                {"id": 0, "state": "RUNNING", "worker_id": worker_id, "version": version},
                {"id": 1, "state": "RUNNING", "worker_id": worker_id, "version": version}
            ],
            "type": "source"
        })
    );
    assert_eq!(api.get("/connectors").body, json!(["gen"]));
    assert_eq!(
        api.get("/connectors/gen").body,
        json!({
            "name": "gen",
            "config": props,
            "tasks": [{"connector": "gen", "task": 0}, {"connector": "gen", "task": 1}],
            "type": "source"
        })
    );
    assert_eq!(api.get("/connectors/gen/config").body, json!(props));
    let tasks = api.get("/connectors/gen/tasks");
    assert_eq!(tasks.body.as_array().map(Vec::len), Some(2));
    assert_eq!(tasks.body[0]["id"], json!({"connector": "gen", "task": 0}));
    assert_eq!(tasks.body[0]["config"]["topic"], topic);
    assert_eq!(
        api.get("/connectors/gen/tasks/1/status").body,
        json!({"id": 1, "state": "RUNNING", "worker_id": worker_id, "version": version})
    );
    let expanded = api.get("/connectors?expand=info&expand=status");
    assert_eq!(expanded.body["gen"]["info"]["type"], "source");
    assert_eq!(
        expanded.body["gen"]["status"]["connector"]["state"],
        "RUNNING"
    );
    assert_eq!(
        api.get("/connectors/gen/topics").body,
        json!({"gen": {"topics": [topic]}})
    );
    let offsets = api.wait("source offsets", "/connectors/gen/offsets", |r| {
        r.body["offsets"].as_array().is_some_and(|o| o.len() == 2)
    });
    assert!(offsets.body["offsets"][0]["offset"].is_object());
    let root = api.wait("the cluster id", "/", |r| {
        r.body["kafka_cluster_id"].is_string()
    });
    assert!(root.body["version"].is_string());
    assert_eq!(
        api.get("/connectors/nope").body,
        json!({"error_code": 404, "message": "Connector nope not found"})
    );
    assert_eq!(
        api.get("/connectors/nope/status").body,
        json!({"error_code": 404, "message": "No status found for connector nope"})
    );
    assert_eq!(api.get("/connector-plugins").status, 200);
    // Metrics follow the statuses this worker wrote (Strimzi's names).
    let metrics = api.get("/metrics");
    assert_eq!(metrics.status, 200);
    let text = metrics.body.as_str().expect("Prometheus text");
    for line in [
        r#"kafka_connect_connector_status{connector="gen",status="running"} 1"#,
        r#"kafka_connect_connector_task_status{connector="gen",task="0",status="running"} 1"#,
        r#"kafka_connect_connector_task_status{connector="gen",task="1",status="running"} 1"#,
        r#"kafka_connect_worker_connector_count 1"#,
        r#"kafka_connect_worker_task_count 2"#,
        r#"kafka_connect_worker_rebalance_completed_rebalances_total 1"#,
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(line)),
            "no `{line}` in /metrics:\n{text}"
        );
    }

    // Writes are refused, naming the resource and how to change it.
    let paused = api.call("PUT", "/connectors/gen/pause", None);
    assert_eq!(
        (paused.status, paused.body),
        (
            409,
            json!({"error_code": 409, "message": "Connector gen is managed by the Connector resource kc-test/gen; change it with kubectl (spec.state: paused) — REST writes are disabled for this ConnectCluster (spec.restApi.writes=false)"})
        )
    );
    let created = api.call(
        "POST",
        "/connectors",
        Some(json!({"name": "other", "config": {"connector.class": "datagen", "topic": topic}})),
    );
    assert_eq!(created.status, 409);
    let message = created.body["message"].as_str().unwrap();
    assert!(message.contains("namespace kc-test"), "{message}");
    assert!(
        message.contains("kconnect.dev/cluster=kc-main"),
        "{message}"
    );
    assert!(message.contains("spec.restApi.writes=false"), "{message}");
    for (method, path, body) in [
        ("PUT", "/connectors/gen/config", Some(json!(props))),
        (
            "PATCH",
            "/connectors/gen/config",
            Some(json!({"rate": "5"})),
        ),
        ("PUT", "/connectors/gen/resume", None),
        ("PUT", "/connectors/gen/stop", None),
        ("POST", "/connectors/gen/restart?includeTasks=true", None),
        ("POST", "/connectors/gen/tasks/0/restart", None),
        ("DELETE", "/connectors/gen", None),
        ("DELETE", "/connectors/gen/offsets", None),
    ] {
        let r = api.call(method, path, body);
        assert_eq!(r.status, 409, "{method} {path}: {r:?}");
        assert_eq!(r.body["error_code"], 409);
        assert!(
            r.body["message"]
                .as_str()
                .unwrap()
                .contains("Connector resource kc-test/gen"),
            "{method} {path}: {r:?}"
        );
    }
    let unknown = api.call("PUT", "/connectors/nope/pause", None);
    assert_eq!(
        (unknown.status, unknown.body),
        (
            404,
            json!({"error_code": 404, "message": "Unknown connector nope"})
        )
    );
    // Nothing changed.
    assert_eq!(states(&api.get("/connectors/gen/status").body).0, "RUNNING");

    // A change through the config topic shows in the API.
    send(ConfigRecord::TargetState {
        connector: "gen".into(),
        state: TargetState::Paused,
    });
    api.wait("gen PAUSED", "/connectors/gen/status", |r| {
        states(&r.body) == ("PAUSED".into(), vec!["PAUSED".into(); 2])
    });

    let status = proc.terminate();
    assert!(status.success(), "log:\n{}", proc.log_tail());
}
