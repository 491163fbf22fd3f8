//! What restgate tells its operators: the log line format and the log
//! writer, and the metrics. Nothing here decides anything about a request.

pub mod cluster;
pub mod logfmt;
pub mod logwrite;
pub mod metrics;
pub mod note;
pub mod recent;

/// Log output format.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Keeps the log writer running; dropping it writes out what is buffered.
pub use logwrite::FlushGuard as LogGuard;

/// The log filter without `RUST_LOG`: restgate's own lines at info. The Redis
/// client's own warnings are off: it would log every reconnect attempt of an
/// outage, which restgate reports once (`RUST_LOG=info,fred=warn` shows them).
const DEFAULT_FILTER: &str = "info,fred=off";

/// Sets up `tracing` on stderr; `RUST_LOG` overrides the default `info`.
///
/// Lines are formatted on the thread that logs and collected in a buffer that
/// goes out in one `write(2)` when it fills, at once for a warning or an
/// error, and at least every 100 ms (see [`logwrite`]).
pub fn init_tracing(format: LogFormat) -> LogGuard {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
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
