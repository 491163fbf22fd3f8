//! `kind = "oidc"`: endpoints from OpenID Connect discovery (OIDC Discovery 1.0,
//! RFC 8414), fetched on first use, refreshed hourly, kept while the provider is
//! down. The document must name exactly the configured issuer (OIDC Discovery
//! §4.3), or a look-alike issuer could take over validation.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use reqwest::header;
use serde_json::Value;

use super::answer::{Answer, ProviderErrorKind};
use super::http::send_json;
use super::jwt::JwtValidator;
use super::{introspection, userinfo};
use crate::config::{JwtSettings, OidcMode, OidcSettings, Provider};
use crate::core::principal::Refusal;
use crate::core::token::Token;

/// How long a discovery document is used before it is fetched again.
pub const MAX_DOCUMENT_AGE: Duration = Duration::from_secs(3600);
/// After a failed fetch, how long requests fail fast instead of fetching again.
const FAILURE_BACKOFF: Duration = Duration::from_secs(1);

/// The endpoints a discovery document lists (after overrides).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoints {
    /// The issuer the document names.
    pub issuer: String,
    /// `jwks_uri`
    pub jwks_uri: Option<reqwest::Url>,
    /// `introspection_endpoint`
    pub introspection: Option<reqwest::Url>,
    /// `userinfo_endpoint`
    pub userinfo: Option<reqwest::Url>,
    /// `token_endpoint`
    pub token: Option<reqwest::Url>,
}

/// Reads a discovery document; `issuer`, if given, must match it exactly.
pub fn parse_document(issuer: Option<&str>, doc: &Value) -> Result<Endpoints, &'static str> {
    let named = doc
        .get("issuer")
        .and_then(Value::as_str)
        .ok_or("the document names no issuer")?;
    if issuer.is_some_and(|i| i != named) {
        return Err("the document names another issuer");
    }
    let url = |k: &str| -> Result<Option<reqwest::Url>, &'static str> {
        match doc.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => reqwest::Url::parse(s)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .map(Some)
                .ok_or("the document lists an endpoint that is not an http(s) URL"),
            Some(_) => Err("the document lists an endpoint that is not a string"),
        }
    };
    Ok(Endpoints {
        issuer: named.to_owned(),
        jwks_uri: url("jwks_uri")?,
        introspection: url("introspection_endpoint")?,
        userinfo: url("userinfo_endpoint")?,
        token: url("token_endpoint")?,
    })
}

/// What discovery found, ready to use.
pub struct Discovered {
    /// The endpoints, overrides applied.
    pub endpoints: Endpoints,
    /// The JWT validator for `jwks_uri`, if listed.
    jwt: Option<Arc<JwtValidator>>,
    fetched_at: Instant,
}

/// An `oidc` provider's discovery state.
pub struct OidcClient {
    settings: OidcSettings,
    http: reqwest::Client,
    timeout: Duration,
    current: RwLock<Option<Arc<Discovered>>>,
    /// Serialises fetches; holds the time of the last failure.
    fetch: tokio::sync::Mutex<Option<Instant>>,
}

// === impl OidcClient ===

impl OidcClient {
    /// A client that has not fetched anything yet.
    pub fn new(settings: &OidcSettings, http: reqwest::Client, timeout: Duration) -> Self {
        OidcClient {
            settings: settings.clone(),
            http,
            timeout,
            current: RwLock::new(None),
            fetch: tokio::sync::Mutex::new(None),
        }
    }

    /// How long ago the document in use was fetched (`None`: never).
    pub fn document_age(&self) -> Option<Duration> {
        self.now().map(|d| d.fetched_at.elapsed())
    }

    /// How long ago the keys the document lists were fetched.
    pub fn keys_age(&self) -> Option<Duration> {
        self.now()?.jwt.as_ref()?.keys_age()
    }

    /// Checks a token with the endpoint its shape and the document call for.
    pub async fn check(
        &self,
        provider: &Provider,
        token: &Token,
    ) -> Result<Answer, ProviderErrorKind> {
        let d = self.discovered().await?;
        let e = &d.endpoints;
        let looks_like_jwt = jsonwebtoken::decode_header(token.expose()).is_ok();
        let can_introspect = e.introspection.is_some()
            && provider.client_id.is_some()
            && provider.client_secret.is_some();
        let mode = match self.settings.mode {
            Some(m) => m,
            None if looks_like_jwt && d.jwt.is_some() => OidcMode::Jwt,
            None if can_introspect => OidcMode::Introspection,
            None if e.userinfo.is_some() => OidcMode::Userinfo,
            // Keys only, and an opaque token: not one of this provider's tokens.
            None => return Ok(Answer::refused(Refusal::Malformed)),
        };
        let missing = |what| ProviderErrorKind::Garbage(what);
        match mode {
            OidcMode::Jwt => {
                d.jwt
                    .as_ref()
                    .ok_or(missing("discovery lists no jwks_uri"))?
                    .check(token.expose())
                    .await
            }
            OidcMode::Introspection => {
                let ep = e
                    .introspection
                    .as_ref()
                    .ok_or(missing("discovery lists no introspection_endpoint"))?;
                introspection::check(&self.http, provider, ep, self.settings.client_auth, token)
                    .await
            }
            OidcMode::Userinfo => {
                let ep = e
                    .userinfo
                    .as_ref()
                    .ok_or(missing("discovery lists no userinfo_endpoint"))?;
                userinfo::check(&self.http, provider, ep, token).await
            }
        }
    }

