//! Local JWT validation: signature, algorithm allow-list, iss, aud, exp, nbf,
//! unknown kid (one refetch), key rotation without a restart.

mod common {
    pub mod client;
    pub mod gateway;
    pub mod idp;
    pub mod keys;
    pub mod setup;
    pub mod upstream;
}

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::client::*;
use common::gateway::*;
use common::idp::*;
use common::keys::*;
use common::setup::*;
use common::upstream::*;
use serde_json::{Value, json};

const ISS: &str = "https://idp.test/realms/corp";
const AUD: &str = "api://restgate";

async fn jwt_gateway(extra: &str) -> (FakeIdp, RecordingUpstream, TestGateway) {
    let idp = FakeIdp::start().await;
    let up = RecordingUpstream::start().await;
    idp.set_jwks(vec![jwk("rsa1"), jwk("ec1")]);
    let toml = format!(
        r#"
[upstream]
url = "http://{}"
[providers.jwt]
kind = "custom"
validation = "jwt"
issuer = "{ISS}"
jwks_uri = "{}"
audience = "{AUD}"
username_attribute = "preferred_username"
service_account = "svc-jwt"
clock_skew = "30s"
{extra}
"#,
        up.addr,
        idp.url("/jwks")
    );
    let gw = TestGateway::start(&toml).await;
    (idp, up, gw)
}

fn claims(user: &str) -> Value {
    json!({"iss": ISS, "aud": AUD, "sub": format!("sub-{user}"), "preferred_username": user,
           "azp": "cli", "scope": "read", "exp": now() + 600, "iat": now()})
}

fn with(mut c: Value, key: &str, v: Value) -> Value {
    c[key] = v;
    c
}

async fn status(gw: &TestGateway, token: &str) -> (u16, String) {
    let res = gw.bearer("/rest/api/2/myself", token).await;
    let err = if res.status == 200 {
        String::new()
    } else {
        res.error()
    };
    (res.status, err)
}

#[tokio::test]
async fn valid_rs256_and_es256_tokens_map_to_their_users() {
    let (idp, up, gw) = jwt_gateway("").await;
    assert_eq!(
        status(&gw, &sign("rsa1", "rsa-key-1", &claims("alice")))
            .await
            .0,
        200
    );
    assert_eq!(
        up.last().header("x-forwarded-user").as_deref(),
        Some("alice")
    );
    assert_eq!(
        status(&gw, &sign("ec1", "ec-key-1", &claims("bob")))
            .await
            .0,
        200
    );
    assert_eq!(up.last().header("x-forwarded-user").as_deref(), Some("bob"));
    for i in 0..5 {
        assert_eq!(
            status(&gw, &sign("rsa1", "rsa-key-1", &claims(&format!("u{i}"))))
                .await
                .0,
            200
        );
    }
    assert_eq!(idp.jwks_calls(), 1, "keys are fetched once and kept");
    assert_eq!(idp.calls(), 0, "no introspection or userinfo call");
}

