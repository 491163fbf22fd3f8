//! Typed configuration: what the rest of restgate reads.
//!
//! `raw.rs` holds the file as written; `validate.rs` turns it into these types,
//! reporting every problem at once with file, line and key.

mod locate;
pub mod raw;
mod secret;
mod validate;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, Method};

pub use secret::{Secret, SecretSource};
pub use validate::{ConfigError, ConfigErrors, directory_key, is_guid, load, parse};

use crate::auth::route::PathPrefix;

/// The whole configuration, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from (for messages).
    pub source: PathBuf,
    /// `[server]`
    pub server: Server,
    /// `[upstream]`
    pub upstream: Upstream,
    /// `[auth]`
    pub auth: Auth,
    /// `[cache]`
    pub cache: Cache,
    /// `[providers.*]`, by name.
    pub providers: BTreeMap<String, Arc<Provider>>,
    /// `[directory]`
    pub directory: Directory,
    /// `[[api_keys]]`
    pub api_keys: Vec<ApiKey>,
    /// `[[route]]`
    pub routes: Vec<Route>,
}

/// `[server]`
#[derive(Debug, Clone)]
pub struct Server {
    /// The gateway's listening address.
    pub listen: SocketAddr,
    /// The admin listener (health, metrics).
    pub admin_listen: SocketAddr,
    /// How long a client may take to send a request head.
    pub header_read_timeout: Duration,
    /// A connection with no traffic and no request awaiting its response for
    /// this long is closed.
    pub idle_timeout: Duration,
    /// Largest request head accepted (bytes); larger gets 431.
    pub max_header_bytes: usize,
    /// How long in-flight requests may run after SIGTERM.
    pub shutdown_timeout: Duration,
    /// TLS on the listener (HTTP/2 by ALPN), when a certificate is configured.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
    /// Bodyless HTTP/1.1 requests and upstream exchanges take the fast
    /// HTTP/1.1 path (`server.fast_http1`, default true; the environment
    /// variable `RESTGATE_FAST_HTTP1=0` turns it off whatever the file says).
    pub fast_http1: bool,
}

/// How an authenticated request is handed to the upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityMode {
    /// The identity header carries the username.
    Header,
    /// OAuth 1.0a two-legged with impersonation (not in this version).
    OAuth1,
}

/// `[upstream]`
#[derive(Debug, Clone)]
pub struct Upstream {
    /// Origin of the Atlassian instance (`http://127.0.0.1:8090`).
    pub url: http::Uri,
    /// Header carrying the resolved username.
    pub identity_header: HeaderName,
    /// Header carrying the email, if configured.
    pub email_header: Option<HeaderName>,
    /// Drop `Authorization` from authenticated requests.
    pub strip_authorization: bool,
    /// Hand-off mode.
    pub identity: IdentityMode,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// From request sent to response head.
    pub response_timeout: Duration,
    /// A shared secret header and its value, for a header authenticator to check.
    pub shared_secret: Option<(HeaderName, Secret)>,
    /// The OAuth 1.0a consumer, with `identity = "oauth1"`.
    pub oauth1: Option<OAuth1>,
    /// TLS to an `https://` upstream: the system roots plus `ca_file`.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

/// `[upstream.oauth1]`: the consumer of the product's incoming application link.
#[derive(Debug, Clone)]
pub struct OAuth1 {
    /// The link's consumer key.
    pub consumer_key: String,
    /// The consumer's RSA private key.
    pub private_key: PrivateKey,
    /// `scheme://host[:port]` as the product's Tomcat rebuilds it (lower-case,
    /// default port omitted), without a path: the request path follows.
    pub signed_base_url: String,
}

/// An RSA private key that prints as `<redacted>`.
#[derive(Clone)]
pub struct PrivateKey(pub Arc<rsa::RsaPrivateKey>);

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// What to do with a credential class restgate does not validate itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassOrReject {
    /// Forward untouched.
    Pass,
    /// Refuse with 401 on protected routes.
    Reject,
}

/// `[auth]`
#[derive(Debug, Clone)]
pub struct Auth {
    /// `false`: pure pass-through (spoofable headers still stripped).
    pub enabled: bool,
    /// Path prefixes protected when no route says otherwise.
    pub protected_paths: Vec<PathPrefix>,
    /// Native Atlassian credentials.
    pub native: PassOrReject,
    /// Bearer tokens no provider accepts.
    pub unknown_bearer: PassOrReject,
    /// Provider names, in the order opaque tokens are tried.
    pub providers: Vec<String>,
    /// Header that may carry an API key.
    pub api_key_header: HeaderName,
    /// Prefix that marks a credential as a restgate API key.
    pub api_key_prefix: String,
    /// `realm` of `WWW-Authenticate`.
    pub realm: String,
    /// Cookie names that mark a request as carrying a product session.
    pub session_cookies: Vec<String>,
}

/// `[cache]`
#[derive(Debug, Clone, PartialEq)]
pub struct Cache {
    /// Bound on cached tokens.
    pub max_entries: u64,
    /// Life of a positive entry (capped by the token's `exp`).
    pub ttl: Duration,
    /// Life of a negative entry.
    pub negative_ttl: Duration,
    /// How long after its life a positive entry may still serve while providers fail.
    pub stale_if_error: Duration,
}

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

/// `[directory]`
#[derive(Debug, Clone)]
pub enum Directory {
    /// The mapped attribute is the username.
    None,
    /// A fixed table of username or email → username.
    Static {
        /// Which token field is looked up.
        match_field: MatchField,
        /// Lookup key (lower-cased for emails) → username.
        users: BTreeMap<String, String>,
    },
    /// The product's own user REST API, with an admin personal access token.
    Atlassian(Box<AtlassianDirectory>),
}

/// The Atlassian product a directory asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtlassianProduct {
    /// `/rest/api/2/user`, `/rest/api/2/user/search`
    Jira,
    /// `/rest/api/user`
    Confluence,
    /// `/rest/api/1.0/users`
    Bitbucket,
}

/// `[directory] kind = "atlassian"`
#[derive(Debug, Clone)]
pub struct AtlassianDirectory {
    /// Which API shape.
    pub product: AtlassianProduct,
    /// Which token field is looked up.
    pub match_field: MatchField,
    /// The upstream origin and context path (`http://127.0.0.1:8080/jira`).
    pub base_url: String,
    /// An admin's personal access token.
    pub token: Secret,
    /// Per-lookup timeout.
    pub timeout: Duration,
}

/// Which field of the token a directory matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchField {
    /// The mapped username.
    Username,
    /// The token's email.
    Email,
}

/// `[[api_keys]]`
#[derive(Debug, Clone)]
pub struct ApiKey {
    /// A label for logs.
    pub name: String,
    /// The user the key acts as.
    pub user: String,
    /// SHA-256 of the key.
    pub hash: [u8; 32],
    /// Last valid day (UTC), as a Unix time of the end of that day.
    pub expires: Option<u64>,
}

/// `[[route]]`
#[derive(Debug, Clone)]
pub struct Route {
    /// Whole-segment path prefix.
    pub path: PathPrefix,
    /// Methods this route applies to (none: all).
    pub methods: Option<Vec<Method>>,
    /// Whether a credential is required.
    pub protected: bool,
    /// Scopes the token must all have.
    pub require_scopes: Vec<String>,
    /// Users allowed (empty: all).
    pub allow_users: Vec<String>,
    /// Providers whose tokens are accepted here (empty: all).
    pub allow_providers: Vec<String>,
    /// The token's `aud` must contain one of these (empty: no check).
    pub require_audience: Vec<String>,
}
