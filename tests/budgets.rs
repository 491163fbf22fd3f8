//! `[limits]`: budgets of provider calls. Only cache misses spend; a client
//! spraying new tokens is held to its own budget while others pass; a
//! provider's ceiling holds under concurrency without a 503 or an
//! unauthenticated request reaching the upstream; replicas sharing Redis
//! count as one and alone once it is gone; X-Forwarded-For names the client
//! only from a trusted proxy; `restgate check` shows and validates it all.

mod common {
    pub mod budget_client;
    pub mod check;
    pub mod client;
    pub mod gateway;
    pub mod idp;
    pub mod redis;
    pub mod replicas;
    pub mod setup;
    pub mod spawned;
    pub mod upstream;
}

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::budget_client::{Reply, admin_get, get_from, metric};
use common::gateway::TestGateway;
use common::idp::{FakeIdp, Mode};
use common::setup::config;
use common::upstream::RecordingUpstream;

/// A gateway over `idp` and `up` with `tables` (whole TOML tables) added
/// after the provider's table, and a cache that keeps negative answers
/// longer than any test runs.
async fn gateway(idp: &FakeIdp, up: &RecordingUpstream, tables: &str) -> TestGateway {
    let extra = format!("\n[cache]\nnegative_ttl = \"10m\"\n\n{tables}\n");
    TestGateway::start(&config(idp, up, &extra)).await
}

/// Status codes of `replies`, for messages.
fn statuses(replies: &[Reply]) -> Vec<u16> {
    replies.iter().map(|r| r.status).collect()
}

// 1. One client spraying new tokens spends its own budget only.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_spraying_new_tokens_is_held_to_its_budget_while_others_pass() {
    let (idp, up) = (FakeIdp::start().await, RecordingUpstream::start().await);
    let gw = gateway(
        &idp,
        &up,
        "[limits]\nnew_tokens_per_client = \"60/min\"\nnew_tokens_burst = 20\n",
    )
    .await;

    // A token validated before the spray starts: cached from now on.
    idp.add_user("tok-cached-carol", "carol");
    let first = get_from("127.0.0.3", gw.addr, "tok-cached-carol", &[]).await;
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.json()["user"], "carol");
    let before = idp.calls();
    assert_eq!(before, 1);

    let start = Instant::now();
    let addr = gw.addr;
    let sprayer = tokio::spawn(async move {
        let mut replies = Vec::new();
        for i in 0..500 {
            replies.push(get_from("127.0.0.2", addr, &format!("tok-spray-{i}"), &[]).await);
        }
        replies
    });
    // Meanwhile the client with a cached token is never limited.
    let mut cached = Vec::new();
    while !sprayer.is_finished() {
        cached.push(get_from("127.0.0.3", gw.addr, "tok-cached-carol", &[]).await);
    }
    let sprayed = sprayer.await.unwrap();
    let elapsed = start.elapsed();
    let calls = idp.calls() - before;
    eprintln!("spray: {calls} provider calls for 500 new tokens in {elapsed:?}");

    assert!(!cached.is_empty());
    for r in &cached {
        assert_eq!(r.status, 200, "a cached token was refused: {r:?}");
        assert_eq!(r.json()["user"], "carol");
    }
    let rejected = sprayed.iter().filter(|r| r.status == 401).count();
    let limited: Vec<&Reply> = sprayed.iter().filter(|r| r.status == 429).collect();
    assert_eq!(
        rejected + limited.len(),
        500,
        "every sprayed token is 401 (asked) or 429 (limited): {:?}",
        statuses(&sprayed)
    );
    for r in &limited {
        r.assert_rate_limited();
    }
    let allowed = 20 + elapsed.as_secs() as usize + 1;
    assert!(
        calls <= allowed,
        "{calls} provider calls for the sprayer in {elapsed:?}; at most {allowed}"
    );
    assert!(
        calls >= 20,
        "the burst of 20 is granted before limiting: {calls}"
    );
    assert_eq!(
        calls, rejected,
        "one provider call per 401, none for a 429 nor for the cached token"
    );
    // The first 20 new tokens are the burst: none of them is limited.
    assert!(
        sprayed[..20].iter().all(|r| r.status == 401),
        "{:?}",
        statuses(&sprayed[..20])
    );
    assert_eq!(
        metric(gw.admin, "restgate_limited_total{reason=\"client\"}").await,
        limited.len() as f64
    );
    assert_eq!(
        metric(gw.admin, "restgate_limited_total{reason=\"provider\"}").await,
        0.0
    );

    // A third client's new token costs exactly one call and passes.
    idp.add_user("tok-new-dave", "dave");
    let calls = idp.calls();
    let dave = get_from("127.0.0.4", gw.addr, "tok-new-dave", &[]).await;
    assert_eq!(dave.status, 200, "{dave:?}");
    assert_eq!(dave.json()["user"], "dave");
    assert_eq!(idp.calls(), calls + 1);

    // The sprayer is over budget: a new token of its own is limited (a
    // second may have accrued since the spray ended; it is spent here).
    let mut over = None;
    for k in 0..3 {
        let r = get_from("127.0.0.2", gw.addr, &format!("tok-spray-fresh-{k}"), &[]).await;
        if r.status == 429 {
            over = Some(r);
            break;
        }
        assert_eq!(r.status, 401, "{r:?}");
    }
    let over = over.expect("the sprayer is limited again within 3 new tokens");
    over.assert_rate_limited();
    let calls = idp.calls();
    // Over budget, it still gets its cached negative answer: a token
    // already rejected is answered from the cache, never limited.
    let again = get_from("127.0.0.2", gw.addr, "tok-spray-0", &[]).await;
    assert_eq!(again.status, 401, "a cached negative answer: {again:?}");
    assert_eq!(idp.calls(), calls, "no provider call for it");

    // Retry-After is honest: after waiting it, a new token is asked.
    let wait = over.retry_after();
    assert!(wait <= 5, "Retry-After {wait} s at 60/min");
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let later = get_from("127.0.0.2", gw.addr, "tok-spray-later", &[]).await;
    assert_eq!(later.status, 401, "{later:?}");
    assert_eq!(idp.calls(), calls + 1);
}

