//! A kubelet stand-in for tests (not product code): the control plane has no
//! kubelet, so this watches Pods in a namespace and plays kubelet for them.
//!
//! - Binds each new Pod to a stand-in Node (so deletion is graceful, as on a
//!   real node), gives it its own loopback address (127.0.0.2, .3, …) as
//!   `status.podIP`, and runs its first container as a local process with
//!   the container's command, args and env (downward-API `fieldRef`s, Secret
//!   and ConfigMap keys filled in). A container whose command is `kconnect`
//!   (or that has no command) runs the `kconnect` binary under test.
//! - Secret volumes: the Secret's keys are written as files into the Pod's
//!   folder and bind-mounted at the container's mount paths in a mount
//!   namespace of the process's own (`unshare --mount`), so the paths the
//!   Pod spec names are real and Pods never see each other's files.
//! - Reports `phase`, `containerStatuses` and the `Ready` condition; ready
//!   once the readiness probe (HTTP GET or TCP) answers, or at start without
//!   one.
//! - Restarts a container that exits, like `restartPolicy: Always`
//!   (`restartCount` + 1, back-off capped at 5 s).
//! - On Pod deletion: SIGTERM, the grace period, SIGKILL, then removes the
//!   Pod object.
//!
//! Tests can `kill -9` a pod's process through [`Kubelet::pid`].

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Node, Pod, Probe, Secret};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher::{self, Event};
use kube::Client;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const NODE: &str = "kconnect-standin-node";

/// Addresses handed out across every stand-in of a test binary.
static NEXT_IP: AtomicU8 = AtomicU8::new(2);

#[derive(Clone, Default)]
struct Shared {
    pods: Arc<Mutex<HashMap<String, PodHandle>>>,
}

#[derive(Clone)]
struct PodHandle {
    ip: Ipv4Addr,
    pid: Arc<Mutex<Option<u32>>>,
    /// Cancelled when the Pod is being deleted.
    deleting: CancellationToken,
    supervisor: Arc<Mutex<Option<JoinHandle<()>>>>,
}

/// A running stand-in for one namespace.
pub struct Kubelet {
    shared: Shared,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
    pub log_dir: PathBuf,
}

impl Kubelet {
    /// Starts playing kubelet for the Pods of `namespace`.
    pub async fn start(client: Client, namespace: &str) -> Kubelet {
        ensure_node(&client).await;
        // Under the test run's state folder, so the test command can check
        // that no pod process outlives the run.
        let root = std::env::var_os("KCONNECT_TEST_STATE")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let log_dir = root.join("pods").join(namespace);
        std::fs::create_dir_all(&log_dir).expect("creating the stand-in's log folder");
        let shared = Shared::default();
        let stop = CancellationToken::new();
        let task = tokio::spawn(watch_pods(
            client,
            namespace.to_owned(),
            shared.clone(),
            stop.clone(),
            log_dir.clone(),
        ));
        Kubelet {
            shared,
            stop,
            task: Some(task),
            log_dir,
        }
    }

    /// The process id of a pod's container, if it runs.
    pub fn pid(&self, pod: &str) -> Option<u32> {
        let pods = self.shared.pods.lock().expect("pods lock");
        pods.get(pod).and_then(|h| *h.pid.lock().expect("pid lock"))
    }

    /// The loopback address given to a pod.
    pub fn ip(&self, pod: &str) -> Option<Ipv4Addr> {
        self.shared
            .pods
            .lock()
            .expect("pods lock")
            .get(pod)
            .map(|h| h.ip)
    }

    /// Simulates a crash: SIGKILL to the pod's process. The stand-in then
    /// restarts it as `restartPolicy: Always` would.
    pub fn kill9(&self, pod: &str) {
        if let Some(pid) = self.pid(pod) {
            signal(pid, "KILL");
        }
    }

    /// Stops watching and kills every process it started (SIGTERM, then
    /// SIGKILL), so no process outlives the test.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
        let handles: Vec<PodHandle> = self
            .shared
            .pods
            .lock()
            .expect("pods lock")
            .drain()
            .map(|(_, h)| h)
            .collect();
        for h in handles {
            h.deleting.cancel();
            let sup = h.supervisor.lock().expect("supervisor lock").take();
            if let Some(sup) = sup {
                let _ = tokio::time::timeout(Duration::from_secs(15), sup).await;
            }
        }
    }
}

