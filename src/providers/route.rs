//! Which provider(s) a token goes to (SPEC §3 "Several providers"), decided
//! once per token from its shape and the config, before any provider call:
//! a token is disclosed only to a provider that may have issued it.
//!
//! - A JWT goes to the provider of its `iss`, whatever that provider's
//!   validation, and to no other.
//! - A JWT of no configured issuer goes to the providers of `auth.providers`
//!   whose issuer is unknown; first, to a provider whose issuer only its
//!   discovery document names, if the `iss` has that document's origin.
//! - A token with a provider's prefix goes to that provider only.
//! - Any other opaque token goes, in `auth.providers` order, to the providers
//!   that check opaque tokens and claim no prefixes.

use std::fmt::Write as _;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use super::client::ProviderClient;
use super::jwt::issuer_matches;
use crate::config::Issuer;

/// Where one token goes.
#[derive(Debug)]
pub enum Route<'a> {
    /// A JWT whose `iss` is this provider's: its answer is final.
    Issuer {
        /// The token's `iss`.
        iss: String,
        /// The provider.
        provider: &'a Arc<ProviderClient>,
    },
    /// A token with this provider's prefix: its answer is final.
    Prefix {
        /// The prefix it carries.
        prefix: &'a str,
        /// The provider.
        provider: &'a Arc<ProviderClient>,
    },
    /// A JWT whose `iss` (if it has one) no configured issuer matches.
    UnknownIssuer {
        /// The token's `iss`.
        iss: Option<String>,
        /// Providers whose issuer their discovery document names, at the
        /// `iss`'s origin: asked for their issuer first.
        discovered: Vec<&'a Arc<ProviderClient>>,
        /// Providers of `auth.providers` without an issuer, in order.
        issuerless: &'a [Arc<ProviderClient>],
    },
    /// An opaque token: the providers that take one, in order.
    Opaque {
        /// The providers, in `auth.providers` order.
        providers: &'a [Arc<ProviderClient>],
    },
}

/// The routing table resolved from a config.
#[derive(Debug, Default)]
pub struct Router {
    /// Every provider (routing by `iss` and prefix ignores `auth.providers`).
    all: Vec<Arc<ProviderClient>>,
    /// `auth.providers` without an issuer, in order.
    issuerless: Vec<Arc<ProviderClient>>,
    /// `auth.providers` that check opaque tokens and claim no prefix, in order.
    opaque: Vec<Arc<ProviderClient>>,
}

// === impl Router ===

impl Router {
    /// The table for these providers, `ordered` being `auth.providers`.
    pub fn new(all: Vec<Arc<ProviderClient>>, ordered: &[Arc<ProviderClient>]) -> Self {
        let issuerless = ordered
            .iter()
            .filter(|c| c.config.issuer == Issuer::Unknown)
            .cloned()
            .collect();
        let opaque = ordered
            .iter()
            .filter(|c| c.checks_opaque_tokens() && c.config.token_prefixes.is_empty())
            .cloned()
            .collect();
        Router {
            all,
            issuerless,
            opaque,
        }
    }

    /// Every provider.
    pub fn all(&self) -> &[Arc<ProviderClient>] {
        &self.all
    }

    /// Where `token` goes.
    pub fn route(&self, token: &str) -> Route<'_> {
        if let Some(claims) = jwt_claims(token) {
            let iss = claims.get("iss").and_then(Value::as_str);
            let tid = claims.get("tid").and_then(Value::as_str);
            if let Some(provider) = iss.and_then(|iss| self.by_issuer(iss, tid)) {
                return Route::Issuer {
                    iss: iss.unwrap_or_default().to_owned(),
                    provider,
                };
            }
            let origin = iss.and_then(origin_of);
            let discovered = self
                .all
                .iter()
                .filter(|c| {
                    matches!(&c.config.issuer, Issuer::Discovered { origin: o }
                        if origin.as_deref() == Some(o.as_str()))
                })
                .collect();
            return Route::UnknownIssuer {
                iss: iss.map(str::to_owned),
                discovered,
                issuerless: &self.issuerless,
            };
        }
        for provider in &self.all {
            if let Some(prefix) = provider
                .config
                .token_prefixes
                .iter()
                .find(|p| token.starts_with(p.as_str()))
            {
                return Route::Prefix { prefix, provider };
            }
        }
        Route::Opaque {
            providers: &self.opaque,
        }
    }

    /// The provider stating this issuer: byte-equal first, then templates
    /// (Entra's `{tenantid}`), so a tenant's own provider wins over a
    /// multi-tenant one.
    fn by_issuer(&self, iss: &str, tid: Option<&str>) -> Option<&Arc<ProviderClient>> {
        let known = |c: &&Arc<ProviderClient>, exact: bool| match &c.config.issuer {
            Issuer::Known(list) => list.iter().any(|i| {
                if exact {
                    i == iss
                } else {
                    issuer_matches(i, iss, tid)
                }
            }),
            _ => false,
        };
        self.all
            .iter()
            .find(|c| known(c, true))
            .or_else(|| self.all.iter().find(|c| known(c, false)))
    }

    /// The table as `restgate check` prints it: which issuers and prefixes
    /// go where, which providers take opaque tokens, in order.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for c in &self.all {
            match &c.config.issuer {
                Issuer::Known(list) => {
                    for i in list {
                        let _ = writeln!(out, "  JWT iss {i:?} -> {}", c.name());
                    }
                }
                Issuer::Discovered { origin } => {
                    let _ = writeln!(
                        out,
                        "  JWT iss named by the discovery document at {origin} -> {}",
                        c.name()
                    );
                }
                Issuer::Unknown | Issuer::None => {}
            }
        }
        for c in &self.all {
            for p in &c.config.token_prefixes {
                let _ = writeln!(out, "  token prefix {p:?} -> {}", c.name());
            }
        }
        let names = |list: &[Arc<ProviderClient>]| match list {
            [] => "none: refused (401) without a provider call".to_owned(),
            _ => list.iter().map(|c| c.name()).collect::<Vec<_>>().join(", "),
        };
        let _ = writeln!(
            out,
            "  JWT of any other issuer -> {}",
            names(&self.issuerless)
        );
        let _ = writeln!(
            out,
            "  any other opaque token, in order -> {}",
            names(&self.opaque)
        );
        out
    }
}

