//! Normalisation: names, defaults, merged environment, and what the content hashes notice.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crds::load::{self, Files, Source};
use crds::service::ServiceMode;
use crds::stack::{self, Stack};

struct Mem(BTreeMap<PathBuf, String>);

impl Files for Mem {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        self.0
            .get(path)
            .cloned()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "missing"))
    }
    fn exists(&self, path: &Path) -> bool {
        self.0.contains_key(path)
    }
}

fn normalize(text: &str, vars: &[(&str, &str)]) -> Stack {
    let vars: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let files = Mem(BTreeMap::from([
        (
            PathBuf::from("repo/shop/web.env"),
            "FROM_FILE=1\nOVERRIDDEN=file\n".to_owned(),
        ),
        (
            PathBuf::from("repo/shop/site.conf"),
            "listen 80;\n".to_owned(),
        ),
    ]));
    let source = Source {
        stack: "shop".into(),
        path: PathBuf::from("repo/shop/compose.yaml"),
        text: text.into(),
    };
    let loaded = load::load(source, &vars, &files);
    assert!(!loaded.has_errors(), "{:#?}", loaded.diagnostics);
    stack::normalize(
        loaded.file.as_ref().expect("file"),
        &stack::Inputs {
            source: &loaded.source,
            vars: &vars,
            files: &files,
        },
    )
}

const SHOP: &str = r#"
x-common: &common
  image: reconciler-test/echo:${TAG:-1}
  env_file: web.env
services:
  web:
    <<: *common
    command: serve --listen "0.0.0.0:80"
    environment:
      OVERRIDDEN: environment
      FROM_SHELL:
    ports: ["8000-8001:80-81/udp"]
    volumes: [data:/data, ./html:/html:ro]
    configs: [site]
    networks:
      front:
        aliases: [www]
  worker:
    <<: *common
    deploy:
      mode: global
networks:
  front:
  shared:
    external: true
volumes:
  data:
configs:
  site:
    file: ./site.conf
"#;

#[test]
fn names_are_scoped_to_the_stack() {
    let s = normalize(SHOP, &[]);
    assert_eq!(
        s.services.keys().collect::<Vec<_>>(),
        vec!["shop_web", "shop_worker"]
    );
    assert_eq!(
        s.networks.keys().collect::<Vec<_>>(),
        vec!["shared", "shop_default", "shop_front"]
    );
    assert!(s.networks["shared"].external);
    let web = &s.services["shop_web"];
    assert_eq!(web.networks[0].network, "shop_front");
    assert_eq!(web.networks[0].aliases, vec!["web", "www"]);
    assert_eq!(web.mounts[0].source.as_deref(), Some("shop_data"));
    assert_eq!(web.mounts[1].source.as_deref(), Some("./html"));
    assert_eq!(web.configs[0].name, "shop_site");
    assert_eq!(web.configs[0].target, "/site");
    assert_eq!(
        s.services["shop_worker"].networks[0].network,
        "shop_default"
    );
    assert!(s.configs["shop_site"].content_hash.is_some());
}

#[test]
fn defaults_and_syntaxes_are_resolved() {
    let s = normalize(SHOP, &[("TAG", "2"), ("FROM_SHELL", "yes")]);
    let web = &s.services["shop_web"];
    assert_eq!(web.image, "reconciler-test/echo:2");
    assert_eq!(
        web.command.as_deref(),
        Some(&["serve".to_owned(), "--listen".into(), "0.0.0.0:80".into()][..])
    );
    assert_eq!(web.mode, ServiceMode::Replicated { replicas: 1 });
    assert_eq!(s.services["shop_worker"].mode, ServiceMode::Global);
    assert_eq!(web.ports.len(), 2);
    assert_eq!(
        (web.ports[1].published, web.ports[1].target),
        (Some(8001), 81)
    );
    assert_eq!(web.restart_policy.delay.to_string(), "5s");
    assert_eq!(web.update_config.monitor.to_string(), "5s");
    assert_eq!(web.stop_grace_period.to_string(), "10s");
    let env: Vec<(&str, &str)> = web
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        env,
        vec![
            ("FROM_FILE", "1"),
            ("FROM_SHELL", "yes"),
            ("OVERRIDDEN", "environment")
        ]
    );
}

#[test]
fn an_unset_bare_environment_key_is_dropped() {
    let s = normalize(SHOP, &[]);
    assert!(!s.services["shop_web"].env.contains_key("FROM_SHELL"));
}

#[test]
fn a_one_service_change_changes_one_hash() {
    let before = normalize(SHOP, &[]);
    let after = normalize(
        &SHOP.replace("serve --listen", "serve --verbose --listen"),
        &[],
    );
    assert_ne!(
        before.services["shop_web"].spec_hash(),
        after.services["shop_web"].spec_hash()
    );
    assert_eq!(
        before.services["shop_worker"].spec_hash(),
        after.services["shop_worker"].spec_hash()
    );
}

#[test]
fn scaling_changes_the_spec_hash_but_not_the_task_template() {
    let one = normalize("services:\n  web:\n    image: nginx\n", &[]);
    let three = normalize(
        "services:\n  web:\n    image: nginx\n    deploy:\n      replicas: 3\n",
        &[],
    );
    let (a, b) = (&one.services["shop_web"], &three.services["shop_web"]);
    assert_ne!(a.spec_hash(), b.spec_hash());
    assert_eq!(a.template_hash(), b.template_hash());
}

#[test]
fn hashes_ignore_formatting_and_key_order() {
    let a = normalize(
        "services:\n  web:\n    image: nginx\n    environment: {A: 1, B: 2}\n",
        &[],
    );
    let b = normalize(
        "services:\n  web:\n    environment:\n      - B=2\n      - A=1\n    image: \"nginx\"\n",
        &[],
    );
    assert_eq!(
        a.services["shop_web"].spec_hash(),
        b.services["shop_web"].spec_hash()
    );
}
