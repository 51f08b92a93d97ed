use crds::node::NodeState;
use crds::task::TaskState;

use super::*;
use crate::raft::fixtures::{node, record};

/// `shop` applied (web and db, one replica each) on two ready nodes.
fn cluster() -> ClusterState {
    let mut state = ClusterState {
        revisions: record("c0ffee"),
        ..ClusterState::default()
    };
    for id in ["n1", "n2"] {
        let mut n = node(id);
        n.status.state = NodeState::Ready;
        n.description.cpus = crds::units::Cpus(2_000_000_000);
        n.description.memory = crds::units::ByteSize(4 << 30);
        state.nodes.insert(id.into(), n);
    }
    state
}

fn ids() -> impl FnMut() -> String {
    let mut next = 0;
    move || {
        next += 1;
        format!("task{next}")
    }
}

/// Decide and apply until nothing is left to decide; returns the passes it took.
fn settle(state: &mut ClusterState, now: u64) -> usize {
    let mut new_id = ids();
    for pass in 0..10 {
        let decision = decide(state, now, &Config::default(), &mut new_id);
        if decision.commands.is_empty() {
            return pass;
        }
        for c in &decision.commands {
            state.apply(c);
        }
    }
    panic!("no fixed point after 10 passes");
}

#[test]
fn services_come_first_then_tasks_are_created_already_assigned() {
    let mut state = cluster();
    let first = decide(&state, 10, &Config::default(), &mut ids());
    assert!(
        first
            .commands
            .iter()
            .all(|c| matches!(c, Command::PutServices { .. })),
        "{:?}",
        first.commands
    );
    for c in &first.commands {
        state.apply(c);
    }
    let second = decide(&state, 20, &Config::default(), &mut ids());
    let created: Vec<&Task> = second
        .commands
        .iter()
        .flat_map(|c| match c {
            Command::PutTasks { tasks, .. } => tasks.iter().collect(),
            _ => Vec::new(),
        })
        .collect();
    assert_eq!(created.len(), 2, "{:?}", second.commands);
    for task in created {
        assert_eq!(task.status.state, TaskState::Assigned);
        assert!(task.node.is_some());
    }
}

#[test]
fn a_settled_cluster_decides_nothing() {
    let mut state = cluster();
    settle(&mut state, 10);
    assert_eq!(state.tasks.len(), 2);
    assert!(
        decide(&state, 20, &Config::default(), &mut ids())
            .commands
            .is_empty()
    );
}

#[test]
fn a_task_that_fits_nowhere_stays_pending_with_the_reason_written_once() {
    let mut state = cluster();
    for n in state.nodes.values_mut() {
        n.status.state = NodeState::Down;
    }
    settle(&mut state, 10);
    let pending: Vec<&Task> = state.tasks.values().collect();
    assert_eq!(pending.len(), 2);
    for task in pending {
        assert_eq!(task.status.state, TaskState::Pending);
        let message = task.status.message.as_deref().unwrap_or_default();
        assert!(message.starts_with("no suitable node"), "{message}");
    }
}

#[test]
fn task_writes_are_merged_then_split_into_full_entries() {
    let tasks: Vec<Task> = (0..TASKS_PER_WRITE + 1)
        .map(|i| crate::raft::fixtures::task(&format!("t{i}"), TaskState::Pending))
        .collect();
    let split = coalesce(
        &ClusterState::default(),
        vec![
            Command::PutTasks {
                tasks: tasks[..5].to_vec(),
                at_ms: 1,
            },
            Command::PutTasks {
                tasks: tasks[5..].to_vec(),
                at_ms: 1,
            },
        ],
    );
    let sizes: Vec<usize> = split
        .iter()
        .map(|c| match c {
            Command::PutTasks { tasks, .. } => tasks.len(),
            _ => 0,
        })
        .collect();
    assert_eq!(sizes, [TASKS_PER_WRITE, 1]);
}
