//! Raw config → typed [`Config`], collecting every problem with file, line and key.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;
use serde::de::DeserializeOwned;
use toml_edit::Document;

use super::locate::{KeyPath, Step, line_at, line_of};
use super::raw;
use super::*;
use crate::auth::route::PathPrefix;

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file.
    pub file: String,
    /// 1-based line, where the key is present.
    pub line: Option<usize>,
    /// The key path (`providers.okta.timeout`).
    pub key: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.key.is_empty()) {
            (Some(l), false) => write!(f, "{}:{l}: {}: {}", self.file, self.key, self.message),
            (Some(l), true) => write!(f, "{}:{l}: {}", self.file, self.message),
            (None, false) => write!(f, "{}: {}: {}", self.file, self.key, self.message),
            (None, true) => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// Every problem found in a config file.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Reads and validates a config file.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, path),
        Err(e) => Err(ConfigErrors(vec![ConfigError {
            file: path.display().to_string(),
            line: None,
            key: String::new(),
            message: format!("cannot read the config file: {e}"),
        }])),
    }
}

/// Validates config text; `source` names it in messages and resolves relative files.
pub fn parse(text: &str, source: &Path) -> Result<Config, ConfigErrors> {
    let file = source.display().to_string();
    let syntax = |span: Option<std::ops::Range<usize>>, message: &str| {
        ConfigErrors(vec![ConfigError {
            file: file.clone(),
            line: span.map(|s| line_at(text, s.start)),
            key: String::new(),
            message: format!("not valid TOML: {}", message.trim()),
        }])
    };
    let doc = Document::parse(text.to_owned()).map_err(|e| syntax(e.span(), e.message()))?;
    let table: toml::Table = toml::from_str(text).map_err(|e| syntax(e.span(), e.message()))?;
    let mut cx = Cx {
        file,
        doc,
        errors: Vec::new(),
        broken: Vec::new(),
        declared_providers: Vec::new(),
        base: source.parent().unwrap_or(Path::new(".")).to_path_buf(),
    };
    let config = cx.config(&table, source);
    if cx.errors.is_empty() {
        Ok(config)
    } else {
        // Reading order: by line; errors without a line last.
        cx.errors.sort_by_key(|e| e.line.unwrap_or(usize::MAX));
        Err(ConfigErrors(cx.errors))
    }
}

/// The validation context: where errors are collected.
struct Cx {
    file: String,
    doc: Document<String>,
    errors: Vec<ConfigError>,
    /// Sections that did not deserialize: their defaults would only add noise.
    broken: Vec<KeyPath>,
    /// Every `[providers.NAME]` table, valid or not.
    declared_providers: Vec<String>,
    /// The config file's directory: relative file paths start there.
    base: std::path::PathBuf,
}

const DEFAULT_SESSION_COOKIES: &[&str] = &[
    "JSESSIONID",
    "seraph.rememberme.cookie",
    "seraph.confluence",
    "BITBUCKETSESSIONID",
    "_atl_bitbucket_remember_me",
    "crowd.token_key",
];

// === impl Cx: plumbing ===

impl Cx {
    fn base(&self) -> &Path {
        &self.base
    }

    fn err(&mut self, path: &KeyPath, message: impl Into<String>) {
        if self.broken.iter().any(|b| path.0.starts_with(&b.0)) {
            return;
        }
        self.errors.push(ConfigError {
            file: self.file.clone(),
            line: line_of(&self.doc, path),
            key: path.to_string(),
            message: message.into(),
        });
    }

    /// Deserializes one section; on error records it (with the failing key) and
    /// returns `None`.
    fn section<T: DeserializeOwned>(&mut self, path: &KeyPath, value: &toml::Value) -> Option<T> {
        match serde_path_to_error::deserialize::<_, T>(value.clone()) {
            Ok(v) => Some(v),
            Err(e) => {
                let mut at = path.clone();
                for seg in e.path().iter() {
                    match seg {
                        serde_path_to_error::Segment::Map { key } => at = at.key(key),
                        serde_path_to_error::Segment::Seq { index } => at = at.index(*index),
                        _ => {}
                    }
                }
                let message = e.inner().to_string();
                if let Some(field) = unknown_field(&message) {
                    if at.0.last() != Some(&Step::Key(field.to_owned())) {
                        at = at.key(field);
                    }
                    let expected = message.split_once(", expected").map(|x| x.1).unwrap_or("");
                    let msg = format!("unknown key; expected{expected}");
                    self.err(&at, msg);
                } else {
                    self.err(&at, message);
                }
                self.broken.push(path.clone());
                None
            }
        }
    }

