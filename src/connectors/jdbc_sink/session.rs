//! The sink's database session: `connection.url`'s hosts tried in order
//! (pgjdbc's failover list), TLS from the URL's pgjdbc parameters (`ssl`,
//! `sslmode`, `sslrootcert`, `sslcert`, `sslkey`), `currentSchema` and
//! `ApplicationName` honoured, and errors sorted into retriable (the
//! connection, the server going away, deadlocks) and not.

use std::time::Duration;

use tokio_postgres::Client;

use crate::connect::{ConfigError, ConnectError};
use crate::connectors::postgres_cdc::catalog::{db_error_as, SESSION_OPTIONS};
use crate::connectors::postgres_cdc::tls::{PgTls, TlsSettings};

use super::config::{SinkSettings, CONNECTION_URL};

/// The TLS policy the URL asks for. pgjdbc's `ssl=true` without `sslmode`
/// means `verify-full`; neither means `prefer`.
pub fn tls(settings: &SinkSettings) -> Result<PgTls, ConfigError> {
    let params = &settings.url.params;
    let get = |k: &str| params.get(k).map(String::as_str);
    let mode = match (get("sslmode"), get("ssl")) {
        (Some(mode), _) => mode,
        (None, Some(ssl)) if ssl.eq_ignore_ascii_case("true") || ssl.is_empty() => "verify-full",
        _ => "prefer",
    };
    let host = settings
        .url
        .hosts
        .first()
        .map(|(h, _)| h.as_str())
        .unwrap_or("localhost");
    PgTls::new(&TlsSettings {
        mode,
        hostname: host,
        rootcert: get("sslrootcert"),
        cert: get("sslcert"),
        key: get("sslkey"),
    })
    .map_err(|e| {
        // The CDC source's key names, as the URL's parameter names.
        let param = e.key.strip_prefix("database.").unwrap_or(e.key);
        ConfigError::new(CONNECTION_URL, format!("{param}: {}", e.message))
    })
}

/// A session to the first host of the URL that answers.
pub async fn connect(settings: &SinkSettings, tls: &PgTls) -> Result<Client, ConnectError> {
    let params = &settings.url.params;
    let mut options = SESSION_OPTIONS.to_owned();
    if let Some(schema) = params.get("currentSchema").filter(|s| !s.is_empty()) {
        // `options` separates on spaces; a backslash keeps one literal.
        options.push_str(&format!(
            " -c search_path={}",
            schema.replace('\\', "\\\\").replace(' ', "\\ ")
        ));
    }
    let timeout = params
        .get("connectTimeout")
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|s| *s > 0)
        .unwrap_or(30);
    let mut last = None;
    for (host, port) in &settings.url.hosts {
        let mut pg = tokio_postgres::Config::new();
        pg.host(host)
            .port(*port)
            .user(&settings.user)
            .password(settings.password.as_bytes())
            .dbname(&settings.url.database)
            .application_name(
                params
                    .get("ApplicationName")
                    .map(String::as_str)
                    .unwrap_or("kconnect-jdbc-sink"),
            )
            .options(&options)
            .ssl_mode(tls.session_mode())
            .connect_timeout(Duration::from_secs(timeout));
        let what = format!("connecting to {host}:{port}/{}", settings.url.database);
        let connector = tls
            .session_connector()
            .map_err(|e| ConnectError::other(format!("{what}: {e}")))?;
        match pg.connect(connector).await {
            Ok((client, connection)) => {
                tokio::spawn(async move {
                    if let Err(e) = connection.await {
                        tracing::debug!(error = %e, "PostgreSQL session ended");
                    }
                });
                return Ok(client);
            }
            Err(e) => {
                let err = db_error_as(&what, &settings.user, &e);
                tracing::warn!(error = %err, "PostgreSQL host refused");
                last = Some(err);
            }
        }
    }
    Err(last.unwrap_or_else(|| ConnectError::other("connection.url names no host")))
}

/// Whether a failed statement is worth retrying as a whole: the session or
/// server failed, or the transaction lost a race (serialization failure,
/// deadlock), rather than the data being wrong.
pub fn is_transient(e: &tokio_postgres::Error) -> bool {
    match e.as_db_error() {
        Some(db) => {
            let code = db.code().code();
            code.starts_with("08")
                || code.starts_with("57P")
                || code.starts_with("53")
                || code == "40001"
                || code == "40P01"
        }
        // No answer from the server at all: the connection broke.
        None => true,
    }
}

/// A statement's failure in words: the server's message, its SQLSTATE,
/// and the detail (which key, which constraint) when it gave one.
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut text = format!("{} [SQLSTATE {}]", db.message(), db.code().code());
            if let Some(detail) = db.detail() {
                text.push_str(": ");
                text.push_str(detail);
            }
            text
        }
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::Props;
    use crate::connectors::jdbc_sink::config::Flavor;
    use crate::connectors::postgres_cdc::tls::SslMode;

    fn settings(url: &str) -> SinkSettings {
        let props: Props = [(CONNECTION_URL.to_owned(), url.to_owned())]
            .into_iter()
            .collect();
        SinkSettings::parse(Flavor::Confluent, &props).unwrap()
    }

    #[test]
    fn pgjdbc_ssl_parameters_choose_the_mode() {
        let mode = |url: &str| tls(&settings(url)).unwrap().mode;
        assert_eq!(mode("jdbc:postgresql://h/db"), SslMode::Prefer);
        assert_eq!(
            mode("jdbc:postgresql://h/db?sslmode=disable"),
            SslMode::Disable
        );
        assert_eq!(
            mode("jdbc:postgresql://h/db?sslmode=require"),
            SslMode::Require
        );
        // ssl=true alone verifies everything, as pgjdbc does; it needs a CA.
        let err = tls(&settings("jdbc:postgresql://h/db?ssl=true")).unwrap_err();
        assert_eq!(err.key, CONNECTION_URL);
        assert!(err.message.starts_with("sslrootcert: "), "{err:?}");
        let err = tls(&settings(
            "jdbc:postgresql://h/db?sslmode=require&sslcert=/nonexistent.pem",
        ))
        .unwrap_err();
        assert!(err.message.starts_with("sslkey: "), "{err:?}");
    }
}
