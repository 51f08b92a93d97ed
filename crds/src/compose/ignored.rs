//! Compose keys that are valid but that a cluster does not apply, and why.
//!
//! They are part of the schema (so they are not "unknown keys"), are dropped before the typed
//! model is built, and each use is reported: as a warning when Docker warns or silently ignores
//! the key, as an error when `docker stack deploy` refuses it.

use crate::diagnostic::Severity;

/// A service key that is parsed but not applied.
#[derive(Debug, Clone, Copy)]
pub struct IgnoredKey {
    /// The key under `services.<name>`.
    pub key: &'static str,
    /// Warning (ignored) or error (refused, as `docker stack deploy` does).
    pub severity: Severity,
    /// Why, and what to do instead.
    pub reason: &'static str,
}

const fn warn(key: &'static str, reason: &'static str) -> IgnoredKey {
    IgnoredKey {
        key,
        severity: Severity::Warning,
        reason,
    }
}

const fn refuse(key: &'static str, reason: &'static str) -> IgnoredKey {
    IgnoredKey {
        key,
        severity: Severity::Error,
        reason,
    }
}

const SWARM: &str = "`docker stack deploy` ignores it too";

/// Service keys a cluster ignores or refuses, by name.
pub const SERVICE_KEYS: &[IgnoredKey] = &[
    // Ignored by `docker stack deploy` (docker/cli UnsupportedProperties).
    warn("cap_add", SWARM),
    warn("cap_drop", SWARM),
    warn("cgroup_parent", SWARM),
    warn("devices", SWARM),
    warn("domainname", SWARM),
    warn("external_links", SWARM),
    warn("ipc", SWARM),
    warn(
        "links",
        "services on a shared network reach each other by service name; `docker stack deploy` ignores it too",
    ),
    warn("mac_address", SWARM),
    warn(
        "network_mode",
        "tasks attach to the stack's networks; `docker stack deploy` ignores it too",
    ),
    warn("pid", SWARM),
    warn(
        "privileged",
        "cluster tasks never run privileged; `docker stack deploy` ignores it too",
    ),
    warn(
        "restart",
        "use `deploy.restart_policy` instead; `docker stack deploy` ignores it too",
    ),
    warn("security_opt", SWARM),
    warn("shm_size", SWARM),
    warn("sysctls", SWARM),
    warn("ulimits", SWARM),
    warn("userns_mode", SWARM),
    // Deprecated in v3 (docker/cli DeprecatedProperties).
    warn(
        "container_name",
        "task containers are named `<stack>_<service>.<slot>.<task-id>`; setting the container name is not supported",
    ),
    warn(
        "expose",
        "exposing ports is unnecessary: services on the same network reach each other on any port",
    ),
    // Compose-only keys with no meaning for a cluster.
    warn(
        "profiles",
        "every service of a stack is deployed; profiles are a `docker compose` feature",
    ),
    warn(
        "pull_policy",
        "images are used when present on the node and pulled otherwise",
    ),
    warn("scale", "use `deploy.replicas` instead"),
    warn(
        "platform",
        "use a `node.platform.os`/`node.platform.arch` placement constraint instead",
    ),
    warn("init", "not applied by reconciler yet"),
    warn("tty", "not applied by reconciler yet"),
    warn("stdin_open", "not applied by reconciler yet"),
    warn("read_only", "not applied by reconciler yet"),
    warn("tmpfs", "use a `type: tmpfs` entry under `volumes` instead"),
    warn("dns", "not applied by reconciler yet"),
    warn("dns_search", "not applied by reconciler yet"),
    warn("dns_opt", "not applied by reconciler yet"),
    warn("group_add", "not applied by reconciler yet"),
    warn("isolation", "not applied by reconciler yet"),
    warn("runtime", "not applied by reconciler yet"),
    warn("storage_opt", "not applied by reconciler yet"),
    warn("oom_score_adj", "not applied by reconciler yet"),
    warn("oom_kill_disable", "not applied by reconciler yet"),
    warn("annotations", "not applied by reconciler yet"),
    warn(
        "develop",
        "`docker compose watch` settings have no effect on a cluster",
    ),
    warn(
        "attach",
        "a `docker compose` console setting; no effect on a cluster",
    ),
    warn("labels_file", "not applied by reconciler yet; use `labels`"),
    warn("pids_limit", "use `deploy.resources.limits.pids` instead"),
    warn("cpu_count", "use `deploy.resources` instead"),
    warn("cpu_percent", "use `deploy.resources` instead"),
    warn("cpu_period", "use `deploy.resources` instead"),
    warn("cpu_rt_period", "use `deploy.resources` instead"),
    warn("cpu_rt_runtime", "use `deploy.resources` instead"),
    warn("cpus", "use `deploy.resources.limits.cpus` instead"),
    warn(
        "mem_reservation",
        "use `deploy.resources.reservations.memory` instead",
    ),
    warn("mem_swappiness", "not applied by reconciler yet"),
    warn("blkio_config", "not applied by reconciler yet"),
    warn("device_cgroup_rules", "not applied by reconciler yet"),
    warn("gpus", "not applied by reconciler yet"),
    warn("credential_spec", "not applied by reconciler yet"),
    warn("use_api_socket", "not applied by reconciler yet"),
    warn("uts", "not applied by reconciler yet"),
    warn(
        "post_start",
        "lifecycle hooks are not applied by reconciler yet",
    ),
    warn(
        "pre_stop",
        "lifecycle hooks are not applied by reconciler yet",
    ),
    warn("models", "not applied by reconciler yet"),
    warn("provider", "not applied by reconciler yet"),
    // Refused by `docker stack deploy` (docker/cli ForbiddenProperties).
    refuse(
        "extends",
        "`extends` is not supported by stacks; merge services with YAML anchors (`<<: *defaults`) instead",
    ),
    refuse(
        "volume_driver",
        "define a volume with its driver under the top-level `volumes` and mount it by name",
    ),
    refuse(
        "volumes_from",
        "define a volume under the top-level `volumes` and mount it in each service that shares it",
    ),
    refuse(
        "cpu_quota",
        "set limits with `deploy.resources.limits.cpus`",
    ),
    refuse("cpu_shares", "set limits with `deploy.resources`"),
    refuse("cpuset", "set limits with `deploy.resources`"),
    refuse(
        "mem_limit",
        "set limits with `deploy.resources.limits.memory`",
    ),
    refuse(
        "memswap_limit",
        "set limits with `deploy.resources.limits.memory`",
    ),
];

/// The entry for `key`, if it is a known-but-unapplied service key.
pub fn service_key(key: &str) -> Option<&'static IgnoredKey> {
    SERVICE_KEYS.iter().find(|k| k.key == key)
}
