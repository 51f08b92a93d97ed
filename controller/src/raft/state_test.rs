//! Tests of `ClusterState::apply`: versions, forward-only task states, batches, nodes, services,
//! the revision record and determinism.

use crds::node::NodeState;
use crds::task::TaskState;

use super::*;
use crate::raft::fixtures::{cluster_info, node, record, script, service, status, task};
use crate::raft::rejection::{ObjectKind, Rejection};
use crate::sync::record::{HISTORY, Outcome};

/// A command, what it must answer, and what the state must look like after it.
struct Case {
    name: &'static str,
    cmd: Command,
    want: Response,
    check: fn(&ClusterState),
}

fn ok(version: u64) -> Response {
    Response::Ok {
        version,
        ignored: 0,
    }
}

fn ok_ignoring(version: u64, ignored: u64) -> Response {
    Response::Ok { version, ignored }
}

fn rejected(reason: Rejection) -> Response {
    Response::Rejected { reason }
}

/// Apply the cases in order to one state, checking each.
fn run(cases: Vec<Case>) -> ClusterState {
    let mut state = ClusterState::default();
    for case in cases {
        let before = state.clone();
        let got = state.apply(&case.cmd);
        assert_eq!(got, case.want, "{}", case.name);
        if matches!(got, Response::Rejected { .. }) {
            assert_eq!(state, before, "{}: a rejection changes nothing", case.name);
        }
        (case.check)(&state);
    }
    state
}

fn upsert(n: crds::node::Node, at_ms: u64) -> Command {
    Command::UpsertNode { node: n, at_ms }
}

fn set_state(id: &str, state: NodeState, at_ms: u64) -> Command {
    Command::SetNodeState {
        id: id.into(),
        state,
        message: None,
        at_ms,
    }
}

#[test]
fn nodes_are_versioned_on_real_changes_only() {
    let mut drained = node("n1");
    drained.spec.availability = crds::node::Availability::Drain;
    let mut stale_bookkeeping = node("n1");
    stale_bookkeeping.meta.version = 99;
    stale_bookkeeping.meta.created_at_ms = 1;
    run(vec![
        Case {
            name: "a new node is created at version 1",
            cmd: upsert(node("n1"), 100),
            want: ok(1),
            check: |s| {
                let m = &s.nodes["n1"].meta;
                assert_eq!((m.version, m.created_at_ms, m.updated_at_ms), (1, 100, 100));
            },
        },
        Case {
            name: "the same content with other bookkeeping is no change",
            cmd: upsert(stale_bookkeeping, 200),
            want: ok(1),
            check: |s| assert_eq!(s.nodes["n1"].meta.updated_at_ms, 100),
        },
        Case {
            name: "a spec change bumps versions and keeps the creation time",
            cmd: upsert(drained, 300),
            want: ok(2),
            check: |s| {
                let m = &s.nodes["n1"].meta;
                assert_eq!((m.version, m.created_at_ms, m.updated_at_ms), (2, 100, 300));
            },
        },
        Case {
            name: "a node without id is rejected",
            cmd: upsert(node(""), 400),
            want: rejected(Rejection::MissingId {
                kind: ObjectKind::Node,
            }),
            check: |s| assert_eq!(s.nodes.len(), 1),
        },
        Case {
            name: "ready records the transition and the sighting",
            cmd: set_state("n1", NodeState::Ready, 500),
            want: ok(3),
            check: |s| {
                let n = &s.nodes["n1"];
                assert_eq!(
                    (n.status.state, n.status.last_seen_ms),
                    (NodeState::Ready, 500)
                );
                assert_eq!(n.meta.version, 3);
            },
        },
        Case {
            name: "the same state again is no change",
            cmd: set_state("n1", NodeState::Ready, 600),
            want: ok(3),
            check: |s| assert_eq!(s.nodes["n1"].status.last_seen_ms, 500),
        },
        Case {
            name: "down keeps the last sighting",
            cmd: Command::SetNodeState {
                id: "n1".into(),
                state: NodeState::Down,
                message: Some("missed 3 heartbeats".into()),
                at_ms: 700,
            },
            want: ok(4),
            check: |s| {
                let n = &s.nodes["n1"];
                assert_eq!(
                    (n.status.state, n.status.last_seen_ms),
                    (NodeState::Down, 500)
                );
                assert_eq!(n.status.message.as_deref(), Some("missed 3 heartbeats"));
            },
        },
        Case {
            name: "an unknown node cannot change state",
            cmd: set_state("n9", NodeState::Ready, 800),
            want: rejected(Rejection::UnknownNode { id: "n9".into() }),
            check: |_| {},
        },
        Case {
            name: "removing an unknown node is no change",
            cmd: Command::RemoveNode { id: "n9".into() },
            want: ok(4),
            check: |_| {},
        },
        Case {
            name: "removing a node bumps the version",
            cmd: Command::RemoveNode { id: "n1".into() },
            want: ok(5),
            check: |s| assert!(s.nodes.is_empty()),
        },
    ]);
}

