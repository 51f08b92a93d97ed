//! Command-line interface: argument parsing and one module per subcommand.
//!
//! Exit codes are part of the interface: 0 success, 1 findings (or a stale check), 2 usage or
//! IO errors.

pub mod config;
pub mod lint;
pub mod schema;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: findings (errors, or warnings with `--strict`), or a failed check.
pub const EXIT_FINDINGS: u8 = 1;
/// Exit code: usage or IO error.
pub const EXIT_USAGE: u8 = 2;

/// A Git-driven, Raft-replicated reconciler for container stacks.
#[derive(Debug, Parser)]
#[command(name = "reconciler", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate stack files (for CI): exit 0 clean, 1 findings, 2 usage or IO error.
    Lint(lint::Args),
    /// Print stacks as the cluster will see them: interpolated, merged, defaulted, named.
    Config(config::Args),
    /// Write (or check) the JSON Schemas of the stack file and the cluster resources.
    Schema(schema::Args),
}

/// Run a parsed command line.
pub fn run(cli: Cli) -> ExitCode {
    let code = match cli.command {
        Command::Lint(args) => lint::run(&args),
        Command::Config(args) => config::run(&args),
        Command::Schema(args) => schema::run(&args),
    };
    ExitCode::from(code)
}

/// Whether to colour human output written to stderr or stdout.
pub fn use_color(stream_is_terminal: bool) -> bool {
    stream_is_terminal && std::env::var_os("NO_COLOR").is_none()
}
