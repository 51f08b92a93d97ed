//! Random event sequences through the simulator: after quiescence every slot has exactly one
//! running holder, nothing on a down or ineligible node counts, desired counts are met when
//! nodes allow, and the converged state yields no commands.

use crds::node::{Availability, NodeState};
use crds::service::ServiceMode;
use crds::task::TaskState;
use proptest::prelude::*;

use super::fixtures::{WEB, World, global_web, node, web};

#[derive(Debug, Clone)]
enum Event {
    Scale(u64),
    NewImage(u8),
    Join(u8),
    Down(u8),
    Back(u8),
    Drain(u8),
    Activate(u8),
    Fail(u8),
    Advance(u64),
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        (0u64..6).prop_map(Event::Scale),
        (0u8..3).prop_map(Event::NewImage),
        (0u8..5).prop_map(Event::Join),
        (0u8..5).prop_map(Event::Down),
        (0u8..5).prop_map(Event::Back),
        (0u8..5).prop_map(Event::Drain),
        (0u8..5).prop_map(Event::Activate),
        any::<u8>().prop_map(Event::Fail),
        (0u64..20_000).prop_map(Event::Advance),
    ]
}

fn node_id(i: u8) -> String {
    format!("n{i}")
}

fn apply_event(world: &mut World, event: &Event) {
    match *event {
        Event::Scale(replicas) => {
            let mut service = world.service(WEB).clone();
            if let ServiceMode::Replicated { .. } = service.spec.mode {
                service.spec.mode = ServiceMode::Replicated { replicas };
                world.put_service(service);
            }
        }
        Event::NewImage(tag) => {
            let mut service = world.service(WEB).clone();
            service.previous_spec = Some(Box::new(service.spec.clone()));
            service.spec.image = format!("nginx:{tag}");
            // A new revision resets a paused or finished update, as the sync loop would.
            service.update = None;
            world.put_service(service);
        }
        Event::Join(i) => {
            let id = node_id(i);
            if !world.state.nodes.contains_key(&id) {
                world.state.nodes.insert(id.clone(), node(&id));
            }
        }
        Event::Down(i) => edit(world, i, |n| n.status.state = NodeState::Down),
        Event::Back(i) => edit(world, i, |n| n.status.state = NodeState::Ready),
        Event::Drain(i) => edit(world, i, |n| n.spec.availability = Availability::Drain),
        Event::Activate(i) => edit(world, i, |n| n.spec.availability = Availability::Active),
        Event::Fail(pick) => {
            let running: Vec<String> = world
                .holders()
                .iter()
                .filter(|t| t.status.state == TaskState::Running)
                .map(|t| t.meta.id.clone())
                .collect();
            if !running.is_empty() {
                let id = running[usize::from(pick) % running.len()].clone();
                world.report(&id, TaskState::Failed);
            }
        }
        Event::Advance(ms) => world.now += ms,
    }
}

fn edit(world: &mut World, i: u8, f: impl FnOnce(&mut crds::node::Node)) {
    let id = node_id(i);
    if world.state.nodes.contains_key(&id) {
        world.edit_node(&id, f);
    }
}

/// Run orchestrator, scheduler and agents, moving time past every delay, until quiet.
fn quiesce(world: &mut World) {
    for _ in 0..200 {
        let before = world.state.version;
        let out = world.run();
        world.place();
        world.agents();
        if let Some(wake) = out.wake_at_ms {
            world.now = world.now.max(wake);
        } else if world.state.version == before {
            return;
        }
    }
    panic!("no quiescence");
}

fn usable(world: &World, id: &str) -> bool {
    world.state.nodes.get(id).is_some_and(|n| {
        n.status.state == NodeState::Ready && n.spec.availability == Availability::Active
    })
}

fn check(world: &mut World) {
    let service = world.service(WEB).clone();
    let holders = world.holders();
    // Nothing counted runs on a node that is down, drained or gone.
    for t in &holders {
        let node = t.node.as_deref().unwrap_or_default();
        if t.status.state == TaskState::Running {
            assert!(usable(world, node), "{} runs on unusable {node}", t.meta.id);
        }
    }
    let any_usable = world.state.nodes.keys().any(|n| usable(world, n));
    match service.spec.mode {
        ServiceMode::Replicated { replicas } => {
            let mut slots: Vec<u64> = holders.iter().map(|t| t.slot).collect();
            slots.sort();
            let before = slots.len();
            slots.dedup();
            assert_eq!(before, slots.len(), "one holder per slot: {holders:?}");
            if any_usable {
                assert_eq!(slots.len() as u64, replicas, "{holders:?}");
                assert!(holders.iter().all(|t| t.status.state == TaskState::Running));
                assert_eq!(service.status.running, replicas);
            }
        }
        ServiceMode::Global => {
            let mut nodes: Vec<&str> = holders.iter().filter_map(|t| t.node.as_deref()).collect();
            nodes.sort();
            let before = nodes.len();
            nodes.dedup();
            assert_eq!(before, nodes.len(), "one holder per node: {holders:?}");
            let expected: Vec<&str> = world
                .state
                .nodes
                .keys()
                .map(String::as_str)
                .filter(|n| usable(world, n))
                .collect();
            assert_eq!(nodes, expected);
            assert!(holders.iter().all(|t| t.status.state == TaskState::Running));
            assert_eq!(service.status.running, expected.len() as u64);
        }
    }
    let out = world.decide();
    assert_eq!(out.commands, vec![], "converged state yields commands");
}

fn scenario(global: bool, events: &[Event]) {
    let service = if global { global_web() } else { web(2) };
    let mut world = World::new(&["n0", "n1"], vec![service]);
    for event in events {
        apply_event(&mut world, event);
        let _ = world.run();
        world.place();
        world.agents();
    }
    quiesce(&mut world);
    check(&mut world);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn replicated_services_converge(events in proptest::collection::vec(event(), 0..30)) {
        scenario(false, &events);
    }

    #[test]
    fn global_services_converge(events in proptest::collection::vec(event(), 0..30)) {
        scenario(true, &events);
    }
}
