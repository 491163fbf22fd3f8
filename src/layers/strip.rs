//! Strips every spoofable identity header from every request, first thing,
//! on every route and outcome (SPEC §1 step 1): no client can bring its own
//! identity to the upstream.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::Request;
use tower_layer::Layer;
use tower_service::Service;

use crate::core::headers::Spoofable;

/// Layer for [`StripSpoofed`].
#[derive(Clone)]
pub struct StripLayer {
    /// The names to strip.
    pub spoofable: Arc<Spoofable>,
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
