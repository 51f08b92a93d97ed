//! The leader loop that marks nodes down: every half heartbeat period it asks the sightings
//! ([`crate::leader::liveness`], pure) which nodes have been silent too long and commits
//! `SetNodeState down` for each, with the silence in the message.

use std::time::Instant;

use crds::node::NodeState;
use tokio_util::sync::CancellationToken;

use crate::leader::Handles;
use crate::leader::liveness::{Shared, Timing};
use crate::raft::Command;

/// Leader loop: mark nodes that stopped heartbeating as down, until `stop`.
pub async fn run(handles: Handles, sightings: Shared, timing: Timing, stop: CancellationToken) {
    let tick = timing.period / 2;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(tick) => {}
        }
        let overdue = {
            let mut guard = sightings.lock();
            let Some(liveness) = guard.as_mut() else {
                continue;
            };
            let now = Instant::now();
            let forgiven = liveness.checking(now);
            if !forgiven.is_zero() {
                tracing::warn!(
                    stalled_ms = forgiven.as_millis() as u64,
                    "this manager was not running its liveness check; \
                     node silence during the stall is not counted"
                );
            }
            handles.sm.with_nodes(|nodes| {
                liveness.overdue(
                    nodes.values().map(|n| (n.meta.id.as_str(), n.status.state)),
                    now,
                )
            })
        };
        for node in overdue {
            let message = format!(
                "no heartbeat for {:.1}s (down after {} missed heartbeats of {:?})",
                node.silent_for.as_secs_f64(),
                timing.misses,
                timing.period
            );
            tracing::warn!(node = %node.node_id, %message, "node is down");
            let cmd = Command::SetNodeState {
                id: node.node_id.clone(),
                state: NodeState::Down,
                message: Some(message),
                at_ms: handles.clock.now_ms(),
            };
            if let Err(err) = handles.writer.write_as_leader(cmd).await {
                tracing::warn!(node = %node.node_id, error = %err, "marking a node down failed");
            }
        }
    }
}
