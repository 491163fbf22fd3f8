//! A proxy loop is stopped at once: restgate names itself in `Via`, refuses
//! with 508 a request that already carries its name, and `check` refuses an
//! upstream that is its own listener.

mod common {
    pub mod client;
    pub mod gateway;
    pub mod idp;
    pub mod setup;
    pub mod upstream;
}

use common::gateway::TestGateway;
use common::idp::FakeIdp;
use common::setup::config;
use common::upstream::RecordingUpstream;

#[tokio::test]
async fn a_forwarded_request_names_restgate_in_via_after_the_proxies_before_it() {
    let (idp, up) = (FakeIdp::start().await, RecordingUpstream::start().await);
    let gw = TestGateway::start(&config(&idp, &up, "")).await;
    idp.add_user("tok-via", "alice");
    let res = gw
        .send(
            "GET",
            "/rest/api/2/myself",
            &[("authorization", "Bearer tok-via"), ("via", "1.1 lb")],
        )
        .await;
    assert_eq!(res.status, 200);
    let via = up.last().header("via").unwrap();
    assert!(via.starts_with("1.1 lb, 1.1 restgate-"), "{via}");
}

#[tokio::test]
async fn a_request_that_comes_back_gets_508_and_goes_no_further() {
    let (idp, up) = (FakeIdp::start().await, RecordingUpstream::start().await);
    // B forwards to the product; A (this same process) forwards to B: a
    // request through A reaches B carrying this process's name.
    let b = TestGateway::start(&config(&idp, &up, "")).await;
    let a_toml = config(&idp, &up, "").replace(
        &format!("http://{}", up.addr),
        &format!("http://{}", b.addr),
    );
    let a = TestGateway::start(&a_toml).await;
    let res = a.get("/secure/Dashboard.jspa", &[]).await;
    assert_eq!(res.status, 508);
    assert_eq!(res.error(), "loop_detected");
    assert_eq!(up.count(), 0, "the product never saw it");
}

#[test]
fn check_refuses_an_upstream_that_is_restgate_itself() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("s");
    std::fs::write(&secret, "x\n").unwrap();
    for (listen, url, looping) in [
        ("0.0.0.0:8080", "http://127.0.0.1:8080", true),
        ("0.0.0.0:8080", "http://localhost:8080", true),
        ("127.0.0.1:9000", "http://127.0.0.1:9000", true),
        ("0.0.0.0:8080", "http://127.0.0.1:8090", false),
        ("0.0.0.0:8080", "http://jira:8080", false),
        ("10.0.0.5:8080", "http://127.0.0.1:8080", false),
    ] {
        let toml = format!(
            r#"[server]
listen = "{listen}"
[upstream]
url = "{url}"
[auth]
providers = ["p"]
[providers.p]
kind = "custom"
validation = "introspection"
introspection_endpoint = "http://127.0.0.1:1/i"
client_id = "c"
client_secret_file = {secret:?}
username_attribute = "u"
"#,
            secret = secret.display().to_string()
        );
        let path = dir.path().join("rg.toml");
        std::fs::write(&path, toml).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_restgate"))
            .args(["check", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stderr);
        assert_eq!(!out.status.success(), looping, "{listen} → {url}: {text}");
        if looping {
            assert!(
                text.contains("rg.toml:4: upstream.url") && text.contains("loop"),
                "{text}"
            );
        }
    }
}
