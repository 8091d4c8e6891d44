//! The JDBC sink end to end: the real broker, the real PostgreSQL 15
//! (tests/env/postgres.sh), the `kconnect standalone` binary with
//! Confluent's class name and keys, JsonConverter with schemas. Records of
//! every mapped type through upsert (with deletes and `auto.evolve`),
//! insert with `pk.mode=kafka`, update on an existing table, and plain
//! inserts; records the sink cannot write go to the dead letter queue with
//! the table, column, offset and SQL error in their context headers; the
//! database going away mid-run is retried until it is back, losing and
//! repeating nothing. What lands is checked by SQL.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};
use support::postgres::{connect, create_database, drop_database, jdbc_url, texts};
use support::rest::Api;
use support::*;

/// The worker's properties file and its REST port.
fn worker(dir: &Path) -> (std::path::PathBuf, u16) {
    let path = dir.join("worker.properties");
    let rest = free_port();
    write_props(
        &path,
        &[
            ("bootstrap.servers", kafka_bootstrap()),
            (
                "offset.storage.file.filename",
                dir.join("offsets").display().to_string(),
            ),
            ("offset.flush.interval.ms", "300".into()),
            ("listeners", format!("http://127.0.0.1:{rest}")),
        ],
    );
    (path, rest)
}

