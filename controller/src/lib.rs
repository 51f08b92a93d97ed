//! The `reconciler` binary's library: finding and loading stacks, rendering findings, and the
//! command-line interface.
//!
//! # Layout
//! - [`discover`]: which files under a path are stacks, and their names.
//! - [`desired`]: stack files on disk → loaded, linted stacks (IO around `crds::load`).
//! - [`render`]: findings as human text with snippets, JSON, or GitHub annotations.
//! - [`source`]: where desired state comes from (Git, watched directories, webhooks).
//! - [`cli`]: the subcommands (`lint`, `config`, `schema`) and their exit codes.

pub mod cli;
pub mod desired;
pub mod discover;
pub mod render;
pub mod source;
