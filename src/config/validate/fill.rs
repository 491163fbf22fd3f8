//! What each vendor documents (endpoints, attributes, token prefixes),
//! filled in only where the operator did not set the key. Which keys a preset
//! takes and requires, its default validation and its client-credentials rule
//! are in the kind table (`kinds.rs`). A fill function may meet a required
//! key missing (already reported): it then fills nothing that needs it.

use super::super::locate::KeyPath;
use super::super::provider::*;
use super::super::raw::{OneOrMany, RawProvider};

/// Where a fill function reports what is wrong with the values given.
pub(super) trait Report {
    /// One problem at `path`.
    fn report(&mut self, path: &KeyPath, message: String);
}

fn set(slot: &mut Option<String>, value: impl Into<String>) {
    if slot.is_none() {
        *slot = Some(value.into());
    }
}

fn attrs(r: &mut RawProvider, username: &[&str], email: &[&str]) {
    let list = |v: &[&str]| Some(OneOrMany::Many(v.iter().map(|s| s.to_string()).collect()));
    if r.username_attribute.is_none() {
        r.username_attribute = list(username);
    }
    if r.email_attribute.is_none() {
        r.email_attribute = list(email);
    }
}

/// Keycloak: the realm URL; introspection by default (revocation is seen).
pub(super) fn keycloak(_: &mut dyn Report, _: &KeyPath, r: &mut RawProvider) {
    let Some(iss) = r.issuer.clone() else { return };
    let base = format!("{}/protocol/openid-connect", iss.trim_end_matches('/'));
    set(
        &mut r.introspection_endpoint,
        format!("{base}/token/introspect"),
    );
    set(&mut r.userinfo_endpoint, format!("{base}/userinfo"));
    set(&mut r.token_endpoint, format!("{base}/token"));
    set(&mut r.jwks_uri, format!("{base}/certs"));
    attrs(r, &["username", "preferred_username"], &["email"]);
}

/// Okta: a custom authorization server (`…/oauth2/{id}`) or the org server.
pub(super) fn okta(_: &mut dyn Report, _: &KeyPath, r: &mut RawProvider) {
    let Some(iss) = r.issuer.clone() else { return };
    let iss = iss.trim_end_matches('/');
    let base = if iss.contains("/oauth2/") {
        iss.to_owned()
    } else {
        format!("{iss}/oauth2")
    };
    set(
        &mut r.introspection_endpoint,
        format!("{base}/v1/introspect"),
    );
    set(&mut r.userinfo_endpoint, format!("{base}/v1/userinfo"));
    set(&mut r.token_endpoint, format!("{base}/v1/token"));
    set(&mut r.jwks_uri, format!("{base}/v1/keys"));
    attrs(r, &["username", "preferred_username"], &["email"]);
}

/// Cognito: access tokens carry no `aud`; `client_id` names the app client(s).
pub(super) fn cognito(_: &mut dyn Report, _: &KeyPath, r: &mut RawProvider) {
    let Some(iss) = r.issuer.clone() else { return };
    clients(r);
    set(
        &mut r.jwks_uri,
        format!("{}/.well-known/jwks.json", iss.trim_end_matches('/')),
    );
    if let Some(domain) = r.domain.clone() {
        set(
            &mut r.userinfo_endpoint,
            format!("https://{domain}/oauth2/userInfo"),
        );
        set(
            &mut r.token_endpoint,
            format!("https://{domain}/oauth2/token"),
        );
    }
    attrs(r, &["username"], &["email"]);
}

pub(super) fn cognito_adjust(provider: &mut Provider, _raw: &RawProvider) {
    if let Validation::Jwt(j) = &mut provider.validation {
        // ID tokens are signed by the same pool: only access tokens are credentials.
        j.required_claims = vec![("token_use".into(), "access".into())];
    }
}

/// Entra ID: the tenant's GUID, or `common` / `organizations` for any tenant.
pub(super) fn azure_ad(cx: &mut dyn Report, p: &KeyPath, r: &mut RawProvider) {
    let Some(tenant) = r.tenant.clone() else {
        return;
    };
    let multi = matches!(tenant.as_str(), "common" | "organizations" | "consumers");
    if !multi && !is_guid(&tenant) && r.issuer.is_none() {
        cx.report(
            &p.key("tenant"),
            "tokens name the tenant by GUID: give the Directory ID (a GUID), not a domain".into(),
        );
        return;
    }
    if let Some(v) = &r.token_version {
        if !matches!(v.as_str(), "1" | "2") {
            cx.report(
                &p.key("token_version"),
                "\"1\" or \"2\" (leave it out to accept both)".into(),
            );
        }
    }
    let id = if multi { "{tenantid}" } else { tenant.as_str() };
    set(
        &mut r.issuer,
        format!("https://login.microsoftonline.com/{id}/v2.0"),
    );
    set(
        &mut r.jwks_uri,
        format!("https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys"),
    );
    set(
        &mut r.token_endpoint,
        format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"),
    );
    attrs(r, &["preferred_username", "upn", "unique_name"], &["email"]);
}

