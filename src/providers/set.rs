//! The configured providers as one tower service: a token goes where its
//! [`Route`] says, and the answer becomes a [`Verdict`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use serde_json::{Map, Value};

use super::answer::{Answer, ProviderError, ProviderErrorKind};
use super::client::ProviderClient;
use super::health::Condition;
use super::http::{client_builder, http_client, http_client_trusting};
use super::mapping::map_claims;
use super::route::{Route, Router};
use crate::config::Config;
use crate::core::budget::ProviderGate;
use crate::core::clock::unix_now;
use crate::core::principal::{Refusal, Verdict};
use crate::core::token::Token;
use crate::telemetry::metrics::Metrics;

/// The configured providers and their routing table.
#[derive(Debug, Clone)]
pub struct ProviderSet {
    router: Arc<Router>,
    /// The provider ceilings (`[limits.providers]`) a call passes first.
    gate: Option<Arc<dyn ProviderGate>>,
}

// === impl ProviderSet ===

impl ProviderSet {
    /// Builds the clients for a config, with metrics of their own (CLI tools).
    pub fn new(config: &Config) -> Self {
        Self::with_metrics(config, Metrics::new())
    }

    /// Builds the clients for a config, recording into `metrics`. Nothing is
    /// fetched: metadata and keys are fetched when a token first needs them.
    pub fn with_metrics(config: &Config, metrics: Arc<Metrics>) -> Self {
        let shared = http_client();
        let all: Vec<Arc<ProviderClient>> = config
            .providers
            .values()
            .map(|p| {
                let http = match p.ca_file.as_deref() {
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
                };
                Arc::new(ProviderClient::new(p.clone(), http, metrics.clone()))
            })
            .collect();
        let ordered: Vec<_> = config
            .auth
            .providers
            .iter()
            .filter_map(|name| all.iter().find(|c| c.name() == name).cloned())
            .collect();
        ProviderSet {
            router: Arc::new(Router::new(all, &ordered)),
            gate: None,
        }
    }

    /// The same providers, each call passing `gate` first.
    pub fn with_gate(&self, gate: Option<Arc<dyn ProviderGate>>) -> Self {
        ProviderSet {
            router: self.router.clone(),
            gate,
        }
    }

    /// Where a token goes, decided before any provider call.
    pub fn route(&self, token: &Token) -> Route<'_> {
        self.router.route(token.expose())
    }

    /// The routing table, for `restgate check`.
    pub fn describe_routing(&self) -> String {
        self.router.describe()
    }

    /// A provider by name.
    pub fn get(&self, name: &str) -> Option<&Arc<ProviderClient>> {
        self.router.all().iter().find(|c| c.name() == name)
    }

    /// Every provider's `/status` entry, by name.
    pub fn status(&self) -> Value {
        let map: Map<String, Value> = self
            .router
            .all()
            .iter()
            .map(|c| (c.name().to_owned(), c.status()))
            .collect();
        Value::Object(map)
    }

    /// Whether a provider can serve: none is configured, or one is not down.
    /// One provider's outage never makes the gateway unready.
    pub fn any_can_serve(&self) -> bool {
        let all = self.router.all();
        all.is_empty() || all.iter().any(|c| c.condition() != Condition::Down)
    }

    /// Validates a token with the provider(s) its route names. Only a
    /// provider that was asked can turn the answer into a failure.
    pub async fn validate(&self, token: Token) -> Result<Verdict, ProviderError> {
        self.validate_seen(&token, &mut |_, _| {}).await
    }

    /// [`validate`](Self::validate), telling `seen` each provider's raw
    /// answer as it comes (`test-token` shows them).
    pub async fn validate_seen(
        &self,
        token: &Token,
        seen: &mut Seen<'_>,
    ) -> Result<Verdict, ProviderError> {
        let gate = self.gate.as_deref();
        match self.route(token) {
            Route::Issuer { provider, .. } | Route::Prefix { provider, .. } => {
                gated(gate, provider, token, seen).await
            }
            Route::UnknownIssuer {
                iss,
                discovered,
                issuerless,
            } => {
                let mut failure = None;
                for c in discovered {
                    match c.discovered_issuer().await {
                        Ok(found) if found.is_some() && found == iss => {
                            return gated(gate, c, token, seen).await;
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(provider = %c.name(), error = %e, "Could not learn the provider's issuer");
                            failure.get_or_insert(e);
                        }
                    }
                }
                // Fail closed: it may have been that provider's token.
                match failure {
                    Some(e) => Err(e),
                    None => first_active(gate, issuerless, token, seen).await,
                }
            }
            Route::Opaque { providers } => first_active(gate, providers, token, seen).await,
        }
    }
}

/// Told each provider's raw answer as it comes.
pub type Seen<'a> = dyn FnMut(&ProviderClient, &Result<Answer, ProviderError>) + Send + 'a;

/// Asks one provider and maps its answer.
pub async fn ask(
    client: &ProviderClient,
    token: &Token,
    seen: &mut Seen<'_>,
) -> Result<Verdict, ProviderError> {
    let answer = client.check(token).await;
    seen(client, &answer);
    let answer = answer?;
    Ok(match answer.refusal {
        Some(r) => Verdict::Refused(r),
        None => map_claims(&client.config, &answer.claims, unix_now()),
    })
}

/// [`ask`] after the provider's ceiling admits the call; over it, the
/// provider is not asked and the answer is `RateLimited`.
async fn gated(
    gate: Option<&dyn ProviderGate>,
    client: &ProviderClient,
    token: &Token,
    seen: &mut Seen<'_>,
) -> Result<Verdict, ProviderError> {
    if let Some(gate) = gate {
        gate.admit(client.name()).await.map_err(|l| {
            ProviderError::new(&client.config.name, ProviderErrorKind::RateLimited(l))
        })?;
    }
    ask(client, token, seen).await
}

/// Asks `providers` in order until one says active. If none does and one
/// failed, the failure is the answer (fail closed: it might have been that
/// provider's token); with none to ask, the token is no provider's.
async fn first_active(
    gate: Option<&dyn ProviderGate>,
    providers: &[Arc<ProviderClient>],
    token: &Token,
    seen: &mut Seen<'_>,
) -> Result<Verdict, ProviderError> {
    if providers.is_empty() {
        return Ok(Verdict::Refused(Refusal::NoProvider));
    }
    let mut failure = None;
    let mut refusal = Refusal::Inactive;
    for client in providers {
        match gated(gate, client, token, seen).await {
            Ok(Verdict::Active(p)) => return Ok(Verdict::Active(p)),
            Ok(Verdict::Refused(r)) => {
                // A mapping refusal says more than "inactive" elsewhere.
                if r != Refusal::Inactive {
                    refusal = r;
                }
            }
            Err(e) => {
                if e.limited().is_none() {
                    tracing::warn!(provider = %client.name(), error = %e, "Provider call failed");
                }
                failure.get_or_insert(e);
            }
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(Verdict::Refused(refusal)),
    }
}

impl tower_service::Service<Token> for ProviderSet {
    type Response = Verdict;
    type Error = ProviderError;
    type Future = Pin<Box<dyn Future<Output = Result<Verdict, ProviderError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Per-provider limits live in each provider's own slots.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, token: Token) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { this.validate(token).await })
    }
}
