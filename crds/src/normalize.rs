//! Normalisation: a validated compose file → named, defaulted stack resources.
//!
//! Names follow `docker stack deploy`: services `<stack>_<service>`, networks, volumes, configs
//! and secrets `<stack>_<key>` unless `name:` or `external` says otherwise; services without
//! `networks:` join `<stack>_default`, which exists only when some service uses it.

use std::collections::BTreeMap;

use crate::compose::{self, ComposeFile, FileRef, ObjectDef, StringOrList, VolumeEntry};
use crate::interpolate::Variables;
use crate::load::{Files, Source};
use crate::service::{
    FileMount, HealthcheckSpec, LoggingSpec, Mount, NetworkAttachment, PlacementSpec,
    ResourcesSpec, RestartPolicySpec, ServiceMode, ServiceSpec, UpdateConfigSpec,
};
use crate::stack::{NetworkSpec, ObjectSpec, Stack, VolumeSpec};
use crate::units::Duration;

/// Inputs normalisation reads besides the file itself.
pub struct Inputs<'a> {
    /// The stack file.
    pub source: &'a Source,
    /// Variables (for `KEY` entries without a value and `environment:` objects).
    pub vars: &'a dyn Variables,
    /// Files beside the stack (env files, config and secret contents).
    pub files: &'a dyn Files,
}

/// Load and normalise stack `name` from its file text alone — no variables, no referenced
/// files — as fixtures, tests and benchmarks need it. `Err` carries the load's diagnostics when
/// the text is not a valid stack file.
pub fn from_text(name: &str, text: &str) -> Result<Stack, Vec<crate::diagnostic::Diagnostic>> {
    let vars = std::collections::BTreeMap::new();
    let loaded = crate::load::load(
        crate::load::Source {
            stack: name.to_owned(),
            path: format!("{name}.yml").into(),
            text: text.to_owned(),
        },
        &vars,
        &crate::load::NoFiles,
    );
    let Some(file) = loaded.file.as_ref().filter(|_| !loaded.has_errors()) else {
        return Err(loaded.diagnostics);
    };
    Ok(normalize(
        file,
        &Inputs {
            source: &loaded.source,
            vars: &vars,
            files: &crate::load::NoFiles,
        },
    ))
}

/// Turn a validated compose file into its stack resources.
pub fn normalize(file: &ComposeFile, inputs: &Inputs<'_>) -> Stack {
    let stack = inputs.source.stack.as_str();
    let names = Names::new(stack, file);
    let mut services = BTreeMap::new();
    let mut uses_default = false;
    for (short, service) in &file.services {
        let spec = normalize_service(short, service, file, &names, inputs);
        uses_default |= service.networks.is_none();
        services.insert(spec.name.clone(), spec);
    }
    let mut networks = normalize_networks(file, &names);
    if uses_default
        && !networks
            .values()
            .any(|n| n.name == format!("{stack}_default"))
    {
        let name = format!("{stack}_default");
        networks.insert(name.clone(), default_network(name));
    }
    Stack {
        name: stack.to_owned(),
        services,
        networks,
        volumes: normalize_volumes(file, &names),
        configs: normalize_objects(&file.configs, &names, "configs", inputs),
        secrets: normalize_objects(&file.secrets, &names, "secrets", inputs),
    }
}

/// Resolves keys of the file to full resource names.
struct Names<'a> {
    stack: &'a str,
    file: &'a ComposeFile,
}

impl<'a> Names<'a> {
    fn new(stack: &'a str, file: &'a ComposeFile) -> Self {
        Names { stack, file }
    }

    fn scoped(&self, key: &str) -> String {
        format!("{}_{key}", self.stack)
    }

    fn network(&self, key: &str) -> String {
        match self.file.networks.get(key).and_then(Option::as_ref) {
            Some(def) => external_name(key, def.name.as_deref(), def.external.as_ref())
                .unwrap_or_else(|| self.scoped(key)),
            None => self.scoped(key),
        }
    }

    fn volume(&self, key: &str) -> String {
        match self.file.volumes.get(key).and_then(Option::as_ref) {
            Some(def) => external_name(key, def.name.as_deref(), def.external.as_ref())
                .unwrap_or_else(|| self.scoped(key)),
            None => self.scoped(key),
        }
    }

