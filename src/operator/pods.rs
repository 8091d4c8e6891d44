//! The worker Pods and the REST API Service of a `ConnectCluster`, as plain
//! functions from the custom resource to the Kubernetes objects. Nothing
//! here talks to the API server.
//!
//! Every worker Pod is named `<cluster>-worker-<n>` and built from the same
//! template; [`template_hash`] fingerprints that template, so the operator
//! knows which Pods to roll after a spec change by comparing the
//! [`TEMPLATE_HASH_ANNOTATION`] of each Pod with the current hash.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EnvVar, EnvVarSource, HTTPGetAction,
    ObjectFieldSelector, Pod, PodSecurityContext, PodSpec, PodTemplateSpec, Probe, SeccompProfile,
    SecretVolumeSource, SecurityContext, Service, ServicePort, ServiceSpec, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::{Resource, ResourceExt};

use super::kafka_access::{self, KafkaAccess};
use crate::api::{ConnectCluster, CLUSTER_LABEL};

/// Environment variable holding the worker properties (Java .properties
/// text, see [`worker_properties`]); `kconnect worker` reads it when no
/// config file is given.
pub const WORKER_CONFIG_ENV: &str = "KCONNECT_WORKER_CONFIG";
/// Environment variable telling the worker where to serve `GET /health`.
pub const HEALTH_LISTEN_ENV: &str = "KCONNECT_HEALTH_LISTEN";
/// Port of the workers' health endpoint, which both probes call.
pub const HEALTH_PORT: i32 = 8084;
/// Path of the workers' health endpoint.
pub const HEALTH_PATH: &str = "/health";
/// Name of the worker container.
pub const WORKER_CONTAINER: &str = "worker";
/// Name of the REST API port, on the container and on the Service.
pub const REST_PORT_NAME: &str = "rest";
/// Name of the health port on the container.
pub const HEALTH_PORT_NAME: &str = "health";

/// Annotation carrying [`template_hash`] on every worker Pod.
pub const TEMPLATE_HASH_ANNOTATION: &str = "kconnect.dev/template-hash";

/// Recommended Kubernetes labels the operator sets.
pub const NAME_LABEL: &str = "app.kubernetes.io/name";
pub const INSTANCE_LABEL: &str = "app.kubernetes.io/instance";
pub const COMPONENT_LABEL: &str = "app.kubernetes.io/component";
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Value of [`NAME_LABEL`].
pub const APP_NAME: &str = "kconnect";
/// Value of [`COMPONENT_LABEL`] on worker Pods.
pub const WORKER_COMPONENT: &str = "worker";
/// Value of [`COMPONENT_LABEL`] on the REST API Service.
pub const API_COMPONENT: &str = "connect-api";
/// Value of [`MANAGED_BY_LABEL`].
pub const MANAGER: &str = "kconnect-operator";

/// Prometheus scrape annotations, set on the Pods when metrics are enabled.
pub const PROMETHEUS_SCRAPE_ANNOTATION: &str = "prometheus.io/scrape";
pub const PROMETHEUS_PORT_ANNOTATION: &str = "prometheus.io/port";
pub const PROMETHEUS_PATH_ANNOTATION: &str = "prometheus.io/path";
/// Path the workers serve Prometheus metrics at, on the REST port.
pub const METRICS_PATH: &str = "/metrics";

/// Seconds between SIGTERM and SIGKILL when the template does not say.
pub const DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS: i64 = 30;

/// Environment variables the operator sets on the worker container; an
/// entry of `spec.env` with one of these names is left out of the Pod.
pub const RESERVED_ENV: [&str; 5] = [
    "POD_NAME",
    "POD_NAMESPACE",
    "POD_IP",
    HEALTH_LISTEN_ENV,
    WORKER_CONFIG_ENV,
];

/// Most decimal digits of a worker index that [`max_cluster_name_len`]
/// leaves room for (indices 0 to 9999).
pub const MAX_INDEX_DIGITS: usize = 4;

/// Longest DNS label and label value.
const MAX_DNS_LABEL: usize = 63;
const WORKER_INFIX: &str = "-worker-";
const SERVICE_SUFFIX: &str = "-connect-api";

/// The labels the Service selects worker Pods by, a stable subset of
/// [`worker_labels`]: `kconnect.dev/cluster=<name>` and
/// `app.kubernetes.io/component=worker`. Also the scale subresource's
/// selector ([`label_selector`]). Must never change for an existing
/// cluster, or the Service loses its Pods.
pub fn selector_labels(cc: &ConnectCluster) -> BTreeMap<String, String> {
    BTreeMap::from([
        (CLUSTER_LABEL.to_owned(), cc.name_any()),
        (COMPONENT_LABEL.to_owned(), WORKER_COMPONENT.to_owned()),
    ])
}

/// The operator's labels on every worker Pod: [`selector_labels`] plus
/// `app.kubernetes.io/name=kconnect`, `app.kubernetes.io/instance=<name>`
/// and `app.kubernetes.io/managed-by=kconnect-operator`.
pub fn worker_labels(cc: &ConnectCluster) -> BTreeMap<String, String> {
    let mut labels = selector_labels(cc);
    labels.insert(NAME_LABEL.to_owned(), APP_NAME.to_owned());
    labels.insert(INSTANCE_LABEL.to_owned(), cc.name_any());
    labels.insert(MANAGED_BY_LABEL.to_owned(), MANAGER.to_owned());
    labels
}

