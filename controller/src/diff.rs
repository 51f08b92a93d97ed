//! `diff(desired, applied) -> Plan`: what applying a revision changes, as three sets.
//!
//! Pure: it compares normalised specs (through their content hashes first, so an unchanged
//! service costs one string comparison) and returns a [`Plan`] value that can be printed,
//! applied to a state ([`apply`]) or flipped for a rollback ([`Plan::flip`]).

use std::collections::BTreeMap;

use crds::service::ServiceSpec;
use crds::stack::{NetworkSpec, ObjectSpec, Stack, VolumeSpec};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::desired::DesiredState;

/// The stacks the cluster has applied (the same shape as the desired state they came from).
pub type AppliedState = DesiredState;

/// A resource a plan adds, changes or removes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Resource {
    /// A service.
    Service(Box<ServiceSpec>),
    /// A network.
    Network(NetworkSpec),
    /// A named volume.
    Volume(VolumeSpec),
    /// A config.
    Config(ObjectSpec),
    /// A secret.
    Secret(ObjectSpec),
}

impl Resource {
    /// `service`, `network`, …
    pub fn kind(&self) -> &'static str {
        match self {
            Resource::Service(_) => "service",
            Resource::Network(_) => "network",
            Resource::Volume(_) => "volume",
            Resource::Config(_) => "config",
            Resource::Secret(_) => "secret",
        }
    }

    /// The resource's full name.
    pub fn name(&self) -> &str {
        match self {
            Resource::Service(s) => &s.name,
            Resource::Network(n) => &n.name,
            Resource::Volume(v) => &v.name,
            Resource::Config(o) | Resource::Secret(o) => &o.name,
        }
    }

    fn to_json(&self) -> Json {
        let inner = match self {
            Resource::Service(s) => serde_json::to_value(s),
            Resource::Network(n) => serde_json::to_value(n),
            Resource::Volume(v) => serde_json::to_value(v),
            Resource::Config(o) | Resource::Secret(o) => serde_json::to_value(o),
        };
        inner.unwrap_or(Json::Null)
    }
}

/// One changed field: a path into the spec (`ports[0].published`), old and new values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    /// Where in the spec.
    pub path: String,
    /// Before (`None`: absent).
    pub old: Option<Json>,
    /// After (`None`: absent).
    pub new: Option<Json>,
}

/// How a service change reaches its tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceChange {
    /// The task template changed: tasks are replaced by a rolling update.
    Update,
    /// Only the replica count changed.
    Scale,
    /// Only service-level settings changed (update policy, labels…): no task is touched.
    Settings,
}

/// A resource that exists on both sides with different specs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The stack it belongs to.
    pub stack: String,
    /// Applied spec.
    pub old: Resource,
    /// Desired spec.
    pub new: Resource,
    /// The fields that differ.
    pub fields: Vec<FieldChange>,
    /// For services, how the change reaches tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_change: Option<ServiceChange>,
}

/// A resource present on one side only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Presence {
    /// The stack it belongs to.
    pub stack: String,
    /// Its spec.
    pub resource: Resource,
}

/// What applying the desired state changes: three sets, plus the stacks that appear or go.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Plan {
    /// Stacks that do not exist yet.
    pub stacks_to_add: Vec<String>,
    /// Stacks that will be removed (pruned).
    pub stacks_to_remove: Vec<String>,
    /// Resources to create.
    pub to_add: Vec<Presence>,
    /// Resources to update.
    pub to_change: Vec<Change>,
    /// Resources to remove.
    pub to_remove: Vec<Presence>,
}

impl Plan {
    /// True when applying changes nothing.
    pub fn is_empty(&self) -> bool {
        self.to_add.is_empty()
            && self.to_change.is_empty()
            && self.to_remove.is_empty()
            && self.stacks_to_add.is_empty()
            && self.stacks_to_remove.is_empty()
    }

    /// The plan that undoes this one (for rollbacks).
    pub fn flip(&self) -> Plan {
        Plan {
            stacks_to_add: self.stacks_to_remove.clone(),
            stacks_to_remove: self.stacks_to_add.clone(),
            to_add: self.to_remove.clone(),
            to_remove: self.to_add.clone(),
            to_change: self
                .to_change
                .iter()
                .map(|c| Change {
                    stack: c.stack.clone(),
                    old: c.new.clone(),
                    new: c.old.clone(),
                    fields: c
                        .fields
                        .iter()
                        .map(|f| FieldChange {
                            path: f.path.clone(),
                            old: f.new.clone(),
                            new: f.old.clone(),
                        })
                        .collect(),
                    service_change: c.service_change,
                })
                .collect(),
        }
    }

    /// A plan that keeps removed stacks (for `--prune=false`): removals of whole stacks are dropped.
    pub fn without_stack_removals(mut self) -> Plan {
        let removed = std::mem::take(&mut self.stacks_to_remove);
        self.to_remove.retain(|p| !removed.contains(&p.stack));
        self
    }
}

/// Resources of a stack by (kind, name), for pairing both sides. Kinds sort in creation order:
/// what services use (networks, volumes, configs, secrets) before services.
fn resources(stack: &Stack) -> BTreeMap<(&'static str, String), Resource> {
    let mut out = BTreeMap::new();
    for s in stack.services.values() {
        out.insert(
            ("5-service", s.name.clone()),
            Resource::Service(Box::new(s.clone())),
        );
    }
    for n in stack.networks.values() {
        out.insert(("1-network", n.name.clone()), Resource::Network(n.clone()));
    }
    for v in stack.volumes.values() {
        out.insert(("2-volume", v.name.clone()), Resource::Volume(v.clone()));
    }
    for c in stack.configs.values() {
        out.insert(("3-config", c.name.clone()), Resource::Config(c.clone()));
    }
    for s in stack.secrets.values() {
        out.insert(("4-secret", s.name.clone()), Resource::Secret(s.clone()));
    }
    out
}

