use std::collections::BTreeMap;

use crds::compose::Strategy;
use crds::meta::ObjectMeta;
use crds::node::{Availability, Node, NodeRole, NodeState};
use crds::port::{PortConfig, PortMode, Protocol};
use crds::service::{Service, ServiceSpec, ServiceStatus};
use crds::task::{Task, TaskState, TaskStatus};
use crds::units::{ByteSize, Cpus};

use super::*;

pub(crate) const CPU: u64 = 1_000_000_000;
pub(crate) const GIB: u64 = 1 << 30;

/// A fully defaulted spec of a service with just an image, as the sync loop would produce it.
pub(crate) fn spec(name: &str) -> ServiceSpec {
    let stack = crds::stack::from_text("s", "services:\n  app:\n    image: app:1\n")
        .expect("the fixture loads");
    let mut spec = stack.services.get("s_app").expect("s_app").clone();
    spec.name = name.to_owned();
    spec
}

pub(crate) fn meta(id: &str) -> ObjectMeta {
    ObjectMeta {
        id: id.to_owned(),
        ..ObjectMeta::default()
    }
}

/// A ready, active worker with 4 CPUs and 8 GiB.
pub(crate) fn node(id: &str) -> Node {
    let mut node = Node {
        meta: meta(id),
        ..Node::default()
    };
    node.status.state = NodeState::Ready;
    node.description.hostname = format!("host-{id}");
    node.description.os = "linux".into();
    node.description.arch = "x86_64".into();
    node.description.cpus = Cpus(4 * CPU);
    node.description.memory = ByteSize(8 * GIB);
    node
}

pub(crate) fn task(id: &str, service: &str) -> Task {
    Task {
        meta: meta(id),
        service: service.to_owned(),
        slot: 1,
        node: None,
        spec_hash: "h".into(),
        attempt: 0,
        desired_state: TaskState::Running,
        status: TaskStatus {
            state: TaskState::Pending,
            ..TaskStatus::default()
        },
    }
}

pub(crate) fn running(id: &str, service: &str, node: &str) -> Task {
    let mut t = task(id, service);
    t.node = Some(node.to_owned());
    t.status.state = TaskState::Running;
    t
}

fn port(published: u16, protocol: Protocol) -> PortConfig {
    PortConfig {
        target: 80,
        published: Some(published),
        protocol,
        mode: PortMode::Ingress,
        host_ip: None,
    }
}

/// A cluster under construction: nodes, services, tasks on nodes.
#[derive(Default)]
pub(crate) struct Cluster {
    pub nodes: BTreeMap<String, Node>,
    pub services: BTreeMap<String, Service>,
    pub placed: Vec<Task>,
    pub config: Config,
}

impl Cluster {
    pub fn with_nodes(ids: &[&str]) -> Self {
        let mut c = Cluster::default();
        for id in ids {
            c.add_node(node(id));
        }
        c
    }

    pub fn add_node(&mut self, node: Node) -> &mut Node {
        let id = node.meta.id.clone();
        self.nodes.entry(id).or_insert(node)
    }

    pub fn node(&mut self, id: &str) -> &mut Node {
        self.nodes.get_mut(id).expect("known node")
    }

    pub fn service(&mut self, name: &str) -> &mut ServiceSpec {
        &mut self
            .services
            .entry(name.to_owned())
            .or_insert_with(|| Service {
                meta: meta(name),
                spec: spec(name),
                status: ServiceStatus::default(),
                previous_spec: None,
                update: None,
            })
            .spec
    }

    pub fn schedule(&self, pending: &[Task]) -> Decision {
        let placed: Vec<&Task> = self.placed.iter().collect();
        let pending: Vec<&Task> = pending.iter().collect();
        schedule(&self.nodes, &self.services, &placed, &pending, &self.config)
    }
}

/// `n` pending tasks of `service`, named `<service>.<i>`.
pub(crate) fn tasks(service: &str, n: usize) -> Vec<Task> {
    (0..n)
        .map(|i| task(&format!("{service}.{i}"), service))
        .collect()
}