/// [`selector_labels`] in the string form of `status.labelSelector`
/// (`k=v,k=v`, sorted by key), as the scale subresource and
/// `kubectl get pods --selector` take it.
pub fn label_selector(cc: &ConnectCluster) -> String {
    selector_labels(cc)
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Name of worker Pod `index` of a cluster: `<cluster>-worker-<index>`.
pub fn pod_name(cluster: &str, index: u32) -> String {
    format!("{cluster}{WORKER_INFIX}{index}")
}

/// The index of a worker Pod named by [`pod_name`] for `cluster`, or `None`
/// for any other name (another cluster's Pods, leading zeros, a sign).
pub fn pod_index(cluster: &str, pod_name: &str) -> Option<u32> {
    let digits = pod_name.strip_prefix(cluster)?.strip_prefix(WORKER_INFIX)?;
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    if canonical {
        digits.parse().ok()
    } else {
        None
    }
}

/// Name of the cluster's REST API Service: `<cluster>-connect-api`, as
/// Strimzi names it.
pub fn service_name(cluster: &str) -> String {
    format!("{cluster}{SERVICE_SUFFIX}")
}

/// Longest ConnectCluster name (51) for which `<cluster>-worker-<n>` with up
/// to [`MAX_INDEX_DIGITS`] digits and `<cluster>-connect-api` stay valid
/// DNS labels and label values (63 characters).
pub fn max_cluster_name_len() -> usize {
    let pod_suffix = WORKER_INFIX.len() + MAX_INDEX_DIGITS;
    MAX_DNS_LABEL - pod_suffix.max(SERVICE_SUFFIX.len())
}

/// [`ConnectCluster::worker_config`] as Java .properties text: one
/// `key=value` line per entry, keys sorted, no comment or timestamp line.
///
/// Escaping follows Java's `Properties.store`: `\`, `=`, `:`, `#`, `!`,
/// tab, newline, carriage return and form feed are backslash-escaped,
/// spaces in keys and a leading space in values too, and every character
/// outside printable ASCII becomes `\uXXXX` (a surrogate pair beyond the
/// Basic Multilingual Plane). The text is therefore pure ASCII and reads back
/// the same whatever ASCII-compatible charset the reader assumes:
/// `java_properties::read` (windows-1252) returns the original map for every
/// character in the BMP, and fails (rather than garbling the value) on a
/// surrogate pair, which java-properties 2.0 cannot decode; Java can.
///
/// This does not use `java_properties::PropertiesWriter`: in version 2.0
/// it writes `\u` escapes with fewer than four hex digits (control
/// characters, and any character its charset cannot map), which no reader
/// decodes back, and its default charset (windows-1252) does not produce
/// UTF-8 text.
pub fn worker_properties(cc: &ConnectCluster, kafka: &KafkaAccess) -> String {
    let mut config = cc.worker_config();
    config.extend(kafka.worker_config.clone());
    let port = cc.spec.rest_api.port;
    if port != crate::api::connect_cluster::DEFAULT_REST_PORT {
        // The kubelet expands $(POD_IP) (defined before this variable).
        config
            .entry(crate::rest::LISTENERS.to_owned())
            .or_insert_with(|| format!("http://$(POD_IP):{port}"));
    }
    if cc.spec.rest_api.writes {
        config.insert(crate::rest::REST_WRITES.to_owned(), "true".to_owned());
    }
    let mut out = String::new();
    for (key, value) in config {
        escape_properties(&key, true, &mut out);
        out.push('=');
        escape_properties(&value, false, &mut out);
        out.push('\n');
    }
    out
}

/// Java's `Properties.saveConvert(s, escapeSpace = key, escapeUnicode = true)`.
fn escape_properties(s: &str, key: bool, out: &mut String) {
    for (i, c) in s.chars().enumerate() {
        match c {
            '\\' => out.push_str("\\\\"),
            ' ' if key || i == 0 => out.push_str("\\ "),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\x0c' => out.push_str("\\f"),
            '=' | ':' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04X}"));
                }
            }
        }
    }
}

/// Controller owner reference to the cluster (`controller: true`,
/// `blockOwnerDeletion: true`), so its Pods and Service are deleted with
/// it. `None` when the object has no `metadata.uid` (not read from the API
/// server).
pub fn owner_reference(cc: &ConnectCluster) -> Option<OwnerReference> {
    let mut owner = cc.controller_owner_ref(&())?;
    owner.block_owner_deletion = Some(true);
    Some(owner)
}

pub fn owner_references(cc: &ConnectCluster) -> Option<Vec<OwnerReference>> {
    owner_reference(cc).map(|owner| vec![owner])
}

