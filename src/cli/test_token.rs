//! `restgate test-token`: validate one credential exactly as `serve` would and
//! show what the provider answered, the candidate attributes, the identity and
//! the decision. Exit 0 when it would be accepted, 1 when not, 2 when a
//! provider or the directory could not answer.

use std::io::{IsTerminal, Read};

use std::process::ExitCode;

use super::shared::{EXIT_INVALID, EXIT_RUNTIME};
use crate::diagnose::inspect;

/// Options of `test-token`.
#[derive(Debug, clap::Args)]
pub struct TestTokenArgs {
    /// The config file.
    #[command(flatten)]
    pub path: super::shared::ConfigPath,
    /// Ask only this provider.
    #[arg(long)]
    pub provider: Option<String>,
    /// The credential is `user:password` for Basic auth (e.g. `user:<api key>`).
    #[arg(long)]
    pub basic: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// The token, or `-` to read it from standard input (keeps it out of shell history).
    pub token: String,
}

/// Runs `test-token`.
pub fn run(args: &TestTokenArgs) -> ExitCode {
    let config = match crate::config::load(&args.path.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let token = if args.token == "-" {
        let mut s = String::new();
        if std::io::stdin().read_to_string(&mut s).is_err() {
            eprintln!("cannot read the token from standard input");
            return ExitCode::from(EXIT_INVALID);
        }
        s.trim().to_owned()
    } else {
        args.token.clone()
    };
    let runtime = match super::shared::runtime(false) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let providers = crate::providers::ProviderSet::new(&config);
    let report = runtime.block_on(inspect::evaluate(
        &config,
        &providers,
        &token,
        args.basic,
        args.provider.as_deref(),
    ));
    if args.json {
        println!("{}", inspect::to_json(&report));
    } else {
        print!(
            "{}",
            inspect::to_text(&report, &config, std::io::stdout().is_terminal())
        );
    }
    match report.decision {
        "accepted" => ExitCode::SUCCESS,
        "error" => ExitCode::from(EXIT_RUNTIME),
        _ => ExitCode::from(EXIT_INVALID),
    }
}
