use crds::diagnostic::Finding;

use super::*;
use crate::protocol::{Convergence, ServiceProgress, StackView, SyncState};
use crate::raft::fixtures::record;
use crate::sync::applied::{Refusal, RejectedRevision};

fn view() -> StatusView {
    StatusView {
        cluster_id: "test".into(),
        leader: Some("m1".into()),
        term: 3,
        nodes: (3, 2),
        managers: 1,
        record: record("c0ffee1234"),
        stacks: vec![StackView {
            name: "shop".into(),
            sync: SyncState::Progressing,
            revision: Some("c0ffee1234".into()),
            rejected: None,
            services: vec![ServiceProgress {
                name: "shop_web".into(),
                short_name: "web".into(),
                convergence: Convergence::Progressing,
                done: 1,
                desired: 2,
                completed: 0,
                reasons: vec!["1 task starting".into()],
            }],
        }],
    }
}

#[test]
fn status_shows_each_stacks_sync_state_and_what_holds_it_up() {
    let expected = "\
Source: git https://example.com/ops.git branch main path /stacks
Applied revision: c0ffee1234 \"deploy shop\" by Ada

NAME   SERVICES   SYNC          REVISION
shop   1          progressing   c0ffee1
  shop_web: progressing: 1 task starting

Cluster test: 1 managers, 2/3 nodes ready, leader m1
";
    assert_eq!(render(&view()), expected);
}

#[test]
fn a_rejected_revision_is_listed_with_its_errors_and_locations() {
    let mut view = view();
    let mut info = view.record.last_seen.clone().expect("seen");
    info.id = "badbadbad".into();
    info.message = Some("break it".into());
    view.record.rejected = Some(RejectedRevision {
        revision: info,
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
    let text = render(&view);
    assert!(
        text.contains(
            "\nRejected revision: badbadbad \"break it\"\n  shop/compose.yaml:4:12 \
             error[image-required] service web has no image\nThe applied revision stays in \
             force until a good revision arrives.\n"
        ),
        "{text}"
    );
}

#[test]
fn wait_options_need_wait() {
    use clap::Parser;
    let parse = |args: &[&str]| crate::cli::Cli::try_parse_from(args);
    assert!(parse(&["reconciler", "status", "--timeout", "1m"]).is_err());
    let cli = parse(&["reconciler", "status", "--wait", "--revision", "c0f"]).expect("parses");
    match cli.command {
        Some(crate::cli::Command::Status(args)) => {
            assert_eq!(args.timeout, Duration::from_secs(300));
            assert_eq!(args.revision.as_deref(), Some("c0f"));
        }
        other => panic!("not status: {other:?}"),
    }
}

fn converged(mut view: StatusView) -> StatusView {
    for stack in &mut view.stacks {
        stack.sync = SyncState::Synced;
        for service in &mut stack.services {
            service.convergence = Convergence::Converged;
            service.done = service.desired;
            service.reasons.clear();
        }
    }
    view
}

#[test]
fn the_verdict_says_converged_only_when_every_service_converged() {
    let progressing = view();
    let verdict = wait::decide(&progressing, &Target::Newest);
    assert_eq!(
        verdict_parts(&verdict),
        ("progressing", vec!["shop_web: 1 task starting".to_owned()])
    );
    let done = converged(view());
    assert_eq!(
        verdict_parts(&wait::decide(&done, &Target::Newest)).0,
        "converged"
    );
    let mut rolled_back = view();
    rolled_back.stacks[0].services[0].convergence = Convergence::Failed;
    rolled_back.stacks[0].services[0].reasons = vec!["update rolled back".into()];
    assert_eq!(
        verdict_parts(&wait::decide(&rolled_back, &Target::Newest)),
        ("failed", vec!["shop_web: update rolled back".to_owned()])
    );
}

#[test]
fn the_json_carries_the_verdict_the_exit_code_follows() {
    let read = Read {
        data: view(),
        answered_by: "m1".into(),
        possibly_stale: false,
    };
    let verdict = wait::decide(&read.data, &Target::Newest);
    let json: serde_json::Value =
        serde_json::from_str(&to_json_with(&read, &verdict)).expect("json");
    assert_eq!(json["verdict"]["state"], "progressing");
    assert_eq!(json["verdict"]["reasons"][0], "shop_web: 1 task starting");
}
