//! The leader's end of node sessions: heartbeats, certificate renewal (role changes) and leave.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use crds::node::{Node, NodeRole, NodeState};

use crate::api::ApiError;
use crate::leader::manager::Manager;
use crate::pki::{ClusterCa, PeerIdentity};
use crate::protocol::{Heartbeat, HeartbeatResponse, JoinResponse, LeaveRequest, NotLeader};
use crate::raft::Command;

/// A node asks for a certificate for the role the cluster now wants it in.
pub const RENEW_PATH: &str = "/v1/session/renew";

/// `421` with the leader's address: sessions are served by the leader only.
pub fn not_leader(manager: &Manager) -> Response {
    (
        StatusCode::MISDIRECTED_REQUEST,
        Json(NotLeader {
            leader: manager.leader_addr(),
            error: "this manager does not lead; send sessions to the leader".to_owned(),
        }),
    )
        .into_response()
}

fn removed(node_id: &str) -> Response {
    ApiError::new(
        StatusCode::FORBIDDEN,
        format!("node {node_id} is not a member of the cluster (it was removed)"),
    )
    .into_response()
}

/// `POST /v1/session/heartbeat`: record the sighting; commit `ready` and description changes.
pub async fn heartbeat(
    State(manager): State<Arc<Manager>>,
    Extension(peer): Extension<PeerIdentity>,
    Json(beat): Json<Heartbeat>,
) -> Response {
    if !manager.is_leader() {
        return not_leader(&manager);
    }
    let Some(node) = manager.sm.node(&peer.node_id) else {
        return removed(&peer.node_id);
    };
    match manager.liveness().as_mut() {
        Some(liveness) => liveness.seen(&peer.node_id, Instant::now()),
        None => return not_leader(&manager),
    }
    let mut reported = beat.description;
    reported.raft_id = node.description.raft_id;
    if reported != node.description {
        let cmd = Command::SetNodeDescription {
            id: peer.node_id.clone(),
            description: reported,
            at_ms: manager.clock.now_ms(),
        };
        if let Err(err) = manager.writer.write(cmd).await {
            tracing::warn!(node = %peer.node_id, error = %err, "recording a node description failed");
        }
    }
    mark_ready(&manager, &node).await;
    Json(HeartbeatResponse {
        period_ms: manager.timing.period.as_millis() as u64,
        managers: manager.manager_addrs(),
        role: node.spec.role,
    })
    .into_response()
}

/// Commit `ready` for a node heard from that is not ready yet (the only heartbeat that is
/// replicated). Shared by node sessions and simulated nodes.
pub async fn mark_ready(manager: &Manager, node: &Node) {
    if node.status.state == NodeState::Ready {
        return;
    }
    let cmd = Command::SetNodeState {
        id: node.meta.id.clone(),
        state: NodeState::Ready,
        message: None,
        at_ms: manager.clock.now_ms(),
    };
    match manager.writer.write(cmd).await {
        Ok(_) => {
            tracing::info!(node = %node.meta.id, hostname = %node.description.hostname, "node is ready")
        }
        Err(err) => {
            tracing::warn!(node = %node.meta.id, error = %err, "marking a node ready failed")
        }
    }
}

/// `POST /v1/session/renew`: a new certificate for the node's current role (after a promotion
/// or demotion). Any manager can answer: the CA key is in the replicated state.
pub async fn renew(
    State(manager): State<Arc<Manager>>,
    Extension(peer): Extension<PeerIdentity>,
) -> Response {
    let found = manager
        .sm
        .read(|s| s.nodes.get(&peer.node_id).cloned().zip(s.cluster.clone()));
    let Some((node, cluster)) = found else {
        return removed(&peer.node_id);
    };
    let ca = match ClusterCa::from_pem(&cluster.ca.cert_pem, &cluster.ca.key_pem) {
        Ok(ca) => ca,
        Err(err) => return ApiError::internal(err).into_response(),
    };
    let ip = crate::api::join::ip_of(&node.description.advertise_addr);
    let validity = cluster.node_cert_validity();
    let cert = match crate::api::join::issue(&ca, &node.meta.id, node.spec.role, ip, validity) {
        Ok(cert) => cert,
        Err(err) => return ApiError::internal(err).into_response(),
    };
    Json(JoinResponse {
        node_id: node.meta.id.clone(),
        raft_id: node.description.raft_id,
        role: node.spec.role,
        cluster_id: cluster.id.clone(),
        ca_cert_pem: cluster.ca.cert_pem.clone(),
        cert_pem: cert.cert_pem().to_owned(),
        key_pem: cert.key_pem().to_owned(),
        managers: manager.manager_addrs(),
        warnings: Vec::new(),
    })
    .into_response()
}

/// `POST /v1/session/leave`: the calling node leaves the cluster.
pub async fn leave(
    State(manager): State<Arc<Manager>>,
    Extension(peer): Extension<PeerIdentity>,
    Json(request): Json<LeaveRequest>,
) -> Response {
    let found = manager.sm.read(|s| {
        let node = s.nodes.get(&peer.node_id).cloned();
        let managers = s
            .nodes
            .values()
            .filter(|n| n.spec.role == NodeRole::Manager)
            .count();
        node.map(|n| (n, managers))
    });
    let Some((node, managers)) = found else {
        return removed(&peer.node_id);
    };
    if node.spec.role == NodeRole::Manager {
        if managers <= 1 {
            return ApiError::new(
                StatusCode::CONFLICT,
                "this is the last manager: leaving would destroy the cluster's state; stop it instead",
            ).into_response();
        }
        if !request.force {
            return ApiError::new(
                StatusCode::CONFLICT,
                format!(
                    "this node is a manager; demote it first (`reconciler node demote {}`) or \
                     leave with --force, which shrinks the Raft group to {} managers",
                    node.meta.id,
                    managers - 1
                ),
            )
            .into_response();
        }
    }
    let cmd = Command::RemoveNode {
        id: node.meta.id.clone(),
    };
    match manager.writer.write(cmd).await {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(err) => ApiError::new(err.status(), err.to_string()).into_response(),
    }
}
