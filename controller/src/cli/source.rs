//! `reconciler source show|set|unset`: the repository the cluster follows, kept in its
//! replicated state so that whichever manager leads follows it without flags.

use std::time::Duration;

use super::api_args::{ApiArgs, block_on, warn_if_stale};
use super::source_args::SourceArgs;
use super::{EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};
use crate::protocol::{Read, SOURCE_PATH};
use crate::source::spec::SourceSpec;

/// Arguments of `source`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub action: Action,
}

/// `show`, `set` or `unset`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Action {
    /// Print the source (credentials by name: values never leave the managers' environment).
    /// Exit 1 when the cluster follows none.
    Show {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Manager and identity.
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Follow this repository (or directory) from now on.
    Set {
        /// The source.
        #[command(flatten)]
        source: Box<SourceArgs>,
        /// How often to poll it (jittered by ±10 %).
        #[arg(long, default_value = "1m", value_parser = parse_interval)]
        interval: Duration,
        /// Manager and identity.
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Stop following any repository (what is applied stays as it is).
    Unset {
        /// Manager and identity.
        #[command(flatten)]
        api: ApiArgs,
    },
}

fn parse_interval(s: &str) -> anyhow::Result<Duration> {
    Ok(crds::units::parse_duration(s)?)
}

/// Run `source`.
pub fn run(args: &Args) -> u8 {
    let result = block_on(async {
        let (api, body) = match &args.action {
            Action::Show { api, .. } => {
                let client = api.client()?;
                return Ok(client.get::<Read<Option<SourceSpec>>>(SOURCE_PATH).await?);
            }
            Action::Set {
                source,
                interval,
                api,
            } => (api, Some(source.spec(*interval)?)),
            Action::Unset { api } => (api, None),
        };
        let client = api.client()?;
        let answer = client
            .call::<Option<SourceSpec>, Read<Option<SourceSpec>>>(
                reqwest::Method::PUT,
                SOURCE_PATH,
                Some(&body),
            )
            .await?;
        answer.ok_or_else(|| anyhow::anyhow!("the manager sent no source"))
    })
    .and_then(|r| r);
    let read = match result {
        Ok(read) => read,
        Err(err) => {
            eprintln!("error: {err}");
            return EXIT_USAGE;
        }
    };
    warn_if_stale(read.possibly_stale, &read.answered_by);
    if let Action::Show { json: true, .. } = &args.action {
        println!(
            "{}",
            serde_json::to_string_pretty(&read.data).unwrap_or_default()
        );
    } else {
        print!("{}", render(read.data.as_ref()));
    }
    match (&args.action, read.data) {
        (Action::Show { .. }, None) => EXIT_FINDINGS,
        _ => EXIT_OK,
    }
}

/// The human view of a source.
pub fn render(source: Option<&SourceSpec>) -> String {
    let Some(source) = source else {
        return format!("Source: {}\n", super::wait::NOT_FOLLOWING);
    };
    let mut out = format!("Source: {}\n", source.describe());
    let mut line = |name: &str, value: String| out.push_str(&format!("  {name:<12} {value}\n"));
    line("interval", super::wait::format_timeout(source.interval()));
    if let SourceSpec::Git(git) = source {
        if let Some(var) = &git.token_env {
            line("token env", var.clone());
        }
        if let Some(file) = &git.token_file {
            line("token file", file.display().to_string());
        }
        if let Some(user) = &git.username {
            line("username", user.clone());
        }
        if let Some(key) = &git.ssh_key {
            line("ssh key", key.display().to_string());
        }
        if let Some(hosts) = &git.known_hosts {
            line("known hosts", hosts.display().to_string());
        }
    }
    out
}
