//! Rules on one service: image, keys clusters ignore, ports, mounts, deploy, healthcheck, env files.

use super::Context;
use crate::compose::ignored;
use crate::compose::volume::{self, ShortVolume};
use crate::compose::{
    DeployMode, FileRef, MountKind, PortEntry, PublishedPort, Service, StringOrList, VolumeEntry,
};
use crate::diagnostic::Diagnostic;
use crate::path;
use crate::yaml::PathSeg;

pub(super) fn lint_service(
    cx: &Context<'_>,
    name: &str,
    service: &Service,
    out: &mut Vec<Diagnostic>,
) {
    let base = path!["services", name];
    lint_image(cx, name, service, &base, out);
    lint_ignored_keys(cx, &base, out);
    lint_depends_on(cx, service, &base, out);
    lint_ports(cx, service, &base, out);
    lint_mounts(cx, service, &base, out);
    lint_file_refs(cx, "configs", &service.configs, &base, out);
    lint_file_refs(cx, "secrets", &service.secrets, &base, out);
    lint_deploy(cx, service, &base, out);
    lint_healthcheck(cx, service, &base, out);
    lint_env_files(cx, service, &base, out);
}

fn with(base: &[PathSeg], more: impl IntoIterator<Item = PathSeg>) -> Vec<PathSeg> {
    base.iter().cloned().chain(more).collect()
}

fn lint_image(
    cx: &Context<'_>,
    name: &str,
    service: &Service,
    base: &[PathSeg],
    out: &mut Vec<Diagnostic>,
) {
    match service.image.as_deref() {
        None | Some("") if service.build.is_some() => out.push(
            Diagnostic::error(
                "build-unsupported",
                format!(
                    "service `{name}` has `build` but no `image`; clusters cannot build images"
                ),
            )
            .at(cx.key_span(&with(base, path!["build"])))
            .with_help("build and push the image in CI, then set `image:` to its reference"),
        ),
        None => out.push(
            Diagnostic::error("no-image", format!("service `{name}` has no `image`"))
                .at(cx.key_span(base))
                .with_help("set `image:` to the image the service runs, e.g. `image: nginx:1.27`"),
        ),
        Some(image) => {
            if service.build.is_some() {
                out.push(
                    Diagnostic::warning(
                        "ignored-key",
                        "`build` is ignored: clusters run the `image`",
                    )
                    .at(cx.key_span(&with(base, path!["build"])))
                    .with_help("build and push the image in CI; the cluster pulls it by reference"),
                );
            }
            if let Err(why) = check_image_reference(image) {
                out.push(
                    Diagnostic::error("invalid-image", format!("invalid image reference `{image}`: {why}"))
                        .at(cx.span(&with(base, path!["image"])))
                        .with_help("references look like `name[:tag][@digest]`, e.g. `registry.example.com/team/app:1.2`"),
                );
            }
        }
    }
}

/// Why an image reference is malformed; the message completes "invalid image reference `x`: ".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// `image: ""`.
    #[error("it is empty")]
    Empty,
    /// A space, tab or newline anywhere, e.g. `nginx latest`.
    #[error("it contains whitespace")]
    Whitespace,
    /// An uppercase letter in the repository path (a registry host may have them).
    #[error("repository names must be lowercase")]
    Uppercase,
    /// An empty repository, or one that starts or ends with a separator, e.g. `app/`.
    #[error("the repository name is malformed")]
    MalformedRepository,
}

/// The checks Docker applies to an image reference that are cheap to do without a registry.
pub fn check_image_reference(image: &str) -> Result<(), ImageError> {
    if image.is_empty() {
        return Err(ImageError::Empty);
    }
    if image.chars().any(char::is_whitespace) {
        return Err(ImageError::Whitespace);
    }
    let without_digest = image.split('@').next().unwrap_or(image);
    let last_slash = without_digest.rfind('/').map_or(0, |i| i + 1);
    let name_part = match without_digest[last_slash..].find(':') {
        Some(i) => &without_digest[..last_slash + i],
        None => without_digest,
    };
    // The first component may be a registry host (which may hold a port and uppercase).
    let repo = match name_part.split_once('/') {
        Some((host, rest)) if host.contains(['.', ':']) || host == "localhost" => rest,
        _ => name_part,
    };
    if repo.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(ImageError::Uppercase);
    }
    if repo.is_empty() || repo.starts_with(['.', '-', '_']) || repo.ends_with(['/', '.', '-', '_'])
    {
        return Err(ImageError::MalformedRepository);
    }
    Ok(())
}

