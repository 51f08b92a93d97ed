//! Watch mode and `plan` with real processes: a saved file becomes a revision within moments; a
//! broken save is rejected and the last good revision stays applied.

use std::time::Duration;

use tests::{Process, reconciler, status_json, wait_until};

/// A manager following `stacks` in watch mode, recording into `data` (poll interval long enough
/// that only file events can wake it during a test).
fn watch_manager(
    dir: &std::path::Path,
    stacks: &std::path::Path,
    data: &std::path::Path,
) -> Process {
    let (stacks, data) = (stacks.to_string_lossy(), data.to_string_lossy());
    Process::start(
        dir,
        "manager",
        &["--watch", &stacks, "--data-dir", &data, "--interval", "1h"],
    )
}

const WEB: &str = "services:\n  web:\n    image: nginx:1\n";

fn applied_image(status: &serde_json::Value) -> Option<String> {
    status["applied"]["stacks"]["web"]["services"]["web_web"]["image"]
        .as_str()
        .map(str::to_owned)
}

#[test]
fn watch_mode_follows_saves_and_keeps_the_last_good_revision() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stacks = dir.path().join("stacks");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&stacks).expect("mkdir");
    std::fs::write(stacks.join("web.yml"), WEB).expect("write");
    let manager = watch_manager(dir.path(), &stacks, &data);
    let (root, data_ref) = (dir.path().to_path_buf(), data.clone());
    let applied = |want: &'static str| {
        let (root, data) = (root.clone(), data_ref.clone());
        move || {
            let s = status_json(&root, &data)?;
            match applied_image(&s) {
                Some(img) if img == want => Ok(s),
                other => Err(format!("{other:?}")),
            }
        }
    };
    wait_until(
        Duration::from_secs(10),
        "the first revision",
        applied("nginx:1"),
    );

    std::fs::write(stacks.join("web.yml"), WEB.replace("nginx:1", "nginx:2")).expect("modify");
    wait_until(
        Duration::from_secs(10),
        "the edit to be applied",
        applied("nginx:2"),
    );

    // A broken save: rejected with its location, nginx:2 stays applied.
    std::fs::write(
        stacks.join("web.yml"),
        "services:\n  web:\n    image: nginx:3\n    replicas: 2\n",
    )
    .expect("break");
    let rejected = wait_until(
        Duration::from_secs(10),
        "the broken revision to be rejected",
        || {
            let s = status_json(dir.path(), &data)?;
            if s["rejected"].is_object() {
                Ok(s)
            } else {
                Err(s.to_string())
            }
        },
    );
    assert_eq!(applied_image(&rejected).as_deref(), Some("nginx:2"));
    let finding = &rejected["rejected"]["findings"][0];
    assert_eq!(finding["rule"], "unknown-key");
    assert_eq!(
        (finding["line"].as_u64(), finding["column"].as_u64()),
        (Some(4), Some(5))
    );
    let human = reconciler(
        dir.path(),
        &["status", "--data-dir", &data.to_string_lossy()],
    );
    assert_eq!(human.code, 1);
    assert!(
        human.stdout.contains("Rejected revision"),
        "{}",
        human.stdout
    );
    assert!(
        human.stdout.contains("web.yml:4:5 error[unknown-key]"),
        "{}",
        human.stdout
    );
    assert!(
        manager.log_text().contains("revision rejected"),
        "{}",
        manager.log_text()
    );

    // The fix is applied and clears the rejection.
    std::fs::write(stacks.join("web.yml"), WEB.replace("nginx:1", "nginx:4")).expect("fix");
    let fixed = wait_until(Duration::from_secs(10), "the fix", applied("nginx:4"));
    assert!(fixed["rejected"].is_null(), "{fixed}");
    // Applied, but no node here runs tasks: `status` does not call that a success.
    assert_eq!(fixed["verdict"]["state"], "progressing", "{fixed}");
    let after = reconciler(
        dir.path(),
        &["status", "--data-dir", &data.to_string_lossy()],
    );
    assert_eq!(after.code, 1, "{after:?}");
    assert!(after.stderr.contains("status: progressing:"), "{after:?}");
}

