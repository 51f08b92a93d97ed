//! Spec → container-create request, field by field, without an engine.

use std::collections::HashMap;
use std::net::IpAddr;

use bollard::models::{MountType, PortBinding};
use crds::meta::ObjectMeta;
use crds::service::ServiceSpec;
use crds::task::{Task, TaskState};

use super::{Attachment, NodeContext, plan_container};

const STACK: &str = r#"
services:
  web:
    image: reconciler-test/echo:1
    command: ["/workload", "serve", "--listen", "0.0.0.0:8080"]
    entrypoint: []
    environment:
      VERSION: "1"
      MODE: test
    labels:
      team: shop
      io.reconciler.node: spoofed
    user: "1000:1000"
    working_dir: /srv
    hostname: web-host
    extra_hosts:
      - "db=10.0.0.5"
    ports:
      - "8080:8080"
      - target: 9090
        published: 9090
        protocol: udp
        mode: host
      - "7000"
    volumes:
      - data:/data
      - /srv/config:/config:ro
      - type: tmpfs
        target: /scratch
        tmpfs:
          size: 64m
      - type: volume
        source: cache
        target: /cache
        volume:
          nocopy: true
    healthcheck:
      test: ["CMD", "/workload", "probe", "http://127.0.0.1:8080/healthz"]
      interval: 2s
      timeout: 1s
      retries: 5
      start_period: 500ms
    stop_signal: SIGINT
    stop_grace_period: 1500ms
    logging:
      driver: json-file
      options:
        max-size: 10m
    deploy:
      replicas: 3
      resources:
        limits:
          cpus: "0.5"
          memory: 64M
          pids: 100
      restart_policy:
        condition: on-failure
volumes:
  data: {}
  cache: {}
"#;

fn spec(text: &str) -> ServiceSpec {
    let stack = crds::stack::from_text("shop", text).expect("valid stack");
    stack.services.into_values().next().expect("one service")
}

fn task() -> Task {
    Task {
        meta: ObjectMeta {
            id: "abc123".to_owned(),
            ..ObjectMeta::default()
        },
        service: "shop_web".to_owned(),
        slot: 2,
        node: Some("node-1".to_owned()),
        spec_hash: "hash1".to_owned(),
        attempt: 0,
        desired_state: TaskState::Running,
        status: Default::default(),
    }
}

fn node() -> NodeContext<'static> {
    NodeContext {
        node_id: "node-1",
        publish_ip: Some(IpAddr::from([127, 0, 0, 2])),
    }
}

fn attachments() -> Vec<Attachment> {
    vec![
        Attachment {
            network: "net-front".to_owned(),
            aliases: vec!["web".to_owned()],
        },
        Attachment {
            network: "net-back".to_owned(),
            aliases: vec!["web".to_owned(), "api".to_owned()],
        },
    ]
}

#[test]
fn the_name_says_service_slot_and_task() {
    let plan = plan_container(&task(), &spec(STACK), &node(), &attachments());
    assert_eq!(plan.name, "shop_web.2.abc123");
}

#[test]
fn a_global_task_is_named_after_its_node() {
    let global = STACK.replace("replicas: 3", "mode: global");
    let plan = plan_container(&task(), &spec(&global), &node(), &[]);
    assert_eq!(plan.name, "shop_web.node-1.abc123");
}

#[test]
fn labels_identify_task_node_and_stack_and_cannot_be_spoofed() {
    let plan = plan_container(&task(), &spec(STACK), &node(), &[]);
    let labels = plan.body.labels.expect("labels");
    let expected = [
        ("io.reconciler.task", "abc123"),
        ("io.reconciler.service", "shop_web"),
        ("io.reconciler.stack", "shop"),
        ("io.reconciler.node", "node-1"),
        ("io.reconciler.slot", "2"),
        ("io.reconciler.spec-hash", "hash1"),
        ("com.docker.stack.namespace", "shop"),
        ("team", "shop"),
    ];
    for (key, value) in expected {
        assert_eq!(labels.get(key).map(String::as_str), Some(value), "{key}");
    }
}

#[test]
fn process_settings_are_applied() {
    let body = plan_container(&task(), &spec(STACK), &node(), &[]).body;
    assert_eq!(body.image.as_deref(), Some("reconciler-test/echo:1"));
    assert_eq!(
        body.cmd,
        Some(vec![
            "/workload".to_owned(),
            "serve".to_owned(),
            "--listen".to_owned(),
            "0.0.0.0:8080".to_owned()
        ])
    );
    assert_eq!(body.entrypoint, Some(vec![String::new()]), "[] resets");
    assert_eq!(
        body.env,
        Some(vec!["MODE=test".to_owned(), "VERSION=1".to_owned()])
    );
    assert_eq!(body.user.as_deref(), Some("1000:1000"));
    assert_eq!(body.working_dir.as_deref(), Some("/srv"));
    assert_eq!(body.hostname.as_deref(), Some("web-host"));
    assert_eq!(body.stop_signal.as_deref(), Some("SIGINT"));
    assert_eq!(body.stop_timeout, Some(2), "1.5 s rounds up");
    let host = body.host_config.expect("host config");
    assert_eq!(host.extra_hosts, Some(vec!["db:10.0.0.5".to_owned()]));
    assert_eq!(host.restart_policy, None, "restarts are new tasks");
    let log = host.log_config.expect("log config");
    assert_eq!(log.typ.as_deref(), Some("json-file"));
    assert_eq!(
        log.config,
        Some(HashMap::from([("max-size".to_owned(), "10m".to_owned())]))
    );
}

