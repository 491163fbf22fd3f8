//! The validation cache: a tower layer in front of the providers (SPEC §3).
//!
//! - Keyed by HMAC-SHA-256 of the token under a random per-process key: the token
//!   itself is never stored, and keys cannot be precomputed by an attacker.
//! - Positive entries live `min(ttl, exp − now)`, negative ones `negative_ttl`;
//!   provider errors are never cached.
//! - Concurrent requests with the same uncached token make one provider call:
//!   moka's `try_get_with` coalesces them and shares the outcome, error included.
//! - `stale_if_error`: a second store keeps each positive entry for its life plus
//!   the stale window (never past the token's `exp`); it answers only when the
//!   providers fail.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use moka::Expiry;
use sha2::Sha256;
use tower_layer::Layer;
use tower_service::Service;

use super::credential::Token;
use super::identity::Verdict;
use crate::config::Cache as CacheConfig;
use crate::metrics::{CacheLabels, Metrics};
use crate::providers::{ProviderError, unix_now};

/// The cache key: a keyed digest of the token.
pub type Key = [u8; 32];

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

type BuildKeyHasher = std::hash::BuildHasherDefault<KeyHasher>;

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A live cache entry.
    Hit,
    /// This request asked the provider.
    Miss,
    /// Another request was asking the provider; this one waited for it.
    Coalesced,
    /// The providers failed; a recently expired positive entry answered.
    Stale,
}

impl Source {
    /// A label for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Hit => "hit",
            Source::Miss => "miss",
            Source::Coalesced => "coalesced",
            Source::Stale => "stale",
        }
    }
}

/// A verdict and where it came from.
#[derive(Debug, Clone)]
pub struct Lookup {
    /// The verdict.
    pub verdict: Verdict,
    /// Hit, miss, coalesced or stale.
    pub source: Source,
}

/// One cached verdict and how long it lives.
#[derive(Debug, Clone)]
struct Entry {
    verdict: Verdict,
    life: Duration,
}

/// Per-entry lifetimes for moka.
struct EntryLife;

impl Expiry<Key, Entry> for EntryLife {
    fn expire_after_create(&self, _key: &Key, value: &Entry, _now: Instant) -> Option<Duration> {
        Some(value.life)
    }
    fn expire_after_update(
        &self,
        _key: &Key,
        value: &Entry,
        _now: Instant,
        _left: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.life)
    }
}

/// Wraps a token validator with the cache.
#[derive(Clone)]
pub struct CacheLayer {
    shared: Arc<Shared>,
}

struct Shared {
    metrics: Arc<Metrics>,
    hmac: Hmac<Sha256>,
    entries: moka::future::Cache<Key, Entry, BuildKeyHasher>,
    stale: Option<moka::sync::Cache<Key, Entry, BuildKeyHasher>>,
    config: CacheConfig,
}

// === impl CacheLayer ===

impl CacheLayer {
    /// A new, empty cache with a fresh random key.
    pub fn new(config: &CacheConfig) -> Self {
        Self::with_metrics(config, Metrics::new())
    }

