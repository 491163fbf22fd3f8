//! `[directory]`: does the mapped user exist locally, and under which name?
//!
//! `none` trusts the mapped attribute; `static` looks it up in a table;
//! `atlassian` asks the product's own user API with an admin's personal access
//! token (atlassian.md §6). Found and not-found answers are cached (`cache.ttl`
//! and `cache.negative_ttl`), concurrent lookups of one key make one call, and a
//! lookup that fails is `503`, never a pass.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;
use reqwest::header;
use serde_json::Value;

use crate::config::{
    AtlassianDirectory, AtlassianProduct, Cache as CacheConfig, Directory, MatchField,
    directory_key,
};
use crate::core::error::GatewayError;
use crate::core::principal::Principal;

/// The outcome of a directory check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectoryAnswer {
    /// The user to hand off.
    Found(String),
    /// Not in the local directory (`403 unknown_user`).
    Unknown,
}

/// The directory, ready for lookups.
#[derive(Clone)]
pub enum DirectoryClient {
    /// The mapped attribute is the username.
    None,
    /// A fixed table.
    Static(Arc<Directory>),
    /// The product's user API.
    Atlassian(Arc<Lookup>),
}

// === impl DirectoryClient ===

impl DirectoryClient {
    /// The client for a config.
    pub fn new(dir: &Directory, cache: &CacheConfig) -> Self {
        match dir {
            Directory::None => DirectoryClient::None,
            Directory::Static { .. } => DirectoryClient::Static(Arc::new(dir.clone())),
            Directory::Atlassian(a) => DirectoryClient::Atlassian(Arc::new(Lookup::new(a, cache))),
        }
    }

    /// The principal as the product knows it: the same one when the directory
    /// names the same user (always, without a lookup or a copy, when there is
    /// no directory), renamed when it names another, `None` when it does not
    /// know the user.
    pub async fn apply(&self, p: Arc<Principal>) -> Result<Option<Arc<Principal>>, GatewayError> {
        if matches!(self, DirectoryClient::None) {
            return Ok(Some(p));
        }
        Ok(match self.resolve(&p).await? {
            DirectoryAnswer::Found(user) if user == p.user => Some(p),
            DirectoryAnswer::Found(user) => Some(Arc::new(Principal {
                user,
                ..(*p).clone()
            })),
            DirectoryAnswer::Unknown => None,
        })
    }

    /// Resolves a principal. Static service accounts are configured local users
    /// and are not looked up; the product's directory is asked about everyone.
    pub async fn resolve(&self, p: &Principal) -> Result<DirectoryAnswer, GatewayError> {
        match self {
            DirectoryClient::None => Ok(DirectoryAnswer::Found(p.user.clone())),
            DirectoryClient::Static(_) if p.client_credentials => {
                Ok(DirectoryAnswer::Found(p.user.clone()))
            }
            DirectoryClient::Static(dir) => Ok(static_lookup(dir, p)),
            // Boxed: a product call is kilobytes of future state that every
            // request's future would otherwise carry and move.
            DirectoryClient::Atlassian(lookup) => Box::pin(lookup.resolve(p)).await,
        }
    }
}

fn static_lookup(dir: &Directory, p: &Principal) -> DirectoryAnswer {
    let Directory::Static { match_field, users } = dir else {
        return DirectoryAnswer::Unknown;
    };
    let key = match match_field {
        MatchField::Username => Some(p.user.as_str()),
        MatchField::Email => p.email.as_deref(),
    };
    match key.and_then(|k| users.get(&directory_key(*match_field, k))) {
        Some(u) => DirectoryAnswer::Found(u.clone()),
        None => DirectoryAnswer::Unknown,
    }
}

/// A cached answer and how long it lives.
#[derive(Clone)]
struct Entry {
    user: Option<String>,
    life: Duration,
}

struct EntryLife;

impl Expiry<String, Entry> for EntryLife {
    fn expire_after_create(&self, _k: &String, v: &Entry, _now: Instant) -> Option<Duration> {
        Some(v.life)
    }
}

/// Lookups in the product's user API.
pub struct Lookup {
    settings: AtlassianDirectory,
    http: reqwest::Client,
    cache: moka::future::Cache<String, Entry>,
    ttl: Duration,
    negative_ttl: Duration,
}

// === impl Lookup ===

