//! The validation cache: a tower layer in front of the providers (SPEC §3).
//!
//! - Keyed by HMAC-SHA-256 of the token under a random per-process key
//!   (`key.rs`): the token itself is never stored, and keys cannot
//!   be precomputed by an attacker.
//! - Positive entries live `min(ttl, exp − now)`, negative ones `negative_ttl`;
//!   provider errors are never cached. These rules are pure functions of the
//!   time a [`Clock`] reads (`life.rs`), so tests drive them with a
//!   [`ManualClock`] instead of waiting.
//! - Concurrent requests with the same uncached token make one provider call:
//!   moka's `try_get_with` coalesces them and shares the outcome, error included.
//! - `stale_if_error`: a second store keeps each positive entry for its life plus
//!   the stale window (never past the token's `exp`); it answers only when the
//!   providers fail.
//!
//! This file is the face (the layer and the validator service); `store.rs`
//! holds the tables and the lookup through them.

mod clock;
mod key;
mod life;
mod lookup;
mod store;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;

use self::store::Store;
use crate::cluster::{Eviction, Sink, Tier};
use crate::config::Cache as CacheConfig;
use crate::core::principal::Verdict;
use crate::core::token::Token;
use crate::providers::ProviderError;
use crate::telemetry::metrics::Metrics;

pub use self::clock::{Clock, ManualClock, Now};
pub use self::key::{Key, KeyHasher};
pub use self::lookup::{Lookup, Source};
pub use self::store::Admission;

/// Wraps a token validator with the cache.
#[derive(Clone)]
pub struct CacheLayer {
    store: Arc<Store>,
}

// === impl CacheLayer ===

impl CacheLayer {
    /// A new, empty cache with a fresh random key.
    pub fn new(config: &CacheConfig) -> Self {
        Self::with_metrics(config, Metrics::new())
    }

    /// A new cache recording into `metrics`.
    pub fn with_metrics(config: &CacheConfig, metrics: Arc<Metrics>) -> Self {
        Self::with_clock(config, metrics, Clock::system())
    }

    /// A new cache measuring lives on `clock` (tests give a [`ManualClock`]'s).
    pub fn with_clock(config: &CacheConfig, metrics: Arc<Metrics>, clock: Clock) -> Self {
        Self::build(config, metrics, clock, None)
    }

    /// A new cache with the cluster's shared tier behind it: an in-process
    /// miss reads the shared entry before a provider is asked, and
    /// evictions from other replicas reach this cache.
    pub fn with_tier(config: &CacheConfig, metrics: Arc<Metrics>, tier: Arc<Tier>) -> Self {
        Self::build(config, metrics, Clock::system(), Some(tier))
    }

    fn build(
        config: &CacheConfig,
        metrics: Arc<Metrics>,
        clock: Clock,
        tier: Option<Arc<Tier>>,
    ) -> Self {
        let store = Arc::new(Store::new(config, metrics, clock, tier));
        if let Some(tier) = &store.tier {
            let weak = Arc::downgrade(&store);
            tier.set_sink(weak);
        }
        CacheLayer { store }
    }

    /// The shared tier, with `[cluster]`.
    pub fn tier(&self) -> Option<&Arc<Tier>> {
        self.store.tier.as_ref()
    }

    /// The cache key of a token.
    pub fn key(&self, token: &Token) -> Key {
        self.store.digester.key(token)
    }

    /// Drops the entry of one token (it is asked about again), on every
    /// replica with `[cluster]`: `Err` says why the other replicas were
    /// not told (this one's entry is gone all the same).
    pub async fn evict_token(&self, token: &Token) -> Result<(), String> {
        let key = self.key(token);
        self.store.apply(Eviction::Token(key)).await;
        match &self.store.tier {
            Some(tier) => tier.evict_token(&key).await,
            None => Ok(()),
        }
    }

    /// Drops every entry that acts as `user`, on every replica with
    /// `[cluster]` (`Err` as for [`CacheLayer::evict_token`]).
    pub async fn evict_user(&self, user: &str) -> Result<(), String> {
        self.evict_user_here(user);
        match &self.store.tier {
            Some(tier) => tier.evict_user(user).await,
            None => Ok(()),
        }
    }

    fn evict_user_here(&self, user: &str) {
        self.store.note_eviction();
        let user = user.to_owned();
        let matches = move |_: &Key, e: &life::Entry| matches!(&e.verdict, Verdict::Active(p) if p.user == user);
        // Registered closures run lazily inside moka; the entries stop serving now.
        let _ = self.store.entries.invalidate_entries_if(matches);
        if let Some(s) = &self.store.stale {
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
        let stale = move |_: &Key, e: &life::Entry| match &e.verdict {
            Verdict::Active(p) => changed.iter().any(|c| **c == *p.provider),
            Verdict::Refused(_) => negatives,
        };
        let _ = self.store.entries.invalidate_entries_if(stale);
        if let Some(s) = &self.store.stale {
            s.invalidate_all();
        }
    }

    /// Number of stored entries (approximate, as moka counts).
    pub fn len(&self) -> u64 {
        self.store.entries.entry_count()
    }

    /// The number of entries once the cache's pending housekeeping is done
    /// (inserts and evictions are counted lazily), for a person to read.
    pub async fn settled_len(&self) -> u64 {
        self.store.entries.run_pending_tasks().await;
        self.store.entries.entry_count()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Sink for Store {
    fn evict(&self, eviction: Eviction) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(self.apply(eviction))
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

impl<S> CachedValidator<S>
where
    S: Service<Token, Response = Verdict, Error = ProviderError> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    /// Validates `token` in the caller's own future, without the boxed future
    /// of [`Service::call`]: a live entry, the common case, answers with no
    /// clone of the provider service.
    pub async fn lookup(&self, token: Token) -> Result<Lookup, Arc<ProviderError>> {
        self.lookup_for(token, || None).await
    }

    /// [`lookup`](Self::lookup) for a client: a provider call spends the
    /// budget `admission` names. It is only asked for on a miss, so a hit
    /// costs nothing of it.
    pub async fn lookup_for(
        &self,
        token: Token,
        admission: impl FnOnce() -> Option<Admission>,
    ) -> Result<Lookup, Arc<ProviderError>> {
        let key = self.cache.key(&token);
        let missing = match self.cache.store.hit(&key).await {
            Ok(hit) => return Ok(hit),
            Err(missing) => missing,
        };
        let admission = admission();
        let mut inner = self.inner.clone();
        std::future::poll_fn(|cx| inner.poll_ready(cx))
            .await
            .map_err(Arc::new)?;
        // Boxed: the miss path's state is kilobytes, and a future carries the
        // size of its largest state; inline, every hit would move it around.
        let store = self.cache.store.clone();
        Box::pin(store.miss(inner, key, token, missing, admission)).await
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
        let inner = std::mem::replace(&mut self.inner, fresh);
        let store = self.cache.store.clone();
        let key = self.cache.key(&token);
        Box::pin(async move {
            match store.hit(&key).await {
                Ok(hit) => Ok(hit),
                Err(missing) => store.miss(inner, key, token, missing, None).await,
            }
        })
    }
}
