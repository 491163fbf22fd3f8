//! Sealed values: what a shared entry holds in Redis. A verdict and the
//! instant it stops answering, as JSON, sealed with AES-256-GCM under the
//! key derived for values, with the entry's own Redis key as associated
//! data. Whoever reads Redis learns nothing of the token's user; whoever
//! writes to it cannot forge an entry, change its identity or expiry, or
//! move it to another token's key: such a value does not open.

use std::sync::Arc;

use ring::aead::{self, Aad, Nonce};
use serde::{Deserialize, Serialize};

use super::keys::Keys;
use crate::core::principal::{Principal, Refusal, Verdict};

/// The first byte of every sealed value: the format.
const VERSION: u8 = 2;

/// Each value is sealed under its own key, derived from the sealing key and
/// a random salt: no key ever seals two values, so the nonce can be fixed
/// and no count of seals wears a key out.
const SALT: usize = 16;

fn value_key(keys: &Keys, salt: &[u8]) -> aead::LessSafeKey {
    let info = [salt];
    let okm = keys
        .seal
        .expand(&info, &aead::AES_256_GCM)
        .expect("an AES-256 key is a valid HKDF output length");
    aead::LessSafeKey::new(aead::UnboundKey::from(okm))
}

/// A verdict and until when it answers (Unix milliseconds).
#[derive(Debug, Clone, PartialEq)]
pub struct Shared {
    /// The verdict.
    pub verdict: Verdict,
    /// When it stops answering, on the wall clock every replica shares.
    pub until_ms: u64,
}

#[derive(Serialize, Deserialize)]
struct Plain {
    /// Until (Unix ms).
    u: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    a: Option<Who>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    r: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Who {
    user: String,
    email: Option<String>,
    provider: String,
    client_id: Option<String>,
    cc: bool,
    scopes: Vec<String>,
    aud: Vec<String>,
    exp: Option<u64>,
}

/// Seals `shared` for the Redis key `name`.
pub fn seal(keys: &Keys, name: &str, shared: &Shared) -> Vec<u8> {
    let plain = match &shared.verdict {
        Verdict::Active(p) => Plain {
            u: shared.until_ms,
            a: Some(Who {
                user: p.user.clone(),
                email: p.email.clone(),
                provider: p.provider.to_string(),
                client_id: p.client_id.clone(),
                cc: p.client_credentials,
                scopes: p.scopes.clone(),
                aud: p.audiences.clone(),
                exp: p.exp,
            }),
            r: None,
        },
        Verdict::Refused(r) => Plain {
            u: shared.until_ms,
            a: None,
            r: Some(r.as_str().to_owned()),
        },
    };
    let mut body = serde_json::to_vec(&plain).expect("plain JSON");
    let salt: [u8; SALT] = rand::random();
    value_key(keys, &salt)
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key([0; 12]),
            Aad::from(name.as_bytes()),
            &mut body,
        )
        .expect("AES-GCM seals any length this small");
    let mut out = Vec::with_capacity(1 + SALT + body.len());
    out.push(VERSION);
    out.extend_from_slice(&salt);
    out.extend_from_slice(&body);
    out
}

/// Opens a value read from the Redis key `name`; `None` if it was not
/// sealed by a holder of the cluster key for that very key.
pub fn open(keys: &Keys, name: &str, value: &[u8]) -> Option<Shared> {
    let (&version, rest) = value.split_first()?;
    if version != VERSION || rest.len() < SALT + aead::AES_256_GCM.tag_len() {
        return None;
    }
    let (salt, sealed) = rest.split_at(SALT);
    let mut sealed = sealed.to_vec();
    let plain = value_key(keys, salt)
        .open_in_place(
            Nonce::assume_unique_for_key([0; 12]),
            Aad::from(name.as_bytes()),
            &mut sealed,
        )
        .ok()?;
    let plain: Plain = serde_json::from_slice(plain).ok()?;
    let verdict = match (plain.a, plain.r) {
        (Some(w), None) => Verdict::Active(Arc::new(Principal {
            user: w.user,
            email: w.email,
            provider: Arc::from(w.provider),
            client_id: w.client_id,
            client_credentials: w.cc,
            scopes: w.scopes,
            audiences: w.aud,
            exp: w.exp,
        })),
        (None, Some(r)) => Verdict::Refused(Refusal::parse(&r)?),
        _ => return None,
    };
    Some(Shared {
        verdict,
        until_ms: plain.u,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> Shared {
        Shared {
            verdict: Verdict::Active(Arc::new(Principal {
                user: "alice".into(),
                email: Some("alice@example.com".into()),
                provider: Arc::from("okta"),
                client_id: Some("cli-123".into()),
                client_credentials: false,
                scopes: vec!["read".into()],
                audiences: vec!["api".into()],
                exp: Some(1_900_000_000),
            })),
            until_ms: 1_800_000_000_000,
        }
    }

    #[test]
    fn a_sealed_value_opens_for_its_own_key_only() {
        let keys = Keys::derive(&[9; 32], "t:");
        let sealed = seal(&keys, "t:{a}:v", &alice());
        assert_eq!(open(&keys, "t:{a}:v", &sealed), Some(alice()));
        assert_eq!(
            open(&keys, "t:{b}:v", &sealed),
            None,
            "moved to another key"
        );
        let other = Keys::derive(&[8; 32], "t:");
        assert_eq!(
            open(&other, "t:{a}:v", &sealed),
            None,
            "another cluster key"
        );
        for needle in [&b"alice"[..], b"example.com", b"cli-123", b"okta"] {
            assert!(!sealed.windows(needle.len()).any(|w| w == needle));
        }
    }

    #[test]
    fn any_changed_byte_is_refused() {
        let keys = Keys::derive(&[9; 32], "t:");
        let sealed = seal(&keys, "k", &alice());
        for i in 0..sealed.len() {
            let mut bent = sealed.clone();
            bent[i] ^= 0x01;
            assert_eq!(open(&keys, "k", &bent), None, "byte {i}");
        }
        assert_eq!(open(&keys, "k", &sealed[..sealed.len() - 1]), None);
        assert_eq!(open(&keys, "k", b""), None);
    }

    #[test]
    fn a_refusal_round_trips() {
        let keys = Keys::derive(&[9; 32], "t:");
        let no = Shared {
            verdict: Verdict::Refused(Refusal::Inactive),
            until_ms: 5,
        };
        assert_eq!(open(&keys, "k", &seal(&keys, "k", &no)), Some(no));
    }
}
