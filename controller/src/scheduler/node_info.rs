//! The scheduler's view of the nodes, built once per [`schedule`](super::schedule) call: what
//! each node offers (state, availability, address, capacity) and what is already on it
//! (reservations, published ports, task counts in total and per service).
//!
//! Placements made during the call are added with [`NodeInfo::occupy`], so later decisions of
//! the same call see them.
//!
//! Services are numbered per call ([`ServiceId`], by [`NodeSet::service_id`]) so a node's
//! per-service counts are a small sorted vector searched by number: looking a count up is a
//! few integer compares instead of hashing a name, and it is done for every eligible node of
//! every service batch.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::net::{IpAddr, SocketAddr};

use crds::constraint::NodeAttributes;
use crds::node::{Availability, Node, NodeRole, NodeState};
use crds::port::Protocol;
use crds::service::{Service, ServiceSpec};
use crds::task::{Task, TaskState};

/// One node as the scheduler sees it.
#[derive(Debug, Clone)]
pub struct NodeInfo<'a> {
    /// What constraints and preferences look at (id, hostname, role, address, labels…).
    pub attributes: NodeAttributes<'a>,
    /// Heard from, down or not yet heard from.
    pub state: NodeState,
    /// Whether the operator lets it take new tasks.
    pub availability: Availability,
    /// CPUs the node reports, in nano-CPUs; 0 when it reported none.
    pub capacity_cpus: u64,
    /// Memory the node reports, in bytes; 0 when it reported none.
    pub capacity_memory: u64,
    /// Nano-CPUs reserved by the tasks on it.
    pub reserved_cpus: u64,
    /// Bytes of memory reserved by the tasks on it.
    pub reserved_memory: u64,
    /// Published ports bound on the node, by any task on it.
    pub ports: HashSet<(u16, Protocol)>,
    /// Tasks on the node, all services together.
    pub tasks: u32,
    /// Tasks on the node per service, `(service, count)` sorted by service; only services with
    /// tasks on the node are listed, so its size follows the tasks rather than the cluster.
    pub per_service: Vec<(ServiceId, u32)>,
}

/// A service's number within one [`schedule`](super::schedule) call.
pub type ServiceId = u32;

/// A hash map with [`FxHasher`].
pub type FxHashMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

impl<'a> NodeInfo<'a> {
    /// The view of `node` with nothing on it yet.
    pub fn new(node: &'a Node) -> Self {
        let role = match node.spec.role {
            NodeRole::Manager => "manager",
            NodeRole::Worker => "worker",
        };
        NodeInfo {
            attributes: NodeAttributes {
                id: &node.meta.id,
                hostname: &node.description.hostname,
                role,
                ip: parse_ip(&node.description.advertise_addr),
                os: &node.description.os,
                arch: &node.description.arch,
                labels: &node.spec.labels,
                engine_labels: &node.description.engine_labels,
            },
            state: node.status.state,
            availability: node.spec.availability,
            capacity_cpus: node.description.cpus.0,
            capacity_memory: node.description.memory.0,
            reserved_cpus: 0,
            reserved_memory: 0,
            ports: HashSet::new(),
            tasks: 0,
            per_service: Vec::new(),
        }
    }

    /// The node id.
    pub fn id(&self) -> &'a str {
        self.attributes.id
    }

    /// Tasks of `service` on the node.
    pub fn service_tasks(&self, service: ServiceId) -> u32 {
        match self.per_service.binary_search_by_key(&service, |&(s, _)| s) {
            Ok(i) => self.per_service[i].1,
            Err(_) => 0,
        }
    }

    /// Nano-CPUs not yet reserved (0 when the node reported none).
    pub fn free_cpus(&self) -> u64 {
        self.capacity_cpus.saturating_sub(self.reserved_cpus)
    }

    /// Bytes of memory not yet reserved (0 when the node reported none).
    pub fn free_memory(&self) -> u64 {
        self.capacity_memory.saturating_sub(self.reserved_memory)
    }

    /// Records a task of `service` on the node: its count, and what `spec` reserves and
    /// publishes (unknown when the service is gone, then only the count).
    pub fn occupy(&mut self, service: ServiceId, spec: Option<&ServiceSpec>) {
        self.tasks += 1;
        match self.per_service.binary_search_by_key(&service, |&(s, _)| s) {
            Ok(i) => self.per_service[i].1 += 1,
            Err(i) => self.per_service.insert(i, (service, 1)),
        }
        if let Some(spec) = spec {
            let reserve = &spec.resources;
            self.reserved_cpus = self.reserved_cpus.saturating_add(reserve.reserve_cpus.0);
            self.reserved_memory = self
                .reserved_memory
                .saturating_add(reserve.reserve_memory.0);
            self.ports.extend(published_ports(spec));
        }
    }
}

