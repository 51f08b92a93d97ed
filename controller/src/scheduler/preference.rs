//! Placement preferences: `spread: node.labels.zone` spreads a service's tasks evenly over the
//! values of a label, as SwarmKit's `nodeSet.tree` does.
//!
//! The eligible nodes form a [`Tree`]: one level per preference (outermost first), one branch
//! per value of that level's label; nodes without the label form a branch of their own (sorted
//! before the others). To place a task the scheduler walks down, at each level taking the
//! branch with the fewest tasks of the service (ties by value), and lets the strategy rank the
//! nodes of the leaf it reaches. A leaf whose nodes are all full is cut off, so the next task
//! goes to the next branch.
//!
//! Every branch keeps its live children in a `BTreeSet` keyed by (task count, value rank), so a
//! placement costs O(levels × log branches) plus the leaf's O(log nodes).
//!
//! Besides `node.labels.<name>` and `engine.labels.<name>`, `node.id`, `node.hostname`,
//! `node.role`, `node.platform.os` and `node.platform.arch` may be spread over.

use std::collections::{BTreeMap, BTreeSet};

use crds::constraint::{self, parse_preference_descriptor};

use super::node_info::NodeInfo;
use super::strategy::{Ranker, Score, SplitMix64};

/// What a preference spreads over.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Spread {
    /// `node.labels.<name>`.
    NodeLabel(String),
    /// `engine.labels.<name>`.
    EngineLabel(String),
    /// `node.id`.
    NodeId,
    /// `node.hostname`.
    NodeHostname,
    /// `node.role`.
    NodeRole,
    /// `node.platform.os`.
    NodePlatformOs,
    /// `node.platform.arch`.
    NodePlatformArch,
}

/// Parses a spread descriptor: a label key as [`parse_preference_descriptor`] accepts it, or
/// one of the node attributes listed in the module doc (any case).
pub fn parse_spread(input: &str) -> Result<Spread, constraint::Error> {
    let attribute = match input.trim().to_ascii_lowercase().as_str() {
        "node.id" => Some(Spread::NodeId),
        "node.hostname" => Some(Spread::NodeHostname),
        "node.role" => Some(Spread::NodeRole),
        "node.platform.os" => Some(Spread::NodePlatformOs),
        "node.platform.arch" => Some(Spread::NodePlatformArch),
        _ => None,
    };
    if let Some(attribute) = attribute {
        return Ok(attribute);
    }
    let preference = parse_preference_descriptor(input)?;
    // The prefix comes back lower-cased; the label name is kept as written.
    let spread = &preference.spread;
    if let Some(name) = spread.strip_prefix("node.labels.") {
        Ok(Spread::NodeLabel(name.to_owned()))
    } else if let Some(name) = spread.strip_prefix("engine.labels.") {
        Ok(Spread::EngineLabel(name.to_owned()))
    } else {
        Err(constraint::Error::InvalidPreference {
            input: input.to_owned(),
            suggestion: None,
        })
    }
}

impl Spread {
    /// The node's value for this preference; `None` when it lacks the label.
    pub fn value<'a>(&self, node: &NodeInfo<'a>) -> Option<&'a str> {
        let a = &node.attributes;
        match self {
            Spread::NodeLabel(name) => a.labels.get(name).map(String::as_str),
            Spread::EngineLabel(name) => a.engine_labels.get(name).map(String::as_str),
            Spread::NodeId => Some(a.id),
            Spread::NodeHostname => Some(a.hostname),
            Spread::NodeRole => Some(a.role),
            Spread::NodePlatformOs => Some(a.os),
            Spread::NodePlatformArch => Some(a.arch),
        }
    }
}

/// One branch of the tree: an inner level or a leaf with its ranker.
#[derive(Debug, Clone)]
struct Branch {
    /// Tasks of the service on the branch's nodes.
    tasks: u64,
    /// Position of the branch's value among its siblings' values.
    rank: usize,
    /// The branch above; `None` for the root.
    parent: Option<usize>,
    /// Children that still have nodes: (tasks, rank, branch).
    live: BTreeSet<(u64, usize, usize)>,
    /// The nodes of a leaf, ranked by the strategy.
    leaf: Option<Ranker>,
}