    fn object(&self, kind: &str, key: &str) -> String {
        let defs = if kind == "configs" {
            &self.file.configs
        } else {
            &self.file.secrets
        };
        match defs.get(key) {
            Some(def) => external_name(key, def.name.as_deref(), def.external.as_ref())
                .unwrap_or_else(|| self.scoped(key)),
            None => self.scoped(key),
        }
    }
}

/// `name:` wins; an external object without one is called by its key; else stack-scoped (None).
fn external_name(
    key: &str,
    name: Option<&str>,
    external: Option<&compose::External>,
) -> Option<String> {
    if let Some(compose::External::Named { name }) = external {
        return Some(name.clone());
    }
    match (name, external.is_some_and(compose::External::is_external)) {
        (Some(n), _) => Some(n.to_owned()),
        (None, true) => Some(key.to_owned()),
        (None, false) => None,
    }
}

fn default_network(name: String) -> NetworkSpec {
    NetworkSpec {
        name,
        driver: None,
        external: false,
        attachable: false,
        internal: false,
        labels: BTreeMap::new(),
        driver_opts: BTreeMap::new(),
    }
}

fn labels_of(labels: Option<&compose::ListOrMap>) -> BTreeMap<String, String> {
    labels
        .map(|l| l.entries('='))
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or_default()))
        .collect()
}

/// `external: true` or the legacy `external: {name: …}`.
fn is_external(external: Option<&compose::External>) -> bool {
    external.is_some_and(compose::External::is_external)
}

fn opts_of(opts: &indexmap::IndexMap<String, compose::ScalarValue>) -> BTreeMap<String, String> {
    opts.iter().map(|(k, v)| (k.clone(), v.to_text())).collect()
}

fn normalize_networks(file: &ComposeFile, names: &Names<'_>) -> BTreeMap<String, NetworkSpec> {
    file.networks
        .iter()
        .map(|(key, def)| {
            let def = def.clone().unwrap_or_default();
            let name = names.network(key);
            let spec = NetworkSpec {
                name: name.clone(),
                driver: def.driver.clone(),
                external: is_external(def.external.as_ref()),
                attachable: def.attachable.unwrap_or(false),
                internal: def.internal.unwrap_or(false),
                labels: labels_of(def.labels.as_ref()),
                driver_opts: opts_of(&def.driver_opts),
            };
            (name, spec)
        })
        .collect()
}

fn normalize_volumes(file: &ComposeFile, names: &Names<'_>) -> BTreeMap<String, VolumeSpec> {
    file.volumes
        .iter()
        .map(|(key, def)| {
            let def = def.clone().unwrap_or_default();
            let name = names.volume(key);
            let spec = VolumeSpec {
                name: name.clone(),
                driver: def.driver.clone(),
                external: is_external(def.external.as_ref()),
                labels: labels_of(def.labels.as_ref()),
                driver_opts: opts_of(&def.driver_opts),
            };
            (name, spec)
        })
        .collect()
}

fn normalize_objects(
    defs: &indexmap::IndexMap<String, ObjectDef>,
    names: &Names<'_>,
    kind: &str,
    inputs: &Inputs<'_>,
) -> BTreeMap<String, ObjectSpec> {
    defs.iter()
        .map(|(key, def)| {
            let name = names.object(kind, key);
            let (content, origin) = object_content(def, inputs);
            let spec = ObjectSpec {
                name: name.clone(),
                external: is_external(def.external.as_ref()),
                content_hash: content
                    .map(|c| crate::service::hash_json(&serde_json::Value::String(c))),
                origin,
                labels: labels_of(def.labels.as_ref()),
            };
            (name, spec)
        })
        .collect()
}

fn object_content(def: &ObjectDef, inputs: &Inputs<'_>) -> (Option<String>, Option<String>) {
    if let Some(file) = &def.file {
        let path = crate::load::resolve(inputs.source.dir(), file);
        return (
            inputs.files.read(&path).ok(),
            Some(path.display().to_string()),
        );
    }
    if let Some(var) = &def.environment {
        return (inputs.vars.get(var), Some(format!("env:{var}")));
    }
    (
        def.content.clone(),
        def.content.as_ref().map(|_| "inline".to_owned()),
    )
}

