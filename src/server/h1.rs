//! A lean HTTP/1.1 loop for the request API clients send most: a bodyless
//! HTTP/1.1 request (`GET`, `HEAD`, `DELETE` …), on a plain connection or a
//! TLS one that did not choose HTTP/2.
//!
//! Why it exists: hyper's server connection is general (request bodies as
//! channels, upgrades, a dispatcher between the connection and the service),
//! and on this path it cost ~2,000 instructions of restgate's ~59,000 per
//! request (with the lean upstream client, ~10,000 together). This loop
//! parses the head with httparse (the parser hyper uses, with the same
//! strict defaults), runs the request through the same stack as every other
//! request, and writes the response itself.
//!
//! It takes only what it can answer exactly as hyper would. Anything else
//! (a request body, `Transfer-Encoding`, an upgrade, `Expect`, HTTP/1.0,
//! HTTP/2's preface, an absolute-form target, a head httparse refuses or one
//! past `server.max_header_bytes`) hands the connection, with the bytes
//! already read, to hyper for the rest of its life, at a request boundary:
//! hyper then answers it, and refuses the malformed ones, exactly as before.

use std::fmt::Write as _;
use std::future::Future;
use std::io;
use std::mem::MaybeUninit;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::header::{self, HeaderMap};
use http::{Method, Request, Response, StatusCode, Uri, Version};
use http_body::Body as _;
use http_body_util::{Either, Full};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::watch;

use super::ConnState;
use crate::wire::{self, Span};
use crate::{Body, RequestBody};

/// Headers parsed per request; a head with more goes to hyper (which takes 100).
const MAX_HEADERS: usize = 64;

/// Data frames smaller than this are copied behind the head and each other
/// (one write), up to about this much; a larger one is written from its own
/// buffer.
const COALESCE: usize = 16 * 1024;

/// How the loop left a connection.
pub(super) enum Ended<I> {
    /// Closed (by either side, a timeout or the drain).
    Closed,
    /// For hyper, from the first byte it has not answered.
    Handoff(Prefixed<I>),
}

/// Serves requests until the connection ends or needs hyper.
pub(super) async fn serve<I>(
    mut io: I,
    conn: &ConnState,
    mut draining: watch::Receiver<bool>,
) -> io::Result<Ended<I>>
where
    I: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = BytesMut::with_capacity(4096);
    let mut spans = Vec::with_capacity(16);
    let mut date = DateCache::default();
    // hyper's rule, kept: the head must arrive within header_read_timeout of
    // the previous response (so it also bounds an idle keep-alive). One timer
    // per connection, pushed back only when it fires early: a fresh timer per
    // request cost as much as parsing the head.
    let mut head_timer = pin!(tokio::time::sleep(conn.header_read_timeout));
    loop {
        let deadline = tokio::time::Instant::now() + conn.header_read_timeout;
        let idle = buf.is_empty();
        let got = {
            let read = pin!(read_head(
                &mut io,
                &mut buf,
                &mut spans,
                conn.max_header_bytes
            ));
            tokio::select! {
                biased;
                got = within(read, head_timer.as_mut(), deadline) => got,
                _ = draining.wait_for(|d| *d), if idle => return Ok(Ended::Closed),
            }
        };
        let (head, line) = match got? {
            Read::Eof => return Ok(Ended::Closed),
            Read::Other => return Ok(Ended::Handoff(Prefixed::new(buf.freeze(), io))),
            Read::Head(line) => (buf.split_to(line.len).freeze(), line),
        };
        let Some((req, keep_alive)) = build(&head, &line, &spans) else {
            let mut rest = BytesMut::from(head);
            rest.unsplit(buf);
            return Ok(Ended::Handoff(Prefixed::new(rest.freeze(), io)));
        };
        let head_request = req.method() == Method::HEAD;
        let (in_flight, call) = conn.dispatch(req);
        let call = pin!(call);
        let Some(res) = while_connected(call, &mut io, &mut buf, conn.max_header_bytes).await
        else {
            return Ok(Ended::Closed);
        };
        let keep_alive = keep_alive && !*draining.borrow();
        let reusable = write_response(&mut io, res, head_request, keep_alive, &mut date).await?;
        drop(in_flight);
        if !reusable {
            let _ = io.shutdown().await;
            return Ok(Ended::Closed);
        }
    }
}

/// `read`, unless `deadline` passes first: then the connection ends as if
/// the client had closed it.
/// The timer is reset only when it fires before the deadline.
/// The futures come pinned by the caller: moving them in would copy them.
async fn within(
    mut read: Pin<&mut impl Future<Output = io::Result<Read>>>,
    mut timer: Pin<&mut tokio::time::Sleep>,
    deadline: tokio::time::Instant,
) -> io::Result<Read> {
    loop {
        tokio::select! {
            biased;
            got = &mut read => return got,
            () = &mut timer => {
                if tokio::time::Instant::now() >= deadline {
                    return Ok(Read::Eof);
                }
                timer.as_mut().reset(deadline);
            }
        }
    }
}

