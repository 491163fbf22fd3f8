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
use super::identity::{Principal, Verdict};
use crate::config::Cache as CacheConfig;
use crate::metrics::Metrics;
use crate::providers::{ProviderError, ProviderErrorKind, unix_now};

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
    /// The token's own expiry (Unix seconds): the principal is shared between
    /// the tokens of one identity, so the expiry lives here.
    exp: Option<u64>,
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
    /// One shared principal per identity: the many tokens of one user or client
    /// point to one copy, which keeps a cache entry small.
    principals: moka::sync::Cache<Arc<Principal>, Arc<Principal>>,
    /// Validations running as tasks of their own; bounded, so clients that
    /// send new tokens and hang up at once cannot pile up tasks.
    detached: Arc<tokio::sync::Semaphore>,
    config: CacheConfig,
}

/// Most validations that run on after their client left.
const MAX_DETACHED: usize = 1024;

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
        let principals = moka::sync::Cache::builder()
            .max_capacity(config.max_entries)
            .time_to_idle(config.ttl)
            .build();
        CacheLayer {
            shared: Arc::new(Shared {
                metrics,
                hmac,
                entries,
                stale,
                principals,
                detached: Arc::new(tokio::sync::Semaphore::new(MAX_DETACHED)),
                config: config.clone(),
            }),
        }
    }

    /// The cache key of a token.
    pub fn key(&self, token: &Token) -> Key {
        let mut mac = self.shared.hmac.clone();
        mac.update(token.as_bytes());
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

impl<S> CachedValidator<S>
where
    S: Service<Token, Response = Verdict, Error = ProviderError> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    /// Validates `token` in the caller's own future, without the boxed future
    /// of [`Service::call`]: a live entry, the common case, answers with no
    /// clone of the provider service.
    pub async fn lookup(&self, token: Token) -> Result<Lookup, Arc<ProviderError>> {
        let key = self.cache.key(&token);
        if let Some(hit) = self.cache.shared.hit(&key).await {
            return Ok(hit);
        }
        let mut inner = self.inner.clone();
        std::future::poll_fn(|cx| inner.poll_ready(cx))
            .await
            .map_err(Arc::new)?;
        // Boxed: the miss path's state is kilobytes, and a future carries the
        // size of its largest state; inline, every hit would move it around.
        Box::pin(self.cache.shared.clone().miss(inner, key, token)).await
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
        let shared = self.cache.shared.clone();
        let key = self.cache.key(&token);
        Box::pin(async move {
            if let Some(hit) = shared.hit(&key).await {
                return Ok(hit);
            }
            shared.miss(inner, key, token).await
        })
    }
}

// === impl Shared ===

impl Shared {
    /// An uncached token: one provider call (coalesced with any in flight for
    /// the same key), then the fill; a provider failure falls back to a stale
    /// positive answer if `stale_if_error` kept one.
    ///
    /// The provider call and the fill run as a task of their own: a client
    /// that leaves does not cancel them. The answer is cached for the next
    /// request and reaches the requests coalesced on it, and no provider
    /// stream is reset halfway. Past `MAX_DETACHED` such tasks, the fill runs
    /// in the request and ends with it.
    async fn miss<S>(
        self: Arc<Self>,
        mut inner: S,
        key: Key,
        token: Token,
    ) -> Result<Lookup, Arc<ProviderError>>
    where
        S: Service<Token, Response = Verdict, Error = ProviderError> + Send + 'static,
        S::Future: Send + 'static,
    {
        let fill = {
            let shared = self.clone();
            async move {
                let load = async {
                    let verdict = inner.call(token).await?;
                    Ok::<_, ProviderError>(shared.entry_for(verdict))
                };
                let filled = shared.entries.entry(key).or_try_insert_with(load).await;
                // With the fill, not the request: it happens even when the
                // client has left.
                if let Some(entry) = filled.as_ref().ok().filter(|e| e.is_fresh()) {
                    shared.remember_for_errors(key, entry.value());
                    shared
                        .metrics
                        .cache_entries
                        .set(shared.entries.entry_count() as i64);
                }
                filled
            }
        };
        let filled = match self.detached.clone().try_acquire_owned() {
            Ok(permit) => tokio::spawn(async move {
                let _permit = permit;
                fill.await
            })
            .await
            // A panic in a provider's code: a provider failure (503).
            .unwrap_or_else(|_| {
                Err(Arc::new(ProviderError::new(
                    &Arc::from("-"),
                    ProviderErrorKind::Garbage("the validation task failed"),
                )))
            }),
            Err(_) => fill.await,
        };
        let (verdict, source) = match filled {
            Ok(entry) => {
                let source = if entry.is_fresh() {
                    Source::Miss
                } else {
                    Source::Coalesced
                };
                (entry.into_value().verdict, source)
            }
            Err(err) => (self.stale_answer(&key).ok_or(err)?, Source::Stale),
        };
        self.record(source, &verdict);
        Ok(Lookup { verdict, source })
    }

