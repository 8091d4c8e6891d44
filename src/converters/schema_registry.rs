//! A client of Confluent Schema Registry's REST API (also served by
//! Apicurio's `/apis/ccompat/v7`, Karapace, Redpanda, AxonOps…), as used by
//! Confluent's serializers: register a schema under a subject, look an id up,
//! fetch a schema by id or a subject's latest version. Answers are cached
//! (id → schema, subject + schema → id), so the registry is asked once per
//! schema, not per record.
//!
//! The [`Converter`](crate::connect::Converter) trait is synchronous and is
//! called on a task's thread, which is usually a tokio worker. The client is
//! therefore blocking ([`ureq`]: plain `std::net` sockets, no async runtime
//! of its own, so nothing can panic about nested runtimes the way
//! `reqwest::blocking` does inside tokio), and every request runs through
//! [`run_blocking`], which on a multi-threaded tokio runtime wraps it in
//! `block_in_place` so the worker's other tasks move to another thread
//! while it waits. Requests only happen on cache misses.
//!
//! A registry that cannot be reached, or answers 5xx/408/429, is retried
//! (`max.retries`, default 3) with exponential backoff (`retries.wait.ms`
//! doubling up to `retries.max.wait.ms`), trying each of the configured URLs
//! in turn; then the call fails with a [`RegistryError`] naming the
//! registry, the operation and the last cause. Other 4xx answers fail at
//! once with the registry's own `error_code` and message.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;

use crate::connect::Props;
use crate::engine::kafka_security::{pem_stores, PemStores};

/// What went wrong talking to the registry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// No answer (or only retryable ones) after every retry.
    #[error("Schema Registry unreachable at {urls} after {attempts} attempts: {cause}")]
    Unavailable {
        urls: String,
        attempts: u32,
        cause: String,
    },
    /// The registry answered with an error.
    #[error("Schema Registry answered {status}{}: {message}", code.map(|c| format!(" (error code {c})")).unwrap_or_default())]
    Api {
        status: u16,
        code: Option<i64>,
        message: String,
    },
    /// The registry answered 2xx with a body that is not what the API says.
    #[error("unexpected answer from Schema Registry: {0}")]
    Invalid(String),
    /// Bad client settings.
    #[error("{0}")]
    Config(String),
}

impl RegistryError {
    /// Subject or schema not found (40401 subject, 40402 version, 40403 schema).
    pub fn is_not_found(&self) -> bool {
        matches!(self, RegistryError::Api { status: 404, .. })
    }
}

/// Client settings (Confluent's `schema.registry.url`, `basic.auth.*`,
/// `max.retries`, `retries.wait.ms`, `retries.max.wait.ms`,
/// `http.connect.timeout.ms`, `http.read.timeout.ms`).
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    pub urls: Vec<String>,
    /// `user:password` for HTTP basic authentication.
    pub user_info: Option<String>,
    pub max_retries: u32,
    pub retry_wait: Duration,
    pub retry_max_wait: Duration,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    /// Bound of each cache (Confluent's `max.schemas.per.subject` /
    /// `schemas.cache.config`); a full cache is emptied and refilled.
    pub cache_capacity: usize,
    /// HTTPS: the CAs to trust instead of the system's, and a client
    /// certificate (`schema.registry.ssl.*`).
    pub tls: Option<PemStores>,
}

/// Prefix of the registry client's TLS keys, as in Confluent's client.
pub const SSL_PREFIX: &str = "schema.registry.";

/// Confluent's `schema.registry.ssl.truststore.*`, `schema.registry.ssl.
/// keystore.*` and `schema.registry.ssl.key.password` (PEM, PKCS12 or JKS),
/// or `None` when none is set (the system's CAs, no client certificate).
pub fn tls_settings(settings: &Props) -> Result<Option<PemStores>, String> {
    let ssl: Props = settings
        .iter()
        .filter_map(|(k, v)| {
            let key = k.strip_prefix(SSL_PREFIX)?;
            key.starts_with("ssl.").then(|| (key.to_owned(), v.clone()))
        })
        .collect();
    if ssl.is_empty() {
        return Ok(None);
    }
    pem_stores(&ssl)
        .map(Some)
        .map_err(|e| format!("{SSL_PREFIX}{e}"))
}