#[tokio::test]
async fn forged_expired_and_misdirected_tokens_are_refused() {
    let (_idp, up, gw) = jwt_gateway("").await;
    let good = claims("alice");
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    // Signed by another key under the published kid.
    let wrong_key = sign("rsa2", "rsa-key-1", &good);
    // alg "none", no signature.
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "kid": "rsa-key-1"})),
        b64(&good)
    );
    // HS256 with the RSA public key as the HMAC secret (the classic confusion).
    let hs256 = {
        use jsonwebtoken::{Algorithm, EncodingKey, Header};
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some("rsa-key-1".into());
        jsonwebtoken::encode(
            &h,
            &good,
            &EncodingKey::from_secret(&key_file("rsa1.pub.pem")),
        )
        .unwrap()
    };
    // A valid signature over a tampered payload.
    let tampered = {
        let t = sign("rsa1", "rsa-key-1", &good);
        let parts: Vec<&str> = t.split('.').collect();
        format!(
            "{}.{}.{}",
            parts[0],
            b64(&with(good.clone(), "preferred_username", json!("admin"))),
            parts[2]
        )
    };
    let table = [
        ("wrong signature", wrong_key),
        ("alg none", none),
        ("HS256 with the public key", hs256),
        ("tampered payload", tampered),
        (
            "expired",
            sign(
                "rsa1",
                "rsa-key-1",
                &with(good.clone(), "exp", json!(now() - 120)),
            ),
        ),
        (
            "not yet valid",
            sign(
                "rsa1",
                "rsa-key-1",
                &with(good.clone(), "nbf", json!(now() + 600)),
            ),
        ),
        (
            "wrong iss",
            sign(
                "rsa1",
                "rsa-key-1",
                &with(good.clone(), "iss", json!("https://evil.test")),
            ),
        ),
        (
            "wrong aud",
            sign(
                "rsa1",
                "rsa-key-1",
                &with(good.clone(), "aud", json!("api://other")),
            ),
        ),
        (
            "no aud",
            sign("rsa1", "rsa-key-1", &with(good.clone(), "aud", Value::Null)),
        ),
        (
            "no exp",
            sign("rsa1", "rsa-key-1", &with(good.clone(), "exp", Value::Null)),
        ),
        ("not a JWT at all", "a.b.c".to_owned()),
    ];
    for (what, token) in table {
        let (code, err) = status(&gw, &token).await;
        assert_eq!((code, err.as_str()), (401, "invalid_token"), "{what}");
    }
    assert_eq!(up.count(), 0);
    // Within the clock skew, a token that starts in a few seconds is fine.
    let soon = sign("rsa1", "rsa-key-1", &with(good, "nbf", json!(now() + 10)));
    assert_eq!(status(&gw, &soon).await.0, 200);
}

#[tokio::test]
async fn unknown_kid_refetches_once_then_refuses() {
    let (idp, _up, gw) = jwt_gateway("").await;
    assert_eq!(
        status(&gw, &sign("rsa1", "rsa-key-1", &claims("alice")))
            .await
            .0,
        200
    );
    assert_eq!(idp.jwks_calls(), 1);
    let unknown = sign("rsa2", "rsa-key-2", &claims("mallory"));
    assert_eq!(status(&gw, &unknown).await, (401, "invalid_token".into()));
    assert_eq!(idp.jwks_calls(), 2, "one refetch for the unknown kid");
    for i in 0..5 {
        let t = sign("rsa2", &format!("made-up-{i}"), &claims("mallory"));
        assert_eq!(status(&gw, &t).await.0, 401);
    }
    assert_eq!(idp.jwks_calls(), 2, "no more refetches within the interval");
}

#[tokio::test]
async fn key_rotation_is_followed_without_a_restart() {
    let (idp, _up, gw) = jwt_gateway("").await;
    assert_eq!(
        status(&gw, &sign("rsa1", "rsa-key-1", &claims("alice")))
            .await
            .0,
        200
    );
    // The provider rotates: rsa2 is the new signing key, rsa1 is withdrawn.
    idp.set_jwks(vec![jwk("rsa2")]);
    assert_eq!(
        status(&gw, &sign("rsa2", "rsa-key-2", &claims("bob")))
            .await
            .0,
        200
    );
    assert_eq!(idp.jwks_calls(), 2);
}

#[tokio::test]
async fn jwks_failure_is_503_never_a_pass() {
    let (idp, up, gw) = jwt_gateway("").await;
    idp.set_mode(Mode::Status(500));
    let res = gw
        .bearer(
            "/rest/api/2/myself",
            &sign("rsa1", "rsa-key-1", &claims("alice")),
        )
        .await;
    assert_eq!(res.status, 503);
    assert_eq!(res.header("retry-after"), Some("5"));
    idp.set_mode(Mode::Garbage);
    let res = gw
        .bearer(
            "/rest/api/2/myself",
            &sign("rsa1", "rsa-key-1", &claims("bob")),
        )
        .await;
    assert_eq!(res.status, 503);
    assert_eq!(up.count(), 0);
}

#[tokio::test]
async fn algorithm_allow_list_can_be_narrowed() {
    let (_idp, _up, gw) = jwt_gateway("algorithms = [\"RS256\"]").await;
    assert_eq!(
        status(&gw, &sign("rsa1", "rsa-key-1", &claims("alice")))
            .await
            .0,
        200
    );
    assert_eq!(
        status(&gw, &sign("ec1", "ec-key-1", &claims("bob")))
            .await
            .0,
        401
    );
}

