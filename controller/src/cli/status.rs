//! `reconciler status [--wait]`: the applied revision, each stack's sync state, any rejected
//! revision with its errors, and the cluster's leader, asked of a manager. With `--wait`, polls
//! until the revision is applied and every service converged (the decision is
//! [`wait::decide`](super::wait::decide); this loop only fetches and prints).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use super::api_args::{ApiArgs, block_on, warn_if_stale};
use super::progress::{Screen, render_frame};
use super::stack::{render_reasons, render_stacks};
use super::wait::{self, Target, Verdict};
use super::{EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};
use crate::cli::client::{ApiClient, ClientError};
use crate::protocol::{Read, STATUS_PATH, StatusView};

/// How often `--wait` asks again.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Arguments of `status`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Manager and identity.
    #[command(flatten)]
    pub api: ApiArgs,
    /// Print JSON: the revision record with a `cluster` object and the `stacks`.
    #[arg(long)]
    pub json: bool,
    /// Wait until the revision is applied and every service converged: exit 0 then, 1 when it
    /// was rejected, an update paused or rolled back, tasks fail for good, or time runs out.
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up after this long.
    #[arg(long, default_value = "5m", value_parser = parse_timeout, requires = "wait")]
    pub timeout: Duration,
    /// With --wait: wait for this revision (a prefix of its id) rather than the newest.
    #[arg(long, value_name = "ID", requires = "wait")]
    pub revision: Option<String>,
}

fn parse_timeout(s: &str) -> anyhow::Result<Duration> {
    Ok(crds::units::parse_duration(s)?)
}

/// Run `status`: exit 0 only when the newest revision is applied and every service converged;
/// 1 when it was rejected or refused, an update paused or rolled back, tasks fail, services are
/// still on their way, or no revision was seen yet; 2 when the manager cannot be asked. With
/// `--wait`: 0 converged, 1 failed or timed out.
pub fn run(args: &Args) -> u8 {
    let outcome = block_on(async {
        let client = args.api.client()?;
        if args.wait {
            Ok(wait_for(args, &client).await)
        } else {
            let read = client.get::<Read<StatusView>>(STATUS_PATH).await?;
            Ok::<_, anyhow::Error>(show(args, &read))
        }
    })
    .and_then(|r| r);
    outcome.unwrap_or_else(|err| {
        eprintln!("error: {err}");
        EXIT_USAGE
    })
}

/// One look at the status.
fn show(args: &Args, read: &Read<StatusView>) -> u8 {
    warn_if_stale(read.possibly_stale, &read.answered_by);
    let view = &read.data;
    if view.record.last_seen.is_none()
        && view.record.source_failure.is_none()
        && view.record.source.is_some()
    {
        eprintln!(
            "error: the cluster has not seen a revision yet (does the leader follow a source? \
             start it with --repo or --watch)"
        );
        return EXIT_FINDINGS;
    }
    let verdict = wait::decide(view, &Target::Newest);
    if args.json {
        println!("{}", to_json_with(read, &verdict));
    } else {
        print!("{}", render(view));
    }
    if matches!(verdict, Verdict::Converged { .. }) {
        return EXIT_OK;
    }
    let (state, reasons) = verdict_parts(&verdict);
    // A CI step reads the exit code; the reason goes beside it (stderr: JSON stays parseable).
    eprintln!("status: {state}:");
    print_reasons(&reasons);
    EXIT_FINDINGS
}

/// The verdict's state (`converged`, `progressing`, `failed`) and its reasons, for the exit
/// line and the JSON.
fn verdict_parts(verdict: &Verdict) -> (&'static str, Vec<String>) {
    match verdict {
        Verdict::Converged { .. } => ("converged", Vec::new()),
        Verdict::Pending(why) => ("progressing", vec![why.clone()]),
        Verdict::Waiting(why) => ("progressing", why.clone()),
        Verdict::Failed(why) => ("failed", why.clone()),
        Verdict::TimedOut(why) => ("timed out", why.clone()),
    }
}

