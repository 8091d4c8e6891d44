//! Java Kafka clients' security settings, as worker and connector configs
//! carry them, turned into librdkafka's: `security.protocol`,
//! `sasl.mechanism` and `sasl.jaas.config` (PLAIN, SCRAM, OAUTHBEARER with
//! OIDC client credentials), and TLS material in every form Java users have
//! it — PEM files or inline PEM, PKCS12, and JKS (Java's default store
//! type). librdkafka reads PEM and a PKCS12 client keystore itself; PKCS12
//! and JKS truststores and PEM keystore files are read here and handed to
//! it as inline PEM, so nothing decrypted is written to disk.
//!
//! Keys that only mean something to the JVM (`ssl.provider`,
//! `ssl.keymanager.algorithm`, …) are dropped with one warning naming them.
//! Errors name the key and never hold a secret.

use std::collections::BTreeSet;
use std::path::Path;

use crate::connect::Props;

pub const SECURITY_PROTOCOL: &str = "security.protocol";
pub const SASL_MECHANISM: &str = "sasl.mechanism";
pub const SASL_JAAS_CONFIG: &str = "sasl.jaas.config";

/// JVM-only settings librdkafka has no use for.
const JVM_ONLY: &[&str] = &[
    "ssl.provider",
    "ssl.protocol",
    "ssl.enabled.protocols",
    "ssl.keymanager.algorithm",
    "ssl.trustmanager.algorithm",
    "ssl.secure.random.implementation",
    "ssl.engine.factory.class",
    "ssl.cipher.suites",
    "sasl.login.class",
    "sasl.login.connect.timeout.ms",
    "sasl.login.read.timeout.ms",
    "sasl.login.retry.backoff.ms",
    "sasl.login.retry.backoff.max.ms",
    "sasl.login.refresh.window.factor",
    "sasl.login.refresh.window.jitter",
    "sasl.login.refresh.min.period.seconds",
    "sasl.login.refresh.buffer.seconds",
    "sasl.client.callback.handler.class",
    "sasl.oauthbearer.jwks.endpoint.url",
    "sasl.oauthbearer.expected.audience",
    "sasl.oauthbearer.expected.issuer",
    "sasl.oauthbearer.scope.claim.name",
    "sasl.oauthbearer.sub.claim.name",
    "sasl.oauthbearer.clock.skew.seconds",
    "sasl.oauthbearer.jwks.endpoint.refresh.ms",
    "sasl.oauthbearer.jwks.endpoint.retry.backoff.ms",
    "sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms",
];

