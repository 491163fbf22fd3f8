//! Local JWT validation against the provider's JWKS (RFC 7515 / 7517 / 7519).
//!
//! - Algorithms: an allow-list of asymmetric ones; `none` cannot even be parsed
//!   and HS* is never on the list, so a public key can never be used as an HMAC
//!   secret.
//! - Keys are fetched on first use and kept. An unknown `kid` triggers a refetch,
//!   at most once per [`REFETCH_INTERVAL`]: that follows a key rotation without a
//!   restart and cannot be used to make restgate hammer the provider. Keys are
//!   also refetched once they are [`MAX_KEY_AGE`] old, so a withdrawn key stops
//!   being trusted.
//! - A JWKS that cannot be fetched is a provider failure (`503`), never a pass.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use reqwest::header;
use serde_json::Value;

use super::answer::{Answer, ProviderErrorKind};
use super::http::send_json;
use crate::config::JwtSettings;
use crate::core::principal::Refusal;

/// Least time between two JWKS fetches caused by unknown `kid`s.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(30);
/// Keys older than this are refetched before use.
pub const MAX_KEY_AGE: Duration = Duration::from_secs(3600);

/// One verification key.
struct Key {
    kid: Option<String>,
    alg: Option<Algorithm>,
    key: DecodingKey,
}

/// The provider's keys as last fetched.
#[derive(Default)]
struct KeySet {
    keys: Vec<Arc<Key>>,
    fetched_at: Option<Instant>,
}

/// What limits fetches.
#[derive(Default)]
struct FetchState {
    /// Last refetch caused by an unknown `kid` (rate-limited).
    unknown_kid_fetch: Option<Instant>,
    /// Last failed fetch: concurrent requests do not each wait for another.
    failure: Option<Instant>,
}

/// After a failed fetch, how long requests fail fast instead of fetching again.
const FAILURE_BACKOFF: Duration = Duration::from_secs(1);

/// A provider's JWT settings with its key cache.
pub struct JwtValidator {
    settings: JwtSettings,
    http: reqwest::Client,
    timeout: Duration,
    keys: RwLock<Arc<KeySet>>,
    /// Serialises fetches: concurrent unknown `kid`s wait for one fetch.
    fetch_state: tokio::sync::Mutex<FetchState>,
    /// One prepared `Validation` per allowed algorithm.
    validations: Vec<(Algorithm, Validation)>,
}

// === impl JwtValidator ===

impl JwtValidator {
    /// A validator with an empty key cache.
    pub fn new(settings: &JwtSettings, http: reqwest::Client, timeout: Duration) -> Self {
        let validations = settings
            .algorithms
            .iter()
            .map(|alg| {
                let mut v = Validation::new(*alg);
                v.leeway = settings.clock_skew.as_secs();
                // Templated issuers (Entra multi-tenant) are checked after decoding.
                if !settings
                    .issuers
                    .iter()
                    .any(|i| i.contains(TENANT_PLACEHOLDER))
                {
                    v.set_issuer(&settings.issuers);
                }
                if settings.audiences.is_empty() {
                    // Bound another way (Cognito: `client_id`, `token_use`).
                    v.validate_aud = false;
                    v.set_required_spec_claims(&["exp", "iss"]);
                } else {
                    v.set_audience(&settings.audiences);
                    v.set_required_spec_claims(&["exp", "iss", "aud"]);
                }
                (*alg, v)
            })
            .collect();
        JwtValidator {
            settings: settings.clone(),
            http,
            timeout,
            keys: RwLock::default(),
            fetch_state: tokio::sync::Mutex::new(FetchState::default()),
            validations,
        }
    }

