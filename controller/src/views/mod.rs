//! The read models behind `service ls|ps`, `stack ls|ps|services` and `status`: pure
//! functions of the replicated state, which the admin handlers call inside `sm.read`.
//!
//! # Layout
//! - [`services`]: services and their tasks as `service ls|ps` and `stack services|ps` show them.
//! - [`stacks`]: each stack's sync state against the revision in force.
//! - [`convergence`]: whether a service converged on its revision's spec, and why not.

pub mod convergence;
pub mod services;
pub mod stacks;