impl Route<'_> {
    /// Why the token goes where it goes, for `test-token`. Names the
    /// providers and the token's `iss`, never the token.
    pub fn explain(&self) -> String {
        let names = |list: &[&Arc<ProviderClient>]| {
            list.iter().map(|c| c.name()).collect::<Vec<_>>().join(", ")
        };
        match self {
            Route::Issuer { iss, provider } => {
                format!("{}: its issuer is the token's iss {iss:?}", provider.name())
            }
            Route::Prefix { prefix, provider } => {
                format!(
                    "{}: the token starts with its prefix {prefix:?}",
                    provider.name()
                )
            }
            Route::UnknownIssuer {
                iss,
                discovered,
                issuerless,
            } => {
                let iss = iss
                    .as_deref()
                    .map_or("no iss".to_owned(), |i| format!("iss {i:?}"));
                let mut s = format!("a JWT of no configured issuer ({iss})");
                if !discovered.is_empty() {
                    let _ = write!(s, "; first the discovery document of {}", names(discovered));
                }
                let rest: Vec<_> = issuerless.iter().collect();
                match rest.as_slice() {
                    [] => s.push_str("; no provider without an issuer: refused without a call"),
                    _ => {
                        let _ = write!(
                            s,
                            "; then the providers without an issuer: {}",
                            names(&rest)
                        );
                    }
                }
                s
            }
            Route::Opaque { providers } => {
                let list: Vec<_> = providers.iter().collect();
                match list.as_slice() {
                    [] => "an opaque token, and no provider in auth.providers checks opaque tokens: refused without a call".to_owned(),
                    _ => format!(
                        "an opaque token: the providers that check opaque tokens, in auth.providers order, until one says active: {}",
                        names(&list)
                    ),
                }
            }
        }
    }

    /// The providers the token may reach, in order.
    pub fn providers(&self) -> Vec<&Arc<ProviderClient>> {
        match self {
            Route::Issuer { provider, .. } | Route::Prefix { provider, .. } => vec![provider],
            Route::UnknownIssuer {
                discovered,
                issuerless,
                ..
            } => discovered
                .iter()
                .copied()
                .chain(issuerless.iter())
                .collect(),
            Route::Opaque { providers } => providers.iter().collect(),
        }
    }
}

/// The claims of a JWT-shaped token: three base64url parts whose first
/// decodes to a JSON object. The payload is read without verification, only
/// to choose who verifies it; one that does not decode to an object reads as
/// no claims.
pub fn jwt_claims(token: &str) -> Option<Value> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    if !header.is_object() {
        return None;
    }
    let claims = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .filter(Value::is_object);
    Some(claims.unwrap_or(Value::Object(Default::default())))
}

/// `scheme://host[:port]` of an issuer URL.
fn origin_of(iss: &str) -> Option<String> {
    let url = reqwest::Url::parse(iss).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(header: &str, payload: &str) -> String {
        format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        )
    }

    #[test]
    fn a_jwt_is_three_parts_whose_header_is_an_object() {
        let t = jwt(r#"{"alg":"RS256"}"#, r#"{"iss":"https://idp"}"#);
        assert_eq!(jwt_claims(&t).unwrap()["iss"], "https://idp");
        let no_claims = jwt(r#"{"alg":"RS256"}"#, "not json");
        assert_eq!(
            jwt_claims(&no_claims),
            Some(Value::Object(Default::default()))
        );
        assert_eq!(
            jwt_claims(&jwt("[1]", "{}")),
            None,
            "a header must be an object"
        );
        assert_eq!(jwt_claims(&jwt("{}", "{}").replace(".sig", "")), None);
        assert_eq!(
            jwt_claims(&format!("{}.x", jwt("{}", "{}"))),
            None,
            "four parts"
        );
        assert_eq!(jwt_claims("gho_abc.def.ghi"), None);
        assert_eq!(jwt_claims("opaque-token"), None);
    }

    #[test]
    fn origins_of_issuers() {
        assert_eq!(
            origin_of("https://contoso.b2clogin.com/guid/v2.0/").as_deref(),
            Some("https://contoso.b2clogin.com")
        );
        assert_eq!(
            origin_of("http://127.0.0.1:8080/x").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(origin_of("urn:example"), None);
    }
}
