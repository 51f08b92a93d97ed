//! Shapes that compose files allow in several places: a list or a map, a string or a list.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A scalar as compose accepts it where a string is meant (`DEBUG: 1`, `ENABLED: true`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ScalarValue {
    /// A string.
    String(String),
    /// A number, kept as written.
    Number(serde_json::Number),
    /// A boolean.
    Bool(bool),
}

impl ScalarValue {
    /// The value as the string a container would see.
    pub fn to_text(&self) -> String {
        match self {
            ScalarValue::String(s) => s.clone(),
            ScalarValue::Number(n) => n.to_string(),
            ScalarValue::Bool(b) => b.to_string(),
        }
    }
}

/// `KEY=value` entries written as a list, or a mapping of keys to scalars (environment, labels,
/// sysctls). A key with no value (`- KEY` or `KEY:`) is kept as `None`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ListOrMap {
    /// `- KEY=value` entries.
    List(Vec<String>),
    /// `KEY: value` entries.
    Map(IndexMap<String, Option<ScalarValue>>),
}

impl Default for ListOrMap {
    fn default() -> Self {
        ListOrMap::Map(IndexMap::new())
    }
}

impl ListOrMap {
    /// Entries in order, splitting list items at the first `sep`.
    pub fn entries(&self, sep: char) -> Vec<(String, Option<String>)> {
        match self {
            ListOrMap::List(items) => items
                .iter()
                .map(|item| match item.split_once(sep) {
                    Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
                    None => (item.clone(), None),
                })
                .collect(),
            ListOrMap::Map(map) => map
                .iter()
                .map(|(k, v)| (k.clone(), v.as_ref().map(ScalarValue::to_text)))
                .collect(),
        }
    }
}

/// A command written as a shell-style string or as an argument list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum StringOrList {
    /// A single string (split like a shell would for `command`/`entrypoint`).
    String(String),
    /// An explicit list.
    List(Vec<String>),
}

impl StringOrList {
    /// The items; a single string is one item.
    pub fn items(&self) -> Vec<String> {
        match self {
            StringOrList::String(s) => vec![s.clone()],
            StringOrList::List(l) => l.clone(),
        }
    }
}

/// `external: true`, or the legacy `external: {name: …}` form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum External {
    /// `external: true|false`.
    Bool(bool),
    /// `external: {name: real-name}` (deprecated in favour of `name:`).
    Named {
        /// The existing object's name.
        name: String,
    },
}

impl External {
    /// Whether the object must already exist.
    pub fn is_external(&self) -> bool {
        match self {
            External::Bool(b) => *b,
            External::Named { .. } => true,
        }
    }
}

/// Why a command string cannot be split into words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ShellWordsError {
    /// A `'` opens a quote that the string never closes.
    #[error("unterminated single quote")]
    UnterminatedSingleQuote,
    /// A `"` opens a quote that the string never closes (or it ends in a backslash inside one).
    #[error("unterminated double quote")]
    UnterminatedDoubleQuote,
}

/// Split a command string into arguments the way a POSIX shell would (quotes and backslashes),
/// as `docker stack deploy` does for string-form `command` and `entrypoint`.
pub fn split_shell_words(s: &str) -> Result<Vec<String>, ShellWordsError> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(ShellWordsError::UnterminatedSingleQuote),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(ShellWordsError::UnterminatedDoubleQuote),
                        },
                        Some(c) => word.push(c),
                        None => return Err(ShellWordsError::UnterminatedDoubleQuote),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') | None => {}
                    Some(c) => word.push(c),
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words() {
        let cases: &[(&str, &[&str])] = &[
            ("echo hi", &["echo", "hi"]),
            ("  a   b  ", &["a", "b"]),
            ("sh -c 'echo $HOME; ls'", &["sh", "-c", "echo $HOME; ls"]),
            (r#"say "a \"b\" c""#, &["say", r#"a "b" c"#]),
            (r"a\ b c", &["a b", "c"]),
            ("''", &[""]),
            ("", &[]),
        ];
        for (input, want) in cases {
            let got = split_shell_words(input).expect("valid");
            assert_eq!(
                got,
                want.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                "{input}"
            );
        }
        assert_eq!(
            split_shell_words("'open"),
            Err(ShellWordsError::UnterminatedSingleQuote)
        );
        assert_eq!(
            split_shell_words("\"open"),
            Err(ShellWordsError::UnterminatedDoubleQuote)
        );
    }

    #[test]
    fn list_or_map_entries() {
        let l = ListOrMap::List(vec!["A=1".into(), "B".into(), "C=x=y".into()]);
        assert_eq!(
            l.entries('='),
            vec![
                ("A".into(), Some("1".into())),
                ("B".into(), None),
                ("C".into(), Some("x=y".into()))
            ]
        );
    }
}