    /// A live entry's answer, counted as a hit.
    async fn hit(&self, key: &Key) -> Option<Lookup> {
        let e = self.entries.get(key).await?;
        self.record(Source::Hit, &e.verdict);
        Some(Lookup {
            verdict: e.verdict,
            source: Source::Hit,
        })
    }

    fn record(&self, source: Source, verdict: &Verdict) {
        let verdict = match verdict {
            Verdict::Active(_) => "positive",
            Verdict::Refused(_) => "negative",
        };
        self.metrics.cache_lookup(source.as_str(), verdict);
    }

    fn entry_for(&self, verdict: Verdict) -> Entry {
        match verdict {
            Verdict::Active(p) => {
                let exp = p.exp;
                let life = match exp {
                    Some(exp) => self
                        .config
                        .ttl
                        .min(Duration::from_secs(exp.saturating_sub(unix_now()))),
                    None => self.config.ttl,
                };
                Entry {
                    verdict: Verdict::Active(self.intern(p)),
                    life,
                    exp,
                }
            }
            refused @ Verdict::Refused(_) => Entry {
                verdict: refused,
                life: self.config.negative_ttl,
                exp: None,
            },
        }
    }

    /// The shared copy of `p` without its expiry.
    fn intern(&self, p: Arc<Principal>) -> Arc<Principal> {
        let p = match p.exp {
            None => p,
            Some(_) => Arc::new(Principal {
                exp: None,
                ..Principal::clone(&p)
            }),
        };
        self.principals.get_with(p.clone(), || p)
    }

    /// Keeps a fresh positive for `stale_if_error`; a fresh refusal (say, a
    /// revoked token) removes any older positive, so it can never come back.
    fn remember_for_errors(&self, key: Key, entry: &Entry) {
        let Some(stale) = &self.stale else { return };
        if !matches!(entry.verdict, Verdict::Active(_)) {
            stale.invalidate(&key);
            return;
        }
        let mut life = entry.life + self.config.stale_if_error;
        if let Some(exp) = entry.exp {
            life = life.min(Duration::from_secs(exp.saturating_sub(unix_now())));
        }
        stale.insert(
            key,
            Entry {
                verdict: entry.verdict.clone(),
                life,
                exp: entry.exp,
            },
        );
    }

