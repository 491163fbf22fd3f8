//! The identity hand-off (SPEC §1 step 7): the one place that sets identity.
//!
//! Common to both modes: an authenticated request loses the client's
//! `Authorization` (always, when restgate replaces it or it held an API key),
//! its API key header and its `Cookie` (a product session would win over the
//! asserted user, atlassian.md §5), gains `X-Atlassian-Token: no-check`, and
//! its response loses `Set-Cookie`.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use http::uri::PathAndQuery;
use http_body_util::{BodyExt, Either, Full, Limited};

use super::oauth1::{self, REQUESTOR, Signer};
use super::upstream::RequestBody;
use crate::config::{Config, IdentityMode};
use crate::core::clock::unix_now;
use crate::core::error::GatewayError;
use crate::core::principal::{API_KEY_PROVIDER, Handoff, Principal};

/// Largest form-encoded body read to sign its parameters.
pub const MAX_FORM_BYTES: usize = 1 << 20;

/// How authenticated requests are handed to the upstream.
pub struct IdentityHandoff {
    strip_authorization: bool,
    api_key_header: HeaderName,
    mode: Mode,
}

enum Mode {
    /// `identity = "header"`
    Header {
        identity: HeaderName,
        email: Option<HeaderName>,
        shared_secret: Option<(HeaderName, HeaderValue)>,
    },
    /// `identity = "oauth1"`
    OAuth1 {
        signer: Box<Signer>,
        /// Users the product ran as someone else: refused without asking again
        /// for `cache.negative_ttl` (a documented derivation: README `[cache]`).
        unknown: moka::sync::Cache<String, ()>,
    },
}

// === impl IdentityHandoff ===

impl IdentityHandoff {
    /// From the config.
    pub fn new(config: &Config) -> Self {
        let up = &config.upstream;
        let mode = match (up.identity, &up.oauth1) {
            (IdentityMode::OAuth1, Some(o)) => Mode::OAuth1 {
                signer: Box::new(Signer::new(o)),
                unknown: moka::sync::Cache::builder()
                    .max_capacity(10_000)
                    .time_to_live(config.cache.negative_ttl)
                    .build(),
            },
            _ => Mode::Header {
                identity: up.identity_header.clone(),
                email: up.email_header.clone(),
                shared_secret: up.shared_secret.as_ref().and_then(|(name, secret)| {
                    let mut v = HeaderValue::from_str(secret.expose()).ok()?;
                    v.set_sensitive(true);
                    Some((name.clone(), v))
                }),
            },
        };
        IdentityHandoff {
            strip_authorization: up.strip_authorization,
            api_key_header: config.auth.api_key_header.clone(),
            mode,
        }
    }

    /// Applies the hand-off to an outgoing request. The strip layer has already
    /// removed any identity header the client sent. Returns the body to send
    /// (a form body read for signing is sent from memory).
    pub async fn apply(
        &self,
        parts: &mut Parts,
        body: RequestBody,
        handoff: &Handoff,
    ) -> Result<RequestBody, GatewayError> {
        let Handoff::Asserted(p) = handoff else {
            return Ok(body);
        };
        let h = &mut parts.headers;
        if self.strip_authorization || is_api_key(p) || matches!(self.mode, Mode::OAuth1 { .. }) {
            h.remove(header::AUTHORIZATION);
        }
        h.remove(&self.api_key_header);
        h.remove(header::COOKIE);
        h.insert(
            HeaderName::from_static("x-atlassian-token"),
            HeaderValue::from_static("no-check"),
        );
        match &self.mode {
            Mode::Header {
                identity,
                email,
                shared_secret,
            } => {
                let user = header_value(&p.user)
                    .ok_or(GatewayError::Internal("username is not a header value"))?;
                h.insert(identity.clone(), user);
                if let (Some(name), Some(email)) =
                    (email, p.email.as_deref().and_then(header_value))
                {
                    h.insert(name.clone(), email);
                }
                if let Some((name, value)) = shared_secret {
                    h.insert(name.clone(), value.clone());
                }
                Ok(body)
            }
            Mode::OAuth1 { signer, unknown } => {
                if unknown.contains_key(&p.user) {
                    return Err(GatewayError::UnknownUser);
                }
                sign(signer, parts, body, &p.user).await
            }
        }
    }

