//! One stack file → the typed compose model plus every finding about it.
//!
//! The steps are fixed: read YAML into a located tree, interpolate values (never keys), validate
//! against the stack-file schema while building JSON, deserialise, then run the semantic rules
//! in [`crate::lint`]. Every step adds to one list of diagnostics, so a user sees all problems
//! of a file at once.

use std::io;
use std::path::{Path, PathBuf};

use crate::check::{self, FormatError};
use crate::compose::{self, ComposeFile};
use crate::diagnostic::Diagnostic;
use crate::interpolate::{self, Variables};
use crate::yaml::{self, Node, Value};

/// Read access to files next to a stack (`env_file`, config and secret `file:`).
pub trait Files {
    /// The text of `path`.
    fn read(&self, path: &Path) -> io::Result<String>;
    /// Whether `path` exists.
    fn exists(&self, path: &Path) -> bool;
}

/// No files at all: every path is missing (for inputs with no directory, like a webhook body).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFiles;

impl Files for NoFiles {
    fn read(&self, path: &Path) -> io::Result<String> {
        Err(io::Error::new(
            io::ErrorKind::NotFound,
            path.display().to_string(),
        ))
    }
    fn exists(&self, _: &Path) -> bool {
        false
    }
}

/// One stack file to load.
#[derive(Debug, Clone)]
pub struct Source {
    /// The stack name (from the file or directory name, or `reconciler.yaml`).
    pub stack: String,
    /// The file path as shown in findings.
    pub path: PathBuf,
    /// The file's text.
    pub text: String,
}

impl Source {
    /// The directory that relative paths in the file are resolved against.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or_else(|| Path::new(""))
    }
}

/// What loading one file produced.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The source it came from.
    pub source: Source,
    /// The interpolated tree, for locating later findings.
    pub tree: Option<Node>,
    /// The typed model, when the file had no schema errors.
    pub file: Option<ComposeFile>,
    /// Findings, in file order per step.
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    /// True when any finding is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// The stack-file schema, generated once per process (generation costs more than a lint).
fn stack_file_schema() -> &'static serde_json::Value {
    static SCHEMA: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(compose::stack_file_schema)
}

/// Load a stack file and run the per-file lint rules on it.
pub fn load(source: Source, vars: &dyn Variables, files: &dyn Files) -> Loaded {
    let mut diagnostics = Vec::new();
    let loaded = yaml::load(&source.text);
    diagnostics.extend(loaded.diagnostics);
    let Some(mut tree) = loaded.root else {
        if diagnostics.is_empty() {
            diagnostics.push(
                Diagnostic::error("empty-file", "the stack file is empty")
                    .with_help("define at least one service under `services:`"),
            );
        }
        return finish(source, None, None, diagnostics);
    };
    interpolate_tree(&mut tree, &source.text, vars, &mut diagnostics);
    let checked = check::check(stack_file_schema(), &tree, check_format);
    diagnostics.extend(checked.diagnostics);
    if diagnostics.iter().any(Diagnostic::is_error) {
        // Still run the semantic rules on the services that are sound, so one pass shows as
        // much as possible; the partial model is never handed out.
        if let Some(partial) = without_broken_services(checked.json, &tree, &diagnostics) {
            diagnostics.extend(crate::lint::lint_file(
                &source, &partial, &tree, vars, files,
            ));
        }
        return finish(source, Some(tree), None, diagnostics);
    }
    let file = match serde_json::from_value::<ComposeFile>(checked.json) {
        Ok(file) => file,
        Err(e) => {
            diagnostics.push(
                Diagnostic::error("wrong-type", format!("invalid stack file: {e}")).at(tree.span),
            );
            return finish(source, Some(tree), None, diagnostics);
        }
    };
    diagnostics.extend(crate::lint::lint_file(&source, &file, &tree, vars, files));
    finish(source, Some(tree), Some(file), diagnostics)
}

/// The model without the services that hold errors, when every error lies inside a service.
fn without_broken_services(
    mut json: serde_json::Value,
    tree: &Node,
    diagnostics: &[Diagnostic],
) -> Option<ComposeFile> {
    let services = tree.get("services")?.as_map()?;
    let errors: Vec<_> = diagnostics
        .iter()
        .filter(|d| d.is_error())
        .filter_map(|d| d.span)
        .collect();
    let mut broken = Vec::new();
    for span in &errors {
        let owner = services.iter().find(|(k, v)| {
            let start = k.span.start.offset;
            let end = v.span.end.offset.max(k.span.end.offset);
            (start..=end).contains(&span.start.offset)
        });
        match owner {
            Some((k, _)) => broken.push(k.text.clone()),
            None => return None,
        }
    }
    let map = json.get_mut("services")?.as_object_mut()?;
    for name in broken {
        map.remove(&name);
    }
    serde_json::from_value(json).ok()
}

