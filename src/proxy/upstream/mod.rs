//! Keep-alive HTTP/1.1 connections to the upstream, on hyper's client
//! connection API.
//!
//! A connection goes back to the idle list when the response body it carried
//! has been read to its end (the body type below does that as it is dropped),
//! so no task waits per request for it to come back. The newest idle
//! connection is used first; connections idle past the idle timeout, closed by
//! the upstream or past the idle cap are dropped. A request that could not be
//! written on a reused connection (the upstream had just closed it) is sent
//! again on another one: it never reached the upstream.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body::{Body as _, Frame, SizeHint};
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder, MaybeHttpsStream};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower_service::Service;

pub use crate::http1::body::BoxError;

/// Response bodies: the upstream's, streamed, or one restgate wrote itself.
pub type Body = Either<UpstreamBody, Full<Bytes>>;

/// Request bodies as forwarded: the client's, streamed, or a form body read
/// to sign its parameters.
pub type RequestBody = Either<hyper::body::Incoming, Full<Bytes>>;

use crate::http1::{body::LeanBody, client};

mod fast;

/// The pool for one upstream.
pub struct Upstream {
    connector: HttpsConnector<HttpConnector>,
    /// Scheme and authority, for the connector.
    target: Uri,
    /// hyper's connections, for requests with a body and upgrades.
    idle: Mutex<Vec<Idle>>,
    /// The fast path's connections, for bodyless requests; `None` with the
    /// fast path off (`server.fast_http1 = false`): hyper takes everything.
    fast: Option<Mutex<Vec<client::Conn>>>,
    /// The cap of each idle list.
    max_idle: usize,
    idle_timeout: Duration,
}

struct Idle {
    sender: SendRequest<RequestBody>,
    since: Instant,
}

impl Idle {
    /// Closed by the upstream, or idle for the timeout: never used again.
    fn gone(&self, now: Instant, idle_timeout: Duration) -> bool {
        self.sender.is_closed() || now.duration_since(self.since) >= idle_timeout
    }
}

/// The connector for an upstream: plain TCP for `http://`, rustls with `tls`
/// for `https://` (without it, an `https://` upstream trusts nothing).
pub fn connector(
    tls: Option<&rustls::ClientConfig>,
    connect_timeout: Duration,
) -> HttpsConnector<HttpConnector> {
    let mut tcp = HttpConnector::new();
    tcp.set_connect_timeout(Some(connect_timeout));
    tcp.set_nodelay(true);
    tcp.set_keepalive(Some(Duration::from_secs(60)));
    // `https://` upstreams go through rustls; the TCP connector must then
    // accept non-http URIs.
    tcp.enforce_http(false);
    let tls = tls.cloned().unwrap_or_else(|| {
        // Never used for an http:// upstream, but the connector wants one.
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth()
    });
    HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp)
}

/// An upstream response body. When it has been read to its end, its
/// connection goes back to the pool as it is dropped.
pub struct UpstreamBody {
    kind: Kind,
}

enum Kind {
    Hyper {
        inner: Incoming,
        ended: bool,
        conn: Option<(Arc<Upstream>, SendRequest<RequestBody>)>,
    },
    Fast(LeanBody),
}

