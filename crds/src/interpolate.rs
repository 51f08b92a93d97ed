//! Compose variable interpolation: the `$VAR` / `${VAR:-default}` template
//! language of the Compose specification ("Interpolation" section).
//!
//! This module owns the template syntax (parsing into segments, including
//! nested defaults), the substitution rules of every operator, the record of
//! variables that were referenced but unset, and the sources variables are
//! looked up in ([`Variables`]). It knows nothing about YAML: callers hand it
//! one scalar string at a time.
//!
//! It is stricter than compose-go in one respect: a `$` that starts no valid
//! expression (`$5`, a trailing `$`) is an error rather than literal text, so
//! a forgotten `$$` in a password is caught at lint time instead of silently
//! kept or mangled.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

/// How deeply `${A:-${B:-...}}` may nest before the template is rejected.
///
/// Parsing recurses once per level, so an unbounded depth would let a hostile
/// compose file overflow the stack.
const MAX_NESTING: usize = 64;

/// Appended to every syntax error, because the usual cause is a literal `$`
/// (a password, a shell snippet) that the author did not mean as a variable.
const DOLLAR_HINT: &str = "use \"$$\" for a literal dollar sign";

/// Where variable values come from.
pub trait Variables {
    /// The value of `name`, or None when unset. An empty string is "set but empty".
    fn get(&self, name: &str) -> Option<String>;
}

impl<S: BuildHasher> Variables for HashMap<String, String, S> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name).cloned()
    }
}

impl Variables for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        BTreeMap::get(self, name).cloned()
    }
}

/// Layered lookup: first hit wins (e.g. process env, then .env file).
///
/// A variable that is set but empty in `A` is a hit: it hides `B`'s value,
/// just as an empty exported shell variable hides a `.env` entry in Compose.
impl<A: Variables, B: Variables> Variables for (A, B) {
    fn get(&self, name: &str) -> Option<String> {
        self.0.get(name).or_else(|| self.1.get(name))
    }
}

/// Lets borrowed sources (including `&dyn Variables`) take part in layers.
impl<T: Variables + ?Sized> Variables for &T {
    fn get(&self, name: &str) -> Option<String> {
        (**self).get(name)
    }
}

/// The process environment.
///
/// Values that are not valid UTF-8 are converted lossily rather than treated
/// as unset, so that a variable the user did set is never reported missing.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Variables for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        // The standard library may panic on such names; none of them can be
        // set in an environment anyway.
        if name.is_empty() || name.contains(['=', '\0']) {
            return None;
        }
        std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
    }
}

/// The outcome of interpolating one string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpolated {
    /// The result string.
    pub value: String,
    /// Names referenced with no value and no default (compose warns and substitutes ""), in order of appearance, deduplicated.
    pub unset: Vec<String>,
    /// Whether any `$` substitution or `$$` escape happened (value differs from input syntax).
    pub substituted: bool,
}

/// Why a template could not be interpolated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// `${VAR:?msg}` / `${VAR?msg}` with the variable unset (or empty for `:?`).
    #[error("required variable {name} is missing a value{}", reason_suffix(.message))]
    RequiredUnset {
        /// The variable that had to be set.
        name: String,
        /// The interpolated message after `?`; may be empty.
        message: String,
        /// Byte offset of the `$` that starts the expression.
        offset: usize,
    },
    /// Malformed template like `${`, `${}`, `${VAR`, `$5`, `${VAR/x/y}`, a trailing lone `$`.
    #[error("invalid interpolation format at byte {offset}: {message} ({DOLLAR_HINT})")]
    InvalidSyntax {
        /// Byte offset of the `$` that starts the bad expression.
        offset: usize,
        /// What is wrong with the expression.
        message: String,
    },
}

impl Error {
    /// The byte offset into the interpolated input where the bad `$` expression starts.
    #[must_use]
    pub fn offset(&self) -> usize {
        match self {
            Error::RequiredUnset { offset, .. } | Error::InvalidSyntax { offset, .. } => *offset,
        }
    }
}

