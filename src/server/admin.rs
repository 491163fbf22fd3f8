//! The admin listener: `/healthz`, `/readyz`, `/metrics`, `GET /status`,
//! `POST /cache/evict`, and the console's pages (`console`). It binds
//! loopback by default and is never the gateway's port: eviction takes a
//! token in its body.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use arc_swap::ArcSwap;

use super::console;
use super::reply::{self, Reach, Target};
use crate::core::token::Token;
use crate::stack::Gateway;

/// What the admin endpoints read.
#[derive(Clone)]
pub struct AdminState {
    /// The running stack (its metrics and cache survive reloads).
    pub current: Arc<ArcSwap<Gateway>>,
    /// True once the gateway listens, false again while it drains.
    pub ready: Arc<AtomicBool>,
}

/// Connections the admin listener serves at once; more wait to be accepted.
const ADMIN_CONNECTIONS: usize = 64;

/// Serves the admin endpoints until `shutdown` resolves. A client gets 10 s
/// to send a request head, and at most [`ADMIN_CONNECTIONS`] are served at
/// once: a listener reachable from the network cannot be held open.
pub async fn serve(listener: TcpListener, state: AdminState, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let slots = Arc::new(tokio::sync::Semaphore::new(ADMIN_CONNECTIONS));
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            () = &mut shutdown => break,
        };
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let state = state.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    let svc = service_fn(move |req| handle(state.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .timer(hyper_util::rt::TokioTimer::new())
                        .header_read_timeout(std::time::Duration::from_secs(10))
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
            () = &mut shutdown => break,
        }
    }
}

fn json_reply(status: StatusCode, v: Value) -> Response<Full<Bytes>> {
    reply::body(status, "application/json", v.to_string())
}

async fn handle(
    state: AdminState,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut res = route(state, req).await;
    guard_headers(res.headers_mut());
    Ok(res)
}

/// Headers on every admin answer: nothing may frame, cache or sniff these
/// pages, no other site learns their address from a link, and only their own
/// scripts and styles run. (`same-origin`, not `no-referrer`: under the
/// latter a browser posts the pages' own forms with `Origin: null`.)
fn guard_headers(h: &mut http::HeaderMap) {
    use header::HeaderValue as V;
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        V::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, V::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, V::from_static("same-origin"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, V::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, V::from_static("no-store"));
}

async fn route(state: AdminState, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path();
    let open = matches!(path, "/healthz" | "/readyz");
    if !open {
        if let Some(refusal) = refuse(&state, &req) {
            return refusal;
        }
    }
    if console::is_console(path) {
        return console::serve(&state.current, req).await;
    }
    match (req.method().clone(), path) {
        (Method::GET | Method::HEAD, "/healthz") => {
            reply::body(StatusCode::OK, "text/plain", "ok\n")
        }
        (Method::GET | Method::HEAD, "/readyz") => readyz(&state),
        (Method::GET, "/status") => status(&state),
        (Method::GET, "/metrics") => {
            let gw = state.current.load();
            gw.metrics.cache_entries.set(gw.cache.len() as i64);
            reply::body(
                StatusCode::OK,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                gw.metrics.encode(),
            )
        }
        (Method::POST, "/cache/evict") => evict(&state, req).await,
        (_, "/healthz" | "/readyz" | "/metrics" | "/status" | "/cache/evict") => {
            let mut res = json_reply(
                StatusCode::METHOD_NOT_ALLOWED,
                json!({"error": "method_not_allowed"}),
            );
            let allow = match path {
                "/healthz" | "/readyz" => "GET, HEAD",
                "/cache/evict" => "POST",
                _ => "GET",
            };
            res.headers_mut()
                .insert(header::ALLOW, header::HeaderValue::from_static(allow));
            res
        }
        _ => json_reply(StatusCode::NOT_FOUND, json!({"error": "not_found"})),
    }
}

/// Why a request may not use the admin endpoints, if it may not:
/// - without an admin token the listener is on loopback, and the request
///   must name it so (a loopback or `localhost` Host): a web page whose
///   name was rebound to 127.0.0.1 cannot read it;
/// - with one, the token must come (Bearer, or as the password of Basic,
///   which a browser asks for once);
/// - a state-changing request must come from these pages themselves or from
///   no page at all (`Origin` and `Sec-Fetch-Site`), so that no other site
///   can drive it through the admin's browser.
fn refuse<B>(state: &AdminState, req: &Request<B>) -> Option<Response<Full<Bytes>>> {
    let gw = state.current.load();
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // A loopback listener is reached by a loopback name only, token or not:
    // a page that rebinds its own name to 127.0.0.1 must not even get to
    // prompt for the token under its name.
    let loopback_only =
        gw.config.server.admin_token.is_none() || gw.config.server.admin_listen.ip().is_loopback();
    if loopback_only && !is_loopback_host(host) {
        return Some(json_reply(
            StatusCode::FORBIDDEN,
            json!({"error": "forbidden", "error_description": "without server.admin_token_file the admin listener answers only requests addressed to a loopback name"}),
        ));
    }
    // Another site's request is refused before any login prompt.
    if req.method() != Method::GET && req.method() != Method::HEAD && !same_origin(req, host) {
        return Some(json_reply(
            StatusCode::FORBIDDEN,
            json!({"error": "cross_origin", "error_description": "a state-changing admin request must come from the admin pages themselves"}),
        ));
    }
    if !admitted(state, req) {
        let mut res = json_reply(
            StatusCode::UNAUTHORIZED,
            json!({"error": "unauthorized", "error_description": "the admin endpoints need the admin token as a Bearer token"}),
        );
        let h = res.headers_mut();
        h.append(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer realm=\"restgate-admin\""),
        );
        h.append(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Basic realm=\"restgate-admin\", charset=\"UTF-8\""),
        );
        return Some(res);
    }
    None
}

