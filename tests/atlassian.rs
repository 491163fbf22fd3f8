//! The oauth1 hand-off against mocks of stock Jira, Confluence and Bitbucket
//! with a real 2LOi verifier.

mod common {
    pub mod atlassian;
    pub mod client;
    pub mod gateway;
    pub mod idp;
}

use common::atlassian::{
    OAuthOutcome, PUBLIC, Product, ProductMock, keys, mock_config, native_pat, oauth1_gateway,
};
use common::client::*;
use common::gateway::*;
use common::idp::*;

#[tokio::test]
async fn each_product_answers_as_the_mapped_user() {
    let cases = [
        (Product::Jira, "", "/rest/api/2/myself"),
        (Product::Jira, "/jira", "/rest/api/2/myself"),
        (Product::Confluence, "/confluence", "/rest/api/user/current"),
        (Product::Bitbucket, "", "/plugins/servlet/applinks/whoami"),
    ];
    for (product, ctx, path) in cases {
        let (_idp, mock, gw) = oauth1_gateway(product, ctx, "").await;
        let res = gw.bearer(&format!("{ctx}{path}"), "tok-alice").await;
        assert_eq!(res.status, 200, "{product:?} {ctx}: {:?}", res.body);
        let user = match product {
            Product::Jira => res.json()["name"].as_str().unwrap().to_owned(),
            Product::Confluence => {
                assert_eq!(res.json()["type"], "known");
                res.json()["username"].as_str().unwrap().to_owned()
            }
            Product::Bitbucket => String::from_utf8(res.body.to_vec()).unwrap(),
        };
        assert_eq!(user, "alice", "{product:?} {ctx}");
        assert_eq!(res.header("x-ausername"), Some("alice"));
        assert!(
            res.header("set-cookie").is_none(),
            "no product session for API clients"
        );
        assert_eq!(
            mock.oauth_outcomes(),
            vec![OAuthOutcome::User("alice".into())]
        );
    }
}

