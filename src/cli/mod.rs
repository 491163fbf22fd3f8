//! The command line: one file per subcommand.

pub mod check;
pub mod cluster;
pub mod demo;
pub mod discover;
pub mod fetch_token;
pub mod key;
pub mod oauth1;
pub mod serve;
mod shared;
pub mod test_token;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use crate::telemetry::{LogFormat, LogGuard, init_tracing};
pub use shared::{ConfigArgs, ConfigPath, EXIT_INVALID, EXIT_RUNTIME, runtime};

/// restgate: bearer-token authentication gateway for Atlassian Data Center.
#[derive(Debug, Parser)]
#[command(name = "restgate", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway.
    Serve(serve::ServeArgs),
    /// Validate the config and print what it resolves to (secrets redacted).
    Check(check::CheckArgs),
    /// Read an issuer's OpenID discovery document and print a provider block.
    Discover(discover::DiscoverArgs),
    /// A zero-setup demo: an example provider, a mock Jira and the gateway.
    Demo(demo::DemoArgs),
    /// Get a token by the client-credentials grant and check it end to end.
    FetchToken(fetch_token::FetchTokenArgs),
    /// Validate one credential as `serve` would, and show every step.
    TestToken(test_token::TestTokenArgs),
    /// API keys.
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// The OAuth 1.0a (application link) hand-off.
    #[command(subcommand)]
    Oauth1(oauth1::OAuth1Command),
    /// Replicas sharing through Redis ([cluster]).
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Serve(args) => serve::run(&args),
        Command::Check(args) => check::run(&args),
        Command::Discover(args) => discover::run(&args),
        Command::Oauth1(cmd) => oauth1::run(&cmd),
        Command::Key(cmd) => key::run(&cmd),
        Command::Cluster(cmd) => cluster::run(&cmd),
        Command::Demo(args) => demo::run(&args),
        Command::TestToken(args) => test_token::run(&args),
        Command::FetchToken(args) => fetch_token::run(&args),
    }
}
