//! The binary's handling of bad input: it must fail at start, naming the
//! connector, the key and what was expected. No Kafka needed.

mod support;

use std::process::Command;

use support::{kconnect_bin, write_props};

fn run_standalone(connector: &[(&str, String)]) -> (bool, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = dir.path().join("worker.properties");
    let conn = dir.path().join("connector.properties");
    write_props(&worker, &[("bootstrap.servers", "127.0.0.1:1".into())]);
    write_props(&conn, connector);
    let out = Command::new(kconnect_bin())
        .arg("standalone")
        .arg(&worker)
        .arg(&conn)
        .output()
        .expect("running kconnect");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn unknown_connector_class_lists_the_available_ones() {
    let (ok, err) = run_standalone(&[
        ("name", "x".into()),
        ("connector.class", "com.acme.Missing".into()),
    ]);
    assert!(!ok);
    assert!(err.contains("connector \"x\""), "{err}");
    assert!(err.contains("com.acme.Missing"), "{err}");
    assert!(
        err.contains("org.apache.kafka.connect.file.FileStreamSinkConnector"),
        "{err}"
    );
    assert!(err.contains("DatagenConnector"), "{err}");
}

#[test]
fn missing_required_key_names_connector_and_key() {
    let (ok, err) = run_standalone(&[
        ("name", "src".into()),
        ("connector.class", "FileStreamSource".into()),
    ]);
    assert!(!ok);
    assert!(err.contains("connector \"src\""), "{err}");
    assert!(
        err.contains("Missing required configuration \"topic\""),
        "{err}"
    );
}

#[test]
fn mistyped_value_says_what_was_expected() {
    let (ok, err) = run_standalone(&[
        ("name", "snk".into()),
        ("connector.class", "FileStreamSink".into()),
        ("topics", "t".into()),
        ("tasks.max", "two".into()),
    ]);
    assert!(!ok);
    assert!(err.contains("tasks.max"), "{err}");
    assert!(err.contains("32-bit integer"), "{err}");
}

#[test]
fn unreadable_worker_file_is_reported_with_its_path() {
    let out = Command::new(kconnect_bin())
        .args([
            "standalone",
            "/nonexistent/worker.properties",
            "/nonexistent/c.properties",
        ])
        .output()
        .expect("running kconnect");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/worker.properties"), "{err}");
}

/// Exactly-once sources need a real cluster's offset topic: the embedded
/// in-memory Kafka is refused at start, naming the key.
#[test]
fn exactly_once_on_the_embedded_kafka_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = dir.path().join("worker.properties");
    let conn = dir.path().join("connector.properties");
    write_props(
        &worker,
        &[("exactly.once.source.support", "enabled".into())],
    );
    write_props(
        &conn,
        &[
            ("name", "dg".into()),
            ("connector.class", "datagen".into()),
            ("topic", "t".into()),
        ],
    );
    let out = Command::new(kconnect_bin())
        .args(["standalone"])
        .arg(&worker)
        .arg(&conn)
        .output()
        .expect("running kconnect");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("exactly.once.source.support=enabled needs a real Kafka cluster"),
        "{err}"
    );
}

/// No `bootstrap.servers` and no `file`: lines typed on stdin flow through
/// the embedded in-memory Kafka into the sink file, and the log says the
/// Kafka is in-memory.
#[test]
fn stdin_source_through_embedded_kafka() {
    use std::io::Write;
    use std::process::Stdio;
    use std::time::Duration;

    let dir = tempfile::tempdir().expect("tempdir");
    let worker = dir.path().join("worker.properties");
    let source = dir.path().join("source.properties");
    let sink = dir.path().join("sink.properties");
    let output = dir.path().join("out.txt");
    let log = dir.path().join("log.txt");
    write_props(&worker, &[("offset.flush.interval.ms", "100".into())]);
    write_props(
        &source,
        &[
            ("name", "stdin".into()),
            ("connector.class", "FileStreamSource".into()),
            ("topic", "typed".into()),
        ],
    );
    write_props(
        &sink,
        &[
            ("name", "out".into()),
            ("connector.class", "FileStreamSink".into()),
            ("topics", "typed".into()),
            ("file", output.display().to_string()),
        ],
    );
    let mut child = Command::new(kconnect_bin())
        .arg("standalone")
        .args([&worker, &source, &sink])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("starting kconnect");
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "typed line one\ntyped line two").expect("writing stdin");
    stdin.flush().expect("flushing stdin");
    let found = support::wait_for(Duration::from_secs(60), || {
        support::count_lines(&output) >= 2
    });
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().expect("waiting for kconnect");
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(found, "lines never reached the sink; log:\n{log}");
    assert!(status.success(), "log:\n{log}");
    assert_eq!(
        std::fs::read_to_string(&output).unwrap(),
        "typed line one\ntyped line two\n"
    );
    assert!(log.contains("EMBEDDED IN-MEMORY Kafka"), "{log}");
}