    /// The current document, fetched when missing or older than
    /// [`MAX_DOCUMENT_AGE`]; an old one keeps serving while fetches fail.
    pub async fn discovered(&self) -> Result<Arc<Discovered>, ProviderErrorKind> {
        if let Some(d) = self
            .now()
            .filter(|d| d.fetched_at.elapsed() <= MAX_DOCUMENT_AGE)
        {
            return Ok(d);
        }
        let mut last_failure = self.fetch.lock().await;
        let old = self.now();
        if let Some(d) = old
            .clone()
            .filter(|d| d.fetched_at.elapsed() <= MAX_DOCUMENT_AGE)
        {
            return Ok(d);
        }
        if last_failure.is_some_and(|t| t.elapsed() < FAILURE_BACKOFF) {
            return old.ok_or(ProviderErrorKind::Garbage("discovery document unavailable"));
        }
        match self.fetch_document(old.as_deref()).await {
            Ok(d) => {
                *last_failure = None;
                let d = Arc::new(d);
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(d.clone());
                Ok(d)
            }
            Err(e) => {
                *last_failure = Some(Instant::now());
                match old {
                    Some(d) => {
                        tracing::warn!(error = %e, url = %self.settings.discovery_url, "Discovery refresh failed; using the document fetched before");
                        Ok(d)
                    }
                    None => Err(e),
                }
            }
        }
    }

    fn now(&self) -> Option<Arc<Discovered>> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    async fn fetch_document(
        &self,
        old: Option<&Discovered>,
    ) -> Result<Discovered, ProviderErrorKind> {
        let req = self
            .http
            .get(self.settings.discovery_url.clone())
            .timeout(self.timeout)
            .header(header::ACCEPT, "application/json");
        let (status, json) = send_json(req).await?;
        if !(200..300).contains(&status) {
            return Err(ProviderErrorKind::Status(status));
        }
        let doc = json.ok_or(ProviderErrorKind::Garbage(
            "discovery document is not a JSON object",
        ))?;
        let found = parse_document(self.settings.issuer.as_deref(), &doc)
            .map_err(ProviderErrorKind::Garbage)?;
        let s = &self.settings;
        let endpoints = Endpoints {
            issuer: found.issuer,
            jwks_uri: s.jwks_uri.clone().or(found.jwks_uri),
            introspection: s.introspection_endpoint.clone().or(found.introspection),
            userinfo: s.userinfo_endpoint.clone().or(found.userinfo),
            token: found.token,
        };
        // Keep the key cache when the key set and issuer did not change.
        let same = |o: &Discovered| {
            o.endpoints.jwks_uri == endpoints.jwks_uri && o.endpoints.issuer == endpoints.issuer
        };
        let jwt = match (&endpoints.jwks_uri, old) {
            (Some(_), Some(o)) if same(o) => o.jwt.clone(),
            (Some(uri), _) => Some(Arc::new(JwtValidator::new(
                &self.jwt_settings(&endpoints.issuer, uri),
                self.http.clone(),
                self.timeout,
            ))),
            (None, _) => None,
        };
        tracing::debug!(issuer = %endpoints.issuer, "Fetched the discovery document");
        Ok(Discovered {
            endpoints,
            jwt,
            fetched_at: Instant::now(),
        })
    }

    fn jwt_settings(&self, issuer: &str, jwks_uri: &reqwest::Url) -> JwtSettings {
        JwtSettings {
            issuers: vec![issuer.to_owned()],
            jwks_uri: jwks_uri.clone(),
            audiences: self.settings.audiences.clone(),
            algorithms: self.settings.algorithms.clone(),
            clock_skew: self.settings.clock_skew,
            required_claims: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_document_must_name_the_configured_issuer() {
        let doc =
            json!({"issuer": "https://idp/realms/a", "jwks_uri": "https://idp/realms/a/certs"});
        assert!(
            parse_document(Some("https://idp/realms/a"), &doc)
                .unwrap()
                .jwks_uri
                .is_some()
        );
        assert!(parse_document(Some("https://idp/realms/b"), &doc).is_err());
        assert!(
            parse_document(Some("https://idp/realms/a/"), &doc).is_err(),
            "exact match, no normalisation"
        );
        assert!(parse_document(Some("x"), &json!({})).is_err());
        assert_eq!(
            parse_document(None, &doc).unwrap().issuer,
            "https://idp/realms/a"
        );
        let bad = json!({"issuer": "x", "jwks_uri": "ftp://x"});
        assert!(parse_document(Some("x"), &bad).is_err());
    }
}
