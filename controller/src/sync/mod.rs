//! Deciding what to do with a new revision: apply it, reject it, or refuse it (pure).
//!
//! The promises live here: a revision with any lint error is rejected and the last good one
//! stays applied; a revision that would remove every stack is refused unless allowed; removing
//! one stack's file prunes that stack only when pruning is on.
//!
//! # Layout
//! - this module: [`decide`] (pure) and the [`Options`] that shape it.
//! - [`record`]: the revision record and [`record::RevisionRecord::after`], what a decision
//!   makes of it (pure).
//! - [`applied`]: where the record lives ([`applied::Store`]: a file, or Raft on a manager).
//! - [`runner`]: the loop: wake, poll the source, evaluate, decide, record.
//! - [`follow`]: opening a source and the triggers that wake the loop while this node leads.

pub mod applied;
pub mod follow;
pub mod record;
pub mod runner;

use crds::diagnostic::Finding;
use serde::{Deserialize, Serialize};

use crate::desired::DesiredState;
use crate::diff::{self, AppliedState, Plan};

/// Operator choices that shape decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Options {
    /// Apply a revision that removes every stack (`--allow-empty`).
    pub allow_empty: bool,
    /// Remove stacks whose files were deleted (`--prune`, default on).
    pub prune: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            allow_empty: false,
            prune: true,
        }
    }
}

/// What became of a revision.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Apply this plan; the result is `desired`.
    Apply {
        /// What changes.
        plan: Plan,
        /// The state once applied.
        next: AppliedState,
    },
    /// Already applied: nothing to do.
    Unchanged,
    /// Lint errors: keep the last good revision.
    Reject {
        /// The errors (and warnings) with their locations.
        findings: Vec<Finding>,
    },
    /// The revision would remove every stack and `allow_empty` is off.
    RefuseEmpty {
        /// How many stacks it would remove.
        stacks: usize,
    },
}

/// Counts of a plan, for logs and events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PlanSummary {
    /// Resources to create.
    pub add: usize,
    /// Resources to change.
    pub change: usize,
    /// Resources to remove.
    pub remove: usize,
}

impl From<&Plan> for PlanSummary {
    fn from(plan: &Plan) -> Self {
        PlanSummary {
            add: plan.to_add.len(),
            change: plan.to_change.len(),
            remove: plan.to_remove.len(),
        }
    }
}

impl std::fmt::Display for PlanSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} to add, {} to change, {} to destroy",
            self.add, self.change, self.remove
        )
    }
}

/// Decide what to do with an evaluated revision.
pub fn decide(
    evaluated: Result<&DesiredState, Vec<Finding>>,
    applied: &AppliedState,
    options: Options,
) -> Decision {
    let desired = match evaluated {
        Ok(desired) => desired,
        Err(findings) => return Decision::Reject { findings },
    };
    if desired.stacks.is_empty() && !applied.stacks.is_empty() && !options.allow_empty {
        return Decision::RefuseEmpty {
            stacks: applied.stacks.len(),
        };
    }
    let mut plan = diff::diff(desired, applied);
    if !options.prune {
        plan = plan.without_stack_removals();
    }
    if plan.is_empty() {
        return Decision::Unchanged;
    }
    let next = diff::apply(&plan, applied);
    Decision::Apply { plan, next }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crds::stack::Stack;

    use super::*;

    fn state(names: &[&str]) -> DesiredState {
        DesiredState {
            stacks: names
                .iter()
                .map(|n| ((*n).to_owned(), Stack::empty(n)))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn lint_errors_reject_and_keep_the_applied_state() {
        let findings = vec![Finding {
            file: "a.yml".into(),
            line: Some(1),
            column: Some(1),
            severity: "error".into(),
            rule: "yaml-syntax".into(),
            message: "bad".into(),
            help: None,
        }];
        assert_eq!(
            decide(Err(findings.clone()), &state(&["a"]), Options::default()),
            Decision::Reject { findings }
        );
    }

    #[test]
    fn an_empty_revision_is_refused_unless_allowed() {
        let applied = state(&["a", "b"]);
        assert_eq!(
            decide(Ok(&state(&[])), &applied, Options::default()),
            Decision::RefuseEmpty { stacks: 2 }
        );
        let allowed = Options {
            allow_empty: true,
            prune: true,
        };
        assert!(matches!(
            decide(Ok(&state(&[])), &applied, allowed),
            Decision::Apply { .. }
        ));
        // Nothing applied yet: an empty tree is simply nothing to do.
        assert_eq!(
            decide(Ok(&state(&[])), &state(&[]), Options::default()),
            Decision::Unchanged
        );
    }

    #[test]
    fn removing_one_stack_prunes_it_only_with_prune() {
        let applied = state(&["a", "b"]);
        let Decision::Apply { next, .. } = decide(Ok(&state(&["a"])), &applied, Options::default())
        else {
            panic!("expected apply");
        };
        assert_eq!(next.stacks.keys().collect::<Vec<_>>(), vec!["a"]);
        let keep = Options {
            allow_empty: false,
            prune: false,
        };
        assert_eq!(
            decide(Ok(&state(&["a"])), &applied, keep),
            Decision::Unchanged
        );
    }

    #[test]
    fn reapplying_is_unchanged() {
        let s = state(&["a"]);
        assert_eq!(decide(Ok(&s), &s, Options::default()), Decision::Unchanged);
    }
}
