//! `restgate fetch-token --provider P`: get a token by the client-credentials
//! grant, validate it as `serve` would, and end with a one-line verdict.
//! Exit 0 OK, 1 refused or misconfigured, 2 the provider could not be reached.

use std::io::IsTerminal;
use std::process::ExitCode;

use super::shared::{EXIT_INVALID, EXIT_RUNTIME};
use crate::diagnose::fetch::{self, Outcome};
use crate::diagnose::inspect;

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
    let providers = crate::providers::ProviderSet::new(&config);
    let checked = runtime.block_on(fetch::check(&config, &providers, &args.provider));
    if args.json {
        let mut v = serde_json::json!({"verdict": checked.verdict});
        if let Some(r) = &checked.report {
            v["report"] = inspect::to_json(r);
        }
        println!("{v}");
    } else {
        if let Some(r) = &checked.report {
            print!(
                "{}",
                inspect::to_text(r, &config, std::io::stdout().is_terminal())
            );
        }
        println!("{}", checked.verdict);
    }
    match checked.outcome {
        Outcome::Ok => ExitCode::SUCCESS,
        Outcome::Refused => ExitCode::from(EXIT_INVALID),
        Outcome::Unreachable => ExitCode::from(EXIT_RUNTIME),
    }
}
