//! The admin credential: with `server.admin_token_file`, every admin endpoint
//! but `/healthz` and `/readyz` needs it as a Bearer token; `check` refuses an
//! admin listener other hosts can reach without one; the token never shows.

mod common {
    pub mod check;
    pub mod client;
    pub mod gateway;
    pub mod idp;
    pub mod setup;
    pub mod upstream;
}

use std::path::Path;

use bytes::Bytes;
use common::gateway::send_to;
use common::setup::setup_server;

const ADMIN_TOKEN: &str = "admin-token-0123456789abcdef-long";

fn check(dir: &Path, server: &str) -> (i32, String, String) {
    let cfg = dir.join("r.toml");
    std::fs::write(
        &cfg,
        format!("[server]\n{server}\n[upstream]\nurl = \"http://127.0.0.1:8090\"\n"),
    )
    .unwrap();
    common::check::run(&cfg, &[], common::check::Env::Inherit(&[])).parts()
}

#[test]
fn check_refuses_an_admin_listener_off_loopback_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = check(dir.path(), "admin_listen = \"0.0.0.0:9901\"");
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr
            .contains("r.toml:2: server.admin_listen: 0.0.0.0:9901 is reachable from other hosts")
            && stderr.contains("server.admin_token_file"),
        "{stderr}"
    );
    // With a token file it is accepted, and the token is not shown.
    let token = dir.path().join("admin.token");
    std::fs::write(&token, format!("{ADMIN_TOKEN}\n")).unwrap();
    let with = format!(
        "admin_listen = \"0.0.0.0:9901\"\nadmin_token_file = \"{}\"",
        token.display()
    );
    let (code, stdout, stderr) = check(dir.path(), &with);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("admin           0.0.0.0:9901 (admin token <redacted> required"),
        "{stdout}"
    );
    assert!(!stdout.contains(ADMIN_TOKEN) && !stderr.contains(ADMIN_TOKEN));
    // A short token is refused, and not repeated.
    std::fs::write(&token, "short\n").unwrap();
    let (code, _, stderr) = check(dir.path(), &with);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("server.admin_token_file: the token is too short"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("short\n") || !stderr.contains(": short"),
        "{stderr}"
    );
    // Loopback without a token is the default and fine.
    let (code, stdout, _) = check(dir.path(), "admin_listen = \"127.0.0.1:9901\"");
    assert_eq!(code, 0);
    assert!(stdout.contains("no admin token: loopback only"), "{stdout}");
}

#[tokio::test]
async fn with_a_token_every_admin_endpoint_but_health_needs_it() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("admin.token");
    std::fs::write(&token, format!("{ADMIN_TOKEN}\n")).unwrap();
    let (_idp, _up, gw) =
        setup_server(&format!("admin_token_file = \"{}\"", token.display())).await;
    let good = format!("Bearer {ADMIN_TOKEN}");
    let wrong = format!("Bearer {ADMIN_TOKEN}x");
    let basic = "Basic YWRtaW46YWRtaW4=".to_owned();
    let evict = Bytes::from_static(br#"{"user":"alice"}"#);
    for path in ["/healthz", "/readyz"] {
        let r = send_to(gw.admin, "GET", path, &[], Bytes::new()).await;
        assert_eq!(r.status, 200, "{path} stays open for probes");
    }
    let closed: [(&str, &str, Bytes); 3] = [
        ("GET", "/status", Bytes::new()),
        ("GET", "/metrics", Bytes::new()),
        ("POST", "/cache/evict", evict),
    ];
    for (method, path, body) in closed {
        for header in [None, Some(&wrong), Some(&basic)] {
            let headers: Vec<(&str, &str)> = header
                .iter()
                .map(|h| ("authorization", h.as_str()))
                .collect();
            let r = send_to(gw.admin, method, path, &headers, body.clone()).await;
            assert_eq!(r.status, 401, "{method} {path} with {header:?}");
            assert!(
                r.headers
                    .get("www-authenticate")
                    .is_some_and(|v| v.to_str().unwrap().starts_with("Bearer")),
                "{path}"
            );
            let text = String::from_utf8_lossy(&r.body);
            assert!(!text.contains(ADMIN_TOKEN), "{text}");
        }
        let r = send_to(
            gw.admin,
            method,
            path,
            &[
                ("authorization", &good),
                ("content-type", "application/json"),
            ],
            body,
        )
        .await;
        assert_eq!(r.status, 200, "{method} {path}: {:?}", r.body);
        assert!(!String::from_utf8_lossy(&r.body).contains(ADMIN_TOKEN));
    }
}

#[tokio::test]
async fn without_a_token_the_loopback_admin_listener_stays_open() {
    let (_idp, _up, gw) = setup_server("").await;
    let r = send_to(gw.admin, "GET", "/status", &[], Bytes::new()).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn probes_answer_head_and_a_wrong_method_says_what_is_allowed() {
    let (_idp, _up, gw) = setup_server("").await;
    for path in ["/healthz", "/readyz"] {
        let r = send_to(gw.admin, "HEAD", path, &[], Bytes::new()).await;
        assert_eq!(r.status, 200, "{path}");
        let r = send_to(gw.admin, "POST", path, &[], Bytes::new()).await;
        assert_eq!(r.status, 405, "{path}");
        assert_eq!(r.headers.get("allow").unwrap(), "GET, HEAD");
    }
    let r = send_to(gw.admin, "GET", "/cache/evict", &[], Bytes::new()).await;
    assert_eq!(r.headers.get("allow").unwrap(), "POST");
}

#[test]
fn check_refuses_an_admin_token_with_surrounding_spaces() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("admin.token");
    std::fs::write(&token, format!(" {ADMIN_TOKEN}\n")).unwrap();
    let server = format!("admin_token_file = \"{}\"", token.display());
    let (code, _, stderr) = check(dir.path(), &server);
    assert_eq!(code, 1);
    assert!(stderr.contains("starts or ends with a space"), "{stderr}");
    assert!(!stderr.contains(ADMIN_TOKEN));
}
