//! Records flow through `kconnect standalone` over every secure listener of
//! the test broker (tests/env/kafka.sh): SSL with a client certificate,
//! SASL_SSL with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512, SASL_PLAINTEXT
//! with SCRAM, with worker configs written as Java Connect users write them
//! (JAAS lines, JKS, PKCS12 and PEM stores, `producer.*`/`consumer.*`/
//! `admin.*` prefixes).

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use support::*;

const LINES: usize = 200;

/// One client security setup, as Java keys without a prefix.
struct Setup {
    name: &'static str,
    bootstrap: String,
    keys: Vec<(&'static str, String)>,
}

fn jaas(module: &str, user: &str) -> String {
    format!(
        "org.apache.kafka.common.security.{module} required username=\"{user}\" password=\"{user}-secret\";"
    )
}

fn setups(sec: &BTreeMap<String, String>, token_url: &str) -> Vec<Setup> {
    let tls = |f: &str| format!("{}/{f}", sec["KAFKA_TLS_DIR"]);
    let plain = jaas("plain.PlainLoginModule", "alice");
    let scram = jaas("scram.ScramLoginModule", "alice");
    vec![
        Setup {
            name: "ssl-mtls-pem",
            bootstrap: sec["KAFKA_SSL_BOOTSTRAP"].clone(),
            keys: vec![
                ("security.protocol", "SSL".into()),
                ("ssl.truststore.type", "PEM".into()),
                ("ssl.truststore.location", tls("ca.crt")),
                ("ssl.keystore.type", "PEM".into()),
                ("ssl.keystore.location", tls("client.pem")),
            ],
        },
        Setup {
            // Java's defaults: JKS stores.
            name: "ssl-mtls-jks",
            bootstrap: sec["KAFKA_SSL_BOOTSTRAP"].clone(),
            keys: vec![
                ("security.protocol", "SSL".into()),
                ("ssl.truststore.location", tls("trust.jks")),
                ("ssl.truststore.password", "changeit".into()),
                ("ssl.keystore.location", tls("client.jks")),
                ("ssl.keystore.password", "changeit".into()),
                ("ssl.key.password", "changeit".into()),
                ("ssl.keymanager.algorithm", "SunX509".into()),
            ],
        },
        Setup {
            name: "sasl-ssl-plain",
            bootstrap: sec["KAFKA_SASL_SSL_BOOTSTRAP"].clone(),
            keys: vec![
                ("security.protocol", "SASL_SSL".into()),
                ("sasl.mechanism", "PLAIN".into()),
                ("sasl.jaas.config", plain),
                ("ssl.truststore.location", tls("trust.jks")),
                ("ssl.truststore.password", "changeit".into()),
            ],
        },
        Setup {
            name: "sasl-ssl-scram-256",
            bootstrap: sec["KAFKA_SASL_SSL_BOOTSTRAP"].clone(),
            keys: vec![
                ("security.protocol", "SASL_SSL".into()),
                ("sasl.mechanism", "SCRAM-SHA-256".into()),
                ("sasl.jaas.config", scram.clone()),
                ("ssl.truststore.type", "PKCS12".into()),
                ("ssl.truststore.location", tls("trust.p12")),
                ("ssl.truststore.password", "changeit".into()),
            ],
        },
        Setup {
            name: "sasl-ssl-scram-512",
            bootstrap: sec["KAFKA_SASL_SSL_BOOTSTRAP"].clone(),
            keys: vec![
                ("security.protocol", "SASL_SSL".into()),
                ("sasl.mechanism", "SCRAM-SHA-512".into()),
                ("sasl.jaas.config", scram.clone()),
                ("ssl.truststore.type", "PEM".into()),
                (
                    "ssl.truststore.certificates",
                    std::fs::read_to_string(tls("ca.crt"))
                        .expect("ca.crt")
                        .replace('\n', "\\n"),
                ),
            ],
        },
        Setup {
            // OIDC client credentials: a token from the test identity
            // provider, signed, checked by the broker against its JWKS.
            name: "sasl-ssl-oauthbearer-oidc",
            bootstrap: sec["KAFKA_SASL_SSL_BOOTSTRAP"].clone(),
            keys: vec![
                ("security.protocol", "SASL_SSL".into()),
                ("sasl.mechanism", "OAUTHBEARER".into()),
                (
                    "sasl.login.callback.handler.class",
                    "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler".into(),
                ),
                ("sasl.oauthbearer.token.endpoint.url", token_url.to_owned()),
                (
                    "sasl.jaas.config",
                    "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId=\"alice\" clientSecret=\"alice-secret\" scope=\"kafka\";".into(),
                ),
                ("ssl.truststore.type", "PEM".into()),
                ("ssl.truststore.location", tls("ca.crt")),
            ],
        },
        Setup {
            // Kafka's unsecured (unsigned) tokens, principal alice.
            name: "sasl-plaintext-oauthbearer-unsecured",
            bootstrap: sec["KAFKA_SASL_PLAINTEXT_BOOTSTRAP"].clone(),
            keys: vec![
                ("security.protocol", "SASL_PLAINTEXT".into()),
                ("sasl.mechanism", "OAUTHBEARER".into()),
                (
                    "sasl.jaas.config",
                    "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub=\"alice\";".into(),
                ),
            ],
        },
        Setup {
            name: "sasl-plaintext-scram-512",
            bootstrap: sec["KAFKA_SASL_PLAINTEXT_BOOTSTRAP"].clone(),
            keys: vec![
                ("security.protocol", "SASL_PLAINTEXT".into()),
                ("sasl.mechanism", "SCRAM-SHA-512".into()),
                ("sasl.jaas.config", scram),
            ],
        },
    ]
}

/// A standalone worker with a FileStreamSource (file → topic) and a
/// FileStreamSink (topic → file) whose clients use `setup`.
struct Pipeline {
    dir: tempfile::TempDir,
    topic: String,
    text: String,
    output: std::path::PathBuf,
    port: u16,
    kc: Process,
}

fn start_pipeline(setup: &Setup) -> Pipeline {
    let dir = tempfile::tempdir().expect("tempdir");
    let topic = unique(setup.name);
    create_topic(&topic, 1);
    let input = dir.path().join("input.txt");
    let output = dir.path().join("output.txt");
    let text: String = (0..LINES)
        .map(|i| format!("{}-{i:04}\n", setup.name))
        .collect();
    std::fs::write(&input, &text).expect("input");
    let port = free_port();
    let mut worker = vec![
        ("bootstrap.servers", setup.bootstrap.clone()),
        (
            "offset.storage.file.filename",
            path(&dir.path().join("offsets")),
        ),
        ("offset.flush.interval.ms", "200".into()),
        ("listeners", format!("http://127.0.0.1:{port}")),
        (
            "key.converter",
            "org.apache.kafka.connect.storage.StringConverter".into(),
        ),
        (
            "value.converter",
            "org.apache.kafka.connect.storage.StringConverter".into(),
        ),
    ];
    // As Strimzi writes them: once per client role.
    let prefixed: Vec<(String, String)> = ["producer.", "consumer.", "admin."]
        .iter()
        .flat_map(|p| {
            setup
                .keys
                .iter()
                .map(move |(k, v)| (format!("{p}{k}"), v.clone()))
        })
        .collect();
    worker.extend(prefixed.iter().map(|(k, v)| (k.as_str(), v.clone())));
    let worker_file = dir.path().join("worker.properties");
    write_props(&worker_file, &worker);
    let source = dir.path().join("source.properties");
    write_props(
        &source,
        &[
            ("name", format!("{topic}-source")),
            ("connector.class", "FileStreamSource".into()),
            ("file", path(&input)),
            ("topic", topic.clone()),
        ],
    );
    let sink = dir.path().join("sink.properties");
    write_props(
        &sink,
        &[
            ("name", format!("{topic}-sink")),
            ("connector.class", "FileStreamSink".into()),
            ("file", path(&output)),
            ("topics", topic.clone()),
        ],
    );
    let kc = Process::standalone(dir.path(), &[&worker_file, &source, &sink], setup.name);
    Pipeline {
        dir,
        topic,
        text,
        output,
        port,
        kc,
    }
}

/// file → topic → file over `setup`: every line arrives, in order.
fn run_pipeline(setup: &Setup) {
    let Pipeline {
        dir: _dir,
        text,
        output,
        mut kc,
        ..
    } = start_pipeline(setup);
    let done = wait_for(Duration::from_secs(60), || {
        kc.assert_running();
        count_lines(&output) >= LINES
    });
    assert!(
        done,
        "{}: {} of {LINES} lines arrived; log:\n{}",
        setup.name,
        count_lines(&output),
        kc.log_tail()
    );
    assert_eq!(
        std::fs::read_to_string(&output).expect("output"),
        text,
        "{}",
        setup.name
    );
    assert!(kc.terminate().success(), "{}", setup.name);
    let log = std::fs::read_to_string(&kc.log).unwrap_or_default();
    for secret in ["alice-secret", "changeit", "BEGIN CERTIFICATE"] {
        assert!(
            !log.contains(secret),
            "{}: the log shows {secret:?}",
            setup.name
        );
    }
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// Both tasks FAILED with a trace that has every one of `want`, and no
/// secret.
fn assert_tasks_fail(setup: &Setup, want: &[&str]) {
    let p = start_pipeline(setup);
    let api = support::rest::Api::new(p.port);
    for connector in [format!("{}-source", p.topic), format!("{}-sink", p.topic)] {
        let status = api.wait(
            &format!("{}: {connector} FAILED", setup.name),
            &format!("/connectors/{connector}/status"),
            |r| r.body["tasks"][0]["state"] == "FAILED",
        );
        let trace = status.body["tasks"][0]["trace"].as_str().unwrap_or("");
        eprintln!("{}: {connector}: {trace}", setup.name);
        for w in want {
            assert!(
                trace.contains(w),
                "{}: {connector}'s trace lacks {w:?}: {trace}",
                setup.name
            );
        }
        assert!(!trace.contains("-secret"), "{}: {trace}", setup.name);
    }
    drop(p);
}

#[test]
fn wrong_credentials_untrusted_certificates_and_acl_denials_fail_tasks_clearly() {
    let sec = kafka_security();
    let tls = |f: &str| format!("{}/{f}", sec["KAFKA_TLS_DIR"]);
    let sasl_ssl = sec["KAFKA_SASL_SSL_BOOTSTRAP"].clone();
    let trust = || {
        vec![
            ("ssl.truststore.type", "PEM".to_string()),
            ("ssl.truststore.location", tls("ca.crt")),
        ]
    };
    let mut wrong_password = vec![
        ("security.protocol", "SASL_SSL".to_string()),
        ("sasl.mechanism", "SCRAM-SHA-512".into()),
        (
            "sasl.jaas.config",
            "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"alice\" password=\"not-alices-secret\";".into(),
        ),
    ];
    wrong_password.extend(trust());
    assert_tasks_fail(
        &Setup {
            name: "wrong-password",
            bootstrap: sasl_ssl.clone(),
            keys: wrong_password,
        },
        &["Kafka authentication failed", "SCRAM-SHA-512", "localhost:"],
    );
    assert_tasks_fail(
        &Setup {
            name: "untrusted-ca",
            bootstrap: sec["KAFKA_SSL_BOOTSTRAP"].clone(),
            keys: vec![
                ("security.protocol", "SSL".into()),
                ("ssl.truststore.type", "PEM".into()),
                ("ssl.truststore.location", tls("other-ca.crt")),
                ("ssl.keystore.type", "PEM".into()),
                ("ssl.keystore.location", tls("client.pem")),
            ],
        },
        &[
            "TLS with the Kafka broker failed",
            "certificate verify failed",
        ],
    );
    // bob authenticates but has no ACL: the broker refuses the topic (and
    // the sink's group).
    let mut no_acl = vec![
        ("security.protocol", "SASL_SSL".to_string()),
        ("sasl.mechanism", "SCRAM-SHA-512".into()),
        ("sasl.jaas.config", jaas("scram.ScramLoginModule", "bob")),
    ];
    no_acl.extend(trust());
    assert_tasks_fail(
        &Setup {
            name: "acl-denied",
            bootstrap: sasl_ssl,
            keys: no_acl,
        },
        &["authorization failed", "acl-denied-", "as User:bob"],
    );
}

/// base64url without padding, as JWTs use it.
fn b64url(bytes: &[u8]) -> String {
    openssl::base64::encode_block(bytes)
        .replace('+', "-")
        .replace('/', "_")
        .trim_end_matches('=')
        .to_owned()
}

/// The test identity provider's token endpoint (OAuth client-credentials
/// grant): every request gets an RS256 JWT for the client, signed with the
/// key whose JWKS the broker checks tokens against. Returns its URL and
/// how many tokens it gave out.
fn token_endpoint(key_pem: &str) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    let key = openssl::pkey::PKey::private_key_from_pem(
        &std::fs::read(key_pem).expect("the identity provider's key"),
    )
    .expect("an RSA key");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("token endpoint");
    let url = format!("http://{}/token", listener.local_addr().expect("address"));
    let issued = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = issued.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            // Headers and the short form body arrive together.
            while let Ok(n) = stream.read(&mut buf) {
                request.extend_from_slice(&buf[..n]);
                if n == 0 || request.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let header = b64url(br#"{"alg":"RS256","typ":"JWT","kid":"kconnect-test"}"#);
            let claims = b64url(
                serde_json::json!({"sub": "alice", "iat": now, "exp": now + 3600, "scope": "kafka"})
                    .to_string()
                    .as_bytes(),
            );
            let signing_input = format!("{header}.{claims}");
            let mut signer =
                openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &key)
                    .expect("signer");
            signer.update(signing_input.as_bytes()).expect("signing");
            let jwt = format!(
                "{signing_input}.{}",
                b64url(&signer.sign_to_vec().expect("signature"))
            );
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let body = serde_json::json!({"access_token": jwt, "token_type": "bearer", "expires_in": 3600})
                .to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, issued)
}

#[test]
fn records_flow_over_every_secure_listener_with_java_style_configs() {
    let sec = kafka_security();
    let (token_url, issued) = token_endpoint(&format!("{}/oauth.key", sec["KAFKA_TLS_DIR"]));
    for setup in setups(&sec, &token_url) {
        eprintln!("== {}", setup.name);
        run_pipeline(&setup);
    }
    assert!(
        issued.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "the OIDC clients fetched their tokens from the identity provider"
    );
}

/// A distributed worker (`kconnect worker`) whose own clients (the internal
/// topics, from the bare keys) and task clients (`producer.*`, …) all use
/// SASL_SSL with SCRAM-SHA-512 and a JKS truststore: it creates and follows
/// its topics, publishes task configs and runs the tasks it is assigned.
/// The test drives it over the PLAINTEXT listener, as the operator would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_distributed_worker_runs_over_sasl_ssl() {
    use kconnect::connect::Props;
    use kconnect::storage::config_topic::{ConfigRecord, ConfigState, TargetState};
    use kconnect::storage::status_topic::StatusRecord;
    use kconnect::storage::topic_log::TopicLog;

