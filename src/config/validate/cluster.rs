//! `[cluster]`: the Redis the replicas share and the key that seals it.
//!
//! What the Redis client (`cluster/link.rs`) would refuse or silently
//! misread at start-up is refused here, with the key and the fix: a URL's
//! scheme, host, database and Sentinel master; a list of seeds that is not
//! one Redis Cluster. A password never stays in a URL, and no message
//! repeats one.

use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;

use super::super::locate::KeyPath;
use super::super::raw::{self, OneOrMany};
use super::super::types::*;
use super::cx::{Cx, resolve};

/// The shortest cluster key accepted, in bytes (what `restgate cluster keygen`
/// writes): the keyed names and the sealing key are derived from it.
pub(super) const MIN_KEY_BYTES: usize = 32;

/// The URL schemes the Redis client speaks, TLS ones included.
const SCHEMES: &[&str] = &[
    "redis",
    "rediss",
    "redis-cluster",
    "rediss-cluster",
    "redis-sentinel",
    "rediss-sentinel",
    "valkey",
    "valkeys",
    "valkey-cluster",
    "valkeys-cluster",
    "valkey-sentinel",
    "valkeys-sentinel",
];

/// The bound on one Redis call: past it the request carries on without Redis.
const TIMEOUT_DEFAULT: &str = "100ms";
const TIMEOUT_MIN: Duration = Duration::from_millis(1);
const TIMEOUT_MAX: Duration = Duration::from_secs(10);

/// The query parameter naming a Sentinel's master.
const SENTINEL_SERVICE: &str = "sentinelServiceName";

impl Cx {
    pub(super) fn cluster(&mut self, raw: &raw::RawCluster, base: &Path) -> Option<Cluster> {
        let p = KeyPath::root("cluster");
        let redis_urls = self.redis_urls(&p.key("redis_url"), raw.redis_url.as_ref());
        if let Some(user) = &raw.redis_username {
            self.redis_username(&p.key("redis_username"), user, &redis_urls);
        }
        let password = self.secret(
            &p,
            "redis_password",
            raw.redis_password_env.as_ref(),
            raw.redis_password_file.as_ref(),
            base,
        );
        let key_file = raw.key_file.as_deref().map(|f| resolve(base, f));
        let key = match &key_file {
            None => {
                self.err(
                    &p.key("key_file"),
                    "missing: the secret every replica shares; create it with \
                     `restgate cluster keygen --out FILE` and give the same file to every replica",
                );
                None
            }
            Some(_) if self.skip_secrets => Some(ClusterKey(std::sync::Arc::from(&[][..]))), // not read
            Some(f) => self.cluster_key(&p.key("key_file"), f),
        };
        let timeout = self.cluster_timeout(&p.key("timeout"), raw.timeout.as_ref());
        let prefix = raw.prefix.clone().unwrap_or_else(|| "restgate:".into());
        if prefix
            .chars()
            .any(|c| c.is_control() || c == ' ' || c == '{' || c == '}')
        {
            self.err(
                &p.key("prefix"),
                format!(
                    "{prefix:?} holds a space, a brace or a control character \
                     (braces would make Redis Cluster hash tags); write e.g. \"restgate:\""
                ),
            );
        }
        Some(Cluster {
            redis_urls,
            username: raw.redis_username.clone(),
            password,
            key_file: key_file?.into(),
            key: key?,
            timeout,
            prefix,
        })
    }

