//! Forwarding to the upstream: a pooled client, bodies streamed both ways,
//! upgrades (WebSocket) tunnelled, failures classified as 502 / 504.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::header::{self, HeaderValue};
use http::uri::{PathAndQuery, Scheme};
use http::{Request, Response, StatusCode, Uri, Version};
use http_body_util::Either;
use hyper_util::rt::TokioIo;
use tower_service::Service;

use super::handoff::IdentityHandoff;
use super::headers::{
    add_via, passed_here, remove_hop_by_hop, restore_upgrade, set_forwarded, upgrade_protocol,
};
use super::upstream::{self, Upstream};
use super::upstream::{Body, RequestBody};
use crate::config::Config;
use crate::core::error::GatewayError;
use crate::core::principal::Handoff;
use crate::telemetry::metrics::Metrics;
use crate::telemetry::note::RequestNote;

/// The client connection a request came on, put in request extensions by the
/// server: made once per connection, cloned per request.
#[derive(Debug, Clone)]
pub struct Peer {
    /// The client's IP as `X-Forwarded-For` names it.
    pub ip: HeaderValue,
    /// The same address, for the client's budget.
    pub addr: std::net::IpAddr,
    /// The connection is TLS (`X-Forwarded-Proto: https`).
    pub tls: bool,
}

impl Peer {
    pub fn new(addr: SocketAddr, tls: bool) -> Peer {
        let addr = addr.ip().to_canonical();
        Peer {
            ip: HeaderValue::from_str(&addr.to_string()).expect("an IP address is a header value"),
            addr,
            tls,
        }
    }
}

/// The forwarding service at the bottom of the stack.
#[derive(Clone)]
pub struct Proxy {
    inner: Arc<Inner>,
}

struct Inner {
    upstream: Arc<Upstream>,
    /// `Host` for a request that came without one (HTTP/1.0).
    authority: HeaderValue,
    response_timeout: Duration,
    handoff: IdentityHandoff,
    metrics: Arc<Metrics>,
}

// === impl Proxy ===

impl Proxy {
    /// A proxy to `upstream.url` with a keep-alive connection pool.
    pub fn new(config: &Config, metrics: Arc<Metrics>) -> Self {
        let up = &config.upstream;
        let authority = up
            .url
            .authority()
            .expect("validated: upstream.url has a host");
        let target = Uri::builder()
            .scheme(up.url.scheme().cloned().unwrap_or(Scheme::HTTP))
            .authority(authority.clone())
            .path_and_query("/")
            .build()
            .expect("scheme and authority from a valid URI");
        let authority =
            HeaderValue::from_str(authority.as_str()).expect("an authority is a header value");
        Proxy {
            inner: Arc::new(Inner {
                upstream: Upstream::new(
                    upstream::connector(up.tls.as_deref(), up.connect_timeout),
                    target,
                    256,
                    Duration::from_secs(60),
                    config.server.fast_http1,
                ),
                authority,
                response_timeout: up.response_timeout,
                handoff: IdentityHandoff::new(config),
                metrics,
            }),
        }
    }
}

impl Service<Request<RequestBody>> for Proxy {
    type Response = Response<Body>;
    type Error = GatewayError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, GatewayError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // The pool waits for a connection inside `call`.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<RequestBody>) -> Self::Future {
        let inner = self.inner.clone();
        Box::pin(async move { inner.forward(req).await })
    }
}

// === impl Inner ===

impl Inner {
    async fn forward(&self, mut req: Request<RequestBody>) -> Result<Response<Body>, GatewayError> {
        let handoff = req
            .extensions_mut()
            .remove::<Handoff>()
            .unwrap_or(Handoff::Untouched);
        let peer = req.extensions_mut().remove::<Peer>();
        let proto = if peer.as_ref().is_some_and(|p| p.tls) {
            "https"
        } else {
            "http"
        };
        if passed_here(req.headers()) {
            // Logged once: a loop repeats itself at every request.
            static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
            if !SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
                tracing::error!(
                    "Proxy loop: a request came back through this restgate; upstream.url points at restgate itself (508 until fixed)"
                );
            }
            return Err(GatewayError::LoopDetected);
        }
        let upgrade = upgrade_protocol(req.headers());
        let client_upgrade = upgrade.is_some().then(|| hyper::upgrade::on(&mut req));

