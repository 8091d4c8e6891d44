use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::{json, Value};

use super::condition::{self, READY};
use super::*;
use crate::storage::config_topic::TargetState;

fn schema_of(crd: &CustomResourceDefinition) -> Value {
    serde_json::to_value(
        crd.spec.versions[0]
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .expect("a schema"),
    )
    .unwrap()
}

fn prop<'a>(schema: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(schema, |s, p| {
        let next = &s["properties"][p];
        assert!(!next.is_null(), "no property {p} on the way to {path}");
        next
    })
}

#[test]
fn minimal_connect_cluster_gets_defaults() {
    let cc: ConnectCluster = serde_yaml::from_str(
        "apiVersion: kconnect.dev/v1alpha1\n\
         kind: ConnectCluster\n\
         metadata: {name: main, namespace: prod}\n\
         spec: {bootstrapServers: 'kafka:9092'}\n",
    )
    .unwrap();
    let spec = &cc.spec;
    assert_eq!(spec.replicas, 1);
    assert_eq!(spec.bootstrap_servers, "kafka:9092");
    assert_eq!(spec.image, None);
    assert!(spec.config.is_empty() && spec.env.is_empty() && spec.secrets.is_empty());
    assert_eq!(spec.resources, None);
    assert_eq!(spec.template, None);
    assert_eq!(
        spec.rest_api,
        RestApi {
            writes: false,
            port: 8083,
            network_policy: Default::default(),
        }
    );
    assert!(spec.metrics.enabled);
    assert_eq!(cc.status, None);

    let config = cc.worker_config();
    assert_eq!(config["bootstrap.servers"], "kafka:9092");
    assert_eq!(config["group.id"], "prod.main");
    assert_eq!(config["config.storage.topic"], "prod.main.configs");
    assert_eq!(config["offset.storage.topic"], "prod.main.offsets");
    assert_eq!(config["status.storage.topic"], "prod.main.status");
}

#[test]
fn worker_config_keeps_what_the_user_set() {
    let mut cc = ConnectCluster::new(
        "main",
        serde_json::from_value(json!({
            "bootstrapServers": "k:9092",
            "config": {"group.id": "legacy", "key.converter": "org.apache.kafka.connect.json.JsonConverter"}
        }))
        .unwrap(),
    );
    cc.metadata.namespace = Some("ns".into());
    let config = cc.worker_config();
    assert_eq!(config["group.id"], "legacy");
    assert_eq!(config["offset.storage.topic"], "ns.main.offsets");
    assert_eq!(
        config["key.converter"],
        "org.apache.kafka.connect.json.JsonConverter"
    );
}

#[test]
fn full_connect_cluster_round_trips() {
    let value = json!({
        "apiVersion": "kconnect.dev/v1alpha1",
        "kind": "ConnectCluster",
        "metadata": {"name": "main"},
        "spec": {
            "replicas": 3,
            "bootstrapServers": "kafka:9092",
            "image": "kconnect:dev",
            "config": {"key.converter": "org.apache.kafka.connect.storage.StringConverter"},
            "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}},
            "env": [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}],
            "secrets": [{"secretName": "kafka-tls"}, {"secretName": "db", "mountPath": "/db"}],
            "template": {
                "labels": {"team": "data"},
                "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "connect", "effect": "NoSchedule"}],
                "nodeSelector": {"pool": "connect"},
                "serviceAccountName": "connect",
                "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                    "weight": 100,
                    "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                        "labelSelector": {"matchLabels": {"kconnect.dev/cluster": "main"}}}
                }]}}
            },
            "restApi": {"writes": true, "port": 8083},
            "metrics": {"enabled": false}
        },
        "status": {
            "conditions": [{"type": "Ready", "status": "True", "reason": "AllWorkersReady",
                "message": "", "lastTransitionTime": "2026-11-25T10:00:00Z", "observedGeneration": 2}],
            "observedGeneration": 2,
            "replicas": 3, "readyReplicas": 3,
            "labelSelector": "kconnect.dev/cluster=main",
            "workers": [{"name": "main-worker-0", "podIP": "10.0.0.5", "ready": true, "tasks": 2, "connectors": 1}]
        }
    });
    let cc: ConnectCluster = serde_json::from_value(value.clone()).unwrap();
    assert_eq!(
        cc.spec.secrets[0].effective_mount_path(),
        "/etc/kconnect/secrets/kafka-tls"
    );
    assert_eq!(cc.spec.secrets[1].effective_mount_path(), "/db");
    let status = cc.status.as_ref().unwrap();
    assert_eq!(status.workers[0].pod_ip.as_deref(), Some("10.0.0.5"));
    assert!(condition::find(&status.conditions, READY)
        .unwrap()
        .is_true());
    assert_eq!(serde_json::to_value(&cc).unwrap(), value);
}

