//! The admin API: nodes, services, stacks, tasks, join tokens and status for the CLI. Any
//! manager answers reads from its own state (marked possibly stale when it has no quorum); writes go through the
//! [`Writer`](crate::leader::writer::Writer) to the leader.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use crds::node::{NodeRole, NodeState};

use crate::api::ApiError;
use crate::api::join::{even_managers_warning, role_name};
use crate::leader::manager::Manager;
use crate::protocol::{NodeView, RemoveQuery, ServicesQuery, StatusView, TasksQuery, TokenView};
use crate::raft::command::NodeUpdate;
use crate::raft::{ClusterState, Command};
use crate::source::spec::SourceSpec;
use crate::views::services::{self, LookupError};
use crate::views::stacks;

/// `GET /v1/nodes`.
pub async fn list_nodes(State(manager): State<Arc<Manager>>) -> Response {
    Json(manager.answer(manager.node_views())).into_response()
}

/// `GET /v1/nodes/{id}`: by id, unique id prefix or hostname.
pub async fn inspect_node(State(manager): State<Arc<Manager>>, Path(id): Path<String>) -> Response {
    match find(&manager, &id) {
        Ok(view) => Json(manager.answer(view)).into_response(),
        Err(response) => *response,
    }
}

/// `GET /v1/services?stack=`: services with replica counts computed from their tasks; `404`
/// names the known stacks when `stack` matches none.
pub async fn list_services(
    State(manager): State<Arc<Manager>>,
    Query(query): Query<ServicesQuery>,
) -> Response {
    match manager
        .sm
        .read(|s| services::compute_service_views(s, &query))
    {
        Ok(views) => Json(manager.answer(views)).into_response(),
        Err(err) => lookup_error(&err),
    }
}

/// `GET /v1/tasks?service=&stack=`: `404` names the known services (or stacks) when `service`
/// (or `stack`) matches none.
pub async fn list_tasks(
    State(manager): State<Arc<Manager>>,
    Query(query): Query<TasksQuery>,
) -> Response {
    match manager.sm.read(|s| services::compute_task_views(s, &query)) {
        Ok(views) => Json(manager.answer(views)).into_response(),
        Err(err) => lookup_error(&err),
    }
}

fn lookup_error(err: &LookupError) -> Response {
    let status = match err {
        LookupError::NotFound { .. } | LookupError::NoSuchStack { .. } => StatusCode::NOT_FOUND,
        LookupError::Ambiguous { .. } => StatusCode::CONFLICT,
    };
    ApiError::new(status, err.to_string()).into_response()
}

/// `GET /v1/stacks`: every stack with its sync state and per-service progress.
pub async fn list_stacks(State(manager): State<Arc<Manager>>) -> Response {
    let now = manager.clock.now_ms();
    let views = manager.sm.read(|s| stacks::compute_stack_views(s, now));
    Json(manager.answer(views)).into_response()
}

/// `PATCH /v1/nodes/{id}` with a [`NodeUpdate`].
pub async fn update_node(
    State(manager): State<Arc<Manager>>,
    Path(id): Path<String>,
    Json(update): Json<NodeUpdate>,
) -> Response {
    let view = match find(&manager, &id) {
        Ok(view) => view,
        Err(response) => return *response,
    };
    if let Some(key) = update
        .labels_add
        .keys()
        .chain(&update.labels_rm)
        .find(|k| k.trim().is_empty() || k.contains('='))
    {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("invalid label key {key:?}: keys are non-empty and contain no '='"),
        )
        .into_response();
    }
    let managers = manager.sm.read(count_managers);
    let mut warnings = Vec::new();
    match (view.node.spec.role, update.role) {
        (NodeRole::Manager, Some(NodeRole::Worker)) => {
            if managers <= 1 {
                return ApiError::new(
                    StatusCode::CONFLICT,
                    "cannot demote the last manager: the cluster's state would have no keeper; \
                     promote another node first",
                )
                .into_response();
            }
            warnings.extend(even_managers_warning(managers - 1));
        }
        (NodeRole::Worker, Some(NodeRole::Manager)) => {
            warnings.extend(even_managers_warning(managers + 1));
        }
        _ => {}
    }
    let cmd = Command::UpdateNode {
        id: view.node.meta.id.clone(),
        update,
        at_ms: manager.clock.now_ms(),
    };
    match manager.writer.write(cmd).await {
        Ok(version) => {
            manager.wait_applied(version).await;
            for warning in &warnings {
                tracing::warn!("{warning}");
            }
            match find(&manager, &view.node.meta.id) {
                Ok(view) => Json(serde_json::json!({
                    "node": view,
                    "warnings": warnings,
                }))
                .into_response(),
                Err(response) => *response,
            }
        }
        Err(err) => ApiError::new(err.status(), err.to_string()).into_response(),
    }
}

