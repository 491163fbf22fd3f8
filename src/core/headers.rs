//! Header names restgate owns: the hop-by-hop ones, those an identity
//! header may not take, and the spoofable set stripped from every request
//! (SPEC §1 step 1), matched case-insensitively and with `_` for `-`.

use http::header::{self, HeaderMap, HeaderName};

/// Connection-specific headers a proxy must not forward (RFC 9110 §7.6.1), plus
/// the proxy credentials addressed to this hop (RFC 9110 §11.7).
pub static HOP_BY_HOP: [HeaderName; 8] = [
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

/// Whether two header names are the same header to an upstream that reads
/// `_` as `-` (CGI-style variables).
pub fn same_name(a: &HeaderName, b: &HeaderName) -> bool {
    a.as_str().replace('_', "-") == b.as_str().replace('_', "-")
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn names_that_differ_only_by_underscores_are_the_same_header() {
        let n = |s: &str| HeaderName::from_bytes(s.as_bytes()).unwrap();
        assert!(same_name(&n("x-forwarded-user"), &n("X_Forwarded_User")));
        assert!(!same_name(&n("x-forwarded-user"), &n("x-forwarded-users")));
    }
}