/// Worker Pod `index` of the cluster, running `image`.
///
/// Metadata: name [`pod_name`], the cluster's namespace, the template's
/// labels overlaid by [`worker_labels`], the template's annotations plus
/// [`TEMPLATE_HASH_ANNOTATION`] and (metrics enabled) the Prometheus scrape
/// annotations, and the [`owner_reference`]. The spec is the same for every
/// index (see [`template_hash`]).
pub fn worker_pod(cc: &ConnectCluster, index: u32, image: &str, kafka: &KafkaAccess) -> Pod {
    let template = pod_template(cc, image, kafka);
    let hash = fnv1a_64_hex(&template);
    let mut metadata = template.metadata.unwrap_or_default();
    metadata.name = Some(pod_name(&cc.name_any(), index));
    metadata.namespace = cc.namespace();
    metadata.owner_references = owner_references(cc);
    metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(TEMPLATE_HASH_ANNOTATION.to_owned(), hash);
    Pod {
        metadata,
        spec: template.spec,
        status: None,
    }
}

/// Fingerprint (16 hex digits, 64-bit FNV-1a over the JSON of the Pod
/// template) of everything in a worker Pod that a change must roll the Pods
/// for: image, worker properties, env, resources, secrets, ports, probes,
/// and the whole `spec.template` (scheduling, service account, labels and
/// annotations). Independent of the Pod index and of `spec.replicas`, and
/// the same in every process (no random seed). A k8s-openapi upgrade that
/// serializes Pods differently changes it, which rolls the Pods once.
pub fn template_hash(cc: &ConnectCluster, image: &str, kafka: &KafkaAccess) -> String {
    fnv1a_64_hex(&pod_template(cc, image, kafka))
}

fn fnv1a_64_hex(template: &PodTemplateSpec) -> String {
    let json = serde_json::to_vec(template).expect("a PodTemplateSpec serializes to JSON");
    format!("{:016x}", fnv1a_64(&json))
}

/// 64-bit FNV-1a.
pub(super) fn fnv1a_64(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET_BASIS, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}

/// What every worker Pod of the cluster shares: labels, annotations
/// (without the template hash) and the spec.
fn pod_template(cc: &ConnectCluster, image: &str, kafka: &KafkaAccess) -> PodTemplateSpec {
    let spec = &cc.spec;
    let template = spec.template.clone().unwrap_or_default();
    let rest_port = spec.rest_api.port;

    let mut labels = template.labels;
    labels.extend(worker_labels(cc));

    let mut annotations = template.annotations;
    if spec.metrics.enabled {
        annotations.extend([
            (PROMETHEUS_SCRAPE_ANNOTATION.to_owned(), "true".to_owned()),
            (PROMETHEUS_PORT_ANNOTATION.to_owned(), rest_port.to_string()),
            (
                PROMETHEUS_PATH_ANNOTATION.to_owned(),
                METRICS_PATH.to_owned(),
            ),
        ]);
    }
    if let Some(hash) = &kafka.secrets_hash {
        annotations.insert(
            kafka_access::SECRETS_HASH_ANNOTATION.to_owned(),
            hash.clone(),
        );
    }

    let (volumes, volume_mounts): (Vec<Volume>, Vec<VolumeMount>) = spec
        .secrets
        .iter()
        .enumerate()
        .map(|(n, secret)| {
            let name = format!("secret-{n}");
            let volume = Volume {
                name: name.clone(),
                secret: Some(SecretVolumeSource {
                    secret_name: Some(secret.secret_name.clone()),
                    ..SecretVolumeSource::default()
                }),
                ..Volume::default()
            };
            let mount = VolumeMount {
                name,
                mount_path: secret.effective_mount_path(),
                read_only: Some(true),
                ..VolumeMount::default()
            };
            (volume, mount)
        })
        .chain(kafka_access::secret_volumes(spec))
        .unzip();

    let container = Container {
        name: WORKER_CONTAINER.to_owned(),
        image: Some(image.to_owned()),
        command: Some(vec!["kconnect".to_owned(), "worker".to_owned()]),
        env: Some(worker_env(cc, kafka)),
        ports: Some(vec![
            container_port(REST_PORT_NAME, rest_port),
            container_port(HEALTH_PORT_NAME, HEALTH_PORT),
        ]),
        readiness_probe: Some(Probe {
            period_seconds: Some(2),
            failure_threshold: Some(3),
            ..health_probe()
        }),
        liveness_probe: Some(Probe {
            initial_delay_seconds: Some(30),
            period_seconds: Some(10),
            failure_threshold: Some(6),
            ..health_probe()
        }),
        resources: spec.resources.clone(),
        volume_mounts: non_empty(volume_mounts),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(false),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".to_owned()]),
                ..Capabilities::default()
            }),
            ..SecurityContext::default()
        }),
        ..Container::default()
    };

    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels),
            annotations: (!annotations.is_empty()).then_some(annotations),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            containers: vec![container],
            restart_policy: Some("Always".to_owned()),
            volumes: non_empty(volumes),
            affinity: template.affinity,
            tolerations: non_empty(template.tolerations),
            node_selector: (!template.node_selector.is_empty()).then_some(template.node_selector),
            // Workers need Kubernetes API access only for REST writes
            // (super::rbac); else a service account is only set for
            // workload identity, which needs its token.
            automount_service_account_token: Some(
                spec.rest_api.writes || template.service_account_name.is_some(),
            ),
            service_account_name: super::rbac::worker_service_account(cc),
            priority_class_name: template.priority_class_name,
            image_pull_secrets: non_empty(template.image_pull_secrets),
            termination_grace_period_seconds: Some(
                template
                    .termination_grace_period_seconds
                    .unwrap_or(DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS),
            ),
            security_context: Some(PodSecurityContext {
                run_as_non_root: Some(true),
                seccomp_profile: Some(SeccompProfile {
                    type_: "RuntimeDefault".to_owned(),
                    ..SeccompProfile::default()
                }),
                ..PodSecurityContext::default()
            }),
            ..PodSpec::default()
        }),
    }
}

