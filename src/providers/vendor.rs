//! Vendor token checks, for providers without RFC 7662 (providers.md §6–10).
//!
//! Each one proves the token live *and* issued to the configured client, app or
//! workspace (a userinfo answer alone proves only the first), then normalises
//! the vendor's answer into flat claims for the shared mapping:
//! `client_id`, `exp` (Unix seconds), `email` / `email_verified`, and the
//! vendor's own fields.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::header;
use serde_json::{Map, Value, json};

use super::answer::{Answer, ProviderErrorKind};
use super::http::{send_any_json, send_json};
use crate::config::{Provider, Vendor};
use crate::core::clock::unix_now;
use crate::core::principal::Refusal;
use crate::core::token::Token;

/// Checks a token with the vendor's API.
pub(super) async fn check(
    http: &reqwest::Client,
    provider: &Provider,
    vendor: &Vendor,
    token: &Token,
) -> Result<Answer, ProviderErrorKind> {
    match vendor {
        Vendor::Google { tokeninfo } => google(http, provider, tokeninfo, token).await,
        Vendor::Github { api_url } => github(http, provider, api_url, token).await,
        Vendor::Gitlab {
            token_info,
            userinfo,
        } => gitlab(http, provider, token_info, userinfo, token).await,
        Vendor::Slack { api_url, team_id } => slack(http, provider, api_url, team_id, token).await,
        Vendor::Facebook { api_url } => facebook(http, provider, api_url, token).await,
    }
}

/// The clients a token may have been issued to.
fn our_clients(p: &Provider) -> Vec<&str> {
    let mut v: Vec<&str> = p.allowed_clients.iter().map(String::as_str).collect();
    v.extend(p.client_id.as_deref());
    v
}

fn object(v: Option<Value>) -> Result<Map<String, Value>, ProviderErrorKind> {
    match v {
        Some(Value::Object(m)) => Ok(m),
        _ => Err(ProviderErrorKind::Garbage("not a JSON object")),
    }
}

