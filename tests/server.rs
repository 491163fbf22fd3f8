//! Server behaviour: HTTP/2 cleartext, header limits, slow clients, graceful stop.

mod common {
    pub mod client;
    pub mod gateway;
    pub mod idp;
    pub mod raw;
    pub mod setup;
    pub mod spawned;
    pub mod upstream;
}

use std::time::Duration;

use bytes::Bytes;
use common::gateway::*;
use common::idp::*;
use common::raw::*;
use common::setup::*;
use common::spawned::*;
use common::upstream::*;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn http2_prior_knowledge_requests_are_authenticated_and_forwarded() {
    let (idp, up, gw) = setup("").await;
    idp.add_user("tok-h2", "alice");
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let req = http::Request::get(format!("http://{}/rest/api/2/myself", gw.addr))
        .header("authorization", "Bearer tok-h2")
        .header("x-forwarded-user", "admin")
        .body(Full::default())
        .unwrap();
    let res = client.request(req).await.unwrap();
    assert_eq!(res.version(), http::Version::HTTP_2);
    assert_eq!(res.status(), 200);
    let _ = res.into_body().collect().await.unwrap();
    let seen = up.last();
    assert_eq!(seen.header("x-forwarded-user").as_deref(), Some("alice"));
    // HTTP/2's :authority becomes the upstream's Host.
    assert_eq!(seen.header("host"), Some(gw.addr.to_string()));

    // A request whose HEADERS frame ended the stream is bodyless; one with
    // DATA frames keeps its body on the way upstream.
    let req = http::Request::post(format!("http://{}/rest/api/2/issue", gw.addr))
        .header("authorization", "Bearer tok-h2")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(b"{\"fields\":{}}")))
        .unwrap();
    let res = tokio::time::timeout(Duration::from_secs(10), client.request(req))
        .await
        .expect("the body reached the upstream")
        .unwrap();
    assert_eq!(res.status(), 200);
    let _ = res.into_body().collect().await.unwrap();
    let seen = up.last();
    assert_eq!((seen.method.as_str(), seen.body_len), ("POST", 13));
}

#[tokio::test]
async fn oversized_request_heads_get_431_and_are_not_forwarded() {
    let (_idp, up, gw) = setup("").await;
    let big = "a".repeat(70_000);
    let req =
        format!("GET /secure/x HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\nConnection: close\r\n\r\n");
    let res = raw(gw.addr, req.as_bytes()).await;
    assert_eq!(raw_status(&res), 431, "{}", &res[..res.len().min(200)]);
    assert_eq!(up.count(), 0);
}

#[tokio::test]
async fn slow_header_senders_are_disconnected() {
    let (_idp, up, gw) = setup_server("header_read_timeout = \"300ms\"").await;
    let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    s.write_all(b"GET /rest/api/2/myself HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    let (_, took) = read_until_closed(&mut s, "the gateway closed the connection").await;
    assert!(took < Duration::from_secs(3));
    assert_eq!(up.count(), 0);
}

/// Reads until the gateway closes `s` (failing with `why` after 5 s): what
/// arrived meanwhile, and how long it took.
async fn read_until_closed(s: &mut tokio::net::TcpStream, why: &str) -> (Vec<u8>, Duration) {
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "{why}");
    (rest, started.elapsed())
}