/// A Confluent-config JDBC sink reading `topic`, tolerating errors into
/// `dlq`.
fn sink(
    dir: &Path,
    name: &str,
    db: &str,
    topic: &str,
    dlq: &str,
    extra: &[(&'static str, &str)],
) -> std::path::PathBuf {
    let pg = postgres();
    let path = dir.join(format!("{name}.properties"));
    let mut props = vec![
        ("name", name.to_owned()),
        (
            "connector.class",
            "io.confluent.connect.jdbc.JdbcSinkConnector".into(),
        ),
        ("tasks.max", "1".into()),
        ("topics", topic.into()),
        ("connection.url", jdbc_url(db)),
        ("connection.user", pg["POSTGRES_USER"].clone()),
        ("connection.password", pg["POSTGRES_PASSWORD"].clone()),
        ("errors.tolerance", "all".into()),
        ("errors.deadletterqueue.topic.name", dlq.into()),
        (
            "errors.deadletterqueue.topic.replication.factor",
            "1".into(),
        ),
        (
            "errors.deadletterqueue.context.headers.enable",
            "true".into(),
        ),
    ];
    props.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    write_props(&path, &props);
    path
}

fn field(name: &str, ty: &str, optional: bool) -> Json {
    json!({"field": name, "type": ty, "optional": optional})
}

fn logical(name: &str, ty: &str, logical: &str) -> Json {
    json!({"field": name, "type": ty, "optional": false, "name": logical})
}

/// The row schema with a field of every mapped type; `added` is the field
/// a later record brings (auto.evolve).
fn every_type_schema(added: bool) -> Json {
    let mut fields = vec![
        field("id", "int32", false),
        field("i8", "int8", false),
        field("i16", "int16", false),
        field("i64", "int64", false),
        field("f32", "float", false),
        field("f64", "double", false),
        field("flag", "boolean", false),
        field("name", "string", true),
        field("raw", "bytes", false),
        json!({"field": "price", "type": "bytes", "optional": false,
               "name": "org.apache.kafka.connect.data.Decimal", "version": 1,
               "parameters": {"scale": "2"}}),
        logical("day", "int32", "org.apache.kafka.connect.data.Date"),
        logical("at", "int32", "org.apache.kafka.connect.data.Time"),
        logical("ts", "int64", "org.apache.kafka.connect.data.Timestamp"),
        logical("micro", "int64", "io.debezium.time.MicroTimestamp"),
        logical("zoned", "string", "io.debezium.time.ZonedTimestamp"),
        logical("doc", "string", "io.debezium.data.Json"),
        logical("uid", "string", "io.debezium.data.Uuid"),
        json!({"field": "tags", "type": "array", "optional": false,
               "items": {"type": "string", "optional": false}}),
    ];
    if added {
        fields.push(field("added", "int32", true));
    }
    json!({"type": "struct", "name": "row", "optional": false, "fields": fields})
}

fn every_type_row(id: i32, name: &str, added: Option<i32>) -> String {
    let mut payload = json!({
        "id": id, "i8": -8, "i16": 1600, "i64": 6_400_000_000_i64,
        "f32": 1.5, "f64": 2.25, "flag": true, "name": name,
        "raw": "AQID",             // 01 02 03
        "price": "MDk=",           // 12345, scale 2: 123.45
        "day": 19724,              // 2024-01-02
        "at": 3_723_000,           // 01:02:03
        "ts": 1_704_164_645_123_i64,        // 2024-01-02 03:04:05.123
        "micro": 1_704_164_645_123_456_i64, // … .123456
        "zoned": "2024-01-02T03:04:05.123456Z",
        "doc": "{\"a\": [1, 2]}",
        "uid": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "tags": ["x", "y z"],
    });
    if let Some(a) = added {
        payload["added"] = json!(a);
    }
    json!({"schema": every_type_schema(added.is_some()), "payload": payload}).to_string()
}

fn int_key(id: i32) -> String {
    json!({
        "schema": {"type": "struct", "name": "key", "optional": false,
                   "fields": [field("id", "int32", false)]},
        "payload": {"id": id}
    })
    .to_string()
}

fn simple(fields: &[(&str, &str, bool)], payload: Json) -> String {
    let fields: Vec<Json> = fields.iter().map(|(n, t, o)| field(n, t, *o)).collect();
    json!({"schema": {"type": "struct", "name": "r", "optional": false, "fields": fields},
           "payload": payload})
    .to_string()
}

/// Rows of a query, each as its columns' text (`NULL` for null).
/// Rows of a query, each as its columns' text (`NULL` for null).
async fn rows(pg: &tokio_postgres::Client, sql: &str) -> Vec<Vec<String>> {
    texts(pg, sql)
        .await
        .into_iter()
        .map(|r| {
            r.into_iter()
                .map(|c| c.unwrap_or_else(|| "NULL".into()))
                .collect()
        })
        .collect()
}

async fn wait_rows(
    pg: &tokio_postgres::Client,
    sql: &str,
    want: &[&[&str]],
    proc: &mut Process,
) -> Vec<Vec<String>> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        proc.assert_running();
        let got = rows(pg, sql).await;
        if got == want {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "{sql}\n got {got:?}\nwant {want:?}\nlog:\n{}",
            proc.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modes_types_evolution_and_dead_letters() {
    let prefix = unique("jdbc");
    let db = prefix.replace('-', "_");
    create_database(&db).await;
    let pg = connect(&db).await;
    pg.batch_execute(
        "CREATE TABLE updates (id int PRIMARY KEY, name text, qty int CHECK (qty >= 0));
         INSERT INTO updates VALUES (1, 'one', 1), (2, 'two', 2), (3, 'three', 3);
         CREATE TABLE plain (name varchar(5), n int);
         CREATE TABLE no_key (id int, name text);",
    )
    .await
    .expect("creating the existing tables");
    let topics: Vec<String> = ["upserts", "kafka", "updates", "plain", "nokey"]
        .iter()
        .map(|t| format!("{prefix}-{t}"))
        .collect();
    for t in &topics {
        create_topic(t, 1);
    }
    let dlq = |t: &str| format!("{t}-dlq");

    // Upsert with deletes, auto.create and auto.evolve.
    let up = &topics[0];
    produce_keyed(
        up,
        &[
            (Some(int_key(1)), Some(every_type_row(1, "one", None))),
            (Some(int_key(2)), Some(every_type_row(2, "two", None))),
            (Some(int_key(3)), Some(every_type_row(3, "three", None))),
            (Some(int_key(2)), Some(every_type_row(2, "two again", None))),
            (Some(int_key(3)), None),
            // No key: errant (the key is the primary key).
            (None, Some(every_type_row(5, "keyless", None))),
            // Schemaless: errant (the sink needs a schema).
            (
                Some(int_key(6)),
                Some(r#"{"schema":null,"payload":{"id":6}}"#.into()),
            ),
            // A new field: the table gains a nullable column.
            (Some(int_key(4)), Some(every_type_row(4, "four", Some(7)))),
        ],
    );
    // pk.mode=kafka: the coordinates are the key.
    let kafka = &topics[1];
    let kv = |id: i32, name: &str| {
        simple(
            &[("id", "int32", false), ("name", "string", true)],
            json!({"id": id, "name": name}),
        )
    };
    produce_keyed(kafka, &[(None, Some(kv(1, "a"))), (None, Some(kv(1, "a")))]);
    // Update mode on an existing table; one row breaks its CHECK.
    let upd = &topics[2];
    let row = |id: i32, name: &str, qty: i32| {
        simple(
            &[
                ("id", "int32", false),
                ("name", "string", true),
                ("qty", "int32", true),
            ],
            json!({"id": id, "name": name, "qty": qty}),
        )
    };
    produce_keyed(
        upd,
        &[
            (None, Some(row(1, "uno", 10))),
            (None, Some(row(2, "dos", -1))),
            (None, Some(row(3, "tres", 30))),
            (None, Some(row(99, "nobody", 1))),
        ],
    );
    // Plain inserts; one value is no integer, one too long for varchar(5).
    let plain = &topics[3];
    let pr = |name: &str, n: &str| {
        simple(
            &[("name", "string", true), ("n", "string", true)],
            json!({"name": name, "n": n}),
        )
    };
    produce_keyed(
        plain,
        &[
            (None, Some(pr("ok", "1"))),
            (None, Some(pr("bad", "abc"))),
            (None, Some(pr("toolong", "2"))),
            (None, Some(pr("fine", "3"))),
        ],
    );

    // Upserts into a table without a unique key: no record is wrong, the
    // table is; the task fails saying so, and no record is dead-lettered.
    let nokey = &topics[4];
    produce_keyed(nokey, &[(None, Some(kv(1, "a")))]);

    let dir = tempfile::tempdir().expect("tempdir");
    let files = [
        sink(
            dir.path(),
            &format!("{prefix}-up"),
            &db,
            up,
            &dlq(up),
            &[
                ("insert.mode", "upsert"),
                ("pk.mode", "record_key"),
                ("delete.enabled", "true"),
                ("auto.create", "true"),
                ("auto.evolve", "true"),
                ("table.name.format", "upserted"),
            ],
        ),
        sink(
            dir.path(),
            &format!("{prefix}-kafka"),
            &db,
            kafka,
            &dlq(kafka),
            &[
                ("pk.mode", "kafka"),
                ("auto.create", "true"),
                ("table.name.format", "public.by_offset"),
            ],
        ),
        sink(
            dir.path(),
            &format!("{prefix}-upd"),
            &db,
            upd,
            &dlq(upd),
            &[
                ("insert.mode", "update"),
                ("pk.mode", "record_value"),
                ("pk.fields", "id"),
                ("table.name.format", "updates"),
            ],
        ),
        sink(
            dir.path(),
            &format!("{prefix}-plain"),
            &db,
            plain,
            &dlq(plain),
            &[("table.name.format", "plain")],
        ),
        sink(
            dir.path(),
            &format!("{prefix}-nokey"),
            &db,
            nokey,
            &dlq(nokey),
            &[
                ("insert.mode", "upsert"),
                ("pk.mode", "record_value"),
                ("pk.fields", "id"),
                ("table.name.format", "no_key"),
            ],
        ),
    ];
    let (w, rest) = worker(dir.path());
    let mut args: Vec<&Path> = vec![&w];
    args.extend(files.iter().map(|f| f.as_path()));
    let mut proc = Process::standalone(dir.path(), &args, "jdbc-sink");

    // Every type, as PostgreSQL reads it back.
    let types = "SELECT id, i8, i16, i64, f32, f64, flag, name, raw, price, day, at, ts, micro,
                        zoned, doc, uid, tags, added FROM upserted ORDER BY id";
    wait_rows(
        &pg,
        types,
        &[
            &[
                "1",
                "-8",
                "1600",
                "6400000000",
                "1.5",
                "2.25",
                "t",
                "one",
                "\\x010203",
                "123.45",
                "2024-01-02",
                "01:02:03",
                "2024-01-02 03:04:05.123",
                "1704164645123456",
                "2024-01-02T03:04:05.123456Z",
                "{\"a\": [1, 2]}",
                "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                "{x,\"y z\"}",
                "NULL",
            ],
            &[
                "2",
                "-8",
                "1600",
                "6400000000",
                "1.5",
                "2.25",
                "t",
                "two again",
                "\\x010203",
                "123.45",
                "2024-01-02",
                "01:02:03",
                "2024-01-02 03:04:05.123",
                "1704164645123456",
                "2024-01-02T03:04:05.123456Z",
                "{\"a\": [1, 2]}",
                "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                "{x,\"y z\"}",
                "NULL",
            ],
            &[
                "4",
                "-8",
                "1600",
                "6400000000",
                "1.5",
                "2.25",
                "t",
                "four",
                "\\x010203",
                "123.45",
                "2024-01-02",
                "01:02:03",
                "2024-01-02 03:04:05.123",
                "1704164645123456",
                "2024-01-02T03:04:05.123456Z",
                "{\"a\": [1, 2]}",
                "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                "{x,\"y z\"}",
                "7",
            ],
        ],
        &mut proc,
    )
    .await;
    // The created table: Confluent's PostgreSQL types (Debezium's logical
    // types are unknown to it: their base types, values as they are), the
    // key NOT NULL and primary, the evolved column nullable.
    let columns = rows(
        &pg,
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
           FROM pg_attribute a WHERE a.attrelid = 'upserted'::regclass AND a.attnum > 0
          ORDER BY a.attnum",
    )
    .await;
    let columns: Vec<String> = columns.iter().map(|c| c.join(" ")).collect();
    assert_eq!(
        columns,
        [
            "id integer t",
            "i8 smallint t",
            "i16 smallint t",
            "i64 bigint t",
            "f32 real t",
            "f64 double precision t",
            "flag boolean t",
            "name text f",
            "raw bytea t",
            "price numeric t",
            "day date t",
            "at time without time zone t",
            "ts timestamp without time zone t",
            "micro bigint t",
            "zoned text t",
            "doc text t",
            "uid text t",
            "tags text[] t",
            "added integer f",
        ]
    );
    let pk = rows(
        &pg,
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint
          WHERE conrelid = 'upserted'::regclass AND contype = 'p'",
    )
    .await;
    assert_eq!(pk, [["PRIMARY KEY (id)"]]);

    wait_rows(
        &pg,
        "SELECT __connect_partition, __connect_offset, id, name FROM by_offset
          ORDER BY __connect_offset",
        &[&["0", "0", "1", "a"], &["0", "1", "1", "a"]],
        &mut proc,
    )
    .await;
    let topic_col = rows(&pg, "SELECT DISTINCT __connect_topic FROM by_offset").await;
    assert_eq!(topic_col, [[kafka.clone()]]);

    wait_rows(
        &pg,
        "SELECT id, name, qty FROM updates ORDER BY id",
        &[
            &["1", "uno", "10"],
            &["2", "two", "2"],
            &["3", "tres", "30"],
        ],
        &mut proc,
    )
    .await;
    wait_rows(
        &pg,
        "SELECT name, n FROM plain ORDER BY n",
        &[&["ok", "1"], &["fine", "3"]],
        &mut proc,
    )
    .await;

    // The dead letters: the record as consumed, where it came from, and
    // why, naming the table (and the column when the value was the
    // problem).
    let message = |r: &Read| r.headers["__connect.errors.exception.message"].clone();
    let offset = |r: &Read| r.headers["__connect.errors.offset"].clone();
    let dead = read_with_headers(&dlq(up), 2);
    assert_eq!(
        dead.iter().map(offset).collect::<Vec<_>>(),
        ["5", "6"],
        "{dead:?}"
    );
    assert!(message(&dead[0]).contains("without a key"), "{dead:?}");
    assert!(message(&dead[0]).contains("\"upserted\""), "{dead:?}");
    assert!(message(&dead[1]).contains("schema"), "{dead:?}");
    assert_eq!(dead[0].key, None);
    assert!(
        String::from_utf8_lossy(dead[0].value.as_deref().unwrap_or_default()).contains("keyless")
    );
    let dead = read_with_headers(&dlq(upd), 1);
    assert_eq!(offset(&dead[0]), "1");
    let why = message(&dead[0]);
    assert!(
        why.contains("\"updates\"") && why.contains("check constraint") && why.contains("23514"),
        "{why}"
    );
    let dead = read_with_headers(&dlq(plain), 2);
    assert_eq!(dead.iter().map(offset).collect::<Vec<_>>(), ["1", "2"]);
    let bad_int = message(&dead[0]);
    assert!(
        bad_int.contains("column \"n\"")
            && bad_int.contains("invalid input syntax for type integer"),
        "{bad_int}"
    );
    assert!(
        message(&dead[1]).contains("value too long"),
        "{:?}",
        message(&dead[1])
    );
    let api = Api::new(rest);
    let status = api.wait(
        "the no-key sink's task to fail",
        &format!("/connectors/{prefix}-nokey/status"),
        |r| r.body["tasks"][0]["state"] == "FAILED",
    );
    let trace = status.body["tasks"][0]["trace"]
        .as_str()
        .unwrap_or_default();
    assert!(
        trace.contains("no unique or exclusion constraint") && trace.contains("no_key"),
        "{trace}"
    );
    assert_eq!(rows(&pg, "SELECT count(*) FROM no_key").await, [["0"]]);

    // Nothing else reached the dead letter queues.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(read_topic_records(&dlq(up)).len(), 2);
    assert_eq!(read_topic_records(&dlq(upd)).len(), 1);

    proc.terminate();
    drop(pg);
    drop_database(&db, &[]).await;
}

/// A TCP proxy to the test PostgreSQL that can be cut: the database "goes
/// down" for the sink (connections reset, new ones refused) and comes
/// back on the same port.
struct Proxy {
    port: u16,
    stop: Option<tokio::sync::watch::Sender<bool>>,
}

impl Proxy {
    fn new() -> Proxy {
        Proxy {
            port: free_port(),
            stop: None,
        }
    }

    async fn up(&mut self) {
        use tokio::net::{TcpListener, TcpStream};
        let pg = postgres();
        let target = format!("{}:{}", pg["POSTGRES_HOST"], pg["POSTGRES_PORT"]);
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("binding the proxy port");
        let (tx, rx) = tokio::sync::watch::channel(false);
        self.stop = Some(tx);
        tokio::spawn(async move {
            let mut stopped = rx.clone();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((mut client, _)) = accepted else { continue };
                        let target = target.clone();
                        let mut stopped = rx.clone();
                        tokio::spawn(async move {
                            let Ok(mut server) = TcpStream::connect(&target).await else { return };
                            tokio::select! {
                                _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                                _ = stopped.changed() => {}
                            }
                        });
                    }
                    _ = stopped.changed() => return,
                }
            }
        });
    }

    fn down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_going_away_is_retried_and_loses_nothing() {
    let prefix = unique("jdbc-down");
    let db = prefix.replace('-', "_");
    create_database(&db).await;
    let pg = connect(&db).await;
    let topic = format!("{prefix}-rows");
    create_topic(&topic, 1);
    let mut proxy = Proxy::new();
    proxy.up().await;

    let pgenv = postgres();
    let dir = tempfile::tempdir().expect("tempdir");
    let (w, rest) = worker(dir.path());
    let name = format!("{prefix}-sink");
    let c = dir.path().join("sink.properties");
    write_props(
        &c,
        &[
            ("name", name.clone()),
            (
                "connector.class",
                "io.confluent.connect.jdbc.JdbcSinkConnector".into(),
            ),
            ("topics", topic.clone()),
            // The credentials in the URL, as pgjdbc takes them.
            (
                "connection.url",
                format!(
                    "jdbc:postgresql://127.0.0.1:{}/{db}?sslmode=disable&connectTimeout=2&user={}&password={}",
                    proxy.port, pgenv["POSTGRES_USER"], pgenv["POSTGRES_PASSWORD"]
                ),
            ),
            ("insert.mode", "upsert".into()),
            ("pk.mode", "kafka".into()),
            ("auto.create", "true".into()),
            ("table.name.format", "landed".into()),
            ("max.retries", "1000".into()),
            ("retry.backoff.ms", "200".into()),
        ],
    );
    let record = |i: i32| {
        (
            None,
            Some(simple(&[("n", "int32", false)], json!({ "n": i }))),
        )
    };
    produce_keyed(&topic, &(0..50).map(record).collect::<Vec<_>>());
    let mut proc = Process::standalone(dir.path(), &[&w, &c], "jdbc-down");
    let count = "SELECT count(*), count(DISTINCT n), coalesce(max(n), -1) FROM landed";
    wait_rows(&pg, count, &[&["50", "50", "49"]], &mut proc).await;

    // Down: the batch fails, is retried, and the task stays RUNNING.
    proxy.down();
    produce_keyed(&topic, &(50..120).map(record).collect::<Vec<_>>());
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        rows(&pg, count).await,
        [["50", "50", "49"]],
        "nothing lands while the database is away"
    );
    let api = Api::new(rest);
    let status = api.get(&format!("/connectors/{name}/status"));
    assert_eq!(
        status.body["tasks"][0]["state"],
        "RUNNING",
        "{:?}\n{}",
        status.body,
        proc.log_tail()
    );
    assert!(
        proc.log_tail().contains("will retry the batch"),
        "{}",
        proc.log_tail()
    );

    // Back: every record exactly once.
    proxy.up().await;
    wait_rows(&pg, count, &[&["120", "120", "119"]], &mut proc).await;

    // The password in the URL is in no response and no log line.
    let password = &pgenv["POSTGRES_PASSWORD"];
    let config = api.get(&format!("/connectors/{name}/config"));
    let url = config.body["connection.url"].as_str().unwrap_or_default();
    assert!(url.ends_with("&password=[hidden]"), "{url}");
    for path in [
        format!("/connectors/{name}"),
        format!("/connectors/{name}/status"),
    ] {
        let body = api.get(&path).body.to_string();
        assert!(!body.contains(password.as_str()), "{path}: {body}");
    }
    let log = std::fs::read_to_string(&proc.log).unwrap_or_default();
    assert!(log.contains("password=[hidden]"), "the config log line");
    assert!(
        !log.contains(password.as_str()),
        "the password is in the log"
    );
    proc.terminate();
    proxy.down();
    drop(pg);
    drop_database(&db, &[]).await;
}
