//! `restgate serve`: run the gateway until SIGTERM / SIGINT.

use std::process::ExitCode;
use std::sync::Arc;

use super::{ConfigArgs, EXIT_INVALID, EXIT_RUNTIME, init_tracing};
use crate::server::{Server, shutdown_signal};

/// Loads the config, binds, serves, drains.
pub fn run(args: &ConfigArgs) -> ExitCode {
    init_tracing(args.log_format);
    let config = match crate::config::load(&args.config) {
        Ok(c) => Arc::new(c),
        Err(errors) => {
            for e in &errors.0 {
                tracing::error!("{e}");
            }
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "Cannot start the runtime");
            return ExitCode::from(EXIT_RUNTIME);
        }
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
        server.run(shutdown_signal()).await;
        tracing::info!("Stopped");
        ExitCode::SUCCESS
    })
}