/// The worker container's environment: the Pod's identity from the
/// downward API, where to serve health (the Pod IP, not 0.0.0.0: test Pods
/// may share one host network), the worker properties, then `spec.env`
/// without the [`RESERVED_ENV`] names (later entries win in Kubernetes, so
/// a user entry could otherwise replace the operator's).
fn worker_env(cc: &ConnectCluster, kafka: &KafkaAccess) -> Vec<EnvVar> {
    let field = |name: &str, path: &str| EnvVar {
        name: name.to_owned(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: path.to_owned(),
                ..ObjectFieldSelector::default()
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    };
    let value = |name: &str, value: String| EnvVar {
        name: name.to_owned(),
        value: Some(value),
        ..EnvVar::default()
    };
    let mut env = vec![
        field("POD_NAME", "metadata.name"),
        field("POD_NAMESPACE", "metadata.namespace"),
        field("POD_IP", "status.podIP"),
        value(HEALTH_LISTEN_ENV, format!("$(POD_IP):{HEALTH_PORT}")),
        value(WORKER_CONFIG_ENV, worker_properties(cc, kafka)),
    ];
    env.extend(
        cc.spec
            .env
            .iter()
            .filter(|var| !RESERVED_ENV.contains(&var.name.as_str()))
            .cloned(),
    );
    env
}

fn container_port(name: &str, port: i32) -> ContainerPort {
    ContainerPort {
        name: Some(name.to_owned()),
        container_port: port,
        protocol: Some("TCP".to_owned()),
        ..ContainerPort::default()
    }
}

fn health_probe() -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(HEALTH_PATH.to_owned()),
            port: IntOrString::Int(HEALTH_PORT),
            ..HTTPGetAction::default()
        }),
        ..Probe::default()
    }
}

fn non_empty<T>(items: Vec<T>) -> Option<Vec<T>> {
    (!items.is_empty()).then_some(items)
}

