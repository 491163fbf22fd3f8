//! The outermost layer: request ids, one access line per request, and the
//! requests metric. The layers below leave a [`RequestNote`] in the response's
//! extensions saying what happened.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::{HeaderValue, Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::telemetry::metrics::Metrics;
pub use crate::telemetry::note::{REQUEST_ID, RequestNote};
use crate::telemetry::recent::{Decision, Recent};

/// Layer for [`AccessLog`].
#[derive(Clone)]
pub struct AccessLayer {
    /// Where the requests metric goes.
    pub metrics: Arc<Metrics>,
}

impl<S> Layer<S> for AccessLayer {
    type Service = AccessLog<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AccessLog {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// Request ids and access lines.
#[derive(Clone)]
pub struct AccessLog<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S, B, RB> Service<Request<B>> for AccessLog<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
    S::Future: Send + 'static,
    RB: Send + 'static,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<RB>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let started = Instant::now();
        let id = match req.headers().get(&REQUEST_ID).filter(|v| is_sane(v)) {
            Some(v) => v.clone(),
            None => {
                let id = new_id();
                req.headers_mut().insert(REQUEST_ID.clone(), id.clone());
                id
            }
        };
        let method = req.method().clone();
        // Logged as the path only: a query string may carry anything. A clone
        // of the URI shares its bytes; copying the path would allocate.
        let uri = req.uri().clone();
        let fut = self.inner.call(req);
        let metrics = self.metrics.clone();
        Box::pin(async move {
            let mut res = fut.await?;
            res.headers_mut().insert(REQUEST_ID.clone(), id.clone());
            let note = res
                .extensions_mut()
                .remove::<RequestNote>()
                .unwrap_or_default();
            let outcome = if note.outcome.is_empty() {
                "passed"
            } else {
                note.outcome
            };
            let status = res.status().as_u16();
            metrics.request(outcome, status);
            let at = std::time::SystemTime::now();
            if outcome == "passed" {
                metrics.recent.count(outcome, at);
            } else {
                metrics.recent.request(Decision {
                    at,
                    request_id: id.to_str().unwrap_or_default().into(),
                    method: method.clone(),
                    path: Recent::clip(uri.path()),
                    status,
                    outcome,
                    reason: note.reason,
                    principal: note.principal.clone(),
                    cache: note.cache,
                });
            }
            tracing::info!(
                target: "restgate::access",
                request_id = id.to_str().unwrap_or_default(),
                method = %method,
                path = uri.path(),
                status,
                outcome,
                reason = note.reason,
                user = note.principal.as_ref().map_or("-", |p| p.user.as_str()),
                provider = note.principal.as_ref().map_or("-", |p| &*p.provider),
                cache = note.cache.unwrap_or("-"),
                upstream_ms = note.upstream.map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0),
                total_ms = started.elapsed().as_secs_f64() * 1000.0,
                "Request"
            );
            Ok(res)
        })
    }
}

/// 1 to 128 visible ASCII characters: anything else is replaced.
fn is_sane(v: &HeaderValue) -> bool {
    let b = v.as_bytes();
    !b.is_empty() && b.len() <= 128 && b.iter().all(|c| c.is_ascii_graphic())
}

fn new_id() -> HeaderValue {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes: [u8; 16] = rand::random();
    let mut text = [0u8; 32];
    for (i, b) in bytes.iter().enumerate() {
        text[2 * i] = HEX[usize::from(b >> 4)];
        text[2 * i + 1] = HEX[usize::from(b & 0xf)];
    }
    HeaderValue::from_bytes(&text).expect("hex is a header value")
}
