//! The revision record: which Git revision is in force, which was refused, and recent outcomes.
//!
//! The sync loop keeps this one shape whether the record lives in a JSON file
//! ([`crate::sync::applied`]) or in the replicated [`ClusterState`]. The
//! record is replaced whole by [`Command::RecordRevision`]: the sync loop reads it, decides, and
//! writes the new one back.
//!
//! [`ClusterState`]: crate::raft::state::ClusterState
//! [`Command::RecordRevision`]: crate::raft::command::Command::RecordRevision

use std::collections::BTreeMap;

use crds::diagnostic::Finding;
use crds::revision::RevisionOrigin;
use crds::stack::Stack;
use serde::{Deserialize, Serialize};

/// How many outcomes [`RevisionRecord::history`] keeps.
pub const HISTORY: usize = 50;

/// What is known about a revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevisionInfo {
    /// Commit SHA or content hash.
    pub id: String,
    /// Where it came from.
    pub origin: RevisionOrigin,
    /// Commit author, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// First line of the commit message, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Commit time (ms since the epoch), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_ms: Option<u64>,
}

/// The revision in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppliedRevision {
    /// Which revision.
    pub revision: RevisionInfo,
    /// When it was applied (ms since the epoch).
    pub at_ms: u64,
    /// The stacks it defines, by name.
    pub stacks: BTreeMap<String, Stack>,
    /// Warnings it carried.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Finding>,
}

/// Why a revision was not applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Refusal {
    /// The stack files have errors.
    LintErrors {
        /// Errors and warnings with locations.
        findings: Vec<Finding>,
    },
    /// It would remove every stack (`--allow-empty` is off).
    EmptyDesiredState {
        /// How many stacks would go.
        stacks: usize,
    },
}

/// A revision that was not applied, kept until a good one arrives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RejectedRevision {
    /// Which revision.
    pub revision: RevisionInfo,
    /// When it was seen (ms since the epoch).
    pub at_ms: u64,
    /// Why.
    #[serde(flatten)]
    pub refusal: Refusal,
}

/// One line of history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// Revision id.
    pub revision: String,
    /// When (ms since the epoch).
    pub at_ms: u64,
    /// `applied`, `rejected` or `refused`.
    pub result: String,
    /// One-line summary (plan counts or the first error).
    pub summary: String,
}

/// Everything the cluster keeps about desired-state revisions.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RevisionRecord {
    /// The revision in force, if any was ever applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<AppliedRevision>,
    /// The newest revision that was not applied, while it is the newest one seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected: Option<RejectedRevision>,
    /// The newest revision seen, applied or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<RevisionInfo>,
    /// Recent outcomes, newest last, at most [`HISTORY`].
    #[serde(default)]
    pub history: Vec<Outcome>,
}

impl RevisionRecord {
    /// The applied stacks (empty when nothing was applied yet).
    pub fn applied_stacks(&self) -> BTreeMap<String, Stack> {
        self.applied
            .as_ref()
            .map(|a| a.stacks.clone())
            .unwrap_or_default()
    }

    /// Append an outcome, keeping the last [`HISTORY`].
    pub fn push_history(&mut self, outcome: Outcome) {
        self.history.push(outcome);
        self.trim_history();
    }

    /// Drop the oldest outcomes beyond [`HISTORY`] (also applied to records written by others, so
    /// a replicated record never grows without bound).
    pub fn trim_history(&mut self) {
        let excess = self.history.len().saturating_sub(HISTORY);
        self.history.drain(..excess);
    }
}