// 2. A provider's ceiling holds under concurrency.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_provider_ceiling_holds_under_64_concurrent_clients() {
    let (idp, up) = (FakeIdp::start().await, RecordingUpstream::start().await);
    let gw = gateway(&idp, &up, "[limits.providers.idp]\ncalls = \"30/min\"\n").await;

    let status = admin_get(gw.admin, "/status").await.json();
    assert_eq!(status["providers"]["idp"]["budget_left"], 30, "{status}");
    assert_eq!(
        metric(gw.admin, "restgate_provider_budget_left{provider=\"idp\"}").await,
        30.0
    );

    // Calls overlap: the ceiling must hold for calls in flight too.
    idp.set_mode(Mode::Delay(Duration::from_millis(150)));
    let mut tasks = Vec::new();
    for i in 0..64usize {
        let token = format!("tok-ceiling-{i}");
        idp.add_user(&token, &format!("user{i}"));
        let addr = gw.addr;
        tasks.push(tokio::spawn(async move {
            let from = format!("127.0.1.{}", i + 1);
            (i, get_from(&from, addr, &token, &[]).await)
        }));
    }
    let mut passed = BTreeSet::new();
    let mut limited = 0usize;
    for t in tasks {
        let (i, r) = t.await.unwrap();
        match r.status {
            200 => {
                assert_eq!(r.json()["user"], format!("user{i}"), "{r:?}");
                passed.insert(format!("user{i}"));
            }
            429 => {
                r.assert_rate_limited();
                limited += 1;
            }
            _ => panic!("only 200 or 429 under a ceiling, got {r:?}"),
        }
    }
    let calls = idp.calls();
    eprintln!(
        "ceiling: {calls} calls, {} passed, {limited} limited",
        passed.len()
    );
    assert!(
        calls <= 30,
        "{calls} provider calls under a ceiling of 30/min"
    );
    assert_eq!(passed.len() + limited, 64);
    assert_eq!(passed.len(), calls, "every call admitted one request");
    let seen: BTreeSet<String> = up
        .seen()
        .iter()
        .map(|s| s.header("x-forwarded-user").unwrap_or_default())
        .collect();
    assert_eq!(up.count(), passed.len(), "the upstream saw only the 200s");
    assert_eq!(seen, passed, "each with its own user");
    assert_eq!(
        metric(gw.admin, "restgate_limited_total{reason=\"provider\"}").await,
        limited as f64
    );
    assert_eq!(
        metric(gw.admin, "restgate_limited_total{reason=\"client\"}").await,
        0.0
    );
    let status = admin_get(gw.admin, "/status").await.json();
    assert_eq!(status["providers"]["idp"]["budget_left"], 0, "{status}");
    assert_eq!(
        metric(gw.admin, "restgate_provider_budget_left{provider=\"idp\"}").await,
        0.0
    );

    // Cached tokens still pass once the ceiling is reached.
    idp.set_mode(Mode::Normal);
    let user = passed.iter().next().expect("some request passed").clone();
    let i: usize = user.trim_start_matches("user").parse().unwrap();
    let from = format!("127.0.1.{}", i + 1);
    let again = get_from(&from, gw.addr, &format!("tok-ceiling-{i}"), &[]).await;
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(idp.calls(), calls);
}

