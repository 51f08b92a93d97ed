use super::*;

fn members(voters: &[u64], learners: &[u64]) -> Members {
    Members {
        voters: voters.iter().copied().collect(),
        nodes: voters
            .iter()
            .chain(learners)
            .map(|id| (*id, format!("10.0.0.{id}:7420")))
            .collect(),
    }
}

fn managers(ids: &[u64]) -> BTreeMap<NodeId, String> {
    ids.iter()
        .map(|id| (*id, format!("10.0.0.{id}:7420")))
        .collect()
}

fn set(ids: &[u64]) -> BTreeSet<NodeId> {
    ids.iter().copied().collect()
}

#[test]
fn nothing_to_do_when_members_match() {
    assert_eq!(
        plan(&members(&[1, 2, 3], &[]), &managers(&[1, 2, 3]), &set(&[])),
        None
    );
}

#[test]
fn a_new_manager_is_added_as_a_learner_first() {
    assert_eq!(
        plan(&members(&[1], &[]), &managers(&[1, 2]), &set(&[])),
        Some(Step::AddLearner(2, "10.0.0.2:7420".into()))
    );
}

#[test]
fn a_learner_is_promoted_only_once_caught_up() {
    let m = members(&[1], &[2]);
    assert_eq!(plan(&m, &managers(&[1, 2]), &set(&[])), None);
    assert_eq!(
        plan(&m, &managers(&[1, 2]), &set(&[2])),
        Some(Step::Promote(set(&[2])))
    );
}

#[test]
fn demoted_and_removed_members_leave_first() {
    assert_eq!(
        plan(&members(&[1, 2, 3], &[4]), &managers(&[1, 2, 5]), &set(&[])),
        Some(Step::Remove(set(&[3, 4])))
    );
}

#[test]
fn the_last_voter_never_leaves() {
    assert_eq!(plan(&members(&[1], &[]), &managers(&[]), &set(&[])), None);
}

#[test]
fn a_changed_address_is_updated() {
    let mut m = managers(&[1, 2]);
    m.insert(2, "10.0.0.9:7420".into());
    assert_eq!(
        plan(&members(&[1, 2], &[]), &m, &set(&[])),
        Some(Step::SetAddress(2, "10.0.0.9:7420".into()))
    );
}

#[test]
fn following_the_plan_converges() {
    let target = managers(&[1, 3, 4]);
    let mut m = members(&[1, 2], &[]);
    for _ in 0..10 {
        let Some(step) = plan(&m, &target, &m.nodes.keys().copied().collect()) else {
            break;
        };
        match step {
            Step::Remove(ids) => {
                for id in ids {
                    m.voters.remove(&id);
                    m.nodes.remove(&id);
                }
            }
            Step::SetAddress(id, addr) => {
                m.nodes.insert(id, addr);
            }
            Step::AddLearner(id, addr) => {
                m.nodes.insert(id, addr);
            }
            Step::Promote(ids) => m.voters.extend(ids),
        }
    }
    assert_eq!(m, members(&[1, 3, 4], &[]));
}
