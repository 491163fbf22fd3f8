//! No token, API key or client secret in logs (at trace level) or in responses.

mod common {
    pub mod client;
    pub mod gateway;
    pub mod idp;
    pub mod setup;
    pub mod spawned;
    pub mod upstream;
    pub mod vendors;
}

use std::time::Duration;

use bytes::Bytes;
use common::client::*;
use common::gateway::*;
use common::idp::*;
use common::setup::*;
use common::spawned::*;
use common::upstream::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_logs_contain_neither_tokens_nor_the_client_secret() {
    use sha2::Digest;
    let idp = FakeIdp::start().await;
    let up = RecordingUpstream::start().await;
    let good = "tok-GOOD-5f0e9c1b7a3d";
    let bad = "tok-BAD-8e2a4c6b1d9f";
    let flaky = "tok-FLAKY-3c5e7a9b0d2f";
    let key = "rgk_SECRETKEY0123456789abcdefghij";
    let hash: String = sha2::Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    idp.add_user(good, "alice");
    idp.add_token(flaky, json!({"username": "bob"}));
    // A Facebook provider: its check sends the app secret in a query string.
    let vendors = common::vendors::FakeVendors::start().await;
    vendors.answer(
        "/debug_token",
        "EAA-FB-TOKEN-55aa",
        200,
        json!({"data": {"app_id": "424242", "type": "USER",
        "is_valid": true, "expires_at": now() + 600, "user_id": "7"}}),
    );
    vendors.answer(
        "/me",
        "EAA-FB-TOKEN-55aa",
        200,
        json!({"id": "7", "email": "fb@corp.example"}),
    );
    let extra = format!(
        "\n[providers.fb]\nkind = \"facebook\"\ntoken_prefixes = [\"EAA\"]\nclient_id = \"424242\"\nclient_secret_file = \"{{secret_file}}\"\napi_url = \"{}\"\n\
         \n[[api_keys]]\nname = \"k\"\nuser = \"ci\"\nhash = \"sha256:{hash}\"\n",
        vendors.url()
    );
    let gw = Spawned::start(&config(&idp, &up, &extra), "trace");
    let mut bodies = String::new();
    for (token, want) in [
        (good, 200),
        (bad, 401),
        (key, 200),
        ("rgk_wrong-key-material", 401),
        ("EAA-FB-TOKEN-55aa", 200),
    ] {
        let res = send_to(
            gw.addr,
            "GET",
            "/rest/api/2/myself",
            &[("authorization", &format!("Bearer {token}"))],
            Bytes::new(),
        )
        .await;
        assert_eq!(res.status, want);
        bodies.push_str(&String::from_utf8_lossy(&res.body));
    }
    idp.set_mode(Mode::Status(500));
    let res = send_to(
        gw.addr,
        "GET",
        "/rest/api/2/myself",
        &[("authorization", &format!("Bearer {flaky}"))],
        Bytes::new(),
    )
    .await;
    assert_eq!(res.status, 503);
    bodies.push_str(&String::from_utf8_lossy(&res.body));
    idp.set_mode(Mode::Delay(Duration::from_secs(3)));
    let res = bearer_to(gw.addr, "/rest/api/2/myself", "tok-SLOW-77aa").await;
    assert_eq!(res.status, 503);

    // What the admin listener shows: metrics and each provider's status.
    let admin = gw.admin.expect("the admin listener is logged");
    for path in ["/metrics", "/status"] {
        let res = send_to(admin, "GET", path, &[], Bytes::new()).await;
        assert_eq!(res.status, 200, "{path}");
        bodies.push_str(&String::from_utf8_lossy(&res.body));
    }
    assert!(
        bodies.contains("\"errors_last_minute\""),
        "the status was read"
    );

    let (status, logs) = gw.stop();
    assert!(status.success());
    assert!(
        logs.contains("TRACE") && logs.len() > 1000,
        "trace logging was on:\n{logs}"
    );
    // One access line per request and an audit event per decision, both with request ids.
    let access: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("restgate::access"))
        .collect();
    assert_eq!(access.len(), 7, "{logs}");
    assert!(
        access
            .iter()
            .all(|l| l.contains("request_id=") && l.contains("status=") && l.contains("total_ms="))
    );
    assert!(logs.lines().any(|l| l.contains("restgate::audit")
        && l.contains("Authenticated")
        && l.contains("user=alice")));
    assert!(logs.lines().any(|l| l.contains("restgate::audit")
        && l.contains("Refused")
        && l.contains("reason=\"inactive\"")));
    assert!(
        vendors.calls().iter().any(|(r, _)| r == "/debug_token"),
        "the facebook check ran"
    );
    assert!(
        vendors.calls().iter().any(|(r, _)| r == "/me"),
        "and read the email"
    );
    for secret in [
        good,
        bad,
        flaky,
        key,
        "rgk_wrong-key-material",
        "tok-SLOW-77aa",
        "EAA-FB-TOKEN-55aa",
        CLIENT_SECRET,
    ] {
        assert!(!logs.contains(secret), "{secret} appears in the logs");
        assert!(
            !bodies.contains(secret),
            "{secret} appears in a response body, /metrics or /status"
        );
    }
}
