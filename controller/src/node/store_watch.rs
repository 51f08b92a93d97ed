//! Notices when the replicated store stops by itself — a fatal storage error such as a full
//! disk — so that the node stops too. Otherwise the process would stay up with a dead Raft core
//! and keep answering reads from its last state as if it still led or followed, while every
//! write fails; stopping with the error lets an operator (or a supervisor) see it, fix the
//! cause and start the node again from what is on disk.

use openraft::error::Fatal;
use openraft::{BasicNode, RaftMetrics};

use crate::raft::{NodeId, Raft};

/// Why Raft stopped, when it stopped by itself (not the shutdown this node asked for).
pub fn failure(metrics: &RaftMetrics<NodeId, BasicNode>) -> Option<String> {
    match &metrics.running_state {
        Ok(()) | Err(Fatal::Stopped) => None,
        Err(fatal) => Some(fatal.to_string()),
    }
}

/// Resolves with the reason once Raft stops by itself; never resolves otherwise.
pub async fn stopped(raft: Raft) -> String {
    let mut metrics = raft.metrics();
    loop {
        if let Some(why) = failure(&metrics.borrow_and_update()) {
            return why;
        }
        if metrics.changed().await.is_err() {
            // Nothing more will be reported; whatever ends the node now is someone else's.
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use openraft::{AnyError, StorageError, StorageIOError};

    use super::*;

    #[test]
    fn only_a_stop_the_node_did_not_ask_for_is_a_failure() {
        let mut metrics = RaftMetrics::<NodeId, BasicNode>::new_initial(1);
        assert_eq!(failure(&metrics), None);
        metrics.running_state = Err(Fatal::Stopped);
        assert_eq!(failure(&metrics), None);
        let full = std::io::Error::other("No space left on device (os error 28)");
        let io = StorageIOError::write_state_machine(AnyError::new(&full));
        metrics.running_state = Err(Fatal::StorageError(StorageError::IO { source: io }));
        let why = failure(&metrics).expect("a failure");
        assert!(why.contains("No space left on device"), "{why}");
    }
}
