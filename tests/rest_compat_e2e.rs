//! REST API compatibility with the real Apache Kafka Connect: Java Connect
//! 4.1 (from `tests/env/connect-java.sh`) and kconnect run standalone side
//! by side on the test broker, each with its own REST port, offsets file,
//! topic, files and connector names. The same sequence of requests goes to
//! both (every endpoint: connectors and their configs, statuses, tasks,
//! topics, pause/resume/restart/stop, offsets, plugins, validation,
//! loggers, health, and error answers), and per request the HTTP status
//! and the JSON *shape* must be the same.
//!
//! A shape is the recursive structure of a body: object keys and value
//! types (null, bool, number, string, array, object); arrays are compared
//! by the union of their elements' shapes; objects keyed by names (the
//! `?expand=` map, `/topics`, `/admin/loggers`) by the union of their
//! values. Values legitimately differ (versions, commits, worker ids,
//! plugin lists) and are not compared, except where they are the point
//! (validation's `error_count` and which fields carry errors).
//!
//! The few differences kconnect keeps on purpose are listed in [`ALLOWED`],
//! each with its reason. Anything else fails the test, printing both
//! answers.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};
use support::java_connect::{processes_naming, state_dir, JavaConnect};
use support::rest::{states, Api, Reply};
use support::*;

const STRING_CONVERTER: &str = "org.apache.kafka.connect.storage.StringConverter";
const SOURCE_CLASS: &str = "org.apache.kafka.connect.file.FileStreamSourceConnector";
const SINK_CLASS: &str = "org.apache.kafka.connect.file.FileStreamSinkConnector";

/// A difference kconnect keeps on purpose: in the answers to `request` (the
/// request's label, see [`Compat::send`]), at `path` (a shape path as the
/// differences print it, or `status`, or `*` for the whole answer).
struct Allowed {
    request: &'static str,
    path: &'static str,
    reason: &'static str,
}

const ALLOWED: &[Allowed] = &[
    // Java's ConnectExceptionMapper answers every exception that is not a
    // Connect or JAX-RS one with 500, so a body Jackson cannot parse is a
    // server error there. kconnect answers the client's mistake with 400
    // (the body is the same {"error_code", "message"}): clients that retry
    // 5xx must not retry a malformed request.
    Allowed {
        request: "POST /connectors (malformed JSON)",
        path: "status",
        reason: "malformed JSON is 400 in kconnect, 500 in Java",
    },
    Allowed {
        request: "PUT /connectors/{snk}/config (malformed JSON)",
        path: "status",
        reason: "malformed JSON is 400 in kconnect, 500 in Java",
    },
    // Java's validation recommends values (every converter class found on
    // the plugin path, the installed plugin versions); kconnect has no
    // recommenders and always answers [].
    Allowed {
        request: "PUT /connector-plugins/FileStreamSinkConnector/config/validate",
        path: "$.configs[].value.recommended_values[]",
        reason: "kconnect recommends no values",
    },
    // log4j knows which loggers exist and answers 404 for others; tracing
    // has no registry of targets, so kconnect answers the level any target
    // would log at.
    Allowed {
        request: "GET /admin/loggers/com.example.never.used",
        path: "*",
        reason: "tracing has no registry of logger names: any name has a level",
    },
];

// ---------------------------------------------------------------------------
// Shapes

/// The shape of a JSON value: the kinds seen at one place (a union when
/// several values met there: array elements, map values), and below them
/// the shapes of array elements, object fields and map values.
#[derive(Debug, Clone, Default, PartialEq)]
struct Shape {
    kinds: BTreeSet<&'static str>,
    /// Union over array elements; `None` when every array was empty.
    elements: Option<Box<Shape>>,
    /// Fields of objects (the union of keys over all objects met here).
    fields: BTreeMap<String, Shape>,
    /// Union over the values of objects keyed by names (maps).
    values: Option<Box<Shape>>,
}