#[test]
fn task_states_only_move_forward() {
    let mut rescheduled = task("t1", TaskState::Pending);
    rescheduled.desired_state = TaskState::Shutdown;
    run(vec![
        Case {
            name: "a batch of new tasks is one version",
            cmd: Command::PutTasks {
                tasks: vec![
                    task("t1", TaskState::Pending),
                    task("t2", TaskState::Pending),
                ],
                at_ms: 10,
            },
            want: ok(1),
            check: |s| assert!(s.tasks.values().all(|t| t.meta.version == 1)),
        },
        Case {
            name: "the same batch again is no change",
            cmd: Command::PutTasks {
                tasks: vec![
                    task("t1", TaskState::Pending),
                    task("t2", TaskState::Pending),
                ],
                at_ms: 20,
            },
            want: ok(1),
            check: |s| assert!(s.tasks.values().all(|t| t.meta.updated_at_ms == 10)),
        },
        Case {
            name: "a batch with one bad task is rejected whole",
            cmd: Command::PutTasks {
                tasks: vec![task("t3", TaskState::New), task("", TaskState::New)],
                at_ms: 30,
            },
            want: rejected(Rejection::MissingId {
                kind: ObjectKind::Task,
            }),
            check: |s| assert!(!s.tasks.contains_key("t3")),
        },
        Case {
            name: "status reports: forward applies, backward and unknown are counted",
            cmd: Command::UpdateTaskStatus {
                updates: vec![
                    ("t1".into(), status(TaskState::Running)),
                    ("t1".into(), status(TaskState::Starting)),
                    ("t9".into(), status(TaskState::Running)),
                    ("t2".into(), status(TaskState::Pending)),
                ],
                at_ms: 40,
            },
            want: ok_ignoring(2, 2),
            check: |s| {
                assert_eq!(s.tasks["t1"].status.state, TaskState::Running);
                assert_eq!(s.tasks["t1"].meta.version, 2);
                assert_eq!(
                    s.tasks["t2"].meta.version, 1,
                    "an equal status is no change"
                );
            },
        },
        Case {
            name: "a put carrying an older status keeps the reported one",
            cmd: Command::PutTasks {
                tasks: vec![rescheduled],
                at_ms: 50,
            },
            want: ok_ignoring(3, 1),
            check: |s| {
                let t = &s.tasks["t1"];
                assert_eq!(t.status.state, TaskState::Running);
                assert_eq!(t.desired_state, TaskState::Shutdown);
                assert_eq!((t.meta.version, t.meta.created_at_ms), (3, 10));
            },
        },
        Case {
            name: "a detail of the same state is a change",
            cmd: Command::UpdateTaskStatus {
                updates: vec![(
                    "t1".into(),
                    crds::task::TaskStatus {
                        message: Some("healthy".into()),
                        ..status(TaskState::Running)
                    },
                )],
                at_ms: 60,
            },
            want: ok(4),
            check: |s| assert_eq!(s.tasks["t1"].meta.updated_at_ms, 60),
        },
        Case {
            name: "removing tasks skips unknown ids",
            cmd: Command::RemoveTasks {
                ids: vec!["t2".into(), "t9".into()],
            },
            want: ok(5),
            check: |s| assert_eq!(s.tasks.keys().collect::<Vec<_>>(), ["t1"]),
        },
    ]);
}

