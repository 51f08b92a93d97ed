//! Parser events → located tree, with anchors, aliases and `<<` merge keys resolved.
//!
//! The tree is built with an explicit stack, never recursion, so hostile nesting cannot overflow
//! the thread's stack; depth and alias expansion are bounded so a "billion laughs" document is an
//! error, not an out-of-memory kill.

use std::collections::HashMap;

use serde_saphyr::granit_parser::{
    Event, Marker, Parser, ScalarStyle as YamlStyle, Span as YamlSpan,
};

use super::node::{Key, Mapping, Node, ScalarStyle, Value};
use crate::diagnostic::{Diagnostic, Pos, Span};

/// Deepest nesting accepted; compose files are a handful of levels deep.
pub const MAX_DEPTH: usize = 128;
/// Most nodes a document may expand to once aliases are copied in.
pub const MAX_NODES: usize = 1_000_000;

/// The result of reading one YAML document.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// The document's root, or `None` when the file is empty or unreadable as YAML.
    pub root: Option<Node>,
    /// Problems found while reading: syntax errors, duplicate keys, bad merge keys.
    pub diagnostics: Vec<Diagnostic>,
}

/// Read `text` as one YAML document.
pub fn load(text: &str) -> Loaded {
    let mut builder = Builder::default();
    for item in Parser::new_from_str(text) {
        match item {
            Ok((event, span)) => {
                if let Err(fatal) = builder.event(event, span) {
                    builder.diagnostics.push(*fatal);
                    return builder.finish_failed();
                }
            }
            Err(err) => {
                let pos = pos(err.marker());
                let mut message = err.info();
                if message.is_empty() {
                    message = "invalid YAML".to_owned();
                }
                builder.diagnostics.push(
                    Diagnostic::error("yaml-syntax", format!("YAML syntax error: {message}"))
                        .at(Span::point(pos))
                        .with_help("fix the YAML syntax; the position is where the parser gave up"),
                );
                return builder.finish_failed();
            }
        }
    }
    builder.finish()
}

/// A collection under construction.
#[derive(Debug)]
enum Frame {
    Seq {
        start: Span,
        anchor: usize,
        nodes_before: usize,
        items: Vec<Node>,
    },
    Map {
        start: Span,
        anchor: usize,
        nodes_before: usize,
        entries: Vec<(Key, Node)>,
        pending_key: Option<PendingKey>,
        merges: Vec<(Span, Node)>,
    },
}

/// A key read but not yet paired with its value.
#[derive(Debug)]
enum PendingKey {
    Key(Key),
    /// `<<` written plain: the value is merged, not stored.
    Merge(Span),
    /// A non-scalar key, already reported: its value is dropped.
    Invalid,
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Node, usize)>,
    nodes: usize,
    root: Option<Node>,
    documents: usize,
    diagnostics: Vec<Diagnostic>,
}

fn pos(marker: &Marker) -> Pos {
    Pos {
        line: marker.line(),
        col: marker.col() + 1,
        offset: marker.byte_offset().unwrap_or(0),
    }
}

fn span(s: &YamlSpan) -> Span {
    Span {
        start: pos(&s.start),
        end: pos(&s.end),
    }
}

impl Builder {
    fn event(&mut self, event: Event<'_>, yspan: YamlSpan) -> Result<(), Box<Diagnostic>> {
        let at = span(&yspan);
        match event {
            Event::DocumentStart(..) => {
                self.documents += 1;
                if self.documents == 2 {
                    self.diagnostics.push(
                        Diagnostic::error(
                            "yaml-syntax",
                            "a stack file holds one YAML document; found a second one",
                        )
                        .at(at)
                        .with_help("split the documents into separate stack files"),
                    );
                }
            }
            Event::Scalar(text, style, anchor, _tag) => {
                let style = match style {
                    YamlStyle::Plain => ScalarStyle::Plain,
                    _ => ScalarStyle::Quoted,
                };
                let node = Node {
                    span: at,
                    value: Value::Scalar(text.into_owned(), style),
                };
                self.count(1, at)?;
                self.remember(anchor, node.clone(), 1);
                self.complete(node)?;
            }
            Event::Alias(id) => {
                let Some((node, size)) = self.anchors.get(&id).cloned() else {
                    return Err(Box::new(
                        Diagnostic::error("yaml-syntax", "alias to an unknown anchor").at(at),
                    ));
                };
                self.count(size, at)?;
                self.complete(node)?;
            }
            Event::SequenceStart(_, anchor, _) => {
                self.open(at)?;
                self.stack.push(Frame::Seq {
                    start: at,
                    anchor,
                    nodes_before: self.nodes,
                    items: Vec::new(),
                });
            }
            Event::MappingStart(_, anchor, _) => {
                self.open(at)?;
                self.stack.push(Frame::Map {
                    start: at,
                    anchor,
                    nodes_before: self.nodes,
                    entries: Vec::new(),
                    pending_key: None,
                    merges: Vec::new(),
                });
            }
            Event::SequenceEnd | Event::MappingEnd => self.close(at)?,
            _ => {}
        }
        Ok(())
    }

