//! The whole request stack, built in one function, outermost layer first.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use http_body_util::Either;
use tower::ServiceBuilder;
use tower_layer::Layer;
use tower_service::Service;

use crate::access::{AccessLayer, AccessLog, RequestNote};
use crate::auth::cache::CacheLayer;
use crate::auth::{AuthLayer, AuthService, GatewayError};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::providers::ProviderSet;
use crate::proxy::{Proxy, Spoofable};
use crate::{Body, RequestBody};

/// The service a connection serves.
pub type GatewayService = AccessLog<StripSpoofed<ErrorBoundary<AuthService<Proxy>>>>;

/// The built stack and the handles an operator needs.
#[derive(Clone)]
pub struct Gateway {
    /// The request service.
    pub service: GatewayService,
    /// The validation cache (for eviction).
    pub cache: CacheLayer,
    /// The provider clients (for prefetching metadata).
    pub providers: ProviderSet,
    /// Every metric series.
    pub metrics: Arc<Metrics>,
    /// The config it was built from.
    pub config: Arc<Config>,
}

/// Builds the gateway for a config.
pub fn build(config: Arc<Config>) -> Gateway {
    rebuild(config, None)
}

/// Builds the gateway for a reloaded config, keeping what did not change: the
/// metrics always; the provider clients (key caches, discovery documents) when
/// no provider changed; the validation cache when its settings did not
/// change, less the entries a changed provider or provider order may judge
/// differently now.
pub fn rebuild(config: Arc<Config>, previous: Option<&Gateway>) -> Gateway {
    let metrics = previous
        .map(|g| g.metrics.clone())
        .unwrap_or_else(Metrics::new);
    let old = previous.map(|g| &*g.config);
    let same_order = old.is_some_and(|o| o.auth.providers == config.auth.providers);
    let changed: Vec<String> = match old {
        None => Vec::new(),
        Some(o) => o
            .providers
            .keys()
            .chain(config.providers.keys())
            .filter(|n| o.providers.get(*n) != config.providers.get(*n))
            .cloned()
            .collect(),
    };
    let providers = match previous {
        Some(g) if changed.is_empty() && same_order => g.providers.clone(),
        _ => ProviderSet::with_metrics(&config, metrics.clone()),
    };
    let cache = match (previous, old) {
        (Some(g), Some(o)) if o.cache == config.cache => {
            g.cache
                .evict_for_reload(&changed, !(changed.is_empty() && same_order));
            g.cache.clone()
        }
        _ => CacheLayer::with_metrics(&config.cache, metrics.clone()),
    };
    let mut spoofable = vec![&config.upstream.identity_header];
    spoofable.extend(config.upstream.email_header.as_ref());
    spoofable.extend(config.upstream.shared_secret.as_ref().map(|(h, _)| h));
    let service = ServiceBuilder::new()
        // 0. Outermost, so every answer (refusals included) gets a request id,
        //    an access line and a count.
        .layer(AccessLayer {
            metrics: metrics.clone(),
        })
        // 1. Before anything else, on every route and every outcome: no client
        //    may bring its own identity (SPEC §1 step 1).
        .layer(StripLayer {
            spoofable: Arc::new(Spoofable::new(spoofable)),
        })
        // 2. The one place errors become responses, so every refusal below has
        //    the SPEC §2 shape and passed through the strip above.
        .layer(ErrorBoundaryLayer {
            realm: Arc::from(config.auth.realm.as_str()),
        })
        // 3. Canonicalise, route, classify, validate (cached), map, check
        //    requirements; the decision travels as a request extension.
        .layer(AuthLayer::new(
            &config,
            providers.clone(),
            cache.clone(),
            metrics.clone(),
        ))
        // 4. Forward with the hand-off the decision asks for.
        .service(Proxy::new(&config, metrics.clone()));
    Gateway {
        service,
        cache,
        providers,
        metrics,
        config,
    }
}

/// Layer for [`StripSpoofed`].
#[derive(Clone)]
pub struct StripLayer {
    spoofable: Arc<Spoofable>,
}

impl<S> Layer<S> for StripLayer {
    type Service = StripSpoofed<S>;

    fn layer(&self, inner: S) -> Self::Service {
        StripSpoofed {
            inner,
            spoofable: self.spoofable.clone(),
        }
    }
}

/// Removes spoofable identity headers. Header-only: returns the inner future.
#[derive(Clone)]
pub struct StripSpoofed<S> {
    inner: S,
    spoofable: Arc<Spoofable>,
}

// === impl StripSpoofed ===

impl<S, B> Service<Request<B>> for StripSpoofed<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        self.spoofable.strip(req.headers_mut());
        self.inner.call(req)
    }
}

/// Layer for [`ErrorBoundary`].
#[derive(Clone)]
pub struct ErrorBoundaryLayer {
    realm: Arc<str>,
}

impl<S> Layer<S> for ErrorBoundaryLayer {
    type Service = ErrorBoundary<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ErrorBoundary {
            inner,
            realm: self.realm.clone(),
        }
    }
}

/// Turns [`GatewayError`]s into SPEC §2 responses, logging the cause chain.
#[derive(Clone)]
pub struct ErrorBoundary<S> {
    inner: S,
    realm: Arc<str>,
}

// === impl ErrorBoundary ===

impl<S> Service<Request<RequestBody>> for ErrorBoundary<S>
where
    S: Service<Request<RequestBody>, Response = Response<Body>, Error = GatewayError>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = ErrorFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // The services below are always ready; an error here would be a bug.
        match ready!(self.inner.poll_ready(cx)) {
            Ok(()) => Poll::Ready(Ok(())),
            Err(e) => {
                tracing::error!(error = %e, "Service not ready");
                Poll::Ready(Ok(()))
            }
        }
    }

    fn call(&mut self, req: Request<RequestBody>) -> Self::Future {
        ErrorFuture {
            inner: self.inner.call(req),
            realm: self.realm.clone(),
        }
    }
}

pin_project_lite::pin_project! {
    /// Future of [`ErrorBoundary`].
    pub struct ErrorFuture<F> {
        #[pin]
        inner: F,
        realm: Arc<str>,
    }
}

impl<F> Future for ErrorFuture<F>
where
    F: Future<Output = Result<Response<Body>, GatewayError>>,
{
    type Output = Result<Response<Body>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        Poll::Ready(Ok(match ready!(this.inner.poll(cx)) {
            Ok(res) => res,
            Err(e) => {
                log_error(&e);
                let outcome = if e.status().is_server_error() {
                    "error"
                } else {
                    "refused"
                };
                let reason = e.reason();
                let mut res = e.into_response(this.realm).map(Either::Right);
                let note = res.extensions_mut().get_or_insert_default::<RequestNote>();
                note.outcome = outcome;
                note.reason = reason;
                res
            }
        }))
    }
}

fn log_error(e: &GatewayError) {
    let mut chain = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        source = s.source();
    }
    let status = e.status().as_u16();
    if status >= 500 {
        tracing::warn!(status, reason = e.reason(), error = %chain, "Request failed");
    } else {
        tracing::debug!(status, reason = e.reason(), error = %chain, "Request refused");
    }
}
