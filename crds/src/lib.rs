//! Resource types, the compose-file model and the lint rules of reconciler.
//!
//! Everything here is pure: no file system, network or clock. Callers hand in file contents
//! (and a [`load::Files`] view for `env_file` and config/secret paths); this crate returns typed
//! stacks and [`diagnostic::Diagnostic`]s with exact `file:line:col` locations.
//!
//! ```text
//!  stack file text ──yaml::load──▶ located tree ──interpolate──▶ tree with values resolved
//!        ──check (against compose::stack_file_schema)──▶ JSON ──serde──▶ compose::ComposeFile
//!        ──lint rules──▶ diagnostics        ──stack::normalize──▶ stack::Stack (names, hashes)
//! ```
//!
//! # Layout
//! - [`diagnostic`]: findings with severity, rule id, span and help.
//! - [`yaml`]: YAML → tree with spans; merge keys, anchors, limits.
//! - [`interpolate`], [`dotenv`]: `${VAR}` interpolation and `.env` files, per the Compose spec.
//! - [`units`], [`port`], [`constraint`]: durations, sizes, cpus; port specs; placement rules.
//! - [`compose`]: the file model as written, and its JSON Schema.
//! - [`check`]: schema validation of the tree that reports every problem with its location.
//! - [`load`]: one stack file → typed model + diagnostics.
//! - [`lint`]: semantic rules beyond the schema, within and across stacks.
//! - [`normalize`]: compose file → stack resources with names and defaults.
//! - [`stack`], [`service`], [`node`], [`task`], [`revision`], [`meta`]: cluster resources
//!   (spec + status) in the vocabulary of DESIGN.md.
//! - [`assignment`]: the dispatcher's stream to a node and the node's status reports.
//! - [`repo_config`]: `reconciler.yaml`, the optional settings file of a desired-state tree.
//! - [`schema`]: every JSON Schema this crate publishes.

pub mod assignment;
pub mod check;
pub mod compose;
pub mod constraint;
pub mod diagnostic;
pub mod dotenv;
pub mod interpolate;
pub mod lint;
pub mod load;
pub mod meta;
pub mod node;
pub mod normalize;
pub mod port;
pub mod repo_config;
pub mod revision;
pub mod schema;
pub mod service;
pub mod stack;
pub mod task;
pub mod units;
pub mod yaml;
