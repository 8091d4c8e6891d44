//! Prometheus exposition of workers, standalone mode and the operator.
//!
//! Kafka Connect's metrics are named exactly as Strimzi's JMX-exporter rules
//! (`examples/metrics/kafka-connect-metrics.yaml`) name Java Connect's
//! MBeans, so Strimzi's alert rules and Grafana dashboard work unchanged:
//! `kafka.connect:type=source-task-metrics,connector=c,task=0` attribute
//! `source-record-poll-rate` becomes
//! `kafka_connect_source_task_source_record_poll_rate{connector="c",task="0"}`.
//!
//! This module knows no metric: each mode builds its own [`Registry`] where
//! it starts ([`registry`]) and the collectors it uses register themselves
//! into it (the Connect groups with `engine::metrics::register`, the
//! operator's own with `operator::metrics::register`). [`render`] is what
//! `/metrics` serves (Prometheus text format 0.0.4, [`CONTENT_TYPE`]); the
//! windows, meters and clocks the collectors sample are in [`sampled`].

pub mod sampled;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::prometheus_text;
pub use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

pub use sampled::{epoch_ms, ticks_us, Meter, Outcomes, Stat, Window, SLOT, SLOTS};

/// `Content-Type` of [`render`]'s output.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// A registry holding what `register` puts into it, to share between the
/// listeners that expose it: `registry(engine::metrics::register)`.
pub fn registry(register: impl FnOnce(&mut Registry)) -> Arc<Registry> {
    let mut registry = Registry::default();
    register(&mut registry);
    Arc::new(registry)
}

/// `registry` in Prometheus text format (version 0.0.4): what `GET
/// /metrics` answers, with [`CONTENT_TYPE`].
pub fn render(registry: &Registry) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_text::encode(&mut out, registry);
    out
}

/// Serves `GET /metrics` (all of `registry`, [`render`]) on `addr` until
/// `stop` is cancelled; any other path gets 404. Returns the bound address
/// (`addr` may ask for port 0). A plain HTTP/1.1 responder: one request per
/// connection, then close.
pub async fn serve(
    addr: SocketAddr,
    registry: Arc<Registry>,
    stop: CancellationToken,
) -> std::io::Result<SocketAddr> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let conn = tokio::select! {
                _ = stop.cancelled() => return,
                c = listener.accept() => c,
            };
            let Ok((mut sock, _)) = conn else { continue };
            let registry = registry.clone();
            tokio::spawn(async move {
                // Enough for a request line and the usual headers.
                let mut buf = vec![0u8; 8192];
                let mut len = 0;
                let read = tokio::time::timeout(Duration::from_secs(5), async {
                    while len < buf.len() {
                        match sock.read(&mut buf[len..]).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => len += n,
                        }
                        if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
                            break;
                        }
                    }
                })
                .await;
                if read.is_err() {
                    return;
                }
                let request = String::from_utf8_lossy(&buf[..len]);
                let mut words = request.split_whitespace();
                let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
                let path = target.split('?').next().unwrap_or("");
                let (status, content_type, body) = match (method, path) {
                    ("GET" | "HEAD", "/metrics") => ("200 OK", CONTENT_TYPE, render(&registry)),
                    ("GET" | "HEAD", _) => (
                        "404 Not Found",
                        "text/plain; charset=utf-8",
                        "not found: metrics are at /metrics\n".to_owned(),
                    ),
                    _ => (
                        "405 Method Not Allowed",
                        "text/plain; charset=utf-8",
                        "method not allowed\n".to_owned(),
                    ),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                if method != "HEAD" {
                    let _ = sock.write_all(body.as_bytes()).await;
                }
                let _ = sock.shutdown().await;
            });
        }
    });
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serves_metrics_and_404_elsewhere() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let stop = CancellationToken::new();
        let registry = registry(|r| {
            let up = prometheus_client::metrics::gauge::Gauge::<i64>::default();
            up.set(1);
            r.register("kconnect_test_up", "Whether the test runs.", up);
        });
        let addr = serve("127.0.0.1:0".parse().unwrap(), registry, stop.clone())
            .await
            .unwrap();
        let get = |path: &'static str| async move {
            let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
            sock.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
                .await
                .unwrap();
            let mut out = String::new();
            sock.read_to_string(&mut out).await.unwrap();
            out
        };
        let ok = get("/metrics").await;
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(
            ok.contains("Content-Type: text/plain; version=0.0.4"),
            "{ok}"
        );
        // The body is the registry it was given.
        assert!(ok.ends_with("kconnect_test_up 1\n"), "{ok}");
        let missing = get("/nope").await;
        assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
        stop.cancel();
    }
}
