use super::*;
use crds::task::TaskState;

fn status(state: TaskState) -> TaskStatus {
    TaskStatus {
        state,
        ..TaskStatus::default()
    }
}

#[test]
fn merge_keeps_the_latest_report_per_task_in_first_reported_order() {
    let mut pending = HashMap::new();
    let mut order = Vec::new();
    merge(
        &mut pending,
        &mut order,
        vec![
            ("b".into(), status(TaskState::Preparing)),
            ("a".into(), status(TaskState::Starting)),
        ],
    );
    merge(
        &mut pending,
        &mut order,
        vec![("b".into(), status(TaskState::Running))],
    );
    assert_eq!(order, ["b", "a"]);
    assert_eq!(pending["b"].state, TaskState::Running);
    assert_eq!(pending["a"].state, TaskState::Starting);
}

#[test]
fn the_leader_the_heartbeat_reached_is_tried_first() {
    let (tx, rx) = watch::channel(None);
    let managers = Managers {
        known: vec!["m1:7420".into(), "m2:7420".into(), "m3:7420".into()],
        leader: rx,
    };
    assert_eq!(managers.candidates(), ["m1:7420", "m2:7420", "m3:7420"]);
    tx.send_replace(Some("m3:7420".into()));
    assert_eq!(managers.candidates(), ["m3:7420", "m1:7420", "m2:7420"]);
    tx.send_replace(Some("m4:7420".into()));
    assert_eq!(
        managers.candidates(),
        ["m4:7420", "m1:7420", "m2:7420", "m3:7420"]
    );
}
