//! Every JSON Schema the project publishes, by file name (written by `reconciler schema`).

use schemars::generate::SchemaSettings;
use serde_json::Value;

use crate::{node::Node, revision::Revision, service::Service, stack::Stack, task::Task};

fn schema_of<T: schemars::JsonSchema>() -> Value {
    SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value()
}

/// `(file name, schema)` pairs, in a stable order.
pub fn all() -> Vec<(&'static str, Value)> {
    vec![
        (
            "stack-file.schema.json",
            crate::compose::stack_file_schema(),
        ),
        ("stack.schema.json", schema_of::<Stack>()),
        ("service.schema.json", schema_of::<Service>()),
        ("node.schema.json", schema_of::<Node>()),
        ("task.schema.json", schema_of::<Task>()),
        ("revision.schema.json", schema_of::<Revision>()),
        (
            "reconciler-config.schema.json",
            crate::repo_config::schema(),
        ),
    ]
}

/// A schema rendered as it is stored: pretty JSON with a trailing newline.
pub fn render(schema: &Value) -> String {
    let mut s = serde_json::to_string_pretty(schema).unwrap_or_default();
    s.push('\n');
    s
}
