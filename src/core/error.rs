//! Every response restgate makes itself comes from here (SPEC §2).
//!
//! Whose fault is it: the client's (4xx), a provider's (503), the upstream's
//! (502/504), or ours (500). One exhaustive `match`, no wildcard, pinned by a
//! table test. Clients get a generic description; logs get the source chain.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;

use super::path::PathError;
use super::principal::Refusal;

/// A cause kept for the logs.
pub type Source = Box<dyn std::error::Error + Send + Sync>;

/// Seconds a client should wait after a provider failure.
pub const RETRY_AFTER_SECS: u64 = 5;

/// Why restgate answers a request itself.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// No credential on a protected route.
    #[error("no credential on a protected route")]
    MissingCredential,
    /// A native credential where `auth.native = "reject"`.
    #[error("native credentials are refused on this route")]
    NativeRefused,
    /// A malformed credential.
    #[error("malformed credential")]
    MalformedCredential(#[source] Source),
    /// A path that cannot be made canonical safely.
    #[error("uncanonical path")]
    BadPath(#[source] PathError),
    /// A credential rejected by the providers or the key store.
    #[error("invalid token ({})", .0.as_str())]
    InvalidToken(Refusal),
    /// An API key that is unknown, expired or for another user.
    #[error("invalid API key")]
    InvalidApiKey,
    /// The mapped user is not in the local directory.
    #[error("user not in the local directory")]
    UnknownUser,
    /// A route requires scopes the token lacks.
    #[error("missing scopes")]
    InsufficientScope {
        /// The scopes the route requires.
        required: String,
    },
    /// A route requirement other than scope is unmet.
    #[error("route requirement unmet: {0}")]
    Forbidden(&'static str),
    /// The providers could not give an answer.
    #[error("provider unavailable")]
    ProviderUnavailable(#[source] Arc<dyn std::error::Error + Send + Sync>),
    /// The upstream could not be reached.
    #[error("upstream unreachable")]
    UpstreamUnreachable(#[source] Source),
    /// The upstream did not answer in time.
    #[error("upstream timed out")]
    UpstreamTimeout,
    /// A request restgate would sign already names a requestor or OAuth
    /// parameter: a client must never choose the impersonated user.
    #[error("the request carries an impersonation or OAuth parameter")]
    ImpersonationParameter,
    /// A form body too large to read for signing.
    #[error("form body too large to sign")]
    FormTooLarge,
    /// The local directory could not be asked.
    #[error("directory lookup failed")]
    DirectoryUnavailable,
    /// The request already passed through this restgate: the upstream
    /// points back at it.
    #[error("proxy loop: the request already passed through this restgate")]
    LoopDetected,
    /// Over a budget of provider calls: no provider was asked.
    #[error("rate limited: {0}")]
    RateLimited(crate::core::budget::Limited),
    /// A bug or an impossible state.
    #[error("internal error: {0}")]
    Internal(&'static str),
    /// An error met once the identity was known (a route's rule, the
    /// product refusing the user, the upstream failing): answered exactly
    /// as the wrapped error, and the decision records who it was for.
    #[error("{error}")]
    Acting {
        /// Who the request would have acted as.
        user: std::sync::Arc<crate::core::principal::Principal>,
        /// What went wrong.
        error: Box<GatewayError>,
    },
}

/// What a client is told: status, `error` code, description, challenge.
struct Rendered {
    status: StatusCode,
    code: &'static str,
    description: &'static str,
    challenge: Challenge,
}

enum Challenge {
    None,
    RealmOnly,
    Error(&'static str),
    Scope,
}

// === impl GatewayError ===

impl GatewayError {
    /// `error`, met while acting as `user`.
    pub fn acting(
        user: std::sync::Arc<crate::core::principal::Principal>,
        error: GatewayError,
    ) -> Self {
        match error {
            already @ GatewayError::Acting { .. } => already,
            error => GatewayError::Acting {
                user,
                error: Box::new(error),
            },
        }
    }

    fn render(&self) -> Rendered {
        use Challenge as C;
        use GatewayError as E;
        let r = |status, code, description, challenge| Rendered {
            status,
            code,
            description,
            challenge,
        };
        match self {
            E::Acting { error, .. } => error.render(),
            E::MissingCredential => r(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "authentication required",
                C::RealmOnly,
            ),
            E::NativeRefused => r(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this credential type is not accepted here",
                C::RealmOnly,
            ),
            E::MalformedCredential(_) => r(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "malformed credential",
                C::Error("invalid_request"),
            ),
            E::BadPath(_) => r(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "the request path is not acceptable",
                C::None,
            ),
            E::InvalidToken(_) => r(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "the access token is invalid or expired",
                C::Error("invalid_token"),
            ),
            E::InvalidApiKey => r(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "the API key is invalid or expired",
                C::Error("invalid_token"),
            ),
            E::UnknownUser => r(
                StatusCode::FORBIDDEN,
                "unknown_user",
                "the user is not known to this instance",
                C::None,
            ),
            E::InsufficientScope { .. } => r(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                "the token lacks a required scope",
                C::Scope,
            ),
            E::Forbidden(_) => r(
                StatusCode::FORBIDDEN,
                "forbidden",
                "this identity may not use this route",
                C::None,
            ),
            E::ProviderUnavailable(_) => r(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the identity provider could not be reached; retry later",
                C::None,
            ),
            E::UpstreamUnreachable(_) => r(
                StatusCode::BAD_GATEWAY,
                "bad_gateway",
                "the upstream could not be reached",
                C::None,
            ),
            E::UpstreamTimeout => r(
                StatusCode::GATEWAY_TIMEOUT,
                "gateway_timeout",
                "the upstream did not answer in time",
                C::None,
            ),
            E::ImpersonationParameter => r(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "the request may not carry xoauth_requestor_id, user_id or oauth_* parameters",
                C::None,
            ),
            E::FormTooLarge => r(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request",
                "the form body is too large",
                C::None,
            ),
            E::DirectoryUnavailable => r(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the user directory could not be reached; retry later",
                C::None,
            ),
            E::LoopDetected => r(
                StatusCode::LOOP_DETECTED,
                "loop_detected",
                "this request already passed through this gateway: its upstream points back at it",
                C::None,
            ),
            E::RateLimited(l) => r(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                match l.reason {
                    crate::core::budget::LimitReason::Client => {
                        "too many new tokens from this client; retry later"
                    }
                    crate::core::budget::LimitReason::Provider => {
                        "the identity provider's call budget is spent; retry later"
                    }
                },
                C::None,
            ),
            E::Internal(_) => r(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "internal error",
                C::None,
            ),
        }
    }

    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        self.render().status
    }

    /// The reason code for logs and metrics (never a secret).
    pub fn reason(&self) -> &'static str {
        match self {
            GatewayError::Acting { error, .. } => error.reason(),
            GatewayError::RateLimited(l) => match l.reason {
                crate::core::budget::LimitReason::Client => "rate_limited_client",
                crate::core::budget::LimitReason::Provider => "rate_limited_provider",
            },
            GatewayError::InvalidToken(r) => r.as_str(),
            GatewayError::Forbidden(what) => what,
            other => other.render().code,
        }
    }

    /// The response a client gets.
    pub fn into_response<B: From<Full<Bytes>>>(self, realm: &str) -> Response<B> {
        if let GatewayError::Acting { error, .. } = self {
            return error.into_response(realm);
        }
        let rendered = self.render();
        let body = serde_json::json!({ "error": rendered.code, "error_description": rendered.description });
        let mut res = Response::new(B::from(Full::new(Bytes::from(body.to_string()))));
        *res.status_mut() = rendered.status;
        let h = res.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        let challenge = match (&rendered.challenge, &self) {
            (Challenge::None, _) => None,
            (Challenge::RealmOnly, _) => Some(format!("Bearer realm=\"{realm}\"")),
            (Challenge::Error(code), _) => {
                Some(format!("Bearer realm=\"{realm}\", error=\"{code}\""))
            }
            (Challenge::Scope, GatewayError::InsufficientScope { required }) => Some(format!(
                "Bearer realm=\"{realm}\", error=\"insufficient_scope\", scope=\"{required}\""
            )),
            (Challenge::Scope, _) => Some(format!(
                "Bearer realm=\"{realm}\", error=\"insufficient_scope\""
            )),
        };
        if let Some(v) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            h.insert(header::WWW_AUTHENTICATE, v);
        }
        if rendered.status == StatusCode::SERVICE_UNAVAILABLE {
            h.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
        if let GatewayError::RateLimited(l) = &self {
            // Whole seconds, rounded up: never earlier than the budget allows.
            let secs = l.retry_after.as_millis().div_ceil(1000).max(1) as u64;
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `error` code, the challenge and whether `Retry-After` is set.
    fn render(e: GatewayError) -> (String, Option<String>, bool) {
        let res: Response<Full<Bytes>> = e.into_response("restgate");
        let www = res
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_owned());
        let retry = res.headers().contains_key(header::RETRY_AFTER);
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
        let body = futures_util::FutureExt::now_or_never(http_body_util::BodyExt::collect(
            res.into_body(),
        ))
        .unwrap()
        .unwrap()
        .to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(json["error_description"].is_string());
        (json["error"].as_str().unwrap().to_owned(), www, retry)
    }

    #[test]
    fn every_error_maps_to_its_status_code_and_challenge() {
        use GatewayError as E;
        let provider = || -> Arc<dyn std::error::Error + Send + Sync> {
            Arc::new(std::io::Error::other("provider p: timed out"))
        };
        let table: Vec<(E, u16, &str, Option<&str>, bool)> = vec![
            (
                E::MissingCredential,
                401,
                "unauthorized",
                Some(r#"Bearer realm="restgate""#),
                false,
            ),
            (
                E::NativeRefused,
                401,
                "unauthorized",
                Some(r#"Bearer realm="restgate""#),
                false,
            ),
            (
                E::MalformedCredential("empty bearer token".into()),
                400,
                "invalid_request",
                Some(r#"Bearer realm="restgate", error="invalid_request""#),
                false,
            ),
            (
                E::BadPath(PathError::EncodedSlash),
                400,
                "invalid_request",
                None,
                false,
            ),
            (
                E::InvalidToken(Refusal::Inactive),
                401,
                "invalid_token",
                Some(r#"Bearer realm="restgate", error="invalid_token""#),
                false,
            ),
            (
                E::InvalidApiKey,
                401,
                "invalid_token",
                Some(r#"Bearer realm="restgate", error="invalid_token""#),
                false,
            ),
            (E::UnknownUser, 403, "unknown_user", None, false),
            (
                E::InsufficientScope {
                    required: "write".into(),
                },
                403,
                "insufficient_scope",
                Some(r#"Bearer realm="restgate", error="insufficient_scope", scope="write""#),
                false,
            ),
            (
                E::Forbidden("user_not_allowed"),
                403,
                "forbidden",
                None,
                false,
            ),
            (
                E::ProviderUnavailable(provider()),
                503,
                "temporarily_unavailable",
                None,
                true,
            ),
            (
                E::UpstreamUnreachable("refused".into()),
                502,
                "bad_gateway",
                None,
                false,
            ),
            (E::UpstreamTimeout, 504, "gateway_timeout", None, false),
            (
                E::ImpersonationParameter,
                400,
                "invalid_request",
                None,
                false,
            ),
            (E::FormTooLarge, 413, "invalid_request", None, false),
            (
                E::DirectoryUnavailable,
                503,
                "temporarily_unavailable",
                None,
                true,
            ),
            (E::Internal("bug"), 500, "internal_error", None, false),
        ];
        for (err, status, code, www, retry) in table {
            assert_eq!(err.status().as_u16(), status, "{err:?}");
            let (got_code, got_www, got_retry) = render(err);
            assert_eq!(got_code, code);
            assert_eq!(got_www.as_deref(), www, "{code}");
            assert_eq!(got_retry, retry, "{code}");
        }
    }
}
