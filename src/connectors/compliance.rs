//! The compliance suite: every built-in connector run through the
//! connector contract (`docs/connector-contract.md`). A connector added to
//! [`super::plugins`] without an example config here fails the suite.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::{plugins, AnyConnector, Plugin};
use crate::connect::{
    ConnectRecord, DetachedContext, OffsetMap, OffsetReader, PluginMetrics, Props, SinkRecord,
    SinkTaskContext, SourceTaskContext, TopicPartition, Value,
};
use crate::engine::connector_config;

/// Java's `task.shutdown.graceful.timeout.ms` default: a task's `stop`
/// must return within it.
const GRACEFUL_STOP: Duration = Duration::from_secs(5);
/// How long a source task may take to hand out its first records.
const FIRST_RECORDS: Duration = Duration::from_secs(10);

/// A working config of each built-in connector (its own keys only),
/// creating the input it needs under `scratch`.
fn example(class: &str, scratch: &Path) -> Option<Props> {
    let pairs: Vec<(&str, String)> = match class {
        "org.apache.kafka.connect.file.FileStreamSourceConnector" => {
            let input = scratch.join("in.txt");
            let lines: String = (1..=50).map(|i| format!("line-{i}\n")).collect();
            std::fs::write(&input, lines).expect("writing the example input");
            vec![
                ("file", input.display().to_string()),
                ("topic", "compliance".into()),
                ("batch.size", "7".into()),
            ]
        }
        "org.apache.kafka.connect.file.FileStreamSinkConnector" => vec![
            ("file", scratch.join("out.txt").display().to_string()),
            ("topics", "compliance".into()),
        ],
        "dev.kconnect.connectors.DatagenConnector" => vec![
            ("topic", "compliance".into()),
            ("count", "40".into()),
            ("rate", "0".into()),
            ("batch.size", "8".into()),
        ],
        super::postgres_cdc::CLASS => postgres_example(),
        super::jdbc_sink::CONFLUENT_CLASS => {
            let (pg, db) = test_database();
            vec![
                ("connection.url", jdbc_url(pg, &format!("{db}_sink"))),
                ("topics", "compliance".into()),
                ("connection.user", pg["POSTGRES_USER"].clone()),
                ("connection.password", pg["POSTGRES_PASSWORD"].clone()),
                ("table.name.format", "confluent_${topic}".into()),
                ("auto.create", "true".into()),
                ("insert.mode", "upsert".into()),
                ("pk.mode", "record_value".into()),
                ("pk.fields", "id".into()),
            ]
        }
        super::jdbc_sink::DEBEZIUM_CLASS => {
            let (pg, db) = test_database();
            vec![
                ("connection.url", jdbc_url(pg, &format!("{db}_sink"))),
                ("topics", "compliance".into()),
                ("connection.username", pg["POSTGRES_USER"].clone()),
                ("connection.password", pg["POSTGRES_PASSWORD"].clone()),
                ("collection.name.format", "debezium_${topic}".into()),
                ("schema.evolution", "basic".into()),
                ("insert.mode", "upsert".into()),
                ("primary.key.mode", "record_value".into()),
                ("primary.key.fields", "id".into()),
            ]
        }
        _ => return None,
    };
    Some(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

fn jdbc_url(pg: &BTreeMap<String, String>, db: &str) -> String {
    format!(
        "jdbc:postgresql://{}:{}/{db}?sslmode=disable",
        pg["POSTGRES_HOST"], pg["POSTGRES_PORT"]
    )
}

/// The PostgreSQL CDC source against the test server: a slot and
/// publication of its own per call.
fn postgres_example() -> Vec<(&'static str, String)> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static CALLS: AtomicU32 = AtomicU32::new(0);
    let (pg, db) = test_database();
    let n = CALLS.fetch_add(1, Ordering::Relaxed);
    let slot = format!("{db}_{n}");
    vec![
        ("database.hostname", pg["POSTGRES_HOST"].clone()),
        ("database.port", pg["POSTGRES_PORT"].clone()),
        ("database.user", pg["POSTGRES_USER"].clone()),
        ("database.password", pg["POSTGRES_PASSWORD"].clone()),
        ("database.dbname", db.clone()),
        ("database.sslmode", "disable".into()),
        ("topic.prefix", "compliance".into()),
        ("slot.name", slot.clone()),
        ("publication.name", slot),
        ("poll.interval.ms", "100".into()),
    ]
}

/// The test server (`tests/env/postgres.sh`, started if the test command
/// did not) and a database of this run's with a one-row table (and an
/// empty one beside it, the same name with `_sink`).
fn test_database() -> &'static (BTreeMap<String, String>, String) {
    use std::sync::OnceLock;
    static SERVER: OnceLock<(BTreeMap<String, String>, String)> = OnceLock::new();
    SERVER.get_or_init(|| {
        let mut pg: BTreeMap<String, String> = ["POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_USER", "POSTGRES_PASSWORD"]
            .iter()
            .filter_map(|k| Some(((*k).to_owned(), std::env::var(k).ok()?)))
            .collect();
        if pg.len() < 4 {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/env/postgres.sh");
            let out = std::process::Command::new("bash")
                .arg(script)
                .arg("start")
                .stderr(std::process::Stdio::inherit())
                .output()
                .expect("running tests/env/postgres.sh start");
            assert!(out.status.success(), "tests/env/postgres.sh start failed");
            pg = String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
        }
        let db = format!("compliance_{}", std::process::id());
        let setup = pg.clone();
        let name = db.clone();
        std::thread::spawn(move || {
            tokio::runtime::Runtime::new().unwrap().block_on(async move {
                let connect = |dbname: String| {
                    let mut c = tokio_postgres::Config::new();
                    c.host(&setup["POSTGRES_HOST"])
                        .port(setup["POSTGRES_PORT"].parse().unwrap())
                        .user(&setup["POSTGRES_USER"])
                        .password(setup["POSTGRES_PASSWORD"].as_bytes())
                        .dbname(&dbname);
                    async move {
                        let (client, conn) = c.connect(tokio_postgres::NoTls).await.expect("PostgreSQL");
                        tokio::spawn(conn);
                        client
                    }
                };
                // The sinks write to a database of their own: the CDC
                // source's example reads every table of its database.
                let admin = connect("postgres".into()).await;
                for db in [name.clone(), format!("{name}_sink")] {
                    admin
                        .batch_execute(&format!("CREATE DATABASE {db}"))
                        .await
                        .expect("creating the compliance databases");
                }
                connect(name)
                    .await
                    .batch_execute("CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items VALUES (1, 'one')")
                    .await
                    .expect("creating the compliance table");
            })
        })
        .join()
        .expect("setting the compliance database up");
        (pg, db)
    })
}

/// Records a sink's example config can write: rows with a schema for the
/// JDBC sinks, lines for the rest.
fn example_records(class: &str) -> Vec<SinkRecord> {
    use crate::connect::{SchemaBuilder, Struct};
    let jdbc = matches!(
        class,
        super::jdbc_sink::CONFLUENT_CLASS | super::jdbc_sink::DEBEZIUM_CLASS
    );
    let schema = SchemaBuilder::struct_()
        .field("id", SchemaBuilder::int64().build())
        .field("v", SchemaBuilder::string().build())
        .build();
    (0..10)
        .map(|i| {
            let record = if jdbc {
                let row = Struct::new(schema.clone())
                    .put("id", Value::Int64(i))
                    .and_then(|s| s.put("v", Value::from(format!("r{i}"))))
                    .expect("an example row");
                ConnectRecord::new("compliance", Some(schema.clone()), Value::Struct(row))
            } else {
                ConnectRecord::new("compliance", None, Value::from(format!("r{i}")))
            };
            SinkRecord {
                record,
                kafka_partition: 0,
                kafka_offset: i,
            }
        })
        .collect()
}

/// The example with the framework's keys, as a user would submit it.
fn full_config(plugin: &Plugin, own: &Props) -> Props {
    let mut props = own.clone();
    props.insert("name".into(), "compliance".into());
    props.insert("connector.class".into(), plugin.class.into());
    props.insert("tasks.max".into(), "3".into());
    props
}

struct Committed(BTreeMap<String, OffsetMap>);

impl OffsetReader for Committed {
    fn offset(&self, partition: &OffsetMap) -> Option<OffsetMap> {
        self.0.get(&serde_json::to_string(partition).ok()?).cloned()
    }
}

fn source_context(committed: BTreeMap<String, OffsetMap>) -> SourceTaskContext {
    SourceTaskContext::new(Arc::new(Committed(committed)), PluginMetrics::detached())
}

#[test]
fn every_built_in_connector_has_an_example_config() {
    let scratch = tempfile::tempdir().unwrap();
    for plugin in plugins() {
        assert!(
            example(plugin.class, scratch.path()).is_some(),
            "{}: add an example config to src/connectors/compliance.rs",
            plugin.class
        );
    }
}

#[test]
fn configs_are_declared_documented_and_validated_offline_naming_the_key() {
    for plugin in plugins() {
        let scratch = tempfile::tempdir().unwrap();
        let own = example(plugin.class, scratch.path()).unwrap();
        let connector = (plugin.create)();
        let def = connector.as_connector().config_def();
        for key in def.keys() {
            assert!(
                !key.doc.trim().is_empty(),
                "{}: {} has no doc",
                plugin.class,
                key.name
            );
        }
        // The example is valid, for the connector and the framework.
        assert_eq!(
            connector.as_connector().validate(&own),
            vec![],
            "{}",
            plugin.class
        );
        let full = full_config(plugin, &own);
        if let Err(e) = connector_config::validate(&full) {
            panic!("{}: the example is rejected: {e}", plugin.class);
        }
        // Each required key, left out, is named by the error.
        for key in def.keys().iter().filter(|k| k.default.is_none()) {
            let mut missing = full.clone();
            missing.remove(key.name);
            let errors = connector.as_connector().validate(&missing);
            assert!(
                errors.iter().any(|e| e.key == key.name),
                "{}: leaving out {} gives {errors:?}",
                plugin.class,
                key.name
            );
            let err = connector_config::validate(&missing).err().unwrap();
            assert_eq!(
                err.key.as_deref(),
                Some(key.name),
                "{}: {err}",
                plugin.class
            );
        }
        // A mistyped value is named too.
        for key in def.keys() {
            let wrong = match key.ty {
                crate::connect::ConfigType::Int
                | crate::connect::ConfigType::Long
                | crate::connect::ConfigType::Double => "not-a-number",
                crate::connect::ConfigType::Boolean => "maybe",
                _ => continue,
            };
            let mut bad = full.clone();
            bad.insert(key.name.into(), wrong.into());
            let err = connector_config::validate(&bad).err().unwrap();
            assert_eq!(
                err.key.as_deref(),
                Some(key.name),
                "{}: {err}",
                plugin.class
            );
        }
    }
}

#[tokio::test]
async fn connectors_start_split_stop_and_restart_the_same_way() {
    for plugin in plugins() {
        let scratch = tempfile::tempdir().unwrap();
        let own = example(plugin.class, scratch.path()).unwrap();
        let props = full_config(plugin, &own);
        let mut connector = (plugin.create)();
        assert_eq!(connector.kind(), plugin.kind);
        let ctx = DetachedContext::new();
        connector
            .as_connector_mut()
            .start(ctx.clone(), &props)
            .await
            .unwrap_or_else(|e| panic!("{}: start: {e}", plugin.class));
        let first = connector.as_connector().task_configs(3).await.unwrap();
        assert!(
            !first.is_empty() && first.len() <= 3,
            "{}: {} task configs for tasks.max=3",
            plugin.class,
            first.len()
        );
        connector.as_connector_mut().stop().await.unwrap();
        // A restarted instance splits the job the same way: tasks are
        // stateless and may be placed anywhere.
        connector
            .as_connector_mut()
            .start(ctx.clone(), &props)
            .await
            .unwrap();
        assert_eq!(
            connector.as_connector().task_configs(3).await.unwrap(),
            first
        );
        connector.as_connector_mut().stop().await.unwrap();
        assert!(
            ctx.errors().is_empty(),
            "{}: {:?}",
            plugin.class,
            ctx.errors()
        );
    }
}

#[tokio::test]
async fn source_tasks_resume_at_committed_offsets_and_stop_in_time() {
    for plugin in plugins() {
        let AnyConnector::Source(mut connector) = (plugin.create)() else {
            continue;
        };
        let scratch = tempfile::tempdir().unwrap();
        let props = full_config(plugin, &example(plugin.class, scratch.path()).unwrap());
        connector
            .start(DetachedContext::new(), &props)
            .await
            .unwrap();
        for task_config in connector.task_configs(3).await.unwrap() {
            // First run: records, each with where it came from.
            let mut task = connector.create_task();
            task.start(source_context(BTreeMap::new()), &task_config)
                .await
                .unwrap();
            let mut seen: HashSet<String> = HashSet::new();
            let mut committed: BTreeMap<String, OffsetMap> = BTreeMap::new();
            let deadline = tokio::time::Instant::now() + FIRST_RECORDS;
            while seen.is_empty() && tokio::time::Instant::now() < deadline {
                for r in task.poll().await.unwrap() {
                    assert!(
                        !r.source_partition.is_empty(),
                        "{}: a record without source partition",
                        plugin.class
                    );
                    let key = serde_json::to_string(&*r.source_partition).unwrap();
                    assert!(
                        seen.insert(format!("{key}@{}", json!(r.source_offset))),
                        "{}: one offset handed out twice",
                        plugin.class
                    );
                    committed.insert(key, r.source_offset.clone());
                }
            }
            assert!(
                !seen.is_empty(),
                "{}: no records within {FIRST_RECORDS:?}",
                plugin.class
            );
            let entries: Vec<(OffsetMap, OffsetMap)> = committed
                .iter()
                .map(|(p, o)| (serde_json::from_str(p).unwrap(), o.clone()))
                .collect();
            task.commit(&entries).await.unwrap();
            // KIP-875: a user may set the offsets the task itself wrote, or
            // reset them.
            let altered: Vec<(OffsetMap, Option<OffsetMap>)> = entries
                .iter()
                .map(|(p, o)| (p.clone(), Some(o.clone())))
                .chain(entries.iter().map(|(p, _)| (p.clone(), None)))
                .collect();
            if let Err(e) = connector.alter_offsets(&props, &altered).await {
                panic!(
                    "{}: alter_offsets refused the task's own offsets: {}",
                    plugin.class,
                    e.trace()
                );
            }
            tokio::time::timeout(GRACEFUL_STOP, task.stop())
                .await
                .unwrap_or_else(|_| {
                    panic!("{}: stop took longer than {GRACEFUL_STOP:?}", plugin.class)
                })
                .unwrap();

            // A new run at the committed offsets hands out nothing again.
            let mut resumed = connector.create_task();
            resumed
                .start(source_context(committed), &task_config)
                .await
                .unwrap();
            let until = tokio::time::Instant::now() + Duration::from_millis(500);
            while tokio::time::Instant::now() < until {
                for r in resumed.poll().await.unwrap() {
                    let key = serde_json::to_string(&*r.source_partition).unwrap();
                    assert!(
                        !seen.contains(&format!("{key}@{}", json!(r.source_offset))),
                        "{}: a record committed before was handed out again after the restart",
                        plugin.class
                    );
                }
            }
            tokio::time::timeout(GRACEFUL_STOP, resumed.stop())
                .await
                .unwrap()
                .unwrap();
        }
        connector.stop().await.unwrap();
    }
}

#[tokio::test]
async fn sink_tasks_commit_only_what_they_were_given_and_stop_in_time() {
    for plugin in plugins() {
        let AnyConnector::Sink(mut connector) = (plugin.create)() else {
            continue;
        };
        let scratch = tempfile::tempdir().unwrap();
        let props = full_config(plugin, &example(plugin.class, scratch.path()).unwrap());
        connector
            .start(DetachedContext::new(), &props)
            .await
            .unwrap();
        for task_config in connector.task_configs(3).await.unwrap() {
            let mut task = connector.create_task();
            let (ctx, _control) = SinkTaskContext::new(PluginMetrics::detached(), None);
            task.start(ctx, &task_config).await.unwrap();
            let tp = TopicPartition::new("compliance", 0);
            task.open(std::slice::from_ref(&tp)).await.unwrap();
            task.put(example_records(plugin.class))
                .await
                .unwrap_or_else(|e| panic!("{}: put: {}", plugin.class, e.trace()));
            let consumed = [(tp.clone(), 10)].into_iter().collect();
            let safe = task.pre_commit(consumed).await.unwrap();
            for (p, next) in &safe {
                assert_eq!(
                    p, &tp,
                    "{}: committed a partition it was not given",
                    plugin.class
                );
                assert!(
                    *next <= 10,
                    "{}: committed past what it was given",
                    plugin.class
                );
            }
            task.close(std::slice::from_ref(&tp)).await.unwrap();
            tokio::time::timeout(GRACEFUL_STOP, task.stop())
                .await
                .unwrap_or_else(|_| {
                    panic!("{}: stop took longer than {GRACEFUL_STOP:?}", plugin.class)
                })
                .unwrap();
        }
        connector.stop().await.unwrap();
    }
}
