//! Arguments and plumbing shared by the commands that talk to a manager (`node`, `service`,
//! `stack`, `token`, `status`): which data directory holds the identity, which manager to dial,
//! and how a failed lookup becomes exit code 1 rather than 2.

use std::path::PathBuf;

use super::source_args::default_data_dir;
use super::{EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};
use crate::cli::client::{ApiClient, ClientError};

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
pub fn block_on<F: std::future::Future>(f: F) -> anyhow::Result<F::Output> {
    // The cause goes into the message: commands print an error's `Display` alone, which is
    // where every error of this crate already names its cause.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?;
    Ok(runtime.block_on(f))
}

/// Prints a warning when the answer came from a manager without quorum.
pub fn warn_if_stale(possibly_stale: bool, answered_by: &str) {
    if possibly_stale {
        eprintln!("warning: manager {answered_by} cannot reach a quorum; this view may be stale");
    }
}

/// What went wrong, kept typed so that "no such service or stack" (exit 1) stands apart from
/// the rest (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The manager knows no such service or stack; the message names the known ones.
    #[error("{0}")]
    NotFound(String),
    /// The answer was shown, but the cluster is not where it should be (e.g. it follows no
    /// repository): exit 1 like a finding.
    #[error("{0}")]
    Unsynced(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

impl Failure {
    /// A lookup's error: `404` is [`Failure::NotFound`].
    pub fn from_lookup(e: ClientError) -> Failure {
        match e {
            ClientError::Api { status: 404, .. } => Failure::NotFound(e.to_string()),
            e => other(e),
        }
    }
}

/// Any error as [`Failure::Other`].
pub fn other(e: impl std::fmt::Display) -> Failure {
    Failure::Other(e.to_string())
}

/// Reads `path` from the manager `api` names and warns when the answer may be stale. A `404`
/// is [`Failure::NotFound`] (exit 1) when the path looks something up by name.
pub async fn fetch<T: serde::de::DeserializeOwned>(
    api: &ApiArgs,
    path: &str,
) -> Result<T, Failure> {
    let client = api.client().map_err(other)?;
    let read: crate::protocol::Read<T> = client.get(path).await.map_err(Failure::from_lookup)?;
    warn_if_stale(read.possibly_stale, &read.answered_by);
    Ok(read.data)
}

/// Prints `data` as pretty JSON or as the table `render` makes of it.
pub fn print_as<T: serde::Serialize>(
    format: super::node::Format,
    data: &T,
    render: impl FnOnce(&T) -> String,
) -> Result<(), Failure> {
    match format {
        super::node::Format::Json => println!("{}", to_json(data)?),
        super::node::Format::Table => print!("{}", render(data)),
    }
    Ok(())
}

/// Pretty JSON for `--format json`.
pub fn to_json<T: serde::Serialize>(value: &T) -> Result<String, Failure> {
    serde_json::to_string_pretty(value).map_err(other)
}

/// Print the failure, if any, and give the exit code: 0, 1 when not found, 2 otherwise.
pub fn finish(result: anyhow::Result<Result<(), Failure>>) -> u8 {
    match result.unwrap_or_else(|e| Err(other(e))) {
        Ok(()) => EXIT_OK,
        Err(failure) => {
            eprintln!("error: {failure}");
            match failure {
                Failure::NotFound(_) | Failure::Unsynced(_) => EXIT_FINDINGS,
                Failure::Other(_) => EXIT_USAGE,
            }
        }
    }
}

/// `key=value` for a query string, with the value percent-encoded.
pub fn url_pair(key: &str, value: &str) -> String {
    let encoded: String = value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("{key}={encoded}")
}
