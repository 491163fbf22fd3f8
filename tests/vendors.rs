//! Vendor presets (Google, GitHub, GitLab, Slack, Facebook) against fakes that
//! answer in each vendor's documented shape, quirks included.

mod common {
    pub mod client;
    pub mod gateway;
    pub mod upstream;
    pub mod vendors;
}

use common::client::*;
use common::gateway::*;
use common::upstream::*;
use common::vendors::FakeVendors;
use serde_json::{Value, json};

async fn gateway(provider: &str) -> (FakeVendors, RecordingUpstream, TestGateway) {
    let v = FakeVendors::start().await;
    let up = RecordingUpstream::start().await;
    let provider = provider.replace("{api}", &v.url());
    let toml = format!(
        "[upstream]\nurl = \"http://{}\"\nemail_header = \"X-Forwarded-Email\"\n[providers.p]\nclient_secret_file = \"{{secret_file}}\"\n{provider}\n",
        up.addr
    );
    (v, up.clone(), TestGateway::start(&toml).await)
}

async fn user_of(
    gw: &TestGateway,
    up: &RecordingUpstream,
    token: &str,
) -> Result<(String, Option<String>), (u16, String)> {
    let res = gw.bearer("/rest/api/2/myself", token).await;
    if res.status == 200 {
        let seen = up.last();
        Ok((
            seen.header("x-forwarded-user").unwrap_or_default(),
            seen.header("x-forwarded-email"),
        ))
    } else {
        Err((res.status, res.error()))
    }
}

fn ok(user: &str, email: Option<&str>) -> Result<(String, Option<String>), (u16, String)> {
    Ok((user.into(), email.map(str::to_owned)))
}

fn refused() -> Result<(String, Option<String>), (u16, String)> {
    Err((401, "invalid_token".into()))
}

// === Google ===

fn tokeninfo(aud: &str, email: Option<&str>, verified: &str) -> Value {
    let mut v = json!({"azp": aud, "aud": aud, "sub": "1100", "scope": "openid https://www.googleapis.com/auth/userinfo.email",
        "exp": (now() + 3000).to_string(), "expires_in": "3000", "access_type": "online"});
    if let Some(e) = email {
        v["email"] = json!(e);
        v["email_verified"] = json!(verified);
    }
    v
}

#[tokio::test]
async fn google_tokeninfo_binds_the_client_and_maps_verified_email() {
    let cfg = "kind = \"google\"\nclient_id = [\"111-web.apps.googleusercontent.com\", \"222-cli.apps.googleusercontent.com\"]\n\
               tokeninfo_endpoint = \"{api}/tokeninfo\"\nservice_account = \"svc-google\"";
    let (v, up, gw) = gateway(cfg).await;
    v.answer(
        "/tokeninfo",
        "ya29.alice",
        200,
        tokeninfo(
            "222-cli.apps.googleusercontent.com",
            Some("alice@corp.example"),
            "true",
        ),
    );
    v.answer(
        "/tokeninfo",
        "ya29.unverified",
        200,
        tokeninfo(
            "111-web.apps.googleusercontent.com",
            Some("eve@corp.example"),
            "false",
        ),
    );
    v.answer(
        "/tokeninfo",
        "ya29.otherapp",
        200,
        tokeninfo(
            "999-evil.apps.googleusercontent.com",
            Some("bob@corp.example"),
            "true",
        ),
    );
    v.answer(
        "/tokeninfo",
        "ya29.sa",
        200,
        tokeninfo(
            "111-web.apps.googleusercontent.com",
            Some("robot@proj.iam.gserviceaccount.com"),
            "true",
        ),
    );
    assert_eq!(
        user_of(&gw, &up, "ya29.alice").await,
        ok("alice@corp.example", Some("alice@corp.example"))
    );
    assert_eq!(
        user_of(&gw, &up, "ya29.unverified").await,
        refused(),
        "an unverified email is no identity"
    );
    assert_eq!(
        user_of(&gw, &up, "ya29.otherapp").await,
        refused(),
        "issued to another client"
    );
    assert_eq!(
        user_of(&gw, &up, "ya29.sa").await.map(|u| u.0),
        Ok("svc-google".into())
    );
    assert_eq!(
        user_of(&gw, &up, "ya29.bogus").await,
        refused(),
        "Google's 400 is a refusal"
    );
}

// === GitHub ===