    /// A new cache recording into `metrics`.
    pub fn with_metrics(config: &CacheConfig, metrics: Arc<Metrics>) -> Self {
        let key: [u8; 32] = rand::random();
        let hmac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
        let entries = moka::future::Cache::builder()
            .max_capacity(config.max_entries)
            .expire_after(EntryLife)
            .support_invalidation_closures()
            .build_with_hasher(BuildKeyHasher::default());
        let stale = (!config.stale_if_error.is_zero()).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(config.max_entries)
                .expire_after(EntryLife)
                .build_with_hasher(BuildKeyHasher::default())
        });
        CacheLayer {
            shared: Arc::new(Shared {
                metrics,
                hmac,
                entries,
                stale,
                config: config.clone(),
            }),
        }
    }

    /// The cache key of a token.
    pub fn key(&self, token: &Token) -> Key {
        let mut mac = self.shared.hmac.clone();
        mac.update(token.expose().as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Drops the entry of one token (it is asked about again).
    pub async fn evict_token(&self, token: &Token) {
        let key = self.key(token);
        if let Some(s) = &self.shared.stale {
            s.invalidate(&key);
        }
        self.shared.entries.invalidate(&key).await;
    }

    /// Drops every entry that acts as `user`.
    pub fn evict_user(&self, user: &str) {
        let user = user.to_owned();
        let matches =
            move |_: &Key, e: &Entry| matches!(&e.verdict, Verdict::Active(p) if p.user == user);
        // Registered closures run lazily inside moka; the entries stop serving now.
        let _ = self.shared.entries.invalidate_entries_if(matches);
        if let Some(s) = &self.shared.stale {
            s.invalidate_all();
        }
    }

    /// After a reload: drops positive entries of changed providers, and every
    /// negative one when another provider might now accept the token.
    pub fn evict_for_reload(&self, changed: &[String], negatives: bool) {
        if changed.is_empty() && !negatives {
            return;
        }
        let changed = changed.to_vec();
        let stale = move |_: &Key, e: &Entry| match &e.verdict {
            Verdict::Active(p) => changed.iter().any(|c| **c == *p.provider),
            Verdict::Refused(_) => negatives,
        };
        let _ = self.shared.entries.invalidate_entries_if(stale);
        if let Some(s) = &self.shared.stale {
            s.invalidate_all();
        }
    }

    /// Number of live entries (approximate, as moka counts).
    pub fn len(&self) -> u64 {
        self.shared.entries.entry_count()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<S> Layer<S> for CacheLayer {
    type Service = CachedValidator<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CachedValidator {
            inner,
            cache: self.clone(),
        }
    }
}

/// A token validator behind the cache.
#[derive(Clone)]
pub struct CachedValidator<S> {
    inner: S,
    cache: CacheLayer,
}

// === impl CachedValidator ===

impl<S> CachedValidator<S> {
    /// The cache, for eviction and inspection.
    pub fn cache(&self) -> &CacheLayer {
        &self.cache
    }
}

impl<S> Service<Token> for CachedValidator<S>
where
    S: Service<Token, Response = Verdict, Error = ProviderError> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Lookup;
    type Error = Arc<ProviderError>;
    type Future = Pin<Box<dyn Future<Output = Result<Lookup, Arc<ProviderError>>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Arc::new)
    }

    fn call(&mut self, token: Token) -> Self::Future {
        // The ready service goes into the future; a clone stays for next time.
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let shared = self.cache.shared.clone();
        let key = self.cache.key(&token);
        Box::pin(async move {
            if let Some(e) = shared.entries.get(&key).await {
                shared.record(Source::Hit, &e.verdict);
                return Ok(Lookup {
                    verdict: e.verdict,
                    source: Source::Hit,
                });
            }
            let load = async {
                let verdict = inner.call(token).await?;
                Ok::<_, ProviderError>(shared.entry_for(verdict))
            };
            match shared.entries.entry(key).or_try_insert_with(load).await {
                Ok(entry) => {
                    let source = if entry.is_fresh() {
                        Source::Miss
                    } else {
                        Source::Coalesced
                    };
                    let value = entry.into_value();
                    if source == Source::Miss {
                        shared.remember_for_errors(key, &value);
                        shared
                            .metrics
                            .cache_entries
                            .set(shared.entries.entry_count() as i64);
                    }
                    shared.record(source, &value.verdict);
                    Ok(Lookup {
                        verdict: value.verdict,
                        source,
                    })
                }
                Err(err) => match shared.stale_answer(&key) {
                    Some(verdict) => {
                        shared.record(Source::Stale, &verdict);
                        Ok(Lookup {
                            verdict,
                            source: Source::Stale,
                        })
                    }
                    None => Err(err),
                },
            }
        })
    }
}

// === impl Shared ===

impl Shared {
    fn record(&self, source: Source, verdict: &Verdict) {
        let verdict = match verdict {
            Verdict::Active(_) => "positive",
            Verdict::Refused(_) => "negative",
        };
        self.metrics
            .cache_lookups
            .get_or_create(&CacheLabels {
                result: source.as_str(),
                verdict,
            })
            .inc();
    }

    fn entry_for(&self, verdict: Verdict) -> Entry {
        let life = match &verdict {
            Verdict::Active(p) => match p.exp {
                Some(exp) => self
                    .config
                    .ttl
                    .min(Duration::from_secs(exp.saturating_sub(unix_now()))),
                None => self.config.ttl,
            },
            Verdict::Refused(_) => self.config.negative_ttl,
        };
        Entry { verdict, life }
    }

    /// Keeps a fresh positive for `stale_if_error`; a fresh refusal (say, a
    /// revoked token) removes any older positive, so it can never come back.
    fn remember_for_errors(&self, key: Key, entry: &Entry) {
        let Some(stale) = &self.stale else { return };
        let Verdict::Active(p) = &entry.verdict else {
            stale.invalidate(&key);
            return;
        };
        let mut life = entry.life + self.config.stale_if_error;
        if let Some(exp) = p.exp {
            life = life.min(Duration::from_secs(exp.saturating_sub(unix_now())));
        }
        stale.insert(
            key,
            Entry {
                verdict: entry.verdict.clone(),
                life,
            },
        );
    }

    fn stale_answer(&self, key: &Key) -> Option<Verdict> {
        let entry = self.stale.as_ref()?.get(key)?;
        match &entry.verdict {
            // Never past the token's own expiry, whatever the clock did.
            Verdict::Active(p) if p.exp.is_none_or(|e| e > unix_now()) => Some(entry.verdict),
            _ => None,
        }
    }
}
