//! The provider kinds, in one table: for each `kind`, the keys its
//! `[providers.NAME]` table takes, what it must give, its default
//! `validation`, and how its vendor's facts fill in the rest. The kinds listed
//! in errors, the keys accepted per kind and `restgate check` all read this
//! table, and a test holds the README's preset table to it.

use super::super::locate::KeyPath;
use super::super::provider::*;
use super::super::raw::RawProvider;
use super::super::types::*;
use super::fill::{self, Report};

/// What a preset fills in from its vendor's documentation (only where the
/// table did not set it); it reports what is wrong with the values given.
type Fill = fn(&mut dyn Report, &KeyPath, &mut RawProvider);
/// Adjusts the built provider where the raw keys cannot say it (issuer lists,
/// required claims).
type Adjust = fn(&mut Provider, &RawProvider);

/// Something a table must give, met by any one of `keys`.
pub(super) struct Need {
    pub(super) keys: &'static [&'static str],
    /// What to put there, for the "missing" error.
    pub(super) what: &'static str,
}

/// One provider kind.
pub(super) struct Kind {
    /// The `kind` value.
    pub(super) name: &'static str,
    /// Keys it takes besides [`SHARED`].
    pub(super) keys: &'static [&'static str],
    /// Keys it takes only with `validation = "jwt"` (`custom`: they would
    /// mean nothing with another validation).
    pub(super) jwt_keys: &'static [&'static str],
    /// What it cannot work without, whatever its validation. (What a
    /// validation needs, e.g. introspection's own client, is checked with it.)
    pub(super) required: &'static [Need],
    /// `validation` when the table leaves it out; `None`: `custom` (required)
    /// and `oidc` (the discovery document decides).
    pub(super) validation: Option<&'static str>,
    /// Said when a key of another kind is used here.
    pub(super) hint: Option<&'static str>,
    pub(super) fill: Option<Fill>,
    pub(super) adjust: Option<Adjust>,
    /// How its client-credentials tokens look.
    pub(super) cc: CcRule,
    /// The claims that name a token's client.
    pub(super) client_claims: &'static [&'static str],
    /// JWT validation binds by `aud` (all but Cognito, which binds by client).
    pub(super) require_audience: bool,
    /// Built on a discovery document (`oidc`, and B2C's per-policy one).
    pub(super) discovery: bool,
}

/// Claims that name a token's client, for `custom` and `oidc`.
pub(super) const GENERIC_CLIENT_CLAIMS: &[&str] = &["client_id", "azp", "cid", "appid"];

/// Keys every kind takes. `issuer` is one: it routes JWTs to the provider
/// whatever its validation, and every derived URL can be overridden.
#[rustfmt::skip] // one line per concern
pub(super) const SHARED: &[&str] = &[
    "kind", "validation", "issuer", "token_prefixes",
    "introspection_endpoint", "userinfo_endpoint", "token_endpoint",
    "client_id", "client_secret_env", "client_secret_file", "client_auth", "scope",
    "username_attribute", "email_attribute", "lowercase", "strip_domain",
    "service_account", "client_accounts", "allowed_audiences", "allowed_clients",
    "timeout", "max_concurrent", "ca_file",
];

/// Keys of local JWT checks.
const JWT: [&str; 4] = ["audience", "jwks_uri", "algorithms", "clock_skew"];

const SECRET: [&str; 2] = ["client_secret_env", "client_secret_file"];

const fn need(keys: &'static [&'static str], what: &'static str) -> Need {
    Need { keys, what }
}

/// The defaults of a kind: what `custom` is.
const BASE: Kind = Kind {
    name: "",
    keys: &[],
    jwt_keys: &[],
    required: &[],
    validation: None,
    hint: None,
    fill: None,
    adjust: None,
    cc: CcRule::SubIsClient,
    client_claims: GENERIC_CLIENT_CLAIMS,
    require_audience: true,
    discovery: false,
};

