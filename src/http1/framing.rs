//! How an HTTP/1.1 message's body is delimited (RFC 9112 §6.3), one rule
//! for both sides of the fast path: the client reads an upstream response
//! by it, and the server loop states a response by it.

use http::StatusCode;
use http::header::{self, HeaderMap};

use super::head::{Noted, tokens};

/// How a body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body: a response to `HEAD`, 1xx, 204, 304.
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding` ending in `chunked`.
    Chunked,
    /// Until the connection closes (RFC 9112 §6.3 rules 4 and 8).
    Close,
}

/// What a response's head says of its body, if it says anything:
/// - no body for `HEAD` and for 1xx, 204 and 304 (rules 1–2);
/// - `Transfer-Encoding`: chunked when its last coding is `chunked`, else
///   until the close (rules 3–4); it overrides any `Content-Length`;
/// - `Content-Length`: every value the same number (rule 5, RFC 9110
///   §8.6); lengths that disagree or do not parse are `Err`;
/// - neither: `Ok(None)`, for the caller to decide (a reader reads until
///   the close, rule 8; a writer states a length or chunks).
pub fn response(
    head_request: bool,
    status: StatusCode,
    headers: &HeaderMap,
    noted: Noted,
) -> Result<Option<Framing>, InvalidLength> {
    if head_request
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Ok(Some(Framing::None));
    }
    if noted.transfer_encoding {
        let last = tokens(headers, &header::TRANSFER_ENCODING).last();
        return Ok(Some(
            if last.is_some_and(|t| t.eq_ignore_ascii_case(b"chunked")) {
                Framing::Chunked
            } else {
                Framing::Close
            },
        ));
    }
    if noted.content_lengths == 0 {
        return Ok(None);
    }
    let mut length = None;
    for value in tokens(headers, &header::CONTENT_LENGTH) {
        let n: u64 = std::str::from_utf8(value)
            .ok()
            .filter(|v| v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse().ok())
            .ok_or(InvalidLength)?;
        if length.is_some_and(|l| l != n) {
            return Err(InvalidLength);
        }
        length = Some(n);
    }
    Ok(length.map(Framing::Length))
}

/// Where a body is in its framing.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum State {
    /// This many bytes to go.
    Length(u64),
    /// Until the upstream closes.
    Close,
    /// A chunk size line.
    ChunkSize,
    /// This many bytes of the current chunk to go.
    ChunkData(u64),
    /// The line end after a chunk's data.
    ChunkEnd,
    /// The trailer section.
    Trailers,
    /// The end.
    Done,
}

/// `Content-Length` values that do not parse or disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidLength;

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    type Want = Result<Option<Framing>, InvalidLength>;
    /// A response to `HEAD`?, its status, its headers, the framing.
    type Row = (bool, u16, &'static [(&'static str, &'static str)], Want);

    fn framing(
        head: bool,
        status: u16,
        headers: &[(&str, &str)],
    ) -> Result<Option<Framing>, InvalidLength> {
        let mut map = HeaderMap::new();
        let mut noted = Noted::default();
        for (k, v) in headers {
            let name = http::HeaderName::from_bytes(k.as_bytes()).unwrap();
            noted.note(&name, v.as_bytes());
            map.append(name, HeaderValue::from_str(v).unwrap());
        }
        response(head, StatusCode::from_u16(status).unwrap(), &map, noted)
    }

    #[test]
    fn rfc_9112_section_6_3_in_order() {
        let table: &[Row] = &[
            (
                true,
                200,
                &[("content-length", "5")],
                Ok(Some(Framing::None)),
            ),
            (
                false,
                204,
                &[("content-length", "5")],
                Ok(Some(Framing::None)),
            ),
            (false, 304, &[], Ok(Some(Framing::None))),
            (false, 103, &[], Ok(Some(Framing::None))),
            (
                false,
                200,
                &[
                    ("transfer-encoding", "gzip, chunked"),
                    ("content-length", "5"),
                ],
                Ok(Some(Framing::Chunked)),
            ),
            (
                false,
                200,
                &[("transfer-encoding", "chunked, gzip")],
                Ok(Some(Framing::Close)),
            ),
            (
                false,
                200,
                &[("content-length", "5")],
                Ok(Some(Framing::Length(5))),
            ),
            (
                false,
                200,
                &[("content-length", "5, 5"), ("content-length", "5")],
                Ok(Some(Framing::Length(5))),
            ),
            (
                false,
                200,
                &[("content-length", "5"), ("content-length", "6")],
                Err(InvalidLength),
            ),
            (false, 200, &[("content-length", "+5")], Err(InvalidLength)),
            (
                false,
                200,
                &[("content-length", "five")],
                Err(InvalidLength),
            ),
            (false, 200, &[], Ok(None)),
        ];
        for (head, status, headers, want) in table {
            assert_eq!(
                framing(*head, *status, headers),
                *want,
                "{head} {status} {headers:?}"
            );
        }
    }
}
