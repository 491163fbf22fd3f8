//! Writing a response on the fast path the way hyper's server does: status
//! line, headers, `date`, the framing [`framing::response`] states (or a
//! length or chunks when the head states none), then the body.

use std::fmt::Write as _;
use std::io;
use std::pin::pin;
use std::task::Poll;
use std::time::SystemTime;

use bytes::{BufMut, Bytes, BytesMut};
use http::header::{self, HeaderMap};
use http::{Response, StatusCode};
use http_body::Body;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::framing::{self, Framing};
use super::head::{self, Noted};

/// Data frames smaller than this are copied behind the head and each other
/// (one write), up to about this much; a larger one is written from its own
/// buffer.
const COALESCE: usize = 16 * 1024;

/// Writes a response the way hyper's server does (status line, headers,
/// `date`, `Content-Length` or chunked), and says whether the connection can
/// take another request. A body that fails midway ends the connection, so
/// the client sees a truncated response rather than a complete-looking one.
pub(super) async fn write_response<I: AsyncWrite + Unpin, B>(
    io: &mut I,
    res: Response<B>,
    head_request: bool,
    keep_alive: bool,
    date: &mut DateCache,
) -> io::Result<bool>
where
    B: Body<Data = Bytes>,
    B::Error: std::fmt::Display,
{
    let (parts, body) = res.into_parts();
    let status = parts.status;
    let mut body = pin!(body);
    let (framing, add_length) = delimit(status, head_request, &parts.headers, &body);
    let keep_alive = keep_alive && framing != Framing::Close;

    let mut out = BytesMut::with_capacity(512);
    out.put_slice(b"HTTP/1.1 ");
    out.put_slice(status.as_str().as_bytes());
    out.put_u8(b' ');
    out.put_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.put_slice(b"\r\n");
    let mut dated = false;
    let mut lengthed = false;
    for (name, value) in &parts.headers {
        // Framing is this loop's to state; a 1xx, 204 or 304 states no
        // length (RFC 9110 §8.6, and as hyper's server drops it).
        if name == header::TRANSFER_ENCODING
            || name == header::CONNECTION
            || (name == header::CONTENT_LENGTH && (bodiless_status(status) || lengthed))
        {
            continue;
        }
        // Several equal lengths go out as one, as hyper writes them (lengths
        // that disagree made the framing `Close` above).
        lengthed |= name == header::CONTENT_LENGTH;
        dated |= name == header::DATE;
        head::put_header(&mut out, name.as_str().as_bytes(), value.as_bytes());
    }
    if let Some(n) = add_length {
        let _ = write!(out, "content-length: {n}\r\n");
    }
    if framing == Framing::Chunked {
        head::put_header(&mut out, b"transfer-encoding", b"chunked");
    }
    if !dated {
        head::put_header(&mut out, b"date", date.now());
    }
    if !keep_alive {
        head::put_header(&mut out, b"connection", b"close");
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

/// A status whose response never has a body, whatever the request.
fn bodiless_status(status: StatusCode) -> bool {
    status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
}

/// How a response body goes on the wire, and a `Content-Length` to add:
/// what its head states ([`framing::response`]), else the body's exact
/// size, else chunks. Lengths that disagree or do not parse run until the
/// connection closes. `Transfer-Encoding` is this writer's to state (a
/// proxied response lost the upstream's as a hop-by-hop header).
fn delimit<B: Body>(
    status: StatusCode,
    head_request: bool,
    headers: &HeaderMap,
    body: &B,
) -> (Framing, Option<u64>) {
    let noted = Noted {
        content_lengths: headers.get_all(header::CONTENT_LENGTH).iter().count(),
        ..Noted::default()
    };
    match framing::response(head_request, status, headers, noted) {
        // A HEAD response keeps the length a GET would get, or states none.
        Ok(Some(stated)) => (stated, None),
        Err(framing::InvalidLength) => (Framing::Close, None),
        Ok(None) if body.is_end_stream() => (Framing::Length(0), Some(0)),
        Ok(None) => match body.size_hint().exact() {
            Some(n) => (Framing::Length(n), Some(n)),
            None => (Framing::Chunked, None),
        },
    }
}

/// The `date` header, formatted once a second (RFC 9110 §6.6.1).
#[derive(Default)]
pub(super) struct DateCache {
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
