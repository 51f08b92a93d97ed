use crds::compose::RestartCondition;
use crds::task::{Task, TaskState};

use super::fixtures::{WEB, World, ms, task, web};
use crate::raft::command::Command;

fn put_tasks(commands: &[Command]) -> Vec<Task> {
    commands
        .iter()
        .flat_map(|c| match c {
            Command::PutTasks { tasks, .. } => tasks.clone(),
            _ => Vec::new(),
        })
        .collect()
}

/// One replica running on n1, its task `id` failed at `failed_at` after being created at 1000.
fn failed_world(
    configure: impl FnOnce(&mut crds::service::Service),
    attempt: u64,
    state: TaskState,
    failed_at: u64,
) -> World {
    let mut service = web(1);
    configure(&mut service);
    let mut world = World::new(&["n1"], vec![service]);
    let hash = world.service(WEB).spec.template_hash();
    let mut old = task("old", 1, Some("n1"), &hash, state);
    old.attempt = attempt;
    old.meta.created_at_ms = 1_000;
    old.status.timestamp_ms = failed_at;
    old.status.error = Some("exit code 1".into());
    world.state.tasks.insert("old".into(), old);
    world.now = failed_at;
    world
}

#[test]
fn a_failed_task_is_replaced_only_after_the_delay() {
    let mut world = failed_world(
        |s| s.spec.restart_policy.delay = ms(10_000),
        0,
        TaskState::Failed,
        2_000,
    );
    for now in [2_000, 11_999] {
        world.now = now;
        let out = world.decide();
        assert!(
            put_tasks(&out.commands).is_empty(),
            "at {now}: {:?}",
            out.commands
        );
        assert_eq!(out.wake_at_ms, Some(12_000), "at {now}");
    }
    world.now = 12_000;
    let out = world.decide();
    let put = put_tasks(&out.commands);
    let summary: Vec<(&str, u64, u64, TaskState, TaskState)> = put
        .iter()
        .map(|t| {
            (
                t.meta.id.as_str(),
                t.slot,
                t.attempt,
                t.desired_state,
                t.status.state,
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("old", 1, 0, TaskState::Shutdown, TaskState::Failed),
            ("t1", 1, 1, TaskState::Running, TaskState::Pending),
        ]
    );
    assert_eq!(out.wake_at_ms, None);
}

#[test]
fn the_condition_decides_which_exits_restart() {
    use RestartCondition::{Any, None as Never, OnFailure};
    let cases = [
        (Any, TaskState::Complete, true),
        (Any, TaskState::Failed, true),
        (Any, TaskState::Shutdown, true),
        (Any, TaskState::Orphaned, true),
        (OnFailure, TaskState::Complete, false),
        (OnFailure, TaskState::Failed, true),
        (OnFailure, TaskState::Rejected, true),
        (OnFailure, TaskState::Shutdown, false),
        (Never, TaskState::Failed, false),
        (Never, TaskState::Complete, false),
    ];
    for (condition, state, restarts) in cases {
        let mut world = failed_world(
            |s| s.spec.restart_policy.condition = condition,
            0,
            state,
            2_000,
        );
        let out = world.run();
        let put = put_tasks(&out.commands);
        let created = put.iter().filter(|t| t.meta.id != "old").count();
        assert_eq!(
            created == 1,
            restarts,
            "{condition:?} after {state:?}: {put:?}"
        );
        if !restarts {
            // The slot is done: the task stays, nothing runs, and it stays that way.
            assert!(put.is_empty(), "{condition:?} after {state:?}: {put:?}");
            assert_eq!(world.service(WEB).status.running, 0);
            assert_eq!(world.decide().commands, vec![], "{condition:?} {state:?}");
        }
    }
}

#[test]
fn max_attempts_stops_restarts_and_says_why() {
    let configure = |s: &mut crds::service::Service| s.spec.restart_policy.max_attempts = 2;
    // Attempt 1 failing: a third try (attempt 2) is allowed.
    let mut world = failed_world(configure, 1, TaskState::Failed, 2_000);
    let put = put_tasks(&world.decide().commands);
    assert_eq!(
        put.iter().map(|t| t.attempt).collect::<Vec<_>>(),
        vec![1, 2]
    );
    // Attempt 2 failing: no more.
    let mut world = failed_world(configure, 2, TaskState::Failed, 2_000);
    let out = world.run();
    let put = put_tasks(&out.commands);
    assert_eq!(put.len(), 1, "{put:?}");
    assert_eq!(put[0].desired_state, TaskState::Shutdown);
    let message = put[0].status.message.as_deref().unwrap_or_default();
    assert!(message.contains("max_attempts (2)"), "{message}");
    // The slot stays empty: no refill, no loop.
    assert_eq!(world.decide().commands, vec![]);
    assert_eq!(world.service(WEB).status.running, 0);
}

#[test]
fn a_task_that_ran_for_a_whole_window_resets_the_attempts() {
    let configure = |s: &mut crds::service::Service| {
        s.spec.restart_policy.window = ms(10_000);
        s.spec.restart_policy.max_attempts = 3;
    };
    for (failed_at, expected) in [(5_000, 4), (10_999, 4), (11_000, 0), (50_000, 0)] {
        let mut world = failed_world(configure, 3, TaskState::Failed, failed_at);
        let put = put_tasks(&world.decide().commands);
        let attempts: Vec<u64> = put
            .iter()
            .filter(|t| t.meta.id != "old")
            .map(|t| t.attempt)
            .collect();
        // Attempt 4 would exceed max_attempts 3: no replacement then.
        let expected: Vec<u64> = if expected > 3 { vec![] } else { vec![expected] };
        assert_eq!(attempts, expected, "failed at {failed_at}");
    }
}

#[test]
fn a_crash_looping_image_restarts_once_per_delay() {
    let mut service = web(1);
    service.spec.restart_policy.delay = ms(5_000);
    let mut world = World::new(&["n1"], vec![service]);
    world.settle(10);
    let mut created = 0;
    for _ in 0..40 {
        world.now += 500;
        // Every running task crashes at once.
        let running: Vec<String> = world
            .holders()
            .iter()
            .filter(|t| t.status.state == TaskState::Running)
            .map(|t| t.meta.id.clone())
            .collect();
        for id in running {
            world.report(&id, TaskState::Failed);
        }
        let out = world.run();
        created += put_tasks(&out.commands)
            .iter()
            .filter(|t| t.status.state == TaskState::Pending)
            .count();
        world.place();
        world.agents();
    }
    // 20 s of crashes with a 5 s delay: about 4 restarts, not 40.
    assert!((3..=5).contains(&created), "{created} restarts");
}
