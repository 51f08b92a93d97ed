//! An in-memory container engine behind the [`Executor`] trait, for tests of the worker.
//!
//! Containers are records in a map; "running" is a state, not a process. Tests script what a
//! real engine does on its own: [`MemoryExecutor::crash`] ends a container and sends a `die`
//! event, [`MemoryExecutor::set_health`] sends a `health_status`, [`MemoryExecutor::break_events`]
//! ends every event stream as a dropped engine connection does. Images listed with
//! [`MemoryExecutor::reject_image`] are "missing", those with [`MemoryExecutor::fail_start`]
//! fail to start. A clone shares the engine, so a test keeps one handle and gives the worker
//! another. [`MemoryExecutor::max_in_flight`] tells how many steps ever ran at once.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crds::service::ServiceSpec;
use crds::task::{Task, TaskHealth};
use futures_util::Stream;
use tokio::sync::mpsc;

use super::{
    ContainerState, ContainerStatus, EngineEvent, Error, EventAction, Executor, Result, StopConfig,
};

/// A shared in-memory engine.
#[derive(Debug, Clone, Default)]
pub struct MemoryExecutor {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    containers: BTreeMap<String, ContainerStatus>,
    /// Image of each container, by container id (start failures are scripted per image).
    images: BTreeMap<String, String>,
    next_id: u64,
    subscribers: Vec<mpsc::UnboundedSender<EngineEvent>>,
    reject_images: Vec<String>,
    fail_start_images: Vec<String>,
    unavailable_calls: u32,
    step_delay: Duration,
    calls: Vec<String>,
    in_flight: usize,
    max_in_flight: usize,
}

impl MemoryExecutor {
    /// An engine with no containers.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A test that panicked while holding the lock has already failed; keep its state.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every step takes `delay` (on tokio's clock, so paused-time tests stay instant).
    pub fn set_step_delay(&self, delay: Duration) {
        self.lock().step_delay = delay;
    }

    /// Preparing a task of `image` is rejected as a missing image is.
    pub fn reject_image(&self, image: &str) {
        self.lock().reject_images.push(image.to_owned());
    }

    /// Starting a container of `image` fails as a taken port does.
    pub fn fail_start(&self, image: &str) {
        self.lock().fail_start_images.push(image.to_owned());
    }

    /// The next `calls` executor calls fail with [`Error::Unavailable`].
    pub fn fail_next_calls(&self, calls: u32) {
        self.lock().unavailable_calls = calls;
    }

    /// Adds a container as if an earlier agent had created it.
    pub fn insert(&self, status: ContainerStatus) {
        self.lock()
            .containers
            .insert(status.container_id.clone(), status);
    }

    /// Snapshot of every container.
    pub fn containers(&self) -> Vec<ContainerStatus> {
        self.lock().containers.values().cloned().collect()
    }

    /// The container of `task`, if any.
    pub fn container_of(&self, task: &str) -> Option<ContainerStatus> {
        self.lock()
            .containers
            .values()
            .find(|c| c.task_id == task)
            .cloned()
    }

    /// Calls made so far, as `"<method> <task or container id>"`.
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    /// The most steps that ever ran at the same time.
    pub fn max_in_flight(&self) -> usize {
        self.lock().max_in_flight
    }

    /// The running container of `task` exits with `exit_code` (`oom`: killed for memory) and a
    /// `die` event goes out. Returns false when `task` has no running container.
    pub fn crash(&self, task: &str, exit_code: i64, oom: bool) -> bool {
        let mut inner = self.lock();
        let Some(c) = inner.containers.values_mut().find(|c| c.task_id == task) else {
            return false;
        };
        if c.state != ContainerState::Running {
            return false;
        }
        c.state = ContainerState::Exited {
            exit_code,
            oom_killed: oom,
            error: None,
        };
        let event = event_of(c, EventAction::Died);
        inner.send(event);
        true
    }

    /// The healthcheck of `task`'s container reports `health`, with a `health_status` event.
    pub fn set_health(&self, task: &str, health: TaskHealth) {
        let mut inner = self.lock();
        if let Some(c) = inner.containers.values_mut().find(|c| c.task_id == task) {
            c.health = Some(health);
            let event = event_of(c, EventAction::Health(health));
            inner.send(event);
        }
    }

    /// Someone removed `task`'s container (`docker rm -f`); a `destroy` event goes out.
    pub fn remove_behind(&self, task: &str) {
        let mut inner = self.lock();
        let id = inner
            .containers
            .values()
            .find(|c| c.task_id == task)
            .map(|c| c.container_id.clone());
        if let Some(c) = id.and_then(|id| inner.containers.remove(&id)) {
            inner.send(event_of(&c, EventAction::Destroyed));
        }
    }

    /// Ends every open event stream, as a dropped engine connection does.
    pub fn break_events(&self) {
        self.lock().subscribers.clear();
    }

    /// Open event streams.
    pub fn subscribers(&self) -> usize {
        let mut inner = self.lock();
        inner.subscribers.retain(|s| !s.is_closed());
        inner.subscribers.len()
    }