    fn stale_answer(&self, key: &Key) -> Option<Verdict> {
        let entry = self.stale.as_ref()?.get(key)?;
        match &entry.verdict {
            // Never past the token's own expiry, whatever the clock did.
            Verdict::Active(_) if entry.exp.is_none_or(|e| e > unix_now()) => Some(entry.verdict),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    fn principal(user: &str, exp: u64) -> Arc<Principal> {
        Arc::new(Principal {
            user: user.to_owned(),
            email: None,
            provider: Arc::from("idp"),
            client_id: Some("cli".to_owned()),
            client_credentials: false,
            scopes: vec!["read".to_owned()],
            audiences: Vec::new(),
            exp: Some(exp),
        })
    }

    fn config() -> CacheConfig {
        CacheConfig {
            max_entries: 100,
            ttl: Duration::from_secs(300),
            negative_ttl: Duration::from_secs(30),
            stale_if_error: Duration::ZERO,
        }
    }

    /// Sets its flag when dropped.
    struct OnDrop(Arc<std::sync::atomic::AtomicBool>);

    impl Drop for OnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    /// A lookup whose provider never answers, dropped once the provider has
    /// the call: whether the provider's call was dropped with it.
    async fn provider_call_dropped_with_its_request(exhaust: bool) -> bool {
        let started = Arc::new(tokio::sync::Notify::new());
        let dropped = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (s, d) = (started.clone(), dropped.clone());
        let provider = tower::service_fn(move |_: Token| {
            let (s, guard) = (s.clone(), OnDrop(d.clone()));
            async move {
                let _guard = guard;
                s.notify_one();
                std::future::pending::<Result<Verdict, ProviderError>>().await
            }
        });
        let mut cache = CacheLayer::new(&config()).layer(provider);
        let detached = cache.cache().shared.detached.clone();
        let _all = if exhaust {
            Some(
                detached
                    .clone()
                    .acquire_many_owned(MAX_DETACHED as u32)
                    .await
                    .unwrap(),
            )
        } else {
            None
        };
        let lookup = cache.call(Token::new("tok-gone").unwrap());
        let request = tokio::spawn(lookup);
        started.notified().await;
        request.abort();
        assert!(request.await.unwrap_err().is_cancelled());
        // Let a detached task run on, if there is one.
        tokio::task::yield_now().await;
        if !exhaust {
            assert_eq!(
                detached.available_permits(),
                MAX_DETACHED - 1,
                "the running validation holds a permit"
            );
        }
        dropped.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn a_validation_runs_on_after_its_request_ends_up_to_a_bound() {
        assert!(
            !provider_call_dropped_with_its_request(false).await,
            "the provider call was cancelled"
        );
        assert!(
            provider_call_dropped_with_its_request(true).await,
            "past the bound the call outlived its request"
        );
    }

    #[tokio::test]
    async fn a_fill_whose_client_left_still_keeps_its_answer_for_stale_if_error() {
        let release = Arc::new(tokio::sync::Notify::new());
        let started = Arc::new(tokio::sync::Notify::new());
        let (r, s) = (release.clone(), started.clone());
        let provider = tower::service_fn(move |_: Token| {
            let (r, s) = (r.clone(), s.clone());
            async move {
                s.notify_one();
                r.notified().await;
                Ok::<_, ProviderError>(Verdict::Active(principal("alice", unix_now() + 600)))
            }
        });
        let layer = CacheLayer::new(&CacheConfig {
            stale_if_error: Duration::from_secs(3600),
            ..config()
        });
        let mut cache = layer.layer(provider);
        let request = tokio::spawn(cache.call(Token::new("tok-kept").unwrap()));
        started.notified().await;
        request.abort();
        assert!(request.await.unwrap_err().is_cancelled());
        release.notify_one();
        let key = layer.key(&Token::new("tok-kept").unwrap());
        let stale = layer.shared.stale.clone().unwrap();
        crate::test_support::wait_until("the stale copy was never kept", || {
            stale.contains_key(&key)
        })
        .await;
    }

    #[tokio::test]
    async fn lookup_answers_a_live_entry_itself_and_sends_a_miss_to_the_provider() {
        let calls = Arc::new(AtomicU64::new(0));
        let counter = calls.clone();
        let provider = tower::service_fn(move |_: Token| {
            counter.fetch_add(1, Ordering::SeqCst);
            async { Ok::<_, ProviderError>(Verdict::Active(principal("alice", unix_now() + 600))) }
        });
        let cache = CacheLayer::new(&config()).layer(provider);
        let source = async |t: &str| cache.lookup(Token::new(t).unwrap()).await.unwrap().source;
        assert_eq!(source("tok-a").await, Source::Miss);
        assert_eq!(source("tok-a").await, Source::Hit);
        assert_eq!(calls.load(Ordering::SeqCst), 1, "a hit asks no provider");
        assert_eq!(source("tok-b").await, Source::Miss);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn the_tokens_of_one_identity_share_one_principal_and_keep_their_own_expiry() {
        let calls = Arc::new(AtomicU64::new(0));
        let counter = calls.clone();
        // Token "user-N" belongs to user; each expires at its own time.
        let provider = tower::service_fn(move |t: Token| {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let user = t.expose().split('-').next().unwrap_or_default().to_owned();
            async move { Ok::<_, ProviderError>(Verdict::Active(principal(&user, unix_now() + 60 + n))) }
        });
        let mut cache = CacheLayer::new(&config()).layer(provider);
        let mut lookup = async |t: &str| {
            let v = cache.call(Token::new(t).unwrap()).await.unwrap();
            match v.verdict {
                Verdict::Active(p) => p,
                Verdict::Refused(r) => panic!("refused: {r:?}"),
            }
        };
        let a1 = lookup("alice-1").await;
        let a2 = lookup("alice-2").await;
        let b1 = lookup("bob-1").await;
        assert!(Arc::ptr_eq(&a1, &a2), "one copy for alice's two tokens");
        assert!(!Arc::ptr_eq(&a1, &b1));
        assert_eq!(b1.user, "bob");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        // Each entry keeps its own token's expiry.
        let shared = &cache.cache().shared;
        let exp = |t: &str| {
            let key = cache.cache().key(&Token::new(t).unwrap());
            futures_util::FutureExt::now_or_never(shared.entries.get(&key))
                .flatten()
                .and_then(|e| e.exp)
        };
        assert_ne!(exp("alice-1"), exp("alice-2"));
        assert!(exp("alice-1").is_some());
    }
}