#[test]
fn a_task_with_a_healthcheck_starts_when_it_first_turns_healthy() {
    let report = |health, at: u64| crds::task::TaskStatus {
        health: Some(health),
        timestamp_ms: at,
        ..status(TaskState::Running)
    };
    let started = |s: &ClusterState, id: &str| s.tasks[id].status.started_at_ms;
    let mut state = ClusterState::default();
    let put = Command::PutTasks {
        tasks: vec![
            task("t1", TaskState::Pending),
            task("t2", TaskState::Pending),
        ],
        at_ms: 10,
    };
    state.apply(&put);
    let update = |updates: Vec<(&str, crds::task::TaskStatus)>| Command::UpdateTaskStatus {
        updates: updates
            .into_iter()
            .map(|(id, s)| (id.to_owned(), s))
            .collect(),
        at_ms: 0,
    };
    state.apply(&update(vec![
        ("t1", report(crds::task::TaskHealth::Starting, 100)),
        ("t2", report(crds::task::TaskHealth::Unhealthy, 100)),
    ]));
    assert_eq!(
        started(&state, "t1"),
        None,
        "running, not up before its check passes"
    );
    state.apply(&update(vec![(
        "t1",
        report(crds::task::TaskHealth::Healthy, 200),
    )]));
    assert_eq!(started(&state, "t1"), Some(200));
    state.apply(&update(vec![(
        "t1",
        report(crds::task::TaskHealth::Unhealthy, 300),
    )]));
    assert_eq!(started(&state, "t1"), Some(200), "kept once known");
    assert_eq!(started(&state, "t2"), None, "never healthy: never ran");
}

#[test]
fn services_are_named_by_their_spec() {
    let mut misnamed = service("shop_web");
    misnamed.meta.id = "web".into();
    run(vec![
        Case {
            name: "services are created",
            cmd: Command::PutServices {
                services: vec![service("shop_web"), service("shop_db")],
                at_ms: 10,
            },
            want: ok(1),
            check: |s| assert_eq!(s.services.len(), 2),
        },
        Case {
            name: "an id that is not the spec name is rejected",
            cmd: Command::PutServices {
                services: vec![misnamed],
                at_ms: 20,
            },
            want: rejected(Rejection::ServiceIdMismatch {
                id: "web".into(),
                name: "shop_web".into(),
            }),
            check: |_| {},
        },
        Case {
            name: "identical services are no change",
            cmd: Command::PutServices {
                services: vec![service("shop_db")],
                at_ms: 30,
            },
            want: ok(1),
            check: |_| {},
        },
        Case {
            name: "services are removed by name",
            cmd: Command::RemoveServices {
                names: vec!["shop_db".into()],
            },
            want: ok(2),
            check: |s| assert!(s.services.contains_key("shop_web") && s.services.len() == 1),
        },
    ]);
}

#[test]
fn the_revision_record_round_trips_and_stays_bounded() {
    let mut long = record("b");
    for i in 0..HISTORY + 5 {
        long.push_history(Outcome {
            revision: i.to_string(),
            at_ms: i as u64,
            result: "rejected".into(),
            summary: String::new(),
        });
    }
    long.history.push(Outcome {
        revision: "unbounded writer".into(),
        at_ms: 0,
        result: "applied".into(),
        summary: String::new(),
    });
    let state = run(vec![
        Case {
            name: "the source is set on its own",
            cmd: Command::SetSource {
                source: record("a").source,
            },
            want: ok(1),
            check: |s| assert_eq!(s.revisions.source, record("a").source),
        },
        Case {
            name: "a record is stored as given",
            cmd: Command::RecordRevision {
                record: record("a"),
            },
            want: ok(2),
            check: |s| assert_eq!(s.revisions, record("a")),
        },
        Case {
            name: "the same record is no change, nor is a record read before the source changed",
            cmd: Command::RecordRevision {
                record: crate::sync::record::RevisionRecord {
                    source: None,
                    ..record("a")
                },
            },
            want: ok(2),
            check: |s| assert!(s.revisions.source.is_some(), "the stored source stays"),
        },
        Case {
            name: "history beyond the bound is trimmed",
            cmd: Command::RecordRevision { record: long },
            want: ok(3),
            check: |s| {
                assert_eq!(s.revisions.history.len(), HISTORY);
                assert_eq!(
                    s.revisions.history[HISTORY - 1].revision,
                    "unbounded writer"
                );
            },
        },
    ]);
    let json = serde_json::to_vec(&state).expect("encode");
    let back: ClusterState = serde_json::from_slice(&json).expect("decode");
    assert_eq!(back, state);
    assert_eq!(
        back.revisions.applied_stacks()["shop"],
        record("b").applied_stacks()["shop"]
    );
}

