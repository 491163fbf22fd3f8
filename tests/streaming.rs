//! Bodies stream both ways and upgrades are tunnelled.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
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
