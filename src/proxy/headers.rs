//! Header rules: hop-by-hop (RFC 9110 §7.6.1), spoofable identity headers
//! (SPEC §1 step 1), and `X-Forwarded-*`.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Connection-specific headers a proxy must not forward (RFC 9110 §7.6.1), plus
/// the proxy credentials addressed to this hop (RFC 9110 §11.7).
static HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("proxy-connection"),
    HeaderName::from_static("keep-alive"),
    header::TE,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHORIZATION,
    header::PROXY_AUTHENTICATE,
];

/// Names an identity header may not take: HTTP's own and those restgate manages.
static RESERVED: [HeaderName; 9] = [
    header::HOST,
    header::AUTHORIZATION,
    header::COOKIE,
    header::SET_COOKIE,
    header::CONTENT_LENGTH,
    header::CONTENT_TYPE,
    HeaderName::from_static("x-forwarded-for"),
    HeaderName::from_static("x-forwarded-host"),
    HeaderName::from_static("x-atlassian-token"),
];

/// Whether a header name is off limits for identity headers.
pub fn is_reserved(name: &HeaderName) -> bool {
    HOP_BY_HOP.contains(name) || RESERVED.contains(name) || *name == "x-forwarded-proto"
}

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

/// The headers a client may never send upstream, matched case-insensitively and
/// with `_` for `-` (`X_Forwarded_User` reaches CGI-style upstreams as the same
/// variable).
#[derive(Debug, Clone)]
pub struct Spoofable {
    /// Lower-case, `-`-separated names.
    names: Vec<String>,
}

/// Every header with this prefix is restgate's to set.
const RESERVED_PREFIX: &str = "x-restgate-";

// === impl Spoofable ===

impl Spoofable {
    /// The set for these configured header names.
    pub fn new<'a>(names: impl IntoIterator<Item = &'a HeaderName>) -> Self {
        Spoofable {
            names: names
                .into_iter()
                .map(|n| n.as_str().replace('_', "-"))
                .collect(),
        }
    }

    /// Whether a header name is one of ours, in any spelling.
    pub fn matches(&self, name: &HeaderName) -> bool {
        let n = name.as_str().as_bytes();
        let same = |want: &[u8]| {
            want.len() == n.len()
                && n.iter()
                    .zip(want)
                    .all(|(&a, &b)| a == b || (a == b'_' && b == b'-'))
        };
        self.names.iter().any(|w| same(w.as_bytes()))
            || (n.len() >= RESERVED_PREFIX.len() && same_prefix(n, RESERVED_PREFIX.as_bytes()))
    }

    /// Removes every spoofable header. Allocates only when there is one.
    pub fn strip(&self, headers: &mut HeaderMap) {
        let found: Vec<HeaderName> = headers
            .keys()
            .filter(|n| self.matches(n))
            .cloned()
            .collect();
        for name in found {
            tracing::debug!(header = %name, "Removed a client-supplied identity header");
            headers.remove(&name);
        }
    }
}

fn same_prefix(name: &[u8], prefix: &[u8]) -> bool {
    name.iter()
        .zip(prefix)
        .all(|(&a, &b)| a == b || (a == b'_' && b == b'-'))
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
    fn spoofable_headers_match_in_any_spelling() {
        let s = Spoofable::new([
            &HeaderName::from_static("x-forwarded-user"),
            &HeaderName::from_static("x-forwarded-email"),
        ]);
        for n in [
            "x-forwarded-user",
            "X-Forwarded-User",
            "X_FORWARDED_USER",
            "x_forwarded-user",
            "x-forwarded_email",
            "x-restgate-anything",
            "X_Restgate_Secret",
        ] {
            assert!(
                s.matches(&HeaderName::from_bytes(n.as_bytes()).unwrap()),
                "{n}"
            );
        }
        for n in [
            "x-forwarded-users",
            "x-forwarded-use",
            "x-forwarded-for",
            "x-restgat",
            "authorization",
        ] {
            assert!(
                !s.matches(&HeaderName::from_bytes(n.as_bytes()).unwrap()),
                "{n}"
            );
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
