//! `reconciler lint [PATH…]`: report every problem in every stack file.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use super::{EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, use_color};
use crate::desired;
use crate::render::{self, Format};

/// Arguments of `lint`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Stack files or directories to search (default: the current directory).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
    /// Fail (exit 1) on warnings too.
    #[arg(long)]
    pub strict: bool,
}

/// Run `lint`; returns the exit code.
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
    let color = format_is_human(args.format) && use_color(std::io::stdout().is_terminal());
    let out = render::render(args.format, &set.diagnostics, &set.sources(), color);
    let mut stdout = std::io::stdout().lock();
    if stdout.write_all(out.as_bytes()).is_err() {
        return EXIT_USAGE;
    }
    if args.format != Format::Json {
        eprintln!("{}", render::summary(&set.diagnostics, set.stacks.len()));
    }
    exit_code(set.errors(), set.warnings(), args.strict)
}

fn format_is_human(format: Format) -> bool {
    format == Format::Human
}

/// Exit code for a lint result.
pub fn exit_code(errors: usize, warnings: usize, strict: bool) -> u8 {
    if errors > 0 || (strict && warnings > 0) {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    }
}
