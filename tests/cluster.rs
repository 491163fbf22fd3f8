//! Replicas act as one through a real Redis: one provider call per token
//! cluster-wide, shared positive and negative answers, evictions that reach
//! every replica (one cut off included), nothing readable or forgeable in
//! Redis, and Redis never a point of failure.

mod common {
    pub mod client;
    pub mod gateway;
    pub mod idp;
    pub mod redis;
    pub mod replicas;
    pub mod setup;
    pub mod spawned;
    pub mod upstream;
}

use std::time::Duration;

use common::gateway::bearer_to;
use common::idp::{FakeIdp, Mode};
use common::redis::RedisServer;
use common::replicas::*;
use common::spawned::Spawned;
use common::upstream::RecordingUpstream;
use serde_json::json;

const PATH: &str = "/rest/api/2/myself";

/// Sends `token` to a replica and returns (status, user the upstream saw).
async fn ask(r: &common::spawned::Spawned, token: &str) -> (u16, String) {
    let res = bearer_to(r.addr, PATH, token).await;
    let user = if res.status == 200 {
        res.json()["user"].as_str().unwrap_or_default().to_owned()
    } else {
        String::new()
    };
    (res.status, user)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_new_token_on_three_replicas_makes_one_provider_call() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), "cluster.key");
    let (idp, up) = (FakeIdp::start().await, RecordingUpstream::start().await);
    let rs = replicas(3, &idp, &up, &[redis.url()], &key).await;
    idp.add_user("tok-slow-alice", "alice");
    idp.set_mode(Mode::Delay(Duration::from_millis(400)));

    let mut tasks = Vec::new();
    for i in 0..150 {
        let addr = rs[i % 3].addr;
        tasks.push(tokio::spawn(async move {
            bearer_to(addr, PATH, "tok-slow-alice").await
        }));
    }
    for t in tasks {
        let res = t.await.unwrap();
        assert_eq!(res.status, 200);
        assert_eq!(res.json()["user"], "alice");
    }
    assert_eq!(idp.calls(), 1, "one provider call for the whole cluster");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_answer_learnt_on_one_replica_serves_the_others_positive_and_negative() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), "cluster.key");
    let (idp, up) = (FakeIdp::start().await, RecordingUpstream::start().await);
    let rs = replicas(3, &idp, &up, &[redis.url()], &key).await;
    idp.add_user("tok-share-bob", "bob");

    assert_eq!(ask(&rs[0], "tok-share-bob").await, (200, "bob".into()));
    assert_eq!(ask(&rs[1], "tok-share-bob").await, (200, "bob".into()));
    assert_eq!(ask(&rs[2], "tok-share-bob").await, (200, "bob".into()));
    assert_eq!(idp.calls(), 1);
    assert_eq!(ask(&rs[0], "tok-nobody-knows").await.0, 401);
    assert_eq!(ask(&rs[1], "tok-nobody-knows").await.0, 401);
    assert_eq!(ask(&rs[2], "tok-nobody-knows").await.0, 401);
    assert_eq!(idp.calls(), 2, "a refusal is shared too");
    let m = metrics(&rs[1]).await;
    assert_eq!(
        sample(&m, "restgate_cluster_shared_lookups_total{result=\"hit\"}"),
        2.0
    );
    assert_eq!(sample(&m, "restgate_cluster_up"), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_eviction_on_one_replica_reaches_the_others_within_a_second() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), "cluster.key");
    let (idp, up) = (FakeIdp::start().await, RecordingUpstream::start().await);
    let rs = replicas(3, &idp, &up, &[redis.url()], &key).await;
    idp.add_user("tok-evict-carol", "carol");
    idp.add_user("tok-evict-dave", "dave");
    for r in &rs {
        assert_eq!(ask(r, "tok-evict-carol").await, (200, "carol".into()));
        assert_eq!(ask(r, "tok-evict-dave").await, (200, "dave".into()));
    }
    assert_eq!(idp.calls(), 2);

    // By user: every replica drops carol's entries, shared and in-process.
    let (status, body) = evict(&rs[0], json!({"user": "carol"})).await;
    assert_eq!(
        (status, body["replicas"].as_str()),
        (200, Some("all")),
        "{body}"
    );
    for r in &rs[1..] {
        let took = wait_metric(r, Duration::from_secs(1), |m| {
            sample(
                m,
                "restgate_cluster_evictions_total{origin=\"received\",kind=\"user\"}",
            ) >= 1.0
        })
        .await;
        assert!(took < Duration::from_secs(1));
    }
    assert_eq!(ask(&rs[1], "tok-evict-carol").await, (200, "carol".into()));
    assert_eq!(idp.calls(), 3, "asked again once, cluster-wide");
    assert_eq!(ask(&rs[2], "tok-evict-carol").await, (200, "carol".into()));
    assert_eq!(ask(&rs[0], "tok-evict-carol").await, (200, "carol".into()));
    assert_eq!(idp.calls(), 3);
    assert_eq!(ask(&rs[2], "tok-evict-dave").await, (200, "dave".into()));
    assert_eq!(idp.calls(), 3, "another user's entries stay");

    // By token: a revoked token stops working on every replica.
    idp.remove_token("tok-evict-dave");
    let (status, _) = evict(&rs[2], json!({"token": "tok-evict-dave"})).await;
    assert_eq!(status, 200);
    for r in &rs[..2] {
        wait_metric(r, Duration::from_secs(1), |m| {
            sample(
                m,
                "restgate_cluster_evictions_total{origin=\"received\",kind=\"token\"}",
            ) >= 1.0
        })
        .await;
    }
    for r in &rs {
        assert_eq!(ask(r, "tok-evict-dave").await.0, 401);
    }
    assert_eq!(idp.calls(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_cut_off_during_an_eviction_catches_up_before_serving_its_entries() {
    let redis = RedisServer::start();
    let relay = common::redis::Relay::start(redis.addr());
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), "cluster.key");
    let (idp, up) = (FakeIdp::start().await, RecordingUpstream::start().await);
    let a = replica(&idp, &up, &cluster_toml(&[redis.url()], &key, "")).await;
    let c = replica(&idp, &up, &cluster_toml(&[relay.url()], &key, "")).await;
    idp.add_user("tok-cut-erin", "erin");
    assert_eq!(ask(&a, "tok-cut-erin").await, (200, "erin".into()));
    assert_eq!(ask(&c, "tok-cut-erin").await, (200, "erin".into()));
    assert_eq!(idp.calls(), 1);

    relay.cut();
    wait_connected(&c, false).await;
    // Cut off, C still answers from what it holds: Redis is no dependency.
    assert_eq!(ask(&c, "tok-cut-erin").await, (200, "erin".into()));
    idp.remove_token("tok-cut-erin");
    let (status, _) = evict(&a, json!({"user": "erin"})).await;
    assert_eq!(status, 200);
    assert_eq!(ask(&a, "tok-cut-erin").await.0, 401);

    relay.restore();
    wait_connected(&c, true).await;
    assert_eq!(
        ask(&c, "tok-cut-erin").await.0,
        401,
        "after reconnecting, C does not serve the entry evicted while it was away"
    );
    let m = metrics(&c).await;
    assert!(
        sample(
            &m,
            "restgate_cluster_evictions_total{origin=\"received\",kind=\"all\"}"
        ) >= 2.0
    );
    assert!(sample(&m, "restgate_cluster_outages_total") >= 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_stopped_under_load_fails_no_request_and_sharing_resumes_after_restart() {
    let mut redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), "cluster.key");
    let (idp, up) = (FakeIdp::start().await, RecordingUpstream::start().await);
    let rs = replicas(3, &idp, &up, &[redis.url()], &key).await;
    let users: Vec<String> = (0..90).map(|i| format!("user{i}")).collect();
    for (i, u) in users.iter().enumerate() {
        idp.add_user(&format!("tok-load-{i}"), u);
    }
    let addrs: Vec<_> = rs.iter().map(|r| r.addr).collect();
    // 9000 requests, 24 at a time, over the three replicas; every 3000 a
    // new set of 30 tokens, so some are first seen while Redis is away.
    let load = tokio::spawn(async move {
        let mut bad = Vec::new();
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..9000usize {
            let (addr, i) = (addrs[n % 3], n % 30 + 30 * (n / 3000));
            let want = users[i].clone();
            tasks.spawn(async move {
                let res = bearer_to(addr, PATH, &format!("tok-load-{i}")).await;
                (
                    res.status,
                    res.json()["user"].as_str().map(str::to_owned),
                    want,
                )
            });
            while tasks.len() >= 24 {
                let (s, got, want) = tasks.join_next().await.unwrap().unwrap();
                if s != 200 || got.as_deref() != Some(&want) {
                    bad.push((s, got, want));
                }
            }
        }
        while let Some(done) = tasks.join_next().await {
            let (s, got, want) = done.unwrap();
            if s != 200 || got.as_deref() != Some(&want) {
                bad.push((s, got, want));
            }
        }
        bad
    });
    let until = |n: usize| {
        let up = &up;
        async move {
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            while up.count() < n {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the load does not move"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    until(1000).await;
    redis.stop();
    for r in &rs {
        wait_connected(r, false).await;
    }
    let at_stop = up.count();
    until(at_stop + 1500).await;
    redis.restart();
    for r in &rs {
        wait_connected(r, true).await;
    }
    let at_restart = up.count();
    let bad = load.await.unwrap();
    assert_eq!(
        bad,
        Vec::new(),
        "no request failed or got the wrong identity"
    );
    assert_eq!(up.count(), 9000);
    assert!(
        at_restart < 9000,
        "the load was still running when Redis came back ({at_stop} at the stop, {at_restart} at the restart)"
    );

    // Sharing is back, without restarting restgate.
    let before = idp.calls();
    idp.add_user("tok-after-restart", "frank");
    assert_eq!(
        ask(&rs[0], "tok-after-restart").await,
        (200, "frank".into())
    );
    assert_eq!(
        ask(&rs[1], "tok-after-restart").await,
        (200, "frank".into())
    );
    assert_eq!(
        ask(&rs[2], "tok-after-restart").await,
        (200, "frank".into())
    );
    assert_eq!(idp.calls(), before + 1);
    for r in rs {
        let (_, logs) = r.stop();
        assert_eq!(
            logs.matches("Redis unreachable").count(),
            1,
            "one warning per outage:\n{logs}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_with_different_keys_share_nothing_and_disturb_nothing() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let (k1, k2) = (
        key_file(dir.path(), "one.key"),
        key_file(dir.path(), "two.key"),
    );
    let (idp, up) = (FakeIdp::start().await, RecordingUpstream::start().await);
    let a = replica(&idp, &up, &cluster_toml(&[redis.url()], &k1, "")).await;
    let b = replica(&idp, &up, &cluster_toml(&[redis.url()], &k2, "")).await;
    idp.add_user("tok-two-keys", "grace");
    assert_eq!(ask(&a, "tok-two-keys").await, (200, "grace".into()));
    assert_eq!(ask(&b, "tok-two-keys").await, (200, "grace".into()));
    assert_eq!(idp.calls(), 2, "nothing shared across keys");
    let (code, _) = evict(&a, json!({"user": "grace"})).await;
    assert_eq!(code, 200);
    assert_eq!(ask(&b, "tok-two-keys").await, (200, "grace".into()));
    assert_eq!(idp.calls(), 2, "A's eviction does not reach B");
    for r in [&a, &b] {
        let m = metrics(r).await;
        assert_eq!(sample(&m, "restgate_cluster_unopenable_values_total"), 0.0);
        assert_eq!(sample(&m, "restgate_cluster_up"), 1.0);
        assert_eq!(status(r).await["cluster"]["replicas_seen"], 1);
    }
}

/// The `/status` of a replica once it has tried Redis and failed (its
/// `cluster.last_error` is set).
async fn wait_tried(r: &Spawned) -> serde_json::Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let s = status(r).await;
        if !s["cluster"]["last_error"].is_null() {
            return s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never tried Redis: {s}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_started_before_redis_shares_once_redis_is_up() {
    let mut redis = RedisServer::start();
    redis.stop();
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), "cluster.key");
    let (idp, up) = (FakeIdp::start().await, RecordingUpstream::start().await);
    let toml = format!(
        "{}{}",
        common::setup::config(&idp, &up, ""),
        cluster_toml(&[redis.url()], &key, "")
    );
    let a = Spawned::start(&toml, "info");
    let b = Spawned::start(&toml, "info");
    idp.add_user("tok-early-sybil", "sybil");
    assert_eq!(ask(&a, "tok-early-sybil").await, (200, "sybil".into()));
    assert_eq!(wait_tried(&a).await["cluster"]["connected"], false);
    redis.restart();
    wait_connected(&a, true).await;
    wait_connected(&b, true).await;
    idp.add_user("tok-late-sybil", "sybil");
    assert_eq!(ask(&a, "tok-late-sybil").await, (200, "sybil".into()));
    assert_eq!(ask(&b, "tok-late-sybil").await, (200, "sybil".into()));
    assert_eq!(idp.calls(), 2, "once Redis is up, the replicas share");
}

/// Every `(key, contents)` of the Redis as one byte string per item.
fn everything(dump: &[(Vec<u8>, Vec<Vec<u8>>)]) -> Vec<Vec<u8>> {
    dump.iter()
        .flat_map(|(k, v)| std::iter::once(k.clone()).chain(v.iter().cloned()))
        .collect()
}

fn holds(items: &[Vec<u8>], needle: &str) -> bool {
    let n = needle.as_bytes();
    items.iter().any(|i| i.windows(n.len()).any(|w| w == n))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_holds_no_token_user_email_or_client_id() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), "cluster.key");
    let (idp, up) = (FakeIdp::start().await, RecordingUpstream::start().await);
    let rs = replicas(2, &idp, &up, &[redis.url()], &key).await;
    idp.add_token(
        "tok-secret-heidi-5521",
        json!({"username": "heidi.q", "email": "heidi.q@corp.example", "client_id": "app-7c1f",
               "exp": common::client::now() + 3600}),
    );
    idp.add_token(
        "tok-secret-robot-9034",
        json!({"client_id": "ci-robot-4412", "exp": common::client::now() + 3600}),
    );
    assert_eq!(
        ask(&rs[0], "tok-secret-heidi-5521").await,
        (200, "heidi.q".into())
    );
    assert_eq!(
        ask(&rs[1], "tok-secret-robot-9034").await,
        (200, "svc-rest".into())
    );
    assert_eq!(ask(&rs[0], "tok-secret-refused-0007").await.0, 401);
    let (code, _) = evict(&rs[1], json!({"user": "heidi.q"})).await;
    assert_eq!(code, 200);
    assert_eq!(
        ask(&rs[1], "tok-secret-heidi-5521").await,
        (200, "heidi.q".into())
    );

    let items = everything(&common::redis::dump_all(redis.addr()));
    assert!(
        items.len() >= 4,
        "entries, an index and the replicas' set: {items:?}"
    );
    for secret in [
        "tok-secret",
        "heidi",
        "corp.example",
        "app-7c1f",
        "ci-robot-4412",
        "svc-rest",
        "robot",
    ] {
        assert!(!holds(&items, secret), "{secret:?} is readable in Redis");
    }
    for (k, _) in common::redis::dump_all(redis.addr()) {
        assert!(
            k.starts_with(b"restgate:"),
            "{}",
            String::from_utf8_lossy(&k)
        );
    }
}

/// The shared entries' keys (`…:v`).
fn entry_keys(redis: &RedisServer) -> Vec<Vec<u8>> {
    common::redis::keys(redis.addr())
        .into_iter()
        .filter(|k| k.ends_with(b":v"))
        .collect()
}

/// Validates `token` on `r` and returns the Redis key its entry got.
async fn learn(
    redis: &RedisServer,
    r: &common::spawned::Spawned,
    token: &str,
    user: &str,
) -> Vec<u8> {
    let before = entry_keys(redis);
    assert_eq!(ask(r, token).await, (200, user.into()));
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let new: Vec<_> = entry_keys(redis)
            .into_iter()
            .filter(|k| !before.contains(k))
            .collect();
        if new.len() == 1 {
            return new.into_iter().next().unwrap();
        }
        assert!(
            new.len() < 2 && std::time::Instant::now() < deadline,
            "one new entry for {token}: {new:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forged_swapped_or_altered_values_are_never_accepted_and_are_counted() {
    use common::redis::command;
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), "cluster.key");
    let (idp, up) = (FakeIdp::start().await, RecordingUpstream::start().await);
    let rs = replicas(2, &idp, &up, &[redis.url()], &key).await;
    let (a, b) = (&rs[0], &rs[1]);
    for (t, u) in [
        ("tok-f1", "ivan"),
        ("tok-f2", "judy"),
        ("tok-f3", "mallory"),
        ("tok-f4", "niaj"),
    ] {
        idp.add_user(t, u);
    }
    let k1 = learn(&redis, a, "tok-f1", "ivan").await;
    let k2 = learn(&redis, a, "tok-f2", "judy").await;
    let k3 = learn(&redis, a, "tok-f3", "mallory").await;
    let k4 = learn(&redis, a, "tok-f4", "niaj").await;
    let get = |k: &[u8]| command(redis.addr(), &[b"GET", k]).into_bytes().unwrap();
    let set = |k: &[u8], v: &[u8]| {
        command(redis.addr(), &[b"SET", k, v]);
    };
    // Swapped between two tokens.
    let (v1, v2) = (get(&k1), get(&k2));
    set(&k1, &v2);
    set(&k2, &v1);
    // The expiry, first in the sealed JSON (`{"u":…`, after the version
    // byte and the 16-byte salt), bent by one digit:
    // in GCM a ciphertext bit flips the same plaintext bit.
    let mut v3 = get(&k3);
    v3[1 + 16 + 6] ^= 0x01;
    set(&k3, &v3);
    // Made up from nothing.
    let mut v4 = vec![1u8];
    v4.extend((0..120).map(|i| i as u8));
    set(&k4, &v4);
    assert_eq!(idp.calls(), 4);

    for (t, u) in [
        ("tok-f1", "ivan"),
        ("tok-f2", "judy"),
        ("tok-f3", "mallory"),
        ("tok-f4", "niaj"),
    ] {
        assert_eq!(
            ask(b, t).await,
            (200, u.into()),
            "{t} keeps its own identity"
        );
    }
    assert_eq!(
        idp.calls(),
        8,
        "each bad value was a miss: the provider was asked"
    );
    let m = metrics(b).await;
    assert_eq!(sample(&m, "restgate_cluster_unopenable_values_total"), 4.0);
    // B's fresh answers replaced the bad values: A's evictions aside, a
    // third reader opens them.
    let c = replica(&idp, &up, &cluster_toml(&[redis.url()], &key, "")).await;
    for (t, u) in [("tok-f1", "ivan"), ("tok-f3", "mallory")] {
        assert_eq!(ask(&c, t).await, (200, u.into()));
    }
    assert_eq!(idp.calls(), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_a_redis_cluster_one_call_per_token_and_evictions_reach_every_replica() {
    let redis = common::redis::RedisCluster::start();
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), "cluster.key");
    let (idp, up) = (FakeIdp::start().await, RecordingUpstream::start().await);
    let rs = replicas(3, &idp, &up, &redis.urls(), &key).await;
    idp.add_user("tok-rc-olivia", "olivia");
    idp.add_user("tok-rc-peggy", "peggy");
    idp.set_mode(Mode::Delay(Duration::from_millis(400)));
    let mut tasks = Vec::new();
    for i in 0..150 {
        let addr = rs[i % 3].addr;
        let token = if i % 2 == 0 {
            "tok-rc-olivia"
        } else {
            "tok-rc-peggy"
        };
        tasks.push(tokio::spawn(async move {
            (token, bearer_to(addr, PATH, token).await)
        }));
    }
    for t in tasks {
        let (token, res) = t.await.unwrap();
        assert_eq!(res.status, 200);
        assert_eq!(res.json()["user"], token.trim_start_matches("tok-rc-"));
    }
    assert_eq!(
        idp.calls(),
        2,
        "one provider call per token for the whole cluster"
    );
    idp.set_mode(Mode::Normal);

    let (code, body) = evict(&rs[1], json!({"user": "olivia"})).await;
    assert_eq!(
        (code, body["replicas"].as_str()),
        (200, Some("all")),
        "{body}"
    );
    for r in [&rs[0], &rs[2]] {
        wait_metric(r, Duration::from_secs(1), |m| {
            sample(
                m,
                "restgate_cluster_evictions_total{origin=\"received\",kind=\"user\"}",
            ) >= 1.0
        })
        .await;
    }
    for r in &rs {
        assert_eq!(ask(r, "tok-rc-olivia").await, (200, "olivia".into()));
        assert_eq!(ask(r, "tok-rc-peggy").await, (200, "peggy".into()));
    }
    assert_eq!(
        idp.calls(),
        3,
        "olivia asked again once, cluster-wide; peggy not"
    );
    let items = everything(&common::redis::dump_all_cluster(&redis));
    for secret in ["tok-rc", "olivia", "peggy", "corp.example", "cli-app"] {
        assert!(!holds(&items, secret), "{secret:?} is readable in Redis");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redis_with_a_password_is_used_and_the_password_shown_nowhere() {
    let password = "redis-pw-6f1d0c2b";
    let redis = RedisServer::start_with_password(password);
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), "cluster.key");
    let pw_file = dir.path().join("redis.pw");
    std::fs::write(&pw_file, format!("{password}\n")).unwrap();
    let (idp, up) = (FakeIdp::start().await, RecordingUpstream::start().await);
    let extra = format!("redis_password_file = {:?}", pw_file.display().to_string());
    let a = replica(&idp, &up, &cluster_toml(&[redis.url()], &key, &extra)).await;
    let b = replica(&idp, &up, &cluster_toml(&[redis.url()], &key, &extra)).await;
    idp.add_user("tok-pw-rupert", "rupert");
    assert_eq!(ask(&a, "tok-pw-rupert").await, (200, "rupert".into()));
    assert_eq!(ask(&b, "tok-pw-rupert").await, (200, "rupert".into()));
    assert_eq!(idp.calls(), 1);
    let shown = format!("{}{}", status(&a).await, metrics(&a).await);
    assert!(!shown.contains(password));

    // Without the password, the replica serves alone and says why.
    let c = Spawned::start(
        &format!(
            "{}{}",
            common::setup::config(&idp, &up, ""),
            cluster_toml(&[redis.url()], &key, "")
        ),
        "info",
    );
    assert_eq!(ask(&c, "tok-pw-rupert").await, (200, "rupert".into()));
    assert_eq!(idp.calls(), 2);
    let s = wait_tried(&c).await;
    assert_eq!(s["cluster"]["connected"], false, "{s}");
    for r in [a, b, c] {
        let (_, logs) = r.stop();
        assert!(!logs.contains(password), "{logs}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_redis_or_a_server_speaking_garbage_only_makes_a_replica_serve_alone() {
    use common::redis::command;
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), "cluster.key");
    let (idp, up) = (FakeIdp::start().await, RecordingUpstream::start().await);
    let rs = replicas(2, &idp, &up, &[redis.url()], &key).await;

    // Full: every write refused (OOM).
    command(
        redis.addr(),
        &[b"CONFIG", b"SET", b"maxmemory-policy", b"noeviction"],
    );
    command(redis.addr(), &[b"CONFIG", b"SET", b"maxmemory", b"1"]);
    for i in 0..20 {
        let token = format!("tok-full-{i}");
        idp.add_user(&token, &format!("user{i}"));
        assert_eq!(ask(&rs[i % 2], &token).await, (200, format!("user{i}")));
    }
    wait_connected(&rs[0], false).await;
    assert!(sample(&metrics(&rs[0]).await, "restgate_cluster_errors_total") >= 1.0);
    command(redis.addr(), &[b"CONFIG", b"SET", b"maxmemory", b"0"]);
    wait_connected(&rs[0], true).await;
    wait_connected(&rs[1], true).await;
    idp.add_user("tok-after-full", "trent");
    let before = idp.calls();
    assert_eq!(ask(&rs[0], "tok-after-full").await, (200, "trent".into()));
    assert_eq!(ask(&rs[1], "tok-after-full").await, (200, "trent".into()));
    assert_eq!(idp.calls(), before + 1, "sharing resumed");

    // A server that answers anything but Redis.
    let garbage = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = garbage.local_addr().unwrap();
    let server = tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = garbage.accept().await else {
                return;
            };
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\n\r\n\x00\xff garbage ]]\r\n")
                    .await;
                let _ = s.flush().await;
                tokio::time::sleep(Duration::from_secs(30)).await;
            });
        }
    });
    let g = Spawned::start(
        &format!(
            "{}{}",
            common::setup::config(&idp, &up, ""),
            cluster_toml(&[format!("redis://{addr}/0")], &key, "")
        ),
        "info",
    );
    for i in 0..5 {
        assert_eq!(
            ask(&g, &format!("tok-full-{i}")).await,
            (200, format!("user{i}"))
        );
    }
    let s = wait_tried(&g).await;
    assert_eq!(s["cluster"]["connected"], false, "{s}");
    server.abort();
}
