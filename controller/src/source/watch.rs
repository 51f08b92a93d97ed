//! Watching the file system: a directory in watch mode, and a local repository's refs so that a
//! `git push` into it is seen at once.
//!
//! Watchers only *wake* the sync loop; they never read stacks themselves. A wake that arrives
//! while one is pending is dropped (the pending one covers it), so bursts of events cost one
//! sync. Events can be missed (inotify limits, network file systems), which is why the loop
//! also rescans on a timer.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use tokio::sync::mpsc;

use super::{Wake, WakeReason};

/// Errors starting a watcher.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The OS refused the watch (missing path, inotify limit…).
    #[error("cannot watch {path}: {source}")]
    WatchFailed {
        /// What was to be watched.
        path: PathBuf,
        /// Why.
        #[source]
        source: notify::Error,
    },
}

/// A running watcher; dropping it stops watching.
pub struct Watch {
    _inner: Inner,
}

// The watchers are held only so that dropping `Watch` stops them.
#[allow(dead_code)]
enum Inner {
    Debounced(Box<Debouncer<RecommendedWatcher, RecommendedCache>>),
    Raw(RecommendedWatcher),
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Watch")
    }
}

fn wake(tx: &mpsc::Sender<Wake>) {
    // Full means a wake is already pending, which covers this event too.
    let _ = tx.try_send(Wake {
        reason: WakeReason::Changed,
        at: Instant::now(),
    });
}

/// Whether a changed path lies in a hidden directory (such as `.git`) under `root`.
fn is_hidden(root: &Path, path: &Path) -> bool {
    path.strip_prefix(root)
        .map(|rel| {
            rel.components().any(|c| {
                c.as_os_str().to_string_lossy().starts_with('.') && c.as_os_str() != ".env"
            })
        })
        .unwrap_or(false)
}

/// Watch `dir` recursively; once edits have settled for `debounce`, wake the loop. Editor-style
/// atomic saves (write a temporary file, rename over the original) count as one change.
pub fn watch_directory(
    dir: &Path,
    debounce: Duration,
    tx: mpsc::Sender<Wake>,
) -> Result<Watch, Error> {
    let root = dir.to_path_buf();
    let handler = move |result: DebounceEventResult| {
        let Ok(events) = result else {
            // The watcher lost track (e.g. queue overflow): rescan to be safe.
            wake(&tx);
            return;
        };
        let relevant = events.iter().any(|e| {
            !matches!(e.kind, EventKind::Access(_)) && e.paths.iter().any(|p| !is_hidden(&root, p))
        });
        if relevant {
            wake(&tx);
        }
    };
    let failed = |source| Error::WatchFailed {
        path: dir.to_path_buf(),
        source,
    };
    let mut debouncer = new_debouncer(debounce, None, handler).map_err(failed)?;
    debouncer
        .watch(dir, RecursiveMode::Recursive)
        .map_err(failed)?;
    Ok(Watch {
        _inner: Inner::Debounced(Box::new(debouncer)),
    })
}

/// Watch a repository's refs (`git_dir` is the bare repository or the `.git` directory): every
/// ref update wakes the loop immediately, so a push is fetched within milliseconds.
pub fn watch_refs(git_dir: &Path, tx: mpsc::Sender<Wake>) -> Result<Watch, Error> {
    let failed = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::WatchFailed { path, source }
    };
    let mut watcher = notify::recommended_watcher(move |result: notify::Result<notify::Event>| {
        let Ok(event) = result else {
            wake(&tx);
            return;
        };
        if matches!(event.kind, EventKind::Access(_)) {
            return;
        }
        let is_ref = event.paths.iter().any(|p| {
            p.components().any(|c| c.as_os_str() == "refs")
                || p.file_name().is_some_and(|n| n == "packed-refs")
        });
        if is_ref {
            wake(&tx);
        }
    })
    .map_err(failed(git_dir))?;
    let refs = git_dir.join("refs");
    watcher
        .watch(&refs, RecursiveMode::Recursive)
        .map_err(failed(&refs))?;
    // packed-refs lives directly in the git directory (rewritten by `git gc` and some pushes).
    watcher
        .watch(git_dir, RecursiveMode::NonRecursive)
        .map_err(failed(git_dir))?;
    Ok(Watch {
        _inner: Inner::Raw(watcher),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn next(rx: &mut mpsc::Receiver<Wake>) -> bool {
        tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .is_ok()
    }

    async fn quiet(rx: &mut mpsc::Receiver<Wake>) -> bool {
        tokio::time::timeout(Duration::from_millis(400), rx.recv())
            .await
            .is_err()
    }

    #[tokio::test]
    async fn directory_changes_wake_the_loop_and_hidden_ones_do_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join(".git")).expect("mkdir");
        let (tx, mut rx) = mpsc::channel(1);
        let _watch = watch_directory(dir.path(), Duration::from_millis(50), tx).expect("watch");
        let file = dir.path().join("web.yml");

        std::fs::write(&file, "services: {}\n").expect("create");
        assert!(next(&mut rx).await, "create");
        std::fs::write(&file, "services: {web: {image: nginx}}\n").expect("modify");
        assert!(next(&mut rx).await, "modify");
        // Editor-style atomic save: write elsewhere, rename over the file.
        let tmp = dir.path().join("web.yml.tmp~");
        std::fs::write(&tmp, "services: {web: {image: httpd}}\n").expect("tmp");
        std::fs::rename(&tmp, &file).expect("rename");
        assert!(next(&mut rx).await, "atomic save");
        std::fs::rename(&file, dir.path().join("shop.yml")).expect("rename");
        assert!(next(&mut rx).await, "rename");
        std::fs::remove_file(dir.path().join("shop.yml")).expect("delete");
        assert!(next(&mut rx).await, "delete");
        std::fs::write(dir.path().join(".git/index"), "x").expect("hidden");
        assert!(quiet(&mut rx).await, "changes under .git must not wake");
    }

    #[tokio::test]
    async fn ref_updates_wake_the_loop() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("refs/heads")).expect("mkdir");
        let (tx, mut rx) = mpsc::channel(1);
        let _watch = watch_refs(dir.path(), tx).expect("watch");
        std::fs::write(dir.path().join("refs/heads/main.lock"), "abc\n").expect("write");
        std::fs::rename(
            dir.path().join("refs/heads/main.lock"),
            dir.path().join("refs/heads/main"),
        )
        .expect("rename");
        assert!(next(&mut rx).await);
        while rx.try_recv().is_ok() {}
        std::fs::write(dir.path().join("packed-refs"), "# pack-refs\n").expect("write");
        assert!(next(&mut rx).await);
    }
}
