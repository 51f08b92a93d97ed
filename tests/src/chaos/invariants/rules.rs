//! The invariants, decided purely: each observation (with the time it was made) goes in, the
//! violations it reveals come out. The sampler threads in the parent module do the IO.
//!
//! - **No doubled slot**: a slot (or a global service's node) never has two running
//!   containers, except inside a fault window (a node frozen or cut off keeps running what it
//!   ran while its tasks are replaced) or, for start-first services, an update window.
//! - **No lost revision**: the revision a manager reports applied never moves back in the order
//!   the revisions were pushed, and is always one that was pushed.
//! - **One leader per term**: no two managers ever name different leaders for the same term.
//! - **Replicas recover**: a service that once ran all its desired replicas never runs fewer
//!   for longer than `lag`, outside a window or the `settle` bound after one closes.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crate::chaos::engine::Listed;

/// Time bounds of a scenario.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// After a fault heals (or an update ends): how long until superseded containers must be
    /// gone and every replica must run again.
    pub settle: Duration,
    /// How long a shortfall may last outside any window before it counts: one sample of one
    /// thread may lag another's.
    pub lag: Duration,
    /// Whether updates are start-first (then a slot runs two containers while it updates).
    pub start_first: bool,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            settle: Duration::from_secs(30),
            lag: Duration::from_secs(3),
            start_first: false,
        }
    }
}

/// One manager's answer to `status --json`, reduced to what the rules need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagerView {
    /// The applied revision.
    pub applied: Option<String>,
    /// The leader it names.
    pub leader: Option<String>,
    /// Its Raft term.
    pub term: u64,
    /// Whether it marked the answer possibly stale (no quorum).
    pub stale: bool,
}

/// One service in `service ls`, reduced to what the rules need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceView {
    /// Full name.
    pub name: String,
    /// Desired replicas.
    pub desired: u64,
    /// Whether an update or rollback is in flight.
    pub updating: bool,
}

/// A window in which faults make doubles and shortfalls legitimate.
#[derive(Debug, Clone)]
struct Window {
    label: String,
    closed: Option<Duration>,
}

/// What the rules remember between observations.
#[derive(Debug, Default)]
pub struct Rules {
    bounds: Bounds,
    /// Pushed revisions, oldest first.
    pub revisions: Vec<String>,
    windows: Vec<Window>,
    applied: HashMap<String, (usize, String)>,
    leaders: BTreeMap<u64, String>,
    services: HashMap<String, ServiceView>,
    /// When each service's update was last seen in flight.
    updated_at: HashMap<String, Duration>,
    /// Services that once ran every desired replica.
    armed: HashMap<String, bool>,
    short_since: HashMap<String, Duration>,
}

impl Rules {
    /// Rules with these bounds and no revision yet.
    pub fn new(bounds: Bounds) -> Rules {
        Rules {
            bounds,
            ..Rules::default()
        }
    }

    /// Opens a fault window.
    pub fn open(&mut self, label: &str) {
        self.windows.push(Window {
            label: label.to_owned(),
            closed: None,
        });
    }

    /// Closes the open window `label` at `at`.
    pub fn close(&mut self, at: Duration, label: &str) {
        for w in &mut self.windows {
            if w.label == label && w.closed.is_none() {
                w.closed = Some(at);
            }
        }
    }

    /// Whether some window is open at `at`, or closed less than `settle` before.
    fn in_window(&self, at: Duration) -> bool {
        self.windows
            .iter()
            .any(|w| w.closed.is_none_or(|c| at < c + self.bounds.settle))
    }

    /// Whether `service`'s update is in flight, or ended less than `settle` before `at`.
    fn updating(&self, service: &str, at: Duration) -> bool {
        self.updated_at
            .get(service)
            .is_some_and(|t| at < *t + self.bounds.settle)
    }

    /// A manager's view; returns violations.
    pub fn observe_manager(&mut self, manager: &str, view: &ManagerView) -> Vec<String> {
        let mut found = Vec::new();
        if let Some(id) = &view.applied {
            match self.revisions.iter().position(|r| r == id) {
                None => found.push(format!("{manager} applied {id:.7}, which was never pushed")),
                Some(index) => {
                    if let Some((before, old)) = self.applied.get(manager)
                        && index < *before
                    {
                        found.push(format!(
                            "{manager}'s applied revision went back from {old:.7} (#{before}) \
                             to {id:.7} (#{index})"
                        ));
                    }
                    self.applied.insert(manager.to_owned(), (index, id.clone()));
                }
            }
        }
        if let Some(leader) = &view.leader {
            match self.leaders.get(&view.term) {
                Some(known) if known != leader => found.push(format!(
                    "two leaders in term {}: {known} and {leader} (as {manager} says)",
                    view.term
                )),
                Some(_) => {}
                None => {
                    self.leaders.insert(view.term, leader.clone());
                }
            }
        }
        found
    }

    /// The services' desired counts and update states.
    pub fn observe_services(&mut self, at: Duration, services: &[ServiceView]) {
        for s in services {
            if s.updating {
                self.updated_at.insert(s.name.clone(), at);
            }
            let changed = self
                .services
                .get(&s.name)
                .is_none_or(|old| old.desired != s.desired);
            if changed {
                // A new replica count must be reached once before shortfalls count.
                self.armed.insert(s.name.clone(), false);
            }
            self.services.insert(s.name.clone(), s.clone());
        }
    }

    /// The stack's containers on the engine; returns violations.
    pub fn observe_engine(&mut self, at: Duration, containers: &[Listed]) -> Vec<String> {
        let mut found = Vec::new();
        let mut slots: BTreeMap<String, Vec<&Listed>> = BTreeMap::new();
        for c in containers.iter().filter(|c| c.running()) {
            slots.entry(c.slot_key()).or_default().push(c);
        }
        for (slot, running) in &slots {
            let service = &running[0].service;
            let excused =
                self.in_window(at) || (self.bounds.start_first && self.updating(service, at));
            if running.len() > 1 && !excused {
                let tasks: Vec<String> = running
                    .iter()
                    .map(|c| format!("{:.10}@{:.10}", c.task, c.node))
                    .collect();
                found.push(format!(
                    "slot {slot} runs {} containers: {tasks:?}",
                    running.len()
                ));
            }
        }
        found.extend(self.check_replicas(at, &slots));
        found
    }

    fn check_replicas(
        &mut self,
        at: Duration,
        slots: &BTreeMap<String, Vec<&Listed>>,
    ) -> Vec<String> {
        let mut found = Vec::new();
        let services: Vec<ServiceView> = self.services.values().cloned().collect();
        for s in services {
            let running = slots.values().filter(|r| r[0].service == s.name).count() as u64;
            if running >= s.desired {
                self.armed.insert(s.name.clone(), true);
                self.short_since.remove(&s.name);
                continue;
            }
            let excused = self.in_window(at) || self.updating(&s.name, at);
            if !self.armed.get(&s.name).copied().unwrap_or(false) || excused {
                self.short_since.remove(&s.name);
                continue;
            }
            let since = *self.short_since.entry(s.name.clone()).or_insert(at);
            if at.saturating_sub(since) > self.bounds.lag {
                found.push(format!(
                    "{} runs {running} of {} replicas since {:.1}s, outside any fault window",
                    s.name,
                    s.desired,
                    since.as_secs_f64()
                ));
            }
        }
        found
    }
}

#[cfg(test)]
#[path = "rules_test.rs"]
mod tests;
