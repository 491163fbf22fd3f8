//! Forwarding header rules: hop-by-hop (RFC 9110 §7.6.1), upgrades and
//! `X-Forwarded-*`.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::core::headers::HOP_BY_HOP;

/// [`HOP_BY_HOP`] by spelling: a length switch and one comparison, where
/// `HeaderName` equality against each entry was a tenth of the forwarding.
fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "proxy-connection"
            | "keep-alive"
            | "te"
            | "transfer-encoding"
            | "upgrade"
            | "proxy-authorization"
            | "proxy-authenticate"
    )
}

/// Removes hop-by-hop headers and those named by `Connection`. A message
/// with `Transfer-Encoding` also loses its `Content-Length`: the encoding
/// overrode it, and a proxy must not pass it on with a body it frames anew
/// (RFC 9112 §6.3).
pub fn remove_hop_by_hop(headers: &mut HeaderMap) {
    // Usually none is there: one pass over a handful of names, instead of a
    // hashed removal per hop-by-hop name.
    if !headers.keys().any(is_hop_by_hop) {
        return;
    }
    if headers.contains_key(header::TRANSFER_ENCODING) {
        headers.remove(header::CONTENT_LENGTH);
    }
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for name in listed.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(name);
    }
}

/// The `Upgrade` protocol of a request or response that asks for one.
pub fn upgrade_protocol(headers: &HeaderMap) -> Option<HeaderValue> {
    let asks = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    asks.then(|| headers.get(header::UPGRADE).cloned())
        .flatten()
}

/// Puts back `Connection: upgrade` and `Upgrade` after hop-by-hop removal.
pub fn restore_upgrade(headers: &mut HeaderMap, protocol: HeaderValue) {
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, protocol);
}

/// Sets `X-Forwarded-For` (appended), `-Proto` and `-Host` (replaced).
pub fn set_forwarded(headers: &mut HeaderMap, peer_ip: Option<HeaderValue>, proto: &'static str) {
    const XFF: HeaderName = HeaderName::from_static("x-forwarded-for");
    if let Some(ip) = peer_ip {
        let prior: Vec<&str> = headers
            .get_all(&XFF)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        // Usually there is none: the connection's own value is used as is.
        let value = if prior.is_empty() {
            Some(ip)
        } else {
            let ip = ip.to_str().unwrap_or_default();
            HeaderValue::from_str(&format!("{}, {ip}", prior.join(", "))).ok()
        };
        if let Some(v) = value {
            headers.insert(XFF, v);
        }
    }
    headers.insert(
        HeaderName::from_static("x-forwarded-proto"),
        HeaderValue::from_static(proto),
    );
    match headers.get(header::HOST).cloned() {
        Some(host) => {
            headers.insert(HeaderName::from_static("x-forwarded-host"), host);
        }
        None => {
            headers.remove("x-forwarded-host");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header map of these names and values.
    fn map(headers: &[(&'static str, &'static str)]) -> HeaderMap {
        headers
            .iter()
            .map(|&(n, v)| (HeaderName::from_static(n), HeaderValue::from_static(v)))
            .collect()
    }

    #[test]
    fn a_transfer_encoding_takes_the_content_length_with_it() {
        let mut h = map(&[
            ("content-length", "3"),
            ("transfer-encoding", "chunked"),
            ("content-type", "text/plain"),
        ]);
        remove_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1, "{h:?}");
        let mut h = map(&[("content-length", "3"), ("connection", "keep-alive")]);
        remove_hop_by_hop(&mut h);
        assert_eq!(h.get(header::CONTENT_LENGTH).unwrap(), "3");
    }

    #[test]
    fn the_hop_by_hop_spelling_check_agrees_with_the_list() {
        for name in &HOP_BY_HOP {
            assert!(is_hop_by_hop(name), "{name}");
        }
        for name in [
            header::HOST,
            header::AUTHORIZATION,
            header::CONTENT_LENGTH,
            HeaderName::from_static("x-upgrade"),
            HeaderName::from_static("keep-alive-x"),
        ] {
            assert!(!is_hop_by_hop(&name), "{name}");
        }
    }

    #[test]
    fn hop_by_hop_and_connection_listed_headers_are_removed() {
        let mut h = map(&[
            ("connection", "keep-alive, X-Secret-Hop"),
            ("x-secret-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("te", "trailers"),
            ("proxy-authorization", "Basic eA=="),
            ("accept", "*/*"),
        ]);
        remove_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key(header::ACCEPT));
    }

    #[test]
    fn forwarded_headers_append_for_and_replace_proto_and_host() {
        let mut h = map(&[
            ("x-forwarded-for", "10.0.0.1"),
            ("x-forwarded-proto", "https"),
            ("host", "jira.example.com"),
        ]);
        set_forwarded(&mut h, Some(HeaderValue::from_static("127.0.0.1")), "http");
        assert_eq!(h["x-forwarded-for"], "10.0.0.1, 127.0.0.1");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-host"], "jira.example.com");
    }
}

/// This process's pseudonym in `Via` (RFC 9110 §7.6.3): random, so it names
/// no host, and the same for every request this process forwards.
static PSEUDONYM: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("restgate-{:08x}", rand::random::<u32>()));

/// This process's own `Via` entry, made once: most requests carry no `Via`,
/// and then it is set without building anything.
static VIA_ENTRY: std::sync::LazyLock<HeaderValue> = std::sync::LazyLock::new(|| {
    HeaderValue::from_str(&format!("1.1 {}", *PSEUDONYM)).expect("the pseudonym is visible ASCII")
});

/// Whether a request already passed through this process: a `Via` entry
/// with its pseudonym. Only then: another restgate's entry is a chain of
/// gateways, not a loop.
pub fn passed_here(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::VIA)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|entry| entry.split_whitespace().nth(1) == Some(PSEUDONYM.as_str()))
}

/// Adds this process to `Via`, after the entries of the proxies before it.
pub fn add_via(headers: &mut HeaderMap) {
    let prior: Vec<&str> = headers
        .get_all(header::VIA)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if prior.is_empty() {
        headers.insert(header::VIA, VIA_ENTRY.clone());
        return;
    }
    let ours = VIA_ENTRY.to_str().unwrap_or_default();
    let value = format!("{}, {ours}", prior.join(", "));
    if let Ok(v) = HeaderValue::from_str(&value) {
        headers.insert(header::VIA, v);
    }
}

#[cfg(test)]
mod via_tests {
    use super::*;

    #[test]
    fn a_request_that_passed_here_is_known_and_another_gateways_is_not() {
        let mut h = HeaderMap::new();
        assert!(!passed_here(&h));
        h.insert(
            header::VIA,
            HeaderValue::from_static("1.1 lb, 1.1 restgate-00000000"),
        );
        assert!(!passed_here(&h), "another restgate");
        add_via(&mut h);
        assert!(passed_here(&h));
        let via = h[header::VIA].to_str().unwrap().to_owned();
        assert!(
            via.starts_with("1.1 lb, 1.1 restgate-00000000, 1.1 restgate-"),
            "{via}"
        );
    }
}
