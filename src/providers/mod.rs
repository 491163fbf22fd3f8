//! Token validation by the providers: "who is this?", separate from HTTP serving.
//!
//! A provider takes a token and returns its raw answer, or a typed error. The
//! [`ProviderSet`] routes a token to the right provider(s) and maps the answer to
//! a [`Verdict`]; it is the tower service the cache layer wraps.

mod introspection;
pub mod jwt;
pub mod oidc;
mod userinfo;
mod vendor;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Once};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::auth::credential::Token;
use crate::auth::identity::{Refusal, Verdict, map_claims};
use crate::config::{Config, Provider, Validation};
use crate::metrics::Metrics;

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
    /// No provider is configured for this token.
    #[error("no provider is configured")]
    NoProvider,
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
            ProviderErrorKind::NoProvider => "no_provider",
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

/// One configured provider with its HTTP client.
pub struct ProviderClient {
    /// The provider's settings.
    pub config: Arc<Provider>,
    http: reqwest::Client,
    checker: Checker,
    metrics: Arc<Metrics>,
    /// `max_concurrent` calls at once, so a slow provider cannot hold every
    /// request of the gateway.
    slots: tokio::sync::Semaphore,
}

/// How a provider checks tokens, with the state that needs (key caches,
/// discovery).
enum Checker {
    Introspection,
    Userinfo,
    Jwt(Box<jwt::JwtValidator>),
    Oidc(Box<oidc::OidcClient>),
    Vendor,
}

impl std::fmt::Debug for ProviderClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderClient")
            .field("name", &self.config.name)
            .finish()
    }
}

// === impl ProviderClient ===

impl ProviderClient {
    /// The client for one provider.
    pub fn new(config: Arc<Provider>, http: reqwest::Client, metrics: Arc<Metrics>) -> Self {
        let checker = match &config.validation {
            Validation::Introspection { .. } => Checker::Introspection,
            Validation::Userinfo { .. } => Checker::Userinfo,
            Validation::Jwt(s) => Checker::Jwt(Box::new(jwt::JwtValidator::new(
                s,
                http.clone(),
                config.timeout,
            ))),
            Validation::Oidc(s) => Checker::Oidc(Box::new(oidc::OidcClient::new(
                s,
                http.clone(),
                config.timeout,
            ))),
            Validation::Vendor(_) => Checker::Vendor,
        };
        let slots = tokio::sync::Semaphore::new(config.max_concurrent);
        ProviderClient {
            config,
            http,
            checker,
            metrics,
            slots,
        }
    }

    /// Asks the provider about a token.
    pub async fn check(&self, token: &Token) -> Result<Answer, ProviderError> {
        let started = std::time::Instant::now();
        let Ok(Ok(_slot)) = tokio::time::timeout(self.config.timeout, self.slots.acquire()).await
        else {
            self.metrics
                .provider_call(&self.config.name, started.elapsed(), Some("overloaded"));
            return Err(ProviderError::new(
                &self.config.name,
                ProviderErrorKind::Overloaded,
            ));
        };
        let result = match (&self.checker, &self.config.validation) {
            (
                Checker::Introspection,
                Validation::Introspection {
                    endpoint,
                    client_auth,
                },
            ) => {
                introspection::check(&self.http, &self.config, endpoint, *client_auth, token).await
            }
            (Checker::Userinfo, Validation::Userinfo { endpoint }) => {
                userinfo::check(&self.http, &self.config, endpoint, token).await
            }
            (Checker::Jwt(jwt), _) => jwt.check(token.expose()).await,
            (Checker::Oidc(oidc), _) => oidc.check(&self.config, token).await,
            (Checker::Vendor, Validation::Vendor(v)) => {
                vendor::check(&self.http, &self.config, v, token).await
            }
            _ => unreachable!("the checker is built from the validation"),
        };
        let result = result.map_err(|kind| ProviderError::new(&self.config.name, kind));
        let error = result.as_ref().err().map(ProviderError::status_label);
        self.metrics
            .provider_call(&self.config.name, started.elapsed(), error);
        result
    }

    /// Asks the provider and maps its answer.
    pub async fn validate(&self, token: &Token) -> Result<Verdict, ProviderError> {
        let answer = self.check(token).await?;
        Ok(match answer.refusal {
            Some(r) => Verdict::Refused(r),
            None => map_claims(&self.config, &answer.claims, unix_now()),
        })
    }

    /// Whether this provider validates JWTs of this issuer (`tid`: Entra's
    /// tenant, for templated issuers).
    fn handles_issuer(&self, iss: &str, tid: Option<&str>) -> bool {
        match (&self.checker, &self.config.validation) {
            (Checker::Jwt(_), Validation::Jwt(s)) => {
                s.issuers.iter().any(|i| jwt::issuer_matches(i, iss, tid))
            }
            (Checker::Oidc(o), _) => o.handles_issuer(iss),
            _ => false,
        }
    }

    /// The token endpoint (configured, else discovered), for the
    /// client-credentials grant of `fetch-token`.
    pub async fn token_endpoint(&self) -> Result<Option<reqwest::Url>, ProviderError> {
        if let Some(u) = &self.config.token_endpoint {
            return Ok(Some(u.clone()));
        }
        match &self.checker {
            Checker::Oidc(o) => {
                let d = o
                    .discovered()
                    .await
                    .map_err(|kind| ProviderError::new(&self.config.name, kind))?;
                Ok(d.endpoints.token.clone())
            }
            _ => Ok(None),
        }
    }

