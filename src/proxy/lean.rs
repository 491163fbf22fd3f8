//! A lean HTTP/1.1 client for bodyless requests, on the upstream pool's
//! connector and keep-alive rules.
//!
//! Why it exists: hyper's client connection runs as a task of its own and
//! hands every exchange across channels (request in, response and body
//! out), polling the socket three or four times per request; for a `GET`
//! that was a fifth of restgate's CPU. Here the request head is written
//! straight from the header map, the response head parsed with httparse
//! (strict defaults, as hyper's client), and the body read by the response
//! body itself, all in the request's own task. Requests with a body and
//! upgrades still go through hyper's client.
//!
//! Framing follows RFC 9112 §6.3: no body for `HEAD`, 1xx, 204 and 304;
//! chunked when `Transfer-Encoding` ends in `chunked`; else `Content-Length`
//! (several must agree); else until the upstream closes. A connection goes
//! back to the pool only when its response ended exactly where its framing
//! says, on an HTTP/1.1 response that did not say `Connection: close`.

use std::future::Future;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::{Arc, PoisonError};
use std::task::{Context, Poll, Waker, ready};
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::header::{self, HeaderMap};
use http::{Method, Request, Response, StatusCode, Version};
use http_body::{Frame, SizeHint};
use hyper_rustls::MaybeHttpsStream;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Sleep;

use super::upstream::{BoxError, Upstream, UpstreamBody, UpstreamError};
use crate::wire;

/// Headers parsed per response, as hyper's client allows.
const MAX_HEADERS: usize = 100;
/// Largest response head, as hyper's client's default buffer.
const MAX_HEAD: usize = 400 * 1024;
/// Largest trailer section of a chunked body (dropped, as hyper drops it).
const MAX_TRAILERS: usize = 16 * 1024;
/// Read-ahead for bodies.
const READ_SIZE: usize = 16 * 1024;

type Io = TokioIo<MaybeHttpsStream<TokioIo<TcpStream>>>;

/// A kept-alive upstream connection and what was read from it past the last
/// response (nothing, for a pooled one).
pub(super) struct LeanConn {
    /// Boxed: the TLS-capable stream is a kilobyte or more, and a connection
    /// moves in and out of the pool and futures on every request.
    io: Box<Io>,
    buf: BytesMut,
    spans: Vec<wire::Span>,
    since: Instant,
    /// The response deadline, kept with the connection and moved for each
    /// request: a later deadline is a store, where a new timer per request
    /// was a lock and a timer-wheel insertion and removal (`None` until the
    /// first request).
    timer: Option<Pin<Box<Sleep>>>,
}

