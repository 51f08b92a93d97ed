//! Fuzz the `.env` parser and `${VAR}` interpolation: neither may panic on any input.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let vars: BTreeMap<String, String> = [
        ("TAG".to_string(), "1".to_string()),
        ("EMPTY".to_string(), String::new()),
        ("HOST".to_string(), "example.com".to_string()),
    ]
    .into_iter()
    .collect();

    let _ = crds::dotenv::parse(&text, &vars);
    let _ = crds::dotenv::parse_raw(&text);
    let _ = crds::interpolate::interpolate(&text, &vars);
});
