//! Faults and hostile input: provider flapping under concurrent load never lets
//! an unauthenticated request through or forwards a wrong identity.

mod common {
    pub mod client;
    pub mod gateway;
    pub mod idp;
    pub mod setup;
    pub mod upstream;
}

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use common::gateway::*;
use common::idp::*;
use common::setup::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_flapping_under_load_never_passes_a_wrong_or_missing_identity() {
    // Short cache lives, so the provider is asked often while it flaps.
    let (idp, up, gw) = setup("\n[cache]\nttl = \"50ms\"\nnegative_ttl = \"50ms\"\n").await;
    idp.add_user("tok-flap-alice", "alice");
    idp.add_user("tok-flap-bob", "bob");
    let stop = Arc::new(AtomicBool::new(false));
    let flapper = {
        let idp = idp.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut up_now = true;
            while !stop.load(Ordering::SeqCst) {
                idp.set_mode(if up_now {
                    Mode::Normal
                } else {
                    Mode::Status(500)
                });
                up_now = !up_now;
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
            idp.set_mode(Mode::Normal);
        })
    };
    // (authorization, spoofed identity, who the upstream may see)
    let cases: [(Option<&str>, Option<&str>, Option<&str>); 5] = [
        (Some("Bearer tok-flap-alice"), None, Some("alice")),
        (Some("Bearer tok-flap-bob"), Some("alice"), Some("bob")),
        (Some("Bearer tok-flap-nobody"), Some("admin"), None),
        (None, Some("admin"), None),
        (Some("Bearer "), Some("admin"), None),
    ];
    let clients: Vec<_> = (0..8)
        .map(|i| {
            let stop = stop.clone();
            let addr = gw.addr;
            tokio::spawn(async move {
                let mut results = Vec::new();
                let mut n = i;
                while !stop.load(Ordering::SeqCst) {
                    let (authz, spoof, expect) = cases[n % cases.len()];
                    n += 1;
                    let mut headers: Vec<(&str, &str)> =
                        vec![("x-test-expect", expect.unwrap_or("nobody"))];
                    if let Some(a) = authz {
                        headers.push(("authorization", a));
                    }
                    if let Some(s) = spoof {
                        headers.push(("x-forwarded-user", s));
                    }
                    let res =
                        send_to(addr, "GET", "/rest/api/2/myself", &headers, Bytes::new()).await;
                    let user = res
                        .json()
                        .get("user")
                        .and_then(|u| u.as_str())
                        .map(str::to_owned);
                    let has_token = authz.is_some_and(|a| a.len() > "Bearer ".len());
                    results.push((expect, has_token, res.status, user));
                }
                results
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::SeqCst);
    flapper.await.unwrap();
    let mut statuses = std::collections::BTreeMap::new();
    for c in clients {
        for (expect, has_token, status, user) in c.await.unwrap() {
            *statuses.entry(status).or_insert(0) += 1;
            match status {
                200 => assert_eq!(
                    user.as_deref(),
                    expect,
                    "a 200 only for a valid token, as its own user"
                ),
                401 | 400 => {}
                // Fail closed: while the provider fails, any token (even one it
                // would refuse) gets 503; a request without one never waits on it.
                503 => assert!(has_token, "503 only for requests carrying a token"),
                other => panic!("unexpected status {other}"),
            }
        }
    }
    // The upstream's own view: every forwarded request carries exactly the
    // identity its token maps to, and nothing else reached it.
    for seen in up.seen() {
        let expect = seen.header("x-test-expect").unwrap();
        assert_ne!(
            expect, "nobody",
            "a request without a valid credential reached the upstream"
        );
        assert_eq!(seen.headers_like("x-forwarded-user"), vec![expect]);
    }
    assert!(statuses.get(&200).copied().unwrap_or(0) > 0, "{statuses:?}");
    assert!(
        statuses.get(&503).copied().unwrap_or(0) > 0,
        "the provider really flapped: {statuses:?}"
    );
    println!(
        "statuses under flapping: {statuses:?}, forwarded {}",
        up.count()
    );
}

#[tokio::test]
async fn a_slow_provider_gets_at_most_max_concurrent_calls() {
    let (idp, _up, gw) = setup("max_concurrent = 2\n").await;
    idp.set_mode(Mode::Delay(Duration::from_millis(200)));
    for i in 0..8 {
        idp.add_user(&format!("tok-slow-{i}"), "alice");
    }
    let calls: Vec<_> = (0..8)
        .map(|i| {
            let addr = gw.addr;
            tokio::spawn(async move {
                let auth = format!("Bearer tok-slow-{i}");
                send_to(
                    addr,
                    "GET",
                    "/rest/api/2/myself",
                    &[("authorization", &auth)],
                    Bytes::new(),
                )
                .await
                .status
            })
        })
        .collect();
    for c in calls {
        assert_eq!(
            c.await.unwrap(),
            200,
            "queued calls still complete within the timeout"
        );
    }
    assert_eq!(idp.calls(), 8);
    assert_eq!(
        idp.max_in_flight(),
        2,
        "never more than max_concurrent at the provider"
    );
}

#[tokio::test]
async fn past_max_connections_clients_wait_to_be_accepted() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (_idp, _up, gw) = setup_server("max_connections = 2").await;
    let req = b"GET /secure/x HTTP/1.1\r\nHost: x\r\n\r\n";
    // Two keep-alive connections, each served once and held open.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
        s.write_all(req).await.unwrap();
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        held.push(s);
    }
    // A third waits: no answer while both slots are taken...
    let mut third = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    third.write_all(req).await.unwrap();
    let mut buf = [0u8; 512];
    assert!(
        tokio::time::timeout(Duration::from_millis(300), third.read(&mut buf))
            .await
            .is_err(),
        "answered past the limit"
    );
    // ...and is served once one closes.
    drop(held.pop());
    let n = tokio::time::timeout(Duration::from_secs(5), third.read(&mut buf))
        .await
        .expect("served after a slot freed")
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
}
