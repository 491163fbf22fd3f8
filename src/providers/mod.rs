//! Token validation by the providers: "who is this?", separate from HTTP serving.
//!
//! A provider takes a token and returns its raw answer, or a typed error. The
//! [`ProviderSet`] routes a token to the provider(s) that may have issued it
//! ([`route`]) and maps the answer to a [`Verdict`]; it is the tower service
//! the cache layer wraps.

mod client;
pub mod health;
mod introspection;
pub mod jwt;
pub mod oidc;
pub mod route;
mod set;
mod userinfo;
mod vendor;

use std::sync::{Arc, Once};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::auth::identity::Refusal;

pub use client::ProviderClient;
pub use set::{ProviderSet, Seen, ask};

/// Largest provider answer read (bytes).
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// Why a provider gave no usable answer. Always `503`, never cached.
#[derive(Debug, thiserror::Error)]
#[error("provider {provider}: {kind}")]
pub struct ProviderError {
    /// The provider's name.
    pub provider: Arc<str>,
    /// What went wrong.
    #[source]
    pub kind: ProviderErrorKind,
}

/// What went wrong with a provider call.
#[derive(Debug, thiserror::Error)]
pub enum ProviderErrorKind {
    /// No answer within the provider's `timeout`.
    #[error("timed out")]
    Timeout,
    /// Connection refused, reset or a TLS failure.
    #[error("unreachable")]
    Unreachable(#[source] reqwest::Error),
    /// A non-2xx status other than those that mean "inactive".
    #[error("answered HTTP {0}")]
    Status(u16),
    /// 401/403 to restgate's own client authentication: a configuration fault.
    #[error("refused restgate's client credentials (HTTP {0}); check client_id and the secret")]
    ClientRejected(u16),
    /// An answer that is not the documented JSON.
    #[error("unparsable answer: {0}")]
    Garbage(&'static str),
    /// `max_concurrent` calls were in flight for the whole timeout.
    #[error("too many calls in flight")]
    Overloaded,
}

impl ProviderError {
    /// An error of `provider`.
    pub fn new(provider: &Arc<str>, kind: ProviderErrorKind) -> Self {
        ProviderError {
            provider: provider.clone(),
            kind,
        }
    }

    /// The HTTP status the provider answered, if that was the problem.
    pub fn status_label(&self) -> &'static str {
        match self.kind {
            ProviderErrorKind::Timeout => "timeout",
            ProviderErrorKind::Unreachable(_) => "unreachable",
            ProviderErrorKind::Status(_) => "status",
            ProviderErrorKind::ClientRejected(_) => "client_rejected",
            ProviderErrorKind::Garbage(_) => "garbage",
            ProviderErrorKind::Overloaded => "overloaded",
        }
    }
}

/// A provider's raw answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The JSON it answered (for mapping, and for `test-token`); `Null` when
    /// there was nothing to read.
    pub claims: Value,
    /// Why the token is refused, if it is.
    pub refusal: Option<Refusal>,
}

impl Answer {
    /// The provider vouches for the token.
    pub fn active(claims: Value) -> Self {
        Answer {
            claims,
            refusal: None,
        }
    }

    /// The token is refused.
    pub fn refused(refusal: Refusal) -> Self {
        Answer {
            claims: Value::Null,
            refusal: Some(refusal),
        }
    }
}

/// The shared HTTP client for providers: pooled keep-alive connections, HTTP/2
/// where the provider offers it by ALPN, system roots.
pub fn http_client() -> reqwest::Client {
    client_builder()
        .build()
        .expect("the provider HTTP client builds with static settings")
}

/// The PEM certificates of a provider's `ca_file`, at least one: what config
/// validation checks, without building a client.
pub fn read_ca_file(ca_file: &str) -> Result<Vec<reqwest::Certificate>, String> {
    let pem = std::fs::read(ca_file).map_err(|e| format!("cannot read {ca_file}: {e}"))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|_| format!("{ca_file} is not PEM certificates"))?;
    if certs.is_empty() {
        return Err(format!("{ca_file} holds no certificate"));
    }
    Ok(certs)
}

/// A provider client that also trusts the PEM certificates in `ca_file`.
pub fn http_client_trusting(ca_file: &str) -> Result<reqwest::Client, String> {
    let mut b = client_builder();
    for c in read_ca_file(ca_file)? {
        b = b.add_root_certificate(c);
    }
    b.build()
        .map_err(|e| format!("cannot build a client trusting {ca_file}: {e}"))
}

pub(crate) fn client_builder() -> reqwest::ClientBuilder {
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

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Sends a request and reads a bounded JSON object answer.
async fn send_json(
    req: reqwest::RequestBuilder,
) -> Result<(u16, Option<Value>), ProviderErrorKind> {
    let (status, json) = send_any_json(req).await?;
    Ok((status, json.filter(Value::is_object)))
}

/// Sends a request and reads a bounded JSON answer of any shape.
async fn send_any_json(
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
