//! The cache as a whole: lifetimes on a manual clock (no test waits for a
//! TTL), single-flight, detached validations, shared principals.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tower_layer::Layer;
use tower_service::Service;

use super::store::MAX_DETACHED;
use super::*;
use crate::core::clock::unix_now;
use crate::core::principal::{Principal, Refusal};
use crate::providers::ProviderErrorKind;

const SECOND: Duration = Duration::from_secs(1);

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

// === A scripted provider on a manual clock ===

/// A provider that answers each token as told (unknown ones: inactive), or
/// fails while `failing`, and counts its calls.
#[derive(Clone, Default)]
struct Scripted {
    users: Arc<Mutex<HashMap<String, Arc<Principal>>>>,
    failing: Arc<AtomicBool>,
    calls: Arc<AtomicU64>,
}

impl Scripted {
    fn add(&self, token: &str, user: &str, exp: u64) {
        let mut users = self.users.lock().unwrap();
        users.insert(token.to_owned(), principal(user, exp));
    }

    fn remove(&self, token: &str) {
        self.users.lock().unwrap().remove(token);
    }

    fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Service<Token> for Scripted {
    type Response = Verdict;
    type Error = ProviderError;
    type Future = std::future::Ready<Result<Verdict, ProviderError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), ProviderError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, token: Token) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        std::future::ready(if self.failing.load(Ordering::SeqCst) {
            Err(ProviderError::new(
                &Arc::from("idp"),
                ProviderErrorKind::Status(500),
            ))
        } else {
            let users = self.users.lock().unwrap();
            Ok(match users.get(token.expose()) {
                Some(p) => Verdict::Active(p.clone()),
                None => Verdict::Refused(Refusal::Inactive),
            })
        })
    }
}

/// A cache with `config` in front of a scripted provider, on a manual clock.
struct Rig {
    time: ManualClock,
    idp: Scripted,
    cache: CachedValidator<Scripted>,
}

impl Rig {
    fn new(config: CacheConfig) -> Rig {
        let time = ManualClock::new();
        let idp = Scripted::default();
        let layer = CacheLayer::with_clock(&config, Metrics::new(), time.clock());
        let cache = layer.layer(idp.clone());
        Rig { time, idp, cache }
    }

    /// Where the answer came from, or `None` for a provider failure.
    async fn source(&self, token: &str) -> Option<Source> {
        let lookup = self.cache.lookup(Token::new(token).unwrap()).await;
        lookup.ok().map(|l| l.source)
    }

    /// The user it answers for, `None` if refused; panics on a failure.
    async fn user(&self, token: &str) -> Option<String> {
        let lookup = self.cache.lookup(Token::new(token).unwrap()).await;
        match lookup.expect("an answer").verdict {
            Verdict::Active(p) => Some(p.user.clone()),
            Verdict::Refused(_) => None,
        }
    }
}

// === Lifetimes ===

#[tokio::test]
async fn entries_live_until_the_token_expires_then_the_provider_is_asked_again() {
    let rig = Rig::new(CacheConfig {
        ttl: Duration::from_secs(3600),
        ..config()
    });
    // exp two seconds ahead: the entry lives min(ttl, exp - now).
    rig.idp.add("tok-short", "alice", rig.time.unix_now() + 2);
    assert_eq!(rig.source("tok-short").await, Some(Source::Miss));
    for _ in 0..4 {
        assert_eq!(rig.source("tok-short").await, Some(Source::Hit));
    }
    rig.time.advance(SECOND);
    assert_eq!(rig.source("tok-short").await, Some(Source::Hit));
    assert_eq!(rig.idp.calls(), 1);
    rig.time.advance(SECOND);
    // At exp: asked again.
    assert_eq!(rig.source("tok-short").await, Some(Source::Miss));
    assert_eq!(rig.idp.calls(), 2);
}

#[tokio::test]
async fn entries_live_for_the_ttl_when_it_is_shorter() {
    let rig = Rig::new(CacheConfig {
        ttl: SECOND,
        negative_ttl: Duration::from_secs(3600),
        ..config()
    });
    rig.idp.add("tok-ttl", "alice", rig.time.unix_now() + 3600);
    assert_eq!(rig.source("tok-ttl").await, Some(Source::Miss));
    assert_eq!(rig.source("tok-ttl").await, Some(Source::Hit));
    assert_eq!(rig.idp.calls(), 1);
    rig.time.advance(SECOND);
    assert_eq!(rig.source("tok-ttl").await, Some(Source::Miss));
    assert_eq!(rig.idp.calls(), 2);
    // Negative answers are cached for negative_ttl.
    for _ in 0..3 {
        assert_eq!(rig.user("tok-nope").await, None);
    }
    assert_eq!(rig.idp.calls(), 3);
    rig.time.advance(Duration::from_secs(3599));
    assert_eq!(rig.source("tok-nope").await, Some(Source::Hit));
    rig.time.advance(SECOND);
    assert_eq!(rig.source("tok-nope").await, Some(Source::Miss));
    assert_eq!(rig.idp.calls(), 4);
}

