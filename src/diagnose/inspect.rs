//! What `test-token` and `fetch-token` share: validate one credential exactly
//! as `serve` would (the same classifier, provider routing, mapping and
//! directory), keeping what each step saw for the admin to read.

use std::fmt::Write;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderValue, header};
use serde_json::{Value, json};

use crate::auth::api_key::ApiKeys;
use crate::auth::credential::{Classifier, Credential};
use crate::auth::directory::DirectoryClient;
use crate::config::Config;
use crate::core::clock::unix_now;
use crate::core::principal::{Principal, Refusal, Verdict};
use crate::core::token::Token;
use crate::providers::{Answer, ProviderClient, ProviderError, ProviderSet, ask};

/// What one provider answered.
#[derive(Debug)]
pub struct ProviderAnswer {
    /// The provider's name.
    pub name: String,
    /// Its raw answer (the token masked wherever it appears), or the failure.
    pub answer: Result<Value, String>,
    /// The refusal the provider itself gave, if any.
    pub refusal: Option<&'static str>,
}

/// The outcome of validating one credential.
#[derive(Debug)]
pub struct Report {
    /// The credential class (`bearer`, `api_key`, `native:…`).
    pub class: String,
    /// Where a bearer token was routed, and why.
    pub route: Option<String>,
    /// The providers asked, in order.
    pub providers: Vec<ProviderAnswer>,
    /// The identity, when accepted.
    pub principal: Option<Arc<Principal>>,
    /// `accepted`, `refused`, `passed` (native, untouched) or `error`.
    pub decision: &'static str,
    /// Why.
    pub reason: String,
}

impl Report {
    /// Whether `serve` would accept it (as restgate's own identity).
    pub fn accepted(&self) -> bool {
        self.decision == "accepted"
    }
}

/// Validates a credential: `basic` takes it as `user:password` for Basic auth,
/// else as a bearer token; `only` restricts to one provider.
pub async fn evaluate(
    config: &Config,
    providers: &ProviderSet,
    credential: &str,
    basic: bool,
    only: Option<&str>,
) -> Report {
    let mut headers = HeaderMap::new();
    let value = if basic {
        format!("Basic {}", STANDARD.encode(credential))
    } else {
        format!("Bearer {credential}")
    };
    let Ok(v) = HeaderValue::from_str(&value) else {
        return refused(
            "invalid",
            "the credential has characters a header cannot carry".into(),
        );
    };
    headers.insert(header::AUTHORIZATION, v);
    let classifier = Classifier {
        api_key_prefix: config.auth.api_key_prefix.clone(),
        api_key_header: config.auth.api_key_header.clone(),
        session_cookies: config.auth.session_cookies.clone(),
    };
    let report = match classifier.classify(&headers) {
        Err(e) => refused("malformed", format!("400 invalid_request: {e}")),
        Ok(Credential::None) => refused("none", "no credential".into()),
        Ok(Credential::Native(kind)) => Report {
            class: format!("native:{}", kind.as_str()),
            route: None,
            providers: Vec::new(),
            principal: None,
            decision: "passed",
            reason: format!(
                "an Atlassian-native credential ({}): forwarded untouched; the product decides",
                kind.as_str()
            ),
        },
        Ok(Credential::ApiKey { key, user }) => {
            match ApiKeys::new(&config.api_keys).verify(&key.0, user.as_deref(), unix_now()) {
                Ok(p) => accepted("api_key", Vec::new(), p),
                Err(r) => refused("api_key", format!("401 invalid_token: API key {r:?}")),
            }
        }
        Ok(Credential::Bearer(token)) => bearer(providers, &token, only).await,
    };
    directory(config, report).await
}

async fn bearer(providers: &ProviderSet, token: &Token, only: Option<&str>) -> Report {
    let mut answers = Vec::new();
    let mut seen = |client: &ProviderClient, answer: &Result<Answer, ProviderError>| {
        let name = client.name().to_owned();
        answers.push(match answer {
            Err(e) => ProviderAnswer {
                name,
                answer: Err(e.kind.to_string()),
                refusal: None,
            },
            Ok(a) => ProviderAnswer {
                name,
                answer: Ok(mask(a.claims.clone(), token.expose())),
                refusal: a.refusal.map(Refusal::as_str),
            },
        });
    };
    let (route, result) = match only {
        Some(name) => match providers.get(name) {
            Some(c) => (
                format!("{name}: chosen with --provider"),
                ask(c, token, &mut seen).await,
            ),
            None => return refused("bearer", format!("no provider named {name:?}")),
        },
        None => (
            providers.route(token).explain(),
            providers.validate_seen(token, &mut seen).await,
        ),
    };
    let mut report = match result {
        Ok(Verdict::Active(p)) => accepted("bearer", Vec::new(), p),
        Ok(Verdict::Refused(r)) => refused("bearer", format!("401 invalid_token: {}", r.as_str())),
        Err(e) => Report {
            decision: "error",
            reason: format!("503: {e}"),
            ..refused("bearer", String::new())
        },
    };
    report.route = Some(route);
    report.providers = answers;
    report
}

/// The directory step, as `serve` runs it after validation.
async fn directory(config: &Config, report: Report) -> Report {
    let Some(p) = report.principal.clone().filter(|_| report.accepted()) else {
        return report;
    };
    match DirectoryClient::new(&config.directory, &config.cache)
        .apply(p)
        .await
    {
        Ok(Some(p)) => Report {
            principal: Some(p),
            ..report
        },
        Ok(None) => Report {
            decision: "refused",
            reason: "403 unknown_user: not in the directory".into(),
            ..report
        },
        Err(e) => Report {
            decision: "error",
            reason: format!("503: {e}"),
            ..report
        },
    }
}