/// Compare the desired state with what is applied.
pub fn diff(desired: &DesiredState, applied: &AppliedState) -> Plan {
    let mut plan = Plan::default();
    for (name, want) in &desired.stacks {
        let have = applied.stacks.get(name);
        if have.is_none() {
            plan.stacks_to_add.push(name.clone());
        }
        diff_stack(name, want, have.unwrap_or(&Stack::empty(name)), &mut plan);
    }
    for (name, have) in &applied.stacks {
        if !desired.stacks.contains_key(name) {
            plan.stacks_to_remove.push(name.clone());
            diff_stack(name, &Stack::empty(name), have, &mut plan);
        }
    }
    plan
}

fn diff_stack(stack: &str, want: &Stack, have: &Stack, plan: &mut Plan) {
    let want = resources(want);
    let have = resources(have);
    for (key, new) in &want {
        match have.get(key) {
            None => plan.to_add.push(Presence {
                stack: stack.to_owned(),
                resource: new.clone(),
            }),
            Some(old) => {
                if let Some(change) = compare(stack, old, new) {
                    plan.to_change.push(change);
                }
            }
        }
    }
    // Removal runs in reverse creation order: services go before what they use.
    for (key, old) in have.iter().rev() {
        if !want.contains_key(key) {
            plan.to_remove.push(Presence {
                stack: stack.to_owned(),
                resource: old.clone(),
            });
        }
    }
}

fn compare(stack: &str, old: &Resource, new: &Resource) -> Option<Change> {
    let service_change = match (old, new) {
        (Resource::Service(a), Resource::Service(b)) => {
            // The hash is the cheap path: most services of most revisions are unchanged.
            if a.spec_hash() == b.spec_hash() {
                return None;
            }
            Some(if a.template_hash() != b.template_hash() {
                ServiceChange::Update
            } else if a.mode != b.mode {
                ServiceChange::Scale
            } else {
                ServiceChange::Settings
            })
        }
        _ if old == new => return None,
        _ => None,
    };
    let fields = field_changes(&old.to_json(), &new.to_json());
    if fields.is_empty() {
        return None;
    }
    Some(Change {
        stack: stack.to_owned(),
        old: old.clone(),
        new: new.clone(),
        fields,
        service_change,
    })
}

/// Leaf-by-leaf differences between two JSON values, with user-facing paths.
pub fn field_changes(old: &Json, new: &Json) -> Vec<FieldChange> {
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    flatten("", old, &mut a);
    flatten("", new, &mut b);
    let mut out = Vec::new();
    for (path, value) in &a {
        match b.get(path) {
            Some(v) if v == value => {}
            other => out.push(FieldChange {
                path: path.clone(),
                old: Some(value.clone()),
                new: other.cloned(),
            }),
        }
    }
    for (path, value) in &b {
        if !a.contains_key(path) {
            out.push(FieldChange {
                path: path.clone(),
                old: None,
                new: Some(value.clone()),
            });
        }
    }
    out.sort_by(|x, y| x.path.cmp(&y.path));
    out
}

fn flatten(prefix: &str, value: &Json, out: &mut BTreeMap<String, Json>) {
    match value {
        Json::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&path, v, out);
            }
        }
        Json::Array(items) if !items.is_empty() => {
            for (i, v) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), v, out);
            }
        }
        leaf => {
            out.insert(prefix.to_owned(), leaf.clone());
        }
    }
}

/// The state after applying `plan` to `applied` (pure: the orchestrators commit the same steps).
pub fn apply(plan: &Plan, applied: &AppliedState) -> AppliedState {
    let mut stacks = applied.stacks.clone();
    for name in &plan.stacks_to_add {
        stacks
            .entry(name.clone())
            .or_insert_with(|| Stack::empty(name));
    }
    for p in &plan.to_remove {
        if let Some(stack) = stacks.get_mut(&p.stack) {
            remove(stack, &p.resource);
        }
    }
    for p in plan
        .to_add
        .iter()
        .map(|p| (&p.stack, &p.resource))
        .chain(plan.to_change.iter().map(|c| (&c.stack, &c.new)))
    {
        let stack = stacks
            .entry(p.0.clone())
            .or_insert_with(|| Stack::empty(p.0));
        insert(stack, p.1);
    }
    for name in &plan.stacks_to_remove {
        stacks.remove(name);
    }
    DesiredState { stacks }
}

fn insert(stack: &mut Stack, r: &Resource) {
    match r {
        Resource::Service(s) => {
            stack.services.insert(s.name.clone(), (**s).clone());
        }
        Resource::Network(n) => {
            stack.networks.insert(n.name.clone(), n.clone());
        }
        Resource::Volume(v) => {
            stack.volumes.insert(v.name.clone(), v.clone());
        }
        Resource::Config(o) => {
            stack.configs.insert(o.name.clone(), o.clone());
        }
        Resource::Secret(o) => {
            stack.secrets.insert(o.name.clone(), o.clone());
        }
    }
}

fn remove(stack: &mut Stack, r: &Resource) {
    let name = r.name();
    match r {
        Resource::Service(_) => {
            stack.services.remove(name);
        }
        Resource::Network(_) => {
            stack.networks.remove(name);
        }
        Resource::Volume(_) => {
            stack.volumes.remove(name);
        }
        Resource::Config(_) => {
            stack.configs.remove(name);
        }
        Resource::Secret(_) => {
            stack.secrets.remove(name);
        }
    }
}

#[cfg(test)]
#[path = "diff_test.rs"]
mod tests;
