use crds::diagnostic::Finding;

use super::*;
use crate::protocol::{ServiceProgress, StackView};
use crate::raft::fixtures::record;
use crate::sync::applied::{Outcome, RevisionInfo};
use crate::views::stacks::sync_of;

fn service(name: &str, convergence: Convergence, done: u64, reasons: &[&str]) -> ServiceProgress {
    ServiceProgress {
        name: format!("shop_{name}"),
        short_name: name.to_owned(),
        convergence,
        done,
        desired: 2,
        completed: 0,
        reasons: reasons.iter().map(|r| (*r).to_owned()).collect(),
    }
}

fn converged(name: &str) -> ServiceProgress {
    service(name, Convergence::Converged, 2, &[])
}

/// `shop` applied at `c0ffee` with these services.
fn view(services: Vec<ServiceProgress>) -> StatusView {
    StatusView {
        cluster_id: "test".into(),
        leader: Some("m1".into()),
        term: 1,
        nodes: (1, 1),
        managers: 1,
        record: record("c0ffee"),
        stacks: vec![StackView {
            name: "shop".into(),
            sync: sync_of(&services),
            revision: Some("c0ffee".into()),
            rejected: None,
            services,
        }],
    }
}

fn info(id: &str) -> RevisionInfo {
    let mut info = record(id).last_seen.expect("the fixture has one");
    info.id = id.into();
    info
}

fn rejected(mut view: StatusView, id: &str) -> StatusView {
    view.record.last_seen = Some(info(id));
    view.record.rejected = Some(RejectedRevision {
        revision: info(id),
        at_ms: 3_000,
        refusal: Refusal::LintErrors {
            findings: vec![Finding {
                file: "shop/compose.yaml".into(),
                line: Some(4),
                column: Some(12),
                severity: "error".into(),
                rule: "image-required".into(),
                message: "service web has no image".into(),
                help: None,
            }],
        },
    });
    view.record.push_history(Outcome {
        revision: id.into(),
        at_ms: 3_000,
        result: "rejected".into(),
        summary: "shop/compose.yaml:4:12 error[image-required] service web has no image".into(),
    });
    view
}

fn newest(view: &StatusView) -> Verdict {
    decide(view, &Target::Newest)
}

#[test]
fn every_service_converged_on_the_newest_revision_ends_the_wait() {
    let view = view(vec![converged("web"), converged("db")]);
    assert_eq!(
        newest(&view),
        Verdict::Converged {
            revision: "c0ffee".into()
        }
    );
}

/// docker/cli#5299: one-shot services whose tasks completed must not hold the wait up.
#[test]
fn completed_one_shot_services_do_not_hold_the_wait() {
    let mut job = converged("migrate");
    job.completed = 2;
    let view = view(vec![converged("web"), job]);
    assert!(matches!(newest(&view), Verdict::Converged { .. }));
}

#[test]
fn progressing_services_keep_the_wait_going_until_the_timeout_names_them() {
    let view = view(vec![
        converged("db"),
        service("web", Convergence::Progressing, 1, &["1 task starting"]),
    ]);
    let why = vec!["shop_web: 1 task starting".to_owned()];
    assert_eq!(newest(&view), Verdict::Waiting(why.clone()));
    assert_eq!(expire(newest(&view)), Verdict::TimedOut(why));
}

#[test]
fn degraded_services_may_recover_so_only_the_timeout_ends_the_wait_with_their_reasons() {
    let view = view(vec![service(
        "web",
        Convergence::Degraded,
        1,
        &["web.2 pending: no suitable node (1 node insufficient memory)"],
    )]);
    let why = vec!["shop_web: web.2 pending: no suitable node (1 node insufficient memory)".into()];
    assert_eq!(newest(&view), Verdict::Waiting(why.clone()));
    assert_eq!(expire(newest(&view)), Verdict::TimedOut(why));
}

#[test]
fn a_service_that_cannot_converge_fails_the_wait_at_once() {
    let view = view(vec![
        service("web", Convergence::Progressing, 1, &["1 task starting"]),
        service(
            "api",
            Convergence::Failed,
            2,
            &["update rolled back: task x failed: exit code 1"],
        ),
        service(
            "job",
            Convergence::Failed,
            0,
            &["job.1 failed: exit code 3; not restarted: restart_policy.max_attempts (2) reached"],
        ),
    ]);
    assert_eq!(
        newest(&view),
        Verdict::Failed(vec![
            "shop_api: update rolled back: task x failed: exit code 1".into(),
            "shop_job: job.1 failed: exit code 3; not restarted: restart_policy.max_attempts (2) \
             reached"
                .into(),
        ])
    );
}