    /// Checks and cleans the upstream response to an authenticated request.
    /// With `oauth1`, a response not run as the asserted user (the products run
    /// an unknown requestor as anonymous) is discarded: `403 unknown_user`.
    pub fn check_response(
        &self,
        headers: &mut HeaderMap,
        handoff: &Handoff,
    ) -> Result<(), GatewayError> {
        let Handoff::Asserted(p) = handoff else {
            return Ok(());
        };
        headers.remove(header::SET_COOKIE);
        if let Mode::OAuth1 { unknown, .. } = &self.mode {
            let ran_as = headers.get("x-ausername").and_then(|v| v.to_str().ok());
            if !ran_as.is_some_and(|u| u.eq_ignore_ascii_case(&p.user)) {
                tracing::warn!(user = %p.user, ran_as = ran_as.unwrap_or("(none)"), "The upstream did not run the request as the asserted user");
                unknown.insert(p.user.clone(), ());
                return Err(GatewayError::UnknownUser);
            }
        }
        Ok(())
    }
}

/// Signs a request for `user` (atlassian.md §2.2): the requestor id is added
/// to the query and signed with the query and any form-body parameters.
async fn sign(
    signer: &Signer,
    parts: &mut Parts,
    body: RequestBody,
    user: &str,
) -> Result<RequestBody, GatewayError> {
    let query = parts.uri.query().unwrap_or_default().to_owned();
    let mut params = oauth1::form_pairs(query.as_bytes());
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';').next().is_some_and(|t| {
                t.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
    let body = if is_form {
        let bytes = match Limited::new(body, MAX_FORM_BYTES).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                return Err(GatewayError::FormTooLarge);
            }
            Err(_) => return Err(GatewayError::Internal("the client's form body ended early")),
        };
        params.extend(oauth1::form_pairs(&bytes));
        Either::Right(Full::new(bytes))
    } else {
        body
    };
    if params.iter().any(|(k, _)| oauth1::is_reserved_parameter(k)) {
        return Err(GatewayError::ImpersonationParameter);
    }
    params.push((REQUESTOR.to_owned(), user.to_owned()));
    let path = parts.uri.path().to_owned();
    let requestor = format!("{REQUESTOR}={}", oauth1::encode(user));
    let pq = if query.is_empty() {
        format!("{path}?{requestor}")
    } else {
        format!("{path}?{query}&{requestor}")
    };
    let pq = PathAndQuery::try_from(pq)
        .map_err(|_| GatewayError::Internal("cannot build the signed request URI"))?;
    let mut uri = parts.uri.clone().into_parts();
    uri.path_and_query = Some(pq);
    parts.uri = http::Uri::from_parts(uri)
        .map_err(|_| GatewayError::Internal("cannot build the signed request URI"))?;
    let auth = signer
        .authorization(&parts.method, &path, &params, unix_now(), &oauth1::nonce())
        .map_err(|_| GatewayError::Internal("cannot sign the request"))?;
    let auth = HeaderValue::from_str(&auth)
        .map_err(|_| GatewayError::Internal("OAuth header is not a header value"))?;
    parts.headers.insert(header::AUTHORIZATION, auth);
    Ok(body)
}

fn is_api_key(p: &Principal) -> bool {
    &*p.provider == API_KEY_PROVIDER
}

/// Usernames are checked at mapping (no control characters); non-ASCII goes as
/// UTF-8 bytes.
fn header_value(s: &str) -> Option<HeaderValue> {
    HeaderValue::from_bytes(s.as_bytes())
        .ok()
        .filter(|v| !v.is_empty())
}
