//! The planner, step by step: each test feeds it events and asserts the exact steps and reports.

use std::collections::BTreeMap;

use crds::assignment::AssignmentBatch;
use crds::service::ServiceSpec;
use crds::task::{Task, TaskHealth, TaskState, TaskStatus};

use super::entry::StepKind;
use super::fixtures::task;
use super::plan::{Action, Planner, Step, backoff_ms};
use crate::executor::{ContainerState, ContainerStatus, EngineEvent, Error, EventAction};

const NOW: u64 = 1_000_000;

fn spec() -> ServiceSpec {
    let stack = crds::stack::from_text(
        "shop",
        "services:\n  web:\n    image: reconciler-test/echo:1\n    stop_grace_period: 3s\n",
    )
    .expect("valid stack");
    stack.services.into_values().next().expect("one service")
}

fn shutdown(mut t: Task) -> Task {
    t.desired_state = TaskState::Shutdown;
    t
}

fn full(tasks: Vec<Task>) -> AssignmentBatch {
    AssignmentBatch {
        full: true,
        tasks,
        removed: Vec::new(),
        specs: BTreeMap::from([("h1".to_owned(), spec())]),
    }
}

fn delta(tasks: Vec<Task>, removed: &[&str]) -> AssignmentBatch {
    AssignmentBatch {
        full: false,
        tasks,
        removed: removed.iter().map(|s| (*s).to_owned()).collect(),
        specs: BTreeMap::new(),
    }
}

fn container(task: &str, state: ContainerState) -> ContainerStatus {
    ContainerStatus {
        container_id: format!("c-{task}"),
        task_id: task.to_owned(),
        spec_hash: "h1".to_owned(),
        state,
        health: None,
        health_output: None,
    }
}

fn exited(code: i64) -> ContainerState {
    ContainerState::Exited {
        exit_code: code,
        oom_killed: false,
        error: None,
    }
}

/// A planner that has its first full batch and listing.
fn ready(tasks: Vec<Task>, containers: Vec<ContainerStatus>) -> Planner {
    let mut p = Planner::new(32);
    p.apply_listing(containers);
    p.apply_assignments(full(tasks));
    p
}

fn kinds(steps: &[Step]) -> Vec<(String, StepKind)> {
    steps
        .iter()
        .map(|s| (s.task_id.clone(), s.action.kind()))
        .collect()
}

fn states(p: &mut Planner) -> Vec<(String, TaskState)> {
    p.take_reports()
        .into_iter()
        .map(|(id, s)| (id, s.state))
        .collect()
}

fn step(id: &str, kind: StepKind) -> (String, StepKind) {
    (id.to_owned(), kind)
}

fn report(id: &str, state: TaskState) -> (String, TaskState) {
    (id.to_owned(), state)
}

#[test]
fn nothing_happens_before_the_first_full_batch_and_listing() {
    let mut p = Planner::new(32);
    p.apply_listing(vec![container("old", ContainerState::Running)]);
    p.apply_assignments(delta(vec![task("t1", TaskState::Assigned)], &[]));
    assert!(p.plan(NOW).is_empty());
    assert!(p.take_reports().is_empty());

    let mut p = Planner::new(32);
    p.apply_assignments(full(vec![task("t1", TaskState::Assigned)]));
    assert!(p.plan(NOW).is_empty(), "no listing yet: adoption unknown");
    p.apply_listing(Vec::new());
    assert_eq!(kinds(&p.plan(NOW)), vec![step("t1", StepKind::Prepare)]);
}