fn normalize_service(
    short: &str,
    service: &compose::Service,
    file: &ComposeFile,
    names: &Names<'_>,
    inputs: &Inputs<'_>,
) -> ServiceSpec {
    let deploy = service.deploy.clone().unwrap_or_default();
    let mode = match deploy.mode.unwrap_or_default() {
        compose::DeployMode::Global => ServiceMode::Global,
        compose::DeployMode::Replicated => ServiceMode::Replicated {
            replicas: deploy.replicas.unwrap_or(1),
        },
    };
    let strategy = service
        .x_reconciler
        .as_ref()
        .and_then(|x| x.strategy)
        .or_else(|| file.x_reconciler.as_ref().and_then(|x| x.strategy));
    ServiceSpec {
        name: names.scoped(short),
        stack: names.stack.to_owned(),
        image: service.image.clone().unwrap_or_default(),
        command: service.command.as_ref().map(command_words),
        entrypoint: service.entrypoint.as_ref().map(command_words),
        env: environment(service, inputs),
        labels: labels_of(service.labels.as_ref()),
        service_labels: labels_of(deploy.labels.as_ref()),
        ports: ports(service),
        networks: networks(short, service, names),
        mounts: mounts(service, names),
        configs: file_mounts(&service.configs, "configs", names),
        secrets: file_mounts(&service.secrets, "secrets", names),
        healthcheck: healthcheck(service.healthcheck.as_ref()),
        user: service.user.clone(),
        working_dir: service.working_dir.clone(),
        hostname: service.hostname.clone(),
        stop_grace_period: service.stop_grace_period.unwrap_or(secs(10)),
        stop_signal: service.stop_signal.clone(),
        extra_hosts: extra_hosts(service.extra_hosts.as_ref()),
        logging: service.logging.as_ref().map(|l| LoggingSpec {
            driver: l.driver.clone(),
            options: l
                .options
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_ref()
                            .map(compose::ScalarValue::to_text)
                            .unwrap_or_default(),
                    )
                })
                .collect(),
        }),
        mode,
        placement: placement(deploy.placement.as_ref()),
        resources: resources(deploy.resources.as_ref()),
        restart_policy: restart_policy(deploy.restart_policy.as_ref()),
        update_config: update_config(deploy.update_config.as_ref()),
        rollback_config: update_config(deploy.rollback_config.as_ref()),
        endpoint_mode: deploy.endpoint_mode.unwrap_or_default(),
        strategy,
    }
}

fn secs(s: u64) -> Duration {
    Duration(std::time::Duration::from_secs(s))
}

fn command_words(c: &StringOrList) -> Vec<String> {
    match c {
        // Lint has already reported unbalanced quotes; keep the raw string as one word then.
        StringOrList::String(s) => {
            compose::split_shell_words(s).unwrap_or_else(|_| vec![s.clone()])
        }
        StringOrList::List(l) => l.clone(),
    }
}

/// `env_file` entries in order (later win), then `environment` (wins over files). A key with no
/// value takes the variable of the same name, and is dropped when that is unset too.
fn environment(service: &compose::Service, inputs: &Inputs<'_>) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    let mut set = |k: String, v: Option<String>| match v.or_else(|| inputs.vars.get(&k)) {
        Some(v) => {
            env.insert(k, v);
        }
        None => {
            env.remove(&k);
        }
    };
    for (path, _required, raw) in service
        .env_file
        .as_ref()
        .map(compose::EnvFiles::entries)
        .unwrap_or_default()
    {
        let Ok(text) = inputs
            .files
            .read(&crate::load::resolve(inputs.source.dir(), &path))
        else {
            continue;
        };
        let parsed = if raw {
            crate::dotenv::parse_raw(&text)
        } else {
            crate::dotenv::parse(&text, inputs.vars)
        };
        for entry in parsed.unwrap_or_default() {
            set(entry.name, entry.value);
        }
    }
    for (k, v) in service
        .environment
        .as_ref()
        .map(|e| e.entries('='))
        .unwrap_or_default()
    {
        set(k, v);
    }
    env
}