fn lint_ignored_keys(cx: &Context<'_>, base: &[PathSeg], out: &mut Vec<Diagnostic>) {
    let Some(map) = cx.tree.at(base).and_then(|n| n.as_map()) else {
        return;
    };
    for (key, _) in map.iter() {
        if let Some(ignored) = ignored::service_key(&key.text) {
            let verb = if ignored.severity == crate::diagnostic::Severity::Error {
                "is not supported"
            } else {
                "is ignored"
            };
            let mut d = Diagnostic::error(
                "ignored-key",
                format!("`{}` {verb} by reconciler", key.text),
            )
            .at(key.span)
            .with_help(ignored.reason);
            d.severity = ignored.severity;
            out.push(d);
        }
    }
}

fn lint_depends_on(
    cx: &Context<'_>,
    service: &Service,
    base: &[PathSeg],
    out: &mut Vec<Diagnostic>,
) {
    let Some(deps) = &service.depends_on else {
        return;
    };
    out.push(
        Diagnostic::warning("depends-on-ignored", "`depends_on` is not enforced: tasks of all services start independently")
            .at(cx.key_span(&with(base, path!["depends_on"])))
            .with_help("make services retry their dependencies; conditions such as `service_healthy` are parsed but not waited for"),
    );
    for dep in deps.services() {
        if cx.tree.at(&path!["services", dep]).is_none() {
            out.push(
                Diagnostic::error(
                    "undefined-reference",
                    format!("`depends_on` names `{dep}`, which is not a service of this stack"),
                )
                .at(cx.span(&with(base, path!["depends_on"])))
                .with_help("remove it or fix the service name"),
            );
        }
    }
}

fn port_error(cx: &Context<'_>, at: &[PathSeg], message: String) -> Diagnostic {
    Diagnostic::error("invalid-port", message)
        .at(cx.span(at))
        .with_help("ports are numbers from 1 to 65535")
}

fn lint_ports(cx: &Context<'_>, service: &Service, base: &[PathSeg], out: &mut Vec<Diagnostic>) {
    for (i, port) in service.ports.iter().enumerate() {
        let at = with(base, path!["ports", i]);
        match port {
            PortEntry::Number(n) if *n == 0 || *n > 65535 => {
                out.push(port_error(cx, &at, format!("port {n} is out of range")));
            }
            PortEntry::Long(long) => {
                if long.target == 0 || long.target > 65535 {
                    out.push(port_error(
                        cx,
                        &with(&at, path!["target"]),
                        format!("target port {} is out of range", long.target),
                    ));
                }
                let published = match &long.published {
                    Some(PublishedPort::Number(n)) => Some(u64::from(*n)),
                    Some(PublishedPort::Text(t)) => t.parse::<u64>().ok(),
                    None => None,
                };
                if let Some(p) = published.filter(|p| *p == 0 || *p > 65535) {
                    out.push(port_error(
                        cx,
                        &with(&at, path!["published"]),
                        format!("published port {p} is out of range"),
                    ));
                }
            }
            _ => {}
        }
    }
}

/// Host paths whose bind mount hands a task control of the node (or of its engine).
const HOST_CONTROL_PATHS: &[&str] = &[
    "/",
    "/etc",
    "/root",
    "/boot",
    "/dev",
    "/proc",
    "/sys",
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/var/lib/docker",
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/run/containerd/containerd.sock",
    "/var/run/containerd/containerd.sock",
];

/// Whether `source` is one of [`HOST_CONTROL_PATHS`] (trailing slashes and `.` segments
/// ignored).
fn controls_host(source: &str) -> Option<&'static str> {
    let parts: Vec<&str> = (source.split('/'))
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let normalised = format!("/{}", parts.join("/"));
    HOST_CONTROL_PATHS
        .iter()
        .copied()
        .find(|p| *p == normalised)
}

