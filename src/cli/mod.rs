//! The command line: one file per subcommand.

pub mod check;
pub mod demo;
pub mod discover;
pub mod fetch_token;
pub mod inspect;
pub mod key;
mod logfmt;
mod logwrite;
pub mod oauth1;
pub mod serve;
pub mod test_token;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Exit code: invalid input or config.
pub const EXIT_INVALID: u8 = 1;
/// Exit code: runtime failure.
pub const EXIT_RUNTIME: u8 = 2;

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
    Check(ConfigArgs),
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
}

/// Where the config file is (`--config`, else `$RESTGATE_CONFIG`).
#[derive(Debug, clap::Args)]
pub struct ConfigPath {
    /// The config file.
    #[arg(
        long,
        short,
        env = "RESTGATE_CONFIG",
        default_value = "/etc/restgate/restgate.toml"
    )]
    pub config: PathBuf,
}

/// Options shared by commands that read the config.
#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    /// The config file.
    #[command(flatten)]
    pub path: ConfigPath,
    /// Log line format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// Log output format.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Keeps the log writer running; dropping it writes out what is buffered.
pub use logwrite::FlushGuard as LogGuard;

/// Sets up `tracing` on stderr; `RUST_LOG` overrides the default `info`.
///
/// Lines are formatted on the thread that logs and collected in a buffer that
/// goes out in one `write(2)` when it fills, at once for a warning or an
/// error, and at least every 100 ms (see [`logwrite`]).
pub fn init_tracing(format: LogFormat) -> LogGuard {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = logwrite::LogSink::new(Box::new(std::io::stderr()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false);
    let _ = match format {
        LogFormat::Text => builder.event_format(logfmt::Text).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    guard
}

/// The async runtime a command runs on: several threads to serve, one for a
/// one-shot tool. A runtime that cannot start is a runtime failure (exit 2),
/// reported on stderr.
pub fn runtime(serve: bool) -> Result<tokio::runtime::Runtime, ExitCode> {
    // With one CPU to run on (a pinned or single-core sidecar), the
    // single-threaded scheduler does the same work with less synchronisation.
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let mut builder = if serve && cpus > 1 {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    builder.enable_all().build().map_err(|e| {
        eprintln!("cannot start the async runtime: {e}");
        ExitCode::from(EXIT_RUNTIME)
    })
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Serve(args) => serve::run(&args),
        Command::Check(args) => check::run(&args),
        Command::Discover(args) => discover::run(&args),
        Command::Oauth1(cmd) => oauth1::run(&cmd),
        Command::Key(cmd) => key::run(&cmd),
        Command::Demo(args) => demo::run(&args),
        Command::TestToken(args) => test_token::run(&args),
        Command::FetchToken(args) => fetch_token::run(&args),
    }
}