fn finish(
    source: Source,
    tree: Option<Node>,
    file: Option<ComposeFile>,
    mut diagnostics: Vec<Diagnostic>,
) -> Loaded {
    for d in &mut diagnostics {
        d.file.clone_from(&source.path);
    }
    diagnostics.sort_by_key(|d| d.span.map(|s| (s.start.line, s.start.col)));
    Loaded {
        source,
        tree,
        file,
        diagnostics,
    }
}

/// Interpolate every scalar value in place; keys are left alone, as the Compose spec requires.
pub fn interpolate_tree(
    node: &mut Node,
    source: &str,
    vars: &dyn Variables,
    out: &mut Vec<Diagnostic>,
) {
    let mut stack: Vec<&mut Node> = vec![node];
    let mut warned: Vec<String> = Vec::new();
    while let Some(node) = stack.pop() {
        let span = node.span;
        match &mut node.value {
            Value::Scalar(text, _) => {
                if !text.contains('$') {
                    continue;
                }
                match interpolate::interpolate(text, vars) {
                    Ok(done) => {
                        for name in done.unset {
                            if !warned.contains(&name) {
                                out.push(
                                    Diagnostic::warning(
                                        "unset-variable",
                                        format!("variable `{name}` is not set; an empty string is used"),
                                    )
                                    .at(span)
                                    .with_help(format!(
                                        "set `{name}` in the environment or in `.env` beside the stack, or give a default: `${{{name}:-value}}`"
                                    )),
                                );
                                warned.push(name);
                            }
                        }
                        *text = done.value;
                    }
                    Err(e) => out.push(interpolation_error(
                        &e,
                        point_into(source, span, text, e.offset()),
                    )),
                }
            }
            Value::Seq(items) => stack.extend(items.iter_mut()),
            Value::Map(m) => stack.extend(m.entries.iter_mut().map(|(_, v)| v)),
        }
    }
}

/// The position of byte `offset` of a scalar's value, when the value appears verbatim in the
/// source (plain or quoted without escapes on one line); else the scalar's own span.
fn point_into(
    source: &str,
    span: crate::diagnostic::Span,
    value: &str,
    offset: usize,
) -> crate::diagnostic::Span {
    let Some(raw) = source.get(span.bytes()) else {
        return span;
    };
    let quoted = raw.len() >= 2 && (raw.starts_with('"') || raw.starts_with('\''));
    let inner = if quoted { &raw[1..raw.len() - 1] } else { raw };
    if inner != value || raw.contains('\n') || !value.is_char_boundary(offset) {
        return span;
    }
    let skip = usize::from(quoted);
    let mut start = span.start;
    start.col += skip + value[..offset].chars().count();
    start.offset += skip + offset;
    crate::diagnostic::Span {
        start,
        end: span.end,
    }
}

fn interpolation_error(e: &interpolate::Error, span: crate::diagnostic::Span) -> Diagnostic {
    match e {
        interpolate::Error::RequiredUnset { name, .. } => {
            Diagnostic::error("required-variable", e.to_string())
                .at(span)
                .with_help(format!(
                    "set `{name}` in the environment or in `.env` beside the stack"
                ))
        }
        interpolate::Error::InvalidSyntax { .. } => Diagnostic::error(
            "interpolation",
            e.to_string(),
        )
        .at(span)
        .with_help(
            "write `$$` for a literal `$`; variables look like `$NAME` or `${NAME:-default}`",
        ),
    }
}

/// `relative` resolved against a stack's directory, without `./` noise in messages.
pub fn resolve(dir: &Path, relative: &str) -> PathBuf {
    let mut out = dir.to_path_buf();
    for part in Path::new(relative).components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::RootDir => out = PathBuf::from("/"),
            other => out.push(other),
        }
    }
    out
}

/// Format checks used by the schema: units, ports, volumes, placement.
pub fn check_format(format: &str, value: &str) -> Option<Result<(), FormatError>> {
    let fail = |rule: &'static str, message: String| Err(FormatError { rule, message });
    let result = match format {
        "duration" | "bytes" | "cpus" => {
            let rule = match format {
                "duration" => "invalid-duration",
                "bytes" => "invalid-size",
                _ => "invalid-cpus",
            };
            return crate::units::check_format(format, value).map(|r| {
                r.map_err(|e| FormatError {
                    rule,
                    message: e.to_string(),
                })
            });
        }
        "ports" => crate::port::parse_short(value)
            .map(|_| ())
            .or_else(|e| fail("invalid-port", e.to_string())),
        "volume" => compose::volume::parse_short(value)
            .map(|_| ())
            .or_else(|e| fail("invalid-volume", e.to_string())),
        "constraint" => crate::constraint::parse_constraint(value)
            .map(|_| ())
            .or_else(|e| fail("invalid-constraint", e.to_string())),
        "preference" => crate::constraint::parse_preference_descriptor(value)
            .map(|_| ())
            .or_else(|e| fail("invalid-preference", e.to_string())),
        _ => return None,
    };
    Some(result)
}