impl RegistryConfig {
    pub fn new(urls: Vec<String>) -> RegistryConfig {
        RegistryConfig {
            urls,
            user_info: None,
            max_retries: 3,
            retry_wait: Duration::from_millis(1000),
            retry_max_wait: Duration::from_millis(20_000),
            connect_timeout: Duration::from_secs(60),
            read_timeout: Duration::from_secs(60),
            cache_capacity: 1000,
            tls: None,
        }
    }
}

/// ureq's TLS settings from PEM stores.
fn tls_config(stores: &PemStores) -> Result<ureq::tls::TlsConfig, RegistryError> {
    use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts};
    let certs = |pem: &str, key: &str| -> Result<Vec<Certificate<'static>>, RegistryError> {
        ureq::tls::parse_pem(pem.as_bytes())
            .filter_map(|item| match item {
                Ok(PemItem::Certificate(c)) => Some(Ok(c)),
                Ok(_) => None,
                Err(e) => Some(Err(RegistryError::Config(format!(
                    "{SSL_PREFIX}{key}: {e}"
                )))),
            })
            .collect()
    };
    let mut builder = ureq::tls::TlsConfig::builder();
    if let Some(trusted) = &stores.trusted {
        let roots = certs(trusted, "ssl.truststore.location")?;
        builder = builder.root_certs(RootCerts::new_with_certs(&roots));
    }
    if let Some((chain, key)) = &stores.chain_and_key {
        let chain = certs(chain, "ssl.keystore.location")?;
        let key = PrivateKey::from_pem(key.as_bytes()).map_err(|e| {
            RegistryError::Config(format!(
                "{SSL_PREFIX}ssl.keystore.location: the private key: {e}"
            ))
        })?;
        builder = builder.client_cert(Some(ClientCert::new_with_certs(&chain, key)));
    }
    Ok(builder.build())
}

/// A schema as the registry stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredSchema {
    pub id: i32,
    pub schema: Arc<str>,
}

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";
const ACCEPT: &str = "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json; qs=0.9, application/json; qs=0.5";

/// A schema's id and its version under one subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubjectVersion {
    pub id: i32,
    pub version: Option<i32>,
}

/// The client; cheap to share between a task's converters.
pub struct SchemaRegistryClient {
    config: RegistryConfig,
    /// `Authorization` header value, if any.
    auth: Option<String>,
    agent: ureq::Agent,
    by_id: Mutex<HashMap<i32, Arc<str>>>,
    ids: Mutex<HashMap<(String, Arc<str>), i32>>,
    versions: Mutex<HashMap<(String, Arc<str>), SubjectVersion>>,
    latest: Mutex<HashMap<String, RegisteredSchema>>,
}

impl std::fmt::Debug for SchemaRegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaRegistryClient")
            .field("urls", &self.config.urls)
            .field("auth", &self.auth.as_ref().map(|_| "[hidden]"))
            .finish()
    }
}