#[tokio::test]
async fn budget_left_is_null_for_a_provider_without_a_ceiling() {
    let (idp, up) = (FakeIdp::start().await, RecordingUpstream::start().await);
    let gw = gateway(&idp, &up, "").await;
    let status = admin_get(gw.admin, "/status").await.json();
    assert!(status["providers"]["idp"].is_object(), "{status}");
    assert!(
        status["providers"]["idp"]["budget_left"].is_null(),
        "no [limits]: {status}"
    );
    let gw = gateway(
        &idp,
        &up,
        "[limits]\nnew_tokens_per_client = \"60/min\"\nnew_tokens_burst = 20\n",
    )
    .await;
    let status = admin_get(gw.admin, "/status").await.json();
    assert!(status["providers"]["idp"].is_object(), "{status}");
    assert!(
        status["providers"]["idp"]["budget_left"].is_null(),
        "a per-client limit only: {status}"
    );
}

// 3. Replicas sharing Redis count as one; alone once Redis is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_sharing_redis_hold_a_client_to_one_budget_and_alone_without_it() {
    use common::replicas::{cluster_toml, key_file, replica, wait_connected};
    let mut redis = common::redis::RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), "cluster.key");
    let (idp, up) = (FakeIdp::start().await, RecordingUpstream::start().await);
    let limits = "\n[limits]\nnew_tokens_per_client = \"60/min\"\nnew_tokens_burst = 10\n";
    let toml = cluster_toml(&[redis.url()], &key, limits);
    let rs = [
        replica(&idp, &up, &toml).await,
        replica(&idp, &up, &toml).await,
        replica(&idp, &up, &toml).await,
    ];
    let addrs: Vec<_> = rs.iter().map(|r| r.addr).collect();
    let spray = |from: usize, to: usize| {
        let addrs = addrs.clone();
        async move {
            let mut out = Vec::new();
            for i in from..to {
                out.push((
                    i % 3,
                    get_from("127.0.0.1", addrs[i % 3], &format!("tok-rr-{i}"), &[]).await,
                ));
            }
            out
        }
    };

    let start = Instant::now();
    let shared = spray(0, 90).await;
    let elapsed = start.elapsed().as_secs_f64();
    let calls = idp.calls();
    eprintln!("shared: {calls} calls for 90 new tokens over 3 replicas in {elapsed:.2} s");
    let mut limited = 0;
    for (_, r) in &shared {
        match r.status {
            401 => {}
            429 => {
                r.assert_rate_limited();
                limited += 1;
            }
            _ => panic!("only 401 or 429 for unknown tokens: {r:?}"),
        }
    }
    let rejected = shared.iter().filter(|(_, r)| r.status == 401).count();
    assert_eq!(calls, rejected, "one call per 401, none per 429");
    let single = 10.0 + elapsed;
    assert!(
        (calls as f64) <= single * 1.1 + 1.0,
        "{calls} calls over 3 replicas in {elapsed:.2} s; one replica alone allows {single:.1}"
    );
    assert!(
        (calls as f64) >= 10.0 * 0.9,
        "the shared burst of 10 is granted: {calls}"
    );
    let mut counted = 0.0;
    for r in &rs {
        let text = common::replicas::metrics(r).await;
        counted += common::replicas::sample(&text, "restgate_limited_total{reason=\"client\"}");
    }
    assert_eq!(counted, limited as f64, "429s counted by the replicas");

    // Redis gone: each replica counts alone, and nothing fails.
    redis.stop();
    let start = Instant::now();
    let alone = spray(90, 180).await;
    let elapsed = start.elapsed().as_secs_f64();
    for (_, r) in &alone {
        match r.status {
            401 => {}
            429 => r.assert_rate_limited(),
            _ => panic!("Redis down: only 401 or 429, got {r:?}"),
        }
    }
    let grown = idp.calls() - calls;
    eprintln!("alone: {grown} calls for 90 new tokens with Redis down in {elapsed:.2} s");
    let bound = 3.0 * (10.0 + elapsed + 1.0);
    assert!(
        (grown as f64) <= bound,
        "{grown} calls with Redis down in {elapsed:.2} s; at most {bound:.1}"
    );
    for replica in 0..3 {
        assert!(
            alone.iter().any(|(n, r)| *n == replica && r.status == 401),
            "replica {replica} admitted nothing alone: {:?}",
            alone
                .iter()
                .filter(|(n, _)| *n == replica)
                .map(|(_, r)| r.status)
                .collect::<Vec<_>>()
        );
    }
    for r in &rs {
        wait_connected(r, false).await;
    }
}

