//! Rules that look at several stacks at once, and stack names.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crds::load::{self, Loaded, NoFiles, Source};

fn load(stack: &str, path: &str, text: &str) -> Loaded {
    let vars: BTreeMap<String, String> = BTreeMap::new();
    load::load(
        Source {
            stack: stack.into(),
            path: PathBuf::from(path),
            text: text.into(),
        },
        &vars,
        &NoFiles,
    )
}

fn lines(d: &[crds::diagnostic::Diagnostic]) -> Vec<String> {
    d.iter().map(ToString::to_string).collect()
}

#[test]
fn the_same_ingress_port_in_two_stacks_conflicts_at_the_second_use() {
    let a = load(
        "shop",
        "shop.yml",
        "services:\n  web:\n    image: nginx\n    ports: [\"80:80\"]\n",
    );
    let b = load(
        "blog",
        "blog.yml",
        "services:\n  app:\n    image: nginx\n    ports:\n      - \"8080:8080\"\n      - target: 81\n        published: 80\n",
    );
    let found = crds::lint::lint_stacks(&[a, b]);
    assert_eq!(
        lines(&found),
        vec![
            "blog.yml:6:9 error[port-conflict] published port 80/tcp of `blog_app` is already published by `shop_web`"
        ]
    );
    assert_eq!(
        found[0].help.as_deref(),
        Some(
            "ingress ports are cluster-wide; first published at shop.yml:4:13 — pick another port or use `mode: host`"
        )
    );
}

#[test]
fn host_mode_ports_and_other_protocols_do_not_conflict() {
    let a = load(
        "a",
        "a.yml",
        "services:\n  web:\n    image: nginx\n    ports: [\"53:53/udp\"]\n",
    );
    let b = load(
        "b",
        "b.yml",
        "services:\n  dns:\n    image: nginx\n    ports:\n      - \"53:53\"\n      - {target: 53, published: 53, protocol: udp, mode: host}\n",
    );
    assert!(crds::lint::lint_stacks(&[a, b]).is_empty());
}

#[test]
fn one_service_may_repeat_a_port_in_one_stack_but_two_services_may_not() {
    let a = load(
        "a",
        "a.yml",
        "services:\n  x:\n    image: nginx\n    ports: [\"80:80\"]\n  y:\n    image: nginx\n    ports: [\"80:80\"]\n",
    );
    assert_eq!(
        lines(&crds::lint::lint_stacks(&[a])),
        vec![
            "a.yml:7:13 error[port-conflict] published port 80/tcp of `a_y` is already published by `a_x`"
        ]
    );
}

#[test]
fn two_files_for_one_stack_name_are_refused() {
    let a = load("web", "web.yml", "services:\n  x:\n    image: nginx\n");
    let b = load(
        "web",
        "web/compose.yaml",
        "services:\n  y:\n    image: nginx\n",
    );
    assert_eq!(
        lines(&crds::lint::lint_stacks(&[a, b])),
        vec!["web/compose.yaml error[duplicate-stack] stack `web` is also defined by web.yml"]
    );
}

#[test]
fn stack_names_docker_would_refuse_are_errors() {
    let loaded = load(
        "My Stack",
        "My Stack.yml",
        "services:\n  x:\n    image: nginx\n",
    );
    assert_eq!(
        lines(&loaded.diagnostics),
        vec!["My Stack.yml error[invalid-stack-name] invalid stack name `My Stack`"]
    );
}
