//! Test support: a fake identity provider with a call counter, a recording
//! upstream, and the real gateway stack served in-process. Everything binds
//! `127.0.0.1:0` before it is used; nothing sleeps for readiness.

#![allow(dead_code)]

pub mod atlassian;
pub mod vendors;
pub mod zoo;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::extract::{Form, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub const CLIENT_ID: &str = "restgate-gw";
pub const CLIENT_SECRET: &str = "s3cr3t-client-value-9f8e7d";

/// Seconds since the epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

// === FakeIdp ===

/// How the fake provider behaves.
#[derive(Debug, Clone)]
pub enum Mode {
    Normal,
    Status(u16),
    Garbage,
    Delay(Duration),
}

/// A fake OAuth provider: RFC 7662 introspection and a userinfo endpoint.
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

// === RecordingUpstream ===

/// What the upstream saw of one request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub uri: String,
    pub headers: HeaderMap,
    pub body_len: usize,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    }

    /// Every value of every header whose name, with `_` read as `-`, is `name`.
    pub fn headers_like(&self, name: &str) -> Vec<String> {
        let want = name.to_ascii_lowercase().replace('_', "-");
        self.headers
            .iter()
            .filter(|(n, _)| n.as_str().replace('_', "-") == want)
            .map(|(_, v)| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect()
    }
}

/// An upstream that records every request and answers like a product would,
/// including a `Set-Cookie` the gateway must drop on authenticated requests.
#[derive(Clone)]
pub struct RecordingUpstream {
    pub addr: SocketAddr,
    state: Arc<UpstreamState>,
}

#[derive(Default)]
struct UpstreamState {
    seen: Mutex<Vec<Seen>>,
    /// TCP connections accepted.
    connections: Arc<AtomicUsize>,
    /// Told of every request recorded (a permit waits if nobody listens).
    arrived: tokio::sync::Notify,
}

impl RecordingUpstream {
    pub async fn start() -> RecordingUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state: Arc<UpstreamState> = Arc::default();
        let app = Router::new()
            .route("/ws", get(ws_echo))
            .fallback(any(record))
            .with_state(state.clone());
        let accepted = state.connections.clone();
        let listener = axum::serve::ListenerExt::tap_io(listener, move |_| {
            accepted.fetch_add(1, Ordering::SeqCst);
        });
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        RecordingUpstream { addr, state }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// Resolves once this upstream has recorded a request since the last call.
    pub async fn arrival(&self) {
        self.state.arrived.notified().await;
    }

    pub fn last(&self) -> Seen {
        self.seen()
            .last()
            .cloned()
            .expect("the upstream saw a request")
    }

    pub fn count(&self) -> usize {
        self.state.seen.lock().unwrap().len()
    }

    /// TCP connections this upstream accepted.
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }
}

async fn record(State(state): State<Arc<UpstreamState>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    // Count the body as it streams; never hold it.
    let mut stream = body.into_data_stream();
    let mut body_len = 0;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(c) => body_len += c.len(),
            Err(_) => break,
        }
    }
    let user = parts
        .headers
        .get("x-forwarded-user")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    state.seen.lock().unwrap().push(Seen {
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        headers: parts.headers,
        body_len,
    });
    state.arrived.notify_one();
    // A slow endpoint, for requests that must be in flight during a test.
    if parts.uri.path().starts_with("/rest/slow") {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let body = json!({"user": user, "bytes": body_len});
    (
        StatusCode::OK,
        [
            ("set-cookie", "JSESSIONID=upstream-session; Path=/"),
            ("x-ausername", "whoever"),
        ],
        axum::Json(body),
    )
        .into_response()
}

