//! The fast path's client through the pool: framing, reuse, retries and
//! deadlines against a scripted upstream.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{BoxError, Upstream, UpstreamBody, UpstreamError, connector, later};
use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use http::Uri;
use http_body_util::{BodyExt, Either, Full};
use tokio::net::TcpListener;

/// What a scripted upstream does after a request head.
enum Step {
    /// Writes these bytes and reads the next request.
    Answer(&'static [u8]),
    /// Writes these bytes and closes the connection.
    AnswerAndClose(&'static [u8]),
    /// Waits, then writes these bytes and reads the next request.
    Late(Duration, &'static [u8]),
    /// Answers nothing, keeping the connection open.
    Silent,
}

/// An upstream answering each request with the next scripted step, on
/// whichever connection it comes; counts connections, keeps the heads.
struct Scripted {
    uri: Uri,
    connections: Arc<AtomicUsize>,
    heads: Arc<Mutex<Vec<String>>>,
}

async fn scripted(steps: Vec<Step>) -> Scripted {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}/", listener.local_addr().unwrap())
        .parse()
        .unwrap();
    let steps = Arc::new(Mutex::new(VecDeque::from(steps)));
    let connections = Arc::new(AtomicUsize::new(0));
    let heads = Arc::new(Mutex::new(Vec::new()));
    let (count, seen) = (connections.clone(), heads.clone());
    tokio::spawn(async move {
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            count.fetch_add(1, Ordering::SeqCst);
            let (steps, seen) = (steps.clone(), seen.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        let mut chunk = [0u8; 4096];
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                    seen.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&buf[..end]).into_owned());
                    buf.drain(..end);
                    let step = steps.lock().unwrap().pop_front();
                    match step {
                        Some(Step::Answer(b)) => s.write_all(b).await.unwrap(),
                        Some(Step::AnswerAndClose(b)) => {
                            s.write_all(b).await.unwrap();
                            return;
                        }
                        Some(Step::Late(wait, b)) => {
                            tokio::time::sleep(wait).await;
                            s.write_all(b).await.unwrap();
                        }
                        Some(Step::Silent) => {
                            let _ = s.read(&mut [0u8; 1]).await;
                            return;
                        }
                        None => return,
                    }
                }
            });
        }
    });
    Scripted {
        uri,
        connections,
        heads,
    }
}

fn pool(uri: &Uri) -> Arc<Upstream> {
    Upstream::new(
        connector(None, Duration::from_secs(5)),
        uri.clone(),
        8,
        Duration::from_secs(60),
        true,
    )
}

fn request(method: Method, uri: &Uri) -> Request<super::RequestBody> {
    Request::builder()
        .method(method)
        .uri("/rest/x?q=1")
        .header(header::HOST, uri.authority().unwrap().as_str())
        .body(Either::Right(Full::new(Bytes::new())))
        .unwrap()
}

/// A bodyless request with a deadline it does not reach.
async fn send(
    pool: &Arc<Upstream>,
    up: &Scripted,
    method: Method,
) -> Result<Response<UpstreamBody>, UpstreamError> {
    pool.send(request(method, &up.uri), later()).await
}

async fn body(res: Response<UpstreamBody>) -> Result<Bytes, BoxError> {
    res.into_body().collect().await.map(|c| c.to_bytes())
}

fn idle(pool: &Upstream) -> usize {
    pool.fast.as_ref().unwrap().lock().unwrap().len()
}

