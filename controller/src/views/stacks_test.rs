use crds::task::TaskState;

use super::*;
use crate::raft::fixtures::{record, service, task};
use crate::sync::record::{Refusal, RejectedRevision, RevisionInfo};

const NOW: u64 = 1_000_000;

/// `shop` applied at `c0ffee`, both services stored, each with one running task.
fn converged() -> ClusterState {
    let mut state = ClusterState {
        revisions: record("c0ffee"),
        ..ClusterState::default()
    };
    for name in ["shop_web", "shop_db"] {
        let service = service(name);
        let mut t = task(&format!("{name}.1"), TaskState::Running);
        t.service = name.into();
        t.spec_hash = service.spec.template_hash();
        state.tasks.insert(t.meta.id.clone(), t);
        state.services.insert(name.into(), service);
    }
    state
}

fn info(id: &str) -> RevisionInfo {
    let mut info = record(id).last_seen.expect("the fixture has one");
    info.id = id.into();
    info
}

fn one(state: &ClusterState) -> StackView {
    let mut views = compute_stack_views(state, NOW);
    assert_eq!(views.len(), 1, "{views:?}");
    views.remove(0)
}

#[test]
fn a_stack_whose_services_converged_on_the_newest_revision_is_synced() {
    let view = one(&converged());
    assert_eq!(view.name, "shop");
    assert_eq!(view.sync, SyncState::Synced);
    assert_eq!(view.revision.as_deref(), Some("c0ffee"));
    assert_eq!(view.rejected, None);
    let names: Vec<&str> = view.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["shop_db", "shop_web"]);
}

#[test]
fn a_rejected_newer_revision_is_shown_while_the_stack_stays_synced_on_the_last_good_one() {
    let mut state = converged();
    state.revisions.last_seen = Some(info("bad"));
    state.revisions.rejected = Some(RejectedRevision {
        revision: info("bad"),
        at_ms: 3_000,
        refusal: Refusal::LintErrors {
            findings: Vec::new(),
        },
    });
    let view = one(&state);
    assert_eq!(view.sync, SyncState::Synced);
    assert_eq!(view.revision.as_deref(), Some("c0ffee"));
    assert_eq!(view.rejected.as_deref(), Some("bad"));
}

#[test]
fn a_newer_revision_seen_but_not_applied_yet_is_progressing() {
    let mut state = converged();
    state.revisions.last_seen = Some(info("newer"));
    assert_eq!(one(&state).sync, SyncState::Progressing);
}

#[test]
fn a_degraded_service_degrades_its_stack() {
    let mut state = converged();
    let pending = state.tasks.get_mut("shop_web.1").expect("the web task");
    pending.status.state = TaskState::Pending;
    pending.status.message = Some("no suitable node".into());
    let view = one(&state);
    assert_eq!(view.sync, SyncState::Degraded);
    let web = &view.services[1];
    assert_eq!(web.convergence, Convergence::Degraded);
    assert_eq!(web.reasons, ["web.1 pending: no suitable node"]);
}

#[test]
fn services_not_created_yet_make_the_stack_progressing() {
    let mut state = converged();
    state.services.remove("shop_db");
    let view = one(&state);
    assert_eq!(view.sync, SyncState::Progressing);
    assert_eq!(view.services[0].reasons, ["not created yet"]);
}

#[test]
fn a_stack_gone_from_the_revision_is_listed_while_its_services_are_removed() {
    let mut state = converged();
    let mut other = service("shop_web");
    other.spec.stack = "old".into();
    other.spec.name = "old_web".into();
    state.services.insert("old_web".into(), other);
    assert_eq!(known_stacks(&state), ["old", "shop"]);
    let views = compute_stack_views(&state, NOW);
    let old = &views[0];
    assert_eq!(old.name, "old");
    assert_eq!(old.sync, SyncState::Progressing);
    assert_eq!(old.revision, None);
    assert_eq!(old.services[0].reasons, ["being removed"]);
    assert_eq!(views[1].sync, SyncState::Synced);
}

#[test]
fn a_stack_without_services_is_synced() {
    assert_eq!(sync_of(&[]), SyncState::Synced);
}
