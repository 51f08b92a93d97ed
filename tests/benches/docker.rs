//! reconciler against `docker compose` (and `docker stack deploy` when the engine can run a
//! one-node swarm) on the same engine and the same image (issue #6):
//!
//! - `deploy`: 50 replicas from "desired state written" to "50 containers running". Ours is
//!   timed from the commit (a manager with an embedded agent is already following the
//!   repository); compose from `docker compose up -d --scale web=50` (or `docker-compose` where
//!   only the standalone tool is installed) to 50 running; swarm from
//!   `docker stack deploy` to 50 running. Trials alternate between the tools. Beside them, the
//!   engine's floor: the same 50 containers created and started straight through the Engine
//!   API, all at once, with no orchestration at all — what any tool on this engine pays.
//! - `crash`: `docker kill` of one of 3 replicas → a replacement running, 20 times.
//! - `rss`: resident memory of an agent-only node running 50 tasks, idle.
//!
//! Run: `cargo build --release -p controller && cargo bench -p tests --bench docker`
//! (`-- deploy|crash|rss`, `DEPLOY_TRIALS=3`, `DEPLOY_REPLICAS=50`, `DEPLOY_SWARM=0` to skip swarm).

use std::time::{Duration, Instant};

use tests::cluster::Cluster;
use tests::docker::{StackCleanup, build_images, docker, running, unique_stack};
use tests::{GitRepo, Process, env_usize, wait_until};

const LONG: Duration = Duration::from_secs(300);

fn main() {
    let what: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let all = what.is_empty();
    build_images();
    if all || what.iter().any(|w| w == "deploy") {
        deploy();
    }
    if all || what.iter().any(|w| w == "crash") {
        crash();
    }
    if all || what.iter().any(|w| w == "rss") {
        rss();
    }
}

fn service_yaml(replicas: usize) -> String {
    format!(
        "services:\n  web:\n    image: reconciler-test/echo:1\n    command: [\"serve\", \
         \"--listen\", \"0.0.0.0:8080\"]\n    stop_grace_period: 2s\n    deploy:\n      \
         replicas: {replicas}\n      restart_policy:\n        condition: any\n        delay: 0s\n"
    )
}

