use super::*;

const S: Duration = Duration::from_secs(1);

fn timing() -> Timing {
    Timing {
        period: S,
        misses: 3,
    }
}

#[test]
fn a_heartbeating_node_is_never_overdue() {
    let t0 = Instant::now();
    let mut l = Liveness::new(timing(), t0);
    for i in 0..20 {
        l.seen("a", t0 + S * i);
        assert!(
            l.overdue([("a", NodeState::Ready)], t0 + S * i + S)
                .is_empty()
        );
    }
}

#[test]
fn three_missed_heartbeats_make_a_node_overdue() {
    let t0 = Instant::now();
    let mut l = Liveness::new(timing(), t0);
    l.seen("a", t0 + S * 10);
    assert!(l.overdue([("a", NodeState::Ready)], t0 + S * 13).is_empty());
    let overdue = l.overdue([("a", NodeState::Ready)], t0 + S * 13 + S / 10);
    assert_eq!(overdue.len(), 1);
    assert_eq!(overdue[0].node_id, "a");
    assert!(overdue[0].silent_for > S * 3);
}

#[test]
fn a_node_already_down_is_not_reported_again() {
    let t0 = Instant::now();
    let l = Liveness::new(timing(), t0);
    assert!(l.overdue([("a", NodeState::Down)], t0 + S * 100).is_empty());
}

#[test]
fn a_new_leader_gives_unseen_nodes_a_grace_period() {
    let t0 = Instant::now();
    let l = Liveness::new(timing(), t0);
    // Timeout (3 s) plus grace (3 s) from the leader change.
    assert!(l.overdue([("a", NodeState::Ready)], t0 + S * 6).is_empty());
    assert_eq!(
        l.overdue([("a", NodeState::Ready)], t0 + S * 6 + S / 10)
            .len(),
        1
    );
}

#[test]
fn forgotten_nodes_lose_their_sightings() {
    let t0 = Instant::now();
    let mut l = Liveness::new(timing(), t0);
    l.seen("a", t0 + S * 20);
    l.forget("a");
    assert_eq!(l.overdue([("a", NodeState::Ready)], t0 + S * 21).len(), 1);
}

#[test]
fn a_stall_of_the_leader_is_not_held_against_nodes() {
    let t0 = Instant::now();
    let mut l = Liveness::new(timing(), t0);
    l.seen("a", t0 + S * 10);
    assert_eq!(l.checking(t0 + S * 10), Duration::ZERO);
    // The leader's check, due every half second, next runs 5 s later: the process stalled.
    let forgiven = l.checking(t0 + S * 15);
    assert_eq!(forgiven, S * 5 - S / 2);
    assert!(
        l.overdue([("a", NodeState::Ready)], t0 + S * 15).is_empty(),
        "silence during the stall does not count"
    );
    // Silence after the stall does: down after the usual three missed heartbeats.
    let mut now = t0 + S * 15;
    while now < t0 + S * 18 + S / 2 {
        now += S / 2;
        assert_eq!(l.checking(now), Duration::ZERO);
    }
    assert_eq!(l.overdue([("a", NodeState::Ready)], now).len(), 1);
}

#[test]
fn checks_on_time_forgive_nothing() {
    let t0 = Instant::now();
    let mut l = Liveness::new(timing(), t0);
    l.seen("a", t0);
    for i in 1..=10 {
        assert_eq!(l.checking(t0 + S / 2 * i), Duration::ZERO);
    }
    // A check a little late (under a period) is ordinary scheduling jitter.
    assert_eq!(l.checking(t0 + S * 5 + S * 9 / 10), Duration::ZERO);
    assert_eq!(l.overdue([("a", NodeState::Ready)], t0 + S * 6).len(), 1);
}
