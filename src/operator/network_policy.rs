//! The NetworkPolicy over a ConnectCluster's worker Pods, as Strimzi keeps
//! one for Kafka Connect: the REST port (the Connect REST API and
//! /metrics) admits only the cluster's own workers, the operator's Pods
//! (any namespace) and the peers in `spec.restApi.networkPolicy.from`; the
//! health port stays open to the kubelet's probes. Without it, anything in
//! the Kubernetes cluster could create connectors through an unauthenticated
//! API (`spec.restApi.writes`) or read every connector's config.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

use super::pods::{
    owner_references, selector_labels, service_name, worker_labels, API_COMPONENT, COMPONENT_LABEL,
    HEALTH_PORT,
};
use crate::api::ConnectCluster;

/// Whether the cluster gets its NetworkPolicy: its own setting, else the
/// operator's default.
pub fn wanted(cc: &ConnectCluster, operator_default: bool) -> bool {
    cc.spec
        .rest_api
        .network_policy
        .enabled
        .unwrap_or(operator_default)
}

/// The NetworkPolicy, named like the REST Service (`<cluster>-connect-api`)
/// and owned by the cluster.
pub fn rest_network_policy(
    cc: &ConnectCluster,
    operator_pod_labels: &BTreeMap<String, String>,
) -> NetworkPolicy {
    let mut labels = worker_labels(cc);
    labels.insert(COMPONENT_LABEL.to_owned(), API_COMPONENT.to_owned());
    let workers = LabelSelector {
        match_labels: Some(selector_labels(cc)),
        ..LabelSelector::default()
    };
    let mut from = vec![
        NetworkPolicyPeer {
            pod_selector: Some(workers.clone()),
            ..NetworkPolicyPeer::default()
        },
        NetworkPolicyPeer {
            // Any namespace: the operator usually runs in its own.
            namespace_selector: Some(LabelSelector::default()),
            pod_selector: Some(LabelSelector {
                match_labels: Some(operator_pod_labels.clone()),
                ..LabelSelector::default()
            }),
            ..NetworkPolicyPeer::default()
        },
    ];
    from.extend(cc.spec.rest_api.network_policy.from.iter().cloned());
    let port = |port: i32| {
        Some(vec![NetworkPolicyPort {
            port: Some(IntOrString::Int(port)),
            protocol: Some("TCP".to_owned()),
            ..NetworkPolicyPort::default()
        }])
    };
    NetworkPolicy {
        metadata: ObjectMeta {
            name: Some(service_name(&cc.name_any())),
            namespace: cc.namespace(),
            labels: Some(labels),
            owner_references: owner_references(cc),
            ..ObjectMeta::default()
        },
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(workers),
            policy_types: Some(vec!["Ingress".to_owned()]),
            ingress: Some(vec![
                NetworkPolicyIngressRule {
                    ports: port(cc.spec.rest_api.port),
                    from: Some(from),
                },
                // Probes come from the node; nothing but /health is there.
                NetworkPolicyIngressRule {
                    ports: port(HEALTH_PORT),
                    from: None,
                },
            ]),
            ..NetworkPolicySpec::default()
        }),
    }
}

/// `key=value,key=value` as a label map.
pub fn parse_labels(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut labels = BTreeMap::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("{pair:?} is not key=value"))?;
        if k.trim().is_empty() {
            return Err(format!("{pair:?} has no key"));
        }
        labels.insert(k.trim().to_owned(), v.trim().to_owned());
    }
    if labels.is_empty() {
        return Err("no labels: the operator's Pods would not be admitted".into());
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(rest_api: serde_json::Value) -> ConnectCluster {
        let mut cc: ConnectCluster = serde_json::from_value(serde_json::json!({
            "apiVersion": "kconnect.dev/v1alpha1",
            "kind": "ConnectCluster",
            "metadata": {"name": "main", "namespace": "team-a", "uid": "u-1"},
            "spec": {"bootstrapServers": "kafka:9092", "restApi": rest_api}
        }))
        .unwrap();
        cc.metadata.uid = Some("u-1".into());
        cc
    }

    #[test]
    fn the_rest_port_admits_workers_the_operator_and_listed_peers() {
        let cc = cluster(serde_json::json!({"port": 9083, "networkPolicy": {"from": [
            {"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}
        ]}}));
        let operator =
            parse_labels("app.kubernetes.io/name=kconnect, app.kubernetes.io/component=operator")
                .unwrap();
        let np = rest_network_policy(&cc, &operator);
        assert_eq!(np.metadata.name.as_deref(), Some("main-connect-api"));
        assert_eq!(np.metadata.namespace.as_deref(), Some("team-a"));
        assert!(np.metadata.owner_references.is_some());
        let spec = np.spec.unwrap();
        assert_eq!(
            spec.pod_selector.unwrap().match_labels,
            Some(selector_labels(&cc))
        );
        let rules = spec.ingress.unwrap();
        assert_eq!(
            rules[0].ports.as_ref().unwrap()[0].port,
            Some(IntOrString::Int(9083))
        );
        let from = rules[0].from.as_ref().unwrap();
        assert_eq!(from.len(), 3);
        assert_eq!(
            from[1].pod_selector.as_ref().unwrap().match_labels.as_ref(),
            Some(&operator)
        );
        assert_eq!(from[1].namespace_selector, Some(LabelSelector::default()));
        assert_eq!(
            rules[1].ports.as_ref().unwrap()[0].port,
            Some(IntOrString::Int(HEALTH_PORT))
        );
        assert_eq!(rules[1].from, None, "probes from anywhere");
    }

    #[test]
    fn on_by_default_unless_the_cluster_or_operator_says() {
        assert!(wanted(&cluster(serde_json::json!({})), true));
        assert!(!wanted(&cluster(serde_json::json!({})), false));
        let off = cluster(serde_json::json!({"networkPolicy": {"enabled": false}}));
        assert!(!wanted(&off, true));
        let on = cluster(serde_json::json!({"networkPolicy": {"enabled": true}}));
        assert!(wanted(&on, false));
    }

    #[test]
    fn label_lists() {
        assert_eq!(parse_labels("a=b,c=").unwrap().len(), 2);
        assert!(parse_labels("a").is_err());
        assert!(parse_labels(" , ").is_err());
        assert!(parse_labels("=b").is_err());
    }
}
