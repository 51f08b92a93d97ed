//! Rules that need every stack linted together: published ingress ports and stack names.

use std::collections::HashMap;

use crate::compose::{PortEntry, PublishedPort, Service};
use crate::diagnostic::{Diagnostic, Span};
use crate::load::Loaded;
use crate::path;
use crate::port::{PortMode, Protocol};

/// One published ingress port of a service, with where it is written.
#[derive(Debug, Clone)]
struct Published {
    port: u16,
    protocol: Protocol,
    stack_index: usize,
    service: String,
    span: Span,
}

/// Published ingress ports of a service: `(port, protocol, index into ports)`.
pub fn ingress_ports(service: &Service) -> Vec<(u16, Protocol, usize)> {
    let mut out = Vec::new();
    for (i, entry) in service.ports.iter().enumerate() {
        match entry {
            PortEntry::Number(_) => {}
            PortEntry::Short(spec) => {
                for p in crate::port::parse_short(spec).unwrap_or_default() {
                    if let (Some(published), PortMode::Ingress) = (p.published, p.mode) {
                        out.push((published, p.protocol, i));
                    }
                }
            }
            PortEntry::Long(long) => {
                if long.mode.unwrap_or_default() != PortMode::Ingress {
                    continue;
                }
                let published = match &long.published {
                    Some(PublishedPort::Number(n)) => u16::try_from(*n).ok(),
                    Some(PublishedPort::Text(t)) => t.parse().ok(),
                    None => None,
                };
                if let Some(p) = published {
                    out.push((p, long.protocol.unwrap_or_default(), i));
                }
            }
        }
    }
    out
}

/// Findings across stacks; each is attached to the file it points into.
pub fn lint_stacks(stacks: &[Loaded]) -> Vec<Diagnostic> {
    let mut out = duplicate_stacks(stacks);
    let mut seen: HashMap<(u16, Protocol), Published> = HashMap::new();
    for (stack_index, loaded) in stacks.iter().enumerate() {
        let (Some(file), Some(tree)) = (&loaded.file, &loaded.tree) else {
            continue;
        };
        for (name, service) in &file.services {
            for (port, protocol, i) in ingress_ports(service) {
                let span = tree.span_at(&path!["services", name.as_str(), "ports", i]);
                let this = Published {
                    port,
                    protocol,
                    stack_index,
                    service: name.clone(),
                    span,
                };
                match seen.get(&(port, protocol)) {
                    None => {
                        seen.insert((port, protocol), this);
                    }
                    Some(first)
                        if first.stack_index == stack_index && first.service == this.service => {}
                    Some(first) => out.push(port_conflict(stacks, first, &this)),
                }
            }
        }
    }
    out
}

fn port_conflict(stacks: &[Loaded], first: &Published, this: &Published) -> Diagnostic {
    let first_stack = &stacks[first.stack_index].source;
    let this_stack = &stacks[this.stack_index].source;
    Diagnostic::error(
        "port-conflict",
        format!(
            "published port {}/{} of `{}_{}` is already published by `{}_{}`",
            this.port,
            proto(this.protocol),
            this_stack.stack,
            this.service,
            first_stack.stack,
            first.service
        ),
    )
    .at(this.span)
    .in_file(&this_stack.path)
    .with_help(format!(
        "ingress ports are cluster-wide; first published at {}:{}:{} — pick another port or use `mode: host`",
        first_stack.path.display(),
        first.span.start.line,
        first.span.start.col
    ))
}

fn proto(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Sctp => "sctp",
    }
}

fn duplicate_stacks(stacks: &[Loaded]) -> Vec<Diagnostic> {
    let mut first: HashMap<&str, &Loaded> = HashMap::new();
    let mut out = Vec::new();
    for loaded in stacks {
        match first.get(loaded.source.stack.as_str()) {
            None => {
                first.insert(&loaded.source.stack, loaded);
            }
            Some(prev) => out.push(
                Diagnostic::error(
                    "duplicate-stack",
                    format!(
                        "stack `{}` is also defined by {}",
                        loaded.source.stack,
                        prev.source.path.display()
                    ),
                )
                .in_file(&loaded.source.path)
                .with_help("stack names come from file or directory names; rename one of them"),
            ),
        }
    }
    out
}
