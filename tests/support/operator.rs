//! The operator as the Helm chart deploys it: `helm template` with the real
//! helm from `tests/env/helm.sh`, server-side apply of what it renders,
//! `kubectl auth can-i` as its ServiceAccount, a kubeconfig holding that
//! ServiceAccount's token, and the chart Deployment's Pod for the kubelet
//! stand-in to run. Also the operator as a bare process (its flags, the
//! wait for its leadership) and small checks on what it manages.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use k8s_openapi::api::core::v1::Pod;
use kconnect::api::{ConnectState, Connector};
use serde_json::json;

use super::k8s;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The chart's folder.
pub fn chart_dir() -> PathBuf {
    repo().join("charts/kconnect")
}

/// The built helm (`tests/env/helm.sh helm ARGS`), built on first use.
pub fn helm(args: &[&str]) -> Output {
    Command::new("bash")
        .arg(repo().join("tests/env/helm.sh"))
        .arg("helm")
        .args(args)
        .output()
        .expect("running tests/env/helm.sh")
}

/// `helm template <release> charts/kconnect --namespace <ns>` with `values`
/// (a values file) and extra flags; Err with helm's stderr when it fails.
pub fn try_render(
    release: &str,
    namespace: &str,
    values: &serde_json::Value,
    extra: &[&str],
) -> Result<String, String> {
    let file = tempfile::Builder::new()
        .suffix(".yaml")
        .tempfile()
        .expect("values file");
    // JSON is YAML: helm reads it as a values file.
    std::fs::write(file.path(), values.to_string()).expect("writing values");
    let chart = chart_dir();
    let values_path = file.path().to_string_lossy().into_owned();
    let mut args = vec![
        "template",
        release,
        chart.to_str().expect("UTF-8 path"),
        "--namespace",
        namespace,
        "--values",
        &values_path,
    ];
    args.extend_from_slice(extra);
    let out = helm(&args);
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).expect("UTF-8 manifests"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// [`try_render`] that must succeed.
pub fn render(
    release: &str,
    namespace: &str,
    values: &serde_json::Value,
    extra: &[&str],
) -> String {
    try_render(release, namespace, values, extra)
        .unwrap_or_else(|e| panic!("helm template {release} with {values}: {e}"))
}

/// The objects of a multi-document YAML stream (empty documents dropped).
pub fn documents(yaml: &str) -> Vec<serde_yaml::Value> {
    use serde::Deserialize;
    serde_yaml::Deserializer::from_str(yaml)
        .map(|d| serde_yaml::Value::deserialize(d).expect("a YAML document"))
        .filter(|v| !v.is_null())
        .collect()
}

/// The rendered object of `kind` named `name`.
pub fn find<'a>(docs: &'a [serde_yaml::Value], kind: &str, name: &str) -> &'a serde_yaml::Value {
    docs.iter()
        .find(|d| d["kind"].as_str() == Some(kind) && d["metadata"]["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no {kind} {name} rendered"))
}

/// `kubectl apply --server-side` of a YAML stream (or a folder); Ok with
/// kubectl's stdout, Err with its stderr.
pub fn apply_server_side(yaml: &str, extra: &[&str]) -> Result<String, String> {
    let file = tempfile::Builder::new()
        .suffix(".yaml")
        .tempfile()
        .expect("manifest file");
    std::fs::write(file.path(), yaml).expect("writing manifests");
    let path = file.path().to_string_lossy().into_owned();
    let mut args = vec![
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=kconnect-chart-test",
        "-f",
        &path,
    ];
    args.extend_from_slice(extra);
    let out = k8s::kubectl(&args);
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// `kubectl auth can-i VERB RESOURCE [flags]` as a ServiceAccount.
pub fn can_i(
    namespace: &str,
    service_account: &str,
    verb: &str,
    resource: &str,
    flags: &[&str],
) -> bool {
    let user = format!("--as=system:serviceaccount:{namespace}:{service_account}");
    let mut args = vec!["auth", "can-i", verb, resource, &user];
    args.extend_from_slice(flags);
    let out = k8s::kubectl(&args);
    let answer = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    match answer.as_str() {
        "yes" => true,
        "no" => false,
        _ => panic!(
            "kubectl auth can-i {verb} {resource} {flags:?}: {answer} {}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// Writes a kubeconfig for the test control plane that authenticates with
/// a token of the ServiceAccount (`kubectl create token`), so a process
/// using it has exactly the rights the chart's RBAC grants.
pub fn service_account_kubeconfig(namespace: &str, service_account: &str, path: &Path) {
    let out = k8s::kubectl(&[
        "create",
        "token",
        service_account,
        "-n",
        namespace,
        "--duration=2h",
    ]);
    assert!(
        out.status.success(),
        "kubectl create token {service_account}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).expect("UTF-8 token");
    let admin: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(k8s::kubeconfig()).expect("reading the test kubeconfig"),
    )
    .expect("the test kubeconfig");
    let cluster = &admin["clusters"][0]["cluster"];
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "test", "cluster": {
            "server": cluster["server"].as_str().expect("server"),
            "certificate-authority-data": cluster["certificate-authority-data"].as_str().expect("CA"),
        }}],
        "users": [{"name": service_account, "user": {"token": token.trim()}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": service_account, "namespace": namespace}}],
        "current-context": "test",
    });
    std::fs::write(
        path,
        serde_yaml::to_string(&config).expect("kubeconfig YAML"),
    )
    .expect("writing the ServiceAccount kubeconfig");
}

/// The Pod a ReplicaSet of the rendered Deployment would create, named
/// `name`: its template's labels, annotations and spec.
pub fn pod_of_deployment(deployment: &serde_yaml::Value, name: &str) -> Pod {
    let template = &deployment["spec"]["template"];
    let mut metadata = template["metadata"].clone();
    metadata["name"] = name.into();
    let pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": template["spec"],
    });
    serde_json::from_value(pod).expect("the Deployment's template is a Pod")
}

