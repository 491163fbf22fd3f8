//! Provider presets against fakes answering in each provider's documented shape
//! (../shared/providers.md): the right user, the right service account, the
//! right refusal.

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

const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const API_GUID: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";

async fn gateway(provider: &str) -> (FakeIdp, RecordingUpstream, TestGateway) {
    let idp = FakeIdp::start().await;
    let up = RecordingUpstream::start().await;
    idp.set_jwks(vec![jwk("rsa1")]);
    let provider = provider.replace("{idp}", &idp.url(""));
    let toml = format!(
        "[upstream]\nurl = \"http://{}\"\n[providers.p]\nclient_secret_file = \"{{secret_file}}\"\n{provider}\n",
        up.addr
    );
    (idp, up.clone(), TestGateway::start(&toml).await)
}

async fn user_of(
    gw: &TestGateway,
    up: &RecordingUpstream,
    token: &str,
) -> Result<String, (u16, String)> {
    let res = gw.bearer("/rest/api/2/myself", token).await;
    if res.status == 200 {
        Ok(up.last().header("x-forwarded-user").unwrap_or_default())
    } else {
        Err((res.status, res.error()))
    }
}

fn refused() -> Result<String, (u16, String)> {
    Err((401, "invalid_token".into()))
}

// === Keycloak ===

const KEYCLOAK: &str = r#"kind = "keycloak"
issuer = "{idp}/realms/corp"
client_id = "restgate-gw"
service_account = "svc-keycloak"
allowed_clients = ["cli-app", "ci-runner", "legacy-job"]
[providers.p.client_accounts]
"ci-runner" = "svc-ci""#;

#[tokio::test]
async fn keycloak_users_service_accounts_and_both_client_id_spellings() {
    let (idp, up, gw) = gateway(KEYCLOAK).await;
    let iss = format!("{}/realms/corp", idp.url(""));
    idp.add_token("kc-user", json!({"active": true, "exp": now() + 300, "iat": now(), "iss": iss, "aud": "account",
        "sub": "8d7f2c1e-0b1a-4c6e-9a8b-1f2e3d4c5b6a", "typ": "Bearer", "azp": "cli-app", "scope": "openid email profile",
        "email_verified": true, "preferred_username": "alice", "email": "alice@corp.example", "client_id": "cli-app", "username": "alice"}));
    // A service account (Keycloak 21.1+): `client_id` from the default mapper.
    idp.add_token("kc-cc", json!({"active": true, "exp": now() + 300, "iss": iss, "sub": "1b2c", "typ": "Bearer", "azp": "ci-runner",
        "scope": "email profile", "clientHost": "10.0.0.9", "preferred_username": "service-account-ci-runner",
        "clientAddress": "10.0.0.9", "client_id": "ci-runner", "username": "service-account-ci-runner"}));
    // A client created before 21.1: the mapper's claim is spelled `clientId`.
    idp.add_token("kc-cc-legacy", json!({"active": true, "exp": now() + 300, "iss": iss, "sub": "2c3d", "azp": "legacy-job",
        "clientId": "legacy-job", "preferred_username": "service-account-legacy-job", "username": "service-account-legacy-job"}));
    idp.add_token(
        "kc-other-client",
        json!({"active": true, "exp": now() + 300, "iss": iss, "azp": "someone-else",
        "client_id": "someone-else", "username": "mallory", "preferred_username": "mallory"}),
    );
    assert_eq!(user_of(&gw, &up, "kc-user").await, Ok("alice".into()));
    assert_eq!(user_of(&gw, &up, "kc-cc").await, Ok("svc-ci".into()));
    assert_eq!(
        user_of(&gw, &up, "kc-cc-legacy").await,
        Ok("svc-keycloak".into())
    );
    assert_eq!(user_of(&gw, &up, "kc-other-client").await, refused());
    assert_eq!(user_of(&gw, &up, "kc-revoked").await, refused());
    assert!(idp.client_auth().iter().all(|a| a == "basic"));
}

// === Okta ===