impl Shape {
    /// `maps`: the paths whose objects are maps keyed by names.
    fn of(v: &Json, path: &str, maps: &[&str]) -> Shape {
        let mut s = Shape::default();
        match v {
            Json::Null => {
                s.kinds.insert("null");
            }
            Json::Bool(_) => {
                s.kinds.insert("bool");
            }
            Json::Number(_) => {
                s.kinds.insert("number");
            }
            Json::String(_) => {
                s.kinds.insert("string");
            }
            Json::Array(items) => {
                s.kinds.insert("array");
                let here = format!("{path}[]");
                for item in items {
                    merge_opt(&mut s.elements, Shape::of(item, &here, maps));
                }
            }
            Json::Object(fields) if maps.contains(&path) => {
                s.kinds.insert("map");
                let here = format!("{path}{{}}");
                for value in fields.values() {
                    merge_opt(&mut s.values, Shape::of(value, &here, maps));
                }
            }
            Json::Object(fields) => {
                s.kinds.insert("object");
                for (k, value) in fields {
                    s.fields
                        .insert(k.clone(), Shape::of(value, &format!("{path}.{k}"), maps));
                }
            }
        }
        s
    }

    fn merge(&mut self, other: Shape) {
        self.kinds.extend(other.kinds);
        if let Some(e) = other.elements {
            merge_opt(&mut self.elements, *e);
        }
        if let Some(v) = other.values {
            merge_opt(&mut self.values, *v);
        }
        for (k, s) in other.fields {
            match self.fields.get_mut(&k) {
                Some(mine) => mine.merge(s),
                None => {
                    self.fields.insert(k, s);
                }
            }
        }
    }
}

fn merge_opt(slot: &mut Option<Box<Shape>>, s: Shape) {
    match slot {
        Some(mine) => mine.merge(s),
        None => *slot = Some(Box::new(s)),
    }
}

fn kinds(s: &Shape) -> String {
    s.kinds.iter().copied().collect::<Vec<_>>().join("|")
}

/// The differences between Java's shape and kconnect's, as (path, what).
fn diff(java: &Shape, kc: &Shape, path: &str, out: &mut Vec<(String, String)>) {
    if java.kinds != kc.kinds {
        out.push((
            path.to_owned(),
            format!("Java has {}, kconnect {}", kinds(java), kinds(kc)),
        ));
        return;
    }
    let nested = [
        (&java.elements, &kc.elements, format!("{path}[]"), "array"),
        (&java.values, &kc.values, format!("{path}{{}}"), "map"),
    ];
    for (j, k, here, what) in nested {
        match (j, k) {
            (Some(j), Some(k)) => diff(j, k, &here, out),
            (Some(_), None) => out.push((
                here,
                format!("Java's {what} has entries, kconnect's is empty"),
            )),
            (None, Some(_)) => out.push((
                here,
                format!("kconnect's {what} has entries, Java's is empty"),
            )),
            (None, None) => {}
        }
    }
    for key in java
        .fields
        .keys()
        .chain(kc.fields.keys())
        .collect::<BTreeSet<_>>()
    {
        let here = format!("{path}.{key}");
        match (java.fields.get(key), kc.fields.get(key)) {
            (Some(j), Some(k)) => diff(j, k, &here, out),
            (Some(_), None) => out.push((here, "only in Java's answer".into())),
            (None, Some(_)) => out.push((here, "only in kconnect's answer".into())),
            (None, None) => unreachable!("a key of either side"),
        }
    }
}

#[test]
fn shapes_compare_by_keys_and_kinds_with_array_unions() {
    let a = json!({"x": [{"a": 1}, {"b": "s"}], "m": {"k1": {"l": 1}}});
    let b = json!({"x": [{"a": 2, "b": "t"}], "m": {"other": {"l": 5}}});
    let mut out = Vec::new();
    diff(
        &Shape::of(&a, "$", &["$.m"]),
        &Shape::of(&b, "$", &["$.m"]),
        "$",
        &mut out,
    );
    assert!(out.is_empty(), "{out:?}");
    let c = json!({"x": [{"a": "1"}], "m": {"k": {}}, "y": null});
    diff(
        &Shape::of(&a, "$", &["$.m"]),
        &Shape::of(&c, "$", &["$.m"]),
        "$",
        &mut out,
    );
    let paths: Vec<&str> = out.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, ["$.m{}.l", "$.x[].a", "$.x[].b", "$.y"], "{out:?}");
}

// ---------------------------------------------------------------------------
// Java Connect (as tests/java_connect_env.rs starts it)

// ---------------------------------------------------------------------------
// The two workers and the comparison

/// One worker under test, with its own names.
struct Side {
    who: &'static str,
    api: Api,
    raw: ureq::Agent,
    topic: String,
    src: String,
    snk: String,
    input: PathBuf,
    output: PathBuf,
    /// A logger that exists on this worker.
    logger: &'static str,
}

