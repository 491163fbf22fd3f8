//! `restgate discover ISSUER`: read the issuer's discovery document and print a
//! ready `[providers.NAME]` block.

use std::fmt::Write;
use std::process::ExitCode;

use super::shared::{EXIT_INVALID, EXIT_RUNTIME};
use crate::providers::oidc::{Endpoints, parse_document};

/// Options of `discover`.
#[derive(Debug, clap::Args)]
pub struct DiscoverArgs {
    /// The issuer URL (e.g. https://keycloak.example.com/realms/corp).
    pub issuer: String,
    /// The provider's name in the printed block.
    #[arg(long, default_value = "corp")]
    pub name: String,
}

/// Fetches the document and prints the block (exit 0), or says what failed.
pub fn run(args: &DiscoverArgs) -> ExitCode {
    let issuer = args.issuer.trim_end_matches('/');
    let url = format!("{issuer}/.well-known/openid-configuration");
    if reqwest::Url::parse(&url)
        .map(|u| !matches!(u.scheme(), "http" | "https"))
        .unwrap_or(true)
    {
        eprintln!("{:?} is not an http(s) issuer URL", args.issuer);
        return ExitCode::from(EXIT_INVALID);
    }
    let runtime = match super::shared::runtime(false) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let doc = match runtime.block_on(fetch(&url)) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{url}: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    // The issuer as the document names it (a trailing slash matters to JWTs).
    let named = doc
        .get("issuer")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned();
    let accepted = [args.issuer.as_str(), issuer]
        .into_iter()
        .find(|i| *i == named);
    let endpoints = match accepted.map(|i| parse_document(Some(i), &doc)) {
        Some(Ok(e)) => e,
        Some(Err(e)) => {
            eprintln!("{url}: {e}");
            return ExitCode::from(EXIT_INVALID);
        }
        None => {
            eprintln!(
                "{url}: the document names the issuer {named:?}, not {:?}",
                args.issuer
            );
            return ExitCode::from(EXIT_INVALID);
        }
    };
    print!("{}", block(&args.name, &named, &url, &endpoints, &doc));
    ExitCode::SUCCESS
}

async fn fetch(url: &str) -> Result<serde_json::Value, String> {
    let res = crate::providers::http_client()
        .get(url)
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| format!("cannot fetch: {}", e.without_url()))?;
    let status = res.status();
    if !status.is_success() {
        return Err(format!("answered HTTP {}", status.as_u16()));
    }
    res.json()
        .await
        .map_err(|_| "the answer is not a JSON document".to_owned())
}

/// The provider block for a document.
fn block(name: &str, issuer: &str, url: &str, e: &Endpoints, doc: &serde_json::Value) -> String {
    let mut s = String::new();
    let list = |k: &str| {
        doc.get(k)
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_else(|| "not listed".into())
    };
    let _ = writeln!(s, "# From {url}");
    let _ = writeln!(s, "#   jwks_uri               {}", show(&e.jwks_uri));
    let _ = writeln!(s, "#   introspection_endpoint {}", show(&e.introspection));
    let _ = writeln!(s, "#   userinfo_endpoint      {}", show(&e.userinfo));
    let _ = writeln!(s, "#   token_endpoint         {}", show(&e.token));
    let _ = writeln!(
        s,
        "#   signing algorithms     {}",
        list("id_token_signing_alg_values_supported")
    );
    let _ = writeln!(s, "#   scopes                 {}", list("scopes_supported"));
    let _ = writeln!(s, "[providers.{name}]");
    let _ = writeln!(s, "kind = \"oidc\"");
    let _ = writeln!(s, "issuer = {issuer:?}");
    let _ = writeln!(
        s,
        "# The `aud` your API's access tokens carry (for JWT access tokens)."
    );
    let _ = writeln!(s, "audience = \"REPLACE-with-your-API-audience\"");
    if e.introspection.is_some() {
        let _ = writeln!(
            s,
            "# Opaque tokens are introspected with restgate's own confidential client:"
        );
        let _ = writeln!(s, "client_id = \"REPLACE-with-restgate's-client-id\"");
        let _ = writeln!(
            s,
            "client_secret_env = \"RESTGATE_{}_CLIENT_SECRET\"",
            name.to_ascii_uppercase().replace('-', "_")
        );
    }
    let _ = writeln!(
        s,
        "username_attribute = [\"preferred_username\", \"username\"]"
    );
    let _ = writeln!(s, "email_attribute = \"email\"");
    let _ = writeln!(s, "# Client-credentials tokens act as this user:");
    let _ = writeln!(s, "# service_account = \"svc-rest-api\"");
    s
}

fn show(u: &Option<reqwest::Url>) -> String {
    u.as_ref()
        .map(|u| u.to_string())
        .unwrap_or_else(|| "not listed".into())
}
