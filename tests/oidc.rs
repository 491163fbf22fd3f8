//! `kind = "oidc"`: endpoints from discovery; JWTs checked locally, opaque tokens
//! by introspection or userinfo.

mod common {
    pub mod client;
    pub mod gateway;
    pub mod idp;
    pub mod keys;
    pub mod upstream;
}

use std::time::Duration;

use common::client::*;
use common::gateway::*;
use common::idp::*;
use common::keys::*;
use common::upstream::*;
use serde_json::{Value, json};

const AUD: &str = "api://restgate";

async fn oidc_gateway(extra: &str) -> (FakeIdp, RecordingUpstream, TestGateway) {
    let idp = FakeIdp::start().await;
    let up = RecordingUpstream::start().await;
    idp.set_jwks(vec![jwk("rsa1")]);
    let toml = format!(
        r#"
[upstream]
url = "http://{}"
[providers.corp]
kind = "oidc"
issuer = "{}"
audience = "{AUD}"
username_attribute = ["preferred_username", "username"]
timeout = "2s"
{extra}
"#,
        up.addr,
        idp.issuer()
    );
    let gw = TestGateway::start(&toml).await;
    (idp, up, gw)
}

fn claims(idp: &FakeIdp, user: &str) -> Value {
    json!({"iss": idp.issuer(), "aud": AUD, "sub": user, "preferred_username": user, "exp": now() + 600})
}

const CLIENT: &str = "client_id = \"restgate-gw\"\nclient_secret_file = \"{secret_file}\"";