/// The Firefox/rustc hash: a multiply and rotate per word. Node ids and service names are
/// hashed per task (grouping, numbering); SipHash's DoS resistance buys nothing for names the
/// cluster itself created, and costs several times more.
#[derive(Debug, Clone, Copy, Default)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The `(port, protocol)` pairs a task of `spec` binds on its node. Ingress ports count as well
/// as host ports: without a routing mesh, an ingress port is bound on the node that runs the task.
pub fn published_ports(spec: &ServiceSpec) -> impl Iterator<Item = (u16, Protocol)> + '_ {
    spec.ports
        .iter()
        .filter_map(|p| p.published.map(|port| (port, p.protocol)))
}

/// `advertise_addr` is `ip` or `ip:port` (IPv6 with a port is bracketed, `[::1]:4242`).
pub fn parse_ip(addr: &str) -> Option<IpAddr> {
    let addr = addr.trim();
    addr.parse::<IpAddr>()
        .ok()
        .or_else(|| addr.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            let bare = addr.strip_prefix('[')?.strip_suffix(']')?;
            bare.parse().ok()
        })
}

/// Whether `task` holds its node's resources, ports and a place in the counts: it is on a node,
/// has not ended, and is not being shut down.
pub fn occupies(task: &Task) -> bool {
    task.node.is_some()
        && !task.status.state.is_terminal()
        && task.desired_state <= TaskState::Running
}

/// All nodes, in node-id order, with an index from id to position, and the call's service
/// numbers.
#[derive(Debug, Clone)]
pub struct NodeSet<'a> {
    /// The nodes, sorted by id.
    pub nodes: Vec<NodeInfo<'a>>,
    /// Position of each node in `nodes`.
    pub index: FxHashMap<&'a str, usize>,
    /// Number of each service name seen so far.
    pub services: FxHashMap<&'a str, ServiceId>,
}

impl<'a> NodeSet<'a> {
    /// Builds the view of `nodes` with the `placed` tasks that [`occupies`] counts; tasks on
    /// unknown nodes are ignored, tasks of unknown services only count (their reservations and
    /// ports are unknown).
    pub fn build(
        nodes: &'a BTreeMap<String, Node>,
        services: &'a BTreeMap<String, Service>,
        placed: &[&'a Task],
    ) -> Self {
        let nodes: Vec<NodeInfo<'a>> = nodes.values().map(NodeInfo::new).collect();
        let index = nodes.iter().enumerate().map(|(i, n)| (n.id(), i)).collect();
        let mut set = NodeSet {
            nodes,
            index,
            services: FxHashMap::default(),
        };
        for task in placed.iter().filter(|t| occupies(t)) {
            let Some(i) = task.node.as_deref().and_then(|n| set.position(n)) else {
                continue;
            };
            let spec = services.get(&task.service).map(|s| &s.spec);
            let id = set.service_id(&task.service);
            set.nodes[i].occupy(id, spec);
        }
        set
    }

    /// The number of service `name`, given it now if it has none yet.
    pub fn service_id(&mut self, name: &'a str) -> ServiceId {
        // Past 2^32 services numbers would be shared (counts merged); no cluster gets there.
        let next = ServiceId::try_from(self.services.len()).unwrap_or(ServiceId::MAX);
        *self.services.entry(name).or_insert(next)
    }

    /// The number of service `name`, if it has one (it has tasks on some node, or was asked
    /// for with [`service_id`](Self::service_id)).
    pub fn find_service(&self, name: &str) -> Option<ServiceId> {
        self.services.get(name).copied()
    }

    /// The position of node `id`.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }
}

#[cfg(test)]
#[path = "node_info_test.rs"]
mod tests;
