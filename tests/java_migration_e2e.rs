//! Switching a cluster back to Java Connect (issue 13), as a user would: a
//! `kconnect worker` runs a FileStreamSource (file → topic) and a
//! FileStreamSink (topic → file) from the config topic; then it stops, and
//! Java Connect 4.1.2 distributed takes the same `group.id` and the same
//! three topics. Java must find nothing in them it logs at ERROR (task
//! configs without `task.class`, kconnect's own records under keys its
//! config store does not know), run every task, and continue where kconnect
//! stopped: the source from kconnect's offsets, the sink from the consumer
//! group's committed offsets, every line exactly once in the topic and in
//! the sink file.

mod support;

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use kconnect::connect::Props;
use kconnect::storage::config_topic::{ConfigRecord, ConfigState, TargetState};
use kconnect::storage::status_topic::{State, StatusRecord, StatusState};
use serde_json::{json, Value as Json};
use support::java_connect::{self, processes_naming, state_dir, JavaConnect};
use support::rest::Api;
use support::*;

const SOURCE_CLASS: &str = "org.apache.kafka.connect.file.FileStreamSourceConnector";
const SINK_CLASS: &str = "org.apache.kafka.connect.file.FileStreamSinkConnector";
/// Lines kconnect moves before it stops, and lines appended for Java.
const FIRST: usize = 100;
const MORE: usize = 100;

fn line(n: usize) -> String {
    format!("line-{n:04}")
}

fn append_lines(path: &Path, range: std::ops::Range<usize>) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("opening the source file");
    let text: String = range.map(|n| line(n) + "\n").collect();
    f.write_all(text.as_bytes())
        .expect("appending to the source file");
}

/// The payloads of the records in the data topic (JsonConverter envelopes
/// of string values), in order.
fn topic_lines(topic: &str) -> Vec<String> {
    read_topic(topic)
        .iter()
        .map(|v| {
            let envelope: Json = serde_json::from_slice(v).unwrap_or_else(|e| {
                panic!(
                    "record {:?} is not a JSON envelope: {e}",
                    String::from_utf8_lossy(v)
                )
            });
            envelope["payload"]
                .as_str()
                .unwrap_or_else(|| panic!("record {envelope} has no string payload"))
                .to_owned()
        })
        .collect()
}

fn file_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Where `got` differs from `want`: missing and repeated lines, or order.
fn differences(got: &[String], want: &[String]) -> Option<String> {
    if got == want {
        return None;
    }
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for l in got {
        *counts.entry(l.as_str()).or_default() += 1;
    }
    let missing: Vec<&String> = want
        .iter()
        .filter(|l| !counts.contains_key(l.as_str()))
        .collect();
    let repeated: Vec<(&&str, &usize)> = counts.iter().filter(|(_, n)| **n > 1).collect();
    Some(format!(
        "{} lines instead of {}; missing: {missing:?}; repeated: {repeated:?}",
        got.len(),
        want.len()
    ))
}

/// `GET /connectors?expand=status`: per connector, its state and its
/// tasks' (number, state, trace).
type Statuses = Vec<(String, String, Vec<(u64, String, String)>)>;

