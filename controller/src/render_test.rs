//! Tests of `render`.

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
