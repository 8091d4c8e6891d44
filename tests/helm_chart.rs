//! The Helm chart in `charts/kconnect`: rendered by the real helm
//! (`tests/env/helm.sh`, built from the Go module proxy), every rendered
//! object applied to the real test kube-apiserver with server-side apply,
//! and the operator's ServiceAccount checked with `kubectl auth can-i`
//! against what the operator does (and does not) need.

mod support;

use serde_json::json;
use serde_yaml::Value;
use support::k8s;
use support::operator::{apply_server_side, can_i, documents, find, render, try_render};

/// (kind, name, namespace) of every rendered object, sorted.
fn inventory(docs: &[Value]) -> Vec<(String, String, String)> {
    let mut out: Vec<_> = docs
        .iter()
        .map(|d| {
            let s = |v: &Value| v.as_str().unwrap_or("").to_owned();
            (
                s(&d["kind"]),
                s(&d["metadata"]["name"]),
                s(&d["metadata"]["namespace"]),
            )
        })
        .collect();
    out.sort();
    out
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .map(|s| {
            s.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn chart_yaml() -> Value {
    let path = support::operator::chart_dir().join("Chart.yaml");
    serde_yaml::from_str(&std::fs::read_to_string(path).expect("Chart.yaml")).expect("Chart.yaml")
}

/// The operator container of the rendered Deployment.
fn operator_container(docs: &[Value], fullname: &str) -> Value {
    let d = find(docs, "Deployment", fullname);
    d["spec"]["template"]["spec"]["containers"][0].clone()
}

/// A unique release name (also the prefix of cluster-scoped objects).
fn release(prefix: &str) -> String {
    support::unique(prefix).to_lowercase()
}

/// Deletes cluster-scoped objects a test applied, so runs leave none behind.
fn delete_cluster_scoped(docs: &[Value]) {
    for (kind, name, _) in inventory(docs) {
        if kind == "ClusterRole" || kind == "ClusterRoleBinding" {
            let _ = k8s::kubectl(&["delete", &kind.to_lowercase(), &name, "--ignore-not-found"]);
        }
    }
}

#[test]
fn chart_tracks_the_crate_and_lints_clean() {
    let chart = chart_yaml();
    assert_eq!(
        chart["appVersion"].as_str(),
        Some(env!("CARGO_PKG_VERSION")),
        "charts/kconnect/Chart.yaml appVersion is the crate version"
    );
    assert_eq!(chart["name"].as_str(), Some("kconnect"));
    assert_eq!(chart["apiVersion"].as_str(), Some("v2"));
    let chart_dir = support::operator::chart_dir();
    let chart_dir = chart_dir.to_str().expect("UTF-8 path");
    for set in [
        &[][..],
        &["--set-json", r#"watchNamespaces=["a","b"]"#][..],
        &["--set", "metrics.serviceMonitor.enabled=true"][..],
    ] {
        let mut args = vec!["lint", "--strict", chart_dir];
        args.extend_from_slice(set);
        let out = support::operator::helm(&args);
        assert!(
            out.status.success(),
            "helm lint --strict {set:?}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let version = support::operator::helm(&["version", "--short"]);
    println!(
        "helm {}",
        String::from_utf8_lossy(&version.stdout).trim_end()
    );
}

/// Default values: cluster-wide RBAC, every object accepted by the
/// apiserver, and the ServiceAccount can do what the operator does in any
/// namespace, and no more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_values_apply_and_grant_what_the_operator_needs() {
    let client = k8s::client().await;
    let ns = k8s::namespace(&client, "chart").await;
    let other = k8s::namespace(&client, "chart-other").await;
    let rel = release("kc");
    let full = format!("{rel}-kconnect");
    let yaml = render(&rel, &ns, &json!({}), &["--include-crds"]);
    let docs = documents(&yaml);
    let crd = |n: &str| ("CustomResourceDefinition".into(), n.into(), String::new());
    let obj = |k: &str, n: &str, s: &str| (k.to_owned(), n.to_owned(), s.to_owned());
    let leader = format!("{full}-leader-election");
    let mut expected = vec![
        crd("connectclusters.kconnect.dev"),
        crd("connectors.kconnect.dev"),
        obj("ClusterRole", &full, ""),
        obj("ClusterRoleBinding", &full, ""),
        obj("Deployment", &full, &ns),
        obj("Role", &leader, &ns),
        obj("RoleBinding", &leader, &ns),
        obj("Service", &format!("{full}-metrics"), &ns),
        obj("ServiceAccount", &full, &ns),
    ];
    expected.sort();
    assert_eq!(inventory(&docs), expected, "objects rendered by default");

    // The CRDs in the chart are the generated ones.
    for want in kconnect::api::crds() {
        let name = want.metadata.name.clone().expect("CRD name");
        let got = find(&docs, "CustomResourceDefinition", &name);
        assert_eq!(
            serde_json::to_value(got).expect("JSON"),
            serde_json::to_value(&want).expect("JSON"),
            "the chart's {name} is the generated CRD"
        );
    }

    // The Deployment.
    let dep = find(&docs, "Deployment", &full);
    assert_eq!(dep["spec"]["replicas"].as_i64(), Some(1));
    let pod = &dep["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"].as_str(), Some(full.as_str()));
    assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
    let c = operator_container(&docs, &full);
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        c["image"].as_str(),
        Some(format!("ghcr.io/kconnect/kconnect:{version}").as_str()),
        "the image tag defaults to the appVersion"
    );
    assert_eq!(strings(&c["command"]), ["kconnect", "operator"]);
    let args = strings(&c["args"]);
    assert!(
        !args.iter().any(|a| a.starts_with("--namespace")),
        "all namespaces by default: {args:?}"
    );
    assert!(args.contains(&format!("--lease-name={full}")), "{args:?}");
    assert!(
        args.contains(&"--network-policies=true".to_owned()),
        "{args:?}"
    );
    // The NetworkPolicies admit exactly the operator's own Pods.
    let labels = args
        .iter()
        .find_map(|a| a.strip_prefix("--operator-pod-labels="))
        .expect("--operator-pod-labels");
    let labels = kconnect::operator::network_policy::parse_labels(labels).expect("label list");
    let pod_labels = &dep["spec"]["template"]["metadata"]["labels"];
    for (k, v) in &labels {
        assert_eq!(
            pod_labels[k.as_str()].as_str(),
            Some(v.as_str()),
            "{k} on the operator Pod"
        );
    }
    assert!(
        args.contains(&format!(
            "--worker-image=ghcr.io/kconnect/kconnect:{version}"
        )),
        "{args:?}"
    );
    let env = |name: &str| {
        c["env"]
            .as_sequence()
            .expect("env")
            .iter()
            .find(|e| e["name"].as_str() == Some(name))
            .cloned()
            .unwrap_or_else(|| panic!("{name} in the operator's env"))
    };
    assert_eq!(
        env("KCONNECT_OPERATOR_METRICS_LISTEN")["value"].as_str(),
        Some("0.0.0.0:8080"),
        "the operator serves /metrics on the metrics port"
    );
    for (var, field) in [
        ("POD_NAME", "metadata.name"),
        ("POD_NAMESPACE", "metadata.namespace"),
    ] {
        let e = env(var);
        assert_eq!(
            e["valueFrom"]["fieldRef"]["fieldPath"].as_str(),
            Some(field),
            "{var} from the downward API"
        );
    }
    let sc = &c["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"].as_bool(), Some(true));
    assert_eq!(sc["allowPrivilegeEscalation"].as_bool(), Some(false));
    assert_eq!(strings(&sc["capabilities"]["drop"]), ["ALL"]);
    assert_eq!(c["ports"][0]["containerPort"].as_i64(), Some(8080));
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(c[probe]["httpGet"]["path"].as_str(), Some("/metrics"));
        assert_eq!(c[probe]["httpGet"]["port"].as_str(), Some("metrics"));
    }
    let svc = find(&docs, "Service", &format!("{full}-metrics"));
    assert_eq!(
        svc["spec"]["ports"][0]["targetPort"].as_str(),
        Some("metrics")
    );
    assert_eq!(
        svc["spec"]["selector"], dep["spec"]["selector"]["matchLabels"],
        "the metrics Service selects the operator Pods"
    );

    // Every object accepted by the real apiserver, for real.
    let applied = apply_server_side(&yaml, &[]).unwrap_or_else(|e| {
        delete_cluster_scoped(&docs);
        panic!("the apiserver rejects the chart's objects: {e}")
    });
    println!("{applied}");
    assert_eq!(
        applied.matches("serverside-applied").count(),
        docs.len(),
        "every rendered object applied: {applied}"
    );

    // What the operator does, in any namespace (cluster-wide rules).
    let sa = full.as_str();
    let mut denied = Vec::new();
    let mut check = |want: bool, verb: &str, resource: &str, flags: &[&str]| {
        if can_i(&ns, sa, verb, resource, flags) != want {
            denied.push(format!(
                "{} {verb} {resource} {flags:?}",
                if want { "cannot" } else { "CAN" }
            ));
        }
    };
    for scope in [&["-A"][..], &["-n", &other][..], &["-n", &ns][..]] {
        for r in ["connectclusters.kconnect.dev", "connectors.kconnect.dev"] {
            for verb in ["get", "list", "watch", "patch", "update"] {
                check(true, verb, r, scope);
            }
        }
        // REST writes (rbac.workerRestWrites): Connectors are created and
        // deleted by the workers' Role, which the operator must hold to grant.
        check(true, "create", "connectors.kconnect.dev", scope);
        check(true, "delete", "connectors.kconnect.dev", scope);
        check(false, "delete", "connectclusters.kconnect.dev", scope);
        check(false, "create", "connectclusters.kconnect.dev", scope);
        for verb in ["list", "watch"] {
            check(true, verb, "pods", scope);
        }
    }
    for r in ["connectclusters.kconnect.dev", "connectors.kconnect.dev"] {
        for verb in ["get", "patch", "update"] {
            check(true, verb, r, &["-n", &other, "--subresource=status"]);
        }
        check(
            true,
            "update",
            r,
            &["-n", &other, "--subresource=finalizers"],
        );
    }
    for verb in ["get", "create", "delete"] {
        check(true, verb, "pods", &["-n", &other]);
    }
    for verb in ["get", "list", "watch", "create", "patch"] {
        check(true, verb, "services", &["-n", &other]);
    }
    for verb in ["get", "create", "patch", "delete"] {
        check(
            true,
            verb,
            "networkpolicies.networking.k8s.io",
            &["-n", &other],
        );
    }
    check(
        false,
        "list",
        "networkpolicies.networking.k8s.io",
        &["-n", &other],
    );
    for verb in ["create", "patch"] {
        check(true, verb, "events.events.k8s.io", &["-n", &other]);
    }
    // Leader election: its own Lease in its own namespace only.
    let lease = format!("leases.coordination.k8s.io/{full}");
    check(true, "create", "leases.coordination.k8s.io", &["-n", &ns]);
    check(true, "get", &lease, &["-n", &ns]);
    check(true, "update", &lease, &["-n", &ns]);
    check(
        false,
        "update",
        "leases.coordination.k8s.io/someone-else",
        &["-n", &ns],
    );
    check(false, "get", &lease, &["-n", &other]);
    check(
        false,
        "create",
        "leases.coordination.k8s.io",
        &["-n", &other],
    );
    check(false, "list", "leases.coordination.k8s.io", &["-n", &ns]);
    // Secrets only by name (spec.tls and spec.authentication), never
    // listed or watched.
    check(true, "get", "secrets", &["-n", &other]);
    // Nothing it does not need: no Secret lists, ConfigMaps, exec, Pod
    // patches, deleting Services, RBAC or CRDs.
    for scope in [&["-A"][..], &["-n", &other][..], &["-n", &ns][..]] {
        for verb in ["list", "watch"] {
            check(false, verb, "secrets", scope);
        }
        for verb in ["get", "list", "watch"] {
            check(false, verb, "configmaps", scope);
        }
    }
    check(
        false,
        "create",
        "pods",
        &["-n", &other, "--subresource=exec"],
    );
    check(false, "patch", "pods", &["-n", &other]);
    check(
        false,
        "create",
        "pods",
        &["-n", &other, "--subresource=binding"],
    );
    check(false, "delete", "services", &["-n", &other]);
    for r in [
        "serviceaccounts",
        "roles.rbac.authorization.k8s.io",
        "rolebindings.rbac.authorization.k8s.io",
    ] {
        for verb in ["get", "create", "patch", "delete"] {
            check(true, verb, r, &["-n", &other]);
        }
        check(false, "list", r, &["-n", &other]);
    }
    for r in [
        "clusterroles.rbac.authorization.k8s.io",
        "clusterrolebindings.rbac.authorization.k8s.io",
    ] {
        check(false, "create", r, &[]);
    }
    check(
        false,
        "create",
        "customresourcedefinitions.apiextensions.k8s.io",
        &[],
    );
    check(false, "create", "events", &["-n", &other]); // core/v1 Events: the operator writes events.k8s.io
    delete_cluster_scoped(&docs);
    assert!(
        denied.is_empty(),
        "ServiceAccount {ns}/{sa}, cluster-wide chart:\n{}",
        denied.join("\n")
    );
}

/// watchNamespaces: a Role and RoleBinding per watched namespace and no
/// cluster-wide rights; two replicas.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_namespaces_grant_only_those_namespaces() {
    let client = k8s::client().await;
    let ns = k8s::namespace(&client, "chart-op").await;
    let a = k8s::namespace(&client, "chart-a").await;
    let b = k8s::namespace(&client, "chart-b").await;
    let unwatched = k8s::namespace(&client, "chart-c").await;
    let rel = release("kcns");
    let full = format!("{rel}-kconnect");
    let values = json!({
        "watchNamespaces": [a, b],
        "replicaCount": 2,
        "metrics": {"serviceMonitor": {"enabled": false}},
        "rbac": {"workerRestWrites": false},
    });
    let yaml = render(&rel, &ns, &values, &[]);
    let docs = documents(&yaml);
    let leader = format!("{full}-leader-election");
    let obj = |k: &str, n: &str, s: &str| (k.to_owned(), n.to_owned(), s.to_owned());
    let mut expected = vec![
        obj("Deployment", &full, &ns),
        obj("Role", &full, &a),
        obj("Role", &full, &b),
        obj("Role", &leader, &ns),
        obj("RoleBinding", &full, &a),
        obj("RoleBinding", &full, &b),
        obj("RoleBinding", &leader, &ns),
        obj("Service", &format!("{full}-metrics"), &ns),
        obj("ServiceAccount", &full, &ns),
    ];
    expected.sort();
    assert_eq!(
        inventory(&docs),
        expected,
        "objects rendered with watchNamespaces (no ClusterRole, no ServiceMonitor)"
    );
    let dep = find(&docs, "Deployment", &full);
    assert_eq!(dep["spec"]["replicas"].as_i64(), Some(2));
    let args = strings(&operator_container(&docs, &full)["args"]);
    let watched: Vec<&String> = args
        .iter()
        .filter(|a| a.starts_with("--namespace"))
        .collect();
    assert_eq!(
        watched,
        [&format!("--namespace={a}"), &format!("--namespace={b}")],
        "one --namespace per watched namespace"
    );
    for watched in [&a, &b] {
        let binding = find(&docs, "RoleBinding", &full);
        let binding = if binding["metadata"]["namespace"].as_str() == Some(watched) {
            binding
        } else {
            docs.iter()
                .find(|d| {
                    d["kind"].as_str() == Some("RoleBinding")
                        && d["metadata"]["namespace"].as_str() == Some(watched)
                })
                .expect("a RoleBinding in each watched namespace")
        };
        assert_eq!(binding["roleRef"]["kind"].as_str(), Some("Role"));
        assert_eq!(
            binding["subjects"][0]["namespace"].as_str(),
            Some(ns.as_str()),
            "binds the ServiceAccount of the release namespace"
        );
    }

    // Accepted by the apiserver: first as a dry run, then for real.
    apply_server_side(&yaml, &["--dry-run=server"])
        .unwrap_or_else(|e| panic!("the apiserver rejects the chart's objects (dry run): {e}"));
    let applied = apply_server_side(&yaml, &[])
        .unwrap_or_else(|e| panic!("the apiserver rejects the chart's objects: {e}"));
    assert_eq!(
        applied.matches("serverside-applied").count(),
        docs.len(),
        "{applied}"
    );

    let sa = full.as_str();
    let mut denied = Vec::new();
    let mut check = |want: bool, verb: &str, resource: &str, flags: &[&str]| {
        if can_i(&ns, sa, verb, resource, flags) != want {
            denied.push(format!(
                "{} {verb} {resource} {flags:?}",
                if want { "cannot" } else { "CAN" }
            ));
        }
    };
    for (watched, scope) in [(true, &a), (true, &b), (false, &unwatched), (false, &ns)] {
        let flags = ["-n", scope.as_str()];
        for r in ["connectclusters.kconnect.dev", "connectors.kconnect.dev"] {
            for verb in ["get", "list", "watch", "patch", "update"] {
                check(watched, verb, r, &flags);
            }
            check(watched, "patch", r, &["-n", scope, "--subresource=status"]);
        }
        for verb in ["get", "list", "watch", "create", "delete"] {
            check(watched, verb, "pods", &flags);
        }
        for verb in ["create", "patch"] {
            check(watched, verb, "services", &flags);
            check(watched, verb, "events.events.k8s.io", &flags);
        }
        check(watched, "get", "secrets", &flags);
        check(
            watched,
            "patch",
            "networkpolicies.networking.k8s.io",
            &flags,
        );
        check(false, "list", "secrets", &flags);
        // rbac.workerRestWrites=false: nothing to grant workers with.
        check(false, "create", "connectors.kconnect.dev", &flags);
        check(false, "create", "roles.rbac.authorization.k8s.io", &flags);
        check(false, "create", "serviceaccounts", &flags);
    }
    for r in ["connectors.kconnect.dev", "pods", "secrets"] {
        check(false, "list", r, &["-A"]);
    }
    check(
        true,
        "update",
        &format!("leases.coordination.k8s.io/{full}"),
        &["-n", &ns],
    );
    check(
        false,
        "update",
        &format!("leases.coordination.k8s.io/{full}"),
        &["-n", &a],
    );
    assert!(
        denied.is_empty(),
        "ServiceAccount {ns}/{sa}, watchNamespaces [{a}, {b}]:\n{}",
        denied.join("\n")
    );
}

