//! Executors: what turns an assigned task into a running workload on a node.
//!
//! The worker drives each task through an [`Executor`] one step at a time, as SwarmKit's
//! `exec.Controller` does: [`Executor::prepare`] (image present or pulled, networks and volumes
//! ensured, container created) → [`Executor::start`] → [`Executor::inspect`] whenever the
//! engine says something happened to the container → [`Executor::stop`] → [`Executor::remove`].
//! Every step returns the container as the engine sees it afterwards, so the worker never has
//! to guess what a step did. [`Executor::list`] and [`Executor::events`] let the worker adopt
//! what already runs and hear about crashes as they happen.
//!
//! ```text
//!            prepare            start              (events → inspect)
//!   (none) ──────────▶ created ───────▶ running ──────────────────────▶ exited
//!                                          │ stop                          │ remove
//!                                          └─────────▶ exited ─────────────┴───────▶ (none)
//! ```
//!
//! # Layout
//! - [`docker`]: the Docker engine, through bollard.
//! - `memory` (feature `testing`): an in-memory engine with scripted failures, for tests of
//!   the worker.
//! - [`conformance`]: the contract every implementation's tests check.

use std::future::Future;
use std::time::Duration;

use crds::service::ServiceSpec;
use crds::task::{Task, TaskHealth};
use futures_util::Stream;

pub mod conformance;
pub mod docker;
#[cfg(any(test, feature = "testing"))]
pub mod memory;

/// Why a step failed, classified by what the worker should do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The task cannot run on this node as specified (a missing image, a failed pull, a missing
    /// external network or volume, a spec the engine refuses): the task is rejected.
    #[error("{0}")]
    Rejected(String),
    /// The engine could not run the container (e.g. its published port is taken): the task
    /// failed.
    #[error("{0}")]
    Failed(String),
    /// The engine did not answer or answered with a passing problem: the step is retried later.
    #[error("{0}")]
    Unavailable(String),
    /// The container no longer exists (removed behind the worker's back).
    #[error("no such container {0}")]
    Gone(String),
}

/// Result of an executor call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where a container of this node is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerState {
    /// Created, never started.
    Created,
    /// Running (paused and restarting count as running: the process still exists).
    Running,
    /// Its process ended.
    Exited {
        /// The exit code.
        exit_code: i64,
        /// The kernel killed it for exceeding its memory limit.
        oom_killed: bool,
        /// What the engine says went wrong, when it says anything (e.g. a failed start).
        error: Option<String>,
    },
}

/// A container this node owns, as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerStatus {
    /// The engine's container id.
    pub container_id: String,
    /// The task it runs (from its labels).
    pub task_id: String,
    /// The `spec_hash` of the task it was created for (from its labels).
    pub spec_hash: String,
    /// Where it is.
    pub state: ContainerState,
    /// Its healthcheck's verdict, when it has a healthcheck.
    pub health: Option<TaskHealth>,
    /// The output of its last healthcheck probe, when it has one (cut to
    /// [`HEALTH_OUTPUT_MAX`] characters).
    pub health_output: Option<String>,
}

/// Longest healthcheck output kept with a container's status (it ends up in a task's error).
pub const HEALTH_OUTPUT_MAX: usize = 200;

/// What the engine said happened to one of this node's containers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineEvent {
    /// The container.
    pub container_id: String,
    /// The task it runs.
    pub task_id: String,
    /// What happened.
    pub action: EventAction,
}

/// The kinds of container events the worker listens to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventAction {
    /// The process ended.
    Died,
    /// The kernel killed a process of the container for exceeding its memory limit.
    OutOfMemory,
    /// The healthcheck changed its verdict.
    Health(TaskHealth),
    /// The container was removed.
    Destroyed,
    /// Anything else the engine sent.
    Other(String),
}

/// How to stop a container; `None` fields fall back to what the container was created with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StopConfig {
    /// Signal to send first (`SIGTERM` unless the image or spec says otherwise).
    pub signal: Option<String>,
    /// Time between the signal and a kill.
    pub grace: Option<Duration>,
}

impl StopConfig {
    /// How a task of `spec` is stopped.
    pub fn of(spec: &ServiceSpec) -> StopConfig {
        StopConfig {
            signal: spec.stop_signal.clone(),
            grace: Some(spec.stop_grace_period.0),
        }
    }
}

/// A container engine seen through the steps of a task's life.
///
/// Implementations only ever touch containers labelled with their own node, so several
/// executors can share one engine. Every method is one engine round (or a few), never a wait
/// for the workload itself.
pub trait Executor: Send + Sync {
    /// Makes the task ready to start: image present (pulled when missing), networks and volumes
    /// ensured, container created. Returns the created container.
    fn prepare(
        &self,
        task: &Task,
        spec: &ServiceSpec,
    ) -> impl Future<Output = Result<ContainerStatus>> + Send;

    /// Starts a created container; returns it as it is right after the start.
    fn start(&self, container_id: &str) -> impl Future<Output = Result<ContainerStatus>> + Send;

    /// The container as it is now; `None` when it no longer exists.
    fn inspect(
        &self,
        container_id: &str,
    ) -> impl Future<Output = Result<Option<ContainerStatus>>> + Send;

    /// Stops a container (signal, grace period, kill); returns it as it is afterwards.
    fn stop(
        &self,
        container_id: &str,
        config: &StopConfig,
    ) -> impl Future<Output = Result<Option<ContainerStatus>>> + Send;

    /// Removes a container (killing it if it still runs). Removing a missing container is fine.
    fn remove(&self, container_id: &str) -> impl Future<Output = Result<()>> + Send;

    /// Every container this node owns, running or not.
    fn list(&self) -> impl Future<Output = Result<Vec<ContainerStatus>>> + Send;

    /// Events about this node's containers from now on (and possibly a little before: a
    /// repeated event is harmless, a missed one is not). The stream ends or yields an error when
    /// the engine's stream breaks; the caller subscribes again and re-lists.
    fn events(&self) -> impl Stream<Item = Result<EngineEvent>> + Send;
}
