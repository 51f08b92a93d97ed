//! The binary starts, prints its help and version, and rejects unknown commands with exit 2.
//! (Being an integration test of `controller` also makes `cargo test` build the binary that the
//! workspace's `tests/` crate drives.)

use std::process::Command;

fn reconciler(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_reconciler"))
        .args(args)
        .output()
        .expect("run reconciler")
}

#[test]
fn help_lists_the_commands() {
    let out = reconciler(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in ["lint", "config", "schema"] {
        assert!(text.contains(cmd), "{text}");
    }
}

#[test]
fn version_prints_the_crate_version() {
    let out = reconciler(&["--version"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("reconciler {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn unknown_commands_are_usage_errors() {
    assert_eq!(reconciler(&["frobnicate"]).status.code(), Some(2));
}
