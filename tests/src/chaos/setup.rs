//! The chaos cluster: three managers on 127.0.0.1–3 (drained, no agent) and agent-only workers
//! on 127.0.0.4…, each with its own data directory, following a Git repository this module
//! creates, running the stack on the real engine with the locally built test images.
//!
//! Start-up: the first commit holds only an idle keeper stack (no replicas), so the managers
//! have a valid revision before any worker exists and nothing lands on a manager; the managers
//! join, are drained, the workers join, and only then does a scenario commit its stack.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::cli;
use super::disk::Tmpfs;
use super::net::{Member, Net};
use crate::cluster::{Cluster, Source};
use crate::docker::{StackCleanup, build_images, unique_stack};
use crate::{GitRepo, wait_until};

/// Managers: name and address.
pub const MANAGERS: [(&str, &str); 3] = [
    ("m1", "127.0.0.1"),
    ("m2", "127.0.0.2"),
    ("m3", "127.0.0.3"),
];
/// Workers: name and address.
pub const WORKERS: [(&str, &str); 3] = [
    ("w1", "127.0.0.4"),
    ("w2", "127.0.0.5"),
    ("w3", "127.0.0.6"),
];

/// How long forming the cluster may take on a loaded machine.
const FORM: Duration = Duration::from_secs(60);

/// What a scenario needs beyond the plain cluster.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Run every node in its own cgroup so that [`Chaos::partition`] works.
    pub partitions: bool,
    /// Mount a tmpfs of this size (e.g. `"24m"`) as the data directory of these managers.
    pub tmpfs: Vec<(String, String)>,
    /// Workers to start (default 3 when zero).
    pub workers: usize,
}

/// A running chaos cluster; stops every process and cleans the engine up when dropped.
pub struct Chaos {
    /// The nodes: managers at 0..3, workers after them.
    pub cluster: Cluster,
    /// The repository the managers follow.
    pub repo: GitRepo,
    /// The scenario's stack (`stacks/<stack>/compose.yaml`).
    pub stack: String,
    /// Revisions pushed, oldest first (shared with the invariant checker).
    pub revisions: Arc<Mutex<Vec<String>>>,
    net: Option<Net>,
    disks: Vec<Tmpfs>,
    _cleanup: [StackCleanup; 2],
    dir: tempfile::TempDir,
    /// When the cluster started forming (after waiting for any other chaos cluster).
    started: Instant,
    /// How long forming took.
    formed: Duration,
    _serial: MutexGuard<'static, ()>,
}