/// The response to a request, or `None` if the client closed first. As hyper
/// does, the client's side is watched while the request runs: a client that
/// closes takes its request with it (never forwarded, or its upstream
/// exchange dropped). Bytes of a pipelined next request wait in the buffer.
async fn while_connected<I: AsyncRead + Unpin>(
    mut call: Pin<&mut impl Future<Output = Result<Response<Body>, std::convert::Infallible>>>,
    io: &mut I,
    buf: &mut BytesMut,
    limit: usize,
) -> Option<Response<Body>> {
    loop {
        tokio::select! {
            biased;
            Ok(res) = &mut call => return Some(res),
            read = io.read_buf(buf), if buf.len() < limit => match read {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            },
        }
    }
}

// === reading ===

enum Read {
    /// A complete head, for [`build`].
    Head(Line),
    /// Not for this loop: hyper's.
    Other,
    /// The client closed between requests.
    Eof,
}

async fn read_head<I: AsyncRead + Unpin>(
    io: &mut I,
    buf: &mut BytesMut,
    spans: &mut Vec<Span>,
    limit: usize,
) -> io::Result<Read> {
    loop {
        if !buf.is_empty() {
            match parse(buf, spans) {
                Parse::Complete(line) => return Ok(Read::Head(line)),
                Parse::Other => return Ok(Read::Other),
                Parse::Partial if buf.len() >= limit => return Ok(Read::Other),
                Parse::Partial => {}
            }
        }
        if buf.capacity() - buf.len() < 1024 {
            buf.reserve(4096);
        }
        if io.read_buf(buf).await? == 0 {
            // A half-sent head on close is dropped, as hyper drops it.
            return Ok(Read::Eof);
        }
    }
}

enum Parse {
    Complete(Line),
    Partial,
    Other,
}

/// A parsed head's length, and where its method and target sit in it.
struct Line {
    len: usize,
    method: (usize, usize),
    target: (usize, usize),
}

/// Parses a head with httparse's strict defaults, recording where the
/// method, the target and each header are.
fn parse(buf: &[u8], spans: &mut Vec<Span>) -> Parse {
    let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let len = match req.parse_with_uninit_headers(buf, &mut headers) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Parse::Partial,
        Err(_) => return Parse::Other,
    };
    let (Some(1), Some(method), Some(target)) = (req.version, req.method, req.path) else {
        return Parse::Other;
    };
    wire::record(buf, req.headers, spans);
    Parse::Complete(Line {
        len,
        method: wire::offsets(buf, method.as_bytes()),
        target: wire::offsets(buf, target.as_bytes()),
    })
}

/// The request for the stack and whether its connection may be kept, or
/// `None` if it is one for hyper.
fn build(head: &Bytes, line: &Line, spans: &[Span]) -> Option<(Request<RequestBody>, bool)> {
    let method = Method::from_bytes(&head[line.method.0..line.method.1]).ok()?;
    let target = head.slice(line.target.0..line.target.1);
    // Origin form only: hyper handles absolute form, `*` and authority form.
    if target.first() != Some(&b'/') {
        return None;
    }
    let uri = Uri::from_maybe_shared(target).ok()?;
    // Room for what the stack adds (request id, X-Forwarded-*, identity).
    let (headers, noted) = wire::header_map(head, spans, 8)?;
    // A body, a protocol switch or a 100-continue handshake is hyper's.
    let empty = match noted.content_lengths {
        0 => true,
        1 => headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v == "0"),
        _ => false,
    };
    if !empty || noted.transfer_encoding || noted.upgrade || noted.expect {
        return None;
    }
    let mut req = Request::new(Either::Right(Full::new(Bytes::new())));
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    *req.version_mut() = Version::HTTP_11;
    *req.headers_mut() = headers;
    Some((req, !noted.close))
}

// === writing ===

/// How a response body is delimited on the wire.
#[derive(Clone, Copy, PartialEq)]
enum Framing {
    /// No body (`HEAD`, 1xx, 204, 304).
    None,
    Length(u64),
    Chunked,
    /// Until the connection closes: a `Content-Length` that does not parse.
    Close,
}