async fn ws_echo(
    State(state): State<Arc<UpstreamState>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    state.seen.lock().unwrap().push(Seen {
        method: "GET".into(),
        uri: "/ws".into(),
        headers,
        body_len: 0,
    });
    ws.on_upgrade(|mut socket| async move {
        while let Some(Ok(msg)) = socket.recv().await {
            if let Message::Text(t) = msg {
                if socket
                    .send(Message::Text(format!("echo: {t}").into()))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        }
    })
}

// === TestGateway ===

/// The real gateway stack on `127.0.0.1:0`, stopped when dropped.
pub struct TestGateway {
    pub addr: SocketAddr,
    /// The admin listener (health, metrics, eviction).
    pub admin: SocketAddr,
    pub gateway: Arc<restgate::stack::Gateway>,
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

impl TestGateway {
    /// Starts a gateway from TOML; `{secret_file}` is replaced by a file holding
    /// [`CLIENT_SECRET`].
    pub async fn start(toml: &str) -> TestGateway {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("client_secret");
        std::fs::write(&secret, format!("{CLIENT_SECRET}\n")).unwrap();
        let text = toml.replace("{secret_file}", &secret.display().to_string());
        let config = restgate::config::parse(&text, &dir.path().join("restgate.toml"))
            .unwrap_or_else(|e| panic!("test config is invalid:\n{e}"));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let admin_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let admin = admin_listener.local_addr().unwrap();
        let server = restgate::server::Server::from_listeners(
            listener,
            Some(admin_listener),
            Arc::new(config),
        );
        let gateway = server.gateway();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server.run(async {
            let _ = rx.await;
        }));
        TestGateway {
            addr,
            admin,
            gateway,
            _stop: tx,
            _dir: dir,
        }
    }

    /// Sends a request with the path exactly as given.
    pub async fn send(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> TestResponse {
        send_to(self.addr, method, path, headers, Bytes::new()).await
    }

    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> TestResponse {
        self.send("GET", path, headers).await
    }

    pub async fn bearer(&self, path: &str, token: &str) -> TestResponse {
        bearer_to(self.addr, path, token).await
    }
}

/// A complete response.
#[derive(Debug)]
pub struct TestResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl TestResponse {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| panic!("not JSON: {:?}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or_default().to_owned()
    }
}

/// Sends one request over HTTP/1.1 with the path untouched by any URL parser.
/// `GET path` with `Authorization: Bearer token` (for a spawned task, which
/// cannot borrow the gateway).
pub async fn bearer_to(addr: SocketAddr, path: &str, token: &str) -> TestResponse {
    let auth = format!("Bearer {token}");
    send_to(addr, "GET", path, &[("authorization", &auth)], Bytes::new()).await
}

pub async fn send_to(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> TestResponse {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut req = http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = client
        .request(req.body(Full::new(body)).unwrap())
        .await
        .expect("request sent");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    TestResponse {
        status,
        headers,
        body,
    }
}

/// Writes raw bytes and returns the raw response (the connection is closed).
pub async fn raw(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// The status code of a raw response.
pub fn raw_status(response: &str) -> u16 {
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// A config with one introspection provider `idp` and the upstream.
pub fn config(idp: &FakeIdp, upstream: &RecordingUpstream, extra: &str) -> String {
    format!(
        r#"
[upstream]
url = "http://{up}"

[auth]
providers = ["idp"]

[providers.idp]
kind = "custom"
validation = "introspection"
introspection_endpoint = "{intro}"
client_id = "{CLIENT_ID}"
client_secret_file = "{{secret_file}}"
username_attribute = "username"
service_account = "svc-rest"
timeout = "2s"
{extra}
"#,
        up = upstream.addr,
        intro = idp.url("/introspect"),
    )
}

/// Fake IdP, recording upstream and a gateway over them.
pub async fn setup(extra: &str) -> (FakeIdp, RecordingUpstream, TestGateway) {
    let idp = FakeIdp::start().await;
    let up = RecordingUpstream::start().await;
    let gw = TestGateway::start(&config(&idp, &up, extra)).await;
    (idp, up, gw)
}

/// [`setup`] with `server` as the lines of the `[server]` table.
pub async fn setup_server(server: &str) -> (FakeIdp, RecordingUpstream, TestGateway) {
    setup(&format!("[server]\n{server}\n")).await
}

/// Yields to the runtime until `done` holds; fails the test after 10 s.
pub async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "{what}");
        tokio::task::yield_now().await;
    }
}

// === Spawned binary ===

/// `restgate serve` as a child process, with its stderr collected. The address
/// comes from its "Listening" log line, so the test never guesses or sleeps.
pub struct Spawned {
    pub child: std::process::Child,
    pub addr: SocketAddr,
    /// The admin listener, as its "Listening" line names it.
    pub admin: Option<SocketAddr>,
    logs: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Spawned {
    /// Writes the config (with `{secret_file}` filled in) and starts the binary.
    pub fn start(toml: &str, rust_log: &str) -> Spawned {
        use std::io::BufRead;
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("client_secret");
        std::fs::write(&secret, format!("{CLIENT_SECRET}\n")).unwrap();
        let path = dir.path().join("restgate.toml");
        std::fs::write(&path, spawned_config(toml, &secret)).unwrap();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_restgate"))
            .args(["serve", "--config"])
            .arg(&path)
            .env("RUST_LOG", rust_log)
            .env("NO_COLOR", "1")
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("restgate starts");
        let stderr = child.stderr.take().unwrap();
        let logs: Arc<Mutex<String>> = Arc::default();
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = logs.clone();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if line.contains("Listening") {
                    let field = |name: &str| {
                        line.split(name)
                            .nth(1)
                            .and_then(|s| s.split_whitespace().next())
                            .and_then(|a| a.parse::<SocketAddr>().ok())
                    };
                    let _ = tx.send(field(" addr=").map(|a| (a, field(" admin="))));
                }
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let (addr, admin) = rx
            .recv_timeout(Duration::from_secs(30))
            .ok()
            .flatten()
            .unwrap_or_else(|| {
                panic!(
                    "restgate did not report its address; logs:\n{}",
                    logs.lock().unwrap()
                )
            });
        Spawned {
            child,
            addr,
            admin,
            logs,
            reader: Some(reader),
            _dir: dir,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Replaces the config file (same `{secret_file}` and `[server]` handling).
    pub fn rewrite(&self, toml: &str) {
        let secret = self._dir.path().join("client_secret");
        std::fs::write(
            self._dir.path().join("restgate.toml"),
            spawned_config(toml, &secret),
        )
        .unwrap();
    }

    /// Writes the config file as given, verbatim (to break it).
    pub fn rewrite_raw(&self, text: &str) {
        std::fs::write(self._dir.path().join("restgate.toml"), text).unwrap();
    }

    /// Sends SIGHUP.
    pub fn sighup(&self) {
        let _ = std::process::Command::new("kill")
            .args(["-HUP", &self.pid().to_string()])
            .status();
    }

    /// How many log lines contain `needle` so far.
    pub fn count_logs(&self, needle: &str) -> usize {
        self.logs
            .lock()
            .unwrap()
            .lines()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// Waits (up to 10 s) until `count` log lines contain `needle`.
    pub async fn wait_for_log(&self, needle: &str, count: usize) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self.count_logs(needle) < count {
            assert!(
                std::time::Instant::now() < deadline,
                "no {needle:?} in the logs:\n{}",
                self.logs.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A field of /proc/PID/status in KiB (`VmRSS`, `VmHWM`).
    pub fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc status"))
    }

    /// Sends SIGTERM, waits for the exit, and returns the exit status and all logs.
    pub fn stop(mut self) -> (std::process::ExitStatus, String) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let status = self.child.wait().unwrap();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        let logs = self.logs.lock().unwrap().clone();
        (status, logs)
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// === JWT fixtures ===

/// A test key: `rsa1`, `rsa2` or `ec1` (tests/fixtures/keys).
pub fn key_file(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/keys")
            .join(name),
    )
    .unwrap()
}

/// The public JWK of a test key.
pub fn jwk(name: &str) -> Value {
    serde_json::from_slice(&key_file(&format!("{name}.jwk.json"))).unwrap()
}

/// Signs claims with a test key under a `kid`.
pub fn sign(key: &str, kid: &str, claims: &Value) -> String {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let pem = key_file(&format!("{key}.pem"));
    let (alg, enc) = if key.starts_with("ec") {
        (Algorithm::ES256, EncodingKey::from_ec_pem(&pem).unwrap())
    } else {
        (Algorithm::RS256, EncodingKey::from_rsa_pem(&pem).unwrap())
    };
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &enc).unwrap()
}

fn spawned_config(toml: &str, secret: &Path) -> String {
    let text = toml.replace("{secret_file}", &secret.display().to_string());
    format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\nshutdown_timeout = \"5s\"\n{text}"
    )
}
