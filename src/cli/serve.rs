//! `restgate serve`: run the gateway until SIGTERM / SIGINT.

use std::process::ExitCode;
use std::sync::Arc;

use std::time::{Duration, SystemTime};

use super::shared::{ConfigArgs, EXIT_INVALID, EXIT_RUNTIME};
use crate::server::{Reloader, Server, shutdown_signal};
use crate::telemetry::init_tracing;

/// Options of `serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The config file and log format.
    #[command(flatten)]
    pub common: ConfigArgs,
    /// Also reload when the config file changes (checked every 2 s); SIGHUP
    /// always reloads.
    #[arg(long)]
    pub watch: bool,
}

/// Loads the config, binds, serves, drains.
pub fn run(serve: &ServeArgs) -> ExitCode {
    let args = &serve.common;
    let _log = init_tracing(args.log_format);
    let config = match crate::config::load(&args.path.config) {
        Ok(c) => Arc::new(c),
        Err(errors) => {
            for e in &errors.0 {
                tracing::error!("{e}");
            }
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let runtime = match super::shared::runtime(true) {
        Ok(r) => r,
        Err(code) => return code,
    };
    runtime.block_on(async {
        let server = match Server::bind(config.clone()).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(addr = %config.server.listen, error = %e, "Cannot listen");
                return ExitCode::from(EXIT_RUNTIME);
            }
        };
        let admin = server
            .admin_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        match server.local_addr() {
            Ok(addr) => tracing::info!(%addr, %admin, upstream = %config.upstream.url, "Listening"),
            Err(e) => tracing::warn!(error = %e, "Listening on an unknown address"),
        }
        let reloader = server.reloader(args.path.config.clone());
        spawn_reload_on_sighup(reloader.clone());
        if serve.watch {
            tokio::spawn(watch(reloader, args.path.config.clone()));
        }
        server.run(shutdown_signal()).await;
        tracing::info!("Stopped");
        ExitCode::SUCCESS
    })
}

/// Reloads and logs the outcome; an invalid file leaves the running config.
fn reload(reloader: &Reloader, trigger: &str) {
    match reloader.reload() {
        Ok(()) => tracing::info!(trigger, "Reloaded the config"),
        Err(errors) => {
            for e in &errors.0 {
                tracing::error!("{e}");
            }
            tracing::error!(trigger, "Reload refused: the running config stays");
        }
    }
}

fn spawn_reload_on_sighup(reloader: Reloader) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            return;
        };
        while hup.recv().await.is_some() {
            reload(&reloader, "SIGHUP");
        }
    });
}

/// Reloads when the file's modification time changes.
async fn watch(reloader: Reloader, path: std::path::PathBuf) {
    let mtime = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let mut last: Option<SystemTime> = mtime(&path);
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    loop {
        tick.tick().await;
        let now = mtime(&path);
        if now.is_some() && now != last {
            last = now;
            reload(&reloader, "file change");
        }
    }
}