/// The body of a response read by this client.
pub(super) struct LeanBody {
    /// Taken when the body fails; returned to the pool on drop if it ended.
    conn: Option<LeanConn>,
    pool: Arc<Upstream>,
    state: State,
    /// HTTP/1.1 without `Connection: close`, and not delimited by the close.
    reusable: bool,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum State {
    /// This many bytes to go.
    Length(u64),
    /// Until the upstream closes.
    Close,
    ChunkSize,
    /// This many bytes of the current chunk to go.
    ChunkData(u64),
    /// The line end after a chunk's data.
    ChunkEnd,
    Trailers,
    Done,
}

/// Why a response head could not be read.
enum HeadError {
    /// The request could not be written.
    Unwritten(std::io::Error),
    /// The connection closed before a byte of the response: on a reused
    /// connection, the upstream had closed it as the request went out.
    Closed,
    Failed(UpstreamError),
}

// === impl Upstream (lean) ===

impl Upstream {
    /// Sends a bodyless request (origin-form URI, `Host` set) on an idle
    /// lean connection or a new one, and waits for the response head until
    /// `deadline`. A request that could not be written on a reused
    /// connection, or (if idempotent, RFC 9110 §9.2.2) that found it closed
    /// before any answer, goes out again on another one.
    pub(super) async fn send_lean(
        self: &Arc<Self>,
        req: Request<crate::RequestBody>,
        deadline: tokio::time::Instant,
    ) -> Result<Response<UpstreamBody>, UpstreamError> {
        let (parts, _) = req.into_parts();
        let head = encode(&parts);
        let replay = parts.method.is_idempotent();
        loop {
            let (mut conn, reused) = match self.checkout_lean() {
                Some(c) => (c, true),
                // Boxed: the connector's future holds a TLS-capable stream.
                None => {
                    match tokio::time::timeout_at(deadline, Box::pin(self.connect_lean())).await {
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
                done = conn.exchange(&head, &parts.method) => done,
                () = &mut timer => Err(HeadError::Failed(UpstreamError::Timeout)),
            };
            conn.timer = Some(timer);
            match exchange {
                Ok((res, state, reusable)) => {
                    let body = LeanBody {
                        conn: Some(conn),
                        pool: self.clone(),
                        state,
                        reusable,
                    };
                    return Ok(res.map(|()| UpstreamBody::lean(body)));
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
                Err(HeadError::Failed(e)) => return Err(e),
            }
        }
    }

    /// The newest idle lean connection still open; closed and expired ones go.
    fn checkout_lean(&self) -> Option<LeanConn> {
        let mut idle = self.lean.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        while let Some(mut conn) = idle.pop() {
            if !conn.expired(now, self.idle_timeout) && conn.open() {
                return Some(conn);
            }
        }
        None
    }

    fn checkin_lean(&self, mut conn: LeanConn) {
        let mut idle = self.lean.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.max_idle {
            conn.since = Instant::now();
            idle.push(conn);
        }
    }

    async fn connect_lean(&self) -> Result<LeanConn, UpstreamError> {
        let io = self.dial().await?;
        Ok(LeanConn {
            io: Box::new(TokioIo::new(io)),
            buf: BytesMut::with_capacity(8 * 1024),
            spans: Vec::with_capacity(16),
            since: Instant::now(),
            timer: None,
        })
    }
}

/// The request head: request line, the map's headers, and `Content-Length:
/// 0` where the method gives content a meaning (RFC 9110 §8.6).
///
/// Only bodyless requests come here, so the head states no body whatever
/// length the request's own headers claim: a length with no bytes behind
/// it would make the next request on the pooled connection its body.
/// A `Vec`: freezing a part-filled `BytesMut` would allocate its shared
/// header.
fn encode(parts: &http::request::Parts) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    out.put_slice(parts.method.as_str().as_bytes());
    out.put_u8(b' ');
    let target = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    out.put_slice(target.as_bytes());
    out.put_slice(b" HTTP/1.1\r\n");
    for (name, value) in &parts.headers {
        if name != header::CONTENT_LENGTH {
            wire::put_header(&mut out, name.as_str().as_bytes(), value.as_bytes());
        }
    }
    let bodyless_method = matches!(
        parts.method,
        Method::GET | Method::HEAD | Method::DELETE | Method::OPTIONS | Method::TRACE
    );
    if !bodyless_method {
        out.put_slice(b"content-length: 0\r\n");
    }
    out.put_slice(b"\r\n");
    out
}

// === impl LeanConn ===

impl LeanConn {
    /// Idle in the pool for the timeout: not used again.
    pub(super) fn expired(&self, now: Instant, idle_timeout: Duration) -> bool {
        now.duration_since(self.since) >= idle_timeout
    }

    /// Whether an idle connection is still open: the upstream has neither
    /// closed it nor sent anything unasked. Never waits.
    fn open(&mut self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        let mut probe = [0u8; 1];
        let mut probe = ReadBuf::new(&mut probe);
        Pin::new(&mut *self.io)
            .poll_read(&mut cx, &mut probe)
            .is_pending()
    }

    /// Writes the request head and reads the response's; see [`read_head`](Self::read_head).
    async fn exchange(
        &mut self,
        head: &[u8],
        method: &Method,
    ) -> Result<(Response<()>, State, bool), HeadError> {
        self.io
            .write_all(head)
            .await
            .map_err(HeadError::Unwritten)?;
        self.read_head(method).await
    }

    /// Reads the response head (skipping 1xx interim responses, as hyper's
    /// client does) and says how its body is framed and whether the
    /// connection can serve again after it: an HTTP/1.1 response without
    /// `Connection: close`, whose body does not run until the close.
    async fn read_head(
        &mut self,
        method: &Method,
    ) -> Result<(Response<()>, State, bool), HeadError> {
        loop {
            if !self.buf.is_empty() {
                if let Some(parsed) = self.parse_head(method)? {
                    return Ok(parsed);
                }
            }
            if self.buf.len() >= MAX_HEAD {
                return Err(HeadError::Failed(UpstreamError::Malformed(
                    "response head too large",
                )));
            }
            self.buf.reserve(READ_SIZE);
            match self.io.read_buf(&mut self.buf).await {
                Ok(0) if self.buf.is_empty() => return Err(HeadError::Closed),
                Ok(0) => {
                    return Err(HeadError::Failed(UpstreamError::Malformed(
                        "closed mid-way through the response head",
                    )));
                }
                Ok(_) => {}
                Err(e) if self.buf.is_empty() => {
                    tracing::debug!(error = %e, "Upstream connection failed before answering");
                    return Err(HeadError::Closed);
                }
                Err(e) => return Err(HeadError::Failed(UpstreamError::Io(e))),
            }
        }
    }

    /// A complete final response head from the buffer, or `None` for more.
    fn parse_head(
        &mut self,
        method: &Method,
    ) -> Result<Option<(Response<()>, State, bool)>, HeadError> {
        let malformed = |what| Err(HeadError::Failed(UpstreamError::Malformed(what)));
        let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
        let mut res = httparse::Response::new(&mut []);
        let (len, code, version) = match httparse::ParserConfig::default()
            .parse_response_with_uninit_headers(&mut res, &self.buf, &mut headers)
        {
            Ok(httparse::Status::Complete(len)) => (
                len,
                res.code.unwrap_or_default(),
                res.version.unwrap_or_default(),
            ),
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return malformed("response head is not HTTP/1.x"),
        };
        wire::record(&self.buf, res.headers, &mut self.spans);
        let Ok(status) = StatusCode::from_u16(code) else {
            return malformed("response status out of range");
        };
        let head = self.buf.split_to(len).freeze();
        if status == StatusCode::SWITCHING_PROTOCOLS {
            return malformed("upstream switched protocols unasked");
        }
        if status.is_informational() {
            // 100 Continue, 103 Early Hints: the final response follows.
            return self.parse_head(method);
        }
        // Room for the request id the access layer adds.
        let Some((headers, noted)) = wire::header_map(&head, &self.spans, 1) else {
            return malformed("response header is not valid");
        };
        let state = match framing(method, status, &headers, noted) {
            Some(state) => state,
            None => return malformed("response Content-Length is not valid"),
        };
        let mut res = Response::new(());
        *res.status_mut() = status;
        *res.version_mut() = if version == 0 {
            Version::HTTP_10
        } else {
            Version::HTTP_11
        };
        *res.headers_mut() = headers;
        let reusable = version == 1 && !noted.close && state != State::Close;
        Ok(Some((res, state, reusable)))
    }
}

/// How a response's body is delimited (RFC 9112 §6.3); `None` for lengths
/// that disagree or do not parse.
fn framing(
    method: &Method,
    status: StatusCode,
    headers: &HeaderMap,
    noted: wire::Noted,
) -> Option<State> {
    if *method == Method::HEAD
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Some(State::Length(0));
    }
    if noted.transfer_encoding {
        let last = wire::tokens(headers, &header::TRANSFER_ENCODING).last();
        return Some(
            if last.is_some_and(|t| t.eq_ignore_ascii_case(b"chunked")) {
                State::ChunkSize
            } else {
                State::Close
            },
        );
    }
    if noted.content_lengths == 0 {
        return Some(State::Close);
    }
    let mut length = None;
    for value in wire::tokens(headers, &header::CONTENT_LENGTH) {
        let n: u64 = std::str::from_utf8(value).ok()?.parse().ok()?;
        if length.is_some_and(|l| l != n) {
            return None;
        }
        length = Some(n);
    }
    Some(length.map_or(State::Close, State::Length))
}

// === impl LeanBody ===

impl LeanBody {
    /// The next frame, or `None` at the end; the state machine over the
    /// connection's buffer, reading more when it runs dry.
    pub(super) fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        loop {
            let Some(conn) = self.conn.as_mut() else {
                return Poll::Ready(None);
            };
            let buf = &mut conn.buf;
            match self.state {
                State::Done | State::Length(0) => {
                    self.state = State::Done;
                    return Poll::Ready(None);
                }
                State::Length(n) if !buf.is_empty() => {
                    let take = n.min(buf.len() as u64);
                    self.state = State::Length(n - take);
                    return data(buf, take);
                }
                State::Close if !buf.is_empty() => {
                    let take = buf.len() as u64;
                    return data(buf, take);
                }
                State::ChunkData(n) if !buf.is_empty() => {
                    let take = n.min(buf.len() as u64);
                    self.state = if take == n {
                        State::ChunkEnd
                    } else {
                        State::ChunkData(n - take)
                    };
                    return data(buf, take);
                }
                State::ChunkSize if !buf.is_empty() => match httparse::parse_chunk_size(buf) {
                    Ok(httparse::Status::Complete((used, size))) => {
                        buf.advance(used);
                        self.state = if size == 0 {
                            State::Trailers
                        } else {
                            State::ChunkData(size)
                        };
                        continue;
                    }
                    Ok(httparse::Status::Partial) => {}
                    Err(_) => return self.fail("chunk size line is not valid"),
                },
                State::ChunkEnd if buf.len() >= 2 => {
                    if !buf.starts_with(b"\r\n") {
                        return self.fail("chunk data longer than its size");
                    }
                    buf.advance(2);
                    self.state = State::ChunkSize;
                    continue;
                }
                State::Trailers if !buf.is_empty() => {
                    let end = if buf.starts_with(b"\r\n") {
                        Some(2)
                    } else {
                        buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
                    };
                    if let Some(end) = end {
                        buf.advance(end);
                        self.state = State::Done;
                        return Poll::Ready(None);
                    }
                    if buf.len() > MAX_TRAILERS {
                        return self.fail("chunked trailers too large");
                    }
                }
                _ => {}
            }
            // The buffer does not hold the next step: read more.
            buf.reserve(READ_SIZE);
            let read = ready!(std::pin::pin!(conn.io.read_buf(buf)).poll(cx));
            match read {
                Ok(0) if self.state == State::Close => {
                    // `reusable` is false for this framing from the start.
                    self.state = State::Done;
                    return Poll::Ready(None);
                }
                Ok(0) => return self.fail("the upstream closed mid-body"),
                Ok(_) => {}
                Err(e) => {
                    self.conn = None;
                    return Poll::Ready(Some(Err(e.into())));
                }
            }
        }
    }

