//! When a manager counts as leading: only once an entry of its own term is applied.

use openraft::{CommittedLeaderId, LogId, RaftMetrics, ServerState};

use super::established;

fn metrics(
    state: ServerState,
    leader: Option<u64>,
    term: u64,
    applied_term: u64,
) -> RaftMetrics<u64, openraft::BasicNode> {
    let mut m = RaftMetrics::new_initial(1);
    m.state = state;
    m.current_leader = leader;
    m.current_term = term;
    m.last_applied = Some(LogId::new(CommittedLeaderId::new(applied_term, 1), 7));
    m
}

#[test]
fn a_leader_leads_once_an_entry_of_its_term_is_applied() {
    assert!(established(&metrics(ServerState::Leader, Some(1), 3, 3), 1));
}

#[test]
fn a_leader_that_only_applied_older_terms_does_not_lead_yet() {
    assert!(
        !established(&metrics(ServerState::Leader, Some(1), 3, 2), 1),
        "a restarted former leader still at its old entries"
    );
    let mut fresh = metrics(ServerState::Leader, Some(1), 1, 1);
    fresh.last_applied = None;
    assert!(!established(&fresh, 1), "nothing applied at all");
}

#[test]
fn followers_and_other_leaders_do_not_lead() {
    assert!(!established(
        &metrics(ServerState::Follower, Some(1), 3, 3),
        1
    ));
    assert!(!established(
        &metrics(ServerState::Leader, Some(2), 3, 3),
        1
    ));
}
