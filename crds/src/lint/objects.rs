//! Top-level networks, volumes, configs and secrets, and services' references to networks.

use super::Context;
use crate::compose::{NetworkDef, ObjectDef, VolumeDef};
use crate::diagnostic::Diagnostic;
use crate::path;

pub(super) fn lint_objects(cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    lint_network_refs(cx, out);
    for (name, def) in &cx.file.networks {
        if let Some(def) = def {
            lint_external_network(cx, name, def, out);
        }
    }
    for (name, def) in &cx.file.volumes {
        if let Some(def) = def {
            lint_external_volume(cx, name, def, out);
        }
    }
    for (name, def) in &cx.file.configs {
        lint_object(cx, "configs", name, def, out);
    }
    for (name, def) in &cx.file.secrets {
        lint_object(cx, "secrets", name, def, out);
    }
}

fn lint_network_refs(cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    for (service, spec) in &cx.file.services {
        let Some(networks) = &spec.networks else {
            continue;
        };
        for (i, (network, _)) in networks.entries().into_iter().enumerate() {
            if network == "default" || cx.file.networks.contains_key(&network) {
                continue;
            }
            let at = match networks {
                crate::compose::ServiceNetworks::List(_) => {
                    cx.span(&path!["services", service.as_str(), "networks", i])
                }
                crate::compose::ServiceNetworks::Map(_) => cx.key_span(&path![
                    "services",
                    service.as_str(),
                    "networks",
                    network.as_str()
                ]),
            };
            out.push(
                Diagnostic::error("undefined-network", format!("network `{network}` is not declared under the top-level `networks`"))
                    .at(at)
                    .with_help(format!("add `{network}:` under the top-level `networks:` (with `external: true` if it already exists)")),
            );
        }
    }
}

fn conflict(cx: &Context<'_>, kind: &str, name: &str, keys: &[&str], out: &mut Vec<Diagnostic>) {
    if keys.is_empty() {
        return;
    }
    out.push(
        Diagnostic::error(
            "external-conflict",
            format!("external {kind} `{name}` cannot also set {}", keys.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")),
        )
        .at(cx.key_span(&path![format!("{kind}s"), name, keys[0]]))
        .with_help(format!("an external {kind} already exists and is not created by the stack; remove these keys or `external`")),
    );
}

fn lint_external_network(
    cx: &Context<'_>,
    name: &str,
    def: &NetworkDef,
    out: &mut Vec<Diagnostic>,
) {
    if !def.external.as_ref().is_some_and(|e| e.is_external()) {
        return;
    }
    let mut keys = Vec::new();
    if def.driver.is_some() {
        keys.push("driver");
    }
    if !def.driver_opts.is_empty() {
        keys.push("driver_opts");
    }
    if def.ipam.is_some() {
        keys.push("ipam");
    }
    if def.internal.is_some() {
        keys.push("internal");
    }
    conflict(cx, "network", name, &keys, out);
}

fn lint_external_volume(cx: &Context<'_>, name: &str, def: &VolumeDef, out: &mut Vec<Diagnostic>) {
    if !def.external.as_ref().is_some_and(|e| e.is_external()) {
        return;
    }
    let mut keys = Vec::new();
    if def.driver.is_some() {
        keys.push("driver");
    }
    if !def.driver_opts.is_empty() {
        keys.push("driver_opts");
    }
    conflict(cx, "volume", name, &keys, out);
}

fn lint_object(
    cx: &Context<'_>,
    kind: &str,
    name: &str,
    def: &ObjectDef,
    out: &mut Vec<Diagnostic>,
) {
    let singular = &kind[..kind.len() - 1];
    let external = def.external.as_ref().is_some_and(|e| e.is_external());
    let sources = [
        ("file", def.file.is_some()),
        ("external", external),
        ("environment", def.environment.is_some()),
        ("content", def.content.is_some()),
    ];
    let given: Vec<&str> = sources
        .iter()
        .filter(|(_, set)| *set)
        .map(|(k, _)| *k)
        .collect();
    let base = path![kind, name];
    if given.len() != 1 {
        let what = if given.is_empty() {
            "has no source".to_owned()
        } else {
            format!("sets more than one source ({})", given.join(", "))
        };
        out.push(
            Diagnostic::error("invalid-object", format!("{singular} `{name}` {what}"))
                .at(cx.key_span(&base))
                .with_help(format!(
                    "give exactly one of `file`, `external: true`, `environment`{}",
                    if kind == "configs" {
                        " or `content`"
                    } else {
                        ""
                    }
                )),
        );
    }
    if kind == "secrets" && def.content.is_some() {
        out.push(
            Diagnostic::error(
                "invalid-object",
                format!(
                    "secret `{name}` cannot use `content`; secrets must not live in the stack file"
                ),
            )
            .at(cx.key_span(&path![kind, name, "content"]))
            .with_help("use `file:` (kept out of Git) or `environment:`"),
        );
    }
    if let Some(file) = &def.file {
        let full = crate::load::resolve(cx.source.dir(), file);
        if !cx.files.exists(&full) {
            out.push(
                Diagnostic::error(
                    "missing-file",
                    format!("{singular} file `{}` does not exist", full.display()),
                )
                .at(cx.span(&path![kind, name, "file"]))
                .with_help("paths are relative to the stack file; commit the file or fix the path"),
            );
        }
    }
}
