//! The stack endpoints through the manager's router: a one-manager Raft group in a temporary
//! directory, its state written through the writer, requests carrying a peer identity the way
//! the TLS layer attaches it.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use crds::task::TaskState;
use http_body_util::BodyExt;
use openraft::{BasicNode, ServerState};
use serde::de::DeserializeOwned;
use tempfile::TempDir;
use tower::ServiceExt;

use super::*;
use crate::api::router;
use crate::leader::liveness::Timing;
use crate::leader::writer::Writer;
use crate::pki::node::DEFAULT_NODE_CERT_VALIDITY;
use crate::pki::{ClusterCa, PeerIdentity};
use crate::protocol::{
    self, Convergence, Read, STACKS_PATH, ServiceView, StackView, SyncState, TaskView,
};
use crate::raft::fixtures::{record, service, task};
use crate::raft::network::Network;
use crate::raft::{Config, Raft, open_store};

const ADDR: &str = "127.0.0.1:1";

/// A leading manager whose state has `shop` applied: `shop_web` running, `shop_db` pending
/// with no node to go to.
async fn manager(dir: &TempDir) -> Arc<Manager> {
    let ca = ClusterCa::generate("test").expect("ca");
    let cert = ca
        .issue_node_cert(
            "m1",
            NodeRole::Manager,
            &[IpAddr::V4(Ipv4Addr::LOCALHOST)],
            &[],
            DEFAULT_NODE_CERT_VALIDITY,
        )
        .expect("cert");
    let (log, sm) = open_store(dir.path()).expect("store");
    let config = Config::default().to_openraft("test").expect("config");
    let network = Network::new(
        ca.cert(),
        crate::pki::CurrentCert::new(ca.cert(), &cert).expect("cert"),
        Config::default().unreachable_retry(),
    )
    .expect("network");
    let raft = Raft::new(1, config, network, log, sm.clone())
        .await
        .expect("raft");
    raft.initialize(BTreeMap::from([(1, BasicNode::new(ADDR))]))
        .await
        .expect("initialize");
    raft.wait(Some(Duration::from_secs(10)))
        .state(ServerState::Leader, "the only manager leads")
        .await
        .expect("leads");
    let lease = Duration::from_secs(1);
    // The writer never forwards here (this manager leads), but its client must be built with
    // the cluster's TLS like every client of the crate.
    let tls = crate::pki::tls::client_config(ca.cert(), &cert).expect("tls");
    let peers = reqwest::Client::builder()
        .use_preconfigured_tls(tls.as_ref().clone())
        .build()
        .expect("client");
    let writer = Writer::new(raft.clone(), 1, peers, lease);
    let manager = Manager::new(
        "m1".into(),
        1,
        ADDR.into(),
        raft,
        sm,
        writer,
        Timing::default(),
        lease,
        agent::clock::Clock::system(),
    );
    let (web, db) = (service("shop_web"), service("shop_db"));
    let mut running = task("w1", TaskState::Running);
    running.spec_hash = web.spec.template_hash();
    let mut pending = task("d1", TaskState::Pending);
    pending.service = "shop_db".into();
    pending.node = None;
    pending.spec_hash = db.spec.template_hash();
    pending.status.message = Some("no suitable node (no node is ready)".into());
    for cmd in [
        Command::RecordRevision {
            record: record("c0ffee"),
        },
        Command::PutServices {
            services: vec![web, db],
            at_ms: manager.clock.now_ms(),
        },
        Command::PutTasks {
            tasks: vec![running, pending],
            at_ms: manager.clock.now_ms(),
        },
    ] {
        manager.writer.write(cmd).await.expect("write");
    }
    manager
}

/// `GET path` as a manager's CLI: the status and the body.
async fn get(manager: &Arc<Manager>, path: &str) -> (StatusCode, serde_json::Value) {
    let mut request = Request::get(path).body(Body::empty()).expect("request");
    request.extensions_mut().insert(PeerIdentity {
        node_id: "m1".into(),
        role: NodeRole::Manager,
        cluster_id: "test".into(),
    });
    let response = router(manager.clone())
        .oneshot(request)
        .await
        .expect("infallible");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

fn data<T: DeserializeOwned>(json: serde_json::Value) -> T {
    let read: Read<T> = serde_json::from_value(json).expect("a read answer");
    assert!(!read.possibly_stale);
    read.data
}

#[tokio::test]
async fn stacks_services_and_tasks_are_served_by_stack() {
    let dir = tempfile::tempdir().expect("tempdir");
    let manager = manager(&dir).await;

    let (status, json) = get(&manager, STACKS_PATH).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let stacks: Vec<StackView> = data(json);
    assert_eq!(stacks.len(), 1);
    let shop = &stacks[0];
    assert_eq!(
        (shop.name.as_str(), shop.sync, shop.revision.as_deref()),
        ("shop", SyncState::Degraded, Some("c0ffee"))
    );
    let states: Vec<(&str, Convergence)> = shop
        .services
        .iter()
        .map(|s| (s.name.as_str(), s.convergence))
        .collect();
    assert_eq!(
        states,
        [
            ("shop_db", Convergence::Degraded),
            ("shop_web", Convergence::Converged)
        ]
    );

    let (status, json) = get(&manager, &format!("{}?stack=shop", protocol::SERVICES_PATH)).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(data::<Vec<ServiceView>>(json).len(), 2);

    let (status, json) = get(&manager, &format!("{}?stack=shop", protocol::TASKS_PATH)).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let tasks: Vec<TaskView> = data(json);
    assert_eq!(tasks.len(), 2);
    assert!(tasks.iter().all(|t| t.image.is_some()), "{tasks:?}");

    let (status, json) = get(&manager, protocol::STATUS_PATH).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(data::<protocol::StatusView>(json).stacks, stacks);
}

#[tokio::test]
async fn an_unknown_stack_is_a_404_naming_the_known_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let manager = manager(&dir).await;
    for path in [protocol::SERVICES_PATH, protocol::TASKS_PATH] {
        let (status, json) = get(&manager, &format!("{path}?stack=blog")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            json["error"],
            "no such stack: blog (known: shop; `reconciler stack ls` lists them)"
        );
    }
}

fn view(id: &str, hostname: &str) -> NodeView {
    let mut node = crds::node::Node::default();
    node.meta.id = id.to_owned();
    node.description.hostname = hostname.to_owned();
    NodeView {
        node,
        manager_status: None,
    }
}

#[test]
fn nodes_resolve_by_id_then_hostname_then_id_prefix() {
    let views = vec![view("m3ekx7uoodoo", "w1"), view("d6nx912qwti1", "m3")];
    let id = |key: &str| pick(&views, key).map(|v| v.node.meta.id.clone()).ok();
    // A hostname wins over an id that it happens to prefix.
    assert_eq!(id("m3").as_deref(), Some("d6nx912qwti1"));
    assert_eq!(id("m3e").as_deref(), Some("m3ekx7uoodoo"));
    assert_eq!(id("w1").as_deref(), Some("m3ekx7uoodoo"));
    assert_eq!(id("d6nx912qwti1").as_deref(), Some("d6nx912qwti1"));
    assert!(pick(&views, "zz").is_err_and(|c| c.is_empty()));
    let both = vec![view("ab1", "x"), view("ab2", "y")];
    assert!(pick(&both, "ab").is_err_and(|c| c.len() == 2));
}
