//! The filter pipeline: which nodes may take a task of a service, and why the others may not
//! (SwarmKit's `manager/scheduler/filter.go` and `pipeline.go`).
//!
//! Filters run in [`Filter::PIPELINE`] order and a node is attributed to the first one that
//! rejects it, so an unplaced task's reason counts every node exactly once:
//! `no suitable node (1 node down, 2 nodes constraint node.role==manager)`.
//!
//! The first three filters ([`Filter::STATIC`]) depend only on the node and the service's
//! constraints, so the scheduler evaluates them once per node per distinct constraint list. The last three ([`Filter::DYNAMIC`])
//! depend on what is on the node; within one call they can only go from passing to failing for
//! a given service (reservations, ports and counts only grow), which lets the scheduler drop a
//! node for the rest of a service's batch the first time it fails one.
//!
//! Decisions documented here:
//! - **Resources**: a node that reports 0 CPUs (or 0 bytes of memory) reported no capacity; only
//!   tasks that reserve none of it fit there. Swarm compares reservations with what the engine
//!   reports in the same way, and "unknown" must not mean "unlimited" or one node would attract
//!   every reserving task.
//! - **Ports**: ingress-mode ports bind on the node like host-mode ports, because there is no
//!   routing mesh yet; two tasks publishing the same port and protocol never share a node.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crds::compose::Strategy;
use crds::constraint::{self, Constraint, parse_constraint};
use crds::node::{Availability, NodeState};
use crds::port::Protocol;
use crds::service::ServiceSpec;

use super::node_info::{NodeInfo, ServiceId, published_ports};
use super::preference::{Spread, parse_spread};

/// Why a service's placement rules cannot be used (lint normally catches these first).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A `placement.constraints` entry does not parse.
    #[error(transparent)]
    InvalidConstraint(constraint::Error),
    /// A `placement.preferences` entry does not parse.
    #[error(transparent)]
    InvalidPreference(constraint::Error),
}

/// One step of the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Filter {
    /// The node is heard from (status ready, not down or unknown).
    Ready,
    /// The operator lets the node take new tasks (active; pause and drain take none).
    Availability,
    /// The node satisfies all of the service's placement constraints.
    Constraints,
    /// The node has the CPUs and memory the task reserves, after the reservations on it.
    Resources,
    /// None of the task's published ports is bound on the node already.
    Ports,
    /// The node runs fewer than `max_replicas_per_node` tasks of the service (0 = no limit).
    MaxReplicas,
}

impl Filter {
    /// Every filter, in the order they run.
    pub const PIPELINE: [Filter; 6] = [
        Filter::Ready,
        Filter::Availability,
        Filter::Constraints,
        Filter::Resources,
        Filter::Ports,
        Filter::MaxReplicas,
    ];
    /// The filters that depend only on the node and the service.
    pub const STATIC: [Filter; 3] = [Filter::Ready, Filter::Availability, Filter::Constraints];
    /// The filters that depend on the tasks on the node.
    pub const DYNAMIC: [Filter; 3] = [Filter::Resources, Filter::Ports, Filter::MaxReplicas];

    /// Checks `node` for a task with `req`.
    pub fn check(self, node: &NodeInfo<'_>, req: &Requirements<'_>) -> Result<(), Rejection> {
        match self {
            Filter::Ready => match node.state {
                NodeState::Ready => Ok(()),
                NodeState::Down => Err(Rejection::Down),
                NodeState::Unknown => Err(Rejection::NotReady),
            },
            Filter::Availability => match node.availability {
                Availability::Active => Ok(()),
                Availability::Pause | Availability::Drain => Err(Rejection::Unavailable),
            },
            Filter::Constraints => match req
                .constraints
                .iter()
                .position(|c| !c.matches(&node.attributes))
            {
                None => Ok(()),
                Some(i) => Err(Rejection::Constraint(i)),
            },
            Filter::Resources => check_resources(node, req),
            Filter::Ports => match req.ports.iter().find(|p| node.ports.contains(p)) {
                None => Ok(()),
                Some(&(port, protocol)) => Err(Rejection::PortInUse(port, protocol)),
            },
            Filter::MaxReplicas => {
                let limit = req.max_replicas;
                // `||` skips the count lookup when there is no limit (the common case).
                if limit == 0 || u64::from(node.service_tasks(req.id)) < limit {
                    Ok(())
                } else {
                    Err(Rejection::MaxReplicas)
                }
            }
        }
    }
}

/// Runs `filters` in order; the first rejection wins.
pub fn check_all(
    filters: &[Filter],
    node: &NodeInfo<'_>,
    req: &Requirements<'_>,
) -> Result<(), Rejection> {
    filters.iter().try_for_each(|f| f.check(node, req))
}

fn check_resources(node: &NodeInfo<'_>, req: &Requirements<'_>) -> Result<(), Rejection> {
    // A reservation of 0 always fits, even on a node that reported no capacity.
    let fits = |reserve: u64, capacity: u64, reserved: u64| {
        reserve == 0 || reserved.saturating_add(reserve) <= capacity
    };
    if !fits(req.reserve_cpus, node.capacity_cpus, node.reserved_cpus) {
        return Err(Rejection::InsufficientCpu);
    }
    if !fits(
        req.reserve_memory,
        node.capacity_memory,
        node.reserved_memory,
    ) {
        return Err(Rejection::InsufficientMemory);
    }
    Ok(())
}

