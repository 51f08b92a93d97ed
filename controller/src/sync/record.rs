//! The revision record: which Git revision is in force, which was refused, and recent outcomes.
//!
//! The sync loop keeps this one shape whether the record lives in a JSON file
//! ([`crate::sync::applied`]) or in the replicated [`ClusterState`]. The
//! record is replaced whole by [`Command::RecordRevision`]: the sync loop reads it, decides, and
//! writes back the record [`RevisionRecord::after`] the decision (pure).
//!
//! [`ClusterState`]: crate::raft::state::ClusterState
//! [`Command::RecordRevision`]: crate::raft::command::Command::RecordRevision

use std::collections::BTreeMap;

use crds::diagnostic::Finding;
pub use crds::revision::RevisionInfo;
use crds::stack::Stack;
use serde::{Deserialize, Serialize};

use crate::source::spec::SourceSpec;
use crate::sync::{Decision, PlanSummary};

/// How many outcomes [`RevisionRecord::history`] keeps.
pub const HISTORY: usize = 50;

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

/// The source could not be fetched (unreachable remote, bad credentials, a full disk, an
/// oversized file): kept from the first failed fetch until the next one that works.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceFailure {
    /// What the last failed fetch said (never a credential: errors name them, not their values).
    pub error: String,
    /// When fetching began to fail (ms since the epoch).
    pub since_ms: u64,
    /// Whether the loop expects it to pass by itself (network, IO) rather than need an operator.
    pub temporary: bool,
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
    /// The source the cluster follows; `None`: it follows none. Changed only by
    /// `Command::SetSource` (a record written by the sync loop keeps the stored source).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceSpec>,
    /// Fetching the source fails, since when and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_failure: Option<SourceFailure>,
}

/// What recording a decision came to, for logs and events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The plan's counts, when the revision was valid.
    pub plan: Option<PlanSummary>,
    /// `applied`, `unchanged`, `rejected` or `refused`.
    pub result: &'static str,
    /// One line: the plan's counts, "no changes", the first error, or what a refusal spared.
    pub summary: String,
}

impl RevisionRecord {
    /// The record after `decision` about `revision` was taken at `at_ms`: an applied revision
    /// replaces the one in force (carrying `warnings`); a rejected or refused one is kept beside
    /// it until a good revision arrives; either way the revision is the last seen and gets one
    /// line of history.
    pub fn after(
        mut self,
        decision: Decision,
        revision: RevisionInfo,
        warnings: Vec<Finding>,
        at_ms: u64,
    ) -> (RevisionRecord, Verdict) {
        self.last_seen = Some(revision.clone());
        self.source_failure = None;
        let verdict = match decision {
            Decision::Apply { plan, next } => {
                let counts = PlanSummary::from(&plan);
                self.applied = Some(AppliedRevision {
                    revision: revision.clone(),
                    at_ms,
                    stacks: next.stacks,
                    warnings,
                });
                self.rejected = None;
                Verdict {
                    plan: Some(counts),
                    result: "applied",
                    summary: counts.to_string(),
                }
            }
            Decision::Unchanged => {
                if let Some(applied) = &mut self.applied {
                    applied.revision = revision.clone();
                }
                self.rejected = None;
                Verdict {
                    plan: Some(PlanSummary::default()),
                    result: "unchanged",
                    summary: "no changes".to_owned(),
                }
            }
            Decision::Reject { findings } => {
                let first = (findings.iter())
                    .find(|f| f.severity == "error")
                    .map(|f| f.to_string())
                    .unwrap_or_default();
                self.rejected = Some(RejectedRevision {
                    revision: revision.clone(),
                    at_ms,
                    refusal: Refusal::LintErrors { findings },
                });
                Verdict {
                    plan: None,
                    result: "rejected",
                    summary: first,
                }
            }
            Decision::RefuseEmpty { stacks } => {
                self.rejected = Some(RejectedRevision {
                    revision: revision.clone(),
                    at_ms,
                    refusal: Refusal::EmptyDesiredState { stacks },
                });
                Verdict {
                    plan: None,
                    result: "refused",
                    summary: format!("would remove all {stacks} stacks"),
                }
            }
        };
        self.push_history(Outcome {
            revision: revision.id,
            at_ms,
            result: verdict.result.to_owned(),
            summary: verdict.summary.clone(),
        });
        (self, verdict)
    }

    /// The record after a fetch failed with `error` at `at_ms`, or `None` when it says so
    /// already (the same error is not written again at every poll; `since_ms` stays the first
    /// failure's).
    pub fn after_source_failure(
        &self,
        error: String,
        temporary: bool,
        at_ms: u64,
    ) -> Option<RevisionRecord> {
        let since_ms = match &self.source_failure {
            Some(f) if f.error == error && f.temporary == temporary => return None,
            Some(f) => f.since_ms,
            None => at_ms,
        };
        let mut next = self.clone();
        next.source_failure = Some(SourceFailure {
            error,
            since_ms,
            temporary,
        });
        Some(next)
    }

    /// The record after a fetch that worked, or `None` when there was no failure to clear.
    pub fn after_source_recovered(&self) -> Option<RevisionRecord> {
        self.source_failure.as_ref()?;
        let mut next = self.clone();
        next.source_failure = None;
        Some(next)
    }

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

#[cfg(test)]
#[path = "record_test.rs"]
mod tests;
