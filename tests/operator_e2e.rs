//! The operator end to end: the real kube-apiserver, the real Kafka broker,
//! `kconnect operator` as a process, and worker Pods run by the kubelet
//! stand-in as local `kconnect worker` processes.
//!
//! One scenario, in the order a user meets it: a 3-worker ConnectCluster
//! with a datagen source and a file sink of 6 tasks each; a worker Pod
//! deleted while records flow (failover time measured, untouched tasks
//! never restarted, every record in the sink file); scale to 4 and to 2
//! (tasks drained before Pods go); pause, resume, stop; invalid Connectors;
//! a failing task restarted with backoff up to its limit; deletion.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kconnect::api::{ConnectCluster, ConnectState, Connector, CLUSTER_LABEL};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;
use support::kubelet::Kubelet;
use support::operator::{
    all_tasks, annotation_hash, pod_ready, signal, spawn_operator, test_cluster_config,
    wait_for_resource, wait_leading,
};
use support::{k8s, Process};

const CLUSTER: &str = "c";
/// Records the datagen connector writes in all.
// 40 s of records at 3 000/s: still flowing when a worker is deleted, even
// on a loaded machine (setup took over 30 s under CPU contention).
const RECORDS: u64 = 120_000;

fn cluster_object(ns: &str, replicas: i32) -> ConnectCluster {
    serde_json::from_value(json!({
        "apiVersion": "kconnect.dev/v1alpha1",
        "kind": "ConnectCluster",
        "metadata": {"name": CLUSTER, "namespace": ns},
        "spec": {
            "replicas": replicas,
            "bootstrapServers": support::kafka_bootstrap(),
            "config": test_cluster_config()
        }
    }))
    .expect("ConnectCluster object")
}

fn connector_object(ns: &str, name: &str, spec: serde_json::Value) -> Connector {
    serde_json::from_value(json!({
        "apiVersion": "kconnect.dev/v1alpha1",
        "kind": "Connector",
        "metadata": {"name": name, "namespace": ns, "labels": {CLUSTER_LABEL: CLUSTER}},
        "spec": spec,
    }))
    .expect("Connector object")
}

fn ready(c: &Connector) -> Option<(bool, String, String)> {
    let s = c.status.as_ref()?;
    let r = s.conditions.iter().find(|c| c.type_ == "Ready")?;
    Some((r.is_true(), r.reason.clone(), r.message.clone()))
}

/// Whether a ConnectCluster is `Ready=False` for `reason`.
fn cluster_not_ready(cc: &ConnectCluster, reason: &str) -> bool {
    cc.status.as_ref().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == "Ready" && !c.is_true() && c.reason == reason)
    })
}

/// task id → worker, from a Connector's status.
fn placement(c: &Connector) -> BTreeMap<i32, String> {
    c.status
        .iter()
        .flat_map(|s| &s.tasks)
        .map(|t| (t.id, t.worker_id.clone().unwrap_or_default()))
        .collect()
}

/// Tasks per worker from the cluster's status.
fn loads(cc: &ConnectCluster) -> BTreeMap<String, i32> {
    cc.status
        .iter()
        .flat_map(|s| &s.workers)
        .map(|w| (w.name.clone(), w.tasks))
        .collect()
}

/// Whether the assignment has `workers` workers with `tasks` tasks each.
fn balanced(cc: &ConnectCluster, workers: usize, tasks: i32) -> bool {
    let l = loads(cc);
    l.len() == workers && l.values().all(|t| *t == tasks)
}

/// The generated order ids in the sink's output file, with how often each
/// appears.
fn ids_in(path: &Path) -> BTreeMap<u64, u32> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut ids = BTreeMap::new();
    for line in text.lines() {
        if let Some(id) = line
            .strip_prefix("Struct{id=")
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.parse::<u64>().ok())
        {
            *ids.entry(id).or_insert(0) += 1;
        }
    }
    ids
}

/// Waits until both long-running connectors have 6 RUNNING tasks.
async fn both_running(connectors: &Api<Connector>, what: &str, operator: &Process) {
    for name in ["gen", "sink"] {
        wait_for_resource(
            connectors,
            name,
            what,
            Duration::from_secs(90),
            operator,
            |c| all_tasks(c, ConnectState::Running, 6),
        )
        .await;
    }
}