fn url(base: &reqwest::Url, path: &str) -> Result<reqwest::Url, ProviderErrorKind> {
    let joined = format!(
        "{}/{}",
        base.as_str().trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    reqwest::Url::parse(&joined)
        .map_err(|_| ProviderErrorKind::Garbage("cannot build the vendor URL"))
}

/// Google `tokeninfo`: `aud` / `azp` must be a configured client; `exp` and
/// `email_verified` come as strings. A bad token is a 4xx.
async fn google(
    http: &reqwest::Client,
    p: &Provider,
    tokeninfo: &reqwest::Url,
    token: &Token,
) -> Result<Answer, ProviderErrorKind> {
    // POST keeps the token out of URLs (and any log of them).
    let req = http
        .post(tokeninfo.clone())
        .timeout(p.timeout)
        .form(&[("access_token", token.expose())]);
    let (status, json) = send_json(req).await?;
    match status {
        200..=299 => {}
        400..=499 => return Ok(Answer::refused(Refusal::Inactive)),
        s => return Err(ProviderErrorKind::Status(s)),
    }
    let mut claims = object(json)?;
    let aud = claims
        .get("aud")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let azp = claims
        .get("azp")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let ours = our_clients(p);
    if !ours.contains(&aud.as_str()) && !ours.contains(&azp.as_str()) {
        return Ok(Answer::refused(Refusal::WrongClient));
    }
    claims.insert(
        "client_id".into(),
        Value::String(if azp.is_empty() { aud } else { azp }),
    );
    Ok(Answer::active(Value::Object(claims)))
}

/// GitHub "check a token": Basic auth as the OAuth app, so only tokens issued
/// to this app answer 200; 404 means invalid. The primary verified email comes
/// from `/user/emails` when the token has the scope.
async fn github(
    http: &reqwest::Client,
    p: &Provider,
    api_url: &reqwest::Url,
    token: &Token,
) -> Result<Answer, ProviderErrorKind> {
    let (id, secret) = p.own_credentials();
    let req = http
        .post(url(api_url, &format!("applications/{id}/token"))?)
        .timeout(p.timeout)
        .header(header::ACCEPT, "application/vnd.github+json")
        .header("X-GitHub-Api-Version", "2022-11-28")
        .header(
            header::AUTHORIZATION,
            format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))),
        )
        .json(&json!({ "access_token": token.expose() }));
    let (status, body) = send_json(req).await?;
    match status {
        200 => {}
        404 => return Ok(Answer::refused(Refusal::Inactive)),
        401 | 403 => return Err(ProviderErrorKind::ClientRejected(status)),
        s => return Err(ProviderErrorKind::Status(s)),
    }
    let mut claims = object(body)?;
    let app = claims
        .get("app")
        .and_then(|a| a.get("client_id"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    if app.as_deref() != Some(id) {
        return Ok(Answer::refused(Refusal::WrongClient));
    }
    claims.insert("client_id".into(), Value::String(id.to_owned()));
    // GitHub App user tokens expire; OAuth app tokens do not.
    if let Some(exp) = claims
        .get("expires_at")
        .and_then(Value::as_str)
        .and_then(rfc3339_secs)
    {
        claims.insert("exp".into(), exp.into());
    }
    claims.remove("token");
    if let Some(email) = github_email(http, p, api_url, token).await {
        claims.insert("email".into(), Value::String(email));
        claims.insert("email_verified".into(), Value::Bool(true));
    }
    Ok(Answer::active(Value::Object(claims)))
}

/// The primary, verified address, if the token may read it. Any failure just
/// means "no email": the identity does not depend on it.
async fn github_email(
    http: &reqwest::Client,
    p: &Provider,
    api_url: &reqwest::Url,
    token: &Token,
) -> Option<String> {
    let req = http
        .get(url(api_url, "user/emails").ok()?)
        .timeout(p.timeout)
        .header(header::ACCEPT, "application/vnd.github+json")
        .header("X-GitHub-Api-Version", "2022-11-28")
        .bearer_auth(token.expose());
    let (status, body) = send_any_json(req).await.ok()?;
    if status != 200 {
        return None;
    }
    body?.as_array()?.iter().find_map(|e| {
        let yes = |k: &str| e.get(k).and_then(Value::as_bool) == Some(true);
        (yes("primary") && yes("verified"))
            .then(|| e.get("email")?.as_str().map(str::to_owned))
            .flatten()
    })
}

/// GitLab `/oauth/token/info` (`application.uid` must be ours), then
/// `/oauth/userinfo` for the username and email (needs the `openid` scope).
async fn gitlab(
    http: &reqwest::Client,
    p: &Provider,
    token_info: &reqwest::Url,
    userinfo: &reqwest::Url,
    token: &Token,
) -> Result<Answer, ProviderErrorKind> {
    let req = http
        .get(token_info.clone())
        .timeout(p.timeout)
        .bearer_auth(token.expose());
    let (status, body) = send_json(req).await?;
    match status {
        200 => {}
        401 | 403 | 404 => return Ok(Answer::refused(Refusal::Inactive)),
        s => return Err(ProviderErrorKind::Status(s)),
    }
    let mut claims = object(body)?;
    let uid = claims
        .get("application")
        .and_then(|a| a.get("uid"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    if !uid.as_deref().is_some_and(|u| our_clients(p).contains(&u)) {
        return Ok(Answer::refused(Refusal::WrongClient));
    }
    claims.insert("client_id".into(), Value::String(uid.unwrap_or_default()));
    if let Some(secs) = claims.get("expires_in").and_then(Value::as_u64) {
        claims.insert("exp".into(), (unix_now() + secs).into());
    }
    let req = http
        .get(userinfo.clone())
        .timeout(p.timeout)
        .bearer_auth(token.expose());
    match send_json(req).await? {
        (200, Some(Value::Object(info))) => claims.extend(info),
        // Without `openid` there is no username: the mapping refuses the token.
        (401 | 403, _) => {}
        (200, _) => return Err(ProviderErrorKind::Garbage("userinfo is not a JSON object")),
        (s, _) => return Err(ProviderErrorKind::Status(s)),
    }
    Ok(Answer::active(Value::Object(claims)))
}

/// Slack `auth.test`: always HTTP 200, `ok: false` for a bad token; `team_id`
/// must be the configured workspace. The email comes from
/// `openid.connect.userInfo` (Sign in with Slack tokens).
async fn slack(
    http: &reqwest::Client,
    p: &Provider,
    api_url: &reqwest::Url,
    team_id: &str,
    token: &Token,
) -> Result<Answer, ProviderErrorKind> {
    let req = http
        .post(url(api_url, "auth.test")?)
        .timeout(p.timeout)
        .bearer_auth(token.expose());
    let (status, body) = send_json(req).await?;
    if status != 200 {
        return Err(ProviderErrorKind::Status(status));
    }
    let mut claims = object(body)?;
    match claims.get("ok").and_then(Value::as_bool) {
        Some(true) => {}
        Some(false) => return Ok(Answer::refused(Refusal::Inactive)),
        None => return Err(ProviderErrorKind::Garbage("no boolean `ok`")),
    }
    if claims.get("team_id").and_then(Value::as_str) != Some(team_id) {
        return Ok(Answer::refused(Refusal::WrongClient));
    }
    let req = http
        .post(url(api_url, "openid.connect.userInfo")?)
        .timeout(p.timeout)
        .bearer_auth(token.expose());
    if let Ok((200, Some(Value::Object(info)))) = send_json(req).await {
        if info.get("ok").and_then(Value::as_bool) == Some(true) {
            for k in ["email", "email_verified"] {
                if let Some(v) = info.get(k) {
                    claims.insert(k.into(), v.clone());
                }
            }
        }
    }
    Ok(Answer::active(Value::Object(claims)))
}

/// Facebook `debug_token` with the app token (`app_id|app_secret`):
/// `is_valid` and `app_id` must hold. A user's email comes from `/me`.
async fn facebook(
    http: &reqwest::Client,
    p: &Provider,
    api_url: &reqwest::Url,
    token: &Token,
) -> Result<Answer, ProviderErrorKind> {
    let (id, secret) = p.own_credentials();
    let app_token = format!("{id}|{secret}");
    let req = http
        .get(url(api_url, "debug_token")?)
        .timeout(p.timeout)
        .query(&[
            ("input_token", token.expose()),
            ("access_token", app_token.as_str()),
        ]);
    let (status, body) = send_json(req).await?;
    match status {
        200 => {}
        // Graph answers 400 with an OAuthException for a malformed input token.
        400 => return Ok(Answer::refused(Refusal::Inactive)),
        401 | 403 => return Err(ProviderErrorKind::ClientRejected(status)),
        s => return Err(ProviderErrorKind::Status(s)),
    }
    let body = object(body)?;
    let Some(Value::Object(mut claims)) = body.get("data").cloned() else {
        return Err(ProviderErrorKind::Garbage("debug_token without `data`"));
    };
    if claims.get("is_valid").and_then(Value::as_bool) != Some(true) {
        return Ok(Answer::refused(Refusal::Inactive));
    }
    if claims.get("app_id").and_then(Value::as_str) != Some(id) {
        return Ok(Answer::refused(Refusal::WrongClient));
    }
    claims.insert("client_id".into(), Value::String(id.to_owned()));
    // `expires_at: 0` means "never".
    match claims.get("expires_at").and_then(Value::as_u64) {
        Some(0) | None => {}
        Some(exp) => {
            claims.insert("exp".into(), exp.into());
        }
    }
    if claims.get("type").and_then(Value::as_str) == Some("USER") {
        let req = http
            .get(url(api_url, "me")?)
            .timeout(p.timeout)
            .query(&[("fields", "id,name,email")])
            .bearer_auth(token.expose());
        match send_json(req).await? {
            (200, Some(Value::Object(me))) => {
                for (k, v) in me {
                    claims.entry(k).or_insert(v);
                }
                // Graph returns only confirmed addresses.
                if claims.contains_key("email") {
                    claims.insert("email_verified".into(), Value::Bool(true));
                }
            }
            (s, _) if s >= 500 => return Err(ProviderErrorKind::Status(s)),
            _ => {}
        }
    }
    Ok(Answer::active(Value::Object(claims)))
}

/// Seconds since the epoch of an RFC 3339 time.
fn rfc3339_secs(s: &str) -> Option<u64> {
    let t = humantime::parse_rfc3339_weak(s.trim_end_matches('Z')).ok()?;
    t.duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}