fn statuses(api: &Api) -> Option<Statuses> {
    let reply = api
        .try_call("GET", "/connectors?expand=status", None)
        .ok()?;
    let body = reply.body.as_object()?;
    Some(
        body.iter()
            .map(|(name, v)| {
                let s = &v["status"];
                let tasks = s["tasks"]
                    .as_array()
                    .map(|ts| {
                        ts.iter()
                            .map(|t| {
                                (
                                    t["id"].as_u64().unwrap_or(u64::MAX),
                                    t["state"].as_str().unwrap_or("").to_owned(),
                                    t["trace"].as_str().unwrap_or("").to_owned(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                (
                    name.clone(),
                    s["connector"]["state"].as_str().unwrap_or("").to_owned(),
                    tasks,
                )
            })
            .collect(),
    )
}

/// Whether Java runs the two connectors and their tasks and keeps the third
/// STOPPED (with whatever tasks it shows, none FAILED).
fn as_expected(now: &Statuses, stopped: &str) -> bool {
    now.len() == 3
        && now.iter().all(|(name, c, ts)| {
            if name == stopped {
                c == "STOPPED" && ts.iter().all(|(_, s, _)| s != "FAILED")
            } else {
                c == "RUNNING" && !ts.is_empty() && ts.iter().all(|(_, s, _)| s == "RUNNING")
            }
        })
}

/// The lines of Java's log at ERROR (its layout: `[date] LEVEL message`).
fn error_lines(log: &str) -> Vec<&str> {
    log.lines().filter(|l| l.contains("] ERROR ")).collect()
}

#[test]
fn java_connect_takes_over_a_group_kconnect_ran_without_errors_loss_or_repeats() {
    let started = Instant::now();
    support::java_connect::install();
    let (_tmp, state) = state_dir("java-migration");
    let (kc_dir, java_dir) = (state.join("kconnect"), state.join("java"));
    for d in [&kc_dir, &java_dir] {
        std::fs::create_dir_all(d).expect("creating a worker's dir");
    }
    let group = unique("mig");
    let data_topic = unique("mig-lines");
    create_topic(&data_topic, 1);
    let (src, snk) = (unique("mig-src"), unique("mig-snk"));
    let input = state.join("input.txt");
    let output = state.join("output.txt");
    append_lines(&input, 0..FIRST);
    // A STOPPED connector too (its target state has `state.v2`, its
    // statuses are STOPPED); it writes into the same topic, so were it run
    // by anyone, the line checks would see it.
    let stopped = unique("mig-stopped");
    let stopped_input = state.join("stopped.txt");
    std::fs::write(&stopped_input, "not-to-be-read\n").expect("writing a source file");

    // kconnect runs both connectors, placed by hand as the operator would.
    let kc_props = kc_dir.join("worker.properties");
    let mut props = java_connect::shared_cluster_props(&group);
    props.extend([
        ("listeners", format!("http://127.0.0.1:{}", free_port())),
        ("offset.flush.interval.ms", "200".into()),
        ("worker.sync.interval.ms", "100".into()),
    ]);
    write_props(&kc_props, &props);
    let kc_props = kc_props.to_string_lossy().into_owned();
    let mut kc = Process::spawn(
        &kc_dir,
        &[
            "worker",
            "--worker-id",
            "w-0",
            "--health-listen",
            "127.0.0.1:0",
            &kc_props,
        ],
        &[],
        "worker",
    );
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (mut config_log, mut status_log) =
        java_connect::internal_topic_logs(&runtime, &mut kc, &group);
    let (input_path, output_path, stopped_path) = (
        input.to_string_lossy().into_owned(),
        output.to_string_lossy().into_owned(),
        stopped_input.to_string_lossy().into_owned(),
    );
    let connectors = [
        (
            &src,
            TargetState::Started,
            [
                ("connector.class", SOURCE_CLASS),
                ("file", &input_path),
                ("topic", &data_topic),
            ],
        ),
        (
            &snk,
            TargetState::Started,
            [
                ("connector.class", SINK_CLASS),
                ("file", &output_path),
                ("topics", &data_topic),
            ],
        ),
        (
            &stopped,
            TargetState::Stopped,
            [
                ("connector.class", SOURCE_CLASS),
                ("file", &stopped_path),
                ("topic", &data_topic),
            ],
        ),
    ];
    for (name, target, config) in connectors {
        let mut p: Props = config
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        p.insert("name".into(), name.clone());
        p.insert("tasks.max".into(), "1".into());
        for r in [
            ConfigRecord::Connector {
                name: name.clone(),
                props: Some(p),
            },
            ConfigRecord::TargetState {
                connector: name.clone(),
                state: target,
            },
        ] {
            let (k, v) = r.encode();
            runtime
                .block_on(config_log.send(&k, v.as_deref()))
                .expect("writing a config record");
        }
    }
    // The tasks are placed before their configs exist, as the operator may
    // (it reads the config topic, the worker follows the status topic):
    // the worker starts them once it has read them.
    let (k, v) = StatusRecord::Assignment {
        group: group.clone(),
        value: Some(json!({"generation": 1, "workers": {"w-0": {
            "connectors": [&src, &snk, &stopped],
            "tasks": [format!("{src}-0"), format!("{snk}-0"), format!("{stopped}-0")],
        }}})),
    }
    .encode();
    runtime
        .block_on(status_log.send(&k, v.as_deref()))
        .expect("writing the assignment record");

    let want: Vec<String> = (0..FIRST).map(line).collect();
    let moved = wait_for(Duration::from_secs(90), || {
        kc.assert_running();
        count_lines(&output) >= FIRST
    });
    assert!(
        moved,
        "kconnect wrote {} of {FIRST} lines to the sink file; log:\n{}",
        count_lines(&output),
        kc.log_tail()
    );
    let mut kc_statuses = StatusState::default();
    let reported = wait_for(Duration::from_secs(30), || {
        for (k, v) in runtime
            .block_on(status_log.read_to_end(Duration::from_secs(30)))
            .expect("reading the status topic")
        {
            kc_statuses.apply(StatusRecord::decode(&k, v.as_deref()));
        }
        kc_statuses
            .connectors
            .get(stopped.as_str())
            .is_some_and(|s| s.state == State::Stopped)
    });
    assert!(
        reported,
        "kconnect never reported {stopped} STOPPED: {kc_statuses:?}"
    );
    let exit = kc.terminate();
    assert!(exit.success(), "kconnect worker: {}", kc.log_tail());
    assert_eq!(
        differences(&topic_lines(&data_topic), &want),
        None,
        "topic after kconnect"
    );
    assert_eq!(
        differences(&file_lines(&output), &want),
        None,
        "sink file after kconnect"
    );
    // The task configs kconnect wrote are complete in Java's terms.
    let mut configs = ConfigState::default();
    for (k, v) in runtime
        .block_on(config_log.read_to_end(Duration::from_secs(30)))
        .expect("reading the config topic")
    {
        if let Ok(r) = ConfigRecord::decode(&k, v.as_deref()) {
            configs.apply(r);
        }
    }
    for (name, task_class) in [
        (&src, "org.apache.kafka.connect.file.FileStreamSourceTask"),
        (&snk, "org.apache.kafka.connect.file.FileStreamSinkTask"),
    ] {
        let tasks = configs.tasks.get(name.as_str());
        assert_eq!(
            tasks
                .and_then(|t| t.first())
                .and_then(|c| c.get("task.class")),
            Some(&task_class.to_owned()),
            "task config of {name}: {tasks:?}"
        );
    }
    eprintln!(
        "kconnect moved {FIRST} lines and stopped after {:?}",
        started.elapsed()
    );

    // Java Connect distributed on the same group and topics.
    let java_port = free_port();
    let java_props = java_dir.join("worker.properties");
    let mut props = java_connect::shared_cluster_props(&group);
    props.extend([
        ("listeners", format!("http://127.0.0.1:{java_port}")),
        ("offset.flush.interval.ms", "500".into()),
        // Every plugin here has a ServiceLoader manifest; scanning the
        // classpath too costs seconds.
        ("plugin.discovery", "service_load".into()),
    ]);
    write_props(&java_props, &props);
    let mut java = JavaConnect::distributed(&java_dir, &java_props);
    let api = Api::new(java_port);
    let deadline = Instant::now() + Duration::from_secs(180);
    let running = loop {
        java.assert_running();
        let now = statuses(&api).unwrap_or_default();
        let failed: Vec<_> = now
            .iter()
            .filter(|(_, c, ts)| c == "FAILED" || ts.iter().any(|(_, s, _)| s == "FAILED"))
            .collect();
        assert!(
            failed.is_empty(),
            "FAILED in Java Connect: {failed:#?}\nERROR lines:\n{}",
            error_lines(&java.log()).join("\n")
        );
        if as_expected(&now, &stopped) {
            break now;
        }
        assert!(
            Instant::now() < deadline,
            "Java Connect did not run the two connectors (and keep {stopped} STOPPED) within 180 s: {now:#?}\n{}",
            java.log_tail()
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    eprintln!(
        "Java Connect runs {running:?} after {:?}",
        started.elapsed()
    );

    append_lines(&input, FIRST..FIRST + MORE);
    let want: Vec<String> = (0..FIRST + MORE).map(line).collect();
    let done = wait_for(Duration::from_secs(120), || {
        java.assert_running();
        count_lines(&output) >= want.len()
    });
    let in_topic = topic_lines(&data_topic);
    let in_file = file_lines(&output);
    let log = java.log();
    let errors = error_lines(&log);
    assert!(
        errors.is_empty(),
        "Java Connect logged {} ERROR lines reading what kconnect wrote:\n{}",
        errors.len(),
        errors.join("\n")
    );
    assert!(
        done,
        "the sink file has {} of {} lines after Java took over\n{}",
        in_file.len(),
        want.len(),
        java.log_tail()
    );
    assert_eq!(
        differences(&in_topic, &want),
        None,
        "the data topic: Java's source must resume at kconnect's offset"
    );
    assert_eq!(
        differences(&in_file, &want),
        None,
        "the sink file: Java's sink must resume at kconnect's committed offsets"
    );
    let after = statuses(&api).expect("Java Connect's REST API");
    assert!(
        as_expected(&after, &stopped),
        "Java Connect's statuses at the end: {after:#?}"
    );
    // kconnect's own status-topic records are skipped at WARN, not ERROR.
    eprintln!(
        "Java skipped {} status-topic records of kconnect at WARN",
        log.matches("Discarding record with invalid key status-")
            .count()
    );

    let java_exit = java.stop();
    assert!(
        java_exit.is_some(),
        "Java Connect still running {:?} after SIGTERM\n{}",
        support::java_connect::STOP_BOUND,
        java.log_tail()
    );
    let left = processes_naming(&state);
    assert!(left.is_empty(), "processes left behind: {left:#?}");
    eprintln!("migration checked in {:?}", started.elapsed());
}
