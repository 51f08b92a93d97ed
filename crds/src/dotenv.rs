//! The `.env` / `env_file` format of the Compose specification.
//!
//! This module owns reading such files into ordered [`Entry`] values: the
//! line syntax (comments, `export`, quoting, escapes, inline comments), the
//! rule that values may use variables defined on earlier lines, and turning
//! failures into 1-based line/column positions. Value interpolation itself is
//! delegated to [`crate::interpolate`]. [`parse_raw`] implements Compose's
//! `format: raw`, where values are taken verbatim.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::interpolate::{self, Variables};

/// One `NAME=value` line; value None means `NAME` appeared without `=` (meaning "unset" / take from environment, caller decides).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The variable name.
    pub name: String,
    /// The value after quoting, escapes and interpolation; None for a bare `NAME`.
    pub value: Option<String>,
    /// The 1-based line the entry starts on.
    pub line: usize,
}

/// Why an env file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The text is not in the env-file format here: an invalid variable
    /// name, a missing `=`, an unterminated quote (reported at the opening
    /// quote) or text after a closing quote.
    #[error("line {line}, column {col}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        col: usize,
        /// What is wrong.
        message: String,
    },
    /// An unquoted or double-quoted value failed to interpolate, e.g.
    /// `${VAR:?msg}` with `VAR` unset or a malformed `${`; the position is
    /// that of the offending `$`.
    #[error("line {line}, column {col}: {source}")]
    Interpolation {
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        col: usize,
        /// The interpolation failure.
        #[source]
        source: interpolate::Error,
    },
}

impl Error {
    /// The 1-based line of the error.
    #[must_use]
    pub fn line(&self) -> usize {
        match self {
            Error::Syntax { line, .. } | Error::Interpolation { line, .. } => *line,
        }
    }

    /// The 1-based column of the error, counted in characters.
    #[must_use]
    pub fn col(&self) -> usize {
        match self {
            Error::Syntax { col, .. } | Error::Interpolation { col, .. } => *col,
        }
    }
}

/// Parses an env file, interpolating unquoted and double-quoted values.
///
/// Variables are looked up first among the entries defined on earlier lines
/// of `source` (the latest definition wins), then in `vars`. An earlier bare
/// `NAME` line (no `=`) hides an earlier definition of `NAME` from that
/// lookup, so later lines see whatever `vars` says about it. Entries are
/// returned in file order, duplicates included.
///
/// # Errors
///
/// [`Error::Syntax`] for text that is not in the env-file format and
/// [`Error::Interpolation`] when a value fails to interpolate; parsing stops
/// at the first error.
pub fn parse(source: &str, vars: &dyn Variables) -> Result<Vec<Entry>, Error> {
    let text = normalize(source);
    let mut parser = Parser::new(&text);
    let mut defined: BTreeMap<String, String> = BTreeMap::new();
    let mut entries = Vec::new();
    while let Some(statement) = parser.next_statement()? {
        let value = match statement.value {
            RawValue::Bare => None,
            RawValue::Literal(value) => Some(value),
            RawValue::Template(template) => Some(parser.interpolate(&template, &(&defined, vars))?),
        };
        match &value {
            Some(v) => defined.insert(statement.name.clone(), v.clone()),
            None => defined.remove(&statement.name),
        };
        entries.push(Entry {
            name: statement.name,
            value,
            line: statement.line,
        });
    }
    Ok(entries)
}

/// Parse without interpolation (format: raw).
///
/// This is Compose's `format: raw` (the `docker run --env-file` syntax): each
/// non-blank line that does not start with `#` is `NAME=value` or `NAME`, and
/// everything after the first `=` is the value, verbatim: quotes, `$`, `#`
/// and surrounding whitespace included. Only whitespace around the name is
/// ignored. A BOM and CRLF line endings are still handled.
///
/// # Errors
///
/// [`Error::Syntax`] for the first line whose name is invalid.
pub fn parse_raw(source: &str) -> Result<Vec<Entry>, Error> {
    let text = normalize(source);
    let mut entries = Vec::new();
    for (index, line) in text.split('\n').enumerate() {
        let body = line.trim_start_matches(is_hspace_char);
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let indent = line.len() - body.len();
        let (name_part, value) = match body.split_once('=') {
            Some((name, value)) => (name, Some(value.to_owned())),
            None => (body, None),
        };
        let name = name_part.trim_end_matches(is_hspace_char);
        let Some((at, message)) = name_problem(name) else {
            entries.push(Entry {
                name: name.to_owned(),
                value,
                line: index + 1,
            });
            continue;
        };
        let col = line[..indent + at].chars().count() + 1;
        return Err(Error::Syntax {
            line: index + 1,
            col,
            message,
        });
    }
    Ok(entries)
}

/// Strips a UTF-8 byte-order mark and turns CRLF into LF.
///
/// Both only ever sit at line ends or before line 1, so line and column
/// numbers computed on the result are the ones an editor shows.
fn normalize(source: &str) -> Cow<'_, str> {
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    if source.contains("\r\n") {
        Cow::Owned(source.replace("\r\n", "\n"))
    } else {
        Cow::Borrowed(source)
    }
}

