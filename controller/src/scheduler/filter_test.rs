use super::*;
use crate::scheduler::tests::spec;

#[test]
fn reasons_are_counted_pluralised_and_listed_in_pipeline_order() {
    let mut spec = spec("web");
    spec.placement.constraints = vec!["node.role==manager".into(), "node.labels.a!=b".into()];
    spec.placement.max_replicas_per_node = 3;
    let req = Requirements::new("web", &spec, Strategy::Spread).expect("valid");
    let mut e = Explanation::default();
    // Added out of order: the reason sorts them.
    for r in [
        Rejection::MaxReplicas,
        Rejection::Constraint(1),
        Rejection::PortInUse(53, Protocol::Udp),
        Rejection::Down,
        Rejection::Constraint(0),
        Rejection::Down,
        Rejection::Unavailable,
    ] {
        e.add(r);
    }
    assert_eq!(
        e.reason(&req),
        "no suitable node (2 nodes down, 1 node not available for new tasks, \
         1 node constraint node.role==manager, 1 node constraint node.labels.a!=b, \
         1 node port 53/udp already in use, 1 node max replicas per node (3) reached)"
    );
    assert_eq!(
        Explanation::default().reason(&req),
        "no suitable node (no nodes in the cluster)"
    );
}

#[test]
fn every_rejection_belongs_to_the_filter_that_makes_it() {
    let cases = [
        (Rejection::Down, Filter::Ready),
        (Rejection::NotReady, Filter::Ready),
        (Rejection::Unavailable, Filter::Availability),
        (Rejection::Constraint(0), Filter::Constraints),
        (Rejection::InsufficientCpu, Filter::Resources),
        (Rejection::InsufficientMemory, Filter::Resources),
        (Rejection::PortInUse(1, Protocol::Tcp), Filter::Ports),
        (Rejection::MaxReplicas, Filter::MaxReplicas),
    ];
    for (rejection, filter) in cases {
        assert_eq!(rejection.filter(), filter, "{rejection:?}");
    }
    let static_then_dynamic: Vec<Filter> =
        Filter::STATIC.into_iter().chain(Filter::DYNAMIC).collect();
    assert_eq!(static_then_dynamic, Filter::PIPELINE);
}

#[test]
fn requirements_take_the_service_strategy_over_the_default_and_dedupe_ports() {
    let mut spec = spec("web");
    let requirements = Requirements::new("web", &spec, Strategy::Binpack).expect("valid");
    assert_eq!(requirements.strategy, Strategy::Binpack);
    spec.strategy = Some(Strategy::Random);
    let port = crds::port::parse_short("8080:80").expect("port").remove(0);
    spec.ports = vec![port.clone(), port];
    let requirements = Requirements::new("web", &spec, Strategy::Binpack).expect("valid");
    assert_eq!(requirements.strategy, Strategy::Random);
    assert_eq!(requirements.ports, [(8080, Protocol::Tcp)]);
}
