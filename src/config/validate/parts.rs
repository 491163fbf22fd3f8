//! Validation of the directory, API keys and routes.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

use http::Method;

use super::super::locate::KeyPath;
use super::super::raw;
use super::super::types::*;
use super::cx::{Cx, resolve};

/// Methods a route may name (an unknown one is a typo, not an extension).
const KNOWN_METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "PROPFIND",
    "REPORT", "MKCOL", "MOVE", "COPY", "LOCK", "UNLOCK",
];

impl Cx {
    pub(super) fn directory(&mut self, raw: &raw::RawDirectory, base: &Path) -> Directory {
        let p = KeyPath::root("directory");
        match raw.kind.as_deref().unwrap_or("none") {
            "none" => {
                for (key, set) in [
                    ("users", raw.users.is_some()),
                    ("users_file", raw.users_file.is_some()),
                    ("match", raw.match_field.is_some()),
                ] {
                    if set {
                        self.err(&p.key(key), "only used with kind = \"static\"");
                    }
                }
                Directory::None
            }
            "static" => {
                let match_field = self.one_of(
                    &p.key("match"),
                    raw.match_field.as_ref(),
                    &[
                        ("username", MatchField::Username),
                        ("email", MatchField::Email),
                    ],
                );
                let mut users = BTreeMap::new();
                for (k, v) in raw.users.iter().flatten() {
                    if self.username(&p.key("users").key(k), v) {
                        users.insert(directory_key(match_field, k), v.clone());
                    }
                }
                if let Some(file) = &raw.users_file {
                    self.users_file(
                        &p.key("users_file"),
                        &resolve(base, file),
                        match_field,
                        &mut users,
                    );
                }
                if raw.users.is_none() && raw.users_file.is_none() {
                    self.err(
                        &p.key("users"),
                        "a static directory needs [directory.users] or `users_file`",
                    );
                }
                Directory::Static { match_field, users }
            }
            "atlassian" => self
                .atlassian_directory(&p, raw, base)
                .map_or(Directory::None, |d| Directory::Atlassian(Box::new(d))),
            other => {
                self.err(
                    &p.key("kind"),
                    format!("{other:?} is not one of \"none\", \"static\", \"atlassian\""),
                );
                Directory::None
            }
        }
    }

    fn atlassian_directory(
        &mut self,
        p: &KeyPath,
        raw: &raw::RawDirectory,
        base: &Path,
    ) -> Option<AtlassianDirectory> {
        let product = match raw.product.as_deref() {
            Some("jira") => AtlassianProduct::Jira,
            Some("confluence") => AtlassianProduct::Confluence,
            Some("bitbucket") => AtlassianProduct::Bitbucket,
            Some(other) => {
                self.err(
                    &p.key("product"),
                    format!("{other:?} is not one of \"jira\", \"confluence\", \"bitbucket\""),
                );
                return None;
            }
            None => {
                self.err(
                    &p.key("product"),
                    "missing: \"jira\", \"confluence\" or \"bitbucket\"",
                );
                return None;
            }
        };
        let match_field = self.one_of(
            &p.key("match"),
            raw.match_field.as_ref(),
            &[
                ("username", MatchField::Username),
                ("email", MatchField::Email),
            ],
        );
        if product == AtlassianProduct::Confluence && match_field == MatchField::Email {
            self.err(
                &p.key("match"),
                "Confluence's REST API cannot find a user by email; use match = \"username\"",
            );
        }
        if raw.token_env.is_none() && raw.token_file.is_none() {
            self.err(
                &p.key("token_env"),
                "missing: an admin's personal access token (`token_env` or `token_file`)",
            );
        }
        let token = self.secret(
            p,
            "token",
            raw.token_env.as_ref(),
            raw.token_file.as_ref(),
            base,
        );
        let context = raw.context_path.clone().unwrap_or_default();
        if !context.is_empty() && (!context.starts_with('/') || context.ends_with('/')) {
            self.err(
                &p.key("context_path"),
                "write it like \"/jira\" (leading slash, no trailing slash)",
            );
        }
        let timeout = self.duration(&p.key("timeout"), raw.timeout.as_ref(), "3s");
        Some(AtlassianDirectory {
            product,
            match_field,
            // The context path for now; `Cx::config` prefixes the upstream origin.
            base_url: context,
            token: token?,
            timeout,
        })
    }

