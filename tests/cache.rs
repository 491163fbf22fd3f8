//! The validation cache over the wire: one provider call per token under
//! concurrency, refusals cached, provider failures (never cached, never a
//! pass), stale_if_error. How long entries live is proven on a manual clock
//! in src/auth/cache/tests.rs.

mod common {
    pub mod client;
    pub mod gateway;
    pub mod idp;
    pub mod setup;
    pub mod upstream;
}

use std::time::Duration;

use common::client::*;
use common::gateway::*;
use common::idp::*;
use common::setup::*;
use common::upstream::*;
use restgate::test_support::wait_until;

#[tokio::test]
async fn concurrent_requests_with_one_new_token_make_one_provider_call() {
    let (idp, up, gw) = setup("").await;
    idp.add_user("tok-burst", "alice");
    // Slow the provider a little so every request is in flight before it answers.
    idp.set_mode(Mode::Delay(Duration::from_millis(200)));
    let addr = gw.addr;
    let tasks: Vec<_> = (0..500)
        .map(|_| {
            tokio::spawn(async move {
                bearer_to(addr, "/rest/api/2/myself", "tok-burst")
                    .await
                    .status
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert_eq!(idp.calls(), 1, "500 concurrent requests, one provider call");
    assert_eq!(up.count(), 500);
    assert!(
        up.seen()
            .iter()
            .all(|s| s.header("x-forwarded-user").as_deref() == Some("alice"))
    );
}

// How long entries live (min(ttl, exp - now), negative_ttl, the stale
// window) is proven on a manual clock by the cache's own tests
// (src/auth/cache/tests.rs), so nothing here waits for a TTL to pass.

#[tokio::test]
async fn a_refused_token_asks_the_provider_once_while_its_refusal_lives() {
    let (idp, _up, gw) = setup("\n[cache]\nnegative_ttl = \"1h\"\n").await;
    // Negative answers are cached for negative_ttl.
    for _ in 0..3 {
        assert_eq!(
            gw.bearer("/rest/api/2/myself", "tok-nope").await.status,
            401
        );
    }
    assert_eq!(idp.calls(), 1);
}

#[tokio::test]
async fn a_token_past_its_exp_is_refused_though_the_provider_says_active() {
    let (idp, _up, gw) = setup("\n[cache]\nttl = \"1h\"\n").await;
    // What the provider answers once an entry has lived until exp: active,
    // with an exp in the past. It maps to "expired".
    idp.add_token(
        "tok-past",
        serde_json::json!({"username": "alice", "exp": now() - 1}),
    );
    let res = gw.bearer("/rest/api/2/myself", "tok-past").await;
    assert_eq!(res.status, 401);
    assert_eq!(res.error(), "invalid_token");
}

async fn assert_503(gw: &TestGateway, token: &str) {
    let res = gw.bearer("/rest/api/2/myself", token).await;
    assert_eq!(res.status, 503, "{:?}", res.body);
    assert_eq!(res.error(), "temporarily_unavailable");
    assert_eq!(res.header("retry-after"), Some("5"));
}

#[tokio::test]
async fn provider_failures_give_503_are_never_cached_and_recover() {
    let idp = FakeIdp::start().await;
    let up = RecordingUpstream::start().await;
    // The provider timeout is 1 s here, so that a slow provider fails fast.
    let toml = config(&idp, &up, "").replace("timeout = \"2s\"", "timeout = \"1s\"");
    let gw = TestGateway::start(&toml).await;
    idp.add_user("tok-a", "alice");
    for (i, mode) in [
        Mode::Status(500),
        Mode::Status(502),
        Mode::Garbage,
        Mode::Delay(Duration::from_millis(1500)),
    ]
    .into_iter()
    .enumerate()
    {
        idp.set_mode(mode.clone());
        let before = idp.calls();
        assert_503(&gw, "tok-a").await;
        assert_503(&gw, "tok-a").await;
        assert_eq!(
            idp.calls(),
            before + 2,
            "failure {i} ({mode:?}) was not cached"
        );
    }
    idp.set_mode(Mode::Normal);
    assert_eq!(gw.bearer("/rest/api/2/myself", "tok-a").await.status, 200);
    assert_eq!(
        up.count(),
        1,
        "only the recovered request reached the upstream"
    );
}

#[tokio::test]
async fn provider_refusing_restgates_credentials_is_a_503_not_a_401() {
    let idp = FakeIdp::start().await;
    let up = RecordingUpstream::start().await;
    let toml = config(&idp, &up, "").replace(
        &format!("client_id = \"{CLIENT_ID}\""),
        "client_id = \"wrong-client\"",
    );
    let gw = TestGateway::start(&toml).await;
    idp.add_user("tok-a", "alice");
    assert_503(&gw, "tok-a").await;
}

#[tokio::test]
async fn unreachable_provider_gives_503() {
    let idp = FakeIdp::start().await;
    let up = RecordingUpstream::start().await;
    // A port that was free a moment ago: connection refused.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let toml = config(&idp, &up, "").replace(&idp.addr.to_string(), &dead.to_string());
    let gw = TestGateway::start(&toml).await;
    assert_503(&gw, "tok-any").await;
    assert_eq!(up.count(), 0);
}

#[tokio::test]
async fn stale_if_error_serves_a_recent_positive_while_the_provider_fails() {
    // ttl 0s: every entry's life ends as it is filled, so the next request
    // finds only the stale copy, with no waiting.
    let (idp, up, gw) = setup("\n[cache]\nttl = \"0s\"\nstale_if_error = \"1h\"\n").await;
    idp.add_user("tok-stale", "alice");
    assert_eq!(
        gw.bearer("/rest/api/2/myself", "tok-stale").await.status,
        200
    );
    idp.set_mode(Mode::Status(500));
    // Life ended, provider failing: the recent positive keeps serving.
    let res = gw.bearer("/rest/api/2/myself", "tok-stale").await;
    assert_eq!(res.status, 200);
    assert_eq!(
        up.last().header("x-forwarded-user").as_deref(),
        Some("alice")
    );
    // A token never validated before gets no such grace.
    assert_503(&gw, "tok-never-seen").await;
    // (Never past the token's own exp: a_stale_answer_stands_in_for_its_window_and_never_past_exp
    // in src/auth/cache/tests.rs, on a manual clock.)
    // Once the provider answers again, its word counts: revoked is revoked.
    idp.set_mode(Mode::Normal);
    idp.remove_token("tok-stale");
    assert_eq!(
        gw.bearer("/rest/api/2/myself", "tok-stale").await.status,
        401
    );
    idp.set_mode(Mode::Status(500));
    assert_eq!(
        gw.bearer("/rest/api/2/myself", "tok-stale").await.status,
        401,
        "the negative entry stands"
    );
}

#[tokio::test]
async fn without_stale_if_error_an_expired_entry_is_not_served() {
    let (idp, _up, gw) = setup("\n[cache]\nttl = \"0s\"\n").await;
    idp.add_user("tok-x", "alice");
    assert_eq!(gw.bearer("/rest/api/2/myself", "tok-x").await.status, 200);
    idp.set_mode(Mode::Status(503));
    assert_503(&gw, "tok-x").await;
}

#[tokio::test]
async fn cold_tokens_reuse_provider_and_upstream_connections() {
    let (idp, up, gw) = setup("").await;
    let tokens: Vec<String> = (0..40).map(|i| format!("tok-reuse-{i}")).collect();
    for t in &tokens {
        idp.add_user(t, "alice");
    }
    // One client connection, forty new tokens in turn: forty provider calls,
    // over connections kept alive, never one per call.
    let client = reqwest::Client::new();
    for t in &tokens {
        let res = client
            .get(format!("http://{}/rest/api/2/myself", gw.addr))
            .bearer_auth(t)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    assert_eq!(idp.calls(), 40, "one provider call per new token");
    assert!(
        idp.connections() <= 2,
        "{} provider connections for 40 calls",
        idp.connections()
    );
    assert_eq!(up.count(), 40);
    assert!(
        up.connections() <= 2,
        "{} upstream connections for 40 requests",
        up.connections()
    );
}

#[tokio::test]
async fn a_validation_whose_client_left_still_finishes_and_is_cached() {
    let (idp, up, gw) = setup("").await;
    idp.add_user("tok-left", "alice");
    idp.set_mode(Mode::Delay(Duration::from_millis(300)));
    let addr = gw.addr;
    let request =
        tokio::spawn(async move { bearer_to(addr, "/rest/api/2/myself", "tok-left").await });
    // The provider has the call; then the client gives up and its
    // connection closes.
    wait_until("no provider call", || idp.calls() > 0).await;
    request.abort();
    assert!(request.await.unwrap_err().is_cancelled());
    // The answer still lands in the cache (or this request joins the call
    // in flight): no second provider call.
    let res = gw.bearer("/rest/api/2/myself", "tok-left").await;
    assert_eq!(res.status, 200);
    assert_eq!(
        idp.calls(),
        1,
        "the left client's validation was thrown away"
    );
    assert_eq!(up.count(), 1);
}
