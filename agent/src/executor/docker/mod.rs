//! The Docker engine as an [`Executor`], through bollard.
//!
//! [`DockerExecutor::connect`] finds the engine the way the Docker CLI does (`DOCKER_HOST`, else
//! the Unix socket), negotiates the API version (old engines reject clients that are too new)
//! and pings it. Every container it creates carries the node's id in a label, and every list,
//! inspection, event subscription and removal filters on it: several agents can share one
//! engine, as simulated nodes on one machine do, each publishing ports on its own address.
//!
//! Published ports in both `host` and `ingress` mode bind on the node's publish address; there
//! is no routing mesh yet, so an ingress port answers only on nodes that run a task of its
//! service.
//!
//! # Layout
//! - [`container`]: spec → container-create request (pure).
//! - [`status`]: inspections and event messages → the executor's statuses and events (pure).
//! - [`labels`]: names, labels and the node filter.
//! - [`image`] and [`auth`]: local image or pull, with the Docker CLI's registry credentials.
//! - [`resources`]: stack networks and volumes created on demand; external ones checked.
//! - [`error`]: reaching the engine, and its answers classified by HTTP status.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bollard::Docker;
use bollard::models::NetworkConnectRequest;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, EventsOptionsBuilder, ListContainersOptionsBuilder,
    RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use crds::compose::MountKind;
use crds::service::ServiceSpec;
use crds::task::Task;
use futures_util::{Stream, StreamExt, TryStreamExt};

use super::{ContainerState, ContainerStatus, EngineEvent, Error, Executor, Result, StopConfig};
use container::{Attachment, NodeContext, plan_container};
pub use error::EngineError;
use error::{classify, container_call, engine_message, http_status};

pub mod auth;
pub mod container;
pub mod error;
pub mod image;
pub mod labels;
pub mod resources;
pub mod status;

/// Where the engine listens when `DOCKER_HOST` is unset.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";
/// How long the engine gets to answer the version negotiation and the ping.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Containers inspected at once when listing.
const LIST_CONCURRENCY: usize = 16;
/// Container events the worker acts on.
const EVENTS: [&str; 4] = ["die", "oom", "health_status", "destroy"];

/// An executor on a Docker engine, for one node.
#[derive(Debug)]
pub struct DockerExecutor {
    docker: Docker,
    node_id: String,
    publish_ip: Option<IpAddr>,
    resources: resources::Resources,
}

impl DockerExecutor {
    /// Connects to the engine of `DOCKER_HOST` (else the local socket) for node `node_id`, whose
    /// published ports bind on `publish_ip` (all addresses when `None`).
    pub async fn connect(
        node_id: &str,
        publish_ip: Option<IpAddr>,
    ) -> std::result::Result<DockerExecutor, EngineError> {
        let host = std::env::var("DOCKER_HOST").unwrap_or_else(|_| DEFAULT_HOST.to_owned());
        DockerExecutor::connect_to(&host, node_id, publish_ip).await
    }

    /// Connects to the engine at `host` (`unix:///path`, `tcp://host:port`): negotiates the API
    /// version and pings it, within [`CONNECT_TIMEOUT`].
    pub async fn connect_to(
        host: &str,
        node_id: &str,
        publish_ip: Option<IpAddr>,
    ) -> std::result::Result<DockerExecutor, EngineError> {
        let unreachable = |cause: String| EngineError::Unreachable {
            host: host.to_owned(),
            cause,
        };
        let docker = Docker::connect_with_host(host).map_err(|e| match e {
            bollard::errors::Error::UnsupportedURISchemeError { .. } => {
                EngineError::UnsupportedHost {
                    host: host.to_owned(),
                    cause: "unsupported scheme".to_owned(),
                }
            }
            other => unreachable(engine_message(&other)),
        })?;
        let answer = async {
            let docker = docker.negotiate_version().await?;
            docker.ping().await?;
            Ok::<_, bollard::errors::Error>(docker)
        };
        let docker = tokio::time::timeout(CONNECT_TIMEOUT, answer)
            .await
            .map_err(|_| unreachable(format!("no answer within {CONNECT_TIMEOUT:?}")))?
            .map_err(|e| unreachable(engine_message(&e)))?;
        Ok(DockerExecutor {
            docker,
            node_id: node_id.to_owned(),
            publish_ip,
            resources: resources::Resources::default(),
        })
    }