#[test]
fn deleting_every_stack_is_refused_but_one_stack_is_pruned() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stacks = dir.path().join("stacks");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&stacks).expect("mkdir");
    std::fs::write(stacks.join("web.yml"), WEB).expect("write");
    std::fs::write(
        stacks.join("blog.yml"),
        "services:\n  app:\n    image: ghost\n",
    )
    .expect("write");
    let _manager = watch_manager(dir.path(), &stacks, &data);
    let stack_names = || -> Result<Vec<String>, String> {
        let s = status_json(dir.path(), &data)?;
        Ok(s["applied"]["stacks"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default())
    };
    wait_until(
        Duration::from_secs(10),
        "both stacks",
        || match stack_names()? {
            names if names.len() == 2 => Ok(()),
            names => Err(format!("{names:?}")),
        },
    );
    std::fs::remove_file(stacks.join("blog.yml")).expect("delete");
    wait_until(
        Duration::from_secs(10),
        "blog to be pruned",
        || match stack_names()? {
            names if names == ["web"] => Ok(()),
            names => Err(format!("{names:?}")),
        },
    );
    std::fs::remove_file(stacks.join("web.yml")).expect("delete");
    let refused = wait_until(
        Duration::from_secs(10),
        "the empty tree to be refused",
        || {
            let s = status_json(dir.path(), &data)?;
            if s["rejected"]["reason"] == "empty_desired_state" {
                Ok(s)
            } else {
                Err(s.to_string())
            }
        },
    );
    assert_eq!(
        refused["applied"]["stacks"].as_object().map(|m| m.len()),
        Some(1)
    );
}

#[test]
fn plan_shows_creates_against_an_empty_cluster_and_nothing_once_applied() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stacks = dir.path().join("stacks");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&stacks).expect("mkdir");
    std::fs::write(stacks.join("web.yml"), WEB).expect("write");
    let stacks_s = stacks.to_string_lossy().into_owned();
    let first = reconciler(dir.path(), &["plan", "--watch", &stacks_s]);
    assert_eq!(first.code, 1, "{}{}", first.stdout, first.stderr);
    assert!(first.stdout.contains("+ stack web\n+ network web_default\n+ service web_web\n      image: nginx:1\n      replicas: 1\n"), "{}", first.stdout);
    assert!(
        first
            .stdout
            .contains("Plan: 2 to add, 0 to change, 0 to destroy."),
        "{}",
        first.stdout
    );

    let _manager = watch_manager(dir.path(), &stacks, &data);
    wait_until(
        Duration::from_secs(10),
        "the revision to be applied",
        || {
            status_json(dir.path(), &data).and_then(|s| {
                if s["applied"].is_object() {
                    Ok(())
                } else {
                    Err(s.to_string())
                }
            })
        },
    );
    let data_s = data.to_string_lossy().into_owned();
    let same = reconciler(
        dir.path(),
        &["plan", "--watch", &stacks_s, "--against", &data_s],
    );
    assert_eq!(same.code, 0, "{}", same.stdout);
    assert!(same.stdout.contains("No changes."), "{}", same.stdout);

    std::fs::write(stacks.join("web.yml"), WEB.replace("nginx:1", "nginx:2")).expect("modify");
    let changed = reconciler(
        dir.path(),
        &["plan", "--watch", &stacks_s, "--against", &data_s],
    );
    assert_eq!(changed.code, 1);
    assert!(
        changed
            .stdout
            .contains("~ service web_web (rolling update)\n      image: \"nginx:1\" → \"nginx:2\""),
        "{}",
        changed.stdout
    );

    std::fs::write(stacks.join("web.yml"), "services: [").expect("break");
    let broken = reconciler(dir.path(), &["plan", "--watch", &stacks_s]);
    assert_eq!(broken.code, 2);
    assert!(broken.stderr.contains("web.yml:1:"), "{}", broken.stderr);
}

#[test]
fn a_damaged_identity_stops_start_up_instead_of_looking_like_an_empty_cluster() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stacks = dir.path().join("stacks");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&stacks).expect("mkdir");
    std::fs::create_dir_all(&data).expect("mkdir");
    std::fs::write(stacks.join("web.yml"), WEB).expect("write");
    std::fs::write(data.join("node.json"), "{half a rec").expect("write");
    let run = reconciler(
        dir.path(),
        &[
            "--watch",
            &stacks.to_string_lossy(),
            "--data-dir",
            &data.to_string_lossy(),
            "--listen-addr",
            "127.0.0.1:0",
        ],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("node.json is corrupt"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read_to_string(data.join("node.json")).expect("read"),
        "{half a rec",
        "the file must be left as it was"
    );
    assert!(
        !data.join("raft.redb").exists(),
        "no new cluster is created over a damaged one"
    );
}