#[test]
fn a_new_task_goes_accepted_preparing_starting_running() {
    let mut p = ready(vec![task("t1", TaskState::Assigned)], Vec::new());
    let steps = p.plan(NOW);
    assert_eq!(kinds(&steps), vec![step("t1", StepKind::Prepare)]);
    let Action::Prepare { task, spec } = &steps[0].action else {
        panic!("prepare expected");
    };
    assert_eq!(task.meta.id, "t1");
    assert_eq!(spec.image, "reconciler-test/echo:1");
    assert_eq!(
        states(&mut p),
        vec![
            report("t1", TaskState::Accepted),
            report("t1", TaskState::Preparing)
        ]
    );
    assert!(p.plan(NOW).is_empty(), "one step per task at a time");

    let created = container("t1", ContainerState::Created);
    p.apply_outcome("t1", StepKind::Prepare, Ok(Some(created)), NOW);
    assert_eq!(kinds(&p.plan(NOW)), vec![step("t1", StepKind::Start)]);
    assert_eq!(states(&mut p), vec![report("t1", TaskState::Starting)]);

    let running = container("t1", ContainerState::Running);
    p.apply_outcome("t1", StepKind::Start, Ok(Some(running)), NOW + 5);
    assert!(p.plan(NOW + 5).is_empty());
    let reports = p.take_reports();
    assert_eq!(reports.len(), 1);
    let (id, status) = &reports[0];
    assert_eq!(id, "t1");
    assert_eq!(status.state, TaskState::Running);
    assert_eq!(status.message.as_deref(), Some("started"));
    assert_eq!(status.container_id.as_deref(), Some("c-t1"));
    assert_eq!(status.timestamp_ms, NOW + 5);
}

#[test]
fn a_running_container_of_an_assigned_task_is_adopted_without_a_step() {
    let mut p = ready(
        vec![task("t1", TaskState::Running)],
        vec![container("t1", ContainerState::Running)],
    );
    assert!(p.plan(NOW).is_empty());
    assert!(p.take_reports().is_empty());
}

#[test]
fn adoption_reports_what_the_manager_missed() {
    let mut p = ready(
        vec![task("t1", TaskState::Starting)],
        vec![container("t1", ContainerState::Running)],
    );
    assert!(p.plan(NOW).is_empty());
    assert_eq!(states(&mut p), vec![report("t1", TaskState::Running)]);
}

#[test]
fn an_adopted_created_container_is_started_once_it_was_reported_starting() {
    let mut p = ready(
        vec![task("t1", TaskState::Starting)],
        vec![container("t1", ContainerState::Created)],
    );
    assert_eq!(kinds(&p.plan(NOW)), vec![step("t1", StepKind::Start)]);
}

#[test]
fn an_adopted_container_from_a_prepare_that_never_finished_is_made_again() {
    let mut p = ready(
        vec![task("t1", TaskState::Preparing)],
        vec![container("t1", ContainerState::Created)],
    );
    assert_eq!(kinds(&p.plan(NOW)), vec![step("t1", StepKind::Remove)]);
    p.apply_outcome("t1", StepKind::Remove, Ok(None), NOW);
    assert_eq!(kinds(&p.plan(NOW)), vec![step("t1", StepKind::Prepare)]);
    assert!(p.take_reports().is_empty(), "still preparing");
}

#[test]
fn containers_of_unassigned_tasks_are_stopped_then_removed() {
    let mut p = ready(
        vec![task("t1", TaskState::Running)],
        vec![
            container("t1", ContainerState::Running),
            container("old", ContainerState::Running),
            container("done", exited(0)),
        ],
    );
    assert_eq!(
        kinds(&p.plan(NOW)),
        vec![step("old", StepKind::Stop), step("done", StepKind::Remove)]
    );
    p.apply_outcome(
        "old",
        StepKind::Stop,
        Ok(Some(container("old", exited(0)))),
        NOW,
    );
    p.apply_outcome("done", StepKind::Remove, Ok(None), NOW);
    assert_eq!(kinds(&p.plan(NOW)), vec![step("old", StepKind::Remove)]);
    p.apply_outcome("old", StepKind::Remove, Ok(None), NOW);
    assert!(p.plan(NOW).is_empty());
    assert!(p.take_reports().is_empty(), "orphans are not reported");
    assert_eq!(p.len(), 1, "forgotten once removed");
}

