//! Several providers at once (SPEC §3 "Several providers — each token goes to
//! its own provider, and to no other"). All twelve kinds are configured in one
//! gateway, each against its own zoo (tests/common/zoo.rs), so every call is
//! attributable. Each case asserts the answer restgate gives, the user the
//! upstream saw, and exactly which providers received the token.
//!
//! [`World::expect`] states the routing contract once and derives each case's
//! expected outcome from it, for every world (all up, one provider down, other
//! listings); the focused tests spell out a few outcomes literally.

mod common {
    pub mod client;
    pub mod gateway;
    pub mod keys;
    pub mod routing;
    pub mod upstream;
    pub mod zoo;
}

use std::collections::{BTreeMap, BTreeSet};

use common::client::{CLIENT_ID, now};
use common::keys::sign;
use common::routing::*;
use common::zoo::{Endpoint, Fault, Zoo};
use serde_json::json;

// === All providers up ===

#[tokio::test]
async fn every_token_reaches_exactly_the_providers_that_may_have_issued_it() {
    let w = World::start(Setup::all_up()).await;
    for p in ORDER {
        let accepts = |c: &Case| c.accepted_by.as_ref().is_some_and(|(by, _)| *by == p);
        assert!(w.cases.iter().any(accepts), "no token of {p} is accepted");
    }
    w.assert_contract("all providers up").await;
}

#[tokio::test]
async fn an_opaque_token_is_tried_in_auth_providers_order_until_one_says_active() {
    let w = World::start(Setup::all_up()).await;
    let google = accepted("g-alice@corp.example", &["keycloak", "okta", "google"]);
    assert_eq!(w.send("google: user").await, google);
    let up_to_facebook = ["keycloak", "okta", "google", "gitlab", "facebook"];
    let facebook = accepted("svc-facebook", &up_to_facebook);
    assert_eq!(w.send("facebook: app token").await, facebook);
    // A refusal is not final for an opaque token: the rest are asked.
    let other_client = w.send("google: token of another client").await;
    assert_eq!(other_client, refused(&OPAQUE_CAPABLE));
    assert_eq!(
        w.send("nobody: opaque token").await,
        refused(&OPAQUE_CAPABLE),
        "never azure-ad, azure-b2c, cognito, nor github or slack (their prefixes only)"
    );
}

#[tokio::test]
async fn a_jwt_goes_only_to_the_provider_of_its_issuer_whatever_its_validation() {
    let w = World::start(Setup::all_up()).await;
    let cases = [
        (
            "keycloak: user (a JWT, introspected)",
            "kc-alice",
            "keycloak",
        ),
        ("okta: user (a JWT, introspected)", "okta-alice", "okta"),
        ("gitlab: JWT (vendor-checked)", "gl-bob", "gitlab"),
    ];
    for (label, user, provider) in cases {
        assert_eq!(w.send(label).await, accepted(user, &[provider]), "{label}");
    }
    // Verified locally: no provider receives it.
    assert_eq!(w.send("azure-ad: v1 user").await, accepted("aad-bob", &[]));
    let oidc = w.send("oidc: user (a JWT, local)").await;
    assert_eq!(oidc, accepted("oidc-alice", &[]));
    // The issuer's refusal is final: nobody else is asked.
    let revoked = w.send("keycloak: revoked JWT").await;
    assert_eq!(revoked, refused(&["keycloak"]));
}

#[tokio::test]
async fn a_prefixed_token_goes_only_to_its_vendor_and_its_refusal_is_final() {
    let w = World::start(Setup::all_up()).await;
    let user = w.send("github: OAuth app user").await;
    assert_eq!(user, accepted("gh-alice", &["github"]));
    let revoked = w.send("slack: revoked token").await;
    assert_eq!(revoked, refused(&["slack"]));
    let unprefixed = w.send("github: token it knows, without its prefix").await;
    assert_eq!(unprefixed, refused(&OPAQUE_CAPABLE), "github never sees it");
}

#[tokio::test]
async fn a_jwt_of_an_unknown_issuer_goes_only_to_listed_providers_without_an_issuer() {
    let w = World::start(Setup::all_up()).await;
    let vouched = w.send("custom: JWT of an unknown issuer").await;
    assert_eq!(vouched, accepted("cu-dave", &["custom"]));
    let unknown = w.send("nobody: JWT of an unknown issuer").await;
    assert_eq!(unknown, refused(&["custom"]));
}

