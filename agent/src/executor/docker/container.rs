//! A task's spec → the engine's container-create request (pure).
//!
//! What maps to what:
//! - image, command, entrypoint, env, user, working_dir, hostname, extra_hosts → the same fields;
//!   an empty `entrypoint: []` resets the image's entrypoint (`[""]` in the Engine API).
//! - labels → the spec's labels plus reconciler's ([`super::labels`]).
//! - ports (host *and* ingress mode) → `host_ip:published:target/proto` bindings on the node's
//!   publish address; there is no routing mesh yet, so an ingress port is only open on nodes
//!   that run a task of the service.
//! - mounts → named and anonymous volumes and tmpfs as `Mounts`, bind mounts as `Binds`
//!   (`src:dst[:ro,z,rshared…]`, which also creates a missing host directory as Compose does).
//! - resources → `NanoCpus`, `Memory`, `PidsLimit` (0 = no limit).
//! - healthcheck → `Healthcheck` (`["NONE"]` disables the image's); stop_signal and
//!   stop_grace_period → `StopSignal`, `StopTimeout`; logging → `LogConfig`.
//! - networks → the first attachment at create time, the others connected before start
//!   (engines before API 1.44 accept one network per create); aliases include the service's
//!   short name.
//! - No restart policy: a restart is a new task, decided by the manager.

use std::collections::HashMap;
use std::net::IpAddr;

use bollard::models::{
    ContainerCreateBody, EndpointSettings, HealthConfig, HostConfig, HostConfigLogConfig, Mount,
    MountTmpfsOptions, MountType, MountVolumeOptions, NetworkingConfig, PortBinding,
};
use crds::compose::MountKind;
use crds::service::{HealthcheckSpec, ServiceSpec};
use crds::task::Task;

use super::labels;

/// What the container needs to know about the node it runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeContext<'a> {
    /// The node's id (labels, global container names).
    pub node_id: &'a str,
    /// Address published ports bind to; all addresses when `None`.
    pub publish_ip: Option<IpAddr>,
}

/// A network the container joins: the engine's network id (or name) and the DNS aliases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Network id or name.
    pub network: String,
    /// DNS aliases of the container on it.
    pub aliases: Vec<String>,
}

/// Everything needed to create a task's container.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerPlan {
    /// Container name.
    pub name: String,
    /// The create request (with the first network).
    pub body: ContainerCreateBody,
    /// Networks to connect after creation, before the start.
    pub connect: Vec<(String, EndpointSettings)>,
}

