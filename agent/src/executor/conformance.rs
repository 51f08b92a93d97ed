//! What every [`Executor`] must do, as one checked walk through a task's life. Each
//! implementation's tests run it: the in-memory engine in unit tests, Docker on the real engine.

use crds::service::ServiceSpec;
use crds::task::Task;

use super::{ContainerState, Executor, StopConfig};

/// A step where an executor broke the contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{step}: {problem}")]
pub struct Violation {
    /// The step (`prepare`, `start`, …).
    pub step: &'static str,
    /// What went wrong.
    pub problem: String,
}

fn check(
    step: &'static str,
    holds: bool,
    problem: impl FnOnce() -> String,
) -> Result<(), Violation> {
    if holds {
        Ok(())
    } else {
        Err(Violation {
            step,
            problem: problem(),
        })
    }
}

fn call<T>(step: &'static str, result: super::Result<T>) -> Result<T, Violation> {
    result.map_err(|e| Violation {
        step,
        problem: format!("failed: {e}"),
    })
}

/// Walks `task` of `spec` through prepare → list → start → inspect → stop → remove (twice) →
/// inspect → list. The task must be new to the executor; its container is removed at the end.
pub async fn check_lifecycle<E: Executor>(
    executor: &E,
    task: &Task,
    spec: &ServiceSpec,
) -> Result<(), Violation> {
    let created = call("prepare", executor.prepare(task, spec).await)?;
    check("prepare", created.state == ContainerState::Created, || {
        format!("the container is {:?}, not created", created.state)
    })?;
    check(
        "prepare",
        created.task_id == task.meta.id && created.spec_hash == task.spec_hash,
        || format!("the container does not name its task and spec: {created:?}"),
    )?;
    let id = created.container_id.clone();
    let listed = call("list", executor.list().await)?;
    check("list", listed.iter().any(|c| c.container_id == id), || {
        format!("the created container {id} is missing")
    })?;

    let started = call("start", executor.start(&id).await)?;
    check("start", started.state == ContainerState::Running, || {
        format!("the container is {:?}, not running", started.state)
    })?;
    let inspected = call("inspect", executor.inspect(&id).await)?.map(|c| c.state);
    check(
        "inspect",
        inspected == Some(ContainerState::Running),
        || format!("the running container shows as {inspected:?}"),
    )?;

    let stopped = call("stop", executor.stop(&id, &StopConfig::of(spec)).await)?;
    let state = stopped.map(|c| c.state);
    check(
        "stop",
        matches!(state, Some(ContainerState::Exited { .. })),
        || format!("the stopped container shows as {state:?}"),
    )?;

    call("remove", executor.remove(&id).await)?;
    call("remove", executor.remove(&id).await)?;
    let inspected = call("inspect", executor.inspect(&id).await)?;
    check("inspect", inspected.is_none(), || {
        format!("the removed container shows as {inspected:?}")
    })?;
    let listed = call("list", executor.list().await)?;
    check("list", listed.iter().all(|c| c.container_id != id), || {
        format!("the removed container {id} is still listed")
    })
}