impl SchemaRegistryClient {
    /// A client for `config`. User info embedded in a URL
    /// (`http://user:pass@host`) is taken out of it and used for basic
    /// authentication when `config.user_info` is unset.
    pub fn new(mut config: RegistryConfig) -> Result<SchemaRegistryClient, RegistryError> {
        if config.urls.is_empty() {
            return Err(RegistryError::Config(
                "schema.registry.url must name at least one URL".into(),
            ));
        }
        let mut url_user_info = None;
        for url in &mut config.urls {
            let (clean, info) = split_user_info(url)?;
            *url = clean.trim_end_matches('/').to_owned();
            if url_user_info.is_none() {
                url_user_info = info;
            }
        }
        let user_info = config.user_info.clone().or(url_user_info);
        let auth = user_info.map(|ui| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(ui.as_bytes())
            )
        });
        let tls = match &config.tls {
            Some(stores) => tls_config(stores)?,
            None => ureq::tls::TlsConfig::default(),
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            // Like Confluent's Java client: proxies come from settings, not
            // from the environment, so a loopback registry is never proxied.
            .proxy(None)
            .timeout_connect(Some(config.connect_timeout))
            .timeout_recv_response(Some(config.read_timeout))
            .timeout_recv_body(Some(config.read_timeout))
            .build()
            .into();
        Ok(SchemaRegistryClient {
            config,
            auth,
            agent,
            by_id: Mutex::new(HashMap::new()),
            ids: Mutex::new(HashMap::new()),
            versions: Mutex::new(HashMap::new()),
            latest: Mutex::new(HashMap::new()),
        })
    }

    pub fn urls(&self) -> &[String] {
        &self.config.urls
    }

    /// Registers `schema` (Avro JSON) under `subject` and returns its id;
    /// an identical schema already registered keeps its id. Cached.
    pub fn register(
        &self,
        subject: &str,
        schema: &Arc<str>,
        normalize: bool,
    ) -> Result<i32, RegistryError> {
        if let Some(id) = self.cached_id(subject, schema) {
            return Ok(id);
        }
        let path = format!(
            "/subjects/{}/versions{}",
            encode_path(subject),
            if normalize { "?normalize=true" } else { "" }
        );
        let body = serde_json::json!({ "schema": schema.as_ref() }).to_string();
        let answer = self.request("POST", &path, Some(&body))?;
        let id = json_id(&answer)?;
        self.remember(subject, schema, id);
        Ok(id)
    }

    /// The id and version of `schema` if it is registered under `subject`,
    /// without registering it (`auto.register.schemas=false`, and the
    /// version a reader reports). Cached.
    pub fn lookup(
        &self,
        subject: &str,
        schema: &Arc<str>,
        normalize: bool,
    ) -> Result<SubjectVersion, RegistryError> {
        let key = (subject.to_owned(), schema.clone());
        if let Some(found) = lock(&self.versions).get(&key) {
            return Ok(*found);
        }
        let path = format!(
            "/subjects/{}{}",
            encode_path(subject),
            if normalize { "?normalize=true" } else { "" }
        );
        let body = serde_json::json!({ "schema": schema.as_ref() }).to_string();
        let answer = self.request("POST", &path, Some(&body))?;
        let found = SubjectVersion {
            id: json_id(&answer)?,
            version: answer
                .get("version")
                .and_then(serde_json::Value::as_i64)
                .and_then(|v| i32::try_from(v).ok()),
        };
        self.remember(subject, schema, found.id);
        insert_bounded(&self.versions, key, found, self.config.cache_capacity);
        Ok(found)
    }

    /// The latest version registered under `subject`
    /// (`use.latest.version=true`). Cached for the client's lifetime.
    pub fn latest(&self, subject: &str) -> Result<RegisteredSchema, RegistryError> {
        if let Some(found) = lock(&self.latest).get(subject) {
            return Ok(found.clone());
        }
        let path = format!("/subjects/{}/versions/latest", encode_path(subject));
        let answer = self.request("GET", &path, None)?;
        let id = json_id(&answer)?;
        let schema = schema_text(&answer)?;
        let found = RegisteredSchema { id, schema };
        insert_bounded(
            &self.latest,
            subject.to_owned(),
            found.clone(),
            self.config.cache_capacity,
        );
        insert_bounded(
            &self.by_id,
            id,
            found.schema.clone(),
            self.config.cache_capacity,
        );
        Ok(found)
    }

    /// The schema with this id (a writer's schema). Cached.
    pub fn schema_by_id(&self, id: i32) -> Result<Arc<str>, RegistryError> {
        if let Some(s) = lock(&self.by_id).get(&id) {
            return Ok(s.clone());
        }
        let answer = self.request("GET", &format!("/schemas/ids/{id}"), None)?;
        let schema = schema_text(&answer)?;
        insert_bounded(&self.by_id, id, schema.clone(), self.config.cache_capacity);
        Ok(schema)
    }

    fn cached_id(&self, subject: &str, schema: &Arc<str>) -> Option<i32> {
        lock(&self.ids)
            .get(&(subject.to_owned(), schema.clone()))
            .copied()
    }

    fn remember(&self, subject: &str, schema: &Arc<str>, id: i32) {
        let cap = self.config.cache_capacity;
        insert_bounded(&self.ids, (subject.to_owned(), schema.clone()), id, cap);
        insert_bounded(&self.by_id, id, schema.clone(), cap);
    }

    /// One API call with retries and failover across the URLs.
    fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<serde_json::Value, RegistryError> {
        run_blocking(|| {
            let attempts = self.config.max_retries + 1;
            let mut wait = self.config.retry_wait;
            let mut last_cause = String::new();
            for attempt in 0..attempts {
                if attempt > 0 {
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(self.config.retry_max_wait);
                }
                for base in &self.config.urls {
                    match self.once(method, base, path, body) {
                        Ok(Outcome::Done(v)) => return Ok(v),
                        Ok(Outcome::Retry(cause)) | Err(cause) => {
                            last_cause = format!("{method} {base}{path}: {cause}");
                        }
                        Ok(Outcome::Fail(e)) => return Err(e),
                    }
                }
            }
            Err(RegistryError::Unavailable {
                urls: self.config.urls.join(","),
                attempts,
                cause: last_cause,
            })
        })
    }

    fn once(
        &self,
        method: &str,
        base: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<Outcome, String> {
        let url = format!("{base}{path}");
        let result = match body {
            Some(b) => {
                let mut req = self
                    .agent
                    .post(&url)
                    .header("Content-Type", CONTENT_TYPE)
                    .header("Accept", ACCEPT);
                if let Some(a) = &self.auth {
                    req = req.header("Authorization", a);
                }
                req.send(b)
            }
            None => {
                debug_assert_eq!(method, "GET");
                let mut req = self.agent.get(&url).header("Accept", ACCEPT);
                if let Some(a) = &self.auth {
                    req = req.header("Authorization", a);
                }
                req.call()
            }
        };
        let mut response = result.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("reading the answer (HTTP {status}): {e}"))?;
        if (200..300).contains(&status) {
            return serde_json::from_str(&text)
                .map(Outcome::Done)
                .map_err(|e| format!("answer is not JSON ({e}): {}", snippet(&text)))
                .or_else(|e| Ok(Outcome::Fail(RegistryError::Invalid(e))));
        }
        let parsed: Option<serde_json::Value> = serde_json::from_str(&text).ok();
        let code = parsed
            .as_ref()
            .and_then(|v| v.get("error_code"))
            .and_then(serde_json::Value::as_i64);
        let message = parsed
            .as_ref()
            .and_then(|v| v.get("message"))
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| snippet(&text));
        if status >= 500 || status == 408 || status == 429 {
            return Ok(Outcome::Retry(format!("HTTP {status}: {message}")));
        }
        Ok(Outcome::Fail(RegistryError::Api {
            status,
            code,
            message,
        }))
    }
}

