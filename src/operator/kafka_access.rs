//! The Kafka client settings a ConnectCluster's `spec.tls` and
//! `spec.authentication` stand for, as Strimzi writes them for Java Connect:
//! the same Java keys for the four client roles (the worker's own clients,
//! and `producer.`, `consumer.`, `admin.` for the tasks' clients), with every
//! credential a `${kconnectdir:<dir>:<key>}` variable that the worker
//! resolves from the Secret mounted at `<dir>`. Nothing secret goes into the
//! Pod's environment or the config topic.
//!
//! The operator's own clients (it reads and writes the internal topics) get
//! the same bare keys with the values read from the Secrets through the API,
//! and a hash of those values goes into the Pod template, so a changed
//! Secret rolls the workers.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use k8s_openapi::api::core::v1::{Secret, SecretVolumeSource, Volume, VolumeMount};
use kube::api::Api;

use crate::api::{
    AuthenticationType, CertSecretSource, ConnectClusterSpec, KafkaClientAuthentication,
};
use crate::connect::config_provider::{variables, CONFIG_PROVIDERS};
use crate::connect::Props;
use crate::engine::kafka::is_security_key;

/// Where the Secrets of `spec.tls` and `spec.authentication` are mounted:
/// `<KAFKA_SECRETS_DIR>/<secretName>`.
pub const KAFKA_SECRETS_DIR: &str = "/etc/kconnect/kafka";
/// The config provider the generated keys use: a DirectoryConfigProvider
/// over [`KAFKA_SECRETS_DIR`] (Strimzi's is `strimzidir`).
pub const SECRETS_PROVIDER: &str = "kconnectdir";
/// Pod template annotation with a hash of the Secret values in use: a
/// changed Secret changes the template and rolls the workers.
pub const SECRETS_HASH_ANNOTATION: &str = "kconnect.dev/kafka-secrets-hash";

const DIRECTORY_PROVIDER_CLASS: &str =
    "org.apache.kafka.common.config.provider.DirectoryConfigProvider";
/// The worker's own clients, then the tasks' producers, consumers and admin
/// clients: Java Connect does not pass bare keys on to the latter.
const ROLES: [&str; 4] = ["", "producer.", "consumer.", "admin."];
/// spec.config keys that stay the user's even with tls or authentication
/// set (Strimzi allows the same).
const USER_TLS_KEYS: [&str; 4] = [
    "ssl.endpoint.identification.algorithm",
    "ssl.cipher.suites",
    "ssl.enabled.protocols",
    "ssl.protocol",
];
const OAUTH_HANDLER: &str =
    "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler";

/// The referenced Secrets' data, by Secret name.
pub type SecretData = BTreeMap<String, BTreeMap<String, Vec<u8>>>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    #[error("{field}: Secret {secret:?} not found")]
    MissingSecret { field: String, secret: String },
    #[error("{field}: Secret {secret:?} has no key {key:?}")]
    MissingKey {
        field: String,
        secret: String,
        key: String,
    },
    #[error("{field}: Secret {secret:?} key {key:?} is not UTF-8 text")]
    NotText {
        field: String,
        secret: String,
        key: String,
    },
    #[error("{field}: pattern {pattern:?} matches no key of Secret {secret:?}")]
    NoMatch {
        field: String,
        secret: String,
        pattern: String,
    },
    #[error("spec.config.{key}: spec.{by} sets it; remove it from spec.config")]
    Conflict { key: String, by: &'static str },
    #[error("spec.config.{key}: the operator's own Kafka clients cannot resolve {variable}; use spec.tls and spec.authentication for the Kafka connection")]
    Unresolvable { key: String, variable: String },
    #[error("{field} is required")]
    Required { field: String },
    #[error("reading Secret {secret:?}: {message}")]
    Api { secret: String, message: String },
}

/// What `spec.tls` and `spec.authentication` come to.
#[derive(Clone, Default, PartialEq)]
pub struct KafkaAccess {
    /// Keys added to the worker config: the four roles' security keys with
    /// variables, and the provider that resolves them.
    pub worker_config: BTreeMap<String, String>,
    /// The bare keys with the Secrets' values in: the operator's own
    /// clients. Holds secrets; never logged (see the `Debug` impl).
    operator_client: Props,
    /// Hash of the Secret values in use; `None` without tls or
    /// authentication.
    pub secrets_hash: Option<String>,
}