#[test]
fn the_same_commands_give_the_same_state() {
    let apply_all = |commands: &[Command]| {
        let mut state = ClusterState::default();
        let responses: Vec<Response> = commands.iter().map(|c| state.apply(c)).collect();
        (state, responses)
    };
    let (first, first_responses) = apply_all(&script());
    // As followers get them: through the log's JSON.
    let replicated: Vec<Command> = script()
        .iter()
        .map(|c| serde_json::from_slice(&serde_json::to_vec(c).expect("encode")).expect("decode"))
        .collect();
    let (second, second_responses) = apply_all(&replicated);
    assert_eq!(first, second);
    assert_eq!(first_responses, second_responses);
    assert_eq!(
        serde_json::to_string(&first).expect("encode"),
        serde_json::to_string(&second).expect("encode")
    );
    assert_eq!(first.version, 8, "every scripted command changes something");
}

#[test]
fn command_keys_name_every_object_a_command_can_change() {
    let mut state = ClusterState::default();
    for cmd in script() {
        let before = state.clone();
        state.apply(&cmd);
        let keys = cmd.keys();
        let changed_nodes = diff_keys(&before.nodes, &state.nodes).map(Key::Node);
        let changed_services = diff_keys(&before.services, &state.services).map(Key::Service);
        let changed_tasks = diff_keys(&before.tasks, &state.tasks).map(Key::Task);
        for key in changed_nodes.chain(changed_services).chain(changed_tasks) {
            assert!(
                keys.contains(&key),
                "{cmd:?} changed {key:?} but does not name it"
            );
        }
        if before.revisions != state.revisions {
            assert!(keys.contains(&Key::Revisions));
        }
    }
}

/// Ids present in either map whose value differs.
fn diff_keys<'a, T: PartialEq>(
    a: &'a BTreeMap<String, T>,
    b: &'a BTreeMap<String, T>,
) -> impl Iterator<Item = String> + 'a {
    a.keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
}

#[test]
fn a_cluster_is_initialised_once_and_tokens_rotate() {
    let first = cluster_info("c1");
    let mut rotated = first.tokens.clone();
    rotated.rotate(crds::node::NodeRole::Worker);
    let rotated_check = rotated.clone();
    let state = run(vec![
        Case {
            name: "tokens before init are refused",
            cmd: Command::SetTokens {
                tokens: first.tokens.clone(),
            },
            want: rejected(Rejection::NotInitialised),
            check: |s| assert!(s.cluster.is_none()),
        },
        Case {
            name: "init",
            cmd: Command::InitCluster {
                cluster: first.clone(),
            },
            want: ok(1),
            check: |s| assert_eq!(s.cluster.as_ref().map(|c| c.id.as_str()), Some("c1")),
        },
        Case {
            name: "the same init again changes nothing",
            cmd: Command::InitCluster {
                cluster: first.clone(),
            },
            want: ok(1),
            check: |_| {},
        },
        Case {
            name: "another init is refused",
            cmd: Command::InitCluster {
                cluster: cluster_info("c2"),
            },
            want: rejected(Rejection::AlreadyInitialised {
                current: "c1".into(),
            }),
            check: |s| assert_eq!(s.cluster.as_ref().map(|c| c.id.as_str()), Some("c1")),
        },
        Case {
            name: "rotation",
            cmd: Command::SetTokens { tokens: rotated },
            want: ok(2),
            check: |_| {},
        },
    ]);
    let cluster = state.cluster.expect("cluster");
    assert_eq!(cluster.tokens, rotated_check);
    let old = first
        .tokens
        .current(crds::node::NodeRole::Worker)
        .to_string();
    assert!(
        cluster.tokens.verify_str(&old).is_err(),
        "the old token stops working"
    );
}

