//! The scheduler: pending tasks → nodes, or a readable reason why not. Pure: no IO, no clock;
//! the same inputs (and seed) always give the same [`Decision`].
//!
//! ```text
//!  nodes + placed tasks ──▶ NodeSet (node_info)        built once per call
//!  pending ──group by (service, fixed node?)──▶ per service:
//!     static filters (ready, availability, constraints)  once per node per distinct
//!                                                        constraint list      (filter)
//!     eligible nodes ──▶ preference Tree ──▶ leaf Ranker (spread/binpack/random)
//!     per task: take best ──dynamic filters (resources, ports, max replicas)──▶ place, put back
//!                                             └─ fails: drop the node for this batch
//! ```
//!
//! # Layout
//! - [`node_info`]: what each node offers and what is already on it.
//! - [`filter`]: the filter pipeline and the explanations of rejections.
//! - [`strategy`]: ranking nodes (spread, binpack, random).
//! - [`preference`]: spreading over label values (`spread: node.labels.zone`).
//!
//! # Cost
//! A batch of `t` tasks of one service on `n` nodes costs O(n) for the tree (the static filters
//! are shared by services with the same constraints), then O(log n) per task: a node failing a dynamic filter is dropped for the rest of the
//! batch, because within a call reservations, ports and counts only grow. Tasks are grouped by
//! service (in order of first appearance; pending order within a group), so placements are
//! listed in that order rather than in `pending` order.

pub mod filter;
pub mod node_info;
pub mod preference;
pub mod strategy;

use std::collections::BTreeMap;

use crds::compose::Strategy;
use crds::node::Node;
use crds::service::Service;
use crds::task::Task;
use serde::Serialize;

use filter::{Explanation, Filter, Requirements};
use node_info::{FxHashMap, NodeInfo, NodeSet};
use preference::Tree;
use strategy::{Ranker, SplitMix64, score};

/// Cluster-wide scheduling settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Config {
    /// The cluster's default strategy; a service's own `strategy` wins.
    pub strategy: Strategy,
    /// Seed of the random strategy, so its choices are reproducible.
    pub seed: u64,
}

/// A task assigned to a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Placement {
    /// Task id.
    pub task: String,
    /// Node id.
    pub node: String,
}

/// A task no node can take now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unplaced {
    /// Task id.
    pub task: String,
    /// Why, e.g. `no suitable node (1 node down, 2 nodes insufficient cpu)`.
    pub reason: String,
}

/// What one call decided: every pending task is in exactly one of the two lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Tasks placed, grouped by service in order of first appearance in `pending`.
    pub placements: Vec<Placement>,
    /// Tasks left pending, with the reason.
    pub unplaced: Vec<Unplaced>,
}

/// Places the `pending` tasks on `nodes`, given the `placed` tasks already on them.
///
/// A placed task occupies its node (reservations, published ports, counts) while it is on a
/// node, not terminal and not desired past running. A pending task with a node set (a global
/// service's task) is only checked against that node. A task whose service is missing from
/// `services`, or whose placement rules do not parse, is unplaced with that reason. Placements
/// made earlier in the call count for later ones.
pub fn schedule<'a>(
    nodes: &'a BTreeMap<String, Node>,
    services: &'a BTreeMap<String, Service>,
    placed: &[&'a Task],
    pending: &[&'a Task],
    config: &Config,
) -> Decision {
    let mut run = Run {
        set: NodeSet::build(nodes, services, placed),
        rng: SplitMix64::new(config.seed),
        decision: Decision {
            placements: Vec::with_capacity(pending.len()),
            unplaced: Vec::new(),
        },
        statics: FxHashMap::default(),
    };
    for group in group_pending(pending) {
        let Some(service) = services.get(group.service) else {
            let reason = format!("service {:?} not found", group.service);
            run.unplace_all(&group.tasks, &reason);
            continue;
        };
        match Requirements::new(group.service, &service.spec, config.strategy) {
            Err(e) => run.unplace_all(&group.tasks, &e.to_string()),
            Ok(req) => {
                let req = req.numbered(run.set.service_id(group.service));
                if group.fixed {
                    run.place_fixed(&req, &group.tasks);
                } else {
                    run.place_batch(&req, &group.tasks);
                }
            }
        }
    }
    run.decision
}

/// Pending tasks of one service, all with a fixed node or all without.
struct Group<'a> {
    service: &'a str,
    fixed: bool,
    tasks: Vec<&'a Task>,
}

