//! The admin listener: every series on /metrics moves when its event happens,
//! no label or value holds a token; health, readiness, eviction; request ids.

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
use serde_json::json;

async fn admin(gw: &TestGateway, method: &str, path: &str, body: &str) -> TestResponse {
    send_to(
        gw.admin,
        method,
        path,
        &[("content-type", "application/json")],
        bytes::Bytes::from(body.to_owned()),
    )
    .await
}

/// The value of one sample in the text exposition (0 when absent).
fn sample(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(name_and_labels)
                .and_then(|rest| rest.strip_prefix(' '))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0.0)
}

async fn metrics(gw: &TestGateway) -> String {
    let res = admin(gw, "GET", "/metrics", "").await;
    assert_eq!(res.status, 200);
    String::from_utf8(res.body.to_vec()).unwrap()
}

#[tokio::test]
async fn every_series_moves_when_its_event_happens() {
    let (idp, up, gw) = setup("\n[cache]\nstale_if_error = \"1h\"\nttl = \"1s\"\n").await;
    idp.add_user("tok-metrics-alice", "alice");
    let before = metrics(&gw).await;
    let delta = |after: &str, s: &str| sample(after, s) - sample(&before, s);

    assert_eq!(
        gw.bearer("/rest/api/2/myself", "tok-metrics-alice")
            .await
            .status,
        200
    ); // miss
    assert_eq!(
        gw.bearer("/rest/api/2/myself", "tok-metrics-alice")
            .await
            .status,
        200
    ); // hit
    assert_eq!(
        gw.bearer("/rest/api/2/myself", "tok-metrics-unknown")
            .await
            .status,
        401
    );
    assert_eq!(gw.get("/rest/api/2/myself", &[]).await.status, 401);
    assert_eq!(gw.get("/secure/Dashboard.jspa", &[]).await.status, 200);
    idp.set_mode(Mode::Status(500));
    assert_eq!(
        gw.bearer("/rest/api/2/myself", "tok-metrics-down")
            .await
            .status,
        503
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        gw.bearer("/rest/api/2/myself", "tok-metrics-alice")
            .await
            .status,
        200,
        "stale while the provider fails"
    );
    idp.set_mode(Mode::Normal);
    // Coalesced: concurrent requests with one new token while the provider is slow.
    idp.add_user("tok-metrics-burst", "bob");
    idp.set_mode(Mode::Delay(Duration::from_millis(200)));
    let burst: Vec<_> = (0..20)
        .map(|_| {
            let addr = gw.addr;
            tokio::spawn(async move {
                bearer_to(addr, "/rest/api/2/myself", "tok-metrics-burst")
                    .await
                    .status
            })
        })
        .collect();
    for t in burst {
        assert_eq!(t.await.unwrap(), 200);
    }
    idp.set_mode(Mode::Normal);

    let after = metrics(&gw).await;
    let d = |s: &str| delta(&after, s);
    assert_eq!(
        d(r#"restgate_requests_total{outcome="authenticated",status="200"}"#),
        23.0,
        "{after}"
    );
    assert_eq!(
        d(r#"restgate_requests_total{outcome="refused",status="401"}"#),
        2.0
    );
    assert_eq!(
        d(r#"restgate_requests_total{outcome="passed",status="200"}"#),
        1.0
    );
    assert_eq!(
        d(r#"restgate_requests_total{outcome="error",status="503"}"#),
        1.0
    );
    assert_eq!(
        d(r#"restgate_auth_decisions_total{provider="idp",result="accepted",reason="ok"}"#),
        23.0
    );
    assert_eq!(
        d(r#"restgate_auth_decisions_total{provider="none",result="refused",reason="inactive"}"#),
        1.0
    );
    assert_eq!(
        d(
            r#"restgate_auth_decisions_total{provider="none",result="refused",reason="unauthorized"}"#
        ),
        1.0
    );
    assert_eq!(
        d(
            r#"restgate_auth_decisions_total{provider="none",result="error",reason="temporarily_unavailable"}"#
        ),
        1.0
    );
    assert_eq!(
        d(r#"restgate_cache_lookups_total{result="miss",verdict="positive"}"#),
        2.0
    );
    assert_eq!(
        d(r#"restgate_cache_lookups_total{result="hit",verdict="positive"}"#),
        1.0
    );
    assert_eq!(
        d(r#"restgate_cache_lookups_total{result="miss",verdict="negative"}"#),
        1.0
    );
    assert_eq!(
        d(r#"restgate_cache_lookups_total{result="stale",verdict="positive"}"#),
        1.0
    );
    assert!(
        d(r#"restgate_cache_lookups_total{result="coalesced",verdict="positive"}"#) >= 1.0,
        "{after}"
    );
    assert!(sample(&after, "restgate_cache_entries") >= 1.0);
    assert!(d(r#"restgate_provider_call_duration_seconds_count{provider="idp"}"#) >= 5.0);
    assert!(d(r#"restgate_provider_errors_total{provider="idp",kind="status"}"#) >= 2.0);
    assert_eq!(d("restgate_upstream_duration_seconds_count"), 24.0);
    for token in [
        "tok-metrics-alice",
        "tok-metrics-unknown",
        "tok-metrics-down",
        "tok-metrics-burst",
        CLIENT_SECRET,
        "alice",
    ] {
        assert!(!after.contains(token), "{token} in /metrics");
    }
    assert_eq!(up.count(), 24);
}

#[tokio::test]
async fn health_readiness_and_eviction() {
    let (idp, _up, gw) = setup("").await;
    assert_eq!(admin(&gw, "GET", "/healthz", "").await.status, 200);
    assert_eq!(admin(&gw, "GET", "/readyz", "").await.status, 200);
    assert_eq!(admin(&gw, "GET", "/nope", "").await.status, 404);
    idp.add_user("tok-evict", "alice");
    idp.add_user("tok-evict-2", "alice");
    for t in ["tok-evict", "tok-evict-2", "tok-evict"] {
        assert_eq!(gw.bearer("/rest/api/2/myself", t).await.status, 200);
    }
    assert_eq!(idp.calls(), 2);
    // By token: that token is asked about again.
    assert_eq!(evict(&gw, json!({"token": "tok-evict"})).await, 200);
    assert_eq!(
        gw.bearer("/rest/api/2/myself", "tok-evict").await.status,
        200
    );
    assert_eq!(idp.calls(), 3);
    // By user: all of alice's tokens are.
    assert_eq!(evict(&gw, json!({"user": "alice"})).await, 200);
    assert_eq!(
        gw.bearer("/rest/api/2/myself", "tok-evict").await.status,
        200
    );
    assert_eq!(
        gw.bearer("/rest/api/2/myself", "tok-evict-2").await.status,
        200
    );
    assert_eq!(idp.calls(), 5);
    assert_eq!(admin(&gw, "POST", "/cache/evict", "{}").await.status, 400);
    assert_eq!(admin(&gw, "GET", "/cache/evict", "").await.status, 405);
    // The gateway's own port has no admin endpoints.
    assert_eq!(
        send_to(
            gw.addr,
            "POST",
            "/cache/evict",
            &[],
            bytes::Bytes::from_static(b"{}")
        )
        .await
        .status,
        200,
        "forwarded like any path"
    );
}

#[tokio::test]
async fn request_ids_are_kept_or_made_and_travel_both_ways() {
    let (idp, up, gw) = setup("").await;
    idp.add_user("tok-rid", "alice");
    let res = gw
        .get(
            "/rest/api/2/myself",
            &[
                ("authorization", "Bearer tok-rid"),
                ("x-request-id", "lb-1234-abcd"),
            ],
        )
        .await;
    assert_eq!(res.header("x-request-id"), Some("lb-1234-abcd"));
    assert_eq!(
        up.last().header("x-request-id").as_deref(),
        Some("lb-1234-abcd")
    );
    let res = gw
        .get("/rest/api/2/myself", &[("authorization", "Bearer tok-rid")])
        .await;
    let made = res.header("x-request-id").unwrap().to_owned();
    assert_eq!(made.len(), 32);
    assert_eq!(up.last().header("x-request-id"), Some(made));
    // Refusals carry one too; an insane id is replaced.
    let res = gw
        .get(
            "/rest/api/2/myself",
            &[("x-request-id", "has spaces and is wrong")],
        )
        .await;
    assert_eq!(res.status, 401);
    assert_ne!(res.header("x-request-id"), Some("has spaces and is wrong"));
}

/// POST /cache/evict with `body`; the status.
async fn evict(gw: &TestGateway, body: serde_json::Value) -> u16 {
    admin(gw, "POST", "/cache/evict", &body.to_string())
        .await
        .status
}
