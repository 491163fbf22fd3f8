//! Validation of `[providers.NAME]` tables.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use super::super::locate::KeyPath;
use super::super::provider::*;
use super::super::raw::{self, OneOrMany};
use super::super::secret::Secret;
use super::assembly::{DEFAULT_ALGORITHMS, Parts, audiences};
use super::cx::{Cx, resolve};
use super::kinds::GENERIC_CLIENT_CLAIMS;

impl Cx {
    pub(super) fn providers(
        &mut self,
        value: Option<&toml::Value>,
        base: &Path,
    ) -> BTreeMap<String, Arc<Provider>> {
        let mut out = BTreeMap::new();
        let Some(value) = value else { return out };
        let root = KeyPath::root("providers");
        let Some(table) = value.as_table() else {
            self.err(&root, "must be a table of [providers.NAME] tables");
            return out;
        };
        self.declared_providers = table.keys().cloned().collect();
        for (name, v) in table {
            let p = root.key(name);
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                self.err(&p, "provider names use letters, digits, `_` and `-`");
            }
            if let Some(provider) = self.provider_table(&p, name, v, base) {
                out.insert(name.clone(), Arc::new(provider));
            }
        }
        self.one_provider_per_issuer(&root, &out);
        out
    }

    /// A JWT goes to the provider of its `iss` and to no other, so two
    /// providers cannot state the same issuer.
    fn one_provider_per_issuer(
        &mut self,
        root: &KeyPath,
        providers: &BTreeMap<String, Arc<Provider>>,
    ) {
        let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
        for (name, p) in providers {
            let Issuer::Known(issuers) = &p.issuer else {
                continue;
            };
            for iss in issuers {
                if let Some(first) = owner.insert(iss, name) {
                    self.err(
                        &root.key(name).key("issuer"),
                        format!("{iss:?} is also the issuer of [providers.{first}]: JWTs of one issuer go to one provider; merge the two tables (audience and client_id take lists)"),
                    );
                }
            }
        }
    }

    /// A provider from explicit (or preset-filled) settings. `require_audience`:
    /// JWT validation needs an `audience` (Cognito binds by `client_id` instead).
    pub(super) fn built(
        &mut self,
        p: &KeyPath,
        name: &str,
        kind: &str,
        raw: &raw::RawProvider,
        base: &Path,
        require_audience: bool,
    ) -> Option<Provider> {
        let errors_before = self.errors.len();
        let (client_id, client_secret, secret_given) = self.own_client(p, raw, base);
        let validation = self.validation(
            p,
            kind,
            raw,
            client_id.is_some(),
            secret_given,
            require_audience,
        );
        let token_endpoint = raw
            .token_endpoint
            .as_deref()
            .and_then(|u| self.url(&p.key("token_endpoint"), u));
        let parts = Parts {
            validation,
            client_id,
            client_secret,
            token_endpoint,
        };
        self.assemble(p, name, kind, raw, parts, errors_before)
    }

    fn validation(
        &mut self,
        p: &KeyPath,
        kind: &str,
        raw: &raw::RawProvider,
        has_id: bool,
        has_secret: bool,
        require_audience: bool,
    ) -> Option<Validation> {
        let endpoint = |cx: &mut Cx, key: &str, v: &Option<String>| match v {
            Some(u) => cx.url(&p.key(key), u),
            None => {
                cx.err(&p.key(key), "missing: required by this `validation`");
                None
            }
        };
        match raw.validation.as_deref() {
            Some("introspection") => {
                let client_auth = self.client_auth(p, raw);
                if !has_id {
                    self.err(
                        &p.key("client_id"),
                        "missing: introspection needs restgate's own client id",
                    );
                }
                if !has_secret {
                    self.err(
                        &p.key("client_secret_env"),
                        "missing: introspection needs `client_secret_env` or `client_secret_file`",
                    );
                }
                let endpoint =
                    endpoint(self, "introspection_endpoint", &raw.introspection_endpoint)?;
                Some(Validation::Introspection {
                    endpoint,
                    client_auth,
                })
            }
            Some("userinfo") => {
                let endpoint = endpoint(self, "userinfo_endpoint", &raw.userinfo_endpoint)?;
                Some(Validation::Userinfo { endpoint })
            }
            Some("jwt") => self.jwt(p, raw, require_audience).map(Validation::Jwt),
            Some("vendor") => self
                .vendor(p, kind, raw)
                .map(|v| Validation::Vendor(Box::new(v))),
            Some(other) => {
                self.err(
                    &p.key("validation"),
                    format!("{other:?} is not one of \"introspection\", \"userinfo\", \"jwt\""),
                );
                None
            }
            None => {
                self.err(
                    &p.key("validation"),
                    "missing: \"introspection\", \"userinfo\" or \"jwt\"",
                );
                None
            }
        }
    }

    /// The settings every kind shares, validated, then the provider if the
    /// table had no error since `errors_before`.
    pub(super) fn assemble(
        &mut self,
        p: &KeyPath,
        name: &str,
        kind: &str,
        raw: &raw::RawProvider,
        parts: Parts,
        errors_before: usize,
    ) -> Option<Provider> {
        let mapping = self.mapping(p, raw);
        let timeout = self.duration(&p.key("timeout"), raw.timeout.as_ref(), "3s");
        let max_concurrent = self.positive(&p.key("max_concurrent"), raw.max_concurrent, 64);
        let ca_file = raw.ca_file.as_deref().map(|f| resolve(self.base(), f));
        if let Some(f) = &ca_file {
            if let Err(e) = super::super::tls::read_ca_file(f) {
                self.err(&p.key("ca_file"), e);
            }
        }
        let validation = parts.validation?;
        let issuer = Issuer::of(kind, &validation, raw.issuer.as_deref());
        (self.errors.len() == errors_before).then(|| Provider {
            name: Arc::from(name),
            kind: kind.to_owned(),
            validation,
            client_id: parts.client_id,
            client_secret: parts.client_secret,
            scope: raw.scope.clone(),
            token_endpoint: parts.token_endpoint,
            mapping,
            allowed_audiences: raw.allowed_audiences.clone().unwrap_or_default(),
            allowed_clients: raw.allowed_clients.clone().unwrap_or_default(),
            token_prefixes: raw.token_prefixes.clone().unwrap_or_default(),
            issuer,
            timeout,
            max_concurrent,
            ca_file,
        })
    }

    /// restgate's own client at the provider: its id, its secret (read
    /// now), and whether a secret was named at all (one that cannot be read
    /// is already reported).
    pub(super) fn own_client(
        &mut self,
        p: &KeyPath,
        raw: &raw::RawProvider,
        base: &Path,
    ) -> (Option<String>, Option<Secret>, bool) {
        let id = self.single_client_id(p, raw);
        let secret = self.secret(
            p,
            "client_secret",
            raw.client_secret_env.as_ref(),
            raw.client_secret_file.as_ref(),
            base,
        );
        let named = raw.client_secret_env.is_some() || raw.client_secret_file.is_some();
        (id, secret, named)
    }

    pub(super) fn single_client_id(
        &mut self,
        p: &KeyPath,
        raw: &raw::RawProvider,
    ) -> Option<String> {
        match &raw.client_id {
            None => None,
            Some(OneOrMany::One(id)) => Some(id.clone()),
            Some(OneOrMany::Many(_)) => {
                self.err(
                    &p.key("client_id"),
                    "one client id (a string) for this kind",
                );
                None
            }
        }
    }

    pub(super) fn client_auth(&mut self, p: &KeyPath, raw: &raw::RawProvider) -> ClientAuth {
        self.one_of(
            &p.key("client_auth"),
            raw.client_auth.as_ref(),
            &[
                ("client_secret_basic", ClientAuth::ClientSecretBasic),
                ("client_secret_post", ClientAuth::ClientSecretPost),
            ],
        )
    }

    fn jwt(
        &mut self,
        p: &KeyPath,
        raw: &raw::RawProvider,
        require_audience: bool,
    ) -> Option<JwtSettings> {
        let issuer = raw.issuer.clone();
        if issuer.is_none() {
            self.err(
                &p.key("issuer"),
                "missing: the `iss` value the provider puts in its tokens",
            );
        }
        let jwks_uri = match raw.jwks_uri.as_deref() {
            Some(u) => self.url(&p.key("jwks_uri"), u),
            None => {
                self.err(
                    &p.key("jwks_uri"),
                    "missing: where the provider publishes its signing keys",
                );
                None
            }
        };
        let audiences = audiences(raw);
        if audiences.is_empty() && require_audience {
            self.err(
                &p.key("audience"),
                "missing: the `aud` tokens must carry for this API (without it any token of the issuer would do)",
            );
        }
        let algorithms = self.algorithms(&p.key("algorithms"), raw.algorithms.as_deref());
        let clock_skew = self.duration(&p.key("clock_skew"), raw.clock_skew.as_ref(), "60s");
        Some(JwtSettings {
            issuers: vec![issuer?],
            jwks_uri: jwks_uri?,
            audiences,
            algorithms,
            clock_skew,
            required_claims: Vec::new(),
        })
    }

    pub(super) fn algorithms(
        &mut self,
        p: &KeyPath,
        list: Option<&[String]>,
    ) -> Vec<jsonwebtoken::Algorithm> {
        let names: Vec<String> = match list {
            Some(l) => l.to_vec(),
            None => DEFAULT_ALGORITHMS.iter().map(|s| s.to_string()).collect(),
        };
        if names.is_empty() {
            self.err(p, "give at least one algorithm");
        }
        let mut out = Vec::new();
        for (i, name) in names.iter().enumerate() {
            match jsonwebtoken::Algorithm::from_str(name) {
                Ok(a) if DEFAULT_ALGORITHMS.contains(&name.as_str()) => out.push(a),
                Ok(_) => self.err(
                    &p.index(i),
                    format!("{name:?} is symmetric: its key would be shared with every client, so it is never accepted"),
                ),
                Err(_) => self.err(
                    &p.index(i),
                    format!("{name:?} is not one of {}", DEFAULT_ALGORITHMS.join(", ")),
                ),
            }
        }
        out
    }

    fn mapping(&mut self, p: &KeyPath, raw: &raw::RawProvider) -> Mapping {
        let attrs =
            |cx: &mut Cx, key: &str, v: &Option<OneOrMany>, default: &[&str]| -> Vec<Attr> {
                let list = v
                    .as_ref()
                    .map(OneOrMany::to_vec)
                    .unwrap_or_else(|| default.iter().map(|s| s.to_string()).collect());
                if list.is_empty() {
                    cx.err(&p.key(key), "give at least one attribute");
                }
                list.iter()
                    .filter_map(|a| match crate::config::parse_attr(a) {
                        Ok(attr) => Some(attr),
                        Err(e) => {
                            cx.err(&p.key(key), format!("{a:?}: {e}"));
                            None
                        }
                    })
                    .collect()
            };
        let username = attrs(
            self,
            "username_attribute",
            &raw.username_attribute,
            &["preferred_username", "username"],
        );
        let email = attrs(self, "email_attribute", &raw.email_attribute, &["email"]);
        if let Some(sa) = &raw.service_account {
            self.username(&p.key("service_account"), sa);
        }
        let client_accounts = raw.client_accounts.clone().unwrap_or_default();
        for (client, user) in &client_accounts {
            self.username(&p.key("client_accounts").key(client), user);
        }
        Mapping {
            username,
            email,
            lowercase: raw.lowercase.unwrap_or(false),
            strip_domain: raw.strip_domain.unwrap_or(false),
            service_account: raw.service_account.clone(),
            client_accounts,
            client_credentials: CcRule::SubIsClient,
            client_id_claims: GENERIC_CLIENT_CLAIMS,
        }
    }
}