/// Java's OAUTHBEARER login callback handlers (4.0+ and before) that fetch
/// tokens with the client-credentials grant: librdkafka's `oidc` method.
const OIDC_HANDLERS: &[&str] = &[
    "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler",
    "org.apache.kafka.common.security.oauthbearer.secured.OAuthBearerLoginCallbackHandler",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecurityError {
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
    #[error("{key}: reading {path}: {message}")]
    Read {
        key: String,
        path: String,
        message: String,
    },
}

fn invalid(key: &str, message: impl Into<String>) -> SecurityError {
    SecurityError::Invalid {
        key: key.to_owned(),
        message: message.into(),
    }
}

/// Rewrites the Java security settings among one client's settings (bare
/// keys already layered: worker role prefix, then connector override) into
/// librdkafka's. Returns the JVM-only keys it dropped.
pub fn to_librdkafka(props: &mut Props) -> Result<Vec<String>, SecurityError> {
    let dropped: Vec<String> = props
        .keys()
        .filter(|k| JVM_ONLY.contains(&k.as_str()))
        .cloned()
        .collect();
    for key in &dropped {
        props.remove(key);
    }
    if let Some(p) = props.get(SECURITY_PROTOCOL) {
        let upper = p.trim().to_ascii_uppercase();
        if !matches!(
            upper.as_str(),
            "PLAINTEXT" | "SSL" | "SASL_PLAINTEXT" | "SASL_SSL"
        ) {
            return Err(invalid(
                SECURITY_PROTOCOL,
                format!("{p:?} is not PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"),
            ));
        }
        props.insert(SECURITY_PROTOCOL.into(), upper);
    }
    sasl(props)?;
    truststore(props)?;
    keystore(props)?;
    if let Some(v) = props.get("ssl.endpoint.identification.algorithm") {
        // Java: empty turns the host name check off; librdkafka says none.
        let v = match v.trim() {
            "" => "none",
            other if other.eq_ignore_ascii_case("https") => "https",
            other => {
                return Err(invalid(
                    "ssl.endpoint.identification.algorithm",
                    format!("{other:?} is neither https nor empty"),
                ))
            }
        };
        props.insert("ssl.endpoint.identification.algorithm".into(), v.into());
    }
    check_features(props)?;
    Ok(dropped)
}

/// `sasl.mechanism` and the JAAS login module's options.
fn sasl(props: &mut Props) -> Result<(), SecurityError> {
    let mechanism = props
        .get(SASL_MECHANISM)
        .map(|m| m.trim().to_ascii_uppercase());
    let Some(jaas) = props.remove(SASL_JAAS_CONFIG) else {
        if let Some(m) = mechanism {
            props.insert(SASL_MECHANISM.into(), m);
        }
        return Ok(());
    };
    let module = parse_jaas(&jaas).map_err(|m| invalid(SASL_JAAS_CONFIG, m))?;
    let mechanism = mechanism.unwrap_or_else(|| "GSSAPI".to_owned());
    props.insert(SASL_MECHANISM.into(), mechanism.clone());
    let class = module.short_class();
    match (mechanism.as_str(), class) {
        ("PLAIN", "PlainLoginModule") | ("SCRAM-SHA-256" | "SCRAM-SHA-512", "ScramLoginModule") => {
            props.insert("sasl.username".into(), module.required("username")?);
            props.insert("sasl.password".into(), module.required("password")?);
        }
        ("OAUTHBEARER", "OAuthBearerLoginModule") => oauthbearer(props, &module)?,
        (m, _) => {
            return Err(invalid(
                SASL_JAAS_CONFIG,
                format!(
                    "{class} does not go with sasl.mechanism={m}: PLAIN takes PlainLoginModule, SCRAM-SHA-256 and SCRAM-SHA-512 take ScramLoginModule, OAUTHBEARER takes OAuthBearerLoginModule"
                ),
            ))
        }
    }
    Ok(())
}

/// OAUTHBEARER: Java's client-credentials login handler becomes
/// librdkafka's OIDC method; without a handler Java's unsecured test
/// tokens become librdkafka's.
fn oauthbearer(props: &mut Props, module: &JaasModule) -> Result<(), SecurityError> {
    let handler = props
        .remove("sasl.login.callback.handler.class")
        .unwrap_or_default();
    let endpoint = props.remove("sasl.oauthbearer.token.endpoint.url");
    if handler.trim().is_empty() && endpoint.is_none() {
        // OAuthBearerUnsecuredLoginCallbackHandler: a JWT with no signature.
        let sub = module.option("unsecuredLoginStringClaim_sub").ok_or_else(|| {
            invalid(
                SASL_JAAS_CONFIG,
                "OAUTHBEARER needs sasl.oauthbearer.token.endpoint.url with sasl.login.callback.handler.class=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler, or unsecuredLoginStringClaim_sub for unsecured test tokens",
            )
        })?;
        props.insert("enable.sasl.oauthbearer.unsecure.jwt".into(), "true".into());
        props.insert("sasl.oauthbearer.config".into(), format!("principal={sub}"));
        return Ok(());
    }
    if !handler.trim().is_empty() && !OIDC_HANDLERS.contains(&handler.trim()) {
        return Err(invalid(
            "sasl.login.callback.handler.class",
            format!(
                "{handler} is not supported: use {} (the client-credentials grant)",
                OIDC_HANDLERS[0]
            ),
        ));
    }
    let endpoint = endpoint.ok_or_else(|| {
        invalid(
            "sasl.oauthbearer.token.endpoint.url",
            "OAUTHBEARER with a login callback handler needs the token endpoint",
        )
    })?;
    props.insert("sasl.oauthbearer.method".into(), "oidc".into());
    props.insert("sasl.oauthbearer.token.endpoint.url".into(), endpoint);
    props.insert(
        "sasl.oauthbearer.client.id".into(),
        module.required("clientId")?,
    );
    props.insert(
        "sasl.oauthbearer.client.secret".into(),
        module.required("clientSecret")?,
    );
    if let Some(scope) = module.option("scope") {
        props.insert("sasl.oauthbearer.scope".into(), scope.to_owned());
    }
    let extensions: Vec<String> = module
        .options
        .iter()
        .filter_map(|(k, v)| Some(format!("{}={v}", k.strip_prefix("extension_")?)))
        .collect();
    if !extensions.is_empty() {
        props.insert("sasl.oauthbearer.extensions".into(), extensions.join(","));
    }
    // The token endpoint's CA: the login module's own ssl.truststore.*
    // options (Java's JaasOptionsUtils), PEM only.
    match module.option("ssl.truststore.type") {
        None => {}
        Some(t) if t.eq_ignore_ascii_case("PEM") => {}
        Some(t) => {
            return Err(invalid(
                SASL_JAAS_CONFIG,
                format!("ssl.truststore.type={t}: the token endpoint's truststore must be PEM"),
            ))
        }
    }
    if let Some(pem) = module.option("ssl.truststore.certificates") {
        props.insert("https.ca.pem".into(), pem.to_owned());
    } else if let Some(path) = module.option("ssl.truststore.location") {
        props.insert("https.ca.location".into(), path.to_owned());
    }
    Ok(())
}

/// One login module of a `sasl.jaas.config` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JaasModule {
    pub class: String,
    pub flag: String,
    pub options: Vec<(String, String)>,
}

