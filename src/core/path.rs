//! Path canonicalisation for matching (SPEC §1 step 2), and path prefixes
//! that match whole segments. The path is canonicalised only for matching;
//! the request goes upstream as sent. Canonicalisation follows what Tomcat
//! does before servlet mapping (decode, drop `;params`, merge `/`, resolve
//! dot segments), and refuses what servlet containers disagree on, so that no
//! spelling of a protected path can be matched as an unprotected one.

use std::borrow::Cow;

/// Why a path cannot be made canonical safely (each gets `400`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// Not starting with `/` (e.g. `*` or an absolute URI).
    #[error("the path must start with `/`")]
    NotAbsolute,
    /// `%2F`: servlet containers disagree on it.
    #[error("an encoded `/` (%2F) is not accepted")]
    EncodedSlash,
    /// `\` or `%5C`.
    #[error("a backslash is not accepted")]
    Backslash,
    /// `%3B`: servlet containers disagree on it.
    #[error("an encoded `;` (%3B) is not accepted")]
    EncodedSemicolon,
    /// `%00` or a raw control character.
    #[error("control characters are not accepted")]
    ControlChar,
    /// `..` above the root.
    #[error("`..` goes above the root")]
    AboveRoot,
    /// `%` not followed by two hex digits.
    #[error("invalid percent-encoding")]
    BadPercent,
    /// Decoded bytes are not UTF-8.
    #[error("the decoded path is not UTF-8")]
    NotUtf8,
}

/// Canonical segments of a request path, for matching only.
pub fn canonicalize(path: &str) -> Result<Vec<Cow<'_, str>>, PathError> {
    let rest = path.strip_prefix('/').ok_or(PathError::NotAbsolute)?;
    let mut out: Vec<Cow<'_, str>> = Vec::with_capacity(8);
    let mut start = 0;
    while start <= rest.len() {
        let end = rest.as_bytes()[start..]
            .iter()
            .position(|&b| b == b'/')
            .map_or(rest.len(), |i| start + i);
        let seg = decode_segment(&rest[start..end])?;
        start = end + 1;
        match &*seg {
            "" | "." => {}
            ".." => {
                out.pop().ok_or(PathError::AboveRoot)?;
            }
            _ => out.push(seg),
        }
    }
    Ok(out)
}

/// Percent-decodes one segment less its path parameters, refusing the bytes
/// containers disagree on. One pass over the bytes when nothing is encoded.
fn decode_segment(raw: &str) -> Result<Cow<'_, str>, PathError> {
    let mut encoded = false;
    let mut end = raw.len();
    for (i, b) in raw.bytes().enumerate() {
        match b {
            // Tomcat ignores path parameters in every segment: `/rest;x/api` is `/rest/api`.
            b';' => {
                end = i;
                break;
            }
            b'\\' => return Err(PathError::Backslash),
            0..=0x1f | 0x7f => return Err(PathError::ControlChar),
            b'%' => encoded = true,
            _ => {}
        }
    }
    let raw = &raw[..end];
    if !encoded {
        return Ok(Cow::Borrowed(raw));
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let hex = bytes.get(i + 1..i + 3).ok_or(PathError::BadPercent)?;
        let byte = (hex_val(hex[0])? << 4) | hex_val(hex[1])?;
        match byte {
            b'/' => return Err(PathError::EncodedSlash),
            b'\\' => return Err(PathError::Backslash),
            b';' => return Err(PathError::EncodedSemicolon),
            0..=0x1f | 0x7f => return Err(PathError::ControlChar),
            _ => out.push(byte),
        }
        i += 3;
    }
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| PathError::NotUtf8)
}

fn hex_val(b: u8) -> Result<u8, PathError> {
    match b {
        b'0'..=b'9' => Ok(b - b'0'),
        b'a'..=b'f' => Ok(b - b'a' + 10),
        b'A'..=b'F' => Ok(b - b'A' + 10),
        _ => Err(PathError::BadPercent),
    }
}

