//! TLS to PostgreSQL with Debezium's keys, in pgjdbc's meanings:
//! `database.sslmode` (`disable`, `allow`, `prefer`, `require`,
//! `verify-ca`, `verify-full`), `database.sslrootcert` (PEM CA file;
//! `~/.postgresql/root.crt` when unset, as pgjdbc), `database.sslcert` and
//! `database.sslkey` (PEM client certificate and key, for servers that
//! authenticate clients by certificate).
//!
//! The snapshot and catalog session goes through tokio-postgres-rustls, the
//! replication stream through pgwire-replication's rustls support; both get
//! the same policy. `allow` and `prefer` try TLS and fall back to plain
//! text when the server has none; `require` encrypts without checking the
//! certificate (pgjdbc's `NonValidatingFactory`); `verify-ca` checks the
//! chain; `verify-full` checks the chain and that the certificate names
//! `database.hostname`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use super::config::{PostgresConfig, SSLCERT, SSLKEY, SSLMODE, SSLROOTCERT};

/// A TLS setting that cannot be used, with the key that names it.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {message}")]
pub struct TlsSettingError {
    pub key: &'static str,
    pub message: String,
}

fn err(key: &'static str, message: String) -> TlsSettingError {
    TlsSettingError { key, message }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub fn parse(mode: &str) -> Option<SslMode> {
        Some(match mode.trim().to_ascii_lowercase().as_str() {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    fn verifies_chain(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyFull)
    }
}

/// pgjdbc's TLS settings, borrowed from wherever they are configured.
#[derive(Debug, Clone, Copy)]
pub struct TlsSettings<'a> {
    pub mode: &'a str,
    pub hostname: &'a str,
    pub rootcert: Option<&'a str>,
    pub cert: Option<&'a str>,
    pub key: Option<&'a str>,
}

/// The TLS policy of one connector: what both connections use.
#[derive(Debug, Clone)]
pub struct PgTls {
    pub mode: SslMode,
    hostname: String,
    rootcert: Option<PathBuf>,
    client: Option<(PathBuf, PathBuf)>,
    /// A name the server's certificate carries, once a session verified
    /// its chain (for the replication stream under `verify-ca`).
    presented: Arc<Mutex<Option<String>>>,
}

impl PgTls {
    /// The policy from a validated config; an error names the key whose file
    /// is missing or unreadable.
    pub fn from_config(cfg: &PostgresConfig) -> Result<PgTls, TlsSettingError> {
        PgTls::new(&TlsSettings {
            mode: &cfg.sslmode,
            hostname: &cfg.hostname,
            rootcert: cfg.sslrootcert.as_deref(),
            cert: cfg.sslcert.as_deref(),
            key: cfg.sslkey.as_deref(),
        })
    }

    /// The policy from pgjdbc's settings, wherever they came from (the CDC
    /// source's `database.ssl*` keys, a JDBC URL's `ssl*` parameters);
    /// errors name the source's keys.
    pub fn new(cfg: &TlsSettings<'_>) -> Result<PgTls, TlsSettingError> {
        let mode = SslMode::parse(cfg.mode)
            .ok_or_else(|| err(SSLMODE, format!("unknown mode {:?}", cfg.mode)))?;
        let rootcert = match (cfg.rootcert, mode.verifies_chain()) {
            (Some(path), _) => Some(PathBuf::from(path)),
            (None, true) => {
                let default = std::env::var_os("HOME")
                    .map(|home| Path::new(&home).join(".postgresql/root.crt"))
                    .filter(|p| p.is_file());
                Some(default.ok_or_else(|| {
                    err(
                        SSLROOTCERT,
                        format!(
                            "{SSLMODE}={} checks the server's certificate against a CA; \
                             set {SSLROOTCERT} to its PEM file",
                            cfg.mode
                        ),
                    )
                })?)
            }
            (None, false) => None,
        };
        let client = match (cfg.cert, cfg.key) {
            (Some(cert), Some(key)) => Some((PathBuf::from(cert), PathBuf::from(key))),
            (None, None) => None,
            (Some(_), None) => return Err(err(SSLKEY, format!("{SSLCERT} needs its private key"))),
            (None, Some(_)) => return Err(err(SSLCERT, format!("{SSLKEY} needs its certificate"))),
        };
        let tls = PgTls {
            mode,
            hostname: cfg.hostname.to_owned(),
            rootcert,
            client,
            presented: Arc::default(),
        };
        if mode != SslMode::Disable {
            // Reads every file now, so a bad path fails validation-time
            // rather than at the first connection.
            tls.client_config()?;
        }
        Ok(tls)
    }

    /// What tokio-postgres negotiates.
    pub fn session_mode(&self) -> tokio_postgres::config::SslMode {
        use tokio_postgres::config::SslMode as Pg;
        match self.mode {
            SslMode::Disable => Pg::Disable,
            SslMode::Allow | SslMode::Prefer => Pg::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => Pg::Require,
        }
    }

    /// The session's TLS connector.
    pub fn session_connector(
        &self,
    ) -> Result<tokio_postgres_rustls::MakeRustlsConnect, TlsSettingError> {
        Ok(tokio_postgres_rustls::MakeRustlsConnect::new(
            self.client_config()?,
        ))
    }

    /// The replication stream's TLS settings. pgwire-replication checks
    /// `verify-ca` chains itself, but takes any name mismatch for fatal with
    /// this rustls (it knows only the older error variant); so `verify-ca`
    /// becomes its `verify-full` against a name the server's certificate
    /// carries, taken by the session that verified the chain first. Its
    /// `verify-full` wants the name spelled out when it is an IP address.
    pub fn replication(&self) -> pgwire_replication::TlsConfig {
        use pgwire_replication::SslMode as Repl;
        let mode = match self.mode {
            SslMode::Disable => Repl::Disable,
            SslMode::Allow | SslMode::Prefer => Repl::Prefer,
            SslMode::Require => Repl::Require,
            SslMode::VerifyCa => Repl::VerifyFull,
            SslMode::VerifyFull => Repl::VerifyFull,
        };
        let mut tls = pgwire_replication::TlsConfig {
            mode,
            ca_pem_path: self.rootcert.clone(),
            ..Default::default()
        };
        match self.mode {
            SslMode::VerifyCa => {
                tls.sni_hostname = self.presented.lock().ok().and_then(|p| p.clone());
            }
            SslMode::VerifyFull => tls.sni_hostname = Some(self.hostname.clone()),
            _ => {}
        }
        if let Some((cert, key)) = &self.client {
            tls.client_cert_pem_path = Some(cert.clone());
            tls.client_key_pem_path = Some(key.clone());
        }
        tls
    }

    fn client_config(&self) -> Result<ClientConfig, TlsSettingError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| err(SSLMODE, format!("TLS to PostgreSQL: {e}")))?;
        let verifier: Arc<dyn ServerCertVerifier> = match &self.rootcert {
            Some(path) if self.mode.verifies_chain() => {
                let roots = root_store(path)?;
                let webpki =
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                        .build()
                        .map_err(|e| err(SSLROOTCERT, e.to_string()))?;
                Arc::new(Verifier {
                    mode: self.mode,
                    webpki: Some(webpki),
                    provider: provider.clone(),
                    presented: self.presented.clone(),
                })
            }
            _ => Arc::new(Verifier {
                mode: self.mode,
                webpki: None,
                provider: provider.clone(),
                presented: self.presented.clone(),
            }),
        };
        let builder = builder
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        match &self.client {
            Some((cert, key)) => {
                let chain = CertificateDer::pem_file_iter(cert)
                    .and_then(|i| i.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| err(SSLCERT, format!("{}: {e}", cert.display())))?;
                if chain.is_empty() {
                    return Err(err(
                        SSLCERT,
                        format!("{}: no PEM certificate", cert.display()),
                    ));
                }
                let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                    err(
                        SSLKEY,
                        format!(
                            "{}: {e} (a PEM private key; encrypted keys are not supported)",
                            key.display()
                        ),
                    )
                })?;
                builder.with_client_auth_cert(chain, key).map_err(|e| {
                    err(
                        SSLKEY,
                        format!(
                            "cannot use the client certificate {} with this key: {e}",
                            cert.display()
                        ),
                    )
                })
            }
            None => Ok(builder.with_no_client_auth()),
        }
    }

    /// The hostname `verify-full` checks.
    pub fn hostname(&self) -> &str {
        &self.hostname
    }
}

