//! Semantic rules that a schema cannot express: references, conflicts, names, limits.
//!
//! Rules read the typed model and point at the located tree, so every finding carries a
//! `file:line:col`. Per-file rules run inside [`crate::load::load`]; [`lint_stacks`] adds the
//! rules that need every stack linted together (published ports, stack names).
//!
//! # Layout
//! - [`service`]: rules on one service (image, ports, mounts, deploy, ignored keys).
//! - [`objects`]: top-level networks, volumes, configs and secrets, and references to them.
//! - [`cross`]: rules across stacks.
//! - [`names`]: what stack and service names may look like.

pub mod cross;
pub mod names;
pub mod objects;
pub mod service;

use crate::compose::ComposeFile;
use crate::diagnostic::{Diagnostic, Span};
use crate::interpolate::Variables;
use crate::load::{Files, Source};
use crate::yaml::{Node, PathSeg};

pub use cross::lint_stacks;

/// Every rule id this crate reports, with a one-line description (for the README and `--help`).
pub const RULES: &[(&str, &str)] = &[
    ("yaml-syntax", "the file is not valid YAML"),
    ("duplicate-key", "a mapping sets the same key twice"),
    ("yaml-merge", "a `<<` merge key does not merge a mapping"),
    ("empty-file", "the stack file has no content"),
    (
        "unknown-key",
        "a key the stack format does not have (with a suggestion)",
    ),
    ("wrong-type", "a value of the wrong type"),
    ("missing-key", "a required key is absent"),
    ("invalid-value", "a value outside an enumeration"),
    (
        "out-of-range",
        "a number out of range, such as a negative count",
    ),
    ("invalid-duration", "not a duration like `10s` or `1m30s`"),
    ("invalid-size", "not a byte size like `512M`"),
    ("invalid-cpus", "not a CPU count like `0.5`"),
    (
        "invalid-port",
        "an invalid port spec or a port out of 1-65535",
    ),
    ("invalid-volume", "an invalid short volume spec"),
    (
        "invalid-constraint",
        "a placement constraint with an unknown key or operator",
    ),
    (
        "invalid-preference",
        "a placement preference that is not `spread: node.labels.<key>`",
    ),
    ("interpolation", "a malformed `${...}` expression"),
    (
        "required-variable",
        "a `${VAR:?err}` variable that is unset",
    ),
    (
        "unset-variable",
        "a variable with no value and no default (warning)",
    ),
    ("no-services", "the stack defines no services"),
    ("no-image", "a service without an image"),
    (
        "build-unsupported",
        "`build` without `image`: clusters cannot build",
    ),
    ("invalid-image", "an image reference Docker would refuse"),
    ("invalid-stack-name", "a stack name Docker would refuse"),
    ("invalid-service-name", "a service name Docker would refuse"),
    ("duplicate-stack", "two files define the same stack"),
    ("replicas-with-global", "`replicas` on a global service"),
    (
        "reservation-above-limit",
        "a reservation larger than its limit",
    ),
    (
        "port-conflict",
        "the same published ingress port used twice",
    ),
    (
        "undefined-network",
        "a service uses a network not declared at the top level",
    ),
    (
        "undefined-volume",
        "a service mounts a named volume not declared at the top level",
    ),
    (
        "undefined-config",
        "a service uses a config not declared at the top level",
    ),
    (
        "undefined-secret",
        "a service uses a secret not declared at the top level",
    ),
    (
        "undefined-reference",
        "`depends_on` names a service that does not exist",
    ),
    (
        "missing-file",
        "an `env_file` or config/secret `file:` that does not exist",
    ),
    ("invalid-env-file", "an `env_file` with a syntax error"),
    (
        "invalid-object",
        "a config or secret without exactly one source",
    ),
    (
        "external-conflict",
        "an external network or volume that also sets creation options",
    ),
    (
        "invalid-healthcheck",
        "a healthcheck `test` list not starting with NONE, CMD or CMD-SHELL",
    ),
    (
        "ignored-key",
        "a compose key that clusters ignore (warning) or refuse (error)",
    ),
    (
        "depends-on-ignored",
        "`depends_on` is parsed but not enforced (warning)",
    ),
    (
        "obsolete-version",
        "the top-level `version` is obsolete (warning)",
    ),
    (
        "ignored-name",
        "the top-level `name` is not used as the stack name (warning)",
    ),
    (
        "relative-bind",
        "a bind mount with a relative source (warning)",
    ),
    (
        "host-control-bind",
        "a bind mount of `/`, `/etc`, the Docker socket or another path that controls the node (warning)",
    ),
];

/// What per-file rules get to look at.
pub struct Context<'a> {
    /// The file being linted.
    pub source: &'a Source,
    /// Its typed model.
    pub file: &'a ComposeFile,
    /// Its located tree.
    pub tree: &'a Node,
    /// Variables for `env_file` interpolation.
    pub vars: &'a dyn Variables,
    /// Access to files beside the stack.
    pub files: &'a dyn Files,
}

impl Context<'_> {
    /// Span of the value at `path`.
    pub fn span(&self, path: &[PathSeg]) -> Span {
        self.tree.span_at(path)
    }
    /// Span of the key at the end of `path`.
    pub fn key_span(&self, path: &[PathSeg]) -> Span {
        self.tree.key_span_at(path)
    }
}

/// Build a path from segments: `path!["services", name, "ports", 0]`.
#[macro_export]
macro_rules! path {
    ($($seg:expr),* $(,)?) => {
        [$($crate::yaml::PathSeg::from($seg)),*]
    };
}

/// Run every per-file rule.
pub fn lint_file(
    source: &Source,
    file: &ComposeFile,
    tree: &Node,
    vars: &dyn Variables,
    files: &dyn Files,
) -> Vec<Diagnostic> {
    let cx = Context {
        source,
        file,
        tree,
        vars,
        files,
    };
    let mut out = Vec::new();
    names::lint_names(&cx, &mut out);
    objects::lint_objects(&cx, &mut out);
    for (name, service) in &file.services {
        service::lint_service(&cx, name, service, &mut out);
    }
    out
}
