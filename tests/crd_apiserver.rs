//! The generated CRDs against the real kube-apiserver: they are accepted and
//! become Established, the apiserver enforces their validation and applies
//! their defaults, `kubectl explain` shows the doc comments, `kubectl get`
//! shows the printer columns, and `kubectl scale` works through the scale
//! subresource.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kconnect::api::{self, ConnectCluster, Connector, ConnectorState, CLUSTER_LABEL};
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use kube::{Client, CustomResourceExt};
use serde_json::{json, Value};
use support::k8s;

fn dynamic(client: &Client, ns: &str, kind: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk(api::GROUP, api::VERSION, kind);
    Api::namespaced_with(client.clone(), ns, &ApiResource::from_gvk(&gvk))
}

fn object(kind: &str, name: &str, labels: Value, spec: Value) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": format!("{}/{}", api::GROUP, api::VERSION),
        "kind": kind,
        "metadata": {"name": name, "labels": labels},
        "spec": spec
    }))
    .expect("a dynamic object")
}

/// Creating the object fails, with every `needle` in the apiserver's message.
async fn rejected(api: &Api<DynamicObject>, obj: DynamicObject, needles: &[&str]) -> String {
    let err = api
        .create(&PostParams::default(), &obj)
        .await
        .expect_err("the apiserver must reject this object")
        .to_string();
    for needle in needles {
        assert!(err.contains(needle), "expected {needle:?} in: {err}");
    }
    println!("rejected as expected: {err}");
    err
}