impl Drop for Kubelet {
    fn drop(&mut self) {
        // Last resort when a test panics before `shutdown`: no orphans.
        self.stop.cancel();
        for h in self
            .shared
            .pods
            .lock()
            .map(|p| p.values().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            h.deleting.cancel();
            if let Some(pid) = *h.pid.lock().expect("pid lock") {
                signal(pid, "KILL");
            }
        }
    }
}

fn signal(pid: u32, sig: &str) {
    let _ = std::process::Command::new("kill")
        .args([format!("-{sig}"), pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

async fn ensure_node(client: &Client) {
    let nodes: Api<Node> = Api::all(client.clone());
    if nodes
        .get_opt(NODE)
        .await
        .expect("reading the stand-in node")
        .is_some()
    {
        return;
    }
    let node: Node = serde_json::from_value(json!({
        "metadata": {"name": NODE, "labels": {"kubernetes.io/hostname": NODE}},
        "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}]}
    }))
    .expect("node object");
    match nodes.create(&PostParams::default(), &node).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => panic!("creating the stand-in node: {e}"),
    }
}

async fn watch_pods(
    client: Client,
    namespace: String,
    shared: Shared,
    stop: CancellationToken,
    log_dir: PathBuf,
) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let mut stream = watcher::watcher(pods.clone(), watcher::Config::default()).boxed();
    loop {
        let event = tokio::select! {
            _ = stop.cancelled() => return,
            e = stream.next() => e,
        };
        let Some(event) = event else { return };
        let pod = match event {
            Ok(Event::Apply(pod)) | Ok(Event::InitApply(pod)) => pod,
            Ok(Event::Delete(pod)) => {
                let name = pod.metadata.name.clone().unwrap_or_default();
                if let Some(h) = shared.pods.lock().expect("pods lock").remove(&name) {
                    h.deleting.cancel();
                }
                continue;
            }
            Ok(_) => continue,
            Err(e) => {
                eprintln!("[kubelet] watch error: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let name = pod.metadata.name.clone().unwrap_or_default();
        let known = shared.pods.lock().expect("pods lock").get(&name).cloned();
        match (known, pod.metadata.deletion_timestamp.is_some()) {
            (Some(h), true) => {
                if !h.deleting.is_cancelled() {
                    h.deleting.cancel();
                    let grace = pod
                        .metadata
                        .deletion_grace_period_seconds
                        .unwrap_or(30)
                        .max(0) as u64;
                    tokio::spawn(finish_deletion(
                        pods.clone(),
                        name,
                        h,
                        grace,
                        shared.clone(),
                    ));
                }
            }
            (None, true) => {
                // Never ran here: just let it go.
                let _ = pods
                    .delete(&name, &DeleteParams::default().grace_period(0))
                    .await;
            }
            (None, false) => {
                let ip = Ipv4Addr::new(127, 0, 0, NEXT_IP.fetch_add(1, Ordering::SeqCst));
                let handle = PodHandle {
                    ip,
                    pid: Arc::new(Mutex::new(None)),
                    deleting: CancellationToken::new(),
                    supervisor: Arc::new(Mutex::new(None)),
                };
                shared
                    .pods
                    .lock()
                    .expect("pods lock")
                    .insert(name.clone(), handle.clone());
                let sup = tokio::spawn(run_pod(
                    client.clone(),
                    pods.clone(),
                    pod,
                    handle.clone(),
                    log_dir.clone(),
                ));
                *handle.supervisor.lock().expect("supervisor lock") = Some(sup);
            }
            (Some(_), false) => {}
        }
    }
}

/// SIGTERM, wait the grace period, SIGKILL, then remove the Pod object.
async fn finish_deletion(pods: Api<Pod>, name: String, h: PodHandle, grace: u64, shared: Shared) {
    let sup = h.supervisor.lock().expect("supervisor lock").take();
    if let Some(sup) = sup {
        // The supervisor sends SIGTERM on `deleting` and SIGKILL after grace.
        let _ = tokio::time::timeout(Duration::from_secs(grace + 5), sup).await;
    }
    if let Some(pid) = *h.pid.lock().expect("pid lock") {
        signal(pid, "KILL");
    }
    let _ = pods
        .delete(&name, &DeleteParams::default().grace_period(0))
        .await;
    shared.pods.lock().expect("pods lock").remove(&name);
}

/// The service account whose token the Pod gets: its
/// `serviceAccountName` when `automountServiceAccountToken` is not false.
/// The container's Secret volumes, written under `workdir/volumes/<name>`:
/// (folder, mount path) pairs.
async fn secret_volumes(
    client: &Client,
    pod: &Pod,
    container: &Container,
    workdir: &std::path::Path,
) -> Vec<(PathBuf, String)> {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let secrets = Api::<Secret>::namespaced(client.clone(), &ns);
    let volumes = pod
        .spec
        .as_ref()
        .and_then(|s| s.volumes.clone())
        .unwrap_or_default();
    let mut out = Vec::new();
    for mount in container.volume_mounts.iter().flatten() {
        let Some(source) = volumes
            .iter()
            .find(|v| v.name == mount.name)
            .and_then(|v| v.secret.as_ref())
        else {
            continue;
        };
        let name = source.secret_name.clone().unwrap_or_default();
        let data = match secrets.get(&name).await {
            Ok(secret) => secret.data.unwrap_or_default(),
            Err(e) => {
                eprintln!(
                    "[kubelet] {ns}/{}: Secret {name}: {e}",
                    pod.metadata.name.clone().unwrap_or_default()
                );
                Default::default()
            }
        };
        let dir = workdir.join("volumes").join(&mount.name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a volume folder");
        for (key, value) in data {
            std::fs::write(dir.join(key), value.0).expect("a volume file");
        }
        out.push((dir, mount.mount_path.clone()));
    }
    out
}

fn mounted_service_account(pod: &Pod) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    if spec.automount_service_account_token == Some(false) {
        return None;
    }
    spec.service_account_name.clone()
}

/// Resolves the container's env: plain values, downward-API fields, Secret
/// and ConfigMap keys.
async fn container_env(
    client: &Client,
    pod: &Pod,
    c: &Container,
    ip: Ipv4Addr,
) -> Vec<(String, String)> {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let mut out = Vec::new();
    for e in c.env.iter().flatten() {
        let value = if let Some(v) = &e.value {
            Some(v.clone())
        } else if let Some(from) = &e.value_from {
            if let Some(f) = &from.field_ref {
                match f.field_path.as_str() {
                    "metadata.name" => pod.metadata.name.clone(),
                    "metadata.namespace" => Some(ns.clone()),
                    "metadata.uid" => pod.metadata.uid.clone(),
                    "status.podIP" | "status.hostIP" => Some(ip.to_string()),
                    "spec.nodeName" => Some(NODE.to_owned()),
                    "spec.serviceAccountName" => pod
                        .spec
                        .as_ref()
                        .and_then(|s| s.service_account_name.clone()),
                    other => panic!("[kubelet] unsupported fieldRef {other}"),
                }
            } else if let Some(s) = &from.secret_key_ref {
                let secret = Api::<Secret>::namespaced(client.clone(), &ns)
                    .get(&s.name)
                    .await
                    .ok();
                secret.and_then(|s| s.data).and_then(|d| {
                    d.get(&s.key)
                        .map(|b| String::from_utf8_lossy(&b.0).into_owned())
                })
            } else if let Some(cm) = &from.config_map_key_ref {
                let map = Api::<ConfigMap>::namespaced(client.clone(), &ns)
                    .get(&cm.name)
                    .await
                    .ok();
                map.and_then(|m| m.data)
                    .and_then(|d| d.get(&cm.key).cloned())
            } else {
                None
            }
        } else {
            None
        };
        if let Some(v) = value {
            out.push((e.name.clone(), v));
        }
    }
    // $(VAR) references in later values, as the kubelet expands them.
    let known: BTreeMap<String, String> = out.iter().cloned().collect();
    out.into_iter()
        .map(|(k, v)| (k, expand(&v, &known)))
        .collect()
}

fn expand(text: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = text.to_owned();
    for (k, v) in vars {
        out = out.replace(&format!("$({k})"), v);
    }
    out
}

/// The program and arguments for a container.
fn command_line(c: &Container, env: &[(String, String)]) -> (String, Vec<String>) {
    let vars: BTreeMap<String, String> = env.iter().cloned().collect();
    let mut argv: Vec<String> = c.command.clone().unwrap_or_default();
    argv.extend(c.args.clone().unwrap_or_default());
    let argv: Vec<String> = argv.iter().map(|a| expand(a, &vars)).collect();
    let kconnect = env!("CARGO_BIN_EXE_kconnect").to_owned();
    match c.command.as_deref() {
        None | Some([]) => (kconnect, argv),
        Some([first, ..]) if first.rsplit('/').next() == Some("kconnect") => {
            (kconnect, argv[1..].to_vec())
        }
        Some(_) => (argv[0].clone(), argv[1..].to_vec()),
    }
}

/// Supervises one pod: start, report, probe, restart, stop on deletion.
async fn run_pod(client: Client, pods: Api<Pod>, pod: Pod, h: PodHandle, log_dir: PathBuf) {
    let name = pod.metadata.name.clone().unwrap_or_default();
    if pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .is_none()
    {
        let binding = json!({
            "apiVersion": "v1", "kind": "Binding",
            "metadata": {"name": name},
            "target": {"apiVersion": "v1", "kind": "Node", "name": NODE}
        });
        let bound: Result<serde_json::Value, _> = pods
            .create_subresource("binding", &name, &PostParams::default(), &binding)
            .await;
        if let Err(e) = bound {
            eprintln!("[kubelet] binding {name}: {e}");
        }
    }
    let Some(container) = pod
        .spec
        .as_ref()
        .and_then(|s| s.containers.first())
        .cloned()
    else {
        return;
    };
    let mut env = container_env(&client, &pod, &container, h.ip).await;
    let workdir = log_dir.join(&name);
    let _ = std::fs::create_dir_all(&workdir);
    // The service account token a kubelet would mount, as a kubeconfig
    // (the process is not in a cluster network, so no in-cluster config).
    if let Some(account) = mounted_service_account(&pod) {
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let path = workdir.join("serviceaccount.kubeconfig");
        let (ns2, path2) = (ns.clone(), path.clone());
        let made = tokio::task::spawn_blocking(move || {
            std::panic::catch_unwind(|| {
                super::operator::service_account_kubeconfig(&ns2, &account, &path2)
            })
            .is_ok()
        })
        .await
        .unwrap_or(false);
        if made {
            env.push(("KUBECONFIG".to_owned(), path.display().to_string()));
        } else {
            eprintln!("[kubelet] {ns}/{name}: no token for its service account");
        }
    }
    let (mut program, mut args) = command_line(&container, &env);
    let mounts = secret_volumes(&client, &pod, &container, &workdir).await;
    if !mounts.is_empty() {
        // unshare and sh exec in turn: the Pod's process keeps one pid.
        let script: Vec<String> = mounts
            .iter()
            .map(|(from, to)| {
                format!(
                    "mkdir -p '{to}' && mount --bind '{}' '{to}'",
                    from.display()
                )
            })
            .chain(["exec \"$@\"".to_owned()])
            .collect();
        let mut wrapped = vec![
            "--mount".to_owned(),
            "--propagation".to_owned(),
            "private".to_owned(),
            "sh".to_owned(),
            "-c".to_owned(),
            script.join(" && "),
            "sh".to_owned(),
            program,
        ];
        wrapped.extend(args);
        program = "unshare".to_owned();
        args = wrapped;
    }
    let started_at = now();
    let mut restarts: i32 = 0;
    let mut last_state = json!({});
    loop {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_dir.join(format!("{name}.log")))
            .expect("pod log file");
        let spawned = tokio::process::Command::new(&program)
            .args(&args)
            .envs(env.iter().cloned())
            .current_dir(&workdir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                eprintln!("[kubelet] {name}: cannot start {program}: {e}");
                report(
                    &pods,
                    &name,
                    &h,
                    &container,
                    restarts,
                    false,
                    json!({"waiting": {"reason": "RunContainerError", "message": e.to_string()}}),
                    &last_state,
                    &started_at,
                )
                .await;
                return;
            }
        };
        *h.pid.lock().expect("pid lock") = child.id();
        let running = json!({"running": {"startedAt": now()}});
        report(
            &pods,
            &name,
            &h,
            &container,
            restarts,
            false,
            running.clone(),
            &last_state,
            &started_at,
        )
        .await;

        let grace = pod
            .spec
            .as_ref()
            .and_then(|s| s.termination_grace_period_seconds)
            .unwrap_or(30)
            .max(0) as u64;
        let mut ready = false;
        let exit = loop {
            let wait = if ready {
                Duration::from_secs(1)
            } else {
                Duration::from_millis(200)
            };
            tokio::select! {
                status = child.wait() => break status.ok().and_then(|s| s.code()).unwrap_or(137),
                _ = h.deleting.cancelled() => {
                    if let Some(pid) = child.id() { signal(pid, "TERM"); }
                    if tokio::time::timeout(Duration::from_secs(grace), child.wait()).await.is_err() {
                        let _ = child.kill().await;
                    }
                    *h.pid.lock().expect("pid lock") = None;
                    return;
                }
                _ = tokio::time::sleep(wait) => {
                    let now_ready = probe(container.readiness_probe.as_ref(), &container, h.ip).await;
                    if now_ready != ready {
                        ready = now_ready;
                        report(&pods, &name, &h, &container, restarts, ready, running.clone(), &last_state, &started_at).await;
                    }
                }
            }
        };
        *h.pid.lock().expect("pid lock") = None;
        last_state = json!({"terminated": {"exitCode": exit, "reason": if exit == 0 { "Completed" } else { "Error" }, "finishedAt": now()}});
        restarts += 1;
        let backoff = Duration::from_millis((250u64 << restarts.min(5)).min(5_000));
        report(
            &pods,
            &name,
            &h,
            &container,
            restarts,
            false,
            json!({"waiting": {"reason": "CrashLoopBackOff"}}),
            &last_state,
            &started_at,
        )
        .await;
        tokio::select! {
            _ = h.deleting.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
    }
}

/// Ready when the probe answers (HTTP 2xx/3xx or a TCP connect), or when
/// there is no probe.
async fn probe(p: Option<&Probe>, c: &Container, ip: Ipv4Addr) -> bool {
    let Some(p) = p else { return true };
    let port_of =
        |port: &k8s_openapi::apimachinery::pkg::util::intstr::IntOrString| -> Option<u16> {
            use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
            match port {
                IntOrString::Int(n) => u16::try_from(*n).ok(),
                IntOrString::String(name) => c
                    .ports
                    .iter()
                    .flatten()
                    .find(|cp| cp.name.as_deref() == Some(name.as_str()))
                    .and_then(|cp| u16::try_from(cp.container_port).ok()),
            }
        };
    let connect = |port: u16| {
        tokio::time::timeout(
            Duration::from_secs(1),
            tokio::net::TcpStream::connect((ip, port)),
        )
    };
    if let Some(http) = &p.http_get {
        let Some(port) = port_of(&http.port) else {
            return false;
        };
        let Ok(Ok(mut stream)) = connect(port).await else {
            return false;
        };
        let path = http.path.clone().unwrap_or_else(|| "/".into());
        let req = format!("GET {path} HTTP/1.0\r\nHost: {ip}\r\n\r\n");
        if stream.write_all(req.as_bytes()).await.is_err() {
            return false;
        }
        let mut buf = [0u8; 32];
        let n = tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf)).await;
        let Ok(Ok(n)) = n else { return false };
        let head = String::from_utf8_lossy(&buf[..n]);
        return head
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse::<u16>().ok())
            .is_some_and(|code| (200..400).contains(&code));
    }
    if let Some(tcp) = &p.tcp_socket {
        let Some(port) = port_of(&tcp.port) else {
            return false;
        };
        return matches!(connect(port).await, Ok(Ok(_)));
    }
    true
}

