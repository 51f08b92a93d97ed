//! The `reconciler` command: argument parsing and dispatch only.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = controller::cli::Cli::parse();
    controller::cli::run(cli)
}
