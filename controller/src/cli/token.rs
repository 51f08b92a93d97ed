//! `reconciler token show|rotate worker|manager`: the join tokens.

use anyhow::Context;

use super::api_args::{ApiArgs, block_on, warn_if_stale};
use super::{EXIT_OK, EXIT_USAGE};
use crate::protocol::{Read, TOKENS_PATH, TokenView};

/// Arguments of `token`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub action: Action,
}

/// `show` or `rotate`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Action {
    /// Print the current token and the command that joins with it.
    Show(TokenArgs),
    /// Replace the token; the old one stops working at once (joined nodes are unaffected).
    Rotate(TokenArgs),
}

/// Which token.
#[derive(Debug, Clone, clap::Args)]
pub struct TokenArgs {
    /// `worker` or `manager`.
    #[arg(value_parser = ["worker", "manager"])]
    pub role: String,
    /// Print only the token.
    #[arg(long, short)]
    pub quiet: bool,
    /// Manager and identity.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Run `token`.
pub fn run(args: &Args) -> u8 {
    let (args, rotate) = match &args.action {
        Action::Show(a) => (a, false),
        Action::Rotate(a) => (a, true),
    };
    let result = block_on(async {
        let client = args.api.client()?;
        let path = format!("{TOKENS_PATH}/{}", args.role);
        let read: Read<TokenView> = if rotate {
            client
                .call::<(), Read<TokenView>>(reqwest::Method::POST, &format!("{path}/rotate"), None)
                .await?
                .context("the manager sent no token")?
        } else {
            client.get(&path).await?
        };
        Ok::<_, anyhow::Error>(read)
    })
    .and_then(|r| r);
    match result {
        Ok(read) => {
            warn_if_stale(read.possibly_stale, &read.answered_by);
            let view = read.data;
            if args.quiet {
                println!("{}", view.token);
            } else {
                if rotate {
                    println!("Rotated the {} join token.\n", args.role);
                }
                println!(
                    "To add a {} to this cluster, run on it:\n\n    reconciler join {} --token {}\n",
                    args.role, view.manager, view.token
                );
            }
            EXIT_OK
        }
        Err(err) => {
            eprintln!("error: {err}");
            EXIT_USAGE
        }
    }
}