/// The lines of a log that start with a timestamp, with it parsed.
fn log_lines(path: &Path) -> Vec<(k8s_openapi::jiff::Timestamp, String)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let ts = l.split_whitespace().next()?.parse().ok()?;
            Some((ts, l.to_owned()))
        })
        .collect()
}

/// Lines of a Pod's log (the stand-in appends every run of the Pod).
fn pod_log(kubelet: &Kubelet, pod: &str) -> String {
    std::fs::read_to_string(kubelet.log_dir.join(format!("{pod}.log"))).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn operator_runs_fails_over_scales_and_follows_connectors() {
    let client: Client = k8s::client().await;
    k8s::install_crds(&client).await;
    let ns = k8s::namespace(&client, "op").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let topic = support::unique("orders");
    support::create_topic(&topic, 6);
    let sink_file = dir.path().join("sink.txt");

    let kubelet = Kubelet::start(client.clone(), &ns).await;
    let heartbeat = Duration::from_millis(3000);
    let operator = spawn_operator(
        &kubelet.log_dir,
        &ns,
        "operator-0",
        "operator",
        heartbeat,
        &["--restart-backoff-ms", "500"],
    );

    // operator-0 leads; a second replica then stands by (only the Lease
    // holder reconciles).
    wait_leading(&operator, "operator-0 to lead", Duration::from_secs(30));
    let standby = spawn_operator(
        &kubelet.log_dir,
        &ns,
        "operator-1",
        "operator-standby",
        heartbeat,
        &["--restart-backoff-ms", "500"],
    );

    let clusters: Api<ConnectCluster> = Api::namespaced(client.clone(), &ns);
    let connectors: Api<Connector> = Api::namespaced(client.clone(), &ns);
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let pp = PostParams::default();
    let merge = PatchParams::default();

    // --- 3 workers, a datagen source and a file sink with 6 tasks each.
    let started = Instant::now();
    clusters
        .create(&pp, &cluster_object(&ns, 3))
        .await
        .expect("creating the ConnectCluster");
    connectors
        .create(
            &pp,
            &connector_object(
                &ns,
                "gen",
                json!({"class": "datagen", "tasksMax": 6,
                       "config": {"topic": topic, "rate": "3000", "count": RECORDS.to_string()}}),
            ),
        )
        .await
        .expect("creating the datagen Connector");
    connectors
        .create(
            &pp,
            &connector_object(
                &ns,
                "sink",
                json!({"class": "org.apache.kafka.connect.file.FileStreamSinkConnector", "tasksMax": 6,
                       "config": {"topics": topic, "file": sink_file.to_string_lossy()}}),
            ),
        )
        .await
        .expect("creating the sink Connector");
    let long = Duration::from_secs(90);
    for name in ["gen", "sink"] {
        let c = wait_for_resource(&connectors, name, "6 RUNNING tasks", long, &operator, |c| {
            all_tasks(c, ConnectState::Running, 6) && ready(c).is_some_and(|r| r.0)
        })
        .await;
        let per_worker = placement(&c)
            .values()
            .fold(BTreeMap::<String, u32>::new(), |mut m, w| {
                *m.entry(w.clone()).or_default() += 1;
                m
            });
        assert_eq!(
            per_worker.values().copied().collect::<Vec<_>>(),
            vec![2, 2, 2],
            "{name}: two tasks per worker, got {per_worker:?}"
        );
    }
    let cc = wait_for_resource(
        &clusters,
        CLUSTER,
        "3 ready workers with 4 tasks each",
        long,
        &operator,
        |cc| {
            cc.status.as_ref().is_some_and(|s| {
                s.ready_replicas == 3
                    && s.conditions
                        .iter()
                        .any(|c| c.type_ == "Ready" && c.is_true())
            }) && balanced(cc, 3, 4)
        },
    )
    .await;
    println!(
        "all 12 tasks RUNNING, 4 per worker, {:.1} s after applying: {:?}",
        started.elapsed().as_secs_f64(),
        loads(&cc)
    );
    // The internal topics, compacted, with the configured partitions.
    for (suffix, partitions) in [("configs", 1), ("offsets", 5), ("status", 3)] {
        let described = describe_topic(&format!("{ns}.{CLUSTER}.{suffix}"));
        assert!(
            described.contains(&format!("PartitionCount: {partitions}"))
                && described.contains("cleanup.policy=compact"),
            "internal topic {suffix}: {described}"
        );
    }
    // The operator owns what it creates; the scale subresource has a selector.
    let pod = pods.get("c-worker-0").await.expect("worker Pod");
    let owner = &pod
        .metadata
        .owner_references
        .as_ref()
        .expect("ownerReferences")[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str(), owner.controller),
        ("ConnectCluster", CLUSTER, Some(true))
    );
    let selector = cc
        .status
        .as_ref()
        .and_then(|s| s.label_selector.clone())
        .expect("labelSelector");
    let selected = pods
        .list(&kube::api::ListParams::default().labels(&selector))
        .await
        .expect("listing by the labelSelector");
    assert_eq!(
        selected.items.len(),
        3,
        "status.labelSelector selects the 3 workers: {selector}"
    );

    // kubectl may still hold a discovery cache from before the CRDs.
    let mut printed = k8s::kubectl(&["get", "connectors", "-n", &ns]);
    for _ in 0..20 {
        if printed.status.success() && !printed.stdout.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        printed = k8s::kubectl(&["get", "connectors", "-n", &ns]);
    }
    let table = String::from_utf8_lossy(&printed.stdout);
    println!("{table}");
    for name in ["gen", "sink"] {
        let row = table
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| {
                panic!(
                    "kubectl get connectors lists {name}: {table}{}",
                    String::from_utf8_lossy(&printed.stderr)
                )
            });
        assert!(row.contains("RUNNING") || row.contains("running"), "{row}");
        assert!(
            row.split_whitespace().any(|w| w == "6"),
            "6 tasks running in: {row}"
        );
    }

    // --- Delete a worker Pod while records flow.
    let before: BTreeMap<&str, BTreeMap<i32, String>> = [
        ("gen", placement(&connectors.get("gen").await.expect("gen"))),
        (
            "sink",
            placement(&connectors.get("sink").await.expect("sink")),
        ),
    ]
    .into();
    let victim = "c-worker-1";
    // Distinct ids: redelivered duplicates do not count as progress.
    let distinct_before = ids_in(&sink_file).len();
    assert!(
        (distinct_before as u64) < RECORDS,
        "records must still be flowing when the Pod goes ({distinct_before} of {RECORDS} already in the sink)"
    );
    let survivors = ["c-worker-0", "c-worker-2"];
    let deleted_ts = k8s_openapi::jiff::Timestamp::now();
    pods.delete(victim, &DeleteParams::default())
        .await
        .expect("deleting a worker Pod");
    // The victim's tasks start again elsewhere: measured from the workers'
    // own log lines (the Pod is recreated under the same name and may take
    // tasks back before a status poll would see the intermediate state).
    let victim_tasks: Vec<String> = before
        .iter()
        .flat_map(|(name, tasks)| {
            tasks
                .iter()
                .filter(|(_, w)| w.as_str() == victim)
                .map(move |(id, _)| format!("{name}-{id}"))
        })
        .collect();
    assert_eq!(
        victim_tasks.len(),
        4,
        "the victim ran 4 tasks: {victim_tasks:?}"
    );
    let mut restarted: BTreeMap<String, k8s_openapi::jiff::Timestamp> = BTreeMap::new();
    eventually(
        "the deleted Pod's tasks RUNNING again",
        Duration::from_secs(30),
        || {
            for p in ["c-worker-0", "c-worker-1", "c-worker-2"] {
                for (ts, line) in log_lines(&kubelet.log_dir.join(format!("{p}.log"))) {
                    if ts <= deleted_ts || !line.contains(" task RUNNING ") {
                        continue;
                    }
                    for t in &victim_tasks {
                        // `task=<id>` as a field: a source task's line
                        // goes on with `exactly_once=…`.
                        let field = format!("task={t}");
                        if line.split_whitespace().any(|w| w == field) {
                            restarted.entry(t.clone()).or_insert(ts);
                        }
                    }
                }
            }
            let done = restarted.len() == victim_tasks.len();
            async move { done }
        },
    )
    .await;
    let last = restarted.values().max().copied().expect("restart times");
    let failover = Duration::from_secs_f64(last.duration_since(deleted_ts).as_secs_f64().max(0.0));
    println!(
        "failover: the deleted Pod's 4 tasks RUNNING on the other workers {:.2} s after the deletion",
        failover.as_secs_f64()
    );
    both_running(
        &connectors,
        "all 12 tasks RUNNING after the failover",
        &operator,
    )
    .await;
    // Untouched tasks: the survivors stopped nothing between the deletion
    // and the moment the recreated Pod joined (from then on, moving tasks
    // to it is the rebalance that scale-up asks for).
    // The recreated Pod's process starting is the earliest moment it can
    // join (its first heartbeat comes after), so nothing a survivor stops
    // before that is due to the rejoin. (The operator's "assignment
    // written" line can trail the record by the send's acknowledgement,
    // after a fast worker already acted on it.)
    let joined = log_lines(&kubelet.log_dir.join(format!("{victim}.log")))
        .into_iter()
        .filter(|(ts, l)| *ts > deleted_ts && l.contains("distributed worker started"))
        .map(|(ts, _)| ts)
        .next()
        .unwrap_or_else(k8s_openapi::jiff::Timestamp::now);
    for p in survivors {
        let stopped: Vec<String> = log_lines(&kubelet.log_dir.join(format!("{p}.log")))
            .into_iter()
            .filter(|(ts, l)| *ts > deleted_ts && *ts < joined && l.contains("stopping task"))
            .map(|(_, l)| l)
            .collect();
        assert!(
            stopped.is_empty(),
            "{p} stopped tasks during the failover (tasks that were not on {victim} must keep running): {stopped:?}"
        );
    }
    assert!(
        failover <= Duration::from_secs(5),
        "failover took {failover:?}, the target is 5 s"
    );

    // The operator recreates the Pod, which gets its share back.
    let cc = wait_for_resource(
        &clusters,
        CLUSTER,
        "3 workers balanced again",
        long,
        &operator,
        |cc| balanced(cc, 3, 4) && cc.status.as_ref().is_some_and(|s| s.ready_replicas == 3),
    )
    .await;
    println!("the recreated Pod took its share: {:?}", loads(&cc));

    // Every generated record reaches the sink file (at least once).
    let complete = support::wait_for(Duration::from_secs(120), || {
        ids_in(&sink_file).len() as u64 >= RECORDS
    });
    let ids = ids_in(&sink_file);
    let missing: Vec<u64> = (0..RECORDS)
        .filter(|i| !ids.contains_key(i))
        .take(10)
        .collect();
    let duplicates: u32 = ids.values().map(|n| n - 1).sum();
    println!(
        "sink file: {} distinct of {RECORDS} records, {duplicates} duplicates (at-least-once)",
        ids.len()
    );
    assert!(
        complete && missing.is_empty(),
        "records missing from the sink, e.g. {missing:?}"
    );

    // --- Scale to 4: the new worker gets its share, counts stay balanced.
    let scaled = k8s::kubectl(&[
        "scale",
        "connectcluster",
        CLUSTER,
        "-n",
        &ns,
        "--replicas=4",
    ]);
    assert!(
        scaled.status.success(),
        "kubectl scale through the scale subresource: {}",
        String::from_utf8_lossy(&scaled.stderr)
    );
    let cc = wait_for_resource(
        &clusters,
        CLUSTER,
        "4 workers with 3 tasks each",
        long,
        &operator,
        |cc| {
            balanced(cc, 4, 3)
                && cc
                    .status
                    .as_ref()
                    .is_some_and(|s| s.ready_replicas == 4 && s.replicas == 4)
        },
    )
    .await;
    println!("scaled to 4: {:?}", loads(&cc));
    both_running(&connectors, "all tasks RUNNING after scale-up", &operator).await;

    // --- Scale to 2: c-worker-2 and c-worker-3 drain before they go.
    clusters
        .patch(
            CLUSTER,
            &merge,
            &Patch::Merge(json!({"spec": {"replicas": 2}})),
        )
        .await
        .expect("scaling to 2");
    let cc = wait_for_resource(
        &clusters,
        CLUSTER,
        "2 workers with 6 tasks each",
        long,
        &operator,
        |cc| balanced(cc, 2, 6) && cc.status.as_ref().is_some_and(|s| s.replicas == 2),
    )
    .await;
    println!("scaled to 2: {:?}", loads(&cc));
    for gone in ["c-worker-2", "c-worker-3"] {
        eventually(
            &format!("{gone} to exit"),
            Duration::from_secs(30),
            || async {
                kubelet.pid(gone).is_none() && pod_log(&kubelet, gone).contains("shutting down")
            },
        )
        .await;
        let log = pod_log(&kubelet, gone);
        let last = log
            .lines()
            .rfind(|l| l.contains("shutting down"))
            .unwrap_or_default()
            .to_owned();
        assert!(
            last.contains("remaining=0"),
            "{gone} still ran tasks when its Pod was deleted (not drained first): {last}"
        );
    }
    both_running(&connectors, "all tasks RUNNING after scale-down", &operator).await;

    // --- Rolling update: a change to the Pod template rolls the Pods one
    // at a time, each drained before it goes.
    let shutdowns = |pod: &str| pod_log(&kubelet, pod).matches("shutting down").count();
    let before_roll: BTreeMap<&str, usize> = ["c-worker-0", "c-worker-1"]
        .iter()
        .map(|p| (*p, shutdowns(p)))
        .collect();
    let old_hash = pod_hash(&pods, "c-worker-0").await;
    let rolled_at = Instant::now();
    clusters
        .patch(
            CLUSTER,
            &merge,
            &Patch::Merge(json!({"spec": {"env": [{"name": "ROLLED", "value": "1"}]}})),
        )
        .await
        .expect("changing the Pod template");
    let mut most_down = 0;
    loop {
        let list = pods.list(&Default::default()).await.expect("listing Pods");
        let workers: Vec<&Pod> = list
            .items
            .iter()
            .filter(|p| p.name_any().starts_with("c-worker-"))
            .collect();
        let up = workers
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none() && pod_ready(p))
            .count();
        most_down = most_down.max(2usize.saturating_sub(up));
        let rolled =
            workers.len() == 2 && up == 2 && workers.iter().all(|p| annotation_hash(p) != old_hash);
        if rolled {
            break;
        }
        assert!(
            rolled_at.elapsed() < Duration::from_secs(90),
            "rolling update not done in 90 s; operator log:\n{}",
            operator.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (pod, n) in &before_roll {
        let log = pod_log(&kubelet, pod);
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("shutting down"))
            .collect();
        assert_eq!(lines.len(), n + 1, "{pod} rolled exactly once");
        assert!(
            lines[lines.len() - 1].contains("remaining=0"),
            "{pod} was drained before it was rolled: {}",
            lines[lines.len() - 1]
        );
    }
    assert!(
        most_down <= 1,
        "at most one worker down at a time during the roll"
    );
    both_running(&connectors, "all tasks RUNNING after the roll", &operator).await;
    println!(
        "rolling update: 2 Pods rolled one at a time, each drained first, in {:.1} s",
        rolled_at.elapsed().as_secs_f64()
    );

    // --- A worker that stops heartbeating (frozen, Pod still there) is
    // treated as lost.
    let frozen = "c-worker-1";
    // The rolled Pods have their share back first, so the frozen worker
    // runs tasks that must move.
    let cc = wait_for_resource(
        &clusters,
        CLUSTER,
        "2 workers with 6 tasks each after the roll",
        long,
        &operator,
        |cc| balanced(cc, 2, 6),
    )
    .await;
    both_running(
        &connectors,
        "all tasks RUNNING before the freeze",
        &operator,
    )
    .await;
    let mut frozen_tasks = 0;
    for name in ["gen", "sink"] {
        let c = connectors.get(name).await.expect("connector");
        frozen_tasks += placement(&c).values().filter(|w| *w == frozen).count();
    }
    assert_eq!(
        frozen_tasks,
        6,
        "{frozen} runs 6 tasks before it is frozen: {:?}",
        loads(&cc)
    );
    let pid = kubelet.pid(frozen).expect("pid of c-worker-1");
    let stopped_at = Instant::now();
    assert!(signal(pid, "STOP"), "kill -STOP {pid}");
    for name in ["gen", "sink"] {
        wait_for_resource(
            &connectors,
            name,
            "the frozen worker's tasks RUNNING elsewhere",
            Duration::from_secs(20),
            &operator,
            |c| {
                all_tasks(c, ConnectState::Running, 6) && placement(c).values().all(|w| w != frozen)
            },
        )
        .await;
    }
    println!(
        "stale heartbeat: tasks of the frozen worker RUNNING elsewhere {:.2} s after SIGSTOP (heartbeat timeout 3 s)",
        stopped_at.elapsed().as_secs_f64()
    );
    assert!(signal(pid, "CONT"), "kill -CONT {pid}");
    wait_for_resource(
        &clusters,
        CLUSTER,
        "the thawed worker back with its share",
        long,
        &operator,
        |cc| balanced(cc, 2, 6),
    )
    .await;

    // --- Leader hand-over: the standby replica takes over when the
    // leader stops (it releases the Lease on SIGTERM).
    let mut operator = operator;
    let handover = Instant::now();
    assert!(
        operator.terminate().success(),
        "operator exits cleanly on SIGTERM"
    );
    let operator = standby;
    wait_leading(&operator, "the standby to lead", Duration::from_secs(20));
    let lease = Api::<k8s_openapi::api::coordination::v1::Lease>::namespaced(client.clone(), &ns)
        .get("kconnect-operator")
        .await
        .expect("the operator's Lease");
    assert_eq!(
        lease.spec.and_then(|s| s.holder_identity).as_deref(),
        Some("operator-1"),
        "the standby holds the Lease"
    );
    println!(
        "leader hand-over: the standby leads {:.2} s after the leader got SIGTERM",
        handover.elapsed().as_secs_f64()
    );

    // --- Pause, resume, stop through spec.state.
    for (state, want, reason) in [
        ("paused", ConnectState::Paused, "Paused"),
        ("running", ConnectState::Running, "AllTasksRunning"),
        ("stopped", ConnectState::Stopped, "Stopped"),
    ] {
        let t = Instant::now();
        connectors
            .patch(
                "gen",
                &merge,
                &Patch::Merge(json!({"spec": {"state": state}})),
            )
            .await
            .expect("patching spec.state");
        wait_for_resource(
            &connectors,
            "gen",
            &format!("gen {state}"),
            Duration::from_secs(30),
            &operator,
            |c| all_tasks(c, want, 6) && ready(c).is_some_and(|r| r.0 && r.1 == reason),
        )
        .await;
        println!(
            "gen {state}: status followed in {:.2} s",
            t.elapsed().as_secs_f64()
        );
    }

    // --- Invalid Connectors: Ready=False naming the key; the rest runs on.
    for (name, spec, key) in [
        (
            "bad-class",
            json!({"class": "com.example.NoSuchConnector", "tasksMax": 1}),
            "connector.class",
        ),
        (
            "no-topics",
            json!({"class": "FileStreamSink", "tasksMax": 1, "config": {"file": "/tmp/x"}}),
            "topics",
        ),
        (
            "bad-rate",
            json!({"class": "datagen", "tasksMax": 1, "config": {"topic": "t", "rate": "fast"}}),
            "rate",
        ),
        (
            // It would reach the config topic: refused, naming the key.
            "literal-secret",
            json!({"class": "datagen", "tasksMax": 1, "config": {"topic": "t", "producer.override.sasl.jaas.config": "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"p\";"}}),
            "spec.config.producer.override.sasl.jaas.config",
        ),
    ] {
        connectors
            .create(&pp, &connector_object(&ns, name, spec))
            .await
            .expect("creating an invalid Connector");
        let c = wait_for_resource(
            &connectors,
            name,
            "Ready=False InvalidConfig",
            Duration::from_secs(30),
            &operator,
            |c| ready(c).is_some_and(|r| !r.0 && r.1 == "InvalidConfig"),
        )
        .await;
        let (_, _, message) = ready(&c).expect("Ready condition");
        assert!(
            message.contains(key),
            "{name}: the message names {key}: {message}"
        );
        println!("{name}: Ready=False InvalidConfig: {message}");
    }
    // A Connector for a cluster that does not exist, and a cluster whose
    // Kafka cannot be reached: clear conditions, the rest runs on.
    connectors
        .create(
            &pp,
            &connector_object(
                &ns,
                "orphan",
                json!({"class": "datagen", "config": {"topic": "t"}}),
            )
            .tap_label("nope"),
        )
        .await
        .expect("creating a Connector for a missing cluster");
    wait_for_resource(
        &connectors,
        "orphan",
        "Ready=False ClusterNotFound",
        Duration::from_secs(30),
        &operator,
        |c| ready(c).is_some_and(|r| !r.0 && r.1 == "ClusterNotFound"),
    )
    .await;
    let mut broken = cluster_object(&ns, 0);
    broken.metadata.name = Some("broken".into());
    broken.spec.bootstrap_servers = "127.0.0.1:1".into();
    clusters
        .create(&pp, &broken)
        .await
        .expect("creating the broken cluster");
    let b = wait_for_resource(
        &clusters,
        "broken",
        "Ready=False KafkaUnavailable",
        Duration::from_secs(60),
        &operator,
        |cc| cluster_not_ready(cc, "KafkaUnavailable"),
    )
    .await;
    let message = &b.status.as_ref().expect("status").conditions[0].message;
    println!("broken: Ready=False KafkaUnavailable: {message}");
    // A worker config the operator must refuse, naming the key, before it
    // makes any Pod.
    let refused = |name: &'static str, key: &'static str, value: &'static str| {
        let (clusters, pods, pp, operator) = (&clusters, &pods, &pp, &operator);
        let mut cc = cluster_object(&ns, 1);
        cc.metadata.name = Some(name.into());
        cc.spec.config.insert(key.into(), value.into());
        async move {
            clusters
                .create(pp, &cc)
                .await
                .unwrap_or_else(|e| panic!("creating cluster {name}: {e}"));
            let got = wait_for_resource(
                clusters,
                name,
                "Ready=False InvalidConfig",
                Duration::from_secs(30),
                operator,
                |cc| cluster_not_ready(cc, "InvalidConfig"),
            )
            .await;
            let message = &got.status.as_ref().expect("status").conditions[0].message;
            assert!(
                message.starts_with(&format!("spec.config.{key}:")),
                "{message}"
            );
            assert!(
                pods.get_opt(&format!("{name}-worker-0"))
                    .await
                    .expect("pods")
                    .is_none(),
                "no worker Pod for a refused cluster"
            );
        }
    };
    // A secret in clear would be in the Pods' environment.
    refused(
        "leaky",
        "producer.sasl.jaas.config",
        "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"p\";",
    )
    .await;
    // A value the workers would refuse at start.
    refused("eos", "exactly.once.source.support", "always").await;

    // tasksMax 0 never gets that far: the schema rejects it.
    let rejected = connectors
        .create(
            &pp,
            &connector_object(
                &ns,
                "zero-tasks",
                json!({"class": "datagen", "tasksMax": 0, "config": {"topic": "t"}}),
            ),
        )
        .await
        .expect_err("tasksMax 0 is rejected by the apiserver");
    assert!(rejected.to_string().contains("tasksMax"), "{rejected}");
    wait_for_resource(
        &connectors,
        "sink",
        "the sink still RUNNING",
        Duration::from_secs(10),
        &operator,
        |c| all_tasks(c, ConnectState::Running, 6),
    )
    .await;

    // --- autoRestart: a task failing on a malformed record is restarted
    // with backoff until maxRestarts, then stays FAILED.
    let bad_topic = support::unique("malformed");
    support::create_topic(&bad_topic, 1);
    produce_raw(&bad_topic, b"this is not JSON");
    connectors
        .create(
            &pp,
            &connector_object(
                &ns,
                "fragile",
                json!({"class": "FileStreamSink", "tasksMax": 1,
                       "autoRestart": {"enabled": true, "maxRestarts": 2},
                       "config": {"topics": bad_topic, "file": dir.path().join("fragile.txt").to_string_lossy()}}),
            ),
        )
        .await
        .expect("creating the fragile Connector");
    let c = wait_for_resource(
        &connectors,
        "fragile",
        "2 restarts, then FAILED",
        Duration::from_secs(60),
        &operator,
        |c| {
            c.status.as_ref().is_some_and(|s| {
                s.tasks.len() == 1
                    && s.tasks[0].state == ConnectState::Failed
                    && s.tasks[0].restart_count == 2
            }) && ready(c).is_some_and(|r| !r.0 && r.1 == "TaskFailed")
        },
    )
    .await;
    let task = &c.status.as_ref().expect("status").tasks[0];
    println!(
        "fragile: FAILED after {} restarts; trace starts: {}",
        task.restart_count,
        task.trace
            .as_deref()
            .unwrap_or("")
            .lines()
            .next()
            .unwrap_or("")
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let c = connectors.get("fragile").await.expect("fragile");
    assert_eq!(
        c.status.expect("status").tasks[0].restart_count,
        2,
        "no restart beyond maxRestarts"
    );
    // Kubernetes Events tell the story.
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client.clone(), &ns);
    let reasons: BTreeSet<String> = events
        .list(&Default::default())
        .await
        .expect("listing Events")
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("fragile"))
        .filter_map(|e| e.reason)
        .collect();
    assert!(
        reasons.contains("TaskFailed") && reasons.contains("TaskRestarted"),
        "Events for fragile: {reasons:?}"
    );

    // --- Delete a Connector: the finalizer removes it and its statuses.
    connectors
        .delete("sink", &DeleteParams::default())
        .await
        .expect("deleting the sink");
    eventually(
        "the sink Connector to be gone",
        Duration::from_secs(45),
        || async { matches!(connectors.get_opt("sink").await, Ok(None)) },
    )
    .await;
    let statuses = status_topic_keys(&format!("{ns}.{CLUSTER}.status"));
    assert!(
        !statuses
            .iter()
            .any(|k| k == "status-connector-sink" || k.starts_with("status-task-sink-")),
        "statuses of the deleted connector are gone from the status topic: {statuses:?}"
    );
    let lines = support::count_lines(&sink_file);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        support::count_lines(&sink_file),
        lines,
        "the deleted sink's tasks stopped"
    );

    // Clean up: the cluster's finalizer removes the worker Pods.
    clusters
        .delete(CLUSTER, &DeleteParams::default())
        .await
        .expect("deleting the cluster");
    eventually(
        "worker Pods to be gone",
        Duration::from_secs(60),
        || async {
            pods.list(&Default::default()).await.is_ok_and(|l| {
                l.items
                    .iter()
                    .all(|p| !p.name_any().starts_with("c-worker-"))
            })
        },
    )
    .await;
    let mut operator = operator;
    let status = operator.terminate();
    assert!(
        status.success(),
        "operator exits cleanly on SIGTERM: {status}"
    );
    kubelet.shutdown().await;
}

