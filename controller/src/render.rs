//! Turning lint findings into text for people, programs and CI.
//!
//! Three formats share one entry point, [`render`]:
//!
//! - [`Format::Human`]: a `file:line:col severity[rule] message` line, the source snippet with
//!   the span underlined (via `annotate-snippets`), and a `help:` line.
//! - [`Format::Json`]: one pretty-printed JSON document with every finding and the totals.
//! - [`Format::Github`]: one GitHub Actions workflow command per finding, so findings show up
//!   as annotations on the pull request.
//!
//! Every non-empty rendering ends with a newline, so callers `print!` it as is. Rendering never
//! panics, whatever offsets a finding carries: a bad span only makes the snippet less precise.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use annotate_snippets::renderer::{
    DEFAULT_ERROR_STYLE, DEFAULT_HELP_STYLE, DEFAULT_WARNING_STYLE, Style,
};
use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet, normalize_untrusted_str};
use serde::Serialize;

use crds::diagnostic::{Diagnostic, Severity, Span};

/// Output formats of `reconciler lint` / `reconciler config` errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Source snippets with the problem underlined, for a terminal.
    Human,
    /// One JSON document, for scripts and editors.
    Json,
    /// GitHub Actions workflow commands, for annotations on pull requests.
    Github,
}

/// Source text of each file, so snippets can be shown.
pub trait SourceLookup {
    /// The full text of `file`, or `None` when it is not at hand (then no snippet is shown).
    fn source(&self, file: &Path) -> Option<&str>;
}

impl SourceLookup for HashMap<PathBuf, String> {
    fn source(&self, file: &Path) -> Option<&str> {
        self.get(file).map(String::as_str)
    }
}

/// Render `diagnostics` in `format`; `sources` and `color` only matter for [`Format::Human`].
pub fn render(
    format: Format,
    diagnostics: &[Diagnostic],
    sources: &dyn SourceLookup,
    color: bool,
) -> String {
    match format {
        Format::Human => render_human(diagnostics, sources, color),
        Format::Json => render_json(diagnostics),
        Format::Github => render_github(diagnostics),
    }
}

/// Findings for a terminal: header line, source snippet, help line; a blank line between
/// findings. Without `color` the output has no ANSI escapes. No findings give an empty string.
pub fn render_human(diagnostics: &[Diagnostic], sources: &dyn SourceLookup, color: bool) -> String {
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    diagnostics
        .iter()
        .map(|diagnostic| human_block(diagnostic, sources, &renderer, color))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Findings and totals as one pretty-printed JSON document:
/// `{"diagnostics": [{"file", "line", "column", "end_line", "end_column", "severity", "rule",
/// "message", "help"}, ...], "errors": n, "warnings": n}`. Positions are `null` without a span.
pub fn render_json(diagnostics: &[Diagnostic]) -> String {
    let (errors, warnings) = counts(diagnostics);
    let report = JsonReport {
        diagnostics: diagnostics.iter().map(JsonDiagnostic::from).collect(),
        errors,
        warnings,
    };
    let mut out = serde_json::to_string_pretty(&report).unwrap_or_else(|err| {
        // Unreachable with these plain structs, but the output must stay valid JSON anyway.
        format!(
            "{{\"error\": {}}}",
            serde_json::Value::String(err.to_string())
        )
    });
    out.push('\n');
    out
}

/// One GitHub Actions `::error` / `::warning` workflow command per finding, one per line.
pub fn render_github(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(|diagnostic| github_command(diagnostic) + "\n")
        .collect()
}

/// A one-line tally, e.g. `3 errors, 1 warning in 12 files` or `no problems in 4 files`.
pub fn summary(diagnostics: &[Diagnostic], files_checked: usize) -> String {
    let findings = match counts(diagnostics) {
        (0, 0) => "no problems".to_owned(),
        (errors, 0) => counted(errors, "error"),
        (0, warnings) => counted(warnings, "warning"),
        (errors, warnings) => {
            format!(
                "{}, {}",
                counted(errors, "error"),
                counted(warnings, "warning")
            )
        }
    };
    format!("{findings} in {}", counted(files_checked, "file"))
}

fn counts(diagnostics: &[Diagnostic]) -> (usize, usize) {
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    (errors, diagnostics.len() - errors)
}

fn counted(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn human_block(
    diagnostic: &Diagnostic,
    sources: &dyn SourceLookup,
    renderer: &Renderer,
    color: bool,
) -> String {
    let mut out = human_header(diagnostic, color);
    out.push('\n');
    if let Some(snippet) = human_snippet(diagnostic, sources, renderer) {
        out.push_str(&snippet);
        out.push('\n');
    }
    if let Some(help) = &diagnostic.help {
        let label = paint(DEFAULT_HELP_STYLE, "help", color);
        // Continuation lines line up under the text after `help: `.
        let help = normalize_untrusted_str(help).replace('\n', "\n      ");
        out.push_str(&format!("{label}: {help}\n"));
    }
    out
}

/// The same text as `Diagnostic`'s `Display`, so logs and terminal output match.
fn human_header(diagnostic: &Diagnostic, color: bool) -> String {
    let file = diagnostic.file.display().to_string();
    let location = match diagnostic.span {
        Some(span) => format!("{file}:{}:{}", span.start.line, span.start.col),
        None => file,
    };
    let style = match diagnostic.severity {
        Severity::Error => DEFAULT_ERROR_STYLE,
        Severity::Warning => DEFAULT_WARNING_STYLE,
    };
    let kind = format!("{}[{}]", diagnostic.severity, diagnostic.rule);
    // Messages quote the user's YAML, which may hold escape sequences that would drive the terminal.
    let message = normalize_untrusted_str(&diagnostic.message);
    format!(
        "{} {} {}",
        normalize_untrusted_str(&location),
        paint(style, &kind, color),
        paint(Style::new().bold(), &message, color),
    )
}

fn paint(style: Style, text: &str, color: bool) -> String {
    if color {
        format!("{style}{text}{style:#}")
    } else {
        text.to_owned()
    }
}

fn human_snippet(
    diagnostic: &Diagnostic,
    sources: &dyn SourceLookup,
    renderer: &Renderer,
) -> Option<String> {
    let span = diagnostic.span?;
    let source = sources.source(&diagnostic.file)?;
    let level = match diagnostic.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    };
    let snippet = Snippet::source(source)
        .path(diagnostic.file.display().to_string())
        .annotation(AnnotationKind::Primary.span(annotation_range(source, span)));
    // No title: our own header line already says what is wrong.
    Some(renderer.render(&[Group::with_level(level).element(snippet)]))
}

/// A byte range that `annotate-snippets` accepts for `source`: it panics on ranges past the end
/// or off char boundaries, and the span comes from a parser we do not want to trust blindly.
fn annotation_range(source: &str, span: Span) -> Range<usize> {
    let requested = span.bytes();
    let start = floor_char_boundary(source, requested.start);
    let end = ceil_char_boundary(source, requested.end.max(start));
    let end = source.get(start..end).map_or(start, |text| {
        // A span that swallows the line break would be drawn as reaching into the next line.
        start + text.trim_end_matches(['\r', '\n']).len()
    });
    if start < end {
        start..end
    } else {
        point_range(source, start)
    }
}

/// An empty span underlines the character it points at, or marks the end of its line.
fn point_range(source: &str, pos: usize) -> Range<usize> {
    let pos = line_content_end(source, pos);
    match source.get(pos..).and_then(|rest| rest.chars().next()) {
        Some(c) if c != '\r' && c != '\n' => pos..pos + c.len_utf8(),
        _ => pos..pos,
    }
}

/// Moves a position off a line break it cannot be drawn on: the end of a file that ends in a
/// newline (there is no line after it to show) and the `\n` of a `\r\n` (drawn one column late).
fn line_content_end(source: &str, pos: usize) -> usize {
    let mut pos = pos;
    if pos == source.len() && source.ends_with('\n') {
        pos -= 1;
    }
    let at_newline = source.get(pos..).is_some_and(|rest| rest.starts_with('\n'));
    if at_newline
        && source
            .get(..pos)
            .is_some_and(|before| before.ends_with('\r'))
    {
        pos -= 1;
    }
    pos
}

// `str::floor_char_boundary` / `ceil_char_boundary` need Rust 1.91; the workspace MSRV is older.
fn floor_char_boundary(source: &str, index: usize) -> usize {
    let mut index = index.min(source.len());
    while !source.is_char_boundary(index) {
        index -= 1;
    }
    index
}

fn ceil_char_boundary(source: &str, index: usize) -> usize {
    let mut index = index.min(source.len());
    while !source.is_char_boundary(index) {
        index += 1;
    }
    index
}

#[derive(Serialize)]
struct JsonReport<'a> {
    diagnostics: Vec<JsonDiagnostic<'a>>,
    errors: usize,
    warnings: usize,
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    file: String,
    line: Option<usize>,
    column: Option<usize>,
    end_line: Option<usize>,
    end_column: Option<usize>,
    severity: Severity,
    rule: &'a str,
    message: &'a str,
    help: Option<&'a str>,
}

