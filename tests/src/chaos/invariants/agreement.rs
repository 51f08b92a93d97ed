//! After convergence, the engine and the assignments agree: every running container belongs to a
//! task the managers want running on that container's node, and every task the managers see
//! running has its running container there.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use crate::chaos::engine::{self, Listed};
use crate::chaos::{cli, setup::Chaos};
use crate::wait_until;

/// The disagreements between the stack's tasks (`stack ps --format json`) and its containers.
pub fn compare(tasks: &[serde_json::Value], containers: &[Listed]) -> Vec<String> {
    let wanted: HashMap<&str, &str> = tasks
        .iter()
        .filter(|t| t["desired_state"] == "running")
        .filter_map(|t| Some((t["meta"]["id"].as_str()?, t["node"].as_str().unwrap_or(""))))
        .collect();
    let mut found = Vec::new();
    let mut seen = HashSet::new();
    for c in containers.iter().filter(|c| c.running()) {
        seen.insert(c.task.as_str());
        match wanted.get(c.task.as_str()) {
            None => found.push(format!(
                "container {:.12} runs task {:.10}, which no manager wants running",
                c.id, c.task
            )),
            Some(node) if *node != c.node => found.push(format!(
                "container {:.12} of task {:.10} runs on node {:.10}, assigned to {:.10}",
                c.id, c.task, c.node, node
            )),
            Some(_) => {}
        }
    }
    for t in tasks
        .iter()
        .filter(|t| t["desired_state"] == "running" && t["status"]["state"] == "running")
    {
        let id = t["meta"]["id"].as_str().unwrap_or_default();
        if !seen.contains(id) {
            found.push(format!(
                "task {id:.10} is reported running on {} but no container of it runs",
                t["node_hostname"].as_str().unwrap_or("?")
            ));
        }
    }
    found
}

impl Chaos {
    /// Waits up to `timeout` until the engine agrees with the assignments; panics with the
    /// disagreements otherwise.
    pub fn assert_agreement(&self, timeout: Duration) {
        wait_until(timeout, "the engine to agree with the assignments", || {
            let via = self.live_manager()?;
            let tasks = cli::stack_tasks(&self.data(via), &self.stack)?;
            let containers = engine::list(&self.stack)?;
            let found = compare(&tasks, &containers);
            found
                .is_empty()
                .then_some(())
                .ok_or_else(|| found.join("; "))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: &str, node: &str, desired: &str, state: &str) -> serde_json::Value {
        serde_json::json!({
            "meta": {"id": id}, "node": node, "desired_state": desired,
            "status": {"state": state}, "node_hostname": node
        })
    }

    fn container(task: &str, node: &str) -> Listed {
        Listed {
            id: format!("c{task}"),
            state: "running".into(),
            image: "i".into(),
            task: task.into(),
            service: "s_web".into(),
            slot: "1".into(),
            node: node.into(),
        }
    }

    #[test]
    fn agreement_needs_both_directions_and_the_same_node() {
        let tasks = [
            task("t1", "n1", "running", "running"),
            task("t2", "n2", "running", "running"),
            task("t3", "n1", "shutdown", "shutdown"),
        ];
        assert!(compare(&tasks, &[container("t1", "n1"), container("t2", "n2")]).is_empty());
        let found = compare(&tasks, &[container("t1", "n2"), container("t3", "n1")]);
        assert_eq!(found.len(), 3, "{found:?}");
    }
}
