//! Where desired state comes from: Git repositories and watched directories.
//!
//! A source produces [`Snapshot`]s: the files under the configured path at one point in time,
//! held in memory so a revision is immutable while it is parsed (a watched directory may change
//! under our feet; a checkout may be replaced by the next fetch).
//!
//! # Layout
//! - [`snapshot`]: the in-memory file tree, its content hash, and `Files` access for `crds`.
//! - [`git`]: clone/fetch with git2 into a bare cache; snapshots read from the object database.
//! - [`revisions`]: what the sync loop polls — a watched directory or a followed branch.
//! - [`credentials`]: HTTPS tokens, SSH keys and agents, host-key checks wired into git2.
//! - [`known_hosts`]: OpenSSH known_hosts parsing and matching (no trust on first use).
//! - [`watch`]: notify-based watching of directories and of a local repository's refs.
//! - [`webhook`]: verifying GitHub, GitLab, Gitea and generic push webhooks.
//! - [`spec`]: the followed source as cluster state (credentials by name only).

pub mod credentials;
pub mod git;
pub mod known_hosts;
pub mod revisions;
pub mod snapshot;
pub mod spec;
pub mod watch;
pub mod webhook;

use std::time::Instant;

pub use snapshot::{Snapshot, SnapshotError};

/// Why the sync loop woke up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WakeReason {
    /// The process started.
    Start,
    /// The poll interval elapsed.
    Interval,
    /// A watched file or ref changed.
    Changed,
    /// A verified push webhook arrived.
    Webhook {
        /// The pushed commit, when the sender said.
        after: Option<String>,
    },
}

/// A request to look for a new revision now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wake {
    /// Why.
    pub reason: WakeReason,
    /// When the cause was observed (for latency figures).
    pub at: Instant,
}
