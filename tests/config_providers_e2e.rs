//! Config providers end to end: a real `kconnect worker` against the real
//! broker, driven only through the config topic like the operator drives
//! it. Connector configs hold `${file:…}`, `${dir:…}` and `${env:…}`
//! variables; the worker resolves them (the connectors really use the
//! values: the sink writes to the file path read from a secret file, both
//! connectors use the topic read from a secret folder) and the secrets
//! reach neither the config topic, nor the status topic, nor the worker's
//! log. Failures name the variable and key, never the resolved value.

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

    /// Writes the operator's placement record where workers read it.
    async fn assign(&self, value: serde_json::Value) {
        let (k, v) = StatusRecord::Assignment {
            group: self.group.clone(),
            value: Some(value),
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

    async fn wait(&mut self, what: &str, log: &std::path::Path, check: impl Fn(&Cluster) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            self.refresh().await;
            if check(self) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}: {:?}\nlog:\n{}",
                self.status_state,
                std::fs::read_to_string(log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn connector(&self, name: &str) -> Option<(State, String)> {
        self.status_state
            .connectors
            .get(name)
            .map(|s| (s.state, s.trace.clone().unwrap_or_default()))
    }

    fn task(&self, connector: &str, task: u32) -> Option<(State, String)> {
        self.status_state
            .tasks
            .get(&(connector.to_owned(), task))
            .map(|s| (s.state, s.trace.clone().unwrap_or_default()))
    }
}

fn props(pairs: &[(&str, &str)]) -> Props {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Every key and value of every record of `topic`, as text.
async fn dump_topic(bootstrap: &str, topic: &str) -> String {
    let mut log = TopicLog::open(bootstrap, topic, &Props::new()).expect("topic log");
    let mut out = String::new();
    for (k, v) in log
        .read_to_end(Duration::from_secs(30))
        .await
        .expect("reading the whole topic")
    {
        out.push_str(&k);
        out.push('\t');
        out.push_str(&String::from_utf8_lossy(v.as_deref().unwrap_or_default()));
        out.push('\n');
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_resolve_on_the_worker_and_stay_out_of_topics_and_logs() {
    let bootstrap = kafka_bootstrap();
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().display().to_string();
    let group = unique("cp");
    let topics = [
        format!("{group}-configs"),
        format!("{group}-offsets"),
        format!("{group}-status"),
    ];

    // The secrets, each a string found nowhere else.
    let tag = unique("x").replace('-', "");
    let path_secret = format!("S3CRETPATH{tag}");
    let db_password = format!("S3CRETPW{tag}");
    let worker_token = format!("S3CRETWORKER{tag}");
    let outside_secret = format!("S3CRETOUTSIDE{tag}");
    let count_secret = format!("S3CRETCOUNT{tag}");
    let task_secret = format!("S3CRETTASK{tag}");
    // Not a secret Kafka can keep (topic names are broker metadata, and the
    // engine logs assigned partitions), but it must still come only from
    // the provider: it is checked against the config and status topics.
    let data_topic = unique("cp-orders");
    create_topic(&data_topic, 1);

    // What the providers read: a properties file, a folder of files (like
    // a mounted Kubernetes Secret) and the worker's environment.
    let secrets = dir.path().join("secrets");
    std::fs::create_dir_all(secrets.join("kafka")).unwrap();
    let output = dir
        .path()
        .join("out")
        .join(format!("sink-{path_secret}.txt"));
    std::fs::write(
        secrets.join("sink.properties"),
        format!(
            "# sink secrets\noutput.file = {}\nbad.count={count_secret}\nbad.file={root}/a-file/{task_secret}/out.txt\n",
            output.display()
        ),
    )
    .unwrap();
    std::fs::write(secrets.join("kafka").join("topic"), &data_topic).unwrap();
    std::fs::write(dir.path().join("a-file"), "a regular file, not a folder").unwrap();
    std::fs::create_dir_all(dir.path().join("outside")).unwrap();
    std::fs::write(
        dir.path().join("outside").join("x.properties"),
        format!("key={outside_secret}\n"),
    )
    .unwrap();
    let secrets_dir = secrets.display().to_string();

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
            ("config.providers", "file,env,dir".into()),
            (
                "config.providers.file.class",
                "org.apache.kafka.common.config.provider.FileConfigProvider".into(),
            ),
            (
                "config.providers.file.param.allowed.paths",
                secrets_dir.clone(),
            ),
            (
                "config.providers.env.class",
                "org.apache.kafka.common.config.provider.EnvVarConfigProvider".into(),
            ),
            (
                "config.providers.env.param.allowlist.pattern",
                "KC_E2E_.*".into(),
            ),
            // No class: the built-in DirectoryConfigProvider.
            (
                "config.providers.dir.param.allowed.paths",
                secrets_dir.clone(),
            ),
            // The worker config itself is resolved too (KIP-421).
            ("test.worker.token", "${env:KC_E2E_WORKER_TOKEN}".into()),
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
            .env("KC_E2E_DB_PASSWORD", &db_password)
            .env("KC_E2E_WORKER_TOKEN", &worker_token)
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("starting kconnect worker"),
    );
    let tail = || std::fs::read_to_string(&log).unwrap_or_default();

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

    // Connector names are unique per run: the broker is shared, and a sink's
    // consumer group (`connect-<name>`) must be ours alone.
    let [gen, sink, bad_allowed, bad_value, bad_task] =
        ["gen", "sink", "bad-allowed", "bad-value", "bad-task"].map(|n| format!("{group}-{n}"));
    let topic_var = format!("${{dir:{secrets_dir}/kafka:topic}}");
    let sink_file_var = format!("${{file:{secrets_dir}/sink.properties:output.file}}");
    let connectors: BTreeMap<&str, Props> = [
        (
            gen.as_str(),
            props(&[
                ("name", &gen),
                ("connector.class", "datagen"),
                ("topic", &topic_var),
                ("count", "50"),
                ("rate", "0"),
            ]),
        ),
        (
            sink.as_str(),
            props(&[
                ("name", &sink),
                (
                    "connector.class",
                    "org.apache.kafka.connect.file.FileStreamSinkConnector",
                ),
                ("topics", &topic_var),
                ("file", &sink_file_var),
                // Not used by the sink; copied into its task configs.
                ("db.password", "${env:KC_E2E_DB_PASSWORD}"),
            ]),
        ),
        // A file outside allowed.paths.
        (
            bad_allowed.as_str(),
            props(&[
                ("name", &bad_allowed),
                ("connector.class", "FileStreamSink"),
                ("topics", &topic_var),
                (
                    "file",
                    &format!("${{file:{root}/outside/x.properties:key}}"),
                ),
            ]),
        ),
        // A resolved value that is no number: the config error names the
        // key, and the value it quotes is scrubbed.
        (
            bad_value.as_str(),
            props(&[
                ("name", &bad_value),
                ("connector.class", "datagen"),
                ("topic", &topic_var),
                (
                    "count",
                    &format!("${{file:{secrets_dir}/sink.properties:bad.count}}"),
                ),
            ]),
        ),
        // A task that fails at start, its error quoting the resolved path.
        (
            bad_task.as_str(),
            props(&[
                ("name", &bad_task),
                ("connector.class", "FileStreamSink"),
                ("topics", &topic_var),
                (
                    "file",
                    &format!("${{file:{secrets_dir}/sink.properties:bad.file}}"),
                ),
            ]),
        ),
    ]
    .into_iter()
    .collect();
    for (name, p) in &connectors {
        cluster
            .send(ConfigRecord::Connector {
                name: name.to_string(),
                props: Some(p.clone()),
            })
            .await;
        cluster
            .send(ConfigRecord::TargetState {
                connector: name.to_string(),
                state: TargetState::Started,
            })
            .await;
    }
    let names: Vec<&str> = connectors.keys().copied().collect();
    cluster
        .assign(json!({"generation": 1, "workers": {"w-0": {"connectors": names, "tasks": []}}}))
        .await;
    cluster
        .wait("task configs of gen, sink and bad-task", &log, |c| {
            [&gen, &sink, &bad_task]
                .iter()
                .all(|n| c.config_state.tasks.get(*n).is_some_and(|t| t.len() == 1))
        })
        .await;

    // The task configs carry the variables, not the values.
    let sink_task = &cluster.config_state.tasks[&sink][0];
    assert_eq!(sink_task["file"], sink_file_var);
    assert_eq!(sink_task["topics"], topic_var);
    assert_eq!(sink_task["db.password"], "${env:KC_E2E_DB_PASSWORD}");
    assert_eq!(cluster.config_state.tasks[&gen][0]["topic"], topic_var);

    cluster
        .assign(json!({"generation": 2, "workers": {"w-0": {
            "connectors": names,
            "tasks": [format!("{gen}-0"), format!("{sink}-0"), format!("{bad_task}-0")]}}}))
        .await;
    cluster
        .wait("gen and sink running, the bad ones failed", &log, |c| {
            c.task(&gen, 0).is_some_and(|(s, _)| s == State::Running)
                && c.task(&sink, 0).is_some_and(|(s, _)| s == State::Running)
                && c.task(&bad_task, 0)
                    .is_some_and(|(s, _)| s == State::Failed)
                && c.connector(&bad_allowed)
                    .is_some_and(|(s, _)| s == State::Failed)
                && c.connector(&bad_value)
                    .is_some_and(|(s, _)| s == State::Failed)
        })
        .await;

    // The secrets reached the connectors: the datagen wrote to the topic
    // read from the folder, and the sink read it and wrote to the path read
    // from the properties file.
    let arrived = wait_for(Duration::from_secs(60), || count_lines(&output) >= 50);
    assert!(
        arrived,
        "50 records in the sink's file {}; log:\n{}",
        output.display(),
        tail()
    );

    // Failures name the variable and key, not the value.
    let (_, trace) = cluster.connector(&bad_allowed).unwrap();
    assert!(trace.contains("allowed.paths"), "{trace}");
    assert!(
        trace.contains(&format!("${{file:{root}/outside/x.properties:key}}")),
        "{trace}"
    );
    let (_, trace) = cluster.connector(&bad_value).unwrap();
    assert!(
        trace.contains("count") && trace.contains("[hidden]"),
        "{trace}"
    );
    let (_, trace) = cluster.task(&bad_task, 0).unwrap();
    assert!(trace.contains("[hidden]"), "{trace}");

    // Graceful stop, then look everywhere for the secrets.
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &worker.0.id().to_string()])
        .status();
    let status = worker.0.wait().expect("waiting for the worker");
    assert!(status.success(), "log:\n{}", tail());

    let config_topic = dump_topic(&bootstrap, &topics[0]).await;
    let status_topic = dump_topic(&bootstrap, &topics[2]).await;
    let worker_log = tail();
    assert!(
        config_topic.contains(&format!("task-{sink}-0")),
        "{config_topic}"
    );
    assert!(
        status_topic.contains(&format!("status-task-{bad_task}-0")),
        "{status_topic}"
    );
    let every_secret = [
        &path_secret,
        &db_password,
        &worker_token,
        &outside_secret,
        &count_secret,
        &task_secret,
    ];
    for secret in every_secret.iter().copied().chain([&data_topic]) {
        assert!(
            !config_topic.contains(secret.as_str()),
            "{secret} in the config topic:\n{config_topic}"
        );
        assert!(
            !status_topic.contains(secret.as_str()),
            "{secret} in the status topic:\n{status_topic}"
        );
    }
    // The worker log. Not checked: the data topic (the engine logs assigned
    // partitions by topic name; a topic name is not a secret).
    for secret in [
        &task_secret,
        &path_secret,
        &db_password,
        &worker_token,
        &outside_secret,
        &count_secret,
    ] {
        assert!(
            !worker_log.contains(secret.as_str()),
            "{secret} in the worker log:\n{worker_log}"
        );
    }
    // Configs are logged, masked.
    assert!(
        worker_log.contains("test.worker.token=[hidden]"),
        "{worker_log}"
    );
    assert!(worker_log.contains("file=[hidden]"), "{worker_log}");
    assert!(worker_log.contains("db.password=[hidden]"), "{worker_log}");
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
