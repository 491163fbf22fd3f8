//! What the cluster key becomes: the key that names tokens (in Redis and in
//! every replica's own cache), the key that names everything else, and the
//! key that seals values. Each is derived with HKDF-SHA-256 under its own
//! label, so none of them can stand in for another, and replicas holding
//! another key file compute other names for everything and share nothing.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use ring::hkdf;
use sha2::Sha256;

/// A digest of a token or a name: 32 bytes of HMAC-SHA-256.
pub type Digest = [u8; 32];

const SALT: &[u8] = b"restgate cluster key v1";

/// The keys derived from the cluster key, and the names built with them.
pub struct Keys {
    token_key: [u8; 32],
    names: Hmac<Sha256>,
    /// What each value's own sealing key is derived from (with the value's
    /// random salt).
    pub(super) seal: hkdf::Prk,
    prefix: String,
    channel: String,
    replicas: String,
}

impl Keys {
    /// Derives every key from the cluster key's bytes.
    pub fn derive(secret: &[u8], prefix: &str) -> Keys {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, SALT).extract(secret);
        let bytes = |label: &[u8]| {
            let mut out = [0u8; 32];
            prk.expand(&[label], hkdf::HKDF_SHA256)
                .and_then(|okm| okm.fill(&mut out))
                .expect("32 bytes is a valid HKDF-SHA-256 output length");
            out
        };
        let token_key = bytes(b"token names");
        let names = Hmac::new_from_slice(&bytes(b"other names")).expect("HMAC takes any key");
        let seal = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, &bytes(b"sealed values"));
        let mut keys = Keys {
            token_key,
            names,
            seal,
            prefix: prefix.to_owned(),
            channel: String::new(),
            replicas: String::new(),
        };
        keys.channel = format!("{prefix}c:{}", keys.short(b"channel"));
        keys.replicas = format!("{prefix}r:{}", keys.short(b"replicas"));
        keys
    }

    /// The key tokens are digested under, in Redis names and in the
    /// in-process cache alike: an eviction message names a token by it.
    pub fn token_key(&self) -> &[u8; 32] {
        &self.token_key
    }

    /// A user's digest: how an eviction message and the index of a user's
    /// entries name the user.
    pub fn user(&self, user: &str) -> Digest {
        self.name(&[b"user\0", user.as_bytes()])
    }

    /// The Redis key of a token's shared entry. Entry and lock share a hash
    /// tag, so a Redis Cluster keeps them on one node and a script may
    /// touch both.
    pub fn entry(&self, token: &Digest) -> String {
        format!("{}{{{}}}:v", self.prefix, b64(token))
    }

    /// The Redis key of the lock the replica asking the provider holds.
    pub fn lock(&self, token: &Digest) -> String {
        format!("{}{{{}}}:l", self.prefix, b64(token))
    }

    /// The Redis key of the set of a user's entries (their token digests).
    pub fn user_index(&self, user: &Digest) -> String {
        format!("{}u:{}", self.prefix, b64(user))
    }

    /// The channel evictions and answers are published on.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// The sorted set of replicas seen lately.
    pub fn replicas(&self) -> &str {
        &self.replicas
    }

    /// A keyed digest of `parts` under the names key.
    pub(super) fn name(&self, parts: &[&[u8]]) -> Digest {
        let mut mac = self.names.clone();
        for p in parts {
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }

    /// A Redis key under the prefix: `{prefix}{kind}:{b64 of a keyed digest}`.
    pub(super) fn named(&self, kind: &str, parts: &[&[u8]]) -> String {
        format!("{}{kind}:{}", self.prefix, b64(&self.name(parts)))
    }

    fn short(&self, label: &[u8]) -> String {
        b64(&self.name(&[label])[..12])
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_hold_no_user_and_differ_per_key() {
        let a = Keys::derive(&[1; 32], "restgate:");
        let b = Keys::derive(&[2; 32], "restgate:");
        let user = a.user_index(&a.user("alice@example.com"));
        assert!(user.starts_with("restgate:u:") && !user.contains("alice"));
        assert_ne!(a.user("alice"), b.user("alice"));
        assert_ne!(a.channel(), b.channel());
        assert_ne!(a.replicas(), b.replicas());
        assert_ne!(a.token_key(), b.token_key());
        assert_eq!(a.user("alice"), Keys::derive(&[1; 32], "x:").user("alice"));
    }

    #[test]
    fn entry_and_lock_share_a_hash_tag() {
        let k = Keys::derive(&[1; 32], "p:");
        let (e, l) = (k.entry(&[7; 32]), k.lock(&[7; 32]));
        let tag = |s: &str| s[s.find('{').unwrap()..=s.find('}').unwrap()].to_owned();
        assert_eq!(tag(&e), tag(&l));
        assert_ne!(e, l);
        assert!(e.starts_with("p:{"));
    }
}
