//! `reconciler join ADDR --token T`: join a cluster, then run as its node.

use crds::node::NodeRole;

use super::node::parse_role;
use super::run as node_run;
use crate::node::runtime::JoinTarget;

/// Arguments of `join`.
#[derive(Debug, Clone, clap::Args)]
pub struct JoinArgs {
    /// A manager's address (`host:port`).
    pub addr: String,
    /// The join token (`reconciler token show worker|manager` on a manager).
    #[arg(long, env = "RECONCILER_JOIN_TOKEN", hide_env_values = true)]
    pub token: String,
    /// The role to join as; must match the token's.
    #[arg(long, value_parser = parse_role)]
    pub role: Option<NodeRole>,
    /// How this node runs (its data directory, addresses, labels; a manager may also be given
    /// the source to follow when it leads).
    #[command(flatten)]
    pub run: node_run::Args,
}

/// Run `join`: joins, then keeps running as the new node until interrupted.
pub fn run(args: &JoinArgs) -> u8 {
    let target = JoinTarget {
        addr: args.addr.clone(),
        token: args.token.clone(),
        role: args.role,
    };
    node_run::run_node(&args.run, Some(target))
}
