use crds::task::{Task, TaskState};
use tokio::sync::mpsc;

use std::collections::BTreeMap;

use super::*;
use crate::raft::changes::Changes;
use crate::raft::fixtures::{changed_tasks as changed, service, status, task};
use crate::raft::state::ClusterState;

fn on(id: &str, node: &str, state: TaskState, version: u64) -> Task {
    let mut t = task(id, state);
    t.node = Some(node.into());
    t.meta.version = version;
    t.spec_hash = service("shop_web").spec.template_hash();
    t
}

fn state(tasks: Vec<Task>, version: u64) -> ClusterState {
    let mut s = ClusterState {
        version,
        ..ClusterState::default()
    };
    s.services.insert("shop_web".into(), service("shop_web"));
    for t in tasks {
        s.tasks.insert(t.meta.id.clone(), t);
    }
    s
}

fn connected(nodes: &[&str]) -> (Sessions, Vec<mpsc::UnboundedReceiver<AssignmentBatch>>) {
    let mut sessions = Sessions::default();
    let rxs = nodes
        .iter()
        .map(|n| {
            let (tx, rx) = mpsc::unbounded_channel();
            sessions.connect(n, tx);
            rx
        })
        .collect();
    (sessions, rxs)
}

#[test]
fn a_new_session_gets_its_full_set_with_specs_once() {
    let (mut sessions, _rx) = connected(&["n1", "n2"]);
    let s = state(
        vec![
            on("t1", "n1", TaskState::Running, 1),
            on("t2", "n1", TaskState::Assigned, 2),
            on("t3", "n2", TaskState::Assigned, 2),
            // Not placed yet, or history: not part of any set.
            on("t4", "n2", TaskState::Pending, 2),
            Task {
                desired_state: TaskState::Shutdown,
                ..on("t5", "n2", TaskState::Shutdown, 2)
            },
        ],
        2,
    );
    let batches = sessions.compute(&s, &Changes::default());
    assert_eq!(
        summary(&batches),
        [("n1".into(), (true, 2, 0)), ("n2".into(), (true, 1, 0))].into()
    );
    for (_, b) in &batches {
        assert_eq!(b.specs.len(), 1, "the spec travels with the first task");
    }
    let all = changed(&["t1", "t2", "t3", "t4", "t5"]);
    assert!(
        sessions.compute(&s, &all).is_empty(),
        "nothing new, nothing sent"
    );
    assert!(
        sessions.compute(&s, &Changes::everything()).is_empty(),
        "a rescan sends nothing new either"
    );
}

#[test]
fn deltas_carry_changed_tasks_and_departures() {
    let (mut sessions, _rx) = connected(&["n1"]);
    let mut s = state(
        vec![
            on("t1", "n1", TaskState::Running, 1),
            on("t2", "n1", TaskState::Running, 1),
            on("t3", "n1", TaskState::Running, 1),
        ],
        1,
    );
    sessions.compute(&s, &Changes::everything());
    // t1 is told to stop, t2 finished for good, t3 is deleted, t4 is new.
    if let Some(t) = s.tasks.get_mut("t1") {
        t.desired_state = TaskState::Shutdown;
        t.meta.version = 2;
    }
    if let Some(t) = s.tasks.get_mut("t2") {
        t.desired_state = TaskState::Shutdown;
        t.status = status(TaskState::Shutdown);
        t.meta.version = 2;
    }
    s.tasks.remove("t3");
    s.tasks
        .insert("t4".into(), on("t4", "n1", TaskState::Assigned, 2));
    s.version = 2;
    let batches = sessions.compute(&s, &changed(&["t1", "t2", "t3", "t4"]));
    assert_eq!(batches.len(), 1);
    let b = &batches[0].1;
    assert!(!b.full);
    let mut sent: Vec<&str> = b.tasks.iter().map(|t| t.meta.id.as_str()).collect();
    sent.sort();
    assert_eq!(sent, ["t1", "t4"]);
    let mut removed = b.removed.clone();
    removed.sort();
    assert_eq!(removed, ["t2", "t3"]);
    assert!(b.specs.is_empty(), "the spec was sent already");
}

#[test]
fn a_reconnecting_node_gets_the_full_set_again() {
    let (mut sessions, _rx) = connected(&["n1"]);
    let s = state(vec![on("t1", "n1", TaskState::Running, 1)], 1);
    sessions.compute(&s, &Changes::everything());
    let (tx, _rx2) = mpsc::unbounded_channel();
    sessions.connect("n1", tx);
    let batches = sessions.compute(&s, &Changes::default());
    assert_eq!(summary(&batches), [("n1".into(), (true, 1, 0))].into());
}

#[test]
fn sessions_whose_receiver_is_gone_are_dropped_on_send() {
    let (mut sessions, rxs) = connected(&["n1", "n2"]);
    drop(rxs);
    let s = state(vec![on("t1", "n1", TaskState::Running, 1)], 1);
    let batches = sessions.compute(&s, &Changes::default());
    sessions.send(batches);
    assert!(sessions.is_empty());
}

#[test]
fn status_reports_are_not_echoed_to_the_reporting_node() {
    let (mut sessions, _rx) = connected(&["n1"]);
    let mut s = state(vec![on("t1", "n1", TaskState::Assigned, 1)], 1);
    sessions.compute(&s, &Changes::everything());
    if let Some(t) = s.tasks.get_mut("t1") {
        t.status = status(TaskState::Running);
        t.meta.version = 2;
    }
    assert!(sessions.compute(&s, &changed(&["t1"])).is_empty());
}

#[test]
fn a_rescan_finds_tasks_deleted_meanwhile() {
    let (mut sessions, _rx) = connected(&["n1"]);
    let mut s = state(vec![on("t1", "n1", TaskState::Running, 1)], 1);
    sessions.compute(&s, &Changes::everything());
    s.tasks.remove("t1");
    let batches = sessions.compute(&s, &Changes::everything());
    assert_eq!(summary(&batches), [("n1".into(), (false, 0, 1))].into());
}

#[test]
fn a_task_moved_to_another_node_leaves_the_first() {
    let (mut sessions, _rx) = connected(&["n1", "n2"]);
    let mut s = state(vec![on("t1", "n1", TaskState::Assigned, 1)], 1);
    sessions.compute(&s, &Changes::everything());
    if let Some(t) = s.tasks.get_mut("t1") {
        t.node = Some("n2".into());
    }
    let batches = sessions.compute(&s, &changed(&["t1"]));
    assert_eq!(
        summary(&batches),
        [("n1".into(), (false, 0, 1)), ("n2".into(), (false, 1, 0))].into()
    );
}

/// `(full, tasks, removed)` per node.
fn summary(batches: &[(String, AssignmentBatch)]) -> BTreeMap<String, (bool, usize, usize)> {
    batches
        .iter()
        .map(|(n, b)| (n.clone(), (b.full, b.tasks.len(), b.removed.len())))
        .collect()
}
