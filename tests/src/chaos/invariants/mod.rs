//! The continuous invariant checker: threads sample the engine every 100 ms and every manager
//! (through the CLI) as fast as it answers, feed [`rules::Rules`], and keep a timeline of every
//! change they saw together with the scenario's own marks (faults, heals, commits). A
//! violation fails the scenario with that timeline.
//!
//! Threads: one for the engine (`engine::list`), one per manager (`status --json`) and one for
//! `service ls` (asked of the first manager that answers without marking it possibly stale).
//! CLI calls have a deadline, so a frozen or cut-off manager only makes its own thread report
//! "no answer".

pub mod agreement;
pub mod rules;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::setup::Chaos;
use super::{cli, engine};
pub use rules::Bounds;
use rules::{ManagerView, Rules, ServiceView};

/// How often each sampler runs (at most).
const PERIOD: Duration = Duration::from_millis(100);

/// What the threads share.
struct State {
    rules: Rules,
    /// `(time, source, line)`, in the order observed.
    timeline: Vec<(Duration, String, String)>,
    violations: Vec<String>,
    last: HashMap<String, String>,
    /// Samples taken per source.
    samples: HashMap<String, u64>,
    /// Node id → hostname, for readable lines.
    names: HashMap<String, String>,
}

struct Shared {
    started: Instant,
    stop: AtomicBool,
    state: Mutex<State>,
    revisions: Arc<Mutex<Vec<String>>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn now(&self) -> Duration {
        self.started.elapsed()
    }

    /// Records `line` for `source` if it differs from the last one, and any violations.
    fn record(&self, at: Duration, source: &str, line: String, violations: Vec<String>) {
        let mut state = self.lock();
        *state.samples.entry(source.to_owned()).or_default() += 1;
        if state.last.get(source) != Some(&line) {
            state.last.insert(source.to_owned(), line.clone());
            state.timeline.push((at, source.to_owned(), line));
        }
        for v in violations {
            let stamped = format!("{:7.2}s {v}", at.as_secs_f64());
            state.timeline.push((at, "VIOLATION".to_owned(), v.clone()));
            state.violations.push(stamped);
        }
    }
}

/// A running checker; stop it with [`Checker::finish`].
pub struct Checker {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl Checker {
    /// Starts sampling `chaos`'s stack and managers.
    pub fn start(chaos: &Chaos, bounds: Bounds) -> Checker {
        let shared = Arc::new(Shared {
            started: Instant::now(),
            stop: AtomicBool::new(false),
            state: Mutex::new(State {
                rules: Rules::new(bounds),
                timeline: Vec::new(),
                violations: Vec::new(),
                last: HashMap::new(),
                samples: HashMap::new(),
                names: chaos.hostnames(),
            }),
            revisions: chaos.revisions.clone(),
        });
        let managers = chaos.manager_dirs();
        let mut threads = vec![spawn_engine(shared.clone(), chaos.stack.clone())];
        for (name, data) in &managers {
            threads.push(spawn_manager(shared.clone(), name.clone(), data.clone()));
        }
        threads.push(spawn_services(
            shared.clone(),
            managers,
            chaos.stack.clone(),
        ));
        Checker { shared, threads }
    }

    /// Adds a scenario event to the timeline.
    pub fn mark(&self, what: &str) {
        let at = self.shared.now();
        self.shared
            .lock()
            .timeline
            .push((at, "scenario".into(), what.into()));
    }

    /// Opens a fault window `label` (doubles and shortfalls are legitimate inside it).
    pub fn fault(&self, label: &str) {
        self.mark(&format!("fault: {label}"));
        self.shared.lock().rules.open(label);
    }

    /// Closes fault window `label`: from now on the `settle` bound runs.
    pub fn healed(&self, label: &str) {
        self.mark(&format!("healed: {label}"));
        let at = self.shared.now();
        self.shared.lock().rules.close(at, label);
    }

    /// Violations so far.
    pub fn violations(&self) -> Vec<String> {
        self.shared.lock().violations.clone()
    }

    /// The timeline so far, one line per change, then how many samples each source took.
    pub fn timeline(&self) -> String {
        let state = self.shared.lock();
        let mut lines = state.timeline.clone();
        // Threads record a little after they sample; order by when they sampled.
        lines.sort_by_key(|(at, _, _)| *at);
        let mut out: String = lines
            .iter()
            .map(|(at, source, line)| format!("{:7.2}s {source:>9} {line}\n", at.as_secs_f64()))
            .collect();
        let mut samples: Vec<String> = state
            .samples
            .iter()
            .map(|(source, n)| format!("{source} {n}"))
            .collect();
        samples.sort();
        out.push_str(&format!(
            "samples in {:.1}s: {}\n",
            self.shared.now().as_secs_f64(),
            samples.join(", ")
        ));
        out
    }

    /// Stops sampling; panics with the violations and the timeline if there were any (with
    /// `CHAOS_TIMELINE` set, prints the timeline anyway).
    pub fn finish(mut self) {
        self.stop_threads();
        let violations = self.violations();
        if std::env::var_os("CHAOS_TIMELINE").is_some() {
            eprintln!("timeline:\n{}", self.timeline());
        }
        assert!(
            violations.is_empty(),
            "invariants violated:\n{}\ntimeline:\n{}",
            violations.join("\n"),
            self.timeline()
        );
    }