impl<'a> From<&'a Diagnostic> for JsonDiagnostic<'a> {
    fn from(diagnostic: &'a Diagnostic) -> Self {
        let span = diagnostic.span;
        JsonDiagnostic {
            // Lossy rather than failing: a non-UTF-8 path is still worth reporting.
            file: diagnostic.file.to_string_lossy().into_owned(),
            line: span.map(|s| s.start.line),
            column: span.map(|s| s.start.col),
            end_line: span.map(|s| s.end.line),
            end_column: span.map(|s| s.end.col),
            severity: diagnostic.severity,
            rule: diagnostic.rule,
            message: &diagnostic.message,
            help: diagnostic.help.as_deref(),
        }
    }
}

fn github_command(diagnostic: &Diagnostic) -> String {
    let command = match diagnostic.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut message = diagnostic.message.clone();
    if let Some(help) = &diagnostic.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    format!(
        "::{command} {}::{}",
        github_properties(diagnostic).join(","),
        escape_data(&message)
    )
}

fn github_properties(diagnostic: &Diagnostic) -> Vec<String> {
    let mut properties = Vec::new();
    // An empty path anchors nothing; without `file` GitHub still lists the annotation on the run.
    if !diagnostic.file.as_os_str().is_empty() {
        let file = diagnostic.file.to_string_lossy();
        properties.push(format!("file={}", escape_property(&file)));
    }
    if let Some(span) = diagnostic.span {
        properties.push(format!("line={}", span.start.line));
        properties.push(format!("col={}", span.start.col));
        properties.push(format!("endLine={}", span.end.line));
        properties.push(format!("endColumn={}", span.end.col));
    }
    properties.push(format!("title={}", escape_property(diagnostic.rule)));
    properties
}

/// GitHub's escaping for the message part of a workflow command.
fn escape_data(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            _ => out.push(c),
        }
    }
    out
}

/// GitHub's escaping for a property value, where `:` and `,` are also delimiters.
fn escape_property(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in escape_data(text).chars() {
        match c {
            ':' => out.push_str("%3A"),
            ',' => out.push_str("%2C"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
#[path = "render_test.rs"]
mod tests;
