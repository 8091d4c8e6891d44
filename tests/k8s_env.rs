//! Proves the test environment: a real kube-apiserver (CRDs, server-side
//! apply on a status subresource, watches) and the kubelet stand-in running
//! a Pod as a local process with its own loopback IP.

mod support;

use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::runtime::wait::{await_condition, conditions};
use kube::runtime::watcher;
use serde_json::json;
use support::{k8s, kubelet::Kubelet};

async fn wait_for<T>(what: &str, secs: u64, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn pod_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crd_status_ssa_watch_and_a_pod_run_by_the_kubelet_standin() {
    let client = k8s::client().await;
    let ns = k8s::namespace(&client, "env").await;

    // A CRD with a status subresource, applied server-side.
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.test.kconnect.dev"},
        "spec": {
            "group": "test.kconnect.dev", "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {"size": {"type": "integer", "minimum": 1}}},
                    "status": {"type": "object", "properties": {"phase": {"type": "string"}}}
                }}}
            }]
        }
    }))
    .unwrap();
    let ssa = PatchParams::apply("kconnect-test").force();
    crds.patch("widgets.test.kconnect.dev", &ssa, &Patch::Apply(&crd))
        .await
        .expect("applying the CRD");
    tokio::time::timeout(
        Duration::from_secs(30),
        await_condition(
            crds.clone(),
            "widgets.test.kconnect.dev",
            conditions::is_crd_established(),
        ),
    )
    .await
    .expect("CRD established in time")
    .expect("watching the CRD");

    // A custom resource, seen through a watch; schema validation applies.
    let gvk = GroupVersionKind::gvk("test.kconnect.dev", "v1", "Widget");
    let widgets: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &ns, &ApiResource::from_gvk(&gvk));
    let mut events = watcher::watcher(widgets.clone(), watcher::Config::default()).boxed();
    let bad: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "test.kconnect.dev/v1", "kind": "Widget",
        "metadata": {"name": "bad"}, "spec": {"size": 0}
    }))
    .unwrap();
    let err = widgets
        .create(&PostParams::default(), &bad)
        .await
        .expect_err("size 0 is below the minimum");
    assert!(err.to_string().contains("spec.size"), "{err}");
    let w: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "test.kconnect.dev/v1", "kind": "Widget",
        "metadata": {"name": "w1"}, "spec": {"size": 3}
    }))
    .unwrap();
    widgets
        .create(&PostParams::default(), &w)
        .await
        .expect("creating a widget");
    let seen = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(e) = events.next().await {
            if let Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) = e {
                if o.metadata.name.as_deref() == Some("w1") {
                    return o;
                }
            }
        }
        panic!("watch ended")
    })
    .await
    .expect("the watch saw the widget");
    assert_eq!(seen.data["spec"]["size"], 3);

    // Server-side apply on the status subresource.
    let status = json!({"apiVersion": "test.kconnect.dev/v1", "kind": "Widget", "status": {"phase": "Ready"}});
    widgets
        .patch_status("w1", &ssa, &Patch::Apply(&status))
        .await
        .expect("applying status");
    let got = widgets.get("w1").await.unwrap();
    assert_eq!(got.data["status"]["phase"], "Ready");
    let managers: Vec<String> = got
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|m| m.manager.clone())
        .collect();
    assert!(
        managers.contains(&"kconnect-test".to_owned()),
        "{managers:?}"
    );

    // A Pod run by the kubelet stand-in: an HTTP server on its own IP,
    // Ready once its readiness probe answers.
    let kubelet = Kubelet::start(client.clone(), &ns).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let pod = |name: &str| -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"app": "web"}},
            "spec": {
                "terminationGracePeriodSeconds": 5,
                "containers": [{
                    "name": "web", "image": "python:3",
                    "command": ["python3", "-m", "http.server", "8080", "--bind", "$(POD_IP)"],
                    "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
                    "ports": [{"name": "http", "containerPort": 8080}],
                    "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 1}
                }]
            }
        }))
        .unwrap()
    };
    for name in ["web", "web2"] {
        pods.create(&PostParams::default(), &pod(name))
            .await
            .expect("creating a pod");
    }
    let mut ips = Vec::new();
    for name in ["web", "web2"] {
        let ip = wait_for("the pod to be Running and Ready", 60, async || {
            let p = pods.get(name).await.ok()?;
            let st = p.status?;
            let ready = st
                .conditions?
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True");
            (st.phase.as_deref() == Some("Running") && ready).then_some(st.pod_ip?)
        })
        .await;
        assert!(
            ip.starts_with("127.0.0.") && ip != "127.0.0.1",
            "own loopback IP, got {ip}"
        );
        assert_eq!(kubelet.ip(name).map(|i| i.to_string()), Some(ip.clone()));
        ips.push(ip);
    }
    assert_ne!(
        ips[0], ips[1],
        "every pod gets its own address, so both bind port 8080"
    );
    let wide = k8s::kubectl(&["get", "pods", "-o", "wide", "-n", &ns]);
    let wide = String::from_utf8_lossy(&wide.stdout).into_owned();
    println!("{wide}");
    for ip in &ips {
        let row = wide
            .lines()
            .find(|l| l.contains(ip.as_str()))
            .unwrap_or_else(|| panic!("{ip} in {wide}"));
        assert!(row.contains("Running") && row.contains("1/1"), "{row}");
    }

    // A crash (kill -9) is restarted like restartPolicy: Always.
    let first_pid = kubelet.pid("web").expect("pid of the pod's process");
    kubelet.kill9("web");
    wait_for("a restart counted in status", 60, async || {
        let p = pods.get("web").await.ok()?;
        let cs = p.status?.container_statuses?.into_iter().next()?;
        (cs.restart_count == 1 && cs.ready).then_some(())
    })
    .await;
    let second_pid = kubelet.pid("web").expect("restarted process");
    assert_ne!(first_pid, second_pid);

    // Deleting the Pods ends their processes (SIGTERM) and removes them.
    let web2_pid = kubelet.pid("web2").expect("pid of web2");
    for name in ["web", "web2"] {
        pods.delete(name, &DeleteParams::default())
            .await
            .expect("deleting a pod");
    }
    for name in ["web", "web2"] {
        wait_for("the pod object to be gone", 30, async || {
            pods.get_opt(name).await.ok()?.is_none().then_some(())
        })
        .await;
    }
    for pid in [second_pid, web2_pid] {
        wait_for("the process to end", 30, async || {
            (!pod_alive(pid)).then_some(())
        })
        .await;
    }

    kubelet.shutdown().await;
}
