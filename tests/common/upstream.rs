//! A recording upstream: it keeps what it saw of every request and answers
//! like a product would, WebSocket echo included.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use futures_util::StreamExt;
use serde_json::json;
use tokio::net::TcpListener;

/// What the upstream saw of one request.
#[allow(dead_code, reason = "each test binary uses part of this fake")]
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub uri: String,
    pub headers: HeaderMap,
    pub body_len: usize,
}

#[allow(dead_code, reason = "each test binary uses part of this fake")]
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
#[allow(dead_code, reason = "each test binary uses part of this fake")]
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

#[allow(dead_code, reason = "each test binary uses part of this fake")]
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
