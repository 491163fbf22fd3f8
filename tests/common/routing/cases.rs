//! The cases: per kind a user, a client-credentials token where the kind
//! has them, and a refused token; then tokens nobody claims.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

use super::{
    API_GUID, B2C_AUD, B2C_ISS, COGNITO_ISS, CUSTOM_ISS, Case, GITLAB_APP, GOOGLE_CLIENT, OIDC_AUD,
    SLACK_TEAM, STRANGER_ISS, Shape, TID,
};
use crate::common::client::{CLIENT_ID, now};
use crate::common::keys::sign;
use crate::common::zoo::Zoo;

static NEXT: AtomicU64 = AtomicU64::new(1);

/// A token string never used before in this process (restgate caches verdicts).
pub fn fresh(stem: &str) -> String {
    format!("{stem}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// `base` with `extra` merged in; a `null` in `extra` removes the claim.
fn claims(base: Value, extra: Value) -> Value {
    let mut c = base;
    for (k, v) in extra.as_object().unwrap() {
        match v {
            Value::Null => {
                c.as_object_mut().unwrap().remove(k);
            }
            v => c[k] = v.clone(),
        }
    }
    c
}

pub struct Cases<'a> {
    zoos: &'a BTreeMap<&'static str, Zoo>,
    /// Whose cases are being added: the provider that may accept them.
    owner: &'static str,
    pub list: Vec<Case>,
}

impl<'a> Cases<'a> {
    pub fn new(zoos: &'a BTreeMap<&'static str, Zoo>) -> Self {
        Cases {
            zoos,
            owner: "",
            list: Vec::new(),
        }
    }

    /// The cases that follow are `owner`'s; its zoo.
    fn of(&mut self, owner: &'static str) -> &'a Zoo {
        self.owner = owner;
        &self.zoos[owner]
    }

    /// Adds a case labelled "owner: what", accepted as `user` if given.
    fn push(&mut self, what: &str, token: String, shape: Shape, user: Option<&str>) -> String {
        self.list.push(Case {
            label: format!("{}: {what}", self.owner),
            token: token.clone(),
            shape,
            accepted_by: user.map(|u| (self.owner, u.to_owned())),
        });
        token
    }

    /// A signed JWT of these claims, with a fresh `jti`.
    fn jwt(&mut self, what: &str, user: Option<&str>, claims: Value) -> String {
        let mut c = claims;
        c["jti"] = json!(fresh("jti"));
        let iss = c["iss"].as_str().expect("a JWT names its iss").to_owned();
        let token = sign("rsa1", "rsa-key-1", &c);
        self.push(what, token, Shape::Jwt { iss }, user)
    }

    fn opaque(&mut self, what: &str, user: Option<&str>) -> String {
        let slug: String = format!("{}-{what}", self.owner)
            .chars()
            .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '-' })
            .collect();
        self.push(what, fresh(&slug), Shape::Opaque, user)
    }

    /// A token starting with `prefix`, one of the owner's.
    fn prefixed(&mut self, prefix: &str, what: &str, user: Option<&str>) -> String {
        let token = fresh(&format!("{prefix}{}", self.list.len()));
        self.push(what, token, Shape::Prefixed(self.owner), user)
    }
}

pub fn all_cases(zoos: &BTreeMap<&'static str, Zoo>) -> Vec<Case> {
    let mut c = Cases::new(zoos);
    for add in [
        azure_ad, azure_b2c, keycloak, okta, cognito, google, github, gitlab, slack, facebook,
        oidc, custom, strangers,
    ] {
        add(&mut c);
    }
    c.list
}

fn azure_ad(c: &mut Cases) {
    c.of("azure-ad");
    let v2 = format!("https://login.microsoftonline.com/{TID}/v2.0");
    let v1 = format!("https://sts.windows.net/{TID}/");
    let t = |iss: &str, extra: Value| {
        let base = json!({"iss": iss, "aud": API_GUID, "tid": TID, "iat": now(), "nbf": now(),
            "exp": now() + 3600, "azp": "aad-spa", "scp": "access_as_user", "sub": "pairwise"});
        claims(base, extra)
    };
    let user = t(&v2, json!({"preferred_username": "aad-alice"}));
    c.jwt("v2 user", Some("aad-alice"), user);
    let v1_user = t(&v1, json!({"upn": "aad-bob", "ver": "1.0"}));
    c.jwt("v1 user", Some("aad-bob"), v1_user);
    let app = t(
        &v2,
        json!({"idtyp": "app", "scp": null, "azp": "aad-daemon"}),
    );
    c.jwt("app-only token", Some("svc-aad-daemon"), app);
    let other_api = t(&v2, json!({"aud": "api://another", "name": "Eve"}));
    c.jwt("token for another API", None, other_api);
}

