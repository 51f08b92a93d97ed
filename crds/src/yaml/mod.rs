//! A YAML document as a tree that remembers where every node came from.
//!
//! Lint needs a location for every finding, and typed deserialisation stops at the first error,
//! so stack files are first read into this tree: every mapping key and every value keeps its
//! [`Span`]. Anchors and aliases are expanded and `<<` merge keys applied here, so later stages
//! never see YAML presentation details.
//!
//! # Layout
//! - [`node`]: the tree ([`Node`], [`Value`], [`Mapping`]) and path lookups.
//! - [`load`]: events from serde-saphyr's parser → tree, with merge keys and limits.
//! - [`json`]: the tree → `serde_json::Value` with YAML 1.2 core-schema typing.

pub mod json;
pub mod load;
pub mod node;

pub use load::{Loaded, load};
pub use node::{Key, Mapping, Node, PathSeg, ScalarStyle, Value};