fn reason_suffix(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

/// Substitutes every `$` expression of `input` with values from `vars`.
///
/// The whole template is parsed before anything is evaluated, so a syntax
/// error is reported even when it sits in a default that would not be used;
/// evaluation itself is lazy, so an unused default never triggers `:?` errors
/// or `unset` records.
///
/// # Errors
///
/// [`Error::InvalidSyntax`] for a malformed template anywhere in `input`;
/// [`Error::RequiredUnset`] when an evaluated `?` / `:?` finds its variable
/// missing.
pub fn interpolate(input: &str, vars: &dyn Variables) -> Result<Interpolated, Error> {
    let segments = Parser::new(input).parse_top()?;
    let substituted = segments.iter().any(|s| !matches!(s, Segment::Literal(_)));
    let mut eval = Evaluator {
        vars,
        unset: Vec::new(),
    };
    let mut value = String::with_capacity(input.len());
    eval.run(&segments, &mut value)?;
    Ok(Interpolated {
        value,
        unset: eval.unset,
        substituted,
    })
}

/// One piece of a parsed template.
#[derive(Debug)]
enum Segment<'a> {
    /// Text copied through unchanged.
    Literal(&'a str),
    /// `$$`.
    Dollar,
    /// `$NAME`, `${NAME}` or `${NAME<op>arg}`.
    Var {
        name: &'a str,
        offset: usize,
        modifier: Option<Modifier<'a>>,
    },
}

/// The operator part of `${NAME<op>arg}`.
#[derive(Debug)]
struct Modifier<'a> {
    kind: ModKind,
    /// True for the `:` forms, which treat an empty value like an unset one.
    colon: bool,
    arg: Vec<Segment<'a>>,
}

#[derive(Debug, Clone, Copy)]
enum ModKind {
    /// `-`: use the argument when the variable is missing.
    Default,
    /// `?`: fail with the argument as message when the variable is missing.
    Required,
    /// `+`: use the argument when the variable is present.
    Alternative,
}

impl ModKind {
    fn from_byte(b: u8) -> Option<Self> {
        match b {
            b'-' => Some(Self::Default),
            b'?' => Some(Self::Required),
            b'+' => Some(Self::Alternative),
            _ => None,
        }
    }
}

fn is_name_start(b: u8) -> bool {
    b == b'_' || b.is_ascii_alphabetic()
}

fn is_name_continue(b: u8) -> bool {
    b == b'_' || b.is_ascii_alphanumeric()
}

/// A recursive-descent parser over the bytes of the template.
///
/// Every byte it inspects to make a decision is ASCII, so every index it
/// slices at is a char boundary even when the text around is not ASCII.
struct Parser<'a> {
    input: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(input: &'a str) -> Self {
        Self {
            input,
            bytes: input.as_bytes(),
            pos: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn syntax(offset: usize, message: impl Into<String>) -> Error {
        Error::InvalidSyntax {
            offset,
            message: message.into(),
        }
    }

    fn parse_top(&mut self) -> Result<Vec<Segment<'a>>, Error> {
        self.parse_sequence(None, 0)
    }

    /// Parses text until the end of input, or, inside `${...}` (when `open`
    /// holds the offset of that expression's `$`), until its unmatched `}`.
    fn parse_sequence(
        &mut self,
        open: Option<usize>,
        depth: usize,
    ) -> Result<Vec<Segment<'a>>, Error> {
        let mut segments = Vec::new();
        // Plain `{` inside an argument must be balanced by its own `}` so that
        // defaults such as `${CFG:-{"a":1}}` end at the right brace.
        let mut literal_braces = 0usize;
        loop {
            let start = self.pos;
            while let Some(b) = self.peek() {
                match b {
                    b'$' => break,
                    b'{' if open.is_some() => literal_braces += 1,
                    b'}' if open.is_some() => match literal_braces.checked_sub(1) {
                        Some(n) => literal_braces = n,
                        None => break,
                    },
                    _ => {}
                }
                self.pos += 1;
            }
            if self.pos > start {
                segments.push(Segment::Literal(&self.input[start..self.pos]));
            }
            match (self.peek(), open) {
                (Some(b'$'), _) => segments.push(self.parse_dollar(depth)?),
                (Some(_), Some(_)) => {
                    self.pos += 1; // the closing `}`
                    return Ok(segments);
                }
                (None, Some(offset)) => {
                    return Err(Self::syntax(offset, "missing closing \"}\""));
                }
                (_, None) => return Ok(segments),
            }
        }
    }

    /// Parses the expression starting at the `$` under the cursor.
    fn parse_dollar(&mut self, depth: usize) -> Result<Segment<'a>, Error> {
        let offset = self.pos;
        self.pos += 1;
        match self.peek() {
            Some(b'$') => {
                self.pos += 1;
                Ok(Segment::Dollar)
            }
            Some(b'{') => {
                self.pos += 1;
                self.parse_braced(offset, depth)
            }
            Some(b) if is_name_start(b) => Ok(Segment::Var {
                name: self.take_name(),
                offset,
                modifier: None,
            }),
            Some(_) => Err(Self::syntax(
                offset,
                format!(
                    "\"$\" followed by {} is not a variable reference",
                    self.describe_here()
                ),
            )),
            None => Err(Self::syntax(offset, "\"$\" at end of input")),
        }
    }

    /// Parses `NAME}` or `NAME<op>arg}` after an opening `${`.
    fn parse_braced(&mut self, offset: usize, depth: usize) -> Result<Segment<'a>, Error> {
        if depth >= MAX_NESTING {
            return Err(Self::syntax(
                offset,
                format!("more than {MAX_NESTING} nested \"${{\" expressions"),
            ));
        }
        let name = match self.peek() {
            Some(b) if is_name_start(b) => self.take_name(),
            Some(b'}') => return Err(Self::syntax(offset, "empty variable name in \"${}\"")),
            None => return Err(Self::syntax(offset, "missing closing \"}\"")),
            Some(_) => {
                return Err(Self::syntax(
                    offset,
                    format!(
                        "invalid variable name starting with {}",
                        self.describe_here()
                    ),
                ));
            }
        };
        let modifier = match self.peek() {
            Some(b'}') => {
                self.pos += 1;
                None
            }
            None => return Err(Self::syntax(offset, "missing closing \"}\"")),
            Some(_) => Some(self.parse_modifier(offset, depth)?),
        };
        Ok(Segment::Var {
            name,
            offset,
            modifier,
        })
    }

    /// Parses `:-arg}`, `-arg}`, `:?arg}`, `?arg}`, `:+arg}` or `+arg}`.
    fn parse_modifier(&mut self, offset: usize, depth: usize) -> Result<Modifier<'a>, Error> {
        let colon = self.peek() == Some(b':');
        if colon {
            self.pos += 1;
        }
        let Some(kind) = self.peek().and_then(ModKind::from_byte) else {
            let found = self.describe_here();
            return Err(Self::syntax(
                offset,
                format!(
                    "unsupported modifier {found} in \"${{...}}\"; expected one of \
                     \"}}\", \":-\", \"-\", \":?\", \"?\", \":+\", \"+\""
                ),
            ));
        };
        self.pos += 1;
        let arg = self.parse_sequence(Some(offset), depth + 1)?;
        Ok(Modifier { kind, colon, arg })
    }

    fn take_name(&mut self) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(is_name_continue) {
            self.pos += 1;
        }
        &self.input[start..self.pos]
    }

    /// Quotes the character under the cursor for an error message.
    fn describe_here(&self) -> String {
        match self
            .input
            .get(self.pos..)
            .and_then(|rest| rest.chars().next())
        {
            Some(c) => format!("{:?}", c.to_string()),
            None => "end of input".to_owned(),
        }
    }
}

