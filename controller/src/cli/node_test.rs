use crds::node::Node;

use super::*;

fn view(id: &str, host: &str, state: NodeState, status: Option<ManagerStatus>) -> NodeView {
    let mut node = Node::default();
    node.meta.id = id.into();
    node.description.hostname = host.into();
    node.description.engine_version = Some("28.2.2".into());
    node.status.state = state;
    NodeView {
        node,
        manager_status: status,
    }
}

#[test]
fn the_table_reads_like_docker_node_ls() {
    let nodes = vec![
        view("w1", "worker-1", NodeState::Down, None),
        view(
            "m1",
            "manager-1",
            NodeState::Ready,
            Some(ManagerStatus::Leader),
        ),
        view(
            "m2",
            "manager-2",
            NodeState::Ready,
            Some(ManagerStatus::Reachable),
        ),
    ];
    let table = render_table(&nodes, Some("m1"));
    let expected = "\
ID     HOSTNAME    STATUS   AVAILABILITY   MANAGER STATUS   ENGINE VERSION
m1 *   manager-1   Ready    Active         Leader           28.2.2
m2     manager-2   Ready    Active         Reachable        28.2.2
w1     worker-1    Down     Active                          28.2.2
";
    assert_eq!(table, expected);
}

#[test]
fn labels_parse_as_key_value() {
    let parsed = |s| parse_label(s).map_err(|e| e.to_string());
    assert_eq!(parsed("zone=a"), Ok(("zone".into(), "a".into())));
    assert_eq!(parsed("empty="), Ok(("empty".into(), String::new())));
    assert_eq!(parsed("=a"), Err("\"=a\" is not key=value".into()));
    assert_eq!(
        parsed("novalue"),
        Err("\"novalue\" is not key=value".into())
    );
}