/// Counts running containers with `label` until there are `count`; the time it took from `t0`.
fn until_running(label: &str, count: usize, t0: Instant) -> Duration {
    loop {
        let ids = docker(&["ps", "-q", "--filter", label, "--filter", "status=running"])
            .unwrap_or_default();
        if ids.lines().filter(|l| !l.is_empty()).count() >= count {
            return t0.elapsed();
        }
        assert!(
            t0.elapsed() < LONG,
            "{count} containers of {label} never ran"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn deploy() {
    let trials = env_usize("DEPLOY_TRIALS", 3);
    let replicas = env_usize("DEPLOY_REPLICAS", 50);
    let swarm = std::env::var("DEPLOY_SWARM")
        .map(|v| v != "0")
        .unwrap_or(true)
        && swarm_init();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut ours = Vec::new();
    let mut compose = Vec::new();
    let mut stack = Vec::new();
    let mut floor = Vec::new();
    for trial in 0..trials {
        ours.push(deploy_ours(dir.path(), trial, replicas));
        compose.push(deploy_compose(dir.path(), trial, replicas));
        floor.push(engine_floor(replicas));
        if swarm {
            stack.push(deploy_swarm(dir.path(), trial, replicas));
        }
        eprintln!(
            "trial {trial}: reconciler {}, compose {}, engine API {}{}",
            ms(ours[trial]),
            ms(compose[trial]),
            ms(floor[trial]),
            stack
                .get(trial)
                .map(|s| format!(", swarm {}", ms(*s)))
                .unwrap_or_default()
        );
    }
    if swarm {
        let _ = docker(&["swarm", "leave", "--force"]);
    }
    let (o, c, f) = (median(ours), median(compose), median(floor));
    println!("deploy {replicas} replicas, median of {trials}:");
    println!("  reconciler (commit → all running): {}", ms(o));
    println!("  docker compose up -d --scale:       {}", ms(c));
    println!("  engine API alone (create + start):  {}", ms(f));
    if !stack.is_empty() {
        println!(
            "  docker stack deploy:                {}",
            ms(median(stack))
        );
    }
    println!(
        "  ratio reconciler / compose: {:.2}",
        o.as_secs_f64() / c.as_secs_f64()
    );
    tests::figure("p6.deploy50_reconciler", o.as_secs_f64() * 1000.0, "ms");
    tests::figure("p6.deploy50_compose", c.as_secs_f64() * 1000.0, "ms");
    tests::figure("p6.deploy50_engine_api", f.as_secs_f64() * 1000.0, "ms");
    tests::figure(
        "p6.deploy50_engine_api_ratio_to_compose",
        f.as_secs_f64() / c.as_secs_f64(),
        "x",
    );
    tests::figure(
        "p6.deploy50_ratio_to_compose",
        o.as_secs_f64() / c.as_secs_f64(),
        "x",
    );
}

fn deploy_ours(dir: &std::path::Path, trial: usize, replicas: usize) -> Duration {
    let name = unique_stack("bo");
    let _cleanup = StackCleanup(name.clone());
    let root = dir.join(format!("ours{trial}"));
    let repo = GitRepo::new(&root);
    repo.write("stacks/README.md", "stacks\n");
    repo.commit_and_push("empty");
    let data = root.join("data");
    let manager = repo.follow(
        &root,
        "manager",
        &data,
        &[("RECONCILER_AGENT", "true"), ("RECONCILER_LOG", "warn")],
    );
    wait_until(LONG, "the manager to apply the empty revision", || {
        tests::status_json(&root, &data).map(|_| ())
    });
    repo.write(&format!("stacks/{name}.yaml"), &service_yaml(replicas));
    let t0 = Instant::now();
    repo.commit_and_push("deploy");
    let took = until_running(
        &format!("label=com.docker.stack.namespace={name}"),
        replicas,
        t0,
    );
    drop(manager);
    took
}

/// The engine's floor for `replicas` containers of the bench's service on a stack network: each
/// created and started through the Engine API, all at once (as compose and the agent attach
/// their containers to a user-defined bridge network, so does this).
fn engine_floor(replicas: usize) -> Duration {
    use bollard::models::{ContainerCreateBody, EndpointSettings, NetworkCreateRequest};
    use bollard::models::{HostConfig, NetworkingConfig};
    use bollard::query_parameters::CreateContainerOptionsBuilder;

    let name = unique_stack("bf");
    let _cleanup = StackCleanup(name.clone());
    let labels =
        std::collections::HashMap::from([(tests::docker::STACK_LABEL.to_owned(), name.clone())]);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let docker = bollard::Docker::connect_with_defaults()
            .expect("engine")
            .negotiate_version()
            .await
            .expect("engine version");
        let network = format!("{name}_default");
        docker
            .create_network(NetworkCreateRequest {
                name: network.clone(),
                driver: Some("bridge".to_owned()),
                labels: Some(labels.clone()),
                ..NetworkCreateRequest::default()
            })
            .await
            .expect("create network");
        let t0 = Instant::now();
        let starts = (1..=replicas).map(|slot| {
            let (docker, network, labels) = (&docker, &network, &labels);
            let container = format!("{name}_web.{slot}");
            async move {
                let body = ContainerCreateBody {
                    image: Some("reconciler-test/echo:1".to_owned()),
                    cmd: Some(vec![
                        "serve".into(),
                        "--listen".into(),
                        "0.0.0.0:8080".into(),
                    ]),
                    labels: Some(labels.clone()),
                    host_config: Some(HostConfig {
                        network_mode: Some(network.clone()),
                        ..HostConfig::default()
                    }),
                    networking_config: Some(NetworkingConfig {
                        endpoints_config: Some(std::collections::HashMap::from([(
                            network.clone(),
                            EndpointSettings {
                                aliases: Some(vec!["web".to_owned()]),
                                ..EndpointSettings::default()
                            },
                        )])),
                    }),
                    ..ContainerCreateBody::default()
                };
                let options = CreateContainerOptionsBuilder::new()
                    .name(&container)
                    .build();
                let created = docker
                    .create_container(Some(options), body)
                    .await
                    .expect("create container");
                docker
                    .start_container(&created.id, None)
                    .await
                    .expect("start container");
            }
        });
        futures_util::future::join_all(starts).await;
        t0.elapsed()
    })
}

fn deploy_compose(dir: &std::path::Path, trial: usize, replicas: usize) -> Duration {
    let root = dir.join(format!("compose{trial}"));
    std::fs::create_dir_all(&root).expect("mkdir");
    let file = root.join("compose.yaml");
    std::fs::write(&file, service_yaml(1)).expect("write");
    let project = unique_stack("bc");
    let file_s = file.to_string_lossy().into_owned();
    let scale = format!("web={replicas}");
    let compose = compose_command();
    let run = |args: &[&str]| {
        let mut cmd = std::process::Command::new(compose[0]);
        cmd.args(&compose[1..])
            .args(["-p", &project, "-f", &file_s])
            .args(args);
        let out = cmd.output().expect("run compose");
        assert!(
            out.status.success(),
            "{compose:?} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let t0 = Instant::now();
    run(&["up", "-d", "--scale", &scale]);
    let took = until_running(
        &format!("label=com.docker.compose.project={project}"),
        replicas,
        t0,
    );
    run(&["down", "-t", "1"]);
    took
}

/// `docker compose` (v2) when the plugin is installed, else the standalone `docker-compose`.
fn compose_command() -> &'static [&'static str] {
    static CMD: std::sync::OnceLock<&'static [&'static str]> = std::sync::OnceLock::new();
    CMD.get_or_init(|| {
        let v2 = std::process::Command::new("docker")
            .args(["compose", "version"])
            .output()
            .is_ok_and(|o| o.status.success());
        let cmd: &'static [&'static str] = if v2 {
            &["docker", "compose"]
        } else {
            &["docker-compose"]
        };
        let version = std::process::Command::new(cmd[0])
            .args(&cmd[1..])
            .arg("version")
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_owned()
            })
            .unwrap_or_default();
        eprintln!("compose: {cmd:?} ({version})");
        cmd
    })
}