    fn duration(&mut self, path: &KeyPath, value: Option<&String>, default: &str) -> Duration {
        let text = value.map(String::as_str).unwrap_or(default);
        match humantime::parse_duration(text) {
            Ok(d) => d,
            Err(e) => {
                self.err(
                    path,
                    format!("invalid duration {text:?} ({e}); write e.g. \"3s\", \"5m\", \"1h\""),
                );
                humantime::parse_duration(default).unwrap_or_default()
            }
        }
    }

    /// A count that must be at least 1.
    pub(super) fn positive(&mut self, path: &KeyPath, value: Option<u64>, default: usize) -> usize {
        match value {
            None => default,
            Some(0) => {
                self.err(path, "must be at least 1");
                default
            }
            Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        }
    }

    fn header(&mut self, path: &KeyPath, value: &str) -> Option<HeaderName> {
        match HeaderName::from_str(value) {
            Ok(h) => Some(h),
            Err(_) => {
                self.err(path, format!("{value:?} is not a valid HTTP header name"));
                None
            }
        }
    }

    fn url(&mut self, path: &KeyPath, value: &str) -> Option<reqwest::Url> {
        match reqwest::Url::parse(value) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(u),
            Ok(_) => {
                self.err(
                    path,
                    format!("{value:?} must be an http:// or https:// URL"),
                );
                None
            }
            Err(e) => {
                self.err(path, format!("{value:?} is not a URL ({e})"));
                None
            }
        }
    }

    fn one_of<T: Copy>(
        &mut self,
        path: &KeyPath,
        value: Option<&String>,
        choices: &[(&str, T)],
    ) -> T {
        let Some(v) = value else { return choices[0].1 };
        if let Some((_, t)) = choices.iter().find(|(name, _)| name == v) {
            return *t;
        }
        let names: Vec<String> = choices.iter().map(|(n, _)| format!("{n:?}")).collect();
        self.err(path, format!("{v:?} is not one of {}", names.join(", ")));
        choices[0].1
    }

    fn secret(
        &mut self,
        path: &KeyPath,
        env: Option<&String>,
        file: Option<&String>,
        base: &Path,
    ) -> Option<Secret> {
        let source = match (env, file) {
            (Some(_), Some(_)) => {
                self.err(
                    path,
                    "give the secret either by `_env` or by `_file`, not both",
                );
                return None;
            }
            (Some(e), None) => SecretSource::Env(e.clone()),
            (None, Some(f)) => SecretSource::File(resolve(base, f)),
            (None, None) => return None,
        };
        match source.read() {
            Ok(s) => Some(s),
            Err(msg) => {
                self.err(path, msg);
                None
            }
        }
    }

    fn username(&mut self, path: &KeyPath, value: &str) -> bool {
        if crate::auth::identity::is_valid_username(value) {
            true
        } else {
            self.err(
                path,
                format!("{value:?} is not a usable username (empty, or has control characters)"),
            );
            false
        }
    }

    fn path_prefix(&mut self, path: &KeyPath, value: &str) -> Option<PathPrefix> {
        match PathPrefix::parse(value) {
            Ok(p) => Some(p),
            Err(e) => {
                self.err(
                    path,
                    format!("{value:?} is not a canonical path prefix: {e}"),
                );
                None
            }
        }
    }
}

// === impl Cx: sections ===