pub fn azure_b2c(c: &mut Cases) {
    c.of("azure-b2c");
    let t = |extra: Value| {
        let base = json!({"iss": B2C_ISS, "aud": B2C_AUD, "exp": now() + 600, "nbf": now(),
            "sub": "oid-1", "tfp": "B2C_1_signin", "scp": "read", "azp": "b2c-spa"});
        claims(base, extra)
    };
    let user = t(json!({"emails": ["b2c-alice@corp.example"], "name": "Alice"}));
    c.jwt("user", Some("b2c-alice@corp.example"), user);
    let daemon = t(json!({"azp": "b2c-daemon", "sub": "daemon-sp"}));
    c.jwt("listed daemon client", Some("svc-b2c-daemon"), daemon);
    let other_api = t(json!({"aud": "another-api", "emails": ["eve@corp.example"]}));
    c.jwt("token for another API", None, other_api);
}

fn keycloak(c: &mut Cases) {
    let kc = c.of("keycloak");
    let iss = kc.url("/realms/corp");
    let exp = now() + 600;
    let jwt = json!({"iss": iss, "sub": "kc-sub", "azp": "cli-app", "exp": exp});
    let user = c.jwt("user (a JWT, introspected)", Some("kc-alice"), jwt);
    let answer = json!({"iss": iss, "username": "kc-alice", "azp": "cli-app", "exp": exp});
    kc.introspects(&user, answer);
    let cc = c.opaque("service account", Some("svc-kc-ci"));
    let answer = json!({"username": "service-account-ci-runner", "azp": "ci-runner", "exp": exp});
    kc.introspects(&cc, answer);
    let revoked = json!({"iss": iss, "sub": "kc-mallory", "exp": exp});
    c.jwt("revoked JWT", None, revoked);
}

fn okta(c: &mut Cases) {
    let okta = c.of("okta");
    let iss = okta.url("/oauth2/default");
    let exp = now() + 600;
    let jwt = json!({"iss": iss, "sub": "okta-alice", "cid": "0oa-cli", "exp": exp});
    let user = c.jwt("user (a JWT, introspected)", Some("okta-alice"), jwt);
    let answer = json!({"iss": iss, "username": "okta-alice", "uid": "00u-alice",
        "client_id": "0oa-cli", "sub": "okta-alice", "exp": exp});
    okta.introspects(&user, answer);
    let cc = c.opaque("client credentials", Some("svc-okta-ci"));
    let answer = json!({"client_id": "0oa-ci", "sub": "0oa-ci", "scope": "batch", "exp": exp});
    okta.introspects(&cc, answer);
    let revoked = json!({"iss": iss, "sub": "okta-mallory", "exp": exp});
    c.jwt("revoked JWT", None, revoked);
}

fn cognito(c: &mut Cases) {
    c.of("cognito");
    let t = |extra: Value| {
        let base = json!({"iss": COGNITO_ISS, "token_use": "access", "client_id": "app-one",
            "sub": "5a3f9c0e", "scope": "openid", "exp": now() + 600, "iat": now()});
        claims(base, extra)
    };
    let user = t(json!({"username": "cog-alice"}));
    c.jwt("user", Some("cog-alice"), user);
    let m2m = t(json!({"sub": "app-one"}));
    c.jwt("machine-to-machine", Some("svc-cognito"), m2m);
    let id_token = t(json!({"token_use": "id", "username": "cog-eve"}));
    c.jwt("ID token", None, id_token);
}

fn google(c: &mut Cases) {
    let g = c.of("google");
    let alice = "g-alice@corp.example";
    let user = c.opaque("user", Some(alice));
    g.google_token(&user, GOOGLE_CLIENT, alice);
    let robot = c.opaque("service account", Some("svc-google"));
    g.google_token(&robot, GOOGLE_CLIENT, "robot@proj.iam.gserviceaccount.com");
    let other = c.opaque("token of another client", None);
    g.google_token(&other, "999-evil.apps.googleusercontent.com", alice);
}

