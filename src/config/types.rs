//! The validated configuration's types: what the rest of restgate reads
//! (the provider types are in `provider.rs`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, Method};

use super::provider::Provider;
use super::secret::Secret;
use crate::core::path::PathPrefix;

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
    /// `[cluster]`, when replicas share through Redis.
    pub cluster: Option<Arc<Cluster>>,
    /// `[limits]`: budgets of provider calls.
    pub limits: Limits,
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
    /// Peers whose `X-Forwarded-For` names the client (`server.trusted_proxies`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The admin credential (`server.admin_token_file`): when set, every
    /// admin endpoint but `/healthz` and `/readyz` needs it as a Bearer token.
    pub admin_token: Option<crate::config::Secret>,
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

/// An RSA private key (held by OpenSSL) that prints as `<redacted>`.
#[derive(Clone)]
pub struct PrivateKey(pub Arc<openssl::pkey::PKey<openssl::pkey::Private>>);

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

/// `[limits]`: how many provider calls a client may cause, and how many a
/// provider may receive.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Limits {
    /// Provider calls one client address may cause (cache misses).
    pub per_client: Option<Rate>,
    /// How many of them may come at once, beyond the rate.
    pub burst: u32,
    /// Provider calls each named provider may receive, all replicas
    /// together, over any rolling window of the rate's period.
    pub providers: BTreeMap<String, Rate>,
}

impl Limits {
    /// Whether any limit is set.
    pub fn any(&self) -> bool {
        self.per_client.is_some() || !self.providers.is_empty()
    }
}

/// A rate: `count` per `per` (`"60/min"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// How many.
    pub count: u32,
    /// Per how long.
    pub per: Duration,
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unit = match self.per.as_secs() {
            1 => "s",
            60 => "min",
            3600 => "h",
            86400 => "day",
            _ => return write!(f, "{}/{}s", self.count, self.per.as_secs()),
        };
        write!(f, "{}/{unit}", self.count)
    }
}

/// `[cluster]`: the Redis the replicas share, and the key that seals it.
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    /// One URL (standalone, or `redis-sentinel://`), or several: Redis
    /// Cluster seeds. Never holds a password (that is `password`).
    pub redis_urls: Vec<String>,
    /// ACL user name.
    pub username: Option<String>,
    /// Password, from the environment or a file.
    pub password: Option<Secret>,
    /// The file the cluster key came from (for messages).
    pub key_file: PathBuf,
    /// The shared secret every replica holds.
    pub key: ClusterKey,
    /// Bound on one Redis call.
    pub timeout: Duration,
    /// Namespace of every key restgate writes.
    pub prefix: String,
}

/// The cluster key's bytes; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterKey(pub Arc<[u8]>);

impl std::fmt::Debug for ClusterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
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