/// Translates `task` of `spec` on `node`, joining `networks` in order.
pub fn plan_container(
    task: &Task,
    spec: &ServiceSpec,
    node: &NodeContext<'_>,
    networks: &[Attachment],
) -> ContainerPlan {
    let (first, rest) = match networks.split_first() {
        Some((first, rest)) => (Some(first), rest),
        None => (None, &[][..]),
    };
    let body = ContainerCreateBody {
        image: Some(spec.image.clone()),
        cmd: spec.command.clone(),
        entrypoint: spec.entrypoint.clone().map(reset_if_empty),
        env: non_empty(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        labels: Some(labels::container_labels(task, spec, node.node_id)),
        user: spec.user.clone(),
        working_dir: spec.working_dir.clone(),
        hostname: spec.hostname.clone(),
        exposed_ports: non_empty(spec.ports.iter().map(port_key).collect()),
        healthcheck: spec.healthcheck.as_ref().map(health_config),
        stop_signal: spec.stop_signal.clone(),
        stop_timeout: Some(whole_seconds(spec.stop_grace_period.0)),
        host_config: Some(host_config(spec, node, first)),
        networking_config: first.map(|a| NetworkingConfig {
            endpoints_config: Some(HashMap::from([(a.network.clone(), endpoint(a))])),
        }),
        ..ContainerCreateBody::default()
    };
    ContainerPlan {
        name: labels::container_name(task, spec, node.node_id),
        body,
        connect: rest
            .iter()
            .map(|a| (a.network.clone(), endpoint(a)))
            .collect(),
    }
}

/// The endpoint settings of one attachment.
pub fn endpoint(attachment: &Attachment) -> EndpointSettings {
    EndpointSettings {
        aliases: non_empty(attachment.aliases.clone()),
        ..EndpointSettings::default()
    }
}

fn host_config(
    spec: &ServiceSpec,
    node: &NodeContext<'_>,
    network: Option<&Attachment>,
) -> HostConfig {
    let resources = &spec.resources;
    HostConfig {
        nano_cpus: positive(resources.limit_cpus.0),
        memory: positive(resources.limit_memory.0),
        pids_limit: (resources.limit_pids > 0).then_some(resources.limit_pids),
        port_bindings: non_empty_map(port_bindings(spec, node.publish_ip)),
        binds: non_empty(spec.mounts.iter().filter_map(bind).collect()),
        mounts: non_empty(spec.mounts.iter().filter_map(mount).collect()),
        extra_hosts: non_empty(spec.extra_hosts.clone()),
        log_config: spec.logging.as_ref().map(|l| HostConfigLogConfig {
            typ: l.driver.clone(),
            config: non_empty_map(l.options.clone().into_iter().collect()),
        }),
        network_mode: network.map(|a| a.network.clone()),
        ..HostConfig::default()
    }
}

/// `"80/tcp"`: the key of a port in `ExposedPorts` and `PortBindings`.
fn port_key(port: &crds::port::PortConfig) -> String {
    format!("{}/{}", port.target, port.protocol)
}

fn port_bindings(
    spec: &ServiceSpec,
    publish_ip: Option<IpAddr>,
) -> HashMap<String, Option<Vec<PortBinding>>> {
    let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for port in &spec.ports {
        let binding = PortBinding {
            host_ip: publish_ip.or(port.host_ip).map(|ip| ip.to_string()),
            // An empty host port lets the engine pick one, as an unpublished port in Swarm.
            host_port: Some(port.published.map(|p| p.to_string()).unwrap_or_default()),
        };
        bindings
            .entry(port_key(port))
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(binding);
    }
    bindings
}

fn bind(mount: &crds::service::Mount) -> Option<String> {
    if mount.kind != MountKind::Bind {
        return None;
    }
    let source = mount.source.as_ref()?;
    let mut options: Vec<&str> = Vec::new();
    if mount.read_only {
        options.push("ro");
    }
    options.extend(mount.options.iter().map(String::as_str));
    Some(if options.is_empty() {
        format!("{source}:{}", mount.target)
    } else {
        format!("{source}:{}:{}", mount.target, options.join(","))
    })
}

fn mount(mount: &crds::service::Mount) -> Option<Mount> {
    let base = Mount {
        target: Some(mount.target.clone()),
        read_only: mount.read_only.then_some(true),
        ..Mount::default()
    };
    match mount.kind {
        MountKind::Bind => None,
        MountKind::Volume => Some(Mount {
            typ: Some(MountType::VOLUME),
            source: mount.source.clone(),
            volume_options: mount.options.iter().any(|o| o == "nocopy").then(|| {
                MountVolumeOptions {
                    no_copy: Some(true),
                    ..MountVolumeOptions::default()
                }
            }),
            ..base
        }),
        MountKind::Tmpfs => Some(Mount {
            typ: Some(MountType::TMPFS),
            tmpfs_options: mount.tmpfs_size.map(|size| MountTmpfsOptions {
                size_bytes: Some(i64::try_from(size.0).unwrap_or(i64::MAX)),
                ..MountTmpfsOptions::default()
            }),
            ..base
        }),
    }
}

fn health_config(check: &HealthcheckSpec) -> HealthConfig {
    if check.test.first().map(String::as_str) == Some("NONE") {
        return HealthConfig {
            test: Some(vec!["NONE".to_owned()]),
            ..HealthConfig::default()
        };
    }
    let nanos = |d: &crds::units::Duration| positive_nanos(d.0);
    HealthConfig {
        test: Some(check.test.clone()),
        interval: nanos(&check.interval),
        timeout: nanos(&check.timeout),
        retries: i64::try_from(check.retries).ok().filter(|r| *r > 0),
        start_period: nanos(&check.start_period),
        start_interval: nanos(&check.start_interval),
    }
}

/// `entrypoint: []` means "no entrypoint", which the Engine API spells `[""]`.
fn reset_if_empty(entrypoint: Vec<String>) -> Vec<String> {
    if entrypoint.is_empty() {
        vec![String::new()]
    } else {
        entrypoint
    }
}

/// Seconds, rounded up so a sub-second grace period is not "kill at once".
fn whole_seconds(d: std::time::Duration) -> i64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i64::try_from(secs).unwrap_or(i64::MAX)
}

fn positive_nanos(d: std::time::Duration) -> Option<i64> {
    i64::try_from(d.as_nanos()).ok().filter(|n| *n > 0)
}

fn positive(n: u64) -> Option<i64> {
    i64::try_from(n).ok().filter(|n| *n > 0)
}

fn non_empty<T>(items: Vec<T>) -> Option<Vec<T>> {
    (!items.is_empty()).then_some(items)
}

fn non_empty_map<K, V>(map: HashMap<K, V>) -> Option<HashMap<K, V>> {
    (!map.is_empty()).then_some(map)
}

#[cfg(test)]
#[path = "container_test.rs"]
mod tests;
