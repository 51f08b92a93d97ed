//! Which nodes are down: a pure record of heartbeats kept by the leader.
//!
//! Heartbeats are not replicated (they would fill the log); only transitions are
//! (`Command::SetNodeState`). A node is down when it has been silent for `period × misses`.
//! A new leader knows no sightings yet, so every node is given a grace period from the moment
//! leadership started: nodes that were heartbeating to the old leader need time to find the new
//! one, and must not be declared down (and their tasks moved) because of a failover.
//!
//! Silence is only held against a node while the leader was listening. The leader's check runs
//! every half period; when it finds it last ran much longer ago, this process was not running
//! (stopped, starved of CPU, stalled on a disk) and heartbeats that arrived meanwhile may still
//! be queued unread, so the gap is forgiven: every node's silence is counted as if the gap had
//! not happened. A node that really died in the gap is declared down that much later.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crds::node::NodeState;

/// Heartbeat timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// How often nodes heartbeat.
    pub period: Duration,
    /// Missed heartbeats before a node is down.
    pub misses: u32,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            period: Duration::from_secs(1),
            misses: 3,
        }
    }
}

impl Timing {
    /// Silence after which a node is down.
    pub fn timeout(&self) -> Duration {
        self.period * self.misses
    }

    /// Extra time nodes get after a leader change before silence counts.
    pub fn grace(&self) -> Duration {
        self.timeout()
    }
}

/// A node found silent for too long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overdue {
    /// Node id.
    pub node_id: String,
    /// How long it has been silent (since leadership started, for a node not yet heard from).
    pub silent_for: Duration,
}

/// The leader's sightings.
#[derive(Debug, Clone)]
pub struct Liveness {
    timing: Timing,
    leading_since: Instant,
    last_seen: HashMap<String, Instant>,
    /// When the leader last checked for silent nodes.
    last_check: Option<Instant>,
}

impl Liveness {
    /// Sightings of a leader that took over at `now`.
    pub fn new(timing: Timing, now: Instant) -> Self {
        Liveness {
            timing,
            leading_since: now,
            last_seen: HashMap::new(),
            last_check: None,
        }
    }

    /// The leader checks at `now`, every half period. When its previous check is more than a
    /// period ago, the time beyond the half period it expected is forgiven: sightings and the
    /// start of leadership move forward by it (never past `now`). Returns the time forgiven.
    pub fn checking(&mut self, now: Instant) -> Duration {
        let expected = self.timing.period / 2;
        let gap = self
            .last_check
            .map_or(Duration::ZERO, |last| now.saturating_duration_since(last));
        self.last_check = Some(now);
        if gap <= self.timing.period {
            return Duration::ZERO;
        }
        let forgiven = gap - expected;
        let shift = |at: &mut Instant| *at = (*at + forgiven).min(now);
        shift(&mut self.leading_since);
        self.last_seen.values_mut().for_each(shift);
        forgiven
    }

    /// The timing in force.
    pub fn timing(&self) -> Timing {
        self.timing
    }

    /// A heartbeat from `node_id` arrived at `now`.
    pub fn seen(&mut self, node_id: &str, now: Instant) {
        match self.last_seen.get_mut(node_id) {
            Some(at) => *at = (*at).max(now),
            None => {
                self.last_seen.insert(node_id.to_owned(), now);
            }
        }
    }

    /// Forget a removed node.
    pub fn forget(&mut self, node_id: &str) {
        self.last_seen.remove(node_id);
    }

    /// Nodes among `nodes` (`(id, stored state)`) that are not yet marked down but have been
    /// silent longer than the timeout at `now`.
    pub fn overdue<'a>(
        &self,
        nodes: impl IntoIterator<Item = (&'a str, NodeState)>,
        now: Instant,
    ) -> Vec<Overdue> {
        let timeout = self.timing.timeout();
        let baseline = self.leading_since + self.timing.grace();
        nodes
            .into_iter()
            .filter(|(_, state)| *state != NodeState::Down)
            .filter_map(|(id, _)| {
                let (since, deadline) = match self.last_seen.get(id) {
                    Some(seen) => (*seen, *seen + timeout),
                    None => (self.leading_since, baseline + timeout),
                };
                (now > deadline).then(|| Overdue {
                    node_id: id.to_owned(),
                    silent_for: now.saturating_duration_since(since),
                })
            })
            .collect()
    }
}

/// The sightings one manager keeps, shared by the heartbeat handlers that record them and the
/// loop that marks silent nodes down; `None` while this manager does not lead.
#[derive(Debug, Clone, Default)]
pub struct Shared(Arc<Mutex<Option<Liveness>>>);

impl Shared {
    /// The sightings, while leading.
    pub fn lock(&self) -> MutexGuard<'_, Option<Liveness>> {
        // A panic while holding the lock leaves plain data behind; keep using it.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
#[path = "liveness_test.rs"]
mod tests;