#[test]
fn a_rejected_newest_revision_fails_the_wait_with_its_errors() {
    let view = rejected(view(vec![converged("web")]), "badbadbad");
    assert_eq!(
        newest(&view),
        Verdict::Failed(vec![
            "revision badbadb was rejected; the last good revision stays in force:".into(),
            "  shop/compose.yaml:4:12 error[image-required] service web has no image".into(),
        ])
    );
}

#[test]
fn a_revision_seen_but_not_applied_yet_is_waited_for() {
    let mut view = view(vec![converged("web")]);
    view.record.last_seen = Some(info("1234567890"));
    assert_eq!(
        newest(&view),
        Verdict::Pending("revision 1234567 is being applied".into())
    );
    view.record.last_seen = None;
    assert_eq!(
        newest(&view),
        Verdict::Pending("the cluster has not seen a revision yet".into())
    );
}

#[test]
fn a_given_revision_is_found_by_prefix_in_force_in_history_or_not_yet() {
    let view = view(vec![converged("web")]);
    let target = |prefix: &str| Target::Revision(prefix.into());
    assert!(matches!(
        decide(&view, &target("c0f")),
        Verdict::Converged { .. }
    ));
    assert_eq!(
        decide(&view, &target("deadbee")),
        Verdict::Pending("revision deadbee has not been seen yet (in force: c0ffee)".into())
    );
    assert_eq!(
        expire(decide(&view, &target("deadbee"))),
        Verdict::TimedOut(vec![
            "revision deadbee has not been seen yet (in force: c0ffee)".into()
        ])
    );
    // Applied, then superseded by c0ffee: judged on what is in force now.
    let mut superseded = view.clone();
    superseded.record.history.insert(
        0,
        Outcome {
            revision: "0ld0ld".into(),
            at_ms: 1_000,
            result: "applied".into(),
            summary: "1 to add".into(),
        },
    );
    assert_eq!(
        decide(&superseded, &target("0ld")),
        Verdict::Converged {
            revision: "c0ffee".into()
        }
    );
    // Rejected, then superseded by a good revision: still a failure for the one asked for.
    let mut later = rejected(view, "badbadbad");
    later.record.rejected = None;
    later.record.last_seen = Some(info("c0ffee"));
    assert_eq!(
        decide(&later, &target("badbad")),
        Verdict::Failed(vec![
            "revision badbadb was rejected: shop/compose.yaml:4:12 error[image-required] service \
             web has no image"
                .into()
        ])
    );
}

#[test]
fn a_refused_empty_revision_fails_the_wait() {
    let mut view = rejected(view(vec![converged("web")]), "e3e3e3e");
    if let Some(r) = view.record.rejected.as_mut() {
        r.refusal = Refusal::EmptyDesiredState { stacks: 1 };
    }
    assert_eq!(
        newest(&view),
        Verdict::Failed(vec![
            "revision e3e3e3e was refused; the last good revision stays in force:".into(),
            "  it removes all 1 stacks; start the manager with --allow-empty to allow that".into(),
        ])
    );
}

#[test]
fn timeouts_are_worded_briefly() {
    let cases = [(45, "45s"), (300, "5m"), (90, "1m30s")];
    for (seconds, words) in cases {
        assert_eq!(format_timeout(Duration::from_secs(seconds)), words);
    }
}

#[test]
fn a_source_that_cannot_be_fetched_is_not_converged_and_says_since_when() {
    let mut failing = view(vec![converged("web")]);
    failing.record.source_failure = Some(SourceFailure {
        error: "git: authentication failed for https://example.com/ops.git".into(),
        since_ms: 1_796_687_797_000,
        temporary: false,
    });
    let why = "cannot fetch the source since 2026-12-07T23:56:37Z: \
               git: authentication failed for https://example.com/ops.git";
    assert_eq!(newest(&failing), Verdict::Failed(vec![why.into()]));

    let flaky = failing.record.source_failure.as_mut().expect("set above");
    flaky.temporary = true;
    assert!(
        matches!(newest(&failing), Verdict::Waiting(_)),
        "a network hiccup may pass before the timeout"
    );
    assert!(matches!(
        expire(newest(&failing)),
        Verdict::TimedOut(lines) if lines[0].starts_with("cannot fetch the source since")
    ));
}
