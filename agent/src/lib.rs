//! The node agent of reconciler.
//!
//! It owns, per DESIGN.md, what runs on every node: describing the node to the cluster
//! ([`describe`]); the session with the leader, the worker that compares assigned tasks with
//! running containers and the Docker executor land with the agent issue; [`executor::fake`]
//! simulates nodes for tests and benchmarks.

pub mod describe;
pub mod executor;
