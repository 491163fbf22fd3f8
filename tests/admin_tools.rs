//! The admin's token tools: `test-token` and `fetch-token` against a fake
//! provider; exit codes, output, and the token never echoed back.

mod common {
    pub mod client;
    pub mod idp;
    pub mod keys;
}

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::client::*;
use common::idp::*;
use common::keys::*;
use serde_json::json;

/// Writes a config for the fake provider and returns (dir, config path).
fn config_file(idp: &FakeIdp, extra: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secret"), CLIENT_SECRET).unwrap();
    let text = format!(
        "[upstream]\nurl = \"http://127.0.0.1:9\"\n[providers.idp]\nkind = \"custom\"\nvalidation = \"introspection\"\n\
         introspection_endpoint = \"{}\"\ntoken_endpoint = \"{}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret_file = \"secret\"\n\
         username_attribute = \"username\"\nemail_attribute = \"email\"\nservice_account = \"svc-rest-api\"\nscope = \"read\"\n{extra}",
        idp.url("/introspect"),
        idp.url("/token"),
    );
    let path = dir.path().join("restgate.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// Runs restgate with arguments and optional standard input, off the runtime.
async fn restgate(args: Vec<String>, stdin: Option<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_restgate"))
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
        drop(input);
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

const TOKEN: &str = "tok-SECRET-alice-77f3a9";

#[tokio::test]
async fn test_token_shows_the_answer_the_attributes_and_the_decision() {
    let idp = FakeIdp::start().await;
    idp.add_token(TOKEN, json!({"username": "alice", "email": "alice@corp.example", "scope": "read write",
        "client_id": "cli-app", "sub": "0c1f", "ext": {"upn": "alice@corp"}, "echo": TOKEN, "exp": now() + 600}));
    let (_dir, cfg) = config_file(&idp, "");
    let cfg = cfg.display().to_string();
    let out = restgate(args(&["test-token", "--config", &cfg, TOKEN]), None).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("\"username\": \"alice\""),
        "the raw answer, pretty-printed:\n{stdout}"
    );
    assert!(
        stdout.contains("ext.upn") && stdout.contains("alice@corp"),
        "nested attributes are candidates:\n{stdout}"
    );
    assert!(stdout.contains("← username_attribute"), "{stdout}");
    assert!(
        stdout.contains("Identity: alice") && stdout.contains("client credentials: no"),
        "{stdout}"
    );
    assert!(stdout.contains("Decision: ACCEPTED"), "{stdout}");
    assert!(
        !stdout.contains(TOKEN) && !String::from_utf8_lossy(&out.stderr).contains(TOKEN),
        "the token is never echoed"
    );

    // From standard input, as JSON.
    let out = restgate(
        args(&["test-token", "--config", &cfg, "--json", "-"]),
        Some(format!("{TOKEN}\n")),
    )
    .await;
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["decision"], "accepted");
    assert_eq!(v["identity"]["user"], "alice");
    assert_eq!(v["providers"][0]["answer"]["echo"], "<the token>");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(TOKEN));
}

#[tokio::test]
async fn test_token_exit_codes_say_accepted_refused_or_unavailable() {
    let idp = FakeIdp::start().await;
    idp.add_token("tok-cc", json!({"client_id": "batch", "sub": "batch"}));
    let (_dir, cfg) = config_file(&idp, "");
    let cfg = cfg.display().to_string();
    let out = restgate(args(&["test-token", "--config", &cfg, "tok-cc"]), None).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("Identity: svc-rest-api") && stdout.contains("client credentials: yes"),
        "{stdout}"
    );
    let out = restgate(
        args(&["test-token", "--config", &cfg, "tok-never-issued"]),
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("Decision: REFUSED: 401 invalid_token: inactive")
    );
    idp.set_mode(Mode::Status(500));
    let out = restgate(args(&["test-token", "--config", &cfg, "tok-cc"]), None).await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Decision: ERROR: 503"));
}