fn root_store(path: &Path) -> Result<RootCertStore, TlsSettingError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(|e| err(SSLROOTCERT, format!("{}: {e}", path.display())))?;
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(err(
            SSLROOTCERT,
            format!("{}: no usable CA certificate in it", path.display()),
        ));
    }
    Ok(roots)
}

/// The first DNS name (else the first IP address) a DER certificate names,
/// for the replication stream under `verify-ca`.
pub fn presented_name(cert: &[u8]) -> Option<String> {
    let x509 = openssl::x509::X509::from_der(cert).ok()?;
    let names = x509.subject_alt_names()?;
    let dns = names.iter().find_map(|n| n.dnsname().map(str::to_owned));
    dns.or_else(|| {
        names.iter().find_map(|n| {
            let ip = n.ipaddress()?;
            match ip.len() {
                4 => Some(std::net::Ipv4Addr::from(<[u8; 4]>::try_from(ip).ok()?).to_string()),
                16 => Some(std::net::Ipv6Addr::from(<[u8; 16]>::try_from(ip).ok()?).to_string()),
                _ => None,
            }
        })
    })
}

/// pgjdbc's policies: no certificate check below `verify-ca`, the chain for
/// `verify-ca`, chain and name for `verify-full`. Handshake signatures are
/// always checked.
#[derive(Debug)]
struct Verifier {
    mode: SslMode,
    webpki: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
    presented: Arc<Mutex<Option<String>>>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(webpki) = &self.webpki else {
            return Ok(ServerCertVerified::assertion());
        };
        let verified = match webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if self.mode == SslMode::VerifyCa => Ok(ServerCertVerified::assertion()),
            other => other,
        }?;
        if let Ok(mut presented) = self.presented.lock() {
            *presented = presented_name(end_entity);
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &[(&str, &str)]) -> PostgresConfig {
        let mut props: crate::connect::Props = [
            ("database.hostname", "db"),
            ("database.user", "u"),
            ("database.dbname", "d"),
            ("topic.prefix", "p"),
        ]
        .iter()
        .chain(extra)
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        props.insert("connector.class".into(), "PostgresConnector".into());
        PostgresConfig::parse(&props).expect("a valid config")
    }

    #[test]
    fn unusable_tls_files_are_refused_naming_the_key() {
        let e = PgTls::from_config(&config(&[
            ("database.sslmode", "verify-full"),
            ("database.sslrootcert", "/nonexistent/ca.pem"),
        ]))
        .unwrap_err();
        assert_eq!(e.key, SSLROOTCERT);
        assert!(e.message.contains("/nonexistent/ca.pem"), "{e}");
        let e = PgTls::from_config(&config(&[("database.sslcert", "/c.pem")])).unwrap_err();
        assert_eq!(e.key, SSLKEY);
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let e = PgTls::from_config(&config(&[
            ("database.sslmode", "verify-ca"),
            ("database.sslrootcert", empty.to_str().unwrap()),
        ]))
        .unwrap_err();
        assert_eq!(e.key, SSLROOTCERT);
        assert!(e.message.contains("no usable CA certificate"), "{e}");
    }

    #[test]
    fn modes_without_verification_need_no_files() {
        for mode in ["disable", "allow", "prefer", "require"] {
            let tls = PgTls::from_config(&config(&[("database.sslmode", mode)])).unwrap();
            assert!(tls.replication().ca_pem_path.is_none(), "{mode}");
        }
        let tls = PgTls::from_config(&config(&[("database.sslmode", "require")])).unwrap();
        assert_eq!(tls.replication().mode, pgwire_replication::SslMode::Require);
        assert_eq!(tls.session_mode(), tokio_postgres::config::SslMode::Require);
    }

    #[test]
    fn modes_parse_as_pgjdbc_names_them() {
        assert_eq!(SslMode::parse("verify-full"), Some(SslMode::VerifyFull));
        assert_eq!(SslMode::parse(" Require "), Some(SslMode::Require));
        assert_eq!(SslMode::parse("verify_full"), None);
    }
}
