//! The admin console, served by the admin listener at `/`: an overview of
//! the providers, the cache and the last hour; the recent authentication
//! decisions; "test a token" and "test a provider" (the same engine as
//! `restgate test-token` and `fetch-token`); eviction. Pages are rendered on
//! the server and read without JavaScript; the assets are part of the binary.
//!
//! A pasted credential is used for one evaluation and dropped: it is never
//! stored, logged, cached or written back into a page (the answer is checked
//! for it before it leaves).

mod html;

use std::fmt::Write;
use std::time::SystemTime;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use serde_json::Value;

use self::html::{esc, page, table, when};
use arc_swap::ArcSwap;

use super::reply::{self, Reach, Target};
use crate::config::{Config, IdentityMode, Validation};
use crate::core::token::Token;
use crate::diagnose::{fetch, inspect};
use crate::stack::Gateway;

const CSS: &str = include_str!("console.css");
const JS: &str = include_str!("console.js");

/// Largest form a console page takes (a pasted JWT fits many times over).
const FORM_LIMIT: usize = 64 * 1024;

/// Whether `path` is one of the console's.
pub fn is_console(path: &str) -> bool {
    html::PAGES.iter().any(|(p, _)| *p == path)
        || matches!(path, "/assets/console.css" | "/assets/console.js")
}

/// Serves one console request (the caller has admitted it).
pub async fn serve(state: &ArcSwap<Gateway>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    match (method, path.as_str()) {
        (Method::GET, "/assets/console.css") => asset("text/css; charset=utf-8", CSS),
        (Method::GET, "/assets/console.js") => asset("text/javascript; charset=utf-8", JS),
        (Method::GET, "/") => html_page(StatusCode::OK, page("/", &overview(state).await)),
        (Method::GET, "/decisions") => {
            let query = req.uri().query().unwrap_or("").to_owned();
            html_page(
                StatusCode::OK,
                page("/decisions", &decisions(state, &query)),
            )
        }
        (Method::GET, "/test-token") => {
            let gw = state.load();
            html_page(
                StatusCode::OK,
                page("/test-token", &token_form(&gw.config, None)),
            )
        }
        (Method::GET, "/test-provider") => html_page(
            StatusCode::OK,
            page("/test-provider", &provider_list(state, None)),
        ),
        (Method::GET, "/evict") => html_page(StatusCode::OK, page("/evict", &evict_form(None))),
        (Method::POST, "/test-token" | "/test-provider" | "/evict") => {
            let form = match read_form(req).await {
                Ok(f) => f,
                Err(res) => return res,
            };
            match path.as_str() {
                "/test-token" => test_token(state, &form).await,
                "/test-provider" => test_provider(state, &form).await,
                _ => evict(state, &form).await,
            }
        }
        _ => html_page(
            StatusCode::METHOD_NOT_ALLOWED,
            page("", "<h1>Method not allowed</h1>"),
        ),
    }
}

fn asset(content_type: &'static str, text: &'static str) -> Response<Full<Bytes>> {
    reply::body(
        StatusCode::OK,
        content_type,
        Bytes::from_static(text.as_bytes()),
    )
}

fn html_page(status: StatusCode, page: String) -> Response<Full<Bytes>> {
    reply::body(status, "text/html; charset=utf-8", page)
}

