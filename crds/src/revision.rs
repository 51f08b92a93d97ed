//! Revisions: one version of the desired state, from a Git commit or a directory snapshot.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diagnostic::Finding;

/// Where a revision came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum RevisionOrigin {
    /// A Git commit.
    Git {
        /// Repository URL or path.
        repo: String,
        /// Branch followed.
        branch: String,
        /// Sub-directory holding the stacks.
        path: String,
    },
    /// A watched directory (the id is a content hash).
    Directory {
        /// The directory.
        path: String,
    },
}

/// What is known about a revision: the facts every holder of one (a fetched snapshot, the
/// replicated revision record, this resource) shares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RevisionInfo {
    /// Commit SHA, or the content hash of a watched directory.
    pub id: String,
    /// Where it came from.
    pub origin: RevisionOrigin,
    /// Commit author (`Name <email>`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Commit message (first line), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Commit time (ms since the epoch), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_ms: Option<u64>,
}

/// One version of the desired state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Revision {
    /// Which revision.
    #[serde(flatten)]
    pub info: RevisionInfo,
    /// Names of the stacks it holds.
    pub stacks: Vec<String>,
    /// Whether it was applied or rejected, and why.
    pub status: RevisionStatus,
}

/// What became of a revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum RevisionStatus {
    /// Parsed and valid; waiting to be applied.
    Pending,
    /// Applied to the cluster.
    Applied {
        /// When (ms since the epoch).
        at_ms: u64,
    },
    /// Not applied: the previous revision stays in force.
    Rejected {
        /// Why: the lint errors, with their locations.
        errors: Vec<Finding>,
    },
}
