//! `reconciler node ls|inspect|update|promote|demote|rm`, shaped like `docker node`.

use std::collections::BTreeMap;

use anyhow::{Context, anyhow, bail};
use crds::node::{Availability, NodeRole, NodeState};
use reqwest::Method;

use super::api_args::{ApiArgs, block_on, warn_if_stale};
use super::{EXIT_OK, EXIT_USAGE};
use crate::node::layout::NodeConfig;
use crate::protocol::{ManagerStatus, NODES_PATH, NodeView, Read};
use crate::raft::command::NodeUpdate;

/// Arguments of `node`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub action: Action,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns.
    Table,
    /// JSON.
    Json,
}

/// `node` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Action {
    /// List nodes.
    Ls {
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// Manager and identity.
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Show nodes in full (JSON).
    Inspect {
        /// Node ids, id prefixes or hostnames.
        #[arg(required = true)]
        nodes: Vec<String>,
        /// Manager and identity.
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Change a node's availability, labels or role.
    Update {
        /// Node id, id prefix or hostname.
        node: String,
        /// active, pause (no new tasks) or drain (tasks move away).
        #[arg(long, value_parser = parse_availability)]
        availability: Option<Availability>,
        /// Add or replace a label (`key=value`), repeatable.
        #[arg(long = "label-add", value_name = "KEY=VALUE", value_parser = parse_label)]
        label_add: Vec<(String, String)>,
        /// Remove a label, repeatable.
        #[arg(long = "label-rm", value_name = "KEY")]
        label_rm: Vec<String>,
        /// manager or worker.
        #[arg(long, value_parser = parse_role)]
        role: Option<NodeRole>,
        /// Output format of the updated node.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// Manager and identity.
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Make nodes managers.
    Promote {
        /// Node ids, id prefixes or hostnames.
        #[arg(required = true)]
        nodes: Vec<String>,
        /// Manager and identity.
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Make managers workers.
    Demote {
        /// Node ids, id prefixes or hostnames.
        #[arg(required = true)]
        nodes: Vec<String>,
        /// Manager and identity.
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Remove nodes from the cluster.
    Rm {
        /// Node ids, id prefixes or hostnames.
        #[arg(required = true)]
        nodes: Vec<String>,
        /// Remove a node that is still up.
        #[arg(long, short)]
        force: bool,
        /// Manager and identity.
        #[command(flatten)]
        api: ApiArgs,
    },
}

fn parse_availability(s: &str) -> anyhow::Result<Availability> {
    match s {
        "active" => Ok(Availability::Active),
        "pause" => Ok(Availability::Pause),
        "drain" => Ok(Availability::Drain),
        other => bail!("{other:?} is not active, pause or drain"),
    }
}

/// Parses `manager` or `worker` (`--role` of `node update` and `join`).
pub fn parse_role(s: &str) -> anyhow::Result<NodeRole> {
    match s {
        "manager" => Ok(NodeRole::Manager),
        "worker" => Ok(NodeRole::Worker),
        other => bail!("{other:?} is not manager or worker"),
    }
}

/// Parses `key=value` (the value may be empty; the key may not).
pub fn parse_label(s: &str) -> anyhow::Result<(String, String)> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err(anyhow!("{s:?} is not key=value")),
    }
}

/// Run `node`.
pub fn run(args: &Args) -> u8 {
    match block_on(run_async(&args.action)).and_then(|r| r) {
        Ok(()) => EXIT_OK,
        Err(err) => {
            eprintln!("error: {err}");
            EXIT_USAGE
        }
    }
}

async fn run_async(action: &Action) -> anyhow::Result<()> {
    match action {
        Action::Ls { format, api } => {
            let client = api.client()?;
            let read: Read<Vec<NodeView>> = client.get(NODES_PATH).await?;
            warn_if_stale(read.possibly_stale, &read.answered_by);
            match format {
                Format::Json => println!("{}", to_json(&read.data)?),
                Format::Table => {
                    let me = NodeConfig::load(&api.dir())
                        .ok()
                        .flatten()
                        .map(|c| c.node_id);
                    print!("{}", render_table(&read.data, me.as_deref()));
                }
            }
            Ok(())
        }
        Action::Inspect { nodes, api } => {
            let client = api.client()?;
            let mut found = Vec::new();
            for node in nodes {
                let read: Read<NodeView> = client.get(&format!("{NODES_PATH}/{node}")).await?;
                warn_if_stale(read.possibly_stale, &read.answered_by);
                found.push(read.data);
            }
            println!("{}", to_json(&found)?);
            Ok(())
        }
        Action::Update {
            node,
            availability,
            label_add,
            label_rm,
            role,
            format,
            api,
        } => {
            let update = NodeUpdate {
                availability: *availability,
                role: *role,
                labels_add: label_add.iter().cloned().collect::<BTreeMap<_, _>>(),
                labels_rm: label_rm.clone(),
            };
            if update.is_empty() {
                bail!("nothing to update: give --availability, --label-add, --label-rm or --role");
            }
            let client = api.client()?;
            let answer = patch(&client, node, &update).await?;
            match format {
                Format::Json => println!("{}", to_json(&answer.0)?),
                Format::Table => {
                    let me = NodeConfig::load(&api.dir())
                        .ok()
                        .flatten()
                        .map(|c| c.node_id);
                    print!(
                        "{}",
                        render_table(std::slice::from_ref(&answer.0), me.as_deref())
                    );
                }
            }
            Ok(())
        }
        Action::Promote { nodes, api } | Action::Demote { nodes, api } => {
            let role = if matches!(action, Action::Promote { .. }) {
                NodeRole::Manager
            } else {
                NodeRole::Worker
            };
            let client = api.client()?;
            for node in nodes {
                let update = NodeUpdate {
                    role: Some(role),
                    ..NodeUpdate::default()
                };
                let (view, _) = patch(&client, node, &update).await?;
                let verb = if role == NodeRole::Manager {
                    "promoted to a manager"
                } else {
                    "demoted to a worker"
                };
                println!("Node {} {verb}.", view.node.meta.id);
            }
            Ok(())
        }
        Action::Rm { nodes, force, api } => {
            let client = api.client()?;
            for node in nodes {
                client
                    .call::<(), serde_json::Value>(
                        Method::DELETE,
                        &format!("{NODES_PATH}/{node}?force={force}"),
                        None,
                    )
                    .await?;
                println!("{node}");
            }
            Ok(())
        }
    }
}

/// PATCH a node; prints the manager's warnings to stderr.
async fn patch(
    client: &crate::cli::client::ApiClient,
    node: &str,
    update: &NodeUpdate,
) -> anyhow::Result<(NodeView, Vec<String>)> {
    #[derive(serde::Deserialize)]
    struct Answer {
        node: NodeView,
        #[serde(default)]
        warnings: Vec<String>,
    }
    let answer: Answer = client
        .call(Method::PATCH, &format!("{NODES_PATH}/{node}"), Some(update))
        .await?
        .context("the manager sent no node")?;
    for warning in &answer.warnings {
        eprintln!("warning: {warning}");
    }
    Ok((answer.node, answer.warnings))
}

fn to_json<T: serde::Serialize>(value: &T) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(value)?)
}

