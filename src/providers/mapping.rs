//! Mapping a provider's answer to a local user (SPEC §3 "Mapping").
//!
//! Pure functions over JSON: no HTTP, no I/O. The result is what the cache stores.

use std::sync::Arc;

use serde_json::Value;

use crate::config::{Attr, CcRule, Mapping, Provider};
use crate::core::principal::{Principal, Refusal, Verdict, is_valid_username};

/// Clock skew tolerated on `nbf`.
const NBF_SKEW_SECS: u64 = 60;

/// Maps an active provider answer to a verdict. `now` is Unix seconds.
pub fn map_claims(provider: &Provider, claims: &Value, now: u64) -> Verdict {
    match map_inner(provider, claims, now) {
        Ok(p) => Verdict::Active(Arc::new(p)),
        Err(r) => Verdict::Refused(r),
    }
}

fn map_inner(provider: &Provider, claims: &Value, now: u64) -> Result<Principal, Refusal> {
    let exp = number(claims.get("exp"));
    if exp.is_some_and(|e| e <= now) {
        return Err(Refusal::Expired);
    }
    if number(claims.get("nbf")).is_some_and(|n| n > now + NBF_SKEW_SECS) {
        return Err(Refusal::NotYetValid);
    }
    let m = &provider.mapping;
    let client_id = m
        .client_id_claims
        .iter()
        .find_map(|k| claims.get(*k).and_then(Value::as_str))
        .map(str::to_owned);
    let audiences = strings(claims.get("aud"));
    if !provider.allowed_audiences.is_empty()
        && !audiences
            .iter()
            .any(|a| provider.allowed_audiences.contains(a))
    {
        return Err(Refusal::WrongAudience);
    }
    if !provider.allowed_clients.is_empty()
        && !client_id
            .as_ref()
            .is_some_and(|c| provider.allowed_clients.contains(c))
    {
        return Err(Refusal::WrongClient);
    }
    let email = first_attr(claims, &m.email).map(|e| e.to_owned());
    let username =
        first_attr(claims, &m.username).map(|u| normalise(u, m.strip_domain, m.lowercase));
    let client_credentials =
        is_client_credentials(m, claims, client_id.as_deref(), username.as_deref());
    let user = if client_credentials {
        let client = client_id.as_deref().unwrap_or_default();
        m.client_accounts
            .get(client)
            .or(m.service_account.as_ref())
            .cloned()
            .ok_or(Refusal::NoServiceAccount)?
    } else {
        username
            .filter(|u| is_valid_username(u))
            .ok_or(Refusal::NoUsername)?
    };
    Ok(Principal {
        user,
        email: email.filter(|e| is_valid_username(e)),
        provider: provider.name.clone(),
        client_id,
        client_credentials,
        scopes: scopes(claims),
        audiences,
        exp,
    })
}

/// Whether the answer describes a client acting for itself, per the kind's rule.
fn is_client_credentials(
    m: &Mapping,
    claims: &Value,
    client_id: Option<&str>,
    username: Option<&str>,
) -> bool {
    let has = |k: &str| claims.get(k).is_some_and(|v| !v.is_null());
    match m.client_credentials {
        CcRule::SubIsClient => {
            let sub = claims.get("sub").and_then(Value::as_str);
            (client_id.is_some() && client_id == sub) || (client_id.is_some() && username.is_none())
        }
        CcRule::UsernamePrefix(prefix) => username.is_some_and(|u| u.starts_with(prefix)),
        CcRule::NoClaim(claim) => client_id.is_some() && !has(claim),
        CcRule::Azure => {
            claims.get("idtyp").and_then(Value::as_str) == Some("app")
                || (client_id.is_some() && !has("scp"))
        }
        CcRule::ListedClientOnly => {
            let user_claims = [
                "emails",
                "email",
                "name",
                "idp",
                "given_name",
                "family_name",
            ];
            client_id.is_some_and(|c| m.client_accounts.contains_key(c))
                && !user_claims.iter().any(|k| has(k))
        }
        CcRule::HasClaim(claim) => has(claim),
        CcRule::ClaimIs(claim, value) => claims.get(claim).and_then(Value::as_str) == Some(value),
        CcRule::GoogleServiceAccount => {
            let email = claims
                .get("email")
                .and_then(Value::as_str)
                .unwrap_or_default();
            email.ends_with(".gserviceaccount.com")
                || client_id.is_some_and(|c| m.client_accounts.contains_key(c))
        }
        CcRule::Never => false,
    }
}

/// The first attribute present as a non-empty string (or number). An email the
/// provider marks unverified is never used.
fn first_attr<'a>(claims: &'a Value, attrs: &[Attr]) -> Option<&'a str> {
    let unverified = matches!(claims.get("email_verified"), Some(Value::Bool(false)))
        || claims.get("email_verified").and_then(Value::as_str) == Some("false");
    attrs.iter().find_map(|a| {
        if unverified && a.pointer.to_ascii_lowercase().contains("email") {
            return None;
        }
        claims
            .pointer(&a.pointer)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    })
}

fn normalise(value: &str, strip_domain: bool, lowercase: bool) -> String {
    let v = if strip_domain {
        value.rsplit_once('@').map_or(value, |(u, _)| u)
    } else {
        value
    };
    if lowercase {
        v.to_lowercase()
    } else {
        v.to_owned()
    }
}

/// Seconds as a JSON number or a numeric string (Google sends strings).
fn number(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A string or a list of strings.
fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// `scope` (space-separated, RFC 7662) or `scp` (string or list).
fn scopes(claims: &Value) -> Vec<String> {
    ["scope", "scp"]
        .iter()
        .find_map(|k| match claims.get(*k) {
            Some(Value::String(s)) => Some(s.split_whitespace().map(str::to_owned).collect()),
            Some(Value::Array(a)) => Some(
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
            ),
            _ => None,
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
