//! `reconciler service ls|ps`, shaped like `docker service ls|ps`: services with their replica
//! counts, and the tasks of a service with their history.
//!
//! Rendering is pure (data and `now_ms` in, text out) so the tables are tested without a cluster.

use std::cmp::Reverse;

use crds::port::{PortConfig, PortMode};
use crds::service::{ServiceMode, UpdateState};
use crds::task::{TaskHealth, TaskState};

use super::api_args::{ApiArgs, Failure, block_on, fetch, print_as, url_pair};
use super::node::Format;
use crate::protocol::{SERVICES_PATH, ServiceView, TASKS_PATH, TaskView};
use crate::views::services;

/// Errors longer than this are cut in the table unless `--no-trunc` (Docker's limit).
const MAX_ERROR_CHARS: usize = 30;
/// Task ids are shown by this prefix unless `--no-trunc` (Docker's short id length).
const SHORT_ID_CHARS: usize = 12;

/// Arguments of `service`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub action: Action,
}

/// `service` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Action {
    /// List services with their replica counts.
    Ls {
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// Manager and identity.
        #[command(flatten)]
        api: ApiArgs,
    },
    /// List the tasks of a service, the current one of each slot first, then its history.
    Ps {
        /// Full name (`<stack>_<service>`) or, when unique, the name within its stack.
        service: String,
        /// Only look in this stack.
        #[arg(long)]
        stack: Option<String>,
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

/// Run `service`: exit 1 when the service does not exist, 2 on other errors.
pub fn run(args: &Args) -> u8 {
    super::api_args::finish(block_on(run_async(&args.action)))
}

async fn run_async(action: &Action) -> Result<(), Failure> {
    match action {
        Action::Ls { format, api } => {
            let services: Vec<ServiceView> = fetch(api, SERVICES_PATH).await?;
            print_as(*format, &services, |s| render_ls(s))
        }
        Action::Ps {
            service,
            stack,
            format,
            no_trunc,
            api,
        } => {
            let tasks: Vec<TaskView> = fetch(api, &tasks_path(service, stack.as_deref())).await?;
            print_as(*format, &tasks, |t| {
                render_ps(t, *no_trunc, agent::clock::Clock::system().now_ms())
            })
        }
    }
}

/// `/v1/tasks?service=…[&stack=…]`, with the names percent-encoded.
fn tasks_path(service: &str, stack: Option<&str>) -> String {
    let mut query = url_pair("service", service);
    if let Some(stack) = stack {
        query = format!("{query}&{}", url_pair("stack", stack));
    }
    format!("{TASKS_PATH}?{query}")
}

/// The `docker service ls` table, by service name. The service name is its id here, so there is
/// no separate ID column.
pub fn render_ls(services: &[ServiceView]) -> String {
    let mut sorted: Vec<&ServiceView> = services.iter().collect();
    sorted.sort_by(|a, b| a.service.spec.name.cmp(&b.service.spec.name));
    let rows: Vec<Vec<String>> = sorted
        .iter()
        .map(|view| {
            let spec = &view.service.spec;
            vec![
                spec.name.clone(),
                match spec.mode {
                    ServiceMode::Replicated { .. } => "replicated",
                    ServiceMode::Global => "global",
                }
                .to_owned(),
                format_replicas(view),
                image_without_digest(&spec.image),
                format_ports(&spec.ports, PortMode::Ingress),
            ]
        })
        .collect();
    super::table::render(&["NAME", "MODE", "REPLICAS", "IMAGE", "PORTS"], &rows)
}

/// `2/3`, with a hint when an update stopped or was undone (the counts alone hide that).
fn format_replicas(view: &ServiceView) -> String {
    let counts = format!("{}/{}", view.replicas.running, view.replicas.desired);
    let hint = match view.service.update.as_ref().map(|u| u.state) {
        Some(UpdateState::Paused) => " (update paused)",
        Some(UpdateState::RollbackPaused) => " (rollback paused)",
        Some(UpdateState::RollbackCompleted) => " (rolled back)",
        _ => "",
    };
    counts + hint
}

/// Docker hides the digest pin in its tables; `--format json` keeps it.
fn image_without_digest(image: &str) -> String {
    image.split('@').next().unwrap_or_default().to_owned()
}

/// `*:8080->80/tcp, *:53->53/udp`: the published ports of one mode, as Docker lists them (the
/// routing-mesh ones for a service, the host ones for a task).
pub fn format_ports(ports: &[PortConfig], mode: PortMode) -> String {
    ports
        .iter()
        .filter(|p| p.mode == mode)
        .filter_map(|p| {
            p.published
                .map(|published| format!("*:{published}->{}/{}", p.target, p.protocol))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `docker service ps` table: per service and slot (or node, for global services) the task
/// that should run first, then the older ones newest first, marked `\_`.
pub fn render_ps(tasks: &[TaskView], no_trunc: bool, now_ms: u64) -> String {
    let mut sorted: Vec<&TaskView> = tasks.iter().collect();
    sorted.sort_by_key(|v| {
        let t = &v.task;
        (
            t.service.as_str(),
            t.slot,
            if t.slot == 0 { t.node.as_deref() } else { None },
            t.desired_state != TaskState::Running,
            Reverse(t.meta.created_at_ms),
            t.meta.id.as_str(),
        )
    });
    let mut rows = Vec::with_capacity(sorted.len());
    let mut previous: Option<String> = None;
    for view in sorted {
        let name = task_name(view);
        let shown = if previous.as_ref() == Some(&name) {
            format!(" \\_ {name}")
        } else {
            name.clone()
        };
        previous = Some(name);
        rows.push(ps_row(view, shown, no_trunc, now_ms));
    }
    super::table::render(
        &[
            "ID",
            "NAME",
            "IMAGE",
            "NODE",
            "DESIRED STATE",
            "CURRENT STATE",
            "ERROR",
            "PORTS",
        ],
        &rows,
    )
}

fn ps_row(view: &TaskView, name: String, no_trunc: bool, now_ms: u64) -> Vec<String> {
    let t = &view.task;
    let id = if no_trunc {
        t.meta.id.clone()
    } else {
        t.meta.id.chars().take(SHORT_ID_CHARS).collect()
    };
    let node = view
        .node_hostname
        .clone()
        .or_else(|| t.node.clone())
        .unwrap_or_default();
    let state = match (t.status.state, t.status.health) {
        (TaskState::Running, Some(health)) => {
            format!("{} ({})", state_name(t.status.state), health_name(health))
        }
        (state, _) => state_name(state),
    };
    let current = if t.status.timestamp_ms == 0 {
        state
    } else {
        format!(
            "{state} {} ago",
            human_duration(now_ms.saturating_sub(t.status.timestamp_ms)).to_lowercase()
        )
    };
    vec![
        id,
        name,
        view.image
            .as_deref()
            .map(image_without_digest)
            .unwrap_or_default(),
        node,
        state_name(t.desired_state),
        current,
        format_error(view, no_trunc),
        format_ports(&view.host_ports, PortMode::Host),
    ]
}

/// `web.1` for a replica, `web.<node id>` for a global service's task (slot 0).
pub fn task_name(view: &TaskView) -> String {
    services::task_name(&view.service_short_name, &view.task)
}

/// The task's error or, while it waits for the scheduler, the scheduler's reason; cut and
/// quoted like Docker does unless `no_trunc`.
fn format_error(view: &TaskView, no_trunc: bool) -> String {
    let status = &view.task.status;
    let text = match (&status.error, status.state) {
        (Some(error), _) => error.as_str(),
        (None, TaskState::Pending) => status.message.as_deref().unwrap_or_default(),
        (None, _) => "",
    };
    if text.is_empty() || no_trunc {
        return text.to_owned();
    }
    if text.chars().count() > MAX_ERROR_CHARS {
        let cut: String = text.chars().take(MAX_ERROR_CHARS - 1).collect();
        format!("\"{cut}…\"")
    } else {
        format!("\"{text}\"")
    }
}

/// `healthy`, `unhealthy`, `health: starting`: the words `docker ps` uses.
pub fn health_name(health: TaskHealth) -> &'static str {
    match health {
        TaskHealth::Starting => "health: starting",
        TaskHealth::Healthy => "healthy",
        TaskHealth::Unhealthy => "unhealthy",
    }
}

/// `Running`, `Shutdown`: the serialised name, capitalised.
pub fn state_name(state: TaskState) -> String {
    let name = serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => name,
    }
}

/// A duration the way Docker words it (go-units `HumanDuration`): `3 minutes`, `About an hour`.
pub fn human_duration(ms: u64) -> String {
    let seconds = ms / 1000;
    let minutes = seconds / 60;
    // Go rounds hours to the nearest one (`d.Hours() + 0.5`).
    let hours = (ms + 1_800_000) / 3_600_000;
    if seconds < 1 {
        "Less than a second".to_owned()
    } else if seconds == 1 {
        "1 second".to_owned()
    } else if seconds < 60 {
        format!("{seconds} seconds")
    } else if minutes == 1 {
        "About a minute".to_owned()
    } else if minutes < 60 {
        format!("{minutes} minutes")
    } else if hours == 1 {
        "About an hour".to_owned()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", ms / 3_600_000 / 24 / 365)
    }
}

#[cfg(test)]
#[path = "service_test.rs"]
mod tests;
