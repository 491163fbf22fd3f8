//! A bearer token reaches the upstream as the right user, and nothing else does.

mod common {
    pub mod client;
    pub mod gateway;
    pub mod idp;
    pub mod raw;
    pub mod setup;
    pub mod upstream;
}

use common::client::*;
use common::gateway::*;
use common::idp::*;
use common::raw::*;
use common::setup::*;
use common::upstream::*;
use serde_json::json;

#[tokio::test]
async fn valid_token_reaches_upstream_as_the_mapped_user() {
    let (idp, up, gw) = setup("").await;
    idp.add_user("tok-alice-1", "alice");
    let res = gw
        .get(
            "/rest/api/2/myself?expand=groups",
            &[
                ("authorization", "Bearer tok-alice-1"),
                ("cookie", "JSESSIONID=client-session"),
            ],
        )
        .await;
    assert_eq!(res.status, 200, "{:?}", res.body);
    assert!(
        res.header("set-cookie").is_none(),
        "an API client must not get a product session"
    );
    let seen = up.last();
    assert_eq!(seen.header("x-forwarded-user").as_deref(), Some("alice"));
    assert_eq!(seen.header("authorization"), None);
    assert_eq!(seen.header("cookie"), None);
    assert_eq!(
        seen.header("x-atlassian-token").as_deref(),
        Some("no-check")
    );
    assert_eq!(seen.uri, "/rest/api/2/myself?expand=groups");
    assert_eq!(seen.header("x-forwarded-for").as_deref(), Some("127.0.0.1"));
    assert_eq!(seen.header("x-forwarded-proto").as_deref(), Some("http"));
    assert_eq!(seen.header("x-forwarded-host"), seen.header("host"));
    assert_eq!(idp.client_auth(), vec!["basic"]);
}

