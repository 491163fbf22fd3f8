//! The cache key: a keyed digest of the token, so the token itself is never
//! stored and keys cannot be precomputed by an attacker.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::core::token::Token;

/// The cache key: HMAC-SHA-256 of a token.
pub type Key = [u8; 32];

/// Digests tokens under a random per-process key.
#[derive(Clone)]
pub(super) struct Digester(Hmac<Sha256>);

impl Digester {
    /// A digester under a fresh random key.
    pub(super) fn random() -> Digester {
        let key: [u8; 32] = rand::random();
        Digester(Hmac::new_from_slice(&key).expect("HMAC takes any key length"))
    }

    /// A digester under the cluster's token key: every replica then names
    /// a token alike, and an eviction message can name it.
    pub(super) fn keyed(key: &[u8; 32]) -> Digester {
        Digester(Hmac::new_from_slice(key).expect("HMAC takes any key length"))
    }

    /// The cache key of a token.
    pub(super) fn key(&self, token: &Token) -> Key {
        let mut mac = self.0.clone();
        mac.update(token.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// Hashes a [`Key`] for the cache's tables by taking 8 of its bytes. Keys are
/// HMAC outputs under a secret key, uniformly spread and beyond an attacker's
/// choosing, so a keyed hash (SipHash) over them would add cost and no safety.
#[derive(Debug, Clone, Copy, Default)]
pub struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // A Key arrives whole (after its length); anything else is mixed in
        // byte by byte, FNV-1a style, so the hasher is never wrong, only slower.
        if let Some(head) = bytes.first_chunk::<8>() {
            self.0 ^= u64::from_le_bytes(*head);
        } else {
            for b in bytes {
                self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
            }
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = self.0.rotate_left(5) ^ n as u64;
    }
}

/// Builds [`KeyHasher`]s for moka.
pub(super) type BuildKeyHasher = std::hash::BuildHasherDefault<KeyHasher>;
