//! Fuzz the stack-file loader: YAML → interpolation → schema check → lint → normalize.
#![no_main]

use std::collections::BTreeMap;

use crds::load::{self, NoFiles, Source};
use crds::stack::{self, Inputs};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let len = text.len();
    let vars: BTreeMap<String, String> = [
        ("TAG".to_string(), "1".to_string()),
        ("EMPTY".to_string(), String::new()),
        ("HOST".to_string(), "example.com".to_string()),
    ]
    .into_iter()
    .collect();

    let loaded = load::load(
        Source {
            stack: "fuzz".into(),
            path: "fuzz.yml".into(),
            text,
        },
        &vars,
        &NoFiles,
    );

    for d in &loaded.diagnostics {
        if let Some(span) = d.span {
            assert!(span.start.line >= 1, "start line 0 in {d:?}");
            assert!(span.start.col >= 1, "start col 0 in {d:?}");
            assert!(span.end.line >= 1, "end line 0 in {d:?}");
            assert!(span.end.col >= 1, "end col 0 in {d:?}");
            assert!(
                span.start.offset <= len,
                "start offset {} past end of text ({len} bytes) in {d:?}",
                span.start.offset
            );
        }
    }

    if !loaded.has_errors()
        && let Some(file) = &loaded.file
    {
        let normalized = stack::normalize(
            file,
            &Inputs {
                source: &loaded.source,
                vars: &vars,
                files: &NoFiles,
            },
        );
        for (name, service) in &normalized.services {
            let first = service.spec_hash();
            let second = service.spec_hash();
            assert_eq!(first, second, "spec_hash of {name} is not stable");
        }
    }
});
