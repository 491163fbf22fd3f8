//! The error boundary: the one place a [`GatewayError`] becomes the response
//! the client sees (SPEC §2), its cause chain logged.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use http_body_util::Either;
use tower_layer::Layer;
use tower_service::Service;

use super::access::RequestNote;
use crate::core::error::GatewayError;
use crate::proxy::{Body, RequestBody};

/// Layer for [`ErrorBoundary`].
#[derive(Clone)]
pub struct ErrorBoundaryLayer {
    /// `realm` of `WWW-Authenticate`.
    pub realm: Arc<str>,
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
                let principal = match &e {
                    GatewayError::Acting { user, .. } => Some(user.clone()),
                    _ => None,
                };
                let mut res = e.into_response(this.realm).map(Either::Right);
                let note = res.extensions_mut().get_or_insert_default::<RequestNote>();
                note.outcome = outcome;
                note.reason = reason;
                note.principal = principal;
                res
            }
        }))
    }
}

fn log_error(e: &GatewayError) {
    let chain = cause_chain(e);
    let status = e.status().as_u16();
    if status >= 500 {
        tracing::warn!(status, reason = e.reason(), error = %chain, "Request failed");
    } else {
        tracing::debug!(status, reason = e.reason(), error = %chain, "Request refused");
    }
}

/// The error and its causes, `: `-separated; a wrapped error's own.
fn cause_chain(e: &GatewayError) -> String {
    let e = match e {
        GatewayError::Acting { error, .. } => &**error,
        e => e,
    };
    let mut chain = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        source = s.source();
    }
    chain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_met_as_a_user_keeps_its_causes_in_the_log() {
        let cause = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "tcp connect error");
        let plain = GatewayError::UpstreamUnreachable(Box::new(cause));
        let expected = cause_chain(&plain);
        assert!(expected.ends_with(": tcp connect error"), "{expected}");
        let user = std::sync::Arc::new(crate::core::principal::Principal {
            user: "alice".into(),
            email: None,
            provider: "idp".into(),
            client_id: None,
            client_credentials: false,
            scopes: Vec::new(),
            audiences: Vec::new(),
            exp: None,
        });
        let wrapped = GatewayError::acting(user, plain);
        assert_eq!(cause_chain(&wrapped), expected);
    }
}
