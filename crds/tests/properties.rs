//! Invariants over arbitrary input: loading never panics, and normalisation is deterministic.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crds::load::{self, NoFiles, Source};
use proptest::prelude::*;

fn load_text(text: &str) -> load::Loaded {
    let vars: BTreeMap<String, String> = BTreeMap::from([("TAG".into(), "1".into())]);
    load::load(
        Source {
            stack: "s".into(),
            path: PathBuf::from("s.yml"),
            text: text.into(),
        },
        &vars,
        &NoFiles,
    )
}

/// Pieces that make YAML (and compose) interesting to a parser and a linter.
fn yamlish() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "services:",
        "\n",
        "  ",
        "    ",
        "- ",
        ": ",
        "web",
        "image",
        "nginx:${TAG}",
        "${X:?e}",
        "$$",
        "&a ",
        "*a",
        "<<: ",
        "[",
        "]",
        "{",
        "}",
        ",",
        "\"",
        "'",
        "#",
        "ports",
        "\"80:80\"",
        "70000",
        "-1",
        "deploy",
        "replicas",
        "mode: global",
        "placement",
        "constraints",
        "node.role==manager",
        "volumes",
        "data:/x",
        "x-",
        "~",
        "|",
        ">",
        "---",
        "? ",
        "!!str ",
        "%YAML 1.2",
        "\t",
        "é",
        "\u{0}",
    ]);
    prop::collection::vec(atoms, 0..60).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn loading_arbitrary_text_never_panics(text in ".{0,400}") {
        let loaded = load_text(&text);
        for d in &loaded.diagnostics {
            if let Some(span) = d.span {
                prop_assert!(span.start.line >= 1 && span.start.col >= 1);
            }
        }
    }

    #[test]
    fn loading_yaml_shaped_text_never_panics(text in yamlish()) {
        let loaded = load_text(&text);
        // Every finding must be renderable at a real place in the text.
        for d in &loaded.diagnostics {
            if let Some(span) = d.span {
                prop_assert!(span.start.offset <= text.len());
            }
        }
    }

    #[test]
    fn normalising_twice_gives_the_same_hashes(replicas in 0u64..50, port in 1u16..65535, tag in "[a-z0-9]{1,8}") {
        let text = format!(
            "services:\n  web:\n    image: nginx:{tag}\n    ports: [\"{port}:80\"]\n    deploy:\n      replicas: {replicas}\n"
        );
        let a = load_text(&text);
        let b = load_text(&text);
        let file = a.file.as_ref().expect("valid");
        let inputs = |l: &load::Loaded| {
            let vars: BTreeMap<String, String> = BTreeMap::new();
            crds::stack::normalize(l.file.as_ref().expect("valid"), &crds::stack::Inputs { source: &l.source, vars: &vars, files: &NoFiles })
        };
        let (sa, sb) = (inputs(&a), inputs(&b));
        prop_assert_eq!(&sa, &sb);
        let svc = &sa.services["s_web"];
        prop_assert_eq!(svc.spec_hash(), sb.services["s_web"].spec_hash());
        prop_assert!(file.services.contains_key("web"));
    }
}
