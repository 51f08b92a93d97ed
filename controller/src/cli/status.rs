//! `reconciler status`: the applied revision, the stacks, and any rejected revision with its errors.

use std::path::PathBuf;

use super::source_args::default_data_dir;
use super::{EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};
use crate::applied::{FileStore, Record, Refusal, Store};

/// Arguments of `status`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The manager's data directory [env: RECONCILER_DATA_DIR].
    #[arg(long, env = "RECONCILER_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Run `status`: exit 0 when the newest revision is applied, 1 when it was rejected or refused,
/// 2 when there is no state to read.
pub fn run(args: &Args) -> u8 {
    let dir = args.data_dir.clone().unwrap_or_else(default_data_dir);
    let record = match FileStore::in_data_dir(&dir).load() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    if record.last_seen.is_none() {
        eprintln!(
            "error: no revision has been seen yet in {} (is the manager running with this --data-dir?)",
            dir.display()
        );
        return EXIT_USAGE;
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&record).unwrap_or_default()
        );
    } else {
        print!("{}", render(&record));
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