/// Writes a response the way hyper's server does (status line, headers,
/// `date`, `Content-Length` or chunked), and says whether the connection can
/// take another request. A body that fails midway ends the connection, so
/// the client sees a truncated response rather than a complete-looking one.
async fn write_response<I: AsyncWrite + Unpin>(
    io: &mut I,
    res: Response<Body>,
    head_request: bool,
    keep_alive: bool,
    date: &mut DateCache,
) -> io::Result<bool> {
    let (parts, body) = res.into_parts();
    let status = parts.status;
    let mut body = pin!(body);
    let (framing, add_length) = framing(status, head_request, &parts.headers, &body);
    let keep_alive = keep_alive && framing != Framing::Close;

    let mut out = BytesMut::with_capacity(512);
    out.put_slice(b"HTTP/1.1 ");
    out.put_slice(status.as_str().as_bytes());
    out.put_u8(b' ');
    out.put_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.put_slice(b"\r\n");
    let mut dated = false;
    for (name, value) in &parts.headers {
        // Framing is this loop's to state.
        if name == header::TRANSFER_ENCODING || name == header::CONNECTION {
            continue;
        }
        dated |= name == header::DATE;
        wire::put_header(&mut out, name.as_str().as_bytes(), value.as_bytes());
    }
    if let Some(n) = add_length {
        let _ = write!(out, "content-length: {n}\r\n");
    }
    if framing == Framing::Chunked {
        wire::put_header(&mut out, b"transfer-encoding", b"chunked");
    }
    if !dated {
        wire::put_header(&mut out, b"date", date.now());
    }
    if !keep_alive {
        wire::put_header(&mut out, b"connection", b"close");
    }
    out.put_slice(b"\r\n");

    if framing == Framing::None {
        io.write_all(&out).await?;
        return Ok(keep_alive);
    }
    let mut left = match framing {
        Framing::Length(n) => Some(n),
        _ => None,
    };
    loop {
        // Whatever the body has ready goes out with what is buffered; the
        // head is not held back for a body still on its way.
        let frame = match std::future::poll_fn(|cx| Poll::Ready(body.as_mut().poll_frame(cx))).await
        {
            Poll::Ready(f) => f,
            Poll::Pending => {
                if !out.is_empty() {
                    io.write_all(&out).await?;
                    out.clear();
                }
                std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await
            }
        };
        let data = match frame {
            None => break,
            Some(Err(e)) => {
                tracing::debug!(error = %e, "Response body failed; closing the connection");
                io.write_all(&out).await?;
                return Ok(false);
            }
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => data,
                // Trailers are dropped, as hyper drops them for a client
                // that did not ask for them.
                Err(_) => continue,
            },
        };
        if data.is_empty() {
            continue;
        }
        if let Some(n) = &mut left {
            let len = data.len() as u64;
            if len > *n {
                tracing::debug!(
                    "Response body longer than its Content-Length; closing the connection"
                );
                io.write_all(&out).await?;
                return Ok(false);
            }
            *n -= len;
        }
        if framing == Framing::Chunked {
            let _ = write!(out, "{:x}\r\n", data.len());
        }
        if data.len() < COALESCE {
            out.put_slice(&data);
        } else {
            io.write_all(&out).await?;
            out.clear();
            io.write_all(&data).await?;
        }
        if framing == Framing::Chunked {
            out.put_slice(b"\r\n");
        }
        // A body arriving faster than the client reads must not pile up here:
        // past this much, wait for the client before taking more.
        if out.len() >= COALESCE {
            io.write_all(&out).await?;
            out.clear();
        }
    }
    if framing == Framing::Chunked {
        out.put_slice(b"0\r\n\r\n");
    }
    if !out.is_empty() {
        io.write_all(&out).await?;
    }
    if left.is_some_and(|n| n > 0) {
        tracing::debug!("Response body shorter than its Content-Length; closing the connection");
        return Ok(false);
    }
    Ok(keep_alive)
}

/// How a response body goes on the wire, and a `Content-Length` to add
/// (RFC 9112 §6.3).
fn framing(
    status: StatusCode,
    head_request: bool,
    headers: &HeaderMap,
    body: &Body,
) -> (Framing, Option<u64>) {
    if head_request
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        // A HEAD response keeps the length a GET would get, or states none.
        return (Framing::None, None);
    }
    if let Some(v) = headers.get(header::CONTENT_LENGTH) {
        // One that does not parse: the body runs until the connection closes.
        let n = v.to_str().ok().and_then(|s| s.parse::<u64>().ok());
        return (n.map_or(Framing::Close, Framing::Length), None);
    }
    if body.is_end_stream() {
        return (Framing::Length(0), Some(0));
    }
    match body.size_hint().exact() {
        Some(n) => (Framing::Length(n), Some(n)),
        None => (Framing::Chunked, None),
    }
}

/// The `date` header, formatted once a second (RFC 9110 §6.6.1).
#[derive(Default)]
struct DateCache {
    second: u64,
    text: Vec<u8>,
}

impl DateCache {
    fn now(&mut self) -> &[u8] {
        let now = SystemTime::now();
        let second = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if second != self.second || self.text.is_empty() {
            self.second = second;
            self.text = httpdate::fmt_http_date(now).into_bytes();
        }
        &self.text
    }
}

// === impl Prefixed ===

pin_project_lite::pin_project! {
    /// A connection with bytes already read from it put back in front.
    pub(super) struct Prefixed<I> {
        prefix: Bytes,
        #[pin]
        io: I,
    }
}

impl<I> Prefixed<I> {
    fn new(prefix: Bytes, io: I) -> Self {
        Prefixed { prefix, io }
    }
}

impl<I: AsyncRead> AsyncRead for Prefixed<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        if this.prefix.is_empty() {
            return this.io.poll_read(cx, out);
        }
        let n = this.prefix.len().min(out.remaining());
        out.put_slice(&this.prefix[..n]);
        this.prefix.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl<I: AsyncWrite> AsyncWrite for Prefixed<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().io.poll_write(cx, data)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().io.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_shutdown(cx)
    }
}
