use crds::compose::{FailureAction, UpdateOrder};
use crds::service::{HealthcheckSpec, Service, UpdateState};
use crds::task::{TaskHealth, TaskState};

use super::fixtures::{WEB, World, ms, web};

/// Store a new image for `shop_web`, keeping the old spec as the previous one.
fn change_image(world: &mut World, image: &str) {
    let mut service = world.service(WEB).clone();
    service.previous_spec = Some(Box::new(service.spec.clone()));
    service.spec.image = image.into();
    world.put_service(service);
}

fn settled(configure: impl FnOnce(&mut Service), replicas: u64) -> World {
    let mut service = web(replicas);
    configure(&mut service);
    let mut world = World::new(&["n1", "n2"], vec![service]);
    world.settle(10);
    assert_eq!(world.service(WEB).status.running, replicas);
    world
}

/// Slots whose holders run the spec in force.
fn updated_slots(world: &World) -> Vec<u64> {
    let hash = world.service(WEB).spec.template_hash();
    let mut slots: Vec<u64> = world
        .holders()
        .iter()
        .filter(|t| t.spec_hash == hash)
        .map(|t| t.slot)
        .collect();
    slots.sort();
    slots
}

fn update_state(world: &World) -> Option<UpdateState> {
    world.service(WEB).update.as_ref().map(|u| u.state)
}

#[test]
fn stop_first_with_parallelism_one_walks_slot_by_slot() {
    let mut world = settled(|_| {}, 3);
    change_image(&mut world, "nginx:1.28");
    let mut seen = Vec::new();
    for _ in 0..30 {
        world.now += 100;
        world.run();
        // Never more than one slot without a running task.
        let running = world
            .holders()
            .iter()
            .filter(|t| t.status.state == TaskState::Running)
            .count();
        assert!(running >= 2, "{running} running");
        // Stop-first: a slot never has two tasks running.
        let hash = world.service(WEB).spec.template_hash();
        for t in world.holders() {
            if t.spec_hash == hash && t.status.state == TaskState::Pending {
                let old_running = world.tasks_of(WEB).any(|o| {
                    o.slot == t.slot && o.spec_hash != hash && o.status.state == TaskState::Running
                });
                assert!(!old_running, "slot {} has its old task running", t.slot);
            }
        }
        let updated = updated_slots(&world);
        if seen.last() != Some(&updated) {
            seen.push(updated);
        }
        world.place();
        world.agents();
    }
    // The new task of a slot holds it (waiting in New) as soon as the old one is told to stop.
    assert_eq!(seen, vec![vec![1], vec![1, 2], vec![1, 2, 3]]);
    let update = world.service(WEB).update.clone().expect("an update");
    assert_eq!(update.state, UpdateState::Completed);
    assert!(update.completed_at_ms.is_some());
    assert_eq!(world.decide().commands, vec![]);
}

#[test]
fn start_first_keeps_the_old_task_until_the_new_one_is_running_and_healthy() {
    let mut world = settled(
        |s| {
            s.spec.update_config.order = UpdateOrder::StartFirst;
            s.spec.healthcheck = Some(HealthcheckSpec {
                test: vec!["CMD".into(), "/probe".into()],
                interval: ms(1_000),
                timeout: ms(1_000),
                retries: 3,
                start_period: ms(0),
                start_interval: ms(1_000),
            });
        },
        1,
    );
    let old = world.holders()[0].meta.id.clone();
    change_image(&mut world, "nginx:1.28");
    world.run();
    let holders: Vec<String> = world.holders().iter().map(|t| t.meta.id.clone()).collect();
    assert_eq!(holders.len(), 2, "both hold slot 1: {holders:?}");
    let new = holders
        .iter()
        .find(|id| **id != old)
        .cloned()
        .expect("a new task");
    world.place();
    world.agents();
    world.run();
    // Running but not yet healthy: the old one still runs.
    assert_eq!(world.state.tasks[&new].status.state, TaskState::Running);
    assert_eq!(world.state.tasks[&old].desired_state, TaskState::Running);
    world.report_health(&new, TaskHealth::Healthy);
    world.run();
    assert_eq!(world.state.tasks[&old].desired_state, TaskState::Shutdown);
    world.agents();
    world.run();
    assert_eq!(update_state(&world), Some(UpdateState::Completed));
}

/// Update 2 replicas (monitor 30 s) until the first new task runs; returns it.
fn first_new_task_running(action: FailureAction) -> (World, String) {
    let mut world = settled(
        |s| {
            s.spec.update_config.failure_action = action;
            s.spec.update_config.monitor = ms(30_000);
            s.spec.restart_policy.delay = ms(60_000);
        },
        2,
    );
    change_image(&mut world, "nginx:broken");
    for _ in 0..2 {
        world.run();
        world.place();
        world.agents();
    }
    let hash = world.service(WEB).spec.template_hash();
    let new = world
        .holders()
        .iter()
        .find(|t| t.spec_hash == hash && t.status.state == TaskState::Running)
        .map(|t| t.meta.id.clone())
        .expect("a new task running");
    (world, new)
}

