//! The client's response reader: status, reason, header multiset, how each
//! response was framed, the decoded body, and how the connection ended.

#[allow(unused_imports, reason = "shares the request reader's header helpers")]
use super::wire::*;

/// How a response body was delimited on the wire to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// 1xx, 204, 304, or an answer to `HEAD`.
    None,
    Length(u64),
    Chunked,
    /// Until the connection closed.
    Close,
}

/// One response the client got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resp {
    pub version: u8,
    pub status: u16,
    pub reason: Vec<u8>,
    pub headers: Headers,
    pub framing: Framing,
    pub body: Vec<u8>,
    /// Trailer lines of a chunked body, as sent.
    pub trailers: Vec<Vec<u8>>,
}

/// What followed the last whole response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tail {
    /// Nothing.
    Clean,
    /// A response that ended early: its head (if whole) and the body so far.
    Truncated(Option<Box<Resp>>),
    /// Bytes that are not an HTTP/1.x response.
    Garbage(Vec<u8>),
}

/// The responses in `bytes` (the connection closed after them if `eof`).
/// `heads[i]` says whether the i-th final response answers `HEAD` (past the
/// list: not). Returns the responses, what followed them, and how many were
/// final (not 1xx).
pub fn read_responses(bytes: &[u8], eof: bool, heads: &[bool]) -> (Vec<Resp>, Tail, usize) {
    let mut out = Vec::new();
    let mut at = 0;
    let mut finals = 0;
    loop {
        if at == bytes.len() {
            return (out, Tail::Clean, finals);
        }
        let rest = &bytes[at..];
        let mut parsed = [httparse::EMPTY_HEADER; 128];
        let mut res = httparse::Response::new(&mut parsed);
        let len = match res.parse(rest) {
            Ok(httparse::Status::Complete(n)) => n,
            // Not a whole head (yet, or ever).
            Ok(httparse::Status::Partial) => return (out, Tail::Truncated(None), finals),
            Err(_) => return (out, Tail::Garbage(rest.to_vec()), finals),
        };
        let status = res.code.unwrap_or_default();
        let mut resp = Resp {
            version: res.version.unwrap_or_default(),
            status,
            reason: res.reason.unwrap_or_default().as_bytes().to_vec(),
            headers: headers_of(res.headers),
            framing: Framing::None,
            body: Vec::new(),
            trailers: Vec::new(),
        };
        let informational = (100..200).contains(&status);
        let head_request = !informational && heads.get(finals).copied().unwrap_or(false);
        let te = tokens(&resp.headers, "transfer-encoding");
        resp.framing = if informational || status == 204 || status == 304 || head_request {
            Framing::None
        } else if !te.is_empty() {
            if te.last().map(Vec::as_slice) == Some(b"chunked") {
                Framing::Chunked
            } else {
                Framing::Close
            }
        } else {
            match content_length(&resp.headers) {
                Ok(Some(n)) => Framing::Length(n),
                Ok(None) => Framing::Close,
                Err(()) => return (out, Tail::Garbage(rest.to_vec()), finals),
            }
        };
        let body = &rest[len..];
        let used = match resp.framing {
            Framing::None => 0,
            Framing::Length(n) => {
                let n = usize::try_from(n).unwrap_or(usize::MAX);
                if body.len() < n {
                    resp.body = body.to_vec();
                    return (out, Tail::Truncated(Some(Box::new(resp))), finals);
                }
                resp.body = body[..n].to_vec();
                n
            }
            Framing::Chunked => match dechunk(body) {
                Chunked::Done(b, trailers, used) => {
                    resp.body = b;
                    resp.trailers = trailers;
                    used
                }
                Chunked::More => {
                    resp.body = body.to_vec();
                    return (out, Tail::Truncated(Some(Box::new(resp))), finals);
                }
                Chunked::Bad(_) => return (out, Tail::Garbage(rest.to_vec()), finals),
            },
            Framing::Close => {
                resp.body = body.to_vec();
                if !eof {
                    return (out, Tail::Truncated(Some(Box::new(resp))), finals);
                }
                body.len()
            }
        };
        at += len + used;
        if !informational {
            finals += 1;
        }
        out.push(resp);
    }
}