fn swarm_init() -> bool {
    let state = docker(&["info", "--format", "{{.Swarm.LocalNodeState}}"]).unwrap_or_default();
    if state == "active" {
        return true;
    }
    match docker(&["swarm", "init", "--advertise-addr", "127.0.0.1"]) {
        Ok(_) => true,
        Err(e) => {
            eprintln!("swarm: cannot init a one-node swarm here ({e}); skipped");
            false
        }
    }
}

fn deploy_swarm(dir: &std::path::Path, trial: usize, replicas: usize) -> Duration {
    let root = dir.join(format!("swarm{trial}"));
    std::fs::create_dir_all(&root).expect("mkdir");
    let file = root.join("compose.yaml");
    std::fs::write(&file, service_yaml(replicas)).expect("write");
    let name = unique_stack("bs");
    let file_s = file.to_string_lossy().into_owned();
    let t0 = Instant::now();
    docker(&[
        "stack",
        "deploy",
        "--resolve-image",
        "never",
        "-c",
        &file_s,
        &name,
    ])
    .expect("docker stack deploy");
    let took = until_running(
        &format!("label=com.docker.stack.namespace={name}"),
        replicas,
        t0,
    );
    let _ = docker(&["stack", "rm", &name]);
    // Swarm removes containers asynchronously; let them go before the next trial.
    let _ = wait_until_gone(&format!("label=com.docker.stack.namespace={name}"));
    took
}

