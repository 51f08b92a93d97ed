//! The HTTPS end of node sessions: the assignment stream and status reports.
//!
//! `GET /v1/session/assignments` answers with a long-lived NDJSON stream of
//! [`AssignmentBatch`]es (the full set first); `POST /v1/session/status` takes a
//! [`StatusReport`]. Both need a node certificate, and only the leader serves them: a follower
//! answers `421` with the leader's address, as it does for heartbeats.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use crds::assignment::StatusReport;

use crate::api::ApiError;
use crate::api::session::not_leader;
use crate::leader::manager::Manager;
use crate::pki::PeerIdentity;

/// The assignment stream.
pub const ASSIGNMENTS_PATH: &str = "/v1/session/assignments";
/// Task status reports.
pub const STATUS_PATH: &str = "/v1/session/status";

/// `GET /v1/session/assignments`: the caller's assignments, as they change.
pub async fn assignments(
    State(manager): State<Arc<Manager>>,
    Extension(peer): Extension<PeerIdentity>,
) -> Response {
    if !manager.is_leader() {
        return not_leader(&manager);
    }
    if !manager
        .sm
        .with_nodes(|nodes| nodes.contains_key(&peer.node_id))
    {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            format!("node {} is not a member of the cluster", peer.node_id),
        )
        .into_response();
    }
    let rx = manager.dispatcher.connect(&peer.node_id);
    let lines = futures_util::stream::unfold(rx, |mut rx| async move {
        let batch = rx.recv().await?;
        let mut line = match serde_json::to_vec(&batch) {
            Ok(line) => line,
            Err(err) => return Some((Err(err), rx)),
        };
        line.push(b'\n');
        Some((Ok(line), rx))
    });
    (
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(lines),
    )
        .into_response()
}

/// `POST /v1/session/status`: buffer the caller's reports for the next batched write.
pub async fn status(
    State(manager): State<Arc<Manager>>,
    Extension(peer): Extension<PeerIdentity>,
    Json(report): Json<StatusReport>,
) -> Response {
    if !manager.is_leader() {
        return not_leader(&manager);
    }
    manager.dispatcher.report(&peer.node_id, report.updates);
    StatusCode::ACCEPTED.into_response()
}