/// The eligible nodes of one service batch, grouped by preference values.
#[derive(Debug, Clone)]
pub struct Tree {
    branches: Vec<Branch>,
}

impl Tree {
    /// Builds the tree of `eligible` (positions in `nodes`) over `spreads`; a leaf's ranker is
    /// made by `ranker` from its nodes, and `tasks` counts the service's tasks on a node.
    pub fn build(
        spreads: &[Spread],
        eligible: &[usize],
        nodes: &[NodeInfo<'_>],
        tasks: &dyn Fn(usize) -> u64,
        ranker: &mut dyn FnMut(&[usize]) -> Ranker,
    ) -> Self {
        let mut tree = Tree {
            branches: Vec::new(),
        };
        tree.add(spreads, eligible, nodes, tasks, ranker, None, 0);
        tree
    }

    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        spreads: &[Spread],
        members: &[usize],
        nodes: &[NodeInfo<'_>],
        tasks: &dyn Fn(usize) -> u64,
        ranker: &mut dyn FnMut(&[usize]) -> Ranker,
        parent: Option<usize>,
        rank: usize,
    ) -> usize {
        let id = self.branches.len();
        // Only a child's count ranks it among its siblings; the root's is never compared, so it
        // is not summed (that would be one count look-up per eligible node per batch).
        let count = match parent {
            Some(_) => members.iter().map(|&n| tasks(n)).sum(),
            None => 0,
        };
        self.branches.push(Branch {
            tasks: count,
            rank,
            parent,
            live: BTreeSet::new(),
            leaf: None,
        });
        let Some((spread, inner)) = spreads.split_first() else {
            self.branches[id].leaf = Some(ranker(members));
            return id;
        };
        let mut groups: BTreeMap<Option<&str>, Vec<usize>> = BTreeMap::new();
        for &n in members {
            groups.entry(spread.value(&nodes[n])).or_default().push(n);
        }
        for (rank, group) in groups.values().enumerate() {
            let child = self.add(inner, group, nodes, tasks, ranker, Some(id), rank);
            let key = (self.branches[child].tasks, rank, child);
            self.branches[id].live.insert(key);
        }
        id
    }

    /// Removes the best node of the best leaf, as `(leaf, node)` (a leaf is named by its
    /// branch index); `None` when no node is left.
    /// Leaves found empty on the way are cut off.
    pub fn take(&mut self, rng: &mut SplitMix64) -> Option<(usize, usize)> {
        loop {
            let mut b = 0;
            while self.branches.get(b)?.leaf.is_none() {
                let &(_, _, child) = self.branches[b].live.first()?;
                b = child;
            }
            if let Some(node) = self.branches[b].leaf.as_mut().and_then(|r| r.take(rng)) {
                return Some((b, node));
            }
            if b == 0 {
                return None;
            }
            self.cut(b);
        }
    }

    /// Puts `node`, taken from `leaf`, back with its new `score`; `placed` says whether it got
    /// a task of the service (then every branch above it counts one more).
    pub fn put(&mut self, leaf: usize, node: usize, score: Score, placed: bool) {
        if let Some(ranker) = self.branches.get_mut(leaf).and_then(|b| b.leaf.as_mut()) {
            ranker.put(node, score);
        }
        if placed {
            self.count(leaf);
        }
    }

    /// One more task on branch `b` and its ancestors, re-keying each in its parent.
    fn count(&mut self, mut b: usize) {
        loop {
            let Branch {
                tasks,
                rank,
                parent,
                ..
            } = self.branches[b];
            self.branches[b].tasks = tasks + 1;
            let Some(p) = parent else { return };
            let live = &mut self.branches[p].live;
            live.remove(&(tasks, rank, b));
            live.insert((tasks + 1, rank, b));
            b = p;
        }
    }

    /// Removes the empty branch `b` from its parent, and the parent too once it has no live
    /// children left.
    fn cut(&mut self, mut b: usize) {
        while let Some(p) = self.branches[b].parent {
            let key = (self.branches[b].tasks, self.branches[b].rank, b);
            self.branches[p].live.remove(&key);
            if !self.branches[p].live.is_empty() {
                return;
            }
            b = p;
        }
    }
}

#[cfg(test)]
#[path = "preference_test.rs"]
mod tests;
