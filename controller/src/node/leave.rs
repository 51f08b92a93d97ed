//! The node's end of leaving (`reconciler leave`): ask a manager, with the node's own
//! certificate, to remove this node. The node's running process learns of the removal at its
//! next heartbeat and forgets the cluster then.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::node::layout::{self, NodeConfig};
use crate::node::{join, runtime};
use crate::protocol::{ErrorBody, LEAVE_PATH, LeaveRequest};

/// Why the cluster did not remove this node.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The data directory has no `node.json`: this node never joined, or already left.
    #[error("{} holds no cluster membership", dir.display())]
    NotMember {
        /// The data directory.
        dir: PathBuf,
    },
    /// The node's identity files could not be read.
    #[error(transparent)]
    Identity(#[from] layout::Error),
    /// No HTTPS client could be built from the node's certificate.
    #[error(transparent)]
    Client(#[from] Box<runtime::Error>),
    /// `node.json` lists no manager to ask.
    #[error("no manager is known")]
    NoManager,
    /// A manager refused the request itself (a 4xx answer, e.g. a manager leaving without
    /// `--force`): asking another manager would get the same answer.
    #[error("{message}")]
    Refused {
        /// The manager's message.
        message: String,
    },
    /// The last manager asked could not serve the request (a 5xx answer, e.g. no quorum).
    #[error("{manager}: {message}")]
    Failed {
        /// The manager's address.
        manager: String,
        /// Its message, or the HTTP status when it sent none.
        message: String,
    },
    /// The last manager asked could not be reached.
    #[error("{manager}: {}", join::error_chain(source))]
    Unreachable {
        /// The manager's address.
        manager: String,
        /// Why.
        #[source]
        source: reqwest::Error,
    },
}

/// Asks the cluster to remove the node whose identity is in `data_dir`, trying each known
/// manager in turn until one answers.
pub async fn leave(data_dir: &Path, force: bool) -> Result<(), Error> {
    let config = NodeConfig::load(data_dir)?.ok_or_else(|| Error::NotMember {
        dir: data_dir.to_owned(),
    })?;
    let (ca, cert) = layout::load_credentials(data_dir)?;
    let client = runtime::mtls_client(&ca, &cert).map_err(Box::new)?;
    let mut last = Error::NoManager;
    for manager in &config.managers {
        let sent = client
            .post(format!("https://{manager}{LEAVE_PATH}"))
            .json(&LeaveRequest { force })
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => {
                let status = r.status();
                let message = r
                    .json::<ErrorBody>()
                    .await
                    .map(|e| e.error)
                    .unwrap_or_else(|_| format!("HTTP {status}"));
                if status.is_client_error() {
                    return Err(Error::Refused { message });
                }
                last = Error::Failed {
                    manager: manager.clone(),
                    message,
                };
            }
            Err(source) => {
                last = Error::Unreachable {
                    manager: manager.clone(),
                    source,
                }
            }
        }
    }
    Err(last)
}