fn lint_mounts(cx: &Context<'_>, service: &Service, base: &[PathSeg], out: &mut Vec<Diagnostic>) {
    let acknowledged = (service.x_reconciler.as_ref()).is_some_and(|x| x.controls_node);
    for (i, entry) in service.volumes.iter().enumerate() {
        let at = with(base, path!["volumes", i]);
        let (kind, source, source_at, read_only) = match entry {
            VolumeEntry::Short(spec) => match volume::parse_short(spec) {
                Ok(ShortVolume {
                    kind,
                    source,
                    read_only,
                    ..
                }) => (kind, source, at.clone(), read_only),
                Err(_) => continue,
            },
            VolumeEntry::Long(m) => (
                m.kind,
                m.source.clone(),
                with(&at, path!["source"]),
                m.read_only.unwrap_or(false),
            ),
        };
        let Some(source) = source else { continue };
        match kind {
            MountKind::Volume if !cx.file.volumes.contains_key(&source) => out.push(
                Diagnostic::error("undefined-volume", format!("volume `{source}` is not declared under the top-level `volumes`"))
                    .at(cx.span(&source_at))
                    .with_help(format!("add `{source}:` under the top-level `volumes:`, or use a path (`./{source}`) for a bind mount")),
            ),
            MountKind::Bind if !source.starts_with('/') => out.push(
                Diagnostic::warning("relative-bind", format!("bind mount source `{source}` is relative"))
                    .at(cx.span(&source_at))
                    .with_help("it is resolved on each node that runs the task and must exist there; prefer an absolute path or a named volume"),
            ),
            MountKind::Bind if !acknowledged => {
                if let Some(path) = controls_host(&source) {
                    out.push(host_control_warning(cx, &source_at, path, read_only));
                }
            }
            _ => {}
        }
    }
}

fn host_control_warning(
    cx: &Context<'_>,
    at: &[PathSeg],
    path: &str,
    read_only: bool,
) -> Diagnostic {
    let socket = path.ends_with(".sock");
    let how = match (socket, read_only) {
        (true, _) => {
            "the engine's API socket: read-only or not, whoever reaches it runs any container as root, so this task can take over every node it is placed on"
        }
        (false, false) => "read-write: this task can take over every node it is placed on",
        (false, true) => "read-only: this task can read the secrets of every node it is placed on",
    };
    Diagnostic::warning(
        "host-control-bind",
        format!("bind mount of the host's `{path}`, {how}"),
    )
    .at(cx.span(at))
    .with_help("if the service is meant to control its node (an agent, a log shipper), say so with `x-reconciler: {controls_node: true}`; otherwise mount less, and read-only (`:ro`)")
}

fn lint_file_refs(
    cx: &Context<'_>,
    kind: &str,
    refs: &[FileRef],
    base: &[PathSeg],
    out: &mut Vec<Diagnostic>,
) {
    let declared = if kind == "configs" {
        &cx.file.configs
    } else {
        &cx.file.secrets
    };
    let rule = if kind == "configs" {
        "undefined-config"
    } else {
        "undefined-secret"
    };
    let singular = &kind[..kind.len() - 1];
    for (i, r) in refs.iter().enumerate() {
        if declared.contains_key(r.source()) {
            continue;
        }
        let at = match r {
            FileRef::Short(_) => with(base, path![kind, i]),
            FileRef::Long(_) => with(base, path![kind, i, "source"]),
        };
        out.push(
            Diagnostic::error(
                rule,
                format!(
                    "{singular} `{}` is not declared under the top-level `{kind}`",
                    r.source()
                ),
            )
            .at(cx.span(&at))
            .with_help(format!(
                "declare it: `{kind}: {{ {}: {{ file: ./{} }} }}` or mark it `external: true`",
                r.source(),
                r.source()
            )),
        );
    }
}

