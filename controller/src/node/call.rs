//! What can go wrong with one request from a node to a manager, shared by the heartbeat
//! session and the assignment client so that both log a failure the same way.

use reqwest::StatusCode;

use crate::node::join::error_chain;

/// A request to a manager that got no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// No answer at all: connection refused, TLS failure, timeout.
    // reqwest's own message hides the interesting part in its causes.
    #[error("{}", error_chain(.0))]
    Unreachable(#[source] reqwest::Error),
    /// An answer whose body could not be read or decoded.
    #[error("{0}")]
    Unreadable(#[source] reqwest::Error),
    /// An answer with a status the caller has no use for.
    #[error("HTTP {0}")]
    Status(StatusCode),
}