/// Evaluates parsed segments against a variable source.
struct Evaluator<'v> {
    vars: &'v dyn Variables,
    unset: Vec<String>,
}

impl Evaluator<'_> {
    fn run(&mut self, segments: &[Segment<'_>], out: &mut String) -> Result<(), Error> {
        for segment in segments {
            match segment {
                Segment::Literal(text) => out.push_str(text),
                Segment::Dollar => out.push('$'),
                Segment::Var {
                    name,
                    offset,
                    modifier,
                } => self.variable(name, *offset, modifier.as_ref(), out)?,
            }
        }
        Ok(())
    }

    fn variable(
        &mut self,
        name: &str,
        offset: usize,
        modifier: Option<&Modifier<'_>>,
        out: &mut String,
    ) -> Result<(), Error> {
        let value = self.vars.get(name);
        let Some(modifier) = modifier else {
            match value {
                Some(v) => out.push_str(&v),
                None => self.record_unset(name),
            }
            return Ok(());
        };
        // `present` is what the operator tests: set, and for `:` forms also non-empty.
        let present = value
            .as_ref()
            .is_some_and(|v| !(modifier.colon && v.is_empty()));
        match (modifier.kind, present) {
            (ModKind::Default | ModKind::Required, true) => out.extend(value.as_deref()),
            (ModKind::Default, false) | (ModKind::Alternative, true) => {
                self.run(&modifier.arg, out)?;
            }
            (ModKind::Alternative, false) => {}
            (ModKind::Required, false) => {
                let mut message = String::new();
                self.run(&modifier.arg, &mut message)?;
                return Err(Error::RequiredUnset {
                    name: name.to_owned(),
                    message,
                    offset,
                });
            }
        }
        Ok(())
    }

    fn record_unset(&mut self, name: &str) {
        if !self.unset.iter().any(|n| n == name) {
            self.unset.push(name.to_owned());
        }
    }
}

#[cfg(test)]
#[path = "interpolate_test.rs"]
mod tests;
