//! Push to deploy with real processes: a manager follows a bare repository; commits pushed into
//! it are applied within moments, a broken commit is rejected with its location while the last
//! good commit stays applied, and the fix is applied.

use std::time::Duration;

use tests::{GitRepo, reconciler, status_json, wait_until};

const WEB: &str = "services:\n  web:\n    image: nginx:1\n    deploy:\n      replicas: 2\n";

fn applied_id(s: &serde_json::Value) -> Option<&str> {
    s["applied"]["revision"]["id"].as_str()
}

#[test]
fn pushes_are_applied_broken_commits_rejected_and_fixes_applied() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = GitRepo::new(dir.path());
    repo.write("stacks/web/compose.yaml", WEB);
    repo.write("README.md", "not a stack\n");
    let first = repo.commit_and_push("first");
    let data = dir.path().join("data");
    let data_s = data.to_string_lossy().into_owned();
    let bare = repo.bare.to_string_lossy().into_owned();
    let manager = repo.follow(dir.path(), "manager", &data, &[]);
    let applied = |want: String| {
        let root = dir.path().to_path_buf();
        let data = data.clone();
        move || {
            let s = status_json(&root, &data)?;
            if applied_id(&s) == Some(want.as_str()) {
                Ok(s)
            } else {
                Err(s.to_string())
            }
        }
    };
    let s = wait_until(
        Duration::from_secs(15),
        "the first commit",
        applied(first.clone()),
    );
    assert_eq!(s["applied"]["revision"]["message"], "first");
    assert_eq!(
        s["applied"]["revision"]["author"],
        "Test Author <author@example.com>"
    );
    assert_eq!(
        s["applied"]["stacks"]["web"]["services"]["web_web"]["mode"]["replicas"],
        2
    );

    // A push is picked up without waiting for the (one hour) poll interval.
    repo.write(
        "stacks/web/compose.yaml",
        &WEB.replace("replicas: 2", "replicas: 3"),
    );
    let second = repo.commit_and_push("scale to 3");
    wait_until(
        Duration::from_secs(10),
        "the pushed commit",
        applied(second.clone()),
    );

    // A broken commit is rejected; the second commit stays applied.
    repo.write(
        "stacks/web/compose.yaml",
        "services:\n  web:\n    image: nginx:1\n    deploy:\n      replicas: many\n",
    );
    let broken = repo.commit_and_push("break it");
    let s = wait_until(
        Duration::from_secs(10),
        "the broken commit to be rejected",
        || {
            let s = status_json(dir.path(), &data)?;
            if s["rejected"]["revision"]["id"] == broken.as_str() {
                Ok(s)
            } else {
                Err(s.to_string())
            }
        },
    );
    assert_eq!(applied_id(&s), Some(second.as_str()));
    let finding = &s["rejected"]["findings"][0];
    assert_eq!(finding["file"], "web/compose.yaml");
    assert_eq!(
        (finding["line"].as_u64(), finding["column"].as_u64()),
        (Some(5), Some(17))
    );
    assert_eq!(finding["rule"], "wrong-type");
    assert!(
        manager
            .log_text()
            .contains("web/compose.yaml:5:17 error[wrong-type]"),
        "{}",
        manager.log_text()
    );

    // The fix is applied; a history of outcomes is kept.
    repo.write(
        "stacks/web/compose.yaml",
        &WEB.replace("nginx:1", "nginx:2"),
    );
    let fixed = repo.commit_and_push("fix");
    let s = wait_until(Duration::from_secs(10), "the fix", applied(fixed.clone()));
    assert!(s["rejected"].is_null());
    let results: Vec<&str> = s["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|h| h["result"].as_str())
        .collect();
    assert_eq!(results, vec!["applied", "applied", "rejected", "applied"]);

    // `plan --repo` against the manager's state: nothing to do; a local change shows up.
    let plan_against = || {
        reconciler(
            dir.path(),
            &[
                "plan",
                "--repo",
                &bare,
                "--path",
                "stacks",
                "--against",
                &data_s,
            ],
        )
    };
    let plan = plan_against();
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout
            .contains(&format!("Revision {} \"fix\"", &fixed[..12])),
        "{}",
        plan.stdout
    );
    // Stop the manager so the next push stays unapplied, as a pull request would be.
    drop(manager);
    repo.write("stacks/blog.yml", "services:\n  app:\n    image: ghost:5\n");
    repo.commit_and_push("add blog");
    let plan = plan_against();
    assert_eq!(plan.code, 1, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("+ service blog_app"),
        "{}",
        plan.stdout
    );
}

#[test]
fn a_missing_branch_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = GitRepo::new(dir.path());
    repo.write("web.yml", WEB);
    repo.commit_and_push("first");
    let bare = repo.bare.to_string_lossy().into_owned();
    let run = reconciler(
        dir.path(),
        &["plan", "--repo", &bare, "--branch", "release"],
    );
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("release"), "{}", run.stderr);
}

#[test]
fn a_remote_that_cannot_be_fetched_shows_in_status_until_it_can() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = GitRepo::new(dir.path());
    repo.write("stacks/web/compose.yaml", WEB);
    let first = repo.commit_and_push("first");
    let data = dir.path().join("data");
    let data_s = data.to_string_lossy().into_owned();
    let bare = repo.bare.to_string_lossy().into_owned();
    let _manager = tests::Process::start(
        dir.path(),
        "manager",
        &[
            "--repo",
            &bare,
            "--path",
            "stacks",
            "--data-dir",
            &data_s,
            "--interval",
            "1s",
        ],
    );
    tests::wait_applied(dir.path(), &data, &first, Duration::from_secs(15));

    // The remote goes away (a moved repository, a dead host): status says so, exit 1.
    let moved = dir.path().join("moved.git");
    std::fs::rename(&repo.bare, &moved).expect("move the remote away");
    let failing = wait_until(
        Duration::from_secs(15),
        "the fetch failure in status",
        || {
            let run = reconciler(dir.path(), &["status", "--data-dir", &data_s]);
            (run.stdout.contains("Source: cannot fetch the source since")
                && run.stderr.contains("cannot fetch the source since"))
            .then_some(run.clone())
            .ok_or_else(|| format!("{}{}", run.stdout, run.stderr))
        },
    );
    assert_eq!(failing.code, 1, "{}{}", failing.stdout, failing.stderr);
    let s = status_json(dir.path(), &data).expect("status");
    assert!(s["source_failure"]["since_ms"].as_u64().is_some(), "{s}");
    assert_eq!(
        applied_id(&s),
        Some(first.as_str()),
        "what is in force stays"
    );

    // Back again: the failure is cleared by the next fetch.
    std::fs::rename(&moved, &repo.bare).expect("move the remote back");
    wait_until(Duration::from_secs(15), "the failure to clear", || {
        let s = status_json(dir.path(), &data)?;
        s.get("source_failure")
            .is_none()
            .then_some(())
            .ok_or_else(|| s.to_string())
    });
}