impl Cx {
    fn config(&mut self, table: &toml::Table, source: &Path) -> Config {
        for key in table.keys() {
            if !raw::SECTIONS.contains(&key.as_str()) {
                let expected = raw::SECTIONS.join("`, `");
                self.err(
                    &KeyPath::root(key),
                    format!("unknown section; expected one of `{expected}`"),
                );
            }
        }
        let base = source.parent().unwrap_or(Path::new("."));
        let get = |k: &str| table.get(k);
        let server: raw::RawServer = self.opt_section("server", get("server"));
        let upstream: raw::RawUpstream = self.opt_section("upstream", get("upstream"));
        let auth: raw::RawAuth = self.opt_section("auth", get("auth"));
        let cache: raw::RawCache = self.opt_section("cache", get("cache"));
        let directory: raw::RawDirectory = self.opt_section("directory", get("directory"));

        let providers = self.providers(get("providers"), base);
        let auth = self.auth(&auth, &providers);
        let upstream = self.upstream(&upstream, base);
        self.distinct_headers(&upstream, &auth);
        let mut directory = self.directory(&directory, base);
        if let Directory::Atlassian(d) = &mut directory {
            // Lookups go to the product's own API, at the upstream origin.
            let origin = upstream.url.to_string();
            d.base_url = format!("{}{}", origin.trim_end_matches('/'), d.base_url);
        }
        Config {
            source: source.to_path_buf(),
            server: self.server(&server, base),
            upstream,
            cache: self.cache(&cache),
            directory,
            api_keys: self.api_keys(get("api_keys")),
            routes: self.routes(get("route")),
            auth,
            providers,
        }
    }

    fn opt_section<T: DeserializeOwned + Default>(
        &mut self,
        name: &str,
        value: Option<&toml::Value>,
    ) -> T {
        value
            .and_then(|v| self.section(&KeyPath::root(name), v))
            .unwrap_or_default()
    }

