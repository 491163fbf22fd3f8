//! HTTP/1.1 connections: pipelining, keep-alive, `HEAD`, `Connection: close`,
//! a request with a body after bodyless ones on the same connection (the
//! lean loop hands the connection to hyper mid-way), malformed heads, and
//! idle connections at shutdown.

mod common {
    pub mod client;
    pub mod gateway;
    pub mod idp;
    pub mod raw;
    pub mod setup;
    pub mod upstream;
}

use std::time::Duration;

use common::raw::*;
use common::setup::*;
use common::upstream::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The responses in `raw`, split after each head and its `Content-Length`
/// body (the tests' upstream always states a length): (status, head, body).
fn responses(raw: &[u8], head_requests: &[bool]) -> Vec<(u16, String, String)> {
    let mut out = Vec::new();
    let mut rest = raw;
    for &head_only in head_requests {
        let end = rest
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("a response head in {:?}", String::from_utf8_lossy(rest)))
            + 4;
        let head = String::from_utf8_lossy(&rest[..end]).into_owned();
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().unwrap())
            })
            .unwrap_or(0);
        let length = if head_only { 0 } else { length };
        let body = String::from_utf8_lossy(&rest[end..end + length]).into_owned();
        out.push((raw_status(&head), head, body));
        rest = &rest[end + length..];
    }
    assert!(
        rest.is_empty(),
        "bytes after the last response: {:?}",
        String::from_utf8_lossy(rest)
    );
    out
}

