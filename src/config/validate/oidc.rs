//! Validation of discovery-based providers (`kind = "oidc"`, and Azure AD B2C
//! without an explicit issuer), and of those whose forced mode has every
//! value given explicitly, which need no discovery document at all.

use std::path::Path;

use super::super::locate::KeyPath;
use super::super::provider::*;
use super::super::raw;
use super::assembly::Parts;
use super::assembly::audiences;
use super::cx::Cx;

impl Cx {
    /// `kind = "oidc"`: everything from the issuer's discovery document.
    /// Without an `issuer` (Azure AD B2C: the kind table requires it of
    /// `oidc`), the issuer is whatever the document at `discovery_url` names.
    pub(super) fn oidc_provider(
        &mut self,
        p: &KeyPath,
        name: &str,
        kind: &str,
        raw: &raw::RawProvider,
        base: &Path,
    ) -> Option<Provider> {
        let errors_before = self.errors.len();
        let issuer = raw
            .issuer
            .as_deref()
            .and_then(|i| self.url(&p.key("issuer"), i).map(|_| i.to_owned()));
        let discovery_url = match (&raw.discovery_url, &issuer) {
            (Some(u), _) => self.url(&p.key("discovery_url"), u),
            (None, Some(i)) => {
                let u = format!(
                    "{}/.well-known/openid-configuration",
                    i.trim_end_matches('/')
                );
                self.url(&p.key("issuer"), &u)
            }
            (None, None) => None,
        };
        let mode = match raw.validation.as_deref() {
            None => None,
            Some("jwt") => Some(OidcMode::Jwt),
            Some("introspection") => Some(OidcMode::Introspection),
            Some("userinfo") => Some(OidcMode::Userinfo),
            Some(other) => {
                self.err(
                    &p.key("validation"),
                    format!("{other:?} is not one of \"jwt\", \"introspection\", \"userinfo\" (or leave it out)"),
                );
                None
            }
        };
        let audiences = audiences(raw);
        if audiences.is_empty() && matches!(mode, None | Some(OidcMode::Jwt)) {
            self.err(
                &p.key("audience"),
                "missing: the `aud` JWT access tokens must carry for this API (or force validation = \"introspection\")",
            );
        }
        let (client_id, client_secret, secret_given) = self.own_client(p, raw, base);
        if mode == Some(OidcMode::Introspection) && (client_id.is_none() || !secret_given) {
            self.err(
                &p.key("client_id"),
                "introspection needs `client_id` and `client_secret_env` or `client_secret_file`",
            );
        }
        let opt_url = |cx: &mut Cx, key: &str, v: &Option<String>| {
            v.as_deref().and_then(|u| cx.url(&p.key(key), u))
        };
        let settings = OidcSettings {
            issuer: issuer.clone(),
            discovery_url: discovery_url
                .clone()
                .unwrap_or_else(|| reqwest::Url::parse("http://invalid/").expect("static URL")),
            mode,
            audiences,
            algorithms: self.algorithms(&p.key("algorithms"), raw.algorithms.as_deref()),
            clock_skew: self.duration(&p.key("clock_skew"), raw.clock_skew.as_ref(), "60s"),
            client_auth: self.client_auth(p, raw),
            jwks_uri: opt_url(self, "jwks_uri", &raw.jwks_uri),
            introspection_endpoint: opt_url(
                self,
                "introspection_endpoint",
                &raw.introspection_endpoint,
            ),
            userinfo_endpoint: opt_url(self, "userinfo_endpoint", &raw.userinfo_endpoint),
        };
        let token_endpoint = opt_url(self, "token_endpoint", &raw.token_endpoint);
        let usable = discovery_url.is_some();
        let validation =
            explicit(&settings).or_else(|| usable.then(|| Validation::Oidc(Box::new(settings))));
        let parts = Parts {
            validation,
            client_id,
            client_secret,
            token_endpoint,
        };
        self.assemble(p, name, kind, raw, parts, errors_before)
    }
}

/// The validation of a discovery-based provider whose forced mode has every
/// value it needs given explicitly: no discovery document is fetched, and
/// none could override them.
fn explicit(s: &OidcSettings) -> Option<Validation> {
    let issuer = s.issuer.clone()?;
    match s.mode? {
        OidcMode::Jwt => Some(Validation::Jwt(JwtSettings {
            issuers: vec![issuer],
            jwks_uri: s.jwks_uri.clone()?,
            audiences: s.audiences.clone(),
            algorithms: s.algorithms.clone(),
            clock_skew: s.clock_skew,
            required_claims: Vec::new(),
        })),
        OidcMode::Introspection => Some(Validation::Introspection {
            endpoint: s.introspection_endpoint.clone()?,
            client_auth: s.client_auth,
        }),
        OidcMode::Userinfo => Some(Validation::Userinfo {
            endpoint: s.userinfo_endpoint.clone()?,
        }),
    }
}
