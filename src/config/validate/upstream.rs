//! `[upstream]` and `[upstream.oauth1]`: the origin, the hand-off, TLS, and
//! headers that must each be distinct.

use std::path::Path;
use std::sync::Arc;

use http::HeaderName;

use super::super::locate::{KeyPath, Step};
use super::super::raw;
use super::super::types::*;
use super::cx::{Cx, resolve};

impl Cx {
    pub(super) fn upstream(&mut self, raw: &raw::RawUpstream, base: &Path) -> Upstream {
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
                if crate::core::headers::is_reserved(h) {
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
        let named = raw.shared_secret_env.is_some() || raw.shared_secret_file.is_some();
        let secret = self.secret(
            &p,
            "shared_secret",
            raw.shared_secret_env.as_ref(),
            raw.shared_secret_file.as_ref(),
            base,
        );
        let shared_secret = match (&raw.shared_secret_header, secret) {
            (Some(h), Some(s)) => self
                .header(&p.key("shared_secret_header"), h)
                .map(|h| (h, s)),
            (Some(_), None) if !named => {
                self.err(
                    &p.key("shared_secret_header"),
                    "needs `shared_secret_env` or `shared_secret_file`",
                );
                None
            }
            (Some(_), None) => None, // the secret's own error is reported
            (None, _) if named => {
                self.err(
                    &p.key("shared_secret_header"),
                    "missing: the header that carries the shared secret",
                );
                None
            }
            (None, _) => None,
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

    pub(super) fn oauth1(
        &mut self,
        p: &KeyPath,
        raw: &raw::RawOAuth1,
        base: &Path,
    ) -> Option<OAuth1> {
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
            Some(_) if self.skip_secrets => None, // not read: shown as such
            Some(f) => match super::super::oauth1::load_private_key(&resolve(base, f)) {
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
            Some(u) => match super::super::oauth1::normalise_base_url(u) {
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
    pub(super) fn distinct_headers(&mut self, upstream: &Upstream, auth: &Auth) {
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
        for (i, (key, h)) in named.iter().enumerate() {
            if let Some((other, _)) = named[..i]
                .iter()
                .find(|(_, o)| crate::core::headers::same_name(o, h))
            {
                let path = KeyPath(key.split('.').map(|k| Step::Key(k.to_owned())).collect());
                self.err(
                    &path,
                    format!("{h} is also {other}; each needs its own header"),
                );
            }
        }
    }

    /// The TLS client config for an https upstream.
    pub(super) fn upstream_tls(
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
            (Some(cert_file), Some(key_file)) => Some(super::super::tls::ClientCert {
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
        match super::super::tls::client_config(ca.as_deref(), client_cert.as_ref()) {
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

    pub(super) fn upstream_url(&mut self, path: &KeyPath, text: &str) -> http::Uri {
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
}
