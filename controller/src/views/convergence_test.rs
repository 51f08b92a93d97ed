use crds::compose::RestartCondition;
use crds::service::{HealthcheckSpec, UpdateStatus};
use crds::units::Duration;

use super::*;
use crate::raft::fixtures::{service, task};

const NOW: u64 = 1_000_000;

/// `shop_web` with `replicas` replicas.
fn web(replicas: u64) -> Service {
    let mut web = service("shop_web");
    web.spec.mode = ServiceMode::Replicated { replicas };
    web
}

/// A task of `service`'s current spec holding `slot`, created 10 s ago, in `state` for 5 s.
fn holder(service: &Service, id: &str, slot: u64, state: TaskState) -> Task {
    let mut t = task(id, state);
    t.slot = slot;
    t.spec_hash = service.spec.template_hash();
    t.meta.created_at_ms = NOW - 10_000;
    t.status.timestamp_ms = NOW - 5_000;
    t
}

/// The same task, no longer wanted (history).
fn stopped(mut task: Task) -> Task {
    task.desired_state = TaskState::Shutdown;
    task
}

fn failed(mut task: Task, error: &str) -> Task {
    task.status.error = Some(error.to_owned());
    task
}

fn judge(service: &Service, tasks: &[Task]) -> ServiceProgress {
    let refs: Vec<&Task> = tasks.iter().collect();
    compute_progress(service, &service.spec, &refs, NOW)
}

fn summary(progress: &ServiceProgress) -> (Convergence, u64, u64, Vec<&str>) {
    (
        progress.convergence,
        progress.done,
        progress.desired,
        progress.reasons.iter().map(String::as_str).collect(),
    )
}

#[test]
fn every_replica_running_the_spec_is_converged() {
    let s = web(2);
    let tasks = [
        holder(&s, "a", 1, TaskState::Running),
        holder(&s, "b", 2, TaskState::Running),
        // History does not count against it.
        stopped(failed(holder(&s, "c", 1, TaskState::Failed), "exit 1")),
    ];
    assert_eq!(
        summary(&judge(&s, &tasks)),
        (Convergence::Converged, 2, 2, vec![])
    );
}

#[test]
fn starting_and_missing_tasks_are_progressing() {
    let s = web(5);
    let tasks = [
        holder(&s, "a", 1, TaskState::Running),
        holder(&s, "b", 2, TaskState::Preparing),
        holder(&s, "c", 3, TaskState::Assigned),
        holder(&s, "d", 4, TaskState::Assigned),
    ];
    assert_eq!(
        summary(&judge(&s, &tasks)),
        (
            Convergence::Progressing,
            1,
            5,
            vec![
                "2 tasks assigned",
                "1 task preparing",
                "1 task not created yet"
            ]
        )
    );
}

#[test]
fn a_task_no_node_fits_is_degraded_with_the_schedulers_reason() {
    let s = web(5);
    let mut tasks = vec![holder(&s, "a", 1, TaskState::Running)];
    for slot in 2..=5 {
        let mut pending = holder(&s, &format!("p{slot}"), slot, TaskState::Pending);
        pending.node = None;
        pending.status.message = Some("no suitable node (1 node insufficient memory)".into());
        tasks.push(pending);
    }
    assert_eq!(
        summary(&judge(&s, &tasks)),
        (
            Convergence::Degraded,
            1,
            5,
            vec![
                "web.2, web.3, web.4 and 1 more pending: no suitable node (1 node insufficient \
                 memory)"
            ]
        )
    );
}

#[test]
fn a_failing_task_that_is_restarted_is_degraded() {
    let s = web(2);
    // Slot 1: failed, the restart delay still running; slot 2: its replacement starting.
    let tasks = [
        failed(holder(&s, "a", 1, TaskState::Failed), "exit code 1"),
        stopped(failed(holder(&s, "b", 2, TaskState::Failed), "exit code 2")),
        {
            let mut next = holder(&s, "c", 2, TaskState::Starting);
            next.attempt = 1;
            next.meta.created_at_ms = NOW - 1_000;
            next
        },
    ];
    assert_eq!(
        summary(&judge(&s, &tasks)),
        (
            Convergence::Degraded,
            0,
            2,
            vec![
                "web.1 failed: exit code 1; restarting",
                "web.2 failed: exit code 2; restarting"
            ]
        )
    );
}

