//! Provider-call budgets shared through a real Redis: a client's new-token
//! budget (GCRA) and a provider's ceiling (a sliding-window log) hold for
//! every replica together, under the cluster key only; a Redis that is gone
//! answers `None` at once; and nothing in Redis names a client or a provider.

mod common {
    pub mod redis;
}

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::redis::{RedisServer, dump_all};
use restgate::cluster::Tier;
use restgate::config::{Cluster, ClusterKey, Rate};
use restgate::telemetry::cluster::ClusterSeries;

const PREFIX: &str = "rgtest:";
const CLIENT: &[u8] = b"203.0.113.7";
const PROVIDER: &str = "github-enterprise";

fn per_minute(count: u32) -> Rate {
    Rate {
        count,
        per: Duration::from_secs(60),
    }
}

fn config(url: &str, key: [u8; 32]) -> Cluster {
    Cluster {
        redis_urls: vec![url.to_owned()],
        username: None,
        password: None,
        key_file: "cluster.key".into(),
        key: ClusterKey(Arc::from(&key[..])),
        timeout: Duration::from_millis(250),
        prefix: PREFIX.to_owned(),
    }
}

/// A tier on `url` under `key`, once it shares (polled, bounded).
async fn tier(url: &str, key: [u8; 32]) -> Arc<Tier> {
    let tier = Tier::start(Arc::new(config(url, key)), ClusterSeries::default()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !tier.is_up() {
        assert!(
            Instant::now() < deadline,
            "tier not up within 15 s: {}",
            tier.status()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tier
}

/// Spends `n` times on the tiers in turn; the answers in order.
async fn spend_clients(tiers: &[&Tier], client: &[u8], n: usize) -> Vec<Result<(), Duration>> {
    let mut out = Vec::new();
    for i in 0..n {
        let t = tiers[i % tiers.len()];
        out.push(
            t.spend_client(client, per_minute(60), 5)
                .await
                .expect("Redis is up"),
        );
    }
    out
}

fn admitted(answers: &[Result<(), Duration>]) -> usize {
    answers.iter().filter(|a| a.is_ok()).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcra_admits_the_burst_then_refuses_for_one_interval() {
    let redis = RedisServer::start();
    let t = tier(&redis.url(), [1; 32]).await;

    let answers = spend_clients(&[&t], CLIENT, 5).await;
    assert_eq!(answers, vec![Ok(()); 5], "a burst of 5 is admitted at once");
    let wait = match t.spend_client(CLIENT, per_minute(60), 5).await {
        Some(Err(wait)) => wait,
        other => panic!("the 6th at once must be refused with a wait, got {other:?}"),
    };
    assert!(
        wait >= Duration::from_millis(500) && wait <= Duration::from_millis(1100),
        "60/min burst 5: the next call is allowed in about 1 s, not {wait:?}"
    );
    // Still refused right away, with no more than the same wait.
    match t.spend_client(CLIENT, per_minute(60), 5).await {
        Some(Err(again)) => assert!(again <= wait, "{again:?} > {wait:?}"),
        other => panic!("refused again at once, got {other:?}"),
    }
    // The wait is the truth: once it passed, exactly one more is admitted.
    tokio::time::sleep(wait + Duration::from_millis(20)).await;
    assert_eq!(
        t.spend_client(CLIENT, per_minute(60), 5).await,
        Some(Ok(()))
    );
    assert!(matches!(
        t.spend_client(CLIENT, per_minute(60), 5).await,
        Some(Err(_))
    ));
    // Another client has its own budget.
    let other = spend_clients(&[&t], b"198.51.100.9", 6).await;
    assert_eq!(admitted(&other), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_with_one_key_share_a_client_budget() {
    let redis = RedisServer::start();
    let (a, b) = (
        tier(&redis.url(), [2; 32]).await,
        tier(&redis.url(), [2; 32]).await,
    );

    let answers = spend_clients(&[&a, &b], CLIENT, 10).await;
    assert_eq!(
        admitted(&answers),
        5,
        "5 in all across both replicas: {answers:?}"
    );
    assert!(answers[..5].iter().all(Result::is_ok), "{answers:?}");
    for t in [&a, &b] {
        assert!(matches!(
            t.spend_client(CLIENT, per_minute(60), 5).await,
            Some(Err(_))
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_cluster_key_counts_apart() {
    let redis = RedisServer::start();
    let (a, c) = (
        tier(&redis.url(), [3; 32]).await,
        tier(&redis.url(), [4; 32]).await,
    );

    assert_eq!(admitted(&spend_clients(&[&a], CLIENT, 6).await), 5);
    assert_eq!(
        admitted(&spend_clients(&[&c], CLIENT, 6).await),
        5,
        "under another key the same client has a budget of its own"
    );
    for _ in 0..3 {
        assert!(matches!(
            a.spend_provider(PROVIDER, per_minute(3)).await,
            Some(Ok(_))
        ));
    }
    assert!(matches!(
        a.spend_provider(PROVIDER, per_minute(3)).await,
        Some(Err(_))
    ));
    assert_eq!(
        c.spend_provider(PROVIDER, per_minute(3)).await,
        Some(Ok(2)),
        "under another key the provider's window is empty"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_window_holds_across_two_replicas() {
    let redis = RedisServer::start();
    let (a, b) = (
        tier(&redis.url(), [5; 32]).await,
        tier(&redis.url(), [5; 32]).await,
    );

    let mut left = Vec::new();
    for i in 0..10 {
        let t = if i % 2 == 0 { &a } else { &b };
        match t.spend_provider(PROVIDER, per_minute(10)).await {
            Some(Ok(n)) => left.push(n),
            other => panic!("call {i} of 10/min refused: {other:?}"),
        }
    }
    assert_eq!(
        left,
        (0..10).rev().collect::<Vec<u64>>(),
        "left counts down"
    );
    for t in [&a, &b] {
        match t.spend_provider(PROVIDER, per_minute(10)).await {
            Some(Err(wait)) => assert!(
                wait > Duration::from_secs(50) && wait <= Duration::from_secs(60),
                "room when the oldest call leaves the minute, not in {wait:?}"
            ),
            other => panic!("the 11th in a minute must be refused, got {other:?}"),
        }
    }
    // Another provider has its own window.
    assert_eq!(
        a.spend_provider("gitlab", per_minute(10)).await,
        Some(Ok(9))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_redis_answers_none_quickly() {
    let mut redis = RedisServer::start();
    let t = tier(&redis.url(), [6; 32]).await;
    assert_eq!(
        t.spend_client(CLIENT, per_minute(60), 5).await,
        Some(Ok(()))
    );
    assert_eq!(
        t.spend_provider(PROVIDER, per_minute(10)).await,
        Some(Ok(9))
    );

    redis.stop();
    for i in 0..5 {
        let started = Instant::now();
        let c = t.spend_client(CLIENT, per_minute(60), 5).await;
        let p = t.spend_provider(PROVIDER, per_minute(10)).await;
        let took = started.elapsed();
        assert_eq!((c, p), (None, None), "round {i}");
        assert!(took < Duration::from_millis(700), "round {i} took {took:?}");
    }
    // Known down by now: no Redis call at all.
    assert!(!t.is_up());
    let started = Instant::now();
    assert_eq!(t.spend_client(CLIENT, per_minute(60), 5).await, None);
    assert!(started.elapsed() < Duration::from_millis(50));

    // Back (empty): counted through Redis again.
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !t.is_up() {
        assert!(Instant::now() < deadline, "tier not back: {}", t.status());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        t.spend_provider(PROVIDER, per_minute(10)).await,
        Some(Ok(9))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_names_no_client_and_no_provider() {
    let redis = RedisServer::start();
    let t = tier(&redis.url(), [7; 32]).await;
    assert_eq!(admitted(&spend_clients(&[&t], CLIENT, 6).await), 5);
    for _ in 0..3 {
        assert!(
            t.spend_provider(PROVIDER, per_minute(10))
                .await
                .unwrap()
                .is_ok()
        );
    }

    let dump = dump_all(redis.addr());
    let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    let mut kinds = Vec::new();
    for (key, content) in &dump {
        for bytes in std::iter::once(key).chain(content) {
            for needle in [CLIENT, PROVIDER.as_bytes(), b"github"] {
                assert!(
                    !contains(bytes, needle),
                    "{:?} in Redis: {:?} => {:?}",
                    String::from_utf8_lossy(needle),
                    String::from_utf8_lossy(key),
                    content
                );
            }
        }
        let key = String::from_utf8_lossy(key);
        assert!(key.starts_with(PREFIX), "{key}");
        kinds.push((
            key[PREFIX.len()..].chars().next().unwrap(),
            content[0].clone(),
        ));
    }
    // The budgets are there, under their own kinds: GCRA state and the log.
    assert!(kinds.contains(&('b', b"string".to_vec())), "{dump:?}");
    let window = dump
        .iter()
        .find(|(k, _)| k.starts_with(format!("{PREFIX}w:").as_bytes()))
        .expect("the provider's window");
    assert_eq!(window.1[0], b"zset");
    assert_eq!(window.1.len(), 1 + 2 * 3, "three calls logged: {window:?}");
    // Both expire on their own.
    for (key, _) in &dump {
        let k = String::from_utf8_lossy(key);
        if k.starts_with(&format!("{PREFIX}b:")) || k.starts_with(&format!("{PREFIX}w:")) {
            let ttl = common::redis::command(redis.addr(), &[b"PTTL", key]);
            assert!(
                matches!(ttl, common::redis::RespValue::Int(ms) if ms > 0 && ms <= 60_000),
                "{k}: PTTL {ttl:?}"
            );
        }
    }
}
