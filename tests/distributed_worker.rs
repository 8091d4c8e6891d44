//! `kconnect worker` against the real broker, driven only through the
//! config and status topics the way the operator drives it: the worker publishes task
//! configs for its connector, runs the tasks it is assigned, stops the ones
//! taken away, follows pause, and reports statuses and heartbeats.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use kconnect::connect::Props;
use kconnect::storage::config_topic::{ConfigRecord, ConfigState, TargetState};
use kconnect::storage::status_topic::{State, StatusRecord, StatusState};
use kconnect::storage::topic_log::TopicLog;
use serde_json::json;
use support::*;

struct Cluster {
    group: String,
    config: TopicLog,
    status: TopicLog,
    status_state: StatusState,
    config_state: ConfigState,
}

impl Cluster {
    async fn send(&self, r: ConfigRecord) {
        let (k, v) = r.encode();
        self.config
            .send(&k, v.as_deref())
            .await
            .expect("writing a config record");
    }

    /// Writes the placement record where an older operator wrote it, in the
    /// config topic.
    async fn assign_legacy(&self, generation: u64, workers: serde_json::Value) {
        self.send(ConfigRecord::LegacyAssignment {
            group: self.group.clone(),
            value: Some(json!({"generation": generation, "workers": workers})),
        })
        .await;
    }

    /// Writes the operator's placement record where workers read it.
    async fn assign(&self, generation: u64, workers: serde_json::Value) {
        let (k, v) = StatusRecord::Assignment {
            group: self.group.clone(),
            value: Some(json!({"generation": generation, "workers": workers})),
        }
        .encode();
        self.status
            .send(&k, v.as_deref())
            .await
            .expect("writing the assignment record");
    }

    async fn refresh(&mut self) {
        for (k, v) in self
            .status
            .read_to_end(Duration::from_secs(30))
            .await
            .expect("reading statuses")
        {
            self.status_state
                .apply(StatusRecord::decode(&k, v.as_deref()));
        }
        for (k, v) in self
            .config
            .read_to_end(Duration::from_secs(30))
            .await
            .expect("reading configs")
        {
            if let Ok(r) = ConfigRecord::decode(&k, v.as_deref()) {
                self.config_state.apply(r);
            }
        }
    }