    /// A CSV of `key,username` lines; `#` starts a comment.
    fn users_file(
        &mut self,
        p: &KeyPath,
        file: &str,
        field: MatchField,
        users: &mut BTreeMap<String, String>,
    ) {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => return self.err(p, format!("cannot read {file}: {e}")),
        };
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match line.split_once(',') {
                Some((k, v))
                    if !k.trim().is_empty()
                        && crate::core::principal::is_valid_username(v.trim()) =>
                {
                    users.insert(directory_key(field, k.trim()), v.trim().to_owned());
                }
                _ => self.err(p, format!("{file}:{}: expected `key,username`", n + 1)),
            }
        }
    }

    /// The entries of an array of tables (`[[route]]`) that deserialize, with
    /// their index and key path; the others are reported.
    fn table_list<T: serde::de::DeserializeOwned>(
        &mut self,
        name: &str,
        value: Option<&toml::Value>,
    ) -> Vec<(usize, KeyPath, T)> {
        let root = KeyPath::root(name);
        let Some(list) = value.and_then(|v| self.section::<Vec<toml::Value>>(&root, v)) else {
            return Vec::new();
        };
        list.iter()
            .enumerate()
            .filter_map(|(i, v)| {
                let p = root.index(i);
                self.section::<T>(&p, v).map(|raw| (i, p, raw))
            })
            .collect()
    }

    pub(super) fn api_keys(&mut self, value: Option<&toml::Value>) -> Vec<ApiKey> {
        let mut out = Vec::new();
        for (i, p, raw) in self.table_list::<raw::RawApiKey>("api_keys", value) {
            let user = match &raw.user {
                Some(u) if self.username(&p.key("user"), u) => u.clone(),
                Some(_) => continue,
                None => {
                    self.err(&p.key("user"), "missing: the user this key acts as");
                    continue;
                }
            };
            let Some(hash) = raw.hash.as_deref() else {
                self.err(
                    &p.key("hash"),
                    "missing: the \"sha256:…\" line printed by `restgate key generate`",
                );
                continue;
            };
            let Some(hash) = parse_sha256(hash) else {
                self.err(
                    &p.key("hash"),
                    "expected \"sha256:\" and 64 hex digits (never the key itself)",
                );
                continue;
            };
            let expires = match raw.expires.as_deref() {
                None => None,
                Some(day) => match humantime::parse_rfc3339(&format!("{day}T23:59:59Z")) {
                    Ok(t) => Some(
                        t.duration_since(std::time::UNIX_EPOCH)
                            .map(|d| d.as_secs())
                            .unwrap_or(0),
                    ),
                    Err(_) => {
                        self.err(
                            &p.key("expires"),
                            format!("{day:?} is not a date; write e.g. \"2027-06-30\""),
                        );
                        continue;
                    }
                },
            };
            out.push(ApiKey {
                name: raw.name.unwrap_or_else(|| format!("key-{i}")),
                user,
                hash,
                expires,
            });
        }
        out
    }

    pub(super) fn routes(&mut self, value: Option<&toml::Value>) -> Vec<Route> {
        let mut out = Vec::new();
        for (_, p, raw) in self.table_list::<raw::RawRoute>("route", value) {
            let Some(path) = raw.path.as_deref() else {
                self.err(&p.key("path"), "missing: the path prefix this route covers");
                continue;
            };
            let path = self.path_prefix(&p.key("path"), path);
            let methods = raw.methods.as_ref().map(|ms| {
                ms.iter()
                    .enumerate()
                    .filter_map(|(j, m)| match Method::from_str(&m.to_ascii_uppercase()) {
                        Ok(m) if KNOWN_METHODS.contains(&m.as_str()) => Some(m),
                        _ => {
                            self.err(
                                &p.key("methods").index(j),
                                format!("{m:?} is not an HTTP method"),
                            );
                            None
                        }
                    })
                    .collect()
            });
            let Some(path) = path else { continue };
            out.push(Route {
                path,
                methods,
                protected: raw.protected.unwrap_or(true),
                require_scopes: raw.require_scopes.unwrap_or_default(),
                allow_users: raw.allow_users.unwrap_or_default(),
                allow_providers: raw.allow_providers.unwrap_or_default(),
                require_audience: raw.require_audience.unwrap_or_default(),
            });
        }
        out
    }
}
/// Emails match case-insensitively; usernames exactly.
pub fn directory_key(field: MatchField, key: &str) -> String {
    match field {
        MatchField::Email => key.to_ascii_lowercase(),
        MatchField::Username => key.to_owned(),
    }
}

fn parse_sha256(text: &str) -> Option<[u8; 32]> {
    let hex = text.strip_prefix("sha256:")?;
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}
