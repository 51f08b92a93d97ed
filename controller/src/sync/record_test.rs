use std::collections::BTreeMap;

use crds::revision::RevisionOrigin;

use super::*;
use crate::desired::DesiredState;
use crate::sync::{Options, decide};

fn revision(id: &str) -> RevisionInfo {
    RevisionInfo {
        id: id.into(),
        origin: RevisionOrigin::Directory {
            path: "stacks".into(),
        },
        author: None,
        message: None,
        time_ms: None,
    }
}

fn state(names: &[&str]) -> DesiredState {
    DesiredState {
        stacks: names
            .iter()
            .map(|n| ((*n).to_owned(), Stack::empty(n)))
            .collect::<BTreeMap<_, _>>(),
    }
}

fn error(message: &str) -> Finding {
    Finding {
        file: "web/compose.yml".into(),
        line: Some(3),
        column: Some(5),
        severity: "error".into(),
        rule: "yaml-syntax".into(),
        message: message.into(),
        help: None,
    }
}

/// The record after revision `id` holding `stacks` was decided at `at_ms`.
fn after(
    record: RevisionRecord,
    id: &str,
    stacks: &[&str],
    at_ms: u64,
) -> (RevisionRecord, Verdict) {
    let applied = state(
        &record
            .applied_stacks()
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let desired = state(stacks);
    let decision = decide(Ok(&desired), &applied, Options::default());
    record.after(decision, revision(id), Vec::new(), at_ms)
}

#[test]
fn an_applied_revision_replaces_the_one_in_force_and_clears_a_rejection() {
    let (record, _) = after(RevisionRecord::default(), "a1", &["web"], 10);
    let (record, _) = record.after(
        Decision::Reject {
            findings: vec![error("bad indent")],
        },
        revision("b2"),
        Vec::new(),
        20,
    );
    assert!(record.rejected.is_some());
    let (record, verdict) = after(record, "c3", &["web", "db"], 30);
    assert_eq!(verdict.result, "applied");
    assert_eq!(
        verdict.plan.map(|p| p.to_string()),
        Some(verdict.summary.clone())
    );
    let applied = record.applied.as_ref().expect("applied");
    assert_eq!((applied.revision.id.as_str(), applied.at_ms), ("c3", 30));
    assert_eq!(applied.stacks.keys().collect::<Vec<_>>(), vec!["db", "web"]);
    assert_eq!(record.rejected, None);
    assert_eq!(record.last_seen.as_ref().map(|r| r.id.as_str()), Some("c3"));
}

#[test]
fn a_rejected_revision_keeps_the_last_good_one_and_names_its_first_error() {
    let (good, _) = after(RevisionRecord::default(), "a1", &["web"], 10);
    let findings = vec![
        Finding {
            severity: "warning".into(),
            ..error("unused network")
        },
        error("bad indent"),
    ];
    let (record, verdict) = good.clone().after(
        Decision::Reject {
            findings: findings.clone(),
        },
        revision("b2"),
        Vec::new(),
        20,
    );
    assert_eq!(verdict.result, "rejected");
    assert_eq!(verdict.plan, None);
    assert!(
        verdict.summary.contains("bad indent"),
        "{}",
        verdict.summary
    );
    assert_eq!(
        record.applied, good.applied,
        "the applied revision is untouched"
    );
    let rejected = record.rejected.expect("rejected");
    assert_eq!(rejected.revision.id, "b2");
    assert_eq!(rejected.refusal, Refusal::LintErrors { findings });
    assert_eq!(record.last_seen.map(|r| r.id), Some("b2".to_owned()));
}

#[test]
fn a_revision_removing_every_stack_is_refused_and_the_stacks_stay() {
    let (good, _) = after(RevisionRecord::default(), "a1", &["web", "db"], 10);
    let (record, verdict) = after(good.clone(), "b2", &[], 20);
    assert_eq!(verdict.result, "refused");
    assert_eq!(verdict.summary, "would remove all 2 stacks");
    assert_eq!(record.applied, good.applied);
    assert_eq!(
        record.rejected.map(|r| r.refusal),
        Some(Refusal::EmptyDesiredState { stacks: 2 })
    );
}

#[test]
fn the_same_content_again_is_unchanged_but_the_applied_revision_moves_to_the_new_commit() {
    let (record, _) = after(RevisionRecord::default(), "a1", &["web"], 10);
    let (record, verdict) = after(record, "a2", &["web"], 20);
    assert_eq!(verdict.result, "unchanged");
    assert_eq!(verdict.plan, Some(PlanSummary::default()));
    let applied = record.applied.as_ref().expect("applied");
    assert_eq!(applied.revision.id, "a2");
    assert_eq!(applied.at_ms, 10, "applied when its content first was");
}

#[test]
fn every_decision_is_one_line_of_history() {
    let mut record = RevisionRecord::default();
    for (i, stacks) in [&["web"][..], &["web"], &[], &["web", "db"]]
        .iter()
        .enumerate()
    {
        record = after(record, &format!("r{i}"), stacks, i as u64).0;
    }
    let results: Vec<_> = record.history.iter().map(|o| o.result.as_str()).collect();
    assert_eq!(results, vec!["applied", "unchanged", "refused", "applied"]);
    assert_eq!(record.history[3].revision, "r3");
}

#[test]
fn a_fetch_failure_is_kept_from_its_first_time_until_a_fetch_works() {
    let start = RevisionRecord::default();
    let failing = start
        .after_source_failure("remote unreachable".into(), true, 1_000)
        .expect("a new failure is recorded");
    assert_eq!(
        failing.source_failure,
        Some(SourceFailure {
            error: "remote unreachable".into(),
            since_ms: 1_000,
            temporary: true,
        })
    );
    assert_eq!(
        failing.after_source_failure("remote unreachable".into(), true, 2_000),
        None,
        "the same failure is not written at every poll"
    );
    let worse = failing
        .after_source_failure("authentication failed".into(), false, 3_000)
        .expect("a different failure is recorded");
    let f = worse.source_failure.as_ref().expect("still failing");
    assert_eq!(
        (f.since_ms, f.temporary),
        (1_000, false),
        "since the first failure"
    );

    let recovered = worse.after_source_recovered().expect("cleared");
    assert_eq!(recovered.source_failure, None);
    assert_eq!(recovered.after_source_recovered(), None, "nothing to clear");

    let (applied, _) = after(worse, "c0ffee", &["web"], 4_000);
    assert_eq!(
        applied.source_failure, None,
        "a fetched revision ends the failure"
    );
}