    /// `redis_url`: one URL, or a list of Redis Cluster seeds. Each URL is
    /// checked on its own (with its own line); a list that is not one Redis
    /// Cluster is reported once, from the schemes that are Redis ones.
    fn redis_urls(&mut self, path: &KeyPath, given: Option<&OneOrMany>) -> Vec<String> {
        let written: Vec<(KeyPath, &String)> = match given {
            None => {
                self.err(
                    path,
                    "missing: the Redis the replicas share, e.g. \"redis://redis.internal:6379/0\" \
                     (a list of URLs: Redis Cluster seeds)",
                );
                return Vec::new();
            }
            Some(OneOrMany::One(u)) => vec![(path.clone(), u)],
            Some(OneOrMany::Many(list)) => list
                .iter()
                .enumerate()
                .map(|(i, u)| (path.index(i), u))
                .collect(),
        };
        if written.is_empty() {
            self.err(
                path,
                "empty: give the Redis URL, e.g. \"redis://redis.internal:6379/0\", \
                 or a list of Redis Cluster seeds",
            );
        }
        let seeds = written.len() > 1;
        let mut schemes = Vec::new();
        for (at, text) in &written {
            if let Some(scheme) = self.redis_url(at, text, seeds) {
                schemes.push(scheme);
            }
        }
        if seeds && schemes.iter().any(|s| s.ends_with("-sentinel")) {
            self.err(
                path,
                "a list of URLs means Redis Cluster seeds; for Sentinel give one \
                 redis-sentinel:// URL (more sentinels as &node=host:port)",
            );
        }
        let mut nodes = schemes.iter().filter(|s| !s.ends_with("-sentinel"));
        if let Some(first) = nodes.next()
            && nodes.any(|s| is_tls(s) != is_tls(first))
        {
            self.err(
                path,
                "the seeds mix TLS and plain schemes (the first seed's would decide for all); \
                 write rediss:// for every seed, or for none",
            );
        }
        written.into_iter().map(|(_, u)| u.clone()).collect()
    }

    /// One URL; its scheme when that is a Redis one, whatever else is wrong.
    /// `seed`: one of a list, so a Redis Cluster node (a Sentinel URL there
    /// is the list's error, not the URL's).
    fn redis_url(&mut self, path: &KeyPath, text: &str, seed: bool) -> Option<String> {
        let shown = redacted(text);
        // Reported whatever else is wrong: the password must leave the file.
        if password_span(text).is_some() {
            self.err(
                path,
                format!(
                    "{shown:?} holds a password; remove it from the URL and give it by \
                     `redis_password_env = \"NAME\"` (or `redis_password_file`)"
                ),
            );
        }
        let url = match reqwest::Url::parse(text) {
            Ok(u) => u,
            Err(e) => {
                self.err(
                    path,
                    format!(
                        "{shown:?} is not a URL ({e}); write e.g. \"redis://redis.internal:6379/0\""
                    ),
                );
                return None;
            }
        };
        let scheme = url.scheme();
        if !SCHEMES.contains(&scheme) {
            self.err(
                path,
                format!(
                    "{shown:?}: {scheme}:// is not a Redis URL; write redis:// (rediss:// for TLS, \
                     redis-sentinel:// for Sentinel, redis-cluster:// or a list of URLs for Redis \
                     Cluster; valkey:// likewise)"
                ),
            );
            return None;
        }
        if url.host_str().is_none_or(str::is_empty) {
            self.err(
                path,
                format!("{shown:?} names no host; write e.g. \"{scheme}://redis.internal:6379/0\""),
            );
        }
        for (name, _) in url.query_pairs() {
            if name.to_ascii_lowercase().contains("password") {
                self.err(
                    path,
                    format!(
                        "{shown:?}: `{name}` puts a password in the URL; remove it (restgate \
                         sends the one of `redis_password_env` or `redis_password_file`)"
                    ),
                );
            }
        }
        let sentinel = scheme.ends_with("-sentinel");
        let cluster = seed || scheme.ends_with("-cluster");
        if sentinel
            && !seed
            && !url
                .query_pairs()
                .any(|(k, v)| k == SENTINEL_SERVICE && !v.is_empty())
        {
            self.err(
                path,
                format!(
                    "{shown:?}: Sentinel needs the master's name; add \
                     ?{SENTINEL_SERVICE}=NAME (the name the sentinels monitor)"
                ),
            );
        }
        let db = url.path().strip_prefix('/').unwrap_or(url.path());
        match db.parse::<u8>() {
            _ if db.is_empty() => {}
            Ok(0) => {}
            Ok(_) if cluster => {
                self.err(
                    path,
                    format!(
                        "{shown:?}: Redis Cluster has only database 0; end the URL with /0 or \
                         with the port"
                    ),
                );
            }
            Ok(_) => {}
            Err(_) => {
                self.err(
                    path,
                    format!(
                        "{shown:?}: the path is the database number (0 to 255); write e.g. \
                         \"{scheme}://redis.internal:6379/0\""
                    ),
                );
            }
        }
        Some(scheme.to_owned())
    }

