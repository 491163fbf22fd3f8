//! The usual world: the fake provider as the one introspection provider,
//! the recording upstream, and a gateway over them.

use super::client::CLIENT_ID;
use super::gateway::TestGateway;
use super::idp::FakeIdp;
use super::upstream::RecordingUpstream;

/// A config with one introspection provider `idp` and the upstream.
pub fn config(idp: &FakeIdp, upstream: &RecordingUpstream, extra: &str) -> String {
    format!(
        r#"
[upstream]
url = "http://{up}"

[auth]
providers = ["idp"]

[providers.idp]
kind = "custom"
validation = "introspection"
introspection_endpoint = "{intro}"
client_id = "{CLIENT_ID}"
client_secret_file = "{{secret_file}}"
username_attribute = "username"
service_account = "svc-rest"
timeout = "2s"
{extra}
"#,
        up = upstream.addr,
        intro = idp.url("/introspect"),
    )
}

/// Fake IdP, recording upstream and a gateway over them.
#[allow(dead_code, reason = "some test binaries build their own gateway")]
pub async fn setup(extra: &str) -> (FakeIdp, RecordingUpstream, TestGateway) {
    let idp = FakeIdp::start().await;
    let up = RecordingUpstream::start().await;
    let gw = TestGateway::start(&config(&idp, &up, extra)).await;
    (idp, up, gw)
}

/// [`setup`] with `server` as the lines of the `[server]` table.
#[allow(dead_code, reason = "only the server tests set `[server]`")]
pub async fn setup_server(server: &str) -> (FakeIdp, RecordingUpstream, TestGateway) {
    setup(&format!("[server]\n{server}\n")).await
}
