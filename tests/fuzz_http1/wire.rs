//! Bytes on the wire, read independently of restgate: escaping for messages,
//! the scripted upstream's strict request reader (httparse plus RFC 9112
//! body framing written here), the client's response reader, and a lenient
//! reading of the fuzzer's own request streams (to know how many answers to
//! wait for and which of them answer `HEAD`).

use std::fmt::Write as _;

pub use super::responses::{Framing, Resp, Tail, read_responses};

/// `bytes` as a Rust byte-string body: printable ASCII as is, the rest escaped.
pub fn esc(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 8);
    for &b in bytes {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\0' => out.push_str("\\0"),
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out
}

/// [`esc`], with each run of more than 16 equal bytes written `[c × n]`
/// (for messages: heads of 70 kB stay readable).
pub fn show(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        let run = bytes[i..].iter().take_while(|&&b| b == bytes[i]).count();
        if run > 16 {
            let _ = write!(out, "[{} × {run}]", esc(&bytes[i..=i]));
        } else {
            out.push_str(&esc(&bytes[i..i + run]));
        }
        i += run;
    }
    out
}

/// Where `needle` first occurs in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A header list as a sorted multiset of (lower-case name, value).
pub type Headers = Vec<(String, Vec<u8>)>;

pub(super) fn headers_of(parsed: &[httparse::Header<'_>]) -> Headers {
    let mut h: Headers = parsed
        .iter()
        .map(|h| (h.name.to_ascii_lowercase(), h.value.to_vec()))
        .collect();
    h.sort();
    h
}

pub(super) fn values<'a>(
    headers: &'a Headers,
    name: &'a str,
) -> impl Iterator<Item = &'a [u8]> + 'a {
    headers
        .iter()
        .filter(move |(n, _)| n == name)
        .map(|(_, v)| v.as_slice())
}

