//! Several real `restgate serve` processes sharing one Redis (or Redis
//! Cluster) through `[cluster]`, over one fake provider and one recording
//! upstream, and the admin calls a test needs to watch them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::Value;

use super::gateway::send_to;
use super::idp::FakeIdp;
use super::setup::config;
use super::spawned::Spawned;
use super::upstream::RecordingUpstream;

/// A cluster key file (mode 0600) in `dir`, as `restgate cluster keygen`
/// writes one.
pub fn key_file(dir: &Path, name: &str) -> PathBuf {
    use base64::Engine as _;
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join(name);
    let key: [u8; 32] = rand::random();
    let text = base64::engine::general_purpose::STANDARD.encode(key);
    std::fs::write(&path, format!("{text}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// The `[cluster]` table for these Redis URLs (one, or Redis Cluster seeds).
pub fn cluster_toml(urls: &[String], key: &Path, extra: &str) -> String {
    let urls = if urls.len() == 1 {
        format!("{:?}", urls[0])
    } else {
        format!(
            "[{}]",
            urls.iter()
                .map(|u| format!("{u:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    format!(
        "\n[cluster]\nredis_url = {urls}\nkey_file = {:?}\ntimeout = \"250ms\"\n{extra}\n",
        key.display().to_string()
    )
}

/// Starts one replica over `idp` and `up` with this `[cluster]` table and
/// waits until it shares through Redis.
pub async fn replica(idp: &FakeIdp, up: &RecordingUpstream, cluster: &str) -> Spawned {
    let toml = format!("{}{cluster}", config(idp, up, ""));
    let r = Spawned::start(&toml, "info,restgate=info");
    wait_connected(&r, true).await;
    r
}

/// Starts `n` replicas sharing `urls` under one key.
#[allow(dead_code, reason = "each test binary uses part of this fixture")]
pub async fn replicas(
    n: usize,
    idp: &FakeIdp,
    up: &RecordingUpstream,
    urls: &[String],
    key: &Path,
) -> Vec<Spawned> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(replica(idp, up, &cluster_toml(urls, key, "")).await);
    }
    out
}

/// The admin address of a replica.
pub fn admin(r: &Spawned) -> SocketAddr {
    r.admin.expect("the replica reports its admin listener")
}

/// `GET /status` of a replica.
pub async fn status(r: &Spawned) -> Value {
    send_to(admin(r), "GET", "/status", &[], Bytes::new())
        .await
        .json()
}

/// The text of `/metrics`.
#[allow(dead_code, reason = "each test binary uses part of this fixture")]
pub async fn metrics(r: &Spawned) -> String {
    let res = send_to(admin(r), "GET", "/metrics", &[], Bytes::new()).await;
    String::from_utf8(res.body.to_vec()).unwrap()
}

/// One sample of the exposition (0 when absent).
pub fn sample(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(name_and_labels)
                .and_then(|rest| rest.strip_prefix(' '))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0.0)
}

/// Waits (up to 15 s) until the replica's `/status` says it shares
/// (`true`) or serves alone (`false`).
pub async fn wait_connected(r: &Spawned, want: bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let s = status(r).await;
        if s["cluster"]["connected"] == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "cluster never became connected={want}: {s}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `f` holds for the replica's metrics, at most `within`;
/// returns how long it took.
#[allow(dead_code, reason = "each test binary uses part of this fixture")]
pub async fn wait_metric(r: &Spawned, within: Duration, f: impl Fn(&str) -> bool) -> Duration {
    let start = Instant::now();
    loop {
        let m = metrics(r).await;
        if f(&m) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < within,
            "metrics never got there within {within:?}:\n{m}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `POST /cache/evict` with this JSON body: the status and the answer.
#[allow(dead_code, reason = "each test binary uses part of this fixture")]
pub async fn evict(r: &Spawned, body: Value) -> (u16, Value) {
    let res = send_to(
        admin(r),
        "POST",
        "/cache/evict",
        &[("content-type", "application/json")],
        Bytes::from(body.to_string()),
    )
    .await;
    (res.status, res.json())
}
