//! A real `kconnect worker`, driven through the config topic the way the
//! operator drives it, answers Connect's REST reads from the config and
//! status topics with Java's JSON shapes, and refuses changes with 409
//! naming the Connector resource to change instead.

mod support;

use std::time::{Duration, Instant};

use kconnect::connect::Props;
use kconnect::storage::config_topic::{ConfigRecord, TargetState};
use kconnect::storage::topic_log::TopicLog;
use serde_json::{json, Value as Json};
use support::*;

#[derive(Debug)]
struct Reply {
    status: u16,
    body: Json,
}

struct Api {
    base: String,
    agent: ureq::Agent,
}

impl Api {
    fn new(port: u16) -> Api {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Api {
            base: format!("http://127.0.0.1:{port}"),
            agent,
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<Json>) -> Reply {
        self.try_call(method, path, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    fn try_call(&self, method: &str, path: &str, body: Option<Json>) -> Result<Reply, ureq::Error> {
        let url = format!("{}{path}", self.base);
        let result = match method {
            "GET" => self.agent.get(&url).call(),
            "DELETE" => self.agent.delete(&url).call(),
            m => {
                let req = match m {
                    "POST" => self.agent.post(&url),
                    "PUT" => self.agent.put(&url),
                    "PATCH" => self.agent.patch(&url),
                    other => panic!("method {other}"),
                };
                match body {
                    Some(b) => req
                        .header("Content-Type", "application/json")
                        .send(b.to_string()),
                    None => req.send_empty(),
                }
            }
        };
        let mut resp = result?;
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        let body = if text.is_empty() {
            Json::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Json::String(text))
        };
        Ok(Reply { status, body })
    }

    fn get(&self, path: &str) -> Reply {
        self.call("GET", path, None)
    }

    fn wait(&self, what: &str, path: &str, check: impl Fn(&Reply) -> bool) -> Reply {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Ok(r) = self.try_call("GET", path, None) {
                if check(&r) {
                    return r;
                }
                assert!(
                    Instant::now() < deadline,
                    "timed out waiting for {what}; last {path}: {r:?}"
                );
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn states(status: &Json) -> (String, Vec<String>) {
    (
        status["connector"]["state"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
        status["tasks"]
            .as_array()
            .map(|t| {
                t.iter()
                    .map(|t| t["state"].as_str().unwrap_or("").to_owned())
                    .collect()
            })
            .unwrap_or_default(),
    )
}

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
    send(ConfigRecord::Assignment {
        group: group.clone(),
        value: json!({"generation": 1, "workers": {worker_id: {"connectors": ["gen"], "tasks": ["gen-0", "gen-1"]}}}),
    });

    // Reads, in Java's shapes, from the topics.
    let status = api.wait("gen RUNNING", "/connectors/gen/status", |r| {
        states(&r.body) == ("RUNNING".into(), vec!["RUNNING".into(); 2])
    });
    assert_eq!(
        status.body,
        json!({
            "name": "gen",
            "connector": {"state": "RUNNING", "worker_id": worker_id},
            "tasks": [
                {"id": 0, "state": "RUNNING", "worker_id": worker_id},
                {"id": 1, "state": "RUNNING", "worker_id": worker_id}
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
        json!({"id": 1, "state": "RUNNING", "worker_id": worker_id})
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
    assert_eq!(api.get("/metrics").status, 200);

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
