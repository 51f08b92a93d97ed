//! The node agent of reconciler.
//!
//! It will own, per DESIGN.md: the session with the leader (assignments in, task states out),
//! the worker that compares assigned tasks with running containers, and the `Executor` trait
//! with its Docker (bollard) and in-memory implementations. The crate is part of the fixed
//! workspace layout; its modules land with the agent issue.