fn check_token(client_id: &str, login: &str) -> Value {
    json!({"id": 1, "url": "https://api.github.com/authorizations/1", "scopes": ["read:user", "user:email"],
        "token": "gho_x", "token_last_eight": "Xk0x", "hashed_token": "25f9", "note": null, "note_url": null,
        "fingerprint": null, "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
        "app": {"client_id": client_id, "name": "restgate", "url": "https://example.com"},
        "user": {"login": login, "id": 42, "node_id": "MDQ6", "type": "User", "site_admin": false}})
}

#[tokio::test]
async fn github_check_token_404_is_invalid_and_email_is_primary_and_verified() {
    let cfg = "kind = \"github\"\nclient_id = \"Iv1.restgate\"\napi_url = \"{api}\"";
    let (v, up, gw) = gateway(cfg).await;
    v.answer(
        "/applications/token",
        "gho_octocat",
        200,
        check_token("Iv1.restgate", "octocat"),
    );
    v.answer("/user/emails", "gho_octocat", 200, json!([
        {"email": "old@corp.example", "primary": false, "verified": true, "visibility": null},
        {"email": "octo@corp.example", "primary": true, "verified": true, "visibility": "private"}]));
    v.answer(
        "/applications/token",
        "gho_noemail",
        200,
        check_token("Iv1.restgate", "hubot"),
    );
    assert_eq!(
        user_of(&gw, &up, "gho_octocat").await,
        ok("octocat", Some("octo@corp.example"))
    );
    // Without the user:email scope there is no email, and the identity still stands.
    assert_eq!(user_of(&gw, &up, "gho_noemail").await, ok("hubot", None));
    assert_eq!(
        user_of(&gw, &up, "gho_revoked").await,
        refused(),
        "404 means invalid"
    );
    // restgate authenticated as the OAuth app, with its id in the path.
    let calls = v.calls();
    let (_, cred) = calls
        .iter()
        .find(|(r, _)| r == "/applications/token")
        .unwrap();
    assert!(cred.starts_with("Iv1.restgate Basic "), "{cred}");
}

// === GitLab ===

#[tokio::test]
async fn gitlab_token_info_binds_the_application_then_userinfo_names_the_user() {
    let cfg = "kind = \"gitlab\"\nclient_id = \"app-uid-1\"\nissuer = \"{api}\"";
    let (v, up, gw) = gateway(cfg).await;
    let info = |uid: &str| {
        json!({"resource_owner_id": 7, "scope": ["openid", "read_user", "email"], "expires_in": 7200,
        "application": {"uid": uid}, "created_at": 1767225600, "scopes": ["openid"], "expires_in_seconds": 7200})
    };
    v.answer("/oauth/token/info", "gl-alice", 200, info("app-uid-1"));
    v.answer("/oauth/userinfo", "gl-alice", 200, json!({"sub": "7", "sub_legacy": "abc", "name": "Alice", "nickname": "alice",
        "preferred_username": "alice", "email": "alice@corp.example", "email_verified": true, "website": "", "profile": "https://gitlab.example/alice",
        "picture": "", "groups": ["corp"]}));
    v.answer(
        "/oauth/token/info",
        "gl-other",
        200,
        info("someone-elses-app"),
    );
    v.answer("/oauth/token/info", "gl-noopenid", 200, info("app-uid-1"));
    assert_eq!(
        user_of(&gw, &up, "gl-alice").await,
        ok("alice", Some("alice@corp.example"))
    );
    assert_eq!(user_of(&gw, &up, "gl-other").await, refused());
    assert_eq!(
        user_of(&gw, &up, "gl-noopenid").await,
        refused(),
        "no openid scope: no username"
    );
    assert_eq!(user_of(&gw, &up, "gl-expired").await, refused());
}

// === Slack ===

