//! Ranking: which of the nodes that pass the filters gets the next task.
//!
//! - **spread** (the default): fewest tasks of this service, then fewest tasks in total, then
//!   node id — services spread out and nodes stay evenly loaded;
//! - **binpack**: least free CPU, then least free memory, then most tasks, then node id — fill
//!   a node before starting the next one (nodes that no longer fit are dropped by the filters);
//! - **random**: a pseudo-random eligible node drawn from [`Config::seed`](super::Config),
//!   the same for the same inputs.
//!
//! A [`Ranker`] holds the candidate nodes of one service batch (or one preference leaf) keyed by
//! their [`Score`], so taking the best node and putting it back with its new score cost
//! O(log nodes) instead of a scan. It is a binary heap rather than an ordered set: keys are
//! unique (the position breaks ties), so the order taken is the same, but the heap is built in
//! O(n) without sorting, lives in one flat vector and its sifts touch fewer cache lines — the
//! ranker is rebuilt for every service batch and popped and pushed for every placement.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crds::compose::Strategy;

use super::node_info::{NodeInfo, ServiceId};

/// What a node is ranked by: lower is better; ties are broken by node position (id order).
pub type Score = (u64, u64, u64);

/// The score of `node` for a task of `service` under `strategy`.
pub fn score(strategy: Strategy, node: &NodeInfo<'_>, service: ServiceId) -> Score {
    match strategy {
        Strategy::Spread => (
            u64::from(node.service_tasks(service)),
            u64::from(node.tasks),
            0,
        ),
        Strategy::Binpack => (
            node.free_cpus(),
            node.free_memory(),
            u64::MAX - u64::from(node.tasks),
        ),
        // Random never orders by score.
        Strategy::Random => (0, 0, 0),
    }
}

/// The candidate nodes of one batch (or one preference leaf), best first.
#[derive(Debug, Clone)]
pub enum Ranker {
    /// Spread and binpack: a min-heap by score, then position.
    Ordered(BinaryHeap<Reverse<(Score, usize)>>),
    /// Random: an unordered pool to draw from.
    Random(Vec<usize>),
}

impl Ranker {
    /// A ranker for `strategy` over `(score, position)` candidates.
    pub fn new(strategy: Strategy, candidates: impl Iterator<Item = (Score, usize)>) -> Self {
        match strategy {
            Strategy::Random => Ranker::Random(candidates.map(|(_, n)| n).collect()),
            // Collecting a heap heapifies in O(n), cheaper than n pushes or a sort.
            Strategy::Spread | Strategy::Binpack => {
                Ranker::Ordered(candidates.map(Reverse).collect())
            }
        }
    }

    /// Removes and returns the best candidate (a random one for random); `None` when empty.
    pub fn take(&mut self, rng: &mut SplitMix64) -> Option<usize> {
        match self {
            Ranker::Ordered(heap) => heap.pop().map(|Reverse((_, n))| n),
            Ranker::Random(pool) if pool.is_empty() => None,
            Ranker::Random(pool) => Some(pool.swap_remove(rng.below(pool.len()))),
        }
    }

    /// Puts a taken candidate back with its new `score`.
    pub fn put(&mut self, node: usize, score: Score) {
        match self {
            Ranker::Ordered(heap) => heap.push(Reverse((score, node))),
            Ranker::Random(pool) => pool.push(node),
        }
    }

    /// Whether no candidate is left.
    pub fn is_empty(&self) -> bool {
        match self {
            Ranker::Ordered(heap) => heap.is_empty(),
            Ranker::Random(pool) => pool.is_empty(),
        }
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny generator whose output for a seed never changes.
/// `rand`'s `SmallRng` and `StdRng` may change their streams between releases, which would
/// change placements (and pinned test outcomes) on a dependency bump.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator started at `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`), by Lemire's multiply-shift (bias below 2^-32 for any `n`
    /// a scheduler sees).
    pub fn below(&mut self, n: usize) -> usize {
        let wide = u128::from(self.next_u64()) * n as u128;
        // The high 64 bits of a product with n < 2^64 are < n, so they fit in usize.
        (wide >> 64) as usize
    }
}

#[cfg(test)]
#[path = "strategy_test.rs"]
mod tests;
