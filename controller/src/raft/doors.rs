//! Who may come through which door of a manager's endpoint, decided on the replicated state
//! (pure).
//!
//! A certificate from the cluster CA proves who the caller is and which role it was issued for;
//! whether it may still act is membership, checked at every request: a removed node is refused
//! at every door (the revocation list outlives its node record), and a node that is no longer a
//! manager is refused at the manager doors — the admin API at once, Raft once the membership
//! loop has taken it out of the Raft configuration (until then it still replicates).

use std::collections::{BTreeMap, BTreeSet};

use crds::node::{Node, NodeRole};

use crate::pki::PeerIdentity;
use crate::raft::state::ClusterState;

/// A door of the manager's endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    /// Raft RPC between managers.
    Raft,
    /// Node sessions: heartbeats, assignments, status reports, renewal, leave.
    Session,
    /// The admin API and writes forwarded by other managers.
    Admin,
}

/// Why a caller with a valid certificate is turned away.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The node was removed from the cluster.
    #[error(
        "node {0} is not a member of the cluster (it was removed); its certificate is no longer \
         accepted — join again with a token"
    )]
    Revoked(String),
    /// The cluster has no such node.
    #[error("node {0} is not a member of this cluster")]
    NotMember(String),
    /// The node was demoted (or its certificate outlived its role).
    #[error(
        "node {0} is no longer a manager; cluster administration and Raft are for managers \
         (the node takes its new role at its next heartbeat)"
    )]
    NotManager(String),
}

/// What the doors consult: the nodes and the revocation list, mirrored by the state machine so
/// that a check never waits behind a long read of the whole state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Members {
    /// Nodes by id.
    pub nodes: BTreeMap<String, Node>,
    /// Ids of removed nodes.
    pub revoked: BTreeSet<String>,
    /// Whether the cluster exists in this store yet (a store still catching up knows no one).
    pub initialised: bool,
}

impl Members {
    /// The members of `state`.
    pub fn of(state: &ClusterState) -> Self {
        Members {
            nodes: state.nodes.clone(),
            revoked: Members::revoked_in(state),
            initialised: state.cluster.is_some(),
        }
    }

    /// The revocation list of `state`.
    pub fn revoked_in(state: &ClusterState) -> BTreeSet<String> {
        (state.cluster.as_ref())
            .map(|c| c.revoked.clone())
            .unwrap_or_default()
    }

    /// Whether `peer` may come through `door`. `in_raft`: whether the peer is in the Raft
    /// configuration this manager knows (voter or learner).
    pub fn admit(&self, peer: &PeerIdentity, door: Door, in_raft: bool) -> Result<(), Refusal> {
        if !self.initialised {
            // A store that has not caught up yet (a new manager's first entries) knows no
            // members: the certificate is all there is to go by.
            return Ok(());
        }
        let id = &peer.node_id;
        if self.revoked.contains(id) {
            return Err(Refusal::Revoked(id.clone()));
        }
        match door {
            // Session handlers answer nodes they do not know themselves (a joiner's record may
            // still be on its way to this manager).
            Door::Session => Ok(()),
            Door::Raft if in_raft => Ok(()),
            Door::Raft | Door::Admin => match self.nodes.get(id) {
                Some(node) if node.spec.role == NodeRole::Manager => Ok(()),
                Some(_) => Err(Refusal::NotManager(id.clone())),
                None => Err(Refusal::NotMember(id.clone())),
            },
        }
    }
}

#[cfg(test)]
#[path = "doors_test.rs"]
mod tests;
