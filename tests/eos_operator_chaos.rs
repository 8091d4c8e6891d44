//! Exactly-once source delivery (KIP-618) on an operator-managed cluster
//! under chaos, end to end: the real kube-apiserver, the real KRaft broker,
//! `kconnect operator` as a process, and three worker Pods run by the
//! kubelet stand-in as local `kconnect worker` processes, with
//! `exactly.once.source.support=enabled`.
//!
//! Two source connectors run (datagen with three tasks, the file source)
//! while 20 disruptions land at random moments, in turn: a worker Pod
//! deleted, a worker process SIGKILLed, a worker frozen (SIGSTOP) for
//! longer than the heartbeat timeout, so its tasks move and their new
//! owners fence it, then thawed (SIGCONT). A scale-down (3 → 2, then back
//! to 3) and a rolling update land among them. At the end a fresh
//! `read_committed` consumer must see every generated record exactly once,
//! and no task may have ended FAILED because it was fenced.
//!
//! The contrast test runs the same cluster without exactly-once and fewer
//! disruptions, and shows the duplicates at-least-once delivery leaves.
//!
//! Disruption times and victims come from a seeded generator; the seed is
//! printed and `KCONNECT_EOS_SEED=<seed>` replays the schedule (the
//! cluster's own timing still varies). `KCONNECT_EOS_CHAOS=long` runs more
//! records, more slowly, with longer pauses between disruptions.

mod support;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kconnect::api::{ConnectCluster, ConnectState, Connector, CLUSTER_LABEL};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;
use support::eos::{
    datagen_id, file_line, long_form, read_all, write_lines, Isolation, Prng, Report, Tally,
    TopicReader,
};
use support::kubelet::Kubelet;
use support::operator::{
    all_tasks, annotation_hash, pod_ready, signal, spawn_operator, test_cluster_config,
    wait_for_resource, wait_leading,
};
use support::{k8s, Process};

const CLUSTER: &str = "c";
const REPLICAS: i32 = 3;
/// Partitions of each data topic: a reader must merge them.
const PARTITIONS: u32 = 3;
const DATAGEN_TASKS: usize = 3;
/// The file source reads one file with one task, as Java's does
/// (`task_configs` returns a single config whatever tasksMax says).
const FILE_TASKS: usize = 1;
const HEARTBEAT_TIMEOUT: Duration = Duration::from_millis(3000);

/// How much data, how many disruptions, how far apart.
#[derive(Debug, Clone, Copy)]
struct Scale {
    datagen_count: u64,
    /// Records per second for the three datagen tasks together: slow
    /// enough that the stream outlives the disruptions.
    datagen_rate: u64,
    file_lines: u64,
    /// Lines per file-source poll, hence per transaction: small, so the
    /// file is still being read while disruptions land.
    file_batch: u32,
    disruptions: usize,
    /// Scale-down, scale-up and a roll among the disruptions.
    scale_and_roll: bool,
    /// Pause before each disruption.
    gap: (Duration, Duration),
    /// How much longer than the heartbeat timeout a frozen worker stays
    /// frozen.
    freeze_beyond: (Duration, Duration),
}

impl Scale {
    /// Sized for CI (debug build, two cores) unless the long form is asked
    /// for.
    fn new(disruptions: usize, long_disruptions: usize, scale_and_roll: bool) -> Scale {
        if long_form() {
            Scale {
                datagen_count: 300_000,
                datagen_rate: 1_000,
                file_lines: 60_000,
                file_batch: 20,
                disruptions: long_disruptions,
                scale_and_roll,
                gap: (Duration::from_secs(2), Duration::from_secs(10)),
                freeze_beyond: (Duration::from_secs(1), Duration::from_secs(3)),
            }
        } else {
            // Measured in a debug build on two cores: the 20 disruptions
            // take 55-80 s (a third of them freezes of 4-5 s); under them
            // datagen commits 120-200 records/s and the file source ~150
            // lines/s (a transaction per poll of 10 lines), so datagen runs
            // through all of them, the file through most, and what is left
            // to drain afterwards takes about as long as the roll (~30 s):
            // 90-135 s for the test.
            Scale {
                datagen_count: 20_000,
                datagen_rate: 500,
                file_lines: 9_000,
                file_batch: 10,
                disruptions,
                scale_and_roll,
                gap: (Duration::from_millis(300), Duration::from_millis(1500)),
                freeze_beyond: (Duration::from_secs(1), Duration::from_secs(2)),
            }
        }
    }
}