impl Side {
    fn new(who: &'static str, port: u16, dir: &Path, topic: String, logger: &'static str) -> Side {
        let input = dir.join("input.txt");
        let lines: String = (0..20).map(|i| format!("{who}-line-{i}\n")).collect();
        std::fs::write(&input, lines).expect("writing the source's input file");
        Side {
            who,
            api: Api::new(port),
            raw: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .proxy(None)
                .timeout_global(Some(Duration::from_secs(60)))
                .build()
                .into(),
            src: format!("{topic}-source"),
            snk: format!("{topic}-sink"),
            topic,
            input,
            output: dir.join("output.txt"),
            logger,
        }
    }

    /// `{src}`, `{snk}`, `{topic}`, `{logger}` of a label replaced by this
    /// side's names.
    fn fill(&self, text: &str) -> String {
        text.replace("{src}", &self.src)
            .replace("{snk}", &self.snk)
            .replace("{topic}", &self.topic)
            .replace("{logger}", self.logger)
    }

    fn source_config(&self) -> Json {
        json!({
            "connector.class": SOURCE_CLASS,
            "tasks.max": "1",
            "file": self.input.display().to_string(),
            "topic": self.topic,
            "key.converter": STRING_CONVERTER,
            "value.converter": STRING_CONVERTER,
        })
    }

    fn sink_config(&self) -> Json {
        json!({
            "connector.class": SINK_CLASS,
            "tasks.max": "1",
            "file": self.output.display().to_string(),
            "topics": self.topic,
            "key.converter": STRING_CONVERTER,
            "value.converter": STRING_CONVERTER,
        })
    }

    /// A request with a body that is not JSON.
    fn send_raw(&self, method: &str, path: &str, body: &str) -> Reply {
        let url = format!("{}{path}", self.api.base);
        let req = match method {
            "POST" => self.raw.post(&url),
            "PUT" => self.raw.put(&url),
            other => panic!("method {other}"),
        };
        let mut resp = req
            .header("Content-Type", "application/json")
            .send(body)
            .unwrap_or_else(|e| panic!("{}: {method} {path}: {e}", self.who));
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Json::String(text));
        Reply {
            status,
            body,
            location: None,
        }
    }
}

/// What a request's answers must share beyond status and shape.
#[derive(Default)]
struct Expect<'a> {
    /// The HTTP status both must answer (checked on Java's too, so the
    /// sequence is known to do what it means to).
    status: Option<u16>,
    /// Paths whose objects are maps keyed by names.
    maps: &'a [&'a str],
}

struct Compat {
    java: Side,
    kc: Side,
    failures: Vec<String>,
    requests: usize,
}

fn shown(body: &Json) -> String {
    let text = serde_json::to_string(body).unwrap_or_default();
    if text.len() > 3000 {
        format!("{}… ({} bytes)", &text[..3000], text.len())
    } else {
        text
    }
}

impl Compat {
    /// Sends `label` (a method and a path with `{src}`/`{snk}`/… in it, plus
    /// optionally a note in parentheses) to both workers with the body
    /// `body` makes for each side, and compares the answers.
    fn send(
        &mut self,
        label: &str,
        body: impl Fn(&Side) -> Option<Json>,
        expect: Expect,
    ) -> (Reply, Reply) {
        let (method, rest) = label.split_once(' ').expect("a label is METHOD PATH");
        let path = rest.split(" (").next().unwrap_or(rest);
        let call = |side: &Side| side.api.call(method, &side.fill(path), body(side));
        let (java, kc) = (call(&self.java), call(&self.kc));
        self.compare(label, &java, &kc, expect);
        (java, kc)
    }

    /// Like [`Compat::send`] with a body that is not JSON.
    fn send_raw(&mut self, label: &str, body: &str, expect: Expect) -> (Reply, Reply) {
        let (method, rest) = label.split_once(' ').expect("a label is METHOD PATH");
        let path = rest.split(" (").next().unwrap_or(rest);
        let call = |side: &Side| side.send_raw(method, &side.fill(path), body);
        let (java, kc) = (call(&self.java), call(&self.kc));
        self.compare(label, &java, &kc, expect);
        (java, kc)
    }

