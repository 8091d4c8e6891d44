//! Java key and trust stores read into PEM for librdkafka: PKCS12 (with
//! OpenSSL) and JKS (Java's own format, read here: trusted certificates,
//! and private keys protected by Sun's `KeyProtector`). Errors never hold
//! key material or passwords.

use openssl::pkcs12::Pkcs12;
use openssl::pkey::PKey;
use openssl::sha::Sha1;
use openssl::x509::X509;

/// The certificates of a PKCS12 store (a truststore, or the CA chain of a
/// keystore), as PEM.
pub fn pkcs12_certificates(der: &[u8], password: Option<&str>) -> Result<String, String> {
    let store = Pkcs12::from_der(der).map_err(|_| "not a PKCS12 store".to_owned())?;
    let parsed = store.parse2(password.unwrap_or("")).map_err(|_| {
        "cannot be opened: wrong ssl.truststore.password, or a cipher OpenSSL does not offer"
            .to_owned()
    })?;
    let mut pem = String::new();
    let certs = parsed
        .cert
        .into_iter()
        .chain(parsed.ca.into_iter().flatten());
    for cert in certs {
        pem.push_str(&cert_pem(&cert)?);
    }
    if pem.is_empty() {
        return Err("holds no certificate".into());
    }
    Ok(pem)
}

/// The private key (PKCS #8 PEM) and its certificate chain (PEM, leaf
/// first) of a PKCS12 keystore.
pub fn pkcs12_key_and_chain(der: &[u8], password: &str) -> Result<(String, String), String> {
    let store = Pkcs12::from_der(der).map_err(|_| "not a PKCS12 store".to_owned())?;
    let parsed = store.parse2(password).map_err(|_| {
        "cannot be opened: wrong ssl.keystore.password, or a cipher OpenSSL does not offer"
            .to_owned()
    })?;
    let key = parsed
        .pkey
        .ok_or_else(|| "holds no private key".to_owned())?;
    let cert = parsed
        .cert
        .ok_or_else(|| "holds no certificate".to_owned())?;
    let mut chain = cert_pem(&cert)?;
    for ca in parsed.ca.into_iter().flatten() {
        chain.push_str(&cert_pem(&ca)?);
    }
    let key = key
        .private_key_to_pem_pkcs8()
        .map_err(|_| "its private key cannot be written as PKCS #8".to_owned())
        .and_then(|p| String::from_utf8(p).map_err(|_| "its private key is not PEM".to_owned()))?;
    Ok((chain, key))
}

/// An encrypted PEM private key (`BEGIN ENCRYPTED PRIVATE KEY`, or legacy
/// OpenSSL encryption) decrypted to PKCS #8 PEM.
pub fn decrypt_pem_key(pem: &str, password: &str) -> Result<String, String> {
    let key = PKey::private_key_from_pem_passphrase(pem.as_bytes(), password.as_bytes())
        .map_err(|_| "the private key cannot be decrypted with ssl.key.password".to_owned())?;
    key.private_key_to_pem_pkcs8()
        .map_err(|_| "the private key cannot be written as PKCS #8".to_owned())
        .and_then(|p| String::from_utf8(p).map_err(|_| "the private key is not PEM".to_owned()))
}

fn cert_pem(cert: &X509) -> Result<String, String> {
    cert.to_pem()
        .map_err(|e| format!("a certificate cannot be written as PEM: {e}"))
        .and_then(|p| String::from_utf8(p).map_err(|_| "a certificate is not ASCII PEM".into()))
}

/// Splits a PEM text into its certificates (in order) and its private key.
pub fn split_pem(text: &str) -> (String, Option<String>) {
    let mut certs = String::new();
    let mut key = None;
    let mut block: Option<(String, String)> = None;
    for line in text.lines() {
        let line = line.trim_end();
        if let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        {
            block = Some((label.to_owned(), format!("{line}\n")));
            continue;
        }
        let Some((label, body)) = &mut block else {
            continue;
        };
        body.push_str(line);
        body.push('\n');
        if line.starts_with("-----END ") {
            if label == "CERTIFICATE" {
                certs.push_str(body);
            } else if label.ends_with("PRIVATE KEY") {
                key = Some(body.clone());
            }
            block = None;
        }
    }
    (certs, key)
}