pub(super) fn azure_adjust(provider: &mut Provider, raw: &RawProvider) {
    let (Validation::Jwt(j), None) = (&mut provider.validation, &raw.issuer) else {
        return;
    };
    let Some(tenant) = &raw.tenant else { return };
    let id = if is_guid(tenant) {
        tenant.as_str()
    } else {
        "{tenantid}"
    };
    let v2 = format!("https://login.microsoftonline.com/{id}/v2.0");
    let v1 = format!("https://sts.windows.net/{id}/");
    j.issuers = match raw.token_version.as_deref() {
        Some("1") => vec![v1],
        Some("2") => vec![v2],
        _ => vec![v2, v1],
    };
}

/// Azure AD B2C: per-policy discovery; the issuer is the one the document
/// names (it holds the tenant's GUID); user flows emit `emails` as an array.
pub(super) fn azure_b2c(_: &mut dyn Report, _: &KeyPath, r: &mut RawProvider) {
    let (Some(t), Some(pol)) = (r.tenant.clone(), r.policy.clone()) else {
        return;
    };
    let policy_base = format!("https://{t}.b2clogin.com/{t}.onmicrosoft.com/{pol}");
    set(
        &mut r.discovery_url,
        format!("{policy_base}/v2.0/.well-known/openid-configuration"),
    );
    if r.issuer.is_some() {
        // With the issuer given, the rest is derivable: no discovery document
        // is needed (keys and token endpoint per policy, providers.md §2).
        set(
            &mut r.jwks_uri,
            format!("{policy_base}/discovery/v2.0/keys"),
        );
        set(
            &mut r.token_endpoint,
            format!("{policy_base}/oauth2/v2.0/token"),
        );
    }
    attrs(r, &["emails[0]", "email"], &["emails[0]", "email"]);
}

/// Keeps a list of client ids as `allowed_clients`, the first as `client_id`.
fn clients(r: &mut RawProvider) {
    let Some(list) = r.client_id.as_ref().map(OneOrMany::to_vec) else {
        return;
    };
    if r.allowed_clients.is_none() {
        r.allowed_clients = Some(list.clone());
    }
    r.client_id = list.first().cloned().map(OneOrMany::One);
}

/// Kinds whose check authenticates as the client take exactly one.
fn single(cx: &mut dyn Report, p: &KeyPath, r: &RawProvider) {
    if let Some(OneOrMany::Many(_)) = &r.client_id {
        cx.report(
            &p.key("client_id"),
            "one client id (a string) for this kind".into(),
        );
    }
}

fn prefixes(r: &mut RawProvider, list: &[&str]) {
    if r.token_prefixes.is_none() {
        r.token_prefixes = Some(list.iter().map(|s| s.to_string()).collect());
    }
}

/// Google: tokeninfo bound to the OAuth client(s); users by verified email.
pub(super) fn google(_: &mut dyn Report, _: &KeyPath, r: &mut RawProvider) {
    clients(r);
    set(
        &mut r.tokeninfo_endpoint,
        "https://oauth2.googleapis.com/tokeninfo",
    );
    set(
        &mut r.userinfo_endpoint,
        "https://openidconnect.googleapis.com/v1/userinfo",
    );
    attrs(r, &["email"], &["email"]);
}

/// GitHub: "check a token" as the OAuth app (only its tokens answer).
pub(super) fn github(cx: &mut dyn Report, p: &KeyPath, r: &mut RawProvider) {
    single(cx, p, r);
    set(&mut r.api_url, "https://api.github.com");
    prefixes(r, &["gho_", "ghu_"]);
    attrs(r, &["user.login", "login"], &["email"]);
}

/// GitLab: token info bound to the application, then userinfo.
pub(super) fn gitlab(_: &mut dyn Report, _: &KeyPath, r: &mut RawProvider) {
    clients(r);
    set(&mut r.issuer, "https://gitlab.com");
    attrs(r, &["preferred_username", "nickname"], &["email"]);
}

/// Slack: auth.test bound to the workspace.
pub(super) fn slack(_: &mut dyn Report, _: &KeyPath, r: &mut RawProvider) {
    set(&mut r.api_url, "https://slack.com/api");
    prefixes(r, &["xoxp-", "xoxb-"]);
    attrs(r, &["user"], &["email"]);
}

/// Facebook: debug_token bound to the app; users by email.
pub(super) fn facebook(cx: &mut dyn Report, p: &KeyPath, r: &mut RawProvider) {
    single(cx, p, r);
    set(&mut r.api_url, "https://graph.facebook.com");
    attrs(r, &["email"], &["email"]);
}

/// A GUID as Entra writes tenant ids.
pub fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}
