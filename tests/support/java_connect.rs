//! The real Apache Kafka Connect (Java) from `tests/env/connect-java.sh`,
//! run in the foreground by tests that compare kconnect with it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::unique;

/// The script that installs and runs Java Connect.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/env/connect-java.sh")
}

/// Installs Java Connect's jars (`tests/env/connect-java.sh install`,
/// cached); a failure fails the test.
pub fn install() {
    let status = Command::new("bash")
        .arg(script())
        .arg("install")
        .status()
        .expect("running tests/env/connect-java.sh install");
    assert!(status.success(), "tests/env/connect-java.sh install failed");
}

/// How long Java Connect may take to exit after SIGTERM. Its REST server
/// gives Jetty a 60 s graceful stop timeout and also registers Jetty's own
/// shutdown hook; the two hooks race, and now and then the stop waits out
/// the whole 60 s (seen in CI: "Stopping REST server", then silence).
/// The herder's own stop (tasks, group, internal topics) comes after that.
pub const STOP_BOUND: Duration = Duration::from_secs(100);

/// `tests/env/connect-java.sh standalone|distributed …` in the foreground.
/// The script execs the JVM, so `child` is the JVM itself. SIGTERM, then
/// SIGKILL, if it is dropped while still running.
pub struct JavaConnect {
    pub child: Child,
    state: PathBuf,
    /// The JVM's own stdout and stderr (only ERROR log lines and crashes).
    console: PathBuf,
}

impl JavaConnect {
    /// `ConnectStandalone` with a worker config and connector files.
    pub fn standalone(state: &Path, files: &[&Path]) -> JavaConnect {
        JavaConnect::spawn("standalone", state, files)
    }

    /// `ConnectDistributed` with a worker config (`group.id`, the three
    /// internal topics, `listeners` …).
    pub fn distributed(state: &Path, worker: &Path) -> JavaConnect {
        JavaConnect::spawn("distributed", state, &[worker])
    }

    fn spawn(mode: &str, state: &Path, files: &[&Path]) -> JavaConnect {
        let console = state.join("console.log");
        let out = std::fs::File::create(&console).expect("creating console log");
        let err = out.try_clone().expect("cloning console log handle");
        let child = Command::new("bash")
            .arg(script())
            .arg(mode)
            .args(files)
            .env("KCONNECT_JAVA_CONNECT_STATE", state)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("starting tests/env/connect-java.sh {mode}: {e}"));
        JavaConnect {
            child,
            state: state.to_owned(),
            console,
        }
    }

    /// The worker log (`connect.log` in the state dir), as written so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.state.join("connect.log")).unwrap_or_default()
    }

    pub fn log_tail(&self) -> String {
        let tail = |p: &Path| {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(60)..].join("\n")
        };
        format!(
            "--- console ---\n{}\n--- connect.log ---\n{}",
            tail(&self.console),
            tail(&self.state.join("connect.log"))
        )
    }

    pub fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().expect("polling Java Connect") {
            panic!(
                "Java Connect exited early with {status}\n{}",
                self.log_tail()
            );
        }
    }

    /// SIGTERM and wait up to [`STOP_BOUND`] for the JVM to exit.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        self.terminate(STOP_BOUND)
    }

    /// SIGTERM (Connect's shutdown hook stops connectors and tasks and
    /// flushes offsets), then waits for the JVM to exit.
    pub fn terminate(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting for Java Connect") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for JavaConnect {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None))
            && self.terminate(Duration::from_secs(20)).is_none()
        {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Where Java's state goes: under `$KCONNECT_TEST_STATE` when the test
/// command set it (kept, and the command checks that no process naming it
/// survives the run), else a temporary folder removed at the end. `prefix`
/// names the folder.
pub fn state_dir(prefix: &str) -> (Option<tempfile::TempDir>, PathBuf) {
    match std::env::var_os("KCONNECT_TEST_STATE").filter(|s| !s.is_empty()) {
        Some(root) => {
            let dir = PathBuf::from(root).join(unique(prefix));
            std::fs::create_dir_all(&dir).expect("creating Java Connect state dir");
            let dir = std::fs::canonicalize(&dir).expect("canonicalizing state dir");
            (None, dir)
        }
        None => {
            let tmp = tempfile::Builder::new()
                .prefix(&format!("{prefix}-"))
                .tempdir()
                .expect("tempdir");
            let dir = std::fs::canonicalize(tmp.path()).expect("canonicalizing state dir");
            (Some(tmp), dir)
        }
    }
}

/// PIDs and command lines of live processes (other than this test's) whose
/// command line names `dir`.
pub fn processes_naming(dir: &Path) -> Vec<String> {
    let needle = dir.to_string_lossy().into_owned();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("reading /proc").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) || name == std::process::id().to_string() {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(&needle) {
            found.push(format!("{name}: {cmdline}"));
        }
    }
    found
}

/// The worker config a kconnect worker and Java Connect share to be one
/// Connect cluster in turn: the group, its three internal topics
/// (replication factor 1 on the test broker), JsonConverter for keys and
/// values. Tests add their own keys.
pub fn shared_cluster_props(group: &str) -> Vec<(&'static str, String)> {
    const JSON_CONVERTER: &str = "org.apache.kafka.connect.json.JsonConverter";
    vec![
        ("bootstrap.servers", super::kafka_bootstrap()),
        ("group.id", group.to_owned()),
        ("config.storage.topic", format!("{group}-configs")),
        ("offset.storage.topic", format!("{group}-offsets")),
        ("status.storage.topic", format!("{group}-status")),
        ("config.storage.replication.factor", "1".into()),
        ("offset.storage.replication.factor", "1".into()),
        ("status.storage.replication.factor", "1".into()),
        ("key.converter", JSON_CONVERTER.into()),
        ("value.converter", JSON_CONVERTER.into()),
    ]
}

/// The config and status topics of `group` (as named by
/// [`shared_cluster_props`]), once the kconnect worker `kc` has created
/// them: it creates them compacted, the status topic last, and writing to
/// one before would have the broker create it with cleanup.policy=delete,
/// which Java Connect refuses.
pub fn internal_topic_logs(
    runtime: &tokio::runtime::Runtime,
    kc: &mut super::Process,
    group: &str,
) -> (
    kconnect::storage::topic_log::TopicLog,
    kconnect::storage::topic_log::TopicLog,
) {
    use kconnect::storage::topic_log::TopicLog;
    let bootstrap = super::kafka_bootstrap();
    let open = |topic: String| {
        TopicLog::open(&bootstrap, &topic, &kconnect::connect::Props::new()).expect("topic log")
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (config, mut status) = (
            open(format!("{group}-configs")),
            open(format!("{group}-status")),
        );
        if runtime
            .block_on(status.read_to_end(Duration::from_secs(5)))
            .is_ok()
        {
            return (config, status);
        }
        kc.assert_running();
        assert!(
            Instant::now() < deadline,
            "internal topics never appeared; log:\n{}",
            kc.log_tail()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}
