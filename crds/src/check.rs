//! Validate a located YAML tree against a JSON Schema and build the JSON the typed model reads.
//!
//! One walk does both: every problem is reported with its span (not just the first, as serde
//! would), and the JSON it returns is already shaped for deserialisation — scalars coerced the
//! way Compose casts them (`replicas: "3"`), extension and ignored keys dropped. Only the schema
//! features that the model's generated schema uses are supported: `$ref`, `type`, `properties`,
//! `additionalProperties`, `patternProperties`, `required`, `items`, `enum`, `const`, `anyOf`,
//! `oneOf`, `minimum`/`maximum`, `format` (via a callback) and `pattern`.

use serde_json::{Map, Value as Json};

use crate::diagnostic::{Diagnostic, Span};
use crate::yaml::json::{Scalar, resolve, scalar_to_json};
use crate::yaml::node::{Node, PathSeg, Value, display_path};

/// Checks a string against a named `format`; `None` when the format is not one we check.
pub type FormatCheck = fn(format: &str, value: &str) -> Option<Result<(), FormatError>>;

/// A failed format check: the rule id to report and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError {
    /// Rule id, e.g. `invalid-duration`.
    pub rule: &'static str,
    /// What is wrong with the value.
    pub message: String,
}

/// The outcome of checking a tree.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The tree as JSON, shaped for the typed model (meaningful only without errors).
    pub json: Json,
    /// Every problem found.
    pub diagnostics: Vec<Diagnostic>,
}

/// Check `node` against `schema` (a root schema whose `$ref`s point into itself).
pub fn check(schema: &Json, node: &Node, formats: FormatCheck) -> Checked {
    let checker = Checker {
        root: schema,
        formats,
    };
    let mut path = Vec::new();
    let mut diagnostics = Vec::new();
    let json = checker.walk(schema, node, &mut path, &mut diagnostics);
    Checked { json, diagnostics }
}

struct Checker<'a> {
    root: &'a Json,
    formats: FormatCheck,
}

/// What a node is, in schema terms.
fn kind_of(node: &Node) -> &'static str {
    match &node.value {
        Value::Map(_) => "object",
        Value::Seq(_) => "array",
        Value::Scalar(text, style) => match resolve(text, *style) {
            Scalar::Null => "null",
            Scalar::Bool(_) => "boolean",
            Scalar::Int(_) => "integer",
            Scalar::Float(_) => "number",
            Scalar::Str => "string",
        },
    }
}

fn describe(kind: &str) -> &'static str {
    match kind {
        "object" => "a mapping",
        "array" => "a list",
        "string" => "a string",
        "integer" => "an integer",
        "number" => "a number",
        "boolean" => "a boolean",
        "null" => "empty (null)",
        _ => "a value",
    }
}

fn where_(path: &[PathSeg]) -> String {
    if path.is_empty() {
        "the file".to_owned()
    } else {
        format!("`{}`", display_path(path))
    }
}

fn schema_types(schema: &Json) -> Vec<&str> {
    match schema.get("type") {
        Some(Json::String(t)) => vec![t.as_str()],
        Some(Json::Array(ts)) => ts.iter().filter_map(Json::as_str).collect(),
        _ => Vec::new(),
    }
}

