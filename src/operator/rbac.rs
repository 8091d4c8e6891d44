//! What the worker Pods may do in the Kubernetes API: nothing, unless the
//! ConnectCluster allows REST writes (`spec.restApi.writes`). Then the
//! workers apply REST changes to Connector resources, and the operator
//! binds their service account to a Role allowing exactly that: get,
//! create, update, patch and delete Connectors in the cluster's namespace.
//! When writes are turned off again, the Role and its binding go.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::{Client, ResourceExt};

use super::pods::{owner_references, worker_labels};
use super::MANAGER;
use crate::api::ConnectCluster;

/// Name of the service account, Role and RoleBinding the operator makes
/// for a cluster's workers: `<cluster>-worker`.
pub fn rbac_name(cluster: &str) -> String {
    format!("{cluster}-worker")
}

/// The service account the worker Pods run as: the one the Pod template
/// names (workload identity), else the operator's own when REST writes
/// need one, else none.
pub fn worker_service_account(cc: &ConnectCluster) -> Option<String> {
    let template = cc.spec.template.as_ref();
    match template.and_then(|t| t.service_account_name.clone()) {
        Some(named) => Some(named),
        None if cc.spec.rest_api.writes => Some(rbac_name(&cc.name_any())),
        None => None,
    }
}

fn meta(cc: &ConnectCluster) -> ObjectMeta {
    ObjectMeta {
        name: Some(rbac_name(&cc.name_any())),
        namespace: cc.namespace(),
        labels: Some(worker_labels(cc)),
        owner_references: owner_references(cc),
        ..ObjectMeta::default()
    }
}

/// The Role allowing the REST writes: Connectors only, no list or watch
/// (the workers read connectors from the config topic).
pub fn writes_role(cc: &ConnectCluster) -> Role {
    Role {
        metadata: meta(cc),
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec![crate::api::GROUP.to_owned()]),
            resources: Some(vec!["connectors".to_owned()]),
            verbs: ["get", "create", "update", "patch", "delete"]
                .map(str::to_owned)
                .to_vec(),
            ..PolicyRule::default()
        }]),
    }
}

/// Binds [`writes_role`] to the workers' service account.
pub fn writes_binding(cc: &ConnectCluster) -> RoleBinding {
    let name = rbac_name(&cc.name_any());
    RoleBinding {
        metadata: meta(cc),
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".to_owned()),
            kind: "Role".to_owned(),
            name,
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".to_owned(),
            name: worker_service_account(cc).unwrap_or_else(|| rbac_name(&cc.name_any())),
            namespace: cc.namespace(),
            ..Subject::default()
        }]),
    }
}

/// The operator's service account for the workers, when the template names
/// none.
pub fn service_account(cc: &ConnectCluster) -> ServiceAccount {
    ServiceAccount {
        metadata: meta(cc),
        ..ServiceAccount::default()
    }
}

/// Creates or updates (writes on) or removes (writes off) the workers'
/// service account, Role and RoleBinding.
pub async fn apply(cc: &ConnectCluster, client: &Client) -> Result<(), kube::Error> {
    let ns = cc.namespace().unwrap_or_default();
    let name = rbac_name(&cc.name_any());
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &ns);
    let roles: Api<Role> = Api::namespaced(client.clone(), &ns);
    let bindings: Api<RoleBinding> = Api::namespaced(client.clone(), &ns);
    let own_account = cc
        .spec
        .template
        .as_ref()
        .and_then(|t| t.service_account_name.as_ref())
        .is_none();
    let pp = PatchParams::apply(MANAGER).force();
    if cc.spec.rest_api.writes {
        if own_account {
            accounts
                .patch(&name, &pp, &Patch::Apply(&service_account(cc)))
                .await?;
        }
        roles
            .patch(&name, &pp, &Patch::Apply(&writes_role(cc)))
            .await?;
        bindings
            .patch(&name, &pp, &Patch::Apply(&writes_binding(cc)))
            .await?;
    } else {
        let cleaned = async {
            delete_if_ours(&bindings, &name).await?;
            delete_if_ours(&roles, &name).await?;
            delete_if_ours(&accounts, &name).await
        };
        match cleaned.await {
            // Installed without rbac.workerRestWrites: it cannot have made
            // any, so there is nothing to remove.
            Err(kube::Error::Api(s)) if s.code == 403 => {
                tracing::debug!(cluster = %cc.name_any(), "no access to the workers' RBAC objects; nothing to remove");
            }
            other => other?,
        }
    }
    Ok(())
}

/// Deletes `name` if it exists and the operator made it (its managed-by
/// label), so an object of the user's with the same name is left alone.
async fn delete_if_ours<K>(api: &Api<K>, name: &str) -> Result<(), kube::Error>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let Some(existing) = api.get_opt(name).await? else {
        return Ok(());
    };
    let labels: &BTreeMap<String, String> = existing.labels();
    if labels
        .get(super::pods::MANAGED_BY_LABEL)
        .map(String::as_str)
        != Some(MANAGER)
    {
        return Ok(());
    }
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ConnectClusterSpec;

    fn cluster(writes: bool, account: Option<&str>) -> ConnectCluster {
        let spec: ConnectClusterSpec = serde_json::from_value(serde_json::json!({
            "bootstrapServers": "kafka:9092",
            "restApi": {"writes": writes},
            "template": {"serviceAccountName": account},
        }))
        .expect("spec");
        let mut cc = ConnectCluster::new("main", spec);
        cc.metadata.namespace = Some("data".into());
        cc.metadata.uid = Some("uid-1".into());
        cc
    }

    #[test]
    fn workers_get_a_service_account_only_for_writes_or_when_named() {
        assert_eq!(worker_service_account(&cluster(false, None)), None);
        assert_eq!(
            worker_service_account(&cluster(true, None)).as_deref(),
            Some("main-worker")
        );
        assert_eq!(
            worker_service_account(&cluster(true, Some("iam"))).as_deref(),
            Some("iam")
        );
        assert_eq!(
            worker_service_account(&cluster(false, Some("iam"))).as_deref(),
            Some("iam")
        );
    }

    #[test]
    fn the_role_allows_changing_connectors_and_nothing_else() {
        let role = writes_role(&cluster(true, None));
        let rules = role.rules.expect("rules");
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].api_groups, Some(vec!["kconnect.dev".to_owned()]));
        assert_eq!(rules[0].resources, Some(vec!["connectors".to_owned()]));
        let verbs = rules[0].verbs.clone();
        assert!(!verbs
            .iter()
            .any(|v| v == "list" || v == "watch" || v == "*"));
        let binding = writes_binding(&cluster(true, Some("iam")));
        let subject = &binding.subjects.expect("subjects")[0];
        assert_eq!(
            (subject.name.as_str(), subject.namespace.as_deref()),
            ("iam", Some("data"))
        );
        assert_eq!(binding.role_ref.name, "main-worker");
    }
}
