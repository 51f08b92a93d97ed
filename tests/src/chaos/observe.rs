//! What a scenario looks at between faults: the stack's containers on the engine (running,
//! per node, with their start times) and the cluster through the CLI (wanted tasks, node
//! readiness, labels, agents' assignment streams), with waits that poll to a deadline.

use std::collections::HashMap;
use std::time::Duration;

use super::engine::{self, Listed};
use super::{cli, setup::Chaos};
use crate::wait_until;

impl Chaos {
    /// Running containers of the stack.
    pub fn running(&self) -> Vec<Listed> {
        engine::list(&self.stack)
            .unwrap_or_default()
            .into_iter()
            .filter(Listed::running)
            .collect()
    }

    /// `(id, StartedAt)` of every running container of the stack, sorted: a restarted or
    /// replaced container changes it.
    pub fn started(&self) -> Vec<(String, String)> {
        let mut all: Vec<(String, String)> = crate::docker::stack_containers(&self.stack)
            .into_iter()
            .filter(|c| c.running())
            .map(|c| (c.id, c.started_at))
            .collect();
        all.sort();
        all
    }

    /// How many running containers each node (by hostname) has.
    pub fn per_node(&self) -> HashMap<String, usize> {
        let names = self.hostnames();
        let mut counts = HashMap::new();
        for c in self.running() {
            let name = names.get(&c.node).cloned().unwrap_or(c.node);
            *counts.entry(name).or_insert(0) += 1;
        }
        counts
    }

    /// Waits until exactly `count` containers of the stack run.
    pub fn wait_running(&self, count: usize, timeout: Duration) {
        wait_until(timeout, &format!("{count} containers running"), || {
            let up = self.running().len();
            (up == count)
                .then_some(())
                .ok_or_else(|| format!("{up} running"))
        });
    }

    /// Tasks the managers want running: `(task, node)`, sorted.
    pub fn wanted_tasks(&self) -> Vec<(String, String)> {
        let via = self.live_manager().expect("a manager answers");
        let tasks = cli::stack_tasks(&self.data(via), &self.stack).expect("stack ps");
        let mut wanted: Vec<(String, String)> = tasks
            .iter()
            .filter(|t| t["desired_state"] == "running")
            .map(|t| {
                (
                    t["meta"]["id"].as_str().unwrap_or_default().to_owned(),
                    t["node"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        wanted.sort();
        wanted
    }

    /// Waits until the cluster lists node `name` as ready.
    pub fn wait_ready(&self, name: &str, timeout: Duration) {
        wait_until(timeout, &format!("{name} ready"), || {
            let via = self.live_manager()?;
            let nodes = cli::nodes(&self.data(via))?;
            let node = nodes
                .iter()
                .find(|n| n["description"]["hostname"] == name)
                .ok_or_else(|| format!("{name} missing"))?;
            (node["status"]["state"] == "ready")
                .then_some(())
                .ok_or_else(|| node["status"].to_string())
        });
    }

    /// Waits until the current process of node `name` has logged its agent's assignment stream
    /// connecting `times` times.
    pub fn wait_connected(&self, name: &str, times: usize, timeout: Duration) {
        let index = self.cluster.index_of(name);
        wait_until(timeout, &format!("{name}'s assignment stream"), || {
            let log = self.cluster.nodes[index].log();
            let seen = log.matches("assignment stream connected").count();
            (seen >= times)
                .then_some(())
                .ok_or_else(|| format!("{seen} times; {}", log.lines().last().unwrap_or_default()))
        });
    }

    /// `node update NODE --label-add KV` through manager `via` (a write).
    pub fn label(&self, via: usize, node: &str, kv: &str) -> crate::Run {
        let args = ["node", "update", node, "--label-add", kv];
        cli::call(&self.data(via), &args, Duration::from_secs(60)).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The labels of node `name` as manager `via` lists them.
    pub fn labels_of(&self, via: usize, name: &str) -> serde_json::Value {
        cli::nodes(&self.data(via))
            .unwrap_or_default()
            .into_iter()
            .find(|n| n["description"]["hostname"] == name)
            .map(|n| n["spec"]["labels"].clone())
            .unwrap_or_default()
    }
}