#[test]
fn unassigned_containers_are_kept_until_the_first_full_batch() {
    let mut p = Planner::new(32);
    p.apply_listing(vec![container("old", ContainerState::Running)]);
    p.apply_assignments(delta(Vec::new(), &[]));
    assert!(p.plan(NOW).is_empty());
    p.apply_assignments(full(Vec::new()));
    assert_eq!(kinds(&p.plan(NOW)), vec![step("old", StepKind::Stop)]);
}

#[test]
fn a_task_removed_from_the_set_loses_its_container() {
    let mut p = ready(
        vec![task("t1", TaskState::Running)],
        vec![container("t1", ContainerState::Running)],
    );
    assert!(p.plan(NOW).is_empty());
    p.apply_assignments(delta(Vec::new(), &["t1"]));
    let steps = p.plan(NOW);
    assert_eq!(kinds(&steps), vec![step("t1", StepKind::Stop)]);
    let Action::Stop { config, .. } = &steps[0].action else {
        panic!("stop expected");
    };
    assert_eq!(
        config.grace, None,
        "an unassigned task's container stops as created"
    );
}

#[test]
fn a_task_removed_while_preparing_is_removed_once_created() {
    let mut p = ready(vec![task("t1", TaskState::Assigned)], Vec::new());
    assert_eq!(kinds(&p.plan(NOW)), vec![step("t1", StepKind::Prepare)]);
    p.apply_assignments(delta(Vec::new(), &["t1"]));
    assert!(p.plan(NOW).is_empty(), "the prepare is still in flight");
    let created = container("t1", ContainerState::Created);
    p.apply_outcome("t1", StepKind::Prepare, Ok(Some(created)), NOW);
    assert_eq!(kinds(&p.plan(NOW)), vec![step("t1", StepKind::Remove)]);
}

#[test]
fn desired_shutdown_stops_with_the_spec_and_keeps_the_container() {
    let mut p = ready(
        vec![shutdown(task("t1", TaskState::Running))],
        vec![container("t1", ContainerState::Running)],
    );
    let steps = p.plan(NOW);
    assert_eq!(kinds(&steps), vec![step("t1", StepKind::Stop)]);
    let Action::Stop { config, .. } = &steps[0].action else {
        panic!("stop expected");
    };
    assert_eq!(config.grace, Some(std::time::Duration::from_secs(3)));
    p.apply_outcome(
        "t1",
        StepKind::Stop,
        Ok(Some(container("t1", exited(0)))),
        NOW,
    );
    assert!(p.plan(NOW).is_empty(), "kept until the task leaves the set");
    let reports = p.take_reports();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].1.state, TaskState::Shutdown);
    assert_eq!(reports[0].1.exit_code, Some(0));
    p.apply_assignments(delta(Vec::new(), &["t1"]));
    assert_eq!(kinds(&p.plan(NOW)), vec![step("t1", StepKind::Remove)]);
}

#[test]
fn desired_shutdown_before_any_container_is_reported_at_once() {
    let mut p = ready(vec![shutdown(task("t1", TaskState::Assigned))], Vec::new());
    assert!(p.plan(NOW).is_empty());
    assert_eq!(states(&mut p), vec![report("t1", TaskState::Shutdown)]);
}

#[test]
fn exits_are_complete_or_failed_and_the_container_is_kept() {
    let mut p = ready(
        vec![
            task("ok", TaskState::Running),
            task("bad", TaskState::Running),
        ],
        vec![
            container("ok", exited(0)),
            container(
                "bad",
                ContainerState::Exited {
                    exit_code: 137,
                    oom_killed: true,
                    error: None,
                },
            ),
        ],
    );
    assert!(p.plan(NOW).is_empty(), "finished containers stay");
    let reports: BTreeMap<String, TaskStatus> = p.take_reports().into_iter().collect();
    assert_eq!(reports["ok"].state, TaskState::Complete);
    assert_eq!(reports["ok"].exit_code, Some(0));
    assert_eq!(reports["bad"].state, TaskState::Failed);
    assert_eq!(reports["bad"].exit_code, Some(137));
    let error = reports["bad"].error.as_deref().unwrap_or_default();
    assert!(error.starts_with("task: non-zero exit (137)"), "{error}");
    assert!(error.contains("OOM"), "{error}");
}