/// Polls an async check until it holds.
async fn eventually<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

trait TapLabel {
    fn tap_label(self, cluster: &str) -> Self;
}

impl TapLabel for Connector {
    /// The same Connector for another cluster.
    fn tap_label(mut self, cluster: &str) -> Self {
        self.labels_mut()
            .insert(CLUSTER_LABEL.into(), cluster.into());
        self
    }
}

fn describe_topic(topic: &str) -> String {
    let out = std::process::Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/env/kafka.sh"))
        .args([
            "topics",
            "--bootstrap-server",
            &support::kafka_bootstrap(),
            "--describe",
            "--topic",
            topic,
        ])
        .output()
        .expect("running kafka.sh topics --describe");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn pod_hash(pods: &Api<Pod>, name: &str) -> String {
    annotation_hash(&pods.get(name).await.expect("worker Pod"))
}

/// Writes one raw record to partition 0.
fn produce_raw(topic: &str, value: &[u8]) {
    use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
    let producer: ThreadedProducer<DefaultProducerContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", support::kafka_bootstrap())
        .create()
        .expect("producer");
    producer
        .send(
            BaseRecord::<(), [u8]>::to(topic)
                .payload(value)
                .partition(0),
        )
        .map_err(|(e, _)| e)
        .expect("producing");
    producer.flush(Duration::from_secs(10)).expect("flushing");
}

/// Keys with a live (non-tombstone) last value in the status topic.
fn status_topic_keys(topic: &str) -> BTreeSet<String> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Message;
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", support::kafka_bootstrap())
        .set("group.id", support::unique("status-reader"))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("consumer");
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    let partitions = md.topics()[0].partitions().len() as i32;
    let mut tpl = rdkafka::TopicPartitionList::new();
    let mut ends = BTreeMap::new();
    for p in 0..partitions {
        let (_, high) = consumer
            .fetch_watermarks(topic, p, Duration::from_secs(10))
            .expect("watermarks");
        ends.insert(p, high);
        tpl.add_partition_offset(topic, p, rdkafka::Offset::Beginning)
            .expect("tpl");
    }
    consumer.assign(&tpl).expect("assign");
    let mut live = BTreeMap::new();
    let mut pos: BTreeMap<i32, i64> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while ends
        .iter()
        .any(|(p, e)| pos.get(p).copied().unwrap_or(0) < *e)
    {
        assert!(Instant::now() < deadline, "reading the status topic");
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            let key = String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned();
            live.insert(key, m.payload().is_some());
            pos.insert(m.partition(), m.offset() + 1);
        }
    }
    live.into_iter()
        .filter(|(_, v)| *v)
        .map(|(k, _)| k)
        .collect()
}