/// Why a node cannot take a task; ordered like the pipeline, so explanations list in a stable
/// order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rejection {
    /// Status down.
    Down,
    /// Status unknown: not heard from yet.
    NotReady,
    /// Availability pause or drain.
    Unavailable,
    /// The service's constraint at this index does not match.
    Constraint(usize),
    /// Not enough unreserved CPUs.
    InsufficientCpu,
    /// Not enough unreserved memory.
    InsufficientMemory,
    /// This published port and protocol is bound on the node.
    PortInUse(u16, Protocol),
    /// The node has `max_replicas_per_node` tasks of the service.
    MaxReplicas,
}

impl Rejection {
    /// The filter that rejects.
    pub fn filter(self) -> Filter {
        match self {
            Rejection::Down | Rejection::NotReady => Filter::Ready,
            Rejection::Unavailable => Filter::Availability,
            Rejection::Constraint(_) => Filter::Constraints,
            Rejection::InsufficientCpu | Rejection::InsufficientMemory => Filter::Resources,
            Rejection::PortInUse(..) => Filter::Ports,
            Rejection::MaxReplicas => Filter::MaxReplicas,
        }
    }

    /// What follows "N nodes" in a reason, e.g. `insufficient memory`.
    pub fn explain(self, req: &Requirements<'_>) -> String {
        match self {
            Rejection::Down => "down".to_owned(),
            Rejection::NotReady => "not ready".to_owned(),
            Rejection::Unavailable => "not available for new tasks".to_owned(),
            Rejection::Constraint(i) => match req.constraints.get(i) {
                Some(c) => format!("constraint {c}"),
                None => "constraint".to_owned(),
            },
            Rejection::InsufficientCpu => "insufficient cpu".to_owned(),
            Rejection::InsufficientMemory => "insufficient memory".to_owned(),
            Rejection::PortInUse(port, protocol) => {
                format!("port {port}/{protocol} already in use")
            }
            Rejection::MaxReplicas => {
                format!("max replicas per node ({}) reached", req.max_replicas)
            }
        }
    }
}

/// Counts of rejected nodes per rejection, for the reason of an unplaced task.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Explanation {
    counts: BTreeMap<Rejection, u32>,
}

impl Explanation {
    /// Counts one more node rejected for `rejection`.
    pub fn add(&mut self, rejection: Rejection) {
        *self.counts.entry(rejection).or_insert(0) += 1;
    }

    /// `no suitable node (2 nodes down, 1 node insufficient cpu)`, in pipeline order; with no
    /// rejection counted there was no node at all.
    pub fn reason(&self, req: &Requirements<'_>) -> String {
        if self.counts.is_empty() {
            return "no suitable node (no nodes in the cluster)".to_owned();
        }
        let mut out = String::from("no suitable node (");
        for (i, (rejection, n)) in self.counts.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            let nodes = if *n == 1 { "node" } else { "nodes" };
            // Writing to a String cannot fail.
            let _ = write!(out, "{sep}{n} {nodes} {}", rejection.explain(req));
        }
        out.push(')');
        out
    }
}

/// What a service asks of a node, parsed once per service per call.
#[derive(Debug, Clone)]
pub struct Requirements<'a> {
    /// Service name.
    pub service: &'a str,
    /// The service's number in this call (see [`Requirements::numbered`]).
    pub id: ServiceId,
    /// The service's spec.
    pub spec: &'a ServiceSpec,
    /// Parsed `placement.constraints`.
    pub constraints: Vec<Constraint>,
    /// Parsed `placement.preferences`, outermost first.
    pub preferences: Vec<Spread>,
    /// Nano-CPUs each task reserves.
    pub reserve_cpus: u64,
    /// Bytes of memory each task reserves.
    pub reserve_memory: u64,
    /// Published `(port, protocol)` pairs each task binds.
    pub ports: Vec<(u16, Protocol)>,
    /// `max_replicas_per_node` (0 = no limit).
    pub max_replicas: u64,
    /// The service's strategy, else the cluster's.
    pub strategy: Strategy,
}

impl<'a> Requirements<'a> {
    /// Parses the placement rules of `spec`; `default` is the cluster's strategy. The service
    /// is numbered 0 until [`numbered`](Self::numbered) says otherwise.
    pub fn new(service: &'a str, spec: &'a ServiceSpec, default: Strategy) -> Result<Self, Error> {
        let placement = &spec.placement;
        let constraints = placement
            .constraints
            .iter()
            .map(|c| parse_constraint(c))
            .collect::<Result<_, _>>()
            .map_err(Error::InvalidConstraint)?;
        let preferences = placement
            .preferences
            .iter()
            .map(|p| parse_spread(p))
            .collect::<Result<_, _>>()
            .map_err(Error::InvalidPreference)?;
        let mut ports: Vec<_> = published_ports(spec).collect();
        ports.sort_unstable();
        ports.dedup();
        Ok(Requirements {
            service,
            id: 0,
            spec,
            constraints,
            preferences,
            reserve_cpus: spec.resources.reserve_cpus.0,
            reserve_memory: spec.resources.reserve_memory.0,
            ports,
            max_replicas: placement.max_replicas_per_node,
            strategy: spec.strategy.unwrap_or(default),
        })
    }

    /// The same requirements for service number `id` of the call's
    /// [`NodeSet`](super::node_info::NodeSet), which per-node counts are kept by.
    pub fn numbered(self, id: ServiceId) -> Self {
        Requirements { id, ..self }
    }
}

#[cfg(test)]
#[path = "filter_test.rs"]
mod tests;
