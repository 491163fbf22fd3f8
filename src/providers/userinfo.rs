//! A userinfo / "who am I" endpoint: a GET with the bearer token.
//!
//! It proves the token is live, not that it was issued for us: ops bind it with
//! `allowed_clients` / `allowed_audiences` where the answer says.

use reqwest::header;

use super::answer::{Answer, ProviderErrorKind};
use super::http::send_json;
use crate::config::Provider;
use crate::core::principal::Refusal;
use crate::core::token::Token;

/// GETs the endpoint with the token. 401/403 mean the token is not usable.
pub(super) async fn check(
    http: &reqwest::Client,
    provider: &Provider,
    endpoint: &reqwest::Url,
    token: &Token,
) -> Result<Answer, ProviderErrorKind> {
    let req = http
        .get(endpoint.clone())
        .timeout(provider.timeout)
        .header(header::ACCEPT, "application/json")
        .bearer_auth(token.expose());
    let (status, json) = send_json(req).await?;
    match status {
        200..=299 => {
            let claims = json.ok_or(ProviderErrorKind::Garbage("not a JSON object"))?;
            Ok(Answer::active(claims))
        }
        // RFC 6750 §3.1: invalid_token (401) or insufficient_scope (403).
        401 | 403 => Ok(Answer::refused(Refusal::Inactive)),
        s => Err(ProviderErrorKind::Status(s)),
    }
}
