//! Several providers at once (SPEC §3 "Several providers — each token goes to
//! its own provider, and to no other"). All twelve kinds are configured in one
//! gateway, each against its own zoo (tests/common/zoo.rs), so every call is
//! attributable. Each case asserts the answer restgate gives, the user the
//! upstream saw, and exactly which providers received the token.
//!
//! [`World::expect`] states the routing contract once and derives each case's
//! expected outcome from it, for every world (all up, one provider down, other
//! listings); the focused tests spell out a few outcomes literally.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};

use common::zoo::{Endpoint, Fault, Zoo};
use common::*;
use serde_json::{Value, json};

/// Every kind, configured under its own name, listed in `auth.providers` in
/// this order unless a test says otherwise.
const ORDER: [&str; 12] = [
    "azure-ad",
    "azure-b2c",
    "keycloak",
    "okta",
    "cognito",
    "google",
    "github",
    "gitlab",
    "slack",
    "facebook",
    "oidc",
    "custom",
];

/// The providers that may be asked about an opaque token without a prefix:
/// introspection, vendor checks, and `oidc` (its document lists
/// introspection). Never azure-ad, azure-b2c or cognito (JWTs only), nor
/// github or slack (only tokens with their prefixes).
const OPAQUE_CAPABLE: [&str; 7] = [
    "keycloak", "okta", "google", "gitlab", "facebook", "oidc", "custom",
];

/// Whether a provider verifies this token itself (against its JWKS), so the
/// token never reaches its zoo; key and discovery fetches carry no token.
fn checks_locally(provider: &str, jwt: bool) -> bool {
    matches!(provider, "azure-ad" | "azure-b2c" | "cognito") || (provider == "oidc" && jwt)
}

const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const API_GUID: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
const B2C_ISS: &str = "https://contoso.b2clogin.com/3b1e6a0c-9d0e-4c55-8f7a-2a1f5c6d7e8f/v2.0/";
const B2C_AUD: &str = "b2c-api";
const COGNITO_ISS: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Zoo";
const GOOGLE_CLIENT: &str = "111-web.apps.googleusercontent.com";
const GITLAB_APP: &str = "gitlab-app-uid";
const SLACK_TEAM: &str = "T0CORP";
const OIDC_AUD: &str = "api://restgate";
/// The issuer `custom` states where a test gives it one.
const CUSTOM_ISS: &str = "https://custom.example/issuer";
/// An issuer no provider states.
const STRANGER_ISS: &str = "https://stranger.example/issuer";

// === Outcomes ===

/// What restgate answered, and who received the token.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    status: u16,
    error: String,
    /// The identity header the upstream saw.
    user: Option<String>,
    receivers: BTreeSet<&'static str>,
}

