//! `restgate check`: validate the config and show what it resolves to.

use std::fmt::Write;
use std::process::ExitCode;

use super::shared::{ConfigArgs, EXIT_INVALID};
use crate::config::{Cluster, Config, Directory, IdentityMode, Validation};

/// Options of `check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The config file.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Check everything but the secrets: secret variables and files, the
    /// cluster key and the OAuth private key are not read (for trying a
    /// config on a machine that does not hold them).
    #[arg(long)]
    pub skip_secrets: bool,
}

/// Prints every error (exit 1) or the resolved config with secrets redacted.
pub fn run(check: &CheckArgs) -> ExitCode {
    let args = &check.config;
    let loaded = if check.skip_secrets {
        crate::config::load_without_secrets(&args.path.config)
    } else {
        crate::config::load(&args.path.config)
    };
    match loaded {
        Ok(config) => {
            print!("{}", summary(&config));
            if check.skip_secrets {
                println!(
                    "secrets         not read (--skip-secrets): run `restgate check` without it where they are installed"
                );
            }
            ExitCode::SUCCESS
        }
        Err(errors) => {
            let n = errors.0.len();
            eprintln!("{errors}");
            eprintln!(
                "{n} error{} in {}",
                if n == 1 { "" } else { "s" },
                args.path.config.display()
            );
            ExitCode::from(EXIT_INVALID)
        }
    }
}

/// The resolved config in a form ops can read; never a secret.
pub fn summary(c: &Config) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{}: OK", c.source.display());
    let _ = writeln!(s, "listen          {}", c.server.listen);
    let admin_access = match &c.server.admin_token {
        Some(t) => format!("admin token {t} required but for /healthz and /readyz"),
        None => "no admin token: loopback only".to_owned(),
    };
    let _ = writeln!(
        s,
        "admin           {} ({admin_access})",
        c.server.admin_listen
    );
    let _ = writeln!(s, "upstream        {}", c.upstream.url);
    let mode = match c.upstream.identity {
        IdentityMode::Header => format!("header {}", c.upstream.identity_header),
        IdentityMode::OAuth1 => "oauth1".to_owned(),
    };
    let _ = writeln!(s, "hand-off        {mode}");
    if let Some(e) = &c.upstream.email_header {
        let _ = writeln!(s, "email header    {e}");
    }
    if let Some((h, secret)) = &c.upstream.shared_secret {
        let _ = writeln!(s, "shared secret   {h}: {secret}");
    }
    let _ = writeln!(
        s,
        "auth            {}",
        if c.auth.enabled {
            "enabled"
        } else {
            "DISABLED (pass-through)"
        }
    );
    let protected: Vec<String> = c
        .auth
        .protected_paths
        .iter()
        .map(|p| p.to_string())
        .collect();
    let _ = writeln!(s, "protected       {}", protected.join(", "));
    let _ = writeln!(s, "provider order  {}", c.auth.providers.join(", "));
    for (name, p) in &c.providers {
        let how = match &p.validation {
            Validation::Introspection {
                endpoint,
                client_auth,
            } => {
                format!("introspection ({client_auth:?}) {endpoint}")
            }
            Validation::Userinfo { endpoint } => format!("userinfo {endpoint}"),
            Validation::Jwt(j) => format!(
                "jwt (iss {}, aud {}), keys {}",
                j.issuers.join(" "),
                if j.audiences.is_empty() {
                    "not checked".to_owned()
                } else {
                    j.audiences.join(" ")
                },
                j.jwks_uri
            ),
            Validation::Oidc(o) => match o.mode {
                Some(m) => format!("oidc discovery, {m:?}, from {}", o.discovery_url),
                None => format!(
                    "oidc discovery (jwt, else introspection, else userinfo), from {}",
                    o.discovery_url
                ),
            },
            Validation::Vendor(v) => format!("vendor check: {}", vendor_summary(v)),
        };
        let _ = writeln!(s, "provider {name}: kind {}, {how}", p.kind);
        if let Some(id) = &p.client_id {
            let secret = p
                .client_secret
                .as_ref()
                .map(|s| s.to_string())
                .unwrap_or_else(|| "none".into());
            let _ = writeln!(s, "  client        {id} (secret {secret})");
        }
        let attrs: Vec<&str> = p
            .mapping
            .username
            .iter()
            .map(|a| a.written.as_str())
            .collect();
        let _ = writeln!(s, "  username      {}", attrs.join(" | "));
        if let Some(sa) = &p.mapping.service_account {
            let _ = writeln!(s, "  service acct  {sa}");
        }
        for (client, user) in &p.mapping.client_accounts {
            let _ = writeln!(s, "  client acct   {client} -> {user}");
        }
        let _ = writeln!(
            s,
            "  timeout       {}",
            humantime::format_duration(p.timeout)
        );
    }
    if !c.providers.is_empty() {
        let routing = crate::providers::ProviderSet::new(c).describe_routing();
        let _ = write!(
            s,
            "routing (a token goes only where this table sends it)\n{routing}"
        );
    }
    let dir = match &c.directory {
        Directory::None => "none".to_owned(),
        Directory::Static { match_field, users } => {
            format!("static, {} entries, by {match_field:?}", users.len())
        }
        Directory::Atlassian(a) => format!(
            "{:?} user API at {}, by {:?}, admin token {}",
            a.product, a.base_url, a.match_field, a.token
        ),
    };
    let _ = writeln!(s, "directory       {dir}");
    let _ = writeln!(s, "api keys        {}", c.api_keys.len());
    let _ = writeln!(
        s,
        "cache           {} entries, ttl {}, negative {}, stale-if-error {}",
        c.cache.max_entries,
        humantime::format_duration(c.cache.ttl),
        humantime::format_duration(c.cache.negative_ttl),
        humantime::format_duration(c.cache.stale_if_error)
    );
    cluster_summary(&mut s, c.cluster.as_deref());
    limits_summary(&mut s, c);
    for r in &c.routes {
        let methods = r
            .methods
            .as_ref()
            .map(|m| m.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(","))
            .unwrap_or_else(|| "*".into());
        let _ = writeln!(
            s,
            "route {} [{methods}] {}{}{}",
            r.path,
            if r.protected {
                "protected"
            } else {
                "pass-through"
            },
            if r.require_scopes.is_empty() {
                String::new()
            } else {
                format!(", scopes {}", r.require_scopes.join(" "))
            },
            if r.allow_users.is_empty() {
                String::new()
            } else {
                format!(", users {}", r.allow_users.join(" "))
            },
        );
    }
    s
}

