//! Global services: one task per usable node.
//!
//! Owns the node set of a global service. Slots are keyed by node. A node that takes new tasks
//! (Ready, Active, matching the constraints) and has no task gets one at once, created Pending
//! with its node set. A node the service must leave (Down, drained, removed, constraints no
//! longer met) has its tasks shut down, with no replacement elsewhere. A paused node, or one not
//! heard from yet, keeps its task but gets no new one. Kept slots go through
//! [`restart::maintain`], so restarts happen on the same node.

use std::collections::HashSet;

use super::eligibility::Fit;
use super::restart;
use super::slot::{Ctx, Plan, Slot};

/// Maintain `slots` (sorted by node), open slots on usable nodes without a task, and return the
/// desired task count: nodes taking new tasks plus the other kept nodes that hold one.
pub(crate) fn plan<'a>(ctx: &mut Ctx<'a, '_>, slots: &mut Vec<Slot<'a>>, plan: &mut Plan) -> u64 {
    let mut occupied: HashSet<&str> = HashSet::with_capacity(slots.len());
    let mut desired = 0;
    for slot in slots.iter_mut() {
        let node = slot.node.unwrap_or_default();
        let fit = ctx.fit.fit(slot.node);
        if fit == Fit::Lost {
            slot.shut_down_all(plan);
            continue;
        }
        if slot.is_held() || restart::exhausted(ctx, slot) {
            restart::maintain(ctx, slot, plan, false);
            occupied.insert(node);
            desired += u64::from(fit == Fit::Keep);
        }
    }
    let nodes = ctx.nodes;
    for node in nodes.ids() {
        if ctx.fit.fit(Some(node)) != Fit::Take {
            continue;
        }
        desired += 1;
        if !occupied.contains(node) {
            let mut slot = Slot::new(0, Some(node), &[]);
            slot.create(ctx, plan, 0, false);
            slots.push(slot);
        }
    }
    desired
}
