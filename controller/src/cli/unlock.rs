//! `reconciler unlock`: gives a locked manager (autolock) its unlock key after a restart. The
//! key is read from standard input — typed, or piped from a secret store — never from the
//! command line, where other users could read it in the process list.

use std::io::BufRead;
use std::path::PathBuf;

use super::source_args::default_data_dir;
use super::{EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};
use crate::node::unlock::{UNLOCKED, send_key};

/// Arguments of `unlock`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The locked manager's data directory [env: RECONCILER_DATA_DIR; default:
    /// ~/.local/share/reconciler].
    #[arg(long, env = "RECONCILER_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// Run `unlock`: exit 0 unlocked, 1 wrong key, 2 no locked manager or unreadable input.
pub fn run(args: &Args) -> u8 {
    let dir = args.data_dir.clone().unwrap_or_else(default_data_dir);
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        eprint!("Unlock key: ");
    }
    let mut key = String::new();
    if let Err(e) = std::io::stdin().lock().read_line(&mut key) {
        eprintln!("error: cannot read the unlock key from standard input: {e}");
        return EXIT_USAGE;
    }
    if key.trim().is_empty() {
        eprintln!("error: no unlock key on standard input (paste the key autolock printed)");
        return EXIT_USAGE;
    }
    match super::api_args::block_on(send_key(&dir, &key)).and_then(|r| Ok(r?)) {
        Ok(answer) if answer == UNLOCKED => {
            println!("Manager unlocked.");
            EXIT_OK
        }
        Ok(answer) => {
            eprintln!("{answer}");
            EXIT_FINDINGS
        }
        Err(err) => {
            eprintln!("error: {err}");
            EXIT_USAGE
        }
    }
}
