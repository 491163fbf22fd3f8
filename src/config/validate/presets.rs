//! Provider presets: a kind fills in what its vendor documents (endpoints,
//! validation mode, attributes, how a client-credentials token looks), only
//! where the operator did not set the key, then the settings are validated as
//! explicit ones would be. Facts: `../shared/providers.md`.

use std::path::Path;

use super::super::locate::KeyPath;
use super::super::raw::{OneOrMany, RawProvider};
use super::super::*;
use super::Cx;

/// Every provider kind.
pub(super) const KINDS: &[&str] = &["custom", "oidc", "azure-ad", "keycloak", "okta", "cognito"];

/// What a preset is.
struct Spec {
    /// Preset-only keys this kind reads (others are errors).
    keys: &'static [&'static str],
    /// Fills derived settings; reports what is missing.
    fill: fn(&mut Cx, &KeyPath, &mut RawProvider),
    /// Adjusts the built provider (issuers, bindings the raw keys cannot say).
    adjust: fn(&mut Provider, &RawProvider),
    cc: CcRule,
    client_claims: &'static [&'static str],
    /// JWT validation binds by `aud` (all but Cognito).
    require_audience: bool,
    /// Built on discovery (B2C: per-policy metadata), issuer from the document.
    discovery: bool,
}

fn spec(kind: &str) -> Option<Spec> {
    let none = |_: &mut Provider, _: &RawProvider| {};
    Some(match kind {
        "keycloak" => Spec {
            keys: &["issuer", "audience", "jwks_uri"],
            fill: keycloak,
            adjust: none,
            cc: CcRule::UsernamePrefix("service-account-"),
            client_claims: &["client_id", "clientId", "azp"],
            require_audience: true,
            discovery: false,
        },
        "okta" => Spec {
            keys: &["issuer", "audience", "jwks_uri"],
            fill: okta,
            adjust: none,
            // `uid` is present only when an end user is bound to the token.
            cc: CcRule::NoClaim("uid"),
            client_claims: &["cid", "client_id"],
            require_audience: true,
            discovery: false,
        },
        "cognito" => Spec {
            keys: &["issuer", "domain", "jwks_uri"],
            fill: cognito,
            adjust: cognito_adjust,
            cc: CcRule::NoClaim("username"),
            client_claims: &["client_id"],
            require_audience: false,
            discovery: false,
        },
        "azure-ad" => Spec {
            keys: &["tenant", "audience", "token_version", "issuer", "jwks_uri"],
            fill: azure_ad,
            adjust: azure_adjust,
            cc: CcRule::Azure,
            client_claims: &["azp", "appid"],
            require_audience: true,
            discovery: false,
        },
        "azure-b2c" => Spec {
            keys: &[
                "tenant",
                "policy",
                "audience",
                "discovery_url",
                "issuer",
                "jwks_uri",
            ],
            fill: azure_b2c,
            adjust: none,
            // B2C marks no token as app-only: only listed clients without user
            // claims are clients.
            cc: CcRule::ListedClientOnly,
            client_claims: &["azp"],
            require_audience: true,
            discovery: true,
        },
        "google" => Spec {
            keys: &["tokeninfo_endpoint", "userinfo_endpoint"],
            fill: google,
            adjust: none,
            cc: CcRule::GoogleServiceAccount,
            client_claims: &["client_id", "azp", "aud"],
            require_audience: false,
            discovery: false,
        },
        "github" => Spec {
            keys: &["api_url"],
            fill: github,
            adjust: none,
            cc: CcRule::Never,
            client_claims: &["client_id"],
            require_audience: false,
            discovery: false,
        },
        "gitlab" => Spec {
            keys: &["issuer", "userinfo_endpoint"],
            fill: gitlab,
            adjust: none,
            cc: CcRule::Never,
            client_claims: &["client_id"],
            require_audience: false,
            discovery: false,
        },
        "slack" => Spec {
            keys: &["team_id", "api_url"],
            fill: slack,
            adjust: none,
            // Bot tokens are the app's own identity.
            cc: CcRule::HasClaim("bot_id"),
            client_claims: &["bot_id"],
            require_audience: false,
            discovery: false,
        },
        "facebook" => Spec {
            keys: &["api_url"],
            fill: facebook,
            adjust: none,
            // App access tokens (client credentials grant) have type APP.
            cc: CcRule::ClaimIs("type", "APP"),
            client_claims: &["client_id"],
            require_audience: false,
            discovery: false,
        },
        _ => return None,
    })
}

