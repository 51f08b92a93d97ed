use crds::node::{Availability, NodeState};
use crds::task::TaskState;

use super::fixtures::{WEB, World, global_web, node};

/// (node, desired state) of every task, sorted.
fn tasks_by_node(world: &World) -> Vec<(String, TaskState)> {
    let mut list: Vec<(String, TaskState)> = world
        .tasks_of(WEB)
        .map(|t| (t.node.clone().unwrap_or_default(), t.desired_state))
        .collect();
    list.sort();
    list
}

fn running_on(world: &World) -> Vec<String> {
    let mut nodes: Vec<String> = world
        .holders()
        .iter()
        .filter_map(|t| t.node.clone())
        .collect();
    nodes.sort();
    nodes
}

#[test]
fn a_global_service_follows_the_usable_nodes() {
    let mut service = global_web();
    service.spec.placement.constraints = vec!["node.labels.zone!=eu".into()];
    let mut world = World::new(&["n1", "n2", "n3"], vec![service]);
    let out = world.run();
    let created: Vec<(u64, Option<String>, TaskState)> = world
        .tasks_of(WEB)
        .map(|t| (t.slot, t.node.clone(), t.status.state))
        .collect();
    assert_eq!(
        created,
        ["n1", "n2", "n3"]
            .map(|n| (0, Some(n.to_owned()), TaskState::Pending))
            .to_vec(),
        "{out:?}"
    );
    world.settle(10);
    assert_eq!(world.service(WEB).status.running, 3);
    assert_eq!(world.decide().commands, vec![]);

    // A node joins: a task at once.
    world.state.nodes.insert("n4".into(), node("n4"));
    world.settle(10);
    assert_eq!(running_on(&world), ["n1", "n2", "n3", "n4"]);

    // n2 drains, n3's label no longer matches, n4 goes down: their tasks stop, no new ones.
    world.edit_node("n2", |n| n.spec.availability = Availability::Drain);
    world.edit_node("n3", |n| {
        n.spec.labels.insert("zone".into(), "eu".into());
    });
    world.edit_node("n4", |n| n.status.state = NodeState::Down);
    world.settle(10);
    assert_eq!(running_on(&world), ["n1"]);
    assert_eq!(
        tasks_by_node(&world),
        vec![
            ("n1".into(), TaskState::Running),
            ("n2".into(), TaskState::Shutdown),
            ("n3".into(), TaskState::Shutdown),
            ("n4".into(), TaskState::Shutdown),
        ]
    );
    assert_eq!(
        (
            world.service(WEB).status.running,
            world.service(WEB).status.desired
        ),
        (1, 1)
    );

    // A paused node keeps its task; n4 comes back and gets a fresh one.
    world.edit_node("n1", |n| n.spec.availability = Availability::Pause);
    world.edit_node("n4", |n| n.status.state = NodeState::Ready);
    world.settle(10);
    assert_eq!(running_on(&world), ["n1", "n4"]);
    assert_eq!(world.service(WEB).status.desired, 2);
    assert_eq!(world.decide().commands, vec![]);
}

#[test]
fn a_paused_node_without_a_task_gets_none() {
    let mut world = World::new(&["n1", "n2"], vec![global_web()]);
    world.edit_node("n2", |n| n.spec.availability = Availability::Pause);
    world.settle(10);
    assert_eq!(running_on(&world), ["n1"]);
    assert_eq!(world.service(WEB).status.desired, 1);
}