#[tokio::test]
async fn check_and_test_token_say_where_a_token_goes_before_it_goes_anywhere() {
    let idp = FakeIdp::start().await;
    idp.add_user("idp_tok-routed-5e1c", "erin");
    let (_dir, cfg) = config_file(
        &idp,
        "issuer = \"https://idp.example/realms/corp\"\ntoken_prefixes = [\"idp_\"]\n",
    );
    let cfg = cfg.display().to_string();
    let out = restgate(args(&["check", "--config", &cfg]), None).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    for line in [
        "JWT iss \"https://idp.example/realms/corp\" -> idp",
        "token prefix \"idp_\" -> idp",
        "JWT of any other issuer -> none: refused (401) without a provider call",
        // A provider with prefixes takes no token without one.
        "any other opaque token, in order -> none: refused (401) without a provider call",
    ] {
        assert!(stdout.contains(line), "{line:?} in\n{stdout}");
    }

    let test_token =
        |token: String| restgate(args(&["test-token", "--config", &cfg, &token]), None);
    let ours = sign(
        "rsa1",
        "k1",
        &json!({"iss": "https://idp.example/realms/corp", "sub": "x", "exp": now() + 600}),
    );
    let out = test_token(ours).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(
            "Routed to: idp: its issuer is the token's iss \"https://idp.example/realms/corp\""
        ),
        "{stdout}"
    );
    assert_eq!(idp.calls(), 1, "introspected by its issuer's provider");

    let stranger = sign(
        "rsa1",
        "k1",
        &json!({"iss": "https://elsewhere.example", "sub": "x", "exp": now() + 600}),
    );
    let out = test_token(stranger).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("a JWT of no configured issuer (iss \"https://elsewhere.example\")")
            && stdout.contains("Decision: REFUSED: 401 invalid_token: no_provider"),
        "{stdout}"
    );
    let out = test_token("plain-opaque-9c8b".into()).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(
            "Routed to: an opaque token, and no provider in auth.providers checks opaque tokens"
        ),
        "{stdout}"
    );
    assert_eq!(idp.calls(), 1, "neither reached the provider");

    let out = test_token("idp_tok-routed-5e1c".into()).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("Routed to: idp: the token starts with its prefix \"idp_\""),
        "{stdout}"
    );
    let out = restgate(
        args(&[
            "test-token",
            "--json",
            "--config",
            &cfg,
            "idp_tok-routed-5e1c",
        ]),
        None,
    )
    .await;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["route"]
            .as_str()
            .unwrap()
            .starts_with("idp: the token starts")
    );
}

#[tokio::test]
async fn fetch_token_success_bad_secret_and_provider_down_each_end_with_a_verdict() {
    let idp = FakeIdp::start().await;
    let (dir, cfg) = config_file(&idp, "");
    let path = cfg.display().to_string();
    let out = restgate(
        args(&["fetch-token", "--config", &path, "--provider", "idp"]),
        None,
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let verdict = stdout.lines().last().unwrap();
    assert!(
        verdict.starts_with("OK: token accepted as svc-rest-api (client credentials, expires in "),
        "{verdict}"
    );
    assert!(
        !stdout.contains("cc-token-"),
        "the fetched token is never printed"
    );

    // A wrong client secret: the token endpoint's own error.
    std::fs::write(dir.path().join("secret"), "not-the-secret").unwrap();
    let out = restgate(
        args(&["fetch-token", "--config", &path, "--provider", "idp"]),
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.trim(),
        "FAILED: token endpoint answered HTTP 401: invalid_client (Client authentication failed)"
    );
    assert!(!stdout.contains("not-the-secret"));

    // The provider down.
    std::fs::write(dir.path().join("secret"), CLIENT_SECRET).unwrap();
    idp.set_mode(Mode::Status(503));
    let out = restgate(
        args(&[
            "fetch-token",
            "--config",
            &path,
            "--provider",
            "idp",
            "--json",
        ]),
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["verdict"],
        "FAILED: token endpoint answered HTTP 503: server_error"
    );
    // Unreachable altogether.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace(&idp.addr.to_string(), &dead.to_string());
    std::fs::write(&cfg, text).unwrap();
    let out = restgate(
        args(&["fetch-token", "--config", &path, "--provider", "idp"]),
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("FAILED: token endpoint http://"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
