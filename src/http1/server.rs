//! The fast path's server loop, for the request API clients send most: a bodyless
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

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::mem::MaybeUninit;
use std::pin::{Pin, pin};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header;
use http::{Method, Request, Response, Uri, Version};
use http_body_util::Full;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

use super::head::{self, Span};
use super::prefixed::Prefixed;
use super::write::{DateCache, write_response};

/// Headers parsed per request; a head with more goes to hyper (which takes 100).
const MAX_HEADERS: usize = 64;

/// The limits hyper is given too, so both refuse the same heads.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `server.header_read_timeout`: a head must arrive within it of the
    /// previous response.
    pub header_read_timeout: Duration,
    /// `server.max_header_bytes`: a larger head is hyper's (which answers 431).
    pub max_header_bytes: usize,
}

/// How the loop left a connection.
pub enum Ended<I> {
    /// Closed (by either side, a timeout or the drain).
    Closed,
    /// For hyper, from the first byte it has not answered.
    Handoff(Prefixed<I>),
}

/// Serves requests until the connection ends or needs hyper. `dispatch`
/// starts a request and returns a guard to hold while it runs (the
/// connection counts as busy) and its response.
pub async fn serve<I, D, G, F, B>(
    mut io: I,
    limits: Limits,
    dispatch: D,
    mut draining: watch::Receiver<bool>,
) -> io::Result<Ended<I>>
where
    I: AsyncRead + AsyncWrite + Unpin,
    D: Fn(Request<Full<Bytes>>) -> (G, F),
    F: Future<Output = Result<Response<B>, Infallible>>,
    B: http_body::Body<Data = Bytes>,
    B::Error: std::fmt::Display,
{
    let mut buf = BytesMut::with_capacity(4096);
    let mut spans = Vec::with_capacity(16);
    let mut date = DateCache::default();
    // hyper's rule, kept: the head must arrive within header_read_timeout of
    // the previous response (so it also bounds an idle keep-alive). One timer
    // per connection, pushed back only when it fires early: a fresh timer per
    // request cost as much as parsing the head.
    let mut head_timer = pin!(tokio::time::sleep(limits.header_read_timeout));
    loop {
        let deadline = tokio::time::Instant::now() + limits.header_read_timeout;
        let idle = buf.is_empty();
        let got = {
            let read = pin!(read_head(
                &mut io,
                &mut buf,
                &mut spans,
                limits.max_header_bytes
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
        let (in_flight, call) = dispatch(req);
        let call = pin!(call);
        let Some(res) = while_connected(call, &mut io, &mut buf, limits.max_header_bytes).await
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
async fn while_connected<I: AsyncRead + Unpin, B>(
    mut call: Pin<&mut impl Future<Output = Result<Response<B>, Infallible>>>,
    io: &mut I,
    buf: &mut BytesMut,
    limit: usize,
) -> Option<Response<B>> {
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
    head::record(buf, req.headers, spans);
    Parse::Complete(Line {
        len,
        method: head::offsets(buf, method.as_bytes()),
        target: head::offsets(buf, target.as_bytes()),
    })
}

/// The request for the stack and whether its connection may be kept, or
/// `None` if it is one for hyper.
fn build(head: &Bytes, line: &Line, spans: &[Span]) -> Option<(Request<Full<Bytes>>, bool)> {
    let method = Method::from_bytes(&head[line.method.0..line.method.1]).ok()?;
    let target = head.slice(line.target.0..line.target.1);
    // Origin form only: hyper handles absolute form, `*` and authority form.
    // CONNECT is hyper's whatever its target: a 2xx to it opens a tunnel.
    if target.first() != Some(&b'/') || method == Method::CONNECT {
        return None;
    }
    let uri = Uri::from_maybe_shared(target).ok()?;
    // Room for what the stack adds (request id, X-Forwarded-*, identity).
    let (headers, noted) = head::header_map(head, spans, 8)?;
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
    let mut req = Request::new(Full::new(Bytes::new()));
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    *req.version_mut() = Version::HTTP_11;
    *req.headers_mut() = headers;
    Some((req, !noted.close))
}