/// The optional ServiceMonitor: off by default, rendered when enabled,
/// scraping the metrics Service. Rendered only: the test apiserver has no
/// Prometheus Operator CRDs to accept it.
#[test]
fn service_monitor_renders_when_enabled() {
    let rel = "kcmon";
    let full = format!("{rel}-kconnect");
    let off = documents(&render(rel, "mon", &json!({}), &[]));
    assert!(
        !off.iter()
            .any(|d| d["kind"].as_str() == Some("ServiceMonitor")),
        "no ServiceMonitor by default"
    );
    let values = json!({"metrics": {"serviceMonitor": {
        "enabled": true, "interval": "15s", "labels": {"release": "prom"}}}});
    let on = documents(&render(rel, "mon", &values, &[]));
    let sm = find(&on, "ServiceMonitor", &full);
    assert_eq!(sm["apiVersion"].as_str(), Some("monitoring.coreos.com/v1"));
    assert_eq!(sm["metadata"]["namespace"].as_str(), Some("mon"));
    assert_eq!(sm["metadata"]["labels"]["release"].as_str(), Some("prom"));
    let endpoint = &sm["spec"]["endpoints"][0];
    assert_eq!(endpoint["port"].as_str(), Some("metrics"));
    assert_eq!(endpoint["path"].as_str(), Some("/metrics"));
    assert_eq!(endpoint["interval"].as_str(), Some("15s"));
    let svc = find(&on, "Service", &format!("{full}-metrics"));
    let selector = sm["spec"]["selector"]["matchLabels"]
        .as_mapping()
        .expect("matchLabels");
    for (k, v) in selector {
        assert_eq!(
            &svc["metadata"]["labels"][k.as_str().expect("label")],
            v,
            "the ServiceMonitor selects the metrics Service by {k:?}"
        );
    }
    assert_eq!(
        strings(&sm["spec"]["namespaceSelector"]["matchNames"]),
        ["mon"]
    );

    // Without the metrics Service there is nothing to scrape: a clear error.
    let err = try_render(
        rel,
        "mon",
        &json!({"metrics": {"enabled": false, "serviceMonitor": {"enabled": true}}}),
        &[],
    )
    .expect_err("a ServiceMonitor without the metrics Service is refused");
    assert!(
        err.contains("metrics.serviceMonitor.enabled needs metrics.enabled"),
        "{err}"
    );
}

/// Bad watchNamespaces fail at render time, naming the value.
#[test]
fn invalid_watch_namespaces_are_refused() {
    for (list, message) in [
        (json!(["Bad_Name"]), "\"Bad_Name\" is not a namespace name"),
        (json!(["a", "a"]), "\"a\" is listed twice"),
    ] {
        let err = try_render("kcbad", "op", &json!({"watchNamespaces": list}), &[])
            .expect_err("an invalid watchNamespaces is refused");
        assert!(err.contains(message), "{list}: {err}");
    }
}
