//! The pool over hyper's client: reuse, expiry, retries, upgrades.

use super::*;
use crate::test_support::wait_until;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http_body_util::{BodyExt, Either, Full};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// An upstream counting the connections it accepts: `/` answers "hello",
/// `/big` 4 MB.
async fn upstream() -> (Uri, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(|req: Request<Incoming>| async move {
                    let body = if req.uri().path() == "/big" {
                        Bytes::from(vec![b'x'; 4 << 20])
                    } else {
                        Bytes::from_static(b"hello")
                    };
                    Ok::<_, hyper::Error>(Response::new(Full::new(body)))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (format!("http://{addr}/").parse().unwrap(), accepted)
}

fn pool(target: Uri, max_idle: usize, idle_timeout: Duration) -> Arc<Upstream> {
    Upstream::new(
        connector(None, Duration::from_secs(5)),
        target,
        max_idle,
        idle_timeout,
        true,
    )
}

/// `n` requests for `/` at once, each answer read to its end.
async fn send_all(pool: &Arc<Upstream>, uri: &Uri, n: usize) {
    let responses =
        futures_util::future::join_all((0..n).map(|_| pool.send(get("/", uri), later()))).await;
    for res in responses {
        assert_eq!(read(res.unwrap()).await, "hello");
    }
}

/// A `GET` with a one-byte body: requests with a body take hyper's
/// client, which these tests are about (the lean client has its own).
fn get(path: &str, host: &Uri) -> Request<RequestBody> {
    Request::builder()
        .uri(path)
        .header(http::header::HOST, host.authority().unwrap().as_str())
        .body(Either::Right(Full::new(Bytes::from_static(b"x"))))
        .unwrap()
}

fn idle(pool: &Upstream) -> usize {
    pool.idle.lock().unwrap().len()
}

fn all_idle(pool: &Upstream, test: impl Fn(&Idle) -> bool) -> bool {
    pool.idle.lock().unwrap().iter().all(test)
}

async fn read(res: Response<UpstreamBody>) -> Bytes {
    res.into_body().collect().await.unwrap().to_bytes()
}

#[tokio::test]
async fn a_connection_is_reused_once_its_body_has_been_read() {
    let (uri, accepted) = upstream().await;
    let pool = pool(uri.clone(), 8, Duration::from_secs(60));
    for _ in 0..20 {
        let res = pool.send(get("/", &uri), later()).await.unwrap();
        assert_eq!(read(res).await, "hello");
        assert_eq!(idle(&pool), 1);
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_body_dropped_before_its_end_closes_its_connection() {
    let (uri, accepted) = upstream().await;
    let pool = pool(uri.clone(), 8, Duration::from_secs(60));
    let mut body = pool
        .send(get("/big", &uri), later())
        .await
        .unwrap()
        .into_body();
    let first = body.frame().await.unwrap().unwrap();
    assert!(first.data_ref().unwrap().len() < 4 << 20);
    drop(body);
    assert_eq!(idle(&pool), 0, "a half-read connection went back");
    let res = pool.send(get("/", &uri), later()).await.unwrap();
    assert_eq!(read(res).await, "hello");
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn connections_not_ready_yet_are_kept_for_later() {
    let (uri, accepted) = upstream().await;
    let pool = pool(uri.clone(), 8, Duration::from_secs(60));
    // Two connections mid-response, put in the idle list as a body that
    // just ended would put them.
    let mut bodies = Vec::new();
    for _ in 0..2 {
        let mut body = pool
            .send(get("/big", &uri), later())
            .await
            .unwrap()
            .into_body();
        let Kind::Hyper { conn, .. } = &mut body.kind else {
            panic!("a request with a body went through the lean client");
        };
        let (p, sender) = conn.take().unwrap();
        p.checkin(sender);
        bodies.push(body);
    }
    assert_eq!(idle(&pool), 2);
    assert!(
        pool.checkout().is_none(),
        "a busy connection was handed out"
    );
    assert_eq!(idle(&pool), 2, "a busy connection was dropped");
    // Once their responses are read they serve again: no third connection.
    for body in bodies {
        assert_eq!(body.collect().await.unwrap().to_bytes().len(), 4 << 20);
    }
    wait_until("the connections never became ready", || {
        all_idle(&pool, |c| c.sender.is_ready())
    })
    .await;
    for _ in 0..2 {
        read(pool.send(get("/", &uri), later()).await.unwrap()).await;
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn idle_connections_are_capped_and_expire() {
    let (uri, accepted) = upstream().await;
    let pool = pool(uri.clone(), 2, Duration::from_secs(60));
    // Four at once need four connections; two stay.
    send_all(&pool, &uri, 4).await;
    assert_eq!(accepted.load(Ordering::SeqCst), 4);
    assert_eq!(idle(&pool), 2);

    let expiring = self::pool(uri.clone(), 8, Duration::ZERO);
    for _ in 0..3 {
        read(expiring.send(get("/", &uri), later()).await.unwrap()).await;
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        7,
        "an expired connection was reused"
    );
}

#[tokio::test]
async fn idle_connections_are_swept_after_the_timeout_and_the_sweeper_ends_with_the_pool() {
    let (uri, _) = upstream().await;
    let pool = pool(uri.clone(), 8, Duration::from_millis(100));
    send_all(&pool, &uri, 3).await;
    assert_eq!(idle(&pool), 3);
    // No request comes: the sweeper alone closes them.
    wait_until("the idle connections were never swept", || idle(&pool) == 0).await;
    let weak = Arc::downgrade(&pool);
    drop(pool);
    assert!(weak.upgrade().is_none(), "the sweeper keeps the pool alive");
}

#[tokio::test]
async fn a_connection_the_upstream_closed_is_not_used_again() {
    // Answers one request per connection, then closes it.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri: Uri = format!("http://{}/", listener.local_addr().unwrap())
        .parse()
        .unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            count.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                .await;
            // Dropped: closed with no Connection: close said.
        }
    });
    let pool = pool(uri.clone(), 8, Duration::from_secs(60));
    for n in 1..=3 {
        let res = pool.send(get("/", &uri), later()).await.unwrap();
        assert_eq!(read(res).await, "ok");
        // The pooled connection's task sees the close.
        wait_until("the close was never seen", || {
            all_idle(&pool, |c| c.sender.is_closed())
        })
        .await;
        assert_eq!(accepted.load(Ordering::SeqCst), n);
    }
}

#[tokio::test]
async fn only_bodyless_requests_without_an_upgrade_take_the_fast_client() {
    let (uri, _) = upstream().await;
    let pool = pool(uri.clone(), 8, Duration::from_secs(60));
    let bodyless = || {
        let mut req = get("/", &uri);
        *req.body_mut() = Either::Right(Full::new(Bytes::new()));
        req
    };
    let res = pool.send(bodyless(), later()).await.unwrap();
    assert!(matches!(res.body().kind, Kind::Fast(_)));
    assert_eq!(read(res).await, "hello");
    // A switch of protocol needs hyper's upgrade machinery.
    let mut upgrade = bodyless();
    upgrade
        .headers_mut()
        .insert(http::header::UPGRADE, "websocket".parse().unwrap());
    let res = pool.send(upgrade, later()).await.unwrap();
    assert!(matches!(res.body().kind, Kind::Hyper { .. }));
    let res = pool.send(get("/", &uri), later()).await.unwrap();
    assert!(matches!(res.body().kind, Kind::Hyper { .. }));
}

#[tokio::test]
async fn with_the_fast_path_off_every_request_takes_hypers_client() {
    let (uri, _) = upstream().await;
    let pool = Upstream::new(
        connector(None, Duration::from_secs(5)),
        uri.clone(),
        8,
        Duration::from_secs(60),
        false,
    );
    for _ in 0..2 {
        let mut req = get("/", &uri);
        *req.body_mut() = Either::Right(Full::new(Bytes::new()));
        let res = pool.send(req, later()).await.unwrap();
        assert!(matches!(res.body().kind, Kind::Hyper { .. }));
        assert_eq!(read(res).await, "hello");
    }
}

#[tokio::test]
async fn an_unreachable_upstream_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let uri: Uri = format!("http://{}/", listener.local_addr().unwrap())
        .parse()
        .unwrap();
    drop(listener);
    let pool = pool(uri.clone(), 8, Duration::from_secs(60));
    let err = pool.send(get("/", &uri), later()).await.unwrap_err();
    assert!(matches!(err, UpstreamError::Connect(_)), "{err}");
}