    /// The node whose containers this executor manages.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// The engine client (for callers that need more than the executor's steps).
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// Networks of `spec`, ensured, as attachments by network id.
    async fn ensure_networks(&self, spec: &ServiceSpec) -> Result<Vec<Attachment>> {
        let mut attachments = Vec::with_capacity(spec.networks.len());
        for network in &spec.networks {
            let id = self
                .resources
                .ensure_network(&self.docker, &spec.stack, &network.network)
                .await?;
            attachments.push(Attachment {
                network: id,
                aliases: network.aliases.clone(),
            });
        }
        Ok(attachments)
    }

    /// Named volumes of `spec`, ensured.
    async fn ensure_volumes(&self, spec: &ServiceSpec) -> Result<()> {
        let named = spec
            .mounts
            .iter()
            .filter(|m| m.kind == MountKind::Volume)
            .filter_map(|m| m.source.as_deref());
        for name in named {
            self.resources
                .ensure_volume(&self.docker, &spec.stack, name)
                .await?;
        }
        Ok(())
    }

    /// Creates the container (after removing a created-only one an interrupted earlier prepare
    /// left under the same name), connects its other networks, and returns its id.
    async fn create_container(&self, task: &Task, spec: &ServiceSpec) -> Result<String> {
        let attachments = self.ensure_networks(spec).await?;
        let node = NodeContext {
            node_id: &self.node_id,
            publish_ip: self.publish_ip,
        };
        let plan = plan_container(task, spec, &node, &attachments);
        let options = CreateContainerOptionsBuilder::new()
            .name(&plan.name)
            .build();
        let mut created = self
            .docker
            .create_container(Some(options.clone()), plan.body.clone())
            .await;
        if let Err(e) = &created
            && http_status(e) == Some(409)
        {
            if let Some(running) = self.take_over_name(&plan.name, task).await? {
                return Ok(running);
            }
            created = self.docker.create_container(Some(options), plan.body).await;
        }
        let id = match created {
            Ok(created) => created.id,
            Err(e) if http_status(&e) == Some(404) => {
                // A network or the image vanished since it was ensured: look again next time.
                self.resources.forget_networks().await;
                return Err(Error::Unavailable(engine_message(&e)));
            }
            Err(e) => return Err(classify(&e, |_, m| Error::Rejected(m))),
        };
        for (network, endpoint) in plan.connect {
            let request = NetworkConnectRequest {
                container: id.clone(),
                endpoint_config: Some(endpoint),
            };
            if let Err(e) = self.docker.connect_network(&network, request).await {
                self.resources.forget_networks().await;
                // A half-connected container must not be started by the next attempt.
                let _ = self.remove(&id).await;
                return Err(classify(&e, |_, m| Error::Unavailable(m)));
            }
        }
        Ok(id)
    }

    /// Clears the way for this task's container called `name`: a container of the same task that
    /// never started is removed (it may lack networks); one that started is returned as it is.
    async fn take_over_name(&self, name: &str, task: &Task) -> Result<Option<String>> {
        match self.inspect(name).await? {
            Some(c) if c.task_id == task.meta.id && c.state == ContainerState::Created => {
                self.remove(&c.container_id).await?;
                Ok(None)
            }
            Some(c) if c.task_id == task.meta.id => Ok(Some(c.container_id)),
            _ => Err(Error::Rejected(format!(
                "container name {name} is taken by a container this node does not own"
            ))),
        }
    }
}

impl Executor for DockerExecutor {
    async fn prepare(&self, task: &Task, spec: &ServiceSpec) -> Result<ContainerStatus> {
        if !spec.configs.is_empty() || !spec.secrets.is_empty() {
            tracing::warn!(
                task = %task.meta.id,
                "configs and secrets are not delivered to containers yet; starting without them"
            );
        }
        image::ensure_image(&self.docker, &spec.image).await?;
        self.ensure_volumes(spec).await?;
        let container_id = self.create_container(task, spec).await?;
        Ok(ContainerStatus {
            container_id,
            task_id: task.meta.id.clone(),
            spec_hash: task.spec_hash.clone(),
            state: ContainerState::Created,
            health: None,
            health_output: None,
        })
    }

    async fn start(&self, container_id: &str) -> Result<ContainerStatus> {
        self.docker
            .start_container(container_id, None)
            .await
            .map_err(|e| {
                classify(&e, |status, message| match status {
                    404 => Error::Gone(container_id.to_owned()),
                    _ => Error::Failed(message),
                })
            })?;
        self.inspect(container_id)
            .await?
            .ok_or_else(|| Error::Gone(container_id.to_owned()))
    }

