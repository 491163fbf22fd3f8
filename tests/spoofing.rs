//! A client-supplied identity never reaches the upstream, whatever the spelling
//! and whatever the path through the gateway.

mod common {
    pub mod client;
    pub mod gateway;
    pub mod idp;
    pub mod setup;
    pub mod upstream;
}

use common::gateway::*;
use common::idp::*;
use common::setup::*;
use common::upstream::*;

/// Spellings of the identity, email and reserved headers a client might send.
const SPOOFS: &[(&str, &str)] = &[
    ("X-Forwarded-User", "admin"),
    ("x-forwarded-user", "admin"),
    ("X_Forwarded_User", "admin"),
    ("x_forwarded-user", "admin"),
    ("X-FORWARDED-EMAIL", "admin@corp.example"),
    ("X_Forwarded_Email", "admin@corp.example"),
    ("X-Restgate-Secret", "guess"),
    ("x_restgate_user", "admin"),
];

fn assert_clean(seen: &Seen) {
    for name in [
        "x-forwarded-user",
        "x-forwarded-email",
        "x-restgate-secret",
        "x-restgate-user",
    ] {
        for v in seen.headers_like(name) {
            assert!(
                v != "admin" && v != "admin@corp.example" && v != "guess",
                "{name}: {v} reached the upstream"
            );
        }
    }
}

fn with_spoofs<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut v: Vec<(&str, &str)> = SPOOFS.to_vec();
    v.extend_from_slice(extra);
    v
}

async fn gateway() -> (FakeIdp, RecordingUpstream, TestGateway) {
    gateway_with("").await
}

async fn gateway_with(auth: &str) -> (FakeIdp, RecordingUpstream, TestGateway) {
    let idp = FakeIdp::start().await;
    let up = RecordingUpstream::start().await;
    let toml = config(&idp, &up, "")
        .replace(
            "[auth]",
            &format!("[auth]\nprotected_paths = [\"/rest/\"]\n{auth}"),
        )
        .replace(
            "url = \"http://",
            "email_header = \"X-Forwarded-Email\"\nurl = \"http://",
        );
    let gw = TestGateway::start(&toml).await;
    (idp, up, gw)
}

#[tokio::test]
async fn client_supplied_identity_is_replaced_on_protected_routes() {
    let (idp, up, gw) = gateway().await;
    idp.add_user("tok-alice", "alice");
    let res = gw
        .get(
            "/rest/api/2/myself",
            &with_spoofs(&[("authorization", "Bearer tok-alice")]),
        )
        .await;
    assert_eq!(res.status, 200);
    let seen = up.last();
    assert_clean(&seen);
    assert_eq!(seen.headers_like("x-forwarded-user"), vec!["alice"]);
    assert_eq!(
        seen.headers_like("x-forwarded-email"),
        vec!["alice@corp.example"]
    );
}

#[tokio::test]
async fn client_supplied_identity_is_removed_on_pass_through_and_native_requests() {
    let (_idp, up, gw) = gateway().await;
    // Pass-through path, anonymous.
    assert_eq!(
        gw.get("/secure/Dashboard.jspa", &with_spoofs(&[]))
            .await
            .status,
        200
    );
    assert_clean(&up.last());
    assert!(up.last().headers_like("x-forwarded-user").is_empty());
    // Protected path with native credentials of every kind.
    let natives: &[(&str, &str)] = &[
        ("authorization", "Basic YWxpY2U6cGFzcw=="),
        (
            "authorization",
            "Bearer BBDC-MTIzNDU2Nzg5MDpzZWNyZXRzZWNyZXQ=",
        ),
        ("authorization", "OAuth oauth_consumer_key=\"x\""),
        ("cookie", "JSESSIONID=abc"),
    ];
    for native in natives {
        let res = gw.get("/rest/api/2/myself", &with_spoofs(&[*native])).await;
        assert_eq!(res.status, 200, "{native:?}");
        assert_clean(&up.last());
        assert!(up.last().headers_like("x-forwarded-user").is_empty());
    }
}

#[tokio::test]
async fn client_supplied_identity_never_passes_on_errors() {
    let (_idp, up, gw) = gateway().await;
    // No credential, bad token, malformed, bad path: all refused, nothing forwarded.
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("/rest/api/2/myself", with_spoofs(&[])),
        (
            "/rest/api/2/myself",
            with_spoofs(&[("authorization", "Bearer tok-unknown")]),
        ),
        (
            "/rest/api/2/myself",
            with_spoofs(&[("authorization", "Bearer")]),
        ),
        ("/rest%2Fapi/2/myself", with_spoofs(&[])),
    ];
    for (path, headers) in cases {
        let res = gw.get(path, &headers).await;
        assert!(res.status >= 400, "{path} {headers:?}");
        assert!(res.header("x-forwarded-user").is_none());
    }
    assert_eq!(up.count(), 0);
}

#[tokio::test]
async fn auth_disabled_still_strips_identity_headers() {
    let (idp, up, gw) = gateway_with("enabled = false").await;
    assert_eq!(
        gw.get("/rest/api/2/myself", &with_spoofs(&[])).await.status,
        200
    );
    assert_clean(&up.last());
    assert_eq!(idp.calls(), 0);
}
