//! Budgets of provider calls: a client spraying new tokens spends its own
//! budget only, a provider's ceiling holds under concurrency, an untrusted
//! peer cannot pick its budget through X-Forwarded-For, and replicas
//! sharing Redis count as one.

mod common {
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

use std::net::SocketAddr;
use std::time::Instant;

use common::gateway::TestGateway;
use common::idp::FakeIdp;
use common::setup::config;
use common::upstream::RecordingUpstream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PATH: &str = "/rest/api/2/myself";

/// One request from the local address `from`: (status, Retry-After, body).
async fn ask_from(
    from: &str,
    to: SocketAddr,
    token: &str,
    xff: Option<&str>,
) -> (u16, Option<String>, String) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(from.parse().unwrap(), 0))
        .unwrap();
    let mut stream = socket.connect(to).await.unwrap();
    let xff = xff
        .map(|x| format!("X-Forwarded-For: {x}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "GET {PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n{xff}Connection: close\r\n\r\n"
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text[9..12].parse().unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let retry = head.lines().find_map(|l| {
        l.to_ascii_lowercase()
            .strip_prefix("retry-after:")
            .map(|v| v.trim().to_owned())
    });
    (status, retry, body.to_owned())
}

async fn gateway(idp: &FakeIdp, up: &RecordingUpstream, extra: &str) -> TestGateway {
    TestGateway::start(&config(idp, up, extra)).await
}

async fn metric(gw: &TestGateway, name: &str) -> f64 {
    let res = common::gateway::send_to(gw.admin, "GET", "/metrics", &[], bytes::Bytes::new()).await;
    common::replicas::sample(&String::from_utf8_lossy(&res.body), name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_spraying_new_tokens_spends_its_own_budget_only() {
    let (idp, up) = (FakeIdp::start().await, RecordingUpstream::start().await);
    let limits = "[limits]\nnew_tokens_per_client = \"60/min\"\nnew_tokens_burst = 20\n";
    // The extra lines land inside [providers.idp]; the limits table follows.
    let gw = gateway(&idp, &up, &format!("\n{limits}")).await;
    idp.add_user("tok-cached-grace", "grace");
    assert_eq!(
        ask_from("127.0.0.3", gw.addr, "tok-cached-grace", None)
            .await
            .0,
        200
    );
    let before = idp.calls();
    let start = Instant::now();

    let sprayer = {
        let addr = gw.addr;
        tokio::spawn(async move {
            let mut limited = 0;
            for i in 0..500 {
                let (status, retry, body) =
                    ask_from("127.0.0.2", addr, &format!("tok-spray-{i}"), None).await;
                assert!(status == 401 || status == 429, "{status} {body}");
                if status == 429 {
                    limited += 1;
                    let secs: u64 = retry.expect("Retry-After").parse().unwrap();
                    assert!(secs >= 1);
                    assert!(body.contains("\"rate_limited\""), "{body}");
                }
            }
            limited
        })
    };
    // Meanwhile a client re-using its token is never limited.
    let mut cached = 0;
    while !sprayer.is_finished() {
        assert_eq!(
            ask_from("127.0.0.3", gw.addr, "tok-cached-grace", None)
                .await
                .0,
            200
        );
        cached += 1;
    }
    let limited = sprayer.await.unwrap();
    let sprayed = idp.calls() - before;
    let allowed = 20 + start.elapsed().as_secs() as usize + 1;
    assert!(
        sprayed <= allowed,
        "{sprayed} provider calls for the sprayer, at most {allowed}"
    );
    assert_eq!(sprayed + limited, 500);
    assert!(cached > 0);
    // A third client's new token is not held up by the sprayer.
    idp.add_user("tok-new-heidi", "heidi");
    let calls = idp.calls();
    assert_eq!(
        ask_from("127.0.0.4", gw.addr, "tok-new-heidi", None)
            .await
            .0,
        200
    );
    assert_eq!(idp.calls(), calls + 1);
    assert_eq!(
        metric(&gw, "restgate_limited_total{reason=\"client\"}").await,
        limited as f64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_provider_ceiling_holds_under_concurrency_and_nothing_passes_unauthenticated() {
    let (idp, up) = (FakeIdp::start().await, RecordingUpstream::start().await);
    let gw = gateway(&idp, &up, "\n[limits.providers.idp]\ncalls = \"30/min\"\n").await;
    let mut tasks = Vec::new();
    for i in 0..64 {
        let token = format!("tok-ceiling-{i}");
        idp.add_user(&token, &format!("user{i}"));
        let addr = gw.addr;
        tasks.push(tokio::spawn(async move {
            let from = format!("127.0.1.{}", i + 1);
            (i, ask_from(&from, addr, &token, None).await)
        }));
    }
    let (mut ok, mut limited) = (0, 0);
    for t in tasks {
        let (i, (status, _, body)) = t.await.unwrap();
        match status {
            200 => {
                ok += 1;
                assert!(body.contains(&format!("\"user{i}\"")), "{body}");
            }
            429 => limited += 1,
            other => panic!("{other}: {body}"),
        }
    }
    assert!(idp.calls() <= 30, "{} calls", idp.calls());
    assert_eq!(ok, idp.calls());
    assert_eq!(
        up.count(),
        ok,
        "only authenticated requests reached the upstream"
    );
    assert_eq!(ok + limited, 64);
    assert_eq!(
        metric(&gw, "restgate_limited_total{reason=\"provider\"}").await,
        limited as f64
    );
    let status =
        common::gateway::send_to(gw.admin, "GET", "/status", &[], bytes::Bytes::new()).await;
    assert_eq!(status.json()["providers"]["idp"]["budget_left"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn x_forwarded_for_names_the_budget_only_from_a_trusted_proxy() {
    let (idp, up) = (FakeIdp::start().await, RecordingUpstream::start().await);
    let limits = "\n[limits]\nnew_tokens_per_client = \"1/h\"\nnew_tokens_burst = 2\n";
    let toml = format!(
        "[server]\ntrusted_proxies = [\"127.0.0.6\"]\n{}",
        config(&idp, &up, limits)
    );
    let gw = TestGateway::start(&toml).await;
    let spent = |from: &'static str, xffs: Vec<&'static str>| {
        let addr = gw.addr;
        async move {
            let mut out = Vec::new();
            for x in xffs {
                static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
                let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let token = format!("tok-xff-{n}");
                out.push(ask_from(from, addr, &token, Some(x)).await.0);
            }
            out
        }
    };
    // Untrusted peer: its X-Forwarded-For is ignored, one budget of 2.
    assert_eq!(
        spent("127.0.0.5", vec!["1.1.1.1", "2.2.2.2", "3.3.3.3"]).await,
        vec![401, 401, 429]
    );
    // Trusted proxy: each forwarded client has its own budget of 2.
    assert_eq!(
        spent(
            "127.0.0.6",
            vec!["4.4.4.4", "5.5.5.5", "4.4.4.4", "5.5.5.5", "4.4.4.4"]
        )
        .await,
        vec![401, 401, 401, 401, 429]
    );
    // The client's own left part is not believed: "9.9.9.9, 5.5.5.5" is 5.5.5.5.
    assert_eq!(
        spent("127.0.0.6", vec!["9.9.9.9, 5.5.5.5"]).await,
        vec![429]
    );
    // A chain ending in the trusted proxy itself names the hop before it.
    assert_eq!(
        spent("127.0.0.6", vec!["7.7.7.7, 127.0.0.6", "7.7.7.7"]).await,
        vec![401, 401]
    );
    assert_eq!(spent("127.0.0.6", vec!["7.7.7.7"]).await, vec![429]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_sharing_redis_limit_a_client_as_one_and_alone_without_it() {
    use common::replicas::*;
    let mut redis = common::redis::RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), "cluster.key");
    let (idp, up) = (FakeIdp::start().await, RecordingUpstream::start().await);
    let limits = "\n[limits]\nnew_tokens_per_client = \"60/min\"\nnew_tokens_burst = 10\n";
    let toml = format!("{}{}", cluster_toml(&[redis.url()], &key, ""), limits);
    let rs = [
        replica(&idp, &up, &toml).await,
        replica(&idp, &up, &toml).await,
        replica(&idp, &up, &toml).await,
    ];
    let spray = |from: usize, to: usize| {
        let addrs: Vec<_> = rs.iter().map(|r| r.addr).collect();
        async move {
            let mut statuses = Vec::new();
            for i in from..to {
                let res =
                    common::gateway::bearer_to(addrs[i % 3], PATH, &format!("tok-rep-{i}")).await;
                statuses.push(res.status);
            }
            statuses
        }
    };
    let start = Instant::now();
    let statuses = spray(0, 90).await;
    let calls = idp.calls();
    let single = 10 + start.elapsed().as_secs() as usize + 1;
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
    assert!(
        calls <= single + single / 10,
        "{calls} calls over 3 replicas; one replica alone allows {single}"
    );
    assert!(
        calls >= 10,
        "the burst is spent cluster-wide, not refused outright: {calls}"
    );

    // Redis gone: each replica counts alone, and nothing fails.
    redis.stop();
    for r in &rs {
        wait_connected(r, false).await;
    }
    let start = Instant::now();
    let statuses = spray(90, 180).await;
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
    let alone = idp.calls() - calls;
    let bound = 3 * (10 + start.elapsed().as_secs() as usize + 1);
    assert!(
        alone <= bound,
        "{alone} calls with Redis down, at most {bound}"
    );
    assert!(alone > 0, "the replicas' own budgets admitted calls");
}

/// `restgate check` on `toml` (its secret file written beside it).
fn check(toml: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = common::check::write_config(dir.path(), "rg.toml", toml);
    let out = common::check::run(&path, &[], common::check::Env::Inherit(&[]));
    (out.code == 0, out.all())
}

#[tokio::test]
async fn check_prints_the_limits_and_points_at_a_bad_one() {
    let (idp, up) = (FakeIdp::start().await, RecordingUpstream::start().await);
    let with = |server: &str, limits: &str| {
        format!("[server]\n{server}\n{}\n{limits}", config(&idp, &up, ""))
    };
    let (ok, out) = check(&with(
        "trusted_proxies = [\"10.0.0.0/8\", \"127.0.0.1\"]",
        "[limits]\nnew_tokens_per_client = \"60/min\"\nnew_tokens_burst = 20\n[limits.providers.idp]\ncalls = \"1200/min\"\n",
    ));
    assert!(ok, "{out}");
    assert!(
        out.contains("60/min new tokens per client, burst 20"),
        "{out}"
    );
    assert!(
        out.contains("provider idp  at most 1200/min calls"),
        "{out}"
    );
    assert!(
        out.contains("trusted proxies 10.0.0.0/8, 127.0.0.1/32"),
        "{out}"
    );

    let (ok, out) = check(&with(
        "",
        "[limits]\nnew_tokens_per_client = \"60/fortnight\"\n",
    ));
    assert!(!ok);
    assert!(
        out.contains("limits.new_tokens_per_client") && out.contains("unknown unit"),
        "{out}"
    );
    let line = out
        .lines()
        .find(|l| l.contains("limits.new_tokens_per_client"))
        .unwrap();
    let at: usize = line.split(':').nth(1).unwrap().parse().unwrap();
    assert!(
        with("", "[limits]\nnew_tokens_per_client = \"60/fortnight\"\n")
            .lines()
            .nth(at - 1)
            .unwrap()
            .contains("fortnight"),
        "{line}"
    );

    let (ok, out) = check(&with("", "[limits.providers.nosuch]\ncalls = \"5/s\"\n"));
    assert!(
        !ok && out.contains("limits.providers.nosuch") && out.contains("no [providers.nosuch]"),
        "{out}"
    );
    let (ok, out) = check(&with("trusted_proxies = [\"not-an-ip\"]", ""));
    assert!(!ok && out.contains("server.trusted_proxies[0]"), "{out}");
}