    fn open(&mut self, at: Span) -> Result<(), Box<Diagnostic>> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(Box::new(
                Diagnostic::error(
                    "yaml-syntax",
                    format!("nesting deeper than {MAX_DEPTH} levels"),
                )
                .at(at),
            ));
        }
        self.count(1, at)
    }

    fn count(&mut self, n: usize, at: Span) -> Result<(), Box<Diagnostic>> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            return Err(Box::new(
                Diagnostic::error(
                    "yaml-syntax",
                    format!("document expands to more than {MAX_NODES} nodes through aliases"),
                )
                .at(at)
                .with_help(
                    "stack files this large are almost certainly an alias loop or an alias bomb",
                ),
            ));
        }
        Ok(())
    }

    fn remember(&mut self, anchor: usize, node: Node, size: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, (node, size));
        }
    }

    fn close(&mut self, end: Span) -> Result<(), Box<Diagnostic>> {
        let Some(frame) = self.stack.pop() else {
            return Ok(());
        };
        let (node, anchor, nodes_before) = match frame {
            Frame::Seq {
                start,
                anchor,
                nodes_before,
                items,
            } => {
                let span = enclose(start, items.last().map(|n| n.span), end);
                (
                    Node {
                        span,
                        value: Value::Seq(items),
                    },
                    anchor,
                    nodes_before,
                )
            }
            Frame::Map {
                start,
                anchor,
                nodes_before,
                mut entries,
                merges,
                ..
            } => {
                let last = entries.last().map(|(_, n)| n.span);
                self.apply_merges(&mut entries, merges);
                let span = enclose(start, last, end);
                (
                    Node {
                        span,
                        value: Value::Map(Mapping { entries }),
                    },
                    anchor,
                    nodes_before,
                )
            }
        };
        let size = self.nodes - nodes_before;
        self.remember(anchor, node.clone(), size);
        self.complete(node)
    }

    /// `<<` merges: explicit keys win over merged ones, and earlier merge sources over later ones.
    fn apply_merges(&mut self, entries: &mut Vec<(Key, Node)>, merges: Vec<(Span, Node)>) {
        for (at, source) in merges {
            let maps: Vec<Node> = match source.value {
                Value::Map(_) => vec![source],
                Value::Seq(items) => items,
                Value::Scalar(..) => vec![source],
            };
            for map in maps {
                let Value::Map(m) = map.value else {
                    self.diagnostics.push(
                        Diagnostic::error(
                            "yaml-merge",
                            "a `<<` merge key needs a mapping or a list of mappings",
                        )
                        .at(at)
                        .with_help("merge an anchored mapping, e.g. `<<: *defaults`"),
                    );
                    continue;
                };
                for (k, v) in m.entries {
                    if !entries.iter().any(|(e, _)| e.text == k.text) {
                        entries.push((k, v));
                    }
                }
            }
        }
    }

    fn complete(&mut self, node: Node) -> Result<(), Box<Diagnostic>> {
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() && self.documents <= 1 {
                    self.root = Some(node);
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                pending_key,
                merges,
                ..
            }) => match pending_key.take() {
                None => *pending_key = Some(key_of(node, &mut self.diagnostics)),
                Some(PendingKey::Merge(at)) => merges.push((at, node)),
                Some(PendingKey::Invalid) => {}
                Some(PendingKey::Key(key)) => {
                    if let Some((first, _)) = entries.iter().find(|(k, _)| k.text == key.text) {
                        self.diagnostics.push(
                            Diagnostic::error(
                                "duplicate-key",
                                format!("duplicate key `{}`", key.text),
                            )
                            .at(key.span)
                            .with_help(format!(
                                "`{}` is already set on line {}; keep one of them",
                                key.text, first.span.start.line
                            )),
                        );
                    } else {
                        entries.push((key, node));
                    }
                }
            },
        }
        Ok(())
    }

    fn finish(mut self) -> Loaded {
        // A document that is only a scalar `null` or empty is an empty file.
        if self.root.as_ref().is_some_and(|r| r.is_null()) {
            self.root = None;
        }
        Loaded {
            root: self.root,
            diagnostics: self.diagnostics,
        }
    }

    fn finish_failed(self) -> Loaded {
        Loaded {
            root: None,
            diagnostics: self.diagnostics,
        }
    }
}