/// The operator running as the chart deploys it (watching one namespace),
/// under a kubelet stand-in that also runs the worker Pods.
pub struct ChartOperator {
    pub kubelet: super::kubelet::Kubelet,
    /// The operator Pod's log.
    pub log: PathBuf,
    pub pod: String,
    pub metrics_port: u16,
}

impl ChartOperator {
    /// Renders the chart for release `release` watching `ns` (plus
    /// `values`, merged over the test's), applies it, gives the operator a
    /// kubeconfig with the chart ServiceAccount's token (stored in `dir`),
    /// and runs the Deployment's Pod until it leads.
    pub async fn deploy(
        client: &kube::Client,
        release: &str,
        ns: &str,
        dir: &Path,
        values: serde_json::Value,
    ) -> ChartOperator {
        use kube::api::{Api, PostParams};
        let kubeconfig = dir.join("operator-kubeconfig.yaml");
        // A free port for /metrics: the operator listens on 0.0.0.0, shared
        // with everything else on this machine.
        let metrics_port = std::net::TcpListener::bind("0.0.0.0:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut all = json!({
            "watchNamespaces": [ns],
            "metrics": {"port": metrics_port},
            "operator": {
                "logLevel": "info,kconnect=debug",
                // The stand-in has no in-cluster config to offer: the token
                // of the chart's ServiceAccount, in a kubeconfig.
                "extraEnv": [{"name": "KUBECONFIG", "value": kubeconfig.to_string_lossy()}],
            },
        });
        if let (Some(all), serde_json::Value::Object(extra)) = (all.as_object_mut(), values) {
            all.extend(extra);
        }
        let yaml = render(release, ns, &all, &[]);
        apply_server_side(&yaml, &[])
            .unwrap_or_else(|e| panic!("the apiserver rejects the chart's objects: {e}"));
        let docs = documents(&yaml);
        // The chart's fullname: the release name when it contains the
        // chart's, else `<release>-kconnect`.
        let fullname = if release.contains("kconnect") {
            release.to_owned()
        } else {
            format!("{release}-kconnect")
        };
        let deployment = find(&docs, "Deployment", &fullname);
        let service_account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
            .as_str()
            .expect("serviceAccountName")
            .to_owned();
        service_account_kubeconfig(ns, &service_account, &kubeconfig);

        let kubelet = super::kubelet::Kubelet::start(client.clone(), ns).await;
        let pod = format!("{release}-5d8f9c7b6-x2k4q");
        let log = kubelet.log_dir.join(format!("{pod}.log"));
        let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
        pods.create(&PostParams::default(), &pod_of_deployment(deployment, &pod))
            .await
            .expect("creating the operator Pod");
        let operator = ChartOperator {
            kubelet,
            log,
            pod,
            metrics_port,
        };
        operator
            .wait(
                "the operator to lead",
                std::time::Duration::from_secs(60),
                || async {
                    std::fs::read_to_string(&operator.log)
                        .unwrap_or_default()
                        .contains("leading: reconciling")
                },
            )
            .await;
        operator
    }

    /// The last lines of the operator's log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Polls `check` (true when done) and fails with `what` and the
    /// operator's log when the time is up.
    pub async fn wait<F, Fut>(&self, what: &str, timeout: std::time::Duration, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = std::time::Instant::now() + timeout;
        while !check().await {
            if std::time::Instant::now() >= deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {what}; operator log ({}):\n{}",
                    self.log.display(),
                    self.log_tail(60)
                );
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
}

