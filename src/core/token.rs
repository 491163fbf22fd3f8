//! A bearer token: borrowed from the request's header, printed redacted,
//! exposed only where it goes to its provider.

use std::fmt;

use http::HeaderValue;

/// A bearer token borrowed from the request. Prints redacted.
#[derive(Clone)]
pub struct Token {
    value: HeaderValue,
    start: usize,
    end: usize,
}

// === impl Token ===

impl Token {
    /// A token from a string (CLI, tests).
    pub fn new(token: &str) -> Option<Self> {
        let value = HeaderValue::from_str(token).ok()?;
        is_b64token(token).then(|| Token {
            value,
            start: 0,
            end: token.len(),
        })
    }

    /// The token at `start..end` of a header value (already checked).
    pub fn from_header(value: &HeaderValue, start: usize, end: usize) -> Self {
        // `HeaderValue` clones share their bytes: no copy of the token.
        Token {
            value: value.clone(),
            start,
            end,
        }
    }

    /// The token's bytes: what the cache digests, where a 2 KB JWT would
    /// otherwise be checked as UTF-8 again on every request.
    pub fn as_bytes(&self) -> &[u8] {
        self.value
            .as_bytes()
            .get(self.start..self.end)
            .unwrap_or_default()
    }

    /// The token text, for the one place that sends it to a provider.
    pub fn expose(&self) -> &str {
        // Checked to be visible ASCII when classified or built; `from_utf8`
        // is a fast pass over ASCII, `HeaderValue::to_str` a slow one.
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// RFC 6750 §2.1: `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
pub fn is_b64token(t: &str) -> bool {
    let body = t.trim_end_matches('=');
    // One pass without an early exit (see `visible_ascii`); `-`..=`9` is
    // `-`, `.`, `/` and the digits, one range where four tests were.
    let allowed = |b: u8| {
        b.is_ascii_alphabetic() | (b'-'..=b'9').contains(&b) | matches!(b, b'+' | b'_' | b'~')
    };
    !body.is_empty() && body.bytes().fold(true, |ok, b| ok & allowed(b))
}
