//! `reconciler leave`: this node asks the cluster to remove it; its running process then stops
//! and forgets the cluster.

use super::api_args::{ApiArgs, block_on};
use super::{EXIT_OK, EXIT_USAGE};

/// Arguments of `leave`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Leave even as a manager (shrinks the Raft group; demoting first is safer).
    #[arg(long)]
    pub force: bool,
    /// The node's data directory.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Run `leave`.
pub fn run(args: &Args) -> u8 {
    let dir = args.api.dir();
    match block_on(crate::node::leave::leave(&dir, args.force)).and_then(|r| Ok(r?)) {
        Ok(()) => {
            println!(
                "Node left the cluster; its process stops at its next heartbeat and forgets the cluster."
            );
            EXIT_OK
        }
        Err(err) => {
            eprintln!("error: {err}");
            EXIT_USAGE
        }
    }
}