        let (mut parts, body) = req.into_parts();
        // HTTP/2 carries the host in `:authority`; the upstream speaks HTTP/1.1.
        if !parts.headers.contains_key(header::HOST) {
            let host = parts
                .uri
                .authority()
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
                .unwrap_or_else(|| self.authority.clone());
            parts.headers.insert(header::HOST, host);
        }
        // The upstream gets the origin form (`/path?query`), which an HTTP/1.1
        // request line mostly has already.
        if parts.uri.scheme().is_some() || parts.uri.authority().is_some() {
            parts.uri = Uri::from(
                parts
                    .uri
                    .path_and_query()
                    .cloned()
                    .unwrap_or_else(|| PathAndQuery::from_static("/")),
            );
        }
        parts.version = Version::HTTP_11;
        remove_hop_by_hop(&mut parts.headers);
        if let Some(p) = &upgrade {
            restore_upgrade(&mut parts.headers, p.clone());
        }
        set_forwarded(&mut parts.headers, peer.map(|p| p.ip), proto);
        add_via(&mut parts.headers);
        let body = self.handoff.apply(&mut parts, body, &handoff).await?;

        let started = std::time::Instant::now();
        let deadline = tokio::time::Instant::from_std(started) + self.response_timeout;
        let sent = self
            .upstream
            .send(Request::from_parts(parts, body), deadline);
        let mut res = match sent.await {
            Err(upstream::UpstreamError::Timeout) => return Err(GatewayError::UpstreamTimeout),
            Err(e) => return Err(GatewayError::UpstreamUnreachable(Box::new(e))),
            Ok(res) => res,
        };
        let took = started.elapsed();
        self.metrics.upstream_latency.observe(took.as_secs_f64());
        // Before anything of the response reaches the client (or a tunnel opens).
        self.handoff.check_response(res.headers_mut(), &handoff)?;

        let res_upgrade = upgrade_protocol(res.headers());
        if res.status() == StatusCode::SWITCHING_PROTOCOLS {
            match (client_upgrade, &res_upgrade) {
                (Some(client), Some(_)) => tunnel(client, hyper::upgrade::on(&mut res)),
                _ => {
                    return Err(GatewayError::UpstreamUnreachable(
                        "upstream switched protocols unasked".into(),
                    ));
                }
            }
        }
        let (mut parts, body) = res.into_parts();
        // Also drops a Content-Length that Transfer-Encoding overrode.
        remove_hop_by_hop(&mut parts.headers);
        if let (StatusCode::SWITCHING_PROTOCOLS, Some(p)) = (parts.status, res_upgrade) {
            restore_upgrade(&mut parts.headers, p);
        }
        parts
            .extensions
            .get_or_insert_default::<RequestNote>()
            .upstream = Some(took);
        Ok(Response::from_parts(parts, Either::Left(body)))
    }
}

/// Copies bytes both ways between the upgraded client and upstream connections.
fn tunnel(client: hyper::upgrade::OnUpgrade, upstream: hyper::upgrade::OnUpgrade) {
    tokio::spawn(async move {
        let (client, upstream) = match tokio::join!(client, upstream) {
            (Ok(c), Ok(u)) => (c, u),
            (c, u) => {
                tracing::debug!(
                    client_ok = c.is_ok(),
                    upstream_ok = u.is_ok(),
                    "Upgrade failed"
                );
                return;
            }
        };
        let (mut c, mut u) = (TokioIo::new(client), TokioIo::new(upstream));
        match tokio::io::copy_bidirectional(&mut c, &mut u).await {
            Ok((up, down)) => tracing::debug!(up, down, "Upgraded connection closed"),
            Err(e) => tracing::debug!(error = %e, "Upgraded connection ended with an error"),
        }
    });
}
