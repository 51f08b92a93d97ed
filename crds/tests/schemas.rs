//! The JSON Schemas in `crds/schemas/` are what the code generates (`reconciler schema` rewrites them).

use std::path::Path;

#[test]
fn checked_in_schemas_are_fresh() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    for (name, schema) in crds::schema::all() {
        let on_disk = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        assert!(
            on_disk == crds::schema::render(&schema),
            "crds/schemas/{name} is stale: run `cargo run -p controller -- schema --dir crds/schemas`"
        );
    }
}

#[test]
fn the_stack_file_schema_accepts_extensions_everywhere_it_is_closed() {
    let schema = crds::compose::stack_file_schema();
    let service = &schema["definitions"]["Service"];
    assert_eq!(service["additionalProperties"], serde_json::json!(false));
    assert!(service["patternProperties"]["^x-"].is_object());
    assert!(
        service["properties"]["container_name"][crds::compose::IGNORED_KEYWORD]
            .as_bool()
            .unwrap_or(false)
    );
}
