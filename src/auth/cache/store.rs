//! The cache's tables and how one lookup goes through them: a hit, or a miss
//! that asks the provider once (coalesced) and fills, or a stale answer when
//! the providers fail.

use std::sync::Arc;

use moka::ops::compute::Op;
use tower_service::Service;

use super::clock::Clock;
use super::key::{BuildKeyHasher, Digester, Key};
use super::life::{self, Entry, MokaTimer};
use super::lookup::{Lookup, Source};
use std::net::IpAddr;

use crate::auth::budget::Budgets;
use crate::cluster::{Claim, Eviction, Shared, Tier};
use crate::config::Cache as CacheConfig;
use crate::core::budget::LimitReason;
use crate::core::principal::{Principal, Verdict};
use crate::core::token::Token;
use crate::providers::{ProviderError, ProviderErrorKind};
use crate::telemetry::metrics::Metrics;

/// What a fill answers: the entry and where it came from, or the failure.
type Filled = Result<(moka::Entry<Key, Entry>, Source), Arc<ProviderError>>;

/// The budget a request's provider call spends: its client's.
#[derive(Clone)]
pub struct Admission {
    /// The budgets of the running config.
    pub budgets: Arc<Budgets>,
    /// The client address (see `client_addr`).
    pub client: IpAddr,
}

/// Spends the client's budget, if there is one to spend.
async fn admit(admission: Option<&Admission>) -> Result<(), ProviderError> {
    let Some(a) = admission else { return Ok(()) };
    a.budgets
        .admit_client(a.client)
        .await
        .map_err(|l| ProviderError::new(&Arc::from("-"), ProviderErrorKind::RateLimited(l)))
}

/// Most validations that run on after their client left.
pub(super) const MAX_DETACHED: usize = 1024;

/// What a [`CacheLayer`](super::CacheLayer) shares between its clones.
pub(super) struct Store {
    pub(super) metrics: Arc<Metrics>,
    pub(super) digester: Digester,
    pub(super) clock: Clock,
    pub(super) entries: moka::future::Cache<Key, Entry, BuildKeyHasher>,
    /// Positive entries kept for `stale_if_error`, when it is set.
    pub(super) stale: Option<moka::sync::Cache<Key, Entry, BuildKeyHasher>>,
    /// One shared principal per identity: the many tokens of one user or client
    /// point to one copy, which keeps a cache entry small.
    principals: moka::sync::Cache<Arc<Principal>, Arc<Principal>>,
    /// Validations running as tasks of their own; bounded, so clients that
    /// send new tokens and hang up at once cannot pile up tasks.
    pub(super) detached: Arc<tokio::sync::Semaphore>,
    /// The shared tier behind this cache, with `[cluster]`.
    pub(super) tier: Option<Arc<Tier>>,
    /// Evictions applied here so far: an answer learnt across one is not
    /// shared (it may be what was just evicted).
    evictions: std::sync::atomic::AtomicU64,
    config: CacheConfig,
}

/// Why a lookup found no live entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Missing {
    /// None is stored.
    Absent,
    /// One is stored, but its life ended by the cache's clock.
    Ended,
}

// === impl Store ===

