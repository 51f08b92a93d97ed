use crds::node::NodeRole;

use super::*;
use crate::raft::fixtures::node;

fn peer(id: &str, role: NodeRole) -> PeerIdentity {
    PeerIdentity {
        node_id: id.into(),
        role,
        cluster_id: "c1".into(),
    }
}

/// A cluster with manager `m1`, worker `w1` and `gone` removed.
fn members() -> Members {
    let mut m1 = node("m1");
    m1.spec.role = NodeRole::Manager;
    let mut w1 = node("w1");
    w1.spec.role = NodeRole::Worker;
    Members {
        nodes: [("m1".into(), m1), ("w1".into(), w1)].into(),
        revoked: ["gone".to_owned()].into(),
        initialised: true,
    }
}

#[test]
fn a_removed_node_is_refused_at_every_door_whatever_its_certificate_says() {
    let gone = peer("gone", NodeRole::Manager);
    for door in [Door::Raft, Door::Session, Door::Admin] {
        assert_eq!(
            members().admit(&gone, door, true),
            Err(Refusal::Revoked("gone".into())),
            "{door:?}"
        );
    }
}

#[test]
fn a_manager_certificate_for_a_node_never_in_the_cluster_is_refused_at_manager_doors() {
    let stranger = peer("stranger", NodeRole::Manager);
    let m = members();
    assert_eq!(
        m.admit(&stranger, Door::Admin, false),
        Err(Refusal::NotMember("stranger".into()))
    );
    assert_eq!(
        m.admit(&stranger, Door::Raft, false),
        Err(Refusal::NotMember("stranger".into()))
    );
    assert_eq!(m.admit(&stranger, Door::Session, false), Ok(()));
}

#[test]
fn a_demoted_manager_loses_the_admin_api_at_once_and_raft_when_it_leaves_the_configuration() {
    let demoted = peer("w1", NodeRole::Manager);
    let m = members();
    assert_eq!(
        m.admit(&demoted, Door::Admin, true),
        Err(Refusal::NotManager("w1".into()))
    );
    assert_eq!(m.admit(&demoted, Door::Raft, true), Ok(()));
    assert_eq!(
        m.admit(&demoted, Door::Raft, false),
        Err(Refusal::NotManager("w1".into()))
    );
}

#[test]
fn members_pass() {
    let m = members();
    let m1 = peer("m1", NodeRole::Manager);
    for door in [Door::Raft, Door::Session, Door::Admin] {
        assert_eq!(m.admit(&m1, door, false), Ok(()), "{door:?}");
    }
    assert_eq!(
        m.admit(&peer("w1", NodeRole::Worker), Door::Session, false),
        Ok(())
    );
}

#[test]
fn a_store_that_has_not_caught_up_goes_by_the_certificate() {
    let empty = Members::default();
    assert_eq!(
        empty.admit(&peer("m9", NodeRole::Manager), Door::Raft, false),
        Ok(())
    );
}

#[test]
fn removing_a_node_revokes_it_and_the_members_follow_the_state() {
    let mut state = ClusterState::default();
    state.apply(&crate::raft::Command::InitCluster {
        cluster: crate::raft::fixtures::cluster_info("c1"),
    });
    state.nodes.insert("w1".into(), node("w1"));
    state.apply(&crate::raft::Command::RemoveNode { id: "w1".into() });
    let members = Members::of(&state);
    assert!(members.nodes.is_empty());
    assert_eq!(
        members.admit(&peer("w1", NodeRole::Worker), Door::Session, false),
        Err(Refusal::Revoked("w1".into()))
    );
}