impl<'a> Checker<'a> {
    fn resolve_ref(&self, schema: &'a Json) -> &'a Json {
        let mut schema = schema;
        // Bounded: a ref cycle in a generated schema would be a bug, not user input.
        for _ in 0..32 {
            // schemars wraps documented references as `allOf: [{$ref}]`; that is the reference.
            if schema.get("type").is_none()
                && let Some([only]) = schema
                    .get("allOf")
                    .and_then(Json::as_array)
                    .map(Vec::as_slice)
            {
                schema = only;
                continue;
            }
            match schema.get("$ref").and_then(Json::as_str) {
                Some(r) => match r.strip_prefix('#').and_then(|p| self.root.pointer(p)) {
                    Some(target) => schema = target,
                    None => return schema,
                },
                None => return schema,
            }
        }
        schema
    }

    fn walk(
        &self,
        schema: &'a Json,
        node: &Node,
        path: &mut Vec<PathSeg>,
        out: &mut Vec<Diagnostic>,
    ) -> Json {
        let schema = self.resolve_ref(schema);
        if let Some(branches) = schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(Json::as_array)
        {
            return self.walk_alternatives(branches, node, path, out);
        }
        if let Some(values) = schema.get("enum").and_then(Json::as_array) {
            return self.walk_enum(values, node, path, out);
        }
        if let Some(c) = schema.get("const") {
            return self.walk_enum(std::slice::from_ref(c), node, path, out);
        }
        let types = schema_types(schema);
        let kind = kind_of(node);
        let Some(json) = self.coerce(&types, kind, node) else {
            let expected: Vec<&str> = types
                .iter()
                .filter(|t| **t != "null")
                .map(|t| describe(t))
                .collect();
            out.push(
                Diagnostic::error(
                    "wrong-type",
                    format!(
                        "{} must be {}, found {}",
                        where_(path),
                        expected.join(" or "),
                        describe(kind)
                    ),
                )
                .at(node.span),
            );
            return Json::Null;
        };
        match &node.value {
            Value::Map(_) => self.walk_object(schema, node, path, out),
            Value::Seq(items) => self.walk_array(schema, items, path, out),
            Value::Scalar(..) => {
                self.check_scalar(schema, node, &json, path, out);
                json
            }
        }
    }

    /// The node's JSON if its kind is acceptable for `types`, applying Compose's scalar casts.
    fn coerce(&self, types: &[&str], kind: &str, node: &Node) -> Option<Json> {
        let Value::Scalar(text, style) = &node.value else {
            return (types.is_empty() || types.contains(&kind)).then(|| Json::Null);
        };
        let natural = scalar_to_json(text, *style);
        if types.is_empty()
            || types.contains(&kind)
            || (kind == "integer" && types.contains(&"number"))
        {
            return Some(natural);
        }
        let scalar_kind = matches!(kind, "integer" | "number" | "boolean" | "string");
        if types.contains(&"string") && scalar_kind {
            return Some(Json::String(text.clone()));
        }
        if kind == "string" {
            if types.contains(&"integer")
                && let Ok(i) = text.trim().parse::<i64>()
            {
                return Some(Json::from(i));
            }
            if types.contains(&"number")
                && let Ok(f) = text.trim().parse::<f64>()
            {
                return serde_json::Number::from_f64(f).map(Json::Number);
            }
            if types.contains(&"boolean") && matches!(text.as_str(), "true" | "false") {
                return Some(Json::Bool(text == "true"));
            }
        }
        None
    }

    /// `anyOf`/`oneOf`: the first branch that fits wins; otherwise report the errors of the
    /// branch that came closest (fewest problems) among those of the right kind.
    fn walk_alternatives(
        &self,
        branches: &'a [Json],
        node: &Node,
        path: &mut Vec<PathSeg>,
        out: &mut Vec<Diagnostic>,
    ) -> Json {
        if let Some(values) = const_values(self, branches) {
            return self.walk_enum(&values, node, path, out);
        }
        let mut best: Option<(usize, Json, Vec<Diagnostic>)> = None;
        for branch in branches {
            let branch = self.resolve_ref(branch);
            if !self.shallow_match(branch, node) {
                continue;
            }
            let mut issues = Vec::new();
            let json = self.walk(branch, node, path, &mut issues);
            if issues.is_empty() {
                return json;
            }
            if best.as_ref().is_none_or(|(n, _, _)| issues.len() < *n) {
                best = Some((issues.len(), json, issues));
            }
        }
        if let Some((_, json, issues)) = best {
            out.extend(issues);
            return json;
        }
        let mut expected: Vec<&str> = branches
            .iter()
            .flat_map(|b| schema_types(self.resolve_ref(b)))
            .filter(|t| *t != "null")
            .map(describe)
            .collect();
        expected.dedup();
        out.push(
            Diagnostic::error(
                "wrong-type",
                format!(
                    "{} must be {}, found {}",
                    where_(path),
                    expected.join(" or "),
                    describe(kind_of(node))
                ),
            )
            .at(node.span),
        );
        Json::Null
    }

    /// Whether `node` is of a kind the branch accepts, ignoring everything below it.
    fn shallow_match(&self, branch: &Json, node: &Node) -> bool {
        if let Some(inner) = branch
            .get("anyOf")
            .or_else(|| branch.get("oneOf"))
            .and_then(Json::as_array)
        {
            return inner
                .iter()
                .any(|b| self.shallow_match(self.resolve_ref(b), node));
        }
        if branch.get("enum").is_some() || branch.get("const").is_some() {
            return matches!(node.value, Value::Scalar(..));
        }
        let types = schema_types(branch);
        self.coerce(&types, kind_of(node), node).is_some()
    }

    fn walk_enum(
        &self,
        values: &[Json],
        node: &Node,
        path: &[PathSeg],
        out: &mut Vec<Diagnostic>,
    ) -> Json {
        let given = match &node.value {
            Value::Scalar(text, style) => scalar_to_json(text, *style),
            _ => Json::Null,
        };
        let text = node.as_str().unwrap_or_default();
        for v in values {
            if *v == given || v.as_str() == Some(text) {
                return v.clone();
            }
        }
        let names: Vec<String> = values
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .collect();
        let mut d = Diagnostic::error(
            "invalid-value",
            format!(
                "invalid value `{}` for {}: expected one of {}",
                if node.as_str().is_some() {
                    text.to_owned()
                } else {
                    describe(kind_of(node)).to_owned()
                },
                where_(path),
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .at(node.span);
        if let Some(s) = suggest(text, names.iter().map(String::as_str)) {
            d = d.with_help(format!("did you mean `{s}`?"));
        }
        out.push(d);
        Json::Null
    }

    fn walk_object(
        &self,
        schema: &'a Json,
        node: &Node,
        path: &mut Vec<PathSeg>,
        out: &mut Vec<Diagnostic>,
    ) -> Json {
        let Some(map) = node.as_map() else {
            return Json::Null;
        };
        let props = schema.get("properties").and_then(Json::as_object);
        let additional = schema.get("additionalProperties");
        let patterns = schema.get("patternProperties").and_then(Json::as_object);
        let mut result = Map::new();
        for (key, value) in map.iter() {
            path.push(PathSeg::Key(key.text.clone()));
            if let Some(prop) = props.and_then(|p| p.get(&key.text)) {
                if prop.get(crate::compose::IGNORED_KEYWORD).is_none() {
                    let json = self.walk(prop, value, path, out);
                    result.insert(key.text.clone(), json);
                }
            } else if patterns.is_some_and(|p| p.keys().any(|pat| key_matches(pat, &key.text))) {
                // Extension keys are free-form and not part of the model.
            } else if let Some(extra) = additional.filter(|a| a.is_object()) {
                let json = self.walk(extra, value, path, out);
                result.insert(key.text.clone(), json);
            } else if additional == Some(&Json::Bool(false)) {
                out.push(unknown_key(path, key.span, props));
            } else {
                result.insert(
                    key.text.clone(),
                    crate::yaml::json::to_json(value, &|_| false),
                );
            }
            path.pop();
        }
        self.check_required(schema, map, node.span, path, out);
        Json::Object(result)
    }

    fn check_required(
        &self,
        schema: &Json,
        map: &crate::yaml::node::Mapping,
        span: Span,
        path: &[PathSeg],
        out: &mut Vec<Diagnostic>,
    ) {
        for req in schema
            .get("required")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(req) = req.as_str()
                && map.get(req).is_none()
            {
                out.push(
                    Diagnostic::error(
                        "missing-key",
                        format!("{} is missing the required key `{req}`", where_(path)),
                    )
                    .at(span),
                );
            }
        }
    }

    fn walk_array(
        &self,
        schema: &'a Json,
        items: &[Node],
        path: &mut Vec<PathSeg>,
        out: &mut Vec<Diagnostic>,
    ) -> Json {
        let item_schema = schema.get("items");
        let mut result = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            path.push(PathSeg::Index(i));
            result.push(match item_schema {
                Some(s) => self.walk(s, item, path, out),
                None => crate::yaml::json::to_json(item, &|_| false),
            });
            path.pop();
        }
        Json::Array(result)
    }

    fn check_scalar(
        &self,
        schema: &Json,
        node: &Node,
        json: &Json,
        path: &[PathSeg],
        out: &mut Vec<Diagnostic>,
    ) {
        if let Some(n) = json.as_f64() {
            check_range(schema, n, node, path, out);
        }
        let Some(text) = json.as_str() else {
            return;
        };
        if let Some(format) = schema.get("format").and_then(Json::as_str)
            && let Some(result) = (self.formats)(format, text)
        {
            if let Err(e) = result {
                out.push(Diagnostic::error(e.rule, e.message).at(node.span));
            }
            return;
        }
        if let Some(pattern) = schema.get("pattern").and_then(Json::as_str)
            && let Ok(re) = regex::Regex::new(pattern)
            && !re.is_match(text)
        {
            out.push(
                Diagnostic::error(
                    "invalid-value",
                    format!("invalid value `{text}` for {}", where_(path)),
                )
                .at(node.span)
                .with_help(format!("the value must match `{pattern}`")),
            );
        }
    }
}

fn check_range(schema: &Json, n: f64, node: &Node, path: &[PathSeg], out: &mut Vec<Diagnostic>) {
    let min = schema.get("minimum").and_then(Json::as_f64);
    let max = schema.get("maximum").and_then(Json::as_f64);
    let too_small = min.is_some_and(|m| n < m);
    let too_big = max.is_some_and(|m| n > m);
    if !(too_small || too_big) {
        return;
    }
    let bound = match (min, max) {
        (Some(a), Some(b)) if b < 1e15 => format!("between {a} and {b}"),
        (Some(a), _) => {
            if a == 0.0 {
                "0 or more (counts cannot be negative)".to_owned()
            } else {
                format!("at least {a}")
            }
        }
        (None, Some(b)) => format!("at most {b}"),
        (None, None) => return,
    };
    out.push(
        Diagnostic::error(
            "out-of-range",
            format!("{} must be {bound}, found {n}", where_(path)),
        )
        .at(node.span),
    );
}

/// All branches are constants (a documented enum): treat them as one enum.
fn const_values(checker: &Checker<'_>, branches: &[Json]) -> Option<Vec<Json>> {
    let mut values = Vec::new();
    for b in branches {
        let b = checker.resolve_ref(b);
        if let Some(c) = b.get("const") {
            values.push(c.clone());
        } else if let Some(e) = b.get("enum").and_then(Json::as_array) {
            values.extend(e.iter().cloned());
        } else {
            return None;
        }
    }
    Some(values)
}

fn key_matches(pattern: &str, key: &str) -> bool {
    match pattern.strip_prefix('^') {
        Some(prefix) if !prefix.contains(['*', '.', '[', '(', '+', '?', '$', '\\']) => {
            key.starts_with(prefix)
        }
        _ => regex::Regex::new(pattern).is_ok_and(|re| re.is_match(key)),
    }
}

fn unknown_key(path: &[PathSeg], span: Span, props: Option<&Map<String, Json>>) -> Diagnostic {
    let (parent, key) = match path.split_last() {
        Some((PathSeg::Key(k), parent)) => (parent, k.as_str()),
        _ => (path, ""),
    };
    let where_it_is = if parent.is_empty() {
        "at the top level".to_owned()
    } else {
        format!("in `{}`", display_path(parent))
    };
    let mut d =
        Diagnostic::error("unknown-key", format!("unknown key `{key}` {where_it_is}")).at(span);
    let names = props.into_iter().flat_map(|p| p.keys().map(String::as_str));
    d = match suggest(key, names) {
        Some(s) => d.with_help(format!("did you mean `{s}`?")),
        None => d.with_help("remove it, or prefix it with `x-` to keep it as an extension"),
    };
    d
}

/// The closest candidate to `given`, if one is close enough to be a likely typo.
pub fn suggest<'a>(given: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        let score = strsim::jaro_winkler(&given.to_lowercase(), &c.to_lowercase());
        if score > 0.8 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}