    async fn inspect(&self, container_id: &str) -> Result<Option<ContainerStatus>> {
        match self.docker.inspect_container(container_id, None).await {
            Ok(inspection) => Ok(status::status_of(&inspection, &self.node_id)),
            Err(e) if http_status(&e) == Some(404) => Ok(None),
            Err(e) => Err(classify(&e, container_call(container_id))),
        }
    }

    async fn stop(
        &self,
        container_id: &str,
        config: &StopConfig,
    ) -> Result<Option<ContainerStatus>> {
        // Destructive calls go only to containers whose labels name this node.
        if self.inspect(container_id).await?.is_none() {
            return Ok(None);
        }
        let mut options = StopContainerOptionsBuilder::new();
        if let Some(grace) = config.grace {
            let secs = grace.as_secs() + u64::from(grace.subsec_nanos() > 0);
            options = options.t(i32::try_from(secs).unwrap_or(i32::MAX));
        }
        if let Some(signal) = &config.signal {
            options = options.signal(signal);
        }
        match self
            .docker
            .stop_container(container_id, Some(options.build()))
            .await
        {
            Ok(()) => {}
            Err(e) if http_status(&e) == Some(404) => return Ok(None),
            Err(e) => return Err(classify(&e, container_call(container_id))),
        }
        self.inspect(container_id).await
    }

    async fn remove(&self, container_id: &str) -> Result<()> {
        if self.inspect(container_id).await?.is_none() {
            return Ok(());
        }
        let options = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        match self
            .docker
            .remove_container(container_id, Some(options))
            .await
        {
            Ok(()) => Ok(()),
            // Gone already, or its removal is under way.
            Err(e) if matches!(http_status(&e), Some(404 | 409)) => Ok(()),
            Err(e) => Err(classify(&e, container_call(container_id))),
        }
    }

    async fn list(&self) -> Result<Vec<ContainerStatus>> {
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&labels::node_filter(&self.node_id))
            .build();
        let summaries = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|e| classify(&e, |_, m| Error::Unavailable(m)))?;
        let ids = summaries.into_iter().filter_map(|s| s.id);
        let inspected: Vec<Option<ContainerStatus>> = futures_util::stream::iter(ids)
            .map(|id| async move { self.inspect(&id).await.or_else(gone_is_none) })
            .buffer_unordered(LIST_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(inspected.into_iter().flatten().collect())
    }

    fn events(&self) -> impl Stream<Item = Result<EngineEvent>> + Send {
        let filters = HashMap::from([
            ("type", vec!["container".to_owned()]),
            ("label", vec![format!("{}={}", labels::NODE, self.node_id)]),
            ("event", EVENTS.iter().map(|e| (*e).to_owned()).collect()),
        ]);
        // A second of replay covers the gap between this call and the request reaching the
        // engine; a repeated event only causes one more inspection.
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs().saturating_sub(1))
            .unwrap_or(0);
        let options = EventsOptionsBuilder::new()
            .since(&since.to_string())
            .filters(&filters)
            .build();
        self.docker.events(Some(options)).filter_map(|item| {
            std::future::ready(match item {
                Ok(message) => status::event_of(&message).map(Ok),
                Err(e) => Some(Err(Error::Unavailable(format!(
                    "Docker event stream: {}",
                    engine_message(&e)
                )))),
            })
        })
    }
}

/// A container that disappeared between the listing and its inspection is not listed.
fn gone_is_none(error: Error) -> Result<Option<ContainerStatus>> {
    match error {
        Error::Gone(_) => Ok(None),
        other => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::DockerExecutor;

    #[tokio::test]
    async fn a_missing_socket_is_one_line_naming_it_and_the_fix() {
        let error = DockerExecutor::connect_to("unix:///nonexistent/docker.sock", "n1", None)
            .await
            .expect_err("no engine there");
        assert_eq!(
            error.to_string(),
            "cannot reach the Docker engine at unix:///nonexistent/docker.sock \
             (No such file or directory); start Docker or set DOCKER_HOST"
        );
    }

    #[tokio::test]
    async fn an_unusable_docker_host_says_what_to_set() {
        let error = DockerExecutor::connect_to("ftp://example", "n1", None)
            .await
            .expect_err("not an engine address");
        assert_eq!(
            error.to_string(),
            "cannot use DOCKER_HOST=ftp://example (unsupported scheme); \
             set it to unix:///path/to/docker.sock or tcp://host:port"
        );
    }
}