    fn server(&mut self, raw: &raw::RawServer, base: &Path) -> Server {
        let p = KeyPath::root("server");
        let addr = |cx: &mut Cx, key: &str, v: Option<&String>, default: &str| {
            let text = v.map(String::as_str).unwrap_or(default);
            text.parse().unwrap_or_else(|_| {
                cx.err(
                    &p.key(key),
                    format!("{text:?} is not a socket address; write e.g. \"0.0.0.0:8080\""),
                );
                default.parse().expect("default address")
            })
        };
        let listen = addr(self, "listen", raw.listen.as_ref(), "0.0.0.0:8080");
        let admin_listen = addr(
            self,
            "admin_listen",
            raw.admin_listen.as_ref(),
            "127.0.0.1:9901",
        );
        let max_header_bytes = raw.max_header_bytes.unwrap_or(65536);
        if !(8192..=1 << 20).contains(&max_header_bytes) {
            self.err(
                &p.key("max_header_bytes"),
                "must be between 8192 and 1048576",
            );
        }
        let tls = match (&raw.tls_cert_file, &raw.tls_key_file) {
            (None, None) => None,
            (Some(cert), Some(key)) => {
                match crate::server::tls::server_config(&resolve(base, cert), &resolve(base, key)) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        self.err(&p.key("tls_cert_file"), e);
                        None
                    }
                }
            }
            (Some(_), None) => {
                self.err(
                    &p.key("tls_key_file"),
                    "missing: the private key of tls_cert_file",
                );
                None
            }
            (None, Some(_)) => {
                self.err(
                    &p.key("tls_cert_file"),
                    "missing: the certificate chain for tls_key_file",
                );
                None
            }
        };
        Server {
            listen,
            admin_listen,
            header_read_timeout: self.duration(
                &p.key("header_read_timeout"),
                raw.header_read_timeout.as_ref(),
                "10s",
            ),
            idle_timeout: self.duration(&p.key("idle_timeout"), raw.idle_timeout.as_ref(), "60s"),
            max_header_bytes: max_header_bytes.clamp(8192, 1 << 20) as usize,
            tls,
            max_connections: self.positive(&p.key("max_connections"), raw.max_connections, 10_000),
            fast_http1: raw.fast_http1.unwrap_or(true)
                && std::env::var_os("RESTGATE_FAST_HTTP1").is_none_or(|v| v != "0"),
            shutdown_timeout: self.duration(
                &p.key("shutdown_timeout"),
                raw.shutdown_timeout.as_ref(),
                "30s",
            ),
        }
    }

    fn upstream(&mut self, raw: &raw::RawUpstream, base: &Path) -> Upstream {
        let p = KeyPath::root("upstream");
        let url = match raw.url.as_deref() {
            None => {
                self.err(
                    &p.key("url"),
                    "missing: the Atlassian instance's origin, e.g. \"http://127.0.0.1:8090\"",
                );
                http::Uri::from_static("http://127.0.0.1:8090")
            }
            Some(text) => self.upstream_url(&p.key("url"), text),
        };
        let tls = self.upstream_tls(&p, raw, &url, base);
        let identity_header = raw.identity_header.as_deref().unwrap_or("X-Forwarded-User");
        let identity_header = self.header(&p.key("identity_header"), identity_header);
        let email_header = raw
            .email_header
            .as_deref()
            .and_then(|h| self.header(&p.key("email_header"), h));
        for (key, h) in [
            ("identity_header", &identity_header),
            ("email_header", &email_header),
        ] {
            if let Some(h) = h {
                if crate::proxy::headers::is_reserved(h) {
                    self.err(
                        &p.key(key),
                        format!(
                            "{h} is a header restgate or HTTP itself manages; choose another name"
                        ),
                    );
                }
            }
        }
        let identity = self.one_of(
            &p.key("identity"),
            raw.identity.as_ref(),
            &[
                ("header", IdentityMode::Header),
                ("oauth1", IdentityMode::OAuth1),
            ],
        );
        let oauth1 = match (identity, &raw.oauth1) {
            (IdentityMode::OAuth1, Some(o)) => self.oauth1(&p.key("oauth1"), o, base),
            (IdentityMode::OAuth1, None) => {
                self.err(
                    &p.key("oauth1"),
                    "missing: identity = \"oauth1\" needs [upstream.oauth1]",
                );
                None
            }
            (IdentityMode::Header, Some(_)) => {
                self.err(&p.key("oauth1"), "only used with identity = \"oauth1\"");
                None
            }
            (IdentityMode::Header, None) => None,
        };
        let secret = self.secret(
            &p.key("shared_secret_env"),
            raw.shared_secret_env.as_ref(),
            raw.shared_secret_file.as_ref(),
            base,
        );
        let shared_secret = match (&raw.shared_secret_header, secret) {
            (Some(h), Some(s)) => self
                .header(&p.key("shared_secret_header"), h)
                .map(|h| (h, s)),
            (Some(_), None) => {
                self.err(
                    &p.key("shared_secret_header"),
                    "needs `shared_secret_env` or `shared_secret_file`",
                );
                None
            }
            (None, Some(_)) => {
                self.err(
                    &p.key("shared_secret_header"),
                    "missing: the header that carries the shared secret",
                );
                None
            }
            (None, None) => None,
        };
        Upstream {
            url,
            identity_header: identity_header.unwrap_or(HeaderName::from_static("x-forwarded-user")),
            email_header,
            strip_authorization: raw.strip_authorization.unwrap_or(true),
            identity,
            connect_timeout: self.duration(
                &p.key("connect_timeout"),
                raw.connect_timeout.as_ref(),
                "5s",
            ),
            response_timeout: self.duration(
                &p.key("response_timeout"),
                raw.response_timeout.as_ref(),
                "300s",
            ),
            shared_secret,
            oauth1,
            tls,
        }
    }

    fn oauth1(&mut self, p: &KeyPath, raw: &raw::RawOAuth1, base: &Path) -> Option<OAuth1> {
        let consumer_key = raw.consumer_key.clone();
        if consumer_key.as_deref().is_none_or(str::is_empty) {
            self.err(
                &p.key("consumer_key"),
                "missing: the consumer key of the product's incoming link",
            );
        }
        let private_key = match &raw.private_key_file {
            None => {
                self.err(
                    &p.key("private_key_file"),
                    "missing: the consumer's RSA private key (`restgate oauth1 keygen` makes one)",
                );
                None
            }
            Some(f) => match crate::proxy::oauth1::load_private_key(&resolve(base, f)) {
                Ok(k) => Some(k),
                Err(e) => {
                    self.err(&p.key("private_key_file"), e);
                    None
                }
            },
        };
        let signed_base_url = match &raw.signed_base_url {
            None => {
                self.err(&p.key("signed_base_url"), "missing: the public URL the product's Tomcat rebuilds, e.g. \"https://jira.example.com\"");
                None
            }
            Some(u) => match crate::proxy::oauth1::normalise_base_url(u) {
                Ok(n) => Some(n),
                Err(e) => {
                    self.err(&p.key("signed_base_url"), e);
                    None
                }
            },
        };
        Some(OAuth1 {
            consumer_key: consumer_key?,
            private_key: private_key?,
            signed_base_url: signed_base_url?,
        })
    }

    /// The headers restgate sets or reads must be different headers: setting one
    /// would otherwise overwrite or remove another.
    fn distinct_headers(&mut self, upstream: &Upstream, auth: &Auth) {
        let mut named: Vec<(&str, &HeaderName)> =
            vec![("upstream.identity_header", &upstream.identity_header)];
        named.extend(
            upstream
                .email_header
                .as_ref()
                .map(|h| ("upstream.email_header", h)),
        );
        named.extend(
            upstream
                .shared_secret
                .as_ref()
                .map(|(h, _)| ("upstream.shared_secret_header", h)),
        );
        named.push(("auth.api_key_header", &auth.api_key_header));
        let same = |a: &HeaderName, b: &HeaderName| {
            a.as_str().replace('_', "-") == b.as_str().replace('_', "-")
        };
        for (i, (key, h)) in named.iter().enumerate() {
            if let Some((other, _)) = named[..i].iter().find(|(_, o)| same(o, h)) {
                let path = KeyPath(key.split('.').map(|k| Step::Key(k.to_owned())).collect());
                self.err(
                    &path,
                    format!("{h} is also {other}; each needs its own header"),
                );
            }
        }
    }

    /// The TLS client config for an https upstream.
    fn upstream_tls(
        &mut self,
        p: &KeyPath,
        raw: &raw::RawUpstream,
        url: &http::Uri,
        base: &Path,
    ) -> Option<Arc<rustls::ClientConfig>> {
        let ca = raw.ca_file.as_deref().map(|f| resolve(base, f));
        let cert = raw.client_cert_file.as_deref().map(|f| resolve(base, f));
        let key = raw.client_key_file.as_deref().map(|f| resolve(base, f));
        if url.scheme_str() != Some("https") {
            for (k, v) in [
                ("ca_file", &ca),
                ("client_cert_file", &cert),
                ("client_key_file", &key),
            ] {
                if v.is_some() {
                    self.err(&p.key(k), "only used with an https:// upstream");
                }
            }
            return None;
        }
        let client_cert = match (cert, key) {
            (None, None) => None,
            (Some(cert_file), Some(key_file)) => Some(crate::proxy::tls::ClientCert {
                cert_file,
                key_file,
            }),
            (Some(_), None) => {
                self.err(
                    &p.key("client_key_file"),
                    "missing: the private key for client_cert_file",
                );
                return None;
            }
            (None, Some(_)) => {
                self.err(
                    &p.key("client_cert_file"),
                    "missing: the certificate for client_key_file",
                );
                return None;
            }
        };
        match crate::proxy::tls::client_config(ca.as_deref(), client_cert.as_ref()) {
            Ok(c) => Some(c),
            Err(e) => {
                // Each message names its file: blame the key that holds it.
                let key = match &ca {
                    Some(ca) if e.contains(ca.as_str()) => "ca_file",
                    _ if client_cert.is_some() => "client_cert_file",
                    _ => "ca_file",
                };
                self.err(&p.key(key), e);
                None
            }
        }
    }

    fn upstream_url(&mut self, path: &KeyPath, text: &str) -> http::Uri {
        let fallback = http::Uri::from_static("http://127.0.0.1:8090");
        let uri: http::Uri = match text.parse() {
            Ok(u) => u,
            Err(e) => {
                self.err(path, format!("{text:?} is not a URL ({e})"));
                return fallback;
            }
        };
        if !matches!(uri.scheme_str(), Some("http" | "https")) {
            self.err(
                path,
                format!("{text:?} must start with http:// or https://"),
            );
            return fallback;
        }
        if uri.authority().is_none() {
            self.err(path, format!("{text:?} has no host"));
            return fallback;
        }
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            self.err(path, "give the origin only (scheme://host:port): request paths, context path included, are forwarded as sent");
            return fallback;
        }
        uri
    }

    fn auth(&mut self, raw: &raw::RawAuth, providers: &BTreeMap<String, Arc<Provider>>) -> Auth {
        let p = KeyPath::root("auth");
        let protected_paths = match &raw.protected_paths {
            None => vec![PathPrefix::parse("/rest/").expect("default prefix")],
            Some(list) => list
                .iter()
                .enumerate()
                .filter_map(|(i, s)| self.path_prefix(&p.key("protected_paths").index(i), s))
                .collect(),
        };
        let order = match &raw.providers {
            None => providers.keys().cloned().collect(),
            Some(list) => {
                for (i, name) in list.iter().enumerate() {
                    if !self.declared_providers.contains(name) {
                        self.err(
                            &p.key("providers").index(i),
                            format!("no [providers.{name}] table"),
                        );
                    }
                }
                list.clone()
            }
        };
        let pass_reject = [
            ("pass", PassOrReject::Pass),
            ("reject", PassOrReject::Reject),
        ];
        let reject_pass = [
            ("reject", PassOrReject::Reject),
            ("pass", PassOrReject::Pass),
        ];
        let api_key_header = raw.api_key_header.as_deref().unwrap_or("X-API-Key");
        let api_key_prefix = raw.api_key_prefix.clone().unwrap_or_else(|| "rgk_".into());
        if api_key_prefix.len() < 3
            || !api_key_prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            self.err(
                &p.key("api_key_prefix"),
                "use 3 or more letters, digits, `_` or `-` (e.g. \"rgk_\")",
            );
        }
        let realm = raw.realm.clone().unwrap_or_else(|| "restgate".into());
        if realm.is_empty()
            || realm
                .bytes()
                .any(|b| b == b'"' || b == b'\\' || !(0x20..0x7f).contains(&b))
        {
            self.err(
                &p.key("realm"),
                "use printable ASCII without quotes or backslashes",
            );
        }
        Auth {
            enabled: raw.enabled.unwrap_or(true),
            protected_paths,
            native: self.one_of(&p.key("native"), raw.native.as_ref(), &pass_reject),
            unknown_bearer: self.one_of(
                &p.key("unknown_bearer"),
                raw.unknown_bearer.as_ref(),
                &reject_pass,
            ),
            providers: order,
            api_key_header: self
                .header(&p.key("api_key_header"), api_key_header)
                .unwrap_or(HeaderName::from_static("x-api-key")),
            api_key_prefix,
            realm,
            session_cookies: raw.session_cookies.clone().unwrap_or_else(|| {
                DEFAULT_SESSION_COOKIES
                    .iter()
                    .map(|s| s.to_string())
                    .collect()
            }),
        }
    }

    fn cache(&mut self, raw: &raw::RawCache) -> Cache {
        let p = KeyPath::root("cache");
        let max_entries = raw.max_entries.unwrap_or(100_000);
        if max_entries == 0 {
            self.err(&p.key("max_entries"), "must be at least 1");
        }
        Cache {
            max_entries,
            ttl: self.duration(&p.key("ttl"), raw.ttl.as_ref(), "5m"),
            negative_ttl: self.duration(&p.key("negative_ttl"), raw.negative_ttl.as_ref(), "30s"),
            stale_if_error: self.duration(
                &p.key("stale_if_error"),
                raw.stale_if_error.as_ref(),
                "0s",
            ),
        }
    }
}

/// A relative file path in the config is relative to the config file.
pub(super) fn resolve(base: &Path, file: &str) -> String {
    let p = Path::new(file);
    if p.is_absolute() {
        file.to_owned()
    } else {
        base.join(p).display().to_string()
    }
}

/// The field named by serde's "unknown field `x`, expected …" message.
fn unknown_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split_once('`').map(|(f, _)| f)
}

mod keys;
mod kinds;
mod oidc;
mod parts;
mod presets;
mod provider;

pub use parts::directory_key;
pub use presets::is_guid;

#[cfg(test)]
mod tests;