#[test]
fn minimal_connector_gets_defaults() {
    let c: Connector = serde_yaml::from_str(
        "apiVersion: kconnect.dev/v1alpha1\n\
         kind: Connector\n\
         metadata: {name: sink, labels: {kconnect.dev/cluster: main}}\n\
         spec: {class: FileStreamSink}\n",
    )
    .unwrap();
    assert_eq!(c.spec.class, "FileStreamSink");
    assert_eq!(c.spec.tasks_max, 1);
    assert_eq!(c.spec.state, ConnectorState::Running);
    assert!(c.spec.config.is_empty());
    assert_eq!(
        c.spec.auto_restart,
        AutoRestart {
            enabled: true,
            max_restarts: None
        }
    );
    assert_eq!(c.cluster_name(), Some("main"));
}

#[test]
fn class_is_required() {
    let err = serde_json::from_value::<ConnectorSpec>(json!({"tasksMax": 2})).unwrap_err();
    assert!(err.to_string().contains("class"), "{err}");
    let err = serde_json::from_value::<ConnectClusterSpec>(json!({})).unwrap_err();
    assert!(err.to_string().contains("bootstrapServers"), "{err}");
}

#[test]
fn state_parses_lowercase_only() {
    for (text, state, target) in [
        ("running", ConnectorState::Running, TargetState::Started),
        ("paused", ConnectorState::Paused, TargetState::Paused),
        ("stopped", ConnectorState::Stopped, TargetState::Stopped),
    ] {
        let parsed: ConnectorState = serde_json::from_value(json!(text)).unwrap();
        assert_eq!(parsed, state);
        assert_eq!(parsed.target_state(), target);
        assert_eq!(parsed.to_string(), text);
        assert_eq!(serde_json::to_value(parsed).unwrap(), json!(text));
    }
    for bad in ["Running", "RUNNING", "bogus", ""] {
        assert!(
            serde_json::from_value::<ConnectorState>(json!(bad)).is_err(),
            "{bad}"
        );
    }
    let s: ConnectState = serde_json::from_value(json!("FAILED")).unwrap();
    assert_eq!(s, ConnectState::Failed);
}

#[test]
fn cluster_label_helper() {
    let mut c = Connector::new(
        "c",
        serde_json::from_value(json!({"class": "FileStreamSink"})).unwrap(),
    );
    assert_eq!(c.cluster_name(), None);
    c.metadata.labels = Some(BTreeMap::from([(CLUSTER_LABEL.to_owned(), String::new())]));
    assert_eq!(c.cluster_name(), None, "an empty label names no cluster");
    c.metadata.labels = Some(BTreeMap::from([
        ("app".to_owned(), "x".to_owned()),
        (CLUSTER_LABEL.to_owned(), "main".to_owned()),
    ]));
    assert_eq!(cluster_name(&c.metadata), Some("main"));
    assert_eq!(CLUSTER_LABEL, "kconnect.dev/cluster");
}

