//! `[providers.NAME]` as the rest of restgate reads it: how a provider
//! proves a token, how its answer becomes a user, and which JWTs it issues.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::secret::Secret;

/// How a provider proves a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Validation {
    /// RFC 7662 token introspection.
    Introspection {
        /// The endpoint.
        endpoint: reqwest::Url,
        /// How restgate authenticates itself to it.
        client_auth: ClientAuth,
    },
    /// A userinfo / "who am I" GET with the bearer token.
    Userinfo {
        /// The endpoint.
        endpoint: reqwest::Url,
    },
    /// Local signature check against the provider's JWKS.
    Jwt(JwtSettings),
    /// Endpoints from OpenID Connect discovery, chosen per token.
    Oidc(Box<OidcSettings>),
    /// A vendor's own token check (no RFC 7662 endpoint).
    Vendor(Box<Vendor>),
}

/// The vendor checks (providers.md §6–10): each binds the token to the
/// configured client, app or workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Vendor {
    /// `tokeninfo` (`aud`/`azp` must be a configured client).
    Google {
        /// The tokeninfo endpoint.
        tokeninfo: reqwest::Url,
    },
    /// `POST /applications/{client_id}/token`, then `/user/emails`.
    Github {
        /// `https://api.github.com` or `https://{host}/api/v3`.
        api_url: reqwest::Url,
    },
    /// `/oauth/token/info` (`application.uid` must be ours), then `/oauth/userinfo`.
    Gitlab {
        /// The token info endpoint.
        token_info: reqwest::Url,
        /// The userinfo endpoint.
        userinfo: reqwest::Url,
    },
    /// `auth.test` (`team_id` must be ours), then `openid.connect.userInfo`.
    Slack {
        /// `https://slack.com/api`
        api_url: reqwest::Url,
        /// The allowed workspace.
        team_id: String,
    },
    /// `debug_token` (`app_id` must be ours), then `/me`.
    Facebook {
        /// `https://graph.facebook.com`
        api_url: reqwest::Url,
    },
}

/// `kind = "oidc"`: what discovery starts from, and what overrides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSettings {
    /// The issuer; the discovery document must name exactly this one. `None`
    /// (Azure AD B2C, whose issuer holds a tenant GUID): the issuer the
    /// document at the configured URL names.
    pub issuer: Option<String>,
    /// `{issuer}/.well-known/openid-configuration` unless overridden.
    pub discovery_url: reqwest::Url,
    /// A forced validation mode; `None`: JWTs locally when keys are listed,
    /// else introspection, else userinfo.
    pub mode: Option<OidcMode>,
    /// Expected `aud` of JWT access tokens.
    pub audiences: Vec<String>,
    /// Accepted JWT signature algorithms.
    pub algorithms: Vec<jsonwebtoken::Algorithm>,
    /// Tolerated clock difference.
    pub clock_skew: Duration,
    /// Client authentication for introspection.
    pub client_auth: ClientAuth,
    /// Overrides of discovered endpoints.
    pub jwks_uri: Option<reqwest::Url>,
    /// Override of the discovered introspection endpoint.
    pub introspection_endpoint: Option<reqwest::Url>,
    /// Override of the discovered userinfo endpoint.
    pub userinfo_endpoint: Option<reqwest::Url>,
}

/// A validation mode forced on an `oidc` provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OidcMode {
    /// Local JWT validation.
    Jwt,
    /// RFC 7662 introspection.
    Introspection,
    /// Userinfo.
    Userinfo,
}

/// How JWT access tokens are checked locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtSettings {
    /// Accepted `iss` values (exact match).
    pub issuers: Vec<String>,
    /// Where the provider publishes its signing keys.
    pub jwks_uri: reqwest::Url,
    /// Accepted `aud` values: the token's `aud` must contain one.
    pub audiences: Vec<String>,
    /// Accepted signature algorithms; never `none`, never HS*.
    pub algorithms: Vec<jsonwebtoken::Algorithm>,
    /// Tolerated clock difference with the provider (`nbf`, `exp`).
    pub clock_skew: Duration,
    /// Claims that must have these values (Cognito: `token_use = access`).
    pub required_claims: Vec<(String, String)>,
}

/// RFC 6749 §2.3.1 client authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic with the form-encoded id and secret.
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
}

/// How a provider's answer becomes a local user.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    /// Candidate username attributes, as JSON pointers, first present wins.
    pub username: Vec<Attr>,
    /// Candidate email attributes.
    pub email: Vec<Attr>,
    /// Lower-case the username.
    pub lowercase: bool,
    /// Drop `@domain` from the username.
    pub strip_domain: bool,
    /// User for client-credentials tokens with no `client_accounts` entry.
    pub service_account: Option<String>,
    /// Client id → user, for client-credentials tokens.
    pub client_accounts: BTreeMap<String, String>,
    /// How this kind marks a client-credentials token.
    pub client_credentials: CcRule,
    /// Claims that name the token's client, tried in order.
    pub client_id_claims: &'static [&'static str],
}