/// `127.0.0.1:9901`, `[::1]:9901`, `localhost:9901` (and without a port).
fn is_loopback_host(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if !name.ends_with(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            name
        }
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether a state-changing request comes from these pages or from no page:
/// a browser says where it comes from (`Origin`, `Sec-Fetch-Site`); a
/// script or `curl` says neither.
fn same_origin<B>(req: &Request<B>, host: &str) -> bool {
    let h = req.headers();
    if let Some(site) = h.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if !matches!(site, "same-origin" | "none") {
            return false;
        }
    }
    match h.get(header::ORIGIN).map(|v| v.to_str().unwrap_or("")) {
        None => true,
        Some(origin) => origin == format!("http://{host}") || origin == format!("https://{host}"),
    }
}

/// Whether a request may use the admin endpoints: always when no admin
/// token is configured (the listener is then on loopback, which `check`
/// enforces), else only with `Authorization: Bearer <token>`, compared in
/// constant time. The token is read from the running config, so a reload
/// that changes it takes effect at once.
fn admitted<B>(state: &AdminState, req: &Request<B>) -> bool {
    let gw = state.current.load();
    let Some(token) = &gw.config.server.admin_token else {
        return true;
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            let rest = rest.trim();
            if scheme.eq_ignore_ascii_case("bearer") {
                Some(rest.as_bytes().to_vec())
            } else if scheme.eq_ignore_ascii_case("basic") {
                // A browser's login prompt: any user name, the token as password.
                use base64::Engine as _;
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(rest)
                    .ok()?;
                let colon = decoded.iter().position(|b| *b == b':')?;
                Some(decoded[colon + 1..].to_vec())
            } else {
                None
            }
        });
    match given {
        // Digests of equal length: the comparison tells nothing, not even
        // the token's length.
        Some(given) => {
            use sha2::Digest as _;
            use subtle::ConstantTimeEq as _;
            let given = sha2::Sha256::digest(&given);
            let want = sha2::Sha256::digest(token.expose().as_bytes());
            bool::from(given.as_slice().ct_eq(want.as_slice()))
        }
        None => false,
    }
}

/// Ready once the gateway listens and until it drains, while any provider
/// can serve: one provider's outage never takes the replica out.
fn readyz(state: &AdminState) -> Response<Full<Bytes>> {
    if !state.ready.load(Ordering::SeqCst) {
        return reply::body(StatusCode::SERVICE_UNAVAILABLE, "text/plain", "not ready\n");
    }
    if !state.current.load().providers.any_can_serve() {
        return reply::body(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "not ready: every provider is down\n",
        );
    }
    reply::body(StatusCode::OK, "text/plain", "ready\n")
}

/// Each provider's state, the cache and the cluster, as JSON. Names and
/// states only: no token, secret or user appears here.
fn status(state: &AdminState) -> Response<Full<Bytes>> {
    let gw = state.current.load();
    let mut providers = gw.providers.status();
    if let (Some(budgets), Some(all)) = (&gw.budgets, providers.as_object_mut()) {
        for (name, p) in all.iter_mut() {
            p["budget_left"] = json!(budgets.left(name));
        }
    }
    json_reply(
        StatusCode::OK,
        json!({
            "providers": providers,
            "cache": {
                "entries": gw.cache.len(),
                "hit_ratio": gw.metrics.cache_hit_ratio(),
            },
            "cluster": match gw.cache.tier() {
                Some(tier) => tier.status(),
                None => json!({"configured": false}),
            },
        }),
    )
}

/// The answer to an eviction: with a cluster, `200` once every replica was
/// told through Redis; `503` when Redis could not be reached (this replica
/// evicted, the others were not told).
fn evicted(what: &str, reach: Reach) -> Response<Full<Bytes>> {
    match reach {
        Reach::Alone => json_reply(StatusCode::OK, json!({"evicted": what})),
        Reach::Every => json_reply(StatusCode::OK, json!({"evicted": what, "replicas": "all"})),
        Reach::ThisOnly(why) => json_reply(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({
                "error": "cluster_unreachable",
                "error_description": format!("evicted on this replica only: {why}; retry when Redis is back"),
                "evicted": what,
                "replicas": "this",
            }),
        ),
    }
}

/// `{"user": "…"}` drops every entry acting as that user; `{"token": "…"}`
/// drops that token's entry.
async fn evict(state: &AdminState, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let Ok(body) = Limited::new(req.into_body(), 16 * 1024).collect().await else {
        return json_reply(
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid_request", "error_description": "unreadable body"}),
        );
    };
    let Ok(v) = serde_json::from_slice::<Value>(&body.to_bytes()) else {
        return json_reply(
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid_request", "error_description": "expected JSON"}),
        );
    };
    match (
        v.get("user").and_then(Value::as_str),
        v.get("token").and_then(Value::as_str).and_then(Token::new),
    ) {
        (Some(user), None) => {
            let gw = state.current.load_full();
            evicted("user", reply::evict(&gw, Target::User(user)).await)
        }
        (None, Some(token)) => {
            let gw = state.current.load_full();
            evicted("token", reply::evict(&gw, Target::Token(token)).await)
        }
        _ => json_reply(
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid_request", "error_description": "give {\"user\": …} or {\"token\": …}"}),
        ),
    }
}
