//! `ConnectCluster`: a group of kconnect worker Pods sharing one set of
//! internal topics (Kafka Connect's distributed mode).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, EnvVar, LocalObjectReference, ResourceRequirements, Toleration,
};
use k8s_openapi::api::networking::v1::NetworkPolicyPeer;
use kube::{CustomResource, ResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::condition::Condition;
use super::kafka_security::{ClientTls, KafkaClientAuthentication};

/// Worker configuration keys that get a default derived from the cluster's
/// namespace and name (see [`ConnectCluster::worker_config`]).
pub const GROUP_ID: &str = "group.id";
pub const CONFIG_STORAGE_TOPIC: &str = "config.storage.topic";
pub const OFFSET_STORAGE_TOPIC: &str = "offset.storage.topic";
pub const STATUS_STORAGE_TOPIC: &str = "status.storage.topic";
/// Set from `spec.bootstrapServers`; rejected in `spec.config`.
pub const BOOTSTRAP_SERVERS: &str = "bootstrap.servers";

/// Where `spec.secrets[].secretName` is mounted when no `mountPath` is given:
/// `<SECRETS_DIR>/<secretName>`.
pub const SECRETS_DIR: &str = "/etc/kconnect/secrets";

/// Port of the Connect REST API when `spec.restApi.port` is not set
/// (Java Connect's default).
pub const DEFAULT_REST_PORT: i32 = 8083;

/// Desired state of a ConnectCluster: how many worker Pods to run, which
/// Kafka cluster they use, and how their Pods look.
// The printcolumn(...) lists repeat `type_ = "string"` and the like, which
// clippy takes for duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "kconnect.dev",
    version = "v1alpha1",
    kind = "ConnectCluster",
    plural = "connectclusters",
    namespaced,
    status = "ConnectClusterStatus",
    derive = "PartialEq",
    shortname = "kcc",
    category = "kconnect",
    doc = "A Kafka Connect cluster in distributed mode: worker Pods that share one group.id and the three internal topics (configs, offsets, status) on one Kafka cluster. The kconnect operator creates and owns the Pods (named <cluster>-worker-<n>) and a Service for the REST API, places connectors and tasks on the workers, and moves them off a Pod before it is deleted. Connectors are Connector resources in the same namespace labelled kconnect.dev/cluster=<cluster name>.",
    scale(
        spec_replicas_path = ".spec.replicas",
        status_replicas_path = ".status.replicas",
        label_selector_path = ".status.labelSelector"
    ),
    printcolumn(
        name = "Desired Replicas",
        type_ = "integer",
        json_path = ".spec.replicas",
        description = "Number of worker Pods asked for (spec.replicas)."
    ),
    printcolumn(
        name = "Ready Replicas",
        type_ = "integer",
        json_path = ".status.readyReplicas",
        description = "Number of worker Pods that are Ready."
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].status"#,
        description = "Status of the Ready condition."
    ),
    printcolumn(
        name = "Bootstrap",
        type_ = "string",
        json_path = ".spec.bootstrapServers",
        description = "Kafka bootstrap servers."
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].reason"#,
        description = "Reason of the Ready condition.",
        priority = 1
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "!has(self.authentication) || self.authentication.type != 'tls' || has(self.tls)",
    "message": "authentication type tls needs tls (client certificates are a TLS feature)"
}]))]
pub struct ConnectClusterSpec {
    /// Number of worker Pods. Scaling down first moves the tasks off the
    /// Pods that go. Also settable through the scale subresource (kubectl
    /// scale, HorizontalPodAutoscaler, KEDA). 0 stops every worker but keeps
    /// the connectors and their offsets.
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 0))]
    pub replicas: i32,

    /// Kafka bootstrap servers the workers connect to, as host:port pairs
    /// separated by commas, e.g. my-kafka:9092. Becomes the workers'
    /// bootstrap.servers.
    #[schemars(length(min = 1))]
    pub bootstrap_servers: String,

    /// TLS to the brokers, as in Strimzi's KafkaConnect: the certificate
    /// authorities to trust. Sets security.protocol, ssl.truststore.* for
    /// the workers' own clients and for every task's producer, consumer and
    /// admin client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ClientTls>,

    /// How the workers authenticate to the brokers, as in Strimzi's
    /// KafkaConnect: a client certificate (tls), SASL SCRAM-SHA-256,
    /// SCRAM-SHA-512 or PLAIN with a password from a Secret, or OAuth client
    /// credentials. Applies to the workers' own clients, to every task's
    /// clients (a connector may still override them with
    /// producer.override.* and the like, as the worker's
    /// connector.client.config.override.policy allows) and to the
    /// operator's own clients. Changing a referenced Secret rolls the
    /// workers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<KafkaClientAuthentication>,

    /// Container image of the worker Pods. Defaults to the image of the
    /// running operator, so workers and operator are always the same
    /// version. Changing it rolls the Pods one at a time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,

    /// Worker configuration, with Java Kafka Connect's keys and values, e.g.
    /// key.converter, value.converter, group.id, config.storage.topic,
    /// offset.storage.topic, status.storage.topic and their
    /// *.replication.factor and *.partitions, plus Kafka client settings
    /// (security.protocol, sasl.*, ssl.*) and producer.* / consumer.*
    /// overrides. When absent, group.id defaults to <namespace>.<name> and
    /// the three topics to <namespace>.<name>.configs, .offsets and
    /// .status, so two clusters never share topics by accident. Do not set
    /// bootstrap.servers here (use bootstrapServers), nor, with tls or
    /// authentication set, the security.protocol, ssl.* and sasl.* keys they
    /// set. Secrets do not belong here: mount them with secrets or env and
    /// refer to them with ${file:...}, ${dir:...} or ${env:...} placeholders.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": "!('bootstrap.servers' in self)",
        "message": "set spec.bootstrapServers instead of bootstrap.servers in spec.config"
    }]))]
    pub config: BTreeMap<String, String>,

    /// CPU and memory requests and limits of the worker container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,

    /// Extra environment variables of the worker container. Use
    /// valueFrom.secretKeyRef for passwords and refer to them from
    /// connector or worker configs with ${env:NAME}.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,

    /// Secrets mounted read-only as files into every worker, e.g. TLS
    /// truststores and keystores for the Kafka connection or credentials
    /// of the systems connectors reach. Each key of a Secret becomes a file
    /// <mountPath>/<key>; refer to it from configs with
    /// ${file:<mountPath>/<key>} or, for a Java .properties file,
    /// ${file:<path>:<property>}. The operator never reads these Secrets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<SecretMount>,

    /// Settings of the worker Pods beyond the container: labels,
    /// annotations, scheduling and service account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<PodTemplate>,

    /// The Connect-compatible REST API each worker serves.
    #[serde(default)]
    pub rest_api: RestApi,

    /// Prometheus metrics of the workers.
    #[serde(default)]
    pub metrics: Metrics,
}