/// Tasks per node in a decision.
pub(crate) fn per_node(d: &Decision) -> BTreeMap<&str, usize> {
    let mut counts = BTreeMap::new();
    for p in &d.placements {
        *counts.entry(p.node.as_str()).or_insert(0) += 1;
    }
    counts
}

fn reasons(d: &Decision) -> Vec<&str> {
    d.unplaced.iter().map(|u| u.reason.as_str()).collect()
}

#[test]
fn spread_balances_tasks_over_nodes_in_id_order() {
    let mut c = Cluster::with_nodes(&["a", "b", "c"]);
    c.service("web");
    let d = c.schedule(&tasks("web", 7));
    let order: Vec<&str> = d.placements.iter().map(|p| p.node.as_str()).collect();
    assert_eq!(order, ["a", "b", "c", "a", "b", "c", "a"]);
    assert!(d.unplaced.is_empty());
}

#[test]
fn spread_counts_tasks_already_on_nodes() {
    let mut c = Cluster::with_nodes(&["a", "b", "c"]);
    c.service("web");
    c.service("db");
    c.placed = vec![
        running("w1", "web", "a"),
        running("w2", "web", "a"),
        // Another service's task makes c less attractive than b at equal web counts.
        running("d1", "db", "c"),
    ];
    let d = c.schedule(&tasks("web", 4));
    let order: Vec<&str> = d.placements.iter().map(|p| p.node.as_str()).collect();
    assert_eq!(order, ["b", "c", "b", "c"]);
}

#[test]
fn tasks_that_have_ended_or_are_shutting_down_free_their_node() {
    let mut c = Cluster::with_nodes(&["a", "b"]);
    c.service("web").placement.max_replicas_per_node = 1;
    let mut failed = running("f", "web", "a");
    failed.status.state = TaskState::Failed;
    let mut stopping = running("s", "web", "a");
    stopping.desired_state = TaskState::Shutdown;
    c.placed = vec![failed, stopping, running("r", "web", "b")];
    let d = c.schedule(&tasks("web", 1));
    assert_eq!(
        d.placements,
        [Placement {
            task: "web.0".into(),
            node: "a".into()
        }]
    );
}

#[test]
fn binpack_fills_one_node_before_the_next() {
    let mut c = Cluster::with_nodes(&["a", "b", "c"]);
    c.config.strategy = Strategy::Binpack;
    c.service("web").resources.reserve_cpus = Cpus(CPU);
    let d = c.schedule(&tasks("web", 6));
    let order: Vec<&str> = d.placements.iter().map(|p| p.node.as_str()).collect();
    assert_eq!(order, ["a", "a", "a", "a", "b", "b"]);
}

#[test]
fn binpack_prefers_the_node_with_least_free_resources() {
    let mut c = Cluster::with_nodes(&["big", "small"]);
    c.node("big").description.cpus = Cpus(8 * CPU);
    c.node("small").description.cpus = Cpus(2 * CPU);
    c.config.strategy = Strategy::Binpack;
    c.service("web").resources.reserve_cpus = Cpus(CPU);
    let d = c.schedule(&tasks("web", 3));
    let order: Vec<&str> = d.placements.iter().map(|p| p.node.as_str()).collect();
    assert_eq!(order, ["small", "small", "big"]);
}

#[test]
fn a_service_strategy_overrides_the_cluster_default() {
    let mut c = Cluster::with_nodes(&["a", "b"]);
    c.service("web").strategy = Some(Strategy::Binpack);
    let d = c.schedule(&tasks("web", 3));
    assert_eq!(per_node(&d), BTreeMap::from([("a", 3)]));
}

