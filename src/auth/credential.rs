//! Credential classification (SPEC §1 step 4): what does this request carry?
//!
//! Knows nothing of validation; it only reads headers and decides the class. The
//! order of the checks is the SPEC's table, first match wins.

use std::borrow::Cow;
use std::fmt;

pub use crate::core::token::Token;
use crate::core::token::is_b64token;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::{HeaderMap, HeaderName, HeaderValue, header};

/// A native Atlassian credential, forwarded untouched (the kind is for logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NativeKind {
    /// Jira / Confluence personal access token.
    PersonalAccessToken,
    /// Bitbucket HTTP access token (`BBDC-…`).
    BitbucketToken,
    /// Data Center OAuth 2.0 provider token.
    DataCenterOAuth2,
    /// `Authorization: Basic`.
    Basic,
    /// `Authorization: OAuth` (application links).
    OAuth1,
    /// Another `Authorization` scheme.
    OtherScheme,
    /// A product session cookie.
    SessionCookie,
}

impl NativeKind {
    /// A short name for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            NativeKind::PersonalAccessToken => "pat",
            NativeKind::BitbucketToken => "bitbucket_token",
            NativeKind::DataCenterOAuth2 => "dc_oauth2",
            NativeKind::Basic => "basic",
            NativeKind::OAuth1 => "oauth1",
            NativeKind::OtherScheme => "other_scheme",
            NativeKind::SessionCookie => "session_cookie",
        }
    }
}

/// What a request carries.
#[derive(Debug)]
pub enum Credential {
    /// Nothing.
    None,
    /// An Atlassian-native credential.
    Native(NativeKind),
    /// A restgate API key; from Basic auth, the user it must belong to.
    ApiKey {
        /// The key.
        key: ApiKeyText,
        /// The Basic user name, which must be the key's user.
        user: Option<String>,
    },
    /// An OAuth access token for the providers.
    Bearer(Token),
}

/// An API key as presented. Prints redacted.
pub struct ApiKeyText(pub String);

impl fmt::Debug for ApiKeyText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// A malformed credential (`400 invalid_request`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// Two `Authorization` headers.
    #[error("more than one Authorization header")]
    DuplicateAuthorization,
    /// Two API key headers.
    #[error("more than one API key header")]
    DuplicateApiKey,
    /// `Bearer` with nothing after it.
    #[error("empty bearer token")]
    EmptyBearer,
    /// `Bearer a b`.
    #[error("more than one bearer token")]
    TwoTokens,
    /// Characters outside RFC 6750's b64token.
    #[error("bearer token has characters RFC 6750 does not allow")]
    BadToken,
    /// Control or non-ASCII characters in a credential header.
    #[error("control or non-ASCII characters in a credential header")]
    BadCharacters,
    /// Basic credentials that are not base64 of `user:password`.
    #[error("Basic credentials are not base64 of user:password")]
    BadBasic,
    /// An empty API key header.
    #[error("empty API key")]
    EmptyApiKey,
}

/// The settings classification needs.
#[derive(Debug, Clone)]
pub struct Classifier {
    /// The API key prefix (`rgk_`).
    pub api_key_prefix: String,
    /// The API key header.
    pub api_key_header: HeaderName,
    /// Cookie names that are product sessions.
    pub session_cookies: Vec<String>,
}

/// The `Authorization` header, parsed.
enum Authz<'a> {
    Absent,
    /// The header, its token, and where the token starts in it.
    Bearer {
        value: &'a HeaderValue,
        token: &'a str,
        start: usize,
    },
    Basic {
        user: String,
        password: String,
    },
    OAuth,
    Other,
}

// === impl Classifier ===

impl Classifier {
    /// Classifies the request's credential.
    pub fn classify(&self, headers: &HeaderMap) -> Result<Credential, CredentialError> {
        let authz = parse_authorization(headers)?;
        let prefix = self.api_key_prefix.as_str();
        match authz {
            Authz::Bearer { token, .. } if token.starts_with(prefix) => {
                let key = ApiKeyText(token.to_owned());
                return Ok(Credential::ApiKey { key, user: None });
            }
            Authz::Basic { ref password, .. } if password.starts_with(prefix) => {
                let Authz::Basic { user, password } = authz else {
                    unreachable!("matched above")
                };
                return Ok(Credential::ApiKey {
                    key: ApiKeyText(password),
                    user: Some(user),
                });
            }
            _ => {}
        }
        if let Some(key) = self.api_key_header(headers)? {
            return Ok(Credential::ApiKey { key, user: None });
        }
        Ok(match authz {
            Authz::Bearer {
                value,
                token,
                start,
            } => match native_token(token) {
                Some(kind) => Credential::Native(kind),
                None => Credential::Bearer(Token::from_header(value, start, start + token.len())),
            },
            Authz::Basic { .. } => Credential::Native(NativeKind::Basic),
            Authz::OAuth => Credential::Native(NativeKind::OAuth1),
            Authz::Other => Credential::Native(NativeKind::OtherScheme),
            Authz::Absent if self.has_session_cookie(headers) => {
                Credential::Native(NativeKind::SessionCookie)
            }
            Authz::Absent => Credential::None,
        })
    }

    fn api_key_header(&self, headers: &HeaderMap) -> Result<Option<ApiKeyText>, CredentialError> {
        let mut values = headers.get_all(&self.api_key_header).iter();
        let Some(v) = values.next() else {
            return Ok(None);
        };
        if values.next().is_some() {
            return Err(CredentialError::DuplicateApiKey);
        }
        let text = visible_ascii(v)?.trim();
        if text.is_empty() {
            return Err(CredentialError::EmptyApiKey);
        }
        Ok(Some(ApiKeyText(text.to_owned())))
    }

