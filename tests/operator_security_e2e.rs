//! The operator on a secured Kafka cluster, end to end: the real
//! kube-apiserver, the test broker's SASL_SSL listener (SCRAM-SHA-512,
//! StandardAuthorizer), `kconnect operator` as a process and a worker Pod
//! run by the kubelet stand-in, its Secrets mounted as files.
//!
//! A ConnectCluster in Strimzi's shape (`spec.tls.trustedCertificates`,
//! `spec.authentication` scram-sha-512 from Secrets) runs a source whose
//! producer overrides its user (`producer.override.sasl.jaas.config`) and a
//! sink on the cluster's user; an override with a user that has no ACLs
//! fails its task with the authorization error. A wrong password and an
//! untrusted CA in the Secrets turn the cluster `Ready=False`
//! (`KafkaAuthenticationFailed`, `KafkaTlsFailed`) without touching the
//! running worker; fixing the Secret brings it back by itself, and a
//! rotated CA bundle rolls the worker, which then carries on.

mod support;

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::ByteString;
use kconnect::api::{ConnectCluster, ConnectState, Connector, CLUSTER_LABEL};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;
use support::kubelet::Kubelet;
use support::{k8s, Process};

const CLUSTER: &str = "secure";
const POD: &str = "secure-worker-0";
const SCRAM: &str = "org.apache.kafka.common.security.scram.ScramLoginModule";

fn secret(ns: &str, name: &str, data: &[(&str, Vec<u8>)]) -> Secret {
    Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(ns.to_owned()),
            ..Default::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| ((*k).to_owned(), ByteString(v.clone())))
                .collect(),
        ),
        ..Default::default()
    }
}

