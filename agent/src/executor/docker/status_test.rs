//! Inspections and event messages as the engine sends them (JSON) → statuses and events.

use crds::task::TaskHealth;

use super::{event_of, status_of};
use crate::executor::{ContainerState, EventAction};

fn inspect(state: serde_json::Value, node: &str) -> bollard::models::ContainerInspectResponse {
    serde_json::from_value(serde_json::json!({
        "Id": "c1",
        "Config": {"Labels": {
            "io.reconciler.node": node,
            "io.reconciler.task": "t1",
            "io.reconciler.spec-hash": "h1"
        }},
        "State": state
    }))
    .expect("an inspection")
}

#[test]
fn a_running_container_with_health() {
    let status = status_of(
        &inspect(
            serde_json::json!({"Status": "running", "Health": {"Status": "healthy"}}),
            "n1",
        ),
        "n1",
    )
    .expect("ours");
    assert_eq!(status.container_id, "c1");
    assert_eq!(status.task_id, "t1");
    assert_eq!(status.spec_hash, "h1");
    assert_eq!(status.state, ContainerState::Running);
    assert_eq!(status.health, Some(TaskHealth::Healthy));
}

#[test]
fn an_exited_container_keeps_code_oom_and_error() {
    let status = status_of(
        &inspect(
            serde_json::json!({"Status": "exited", "ExitCode": 137, "OOMKilled": true, "Error": ""}),
            "n1",
        ),
        "n1",
    )
    .expect("ours");
    assert_eq!(
        status.state,
        ContainerState::Exited {
            exit_code: 137,
            oom_killed: true,
            error: None
        }
    );
}

#[test]
fn a_created_container_and_one_without_a_healthcheck() {
    let status = status_of(
        &inspect(serde_json::json!({"Status": "created"}), "n1"),
        "n1",
    );
    let status = status.expect("ours");
    assert_eq!(status.state, ContainerState::Created);
    assert_eq!(status.health, None);
}

#[test]
fn another_nodes_container_is_not_ours() {
    let other = inspect(serde_json::json!({"Status": "running"}), "n2");
    assert_eq!(status_of(&other, "n1"), None);
}

fn message(action: &str) -> bollard::models::EventMessage {
    serde_json::from_value(serde_json::json!({
        "Type": "container",
        "Action": action,
        "Actor": {"ID": "c1", "Attributes": {"io.reconciler.task": "t1", "image": "x"}}
    }))
    .expect("an event")
}

#[test]
fn events_name_their_task_and_action() {
    let cases = [
        ("die", EventAction::Died),
        ("oom", EventAction::OutOfMemory),
        ("destroy", EventAction::Destroyed),
        (
            "health_status: healthy",
            EventAction::Health(TaskHealth::Healthy),
        ),
        (
            "health_status: unhealthy",
            EventAction::Health(TaskHealth::Unhealthy),
        ),
        ("start", EventAction::Other("start".to_owned())),
    ];
    for (action, expected) in cases {
        let event = event_of(&message(action)).expect("a task event");
        assert_eq!(event.container_id, "c1");
        assert_eq!(event.task_id, "t1");
        assert_eq!(event.action, expected, "{action}");
    }
}

#[test]
fn an_event_without_a_task_label_is_dropped() {
    let message: bollard::models::EventMessage = serde_json::from_value(serde_json::json!({
        "Action": "die", "Actor": {"ID": "c1", "Attributes": {}}
    }))
    .expect("an event");
    assert_eq!(event_of(&message), None);
}
