//! `[cluster]`: the Redis the replicas share and the key that seals it.

use std::path::Path;

use base64::Engine as _;

use super::super::locate::KeyPath;
use super::super::raw;
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

impl Cx {
    pub(super) fn cluster(&mut self, raw: &raw::RawCluster, base: &Path) -> Option<Cluster> {
        let p = KeyPath::root("cluster");
        let urls = match &raw.redis_url {
            None => {
                self.err(
                    &p.key("redis_url"),
                    "missing: the Redis the replicas share, e.g. \"redis://127.0.0.1:6379/0\"",
                );
                Vec::new()
            }
            Some(u) => u.to_vec(),
        };
        if raw.redis_url.is_some() && urls.is_empty() {
            self.err(&p.key("redis_url"), "give at least one URL");
        }
        for url in &urls {
            self.redis_url(&p.key("redis_url"), url, urls.len() > 1);
        }
        let password = self.secret(
            &p.key(if raw.redis_password_file.is_some() {
                "redis_password_file"
            } else {
                "redis_password_env"
            }),
            raw.redis_password_env.as_ref(),
            raw.redis_password_file.as_ref(),
            base,
        );
        let key = match &raw.key_file {
            None => {
                self.err(
                    &p.key("key_file"),
                    "missing: the shared secret of the replicas (create it with `restgate cluster keygen --out FILE`)",
                );
                None
            }
            Some(f) => self.cluster_key(&p.key("key_file"), &resolve(base, f)),
        };
        let timeout = self.duration(&p.key("timeout"), raw.timeout.as_ref(), "100ms");
        if timeout.is_zero() || timeout > std::time::Duration::from_secs(10) {
            self.err(&p.key("timeout"), "must be between 1ms and 10s");
        }
        let prefix = raw.prefix.clone().unwrap_or_else(|| "restgate:".into());
        if prefix
            .chars()
            .any(|c| c.is_control() || c == ' ' || c == '{' || c == '}')
        {
            self.err(
                &p.key("prefix"),
                "must not hold spaces, braces or control characters",
            );
        }
        Some(Cluster {
            redis_urls: urls,
            username: raw.redis_username.clone(),
            password,
            key_file: raw
                .key_file
                .as_deref()
                .map(|f| resolve(base, f))
                .unwrap_or_default()
                .into(),
            key: key?,
            timeout,
            prefix,
        })
    }

    fn redis_url(&mut self, path: &KeyPath, text: &str, seeds: bool) {
        let url = match reqwest::Url::parse(text) {
            Ok(u) => u,
            Err(e) => {
                self.err(path, format!("{text:?} is not a URL ({e})"));
                return;
            }
        };
        let scheme = url.scheme();
        if !SCHEMES.contains(&scheme) {
            self.err(
                path,
                format!("{text:?}: the scheme must be redis:// (rediss:// for TLS; redis-sentinel://, redis-cluster://)"),
            );
            return;
        }
        if url.host().is_none() {
            self.err(path, format!("{text:?} names no host"));
        }
        if url.password().is_some() {
            self.err(
                path,
                "holds a password; give it by redis_password_env or redis_password_file",
            );
        }
        if seeds && scheme.contains("sentinel") {
            self.err(
                path,
                "a list of URLs means Redis Cluster seeds; for Sentinel give one redis-sentinel:// URL",
            );
        }
    }

    /// Reads and checks the key file: present, not readable by every user,
    /// long enough.
    fn cluster_key(&mut self, path: &KeyPath, file: &str) -> Option<ClusterKey> {
        let meta = match std::fs::metadata(file) {
            Ok(m) => m,
            Err(e) => {
                self.err(path, format!("cannot read {file}: {e}"));
                return None;
            }
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o007 != 0 {
                self.err(
                    path,
                    format!(
                        "{file} is open to every user (mode {mode:04o}); run `chmod 600 {file}`"
                    ),
                );
                return None;
            }
        }
        let _ = meta;
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                self.err(path, format!("cannot read {file}: {e}"));
                return None;
            }
        };
        match base64::engine::general_purpose::STANDARD.decode(text.trim()) {
            Ok(bytes) if bytes.len() >= MIN_KEY_BYTES => Some(ClusterKey(bytes.into())),
            Ok(bytes) => {
                self.err(
                    path,
                    format!(
                        "{file} holds {} bytes of key; at least {MIN_KEY_BYTES} are needed (`restgate cluster keygen --out FILE` writes one)",
                        bytes.len()
                    ),
                );
                None
            }
            Err(_) => {
                self.err(
                    path,
                    format!(
                        "{file} is not a cluster key (base64, as `restgate cluster keygen` writes)"
                    ),
                );
                None
            }
        }
    }
}