/// Follows both data topics as `read_committed` consumers, a thread each:
/// what the connectors have committed so far.
struct Watch {
    datagen: Arc<Mutex<Tally>>,
    file: Arc<Mutex<Tally>>,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Watch {
    fn start(datagen_topic: &str, file_topic: &str, scale: &Scale) -> Watch {
        let datagen = Arc::new(Mutex::new(Tally::new(scale.datagen_count)));
        let file = Arc::new(Mutex::new(Tally::new(scale.file_lines)));
        let stop = Arc::new(AtomicBool::new(false));
        let follow = |topic: &str, tally: &Arc<Mutex<Tally>>, id: fn(&[u8]) -> Option<u64>| {
            let mut reader = TopicReader::new(topic, Isolation::ReadCommitted);
            assert_eq!(
                reader.partitions(),
                PARTITIONS as usize,
                "partitions of {topic}"
            );
            let (tally, stop) = (tally.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    reader.poll_for(Duration::from_millis(100), |v| {
                        tally.lock().expect("tally lock").add(id(v))
                    });
                }
            })
        };
        let threads = vec![
            follow(datagen_topic, &datagen, datagen_id),
            follow(file_topic, &file, file_line),
        ];
        Watch {
            datagen,
            file,
            stop,
            threads,
        }
    }

    fn datagen(&self) -> Report {
        self.datagen.lock().expect("tally lock").report()
    }

    fn file(&self) -> Report {
        self.file.lock().expect("tally lock").report()
    }

    fn progress(&self) -> (u64, u64, bool, bool) {
        let d = self.datagen.lock().expect("tally lock");
        let f = self.file.lock().expect("tally lock");
        (d.distinct(), f.distinct(), d.complete(), f.complete())
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// The kinds of disruption, taken in turn.
#[derive(Debug, Clone, Copy)]
enum Kind {
    DeletePod,
    Kill9,
    Freeze,
}

const KINDS: [Kind; 3] = [Kind::DeletePod, Kind::Kill9, Kind::Freeze];

/// One operator, a kubelet stand-in and a 3-worker cluster running both
/// source connectors.
struct Rig {
    ns: String,
    kubelet: Kubelet,
    operator: Process,
    clusters: Api<ConnectCluster>,
    connectors: Api<Connector>,
    pods: Api<Pod>,
    datagen_topic: String,
    file_topic: String,
    scale: Scale,
    _dir: tempfile::TempDir,
}

impl Rig {
    async fn start(tag: &str, exactly_once: bool, scale: Scale) -> Rig {
        let client: Client = k8s::client().await;
        k8s::install_crds(&client).await;
        let ns = k8s::namespace(&client, tag).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let name = support::unique(tag);
        let datagen_topic = format!("{name}-datagen");
        let file_topic = format!("{name}-file");
        support::create_topic(&datagen_topic, PARTITIONS);
        support::create_topic(&file_topic, PARTITIONS);
        let input = dir.path().join("input.txt");
        write_lines(&input, scale.file_lines);

        let kubelet = Kubelet::start(client.clone(), &ns).await;
        // Operator logs next to the Pod logs, which outlive the test.
        let operator = spawn_operator(
            &kubelet.log_dir,
            &ns,
            "operator-0",
            "operator",
            HEARTBEAT_TIMEOUT,
            &["--restart-backoff-ms", "500"],
        );
        wait_leading(&operator, "the operator to lead", Duration::from_secs(30));

        let clusters: Api<ConnectCluster> = Api::namespaced(client.clone(), &ns);
        let connectors: Api<Connector> = Api::namespaced(client.clone(), &ns);
        let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
        let pp = PostParams::default();
        // Internal topics and group.id are `<namespace>.<cluster>…`: unique
        // per run, as is the namespace.
        let mut config = test_cluster_config();
        config["key.converter"] = json!("org.apache.kafka.connect.storage.StringConverter");
        config["value.converter"] = json!("org.apache.kafka.connect.json.JsonConverter");
        config["value.converter.schemas.enable"] = json!("false");
        if exactly_once {
            config["exactly.once.source.support"] = json!("enabled");
        }
        let cluster: ConnectCluster = serde_json::from_value(json!({
            "apiVersion": "kconnect.dev/v1alpha1",
            "kind": "ConnectCluster",
            "metadata": {"name": CLUSTER, "namespace": ns},
            "spec": {
                "replicas": REPLICAS,
                "bootstrapServers": support::kafka_bootstrap(),
                "config": config
            }
        }))
        .expect("ConnectCluster object");
        clusters
            .create(&pp, &cluster)
            .await
            .expect("creating the ConnectCluster");

        let rig = Rig {
            ns,
            kubelet,
            operator,
            clusters,
            connectors,
            pods,
            datagen_topic,
            file_topic,
            scale,
            _dir: dir,
        };
        rig.wait_cluster("3 ready workers", Duration::from_secs(120), |cc| {
            cc.status.as_ref().is_some_and(|s| {
                s.ready_replicas == REPLICAS
                    && s.conditions
                        .iter()
                        .any(|c| c.type_ == "Ready" && c.is_true())
            })
        })
        .await;

        let mut transactions = json!({});
        if exactly_once {
            // The connectors ask for it explicitly: validation fails them
            // if the cluster could not deliver exactly once.
            transactions = json!({"exactly.once.support": "required"});
        }
        for (name, class, tasks, mut config) in [
            (
                "gen",
                "datagen",
                DATAGEN_TASKS,
                json!({"topic": rig.datagen_topic, "rate": scale.datagen_rate.to_string(),
                       "count": scale.datagen_count.to_string(), "batch.size": "100"}),
            ),
            (
                "file",
                "org.apache.kafka.connect.file.FileStreamSourceConnector",
                FILE_TASKS,
                json!({"topic": rig.file_topic, "file": input.to_string_lossy(),
                       "batch.size": scale.file_batch.to_string()}),
            ),
        ] {
            for (k, v) in transactions.as_object().expect("object") {
                config[k] = v.clone();
            }
            let c: Connector = serde_json::from_value(json!({
                "apiVersion": "kconnect.dev/v1alpha1",
                "kind": "Connector",
                "metadata": {"name": name, "namespace": rig.ns, "labels": {CLUSTER_LABEL: CLUSTER}},
                "spec": {"class": class, "tasksMax": tasks, "config": config},
            }))
            .expect("Connector object");
            rig.connectors
                .create(&pp, &c)
                .await
                .unwrap_or_else(|e| panic!("creating the {name} Connector: {e}"));
        }
        rig.both_running("both connectors RUNNING", Duration::from_secs(90))
            .await;
        rig
    }

    /// Polls the cluster until `pred` holds; fails with its last status and
    /// the operator's log otherwise.
    async fn wait_cluster(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&ConnectCluster) -> bool,
    ) -> ConnectCluster {
        wait_for_resource(&self.clusters, CLUSTER, what, timeout, &self.operator, pred).await
    }

    /// Waits until both connectors run all their tasks.
    async fn both_running(&self, what: &str, timeout: Duration) -> [Connector; 2] {
        let deadline = Instant::now() + timeout;
        loop {
            let gen = self.connectors.get("gen").await;
            let file = self.connectors.get("file").await;
            if let (Ok(gen), Ok(file)) = (gen, file) {
                if all_tasks(&gen, ConnectState::Running, DATAGEN_TASKS)
                    && all_tasks(&file, ConnectState::Running, FILE_TASKS)
                {
                    return [gen, file];
                }
                if Instant::now() >= deadline {
                    panic!(
                        "timed out after {timeout:?} waiting for {what}; gen: {}\nfile: {}\n{}",
                        serde_json::to_string_pretty(&gen.status).unwrap_or_default(),
                        serde_json::to_string_pretty(&file.status).unwrap_or_default(),
                        self.logs_hint()
                    );
                }
            }
            assert!(
                Instant::now() < deadline,
                "timed out reading the Connectors"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn logs_hint(&self) -> String {
        format!(
            "worker Pod logs in {}; operator log ({}):\n{}",
            self.kubelet.log_dir.display(),
            self.operator.log.display(),
            self.operator.log_tail()
        )
    }

    /// Workers running a task of either connector, by the Connectors'
    /// status.
    async fn busy_workers(&self) -> Vec<String> {
        let mut out = Vec::new();
        for name in ["gen", "file"] {
            if let Ok(c) = self.connectors.get(name).await {
                for t in c.status.iter().flat_map(|s| &s.tasks) {
                    if let Some(w) = &t.worker_id {
                        if !out.contains(w) {
                            out.push(w.clone());
                        }
                    }
                }
            }
        }
        out
    }

    /// Worker Pods among the first `replicas` that are up (Ready, not
    /// being deleted, a process running).
    async fn live_workers(&self, replicas: i32) -> Vec<String> {
        let Ok(list) = self.pods.list(&Default::default()).await else {
            return Vec::new();
        };
        let wanted: Vec<String> = (0..replicas)
            .map(|i| format!("{CLUSTER}-worker-{i}"))
            .collect();
        list.items
            .iter()
            .filter(|p| wanted.contains(&p.name_any()))
            .filter(|p| p.metadata.deletion_timestamp.is_none() && pod_ready(p))
            .map(|p| p.name_any())
            .filter(|n| self.kubelet.pid(n).is_some())
            .collect()
    }

    /// A victim among the live workers, preferring those that run tasks.
    async fn victim(&self, replicas: i32, prng: &mut Prng) -> String {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let live = self.live_workers(replicas).await;
            let busy = self.busy_workers().await;
            let preferred: Vec<String> =
                live.iter().filter(|w| busy.contains(w)).cloned().collect();
            let pool = if preferred.is_empty() {
                live
            } else {
                preferred
            };
            if !pool.is_empty() {
                return prng.pick(&pool).clone();
            }
            assert!(
                Instant::now() < deadline,
                "no worker Pod up for 90 s to disrupt; {}",
                self.logs_hint()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Lands one disruption on `victim`; a description of what was done.
    async fn disrupt(&self, kind: Kind, victim: &str, prng: &mut Prng) -> String {
        match kind {
            Kind::DeletePod => match self.pods.delete(victim, &DeleteParams::default()).await {
                Ok(_) => format!("deleted Pod {victim}"),
                Err(e) => format!("deleting Pod {victim} failed ({e})"),
            },
            Kind::Kill9 => match self.kubelet.pid(victim) {
                Some(pid) if signal(pid, "KILL") => format!("kill -9 {victim} (pid {pid})"),
                _ => format!("kill -9 {victim}: no process any more"),
            },
            Kind::Freeze => {
                let Some(pid) = self.kubelet.pid(victim) else {
                    return format!("freeze {victim}: no process any more");
                };
                let (lo, hi) = self.scale.freeze_beyond;
                let frozen = prng.between(HEARTBEAT_TIMEOUT + lo, HEARTBEAT_TIMEOUT + hi);
                if !signal(pid, "STOP") {
                    return format!("freeze {victim}: no process any more");
                }
                tokio::time::sleep(frozen).await;
                signal(pid, "CONT");
                format!("froze {victim} (pid {pid}) for {frozen:?}")
            }
        }
    }

    async fn set_replicas(&self, replicas: i32) {
        self.clusters
            .patch(
                CLUSTER,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"replicas": replicas}})),
            )
            .await
            .expect("scaling the ConnectCluster");
    }

    /// Changes datagen's rate a little: new task configs, whose tasks may
    /// start only once the operator fenced the previous ones.
    async fn reconfigure(&self) {
        let rate = (self.scale.datagen_rate + 10).to_string();
        self.connectors
            .patch(
                "gen",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"config": {"rate": rate}}})),
            )
            .await
            .expect("reconfiguring datagen");
    }

    /// Changes the Pod template, which rolls the Pods one at a time.
    async fn roll(&self) -> String {
        let old = annotation_hash(
            &self
                .pods
                .get(&format!("{CLUSTER}-worker-0"))
                .await
                .expect("worker Pod"),
        );
        self.clusters
            .patch(
                CLUSTER,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"env": [{"name": "ROLLED", "value": "1"}]}})),
            )
            .await
            .expect("changing the Pod template");
        old
    }

    /// Whether every worker Pod runs the new template and is up.
    async fn rolled(&self, old_hash: &str) -> bool {
        let Ok(list) = self.pods.list(&Default::default()).await else {
            return false;
        };
        let workers: Vec<&Pod> = list
            .items
            .iter()
            .filter(|p| p.name_any().starts_with(&format!("{CLUSTER}-worker-")))
            .collect();
        workers.len() == REPLICAS as usize
            && workers.iter().all(|p| {
                p.metadata.deletion_timestamp.is_none()
                    && pod_ready(p)
                    && annotation_hash(p) != old_hash
            })
    }

    /// The disruptions, with a scale-down, scale-up and roll among them
    /// when the scale asks for them. Returns how many disruptions landed
    /// while each connector still had records to commit.
    async fn chaos(&self, watch: &Watch, prng: &mut Prng, t0: Instant) -> Chaos {
        let n = self.scale.disruptions;
        // Where the cluster operations land: after a random disruption in
        // each third of the run.
        let third = (n / 3).max(1);
        let scale_down_after = 1 + (prng.next_u64() as usize) % third;
        let scale_up_after = scale_down_after + 2 + (prng.next_u64() as usize) % 3;
        // New task configs for datagen (same task count): the operator
        // fences the previous generation's producers before they start.
        let reconfigure_after = scale_up_after + 1;
        let roll_after = (2 * third + (prng.next_u64() as usize) % third).max(scale_up_after + 2);
        let mut replicas = REPLICAS;
        let mut out = Chaos::default();
        for i in 0..n {
            tokio::time::sleep(prng.between(self.scale.gap.0, self.scale.gap.1)).await;
            let kind = KINDS[i % KINDS.len()];
            let victim = self.victim(replicas, prng).await;
            let (dg, fl, dg_done, fl_done) = watch.progress();
            out.datagen_mid += usize::from(!dg_done);
            out.file_mid += usize::from(!fl_done);
            let what = self.disrupt(kind, &victim, prng).await;
            out.done += 1;
            println!(
                "[{:6.1} s] disruption {}/{n}: {what}; committed so far: datagen {dg}/{}, file {fl}/{}",
                t0.elapsed().as_secs_f64(),
                i + 1,
                self.scale.datagen_count,
                self.scale.file_lines
            );
            if !self.scale.scale_and_roll {
                continue;
            }
            let step = i + 1;
            if step == scale_down_after {
                self.set_replicas(REPLICAS - 1).await;
                replicas = REPLICAS - 1;
                out.cluster_ops.push("scale-down");
                println!(
                    "[{:6.1} s] scale-down {REPLICAS} → {replicas} (the operator drains {CLUSTER}-worker-{replicas} first)",
                    t0.elapsed().as_secs_f64()
                );
            } else if step == scale_up_after {
                self.set_replicas(REPLICAS).await;
                replicas = REPLICAS;
                out.cluster_ops.push("scale-up");
                println!(
                    "[{:6.1} s] scale-up back to {REPLICAS}",
                    t0.elapsed().as_secs_f64()
                );
            } else if step == reconfigure_after {
                self.reconfigure().await;
                out.cluster_ops.push("reconfigure");
                println!(
                    "[{:6.1} s] datagen reconfigured (new task configs, same 3 tasks)",
                    t0.elapsed().as_secs_f64()
                );
            } else if step == roll_after {
                out.roll_from = Some(self.roll().await);
                out.cluster_ops.push("roll");
                println!(
                    "[{:6.1} s] rolling update: Pod template changed",
                    t0.elapsed().as_secs_f64()
                );
            }
        }
        out
    }

    /// After the chaos: the cluster back to 3 workers (rolled, when a roll
    /// was asked for), every record committed, both connectors RUNNING.
    async fn settle(&self, chaos: &Chaos, watch: &Watch, t0: Instant) -> [Connector; 2] {
        if let Some(old) = &chaos.roll_from {
            let deadline = Instant::now() + Duration::from_secs(180);
            while !self.rolled(old).await {
                assert!(
                    Instant::now() < deadline,
                    "the rolling update did not finish within 180 s; {}",
                    self.logs_hint()
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            println!(
                "[{:6.1} s] rolling update done: {REPLICAS} Pods on the new template",
                t0.elapsed().as_secs_f64()
            );
        }
        self.wait_cluster(
            "3 ready workers after the chaos",
            Duration::from_secs(120),
            |cc| {
                cc.status
                    .as_ref()
                    .is_some_and(|s| s.ready_replicas == REPLICAS && s.replicas == REPLICAS)
            },
        )
        .await;
        // Whatever datagen has left at its rate, plus slack for restarts
        // and a slow machine.
        let left = self.scale.datagen_count - watch.progress().0;
        let timeout = Duration::from_secs(120 + 2 * left / self.scale.datagen_rate);
        let deadline = Instant::now() + timeout;
        let mut said = Instant::now();
        loop {
            let (dg, fl, dg_done, fl_done) = watch.progress();
            if dg_done && fl_done {
                break;
            }
            if Instant::now() >= deadline {
                let running = self.both_running("", Duration::from_secs(1)).await;
                panic!(
                    "not everything was committed within {timeout:?}: datagen {}, file {}; statuses {:?}\n{}",
                    watch.datagen(),
                    watch.file(),
                    running.iter().map(|c| &c.status).collect::<Vec<_>>(),
                    self.logs_hint()
                );
            }
            if said.elapsed() > Duration::from_secs(10) {
                said = Instant::now();
                println!(
                    "[{:6.1} s] waiting for the rest: datagen {dg}/{}, file {fl}/{}",
                    t0.elapsed().as_secs_f64(),
                    self.scale.datagen_count,
                    self.scale.file_lines
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        println!(
            "[{:6.1} s] every record committed",
            t0.elapsed().as_secs_f64()
        );
        self.both_running(
            "both connectors RUNNING at the end",
            Duration::from_secs(90),
        )
        .await
    }

    /// What fresh consumers at both isolation levels read from a topic.
    fn read(&self, topic: &str, expected: u64, id: fn(&[u8]) -> Option<u64>) -> (Tally, u64) {
        let partitions = PARTITIONS as usize;
        let committed = read_all(topic, Isolation::ReadCommitted, partitions, expected, id);
        let all = read_all(topic, Isolation::ReadUncommitted, partitions, expected, id);
        (committed, all.report().records)
    }

    /// Lines of the worker Pod logs (every run of every Pod) containing
    /// `needle`.
    fn worker_log_lines(&self, needle: &str) -> Vec<String> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.kubelet.log_dir)
            .expect("the Pod log folder")
            .flatten()
        {
            let path = entry.path();
            let is_worker = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with(&format!("{CLUSTER}-worker-")) && n.ends_with(".log")
            });
            if is_worker {
                out.extend(lines_containing(&path, needle));
            }
        }
        out
    }

    /// Deletes the cluster (its finalizer removes the Pods), stops the
    /// operator and the stand-in.
    async fn shutdown(self) {
        self.clusters
            .delete(CLUSTER, &DeleteParams::default())
            .await
            .expect("deleting the cluster");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let gone = self.pods.list(&Default::default()).await.is_ok_and(|l| {
                l.items
                    .iter()
                    .all(|p| !p.name_any().starts_with(&format!("{CLUSTER}-worker-")))
            });
            if gone || Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let mut operator = self.operator;
        let status = operator.terminate();
        assert!(
            status.success(),
            "operator exits cleanly on SIGTERM: {status}"
        );
        self.kubelet.shutdown().await;
    }
}