fn key_of(node: Node, diagnostics: &mut Vec<Diagnostic>) -> PendingKey {
    match node.value {
        Value::Scalar(text, style) => {
            if text == "<<" && style == ScalarStyle::Plain {
                PendingKey::Merge(node.span)
            } else {
                PendingKey::Key(Key {
                    text,
                    span: node.span,
                })
            }
        }
        _ => {
            diagnostics.push(
                Diagnostic::error("yaml-syntax", "mapping keys must be plain strings")
                    .at(node.span)
                    .with_help("compose files only use string keys"),
            );
            PendingKey::Invalid
        }
    }
}

/// The span of a collection: from its start to the end of its last child (block collections'
/// end events sit on the following line, which would point at the wrong place).
fn enclose(start: Span, last_child: Option<Span>, end: Span) -> Span {
    Span {
        start: start.start,
        end: last_child.map(|s| s.end).unwrap_or(end.end),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(text: &str) -> Node {
        let loaded = load(text);
        assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
        loaded.root.expect("root")
    }

    #[test]
    fn spans_are_one_based_lines_and_columns() {
        let r = root("services:\n  web:\n    image: nginx\n");
        let image = r
            .at(&["services".into(), "web".into(), "image".into()])
            .expect("image");
        assert_eq!(image.as_str(), Some("nginx"));
        assert_eq!((image.span.start.line, image.span.start.col), (3, 12));
        let key = r.key_span_at(&["services".into(), "web".into(), "image".into()]);
        assert_eq!((key.start.line, key.start.col), (3, 5));
    }

    #[test]
    fn merge_keys_apply_with_explicit_keys_winning() {
        let r = root("x-d: &d\n  a: 1\n  b: 2\ns:\n  <<: *d\n  b: 3\n");
        let s = r.get("s").and_then(Node::as_map).expect("map");
        let keys: Vec<_> = s
            .iter()
            .map(|(k, v)| (k.text.as_str(), v.as_str()))
            .collect();
        assert_eq!(keys, vec![("b", Some("3")), ("a", Some("1"))]);
    }

    #[test]
    fn merge_of_a_list_prefers_earlier_sources() {
        let r = root("x: &x {a: 1}\ny: &y {a: 2, b: 2}\nz:\n  <<: [*x, *y]\n");
        let z = r.get("z").expect("z");
        assert_eq!(z.get("a").and_then(Node::as_str), Some("1"));
        assert_eq!(z.get("b").and_then(Node::as_str), Some("2"));
    }

    #[test]
    fn duplicate_keys_are_reported_at_the_second_key() {
        let loaded = load("a: 1\nb: 2\na: 3\n");
        assert_eq!(loaded.diagnostics.len(), 1);
        let d = &loaded.diagnostics[0];
        assert_eq!(d.rule, "duplicate-key");
        assert_eq!(d.span.map(|s| (s.start.line, s.start.col)), Some((3, 1)));
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let loaded = load("a: [1,\nb: 2\n");
        assert!(loaded.root.is_none());
        assert_eq!(loaded.diagnostics[0].rule, "yaml-syntax");
        assert!(loaded.diagnostics[0].span.is_some());
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let p = i - 1;
            doc.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let loaded = load(&doc);
        assert!(loaded.root.is_none());
        assert!(
            loaded.diagnostics[0]
                .message
                .contains("nodes through aliases")
        );
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing() {
        let doc = "[".repeat(100_000);
        let loaded = load(&doc);
        assert!(loaded.root.is_none());
        assert!(!loaded.diagnostics.is_empty());
    }

    #[test]
    fn empty_documents_have_no_root() {
        assert!(load("").root.is_none());
        assert!(load("# just a comment\n").root.is_none());
        assert!(load("~\n").root.is_none());
    }

    #[test]
    fn second_documents_are_an_error() {
        let loaded = load("a: 1\n---\nb: 2\n");
        assert_eq!(loaded.diagnostics.len(), 1);
        assert!(loaded.root.expect("first document").get("a").is_some());
    }
}