#[tokio::test]
async fn inactive_or_unknown_token_gets_401_invalid_token() {
    let (idp, up, gw) = setup("").await;
    idp.add_token("tok-off", json!({"active": false, "username": "mallory"}));
    for token in ["tok-off", "tok-never-issued"] {
        let res = gw.bearer("/rest/api/2/myself", token).await;
        assert_eq!(res.status, 401);
        assert_eq!(res.error(), "invalid_token");
        assert_eq!(
            res.header("www-authenticate"),
            Some(r#"Bearer realm="restgate", error="invalid_token""#)
        );
        assert_eq!(res.header("content-type"), Some("application/json"));
    }
    assert_eq!(up.count(), 0);
}

#[tokio::test]
async fn no_credential_on_protected_path_gets_401_with_realm_only() {
    let (_idp, up, gw) = setup("").await;
    let res = gw.get("/rest/api/2/myself", &[]).await;
    assert_eq!(res.status, 401);
    assert_eq!(res.error(), "unauthorized");
    assert_eq!(
        res.header("www-authenticate"),
        Some(r#"Bearer realm="restgate""#)
    );
    // Outside the protected paths anonymous traffic passes (the web UI).
    let res = gw.get("/secure/Dashboard.jspa", &[]).await;
    assert_eq!(res.status, 200);
    assert_eq!(up.count(), 1);
    assert_eq!(up.last().header("x-forwarded-user"), None);
}

#[tokio::test]
async fn malformed_credentials_get_400() {
    let (idp, up, gw) = setup("").await;
    let cases: &[&[(&str, &str)]] = &[
        &[("authorization", "Bearer")],
        &[("authorization", "Bearer ")],
        &[("authorization", "Bearer a b")],
        &[("authorization", "Bearer tok\"quote")],
        &[("authorization", "Basic !!!notbase64")],
        &[("authorization", "Basic bm9jb2xvbg==")],
        &[
            ("authorization", "Bearer one"),
            ("authorization", "Bearer two"),
        ],
        &[("x-api-key", "")],
    ];
    for headers in cases {
        let res = gw.get("/rest/api/2/myself", headers).await;
        assert_eq!(res.status, 400, "{headers:?}");
        assert_eq!(res.error(), "invalid_request");
    }
    let raw_res = raw(gw.addr, b"GET /rest/api/2/myself HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\tb\r\nConnection: close\r\n\r\n").await;
    assert_eq!(raw_status(&raw_res), 400, "{raw_res}");
    assert_eq!(idp.calls(), 0);
    assert_eq!(up.count(), 0);
}

#[tokio::test]
async fn client_credentials_token_acts_as_the_service_account_or_its_client_account() {
    let extra = "\n[providers.idp.client_accounts]\n\"ci-runner\" = \"svc-ci\"\n";
    let (idp, up, gw) = setup(extra).await;
    idp.add_token(
        "tok-cc-generic",
        json!({"client_id": "batch-job", "sub": "batch-job", "scope": "read"}),
    );
    idp.add_token(
        "tok-cc-ci",
        json!({"client_id": "ci-runner", "scope": "read"}),
    );
    let res = gw.bearer("/rest/api/2/myself", "tok-cc-generic").await;
    assert_eq!(res.status, 200);
    assert_eq!(
        up.last().header("x-forwarded-user").as_deref(),
        Some("svc-rest")
    );
    let res = gw.bearer("/rest/api/2/myself", "tok-cc-ci").await;
    assert_eq!(res.status, 200);
    assert_eq!(
        up.last().header("x-forwarded-user").as_deref(),
        Some("svc-ci")
    );
}

#[tokio::test]
async fn client_credentials_token_without_any_account_gets_401() {
    let idp = FakeIdp::start().await;
    let up = RecordingUpstream::start().await;
    let toml = config(&idp, &up, "").replace("service_account = \"svc-rest\"\n", "");
    let gw = TestGateway::start(&toml).await;
    idp.add_token(
        "tok-cc",
        json!({"client_id": "batch-job", "sub": "batch-job"}),
    );
    let res = gw.bearer("/rest/api/2/myself", "tok-cc").await;
    assert_eq!(res.status, 401);
    assert_eq!(res.error(), "invalid_token");
    assert_eq!(up.count(), 0);
}

#[tokio::test]
async fn username_mapping_follows_paths_strip_domain_and_lowercase() {
    let extra = "strip_domain = true\nlowercase = true\n";
    let idp = FakeIdp::start().await;
    let up = RecordingUpstream::start().await;
    let toml = config(&idp, &up, extra).replace(
        "username_attribute = \"username\"",
        "username_attribute = [\"/ext/upn\", \"user.name\", \"email\"]",
    );
    let gw = TestGateway::start(&toml).await;
    idp.add_token(
        "t1",
        json!({"ext": {"upn": "Bob.Smith@Corp.Example"}, "sub": "s1"}),
    );
    idp.add_token("t2", json!({"user": {"name": "carol"}, "sub": "s2"}));
    idp.add_token("t3", json!({"email": "Dave@corp.example", "sub": "s3"}));
    idp.add_token(
        "t4",
        json!({"email": "eve@corp.example", "email_verified": false, "sub": "s4"}),
    );
    for (t, want) in [("t1", "bob.smith"), ("t2", "carol"), ("t3", "dave")] {
        let res = gw.bearer("/rest/api/2/myself", t).await;
        assert_eq!(res.status, 200, "{t}");
        assert_eq!(up.last().header("x-forwarded-user").as_deref(), Some(want));
    }
    // An unverified email is never an identity.
    assert_eq!(gw.bearer("/rest/api/2/myself", "t4").await.status, 401);
}

#[tokio::test]
async fn userinfo_validation_and_client_secret_post_work() {
    let idp = FakeIdp::start().await;
    let up = RecordingUpstream::start().await;
    let toml = format!(
        r#"
[upstream]
url = "http://{}"
email_header = "X-Forwarded-Email"
[auth]
providers = ["post", "ui"]
[providers.post]
kind = "custom"
validation = "introspection"
introspection_endpoint = "{}"
client_id = "{CLIENT_ID}"
client_secret_file = "{{secret_file}}"
client_auth = "client_secret_post"
[providers.ui]
kind = "custom"
validation = "userinfo"
userinfo_endpoint = "{}"
username_attribute = "preferred_username"
"#,
        up.addr,
        idp.url("/introspect"),
        idp.url("/userinfo")
    );
    let gw = TestGateway::start(&toml).await;
    idp.add_token(
        "tok-both",
        json!({"preferred_username": "frank", "email": "frank@corp.example", "sub": "f"}),
    );
    let res = gw.bearer("/rest/api/2/myself", "tok-both").await;
    assert_eq!(res.status, 200);
    let seen = up.last();
    assert_eq!(seen.header("x-forwarded-user").as_deref(), Some("frank"));
    assert_eq!(
        seen.header("x-forwarded-email").as_deref(),
        Some("frank@corp.example")
    );
    assert_eq!(idp.client_auth(), vec!["post"]);
    // Unknown to both: the introspection says inactive, userinfo says 401.
    let res = gw.bearer("/rest/api/2/myself", "tok-nobody").await;
    assert_eq!(res.status, 401);
}

#[tokio::test]
async fn route_requirements_give_403_with_the_rfc6750_header() {
    let extra = r#"
[[route]]
path = "/rest/api/2/issue"
methods = ["POST", "PUT", "DELETE"]
require_scopes = ["admin"]

[[route]]
path = "/rest/api/2/user"
allow_users = ["alice"]

[[route]]
path = "/rest/api/2/serverInfo"
protected = false
"#;
    let (idp, up, gw) = setup(extra).await;
    idp.add_user("tok-bob", "bob");
    let res = gw
        .send(
            "POST",
            "/rest/api/2/issue",
            &[("authorization", "Bearer tok-bob")],
        )
        .await;
    assert_eq!(res.status, 403);
    assert_eq!(res.error(), "insufficient_scope");
    assert_eq!(
        res.header("www-authenticate"),
        Some(r#"Bearer realm="restgate", error="insufficient_scope", scope="admin""#)
    );
    // GET is not covered by the POST route: the default protected policy applies.
    assert_eq!(
        gw.send(
            "GET",
            "/rest/api/2/issue/1",
            &[("authorization", "Bearer tok-bob")]
        )
        .await
        .status,
        200
    );
    let res = gw.bearer("/rest/api/2/user/alice", "tok-bob").await;
    assert_eq!(res.status, 403);
    assert_eq!(res.error(), "forbidden");
    // A pass-through route forwards anonymous requests, and still validates tokens.
    assert_eq!(gw.get("/rest/api/2/serverInfo", &[]).await.status, 200);
    assert_eq!(up.last().header("x-forwarded-user"), None);
    assert_eq!(
        gw.bearer("/rest/api/2/serverInfo", "tok-bob").await.status,
        200
    );
    assert_eq!(up.last().header("x-forwarded-user").as_deref(), Some("bob"));
    assert_eq!(
        gw.bearer("/rest/api/2/serverInfo", "tok-invalid")
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn unknown_bearer_pass_forwards_untouched_and_native_reject_refuses() {
    let (idp, up, gw) = setup("").await;
    drop(gw);
    let toml = config(&idp, &up, "").replace(
        "providers = [\"idp\"]",
        "providers = [\"idp\"]\nunknown_bearer = \"pass\"\nnative = \"reject\"",
    );
    let gw = TestGateway::start(&toml).await;
    let res = gw
        .bearer("/rest/api/2/myself", "tok-some-other-bearer")
        .await;
    assert_eq!(res.status, 200);
    let seen = up.last();
    assert_eq!(
        seen.header("authorization").as_deref(),
        Some("Bearer tok-some-other-bearer")
    );
    assert_eq!(seen.header("x-forwarded-user"), None);
    let res = gw
        .get(
            "/rest/api/2/myself",
            &[("authorization", "Basic YWxpY2U6cGFzcw==")],
        )
        .await;
    assert_eq!(res.status, 401);
    assert_eq!(
        res.header("www-authenticate"),
        Some(r#"Bearer realm="restgate""#)
    );
}

#[tokio::test]
async fn static_directory_maps_and_refuses_unknown_users() {
    let extra = "\n[directory]\nkind = \"static\"\nmatch = \"email\"\n[directory.users]\n\"Alice@Corp.Example\" = \"alice.local\"\n";
    let (idp, up, gw) = setup(extra).await;
    idp.add_user("tok-alice", "alice");
    idp.add_user("tok-zed", "zed");
    assert_eq!(
        gw.bearer("/rest/api/2/myself", "tok-alice").await.status,
        200
    );
    assert_eq!(
        up.last().header("x-forwarded-user").as_deref(),
        Some("alice.local")
    );
    let res = gw.bearer("/rest/api/2/myself", "tok-zed").await;
    assert_eq!(res.status, 403);
    assert_eq!(res.error(), "unknown_user");
}

#[tokio::test]
async fn api_keys_authenticate_and_never_reach_the_upstream() {
    use sha2::Digest;
    let key = "rgk_0123456789abcdefghijklmnopqrstuv";
    let hash: String = sha2::Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let extra =
        format!("\n[[api_keys]]\nname = \"ci\"\nuser = \"ci-bot\"\nhash = \"sha256:{hash}\"\n");
    let (idp, up, gw) = setup(&extra).await;
    for headers in [
        vec![("authorization".to_owned(), format!("Bearer {key}"))],
        vec![("x-api-key".to_owned(), key.to_owned())],
        vec![(
            "authorization".to_owned(),
            format!("Basic {}", b64(&format!("ci-bot:{key}"))),
        )],
    ] {
        let h: Vec<(&str, &str)> = headers
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let res = gw.get("/rest/api/2/myself", &h).await;
        assert_eq!(res.status, 200, "{h:?}");
        let seen = up.last();
        assert_eq!(seen.header("x-forwarded-user").as_deref(), Some("ci-bot"));
        assert_eq!(seen.header("authorization"), None);
        assert_eq!(seen.header("x-api-key"), None);
    }
    let wrong_user = format!("Basic {}", b64(&format!("alice:{key}")));
    assert_eq!(
        gw.get("/rest/api/2/myself", &[("authorization", &wrong_user)])
            .await
            .status,
        401
    );
    assert_eq!(
        gw.bearer("/rest/api/2/myself", "rgk_garbage").await.status,
        401
    );
    assert_eq!(idp.calls(), 0, "API keys never reach a provider");
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}