fn accepted(class: &str, providers: Vec<ProviderAnswer>, p: Arc<Principal>) -> Report {
    Report {
        class: class.into(),
        route: None,
        providers,
        reason: format!("acts as {}", p.user),
        principal: Some(p),
        decision: "accepted",
    }
}

fn refused(class: &str, reason: String) -> Report {
    Report {
        class: class.into(),
        route: None,
        providers: Vec::new(),
        principal: None,
        decision: "refused",
        reason,
    }
}

/// The answer with any string holding the token replaced: it is never echoed.
fn mask(v: Value, token: &str) -> Value {
    match v {
        Value::String(s) if !token.is_empty() && s.contains(token) => {
            Value::String("<the token>".into())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(|x| mask(x, token)).collect()),
        Value::Object(o) => {
            Value::Object(o.into_iter().map(|(k, x)| (k, mask(x, token))).collect())
        }
        other => other,
    }
}

/// Every string, number or boolean in an answer with its JSON pointer and
/// dotted path, the candidates for `username_attribute`.
pub fn attributes(v: &Value) -> Vec<(String, String, String)> {
    fn walk(v: &Value, pointer: String, dotted: String, out: &mut Vec<(String, String, String)>) {
        match v {
            Value::Object(o) => {
                for (k, x) in o {
                    let p = format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1"));
                    let d = if dotted.is_empty() {
                        k.clone()
                    } else {
                        format!("{dotted}.{k}")
                    };
                    walk(x, p, d, out);
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    walk(x, format!("{pointer}/{i}"), format!("{dotted}[{i}]"), out);
                }
            }
            Value::Null => {}
            Value::String(s) => out.push((pointer, dotted, s.clone())),
            other => out.push((pointer, dotted, other.to_string())),
        }
    }
    let mut out = Vec::new();
    walk(v, String::new(), String::new(), &mut out);
    out
}

/// The report as JSON.
pub fn to_json(r: &Report) -> Value {
    let providers: Vec<Value> = r
        .providers
        .iter()
        .map(|p| match &p.answer {
            Ok(a) => json!({"provider": p.name, "answer": a, "refusal": p.refusal}),
            Err(e) => json!({"provider": p.name, "error": e}),
        })
        .collect();
    let identity = r.principal.as_ref().map(|p| {
        json!({"user": p.user, "email": p.email, "provider": &*p.provider, "client_id": p.client_id,
               "client_credentials": p.client_credentials, "scopes": p.scopes, "audiences": p.audiences, "exp": p.exp})
    });
    json!({"credential": r.class, "route": r.route, "providers": providers, "identity": identity, "decision": r.decision, "reason": r.reason})
}

/// The report for a person; colour only when `colour`.
pub fn to_text(r: &Report, config: &Config, colour: bool) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Credential: {}", r.class);
    if let Some(route) = &r.route {
        let _ = writeln!(s, "Routed to: {route}");
    }
    for p in &r.providers {
        let _ = writeln!(s, "\nProvider {}:", p.name);
        match &p.answer {
            Err(e) => {
                let _ = writeln!(s, "  failed: {e}");
            }
            Ok(answer) => {
                let pretty = serde_json::to_string_pretty(answer).unwrap_or_default();
                let _ = writeln!(s, "  answer:\n{}", indent(&pretty, 4));
                let attrs = attributes(answer);
                if !attrs.is_empty() {
                    let used = config.providers.get(&p.name).map(|c| &c.mapping);
                    let _ = writeln!(
                        s,
                        "  attributes (username_attribute / email_attribute candidates):"
                    );
                    for (pointer, dotted, value) in attrs {
                        let mark = used.map_or("", |m| {
                            if m.username.iter().any(|a| a.pointer == pointer) {
                                "  ← username_attribute"
                            } else if m.email.iter().any(|a| a.pointer == pointer) {
                                "  ← email_attribute"
                            } else {
                                ""
                            }
                        });
                        let _ = writeln!(s, "    {dotted:<32} {value}{mark}");
                    }
                }
                if let Some(r) = p.refusal {
                    let _ = writeln!(s, "  refused: {r}");
                }
            }
        }
    }
    if let Some(p) = &r.principal {
        let _ = writeln!(
            s,
            "\nIdentity: {} (email {}, provider {}, client {}, client credentials: {}, scopes [{}])",
            p.user,
            p.email.as_deref().unwrap_or("none"),
            p.provider,
            p.client_id.as_deref().unwrap_or("none"),
            if p.client_credentials { "yes" } else { "no" },
            p.scopes.join(" ")
        );
    }
    let (on, off) = match (colour, r.accepted()) {
        (true, true) => ("\x1b[32m", "\x1b[0m"),
        (true, false) => ("\x1b[31m", "\x1b[0m"),
        (false, _) => ("", ""),
    };
    let _ = writeln!(
        s,
        "\nDecision: {on}{}{off}: {}",
        r.decision.to_uppercase(),
        r.reason
    );
    s
}

fn indent(text: &str, n: usize) -> String {
    text.lines()
        .map(|l| format!("{}{l}", " ".repeat(n)))
        .collect::<Vec<_>>()
        .join("\n")
}
