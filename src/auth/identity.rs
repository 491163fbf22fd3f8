//! Mapping a provider's answer to a local user (SPEC §3 "Mapping").
//!
//! Pure functions over JSON: no HTTP, no I/O. The result is what the cache stores.

use std::sync::Arc;

use serde_json::Value;

use crate::config::{Attr, CcRule, Mapping, Provider};

/// Clock skew tolerated on `nbf`.
const NBF_SKEW_SECS: u64 = 60;

/// Who a validated credential acts as, and the token facts route checks need.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal {
    /// The local username handed to the upstream.
    pub user: String,
    /// The email, if the provider gave a usable one.
    pub email: Option<String>,
    /// The provider (or `api_key`) that vouched for it.
    pub provider: Arc<str>,
    /// The OAuth client the token was issued to.
    pub client_id: Option<String>,
    /// A client-credentials token (no end user).
    pub client_credentials: bool,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Audiences (`aud`).
    pub audiences: Vec<String>,
    /// Expiry (Unix seconds), if the provider said.
    pub exp: Option<u64>,
}

/// A provider's decision about a token, after mapping; what the cache stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Accepted, acting as this principal.
    Active(Arc<Principal>),
    /// Refused, and why.
    Refused(Refusal),
}

/// Why a token is refused (`401 invalid_token`); the reason code for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The provider says the token is not active.
    Inactive,
    /// `exp` is past.
    Expired,
    /// `nbf` is in the future.
    NotYetValid,
    /// No usable username attribute.
    NoUsername,
    /// A client-credentials token with no account configured for its client.
    NoServiceAccount,
    /// `aud` is not one of `allowed_audiences`.
    WrongAudience,
    /// The client is not one of `allowed_clients`.
    WrongClient,
    /// A JWT whose `iss` is not the provider's.
    WrongIssuer,
    /// A JWT whose signature does not verify.
    BadSignature,
    /// A JWT signed with an algorithm not on the allow-list.
    BadAlgorithm,
    /// A JWT naming a key the provider does not publish.
    UnknownKey,
    /// Not a well-formed JWT.
    Malformed,
    /// A JWT of the wrong type (Cognito: an ID token used as an access token).
    WrongTokenType,
    /// No configured provider may have issued it (a JWT of an unknown
    /// issuer, an opaque token with no provider to ask): refused unasked.
    NoProvider,
}

impl Refusal {
    /// The reason code.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Inactive => "inactive",
            Refusal::Expired => "expired",
            Refusal::NotYetValid => "not_yet_valid",
            Refusal::NoUsername => "no_username",
            Refusal::NoServiceAccount => "no_service_account",
            Refusal::WrongAudience => "wrong_audience",
            Refusal::WrongClient => "wrong_client",
            Refusal::WrongIssuer => "wrong_issuer",
            Refusal::BadSignature => "bad_signature",
            Refusal::BadAlgorithm => "bad_algorithm",
            Refusal::UnknownKey => "unknown_key",
            Refusal::Malformed => "malformed",
            Refusal::NoProvider => "no_provider",
            Refusal::WrongTokenType => "wrong_token_type",
        }
    }
}

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

/// A username restgate will put in a header: non-empty, at most 255 bytes, no
/// control characters, no surrounding spaces.
pub fn is_valid_username(u: &str) -> bool {
    !u.is_empty() && u.len() <= 255 && u.trim() == u && !u.chars().any(char::is_control)
}

/// Parses `username_attribute` spellings: a JSON pointer (`/user/login`) or a
/// dotted path with optional indexes (`user.login`, `emails[0]`).
pub fn parse_attr(text: &str) -> Result<Attr, String> {
    if text.starts_with('/') {
        let bad_escape = text
            .split('~')
            .skip(1)
            .any(|s| !(s.starts_with('0') || s.starts_with('1')));
        if bad_escape {
            return Err("`~` in a JSON pointer must be `~0` or `~1`".into());
        }
        return Ok(Attr {
            written: text.to_owned(),
            pointer: text.to_owned(),
        });
    }
    let mut pointer = String::new();
    for part in text.split('.') {
        let (name, indexes) = part
            .split_once('[')
            .map_or((part, ""), |(n, rest)| (n, rest));
        if name.is_empty() {
            return Err("empty name in dotted path (use a JSON pointer for odd keys)".into());
        }
        pointer.push('/');
        pointer.push_str(&name.replace('~', "~0").replace('/', "~1"));
        if !indexes.is_empty() {
            for idx in format!("[{indexes}").split('[').skip(1) {
                let n = idx.strip_suffix(']').filter(|n| n.parse::<usize>().is_ok());
                let n = n.ok_or_else(|| format!("bad index in {part:?}; write e.g. emails[0]"))?;
                pointer.push('/');
                pointer.push_str(n);
            }
        }
    }
    Ok(Attr {
        written: text.to_owned(),
        pointer,
    })
}

#[cfg(test)]
mod tests;
