//! HTTP/1.1 heads as bytes, shared by the lean server loop and the lean
//! upstream client: where a parsed head's headers sit, header maps whose
//! values share the head's bytes, and writing a header line.

use bytes::{BufMut, Bytes};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Where one header's name and value sit in a head, as byte offsets: the
/// head is parsed in the read buffer, then split off it and shared, so the
/// header map refers to it instead of copying each value.
#[derive(Clone, Copy)]
pub struct Span {
    name: (usize, usize),
    value: (usize, usize),
}

/// Where `part`, a slice httparse returned from `buf`, sits in it. A
/// non-empty part is bytes of `buf`; an empty one may point anywhere, and
/// any empty range stands for it.
pub fn offsets(buf: &[u8], part: &[u8]) -> (usize, usize) {
    if part.is_empty() {
        return (0, 0);
    }
    let start = part.as_ptr() as usize - buf.as_ptr() as usize;
    (start, start + part.len())
}

/// Records where `headers`, parsed by httparse from `buf`, sit in it.
pub fn record(buf: &[u8], headers: &[httparse::Header<'_>], spans: &mut Vec<Span>) {
    spans.clear();
    spans.extend(headers.iter().map(|h| Span {
        name: offsets(buf, h.name.as_bytes()),
        value: offsets(buf, h.value),
    }));
}

/// What a head's framing and connection headers say, noted while its map
/// is built: each would otherwise be a hashed lookup per request.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Noted {
    /// How many `Content-Length` lines there are.
    pub content_lengths: usize,
    pub transfer_encoding: bool,
    pub upgrade: bool,
    pub expect: bool,
    /// A `Connection` header says `close` (RFC 9112 §9.6).
    pub close: bool,
}

impl Noted {
    pub fn note(&mut self, name: &HeaderName, value: &[u8]) {
        if *name == header::CONTENT_LENGTH {
            self.content_lengths += 1;
        } else if *name == header::TRANSFER_ENCODING {
            self.transfer_encoding = true;
        } else if *name == header::CONNECTION {
            self.close |= value
                .split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"));
        } else if *name == header::UPGRADE {
            self.upgrade = true;
        } else if *name == header::EXPECT {
            self.expect = true;
        }
    }
}

/// The header map of a head split off the buffer `spans` were recorded in,
/// with `room` for headers still to be added, and what its framing headers
/// say; `None` if a name or value is not one `http` accepts.
pub fn header_map(head: &Bytes, spans: &[Span], room: usize) -> Option<(HeaderMap, Noted)> {
    let mut headers = HeaderMap::with_capacity(spans.len() + room);
    let mut noted = Noted::default();
    for s in spans {
        let name = HeaderName::from_bytes(&head[s.name.0..s.name.1]).ok()?;
        let value = HeaderValue::from_maybe_shared(head.slice(s.value.0..s.value.1)).ok()?;
        noted.note(&name, value.as_bytes());
        headers.append(name, value);
    }
    Some((headers, noted))
}

/// The comma-separated tokens of every `name` header, trimmed.
pub fn tokens<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
) -> impl Iterator<Item = &'a [u8]> + 'a {
    headers
        .get_all(name)
        .into_iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
}

/// Writes `name: value` and the line end.
pub fn put_header(out: &mut impl BufMut, name: &[u8], value: &[u8]) {
    out.put_slice(name);
    out.put_slice(b": ");
    out.put_slice(value);
    out.put_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header map of a request head, as the lean loop builds it.
    fn map_of(head: &Bytes) -> (HeaderMap, Noted) {
        let mut parsed = [httparse::EMPTY_HEADER; 8];
        let mut req = httparse::Request::new(&mut parsed);
        assert!(req.parse(head).unwrap().is_complete());
        let mut spans = Vec::new();
        record(head, req.headers, &mut spans);
        header_map(head, &spans, 4).unwrap()
    }

    #[test]
    fn header_maps_share_the_head_and_keep_every_value() {
        let head = Bytes::from_static(b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nx-a: 2\r\nConnection: keep-alive, Close\r\n\r\n");
        let (map, noted) = map_of(&head);
        assert_eq!(map.get("host").unwrap(), "a");
        let xa: Vec<_> = map.get_all("x-a").iter().collect();
        assert_eq!(xa, ["1", "2"]);
        assert!(noted.close);
        // The value is a view of the head, not a copy.
        let host = map.get("host").unwrap().as_bytes();
        assert!(head.as_ptr_range().contains(&host.as_ptr()));
    }

    #[test]
    fn framing_headers_are_noted_in_any_spelling() {
        let noted = |head: &'static [u8]| map_of(&Bytes::from_static(head)).1;
        assert_eq!(
            noted(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n"),
            Noted::default()
        );
        assert_eq!(
            noted(b"GET / HTTP/1.1\r\ncontent-LENGTH: 1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\nUPGRADE: h2c\r\nExpect: 100-continue\r\nConnection: upgrade\r\nconnection: x, CLOSE \r\n\r\n"),
            Noted {
                content_lengths: 2,
                transfer_encoding: true,
                upgrade: true,
                expect: true,
                close: true,
            }
        );
        // A token that only contains `close` is not `close`.
        assert!(!noted(b"GET / HTTP/1.1\r\nConnection: closed, x-close\r\n\r\n").close);
    }

    #[test]
    fn empty_and_blank_values_are_kept_as_empty() {
        let head = Bytes::from_static(
            b"GET / HTTP/1.1\r\nX-Empty:\r\nX-Blank:   \r\nX-Tab:\t\r\nHost: a\r\n\r\n",
        );
        let (map, _) = map_of(&head);
        for name in ["x-empty", "x-blank", "x-tab"] {
            assert_eq!(map.get(name).unwrap(), "", "{name}");
        }
        assert_eq!(map.get("host").unwrap(), "a");
    }
}