/// A gateway where `tok-alice` is alice's token: sends `requests` in one
/// write on one connection and reads until the gateway closes it.
async fn exchange_as_alice(requests: &str) -> (RecordingUpstream, Vec<u8>) {
    let (idp, up, gw) = setup("").await;
    idp.add_user("tok-alice", "alice");
    let mut s = TcpStream::connect(gw.addr).await.unwrap();
    s.write_all(requests.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .expect("the gateway closed the connection after Connection: close")
        .unwrap();
    (up, out)
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order_on_one_connection() {
    let (up, out) = exchange_as_alice(
        "GET /rest/api/2/one HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok-alice\r\n\r\n\
         GET /rest/api/2/missing-token HTTP/1.1\r\nHost: x\r\n\r\n\
         GET /rest/api/2/three HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok-alice\r\nConnection: close\r\n\r\n",
    )
    .await;
    let got = responses(&out, &[false, false, false]);
    let statuses: Vec<u16> = got.iter().map(|r| r.0).collect();
    assert_eq!(statuses, [200, 401, 200]);
    assert!(got[0].2.contains("alice"), "{}", got[0].2);
    assert!(got[2].1.to_ascii_lowercase().contains("connection: close"));
    let paths: Vec<String> = up.seen().into_iter().map(|s| s.uri).collect();
    assert_eq!(paths, ["/rest/api/2/one", "/rest/api/2/three"]);
    assert_eq!(up.connections(), 1);
}

#[tokio::test]
async fn a_request_with_a_body_after_bodyless_ones_is_forwarded_whole() {
    // The second request and its body are already buffered when the first
    // is answered: none of it may be lost or read as a request.
    let (up, out) = exchange_as_alice(
        "GET /rest/api/2/first HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok-alice\r\n\r\n\
         POST /rest/api/2/second HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok-alice\r\n\
         Content-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"GET /x\":\"y\"}\r\n\
         GET /rest/api/2/third HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok-alice\r\nConnection: close\r\n\r\n",
    )
    .await;
    let got = responses(&out, &[false, false, false]);
    assert!(got.iter().all(|r| r.0 == 200), "{got:?}");
    let seen = up.seen();
    let shapes: Vec<(String, String, usize)> = seen
        .iter()
        .map(|s| (s.method.clone(), s.uri.clone(), s.body_len))
        .collect();
    assert_eq!(
        shapes,
        [
            ("GET".into(), "/rest/api/2/first".into(), 0),
            ("POST".into(), "/rest/api/2/second".into(), 16),
            ("GET".into(), "/rest/api/2/third".into(), 0),
        ]
    );
    assert!(
        seen.iter()
            .all(|s| s.header("x-forwarded-user").as_deref() == Some("alice"))
    );
}

#[tokio::test]
async fn head_responses_have_no_body_and_the_connection_goes_on() {
    let (up, out) = exchange_as_alice(
        "HEAD /rest/api/2/myself HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok-alice\r\n\r\n\
         GET /rest/api/2/myself HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok-alice\r\nConnection: close\r\n\r\n",
    )
    .await;
    let got = responses(&out, &[true, false]);
    assert_eq!((got[0].0, got[1].0), (200, 200));
    assert!(got[1].2.contains("alice"));
    assert_eq!(up.seen()[0].method, "HEAD");
}

#[tokio::test]
async fn a_malformed_head_is_refused_and_never_forwarded() {
    let (idp, up, gw) = setup("").await;
    idp.add_user("tok-m", "alice");
    for bad in [
        "GET /rest/api/2/myself HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n",
        "GET /rest/api/2/myself HTTP/1.1\r\nHost: x\r\n Folded: y\r\n\r\n",
        "GET /rest/api/2/myself HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\n",
    ] {
        let res = raw(gw.addr, bad.as_bytes()).await;
        assert_eq!(raw_status(&res), 400, "{bad:?} got {res:?}");
    }
    assert_eq!(up.count(), 0);
}

#[tokio::test]
async fn idle_keep_alive_connections_close_when_the_gateway_stops() {
    let (idp, _up, gw) = setup_server("header_read_timeout = \"60s\"").await;
    idp.add_user("tok-s", "alice");
    let mut s = TcpStream::connect(gw.addr).await.unwrap();
    s.write_all(
        b"GET /rest/api/2/myself HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok-s\r\n\r\n",
    )
    .await
    .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).await.unwrap();
    assert_eq!(raw_status(&String::from_utf8_lossy(&buf[..n])), 200);
    // Stopping the gateway closes the idle connection now, not after the
    // 60 s a next request may take.
    drop(gw);
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the idle connection outlived the gateway");
}

/// Hostile and odd heads, in any mix, through whichever path takes them (the
/// lean loop, or hyper after a hand-off): the upstream never sees an identity
/// the client supplied, and the gateway keeps serving.
#[test]
fn no_mix_of_header_lines_forwards_a_client_identity() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    let rt = tokio::runtime::Runtime::new().unwrap();
    let (idp, up, gw) = rt.block_on(setup_server("header_read_timeout = \"2s\""));
    idp.add_user("tok-alicerop", "alice");
    let line = prop::sample::select(vec![
        "X-Forwarded-User: mallory",
        "x_forwarded_user: mallory",
        "X-FORWARDED-USER:mallory",
        "X-Restgate-User: mallory",
        "Authorization: Bearer tok-alicerop",
        "Authorization: Bearer not-a-token",
        "Authorization: Basic bWFsbG9yeTpwdw==",
        "Cookie: JSESSIONID=abc",
        "Content-Length: 0",
        "Content-Length: 5",
        "Transfer-Encoding: chunked",
        "Upgrade: websocket",
        "Connection: upgrade",
        "Connection: keep-alive, X-Forwarded-User",
        "Expect: 100-continue",
        "Host: a",
        "Host: b",
        " folded: continuation",
        "Bad Name: x",
        "X-Ctl: a\u{1}b",
    ]);
    let head = (
        prop::sample::select(vec!["GET", "HEAD", "DELETE", "POST", "OPTIONS"]),
        prop::sample::select(vec![
            "/rest/api/2/myself",
            "/rest/api/2/../../secure/x",
            "/rest/%2e%2e/x",
            "http://x/rest/api/2/myself",
            "*",
        ]),
        prop::sample::select(vec!["HTTP/1.1", "HTTP/1.0", "HTTP/2.0"]),
        prop::sample::select(vec!["\r\n", "\n"]),
        prop::collection::vec(line, 0..7),
    );
    let mut runner = TestRunner::new(Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&head, |(method, target, version, eol, lines)| {
            let mut req = format!("{method} {target} {version}{eol}");
            for l in &lines {
                req.push_str(l);
                req.push_str(eol);
            }
            req.push_str("Connection: close");
            req.push_str(eol);
            req.push_str(eol);
            // Each body a framing header promises, so no request waits.
            if lines.contains(&"Transfer-Encoding: chunked") {
                req.push_str("0\r\n\r\n");
            } else if lines.contains(&"Content-Length: 5") {
                req.push_str("hello");
            }
            rt.block_on(raw(gw.addr, req.as_bytes()));
            Ok(())
        })
        .unwrap();
    let seen = up.seen();
    for s in &seen {
        for v in s.headers_like("x-forwarded-user") {
            assert_eq!(v, "alice", "{} {} carried {v}", s.method, s.uri);
        }
        assert!(s.headers_like("x-restgate-user").is_empty());
    }
    assert!(
        seen.iter()
            .any(|s| s.header("x-forwarded-user").as_deref() == Some("alice")),
        "no case reached the upstream authenticated"
    );
    let res = rt.block_on(gw.bearer("/rest/api/2/myself", "tok-alicerop"));
    assert_eq!(res.status, 200);
}