#[tokio::test]
async fn query_strings_and_form_bodies_are_signed() {
    let (_idp, mock, gw) = oauth1_gateway(Product::Jira, "/jira", "").await;
    let res = gw
        .bearer(
            "/jira/rest/api/2/myself?expand=groups&jql=project%20%3D%20X+AND+a%3Db",
            "tok-bob",
        )
        .await;
    assert_eq!(res.status, 200, "{:?}", res.body);
    assert_eq!(res.json()["name"], "bob");
    let res = send_to(
        gw.addr,
        "POST",
        "/jira/rest/api/2/myself?x=1",
        &[
            ("authorization", "Bearer tok-carol"),
            (
                "content-type",
                "application/x-www-form-urlencoded; charset=UTF-8",
            ),
        ],
        bytes::Bytes::from_static(b"comment=hello+world%21&n=1&empty="),
    )
    .await;
    assert_eq!(res.status, 200, "{:?}", res.body);
    assert_eq!(res.json()["name"], "carol");
    // A JSON body is not signed, and still goes through.
    let res = send_to(
        gw.addr,
        "POST",
        "/jira/rest/api/2/myself",
        &[
            ("authorization", "Bearer tok-alice"),
            ("content-type", "application/json"),
        ],
        bytes::Bytes::from_static(br#"{"a":"b=c&d"}"#),
    )
    .await;
    assert_eq!(res.status, 200);
    assert_eq!(
        mock.oauth_outcomes(),
        vec![
            OAuthOutcome::User("bob".into()),
            OAuthOutcome::User("carol".into()),
            OAuthOutcome::User("alice".into())
        ]
    );
}

/// Signs a request directly (not through restgate) to probe the mock.
fn signed(base: &str, path_and_query: &str, timestamp: u64, nonce: &str) -> String {
    let key =
        restgate::config::oauth1::load_private_key(&keys().join("rsa1.pem").display().to_string())
            .unwrap();
    let cfg = restgate::config::OAuth1 {
        consumer_key: "restgate".into(),
        private_key: key,
        signed_base_url: base.into(),
    };
    let signer = restgate::proxy::oauth1::Signer::new(&cfg);
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let params = restgate::proxy::oauth1::form_pairs(query.as_bytes());
    signer
        .authorization(&http::Method::GET, path, &params, timestamp, nonce)
        .expect("signed")
}

#[tokio::test]
async fn the_mock_is_a_real_verifier() {
    let mock = ProductMock::start(mock_config(Product::Jira, "")).await;
    let pq = "/rest/api/2/myself?xoauth_requestor_id=alice";
    let now = now();
    let get = |auth: String| async move {
        send_to(
            mock.addr,
            "GET",
            pq,
            &[("authorization", &auth)],
            Default::default(),
        )
        .await
    };
    // The right base URL, a fresh timestamp and nonce: alice.
    let res = get(signed(PUBLIC, pq, now, "n-1")).await;
    assert_eq!(
        (res.status, res.header("x-ausername")),
        (200, Some("alice"))
    );
    // Signed over the sidecar's internal address instead of the public URL.
    let res = get(signed(&mock.url(), pq, now, "n-2")).await;
    assert_eq!(res.status, 401);
    assert!(
        res.header("www-authenticate")
            .unwrap()
            .contains("signature_invalid")
    );
    // A stale timestamp.
    let res = get(signed(PUBLIC, pq, now - 3600, "n-3")).await;
    assert!(
        res.header("www-authenticate")
            .unwrap()
            .contains("timestamp_refused")
    );
    // A replayed nonce.
    let auth = signed(PUBLIC, pq, now, "n-4");
    assert_eq!(get(auth.clone()).await.status, 200);
    let res = get(auth).await;
    assert!(
        res.header("www-authenticate")
            .unwrap()
            .contains("nonce_used")
    );
    // Another requestor than the one signed.
    let auth = signed(PUBLIC, pq, now, "n-5");
    let res = send_to(
        mock.addr,
        "GET",
        "/rest/api/2/myself?xoauth_requestor_id=admin",
        &[("authorization", &auth)],
        Default::default(),
    )
    .await;
    assert!(
        res.header("www-authenticate")
            .unwrap()
            .contains("signature_invalid")
    );
    // An unknown requestor runs as anonymous: the pitfall restgate guards against.
    let pq_zed = "/rest/api/2/myself?xoauth_requestor_id=zed";
    let res = send_to(
        mock.addr,
        "GET",
        pq_zed,
        &[("authorization", &signed(PUBLIC, pq_zed, now, "n-6"))],
        Default::default(),
    )
    .await;
    assert_eq!(
        (res.status, res.header("x-ausername")),
        (401, Some("anonymous"))
    );
}

#[tokio::test]
async fn an_unknown_user_never_gets_an_anonymous_answer() {
    let (_idp, mock, gw) =
        oauth1_gateway(Product::Confluence, "", "[cache]\nnegative_ttl = \"1h\"").await;
    // Confluence answers anonymous requests with 200 and an anonymous user.
    let res = gw.bearer("/rest/api/user/current", "tok-zed").await;
    assert_eq!(res.status, 403, "{:?}", res.body);
    assert_eq!(res.error(), "unknown_user");
    assert!(
        !String::from_utf8_lossy(&res.body).contains("Anonymous"),
        "the anonymous answer is discarded"
    );
    assert_eq!(mock.oauth_outcomes(), vec![OAuthOutcome::Anonymous]);
    // Remembered: the next request does not reach the product.
    let before = mock.requests();
    assert_eq!(
        gw.bearer("/rest/api/user/current", "tok-zed").await.status,
        403
    );
    assert_eq!(mock.requests(), before);
    // Known users are unaffected.
    assert_eq!(
        gw.bearer("/rest/api/user/current", "tok-alice")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_clients_session_cookie_does_not_win_over_the_asserted_user() {
    let (_idp, mock, gw) = oauth1_gateway(Product::Jira, "", "").await;
    // Straight to the product, the session wins (carol's session).
    let res = send_to(
        mock.addr,
        "GET",
        "/rest/api/2/myself",
        &[("cookie", "JSESSIONID=mallory-session")],
        Default::default(),
    )
    .await;
    assert_eq!(res.json()["name"], "carol");
    // Through restgate with alice's token, the cookie is gone: alice.
    let res = gw
        .get(
            "/rest/api/2/myself",
            &[
                ("authorization", "Bearer tok-alice"),
                ("cookie", "JSESSIONID=mallory-session"),
            ],
        )
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.json()["name"], "alice");
}

#[tokio::test]
async fn a_client_can_never_choose_the_impersonated_user() {
    let (_idp, mock, gw) = oauth1_gateway(Product::Jira, "", "").await;
    for pq in [
        "/rest/api/2/myself?xoauth_requestor_id=admin",
        "/rest/api/2/myself?user_id=admin",
        "/rest/api/2/myself?oauth_token=x",
    ] {
        let res = gw.bearer(pq, "tok-alice").await;
        assert_eq!(
            (res.status, res.error().as_str()),
            (400, "invalid_request"),
            "{pq}"
        );
    }
    let res = send_to(
        gw.addr,
        "POST",
        "/rest/api/2/myself",
        &[
            ("authorization", "Bearer tok-alice"),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        bytes::Bytes::from_static(b"a=1&xoauth_requestor_id=admin"),
    )
    .await;
    assert_eq!(res.status, 400);
    assert_eq!(mock.requests(), 0);
}

#[tokio::test]
async fn native_credentials_still_reach_the_product_untouched() {
    let (_idp, _mock, gw) = oauth1_gateway(Product::Jira, "", "").await;
    let res = gw
        .bearer("/rest/api/2/myself", &native_pat("000000000042"))
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.json()["name"], "bob");
    let res = gw
        .get(
            "/rest/api/2/myself",
            &[("authorization", "Basic YWxpY2U6cHctYWxpY2U=")],
        )
        .await;
    assert_eq!(res.json()["name"], "alice");
}

#[tokio::test]
async fn keygen_output_configures_both_sides_of_the_link() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("oauth1.pem");
    let run = |force: bool| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_restgate"));
        cmd.args(["oauth1", "keygen", "--consumer-key", "gw-consumer", "--out"])
            .arg(&key_file);
        if force {
            cmd.arg("--force");
        }
        cmd.output().unwrap()
    };
    let out = run(false);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    for field in [
        "Consumer Key:                                      gw-consumer",
        "Allow 2-Legged OAuth:",
        "Allow user impersonation through 2-Legged OAuth:   yes",
        "[upstream.oauth1]",
    ] {
        assert!(stdout.contains(field), "{field}\n{stdout}");
    }
    let private = std::fs::read_to_string(&key_file).unwrap();
    assert!(
        !stdout.contains(private.lines().nth(1).unwrap()),
        "the private key is never printed"
    );
    // A second run does not overwrite the key unless told to.
    assert_eq!(run(false).status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), private);

    // The printed public key, pasted into the product, verifies what restgate
    // signs with the written private key.
    let start = stdout.find("-----BEGIN PUBLIC KEY-----").unwrap();
    let end = stdout.find("-----END PUBLIC KEY-----").unwrap() + "-----END PUBLIC KEY-----".len();
    let mut cfg = mock_config(Product::Jira, "");
    cfg.public_key_pem = stdout[start..end].to_owned();
    cfg.consumer_key = "gw-consumer".into();
    let mock = ProductMock::start(cfg).await;
    let idp = FakeIdp::start().await;
    idp.add_user("tok-alice", "alice");
    let toml = format!(
        "[upstream]\nurl = \"{}\"\nidentity = \"oauth1\"\n[upstream.oauth1]\nconsumer_key = \"gw-consumer\"\nprivate_key_file = \"{}\"\n\
         signed_base_url = \"{PUBLIC}\"\n[providers.idp]\nkind = \"custom\"\nvalidation = \"introspection\"\nintrospection_endpoint = \"{}\"\n\
         client_id = \"{CLIENT_ID}\"\nclient_secret_file = \"{{secret_file}}\"\nusername_attribute = \"username\"\n",
        mock.url(),
        key_file.display(),
        idp.url("/introspect")
    );
    let gw = TestGateway::start(&toml).await;
    let res = gw.bearer("/rest/api/2/myself", "tok-alice").await;
    assert_eq!(res.status, 200, "{:?}", res.body);
    assert_eq!(res.json()["name"], "alice");
}

