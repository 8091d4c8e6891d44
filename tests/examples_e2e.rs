//! The manifests in `examples/kubernetes/`, applied with `kubectl apply -f`
//! as the README says, reconciled by the operator as the Helm chart deploys
//! it, against the real kube-apiserver and the real Kafka broker.
//!
//! The operator is the chart's own Deployment: `helm template` renders it
//! (watching the test namespace, Roles only), every object is applied, and
//! its Pod template runs under the kubelet stand-in, so the container's
//! command, arguments and downward-API environment are the chart's. Its
//! only credential is a token of the chart's ServiceAccount, so the chart's
//! RBAC is what it works with. The examples are applied unchanged but for
//! the fields that name things of this machine: `bootstrapServers` (the
//! test broker instead of `my-kafka:9092`), the topic (unique per run) and
//! the file sink's path (a temporary folder instead of `/tmp/orders.txt`).

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use kconnect::api::{ConnectCluster, ConnectState, Connector};
use kube::api::Api;
use serde_json::json;
use serde_yaml::Value;
use support::{k8s, operator};

/// The release name: objects are called `kconnect` (the full name of a
/// release named like the chart).
const RELEASE: &str = "kconnect";
/// The operator Pod, named as a ReplicaSet of the Deployment would
/// ([`operator::ChartOperator::deploy`]).
const OPERATOR_POD: &str = "kconnect-5d8f9c7b6-x2k4q";

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/kubernetes")
}

