use crds::assignment::AssignmentBatch;
use crds::meta::ObjectMeta;
use crds::service::ServiceSpec;
use crds::task::{Task, TaskState, TaskStatus};

use super::*;

fn spec(image: &str) -> ServiceSpec {
    let text = format!("services:\n  web:\n    image: {image}\n");
    let stack = crds::stack::from_text("s", &text).expect("the stack loads");
    stack.services["s_web"].clone()
}

fn task(id: &str, hash: &str, desired: TaskState) -> Task {
    Task {
        meta: ObjectMeta {
            id: id.into(),
            ..ObjectMeta::default()
        },
        service: "s_web".into(),
        slot: 1,
        node: Some("n1".into()),
        spec_hash: hash.into(),
        attempt: 0,
        desired_state: desired,
        status: TaskStatus {
            state: TaskState::Assigned,
            ..TaskStatus::default()
        },
    }
}

fn states(reports: &[(String, TaskStatus)]) -> Vec<(&str, TaskState)> {
    reports
        .iter()
        .map(|(id, s)| (id.as_str(), s.state))
        .collect()
}

#[test]
fn assigned_tasks_run_and_shutdowns_stop() {
    let mut node = SimulatedNode::new(SimulatedConfig::default());
    let batch = AssignmentBatch {
        full: true,
        tasks: vec![task("t1", "h", TaskState::Running)],
        specs: [("h".to_owned(), spec("app:1"))].into(),
        ..AssignmentBatch::default()
    };
    assert_eq!(states(&node.apply(&batch, 5)), [("t1", TaskState::Running)]);
    assert!(
        node.apply(&batch, 6).is_empty(),
        "running already: nothing to report"
    );
    let stop = AssignmentBatch {
        tasks: vec![task("t1", "h", TaskState::Shutdown)],
        ..AssignmentBatch::default()
    };
    assert_eq!(states(&node.apply(&stop, 7)), [("t1", TaskState::Shutdown)]);
    assert_eq!(node.running(), 0);
}

#[test]
fn configured_images_fail_or_are_rejected() {
    let mut node = SimulatedNode::new(SimulatedConfig {
        fail_images: vec!["app:bad".into()],
        reject_images: vec!["app:missing".into()],
    });
    let batch = AssignmentBatch {
        full: true,
        tasks: vec![
            task("t1", "bad", TaskState::Running),
            task("t2", "missing", TaskState::Running),
        ],
        specs: [
            ("bad".to_owned(), spec("app:bad")),
            ("missing".to_owned(), spec("app:missing")),
        ]
        .into(),
        ..AssignmentBatch::default()
    };
    let reports = node.apply(&batch, 5);
    assert_eq!(
        states(&reports),
        [("t1", TaskState::Failed), ("t2", TaskState::Rejected)]
    );
    assert_eq!(reports[0].1.exit_code, Some(1));
}

#[test]
fn a_crash_fails_a_running_task_once() {
    let mut node = SimulatedNode::new(SimulatedConfig::default());
    let batch = AssignmentBatch {
        full: true,
        tasks: vec![task("t1", "h", TaskState::Running)],
        ..AssignmentBatch::default()
    };
    node.apply(&batch, 1);
    let report = node.crash("t1", 2).map(|(_, s)| s.state);
    assert_eq!(report, Some(TaskState::Failed));
    assert_eq!(node.crash("t1", 3), None);
}

#[test]
fn a_full_set_forgets_what_it_does_not_list() {
    let mut node = SimulatedNode::new(SimulatedConfig::default());
    node.apply(
        &AssignmentBatch {
            full: true,
            tasks: vec![task("t1", "h", TaskState::Running)],
            ..AssignmentBatch::default()
        },
        1,
    );
    node.apply(
        &AssignmentBatch {
            full: true,
            ..AssignmentBatch::default()
        },
        2,
    );
    assert!(node.is_empty());
}
