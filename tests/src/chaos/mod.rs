//! The chaos harness: a six-node cluster on the real engine, faults to inject into it, and a
//! checker that watches the invariants the design promises while the faults happen.
//!
//! # Layout
//! - [`setup`]: [`Chaos`], three managers and three agent-only workers on 127.0.0.1–6 following
//!   a Git repository it creates; commit and push revisions, wait for them, find the leader.
//! - [`cli`]: the cluster's state through the CLI's JSON, every call with a deadline.
//! - [`engine`]: the stack's containers straight from the engine's socket, cheap enough to
//!   sample ten times a second.
//! - [`observe`]: containers per node and their start times, wanted tasks, readiness, labels.
//! - [`faults`]: kill -9, restart, SIGSTOP/SIGCONT of any node.
//! - [`net`]: partitions — per-node cgroups and nftables rules on the loopback addresses.
//! - [`disk`]: a full disk — a small tmpfs as a node's data directory.
//! - [`hostile`]: requests an attacker could send (raw HTTP, HTTPS without a certificate).
//! - [`invariants`]: the continuous checker (sampler threads, pure rules, a timeline) and the
//!   engine-versus-assignments agreement after convergence.
//!
//! A scenario (tests/tests/t80_chaos.rs) starts a [`Chaos`], deploys, starts an
//! [`invariants::Checker`], injects faults inside `checker.fault(..)` / `checker.healed(..)`
//! windows, waits for recovery with a deadline, and calls `checker.finish()`.

pub mod cli;
pub mod disk;
pub mod engine;
pub mod faults;
pub mod hostile;
pub mod invariants;
pub mod net;
pub mod observe;
pub mod setup;

pub use invariants::{Bounds, Checker};
pub use setup::{Chaos, Options};

/// Whether a chaos test that needs something of the host (`what`: nftables, mounts, curl) can
/// run; without it the test is skipped with a printed reason — unless `CI` is set, where it
/// fails.
pub fn privileged_or_skip(test: &str, what: &str, probe: Result<(), String>) -> bool {
    match probe {
        Ok(()) => true,
        Err(why) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{test}: CI is set but {what} is not available: {why}"
            );
            eprintln!("{test}: skipped, {what} is not available ({why}; set CI to fail instead)");
            false
        }
    }
}

/// Starts a [`Chaos`] cluster, or returns `None` after printing why the test is skipped (no
/// engine, or no root powers for partitions and mounts, outside CI).
pub fn start_or_skip(test: &str, prefix: &str, options: Options) -> Option<Chaos> {
    if !crate::docker::engine_or_skip(test) {
        return None;
    }
    let needs = match (options.partitions, options.tmpfs.is_empty()) {
        (true, _) => "nftables partitions",
        (false, false) => "tmpfs mounts",
        (false, true) => "the chaos cluster",
    };
    match Chaos::start(prefix, options) {
        Ok(chaos) => Some(chaos),
        Err(why) => {
            privileged_or_skip(test, needs, Err(why));
            None
        }
    }
}
