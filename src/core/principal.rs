//! What a validated credential comes to: the principal it acts as, or why
//! it is refused. What the cache stores and every layer reads.

use std::sync::Arc;

/// The provider name API-key principals carry.
pub const API_KEY_PROVIDER: &str = "api_key";

/// Who a validated credential acts as, and the token facts route checks need.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal {
    /// The local username handed to the upstream.
    pub user: String,
    /// The email, if the provider gave a usable one.
    pub email: Option<String>,
    /// The provider (or `api_key`) that vouched for it.
    pub provider: Arc<str>,
    /// The OAuth client the token was issued to.
    pub client_id: Option<String>,
    /// A client-credentials token (no end user).
    pub client_credentials: bool,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Audiences (`aud`).
    pub audiences: Vec<String>,
    /// Expiry (Unix seconds), if the provider said.
    pub exp: Option<u64>,
}

/// A provider's decision about a token, after mapping; what the cache stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Accepted, acting as this principal.
    Active(Arc<Principal>),
    /// Refused, and why.
    Refused(Refusal),
}

/// Why a token is refused (`401 invalid_token`); the reason code for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The provider says the token is not active.
    Inactive,
    /// `exp` is past.
    Expired,
    /// `nbf` is in the future.
    NotYetValid,
    /// No usable username attribute.
    NoUsername,
    /// A client-credentials token with no account configured for its client.
    NoServiceAccount,
    /// `aud` is not one of `allowed_audiences`.
    WrongAudience,
    /// The client is not one of `allowed_clients`.
    WrongClient,
    /// A JWT whose `iss` is not the provider's.
    WrongIssuer,
    /// A JWT whose signature does not verify.
    BadSignature,
    /// A JWT signed with an algorithm not on the allow-list.
    BadAlgorithm,
    /// A JWT naming a key the provider does not publish.
    UnknownKey,
    /// Not a well-formed JWT.
    Malformed,
    /// A JWT of the wrong type (Cognito: an ID token used as an access token).
    WrongTokenType,
    /// No configured provider may have issued it (a JWT of an unknown
    /// issuer, an opaque token with no provider to ask): refused unasked.
    NoProvider,
}

impl Refusal {
    /// The reason code.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Inactive => "inactive",
            Refusal::Expired => "expired",
            Refusal::NotYetValid => "not_yet_valid",
            Refusal::NoUsername => "no_username",
            Refusal::NoServiceAccount => "no_service_account",
            Refusal::WrongAudience => "wrong_audience",
            Refusal::WrongClient => "wrong_client",
            Refusal::WrongIssuer => "wrong_issuer",
            Refusal::BadSignature => "bad_signature",
            Refusal::BadAlgorithm => "bad_algorithm",
            Refusal::UnknownKey => "unknown_key",
            Refusal::Malformed => "malformed",
            Refusal::NoProvider => "no_provider",
            Refusal::WrongTokenType => "wrong_token_type",
        }
    }

    /// The refusal a reason code names (what [`Refusal::as_str`] wrote).
    pub fn parse(code: &str) -> Option<Refusal> {
        Refusal::ALL.into_iter().find(|r| r.as_str() == code)
    }

    /// Every refusal.
    pub const ALL: [Refusal; 14] = [
        Refusal::Inactive,
        Refusal::Expired,
        Refusal::NotYetValid,
        Refusal::NoUsername,
        Refusal::NoServiceAccount,
        Refusal::WrongAudience,
        Refusal::WrongClient,
        Refusal::WrongIssuer,
        Refusal::BadSignature,
        Refusal::BadAlgorithm,
        Refusal::UnknownKey,
        Refusal::Malformed,
        Refusal::WrongTokenType,
        Refusal::NoProvider,
    ];
}

/// A username restgate will put in a header: non-empty, at most 255 bytes, no
/// control characters, no surrounding spaces.
pub fn is_valid_username(u: &str) -> bool {
    !u.is_empty() && u.len() <= 255 && u.trim() == u && !u.chars().any(char::is_control)
}

/// What the proxy does with a request's identity.
#[derive(Debug, Clone)]
pub enum Handoff {
    /// Forward as is (after the strip layer): native, anonymous or pass-through.
    Untouched,
    /// restgate authenticated it: hand off as this principal.
    Asserted(Arc<Principal>),
}
