//! Replicated services: keep `replicas` slots occupied.
//!
//! Owns the slot count. A slot is *occupied* when a task holds it or its restarts are exhausted
//! (it stays empty on purpose). Too many occupied slots: whole slots are shut down, those
//! without a running task first, then those on the nodes with the most tasks of the service
//! (re-counted after each pick, as SwarmKit does, so copies even out), ties to the highest slot
//! number. Too few: new Pending tasks, without a node, fill the lowest free slot numbers (a
//! separate scheduler places them). Every kept slot goes through [`restart::maintain`].

use std::collections::{BTreeMap, BinaryHeap};

use crds::task::TaskState;

use super::restart;
use super::slot::{Ctx, Plan, Slot};

/// Scale `slots` (sorted by number) to `replicas`, maintain the kept ones and open new slots
/// at the end of `slots`.
pub(crate) fn plan(
    ctx: &mut Ctx<'_, '_>,
    slots: &mut Vec<Slot<'_>>,
    plan: &mut Plan,
    replicas: u64,
) {
    let occupied: Vec<usize> = (0..slots.len())
        .filter(|&i| slots[i].is_held() || restart::exhausted(ctx, &slots[i]))
        .collect();
    let excess = occupied
        .len()
        .saturating_sub(usize::try_from(replicas).unwrap_or(usize::MAX));
    let mut removed = choose_removals(slots, &occupied, excess);
    removed.sort_unstable();
    let mut kept = Vec::with_capacity(occupied.len() - removed.len());
    for &i in &occupied {
        if removed.binary_search(&i).is_ok() {
            slots[i].shut_down_all(plan);
        } else {
            restart::maintain(ctx, &mut slots[i], plan, true);
            kept.push(slots[i].number);
        }
    }
    fill(ctx, slots, plan, &kept, replicas);
}

/// Open new slots until `replicas` are occupied, lowest free numbers first. `kept` is sorted.
fn fill(
    ctx: &mut Ctx<'_, '_>,
    slots: &mut Vec<Slot<'_>>,
    plan: &mut Plan,
    kept: &[u64],
    replicas: u64,
) {
    let mut missing = replicas.saturating_sub(kept.len() as u64);
    let mut number = 0;
    let mut next_kept = kept.iter().peekable();
    while missing > 0 {
        number += 1;
        if next_kept.next_if(|&&k| k == number).is_some() {
            continue;
        }
        let mut slot = Slot::new(number, None, &[]);
        slot.create(ctx, plan, 0, false);
        slots.push(slot);
        missing -= 1;
    }
}

/// The `count` occupied slots to shut down, in SwarmKit's order.
fn choose_removals(slots: &[Slot<'_>], occupied: &[usize], count: usize) -> Vec<usize> {
    if count == 0 {
        return Vec::new();
    }
    // Slots with no running task cost nothing to remove: highest numbers first.
    let mut idle: Vec<usize> = Vec::new();
    let mut by_node: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for &i in occupied {
        let running = slots[i]
            .held()
            .find(|(_, t)| t.status.state == TaskState::Running && t.node.is_some());
        match running.and_then(|(_, t)| t.node.as_deref()) {
            Some(node) => by_node.entry(node).or_default().push(i),
            None => idle.push(i),
        }
    }
    let mut removed: Vec<usize> = idle.into_iter().rev().take(count).collect();
    // The rest from the fullest node, re-counted after each pick; ties to the highest slot.
    let mut heap: BinaryHeap<(usize, u64, &str)> = by_node
        .iter()
        .filter_map(|(node, list)| list.last().map(|&i| (list.len(), slots[i].number, *node)))
        .collect();
    while removed.len() < count {
        let Some((_, _, node)) = heap.pop() else {
            break;
        };
        let Some(list) = by_node.get_mut(node) else {
            break;
        };
        if let Some(i) = list.pop() {
            removed.push(i);
        }
        if let Some(&top) = list.last() {
            heap.push((list.len(), slots[top].number, node));
        }
    }
    removed
}