/// The comma-separated, trimmed tokens of every `name` header.
pub(super) fn tokens(headers: &Headers, name: &str) -> Vec<Vec<u8>> {
    values(headers, name)
        .flat_map(|v| v.split(|&b| b == b','))
        .map(|t| t.trim_ascii().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

/// RFC 9110 §8.6: every `Content-Length` value (comma lists included) the
/// same run of digits; `Ok(None)` without one.
pub(super) fn content_length(headers: &Headers) -> Result<Option<u64>, ()> {
    let mut length = None;
    for v in values(headers, "content-length") {
        for t in v.split(|&b| b == b',') {
            let t = t.trim_ascii();
            if t.is_empty() || !t.iter().all(u8::is_ascii_digit) {
                return Err(());
            }
            let n: u64 = std::str::from_utf8(t).unwrap().parse().map_err(|_| ())?;
            if length.is_some_and(|l| l != n) {
                return Err(());
            }
            length = Some(n);
        }
    }
    Ok(length)
}

// === the upstream's strict reader ===

/// What the scripted upstream recorded of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    Request {
        method: String,
        target: Vec<u8>,
        /// The minor version: the gateway always speaks HTTP/1.1 upstream.
        version: u8,
        headers: Headers,
        body: Vec<u8>,
        /// Trailer lines of a chunked body, as sent.
        trailers: Vec<Vec<u8>>,
    },
    /// The gateway wrote something RFC 9112 refuses.
    Refused(&'static str),
}

/// The result of reading one request off a buffer.
pub enum Read {
    /// A whole request and how many bytes of the buffer it took.
    Done(Seen, usize),
    /// More bytes needed.
    More,
    /// Refused: the connection is answered 400 and closed.
    Bad(&'static str),
}

/// Reads one request strictly: httparse's strict defaults for the head;
/// `Transfer-Encoding` only as HTTP/1.1 ending in `chunked`, never with
/// `Content-Length` (RFC 9112 §6.1 lets a server refuse it, and a proxy has
/// no business sending it); `Content-Length` values all the same digits.
pub fn read_request(buf: &[u8]) -> Read {
    let mut parsed = [httparse::EMPTY_HEADER; 128];
    let mut req = httparse::Request::new(&mut parsed);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() > 1 << 20 => return Read::Bad("head too large"),
        Ok(httparse::Status::Partial) => return Read::More,
        Err(_) => return Read::Bad("head is not HTTP/1.x"),
    };
    let method = req.method.unwrap_or_default().to_owned();
    let target = req.path.unwrap_or_default().as_bytes().to_vec();
    let version = req.version.unwrap_or_default();
    let headers = headers_of(req.headers);
    let te = tokens(&headers, "transfer-encoding");
    let body_at = &buf[len..];
    let mut request_trailers = Vec::new();
    let (body, used) = if !te.is_empty() {
        if version != 1 {
            return Read::Bad("transfer-encoding in HTTP/1.0");
        }
        if values(&headers, "content-length").next().is_some() {
            return Read::Bad("transfer-encoding with content-length");
        }
        if te.last().map(Vec::as_slice) != Some(b"chunked") {
            return Read::Bad("transfer-encoding not ending in chunked");
        }
        match dechunk(body_at) {
            Chunked::Done(body, trailers, used) => {
                request_trailers = trailers;
                (body, used)
            }
            Chunked::More => return Read::More,
            Chunked::Bad(why) => return Read::Bad(why),
        }
    } else {
        match content_length(&headers) {
            Err(()) => return Read::Bad("content-length not valid"),
            Ok(None) => (Vec::new(), 0),
            Ok(Some(n)) => {
                let Ok(n) = usize::try_from(n) else {
                    return Read::Bad("content-length too large");
                };
                if body_at.len() < n {
                    return Read::More;
                }
                (body_at[..n].to_vec(), n)
            }
        }
    };
    Read::Done(
        Seen::Request {
            method,
            target,
            version,
            headers,
            body,
            trailers: request_trailers,
        },
        len + used,
    )
}

pub enum Chunked {
    /// The decoded body, the trailer lines, and the bytes the chunked coding took.
    Done(Vec<u8>, Vec<Vec<u8>>, usize),
    More,
    Bad(&'static str),
}

/// Decodes a chunked body strictly: `1*HEXDIG [; ext] CRLF data CRLF`, a last
/// chunk, trailer lines, CRLF.
pub fn dechunk(buf: &[u8]) -> Chunked {
    let mut body = Vec::new();
    let mut at = 0;
    loop {
        let Some(eol) = find(&buf[at..], b"\r\n") else {
            return if buf.len() - at > 4096 {
                Chunked::Bad("chunk size line too long")
            } else {
                Chunked::More
            };
        };
        let line = &buf[at..at + eol];
        let size_part = line.split(|&b| b == b';').next().unwrap_or_default();
        if size_part.is_empty()
            || size_part.len() > 15
            || !size_part.iter().all(u8::is_ascii_hexdigit)
        {
            return Chunked::Bad("chunk size not valid");
        }
        if line.iter().any(|&b| b == b'\n' || b == b'\r' || b == 0) {
            return Chunked::Bad("chunk extension not valid");
        }
        let size = usize::from_str_radix(std::str::from_utf8(size_part).unwrap(), 16).unwrap();
        at += eol + 2;
        if size == 0 {
            // Trailer lines, then the empty line.
            let mut trailers = Vec::new();
            loop {
                let Some(eol) = find(&buf[at..], b"\r\n") else {
                    return Chunked::More;
                };
                if eol == 0 {
                    return Chunked::Done(body, trailers, at + 2);
                }
                trailers.push(buf[at..at + eol].to_vec());
                at += eol + 2;
            }
        }
        if buf.len() < at + size + 2 {
            return Chunked::More;
        }
        body.extend_from_slice(&buf[at..at + size]);
        at += size;
        if &buf[at..at + 2] != b"\r\n" {
            return Chunked::Bad("chunk data longer than its size");
        }
        at += 2;
    }
}

// === a lenient reading of the fuzzer's own request streams ===

/// What the fuzzer expects of a request stream, to know when to stop
/// reading: how many final answers, which answer `HEAD`, and whether the
/// gateway should close after the last (`Connection: close`, HTTP/1.0, a
/// request it must refuse).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expect {
    pub answers: usize,
    pub heads: Vec<bool>,
    pub close: bool,
}

/// Reads `stream` as a sequence of requests, leniently (bare LF and the rest
/// httparse takes), up to the first one that is incomplete or refused.
pub fn expect(stream: &[u8]) -> Expect {
    let mut e = Expect::default();
    let mut at = 0;
    while at < stream.len() {
        let rest = &stream[at..];
        let mut parsed = [httparse::EMPTY_HEADER; 128];
        let mut req = httparse::Request::new(&mut parsed);
        let len = match req.parse(rest) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return e,
            Err(_) => {
                e.answers += 1;
                e.heads.push(false);
                e.close = true;
                return e;
            }
        };
        let method = req.method.unwrap_or_default();
        let version = req.version.unwrap_or_default();
        let headers = headers_of(req.headers);
        let te = tokens(&headers, "transfer-encoding");
        let body = &rest[len..];
        let refused = |mut e: Expect| {
            e.answers += 1;
            e.heads.push(false);
            e.close = true;
            e
        };
        let used = if !te.is_empty() {
            if te.last().map(Vec::as_slice) != Some(b"chunked") {
                return refused(e);
            }
            // hyper's client sends a GET, HEAD or CONNECT body of unknown
            // length as no body at all: the upstream gets the request (and
            // answers it) whatever becomes of the chunks, which end the
            // connection if they are not valid.
            let dropped = matches!(method, "GET" | "HEAD" | "CONNECT");
            match dechunk(body) {
                Chunked::Done(_, _, used) => used,
                Chunked::More if dropped => {
                    e.answers += 1;
                    e.heads.push(method == "HEAD");
                    return e;
                }
                Chunked::More => return e,
                Chunked::Bad(_) if dropped => {
                    e.answers += 1;
                    e.heads.push(method == "HEAD");
                    e.close = true;
                    return e;
                }
                Chunked::Bad(_) => return refused(e),
            }
        } else {
            match content_length(&headers) {
                Err(()) => return refused(e),
                Ok(None) => 0,
                Ok(Some(n)) => match usize::try_from(n) {
                    Ok(n) if n <= body.len() => n,
                    _ => return e,
                },
            }
        };
        e.answers += 1;
        e.heads.push(method == "HEAD");
        let conn = tokens(&headers, "connection");
        let close = conn.iter().any(|t| t == b"close")
            || (version == 0 && !conn.iter().any(|t| t == b"keep-alive"))
            || method == "CONNECT";
        if close {
            e.close = true;
            return e;
        }
        at += len + used;
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_decode_strictly() {
        assert!(matches!(
            dechunk(b"3\r\nabc\r\n0\r\n\r\n"),
            Chunked::Done(b, t, 13) if b == b"abc" && t.is_empty()
        ));
        assert!(matches!(
            dechunk(b"3\r\nabcd\r\n0\r\n\r\n"),
            Chunked::Bad(_)
        ));
        assert!(matches!(dechunk(b"zz\r\n"), Chunked::Bad(_)));
        assert!(matches!(dechunk(b"3\r\nab"), Chunked::More));
        assert!(matches!(
            dechunk(b"0\r\nX-T: t\r\n\r\n"),
            Chunked::Done(b, t, 13) if b.is_empty() && t == [b"X-T: t".to_vec()]
        ));
    }
}