enum Outcome {
    Done(serde_json::Value),
    Retry(String),
    Fail(RegistryError),
}

/// Runs blocking work from a converter. On a multi-threaded tokio runtime
/// the worker thread is handed over (`block_in_place`) so other tasks keep
/// running; elsewhere (plain threads, `spawn_blocking`, a current-thread
/// runtime, where `block_in_place` is not allowed) it just runs.
pub fn run_blocking<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding a cache lock leaves a consistent map behind.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn insert_bounded<K: std::hash::Hash + Eq, V>(
    m: &Mutex<HashMap<K, V>>,
    key: K,
    value: V,
    cap: usize,
) {
    if cap == 0 {
        return;
    }
    let mut map = lock(m);
    if map.len() >= cap {
        map.clear();
    }
    map.insert(key, value);
}

fn json_id(answer: &serde_json::Value) -> Result<i32, RegistryError> {
    answer
        .get("id")
        .and_then(serde_json::Value::as_i64)
        .and_then(|id| i32::try_from(id).ok())
        .ok_or_else(|| RegistryError::Invalid(format!("no schema id in {answer}")))
}

fn schema_text(answer: &serde_json::Value) -> Result<Arc<str>, RegistryError> {
    if let Some(t) = answer.get("schemaType").and_then(serde_json::Value::as_str) {
        if !t.eq_ignore_ascii_case("AVRO") {
            return Err(RegistryError::Invalid(format!(
                "schema is of type {t}, not AVRO"
            )));
        }
    }
    answer
        .get("schema")
        .and_then(serde_json::Value::as_str)
        .map(Arc::from)
        .ok_or_else(|| RegistryError::Invalid(format!("no schema in {answer}")))
}