impl fmt::Debug for KafkaAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaAccess")
            .field("worker_config", &self.worker_config)
            .field("operator_client", &self.operator_client.keys())
            .field("secrets_hash", &self.secrets_hash)
            .finish()
    }
}

impl KafkaAccess {
    /// Neither tls nor authentication nor security keys in spec.config.
    pub const PLAINTEXT: KafkaAccess = KafkaAccess {
        worker_config: BTreeMap::new(),
        operator_client: BTreeMap::new(),
        secrets_hash: None,
    };

    /// The operator's own client settings (Java keys, values filled in).
    pub fn operator_client(&self) -> &Props {
        &self.operator_client
    }
}

/// The Secrets `spec.tls` and `spec.authentication` refer to.
pub fn referenced_secrets(spec: &ConnectClusterSpec) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let certs = |list: &[CertSecretSource], names: &mut BTreeSet<String>| {
        names.extend(list.iter().map(|c| c.secret_name.clone()))
    };
    if let Some(tls) = &spec.tls {
        certs(&tls.trusted_certificates, &mut names);
    }
    if let Some(auth) = &spec.authentication {
        names.extend(
            auth.certificate_and_key
                .iter()
                .map(|c| c.secret_name.clone()),
        );
        names.extend(auth.password_secret.iter().map(|p| p.secret_name.clone()));
        names.extend(auth.client_secret.iter().map(|s| s.secret_name.clone()));
        certs(&auth.tls_trusted_certificates, &mut names);
    }
    names
}

/// Reads the referenced Secrets; a missing one is left out (and named by
/// [`kafka_access`]).
pub async fn read_secrets(
    client: &kube::Client,
    namespace: &str,
    spec: &ConnectClusterSpec,
) -> Result<SecretData, AccessError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let mut data = SecretData::new();
    for name in referenced_secrets(spec) {
        let secret = api.get_opt(&name).await.map_err(|e| AccessError::Api {
            secret: name.clone(),
            message: e.to_string(),
        })?;
        if let Some(secret) = secret {
            let values = secret
                .data
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.0))
                .collect();
            data.insert(name, values);
        }
    }
    Ok(data)
}

/// The volumes (`kafka-<n>`) and mounts of the referenced Secrets.
pub fn secret_volumes(spec: &ConnectClusterSpec) -> Vec<(Volume, VolumeMount)> {
    referenced_secrets(spec)
        .into_iter()
        .enumerate()
        .map(|(n, secret)| {
            let name = format!("kafka-{n}");
            let volume = Volume {
                name: name.clone(),
                secret: Some(SecretVolumeSource {
                    secret_name: Some(secret.clone()),
                    ..SecretVolumeSource::default()
                }),
                ..Volume::default()
            };
            let mount = VolumeMount {
                name,
                mount_path: mount_dir(&secret),
                read_only: Some(true),
                ..VolumeMount::default()
            };
            (volume, mount)
        })
        .collect()
}

fn mount_dir(secret: &str) -> String {
    format!("{KAFKA_SECRETS_DIR}/{secret}")
}