    /// Verifies a token and returns its claims, or why it is refused.
    pub async fn check(&self, token: &str) -> Result<Answer, ProviderErrorKind> {
        let header = match jsonwebtoken::decode_header(token) {
            Ok(h) => h,
            Err(_) => return Ok(Answer::refused(Refusal::Malformed)),
        };
        let Some((_, validation)) = self.validations.iter().find(|(a, _)| *a == header.alg) else {
            return Ok(Answer::refused(Refusal::BadAlgorithm));
        };
        let Some(key) = self.key(header.kid.as_deref(), header.alg).await? else {
            return Ok(Answer::refused(Refusal::UnknownKey));
        };
        let claims = match jsonwebtoken::decode::<Value>(token, &key.key, validation) {
            Ok(data) => data.claims,
            Err(e) => return Ok(Answer::refused(refusal(e.kind()))),
        };
        let iss = claims
            .get("iss")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let tid = claims.get("tid").and_then(Value::as_str);
        if !self
            .settings
            .issuers
            .iter()
            .any(|i| issuer_matches(i, iss, tid))
        {
            return Ok(Answer::refused(Refusal::WrongIssuer));
        }
        let required = self.settings.required_claims.iter();
        if !required
            .clone()
            .all(|(k, v)| claims.get(k).and_then(Value::as_str) == Some(v.as_str()))
        {
            return Ok(Answer::refused(Refusal::WrongTokenType));
        }
        Ok(Answer::active(claims))
    }

    /// The key for a `kid` (or the only key for the algorithm, without one),
    /// fetching the JWKS when it was never fetched, has aged out, or lacks the
    /// `kid` (at most once per [`REFETCH_INTERVAL`]).
    async fn key(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Option<Arc<Key>>, ProviderErrorKind> {
        let set = self.current();
        if is_fresh(&set) {
            if let Some(k) = find(&set, kid, alg) {
                return Ok(Some(k));
            }
        }
        let mut state = self.fetch_state.lock().await;
        // Another request may have fetched while this one waited.
        let set = self.current();
        let fresh = is_fresh(&set);
        if fresh {
            if let Some(k) = find(&set, kid, alg) {
                return Ok(Some(k));
            }
        }
        let unavailable = || ProviderErrorKind::Garbage("JWKS unavailable");
        if state.failure.is_some_and(|t| t.elapsed() < FAILURE_BACKOFF) {
            // Aged keys still verify while the provider is down; an unknown kid
            // cannot be judged.
            return if !fresh && set.fetched_at.is_some() {
                Ok(find(&set, kid, alg))
            } else {
                Err(unavailable())
            };
        }
        if fresh {
            if state
                .unknown_kid_fetch
                .is_some_and(|t| t.elapsed() < REFETCH_INTERVAL)
            {
                return Ok(None);
            }
            state.unknown_kid_fetch = Some(Instant::now());
        }
        match self.fetch().await {
            Ok(new) => {
                state.failure = None;
                let new = self.store(new);
                Ok(find(&new, kid, alg))
            }
            Err(e) => {
                state.failure = Some(Instant::now());
                if !fresh && set.fetched_at.is_some() {
                    tracing::warn!(error = %e, "JWKS refresh failed; using the keys fetched before");
                    Ok(find(&set, kid, alg))
                } else {
                    Err(e)
                }
            }
        }
    }

    /// How long ago the keys in use were fetched (`None`: never).
    pub fn keys_age(&self) -> Option<Duration> {
        self.current().fetched_at.map(|t| t.elapsed())
    }

    fn store(&self, new: KeySet) -> Arc<KeySet> {
        let new = Arc::new(new);
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = new.clone();
        tracing::debug!(keys = new.keys.len(), uri = %self.settings.jwks_uri, "Fetched JWKS");
        new
    }

    fn current(&self) -> Arc<KeySet> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    async fn fetch(&self) -> Result<KeySet, ProviderErrorKind> {
        let req = self
            .http
            .get(self.settings.jwks_uri.clone())
            .timeout(self.timeout)
            .header(header::ACCEPT, "application/json");
        let (status, json) = send_json(req).await?;
        if !(200..300).contains(&status) {
            return Err(ProviderErrorKind::Status(status));
        }
        let keys = json
            .and_then(|j| j.get("keys").and_then(Value::as_array).cloned())
            .ok_or(ProviderErrorKind::Garbage("JWKS without a `keys` array"))?;
        let keys = keys.iter().filter_map(parse_key).map(Arc::new).collect();
        Ok(KeySet {
            keys,
            fetched_at: Some(Instant::now()),
        })
    }
}

/// Stands for the token's tenant in an Entra multi-tenant issuer.
pub const TENANT_PLACEHOLDER: &str = "{tenantid}";

/// Whether `iss` is the configured issuer, or the configured template with the
/// token's own `tid` (a GUID) in place of `{tenantid}`.
pub fn issuer_matches(configured: &str, iss: &str, tid: Option<&str>) -> bool {
    match configured.split_once(TENANT_PLACEHOLDER) {
        None => configured == iss,
        Some((before, after)) => tid.is_some_and(|t| {
            crate::config::is_guid(t)
                && iss.len() == before.len() + t.len() + after.len()
                && iss.starts_with(before)
                && iss.ends_with(after)
                && &iss[before.len()..iss.len() - after.len()] == t
        }),
    }
}

fn is_fresh(set: &KeySet) -> bool {
    set.fetched_at.is_some_and(|t| t.elapsed() <= MAX_KEY_AGE)
}

/// A usable signature key from a JWK; encryption and symmetric keys are skipped.
fn parse_key(v: &Value) -> Option<Key> {
    let jwk: Jwk = serde_json::from_value(v.clone()).ok()?;
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return None;
    }
    if matches!(
        jwk.algorithm,
        jsonwebtoken::jwk::AlgorithmParameters::OctetKey(_)
    ) {
        return None;
    }
    let alg = match jwk.common.key_algorithm {
        None => None,
        Some(ka) => Some(signature_algorithm(ka)?),
    };
    let key = DecodingKey::from_jwk(&jwk).ok()?;
    Some(Key {
        kid: jwk.common.key_id,
        alg,
        key,
    })
}