#[tokio::test]
async fn header_mode_with_a_shared_secret_reaches_a_header_authenticator() {
    let mut cfg = mock_config(Product::Jira, "");
    cfg.header_secret = Some("s3cret-between-restgate-and-jira".into());
    let mock = ProductMock::start(cfg).await;
    // Without the secret, the product ignores a client's header.
    let res = send_to(
        mock.addr,
        "GET",
        "/rest/api/2/myself",
        &[("x-forwarded-user", "alice")],
        Default::default(),
    )
    .await;
    assert_eq!(res.status, 401);
    let idp = FakeIdp::start().await;
    idp.add_user("tok-alice", "alice");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("up.secret"),
        "s3cret-between-restgate-and-jira\n",
    )
    .unwrap();
    let toml = format!(
        "[upstream]\nurl = \"{}\"\nshared_secret_header = \"X-Restgate-Secret\"\nshared_secret_file = \"{}\"\n\
         [providers.idp]\nkind = \"custom\"\nvalidation = \"introspection\"\nintrospection_endpoint = \"{}\"\n\
         client_id = \"{CLIENT_ID}\"\nclient_secret_file = \"{{secret_file}}\"\nusername_attribute = \"username\"\n",
        mock.url(),
        dir.path().join("up.secret").display(),
        idp.url("/introspect")
    );
    let gw = TestGateway::start(&toml).await;
    let res = gw.bearer("/rest/api/2/myself", "tok-alice").await;
    assert_eq!(res.status, 200, "{:?}", res.body);
    assert_eq!(res.json()["name"], "alice");
    // A client cannot send the secret and the user itself: on a pass-through
    // path both are stripped, and the product sees an anonymous request.
    let spoof = [
        ("x-forwarded-user", "admin"),
        ("x-restgate-secret", "s3cret-between-restgate-and-jira"),
    ];
    let res = gw.get("/secure/Dashboard.jspa", &spoof).await;
    assert_eq!(res.header("x-ausername"), Some("anonymous"));
}
