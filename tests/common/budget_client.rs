//! A client that connects from a chosen local address (the whole of
//! 127.0.0.0/8 is on loopback), so a test can play many clients at once, and
//! the admin calls the budget tests read.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// The path every budget test asks for.
pub const PATH: &str = "/rest/api/2/myself";

/// A complete response.
#[allow(dead_code, reason = "each test uses part of this helper")]
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

#[allow(dead_code, reason = "each test uses part of this helper")]
impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON ({}): {:?}", self.status, self.body))
    }

    /// `Retry-After` as whole seconds, panicking when absent or not a number.
    pub fn retry_after(&self) -> u64 {
        let v = self
            .header("retry-after")
            .unwrap_or_else(|| panic!("a 429 without Retry-After: {self:?}"));
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("Retry-After {v:?} is not whole seconds"))
    }

    /// Panics unless this is the contract's 429: `Retry-After` of at least
    /// one whole second and `{"error": "rate_limited", "error_description": …}`.
    pub fn assert_rate_limited(&self) {
        assert_eq!(self.status, 429, "{self:?}");
        assert!(self.retry_after() >= 1, "Retry-After below 1 s: {self:?}");
        let j = self.json();
        assert_eq!(j["error"], "rate_limited", "{j}");
        assert!(
            j["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "no error_description: {j}"
        );
    }
}

/// `GET PATH` with `Authorization: Bearer token` and `extra` headers (each
/// sent as its own header line, in order), from local address `from`, over a
/// fresh connection (`Connection: close`).
pub async fn get_from(from: &str, to: SocketAddr, token: &str, extra: &[(&str, &str)]) -> Reply {
    let from: IpAddr = from.parse().expect("a local IP address");
    let fut = async {
        let socket = if from.is_ipv4() {
            tokio::net::TcpSocket::new_v4()
        } else {
            tokio::net::TcpSocket::new_v6()
        }
        .unwrap();
        socket
            .bind(SocketAddr::new(from, 0))
            .unwrap_or_else(|e| panic!("cannot bind {from}: {e}"));
        let stream = socket
            .connect(to)
            .await
            .unwrap_or_else(|e| panic!("cannot connect {from} -> {to}: {e}"));
        let mut req = http::Request::builder()
            .method("GET")
            .uri(PATH)
            .header("host", to.to_string())
            .header("authorization", format!("Bearer {token}"))
            .header("connection", "close");
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        exchange(stream, req.body(Empty::<Bytes>::new()).unwrap()).await
    };
    tokio::time::timeout(Duration::from_secs(20), fut)
        .await
        .unwrap_or_else(|_| panic!("no answer within 20 s from {to} to {from}"))
}

/// `GET path` on an admin listener (from 127.0.0.1).
#[allow(dead_code, reason = "each test uses part of this helper")]
pub async fn admin_get(admin: SocketAddr, path: &str) -> Reply {
    let fut = async {
        let stream = tokio::net::TcpStream::connect(admin).await.unwrap();
        let req = http::Request::builder()
            .method("GET")
            .uri(path)
            .header("host", admin.to_string())
            .header("connection", "close")
            .body(Empty::<Bytes>::new())
            .unwrap();
        exchange(stream, req).await
    };
    tokio::time::timeout(Duration::from_secs(20), fut)
        .await
        .unwrap_or_else(|_| panic!("admin {admin} did not answer {path}"))
}

/// One request over a fresh HTTP/1.1 connection, and its whole answer.
async fn exchange(stream: tokio::net::TcpStream, req: http::Request<Empty<Bytes>>) -> Reply {
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let res = sender
        .send_request(req)
        .await
        .unwrap_or_else(|e| panic!("request failed: {e}"));
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body,
    }
}

/// One sample of an exposition, `None` when absent.
#[allow(dead_code, reason = "each test uses part of this helper")]
pub fn sample(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(name_and_labels)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
    })
}

/// One sample of an admin listener's `/metrics` (0 when absent).
#[allow(dead_code, reason = "each test uses part of this helper")]
pub async fn metric(admin: SocketAddr, name_and_labels: &str) -> f64 {
    let text = admin_get(admin, "/metrics").await.text();
    sample(&text, name_and_labels).unwrap_or(0.0)
}
