//! The node agent of reconciler: what runs on every node.
//!
//! ```text
//!  session (assignments) ──▶ worker::run ──steps──▶ executor::Executor ──▶ Docker engine
//!            ▲                    │   ▲                      │
//!            └──── status reports ┘   └──── engine events ───┘
//! ```
//!
//! # Layout
//! - [`clock`]: the one clock of a process (wall-clock milliseconds on a monotonic instant).
//! - [`describe`]: what the node reports about itself (hostname, resources, engine).
//! - [`worker`]: assigned tasks vs running containers → executor steps and status reports
//!   (a pure planner in [`worker::plan`], a thin async loop in [`worker::run`]).
//! - [`executor`]: the [`executor::Executor`] trait and its implementations:
//!   [`executor::docker`] (the Docker engine through bollard) and, with the `testing`
//!   feature, `executor::memory` (an in-memory engine for tests).
//! - `simulated` (feature `testing`): whole simulated nodes, no worker and no engine, for tests
//!   and benchmarks of thousands of nodes.
//!
//! The session with the leader lives in the controller crate, which hands the worker its
//! assignment stream and takes its reports.

pub mod clock;
pub mod describe;
pub mod executor;
#[cfg(any(test, feature = "testing"))]
pub mod simulated;
pub mod worker;
