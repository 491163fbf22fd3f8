//! The client-credentials check behind `restgate fetch-token` and the
//! console's "test a provider": get a token with restgate's own client at
//! the provider's token endpoint, validate it as `serve` would, and end with
//! a one-line verdict.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::inspect;
use crate::config::{ClientAuth, Config, Provider, Validation};
use crate::providers::ProviderSet;

/// A failure, and whether it is the network's (2) or the setup's (1).
pub struct Failed {
    /// What went wrong (never a secret or a token).
    pub message: String,
    /// True when the network or the provider failed, false for the setup.
    pub runtime: bool,
}

fn failed(message: impl Into<String>, runtime: bool) -> Failed {
    Failed {
        message: message.into(),
        runtime,
    }
}

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The token was issued and accepted.
    Ok,
    /// Refused, or the provider is not set up for the grant.
    Refused,
    /// The provider or the network failed.
    Unreachable,
}

/// A finished check: the one-line verdict, how it ended, and the report of
/// the validation when a token was issued.
pub struct Checked {
    /// `OK: token accepted as …` or `FAILED: …`.
    pub verdict: String,
    /// How it ended.
    pub outcome: Outcome,
    /// The validation of the issued token.
    pub report: Option<inspect::Report>,
    /// The issued token itself, so that a page showing the report can make
    /// sure it holds no trace of it. Never printed.
    pub token: Option<String>,
}

/// Runs the whole check for provider `name`.
pub async fn check(config: &Config, providers: &ProviderSet, name: &str) -> Checked {
    match fetch_and_check(config, providers, name).await {
        Ok((report, expires, token)) if report.accepted() => {
            let (user, kind) = match &report.principal {
                Some(p) if p.client_credentials => (p.user.clone(), "client credentials"),
                Some(p) => (p.user.clone(), "a user's token"),
                None => (String::new(), "a token"),
            };
            let exp = expires
                .map(|s| format!(", expires in {s}s"))
                .unwrap_or_default();
            Checked {
                verdict: format!("OK: token accepted as {user} ({kind}{exp})"),
                outcome: Outcome::Ok,
                report: Some(report),
                token: Some(token),
            }
        }
        Ok((report, _, token)) => Checked {
            verdict: format!(
                "FAILED: the provider issued a token but it is not accepted: {}",
                report.reason
            ),
            outcome: if report.decision == "error" {
                Outcome::Unreachable
            } else {
                Outcome::Refused
            },
            report: Some(report),
            token: Some(token),
        },
        Err(f) => Checked {
            verdict: format!("FAILED: {}", f.message),
            outcome: if f.runtime {
                Outcome::Unreachable
            } else {
                Outcome::Refused
            },
            report: None,
            token: None,
        },
    }
}

async fn fetch_and_check(
    config: &Config,
    providers: &ProviderSet,
    name: &str,
) -> Result<(inspect::Report, Option<u64>, String), Failed> {
    let client = providers
        .get(name)
        .ok_or_else(|| failed(format!("no provider named {name:?}"), false))?;
    let endpoint = client
        .token_endpoint()
        .await
        .map_err(|e| failed(format!("discovery: {e}"), true))?
        .ok_or_else(|| {
            failed(
                format!("provider {name} has no token endpoint: set token_endpoint"),
                false,
            )
        })?;
    let (token, expires) = grant(&client.config, &endpoint).await?;
    let report = inspect::evaluate(config, providers, &token, false, None).await;
    Ok((report, expires, token))
}

/// The client-credentials grant (RFC 6749 §4.4) with restgate's own client.
async fn grant(p: &Provider, endpoint: &reqwest::Url) -> Result<(String, Option<u64>), Failed> {
    let (id, secret) = p.own_credentials();
    if id.is_empty() || secret.is_empty() {
        return Err(failed(
            format!(
                "provider {} needs client_id and a client secret for the grant",
                p.name
            ),
            false,
        ));
    }
    let auth = match &p.validation {
        Validation::Introspection { client_auth, .. } => *client_auth,
        Validation::Oidc(o) => o.client_auth,
        _ => ClientAuth::ClientSecretBasic,
    };
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(scope) = &p.scope {
        form.push(("scope", scope));
    }
    let mut req = crate::providers::http_client()
        .post(endpoint.clone())
        .timeout(p.timeout.max(Duration::from_secs(5)));
    match auth {
        ClientAuth::ClientSecretBasic => {
            let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            req = req.header(
                "authorization",
                format!(
                    "Basic {}",
                    STANDARD.encode(format!("{}:{}", enc(id), enc(secret)))
                ),
            );
        }
        ClientAuth::ClientSecretPost => {
            form.push(("client_id", id));
            form.push(("client_secret", secret));
        }
    }
    let res = req.form(&form).send().await.map_err(|e| {
        failed(
            format!("token endpoint {endpoint} unreachable: {}", e.without_url()),
            true,
        )
    })?;
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    if status != 200 {
        let err = body
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("no error code");
        let desc = body
            .get("error_description")
            .and_then(Value::as_str)
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        return Err(failed(
            format!("token endpoint answered HTTP {status}: {err}{desc}"),
            status >= 500,
        ));
    }
    let token = body
        .get("access_token")
        .and_then(Value::as_str)
        .ok_or_else(|| failed("the token endpoint's answer has no access_token", true))?;
    Ok((
        token.to_owned(),
        body.get("expires_in").and_then(Value::as_u64),
    ))
}