    /// The user is given in one place: `redis_username` or the URL.
    fn redis_username(&mut self, path: &KeyPath, user: &str, urls: &[String]) {
        if user.is_empty() {
            self.err(
                path,
                "empty: remove the key to log in as Redis's default user",
            );
            return;
        }
        let in_url = urls
            .iter()
            .filter_map(|u| reqwest::Url::parse(u).ok())
            .find(|u| !u.username().is_empty());
        if let Some(u) = in_url {
            self.err(
                path,
                format!(
                    "redis_url names a user too ({:?}); give the user in one place: \
                     here, and not in the URL",
                    u.username()
                ),
            );
        }
    }

    /// `timeout`: a duration from 1ms to 10s.
    fn cluster_timeout(&mut self, path: &KeyPath, given: Option<&String>) -> Duration {
        let timeout = self.duration(path, given, TIMEOUT_DEFAULT);
        if !(TIMEOUT_MIN..=TIMEOUT_MAX).contains(&timeout) {
            let text = given.map(String::as_str).unwrap_or(TIMEOUT_DEFAULT);
            self.err(
                path,
                format!(
                    "{text:?} is out of range: give from 1ms to 10s (one Redis call; past it \
                     the request carries on without Redis), e.g. \"{TIMEOUT_DEFAULT}\""
                ),
            );
            return humantime::parse_duration(TIMEOUT_DEFAULT).unwrap_or(TIMEOUT_MIN);
        }
        timeout
    }

    /// Reads and checks the key file: present, a file, not open to every
    /// user, base64 of at least [`MIN_KEY_BYTES`] bytes. One error at most,
    /// and never a byte of its content.
    fn cluster_key(&mut self, path: &KeyPath, file: &str) -> Option<ClusterKey> {
        let keygen = format!("`restgate cluster keygen --out {file}`");
        let meta = match std::fs::metadata(file) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.err(
                    path,
                    format!(
                        "{file} does not exist; create it with {keygen} and give the same file \
                         to every replica"
                    ),
                );
                return None;
            }
            Err(e) => {
                self.err(path, format!("cannot read {file}: {e}"));
                return None;
            }
        };
        if !meta.is_file() {
            self.err(
                path,
                format!(
                    "{file} is not a file; give the file `restgate cluster keygen --out FILE` wrote"
                ),
            );
            return None;
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o007 != 0 {
                self.err(
                    path,
                    format!(
                        "{file} is open to every user (mode {mode:04o}); whoever reads it can \
                         forge shared answers: run `chmod 600 {file}`"
                    ),
                );
                return None;
            }
        }
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                self.err(path, format!("cannot read {file}: {e}"));
                return None;
            }
        };
        let renew = format!(
            "create one with `restgate cluster keygen --out {file} --force` and give it to \
             every replica"
        );
        match base64::engine::general_purpose::STANDARD.decode(text.trim()) {
            Ok(bytes) if bytes.len() >= MIN_KEY_BYTES => Some(ClusterKey(bytes.into())),
            Ok(bytes) if bytes.is_empty() => {
                self.err(path, format!("{file} is empty; {renew}"));
                None
            }
            Ok(bytes) => {
                self.err(
                    path,
                    format!(
                        "{file} holds a key of {} bytes; at least {MIN_KEY_BYTES} are needed: \
                         {renew}",
                        bytes.len()
                    ),
                );
                None
            }
            Err(_) => {
                self.err(
                    path,
                    format!(
                        "{file} is not a cluster key (base64 of {MIN_KEY_BYTES} random bytes); \
                         {renew}"
                    ),
                );
                None
            }
        }
    }
}

/// A TLS scheme (`rediss`, `valkeys-cluster`, …).
fn is_tls(scheme: &str) -> bool {
    scheme.starts_with("rediss") || scheme.starts_with("valkeys")
}

/// Where the password of `scheme://user:password@host…` is, read as the URL
/// parser reads it: the authority ends at the first `/`, `?` or `#`, and
/// its last `@` ends the user information. `None` for no or an empty
/// password.
fn password_span(text: &str) -> Option<Range<usize>> {
    let start = text.find("://")? + 3;
    let rest = &text[start..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let at = authority.rfind('@')?;
    let colon = authority[..at].find(':')?;
    let span = start + colon + 1..start + at;
    (!span.is_empty()).then_some(span)
}

/// The URL as messages show it: its password, if any, as `<redacted>`.
fn redacted(text: &str) -> String {
    match password_span(text) {
        Some(r) => format!("{}<redacted>{}", &text[..r.start], &text[r.end..]),
        None => text.to_owned(),
    }
}