/// The cluster's REST API Service [`service_name`]: ClusterIP, selecting
/// [`selector_labels`], port `rest` (`spec.restApi.port`) to the Pods' `rest`
/// port. Labelled like the Pods but with
/// `app.kubernetes.io/component=connect-api`, and owned by the cluster.
pub fn worker_service(cc: &ConnectCluster) -> Service {
    let mut labels = worker_labels(cc);
    labels.insert(COMPONENT_LABEL.to_owned(), API_COMPONENT.to_owned());
    Service {
        metadata: ObjectMeta {
            name: Some(service_name(&cc.name_any())),
            namespace: cc.namespace(),
            labels: Some(labels),
            owner_references: owner_references(cc),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".to_owned()),
            selector: Some(selector_labels(cc)),
            ports: Some(vec![ServicePort {
                name: Some(REST_PORT_NAME.to_owned()),
                port: cc.spec.rest_api.port,
                target_port: Some(IntOrString::String(REST_PORT_NAME.to_owned())),
                protocol: Some("TCP".to_owned()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use k8s_openapi::api::core::v1::ResourceRequirements;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    use super::*;
    use crate::api::{ConnectClusterSpec, PodTemplate, SecretMount};

    const IMAGE: &str = "ghcr.io/kconnect/kconnect:0.1.0";

    type Change = fn(&mut ConnectCluster);

    fn cluster() -> ConnectCluster {
        let spec: ConnectClusterSpec =
            serde_json::from_value(serde_json::json!({ "bootstrapServers": "kafka:9092" }))
                .unwrap();
        let mut cc = ConnectCluster::new("main", spec);
        cc.metadata.namespace = Some("team-a".to_owned());
        cc.metadata.uid = Some("0b5c1a52-6d1e-4c1b-9a55-3f1f3c9b7e01".to_owned());
        cc
    }

    fn container(pod: &Pod) -> &Container {
        &pod.spec.as_ref().unwrap().containers[0]
    }

    fn env_names(pod: &Pod) -> Vec<&str> {
        container(pod)
            .env
            .as_ref()
            .unwrap()
            .iter()
            .map(|e| e.name.as_str())
            .collect()
    }

    fn env_value<'a>(pod: &'a Pod, name: &str) -> &'a EnvVar {
        container(pod)
            .env
            .as_ref()
            .unwrap()
            .iter()
            .find(|e| e.name == name)
            .unwrap()
    }

    fn read_properties(text: &str) -> BTreeMap<String, String> {
        let map: HashMap<String, String> = java_properties::read(text.as_bytes()).unwrap();
        map.into_iter().collect()
    }

    #[test]
    fn pod_names_round_trip() {
        for index in [0, 1, 9, 10, 42, 9999, u32::MAX] {
            let name = pod_name("main", index);
            assert_eq!(pod_index("main", &name), Some(index), "{name}");
        }
        assert_eq!(pod_name("main", 3), "main-worker-3");
    }

    #[test]
    fn foreign_pod_names_have_no_index() {
        for name in [
            "main",
            "main-worker-",
            "main-worker-x",
            "main-worker-01",
            "main-worker-+1",
            "main-worker--1",
            "main-worker-1 ",
            "main-worker-1-worker-0",
            "main-worker-4294967296",
            "other-worker-1",
            "mains-worker-1",
            "xmain-worker-1",
            "main-connect-api",
        ] {
            assert_eq!(pod_index("main", name), None, "{name}");
        }
        // A cluster whose name extends another's does not claim its Pods.
        assert_eq!(pod_index("main", "main-worker-1-worker-0"), None);
        assert_eq!(
            pod_index("main-worker-1", "main-worker-1-worker-0"),
            Some(0)
        );
    }

    #[test]
    fn longest_cluster_name_gives_valid_names() {
        let max = max_cluster_name_len();
        assert_eq!(max, 51);
        let cluster = "c".repeat(max);
        assert_eq!(pod_name(&cluster, 9999).len(), 63);
        assert!(service_name(&cluster).len() <= 63);
    }

    #[test]
    fn selector_is_the_cluster_and_component() {
        let cc = cluster();
        assert_eq!(
            label_selector(&cc),
            "app.kubernetes.io/component=worker,kconnect.dev/cluster=main"
        );
        assert_eq!(
            worker_labels(&cc),
            BTreeMap::from([
                (
                    "app.kubernetes.io/component".to_owned(),
                    "worker".to_owned()
                ),
                ("app.kubernetes.io/instance".to_owned(), "main".to_owned()),
                (
                    "app.kubernetes.io/managed-by".to_owned(),
                    "kconnect-operator".to_owned()
                ),
                ("app.kubernetes.io/name".to_owned(), "kconnect".to_owned()),
                ("kconnect.dev/cluster".to_owned(), "main".to_owned()),
            ])
        );
    }

    #[test]
    fn properties_read_back_to_the_worker_config() {
        let mut cc = cluster();
        cc.spec.config = BTreeMap::from([
            (
                "key.converter".to_owned(),
                "org.apache.kafka.connect.json.JsonConverter".to_owned(),
            ),
            ("a=b".to_owned(), "c=d".to_owned()),
            ("k:colon".to_owned(), "v:colon".to_owned()),
            (
                "key with spaces".to_owned(),
                "  leading and trailing  ".to_owned(),
            ),
            ("#hash".to_owned(), "!bang #not a comment".to_owned()),
            ("!bang".to_owned(), "x".to_owned()),
            ("unicode.é".to_owned(), "café ∑ 日本語 €".to_owned()),
            ("multi\nline".to_owned(), "one\ntwo\r\nthree\\".to_owned()),
            ("tabs\tand\x0cfeeds".to_owned(), "\t\x0c".to_owned()),
            ("control".to_owned(), "\u{1}\u{1f}\u{7f}".to_owned()),
            ("backslash\\".to_owned(), "\\\\".to_owned()),
            (
                "sasl.jaas.config".to_owned(),
                "org.apache.kafka.common.security.plain.PlainLoginModule required \
                 username=\"u\" password=\"${file:/etc/kconnect/secrets/kafka/password}\";"
                    .to_owned(),
            ),
            ("empty".to_owned(), String::new()),
            (String::new(), "empty key".to_owned()),
        ]);
        let text = worker_properties(&cc, &KafkaAccess::PLAINTEXT);
        assert!(text.is_ascii(), "{text}");
        assert!(
            !text
                .lines()
                .any(|l| l.starts_with('#') || l.starts_with('!')),
            "{text}"
        );
        assert_eq!(read_properties(&text), cc.worker_config());
    }

    #[test]
    fn properties_are_sorted_lines_without_comments() {
        let mut cc = cluster();
        cc.spec.config = BTreeMap::from([(
            "value.converter".to_owned(),
            "org.apache.kafka.connect.storage.StringConverter".to_owned(),
        )]);
        assert_eq!(
            worker_properties(&cc, &KafkaAccess::PLAINTEXT),
            "bootstrap.servers=kafka\\:9092\n\
             config.storage.topic=team-a.main.configs\n\
             group.id=team-a.main\n\
             offset.storage.topic=team-a.main.offsets\n\
             status.storage.topic=team-a.main.status\n\
             value.converter=org.apache.kafka.connect.storage.StringConverter\n"
        );
    }

    #[test]
    fn characters_beyond_the_bmp_are_surrogate_pairs() {
        let mut out = String::new();
        escape_properties("a😀", false, &mut out);
        assert_eq!(out, "a\\uD83D\\uDE00");
        // java-properties 2.0 cannot combine them: it fails loudly.
        assert!(java_properties::read(format!("k={out}\n").as_bytes()).is_err());
    }

    #[test]
    fn pod_metadata() {
        let mut cc = cluster();
        cc.spec.template = Some(PodTemplate {
            labels: BTreeMap::from([
                ("team".to_owned(), "a".to_owned()),
                (CLUSTER_LABEL.to_owned(), "hijack".to_owned()),
                (COMPONENT_LABEL.to_owned(), "hijack".to_owned()),
                (MANAGED_BY_LABEL.to_owned(), "helm".to_owned()),
            ]),
            annotations: BTreeMap::from([
                ("owner".to_owned(), "team-a".to_owned()),
                (TEMPLATE_HASH_ANNOTATION.to_owned(), "forged".to_owned()),
            ]),
            ..PodTemplate::default()
        });
        let pod = worker_pod(&cc, 2, IMAGE, &KafkaAccess::PLAINTEXT);
        let meta = &pod.metadata;
        assert_eq!(meta.name.as_deref(), Some("main-worker-2"));
        assert_eq!(meta.namespace.as_deref(), Some("team-a"));

        let labels = meta.labels.as_ref().unwrap();
        assert_eq!(labels["team"], "a");
        for (key, value) in worker_labels(&cc) {
            assert_eq!(labels[&key], value, "{key}");
        }

        let annotations = meta.annotations.as_ref().unwrap();
        assert_eq!(annotations["owner"], "team-a");
        assert_eq!(
            annotations[TEMPLATE_HASH_ANNOTATION],
            template_hash(&cc, IMAGE, &KafkaAccess::PLAINTEXT)
        );
        assert_eq!(annotations[PROMETHEUS_SCRAPE_ANNOTATION], "true");
        assert_eq!(annotations[PROMETHEUS_PORT_ANNOTATION], "8083");
        assert_eq!(annotations[PROMETHEUS_PATH_ANNOTATION], "/metrics");

        let owners = meta.owner_references.as_ref().unwrap();
        assert_eq!(owners.len(), 1);
        let owner = &owners[0];
        assert_eq!(owner.api_version, "kconnect.dev/v1alpha1");
        assert_eq!(owner.kind, "ConnectCluster");
        assert_eq!(owner.name, "main");
        assert_eq!(owner.uid, cc.metadata.uid.clone().unwrap());
        assert_eq!(owner.controller, Some(true));
        assert_eq!(owner.block_owner_deletion, Some(true));
    }

    #[test]
    fn no_metrics_annotations_when_metrics_are_off() {
        let mut cc = cluster();
        cc.spec.metrics.enabled = false;
        let pod = worker_pod(&cc, 0, IMAGE, &KafkaAccess::PLAINTEXT);
        let annotations = pod.metadata.annotations.unwrap();
        assert_eq!(
            annotations.keys().collect::<Vec<_>>(),
            [TEMPLATE_HASH_ANNOTATION]
        );
    }

    #[test]
    fn no_owner_reference_without_uid() {
        let mut cc = cluster();
        cc.metadata.uid = None;
        assert_eq!(owner_reference(&cc), None);
        assert_eq!(
            worker_pod(&cc, 0, IMAGE, &KafkaAccess::PLAINTEXT)
                .metadata
                .owner_references,
            None
        );
    }

    #[test]
    fn pod_container() {
        let mut cc = cluster();
        cc.spec.rest_api.port = 9083;
        cc.spec.env = vec![
            EnvVar {
                name: "KAFKA_PASSWORD".to_owned(),
                value: Some("x".to_owned()),
                ..EnvVar::default()
            },
            EnvVar {
                name: WORKER_CONFIG_ENV.to_owned(),
                value: Some("group.id=stolen".to_owned()),
                ..EnvVar::default()
            },
            EnvVar {
                name: "ADVERTISED".to_owned(),
                value: Some("$(POD_IP)".to_owned()),
                ..EnvVar::default()
            },
        ];
        let pod = worker_pod(&cc, 0, IMAGE, &KafkaAccess::PLAINTEXT);
        let spec = pod.spec.as_ref().unwrap();
        assert_eq!(spec.restart_policy.as_deref(), Some("Always"));
        assert_eq!(spec.containers.len(), 1);
        let c = container(&pod);
        assert_eq!(c.name, "worker");
        assert_eq!(c.image.as_deref(), Some(IMAGE));
        assert_eq!(
            c.command,
            Some(vec!["kconnect".to_owned(), "worker".to_owned()])
        );

        assert_eq!(
            env_names(&pod),
            [
                "POD_NAME",
                "POD_NAMESPACE",
                "POD_IP",
                "KCONNECT_HEALTH_LISTEN",
                "KCONNECT_WORKER_CONFIG",
                "KAFKA_PASSWORD",
                "ADVERTISED",
            ]
        );
        let field_path = |name: &str| {
            env_value(&pod, name)
                .value_from
                .as_ref()
                .unwrap()
                .field_ref
                .as_ref()
                .unwrap()
                .field_path
                .clone()
        };
        assert_eq!(field_path("POD_NAME"), "metadata.name");
        assert_eq!(field_path("POD_NAMESPACE"), "metadata.namespace");
        assert_eq!(field_path("POD_IP"), "status.podIP");
        assert_eq!(
            env_value(&pod, HEALTH_LISTEN_ENV).value.as_deref(),
            Some("$(POD_IP):8084")
        );
        let config = env_value(&pod, WORKER_CONFIG_ENV).value.as_deref().unwrap();
        assert_eq!(config, worker_properties(&cc, &KafkaAccess::PLAINTEXT));
        // A REST port other than 8083 becomes the listener on the Pod's IP
        // (the kubelet expands $(POD_IP)).
        let mut expected = cc.worker_config();
        expected.insert("listeners".into(), "http://$(POD_IP):9083".into());
        assert_eq!(read_properties(config), expected);
        cc.spec.rest_api.writes = true;
        assert_eq!(
            read_properties(&worker_properties(&cc, &KafkaAccess::PLAINTEXT))
                .get("kconnect.rest.writes"),
            Some(&"true".to_owned())
        );

        let ports: Vec<_> = c
            .ports
            .as_ref()
            .unwrap()
            .iter()
            .map(|p| (p.name.as_deref().unwrap(), p.container_port))
            .collect();
        assert_eq!(ports, [("rest", 9083), ("health", 8084)]);

        let readiness = c.readiness_probe.as_ref().unwrap();
        let get = readiness.http_get.as_ref().unwrap();
        assert_eq!(get.path.as_deref(), Some("/health"));
        assert_eq!(get.port, IntOrString::Int(8084));
        assert_eq!(readiness.period_seconds, Some(2));
        assert_eq!(readiness.failure_threshold, Some(3));
        let liveness = c.liveness_probe.as_ref().unwrap();
        assert_eq!(liveness.http_get, readiness.http_get);
        assert_eq!(liveness.initial_delay_seconds, Some(30));
        assert_eq!(liveness.period_seconds, Some(10));
        assert_eq!(liveness.failure_threshold, Some(6));

        let security = c.security_context.as_ref().unwrap();
        assert_eq!(security.allow_privilege_escalation, Some(false));
        assert_eq!(
            spec.security_context.as_ref().unwrap().run_as_non_root,
            Some(true)
        );
    }

    #[test]
    fn pod_scheduling_and_defaults() {
        let cc = cluster();
        let pod = worker_pod(&cc, 0, IMAGE, &KafkaAccess::PLAINTEXT);
        let spec = pod.spec.unwrap();
        assert_eq!(spec.termination_grace_period_seconds, Some(30));
        assert_eq!(spec.automount_service_account_token, Some(false));
        assert_eq!(spec.service_account_name, None);
        assert_eq!(spec.volumes, None);
        assert_eq!(spec.tolerations, None);
        assert_eq!(spec.node_selector, None);

        let mut cc = cluster();
        let template: PodTemplate = serde_json::from_value(serde_json::json!({
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "kafka", "effect": "NoSchedule"}],
            "nodeSelector": {"pool": "connect"},
            "serviceAccountName": "connect-iam",
            "priorityClassName": "high",
            "imagePullSecrets": [{"name": "registry"}],
            "terminationGracePeriodSeconds": 120,
            "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                "weight": 100,
                "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                    "labelSelector": {"matchLabels": {"kconnect.dev/cluster": "main"}}}
            }]}}
        }))
        .unwrap();
        cc.spec.template = Some(template.clone());
        let spec = worker_pod(&cc, 0, IMAGE, &KafkaAccess::PLAINTEXT)
            .spec
            .unwrap();
        assert_eq!(spec.affinity, template.affinity);
        assert_eq!(spec.tolerations, Some(template.tolerations));
        assert_eq!(spec.node_selector, Some(template.node_selector));
        assert_eq!(spec.service_account_name.as_deref(), Some("connect-iam"));
        assert_eq!(spec.automount_service_account_token, Some(true));
        assert_eq!(spec.priority_class_name.as_deref(), Some("high"));
        assert_eq!(spec.image_pull_secrets, Some(template.image_pull_secrets));
        assert_eq!(spec.termination_grace_period_seconds, Some(120));
    }

    #[test]
    fn secrets_are_read_only_volumes() {
        let mut cc = cluster();
        cc.spec.secrets = vec![
            SecretMount {
                secret_name: "kafka-tls".to_owned(),
                mount_path: None,
            },
            SecretMount {
                secret_name: "db".to_owned(),
                mount_path: Some("/var/run/db".to_owned()),
            },
        ];
        let pod = worker_pod(&cc, 0, IMAGE, &KafkaAccess::PLAINTEXT);
        let volumes = pod.spec.as_ref().unwrap().volumes.as_ref().unwrap();
        let volumes: Vec<_> = volumes
            .iter()
            .map(|v| {
                let secret = v.secret.as_ref().unwrap();
                (v.name.as_str(), secret.secret_name.as_deref().unwrap())
            })
            .collect();
        assert_eq!(volumes, [("secret-0", "kafka-tls"), ("secret-1", "db")]);
        let mounts: Vec<_> = container(&pod)
            .volume_mounts
            .as_ref()
            .unwrap()
            .iter()
            .map(|m| (m.name.as_str(), m.mount_path.as_str(), m.read_only))
            .collect();
        assert_eq!(
            mounts,
            [
                ("secret-0", "/etc/kconnect/secrets/kafka-tls", Some(true)),
                ("secret-1", "/var/run/db", Some(true)),
            ]
        );
    }

    #[test]
    fn pods_differ_only_in_name() {
        let cc = cluster();
        let mut a = worker_pod(&cc, 0, IMAGE, &KafkaAccess::PLAINTEXT);
        let b = worker_pod(&cc, 7, IMAGE, &KafkaAccess::PLAINTEXT);
        assert_ne!(a.metadata.name, b.metadata.name);
        a.metadata.name = b.metadata.name.clone();
        assert_eq!(a, b);
    }

    #[test]
    fn template_hash_follows_what_rolls_pods() {
        let base = cluster();
        let hash = template_hash(&base, IMAGE, &KafkaAccess::PLAINTEXT);
        assert_eq!(hash.len(), 16);
        assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(
            template_hash(&base.clone(), IMAGE, &KafkaAccess::PLAINTEXT),
            hash
        );

        let mut scaled = base.clone();
        scaled.spec.replicas = 5;
        assert_eq!(
            template_hash(&scaled, IMAGE, &KafkaAccess::PLAINTEXT),
            hash,
            "replicas"
        );

        assert_ne!(
            template_hash(&base, "kconnect:0.2.0", &KafkaAccess::PLAINTEXT),
            hash,
            "image"
        );

        let changes: [(&str, Change); 8] = [
            ("env", |cc| {
                cc.spec.env.push(EnvVar {
                    name: "X".to_owned(),
                    value: Some("1".to_owned()),
                    ..EnvVar::default()
                })
            }),
            ("config", |cc| {
                cc.spec.config.insert(
                    "tasks.shutdown.graceful.timeout.ms".to_owned(),
                    "1".to_owned(),
                );
            }),
            ("bootstrap", |cc| {
                cc.spec.bootstrap_servers = "other:9092".to_owned()
            }),
            ("resources", |cc| {
                cc.spec.resources = Some(ResourceRequirements {
                    limits: Some(BTreeMap::from([(
                        "memory".to_owned(),
                        Quantity("512Mi".to_owned()),
                    )])),
                    ..ResourceRequirements::default()
                })
            }),
            ("secrets", |cc| {
                cc.spec.secrets.push(SecretMount {
                    secret_name: "s".to_owned(),
                    mount_path: None,
                })
            }),
            ("rest port", |cc| cc.spec.rest_api.port = 9000),
            ("metrics", |cc| cc.spec.metrics.enabled = false),
            ("template", |cc| {
                cc.spec.template = Some(PodTemplate {
                    priority_class_name: Some("high".to_owned()),
                    ..PodTemplate::default()
                })
            }),
        ];
        for (what, change) in changes {
            let mut cc = base.clone();
            change(&mut cc);
            assert_ne!(
                template_hash(&cc, IMAGE, &KafkaAccess::PLAINTEXT),
                hash,
                "{what}"
            );
        }
    }

    #[test]
    fn template_hash_is_fnv1a_of_the_template_json() {
        // Test vectors of the FNV reference implementation.
        assert_eq!(fnv1a_64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a_64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a_64(b"foobar"), 0x8594_4171_f739_67e8);
        let cc = cluster();
        let json = serde_json::to_vec(&pod_template(&cc, IMAGE, &KafkaAccess::PLAINTEXT)).unwrap();
        assert_eq!(
            template_hash(&cc, IMAGE, &KafkaAccess::PLAINTEXT),
            format!("{:016x}", fnv1a_64(&json))
        );
    }

    #[test]
    fn service_selects_the_worker_pods() {
        let cc = cluster();
        let service = worker_service(&cc);
        assert_eq!(service.metadata.name.as_deref(), Some("main-connect-api"));
        assert_eq!(service.metadata.namespace.as_deref(), Some("team-a"));
        assert_eq!(service.metadata.owner_references, owner_references(&cc));
        assert_eq!(
            service.metadata.labels.as_ref().unwrap()[COMPONENT_LABEL],
            "connect-api"
        );
        let spec = service.spec.unwrap();
        assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
        let selector = spec.selector.unwrap();
        assert_eq!(selector, selector_labels(&cc));
        let pod_labels = worker_pod(&cc, 0, IMAGE, &KafkaAccess::PLAINTEXT)
            .metadata
            .labels
            .unwrap();
        for (key, value) in &selector {
            assert_eq!(pod_labels.get(key), Some(value), "{key}");
        }
        let ports = spec.ports.unwrap();
        assert_eq!(ports.len(), 1);
        assert_eq!(ports[0].name.as_deref(), Some("rest"));
        assert_eq!(ports[0].port, 8083);
        assert_eq!(
            ports[0].target_port,
            Some(IntOrString::String("rest".to_owned()))
        );
    }
}