async fn set_secret(api: &Api<Secret>, name: &str, key: &str, value: &[u8]) {
    let patch = json!({"data": {key: openssl::base64::encode_block(value)}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("patching a Secret");
}

fn connector(ns: &str, name: &str, spec: serde_json::Value) -> Connector {
    serde_json::from_value(json!({
        "apiVersion": "kconnect.dev/v1alpha1",
        "kind": "Connector",
        "metadata": {"name": name, "namespace": ns, "labels": {CLUSTER_LABEL: CLUSTER}},
        "spec": spec,
    }))
    .expect("Connector object")
}

/// The producer of a connector as another user, its password from a
/// Secret mounted through spec.secrets.
fn producer_as(user: &str) -> String {
    format!(
        "{SCRAM} required username=\"{user}\" password=\"${{dir:/etc/kconnect/secrets/{user}-user:password}}\";"
    )
}

async fn wait_for<K>(
    api: &Api<K>,
    name: &str,
    what: &str,
    operator: &Process,
    pred: impl Fn(&K) -> bool,
) -> K
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    // Secrets are read on every reconcile, at least every 30 s.
    let timeout = Duration::from_secs(120);
    let deadline = Instant::now() + timeout;
    let mut last = None;
    loop {
        if let Ok(obj) = api.get(name).await {
            if pred(&obj) {
                return obj;
            }
            last = Some(obj);
        }
        if Instant::now() >= deadline {
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
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The cluster's Ready condition: (status, reason, message).
fn ready(cc: &ConnectCluster) -> Option<(bool, String, String)> {
    let c = cc
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")?;
    Some((c.is_true(), c.reason.clone(), c.message.clone()))
}

fn tasks(c: &Connector) -> Vec<(ConnectState, String)> {
    c.status
        .iter()
        .flat_map(|s| &s.tasks)
        .map(|t| (t.state, t.trace.clone().unwrap_or_default()))
        .collect()
}

fn running(c: &Connector) -> bool {
    let t = tasks(c);
    !t.is_empty() && t.iter().all(|(s, _)| *s == ConnectState::Running)
}

fn template_hash(p: &Pod) -> String {
    p.annotations()
        .get("kconnect.dev/template-hash")
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_connect_cluster_on_scram_over_tls_from_secrets() {
    let sec = support::kafka_security();
    let tls =
        |f: &str| std::fs::read(format!("{}/{f}", sec["KAFKA_TLS_DIR"])).expect("a test TLS file");
    let client: Client = k8s::client().await;
    k8s::install_crds(&client).await;
    let ns = k8s::namespace(&client, "sec").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let topic = support::unique("secure-orders");
    support::create_topic(&topic, 2);
    let denied_topic = support::unique("secure-denied");
    support::create_topic(&denied_topic, 1);
    let sink_file = dir.path().join("sink.txt");

    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let pp = PostParams::default();
    for s in [
        secret(&ns, "kafka-ca", &[("ca.crt", tls("ca.crt"))]),
        secret(
            &ns,
            "connect-user",
            &[("password", b"alice-secret".to_vec())],
        ),
        secret(&ns, "admin-user", &[("password", b"admin-secret".to_vec())]),
        secret(&ns, "bob-user", &[("password", b"bob-secret".to_vec())]),
    ] {
        secrets.create(&pp, &s).await.expect("creating a Secret");
    }

    let kubelet = Kubelet::start(client.clone(), &ns).await;
    let operator = Process::spawn(
        &kubelet.log_dir,
        &[
            "operator",
            "--namespace",
            &ns,
            "--lease-namespace",
            &ns,
            "--heartbeat-timeout-ms",
            "3000",
        ],
        &[
            (
                "KUBECONFIG",
                k8s::kubeconfig().to_string_lossy().into_owned(),
            ),
            ("POD_NAME", "operator-0".into()),
        ],
        "operator",
    );

    let clusters: Api<ConnectCluster> = Api::namespaced(client.clone(), &ns);
    let connectors: Api<Connector> = Api::namespaced(client.clone(), &ns);
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let cc: ConnectCluster = serde_json::from_value(json!({
        "apiVersion": "kconnect.dev/v1alpha1",
        "kind": "ConnectCluster",
        "metadata": {"name": CLUSTER, "namespace": ns},
        "spec": {
            "replicas": 1,
            "bootstrapServers": sec["KAFKA_SASL_SSL_BOOTSTRAP"],
            "tls": {"trustedCertificates": [{"secretName": "kafka-ca", "certificate": "ca.crt"}]},
            "authentication": {
                "type": "scram-sha-512",
                "username": "alice",
                "passwordSecret": {"secretName": "connect-user", "password": "password"}
            },
            "secrets": [{"secretName": "admin-user"}, {"secretName": "bob-user"}],
            "config": {
                "config.providers": "dir",
                "config.providers.dir.class": "org.apache.kafka.common.config.provider.DirectoryConfigProvider",
                "config.storage.replication.factor": "1",
                "offset.storage.replication.factor": "1",
                "offset.storage.partitions": "2",
                "status.storage.replication.factor": "1",
                "status.storage.partitions": "2",
                "worker.sync.interval.ms": "200",
                "worker.heartbeat.interval.ms": "300",
                "offset.flush.interval.ms": "1000"
            }
        }
    }))
    .expect("ConnectCluster object");
    clusters
        .create(&pp, &cc)
        .await
        .expect("creating the ConnectCluster");
    for (name, spec) in [
        (
            "gen",
            json!({"class": "datagen", "tasksMax": 1, "config": {
                "topic": topic, "count": "200", "rate": "0",
                "producer.override.sasl.jaas.config": producer_as("admin")}}),
        ),
        (
            "sink",
            json!({"class": "org.apache.kafka.connect.file.FileStreamSinkConnector", "tasksMax": 2,
                   "config": {"topics": topic, "file": sink_file.to_string_lossy()}}),
        ),
        (
            "denied",
            json!({"class": "datagen", "tasksMax": 1, "config": {
                "topic": denied_topic, "count": "10", "rate": "0",
                "producer.override.sasl.jaas.config": producer_as("bob")}}),
        ),
    ] {
        connectors
            .create(&pp, &connector(&ns, name, spec))
            .await
            .expect("creating a Connector");
    }

    // --- Records flow: produced as admin, consumed as alice, all over
    // SASL_SSL with the CA from the Secret.
    wait_for(&clusters, CLUSTER, "the cluster Ready", &operator, |cc| {
        ready(cc).is_some_and(|r| r.0)
    })
    .await;
    let lines = || support::count_lines(&sink_file);
    support::wait_until(
        "200 records in the sink file",
        Duration::from_secs(120),
        || lines() >= 200,
    );
    assert_eq!(lines(), 200);
    // bob authenticates but may not write the topic: the override is in
    // force, and its task fails with the broker's refusal.
    let denied = wait_for(
        &connectors,
        "denied",
        "the bob task FAILED",
        &operator,
        |c| tasks(c).iter().any(|(s, _)| *s == ConnectState::Failed),
    )
    .await;
    let trace = &tasks(&denied)[0].1;
    assert!(
        trace.contains("authorization failed")
            && trace.contains(&denied_topic)
            && trace.contains("producing as User:bob"),
        "the trace names the refusal and the topic: {trace}"
    );

    // No credential in the Pod: the worker reads them from its mounts.
    let pod = pods.get(POD).await.expect("the worker Pod");
    let env = serde_json::to_string(&pod.spec).unwrap();
    assert!(
        !env.contains("alice-secret") && !env.contains("BEGIN CERTIFICATE"),
        "{env}"
    );
    // (Java properties text: the colons are escaped.)
    assert!(
        env.contains("${kconnectdir\\\\:/etc/kconnect/kafka/connect-user\\\\:password}"),
        "{env}"
    );
    let first_hash = template_hash(&pod);
    let first_uid = pod.uid();

    // --- A wrong password: the operator cannot get in, says why, and
    // leaves the running worker alone.
    set_secret(&secrets, "connect-user", "password", b"not-alices-secret").await;
    let cc = wait_for(
        &clusters,
        CLUSTER,
        "KafkaAuthenticationFailed",
        &operator,
        |cc| ready(cc).is_some_and(|r| !r.0 && r.1 == "KafkaAuthenticationFailed"),
    )
    .await;
    let message = ready(&cc).unwrap().2;
    assert!(message.contains("SCRAM-SHA-512"), "{message}");
    assert!(!message.contains("not-alices-secret"), "{message}");
    let pod = pods.get(POD).await.expect("the worker Pod");
    assert_eq!(
        (template_hash(&pod), pod.uid()),
        (first_hash.clone(), first_uid.clone())
    );

    set_secret(&secrets, "connect-user", "password", b"alice-secret").await;
    wait_for(&clusters, CLUSTER, "Ready again", &operator, |cc| {
        ready(cc).is_some_and(|r| r.0)
    })
    .await;
    let pod = pods.get(POD).await.expect("the worker Pod");
    assert_eq!(
        (template_hash(&pod), pod.uid()),
        (first_hash.clone(), first_uid.clone()),
        "the Secret is as before: nothing to roll"
    );

    // --- An untrusted CA: KafkaTlsFailed.
    set_secret(&secrets, "kafka-ca", "ca.crt", &tls("other-ca.crt")).await;
    let cc = wait_for(&clusters, CLUSTER, "KafkaTlsFailed", &operator, |cc| {
        ready(cc).is_some_and(|r| !r.0 && r.1 == "KafkaTlsFailed")
    })
    .await;
    let message = ready(&cc).unwrap().2;
    assert!(message.contains("certificate verify failed"), "{message}");

    // --- A rotated CA bundle (a new CA next to the current one): Ready,
    // and the worker rolls onto it and carries on.
    let mut bundle = tls("other-ca.crt");
    bundle.extend(tls("ca.crt"));
    set_secret(&secrets, "kafka-ca", "ca.crt", &bundle).await;
    wait_for(
        &pods,
        POD,
        "the worker rolled onto the new CA bundle",
        &operator,
        |p| p.uid() != first_uid && template_hash(p) != first_hash,
    )
    .await;
    wait_for(
        &clusters,
        CLUSTER,
        "Ready after the roll",
        &operator,
        |cc| {
            ready(cc).is_some_and(|r| r.0)
                && cc.status.as_ref().is_some_and(|s| s.ready_replicas == 1)
        },
    )
    .await;
    wait_for(
        &connectors,
        "sink",
        "the sink RUNNING again",
        &operator,
        running,
    )
    .await;
    connectors
        .create(
            &pp,
            &connector(
                &ns,
                "gen2",
                json!({"class": "datagen", "tasksMax": 1, "config": {
                    "topic": topic, "count": "100", "rate": "0"}}),
            ),
        )
        .await
        .expect("creating a Connector");
    support::wait_until(
        "300 records in the sink file",
        Duration::from_secs(120),
        || lines() >= 300,
    );
    // --- The REST port's NetworkPolicy (on by default), and off again.
    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), &ns);
    let policy = policies
        .get("secure-connect-api")
        .await
        .expect("the REST NetworkPolicy");
    let rules = policy.spec.and_then(|s| s.ingress).unwrap_or_default();
    assert_eq!(rules.len(), 2, "{rules:?}");
    clusters
        .patch(
            CLUSTER,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"restApi": {"networkPolicy": {"enabled": false}}}})),
        )
        .await
        .expect("turning the NetworkPolicy off");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !matches!(policies.get_opt("secure-connect-api").await, Ok(None)) {
        assert!(
            Instant::now() < deadline,
            "the NetworkPolicy is still there"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let mut operator = operator;
    operator.terminate();
    kubelet.shutdown().await;
}
