//! The `oauth1` hand-off's consumer as a config names it: its RSA private key
//! and the public base URL the product's Tomcat rebuilds.

use std::sync::Arc;

use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::pkey::{Id, PKey};
use openssl::rsa::Padding;
use openssl::sign::Signer;

use super::types::PrivateKey;

/// Reads an RSA private key (PKCS#8 or PKCS#1 PEM, unencrypted) and checks that
/// it can sign RSA-SHA1. Errors never quote the key.
pub fn load_private_key(path: &str) -> Result<PrivateKey, String> {
    let pem = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let not_a_key = || format!("{path} holds no RSA private key in PEM (PKCS#8 or PKCS#1)");
    if !is_plain_private_key_pem(&pem) {
        return Err(not_a_key());
    }
    // A callback that supplies no passphrase: OpenSSL never asks the terminal.
    let key =
        PKey::private_key_from_pem_callback(pem.as_bytes(), |_| Ok(0)).map_err(|_| not_a_key())?;
    let consistent = key.id() == Id::RSA && key.rsa().and_then(|r| r.check_key()).unwrap_or(false);
    if !consistent {
        return Err(not_a_key());
    }
    let key = PrivateKey(Arc::new(key));
    // Some OpenSSL builds refuse SHA-1 signatures by policy; say so at start,
    // not on the first request.
    key.sign_rsa_sha1(b"restgate").map_err(|e| {
        format!(
            "the system's OpenSSL refuses RSA-SHA1 signatures with the key in {path}, \
             which application links require ({})",
            first_reason(&e)
        )
    })?;
    Ok(key)
}

impl PrivateKey {
    /// RSASSA-PKCS1-v1_5 with SHA-1 (RFC 8017 §8.2), by OpenSSL: its RSA
    /// private-key operation is constant-time and blinded.
    pub fn sign_rsa_sha1(&self, data: &[u8]) -> Result<Vec<u8>, ErrorStack> {
        let mut signer = Signer::new(MessageDigest::sha1(), &self.0)?;
        signer.set_rsa_padding(Padding::PKCS1)?;
        signer.sign_oneshot_to_vec(data)
    }
}

/// One PEM block labelled `PRIVATE KEY` (PKCS#8) or `RSA PRIVATE KEY`
/// (PKCS#1), without the legacy encryption headers: what the key files held
/// before, and nothing OpenSSL would want a passphrase for.
fn is_plain_private_key_pem(pem: &str) -> bool {
    let mut begins = pem.lines().filter(|l| l.starts_with("-----BEGIN "));
    let plain_label = matches!(
        begins.next().map(str::trim_end),
        Some("-----BEGIN PRIVATE KEY-----" | "-----BEGIN RSA PRIVATE KEY-----")
    );
    plain_label && begins.next().is_none() && !pem.contains("Proc-Type:")
}

/// OpenSSL's reason for a failure (no key material is ever in it).
fn first_reason(e: &ErrorStack) -> String {
    e.errors()
        .first()
        .and_then(|e| e.reason())
        .unwrap_or("no reason given")
        .to_owned()
}

/// `scheme://host[:port]` as RFC 5849 §3.4.1.2 wants it: lower-case scheme and
/// host, default port dropped, no path, query or trailing slash.
pub fn normalise_base_url(text: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(text).map_err(|e| format!("{text:?} is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("{text:?} must be http(s)://host[:port]"));
    }
    if !matches!(url.path(), "" | "/") || url.query().is_some() {
        return Err(
            "give scheme://host[:port] only: the request path (context path included) follows"
                .into(),
        );
    }
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    Ok(match url.port() {
        // `Url` already drops the scheme's default port.
        Some(p) => format!("{}://{host}:{p}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_normalised() {
        assert_eq!(
            normalise_base_url("HTTPS://Jira.Example.com:443/").unwrap(),
            "https://jira.example.com"
        );
        assert_eq!(
            normalise_base_url("http://jira:8080").unwrap(),
            "http://jira:8080"
        );
        assert!(
            normalise_base_url("https://jira.example.com/jira").is_err(),
            "the context path is part of the request path"
        );
        assert!(normalise_base_url("ftp://x").is_err());
    }
}
