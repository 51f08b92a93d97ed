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
mod tests {
    use super::*;
    use crds::diagnostic::Pos;

    const STACK: &str = "services:\n  web:\n    imgae: nginx\n    labels: {é: 1, bad key: 2}\n    ports:\n      - \"80:80\"\n";

    /// The position of byte `offset`, computed the way the loader does (columns in characters).
    fn pos(source: &str, offset: usize) -> Pos {
        let before = &source[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        Pos { line, col, offset }
    }

    fn span(source: &str, start: usize, end: usize) -> Span {
        Span {
            start: pos(source, start),
            end: pos(source, end),
        }
    }

    fn span_of(source: &str, needle: &str) -> Span {
        let start = source.find(needle).expect("needle in source");
        span(source, start, start + needle.len())
    }

    fn sources(file: &str, text: &str) -> HashMap<PathBuf, String> {
        HashMap::from([(PathBuf::from(file), text.to_owned())])
    }

    fn unknown_key() -> Diagnostic {
        Diagnostic::error("unknown-key", "unknown key `imgae`")
            .in_file("stack.yml")
            .at(span_of(STACK, "imgae"))
            .with_help("did you mean `image`?")
    }

    fn strip_ansi(text: &str) -> String {
        let mut out = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                // CSI sequences end with a letter; that is all the renderers emit.
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn human_underlines_the_span_and_adds_help() {
        let out = render_human(&[unknown_key()], &sources("stack.yml", STACK), false);
        assert_eq!(
            out,
            "stack.yml:3:5 error[unknown-key] unknown key `imgae`
 --> stack.yml:3:5
  |
3 |     imgae: nginx
  |     ^^^^^
help: did you mean `image`?
"
        );
    }

    #[test]
    fn human_counts_columns_in_characters_after_unicode() {
        let finding = Diagnostic::warning("label-key", "label key `bad key` has a space")
            .in_file("stack.yml")
            .at(span_of(STACK, "bad key"));
        let out = render_human(&[finding], &sources("stack.yml", STACK), false);
        assert_eq!(
            out,
            "stack.yml:4:20 warning[label-key] label key `bad key` has a space
 --> stack.yml:4:20
  |
4 |     labels: {é: 1, bad key: 2}
  |                    ^^^^^^^
"
        );
    }

    #[test]
    fn human_draws_multi_line_spans() {
        let start = STACK.find("imgae").expect("imgae");
        let end = STACK.find("labels").expect("labels") + "labels".len();
        let finding = Diagnostic::error("bad-block", "these keys clash")
            .in_file("stack.yml")
            .at(span(STACK, start, end));
        let out = render_human(&[finding], &sources("stack.yml", STACK), false);
        assert_eq!(
            out,
            "stack.yml:3:5 error[bad-block] these keys clash
 --> stack.yml:3:5
  |
3 | /     imgae: nginx
4 | |     labels: {é: 1, bad key: 2}
  | |__________^
"
        );
    }

    #[test]
    fn human_without_span_or_source_shows_no_snippet() {
        let no_span = Diagnostic::warning("empty-stack", "the stack defines no services")
            .in_file("stack.yml")
            .with_help("add a `services:` section");
        let no_source = unknown_key().in_file("elsewhere.yml");
        let out = render_human(&[no_span, no_source], &sources("stack.yml", STACK), false);
        assert_eq!(
            out,
            "stack.yml warning[empty-stack] the stack defines no services
help: add a `services:` section

elsewhere.yml:3:5 error[unknown-key] unknown key `imgae`
help: did you mean `image`?
"
        );
    }

    #[test]
    fn human_separates_findings_with_a_blank_line() {
        let second = Diagnostic::warning("port-quoting", "quote port mappings")
            .in_file("stack.yml")
            .at(span_of(STACK, "\"80:80\""));
        let out = render_human(
            &[unknown_key(), second],
            &sources("stack.yml", STACK),
            false,
        );
        assert_eq!(
            out,
            "stack.yml:3:5 error[unknown-key] unknown key `imgae`
 --> stack.yml:3:5
  |
3 |     imgae: nginx
  |     ^^^^^
help: did you mean `image`?

stack.yml:6:9 warning[port-quoting] quote port mappings
 --> stack.yml:6:9
  |
6 |       - \"80:80\"
  |         ^^^^^^^
"
        );
    }

    #[test]
    fn human_empty_span_underlines_one_character() {
        let at = STACK.find("web").expect("web");
        let finding = Diagnostic::error("x", "here")
            .in_file("stack.yml")
            .at(span(STACK, at, at));
        let out = render_human(&[finding], &sources("stack.yml", STACK), false);
        assert!(out.ends_with("2 |   web:\n  |   ^\n"), "{out}");
    }

    #[test]
    fn human_empty_span_at_line_break_marks_end_of_line() {
        let source = "a: 1\r\nb: [\r\n";
        let at = source.find("[\r").expect("bracket") + 2; // the `\n` of the CRLF
        let finding = Diagnostic::error("unclosed", "unclosed flow sequence")
            .in_file("s.yml")
            .at(span(source, at, at));
        let eof = Diagnostic::error("eof", "unexpected end of file")
            .in_file("s.yml")
            .at(span(source, source.len(), source.len()));
        let out = render_human(&[finding, eof], &sources("s.yml", source), false);
        assert_eq!(
            out,
            "s.yml:2:6 error[unclosed] unclosed flow sequence
 --> s.yml:2:5
  |
2 | b: [
  |     ^

s.yml:3:1 error[eof] unexpected end of file
 --> s.yml:2:5
  |
2 | b: [
  |     ^
"
        );
    }

    #[test]
    fn human_header_matches_display() {
        let finding = unknown_key();
        let out = render_human(std::slice::from_ref(&finding), &HashMap::new(), false);
        assert_eq!(out.lines().next(), Some(finding.to_string().as_str()));
    }

    #[test]
    fn human_multi_line_help_is_indented() {
        let finding = Diagnostic::error("x", "m").with_help("first\nsecond");
        let out = render_human(&[finding], &HashMap::new(), false);
        assert_eq!(out, " error[x] m\nhelp: first\n      second\n");
    }

    #[test]
    fn human_color_only_adds_escapes() {
        let files = sources("stack.yml", STACK);
        let plain = render_human(&[unknown_key()], &files, false);
        let colored = render_human(&[unknown_key()], &files, true);
        assert!(!plain.contains('\u{1b}'));
        assert!(colored.contains("\u{1b}["));
        assert_eq!(strip_ansi(&colored), plain);
    }

    #[test]
    fn human_neutralises_control_characters_in_messages() {
        let finding = Diagnostic::error("x", "key `\u{1b}[31mred`").with_help("\u{7}");
        let out = render_human(&[finding], &HashMap::new(), false);
        assert!(!out.contains('\u{1b}') && !out.contains('\u{7}'), "{out:?}");
    }

    #[test]
    fn human_of_nothing_is_empty() {
        assert_eq!(render_human(&[], &HashMap::new(), true), "");
    }

    #[test]
    fn bad_offsets_never_panic() {
        let texts = [
            "",
            "\n",
            "\r\n",
            "é",
            "a\rb",
            "x: é\r\n\ty: \"ü\"\n\n",
            "🦀\n",
        ];
        for text in texts {
            let files = sources("f.yml", text);
            for start in 0..text.len() + 3 {
                for end in 0..text.len() + 3 {
                    let bogus = Span {
                        start: Pos {
                            line: 1,
                            col: 1,
                            offset: start,
                        },
                        end: Pos {
                            line: 0,
                            col: 0,
                            offset: end,
                        },
                    };
                    let finding = Diagnostic::error("x", "m").in_file("f.yml").at(bogus);
                    let out = render_human(&[finding], &files, false);
                    assert!(out.starts_with("f.yml:1:1 error[x] m\n"), "{out}");
                }
            }
        }
    }

    #[test]
    fn huge_offsets_never_panic() {
        let bogus = Span {
            start: Pos {
                line: 1,
                col: 1,
                offset: usize::MAX - 1,
            },
            end: Pos {
                line: 1,
                col: 1,
                offset: usize::MAX,
            },
        };
        let finding = Diagnostic::error("x", "m").in_file("stack.yml").at(bogus);
        let out = render_human(&[finding], &sources("stack.yml", STACK), false);
        assert!(out.contains("^"), "{out}");
    }

    #[test]
    fn json_lists_findings_and_totals() {
        let file_level = Diagnostic::warning("empty-stack", "no services");
        let out = render_json(&[unknown_key(), file_level.in_file("b.yml")]);
        assert_eq!(
            out,
            r#"{
  "diagnostics": [
    {
      "file": "stack.yml",
      "line": 3,
      "column": 5,
      "end_line": 3,
      "end_column": 10,
      "severity": "error",
      "rule": "unknown-key",
      "message": "unknown key `imgae`",
      "help": "did you mean `image`?"
    },
    {
      "file": "b.yml",
      "line": null,
      "column": null,
      "end_line": null,
      "end_column": null,
      "severity": "warning",
      "rule": "empty-stack",
      "message": "no services",
      "help": null
    }
  ],
  "errors": 1,
  "warnings": 1
}
"#
        );
    }

    #[test]
    fn json_of_nothing_is_still_a_document() {
        let out = render_json(&[]);
        assert_eq!(
            out,
            "{\n  \"diagnostics\": [],\n  \"errors\": 0,\n  \"warnings\": 0\n}\n"
        );
    }

    #[test]
    fn json_columns_are_characters() {
        let finding = Diagnostic::warning("label-key", "m")
            .in_file("stack.yml")
            .at(span_of(STACK, "bad key"));
        let value: serde_json::Value =
            serde_json::from_str(&render_json(&[finding])).expect("valid JSON");
        let entry = &value["diagnostics"][0];
        assert_eq!(entry["column"], 20);
        assert_eq!(entry["end_column"], 27);
    }

    #[test]
    fn github_emits_one_command_per_finding() {
        let file_level = Diagnostic::warning("empty-stack", "no services").in_file("b.yml");
        let out = render_github(&[unknown_key(), file_level]);
        assert_eq!(
            out,
            "::error file=stack.yml,line=3,col=5,endLine=3,endColumn=10,title=unknown-key::unknown key `imgae`%0Ahelp: did you mean `image`?
::warning file=b.yml,title=empty-stack::no services
"
        );
    }

    #[test]
    fn github_escapes_message_data() {
        let finding = Diagnostic::error("x", "100% wrong\r\nsecond: line, really").in_file("a");
        assert_eq!(
            render_github(&[finding]),
            "::error file=a,title=x::100%25 wrong%0D%0Asecond: line, really\n"
        );
    }

    #[test]
    fn github_escapes_property_values() {
        let finding = Diagnostic::error("x", "m").in_file("C:/odd,dir/100%\nname.yml");
        assert_eq!(
            render_github(&[finding]),
            "::error file=C%3A/odd%2Cdir/100%25%0Aname.yml,title=x::m\n"
        );
        assert_eq!(escape_property("a:b,c%d\re"), "a%3Ab%2Cc%25d%0De");
    }

    #[test]
    fn github_escapes_help() {
        let finding = Diagnostic::error("x", "m")
            .in_file("a")
            .with_help("use 50%\nor less");
        assert_eq!(
            render_github(&[finding]),
            "::error file=a,title=x::m%0Ahelp: use 50%25%0Aor less\n"
        );
    }

    #[test]
    fn github_leaves_out_an_empty_file() {
        let out = render_github(&[Diagnostic::error("x", "m")]);
        assert_eq!(out, "::error title=x::m\n");
    }

    #[test]
    fn github_of_nothing_is_empty() {
        assert_eq!(render_github(&[]), "");
    }

    #[test]
    fn summary_counts_with_the_right_plurals() {
        let error = || Diagnostic::error("x", "m");
        let warning = || Diagnostic::warning("x", "m");
        assert_eq!(summary(&[], 4), "no problems in 4 files");
        assert_eq!(summary(&[], 1), "no problems in 1 file");
        assert_eq!(summary(&[], 0), "no problems in 0 files");
        assert_eq!(summary(&[error()], 1), "1 error in 1 file");
        assert_eq!(summary(&[warning(), warning()], 2), "2 warnings in 2 files");
        assert_eq!(
            summary(&[error(), warning(), error(), error()], 12),
            "3 errors, 1 warning in 12 files"
        );
        assert_eq!(
            summary(&[error(), warning(), warning()], 1),
            "1 error, 2 warnings in 1 file"
        );
    }

    #[test]
    fn render_dispatches_on_format() {
        let findings = [unknown_key()];
        let files = sources("stack.yml", STACK);
        assert_eq!(
            render(Format::Human, &findings, &files, false),
            render_human(&findings, &files, false)
        );
        assert_eq!(
            render(Format::Json, &findings, &files, true),
            render_json(&findings)
        );
        assert_eq!(
            render(Format::Github, &findings, &files, true),
            render_github(&findings)
        );
    }

    #[test]
    fn format_parses_from_the_command_line() {
        use clap::ValueEnum;
        assert_eq!(Format::from_str("github", false), Ok(Format::Github));
        assert_eq!(Format::from_str("json", false), Ok(Format::Json));
        assert_eq!(Format::from_str("human", false), Ok(Format::Human));
    }

    #[test]
    fn hash_map_looks_up_sources_by_path() {
        let files = sources("stack.yml", STACK);
        assert_eq!(files.source(Path::new("stack.yml")), Some(STACK));
        assert_eq!(files.source(Path::new("other.yml")), None);
    }
}
