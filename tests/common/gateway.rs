//! The real gateway stack served in-process on `127.0.0.1:0`, and the hyper
//! client tests talk to it with, the path untouched by any URL parser.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::HeaderMap;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use tokio::net::TcpListener;

use super::client::CLIENT_SECRET;

/// The real gateway stack on `127.0.0.1:0`, stopped when dropped.
#[allow(dead_code, reason = "each test binary uses part of these helpers")]
pub struct TestGateway {
    pub addr: SocketAddr,
    /// The admin listener (health, metrics, eviction).
    pub admin: SocketAddr,
    pub gateway: Arc<restgate::stack::Gateway>,
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

#[allow(dead_code, reason = "each test binary uses part of these helpers")]
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
#[allow(dead_code, reason = "each test binary uses part of these helpers")]
#[derive(Debug)]
pub struct TestResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

#[allow(dead_code, reason = "each test binary uses part of these helpers")]
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

/// `GET path` with `Authorization: Bearer token` (for a spawned task, which
/// cannot borrow the gateway).
#[allow(dead_code, reason = "some test binaries use only gateway methods")]
pub async fn bearer_to(addr: SocketAddr, path: &str, token: &str) -> TestResponse {
    let auth = format!("Bearer {token}");
    send_to(addr, "GET", path, &[("authorization", &auth)], Bytes::new()).await
}

/// Sends one request over HTTP/1.1 with the path untouched by any URL parser.
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
