//! Test fixtures shared by the planner's and the loop's tests.

use crds::meta::ObjectMeta;
use crds::task::{Task, TaskState, TaskStatus};

/// Task `id` of `shop_web` slot 1 on node `n1`, spec hash `h1`, desired running, in `state`.
pub(crate) fn task(id: &str, state: TaskState) -> Task {
    Task {
        meta: ObjectMeta {
            id: id.to_owned(),
            ..ObjectMeta::default()
        },
        service: "shop_web".to_owned(),
        slot: 1,
        node: Some("n1".to_owned()),
        spec_hash: "h1".to_owned(),
        attempt: 0,
        desired_state: TaskState::Running,
        status: TaskStatus {
            state,
            ..TaskStatus::default()
        },
    }
}
