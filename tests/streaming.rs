//! Bodies stream both ways and upgrades are tunnelled.

mod common {
    pub mod client;
    pub mod gateway;
    pub mod idp;
    pub mod setup;
    pub mod spawned;
    pub mod upstream;
}

use std::time::Duration;

use bytes::Bytes;
use common::gateway::*;
use common::idp::*;
use common::setup::*;
use common::spawned::*;
use common::upstream::*;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn websocket_round_trips_through_restgate() {
    let (idp, up, gw) = setup("").await;
    idp.add_user("tok-ws", "alice");
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        format!("ws://{}/ws", gw.addr),
    )
    .unwrap();
    req.headers_mut()
        .insert("authorization", "Bearer tok-ws".parse().unwrap());
    let (mut ws, res) = tokio_tungstenite::connect_async(req)
        .await
        .expect("upgrade through the gateway");
    assert_eq!(res.status(), 101);
    for i in 0..3 {
        ws.send(Message::Text(format!("hello {i}").into()))
            .await
            .unwrap();
        let reply = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(
            reply.into_text().unwrap().as_str(),
            format!("echo: hello {i}")
        );
    }
    ws.close(None).await.unwrap();
    // The upgrade request itself was authenticated and handed off.
    let seen = up.last();
    assert_eq!(seen.header("x-forwarded-user").as_deref(), Some("alice"));
    assert_eq!(seen.header("authorization"), None);
    assert_eq!(idp.calls(), 1);
}

/// Streams `total` bytes in 1 MiB chunks generated on the fly.
fn upload_body(
    total: usize,
) -> StreamBody<impl futures_util::Stream<Item = Result<Frame<Bytes>, std::io::Error>>> {
    let chunk = Bytes::from(vec![b'x'; 1 << 20]);
    let n = total / chunk.len();
    StreamBody::new(futures_util::stream::iter(
        (0..n).map(move |_| Ok(Frame::data(chunk.clone()))),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_mb_upload_streams_with_bounded_gateway_memory() {
    let idp = FakeIdp::start().await;
    let up = RecordingUpstream::start().await;
    idp.add_user("tok-big", "alice");
    let gw = Spawned::start(&config(&idp, &up, ""), "warn,restgate=info");
    let warm = bearer_to(gw.addr, "/rest/api/2/myself", "tok-big").await;
    assert_eq!(warm.status, 200);
    let before = gw.status_kib("VmRSS:");

    const TOTAL: usize = 200 << 20;
    let client: Client<_, _> = Client::builder(TokioExecutor::new()).build_http();
    let req = http::Request::post(format!("http://{}/rest/api/2/attachment", gw.addr))
        .header("authorization", "Bearer tok-big")
        .header("content-type", "application/octet-stream")
        .body(upload_body(TOTAL))
        .unwrap();
    let res = client.request(req).await.expect("upload answered");
    assert_eq!(res.status(), 200);
    let body: serde_json::Value =
        serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(
        body["bytes"].as_u64(),
        Some(TOTAL as u64),
        "every byte arrived"
    );
    assert_eq!(body["user"], "alice");

    let peak = gw.status_kib("VmHWM:");
    let growth_mib = peak.saturating_sub(before) as f64 / 1024.0;
    println!(
        "gateway RSS before {before} KiB, peak {peak} KiB, growth {growth_mib:.1} MiB for a 200 MiB upload"
    );
    assert!(
        growth_mib < 32.0,
        "resident memory grew by {growth_mib:.1} MiB"
    );
    let (status, _) = gw.stop();
    assert!(
        status.success(),
        "SIGTERM ends restgate cleanly: {status:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_the_client_reads_slowly_streams_with_bounded_gateway_memory() {
    // An upstream sending 64 MiB as 4 KiB chunks, as fast as it can.
    const CHUNK: usize = 4 << 10;
    const CHUNKS: usize = 16 << 10;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let mut out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
                let chunk = [format!("{CHUNK:x}\r\n").as_bytes(), &[b'x'; CHUNK], b"\r\n"].concat();
                for _ in 0..CHUNKS {
                    out.extend_from_slice(&chunk);
                    if out.len() >= 1 << 20 {
                        if s.write_all(&out).await.is_err() {
                            return;
                        }
                        out.clear();
                    }
                }
                out.extend_from_slice(b"0\r\n\r\n");
                let _ = s.write_all(&out).await;
            });
        }
    });
    let idp = FakeIdp::start().await;
    let up = RecordingUpstream::start().await;
    idp.add_user("tok-down", "alice");
    let toml = config(&idp, &up, "").replace(&up.addr.to_string(), &upstream.to_string());
    let gw = Spawned::start(&toml, "warn,restgate=info");
    let before = gw.status_kib("VmRSS:");

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    s.write_all(b"GET /rest/api/2/attachment/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok-down\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 1024];
    let n = s.read(&mut first).await.unwrap();
    assert!(first[..n].starts_with(b"HTTP/1.1 200"));
    // The client stops reading for a while: the gateway must stop reading
    // the upstream too, not hold what keeps coming.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let paused_peak = gw.status_kib("VmHWM:");
    let mut total = n;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match s.read(&mut buf).await.unwrap() {
            0 => break,
            n => total += n,
        }
    }
    assert!(total > CHUNK * CHUNKS, "only {total} bytes arrived");
    let growth_mib = paused_peak.saturating_sub(before) as f64 / 1024.0;
    println!("gateway RSS before {before} KiB, peak while paused {paused_peak} KiB");
    assert!(
        growth_mib < 24.0,
        "resident memory grew by {growth_mib:.1} MiB while the client paused"
    );
}
