//! A fake identity provider with a call counter: RFC 7662 introspection,
//! userinfo, the client-credentials grant, JWKS and OIDC discovery, bound to
//! `127.0.0.1:0` before it is used, and told how to misbehave.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::client::{CLIENT_ID, CLIENT_SECRET, now};

/// How the fake provider behaves.
#[allow(dead_code, reason = "each test binary uses part of this fake")]
#[derive(Debug, Clone)]
pub enum Mode {
    Normal,
    Status(u16),
    Garbage,
    Delay(Duration),
}

/// A fake OAuth provider: RFC 7662 introspection and a userinfo endpoint.
#[allow(dead_code, reason = "each test binary uses part of this fake")]
#[derive(Clone)]
pub struct FakeIdp {
    pub addr: SocketAddr,
    state: Arc<IdpState>,
}

struct IdpState {
    tokens: Mutex<HashMap<String, Value>>,
    calls: AtomicUsize,
    jwks: Mutex<Value>,
    jwks_calls: AtomicUsize,
    discovery: Mutex<Value>,
    discovery_calls: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    /// TCP connections accepted.
    connections: Arc<AtomicUsize>,
    mode: Mutex<Mode>,
    client_auth: Mutex<Vec<String>>,
}

#[allow(dead_code, reason = "each test binary uses part of this fake")]
impl FakeIdp {
    pub async fn start() -> FakeIdp {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(IdpState {
            tokens: Mutex::new(HashMap::new()),
            calls: AtomicUsize::new(0),
            jwks: Mutex::new(json!({"keys": []})),
            jwks_calls: AtomicUsize::new(0),
            discovery: Mutex::new(json!({
                "issuer": format!("http://{addr}/realms/corp"),
                "jwks_uri": format!("http://{addr}/jwks"),
                "introspection_endpoint": format!("http://{addr}/introspect"),
                "userinfo_endpoint": format!("http://{addr}/userinfo"),
                "token_endpoint": format!("http://{addr}/token"),
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
            })),
            discovery_calls: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            connections: Arc::default(),
            mode: Mutex::new(Mode::Normal),
            client_auth: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/introspect", post(introspect))
            .route("/userinfo", get(userinfo))
            .route("/token", post(token_endpoint))
            .route("/jwks", get(jwks))
            // The paths presets derive from an issuer.
            .route(
                "/realms/corp/protocol/openid-connect/token/introspect",
                post(introspect),
            )
            .route("/oauth2/default/v1/introspect", post(introspect))
            .route("/oauth2/v1/introspect", post(introspect))
            .route("/cognito/.well-known/jwks.json", get(jwks))
            .route(
                "/realms/corp/.well-known/openid-configuration",
                get(discovery),
            )
            .with_state(state.clone());
        let accepted = state.connections.clone();
        let listener = axum::serve::ListenerExt::tap_io(listener, move |_| {
            accepted.fetch_add(1, Ordering::SeqCst);
        });
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeIdp { addr, state }
    }

    /// Registers a token with these claims (`active: true` unless they say).
    pub fn add_token(&self, token: &str, claims: Value) {
        let mut c = claims;
        if c.get("active").is_none() {
            c["active"] = json!(true);
        }
        self.state
            .tokens
            .lock()
            .unwrap()
            .insert(token.to_owned(), c);
    }

    /// An active user token for `user`, expiring in an hour.
    pub fn add_user(&self, token: &str, user: &str) {
        self.add_token(token, json!({"username": user, "email": format!("{user}@corp.example"), "scope": "read write", "client_id": "cli-app", "sub": format!("sub-{user}"), "exp": now() + 3600}));
    }

    pub fn remove_token(&self, token: &str) {
        self.state.tokens.lock().unwrap().remove(token);
    }

    pub fn calls(&self) -> usize {
        self.state.calls.load(Ordering::SeqCst)
    }

    /// TCP connections this provider accepted.
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// The most introspection calls ever in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
    }

    /// The client authentication each introspection call carried.
    pub fn client_auth(&self) -> Vec<String> {
        self.state.client_auth.lock().unwrap().clone()
    }

    /// Publishes these JWKs (each a JSON object) at `/jwks`.
    pub fn set_jwks(&self, keys: Vec<Value>) {
        *self.state.jwks.lock().unwrap() = json!({ "keys": keys });
    }

    /// The issuer of the discovery document at `/realms/corp`.
    pub fn issuer(&self) -> String {
        format!("http://{}/realms/corp", self.addr)
    }

    /// Changes the discovery document.
    pub fn edit_discovery(&self, f: impl FnOnce(&mut Value)) {
        f(&mut self.state.discovery.lock().unwrap());
    }

    pub fn discovery_calls(&self) -> usize {
        self.state.discovery_calls.load(Ordering::SeqCst)
    }

    pub fn jwks_calls(&self) -> usize {
        self.state.jwks_calls.load(Ordering::SeqCst)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

async fn misbehave(state: &IdpState) -> Option<Response> {
    let mode = state.mode.lock().unwrap().clone();
    match mode {
        Mode::Normal => None,
        Mode::Status(s) => Some(
            (
                StatusCode::from_u16(s).unwrap(),
                "{\"error\":\"server_error\"}",
            )
                .into_response(),
        ),
        Mode::Garbage => Some((StatusCode::OK, "<html>not json</html>").into_response()),
        Mode::Delay(d) => {
            tokio::time::sleep(d).await;
            None
        }
    }
}

/// Counts introspection calls in flight while it lives.
struct InFlight<'a>(&'a IdpState);

impl<'a> InFlight<'a> {
    fn new(s: &'a IdpState) -> Self {
        let now = s.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        s.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(s)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn introspect(
    State(state): State<Arc<IdpState>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    state.calls.fetch_add(1, Ordering::SeqCst);
    let _in_flight = InFlight::new(&state);
    if let Some(r) = misbehave(&state).await {
        return r;
    }
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (id, secret) = match basic {
        Some(b) => {
            let raw = base64_decode(b.trim_start_matches("Basic "));
            let (i, s) = raw.split_once(':').unwrap_or_default();
            state.client_auth.lock().unwrap().push("basic".into());
            (i.to_owned(), s.to_owned())
        }
        None => {
            state.client_auth.lock().unwrap().push("post".into());
            (
                form.get("client_id").cloned().unwrap_or_default(),
                form.get("client_secret").cloned().unwrap_or_default(),
            )
        }
    };
    if id != CLIENT_ID || secret != CLIENT_SECRET {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    let token = form.get("token").cloned().unwrap_or_default();
    let answer = state
        .tokens
        .lock()
        .unwrap()
        .get(&token)
        .cloned()
        .unwrap_or_else(|| json!({"active": false}));
    axum::Json(answer).into_response()
}

async fn userinfo(State(state): State<Arc<IdpState>>, headers: HeaderMap) -> Response {
    state.calls.fetch_add(1, Ordering::SeqCst);
    if let Some(r) = misbehave(&state).await {
        return r;
    }
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    match state.tokens.lock().unwrap().get(&token) {
        Some(claims) => {
            let mut c = claims.clone();
            c.as_object_mut().unwrap().remove("active");
            axum::Json(c).into_response()
        }
        None => (
            StatusCode::UNAUTHORIZED,
            [("www-authenticate", "Bearer error=\"invalid_token\"")],
        )
            .into_response(),
    }
}

/// The client-credentials grant: restgate's own client gets a token for itself.
async fn token_endpoint(
    State(state): State<Arc<IdpState>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(r) = misbehave(&state).await {
        return r;
    }
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(|b| base64_decode(b.trim_start_matches("Basic ")));
    let (id, secret) = match &basic {
        Some(b) => b
            .split_once(':')
            .map(|(i, s)| (i.to_owned(), s.to_owned()))
            .unwrap_or_default(),
        None => (
            form.get("client_id").cloned().unwrap_or_default(),
            form.get("client_secret").cloned().unwrap_or_default(),
        ),
    };
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "unsupported_grant_type"})),
        )
            .into_response();
    }
    if id != CLIENT_ID || secret != CLIENT_SECRET {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "invalid_client", "error_description": "Client authentication failed"}))).into_response();
    }
    let n = state.tokens.lock().unwrap().len();
    let token = format!("cc-token-{n}-{}", now());
    let scope = form.get("scope").cloned().unwrap_or_default();
    state.tokens.lock().unwrap().insert(
        token.clone(),
        json!({"active": true, "client_id": id, "sub": id, "scope": scope, "exp": now() + 3600}),
    );
    axum::Json(
        json!({"access_token": token, "token_type": "Bearer", "expires_in": 3600, "scope": scope}),
    )
    .into_response()
}

async fn discovery(State(state): State<Arc<IdpState>>) -> Response {
    state.discovery_calls.fetch_add(1, Ordering::SeqCst);
    if let Some(r) = misbehave(&state).await {
        return r;
    }
    axum::Json(state.discovery.lock().unwrap().clone()).into_response()
}

async fn jwks(State(state): State<Arc<IdpState>>) -> Response {
    state.jwks_calls.fetch_add(1, Ordering::SeqCst);
    if let Some(r) = misbehave(&state).await {
        return r;
    }
    axum::Json(state.jwks.lock().unwrap().clone()).into_response()
}

fn base64_decode(s: &str) -> String {
    use base64::Engine;
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .unwrap_or_default(),
    )
    .unwrap_or_default()
}
