//! restgate API keys: verified by SHA-256 digest in constant time.
//!
//! Keys have ≥ 128 bits of entropy, so a fast unsalted digest is the right tool
//! (as for GitHub's tokens); the config holds only the digest.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::ApiKey;
use crate::core::principal::Principal;

/// The configured keys, with the principal each acts as built once.
#[derive(Debug, Clone, Default)]
pub struct ApiKeys {
    keys: Vec<(ApiKey, Arc<Principal>)>,
}

/// Why a presented key is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRefusal {
    /// No configured key has this digest.
    Unknown,
    /// Past its `expires` day.
    Expired,
    /// Presented with Basic auth under another user name.
    WrongUser,
}

// === impl ApiKeys ===

impl ApiKeys {
    /// Prepares the configured keys.
    pub fn new(keys: &[ApiKey]) -> Self {
        let keys = keys
            .iter()
            .map(|k| {
                let p = Principal {
                    user: k.user.clone(),
                    email: None,
                    provider: Arc::from(crate::core::principal::API_KEY_PROVIDER),
                    client_id: Some(k.name.clone()),
                    client_credentials: false,
                    scopes: Vec::new(),
                    audiences: Vec::new(),
                    exp: k.expires,
                };
                (k.clone(), Arc::new(p))
            })
            .collect();
        ApiKeys { keys }
    }

    /// Verifies a presented key; `basic_user` is the Basic user name, if any.
    pub fn verify(
        &self,
        presented: &str,
        basic_user: Option<&str>,
        now: u64,
    ) -> Result<Arc<Principal>, KeyRefusal> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        // Compare against every key, without stopping early.
        let mut found = None;
        for (key, principal) in &self.keys {
            if bool::from(digests_equal(&key.hash, &digest)) {
                found = Some((key, principal));
            }
        }
        let (key, principal) = found.ok_or(KeyRefusal::Unknown)?;
        if key.expires.is_some_and(|e| now > e) {
            return Err(KeyRefusal::Expired);
        }
        if basic_user.is_some_and(|u| u != key.user) {
            return Err(KeyRefusal::WrongUser);
        }
        Ok(principal.clone())
    }
}

/// Constant-time equality of two digests.
pub fn digests_equal(a: &[u8; 32], b: &[u8; 32]) -> subtle::Choice {
    a.ct_eq(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(user: &str, secret: &str, expires: Option<u64>) -> ApiKey {
        ApiKey {
            name: "k".into(),
            user: user.into(),
            hash: Sha256::digest(secret.as_bytes()).into(),
            expires,
        }
    }

    #[test]
    fn keys_verify_by_digest_user_and_expiry() {
        let keys = ApiKeys::new(&[
            key("ci-bot", "rgk_good", None),
            key("old", "rgk_old", Some(1000)),
        ]);
        assert_eq!(keys.verify("rgk_good", None, 5000).unwrap().user, "ci-bot");
        assert_eq!(
            keys.verify("rgk_good", Some("ci-bot"), 5000).unwrap().user,
            "ci-bot"
        );
        assert_eq!(
            keys.verify("rgk_good", Some("alice"), 5000),
            Err(KeyRefusal::WrongUser)
        );
        assert_eq!(keys.verify("rgk_bad", None, 5000), Err(KeyRefusal::Unknown));
        assert_eq!(keys.verify("rgk_old", None, 999).unwrap().user, "old");
        assert_eq!(keys.verify("rgk_old", None, 1001), Err(KeyRefusal::Expired));
    }

    #[test]
    fn digest_comparison_is_subtle_constant_time() {
        // The comparison returns `subtle::Choice`, the constant-time type: a
        // plain `==` on slices would return `bool` and not compile here.
        let a = [1u8; 32];
        let choice: subtle::Choice = digests_equal(&a, &a);
        assert!(bool::from(choice));
        assert!(!bool::from(digests_equal(&a, &[2u8; 32])));
    }
}