impl Lookup {
    fn new(settings: &AtlassianDirectory, cache: &CacheConfig) -> Self {
        Lookup {
            settings: settings.clone(),
            http: crate::providers::http_client(),
            cache: moka::future::Cache::builder()
                .max_capacity(cache.max_entries)
                .expire_after(EntryLife)
                .build(),
            ttl: cache.ttl,
            negative_ttl: cache.negative_ttl,
        }
    }

    async fn resolve(&self, p: &Principal) -> Result<DirectoryAnswer, GatewayError> {
        let key = match self.settings.match_field {
            MatchField::Username => p.user.clone(),
            MatchField::Email => match &p.email {
                Some(e) => e.to_lowercase(),
                None => return Ok(DirectoryAnswer::Unknown),
            },
        };
        let load = async {
            let user = self.ask(&key).await?;
            let life = if user.is_some() {
                self.ttl
            } else {
                self.negative_ttl
            };
            Ok::<_, GatewayError>(Entry { user, life })
        };
        match self.cache.try_get_with(key.clone(), load).await {
            Ok(Entry { user: Some(u), .. }) => Ok(DirectoryAnswer::Found(u)),
            Ok(Entry { user: None, .. }) => Ok(DirectoryAnswer::Unknown),
            Err(e) => {
                tracing::warn!(error = %e, "Directory lookup failed");
                Err(GatewayError::DirectoryUnavailable)
            }
        }
    }

    /// One lookup: the product's username for `key`, or `None` if it has none.
    async fn ask(&self, key: &str) -> Result<Option<String>, GatewayError> {
        let s = &self.settings;
        let enc = |v: &str| form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
        let (path, exact): (String, Pick) = match (s.product, s.match_field) {
            (AtlassianProduct::Jira, MatchField::Username) => {
                (format!("/rest/api/2/user?username={}", enc(key)), jira_one)
            }
            // `user/search` matches prefixes of username, name or email: compare exactly here.
            (AtlassianProduct::Jira, MatchField::Email) => (
                format!(
                    "/rest/api/2/user/search?username={}&includeInactive=false&maxResults=50",
                    enc(key)
                ),
                jira_many,
            ),
            (AtlassianProduct::Confluence, _) => (
                format!("/rest/api/user?username={}", enc(key)),
                confluence_one,
            ),
            (AtlassianProduct::Bitbucket, _) => (
                format!("/rest/api/1.0/users?filter={}&limit=100", enc(key)),
                bitbucket_many,
            ),
        };
        let res = self
            .http
            .get(format!("{}{path}", s.base_url))
            .timeout(s.timeout)
            .bearer_auth(s.token.expose())
            .header(header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|_| GatewayError::DirectoryUnavailable)?;
        match res.status().as_u16() {
            200 => {}
            404 => return Ok(None),
            _ => return Err(GatewayError::DirectoryUnavailable),
        }
        let json: Value = res
            .json()
            .await
            .map_err(|_| GatewayError::DirectoryUnavailable)?;
        Ok(exact(&json, key, s.match_field))
    }
}

/// Picks the product username out of a lookup answer.
type Pick = fn(&Value, &str, MatchField) -> Option<String>;

fn jira_one(v: &Value, _key: &str, _m: MatchField) -> Option<String> {
    active(v)
        .then(|| v.get("name")?.as_str().map(str::to_owned))
        .flatten()
}

fn jira_many(v: &Value, key: &str, _m: MatchField) -> Option<String> {
    v.as_array()?.iter().find_map(|u| {
        let email = u.get("emailAddress")?.as_str()?;
        (email.eq_ignore_ascii_case(key) && active(u))
            .then(|| u.get("name")?.as_str().map(str::to_owned))
            .flatten()
    })
}

fn confluence_one(v: &Value, _key: &str, _m: MatchField) -> Option<String> {
    (v.get("type").and_then(Value::as_str) == Some("known"))
        .then(|| v.get("username")?.as_str().map(str::to_owned))
        .flatten()
}

fn bitbucket_many(v: &Value, key: &str, m: MatchField) -> Option<String> {
    v.get("values")?.as_array()?.iter().find_map(|u| {
        let field = match m {
            MatchField::Username => u.get("name")?.as_str()?,
            MatchField::Email => u.get("emailAddress")?.as_str()?,
        };
        let same = match m {
            MatchField::Username => field == key,
            MatchField::Email => field.eq_ignore_ascii_case(key),
        };
        (same && active(u))
            .then(|| u.get("name")?.as_str().map(str::to_owned))
            .flatten()
    })
}

/// Deactivated users are not users (a missing flag counts as active).
fn active(u: &Value) -> bool {
    u.get("active").and_then(Value::as_bool) != Some(false)
}
