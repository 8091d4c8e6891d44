//! `connection.url` as both Java JDBC sinks take it:
//! `jdbc:postgresql://host[:port][,host2[:port2]…]/database[?key=value&…]`,
//! pgjdbc's syntax. Only PostgreSQL is served; other dialects' URLs are
//! refused naming their scheme.

use std::collections::BTreeMap;

/// A parsed PostgreSQL JDBC URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgUrl {
    /// Hosts and ports, tried in order (pgjdbc's failover list).
    pub hosts: Vec<(String, u16)>,
    pub database: String,
    /// The query parameters (`user`, `password`, `sslmode`, …), names as
    /// given.
    pub params: BTreeMap<String, String>,
}

/// Why a URL cannot be used, in words for a validation message.
pub fn parse(url: &str) -> Result<PgUrl, String> {
    let url = url.trim();
    let Some(rest) = url.strip_prefix("jdbc:") else {
        return Err(format!(
            "{url:?} is not a JDBC URL (jdbc:postgresql://host:port/database)"
        ));
    };
    let Some(rest) = rest.strip_prefix("postgresql:") else {
        let scheme = rest.split(':').next().unwrap_or_default();
        return Err(format!(
            "the jdbc:{scheme}: dialect is not supported; kconnect's JDBC sink writes to PostgreSQL (jdbc:postgresql://…)"
        ));
    };
    let (location, query) = match rest.split_once('?') {
        Some((l, q)) => (l, Some(q)),
        None => (rest, None),
    };
    let (hosts, database) = match location.strip_prefix("//") {
        Some(authority_and_path) => match authority_and_path.split_once('/') {
            Some((hosts, db)) => (hosts, db),
            None => (authority_and_path, ""),
        },
        // pgjdbc also takes `jdbc:postgresql:database` (localhost:5432).
        None => ("", location),
    };
    let hosts = if hosts.is_empty() {
        vec![("localhost".to_owned(), 5432)]
    } else {
        hosts
            .split(',')
            .map(|h| parse_host(h.trim()))
            .collect::<Result<Vec<_>, _>>()?
    };
    let mut params = BTreeMap::new();
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        params.insert(decode(k)?, decode(v)?);
    }
    Ok(PgUrl {
        hosts,
        database: decode(database)?,
        params,
    })
}

fn parse_host(h: &str) -> Result<(String, u16), String> {
    // [v6::addr]:port, host:port, host
    let (host, port) = if let Some(v6) = h.strip_prefix('[') {
        let (addr, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("{h:?}: unclosed [ in an IPv6 address"))?;
        (addr, after.strip_prefix(':'))
    } else {
        match h.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (h, None),
        }
    };
    if host.is_empty() {
        return Err(format!("{h:?}: no host name"));
    }
    let port = match port {
        None | Some("") => 5432,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("{h:?}: {p:?} is not a port"))?,
    };
    Ok((host.to_owned(), port))
}

/// Percent-decoding, as pgjdbc decodes URL parts.
fn decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("{s:?}: a bad %-escape"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{s:?}: %-escapes that are not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgjdbc_urls() {
        let u = parse(
            "jdbc:postgresql://db.example.com:6432/shop?sslmode=require&user=app&password=p%40ss",
        )
        .unwrap();
        assert_eq!(u.hosts, vec![("db.example.com".to_owned(), 6432)]);
        assert_eq!(u.database, "shop");
        assert_eq!(u.params["sslmode"], "require");
        assert_eq!(u.params["password"], "p@ss");
        let u = parse("jdbc:postgresql://a,b:5433,[::1]:5434/x").unwrap();
        assert_eq!(
            u.hosts,
            vec![
                ("a".to_owned(), 5432),
                ("b".to_owned(), 5433),
                ("::1".to_owned(), 5434)
            ]
        );
        let u = parse("jdbc:postgresql:shop").unwrap();
        assert_eq!(
            (u.hosts[0].0.as_str(), u.database.as_str()),
            ("localhost", "shop")
        );
    }

    #[test]
    fn other_dialects_and_bad_urls_are_refused_saying_why() {
        let e = parse("jdbc:mysql://h:3306/db").unwrap_err();
        assert!(e.contains("jdbc:mysql:") && e.contains("PostgreSQL"), "{e}");
        assert!(parse("postgresql://h/db")
            .unwrap_err()
            .contains("not a JDBC URL"));
        assert!(parse("jdbc:postgresql://h:0/db")
            .unwrap_err()
            .contains("not a port"));
        assert!(parse("jdbc:postgresql://h:x/db")
            .unwrap_err()
            .contains("not a port"));
        assert!(parse("jdbc:postgresql://h/db?password=%zz").is_err());
    }
}