/// What the vendor-check presets share.
const VENDOR: Kind = Kind {
    validation: Some("vendor"),
    cc: CcRule::Never,
    client_claims: &["client_id"],
    require_audience: false,
    ..BASE
};

/// Every kind, presets first in the README's order. Facts behind each:
/// `../shared/providers.md`. (Laid out by hand: one line per fact reads as a
/// table; rustfmt would spread each `need` over four.)
#[rustfmt::skip]
pub(super) const KINDS: &[Kind] = &[
    Kind {
        name: "azure-ad",
        keys: &["tenant", "audience", "token_version", "jwks_uri", "algorithms", "clock_skew"],
        required: &[
            need(&["tenant"], "the tenant's GUID (Directory ID), or \"common\" / \"organizations\""),
            need(&["audience"], "the `aud` tokens must carry for this API (the API's client id or App ID URI)"),
        ],
        validation: Some("jwt"),
        fill: Some(fill::azure_ad),
        adjust: Some(fill::azure_adjust),
        cc: CcRule::Azure,
        client_claims: &["azp", "appid"],
        ..BASE
    },
    Kind {
        name: "azure-b2c",
        keys: &["tenant", "policy", "audience", "discovery_url", "jwks_uri", "algorithms", "clock_skew"],
        required: &[
            need(&["tenant"], "the B2C tenant name, e.g. \"contoso\""),
            need(&["policy"], "the user flow or custom policy, e.g. \"B2C_1_signin\""),
            need(&["audience"], "the API's application (client) id"),
        ],
        validation: Some("jwt"),
        fill: Some(fill::azure_b2c),
        // B2C marks no token as app-only: only listed clients without user
        // claims are clients.
        cc: CcRule::ListedClientOnly,
        client_claims: &["azp"],
        discovery: true,
        ..BASE
    },
    Kind {
        name: "keycloak",
        keys: &JWT,
        required: &[need(&["issuer"], "the realm URL, https://{host}/realms/{realm}")],
        validation: Some("introspection"),
        fill: Some(fill::keycloak),
        cc: CcRule::UsernamePrefix("service-account-"),
        client_claims: &["client_id", "clientId", "azp"],
        ..BASE
    },
    Kind {
        name: "okta",
        keys: &JWT,
        required: &[need(&["issuer"], "https://{domain}/oauth2/{server} (custom authorization server) or https://{domain} (org)")],
        validation: Some("introspection"),
        fill: Some(fill::okta),
        // `uid` is present only when an end user is bound to the token.
        cc: CcRule::NoClaim("uid"),
        client_claims: &["cid", "client_id"],
        ..BASE
    },
    Kind {
        name: "cognito",
        keys: &["domain", "jwks_uri", "algorithms", "clock_skew"],
        required: &[
            need(&["issuer"], "the user pool, https://cognito-idp.{region}.amazonaws.com/{pool}"),
            need(&["client_id"], "the allowed app client id(s)"),
        ],
        validation: Some("jwt"),
        fill: Some(fill::cognito),
        adjust: Some(fill::cognito_adjust),
        cc: CcRule::NoClaim("username"),
        client_claims: &["client_id"],
        require_audience: false,
        ..BASE
    },
    Kind {
        name: "google",
        keys: &["tokeninfo_endpoint"],
        required: &[need(&["client_id"], "the OAuth client id(s) tokens must be issued to")],
        fill: Some(fill::google),
        cc: CcRule::GoogleServiceAccount,
        client_claims: &["client_id", "azp", "aud"],
        ..VENDOR
    },
    Kind {
        name: "github",
        keys: &["api_url"],
        required: &[
            need(&["client_id"], "the OAuth app's client id"),
            need(&SECRET, "the OAuth app's client secret"),
        ],
        fill: Some(fill::github),
        ..VENDOR
    },
    Kind {
        name: "gitlab",
        required: &[need(&["client_id"], "the application's uid (its client id)")],
        fill: Some(fill::gitlab),
        ..VENDOR
    },
    Kind {
        name: "slack",
        keys: &["team_id", "api_url"],
        required: &[need(&["team_id"], "the allowed workspace (team id, e.g. T0123ABCD)")],
        fill: Some(fill::slack),
        // Bot tokens are the app's own identity.
        cc: CcRule::HasClaim("bot_id"),
        client_claims: &["bot_id"],
        ..VENDOR
    },
    Kind {
        name: "facebook",
        keys: &["api_url"],
        required: &[
            need(&["client_id"], "the app id"),
            need(&SECRET, "the app secret"),
        ],
        fill: Some(fill::facebook),
        // App access tokens (client credentials grant) have type APP.
        cc: CcRule::ClaimIs("type", "APP"),
        ..VENDOR
    },
    Kind {
        name: "oidc",
        keys: &["discovery_url", "audience", "jwks_uri", "algorithms", "clock_skew"],
        required: &[need(&["issuer"], "the issuer URL (discovery starts from it)")],
        discovery: true,
        ..BASE
    },
    Kind {
        name: "custom",
        jwt_keys: &JWT,
        required: &[need(&["validation"], "\"introspection\", \"userinfo\" or \"jwt\"")],
        hint: Some("give the endpoints explicitly"),
        ..BASE
    },
];