// 4. X-Forwarded-For names the client only from a trusted proxy.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn x_forwarded_for_names_the_client_only_from_a_trusted_proxy() {
    let (idp, up) = (FakeIdp::start().await, RecordingUpstream::start().await);
    // A burst of 2 that does not refill while the test runs.
    let limits = "[limits]\nnew_tokens_per_client = \"1/h\"\nnew_tokens_burst = 2\n";
    let n = std::sync::atomic::AtomicUsize::new(0);
    // A new unknown token from `from` with `xff` (None: no header): its status.
    let ask = |addr: std::net::SocketAddr, from: &'static str, xff: Option<&'static str>| {
        let token = format!(
            "tok-xff-{}",
            n.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        async move {
            let headers: Vec<(&str, &str)> =
                xff.map(|x| ("x-forwarded-for", x)).into_iter().collect();
            let r = get_from(from, addr, &token, &headers).await;
            if r.status == 429 {
                r.assert_rate_limited();
            }
            r.status
        }
    };

    // No trusted proxies: the peer is the client whatever it writes.
    let gw = gateway(&idp, &up, limits).await;
    let mut got = Vec::new();
    for xff in ["1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4"] {
        got.push(ask(gw.addr, "127.0.0.5", Some(xff)).await);
    }
    assert_eq!(got, [401, 401, 429, 429], "one budget for 127.0.0.5");
    drop(gw);

    let tables = format!("[server]\ntrusted_proxies = [\"127.0.0.6\", \"10.0.0.0/8\"]\n\n{limits}");
    let gw = gateway(&idp, &up, &tables).await;
    let a = gw.addr;

    // An untrusted peer's X-Forwarded-For is ignored here too.
    let mut got = Vec::new();
    for xff in ["1.1.1.1", "2.2.2.2", "3.3.3.3"] {
        got.push(ask(a, "127.0.0.7", Some(xff)).await);
    }
    assert_eq!(got, [401, 401, 429], "one budget for untrusted 127.0.0.7");

    // Through the trusted proxy, each forwarded client has its own burst.
    let mut got = Vec::new();
    for xff in [
        "11.0.0.1", "11.0.0.1", "12.0.0.2", "12.0.0.2", "11.0.0.1", "12.0.0.2",
    ] {
        got.push(ask(a, "127.0.0.6", Some(xff)).await);
    }
    assert_eq!(
        got,
        [401, 401, 401, 401, 429, 429],
        "two forwarded clients, a burst of 2 each"
    );

    // A chain ending in the trusted proxy itself names the hop before it.
    let mut got = Vec::new();
    got.push(ask(a, "127.0.0.6", Some("1.2.3.4, 127.0.0.6")).await);
    got.push(ask(a, "127.0.0.6", Some("1.2.3.4")).await);
    got.push(ask(a, "127.0.0.6", Some("1.2.3.4")).await);
    assert_eq!(got, [401, 401, 429], "\"1.2.3.4, 127.0.0.6\" is 1.2.3.4");

    // Trusted hops in a CIDR are skipped too.
    let mut got = Vec::new();
    got.push(ask(a, "127.0.0.6", Some("8.8.8.8, 10.1.2.3")).await);
    got.push(ask(a, "127.0.0.6", Some("8.8.8.8")).await);
    got.push(ask(a, "127.0.0.6", Some("8.8.8.8")).await);
    assert_eq!(got, [401, 401, 429], "\"8.8.8.8, 10.1.2.3\" is 8.8.8.8");

    // The part the client wrote on the left is not believed.
    let mut got = Vec::new();
    got.push(ask(a, "127.0.0.6", Some("5.5.5.5")).await);
    got.push(ask(a, "127.0.0.6", Some("5.5.5.5")).await);
    got.push(ask(a, "127.0.0.6", Some("9.9.9.9, 5.5.5.5")).await);
    assert_eq!(got, [401, 401, 429], "\"9.9.9.9, 5.5.5.5\" is 5.5.5.5");
    let mut got = Vec::new();
    got.push(ask(a, "127.0.0.6", Some("9.9.9.9")).await);
    got.push(ask(a, "127.0.0.6", Some("9.9.9.9")).await);
    assert_eq!(got, [401, 401], "9.9.9.9 was never charged");

    // The trusted proxy without X-Forwarded-For is a client of its own.
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(ask(a, "127.0.0.6", None).await);
    }
    assert_eq!(got, [401, 401, 429], "127.0.0.6 itself, one budget");
}

