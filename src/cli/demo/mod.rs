//! `restgate demo`: the zero-setup first run. A built-in example provider and a
//! built-in mock Jira on loopback, the real gateway in front, and `curl` lines
//! to try, each with the answer to expect.

mod servers;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use super::shared::EXIT_RUNTIME;
use crate::server::{Server, shutdown_signal};
use crate::telemetry::{LogFormat, init_tracing};

/// Options of `demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Where restgate listens.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
}

/// Secrets of the demo: they protect nothing but the demo.
pub const GATEWAY_SECRET: &str = "demo-gateway-secret";
/// The CI client's secret at the demo provider.
pub const CI_SECRET: &str = "demo-ci-secret";
/// The shared secret the mock Jira requires with the identity header.
pub const JIRA_SECRET: &str = "demo-jira-shared-secret";

/// Runs the demo until Ctrl-C.
pub fn run(args: &DemoArgs) -> ExitCode {
    let _log = init_tracing(LogFormat::Text);
    let runtime = match super::shared::runtime(true) {
        Ok(r) => r,
        Err(code) => return code,
    };
    runtime.block_on(async {
        match demo(args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("restgate demo: {e}");
                ExitCode::from(EXIT_RUNTIME)
            }
        }
    })
}

async fn demo(args: &DemoArgs) -> Result<(), String> {
    let idp = servers::start_provider()
        .await
        .map_err(|e| format!("cannot start the example provider: {e}"))?;
    let jira = servers::start_jira()
        .await
        .map_err(|e| format!("cannot start the mock Jira: {e}"))?;
    let dir = TempDir::new().map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    std::fs::write(dir.0.join("client_secret"), GATEWAY_SECRET).map_err(|e| e.to_string())?;
    std::fs::write(dir.0.join("jira_secret"), JIRA_SECRET).map_err(|e| e.to_string())?;
    let api_key = super::key::new_key("rgk_");
    let toml = config_text(args.listen, idp.addr, jira, &api_key);
    // The config is written beside its secret files, so that `test-token`
    // and `fetch-token` can be tried against the running demo; the folder
    // stays until the demo exits.
    let config_file = dir.0.join("restgate.toml");
    std::fs::write(&config_file, &toml).map_err(|e| e.to_string())?;
    let config = crate::config::load(&config_file)
        .map_err(|e| format!("the demo config is invalid:\n{e}"))?;
    let server = Server::bind(Arc::new(config)).await.map_err(|e| {
        format!(
            "cannot listen on {}: {e} (try --listen 127.0.0.1:0)",
            args.listen
        )
    })?;
    let addr = server.local_addr().map_err(|e| e.to_string())?;
    let cc_token = idp.mint_client_token("demo-ci");
    let places = Places {
        gw: addr,
        admin: server.admin_addr(),
        idp: idp.addr,
        jira,
        config: config_file,
        exe: std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "restgate".into()),
    };
    print!("{}", banner(&places, &api_key, &cc_token, &toml));
    use std::io::Write;
    let _ = std::io::stdout().flush();
    server.run(shutdown_signal()).await;
    println!("restgate demo stopped.");
    Ok(())
}

/// The demo's config, printed so the user can see what makes it work.
fn config_text(listen: SocketAddr, idp: SocketAddr, jira: SocketAddr, api_key: &str) -> String {
    format!(
        r#"[server]
listen = "{listen}"
admin_listen = "127.0.0.1:0"
shutdown_timeout = "5s"

[upstream]
url = "http://{jira}"
identity_header = "X-Forwarded-User"
email_header = "X-Forwarded-Email"
shared_secret_header = "X-Restgate-Secret"
shared_secret_file = "jira_secret"

[auth]
protected_paths = ["/rest/"]

[cache]
ttl = "1m"

[providers.demo]
kind = "custom"
validation = "introspection"
introspection_endpoint = "http://{idp}/introspect"
token_endpoint = "http://{idp}/token"
client_id = "demo-gateway"
client_secret_file = "client_secret"
username_attribute = "username"
service_account = "svc-rest-api"

[providers.demo.client_accounts]
"demo-ci" = "svc-ci"

{}"#,
        super::key::block("demo-key", "api-bot", &super::key::digest(api_key), None)
    )
}