    async fn wait(&mut self, what: &str, mut check: impl FnMut(&Cluster) -> bool) {
        let started = tokio::time::Instant::now();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            self.refresh().await;
            if check(self) {
                eprintln!("{what}: {:?}", started.elapsed());
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}: {:?}",
                self.status_state
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn task_state(&self, connector: &str, task: u32) -> Option<(State, String)> {
        self.status_state
            .tasks
            .get(&(connector.to_owned(), task))
            .map(|s| (s.state, s.worker_id.clone()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_follows_assignments_from_the_status_topic() {
    let bootstrap = kafka_bootstrap();
    let dir = tempfile::tempdir().expect("tempdir");
    let group = unique("dist");
    let topics = [
        format!("{group}-configs"),
        format!("{group}-offsets"),
        format!("{group}-status"),
    ];
    let worker_props = dir.path().join("worker.properties");
    write_props(
        &worker_props,
        &[
            ("bootstrap.servers", bootstrap.clone()),
            ("group.id", group.clone()),
            ("config.storage.topic", topics[0].clone()),
            ("offset.storage.topic", topics[1].clone()),
            ("status.storage.topic", topics[2].clone()),
            ("config.storage.replication.factor", "1".into()),
            ("offset.storage.replication.factor", "1".into()),
            ("status.storage.replication.factor", "1".into()),
            ("offset.flush.interval.ms", "200".into()),
            ("worker.sync.interval.ms", "100".into()),
        ],
    );
    let log = dir.path().join("worker.log");
    let mut worker = KillOnDrop(
        std::process::Command::new(kconnect_bin())
            .args([
                "worker",
                "--worker-id",
                "w-0",
                "--health-listen",
                "127.0.0.1:0",
            ])
            .arg(&worker_props)
            .env("RUST_LOG", "info,kconnect=debug")
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("starting kconnect worker"),
    );
    let tail = || std::fs::read_to_string(&log).unwrap_or_default();

    // The worker creates the internal topics; wait for them.
    let open = |t: &str| TopicLog::open(&bootstrap, t, &Props::new()).expect("topic log");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut cluster = loop {
        let config = open(&topics[0]);
        let mut status = open(&topics[2]);
        if status.read_to_end(Duration::from_secs(5)).await.is_ok() {
            break Cluster {
                group: group.clone(),
                config,
                status,
                status_state: Default::default(),
                config_state: Default::default(),
            };
        }
        assert!(
            std::time::Instant::now() < deadline,
            "internal topics never appeared; log:\n{}",
            tail()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };

    // A datagen connector with two tasks; the connector is placed on w-0.
    let data_topic = unique("dist-orders");
    create_topic(&data_topic, 2);
    let props: BTreeMap<String, String> = [
        ("name", "gen"),
        ("connector.class", "datagen"),
        ("tasks.max", "2"),
        ("topic", data_topic.as_str()),
        ("count", "400"),
        ("rate", "0"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    cluster
        .send(ConfigRecord::Connector {
            name: "gen".into(),
            props: Some(props),
        })
        .await;
    cluster
        .send(ConfigRecord::TargetState {
            connector: "gen".into(),
            state: TargetState::Started,
        })
        .await;
    // The first generation as an older operator wrote it: followed while
    // the status topic has none.
    cluster
        .assign_legacy(1, json!({"w-0": {"connectors": ["gen"], "tasks": []}}))
        .await;
    cluster
        .wait(
            "task configs published by the worker running the connector",
            |c| {
                c.config_state
                    .tasks
                    .get("gen")
                    .is_some_and(|t| t.len() == 2)
            },
        )
        .await;

    // Both tasks assigned: they run and every record arrives. From now on
    // the status topic's record rules: a stale legacy one, even of a higher
    // generation, taking everything away, is ignored.
    cluster
        .assign(
            2,
            json!({"w-0": {"connectors": ["gen"], "tasks": ["gen-0", "gen-1"]}}),
        )
        .await;
    cluster
        .assign_legacy(99, json!({"w-0": {"connectors": [], "tasks": []}}))
        .await;
    cluster
        .wait("both tasks RUNNING on w-0", |c| {
            (0..2).all(|t| c.task_state("gen", t) == Some((State::Running, "w-0".into())))
        })
        .await;
    let counted = wait_for(Duration::from_secs(60), || {
        (0..2).map(|p| partition_len(&data_topic, p)).sum::<i64>() >= 400
    });
    assert!(
        counted,
        "400 generated records in the topic; log:\n{}",
        tail()
    );
    assert!(
        cluster.status_state.workers.contains_key("w-0"),
        "heartbeat written"
    );
    assert_eq!(cluster.status_state.connectors["gen"].state, State::Running);

    // Task 1 taken away: it stops and is reported UNASSIGNED; task 0 keeps
    // running untouched.
    cluster
        .assign(
            3,
            json!({"w-0": {"connectors": ["gen"], "tasks": ["gen-0"]}}),
        )
        .await;
    cluster
        .wait("task 1 unassigned", |c| {
            c.task_state("gen", 1)
                .is_some_and(|(s, _)| s == State::Unassigned)
        })
        .await;
    assert_eq!(
        cluster.task_state("gen", 0),
        Some((State::Running, "w-0".into()))
    );
    assert_eq!(
        tail().matches("stopping task task=gen-0").count(),
        0,
        "task 0 was never restarted"
    );

    // Pause through the target state.
    cluster
        .send(ConfigRecord::TargetState {
            connector: "gen".into(),
            state: TargetState::Paused,
        })
        .await;
    cluster
        .wait("task 0 paused", |c| {
            c.task_state("gen", 0)
                .is_some_and(|(s, _)| s == State::Paused)
        })
        .await;
    cluster
        .wait("connector paused", |c| {
            c.status_state
                .connectors
                .get("gen")
                .is_some_and(|s| s.state == State::Paused)
        })
        .await;

    // Graceful stop.
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &worker.0.id().to_string()])
        .status();
    let status = worker.0.wait().expect("waiting for the worker");
    assert!(status.success(), "log:\n{}", tail());
}

fn partition_len(topic: &str, partition: i32) -> i64 {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", kafka_bootstrap())
        .create()
        .expect("consumer");
    consumer
        .fetch_watermarks(topic, partition, Duration::from_secs(5))
        .map(|(_, high)| high)
        .unwrap_or(0)
}

/// Kills the worker if the test fails before stopping it.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}
