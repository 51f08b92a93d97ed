//! `reconciler config [PATH…]`: the stacks as the cluster will see them.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use serde::Serialize;

use super::{EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, use_color};
use crate::desired;
use crate::render;

/// Output formats of `config`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// YAML, one document per stack.
    Yaml,
    /// JSON, an array of stacks.
    Json,
}

/// Arguments of `config`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Stack files or directories to search (default: the current directory).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "yaml")]
    pub format: OutputFormat,
}

/// A stack with the content hash of each service, as printed.
#[derive(Debug, Serialize)]
struct StackView<'a> {
    #[serde(flatten)]
    stack: &'a crds::stack::Stack,
    /// `spec_hash` of every service, so a change can be traced to the services it touches.
    hashes: std::collections::BTreeMap<&'a str, String>,
}

/// Run `config`; returns the exit code.
pub fn run(args: &Args) -> u8 {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let set = match desired::load_paths(&paths) {
        Ok(set) => set,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    if set.errors() > 0 || set.warnings() > 0 {
        let color = use_color(std::io::stderr().is_terminal());
        eprint!(
            "{}",
            render::render_human(&set.diagnostics, &set.sources(), color)
        );
    }
    if set.errors() > 0 {
        eprintln!("{}", render::summary(&set.diagnostics, set.stacks.len()));
        return EXIT_FINDINGS;
    }
    let stacks: Vec<crds::stack::Stack> = set
        .desired(&desired::DiskFiles)
        .map(|d| d.stacks.into_values().collect())
        .unwrap_or_default();
    let views: Vec<StackView<'_>> = stacks
        .iter()
        .map(|stack| StackView {
            stack,
            hashes: stack
                .services
                .iter()
                .map(|(n, s)| (n.as_str(), s.spec_hash()))
                .collect(),
        })
        .collect();
    let text = match args.format {
        OutputFormat::Json => serde_json::to_string_pretty(&views)
            .map(|s| s + "\n")
            .map_err(anyhow::Error::from),
        OutputFormat::Yaml => yaml_documents(&views),
    };
    match text {
        Ok(text) if std::io::stdout().lock().write_all(text.as_bytes()).is_ok() => EXIT_OK,
        Ok(_) => EXIT_USAGE,
        Err(e) => {
            eprintln!("error: cannot render the stacks: {e}");
            EXIT_USAGE
        }
    }
}

fn yaml_documents(views: &[StackView<'_>]) -> anyhow::Result<String> {
    let mut out = String::new();
    for view in views {
        // Round-trip through JSON so flattened and tagged fields serialise as plain maps.
        let value = serde_json::to_value(view)?;
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(&value)?);
    }
    Ok(out)
}