#[tokio::test]
async fn framed_bodies_are_read_whole_and_the_connection_serves_again() {
    let up = scripted(vec![
        Step::Answer(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
        Step::Answer(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n",
        ),
        Step::Answer(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"),
        Step::Answer(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"),
        Step::Answer(b"HTTP/1.1 200 OK\r\ncontent-length: 2, 2\r\n\r\nok"),
        Step::Answer(
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n0\r\n\r\n",
        ),
    ])
    .await;
    let pool = pool(&up.uri);
    let res = send(&pool, &up, Method::GET).await.unwrap();
    assert_eq!(body(res).await.unwrap(), "hello");
    let res = send(&pool, &up, Method::GET).await.unwrap();
    assert_eq!(body(res).await.unwrap(), "abcde");
    let res = send(&pool, &up, Method::DELETE).await.unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(body(res).await.unwrap(), "");
    // A HEAD response states a length and has no body.
    let res = send(&pool, &up, Method::HEAD).await.unwrap();
    assert_eq!(res.headers()["content-length"], "99");
    assert_eq!(body(res).await.unwrap(), "");
    let res = send(&pool, &up, Method::GET).await.unwrap();
    assert_eq!(body(res).await.unwrap(), "ok");
    // Both framings: chunked wins (RFC 9112 §6.3).
    let res = send(&pool, &up, Method::GET).await.unwrap();
    assert_eq!(body(res).await.unwrap(), "abcde");
    assert_eq!(up.connections.load(Ordering::SeqCst), 1);
    assert_eq!(idle(&pool), 1);
    let heads = up.heads.lock().unwrap().clone();
    assert!(
        heads[0].starts_with("GET /rest/x?q=1 HTTP/1.1\r\n"),
        "{heads:?}"
    );
    assert!(heads[0].contains(&format!("host: {}", up.uri.authority().unwrap())));
}

#[tokio::test]
async fn a_post_without_a_body_states_a_zero_length() {
    let up = scripted(vec![Step::Answer(
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    )])
    .await;
    let pool = pool(&up.uri);
    let res = send(&pool, &up, Method::POST).await.unwrap();
    body(res).await.unwrap();
    let head = up.heads.lock().unwrap()[0].clone();
    assert!(head.contains("content-length: 0\r\n"), "{head}");
}

#[tokio::test]
async fn a_body_delimited_by_the_close_is_read_to_it_and_the_connection_not_kept() {
    let up = scripted(vec![
        Step::AnswerAndClose(b"HTTP/1.1 200 OK\r\n\r\nuntil the end"),
        Step::Answer(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"),
        Step::Answer(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    ])
    .await;
    let pool = pool(&up.uri);
    let res = send(&pool, &up, Method::GET).await.unwrap();
    assert_eq!(body(res).await.unwrap(), "until the end");
    for _ in 0..2 {
        let res = send(&pool, &up, Method::GET).await.unwrap();
        assert_eq!(body(res).await.unwrap(), "ok");
        assert_eq!(idle(&pool), 0, "a connection said to close went back");
    }
    assert_eq!(up.connections.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn broken_answers_are_errors_and_their_connections_are_dropped() {
    let up = scripted(vec![
        Step::Answer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok"),
        Step::Answer(b"SSH-2.0-OpenSSH\r\n\r\n"),
        Step::AnswerAndClose(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"),
        Step::AnswerAndClose(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcdefgh"),
        Step::Answer(b"HTTP/1.1 101 Switching Protocols\r\n\r\n"),
    ])
    .await;
    let pool = pool(&up.uri);
    for _ in 0..2 {
        let err = send(&pool, &up, Method::GET).await.unwrap_err();
        assert!(matches!(err, UpstreamError::Malformed(_)), "{err}");
    }
    for _ in 0..2 {
        let res = send(&pool, &up, Method::GET).await.unwrap();
        assert!(body(res).await.is_err(), "a cut body read as complete");
    }
    let err = send(&pool, &up, Method::GET).await.unwrap_err();
    assert!(matches!(err, UpstreamError::Malformed(_)), "{err}");
    assert_eq!(idle(&pool), 0);
}

#[tokio::test]
async fn a_connection_the_upstream_closed_while_idle_is_not_used() {
    let up = scripted(vec![
        Step::AnswerAndClose(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        Step::Answer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    ])
    .await;
    let pool = pool(&up.uri);
    let res = send(&pool, &up, Method::GET).await.unwrap();
    assert_eq!(body(res).await.unwrap(), "ok");
    // Closed without saying so: the next request still gets its answer.
    let res = send(&pool, &up, Method::GET).await.unwrap();
    assert_eq!(body(res).await.unwrap(), "ok");
    assert_eq!(up.connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_body_dropped_midway_closes_its_connection() {
    let up = scripted(vec![
        Step::Answer(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf"),
        Step::Answer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    ])
    .await;
    let pool = pool(&up.uri);
    let mut res = send(&pool, &up, Method::GET).await.unwrap();
    let first = res.body_mut().frame().await.unwrap().unwrap();
    assert_eq!(first.into_data().unwrap(), "half");
    drop(res);
    assert_eq!(idle(&pool), 0);
    let res = send(&pool, &up, Method::GET).await.unwrap();
    assert_eq!(body(res).await.unwrap(), "ok");
    assert_eq!(up.connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_reused_connection_keeps_each_requests_own_deadline() {
    const OK: &[u8] = b"HTTP/1.1 204 No Content\r\n\r\n";
    let wait = Duration::from_millis(400);
    let up = scripted(vec![Step::Answer(OK), Step::Late(wait, OK), Step::Silent]).await;
    let pool = pool(&up.uri);
    let soon = || tokio::time::Instant::now() + Duration::from_millis(150);
    // The first deadline is armed with the connection, and passes
    // while the connection waits in the pool.
    let res = pool
        .send(request(Method::GET, &up.uri), soon())
        .await
        .unwrap();
    drop(res);
    // A later deadline on the same connection: the answer that comes
    // after the first deadline is taken.
    let res = send(&pool, &up, Method::GET).await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    drop(res);
    // An earlier one again: the silent upstream is given up on in time.
    let started = tokio::time::Instant::now();
    let err = pool
        .send(request(Method::GET, &up.uri), soon())
        .await
        .unwrap_err();
    assert!(matches!(err, UpstreamError::Timeout), "{err}");
    assert!(started.elapsed() < wait, "{:?}", started.elapsed());
    assert_eq!(up.connections.load(Ordering::SeqCst), 1);
}
