//! The manager's end of joining: check the token, issue the node's certificate, register it.
//!
//! Any manager can answer: the CA key and tokens are in the replicated state, and the node is
//! registered through the [`Writer`](crate::leader::writer::Writer), which forwards to the
//! leader. A joining manager is registered with role manager; the leader's membership loop then
//! adds it to Raft as a learner and promotes it once it has caught up.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use crds::meta::ObjectMeta;
use crds::node::{Availability, Node, NodeDescription, NodeRole, NodeSpec};

use crate::api::ApiError;
use crate::api::join_guard::JoinGuard;
use crate::ids::raft_id_for;
use crate::leader::manager::Manager;
use crate::pki::{ClusterCa, JoinToken, NodeCert};
use crate::protocol::{JoinRequest, JoinResponse};
use crate::raft::Command;

/// The IP part of `ip` or `ip:port` (loopback when it cannot be read).
pub fn ip_of(addr: &str) -> IpAddr {
    addr.parse::<std::net::SocketAddr>()
        .map(|a| a.ip())
        .or_else(|_| addr.parse::<IpAddr>())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// A certificate for `node_id` as `role` reachable at `ip`. Managers also answer on loopback, so
/// the CLI on the same machine can dial `127.0.0.1`.
pub fn issue(
    ca: &ClusterCa,
    node_id: &str,
    role: NodeRole,
    ip: IpAddr,
    validity: std::time::Duration,
) -> crate::pki::Result<NodeCert> {
    let mut ips = vec![ip];
    if role == NodeRole::Manager && !ip.is_loopback() {
        ips.push(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    ca.issue_node_cert(node_id, role, &ips, &["localhost".to_owned()], validity)
}

/// `POST /v1/join`.
pub async fn join(
    State(manager): State<Arc<Manager>>,
    guard: Option<Extension<Arc<JoinGuard>>>,
    remote: Option<Extension<ConnectInfo<SocketAddr>>>,
    Json(request): Json<JoinRequest>,
) -> Response {
    let from = (guard.zip(remote)).map(|(Extension(g), Extension(ConnectInfo(a)))| (g, a.ip()));
    if let Some((guard, ip)) = &from
        && let Err(wait) = guard.admit(*ip, std::time::Instant::now())
    {
        let mut response = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "too many failed join attempts from {ip}; retry in {}s",
                wait.as_secs().max(1)
            ),
        )
        .into_response();
        if let Ok(value) = wait.as_secs().max(1).to_string().parse() {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, value);
        }
        return response;
    }
    let refused = |err: &dyn std::fmt::Display| match &from {
        Some((guard, ip)) => guard.refused(*ip, &request.hostname, err, std::time::Instant::now()),
        None => log_refused(&request.hostname, err),
    };
    let token: JoinToken = match request.token.trim().parse() {
        Ok(token) => token,
        Err(err) => {
            refused(&err);
            return ApiError::bad_request(err.to_string()).into_response();
        }
    };
    let Some(cluster) = manager.sm.read(|s| s.cluster.clone()) else {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "this manager has not received the cluster's identity yet; retry in a moment",
        )
        .into_response();
    };
    let role = match cluster.tokens.verify(&token) {
        Ok(role) => role,
        Err(err) => {
            refused(&err);
            return ApiError::new(StatusCode::UNAUTHORIZED, err.to_string()).into_response();
        }
    };
    if let Some(asked) = request.role
        && asked != role
    {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "the token grants the {} role but {} was asked for; use the {} token \
                 (`reconciler token show {}` on a manager)",
                role_name(role),
                role_name(asked),
                role_name(asked),
                role_name(asked)
            ),
        )
        .into_response();
    }
    let advertise = match (role, &request.api_addr) {
        (NodeRole::Manager, Some(addr)) => match addr.parse::<std::net::SocketAddr>() {
            Ok(a) if a.ip() == request.advertise_ip => addr.clone(),
            _ => {
                return ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "api_addr {addr:?} must be ip:port on the advertised IP {}",
                        request.advertise_ip
                    ),
                )
                .into_response();
            }
        },
        (NodeRole::Manager, None) => {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                "a joining manager must say where it serves (api_addr)",
            )
            .into_response();
        }
        (NodeRole::Worker, _) => request.advertise_ip.to_string(),
    };
    let ca = match ClusterCa::from_pem(&cluster.ca.cert_pem, &cluster.ca.key_pem) {
        Ok(ca) => ca,
        Err(err) => return ApiError::internal(err).into_response(),
    };
    let node_id = crate::ids::new_id();
    let raft_id = raft_id_for(&node_id);
    let validity = cluster.node_cert_validity();
    let cert = match issue(&ca, &node_id, role, request.advertise_ip, validity) {
        Ok(cert) => cert,
        Err(err) => return ApiError::internal(err).into_response(),
    };
    let node = Node {
        meta: ObjectMeta {
            id: node_id.clone(),
            ..ObjectMeta::default()
        },
        spec: NodeSpec {
            role,
            availability: Availability::Active,
            labels: request.labels.clone(),
        },
        description: NodeDescription {
            hostname: request.hostname.clone(),
            advertise_addr: advertise,
            raft_id,
            ..NodeDescription::default()
        },
        ..Node::default()
    };
    let version = match manager
        .writer
        .write(Command::UpsertNode {
            node,
            at_ms: manager.clock.now_ms(),
        })
        .await
    {
        Ok(version) => version,
        Err(err) => return ApiError::new(err.status(), err.to_string()).into_response(),
    };
    manager.wait_applied(version).await;
    let managers = manager.sm.read(|s| {
        s.nodes
            .values()
            .filter(|n| n.spec.role == NodeRole::Manager)
            .count()
    });
    let mut warnings = Vec::new();
    if role == NodeRole::Manager
        && let Some(warning) = even_managers_warning(managers)
    {
        warnings.push(warning);
    }
    tracing::info!(node = %node_id, hostname = ?request.hostname, role = role_name(role), "node joined");
    Json(JoinResponse {
        node_id,
        raft_id,
        role,
        cluster_id: cluster.id,
        ca_cert_pem: cluster.ca.cert_pem,
        cert_pem: cert.cert_pem().to_owned(),
        key_pem: cert.key_pem().to_owned(),
        managers: manager.manager_addrs(),
        warnings,
    })
    .into_response()
}

/// Logs a refused join. The hostname is whatever an unauthenticated caller sent, so it is logged
/// quoted and escaped (`?`): a newline in it must not start a forged log line.
fn log_refused(hostname: &str, err: &dyn std::fmt::Display) {
    tracing::warn!(hostname = ?hostname, error = %err, "refused a join");
}

/// The warning for an even number of managers (1, 3, 5 or 7 are recommended).
pub fn even_managers_warning(managers: usize) -> Option<String> {
    (managers > 0 && managers.is_multiple_of(2)).then(|| {
        format!(
            "the cluster now has {managers} managers: an even count tolerates no more failures \
             than {} managers and needs a larger majority ({}); run 1, 3, 5 or 7 managers",
            managers - 1,
            managers / 2 + 1
        )
    })
}

/// `manager` or `worker`.
pub fn role_name(role: NodeRole) -> &'static str {
    match role {
        NodeRole::Manager => "manager",
        NodeRole::Worker => "worker",
    }
}

#[cfg(test)]
#[path = "join_test.rs"]
mod tests;