    let sec = kafka_security();
    let tls = |f: &str| format!("{}/{f}", sec["KAFKA_TLS_DIR"]);
    let plaintext = kafka_bootstrap();
    let dir = tempfile::tempdir().expect("tempdir");
    let group = unique("secure-dist");
    let topics = [
        format!("{group}-configs"),
        format!("{group}-offsets"),
        format!("{group}-status"),
    ];
    let security = [
        ("security.protocol", "SASL_SSL".to_string()),
        ("sasl.mechanism", "SCRAM-SHA-512".into()),
        ("sasl.jaas.config", jaas("scram.ScramLoginModule", "alice")),
        ("ssl.truststore.location", tls("trust.jks")),
        ("ssl.truststore.password", "changeit".into()),
    ];
    let mut props: Vec<(String, String)> = vec![
        (
            "bootstrap.servers".into(),
            sec["KAFKA_SASL_SSL_BOOTSTRAP"].clone(),
        ),
        ("group.id".into(), group.clone()),
        ("config.storage.topic".into(), topics[0].clone()),
        ("offset.storage.topic".into(), topics[1].clone()),
        ("status.storage.topic".into(), topics[2].clone()),
        ("config.storage.replication.factor".into(), "1".into()),
        ("offset.storage.replication.factor".into(), "1".into()),
        ("status.storage.replication.factor".into(), "1".into()),
        ("worker.sync.interval.ms".into(), "100".into()),
        (
            "listeners".into(),
            format!("http://127.0.0.1:{}", free_port()),
        ),
    ];
    for prefix in ["", "producer.", "consumer.", "admin."] {
        props.extend(
            security
                .iter()
                .map(|(k, v)| (format!("{prefix}{k}"), v.clone())),
        );
    }
    let worker_file = dir.path().join("worker.properties");
    let pairs: Vec<(&str, String)> = props.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    write_props(&worker_file, &pairs);
    let worker_file = worker_file.display().to_string();
    let mut worker = Process::spawn(
        dir.path(),
        &[
            "worker",
            "--worker-id",
            "w-0",
            "--health-listen",
            "127.0.0.1:0",
            &worker_file,
        ],
        &[],
        "secure-worker",
    );

