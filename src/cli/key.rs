//! `restgate key generate`: a new API key, shown once, and the config block
//! that holds only its digest.

use std::path::PathBuf;
use std::process::ExitCode;

use rand::Rng;
use rand::distr::Alphanumeric;
use sha2::{Digest, Sha256};

use super::shared::EXIT_INVALID;

/// Random characters after the prefix: 40 × log2(62) ≈ 238 bits.
const KEY_CHARS: usize = 40;

/// `restgate key …`
#[derive(Debug, clap::Subcommand)]
pub enum KeyCommand {
    /// Make a new API key; print it once and its [[api_keys]] block.
    Generate(GenerateArgs),
}

/// Options of `key generate`.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// The user the key acts as (required; checked here so that a missing
    /// one is bad input, exit 1, like every other).
    #[arg(long)]
    pub user: Option<String>,
    /// Last valid day (UTC), e.g. 2027-06-30.
    #[arg(long)]
    pub expires: Option<String>,
    /// A label for logs (default: the user).
    #[arg(long)]
    pub name: Option<String>,
    /// Read the key prefix (auth.api_key_prefix) from this config; its
    /// secrets are not read.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs a `key` subcommand.
pub fn run(cmd: &KeyCommand) -> ExitCode {
    match cmd {
        KeyCommand::Generate(args) => generate(args),
    }
}

fn generate(args: &GenerateArgs) -> ExitCode {
    let Some(user) = args.user.as_deref() else {
        eprintln!("--user is required: the user the key acts as, e.g. --user svc-ci");
        return ExitCode::from(EXIT_INVALID);
    };
    if !crate::core::principal::is_valid_username(user) {
        eprintln!("--user {user:?} is not a usable username");
        return ExitCode::from(EXIT_INVALID);
    }
    if let Some(day) = &args.expires {
        let Ok(last) = humantime::parse_rfc3339(&format!("{day}T23:59:59Z")) else {
            eprintln!("--expires {day:?} is not a date; write e.g. 2027-06-30");
            return ExitCode::from(EXIT_INVALID);
        };
        if last < std::time::SystemTime::now() {
            eprintln!(
                "--expires {day} is in the past: the key would never work; give its last valid day (UTC)"
            );
            return ExitCode::from(EXIT_INVALID);
        }
    }
    let prefix = match &args.config {
        None => "rgk_".to_owned(),
        // Only the prefix is needed: the config's secrets are not read.
        Some(path) => match crate::config::load_without_secrets(path) {
            Ok(c) => c.auth.api_key_prefix,
            Err(errors) => {
                eprintln!("{errors}");
                return ExitCode::from(EXIT_INVALID);
            }
        },
    };
    let key = new_key(&prefix);
    let hash = digest(&key);
    let name = args.name.clone().unwrap_or_else(|| user.to_owned());
    if args.json {
        let v = serde_json::json!({"key": key, "name": name, "user": user, "hash": hash, "expires": args.expires});
        println!("{v}");
    } else {
        print!(
            "{}",
            human(&key, &name, user, &hash, args.expires.as_deref())
        );
    }
    ExitCode::SUCCESS
}

/// A new key: the prefix and 40 random base62 characters.
pub fn new_key(prefix: &str) -> String {
    let body: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(KEY_CHARS)
        .map(char::from)
        .collect();
    format!("{prefix}{body}")
}

/// The `hash` value of the config for a key.
pub fn digest(key: &str) -> String {
    let d = Sha256::digest(key.as_bytes());
    format!(
        "sha256:{}",
        d.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// The `[[api_keys]]` block for a key.
pub fn block(name: &str, user: &str, hash: &str, expires: Option<&str>) -> String {
    let mut b = format!("[[api_keys]]\nname = {name:?}\nuser = {user:?}\nhash = \"{hash}\"\n");
    if let Some(e) = expires {
        b.push_str(&format!("expires = \"{e}\"\n"));
    }
    b
}

fn human(key: &str, name: &str, user: &str, hash: &str, expires: Option<&str>) -> String {
    format!(
        "API key for {user} (shown once, store it now):\n\n  {key}\n\n\
         Use it as `Authorization: Bearer <key>`, as the password of Basic auth for {user}, or in the API key header.\n\
         Add this to the config (it holds only the digest):\n\n{}",
        block(name, user, hash, expires)
    )
}