/// One keep-alive request on `s`; returns the response head and body text.
async fn keep_alive_request(s: &mut tokio::net::TcpStream, path: &str) -> String {
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok-idle\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    // The upstream's JSON answer ends with `}`; the response is small.
    while !out.ends_with(b"}") {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("a response")
            .unwrap();
        assert!(
            n > 0,
            "closed before the response: {}",
            String::from_utf8_lossy(&out)
        );
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn idle_connections_are_closed_but_not_while_a_request_waits() {
    let (idp, up, gw) = setup_server("idle_timeout = \"200ms\"").await;
    idp.add_user("tok-idle", "alice");
    let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    // The upstream takes 500 ms, longer than the idle timeout: the request
    // awaiting its answer keeps the connection open.
    let res = keep_alive_request(&mut s, "/rest/slow/x").await;
    assert_eq!(raw_status(&res), 200, "{res}");
    // Kept alive: a second request on the same connection works.
    let res = keep_alive_request(&mut s, "/rest/api/2/myself").await;
    assert_eq!(raw_status(&res), 200, "{res}");
    // Then nothing moves: the gateway closes the connection.
    let (rest, took) = read_until_closed(&mut s, "the idle connection was closed").await;
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    assert!(took >= Duration::from_millis(150));
    assert_eq!(up.count(), 2);
}

/// hyper counts the wait for the next request head from the end of the
/// previous response, so `header_read_timeout`, not `idle_timeout`, is how long
/// an HTTP/1 keep-alive connection may sit between requests (README says so).
#[tokio::test]
async fn a_keep_alive_connection_between_requests_is_closed_after_header_read_timeout() {
    let (idp, _up, gw) =
        setup_server("header_read_timeout = \"300ms\"\nidle_timeout = \"60s\"").await;
    idp.add_user("tok-idle", "alice");
    let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let res = keep_alive_request(&mut s, "/rest/api/2/myself").await;
    assert_eq!(raw_status(&res), 200, "{res}");
    let (rest, took) =
        read_until_closed(&mut s, "the connection was kept past the head timeout").await;
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    assert!(took >= Duration::from_millis(250), "{took:?}");
}

/// The head timeout runs from the end of each response, not from the
/// connection's start: requests that each take longer than it, back to back,
/// keep the connection.
#[tokio::test]
async fn the_head_timeout_restarts_after_every_response() {
    let (idp, up, gw) =
        setup_server("header_read_timeout = \"300ms\"\nidle_timeout = \"60s\"").await;
    idp.add_user("tok-idle", "alice");
    let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    // Each takes 500 ms upstream: 1.5 s on one connection in all.
    for _ in 0..3 {
        let res = keep_alive_request(&mut s, "/rest/slow/x").await;
        assert_eq!(raw_status(&res), 200, "{res}");
    }
    assert_eq!(up.connections(), 1);
    let (_, took) = read_until_closed(&mut s, "the idle connection was never closed").await;
    assert!(took >= Duration::from_millis(250), "{took:?}");
}

#[tokio::test]
async fn smuggling_shapes_never_reach_the_upstream_as_two_requests() {
    let (_idp, up, gw) = setup("").await;
    // Two different Content-Lengths: refused outright.
    let res = raw(gw.addr, b"POST /secure/x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!").await;
    assert_eq!(raw_status(&res), 400, "{res}");
    assert_eq!(up.count(), 0);
    // Content-Length with Transfer-Encoding: read as chunked alone and the
    // connection closed after the answer (RFC 9112 §6.1), so the smuggled
    // request behind the empty chunked body is never parsed.
    let smuggle = b"POST /secure/x HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /rest/api/2/myself HTTP/1.1\r\nHost: x\r\n\r\n";
    let res = raw(gw.addr, smuggle).await;
    assert_eq!(
        res.matches("HTTP/1.1 ").count(),
        1,
        "one response only: {res}"
    );
    assert!(up.count() <= 1);
    assert!(
        up.seen().iter().all(|s| s.uri != "/rest/api/2/myself"),
        "the smuggled request never reached the upstream"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_in_flight_requests_finish() {
    let idp = FakeIdp::start().await;
    let up = RecordingUpstream::start().await;
    idp.add_user("tok-slow", "alice");
    let gw = Spawned::start(&config(&idp, &up, ""), "info");
    let addr = gw.addr;
    let in_flight =
        tokio::spawn(async move { bearer_to(addr, "/rest/slow/thing", "tok-slow").await });
    // The upstream has the request (and sleeps 500 ms on it): stop now.
    up.arrival().await;
    let stopper = tokio::task::spawn_blocking(move || gw.stop());
    let res = in_flight.await.unwrap();
    assert_eq!(res.status, 200, "the in-flight request finished");
    assert_eq!(res.json()["user"], "alice");
    let (status, logs) = stopper.await.unwrap();
    assert!(status.success(), "{status:?}\n{logs}");
    assert!(logs.contains("Draining connections"), "{logs}");
}

#[tokio::test]
async fn http2_bodies_longer_than_announced_never_reach_the_upstream_whole() {
    let (idp, up, gw) = setup("").await;
    idp.add_user("tok-h2-len", "alice");
    let tcp = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let (client, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut client = client.ready().await.unwrap();
    let req = http::Request::post(format!("http://{}/rest/api/2/issue", gw.addr))
        .header("authorization", "Bearer tok-h2-len")
        .header("content-length", "5")
        .body(())
        .unwrap();
    let (response, mut stream) = client.send_request(req, false).unwrap();
    // Ten bytes where five were announced.
    let _ = stream.send_data(bytes::Bytes::from_static(b"0123456789"), true);
    let outcome = tokio::time::timeout(Duration::from_secs(5), response)
        .await
        .expect("the stream ends");
    match outcome {
        // The stream is reset (PROTOCOL_ERROR): nothing was answered as a success…
        Err(e) => assert!(e.is_reset() || e.is_go_away() || e.is_io(), "{e:?}"),
        // …or, if a head was already on its way, the body never completes.
        Ok(res) => {
            let mut body = res.into_body();
            let mut failed = false;
            while let Some(chunk) = body.data().await {
                if chunk.is_err() {
                    failed = true;
                    break;
                }
            }
            assert!(failed, "the over-long body was not refused");
        }
    }
    // The upstream never recorded a request with the ten bytes.
    assert!(
        up.seen().iter().all(|s| s.body_len <= 5),
        "{:?}",
        up.seen().iter().map(|s| s.body_len).collect::<Vec<_>>()
    );
}