#[test]
fn set_condition_keeps_transition_time_while_status_holds() {
    let t0 = Time("2026-01-01T00:00:00Z".parse().unwrap());
    let t1 = Time("2026-01-01T00:05:00Z".parse().unwrap());
    let at = |status: bool, reason: &str, t: &Time| Condition {
        last_transition_time: t.clone(),
        ..Condition::new(READY, status, reason, "", Some(1))
    };
    let mut conditions = Vec::new();
    assert!(condition::set(&mut conditions, at(false, "Starting", &t0)));
    assert!(condition::set(
        &mut conditions,
        at(false, "TaskFailed", &t1)
    ));
    assert_eq!(conditions.len(), 1);
    assert_eq!(conditions[0].reason, "TaskFailed");
    assert_eq!(conditions[0].last_transition_time, t0);
    assert!(!condition::set(
        &mut conditions,
        at(false, "TaskFailed", &t1)
    ));
    assert!(condition::set(&mut conditions, at(true, "Running", &t1)));
    assert_eq!(conditions[0].last_transition_time, t1);
    assert!(condition::find(&conditions, READY).unwrap().is_true());
}

#[test]
fn crd_names_scope_and_subresources() {
    let cc = ConnectCluster::crd();
    assert_eq!(
        cc.metadata.name.as_deref(),
        Some("connectclusters.kconnect.dev")
    );
    assert_eq!(cc.spec.group, GROUP);
    assert_eq!(cc.spec.scope, "Namespaced");
    assert_eq!(cc.spec.names.kind, "ConnectCluster");
    assert_eq!(cc.spec.names.short_names, Some(vec!["kcc".to_owned()]));
    assert_eq!(cc.spec.names.categories, Some(vec!["kconnect".to_owned()]));
    let v = &cc.spec.versions[0];
    assert_eq!(v.name, VERSION);
    let sub = v.subresources.as_ref().unwrap();
    assert!(sub.status.is_some());
    let scale = sub.scale.as_ref().unwrap();
    assert_eq!(scale.spec_replicas_path, ".spec.replicas");
    assert_eq!(scale.status_replicas_path, ".status.replicas");
    assert_eq!(
        scale.label_selector_path.as_deref(),
        Some(".status.labelSelector")
    );

    let c = Connector::crd();
    assert_eq!(c.metadata.name.as_deref(), Some("connectors.kconnect.dev"));
    assert_eq!(c.spec.scope, "Namespaced");
    assert_eq!(c.spec.names.short_names, Some(vec!["kcn".to_owned()]));
    assert_eq!(c.spec.names.categories, Some(vec!["kconnect".to_owned()]));
    let sub = c.spec.versions[0].subresources.as_ref().unwrap();
    assert!(sub.status.is_some() && sub.scale.is_none());
    let columns: Vec<(String, String)> = c.spec.versions[0]
        .additional_printer_columns
        .iter()
        .flatten()
        .map(|p| (p.name.clone(), p.json_path.clone()))
        .collect();
    assert!(columns.contains(&(
        "Cluster".into(),
        r".metadata.labels.kconnect\.dev/cluster".into()
    )));
    assert!(columns.contains(&("Tasks Running".into(), ".status.tasksRunning".into())));
    assert!(columns.contains(&("Max Tasks".into(), ".spec.tasksMax".into())));
}