#[test]
fn a_task_past_max_attempts_fails_the_service() {
    let mut s = web(1);
    s.spec.restart_policy.max_attempts = 2;
    let mut last = stopped(failed(holder(&s, "a", 1, TaskState::Failed), "exit code 1"));
    last.attempt = 2;
    last.status.message = Some("not restarted: restart_policy.max_attempts (2) reached".into());
    assert_eq!(
        summary(&judge(&s, &[last])),
        (
            Convergence::Failed,
            0,
            1,
            vec![
                "web.1 failed: exit code 1; not restarted: restart_policy.max_attempts (2) reached"
            ]
        )
    );
}

#[test]
fn a_rejected_task_with_condition_none_fails_the_service() {
    let mut s = web(1);
    s.spec.restart_policy.condition = RestartCondition::None;
    let rejected = failed(holder(&s, "a", 1, TaskState::Rejected), "no such image");
    assert_eq!(
        summary(&judge(&s, &[rejected])),
        (
            Convergence::Failed,
            0,
            1,
            vec![
                "web.1 was rejected: no such image; not restarted: restart_policy.condition is none"
            ]
        )
    );
}

/// docker/cli#5299: `docker stack deploy --detach=false` never returned on services whose
/// tasks completed. Tasks that exited 0 and are not restarted are done.
#[test]
fn completed_one_shot_tasks_are_converged_not_waited_for() {
    for condition in [RestartCondition::None, RestartCondition::OnFailure] {
        let mut s = web(2);
        s.spec.restart_policy.condition = condition;
        let tasks = [
            holder(&s, "a", 1, TaskState::Complete),
            holder(&s, "b", 2, TaskState::Complete),
        ];
        let progress = judge(&s, &tasks);
        assert_eq!(
            summary(&progress),
            (Convergence::Converged, 2, 2, vec![]),
            "{condition:?}"
        );
        assert_eq!(progress.completed, 2);
    }
}

#[test]
fn a_task_that_completed_its_last_allowed_restart_is_done() {
    let mut s = web(1);
    s.spec.restart_policy.max_attempts = 1;
    let mut last = stopped(holder(&s, "a", 1, TaskState::Complete));
    last.attempt = 1;
    let progress = judge(&s, &[last]);
    assert_eq!(summary(&progress), (Convergence::Converged, 1, 1, vec![]));
    assert_eq!(progress.completed, 1);
}

#[test]
fn a_task_that_exits_0_under_condition_any_is_restarting_not_done() {
    let s = web(1);
    assert_eq!(
        summary(&judge(&s, &[holder(&s, "a", 1, TaskState::Complete)])),
        (
            Convergence::Progressing,
            0,
            1,
            vec!["1 task stopped, to be restarted"]
        )
    );
}

fn update(state: UpdateState, message: &str, rolled_back_spec: Option<String>) -> UpdateStatus {
    UpdateStatus {
        state,
        started_at_ms: NOW - 60_000,
        completed_at_ms: None,
        message: message.to_owned(),
        rolled_back_spec,
    }
}

#[test]
fn a_paused_update_fails_the_service_with_its_message() {
    let mut s = web(1);
    s.update = Some(update(
        UpdateState::Paused,
        "update paused: task a failed: exit code 1",
        None,
    ));
    let tasks = [holder(&s, "a", 1, TaskState::Running)];
    assert_eq!(
        summary(&judge(&s, &tasks)),
        (
            Convergence::Failed,
            1,
            1,
            vec!["update paused: task a failed: exit code 1"]
        )
    );
}

#[test]
fn a_rolled_back_update_fails_the_service_until_the_revision_changes_the_spec() {
    let mut wanted = web(1).spec;
    wanted.image = "nginx:broken".into();
    let mut s = web(1);
    s.previous_spec = Some(Box::new(wanted.clone()));
    s.update = Some(update(
        UpdateState::RollbackCompleted,
        "update rolled back: task x failed: exit code 1",
        Some(wanted.spec_hash()),
    ));
    let tasks = [holder(&s, "a", 1, TaskState::Running)];
    let refs: Vec<&Task> = tasks.iter().collect();
    let progress = compute_progress(&s, &wanted, &refs, NOW);
    assert_eq!(
        summary(&progress),
        (
            Convergence::Failed,
            1,
            1,
            vec!["update rolled back: task x failed: exit code 1"]
        )
    );
    // A revision asking again for the spec that runs: the old rollback no longer matters.
    assert_eq!(
        summary(&judge(&s, &tasks)),
        (Convergence::Converged, 1, 1, vec![])
    );
}