#[test]
fn a_die_event_is_observed_and_reported_failed() {
    let mut p = ready(
        vec![task("t1", TaskState::Running)],
        vec![container("t1", ContainerState::Running)],
    );
    assert!(p.plan(NOW).is_empty());
    p.apply_event(&EngineEvent {
        container_id: "c-t1".to_owned(),
        task_id: "t1".to_owned(),
        action: EventAction::Died,
    });
    let steps = p.plan(NOW);
    assert_eq!(kinds(&steps), vec![step("t1", StepKind::Observe)]);
    p.apply_outcome(
        "t1",
        StepKind::Observe,
        Ok(Some(container("t1", exited(2)))),
        NOW,
    );
    assert!(p.plan(NOW).is_empty());
    let reports = p.take_reports();
    assert_eq!(reports[0].1.state, TaskState::Failed);
    assert_eq!(
        reports[0].1.error.as_deref(),
        Some("task: non-zero exit (2)")
    );
}

#[test]
fn a_container_removed_behind_the_workers_back_fails_its_task() {
    let mut p = ready(
        vec![task("t1", TaskState::Running)],
        vec![container("t1", ContainerState::Running)],
    );
    p.apply_event(&EngineEvent {
        container_id: "c-t1".to_owned(),
        task_id: "t1".to_owned(),
        action: EventAction::Destroyed,
    });
    assert_eq!(kinds(&p.plan(NOW)), vec![step("t1", StepKind::Observe)]);
    p.apply_outcome("t1", StepKind::Observe, Ok(None), NOW);
    assert!(
        p.plan(NOW).is_empty(),
        "a failed task is not restarted here"
    );
    assert_eq!(states(&mut p), vec![report("t1", TaskState::Failed)]);
}

#[test]
fn events_about_untracked_tasks_are_stale_and_ignored() {
    let mut p = ready(Vec::new(), Vec::new());
    for action in [EventAction::Died, EventAction::Destroyed] {
        p.apply_event(&EngineEvent {
            container_id: "c-x".to_owned(),
            task_id: "x".to_owned(),
            action,
        });
    }
    assert!(p.plan(NOW).is_empty());
    assert!(p.is_empty());
}

#[test]
fn created_containers_need_no_stop() {
    let mut p = ready(
        vec![shutdown(task("t1", TaskState::Preparing))],
        vec![
            container("t1", ContainerState::Created),
            container("old", ContainerState::Created),
        ],
    );
    assert_eq!(kinds(&p.plan(NOW)), vec![step("old", StepKind::Remove)]);
    assert_eq!(states(&mut p), vec![report("t1", TaskState::Shutdown)]);
}

#[test]
fn an_event_during_a_step_survives_a_listing_without_the_container() {
    let mut p = ready(
        vec![task("t1", TaskState::Starting)],
        vec![container("t1", ContainerState::Created)],
    );
    assert_eq!(kinds(&p.plan(NOW)), vec![step("t1", StepKind::Start)]);
    p.apply_event(&EngineEvent {
        container_id: "c-t1".to_owned(),
        task_id: "t1".to_owned(),
        action: EventAction::Died,
    });
    p.apply_listing(Vec::new());
    let running = container("t1", ContainerState::Running);
    p.apply_outcome("t1", StepKind::Start, Ok(Some(running)), NOW);
    assert_eq!(kinds(&p.plan(NOW)), vec![step("t1", StepKind::Observe)]);
}

