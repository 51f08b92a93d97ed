//! Faults on processes: kill -9 and restart any node, SIGSTOP and SIGCONT it. A frozen process
//! is thawed again when its [`Frozen`] guard drops, so a failing scenario never leaves a stopped
//! process behind.

use std::process::Command;

use super::setup::Chaos;

/// A node stopped with SIGSTOP; SIGCONT on [`Frozen::thaw`] or drop.
pub struct Frozen {
    pid: u32,
    thawed: bool,
}

impl Frozen {
    /// Sends SIGCONT.
    pub fn thaw(mut self) {
        self.send_cont();
    }

    fn send_cont(&mut self) {
        if !self.thawed {
            signal(self.pid, "CONT");
            self.thawed = true;
        }
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        self.send_cont();
    }
}

fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "kill -{name} {pid} failed"
    );
}

impl Chaos {
    /// The pid of node `index`'s process.
    pub fn pid(&self, index: usize) -> u32 {
        self.cluster.nodes[index]
            .process
            .as_ref()
            .map(crate::Process::pid)
            .unwrap_or_else(|| panic!("{} is not running", self.name(index)))
    }

    /// SIGSTOP node `index`.
    pub fn freeze(&self, index: usize) -> Frozen {
        let pid = self.pid(index);
        signal(pid, "STOP");
        Frozen { pid, thawed: false }
    }

    /// SIGKILL node `index` (a crash).
    pub fn kill9(&mut self, index: usize) {
        self.cluster.kill(index);
    }

    /// Starts node `index` again from its data directory.
    pub fn restart(&mut self, index: usize) {
        self.cluster.restart(index);
    }
}
