//! Provider health on the admin listener: `GET /status` shows each
//! provider's own state, one provider's outage leaves the others and the
//! replica's readiness alone, and nothing in it holds a token.

mod common {
    pub mod client;
    pub mod gateway;
    pub mod idp;
    pub mod keys;
    pub mod upstream;
}

use common::client::*;
use common::gateway::*;
use common::idp::*;
use common::keys::*;
use common::upstream::*;
use serde_json::{Value, json};

async fn admin_get(gw: &TestGateway, path: &str) -> TestResponse {
    send_to(gw.admin, "GET", path, &[], bytes::Bytes::new()).await
}

async fn status(gw: &TestGateway) -> (Value, String) {
    let res = admin_get(gw, "/status").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("content-type"), Some("application/json"));
    let text = String::from_utf8(res.body.to_vec()).unwrap();
    (serde_json::from_str(&text).unwrap(), text)
}

/// Two introspection providers, each on its own fake, both tried in order.
async fn two_providers() -> (FakeIdp, FakeIdp, RecordingUpstream, TestGateway) {
    let a = FakeIdp::start().await;
    let b = FakeIdp::start().await;
    let up = RecordingUpstream::start().await;
    let provider = |name: &str, idp: &FakeIdp| {
        format!(
            "[providers.{name}]\nkind = \"custom\"\nvalidation = \"introspection\"\n\
             introspection_endpoint = \"{}\"\nclient_id = \"{CLIENT_ID}\"\n\
             client_secret_file = \"{{secret_file}}\"\nusername_attribute = \"username\"\ntimeout = \"2s\"\n",
            idp.url("/introspect")
        )
    };
    let toml = format!(
        "[upstream]\nurl = \"http://{}\"\n[auth]\nproviders = [\"alpha\", \"beta\"]\n{}{}",
        up.addr,
        provider("alpha", &a),
        provider("beta", &b)
    );
    let gw = TestGateway::start(&toml).await;
    (a, b, up, gw)
}

#[tokio::test]
async fn status_shows_each_providers_own_state_and_one_outage_keeps_the_replica_ready() {
    let (a, b, _up, gw) = two_providers().await;
    a.add_user("tok-status-alpha-1f2e", "alice");
    b.add_user("tok-status-beta-3d4c", "bob");

    let (s, _) = status(&gw).await;
    for name in ["alpha", "beta"] {
        let p = &s["providers"][name];
        assert_eq!(p["state"], "unknown", "{name} was never asked: {s}");
        assert_eq!(p["calls_last_minute"], 0);
        assert_eq!(p["kind"], "custom");
        assert_eq!(p["validation"], "introspection");
    }
    assert_eq!(s["cache"]["entries"], 0);
    assert_eq!(s["cluster"]["configured"], false);
    assert_eq!(admin_get(&gw, "/readyz").await.status, 200);

    let res = gw
        .bearer("/rest/api/2/myself", "tok-status-alpha-1f2e")
        .await;
    assert_eq!(res.status, 200);
    let (s, _) = status(&gw).await;
    assert_eq!(s["providers"]["alpha"]["state"], "up");
    assert_eq!(s["providers"]["alpha"]["calls_last_minute"], 1);
    assert_eq!(
        s["providers"]["beta"]["calls_last_minute"], 0,
        "alpha said active: beta was never asked"
    );

    // beta fails: a token alpha refuses reaches beta, and the answer is 503.
    b.set_mode(Mode::Status(500));
    let res = gw
        .bearer("/rest/api/2/myself", "tok-status-beta-3d4c")
        .await;
    assert_eq!(res.status, 503);
    let (s, text) = status(&gw).await;
    let beta = &s["providers"]["beta"];
    assert_eq!(beta["state"], "down", "{s}");
    assert_eq!(beta["errors_last_minute"], 1);
    assert_eq!(beta["last_error"]["reason"], "status");
    assert_eq!(beta["last_error"]["message"], "answered HTTP 500");
    assert!(beta["last_error"]["at"].as_u64().unwrap() >= now() - 5);
    assert_eq!(
        s["providers"]["alpha"]["state"], "up",
        "beta's outage is beta's alone"
    );
    assert_eq!(s["providers"]["alpha"]["errors_last_minute"], 0);
    assert_eq!(
        admin_get(&gw, "/readyz").await.status,
        200,
        "alpha can still serve"
    );

    // alpha's tokens are answered as before (a new one, not from the cache).
    a.add_user("tok-status-alpha-5b6a", "carol");
    let res = gw
        .bearer("/rest/api/2/myself", "tok-status-alpha-5b6a")
        .await;
    assert_eq!(res.status, 200);

    // Both down: the replica is not ready.
    a.set_mode(Mode::Status(502));
    let res = gw
        .bearer("/rest/api/2/myself", "tok-status-both-7e8f")
        .await;
    assert_eq!(res.status, 503);
    let ready = admin_get(&gw, "/readyz").await;
    assert_eq!(ready.status, 503);
    assert!(String::from_utf8_lossy(&ready.body).contains("every provider is down"));

    let (s, text2) = status(&gw).await;
    assert_eq!(s["providers"]["alpha"]["state"], "down");
    let ratio = s["cache"]["hit_ratio"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&ratio), "{ratio}");
    assert!(s["cache"]["entries"].is_u64(), "moka counts entries lazily");
    for token in [
        "tok-status-alpha-1f2e",
        "tok-status-beta-3d4c",
        "tok-status-alpha-5b6a",
        "tok-status-both-7e8f",
        CLIENT_SECRET,
    ] {
        assert!(
            !text.contains(token) && !text2.contains(token),
            "{token} in /status"
        );
    }
}

#[tokio::test]
async fn status_counts_only_the_provider_a_jwt_was_routed_to() {
    let (a, b, _up, gw) = {
        let a = FakeIdp::start().await;
        let b = FakeIdp::start().await;
        let up = RecordingUpstream::start().await;
        let toml = format!(
            "[upstream]\nurl = \"http://{up}\"\n[auth]\nproviders = [\"alpha\", \"beta\"]\n\
             [providers.alpha]\nkind = \"custom\"\nvalidation = \"introspection\"\nissuer = \"https://alpha.example\"\n\
             introspection_endpoint = \"{ia}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret_file = \"{{secret_file}}\"\n\
             username_attribute = \"username\"\n\
             [providers.beta]\nkind = \"custom\"\nvalidation = \"introspection\"\n\
             introspection_endpoint = \"{ib}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret_file = \"{{secret_file}}\"\n\
             username_attribute = \"username\"\n",
            up = up.addr,
            ia = a.url("/introspect"),
            ib = b.url("/introspect"),
        );
        let gw = TestGateway::start(&toml).await;
        (a, b, up, gw)
    };
    let jwt = sign(
        "rsa1",
        "k1",
        &json!({"iss": "https://alpha.example", "sub": "dave", "exp": now() + 600}),
    );
    b.add_user(&jwt, "mallory");
    b.set_mode(Mode::Status(500));
    let res = gw.bearer("/rest/api/2/myself", &jwt).await;
    assert_eq!(
        res.status, 401,
        "alpha does not know it; its refusal is final"
    );
    assert_eq!((a.calls(), b.calls()), (1, 0), "beta never saw the JWT");
    let (s, text) = status(&gw).await;
    assert_eq!(s["providers"]["alpha"]["state"], "up");
    assert_eq!(s["providers"]["beta"]["state"], "unknown");
    assert!(!text.contains(&jwt));
}