fn default_replicas() -> i32 {
    1
}

/// A Secret mounted into every worker Pod.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretMount {
    /// Name of a Secret in the ConnectCluster's namespace.
    #[schemars(length(min = 1))]
    pub secret_name: String,
    /// Absolute directory the Secret's keys appear in as files. Defaults to
    /// /etc/kconnect/secrets/<secretName>.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^/"))]
    pub mount_path: Option<String>,
}

impl SecretMount {
    /// The directory the Secret is mounted at.
    pub fn effective_mount_path(&self) -> String {
        self.mount_path
            .clone()
            .unwrap_or_else(|| format!("{SECRETS_DIR}/{}", self.secret_name))
    }
}

/// Parts of the worker Pods' spec and metadata that users may set.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodTemplate {
    /// Labels added to the worker Pods. The operator's own labels
    /// (kconnect.dev/*, app.kubernetes.io/*) take precedence.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations added to the worker Pods.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Scheduling constraints of the worker Pods, e.g. a podAntiAffinity
    /// that spreads workers over nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// Tolerations of the worker Pods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    /// Node labels a node must have to run a worker Pod.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// Service account of the worker Pods. Workers need no Kubernetes
    /// permissions; set this only for workload identity (cloud IAM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Priority class of the worker Pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    /// Secrets with credentials to pull the worker image from a private
    /// registry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<LocalObjectReference>,
    /// Seconds a worker gets between SIGTERM and SIGKILL to stop its
    /// remaining tasks and commit their offsets. The operator moves tasks
    /// off a Pod before it deletes it, so this matters mostly for
    /// evictions and node drains. Defaults to 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub termination_grace_period_seconds: Option<i64>,
}

/// The Connect-compatible REST API of the workers.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestApi {
    /// Whether the REST API accepts changes (creating, reconfiguring,
    /// pausing, restarting and deleting connectors, altering offsets). When
    /// false (the default) it is read-only and Connector resources are the
    /// only way to change connectors, so nothing changes behind GitOps'
    /// back. When true, connectors created through REST run alongside the
    /// Connector resources and the operator leaves them alone; a REST change
    /// to a connector that a Connector resource manages is overwritten at
    /// the next reconcile.
    #[serde(default)]
    pub writes: bool,
    /// Port the REST API listens on in every worker, and the port of the
    /// cluster's Service.
    #[serde(default = "default_rest_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
    /// Who may reach the REST port: a NetworkPolicy the operator keeps.
    #[serde(default, skip_serializing_if = "RestNetworkPolicy::is_default")]
    pub network_policy: RestNetworkPolicy,
}

