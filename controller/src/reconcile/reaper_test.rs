use crds::task::TaskState;

use super::fixtures::{WEB, World, task, web};
use crate::raft::command::Command;

#[test]
fn each_slot_keeps_its_last_five_finished_tasks() {
    let mut world = World::new(&["n1"], vec![web(1)]);
    let hash = world.service(WEB).spec.template_hash();
    for i in 0..8u64 {
        let mut t = task(&format!("h{i}"), 1, Some("n1"), &hash, TaskState::Failed);
        t.desired_state = TaskState::Shutdown;
        t.meta.created_at_ms = 100 + i;
        world.state.tasks.insert(t.meta.id.clone(), t);
    }
    let live = task("live", 1, Some("n1"), &hash, TaskState::Running);
    world.state.tasks.insert("live".into(), live);
    let out = world.run();
    let removed: Vec<&Command> = out
        .commands
        .iter()
        .filter(|c| matches!(c, Command::RemoveTasks { .. }))
        .collect();
    assert_eq!(
        removed,
        vec![&Command::RemoveTasks {
            ids: vec!["h0".into(), "h1".into(), "h2".into()]
        }]
    );
    assert_eq!(world.tasks_of(WEB).count(), 6);
    assert!(world.decide().commands.is_empty());
}

#[test]
fn a_removed_service_has_its_tasks_shut_down_then_removed() {
    let mut world = World::new(&["n1", "n2"], vec![web(3)]);
    world.settle(10);
    world.apply(&Command::RemoveServices {
        names: vec![WEB.into()],
    });
    world.run();
    assert!(
        world
            .tasks_of(WEB)
            .all(|t| t.desired_state == TaskState::Shutdown)
    );
    assert_eq!(world.tasks_of(WEB).count(), 3);
    world.agents();
    world.run();
    assert_eq!(world.tasks_of(WEB).count(), 0);
    assert!(world.decide().commands.is_empty());
}
