//! Tests of the change feed: what each command records, and how subscribers accumulate.

use crds::node::NodeState;
use crds::task::{TaskHealth, TaskState};

use super::*;
use crate::raft::fixtures::{node, service, status, task};

/// A state with `shop_web` and one task `t1` of it in `state`.
fn state_with(state: TaskState) -> ClusterState {
    let mut s = ClusterState::default();
    s.services.insert("shop_web".into(), service("shop_web"));
    s.tasks.insert("t1".into(), task("t1", state));
    s
}

fn recorded(state: &ClusterState, cmd: Command) -> Changes {
    let mut changes = Changes::default();
    changes.record(state, &cmd);
    changes
}

fn report(state: TaskState) -> Command {
    Command::UpdateTaskStatus {
        updates: vec![("t1".into(), status(state))],
        at_ms: 1,
    }
}

#[test]
fn progress_toward_running_is_progress_of_the_service() {
    let changes = recorded(&state_with(TaskState::Assigned), report(TaskState::Running));
    assert_eq!(changes.progressed, HashSet::from(["shop_web".to_owned()]));
    assert!(changes.tasks.is_empty() && changes.services.is_empty());
}

#[test]
fn finished_tasks_and_health_changes_need_decisions() {
    let changes = recorded(&state_with(TaskState::Running), report(TaskState::Failed));
    assert_eq!(
        changes.tasks.get("t1").map(String::as_str),
        Some("shop_web")
    );
    assert!(changes.progressed.is_empty());

    let mut healthy = status(TaskState::Running);
    healthy.health = Some(TaskHealth::Healthy);
    let cmd = Command::UpdateTaskStatus {
        updates: vec![("t1".into(), healthy)],
        at_ms: 1,
    };
    let changes = recorded(&state_with(TaskState::Running), cmd);
    assert!(changes.tasks.contains_key("t1"));
}

#[test]
fn reports_that_change_nothing_record_nothing() {
    let state = state_with(TaskState::Running);
    assert!(
        recorded(&state, report(TaskState::Running)).is_empty(),
        "same"
    );
    assert!(
        recorded(&state, report(TaskState::Starting)).is_empty(),
        "stale"
    );
    let unknown = Command::UpdateTaskStatus {
        updates: vec![("nope".into(), status(TaskState::Failed))],
        at_ms: 1,
    };
    assert!(recorded(&state, unknown).is_empty(), "unknown task");
}

#[test]
fn written_and_removed_tasks_are_named_with_their_service() {
    let state = state_with(TaskState::Running);
    let put = Command::PutTasks {
        tasks: vec![task("t2", TaskState::Pending)],
        at_ms: 1,
    };
    assert_eq!(
        recorded(&state, put).tasks,
        HashMap::from([("t2".to_owned(), "shop_web".to_owned())])
    );
    let remove = Command::RemoveTasks {
        ids: vec!["t1".into(), "gone".into()],
    };
    assert_eq!(
        recorded(&state, remove).tasks,
        HashMap::from([("t1".to_owned(), "shop_web".to_owned())])
    );
}

#[test]
fn a_service_status_alone_is_progress_a_spec_change_is_not() {
    let state = state_with(TaskState::Running);
    let mut counted = service("shop_web");
    counted.status.running = 1;
    let cmd = Command::PutServices {
        services: vec![counted],
        at_ms: 1,
    };
    let changes = recorded(&state, cmd);
    assert!(changes.progressed.contains("shop_web") && changes.services.is_empty());

    let new = Command::PutServices {
        services: vec![service("shop_db")],
        at_ms: 1,
    };
    assert!(recorded(&state, new).services.contains("shop_db"));
    let gone = Command::RemoveServices {
        names: vec!["shop_web".into()],
    };
    assert!(recorded(&state, gone).services.contains("shop_web"));
}

#[test]
fn node_and_revision_commands_set_their_flags() {
    let state = ClusterState::default();
    let upsert = Command::UpsertNode {
        node: node("n1"),
        at_ms: 1,
    };
    assert!(recorded(&state, upsert).nodes);
    let down = Command::SetNodeState {
        id: "n1".into(),
        state: NodeState::Down,
        message: None,
        at_ms: 1,
    };
    assert!(recorded(&state, down).nodes);
    let revision = Command::RecordRevision {
        record: crate::raft::fixtures::record("r1"),
    };
    assert!(recorded(&state, revision).revisions);
}

#[test]
fn subscribers_start_with_everything_then_get_what_is_published() {
    let subscribers = Subscribers::default();
    let first = subscribers.subscribe();
    assert!(first.take().everything);
    assert!(first.take().is_empty(), "taking drains");

    let second = subscribers.subscribe();
    let mut one = Changes::default();
    one.services.insert("a".into());
    subscribers.publish(one);
    let mut two = Changes::default();
    two.progressed.insert("b".into());
    subscribers.publish(two);

    let seen = first.take();
    assert_eq!(seen.services, HashSet::from(["a".to_owned()]));
    assert_eq!(seen.progressed, HashSet::from(["b".to_owned()]));
    let seen = second.take();
    assert!(seen.everything, "a new subscriber rescans");
    assert!(
        seen.services.is_empty(),
        "names are dropped once a rescan is due"
    );
}

#[test]
fn dropped_subscribers_are_forgotten() {
    let subscribers = Subscribers::default();
    drop(subscribers.subscribe());
    let kept = subscribers.subscribe();
    kept.take();
    subscribers.publish(Changes {
        nodes: true,
        ..Changes::default()
    });
    assert!(kept.take().nodes);
    assert_eq!(subscribers.lock().len(), 1);
}