#[tokio::test]
async fn an_entra_multi_tenant_issuer_template_is_a_configured_issuer() {
    let aad = Zoo::start("azure-ad", None).await;
    let custom = Zoo::start("custom", None).await;
    let keys = aad.url("/organizations/discovery/v2.0/keys");
    let multi = format!(
        "kind = \"azure-ad\"\ntenant = \"organizations\"\naudience = \"{API_GUID}\"\njwks_uri = \"{keys}\""
    );
    let tables = [
        ("azure-ad", multi),
        ("custom", provider_table("custom", &custom, false)),
    ];
    let (gw, up) = gateway(&tables, &["azure-ad", "custom"]).await;
    let guest_tid = "0a0b0c0d-1111-2222-3333-444444444444";
    let iss = format!("https://login.microsoftonline.com/{guest_tid}/v2.0");
    let claims = json!({"iss": iss, "tid": guest_tid, "aud": API_GUID, "exp": now() + 600,
        "nbf": now(), "scp": "read", "azp": "spa", "preferred_username": "guest-alice"});
    let token = sign("rsa1", "rsa-key-1", &claims);
    let got = observe(&gw, &up, [&aad, &custom], &token).await;
    assert_eq!(
        got,
        accepted("guest-alice", &[]),
        "not a JWT of an unknown issuer"
    );
}

#[tokio::test]
async fn providers_that_check_only_jwts_are_never_asked_about_an_opaque_token() {
    // Both JWT-only providers are unreachable: asking either would make a
    // refused opaque token 503.
    let names = ["oidc-jwt", "custom-jwt", "oidc-userinfo", "custom"];
    let mut zoos = Vec::new();
    for (i, name) in names.into_iter().enumerate() {
        let fault = (i < 2).then_some(Fault::Unreachable);
        let zoo = Zoo::start(name, fault).await;
        zoo.serve_discovery(&zoo.url("/oidc"));
        zoos.push(zoo);
    }
    let u = |i: usize| zoos[i].url("");
    let client = format!("client_id = \"{CLIENT_ID}\"\nclient_secret_file = \"{{secret_file}}\"");
    let oidc =
        |u: String| format!("kind = \"oidc\"\nissuer = \"{u}/oidc\"\naudience = \"{OIDC_AUD}\"");
    let custom_jwt = format!(
        "kind = \"custom\"\nvalidation = \"jwt\"\nissuer = \"https://jwt.example\"\njwks_uri = \"{}/jwks\"\naudience = \"{OIDC_AUD}\"",
        u(1)
    );
    let tables = [
        // Forced to JWTs, though its document lists introspection.
        (
            "oidc-jwt",
            format!("{}\nvalidation = \"jwt\"\n{client}", oidc(u(0))),
        ),
        ("custom-jwt", custom_jwt),
        // No client credentials: its opaque tokens go to userinfo.
        ("oidc-userinfo", oidc(u(2))),
        ("custom", provider_table("custom", &zoos[3], false)),
    ];
    let (gw, up) = gateway(&tables, &names).await;
    let token = fresh("opaque-userinfo");
    let answer = json!({"sub": "yan", "preferred_username": "ui-yan"});
    zoos[2].introspects(&token, answer);
    let got = observe(&gw, &up, &zoos, &token).await;
    assert_eq!(got, accepted("ui-yan", &["oidc-userinfo"]));
    let token = fresh("opaque-custom");
    zoos[3].introspects(&token, json!({"username": "cu-zed", "sub": "zed"}));
    let got = observe(&gw, &up, &zoos, &token).await;
    assert_eq!(got, accepted("cu-zed", &["oidc-userinfo", "custom"]));
    let got = observe(&gw, &up, &zoos, &fresh("opaque-nobody")).await;
    assert_eq!(got, refused(&["oidc-userinfo", "custom"]));
}

// === One provider down ===