    fn has_session_cookie(&self, headers: &HeaderMap) -> bool {
        headers.get_all(header::COOKIE).iter().any(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .split(';')
                .any(|pair| {
                    let name = pair.split_once('=').map_or(pair, |(n, _)| n).trim();
                    self.session_cookies.iter().any(|c| c == name)
                })
        })
    }
}

/// The header's text, if every byte is visible ASCII or a space.
///
/// Bearer tokens are mostly an identity provider's JWTs, a kilobyte or two
/// long, and this runs on every request: the checks here are single passes
/// without an early exit, which the compiler turns into vector code.
fn visible_ascii(v: &HeaderValue) -> Result<&str, CredentialError> {
    let bytes = v.as_bytes();
    if !bytes
        .iter()
        .fold(true, |ok, &b| ok & (0x20..0x7f).contains(&b))
    {
        return Err(CredentialError::BadCharacters);
    }
    std::str::from_utf8(bytes).map_err(|_| CredentialError::BadCharacters)
}

fn parse_authorization(headers: &HeaderMap) -> Result<Authz<'_>, CredentialError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(Authz::Absent);
    };
    if values.next().is_some() {
        return Err(CredentialError::DuplicateAuthorization);
    }
    let text = visible_ascii(value)?;
    let (scheme, rest) = text.split_once(' ').unwrap_or((text, ""));
    if scheme.eq_ignore_ascii_case("bearer") {
        let token = rest.trim_start_matches(' ');
        let start = text.len() - token.len();
        let token = token.trim_end_matches(' ');
        if token.is_empty() {
            return Err(CredentialError::EmptyBearer);
        }
        if !is_b64token(token) {
            return Err(if token.contains(' ') {
                CredentialError::TwoTokens
            } else {
                CredentialError::BadToken
            });
        }
        return Ok(Authz::Bearer {
            value,
            token,
            start,
        });
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = STANDARD
            .decode(rest.trim())
            .map_err(|_| CredentialError::BadBasic)?;
        let decoded = String::from_utf8(decoded).map_err(|_| CredentialError::BadBasic)?;
        let (user, password) = decoded.split_once(':').ok_or(CredentialError::BadBasic)?;
        return Ok(Authz::Basic {
            user: user.to_owned(),
            password: password.to_owned(),
        });
    }
    if scheme.eq_ignore_ascii_case("oauth") {
        return Ok(Authz::OAuth);
    }
    Ok(Authz::Other)
}

/// Atlassian-native bearer tokens (atlassian.md §4).
pub fn native_token(t: &str) -> Option<NativeKind> {
    if t.starts_with("BBDC-") {
        return Some(NativeKind::BitbucketToken);
    }
    if is_personal_access_token(t) {
        return Some(NativeKind::PersonalAccessToken);
    }
    if is_dc_oauth2_token(t) {
        return Some(NativeKind::DataCenterOAuth2);
    }
    None
}

/// 44 base64 characters decoding to 33 bytes: 12 ASCII digits, `:`, 20 random bytes.
fn is_personal_access_token(t: &str) -> bool {
    if t.len() != 44 {
        return false;
    }
    match STANDARD.decode(t) {
        Ok(b) => b.len() == 33 && b[..12].iter().all(u8::is_ascii_digit) && b[12] == b':',
        Err(_) => false,
    }
}

/// An HS256 JWT whose payload holds only `id`: the DC OAuth 2.0 provider's token.
///
/// Every bearer token is asked, and most are an identity provider's RS256
/// JWTs: their header, a few dozen bytes, settles it, so the payload is not
/// decoded and only `alg` is read from the header, borrowed.
/// `jsonwebtoken::decode_header` would say the same, but it scans the whole
/// token and fills every header field: 8,000 more instructions per request
/// with a 1.2 KB token (callgrind), on every request that carries one.
fn is_dc_oauth2_token(t: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct JoseHeader<'a> {
        #[serde(borrow)]
        alg: Option<Cow<'a, str>>,
    }
    let Some((h, rest)) = t.split_once('.') else {
        return false;
    };
    let Ok(header) = URL_SAFE_NO_PAD.decode(h) else {
        return false;
    };
    let is_hs256 = match serde_json::from_slice::<JoseHeader<'_>>(&header) {
        Ok(header) => header.alg.as_deref() == Some("HS256"),
        Err(_) => false,
    };
    // serde reads a struct from a JSON array too (`["HS256"]`): a JOSE
    // header is an object.
    if !is_hs256 || !header.trim_ascii_start().starts_with(b"{") {
        return false;
    }
    let mut parts = rest.split('.');
    let (Some(p), Some(_), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let payload = URL_SAFE_NO_PAD.decode(p).ok().and_then(|p| {
        serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&p).ok()
    });
    payload.is_some_and(|payload| payload.len() == 1 && payload.contains_key("id"))
}

/// A readable label for a credential class, for logs.
pub fn class_name(c: &Credential) -> Cow<'static, str> {
    match c {
        Credential::None => "none".into(),
        Credential::Native(k) => format!("native:{}", k.as_str()).into(),
        Credential::ApiKey { .. } => "api_key".into(),
        Credential::Bearer(_) => "bearer".into(),
    }
}

#[cfg(test)]
mod tests;
