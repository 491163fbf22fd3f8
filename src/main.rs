//! restgate's binary: parse the command line, run the command, exit with its code
//! (0 ok, 1 invalid input or config, 2 runtime failure).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    restgate::cli::run(restgate::cli::Cli::parse())
}
