//! Executors: what turns an assigned task into a running workload on a node.
//!
//! - [`fake`]: an in-memory node that runs tasks instantly (or fails them on request), so tests
//!   and benchmarks can drive thousands of simulated nodes in one process.

pub mod fake;