/// `[limits]` and the proxies whose `X-Forwarded-For` names the client.
fn limits_summary(s: &mut String, c: &Config) {
    let l = &c.limits;
    match l.per_client {
        Some(rate) => {
            let _ = writeln!(
                s,
                "limits          {rate} new tokens per client, burst {}",
                l.burst
            );
        }
        None => {
            let _ = writeln!(s, "limits          none per client");
        }
    }
    for (name, rate) in &l.providers {
        let _ = writeln!(s, "  provider {name}  at most {rate} calls");
    }
    if l.any() {
        let shared = if c.cluster.is_some() {
            "shared by every replica through [cluster]"
        } else {
            "counted by this replica alone"
        };
        let _ = writeln!(s, "  counts        {shared}");
    }
    let proxies: Vec<String> = c
        .server
        .trusted_proxies
        .iter()
        .map(ToString::to_string)
        .collect();
    let _ = writeln!(
        s,
        "trusted proxies {}",
        if proxies.is_empty() {
            "none (the client is the connection's peer)".to_owned()
        } else {
            proxies.join(", ")
        }
    );
}

/// `[cluster]`: where Redis is and what kind of deployment the URLs name;
/// the password and the key only as "set" and a length.
fn cluster_summary(s: &mut String, cluster: Option<&Cluster>) {
    let Some(c) = cluster else {
        let _ = writeln!(s, "cluster         none (this replica learns alone)");
        return;
    };
    let _ = writeln!(
        s,
        "cluster         {} ({})",
        c.redis_urls.join(", "),
        redis_deployment(&c.redis_urls)
    );
    let in_url = || {
        let first = reqwest::Url::parse(c.redis_urls.first()?).ok()?;
        let user = first.username();
        (!user.is_empty()).then(|| format!("{user} (in the URL)"))
    };
    if let Some(user) = c.username.clone().or_else(in_url) {
        let _ = writeln!(s, "  user          {user}");
    }
    let password = c
        .password
        .as_ref()
        .map(|p| p.to_string())
        .unwrap_or_else(|| "none".into());
    let _ = writeln!(s, "  password      {password}");
    let size = match c.key.0.len() {
        0 => "not read".to_owned(),
        n => format!("{n} bytes"),
    };
    let _ = writeln!(s, "  key file      {} ({size})", c.key_file.display());
    let _ = writeln!(
        s,
        "  timeout       {}",
        humantime::format_duration(c.timeout)
    );
    let _ = writeln!(s, "  prefix        {}", c.prefix);
}

/// What validated Redis URLs mean: standalone, Sentinel or Redis Cluster,
/// with or without TLS.
fn redis_deployment(urls: &[String]) -> String {
    let Some(first) = urls.first().and_then(|u| reqwest::Url::parse(u).ok()) else {
        return "unknown".into();
    };
    let scheme = first.scheme();
    let tls = if scheme.starts_with("rediss") || scheme.starts_with("valkeys") {
        ", TLS"
    } else {
        ""
    };
    let query = |name: &str| -> Vec<String> {
        first
            .query_pairs()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .collect()
    };
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    let database = match first.path().trim_start_matches('/') {
        "" => "0",
        db => db,
    };
    if urls.len() > 1 {
        format!("Redis Cluster, {}{tls}", plural(urls.len(), "seed"))
    } else if scheme.ends_with("-cluster") {
        let seeds = 1 + query("node").len();
        format!("Redis Cluster, {}{tls}", plural(seeds, "seed"))
    } else if scheme.ends_with("-sentinel") {
        let master = query("sentinelServiceName").join("");
        let sentinels = 1 + query("node").len();
        format!(
            "Sentinel, master {master}, {}, database {database}{tls}",
            plural(sentinels, "sentinel")
        )
    } else {
        format!("standalone, database {database}{tls}")
    }
}

fn vendor_summary(v: &crate::config::Vendor) -> String {
    use crate::config::Vendor;
    match v {
        Vendor::Google { tokeninfo } => format!("tokeninfo {tokeninfo}"),
        Vendor::Github { api_url } => {
            format!(
                "{}/applications/{{client_id}}/token",
                api_url.as_str().trim_end_matches('/')
            )
        }
        Vendor::Gitlab {
            token_info,
            userinfo,
        } => format!("{token_info}, {userinfo}"),
        Vendor::Slack { api_url, team_id } => {
            format!(
                "{}/auth.test, workspace {team_id}",
                api_url.as_str().trim_end_matches('/')
            )
        }
        Vendor::Facebook { api_url } => {
            format!("{}/debug_token", api_url.as_str().trim_end_matches('/'))
        }
    }
}
