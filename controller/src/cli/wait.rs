//! `status --wait`: is the revision waited for applied and every service converged, has it
//! failed, or is it still on its way? Decided purely from one fetched [`StatusView`]; the loop
//! in `status` only fetches, renders and sleeps.
//!
//! The revision is reached once it is the applied one (or was applied and has since been
//! superseded). It fails when it was rejected or refused, or when a service cannot converge
//! without a new revision or an operator ([`Convergence::Failed`]: an update paused or rolled
//! back, tasks that failed and are not restarted). A service whose tasks completed and are not
//! restarted has converged, so one-shot services never hold the wait up. Degraded services
//! (tasks failing but restarted, tasks no node fits) may recover: they keep the wait going until
//! the timeout, which then names them and why.

use std::time::Duration;

use crate::protocol::{Convergence, StatusView};
use crate::sync::applied::{Record, Refusal, RejectedRevision};
use crate::sync::record::SourceFailure;

use super::stack::short_revision;

/// Which revision to wait for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The newest revision the cluster has seen.
    Newest,
    /// The revision whose id starts with this prefix.
    Revision(String),
}

/// Where the wait stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The revision is not in force yet: why, one line.
    Pending(String),
    /// The revision is in force and services are on their way: what is still missing, one line
    /// each.
    Waiting(Vec<String>),
    /// The revision is applied (this id) and every service converged.
    Converged {
        /// The applied revision's id.
        revision: String,
    },
    /// It will not get there: why, one line each.
    Failed(Vec<String>),
    /// The time ran out: what was still missing, one line each.
    TimedOut(Vec<String>),
}

/// Decide from `view` whether the wait for `target` is over.
pub fn decide(view: &StatusView, target: &Target) -> Verdict {
    if view.record.source.is_none() {
        return Verdict::Failed(vec![NOT_FOLLOWING.to_owned()]);
    }
    if let Some(failure) = &view.record.source_failure {
        // What is in force may be fine, but the cluster no longer follows Git: not converged.
        // A temporary failure may pass before the timeout; one that needs an operator will not.
        let why = describe_source_failure(failure);
        return if failure.temporary {
            Verdict::Waiting(vec![why])
        } else {
            Verdict::Failed(vec![why])
        };
    }
    match check_revision(&view.record, target) {
        Reached::No(why) => Verdict::Pending(why),
        Reached::Rejected(why) => Verdict::Failed(why),
        Reached::Yes(revision) => judge_services(view, revision),
    }
}

/// Why a cluster without a source is never converged: nothing keeps it at the repository.
pub const NOT_FOLLOWING: &str = "not following any repository: set one with `reconciler source \
                                 set --repo URL` (or start a manager with --repo)";

/// One line: the source cannot be fetched, since when (UTC) and why.
pub fn describe_source_failure(failure: &SourceFailure) -> String {
    format!(
        "cannot fetch the source since {}: {}",
        utc(failure.since_ms),
        failure.error
    )
}

/// `2026-12-07T23:56:37Z` for milliseconds since the epoch.
pub fn utc(ms: u64) -> String {
    let seconds = i64::try_from(ms / 1000).unwrap_or(i64::MAX);
    match time::OffsetDateTime::from_unix_timestamp(seconds) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => format!("{ms} ms after the epoch"),
    }
}

/// The verdict once the time is up: what was still on its way has timed out.
pub fn expire(verdict: Verdict) -> Verdict {
    match verdict {
        Verdict::Pending(why) => Verdict::TimedOut(vec![why]),
        Verdict::Waiting(why) => Verdict::TimedOut(why),
        over => over,
    }
}

/// Whether the record shows the target revision applied.
enum Reached {
    /// Applied: the id in force.
    Yes(String),
    /// Not yet: why.
    No(String),
    /// Rejected or refused: why.
    Rejected(Vec<String>),
}

