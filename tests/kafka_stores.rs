//! The topic-backed stores of distributed mode against the real broker:
//! config records in Java's format fold into the same state after a fresh
//! read, and source offsets survive a reload from the offset topic.

mod support;

use std::sync::Arc;
use std::time::Duration;

use kconnect::connect::config::props_of;
use kconnect::connect::{OffsetMap, Props};
use kconnect::storage::config_topic::{ConfigRecord, ConfigState, TargetState};
use kconnect::storage::offset_topic::KafkaOffsetStore;
use kconnect::storage::topic_log::{TopicLog, TopicSpec};
use kconnect::storage::OffsetStore;
use support::{kafka_bootstrap, unique};

const READ: Duration = Duration::from_secs(30);

async fn fold(log: &mut TopicLog, state: &mut ConfigState) {
    for (k, v) in log
        .read_to_end(READ)
        .await
        .expect("reading the config topic")
    {
        state.apply(ConfigRecord::decode(&k, v.as_deref()).expect("a valid record"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_topic_records_fold_into_the_same_state_on_a_fresh_reader() {
    let bootstrap = kafka_bootstrap();
    let spec = TopicSpec {
        name: unique("connect-configs"),
        partitions: 1,
        replication_factor: 1,
    };
    TopicLog::ensure_topic(&bootstrap, &Props::new(), &spec)
        .await
        .expect("creating the topic");
    TopicLog::ensure_topic(&bootstrap, &Props::new(), &spec)
        .await
        .expect("creating it again is a no-op");

    let writer = TopicLog::open(&bootstrap, &spec.name, &Props::new()).expect("writer");
    let records = [
        ConfigRecord::Connector {
            name: "src".into(),
            props: Some(props_of(&[
                ("connector.class", "datagen"),
                ("tasks.max", "2"),
            ])),
        },
        ConfigRecord::Task {
            connector: "src".into(),
            task: 0,
            props: props_of(&[("datagen.task.id", "0")]),
        },
        ConfigRecord::Task {
            connector: "src".into(),
            task: 1,
            props: props_of(&[("datagen.task.id", "1")]),
        },
        ConfigRecord::Commit {
            connector: "src".into(),
            tasks: 2,
        },
        ConfigRecord::TargetState {
            connector: "src".into(),
            state: TargetState::Paused,
        },
        ConfigRecord::Connector {
            name: "gone".into(),
            props: Some(props_of(&[("connector.class", "FileStreamSink")])),
        },
        ConfigRecord::Connector {
            name: "gone".into(),
            props: None,
        },
    ];
    for r in &records {
        let (k, v) = r.encode();
        writer
            .send(&k, v.as_deref())
            .await
            .expect("writing a record");
    }

    let mut reader = TopicLog::open(&bootstrap, &spec.name, &Props::new()).expect("reader");
    let mut state = ConfigState::default();
    fold(&mut reader, &mut state).await;
    assert_eq!(state.connectors.keys().collect::<Vec<_>>(), ["src"]);
    assert_eq!(state.tasks["src"].len(), 2);
    assert_eq!(state.tasks["src"][1]["datagen.task.id"], "1");
    assert_eq!(state.target_state("src"), TargetState::Paused);

    // Later reads see only what was written since.
    let (k, v) = ConfigRecord::TargetState {
        connector: "src".into(),
        state: TargetState::Started,
    }
    .encode();
    writer.send(&k, v.as_deref()).await.expect("writing");
    let more = reader.read_to_end(READ).await.expect("reading again");
    assert_eq!(more.len(), 1, "only the new record");
    state.apply(ConfigRecord::decode(&more[0].0, more[0].1.as_deref()).unwrap());
    assert_eq!(state.target_state("src"), TargetState::Started);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_offsets_survive_a_reload_from_the_offset_topic() {
    let bootstrap = kafka_bootstrap();
    // Java's default partition count for the offset topic.
    let spec = TopicSpec {
        name: unique("connect-offsets"),
        partitions: 25,
        replication_factor: 1,
    };
    TopicLog::ensure_topic(&bootstrap, &Props::new(), &spec)
        .await
        .expect("creating the topic");
    let open = || async {
        let log = TopicLog::open(&bootstrap, &spec.name, &Props::new()).expect("log");
        Arc::new(
            KafkaOffsetStore::load(log, READ)
                .await
                .expect("loading offsets"),
        )
    };
    let map = |v: serde_json::Value| -> OffsetMap { serde_json::from_value(v).unwrap() };
    let partitions: Vec<OffsetMap> = (0..20)
        .map(|i| map(serde_json::json!({"filename": format!("f{i}")})))
        .collect();

    let store = open().await;
    assert_eq!(store.get("c", &partitions[0]), None);
    let entries: Vec<(OffsetMap, OffsetMap)> = partitions
        .iter()
        .enumerate()
        .map(|(i, p)| (p.clone(), map(serde_json::json!({"position": i * 10}))))
        .collect();
    let s = store.clone();
    tokio::task::spawn_blocking(move || s.commit("c", &entries))
        .await
        .unwrap()
        .expect("committing offsets");
    // A newer offset for one partition wins after reload.
    let s = store.clone();
    let p3 = partitions[3].clone();
    tokio::task::spawn_blocking(move || {
        s.commit("c", &[(p3, map(serde_json::json!({"position": 999})))])
    })
    .await
    .unwrap()
    .expect("committing again");

    let reloaded = open().await;
    for (i, p) in partitions.iter().enumerate() {
        let want = if i == 3 { 999 } else { i * 10 };
        assert_eq!(
            reloaded.get("c", p),
            Some(map(serde_json::json!({"position": want}))),
            "partition {i}"
        );
        assert_eq!(reloaded.get("other-connector", p), None);
    }
}