    fn compare(&mut self, label: &str, java: &Reply, kc: &Reply, expect: Expect) {
        self.requests += 1;
        let mut found: Vec<(String, String)> = Vec::new();
        if let Some(want) = expect.status {
            if java.status != want {
                found.push((
                    "status".into(),
                    format!("Java answered {}, the test expects {want}", java.status),
                ));
            }
        }
        if java.status != kc.status {
            found.push((
                "status".into(),
                format!("Java {} vs kconnect {}", java.status, kc.status),
            ));
        }
        diff(
            &Shape::of(&java.body, "$", expect.maps),
            &Shape::of(&kc.body, "$", expect.maps),
            "$",
            &mut found,
        );
        let mut unexpected = Vec::new();
        for (path, what) in found {
            let allowed = ALLOWED
                .iter()
                .find(|a| a.request == label && (a.path == path || a.path == "*"));
            match allowed {
                Some(a) => eprintln!("  allowed: {label} {path}: {what} ({})", a.reason),
                None => unexpected.push(format!("{path}: {what}")),
            }
        }
        if unexpected.is_empty() {
            eprintln!("ok: {label} -> {}", kc.status);
            return;
        }
        let report = format!(
            "{label}\n  {}\n  Java     {}: {}\n  kconnect {}: {}",
            unexpected.join("\n  "),
            java.status,
            shown(&java.body),
            kc.status,
            shown(&kc.body),
        );
        eprintln!("DIFFERENT: {report}");
        self.failures.push(report);
    }

    /// Records a difference found by a check beyond shapes.
    fn fail(&mut self, what: String) {
        eprintln!("DIFFERENT: {what}");
        self.failures.push(what);
    }

    /// Polls both workers until `check` holds for `path` on each.
    fn wait(&self, what: &str, path: &str, check: impl Fn(&Reply) -> bool) {
        for side in [&self.java, &self.kc] {
            side.api
                .wait(&format!("{what} on {}", side.who), &side.fill(path), &check);
        }
    }

    /// Waits until the connector (`{src}` or `{snk}`) and `tasks` tasks
    /// are all in `state` on both workers.
    fn settle(&self, connector: &str, state: &str, tasks: usize) {
        self.wait(
            &format!("{connector} {state} with {tasks} task(s)"),
            &format!("/connectors/{connector}/status"),
            |r| {
                let (c, t) = states(&r.body);
                r.status == 200 && c == state && t.len() == tasks && t.iter().all(|s| s == state)
            },
        );
    }
}

fn none(_: &Side) -> Option<Json> {
    None
}

fn status(code: u16) -> Expect<'static> {
    Expect {
        status: Some(code),
        maps: &[],
    }
}

fn map_at_root(code: u16) -> Expect<'static> {
    Expect {
        status: Some(code),
        maps: &["$"],
    }
}

/// The names of the fields validation reported errors on, and its
/// `error_count`.
fn validation_errors(body: &Json) -> (BTreeSet<String>, i64) {
    let fields = body["configs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| {
            c["value"]["errors"]
                .as_array()
                .is_some_and(|e| !e.is_empty())
        })
        .filter_map(|c| c["value"]["name"].as_str().map(str::to_owned))
        .collect();
    (fields, body["error_count"].as_i64().unwrap_or(-1))
}