// 5. `restgate check` prints the limits and points at bad ones.

/// `restgate check` on `text` written to a file (`{secret_file}` filled
/// in): (exit code, stdout + stderr, the file's text).
fn check(text: &str) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let (path, text) = common::check::write_config(dir.path(), "budgets.toml", text);
    let out = common::check::run(&path, &[], common::check::Env::Inherit(&[]));
    (out.code, out.all(), text)
}

/// The line number `budgets.toml:N: key` gives for `key`, if any.
fn line_of(out: &str, key: &str) -> Option<usize> {
    out.lines().find_map(|l| {
        let rest = &l[l.find("budgets.toml:")? + "budgets.toml:".len()..];
        let (n, tail) = rest.split_once(':')?;
        if tail.trim_start().starts_with(key) {
            n.trim().parse().ok()
        } else {
            None
        }
    })
}

#[tokio::test]
async fn check_prints_the_limits_and_names_bad_ones_with_their_line() {
    let (idp, up) = (FakeIdp::start().await, RecordingUpstream::start().await);
    let with = |server: &str, tables: &str| {
        format!("[server]\n{server}\n{}\n{tables}", config(&idp, &up, ""))
    };

    let (code, out, _) = check(&with(
        "trusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\"]",
        "[limits]\nnew_tokens_per_client = \"60/min\"\nnew_tokens_burst = 20\n\n[limits.providers.idp]\ncalls = \"30/min\"\n",
    ));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.lines()
            .any(|l| l.contains("60/min") && l.contains("20")),
        "the per-client rate and its burst: {out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains("idp") && l.contains("30/min")),
        "the provider ceiling: {out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains("127.0.0.1") && l.contains("10.0.0.0/8")),
        "the trusted proxies: {out}"
    );

    // A bad unit: exit 1, the key and the line it is on.
    let (code, out, text) = check(&with(
        "",
        "[limits]\nnew_tokens_burst = 20\nnew_tokens_per_client = \"60/fortnight\"\n",
    ));
    assert_eq!(code, 1, "{out}");
    let at = line_of(&out, "limits.new_tokens_per_client")
        .unwrap_or_else(|| panic!("no budgets.toml:LINE: limits.new_tokens_per_client in {out}"));
    assert!(
        text.lines()
            .nth(at - 1)
            .unwrap_or_default()
            .contains("60/fortnight"),
        "line {at} is not the rate's: {out}\n{text}"
    );

    // A ceiling for a provider that does not exist.
    let (code, out, _) = check(&with("", "[limits.providers.nosuch]\ncalls = \"5/s\"\n"));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("limits.providers.nosuch"), "{out}");

    // A trusted proxy that is not an address.
    let (code, out, text) = check(&with("trusted_proxies = [\"not-an-ip\"]", ""));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("server.trusted_proxies[0]"), "{out}");
    if let Some(at) = line_of(&out, "server.trusted_proxies[0]") {
        assert!(
            text.lines()
                .nth(at - 1)
                .unwrap_or_default()
                .contains("not-an-ip"),
            "line {at} is not the proxy's: {out}\n{text}"
        );
    }

    // Every rate unit of the contract is accepted.
    for rate in ["2/s", "60/min", "100/h", "1000/day"] {
        let (code, out, _) = check(&with(
            "",
            &format!("[limits]\nnew_tokens_per_client = \"{rate}\"\nnew_tokens_burst = 5\n"),
        ));
        assert_eq!(code, 0, "{rate}: {out}");
        assert!(out.contains(rate), "{rate} printed: {out}");
    }
}
