//! The benchmark's fast fakes: an upstream answering ~300 bytes of JSON, and an
//! RFC 7662 introspection endpoint over HTTP and over TLS with an optional
//! artificial latency. `GET /__stats` on the upstream reports how many
//! introspection calls and provider connections there were.
//!
//! Built by `bench/run` (`cargo build --release --example bench_fixtures`); it
//! prints one line, `upstream=ADDR provider_http=ADDR provider_tls=ADDR`, once
//! every listener is bound, and writes the TLS certificate and its key to
//! `--dir`/ca.pem and key.pem.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

#[derive(Parser)]
struct Args {
    /// Where to write ca.pem and key.pem (the self-signed certificate for
    /// `localhost` and its key).
    #[arg(long)]
    dir: std::path::PathBuf,
    /// Artificial latency of each introspection answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
}

#[derive(Default)]
struct Stats {
    calls: AtomicU64,
    connections: AtomicU64,
    upstream_connections: AtomicU64,
}

/// ~300 bytes, the size of a small Jira REST answer.
const UPSTREAM_BODY: &str = r#"{"self":"http://jira.example.com/rest/api/2/issue/10002","id":"10002","key":"BENCH-1","fields":{"summary":"A small issue for the benchmark","status":{"name":"In Progress","id":"3"},"priority":{"name":"Medium","id":"3"},"assignee":{"name":"bench-user","displayName":"Bench User"},"updated":"2026-11-22T10:00:00.000+0000"}}"#;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Args::parse();
    let stats = Arc::new(Stats::default());
    let latency = Duration::from_millis(args.latency_ms);

    let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let provider_http = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let provider_tls = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addrs: Vec<SocketAddr> = [&upstream, &provider_http, &provider_tls]
        .iter()
        .map(|l| l.local_addr().unwrap())
        .collect();

    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(args.dir.join("ca.pem"), ck.cert.pem()).unwrap();
    // The same pair serves the TLS rows' client-side listeners.
    std::fs::write(args.dir.join("key.pem"), ck.signing_key.serialize_pem()).unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut tls = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![ck.cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into()),
        )
        .unwrap();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));

    let s = stats.clone();
    let counted = stats.clone();
    tokio::spawn(serve(upstream, counted, move |req| {
        let s = s.clone();
        async move { upstream_answer(&req, &s) }
    }));
    for (listener, acceptor) in [(provider_http, None), (provider_tls, Some(acceptor))] {
        let stats = stats.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                stats.connections.fetch_add(1, Ordering::Relaxed);
                let s = stats.clone();
                let svc = hyper::service::service_fn(move |req| {
                    let s = s.clone();
                    async move { introspect(req, &s, latency).await }
                });
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let builder = auto::Builder::new(TokioExecutor::new());
                    match acceptor {
                        None => {
                            let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
                        }
                        Some(a) => {
                            if let Ok(tls) = a.accept(stream).await {
                                let _ = builder.serve_connection(TokioIo::new(tls), svc).await;
                            }
                        }
                    }
                });
            }
        });
    }
    println!(
        "upstream={} provider_http={} provider_tls={}",
        addrs[0], addrs[1], addrs[2]
    );
    std::future::pending::<()>().await;
}

/// Serves plain HTTP/1.1 and h2c with `handler`.
/// Serves the upstream, counting the connections it accepts.
async fn serve<F, Fut>(listener: TcpListener, stats: Arc<Stats>, handler: F)
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        stats.upstream_connections.fetch_add(1, Ordering::Relaxed);
        let _ = stream.set_nodelay(true);
        let h = handler.clone();
        let svc = hyper::service::service_fn(move |req| {
            let h = h.clone();
            async move { Ok::<_, Infallible>(h(req).await) }
        });
        tokio::spawn(async move {
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

fn upstream_answer(req: &Request<Incoming>, stats: &Stats) -> Response<Full<Bytes>> {
    let body = if req.uri().path() == "/__stats" {
        Bytes::from(format!(
            r#"{{"calls":{},"connections":{},"upstream_connections":{}}}"#,
            stats.calls.load(Ordering::Relaxed),
            stats.connections.load(Ordering::Relaxed),
            stats.upstream_connections.load(Ordering::Relaxed)
        ))
    } else {
        Bytes::from_static(UPSTREAM_BODY.as_bytes())
    };
    Response::builder()
        .header("content-type", "application/json;charset=UTF-8")
        .body(Full::new(body))
        .unwrap()
}

/// RFC 7662: any token starting with `tok-` is active for an hour as
/// `bench-user`; anything else is inactive.
async fn introspect(
    req: Request<Incoming>,
    stats: &Stats,
    latency: Duration,
) -> Result<Response<Full<Bytes>>, Infallible> {
    stats.calls.fetch_add(1, Ordering::Relaxed);
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let active = form_urlencoded::parse(&body).any(|(k, v)| k == "token" && v.starts_with("tok-"));
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let answer = if active {
        format!(
            r#"{{"active":true,"username":"bench-user","sub":"bench-user","client_id":"bench","scope":"openid","token_type":"Bearer","iat":{now},"exp":{}}}"#,
            now + 3600
        )
    } else {
        r#"{"active":false}"#.to_owned()
    };
    Ok(Response::builder()
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(answer)))
        .unwrap())
}
