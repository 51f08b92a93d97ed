//! Command-line interface: argument parsing and one module per subcommand.
//!
//! Exit codes are part of the interface: 0 success, 1 findings (or changes, for `plan`), 2
//! usage or IO errors.

pub mod api_args;
pub mod client;
pub mod config;
pub mod join;
pub mod leave;
pub mod lint;
pub mod node;
pub mod plan;
pub mod progress;
pub mod run;
pub mod schema;
pub mod service;
pub mod source;
pub mod source_args;
pub mod stack;
pub mod status;
pub mod table;
pub mod token;
pub mod unlock;
pub mod wait;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: findings (errors, or warnings with `--strict`), changes (`plan`), or a failed check.
pub const EXIT_FINDINGS: u8 = 1;
/// Exit code: usage or IO error.
pub const EXIT_USAGE: u8 = 2;

/// A Git-driven reconciler for container stacks.
///
/// Without a subcommand, runs the manager: `reconciler --repo <URL|PATH>` or `--watch <DIR>`.
#[derive(Debug, Parser)]
#[command(name = "reconciler", version, about, long_about = None, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Manager arguments (when no subcommand is given).
    #[command(flatten)]
    pub run: run::Args,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate stack files (for CI): exit 0 clean, 1 findings, 2 usage or IO error.
    Lint(lint::Args),
    /// Print stacks as the cluster will see them: interpolated, merged, defaulted, named.
    Config(config::Args),
    /// Show what applying a revision would change: exit 0 no changes, 1 changes, 2 errors.
    Plan(Box<plan::Args>),
    /// Show the applied revision, stack sync state and any rejected revision; `--wait` until
    /// it converged.
    Status(status::Args),
    /// Write (or check) the JSON Schemas of the stack file and the cluster resources.
    Schema(schema::Args),
    /// Join a cluster as a worker or manager, then run as its node.
    Join(Box<join::JoinArgs>),
    /// Show, set or clear the repository the cluster follows.
    Source(source::Args),
    /// Show or rotate the join tokens.
    Token(token::Args),
    /// List, inspect, update, promote, demote or remove nodes.
    Node(node::Args),
    /// List services, or the tasks of one (exit 1 when it does not exist).
    Service(service::Args),
    /// List stacks, or the services or tasks of one (exit 1 when it does not exist).
    Stack(stack::Args),
    /// Remove this node from its cluster.
    Leave(leave::Args),
    /// Give a locked manager (autolock) its unlock key, read from standard input.
    Unlock(unlock::Args),
}

/// Run a parsed command line.
pub fn run(cli: Cli) -> ExitCode {
    let code = match cli.command {
        Some(Command::Lint(args)) => lint::run(&args),
        Some(Command::Config(args)) => config::run(&args),
        Some(Command::Plan(args)) => plan::run(&args),
        Some(Command::Status(args)) => status::run(&args),
        Some(Command::Schema(args)) => schema::run(&args),
        Some(Command::Join(args)) => join::run(&args),
        Some(Command::Source(args)) => source::run(&args),
        Some(Command::Token(args)) => token::run(&args),
        Some(Command::Node(args)) => node::run(&args),
        Some(Command::Service(args)) => service::run(&args),
        Some(Command::Stack(args)) => stack::run(&args),
        Some(Command::Leave(args)) => leave::run(&args),
        Some(Command::Unlock(args)) => unlock::run(&args),
        // A bare `reconciler` is a question, not a request for an empty cluster: a cluster that
        // follows nothing yet is started by naming its data directory.
        None if cli.run.source.repo.is_none()
            && cli.run.source.watch.is_none()
            && cli.run.data_dir.is_none()
            && !is_member(&cli.run) =>
        {
            let _ = Cli::command().print_help();
            eprintln!(
                "\nerror: say where the stacks are: --repo <URL|PATH> or --watch <DIR>, or give a \
                 subcommand (a node that already belongs to a cluster restarts without either; \
                 --data-dir DIR alone starts a cluster that follows no repository until \
                 `reconciler source set`)"
            );
            EXIT_USAGE
        }
        None => run::run(&cli.run),
    };
    ExitCode::from(code)
}

/// Whether the data directory of `args` belongs to a cluster node (which may restart without a
/// source).
fn is_member(args: &run::Args) -> bool {
    let dir = args
        .data_dir
        .clone()
        .unwrap_or_else(source_args::default_data_dir);
    dir.join(crate::node::layout::NODE_FILE).exists()
}

/// Whether to colour human output written to a stream.
pub fn use_color(stream_is_terminal: bool) -> bool {
    stream_is_terminal && std::env::var_os("NO_COLOR").is_none()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
