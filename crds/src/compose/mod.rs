//! The compose-file model as written by users, and its JSON Schema.
//!
//! These types mirror the file (short and long syntaxes side by side); `crate::stack` holds the
//! normalised resources the cluster works with. The schema generated from these types is the
//! single description of the file format: the loader validates against it (reporting every
//! problem with its location) and editors use it for completion.
//!
//! # Layout
//! - [`file`]: top level — services, networks, volumes, configs, secrets.
//! - [`service`]: one service.
//! - [`deploy`]: `deploy:` — mode, replicas, placement, resources, restart and update policies.
//! - [`syntax`]: shapes shared by several keys (list-or-map, string-or-list, `external`).
//! - [`ignored`]: keys that are valid compose but not applied, with the reason.
//! - [`volume`]: the short volume syntax.

pub mod deploy;
pub mod file;
pub mod ignored;
pub mod service;
pub mod syntax;
pub mod volume;

pub use deploy::*;
pub use file::*;
pub use service::*;
pub use syntax::*;

use schemars::generate::SchemaSettings;
use serde_json::{Value as Json, json};

/// Keyword marking schema properties that are accepted but dropped before deserialisation.
pub const IGNORED_KEYWORD: &str = "x-ignored";

/// The JSON Schema (draft-07, like the Compose spec's own) of a stack file.
///
/// Beyond what the types derive: every closed object also accepts `x-*` extension keys, and
/// services accept the keys in [`ignored::SERVICE_KEYS`] (marked with [`IGNORED_KEYWORD`]).
pub fn stack_file_schema() -> Json {
    let generator = SchemaSettings::draft07().into_generator();
    let schema = generator.into_root_schema_for::<ComposeFile>();
    let mut value = schema.to_value();
    if let Some(service) = value.pointer_mut("/definitions/Service/properties")
        && let Some(props) = service.as_object_mut()
    {
        for key in ignored::SERVICE_KEYS {
            props.insert(
                key.key.to_owned(),
                json!({
                    "description": format!("Not applied by reconciler: {}.", key.reason),
                    IGNORED_KEYWORD: true,
                }),
            );
        }
    }
    allow_extensions(&mut value);
    value
}

/// Add `patternProperties: {"^x-": {}}` to every object schema that closes its properties.
fn allow_extensions(value: &mut Json) {
    match value {
        Json::Object(map) => {
            if map.get("additionalProperties") == Some(&Json::Bool(false)) {
                map.insert("patternProperties".to_owned(), json!({ "^x-": {} }));
            }
            for v in map.values_mut() {
                allow_extensions(v);
            }
        }
        Json::Array(items) => items.iter_mut().for_each(allow_extensions),
        _ => {}
    }
}
