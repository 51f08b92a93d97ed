//! Keeps the Raft group equal to the nodes whose role is manager (leader only).
//!
//! The replicated node list is the intent; Raft membership follows it one step at a time, so a
//! crash in the middle leaves a state the next pass continues from:
//! 1. members that are no longer managers (demoted, removed) leave — never the last voter;
//! 2. a manager whose address changed gets its new address;
//! 3. a new manager is added as a learner, receiving the log without voting;
//! 4. a learner that has caught up with the leader's log becomes a voter.
//!
//! [`plan`] decides the next step from plain data; [`run`] reads Raft's metrics and the state,
//! asks [`plan`] and carries the step out.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crds::node::NodeRole;
use openraft::{BasicNode, ChangeMembers};
use tokio_util::sync::CancellationToken;

use crate::raft::{NodeId, Raft, StateMachineStore};

/// A learner within this many entries of the leader's log is caught up.
pub const CATCH_UP_ENTRIES: u64 = 64;
/// How often the loop looks again when nothing woke it.
const RECHECK: Duration = Duration::from_millis(500);

/// The Raft group as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Members {
    /// Voters.
    pub voters: BTreeSet<NodeId>,
    /// Every member (voters and learners) with its address.
    pub nodes: BTreeMap<NodeId, String>,
}

/// One change to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Remove these members (voters or learners).
    Remove(BTreeSet<NodeId>),
    /// Record a member's new address.
    SetAddress(NodeId, String),
    /// Add a learner.
    AddLearner(NodeId, String),
    /// Make these learners voters.
    Promote(BTreeSet<NodeId>),
}

/// The next step that brings `members` closer to `managers` (Raft id → address of every node
/// whose role is manager). `caught_up` are the learners close enough to the leader's log;
/// `leader` is never removed while it is the only voter left.
pub fn plan(
    members: &Members,
    managers: &BTreeMap<NodeId, String>,
    caught_up: &BTreeSet<NodeId>,
) -> Option<Step> {
    let leaving: BTreeSet<NodeId> = members
        .nodes
        .keys()
        .filter(|id| !managers.contains_key(id))
        .copied()
        .collect();
    let voters_left = members.voters.difference(&leaving).count();
    if !leaving.is_empty() && voters_left > 0 {
        return Some(Step::Remove(leaving));
    }
    for (id, addr) in managers {
        if let Some(current) = members.nodes.get(id)
            && current != addr
        {
            return Some(Step::SetAddress(*id, addr.clone()));
        }
    }
    if let Some((id, addr)) = managers
        .iter()
        .find(|(id, _)| !members.nodes.contains_key(id))
    {
        return Some(Step::AddLearner(*id, addr.clone()));
    }
    let promote: BTreeSet<NodeId> = managers
        .keys()
        .filter(|id| !members.voters.contains(id) && caught_up.contains(id))
        .copied()
        .collect();
    (!promote.is_empty()).then_some(Step::Promote(promote))
}

/// The managers of the replicated state: Raft id → API address.
pub fn managers_in(sm: &StateMachineStore) -> BTreeMap<NodeId, String> {
    sm.with_nodes(|nodes| {
        nodes
            .values()
            .filter(|n| n.spec.role == NodeRole::Manager && n.description.raft_id != 0)
            .map(|n| (n.description.raft_id, n.description.advertise_addr.clone()))
            .collect()
    })
}

/// Runs until `stop` is cancelled (leadership lost): whenever the state or Raft's metrics change,
/// and every half second, carry out the next [`plan`] step.
pub async fn run(raft: Raft, sm: StateMachineStore, stop: CancellationToken) {
    let mut state_changes = sm.watch();
    let mut metrics = raft.metrics();
    loop {
        let snapshot = metrics.borrow_and_update().clone();
        let membership = snapshot.membership_config.membership();
        let members = Members {
            voters: membership.voter_ids().collect(),
            nodes: membership
                .nodes()
                .map(|(id, node)| (*id, node.addr.clone()))
                .collect(),
        };
        let last = snapshot.last_log_index.unwrap_or(0);
        let caught_up: BTreeSet<NodeId> = snapshot
            .replication
            .iter()
            .flatten()
            .filter(|(_, matched)| matched.map(|m| m.index).unwrap_or(0) + CATCH_UP_ENTRIES >= last)
            .map(|(id, _)| *id)
            .collect();
        let managers = managers_in(&sm);
        if let Some(step) = plan(&members, &managers, &caught_up) {
            tracing::info!(?step, "changing the Raft membership");
            let result = match step {
                Step::Remove(ids) => {
                    let voters: BTreeSet<NodeId> =
                        ids.intersection(&members.voters).copied().collect();
                    let learners: BTreeSet<NodeId> =
                        ids.difference(&members.voters).copied().collect();
                    let mut result = Ok(());
                    if !voters.is_empty() {
                        result = raft
                            .change_membership(ChangeMembers::RemoveVoters(voters), false)
                            .await
                            .map(|_| ());
                    }
                    if result.is_ok() && !learners.is_empty() {
                        result = raft
                            .change_membership(ChangeMembers::RemoveNodes(learners), false)
                            .await
                            .map(|_| ());
                    }
                    result
                }
                Step::SetAddress(id, addr) => raft
                    .change_membership(
                        ChangeMembers::SetNodes(BTreeMap::from([(id, BasicNode::new(addr))])),
                        true,
                    )
                    .await
                    .map(|_| ()),
                Step::AddLearner(id, addr) => raft
                    .add_learner(id, BasicNode::new(addr), false)
                    .await
                    .map(|_| ()),
                Step::Promote(ids) => raft
                    .change_membership(ChangeMembers::AddVoterIds(ids), false)
                    .await
                    .map(|_| ()),
            };
            if let Err(err) = result {
                tracing::warn!(error = %err, "membership change failed; retrying");
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            _ = state_changes.changed() => {}
            _ = metrics.changed() => {}
            () = tokio::time::sleep(RECHECK) => {}
        }
    }
}

#[cfg(test)]
#[path = "membership_test.rs"]
mod tests;