#[test]
fn random_is_deterministic_per_seed_and_picks_only_eligible_nodes() {
    let ids: Vec<String> = (0..10).map(|i| format!("n{i}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut c = Cluster::with_nodes(&ids);
    c.config.strategy = Strategy::Random;
    for id in ["n0", "n3", "n7"] {
        c.node(id).spec.availability = Availability::Drain;
    }
    c.service("web");
    let pending = tasks("web", 50);
    let decisions: Vec<Decision> = (0..4)
        .map(|seed| {
            c.config.seed = seed;
            c.schedule(&pending)
        })
        .collect();
    for d in &decisions {
        assert_eq!(d.placements.len(), 50);
        for p in &d.placements {
            assert!(!["n0", "n3", "n7"].contains(&p.node.as_str()), "{p:?}");
        }
    }
    c.config.seed = 0;
    assert_eq!(
        c.schedule(&pending),
        decisions[0],
        "same seed, same decision"
    );
    assert_ne!(decisions[0], decisions[1], "different seeds differ");
    assert_ne!(decisions[2], decisions[3], "different seeds differ");
}

#[test]
fn nodes_that_are_down_unknown_paused_or_drained_get_nothing() {
    let mut c = Cluster::with_nodes(&["down", "unknown", "pause", "drain", "ok"]);
    c.node("down").status.state = NodeState::Down;
    c.node("unknown").status.state = NodeState::Unknown;
    c.node("pause").spec.availability = Availability::Pause;
    c.node("drain").spec.availability = Availability::Drain;
    c.service("web");
    let d = c.schedule(&tasks("web", 5));
    assert_eq!(per_node(&d), BTreeMap::from([("ok", 5)]));
}

/// Three nodes with distinct attributes for the constraint table.
fn constraint_cluster() -> Cluster {
    let mut c = Cluster::with_nodes(&["a", "b", "c"]);
    let a = c.node("a");
    a.spec.role = NodeRole::Manager;
    a.description.advertise_addr = "10.0.0.1:2377".into();
    a.spec.labels.insert("zone".into(), "z1".into());
    a.description
        .engine_labels
        .insert("disk".into(), "ssd".into());
    let b = c.node("b");
    b.description.advertise_addr = "10.0.1.2".into();
    b.spec.labels.insert("zone".into(), "z2".into());
    b.description
        .engine_labels
        .insert("disk".into(), "hdd".into());
    let cc = c.node("c");
    cc.description.advertise_addr = "[2001:db8::3]:2377".into();
    cc.description.os = "windows".into();
    c
}

#[test]
fn constraints_restrict_placement_for_every_key() {
    let cases: &[(&[&str], &[&str])] = &[
        (&["node.role==manager"], &["a"]),
        (&["node.role!=manager"], &["b", "c"]),
        (&["node.ip==10.0.0.0/16"], &["a", "b"]),
        (&["node.ip==10.0.1.2"], &["b"]),
        (&["node.ip==2001:db8::/32"], &["c"]),
        (&["node.ip!=10.0.0.0/8"], &["c"]),
        (&["node.labels.zone!=z1"], &["b", "c"]),
        (&["node.labels.zone==Z2"], &["b"]),
        (&["engine.labels.disk==ssd"], &["a"]),
        (&["engine.labels.disk!=ssd"], &["b", "c"]),
        (&["node.hostname==host-c"], &["c"]),
        (&["node.id==b"], &["b"]),
        (&["node.platform.os==windows"], &["c"]),
        (&["node.platform.arch==x86_64"], &["a", "b", "c"]),
        (&["node.role==worker", "node.labels.zone!=z2"], &["c"]),
    ];
    for (constraints, expected) in cases {
        let mut c = constraint_cluster();
        c.service("web").placement.constraints =
            constraints.iter().map(|s| s.to_string()).collect();
        let d = c.schedule(&tasks("web", 6));
        let used: Vec<&str> = per_node(&d).into_keys().collect();
        assert_eq!(&used, expected, "{constraints:?}");
        assert!(d.unplaced.is_empty(), "{constraints:?}");
    }
}

#[test]
fn an_unparsable_constraint_leaves_the_task_unplaced_with_the_error() {
    let mut c = Cluster::with_nodes(&["a"]);
    c.service("web").placement.constraints = vec!["node.rol==manager".into()];
    let d = c.schedule(&tasks("web", 1));
    assert!(d.placements.is_empty());
    assert!(
        d.unplaced[0]
            .reason
            .starts_with("invalid constraint \"node.rol==manager\""),
        "{}",
        d.unplaced[0].reason
    );
}

#[test]
fn cpu_reservations_exhaust_a_node() {
    let mut c = Cluster::with_nodes(&["a", "b"]);
    c.node("a").description.cpus = Cpus(2 * CPU);
    c.node("b").description.cpus = Cpus(CPU);
    c.service("web").resources.reserve_cpus = Cpus(CPU);
    let d = c.schedule(&tasks("web", 4));
    assert_eq!(per_node(&d), BTreeMap::from([("a", 2), ("b", 1)]));
    assert_eq!(reasons(&d), ["no suitable node (2 nodes insufficient cpu)"]);
    assert_eq!(d.unplaced[0].task, "web.3");
}

#[test]
fn memory_reservations_exhaust_a_node_and_count_tasks_already_there() {
    let mut c = Cluster::with_nodes(&["a", "b"]);
    c.node("a").description.memory = ByteSize(2 * GIB);
    c.node("b").description.memory = ByteSize(2 * GIB);
    c.service("web").resources.reserve_memory = ByteSize(GIB);
    c.service("db").resources.reserve_memory = ByteSize(GIB);
    c.placed = vec![running("d1", "db", "b")];
    let d = c.schedule(&tasks("web", 4));
    assert_eq!(per_node(&d), BTreeMap::from([("a", 2), ("b", 1)]));
    assert_eq!(
        reasons(&d),
        ["no suitable node (2 nodes insufficient memory)"]
    );
}

#[test]
fn a_node_that_reports_no_capacity_takes_only_tasks_that_reserve_nothing() {
    let mut c = Cluster::with_nodes(&["a"]);
    c.node("a").description.cpus = Cpus(0);
    c.service("web");
    c.service("api").resources.reserve_cpus = Cpus(CPU / 10);
    let mut pending = tasks("web", 1);
    pending.extend(tasks("api", 1));
    let d = c.schedule(&pending);
    assert_eq!(d.placements.len(), 1);
    assert_eq!(d.placements[0].task, "web.0");
    assert_eq!(reasons(&d), ["no suitable node (1 node insufficient cpu)"]);
}

#[test]
fn a_published_port_conflicts_with_a_task_already_on_the_node() {
    let mut c = Cluster::with_nodes(&["a", "b"]);
    c.service("web").ports = vec![port(8080, Protocol::Tcp)];
    c.service("api").ports = vec![port(8080, Protocol::Tcp)];
    c.service("dns").ports = vec![port(8080, Protocol::Udp)];
    c.placed = vec![running("w1", "web", "a")];
    let mut pending = tasks("api", 2);
    pending.extend(tasks("dns", 1));
    let d = c.schedule(&pending);
    let on: Vec<(&str, &str)> = d
        .placements
        .iter()
        .map(|p| (p.task.as_str(), p.node.as_str()))
        .collect();
    // dns uses udp: no conflict with web's tcp port, and spread sends it to the emptier a.
    assert_eq!(on, [("api.0", "b"), ("dns.0", "a")]);
    assert_eq!(
        reasons(&d),
        ["no suitable node (2 nodes port 8080/tcp already in use)"]
    );
}

#[test]
fn published_ports_conflict_within_one_batch() {
    let mut c = Cluster::with_nodes(&["a", "b", "c"]);
    c.service("web").ports = vec![port(80, Protocol::Tcp)];
    let d = c.schedule(&tasks("web", 4));
    assert_eq!(per_node(&d), BTreeMap::from([("a", 1), ("b", 1), ("c", 1)]));
    assert_eq!(
        reasons(&d),
        ["no suitable node (3 nodes port 80/tcp already in use)"]
    );
}

#[test]
fn max_replicas_per_node_caps_tasks_of_the_service() {
    let mut c = Cluster::with_nodes(&["a", "b"]);
    c.config.strategy = Strategy::Binpack;
    c.service("web").placement.max_replicas_per_node = 2;
    c.placed = vec![running("w", "web", "b")];
    let d = c.schedule(&tasks("web", 4));
    assert_eq!(per_node(&d), BTreeMap::from([("a", 2), ("b", 1)]));
    assert_eq!(
        reasons(&d),
        ["no suitable node (2 nodes max replicas per node (2) reached)"]
    );
}

#[test]
fn preferences_split_tasks_evenly_over_zones_of_uneven_size() {
    let mut c = Cluster::with_nodes(&["a", "b", "c", "d"]);
    for (id, zone) in [("a", "z1"), ("b", "z2"), ("c", "z2"), ("d", "z2")] {
        c.node(id).spec.labels.insert("zone".into(), zone.into());
    }
    c.service("web").placement.preferences = vec!["node.labels.zone".into()];
    let d = c.schedule(&tasks("web", 8));
    assert_eq!(
        per_node(&d),
        BTreeMap::from([("a", 4), ("b", 2), ("c", 1), ("d", 1)])
    );
}

#[test]
fn preferences_count_existing_tasks_and_give_unlabelled_nodes_their_own_branch() {
    let mut c = Cluster::with_nodes(&["a", "b", "c"]);
    c.node("a").spec.labels.insert("zone".into(), "z1".into());
    c.node("b").spec.labels.insert("zone".into(), "z2".into());
    c.service("web").placement.preferences = vec!["node.labels.zone".into()];
    c.placed = vec![running("w1", "web", "a"), running("w2", "web", "a")];
    let d = c.schedule(&tasks("web", 4));
    // z1 already has 2: the unlabelled branch (c) and z2 (b) catch up first.
    assert_eq!(per_node(&d), BTreeMap::from([("b", 2), ("c", 2)]));
}

#[test]
fn nested_preferences_spread_at_every_level() {
    let mut c = Cluster::default();
    for (id, zone, rack) in [
        ("a", "z1", "r1"),
        ("b", "z1", "r1"),
        ("c", "z1", "r2"),
        ("d", "z2", "r3"),
    ] {
        let n = c.add_node(node(id));
        n.spec.labels.insert("zone".into(), zone.into());
        n.spec.labels.insert("rack".into(), rack.into());
    }
    c.service("web").placement.preferences =
        vec!["node.labels.zone".into(), "node.labels.rack".into()];
    let d = c.schedule(&tasks("web", 8));
    // 4 per zone; in z1, 2 per rack; in r1, 1 per node.
    assert_eq!(
        per_node(&d),
        BTreeMap::from([("a", 1), ("b", 1), ("c", 2), ("d", 4)])
    );
}

#[test]
fn a_full_preference_branch_overflows_into_the_others() {
    let mut c = Cluster::with_nodes(&["a", "b"]);
    c.node("a").spec.labels.insert("zone".into(), "z1".into());
    c.node("b").spec.labels.insert("zone".into(), "z2".into());
    c.node("a").description.cpus = Cpus(CPU);
    let web = c.service("web");
    web.placement.preferences = vec!["node.labels.zone".into()];
    web.resources.reserve_cpus = Cpus(CPU);
    let d = c.schedule(&tasks("web", 3));
    assert_eq!(per_node(&d), BTreeMap::from([("a", 1), ("b", 2)]));
}

#[test]
fn preferences_may_spread_over_engine_labels_and_node_attributes() {
    let mut c = Cluster::with_nodes(&["a", "b", "c"]);
    c.node("a").spec.role = NodeRole::Manager;
    c.service("web").placement.preferences = vec!["node.role".into()];
    let d = c.schedule(&tasks("web", 4));
    assert_eq!(per_node(&d), BTreeMap::from([("a", 2), ("b", 1), ("c", 1)]));

    let mut c = Cluster::with_nodes(&["a", "b", "c"]);
    c.node("c")
        .description
        .engine_labels
        .insert("gpu".into(), "yes".into());
    c.service("web").placement.preferences = vec!["engine.labels.gpu".into()];
    let d = c.schedule(&tasks("web", 4));
    assert_eq!(per_node(&d), BTreeMap::from([("a", 1), ("b", 1), ("c", 2)]));
}

#[test]
fn an_invalid_preference_leaves_the_task_unplaced() {
    let mut c = Cluster::with_nodes(&["a"]);
    c.service("web").placement.preferences = vec!["zone".into()];
    let d = c.schedule(&tasks("web", 1));
    assert!(
        d.unplaced[0]
            .reason
            .starts_with("invalid placement preference")
    );
}

#[test]
fn a_task_with_a_node_is_placed_there_or_unplaced_with_the_reason() {
    let mut c = Cluster::with_nodes(&["a", "b", "drained"]);
    c.node("drained").spec.availability = Availability::Drain;
    c.service("agent").resources.reserve_cpus = Cpus(CPU);
    c.node("b").description.cpus = Cpus(CPU / 2);
    let pending: Vec<Task> = ["a", "b", "drained", "gone"]
        .into_iter()
        .map(|n| {
            let mut t = task(&format!("agent.{n}"), "agent");
            t.node = Some(n.to_owned());
            t
        })
        .collect();
    let d = c.schedule(&pending);
    assert_eq!(
        d.placements,
        [Placement {
            task: "agent.a".into(),
            node: "a".into()
        }]
    );
    let unplaced: Vec<(&str, &str)> = d
        .unplaced
        .iter()
        .map(|u| (u.task.as_str(), u.reason.as_str()))
        .collect();
    assert_eq!(
        unplaced,
        [
            ("agent.b", "no suitable node (1 node insufficient cpu)"),
            (
                "agent.drained",
                "no suitable node (1 node not available for new tasks)"
            ),
            (
                "agent.gone",
                "no suitable node (node \"gone\" is not in the cluster)"
            ),
        ]
    );
}

#[test]
fn a_task_of_an_unknown_service_is_unplaced() {
    let c = Cluster::with_nodes(&["a"]);
    let d = c.schedule(&tasks("nope", 1));
    assert_eq!(reasons(&d), ["service \"nope\" not found"]);
}

#[test]
fn the_reason_counts_each_node_once_under_its_first_failing_filter() {
    let mut c = Cluster::with_nodes(&[
        "down1", "down2", "unknown", "pause", "drain", "worker", "small", "tight",
    ]);
    c.node("down1").status.state = NodeState::Down;
    c.node("down2").status.state = NodeState::Down;
    // Down and drained: the first filter (ready) gets it.
    c.node("down2").spec.availability = Availability::Drain;
    c.node("unknown").status.state = NodeState::Unknown;
    c.node("pause").spec.availability = Availability::Pause;
    c.node("drain").spec.availability = Availability::Drain;
    for id in [
        "down1", "down2", "unknown", "pause", "drain", "small", "tight",
    ] {
        c.node(id).spec.role = NodeRole::Manager;
    }
    c.node("small").description.cpus = Cpus(CPU);
    c.node("tight").description.memory = ByteSize(GIB);
    let web = c.service("web");
    web.placement.constraints = vec!["node.role==manager".into()];
    web.resources.reserve_cpus = Cpus(2 * CPU);
    web.resources.reserve_memory = ByteSize(2 * GIB);
    let d = c.schedule(&tasks("web", 2));
    let expected = "no suitable node (2 nodes down, 1 node not ready, \
                    2 nodes not available for new tasks, 1 node constraint node.role==manager, \
                    1 node insufficient cpu, 1 node insufficient memory)";
    assert_eq!(reasons(&d), [expected, expected]);
}

#[test]
fn with_no_nodes_the_reason_says_so() {
    let mut c = Cluster::default();
    c.service("web");
    let d = c.schedule(&tasks("web", 1));
    assert_eq!(reasons(&d), ["no suitable node (no nodes in the cluster)"]);
}

#[test]
fn placements_of_one_service_count_for_the_next() {
    let mut c = Cluster::with_nodes(&["a", "b"]);
    c.service("web").resources.reserve_cpus = Cpus(3 * CPU);
    c.service("api").resources.reserve_cpus = Cpus(2 * CPU);
    let mut pending = tasks("web", 2);
    pending.extend(tasks("api", 1));
    let d = c.schedule(&pending);
    assert_eq!(d.placements.len(), 2);
    assert_eq!(reasons(&d), ["no suitable node (2 nodes insufficient cpu)"]);
}

mod properties {
    use std::collections::{BTreeMap, BTreeSet, HashMap};

    use crds::compose::Strategy as Ranking;
    use proptest::prelude::*;
    use proptest::strategy::Strategy;

    use super::*;
    use crate::scheduler::node_info::occupies;

    const CONSTRAINTS: [&str; 4] = [
        "node.role==worker",
        "node.labels.zone!=z1",
        "node.labels.zone==z2",
        "node.ip==10.0.0.0/30",
    ];

    #[derive(Debug, Clone)]
    struct NodeCase {
        state: u8,
        availability: u8,
        manager: bool,
        zone: u8,
        cpus: u64,
        memory: u64,
    }

    #[derive(Debug, Clone)]
    struct ServiceCase {
        cpus: u64,
        memory: u64,
        port: Option<u16>,
        max: u64,
        constraint: Option<usize>,
        preference: bool,
        strategy: u8,
    }

    fn node_case() -> impl Strategy<Value = NodeCase> {
        (0..3u8, 0..4u8, any::<bool>(), 0..3u8, 0..5u64, 0..5u64).prop_map(
            |(state, availability, manager, zone, cpus, memory)| NodeCase {
                state,
                availability,
                manager,
                zone,
                cpus,
                memory,
            },
        )
    }

    fn service_case() -> impl Strategy<Value = ServiceCase> {
        (
            0..3u64,
            0..3u64,
            proptest::option::of(1..3u16),
            0..3u64,
            proptest::option::of(0..CONSTRAINTS.len()),
            any::<bool>(),
            0..3u8,
        )
            .prop_map(
                |(cpus, memory, port, max, constraint, preference, strategy)| ServiceCase {
                    cpus,
                    memory,
                    port,
                    max,
                    constraint,
                    preference,
                    strategy,
                },
            )
    }

    fn build(nodes: &[NodeCase], services: &[ServiceCase], seed: u64) -> Cluster {
        let mut c = Cluster::default();
        c.config.seed = seed;
        for (i, n) in nodes.iter().enumerate() {
            let node = c.add_node(node(&format!("n{i}")));
            node.status.state =
                [NodeState::Ready, NodeState::Down, NodeState::Unknown][usize::from(n.state)];
            node.spec.availability = [
                Availability::Active,
                Availability::Active,
                Availability::Pause,
                Availability::Drain,
            ][usize::from(n.availability)];
            node.spec.role = if n.manager {
                NodeRole::Manager
            } else {
                NodeRole::Worker
            };
            if n.zone > 0 {
                node.spec
                    .labels
                    .insert("zone".into(), format!("z{}", n.zone));
            }
            node.description.advertise_addr = format!("10.0.0.{i}");
            node.description.cpus = Cpus(n.cpus * CPU);
            node.description.memory = ByteSize(n.memory * GIB);
        }
        for (i, s) in services.iter().enumerate() {
            let spec = c.service(&format!("s{i}"));
            spec.resources.reserve_cpus = Cpus(s.cpus * CPU);
            spec.resources.reserve_memory = ByteSize(s.memory * GIB);
            spec.ports = s.port.map(|p| port(p, Protocol::Tcp)).into_iter().collect();
            spec.placement.max_replicas_per_node = s.max;
            spec.placement.constraints = s
                .constraint
                .map(|i| CONSTRAINTS[i].to_owned())
                .into_iter()
                .collect();
            if s.preference {
                spec.placement.preferences = vec!["node.labels.zone".into()];
            }
            spec.strategy =
                Some([Ranking::Spread, Ranking::Binpack, Ranking::Random][usize::from(s.strategy)]);
        }
        c
    }

    /// Checks every filter on the final state: reservations, ports and counts of the placed
    /// tasks that occupy their node plus the new placements.
    fn check(c: &Cluster, pending: &[Task], d: &Decision) -> Result<(), TestCaseError> {
        let want: BTreeSet<&str> = pending.iter().map(|t| t.meta.id.as_str()).collect();
        let got: Vec<&str> = d
            .placements
            .iter()
            .map(|p| p.task.as_str())
            .chain(d.unplaced.iter().map(|u| u.task.as_str()))
            .collect();
        prop_assert_eq!(got.len(), pending.len());
        prop_assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), want);

        let by_id: HashMap<&str, &Task> = pending.iter().map(|t| (t.meta.id.as_str(), t)).collect();
        let mut on_node: Vec<(&str, &str)> = c
            .placed
            .iter()
            .filter(|t| occupies(t))
            .filter_map(|t| Some((t.service.as_str(), t.node.as_deref()?)))
            .collect();
        for p in &d.placements {
            let task = by_id[p.task.as_str()];
            if let Some(fixed) = &task.node {
                prop_assert_eq!(fixed, &p.node);
            }
            let node = &c.nodes[&p.node];
            prop_assert_eq!(node.status.state, NodeState::Ready);
            prop_assert_eq!(node.spec.availability, Availability::Active);
            let spec = &c.services[&task.service].spec;
            let info = node_info::NodeInfo::new(node);
            for text in &spec.placement.constraints {
                let constraint = crds::constraint::parse_constraint(text).expect("valid");
                prop_assert!(
                    constraint.matches(&info.attributes),
                    "{} on {}",
                    text,
                    p.node
                );
            }
            on_node.push((task.service.as_str(), p.node.as_str()));
        }
        let mut cpus: BTreeMap<&str, u64> = BTreeMap::new();
        let mut memory: BTreeMap<&str, u64> = BTreeMap::new();
        let mut ports: BTreeSet<(&str, u16)> = BTreeSet::new();
        let mut counts: BTreeMap<(&str, &str), u64> = BTreeMap::new();
        let placed_before = c.placed.iter().filter(|t| occupies(t)).count();
        for (i, (service, node)) in on_node.iter().enumerate() {
            let spec = &c.services[*service].spec;
            *cpus.entry(node).or_default() += spec.resources.reserve_cpus.0;
            *memory.entry(node).or_default() += spec.resources.reserve_memory.0;
            *counts.entry((service, node)).or_default() += 1;
            let new = i >= placed_before;
            for p in spec.ports.iter().filter_map(|p| p.published) {
                // Only new placements must avoid ports bound before them.
                prop_assert!(
                    ports.insert((node, p)) || !new,
                    "port {} twice on {}",
                    p,
                    node
                );
            }
            if new {
                let n = &c.nodes[*node].description;
                if spec.resources.reserve_cpus.0 > 0 {
                    prop_assert!(cpus[node] <= n.cpus.0, "cpu over on {}", node);
                }
                if spec.resources.reserve_memory.0 > 0 {
                    prop_assert!(memory[node] <= n.memory.0, "memory over on {}", node);
                }
                let max = spec.placement.max_replicas_per_node;
                prop_assert!(max == 0 || counts[&(*service, *node)] <= max);
            }
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn no_placement_violates_a_filter_and_every_task_is_accounted_for(
            nodes in proptest::collection::vec(node_case(), 0..8),
            services in proptest::collection::vec(service_case(), 1..4),
            placed in proptest::collection::vec((0..4usize, 0..8usize), 0..6),
            pending in proptest::collection::vec((0..4usize, proptest::option::of(0..9usize)), 0..30),
            seed in any::<u64>(),
        ) {
            let c0 = build(&nodes, &services, seed);
            let mut c = c0;
            c.placed = placed
                .iter()
                .enumerate()
                .filter(|(_, (_, n))| *n < nodes.len())
                .map(|(i, (s, n))| running(&format!("p{i}"), &format!("s{}", s % services.len()), &format!("n{n}")))
                .collect();
            let pending: Vec<Task> = pending
                .iter()
                .enumerate()
                .map(|(i, (s, fixed))| {
                    // s == services.len() may name a missing service.
                    let mut t = task(&format!("t{i}"), &format!("s{s}"));
                    t.node = fixed.map(|n| format!("n{n}"));
                    t
                })
                .collect();
            let d = c.schedule(&pending);
            check(&c, &pending, &d)?;
        }
    }
}