/// An `application/x-www-form-urlencoded` body as pairs.
async fn read_form(req: Request<Incoming>) -> Result<Vec<(String, String)>, Response<Full<Bytes>>> {
    match Limited::new(req.into_body(), FORM_LIMIT).collect().await {
        Ok(body) => Ok(form_urlencoded::parse(&body.to_bytes())
            .into_owned()
            .collect()),
        Err(_) => Err(html_page(
            StatusCode::PAYLOAD_TOO_LARGE,
            page("", "<h1>The form is too large</h1>"),
        )),
    }
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

// === Overview ===

fn age(seconds: Option<u64>) -> String {
    seconds.map_or("–".to_owned(), |s| format!("{s} s"))
}

async fn overview(state: &ArcSwap<Gateway>) -> String {
    let gw = state.load_full();
    let entries = gw.cache.settled_len().await;
    let now = SystemTime::now();
    let mut s = String::from("<h1>Overview</h1><section class=\"cards\">");
    let auth = if gw.config.auth.enabled {
        "<strong class=\"ok\">on</strong>"
    } else {
        "<strong class=\"bad\">OFF: every request passes untouched</strong>"
    };
    let _ = write!(
        s,
        "<div class=\"card\" id=\"auth-state\"><h2>Authentication</h2><p>{auth}</p></div>"
    );
    let since = now
        .duration_since(gw.built_at)
        .unwrap_or_default()
        .as_secs();
    let _ = write!(
        s,
        "<div class=\"card\" id=\"config-state\"><h2>Config</h2><p><code>{}</code></p>\
         <p>loaded <time datetime=\"{t}\">{t}</time> ({since} s ago)</p></div>",
        esc(&gw.config.source.display().to_string()),
        t = when(gw.built_at)
    );
    let ratio = gw
        .metrics
        .cache_hit_ratio()
        .map_or("–".to_owned(), |r| format!("{:.1} %", r * 100.0));
    let _ = write!(
        s,
        "<div class=\"card\" id=\"cache-state\"><h2>Cache</h2><p>{}</p><p>hit ratio {ratio}</p></div>",
        match entries {
            1 => "1 entry".to_owned(),
            n => format!("{n} entries"),
        }
    );
    let cluster = match gw.cache.tier() {
        None => "<p>not configured: this replica learns alone</p>".to_owned(),
        Some(tier) => {
            let st = tier.status();
            let up = st["connected"].as_bool().unwrap_or(false);
            format!(
                "<p><strong class=\"{}\">{}</strong> · {}</p><p>replicas seen {}</p>{}",
                if up { "ok" } else { "bad" },
                if up {
                    "sharing"
                } else {
                    "Redis unreachable: alone"
                },
                esc(st["redis"].as_str().unwrap_or("")),
                st["replicas_seen"].as_u64().unwrap_or(0),
                st["last_error"]
                    .as_str()
                    .map(|e| format!("<p class=\"muted\">last error: {}</p>", esc(e)))
                    .unwrap_or_default()
            )
        }
    };
    let _ = write!(
        s,
        "<div class=\"card\" id=\"cluster-state\"><h2>Cluster</h2>{cluster}</div></section>"
    );

    let status = gw.providers.status();
    let mut rows = Vec::new();
    if let Some(all) = status.as_object() {
        for (name, p) in all {
            let state = p["state"].as_str().unwrap_or("unknown");
            let budget = gw
                .budgets
                .as_ref()
                .and_then(|b| b.left(name))
                .map_or("–".to_owned(), |n| n.to_string());
            let last_error = match &p["last_error"] {
                Value::Object(e) => format!(
                    "{}: {}",
                    esc(e.get("reason").and_then(Value::as_str).unwrap_or("")),
                    esc(e.get("message").and_then(Value::as_str).unwrap_or(""))
                ),
                _ => "–".to_owned(),
            };
            rows.push(format!(
                "<tr data-provider=\"{n}\" data-state=\"{state}\"><td>{n}</td><td>{}</td><td>{}</td>\
                 <td class=\"state state-{state}\">{state}</td><td>{}</td><td>{}</td><td>{} / {}</td><td>{budget}</td><td>{last_error}</td></tr>",
                esc(p["kind"].as_str().unwrap_or("")),
                esc(p["validation"].as_str().unwrap_or("")),
                age(p["metadata_age_seconds"].as_u64()),
                age(p["keys_age_seconds"].as_u64()),
                p["calls_last_minute"].as_u64().unwrap_or(0),
                p["errors_last_minute"].as_u64().unwrap_or(0),
                n = esc(name),
            ));
        }
    }
    s.push_str("<h2>Providers</h2>");
    s.push_str(&table(
        "providers",
        &[
            "provider",
            "kind",
            "validation",
            "state",
            "metadata age",
            "keys age",
            "calls / errors (last minute)",
            "budget left",
            "last error",
        ],
        &rows,
    ));
    let history = gw.metrics.recent.history(now);
    s.push_str("<h2>Requests, last hour</h2>");
    s.push_str(&html::requests_chart(&history));
    s.push_str("<h2>Provider call time, last hour</h2>");
    s.push_str(&html::latency_chart(&history));
    s
}

// === Decisions ===

fn decisions(state: &ArcSwap<Gateway>, query: &str) -> String {
    let q: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let user = field(&q, "user").map(str::to_lowercase);
    let status = field(&q, "status").and_then(|s| s.parse::<u16>().ok());
    let reason = field(&q, "reason");
    let gw = state.load();
    let all = gw.metrics.recent.decisions();
    let shown: Vec<_> = all
        .iter()
        .filter(|d| {
            user.as_ref().is_none_or(|u| {
                d.principal
                    .as_ref()
                    .is_some_and(|p| p.user.to_lowercase().contains(u.as_str()))
            })
        })
        .filter(|d| status.is_none_or(|s| d.status == s))
        .filter(|d| reason.is_none_or(|r| d.reason == r))
        .collect();
    let mut reasons: Vec<&str> = all
        .iter()
        .map(|d| d.reason)
        .filter(|r| !r.is_empty())
        .collect();
    reasons.sort_unstable();
    reasons.dedup();
    let mut options = String::from("<option value=\"\">any</option>");
    for r in reasons {
        let sel = if reason == Some(r) { " selected" } else { "" };
        let _ = write!(options, "<option{sel}>{}</option>", esc(r));
    }
    let mut s = format!(
        "<h1>Decisions</h1>
<form method=\"get\" action=\"/decisions\" class=\"filters\" id=\"filter\">
<label>User <input name=\"user\" value=\"{}\" autocomplete=\"off\"></label>
<label>Status <input name=\"status\" value=\"{}\" inputmode=\"numeric\" size=\"4\"></label>
<label>Reason <select name=\"reason\">{options}</select></label>
<button type=\"submit\">Filter</button> <a href=\"/decisions\">clear</a>
</form>
<p class=\"muted\" id=\"count\">{} of the last {} decisions (newest first; pass-through requests are not decisions). No token, key or query string is kept.</p>",
        esc(field(&q, "user").unwrap_or("")),
        status.map(|s| s.to_string()).unwrap_or_default(),
        shown.len(),
        all.len(),
    );
    let rows: Vec<String> = shown
        .iter()
        .map(|d| {
            let (user, provider) = d.principal.as_ref().map_or(("–".to_owned(), "–".to_owned()), |p| {
                (esc(&p.user), esc(&p.provider))
            });
            format!(
                "<tr class=\"outcome-{o}\" data-status=\"{st}\" data-reason=\"{r}\"><td><time>{}</time></td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{st}</td><td>{o}</td><td>{r}</td><td class=\"user\">{user}</td><td>{provider}</td><td>{}</td></tr>",
                when(d.at),
                esc(&d.request_id),
                esc(d.method.as_str()),
                esc(&d.path),
                d.cache.unwrap_or("–"),
                o = d.outcome,
                st = d.status,
                r = esc(d.reason),
            )
        })
        .collect();
    s.push_str(&table(
        "decisions",
        &[
            "time",
            "request id",
            "method",
            "path",
            "status",
            "outcome",
            "reason",
            "user",
            "provider",
            "cache",
        ],
        &rows,
    ));
    s
}

// === Test a token ===

fn token_form(config: &Config, result: Option<&str>) -> String {
    let mut options = String::from("<option value=\"\">as serve routes it</option>");
    for name in config.providers.keys() {
        let _ = write!(options, "<option>{}</option>", esc(name));
    }
    format!(
        "<h1>Test a token</h1>
<p>Paste a Bearer token (or <code>user:password</code> for Basic). restgate decides it exactly as it would a request, asks the providers directly (not the cache), shows each raw answer and every attribute, and forgets the credential: it is not stored, logged or shown back.</p>
<form method=\"post\" action=\"/test-token\" id=\"token-form\" autocomplete=\"off\">
<label for=\"credential\">Credential</label>
<textarea id=\"credential\" name=\"credential\" rows=\"4\" spellcheck=\"false\" autocomplete=\"off\" required></textarea>
<div class=\"row\"><label><input type=\"checkbox\" name=\"basic\" value=\"1\"> Basic (<code>user:password</code>)</label>
<label>Provider <select name=\"provider\">{options}</select></label>
<button type=\"submit\">Test</button></div>
</form>
{}",
        result.unwrap_or("")
    )
}

/// The TOML line that picks an attribute: the dotted path when it names the
/// same value, else the JSON pointer.
fn toml_path(pointer: &str, dotted: &str) -> String {
    let written = match crate::config::parse_attr(dotted) {
        Ok(a) if a.pointer == pointer => dotted,
        _ => pointer,
    };
    toml::Value::String(written.to_owned()).to_string()
}

/// The report of one credential; `nested` inside another result (the
/// provider test's), without the ids the page's own result carries.
fn report_html(r: &inspect::Report, config: &Config, nested: bool) -> String {
    let accepted = r.accepted();
    let class = if accepted { "accepted" } else { "refused" };
    let (section_id, verdict_id) = if nested {
        ("", "")
    } else {
        (" id=\"result\"", " id=\"verdict\"")
    };
    let mut s = format!(
        "<section{section_id} class=\"decision {class}\"><h2>Decision</h2>\
         <p class=\"verdict\"{verdict_id}><strong>{}</strong>: {}</p><dl>\
         <dt>Credential</dt><dd id=\"credential-class\">{}</dd>",
        esc(&r.decision.to_uppercase()),
        esc(&r.reason),
        esc(&r.class)
    );
    if let Some(route) = &r.route {
        let _ = write!(s, "<dt>Routed to</dt><dd id=\"route\">{}</dd>", esc(route));
    }
    if let Some(p) = &r.principal {
        let handoff = match config.upstream.identity {
            IdentityMode::Header => format!("as {}: {}", config.upstream.identity_header, p.user),
            IdentityMode::OAuth1 => format!("signed OAuth 1.0a, xoauth_requestor_id={}", p.user),
        };
        let _ = write!(
            s,
            "<dt>Identity</dt><dd id=\"identity\"><strong>{}</strong> (email {}, provider {}, client {}, client credentials: {}, scopes [{}])</dd>\
             <dt>Forwarded</dt><dd id=\"forwarded\">{}</dd>",
            esc(&p.user),
            esc(p.email.as_deref().unwrap_or("none")),
            esc(&p.provider),
            esc(p.client_id.as_deref().unwrap_or("none")),
            if p.client_credentials { "yes" } else { "no" },
            esc(&p.scopes.join(" ")),
            esc(&handoff)
        );
    }
    s.push_str("</dl>");
    for (i, p) in r.providers.iter().enumerate() {
        let _ = write!(
            s,
            "<section class=\"provider-answer\" data-provider=\"{n}\"><h3>Provider {n}</h3>",
            n = esc(&p.name)
        );
        match &p.answer {
            Err(e) => {
                let _ = write!(s, "<p class=\"bad\">failed: {}</p>", esc(e));
            }
            Ok(answer) => {
                let pretty = serde_json::to_string_pretty(answer).unwrap_or_default();
                let _ = write!(s, "<pre class=\"json\">{}</pre>", esc(&pretty));
                let used = config.providers.get(&p.name).map(|c| &c.mapping);
                let attrs = inspect::attributes(answer);
                if !attrs.is_empty() {
                    s.push_str(
                        "<p>Attributes: pick one to see the line that makes it the username or email.</p>\
                         <table class=\"attributes\"><thead><tr><th>path</th><th>value</th><th></th></tr></thead><tbody>",
                    );
                    let mut lines = String::new();
                    for (j, (pointer, dotted, value)) in attrs.iter().enumerate() {
                        let mark = used.map_or("", |m| {
                            if m.username.iter().any(|a| &a.pointer == pointer) {
                                "← username_attribute"
                            } else if m.email.iter().any(|a| &a.pointer == pointer) {
                                "← email_attribute"
                            } else {
                                ""
                            }
                        });
                        let id = format!("attr-{i}-{j}");
                        let _ = write!(
                            s,
                            "<tr><td><a class=\"attr\" href=\"#{id}\" data-path=\"{d}\">{d}</a></td><td>{}</td><td class=\"mark\">{mark}</td></tr>",
                            esc(value),
                            d = esc(dotted),
                        );
                        let quoted = toml_path(pointer, dotted);
                        let _ = write!(
                            lines,
                            "<div class=\"toml\" id=\"{id}\"><p>In <code>[providers.{}]</code>:</p>\
                             <pre>username_attribute = {q}</pre><pre>email_attribute = {q}</pre></div>",
                            esc(&p.name),
                            q = esc(&quoted)
                        );
                    }
                    s.push_str("</tbody></table>");
                    s.push_str(&lines);
                }
                if let Some(refusal) = p.refusal {
                    let _ = write!(s, "<p class=\"bad\">refused: {}</p>", esc(refusal));
                }
            }
        }
        s.push_str("</section>");
    }
    s.push_str("</section>");
    s
}

/// The page, with every occurrence of the credential (and, for Basic, of
/// its password) replaced: defence in depth behind the report's own masking.
/// Credentials shorter than 6 characters are left: they guard nothing, and
/// replacing them would garble the page.
fn scrub(body: String, credential: &str, basic: bool) -> String {
    let mut secrets = vec![credential.to_owned()];
    if basic {
        if let Some((_, password)) = credential.split_once(':') {
            secrets.push(password.to_owned());
        }
    }
    secrets.retain(|s| s.len() >= 6);
    let mut out = body;
    for secret in secrets {
        for form in [secret.clone(), esc(&secret)] {
            if out.contains(&form) {
                out = out.replace(&form, "&lt;the credential&gt;");
            }
        }
    }
    out
}

async fn test_token(state: &ArcSwap<Gateway>, form: &[(String, String)]) -> Response<Full<Bytes>> {
    let gw = state.load_full();
    let Some(credential) = field(form, "credential") else {
        let body = token_form(
            &gw.config,
            Some("<p class=\"bad\" id=\"result\">Paste a credential first.</p>"),
        );
        return html_page(StatusCode::BAD_REQUEST, page("/test-token", &body));
    };
    let basic = field(form, "basic").is_some();
    let only = field(form, "provider").filter(|p| gw.config.providers.contains_key(*p));
    let report = inspect::evaluate(&gw.config, &gw.providers, credential, basic, only).await;
    let body = page(
        "/test-token",
        &token_form(&gw.config, Some(&report_html(&report, &gw.config, false))),
    );
    html_page(StatusCode::OK, scrub(body, credential, basic))
}

// === Test a provider ===

fn can_grant(p: &crate::config::Provider) -> bool {
    p.token_endpoint.is_some() || matches!(p.validation, Validation::Oidc(_))
}

fn provider_list(state: &ArcSwap<Gateway>, result: Option<&str>) -> String {
    let gw = state.load();
    let mut rows = Vec::new();
    for (name, p) in &gw.config.providers {
        let action = if can_grant(p) {
            format!(
                "<form method=\"post\" action=\"/test-provider\"><input type=\"hidden\" name=\"provider\" value=\"{n}\">\
                 <button type=\"submit\" id=\"test-{n}\">Test {n}</button></form>",
                n = esc(name)
            )
        } else {
            "<span class=\"muted\">no token endpoint (set <code>token_endpoint</code>)</span>"
                .to_owned()
        };
        rows.push(format!(
            "<tr data-provider=\"{n}\"><td>{n}</td><td>{}</td><td>{action}</td></tr>",
            esc(&p.kind),
            n = esc(name)
        ));
    }
    format!(
        "<h1>Test a provider</h1>
<p>Gets a token by the client-credentials grant with restgate's own client at the provider's token endpoint, then validates it as a request would be: the same check as <code>restgate fetch-token</code>.</p>
{}{}",
        table("provider-tests", &["provider", "kind", ""], &rows),
        result.unwrap_or("")
    )
}

async fn test_provider(
    state: &ArcSwap<Gateway>,
    form: &[(String, String)],
) -> Response<Full<Bytes>> {
    let gw = state.load_full();
    let Some(name) = field(form, "provider").filter(|n| gw.config.providers.contains_key(*n))
    else {
        let body = provider_list(
            state,
            Some("<p class=\"bad\" id=\"result\">No such provider.</p>"),
        );
        return html_page(StatusCode::BAD_REQUEST, page("/test-provider", &body));
    };
    let checked = fetch::check(&gw.config, &gw.providers, name).await;
    let class = match checked.outcome {
        fetch::Outcome::Ok => "accepted",
        _ => "refused",
    };
    let mut result = format!(
        "<section id=\"provider-result\" class=\"decision {class}\"><h2>Test of provider {}</h2><p class=\"verdict\" id=\"verdict\">{}</p>",
        esc(name),
        esc(&checked.verdict)
    );
    if let Some(report) = &checked.report {
        result.push_str(&report_html(report, &gw.config, true));
    }
    result.push_str("</section>");
    let mut body = page("/test-provider", &provider_list(state, Some(&result)));
    if let Some(token) = &checked.token {
        body = scrub(body, token, false);
    }
    html_page(StatusCode::OK, body)
}

// === Evict ===

fn evict_form(result: Option<&str>) -> String {
    format!(
        "<h1>Evict</h1>
<p>Drops cached validations so that the next request asks the provider again: every entry acting as a user, or one token's. With a cluster, every replica drops them.</p>
<form method=\"post\" action=\"/evict\" id=\"evict-user\" autocomplete=\"off\"><label>User <input name=\"user\" required></label> <button type=\"submit\">Evict the user</button></form>
<form method=\"post\" action=\"/evict\" id=\"evict-token\" autocomplete=\"off\"><label>Token <input name=\"token\" autocomplete=\"off\" spellcheck=\"false\" required></label> <button type=\"submit\">Evict the token</button></form>
{}",
        result.unwrap_or("")
    )
}

async fn evict(state: &ArcSwap<Gateway>, form: &[(String, String)]) -> Response<Full<Bytes>> {
    let gw = state.load_full();
    let (what, target) = match (
        field(form, "user"),
        field(form, "token").and_then(Token::new),
    ) {
        (Some(user), None) => (format!("user {}", esc(user)), Target::User(user)),
        (None, Some(token)) => ("the token".to_owned(), Target::Token(token)),
        _ => {
            let body = evict_form(Some(
                "<p class=\"bad\" id=\"result\">Give a user or a token.</p>",
            ));
            return html_page(StatusCode::BAD_REQUEST, page("/evict", &body));
        }
    };
    let line = match reply::evict(&gw, target).await {
        Reach::Alone => {
            format!("<p class=\"ok\" id=\"result\">Evicted {what} on this replica.</p>")
        }
        Reach::Every => {
            format!("<p class=\"ok\" id=\"result\">Evicted {what} on every replica.</p>")
        }
        Reach::ThisOnly(why) => format!(
            "<p class=\"bad\" id=\"result\">Evicted {what} on this replica only: {}; retry when Redis is back.</p>",
            esc(&why)
        ),
    };
    let mut body = page("/evict", &evict_form(Some(&line)));
    if let Some(token) = field(form, "token") {
        body = scrub(body, token, false);
    }
    html_page(StatusCode::OK, body)
}
