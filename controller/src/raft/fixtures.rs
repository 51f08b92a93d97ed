//! Test fixtures: small, valid resources and commands.

use std::collections::BTreeMap;

use crds::meta::ObjectMeta;
use crds::node::Node;
use crds::revision::RevisionOrigin;
use crds::service::{Service, ServiceStatus};
use crds::stack::Stack;
use crds::task::{Task, TaskState, TaskStatus};

use crate::raft::changes::Changes;
use crate::raft::command::Command;
use crate::sync::record::{AppliedRevision, Outcome, RevisionInfo, RevisionRecord};

/// A stack file with two services.
const SHOP: &str = "services:\n  web:\n    image: nginx:1.27\n    ports: [\"8080:80\"]\n  db:\n    image: postgres:17\n";

/// A new cluster's identity: a fresh CA and join tokens.
pub fn cluster_info(id: &str) -> crate::raft::cluster_info::ClusterInfo {
    let ca = crate::pki::ClusterCa::generate(id).expect("ca");
    crate::raft::cluster_info::ClusterInfo {
        id: id.into(),
        ca: ca.to_pem(),
        tokens: crate::pki::TokenStore::generate(&ca.fingerprint()).expect("tokens"),
        created_at_ms: 1,
        revoked: Default::default(),
        node_cert_validity_s: None,
    }
}

/// Metadata naming `id`, with no bookkeeping.
pub fn meta(id: &str) -> ObjectMeta {
    ObjectMeta {
        id: id.to_owned(),
        ..ObjectMeta::default()
    }
}

/// A node with defaults.
pub fn node(id: &str) -> Node {
    Node {
        meta: meta(id),
        ..Node::default()
    }
}

/// A task of `shop_web` in `state`.
pub fn task(id: &str, state: TaskState) -> Task {
    Task {
        meta: meta(id),
        service: "shop_web".into(),
        slot: 1,
        node: Some("n1".into()),
        spec_hash: "abc".into(),
        attempt: 0,
        desired_state: TaskState::Running,
        status: status(state),
    }
}

/// Changes naming tasks `ids` of `shop_web` as changed.
pub fn changed_tasks(ids: &[&str]) -> Changes {
    Changes {
        tasks: ids
            .iter()
            .map(|id| ((*id).to_owned(), "shop_web".to_owned()))
            .collect(),
        ..Changes::default()
    }
}

/// A status in `state`.
pub fn status(state: TaskState) -> TaskStatus {
    TaskStatus {
        state,
        ..TaskStatus::default()
    }
}

/// A followed Git branch.
pub fn source() -> crate::source::spec::SourceSpec {
    crate::source::spec::SourceSpec::Git(crate::source::spec::GitSpec {
        url: "https://example.com/ops.git".into(),
        branch: "main".into(),
        path: "stacks".into(),
        interval_ms: 60_000,
        token_env: Some("RECONCILER_GIT_TOKEN".into()),
        token_file: None,
        username: None,
        ssh_key: None,
        known_hosts: None,
        allow_insecure_auth: false,
    })
}

/// The `shop` stack, loaded and normalised like the sync loop does.
pub fn shop() -> Stack {
    crds::stack::from_text("shop", SHOP).expect("the fixture loads")
}

/// Service `name` (`shop_web` or `shop_db`) of the `shop` stack.
pub fn service(name: &str) -> Service {
    let spec = shop().services.get(name).expect("a shop service").clone();
    Service {
        meta: meta(name),
        spec,
        status: ServiceStatus::default(),
        previous_spec: None,
        update: None,
    }
}

/// A record with `shop` applied at revision `id`.
pub fn record(id: &str) -> RevisionRecord {
    let info = RevisionInfo {
        id: id.into(),
        origin: RevisionOrigin::Git {
            repo: "https://example.com/ops.git".into(),
            branch: "main".into(),
            path: "stacks".into(),
        },
        author: Some("Ada".into()),
        message: Some("deploy shop".into()),
        time_ms: Some(1_000),
    };
    let mut record = RevisionRecord {
        applied: Some(AppliedRevision {
            revision: info.clone(),
            at_ms: 2_000,
            stacks: BTreeMap::from([("shop".to_owned(), shop())]),
            warnings: Vec::new(),
        }),
        rejected: None,
        last_seen: Some(info),
        history: Vec::new(),
        source: Some(source()),
        source_failure: None,
    };
    record.push_history(Outcome {
        revision: id.into(),
        at_ms: 2_000,
        result: "applied".into(),
        summary: "2 to add".into(),
    });
    record
}

/// A mixed sequence touching every kind of object.
pub fn script() -> Vec<Command> {
    vec![
        Command::UpsertNode {
            node: node("n1"),
            at_ms: 10,
        },
        Command::PutServices {
            services: vec![service("shop_web"), service("shop_db")],
            at_ms: 11,
        },
        Command::PutTasks {
            tasks: vec![
                task("t1", TaskState::Pending),
                task("t2", TaskState::Pending),
            ],
            at_ms: 12,
        },
        Command::UpdateTaskStatus {
            updates: vec![
                ("t1".into(), status(TaskState::Running)),
                ("t2".into(), status(TaskState::Failed)),
            ],
            at_ms: 13,
        },
        Command::RecordRevision {
            record: record("c0ffee"),
        },
        Command::RemoveTasks {
            ids: vec!["t2".into()],
        },
        Command::SetNodeState {
            id: "n1".into(),
            state: crds::node::NodeState::Ready,
            message: None,
            at_ms: 14,
        },
        Command::RemoveServices {
            names: vec!["shop_db".into()],
        },
    ]
}
