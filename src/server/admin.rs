//! The admin listener (SPEC §6): `/healthz`, `/readyz`, `/metrics`,
//! `GET /status`, `POST /cache/evict`. It binds loopback by default and is never the
//! gateway's port: eviction takes a token in its body.

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

/// Serves the admin endpoints until `shutdown` resolves.
pub async fn serve(listener: TcpListener, state: AdminState, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let state = state.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| handle(state.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
                });
            }
            () = &mut shutdown => break,
        }
    }
}

fn text(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(body.into()));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    res
}

fn json_reply(status: StatusCode, v: Value) -> Response<Full<Bytes>> {
    text(status, "application/json", v.to_string())
}

async fn handle(
    state: AdminState,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path();
    let open = matches!(path, "/healthz" | "/readyz");
    if !open && !admitted(&state, &req) {
        let mut res = json_reply(
            StatusCode::UNAUTHORIZED,
            json!({"error": "unauthorized", "error_description": "the admin endpoints need the admin token as a Bearer token"}),
        );
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer realm=\"restgate-admin\""),
        );
        return Ok(res);
    }
    Ok(match (req.method().clone(), path) {
        (Method::GET, "/healthz") => text(StatusCode::OK, "text/plain", "ok\n"),
        (Method::GET, "/readyz") => readyz(&state),
        (Method::GET, "/status") => status(&state),
        (Method::GET, "/metrics") => {
            let gw = state.current.load();
            gw.metrics.cache_entries.set(gw.cache.len() as i64);
            text(
                StatusCode::OK,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                gw.metrics.encode(),
            )
        }
        (Method::POST, "/cache/evict") => evict(&state, req).await,
        (_, "/healthz" | "/readyz" | "/metrics" | "/status" | "/cache/evict") => json_reply(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"error": "method_not_allowed"}),
        ),
        _ => json_reply(StatusCode::NOT_FOUND, json!({"error": "not_found"})),
    })
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
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        });
    match given {
        Some(given) => {
            use subtle::ConstantTimeEq as _;
            bool::from(given.as_bytes().ct_eq(token.expose().as_bytes()))
        }
        None => false,
    }
}

/// Ready once the gateway listens and until it drains, while any provider
/// can serve: one provider's outage never takes the replica out.
fn readyz(state: &AdminState) -> Response<Full<Bytes>> {
    if !state.ready.load(Ordering::SeqCst) {
        return text(StatusCode::SERVICE_UNAVAILABLE, "text/plain", "not ready\n");
    }
    if !state.current.load().providers.any_can_serve() {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "not ready: every provider is down\n",
        );
    }
    text(StatusCode::OK, "text/plain", "ready\n")
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
fn evicted(what: &str, cluster: bool, done: Result<(), String>) -> Response<Full<Bytes>> {
    match (cluster, done) {
        (false, _) => json_reply(StatusCode::OK, json!({"evicted": what})),
        (true, Ok(())) => json_reply(StatusCode::OK, json!({"evicted": what, "replicas": "all"})),
        (true, Err(why)) => {
            tracing::warn!(error = %why, "An eviction reached this replica only");
            json_reply(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({
                    "error": "cluster_unreachable",
                    "error_description": format!("evicted on this replica only: {why}; retry when Redis is back"),
                    "evicted": what,
                    "replicas": "this",
                }),
            )
        }
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
            let done = gw.cache.evict_user(user).await;
            tracing::info!(user, "Evicted a user's cache entries");
            evicted("user", gw.cache.tier().is_some(), done)
        }
        (None, Some(token)) => {
            let gw = state.current.load_full();
            let done = gw.cache.evict_token(&token).await;
            tracing::info!("Evicted a token's cache entry");
            evicted("token", gw.cache.tier().is_some(), done)
        }
        _ => json_reply(
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid_request", "error_description": "give {\"user\": …} or {\"token\": …}"}),
        ),
    }
}
