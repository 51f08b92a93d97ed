//! `reconciler.yaml`: optional settings at the root of a desired-state tree.
//!
//! ```yaml
//! variables:            # for every stack (below the stack's own, above `.env`)
//!   REGISTRY: registry.example.com
//! stacks:               # when present, exactly these stacks are deployed
//!   shop:
//!     file: apps/shop/compose.yaml
//!     variables:
//!       TAG: "1.4.2"
//! ```

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::compose::ScalarValue;

/// The file name, at the root of the source's path.
pub const FILE_NAME: &str = "reconciler.yaml";

/// Contents of `reconciler.yaml`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "reconciler.yaml",
    description = "Settings of a reconciler desired-state repository."
)]
pub struct RepoConfig {
    /// Variables for every stack.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub variables: IndexMap<String, ScalarValue>,
    /// Stacks by name; when set, discovery is off and only these files are stacks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stacks: Option<IndexMap<String, StackEntry>>,
}

/// One explicitly listed stack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StackEntry {
    /// Path of the compose file, relative to `reconciler.yaml`.
    pub file: String,
    /// Variables for this stack only (they win over every other source).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub variables: IndexMap<String, ScalarValue>,
}

/// The schema of `reconciler.yaml`.
pub fn schema() -> serde_json::Value {
    schemars::generate::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<RepoConfig>()
        .to_value()
}

/// Parse `reconciler.yaml`, reporting every problem with its location.
pub fn parse(text: &str) -> Result<RepoConfig, Vec<crate::diagnostic::Diagnostic>> {
    let loaded = crate::yaml::load(text);
    let mut diagnostics = loaded.diagnostics;
    let Some(tree) = loaded.root else {
        return if diagnostics.is_empty() {
            Ok(RepoConfig::default())
        } else {
            Err(diagnostics)
        };
    };
    let checked = crate::check::check(&schema(), &tree, crate::load::check_format);
    diagnostics.extend(checked.diagnostics);
    if diagnostics
        .iter()
        .any(crate::diagnostic::Diagnostic::is_error)
    {
        return Err(diagnostics);
    }
    serde_json::from_value(checked.json).map_err(|e| {
        vec![
            crate::diagnostic::Diagnostic::error("wrong-type", format!("invalid {FILE_NAME}: {e}"))
                .at(tree.span),
        ]
    })
}

impl RepoConfig {
    /// Variables for `stack`: its own over the global ones.
    pub fn variables_for(&self, stack: &str) -> std::collections::BTreeMap<String, String> {
        let mut vars: std::collections::BTreeMap<String, String> = self
            .variables
            .iter()
            .map(|(k, v)| (k.clone(), v.to_text()))
            .collect();
        if let Some(entry) = self.stacks.as_ref().and_then(|s| s.get(stack)) {
            vars.extend(
                entry
                    .variables
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_text())),
            );
        }
        vars
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stacks_and_variables() {
        let cfg = parse("variables: {A: 1}\nstacks:\n  shop:\n    file: shop.yml\n    variables: {A: 2, B: x}\n").expect("valid");
        assert_eq!(
            cfg.variables_for("shop").get("A").map(String::as_str),
            Some("2")
        );
        assert_eq!(
            cfg.variables_for("other").get("A").map(String::as_str),
            Some("1")
        );
    }

    #[test]
    fn errors_have_locations() {
        let errs = parse("stacks:\n  shop:\n    fil: shop.yml\n").expect_err("invalid");
        let lines: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert!(
            lines.iter().any(|l| l.contains(":3:5 error[unknown-key]")),
            "{lines:?}"
        );
    }
}