/// Space that separates tokens on a line; a lone `\r` counts, so files with
/// stray carriage returns still parse.
fn is_hspace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\x0b' | b'\x0c')
}

fn is_hspace_char(c: char) -> bool {
    c.is_ascii() && is_hspace(c as u8)
}

/// Where `name` breaks `[A-Za-z_][A-Za-z0-9_.-]*`, as a byte index and message.
fn name_problem(name: &str) -> Option<(usize, String)> {
    let mut chars = name.char_indices();
    let Some((_, first)) = chars.next() else {
        return Some((0, "expected a variable name".to_owned()));
    };
    if !(first == '_' || first.is_ascii_alphabetic()) {
        return Some((
            0,
            format!("variable name {name:?} must start with a letter or \"_\""),
        ));
    }
    chars
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
        .map(|(at, c)| (at, format!("unexpected character {c:?} in variable name")))
}

/// A value as read from the file, before interpolation.
enum RawValue {
    /// `NAME` with no `=`.
    Bare,
    /// A single-quoted value, final as it is.
    Literal(String),
    /// An unquoted or double-quoted value, still to be interpolated.
    Template(Template),
}

/// Interpolation input plus, for each of its bytes, the source byte it came
/// from; escapes make the two differ, and errors must point into the file.
struct Template {
    text: String,
    origins: Vec<usize>,
}

impl Template {
    fn new() -> Self {
        Self {
            text: String::new(),
            origins: Vec::new(),
        }
    }

    fn push_str(&mut self, s: &str, origin: usize) {
        self.text.push_str(s);
        self.origins.resize(self.text.len(), origin);
    }

    fn push_char(&mut self, c: char, origin: usize) {
        self.push_str(c.encode_utf8(&mut [0; 4]), origin);
    }
}

struct Statement {
    name: String,
    line: usize,
    value: RawValue,
}

/// A cursor over the normalized file text.
///
/// All bytes it branches on are ASCII, so every position it stops at is a
/// char boundary.
struct Parser<'s> {
    src: &'s str,
    bytes: &'s [u8],
    pos: usize,
    line_starts: Vec<usize>,
}

impl<'s> Parser<'s> {
    fn new(src: &'s str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(src.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self {
            src,
            bytes: src.as_bytes(),
            pos: 0,
            line_starts,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn peek_char(&self) -> Option<char> {
        self.src
            .get(self.pos..)
            .and_then(|rest| rest.chars().next())
    }

    /// The 1-based line and character column of a byte offset.
    fn position(&self, offset: usize) -> (usize, usize) {
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let start = self.line_starts.get(line - 1).copied().unwrap_or(0);
        let col = self.src.get(start..offset).map_or(0, |s| s.chars().count());
        (line, col + 1)
    }

    fn syntax(&self, offset: usize, message: impl Into<String>) -> Error {
        let (line, col) = self.position(offset);
        Error::Syntax {
            line,
            col,
            message: message.into(),
        }
    }

    fn skip_hspace(&mut self) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(is_hspace) {
            self.pos += 1;
        }
        self.pos > start
    }

    /// Moves to the `\n` ending the current line (or the end of input).
    fn skip_to_line_end(&mut self) {
        self.pos = self.line_end(self.pos);
    }

    fn line_end(&self, from: usize) -> usize {
        self.src[from..]
            .find('\n')
            .map_or(self.src.len(), |i| from + i)
    }

    /// Skips blank and comment lines; false at end of input.
    fn skip_to_statement(&mut self) -> bool {
        loop {
            while self.peek().is_some_and(|b| b == b'\n' || is_hspace(b)) {
                self.pos += 1;
            }
            match self.peek() {
                None => return false,
                Some(b'#') => self.skip_to_line_end(),
                Some(_) => return true,
            }
        }
    }

    fn next_statement(&mut self) -> Result<Option<Statement>, Error> {
        if !self.skip_to_statement() {
            return Ok(None);
        }
        let (line, _) = self.position(self.pos);
        self.skip_export();
        let name = self.name()?;
        let spaced = self.skip_hspace();
        let value = match self.peek() {
            None | Some(b'\n') => RawValue::Bare,
            Some(b'#') if spaced => {
                self.skip_to_line_end();
                RawValue::Bare
            }
            Some(b'=') => {
                self.pos += 1;
                self.value()?
            }
            Some(_) => {
                return Err(self.syntax(
                    self.pos,
                    format!("expected \"=\" after variable name {name:?}"),
                ));
            }
        };
        Ok(Some(Statement { name, line, value }))
    }

    /// Drops a leading `export ` when a name follows it; `export` on its own
    /// is then an ordinary variable name.
    fn skip_export(&mut self) {
        let Some(rest) = self.src[self.pos..].strip_prefix("export") else {
            return;
        };
        let after = rest.trim_start_matches(is_hspace_char);
        let spaced = after.len() < rest.len();
        if spaced && after.starts_with(|c: char| c == '_' || c.is_ascii_alphabetic()) {
            self.pos = self.src.len() - after.len();
        }
    }