#[test]
fn an_update_in_flight_and_old_tasks_are_progressing() {
    let mut s = web(2);
    s.update = Some(update(UpdateState::Updating, "update in progress", None));
    let mut old = holder(&s, "a", 1, TaskState::Running);
    old.spec_hash = "previous".into();
    let tasks = [old, holder(&s, "b", 2, TaskState::Running)];
    assert_eq!(
        summary(&judge(&s, &tasks)),
        (
            Convergence::Progressing,
            1,
            2,
            vec![
                "update in progress",
                "1 task still running the previous spec"
            ]
        )
    );
}

#[test]
fn a_spec_the_revision_changed_but_the_leader_has_not_stored_is_progressing() {
    let s = web(1);
    let mut wanted = s.spec.clone();
    wanted.image = "nginx:1.28".into();
    let tasks = [holder(&s, "a", 1, TaskState::Running)];
    let refs: Vec<&Task> = tasks.iter().collect();
    assert_eq!(
        summary(&compute_progress(&s, &wanted, &refs, NOW)),
        (
            Convergence::Progressing,
            1,
            1,
            vec!["the revision's spec is not applied yet"]
        )
    );
}

#[test]
fn with_a_healthcheck_only_healthy_tasks_are_done() {
    let mut s = web(1);
    s.spec.healthcheck = Some(HealthcheckSpec {
        test: vec!["CMD".into(), "true".into()],
        interval: Duration(std::time::Duration::from_secs(1)),
        timeout: Duration(std::time::Duration::from_secs(1)),
        retries: 3,
        start_period: Duration::default(),
        start_interval: Duration::default(),
    });
    let mut running = holder(&s, "a", 1, TaskState::Running);
    running.status.health = Some(TaskHealth::Starting);
    assert_eq!(
        judge(&s, std::slice::from_ref(&running)).reasons,
        ["1 task running, not healthy yet"]
    );
    running.status.health = Some(TaskHealth::Healthy);
    assert_eq!(judge(&s, &[running]).convergence, Convergence::Converged);
}

#[test]
fn extra_replicas_still_running_are_progressing() {
    let s = web(1);
    let tasks = [
        holder(&s, "a", 1, TaskState::Running),
        holder(&s, "b", 2, TaskState::Running),
    ];
    assert_eq!(
        summary(&judge(&s, &tasks)),
        (
            Convergence::Progressing,
            1,
            1,
            vec!["1 task to stop (scaling down)"]
        )
    );
}

#[test]
fn a_global_service_counts_its_nodes_and_needs_at_least_one() {
    let mut s = service("shop_web");
    s.spec.mode = ServiceMode::Global;
    let on = |id: &str, node: &str| {
        let mut t = holder(&s, id, 0, TaskState::Running);
        t.node = Some(node.into());
        t
    };
    // A node the service left (its task shut down, nothing to restart) is not counted.
    let mut left = stopped(on("c", "n3"));
    left.status.state = TaskState::Shutdown;
    let tasks = [on("a", "n1"), on("b", "n2"), left];
    assert_eq!(
        summary(&judge(&s, &tasks)),
        (Convergence::Converged, 2, 2, vec![])
    );
    assert_eq!(
        summary(&judge(&s, &[])),
        (
            Convergence::Degraded,
            0,
            0,
            vec!["no task: no node is eligible for this global service"]
        )
    );
}

#[test]
fn a_service_not_stored_yet_or_no_longer_wanted_is_progressing() {
    let s = web(3);
    assert_eq!(
        summary(&not_created(&s.spec)),
        (Convergence::Progressing, 0, 3, vec!["not created yet"])
    );
    assert_eq!(
        summary(&being_removed(&s)),
        (Convergence::Progressing, 0, 0, vec!["being removed"])
    );
}
