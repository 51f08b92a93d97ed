use super::*;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn container(task: &str, slot: &str, node: &str) -> Listed {
    Listed {
        id: format!("c-{task}"),
        state: "running".into(),
        image: "reconciler-test/echo:1".into(),
        task: task.into(),
        service: "s_web".into(),
        slot: slot.into(),
        node: node.into(),
    }
}

fn web(desired: u64, updating: bool) -> ServiceView {
    ServiceView {
        name: "s_web".into(),
        desired,
        updating,
    }
}

fn view(applied: &str, leader: &str, term: u64) -> ManagerView {
    ManagerView {
        applied: Some(applied.into()),
        leader: Some(leader.into()),
        term,
        stale: false,
    }
}

#[test]
fn a_doubled_slot_is_a_violation_outside_a_window_only() {
    let mut rules = Rules::new(Bounds::default());
    let doubled = [container("t1", "1", "n1"), container("t2", "1", "n2")];
    assert_eq!(rules.observe_engine(secs(1), &doubled).len(), 1);

    rules.open("freeze n1");
    assert!(rules.observe_engine(secs(2), &doubled).is_empty());
    rules.close(secs(10), "freeze n1");
    assert!(rules.observe_engine(secs(39), &doubled).is_empty());
    assert_eq!(rules.observe_engine(secs(41), &doubled).len(), 1);
}

#[test]
fn start_first_updates_may_double_a_slot_stop_first_ones_may_not() {
    let doubled = [container("t1", "1", "n1"), container("t2", "1", "n1")];
    let mut stop_first = Rules::new(Bounds::default());
    stop_first.observe_services(secs(1), &[web(1, true)]);
    assert_eq!(stop_first.observe_engine(secs(1), &doubled).len(), 1);

    let mut start_first = Rules::new(Bounds {
        start_first: true,
        ..Bounds::default()
    });
    start_first.observe_services(secs(1), &[web(1, true)]);
    assert!(start_first.observe_engine(secs(1), &doubled).is_empty());
}

#[test]
fn a_revision_going_back_or_never_pushed_is_a_violation() {
    let mut rules = Rules::new(Bounds::default());
    rules.revisions = vec!["aaa".into(), "bbb".into()];
    assert!(
        rules
            .observe_manager("m1", &view("bbb", "m1", 2))
            .is_empty()
    );
    let back = rules.observe_manager("m1", &view("aaa", "m1", 2));
    assert!(back[0].contains("went back"), "{back:?}");
    // Another manager lagging behind is not a violation by itself.
    assert!(
        rules
            .observe_manager("m2", &view("aaa", "m1", 2))
            .is_empty()
    );
    let unknown = rules.observe_manager("m3", &view("ccc", "m1", 2));
    assert!(unknown[0].contains("never pushed"), "{unknown:?}");
}

#[test]
fn two_leaders_in_one_term_is_a_violation() {
    let mut rules = Rules::new(Bounds::default());
    rules.revisions = vec!["aaa".into()];
    assert!(
        rules
            .observe_manager("m1", &view("aaa", "m1", 3))
            .is_empty()
    );
    assert!(
        rules
            .observe_manager("m2", &view("aaa", "m2", 4))
            .is_empty()
    );
    let split = rules.observe_manager("m3", &view("aaa", "m3", 4));
    assert!(split[0].contains("two leaders in term 4"), "{split:?}");
}

#[test]
fn a_shortfall_counts_once_the_service_ran_fully_and_lasts_past_lag() {
    let mut rules = Rules::new(Bounds::default());
    rules.observe_services(secs(0), &[web(2, false)]);
    // Never reached 2 yet: starting up is not a shortfall.
    assert!(
        rules
            .observe_engine(secs(1), &[container("t1", "1", "n1")])
            .is_empty()
    );
    let both = [container("t1", "1", "n1"), container("t2", "2", "n1")];
    assert!(rules.observe_engine(secs(2), &both).is_empty());
    let one = [container("t1", "1", "n1")];
    assert!(rules.observe_engine(secs(3), &one).is_empty());
    assert!(rules.observe_engine(secs(5), &one).is_empty());
    let short = rules.observe_engine(secs(7), &one);
    assert!(short[0].contains("runs 1 of 2"), "{short:?}");
}

#[test]
fn a_new_replica_count_must_be_reached_before_shortfalls_count() {
    let mut rules = Rules::new(Bounds::default());
    rules.observe_services(secs(0), &[web(1, false)]);
    let one = [container("t1", "1", "n1")];
    assert!(rules.observe_engine(secs(1), &one).is_empty());
    rules.observe_services(secs(2), &[web(3, false)]);
    assert!(rules.observe_engine(secs(20), &one).is_empty());
}
