//! What a provider call comes to: the raw answer (claims, or why the token
//! is refused), or why there was no usable answer (always `503`, never cached).

use std::sync::Arc;

use serde_json::Value;

use crate::core::principal::Refusal;

/// Why a provider gave no usable answer. Always `503`, never cached.
#[derive(Debug, thiserror::Error)]
#[error("provider {provider}: {kind}")]
pub struct ProviderError {
    /// The provider's name.
    pub provider: Arc<str>,
    /// What went wrong.
    #[source]
    pub kind: ProviderErrorKind,
}

/// What went wrong with a provider call.
#[derive(Debug, thiserror::Error)]
pub enum ProviderErrorKind {
    /// No answer within the provider's `timeout`.
    #[error("timed out")]
    Timeout,
    /// Connection refused, reset or a TLS failure.
    #[error("unreachable")]
    Unreachable(#[source] reqwest::Error),
    /// A non-2xx status other than those that mean "inactive".
    #[error("answered HTTP {0}")]
    Status(u16),
    /// 401/403 to restgate's own client authentication: a configuration fault.
    #[error("refused restgate's client credentials (HTTP {0}); check client_id and the secret")]
    ClientRejected(u16),
    /// An answer that is not the documented JSON.
    #[error("unparsable answer: {0}")]
    Garbage(&'static str),
    /// `max_concurrent` calls were in flight for the whole timeout.
    #[error("too many calls in flight")]
    Overloaded,
    /// A budget of provider calls is spent: the provider was not asked.
    #[error("{0}")]
    RateLimited(crate::core::budget::Limited),
}

impl ProviderError {
    /// An error of `provider`.
    pub fn new(provider: &Arc<str>, kind: ProviderErrorKind) -> Self {
        ProviderError {
            provider: provider.clone(),
            kind,
        }
    }

    /// The HTTP status the provider answered, if that was the problem.
    pub fn status_label(&self) -> &'static str {
        match self.kind {
            ProviderErrorKind::Timeout => "timeout",
            ProviderErrorKind::Unreachable(_) => "unreachable",
            ProviderErrorKind::Status(_) => "status",
            ProviderErrorKind::ClientRejected(_) => "client_rejected",
            ProviderErrorKind::Garbage(_) => "garbage",
            ProviderErrorKind::Overloaded => "overloaded",
            ProviderErrorKind::RateLimited(_) => "rate_limited",
        }
    }

    /// The budget that stopped this call, if one did.
    pub fn limited(&self) -> Option<crate::core::budget::Limited> {
        match self.kind {
            ProviderErrorKind::RateLimited(l) => Some(l),
            _ => None,
        }
    }
}

/// A provider's raw answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The JSON it answered (for mapping, and for `test-token`); `Null` when
    /// there was nothing to read.
    pub claims: Value,
    /// Why the token is refused, if it is.
    pub refusal: Option<Refusal>,
}

impl Answer {
    /// The provider vouches for the token.
    pub fn active(claims: Value) -> Self {
        Answer {
            claims,
            refusal: None,
        }
    }

    /// The token is refused.
    pub fn refused(refusal: Refusal) -> Self {
        Answer {
            claims: Value::Null,
            refusal: Some(refusal),
        }
    }
}