fn ports(service: &compose::Service) -> Vec<crate::port::PortConfig> {
    use crate::port::{PortConfig, PortMode, Protocol};
    let mut out = Vec::new();
    for entry in &service.ports {
        match entry {
            compose::PortEntry::Number(n) => out.push(PortConfig {
                target: u16::try_from(*n).unwrap_or_default(),
                published: None,
                protocol: Protocol::Tcp,
                mode: PortMode::Ingress,
                host_ip: None,
            }),
            compose::PortEntry::Short(spec) => {
                out.extend(crate::port::parse_short(spec).unwrap_or_default())
            }
            compose::PortEntry::Long(long) => out.push(PortConfig {
                target: u16::try_from(long.target).unwrap_or_default(),
                published: match &long.published {
                    Some(compose::PublishedPort::Number(n)) => u16::try_from(*n).ok(),
                    Some(compose::PublishedPort::Text(t)) => t.parse().ok(),
                    None => None,
                },
                protocol: long.protocol.unwrap_or_default(),
                mode: long.mode.unwrap_or_default(),
                host_ip: long.host_ip.as_deref().and_then(|ip| ip.parse().ok()),
            }),
        }
    }
    out
}

fn networks(short: &str, service: &compose::Service, names: &Names<'_>) -> Vec<NetworkAttachment> {
    let entries = match &service.networks {
        Some(n) => n.entries(),
        None => vec![("default".to_owned(), compose::ServiceNetwork::default())],
    };
    let mut out: Vec<(i64, NetworkAttachment)> = entries
        .into_iter()
        .map(|(key, settings)| {
            let mut aliases = vec![short.to_owned()];
            aliases.extend(settings.aliases.iter().filter(|a| *a != short).cloned());
            (
                settings.priority.unwrap_or(0),
                NetworkAttachment {
                    network: names.network(&key),
                    aliases,
                },
            )
        })
        .collect();
    // Higher priority attaches first; the sort is stable so file order breaks ties.
    out.sort_by_key(|(p, _)| std::cmp::Reverse(*p));
    out.into_iter().map(|(_, a)| a).collect()
}

fn mounts(service: &compose::Service, names: &Names<'_>) -> Vec<Mount> {
    service
        .volumes
        .iter()
        .filter_map(|entry| match entry {
            VolumeEntry::Short(spec) => compose::volume::parse_short(spec).ok().map(|v| Mount {
                kind: v.kind,
                source: v.source.map(|s| {
                    if v.kind == compose::MountKind::Volume {
                        names.volume(&s)
                    } else {
                        s
                    }
                }),
                target: v.target,
                read_only: v.read_only,
                options: v.options,
                tmpfs_size: None,
            }),
            VolumeEntry::Long(m) => Some(Mount {
                kind: m.kind,
                source: m.source.clone().map(|s| {
                    if m.kind == compose::MountKind::Volume {
                        names.volume(&s)
                    } else {
                        s
                    }
                }),
                target: m.target.clone(),
                read_only: m.read_only.unwrap_or(false),
                options: long_mount_options(m),
                tmpfs_size: m.tmpfs.as_ref().and_then(|t| t.size),
            }),
        })
        .collect()
}

fn long_mount_options(m: &compose::VolumeMount) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(b) = &m.bind {
        out.extend(b.propagation.clone());
        out.extend(b.selinux.clone());
    }
    if m.volume.as_ref().and_then(|v| v.nocopy) == Some(true) {
        out.push("nocopy".to_owned());
    }
    out
}

fn file_mounts(refs: &[FileRef], kind: &str, names: &Names<'_>) -> Vec<FileMount> {
    refs.iter()
        .map(|r| {
            let source = r.source();
            let default_target = if kind == "configs" {
                format!("/{source}")
            } else {
                format!("/run/secrets/{source}")
            };
            let default_mode = 0o444;
            match r {
                FileRef::Short(_) => FileMount {
                    name: names.object(kind, source),
                    target: default_target,
                    uid: "0".to_owned(),
                    gid: "0".to_owned(),
                    mode: default_mode,
                },
                FileRef::Long(l) => FileMount {
                    name: names.object(kind, source),
                    target: match &l.target {
                        Some(t) if kind == "secrets" && !t.starts_with('/') => {
                            format!("/run/secrets/{t}")
                        }
                        Some(t) => t.clone(),
                        None => default_target,
                    },
                    uid: l.uid.clone().unwrap_or_else(|| "0".to_owned()),
                    gid: l.gid.clone().unwrap_or_else(|| "0".to_owned()),
                    mode: l.mode.unwrap_or(default_mode),
                },
            }
        })
        .collect()
}