#[tokio::test]
async fn slack_ok_false_is_invalid_the_workspace_is_bound_and_bots_are_services() {
    let cfg = "kind = \"slack\"\nteam_id = \"T0CORP\"\napi_url = \"{api}\"\nservice_account = \"svc-slack\"";
    let (v, up, gw) = gateway(cfg).await;
    let auth = |team: &str, user: &str| {
        json!({"ok": true, "url": "https://corp.slack.com/", "team": "Corp", "user": user,
        "team_id": team, "user_id": "U0ALICE"})
    };
    v.answer("/auth.test", "xoxp-alice", 200, auth("T0CORP", "alice"));
    v.answer("/openid.connect.userInfo", "xoxp-alice", 200, json!({"ok": true, "sub": "U0ALICE", "https://slack.com/user_id": "U0ALICE",
        "https://slack.com/team_id": "T0CORP", "email": "alice@corp.example", "email_verified": true, "name": "Alice A."}));
    v.answer(
        "/auth.test",
        "xoxp-elsewhere",
        200,
        auth("T0OTHER", "mallory"),
    );
    let mut bot = auth("T0CORP", "deploybot");
    bot["bot_id"] = json!("B0DEPLOY");
    v.answer("/auth.test", "xoxb-deploy", 200, bot);
    assert_eq!(
        user_of(&gw, &up, "xoxp-alice").await,
        ok("alice", Some("alice@corp.example"))
    );
    assert_eq!(
        user_of(&gw, &up, "xoxp-elsewhere").await,
        refused(),
        "another workspace"
    );
    assert_eq!(
        user_of(&gw, &up, "xoxb-deploy").await.map(|u| u.0),
        Ok("svc-slack".into())
    );
    assert_eq!(
        user_of(&gw, &up, "xoxp-revoked").await,
        refused(),
        "HTTP 200 with ok:false"
    );
}

// === Facebook ===

#[tokio::test]
async fn facebook_debug_token_binds_the_app_and_app_tokens_are_services() {
    let cfg = "kind = \"facebook\"\nclient_id = \"1234567890\"\napi_url = \"{api}\"\nservice_account = \"svc-facebook\"";
    let (v, up, gw) = gateway(cfg).await;
    let data = |app: &str, ty: &str, user: Option<&str>| {
        let mut d = json!({"app_id": app, "type": ty, "application": "restgate", "data_access_expires_at": now() + 7776000,
            "expires_at": now() + 5000, "is_valid": true, "issued_at": now(), "scopes": ["email", "public_profile"]});
        if let Some(u) = user {
            d["user_id"] = json!(u);
        }
        json!({"data": d})
    };
    v.answer(
        "/debug_token",
        "EAAuser",
        200,
        data("1234567890", "USER", Some("10158")),
    );
    v.answer(
        "/me",
        "EAAuser",
        200,
        json!({"id": "10158", "name": "Alice", "email": "alice@corp.example"}),
    );
    v.answer(
        "/debug_token",
        "EAAother",
        200,
        data("5555555555", "USER", Some("1")),
    );
    v.answer(
        "/debug_token",
        "EAAapp",
        200,
        data("1234567890", "APP", None),
    );
    assert_eq!(
        user_of(&gw, &up, "EAAuser").await,
        ok("alice@corp.example", Some("alice@corp.example"))
    );
    assert_eq!(
        user_of(&gw, &up, "EAAother").await,
        refused(),
        "issued to another app"
    );
    assert_eq!(
        user_of(&gw, &up, "EAAapp").await.map(|u| u.0),
        Ok("svc-facebook".into())
    );
    assert_eq!(
        user_of(&gw, &up, "EAAinvalid").await,
        refused(),
        "is_valid false"
    );
    let calls = v.calls();
    let (_, app_token) = calls.iter().find(|(r, _)| r == "/debug_token").unwrap();
    assert_eq!(
        app_token,
        &format!("1234567890|{CLIENT_SECRET}"),
        "debug_token with the app token"
    );
}

#[tokio::test]
async fn vendor_outages_are_503() {
    let cfg = "kind = \"slack\"\nteam_id = \"T0CORP\"\napi_url = \"{api}\"";
    let (v, _up, gw) = gateway(cfg).await;
    v.answer("/auth.test", "xoxp-down", 500, json!({}));
    let res = gw.bearer("/rest/api/2/myself", "xoxp-down").await;
    assert_eq!(res.status, 503);
}

#[test]
fn vendor_preset_errors() {
    let parse = |provider: &str| {
        let text = format!("[upstream]\nurl = \"http://127.0.0.1:1\"\n[providers.p]\n{provider}\n");
        restgate::config::parse(&text, std::path::Path::new("t.toml"))
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    for (provider, want) in [
        ("kind = \"slack\"", "providers.p.team_id: missing"),
        (
            "kind = \"github\"\nclient_id = \"x\"",
            "providers.p.client_secret_env: missing: the OAuth app's client secret",
        ),
        ("kind = \"google\"", "providers.p.client_id: missing"),
        (
            "kind = \"facebook\"\nclient_id = [\"a\", \"b\"]",
            "one client id",
        ),
        (
            "kind = \"custom\"\nvalidation = \"vendor\"",
            "kind = \"custom\" has none",
        ),
    ] {
        let err = parse(provider).expect_err(provider);
        assert!(err.contains(want), "{provider}\n{err}");
    }
}