#[test]
fn node_updates_change_only_what_they_name() {
    use crate::raft::command::NodeUpdate;
    use crds::node::{Availability, NodeRole};
    let mut n = node("n1");
    n.spec.labels.insert("keep".into(), "1".into());
    n.spec.labels.insert("drop".into(), "1".into());
    n.description.raft_id = 42;
    let update = NodeUpdate {
        availability: Some(Availability::Drain),
        role: Some(NodeRole::Manager),
        labels_add: [("zone".to_owned(), "a".to_owned())].into(),
        labels_rm: vec!["drop".into()],
    };
    let mut described = n.description.clone();
    described.hostname = "renamed".into();
    described.raft_id = 0;
    run(vec![
        Case {
            name: "create",
            cmd: upsert(n, 1),
            want: ok(1),
            check: |_| {},
        },
        Case {
            name: "update",
            cmd: Command::UpdateNode {
                id: "n1".into(),
                update: update.clone(),
                at_ms: 2,
            },
            want: ok(2),
            check: |s| {
                let n = &s.nodes["n1"];
                assert_eq!(n.spec.availability, Availability::Drain);
                assert_eq!(n.spec.role, NodeRole::Manager);
                assert_eq!(n.spec.labels.len(), 2);
                assert_eq!(n.spec.labels["zone"], "a");
                assert!(!n.spec.labels.contains_key("drop"));
                assert_eq!(n.meta.updated_at_ms, 2);
            },
        },
        Case {
            name: "the same update again changes nothing",
            cmd: Command::UpdateNode {
                id: "n1".into(),
                update,
                at_ms: 3,
            },
            want: ok(2),
            check: |s| assert_eq!(s.nodes["n1"].meta.updated_at_ms, 2),
        },
        Case {
            name: "an unknown node is refused",
            cmd: Command::UpdateNode {
                id: "nope".into(),
                update: NodeUpdate::default(),
                at_ms: 4,
            },
            want: rejected(Rejection::UnknownNode { id: "nope".into() }),
            check: |_| {},
        },
        Case {
            name: "a new description keeps the Raft id",
            cmd: Command::SetNodeDescription {
                id: "n1".into(),
                description: described,
                at_ms: 5,
            },
            want: ok(3),
            check: |s| {
                assert_eq!(s.nodes["n1"].description.hostname, "renamed");
                assert_eq!(s.nodes["n1"].description.raft_id, 42);
            },
        },
    ]);
}

#[test]
fn rejections_read_as_they_always_have() {
    let cases = [
        (
            Rejection::UnknownNode { id: "n9".into() },
            "node \"n9\" is unknown",
        ),
        (
            Rejection::MissingId {
                kind: ObjectKind::Task,
            },
            "a task needs an id",
        ),
        (
            Rejection::ServiceIdMismatch {
                id: "web".into(),
                name: "shop_web".into(),
            },
            "service id \"web\" differs from its spec name \"shop_web\"",
        ),
        (
            Rejection::AlreadyInitialised {
                current: "c1".into(),
            },
            "the cluster is already initialised as c1; it cannot be initialised again",
        ),
        (
            Rejection::NotInitialised,
            "the cluster is not initialised yet",
        ),
    ];
    for (rejection, message) in cases {
        assert_eq!(rejection.to_string(), message);
        let json = serde_json::to_string(&Response::Rejected {
            reason: rejection.clone(),
        })
        .expect("a response serializes");
        let back: Response = serde_json::from_str(&json).expect("and reads back");
        assert_eq!(back, Response::Rejected { reason: rejection });
    }
}
