//! OAuth 1.0a two-legged with impersonation ("2LOi"), the hand-off stock Jira,
//! Confluence and Bitbucket accept through an incoming application link
//! (atlassian.md §2): RSA-SHA1 (RFC 5849 §3.4.3) with an empty `oauth_token`,
//! `xoauth_requestor_id=<user>` in the query and signed, form-encoded body
//! parameters signed, over the public base URL the product's Tomcat rebuilds.

use std::borrow::Cow;

use crate::config::{OAuth1, PrivateKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::Method;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// RFC 5849 §3.6: everything but ALPHA, DIGIT, `-`, `.`, `_`, `~` is encoded.
const OAUTH_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The parameter a product reads the impersonated user from.
pub const REQUESTOR: &str = "xoauth_requestor_id";

/// RFC 5849 §3.6 percent-encoding.
pub fn encode(s: &str) -> Cow<'_, str> {
    utf8_percent_encode(s, OAUTH_ENCODE).into()
}

/// Parameters a client may not send on a request restgate signs: they would
/// choose the impersonated user or confuse the signature.
pub fn is_reserved_parameter(name: &str) -> bool {
    name == REQUESTOR || name == "user_id" || name.starts_with("oauth_")
}

/// RFC 5849 §3.4.1: `METHOD&enc(base URI)&enc(normalised parameters)`.
pub fn base_string(method: &Method, base_uri: &str, params: &[(String, String)]) -> String {
    let mut encoded: Vec<(Cow<'_, str>, Cow<'_, str>)> =
        params.iter().map(|(k, v)| (encode(k), encode(v))).collect();
    encoded.sort();
    let normalised: Vec<String> = encoded.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!(
        "{}&{}&{}",
        method.as_str().to_ascii_uppercase(),
        encode(base_uri),
        encode(&normalised.join("&"))
    )
}

/// Decodes `application/x-www-form-urlencoded` pairs (a query or a form body),
/// as RFC 5849 §3.4.1.3.1 reads them.
pub fn form_pairs(text: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(text).into_owned().collect()
}

/// Signs requests as the configured consumer.
pub struct Signer {
    consumer_key: String,
    key: PrivateKey,
    base_url: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("consumer_key", &self.consumer_key)
            .field("base_url", &self.base_url)
            .finish()
    }
}

// === impl Signer ===

impl Signer {
    /// The signer for a consumer.
    pub fn new(cfg: &OAuth1) -> Self {
        Signer {
            consumer_key: cfg.consumer_key.clone(),
            key: cfg.private_key.clone(),
            base_url: cfg.signed_base_url.clone(),
        }
    }

    /// The `Authorization: OAuth …` value for a request. `path` is the request
    /// path as sent (context path included); `params` are the query (with the
    /// requestor id already in it) and form-body parameters, decoded.
    ///
    /// The key signed a probe when the config was loaded, so OpenSSL fails
    /// here only when it cannot allocate or draw its blinding randomness.
    pub fn authorization(
        &self,
        method: &Method,
        path: &str,
        params: &[(String, String)],
        timestamp: u64,
        nonce: &str,
    ) -> Result<String, openssl::error::ErrorStack> {
        let oauth = [
            ("oauth_consumer_key", self.consumer_key.as_str()),
            ("oauth_nonce", nonce),
            ("oauth_signature_method", "RSA-SHA1"),
            ("oauth_timestamp", &timestamp.to_string()),
            ("oauth_token", ""),
            ("oauth_version", "1.0"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let mut all: Vec<(String, String)> = params.to_vec();
        all.extend(oauth.iter().cloned());
        let base = base_string(method, &format!("{}{path}", self.base_url), &all);
        let signature = STANDARD.encode(self.key.sign_rsa_sha1(base.as_bytes())?);
        let mut header = String::from("OAuth ");
        for (i, (k, v)) in oauth
            .iter()
            .chain(std::iter::once(&("oauth_signature".to_owned(), signature)))
            .enumerate()
        {
            if i > 0 {
                header.push_str(", ");
            }
            header.push_str(&format!("{k}=\"{}\"", encode(v)));
        }
        Ok(header)
    }
}

/// A fresh nonce: 128 random bits, hex.
pub fn nonce() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_follows_rfc5849() {
        assert_eq!(encode("abcABC123-._~"), "abcABC123-._~");
        assert_eq!(encode("a b+c/d=e&f%"), "a%20b%2Bc%2Fd%3De%26f%25");
        assert_eq!(encode("é"), "%C3%A9");
    }

    /// RFC 5849 §3.4.1.1's example, with its parameters as decoded pairs.
    #[test]
    fn base_string_matches_the_rfc_example() {
        let params: Vec<(String, String)> = [
            ("b5", "=%3D"),
            ("a3", "a"),
            ("c@", ""),
            ("a2", "r b"),
            ("oauth_consumer_key", "9djdj82h48djs9d2"),
            ("oauth_token", "kkk9d7dh3k39sjv7"),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "137131201"),
            ("oauth_nonce", "7d8f3e4a"),
            ("c2", ""),
            ("a3", "2 q"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let want = "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q\
                    %26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_\
                    key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_m\
                    ethod%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk\
                    9d7dh3k39sjv7";
        assert_eq!(
            base_string(&Method::POST, "http://example.com/request", &params),
            want
        );
    }

    #[test]
    fn reserved_parameters() {
        for n in [
            "xoauth_requestor_id",
            "user_id",
            "oauth_token",
            "oauth_signature",
        ] {
            assert!(is_reserved_parameter(n), "{n}");
        }
        assert!(!is_reserved_parameter("jql"));
    }
}