/// The kind named `name`.
pub(super) fn find(name: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.name == name)
}

/// `"azure-ad", "azure-b2c", …`: every kind, for errors.
pub(super) fn names() -> String {
    let names: Vec<String> = KINDS.iter().map(|k| format!("{:?}", k.name)).collect();
    names.join(", ")
}

// === impl Kind ===

impl Kind {
    /// Its own keys, `jwt_keys` included, then the shared ones.
    pub(super) fn all_keys(&self) -> impl Iterator<Item = &'static str> + '_ {
        (self.keys.iter().chain(self.jwt_keys).chain(SHARED)).copied()
    }

    pub(super) fn takes_key(&self, key: &str) -> bool {
        self.all_keys().any(|k| k == key)
    }

    /// "kind = "okta" takes `audience`, … besides the keys every kind takes:
    /// `kind`, …": only the keys this kind accepts.
    pub(super) fn takes(&self) -> String {
        let mut own = Vec::new();
        if !self.keys.is_empty() {
            own.push(ticks(self.keys));
        }
        if !self.jwt_keys.is_empty() {
            own.push(format!(
                "{} (with validation = \"jwt\")",
                ticks(self.jwt_keys)
            ));
        }
        let own = if own.is_empty() {
            "only".into()
        } else {
            own.join(", ") + " besides"
        };
        let (name, shared) = (self.name, ticks(SHARED));
        format!("kind = {name:?} takes {own} the keys every kind takes: {shared}")
    }
}

pub(super) fn ticks(keys: &[&str]) -> String {
    let ticked: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
    ticked.join(", ")
}

/// The candidate closest to `word`, if one is close enough to be a typo of it.
pub(super) fn closest<'a>(
    word: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

// === the table, for documentation and its tests ===

/// A provider kind as a config file names it.
#[derive(Debug, Clone)]
pub struct KindInfo {
    /// The `kind` value.
    pub name: &'static str,
    /// A vendor preset (every kind but `oidc` and `custom`).
    pub preset: bool,
    /// Every key its table takes.
    pub keys: Vec<&'static str>,
    /// What its table must give: each entry is met by any one of its keys.
    pub required: Vec<&'static [&'static str]>,
    /// `validation` when the table leaves it out.
    pub validation: Option<&'static str>,
}

impl Config {
    /// Every provider kind, from the table that decides what config files may
    /// say (presets first, in the README's order).
    pub fn provider_kinds() -> Vec<KindInfo> {
        KINDS
            .iter()
            .map(|k| KindInfo {
                name: k.name,
                preset: k.fill.is_some(),
                keys: k.all_keys().collect(),
                required: k.required.iter().map(|n| n.keys).collect(),
                validation: k.validation,
            })
            .collect()
    }
}
