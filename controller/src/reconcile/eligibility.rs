//! Whether a node is usable for a service: the filter every orchestrator shares.
//!
//! A node *keeps* a service's tasks while it is not Down, not drained, still in the cluster and
//! still matches the service's constraints; it *takes new* tasks only when it is also Ready and
//! Active (not paused). A node in state Unknown (a new leader has not heard from it yet) is not
//! lost: its tasks stay, but it gets no new ones.
//!
//! Node attributes are built once per call ([`Nodes`]); each service memoises its verdicts per
//! node ([`Eligibility`]), so a million tasks cost a million look-ups, not a million constraint
//! evaluations.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::net::{IpAddr, SocketAddr};

use crds::constraint::{Constraint, NodeAttributes, parse_constraint};
use crds::node::{Availability, Node, NodeRole, NodeState};
use crds::service::ServiceSpec;

/// A map keyed by short ids, hashed with FNV-1a: it runs once per task on every call, where
/// SipHash's protection against chosen keys buys nothing (ids come from the cluster itself).
pub(crate) type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

/// FNV-1a, 64 bits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// What a node means for one service's tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fit {
    /// Down, drained, removed, or no longer matching: its tasks must stop (and move).
    Lost,
    /// Keeps the tasks it has but takes no new ones (paused, or not heard from yet).
    Keep,
    /// Ready, active and matching: takes new tasks.
    Take,
}

/// Every node of the cluster, indexed once per call.
pub(crate) struct Nodes<'a> {
    index: IdMap<&'a str, usize>,
    views: Vec<View<'a>>,
}

struct View<'a> {
    node: &'a Node,
    ip: Option<IpAddr>,
}

impl<'a> Nodes<'a> {
    /// Index `nodes` by id and parse their addresses once.
    pub(crate) fn new(nodes: &'a BTreeMap<String, Node>) -> Self {
        let mut index = IdMap::with_capacity_and_hasher(nodes.len(), Default::default());
        let mut views = Vec::with_capacity(nodes.len());
        for (id, node) in nodes {
            index.insert(id.as_str(), views.len());
            views.push(View {
                node,
                ip: parse_ip(&node.description.advertise_addr),
            });
        }
        Nodes { index, views }
    }

    /// Ids of all nodes, in id order.
    pub(crate) fn ids(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.views.iter().map(|v| v.node.meta.id.as_str())
    }

    /// Whether a task on `node` may still be running there: the node exists and is not Down.
    /// An unassigned task runs nowhere.
    pub(crate) fn reachable(&self, node: Option<&str>) -> bool {
        node.and_then(|id| self.index.get(id))
            .is_some_and(|&i| self.views[i].node.status.state != NodeState::Down)
    }
}

/// One service's view of the nodes, memoised per node.
pub(crate) struct Eligibility<'a> {
    nodes: &'a Nodes<'a>,
    /// `None` when a constraint does not parse: like SwarmKit, no node matches then.
    constraints: Option<Vec<Constraint>>,
    cache: Vec<Option<Fit>>,
}

impl<'a> Eligibility<'a> {
    /// The filter for `spec`'s placement constraints.
    pub(crate) fn new(nodes: &'a Nodes<'a>, spec: &ServiceSpec) -> Self {
        let constraints = spec
            .placement
            .constraints
            .iter()
            .map(|c| parse_constraint(c).ok())
            .collect();
        Eligibility {
            nodes,
            constraints,
            cache: vec![None; nodes.views.len()],
        }
    }

    /// What `node` means for this service; an unassigned task (no node) is kept where it is.
    pub(crate) fn fit(&mut self, node: Option<&str>) -> Fit {
        let Some(id) = node else {
            return Fit::Keep;
        };
        match self.nodes.index.get(id) {
            Some(&i) => self.fit_at(i),
            None => Fit::Lost,
        }
    }

    fn fit_at(&mut self, i: usize) -> Fit {
        if let Some(fit) = self.cache[i] {
            return fit;
        }
        let fit = self.compute(&self.nodes.views[i]);
        self.cache[i] = Some(fit);
        fit
    }

    fn compute(&self, view: &View<'_>) -> Fit {
        let node = view.node;
        if node.status.state == NodeState::Down
            || node.spec.availability == Availability::Drain
            || !self.matches(view)
        {
            return Fit::Lost;
        }
        if node.status.state == NodeState::Ready && node.spec.availability == Availability::Active {
            Fit::Take
        } else {
            Fit::Keep
        }
    }

    fn matches(&self, view: &View<'_>) -> bool {
        let Some(constraints) = &self.constraints else {
            return false;
        };
        if constraints.is_empty() {
            return true;
        }
        let node = view.node;
        let attributes = NodeAttributes {
            id: &node.meta.id,
            hostname: &node.description.hostname,
            role: match node.spec.role {
                NodeRole::Manager => "manager",
                NodeRole::Worker => "worker",
            },
            ip: view.ip,
            os: &node.description.os,
            arch: &node.description.arch,
            labels: &node.spec.labels,
            engine_labels: &node.description.engine_labels,
        };
        constraints.iter().all(|c| c.matches(&attributes))
    }
}

/// `10.0.0.5` or `10.0.0.5:4242` → the address; anything else → none.
fn parse_ip(addr: &str) -> Option<IpAddr> {
    addr.parse::<IpAddr>()
        .ok()
        .or_else(|| addr.parse::<SocketAddr>().ok().map(|s| s.ip()))
}