fn github(c: &mut Cases) {
    let gh = c.of("github");
    let user = c.prefixed("gho_", "OAuth app user", Some("gh-alice"));
    gh.github_token(&user, CLIENT_ID, "gh-alice");
    let app_user = c.prefixed("ghu_", "GitHub App user", Some("gh-bob"));
    gh.github_token(&app_user, CLIENT_ID, "gh-bob");
    c.prefixed("gho_", "revoked token", None);
    // GitHub would vouch for it, but `ghs_` is none of github's prefixes.
    let what = "token it knows, without its prefix";
    let unprefixed = c.push(what, fresh("ghs_installation"), Shape::Opaque, None);
    gh.github_token(&unprefixed, CLIENT_ID, "gh-installation");
}

fn gitlab(c: &mut Cases) {
    let gl = c.of("gitlab");
    let user = c.opaque("user", Some("gl-alice"));
    gl.gitlab_token(&user, GITLAB_APP, "gl-alice");
    let jwt = json!({"iss": gl.url(""), "sub": "7", "aud": GITLAB_APP, "exp": now() + 600});
    let jwt = c.jwt("JWT (vendor-checked)", Some("gl-bob"), jwt);
    gl.gitlab_token(&jwt, GITLAB_APP, "gl-bob");
    let other = c.opaque("token of another application", None);
    gl.gitlab_token(&other, "someone-elses-app", "gl-eve");
}

fn slack(c: &mut Cases) {
    let sl = c.of("slack");
    let user = c.prefixed("xoxp-", "user", Some("sl-alice"));
    sl.slack_token(&user, SLACK_TEAM, "sl-alice", false);
    let bot = c.prefixed("xoxb-", "bot", Some("svc-slack"));
    sl.slack_token(&bot, SLACK_TEAM, "deploybot", true);
    c.prefixed("xoxp-", "revoked token", None);
}

fn facebook(c: &mut Cases) {
    let fb = c.of("facebook");
    let alice = "fb-alice@corp.example";
    let user = c.opaque("user", Some(alice));
    fb.facebook_token(&user, CLIENT_ID, "USER", Some(alice));
    let app = c.opaque("app token", Some("svc-facebook"));
    fb.facebook_token(&app, CLIENT_ID, "APP", None);
    let other = c.opaque("token of another app", None);
    fb.facebook_token(&other, "5555555555", "USER", Some(alice));
}

fn oidc(c: &mut Cases) {
    let zoo = c.of("oidc");
    let iss = zoo.url("/oidc");
    let t = |extra: Value| {
        let base = json!({"iss": iss, "aud": OIDC_AUD, "sub": "oidc-alice", "exp": now() + 600});
        claims(base, extra)
    };
    let user = t(json!({"preferred_username": "oidc-alice"}));
    c.jwt("user (a JWT, local)", Some("oidc-alice"), user);
    let cc = c.opaque("client credentials", Some("svc-oidc-ci"));
    zoo.introspects(&cc, json!({"client_id": "oidc-ci", "sub": "oidc-ci"}));
    let other_api = t(json!({"aud": "api://another", "preferred_username": "oidc-eve"}));
    c.jwt("token for another API", None, other_api);
}

fn custom(c: &mut Cases) {
    let cu = c.of("custom");
    let user = c.opaque("user", Some("cu-alice"));
    let answer = json!({"username": "cu-alice", "client_id": "cu-cli", "sub": "sub-cu-alice"});
    cu.introspects(&user, answer);
    let cc = c.opaque("client credentials", Some("svc-cu-ci"));
    cu.introspects(&cc, json!({"client_id": "cu-ci", "sub": "cu-ci"}));
    let jwt = json!({"iss": CUSTOM_ISS, "sub": "carol", "exp": now() + 600});
    let jwt = c.jwt("JWT of its issuer", Some("cu-carol"), jwt);
    cu.introspects(&jwt, json!({"username": "cu-carol", "sub": "carol"}));
    let revoked = json!({"iss": CUSTOM_ISS, "sub": "mallory", "exp": now() + 600});
    c.jwt("revoked JWT of its issuer", None, revoked);
    // No configured issuer claims this one; only `custom` vouches for it.
    let jwt = json!({"iss": STRANGER_ISS, "sub": "dave", "exp": now() + 600});
    let jwt = c.jwt("JWT of an unknown issuer", Some("cu-dave"), jwt);
    cu.introspects(&jwt, json!({"username": "cu-dave", "sub": "dave"}));
}

/// Tokens no provider vouches for, of no configured issuer or prefix.
fn strangers(c: &mut Cases) {
    c.owner = "nobody";
    let jwt = json!({"iss": STRANGER_ISS, "sub": "erin", "exp": now() + 600});
    c.jwt("JWT of an unknown issuer", None, jwt);
    c.opaque("opaque token", None);
}
