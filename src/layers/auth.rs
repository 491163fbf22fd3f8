//! The authentication layer: SPEC §1 steps 2–6 as one tower service.
//!
//! It decides; it does not touch identity headers. Its decision travels to the
//! proxy as a [`Handoff`] request extension, and the proxy is the one place that
//! sets identity (after the strip layer removed any the client sent).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderMap, Method, Request, Uri};
use tower_layer::Layer;
use tower_service::Service;

use crate::auth::api_key::{ApiKeys, KeyRefusal};
use crate::auth::budget::Budgets;
use crate::auth::cache::{Admission, CacheLayer, CachedValidator, Source};
use crate::auth::client_addr::client_ip;
use crate::auth::credential::{Classifier, Credential, class_name};
use crate::auth::directory::DirectoryClient;
use crate::auth::route::RouteTable;
use crate::config::{Config, PassOrReject, Route};
use crate::core::clock::unix_now;
use crate::core::error::GatewayError;
use crate::core::path::canonicalize;
use crate::core::principal::{Handoff, Principal, Verdict};
use crate::core::token::Token;
use crate::providers::ProviderSet;
use crate::proxy::forward::Peer;
use crate::telemetry::metrics::Metrics;
use crate::telemetry::note::{REQUEST_ID, RequestNote};

/// Everything the layer needs, built once per config.
pub struct AuthState {
    metrics: Arc<Metrics>,
    enabled: bool,
    routes: RouteTable,
    classifier: Classifier,
    native: PassOrReject,
    unknown_bearer: PassOrReject,
    validator: CachedValidator<ProviderSet>,
    api_keys: ApiKeys,
    directory: DirectoryClient,
    /// The budgets of provider calls, with `[limits]`.
    budgets: Option<Arc<Budgets>>,
    /// Peers whose `X-Forwarded-For` names the client.
    trusted_proxies: Vec<ipnet::IpNet>,
}

/// Builds [`AuthService`]s.
#[derive(Clone)]
pub struct AuthLayer {
    state: Arc<AuthState>,
}

// === impl AuthLayer ===

impl AuthLayer {
    /// The layer for a config, with its provider clients and cache.
    pub fn new(
        config: &Config,
        providers: ProviderSet,
        cache: CacheLayer,
        metrics: Arc<Metrics>,
        budgets: Option<Arc<Budgets>>,
    ) -> Self {
        let state = AuthState {
            budgets,
            trusted_proxies: config.server.trusted_proxies.clone(),
            metrics,
            enabled: config.auth.enabled,
            routes: RouteTable::new(&config.routes, &config.auth.protected_paths),
            classifier: Classifier {
                api_key_prefix: config.auth.api_key_prefix.clone(),
                api_key_header: config.auth.api_key_header.clone(),
                session_cookies: config.auth.session_cookies.clone(),
            },
            native: config.auth.native,
            unknown_bearer: config.auth.unknown_bearer,
            validator: cache.layer(providers),
            api_keys: ApiKeys::new(&config.api_keys),
            directory: DirectoryClient::new(&config.directory, &config.cache),
        };
        AuthLayer {
            state: Arc::new(state),
        }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            state: self.state.clone(),
        }
    }
}

/// The authentication service in front of the proxy.
#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    state: Arc<AuthState>,
}

// === impl AuthService ===

impl<S, B, RB> Service<Request<B>> for AuthService<S>
where
    S: Service<Request<B>, Response = http::Response<RB>, Error = GatewayError>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    RB: Send + 'static,
{
    type Response = http::Response<RB>;
    type Error = GatewayError;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<RB>, GatewayError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let state = self.state.clone();
        Box::pin(async move {
            let mut cache = None;
            let decided = match state.begin(req.method(), req.uri(), req.headers()) {
                Ok(next) => {
                    state
                        .finish(next, &mut cache, req.extensions(), req.headers())
                        .await
                }
                Err(e) => Err(e),
            };
            state.audit(&decided, cache, req.headers());
            let handoff = decided?;
            let (outcome, principal) = match &handoff {
                Handoff::Asserted(p) => ("authenticated", Some(p.clone())),
                Handoff::Untouched => ("passed", None),
            };
            req.extensions_mut().insert(handoff);
            let mut res = match inner.call(req).await {
                Ok(res) => res,
                Err(e) => {
                    return Err(match &principal {
                        Some(p) => GatewayError::acting(p.clone(), e),
                        None => e,
                    });
                }
            };
            let note = res.extensions_mut().get_or_insert_default::<RequestNote>();
            note.outcome = outcome;
            note.principal = principal;
            note.cache = cache.map(Source::as_str);
            Ok(res)
        })
    }
}

// === impl AuthState ===

