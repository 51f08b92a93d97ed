//! The `reconciler` command: argument parsing and dispatch only.

use std::process::ExitCode;

use clap::Parser;

/// A manager holding a million tasks allocates and frees large buffers all the time (entries of
/// thousands of tasks, their JSON); glibc's allocator hands those back to the kernel and faults
/// them in again, zeroed, on every use. mimalloc keeps them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = controller::cli::Cli::parse();
    controller::cli::run(cli)
}