fn wait_for_rest(api: &Api, alive: &mut dyn FnMut(), what: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        alive();
        if let Ok(r) = api.try_call("GET", "/", None) {
            if r.status == 200 && r.body["kafka_cluster_id"].is_string() {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{what} REST API not up after 120 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn worker_props(path: &Path, port: u16, offsets: &Path, extra: &[(&str, String)]) {
    let mut props = vec![
        ("bootstrap.servers", kafka_bootstrap()),
        ("listeners", format!("http://127.0.0.1:{port}")),
        ("key.converter", STRING_CONVERTER.to_owned()),
        ("value.converter", STRING_CONVERTER.to_owned()),
        (
            "offset.storage.file.filename",
            offsets.display().to_string(),
        ),
        ("offset.flush.interval.ms", "500".to_owned()),
    ];
    props.extend(extra.iter().cloned());
    write_props(path, &props);
}

#[test]
fn rest_answers_have_java_connects_statuses_and_shapes() {
    let started = Instant::now();
    support::java_connect::install();
    let (_tmp, state) = state_dir("rest-compat");
    let (java_dir, kc_dir) = (state.join("java"), state.join("kconnect"));
    for d in [&java_dir, &kc_dir] {
        std::fs::create_dir_all(d).expect("creating a worker's dir");
    }

    let java_port = free_port();
    let java_worker = java_dir.join("worker.properties");
    worker_props(
        &java_worker,
        java_port,
        &java_dir.join("connect.offsets"),
        // Every plugin here has a ServiceLoader manifest; scanning the
        // classpath too costs seconds.
        &[("plugin.discovery", "service_load".into())],
    );
    let mut java_proc = JavaConnect::standalone(&java_dir, &[&java_worker]);

    let kc_port = free_port();
    let kc_worker = kc_dir.join("worker.properties");
    worker_props(&kc_worker, kc_port, &kc_dir.join("offsets.json"), &[]);
    let mut kc_proc = Process::standalone(&kc_dir, &[&kc_worker], "compat");

    let java_topic = unique("compat-java");
    let kc_topic = unique("compat-kconnect");
    create_topic(&java_topic, 1);
    create_topic(&kc_topic, 1);
    let java = Side::new(
        "Java",
        java_port,
        &java_dir,
        java_topic,
        "org.apache.kafka.connect.runtime.Worker",
    );
    let kc = Side::new("kconnect", kc_port, &kc_dir, kc_topic, "kconnect");
    wait_for_rest(
        &java.api,
        &mut || java_proc.assert_running(),
        "Java Connect",
    );
    wait_for_rest(&kc.api, &mut || kc_proc.assert_running(), "kconnect");
    eprintln!("both workers up after {:?}", started.elapsed());
    let mut t = Compat {
        java,
        kc,
        failures: Vec::new(),
        requests: 0,
    };

    // The worker.
    t.send("GET /", none, status(200));
    t.send("GET /health", none, status(200));
    t.send("GET /connectors (none yet)", none, status(200));

    // Plugins and validation.
    t.send("GET /connector-plugins", none, status(200));
    t.send(
        "GET /connector-plugins?connectorsOnly=false",
        none,
        status(200),
    );
    t.send(
        "GET /connector-plugins/FileStreamSinkConnector/config",
        none,
        status(200),
    );
    t.send(
        "GET /connector-plugins/com.example.NoSuchConnector/config",
        none,
        status(404),
    );
    let (java_v, kc_v) = t.send(
        "PUT /connector-plugins/FileStreamSinkConnector/config/validate",
        |_| {
            // A bad int, a value outside its choices, no topics.
            Some(json!({
                "connector.class": SINK_CLASS, "name": "validate-me",
                "tasks.max": "two", "errors.tolerance": "most",
                "key.converter": STRING_CONVERTER, "value.converter": STRING_CONVERTER
            }))
        },
        status(200),
    );
    let (java_errors, kc_errors) = (
        validation_errors(&java_v.body),
        validation_errors(&kc_v.body),
    );
    if java_errors != kc_errors {
        t.fail(format!(
            "validation: Java reports errors on {:?} (error_count {}), kconnect on {:?} (error_count {})\n  Java     {}\n  kconnect {}",
            java_errors.0, java_errors.1, kc_errors.0, kc_errors.1,
            shown(&java_v.body), shown(&kc_v.body)
        ));
    }
    if java_v.body["name"] != kc_v.body["name"] {
        t.fail(format!(
            "validation: the name Java reports is {}, kconnect's {}",
            java_v.body["name"], kc_v.body["name"]
        ));
    }

    // Create.
    let (java_c, kc_c) = t.send(
        "POST /connectors (source)",
        |s| Some(json!({"name": s.src, "config": s.source_config()})),
        status(201),
    );
    // Java's Location is absolute, kconnect's a path: the same resource.
    let locations: Vec<String> = [(&t.java, &java_c), (&t.kc, &kc_c)]
        .into_iter()
        .filter_map(|(side, reply)| {
            let want = format!("/connectors/{}", side.src);
            match reply.location.as_deref() {
                Some(l) if l.ends_with(&want) => None,
                other => Some(format!("{}: Location {other:?}, not …{want}", side.who)),
            }
        })
        .collect();
    for l in locations {
        t.fail(l);
    }
    t.send(
        "POST /connectors (sink)",
        |s| Some(json!({"name": s.snk, "config": s.sink_config()})),
        status(201),
    );
    t.send(
        "POST /connectors (duplicate)",
        |s| Some(json!({"name": s.src, "config": s.source_config()})),
        status(409),
    );
    t.settle("{src}", "RUNNING", 1);
    t.settle("{snk}", "RUNNING", 1);

    // Reads.
    t.send("GET /connectors", none, status(200));
    t.send("GET /connectors?expand=status", none, map_at_root(200));
    t.send("GET /connectors?expand=info", none, map_at_root(200));
    t.send(
        "GET /connectors?expand=status&expand=info",
        none,
        map_at_root(200),
    );
    for c in ["{src}", "{snk}"] {
        t.send(&format!("GET /connectors/{c}"), none, status(200));
        t.send(&format!("GET /connectors/{c}/config"), none, status(200));
        t.send(&format!("GET /connectors/{c}/status"), none, status(200));
        t.send(&format!("GET /connectors/{c}/tasks"), none, status(200));
        t.send(
            &format!("GET /connectors/{c}/tasks/0/status"),
            none,
            status(200),
        );
        // Topics are active once records went through.
        t.wait(
            &format!("active topics of {c}"),
            &format!("/connectors/{c}/topics"),
            |r| {
                r.body
                    .as_object()
                    .and_then(|o| o.values().next())
                    .is_some_and(|v| v["topics"].as_array().is_some_and(|a| !a.is_empty()))
            },
        );
        t.send(
            &format!("GET /connectors/{c}/topics"),
            none,
            map_at_root(200),
        );
    }

    // Reconfigure.
    t.send(
        "PUT /connectors/{src}/config (update)",
        |s| {
            let mut config = s.source_config();
            config["batch.size"] = json!("100");
            Some(config)
        },
        status(200),
    );
    t.send(
        "PATCH /connectors/{src}/config",
        |_| Some(json!({"batch.size": "200"})),
        status(200),
    );
    t.settle("{src}", "RUNNING", 1);
    t.send(
        "GET /connectors/{src}/config (after the patch)",
        none,
        status(200),
    );

    // Pause, resume, restarts.
    t.send("PUT /connectors/{src}/pause", none, status(202));
    t.settle("{src}", "PAUSED", 1);
    t.send("GET /connectors/{src}/status (paused)", none, status(200));
    t.send("PUT /connectors/{src}/resume", none, status(202));
    t.settle("{src}", "RUNNING", 1);
    t.send("GET /connectors/{src}/status (resumed)", none, status(200));
    t.send("POST /connectors/{src}/restart", none, status(204));
    t.settle("{src}", "RUNNING", 1);
    t.send(
        "POST /connectors/{src}/restart?includeTasks=true&onlyFailed=false",
        none,
        status(202),
    );
    t.settle("{src}", "RUNNING", 1);
    t.send("POST /connectors/{src}/tasks/0/restart", none, status(204));
    t.settle("{src}", "RUNNING", 1);

    // Offsets: read while running, changes only when STOPPED.
    for c in ["{src}", "{snk}"] {
        let path = format!("/connectors/{c}/offsets");
        t.wait(&format!("offsets of {c}"), &path, |r| {
            r.body["offsets"].as_array().is_some_and(|o| !o.is_empty())
        });
        t.send(&format!("GET {path}"), none, status(200));
    }
    let source_offsets = |s: &Side| {
        Some(json!({"offsets": [{
            "partition": {"filename": s.input.display().to_string()},
            "offset": {"position": 5}
        }]}))
    };
    let sink_offsets = |s: &Side| {
        Some(json!({"offsets": [{
            "partition": {"kafka_topic": s.topic, "kafka_partition": 0},
            "offset": {"kafka_offset": 1}
        }]}))
    };
    t.send(
        "PATCH /connectors/{src}/offsets (running)",
        source_offsets,
        status(400),
    );
    t.send(
        "DELETE /connectors/{src}/offsets (running)",
        none,
        status(400),
    );
    t.send("PUT /connectors/{src}/stop", none, status(204));
    t.settle("{src}", "STOPPED", 0);
    t.send("GET /connectors/{src}/status (stopped)", none, status(200));
    t.send("GET /connectors/{src} (stopped)", none, status(200));
    t.send("GET /connectors/{src}/tasks (stopped)", none, status(200));
    // The connector's own check (FileStreamSourceConnector.alterOffsets):
    // Java's 500 and reason.
    let (_, kc) = t.send(
        "PATCH /connectors/{src}/offsets (position not a number)",
        |s: &Side| {
            Some(json!({"offsets": [{
                "partition": {"filename": s.input.display().to_string()},
                "offset": {"position": "five"}
            }]}))
        },
        status(500),
    );
    let message = kc.body["message"].as_str().unwrap_or("").to_owned();
    if !message
        .contains("The value for the 'position' key in the offset is expected to be a Long value")
    {
        t.fail(format!(
            "kconnect's refusal does not give the connector's reason: {message}"
        ));
    }
    t.send(
        "PATCH /connectors/{src}/offsets",
        source_offsets,
        status(200),
    );
    t.send("GET /connectors/{src}/offsets (altered)", none, status(200));
    t.send("DELETE /connectors/{src}/offsets", none, status(200));
    t.send("GET /connectors/{src}/offsets (reset)", none, status(200));
    t.send("PUT /connectors/{snk}/stop", none, status(204));
    t.settle("{snk}", "STOPPED", 0);
    t.send("PATCH /connectors/{snk}/offsets", sink_offsets, status(200));
    t.send("GET /connectors/{snk}/offsets (altered)", none, status(200));
    t.send(
        "PATCH /connectors/{snk}/offsets (no offsets)",
        |_| Some(json!({"offsets": []})),
        status(400),
    );
    t.send("DELETE /connectors/{snk}/offsets", none, status(200));
    t.send("GET /connectors/{snk}/offsets (reset)", none, status(200));

    // Loggers.
    t.send("GET /admin/loggers", none, map_at_root(200));
    t.send("GET /admin/loggers/{logger}", none, status(200));
    t.send(
        "PUT /admin/loggers/{logger}",
        |_| Some(json!({"level": "DEBUG"})),
        status(200),
    );
    t.send("GET /admin/loggers/{logger} (changed)", none, status(200));
    t.send(
        "PUT /admin/loggers/{logger} (no level)",
        |_| Some(json!({})),
        status(400),
    );
    t.send(
        "GET /admin/loggers/com.example.never.used",
        none,
        Expect::default(),
    );

    // Errors.
    t.send("GET /connectors/no-such-connector", none, status(404));
    t.send(
        "GET /connectors/no-such-connector/status",
        none,
        status(404),
    );
    t.send(
        "GET /connectors/no-such-connector/config",
        none,
        status(404),
    );
    t.send("GET /connectors/{snk}/tasks/9/status", none, status(404));
    t.send("POST /connectors/{snk}/tasks/9/restart", none, status(404));
    t.send("PUT /connectors/no-such-connector/pause", none, status(404));
    t.send("DELETE /connectors/no-such-connector", none, status(404));
    t.send("DELETE /connectors (wrong method)", none, status(405));
    t.send("POST /connectors/{snk} (wrong method)", none, status(405));
    t.send("GET /no/such/path", none, status(404));
    t.send(
        "PUT /connectors/{snk}/config (name mismatch)",
        |s| {
            let mut config = s.sink_config();
            config["name"] = json!("another-name");
            Some(config)
        },
        status(400),
    );
    t.send_raw(
        "POST /connectors (malformed JSON)",
        "{\"name\":",
        Expect::default(),
    );
    t.send_raw(
        "PUT /connectors/{snk}/config (malformed JSON)",
        "{bad",
        Expect::default(),
    );

    // Delete.
    t.send("DELETE /connectors/{src}", none, status(204));
    t.send("DELETE /connectors/{snk}", none, status(204));
    t.send("GET /connectors (all deleted)", none, status(200));

    let java_exit = java_proc.stop();
    let kc_exit = kc_proc.terminate();
    eprintln!(
        "{} requests compared in {:?}",
        t.requests,
        started.elapsed()
    );
    assert!(
        t.failures.is_empty(),
        "{} of {} requests answered differently from Java Connect:\n\n{}",
        t.failures.len(),
        t.requests,
        t.failures.join("\n\n")
    );
    assert!(
        java_exit.is_some(),
        "Java Connect still running {:?} after SIGTERM\n{}",
        support::java_connect::STOP_BOUND,
        java_proc.log_tail()
    );
    assert!(kc_exit.success(), "kconnect: {}", kc_proc.log_tail());
    let left = processes_naming(&state);
    assert!(left.is_empty(), "processes left behind: {left:#?}");
}
