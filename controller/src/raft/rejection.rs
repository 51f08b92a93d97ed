//! Why the state machine refused a command: the reason carried by [`Response::Rejected`].
//!
//! A rejection is data, not a failure of the store: it travels back to the proposer inside the
//! Raft response, so it must serialize and compare like the rest of [`Response`]. Each variant
//! names the invariant the command broke and carries the ids involved, so a caller can decide
//! what to do by matching instead of reading the message.
//!
//! [`Response`]: crate::raft::command::Response
//! [`Response::Rejected`]: crate::raft::command::Response::Rejected

use serde::{Deserialize, Serialize};

/// An invariant a command broke; the command changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "rejection", rename_all = "snake_case")]
pub enum Rejection {
    /// A node command named a node the state does not hold.
    #[error("node {id:?} is unknown")]
    UnknownNode {
        /// The id the command named.
        id: String,
    },
    /// An object to store had an empty `meta.id`.
    #[error("a {kind} needs an id")]
    MissingId {
        /// What kind of object: `node`, `task` or `service`.
        kind: ObjectKind,
    },
    /// A service's id was not its spec name (services are stored by full name).
    #[error("service id {id:?} differs from its spec name {name:?}")]
    ServiceIdMismatch {
        /// The service's `meta.id`.
        id: String,
        /// The service's `spec.name`.
        name: String,
    },
    /// An init carried another identity than the one the cluster already has: replacing it would
    /// replace the CA every node trusts.
    #[error("the cluster is already initialised as {current}; it cannot be initialised again")]
    AlreadyInitialised {
        /// The id of the cluster as it stands.
        current: String,
    },
    /// A command that needs the cluster's identity came before the init.
    #[error("the cluster is not initialised yet")]
    NotInitialised,
}

/// The kinds of stored object a [`Rejection`] can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    /// A [`crds::node::Node`].
    Node,
    /// A [`crds::task::Task`].
    Task,
    /// A [`crds::service::Service`].
    Service,
}

impl std::fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ObjectKind::Node => "node",
            ObjectKind::Task => "task",
            ObjectKind::Service => "service",
        })
    }
}
