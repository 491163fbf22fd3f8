//! The pool's side of the fast path's client (`http1::client`): which
//! connection a bodyless request takes, its response deadline, and which
//! failures send it again on another connection.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use http::{Request, Response};
use hyper_util::rt::TokioIo;

use super::{Upstream, UpstreamBody, UpstreamError};
use crate::http1::body::{LeanBody, Pool};
use crate::http1::client::{self, Conn, HeadError};

// === impl Upstream (fast path) ===

impl Upstream {
    /// Sends a bodyless request (origin-form URI, `Host` set) on an idle
    /// lean connection or a new one, and waits for the response head until
    /// `deadline`. A request that could not be written on a reused
    /// connection, or (if idempotent, RFC 9110 §9.2.2) that found it closed
    /// before any answer, goes out again on another one.
    pub(super) async fn send_fast(
        self: &Arc<Self>,
        idle: &Mutex<Vec<Conn>>,
        req: Request<super::RequestBody>,
        deadline: tokio::time::Instant,
    ) -> Result<Response<UpstreamBody>, UpstreamError> {
        let (parts, _) = req.into_parts();
        let head = client::encode(&parts);
        let replay = parts.method.is_idempotent();
        loop {
            let (mut conn, reused) = match self.checkout_fast(idle) {
                Some(c) => (c, true),
                // Boxed: the connector's future holds a TLS-capable stream.
                None => {
                    match tokio::time::timeout_at(deadline, Box::pin(self.connect_fast())).await {
                        Ok(conn) => (conn?, false),
                        Err(_) => return Err(UpstreamError::Timeout),
                    }
                }
            };
            let mut timer = match conn.timer.take() {
                Some(mut timer) => {
                    timer.as_mut().reset(deadline);
                    timer
                }
                None => Box::pin(tokio::time::sleep_until(deadline)),
            };
            let exchange = tokio::select! {
                biased;
                done = conn.exchange(&head, &parts.method) => Some(done),
                () = &mut timer => None,
            };
            conn.timer = Some(timer);
            // Past the deadline the connection is dropped: its answer may
            // still come, and must not be read as the next request's.
            let Some(exchange) = exchange else {
                return Err(UpstreamError::Timeout);
            };
            match exchange {
                Ok((res, state, reusable)) => {
                    let body = LeanBody::new(conn, self.clone(), state, reusable);
                    return Ok(res.map(|()| UpstreamBody::fast(body)));
                }
                Err(HeadError::Unwritten(e)) if reused => {
                    tracing::debug!(error = %e, "Reused upstream connection was closed; trying another");
                }
                Err(HeadError::Unwritten(e)) => return Err(UpstreamError::Io(e)),
                Err(HeadError::Closed) if reused && replay => {
                    tracing::debug!("Reused upstream connection closed unanswered; trying another");
                }
                Err(HeadError::Closed) => {
                    return Err(UpstreamError::Malformed("closed without a response"));
                }
                Err(HeadError::Failed(e)) => return Err(e.into()),
            }
        }
    }

    /// The newest idle connection still open; closed and expired ones go.
    fn checkout_fast(&self, idle: &Mutex<Vec<Conn>>) -> Option<Conn> {
        let mut idle = idle.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        while let Some(mut conn) = idle.pop() {
            if !conn.expired(now, self.idle_timeout) && conn.open() {
                return Some(conn);
            }
        }
        None
    }

    async fn connect_fast(&self) -> Result<Conn, UpstreamError> {
        Ok(Conn::new(TokioIo::new(self.dial().await?)))
    }
}

impl Pool for Upstream {
    fn checkin(&self, mut conn: Conn) {
        let Some(idle) = &self.fast else { return };
        let mut idle = idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.max_idle {
            conn.idle_from_now();
            idle.push(conn);
        }
    }
}
