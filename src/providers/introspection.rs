//! RFC 7662 token introspection.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::header;

use super::answer::{Answer, ProviderErrorKind};
use super::http::send_json;
use crate::config::{ClientAuth, Provider};
use crate::core::principal::Refusal;
use crate::core::token::Token;

/// POSTs the token to the introspection endpoint, authenticated as restgate.
pub(super) async fn check(
    http: &reqwest::Client,
    provider: &Provider,
    endpoint: &reqwest::Url,
    client_auth: ClientAuth,
    token: &Token,
) -> Result<Answer, ProviderErrorKind> {
    let (id, secret) = provider.own_credentials();
    let mut form: Vec<(&str, &str)> = vec![
        ("token", token.expose()),
        ("token_type_hint", "access_token"),
    ];
    let mut req = http
        .post(endpoint.clone())
        .timeout(provider.timeout)
        .header(header::ACCEPT, "application/json");
    match client_auth {
        ClientAuth::ClientSecretBasic => {
            // RFC 6749 §2.3.1: id and secret are form-encoded before Basic.
            let pair = format!("{}:{}", form_encode(id), form_encode(secret));
            req = req.header(
                header::AUTHORIZATION,
                format!("Basic {}", STANDARD.encode(pair)),
            );
        }
        ClientAuth::ClientSecretPost => {
            form.push(("client_id", id));
            form.push(("client_secret", secret));
        }
    }
    let (status, json) = send_json(req.form(&form)).await?;
    match status {
        200..=299 => {}
        401 | 403 => return Err(ProviderErrorKind::ClientRejected(status)),
        s => return Err(ProviderErrorKind::Status(s)),
    }
    let claims = json.ok_or(ProviderErrorKind::Garbage("not a JSON object"))?;
    // RFC 7662 §2.2: `active` is REQUIRED and boolean.
    let active = claims
        .get("active")
        .and_then(|a| a.as_bool())
        .ok_or(ProviderErrorKind::Garbage("no boolean `active`"))?;
    Ok(if active {
        Answer::active(claims)
    } else {
        Answer {
            claims,
            refusal: Some(Refusal::Inactive),
        }
    })
}

fn form_encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
