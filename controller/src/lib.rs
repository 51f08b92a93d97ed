//! The `reconciler` binary's library: finding and loading stacks, rendering findings, and the
//! command-line interface.
//!
//! # Layout
//! - [`discover`]: which files under a path are stacks, and their names.
//! - [`desired`]: stack files (disk or snapshot) → loaded, linted stacks → desired state.
//! - [`diff`]: desired vs applied → a `Plan` of additions, changes and removals (pure).
//! - [`plan_view`]: a plan as `+`/`~`/`-` text.
//! - [`render`]: findings as human text with snippets, JSON, or GitHub annotations.
//! - [`source`]: where desired state comes from (Git, watched directories, webhooks).
//! - [`sync`]: what to do with a revision — apply, reject, refuse (pure).
//! - [`syncer`]: the loop around `sync`: wake, fetch, evaluate, decide, record.
//! - [`applied`]: the applied revision, rejections and history, persisted.
//! - [`scheduler`]: pending tasks → nodes through filters, preferences and a strategy (pure).
//! - [`raft`]: the replicated store — commands, cluster state, redb log and state machine.
//! - [`reconcile`]: the orchestrators — replicas, global services, restarts, rolling updates and
//!   task history — as pure decisions that return Raft commands.
//! - [`cluster`]: a node at run time — init, join, heartbeats, membership, admin API.
//! - [`services`]: the applied revision's services → service changes (pure).
//! - [`dispatcher`]: assignment streams to nodes, batched task status reports.
//! - [`pki`]: the cluster CA, node certificates, join tokens and mutual-TLS configs.
//! - [`private_files`]: the data directory and its files, readable by the node's user only.
//! - [`secret`]: a string type for tokens and keys that never prints itself.
//! - [`cli`]: the subcommands (`lint`, `plan`, `status`, `node`, `service`, `stack`…) and their
//!   exit codes.

pub mod applied;
pub mod cli;
pub mod cluster;
pub mod desired;
pub mod diff;
pub mod discover;
pub mod dispatcher;
pub mod pki;
pub mod plan_view;
pub mod private_files;
pub mod raft;
pub mod reconcile;
pub mod render;
pub mod scheduler;
pub mod secret;
pub mod services;
pub mod source;
pub mod sync;
pub mod syncer;
