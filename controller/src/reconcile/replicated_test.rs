use crds::node::NodeState;
use crds::service::ServiceMode;
use crds::task::{Task, TaskState};

use super::fixtures::{WEB, World, task, web};
use crate::raft::command::Command;

fn put_tasks(commands: &[Command]) -> Vec<&Task> {
    commands
        .iter()
        .flat_map(|c| match c {
            Command::PutTasks { tasks, .. } => tasks.iter().collect(),
            _ => Vec::new(),
        })
        .collect()
}

#[test]
fn scale_up_from_zero_creates_pending_tasks_in_slots_one_to_three() {
    let mut world = World::new(&["n1"], vec![web(3)]);
    let hash = world.service(WEB).spec.template_hash();
    let out = world.decide();
    let created = put_tasks(&out.commands);
    type Row<'a> = (&'a str, u64, Option<&'a str>, TaskState, TaskState, u64);
    let summary: Vec<Row<'_>> = created
        .iter()
        .map(|t| {
            (
                t.meta.id.as_str(),
                t.slot,
                t.node.as_deref(),
                t.status.state,
                t.desired_state,
                t.attempt,
            )
        })
        .collect();
    let pending = (TaskState::Pending, TaskState::Running, 0);
    assert_eq!(
        summary,
        vec![
            ("t1", 1, None, pending.0, pending.1, pending.2),
            ("t2", 2, None, pending.0, pending.1, pending.2),
            ("t3", 3, None, pending.0, pending.1, pending.2),
        ]
    );
    assert!(
        created
            .iter()
            .all(|t| t.spec_hash == hash && t.status.timestamp_ms == 1_000)
    );
    assert_eq!(out.wake_at_ms, None);
    // The service status reports 0 of 3.
    let Some(Command::PutServices { services, .. }) = out.commands.last() else {
        panic!("no status update: {:?}", out.commands);
    };
    assert_eq!(
        (services[0].status.running, services[0].status.desired),
        (0, 3)
    );
}

#[test]
fn a_converged_service_gets_no_commands() {
    let mut world = World::new(&["n1", "n2"], vec![web(3)]);
    world.settle(10);
    assert_eq!(world.service(WEB).status.running, 3);
    let out = world.decide();
    assert_eq!(out.commands, vec![]);
    assert_eq!(out.wake_at_ms, None);
}

#[test]
fn deciding_twice_gives_the_same_commands_and_applying_them_converges() {
    let mut world = World::new(&["n1", "n2"], vec![web(4)]);
    let first = world.decide();
    let mut again = World::new(&["n1", "n2"], vec![web(4)]);
    assert_eq!(again.decide(), first);
    world.run();
    // Applied: the next call creates nothing more.
    let out = world.decide();
    assert!(put_tasks(&out.commands).is_empty(), "{:?}", out.commands);
}

/// Scale 5 → 2: n1 has slots 1, 2, 3; n2 has 4; slot 5 is still unassigned.
#[test]
fn scale_down_removes_unassigned_then_the_fullest_node_then_the_highest_slot() {
    let mut world = World::new(&["n1", "n2"], vec![web(5)]);
    let hash = world.service(WEB).spec.template_hash();
    for (id, slot, node, state) in [
        ("a", 1, Some("n1"), TaskState::Running),
        ("b", 2, Some("n1"), TaskState::Running),
        ("c", 3, Some("n1"), TaskState::Running),
        ("d", 4, Some("n2"), TaskState::Running),
        ("e", 5, None, TaskState::Pending),
    ] {
        world
            .state
            .tasks
            .insert(id.into(), task(id, slot, node, &hash, state));
    }
    let mut service = world.service(WEB).clone();
    service.spec.mode = ServiceMode::Replicated { replicas: 2 };
    world.put_service(service);
    let out = world.decide();
    let shut: Vec<&str> = put_tasks(&out.commands)
        .iter()
        .filter(|t| t.desired_state == TaskState::Shutdown)
        .map(|t| t.meta.id.as_str())
        .collect();
    // e (unassigned) first, then c (n1 has 3), then b (n1 still has 2, n2 1); listed by slot.
    assert_eq!(shut, vec!["b", "c", "e"]);
    assert!(
        put_tasks(&out.commands)
            .iter()
            .all(|t| t.desired_state == TaskState::Shutdown)
    );
}

#[test]
fn scale_down_ties_go_to_the_highest_slot() {
    let mut world = World::new(&["n1", "n2"], vec![web(4)]);
    let hash = world.service(WEB).spec.template_hash();
    for (id, slot, node) in [
        ("a", 1, "n1"),
        ("b", 2, "n2"),
        ("c", 3, "n1"),
        ("d", 4, "n2"),
    ] {
        world.state.tasks.insert(
            id.into(),
            task(id, slot, Some(node), &hash, TaskState::Running),
        );
    }
    let mut service = world.service(WEB).clone();
    service.spec.mode = ServiceMode::Replicated { replicas: 1 };
    world.put_service(service);
    let out = world.decide();
    let shut: Vec<&str> = put_tasks(&out.commands)
        .iter()
        .map(|t| t.meta.id.as_str())
        .collect();
    // 2 each: d (slot 4, n2); then n1 has 2: c (slot 3); then 1 each: b (slot 2). Slot a stays.
    assert_eq!(shut, vec!["b", "c", "d"]);
}

/// Node loss, drain and a label change all move a task at once.
#[test]
fn a_task_on_a_lost_node_is_replaced_at_once_in_its_slot() {
    type Edit = fn(&mut crds::node::Node);
    let cases: [(&str, Edit); 4] = [
        ("down", |n| n.status.state = NodeState::Down),
        ("drain", |n| {
            n.spec.availability = crds::node::Availability::Drain
        }),
        ("labels", |n| {
            n.spec.labels.clear();
        }),
        ("unknown is not loss", |n| {
            n.status.state = NodeState::Unknown
        }),
    ];
    for (case, edit) in cases {
        let mut service = web(1);
        service.spec.placement.constraints = vec!["node.labels.zone==a".into()];
        service.spec.restart_policy.delay = super::fixtures::ms(60_000);
        let mut world = World::new(&["n1", "n2"], vec![service]);
        for n in ["n1", "n2"] {
            world.edit_node(n, |node| {
                node.spec.labels.insert("zone".into(), "a".into());
            });
        }
        world.settle(10);
        let old = world.holders()[0].clone();
        let node = old.node.clone().expect("placed");
        world.edit_node(&node, edit);
        let out = world.decide();
        let put = put_tasks(&out.commands);
        if case == "unknown is not loss" {
            assert!(put.is_empty(), "{case}: {put:?}");
            continue;
        }
        assert_eq!(put.len(), 2, "{case}: {put:?}");
        assert_eq!(
            (put[0].meta.id.as_str(), put[0].desired_state),
            (old.meta.id.as_str(), TaskState::Shutdown),
            "{case}"
        );
        let new = put[1];
        assert_eq!(
            (new.slot, new.attempt, new.status.state, new.node.as_deref()),
            (old.slot, old.attempt, TaskState::Pending, None),
            "{case}"
        );
        assert_eq!(out.wake_at_ms, None, "{case}: no restart delay");
    }
}
