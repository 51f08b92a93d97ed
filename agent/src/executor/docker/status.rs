//! The engine's answers → the executor's vocabulary (pure): a container inspection becomes a
//! [`ContainerStatus`], an event message an [`EngineEvent`].

use bollard::models::{
    ContainerInspectResponse, ContainerStateStatusEnum, EventMessage, HealthStatusEnum,
};
use crds::task::TaskHealth;

use super::labels;
use crate::executor::{
    ContainerState, ContainerStatus, EngineEvent, EventAction, HEALTH_OUTPUT_MAX,
};

/// The status of an inspected container, or `None` when it is not one of `node_id`'s tasks.
pub fn status_of(inspect: &ContainerInspectResponse, node_id: &str) -> Option<ContainerStatus> {
    let container_labels = inspect.config.as_ref()?.labels.as_ref()?;
    if container_labels.get(labels::NODE).map(String::as_str) != Some(node_id) {
        return None;
    }
    let state = inspect.state.as_ref();
    let status = state.and_then(|s| s.status);
    let container_state = match status {
        Some(ContainerStateStatusEnum::CREATED) | None | Some(ContainerStateStatusEnum::EMPTY) => {
            ContainerState::Created
        }
        Some(
            ContainerStateStatusEnum::RUNNING
            | ContainerStateStatusEnum::PAUSED
            | ContainerStateStatusEnum::RESTARTING
            | ContainerStateStatusEnum::STOPPING,
        ) => ContainerState::Running,
        Some(
            ContainerStateStatusEnum::EXITED
            | ContainerStateStatusEnum::DEAD
            | ContainerStateStatusEnum::REMOVING,
        ) => ContainerState::Exited {
            exit_code: state.and_then(|s| s.exit_code).unwrap_or_default(),
            oom_killed: state.and_then(|s| s.oom_killed).unwrap_or(false),
            error: state
                .and_then(|s| s.error.clone())
                .filter(|e| !e.is_empty()),
        },
    };
    let checked = state.and_then(|s| s.health.as_ref());
    let health = checked.and_then(|h| h.status).and_then(health_of);
    let health_output = checked
        .and_then(|h| h.log.as_ref())
        .and_then(|log| log.last())
        .and_then(|probe| probe.output.as_deref())
        .map(|output| output.trim().chars().take(HEALTH_OUTPUT_MAX).collect());
    Some(ContainerStatus {
        container_id: inspect.id.clone()?,
        task_id: container_labels.get(labels::TASK)?.clone(),
        spec_hash: container_labels
            .get(labels::SPEC_HASH)
            .cloned()
            .unwrap_or_default(),
        state: container_state,
        health,
        health_output,
    })
}

fn health_of(status: HealthStatusEnum) -> Option<TaskHealth> {
    match status {
        HealthStatusEnum::STARTING => Some(TaskHealth::Starting),
        HealthStatusEnum::HEALTHY => Some(TaskHealth::Healthy),
        HealthStatusEnum::UNHEALTHY => Some(TaskHealth::Unhealthy),
        HealthStatusEnum::NONE | HealthStatusEnum::EMPTY => None,
    }
}

/// The container event `message` is about, or `None` when it names no task container.
pub fn event_of(message: &EventMessage) -> Option<EngineEvent> {
    let actor = message.actor.as_ref()?;
    let task_id = actor.attributes.as_ref()?.get(labels::TASK)?.clone();
    let action = message.action.as_deref().unwrap_or_default();
    let action = match action {
        "die" => EventAction::Died,
        "oom" => EventAction::OutOfMemory,
        "destroy" => EventAction::Destroyed,
        other => match other.strip_prefix("health_status:").map(str::trim) {
            Some("healthy") => EventAction::Health(TaskHealth::Healthy),
            Some("unhealthy") => EventAction::Health(TaskHealth::Unhealthy),
            Some("starting") => EventAction::Health(TaskHealth::Starting),
            _ => EventAction::Other(other.to_owned()),
        },
    };
    Some(EngineEvent {
        container_id: actor.id.clone()?,
        task_id,
        action,
    })
}

#[cfg(test)]
#[path = "status_test.rs"]
mod tests;
