//! `reconciler schema [--dir D] [--check]`: write or verify the published JSON Schemas.

use std::path::PathBuf;

use super::{EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};

/// Arguments of `schema`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory to write the schemas into.
    #[arg(long, default_value = "crds/schemas")]
    pub dir: PathBuf,
    /// Do not write; exit 1 when a file is missing or differs from what would be written.
    #[arg(long)]
    pub check: bool,
}

/// Run `schema`; returns the exit code.
pub fn run(args: &Args) -> u8 {
    if !args.check
        && let Err(e) = std::fs::create_dir_all(&args.dir)
    {
        eprintln!("error: cannot create {}: {e}", args.dir.display());
        return EXIT_USAGE;
    }
    let mut stale = 0;
    for (name, schema) in crds::schema::all() {
        let path = args.dir.join(name);
        let text = crds::schema::render(&schema);
        if args.check {
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                eprintln!(
                    "stale: {} (run `reconciler schema --dir {}`)",
                    path.display(),
                    args.dir.display()
                );
                stale += 1;
            }
        } else if let Err(e) = std::fs::write(&path, text) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return EXIT_USAGE;
        } else {
            println!("wrote {}", path.display());
        }
    }
    if stale > 0 { EXIT_FINDINGS } else { EXIT_OK }
}