impl AuthState {
    /// The decision metric and the audit event of one request. An acceptance
    /// answered from the cache reuses a decision already audited when it was
    /// made: its event is at debug level (the access line still names the user,
    /// the provider and `cache=hit`). Refusals are always audited.
    fn audit(
        &self,
        decided: &Result<Handoff, GatewayError>,
        cache: Option<Source>,
        headers: &HeaderMap,
    ) {
        // Looked up only for an event that is logged: a cache hit's is at
        // debug level, usually off.
        let request_id = || {
            headers
                .get(&REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
        };
        match decided {
            Ok(Handoff::Asserted(p)) => {
                self.metrics.decision(&p.provider, "accepted", "ok");
                if let Some(reused @ (Source::Hit | Source::Coalesced)) = cache {
                    tracing::debug!(target: "restgate::audit", request_id = request_id(), user = %p.user, provider = %p.provider,
                        client_credentials = p.client_credentials, cache = reused.as_str(), "Authenticated");
                } else {
                    tracing::info!(target: "restgate::audit", request_id = request_id(), user = %p.user, provider = %p.provider,
                        client_credentials = p.client_credentials, "Authenticated");
                }
            }
            Ok(Handoff::Untouched) => {}
            Err(e) => {
                let result = if e.status().is_server_error() {
                    "error"
                } else {
                    "refused"
                };
                self.metrics.decision("none", result, e.reason());
                tracing::info!(target: "restgate::audit", request_id = request_id(), status = e.status().as_u16(), reason = e.reason(), "Refused");
            }
        }
    }

    /// Steps 2–5 up to the provider call: everything that reads the request.
    fn begin(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Result<Next<'_>, GatewayError> {
        if !self.enabled {
            return Ok(Next::Done(Handoff::Untouched));
        }
        let segments = canonicalize(uri.path()).map_err(GatewayError::BadPath)?;
        let route = self.routes.lookup(method, &segments);
        let credential = self
            .classifier
            .classify(headers)
            .map_err(|e| GatewayError::MalformedCredential(Box::new(e)))?;
        tracing::trace!(credential = %class_name(&credential), protected = route.protected, "Classified");
        Ok(match credential {
            Credential::None if route.protected => return Err(GatewayError::MissingCredential),
            Credential::Native(_) if route.protected && self.native == PassOrReject::Reject => {
                return Err(GatewayError::NativeRefused);
            }
            Credential::None | Credential::Native(_) => Next::Done(Handoff::Untouched),
            Credential::ApiKey { key, user } => {
                let principal = self
                    .api_keys
                    .verify(&key.0, user.as_deref(), unix_now())
                    .map_err(|r: KeyRefusal| {
                        tracing::debug!(reason = ?r, "API key refused");
                        GatewayError::InvalidApiKey
                    })?;
                Next::Resolve(principal, route.route)
            }
            Credential::Bearer(token) => Next::Validate(token, route.route),
        })
    }

    /// Steps 5–6 from the provider call on: validate, map, check the route.
    async fn finish(
        &self,
        next: Next<'_>,
        cache: &mut Option<Source>,
        extensions: &http::Extensions,
        headers: &HeaderMap,
    ) -> Result<Handoff, GatewayError> {
        let (principal, route) = match next {
            Next::Done(h) => return Ok(h),
            Next::Resolve(p, route) => (p, route),
            Next::Validate(token, route) => {
                // Asked for on a miss only: a hit reads no address.
                let admission = || {
                    let budgets = self.budgets.clone()?;
                    let peer = extensions.get::<Peer>()?.addr;
                    let client = client_ip(peer, headers, &self.trusted_proxies);
                    Some(Admission { budgets, client })
                };
                let lookup =
                    self.validator
                        .lookup_for(token, admission)
                        .await
                        .map_err(|e| match e.limited() {
                            Some(l) => GatewayError::RateLimited(l),
                            None => GatewayError::ProviderUnavailable(e),
                        })?;
                tracing::trace!(cache = lookup.source.as_str(), "Token looked up");
                *cache = Some(lookup.source);
                if lookup.source == Source::Stale {
                    tracing::info!("Serving a stale validation while the providers fail");
                }
                match lookup.verdict {
                    Verdict::Active(p) => (p, route),
                    Verdict::Refused(_) if self.unknown_bearer == PassOrReject::Pass => {
                        return Ok(Handoff::Untouched);
                    }
                    Verdict::Refused(r) => return Err(GatewayError::InvalidToken(r)),
                }
            }
        };
        let principal = self
            .directory
            .apply(principal)
            .await?
            .ok_or(GatewayError::UnknownUser)?;
        if let Some(route) = route {
            check_route(route, &principal)
                .map_err(|e| GatewayError::acting(principal.clone(), e))?;
        }
        Ok(Handoff::Asserted(principal))
    }
}

/// Where [`AuthState::begin`] left a request.
enum Next<'a> {
    /// Decided without a provider.
    Done(Handoff),
    /// An API key's principal, still to resolve and check.
    Resolve(Arc<Principal>, Option<&'a Route>),
    /// A token for the providers.
    Validate(Token, Option<&'a Route>),
}

/// SPEC §1 step 6: the route's requirements, checked on every request.
fn check_route(route: &Route, p: &Principal) -> Result<(), GatewayError> {
    if !route.allow_providers.is_empty()
        && !route.allow_providers.iter().any(|n| **n == *p.provider)
    {
        return Err(GatewayError::Forbidden("provider_not_allowed"));
    }
    if !route.require_audience.is_empty()
        && !p
            .audiences
            .iter()
            .any(|a| route.require_audience.contains(a))
    {
        return Err(GatewayError::Forbidden("audience_not_allowed"));
    }
    if !route.require_scopes.iter().all(|s| p.scopes.contains(s)) {
        return Err(GatewayError::InsufficientScope {
            required: route.require_scopes.join(" "),
        });
    }
    if !route.allow_users.is_empty() && !route.allow_users.contains(&p.user) {
        return Err(GatewayError::Forbidden("user_not_allowed"));
    }
    Ok(())
}