fn healthcheck(h: Option<&compose::Healthcheck>) -> Option<HealthcheckSpec> {
    let h = h?;
    let test = if h.disable == Some(true) {
        vec!["NONE".to_owned()]
    } else {
        match &h.test {
            Some(StringOrList::String(s)) => vec!["CMD-SHELL".to_owned(), s.clone()],
            Some(StringOrList::List(l)) => l.clone(),
            None => return None,
        }
    };
    Some(HealthcheckSpec {
        test,
        interval: h.interval.unwrap_or(secs(30)),
        timeout: h.timeout.unwrap_or(secs(30)),
        retries: h.retries.unwrap_or(3),
        start_period: h.start_period.unwrap_or(secs(0)),
        start_interval: h.start_interval.unwrap_or(secs(5)),
    })
}

fn extra_hosts(hosts: Option<&compose::ExtraHosts>) -> Vec<String> {
    match hosts {
        None => Vec::new(),
        Some(compose::ExtraHosts::List(l)) => l
            .iter()
            .map(|h| match h.split_once('=') {
                Some((host, ip)) => format!("{host}:{ip}"),
                None => h.clone(),
            })
            .collect(),
        Some(compose::ExtraHosts::Map(m)) => m
            .iter()
            .flat_map(|(host, ips)| {
                ips.items()
                    .into_iter()
                    .map(move |ip| format!("{host}:{ip}"))
            })
            .collect(),
    }
}

fn placement(p: Option<&compose::Placement>) -> PlacementSpec {
    let Some(p) = p else {
        return PlacementSpec::default();
    };
    PlacementSpec {
        constraints: p
            .constraints
            .iter()
            .map(|c| {
                crate::constraint::parse_constraint(&c.0)
                    .map_or_else(|_| c.0.clone(), |c| c.to_string())
            })
            .collect(),
        preferences: p
            .preferences
            .iter()
            .map(|s| s.spread.trim().to_owned())
            .collect(),
        max_replicas_per_node: p.max_replicas_per_node.unwrap_or(0),
    }
}

fn resources(r: Option<&compose::Resources>) -> ResourcesSpec {
    let limits = r.and_then(|r| r.limits.clone()).unwrap_or_default();
    let reservations = r.and_then(|r| r.reservations.clone()).unwrap_or_default();
    ResourcesSpec {
        limit_cpus: limits.cpus.unwrap_or_default(),
        limit_memory: limits.memory.unwrap_or_default(),
        limit_pids: limits.pids.unwrap_or(0),
        reserve_cpus: reservations.cpus.unwrap_or_default(),
        reserve_memory: reservations.memory.unwrap_or_default(),
    }
}

fn restart_policy(r: Option<&compose::RestartPolicy>) -> RestartPolicySpec {
    let r = r.cloned().unwrap_or_default();
    RestartPolicySpec {
        condition: r.condition.unwrap_or_default(),
        delay: r.delay.unwrap_or(secs(5)),
        max_attempts: r.max_attempts.unwrap_or(0),
        window: r.window.unwrap_or(secs(0)),
    }
}

fn update_config(u: Option<&compose::UpdateConfig>) -> UpdateConfigSpec {
    let u = u.cloned().unwrap_or_default();
    UpdateConfigSpec {
        parallelism: u.parallelism.unwrap_or(1),
        delay: u.delay.unwrap_or(secs(0)),
        failure_action: u.failure_action.unwrap_or_default(),
        monitor: u.monitor.unwrap_or(secs(5)),
        max_failure_ratio: u.max_failure_ratio.unwrap_or(0.0),
        order: u.order.unwrap_or_default(),
    }
}