/// The `docker node ls` table; `me` (the local node) is marked with `*` after its id.
pub fn render_table(nodes: &[NodeView], me: Option<&str>) -> String {
    let header = [
        "ID",
        "HOSTNAME",
        "STATUS",
        "AVAILABILITY",
        "MANAGER STATUS",
        "ENGINE VERSION",
    ];
    let mut sorted: Vec<&NodeView> = nodes.iter().collect();
    sorted.sort_by(|a, b| {
        (&a.node.description.hostname, &a.node.meta.id)
            .cmp(&(&b.node.description.hostname, &b.node.meta.id))
    });
    let rows: Vec<Vec<String>> = sorted
        .iter()
        .map(|v| {
            let n = &v.node;
            let id = if Some(n.meta.id.as_str()) == me {
                format!("{} *", n.meta.id)
            } else {
                n.meta.id.clone()
            };
            vec![
                id,
                n.description.hostname.clone(),
                match n.status.state {
                    NodeState::Ready => "Ready",
                    NodeState::Down => "Down",
                    NodeState::Unknown => "Unknown",
                }
                .to_owned(),
                match n.spec.availability {
                    Availability::Active => "Active",
                    Availability::Pause => "Pause",
                    Availability::Drain => "Drain",
                }
                .to_owned(),
                match v.manager_status {
                    Some(ManagerStatus::Leader) => "Leader",
                    Some(ManagerStatus::Reachable) => "Reachable",
                    Some(ManagerStatus::Unreachable) => "Unreachable",
                    None => "",
                }
                .to_owned(),
                n.description.engine_version.clone().unwrap_or_default(),
            ]
        })
        .collect();
    super::table::render(&header, &rows)
}

#[cfg(test)]
#[path = "node_test.rs"]
mod tests;
