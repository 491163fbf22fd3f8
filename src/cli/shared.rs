//! What the commands share: exit codes, where the config file is, the
//! async runtime a command runs on.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::telemetry::LogFormat;

/// Exit code: invalid input or config.
pub const EXIT_INVALID: u8 = 1;
/// Exit code: runtime failure.
pub const EXIT_RUNTIME: u8 = 2;

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
