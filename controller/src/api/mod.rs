//! The router of a manager's TLS endpoint: Raft RPC, joining, node sessions and the admin API
//! on one port, each with its own rule about who may call.
//!
//! | routes | caller |
//! |---|---|
//! | `/raft/append|vote|snapshot`, `/raft/write` | managers (certificate role, and a manager or Raft member in the state) |
//! | `/v1/join` | anyone with a valid join token (no certificate yet) |
//! | `/v1/session/*` | any node of the cluster (certificate, not revoked) |
//! | `/v1/nodes`, `/v1/services`, `/v1/stacks`, `/v1/tasks`, `/v1/tokens`, `/v1/status` | managers (certificate role, and a manager in the state; the CLI uses its node's certificate) |
//!
//! Membership is checked at every request ([`crate::raft::doors`]): a removed node, or a
//! demoted manager at the manager doors, is answered `403` and its connection closed.

pub mod admin;
pub mod assignments;
mod error;
pub mod join;
pub mod join_guard;
pub mod session;

pub use error::ApiError;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use crds::node::NodeRole;

use crate::leader::manager::Manager;
use crate::pki::PeerIdentity;
use crate::protocol;
use crate::raft::doors::{Door, Refusal};
use crate::raft::network::closing;

/// The whole router of a manager.
pub fn router(manager: Arc<Manager>) -> Router {
    let raft = crate::raft::network::router(manager.raft.clone(), manager.sm.clone());
    let join = Router::new()
        .route(protocol::JOIN_PATH, post(join::join))
        .with_state(manager.clone())
        .layer(Extension(join_guard::JoinGuard::start()));
    let session = Router::new()
        .route(protocol::HEARTBEAT_PATH, post(session::heartbeat))
        .route(protocol::LEAVE_PATH, post(session::leave))
        .route(session::RENEW_PATH, post(session::renew))
        .route(assignments::ASSIGNMENTS_PATH, get(assignments::assignments))
        .route(assignments::STATUS_PATH, post(assignments::status))
        .with_state(manager.clone())
        .layer(middleware::from_fn_with_state(manager.clone(), nodes_only));
    let admin = Router::new()
        .route(protocol::NODES_PATH, get(admin::list_nodes))
        .route(
            &format!("{}/{{id}}", protocol::NODES_PATH),
            get(admin::inspect_node)
                .patch(admin::update_node)
                .delete(admin::remove_node),
        )
        .route(protocol::SERVICES_PATH, get(admin::list_services))
        .route(protocol::STACKS_PATH, get(admin::list_stacks))
        .route(protocol::TASKS_PATH, get(admin::list_tasks))
        .route(
            &format!("{}/{{role}}", protocol::TOKENS_PATH),
            get(admin::show_token),
        )
        .route(
            &format!("{}/{{role}}/rotate", protocol::TOKENS_PATH),
            post(admin::rotate_token),
        )
        .route(protocol::STATUS_PATH, get(admin::status))
        .route(
            protocol::SOURCE_PATH,
            get(admin::show_source).put(admin::set_source),
        )
        .route(protocol::FORWARD_PATH, post(admin::forwarded_write))
        .with_state(manager.clone())
        .layer(middleware::from_fn_with_state(manager, managers_only));
    raft.merge(join).merge(session).merge(admin)
}

async fn nodes_only(
    State(manager): State<Arc<Manager>>,
    peer: Option<Extension<PeerIdentity>>,
    request: Request,
    next: Next,
) -> Response {
    match peer {
        Some(Extension(peer)) => match manager.sm.admit(&peer, Door::Session, false) {
            Ok(()) => next.run(request).await,
            Err(refusal) => refuse(&request, &peer, refusal),
        },
        None => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "a node certificate is required; join the cluster first",
        )
        .into_response(),
    }
}

async fn managers_only(
    State(manager): State<Arc<Manager>>,
    peer: Option<Extension<PeerIdentity>>,
    request: Request,
    next: Next,
) -> Response {
    match peer {
        Some(Extension(peer)) if peer.role == NodeRole::Manager => {
            match manager.sm.admit(&peer, Door::Admin, false) {
                Ok(()) => next.run(request).await,
                Err(refusal) => refuse(&request, &peer, refusal),
            }
        }
        Some(Extension(peer)) => ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "node {} is a worker; cluster administration runs on managers (use --host \
                 with a manager's address from a manager's data directory)",
                peer.node_id
            ),
        )
        .into_response(),
        None => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "a manager's node certificate is required",
        )
        .into_response(),
    }
}

/// `403` for a caller whose certificate is valid but whose membership is not, closing its
/// connection.
fn refuse(request: &Request, peer: &PeerIdentity, refusal: Refusal) -> Response {
    tracing::info!(node = %peer.node_id, path = %request.uri().path(), %refusal, "refused a request");
    closing(
        request.version(),
        ApiError::new(StatusCode::FORBIDDEN, refusal.to_string()).into_response(),
    )
}