/// Percent-encodes a subject for use as one path segment.
fn encode_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Splits `http://user:pass@host:port/path` into the URL without user info
/// and the (percent-decoded) `user:pass`.
fn split_user_info(url: &str) -> Result<(String, Option<String>), RegistryError> {
    let (scheme, rest) = url.trim().split_once("://").ok_or_else(|| {
        RegistryError::Config(format!(
            "schema.registry.url {url:?} is not an http:// or https:// URL"
        ))
    })?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(RegistryError::Config(format!(
            "schema.registry.url {url:?} is not an http:// or https:// URL"
        )));
    }
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((info, host)) => Ok((
            format!("{scheme}://{host}{path}"),
            Some(percent_decode(info)),
        )),
        None => Ok((format!("{scheme}://{rest}"), None)),
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn snippet(text: &str) -> String {
    let t = text.trim();
    if t.chars().count() > 200 {
        format!("{}…", t.chars().take(200).collect::<String>())
    } else {
        t.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_is_taken_out_of_the_url() {
        let (url, info) = split_user_info("http://fred:p%40ss@reg:8081/apis/ccompat/v7").unwrap();
        assert_eq!(url, "http://reg:8081/apis/ccompat/v7");
        assert_eq!(info.as_deref(), Some("fred:p@ss"));
        let (url, info) = split_user_info("https://reg:8081").unwrap();
        assert_eq!((url.as_str(), info), ("https://reg:8081", None));
        assert!(split_user_info("reg:8081").is_err());
        assert!(split_user_info("ftp://reg").is_err());
    }

    #[test]
    fn subjects_are_path_encoded() {
        assert_eq!(encode_path("orders-value"), "orders-value");
        assert_eq!(encode_path("a b/c"), "a%20b%2Fc");
    }

    #[test]
    fn closed_port_fails_after_retries_with_a_clear_error() {
        // Bind then drop a listener: nothing listens on that port any more.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut cfg = RegistryConfig::new(vec![format!("http://127.0.0.1:{port}")]);
        cfg.max_retries = 2;
        cfg.retry_wait = Duration::from_millis(10);
        let client = SchemaRegistryClient::new(cfg).unwrap();
        let started = std::time::Instant::now();
        let err = client.schema_by_id(1).unwrap_err();
        assert!(
            matches!(err, RegistryError::Unavailable { attempts: 3, .. }),
            "{err}"
        );
        let text = err.to_string();
        assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
        assert!(text.contains("/schemas/ids/1"), "{text}");
        // 10 ms + 20 ms of backoff.
        assert!(started.elapsed() >= Duration::from_millis(30));
    }

    #[test]
    fn basic_auth_header_from_user_info() {
        let mut cfg = RegistryConfig::new(vec!["http://u:p@127.0.0.1:1".into()]);
        let c = SchemaRegistryClient::new(cfg.clone()).unwrap();
        assert_eq!(c.auth.as_deref(), Some("Basic dTpw"));
        assert_eq!(c.urls(), ["http://127.0.0.1:1"]);
        cfg.user_info = Some("x:y".into());
        let c = SchemaRegistryClient::new(cfg).unwrap();
        assert_eq!(c.auth.as_deref(), Some("Basic eDp5"));
    }
}