#[test]
fn health_changes_of_a_running_task_are_reported() {
    let mut p = ready(
        vec![task("t1", TaskState::Running)],
        vec![ContainerStatus {
            health: Some(TaskHealth::Starting),
            ..container("t1", ContainerState::Running)
        }],
    );
    assert!(p.plan(NOW).is_empty());
    let reports = p.take_reports();
    assert_eq!(reports[0].1.health, Some(TaskHealth::Starting));

    p.apply_event(&EngineEvent {
        container_id: "c-t1".to_owned(),
        task_id: "t1".to_owned(),
        action: EventAction::Health(TaskHealth::Healthy),
    });
    assert_eq!(kinds(&p.plan(NOW)), vec![step("t1", StepKind::Observe)]);
    let healthy = ContainerStatus {
        health: Some(TaskHealth::Healthy),
        ..container("t1", ContainerState::Running)
    };
    p.apply_outcome("t1", StepKind::Observe, Ok(Some(healthy.clone())), NOW);
    assert!(p.plan(NOW).is_empty());
    let reports = p.take_reports();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].1.state, TaskState::Running);
    assert_eq!(reports[0].1.health, Some(TaskHealth::Healthy));

    p.apply_event(&EngineEvent {
        container_id: "c-t1".to_owned(),
        task_id: "t1".to_owned(),
        action: EventAction::Health(TaskHealth::Healthy),
    });
    p.plan(NOW);
    p.apply_outcome("t1", StepKind::Observe, Ok(Some(healthy)), NOW);
    p.plan(NOW);
    assert!(
        p.take_reports().is_empty(),
        "the same health is not reported twice"
    );
}

#[test]
fn an_unhealthy_container_is_stopped_and_its_task_failed_with_the_probe_output() {
    let unhealthy = ContainerStatus {
        health: Some(TaskHealth::Unhealthy),
        health_output: Some("connection refused".to_owned()),
        ..container("t1", ContainerState::Running)
    };
    let mut p = ready(vec![task("t1", TaskState::Running)], vec![unhealthy]);
    let steps = p.plan(NOW);
    assert_eq!(kinds(&steps), vec![step("t1", StepKind::Stop)]);
    let reports = p.take_reports();
    assert_eq!(reports.len(), 1, "the unhealthy verdict is reported first");
    assert_eq!(reports[0].1.state, TaskState::Running);
    assert_eq!(reports[0].1.health, Some(TaskHealth::Unhealthy));

    // A graceful exit (0 after SIGTERM) is still a failure: the task was stopped for its health.
    let stopped = ContainerStatus {
        health: Some(TaskHealth::Unhealthy),
        ..container("t1", exited(0))
    };
    p.apply_outcome("t1", StepKind::Stop, Ok(Some(stopped)), NOW + 10);
    assert!(p.plan(NOW + 10).is_empty());
    let reports = p.take_reports();
    assert_eq!(reports.len(), 1);
    let status = &reports[0].1;
    assert_eq!(status.state, TaskState::Failed);
    assert_eq!(status.exit_code, Some(0));
    assert_eq!(
        status.error.as_deref(),
        Some("task: unhealthy container: last healthcheck: connection refused")
    );
}

#[test]
fn the_stop_decides_the_failure_and_healthy_tasks_are_left_alone() {
    let unhealthy = |id: &str| ContainerStatus {
        health: Some(TaskHealth::Unhealthy),
        ..container(id, ContainerState::Running)
    };
    let mut p = ready(
        vec![
            task("t1", TaskState::Starting),
            task("t2", TaskState::Running),
        ],
        vec![
            unhealthy("t1"),
            ContainerStatus {
                health: Some(TaskHealth::Healthy),
                ..container("t2", ContainerState::Running)
            },
        ],
    );
    assert_eq!(kinds(&p.plan(NOW)), vec![step("t1", StepKind::Stop)]);
    p.take_reports();
    // Healthy again before the stop ended: the stop was already decided, the task still fails.
    p.apply_outcome(
        "t1",
        StepKind::Stop,
        Ok(Some(container("t1", exited(143)))),
        NOW,
    );
    p.plan(NOW);
    let reports = p.take_reports();
    assert_eq!(reports[0].1.state, TaskState::Failed);
    assert_eq!(
        reports[0].1.error.as_deref(),
        Some("task: unhealthy container: its healthcheck failed")
    );
}

