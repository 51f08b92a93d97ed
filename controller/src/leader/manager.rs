//! What a manager's request handlers and leader loops share.

use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

use agent::clock::Clock;
use crds::node::{NodeRole, NodeState};
use openraft::ServerState;

use crate::leader::Handles;
use crate::leader::dispatcher::Dispatcher;
use crate::leader::liveness::{self, Liveness, Timing};
use crate::leader::writer::Writer;
use crate::protocol::{ManagerStatus, NodeView, Read};
use crate::raft::{NodeId, Raft, StateMachineStore};

/// One manager: its Raft, its state, its write path.
pub struct Manager {
    /// This node's id.
    pub node_id: String,
    /// Its Raft member id.
    pub raft_id: NodeId,
    /// Where it serves its API and Raft RPC.
    pub api_addr: String,
    /// The Raft node.
    pub raft: Raft,
    /// The applied state.
    pub sm: StateMachineStore,
    /// Commits or forwards writes.
    pub writer: Writer,
    /// Heartbeat timing (the leader tells nodes the period).
    pub timing: Timing,
    /// A leader whose last majority acknowledgement is older than this answers reads as
    /// possibly stale.
    pub quorum_lease: Duration,
    /// Assignment sessions and status reports (served while this manager leads).
    pub dispatcher: Arc<Dispatcher>,
    /// The time it stamps into commands.
    pub clock: Clock,
    /// Heartbeat sightings while this manager leads; `None` otherwise.
    liveness: liveness::Shared,
}

impl Manager {
    /// A manager context.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        node_id: String,
        raft_id: NodeId,
        api_addr: String,
        raft: Raft,
        sm: StateMachineStore,
        writer: Writer,
        timing: Timing,
        quorum_lease: Duration,
        clock: Clock,
    ) -> Arc<Self> {
        Arc::new(Manager {
            node_id,
            raft_id,
            api_addr,
            raft,
            sm,
            writer,
            timing,
            quorum_lease,
            dispatcher: Dispatcher::new(),
            clock,
            liveness: liveness::Shared::default(),
        })
    }

    /// Whether this manager leads now.
    pub fn is_leader(&self) -> bool {
        let metrics = self.raft.metrics();
        let m = metrics.borrow();
        m.state == ServerState::Leader && m.current_leader == Some(self.raft_id)
    }

    /// Whether this manager leads and has committed an entry of its own term (the blank entry
    /// every new Raft leader appends): before that, a restarted former leader may still believe
    /// in its old term for a moment, so no leader loop starts and nothing claims to lead.
    pub fn leads_established(&self) -> bool {
        established(&self.raft.metrics().borrow(), self.raft_id)
    }

    /// The leader's Raft id, when known.
    pub fn leader_id(&self) -> Option<NodeId> {
        self.raft.metrics().borrow().current_leader
    }

    /// The leader's API address, when known.
    pub fn leader_addr(&self) -> Option<String> {
        let metrics = self.raft.metrics();
        let m = metrics.borrow();
        let leader = m.current_leader?;
        m.membership_config
            .membership()
            .get_node(&leader)
            .map(|n| n.addr.clone())
    }

    /// API addresses of the Raft members, leader first.
    pub fn manager_addrs(&self) -> Vec<String> {
        let metrics = self.raft.metrics();
        let m = metrics.borrow();
        let membership = m.membership_config.membership();
        let mut addrs: Vec<(bool, String)> = membership
            .nodes()
            .map(|(id, n)| (Some(*id) != m.current_leader, n.addr.clone()))
            .collect();
        addrs.sort();
        addrs.into_iter().map(|(_, a)| a).collect()
    }

    /// Whether reads from this manager may be stale: it follows no known leader, or it leads
    /// without having heard from a majority recently.
    pub fn possibly_stale(&self) -> bool {
        let metrics = self.raft.metrics();
        let m = metrics.borrow();
        match m.current_leader {
            None => true,
            Some(leader) if leader == self.raft_id => {
                let voters = m.membership_config.voter_ids().count();
                voters > 1
                    && m.millis_since_quorum_ack
                        .is_none_or(|ms| ms > self.quorum_lease.as_millis() as u64)
            }
            Some(_) => false,
        }
    }

    /// Wraps read data with who answered and whether it may be stale.
    pub fn answer<T>(&self, data: T) -> Read<T> {
        Read {
            data,
            answered_by: self.node_id.clone(),
            possibly_stale: self.possibly_stale(),
        }
    }

    /// Waits (up to 2 s) until this manager has applied state `version`, so a client reads its
    /// own write even when a follower forwarded it.
    pub async fn wait_applied(&self, version: u64) {
        let mut watch = self.sm.watch();
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while *watch.borrow_and_update() < version {
                if watch.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
    }

    /// The sightings, while leading.
    pub fn liveness(&self) -> MutexGuard<'_, Option<Liveness>> {
        self.liveness.lock()
    }

    /// The sightings, for the loop that marks silent nodes down.
    pub fn sightings(&self) -> liveness::Shared {
        self.liveness.clone()
    }

    /// What the leader loops are handed.
    pub fn handles(&self) -> Handles {
        Handles {
            sm: self.sm.clone(),
            raft: self.raft.clone(),
            writer: self.writer.clone(),
            clock: self.clock,
        }
    }

    /// Start (leadership gained at `now`) or stop (lost) keeping sightings.
    pub fn set_leading(&self, leading: bool, now: Instant) {
        *self.liveness() = leading.then(|| Liveness::new(self.timing, now));
    }

    /// Every node with its manager status.
    pub fn node_views(&self) -> Vec<NodeView> {
        let leader = self.leader_id();
        let metrics = self.raft.metrics();
        let voters: Vec<NodeId> = metrics.borrow().membership_config.voter_ids().collect();
        self.sm.with_nodes(|nodes| {
            nodes
                .values()
                .map(|node| {
                    let raft_id = node.description.raft_id;
                    let manager_status = (node.spec.role == NodeRole::Manager
                        || voters.contains(&raft_id))
                    .then(|| {
                        if Some(raft_id) == leader {
                            ManagerStatus::Leader
                        } else if voters.contains(&raft_id) && node.status.state == NodeState::Ready
                        {
                            ManagerStatus::Reachable
                        } else {
                            ManagerStatus::Unreachable
                        }
                    });
                    NodeView {
                        node: node.clone(),
                        manager_status,
                    }
                })
                .collect()
        })
    }
}

/// Whether `m` shows `me` leading with an entry of its current term applied.
pub fn established(m: &openraft::RaftMetrics<NodeId, openraft::BasicNode>, me: NodeId) -> bool {
    m.state == ServerState::Leader
        && m.current_leader == Some(me)
        && m.last_applied
            .is_some_and(|applied| applied.leader_id.term == m.current_term)
}

#[cfg(test)]
#[path = "manager_test.rs"]
mod tests;
