//! What a provider is assembled from, apart from the validation context.

use super::super::provider::*;
use super::super::raw::{OneOrMany, RawProvider};
use super::super::secret::Secret;

/// What differs between kinds when a provider is assembled.
pub(super) struct Parts {
    /// `None` when the validation settings had errors (already reported).
    pub(super) validation: Option<Validation>,
    pub(super) client_id: Option<String>,
    pub(super) client_secret: Option<Secret>,
    pub(super) token_endpoint: Option<reqwest::Url>,
}

/// Signature algorithms accepted by default: every asymmetric one
/// `jsonwebtoken` verifies. Symmetric (HS*) ones are never accepted: the key
/// would be a secret shared with every client of the provider.
pub(super) const DEFAULT_ALGORITHMS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// The `aud` values a table names (`audience`, one or a list).
pub(super) fn audiences(raw: &RawProvider) -> Vec<String> {
    raw.audience
        .as_ref()
        .map(OneOrMany::to_vec)
        .unwrap_or_default()
}
