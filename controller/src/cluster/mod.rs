//! A node of the cluster at run time: its identity on disk, the one TLS endpoint a manager
//! serves, joining, heartbeats, Raft membership, and the admin API the CLI talks to.
//!
//! ```text
//!  reconciler --repo …            reconciler join ADDR --token T        reconciler node ls
//!        │ (empty data dir)             │ (bootstrap TLS, CA pinned)          │ (mTLS, node cert)
//!        ▼                              ▼                                     ▼
//!   init: CA, node cert,  ◀─POST /v1/join── join_api: verify token, ─▶  admin: any manager
//!   tokens → Raft                        issue cert, UpsertNode           reads; writes go
//!                                                                          through Writer
//!   every node ──POST /v1/session/heartbeat (1 s)──▶ leader: Liveness ─▶ SetNodeState down
//!   leader: membership loop ── add_learner → promote voter / remove demoted managers
//! ```
//!
//! Decisions are pure and tested alone ([`liveness`], [`membership::plan`]); the loops around
//! them only read state, call the decision and carry out its result.
//!
//! # Layout
//! - [`layout`]: the data directory: `node.json` ([`layout::NodeConfig`]) and `pki/`.
//! - [`api`]: wire types and paths shared by servers and clients.
//! - [`writer`]: the write path: commit on the leader or forward to it; "no quorum" errors.
//! - [`manager`]: what a manager's handlers share ([`manager::Manager`]).
//! - [`server`]: the router of the manager's TLS endpoint.
//! - [`join_api`] / [`join`]: both ends of joining.
//! - [`session`] / [`session_api`]: both ends of heartbeats; [`liveness`] decides who is down.
//! - [`membership`]: keeps Raft voters equal to the nodes whose role is manager.
//! - [`record`]: the revision record in the replicated state, for the sync loop.
//! - [`admin`]: node, service, task, token and status endpoints for the CLI.
//! - [`service_views`]: what `service ls|ps` and `stack services|ps` show, computed from the
//!   state (pure).
//! - [`stack_views`]: each stack's sync state against the revision in force (pure).
//! - [`convergence`]: whether a service converged on its revision's spec, and why not (pure).
//! - [`client`]: how the CLI finds and authenticates to a manager.
//! - [`orchestration`]: the leader's loop: services, orchestrators and scheduler decide, Raft
//!   commits; the [`dispatcher`](crate::dispatcher) streams the result to nodes.
//! - [`task_index`]: the leader's index of tasks by service, following the change feed.
//! - [`simulated`]: simulated nodes in process (fake executor) for tests and benchmarks.
//! - [`runtime`]: starting a node: init, join or restart, then serve until stopped.
//! - [`store_watch`]: stops the node when its replicated store stops by itself (a full disk).

pub mod admin;
pub mod api;
pub mod assignment_client;
pub mod client;
pub mod convergence;
pub mod join;
pub mod join_api;
pub mod layout;
pub mod liveness;
pub mod manager;
pub mod membership;
pub mod orchestration;
pub mod record;
pub mod runtime;
pub mod server;
pub mod service_views;
pub mod session;
pub mod session_api;
pub mod simulated;
pub mod stack_views;
pub mod store_watch;
pub mod task_index;
pub mod writer;
