//! `reconciler lint`, `config` and `schema` as CI runs them: real processes, exit codes, formats.

use std::fs;

use tests::{reconciler, repo_root};

#[test]
fn every_example_stack_lints_clean() {
    let run = reconciler(&repo_root(), &["lint", "--strict", "examples/stacks"]);
    assert_eq!(
        run.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert!(
        run.stderr.contains("no problems in 4 files"),
        "{}",
        run.stderr
    );
}

#[test]
fn findings_exit_1_with_file_line_col_and_a_snippet() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(
        dir.path().join("shop.yml"),
        "services:\n  web:\n    imagee: nginx\n",
    )
    .expect("write");
    let run = reconciler(dir.path(), &["lint", "shop.yml"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.starts_with(
            "shop.yml:3:5 error[unknown-key] unknown key `imagee` in `services.web`\n"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("3 |     imagee: nginx"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("help: did you mean `image`?"),
        "{}",
        run.stdout
    );
}

#[test]
fn warnings_pass_unless_strict() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(
        dir.path().join("web.yml"),
        "version: '3'\nservices:\n  web:\n    image: nginx\n",
    )
    .expect("write");
    assert_eq!(reconciler(dir.path(), &["lint", "web.yml"]).code, 0);
    assert_eq!(
        reconciler(dir.path(), &["lint", "--strict", "web.yml"]).code,
        1
    );
}

#[test]
fn usage_and_io_errors_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = reconciler(dir.path(), &["lint", "nope"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("cannot read nope"),
        "{}",
        missing.stderr
    );
    let empty = reconciler(dir.path(), &["lint"]);
    assert_eq!(empty.code, 2);
    assert!(
        empty.stderr.contains("no stack files found"),
        "{}",
        empty.stderr
    );
    assert_eq!(reconciler(dir.path(), &["lint", "--format", "xml"]).code, 2);
}

#[test]
fn json_and_github_formats() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(
        dir.path().join("a.yml"),
        "services:\n  web:\n    image: nginx\n    ports: [\"70000:80\"]\n",
    )
    .expect("write");
    let json = reconciler(dir.path(), &["lint", "--format", "json", "a.yml"]);
    assert_eq!(json.code, 1);
    let doc: serde_json::Value =
        serde_json::from_str(&json.stdout).expect("lint --format json is JSON");
    assert_eq!(doc["errors"], 1);
    assert_eq!(doc["diagnostics"][0]["rule"], "invalid-port");
    assert_eq!(doc["diagnostics"][0]["line"], 4);
    assert_eq!(doc["diagnostics"][0]["column"], 13);
    let github = reconciler(dir.path(), &["lint", "--format", "github", "a.yml"]);
    assert!(
        github
            .stdout
            .starts_with("::error file=a.yml,line=4,col=13,"),
        "{}",
        github.stdout
    );
    assert!(
        github.stdout.contains("title=invalid-port::"),
        "{}",
        github.stdout
    );
}

#[test]
fn ports_clash_across_stacks_linted_together() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(
        dir.path().join("a.yml"),
        "services:\n  web:\n    image: nginx\n    ports: [\"80:80\"]\n",
    )
    .expect("write");
    fs::write(
        dir.path().join("b.yml"),
        "services:\n  web:\n    image: nginx\n    ports: [\"80:80\"]\n",
    )
    .expect("write");
    let run = reconciler(dir.path(), &["lint", "."]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("b.yml:4:13 error[port-conflict]"),
        "{}",
        run.stdout
    );
}

