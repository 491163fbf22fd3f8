//! `[auth]` and `[cache]`.

use std::collections::BTreeMap;
use std::sync::Arc;

use http::HeaderName;

use super::super::locate::KeyPath;
use super::super::provider::*;
use super::super::raw;
use super::super::types::*;
use super::cx::{Cx, DEFAULT_SESSION_COOKIES};
use crate::core::path::PathPrefix;

impl Cx {
    pub(super) fn auth(
        &mut self,
        raw: &raw::RawAuth,
        providers: &BTreeMap<String, Arc<Provider>>,
    ) -> Auth {
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

    pub(super) fn cache(&mut self, raw: &raw::RawCache) -> Cache {
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
