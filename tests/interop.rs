//! Interoperability with a real OpenID provider that no one here wrote:
//! panva's `oidc-provider` from the npm registry (tests/interop/provider.mjs),
//! on 127.0.0.1. Through restgate: a client-credentials token validated by
//! introspection maps to the service account; a JWT access token validated by
//! `kind = "oidc"` discovery + JWKS maps to its user; a revoked token is refused
//! once its cache entry ends; a key rotation at the provider is followed.

// The path says where rustc looks anyway; without it rustfmt, seeing
// tests/interop/, would look there.
#[path = "common"]
mod common {
    pub mod client;
    pub mod gateway;
    pub mod npm;
    pub mod upstream;
}

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::gateway::*;
use common::upstream::*;

/// The provider process; it exits when its stdin closes (on drop).
struct OpenIdProvider {
    child: Child,
    issuer: String,
    /// Kept open: the provider dies of EPIPE if its stdout closes.
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Drop for OpenIdProvider {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

fn start_provider() -> OpenIdProvider {
    common::npm::ensure(
        &interop_dir(),
        "oidc-provider",
        "the interoperability suite",
    );
    let mut child = Command::new("node")
        .arg("provider.mjs")
        .current_dir(interop_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node starts");
    let mut line = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut line).unwrap();
    let ready: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("provider said {line:?}"));
    OpenIdProvider {
        child,
        issuer: ready["issuer"].as_str().unwrap().to_owned(),
        _stdout: stdout,
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

/// A token by the client-credentials grant, optionally for a resource (JWT).
async fn client_credentials(
    op: &OpenIdProvider,
    id: &str,
    secret: &str,
    resource: Option<&str>,
) -> String {
    let mut form = vec![("grant_type", "client_credentials"), ("scope", "read")];
    if let Some(r) = resource {
        form.push(("resource", r));
    }
    let res = http()
        .post(format!("{}/token", op.issuer))
        .basic_auth(id, Some(secret))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    res.json::<serde_json::Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn control(op: &OpenIdProvider, path: &str) -> String {
    let res = http()
        .get(format!("{}{path}", op.issuer))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restgate_works_with_a_real_openid_provider() {
    let op = tokio::task::spawn_blocking(start_provider).await.unwrap();
    let up = RecordingUpstream::start().await;
    let toml = format!(
        r#"
[upstream]
url = "http://{}"
[cache]
ttl = "1s"
[providers.op]
kind = "oidc"
issuer = "{}"
audience = "api://restgate"
client_id = "restgate"
client_secret_file = "{{secret_file}}"
service_account = "svc-default"
[providers.op.client_accounts]
"ci-runner" = "svc-ci"
"#,
        up.addr, op.issuer
    );
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("op_secret");
    std::fs::write(&secret, "restgate-secret").unwrap();
    let gw =
        TestGateway::start(&toml.replace("{secret_file}", &secret.display().to_string())).await;
    let user = |res: TestResponse| {
        assert_eq!(res.status, 200, "{:?}", res.body);
        up.last().header("x-forwarded-user").unwrap()
    };

    // 1. An opaque client-credentials token, introspected: the CI job's account.
    let cc = client_credentials(&op, "ci-runner", "ci-secret", None).await;
    assert_eq!(user(gw.bearer("/rest/api/2/myself", &cc).await), "svc-ci");

    // 2. A user's JWT access token, checked locally with the discovered keys.
    let alice = control(&op, "/test/mint?user=alice").await;
    assert_eq!(alice.split('.').count(), 3, "a JWT access token");
    assert_eq!(user(gw.bearer("/rest/api/2/myself", &alice).await), "alice");

    // 3. A client-credentials JWT for the API: the client, not a user.
    let cc_jwt = client_credentials(&op, "ci-runner", "ci-secret", Some("api://restgate")).await;
    assert_eq!(cc_jwt.split('.').count(), 3);
    assert_eq!(
        user(gw.bearer("/rest/api/2/myself", &cc_jwt).await),
        "svc-ci"
    );

    // 4. Revocation is seen once the cache entry ends.
    let res = http()
        .post(format!("{}/token/revocation", op.issuer))
        .basic_auth("ci-runner", Some("ci-secret"))
        .form(&[("token", cc.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let res = gw.bearer("/rest/api/2/myself", &cc).await;
    assert_eq!(res.status, 401, "revoked at the provider");
    assert_eq!(res.error(), "invalid_token");

    // 5. Key rotation: the provider signs with a key restgate has not seen.
    let kid = control(&op, "/test/rotate").await;
    let bob = control(&op, "/test/mint?user=bob").await;
    let header: serde_json::Value = {
        use base64::Engine;
        let h = bob.split('.').next().unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(h)
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(header["kid"], kid.as_str(), "signed with the new key");
    assert_eq!(user(gw.bearer("/rest/api/2/myself", &bob).await), "bob");
}