/// For each provider in turn broken this way: its own tokens get 503, every
/// other token the answer it gets with all up, except that an opaque token
/// nobody accepts gets 503 while an opaque-capable listed provider is down.
async fn one_down_at_a_time(fault: Fault, providers: &[&'static str]) {
    for &p in providers {
        let w = World::start(Setup::broken(p, fault)).await;
        w.assert_contract(&format!("{p} {fault:?}")).await;
    }
}

#[tokio::test]
async fn an_unreachable_provider_turns_only_its_own_tokens_into_503() {
    let providers = ["okta", "cognito", "google", "gitlab", "slack"];
    one_down_at_a_time(Fault::Unreachable, &providers).await;
}

#[tokio::test]
async fn broken_metadata_turns_only_that_providers_tokens_into_503() {
    one_down_at_a_time(Fault::BrokenMetadata, &["azure-ad", "azure-b2c", "oidc"]).await;
}

#[tokio::test]
async fn a_provider_refusing_restgates_credentials_gives_503_never_401() {
    let providers = ["keycloak", "github", "facebook", "custom"];
    one_down_at_a_time(Fault::RefuseClient, &providers).await;
}

#[tokio::test]
async fn while_an_opaque_capable_provider_is_down_refused_opaque_tokens_get_503() {
    let w = World::start(Setup::broken("okta", Fault::Unreachable)).await;
    let all_but_okta: Vec<_> = OPAQUE_CAPABLE
        .into_iter()
        .filter(|p| *p != "okta")
        .collect();
    assert_eq!(
        w.send("nobody: opaque token").await,
        unavailable(&all_but_okta)
    );
    // A valid token still passes when a provider earlier in the order is down.
    let google = w.send("google: user").await;
    assert_eq!(
        google,
        accepted("g-alice@corp.example", &["keycloak", "google"])
    );
    // A provider that is not asked (slack takes only its prefixes) never makes it 503.
    let w = World::start(Setup::broken("slack", Fault::Unreachable)).await;
    assert_eq!(
        w.send("nobody: opaque token").await,
        refused(&OPAQUE_CAPABLE)
    );
}

// === Other listings ===

#[tokio::test]
async fn routing_by_issuer_and_prefix_ignores_whether_the_provider_is_listed() {
    let setup = Setup {
        listed: vec!["custom"],
        ..Setup::all_up()
    };
    let w = World::start(setup).await;
    let keycloak = w.send("keycloak: user (a JWT, introspected)").await;
    assert_eq!(keycloak, accepted("kc-alice", &["keycloak"]));
    assert_eq!(
        w.send("slack: bot").await,
        accepted("svc-slack", &["slack"])
    );
    let google = w.send("google: user").await;
    assert_eq!(
        google,
        refused(&["custom"]),
        "opaque tokens: listed providers only"
    );
    w.assert_contract("only custom listed").await;
}

#[tokio::test]
async fn a_custom_introspection_provider_with_an_issuer_receives_only_jwts_of_that_issuer() {
    let setup = Setup {
        custom_issuer: true,
        listed: ORDER.into_iter().filter(|p| *p != "custom").collect(),
        ..Setup::all_up()
    };
    let w = World::start(setup).await;
    w.assert_contract("custom with an issuer, not listed").await;
    let of_its_issuer: BTreeSet<String> = w
        .cases
        .iter()
        .filter(|c| matches!(&c.shape, Shape::Jwt { iss } if iss == CUSTOM_ISS))
        .map(|c| c.token.clone())
        .collect();
    let calls = w.zoos["custom"].calls();
    let seen: BTreeSet<String> = calls.into_iter().flat_map(|c| c.tokens).collect();
    assert_eq!(
        seen, of_its_issuer,
        "not its opaque tokens, not other issuers' JWTs"
    );
}

#[tokio::test]
async fn a_jwt_of_an_unknown_issuer_is_refused_unasked_when_every_provider_states_its_issuer() {
    let setup = Setup {
        custom_issuer: true,
        ..Setup::all_up()
    };
    let w = World::start(setup).await;
    for label in [
        "custom: JWT of an unknown issuer",
        "nobody: JWT of an unknown issuer",
    ] {
        assert_eq!(w.send(label).await, refused(&[]), "{label}");
    }
    w.assert_contract("custom with an issuer, listed").await;
}

// === Only what a preset still needs ===

#[tokio::test]
async fn azure_b2c_with_explicit_issuer_and_jwks_uri_never_fetches_discovery() {
    let zoo = Zoo::start("azure-b2c", None).await;
    // A usable document, so that only the count can tell it was fetched.
    zoo.serve_discovery(B2C_ISS);
    let table = provider_table("azure-b2c", &zoo, false);
    let (gw, up) = gateway(&[("azure-b2c", table)], &["azure-b2c"]).await;
    let zoos = BTreeMap::from([("azure-b2c", zoo.clone())]);
    let mut cases = Cases::new(&zoos);
    azure_b2c(&mut cases);
    for case in &cases.list {
        let got = observe(&gw, &up, [&zoo], &case.token).await;
        let want = match &case.accepted_by {
            Some((_, user)) => accepted(user, &[]),
            None => refused(&[]),
        };
        assert_eq!(got, want, "{}", case.label);
    }
    assert!(
        zoo.calls_to(Endpoint::Jwks) >= 1,
        "the keys come from jwks_uri"
    );
    assert_eq!(
        zoo.calls_to(Endpoint::Discovery),
        0,
        "issuer and jwks_uri are given: nothing is left to discover"
    );
}

#[test]
fn the_world_configures_every_kind_of_the_kind_table() {
    let mut table: Vec<&str> = restgate::config::Config::provider_kinds()
        .iter()
        .map(|k| k.name)
        .collect();
    let mut world = ORDER.to_vec();
    table.sort_unstable();
    world.sort_unstable();
    assert_eq!(world, table);
}
