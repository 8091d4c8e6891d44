//! Connect's REST API on an operator-managed cluster, driven the way kcctl
//! and curl drive a Java Connect cluster, against the real kube-apiserver
//! and the real Kafka broker, with the operator deployed by the Helm chart
//! (so its RBAC is the chart's) and the worker Pods under the kubelet
//! stand-in (each with its service account's token, as a kubelet mounts it).
//!
//! With `spec.restApi.writes: true` every REST change becomes a change of
//! a Connector resource (create, config, state, restart annotations,
//! delete) that the operator then carries out; the workers' service account
//! is bound to a Role allowing exactly that. With writes off (the default)
//! the same calls are refused with 409 naming the resource to change, and
//! the workers get no Kubernetes credentials at all.

mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kconnect::api::{ConnectCluster, Connector, ConnectorState, CLUSTER_LABEL};
use kube::api::{Api, PostParams};
use serde_json::json;
use support::operator::ChartOperator;
use support::rest::{states, Api as Rest, Reply};
use support::{k8s, unique};

fn cluster(name: &str, writes: bool) -> ConnectCluster {
    serde_json::from_value(json!({
        "apiVersion": "kconnect.dev/v1alpha1",
        "kind": "ConnectCluster",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "bootstrapServers": support::kafka_bootstrap(),
            "restApi": {"writes": writes},
            "config": {
                "config.storage.replication.factor": "1",
                "offset.storage.replication.factor": "1",
                "status.storage.replication.factor": "1",
                "offset.flush.interval.ms": "500",
                "worker.sync.interval.ms": "200",
            },
        },
    }))
    .expect("a ConnectCluster")
}