fn wait_until_gone(label: &str) -> Option<()> {
    let t0 = Instant::now();
    while t0.elapsed() < LONG {
        let ids = docker(&["ps", "-aq", "--filter", label]).unwrap_or_default();
        if ids.trim().is_empty() {
            return Some(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    None
}

fn crash() {
    let trials = env_usize("CRASH_TRIALS", 20);
    let dir = tempfile::tempdir().expect("tempdir");
    let name = unique_stack("bk");
    let _cleanup = StackCleanup(name.clone());
    let stacks = dir.path().join("stacks");
    std::fs::create_dir_all(&stacks).expect("mkdir");
    std::fs::write(stacks.join(format!("{name}.yaml")), service_yaml(3)).expect("write");
    let data = dir.path().join("data");
    let data_s = data.to_string_lossy().into_owned();
    let stacks_s = stacks.to_string_lossy().into_owned();
    let _manager = Process::start_with_env(
        dir.path(),
        "manager",
        &["--watch", &stacks_s, "--data-dir", &data_s],
        &[("RECONCILER_AGENT", "true"), ("RECONCILER_LOG", "warn")],
    );
    let label = format!("label=com.docker.stack.namespace={name}");
    until_running(&label, 3, Instant::now());
    let mut samples = Vec::new();
    for trial in 0..trials {
        let victim = running(&name, "web").remove(0);
        let t0 = Instant::now();
        docker(&["kill", &victim.id]).expect("docker kill");
        loop {
            let up = running(&name, "web");
            if up.len() == 3 && up.iter().all(|c| c.id != victim.id) {
                break;
            }
            assert!(t0.elapsed() < LONG, "no replacement");
            std::thread::sleep(Duration::from_millis(10));
        }
        samples.push(t0.elapsed());
        eprintln!("crash {trial}: replaced in {}", ms(samples[trial]));
    }
    samples.sort();
    println!(
        "crash → replacement running, {trials} trials: p50 {}, p90 {}, max {}",
        ms(samples[trials / 2]),
        ms(samples[trials * 9 / 10]),
        ms(samples[trials - 1])
    );
    tests::figure(
        "p4.crash_replaced_p50",
        samples[trials / 2].as_secs_f64() * 1000.0,
        "ms",
    );
}

fn rss() {
    let dir = tempfile::tempdir().expect("tempdir");
    let name = unique_stack("br");
    let _cleanup = StackCleanup(name.clone());
    let mut cluster = Cluster::new(dir.path());
    let m1 = cluster.init("m1", "127.0.0.1");
    let drained = cluster.cli(m1, &["node", "update", "--availability", "drain", "m1"]);
    assert_eq!(drained.code, 0, "{}", drained.stderr);
    let token = cluster.token(m1, "worker");
    cluster.agents = vec!["w1".into()];
    let w1 = cluster.join("w1", "127.0.0.2", &token, m1);
    std::fs::write(
        cluster.stacks.join(format!("{name}.yaml")),
        service_yaml(50),
    )
    .expect("write");
    until_running(
        &format!("label=com.docker.stack.namespace={name}"),
        50,
        Instant::now(),
    );
    std::thread::sleep(Duration::from_secs(10));
    let pid = cluster.nodes[w1].process.as_ref().expect("w1 runs").pid();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let field = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .map(|l| l[key.len()..].trim().to_owned())
            .unwrap_or_default()
    };
    println!(
        "agent-only node with 50 running tasks, idle 10 s: VmRSS {}, VmHWM {}",
        field("VmRSS:"),
        field("VmHWM:")
    );
    let kib = |v: String| {
        v.split_whitespace()
            .next()
            .and_then(|n| n.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    tests::figure(
        "p7.agent_idle_rss_50_tasks",
        kib(field("VmRSS:")) / 1024.0,
        "MiB",
    );
}
