//! `restgate fetch-token --provider P`: get a token by the client-credentials
//! grant, validate it as `serve` would, and end with a one-line verdict.
//! Exit 0 OK, 1 refused or misconfigured, 2 the provider could not be reached.

use std::io::IsTerminal;

use std::process::ExitCode;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::inspect;
use super::shared::{EXIT_INVALID, EXIT_RUNTIME};
use crate::config::{ClientAuth, Config, Provider, Validation};

/// Options of `fetch-token`.
#[derive(Debug, clap::Args)]
pub struct FetchTokenArgs {
    /// The config file.
    #[command(flatten)]
    pub path: super::shared::ConfigPath,
    /// The provider whose token endpoint to ask.
    #[arg(long)]
    pub provider: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// A failure, and whether it is the network's (2) or the setup's (1).
struct Failed {
    message: String,
    runtime: bool,
}

fn failed(message: impl Into<String>, runtime: bool) -> Failed {
    Failed {
        message: message.into(),
        runtime,
    }
}

/// Runs `fetch-token`.
pub fn run(args: &FetchTokenArgs) -> ExitCode {
    let config = match crate::config::load(&args.path.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let runtime = match super::shared::runtime(false) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let outcome = runtime.block_on(fetch_and_check(&config, &args.provider));
    let (line, code, report) = match outcome {
        Ok((report, expires)) if report.accepted() => {
            let p = report
                .principal
                .as_ref()
                .expect("accepted reports have a principal");
            let kind = if p.client_credentials {
                "client credentials"
            } else {
                "a user's token"
            };
            let exp = expires
                .map(|s| format!(", expires in {s}s"))
                .unwrap_or_default();
            (
                format!("OK: token accepted as {} ({kind}{exp})", p.user),
                ExitCode::SUCCESS,
                Some(report),
            )
        }
        Ok((report, _)) => {
            let code = if report.decision == "error" {
                EXIT_RUNTIME
            } else {
                EXIT_INVALID
            };
            (
                format!(
                    "FAILED: the provider issued a token but it is not accepted: {}",
                    report.reason
                ),
                ExitCode::from(code),
                Some(report),
            )
        }
        Err(f) => (
            format!("FAILED: {}", f.message),
            ExitCode::from(if f.runtime {
                EXIT_RUNTIME
            } else {
                EXIT_INVALID
            }),
            None,
        ),
    };
    if args.json {
        let mut v = serde_json::json!({"verdict": line});
        if let Some(r) = &report {
            v["report"] = inspect::to_json(r);
        }
        println!("{v}");
    } else {
        if let Some(r) = &report {
            print!(
                "{}",
                inspect::to_text(r, &config, std::io::stdout().is_terminal())
            );
        }
        println!("{line}");
    }
    code
}

async fn fetch_and_check(
    config: &Config,
    name: &str,
) -> Result<(inspect::Report, Option<u64>), Failed> {
    let providers = crate::providers::ProviderSet::new(config);
    let client = providers
        .get(name)
        .ok_or_else(|| failed(format!("no provider named {name:?}"), false))?;
    let endpoint = client
        .token_endpoint()
        .await
        .map_err(|e| failed(format!("discovery: {e}"), true))?
        .ok_or_else(|| {
            failed(
                format!("provider {name} has no token endpoint: set token_endpoint"),
                false,
            )
        })?;
    let (token, expires) = grant(&client.config, &endpoint).await?;
    let report = inspect::evaluate(config, &providers, &token, false, None).await;
    Ok((report, expires))
}

/// The client-credentials grant (RFC 6749 §4.4) with restgate's own client.
async fn grant(p: &Provider, endpoint: &reqwest::Url) -> Result<(String, Option<u64>), Failed> {
    let (id, secret) = p.own_credentials();
    if id.is_empty() || secret.is_empty() {
        return Err(failed(
            format!(
                "provider {} needs client_id and a client secret for the grant",
                p.name
            ),
            false,
        ));
    }
    let auth = match &p.validation {
        Validation::Introspection { client_auth, .. } => *client_auth,
        Validation::Oidc(o) => o.client_auth,
        _ => ClientAuth::ClientSecretBasic,
    };
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(scope) = &p.scope {
        form.push(("scope", scope));
    }
    let mut req = crate::providers::http_client()
        .post(endpoint.clone())
        .timeout(p.timeout.max(Duration::from_secs(5)));
    match auth {
        ClientAuth::ClientSecretBasic => {
            let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            req = req.header(
                "authorization",
                format!(
                    "Basic {}",
                    STANDARD.encode(format!("{}:{}", enc(id), enc(secret)))
                ),
            );
        }
        ClientAuth::ClientSecretPost => {
            form.push(("client_id", id));
            form.push(("client_secret", secret));
        }
    }
    let res = req.form(&form).send().await.map_err(|e| {
        failed(
            format!("token endpoint {endpoint} unreachable: {}", e.without_url()),
            true,
        )
    })?;
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    if status != 200 {
        let err = body
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("no error code");
        let desc = body
            .get("error_description")
            .and_then(Value::as_str)
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        return Err(failed(
            format!("token endpoint answered HTTP {status}: {err}{desc}"),
            status >= 500,
        ));
    }
    let token = body
        .get("access_token")
        .and_then(Value::as_str)
        .ok_or_else(|| failed("the token endpoint's answer has no access_token", true))?;
    Ok((
        token.to_owned(),
        body.get("expires_in").and_then(Value::as_u64),
    ))
}