impl JaasModule {
    pub fn option(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The class name without its package, e.g. `ScramLoginModule`.
    pub fn short_class(&self) -> &str {
        self.class.rsplit('.').next().unwrap_or(&self.class)
    }

    /// An option the login module cannot do without.
    fn required(&self, name: &str) -> Result<String, SecurityError> {
        self.option(name).map(str::to_owned).ok_or_else(|| {
            invalid(
                SASL_JAAS_CONFIG,
                format!("{} needs the option {name}", self.short_class()),
            )
        })
    }
}

/// Parses `<LoginModule class> <flag> key="value" key2=value2;` as Java's
/// `JaasConfig` does (quoted strings in `"` or `'`, backslash escapes in
/// them); exactly one module, as Kafka requires of `sasl.jaas.config`.
/// Errors never quote option values (they hold passwords).
pub fn parse_jaas(text: &str) -> Result<JaasModule, String> {
    let tokens = jaas_tokens(text)?;
    let mut it = tokens.into_iter().peekable();
    let class = match it.next() {
        Some(Token::Word(w)) => w,
        _ => return Err("expected a login module class name".into()),
    };
    let flag = match it.next() {
        Some(Token::Word(w)) => w.to_ascii_lowercase(),
        _ => return Err(format!("expected a control flag (required) after {class}")),
    };
    if !matches!(
        flag.as_str(),
        "required" | "requisite" | "sufficient" | "optional"
    ) {
        return Err(format!(
            "{flag} is not a control flag (required, requisite, sufficient, optional)"
        ));
    }
    let mut options = Vec::new();
    loop {
        match it.next() {
            Some(Token::Semicolon) => break,
            Some(Token::Word(key)) => {
                if it.next() != Some(Token::Equals) {
                    return Err(format!("option {key} has no '='"));
                }
                match it.next() {
                    Some(Token::Word(v) | Token::Quoted(v)) => options.push((key, v)),
                    _ => return Err(format!("option {key} has no value")),
                }
            }
            _ => return Err("the login module must end with ';'".into()),
        }
    }
    if it.next().is_some() {
        return Err("holds more than one login module; Kafka clients take exactly one".into());
    }
    Ok(JaasModule {
        class,
        flag,
        options,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Quoted(String),
    Equals,
    Semicolon,
}

fn jaas_tokens(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '=' => {
                chars.next();
                tokens.push(Token::Equals);
            }
            ';' => {
                chars.next();
                tokens.push(Token::Semicolon);
            }
            '"' | '\'' => {
                let quote = c;
                chars.next();
                let mut value = String::new();
                loop {
                    match chars.next() {
                        None => return Err("a quoted value is not closed".into()),
                        Some(c) if c == quote => break,
                        Some('\\') => match chars.next() {
                            Some(escaped) => value.push(escaped),
                            None => return Err("a quoted value is not closed".into()),
                        },
                        Some(c) => value.push(c),
                    }
                }
                tokens.push(Token::Quoted(value));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '=' | ';' | '"' | '\'') {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    Ok(tokens)
}

/// The Kafka principal a client's librdkafka settings authenticate as, as
/// the broker's default principal builder names it: `User:<name>` for SASL
/// PLAIN and SCRAM, the token's subject for OAUTHBEARER (the client id with
/// OIDC), `User:<certificate subject>` for a client certificate, else
/// `User:ANONYMOUS`. For error messages: an ACL denial says who was denied.
pub fn principal(get: impl Fn(&str) -> Option<String>) -> String {
    let protocol = get(SECURITY_PROTOCOL)
        .unwrap_or_default()
        .to_ascii_uppercase();
    if protocol.starts_with("SASL") {
        if let Some(user) = get("sasl.username") {
            return format!("User:{user}");
        }
        if let Some(id) = get("sasl.oauthbearer.client.id") {
            return format!("the token subject of OAuth client {id}");
        }
        if let Some(sub) = get("sasl.oauthbearer.config")
            .and_then(|c| c.strip_prefix("principal=").map(str::to_owned))
        {
            return format!("User:{sub}");
        }
        return "a SASL principal".to_owned();
    }
    if protocol == "SSL" {
        let pem = get("ssl.certificate.pem").or_else(|| {
            get("ssl.certificate.location").and_then(|p| std::fs::read_to_string(p).ok())
        });
        return match pem.and_then(|p| openssl::x509::X509::from_pem(p.as_bytes()).ok()) {
            Some(cert) => format!("User:{}", distinguished_name(cert.subject_name())),
            None if get("ssl.keystore.location").is_some() => {
                "the client certificate's subject".to_owned()
            }
            None => "User:ANONYMOUS".to_owned(),
        };
    }
    "User:ANONYMOUS".to_owned()
}

/// A subject as Java's `X500Principal.getName()` writes it (RFC 2253: most
/// specific attribute first, e.g. `CN=app,O=Example`).
fn distinguished_name(name: &openssl::x509::X509NameRef) -> String {
    let parts: Vec<String> = name
        .entries()
        .map(|e| {
            let key = e.object().nid().short_name().unwrap_or("?").to_owned();
            let value = String::from_utf8_lossy(e.data().as_slice());
            format!("{key}={value}")
        })
        .collect();
    parts.into_iter().rev().collect::<Vec<_>>().join(",")
}

/// TLS material as PEM text, for a TLS endpoint that is not librdkafka
/// (the REST API's HTTPS listener).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PemStores {
    /// Certificates to trust.
    pub trusted: Option<String>,
    /// The certificate chain (leaf first) and its unencrypted PKCS #8 key.
    pub chain_and_key: Option<(String, String)>,
}

impl std::fmt::Debug for PemStores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PemStores")
            .field("trusted", &self.trusted.is_some())
            .field("chain_and_key", &self.chain_and_key.is_some())
            .finish()
    }
}

/// Java's `ssl.truststore.*`, `ssl.keystore.*` and `ssl.key.password`, in
/// every store type Java has (PEM file or inline, PKCS12, JKS), as PEM.
pub fn pem_stores(props: &Props) -> Result<PemStores, SecurityError> {
    let mut p = props.clone();
    truststore(&mut p)?;
    keystore(&mut p)?;
    let read_text = |key: &str, path: &str| {
        String::from_utf8(read_store(key, path)?)
            .map_err(|_| invalid(key, format!("{path} is not PEM text")))
    };
    let trusted = match (p.get("ssl.ca.pem"), p.get("ssl.ca.location")) {
        (Some(pem), _) => Some(pem.clone()),
        (None, Some(path)) => Some(read_text("ssl.truststore.location", path)?),
        (None, None) => None,
    };
    let chain_and_key = match (
        p.get("ssl.certificate.pem"),
        p.get("ssl.key.pem"),
        p.get("ssl.keystore.location"),
    ) {
        (Some(chain), Some(key), _) => Some((chain.clone(), key.clone())),
        (_, _, Some(path)) => {
            let der = read_store("ssl.keystore.location", path)?;
            let password = p.get("ssl.keystore.password").cloned().unwrap_or_default();
            let (chain, key) = super::keystores::pkcs12_key_and_chain(&der, &password)
                .map_err(|m| invalid("ssl.keystore.location", format!("{path}: {m}")))?;
            Some((chain, key))
        }
        _ => None,
    };
    let chain_and_key = match (chain_and_key, p.get("ssl.key.password")) {
        (Some((chain, key)), Some(password)) if key.contains("ENCRYPTED") => {
            let key = super::keystores::decrypt_pem_key(&key, password)
                .map_err(|m| invalid("ssl.key.password", m))?;
            Some((chain, key))
        }
        (other, _) => other,
    };
    Ok(PemStores {
        trusted,
        chain_and_key,
    })
}

/// Store types Java knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StoreType {
    Pem,
    Pkcs12,
    Jks,
}

