//! The `oauth1` hand-off's consumer as a config names it: its RSA private key
//! and the public base URL the product's Tomcat rebuilds.

use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;

use super::types::PrivateKey;

/// Reads an RSA private key (PKCS#8 or PKCS#1 PEM). Errors never quote the key.
pub fn load_private_key(path: &str) -> Result<PrivateKey, String> {
    let pem = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    rsa::RsaPrivateKey::from_pkcs8_pem(&pem)
        .or_else(|_| rsa::RsaPrivateKey::from_pkcs1_pem(&pem))
        .map(|k| PrivateKey(std::sync::Arc::new(k)))
        .map_err(|_| format!("{path} holds no RSA private key in PEM (PKCS#8 or PKCS#1)"))
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