/// `kconnect operator` as a local process watching `ns` (its Lease there
/// too) as Pod `pod_name`, with the test control plane's admin kubeconfig,
/// `--heartbeat-timeout-ms <heartbeat>` and `extra` flags; it logs to
/// `<log_dir>/kconnect-<tag>.log` (next to the Pod logs, which outlive the
/// test for a look after a failure).
pub fn spawn_operator(
    log_dir: &Path,
    ns: &str,
    pod_name: &str,
    tag: &str,
    heartbeat: std::time::Duration,
    extra: &[&str],
) -> super::Process {
    let heartbeat = heartbeat.as_millis().to_string();
    let mut args = vec![
        "operator",
        "--namespace",
        ns,
        "--lease-namespace",
        ns,
        "--heartbeat-timeout-ms",
        &heartbeat,
    ];
    args.extend_from_slice(extra);
    super::Process::spawn(
        log_dir,
        &args,
        &[
            (
                "KUBECONFIG",
                k8s::kubeconfig().to_string_lossy().into_owned(),
            ),
            ("POD_NAME", pod_name.to_owned()),
        ],
        tag,
    )
}

/// A ConnectCluster's `spec.config` for the test broker: one replica and
/// few partitions for the internal topics, fast syncs and heartbeats.
pub fn test_cluster_config() -> serde_json::Value {
    json!({
        "config.storage.replication.factor": "1",
        "offset.storage.replication.factor": "1",
        "offset.storage.partitions": "5",
        "status.storage.replication.factor": "1",
        "status.storage.partitions": "3",
        "worker.sync.interval.ms": "200",
        "worker.heartbeat.interval.ms": "300",
        "offset.flush.interval.ms": "1000"
    })
}

/// Waits until an operator process's log says it holds the Lease.
pub fn wait_leading(operator: &super::Process, what: &str, timeout: std::time::Duration) {
    super::wait_until(what, timeout, || {
        std::fs::read_to_string(&operator.log)
            .unwrap_or_default()
            .contains("leading: reconciling")
    });
}

/// Polls a resource until `pred` holds; fails with its last status and the
/// operator's log otherwise.
pub async fn wait_for_resource<K>(
    api: &kube::Api<K>,
    name: &str,
    what: &str,
    timeout: std::time::Duration,
    operator: &super::Process,
    pred: impl Fn(&K) -> bool,
) -> K
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let deadline = std::time::Instant::now() + timeout;
    let mut last = None;
    loop {
        if let Ok(obj) = api.get(name).await {
            if pred(&obj) {
                return obj;
            }
            last = Some(obj);
        }
        if std::time::Instant::now() >= deadline {
            let status = last
                .as_ref()
                .and_then(|o| serde_json::to_value(o).ok())
                .and_then(|v| v.get("status").cloned());
            panic!(
                "timed out after {timeout:?} waiting for {what}; last status: {}\noperator log ({}):\n{}",
                serde_json::to_string_pretty(&status).unwrap_or_default(),
                operator.log.display(),
                operator.log_tail()
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Whether a Connector and all its `n` tasks are in `state`, as of its
/// current generation.
pub fn all_tasks(c: &Connector, state: ConnectState, n: usize) -> bool {
    c.status.as_ref().is_some_and(|s| {
        s.tasks.len() == n
            && s.tasks.iter().all(|t| t.state == state)
            && s.connector_status.as_ref().map(|c| c.state) == Some(state)
            && s.observed_generation == c.metadata.generation
    })
}

/// `kill -<sig> <pid>`; whether the process was there to get it.
pub fn signal(pid: u32, sig: &str) -> bool {
    Command::new("kill")
        .args([format!("-{sig}"), pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether a Pod's `Ready` condition is true.
pub fn pod_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The Pod template hash the operator stamps on a worker Pod.
pub fn annotation_hash(p: &Pod) -> String {
    use kube::ResourceExt;
    p.annotations()
        .get("kconnect.dev/template-hash")
        .cloned()
        .unwrap_or_default()
}