const OKTA: &str = r#"kind = "okta"
issuer = "{idp}/oauth2/default"
client_id = "restgate-gw"
strip_domain = true
service_account = "svc-okta"
[providers.p.client_accounts]
"0oa-ci" = "svc-ci""#;

#[tokio::test]
async fn okta_users_and_client_credentials_by_missing_uid() {
    let (idp, up, gw) = gateway(OKTA).await;
    let iss = format!("{}/oauth2/default", idp.url(""));
    idp.add_token("okta-user", json!({"active": true, "token_type": "Bearer", "scope": "openid profile", "client_id": "0oa-cli",
        "username": "alice@corp.example", "exp": now() + 3600, "iat": now(), "sub": "alice@corp.example", "aud": "api://default",
        "iss": iss, "jti": "AT.1", "uid": "00uid4BxXw6I6TV4m0g3"}));
    idp.add_token("okta-cc", json!({"active": true, "token_type": "Bearer", "scope": "batch", "client_id": "0oa-ci",
        "exp": now() + 3600, "iat": now(), "sub": "0oa-ci", "aud": "api://default", "iss": iss, "jti": "AT.2"}));
    idp.add_token("okta-cc-other", json!({"active": true, "scope": "batch", "client_id": "0oa-job", "sub": "0oa-job", "exp": now() + 3600}));
    assert_eq!(user_of(&gw, &up, "okta-user").await, Ok("alice".into()));
    assert_eq!(user_of(&gw, &up, "okta-cc").await, Ok("svc-ci".into()));
    assert_eq!(
        user_of(&gw, &up, "okta-cc-other").await,
        Ok("svc-okta".into())
    );
    assert_eq!(user_of(&gw, &up, "okta-gone").await, refused());
}

#[tokio::test]
async fn okta_org_authorization_server_uses_the_org_endpoints() {
    let (idp, up, gw) = gateway(&OKTA.replace("{idp}/oauth2/default", "{idp}")).await;
    idp.add_token("okta-org", json!({"active": true, "username": "bob@corp.example", "uid": "00u2", "client_id": "0oa-cli", "sub": "bob@corp.example"}));
    assert_eq!(user_of(&gw, &up, "okta-org").await, Ok("bob".into()));
}

// === Cognito ===