    pub(super) fn is_end_stream(&self) -> bool {
        matches!(self.state, State::Done | State::Length(0))
    }

    pub(super) fn size_hint(&self) -> SizeHint {
        match self.state {
            State::Length(n) => SizeHint::with_exact(n),
            State::Done => SizeHint::with_exact(0),
            _ => SizeHint::default(),
        }
    }

    /// A broken body: its connection is closed, never reused.
    fn fail(&mut self, what: &'static str) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.conn = None;
        Poll::Ready(Some(Err(UpstreamError::Malformed(what).into())))
    }
}

/// The next `n` buffered bytes as a data frame (shared, not copied).
fn data(buf: &mut BytesMut, n: u64) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
    let n = usize::try_from(n).unwrap_or(usize::MAX).min(buf.len());
    Poll::Ready(Some(Ok(Frame::data(buf.split_to(n).freeze()))))
}

impl Drop for LeanBody {
    fn drop(&mut self) {
        // Back to the pool only at a clean end with nothing read past it; a
        // body dropped midway (the client left) closes its connection.
        if let Some(conn) = self.conn.take() {
            if self.reusable && self.is_end_stream() && conn.buf.is_empty() {
                self.pool.checkin_lean(conn);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http::Uri;
    use http_body_util::{BodyExt, Either, Full};
    use tokio::net::TcpListener;

    use crate::proxy::upstream::{connector, later};

    /// What a scripted upstream does after a request head.
    enum Step {
        /// Writes these bytes and reads the next request.
        Answer(&'static [u8]),
        /// Writes these bytes and closes the connection.
        AnswerAndClose(&'static [u8]),
        /// Waits, then writes these bytes and reads the next request.
        Late(Duration, &'static [u8]),
        /// Answers nothing, keeping the connection open.
        Silent,
    }

    /// An upstream answering each request with the next scripted step, on
    /// whichever connection it comes; counts connections, keeps the heads.
    struct Scripted {
        uri: Uri,
        connections: Arc<AtomicUsize>,
        heads: Arc<Mutex<Vec<String>>>,
    }

    async fn scripted(steps: Vec<Step>) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri = format!("http://{}/", listener.local_addr().unwrap())
            .parse()
            .unwrap();
        let steps = Arc::new(Mutex::new(VecDeque::from(steps)));
        let connections = Arc::new(AtomicUsize::new(0));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let (count, seen) = (connections.clone(), heads.clone());
        tokio::spawn(async move {
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                count.fetch_add(1, Ordering::SeqCst);
                let (steps, seen) = (steps.clone(), seen.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    loop {
                        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                            let mut chunk = [0u8; 4096];
                            match s.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                        seen.lock()
                            .unwrap()
                            .push(String::from_utf8_lossy(&buf[..end]).into_owned());
                        buf.drain(..end);
                        let step = steps.lock().unwrap().pop_front();
                        match step {
                            Some(Step::Answer(b)) => s.write_all(b).await.unwrap(),
                            Some(Step::AnswerAndClose(b)) => {
                                s.write_all(b).await.unwrap();
                                return;
                            }
                            Some(Step::Late(wait, b)) => {
                                tokio::time::sleep(wait).await;
                                s.write_all(b).await.unwrap();
                            }
                            Some(Step::Silent) => {
                                let _ = s.read(&mut [0u8; 1]).await;
                                return;
                            }
                            None => return,
                        }
                    }
                });
            }
        });
        Scripted {
            uri,
            connections,
            heads,
        }
    }

    fn pool(uri: &Uri) -> Arc<Upstream> {
        Upstream::new(
            connector(None, Duration::from_secs(5)),
            uri.clone(),
            8,
            Duration::from_secs(60),
        )
    }

    fn request(method: Method, uri: &Uri) -> Request<crate::RequestBody> {
        Request::builder()
            .method(method)
            .uri("/rest/x?q=1")
            .header(header::HOST, uri.authority().unwrap().as_str())
            .body(Either::Right(Full::new(Bytes::new())))
            .unwrap()
    }

    /// A bodyless request with a deadline it does not reach.
    async fn send(
        pool: &Arc<Upstream>,
        up: &Scripted,
        method: Method,
    ) -> Result<Response<UpstreamBody>, UpstreamError> {
        pool.send(request(method, &up.uri), later()).await
    }

    async fn body(res: Response<UpstreamBody>) -> Result<Bytes, BoxError> {
        res.into_body().collect().await.map(|c| c.to_bytes())
    }

    fn idle(pool: &Upstream) -> usize {
        pool.lean.lock().unwrap().len()
    }

    #[tokio::test]
    async fn framed_bodies_are_read_whole_and_the_connection_serves_again() {
        let up = scripted(vec![
            Step::Answer(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
            Step::Answer(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n",
            ),
            Step::Answer(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"),
            Step::Answer(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"),
            Step::Answer(b"HTTP/1.1 200 OK\r\ncontent-length: 2, 2\r\n\r\nok"),
            Step::Answer(
                b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n0\r\n\r\n",
            ),
        ])
        .await;
        let pool = pool(&up.uri);
        let res = send(&pool, &up, Method::GET).await.unwrap();
        assert_eq!(body(res).await.unwrap(), "hello");
        let res = send(&pool, &up, Method::GET).await.unwrap();
        assert_eq!(body(res).await.unwrap(), "abcde");
        let res = send(&pool, &up, Method::DELETE).await.unwrap();
        assert_eq!(res.status(), 204);
        assert_eq!(body(res).await.unwrap(), "");
        // A HEAD response states a length and has no body.
        let res = send(&pool, &up, Method::HEAD).await.unwrap();
        assert_eq!(res.headers()["content-length"], "99");
        assert_eq!(body(res).await.unwrap(), "");
        let res = send(&pool, &up, Method::GET).await.unwrap();
        assert_eq!(body(res).await.unwrap(), "ok");
        // Both framings: chunked wins (RFC 9112 §6.3).
        let res = send(&pool, &up, Method::GET).await.unwrap();
        assert_eq!(body(res).await.unwrap(), "abcde");
        assert_eq!(up.connections.load(Ordering::SeqCst), 1);
        assert_eq!(idle(&pool), 1);
        let heads = up.heads.lock().unwrap().clone();
        assert!(
            heads[0].starts_with("GET /rest/x?q=1 HTTP/1.1\r\n"),
            "{heads:?}"
        );
        assert!(heads[0].contains(&format!("host: {}", up.uri.authority().unwrap())));
    }

    #[tokio::test]
    async fn a_post_without_a_body_states_a_zero_length() {
        let up = scripted(vec![Step::Answer(
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        )])
        .await;
        let pool = pool(&up.uri);
        let res = send(&pool, &up, Method::POST).await.unwrap();
        body(res).await.unwrap();
        let head = up.heads.lock().unwrap()[0].clone();
        assert!(head.contains("content-length: 0\r\n"), "{head}");
    }

    #[test]
    fn a_bodyless_head_states_no_body_whatever_length_it_was_given() {
        for (method, want) in [(Method::POST, "content-length: 0\r\n"), (Method::GET, "")] {
            let (mut parts, _) = Request::builder()
                .method(method)
                .uri("/x")
                .header(header::HOST, "up")
                .header(header::CONTENT_LENGTH, "5")
                .body(())
                .unwrap()
                .into_parts();
            let head = String::from_utf8(encode(&parts)).unwrap();
            assert_eq!(
                head,
                format!("{} /x HTTP/1.1\r\nhost: up\r\n{want}\r\n", parts.method)
            );
            parts.headers.remove(header::CONTENT_LENGTH);
            assert_eq!(String::from_utf8(encode(&parts)).unwrap(), head);
        }
    }

    #[tokio::test]
    async fn a_body_delimited_by_the_close_is_read_to_it_and_the_connection_not_kept() {
        let up = scripted(vec![
            Step::AnswerAndClose(b"HTTP/1.1 200 OK\r\n\r\nuntil the end"),
            Step::Answer(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"),
            Step::Answer(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        ])
        .await;
        let pool = pool(&up.uri);
        let res = send(&pool, &up, Method::GET).await.unwrap();
        assert_eq!(body(res).await.unwrap(), "until the end");
        for _ in 0..2 {
            let res = send(&pool, &up, Method::GET).await.unwrap();
            assert_eq!(body(res).await.unwrap(), "ok");
            assert_eq!(idle(&pool), 0, "a connection said to close went back");
        }
        assert_eq!(up.connections.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn broken_answers_are_errors_and_their_connections_are_dropped() {
        let up = scripted(vec![
            Step::Answer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok"),
            Step::Answer(b"SSH-2.0-OpenSSH\r\n\r\n"),
            Step::AnswerAndClose(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"),
            Step::AnswerAndClose(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcdefgh",
            ),
            Step::Answer(b"HTTP/1.1 101 Switching Protocols\r\n\r\n"),
        ])
        .await;
        let pool = pool(&up.uri);
        for _ in 0..2 {
            let err = send(&pool, &up, Method::GET).await.unwrap_err();
            assert!(matches!(err, UpstreamError::Malformed(_)), "{err}");
        }
        for _ in 0..2 {
            let res = send(&pool, &up, Method::GET).await.unwrap();
            assert!(body(res).await.is_err(), "a cut body read as complete");
        }
        let err = send(&pool, &up, Method::GET).await.unwrap_err();
        assert!(matches!(err, UpstreamError::Malformed(_)), "{err}");
        assert_eq!(idle(&pool), 0);
    }

    #[tokio::test]
    async fn a_connection_the_upstream_closed_while_idle_is_not_used() {
        let up = scripted(vec![
            Step::AnswerAndClose(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
            Step::Answer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        ])
        .await;
        let pool = pool(&up.uri);
        let res = send(&pool, &up, Method::GET).await.unwrap();
        assert_eq!(body(res).await.unwrap(), "ok");
        // Closed without saying so: the next request still gets its answer.
        let res = send(&pool, &up, Method::GET).await.unwrap();
        assert_eq!(body(res).await.unwrap(), "ok");
        assert_eq!(up.connections.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_body_dropped_midway_closes_its_connection() {
        let up = scripted(vec![
            Step::Answer(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf"),
            Step::Answer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        ])
        .await;
        let pool = pool(&up.uri);
        let mut res = send(&pool, &up, Method::GET).await.unwrap();
        let first = res.body_mut().frame().await.unwrap().unwrap();
        assert_eq!(first.into_data().unwrap(), "half");
        drop(res);
        assert_eq!(idle(&pool), 0);
        let res = send(&pool, &up, Method::GET).await.unwrap();
        assert_eq!(body(res).await.unwrap(), "ok");
        assert_eq!(up.connections.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_reused_connection_keeps_each_requests_own_deadline() {
        const OK: &[u8] = b"HTTP/1.1 204 No Content\r\n\r\n";
        let wait = Duration::from_millis(400);
        let up = scripted(vec![Step::Answer(OK), Step::Late(wait, OK), Step::Silent]).await;
        let pool = pool(&up.uri);
        let soon = || tokio::time::Instant::now() + Duration::from_millis(150);
        // The first deadline is armed with the connection, and passes
        // while the connection waits in the pool.
        let res = pool
            .send(request(Method::GET, &up.uri), soon())
            .await
            .unwrap();
        drop(res);
        // A later deadline on the same connection: the answer that comes
        // after the first deadline is taken.
        let res = send(&pool, &up, Method::GET).await.unwrap();
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        drop(res);
        // An earlier one again: the silent upstream is given up on in time.
        let started = tokio::time::Instant::now();
        let err = pool
            .send(request(Method::GET, &up.uri), soon())
            .await
            .unwrap_err();
        assert!(matches!(err, UpstreamError::Timeout), "{err}");
        assert!(started.elapsed() < wait, "{:?}", started.elapsed());
        assert_eq!(up.connections.load(Ordering::SeqCst), 1);
    }
}
