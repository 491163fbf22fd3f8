//! The configuration file as written: serde DTOs that reject unknown keys.
//!
//! Nothing here is interpreted: durations, URLs and header names stay strings so
//! that `validate.rs` can report every problem with its key instead of stopping at
//! the first one. No `#[serde(flatten)]` anywhere: it silently disables
//! `deny_unknown_fields`.

use std::collections::BTreeMap;

use serde::Deserialize;

/// One value or a list of them (`username_attribute = "upn"` or `= ["upn", "email"]`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum OneOrMany {
    /// A single string.
    One(String),
    /// A list of strings, tried in order.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The values in order.
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// `[server]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: Option<String>,
    pub admin_listen: Option<String>,
    pub header_read_timeout: Option<String>,
    pub idle_timeout: Option<String>,
    pub max_header_bytes: Option<u64>,
    pub max_connections: Option<u64>,
    pub fast_http1: Option<bool>,
    pub shutdown_timeout: Option<String>,
    pub tls_cert_file: Option<String>,
    pub tls_key_file: Option<String>,
    pub trusted_proxies: Option<Vec<String>>,
    pub admin_token_file: Option<String>,
}

/// `[upstream]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUpstream {
    pub url: Option<String>,
    pub identity_header: Option<String>,
    pub email_header: Option<String>,
    pub strip_authorization: Option<bool>,
    pub identity: Option<String>,
    pub connect_timeout: Option<String>,
    pub response_timeout: Option<String>,
    pub shared_secret_header: Option<String>,
    pub shared_secret_env: Option<String>,
    pub shared_secret_file: Option<String>,
    pub ca_file: Option<String>,
    pub client_cert_file: Option<String>,
    pub client_key_file: Option<String>,
    pub oauth1: Option<RawOAuth1>,
}

/// `[upstream.oauth1]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOAuth1 {
    pub consumer_key: Option<String>,
    pub private_key_file: Option<String>,
    pub signed_base_url: Option<String>,
}

/// `[auth]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    pub enabled: Option<bool>,
    pub protected_paths: Option<Vec<String>>,
    pub native: Option<String>,
    pub unknown_bearer: Option<String>,
    pub providers: Option<Vec<String>>,
    pub api_key_header: Option<String>,
    pub api_key_prefix: Option<String>,
    pub realm: Option<String>,
    pub session_cookies: Option<Vec<String>>,
}

/// `[cache]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCache {
    pub max_entries: Option<u64>,
    pub ttl: Option<String>,
    pub negative_ttl: Option<String>,
    pub stale_if_error: Option<String>,
}

/// `[limits]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    pub new_tokens_per_client: Option<String>,
    pub new_tokens_burst: Option<u64>,
    pub providers: Option<BTreeMap<String, RawProviderLimit>>,
}

/// `[limits.providers.NAME]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProviderLimit {
    pub calls: Option<String>,
}

/// `[cluster]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCluster {
    pub redis_url: Option<OneOrMany>,
    pub redis_username: Option<String>,
    pub redis_password_env: Option<String>,
    pub redis_password_file: Option<String>,
    pub key_file: Option<String>,
    pub timeout: Option<String>,
    pub prefix: Option<String>,
}

/// `[providers.NAME]`: the keys of every kind. Which kind takes which key is
/// the kind table's business (`validate/kinds.rs`), checked before this is
/// deserialized; `deny_unknown_fields` stays as the backstop.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    pub kind: Option<String>,
    pub validation: Option<String>,
    pub issuer: Option<String>,
    pub discovery_url: Option<String>,
    pub tenant: Option<String>,
    pub policy: Option<String>,
    pub domain: Option<String>,
    pub team_id: Option<String>,
    pub audience: Option<OneOrMany>,
    pub token_version: Option<String>,
    pub introspection_endpoint: Option<String>,
    pub userinfo_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    pub tokeninfo_endpoint: Option<String>,
    pub jwks_uri: Option<String>,
    pub api_url: Option<String>,
    pub client_id: Option<OneOrMany>,
    pub client_secret_env: Option<String>,
    pub client_secret_file: Option<String>,
    pub client_auth: Option<String>,
    pub scope: Option<String>,
    pub username_attribute: Option<OneOrMany>,
    pub email_attribute: Option<OneOrMany>,
    pub lowercase: Option<bool>,
    pub strip_domain: Option<bool>,
    pub service_account: Option<String>,
    pub client_accounts: Option<BTreeMap<String, String>>,
    pub allowed_audiences: Option<Vec<String>>,
    pub allowed_clients: Option<Vec<String>>,
    pub token_prefixes: Option<Vec<String>>,
    pub algorithms: Option<Vec<String>>,
    pub clock_skew: Option<String>,
    pub timeout: Option<String>,
    pub max_concurrent: Option<u64>,
    pub ca_file: Option<String>,
}

/// `[directory]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDirectory {
    pub kind: Option<String>,
    #[serde(rename = "match")]
    pub match_field: Option<String>,
    pub users: Option<BTreeMap<String, String>>,
    pub users_file: Option<String>,
    pub product: Option<String>,
    pub token_env: Option<String>,
    pub token_file: Option<String>,
    pub context_path: Option<String>,
    pub timeout: Option<String>,
}

/// `[[api_keys]]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApiKey {
    pub name: Option<String>,
    pub user: Option<String>,
    pub hash: Option<String>,
    pub expires: Option<String>,
}

/// `[[route]]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    pub path: Option<String>,
    pub methods: Option<Vec<String>>,
    pub protected: Option<bool>,
    pub require_scopes: Option<Vec<String>>,
    pub allow_users: Option<Vec<String>>,
    pub allow_providers: Option<Vec<String>>,
    pub require_audience: Option<Vec<String>>,
}

/// The top-level sections, each still an untyped TOML value so that one broken
/// section does not hide the problems of the others.
pub const SECTIONS: &[&str] = &[
    "server",
    "upstream",
    "auth",
    "cache",
    "cluster",
    "limits",
    "providers",
    "directory",
    "api_keys",
    "route",
];
