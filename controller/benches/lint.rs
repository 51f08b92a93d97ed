//! How long `reconciler lint` takes over many stack files (the CI use case).
//!
//! Generates N realistic stack files (anchors, merge keys, interpolation, long and short
//! syntaxes, deploy settings, a `.env`) in a temporary directory, then measures discovery +
//! loading + every lint rule + cross-stack checks — what `reconciler lint DIR` does minus
//! printing. Run: `cargo bench -p controller --bench lint`.

use std::path::{Path, PathBuf};

fn stack_file(i: usize) -> String {
    format!(
        r#"x-defaults: &defaults
  restart_policy:
    condition: on-failure
    delay: 5s
    max_attempts: 3
  update_config:
    parallelism: 2
    delay: 10s
    order: start-first
    failure_action: rollback
services:
  web:
    image: registry.example.com/team/web:${{TAG:-1.{i}}}
    command: ["serve", "--listen", "0.0.0.0:80"]
    environment:
      LOG_LEVEL: info
      STACK: s{i}
    ports:
      - "{port}:80"
      - target: 9090
        published: {metrics}
        mode: host
    networks: [front, back]
    volumes:
      - data:/var/lib/web
      - type: tmpfs
        target: /tmp
        tmpfs: {{size: 64M}}
    configs: [site]
    secrets:
      - source: token
        target: api-token
        mode: 0400
    healthcheck:
      test: ["CMD", "/probe"]
      interval: 10s
      timeout: 2s
      retries: 3
    deploy:
      <<: *defaults
      replicas: 3
      placement:
        constraints: [node.role==worker, node.labels.zone!=eu-1]
        preferences: [{{spread: node.labels.zone}}]
        max_replicas_per_node: 2
      resources:
        limits: {{cpus: "0.5", memory: 256M}}
        reservations: {{cpus: "0.25", memory: 128M}}
  worker:
    image: registry.example.com/team/worker:1.{i}
    networks: [back]
    deploy:
      <<: *defaults
      mode: global
networks:
  front:
  back:
    driver: overlay
volumes:
  data:
configs:
  site:
    file: ./site.conf
secrets:
  token:
    file: ./token.txt
"#,
        port = 10_000 + i,
        metrics = 30_000 + i,
    )
}

fn generate(n: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    for i in 0..n {
        let stack_dir = dir.path().join(format!("s{i}"));
        std::fs::create_dir_all(&stack_dir).expect("mkdir");
        std::fs::write(stack_dir.join("compose.yaml"), stack_file(i)).expect("write");
        std::fs::write(stack_dir.join("site.conf"), "listen 80;\n").expect("write");
        std::fs::write(stack_dir.join("token.txt"), "t\n").expect("write");
        std::fs::write(stack_dir.join(".env"), format!("TAG=2.{i}\n")).expect("write");
    }
    let root = dir.path().to_path_buf();
    (dir, root)
}

fn lint(root: &Path) -> usize {
    let set = controller::desired::load_paths(&[root.to_path_buf()]).expect("load");
    assert_eq!(set.errors(), 0, "{:?}", set.diagnostics.first());
    set.stacks.len()
}

fn main() {
    divan::main();
}

#[divan::bench(args = [100, 1000], sample_count = 10)]
fn lint_stack_files(bencher: divan::Bencher, n: usize) {
    let (_guard, root) = generate(n);
    bencher.bench(|| lint(divan::black_box(&root)));
}
