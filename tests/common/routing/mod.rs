//! The routing world of tests/routing.rs: all twelve kinds configured in one
//! gateway, each against its own zoo (tests/common/zoo.rs), so every call is
//! attributable; the cases (`cases.rs`); and the routing contract that
//! derives each case's expected outcome, for every world (all up, one
//! provider down, other listings).

mod cases;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use self::cases::all_cases;
pub use self::cases::{Cases, azure_b2c, fresh};
use super::client::CLIENT_ID;
use super::gateway::TestGateway;
use super::upstream::RecordingUpstream;
use super::zoo::{Fault, Zoo};

/// Every kind, configured under its own name, listed in `auth.providers` in
/// this order unless a test says otherwise.
pub const ORDER: [&str; 12] = [
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
pub const OPAQUE_CAPABLE: [&str; 7] = [
    "keycloak", "okta", "google", "gitlab", "facebook", "oidc", "custom",
];

/// Whether a provider verifies this token itself (against its JWKS), so the
/// token never reaches its zoo; key and discovery fetches carry no token.
fn checks_locally(provider: &str, jwt: bool) -> bool {
    matches!(provider, "azure-ad" | "azure-b2c" | "cognito") || (provider == "oidc" && jwt)
}

pub const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
pub const API_GUID: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
pub const B2C_ISS: &str = "https://contoso.b2clogin.com/3b1e6a0c-9d0e-4c55-8f7a-2a1f5c6d7e8f/v2.0/";
pub const B2C_AUD: &str = "b2c-api";
pub const COGNITO_ISS: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Zoo";
pub const GOOGLE_CLIENT: &str = "111-web.apps.googleusercontent.com";
pub const GITLAB_APP: &str = "gitlab-app-uid";
pub const SLACK_TEAM: &str = "T0CORP";
pub const OIDC_AUD: &str = "api://restgate";
/// The issuer `custom` states where a test gives it one.
pub const CUSTOM_ISS: &str = "https://custom.example/issuer";
/// An issuer no provider states.
pub const STRANGER_ISS: &str = "https://stranger.example/issuer";

// === Outcomes ===

/// What restgate answered, and who received the token.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    status: u16,
    error: String,
    /// The identity header the upstream saw.
    user: Option<String>,
    receivers: BTreeSet<&'static str>,
}

pub fn accepted(user: &str, receivers: &[&'static str]) -> Outcome {
    let user = Some(user.to_owned());
    let receivers = receivers.iter().copied().collect();
    Outcome {
        status: 200,
        error: String::new(),
        user,
        receivers,
    }
}

pub fn refused(receivers: &[&'static str]) -> Outcome {
    let receivers = receivers.iter().copied().collect();
    let error = "invalid_token".into();
    Outcome {
        status: 401,
        error,
        user: None,
        receivers,
    }
}

pub fn unavailable(receivers: &[&'static str]) -> Outcome {
    let error = "temporarily_unavailable".into();
    Outcome {
        status: 503,
        error,
        ..refused(receivers)
    }
}

/// Sends `token` and looks at what the upstream and the zoos saw.
pub async fn observe<'z>(
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
pub async fn gateway(
    tables: &[(&str, String)],
    listed: &[&str],
) -> (TestGateway, RecordingUpstream) {
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
pub fn provider_table(name: &str, zoo: &Zoo, custom_issuer: bool) -> String {
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

pub struct Setup {
    /// The one provider that is down, and how.
    pub broken: Option<(&'static str, Fault)>,
    /// `auth.providers`.
    pub listed: Vec<&'static str>,
    /// `custom` states `issuer = CUSTOM_ISS`; else its issuer is unknown.
    pub custom_issuer: bool,
}

impl Setup {
    pub fn all_up() -> Setup {
        Setup {
            broken: None,
            listed: ORDER.to_vec(),
            custom_issuer: false,
        }
    }

    pub fn broken(provider: &'static str, fault: Fault) -> Setup {
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
pub enum Shape {
    Jwt {
        iss: String,
    },
    /// Starts with one of this provider's `token_prefixes`.
    Prefixed(&'static str),
    Opaque,
}

pub struct Case {
    pub label: String,
    pub token: String,
    pub shape: Shape,
    /// The provider that says active, and the user restgate maps it to.
    pub accepted_by: Option<(&'static str, String)>,
}

pub struct World {
    pub setup: Setup,
    pub zoos: BTreeMap<&'static str, Zoo>,
    pub up: RecordingUpstream,
    pub gw: TestGateway,
    pub cases: Vec<Case>,
}

impl World {
    pub async fn start(setup: Setup) -> World {
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
    pub async fn send(&self, label: &str) -> Outcome {
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
    pub async fn assert_contract(&self, scenario: &str) {
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
