//! Arguments and plumbing shared by the commands that talk to a manager (`node`, `service`,
//! `token`, `status`): which data directory holds the identity, which manager to dial.

use std::path::PathBuf;

use super::source_args::default_data_dir;
use crate::cluster::client::{ApiClient, ClientError};

/// Where the CLI finds its identity and its manager.
#[derive(Debug, Clone, clap::Args)]
pub struct ApiArgs {
    /// The node's data directory, holding its certificate [env: RECONCILER_DATA_DIR; default:
    /// ~/.local/share/reconciler].
    #[arg(long, env = "RECONCILER_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// A manager's `host:port` (default: the local manager's own endpoint).
    #[arg(long, env = "RECONCILER_HOST", value_name = "HOST:PORT")]
    pub host: Option<String>,
}

impl ApiArgs {
    /// The data directory in force.
    pub fn dir(&self) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(default_data_dir)
    }

    /// A client for the manager these arguments name.
    pub fn client(&self) -> Result<ApiClient, ClientError> {
        ApiClient::new(&self.dir(), self.host.as_deref())
    }
}

/// Runs `f` on a small single-threaded runtime (CLI commands make a handful of requests).
pub fn block_on<F: std::future::Future>(f: F) -> Result<F::Output, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map(|rt| rt.block_on(f))
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// Prints a warning when the answer came from a manager without quorum.
pub fn warn_if_stale(possibly_stale: bool, answered_by: &str) {
    if possibly_stale {
        eprintln!("warning: manager {answered_by} cannot reach a quorum; this view may be stale");
    }
}