/// Poll until [`wait::decide`] says it is over.
async fn wait_for(args: &Args, client: &ApiClient) -> u8 {
    let deadline = Instant::now() + args.timeout;
    let mut waiter = Waiter::new(args);
    loop {
        let timed_out = Instant::now() >= deadline;
        let verdict = match waiter.poll(client, timed_out).await {
            Ok(verdict) => verdict,
            Err(code) => return code,
        };
        match conclude(verdict, args) {
            Some(code) => return code,
            None => tokio::time::sleep(POLL_INTERVAL).await,
        }
    }
}

/// What the wait loop keeps between polls.
struct Waiter<'a> {
    args: &'a Args,
    target: Target,
    /// Whether stdout is a terminal (bars, redrawn frames).
    terminal: bool,
    screen: Screen,
    warned_stale: bool,
    warned_unreachable: bool,
}

impl<'a> Waiter<'a> {
    fn new(args: &'a Args) -> Self {
        let terminal = std::io::stdout().is_terminal();
        Waiter {
            args,
            target: match &args.revision {
                Some(prefix) => Target::Revision(prefix.clone()),
                None => Target::Newest,
            },
            terminal,
            screen: Screen::new(terminal),
            warned_stale: false,
            warned_unreachable: false,
        }
    }

    /// One look: fetch, decide, show. A manager that cannot be reached (or fails) is asked
    /// again, so a wait outlives a leader change; any other error ends it with its exit code.
    async fn poll(&mut self, client: &ApiClient, timed_out: bool) -> Result<Verdict, u8> {
        match client.get::<Read<StatusView>>(STATUS_PATH).await {
            Ok(read) => {
                if read.possibly_stale && !self.warned_stale {
                    warn_if_stale(true, &read.answered_by);
                    self.warned_stale = true;
                }
                let verdict = wait::decide(&read.data, &self.target);
                let verdict = if timed_out {
                    self.show(&read, &verdict, true);
                    wait::expire(verdict)
                } else {
                    let over = !matches!(verdict, Verdict::Pending(_) | Verdict::Waiting(_));
                    self.show(&read, &verdict, over);
                    verdict
                };
                Ok(verdict)
            }
            Err(e @ (ClientError::Connect { .. } | ClientError::Api { status: 500.., .. })) => {
                if !self.warned_unreachable {
                    eprintln!("warning: {e}; asking again");
                    self.warned_unreachable = true;
                }
                let why = format!("no answer from the manager: {e}");
                Ok(if timed_out {
                    Verdict::TimedOut(vec![why])
                } else {
                    Verdict::Pending(why)
                })
            }
            Err(e) => {
                eprintln!("error: {e}");
                Err(EXIT_USAGE)
            }
        }
    }

    /// Progress while waiting (`over` on the last look); with `--json`, only the final state.
    fn show(&mut self, read: &Read<StatusView>, verdict: &Verdict, over: bool) {
        if self.args.json {
            if over {
                print_out(&(to_json_with(read, verdict) + "\n"));
            }
            return;
        }
        // Until the revision is in force that is the news; from then on, the services.
        let frame = match verdict {
            Verdict::Pending(why) => vec![why.clone()],
            _ => render_frame(&read.data.stacks, self.terminal),
        };
        print_out(&self.screen.update(&frame));
    }
}

/// The exit code once the wait is over (with the outcome printed), `None` to keep waiting.
fn conclude(verdict: Verdict, args: &Args) -> Option<u8> {
    match verdict {
        Verdict::Pending(_) | Verdict::Waiting(_) => None,
        Verdict::Converged { revision } => {
            if !args.json {
                println!(
                    "revision {} applied: every service converged",
                    super::stack::short_revision(&revision)
                );
            }
            Some(EXIT_OK)
        }
        Verdict::Failed(why) => {
            eprintln!("error: the revision cannot converge:");
            print_reasons(&why);
            Some(EXIT_FINDINGS)
        }
        Verdict::TimedOut(why) => {
            eprintln!(
                "error: timed out after {} waiting for the revision to converge; not converged:",
                wait::format_timeout(args.timeout)
            );
            print_reasons(&why);
            Some(EXIT_FINDINGS)
        }
    }
}

