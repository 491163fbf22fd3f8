//! The HTTP client providers are called with (pooled, HTTP/2 by ALPN, no
//! redirects, system roots plus a provider's `ca_file`), and bounded JSON
//! reads of their answers.

use std::sync::Once;
use std::time::Duration;

use serde_json::Value;

use super::answer::ProviderErrorKind;

/// Largest provider answer read (bytes).
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// The shared HTTP client for providers: pooled keep-alive connections, HTTP/2
/// where the provider offers it by ALPN, system roots.
pub fn http_client() -> reqwest::Client {
    client_builder()
        .build()
        .expect("the provider HTTP client builds with static settings")
}

/// A provider client that also trusts the PEM certificates in `ca_file`.
pub fn http_client_trusting(ca_file: &str) -> Result<reqwest::Client, String> {
    let mut b = client_builder();
    for c in crate::config::tls::read_ca_file(ca_file)? {
        b = b.add_root_certificate(c);
    }
    b.build()
        .map_err(|e| format!("cannot build a client trusting {ca_file}: {e}"))
}

pub fn client_builder() -> reqwest::ClientBuilder {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // reqwest is built without a bundled crypto provider; use ring's.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
        .pool_idle_timeout(Duration::from_secs(90))
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("restgate/", env!("CARGO_PKG_VERSION")))
}

/// Sends a request and reads a bounded JSON object answer.
pub(super) async fn send_json(
    req: reqwest::RequestBuilder,
) -> Result<(u16, Option<Value>), ProviderErrorKind> {
    let (status, json) = send_any_json(req).await?;
    Ok((status, json.filter(Value::is_object)))
}

/// Sends a request and reads a bounded JSON answer of any shape.
pub(super) async fn send_any_json(
    req: reqwest::RequestBuilder,
) -> Result<(u16, Option<Value>), ProviderErrorKind> {
    let mut res = req.send().await.map_err(classify_reqwest)?;
    let status = res.status().as_u16();
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(classify_reqwest)? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(ProviderErrorKind::Garbage("answer too large"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, serde_json::from_slice::<Value>(&body).ok()))
}

fn classify_reqwest(e: reqwest::Error) -> ProviderErrorKind {
    if e.is_timeout() {
        ProviderErrorKind::Timeout
    } else {
        ProviderErrorKind::Unreachable(e.without_url())
    }
}
