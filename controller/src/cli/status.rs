//! `reconciler status`: the applied revision, the stacks, any rejected revision with its
//! errors, and the cluster's leader, asked of a manager.

use super::api_args::{ApiArgs, block_on, warn_if_stale};
use super::{EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};
use crate::applied::{Record, Refusal};
use crate::cluster::api::{Read, STATUS_PATH, StatusView};

/// Arguments of `status`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Manager and identity.
    #[command(flatten)]
    pub api: ApiArgs,
    /// Print JSON: the revision record with a `cluster` object.
    #[arg(long)]
    pub json: bool,
}

/// Run `status`: exit 0 when the newest revision is applied, 1 when it was rejected or refused,
/// 2 when there is no state to read.
pub fn run(args: &Args) -> u8 {
    let read = block_on(async {
        let client = args.api.client().map_err(|e| e.to_string())?;
        client
            .get::<Read<StatusView>>(STATUS_PATH)
            .await
            .map_err(|e| e.to_string())
    })
    .and_then(|r| r);
    let read = match read {
        Ok(read) => read,
        Err(message) => {
            eprintln!("error: {message}");
            return EXIT_USAGE;
        }
    };
    warn_if_stale(read.possibly_stale, &read.answered_by);
    let view = read.data;
    let record = &view.record;
    if record.last_seen.is_none() {
        eprintln!(
            "error: the cluster has not seen a revision yet (does the leader follow a source? \
             start it with --repo or --watch)"
        );
        return EXIT_USAGE;
    }
    if args.json {
        let mut json = serde_json::to_value(record).unwrap_or_default();
        if let Some(object) = json.as_object_mut() {
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
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&json).unwrap_or_default()
        );
    } else {
        print!("{}", render(record));
        println!(
            "\nCluster {}: {} managers, {}/{} nodes ready, leader {}",
            view.cluster_id,
            view.managers,
            view.nodes.1,
            view.nodes.0,
            view.leader.as_deref().unwrap_or("none (no quorum)")
        );
    }
    if record.rejected.is_some() {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    }
}

/// The human view of a record.
pub fn render(record: &Record) -> String {
    let mut out = String::new();
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
            out.push_str("STACK                SERVICES   SYNC\n");
            for (name, stack) in &applied.stacks {
                let sync = if record.rejected.is_some() {
                    "out of sync (newer revision rejected)"
                } else {
                    "synced"
                };
                out.push_str(&format!("{name:<20} {:<10} {sync}\n", stack.services.len()));
            }
        }
        None => out.push_str("Applied revision: none\n"),
    }
    if let Some(rejected) = &record.rejected {
        out.push_str(&format!("\nRejected revision: {}", rejected.revision.id));
        if let Some(m) = &rejected.revision.message {
            out.push_str(&format!(" \"{m}\""));
        }
        out.push('\n');
        match &rejected.refusal {
            Refusal::LintErrors { findings } => {
                for f in findings.iter().filter(|f| f.severity == "error") {
                    out.push_str(&format!("  {f}\n"));
                }
            }
            Refusal::EmptyDesiredState { stacks } => {
                out.push_str(&format!("  it removes all {stacks} stacks; start the manager with --allow-empty to allow that\n"));
            }
        }
        out.push_str("The applied revision stays in force until a good revision arrives.\n");
    }
    out
}