fn print_out(text: &str) {
    let mut out = std::io::stdout().lock();
    // A closed stdout (a pipe to `head`) must not stop the wait; its exit code still matters.
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

fn print_reasons(lines: &[String]) {
    for line in lines {
        eprintln!("  {line}");
    }
}

/// The record with a `cluster` object, the stacks and the `verdict` (`state`: `converged`,
/// `progressing` or `failed`, and the `reasons`) that the exit code follows.
fn to_json_with(read: &Read<StatusView>, verdict: &Verdict) -> String {
    let view = &read.data;
    let mut json = serde_json::to_value(&view.record).unwrap_or_default();
    if let Some(object) = json.as_object_mut() {
        let (state, reasons) = verdict_parts(verdict);
        object.insert(
            "verdict".to_owned(),
            serde_json::json!({ "state": state, "reasons": reasons }),
        );
        object.insert(
            "cluster".to_owned(),
            serde_json::json!({
                "id": view.cluster_id,
                "leader": view.leader,
                "term": view.term,
                "managers": view.managers,
                "nodes": view.nodes.0,
                "nodes_ready": view.nodes.1,
                "answered_by": read.answered_by,
                "possibly_stale": read.possibly_stale,
            }),
        );
        object.insert(
            "stacks".to_owned(),
            serde_json::to_value(&view.stacks).unwrap_or_default(),
        );
    }
    serde_json::to_string_pretty(&json).unwrap_or_default()
}

/// The human view: the applied revision, the stacks with their sync state and what keeps each
/// service from converging, any rejected revision, and the cluster.
pub fn render(view: &StatusView) -> String {
    let record = &view.record;
    let mut out = String::new();
    match &record.source {
        Some(source) => out.push_str(&format!("Source: {}\n", source.describe())),
        None => out.push_str(&format!("Source: {}\n", wait::NOT_FOLLOWING)),
    }
    match &record.applied {
        Some(applied) => {
            out.push_str(&format!("Applied revision: {}", applied.revision.id));
            if let Some(m) = &applied.revision.message {
                out.push_str(&format!(" \"{m}\""));
            }
            if let Some(a) = &applied.revision.author {
                out.push_str(&format!(" by {a}"));
            }
            out.push('\n');
        }
        None => out.push_str("Applied revision: none\n"),
    }
    if !view.stacks.is_empty() {
        out.push('\n');
        out.push_str(&render_stacks(&view.stacks));
        out.push_str(&render_reasons(&view.stacks));
    }
    if let Some(failure) = &record.source_failure {
        out.push_str(&format!(
            "\nSource: {}\nThe applied revision stays in force; {}.\n",
            wait::describe_source_failure(failure),
            if failure.temporary {
                "fetching is retried at every poll"
            } else {
                "this needs an operator (credentials, the URL, the branch, the disk)"
            }
        ));
    }
    if let Some(rejected) = &record.rejected {
        out.push_str(&format!("\nRejected revision: {}", rejected.revision.id));
        if let Some(m) = &rejected.revision.message {
            out.push_str(&format!(" \"{m}\""));
        }
        out.push('\n');
        // The first line repeats the id; the findings follow it.
        for line in wait::describe_rejection(rejected).iter().skip(1) {
            out.push_str(line);
            out.push('\n');
        }
        out.push_str("The applied revision stays in force until a good revision arrives.\n");
    }
    out.push_str(&format!(
        "\nCluster {}: {} managers, {}/{} nodes ready, leader {}\n",
        view.cluster_id,
        view.managers,
        view.nodes.1,
        view.nodes.0,
        view.leader.as_deref().unwrap_or("none (no quorum)")
    ));
    out
}

#[cfg(test)]
#[path = "status_test.rs"]
mod tests;