/// Why a request got no response.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("cannot connect to the upstream: {0}")]
    Connect(BoxError),
    #[error("the upstream connection failed: {0}")]
    Request(#[from] hyper::Error),
    #[error("the upstream connection failed: {0}")]
    Io(std::io::Error),
    #[error("the upstream's answer is not valid HTTP/1.1: {0}")]
    Malformed(&'static str),
    #[error("no response head from the upstream in time")]
    Timeout,
}

impl From<client::Error> for UpstreamError {
    fn from(e: client::Error) -> Self {
        match e {
            client::Error::Io(e) => UpstreamError::Io(e),
            client::Error::Malformed(what) => UpstreamError::Malformed(what),
        }
    }
}

// === impl Upstream ===

impl Upstream {
    /// A pool connecting with `connector` to `target` (scheme and authority);
    /// `fast`: bodyless exchanges take the fast path's client.
    pub fn new(
        connector: HttpsConnector<HttpConnector>,
        target: Uri,
        max_idle: usize,
        idle_timeout: Duration,
        fast: bool,
    ) -> Arc<Upstream> {
        let pool = Arc::new(Upstream {
            connector,
            target,
            idle: Mutex::new(Vec::new()),
            fast: fast.then(|| Mutex::new(Vec::new())),
            max_idle,
            idle_timeout,
        });
        // Without a runtime (a config check) there is nothing to sweep.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(sweep(Arc::downgrade(&pool)));
        }
        pool
    }

    /// Sends a request (origin-form URI, `Host` set) on an idle connection
    /// or a new one; [`UpstreamError::Timeout`] if its response head has not
    /// come by `deadline`.
    pub async fn send(
        self: &Arc<Self>,
        req: Request<RequestBody>,
        deadline: tokio::time::Instant,
    ) -> Result<Response<UpstreamBody>, UpstreamError> {
        // The fast path's client takes bodyless requests that ask for no
        // protocol switch, whichever way they came in: an HTTP/2 request
        // whose HEADERS frame ended the stream has an `Incoming` body already
        // at its end.
        if let Some(fast) = &self.fast {
            if req.body().is_end_stream() && !req.headers().contains_key(http::header::UPGRADE) {
                return self.send_fast(fast, req, deadline).await;
            }
        }
        // Boxed: hyper's exchange and handshake are kilobytes of future state
        // that the fast path would otherwise carry and move on every request.
        match tokio::time::timeout_at(deadline, Box::pin(self.send_hyper(req))).await {
            Ok(sent) => sent,
            Err(_) => Err(UpstreamError::Timeout),
        }
    }

    /// Through hyper's client: requests with a body, and upgrades.
    async fn send_hyper(
        self: &Arc<Self>,
        mut req: Request<RequestBody>,
    ) -> Result<Response<UpstreamBody>, UpstreamError> {
        // Each try takes a different idle connection, so this ends; a new
        // connection's error is final.
        loop {
            let (mut sender, reused) = match self.checkout() {
                Some(s) => (s, true),
                None => (self.connect().await?, false),
            };
            match sender.try_send_request(req).await {
                Ok(res) => {
                    let upgraded = res.status() == http::StatusCode::SWITCHING_PROTOCOLS;
                    return Ok(res.map(|inner| UpstreamBody {
                        kind: Kind::Hyper {
                            inner,
                            ended: false,
                            // A switched connection is the tunnel's now.
                            conn: (!upgraded).then(|| (self.clone(), sender)),
                        },
                    }));
                }
                Err(mut e) => match e.take_message() {
                    Some(unsent) if reused => {
                        tracing::debug!(error = %e.error(), "Reused upstream connection was closed; trying another");
                        req = unsent;
                    }
                    _ => return Err(UpstreamError::Request(e.into_error())),
                },
            }
        }
    }

    /// The newest idle connection that can take a request now. One still
    /// finishing its last response (it becomes ready a moment after the body
    /// ends) stays for a later request; closed and expired ones go.
    fn checkout(&self) -> Option<SendRequest<RequestBody>> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let mut i = idle.len();
        while i > 0 {
            i -= 1;
            if idle[i].gone(now, self.idle_timeout) {
                idle.remove(i);
            } else if idle[i].sender.is_ready() {
                return Some(idle.remove(i).sender);
            }
        }
        None
    }

    /// Drops the idle connections that expired or closed.
    fn sweep(&self) {
        let now = Instant::now();
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|c| !c.gone(now, self.idle_timeout));
        if let Some(fast) = &self.fast {
            fast.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .retain(|c| !c.expired(now, self.idle_timeout));
        }
    }

    fn checkin(&self, sender: SendRequest<RequestBody>) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.max_idle {
            idle.push(Idle {
                sender,
                since: Instant::now(),
            });
        }
    }

    /// A new connection to the upstream: TCP, and TLS for `https://`.
    pub(super) async fn dial(&self) -> Result<MaybeHttpsStream<TokioIo<TcpStream>>, UpstreamError> {
        self.connector
            .clone()
            .call(self.target.clone())
            .await
            .map_err(UpstreamError::Connect)
    }

    async fn connect(&self) -> Result<SendRequest<RequestBody>, UpstreamError> {
        let io = self.dial().await?;
        let (sender, conn) = http1::Builder::new()
            .handshake(io)
            .await
            .map_err(|e| UpstreamError::Connect(e.into()))?;
        tokio::spawn(async move {
            // Upgrades: a 101 response hands the connection to the tunnel.
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!(error = %e, "Upstream connection ended with an error");
            }
        });
        Ok(sender)
    }
}

/// Sweeps a pool's idle list every half idle timeout, so a connection left
/// idle below the ones in use is closed within 1.5× the timeout; ends with
/// the pool (a reload builds a new one).
async fn sweep(pool: std::sync::Weak<Upstream>) {
    let Some(every) = pool
        .upgrade()
        .map(|p| (p.idle_timeout / 2).max(Duration::from_millis(10)))
    else {
        return;
    };
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        match pool.upgrade() {
            Some(p) => p.sweep(),
            None => return,
        }
    }
}

// === impl UpstreamBody ===

impl UpstreamBody {
    fn fast(body: LeanBody) -> Self {
        UpstreamBody {
            kind: Kind::Fast(body),
        }
    }
}

impl http_body::Body for UpstreamBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.kind {
            Kind::Fast(body) => body.poll_frame(cx),
            Kind::Hyper { inner, ended, conn } => {
                let polled = Pin::new(inner).poll_frame(cx);
                match &polled {
                    Poll::Ready(None) => *ended = true,
                    // The connection is broken: it does not go back.
                    Poll::Ready(Some(Err(_))) => *conn = None,
                    _ => {}
                }
                polled.map_err(Into::into)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Fast(body) => body.is_end_stream(),
            Kind::Hyper { inner, ended, .. } => *ended || inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Fast(body) => body.size_hint(),
            Kind::Hyper { inner, .. } => inner.size_hint(),
        }
    }
}

impl Drop for UpstreamBody {
    fn drop(&mut self) {
        // A body dropped before its end (the client went away) leaves its
        // connection mid-response: it is closed, not reused. (A fast-path body
        // sees to its own connection.)
        let end = http_body::Body::is_end_stream(self);
        if let Kind::Hyper { conn, .. } = &mut self.kind {
            if let Some((pool, sender)) = conn.take() {
                if end {
                    pool.checkin(sender);
                }
            }
        }
    }
}

impl std::fmt::Debug for UpstreamBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamBody")
            .field("ended", &http_body::Body::is_end_stream(self))
            .finish_non_exhaustive()
    }
}

/// A response deadline tests do not reach.
#[cfg(test)]
pub(super) fn later() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(60)
}

#[cfg(test)]
mod fast_tests;
#[cfg(test)]
mod tests;