fn lint_deploy(cx: &Context<'_>, service: &Service, base: &[PathSeg], out: &mut Vec<Diagnostic>) {
    let Some(deploy) = &service.deploy else {
        return;
    };
    let at = with(base, path!["deploy"]);
    if deploy.mode == Some(DeployMode::Global) && deploy.replicas.is_some() {
        out.push(
            Diagnostic::error("replicas-with-global", "`replicas` cannot be set on a global service")
                .at(cx.key_span(&with(&at, path!["replicas"])))
                .with_help("global services run one task per eligible node; remove `replicas` or use `mode: replicated`"),
        );
    }
    let Some(resources) = &deploy.resources else {
        return;
    };
    let (Some(limits), Some(reservations)) = (&resources.limits, &resources.reservations) else {
        return;
    };
    let res_at = with(&at, path!["resources", "reservations"]);
    if let (Some(limit), Some(reserved)) = (limits.cpus, reservations.cpus)
        && limit.0 > 0
        && reserved.0 > limit.0
    {
        out.push(
            Diagnostic::error(
                "reservation-above-limit",
                format!("CPU reservation {reserved} is above the CPU limit {limit}"),
            )
            .at(cx.span(&with(&res_at, path!["cpus"])))
            .with_help(
                "a task can never use what it reserves; lower the reservation or raise the limit",
            ),
        );
    }
    if let (Some(limit), Some(reserved)) = (limits.memory, reservations.memory)
        && limit.0 > 0
        && reserved.0 > limit.0
    {
        out.push(
            Diagnostic::error(
                "reservation-above-limit",
                format!("memory reservation {reserved} is above the memory limit {limit}"),
            )
            .at(cx.span(&with(&res_at, path!["memory"])))
            .with_help(
                "a task can never use what it reserves; lower the reservation or raise the limit",
            ),
        );
    }
}

fn lint_healthcheck(
    cx: &Context<'_>,
    service: &Service,
    base: &[PathSeg],
    out: &mut Vec<Diagnostic>,
) {
    let Some(StringOrList::List(test)) = service.healthcheck.as_ref().and_then(|h| h.test.as_ref())
    else {
        return;
    };
    let first = test.first().map(String::as_str);
    let valid = match first {
        Some("NONE") => test.len() == 1,
        Some("CMD") | Some("CMD-SHELL") => test.len() > 1,
        _ => false,
    };
    if !valid {
        out.push(
            Diagnostic::error("invalid-healthcheck", "a healthcheck `test` list must be `[\"NONE\"]`, or start with `CMD` or `CMD-SHELL` followed by the command")
                .at(cx.span(&with(base, path!["healthcheck", "test"])))
                .with_help("e.g. `test: [\"CMD\", \"/probe\", \"--ready\"]` or `test: [\"CMD-SHELL\", \"curl -f http://localhost/\"]`"),
        );
    }
}

fn lint_env_files(
    cx: &Context<'_>,
    service: &Service,
    base: &[PathSeg],
    out: &mut Vec<Diagnostic>,
) {
    let Some(env_files) = &service.env_file else {
        return;
    };
    let at = cx.span(&with(base, path!["env_file"]));
    for (path, required, raw) in env_files.entries() {
        let full = crate::load::resolve(cx.source.dir(), &path);
        match cx.files.read(&full) {
            Ok(text) => {
                let parsed = if raw {
                    crate::dotenv::parse_raw(&text)
                } else {
                    crate::dotenv::parse(&text, cx.vars)
                };
                if let Err(e) = parsed {
                    out.push(
                        Diagnostic::error(
                            "invalid-env-file",
                            format!("invalid env_file `{}`: {e}", full.display()),
                        )
                        .at(at)
                        .with_help(
                            "env files hold `NAME=value` lines; quote values with spaces or `#`",
                        ),
                    );
                }
            }
            Err(_) if !required => {}
            Err(_) => out.push(
                Diagnostic::error(
                    "missing-file",
                    format!("env_file `{}` does not exist", full.display()),
                )
                .at(at)
                .with_help("commit the file beside the stack, or mark the entry `required: false`"),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references() {
        for ok in [
            "nginx",
            "nginx:1.27",
            "library/nginx",
            "Registry.EXAMPLE.com:5000/team/app:V1",
            "localhost/app",
            "app@sha256:abc",
            "reconciler-test/echo:1",
        ] {
            assert_eq!(check_image_reference(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("", ImageError::Empty),
            ("nginx latest", ImageError::Whitespace),
            ("MyApp", ImageError::Uppercase),
            ("team/MyApp:1", ImageError::Uppercase),
            ("app/", ImageError::MalformedRepository),
        ] {
            assert_eq!(check_image_reference(bad), Err(why), "{bad}");
        }
    }
}
