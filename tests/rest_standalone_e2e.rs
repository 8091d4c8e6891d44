//! Standalone mode driven through Connect's REST API over real HTTP, the
//! way kcctl or curl drive a Java worker, against the real broker: create a
//! datagen source and a FileStreamSink, read statuses, pause, resume,
//! restart with tasks, stop, read and alter offsets, validate a bad config,
//! delete; and the JSON shapes of errors (404, 409, 400).

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use support::rest::{states, Api, Reply};
use support::*;

fn all(state: &str, n: usize) -> impl Fn(&Reply) -> bool + '_ {
    move |r: &Reply| {
        let (c, t) = states(&r.body);
        r.status == 200 && c == state && t.len() == n && t.iter().all(|s| s == state)
    }
}

fn start(dir: &Path, port: u16) -> Process {
    let worker = dir.join("worker.properties");
    write_props(
        &worker,
        &[
            ("bootstrap.servers", kafka_bootstrap()),
            ("listeners", format!("http://127.0.0.1:{port}")),
            (
                "offset.storage.file.filename",
                dir.join("offsets.json").display().to_string(),
            ),
            ("offset.flush.interval.ms", "200".into()),
            ("value.converter.schemas.enable", "false".into()),
        ],
    );
    // No connector files: everything comes through the API.
    Process::spawn(
        dir,
        &["standalone", &worker.display().to_string()],
        &[],
        "rest",
    )
}