fn accepted(user: &str, receivers: &[&'static str]) -> Outcome {
    let user = Some(user.to_owned());
    let receivers = receivers.iter().copied().collect();
    Outcome {
        status: 200,
        error: String::new(),
        user,
        receivers,
    }
}

fn refused(receivers: &[&'static str]) -> Outcome {
    let receivers = receivers.iter().copied().collect();
    let error = "invalid_token".into();
    Outcome {
        status: 401,
        error,
        user: None,
        receivers,
    }
}

fn unavailable(receivers: &[&'static str]) -> Outcome {
    let error = "temporarily_unavailable".into();
    Outcome {
        status: 503,
        error,
        ..refused(receivers)
    }
}

/// Sends `token` and looks at what the upstream and the zoos saw.
async fn observe<'z>(
    gw: &TestGateway,
    up: &RecordingUpstream,
    zoos: impl IntoIterator<Item = &'z Zoo>,
    token: &str,
) -> Outcome {
    let res = gw.bearer("/rest/api/2/myself", token).await;
    let user = match res.status {
        200 => up.last().header("x-forwarded-user"),
        _ => None,
    };
    let error = serde_json::from_slice::<Value>(&res.body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let receivers = zoos.into_iter().filter(|z| z.received(token));
    Outcome {
        status: res.status,
        error,
        user,
        receivers: receivers.map(|z| z.name).collect(),
    }
}

/// A gateway over these `[providers.NAME]` tables, `listed` in `auth.providers`.
async fn gateway(tables: &[(&str, String)], listed: &[&str]) -> (TestGateway, RecordingUpstream) {
    let up = RecordingUpstream::start().await;
    let listed: Vec<String> = listed.iter().map(|p| format!("{p:?}")).collect();
    let mut toml = format!(
        "[upstream]\nurl = \"http://{}\"\n[auth]\nproviders = [{}]\n",
        up.addr,
        listed.join(", ")
    );
    for (name, table) in tables {
        toml.push_str(&format!("[providers.{name}]\n{table}\n"));
    }
    (TestGateway::start(&toml).await, up)
}

/// The `[providers.NAME]` table of a kind, every URL on its zoo.
fn provider_table(name: &str, zoo: &Zoo, custom_issuer: bool) -> String {
    let u = zoo.url("");
    let client = format!("client_id = \"{CLIENT_ID}\"\nclient_secret_file = \"{{secret_file}}\"");
    match name {
        "azure-ad" => format!(
            r#"kind = "azure-ad"
tenant = "{TID}"
audience = "{API_GUID}"
jwks_uri = "{u}/{TID}/discovery/v2.0/keys"
token_endpoint = "{u}/{TID}/oauth2/v2.0/token"
client_accounts = {{ "aad-daemon" = "svc-aad-daemon" }}"#
        ),
        "azure-b2c" => format!(
            r#"kind = "azure-b2c"
tenant = "contoso"
policy = "B2C_1_signin"
audience = "{B2C_AUD}"
issuer = "{B2C_ISS}"
jwks_uri = "{u}/contoso.onmicrosoft.com/B2C_1_signin/discovery/v2.0/keys"
discovery_url = "{u}/contoso.onmicrosoft.com/B2C_1_signin/v2.0/.well-known/openid-configuration"
client_accounts = {{ "b2c-daemon" = "svc-b2c-daemon" }}"#
        ),
        "keycloak" => format!(
            "kind = \"keycloak\"\nissuer = \"{u}/realms/corp\"\n{client}\nclient_accounts = {{ \"ci-runner\" = \"svc-kc-ci\" }}"
        ),
        "okta" => format!(
            "kind = \"okta\"\nissuer = \"{u}/oauth2/default\"\n{client}\nclient_accounts = {{ \"0oa-ci\" = \"svc-okta-ci\" }}"
        ),
        "cognito" => format!(
            "kind = \"cognito\"\nissuer = \"{COGNITO_ISS}\"\njwks_uri = \"{u}/eu-west-1_Zoo/.well-known/jwks.json\"\nclient_id = [\"app-one\"]\nservice_account = \"svc-cognito\""
        ),
        "google" => format!(
            "kind = \"google\"\nclient_id = \"{GOOGLE_CLIENT}\"\ntokeninfo_endpoint = \"{u}/tokeninfo\"\nuserinfo_endpoint = \"{u}/v1/userinfo\"\nservice_account = \"svc-google\""
        ),
        "github" => format!("kind = \"github\"\n{client}\napi_url = \"{u}\""),
        "gitlab" => format!("kind = \"gitlab\"\nclient_id = \"{GITLAB_APP}\"\nissuer = \"{u}\""),
        "slack" => format!(
            "kind = \"slack\"\nteam_id = \"{SLACK_TEAM}\"\napi_url = \"{u}\"\nservice_account = \"svc-slack\""
        ),
        "facebook" => format!(
            "kind = \"facebook\"\n{client}\napi_url = \"{u}\"\nservice_account = \"svc-facebook\""
        ),
        "oidc" => format!(
            "kind = \"oidc\"\nissuer = \"{u}/oidc\"\naudience = \"{OIDC_AUD}\"\n{client}\nclient_accounts = {{ \"oidc-ci\" = \"svc-oidc-ci\" }}"
        ),
        "custom" => {
            let issuer = if custom_issuer {
                format!("issuer = \"{CUSTOM_ISS}\"\n")
            } else {
                String::new()
            };
            format!(
                "kind = \"custom\"\nvalidation = \"introspection\"\n{issuer}introspection_endpoint = \"{u}/introspect\"\n{client}\nusername_attribute = \"username\"\nclient_accounts = {{ \"cu-ci\" = \"svc-cu-ci\" }}"
            )
        }
        other => panic!("no table for {other}"),
    }
}

// === The world: twelve zoos, one gateway, the cases, the contract ===

struct Setup {
    /// The one provider that is down, and how.
    broken: Option<(&'static str, Fault)>,
    /// `auth.providers`.
    listed: Vec<&'static str>,
    /// `custom` states `issuer = CUSTOM_ISS`; else its issuer is unknown.
    custom_issuer: bool,
}

impl Setup {
    fn all_up() -> Setup {
        Setup {
            broken: None,
            listed: ORDER.to_vec(),
            custom_issuer: false,
        }
    }

    fn broken(provider: &'static str, fault: Fault) -> Setup {
        Setup {
            broken: Some((provider, fault)),
            ..Setup::all_up()
        }
    }

    fn fault_of(&self, provider: &str) -> Option<Fault> {
        self.broken.filter(|(p, _)| *p == provider).map(|(_, f)| f)
    }
}

/// How a token looks to restgate.
enum Shape {
    Jwt {
        iss: String,
    },
    /// Starts with one of this provider's `token_prefixes`.
    Prefixed(&'static str),
    Opaque,
}

struct Case {
    label: String,
    token: String,
    shape: Shape,
    /// The provider that says active, and the user restgate maps it to.
    accepted_by: Option<(&'static str, String)>,
}

struct World {
    setup: Setup,
    zoos: BTreeMap<&'static str, Zoo>,
    up: RecordingUpstream,
    gw: TestGateway,
    cases: Vec<Case>,
}

impl World {
    async fn start(setup: Setup) -> World {
        let mut zoos = BTreeMap::new();
        for name in ORDER {
            zoos.insert(name, Zoo::start(name, setup.fault_of(name)).await);
        }
        zoos["oidc"].serve_discovery(&zoos["oidc"].url("/oidc"));
        zoos["azure-b2c"].serve_discovery(B2C_ISS);
        let cases = all_cases(&zoos);
        let tables: Vec<(&str, String)> = ORDER
            .iter()
            .map(|n| (*n, provider_table(n, &zoos[n], setup.custom_issuer)))
            .collect();
        let (gw, up) = gateway(&tables, &setup.listed).await;
        World {
            setup,
            zoos,
            up,
            gw,
            cases,
        }
    }

    /// Sends the case with this label.
    async fn send(&self, label: &str) -> Outcome {
        let case = self.cases.iter().find(|c| c.label == label);
        let case = case.unwrap_or_else(|| panic!("no case {label:?}"));
        observe(&self.gw, &self.up, self.zoos.values(), &case.token).await
    }

    /// The issuers tokens carry, by provider.
    fn issuers(&self) -> Vec<(&'static str, String)> {
        let z = |name: &str| self.zoos[name].url("");
        let mut v = vec![
            (
                "azure-ad",
                format!("https://login.microsoftonline.com/{TID}/v2.0"),
            ),
            ("azure-ad", format!("https://sts.windows.net/{TID}/")),
            ("azure-b2c", B2C_ISS.to_owned()),
            ("keycloak", format!("{}/realms/corp", z("keycloak"))),
            ("okta", format!("{}/oauth2/default", z("okta"))),
            ("cognito", COGNITO_ISS.to_owned()),
            ("gitlab", z("gitlab")),
            ("oidc", format!("{}/oidc", z("oidc"))),
        ];
        if self.setup.custom_issuer {
            v.push(("custom", CUSTOM_ISS.to_owned()));
        }
        v
    }

    /// The contract: the providers a token is given to, in order.
    fn asked(&self, shape: &Shape) -> Vec<&'static str> {
        let listed = self.setup.listed.iter().copied();
        match shape {
            Shape::Prefixed(p) => vec![*p],
            Shape::Jwt { iss } => match self.issuers().into_iter().find(|(_, i)| i == iss) {
                Some((p, _)) => vec![p],
                // Only listed providers whose issuer is unknown: `custom` without one.
                None => listed
                    .filter(|p| *p == "custom" && !self.setup.custom_issuer)
                    .collect(),
            },
            Shape::Opaque => listed.filter(|p| OPAQUE_CAPABLE.contains(p)).collect(),
        }
    }

    /// The contract: asked in order until one says active; a provider that
    /// could not answer makes "nobody said active" a 503. A zoo that is down
    /// or whose metadata is broken never sees the token; one refusing
    /// restgate's credentials does.
    fn expect(&self, case: &Case) -> Outcome {
        let jwt = matches!(case.shape, Shape::Jwt { .. });
        let mut receivers = Vec::new();
        let mut failed = false;
        for p in self.asked(&case.shape) {
            let fault = self.setup.fault_of(p);
            if !checks_locally(p, jwt) && matches!(fault, None | Some(Fault::RefuseClient)) {
                receivers.push(p);
            }
            if fault.is_some() {
                failed = true;
                continue;
            }
            if let Some((_, user)) = case.accepted_by.as_ref().filter(|(by, _)| *by == p) {
                return accepted(user, &receivers);
            }
        }
        if failed {
            unavailable(&receivers)
        } else {
            refused(&receivers)
        }
    }

    /// Sends every case and fails with every one that broke the contract.
    async fn assert_contract(&self, scenario: &str) {
        let mut wrong = Vec::new();
        for case in &self.cases {
            let want = self.expect(case);
            let got = observe(&self.gw, &self.up, self.zoos.values(), &case.token).await;
            if got != want {
                let label = &case.label;
                wrong.push(format!("  {label}:\n    got  {got:?}\n    want {want:?}"));
            }
        }
        assert!(
            wrong.is_empty(),
            "{scenario}: {} of {} cases broke the routing contract:\n{}",
            wrong.len(),
            self.cases.len(),
            wrong.join("\n")
        );
    }
}

// === The cases: per kind a user, a client-credentials token where the kind
// has them, and a refused token; then tokens nobody claims ===

static NEXT: AtomicU64 = AtomicU64::new(1);

/// A token string never used before in this process (restgate caches verdicts).
fn fresh(stem: &str) -> String {
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

struct Cases<'a> {
    zoos: &'a BTreeMap<&'static str, Zoo>,
    /// Whose cases are being added: the provider that may accept them.
    owner: &'static str,
    list: Vec<Case>,
}

impl<'a> Cases<'a> {
    fn new(zoos: &'a BTreeMap<&'static str, Zoo>) -> Self {
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

fn all_cases(zoos: &BTreeMap<&'static str, Zoo>) -> Vec<Case> {
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

fn azure_b2c(c: &mut Cases) {
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
