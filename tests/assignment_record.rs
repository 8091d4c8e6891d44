//! The operator's cluster loop against the real broker, without
//! Kubernetes (a Pod cache filled by hand): its placement record goes to
//! the status topic as `status-assignment-<group>`, and an older operator's
//! `assignment-<group>` in the config topic (where Java Connect logs every
//! such key at ERROR) is continued from once, then tombstoned. A new loop,
//! as after a leader failover, continues from the status topic.

mod support;

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kconnect::api::CLUSTER_LABEL;
use kconnect::connect::Props;
use kconnect::operator::cluster_key::ClusterKey;
use kconnect::operator::runtime::{ClusterRuntime, KafkaSettings, Timings, Triggers};
use kconnect::storage::config_topic::{ConfigRecord, ConfigState};
use kconnect::storage::status_topic::{Heartbeat, StatusRecord, StatusState};
use kconnect::storage::topic_log::{TopicLog, TopicSpec};
use kube::runtime::reflector::{self, store::Writer};
use kube::runtime::watcher::Event;
use serde_json::{json, Value as Json};
use support::{kafka_bootstrap, unique};

const READ: Duration = Duration::from_secs(30);

fn pod(namespace: &str, cluster: &str, name: &str) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {CLUSTER_LABEL: cluster},
        },
    }))
    .expect("a Pod")
}

fn listed(writer: &mut Writer<Pod>, pods: Vec<Pod>) {
    writer.apply_watcher_event(&Event::Init);
    for p in pods {
        writer.apply_watcher_event(&Event::InitApply(p));
    }
    writer.apply_watcher_event(&Event::InitDone);
}

/// Both topics as a fresh reader folds them.
struct Topics {
    config: TopicLog,
    status: TopicLog,
    configs: ConfigState,
    statuses: StatusState,
}

impl Topics {
    async fn refresh(&mut self) {
        for (k, v) in self
            .config
            .read_to_end(READ)
            .await
            .expect("reading configs")
        {
            self.configs
                .apply(ConfigRecord::decode(&k, v.as_deref()).expect("a config record"));
        }
        for (k, v) in self
            .status
            .read_to_end(READ)
            .await
            .expect("reading statuses")
        {
            self.statuses.apply(StatusRecord::decode(&k, v.as_deref()));
        }
    }

    async fn wait(&mut self, what: &str, check: impl Fn(&Topics) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            self.refresh().await;
            if check(self) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: legacy {:?}, status {:?}",
                self.configs.legacy_assignments,
                self.statuses.assignments
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn triggers() -> Triggers {
    // The receivers go: nothing here reconciles.
    let (connectors, _) = tokio::sync::mpsc::unbounded_channel();
    let (clusters, _) = tokio::sync::mpsc::unbounded_channel();
    Triggers {
        connectors,
        clusters,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_moves_an_older_assignment_record_to_the_status_topic() {
    let bootstrap = kafka_bootstrap();
    let group = unique("assign");
    let key = ClusterKey {
        namespace: "ns-assign".into(),
        name: group.clone(),
    };
    let spec = |suffix: &str, partitions| TopicSpec {
        name: format!("{group}-{suffix}"),
        partitions,
        replication_factor: 1,
    };
    let settings = KafkaSettings {
        bootstrap: bootstrap.clone(),
        group: group.clone(),
        topics: [spec("configs", 1), spec("offsets", 1), spec("status", 2)],
        client: Default::default(),
        exactly_once: false,
    };
    for t in &settings.topics {
        TopicLog::ensure_topic(&bootstrap, &Props::new(), t)
            .await
            .expect("creating an internal topic");
    }
    let open = |t: &TopicSpec| TopicLog::open(&bootstrap, &t.name, &Props::new()).expect("topic");
    let mut topics = Topics {
        config: open(&settings.topics[0]),
        status: open(&settings.topics[2]),
        configs: ConfigState::default(),
        statuses: StatusState::default(),
    };

    // What an older operator left: generation 41 with a restart request,
    // and w-0 heartbeating.
    let legacy = json!({"generation": 41, "workers": {"w-0": {"connectors": [], "tasks": []}},
        "restarts": {"c-0": 2}});
    let (k, v) = ConfigRecord::LegacyAssignment {
        group: group.clone(),
        value: Some(legacy),
    }
    .encode();
    topics
        .config
        .send(&k, v.as_deref())
        .await
        .expect("legacy record");
    let beat = |timestamp| {
        StatusRecord::Worker {
            id: "w-0".into(),
            heartbeat: Some(Heartbeat {
                timestamp,
                generation: 41,
                tasks: 0,
                stopping: 0,
            }),
        }
        .encode()
    };
    let (k, v) = beat(1);
    topics
        .status
        .send(&k, v.as_deref())
        .await
        .expect("heartbeat");

    let (pods, mut writer) = reflector::store::<Pod>();
    listed(&mut writer, vec![pod(&key.namespace, &group, "w-0")]);
    let rt = ClusterRuntime::start(
        key.clone(),
        settings.clone(),
        pods.clone(),
        Timings::default(),
        triggers(),
    )
    .await
    .expect("starting the cluster loop");

    // Nothing to change in the placement, yet the record moves, with the
    // generation and restarts it had, and the old key is tombstoned.
    topics
        .wait("the record in the status topic, the old one gone", |t| {
            t.statuses.assignments.contains_key(&group)
                && !t.configs.legacy_assignments.contains_key(&group)
        })
        .await;
    let moved: &Json = &topics.statuses.assignments[&group];
    assert_eq!(moved["generation"], 41, "{moved}");
    assert_eq!(moved["restarts"], json!({"c-0": 2}), "{moved}");
    assert!(moved["workers"]["w-0"].is_object(), "{moved}");
    let view = rt.view();
    assert_eq!(
        view.assignment.as_ref().map(|a| a.assignment.generation),
        Some(41)
    );
    rt.stop();

    // A new loop (leader failover, restart) continues from the status
    // topic: w-0's Pod is gone, so generation 42 takes its share away.
    drop(rt);
    listed(&mut writer, Vec::new());
    let rt = ClusterRuntime::start(key, settings, pods, Timings::default(), triggers())
        .await
        .expect("starting the cluster loop again");
    topics
        .wait("generation 42 in the status topic", |t| {
            t.statuses.assignments[&group]["generation"] == 42
        })
        .await;
    assert_eq!(
        topics.statuses.assignments[&group]["workers"],
        json!({}),
        "w-0 left the placement"
    );
    assert_eq!(
        topics.statuses.assignments[&group]["restarts"],
        json!({"c-0": 2}),
        "restart counts carried on"
    );
    assert!(
        topics.configs.legacy_assignments.is_empty(),
        "no assignment record in the config topic: {:?}",
        topics.configs.legacy_assignments
    );
    rt.stop();
}