/// Where the demo's parts are.
struct Places {
    gw: SocketAddr,
    admin: Option<SocketAddr>,
    idp: SocketAddr,
    jira: SocketAddr,
    config: PathBuf,
    /// This program, as the lines to paste must name it.
    exe: String,
}

fn banner(at: &Places, api_key: &str, cc_token: &str, toml: &str) -> String {
    let Places {
        gw, idp, jira, exe, ..
    } = at;
    let url = format!("http://{gw}/rest/api/2/myself");
    let curl = "curl -s -w '\\nHTTP %{http_code}\\n'";
    let config = at.config.display();
    let admin = match at.admin {
        Some(a) => {
            format!(
                "  admin console      http://{a}/   (also /status, /metrics, /healthz, /readyz)\n"
            )
        }
        None => String::new(),
    };
    format!(
        "restgate demo: an example identity provider, a mock Jira and restgate, all on 127.0.0.1.

  identity provider  http://{idp}   (RFC 7662 introspection, userinfo, client-credentials token endpoint)
  mock Jira          http://{jira}   (trusts X-Forwarded-User only with restgate's shared secret)
  restgate           http://{gw}
{admin}  config             {config}   (with its secret files; removed when the demo stops)

The config restgate runs with:

{toml}
Try these. Each prints Jira's answer (or restgate's) and the HTTP status.

# 1. A user's access token: restgate asks the provider, Jira answers as alice.
{curl} -H 'Authorization: Bearer {user_token}' {url}
#    expect: HTTP 200 \"name\":\"alice\"

# 2. A client-credentials token (no user): it acts as the CI job's account.
{curl} -H 'Authorization: Bearer {cc_token}' {url}
#    expect: HTTP 200 \"name\":\"svc-ci\"

# 3. An API key made for this demo (restgate key generate makes them).
{curl} -H 'X-API-Key: {api_key}' {url}
#    expect: HTTP 200 \"name\":\"api-bot\"

# 4. A token the provider does not know.
{curl} -H 'Authorization: Bearer not-a-real-token' {url}
#    expect: HTTP 401 \"error\":\"invalid_token\"

# 5. A spoofed identity header and no credential: restgate removes the header.
{curl} -H 'X-Forwarded-User: admin' {url}
#    expect: HTTP 401 \"error\":\"unauthorized\"

# 6. A spoofed header beside a real token: Jira still sees alice, not admin.
{curl} -H 'X-Forwarded-User: admin' -H 'Authorization: Bearer {user_token}' {url}
#    expect: HTTP 200 \"name\":\"alice\"

The admin's tools, against this demo (from another terminal while it runs):

# What the provider answers for alice's token, every attribute and the decision.
{exe} test-token --config {config} {user_token}
#    expect: exit 0 ACCEPTED: acts as alice

# A client-credentials token fetched with restgate's own client, then validated.
{exe} fetch-token --config {config} --provider demo
#    expect: exit 0 OK: token accepted as svc-rest-api

# A new token for the CI job's client, straight from the provider's token endpoint:
#    curl -s -u demo-ci:{ci_secret} -d grant_type=client_credentials http://{idp}/token

Press Ctrl-C to stop.
",
        user_token = servers::ALICE_TOKEN,
        ci_secret = CI_SECRET,
    )
}

/// A directory removed when the demo ends.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> std::io::Result<Self> {
        let suffix: u64 = rand::random();
        let dir = std::env::temp_dir().join(format!("restgate-demo-{suffix:016x}"));
        std::fs::create_dir(&dir)?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