#[test]
fn schema_carries_validation_and_defaults() {
    let cc = schema_of(&ConnectCluster::crd());
    let replicas = prop(&cc, "spec.replicas");
    assert_eq!(replicas["minimum"], json!(0.0));
    assert_eq!(replicas["default"], json!(1));
    assert_eq!(prop(&cc, "spec")["required"], json!(["bootstrapServers"]));
    assert_eq!(prop(&cc, "spec.bootstrapServers")["minLength"], json!(1));
    assert_eq!(
        prop(&cc, "spec.config")["additionalProperties"],
        json!({"type": "string"})
    );
    assert_eq!(prop(&cc, "spec.restApi.writes")["default"], json!(false));
    assert_eq!(prop(&cc, "spec.restApi.port")["maximum"], json!(65535.0));
    assert_eq!(prop(&cc, "spec.metrics.enabled")["default"], json!(true));
    let quantity = &prop(&cc, "spec.resources.limits")["additionalProperties"];
    assert_eq!(quantity["x-kubernetes-int-or-string"], json!(true));
    assert_eq!(
        prop(&cc, "status.conditions")["x-kubernetes-list-map-keys"],
        json!(["type"])
    );
    assert_eq!(
        prop(&cc, "status.conditions")["items"]["properties"]["status"]["enum"],
        json!(["True", "False", "Unknown"])
    );

    let c = schema_of(&Connector::crd());
    let tasks_max = prop(&c, "spec.tasksMax");
    assert_eq!(tasks_max["minimum"], json!(1.0));
    assert_eq!(tasks_max["default"], json!(1));
    let state = prop(&c, "spec.state");
    assert_eq!(state["enum"], json!(["running", "paused", "stopped"]));
    assert_eq!(state["default"], json!("running"));
    assert_eq!(prop(&c, "spec")["required"], json!(["class"]));
    assert_eq!(prop(&c, "spec.autoRestart.enabled")["default"], json!(true));
    assert_eq!(
        prop(&c, "spec.autoRestart.maxRestarts")["minimum"],
        json!(0.0)
    );
    let rule = &prop(&c, "spec.config")["x-kubernetes-validations"][0]["rule"];
    assert!(rule.as_str().unwrap().contains("'connector.class' in self"));
    assert_eq!(
        prop(&c, "status.tasks")["items"]["properties"]["state"]["enum"],
        json!([
            "UNASSIGNED",
            "RUNNING",
            "PAUSED",
            "STOPPED",
            "FAILED",
            "RESTARTING",
            "DESTROYED"
        ])
    );
    let explain = prop(&c, "spec.tasksMax")["description"].as_str().unwrap();
    assert!(explain.contains("Most tasks"), "{explain}");
}

/// Kubernetes' structural schema rules, as far as a CRD generator can break
/// them: every node has a type (or is int-or-string / preserves unknown
/// fields), no $ref, no properties next to additionalProperties, and
/// anyOf/oneOf/allOf/not carry no types, descriptions or defaults.
fn assert_structural(schema: &Value, path: &str) {
    let obj = schema
        .as_object()
        .unwrap_or_else(|| panic!("{path}: not an object"));
    assert!(!obj.contains_key("$ref"), "{path}: $ref");
    let special = obj.contains_key("x-kubernetes-int-or-string")
        || obj.contains_key("x-kubernetes-preserve-unknown-fields");
    if path.contains("/anyOf") || path.contains("/oneOf") || path.contains("/allOf") {
        for key in [
            "type",
            "description",
            "default",
            "nullable",
            "additionalProperties",
        ] {
            assert!(
                !obj.contains_key(key),
                "{path}: {key} inside a logical junctor"
            );
        }
    } else {
        assert!(obj.contains_key("type") || special, "{path}: no type");
    }
    assert!(
        !(obj.contains_key("properties") && obj.contains_key("additionalProperties")),
        "{path}: properties and additionalProperties"
    );
    for (key, sub) in obj {
        match key.as_str() {
            "properties" => {
                for (name, s) in sub.as_object().unwrap() {
                    assert_structural(s, &format!("{path}.{name}"));
                }
            }
            "items" | "additionalProperties" | "not" if sub.is_object() => {
                assert_structural(sub, &format!("{path}/{key}"))
            }
            "anyOf" | "oneOf" | "allOf" => {
                for s in sub.as_array().unwrap() {
                    assert_structural(s, &format!("{path}/{key}"));
                }
            }
            _ => {}
        }
    }
}

#[test]
fn schemas_are_structural() {
    for crd in crds() {
        assert_structural(&schema_of(&crd), &crd.spec.names.kind);
        // One deliberate exception: listed offsets are Connect's open-ended
        // partition and offset maps (KIP-875), in the status only.
        let allowed = usize::from(crd.spec.names.kind == "Connector");
        assert_eq!(
            serde_json::to_string(&crd)
                .unwrap()
                .matches("x-kubernetes-preserve-unknown-fields")
                .count(),
            allowed,
            "{} needs no preserve-unknown-fields but status.offsets.offsets[]",
            crd.spec.names.kind
        );
        if allowed == 1 {
            let items = &schema_of(&crd)["properties"]["status"]["properties"]["offsets"]
                ["properties"]["offsets"]["items"];
            assert_eq!(items["x-kubernetes-preserve-unknown-fields"], json!(true));
        }
    }
}

