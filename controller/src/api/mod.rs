//! The router of a manager's TLS endpoint: Raft RPC, joining, node sessions and the admin API
//! on one port, each with its own rule about who may call.
//!
//! | routes | caller |
//! |---|---|
//! | `/raft/append|vote|snapshot`, `/raft/write` | managers (certificate role) |
//! | `/v1/join` | anyone with a valid join token (no certificate yet) |
//! | `/v1/session/*` | any node of the cluster (certificate) |
//! | `/v1/nodes`, `/v1/services`, `/v1/stacks`, `/v1/tasks`, `/v1/tokens`, `/v1/status` | managers (the CLI uses its node's certificate) |

pub mod admin;
pub mod assignments;
mod error;
pub mod join;
pub mod session;

pub use error::ApiError;

use std::sync::Arc;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use crds::node::NodeRole;

use crate::leader::manager::Manager;
use crate::pki::PeerIdentity;
use crate::protocol;

/// The whole router of a manager.
pub fn router(manager: Arc<Manager>) -> Router {
    let raft = crate::raft::network::router(manager.raft.clone());
    let join = Router::new()
        .route(protocol::JOIN_PATH, post(join::join))
        .with_state(manager.clone());
    let session = Router::new()
        .route(protocol::HEARTBEAT_PATH, post(session::heartbeat))
        .route(protocol::LEAVE_PATH, post(session::leave))
        .route(session::RENEW_PATH, post(session::renew))
        .route(assignments::ASSIGNMENTS_PATH, get(assignments::assignments))
        .route(assignments::STATUS_PATH, post(assignments::status))
        .with_state(manager.clone())
        .layer(middleware::from_fn(nodes_only));
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
        .route(protocol::FORWARD_PATH, post(admin::forwarded_write))
        .with_state(manager)
        .layer(middleware::from_fn(managers_only));
    raft.merge(join).merge(session).merge(admin)
}

async fn nodes_only(
    peer: Option<Extension<PeerIdentity>>,
    request: Request,
    next: Next,
) -> Response {
    match peer {
        Some(_) => next.run(request).await,
        None => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "a node certificate is required; join the cluster first",
        )
        .into_response(),
    }
}

async fn managers_only(
    peer: Option<Extension<PeerIdentity>>,
    request: Request,
    next: Next,
) -> Response {
    match peer {
        Some(Extension(peer)) if peer.role == NodeRole::Manager => next.run(request).await,
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