/// `DELETE /v1/nodes/{id}?force=`.
pub async fn remove_node(
    State(manager): State<Arc<Manager>>,
    Path(id): Path<String>,
    Query(query): Query<RemoveQuery>,
) -> Response {
    let view = match find(&manager, &id) {
        Ok(view) => view,
        Err(response) => return *response,
    };
    let node = &view.node;
    if node.spec.role == NodeRole::Manager {
        return ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "node {} is a manager; demote it first (`reconciler node demote {}`)",
                node.meta.id, node.meta.id
            ),
        )
        .into_response();
    }
    if node.status.state == NodeState::Ready && !query.force {
        return ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "node {} is up; run `reconciler leave` on it, stop it, or remove it with --force",
                node.meta.id
            ),
        )
        .into_response();
    }
    let cmd = Command::RemoveNode {
        id: node.meta.id.clone(),
    };
    match manager.writer.write(cmd).await {
        Ok(version) => {
            manager.wait_applied(version).await;
            if let Some(liveness) = manager.liveness().as_mut() {
                liveness.forget(&node.meta.id);
            }
            StatusCode::NO_CONTENT.into_response()
        }
        Err(err) => ApiError::new(err.status(), err.to_string()).into_response(),
    }
}

fn parse_role(role: &str) -> Result<NodeRole, Box<Response>> {
    match role {
        "manager" => Ok(NodeRole::Manager),
        "worker" => Ok(NodeRole::Worker),
        other => Err(Box::new(
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!("no such role {other:?}: say worker or manager"),
            )
            .into_response(),
        )),
    }
}

/// `GET /v1/tokens/{role}`.
pub async fn show_token(State(manager): State<Arc<Manager>>, Path(role): Path<String>) -> Response {
    let role = match parse_role(&role) {
        Ok(role) => role,
        Err(response) => return *response,
    };
    match manager.sm.read(|s| s.cluster.clone()) {
        Some(cluster) => Json(manager.answer(TokenView {
            role,
            token: cluster.tokens.current(role).to_string(),
            manager: manager.api_addr.clone(),
        }))
        .into_response(),
        None => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the cluster is not initialised yet",
        )
        .into_response(),
    }
}

/// `POST /v1/tokens/{role}/rotate`: the old token stops working as soon as this is committed.
pub async fn rotate_token(
    State(manager): State<Arc<Manager>>,
    Path(role): Path<String>,
) -> Response {
    let role = match parse_role(&role) {
        Ok(role) => role,
        Err(response) => return *response,
    };
    let Some(mut tokens) = manager
        .sm
        .read(|s| s.cluster.as_ref().map(|c| c.tokens.clone()))
    else {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the cluster is not initialised yet",
        )
        .into_response();
    };
    let token = tokens.rotate(role).to_string();
    match manager.writer.write(Command::SetTokens { tokens }).await {
        Ok(version) => {
            manager.wait_applied(version).await;
            tracing::info!(role = role_name(role), "join token rotated");
            Json(manager.answer(TokenView {
                role,
                token,
                manager: manager.api_addr.clone(),
            }))
            .into_response()
        }
        Err(err) => ApiError::new(err.status(), err.to_string()).into_response(),
    }
}