/// The value of a Prometheus sample without labels.
fn metric(rest: &Rest, name: &str) -> f64 {
    let text = rest.get("/metrics").body;
    let text = text.as_str().expect("Prometheus text");
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

fn running(n: usize) -> impl Fn(&Reply) -> bool {
    move |r: &Reply| {
        let (c, t) = states(&r.body);
        r.status == 200 && c == "RUNNING" && t.len() == n && t.iter().all(|s| s == "RUNNING")
    }
}

fn all(state: &'static str) -> impl Fn(&Reply) -> bool {
    move |r: &Reply| {
        let (c, t) = states(&r.body);
        r.status == 200 && c == state && t.iter().all(|s| s == state)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rest_writes_become_connector_changes_and_are_refused_when_off() {
    let client = k8s::client().await;
    k8s::install_crds(&client).await;
    let ns = k8s::namespace(&client, "restop").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let operator = ChartOperator::deploy(&client, "kcrest", &ns, dir.path(), json!({})).await;
    let clusters: Api<ConnectCluster> = Api::namespaced(client.clone(), &ns);
    let connectors: Api<Connector> = Api::namespaced(client.clone(), &ns);
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    for (name, writes) in [("w", true), ("r", false)] {
        clusters
            .create(&PostParams::default(), &cluster(name, writes))
            .await
            .expect("creating a ConnectCluster");
    }
    for pod in ["w-worker-0", "r-worker-0"] {
        operator
            .wait(&format!("{pod} Ready"), Duration::from_secs(90), || async {
                pods.get(pod).await.is_ok_and(|p| {
                    p.status.and_then(|s| s.conditions).is_some_and(|cs| {
                        cs.iter().any(|c| c.type_ == "Ready" && c.status == "True")
                    })
                })
            })
            .await;
    }

    // --- RBAC: a Role for the writing cluster's workers, none otherwise.
    let w_pod = pods.get("w-worker-0").await.expect("w-worker-0");
    let w_spec = w_pod.spec.expect("pod spec");
    assert_eq!(w_spec.service_account_name.as_deref(), Some("w-worker"));
    assert_eq!(w_spec.automount_service_account_token, Some(true));
    let r_spec = pods
        .get("r-worker-0")
        .await
        .expect("r-worker-0")
        .spec
        .unwrap();
    assert_eq!(r_spec.service_account_name, None);
    assert_eq!(r_spec.automount_service_account_token, Some(false));
    let roles: Api<Role> = Api::namespaced(client.clone(), &ns);
    let bindings: Api<RoleBinding> = Api::namespaced(client.clone(), &ns);
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &ns);
    assert!(roles.get_opt("w-worker").await.unwrap().is_some());
    assert!(bindings.get_opt("w-worker").await.unwrap().is_some());
    assert!(accounts.get_opt("w-worker").await.unwrap().is_some());
    assert!(roles.get_opt("r-worker").await.unwrap().is_none());
    assert!(bindings.get_opt("r-worker").await.unwrap().is_none());
    let sa = format!("system:serviceaccount:{ns}:w-worker");
    let can = |verb: &str, resource: &str| {
        let out = k8s::kubectl(&["auth", "can-i", verb, resource, "-n", &ns, "--as", &sa]);
        String::from_utf8_lossy(&out.stdout).trim() == "yes"
    };
    for verb in ["get", "create", "update", "patch", "delete"] {
        assert!(
            can(verb, "connectors.kconnect.dev"),
            "workers cannot {verb}"
        );
    }
    for (verb, resource) in [
        ("list", "connectors.kconnect.dev"),
        ("patch", "connectclusters.kconnect.dev"),
        ("get", "secrets"),
        ("create", "pods"),
    ] {
        assert!(!can(verb, resource), "workers CAN {verb} {resource}");
    }

    let ip = |pod: &str| operator.kubelet.ip(pod).expect("a Pod address");
    let w = Rest::at(format!("http://{}:8083", ip("w-worker-0")));
    let r = Rest::at(format!("http://{}:8083", ip("r-worker-0")));
    w.wait("w's REST API", "/connectors", |r| r.status == 200);
    r.wait("r's REST API", "/connectors", |r| r.status == 200);

    // --- Writes on: create.
    let topic = unique("restop");
    support::create_topic(&topic, 2);
    let out = dir.path().join("out.txt");
    let gen_config = json!({
        "connector.class": "datagen",
        "tasks.max": "2",
        "topic": topic,
        "rate": "200",
    });
    let created = w.call(
        "POST",
        "/connectors",
        Some(json!({"name": "gen", "config": gen_config})),
    );
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(created.body["name"], "gen");
    assert_eq!(created.body["config"]["topic"], topic.as_str());
    let resource = connectors.get("gen").await.expect("Connector gen");
    assert_eq!(
        resource.metadata.labels.as_ref().unwrap()[CLUSTER_LABEL],
        "w"
    );
    assert_eq!(resource.spec.class, "datagen");
    assert_eq!(resource.spec.tasks_max, 2);
    assert_eq!(resource.spec.config["topic"], topic);
    assert!(!resource.spec.config.contains_key("tasks.max"));
    w.wait(
        "gen RUNNING with 2 tasks",
        "/connectors/gen/status",
        running(2),
    );
    let dup = w.call(
        "POST",
        "/connectors",
        Some(json!({"name": "gen", "config": gen_config})),
    );
    assert_eq!(
        (dup.status, dup.body["error_code"].clone()),
        (409, json!(409)),
        "{dup:?}"
    );
    let sink = w.call(
        "PUT",
        "/connectors/sink/config",
        Some(json!({
            "connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
            "topics": topic,
            "file": out.to_string_lossy(),
        })),
    );
    assert_eq!(sink.status, 201, "{sink:?}");
    w.wait("sink RUNNING", "/connectors/sink/status", running(1));
    assert_eq!(
        w.get("/connectors").body.as_array().map(Vec::len),
        Some(2),
        "GET /connectors"
    );

    // --- Invalid configs: per-field errors, nothing created.
    let bad = w.call(
        "POST",
        "/connectors",
        Some(json!({"name": "bad", "config": {"connector.class": "FileStreamSink", "file": "/tmp/x"}})),
    );
    assert_eq!(bad.status, 400, "{bad:?}");
    assert!(
        bad.body["message"]
            .as_str()
            .unwrap_or("")
            .contains("topics"),
        "{bad:?}"
    );
    let validated = w.call(
        "PUT",
        "/connector-plugins/FileStreamSinkConnector/config/validate",
        Some(json!({"connector.class": "FileStreamSinkConnector", "name": "v", "tasks.max": "x"})),
    );
    assert_eq!(validated.status, 200, "{validated:?}");
    assert!(validated.body["error_count"].as_u64().unwrap_or(0) >= 1);
    let errors_of = |key: &str| -> Vec<String> {
        validated.body["configs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["value"]["name"] == key)
            .flat_map(|c| c["value"]["errors"].as_array().cloned().unwrap_or_default())
            .map(|e| e.as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert!(!errors_of("tasks.max").is_empty(), "{validated:?}");
    let not_a_name = w.call(
        "POST",
        "/connectors",
        Some(json!({"name": "Not_A_Name", "config": gen_config})),
    );
    assert_eq!(not_a_name.status, 400, "{not_a_name:?}");
    assert!(connectors.get_opt("bad").await.unwrap().is_none());

    // --- Pause, resume: spec.state, carried out by the operator.
    assert_eq!(w.call("PUT", "/connectors/gen/pause", None).status, 202);
    assert_eq!(
        connectors.get("gen").await.unwrap().spec.state,
        ConnectorState::Paused
    );
    w.wait("gen PAUSED", "/connectors/gen/status", all("PAUSED"));
    assert_eq!(w.call("PUT", "/connectors/gen/resume", None).status, 202);
    w.wait("gen RUNNING again", "/connectors/gen/status", running(2));

    // --- Restart with includeTasks: the restart annotation, acted on by
    // the operator, really restarts the connector and both tasks.
    let connector_starts = metric(&w, "kafka_connect_worker_connector_startup_attempts_total");
    let task_starts = metric(&w, "kafka_connect_worker_task_startup_attempts_total");
    let restarted = w.call(
        "POST",
        "/connectors/gen/restart?includeTasks=true&onlyFailed=false",
        None,
    );
    assert_eq!(restarted.status, 202, "{restarted:?}");
    assert_eq!(restarted.body["connector"]["state"], "RESTARTING");
    assert_eq!(states(&restarted.body).1, vec!["RESTARTING".to_owned(); 2]);
    operator
        .wait(
            "the restart carried out",
            Duration::from_secs(30),
            || async {
                metric(&w, "kafka_connect_worker_task_startup_attempts_total") >= task_starts + 2.0
                    && metric(&w, "kafka_connect_worker_connector_startup_attempts_total")
                        > connector_starts
            },
        )
        .await;
    operator
        .wait(
            "the restart annotation removed",
            Duration::from_secs(30),
            || async {
                connectors.get("gen").await.is_ok_and(|c| {
                    !c.metadata
                        .annotations
                        .unwrap_or_default()
                        .contains_key("kconnect.dev/restart")
                })
            },
        )
        .await;
    w.wait(
        "gen RUNNING after the restart",
        "/connectors/gen/status",
        running(2),
    );
    let plain = w.call("POST", "/connectors/gen/restart", None);
    assert_eq!(plain.status, 204, "{plain:?}");
    let before = metric(&w, "kafka_connect_worker_task_startup_attempts_total");
    assert_eq!(
        w.call("POST", "/connectors/gen/tasks/1/restart", None)
            .status,
        204
    );
    operator
        .wait("task 1 restarted", Duration::from_secs(30), || async {
            metric(&w, "kafka_connect_worker_task_startup_attempts_total") >= before + 1.0
        })
        .await;
    assert_eq!(
        w.call("POST", "/connectors/gen/tasks/7/restart", None)
            .status,
        404
    );

    // --- Config changes: PUT replaces, PATCH merges; both land in spec.
    let mut one_task = gen_config.clone();
    one_task["tasks.max"] = json!("1");
    let put = w.call("PUT", "/connectors/gen/config", Some(one_task));
    assert_eq!(put.status, 200, "{put:?}");
    assert_eq!(connectors.get("gen").await.unwrap().spec.tasks_max, 1);
    w.wait("gen with 1 task", "/connectors/gen/status", running(1));
    let patched = w.call(
        "PATCH",
        "/connectors/gen/config",
        Some(json!({"rate": "100"})),
    );
    assert_eq!(patched.status, 200, "{patched:?}");
    assert_eq!(
        connectors.get("gen").await.unwrap().spec.config["rate"],
        "100"
    );
    w.wait("gen's config via REST", "/connectors/gen/config", |r| {
        r.body["rate"] == "100"
    });

    // --- Stop, then delete: the resource goes and the connector with it.
    assert_eq!(w.call("PUT", "/connectors/gen/stop", None).status, 204);
    assert_eq!(
        connectors.get("gen").await.unwrap().spec.state,
        ConnectorState::Stopped
    );
    w.wait("gen STOPPED", "/connectors/gen/status", |r| {
        states(&r.body).0 == "STOPPED"
    });

    // --- Offsets. Listed into the status through the annotation, as a
    // kubectl user asks for them.
    let annotate = k8s::kubectl(&[
        "annotate",
        "connector",
        "gen",
        "-n",
        &ns,
        "kconnect.dev/connector-offsets=list",
    ]);
    assert!(annotate.status.success(), "{annotate:?}");
    operator
        .wait(
            "gen's offsets listed into its status",
            Duration::from_secs(30),
            || async {
                connectors.get("gen").await.is_ok_and(|c| {
                    let annotations = c.metadata.annotations.clone().unwrap_or_default();
                    !annotations.contains_key("kconnect.dev/connector-offsets")
                        && c.status
                            .and_then(|s| s.offsets)
                            .is_some_and(|o| !o.offsets.is_empty())
                })
            },
        )
        .await;
    let status = connectors.get("gen").await.unwrap().status.unwrap();
    let listed = status.offsets.unwrap().offsets;
    assert!(status.last_offsets_operation.unwrap().succeeded);
    assert!(
        listed
            .iter()
            .all(|o| o["partition"]["datagen.task"].is_number()
                && o["offset"]["generated"].as_u64().is_some_and(|g| g > 0)),
        "{listed:?}"
    );
    // The same through REST, then altered and reset through REST: the
    // operator carries them out on the offset topic.
    let rest_offsets = w.get("/connectors/gen/offsets");
    assert_eq!(rest_offsets.status, 200);
    assert_eq!(
        rest_offsets.body["offsets"].as_array().map(Vec::len),
        Some(listed.len()),
        "{rest_offsets:?}"
    );
    // The connector's KIP-875 hook has its say first, in the operator too:
    // an offset no task would write is refused and nothing is written.
    let refused = w.call(
        "PATCH",
        "/connectors/gen/offsets",
        Some(json!({"offsets": [{"partition": {"datagen.task": 0}, "offset": {"generated": "seven"}}]})),
    );
    assert_eq!(refused.status, 500, "{refused:?}");
    let message = refused.body["message"].as_str().unwrap_or("");
    assert!(
        message.contains("Failed to alter offsets for connector gen because it threw an exception")
            && message.contains("'generated'"),
        "{refused:?}"
    );
    let unchanged = w.get("/connectors/gen/offsets");
    assert_eq!(
        unchanged.body, rest_offsets.body,
        "the refused alter wrote nothing"
    );
    let altered = w.call(
        "PATCH",
        "/connectors/gen/offsets",
        Some(json!({"offsets": [{"partition": {"datagen.task": 0}, "offset": {"generated": 7}}]})),
    );
    assert_eq!(altered.status, 200, "{altered:?}");
    assert!(
        altered.body["message"]
            .as_str()
            .unwrap_or("")
            .contains("altered successfully"),
        "{altered:?}"
    );
    w.wait(
        "the altered source offset",
        "/connectors/gen/offsets",
        |r| {
            r.body["offsets"].as_array().is_some_and(|o| {
                o.iter()
                    .any(|o| o["partition"]["datagen.task"] == 0 && o["offset"]["generated"] == 7)
            })
        },
    );
    let reset = w.call("DELETE", "/connectors/gen/offsets", None);
    assert_eq!(reset.status, 200, "{reset:?}");
    w.wait("gen's offsets reset", "/connectors/gen/offsets", |r| {
        r.body["offsets"].as_array().is_some_and(Vec::is_empty)
    });
    // A running connector's offsets stay as they are (Connect's 400).
    let refused = w.call(
        "PATCH",
        "/connectors/sink/offsets",
        Some(json!({"offsets": [{"partition": {"kafka_topic": topic, "kafka_partition": 0}, "offset": {"kafka_offset": 0}}]})),
    );
    assert_eq!(refused.status, 400, "{refused:?}");
    // A sink's offsets are its consumer group's.
    assert_eq!(w.call("PUT", "/connectors/sink/stop", None).status, 204);
    w.wait("sink STOPPED", "/connectors/sink/status", |r| {
        states(&r.body).0 == "STOPPED"
    });
    let sink_altered = w.call(
        "PATCH",
        "/connectors/sink/offsets",
        Some(json!({"offsets": [{"partition": {"kafka_topic": topic, "kafka_partition": 0}, "offset": {"kafka_offset": 3}}]})),
    );
    assert_eq!(sink_altered.status, 200, "{sink_altered:?}");
    assert_eq!(
        support::committed_offset("connect-sink", &topic),
        3,
        "the sink group's committed offset of partition 0"
    );

    assert_eq!(w.call("DELETE", "/connectors/gen", None).status, 204);
    assert!(connectors.get_opt("gen").await.unwrap().is_none());
    w.wait("gen gone", "/connectors", |r| r.body == json!(["sink"]));
    assert_eq!(w.get("/connectors/gen/status").status, 404);
    assert_eq!(w.call("DELETE", "/connectors/gen", None).status, 404);

    // --- A Connector of another cluster is not this cluster's to change.
    let mut other: Connector = serde_json::from_value(json!({
        "apiVersion": "kconnect.dev/v1alpha1", "kind": "Connector",
        "metadata": {"name": "theirs", "labels": {CLUSTER_LABEL: "r"}},
        "spec": {"class": "datagen", "config": {"topic": topic, "rate": "1"}},
    }))
    .unwrap();
    other.metadata.namespace = Some(ns.clone());
    connectors
        .create(&PostParams::default(), &other)
        .await
        .expect("Connector theirs");
    let taken = w.call(
        "PUT",
        "/connectors/theirs/config",
        Some(json!({"connector.class": "datagen", "topic": topic})),
    );
    assert_eq!(taken.status, 409, "{taken:?}");
    assert!(
        taken.body["message"]
            .as_str()
            .unwrap_or("")
            .contains("belongs to ConnectCluster r"),
        "{taken:?}"
    );

    // --- Writes off: refused with 409 naming the resource; reads work.
    r.wait(
        "theirs RUNNING on r",
        "/connectors/theirs/status",
        running(1),
    );
    for (method, path, body) in [
        ("PUT", "/connectors/theirs/pause", None),
        ("PUT", "/connectors/theirs/stop", None),
        ("POST", "/connectors/theirs/restart?includeTasks=true", None),
        ("DELETE", "/connectors/theirs", None),
        (
            "POST",
            "/connectors",
            Some(json!({"name": "new", "config": gen_config})),
        ),
    ] {
        let refused = r.call(method, path, body);
        assert_eq!(refused.status, 409, "{method} {path}: {refused:?}");
        assert!(
            refused.body["message"]
                .as_str()
                .unwrap_or("")
                .contains("spec.restApi.writes=false"),
            "{method} {path}: {refused:?}"
        );
    }
    assert!(connectors.get_opt("new").await.unwrap().is_none());
    assert_eq!(
        connectors.get("theirs").await.unwrap().spec.state,
        ConnectorState::Running
    );

    // The chart's RBAC was enough for the operator to grant the Role.
    let log = std::fs::read_to_string(&operator.log).unwrap_or_default();
    assert!(
        !log.to_lowercase().contains("forbidden"),
        "the operator was refused something:\n{}",
        operator.log_tail(40)
    );
    for name in ["w", "r"] {
        clusters.delete(name, &Default::default()).await.ok();
    }
    connectors.delete("sink", &Default::default()).await.ok();
    connectors.delete("theirs", &Default::default()).await.ok();
    operator
        .wait("worker Pods gone", Duration::from_secs(60), || async {
            pods.list(&Default::default()).await.is_ok_and(|l| {
                l.items
                    .iter()
                    .all(|p| p.metadata.name.as_deref() == Some(operator.pod.as_str()))
            })
        })
        .await;
    operator.kubelet.shutdown().await;
}
