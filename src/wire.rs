//! HTTP/1.1 heads as bytes, shared by the lean server loop and the lean
//! upstream client: where a parsed head's headers sit, header maps whose
//! values share the head's bytes, and writing a header line.

use bytes::{BufMut, Bytes, BytesMut};
use http::header::{HeaderMap, HeaderName, HeaderValue};

/// Where one header's name and value sit in a head, as byte offsets: the
/// head is parsed in the read buffer, then split off it and shared, so the
/// header map refers to it instead of copying each value.
#[derive(Clone, Copy)]
pub(crate) struct Span {
    name: (usize, usize),
    value: (usize, usize),
}

/// Where `part`, a slice httparse returned from `buf`, sits in it. A
/// non-empty part is bytes of `buf`; an empty one may point anywhere, and
/// any empty range stands for it.
pub(crate) fn offsets(buf: &[u8], part: &[u8]) -> (usize, usize) {
    if part.is_empty() {
        return (0, 0);
    }
    let start = part.as_ptr() as usize - buf.as_ptr() as usize;
    (start, start + part.len())
}

/// Records where `headers`, parsed by httparse from `buf`, sit in it.
pub(crate) fn record(buf: &[u8], headers: &[httparse::Header<'_>], spans: &mut Vec<Span>) {
    spans.clear();
    spans.extend(headers.iter().map(|h| Span {
        name: offsets(buf, h.name.as_bytes()),
        value: offsets(buf, h.value),
    }));
}

/// The header map of a head split off the buffer `spans` were recorded in,
/// with `room` for headers still to be added; `None` if a name or value is
/// not one `http` accepts.
pub(crate) fn header_map(head: &Bytes, spans: &[Span], room: usize) -> Option<HeaderMap> {
    let mut headers = HeaderMap::with_capacity(spans.len() + room);
    for s in spans {
        let name = HeaderName::from_bytes(&head[s.name.0..s.name.1]).ok()?;
        let value = HeaderValue::from_maybe_shared(head.slice(s.value.0..s.value.1)).ok()?;
        headers.append(name, value);
    }
    Some(headers)
}

/// The comma-separated tokens of every `name` header, trimmed.
pub(crate) fn tokens<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
) -> impl Iterator<Item = &'a [u8]> + 'a {
    headers
        .get_all(name)
        .into_iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
}

/// Whether a `Connection` header says `close` (RFC 9112 §9.6).
pub(crate) fn says_close(headers: &HeaderMap) -> bool {
    tokens(headers, &http::header::CONNECTION).any(|t| t.eq_ignore_ascii_case(b"close"))
}

/// Writes `name: value` and the line end.
pub(crate) fn put_header(out: &mut BytesMut, name: &[u8], value: &[u8]) {
    out.put_slice(name);
    out.put_slice(b": ");
    out.put_slice(value);
    out.put_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header map of a request head, as the lean loop builds it.
    fn map_of(head: &Bytes) -> HeaderMap {
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
        let map = map_of(&head);
        assert_eq!(map.get("host").unwrap(), "a");
        let xa: Vec<_> = map.get_all("x-a").iter().collect();
        assert_eq!(xa, ["1", "2"]);
        assert!(says_close(&map));
        // The value is a view of the head, not a copy.
        let host = map.get("host").unwrap().as_bytes();
        assert!(head.as_ptr_range().contains(&host.as_ptr()));
    }

    #[test]
    fn empty_and_blank_values_are_kept_as_empty() {
        let head = Bytes::from_static(
            b"GET / HTTP/1.1\r\nX-Empty:\r\nX-Blank:   \r\nX-Tab:\t\r\nHost: a\r\n\r\n",
        );
        let map = map_of(&head);
        for name in ["x-empty", "x-blank", "x-tab"] {
            assert_eq!(map.get(name).unwrap(), "", "{name}");
        }
        assert_eq!(map.get("host").unwrap(), "a");
    }
}
