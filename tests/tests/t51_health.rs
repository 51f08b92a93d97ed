//! Health on the real Docker engine, as Swarm treats it: a task whose healthcheck turns
//! `unhealthy` is stopped, failed with the probe's output and replaced under its restart policy
//! (`service ps` keeps the history); an update whose new tasks never turn healthy counts as
//! failed, `failure_action: rollback` rolls it back, and `status` exits 1 naming the service.

use std::path::Path;
use std::time::Duration;

use tests::docker::{StackCleanup, build_images, engine_or_skip, running, unique_stack};
use tests::{GitRepo, reconciler, wait_until};

const CONVERGE: Duration = Duration::from_secs(90);

const HEALTHCHECK: &str = r#"    healthcheck:
      test: ["CMD", "/workload", "probe", "http://127.0.0.1:8080/healthz"]
      interval: 1s
      timeout: 1s
      retries: 2
"#;

/// `service ps --format json` of `service`.
fn ps(dir: &Path, data: &Path, service: &str) -> Result<Vec<serde_json::Value>, String> {
    let data = data.to_string_lossy();
    let run = reconciler(
        dir,
        &[
            "service",
            "ps",
            service,
            "--format",
            "json",
            "--data-dir",
            &data,
        ],
    );
    if run.code != 0 {
        return Err(run.stderr);
    }
    serde_json::from_str(&run.stdout).map_err(|e| format!("{e}: {}", run.stdout))
}

fn ps_table(dir: &Path, data: &Path, service: &str) -> String {
    let data = data.to_string_lossy();
    reconciler(
        dir,
        &["service", "ps", service, "--no-trunc", "--data-dir", &data],
    )
    .stdout
}

fn error_of(task: &serde_json::Value) -> &str {
    task["status"]["error"].as_str().unwrap_or_default()
}

fn state_of(task: &serde_json::Value) -> &str {
    task["status"]["state"].as_str().unwrap_or_default()
}

#[test]
fn a_task_that_turns_unhealthy_is_replaced_and_its_history_says_why() {
    if !engine_or_skip("a_task_that_turns_unhealthy_is_replaced_and_its_history_says_why") {
        return;
    }
    build_images();
    let dir = tempfile::tempdir().expect("tempdir");
    let stack = unique_stack("hl");
    let _cleanup = StackCleanup(stack.clone());
    let repo = GitRepo::new(dir.path());
    repo.write(
        &format!("stacks/{stack}/compose.yaml"),
        &format!(
            r#"services:
  flaky:
    image: reconciler-test/echo:1
    command: ["serve", "--listen", "0.0.0.0:8080", "--message", "flaky"]
    environment:
      UNHEALTHY_AFTER: "4000"
    stop_grace_period: 2s
{HEALTHCHECK}    deploy:
      restart_policy:
        condition: on-failure
        delay: 1s
"#
        ),
    );
    repo.commit_and_push("a service that breaks after 4 s");
    let data = dir.path().join("data");
    let _manager = repo.follow(
        dir.path(),
        "manager",
        &data,
        &[("RECONCILER_AGENT", "true")],
    );
    let service = format!("{stack}_flaky");

    wait_until(CONVERGE, "the first task to be healthy", || {
        let table = ps_table(dir.path(), &data, &service);
        table
            .contains("Running (healthy)")
            .then_some(())
            .ok_or(table)
    });
    let first = running(&stack, "flaky");
    assert_eq!(first.len(), 1, "{first:?}");

    // A graceful exit on SIGTERM (code 0) under `on-failure` is still restarted: the task
    // failed for its health, not by finishing.
    let tasks = wait_until(CONVERGE, "an unhealthy task replaced", || {
        let tasks = ps(dir.path(), &data, &service)?;
        let failed = tasks
            .iter()
            .any(|t| state_of(t) == "failed" && error_of(t).contains("unhealthy container"));
        let replaced = running(&stack, "flaky").iter().any(|c| c.id != first[0].id);
        let up: Vec<String> = running(&stack, "flaky").into_iter().map(|c| c.id).collect();
        (failed && replaced)
            .then_some(tasks.clone())
            .ok_or_else(|| format!("failed {failed}, running {up:?}"))
    });
    let failed = tasks
        .iter()
        .find(|t| state_of(t) == "failed")
        .expect("a failed task");
    assert!(
        error_of(failed).contains("last healthcheck"),
        "the probe's output is kept: {failed}"
    );
    assert_eq!(failed["desired_state"], "shutdown", "{failed}");
    let table = ps_table(dir.path(), &data, &service);
    assert!(table.contains(r"\_"), "the failed task is history: {table}");
    assert!(table.contains("unhealthy container"), "{table}");
}

