//! Harness for the workspace's integration tests: real `reconciler` processes, real files.
//!
//! # Layout
//! - [`reconciler`]: find (or build) the `reconciler` binary and run it, capturing output.
//! - [`repo_root`]: the workspace root, for fixtures such as `examples/stacks`.
//!
//! Tests live in `tests/tests/tNN_*.rs`, numbered by layer: `t1x` CLI, later `t2x` single-node
//! clusters, `t5x` Docker end to end, `t8x` chaos.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The workspace root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Path of the `reconciler` binary built by this test run.
pub fn reconciler_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("test executable path");
        // target/<profile>/deps/<test> → target/<profile>/reconciler
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target profile dir")
            .to_path_buf();
        let bin = profile_dir.join("reconciler");
        // Building it here would wait forever on the build-directory lock that the running
        // `cargo test` holds; the workspace run builds it (controller has integration tests).
        assert!(
            bin.exists(),
            "{} is missing: run `cargo build -p controller` first, or test the whole workspace",
            bin.display()
        );
        bin
    })
}

/// Output of one `reconciler` run.
#[derive(Debug)]
pub struct Run {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Run `reconciler ARGS…` in `dir` with a clean, colourless environment.
pub fn reconciler(dir: &Path, args: &[&str]) -> Run {
    Command::new(reconciler_bin())
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("run reconciler")
        .into()
}