/// Polls `check` (true when done) and fails with `what` and the operator's
/// log when the time is up.
async fn wait<F, Fut>(what: &str, timeout: Duration, log: &Path, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !check().await {
        if Instant::now() >= deadline {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            panic!(
                "timed out after {timeout:?} waiting for {what}; operator log ({}):\n{}",
                log.display(),
                lines[lines.len().saturating_sub(60)..].join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The examples with the machine-specific fields replaced, as
/// (file name, YAML). Each field must be there: an example that stops
/// naming its Kafka, topic or file fails here instead of silently running
/// against something else.
fn examples_for_this_machine(topic: &str, sink_file: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut replaced = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(examples_dir())
        .expect("examples/kubernetes")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let mut doc: Value =
            serde_yaml::from_str(&std::fs::read_to_string(&path).expect("reading an example"))
                .expect("YAML");
        let mut set = |doc: &mut Value, keys: &[&str], to: &str| {
            let mut v = &mut *doc;
            for k in keys {
                v = v
                    .get_mut(*k)
                    .unwrap_or_else(|| panic!("{name}: no {}", keys.join(".")));
            }
            replaced.push(format!("{name}: {} {v:?} -> {to}", keys.join(".")));
            *v = Value::from(to);
        };
        match doc["kind"].as_str() {
            Some("ConnectCluster") => set(
                &mut doc,
                &["spec", "bootstrapServers"],
                &support::kafka_bootstrap(),
            ),
            Some("Connector") => {
                let config = doc["spec"]["config"].clone();
                if config.get("topic").is_some() {
                    set(&mut doc, &["spec", "config", "topic"], topic);
                }
                if config.get("topics").is_some() {
                    set(&mut doc, &["spec", "config", "topics"], topic);
                }
                if config.get("file").is_some() {
                    set(
                        &mut doc,
                        &["spec", "config", "file"],
                        &sink_file.to_string_lossy(),
                    );
                }
            }
            other => panic!("{name}: unexpected kind {other:?}"),
        }
        out.push((name, serde_yaml::to_string(&doc).expect("YAML")));
    }
    let count = |key: &str| replaced.iter().filter(|r| r.contains(key)).count();
    assert!(
        count("spec.bootstrapServers") == 1
            && count("spec.config.topic ") == 1
            && count("spec.config.topics ") == 1
            && count("spec.config.file ") == 1,
        "the examples name one Kafka, a source topic, a sink topic and a sink file: {replaced:#?}"
    );
    println!("examples applied with:\n  {}", replaced.join("\n  "));
    out
}

/// The value of a column of `kubectl get` table output, by header.
fn column(table: &str, row_name: &str, header: &str) -> String {
    let mut lines = table.lines();
    let head = lines.next().unwrap_or_default();
    let start = head
        .find(header)
        .unwrap_or_else(|| panic!("no column {header} in:\n{table}"));
    let row = lines
        .find(|l| l.split_whitespace().next() == Some(row_name))
        .unwrap_or_else(|| panic!("no row {row_name} in:\n{table}"));
    row.get(start..)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or("")
        .to_owned()
}

/// The body of a plain HTTP/1.0 GET.
async fn http_get(addr: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .expect("sending the request");
    let mut response = String::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        stream.read_to_string(&mut response),
    )
    .await
    .expect("a response within 10 s")
    .expect("reading the response");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    assert!(
        head.starts_with("HTTP/1.") && head.contains(" 200 "),
        "GET {path}: {head}"
    );
    body.to_owned()
}

/// kubectl may hold a discovery cache from before the CRDs: retry a while.
fn kubectl_until_ok(args: &[&str]) -> std::process::Output {
    let mut out = k8s::kubectl(args);
    for _ in 0..30 {
        if out.status.success() && !out.stdout.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
        out = k8s::kubectl(args);
    }
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn examples_run_under_the_operator_the_chart_deploys() {
    let client = k8s::client().await;
    k8s::install_crds(&client).await; // the chart's crds/ are the same files (crd_drift.rs)
    let ns = k8s::namespace(&client, "examples").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let topic = support::unique("orders");
    support::create_topic(&topic, 6);
    let sink_file = dir.path().join("orders.txt");

    // --- The operator, as the chart deploys it, watching this namespace.
    let chart_operator =
        operator::ChartOperator::deploy(&client, RELEASE, &ns, dir.path(), json!({})).await;
    let kubelet = &chart_operator.kubelet;
    let operator_log = chart_operator.log.clone();
    let metrics_port = chart_operator.metrics_port;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    // POD_NAME and POD_NAMESPACE from the downward API: the Lease in the
    // operator's namespace, held under its Pod name.
    let lease = Api::<Lease>::namespaced(client.clone(), &ns)
        .get(RELEASE)
        .await
        .expect("the Lease named by the chart, in the release namespace");
    assert_eq!(
        lease.spec.and_then(|s| s.holder_identity).as_deref(),
        Some(OPERATOR_POD)
    );

    // The chart's readiness probe (GET /metrics on the named port) passes,
    // and the endpoint tells this replica leads.
    wait(
        "the operator Pod Ready (readiness probe GET /metrics)",
        Duration::from_secs(30),
        &operator_log,
        || async {
            pods.get(OPERATOR_POD).await.is_ok_and(|p| {
                p.status
                    .and_then(|s| s.conditions)
                    .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
            })
        },
    )
    .await;
    let ip = kubelet
        .ip(OPERATOR_POD)
        .expect("the operator Pod's address");
    let metrics = http_get(&format!("{ip}:{metrics_port}"), "/metrics").await;
    assert!(
        metrics.lines().any(|l| l == "kconnect_operator_leader 1"),
        "GET /metrics on the chart's metrics port: {metrics}"
    );

    // --- The examples folder as it is: accepted by the apiserver.
    let folder = examples_dir().to_string_lossy().into_owned();
    kubectl_until_ok(&["apply", "--dry-run=server", "-n", &ns, "-f", &folder]);

    // --- And for real, pointed at this machine's Kafka.
    let manifests = dir.path().join("manifests");
    std::fs::create_dir(&manifests).expect("manifests folder");
    for (name, text) in examples_for_this_machine(&topic, &sink_file) {
        std::fs::write(manifests.join(name), text).expect("writing a manifest");
    }
    let manifests_arg = manifests.to_string_lossy().into_owned();
    let started = Instant::now();
    let out = kubectl_until_ok(&["apply", "-n", &ns, "-f", &manifests_arg]);
    print!("{}", String::from_utf8_lossy(&out.stdout));

    let connectors: Api<Connector> = Api::namespaced(client.clone(), &ns);
    let clusters: Api<ConnectCluster> = Api::namespaced(client.clone(), &ns);
    for name in ["orders-datagen", "orders-file"] {
        wait(
            &format!("{name}: 6 RUNNING tasks and Ready"),
            Duration::from_secs(120),
            &operator_log,
            || async {
                connectors.get(name).await.is_ok_and(|c| {
                    c.status.as_ref().is_some_and(|s| {
                        s.tasks.len() == 6
                            && s.tasks.iter().all(|t| t.state == ConnectState::Running)
                            && s.conditions
                                .iter()
                                .any(|c| c.type_ == "Ready" && c.is_true())
                    })
                })
            },
        )
        .await;
    }
    println!(
        "both example connectors RUNNING with 6 tasks each {:.1} s after kubectl apply",
        started.elapsed().as_secs_f64()
    );
    wait(
        "ConnectCluster main: 3 ready workers",
        Duration::from_secs(30),
        &operator_log,
        || async {
            clusters.get("main").await.is_ok_and(|cc| {
                cc.status
                    .as_ref()
                    .is_some_and(|s| s.ready_replicas == 3 && s.workers.len() == 3)
            })
        },
    )
    .await;

    // What a user sees.
    let table = String::from_utf8(kubectl_until_ok(&["get", "connectors", "-n", &ns]).stdout)
        .expect("UTF-8");
    println!("{table}");
    for name in ["orders-datagen", "orders-file"] {
        assert_eq!(column(&table, name, "CLUSTER"), "main", "{table}");
        assert_eq!(column(&table, name, "STATE"), "running", "{table}");
        assert_eq!(column(&table, name, "TASKS RUNNING"), "6", "{table}");
        assert_eq!(column(&table, name, "READY"), "True", "{table}");
    }
    let table =
        String::from_utf8(kubectl_until_ok(&["get", "kcc", "-n", &ns]).stdout).expect("UTF-8");
    println!("{table}");

    // The file sink's output receives the generated orders.
    wait(
        "records in the file sink's output",
        Duration::from_secs(60),
        &operator_log,
        || async { support::count_lines(&sink_file) >= 1000 },
    )
    .await;
    let text = std::fs::read_to_string(&sink_file).expect("the sink's file");
    let first = text.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("Struct{id="),
        "the sink writes the datagen orders: {first}"
    );
    println!(
        "{} records in the file sink's output {:.1} s after kubectl apply; first: {first}",
        support::count_lines(&sink_file),
        started.elapsed().as_secs_f64()
    );

    // The chart's RBAC was enough: the operator was never refused.
    let log = std::fs::read_to_string(&operator_log).unwrap_or_default();
    assert!(
        !log.contains("forbidden") && !log.contains("Forbidden"),
        "the operator was refused something under the chart's RBAC:\n{}",
        log.lines()
            .filter(|l| l.to_lowercase().contains("forbidden"))
            .collect::<Vec<_>>()
            .join("\n")
    );

    // --- kubectl delete -f: the finalizers let go, the workers go.
    let deleting = Instant::now();
    let out = k8s::kubectl(&["delete", "-n", &ns, "-f", &manifests_arg, "--wait=false"]);
    assert!(
        out.status.success(),
        "kubectl delete -f: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait(
        "the examples and their worker Pods to be gone",
        Duration::from_secs(90),
        &operator_log,
        || async {
            let none_left = connectors
                .list(&Default::default())
                .await
                .is_ok_and(|l| l.items.is_empty())
                && clusters
                    .list(&Default::default())
                    .await
                    .is_ok_and(|l| l.items.is_empty());
            let no_workers = pods.list(&Default::default()).await.is_ok_and(|l| {
                l.items
                    .iter()
                    .all(|p| p.metadata.name.as_deref() == Some(OPERATOR_POD))
            });
            none_left && no_workers
        },
    )
    .await;
    println!(
        "examples deleted, worker Pods gone {:.1} s after kubectl delete",
        deleting.elapsed().as_secs_f64()
    );
    chart_operator.kubelet.shutdown().await;
}
