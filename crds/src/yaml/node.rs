//! The located YAML tree and lookups by path.

use std::fmt;

use crate::diagnostic::Span;

/// How a scalar was written; quoting decides whether `80` is a number or a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarStyle {
    /// Unquoted: typed by the YAML 1.2 core schema (`80` is an integer, `true` a boolean).
    Plain,
    /// Single- or double-quoted, or a block scalar: always a string.
    Quoted,
}

/// One YAML node with the span of its source text.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Where the node's text is (for a mapping or sequence, from its first to its last child).
    pub span: Span,
    /// The content.
    pub value: Value,
}

/// The content of a node.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar, with its text after YAML escape processing.
    Scalar(String, ScalarStyle),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping with scalar keys, in source order.
    Map(Mapping),
}

/// A mapping key: its text and where it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// The key text (keys are never interpolated).
    pub text: String,
    /// Where the key is.
    pub span: Span,
}

/// Entries of a mapping in source order; keys are unique (the loader reports duplicates).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Mapping {
    /// The entries.
    pub entries: Vec<(Key, Node)>,
}

impl Mapping {
    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries
            .iter()
            .find(|(k, _)| k.text == key)
            .map(|(_, v)| v)
    }

    /// The key entry for `key` (to point at the key rather than its value).
    pub fn key(&self, key: &str) -> Option<&Key> {
        self.entries
            .iter()
            .find(|(k, _)| k.text == key)
            .map(|(k, _)| k)
    }

    /// Iterate over the entries.
    pub fn iter(&self) -> impl Iterator<Item = &(Key, Node)> {
        self.entries.iter()
    }
}

/// One step of a path into the tree: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathSeg {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

impl From<&str> for PathSeg {
    fn from(s: &str) -> Self {
        PathSeg::Key(s.to_owned())
    }
}

impl From<String> for PathSeg {
    fn from(s: String) -> Self {
        PathSeg::Key(s)
    }
}

impl From<usize> for PathSeg {
    fn from(i: usize) -> Self {
        PathSeg::Index(i)
    }
}

impl fmt::Display for PathSeg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathSeg::Key(k) => f.write_str(k),
            PathSeg::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// Render a path the way users write it: `services.web.ports[0]`.
pub fn display_path(path: &[PathSeg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            PathSeg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            PathSeg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

impl Node {
    /// The scalar text, if this is a scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(s, _) => Some(s),
            _ => None,
        }
    }

    /// The mapping, if this is one.
    pub fn as_map(&self) -> Option<&Mapping> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The sequence, if this is one.
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// True for a plain `null`, `~` or empty scalar.
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar(s, ScalarStyle::Plain)
            if s.is_empty() || s == "~" || s == "null" || s == "Null" || s == "NULL")
    }

    /// The value under `key` when this is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map().and_then(|m| m.get(key))
    }

    /// The node at `path`, if every step exists.
    pub fn at(&self, path: &[PathSeg]) -> Option<&Node> {
        let mut node = self;
        for seg in path {
            node = match (seg, &node.value) {
                (PathSeg::Key(k), Value::Map(m)) => m.get(k)?,
                (PathSeg::Index(i), Value::Seq(s)) => s.get(*i)?,
                _ => return None,
            };
        }
        Some(node)
    }

    /// The best span for `path`: the node itself, or the deepest ancestor that exists.
    pub fn span_at(&self, path: &[PathSeg]) -> Span {
        let mut node = self;
        for seg in path {
            let next = match (seg, &node.value) {
                (PathSeg::Key(k), Value::Map(m)) => m.get(k),
                (PathSeg::Index(i), Value::Seq(s)) => s.get(*i),
                _ => None,
            };
            match next {
                Some(n) => node = n,
                None => break,
            }
        }
        node.span
    }

    /// The span of the key at the end of `path` (falls back to the value's span).
    pub fn key_span_at(&self, path: &[PathSeg]) -> Span {
        if let Some((PathSeg::Key(last), parent)) = path.split_last()
            && let Some(key) = self
                .at(parent)
                .and_then(|p| p.as_map())
                .and_then(|m| m.key(last))
        {
            return key.span;
        }
        self.span_at(path)
    }
}