/// The NetworkPolicy `<cluster>-connect-api` over the worker Pods: the REST
/// port (where /metrics is served too) admits only the cluster's workers,
/// the operator and the peers listed here; the health port stays open for
/// probes. As Strimzi does by default for Kafka Connect.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestNetworkPolicy {
    /// Whether the operator creates the NetworkPolicy. Unset: the
    /// operator's default (`kconnect operator --network-policies`, the
    /// chart's networkPolicies value; on unless changed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// More peers admitted to the REST port, e.g. the Prometheus Pods that
    /// scrape /metrics or a namespace of tools using the REST API.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from: Vec<NetworkPolicyPeer>,
}

impl RestNetworkPolicy {
    fn is_default(&self) -> bool {
        self == &RestNetworkPolicy::default()
    }
}

fn default_rest_port() -> i32 {
    DEFAULT_REST_PORT
}

impl Default for RestApi {
    fn default() -> Self {
        RestApi {
            writes: false,
            port: DEFAULT_REST_PORT,
            network_policy: RestNetworkPolicy::default(),
        }
    }
}

/// Prometheus metrics of the workers.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Metrics {
    /// Whether the workers serve Prometheus metrics (connector, task and
    /// Kafka client metrics) at /metrics on the REST port, and the Pods carry
    /// the prometheus.io/scrape annotations. On by default: it costs next to
    /// nothing and needs no exporter configuration.
    #[serde(default = "default_true")]
    pub enabled: bool,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics { enabled: true }
    }
}

fn default_true() -> bool {
    true
}

/// Observed state of a ConnectCluster, written by the operator.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectClusterStatus {
    /// Current conditions. Ready is True when every desired worker Pod is
    /// Ready and every connector and task of the cluster is placed on a
    /// worker; its message says what is missing otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// The metadata.generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Number of worker Pods that exist (scale subresource).
    #[serde(default)]
    pub replicas: i32,
    /// Number of worker Pods that are Ready.
    #[serde(default)]
    pub ready_replicas: i32,
    /// Label selector of the worker Pods, in the string form kubectl's
    /// --selector takes (scale subresource; used by HorizontalPodAutoscaler).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<String>,
    /// Generation of the newest assignment of connectors and tasks to
    /// workers that the operator has written to the status topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment_generation: Option<i64>,
    /// The worker Pods and what each runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workers: Vec<WorkerStatus>,
}

/// One worker Pod of the cluster.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkerStatus {
    /// Name of the Pod.
    pub name: String,
    /// IP address of the Pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "podIP")]
    pub pod_ip: Option<String>,
    /// Whether the Pod is Ready.
    #[serde(default)]
    pub ready: bool,
    /// Number of connector instances assigned to this worker.
    #[serde(default)]
    pub connectors: i32,
    /// Number of tasks assigned to this worker.
    #[serde(default)]
    pub tasks: i32,
}

impl ConnectCluster {
    /// `<namespace>.<name>`: the default group.id and prefix of the default
    /// internal topic names. A namespace never contains a dot, so two
    /// clusters never get the same prefix.
    pub fn default_group_id(&self) -> String {
        format!(
            "{}.{}",
            self.namespace().unwrap_or_else(|| "default".to_owned()),
            self.name_any()
        )
    }

    /// The worker configuration: `spec.config` with `bootstrap.servers` from
    /// `spec.bootstrapServers` and the defaults for `group.id` and the
    /// internal topic names filled in where absent.
    pub fn worker_config(&self) -> BTreeMap<String, String> {
        let mut config = self.spec.config.clone();
        let group = self.default_group_id();
        for (key, value) in [
            (GROUP_ID, group.clone()),
            (CONFIG_STORAGE_TOPIC, format!("{group}.configs")),
            (OFFSET_STORAGE_TOPIC, format!("{group}.offsets")),
            (STATUS_STORAGE_TOPIC, format!("{group}.status")),
        ] {
            config.entry(key.to_owned()).or_insert(value);
        }
        config.insert(
            BOOTSTRAP_SERVERS.to_owned(),
            self.spec.bootstrap_servers.clone(),
        );
        config
    }
}