fn web_yaml(unhealthy: bool) -> String {
    format!(
        r#"services:
  web:
    image: reconciler-test/echo:1
    command: ["serve", "--listen", "0.0.0.0:8080", "--message", "web"]
    environment:
      UNHEALTHY: "{unhealthy}"
    stop_grace_period: 2s
{HEALTHCHECK}    deploy:
      replicas: 2
      restart_policy:
        condition: any
        delay: 1s
      update_config:
        parallelism: 1
        order: start-first
        monitor: 5s
        failure_action: rollback
      rollback_config:
        parallelism: 0
"#,
        unhealthy = u8::from(unhealthy),
    )
}

#[test]
fn an_update_to_tasks_that_never_turn_healthy_is_rolled_back_and_status_fails() {
    if !engine_or_skip("an_update_to_tasks_that_never_turn_healthy_is_rolled_back_and_status_fails")
    {
        return;
    }
    build_images();
    let dir = tempfile::tempdir().expect("tempdir");
    let stack = unique_stack("hu");
    let _cleanup = StackCleanup(stack.clone());
    let repo = GitRepo::new(dir.path());
    let file = format!("stacks/{stack}/compose.yaml");
    repo.write(&file, &web_yaml(false));
    repo.commit_and_push("healthy web");
    let data = dir.path().join("data");
    let data_s = data.to_string_lossy().into_owned();
    let manager = repo.follow(
        dir.path(),
        "manager",
        &data,
        &[("RECONCILER_AGENT", "true")],
    );
    let service = format!("{stack}_web");

    wait_until(CONVERGE, "the manager to answer", || {
        tests::status_json(dir.path(), &data).map(|_| ())
    });
    let waited = reconciler(
        dir.path(),
        &[
            "status",
            "--wait",
            "--timeout",
            "90s",
            "--data-dir",
            &data_s,
        ],
    );
    assert_eq!(waited.code, 0, "{}{}", waited.stdout, waited.stderr);
    let good: Vec<String> = running(&stack, "web").into_iter().map(|c| c.id).collect();
    assert_eq!(good.len(), 2);

    repo.write(&file, &web_yaml(true));
    repo.commit_and_push("tasks that never turn healthy");
    let update = wait_until(CONVERGE, "the rollback to complete", || {
        let run = reconciler(
            dir.path(),
            &["service", "ls", "--format", "json", "--data-dir", &data_s],
        );
        let all: Vec<serde_json::Value> =
            serde_json::from_str(&run.stdout).map_err(|e| format!("{e}: {}", run.stderr))?;
        let web = all
            .iter()
            .find(|s| s["spec"]["name"] == service.as_str())
            .ok_or("no web")?;
        (web["update"]["state"] == "rollback_completed")
            .then(|| web["update"].clone())
            .ok_or_else(|| web["update"].to_string())
    });
    assert!(
        update["message"]
            .as_str()
            .unwrap_or_default()
            .contains("unhealthy"),
        "the cause names the health: {update}"
    );
    let status = reconciler(dir.path(), &["status", "--data-dir", &data_s]);
    eprintln!(
        "status after the rollback:\n{}{}",
        status.stdout, status.stderr
    );
    assert_eq!(status.code, 1, "{}{}", status.stdout, status.stderr);
    assert!(
        status
            .stderr
            .contains(&format!("{service}: update rolled back"))
            && status.stderr.contains("unhealthy container"),
        "status names the service: {}",
        status.stderr
    );
    let waited = reconciler(
        dir.path(),
        &[
            "status",
            "--wait",
            "--timeout",
            "10s",
            "--data-dir",
            &data_s,
        ],
    );
    assert_eq!(waited.code, 1, "{}{}", waited.stdout, waited.stderr);

    // The old tasks kept serving through it all: start-first never stopped them.
    let after: Vec<String> = running(&stack, "web").into_iter().map(|c| c.id).collect();
    assert_eq!(
        {
            let mut a = after.clone();
            a.sort();
            a
        },
        {
            let mut g = good.clone();
            g.sort();
            g
        },
        "log: {}",
        manager.log_text()
    );
}
