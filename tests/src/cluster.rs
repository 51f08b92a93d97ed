//! Multi-node clusters of real `reconciler` processes on loopback addresses (127.0.0.x), each
//! node with its own data directory, all sharing one port number on their own IP, following a
//! watched directory or a Git repository.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::{Process, Run, reconciler, wait_until};

/// A TCP port free on every local address, from below the kernel's ephemeral range (32768 and
/// up on Linux), so that no outgoing connection is handed it between this check and the node's
/// bind; picked at random so that test binaries running side by side rarely try the same one.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static DRAWS: AtomicU64 = AtomicU64::new(0);
    const LOW: u64 = 20_000;
    const SPAN: u64 = 12_000;
    let seed = u64::from(std::process::id())
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
    for _ in 0..1_000 {
        let draw = DRAWS.fetch_add(1, Ordering::Relaxed);
        // SplitMix64 of seed and draw: cheap, and well spread over the span.
        let mut z = seed.wrapping_add(draw.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let port = (LOW + z % SPAN) as u16;
        // A wildcard bind fails if anything holds the port on any address.
        if std::net::TcpListener::bind(("0.0.0.0", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between {LOW} and {}", LOW + SPAN)
}

/// One node of a test cluster.
pub struct Node {
    /// Hostname it reports (`m1`, `w1`, …).
    pub name: String,
    /// Its data directory.
    pub data: PathBuf,
    /// `127.0.0.x:port` it listens on.
    pub addr: String,
    /// The running process, if any.
    pub process: Option<Process>,
    /// How many times it was started again (names each restart's log).
    pub restarts: u32,
}

/// What the managers follow.
#[derive(Debug, Clone)]
pub enum Source {
    /// A local directory (`--watch`).
    Watch(PathBuf),
    /// A branch of a repository (`--repo URL --path DIR`).
    Repo {
        /// The repository (a path to a bare repository in tests).
        url: String,
        /// The sub-directory holding the stacks.
        path: String,
    },
}

/// Nodes of one cluster and the directory they live in.
pub struct Cluster {
    /// Test directory (logs, data directories, stacks).
    pub dir: PathBuf,
    /// The port every node listens on.
    pub port: u16,
    /// Directory of stacks the managers follow.
    pub stacks: PathBuf,
    /// The nodes, in the order they were added.
    pub nodes: Vec<Node>,
    /// Names of the nodes that run their tasks on the Docker engine (the others run none).
    pub agents: Vec<String>,
    /// What the managers follow.
    pub source: Source,
    /// When set, node `name` runs inside the cgroup directory `<prefix>-<name>` (which must
    /// exist), so that netfilter rules can tell its traffic apart (see `chaos::net`).
    pub cgroup_prefix: Option<PathBuf>,
    /// Extra arguments of the first manager's start (cluster-wide settings such as
    /// `--cert-expiry`).
    pub init_args: Vec<String>,
}

/// Raft and heartbeat timing for tests: the defaults, stated so tests do not depend on them.
const TIMING: [&str; 6] = [
    "--election-timeout",
    "150ms",
    "--heartbeat-period",
    "1s",
    "--heartbeat-misses",
    "3",
];

impl Cluster {
    /// A cluster in `dir` whose managers follow `dir/stacks` (created empty).
    pub fn new(dir: &Path) -> Cluster {
        let stacks = dir.join("stacks");
        std::fs::create_dir_all(&stacks).expect("stacks dir");
        Cluster {
            dir: dir.to_owned(),
            port: free_port(),
            source: Source::Watch(stacks.clone()),
            stacks,
            nodes: Vec::new(),
            agents: Vec::new(),
            cgroup_prefix: None,
            init_args: Vec::new(),
        }
    }

    /// A cluster in `dir` whose managers follow `source`.
    pub fn following(dir: &Path, source: Source) -> Cluster {
        Cluster {
            source,
            ..Cluster::new(dir)
        }
    }

    /// The cgroup directory node `name` runs in, if the cluster uses them.
    pub fn cgroup_of(&self, name: &str) -> Option<PathBuf> {
        self.cgroup_prefix.as_ref().map(|prefix| {
            let mut path = prefix.clone().into_os_string();
            path.push(format!("-{name}"));
            PathBuf::from(path)
        })
    }

    fn node_args(&self, name: &str, ip: &str) -> Vec<String> {
        let mut args: Vec<String> = vec![
            "--data-dir".into(),
            self.dir.join(name).to_string_lossy().into_owned(),
            "--listen-addr".into(),
            format!("{ip}:{}", self.port),
            "--hostname".into(),
            name.into(),
        ];
        match &self.source {
            Source::Watch(dir) => {
                args.extend(["--watch".into(), dir.to_string_lossy().into_owned()]);
            }
            Source::Repo { url, path } => {
                args.extend(["--repo".into(), url.clone(), "--path".into(), path.clone()]);
            }
        }
        args.extend(["--interval".into(), "1h".into()]);
        args.extend(TIMING.iter().map(|s| (*s).to_owned()));
        args
    }

    /// Initialises the cluster with its first manager `name` on `ip`; waits until it answers.
    pub fn init(&mut self, name: &str, ip: &str) -> usize {
        let mut args = self.node_args(name, ip);
        args.extend(self.init_args.iter().cloned());
        self.launch(name, ip, args)
    }

    /// Joins node `name` on `ip` with `token` through node `via`; waits until the cluster lists
    /// it as ready.
    pub fn join(&mut self, name: &str, ip: &str, token: &str, via: usize) -> usize {
        let mut args = vec![
            "join".to_owned(),
            self.nodes[via].addr.clone(),
            "--token".to_owned(),
            token.to_owned(),
        ];
        args.extend(self.node_args(name, ip));
        let index = self.launch(name, ip, args);
        let manager = self.any_running_manager();
        let name = name.to_owned();
        wait_until(
            Duration::from_secs(20),
            "the joined node to be ready",
            || {
                let nodes = self.node_ls(manager)?;
                nodes
                    .iter()
                    .any(|n| {
                        n["description"]["hostname"] == name.as_str()
                            && n["status"]["state"] == "ready"
                    })
                    .then_some(())
                    .ok_or_else(|| format!("{nodes:?}"))
            },
        );
        index
    }

    fn launch(&mut self, name: &str, ip: &str, args: Vec<String>) -> usize {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let cgroup = self.cgroup_of(name);
        let process = Process::start_in_cgroup(
            &self.dir,
            name,
            &refs,
            &self.env_of(name),
            cgroup.as_deref(),
        );
        self.nodes.push(Node {
            name: name.to_owned(),
            data: self.dir.join(name),
            addr: format!("{ip}:{}", self.port),
            process: Some(process),
            restarts: 0,
        });
        let index = self.nodes.len() - 1;
        let data = self.nodes[index].data.clone();
        wait_until(
            Duration::from_secs(20),
            "the node's identity on disk",
            || {
                data.join("node.json")
                    .exists()
                    .then_some(())
                    .ok_or_else(|| self.nodes[index].log())
            },
        );
        index
    }

    /// Starts node `index` again from its data directory (no join, same address).
    pub fn restart(&mut self, index: usize) {
        let ip = self.nodes[index]
            .addr
            .split(':')
            .next()
            .unwrap_or("127.0.0.1")
            .to_owned();
        let name = self.nodes[index].name.clone();
        let args = self.node_args(&name, &ip);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let env = self.env_of(&name);
        let cgroup = self.cgroup_of(&name);
        self.nodes[index].restarts += 1;
        // The first restart keeps the name older tests look for; later ones get their own log.
        let log = match self.nodes[index].restarts {
            1 => format!("{name}-restart"),
            n => format!("{name}-restart{n}"),
        };
        self.nodes[index].process = Some(Process::start_in_cgroup(
            &self.dir,
            &log,
            &refs,
            &env,
            cgroup.as_deref(),
        ));
    }

    /// Starts node `index` again as an operator would after a reboot: `--data-dir` alone, with
    /// no listen address from the environment either (it logs to `<name>-bare.log`).
    pub fn restart_with_only_its_data_dir(&mut self, index: usize) {
        let data = self.nodes[index].data.to_string_lossy().into_owned();
        let name = format!("{}-bare", self.nodes[index].name);
        let env = [("RECONCILER_LISTEN_ADDR", "")];
        self.nodes[index].process = Some(Process::start_with_env(
            &self.dir,
            &name,
            &["--data-dir", &data],
            &env,
        ));
    }

    fn env_of(&self, name: &str) -> Vec<(&'static str, &'static str)> {
        if self.agents.iter().any(|a| a == name) {
            vec![("RECONCILER_AGENT", "true")]
        } else {
            Vec::new()
        }
    }

    /// SIGKILL node `index`.
    pub fn kill(&mut self, index: usize) {
        if let Some(mut p) = self.nodes[index].process.take() {
            p.kill9();
        }
    }

    /// SIGTERM node `index` and wait for it to exit.
    pub fn stop(&mut self, index: usize) -> Option<i32> {
        self.nodes[index]
            .process
            .take()
            .and_then(|mut p| p.terminate(Duration::from_secs(10)))
    }

    /// `reconciler ARGS… --data-dir <node index>`.
    pub fn cli(&self, index: usize, args: &[&str]) -> Run {
        let data = self.nodes[index].data.to_string_lossy().into_owned();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--data-dir", &data]);
        reconciler(&self.dir, &all)
    }

    /// `node ls --format json` asked of node `index`.
    pub fn node_ls(&self, index: usize) -> Result<Vec<serde_json::Value>, String> {
        let run = self.cli(index, &["node", "ls", "--format", "json"]);
        if run.code != 0 {
            return Err(run.stderr);
        }
        serde_json::from_str(&run.stdout).map_err(|e| format!("{e}: {}", run.stdout))
    }

    /// The hostname of the leader as node `index` sees it.
    pub fn leader(&self, index: usize) -> Result<String, String> {
        let nodes = self.node_ls(index)?;
        nodes
            .iter()
            .find(|n| n["manager_status"] == "leader")
            .and_then(|n| n["description"]["hostname"].as_str())
            .map(str::to_owned)
            .ok_or_else(|| format!("no leader in {nodes:?}"))
    }

    /// Index of the node called `name`.
    pub fn index_of(&self, name: &str) -> usize {
        self.nodes
            .iter()
            .position(|n| n.name == name)
            .unwrap_or_else(|| panic!("no node {name}"))
    }

    /// Index of a node whose process runs and whose data directory is a manager's.
    pub fn any_running_manager(&self) -> usize {
        self.nodes
            .iter()
            .position(|n| {
                n.process.is_some()
                    && std::fs::read_to_string(n.data.join("node.json"))
                        .map(|t| t.contains("\"manager\""))
                        .unwrap_or(false)
            })
            .expect("a running manager")
    }

    /// A join token for `role` (`worker` or `manager`), asked of node `index`.
    pub fn token(&self, index: usize, role: &str) -> String {
        let run = self.cli(index, &["token", "show", role, "-q"]);
        assert_eq!(run.code, 0, "token show: {}", run.stderr);
        run.stdout.trim().to_owned()
    }
}

impl Node {
    /// The current log of its process.
    pub fn log(&self) -> String {
        self.process
            .as_ref()
            .map(Process::log_text)
            .unwrap_or_default()
    }
}
