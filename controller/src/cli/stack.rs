//! `reconciler stack ls|services|ps`, shaped like `docker stack ls|services|ps`: stacks with
//! their sync state and revision, the services of one stack, and the tasks of one stack.
//!
//! Tables of services and tasks are `service ls|ps`'s own renderers; what is new here is the
//! stack table, rendered purely from the manager's [`StackView`]s.

use super::api_args::{ApiArgs, Failure, block_on, fetch, print_as, url_pair};
use super::node::Format;
use super::service::{render_ls, render_ps};
use crate::protocol::{
    SERVICES_PATH, SOURCE_PATH, STACKS_PATH, ServiceView, StackView, SyncState, TASKS_PATH,
    TaskView,
};
use crate::source::spec::SourceSpec;

/// Revisions are shown by this prefix (Git's short commit id).
pub const SHORT_REVISION_CHARS: usize = 7;

/// Arguments of `stack`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub action: Action,
}

/// `stack` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Action {
    /// List stacks with their services, sync state and revision.
    Ls {
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// Manager and identity.
        #[command(flatten)]
        api: ApiArgs,
    },
    /// List the services of a stack with their replica counts.
    Services {
        /// The stack's name.
        stack: String,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// Manager and identity.
        #[command(flatten)]
        api: ApiArgs,
    },
    /// List the tasks of a stack, the current one of each slot first, then its history.
    Ps {
        /// The stack's name.
        stack: String,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// Show full task ids and errors.
        #[arg(long)]
        no_trunc: bool,
        /// Manager and identity.
        #[command(flatten)]
        api: ApiArgs,
    },
}

/// Run `stack`: exit 1 when the stack does not exist, 2 on other errors.
pub fn run(args: &Args) -> u8 {
    super::api_args::finish(block_on(run_async(&args.action)))
}

async fn run_async(action: &Action) -> Result<(), Failure> {
    match action {
        Action::Ls { format, api } => {
            let stacks: Vec<StackView> = fetch(api, STACKS_PATH).await?;
            print_as(*format, &stacks, |s| render_stacks(s))?;
            // Synced stacks of a cluster that follows nothing are synced to nothing.
            let source: Option<SourceSpec> = fetch(api, SOURCE_PATH).await?;
            match source {
                Some(_) => Ok(()),
                None => Err(Failure::Unsynced(super::wait::NOT_FOLLOWING.to_owned())),
            }
        }
        Action::Services { stack, format, api } => {
            let path = format!("{SERVICES_PATH}?{}", url_pair("stack", stack));
            let services: Vec<ServiceView> = fetch(api, &path).await?;
            print_as(*format, &services, |s| render_ls(s))
        }
        Action::Ps {
            stack,
            format,
            no_trunc,
            api,
        } => {
            let path = format!("{TASKS_PATH}?{}", url_pair("stack", stack));
            let tasks: Vec<TaskView> = fetch(api, &path).await?;
            print_as(*format, &tasks, |t| {
                render_ps(t, *no_trunc, agent::clock::Clock::system().now_ms())
            })
        }
    }
}

/// The `stack ls` table: NAME, SERVICES, SYNC, REVISION, by name.
pub fn render_stacks(stacks: &[StackView]) -> String {
    let mut sorted: Vec<&StackView> = stacks.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let rows: Vec<Vec<String>> = sorted
        .iter()
        .map(|stack| {
            vec![
                stack.name.clone(),
                stack.services.len().to_string(),
                format_sync(stack),
                stack
                    .revision
                    .as_deref()
                    .map(short_revision)
                    .unwrap_or_default(),
            ]
        })
        .collect();
    super::table::render(&["NAME", "SERVICES", "SYNC", "REVISION"], &rows)
}

/// `synced`, `progressing`, `degraded`, followed by the newer revision that was rejected while
/// this one stays in force.
pub fn format_sync(stack: &StackView) -> String {
    let state = sync_name(stack.sync);
    match &stack.rejected {
        Some(rejected) => format!("{state} (newer {} rejected)", short_revision(rejected)),
        None => state.to_owned(),
    }
}

/// The state's word.
pub fn sync_name(sync: SyncState) -> &'static str {
    match sync {
        SyncState::Synced => "synced",
        SyncState::Progressing => "progressing",
        SyncState::Degraded => "degraded",
    }
}

/// `1a2b3c4`: a revision by its short prefix.
pub fn short_revision(id: &str) -> String {
    id.chars().take(SHORT_REVISION_CHARS).collect()
}

/// One line per service that has not converged: `shop_web: degraded: web.3 pending: …`.
pub fn render_reasons(stacks: &[StackView]) -> String {
    let mut out = String::new();
    for service in stacks.iter().flat_map(|s| &s.services) {
        for reason in &service.reasons {
            let state = serde_json::to_value(service.convergence)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            out.push_str(&format!("  {}: {state}: {reason}\n", service.name));
        }
    }
    out
}

#[cfg(test)]
#[path = "stack_test.rs"]
mod tests;