    /// Records a call and fails it when a failure is scripted; the returned guard counts the
    /// step as in flight until dropped.
    async fn enter(&self, call: String) -> Result<InFlight<'_>> {
        let delay = {
            let mut inner = self.lock();
            inner.calls.push(call);
            if inner.unavailable_calls > 0 {
                inner.unavailable_calls -= 1;
                return Err(Error::Unavailable(
                    "engine unavailable (scripted)".to_owned(),
                ));
            }
            inner.in_flight += 1;
            inner.max_in_flight = inner.max_in_flight.max(inner.in_flight);
            inner.step_delay
        };
        let guard = InFlight(self);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Ok(guard)
    }
}

/// Counts one step in flight while alive.
struct InFlight<'a>(&'a MemoryExecutor);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.lock().in_flight -= 1;
    }
}

impl Inner {
    fn send(&mut self, event: EngineEvent) {
        self.subscribers.retain(|s| s.send(event.clone()).is_ok());
    }
}

fn event_of(c: &ContainerStatus, action: EventAction) -> EngineEvent {
    EngineEvent {
        container_id: c.container_id.clone(),
        task_id: c.task_id.clone(),
        action,
    }
}

impl Executor for MemoryExecutor {
    async fn prepare(&self, task: &Task, spec: &ServiceSpec) -> Result<ContainerStatus> {
        let _step = self.enter(format!("prepare {}", task.meta.id)).await?;
        let mut inner = self.lock();
        if inner.reject_images.contains(&spec.image) {
            return Err(Error::Rejected(format!(
                "No such image: {} (scripted)",
                spec.image
            )));
        }
        inner.next_id += 1;
        let status = ContainerStatus {
            container_id: format!("c{}", inner.next_id),
            task_id: task.meta.id.clone(),
            spec_hash: task.spec_hash.clone(),
            state: ContainerState::Created,
            health: spec.healthcheck.as_ref().map(|_| TaskHealth::Starting),
            health_output: None,
        };
        inner
            .containers
            .insert(status.container_id.clone(), status.clone());
        inner
            .images
            .insert(status.container_id.clone(), spec.image.clone());
        Ok(status)
    }

    async fn start(&self, container_id: &str) -> Result<ContainerStatus> {
        let _step = self.enter(format!("start {container_id}")).await?;
        let mut inner = self.lock();
        let fails = inner
            .images
            .get(container_id)
            .is_some_and(|i| inner.fail_start_images.contains(i));
        let c = inner
            .containers
            .get_mut(container_id)
            .ok_or_else(|| Error::Gone(container_id.to_owned()))?;
        if fails {
            return Err(Error::Failed(
                "port is already allocated (scripted)".to_owned(),
            ));
        }
        if c.state == ContainerState::Created {
            c.state = ContainerState::Running;
        }
        Ok(c.clone())
    }

    async fn inspect(&self, container_id: &str) -> Result<Option<ContainerStatus>> {
        let _step = self.enter(format!("inspect {container_id}")).await?;
        Ok(self.lock().containers.get(container_id).cloned())
    }

    async fn stop(
        &self,
        container_id: &str,
        _config: &StopConfig,
    ) -> Result<Option<ContainerStatus>> {
        let _step = self.enter(format!("stop {container_id}")).await?;
        let mut inner = self.lock();
        let Some(c) = inner.containers.get_mut(container_id) else {
            return Ok(None);
        };
        if matches!(c.state, ContainerState::Running | ContainerState::Created) {
            c.state = ContainerState::Exited {
                exit_code: 0,
                oom_killed: false,
                error: None,
            };
        }
        Ok(Some(c.clone()))
    }

    async fn remove(&self, container_id: &str) -> Result<()> {
        let _step = self.enter(format!("remove {container_id}")).await?;
        self.lock().containers.remove(container_id);
        Ok(())
    }

    async fn list(&self) -> Result<Vec<ContainerStatus>> {
        let _step = self.enter("list".to_owned()).await?;
        Ok(self.containers())
    }

    fn events(&self) -> impl Stream<Item = Result<EngineEvent>> + Send {
        let (tx, rx) = mpsc::unbounded_channel();
        self.lock().subscribers.push(tx);
        futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|event| (Ok(event), rx))
        })
    }
}

#[cfg(test)]
mod tests {
    use crds::meta::ObjectMeta;
    use crds::task::Task;

    use super::MemoryExecutor;
    use crate::executor::conformance::check_lifecycle;

    #[tokio::test]
    async fn the_memory_engine_keeps_the_executor_contract() {
        let stack = crds::stack::from_text("shop", "services:\n  web:\n    image: echo:1\n")
            .expect("valid stack");
        let spec = stack.services.into_values().next().expect("one service");
        let task = Task {
            meta: ObjectMeta {
                id: "t1".to_owned(),
                ..ObjectMeta::default()
            },
            spec_hash: "h1".to_owned(),
            ..Task::default()
        };
        let engine = MemoryExecutor::new();
        check_lifecycle(&engine, &task, &spec)
            .await
            .expect("conformant");
        assert!(engine.containers().is_empty());
    }
}
