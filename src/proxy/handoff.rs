//! The identity hand-off (SPEC §1 step 7): the one place that sets identity.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::auth::identity::Principal;
use crate::auth::{GatewayError, Handoff};
use crate::config::Upstream;

/// The provider name API-key principals carry.
pub const API_KEY_PROVIDER: &str = "api_key";

/// How authenticated requests are handed to the upstream (`identity = "header"`).
#[derive(Debug, Clone)]
pub struct HeaderHandoff {
    identity: HeaderName,
    email: Option<HeaderName>,
    shared_secret: Option<(HeaderName, HeaderValue)>,
    strip_authorization: bool,
    api_key_header: HeaderName,
}

// === impl HeaderHandoff ===

impl HeaderHandoff {
    /// From the upstream settings.
    pub fn new(upstream: &Upstream, api_key_header: &HeaderName) -> Self {
        let shared_secret = upstream.shared_secret.as_ref().and_then(|(name, secret)| {
            let mut v = HeaderValue::from_str(secret.expose()).ok()?;
            v.set_sensitive(true);
            Some((name.clone(), v))
        });
        HeaderHandoff {
            identity: upstream.identity_header.clone(),
            email: upstream.email_header.clone(),
            shared_secret,
            strip_authorization: upstream.strip_authorization,
            api_key_header: api_key_header.clone(),
        }
    }

    /// Applies the hand-off to an outgoing request's headers. The strip layer has
    /// already removed any identity header the client sent.
    pub fn apply(&self, headers: &mut HeaderMap, handoff: &Handoff) -> Result<(), GatewayError> {
        let Handoff::Asserted(p) = handoff else {
            return Ok(());
        };
        let user = header_value(&p.user)
            .ok_or(GatewayError::Internal("username is not a header value"))?;
        headers.insert(self.identity.clone(), user);
        if let (Some(name), Some(email)) = (&self.email, p.email.as_deref().and_then(header_value))
        {
            headers.insert(name.clone(), email);
        }
        if let Some((name, value)) = &self.shared_secret {
            headers.insert(name.clone(), value.clone());
        }
        // An API key never goes further than restgate, whatever strip_authorization says.
        if self.strip_authorization || is_api_key(p) {
            headers.remove(header::AUTHORIZATION);
        }
        headers.remove(&self.api_key_header);
        // A product session would win over the asserted user (atlassian.md §5).
        headers.remove(header::COOKIE);
        headers.insert(
            HeaderName::from_static("x-atlassian-token"),
            HeaderValue::from_static("no-check"),
        );
        Ok(())
    }

    /// Cleans an upstream response to an authenticated request: an API client
    /// must not walk away with a product session.
    pub fn apply_response(&self, headers: &mut HeaderMap, handoff: &Handoff) {
        if matches!(handoff, Handoff::Asserted(_)) {
            headers.remove(header::SET_COOKIE);
        }
    }
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