#[test]
fn yaml_is_deterministic_and_headed() {
    let a = crds_yaml();
    assert_eq!(a, crds_yaml());
    assert!(a.starts_with("# Generated by `kconnect crd`"));
    assert_eq!(a.matches("\n---\n").count(), 2);
    let docs: Vec<CustomResourceDefinition> = a
        .split("\n---\n")
        .skip(1)
        .map(|d| serde_yaml::from_str(d).unwrap())
        .collect();
    assert_eq!(docs, crds());
    let files = crd_files();
    assert_eq!(
        files.iter().map(|f| f.0.as_str()).collect::<Vec<_>>(),
        [
            "kconnect.dev_connectclusters.yaml",
            "kconnect.dev_connectors.yaml"
        ]
    );
}

#[test]
fn restart_annotations_read_connects_parameters() {
    use super::connector::RestartRequest;
    let r = |v: &str| RestartRequest::parse(v);
    assert_eq!(r("true"), Ok(RestartRequest::default()));
    assert_eq!(r(""), Ok(RestartRequest::default()));
    assert_eq!(
        r("includeTasks"),
        Ok(RestartRequest {
            include_tasks: true,
            only_failed: false
        })
    );
    assert_eq!(
        r("includeTasks=true&onlyFailed=true"),
        Ok(RestartRequest {
            include_tasks: true,
            only_failed: true
        })
    );
    assert_eq!(
        r("onlyFailed=false, includeTasks=false"),
        Ok(RestartRequest::default())
    );
    let e = r("everything").expect_err("unknown flag");
    assert!(
        e.contains("kconnect.dev/restart") && e.contains("everything"),
        "{e}"
    );
    let e = r("includeTasks=yes").expect_err("not a boolean");
    assert!(e.contains("includeTasks must be true or false"), "{e}");
    // What the workers write reads back the same.
    for include_tasks in [false, true] {
        for only_failed in [false, true] {
            let request = RestartRequest {
                include_tasks,
                only_failed,
            };
            assert_eq!(r(&request.annotation()), Ok(request));
        }
    }
}

#[test]
fn restart_requests_pick_connector_and_tasks_as_connect_does() {
    use super::connector::RestartRequest;
    use crate::storage::status_topic::State;
    let plain = RestartRequest::default();
    let tasks = RestartRequest {
        include_tasks: true,
        only_failed: false,
    };
    let failed_only = RestartRequest {
        include_tasks: true,
        only_failed: true,
    };
    assert!(plain.restarts_connector(State::Running));
    assert!(!plain.restarts_task(State::Failed));
    assert!(tasks.restarts_task(State::Running));
    assert!(!failed_only.restarts_connector(State::Running));
    assert!(failed_only.restarts_connector(State::Failed));
    assert!(!failed_only.restarts_task(State::Running));
    assert!(failed_only.restarts_task(State::Failed));
}

/// The example in examples/kubernetes-tls reads as the types say (the
/// operator e2e applies the same shape to a real apiserver).
#[test]
fn the_tls_example_is_a_valid_connect_cluster() {
    let text = include_str!("../../examples/kubernetes-tls/connect-cluster.yaml");
    let cc: ConnectCluster = serde_yaml::from_str(text).unwrap();
    let tls = cc.spec.tls.as_ref().unwrap();
    assert_eq!(
        tls.trusted_certificates[0].certificate.as_deref(),
        Some("ca.crt")
    );
    let auth = cc.spec.authentication.as_ref().unwrap();
    assert_eq!(auth.type_, crate::api::AuthenticationType::ScramSha512);
    assert_eq!(auth.password_secret.as_ref().unwrap().password, "password");
    assert_eq!(cc.spec.rest_api.network_policy.from.len(), 1);
}
