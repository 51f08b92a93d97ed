//! `reconciler plan --repo …|--watch DIR [--against DATA_DIR]`: what applying would change.
//!
//! Exit codes for CI: 0 no changes, 1 changes, 2 errors (including a revision with lint errors,
//! whose findings are printed like `lint` prints them).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::source_args::SourceArgs;
use super::{EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, use_color};
use crate::cli::client::ApiClient;
use crate::desired;
use crate::protocol::{Read, STATUS_PATH, StatusView};
use crate::sync::{self, Decision, Options};

/// Arguments of `plan`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Where desired state comes from.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Compare with the state applied by the cluster of the manager using this data directory
    /// (running or stopped; default: an empty cluster, so everything shows as created).
    #[arg(long, value_name = "DATA_DIR")]
    pub against: Option<PathBuf>,
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Run `plan`; returns the exit code.
pub fn run(args: &Args) -> u8 {
    let cache = match tempfile::tempdir() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: cannot create a temporary directory: {e}");
            return EXIT_USAGE;
        }
    };
    match plan(args, cache.path()) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err}");
            EXIT_USAGE
        }
    }
}

fn plan(args: &Args, cache: &Path) -> anyhow::Result<u8> {
    let mut opened = args.source.open(cache)?;
    let snapshot = opened
        .source
        .poll()?
        .context("the source returned no revision")?;
    let applied = match &args.against {
        Some(dir) => desired::DesiredState {
            stacks: applied_record(dir)?.applied_stacks(),
        },
        None => Default::default(),
    };
    let set = desired::load_snapshot(&snapshot, &args.source.root_name());
    let color = use_color(std::io::stdout().is_terminal());
    if set.errors() > 0 {
        eprint!(
            "{}",
            crate::render::render_human(
                &set.diagnostics,
                &set.sources(),
                use_color(std::io::stderr().is_terminal())
            )
        );
        eprintln!(
            "revision {} is invalid: {}",
            short(&snapshot.revision.id),
            crate::render::summary(&set.diagnostics, set.stacks.len())
        );
        return Ok(EXIT_USAGE);
    }
    let desired = set.desired(&snapshot).context("the revision has errors")?;
    let decision = sync::decide(
        Ok(&desired),
        &applied,
        Options {
            allow_empty: true,
            prune: true,
        },
    );
    let plan = match decision {
        Decision::Apply { plan, .. } => plan,
        _ => Default::default(),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
    } else {
        println!(
            "Revision {}{}\n",
            short(&snapshot.revision.id),
            (snapshot.revision.message.as_deref())
                .map(|m| format!(" \"{m}\""))
                .unwrap_or_default()
        );
        print!("{}", crate::plan_view::render(&plan, color));
    }
    Ok(if plan.is_empty() {
        EXIT_OK
    } else {
        EXIT_FINDINGS
    })
}

/// The revision record of the cluster whose manager uses `data_dir`: read from its store when
/// the manager is stopped, asked of the manager while it runs (and holds the store).
fn applied_record(data_dir: &Path) -> anyhow::Result<crate::sync::applied::Record> {
    if data_dir.join(crate::raft::DB_FILE_NAME).exists() {
        match crate::raft::open_store(data_dir) {
            Ok((_, sm)) => return Ok(sm.read(|s| s.revisions.clone())),
            Err(crate::raft::Error::InUse { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    super::api_args::block_on(async {
        let client = ApiClient::new(data_dir, None)?;
        let read: Read<StatusView> = client.get(STATUS_PATH).await?;
        Ok::<_, anyhow::Error>(read.data.record)
    })?
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}