fn now() -> String {
    k8s_openapi::jiff::Timestamp::now().to_string()
}

#[allow(clippy::too_many_arguments)]
async fn report(
    pods: &Api<Pod>,
    name: &str,
    h: &PodHandle,
    c: &Container,
    restarts: i32,
    ready: bool,
    state: serde_json::Value,
    last_state: &serde_json::Value,
    started_at: &str,
) {
    if h.deleting.is_cancelled() {
        return;
    }
    let r = if ready { "True" } else { "False" };
    let t = now();
    let status = json!({
        "status": {
            "phase": "Running",
            "hostIP": "127.0.0.1",
            "hostIPs": [{"ip": "127.0.0.1"}],
            "podIP": h.ip.to_string(),
            "podIPs": [{"ip": h.ip.to_string()}],
            "startTime": started_at,
            "conditions": [
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": started_at},
                {"type": "Initialized", "status": "True", "lastTransitionTime": started_at},
                {"type": "ContainersReady", "status": r, "lastTransitionTime": t},
                {"type": "Ready", "status": r, "lastTransitionTime": t}
            ],
            "containerStatuses": [{
                "name": c.name,
                "image": c.image.clone().unwrap_or_default(),
                "imageID": "",
                "ready": ready,
                "started": state.get("running").is_some(),
                "restartCount": restarts,
                "state": state,
                "lastState": last_state,
            }]
        }
    });
    if let Err(e) = pods
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
    {
        eprintln!("[kubelet] status of {name}: {e}");
    }
}
