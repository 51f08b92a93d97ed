//! The located tree → `serde_json::Value`, typing plain scalars by the YAML 1.2 core schema.
//!
//! Typed deserialisation goes through JSON values because the model's serde and schemars
//! derives then describe one format. Extension keys (`x-…`) are dropped on the way except the
//! ones the model reads, so `deny_unknown_fields` can stay strict for everything else.

use serde_json::{Map, Number, Value as Json};

use super::node::{Node, ScalarStyle, Value};

/// The type a scalar resolves to.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// `null`, `~` or empty.
    Null,
    /// `true` / `false` in their three spellings.
    Bool(bool),
    /// A decimal, octal (`0o`) or hex (`0x`) integer.
    Int(i64),
    /// A float, including `.inf` and `.nan`.
    Float(f64),
    /// Anything else, and every quoted scalar.
    Str,
}

/// Resolve a scalar's type the way YAML 1.2's core schema does.
pub fn resolve(text: &str, style: ScalarStyle) -> Scalar {
    if style == ScalarStyle::Quoted {
        return Scalar::Str;
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        "true" | "True" | "TRUE" => return Scalar::Bool(true),
        "false" | "False" | "FALSE" => return Scalar::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Scalar::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Scalar::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Scalar::Float(f64::NAN),
        _ => {}
    }
    if let Some(i) = parse_int(text) {
        return Scalar::Int(i);
    }
    if looks_like_float(text)
        && let Ok(f) = text.parse::<f64>()
    {
        return Scalar::Float(f);
    }
    Scalar::Str
}

fn parse_int(text: &str) -> Option<i64> {
    // Docker reads compose files with YAML 1.1 octals, and users write `mode: 0440` meaning
    // octal; honour that spelling while keeping 1.2's `0o` form.
    if text.len() > 1 && text.starts_with('0') && text.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return i64::from_str_radix(&text[1..], 8).ok();
    }
    if let Some(oct) = text.strip_prefix("0o") {
        return i64::from_str_radix(oct, 8).ok();
    }
    if let Some(hex) = text.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).ok();
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `[-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?`
fn looks_like_float(text: &str) -> bool {
    let t = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match frac {
        Some(f) => digits(int) && digits(f) && !(int.is_empty() && f.is_empty()),
        None => !int.is_empty() && digits(int),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok
}

/// The JSON value of a scalar.
pub fn scalar_to_json(text: &str, style: ScalarStyle) -> Json {
    match resolve(text, style) {
        Scalar::Null => Json::Null,
        Scalar::Bool(b) => Json::Bool(b),
        Scalar::Int(i) => Json::Number(i.into()),
        Scalar::Float(f) => {
            Number::from_f64(f).map_or_else(|| Json::String(text.to_owned()), Json::Number)
        }
        Scalar::Str => Json::String(text.to_owned()),
    }
}

/// Convert a tree to JSON, keeping only the extension keys for which `keep_extension` is true.
pub fn to_json(node: &Node, keep_extension: &dyn Fn(&str) -> bool) -> Json {
    match &node.value {
        Value::Scalar(text, style) => scalar_to_json(text, *style),
        Value::Seq(items) => {
            Json::Array(items.iter().map(|n| to_json(n, keep_extension)).collect())
        }
        Value::Map(m) => {
            let mut out = Map::new();
            for (k, v) in m.iter() {
                if k.text.starts_with("x-") && !keep_extension(&k.text) {
                    continue;
                }
                out.insert(k.text.clone(), to_json(v, keep_extension));
            }
            Json::Object(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_schema_typing() {
        use ScalarStyle::*;
        assert_eq!(resolve("80", Plain), Scalar::Int(80));
        assert_eq!(resolve("80", Quoted), Scalar::Str);
        assert_eq!(resolve("-3", Plain), Scalar::Int(-3));
        assert_eq!(resolve("0x1F", Plain), Scalar::Int(31));
        assert_eq!(resolve("0o17", Plain), Scalar::Int(15));
        assert_eq!(resolve("0440", Plain), Scalar::Int(0o440));
        assert_eq!(resolve("0", Plain), Scalar::Int(0));
        assert_eq!(resolve("089", Plain), Scalar::Int(89));
        assert_eq!(resolve("0.5", Plain), Scalar::Float(0.5));
        assert_eq!(resolve(".5", Plain), Scalar::Float(0.5));
        assert_eq!(resolve("1e3", Plain), Scalar::Float(1000.0));
        assert_eq!(resolve("true", Plain), Scalar::Bool(true));
        assert_eq!(resolve("yes", Plain), Scalar::Str);
        assert_eq!(resolve("~", Plain), Scalar::Null);
        assert_eq!(resolve("80:80", Plain), Scalar::Str);
        assert_eq!(resolve("1.2.3", Plain), Scalar::Str);
        assert_eq!(resolve("512M", Plain), Scalar::Str);
        assert_eq!(resolve("e5", Plain), Scalar::Str);
        assert_eq!(resolve(".", Plain), Scalar::Str);
    }
}