const JKS_MAGIC: u32 = 0xFEED_FEED;
const TAG_PRIVATE_KEY: u32 = 1;
const TAG_TRUSTED_CERT: u32 = 2;
/// Sun's `KeyProtector` algorithm, the only one JKS key entries use.
const KEY_PROTECTOR_OID: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x2a, 0x02, 0x11, 0x01, 0x01];

/// A JKS key store, as far as TLS clients need it.
#[derive(Debug, Default)]
pub struct Jks {
    /// Trusted certificate entries (DER).
    pub certificates: Vec<Vec<u8>>,
    /// Private key entries: the protected key and its chain (DER).
    pub keys: Vec<(Vec<u8>, Vec<Vec<u8>>)>,
}

impl Jks {
    /// Reads a JKS store; with a password, its integrity is checked as
    /// Java's `keytool` does.
    pub fn parse(bytes: &[u8], password: Option<&str>) -> Result<Jks, String> {
        let mut r = Reader { bytes, at: 0 };
        if r.u32()? != JKS_MAGIC {
            return Err(
                "not a JKS store (set ssl.*.type to PKCS12 or PEM if it is one of those)".into(),
            );
        }
        let version = r.u32()?;
        if version != 1 && version != 2 {
            return Err(format!("JKS version {version} is not known"));
        }
        let mut store = Jks::default();
        for _ in 0..r.u32()? {
            let tag = r.u32()?;
            r.utf()?; // alias
            r.bytes(8)?; // creation time
            match tag {
                TAG_PRIVATE_KEY => {
                    let key = r.block()?.to_vec();
                    let mut chain = Vec::new();
                    for _ in 0..r.u32()? {
                        if version == 2 {
                            r.utf()?; // certificate type
                        }
                        chain.push(r.block()?.to_vec());
                    }
                    store.keys.push((key, chain));
                }
                TAG_TRUSTED_CERT => {
                    if version == 2 {
                        r.utf()?;
                    }
                    store.certificates.push(r.block()?.to_vec());
                }
                other => return Err(format!("entry type {other} is not known (a JCEKS store?)")),
            }
        }
        let data_end = r.at;
        let digest = r.bytes(20)?;
        if let Some(password) = password.filter(|p| !p.is_empty()) {
            let mut h = Sha1::new();
            h.update(&utf16be(password));
            h.update(b"Mighty Aphrodite");
            h.update(&bytes[..data_end]);
            if h.finish() != digest {
                return Err("the store's password is wrong, or the store is damaged".into());
            }
        }
        Ok(store)
    }

    /// The trusted certificates, as PEM.
    pub fn certificates_pem(&self) -> String {
        self.certificates
            .iter()
            .filter_map(|der| X509::from_der(der).ok())
            .filter_map(|c| cert_pem(&c).ok())
            .collect()
    }

    /// The one private key entry: its chain and its key (PKCS#8), as PEM.
    pub fn private_key(&self, password: Option<&str>) -> Result<(String, String), String> {
        let [(protected, chain)] = self.keys.as_slice() else {
            return Err(format!(
                "a keystore must hold exactly one private key entry, this one has {}",
                self.keys.len()
            ));
        };
        let password =
            password.ok_or("the key entry needs ssl.key.password (or ssl.keystore.password)")?;
        let pkcs8 = unprotect_key(protected, password)?;
        let key = PKey::private_key_from_pkcs8(&pkcs8)
            .and_then(|k| k.private_key_to_pem_pkcs8())
            .map_err(|_| "the key entry is not a PKCS#8 private key".to_owned())?;
        let mut certs = String::new();
        for der in chain {
            let cert =
                X509::from_der(der).map_err(|_| "a chain certificate is not X.509".to_owned())?;
            certs.push_str(&cert_pem(&cert)?);
        }
        let key = String::from_utf8(key).map_err(|_| "the key is not ASCII PEM".to_owned())?;
        Ok((certs, key))
    }
}

