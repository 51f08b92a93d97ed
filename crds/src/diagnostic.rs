//! Findings about stack files: what is wrong, where, and how to fix it.
//!
//! A [`Diagnostic`] is plain data. The loader and the lint rules produce them; renderers in the
//! controller turn them into human, JSON or GitHub-annotation output. Positions are 1-based lines
//! and 1-based columns (in characters), as editors and `file:line:col` links expect.

use std::fmt;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; never fails lint.
    Warning,
    /// The stack cannot be deployed as written.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// A position in a source file: 1-based line, 1-based column (characters), byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Default)]
pub struct Pos {
    /// Line, starting at 1.
    pub line: usize,
    /// Column in characters, starting at 1.
    pub col: usize,
    /// Byte offset from the start of the file.
    #[serde(skip)]
    pub offset: usize,
}

/// A half-open range of a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Default)]
pub struct Span {
    /// First character of the range.
    pub start: Pos,
    /// One past the last character of the range.
    pub end: Pos,
}

impl Span {
    /// A span that covers one position only (used for errors at a point, like end of file).
    pub fn point(pos: Pos) -> Self {
        Span {
            start: pos,
            end: pos,
        }
    }

    /// The byte range of the span, for slicing the source.
    pub fn bytes(&self) -> std::ops::Range<usize> {
        self.start.offset..self.end.offset.max(self.start.offset)
    }
}

/// One finding: a rule broken at a place in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// The file the finding is about.
    pub file: PathBuf,
    /// Where in the file; `None` when the finding concerns the file as a whole.
    pub span: Option<Span>,
    /// Error or warning.
    pub severity: Severity,
    /// Stable rule identifier, e.g. `unknown-key` (see the README's rule table).
    pub rule: &'static str,
    /// What is wrong, in one sentence.
    pub message: String,
    /// How to fix it, when there is something useful to say.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A new error finding.
    pub fn error(rule: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            file: PathBuf::new(),
            span: None,
            severity: Severity::Error,
            rule,
            message: message.into(),
            help: None,
        }
    }

    /// A new warning finding.
    pub fn warning(rule: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(rule, message)
        }
    }

    /// Attach the place the finding is about.
    pub fn at(mut self, span: Span) -> Self {
        self.span = Some(span);
        self
    }

    /// Attach the place, if known.
    pub fn at_opt(mut self, span: Option<Span>) -> Self {
        self.span = span;
        self
    }

    /// Attach the file the finding is about.
    pub fn in_file(mut self, file: impl Into<PathBuf>) -> Self {
        self.file = file.into();
        self
    }

    /// Attach a help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// True for error findings.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    /// `file:line:col severity[rule] message`, the one-line form used in logs and plain output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(span) = self.span {
            write!(f, ":{}:{}", span.start.line, span.start.col)?;
        }
        write!(f, " {}[{}] {}", self.severity, self.rule, self.message)
    }
}

/// A finding in owned, storable form (kept in Raft with a rejected revision, sent over the API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    /// File path as shown to users.
    pub file: String,
    /// 1-based line, when the finding has a place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// 1-based column, when the finding has a place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// `error` or `warning`.
    pub severity: String,
    /// Rule id.
    pub rule: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl From<&Diagnostic> for Finding {
    fn from(d: &Diagnostic) -> Self {
        Finding {
            file: d.file.display().to_string(),
            line: d.span.map(|s| s.start.line),
            column: d.span.map(|s| s.start.col),
            severity: d.severity.to_string(),
            rule: d.rule.to_owned(),
            message: d.message.clone(),
            help: d.help.clone(),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let (Some(l), Some(c)) = (self.line, self.column) {
            write!(f, ":{l}:{c}")?;
        }
        write!(f, " {}[{}] {}", self.severity, self.rule, self.message)
    }
}