#[test]
fn a_full_batch_behind_the_reports_makes_the_worker_report_again() {
    let mut p = ready(vec![task("t1", TaskState::Assigned)], Vec::new());
    p.plan(NOW);
    p.apply_outcome(
        "t1",
        StepKind::Prepare,
        Ok(Some(container("t1", ContainerState::Created))),
        NOW,
    );
    p.plan(NOW);
    p.apply_outcome(
        "t1",
        StepKind::Start,
        Ok(Some(container("t1", ContainerState::Running))),
        NOW,
    );
    p.plan(NOW);
    p.take_reports();

    // A new leader lost the last reports: its full batch still says starting.
    p.apply_assignments(full(vec![task("t1", TaskState::Starting)]));
    assert!(p.plan(NOW).is_empty());
    let reports = p.take_reports();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].1.state, TaskState::Running);
    assert_eq!(reports[0].1.container_id.as_deref(), Some("c-t1"));

    // A full batch that agrees causes nothing.
    p.apply_assignments(full(vec![task("t1", TaskState::Running)]));
    assert!(p.plan(NOW).is_empty());
    assert!(p.take_reports().is_empty());
}

#[test]
fn reports_never_move_a_task_backwards() {
    let mut p = ready(
        vec![task("t1", TaskState::Running)],
        vec![container("t1", exited(1))],
    );
    p.plan(NOW);
    assert_eq!(states(&mut p), vec![report("t1", TaskState::Failed)]);
    // The engine later shows it running again (someone ran `docker start`): still failed.
    p.apply_listing(vec![container("t1", ContainerState::Running)]);
    assert!(p.plan(NOW).is_empty());
    assert!(p.take_reports().is_empty());
    // A delta with an older status changes nothing either.
    p.apply_assignments(delta(vec![task("t1", TaskState::Starting)], &[]));
    assert!(p.plan(NOW).is_empty());
    assert!(p.take_reports().is_empty());
}

#[test]
fn a_rejected_prepare_is_reported_with_the_engines_words() {
    let mut p = ready(vec![task("t1", TaskState::Assigned)], Vec::new());
    p.plan(NOW);
    p.take_reports();
    let cause = "No such image: nope:1".to_owned();
    p.apply_outcome(
        "t1",
        StepKind::Prepare,
        Err(Error::Rejected(cause.clone())),
        NOW,
    );
    assert!(
        p.plan(NOW).is_empty(),
        "a rejected task is not retried here"
    );
    let reports = p.take_reports();
    assert_eq!(reports[0].1.state, TaskState::Rejected);
    assert_eq!(reports[0].1.error, Some(cause));
}

#[test]
fn a_failed_start_fails_the_task_and_keeps_the_container() {
    let mut p = ready(
        vec![task("t1", TaskState::Starting)],
        vec![container("t1", ContainerState::Created)],
    );
    p.plan(NOW);
    p.take_reports();
    let cause = "port is already allocated".to_owned();
    p.apply_outcome(
        "t1",
        StepKind::Start,
        Err(Error::Failed(cause.clone())),
        NOW,
    );
    assert!(p.plan(NOW).is_empty());
    let reports = p.take_reports();
    assert_eq!(reports[0].1.state, TaskState::Failed);
    assert_eq!(reports[0].1.error, Some(cause));
    assert!(p.entry("t1").and_then(|e| e.container.as_ref()).is_some());
}