impl Store {
    /// Empty tables for `config`, lives measured on `clock`.
    pub(super) fn new(
        config: &CacheConfig,
        metrics: Arc<Metrics>,
        clock: Clock,
        tier: Option<Arc<Tier>>,
    ) -> Store {
        let timer = || MokaTimer {
            system_clock: clock.is_system(),
        };
        let entries = moka::future::Cache::builder()
            .max_capacity(config.max_entries)
            .expire_after(timer())
            .support_invalidation_closures()
            .build_with_hasher(BuildKeyHasher::default());
        let stale = (!config.stale_if_error.is_zero()).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(config.max_entries)
                .expire_after(timer())
                .build_with_hasher(BuildKeyHasher::default())
        });
        let principals = moka::sync::Cache::builder()
            .max_capacity(config.max_entries)
            .time_to_idle(config.ttl)
            .build();
        Store {
            metrics,
            digester: match &tier {
                Some(t) => Digester::keyed(t.token_key()),
                None => Digester::random(),
            },
            tier,
            evictions: std::sync::atomic::AtomicU64::new(0),
            clock,
            entries,
            stale,
            principals,
            detached: Arc::new(tokio::sync::Semaphore::new(MAX_DETACHED)),
            config: config.clone(),
        }
    }

    /// A live entry's answer, counted as a hit: one table read and one read
    /// of the clock.
    pub(super) async fn hit(&self, key: &Key) -> Result<Lookup, Missing> {
        let e = self.entries.get(key).await.ok_or(Missing::Absent)?;
        if !life::answers(e.until, self.clock.instant()) {
            return Err(Missing::Ended);
        }
        self.record(Source::Hit, &e.verdict);
        Ok(Lookup {
            verdict: e.verdict,
            source: Source::Hit,
        })
    }

    /// An uncached token: one provider call (coalesced with any in flight for
    /// the same key), then the fill; a provider failure falls back to a stale
    /// positive answer if `stale_if_error` kept one.
    ///
    /// The provider call and the fill run as a task of their own: a client
    /// that leaves does not cancel them. The answer is cached for the next
    /// request and reaches the requests coalesced on it, and no provider
    /// stream is reset halfway. Past `MAX_DETACHED` such tasks, the fill runs
    /// in the request and ends with it.
    pub(super) async fn miss<S>(
        self: Arc<Self>,
        inner: S,
        key: Key,
        token: Token,
        missing: Missing,
        admission: Option<Admission>,
    ) -> Result<Lookup, Arc<ProviderError>>
    where
        S: Service<Token, Response = Verdict, Error = ProviderError> + Clone + Send + 'static,
        S::Future: Send + 'static,
    {
        let mut missing = missing;
        let mut retried = false;
        let filled = loop {
            let (filled, loaded) = self
                .clone()
                .fill(
                    inner.clone(),
                    key,
                    token.clone(),
                    missing,
                    admission.clone(),
                )
                .await;
            // Joined another client's provider call that its own budget
            // stopped: this request has a budget of its own.
            let someone_elses = matches!(&filled, Err(e) if !loaded
                && e.limited().is_some_and(|l| l.reason == LimitReason::Client));
            if someone_elses && !retried {
                retried = true;
                missing = Missing::Absent;
                continue;
            }
            break filled;
        };
        let (verdict, source) = match filled {
            Ok((entry, origin)) => {
                let source = if entry.is_fresh() {
                    origin
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

    /// One provider call (coalesced with any in flight for the same key)
    /// and the fill, as a task of its own when there is room; with whether
    /// this request's own load ran (rather than joining another's).
    async fn fill<S>(
        self: Arc<Self>,
        mut inner: S,
        key: Key,
        token: Token,
        missing: Missing,
        admission: Option<Admission>,
    ) -> (Filled, bool)
    where
        S: Service<Token, Response = Verdict, Error = ProviderError> + Send + 'static,
        S::Future: Send + 'static,
    {
        let fill = {
            let store = self.clone();
            async move {
                let mut origin = Source::Miss;
                let mut loaded = false;
                if missing == Missing::Ended {
                    store.remove_if_ended(key).await;
                }
                let load = async {
                    loaded = true;
                    let (entry, from) = match &store.tier {
                        Some(tier) => {
                            store
                                .load_shared(tier, key, token, inner, admission.as_ref())
                                .await?
                        }
                        None => {
                            admit(admission.as_ref()).await?;
                            (store.entry_for(inner.call(token).await?), Source::Miss)
                        }
                    };
                    origin = from;
                    Ok::<_, ProviderError>(entry)
                };
                let filled = store.entries.entry(key).or_try_insert_with(load).await;
                // With the fill, not the request: it happens even when the
                // client has left.
                if let Some(entry) = filled.as_ref().ok().filter(|e| e.is_fresh()) {
                    store.remember_for_errors(key, entry.value());
                    store
                        .metrics
                        .cache_entries
                        .set(store.entries.entry_count() as i64);
                }
                (filled.map(|e| (e, origin)), loaded)
            }
        };
        match self.detached.clone().try_acquire_owned() {
            Ok(permit) => tokio::spawn(async move {
                let _permit = permit;
                fill.await
            })
            .await
            // A panic in a provider's code: a provider failure (503).
            .unwrap_or_else(|_| {
                let failed = ProviderError::new(
                    &Arc::from("-"),
                    ProviderErrorKind::Garbage("the validation task failed"),
                );
                (Err(Arc::new(failed)), true)
            }),
            Err(_) => fill.await,
        }
    }

    /// An in-process miss with a shared tier: the shared answer, or another
    /// replica's answer waited for, or this replica's own provider call,
    /// shared once made. Redis failing at any step makes it the plain
    /// provider call.
    async fn load_shared<S>(
        &self,
        tier: &Arc<Tier>,
        key: Key,
        token: Token,
        mut inner: S,
        admission: Option<&Admission>,
    ) -> Result<(Entry, Source), ProviderError>
    where
        S: Service<Token, Response = Verdict, Error = ProviderError>,
    {
        use std::sync::atomic::Ordering::Acquire;
        let generation = self.evictions.load(Acquire);
        let started = std::time::Instant::now();
        let evicted_since = || self.evictions.load(Acquire) != generation;
        let lock = match tier.claim(&key).await {
            Claim::Found(shared) if !evicted_since() => {
                return Ok((self.entry_shared(shared), Source::Shared));
            }
            Claim::Theirs(waiter) => match tier.wait(waiter).await {
                Some(shared) if !evicted_since() => {
                    return Ok((self.entry_shared(shared), Source::Shared));
                }
                _ => crate::cluster::Lock::none(),
            },
            Claim::Found(_) => crate::cluster::Lock::none(),
            Claim::Ours(lock) => lock,
            Claim::Skip => {
                admit(admission).await?;
                return Ok((self.entry_for(inner.call(token).await?), Source::Miss));
            }
        };
        if let Err(limited) = admit(admission).await {
            // Over budget with the lock: give it back, and let the waiters
            // (other clients, perhaps) ask for themselves.
            let tier = tier.clone();
            tokio::spawn(async move { tier.fill(&key, lock, None).await });
            return Err(limited);
        }
        let spent = started.elapsed();
        let answer = inner.call(token).await;
        // An eviction while the provider was asked: this answer may be the
        // one just evicted; it serves this request but is not shared.
        let shared = match &answer {
            Ok(verdict) if !evicted_since() => {
                let entry = self.entry_for(verdict.clone());
                let life = entry.until.saturating_duration_since(self.clock.instant());
                Some((entry.verdict, life))
            }
            _ => None,
        };
        // The fill runs to its end on its own; this request waits for it
        // only as long as its Redis budget allows, so a replica that answers
        // has normally shared the answer already, and a slow Redis delays
        // nobody past `cluster.timeout`.
        let budget = tier.timeout().saturating_sub(spent);
        let filling = tokio::spawn({
            let tier = tier.clone();
            async move {
                let answer = shared.as_ref().map(|(v, life)| (v, *life));
                tier.fill(&key, lock, answer).await;
            }
        });
        let _ = tokio::time::timeout(budget, filling).await;
        Ok((self.entry_for(answer?), Source::Miss))
    }

    /// An in-process entry for another replica's answer: it answers until
    /// the shared one does, and never longer than this replica would keep
    /// an answer of its own.
    fn entry_shared(&self, shared: Shared) -> Entry {
        let cap = self.config.ttl.max(self.config.negative_ttl);
        let life = crate::cluster::remaining(&shared, cap);
        let mut entry = self.entry_for(shared.verdict);
        // Never past what this replica would give it itself (the token's
        // `exp` by its own clock included).
        entry.until = entry.until.min(self.clock.instant() + life);
        entry
    }

    /// Counts an eviction made here (by name, not by message).
    pub(super) fn note_eviction(&self) {
        self.evictions
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// Applies an eviction from the cluster: the entries stop answering now.
    pub(super) async fn apply(&self, eviction: Eviction) {
        self.evictions
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        match eviction {
            Eviction::Token(key) => {
                if let Some(s) = &self.stale {
                    s.invalidate(&key);
                }
                self.entries.invalidate(&key).await;
            }
            Eviction::User(digest) => {
                let Some(tier) = self.tier.clone() else {
                    return;
                };
                let matches = move |_: &Key, e: &Entry| matches!(&e.verdict, Verdict::Active(p) if tier.user_digest(&p.user) == digest);
                let _ = self.entries.invalidate_entries_if(matches);
                if let Some(s) = &self.stale {
                    s.invalidate_all();
                }
            }
            Eviction::All => {
                self.entries.invalidate_all();
                if let Some(s) = &self.stale {
                    s.invalidate_all();
                }
            }
        }
    }

    /// Drops an entry whose life ended before moka's timer did (under a
    /// manual clock, moka's never does), so that the fill does not find it;
    /// an entry another request has just filled stays.
    async fn remove_if_ended(&self, key: Key) {
        let now = self.clock.instant();
        let ended = move |e: Option<moka::Entry<Key, Entry>>| {
            std::future::ready(match e {
                Some(e) if !life::answers(e.value().until, now) => Op::Remove,
                _ => Op::Nop,
            })
        };
        self.entries.entry(key).and_compute_with(ended).await;
    }

    fn record(&self, source: Source, verdict: &Verdict) {
        let verdict = match verdict {
            Verdict::Active(_) => "positive",
            Verdict::Refused(_) => "negative",
        };
        self.metrics.cache_lookup(source.as_str(), verdict);
    }

    fn entry_for(&self, verdict: Verdict) -> Entry {
        let until = life::fresh_until(&self.config, &verdict, self.clock.now());
        match verdict {
            Verdict::Active(p) => {
                let exp = p.exp;
                Entry {
                    verdict: Verdict::Active(self.intern(p)),
                    until,
                    exp,
                }
            }
            refused @ Verdict::Refused(_) => Entry {
                verdict: refused,
                until,
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
        let until = life::stale_until(&self.config, entry, self.clock.now());
        stale.insert(
            key,
            Entry {
                verdict: entry.verdict.clone(),
                until,
                exp: entry.exp,
            },
        );
    }

    fn stale_answer(&self, key: &Key) -> Option<Verdict> {
        let kept = self.stale.as_ref()?.get(key)?;
        let positive = matches!(kept.verdict, Verdict::Active(_));
        (positive && life::may_stand_in(&kept, self.clock.now())).then_some(kept.verdict)
    }
}