/// A path prefix that matches whole segments: `/rest/api/2/issue` covers
/// `/rest/api/2/issue/10001`, not `/rest/api/2/issuetype`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPrefix {
    segments: Vec<String>,
}

// === impl PathPrefix ===

impl PathPrefix {
    /// Parses a prefix from the config; it must canonicalise.
    pub fn parse(text: &str) -> Result<Self, PathError> {
        let segments = canonicalize(text)?
            .into_iter()
            .map(Cow::into_owned)
            .collect();
        Ok(PathPrefix { segments })
    }

    /// Whether the canonical `path` lies under this prefix.
    pub fn covers(&self, path: &[Cow<'_, str>]) -> bool {
        self.segments.len() <= path.len() && self.segments.iter().zip(path).all(|(a, b)| a == b)
    }

    /// Number of segments (longer prefixes win).
    pub fn depth(&self) -> usize {
        self.segments.len()
    }
}

impl std::fmt::Display for PathPrefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "/{}", self.segments.join("/"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(p: &str) -> Result<String, PathError> {
        canonicalize(p).map(|s| format!("/{}", s.join("/")))
    }

    #[test]
    fn canonical_forms() {
        let table = [
            ("/rest/api/2/myself", "/rest/api/2/myself"),
            ("/rest;x/api/2/myself", "/rest/api/2/myself"),
            ("/rest;jsessionid=1/api;a=b/", "/rest/api"),
            ("//rest/api", "/rest/api"),
            ("/./rest/api", "/rest/api"),
            ("/%72est/api", "/rest/api"),
            ("/x/../rest/api", "/rest/api"),
            ("/rest/%2e%2e/rest/api", "/rest/api"),
            ("/rest/%2E/api", "/rest/api"),
            ("/rest/..;/rest/api", "/rest/api"),
            ("/a%20b", "/a b"),
            ("/", "/"),
        ];
        for (input, want) in table {
            assert_eq!(canon(input).as_deref(), Ok(want), "{input}");
        }
    }

    #[test]
    fn unsafe_paths_are_refused() {
        let table = [
            ("/rest%2Fapi", PathError::EncodedSlash),
            ("/rest%2fapi", PathError::EncodedSlash),
            ("/rest%5Capi", PathError::Backslash),
            ("/rest\\api", PathError::Backslash),
            ("/rest%3Bx/api", PathError::EncodedSemicolon),
            ("/rest%00/api", PathError::ControlChar),
            ("/rest%0a/api", PathError::ControlChar),
            ("/..", PathError::AboveRoot),
            ("/rest/../../x", PathError::AboveRoot),
            ("/rest/%2e%2e/%2e%2e/x", PathError::AboveRoot),
            ("/rest%zz", PathError::BadPercent),
            ("/rest%2", PathError::BadPercent),
            ("/rest%", PathError::BadPercent),
            ("/%ff%fe", PathError::NotUtf8),
            ("*", PathError::NotAbsolute),
            ("rest", PathError::NotAbsolute),
        ];
        for (input, want) in table {
            assert_eq!(canon(input), Err(want), "{input}");
        }
    }

    #[test]
    fn prefixes_match_whole_segments() {
        let p = PathPrefix::parse("/rest/api/2/issue").unwrap();
        let covers = |s: &str| p.covers(&canonicalize(s).unwrap());
        assert!(covers("/rest/api/2/issue"));
        assert!(covers("/rest/api/2/issue/"));
        assert!(covers("/rest/api/2/issue/10001"));
        assert!(!covers("/rest/api/2/issuetype"));
        assert!(!covers("/rest/api/2"));
        assert!(
            PathPrefix::parse("/")
                .unwrap()
                .covers(&canonicalize("/anything").unwrap())
        );
        assert_eq!(PathPrefix::parse("/rest/").unwrap().to_string(), "/rest");
    }
}