#[test]
fn connectors_are_managed_through_the_rest_api() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut proc = start(dir.path(), port);
    let api = Api::new(port);
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        proc.assert_running();
        assert!(Instant::now() < deadline, "REST API never came up");
        std::thread::sleep(Duration::from_millis(50));
    }

    // GET /: ServerInfo with the real cluster's id.
    let root = api.wait("the cluster id", "/", |r| {
        r.body["kafka_cluster_id"].is_string()
    });
    assert_eq!(root.status, 200);
    assert!(root.body["version"].as_str().unwrap().starts_with("4."));
    assert!(root.body["commit"].is_string());
    assert_eq!(api.get("/connectors").body, json!([]));
    let health = api.get("/health");
    assert_eq!(
        (health.status, health.body["status"].as_str()),
        (200, Some("healthy"))
    );

    // Create a datagen source and a sink reading its topic.
    let topic = unique("rest-orders");
    create_topic(&topic, 1);
    let out = dir.path().join("out.txt");
    let created = api.call(
        "POST",
        "/connectors",
        Some(json!({"name": "gen", "config": {
            "connector.class": "datagen", "topic": topic, "tasks.max": "2", "rate": "200"
        }})),
    );
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(created.location.as_deref(), Some("/connectors/gen"));
    assert_eq!(
        created.body,
        json!({
            "name": "gen",
            "config": {"connector.class": "datagen", "topic": topic, "tasks.max": "2", "rate": "200", "name": "gen"},
            "tasks": [{"connector": "gen", "task": 0}, {"connector": "gen", "task": 1}],
            "type": "source"
        })
    );
    let sink = api.call(
        "PUT",
        "/connectors/sink/config",
        Some(json!({
            "connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
            "topics": topic, "file": out.display().to_string(), "tasks.max": 1
        })),
    );
    assert_eq!(sink.status, 201, "{sink:?}");
    assert_eq!(sink.body["type"], "sink");

    // Statuses, with the worker id Java uses (the REST host:port).
    let status = api.wait("gen RUNNING", "/connectors/gen/status", all("RUNNING", 2));
    // With the plugin's version beside each state, as Java 4.1 (KIP-891).
    let worker_id = format!("127.0.0.1:{port}");
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
    api.wait("sink RUNNING", "/connectors/sink/status", all("RUNNING", 1));
    let listed = api.get("/connectors");
    assert_eq!(listed.body, json!(["gen", "sink"]));
    let expanded = api.get("/connectors?expand=status&expand=info");
    assert_eq!(
        expanded.body["gen"]["status"]["connector"]["state"],
        "RUNNING"
    );
    assert_eq!(expanded.body["sink"]["info"]["type"], "sink");
    assert_eq!(expanded.body["sink"]["info"]["config"]["tasks.max"], "1");
    let only_status = api.get("/connectors?expand=status");
    assert!(only_status.body["gen"].get("info").is_none());
    let tasks = api.get("/connectors/gen/tasks");
    assert_eq!(tasks.body[1]["id"], json!({"connector": "gen", "task": 1}));
    assert_eq!(tasks.body[1]["config"]["topic"], topic);
    assert_eq!(
        api.get("/connectors/gen/tasks/1/status").body,
        json!({"id": 1, "state": "RUNNING", "worker_id": worker_id, "version": version})
    );
    assert_eq!(
        api.get("/connectors/gen/topics").body,
        json!({"gen": {"topics": [topic]}})
    );
    assert_eq!(
        api.get("/connectors/sink/config").body["file"],
        out.display().to_string()
    );
    wait_until(
        "records in the sink's file",
        Duration::from_secs(90),
        || count_lines(&out) >= 50,
    );

    // Pause and resume.
    assert_eq!(api.call("PUT", "/connectors/gen/pause", None).status, 202);
    api.wait("gen PAUSED", "/connectors/gen/status", all("PAUSED", 2));
    assert_eq!(api.call("PUT", "/connectors/gen/resume", None).status, 202);
    api.wait(
        "gen RUNNING again",
        "/connectors/gen/status",
        all("RUNNING", 2),
    );

    // Restarts: with tasks 202 and the plan, plain 204, one task 204.
    let restart = api.call("POST", "/connectors/gen/restart?includeTasks=true", None);
    assert_eq!(restart.status, 202, "{restart:?}");
    assert_eq!(
        states(&restart.body),
        ("RESTARTING".into(), vec!["RESTARTING".into(); 2])
    );
    api.wait(
        "gen RUNNING after the restart",
        "/connectors/gen/status",
        all("RUNNING", 2),
    );
    let failed_only = api.call(
        "POST",
        "/connectors/gen/restart?includeTasks=true&onlyFailed=true",
        None,
    );
    assert_eq!(failed_only.status, 202);
    assert_eq!(
        states(&failed_only.body),
        ("RUNNING".into(), vec!["RUNNING".into(); 2])
    );
    assert_eq!(
        api.call("POST", "/connectors/gen/restart", None).status,
        204
    );
    assert_eq!(
        api.call("POST", "/connectors/gen/tasks/0/restart", None)
            .status,
        204
    );
    api.wait(
        "gen RUNNING after task restart",
        "/connectors/gen/status",
        all("RUNNING", 2),
    );

    // Offsets: read while running; changes need STOPPED.
    let offsets = api.wait("source offsets", "/connectors/gen/offsets", |r| {
        r.body["offsets"].as_array().is_some_and(|o| o.len() == 2)
    });
    assert!(offsets.body["offsets"][0]["partition"].is_object());
    let refused = api.call("DELETE", "/connectors/gen/offsets", None);
    assert_eq!(refused.status, 400);
    assert_eq!(
        refused.body,
        json!({"error_code": 400, "message": "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/gen/stop' endpoint"})
    );
    assert_eq!(api.call("PUT", "/connectors/gen/stop", None).status, 204);
    let stopped = api.get("/connectors/gen/status");
    assert_eq!(states(&stopped.body), ("STOPPED".into(), vec![]));
    assert_eq!(api.get("/connectors/gen/tasks").body, json!([]));
    let partition = offsets.body["offsets"][0]["partition"].clone();
    let altered = api.call(
        "PATCH",
        "/connectors/gen/offsets",
        Some(json!({"offsets": [{"partition": partition, "offset": {"generated": 7}}]})),
    );
    assert_eq!(altered.status, 200, "{altered:?}");
    assert!(altered.body["message"]
        .as_str()
        .unwrap()
        .contains("have been altered successfully"));
    let after = api.get("/connectors/gen/offsets");
    assert!(
        after.body["offsets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["partition"] == partition && o["offset"] == json!({"generated": 7})),
        "{after:?}"
    );
    let empty = api.call(
        "PATCH",
        "/connectors/gen/offsets",
        Some(json!({"offsets": []})),
    );
    assert_eq!(empty.status, 400);
    assert_eq!(
        empty.body["message"],
        "Partitions / offsets need to be provided for an alter offsets request"
    );
    let reset = api.call("DELETE", "/connectors/gen/offsets", None);
    assert_eq!(reset.status, 200);
    assert!(reset.body["message"]
        .as_str()
        .unwrap()
        .contains("have been reset successfully"));
    assert_eq!(
        api.get("/connectors/gen/offsets").body,
        json!({"offsets": []})
    );
    assert_eq!(api.call("PUT", "/connectors/gen/resume", None).status, 202);
    api.wait(
        "gen RUNNING after stop",
        "/connectors/gen/status",
        all("RUNNING", 2),
    );

    // Sink offsets are the consumer group's.
    let sink_offsets = api.wait("sink offsets", "/connectors/sink/offsets", |r| {
        r.body["offsets"][0]["offset"]["kafka_offset"]
            .as_i64()
            .unwrap_or(0)
            > 0
    });
    assert_eq!(
        sink_offsets.body["offsets"][0]["partition"],
        json!({"kafka_topic": topic, "kafka_partition": 0})
    );
    assert_eq!(api.call("PUT", "/connectors/sink/stop", None).status, 204);
    let rewound = api.call(
        "PATCH",
        "/connectors/sink/offsets",
        Some(json!({"offsets": [{"partition": {"kafka_topic": topic, "kafka_partition": 0}, "offset": {"kafka_offset": 3}}]})),
    );
    assert_eq!(rewound.status, 200, "{rewound:?}");
    assert_eq!(
        api.get("/connectors/sink/offsets").body,
        json!({"offsets": [{"partition": {"kafka_topic": topic, "kafka_partition": 0}, "offset": {"kafka_offset": 3}}]})
    );

    // Reconfigure: PUT on an existing connector is 200, PATCH merges.
    let patched = api.call(
        "PATCH",
        "/connectors/sink/config",
        Some(json!({"tasks.max": "2", "file": null})),
    );
    assert_eq!(patched.status, 200, "{patched:?}");
    assert_eq!(patched.body["config"]["tasks.max"], "2");
    assert!(patched.body["config"].get("file").is_none());
    let mut config = patched.body["config"].clone();
    config["file"] = json!(out.display().to_string());
    let replaced = api.call("PUT", "/connectors/sink/config", Some(config.clone()));
    assert_eq!(replaced.status, 200);

    // A secret written literally (here a consumer override's JAAS line) is
    // never shown; sent back as shown, [hidden] keeps the stored value.
    let jaas = "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"pw-in-clear\";";
    config["consumer.override.sasl.jaas.config"] = json!(jaas);
    let with_secret = api.call("PUT", "/connectors/sink/config", Some(config.clone()));
    assert_eq!(with_secret.status, 200, "{with_secret:?}");
    for path in [
        "/connectors/sink",
        "/connectors/sink/config",
        "/connectors/sink/tasks",
        "/connectors?expand=info",
    ] {
        let shown = api.get(path);
        assert_eq!(shown.status, 200, "{path}: {shown:?}");
        let text = shown.body.to_string();
        assert!(
            !text.contains("pw-in-clear"),
            "{path} shows the secret: {text}"
        );
    }
    let shown = api.get("/connectors/sink/config").body;
    assert_eq!(shown["consumer.override.sasl.jaas.config"], "[hidden]");
    let round_trip = api.call("PUT", "/connectors/sink/config", Some(shown.clone()));
    assert_eq!(round_trip.status, 200, "{round_trip:?}");
    let mut unknown = shown;
    unknown["consumer.override.ssl.key.password"] = json!("[hidden]");
    let refused = api.call("PUT", "/connectors/sink/config", Some(unknown));
    assert_eq!(refused.status, 400, "{refused:?}");
    assert!(
        refused.body["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("consumer.override.ssl.key.password: [hidden] stands for"),
        "{refused:?}"
    );
    config
        .as_object_mut()
        .unwrap()
        .remove("consumer.override.sasl.jaas.config");
    assert_eq!(
        api.call("PUT", "/connectors/sink/config", Some(config))
            .status,
        200
    );

    // Validation: every bad field has its error.
    let validated = api.call(
        "PUT",
        "/connector-plugins/FileStreamSinkConnector/config/validate",
        Some(json!({"connector.class": "FileStreamSink", "name": "v", "tasks.max": "two", "errors.tolerance": "most"})),
    );
    assert_eq!(validated.status, 200);
    assert_eq!(validated.body["name"], "FileStreamSink");
    // As Java 4.1 counts them: tasks.max fails to parse and then its range
    // check (on null); the missing topics are reported on both topic keys.
    assert_eq!(validated.body["error_count"], 5, "{validated:?}");
    let errors_of = |key: &str| -> Vec<String> {
        validated.body["configs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["value"]["name"] == key)
            .and_then(|c| c["value"]["errors"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .map(|e| e.as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert!(errors_of("tasks.max")[0].contains("Invalid value two"));
    assert!(errors_of("errors.tolerance")[0].contains("most"));
    assert_eq!(
        errors_of("topics"),
        ["Must configure one of topics or topics.regex"]
    );
    assert_eq!(errors_of("topics.regex"), errors_of("topics"));
    let definition = validated.body["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["value"]["name"] == "tasks.max")
        .map(|c| c["definition"].clone())
        .unwrap();
    assert_eq!(definition["type"], "INT");
    assert_eq!(definition["default_value"], "1");
    let bad = api.call(
        "PUT",
        "/connectors/bad/config",
        Some(json!({"connector.class": "FileStreamSink", "tasks.max": "two", "topics": "t"})),
    );
    assert_eq!(bad.status, 400);
    assert!(bad.body["message"]
        .as_str()
        .unwrap()
        .starts_with("Connector configuration is invalid and contains the following 2 error(s):"));
    assert_eq!(bad.body["error_code"], 400);

    // KIP-980: created STOPPED, started later.
    let later = api.call(
        "POST",
        "/connectors",
        Some(json!({"name": "later", "config": {"connector.class": "datagen", "topic": topic, "rate": "10"}, "initial_state": "STOPPED"})),
    );
    assert_eq!(later.status, 201, "{later:?}");
    assert_eq!(later.body["tasks"], json!([]));
    assert_eq!(
        states(&api.get("/connectors/later/status").body),
        ("STOPPED".into(), vec![])
    );
    assert_eq!(
        api.call("PUT", "/connectors/later/resume", None).status,
        202
    );
    api.wait(
        "later RUNNING",
        "/connectors/later/status",
        all("RUNNING", 1),
    );
    assert_eq!(api.call("DELETE", "/connectors/later", None).status, 204);

    // Error shapes.
    assert_eq!(
        api.get("/connectors/nope").body,
        json!({"error_code": 404, "message": "Connector nope not found"})
    );
    assert_eq!(
        api.get("/connectors/nope/status").body,
        json!({"error_code": 404, "message": "No status found for connector nope"})
    );
    assert_eq!(api.get("/connectors/gen/tasks/9/status").status, 404);
    assert_eq!(api.call("PUT", "/connectors/nope/pause", None).status, 404);
    let duplicate = api.call(
        "POST",
        "/connectors",
        Some(json!({"name": "gen", "config": {"connector.class": "datagen", "topic": topic}})),
    );
    assert_eq!(
        (duplicate.status, duplicate.body),
        (
            409,
            json!({"error_code": 409, "message": "Connector gen already exists"})
        )
    );
    let mismatch = api.call(
        "PUT",
        "/connectors/x/config",
        Some(json!({"name": "y", "connector.class": "datagen", "topic": topic})),
    );
    assert_eq!(mismatch.status, 400);
    assert_eq!(
        mismatch.body["message"],
        "Connector name configuration (y) doesn't match connector name in the URL (x)"
    );

    // Plugins, loggers, metrics.
    let plugins = api.get("/connector-plugins");
    assert!(plugins
        .body
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["type"] == "sink" || p["type"] == "source"));
    let everything = api.get("/connector-plugins?connectorsOnly=false");
    assert!(everything
        .body
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["type"] == "transformation"));
    let keys = api.get("/connector-plugins/FileStreamSink/config");
    assert_eq!(keys.body[0]["name"], "file");
    assert_eq!(
        api.get("/connector-plugins/com.acme.Nope/config").status,
        404
    );
    assert_eq!(api.get("/admin/loggers").body["root"]["level"], "INFO");
    let set = api.call(
        "PUT",
        "/admin/loggers/kconnect::rest",
        Some(json!({"level": "DEBUG"})),
    );
    assert_eq!((set.status, set.body), (200, json!(["kconnect::rest"])));
    assert_eq!(
        api.get("/admin/loggers/kconnect::rest::x").body["level"],
        "DEBUG"
    );
    assert_eq!(api.get("/metrics").status, 200);

    // Delete.
    assert_eq!(api.call("DELETE", "/connectors/gen", None).status, 204);
    assert_eq!(api.get("/connectors").body, json!(["sink"]));
    assert_eq!(api.call("DELETE", "/connectors/gen", None).status, 404);

    let status = proc.terminate();
    assert!(status.success(), "log:\n{}", proc.log_tail());
}