fn utf16be(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(|u| u.to_be_bytes()).collect()
}

/// Sun's `KeyProtector`: salt (20) ‖ key XOR a SHA-1 stream ‖ check (20).
fn unprotect_key(encrypted_info: &[u8], password: &str) -> Result<Vec<u8>, String> {
    let (algorithm, data) = encrypted_private_key_info(encrypted_info)
        .ok_or("the key entry is not an EncryptedPrivateKeyInfo")?;
    if algorithm != KEY_PROTECTOR_OID {
        return Err("the key entry is not protected by Sun's KeyProtector".into());
    }
    if data.len() < 40 {
        return Err("the key entry is too short".into());
    }
    let (salt, rest) = data.split_at(20);
    let (encrypted, check) = rest.split_at(rest.len() - 20);
    let pw = utf16be(password);
    let key = key_protector_stream(&pw, salt, encrypted);
    let mut h = Sha1::new();
    h.update(&pw);
    h.update(&key);
    if h.finish() != check {
        return Err("the key password is wrong".into());
    }
    Ok(key)
}

/// XORs `data` with Sun's `KeyProtector` stream: SHA-1 of the password
/// and the previous digest, starting from the salt (the same both ways).
fn key_protector_stream(pw: &[u8], salt: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut digest = salt.to_vec();
    for chunk in data.chunks(20) {
        let mut h = Sha1::new();
        h.update(pw);
        h.update(&digest);
        digest = h.finish().to_vec();
        out.extend(chunk.iter().zip(&digest).map(|(c, d)| c ^ d));
    }
    out
}

/// `EncryptedPrivateKeyInfo ::= SEQUENCE { SEQUENCE { OID, params }, OCTET STRING }`:
/// the algorithm's OID and the encrypted data.
fn encrypted_private_key_info(der: &[u8]) -> Option<(&[u8], &[u8])> {
    let (tag, outer, _) = der_element(der)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, algorithm, rest) = der_element(outer)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, oid, _) = der_element(algorithm)?;
    if tag != 0x06 {
        return None;
    }
    let (tag, data, _) = der_element(rest)?;
    (tag == 0x04).then_some((oid, data))
}

/// One DER element: its tag, its content and what follows it.
fn der_element(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.bytes.len());
        let end = end.ok_or("the JKS store is cut short")?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Java's `writeUTF`: a 16-bit length, then the (modified UTF-8) bytes.
    fn utf(&mut self) -> Result<&'a [u8], String> {
        let b = self.bytes(2)?;
        let n = u16::from_be_bytes([b[0], b[1]]) as usize;
        self.bytes(n)
    }

    /// A 32-bit length, then that many bytes.
    fn block(&mut self) -> Result<&'a [u8], String> {
        let n = self.u32()? as usize;
        self.bytes(n)
    }
}

