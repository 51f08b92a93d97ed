//! The `reconciler` binary's library: the manager and node along the data path, and the
//! command-line interface.
//!
//! # Layout
//! Folders follow one revision's path; a module imports only from those above it (checked by
//! `controller/tests/layering.rs`).
//!
//! ```text
//!  source ─▶ desired ─▶ diff ─▶ sync ─▶ raft ─▶ reconcile (+ scheduler) ─▶ leader ─▶ node ─▶ agent
//!                                         └──▶ views ─▶ api (CLI, other nodes)
//! ```
//! - [`secret`]: a string type for tokens and keys that never prints itself.
//! - [`private_files`]: the data directory and its files, readable by the node's user only.
//! - [`ids`]: the one generator of node, cluster and task ids (and their Raft member ids).
//! - [`bounded_http`]: plain HTTP on a port anyone can reach, within connection and time bounds.
//! - [`pki`]: the cluster CA, node certificates, join tokens and mutual-TLS configs.
//! - [`discover`]: which files under a path are stacks, and their names.
//! - [`render`]: findings as human text with snippets, JSON, or GitHub annotations.
//! - [`source`]: where desired state comes from (Git, watched directories, webhooks) and the
//!   revision sources the sync loop polls.
//! - [`desired`]: stack files (disk or snapshot) → loaded, linted stacks → desired state.
//! - [`diff`]: desired vs applied → a `Plan` of additions, changes and removals (pure).
//! - [`plan_view`]: a plan as `+`/`~`/`-` text.
//! - [`sync`]: what to do with a revision — apply, reject, refuse — and what that makes of the
//!   revision record (pure); the loop around it (wake, fetch, evaluate, decide, record) and the
//!   triggers that wake it while this node leads.
//! - [`raft`]: the replicated store — commands, cluster state, redb log and state machine.
//! - [`scheduler`]: pending tasks → nodes through filters, preferences and a strategy (pure).
//! - [`reconcile`]: the orchestrators — services, replicas, global services, restarts, rolling
//!   updates, task history — and the pass pipeline, as pure decisions returning Raft commands.
//! - [`protocol`]: the wire types and paths every side of the HTTPS API shares.
//! - [`views`]: the read models behind `service ps`, `stack ls` and `status` (pure).
//! - [`leader`]: the loops that run only on the leader, each handed the state store, the write
//!   paths and the clock: orchestration, dispatcher, down marker, membership; the revision
//!   record's Raft store.
//! - [`api`]: the manager's HTTPS router and handlers: joining, node sessions, the admin API.
//! - [`node`]: what every node runs: start-up, join, heartbeat session, assignment client, and
//!   [`node::process`], the one composition root the CLI calls.
//! - [`cli`]: flags into options, the subcommands (`lint`, `plan`, `status`, `node`, `service`,
//!   `stack`…) and their exit codes.

pub mod api;
pub mod bounded_http;
pub mod cli;
pub mod desired;
pub mod diff;
pub mod discover;
pub mod ids;
pub mod leader;
pub mod node;
pub mod pki;
pub mod plan_view;
pub mod private_files;
pub mod protocol;
pub mod raft;
pub mod reconcile;
pub mod render;
pub mod scheduler;
pub mod secret;
pub mod source;
pub mod sync;
pub mod views;
