//! Upstream failures are classified (502 / 504) and never lose data silently.

mod common {
    pub mod client;
    pub mod gateway;
    pub mod idp;
    pub mod raw;
    pub mod setup;
    pub mod upstream;
}

use std::net::SocketAddr;

use common::gateway::*;
use common::idp::*;
use common::raw::*;
use common::setup::*;
use common::upstream::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A gateway whose upstream is `addr`, with a short response timeout.
async fn gateway_to(addr: SocketAddr) -> (FakeIdp, TestGateway) {
    let idp = FakeIdp::start().await;
    let up = RecordingUpstream::start().await;
    let toml = config(&idp, &up, "")
        .replace(&up.addr.to_string(), &addr.to_string())
        .replace(
            "[auth]",
            "response_timeout = \"300ms\"\nconnect_timeout = \"1s\"\n[auth]",
        );
    idp.add_user("tok-a", "alice");
    (idp, TestGateway::start(&toml).await)
}

/// A raw upstream that runs `script` on each connection.
async fn raw_upstream<F, Fut>(script: F) -> SocketAddr
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            script(s).await;
        }
    });
    addr
}

async fn read_head(s: &mut tokio::net::TcpStream) {
    let mut buf = vec![0u8; 8192];
    let mut seen = Vec::new();
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn refused_upstream_is_502() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (_idp, gw) = gateway_to(dead).await;
    let res = gw.bearer("/rest/api/2/myself", "tok-a").await;
    assert_eq!(res.status, 502);
    assert_eq!(res.error(), "bad_gateway");
    let res = gw.get("/secure/Dashboard.jspa", &[]).await;
    assert_eq!(res.status, 502);
}

#[tokio::test]
async fn upstream_closing_without_answer_is_502() {
    let addr = raw_upstream(|mut s| async move {
        read_head(&mut s).await;
        drop(s);
    })
    .await;
    let (_idp, gw) = gateway_to(addr).await;
    assert_eq!(gw.bearer("/rest/api/2/myself", "tok-a").await.status, 502);
}

#[tokio::test]
async fn silent_upstream_is_504_after_the_response_timeout() {
    let addr = raw_upstream(|mut s| async move {
        read_head(&mut s).await;
        tokio::spawn(async move {
            // Hold the connection open without answering.
            let mut buf = [0u8; 1];
            let _ = s.read(&mut buf).await;
        });
    })
    .await;
    let (_idp, gw) = gateway_to(addr).await;
    let started = std::time::Instant::now();
    let res = gw.bearer("/rest/api/2/myself", "tok-a").await;
    assert_eq!(res.status, 504);
    assert_eq!(res.error(), "gateway_timeout");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[tokio::test]
async fn upstream_dying_mid_body_is_not_a_complete_response() {
    let addr = raw_upstream(|mut s| async move {
        read_head(&mut s).await;
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: application/json\r\n\r\n{\"partial\":").await;
        drop(s);
    })
    .await;
    let (_idp, gw) = gateway_to(addr).await;
    // The head was already sent when the upstream died: the client must see the
    // body cut short (an error), never a truncated body presented as complete.
    let client: hyper_util::client::legacy::Client<_, http_body_util::Full<bytes::Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    let req = http::Request::get(format!("http://{}/rest/api/2/myself", gw.addr))
        .header("authorization", "Bearer tok-a")
        .body(Default::default())
        .unwrap();
    let res = client.request(req).await.unwrap();
    assert_eq!(res.status(), 200);
    let body = http_body_util::BodyExt::collect(res.into_body()).await;
    assert!(body.is_err(), "a truncated body must surface as an error");
}

#[tokio::test]
async fn a_chunked_upstream_body_reaches_the_client_whole_and_chunked() {
    let addr = raw_upstream(|mut s| async move {
        read_head(&mut s).await;
        let _ = s
            .write_all(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n\
                  5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
            )
            .await;
        // The upstream then waits for the next request (keep-alive).
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest).await;
    })
    .await;
    let (_idp, gw) = gateway_to(addr).await;
    let res = raw(
        gw.addr,
        b"GET /rest/api/2/myself HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok-a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(raw_status(&res), 200, "{res}");
    let (head, body) = res.split_once("\r\n\r\n").unwrap();
    assert!(
        head.to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{head}"
    );
    // Decode the chunks: the client gets exactly the upstream's bytes.
    let mut rest = body;
    let mut decoded = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n").expect("a chunk size line");
        let size = usize::from_str_radix(size.split(';').next().unwrap(), 16).unwrap();
        if size == 0 {
            break;
        }
        decoded.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
    assert_eq!(decoded, "hello world");
}

#[tokio::test]
async fn a_response_with_both_length_and_chunked_reaches_the_client_as_chunked_says() {
    // RFC 9112 §6.3: Transfer-Encoding wins, and the length is not passed on.
    let addr = raw_upstream(|mut s| async move {
        read_head(&mut s).await;
        let _ = s
            .write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n\
                  b\r\nhello world\r\n0\r\n\r\n",
            )
            .await;
    })
    .await;
    let (_idp, gw) = gateway_to(addr).await;
    // Bodyless (the lean client) and with a body (hyper's client).
    for (method, body) in [("GET", ""), ("POST", "{}")] {
        let req = format!(
            "{method} /rest/api/2/myself HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok-a\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let res = raw(gw.addr, req.as_bytes()).await;
        assert_eq!(raw_status(&res), 200, "{res}");
        let (head, rest) = res.split_once("\r\n\r\n").unwrap();
        let head = head.to_ascii_lowercase();
        assert!(!head.contains("content-length: 3"), "{method}: {head}");
        assert!(rest.contains("hello world"), "{method}: {rest:?}");
    }
}