#[test]
fn resources_become_limits() {
    let host = plan_container(&task(), &spec(STACK), &node(), &[])
        .body
        .host_config
        .expect("host config");
    assert_eq!(host.nano_cpus, Some(500_000_000));
    assert_eq!(host.memory, Some(64 * 1024 * 1024));
    assert_eq!(host.pids_limit, Some(100));
}

#[test]
fn no_limits_means_no_limit_fields() {
    let plain = spec("services:\n  web:\n    image: reconciler-test/echo:1\n");
    let body = plan_container(&task(), &plain, &node(), &[]).body;
    let host = body.host_config.expect("host config");
    assert_eq!(
        (host.nano_cpus, host.memory, host.pids_limit),
        (None, None, None)
    );
    assert_eq!(
        body.healthcheck, None,
        "the image's own healthcheck applies"
    );
    assert_eq!(body.entrypoint, None);
    assert_eq!(host.port_bindings, None);
    assert_eq!(body.networking_config, None);
}

#[test]
fn ports_bind_on_the_nodes_publish_address() {
    let body = plan_container(&task(), &spec(STACK), &node(), &[]).body;
    let mut exposed = body.exposed_ports.expect("exposed ports");
    exposed.sort();
    assert_eq!(exposed, vec!["7000/tcp", "8080/tcp", "9090/udp"]);
    let bindings = body
        .host_config
        .and_then(|h| h.port_bindings)
        .expect("bindings");
    let binding = |ip: &str, port: &str| {
        Some(vec![PortBinding {
            host_ip: Some(ip.to_owned()),
            host_port: Some(port.to_owned()),
        }])
    };
    assert_eq!(bindings["8080/tcp"], binding("127.0.0.2", "8080"));
    assert_eq!(bindings["9090/udp"], binding("127.0.0.2", "9090"));
    assert_eq!(
        bindings["7000/tcp"],
        binding("127.0.0.2", ""),
        "engine picks"
    );
}

#[test]
fn without_a_publish_address_ports_bind_everywhere() {
    let anywhere = NodeContext {
        node_id: "node-1",
        publish_ip: None,
    };
    let bindings = plan_container(&task(), &spec(STACK), &anywhere, &[])
        .body
        .host_config
        .and_then(|h| h.port_bindings)
        .expect("bindings");
    let ips: Vec<_> = bindings
        .values()
        .flatten()
        .flatten()
        .map(|b| b.host_ip.clone())
        .collect();
    assert!(ips.iter().all(Option::is_none), "{ips:?}");
}

#[test]
fn mounts_are_volumes_binds_and_tmpfs() {
    let host = plan_container(&task(), &spec(STACK), &node(), &[])
        .body
        .host_config
        .expect("host config");
    assert_eq!(host.binds, Some(vec!["/srv/config:/config:ro".to_owned()]));
    let mounts = host.mounts.expect("mounts");
    assert_eq!(mounts.len(), 3);
    let data = &mounts[0];
    assert_eq!(data.typ, Some(MountType::VOLUME));
    assert_eq!(data.source.as_deref(), Some("shop_data"));
    assert_eq!(data.target.as_deref(), Some("/data"));
    let scratch = &mounts[1];
    assert_eq!(scratch.typ, Some(MountType::TMPFS));
    let size = scratch.tmpfs_options.as_ref().and_then(|t| t.size_bytes);
    assert_eq!(size, Some(64 * 1024 * 1024));
    let cache = &mounts[2];
    assert_eq!(cache.source.as_deref(), Some("shop_cache"));
    let nocopy = cache.volume_options.as_ref().and_then(|v| v.no_copy);
    assert_eq!(nocopy, Some(true));
}

#[test]
fn the_healthcheck_is_in_nanoseconds_and_none_disables() {
    let body = plan_container(&task(), &spec(STACK), &node(), &[]).body;
    let check = body.healthcheck.expect("healthcheck");
    assert_eq!(check.test.as_ref().map(|t| t[0].as_str()), Some("CMD"));
    assert_eq!(check.interval, Some(2_000_000_000));
    assert_eq!(check.timeout, Some(1_000_000_000));
    assert_eq!(check.retries, Some(5));
    assert_eq!(check.start_period, Some(500_000_000));

    let disabled = spec(
        "services:\n  web:\n    image: reconciler-test/echo:1\n    healthcheck:\n      disable: true\n",
    );
    let check = plan_container(&task(), &disabled, &node(), &[])
        .body
        .healthcheck
        .expect("healthcheck");
    assert_eq!(check.test, Some(vec!["NONE".to_owned()]));
    assert_eq!(check.interval, None);
}

#[test]
fn the_first_network_is_joined_at_create_and_the_others_before_start() {
    let plan = plan_container(&task(), &spec(STACK), &node(), &attachments());
    let host = plan.body.host_config.expect("host config");
    assert_eq!(host.network_mode.as_deref(), Some("net-front"));
    let endpoints = plan
        .body
        .networking_config
        .and_then(|n| n.endpoints_config)
        .expect("endpoints");
    assert_eq!(endpoints.len(), 1);
    assert_eq!(endpoints["net-front"].aliases, Some(vec!["web".to_owned()]));
    assert_eq!(plan.connect.len(), 1);
    let (network, endpoint) = &plan.connect[0];
    assert_eq!(network, "net-back");
    assert_eq!(
        endpoint.aliases,
        Some(vec!["web".to_owned(), "api".to_owned()])
    );
}
