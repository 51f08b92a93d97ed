//! A full disk under one node: its data directory is a small tmpfs mount that a filler file
//! can fill to the last byte and free again. Needs root (`mount`); unmounted on drop.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs mounted on a directory.
pub struct Tmpfs {
    /// The mount point.
    pub dir: PathBuf,
}

/// Name of the file that takes up the free space.
const FILLER: &str = "filler";

impl Tmpfs {
    /// Mounts a tmpfs of `size` (as `mount -o size=` reads it, e.g. `16m`) on `dir`, creating
    /// the directory.
    pub fn mount(dir: &Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount tmpfs on {}: {}",
                dir.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Tmpfs {
            dir: dir.to_owned(),
        })
    }

    /// Writes a filler file until the file system says it is full; returns the bytes written.
    pub fn fill(&self) -> Result<u64, String> {
        let path = self.dir.join(FILLER);
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let chunk = vec![0u8; 64 * 1024];
        let mut written = 0u64;
        loop {
            match file.write(&chunk) {
                Ok(0) => return Ok(written),
                Ok(n) => written += n as u64,
                Err(e) if e.raw_os_error() == Some(28) => return Ok(written), // ENOSPC
                Err(e) => return Err(format!("{}: {e}", path.display())),
            }
        }
    }

    /// Removes the filler file.
    pub fn free(&self) -> Result<(), String> {
        let path = self.dir.join(FILLER);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// Bytes still free on the file system.
    pub fn available(&self) -> Result<u64, String> {
        let out = Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(&self.dir)
            .output()
            .map_err(|e| format!("df: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines()
            .nth(1)
            .and_then(|l| l.trim().parse().ok())
            .ok_or_else(|| format!("df said {text:?}"))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: a process that still has a file open there must not keep the mount forever.
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}