/// `GET /v1/status`.
pub async fn status(State(manager): State<Arc<Manager>>) -> Response {
    let leader_raft_id = manager.leader_id();
    let metrics = manager.raft.metrics().borrow().clone();
    let now = manager.clock.now_ms();
    let view = manager.sm.read(|s| StatusView {
        cluster_id: s.cluster.as_ref().map(|c| c.id.clone()).unwrap_or_default(),
        leader: leader_raft_id.and_then(|id| {
            s.nodes
                .values()
                .find(|n| n.description.raft_id == id)
                .map(|n| n.meta.id.clone())
        }),
        term: metrics.current_term,
        nodes: (
            s.nodes.len(),
            s.nodes
                .values()
                .filter(|n| n.status.state == NodeState::Ready)
                .count(),
        ),
        managers: metrics.membership_config.voter_ids().count(),
        record: s.revisions.clone(),
        stacks: stacks::compute_stack_views(s, now),
    });
    Json(manager.answer(view)).into_response()
}

/// `GET /v1/source`: the source the cluster follows (`null`: none).
pub async fn show_source(State(manager): State<Arc<Manager>>) -> Response {
    let source = manager.sm.read(|s| s.revisions.source.clone());
    Json(manager.answer(source)).into_response()
}

/// `PUT /v1/source`: follow this source from now on (`null`: follow none). Every manager
/// follows the stored source; the leader syncs from it within a second.
pub async fn set_source(
    State(manager): State<Arc<Manager>>,
    Json(source): Json<Option<SourceSpec>>,
) -> Response {
    if let Some(SourceSpec::Git(git)) = &source
        && (git.url.trim().is_empty() || git.branch.trim().is_empty())
    {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            "a Git source needs a repository URL and a branch",
        )
        .into_response();
    }
    match manager
        .writer
        .write(Command::SetSource {
            source: source.clone(),
        })
        .await
    {
        Ok(version) => {
            manager.wait_applied(version).await;
            match &source {
                Some(s) => tracing::info!(source = %s.describe(), "the cluster's source was set"),
                None => {
                    tracing::warn!("the cluster's source was cleared: it follows no repository")
                }
            }
            Json(manager.answer(source)).into_response()
        }
        Err(err) => ApiError::new(err.status(), err.to_string()).into_response(),
    }
}

/// `POST /raft/write`: a follower forwards a write; commit it here if this manager leads.
pub async fn forwarded_write(
    State(manager): State<Arc<Manager>>,
    Json(cmd): Json<Command>,
) -> Response {
    match manager.writer.write_as_leader(cmd).await {
        Ok(version) => Json(version).into_response(),
        Err(err) => ApiError::new(err.status(), err.to_string()).into_response(),
    }
}

fn count_managers(state: &ClusterState) -> usize {
    state
        .nodes
        .values()
        .filter(|n| n.spec.role == NodeRole::Manager)
        .count()
}

/// A node by id, unique id prefix, or unique hostname (as `docker node` resolves them).
fn find(manager: &Manager, key: &str) -> Result<NodeView, Box<Response>> {
    let views = manager.node_views();
    match pick(&views, key) {
        Ok(view) => Ok(view.clone()),
        Err(many) if many.is_empty() => Err(Box::new(
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!("no such node: {key} (`reconciler node ls` lists them)"),
            )
            .into_response(),
        )),
        Err(many) => Err(Box::new(
            ApiError::new(
                StatusCode::CONFLICT,
                format!(
                    "{key:?} matches {} nodes ({}); use a longer id",
                    many.len(),
                    many.iter()
                        .map(|v| v.node.meta.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .into_response(),
        )),
    }
}

/// Docker's order: the exact id, then the exact hostname, then an id prefix; each must be
/// unique. `Err` holds the candidates (none: no such node).
pub fn pick<'a>(views: &'a [NodeView], key: &str) -> Result<&'a NodeView, Vec<&'a NodeView>> {
    if let Some(view) = views.iter().find(|v| v.node.meta.id == key) {
        return Ok(view);
    }
    // A hostname that happens to prefix a random id (`m3` and `m3ekx…`) still means the host.
    let by_name: Vec<&NodeView> = views
        .iter()
        .filter(|v| v.node.description.hostname == key)
        .collect();
    let matches = if by_name.is_empty() {
        views
            .iter()
            .filter(|v| v.node.meta.id.starts_with(key))
            .collect()
    } else {
        by_name
    };
    match matches.as_slice() {
        [one] => Ok(one),
        _ => Err(matches),
    }
}

#[cfg(test)]
#[path = "admin_test.rs"]
mod tests;