/// Groups `pending` by (service, fixed node or not), in order of first appearance.
fn group_pending<'a>(pending: &[&'a Task]) -> Vec<Group<'a>> {
    let mut groups: Vec<Group<'a>> = Vec::new();
    let mut index: FxHashMap<(&str, bool), usize> = FxHashMap::default();
    for &task in pending {
        let key = (task.service.as_str(), task.node.is_some());
        let i = *index.entry(key).or_insert_with(|| {
            groups.push(Group {
                service: &task.service,
                fixed: key.1,
                tasks: Vec::new(),
            });
            groups.len() - 1
        });
        groups[i].tasks.push(task);
    }
    groups
}

/// The state of one call.
struct Run<'a> {
    set: NodeSet<'a>,
    rng: SplitMix64,
    decision: Decision,
    /// The static pass per distinct constraint list, as written: services with the same
    /// constraints (commonly none) share it, and nothing a placement changes affects it.
    statics: FxHashMap<&'a [String], Static>,
}

/// The outcome of the static filters for one constraint list.
struct Static {
    /// Positions of the nodes that pass, in order.
    eligible: Vec<usize>,
    /// The rejections of the others.
    explanation: Explanation,
}

impl Static {
    /// Runs the static filters of `req` on every node, counting rejections.
    fn new(nodes: &[NodeInfo<'_>], req: &Requirements<'_>) -> Self {
        let mut explanation = Explanation::default();
        let eligible = (0..nodes.len())
            .filter(
                |&n| match filter::check_all(&Filter::STATIC, &nodes[n], req) {
                    Ok(()) => true,
                    Err(rejection) => {
                        explanation.add(rejection);
                        false
                    }
                },
            )
            .collect();
        Static {
            eligible,
            explanation,
        }
    }
}

impl<'a> Run<'a> {
    fn place(&mut self, task: &Task, node: usize, req: &Requirements<'a>) {
        let info = &mut self.set.nodes[node];
        info.occupy(req.id, Some(req.spec));
        self.decision.placements.push(Placement {
            task: task.meta.id.clone(),
            node: info.id().to_owned(),
        });
    }

    fn unplace_all(&mut self, tasks: &[&Task], reason: &str) {
        let unplaced = tasks.iter().map(|t| Unplaced {
            task: t.meta.id.clone(),
            reason: reason.to_owned(),
        });
        self.decision.unplaced.extend(unplaced);
    }

    /// Tasks pinned to a node (global services): all filters against that node only.
    fn place_fixed(&mut self, req: &Requirements<'a>, tasks: &[&'a Task]) {
        for &task in tasks {
            let wanted = task.node.as_deref().unwrap_or_default();
            let Some(n) = self.set.position(wanted) else {
                let reason = format!("no suitable node (node {wanted:?} is not in the cluster)");
                self.unplace_all(&[task], &reason);
                continue;
            };
            match filter::check_all(&Filter::PIPELINE, &self.set.nodes[n], req) {
                Ok(()) => self.place(task, n, req),
                Err(rejection) => {
                    let mut explanation = Explanation::default();
                    explanation.add(rejection);
                    self.unplace_all(&[task], &explanation.reason(req));
                }
            }
        }
    }

    /// Tasks of one service that may go anywhere: see the module doc for the cost.
    fn place_batch(&mut self, req: &Requirements<'a>, tasks: &[&'a Task]) {
        let constraints = req.spec.placement.constraints.as_slice();
        let statics = self
            .statics
            .entry(constraints)
            .or_insert_with(|| Static::new(&self.set.nodes, req));
        let mut explanation = statics.explanation.clone();
        let mut tree = build_tree(&self.set.nodes, req, &statics.eligible);
        for (i, &task) in tasks.iter().enumerate() {
            loop {
                let Some((leaf, n)) = tree.take(&mut self.rng) else {
                    // No node left: every node is counted in `explanation` by now.
                    self.unplace_all(&tasks[i..], &explanation.reason(req));
                    return;
                };
                if let Err(rejection) = filter::check_all(&Filter::DYNAMIC, &self.set.nodes[n], req)
                {
                    explanation.add(rejection);
                    continue;
                }
                self.place(task, n, req);
                let score = score(req.strategy, &self.set.nodes[n], req.id);
                tree.put(leaf, n, score, true);
                break;
            }
        }
    }
}

/// Builds the preference tree of the `eligible` nodes for a batch of `req`.
fn build_tree(nodes: &[NodeInfo<'_>], req: &Requirements<'_>, eligible: &[usize]) -> Tree {
    let tasks = |n: usize| u64::from(nodes[n].service_tasks(req.id));
    let mut ranker = |members: &[usize]| {
        let candidates = members
            .iter()
            .map(|&n| (score(req.strategy, &nodes[n], req.id), n));
        Ranker::new(req.strategy, candidates)
    };
    Tree::build(&req.preferences, eligible, nodes, &tasks, &mut ranker)
}

#[cfg(test)]
#[path = "scheduler_test.rs"]
mod tests;