#[test]
fn an_unavailable_engine_is_retried_with_backoff() {
    let mut p = ready(vec![task("t1", TaskState::Assigned)], Vec::new());
    p.plan(NOW);
    p.take_reports();
    let down = || Err(Error::Unavailable("connection refused".to_owned()));
    p.apply_outcome("t1", StepKind::Prepare, down(), NOW);
    assert!(p.plan(NOW).is_empty());
    assert_eq!(p.wake_at_ms(), Some(NOW + backoff_ms(1)));
    assert!(
        p.take_reports().is_empty(),
        "a passing problem is not reported"
    );
    let later = NOW + backoff_ms(1);
    assert_eq!(kinds(&p.plan(later)), vec![step("t1", StepKind::Prepare)]);
    p.apply_outcome("t1", StepKind::Prepare, down(), later);
    assert_eq!(p.plan(later).len(), 0);
    assert_eq!(p.wake_at_ms(), Some(later + backoff_ms(2)));
    assert_eq!(backoff_ms(1), 500);
    assert_eq!(backoff_ms(2), 1000);
    assert_eq!(backoff_ms(30), 10_000);
}

#[test]
fn steps_in_flight_are_bounded_and_finishing_comes_before_beginning() {
    let tasks = (0..50).map(|i| task(&format!("t{i:02}"), TaskState::Assigned));
    let mut p = Planner::new(32);
    p.apply_listing(Vec::new());
    p.apply_assignments(full(tasks.collect()));
    let first = p.plan(NOW);
    assert_eq!(first.len(), 32);
    assert!(first.iter().all(|s| s.action.kind() == StepKind::Prepare));
    assert_eq!(p.in_flight(), 32);
    assert!(p.plan(NOW).is_empty(), "full");
    let created = container("t00", ContainerState::Created);
    p.apply_outcome("t00", StepKind::Prepare, Ok(Some(created)), NOW);
    assert_eq!(
        kinds(&p.plan(NOW)),
        vec![step("t00", StepKind::Start)],
        "the free slot starts a prepared task before preparing another"
    );
    assert_eq!(p.in_flight(), 32);
}

#[test]
fn a_container_made_for_another_spec_is_replaced() {
    let mut p = ready(
        vec![task("t1", TaskState::Assigned)],
        vec![ContainerStatus {
            spec_hash: "other".to_owned(),
            ..container("t1", ContainerState::Running)
        }],
    );
    assert_eq!(kinds(&p.plan(NOW)), vec![step("t1", StepKind::Remove)]);
    p.apply_outcome("t1", StepKind::Remove, Ok(None), NOW);
    assert_eq!(kinds(&p.plan(NOW)), vec![step("t1", StepKind::Prepare)]);
}

#[test]
fn a_task_whose_spec_never_came_is_rejected() {
    let mut p = Planner::new(32);
    p.apply_listing(Vec::new());
    p.apply_assignments(AssignmentBatch {
        full: true,
        tasks: vec![task("t1", TaskState::Assigned)],
        ..AssignmentBatch::default()
    });
    assert!(p.plan(NOW).is_empty());
    let reports = p.take_reports();
    let last = &reports.last().expect("a report").1;
    assert_eq!(last.state, TaskState::Rejected);
    assert!(last.error.as_deref().unwrap_or_default().contains("h1"));
}

#[test]
fn a_listing_during_a_step_is_checked_again_afterwards() {
    let mut p = ready(
        vec![task("t1", TaskState::Starting)],
        vec![container("t1", ContainerState::Created)],
    );
    assert_eq!(kinds(&p.plan(NOW)), vec![step("t1", StepKind::Start)]);
    p.apply_listing(vec![container("t1", ContainerState::Created)]);
    let running = container("t1", ContainerState::Running);
    p.apply_outcome("t1", StepKind::Start, Ok(Some(running)), NOW);
    assert_eq!(kinds(&p.plan(NOW)), vec![step("t1", StepKind::Observe)]);
    assert_eq!(
        p.entry("t1")
            .and_then(|e| e.container.as_ref())
            .map(|c| &c.state),
        Some(&ContainerState::Running),
        "the older listing did not overwrite the step's result"
    );
}
