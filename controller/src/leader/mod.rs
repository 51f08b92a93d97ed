//! What runs only on the leader: thin loops around the pure decisions of [`crate::reconcile`]
//! and [`crate::scheduler`], each reading the replicated state, deciding, and committing the
//! result through Raft.
//!
//! ```text
//!  state machine change feed ─▶ orchestration ─▶ reconcile::pass (pure) ─▶ Raft
//!                            └▶ dispatcher ─▶ per-node assignment batches ─▶ nodes
//!  nodes ─▶ heartbeats ─▶ liveness (pure) ─▶ SetNodeState down ─▶ Raft
//!  node list ─▶ membership::plan (pure) ─▶ add learner / promote / remove voters
//! ```
//!
//! # Layout
//! - [`manager`]: what a manager's handlers and leader loops share ([`manager::Manager`]).
//! - [`writer`]: the write path: commit on the leader or forward to it; "no quorum" errors.
//! - [`orchestration`]: the orchestration loop: services, orchestrators and scheduler decide
//!   (through [`crate::reconcile::pass`]), Raft commits.
//! - [`dispatcher`]: assignment streams to nodes, batched task status reports.
//! - [`liveness`]: which nodes are down, from heartbeats kept in memory (pure).
//! - [`down_marker`]: the loop that marks silent nodes down.
//! - [`membership`]: keeps Raft voters equal to the nodes whose role is manager.
//! - [`record`]: the revision record in the replicated state, the sync loop's store.

pub mod dispatcher;
pub mod down_marker;
pub mod liveness;
pub mod manager;
pub mod membership;
pub mod orchestration;
pub mod record;
pub mod writer;

use agent::clock::Clock;

use crate::raft::{Raft, StateMachineStore};

/// What a leader loop is handed instead of the whole manager: the applied state to read and
/// follow, the write paths, the clock.
#[derive(Clone)]
pub struct Handles {
    /// The applied state and its change feed.
    pub sm: StateMachineStore,
    /// Raft itself, for loops that commit directly and must see each entry's response.
    pub raft: Raft,
    /// The write path with "no quorum" errors.
    pub writer: writer::Writer,
    /// The time commands are stamped with.
    pub clock: Clock,
}
