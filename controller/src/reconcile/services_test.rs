use crds::service::{Service, ServiceMode, UpdateState, UpdateStatus};

use super::*;
use crate::raft::fixtures::{record, service};

fn applied() -> ClusterState {
    ClusterState {
        revisions: record("c0ffee"),
        ..ClusterState::default()
    }
}

/// Apply `commands` the way the leader would.
fn apply(state: &mut ClusterState, commands: &[Command]) {
    for c in commands {
        state.apply(c);
    }
}

fn desired_web(state: &mut ClusterState) -> &mut ServiceSpec {
    state
        .revisions
        .applied
        .as_mut()
        .and_then(|a| a.stacks.get_mut("shop"))
        .and_then(|s| s.services.get_mut("shop_web"))
        .expect("shop_web in the applied revision")
}

#[test]
fn every_applied_service_is_created_once() {
    let mut state = applied();
    let commands = plan(&state, 10);
    assert_eq!(commands.len(), 2, "one command per service: {commands:?}");
    apply(&mut state, &commands);
    assert_eq!(
        state.services.keys().collect::<Vec<_>>(),
        ["shop_db", "shop_web"]
    );
    assert_eq!(state.services["shop_web"].spec, service("shop_web").spec);
    assert!(
        plan(&state, 20).is_empty(),
        "applying twice changes nothing"
    );
}

#[test]
fn scaling_changes_the_spec_without_starting_an_update() {
    let mut state = applied();
    let commands = plan(&state, 10);
    apply(&mut state, &commands);
    desired_web(&mut state).mode = ServiceMode::Replicated { replicas: 5 };
    let commands = plan(&state, 20);
    apply(&mut state, &commands);
    let web = &state.services["shop_web"];
    assert_eq!(web.spec.mode, ServiceMode::Replicated { replicas: 5 });
    assert_eq!(web.previous_spec, None);
}

#[test]
fn a_new_image_keeps_the_old_spec_for_rollback_and_restarts_the_update() {
    let mut state = applied();
    let commands = plan(&state, 10);
    apply(&mut state, &commands);
    if let Some(s) = state.services.get_mut("shop_web") {
        s.update = Some(UpdateStatus {
            state: UpdateState::Completed,
            started_at_ms: 1,
            completed_at_ms: Some(2),
            message: String::new(),
            rolled_back_spec: None,
        })
    }
    desired_web(&mut state).image = "nginx:1.28".into();
    let commands = plan(&state, 20);
    apply(&mut state, &commands);
    let web: &Service = &state.services["shop_web"];
    assert_eq!(web.spec.image, "nginx:1.28");
    assert_eq!(
        web.previous_spec.as_ref().map(|s| s.image.as_str()),
        Some("nginx:1.27")
    );
    assert_eq!(web.update, None, "the orchestrator starts the new update");
}

#[test]
fn a_rolled_back_spec_is_not_applied_again_until_the_revision_changes_it() {
    let mut state = applied();
    let commands = plan(&state, 10);
    apply(&mut state, &commands);
    desired_web(&mut state).image = "nginx:broken".into();
    let broken = desired_web(&mut state).spec_hash();
    if let Some(s) = state.services.get_mut("shop_web") {
        s.update = Some(UpdateStatus {
            state: UpdateState::RollbackCompleted,
            started_at_ms: 1,
            completed_at_ms: Some(2),
            message: "update rolled back".into(),
            rolled_back_spec: Some(broken),
        })
    }
    assert!(
        plan(&state, 20).is_empty(),
        "the rolled-back spec stays out"
    );
    desired_web(&mut state).image = "nginx:fixed".into();
    let commands = plan(&state, 30);
    apply(&mut state, &commands);
    assert_eq!(state.services["shop_web"].spec.image, "nginx:fixed");
}

#[test]
fn services_gone_from_the_revision_are_removed() {
    let mut state = applied();
    let commands = plan(&state, 10);
    apply(&mut state, &commands);
    state
        .revisions
        .applied
        .as_mut()
        .and_then(|a| a.stacks.get_mut("shop"))
        .map(|s| s.services.remove("shop_db"));
    let commands = plan(&state, 20);
    assert_eq!(
        commands,
        [Command::RemoveServices {
            names: vec!["shop_db".into()]
        }]
    );
}