    /// Fetches discovery documents and keys ahead of the first request.
    pub async fn prefetch(&self) -> Result<(), ProviderError> {
        let result = match &self.checker {
            Checker::Jwt(j) => j.prefetch().await,
            Checker::Oidc(o) => o.prefetch().await,
            Checker::Introspection | Checker::Userinfo | Checker::Vendor => Ok(()),
        };
        result.map_err(|kind| ProviderError::new(&self.config.name, kind))
    }
}

/// The configured providers, in the order tokens are tried.
#[derive(Debug, Clone)]
pub struct ProviderSet {
    inner: Arc<SetInner>,
}

#[derive(Debug)]
struct SetInner {
    /// `auth.providers` order.
    ordered: Vec<Arc<ProviderClient>>,
    /// Every provider, for prefix routing.
    all: Vec<Arc<ProviderClient>>,
}

// === impl ProviderSet ===

impl ProviderSet {
    /// Builds the clients for a config, with metrics of their own (CLI tools).
    pub fn new(config: &Config) -> Self {
        Self::with_metrics(config, Metrics::new())
    }

    /// Builds the clients for a config, recording into `metrics`.
    pub fn with_metrics(config: &Config, metrics: Arc<Metrics>) -> Self {
        let shared = http_client();
        let all: Vec<Arc<ProviderClient>> = config
            .providers
            .values()
            .map(|p| {
                Arc::new(ProviderClient::new(
                    p.clone(),
                    match p.ca_file.as_deref() {
                        None => shared.clone(),
                        Some(f) => http_client_trusting(f).unwrap_or_else(|e| {
                            // Validated at load; gone or changed since. Fail
                            // closed: trust nothing rather than more than asked.
                            tracing::error!(provider = %p.name, error = %e,
                                "ca_file unusable; this provider's HTTPS calls will fail");
                            client_builder()
                                .tls_certs_only([])
                                .build()
                                .expect("a client trusting nothing builds")
                        }),
                    },
                    metrics.clone(),
                ))
            })
            .collect();
        let ordered = config
            .auth
            .providers
            .iter()
            .filter_map(|name| all.iter().find(|c| &*c.config.name == name).cloned())
            .collect();
        ProviderSet {
            inner: Arc::new(SetInner { ordered, all }),
        }
    }

    /// The providers a token goes to: for a JWT, the provider of its `iss`;
    /// else the one whose prefix it carries; else all of `auth.providers` in
    /// order. A provider chosen by `iss` or prefix has the final word.
    pub fn candidates(&self, token: &Token) -> &[Arc<ProviderClient>] {
        let t = token.expose();
        let by_issuer = unverified_issuer(t).and_then(|(iss, tid)| {
            self.inner
                .all
                .iter()
                .position(|c| c.handles_issuer(&iss, tid.as_deref()))
        });
        let by_prefix = || {
            self.inner.all.iter().position(|c| {
                c.config
                    .token_prefixes
                    .iter()
                    .any(|p| t.starts_with(p.as_str()))
            })
        };
        match by_issuer.or_else(by_prefix) {
            Some(i) => std::slice::from_ref(&self.inner.all[i]),
            None => &self.inner.ordered,
        }
    }

    /// Fetches every provider's discovery document and keys, so that JWTs can
    /// be routed by issuer from the first request. Failures are logged; the
    /// request path fetches again.
    pub async fn prefetch(&self) {
        for client in &self.inner.all {
            if let Err(e) = client.prefetch().await {
                tracing::warn!(provider = %client.config.name, error = %e, "Could not prefetch provider metadata");
            }
        }
    }

    /// A provider by name.
    pub fn get(&self, name: &str) -> Option<&Arc<ProviderClient>> {
        self.inner.all.iter().find(|c| &*c.config.name == name)
    }

    /// Validates a token: the first provider that says active wins. If none does
    /// and one failed, the failure is the answer (fail closed: it might have
    /// been that provider's token).
    pub async fn validate(&self, token: Token) -> Result<Verdict, ProviderError> {
        let mut failure = None;
        let mut refusal = Refusal::Inactive;
        for client in self.candidates(&token) {
            match client.validate(&token).await {
                Ok(Verdict::Active(p)) => return Ok(Verdict::Active(p)),
                Ok(Verdict::Refused(r)) => {
                    // A mapping refusal says more than "inactive" elsewhere.
                    if r != Refusal::Inactive {
                        refusal = r;
                    }
                }
                Err(e) => {
                    tracing::warn!(provider = %client.config.name, error = %e, "Provider call failed");
                    failure.get_or_insert(e);
                }
            }
        }
        match failure {
            Some(e) => Err(e),
            None if self.candidates(&token).is_empty() => Err(ProviderError::new(
                &Arc::from("none"),
                ProviderErrorKind::NoProvider,
            )),
            None => Ok(Verdict::Refused(refusal)),
        }
    }
}

impl tower_service::Service<Token> for ProviderSet {
    type Response = Verdict;
    type Error = ProviderError;
    type Future = Pin<Box<dyn Future<Output = Result<Verdict, ProviderError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Per-provider limits live in the providers' HTTP client pools.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, token: Token) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { this.validate(token).await })
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

fn client_builder() -> reqwest::ClientBuilder {
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

/// The `iss` (and Entra's `tid`) of a JWT, read without verification, only to
/// choose the provider that will verify it.
fn unverified_issuer(token: &str) -> Option<(String, Option<String>)> {
    use base64::Engine;
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    let iss = claims.get("iss")?.as_str()?.to_owned();
    let tid = claims.get("tid").and_then(Value::as_str).map(str::to_owned);
    Some((iss, tid))
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