/// What the chaos phase did.
#[derive(Default)]
struct Chaos {
    done: usize,
    datagen_mid: usize,
    file_mid: usize,
    cluster_ops: Vec<&'static str>,
    /// The template hash before the roll, when there was one.
    roll_from: Option<String>,
}

fn failed_tasks(c: &Connector) -> Vec<(i32, String)> {
    c.status
        .iter()
        .flat_map(|s| &s.tasks)
        .filter(|t| t.state == ConnectState::Failed)
        .map(|t| (t.id, t.trace.clone().unwrap_or_default()))
        .collect()
}

fn lines_containing(path: &Path, needle: &str) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_owned)
        .collect()
}

/// The whole scenario; returns the final read_committed tallies and what
/// the worker logs say.
async fn run(tag: &str, exactly_once: bool, scale: Scale) -> Outcome {
    let started = Instant::now();
    let (mut prng, seed) = Prng::from_env_or_clock();
    println!(
        "seed {seed} (KCONNECT_EOS_SEED={seed} replays the schedule); exactly-once {}; {scale:?}",
        if exactly_once { "enabled" } else { "disabled" }
    );
    let rig = Rig::start(tag, exactly_once, scale).await;
    println!(
        "[{:6.1} s] 3 workers, gen (3 tasks) and file (1 task) RUNNING; namespace {}",
        started.elapsed().as_secs_f64(),
        rig.ns
    );
    let watch = Watch::start(&rig.datagen_topic, &rig.file_topic, &scale);
    let chaos = rig.chaos(&watch, &mut prng, started).await;
    let chaos_took = started.elapsed();
    let [gen, file] = rig.settle(&chaos, &watch, started).await;
    drop(watch);

    let (datagen, datagen_uncommitted) =
        rig.read(&rig.datagen_topic, scale.datagen_count, datagen_id);
    let (file_tally, file_uncommitted) = rig.read(&rig.file_topic, scale.file_lines, file_line);
    let mode = if exactly_once {
        "exactly-once"
    } else {
        "at-least-once"
    };
    for (connector, tally, uncommitted, mid) in [
        ("datagen", &datagen, datagen_uncommitted, chaos.datagen_mid),
        ("file", &file_tally, file_uncommitted, chaos.file_mid),
    ] {
        println!(
            "{mode} {connector}: read_committed {}; disruptions={} ({mid} mid-stream) + {:?}; \
             read_uncommitted sees {uncommitted} records ({} more)",
            tally.report(),
            chaos.done,
            chaos.cluster_ops,
            uncommitted.saturating_sub(tally.report().records)
        );
    }
    let fenced = rig.worker_log_lines("fenced out");
    let fenced_failed: Vec<String> = rig
        .worker_log_lines("task FAILED")
        .into_iter()
        .filter(|l| l.to_lowercase().contains("fenc"))
        .collect();
    let operator_fencings = lines_containing(&rig.operator.log, "fenced the producers").len();
    println!(
        "{mode}: {} 'fenced out' lines in the worker logs; the operator fenced a previous task generation {operator_fencings} times",
        fenced.len()
    );
    for l in fenced.iter().take(3) {
        println!("  e.g. {l}");
    }
    println!(
        "{mode}: chaos phase {:.1} s, whole test {:.1} s",
        chaos_took.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    let outcome = Outcome {
        datagen,
        file: file_tally,
        chaos,
        failed: [failed_tasks(&gen), failed_tasks(&file)].concat(),
        fenced_failed,
        fenced_lines: fenced.len(),
        operator_fencings,
        log_dir: rig.kubelet.log_dir.clone(),
    };
    rig.shutdown().await;
    outcome
}

struct Outcome {
    datagen: Tally,
    file: Tally,
    chaos: Chaos,
    /// FAILED tasks of either connector at the end.
    failed: Vec<(i32, String)>,
    /// Worker log lines of tasks FAILED for being fenced.
    fenced_failed: Vec<String>,
    /// Worker log lines of tasks fenced out (stopped quietly).
    fenced_lines: usize,
    /// Previous task generations the operator fenced.
    operator_fencings: usize,
    log_dir: PathBuf,
}

impl Outcome {
    fn assert_none_lost(&self) {
        let context = format!("; Pod logs in {}", self.log_dir.display());
        self.datagen.assert_none_lost("datagen", &context);
        self.file.assert_none_lost("file", &context);
    }

    fn assert_no_duplicates(&self) {
        let context = format!("; Pod logs in {}", self.log_dir.display());
        self.datagen.assert_no_duplicates("datagen", &context);
        self.file.assert_no_duplicates("file", &context);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn operator_cluster_under_chaos_delivers_exactly_once() {
    let scale = Scale::new(20, 60, true);
    let outcome = run("eos-chaos", true, scale).await;
    assert_eq!(outcome.chaos.done, scale.disruptions);
    assert_eq!(
        outcome.chaos.cluster_ops,
        ["scale-down", "scale-up", "reconfigure", "roll"],
        "the cluster operations all happened"
    );
    println!(
        "exactly-once: {} fenced-out task runs in the worker logs, {} fencings by the operator",
        outcome.fenced_lines, outcome.operator_fencings
    );
    outcome.assert_none_lost();
    outcome.assert_no_duplicates();
    assert!(
        outcome.failed.is_empty(),
        "no task FAILED at the end: {:?}",
        outcome.failed
    );
    assert!(
        outcome.fenced_failed.is_empty(),
        "a fenced task stops quietly, it does not fail: {:?}",
        outcome.fenced_failed
    );
    assert!(
        outcome.operator_fencings >= 1,
        "the reconfiguration made the operator fence datagen's previous tasks"
    );
    // Most disruptions must land while records flow; the exact share
    // depends on the machine's speed.
    assert!(
        outcome.chaos.datagen_mid * 4 >= outcome.chaos.done * 3,
        "datagen must still be producing during the chaos: {} of {} disruptions mid-stream",
        outcome.chaos.datagen_mid,
        outcome.chaos.done
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn contrast_at_least_once_under_chaos_duplicates() {
    let mut scale = Scale::new(6, 20, false);
    if !long_form() {
        // Six disruptions take ~15 s: a third of the records keep the tail
        // short.
        scale.datagen_count = 10_000;
    }
    // Without transactions the file source reads its file within a second
    // or two, before the first disruption: its duplicates are usually 0,
    // datagen's are the point.
    let outcome = run("alo-chaos", false, scale).await;
    assert_eq!(outcome.chaos.done, scale.disruptions);
    // At least once: nothing lost; the duplicates are printed above.
    outcome.assert_none_lost();
    println!(
        "contrast: without exactly-once a read_committed consumer sees {} duplicated datagen records and {} duplicated file lines",
        outcome.datagen.report().duplicates,
        outcome.file.report().duplicates
    );
}
