//! The real control plane from `tests/env/k8s.sh` (etcd + kube-apiserver),
//! a kube client for it, and per-test namespaces.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use k8s_openapi::api::core::v1::Namespace;
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::wait::{await_condition, conditions};
use kube::Client;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/env/k8s.sh")
}

/// Kubeconfig of the test control plane: `KCONNECT_TEST_KUBECONFIG` when the
/// test command started one (a developer's own `KUBECONFIG` is never used),
/// else `tests/env/k8s.sh start` is run (idempotent). A control plane that
/// cannot start fails the test; it is never skipped.
pub fn kubeconfig() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        if let Ok(p) = std::env::var("KCONNECT_TEST_KUBECONFIG") {
            if !p.is_empty() {
                return PathBuf::from(p);
            }
        }
        let out = Command::new("bash")
            .arg(script())
            .arg("start")
            .stderr(Stdio::inherit())
            .output()
            .expect("running tests/env/k8s.sh start");
        assert!(out.status.success(), "tests/env/k8s.sh start failed");
        let stdout = String::from_utf8_lossy(&out.stdout);
        stdout
            .lines()
            .find_map(|l| l.strip_prefix("KUBECONFIG="))
            .map(PathBuf::from)
            .unwrap_or_else(|| panic!("k8s.sh printed no kubeconfig: {stdout}"))
    })
    .clone()
}

/// A client for the test control plane.
pub async fn client() -> Client {
    kconnect::install_crypto_provider();
    let kc = Kubeconfig::read_from(kubeconfig()).expect("reading the test kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("building a client config");
    Client::try_from(config).expect("building a kube client")
}

/// Creates a fresh namespace for one test.
pub async fn namespace(client: &Client, prefix: &str) -> String {
    let name = super::unique(prefix).to_lowercase();
    let ns: Namespace = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "labels": {"kconnect.dev/test": "true"}}
    }))
    .expect("namespace object");
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("creating test namespace");
    name
}

/// The built kubectl against the test control plane.
pub fn kubectl(args: &[&str]) -> Output {
    Command::new("bash")
        .arg(script())
        .arg("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig())
        .args(args)
        .output()
        .expect("running kubectl")
}

/// Installs (server-side apply) kconnect's CRDs and waits until they are
/// Established.
pub async fn install_crds(client: &Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let ssa = PatchParams::apply("kconnect-crd-test").force();
    for crd in kconnect::api::crds() {
        let name = crd.metadata.name.clone().expect("CRD name");
        crds.patch(&name, &ssa, &Patch::Apply(&crd))
            .await
            .unwrap_or_else(|e| panic!("the apiserver rejects CRD {name}: {e}"));
        tokio::time::timeout(
            Duration::from_secs(30),
            await_condition(crds.clone(), &name, conditions::is_crd_established()),
        )
        .await
        .unwrap_or_else(|_| panic!("CRD {name} not Established within 30 s"))
        .expect("watching the CRD");
    }
}