    // The worker made its internal topics over SASL_SSL.
    let open = |t: &str| TopicLog::open(&plaintext, t, &Props::new()).expect("topic log");
    let mut ready = false;
    for _ in 0..200 {
        worker.assert_running();
        if open(&topics[2])
            .read_to_end(Duration::from_secs(5))
            .await
            .is_ok()
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(
        ready,
        "internal topics never appeared; log:\n{}",
        worker.log_tail()
    );
    let config = open(&topics[0]);
    let status = open(&topics[2]);

    let data_topic = unique("secure-orders");
    create_topic(&data_topic, 1);
    let connector: BTreeMap<String, String> = [
        ("name", "gen"),
        ("connector.class", "datagen"),
        ("tasks.max", "2"),
        ("topic", data_topic.as_str()),
        ("count", "100"),
        ("rate", "0"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for record in [
        ConfigRecord::Connector {
            name: "gen".into(),
            props: Some(connector),
        },
        ConfigRecord::TargetState {
            connector: "gen".into(),
            state: TargetState::Started,
        },
    ] {
        let (k, v) = record.encode();
        config.send(&k, v.as_deref()).await.expect("config record");
    }
    let assign = |generation: u64, tasks: serde_json::Value| {
        StatusRecord::Assignment {
            group: group.clone(),
            value: Some(serde_json::json!({"generation": generation, "workers": {"w-0": {"connectors": ["gen"], "tasks": tasks}}})),
        }
        .encode()
    };
    let (k, v) = assign(1, serde_json::json!([]));
    status.send(&k, v.as_deref()).await.expect("assignment");
    // Task configs come back through the config topic.
    let mut reader = open(&topics[0]);
    let mut state = ConfigState::default();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while state.tasks.get("gen").is_none_or(|t| t.len() != 2) {
        worker.assert_running();
        assert!(
            std::time::Instant::now() < deadline,
            "no task configs; log:\n{}",
            worker.log_tail()
        );
        for (k, v) in reader
            .read_to_end(Duration::from_secs(5))
            .await
            .expect("read")
        {
            if let Ok(r) = ConfigRecord::decode(&k, v.as_deref()) {
                state.apply(r);
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (k, v) = assign(2, serde_json::json!(["gen-0", "gen-1"]));
    status.send(&k, v.as_deref()).await.expect("assignment");
    let arrived = wait_for(Duration::from_secs(60), || {
        worker.assert_running();
        read_topic(&data_topic).len() >= 100
    });
    assert!(
        arrived,
        "100 records over SASL_SSL; log:\n{}",
        worker.log_tail()
    );
    assert!(worker.terminate().success(), "log:\n{}", worker.log_tail());
    let log = std::fs::read_to_string(&worker.log).unwrap_or_default();
    assert!(
        !log.contains("alice-secret") && !log.contains("changeit"),
        "a secret in the log"
    );
}
