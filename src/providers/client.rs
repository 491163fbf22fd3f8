//! One configured provider: its HTTP client, its way of checking a token
//! (with the key and discovery caches that needs), its concurrency cap and
//! its health. Nothing here is shared with another provider.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::answer::{Answer, ProviderError, ProviderErrorKind};
use super::health::{Condition, Health};
use super::{introspection, jwt, oidc};
use super::{userinfo, vendor};
use crate::config::{ClientAuth, Provider, Validation, Vendor};
use crate::core::clock::unix_now;
use crate::core::token::Token;
use crate::telemetry::metrics::Metrics;

/// One configured provider with its HTTP client.
pub struct ProviderClient {
    /// The provider's settings.
    pub config: Arc<Provider>,
    http: reqwest::Client,
    checker: Checker,
    metrics: Arc<Metrics>,
    /// `max_concurrent` calls at once, so a slow provider cannot hold every
    /// request of the gateway.
    slots: tokio::sync::Semaphore,
    /// What its calls have shown (`/status`, `/readyz`).
    health: Health,
}

/// How a provider checks tokens, with what that needs (endpoints, key
/// caches, discovery).
enum Checker {
    Introspection {
        endpoint: reqwest::Url,
        client_auth: ClientAuth,
    },
    Userinfo {
        endpoint: reqwest::Url,
    },
    Jwt(Box<jwt::JwtValidator>),
    Oidc(Box<oidc::OidcClient>),
    Vendor(Box<Vendor>),
}

impl std::fmt::Debug for ProviderClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderClient")
            .field("name", &self.config.name)
            .finish()
    }
}

// === impl ProviderClient ===

impl ProviderClient {
    /// The client for one provider. Nothing is fetched until a token needs it.
    pub fn new(config: Arc<Provider>, http: reqwest::Client, metrics: Arc<Metrics>) -> Self {
        let checker = match &config.validation {
            Validation::Introspection {
                endpoint,
                client_auth,
            } => Checker::Introspection {
                endpoint: endpoint.clone(),
                client_auth: *client_auth,
            },
            Validation::Userinfo { endpoint } => Checker::Userinfo {
                endpoint: endpoint.clone(),
            },
            Validation::Jwt(s) => Checker::Jwt(Box::new(jwt::JwtValidator::new(
                s,
                http.clone(),
                config.timeout,
            ))),
            Validation::Oidc(s) => Checker::Oidc(Box::new(oidc::OidcClient::new(
                s,
                http.clone(),
                config.timeout,
            ))),
            Validation::Vendor(v) => Checker::Vendor(v.clone()),
        };
        let slots = tokio::sync::Semaphore::new(config.max_concurrent);
        ProviderClient {
            config,
            http,
            checker,
            metrics,
            slots,
            health: Health::default(),
        }
    }

    /// The provider's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Asks the provider about a token.
    pub async fn check(&self, token: &Token) -> Result<Answer, ProviderError> {
        let started = std::time::Instant::now();
        let Ok(Ok(_slot)) = tokio::time::timeout(self.config.timeout, self.slots.acquire()).await
        else {
            return self.recorded(started, Err(ProviderErrorKind::Overloaded));
        };
        let result = match &self.checker {
            Checker::Introspection {
                endpoint,
                client_auth,
            } => {
                introspection::check(&self.http, &self.config, endpoint, *client_auth, token).await
            }
            Checker::Userinfo { endpoint } => {
                userinfo::check(&self.http, &self.config, endpoint, token).await
            }
            Checker::Jwt(jwt) => jwt.check(token.expose()).await,
            Checker::Oidc(oidc) => oidc.check(&self.config, token).await,
            Checker::Vendor(v) => vendor::check(&self.http, &self.config, v, token).await,
        };
        self.recorded(started, result)
    }

    /// Counts an outcome in the metrics and the provider's health.
    fn recorded<T>(
        &self,
        started: std::time::Instant,
        result: Result<T, ProviderErrorKind>,
    ) -> Result<T, ProviderError> {
        let result = result.map_err(|kind| ProviderError::new(&self.config.name, kind));
        let error = result.as_ref().err();
        self.metrics.provider_call(
            &self.config.name,
            started.elapsed(),
            error.map(ProviderError::status_label),
        );
        self.health.record(unix_now(), error.map_or(Ok(()), Err));
        result
    }

    /// The issuer its discovery document names (Azure AD B2C without an
    /// explicit `issuer`), fetching the document if needed; `None` for a
    /// provider that is not discovery-based.
    pub async fn discovered_issuer(&self) -> Result<Option<String>, ProviderError> {
        let Checker::Oidc(o) = &self.checker else {
            return Ok(None);
        };
        let started = std::time::Instant::now();
        let found = o.discovered().await.map(|d| d.endpoints.issuer.clone());
        self.recorded(started, found).map(Some)
    }

    /// Whether this provider checks opaque (non-JWT) tokens at all: JWT-only
    /// providers never receive one.
    pub fn checks_opaque_tokens(&self) -> bool {
        self.config.checks_opaque_tokens()
    }

    /// The token endpoint (configured, else discovered), for the
    /// client-credentials grant of `fetch-token`.
    pub async fn token_endpoint(&self) -> Result<Option<reqwest::Url>, ProviderError> {
        if let Some(u) = &self.config.token_endpoint {
            return Ok(Some(u.clone()));
        }
        match &self.checker {
            Checker::Oidc(o) => {
                let d = o
                    .discovered()
                    .await
                    .map_err(|kind| ProviderError::new(&self.config.name, kind))?;
                Ok(d.endpoints.token.clone())
            }
            _ => Ok(None),
        }
    }

    /// Up, down or unknown now.
    pub fn condition(&self) -> Condition {
        self.health.state(unix_now())
    }

    /// This provider's entry in `/status`: its settings' shape (no secret),
    /// its metadata and keys age, and what its calls have shown.
    pub fn status(&self) -> Value {
        let (metadata, keys) = match &self.checker {
            Checker::Jwt(j) => (None, j.keys_age()),
            Checker::Oidc(o) => (o.document_age(), o.keys_age()),
            _ => (None, None),
        };
        let secs = |d: Option<Duration>| d.map(|d| d.as_secs());
        let mut v = self.health.report(unix_now());
        let extra = json!({
            "kind": self.config.kind,
            "validation": self.config.validation_name(),
            "metadata_age_seconds": secs(metadata),
            "keys_age_seconds": secs(keys),
            // Filled by provider budgets where they are configured.
            "budget_left": Value::Null,
        });
        if let (Some(v), Value::Object(extra)) = (v.as_object_mut(), extra) {
            v.extend(extra);
        }
        v
    }
}