fn signature_algorithm(ka: KeyAlgorithm) -> Option<Algorithm> {
    Some(match ka {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

/// The key a token names, compatible with its algorithm. Without a `kid`, only
/// a set with exactly one compatible key answers.
fn find(set: &KeySet, kid: Option<&str>, alg: Algorithm) -> Option<Arc<Key>> {
    let compatible = |k: &&Arc<Key>| k.alg.is_none_or(|a| a == alg);
    match kid {
        Some(kid) => set
            .keys
            .iter()
            .filter(compatible)
            .find(|k| k.kid.as_deref() == Some(kid))
            .cloned(),
        None => {
            let mut it = set.keys.iter().filter(compatible);
            match (it.next(), it.next()) {
                (Some(k), None) => Some(k.clone()),
                _ => None,
            }
        }
    }
}

fn refusal(kind: &ErrorKind) -> Refusal {
    match kind {
        ErrorKind::ExpiredSignature => Refusal::Expired,
        ErrorKind::ImmatureSignature => Refusal::NotYetValid,
        ErrorKind::InvalidIssuer => Refusal::WrongIssuer,
        ErrorKind::InvalidAudience => Refusal::WrongAudience,
        ErrorKind::InvalidSignature => Refusal::BadSignature,
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => Refusal::BadAlgorithm,
        _ => Refusal::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::issuer_matches;

    #[test]
    fn issuer_templates_take_the_tokens_own_tenant() {
        let t = "https://login.microsoftonline.com/{tenantid}/v2.0";
        let tid = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        let iss = format!("https://login.microsoftonline.com/{tid}/v2.0");
        assert!(issuer_matches(t, &iss, Some(tid)));
        assert!(
            !issuer_matches(t, &iss, Some("0000000a-86f1-41af-91ab-2d7cd011db47")),
            "tid must be the one in iss"
        );
        assert!(!issuer_matches(t, &iss, None));
        assert!(
            !issuer_matches(
                t,
                "https://login.microsoftonline.com/evil/v2.0",
                Some("evil")
            ),
            "tid must be a GUID"
        );
        assert!(issuer_matches("https://a", "https://a", None));
        assert!(!issuer_matches("https://a", "https://a/", None));
    }
}
