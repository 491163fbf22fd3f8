//! Atlassian-native credentials reach the upstream unchanged apart from the
//! removal of spoofable headers.

mod common {
    pub mod client;
    pub mod gateway;
    pub mod idp;
    pub mod setup;
    pub mod upstream;
}

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::setup::*;

/// A Jira / Confluence PAT: base64 of 12 digits, `:`, 20 random bytes.
fn jira_pat() -> String {
    let mut raw = b"123456789012:".to_vec();
    raw.extend((0u8..20).map(|i| i.wrapping_mul(37).wrapping_add(11)));
    STANDARD.encode(raw)
}

/// A DC OAuth 2.0 provider token: HS256 JWT whose payload holds only `id`.
fn dc_oauth2_token() -> String {
    let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let p = URL_SAFE_NO_PAD.encode(br#"{"id":"5a8f0c1e2d"}"#);
    format!("{h}.{p}.c2lnbmF0dXJl")
}

#[tokio::test]
async fn native_credentials_pass_through_unchanged() {
    let (idp, up, gw) = setup("").await;
    let pat = jira_pat();
    assert_eq!(pat.len(), 44);
    let bearer_pat = format!("Bearer {pat}");
    let bearer_dc = format!("Bearer {}", dc_oauth2_token());
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![("authorization", &bearer_pat)],
        vec![(
            "authorization",
            "Bearer BBDC-NzY1NDMyMTA5ODc2OnJhbmRvbXJhbmRvbXJhbmRvbQ",
        )],
        vec![("authorization", &bearer_dc)],
        vec![("authorization", "Basic YWxpY2U6cGFzc3dvcmQ=")],
        vec![(
            "authorization",
            "OAuth oauth_consumer_key=\"jira\", oauth_token=\"\", oauth_signature=\"x\"",
        )],
        vec![("cookie", "JSESSIONID=abc123; atlassian.xsrf.token=xyz")],
        vec![
            ("cookie", "seraph.rememberme.cookie=rem"),
            ("x-atlassian-token", "nocheck"),
        ],
    ];
    for headers in cases {
        let res = gw.get("/rest/api/2/myself?x=1", &headers).await;
        assert_eq!(res.status, 200, "{headers:?}");
        // The product session stays the client's business on native requests.
        assert!(res.header("set-cookie").is_some());
        let seen = up.last();
        for (name, value) in &headers {
            assert_eq!(seen.header(name).as_deref(), Some(*value), "{name} changed");
        }
        assert_eq!(seen.header("x-forwarded-user"), None);
        assert_eq!(seen.uri, "/rest/api/2/myself?x=1");
    }
    assert_eq!(idp.calls(), 0, "native tokens never reach a provider");
}

#[tokio::test]
async fn a_cookie_that_is_not_a_session_is_no_credential() {
    let (_idp, up, gw) = setup("").await;
    let res = gw
        .get("/rest/api/2/myself", &[("cookie", "AWSALB=sticky")])
        .await;
    assert_eq!(res.status, 401);
    assert_eq!(up.count(), 0);
}