/// How a provider kind marks a token that carries no end user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CcRule {
    /// `sub == client id`, or a client id and no username (custom, oidc, okta's
    /// `sub == cid`).
    SubIsClient,
    /// The username starts with this prefix (Keycloak `service-account-`).
    UsernamePrefix(&'static str),
    /// A token without `uid` (Okta: `uid` is only there for end users).
    NoClaim(&'static str),
    /// Entra ID: `idtyp == "app"`, or no `scp`.
    Azure,
    /// No marker exists (B2C): only a client listed in `client_accounts`, with
    /// no user claims, is a client.
    ListedClientOnly,
    /// A claim is present (Slack `bot_id`).
    HasClaim(&'static str),
    /// A claim has this value (Facebook `type == "APP"`).
    ClaimIs(&'static str, &'static str),
    /// Google: a service account (`…gserviceaccount.com` email), or a client
    /// listed in `client_accounts`.
    GoogleServiceAccount,
    /// The provider has no such tokens.
    Never,
}

/// An attribute path: the configured spelling and its JSON pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    /// As written in the config (`user.login`, `/user/login`, `emails[0]`).
    pub written: String,
    /// RFC 6901 pointer into the provider's JSON answer.
    pub pointer: String,
}

/// `[providers.NAME]`
#[derive(Debug, Clone, PartialEq)]
pub struct Provider {
    /// The table name.
    pub name: Arc<str>,
    /// The kind: a preset, `oidc` or `custom`.
    pub kind: String,
    /// How tokens are checked.
    pub validation: Validation,
    /// restgate's client id at the provider.
    pub client_id: Option<String>,
    /// restgate's client secret.
    pub client_secret: Option<Secret>,
    /// Scope requested by `fetch-token`.
    pub scope: Option<String>,
    /// Token endpoint, for `fetch-token`.
    pub token_endpoint: Option<reqwest::Url>,
    /// Answer → user.
    pub mapping: Mapping,
    /// If set, the token's `aud` must contain one of these.
    pub allowed_audiences: Vec<String>,
    /// If set, the token's client must be one of these.
    pub allowed_clients: Vec<String>,
    /// Tokens starting with one of these go to this provider only; with
    /// any set, no token without one of them goes to it.
    pub token_prefixes: Vec<String>,
    /// Which JWTs it may have issued: what routing by `iss` reads.
    pub issuer: Issuer,
    /// Per-call timeout.
    pub timeout: Duration,
    /// Calls in flight at once; more wait, for at most `timeout`.
    pub max_concurrent: usize,
    /// PEM certificates trusted besides the system roots (checked readable).
    pub ca_file: Option<String>,
}

// === impl Provider ===

impl Provider {
    /// Whether it checks opaque (non-JWT) tokens at all: a JWT-only provider
    /// never receives one. An `oidc` provider without a forced mode may
    /// (its discovery document decides per token).
    pub fn checks_opaque_tokens(&self) -> bool {
        match &self.validation {
            Validation::Introspection { .. } | Validation::Userinfo { .. } => true,
            Validation::Vendor(_) => true,
            Validation::Jwt(_) => false,
            Validation::Oidc(o) => o.mode != Some(OidcMode::Jwt),
        }
    }

    /// The validation mode's name, as the config spells it (`oidc`: the
    /// forced mode, or `discovery`).
    pub fn validation_name(&self) -> &'static str {
        match &self.validation {
            Validation::Introspection { .. } => "introspection",
            Validation::Userinfo { .. } => "userinfo",
            Validation::Jwt(_) => "jwt",
            Validation::Vendor(_) => "vendor",
            Validation::Oidc(o) => match o.mode {
                Some(OidcMode::Jwt) => "jwt",
                Some(OidcMode::Introspection) => "introspection",
                Some(OidcMode::Userinfo) => "userinfo",
                None => "discovery",
            },
        }
    }

    /// restgate's own client id and secret at this provider (empty if unset),
    /// for the one place each goes on the wire.
    pub fn own_credentials(&self) -> (&str, &str) {
        let id = self.client_id.as_deref().unwrap_or_default();
        let secret = self
            .client_secret
            .as_ref()
            .map(Secret::expose)
            .unwrap_or_default();
        (id, secret)
    }
}

/// Which JWTs a provider may have issued (SPEC §3 "Several providers"): a
/// JWT goes to the provider of its `iss` and to no other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issuer {
    /// These `iss` values: byte-equal, or a template with `{tenantid}`
    /// (Entra multi-tenant).
    Known(Vec<String>),
    /// The one its discovery document names (Azure AD B2C without an
    /// explicit `issuer`); only a JWT whose `iss` has this origin
    /// (`scheme://host[:port]`) can be its.
    Discovered {
        /// The discovery document's origin.
        origin: String,
    },
    /// Not stated (`kind = "custom"` without `issuer`): JWTs of no
    /// configured issuer may be its.
    Unknown,
    /// Issues no JWT access tokens (a vendor kind without `issuer`).
    None,
}

// === impl Issuer ===

impl Issuer {
    /// The issuer rule of a provider: its JWT settings' issuers, its
    /// discovery document's, the stated one, or none.
    pub fn of(kind: &str, validation: &Validation, stated: Option<&str>) -> Issuer {
        match (validation, stated) {
            (Validation::Jwt(j), _) => Issuer::Known(j.issuers.clone()),
            (Validation::Oidc(o), _) => match &o.issuer {
                Some(i) => Issuer::Known(vec![i.clone()]),
                None => Issuer::Discovered {
                    origin: o.discovery_url.origin().ascii_serialization(),
                },
            },
            (_, Some(i)) => Issuer::Known(vec![i.to_owned()]),
            (_, None) if kind == "custom" => Issuer::Unknown,
            (_, None) => Issuer::None,
        }
    }
}
