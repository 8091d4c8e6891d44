//! The REST API over HTTPS with Java Connect's keys (`listeners=https://…`,
//! `listeners.https.ssl.*`), checked with curl as a real client: a PEM
//! keystore with client certificates required, then a PKCS12 keystore
//! with client certificates only requested. The certificates are the test
//! broker's (tests/env/kafka.sh: a CA, a server certificate for localhost,
//! a client certificate).

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::*;

/// curl's exit code and body for `url`, with extra arguments.
fn curl(url: &str, args: &[&str]) -> (i32, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .args(args)
        .arg(url)
        .output()
        .expect("running curl");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn start(dir: &Path, port: u16, tls: &[(&str, String)]) -> Process {
    let worker = dir.join("worker.properties");
    let mut props = vec![
        ("bootstrap.servers", kafka_bootstrap()),
        ("listeners", format!("https://127.0.0.1:{port}")),
        (
            "offset.storage.file.filename",
            dir.join("offsets.json").display().to_string(),
        ),
    ];
    props.extend(tls.iter().cloned());
    write_props(&worker, &props);
    let mut proc = Process::spawn(
        dir,
        &["standalone", &worker.display().to_string()],
        &[],
        "https",
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        proc.assert_running();
        assert!(Instant::now() < deadline, "REST API never came up");
        std::thread::sleep(Duration::from_millis(50));
    }
    proc
}

/// An X.509 v3 client certificate (extendedKeyUsage clientAuth) signed by
/// the test CA: rustls, unlike Java, refuses v1 certificates such as the
/// broker tests' client.crt.
fn client_certificate(dir: &Path, ca: &str, ca_key: &str) -> (String, String) {
    let (key, csr, crt, ext) = (
        dir.join("rest-client.key"),
        dir.join("rest-client.csr"),
        dir.join("rest-client.crt"),
        dir.join("rest-client.ext"),
    );
    std::fs::write(&ext, "extendedKeyUsage=clientAuth\n").unwrap();
    let run = |args: &[&str]| {
        let ok = Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl");
        assert!(
            ok.status.success(),
            "{}",
            String::from_utf8_lossy(&ok.stderr)
        );
    };
    let p = |p: &Path| p.display().to_string();
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=rest-client",
        "-keyout",
        &p(&key),
        "-out",
        &p(&csr),
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        &p(&csr),
        "-CA",
        ca,
        "-CAkey",
        ca_key,
        "-set_serial",
        "4242",
        "-days",
        "2",
        "-extfile",
        &p(&ext),
        "-out",
        &p(&crt),
    ]);
    (p(&crt), p(&key))
}

#[test]
fn the_rest_api_serves_https_with_client_certificates() {
    let sec = kafka_security();
    let tls = |f: &str| format!("{}/{f}", sec["KAFKA_TLS_DIR"]);
    let dir = tempfile::tempdir().expect("tempdir");

    // PEM keystore (key and chain in one file), client certificates required.
    let port = free_port();
    let mut proc = start(
        dir.path(),
        port,
        &[
            ("listeners.https.ssl.keystore.type", "PEM".into()),
            ("listeners.https.ssl.keystore.location", tls("broker.pem")),
            ("listeners.https.ssl.truststore.type", "PEM".into()),
            ("listeners.https.ssl.truststore.location", tls("ca.crt")),
            ("listeners.https.ssl.client.auth", "required".into()),
        ],
    );
    let url = format!("https://localhost:{port}/connectors");
    let ca = tls("ca.crt");
    let (cert, key) = client_certificate(dir.path(), &tls("ca.crt"), &tls("ca.key"));
    let (code, body) = curl(&url, &["--cacert", &ca, "--cert", &cert, "--key", &key]);
    assert_eq!((code, body.trim()), (0, "[]"), "with a client certificate");
    let (code, body) = curl(&url, &["--cacert", &ca]);
    assert_ne!(code, 0, "no client certificate, no answer: {body}");
    let (code, body) = curl(&format!("http://localhost:{port}/connectors"), &[]);
    assert_ne!(code, 0, "plain HTTP is not served: {body}");
    let (code, body) = curl(&url, &["--cert", &cert, "--key", &key]);
    assert_ne!(code, 0, "curl does not trust the test CA by itself: {body}");
    proc.terminate();

    // PKCS12 keystore, client certificates only requested.
    let p12 = dir.path().join("server.p12");
    let made = Command::new("openssl")
        .args(["pkcs12", "-export", "-passout", "pass:changeit", "-in"])
        .arg(tls("broker.crt"))
        .arg("-inkey")
        .arg(tls("broker.key"))
        .arg("-out")
        .arg(&p12)
        .status()
        .expect("openssl");
    assert!(made.success());
    let port = free_port();
    let mut proc = start(
        dir.path(),
        port,
        &[
            ("listeners.https.ssl.keystore.type", "PKCS12".into()),
            (
                "listeners.https.ssl.keystore.location",
                p12.display().to_string(),
            ),
            ("listeners.https.ssl.keystore.password", "changeit".into()),
            ("listeners.https.ssl.truststore.type", "PEM".into()),
            ("listeners.https.ssl.truststore.location", tls("ca.crt")),
            ("listeners.https.ssl.client.auth", "requested".into()),
        ],
    );
    let url = format!("https://localhost:{port}/");
    let (code, body) = curl(&url, &["--cacert", &ca]);
    assert_eq!(
        code, 0,
        "requested: a client without a certificate is served: {body}"
    );
    assert!(body.contains("\"version\""), "{body}");
    let (code, body) = curl(&url, &["--cacert", &ca, "--cert", &cert, "--key", &key]);
    assert_eq!(code, 0, "{body}");
    proc.terminate();

    // A keystore that cannot be read stops the worker with the key named.
    let worker = dir.path().join("bad.properties");
    write_props(
        &worker,
        &[
            ("bootstrap.servers", kafka_bootstrap()),
            ("listeners", format!("https://127.0.0.1:{}", free_port())),
            ("listeners.https.ssl.keystore.type", "PKCS12".into()),
            (
                "listeners.https.ssl.keystore.location",
                "/nonexistent.p12".into(),
            ),
            ("listeners.https.ssl.keystore.password", "changeit".into()),
        ],
    );
    let out = Command::new(kconnect_bin())
        .args(["standalone", &worker.display().to_string()])
        .output()
        .expect("kconnect");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("listeners.https.ssl.keystore.location"),
        "{stderr}"
    );
}