    fn name(&mut self) -> Result<String, Error> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|b| !(b == b'=' || b == b'\n' || is_hspace(b)))
        {
            self.pos += 1;
        }
        let name = &self.src[start..self.pos];
        match name_problem(name) {
            Some((at, message)) => Err(self.syntax(start + at, message)),
            None => Ok(name.to_owned()),
        }
    }

    /// Reads the value after `=`, leaving the cursor at the end of its line.
    fn value(&mut self) -> Result<RawValue, Error> {
        let spaced = self.skip_hspace();
        let value = match self.peek() {
            Some(b'\'') => RawValue::Literal(self.single_quoted()?),
            Some(b'"') => RawValue::Template(self.double_quoted()?),
            _ => return Ok(RawValue::Template(self.unquoted(spaced))),
        };
        self.after_closing_quote()?;
        Ok(value)
    }

    /// An unquoted value runs to the end of the line; a `#` preceded by
    /// whitespace starts a comment (so `a#b` keeps its `#`).
    fn unquoted(&mut self, spaced: bool) -> Template {
        let start = self.pos;
        let end = self.line_end(start);
        let comment = (start..end).find(|&i| {
            let preceded_by_space = if i == start {
                spaced
            } else {
                is_hspace(self.bytes[i - 1])
            };
            self.bytes[i] == b'#' && preceded_by_space
        });
        let text = self.src[start..comment.unwrap_or(end)].trim_end_matches(is_hspace_char);
        self.pos = end;
        Template {
            text: text.to_owned(),
            origins: (start..start + text.len()).collect(),
        }
    }

    /// Single quotes keep everything literally; only `\'` stands for a quote,
    /// as the Compose documentation's `'Let\'s go!'` example requires.
    fn single_quoted(&mut self) -> Result<String, Error> {
        let open = self.pos;
        self.pos += 1;
        let mut value = String::new();
        loop {
            let c = self.peek_char().ok_or_else(|| self.unterminated(open))?;
            self.pos += c.len_utf8();
            match c {
                '\'' => return Ok(value),
                '\\' => {
                    let next = self.peek_char().ok_or_else(|| self.unterminated(open))?;
                    self.pos += next.len_utf8();
                    if next != '\'' {
                        value.push('\\');
                    }
                    value.push(next);
                }
                _ => value.push(c),
            }
        }
    }

    fn double_quoted(&mut self) -> Result<Template, Error> {
        let open = self.pos;
        self.pos += 1;
        let mut template = Template::new();
        loop {
            let at = self.pos;
            let c = self.peek_char().ok_or_else(|| self.unterminated(open))?;
            self.pos += c.len_utf8();
            match c {
                '"' => return Ok(template),
                '\\' => self.escape(open, at, &mut template)?,
                _ => template.push_char(c, at),
            }
        }
    }

    /// Handles the character after a `\` inside double quotes (`at` is the
    /// backslash). Unknown escapes stay as written, backslash included.
    fn escape(&mut self, open: usize, at: usize, template: &mut Template) -> Result<(), Error> {
        let next = self.peek().ok_or_else(|| self.unterminated(open))?;
        let replacement = match next {
            b'n' => "\n",
            b't' => "\t",
            b'r' => "\r",
            b'\\' => "\\",
            b'"' => "\"",
            // `$$` is how the interpolation syntax spells a literal dollar,
            // so `\$HOME` survives interpolation as `$HOME`.
            b'$' => "$$",
            _ => {
                template.push_char('\\', at);
                return Ok(());
            }
        };
        self.pos += 1;
        template.push_str(replacement, at);
        Ok(())
    }

    fn unterminated(&self, open: usize) -> Error {
        let kind = if self.bytes.get(open) == Some(&b'"') {
            "double"
        } else {
            "single"
        };
        self.syntax(open, format!("unterminated {kind}-quoted value"))
    }

    /// After a closing quote only whitespace and a `# comment` may follow.
    fn after_closing_quote(&mut self) -> Result<(), Error> {
        self.skip_hspace();
        match self.peek() {
            None | Some(b'\n') => Ok(()),
            Some(b'#') => {
                self.skip_to_line_end();
                Ok(())
            }
            Some(_) => Err(self.syntax(
                self.pos,
                "unexpected text after closing quote; only a \"# comment\" may follow",
            )),
        }
    }

    fn interpolate(&self, template: &Template, vars: &dyn Variables) -> Result<String, Error> {
        match interpolate::interpolate(&template.text, vars) {
            Ok(done) => Ok(done.value),
            Err(source) => {
                let origin = template
                    .origins
                    .get(source.offset())
                    .copied()
                    .unwrap_or(self.pos);
                let (line, col) = self.position(origin);
                Err(Error::Interpolation { line, col, source })
            }
        }
    }
}

#[cfg(test)]
#[path = "dotenv_test.rs"]
mod tests;