#[test]
fn dotenv_beside_the_stack_feeds_interpolation_and_the_shell_wins() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join(".env"), "TAG=1.27\nREPLICAS=2\n").expect("write");
    fs::write(
        dir.path().join("web.yml"),
        "services:\n  web:\n    image: nginx:${TAG}\n    deploy:\n      replicas: ${REPLICAS}\n",
    )
    .expect("write");
    let run = reconciler(dir.path(), &["config", "--format", "json", "web.yml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(doc[0]["services"]["web_web"]["image"], "nginx:1.27");
    assert_eq!(doc[0]["services"]["web_web"]["mode"]["replicas"], 2);
    let shell = std::process::Command::new(tests::reconciler_bin())
        .args(["config", "--format", "json", "web.yml"])
        .current_dir(dir.path())
        .env("TAG", "1.28")
        .output()
        .expect("run");
    let doc: serde_json::Value = serde_json::from_slice(&shell.stdout).expect("json");
    assert_eq!(doc[0]["services"]["web_web"]["image"], "nginx:1.28");
}

#[test]
fn config_prints_resolved_stacks_and_refuses_invalid_ones() {
    let run = reconciler(&repo_root(), &["config", "examples/stacks/frontend"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.starts_with("---\nname: frontend\n"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("frontend_api:"), "{}", run.stdout);
    assert!(run.stdout.contains("- node.labels.zone"), "{}", run.stdout);
    assert!(
        run.stdout.contains("network: frontend_backend"),
        "{}",
        run.stdout
    );
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("bad.yml"), "services:\n  web: {}\n").expect("write");
    let bad = reconciler(dir.path(), &["config", "bad.yml"]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr.contains("bad.yml:2:3 error[no-image]"),
        "{}",
        bad.stderr
    );
    assert!(bad.stdout.is_empty());
}

#[test]
fn schema_check_detects_stale_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("schemas");
    let out_s = out.to_string_lossy().into_owned();
    assert_eq!(
        reconciler(dir.path(), &["schema", "--check", "--dir", &out_s]).code,
        1
    );
    assert_eq!(reconciler(dir.path(), &["schema", "--dir", &out_s]).code, 0);
    assert_eq!(
        reconciler(dir.path(), &["schema", "--check", "--dir", &out_s]).code,
        0
    );
    fs::write(out.join("stack-file.schema.json"), "{}").expect("write");
    assert_eq!(
        reconciler(dir.path(), &["schema", "--check", "--dir", &out_s]).code,
        1
    );
    assert_eq!(
        reconciler(&repo_root(), &["schema", "--check"]).code,
        0,
        "crds/schemas is stale"
    );
}

#[test]
fn a_directory_with_reconciler_yaml_is_linted_as_the_manager_will_evaluate_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    fs::create_dir_all(repo.join("apps")).expect("mkdir");
    fs::write(
        repo.join("apps/shop.yml"),
        "services:\n  web:\n    image: nginx:${TAG:?set TAG}\n",
    )
    .expect("write");
    fs::write(repo.join("apps/draft.yml"), "services:\n  broken: {}\n").expect("write");
    fs::write(
        repo.join("reconciler.yaml"),
        "stacks:\n  shop:\n    file: apps/shop.yml\n    variables: {TAG: \"1.27\"}\n",
    )
    .expect("write");
    let lint = reconciler(dir.path(), &["lint", "--strict", "repo"]);
    assert_eq!(
        lint.code, 0,
        "only listed stacks count, with their variables:\n{}{}",
        lint.stdout, lint.stderr
    );
    let config = reconciler(dir.path(), &["config", "--format", "json", "repo"]);
    assert_eq!(config.code, 0, "{}", config.stderr);
    let doc: serde_json::Value = serde_json::from_str(&config.stdout).expect("json");
    assert_eq!(doc[0]["services"]["shop_web"]["image"], "nginx:1.27");
    fs::write(
        repo.join("reconciler.yaml"),
        "stacks:\n  shop:\n    file: apps/gone.yml\n",
    )
    .expect("write");
    let missing = reconciler(dir.path(), &["lint", "repo"]);
    assert_eq!(missing.code, 1);
    assert!(
        missing
            .stdout
            .contains("repo/reconciler.yaml error[missing-file]"),
        "{}",
        missing.stdout
    );
}
