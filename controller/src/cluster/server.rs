//! The router of a manager's TLS endpoint: Raft RPC, joining, node sessions and the admin API
//! on one port, each with its own rule about who may call.
//!
//! | routes | caller |
//! |---|---|
//! | `/raft/append|vote|snapshot`, `/raft/write` | managers (certificate role) |
//! | `/v1/join` | anyone with a valid join token (no certificate yet) |
//! | `/v1/session/*` | any node of the cluster (certificate) |
//! | `/v1/nodes`, `/v1/services`, `/v1/stacks`, `/v1/tasks`, `/v1/tokens`, `/v1/status` | managers (the CLI uses its node's certificate) |

use std::sync::Arc;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use crds::node::NodeRole;

use crate::cluster::api::{self, ApiError};
use crate::cluster::manager::Manager;
use crate::cluster::{admin, join_api, session_api};
use crate::dispatcher;
use crate::pki::PeerIdentity;

/// The whole router of a manager.
pub fn router(manager: Arc<Manager>) -> Router {
    let raft = crate::raft::network::router(manager.raft.clone());
    let join = Router::new()
        .route(api::JOIN_PATH, post(join_api::join))
        .with_state(manager.clone());
    let session = Router::new()
        .route(api::HEARTBEAT_PATH, post(session_api::heartbeat))
        .route(api::LEAVE_PATH, post(session_api::leave))
        .route(session_api::RENEW_PATH, post(session_api::renew))
        .route(
            dispatcher::api::ASSIGNMENTS_PATH,
            get(dispatcher::api::assignments),
        )
        .route(dispatcher::api::STATUS_PATH, post(dispatcher::api::status))
        .with_state(manager.clone())
        .layer(middleware::from_fn(nodes_only));
    let admin = Router::new()
        .route(api::NODES_PATH, get(admin::list_nodes))
        .route(
            &format!("{}/{{id}}", api::NODES_PATH),
            get(admin::inspect_node)
                .patch(admin::update_node)
                .delete(admin::remove_node),
        )
        .route(api::SERVICES_PATH, get(admin::list_services))
        .route(api::STACKS_PATH, get(admin::list_stacks))
        .route(api::TASKS_PATH, get(admin::list_tasks))
        .route(
            &format!("{}/{{role}}", api::TOKENS_PATH),
            get(admin::show_token),
        )
        .route(
            &format!("{}/{{role}}/rotate", api::TOKENS_PATH),
            post(admin::rotate_token),
        )
        .route(api::STATUS_PATH, get(admin::status))
        .route(api::FORWARD_PATH, post(admin::forwarded_write))
        .with_state(manager)
        .layer(middleware::from_fn(managers_only));
    raft.merge(join).merge(session).merge(admin)
}

/// An error answer with an [`ApiError`] body.
pub fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(ApiError {
            error: message.into(),
        }),
    )
        .into_response()
}

async fn nodes_only(
    peer: Option<Extension<PeerIdentity>>,
    request: Request,
    next: Next,
) -> Response {
    match peer {
        Some(_) => next.run(request).await,
        None => error(
            StatusCode::UNAUTHORIZED,
            "a node certificate is required; join the cluster first",
        ),
    }
}

async fn managers_only(
    peer: Option<Extension<PeerIdentity>>,
    request: Request,
    next: Next,
) -> Response {
    match peer {
        Some(Extension(peer)) if peer.role == NodeRole::Manager => next.run(request).await,
        Some(Extension(peer)) => error(
            StatusCode::FORBIDDEN,
            format!(
                "node {} is a worker; cluster administration runs on managers (use --host \
                 with a manager's address from a manager's data directory)",
                peer.node_id
            ),
        ),
        None => error(
            StatusCode::UNAUTHORIZED,
            "a manager's node certificate is required",
        ),
    }
}
