//! How a ConnectCluster reaches a secured Kafka cluster: `spec.tls` and
//! `spec.authentication`, in the shape of Strimzi's `KafkaConnect`
//! (`ClientTls`, `KafkaClientAuthentication*`), so those two fields of a
//! Strimzi manifest carry over unchanged. Every credential is a reference to
//! a key of a Secret in the cluster's namespace; the operator mounts the
//! Secrets into the worker Pods and reads them through the API for its own
//! clients (see `operator::kafka_access`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// TLS to the brokers (Strimzi's `ClientTls`). Its presence turns TLS on:
/// security.protocol becomes SSL, or SASL_SSL with a SASL authentication.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientTls {
    /// Certificates of the certificate authorities the brokers' certificates
    /// are checked against, e.g. Strimzi's <cluster>-cluster-ca-cert Secret
    /// with key ca.crt. When empty, the system's trusted authorities are used
    /// (public clouds: Confluent Cloud, MSK, Aiven).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trusted_certificates: Vec<CertSecretSource>,
}

/// PEM certificates in a Secret (Strimzi's `CertSecretSource`): one key
/// (`certificate`) or every key matching a glob (`pattern`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "has(self.certificate) != has(self.pattern)",
    "message": "set exactly one of certificate and pattern"
}]))]
pub struct CertSecretSource {
    /// Name of the Secret.
    #[schemars(length(min = 1))]
    pub secret_name: String,
    /// Key of the Secret holding the certificate(s), e.g. ca.crt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    /// Glob over the Secret's keys, e.g. *.crt: every matching key is a
    /// trusted certificate (`*` any characters, `?` one character).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
}

/// How the workers authenticate to the brokers (Strimzi's
/// `KafkaClientAuthentication`, selected by `type`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {
        "rule": "self.type != 'tls' || has(self.certificateAndKey)",
        "message": "type tls needs certificateAndKey"
    },
    {
        "rule": "!(self.type in ['scram-sha-256', 'scram-sha-512', 'plain']) || (has(self.username) && has(self.passwordSecret))",
        "message": "types scram-sha-256, scram-sha-512 and plain need username and passwordSecret"
    },
    {
        "rule": "self.type != 'oauth' || (has(self.clientId) && has(self.clientSecret) && has(self.tokenEndpointUri))",
        "message": "type oauth needs clientId, clientSecret and tokenEndpointUri"
    }
]))]
pub struct KafkaClientAuthentication {
    /// tls (a client certificate: mTLS), scram-sha-256, scram-sha-512,
    /// plain (SASL with a user name and password) or oauth (SASL
    /// OAUTHBEARER with tokens from an OAuth 2 client-credentials grant).
    #[serde(rename = "type")]
    pub type_: AuthenticationType,
    /// type tls: the client certificate and its key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_and_key: Option<CertAndKeySecretSource>,
    /// types scram-sha-256, scram-sha-512 and plain: the user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// types scram-sha-256, scram-sha-512 and plain: the Secret key holding
    /// the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret: Option<PasswordSecretSource>,
    /// type oauth: the OAuth client ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// type oauth: the Secret key holding the OAuth client secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<GenericSecretSource>,
    /// type oauth: the authorization server's token endpoint, e.g.
    /// https://sso.example.com/realms/kafka/protocol/openid-connect/token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_uri: Option<String>,
    /// type oauth: the scope asked for with the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// type oauth: certificate authorities of the token endpoint's HTTPS
    /// certificate. When empty, the system's trusted authorities are used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tls_trusted_certificates: Vec<CertSecretSource>,
}

/// `spec.authentication.type`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum AuthenticationType {
    #[serde(rename = "tls")]
    Tls,
    #[serde(rename = "scram-sha-256")]
    ScramSha256,
    #[serde(rename = "scram-sha-512")]
    ScramSha512,
    #[serde(rename = "plain")]
    Plain,
    #[serde(rename = "oauth")]
    Oauth,
}

impl AuthenticationType {
    /// The SASL mechanism, or `None` for TLS client certificates.
    pub fn sasl_mechanism(self) -> Option<&'static str> {
        match self {
            AuthenticationType::Tls => None,
            AuthenticationType::ScramSha256 => Some("SCRAM-SHA-256"),
            AuthenticationType::ScramSha512 => Some("SCRAM-SHA-512"),
            AuthenticationType::Plain => Some("PLAIN"),
            AuthenticationType::Oauth => Some("OAUTHBEARER"),
        }
    }
}

/// A certificate and its private key in one Secret (Strimzi's
/// `CertAndKeySecretSource`), e.g. a Strimzi KafkaUser's user.crt and
/// user.key.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertAndKeySecretSource {
    /// Name of the Secret.
    #[schemars(length(min = 1))]
    pub secret_name: String,
    /// Key holding the PEM certificate (chain).
    #[schemars(length(min = 1))]
    pub certificate: String,
    /// Key holding the PEM private key (PKCS #8, unencrypted).
    #[schemars(length(min = 1))]
    pub key: String,
}

/// A password in a Secret (Strimzi's `PasswordSecretSource`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordSecretSource {
    /// Name of the Secret.
    #[schemars(length(min = 1))]
    pub secret_name: String,
    /// Key of the Secret holding the password.
    #[schemars(length(min = 1))]
    pub password: String,
}

/// One value in a Secret (Strimzi's `GenericSecretSource`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GenericSecretSource {
    /// Name of the Secret.
    #[schemars(length(min = 1))]
    pub secret_name: String,
    /// Key of the Secret holding the value.
    #[schemars(length(min = 1))]
    pub key: String,
}
