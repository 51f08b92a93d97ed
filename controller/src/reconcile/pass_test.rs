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

/// Apply `commands` the way the state machine does: record what each changes, then apply it.
fn apply_recorded(state: &mut ClusterState, backlog: &mut Backlog, commands: &[Command]) {
    for c in commands {
        backlog.changes.record(state, c);
        state.apply(c);
    }
}

/// Pass and apply until a pass decides nothing; returns the passes it took.
fn settle_following(state: &mut ClusterState, backlog: &mut Backlog, now: u64) -> usize {
    let mut new_id = ids();
    for pass in 0..10 {
        let decision = backlog.pass(state, now, &Config::default(), &mut new_id);
        if decision.commands.is_empty() {
            return pass;
        }
        apply_recorded(state, backlog, &decision.commands);
    }
    panic!("no fixed point after 10 passes");
}

/// Every task of `state` reported in `to`, as an agent would.
fn report_all(state: &ClusterState, to: TaskState, at_ms: u64) -> Command {
    Command::UpdateTaskStatus {
        updates: state
            .tasks
            .values()
            .filter(|t| t.desired_state == TaskState::Running && !t.status.state.is_terminal())
            .map(|t| {
                let mut status = t.status.clone();
                status.state = to;
                status.timestamp_ms = at_ms;
                (t.meta.id.clone(), status)
            })
            .collect(),
        at_ms,
    }
}

#[test]
fn passes_over_what_changed_agree_with_passes_over_everything() {
    let mut state = cluster();
    let mut backlog = Backlog::everything();
    settle_following(&mut state, &mut backlog, 10);
    assert_eq!(state.tasks.len(), 2, "{}", state.tasks.len());

    // Progress only: the services' replica counts follow, nothing else is decided.
    let running = report_all(&state, TaskState::Running, 20);
    apply_recorded(&mut state, &mut backlog, &[running]);
    assert!(!backlog.changes.progressed.is_empty());
    assert_eq!(backlog.changes.tasks.len(), 0);
    let recount = backlog.pass(&state, 30, &Config::default(), &mut ids());
    assert!(
        recount
            .commands
            .iter()
            .all(|c| matches!(c, Command::PutServices { .. })),
        "{:?}",
        recount.commands
    );
    apply_recorded(&mut state, &mut backlog, &recount.commands);
    settle_following(&mut state, &mut backlog, 30);
    assert!(state.services.values().all(|s| s.status.running == 1));
    assert!(
        decide(&state, 30, &Config::default(), &mut ids())
            .commands
            .is_empty(),
        "a full pass finds nothing left to do"
    );

    // A failure needs a decision: the incremental pass replaces the task as a full one would.
    let failed = report_all(&state, TaskState::Failed, 40);
    apply_recorded(&mut state, &mut backlog, &[failed]);
    let full = decide(&state, 10_000, &Config::default(), &mut ids());
    let incremental = backlog.pass(&state, 10_000, &Config::default(), &mut ids());
    assert_eq!(
        format!("{:?}", incremental.commands),
        format!("{:?}", full.commands)
    );
    apply_recorded(&mut state, &mut backlog, &incremental.commands);
    settle_following(&mut state, &mut backlog, 10_000);
    assert!(
        decide(&state, 10_000, &Config::default(), &mut ids())
            .commands
            .is_empty()
    );
}

#[test]
fn a_delayed_decision_is_remembered_across_incremental_passes() {
    let mut state = cluster();
    let mut backlog = Backlog::everything();
    settle_following(&mut state, &mut backlog, 10);
    backlog.wake_at_ms = Some(5_000);
    let running = report_all(&state, TaskState::Running, 20);
    apply_recorded(&mut state, &mut backlog, &[running]);
    backlog.pass(&state, 30, &Config::default(), &mut ids());
    assert_eq!(
        backlog.wake_at_ms,
        Some(5_000),
        "kept by a pass that saw other services"
    );
}
