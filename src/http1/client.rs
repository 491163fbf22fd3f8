//! The fast path's client: bodyless HTTP/1.1 requests on a kept-alive
//! upstream connection, whose pooling and deadlines are the caller's.
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
//! Framing is [`framing::response`] (RFC 9112 §6.3); a response whose head
//! states none runs until the upstream closes. A connection goes
//! back to the pool only when its response ended exactly where its framing
//! says, on an HTTP/1.1 response that did not say `Connection: close`.

use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

use bytes::{BufMut, BytesMut};
use http::header;
use http::{Method, Response, StatusCode, Version};
use hyper_rustls::MaybeHttpsStream;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Sleep;

use super::framing::{self, Framing, State};
use super::head::{self, Span};

/// Headers parsed per response, as hyper's client allows.
const MAX_HEADERS: usize = 100;
/// Largest response head, as hyper's client's default buffer.
const MAX_HEAD: usize = 400 * 1024;
/// Read-ahead for heads and bodies.
pub(super) const READ_SIZE: usize = 16 * 1024;

/// A connection to the upstream, plain or TLS.
pub type Io = TokioIo<MaybeHttpsStream<TokioIo<TcpStream>>>;

/// Why an exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing failed.
    #[error("the upstream connection failed: {0}")]
    Io(#[from] std::io::Error),
    /// The answer is not HTTP/1.1 as RFC 9112 has it.
    #[error("the upstream's answer is not valid HTTP/1.1: {0}")]
    Malformed(&'static str),
}

/// Why a response head could not be read.
pub enum HeadError {
    /// The request could not be written.
    Unwritten(std::io::Error),
    /// The connection closed before a byte of the response: on a reused
    /// connection, the upstream had closed it as the request went out.
    Closed,
    /// Anything else: final.
    Failed(Error),
}

/// A kept-alive upstream connection and what was read from it past the last
/// response (nothing, for a pooled one).
pub struct Conn {
    /// Boxed: the TLS-capable stream is a kilobyte or more, and a connection
    /// moves in and out of the pool and futures on every request.
    pub(super) io: Box<Io>,
    pub(super) buf: BytesMut,
    spans: Vec<Span>,
    since: Instant,
    /// The response deadline, kept with the connection and moved for each
    /// request: a later deadline is a store, where a new timer per request
    /// was a lock and a timer-wheel insertion and removal (`None` until the
    /// first request).
    pub timer: Option<Pin<Box<Sleep>>>,
}

/// A response head read by [`Conn::exchange`]: the response, how its body
/// is read, and whether the connection can serve again after it.
pub type Head = (Response<()>, State, bool);

/// The request head: request line, the map's headers, and `Content-Length:
/// 0` where the method gives content a meaning (RFC 9110 §8.6).
///
/// Only bodyless requests come here, so the head states no body whatever
/// length the request's own headers claim: a length with no bytes behind
/// it would make the next request on the pooled connection its body.
/// A `Vec`: freezing a part-filled `BytesMut` would allocate its shared
/// header.
pub fn encode(parts: &http::request::Parts) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    out.put_slice(parts.method.as_str().as_bytes());
    out.put_u8(b' ');
    let target = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    out.put_slice(target.as_bytes());
    out.put_slice(b" HTTP/1.1\r\n");
    for (name, value) in &parts.headers {
        if name != header::CONTENT_LENGTH {
            head::put_header(&mut out, name.as_str().as_bytes(), value.as_bytes());
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

// === impl Conn ===

impl Conn {
    /// A new connection.
    pub fn new(io: Io) -> Self {
        Conn {
            io: Box::new(io),
            buf: BytesMut::with_capacity(8 * 1024),
            spans: Vec::with_capacity(16),
            since: Instant::now(),
            timer: None,
        }
    }

    /// Marks it idle from now (it went back to a pool).
    pub fn idle_from_now(&mut self) {
        self.since = Instant::now();
    }

    /// Idle in the pool for the timeout: not used again.
    pub fn expired(&self, now: Instant, idle_timeout: Duration) -> bool {
        now.duration_since(self.since) >= idle_timeout
    }

    /// Whether an idle connection is still open: the upstream has neither
    /// closed it nor sent anything unasked. Never waits.
    pub fn open(&mut self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        let mut probe = [0u8; 1];
        let mut probe = ReadBuf::new(&mut probe);
        Pin::new(&mut *self.io)
            .poll_read(&mut cx, &mut probe)
            .is_pending()
    }

    /// Writes the request head and reads the response's; see [`read_head`](Self::read_head).
    pub async fn exchange(&mut self, head: &[u8], method: &Method) -> Result<Head, HeadError> {
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
    async fn read_head(&mut self, method: &Method) -> Result<Head, HeadError> {
        loop {
            if !self.buf.is_empty() {
                if let Some(parsed) = self.parse_head(method)? {
                    return Ok(parsed);
                }
            }
            if self.buf.len() >= MAX_HEAD {
                return Err(HeadError::Failed(Error::Malformed(
                    "response head too large",
                )));
            }
            self.buf.reserve(READ_SIZE);
            match self.io.read_buf(&mut self.buf).await {
                Ok(0) if self.buf.is_empty() => return Err(HeadError::Closed),
                Ok(0) => {
                    return Err(HeadError::Failed(Error::Malformed(
                        "closed mid-way through the response head",
                    )));
                }
                Ok(_) => {}
                Err(e) if self.buf.is_empty() => {
                    tracing::debug!(error = %e, "Upstream connection failed before answering");
                    return Err(HeadError::Closed);
                }
                Err(e) => return Err(HeadError::Failed(Error::Io(e))),
            }
        }
    }

    /// A complete final response head from the buffer, or `None` for more.
    fn parse_head(&mut self, method: &Method) -> Result<Option<Head>, HeadError> {
        let malformed = |what| Err(HeadError::Failed(Error::Malformed(what)));
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
        head::record(&self.buf, res.headers, &mut self.spans);
        let Ok(status) = StatusCode::from_u16(code) else {
            return malformed("response status out of range");
        };
        let bytes = self.buf.split_to(len).freeze();
        if status == StatusCode::SWITCHING_PROTOCOLS {
            return malformed("upstream switched protocols unasked");
        }
        if status.is_informational() {
            // 100 Continue, 103 Early Hints: the final response follows.
            return self.parse_head(method);
        }
        // Room for the request id the access layer adds.
        let Some((headers, noted)) = head::header_map(&bytes, &self.spans, 1) else {
            return malformed("response header is not valid");
        };
        // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message is faulty
        // framing (an HTTP/1.0 sender cannot mean it); refused, as hyper does.
        if version == 0 && noted.transfer_encoding {
            return malformed("Transfer-Encoding in an HTTP/1.0 response");
        }
        let head_request = *method == Method::HEAD;
        let state = match framing::response(head_request, status, &headers, noted) {
            Ok(Some(Framing::None)) => State::Length(0),
            Ok(Some(Framing::Length(n))) => State::Length(n),
            Ok(Some(Framing::Chunked)) => State::ChunkSize,
            Ok(Some(Framing::Close) | None) => State::Close,
            Err(framing::InvalidLength) => {
                return malformed("response Content-Length is not valid");
            }
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

#[cfg(test)]
mod tests {
    use http::{Request, header};

    use super::*;

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
}