/// One chaos cluster at a time: six processes and the engine are all a 2-core machine can
/// share without turning every deadline into a coin toss.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Chaos {
    /// Forms the cluster (see the module doc); the scenario's stack is not deployed yet.
    pub fn start(prefix: &str, options: Options) -> Result<Chaos, String> {
        let serial = serial();
        let started = Instant::now();
        build_images();
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let stack = unique_stack(prefix);
        let keeper = format!("{stack}k");
        let cleanup = [StackCleanup(stack.clone()), StackCleanup(keeper.clone())];
        let repo = GitRepo::new(dir.path());
        repo.write(
            &format!("stacks/{keeper}/compose.yaml"),
            "services:\n  idle:\n    image: reconciler-test/echo:1\n    deploy:\n      replicas: 0\n",
        );
        let first = repo.commit_and_push("keeper");
        let source = Source::Repo {
            url: repo.bare.to_string_lossy().into_owned(),
            path: "stacks".into(),
        };
        let mut cluster = Cluster::following(dir.path(), source);
        let workers = if options.workers == 0 {
            WORKERS.len()
        } else {
            options.workers
        };
        let workers = &WORKERS[..workers.min(WORKERS.len())];
        cluster.agents = workers.iter().map(|(n, _)| (*n).to_owned()).collect();
        let net = if options.partitions {
            let mut net = Net::setup(&stack)?;
            for (name, _) in MANAGERS.iter().chain(workers) {
                net.add_node(name)?;
            }
            cluster.cgroup_prefix = Some(net.cgroup_prefix());
            Some(net)
        } else {
            None
        };
        let mut disks = Vec::new();
        for (name, size) in &options.tmpfs {
            disks.push(Tmpfs::mount(&dir.path().join(name), size)?);
        }
        let mut chaos = Chaos {
            cluster,
            repo,
            stack,
            revisions: Arc::new(Mutex::new(vec![first])),
            net,
            disks,
            _cleanup: cleanup,
            dir,
            started,
            formed: Duration::ZERO,
            _serial: serial,
        };
        chaos.form(workers)?;
        chaos.formed = started.elapsed();
        Ok(chaos)
    }

    fn form(&mut self, workers: &[(&str, &str)]) -> Result<(), String> {
        let (m1, ip1) = MANAGERS[0];
        let first = self.cluster.init(m1, ip1);
        let token = self.cluster.token(first, "manager");
        for (name, ip) in &MANAGERS[1..] {
            self.cluster.join(name, ip, &token, first);
        }
        wait_until(FORM, "three voting managers", || {
            let nodes = self.cluster.node_ls(first)?;
            let voting = nodes
                .iter()
                .filter(|n| matches!(n["manager_status"].as_str(), Some("leader" | "reachable")))
                .count();
            (voting == MANAGERS.len())
                .then_some(())
                .ok_or_else(|| format!("{voting} voting"))
        });
        for (name, _) in MANAGERS {
            wait_until(FORM, "a manager drained", || {
                let run = self
                    .cluster
                    .cli(first, &["node", "update", "--availability", "drain", name]);
                (run.code == 0).then_some(()).ok_or(run.stderr)
            });
        }
        let token = self.cluster.token(first, "worker");
        for (name, ip) in workers {
            self.cluster.join(name, ip, &token, first);
        }
        Ok(())
    }

    /// The test directory (logs, data directories, the repository).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Indices of the managers in [`Chaos::cluster`].
    pub fn managers(&self) -> std::ops::Range<usize> {
        0..MANAGERS.len()
    }

    /// Indices of the workers in [`Chaos::cluster`].
    pub fn workers(&self) -> std::ops::Range<usize> {
        MANAGERS.len()..self.cluster.nodes.len()
    }

    /// Data directory of node `index`.
    pub fn data(&self, index: usize) -> PathBuf {
        self.cluster.nodes[index].data.clone()
    }

    /// Name of node `index`.
    pub fn name(&self, index: usize) -> &str {
        &self.cluster.nodes[index].name
    }

    /// The managers' names and data directories (what the invariant checker polls).
    pub fn manager_dirs(&self) -> Vec<(String, PathBuf)> {
        self.managers()
            .map(|i| (self.name(i).to_owned(), self.data(i)))
            .collect()
    }

    /// The tmpfs mounted as node `name`'s data directory, if any.
    pub fn disk(&self, name: &str) -> Option<&Tmpfs> {
        self.disks
            .iter()
            .find(|d| d.dir == self.dir.path().join(name))
    }

    /// Writes the scenario's stack file, commits and pushes; returns the commit id.
    pub fn commit_stack(&self, yaml: &str, message: &str) -> String {
        self.repo
            .write(&format!("stacks/{}/compose.yaml", self.stack), yaml);
        self.push(message)
    }

    /// Commits whatever the work clone holds and pushes; returns the commit id.
    pub fn push(&self, message: &str) -> String {
        let id = self.repo.commit_and_push(message);
        self.revisions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(id.clone());
        id
    }

    /// Index of a manager whose process runs and answers `status`.
    pub fn live_manager(&self) -> Result<usize, String> {
        self.managers()
            .filter(|i| self.cluster.nodes[*i].process.is_some())
            .find(|i| cli::status(&self.data(*i)).is_ok())
            .ok_or_else(|| "no manager answers".to_owned())
    }

    /// Index of the leader, as the first answering manager sees it.
    pub fn leader(&self) -> Result<usize, String> {
        let via = self.live_manager()?;
        let name = self.cluster.leader(via)?;
        Ok(self.cluster.index_of(&name))
    }

    /// Waits until node `via` reports `revision` applied.
    pub fn wait_applied(&self, via: usize, revision: &str, timeout: Duration) {
        let data = self.data(via);
        wait_until(timeout, &format!("{revision:.7} applied"), || {
            let status = cli::status(&data)?;
            match cli::applied_revision(&status) {
                Some(id) if id == revision => Ok(()),
                other => Err(format!("applied {other:?}")),
            }
        });
    }

    /// Waits until `status --wait` says revision `revision` is applied and converged.
    pub fn wait_converged(&self, revision: &str, timeout: Duration) {
        let secs = format!("{}s", timeout.as_secs().max(1));
        wait_until(timeout + Duration::from_secs(10), "convergence", || {
            let via = self.live_manager()?;
            let run = cli::call(
                &self.data(via),
                &[
                    "status",
                    "--wait",
                    "--timeout",
                    &secs,
                    "--revision",
                    revision,
                ],
                timeout + Duration::from_secs(5),
            )?;
            (run.code == 0)
                .then_some(())
                .ok_or_else(|| format!("exit {}: {}{}", run.code, run.stdout, run.stderr))
        });
    }

    /// Node id → hostname, as a live manager lists them.
    pub fn hostnames(&self) -> std::collections::HashMap<String, String> {
        let via = self.live_manager().unwrap_or(0);
        cli::nodes(&self.data(via))
            .unwrap_or_default()
            .iter()
            .map(|n| {
                (
                    n["meta"]["id"].as_str().unwrap_or_default().to_owned(),
                    n["description"]["hostname"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                )
            })
            .collect()
    }

    /// Cuts node `index` off from every other node until [`Chaos::heal`].
    pub fn partition(&self, index: usize) -> Result<(), String> {
        let net = self
            .net
            .as_ref()
            .ok_or("the cluster was started without partitions")?;
        let member = |i: usize| Member {
            name: self.cluster.nodes[i].name.clone(),
            ip: self.cluster.nodes[i]
                .addr
                .split(':')
                .next()
                .unwrap_or_default()
                .to_owned(),
        };
        let others: Vec<Member> = (0..self.cluster.nodes.len())
            .filter(|i| *i != index)
            .map(member)
            .collect();
        net.partition(&member(index), &others, self.cluster.port)
    }

    /// Removes every partition.
    pub fn heal(&self) -> Result<(), String> {
        self.net.as_ref().map_or(Ok(()), Net::heal)
    }

    /// Logs of every node, for a failure message.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        let Ok(entries) = std::fs::read_dir(self.dir.path()) else {
            return out;
        };
        let mut logs: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .collect();
        logs.sort();
        for log in logs {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            out.push_str(&format!("== {}\n", log.display()));
            for line in tail.iter().rev() {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }
}

impl Drop for Chaos {
    fn drop(&mut self) {
        // Processes first: their cgroups and mounts can only go once they are gone.
        for node in &mut self.cluster.nodes {
            if let Some(mut process) = node.process.take() {
                process.kill9();
            }
        }
        if std::thread::panicking() {
            eprintln!("{}", self.logs());
        }
        eprintln!(
            "{}: formed in {:.1}s, scenario ran {:.1}s",
            self.stack,
            self.formed.as_secs_f64(),
            self.started
                .elapsed()
                .saturating_sub(self.formed)
                .as_secs_f64()
        );
        // With CHAOS_KEEP set, the logs and data directories stay for a closer look.
        if std::env::var_os("CHAOS_KEEP").is_some() {
            self.dir.disable_cleanup(true);
            eprintln!("kept {}", self.dir.path().display());
        }
    }
}