#[tokio::test]
async fn jwts_go_to_the_provider_of_their_issuer() {
    // An introspection provider first in order must not see the JWT: it is routed by iss.
    let idp = FakeIdp::start().await;
    let up = RecordingUpstream::start().await;
    idp.set_jwks(vec![jwk("rsa1")]);
    let toml = format!(
        r#"
{}
[providers.zjwt]
kind = "custom"
validation = "jwt"
issuer = "{ISS}"
jwks_uri = "{}"
audience = "{AUD}"
username_attribute = "preferred_username"
"#,
        config(&idp, &up, ""),
        idp.url("/jwks")
    );
    let gw = TestGateway::start(&toml).await;
    assert_eq!(
        status(&gw, &sign("rsa1", "rsa-key-1", &claims("alice")))
            .await
            .0,
        200
    );
    assert_eq!(idp.calls(), 0, "the introspection provider was not asked");
    // An opaque token still goes through auth.providers (introspection).
    idp.add_user("opaque-1", "carol");
    assert_eq!(status(&gw, "opaque-1").await.0, 200);
    assert_eq!(idp.calls(), 1);
}

#[test]
fn symmetric_and_unknown_algorithms_are_config_errors() {
    for (alg, want) in [("HS256", "symmetric"), ("none", "is not one of")] {
        let text = format!(
            "[upstream]\nurl = \"http://127.0.0.1:1\"\n[providers.j]\nkind = \"custom\"\nvalidation = \"jwt\"\n\
             issuer = \"https://i\"\njwks_uri = \"https://i/k\"\naudience = \"a\"\nalgorithms = [\"{alg}\"]\n"
        );
        let err = restgate::config::parse(&text, std::path::Path::new("t.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("providers.j.algorithms[0]") && err.contains(want),
            "{alg}: {err}"
        );
    }
    let text = "[upstream]\nurl = \"http://127.0.0.1:1\"\n[providers.j]\nkind = \"custom\"\nvalidation = \"jwt\"\nissuer = \"https://i\"\njwks_uri = \"https://i/k\"\n";
    let err = restgate::config::parse(text, std::path::Path::new("t.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("providers.j.audience: missing"), "{err}");
}

#[tokio::test]
async fn routes_can_require_a_provider_and_an_audience() {
    let idp = FakeIdp::start().await;
    let up = RecordingUpstream::start().await;
    idp.set_jwks(vec![jwk("rsa1")]);
    let toml = format!(
        r#"
{}
[providers.zjwt]
kind = "custom"
validation = "jwt"
issuer = "{ISS}"
jwks_uri = "{}"
audience = ["{AUD}", "api://admin"]
username_attribute = "preferred_username"

[[route]]
path = "/rest/api/2/user"
allow_providers = ["idp"]

[[route]]
path = "/rest/api/2/admin"
require_audience = ["api://admin"]
"#,
        config(&idp, &up, ""),
        idp.url("/jwks")
    );
    let gw = TestGateway::start(&toml).await;
    idp.add_user("opaque-bob", "bob");
    let jwt = sign("rsa1", "rsa-key-1", &claims("alice"));
    let admin_jwt = sign(
        "rsa1",
        "rsa-key-1",
        &with(claims("carol"), "aud", json!("api://admin")),
    );
    // /user: only tokens of the introspection provider.
    assert_eq!(
        gw.bearer("/rest/api/2/user/x", "opaque-bob").await.status,
        200
    );
    let res = gw.bearer("/rest/api/2/user/x", &jwt).await;
    assert_eq!((res.status, res.error().as_str()), (403, "forbidden"));
    // /admin: only tokens for the admin audience.
    assert_eq!(gw.bearer("/rest/api/2/admin/x", &jwt).await.status, 403);
    assert_eq!(
        gw.bearer("/rest/api/2/admin/x", &admin_jwt).await.status,
        200
    );
    assert_eq!(
        up.last().header("x-forwarded-user").as_deref(),
        Some("carol")
    );
}
