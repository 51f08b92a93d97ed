//! Network partitions between nodes that all live on one host's loopback addresses.
//!
//! Addresses alone cannot tell nodes apart: every connection on `lo` leaves from 127.0.0.1
//! whatever node makes it. So each node runs in its own cgroup (v2), and nftables rules in the
//! output hook match the *sending socket's cgroup* (`socket cgroupv2`): cutting node X off
//! drops X's packets towards any other node's cluster port, and every other node's packets
//! towards X's. Dropping one direction of every connection is enough to stall TCP both ways.
//! The CLI runs outside those cgroups, so a test can still ask the isolated node questions.
//! Needs root, nftables and a cgroup2 mount; everything is removed on drop.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where nftables resolves `socket cgroupv2` paths from.
const NFT_CGROUP_BASE: &str = "/sys/fs/cgroup";

/// One test's cgroups and its nftables table.
pub struct Net {
    /// The cgroup2 mount point.
    mount: PathBuf,
    /// The name every node's cgroup starts with (`<prefix>-<node>`).
    prefix: String,
    /// The nftables table (family `inet`).
    table: String,
    /// Cgroups created, removed on drop.
    cgroups: Vec<PathBuf>,
}

/// A node as the partition rules see it: its name (cgroup) and its address.
#[derive(Debug, Clone)]
pub struct Member {
    /// Node name.
    pub name: String,
    /// Its IPv4 address (127.0.0.x).
    pub ip: String,
}

impl Net {
    /// Sets up an empty table and finds the cgroup2 mount, or says why partitions cannot work.
    pub fn setup(tag: &str) -> Result<Net, String> {
        let mount = cgroup2_mount().ok_or("no cgroup2 file system is mounted")?;
        if !mount.starts_with(NFT_CGROUP_BASE) {
            return Err(format!(
                "cgroup2 is mounted at {}, outside {NFT_CGROUP_BASE} where nft looks",
                mount.display()
            ));
        }
        let table = format!("reconciler_chaos_{tag}");
        nft(&format!(
            "add table inet {table}\n\
             add chain inet {table} out {{ type filter hook output priority 0; policy accept; }}\n"
        ))?;
        Ok(Net {
            mount,
            prefix: format!("reconciler-chaos-{tag}"),
            table,
            cgroups: Vec::new(),
        })
    }

    /// The prefix to give [`Cluster::cgroup_prefix`](crate::cluster::Cluster::cgroup_prefix).
    pub fn cgroup_prefix(&self) -> PathBuf {
        self.mount.join(&self.prefix)
    }

    /// Creates node `name`'s cgroup (before its process starts).
    pub fn add_node(&mut self, name: &str) -> Result<(), String> {
        let dir = self.mount.join(format!("{}-{name}", self.prefix));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        self.cgroups.push(dir);
        Ok(())
    }

    /// Cuts `isolated` off from `others` on `port` until [`Net::heal`].
    pub fn partition(&self, isolated: &Member, others: &[Member], port: u16) -> Result<(), String> {
        let chain = "out";
        let mut script = format!(
            "add rule inet {table} {chain} socket cgroupv2 level 1 \"{cg}\" ip daddr != {ip} \
             tcp dport {port} drop\n",
            table = self.table,
            cg = self.nft_path(&isolated.name),
            ip = isolated.ip,
        );
        for other in others {
            script.push_str(&format!(
                "add rule inet {table} {chain} socket cgroupv2 level 1 \"{cg}\" ip daddr {ip} \
                 tcp dport {port} drop\n",
                table = self.table,
                cg = self.nft_path(&other.name),
                ip = isolated.ip,
            ));
        }
        nft(&script)
    }

    /// Removes every partition rule.
    pub fn heal(&self) -> Result<(), String> {
        nft(&format!("flush chain inet {} out\n", self.table))
    }

    /// The cgroup of node `name` as nft names it (relative to [`NFT_CGROUP_BASE`]).
    fn nft_path(&self, name: &str) -> String {
        let full = self.mount.join(format!("{}-{name}", self.prefix));
        full.strip_prefix(NFT_CGROUP_BASE)
            .unwrap_or(&full)
            .to_string_lossy()
            .into_owned()
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        let _ = nft(&format!("delete table inet {}\n", self.table));
        for dir in &self.cgroups {
            // Fails while a process still lives in it; the caller stops processes first.
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// Runs an nft script from stdin.
fn nft(script: &str) -> Result<(), String> {
    use std::io::Write;
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("nft: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .map_err(|e| format!("nft: {e}"))?;
    }
    let out = child.wait_with_output().map_err(|e| format!("nft: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "nft refused {script:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The mount point of the cgroup2 file system, if one is mounted.
fn cgroup2_mount() -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let (_, point, kind) = (fields.next()?, fields.next()?, fields.next()?);
        (kind == "cgroup2").then(|| Path::new(point).to_path_buf())
    })
}
