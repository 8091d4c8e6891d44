//! The PostgreSQL CDC source end to end: a real PostgreSQL 15
//! (tests/env/postgres.sh, wal_level=logical), the real broker, the
//! `kconnect standalone` binary with Debezium's class name and keys, and
//! JsonConverter. A snapshot of existing rows, then inserts, updates,
//! deletes (with tombstones) and a primary-key change streamed; a restart
//! resumes from the stored offset with nothing lost; the slot's confirmed
//! position follows the offsets Kafka holds.

mod support;

use std::path::Path;
use std::time::Duration;

use serde_json::Value as Json;
use support::postgres::{connect, create_database, drop_database};
use support::*;

fn worker(dir: &Path) -> std::path::PathBuf {
    worker_on(dir, free_port())
}

fn worker_on(dir: &Path, port: u16) -> std::path::PathBuf {
    let path = dir.join("worker.properties");
    write_props(
        &path,
        &[
            ("bootstrap.servers", kafka_bootstrap()),
            (
                "offset.storage.file.filename",
                dir.join("offsets").display().to_string(),
            ),
            ("offset.flush.interval.ms", "300".into()),
            ("listeners", format!("http://127.0.0.1:{port}")),
        ],
    );
    path
}

/// The value of the metric line that starts with `name{` and has every
/// label in `labels`.
fn metric(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .find(|l| labels.iter().all(|lab| l.contains(lab)))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

fn connector(dir: &Path, db: &str, prefix: &str) -> std::path::PathBuf {
    connector_with(dir, db, prefix, &[])
}

fn connector_with(
    dir: &Path,
    db: &str,
    prefix: &str,
    extra: &[(&'static str, String)],
) -> std::path::PathBuf {
    let pg = postgres();
    let path = dir.join("postgres.properties");
    let mut props = vec![
        ("name", format!("{prefix}-cdc")),
        (
            "connector.class",
            "io.debezium.connector.postgresql.PostgresConnector".into(),
        ),
        ("tasks.max", "1".into()),
        ("database.hostname", pg["POSTGRES_HOST"].clone()),
        ("database.port", pg["POSTGRES_PORT"].clone()),
        ("database.user", pg["POSTGRES_USER"].clone()),
        ("database.password", pg["POSTGRES_PASSWORD"].clone()),
        ("database.dbname", db.into()),
        ("database.sslmode", "disable".into()),
        ("topic.prefix", prefix.into()),
        ("plugin.name", "pgoutput".into()),
        ("slot.name", prefix.replace('-', "_")),
        (
            "publication.name",
            format!("{}_pub", prefix.replace('-', "_")),
        ),
        ("publication.autocreate.mode", "filtered".into()),
        ("table.include.list", "public\\.orders".into()),
        ("poll.interval.ms", "100".into()),
        ("skipped.operations", "none".into()),
    ];
    props.extend(extra.iter().cloned());
    write_props(&path, &props);
    path
}

/// The records of the table's topic: (key, value) as JSON, `Json::Null`
/// for a tombstone's value.
fn events(topic: &str) -> Vec<(Json, Json)> {
    read_topic_records(topic)
        .into_iter()
        .map(|(k, v)| {
            let parse = |b: Option<Vec<u8>>| {
                b.map_or(Json::Null, |b| serde_json::from_slice(&b).expect("JSON"))
            };
            (parse(k), parse(v))
        })
        .collect()
}

fn op_and_id(e: &(Json, Json)) -> (String, i64) {
    let id = e.0["payload"]["id"].as_i64().unwrap_or(-1);
    match e.1["payload"]["op"].as_str() {
        Some(op) => (op.to_owned(), id),
        None => ("tombstone".to_owned(), id),
    }
}

async fn wait_for_events(topic: &str, n: usize, proc: &mut Process) -> Vec<(Json, Json)> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        proc.assert_running();
        let got = if topic_exists(topic) {
            events(topic)
        } else {
            Vec::new()
        };
        if got.len() >= n {
            return got;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {n} events on {topic}: {:?}; log:\n{}",
            got.len(),
            got.iter().map(op_and_id).collect::<Vec<_>>(),
            proc.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn topic_exists(topic: &str) -> bool {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", kafka_bootstrap())
        .create()
        .expect("consumer");
    consumer
        .fetch_metadata(Some(topic), Duration::from_secs(5))
        .is_ok_and(|m| {
            m.topics()
                .iter()
                .any(|t| t.name() == topic && t.error().is_none())
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_then_stream_then_resume() {
    let prefix = unique("cdc");
    let db = prefix.replace('-', "_");
    create_database(&db).await;
    let pg = connect(&db).await;
    pg.batch_execute(
        "CREATE TABLE public.orders (id int PRIMARY KEY, customer text NOT NULL,
           amount numeric(10,2), placed date, status text DEFAULT 'new');
         CREATE TABLE public.ignored (id int PRIMARY KEY);
         INSERT INTO orders VALUES (1, 'alice', 12.50, '2024-01-02', 'paid'), (2, 'bob', 3.00, NULL, DEFAULT);
         INSERT INTO ignored VALUES (1);",
    )
    .await
    .expect("creating the tables");
    let topic = format!("{prefix}.public.orders");
    create_topic(&topic, 1);

    let dir = tempfile::tempdir().expect("tempdir");
    let rest_port = free_port();
    let worker = worker_on(dir.path(), rest_port);
    let source = connector(dir.path(), &db, &prefix);
    let mut proc = Process::standalone(dir.path(), &[&worker, &source], "pg-cdc");

    // The snapshot: both rows as reads, the last one marked so.
    let got = wait_for_events(&topic, 2, &mut proc).await;
    assert_eq!(
        got.iter().map(op_and_id).collect::<Vec<_>>(),
        [("r".to_owned(), 1), ("r".to_owned(), 2)]
    );
    let first = &got[0].1["payload"];
    assert_eq!(first["after"]["customer"], "alice");
    assert_eq!(first["after"]["amount"], "BOI="); // 12.50 as Connect Decimal bytes
    assert_eq!(first["after"]["placed"], 19724);
    assert_eq!(first["source"]["snapshot"], "first");
    assert_eq!(got[1].1["payload"]["source"]["snapshot"], "last");
    assert_eq!(got[1].1["payload"]["after"]["status"], "new");
    assert_eq!(
        got[0].1["schema"]["name"],
        format!("{prefix}.public.orders.Envelope")
    );
    assert_eq!(
        got[0].0["schema"]["name"],
        format!("{prefix}.public.orders.Key")
    );

    // Streaming: insert, update, delete (+ tombstone), a primary-key change.
    pg.batch_execute(
        "INSERT INTO orders VALUES (3, 'carol', 7.25, '2024-02-03', 'new');
         UPDATE orders SET amount = 8.00 WHERE id = 3;
         DELETE FROM orders WHERE id = 2;
         UPDATE orders SET id = 10 WHERE id = 1;
         INSERT INTO ignored VALUES (2);",
    )
    .await
    .expect("changing rows");
    let got = wait_for_events(&topic, 9, &mut proc).await;
    let ops: Vec<(String, i64)> = got[2..].iter().map(op_and_id).collect();
    assert_eq!(
        ops,
        [
            ("c".to_owned(), 3),
            ("u".to_owned(), 3),
            ("d".to_owned(), 2),
            ("tombstone".to_owned(), 2),
            ("d".to_owned(), 1),
            ("tombstone".to_owned(), 1),
            ("c".to_owned(), 10),
        ],
        "in order, once each"
    );
    let update = &got[3].1["payload"];
    assert_eq!(update["before"], Json::Null, "default replica identity");
    assert_eq!(update["after"]["amount"], "AyA="); // 8.00
    assert_eq!(update["source"]["snapshot"], "false");
    assert!(update["source"]["lsn"].as_i64().unwrap() > 0);
    assert!(update["source"]["txId"].as_i64().unwrap() > 0);
    // Debezium's metrics, under the names Strimzi's exporter gives them.
    let text = ureq::get(&format!("http://127.0.0.1:{rest_port}/metrics"))
        .call()
        .expect("GET /metrics")
        .body_mut()
        .read_to_string()
        .expect("metrics text");
    let name = format!("name=\"{prefix}\"");
    let snapshot = [name.as_str(), "context=\"snapshot\"", "plugin=\"postgres\""];
    let streaming = [
        name.as_str(),
        "context=\"streaming\"",
        "plugin=\"postgres\"",
    ];
    assert_eq!(
        metric(&text, "debezium_metrics_SnapshotCompleted", &snapshot),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "debezium_metrics_TotalNumberOfEventsSeen_total",
            &snapshot
        ),
        Some(2.0)
    );
    assert_eq!(
        metric(&text, "debezium_metrics_Connected", &streaming),
        Some(1.0)
    );
    assert!(
        metric(
            &text,
            "debezium_metrics_TotalNumberOfEventsSeen_total",
            &streaming
        )
        .unwrap_or(0.0)
            >= 4.0
    );
    assert!(metric(
        &text,
        "debezium_metrics_MilliSecondsBehindSource",
        &streaming
    )
    .is_some());
    let delete = &got[4].1["payload"];
    assert_eq!(delete["before"]["id"], 2);
    assert_eq!(
        delete["before"]["customer"], "",
        "NOT NULL columns get the type's zero"
    );
    assert_eq!(delete["before"]["status"], "new", "the column default");

    // ALTER TABLE mid-stream: the next events carry the new column; with
    // REPLICA IDENTITY FULL an update has its whole before image.
    pg.batch_execute(
        "ALTER TABLE orders ADD COLUMN note text;
         INSERT INTO orders VALUES (5, 'erin', 2.00, NULL, 'new', 'hello');
         ALTER TABLE orders REPLICA IDENTITY FULL;
         UPDATE orders SET note = 'changed' WHERE id = 5;",
    )
    .await
    .expect("altering the table");
    let got = wait_for_events(&topic, 11, &mut proc).await;
    assert_eq!(
        got[9..].iter().map(op_and_id).collect::<Vec<_>>(),
        [("c".to_owned(), 5), ("u".to_owned(), 5)]
    );
    assert_eq!(got[9].1["payload"]["after"]["note"], "hello");
    let fields: Vec<&str> = got[9].1["schema"]["fields"][1]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert_eq!(
        fields.last(),
        Some(&"note"),
        "the new column is in the schema"
    );
    assert_eq!(
        got[10].1["payload"]["before"]["note"], "hello",
        "a full before image"
    );
    assert_eq!(got[10].1["payload"]["after"]["note"], "changed");

    // Stop; change while it is down; start again: it resumes, nothing lost.
    let status = proc.terminate();
    assert!(status.success(), "log:\n{}", proc.log_tail());
    pg.batch_execute("INSERT INTO orders VALUES (4, 'dave', 1.00, NULL, 'new'); UPDATE orders SET status = 'sent' WHERE id = 3;")
        .await
        .expect("changing rows while stopped");
    let mut proc = Process::standalone(dir.path(), &[&worker, &source], "pg-cdc-2");
    let got = wait_for_events(&topic, 13, &mut proc).await;
    let resumed: Vec<(String, i64)> = got[11..].iter().map(op_and_id).collect();
    // At least once: the last event before the stop may come again, never
    // a gap, and no snapshot is taken again.
    assert!(
        resumed.ends_with(&[("c".to_owned(), 4), ("u".to_owned(), 3)]),
        "resumed with {resumed:?}"
    );
    assert!(
        !resumed.iter().any(|(op, _)| op == "r"),
        "no second snapshot: {resumed:?}"
    );

    // The slot's confirmed position follows what Kafka holds.
    let slot = prefix.replace('-', "_");
    let confirmed = || async {
        connect("postgres")
            .await
            .query_one(
                "SELECT (confirmed_flush_lsn - '0/0')::bigint FROM pg_replication_slots WHERE slot_name = $1",
                &[&slot],
            )
            .await
            .expect("the slot")
            .get::<_, i64>(0)
    };
    // The newest stored offset's lsn_commit: the end of the transaction
    // before the last event's (its own commit is confirmed with the next
    // event, as in Debezium without heartbeats).
    let source = &got.last().unwrap().1["payload"]["source"];
    let sequence: Vec<Option<String>> =
        serde_json::from_str(source["sequence"].as_str().unwrap()).unwrap();
    let last_commit: i64 = sequence[0]
        .as_deref()
        .expect("a commit before")
        .parse()
        .unwrap();
    let last_lsn = source["lsn"].as_i64().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let c = confirmed().await;
        assert!(
            c <= last_lsn,
            "the slot ({c}) passed an unacknowledged change ({last_lsn})"
        );
        if c >= last_commit {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "slot at {c}, want {last_commit}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A truncate, as skipped.operations=none lets through: no key.
    pg.batch_execute("TRUNCATE orders")
        .await
        .expect("truncating");
    let got = wait_for_events(&topic, got.len() + 1, &mut proc).await;
    let truncate = got.last().unwrap();
    assert_eq!(truncate.1["payload"]["op"], "t");
    assert_eq!(truncate.0, Json::Null);
    let status = proc.terminate();
    assert!(status.success(), "log:\n{}", proc.log_tail());
    let admin = connect("postgres").await;
    drop(pg);
    admin
        .batch_execute(&format!("SELECT pg_drop_replication_slot('{slot}')"))
        .await
        .expect("dropping the slot");
    drop_database(&db, &[]).await;
}

/// kill -9 of the worker while changes stream: after a restart every change
/// is there (at least once), and the slot's confirmed position never passed
/// a change that was not in Kafka.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_stream_loses_nothing() {
    const ROWS: i64 = 3000;
    let prefix = unique("cdc-kill");
    let db = prefix.replace('-', "_");
    create_database(&db).await;
    let pg = connect(&db).await;
    pg.batch_execute("CREATE TABLE public.orders (id int PRIMARY KEY, customer text NOT NULL)")
        .await
        .expect("creating the table");
    let topic = format!("{prefix}.public.orders");
    create_topic(&topic, 1);
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = worker(dir.path());
    let source = connector(dir.path(), &db, &prefix);
    let mut proc = Process::standalone(dir.path(), &[&worker, &source], "pg-kill");
    // The (empty) snapshot done and streaming: the slot exists.
    let slot = prefix.replace('-', "_");
    let admin = connect("postgres").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while admin
        .query_opt(
            "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active",
            &[&slot],
        )
        .await
        .expect("slots")
        .is_none()
    {
        proc.assert_running();
        assert!(
            std::time::Instant::now() < deadline,
            "the slot never became active"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Transactions of 50 rows; the worker is killed half way through.
    let writer = tokio::spawn(async move {
        for batch in 0..ROWS / 50 {
            let values: Vec<String> = (batch * 50..batch * 50 + 50)
                .map(|i| format!("({i}, 'c{i}')"))
                .collect();
            pg.batch_execute(&format!("INSERT INTO orders VALUES {}", values.join(",")))
                .await
                .expect("inserting");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !topic_exists(&topic) || events(&topic).len() < (ROWS / 3) as usize {
        assert!(
            std::time::Instant::now() < deadline,
            "no progress before the kill"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    proc.kill9();
    let confirmed_at_kill: i64 = admin
        .query_one(
            "SELECT (confirmed_flush_lsn - '0/0')::bigint FROM pg_replication_slots WHERE slot_name = $1",
            &[&slot],
        )
        .await
        .expect("the slot")
        .get(0);
    let delivered = events(&topic);
    // Every change at or before the confirmed position is in Kafka.
    let max_delivered_lsn = delivered
        .iter()
        .filter_map(|e| e.1["payload"]["source"]["lsn"].as_i64())
        .max()
        .unwrap_or(0);
    assert!(
        confirmed_at_kill <= max_delivered_lsn,
        "the slot ({confirmed_at_kill}) passed what Kafka holds ({max_delivered_lsn})"
    );
    writer.await.expect("the writer");

    let mut proc = Process::standalone(dir.path(), &[&worker, &source], "pg-kill-2");
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        proc.assert_running();
        let ids: std::collections::BTreeSet<i64> = events(&topic)
            .iter()
            .filter_map(|e| e.1["payload"]["after"]["id"].as_i64())
            .collect();
        if ids.len() as i64 == ROWS {
            assert_eq!(ids.iter().next(), Some(&0));
            assert_eq!(ids.iter().last(), Some(&(ROWS - 1)));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {ROWS} rows after the restart; log:\n{}",
            ids.len(),
            proc.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    proc.terminate();
    admin
        .batch_execute(&format!("SELECT pg_drop_replication_slot('{slot}')"))
        .await
        .expect("dropping the slot");
    drop_database(&db, &[]).await;
}

/// With heartbeats, the slot is confirmed up to the last commit even when
/// no further change comes; the heartbeat records are Debezium's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_confirm_the_last_commit() {
    let prefix = unique("cdc-beat");
    let db = prefix.replace('-', "_");
    create_database(&db).await;
    let pg = connect(&db).await;
    pg.batch_execute("CREATE TABLE public.orders (id int PRIMARY KEY, customer text NOT NULL)")
        .await
        .expect("creating the table");
    let topic = format!("{prefix}.public.orders");
    create_topic(&topic, 1);
    let beats = format!("__debezium-heartbeat.{prefix}");
    create_topic(&beats, 1);
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = worker(dir.path());
    let source = connector_with(
        dir.path(),
        &db,
        &prefix,
        &[("heartbeat.interval.ms", "200".into())],
    );
    let mut proc = Process::standalone(dir.path(), &[&worker, &source], "pg-beat");
    let slot = prefix.replace('-', "_");
    let admin = connect("postgres").await;
    let active = "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active";
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while admin
        .query_opt(active, &[&slot])
        .await
        .expect("slots")
        .is_none()
    {
        proc.assert_running();
        assert!(
            std::time::Instant::now() < deadline,
            "the slot never became active"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    pg.batch_execute("INSERT INTO orders VALUES (1, 'alice')")
        .await
        .expect("inserting");
    let got = wait_for_events(&topic, 1, &mut proc).await;
    let lsn = got[0].1["payload"]["source"]["lsn"].as_i64().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let confirmed: i64 = admin
            .query_one(
                "SELECT (confirmed_flush_lsn - '0/0')::bigint FROM pg_replication_slots WHERE slot_name = $1",
                &[&slot],
            )
            .await
            .expect("the slot")
            .get(0);
        if confirmed > lsn {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the slot stays at {confirmed}, the change was at {lsn}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let beat = &events(&beats)[0];
    assert_eq!(
        beat.0["schema"]["name"],
        "io.debezium.connector.common.ServerNameKey"
    );
    assert_eq!(beat.0["payload"]["serverName"], prefix.as_str());
    assert_eq!(
        beat.1["schema"]["name"],
        "io.debezium.connector.common.Heartbeat"
    );
    assert!(beat.1["payload"]["ts_ms"].as_i64().unwrap() > 0);
    proc.terminate();
    admin
        .batch_execute(&format!("SELECT pg_drop_replication_slot('{slot}')"))
        .await
        .expect("dropping the slot");
    drop_database(&db, &[]).await;
}

/// Through the operator: a Connector resource with Debezium's class, its
/// database password from a Secret mounted into the workers (never in the
/// resource or the config topic), runs and reports RUNNING; changes reach
/// Kafka.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn through_the_operator_with_the_password_from_a_secret() {
    use k8s_openapi::api::core::v1::Secret;
    use kconnect::api::{ConnectCluster, ConnectState, Connector, CLUSTER_LABEL};
    use kube::api::{Api, PostParams};
    use support::k8s;
    use support::kubelet::Kubelet;

    let pgenv = postgres();
    let prefix = unique("cdc-op");
    let db = prefix.replace('-', "_");
    create_database(&db).await;
    let pg = connect(&db).await;
    pg.batch_execute(
        "CREATE TABLE public.orders (id int PRIMARY KEY, customer text NOT NULL);
         INSERT INTO orders VALUES (1, 'alice');",
    )
    .await
    .expect("creating the table");
    let topic = format!("{prefix}.public.orders");
    create_topic(&topic, 1);

    let client = k8s::client().await;
    k8s::install_crds(&client).await;
    let ns = k8s::namespace(&client, "pg").await;
    let pp = PostParams::default();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let secret: Secret = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "pg-credentials", "namespace": ns},
        "stringData": {"password": pgenv["POSTGRES_PASSWORD"]}
    }))
    .expect("Secret");
    secrets
        .create(&pp, &secret)
        .await
        .expect("creating the Secret");

    let kubelet = Kubelet::start(client.clone(), &ns).await;
    let mut operator = Process::spawn(
        &kubelet.log_dir,
        &[
            "operator",
            "--namespace",
            &ns,
            "--lease-namespace",
            &ns,
            "--heartbeat-timeout-ms",
            "3000",
        ],
        &[
            (
                "KUBECONFIG",
                k8s::kubeconfig().to_string_lossy().into_owned(),
            ),
            ("POD_NAME", "operator-0".into()),
        ],
        "operator",
    );
    let clusters: Api<ConnectCluster> = Api::namespaced(client.clone(), &ns);
    let connectors: Api<Connector> = Api::namespaced(client.clone(), &ns);
    let cc: ConnectCluster = serde_json::from_value(serde_json::json!({
        "apiVersion": "kconnect.dev/v1alpha1",
        "kind": "ConnectCluster",
        "metadata": {"name": "cdc", "namespace": ns},
        "spec": {
            "replicas": 1,
            "bootstrapServers": kafka_bootstrap(),
            "secrets": [{"secretName": "pg-credentials"}],
            "config": {
                "config.providers": "dir",
                "config.providers.dir.class": "org.apache.kafka.common.config.provider.DirectoryConfigProvider",
                "config.storage.replication.factor": "1",
                "offset.storage.replication.factor": "1",
                "offset.storage.partitions": "2",
                "status.storage.replication.factor": "1",
                "status.storage.partitions": "2",
                "worker.sync.interval.ms": "200",
                "worker.heartbeat.interval.ms": "300",
                "offset.flush.interval.ms": "500"
            }
        }
    }))
    .expect("ConnectCluster");
    clusters
        .create(&pp, &cc)
        .await
        .expect("creating the ConnectCluster");
    let slot = prefix.replace('-', "_");
    let connector: Connector = serde_json::from_value(serde_json::json!({
        "apiVersion": "kconnect.dev/v1alpha1",
        "kind": "Connector",
        "metadata": {"name": "orders-cdc", "namespace": ns, "labels": {CLUSTER_LABEL: "cdc"}},
        "spec": {
            "class": "io.debezium.connector.postgresql.PostgresConnector",
            "tasksMax": 1,
            "config": {
                "database.hostname": pgenv["POSTGRES_HOST"],
                "database.port": pgenv["POSTGRES_PORT"],
                "database.user": pgenv["POSTGRES_USER"],
                "database.password": "${dir:/etc/kconnect/secrets/pg-credentials:password}",
                "database.dbname": db,
                "database.sslmode": "disable",
                "topic.prefix": prefix,
                "slot.name": slot,
                "publication.name": format!("{slot}_pub"),
                "publication.autocreate.mode": "filtered",
                "table.include.list": "public\\.orders"
            }
        }
    }))
    .expect("Connector");
    connectors
        .create(&pp, &connector)
        .await
        .expect("creating the Connector");

    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        operator.assert_running();
        let c = connectors.get("orders-cdc").await.expect("the Connector");
        let running = c.status.as_ref().is_some_and(|s| {
            !s.tasks.is_empty() && s.tasks.iter().all(|t| t.state == ConnectState::Running)
        });
        if running {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the Connector never ran: {:?}\noperator log:\n{}",
            c.status,
            operator.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // The snapshot first (RUNNING comes before it ends), then a change.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !topic_exists(&topic) || events(&topic).is_empty() {
        assert!(std::time::Instant::now() < deadline, "no snapshot record");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    pg.batch_execute("INSERT INTO orders VALUES (2, 'bob')")
        .await
        .expect("inserting");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let got = if topic_exists(&topic) {
            events(&topic)
        } else {
            Vec::new()
        };
        let ops: Vec<(String, i64)> = got.iter().map(op_and_id).collect();
        if ops == [("r".to_owned(), 1), ("c".to_owned(), 2)] {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "events: {ops:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // The password is in neither the resource nor anything it reports.
    let c = connectors.get("orders-cdc").await.expect("the Connector");
    let text = serde_json::to_string(&c).unwrap();
    assert!(!text.contains(&pgenv["POSTGRES_PASSWORD"]), "{text}");

    operator.terminate();
    kubelet.shutdown().await;
    drop(pg);
    drop_database(&db, &[&slot]).await;
}

/// A TLS case: its name, the environment keys of its user and password,
/// its TLS keys.
type TlsCase = (
    &'static str,
    &'static str,
    &'static str,
    Vec<(&'static str, String)>,
);

/// `database.sslmode` as pgjdbc means it, against a server whose TLS-only
/// roles prove the encryption: `kconnect_tls` is refused without TLS,
/// `kconnect_cert` logs in by client certificate only (both for the
/// snapshot session and the replication stream). verify-full by name,
/// verify-ca with a client certificate, and the failures: a CA that did
/// not sign the server's certificate, and no TLS for a TLS-only role.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_per_sslmode_and_client_certificates() {
    let pg_env = postgres();
    let prefix = unique("tls");
    let db = prefix.replace('-', "_");
    create_database(&db).await;
    let pg = connect(&db).await;
    pg.batch_execute(
        "CREATE TABLE public.orders (id int PRIMARY KEY, customer text NOT NULL);
         INSERT INTO orders VALUES (1, 'alice');",
    )
    .await
    .expect("creating the table");

    let dir = tempfile::tempdir().expect("tempdir");
    let rest_port = free_port();
    let worker = worker_on(dir.path(), rest_port);
    let cases: [TlsCase; 4] = [
        (
            "full",
            "POSTGRES_TLS_USER",
            "POSTGRES_TLS_PASSWORD",
            vec![
                ("database.hostname", "localhost".into()),
                ("database.sslmode", "verify-full".into()),
                ("database.sslrootcert", pg_env["POSTGRES_TLS_CA"].clone()),
            ],
        ),
        (
            "cert",
            "POSTGRES_CERT_USER",
            "",
            vec![
                ("database.sslmode", "verify-ca".into()),
                ("database.sslrootcert", pg_env["POSTGRES_TLS_CA"].clone()),
                ("database.sslcert", pg_env["POSTGRES_CERT_FILE"].clone()),
                ("database.sslkey", pg_env["POSTGRES_CERT_KEY"].clone()),
            ],
        ),
        (
            "wrongca",
            "POSTGRES_TLS_USER",
            "POSTGRES_TLS_PASSWORD",
            vec![
                ("database.hostname", "localhost".into()),
                ("database.sslmode", "verify-full".into()),
                (
                    "database.sslrootcert",
                    pg_env["POSTGRES_TLS_OTHER_CA"].clone(),
                ),
            ],
        ),
        (
            "plain",
            "POSTGRES_TLS_USER",
            "POSTGRES_TLS_PASSWORD",
            vec![("database.sslmode", "disable".into())],
        ),
    ];
    let mut files = vec![worker];
    for (name, user, password, tls) in &cases {
        let case_prefix = format!("{prefix}-{name}");
        let case_dir = dir.path().join(name);
        std::fs::create_dir_all(&case_dir).expect("creating a case dir");
        let mut extra = vec![
            ("database.user", pg_env[*user].clone()),
            (
                "database.password",
                pg_env.get(*password).cloned().unwrap_or_default(),
            ),
        ];
        extra.extend(tls.iter().cloned());
        files.push(connector_with(&case_dir, &db, &case_prefix, &extra));
        if matches!(*name, "full" | "cert") {
            create_topic(&format!("{case_prefix}.public.orders"), 1);
        }
    }
    let args: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let mut proc = Process::standalone(dir.path(), &args, "pg-cdc-tls");

    for name in ["full", "cert"] {
        let topic = format!("{prefix}-{name}.public.orders");
        let got = wait_for_events(&topic, 1, &mut proc).await;
        assert_eq!(got[0].1["payload"]["after"]["customer"], "alice", "{name}");
    }
    // Streamed over the TLS replication connection too.
    pg.batch_execute("INSERT INTO orders VALUES (2, 'bob')")
        .await
        .expect("inserting");
    for name in ["full", "cert"] {
        let topic = format!("{prefix}-{name}.public.orders");
        let got = wait_for_events(&topic, 2, &mut proc).await;
        assert_eq!(got[1].1["payload"]["op"], "c", "{name}");
        assert_eq!(got[1].1["payload"]["after"]["customer"], "bob", "{name}");
    }
    let tls_sessions = connect("postgres")
        .await
        .query_one(
            "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
             WHERE s.ssl AND a.usename IN ('kconnect_tls', 'kconnect_cert')
               AND a.backend_type = 'walsender'",
            &[],
        )
        .await
        .expect("reading pg_stat_ssl")
        .get::<_, i64>(0);
    assert!(
        tls_sessions >= 2,
        "{tls_sessions} replication connections over TLS"
    );

    // The failures fail the task, saying why.
    let api = support::rest::Api::new(rest_port);
    for (name, why) in [("wrongca", "certificate"), ("plain", "no encryption")] {
        let path = format!("/connectors/{prefix}-{name}-cdc/status");
        let status = api.wait(&format!("{name} FAILED"), &path, |r| {
            support::rest::states(&r.body).1 == ["FAILED"]
        });
        let trace = status.body["tasks"][0]["trace"].as_str().unwrap_or("");
        eprintln!("{name}: {}", trace.lines().next().unwrap_or(""));
        assert!(
            trace.to_lowercase().contains(why),
            "{name}: the trace should say {why:?}: {trace}"
        );
    }
    proc.terminate();
    drop(pg);
    let slots: Vec<String> = ["full", "cert", "wrongca", "plain"]
        .iter()
        .map(|name| format!("{prefix}-{name}").replace('-', "_"))
        .collect();
    let slots: Vec<&str> = slots.iter().map(String::as_str).collect();
    drop_database(&db, &slots).await;
}

/// `message.key.columns` keys a table without a primary key (here with
/// `REPLICA IDENTITY FULL`, so updates and deletes carry the old row).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_key_columns_key_a_table_without_a_primary_key() {
    let prefix = unique("keys");
    let db = prefix.replace('-', "_");
    create_database(&db).await;
    let pg = connect(&db).await;
    pg.batch_execute(
        "CREATE TABLE public.orders (customer text NOT NULL, item text, qty int);
         ALTER TABLE public.orders REPLICA IDENTITY FULL;
         INSERT INTO orders VALUES ('alice', 'pen', 1);",
    )
    .await
    .expect("creating the table");
    let topic = format!("{prefix}.public.orders");
    create_topic(&topic, 1);
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = worker(dir.path());
    let source = connector_with(
        dir.path(),
        &db,
        &prefix,
        &[("message.key.columns", "public\\.orders:customer".into())],
    );
    let mut proc = Process::standalone(dir.path(), &[&worker, &source], "pg-cdc-keys");
    wait_for_events(&topic, 1, &mut proc).await;
    pg.batch_execute(
        "INSERT INTO orders VALUES ('bob', 'ink', 2);
         UPDATE orders SET qty = 3 WHERE customer = 'alice';
         DELETE FROM orders WHERE customer = 'bob';",
    )
    .await
    .expect("changing rows");
    let got = wait_for_events(&topic, 5, &mut proc).await;
    let summary: Vec<(String, String)> = got
        .iter()
        .map(|(k, v)| {
            (
                k["payload"]["customer"].as_str().unwrap_or("?").to_owned(),
                v["payload"]["op"]
                    .as_str()
                    .unwrap_or("tombstone")
                    .to_owned(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("alice", "r"),
        ("bob", "c"),
        ("alice", "u"),
        ("bob", "d"),
        ("bob", "tombstone"),
    ]
    .iter()
    .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
    .collect();
    assert_eq!(summary, want);
    let key_schema = &got[0].0["schema"];
    assert_eq!(key_schema["name"], format!("{prefix}.public.orders.Key"));
    assert_eq!(
        key_schema["fields"]
            .as_array()
            .map(|f| f.iter().map(|f| f["field"].clone()).collect::<Vec<_>>()),
        Some(vec![Json::from("customer")])
    );
    assert_eq!(got[2].1["payload"]["before"]["qty"], 1);
    proc.terminate();
    drop(pg);
    drop_database(&db, &[&prefix.replace('-', "_")]).await;
}