#[tokio::test]
async fn jwt_access_tokens_are_checked_locally_with_discovered_keys() {
    let (idp, up, gw) = oidc_gateway(CLIENT).await;
    for user in ["alice", "bob", "carol"] {
        let res = gw
            .bearer(
                "/rest/api/2/myself",
                &sign("rsa1", "rsa-key-1", &claims(&idp, user)),
            )
            .await;
        assert_eq!(res.status, 200);
        assert_eq!(up.last().header("x-forwarded-user").as_deref(), Some(user));
    }
    assert_eq!(
        idp.discovery_calls(),
        1,
        "the document is fetched once and kept"
    );
    assert_eq!(idp.jwks_calls(), 1);
    assert_eq!(idp.calls(), 0, "JWTs need no introspection");
    // A JWT for another API of the same issuer is refused.
    let other = json!({"iss": idp.issuer(), "aud": "api://other", "preferred_username": "x", "exp": now() + 60});
    assert_eq!(
        gw.bearer("/rest/api/2/myself", &sign("rsa1", "rsa-key-1", &other))
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn opaque_tokens_go_to_discovered_introspection_with_client_credentials() {
    let (idp, up, gw) = oidc_gateway(CLIENT).await;
    idp.add_user("opaque-alice", "alice");
    assert_eq!(
        gw.bearer("/rest/api/2/myself", "opaque-alice").await.status,
        200
    );
    assert_eq!(
        up.last().header("x-forwarded-user").as_deref(),
        Some("alice")
    );
    assert_eq!(
        idp.client_auth(),
        vec!["basic"],
        "introspection, authenticated as restgate"
    );
    assert_eq!(
        gw.bearer("/rest/api/2/myself", "opaque-unknown")
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn without_client_credentials_opaque_tokens_go_to_userinfo() {
    let (idp, up, gw) = oidc_gateway("").await;
    idp.add_user("opaque-dave", "dave");
    assert_eq!(
        gw.bearer("/rest/api/2/myself", "opaque-dave").await.status,
        200
    );
    assert_eq!(
        up.last().header("x-forwarded-user").as_deref(),
        Some("dave")
    );
    assert!(idp.client_auth().is_empty(), "no introspection call");
}

#[tokio::test]
async fn a_forced_mode_wins_over_the_token_shape() {
    let (idp, _up, gw) = oidc_gateway(&format!("validation = \"introspection\"\n{CLIENT}")).await;
    let jwt = sign("rsa1", "rsa-key-1", &claims(&idp, "erin"));
    idp.add_token(&jwt, json!({"username": "erin-introspected"}));
    let res = gw.bearer("/rest/api/2/myself", &jwt).await;
    assert_eq!(res.status, 200);
    assert_eq!(idp.jwks_calls(), 0);
    assert_eq!(idp.client_auth().len(), 1);
}

#[tokio::test]
async fn a_document_naming_another_issuer_is_refused_as_a_provider_fault() {
    let (idp, up, gw) = oidc_gateway(CLIENT).await;
    idp.edit_discovery(|d| d["issuer"] = json!("https://evil.example/realms/corp"));
    let res = gw
        .bearer(
            "/rest/api/2/myself",
            &sign("rsa1", "rsa-key-1", &claims(&idp, "alice")),
        )
        .await;
    assert_eq!(res.status, 503);
    assert_eq!(up.count(), 0);
}

#[tokio::test]
async fn discovery_down_is_503_then_recovers() {
    let (idp, _up, gw) = oidc_gateway(CLIENT).await;
    idp.set_mode(Mode::Status(502));
    let token = sign("rsa1", "rsa-key-1", &claims(&idp, "alice"));
    assert_eq!(gw.bearer("/rest/api/2/myself", &token).await.status, 503);
    idp.set_mode(Mode::Normal);
    // Fetches back off for a second after a failure.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(gw.bearer("/rest/api/2/myself", &token).await.status, 200);
}

#[test]
fn oidc_config_errors() {
    let parse = |extra: &str| {
        let text = format!(
            "[upstream]\nurl = \"http://127.0.0.1:1\"\n[providers.o]\nkind = \"oidc\"\n{extra}"
        );
        restgate::config::parse(&text, std::path::Path::new("t.toml"))
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    assert!(parse("issuer = \"https://i\"\naudience = \"a\"").is_ok());
    assert!(
        parse("audience = \"a\"")
            .unwrap_err()
            .contains("providers.o.issuer: missing")
    );
    assert!(
        parse("issuer = \"https://i\"")
            .unwrap_err()
            .contains("providers.o.audience: missing")
    );
    assert!(
        parse("issuer = \"https://i\"\nvalidation = \"introspection\"")
            .unwrap_err()
            .contains("introspection needs `client_id`")
    );
    assert!(
        parse("issuer = \"https://i\"\naudience = \"a\"\ntenant = \"t\"")
            .unwrap_err()
            .contains("providers.o.tenant: not used by kind = \"oidc\"")
    );
}

#[tokio::test]
async fn discover_prints_a_provider_block_that_validates() {
    let idp = FakeIdp::start().await;
    let issuer = idp.issuer();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_restgate"))
            .args(["discover", &issuer, "--name", "kc"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("[providers.kc]\nkind = \"oidc\""),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("issuer = \"{}\"", idp.issuer())));
    assert!(
        stdout.contains(&format!(
            "introspection_endpoint {}/introspect",
            idp.url("")
        )),
        "{stdout}"
    );
    // The printed block, once its placeholders are filled, is a valid config.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s"), "x").unwrap();
    let filled = stdout.replace(
        "client_secret_env = \"RESTGATE_KC_CLIENT_SECRET\"",
        &format!("client_secret_file = {:?}", dir.path().join("s")),
    );
    assert_ne!(filled, stdout, "the block names the secret variable");
    let toml = format!("[upstream]\nurl = \"http://127.0.0.1:1\"\n{filled}");
    let parsed = restgate::config::parse(&toml, std::path::Path::new("t.toml"));
    assert!(parsed.is_ok(), "{:?}", parsed.err().map(|e| e.to_string()));

    // Another issuer's document is refused.
    idp.edit_discovery(|d| d["issuer"] = json!("https://other.example"));
    let issuer = idp.issuer();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_restgate"))
            .args(["discover", &issuer])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("names the issuer \"https://other.example\"")
    );
}