/// Update 2 replicas; the first new task fails within the monitor period.
fn failing_update(action: FailureAction) -> (World, String) {
    let (mut world, new) = first_new_task_running(action);
    world.now += 1_000;
    world.report(&new, TaskState::Failed);
    (world, new)
}

#[test]
fn a_task_that_never_ran_counts_however_late_it_fails() {
    let mut world = settled(
        |s| {
            s.spec.update_config.failure_action = FailureAction::Pause;
            s.spec.update_config.monitor = ms(5_000);
            s.spec.restart_policy.delay = ms(60_000);
        },
        2,
    );
    change_image(&mut world, "nginx:slow-to-pull");
    world.run();
    world.place();
    let hash = world.service(WEB).spec.template_hash();
    let new = world
        .holders()
        .iter()
        .find(|t| t.spec_hash == hash)
        .map(|t| t.meta.id.clone())
        .expect("a new task");
    // A pull that takes longer than the monitor period, then the engine rejects the image.
    world.now += 60_000;
    world.report(&new, TaskState::Rejected);
    world.run();
    assert_eq!(update_state(&world), Some(UpdateState::Paused));
}

#[test]
fn a_task_that_ran_past_the_monitor_period_is_not_an_update_failure() {
    let (mut world, running) = first_new_task_running(FailureAction::Pause);
    assert_eq!(
        world.state.tasks[&running].status.started_at_ms,
        Some(world.now)
    );
    world.now += 31_000;
    world.report(&running, TaskState::Failed);
    world.run();
    assert_eq!(update_state(&world), Some(UpdateState::Updating));
}

#[test]
fn a_failure_pauses_the_update_and_names_the_task() {
    let (mut world, failed) = failing_update(FailureAction::Pause);
    world.run();
    let update = world.service(WEB).update.clone().expect("an update");
    assert_eq!(update.state, UpdateState::Paused);
    assert_eq!(
        update.message,
        format!("update paused: task {failed} failed: exit code 1")
    );
    // Paused: the other slot keeps its old task, whatever happens next.
    for _ in 0..5 {
        world.now += 100_000;
        world.settle(10);
    }
    assert_eq!(update_state(&world), Some(UpdateState::Paused));
    assert_eq!(updated_slots(&world).len(), 1);
}

#[test]
fn a_failure_rolls_back_and_says_so_truthfully() {
    let (mut world, failed) = failing_update(FailureAction::Rollback);
    let failed_spec = world.service(WEB).spec.clone();
    world.run();
    let service = world.service(WEB);
    let update = service.update.clone().expect("an update");
    assert_eq!(update.state, UpdateState::RollbackStarted);
    assert_eq!(update.rolled_back_spec, Some(failed_spec.spec_hash()));
    assert_eq!(service.spec.image, "nginx:1.27");
    assert_eq!(service.previous_spec.as_deref(), Some(&failed_spec));
    for _ in 0..10 {
        world.now += 1_000;
        world.settle(10);
    }
    let update = world.service(WEB).update.clone().expect("an update");
    assert_eq!(update.state, UpdateState::RollbackCompleted);
    assert_eq!(
        update.message,
        format!("update rolled back: task {failed} failed: exit code 1")
    );
    assert!(!update.message.contains("completed"));
    assert_eq!(
        updated_slots(&world),
        vec![1, 2],
        "every slot runs the old spec again"
    );
    assert_eq!(world.service(WEB).status.running, 2);
    assert_eq!(world.decide().commands, vec![]);
}

#[test]
fn continue_ignores_failures() {
    let (mut world, _) = failing_update(FailureAction::Continue);
    world.now += 100_000;
    world.run();
    assert_eq!(update_state(&world), Some(UpdateState::Updating));
    world.settle(10);
    world.now += 100_000;
    world.settle(10);
    assert_eq!(updated_slots(&world), vec![1, 2]);
    assert_eq!(update_state(&world), Some(UpdateState::Completed));
}

#[test]
fn batches_wait_for_the_delay() {
    let mut world = settled(|s| s.spec.update_config.delay = ms(10_000), 2);
    change_image(&mut world, "nginx:1.28");
    world.settle(10);
    assert_eq!(updated_slots(&world), vec![1]);
    let ready_at = world.now;
    let out = world.decide();
    assert_eq!(out.commands, vec![]);
    assert_eq!(out.wake_at_ms, Some(ready_at + 10_000));
    world.now = ready_at + 9_999;
    world.settle(10);
    assert_eq!(updated_slots(&world), vec![1]);
    world.now = ready_at + 10_000;
    world.settle(10);
    assert_eq!(updated_slots(&world), vec![1, 2]);
}
