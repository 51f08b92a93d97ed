//! What every node runs: its identity on disk, start-up (initialise a cluster, join one, or
//! restart), the heartbeat session with the leader and the node's end of the assignment stream.
//!
//! ```text
//!  reconciler --repo …            reconciler join ADDR --token T
//!        │ (empty data dir)             │ (bootstrap TLS, CA pinned)
//!        ▼                              ▼
//!   init: CA, node cert,  ◀─POST /v1/join── api::join: verify token, issue cert, UpsertNode
//!   tokens → Raft
//!   every node ──POST /v1/session/heartbeat (1 s)──▶ leader: liveness ─▶ SetNodeState down
//!   every node ◀─GET /v1/session/assignments (NDJSON)── leader: dispatcher
//! ```
//!
//! # Layout
//! - [`layout`]: the data directory: `node.json` ([`layout::NodeConfig`]) and `pki/`.
//! - [`process`]: the composition root: the runtime (restarted on role changes), the worker on
//!   the local engine, and the sync loop that follows a source while this node leads.
//! - [`runtime`]: starting a node: init, join or restart, then serve until stopped.
//! - [`join`]: the joiner's end of joining.
//! - [`call`]: what can go wrong with one request to a manager.
//! - [`cert_renewal`]: renews the node's certificate two thirds into its validity, in place.
//! - [`leave`]: the node's end of leaving: ask a manager to remove it.
//! - [`settings`]: listen and advertise addresses remembered across restarts.
//! - [`session`]: the node's end of heartbeats: follow the leader, learn role changes.
//! - [`assignment_client`]: the node's end of its assignment stream and status reports.
//! - [`store_watch`]: stops the node when its replicated store stops by itself (a full disk).
//! - [`unlock`]: opens a manager's store; a locked one (autolock) waits for its unlock key.
//! - `simulated` (feature `testing`): simulated nodes in process for tests and benchmarks.

pub mod assignment_client;
pub mod call;
pub mod cert_renewal;
pub mod join;
pub mod layout;
pub mod leave;
pub mod process;
pub mod runtime;
pub mod session;
pub mod settings;
#[cfg(feature = "testing")]
pub mod simulated;
pub mod store_watch;
pub mod unlock;
