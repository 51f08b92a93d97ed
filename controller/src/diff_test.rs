//! Tests of `diff`, `apply` and `flip`: exact plans for small cases, round trips for random ones.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crds::load::{self, NoFiles, Source};
use proptest::prelude::*;

use super::*;

fn state(stacks: &[(&str, &str)]) -> DesiredState {
    let mut out = BTreeMap::new();
    for (name, text) in stacks {
        let vars: BTreeMap<String, String> = BTreeMap::new();
        let loaded = load::load(
            Source {
                stack: (*name).into(),
                path: PathBuf::from(format!("{name}.yml")),
                text: (*text).into(),
            },
            &vars,
            &NoFiles,
        );
        assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
        let file = loaded.file.as_ref().expect("file");
        let stack = crds::stack::normalize(
            file,
            &crds::stack::Inputs {
                source: &loaded.source,
                vars: &vars,
                files: &NoFiles,
            },
        );
        out.insert((*name).to_owned(), stack);
    }
    DesiredState { stacks: out }
}

fn summary(plan: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    out.extend(
        plan.to_add
            .iter()
            .map(|p| format!("+ {} {}", p.resource.kind(), p.resource.name())),
    );
    for c in &plan.to_change {
        let fields: Vec<&str> = c.fields.iter().map(|f| f.path.as_str()).collect();
        out.push(format!(
            "~ {} {} {:?} {}",
            c.new.kind(),
            c.new.name(),
            c.service_change,
            fields.join(",")
        ));
    }
    out.extend(
        plan.to_remove
            .iter()
            .map(|p| format!("- {} {}", p.resource.kind(), p.resource.name())),
    );
    out
}

const WEB: &str = "services:\n  web:\n    image: nginx:1\n  api:\n    image: api:1\n";

#[test]
fn against_an_empty_cluster_everything_is_created() {
    let plan = diff(&state(&[("shop", WEB)]), &AppliedState::default());
    assert_eq!(plan.stacks_to_add, vec!["shop"]);
    assert_eq!(
        summary(&plan),
        vec![
            "+ network shop_default",
            "+ service shop_api",
            "+ service shop_web"
        ]
    );
}

#[test]
fn the_same_state_plans_nothing() {
    let s = state(&[("shop", WEB)]);
    assert!(diff(&s, &s).is_empty());
}

#[test]
fn a_one_service_change_touches_one_service_only() {
    let before = state(&[("shop", WEB)]);
    let after = state(&[("shop", &WEB.replace("nginx:1", "nginx:2"))]);
    assert_eq!(
        summary(&diff(&after, &before)),
        vec!["~ service shop_web Some(Update) image"]
    );
}

#[test]
fn scaling_and_settings_are_told_apart_from_updates() {
    let before = state(&[("shop", WEB)]);
    let scaled = state(&[(
        "shop",
        &WEB.replace(
            "image: nginx:1\n",
            "image: nginx:1\n    deploy: {replicas: 3}\n",
        ),
    )]);
    assert_eq!(
        summary(&diff(&scaled, &before)),
        vec!["~ service shop_web Some(Scale) mode.replicas"]
    );
    let settings = state(&[(
        "shop",
        &WEB.replace(
            "image: nginx:1\n",
            "image: nginx:1\n    deploy: {update_config: {parallelism: 2}}\n",
        ),
    )]);
    assert_eq!(
        summary(&diff(&settings, &before)),
        vec!["~ service shop_web Some(Settings) update_config.parallelism"]
    );
}

#[test]
fn removing_a_stack_file_prunes_the_stack_unless_told_not_to() {
    let before = state(&[
        ("shop", WEB),
        ("blog", "services:\n  app:\n    image: ghost\n"),
    ]);
    let after = state(&[("shop", WEB)]);
    let plan = diff(&after, &before);
    assert_eq!(plan.stacks_to_remove, vec!["blog"]);
    assert_eq!(
        summary(&plan),
        vec!["- service blog_app", "- network blog_default"]
    );
    assert!(plan.without_stack_removals().is_empty());
}

#[test]
fn field_changes_name_paths_with_old_and_new() {
    let old = serde_json::json!({"image": "a", "ports": [{"published": 80}], "env": {"A": "1"}});
    let new = serde_json::json!({"image": "b", "ports": [{"published": 81}], "env": {"B": "2"}});
    let changes: Vec<(String, Option<Json>, Option<Json>)> = field_changes(&old, &new)
        .into_iter()
        .map(|f| (f.path, f.old, f.new))
        .collect();
    assert_eq!(
        changes,
        vec![
            ("env.A".into(), Some("1".into()), None),
            ("env.B".into(), None, Some("2".into())),
            ("image".into(), Some("a".into()), Some("b".into())),
            (
                "ports[0].published".into(),
                Some(80.into()),
                Some(81.into())
            ),
        ]
    );
}

/// Random desired states: a few stacks with a few services each, varying the fields a diff sees.
fn arb_state() -> impl Strategy<Value = DesiredState> {
    let service = (
        0u8..4,
        1u8..3,
        0u64..4,
        prop::option::of(1u16..5),
        any::<bool>(),
    );
    let stack = prop::collection::btree_map(0u8..4, service, 0..4);
    prop::collection::btree_map(0u8..3, stack, 0..3).prop_map(|stacks| {
        let texts: Vec<(String, String)> = stacks
            .into_iter()
            .filter(|(_, services)| !services.is_empty())
            .map(|(s, services)| {
                let mut text = String::from("services:\n");
                for (i, (img, tag, replicas, port, net)) in services {
                    text.push_str(&format!(
                        "  s{i}:\n    image: img{img}:{tag}\n    deploy: {{replicas: {replicas}}}\n"
                    ));
                    if let Some(p) = port {
                        text.push_str(&format!(
                            "    ports: [\"{}:80\"]\n",
                            8000 + u32::from(s) * 100 + u32::from(i) * 10 + u32::from(p)
                        ));
                    }
                    if net {
                        text.push_str("    networks: [back]\n");
                    }
                }
                text.push_str("networks:\n  back:\n");
                (format!("st{s}"), text)
            })
            .collect();
        let refs: Vec<(&str, &str)> = texts
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        state(&refs)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn applying_the_plan_reaches_the_desired_state(desired in arb_state(), applied in arb_state()) {
        let plan = diff(&desired, &applied);
        prop_assert_eq!(&apply(&plan, &applied), &desired);
        // Idempotent: once applied, the same desired state plans nothing.
        prop_assert!(diff(&desired, &apply(&plan, &applied)).is_empty());
    }

    #[test]
    fn the_flipped_plan_restores_the_applied_state(desired in arb_state(), applied in arb_state()) {
        let plan = diff(&desired, &applied);
        prop_assert_eq!(&apply(&plan.flip(), &desired), &applied);
        prop_assert_eq!(plan.flip().flip(), plan);
    }
}