fn cognito_claims(idp: &FakeIdp, extra: Value) -> Value {
    let mut c = json!({"sub": "5a3f9c0e-1111-2222-3333-444455556666", "token_use": "access", "scope": "openid",
        "auth_time": now(), "iss": idp.url("/cognito"), "exp": now() + 600, "iat": now(), "jti": "j1",
        "client_id": "app-one", "username": "alice"});
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

#[tokio::test]
async fn cognito_checks_client_id_and_token_use_instead_of_aud() {
    let cfg = "kind = \"cognito\"\nissuer = \"{idp}/cognito\"\nclient_id = [\"app-one\", \"app-two\"]\nservice_account = \"svc-cognito\"";
    let (idp, up, gw) = gateway(cfg).await;
    let sign1 = |extra: Value| sign("rsa1", "rsa-key-1", &cognito_claims(&idp, extra));
    assert_eq!(
        user_of(&gw, &up, &sign1(json!({}))).await,
        Ok("alice".into())
    );
    assert_eq!(
        user_of(
            &gw,
            &up,
            &sign1(json!({"client_id": "app-two", "username": "bob"}))
        )
        .await,
        Ok("bob".into())
    );
    // Client credentials: no username, sub is the client.
    let cc = json!({"sub": "app-one", "username": Value::Null, "scope": "api/read"});
    assert_eq!(
        user_of(&gw, &up, &sign1(cc)).await,
        Ok("svc-cognito".into())
    );
    // An ID token of the same pool is not an access token.
    let id_token = json!({"token_use": "id", "aud": "app-one", "client_id": Value::Null, "cognito:username": "alice"});
    assert_eq!(user_of(&gw, &up, &sign1(id_token)).await, refused());
    // Another app client of the same pool.
    assert_eq!(
        user_of(&gw, &up, &sign1(json!({"client_id": "app-nine"}))).await,
        refused()
    );
}

// === Entra ID ===

fn azure_v2(extra: Value) -> Value {
    let mut c = json!({"aud": API_GUID, "iss": format!("https://login.microsoftonline.com/{TID}/v2.0"), "iat": now(),
        "nbf": now(), "exp": now() + 3600, "azp": "c0ffee00-0000-0000-0000-000000000001", "azpacr": "0",
        "name": "Alice", "oid": "0b9e", "preferred_username": "alice@corp.example", "scp": "access_as_user",
        "sub": "pairwise-sub", "tid": TID, "ver": "2.0"});
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

fn azure_cfg(tenant: &str, extra: &str) -> String {
    format!(
        "kind = \"azure-ad\"\ntenant = \"{tenant}\"\naudience = [\"{API_GUID}\", \"api://restgate\"]\njwks_uri = \"{{idp}}/jwks\"\n\
         service_account = \"svc-azure\"\n{extra}\n[providers.p.client_accounts]\n\"c1-app\" = \"svc-ci\""
    )
}

#[tokio::test]
async fn azure_v1_and_v2_tokens_users_and_app_only_tokens() {
    let (_idp, up, gw) = gateway(&azure_cfg(TID, "")).await;
    let s = |c: Value| sign("rsa1", "rsa-key-1", &c);
    assert_eq!(
        user_of(&gw, &up, &s(azure_v2(json!({})))).await,
        Ok("alice@corp.example".into())
    );
    let v1 = json!({"aud": "api://restgate", "iss": format!("https://sts.windows.net/{TID}/"), "iat": now(), "nbf": now(),
        "exp": now() + 3600, "appid": "c0ffee00-0000-0000-0000-000000000001", "appidacr": "0", "scp": "user_impersonation",
        "upn": "bob@corp.example", "unique_name": "bob@corp.example", "tid": TID, "ver": "1.0", "sub": "x"});
    assert_eq!(
        user_of(&gw, &up, &s(v1)).await,
        Ok("bob@corp.example".into())
    );
    // App-only token with idtyp, and one without (no scp): both client credentials.
    let app = json!({"idtyp": "app", "scp": Value::Null, "preferred_username": Value::Null, "name": Value::Null,
        "roles": ["Jobs.Run"], "azp": "c1-app", "azpacr": "1", "sub": "sp-oid"});
    assert_eq!(
        user_of(&gw, &up, &s(azure_v2(app))).await,
        Ok("svc-ci".into())
    );
    let app_no_idtyp = json!({"scp": Value::Null, "preferred_username": Value::Null, "azp": "other-app", "sub": "sp2"});
    assert_eq!(
        user_of(&gw, &up, &s(azure_v2(app_no_idtyp))).await,
        Ok("svc-azure".into())
    );
    // Another tenant, another API.
    let other_tenant = format!(
        "https://login.microsoftonline.com/{}/v2.0",
        "11111111-2222-3333-4444-555555555555"
    );
    assert_eq!(
        user_of(&gw, &up, &s(azure_v2(json!({"iss": other_tenant})))).await,
        refused()
    );
    assert_eq!(
        user_of(
            &gw,
            &up,
            &s(azure_v2(
                json!({"aud": "00000003-0000-0000-c000-000000000000"})
            ))
        )
        .await,
        refused()
    );
}

#[tokio::test]
async fn azure_token_version_restricts_the_issuer() {
    let (_idp, up, gw) = gateway(&azure_cfg(TID, "token_version = \"2\"")).await;
    let v1 = azure_v2(json!({"iss": format!("https://sts.windows.net/{TID}/"), "ver": "1.0"}));
    assert_eq!(
        user_of(&gw, &up, &sign("rsa1", "rsa-key-1", &v1)).await,
        refused()
    );
    assert!(
        user_of(&gw, &up, &sign("rsa1", "rsa-key-1", &azure_v2(json!({}))))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn azure_multi_tenant_issuers_take_the_tokens_tenant() {
    let (_idp, up, gw) = gateway(&azure_cfg("organizations", "")).await;
    let other = "0a0b0c0d-1111-2222-3333-444444444444";
    let t = azure_v2(
        json!({"tid": other, "iss": format!("https://login.microsoftonline.com/{other}/v2.0")}),
    );
    assert_eq!(
        user_of(&gw, &up, &sign("rsa1", "rsa-key-1", &t)).await,
        Ok("alice@corp.example".into())
    );
    // iss and tid disagree.
    let t = azure_v2(
        json!({"tid": other, "iss": format!("https://login.microsoftonline.com/{TID}/v2.0")}),
    );
    assert_eq!(
        user_of(&gw, &up, &sign("rsa1", "rsa-key-1", &t)).await,
        refused()
    );
}

#[test]
fn preset_config_errors_say_what_to_give() {
    let parse = |provider: &str| {
        let text = format!("[upstream]\nurl = \"http://127.0.0.1:1\"\n[providers.p]\n{provider}\n");
        restgate::config::parse(&text, std::path::Path::new("t.toml"))
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let cases = [
        (
            "kind = \"keycloak\"\nclient_id = \"x\"",
            "providers.p.issuer: missing: the realm URL",
        ),
        (
            "kind = \"azure-ad\"\ntenant = \"contoso.onmicrosoft.com\"\naudience = \"a\"",
            "give the Directory ID",
        ),
        (
            "kind = \"azure-ad\"\ntenant = \"common\"",
            "providers.p.audience: missing",
        ),
        (
            "kind = \"azure-ad\"\ntenant = \"common\"\naudience = \"a\"\ntoken_version = \"3\"",
            "providers.p.token_version",
        ),
        (
            "kind = \"cognito\"\nissuer = \"https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_x\"",
            "providers.p.client_id: missing",
        ),
        (
            "kind = \"okta\"\nissuer = \"https://x.okta.com\"\ntenant = \"t\"",
            "providers.p.tenant: not used by kind = \"okta\"",
        ),
        (
            "kind = \"keycloak\"\nissuer = \"https://k/realms/r\"",
            "providers.p.client_id: missing: introspection needs",
        ),
        ("kind = \"okta-ish\"", "\"okta-ish\" is not one of"),
    ];
    for (provider, want) in cases {
        let err = parse(provider).expect_err(provider);
        assert!(err.contains(want), "{provider}\n{err}");
    }
}

// === Azure AD B2C ===

#[tokio::test]
async fn b2c_takes_its_issuer_from_the_policy_document_and_maps_emails_array() {
    let cfg = "kind = \"azure-b2c\"\ntenant = \"contoso\"\npolicy = \"B2C_1_signin\"\naudience = \"api-app-id\"\n\
               discovery_url = \"{idp}/realms/corp/.well-known/openid-configuration\"\n\
               [providers.p.client_accounts]\n\"daemon-app\" = \"svc-daemon\"";
    let (idp, up, gw) = gateway(cfg).await;
    let claims = |extra: Value| {
        let mut c = json!({"iss": idp.issuer(), "aud": "api-app-id", "exp": now() + 600, "nbf": now(), "sub": "oid-1",
            "tfp": "B2C_1_signin", "scp": "read", "azp": "spa-app", "ver": "1.0", "emails": ["alice@corp.example"], "name": "Alice"});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        sign("rsa1", "rsa-key-1", &c)
    };
    assert_eq!(
        user_of(&gw, &up, &claims(json!({}))).await,
        Ok("alice@corp.example".into())
    );
    // Client credentials: no marker in B2C, so only a listed client without user claims.
    let daemon = json!({"azp": "daemon-app", "sub": "daemon-sp", "emails": Value::Null, "name": Value::Null, "scp": "jobs.run"});
    assert_eq!(
        user_of(&gw, &up, &claims(daemon)).await,
        Ok("svc-daemon".into())
    );
    let unlisted =
        json!({"azp": "some-app", "sub": "sp", "emails": Value::Null, "name": Value::Null});
    assert_eq!(user_of(&gw, &up, &claims(unlisted)).await, refused());
    let foreign =
        json!({"iss": "https://fabrikam.b2clogin.com/11111111-2222-3333-4444-555555555555/v2.0/"});
    assert_eq!(user_of(&gw, &up, &claims(foreign)).await, refused());
}