/// The worker keys and the operator's client settings of a cluster, given
/// the referenced Secrets.
pub fn kafka_access(
    spec: &ConnectClusterSpec,
    secrets: &SecretData,
) -> Result<KafkaAccess, AccessError> {
    let user_client: Props = spec
        .config
        .iter()
        .filter(|(k, _)| is_security_key(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if spec.tls.is_none() && spec.authentication.is_none() {
        // Security written in spec.config, if any: the workers resolve its
        // variables from their own mounts, which the operator cannot.
        for (key, value) in &user_client {
            if let Some(v) = variables(value).next() {
                return Err(AccessError::Unresolvable {
                    key: key.clone(),
                    variable: format!("${{{}:{}}}", v.provider, v.key),
                });
            }
        }
        return Ok(KafkaAccess {
            operator_client: user_client,
            ..KafkaAccess::default()
        });
    }
    check_conflicts(spec)?;
    let with_variables = client_keys(
        spec,
        &mut |_, secret, key| {
            Ok(format!(
                "${{{SECRETS_PROVIDER}:{}:{key}}}",
                mount_dir(secret)
            ))
        },
        secrets,
    )?;
    let mut resolved = client_keys(
        spec,
        &mut |field, secret, key| secret_text(secrets, field, secret, key),
        secrets,
    )?;

    let mut worker_config = BTreeMap::new();
    for role in ROLES {
        for (k, v) in &with_variables {
            worker_config.insert(format!("{role}{k}"), v.clone());
        }
    }
    let mut providers: Vec<String> = spec
        .config
        .get(CONFIG_PROVIDERS)
        .map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    providers.push(SECRETS_PROVIDER.to_owned());
    worker_config.insert(CONFIG_PROVIDERS.to_owned(), providers.join(","));
    worker_config.insert(
        format!("{CONFIG_PROVIDERS}.{SECRETS_PROVIDER}.class"),
        DIRECTORY_PROVIDER_CLASS.to_owned(),
    );
    worker_config.insert(
        format!("{CONFIG_PROVIDERS}.{SECRETS_PROVIDER}.param.allowed.paths"),
        KAFKA_SECRETS_DIR.to_owned(),
    );

    // The user's remaining bare TLS keys (host name check, ciphers) hold
    // for the operator's clients as for the worker's.
    for (k, v) in user_client {
        resolved.entry(k).or_insert(v);
    }
    let hash = {
        let mut text = String::new();
        for (k, v) in &resolved {
            text.push_str(k);
            text.push('\0');
            text.push_str(v);
            text.push('\0');
        }
        format!("{:016x}", super::pods::fnv1a_64(text.as_bytes()))
    };
    Ok(KafkaAccess {
        worker_config,
        operator_client: resolved,
        secrets_hash: Some(hash),
    })
}

/// spec.config must not set what tls and authentication set, for any role.
fn check_conflicts(spec: &ConnectClusterSpec) -> Result<(), AccessError> {
    let by = if spec.authentication.is_some() {
        "authentication"
    } else {
        "tls"
    };
    for key in spec.config.keys() {
        let client_key = ROLES
            .iter()
            .rev() // "" last: it prefixes everything
            .find_map(|role| key.strip_prefix(role))
            .unwrap_or(key);
        if is_security_key(client_key) && !USER_TLS_KEYS.contains(&client_key) {
            return Err(AccessError::Conflict {
                key: key.clone(),
                by,
            });
        }
        let reserved = format!("{CONFIG_PROVIDERS}.{SECRETS_PROVIDER}.");
        if key.starts_with(&reserved) {
            return Err(AccessError::Conflict {
                key: key.clone(),
                by,
            });
        }
    }
    if let Some(list) = spec.config.get(CONFIG_PROVIDERS) {
        if list.split(',').any(|p| p.trim() == SECRETS_PROVIDER) {
            return Err(AccessError::Conflict {
                key: CONFIG_PROVIDERS.to_owned(),
                by,
            });
        }
    }
    Ok(())
}

/// One value of a Secret, as text.
fn secret_text(
    secrets: &SecretData,
    field: &str,
    secret: &str,
    key: &str,
) -> Result<String, AccessError> {
    let data = secrets
        .get(secret)
        .ok_or_else(|| AccessError::MissingSecret {
            field: field.to_owned(),
            secret: secret.to_owned(),
        })?;
    let bytes = data.get(key).ok_or_else(|| AccessError::MissingKey {
        field: field.to_owned(),
        secret: secret.to_owned(),
        key: key.to_owned(),
    })?;
    String::from_utf8(bytes.clone()).map_err(|_| AccessError::NotText {
        field: field.to_owned(),
        secret: secret.to_owned(),
        key: key.to_owned(),
    })
}

/// `value(field, secret, key)` gives a Secret value in the form wanted (a
/// variable or the value itself).
type SecretValue<'a> = dyn FnMut(&str, &str, &str) -> Result<String, AccessError> + 'a;

/// The bare client keys (Java names) of tls and authentication.
fn client_keys(
    spec: &ConnectClusterSpec,
    value: &mut SecretValue<'_>,
    secrets: &SecretData,
) -> Result<Props, AccessError> {
    let mut keys = Props::new();
    let auth = spec.authentication.as_ref();
    let sasl = auth.and_then(|a| a.type_.sasl_mechanism());
    let protocol = match (spec.tls.is_some(), sasl.is_some()) {
        (true, false) => "SSL",
        (true, true) => "SASL_SSL",
        (false, true) => "SASL_PLAINTEXT",
        // The CRD rejects authentication type tls without tls.
        (false, false) => "SSL",
    };
    keys.insert("security.protocol".into(), protocol.into());
    if let Some(tls) = &spec.tls {
        if !tls.trusted_certificates.is_empty() {
            keys.insert("ssl.truststore.type".into(), "PEM".into());
            keys.insert(
                "ssl.truststore.certificates".into(),
                certificates(
                    "spec.tls.trustedCertificates",
                    &tls.trusted_certificates,
                    value,
                    secrets,
                )?,
            );
        }
    }
    let Some(auth) = auth else {
        return Ok(keys);
    };
    match auth.type_ {
        AuthenticationType::Tls => {
            let field = "spec.authentication.certificateAndKey";
            let ck = auth
                .certificate_and_key
                .as_ref()
                .ok_or_else(|| missing(field))?;
            keys.insert("ssl.keystore.type".into(), "PEM".into());
            keys.insert(
                "ssl.keystore.certificate.chain".into(),
                value(field, &ck.secret_name, &ck.certificate)?,
            );
            keys.insert(
                "ssl.keystore.key".into(),
                value(field, &ck.secret_name, &ck.key)?,
            );
        }
        AuthenticationType::ScramSha256
        | AuthenticationType::ScramSha512
        | AuthenticationType::Plain => {
            keys.insert("sasl.mechanism".into(), sasl.unwrap_or_default().into());
            keys.insert("sasl.jaas.config".into(), password_login(auth, value)?);
        }
        AuthenticationType::Oauth => {
            keys.insert("sasl.mechanism".into(), "OAUTHBEARER".into());
            keys.insert(
                "sasl.login.callback.handler.class".into(),
                OAUTH_HANDLER.into(),
            );
            keys.insert(
                "sasl.oauthbearer.token.endpoint.url".into(),
                auth.token_endpoint_uri.clone().unwrap_or_default(),
            );
            keys.insert(
                "sasl.jaas.config".into(),
                oauth_login(auth, value, secrets)?,
            );
        }
    }
    Ok(keys)
}

fn missing(field: &str) -> AccessError {
    AccessError::Required {
        field: field.to_owned(),
    }
}

/// PLAIN and SCRAM: Java's login module with the password.
fn password_login(
    auth: &KafkaClientAuthentication,
    value: &mut SecretValue<'_>,
) -> Result<String, AccessError> {
    let field = "spec.authentication.passwordSecret";
    let ps = auth
        .password_secret
        .as_ref()
        .ok_or_else(|| missing(field))?;
    let module = match auth.type_ {
        AuthenticationType::Plain => "org.apache.kafka.common.security.plain.PlainLoginModule",
        _ => "org.apache.kafka.common.security.scram.ScramLoginModule",
    };
    let username = auth.username.clone().unwrap_or_default();
    let password = value(field, &ps.secret_name, &ps.password)?;
    Ok(format!(
        "{module} required username={} password={};",
        jaas_quote(&username),
        jaas_quote(&password)
    ))
}

/// OAuth client credentials: Java's OAUTHBEARER login module, with the
/// token endpoint's trusted certificates as its ssl.truststore options.
fn oauth_login(
    auth: &KafkaClientAuthentication,
    value: &mut SecretValue<'_>,
    secrets: &SecretData,
) -> Result<String, AccessError> {
    let field = "spec.authentication.clientSecret";
    let cs = auth.client_secret.as_ref().ok_or_else(|| missing(field))?;
    let mut text = format!(
        "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId={} clientSecret={}",
        jaas_quote(auth.client_id.as_deref().unwrap_or_default()),
        jaas_quote(&value(field, &cs.secret_name, &cs.key)?),
    );
    if let Some(scope) = &auth.scope {
        text.push_str(&format!(" scope={}", jaas_quote(scope)));
    }
    if !auth.tls_trusted_certificates.is_empty() {
        let certs = certificates(
            "spec.authentication.tlsTrustedCertificates",
            &auth.tls_trusted_certificates,
            value,
            secrets,
        )?;
        text.push_str(&format!(
            " ssl.truststore.type=\"PEM\" ssl.truststore.certificates={}",
            jaas_quote(&certs)
        ));
    }
    text.push(';');
    Ok(text)
}

/// A JAAS option value in double quotes, `"` and `\` escaped. A variable
/// is left as it is: the worker puts the value in before parsing, so a
/// password with `"` or `\` cannot be used through a variable (nor in
/// Java Connect under Strimzi).
fn jaas_quote(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The certificates of a list of sources, one PEM text (newline between
/// sources). A `pattern` is expanded over the Secret's keys now, so a key
/// added later counts once the hash of the values rolls the workers.
fn certificates(
    field: &str,
    sources: &[CertSecretSource],
    value: &mut SecretValue<'_>,
    secrets: &SecretData,
) -> Result<String, AccessError> {
    let mut parts = Vec::new();
    for (i, source) in sources.iter().enumerate() {
        let field = format!("{field}[{i}]");
        let secret = &source.secret_name;
        match (&source.certificate, &source.pattern) {
            (Some(key), _) => parts.push(value(&field, secret, key)?),
            (None, Some(pattern)) => {
                let data = secrets
                    .get(secret)
                    .ok_or_else(|| AccessError::MissingSecret {
                        field: field.clone(),
                        secret: secret.clone(),
                    })?;
                let keys: Vec<&String> = data.keys().filter(|k| glob_match(pattern, k)).collect();
                if keys.is_empty() {
                    return Err(AccessError::NoMatch {
                        field,
                        secret: secret.clone(),
                        pattern: pattern.clone(),
                    });
                }
                for key in keys {
                    parts.push(value(&field, secret, key)?);
                }
            }
            (None, None) => return Err(missing(&field)),
        }
    }
    Ok(parts.join("\n"))
}

/// `*` (any characters) and `?` (one character) globbing, as Strimzi's
/// certificate `pattern`.
fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn spec(json: serde_json::Value) -> ConnectClusterSpec {
        let mut base = serde_json::json!({"bootstrapServers": "kafka:9093"});
        base.as_object_mut()
            .unwrap()
            .extend(json.as_object().unwrap().clone());
        serde_json::from_value(base).unwrap()
    }

    fn secrets(entries: &[(&str, &[(&str, &str)])]) -> SecretData {
        entries
            .iter()
            .map(|(name, data)| {
                (
                    (*name).to_owned(),
                    data.iter()
                        .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
                        .collect(),
                )
            })
            .collect()
    }

    fn scram_over_tls() -> ConnectClusterSpec {
        spec(serde_json::json!({
            "tls": {"trustedCertificates": [{"secretName": "cluster-ca", "certificate": "ca.crt"}]},
            "authentication": {
                "type": "scram-sha-512",
                "username": "connect",
                "passwordSecret": {"secretName": "connect-user", "password": "password"}
            }
        }))
    }

    #[test]
    fn scram_over_tls_sets_all_four_roles_with_variables_only() {
        let data = secrets(&[
            (
                "cluster-ca",
                &[("ca.crt", "-----BEGIN CERTIFICATE-----\nCA\n")],
            ),
            ("connect-user", &[("password", "pa55word")]),
        ]);
        let access = kafka_access(&scram_over_tls(), &data).unwrap();
        let w = &access.worker_config;
        for role in ROLES {
            assert_eq!(w[&format!("{role}security.protocol")], "SASL_SSL");
            assert_eq!(w[&format!("{role}sasl.mechanism")], "SCRAM-SHA-512");
            assert_eq!(w[&format!("{role}ssl.truststore.type")], "PEM");
            assert_eq!(
                w[&format!("{role}ssl.truststore.certificates")],
                "${kconnectdir:/etc/kconnect/kafka/cluster-ca:ca.crt}"
            );
            assert_eq!(
                w[&format!("{role}sasl.jaas.config")],
                "org.apache.kafka.common.security.scram.ScramLoginModule required \
                 username=\"connect\" password=\"${kconnectdir:/etc/kconnect/kafka/connect-user:password}\";"
            );
        }
        assert_eq!(w["config.providers"], "kconnectdir");
        assert_eq!(
            w["config.providers.kconnectdir.class"],
            DIRECTORY_PROVIDER_CLASS
        );
        assert!(
            w.values()
                .all(|v| !v.contains("pa55word") && !v.contains("BEGIN")),
            "no secret in the worker config: {w:?}"
        );
        let op = access.operator_client();
        assert_eq!(op["security.protocol"], "SASL_SSL");
        assert!(op["sasl.jaas.config"].contains("password=\"pa55word\""));
        assert_eq!(
            op["ssl.truststore.certificates"],
            "-----BEGIN CERTIFICATE-----\nCA\n"
        );
        assert!(
            !format!("{access:?}").contains("pa55word"),
            "Debug hides values"
        );
    }

    #[test]
    fn the_hash_follows_the_values_in_use() {
        let data = |pw: &str, other: &str| {
            secrets(&[
                ("cluster-ca", &[("ca.crt", "CA")]),
                ("connect-user", &[("password", pw), ("unused", other)]),
            ])
        };
        let hash = |d: &SecretData| kafka_access(&scram_over_tls(), d).unwrap().secrets_hash;
        let base = hash(&data("a", "x"));
        assert!(base.is_some());
        assert_eq!(hash(&data("a", "y")), base, "a key not in use");
        assert_ne!(hash(&data("b", "x")), base, "the password");
        assert_eq!(
            kafka_access(&spec(serde_json::json!({})), &SecretData::new())
                .unwrap()
                .secrets_hash,
            None
        );
    }

    #[test]
    fn tls_client_certificates_and_patterns() {
        let s = spec(serde_json::json!({
            "tls": {"trustedCertificates": [
                {"secretName": "cas", "pattern": "*.crt"},
                {"secretName": "more", "certificate": "root.pem"}
            ]},
            "authentication": {"type": "tls", "certificateAndKey":
                {"secretName": "user", "certificate": "user.crt", "key": "user.key"}}
        }));
        let data = secrets(&[
            ("cas", &[("a.crt", "A"), ("b.crt", "B"), ("readme", "R")]),
            ("more", &[("root.pem", "ROOT")]),
            ("user", &[("user.crt", "CERT"), ("user.key", "KEY")]),
        ]);
        let access = kafka_access(&s, &data).unwrap();
        let op = access.operator_client();
        assert_eq!(op["security.protocol"], "SSL");
        assert_eq!(op["ssl.truststore.certificates"], "A\nB\nROOT");
        assert_eq!(op["ssl.keystore.type"], "PEM");
        assert_eq!(op["ssl.keystore.certificate.chain"], "CERT");
        assert_eq!(op["ssl.keystore.key"], "KEY");
        assert!(!op.contains_key("sasl.mechanism"));
        assert_eq!(
            access.worker_config["consumer.ssl.keystore.key"],
            "${kconnectdir:/etc/kconnect/kafka/user:user.key}"
        );
        let volumes = secret_volumes(&s);
        let mounts: Vec<(&str, &str)> = volumes
            .iter()
            .map(|(v, m)| {
                (
                    v.secret.as_ref().unwrap().secret_name.as_deref().unwrap(),
                    m.mount_path.as_str(),
                )
            })
            .collect();
        assert_eq!(
            mounts,
            [
                ("cas", "/etc/kconnect/kafka/cas"),
                ("more", "/etc/kconnect/kafka/more"),
                ("user", "/etc/kconnect/kafka/user")
            ]
        );
    }

    #[test]
    fn oauth_client_credentials_with_the_endpoints_ca() {
        let s = spec(serde_json::json!({
            "tls": {},
            "authentication": {
                "type": "oauth", "clientId": "connect",
                "clientSecret": {"secretName": "oauth", "key": "secret"},
                "tokenEndpointUri": "https://sso/token", "scope": "kafka",
                "tlsTrustedCertificates": [{"secretName": "sso-ca", "certificate": "ca.crt"}]
            }
        }));
        let data = secrets(&[
            ("oauth", &[("secret", "s\"3")]),
            ("sso-ca", &[("ca.crt", "SSO")]),
        ]);
        let access = kafka_access(&s, &data).unwrap();
        let op = access.operator_client();
        assert_eq!(op["security.protocol"], "SASL_SSL");
        assert_eq!(op["sasl.mechanism"], "OAUTHBEARER");
        assert_eq!(
            op["sasl.oauthbearer.token.endpoint.url"],
            "https://sso/token"
        );
        assert!(
            !op.contains_key("ssl.truststore.certificates"),
            "no broker CA given"
        );
        let module = crate::engine::kafka_security::parse_jaas(&op["sasl.jaas.config"]).unwrap();
        assert_eq!(module.option("clientId"), Some("connect"));
        assert_eq!(module.option("clientSecret"), Some("s\"3"));
        assert_eq!(module.option("scope"), Some("kafka"));
        assert_eq!(module.option("ssl.truststore.certificates"), Some("SSO"));
    }

    #[test]
    fn missing_secrets_and_keys_are_named() {
        let s = scram_over_tls();
        let only_ca = secrets(&[("cluster-ca", &[("ca.crt", "CA")])]);
        assert_eq!(
            kafka_access(&s, &only_ca).unwrap_err().to_string(),
            "spec.authentication.passwordSecret: Secret \"connect-user\" not found"
        );
        let no_key = secrets(&[
            ("cluster-ca", &[("ca.crt", "CA")]),
            ("connect-user", &[("pw", "x")]),
        ]);
        assert_eq!(
            kafka_access(&s, &no_key).unwrap_err().to_string(),
            "spec.authentication.passwordSecret: Secret \"connect-user\" has no key \"password\""
        );
    }

    #[test]
    fn spec_config_cannot_set_what_tls_and_authentication_set() {
        let data = secrets(&[
            ("cluster-ca", &[("ca.crt", "CA")]),
            ("connect-user", &[("password", "p")]),
        ]);
        for key in [
            "security.protocol",
            "producer.sasl.jaas.config",
            "admin.ssl.truststore.location",
            "config.providers.kconnectdir.class",
        ] {
            let mut s = scram_over_tls();
            s.config.insert(key.into(), "x".into());
            assert_eq!(
                kafka_access(&s, &data).unwrap_err(),
                AccessError::Conflict {
                    key: key.into(),
                    by: "authentication"
                }
            );
        }
        let mut s = scram_over_tls();
        s.config
            .insert("ssl.endpoint.identification.algorithm".into(), "".into());
        s.config.insert("config.providers".into(), "file".into());
        let access = kafka_access(&s, &data).unwrap();
        assert_eq!(
            access.operator_client()["ssl.endpoint.identification.algorithm"],
            ""
        );
        assert_eq!(access.worker_config["config.providers"], "file,kconnectdir");
    }

    #[test]
    fn without_tls_and_authentication_spec_config_is_the_operators_too() {
        let mut s = spec(serde_json::json!({}));
        s.config.insert("security.protocol".into(), "SSL".into());
        s.config.insert("group.id".into(), "g".into());
        let access = kafka_access(&s, &SecretData::new()).unwrap();
        assert!(access.worker_config.is_empty());
        assert_eq!(access.operator_client().len(), 1);
        s.config.insert(
            "sasl.jaas.config".into(),
            "${file:/s/k.properties:jaas}".into(),
        );
        assert!(matches!(
            kafka_access(&s, &SecretData::new()),
            Err(AccessError::Unresolvable { .. })
        ));
    }

    #[test]
    fn globs() {
        assert!(glob_match("*.crt", "ca.crt"));
        assert!(glob_match("*", ""));
        assert!(glob_match("c?.crt", "ca.crt"));
        assert!(!glob_match("*.crt", "ca.key"));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("a*b*c", "aXXbYY"));
    }

    proptest! {
        #[test]
        fn a_star_glob_matches_any_suffix(prefix in "[a-z.]{0,8}", rest in "[a-z.]{0,8}") {
            let text = format!("{prefix}{rest}");
            let pattern = format!("{prefix}*");
            prop_assert!(glob_match(&pattern, &text));
        }

        #[test]
        fn jaas_quoting_round_trips(value in "[ -~]{0,30}") {
            let text = format!("M required k={};", jaas_quote(&value));
            let module = crate::engine::kafka_security::parse_jaas(&text).unwrap();
            prop_assert_eq!(module.option("k"), Some(value.as_str()));
        }
    }
}