    fn stop_threads(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Checker {
    fn drop(&mut self) {
        self.stop_threads();
        if std::thread::panicking() {
            eprintln!(
                "violations: {:?}\ntimeline:\n{}",
                self.violations(),
                self.timeline()
            );
        }
    }
}

/// Runs `sample` every [`PERIOD`] until the checker stops.
fn every_period(
    shared: Arc<Shared>,
    mut sample: impl FnMut(&Shared) + Send + 'static,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        while !shared.stop.load(Ordering::SeqCst) {
            let began = Instant::now();
            sample(&shared);
            if let Some(rest) = PERIOD.checked_sub(began.elapsed()) {
                std::thread::sleep(rest);
            }
        }
    })
}

fn spawn_engine(shared: Arc<Shared>, stack: String) -> JoinHandle<()> {
    every_period(shared, move |shared| {
        let at = shared.now();
        match engine::list(&stack) {
            Ok(containers) => {
                let mut state = shared.lock();
                let found = state.rules.observe_engine(at, &containers);
                let line = describe_engine(&containers, &state.names);
                drop(state);
                shared.record(at, "engine", line, found);
            }
            Err(e) => shared.record(at, "engine", format!("no answer: {e}"), Vec::new()),
        }
    })
}

/// `service.slot:task@node(tag) …` for running containers, sorted.
fn describe_engine(containers: &[engine::Listed], names: &HashMap<String, String>) -> String {
    let mut running: Vec<String> = containers
        .iter()
        .filter(|c| c.running())
        .map(|c| {
            let node = names
                .get(&c.node)
                .map_or(&c.node[..c.node.len().min(8)], String::as_str);
            let short = c.service.rsplit('_').next().unwrap_or(&c.service);
            let slot = if c.slot == "0" { "g" } else { &c.slot };
            let tag = c.image.rsplit(':').next().unwrap_or_default();
            format!("{short}.{slot}:{:.6}@{node}({tag})", c.task)
        })
        .collect();
    running.sort();
    format!("{} running [{}]", running.len(), running.join(" "))
}

fn spawn_manager(shared: Arc<Shared>, name: String, data: PathBuf) -> JoinHandle<()> {
    let source = name.clone();
    every_period(shared, move |shared| {
        let at = shared.now();
        let answer = cli::status(&data);
        let Ok(status) = answer else {
            let why = answer.err().unwrap_or_default();
            let why = why.lines().next().unwrap_or_default().to_owned();
            shared.record(at, &source, format!("no answer: {why}"), Vec::new());
            return;
        };
        let view = ManagerView {
            applied: cli::applied_revision(&status).map(str::to_owned),
            leader: status["cluster"]["leader"].as_str().map(str::to_owned),
            term: status["cluster"]["term"].as_u64().unwrap_or_default(),
            stale: status["cluster"]["possibly_stale"]
                .as_bool()
                .unwrap_or(false),
        };
        let revisions = shared
            .revisions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let mut state = shared.lock();
        state.rules.revisions = revisions;
        let found = state.rules.observe_manager(&name, &view);
        let leader = view
            .leader
            .as_deref()
            .map(|l| state.names.get(l).map_or(l, String::as_str).to_owned());
        drop(state);
        let line = format!(
            "applied {:.7} leader {} term {}{}",
            view.applied.as_deref().unwrap_or("-"),
            leader.as_deref().unwrap_or("-"),
            view.term,
            if view.stale { " (possibly stale)" } else { "" }
        );
        shared.record(at, &source, line, found);
    })
}

fn spawn_services(
    shared: Arc<Shared>,
    managers: Vec<(String, PathBuf)>,
    stack: String,
) -> JoinHandle<()> {
    let mut next = 0usize;
    every_period(shared, move |shared| {
        let at = shared.now();
        // Start from the manager that answered last time; move on when it does not, or when
        // it cannot vouch for its answer.
        let mut answer = Err(String::new());
        for k in 0..managers.len() {
            let i = (next + k) % managers.len();
            answer = cli::fresh_services(&managers[i].1);
            if answer.is_ok() {
                next = i;
                break;
            }
        }
        let Ok(all) = answer else {
            shared.record(at, "services", "no answer".into(), Vec::new());
            return;
        };
        let views: Vec<ServiceView> = all
            .iter()
            .filter(|s| s["spec"]["stack"] == stack.as_str())
            .map(|s| ServiceView {
                name: s["spec"]["name"].as_str().unwrap_or_default().to_owned(),
                desired: s["replicas"]["desired"].as_u64().unwrap_or_default(),
                updating: matches!(
                    s["update"]["state"].as_str(),
                    Some("updating" | "rollback_started")
                ),
            })
            .collect();
        shared.lock().rules.observe_services(at, &views);
        let mut line: Vec<String> = all
            .iter()
            .filter(|s| s["spec"]["stack"] == stack.as_str())
            .map(|s| {
                format!(
                    "{} {}/{} {}",
                    s["spec"]["name"].as_str().unwrap_or_default(),
                    s["replicas"]["running"],
                    s["replicas"]["desired"],
                    s["update"]["state"].as_str().unwrap_or("")
                )
            })
            .collect();
        line.sort();
        shared.record(at, "services", line.join(", "), Vec::new());
    })
}
