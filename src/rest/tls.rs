//! HTTPS for the REST API, with Java Connect's keys: `listeners=https://…`
//! and the TLS settings under `listeners.https.` — or, when no key has that
//! prefix, the bare `ssl.*` keys (Java's all-or-nothing rule, SSLUtils):
//! `ssl.keystore.*` (PEM file or inline, PKCS12, JKS), `ssl.key.password`,
//! `ssl.truststore.*` and `ssl.client.auth` (`none`, `requested`,
//! `required`) for client certificates. Served with rustls.

use std::net::SocketAddr;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::connect::Props;
use crate::engine::kafka_security::pem_stores;

/// Prefix of the HTTPS listener's own TLS keys.
pub const HTTPS_PREFIX: &str = "listeners.https.";
/// Client certificates: none, requested or required.
pub const CLIENT_AUTH: &str = "ssl.client.auth";

/// The HTTPS listener's TLS settings from a worker config, or an error
/// naming the key.
pub fn server_config(worker: &Props) -> Result<Arc<ServerConfig>, String> {
    let prefixed: Props = worker
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(HTTPS_PREFIX)?.to_owned(), v.clone())))
        .collect();
    let (props, prefix) = if prefixed.is_empty() {
        let bare = worker
            .iter()
            .filter(|(k, _)| k.starts_with("ssl."))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        (bare, "")
    } else {
        (prefixed, HTTPS_PREFIX)
    };
    let named = |key: &str| format!("{prefix}{key}");
    let stores = pem_stores(&props).map_err(|e| format!("{prefix}{e}"))?;
    let (chain, key) = stores.chain_and_key.ok_or_else(|| {
        format!(
            "an https listener needs a server certificate: set {} (PEM, PKCS12 or JKS) or {} and {}",
            named("ssl.keystore.location"),
            named("ssl.keystore.certificate.chain"),
            named("ssl.keystore.key")
        )
    })?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", named("ssl.keystore.location")))?;
    if certs.is_empty() {
        return Err(format!(
            "{}: no certificate",
            named("ssl.keystore.location")
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes())
        .map_err(|e| format!("{}: the private key: {e}", named("ssl.keystore.key")))?;

    let auth = props
        .get(CLIENT_AUTH)
        .map(|a| a.trim().to_ascii_lowercase())
        .unwrap_or_else(|| "none".to_owned());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    let builder = match auth.as_str() {
        "none" => builder.with_no_client_auth(),
        "requested" | "required" => {
            let trusted = stores.trusted.ok_or_else(|| {
                format!(
                    "{}={auth} needs {} to check client certificates against",
                    named(CLIENT_AUTH),
                    named("ssl.truststore.location")
                )
            })?;
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(trusted.as_bytes()) {
                let cert =
                    cert.map_err(|e| format!("{}: {e}", named("ssl.truststore.location")))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("{}: {e}", named("ssl.truststore.location")))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if auth == "requested" {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier
                .build()
                .map_err(|e| format!("{}: {e}", named("ssl.truststore.location")))?;
            builder.with_client_cert_verifier(verifier)
        }
        other => {
            return Err(format!(
                "{}: {other:?} is not none, requested or required",
                named(CLIENT_AUTH)
            ))
        }
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("{}: {e}", named("ssl.keystore.location")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A TCP listener whose connections complete a TLS handshake before axum
/// sees them. Handshakes run concurrently, so a slow or silent client
/// holds up no one; a failed one is logged and dropped.
pub struct TlsListener {
    connections: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    pub fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let acceptor = TlsAcceptor::from(config);
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let (stream, peer) = match tcp.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: wait, retry.
                        tracing::warn!(error = %e, "REST API: accepting a connection failed");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        continue;
                    }
                };
                if tx.is_closed() {
                    return;
                }
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    let handshake = tokio::time::timeout(
                        std::time::Duration::from_secs(10),
                        acceptor.accept(stream),
                    );
                    match handshake.await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => {
                            // A certificate problem is worth a look; port
                            // scanners and health checkers are not.
                            let certificate = e
                                .get_ref()
                                .and_then(|e| e.downcast_ref::<rustls::Error>())
                                .is_some_and(|e| {
                                    matches!(
                                        e,
                                        rustls::Error::InvalidCertificate(_)
                                            | rustls::Error::NoCertificatesPresented
                                    )
                                });
                            if certificate {
                                tracing::warn!(%peer, error = %e, "REST API: client certificate refused");
                            } else {
                                tracing::debug!(%peer, error = %e, "REST API: TLS handshake failed");
                            }
                        }
                        Err(_) => tracing::debug!(%peer, "REST API: TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener {
            connections: rx,
            local,
        })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.connections.recv().await {
            Some(connection) => connection,
            // The accept loop only ends once this side is gone.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::asn1::Asn1Time;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::x509::X509Builder;

    fn self_signed() -> (String, String) {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let mut b = X509Builder::new().unwrap();
        b.set_version(2).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        let cert = String::from_utf8(b.build().to_pem().unwrap()).unwrap();
        let key = String::from_utf8(key.private_key_to_pem_pkcs8().unwrap()).unwrap();
        (cert, key)
    }

    fn props(pairs: &[(&str, &str)]) -> Props {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn prefixed_keys_win_over_bare_ones_all_or_nothing() {
        let (cert, key) = self_signed();
        // Bare ssl.* alone serve.
        let bare = props(&[
            ("ssl.keystore.type", "PEM"),
            ("ssl.keystore.certificate.chain", &cert),
            ("ssl.keystore.key", &key),
        ]);
        assert!(server_config(&bare).is_ok());
        // One prefixed key: the bare ones no longer count.
        let mut mixed = bare.clone();
        mixed.insert("listeners.https.ssl.client.auth".into(), "none".into());
        let e = server_config(&mixed).unwrap_err();
        assert!(e.contains("listeners.https.ssl.keystore.location"), "{e}");
    }

    #[test]
    fn client_auth_needs_a_truststore_and_a_known_value() {
        let (cert, key) = self_signed();
        let base = [
            ("listeners.https.ssl.keystore.type", "PEM"),
            (
                "listeners.https.ssl.keystore.certificate.chain",
                cert.as_str(),
            ),
            ("listeners.https.ssl.keystore.key", key.as_str()),
        ];
        let with = |extra: &[(&str, &str)]| {
            let mut p = props(&base);
            p.extend(props(extra));
            server_config(&p)
        };
        let e = with(&[("listeners.https.ssl.client.auth", "required")]).unwrap_err();
        assert!(e.contains("listeners.https.ssl.truststore.location"), "{e}");
        let e = with(&[("listeners.https.ssl.client.auth", "sometimes")]).unwrap_err();
        assert!(e.contains("not none, requested or required"), "{e}");
        assert!(with(&[
            ("listeners.https.ssl.client.auth", "required"),
            ("listeners.https.ssl.truststore.type", "PEM"),
            ("listeners.https.ssl.truststore.certificates", &cert),
        ])
        .is_ok());
    }
}
