use super::*;
use crate::scheduler::tests::{node, running};

#[test]
fn advertise_addresses_parse_with_or_without_a_port() {
    let cases = [
        ("10.0.0.1", Some("10.0.0.1")),
        ("10.0.0.1:2377", Some("10.0.0.1")),
        ("::1", Some("::1")),
        ("[::1]:2377", Some("::1")),
        ("[2001:db8::1]", Some("2001:db8::1")),
        ("", None),
        ("host.example.com:2377", None),
    ];
    for (addr, expected) in cases {
        let expected = expected.map(|ip| ip.parse::<IpAddr>().expect("test ip"));
        assert_eq!(parse_ip(addr), expected, "{addr}");
    }
}

#[test]
fn only_live_tasks_on_a_node_occupy_it() {
    let mut on_node = running("t", "web", "a");
    assert!(occupies(&on_node));
    on_node.status.state = TaskState::Assigned;
    assert!(occupies(&on_node));
    let mut unassigned = on_node.clone();
    unassigned.node = None;
    assert!(!occupies(&unassigned));
    let mut ended = on_node.clone();
    ended.status.state = TaskState::Complete;
    assert!(!occupies(&ended));
    let mut stopping = on_node.clone();
    stopping.desired_state = TaskState::Shutdown;
    assert!(!occupies(&stopping));
}

#[test]
fn the_node_set_counts_tasks_and_ignores_unknown_nodes() {
    let nodes = BTreeMap::from([("a".to_owned(), node("a")), ("b".to_owned(), node("b"))]);
    let services = BTreeMap::new();
    let tasks = [
        running("1", "web", "a"),
        running("2", "web", "a"),
        running("3", "db", "a"),
        running("4", "web", "gone"),
    ];
    let placed: Vec<&Task> = tasks.iter().collect();
    let set = NodeSet::build(&nodes, &services, &placed);
    let a = &set.nodes[set.position("a").expect("a")];
    let count = |service| a.service_tasks(set.find_service(service).expect("numbered"));
    assert_eq!((a.tasks, count("web"), count("db")), (3, 2, 1));
    assert_eq!(set.nodes[1].tasks, 0);
    assert_eq!(set.position("gone"), None);
}