fn check_revision(record: &Record, target: &Target) -> Reached {
    let applied = record.applied.as_ref().map(|a| a.revision.id.clone());
    let rejected = record.rejected.as_ref();
    match target {
        Target::Newest => {
            let Some(seen) = &record.last_seen else {
                return Reached::No("the cluster has not seen a revision yet".to_owned());
            };
            if let Some(r) = rejected.filter(|r| r.revision.id == seen.id) {
                return Reached::Rejected(describe_rejection(r));
            }
            match applied {
                Some(id) if id == seen.id => Reached::Yes(id),
                _ => Reached::No(format!(
                    "revision {} is being applied",
                    short_revision(&seen.id)
                )),
            }
        }
        Target::Revision(prefix) => {
            if let Some(id) = applied
                .as_ref()
                .filter(|id| id.starts_with(prefix.as_str()))
            {
                return Reached::Yes(id.clone());
            }
            if let Some(r) = rejected.filter(|r| r.revision.id.starts_with(prefix.as_str())) {
                return Reached::Rejected(describe_rejection(r));
            }
            let outcome = record
                .history
                .iter()
                .rev()
                .find(|o| o.revision.starts_with(prefix.as_str()));
            match (outcome, applied) {
                // Applied, then superseded: what is in force now carries it forward.
                (Some(o), Some(id)) if o.result == "applied" || o.result == "unchanged" => {
                    Reached::Yes(id)
                }
                (Some(o), _) if o.result == "rejected" || o.result == "refused" => {
                    Reached::Rejected(vec![format!(
                        "revision {} was {}: {}",
                        short_revision(&o.revision),
                        o.result,
                        o.summary
                    )])
                }
                (_, applied) => Reached::No(format!(
                    "revision {prefix} has not been seen yet (in force: {})",
                    applied
                        .as_deref()
                        .map_or_else(|| "none".to_owned(), short_revision)
                )),
            }
        }
    }
}

/// The revision is in force: the services decide.
fn judge_services(view: &StatusView, revision: String) -> Verdict {
    let services = view.stacks.iter().flat_map(|s| &s.services);
    let lines = |wanted: &dyn Fn(Convergence) -> bool| -> Vec<String> {
        services
            .clone()
            .filter(|s| wanted(s.convergence))
            .flat_map(|s| {
                let reasons = if s.reasons.is_empty() {
                    vec![format!("{} out of {} tasks", s.done, s.desired)]
                } else {
                    s.reasons.clone()
                };
                reasons
                    .into_iter()
                    .map(move |reason| format!("{}: {reason}", s.name))
            })
            .collect()
    };
    let failed = lines(&|c| c == Convergence::Failed);
    if !failed.is_empty() {
        return Verdict::Failed(failed);
    }
    let waiting = lines(&|c| c != Convergence::Converged);
    if waiting.is_empty() {
        Verdict::Converged { revision }
    } else {
        Verdict::Waiting(waiting)
    }
}

/// `revision 1a2b3c4 was rejected:` and its errors with their locations.
pub fn describe_rejection(rejected: &RejectedRevision) -> Vec<String> {
    let verb = match rejected.refusal {
        Refusal::LintErrors { .. } => "rejected",
        Refusal::EmptyDesiredState { .. } => "refused",
    };
    let mut lines = vec![format!(
        "revision {} was {verb}; the last good revision stays in force:",
        short_revision(&rejected.revision.id)
    )];
    match &rejected.refusal {
        Refusal::LintErrors { findings } => lines.extend(
            findings
                .iter()
                .filter(|f| f.severity == "error")
                .map(|f| format!("  {f}")),
        ),
        Refusal::EmptyDesiredState { stacks } => lines.push(format!(
            "  it removes all {stacks} stacks; start the manager with --allow-empty to allow that"
        )),
    }
    lines
}

/// `5m`, `1m30s`, `45s`: how long was waited, for the timeout message.
pub fn format_timeout(timeout: Duration) -> String {
    let seconds = timeout.as_secs();
    match (seconds / 60, seconds % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

#[cfg(test)]
#[path = "wait_test.rs"]
mod tests;