impl Cx {
    /// A provider of a preset kind.
    pub(super) fn preset_provider(
        &mut self,
        p: &KeyPath,
        name: &str,
        kind: &str,
        raw: &RawProvider,
        base: &Path,
    ) -> Option<Provider> {
        let Some(spec) = spec(kind) else {
            let msg = format!(
                "{kind:?} is not one of {}",
                KINDS
                    .iter()
                    .map(|k| format!("{k:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            self.err(&p.key("kind"), msg);
            return None;
        };
        let errors_before = self.errors.len();
        for key in super::provider::preset_keys_present(raw)
            .into_iter()
            .chain(super::provider::jwt_keys_present(raw))
        {
            if !spec.keys.contains(&key) && !["algorithms", "clock_skew"].contains(&key) {
                self.err(&p.key(key), format!("not used by kind = {kind:?}"));
            }
        }
        let mut filled = raw.clone();
        (spec.fill)(self, p, &mut filled);
        if self.errors.len() > errors_before {
            return None;
        }
        let mut provider = if spec.discovery {
            self.oidc_provider(p, name, kind, &filled, base, false)?
        } else {
            self.built(p, name, kind, &filled, base, spec.require_audience)?
        };
        provider.mapping.client_credentials = spec.cc;
        provider.mapping.client_id_claims = spec.client_claims;
        (spec.adjust)(&mut provider, raw);
        provider.issuer = Issuer::of(kind, &provider.validation, filled.issuer.as_deref());
        Some(provider)
    }

    /// The value of a required key, or an error saying what to give.
    fn required(
        &mut self,
        p: &KeyPath,
        key: &str,
        value: &Option<String>,
        what: &str,
    ) -> Option<String> {
        if value.is_none() {
            self.err(&p.key(key), format!("missing: {what}"));
        }
        value.clone()
    }
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
fn keycloak(cx: &mut Cx, p: &KeyPath, r: &mut RawProvider) {
    let Some(iss) = cx.required(
        p,
        "issuer",
        &r.issuer,
        "the realm URL, https://{host}/realms/{realm}",
    ) else {
        return;
    };
    let base = format!("{}/protocol/openid-connect", iss.trim_end_matches('/'));
    set(
        &mut r.introspection_endpoint,
        format!("{base}/token/introspect"),
    );
    set(&mut r.userinfo_endpoint, format!("{base}/userinfo"));
    set(&mut r.token_endpoint, format!("{base}/token"));
    set(&mut r.jwks_uri, format!("{base}/certs"));
    set(&mut r.validation, "introspection");
    attrs(r, &["username", "preferred_username"], &["email"]);
}

/// Okta: a custom authorization server (`…/oauth2/{id}`) or the org server.
fn okta(cx: &mut Cx, p: &KeyPath, r: &mut RawProvider) {
    let what =
        "https://{domain}/oauth2/{server} (custom authorization server) or https://{domain} (org)";
    let Some(iss) = cx.required(p, "issuer", &r.issuer, what) else {
        return;
    };
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
    set(&mut r.validation, "introspection");
    attrs(r, &["username", "preferred_username"], &["email"]);
}

/// Cognito: access tokens carry no `aud`; `client_id` names the app client.
fn cognito(cx: &mut Cx, p: &KeyPath, r: &mut RawProvider) {
    let what = "the user pool, https://cognito-idp.{region}.amazonaws.com/{pool}";
    let Some(iss) = cx.required(p, "issuer", &r.issuer, what) else {
        return;
    };
    let clients = match &r.client_id {
        Some(c) => c.to_vec(),
        None => {
            cx.err(&p.key("client_id"), "missing: the allowed app client id(s)");
            return;
        }
    };
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
    set(&mut r.validation, "jwt");
    if r.allowed_clients.is_none() {
        r.allowed_clients = Some(clients.clone());
    }
    r.client_id = clients.first().cloned().map(OneOrMany::One);
    attrs(r, &["username"], &["email"]);
}

fn cognito_adjust(provider: &mut Provider, _raw: &RawProvider) {
    if let Validation::Jwt(j) = &mut provider.validation {
        // ID tokens are signed by the same pool: only access tokens are credentials.
        j.required_claims = vec![("token_use".into(), "access".into())];
    }
}

/// Entra ID: the tenant's GUID, or `common` / `organizations` for any tenant.
fn azure_ad(cx: &mut Cx, p: &KeyPath, r: &mut RawProvider) {
    let what = "the tenant's GUID (Directory ID), or \"common\" / \"organizations\"";
    let Some(tenant) = cx.required(p, "tenant", &r.tenant, what) else {
        return;
    };
    let multi = matches!(tenant.as_str(), "common" | "organizations" | "consumers");
    if !multi && !is_guid(&tenant) && r.issuer.is_none() {
        cx.err(
            &p.key("tenant"),
            "tokens name the tenant by GUID: give the Directory ID (a GUID), not a domain",
        );
        return;
    }
    if let Some(v) = &r.token_version {
        if !matches!(v.as_str(), "1" | "2") {
            cx.err(
                &p.key("token_version"),
                "\"1\" or \"2\" (leave it out to accept both)",
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
    set(&mut r.validation, "jwt");
    attrs(r, &["preferred_username", "upn", "unique_name"], &["email"]);
}

fn azure_adjust(provider: &mut Provider, raw: &RawProvider) {
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
fn azure_b2c(cx: &mut Cx, p: &KeyPath, r: &mut RawProvider) {
    let tenant = cx.required(
        p,
        "tenant",
        &r.tenant,
        "the B2C tenant name, e.g. \"contoso\"",
    );
    let policy = cx.required(
        p,
        "policy",
        &r.policy,
        "the user flow or custom policy, e.g. \"B2C_1_signin\"",
    );
    cx.required(
        p,
        "audience",
        &r.audience.as_ref().map(|_| String::new()),
        "the API's application (client) id",
    );
    let (Some(t), Some(pol)) = (tenant, policy) else {
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
    set(&mut r.validation, "jwt");
    attrs(r, &["emails[0]", "email"], &["emails[0]", "email"]);
}

/// Keeps a list of client ids as `allowed_clients`, the first as `client_id`.
fn clients(cx: &mut Cx, p: &KeyPath, r: &mut RawProvider, what: &str) -> bool {
    let Some(list) = r.client_id.as_ref().map(OneOrMany::to_vec) else {
        cx.err(&p.key("client_id"), format!("missing: {what}"));
        return false;
    };
    if r.allowed_clients.is_none() {
        r.allowed_clients = Some(list.clone());
    }
    r.client_id = list.first().cloned().map(OneOrMany::One);
    true
}

fn needs_secret(cx: &mut Cx, p: &KeyPath, r: &RawProvider, what: &str) {
    if r.client_secret_env.is_none() && r.client_secret_file.is_none() {
        cx.err(
            &p.key("client_secret_env"),
            format!("missing: {what} (`client_secret_env` or `client_secret_file`)"),
        );
    }
}

fn single(cx: &mut Cx, p: &KeyPath, r: &RawProvider, what: &str) {
    match &r.client_id {
        Some(OneOrMany::One(_)) => {}
        Some(OneOrMany::Many(_)) => cx.err(
            &p.key("client_id"),
            "one client id (a string) for this kind",
        ),
        None => cx.err(&p.key("client_id"), format!("missing: {what}")),
    }
}

fn prefixes(r: &mut RawProvider, list: &[&str]) {
    if r.token_prefixes.is_none() {
        r.token_prefixes = Some(list.iter().map(|s| s.to_string()).collect());
    }
}

/// Google: tokeninfo bound to the OAuth client(s); users by verified email.
fn google(cx: &mut Cx, p: &KeyPath, r: &mut RawProvider) {
    if !clients(cx, p, r, "the OAuth client id(s) tokens must be issued to") {
        return;
    }
    set(
        &mut r.tokeninfo_endpoint,
        "https://oauth2.googleapis.com/tokeninfo",
    );
    set(
        &mut r.userinfo_endpoint,
        "https://openidconnect.googleapis.com/v1/userinfo",
    );
    set(&mut r.validation, "vendor");
    attrs(r, &["email"], &["email"]);
}

/// GitHub: "check a token" as the OAuth app (only its tokens answer).
fn github(cx: &mut Cx, p: &KeyPath, r: &mut RawProvider) {
    single(cx, p, r, "the OAuth app's client id");
    needs_secret(cx, p, r, "the OAuth app's client secret");
    set(&mut r.api_url, "https://api.github.com");
    set(&mut r.validation, "vendor");
    prefixes(r, &["gho_", "ghu_"]);
    attrs(r, &["user.login", "login"], &["email"]);
}

/// GitLab: token info bound to the application, then userinfo.
fn gitlab(cx: &mut Cx, p: &KeyPath, r: &mut RawProvider) {
    if !clients(cx, p, r, "the application's uid (its client id)") {
        return;
    }
    set(&mut r.issuer, "https://gitlab.com");
    set(&mut r.validation, "vendor");
    attrs(r, &["preferred_username", "nickname"], &["email"]);
}

/// Slack: auth.test bound to the workspace.
fn slack(cx: &mut Cx, p: &KeyPath, r: &mut RawProvider) {
    cx.required(
        p,
        "team_id",
        &r.team_id,
        "the allowed workspace (team id, e.g. T0123ABCD)",
    );
    set(&mut r.api_url, "https://slack.com/api");
    set(&mut r.validation, "vendor");
    prefixes(r, &["xoxp-", "xoxb-"]);
    attrs(r, &["user"], &["email"]);
}

/// Facebook: debug_token bound to the app; users by email.
fn facebook(cx: &mut Cx, p: &KeyPath, r: &mut RawProvider) {
    single(cx, p, r, "the app id");
    needs_secret(cx, p, r, "the app secret");
    set(&mut r.api_url, "https://graph.facebook.com");
    set(&mut r.validation, "vendor");
    attrs(r, &["email"], &["email"]);
}

impl Cx {
    /// The vendor check of a preset kind (`validation = "vendor"`).
    pub(super) fn vendor(&mut self, p: &KeyPath, kind: &str, r: &RawProvider) -> Option<Vendor> {
        let url = |cx: &mut Cx, key: &str, v: &Option<String>| {
            v.as_deref().and_then(|u| cx.url(&p.key(key), u))
        };
        Some(match kind {
            "google" => Vendor::Google {
                tokeninfo: url(self, "tokeninfo_endpoint", &r.tokeninfo_endpoint)?,
            },
            "github" => Vendor::Github {
                api_url: url(self, "api_url", &r.api_url)?,
            },
            "gitlab" => {
                let issuer = r
                    .issuer
                    .as_deref()
                    .unwrap_or_default()
                    .trim_end_matches('/')
                    .to_owned();
                let token_info =
                    self.url(&p.key("issuer"), &format!("{issuer}/oauth/token/info"))?;
                let userinfo = match &r.userinfo_endpoint {
                    Some(u) => self.url(&p.key("userinfo_endpoint"), u)?,
                    None => self.url(&p.key("issuer"), &format!("{issuer}/oauth/userinfo"))?,
                };
                Vendor::Gitlab {
                    token_info,
                    userinfo,
                }
            }
            "slack" => Vendor::Slack {
                api_url: url(self, "api_url", &r.api_url)?,
                team_id: r.team_id.clone()?,
            },
            "facebook" => Vendor::Facebook {
                api_url: url(self, "api_url", &r.api_url)?,
            },
            _ => {
                self.err(
                    &p.key("validation"),
                    "\"vendor\" is a preset's own check; kind = \"custom\" has none",
                );
                return None;
            }
        })
    }
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