/// Runs kubectl until `ok` accepts its stdout (discovery and the OpenAPI
/// document catch up with a new CRD within a few seconds).
fn kubectl_until(args: &[&str], what: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let out = k8s::kubectl(args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() && ok(&stdout) {
            return stdout;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "kubectl {args:?}: {what}; last stdout:\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// `kubectl get` output as rows of header → cell (columns are separated by
/// at least two spaces; header names may contain one space).
fn table(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = lines.next().expect("a header line");
    // Column starts from the header; cells are cut at the same offsets.
    let mut starts = Vec::new();
    let bytes = header.as_bytes();
    for i in 0..bytes.len() {
        if bytes[i] != b' ' && (i == 0 || (i >= 2 && &header[i - 2..i] == "  ")) {
            starts.push(i);
        }
    }
    let cut = |line: &str, k: usize| -> String {
        let from = starts[k].min(line.len());
        let to = starts
            .get(k + 1)
            .copied()
            .unwrap_or(line.len())
            .min(line.len());
        line[from..to].trim().to_owned()
    };
    let names: Vec<String> = (0..starts.len()).map(|k| cut(header, k)).collect();
    lines
        .map(|l| {
            names
                .iter()
                .enumerate()
                .map(|(k, n)| (n.clone(), cut(l, k)))
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crds_validate_default_explain_print_and_scale_on_a_real_apiserver() {
    let client = k8s::client().await;
    k8s::install_crds(&client).await;
    let ns = k8s::namespace(&client, "crd").await;
    let connectors = dynamic(&client, &ns, "Connector");
    let clusters = dynamic(&client, &ns, "ConnectCluster");
    let cluster_label = json!({ CLUSTER_LABEL: "main" });

    // (b) Validation lives in the schema, so the apiserver names the field.
    rejected(
        &connectors,
        object(
            "Connector",
            "zero-tasks",
            cluster_label.clone(),
            json!({"class": "FileStreamSink", "tasksMax": 0}),
        ),
        &["spec.tasksMax", "greater than or equal to 1"],
    )
    .await;
    rejected(
        &connectors,
        object(
            "Connector",
            "bogus-state",
            cluster_label.clone(),
            json!({"class": "FileStreamSink", "state": "bogus"}),
        ),
        &["spec.state", "bogus", "running", "paused", "stopped"],
    )
    .await;
    rejected(
        &connectors,
        object(
            "Connector",
            "no-class",
            cluster_label.clone(),
            json!({"tasksMax": 2}),
        ),
        &["spec.class", "Required"],
    )
    .await;
    rejected(
        &connectors,
        object(
            "Connector",
            "class-in-config",
            cluster_label.clone(),
            json!({"class": "FileStreamSink", "config": {"connector.class": "x"}}),
        ),
        &[
            "spec.config",
            "connector.class, tasks.max and name are set from spec.class",
        ],
    )
    .await;
    rejected(
        &connectors,
        object(
            "Connector",
            "int-config",
            cluster_label.clone(),
            json!({"class": "FileStreamSink", "config": {"file": 7}}),
        ),
        &["spec.config.file", "string"],
    )
    .await;
    rejected(
        &clusters,
        object(
            "ConnectCluster",
            "negative",
            json!({}),
            json!({"bootstrapServers": "k:9092", "replicas": -1}),
        ),
        &["spec.replicas", "greater than or equal to 0"],
    )
    .await;
    rejected(
        &clusters,
        object(
            "ConnectCluster",
            "no-bootstrap",
            json!({}),
            json!({"replicas": 1}),
        ),
        &["spec.bootstrapServers", "Required"],
    )
    .await;
    rejected(
        &clusters,
        object(
            "ConnectCluster",
            "bootstrap-in-config",
            json!({}),
            json!({"bootstrapServers": "k:9092", "config": {"bootstrap.servers": "other:9092"}}),
        ),
        &["spec.config", "set spec.bootstrapServers instead"],
    )
    .await;

    // The apiserver applies the schema's defaults; the typed API reads the
    // stored objects back.
    connectors
        .create(
            &PostParams::default(),
            &object(
                "Connector",
                "sink",
                cluster_label.clone(),
                json!({"class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
                       "config": {"topics": "orders", "file": "/data/out.txt"}}),
            ),
        )
        .await
        .expect("a valid Connector is accepted");
    let stored = connectors.get("sink").await.unwrap();
    assert_eq!(stored.data["spec"]["tasksMax"], 1);
    assert_eq!(stored.data["spec"]["state"], "running");
    assert_eq!(stored.data["spec"]["autoRestart"], json!({"enabled": true}));
    let typed: Api<Connector> = Api::namespaced(client.clone(), &ns);
    let sink = typed.get("sink").await.expect("typed get");
    assert_eq!(sink.cluster_name(), Some("main"));
    assert_eq!(sink.spec.state, ConnectorState::Running);

    clusters
        .create(
            &PostParams::default(),
            &object("ConnectCluster", "main", json!({}),
                json!({"bootstrapServers": "kafka:9092",
                       "template": {"tolerations": [{"key": "dedicated", "operator": "Exists"}],
                                    "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                                        "weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname"}}]}}},
                       "resources": {"limits": {"memory": "1Gi", "cpu": 2}},
                       "env": [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}}]})),
        )
        .await
        .expect("a valid ConnectCluster is accepted");
    let stored = clusters.get("main").await.unwrap();
    assert_eq!(stored.data["spec"]["replicas"], 1);
    assert_eq!(
        stored.data["spec"]["restApi"],
        json!({"writes": false, "port": 8083})
    );
    assert_eq!(stored.data["spec"]["metrics"], json!({"enabled": true}));
    let typed_cc: Api<ConnectCluster> = Api::namespaced(client.clone(), &ns);
    let main = typed_cc.get("main").await.expect("typed get");
    assert_eq!(main.spec.template.as_ref().unwrap().tolerations.len(), 1);
    assert!(main.spec.resources.is_some());

    // Status through the status subresource, as the operator will write it.
    let ssa = PatchParams::apply("kconnect-crd-test").force();
    let now = "2026-11-25T10:00:00Z";
    typed
        .patch_status(
            "sink",
            &ssa,
            &Patch::Apply(json!({
                "apiVersion": "kconnect.dev/v1alpha1", "kind": "Connector",
                "status": {
                    "observedGeneration": 1,
                    "conditions": [{"type": "Ready", "status": "True", "reason": "AllTasksRunning",
                                    "message": "", "lastTransitionTime": now}],
                    "connectorStatus": {"state": "RUNNING", "workerId": "main-worker-0"},
                    "tasks": [{"id": 0, "state": "RUNNING", "workerId": "main-worker-1"}],
                    "tasksRunning": 1,
                    "topics": ["orders"]
                }
            })),
        )
        .await
        .expect("writing Connector status");
    typed_cc
        .patch_status("main", &ssa, &Patch::Apply(json!({
            "apiVersion": "kconnect.dev/v1alpha1", "kind": "ConnectCluster",
            "status": {
                "observedGeneration": 1, "replicas": 1, "readyReplicas": 1,
                "labelSelector": "kconnect.dev/cluster=main,kconnect.dev/role=worker",
                "conditions": [{"type": "Ready", "status": "True", "reason": "AllWorkersReady",
                                "message": "", "lastTransitionTime": now}],
                "workers": [{"name": "main-worker-0", "podIP": "127.0.0.2", "ready": true, "tasks": 1, "connectors": 1}]
            }
        })))
        .await
        .expect("writing ConnectCluster status");
    let sink = typed.get("sink").await.unwrap();
    let status = sink.status.expect("status stored");
    assert_eq!(status.tasks_running, 1);
    assert_eq!(status.tasks[0].restart_count, 0);

    // (c) kubectl explain shows the doc comments.
    let explain = kubectl_until(
        &["explain", "connector.spec.tasksMax"],
        "explain shows the doc text",
        |out| out.contains("Most tasks the connector may split its work into"),
    );
    println!("{explain}");
    assert!(explain.contains("<integer>"), "{explain}");
    let explain = kubectl_until(&["explain", "connectcluster.spec"], "explain spec", |out| {
        out.contains("bootstrapServers") && out.contains("-required-")
    });
    assert!(explain.contains("Number of worker Pods"), "{explain}");

    // (d) kubectl get shows the printer columns.
    let out = kubectl_until(&["get", "connectors", "-n", &ns], "get connectors", |out| {
        out.contains("sink")
    });
    println!("{out}");
    let rows = table(&out);
    let row = &rows[0];
    let cell = |k: &str| {
        row.get(k)
            .unwrap_or_else(|| panic!("no column {k} in {out}"))
            .as_str()
    };
    assert_eq!(cell("NAME"), "sink");
    assert_eq!(cell("CLUSTER"), "main");
    assert_eq!(
        cell("CLASS"),
        "org.apache.kafka.connect.file.FileStreamSinkConnector"
    );
    assert_eq!(cell("STATE"), "running");
    assert_eq!(cell("TASKS RUNNING"), "1");
    assert_eq!(cell("MAX TASKS"), "1");
    assert_eq!(cell("READY"), "True");
    assert!(row.contains_key("AGE"), "{out}");
    let wide = kubectl_until(
        &["get", "kcn", "-o", "wide", "-n", &ns],
        "short name kcn",
        |out| out.contains("sink"),
    );
    println!("{wide}");
    let row = &table(&wide)[0];
    assert_eq!(row["CONNECTOR STATE"], "RUNNING", "{wide}");
    assert_eq!(row["REASON"], "AllTasksRunning", "{wide}");

    let out = kubectl_until(&["get", "kcc", "-n", &ns], "get connectclusters", |out| {
        out.contains("main")
    });
    println!("{out}");
    let row = &table(&out)[0];
    assert_eq!(row["DESIRED REPLICAS"], "1", "{out}");
    assert_eq!(row["READY REPLICAS"], "1", "{out}");
    assert_eq!(row["READY"], "True", "{out}");
    assert_eq!(row["BOOTSTRAP"], "kafka:9092", "{out}");

    let both = kubectl_until(
        &["get", "kconnect", "-n", &ns],
        "the kconnect category",
        |out| {
            out.contains("connector.kconnect.dev/sink")
                && out.contains("connectcluster.kconnect.dev/main")
        },
    );
    println!("{both}");

    // (e) kubectl scale goes through the scale subresource.
    let scaled = kubectl_until(
        &["scale", "connectcluster", "main", "--replicas=3", "-n", &ns],
        "kubectl scale",
        |out| out.contains("scaled"),
    );
    println!("{scaled}");
    let main = typed_cc.get("main").await.unwrap();
    assert_eq!(main.spec.replicas, 3);
    let scale = typed_cc.get_scale("main").await.expect("reading /scale");
    assert_eq!(scale.spec.and_then(|s| s.replicas), Some(3));
    let scale_status = scale.status.expect("scale status");
    assert_eq!(
        scale_status.replicas, 1,
        "status.replicas as the operator wrote it"
    );
    assert_eq!(
        scale_status.selector.as_deref(),
        Some("kconnect.dev/cluster=main,kconnect.dev/role=worker")
    );
    // Scaling to zero is allowed; below zero is not.
    let zero = k8s::kubectl(&["scale", "connectcluster", "main", "--replicas=0", "-n", &ns]);
    assert!(
        zero.status.success(),
        "{}",
        String::from_utf8_lossy(&zero.stderr)
    );
    assert_eq!(typed_cc.get("main").await.unwrap().spec.replicas, 0);

    // The CRDs as checked in are what the apiserver now serves (no field
    // dropped or rewritten on the way in, e.g. by pruning).
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for local in [ConnectCluster::crd(), Connector::crd()] {
        let served = crds
            .get(local.metadata.name.as_deref().unwrap())
            .await
            .unwrap();
        assert_eq!(
            serde_json::to_value(&served.spec.versions[0].schema).unwrap(),
            serde_json::to_value(&local.spec.versions[0].schema).unwrap(),
            "{} schema as stored by the apiserver",
            local.spec.names.kind
        );
        assert_eq!(
            served.spec.versions[0].additional_printer_columns,
            local.spec.versions[0].additional_printer_columns
        );
    }
}
