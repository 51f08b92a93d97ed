use super::*;
use crate::protocol::{Convergence, ServiceProgress};

fn service(name: &str, convergence: Convergence, reasons: &[&str]) -> ServiceProgress {
    ServiceProgress {
        name: name.into(),
        short_name: name.split('_').nth(1).unwrap_or(name).into(),
        convergence,
        done: 1,
        desired: 2,
        completed: 0,
        reasons: reasons.iter().map(|r| (*r).to_owned()).collect(),
    }
}

fn stacks() -> Vec<StackView> {
    vec![
        StackView {
            name: "shop".into(),
            sync: SyncState::Degraded,
            revision: Some("1a2b3c4d5e6f".into()),
            rejected: Some("9f8e7d6c5b4a".into()),
            services: vec![
                service("shop_db", Convergence::Converged, &[]),
                service(
                    "shop_web",
                    Convergence::Degraded,
                    &["web.2 pending: no suitable node"],
                ),
            ],
        },
        StackView {
            name: "blog".into(),
            sync: SyncState::Synced,
            revision: Some("1a2b3c4d5e6f".into()),
            rejected: None,
            services: vec![service("blog_web", Convergence::Converged, &[])],
        },
        StackView {
            name: "old".into(),
            sync: SyncState::Progressing,
            revision: None,
            rejected: None,
            services: vec![service(
                "old_web",
                Convergence::Progressing,
                &["being removed"],
            )],
        },
    ]
}

#[test]
fn stack_ls_shows_sync_state_revision_and_a_rejected_newer_revision() {
    let expected = "\
NAME   SERVICES   SYNC                                REVISION
blog   1          synced                              1a2b3c4
old    1          progressing
shop   2          degraded (newer 9f8e7d6 rejected)   1a2b3c4
";
    assert_eq!(render_stacks(&stacks()), expected);
}

#[test]
fn reasons_name_the_service_and_its_state() {
    assert_eq!(
        render_reasons(&stacks()),
        "  shop_web: degraded: web.2 pending: no suitable node\n  old_web: progressing: being removed\n"
    );
}