#[tokio::test]
async fn provider_failures_are_never_cached() {
    let rig = Rig::new(config());
    rig.idp.add("tok-a", "alice", rig.time.unix_now() + 600);
    rig.idp.fail(true);
    assert_eq!(rig.source("tok-a").await, None);
    assert_eq!(rig.source("tok-a").await, None);
    assert_eq!(rig.idp.calls(), 2, "each request asked again");
    rig.idp.fail(false);
    assert_eq!(rig.source("tok-a").await, Some(Source::Miss));
    assert_eq!(rig.source("tok-a").await, Some(Source::Hit));
}

#[tokio::test]
async fn a_stale_answer_stands_in_for_its_window_and_never_past_exp() {
    let rig = Rig::new(CacheConfig {
        ttl: SECOND,
        stale_if_error: Duration::from_secs(3600),
        ..config()
    });
    let now = rig.time.unix_now();
    rig.idp.add("tok-stale", "alice", now + 7200);
    rig.idp.add("tok-stale-exp", "bob", now + 2);
    assert_eq!(rig.source("tok-stale").await, Some(Source::Miss));
    assert_eq!(rig.source("tok-stale-exp").await, Some(Source::Miss));
    rig.time.advance(SECOND);
    rig.idp.fail(true);
    // Life ended, provider failing: the recent positive keeps serving.
    assert_eq!(rig.source("tok-stale").await, Some(Source::Stale));
    assert_eq!(rig.user("tok-stale").await.as_deref(), Some("alice"));
    // A token never validated before gets no such grace.
    assert_eq!(rig.source("tok-never-seen").await, None);
    // Never past the token's own exp.
    assert_eq!(rig.source("tok-stale-exp").await, Some(Source::Stale));
    rig.time.advance(SECOND);
    assert_eq!(rig.source("tok-stale-exp").await, None);
    // Nor past its window: life (1 s) plus stale_if_error (1 h).
    rig.time.advance(Duration::from_secs(3598));
    assert_eq!(rig.source("tok-stale").await, Some(Source::Stale));
    rig.time.advance(SECOND);
    assert_eq!(rig.source("tok-stale").await, None);
}

#[tokio::test]
async fn once_the_provider_answers_again_a_revoked_token_gets_no_stale_grace() {
    let rig = Rig::new(CacheConfig {
        ttl: SECOND,
        stale_if_error: Duration::from_secs(3600),
        ..config()
    });
    rig.idp
        .add("tok-stale", "alice", rig.time.unix_now() + 7200);
    assert_eq!(rig.user("tok-stale").await.as_deref(), Some("alice"));
    rig.time.advance(SECOND);
    rig.idp.remove("tok-stale");
    assert_eq!(rig.user("tok-stale").await, None, "revoked is revoked");
    rig.idp.fail(true);
    assert_eq!(
        rig.user("tok-stale").await,
        None,
        "the negative entry stands"
    );
    rig.time.advance(Duration::from_secs(30));
    assert_eq!(
        rig.source("tok-stale").await,
        None,
        "and no positive is left"
    );
}

#[tokio::test]
async fn without_stale_if_error_an_expired_entry_is_not_served() {
    let rig = Rig::new(CacheConfig {
        ttl: SECOND,
        ..config()
    });
    rig.idp.add("tok-x", "alice", rig.time.unix_now() + 600);
    assert_eq!(rig.source("tok-x").await, Some(Source::Miss));
    rig.time.advance(SECOND);
    rig.idp.fail(true);
    assert_eq!(rig.source("tok-x").await, None);
}

// === Concurrency and sharing ===

/// Sets its flag when dropped.
struct OnDrop(Arc<AtomicBool>);

impl Drop for OnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A lookup whose provider never answers, dropped once the provider has
/// the call: whether the provider's call was dropped with it.
async fn provider_call_dropped_with_its_request(exhaust: bool) -> bool {
    let started = Arc::new(tokio::sync::Notify::new());
    let dropped = Arc::new(AtomicBool::new(false));
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
    let detached = cache.cache().store.detached.clone();
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
    let stale = layer.store.stale.clone().unwrap();
    crate::test_support::wait_until("the stale copy was never kept", || stale.contains_key(&key))
        .await;
}

#[tokio::test]
async fn lookup_answers_a_live_entry_itself_and_sends_a_miss_to_the_provider() {
    let rig = Rig::new(config());
    for t in ["tok-a", "tok-b"] {
        rig.idp.add(t, "alice", rig.time.unix_now() + 600);
    }
    assert_eq!(rig.source("tok-a").await, Some(Source::Miss));
    assert_eq!(rig.source("tok-a").await, Some(Source::Hit));
    assert_eq!(rig.idp.calls(), 1, "a hit asks no provider");
    assert_eq!(rig.source("tok-b").await, Some(Source::Miss));
    assert_eq!(rig.idp.calls(), 2);
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
    let store = &cache.cache().store;
    let exp = |t: &str| {
        let key = cache.cache().key(&Token::new(t).unwrap());
        futures_util::FutureExt::now_or_never(store.entries.get(&key))
            .flatten()
            .and_then(|e| e.exp)
    };
    assert_ne!(exp("alice-1"), exp("alice-2"));
    assert!(exp("alice-1").is_some());
}