/// Writes a JKS store of trusted certificates, as `keytool` does (tests).
#[cfg(test)]
pub fn write_jks_truststore(certs: &[Vec<u8>], password: &str) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(JKS_MAGIC.to_be_bytes());
    out.extend(2u32.to_be_bytes());
    out.extend((certs.len() as u32).to_be_bytes());
    for (i, der) in certs.iter().enumerate() {
        out.extend(TAG_TRUSTED_CERT.to_be_bytes());
        let alias = format!("ca{i}");
        out.extend((alias.len() as u16).to_be_bytes());
        out.extend(alias.as_bytes());
        out.extend(0u64.to_be_bytes());
        out.extend(5u16.to_be_bytes());
        out.extend(b"X.509");
        out.extend((der.len() as u32).to_be_bytes());
        out.extend(der);
    }
    let mut data = utf16be(password);
    data.extend(b"Mighty Aphrodite");
    data.extend(&out);
    out.extend(openssl::sha::sha1(&data));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::asn1::Asn1Time;
    use openssl::hash::MessageDigest;
    use openssl::pkey::Private;
    use openssl::rsa::Rsa;
    use openssl::x509::X509NameBuilder;

    fn self_signed(cn: &str) -> (X509, PKey<Private>) {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", cn).unwrap();
        let name = name.build();
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        (b.build(), key)
    }

    #[test]
    fn jks_truststores_become_pem_and_a_wrong_password_is_caught() {
        let (a, _) = self_signed("ca-a");
        let (b, _) = self_signed("ca-b");
        let jks = write_jks_truststore(&[a.to_der().unwrap(), b.to_der().unwrap()], "changeit");
        let store = Jks::parse(&jks, Some("changeit")).unwrap();
        assert_eq!(store.certificates.len(), 2);
        let pem = store.certificates_pem();
        assert_eq!(pem.matches("BEGIN CERTIFICATE").count(), 2);
        assert_eq!(
            X509::stack_from_pem(pem.as_bytes()).unwrap()[1]
                .to_der()
                .unwrap(),
            b.to_der().unwrap()
        );
        // No password: read without the integrity check, as Java does.
        assert!(Jks::parse(&jks, None).is_ok());
        let e = Jks::parse(&jks, Some("wrong")).unwrap_err();
        assert!(e.contains("password is wrong"), "{e}");
        assert!(!e.contains("wrong\""));
        assert!(Jks::parse(&jks[..jks.len() - 30], None).is_err());
        assert!(Jks::parse(b"\x30\x82\x01\x00junk", None)
            .unwrap_err()
            .contains("not a JKS store"));
    }

    #[test]
    fn pkcs12_truststores_and_keystores_give_their_certificates() {
        let (cert, key) = self_signed("client");
        let (ca, _) = self_signed("ca");
        let mut cas = openssl::stack::Stack::new().unwrap();
        cas.push(ca.clone()).unwrap();
        let p12 = Pkcs12::builder()
            .name("client")
            .pkey(&key)
            .cert(&cert)
            .ca(cas)
            .build2("changeit")
            .unwrap()
            .to_der()
            .unwrap();
        let pem = pkcs12_certificates(&p12, Some("changeit")).unwrap();
        assert_eq!(pem.matches("BEGIN CERTIFICATE").count(), 2);
        assert!(pkcs12_certificates(&p12, Some("nope"))
            .unwrap_err()
            .contains("wrong"));
        assert!(pkcs12_certificates(b"junk", None).is_err());
    }

    #[test]
    fn pem_files_split_into_chain_and_key() {
        let (cert, key) = self_signed("client");
        let text = format!(
            "{}{}",
            String::from_utf8(key.private_key_to_pem_pkcs8().unwrap()).unwrap(),
            String::from_utf8(cert.to_pem().unwrap()).unwrap()
        );
        let (certs, private_key) = split_pem(&text);
        assert_eq!(certs, String::from_utf8(cert.to_pem().unwrap()).unwrap());
        assert!(private_key
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----"));
    }

    #[test]
    fn key_protector_round_trip() {
        // Protect a key as Sun's KeyProtector does, then read it back.
        let (_, key) = self_signed("k");
        let plain = key.private_key_to_pkcs8().unwrap();
        let password = "changeit";
        let pw = utf16be(password);
        let salt = [7u8; 20];
        let encrypted = key_protector_stream(&pw, &salt, &plain);
        assert_ne!(encrypted, plain);
        let mut check = Sha1::new();
        check.update(&pw);
        check.update(&plain);
        let mut data = salt.to_vec();
        data.extend(encrypted);
        data.extend(check.finish());
        let der = |tag: u8, content: &[u8]| {
            let mut out = vec![tag];
            let len = content.len();
            if len < 0x80 {
                out.push(len as u8);
            } else {
                out.extend([0x82, (len >> 8) as u8, len as u8]);
            }
            out.extend(content);
            out
        };
        let mut alg = der(0x06, KEY_PROTECTOR_OID);
        alg.extend([0x05, 0x00]);
        let mut info = der(0x30, &alg);
        info.extend(der(0x04, &data));
        let info = der(0x30, &info);
        assert_eq!(unprotect_key(&info, password).unwrap(), plain);
        assert!(unprotect_key(&info, "nope")
            .unwrap_err()
            .contains("password is wrong"));
    }
}