fn store_type(props: &Props, key: &str) -> Result<StoreType, SecurityError> {
    match props.get(key).map(|t| t.trim().to_ascii_uppercase()) {
        // Java's default (ssl.truststore.type / ssl.keystore.type = JKS).
        None => Ok(StoreType::Jks),
        Some(t) if t == "JKS" => Ok(StoreType::Jks),
        Some(t) if t == "PKCS12" => Ok(StoreType::Pkcs12),
        Some(t) if t == "PEM" => Ok(StoreType::Pem),
        Some(t) => Err(invalid(key, format!("{t} is not JKS, PKCS12 or PEM"))),
    }
}

fn read_store(key: &str, path: &str) -> Result<Vec<u8>, SecurityError> {
    std::fs::read(Path::new(path)).map_err(|e| SecurityError::Read {
        key: key.to_owned(),
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// The CA certificates to trust: librdkafka's `ssl.ca.location` (PEM file)
/// or `ssl.ca.pem` (converted from PKCS12 or JKS, or inline).
fn truststore(props: &mut Props) -> Result<(), SecurityError> {
    let kind = store_type(props, "ssl.truststore.type")?;
    props.remove("ssl.truststore.type");
    let password = props.remove("ssl.truststore.password");
    if let Some(pem) = props.remove("ssl.truststore.certificates") {
        if kind != StoreType::Pem {
            return Err(invalid(
                "ssl.truststore.certificates",
                "inline certificates need ssl.truststore.type=PEM",
            ));
        }
        props.insert("ssl.ca.pem".into(), pem);
    }
    let Some(location) = props.remove("ssl.truststore.location") else {
        return Ok(());
    };
    let key = "ssl.truststore.location";
    match kind {
        StoreType::Pem => {
            props.insert("ssl.ca.location".into(), location);
        }
        StoreType::Pkcs12 => {
            let der = read_store(key, &location)?;
            let pem = super::keystores::pkcs12_certificates(&der, password.as_deref())
                .map_err(|m| invalid(key, format!("{location}: {m}")))?;
            props.insert("ssl.ca.pem".into(), pem);
        }
        StoreType::Jks => {
            let bytes = read_store(key, &location)?;
            let store = super::keystores::Jks::parse(&bytes, password.as_deref())
                .map_err(|m| invalid(key, format!("{location}: {m}")))?;
            if store.certificates.is_empty() {
                return Err(invalid(
                    key,
                    format!("{location} holds no trusted certificate"),
                ));
            }
            props.insert("ssl.ca.pem".into(), store.certificates_pem());
        }
    }
    Ok(())
}

/// The client's own certificate and key (mTLS): PEM inline or from one
/// file, PKCS12 as librdkafka reads it, JKS converted when it can be.
fn keystore(props: &mut Props) -> Result<(), SecurityError> {
    let kind = store_type(props, "ssl.keystore.type")?;
    props.remove("ssl.keystore.type");
    let chain = props.remove("ssl.keystore.certificate.chain");
    let inline_key = props.remove("ssl.keystore.key");
    if chain.is_some() || inline_key.is_some() {
        if kind != StoreType::Pem {
            return Err(invalid(
                "ssl.keystore.certificate.chain",
                "an inline certificate chain and key need ssl.keystore.type=PEM",
            ));
        }
        let (Some(chain), Some(key)) = (chain, inline_key) else {
            return Err(invalid(
                "ssl.keystore.key",
                "ssl.keystore.certificate.chain and ssl.keystore.key go together",
            ));
        };
        props.insert("ssl.certificate.pem".into(), chain);
        props.insert("ssl.key.pem".into(), key);
    }
    let Some(location) = props.remove("ssl.keystore.location") else {
        props.remove("ssl.keystore.password");
        return Ok(());
    };
    let key = "ssl.keystore.location";
    let password = props.remove("ssl.keystore.password");
    match kind {
        StoreType::Pem => {
            // One file with the key and its chain (Java's PEM keystore).
            let text = String::from_utf8(read_store(key, &location)?)
                .map_err(|_| invalid(key, format!("{location} is not PEM text")))?;
            let (certs, private_key) = super::keystores::split_pem(&text);
            if certs.is_empty() || private_key.is_none() {
                return Err(invalid(
                    key,
                    format!("{location} must hold the private key and its certificate chain"),
                ));
            }
            props.insert("ssl.certificate.pem".into(), certs);
            props.insert("ssl.key.pem".into(), private_key.unwrap_or_default());
        }
        StoreType::Pkcs12 => {
            let password = password.ok_or_else(|| {
                invalid(
                    "ssl.keystore.password",
                    "a PKCS12 keystore needs its password",
                )
            })?;
            props.insert("ssl.keystore.location".into(), location);
            props.insert("ssl.keystore.password".into(), password);
        }
        StoreType::Jks => {
            let bytes = read_store(key, &location)?;
            let store = super::keystores::Jks::parse(&bytes, password.as_deref())
                .map_err(|m| invalid(key, format!("{location}: {m}")))?;
            let key_password = props.get("ssl.key.password").cloned().or(password.clone());
            match store.private_key(key_password.as_deref()) {
                Ok((certs, private_key)) => {
                    props.remove("ssl.key.password");
                    props.insert("ssl.certificate.pem".into(), certs);
                    props.insert("ssl.key.pem".into(), private_key);
                }
                Err(m) => {
                    return Err(invalid(
                        key,
                        format!(
                            "{location}: {m}; convert it to PKCS12 with: keytool -importkeystore -srckeystore {location} -destkeystore {location}.p12 -deststoretype PKCS12 (then ssl.keystore.type=PKCS12, ssl.keystore.location={location}.p12)"
                        ),
                    ))
                }
            }
        }
    }
    Ok(())
}

/// The librdkafka features a (translated) client config needs.
fn needed_features(props: &Props) -> Vec<&'static str> {
    let mut needed = Vec::new();
    let protocol = props.get(SECURITY_PROTOCOL).map(String::as_str);
    if matches!(protocol, Some("SSL" | "SASL_SSL")) {
        needed.push("ssl");
    }
    if matches!(protocol, Some("SASL_PLAINTEXT" | "SASL_SSL")) {
        match props.get(SASL_MECHANISM).map(String::as_str) {
            Some("PLAIN") => needed.push("sasl_plain"),
            Some(m) if m.starts_with("SCRAM-") => needed.push("sasl_scram"),
            Some("OAUTHBEARER") => needed.push("sasl_oauthbearer"),
            _ => {}
        }
        if props
            .get("sasl.oauthbearer.method")
            .is_some_and(|m| m == "oidc")
        {
            needed.push("oidc");
        }
    }
    needed
}

/// librdkafka's `builtin.features` of this binary.
pub fn builtin_features() -> Result<BTreeSet<String>, String> {
    let features = rdkafka::ClientConfig::new()
        .create_native_config()
        .and_then(|c| c.get("builtin.features"))
        .map_err(|e| format!("reading librdkafka's builtin.features: {e}"))?;
    Ok(features.split(',').map(|f| f.trim().to_owned()).collect())
}

/// Fails, naming what is missing, when this binary's librdkafka was built
/// without a feature the config needs (e.g. no libcurl at build time: no
/// OIDC), instead of librdkafka's later, vaguer error.
fn check_features(props: &Props) -> Result<(), SecurityError> {
    let needed = needed_features(props);
    if needed.is_empty() {
        return Ok(());
    }
    let have = builtin_features().map_err(|m| invalid(SECURITY_PROTOCOL, m))?;
    let missing: Vec<&str> = needed.into_iter().filter(|f| !have.contains(*f)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(invalid(
        SECURITY_PROTOCOL,
        format!(
            "this kconnect's librdkafka was built without {} (it has {}); build it with OpenSSL and libcurl present (tests/env/build-deps.sh)",
            missing.join(", "),
            have.into_iter().collect::<Vec<_>>().join(",")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use crate::connect::config::props_of as props;

    #[test]
    fn this_build_has_tls_scram_and_oidc() {
        let have = builtin_features().unwrap();
        for f in [
            "ssl",
            "sasl_plain",
            "sasl_scram",
            "sasl_oauthbearer",
            "oidc",
        ] {
            assert!(have.contains(f), "{f} missing from {have:?}");
        }
    }

    #[test]
    fn plain_and_scram_logins_become_username_and_password() {
        for (mechanism, module) in [
            (
                "PLAIN",
                "org.apache.kafka.common.security.plain.PlainLoginModule",
            ),
            (
                "SCRAM-SHA-256",
                "org.apache.kafka.common.security.scram.ScramLoginModule",
            ),
            (
                "scram-sha-512",
                "org.apache.kafka.common.security.scram.ScramLoginModule",
            ),
        ] {
            let mut p = props(&[
                ("security.protocol", "sasl_ssl"),
                ("sasl.mechanism", mechanism),
                (
                    "sasl.jaas.config",
                    &format!(r#"{module} required username="alice" password="p@ss \"w;rd\"";"#),
                ),
            ]);
            to_librdkafka(&mut p).unwrap();
            assert_eq!(p["security.protocol"], "SASL_SSL");
            assert_eq!(p["sasl.mechanism"], mechanism.to_ascii_uppercase());
            assert_eq!(p["sasl.username"], "alice");
            assert_eq!(p["sasl.password"], r#"p@ss "w;rd""#);
            assert!(!p.contains_key("sasl.jaas.config"));
        }
    }

    #[test]
    fn a_module_that_does_not_match_the_mechanism_is_named() {
        let mut p = props(&[
            ("sasl.mechanism", "SCRAM-SHA-512"),
            (
                "sasl.jaas.config",
                "org.apache.kafka.common.security.plain.PlainLoginModule required username=a password=secret-value;",
            ),
        ]);
        let e = to_librdkafka(&mut p).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "sasl.jaas.config: PlainLoginModule does not go with sasl.mechanism=SCRAM-SHA-512"
            ),
            "{e}"
        );
        assert!(!e.contains("secret-value"));
    }

    #[test]
    fn oauthbearer_client_credentials_become_librdkafkas_oidc() {
        let mut p = props(&[
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "OAUTHBEARER"),
            (
                "sasl.login.callback.handler.class",
                "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler",
            ),
            ("sasl.oauthbearer.token.endpoint.url", "https://idp/token"),
            (
                "sasl.jaas.config",
                "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId='kc' clientSecret='s3' scope='kafka' extension_logicalCluster='lkc-1' extension_identityPoolId='pool';",
            ),
        ]);
        to_librdkafka(&mut p).unwrap();
        assert_eq!(p["sasl.oauthbearer.method"], "oidc");
        assert_eq!(p["sasl.oauthbearer.client.id"], "kc");
        assert_eq!(p["sasl.oauthbearer.client.secret"], "s3");
        assert_eq!(p["sasl.oauthbearer.scope"], "kafka");
        assert_eq!(
            p["sasl.oauthbearer.token.endpoint.url"],
            "https://idp/token"
        );
        assert_eq!(
            p["sasl.oauthbearer.extensions"],
            "logicalCluster=lkc-1,identityPoolId=pool"
        );
        assert!(!p.contains_key("sasl.login.callback.handler.class"));
        assert!(
            !p.contains_key("https.ca.pem"),
            "system CAs for the endpoint"
        );

        let with_ca = |options: &str| {
            let mut p = props(&[
                ("sasl.mechanism", "OAUTHBEARER"),
                ("sasl.oauthbearer.token.endpoint.url", "https://idp/token"),
                ("sasl.login.callback.handler.class", OIDC_HANDLERS[0]),
                (
                    "sasl.jaas.config",
                    &format!("org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId=kc clientSecret=s3 {options};"),
                ),
            ]);
            to_librdkafka(&mut p).map(|_| p)
        };
        let p = with_ca("ssl.truststore.type=PEM ssl.truststore.certificates=\"-----BEGIN CERTIFICATE-----\nX\"").unwrap();
        assert_eq!(p["https.ca.pem"], "-----BEGIN CERTIFICATE-----\nX");
        let p = with_ca("ssl.truststore.location=/etc/idp/ca.crt").unwrap();
        assert_eq!(p["https.ca.location"], "/etc/idp/ca.crt");
        let e = with_ca("ssl.truststore.type=JKS ssl.truststore.location=/x.jks").unwrap_err();
        assert!(e.to_string().contains("must be PEM"), "{e}");
    }

    #[test]
    fn principals_as_the_broker_names_them() {
        let of = |pairs: &[(&str, &str)]| {
            let p = props(pairs);
            principal(|k| p.get(k).cloned())
        };
        assert_eq!(of(&[]), "User:ANONYMOUS");
        assert_eq!(
            of(&[("security.protocol", "SASL_SSL"), ("sasl.username", "bob")]),
            "User:bob"
        );
        assert_eq!(
            of(&[
                ("security.protocol", "SASL_PLAINTEXT"),
                ("sasl.oauthbearer.config", "principal=svc")
            ]),
            "User:svc"
        );
        // A client certificate: its subject, most specific first.
        let key =
            openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
        let mut name = openssl::x509::X509NameBuilder::new().unwrap();
        name.append_entry_by_text("O", "Example").unwrap();
        name.append_entry_by_text("CN", "app").unwrap();
        let name = name.build();
        let mut b = openssl::x509::X509Builder::new().unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&openssl::asn1::Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        b.sign(&key, openssl::hash::MessageDigest::sha256())
            .unwrap();
        let pem = String::from_utf8(b.build().to_pem().unwrap()).unwrap();
        assert_eq!(
            of(&[("security.protocol", "SSL"), ("ssl.certificate.pem", &pem)]),
            "User:CN=app,O=Example"
        );
        assert_eq!(of(&[("security.protocol", "SSL")]), "User:ANONYMOUS");
    }

    #[test]
    fn jvm_only_keys_are_dropped_and_named() {
        let mut p = props(&[
            ("ssl.provider", "SunJSSE"),
            ("ssl.keymanager.algorithm", "SunX509"),
            ("linger.ms", "5"),
        ]);
        let dropped = to_librdkafka(&mut p).unwrap();
        assert_eq!(dropped, ["ssl.keymanager.algorithm", "ssl.provider"]);
        assert_eq!(p, props(&[("linger.ms", "5")]));
    }

    #[test]
    fn pem_material_maps_to_librdkafkas_keys() {
        let mut p = props(&[
            ("ssl.truststore.type", "PEM"),
            ("ssl.truststore.location", "/certs/ca.crt"),
            ("ssl.keystore.type", "PEM"),
            (
                "ssl.keystore.certificate.chain",
                "-----BEGIN CERTIFICATE-----",
            ),
            ("ssl.keystore.key", "-----BEGIN PRIVATE KEY-----"),
            ("ssl.endpoint.identification.algorithm", ""),
        ]);
        to_librdkafka(&mut p).unwrap();
        assert_eq!(p["ssl.ca.location"], "/certs/ca.crt");
        assert_eq!(p["ssl.certificate.pem"], "-----BEGIN CERTIFICATE-----");
        assert_eq!(p["ssl.key.pem"], "-----BEGIN PRIVATE KEY-----");
        assert_eq!(p["ssl.endpoint.identification.algorithm"], "none");
        let mut bad = props(&[("security.protocol", "TLS")]);
        assert!(to_librdkafka(&mut bad).is_err());
    }

    #[test]
    fn secret_keys_are_masked_under_any_prefix() {
        use crate::connect::config::is_secret_name;
        for key in [
            "sasl.jaas.config",
            "producer.sasl.jaas.config",
            "consumer.override.ssl.keystore.password",
            "admin.ssl.key.password",
            "ssl.keystore.key",
            "producer.ssl.key.pem",
            "sasl.oauthbearer.client.secret",
        ] {
            assert!(is_secret_name(key), "{key}");
        }
        for key in [
            "sasl.mechanism",
            "ssl.truststore.location",
            "security.protocol",
        ] {
            assert!(!is_secret_name(key), "{key}");
        }
    }

    fn quoted(v: &str) -> String {
        let mut out = String::from("\"");
        for c in v.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
        out
    }

    proptest! {
        /// Any option values, quoted as Java writes them, come back as they were.
        #[test]
        fn jaas_options_round_trip(
            values in proptest::collection::vec("[ -~]{0,20}", 1..4),
        ) {
            let opts: Vec<(String, String)> = values
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("k{i}"), v.clone()))
                .collect();
            let text = format!(
                "a.b.Module required {};",
                opts.iter().map(|(k, v)| format!("{k}={}", quoted(v))).collect::<Vec<_>>().join(" ")
            );
            let module = parse_jaas(&text).unwrap();
            prop_assert_eq!(module.class, "a.b.Module");
            prop_assert_eq!(module.options, opts);
        }

        /// Malformed input is an error, never a panic, and never echoes an
        /// option value.
        #[test]
        fn jaas_errors_never_echo_values(text in "[ -~]{0,60}") {
            if let Err(e) = parse_jaas(&format!("a.b.M required k=\"secret-xyz\" {text}")) {
                prop_assert!(!e.contains("secret-xyz"));
            }
        }
    }
}
