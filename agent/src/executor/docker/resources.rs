//! Networks and named volumes a task needs, ensured before its container is created.
//!
//! A service spec names networks and volumes by their full names only. Names in the stack's
//! scope (`<stack>_<name>`) belong to the stack: they are created on demand (bridge networks,
//! `local` volumes) and labelled with the stack. Any other name is external (`external: true`,
//! or an explicit `name:`): it must already exist on the node, or the task is rejected with the
//! command that creates it.
//!
//! Several agents may share one engine and create the same network at the same moment. Newer
//! engines refuse a duplicate name (409: it exists, fine); engines before API 1.44 create a
//! second network with the same name. So a network is always looked up by listing, the
//! duplicate with the smallest id wins everywhere, a creator that lost removes its own copy, and
//! containers join networks by id.

use std::collections::{HashMap, HashSet};

use bollard::Docker;
use bollard::models::{NetworkCreateRequest, VolumeCreateRequest};
use bollard::query_parameters::ListNetworksOptionsBuilder;
use tokio::sync::Mutex;

use super::error::{classify, http_status};
use super::labels;
use crate::executor::{Error, Result};

/// Networks and volumes this executor has already ensured (name → network id).
#[derive(Debug, Default)]
pub struct Resources {
    networks: Mutex<HashMap<String, String>>,
    volumes: Mutex<HashSet<String>>,
}

/// Whether `name` is in `stack`'s scope (and so created on demand).
pub fn is_stack_owned(name: &str, stack: &str) -> bool {
    name.strip_prefix(stack)
        .is_some_and(|rest| rest.starts_with('_') && rest.len() > 1)
}

impl Resources {
    /// Forgets a network (after the engine said it does not exist any more).
    pub async fn forget_networks(&self) {
        self.networks.lock().await.clear();
    }

    /// The id of network `name`, created first when the stack owns it and it is missing.
    pub async fn ensure_network(&self, docker: &Docker, stack: &str, name: &str) -> Result<String> {
        // One creation at a time in this process; other agents are handled by the winner rule.
        let mut known = self.networks.lock().await;
        if let Some(id) = known.get(name) {
            return Ok(id.clone());
        }
        let id = match find_network(docker, name).await? {
            Some(id) => id,
            None if is_stack_owned(name, stack) => create_network(docker, stack, name).await?,
            None => {
                return Err(Error::Rejected(format!(
                    "network {name} is external but does not exist on this node; \
                     create it with docker network create {name}"
                )));
            }
        };
        known.insert(name.to_owned(), id.clone());
        Ok(id)
    }

    /// Makes sure named volume `name` exists (created when the stack owns it).
    pub async fn ensure_volume(&self, docker: &Docker, stack: &str, name: &str) -> Result<()> {
        let mut known = self.volumes.lock().await;
        if known.contains(name) {
            return Ok(());
        }
        if is_stack_owned(name, stack) {
            let request = VolumeCreateRequest {
                name: Some(name.to_owned()),
                labels: Some(labels::stack_labels(stack)),
                ..VolumeCreateRequest::default()
            };
            // Creating an existing local volume returns it: the call is idempotent.
            docker
                .create_volume(request)
                .await
                .map_err(|e| classify(&e, |_, m| Error::Rejected(format!("volume {name}: {m}"))))?;
        } else {
            match docker.inspect_volume(name).await {
                Ok(_) => {}
                Err(e) if http_status(&e) == Some(404) => {
                    return Err(Error::Rejected(format!(
                        "volume {name} is external but does not exist on this node; \
                         create it with docker volume create {name}"
                    )));
                }
                Err(e) => return Err(classify(&e, |_, m| Error::Unavailable(m))),
            }
        }
        known.insert(name.to_owned());
        Ok(())
    }
}

/// The id of the network called exactly `name` (the smallest id among duplicates).
async fn find_network(docker: &Docker, name: &str) -> Result<Option<String>> {
    let filters = HashMap::from([("name", vec![name])]);
    let options = ListNetworksOptionsBuilder::new().filters(&filters).build();
    let networks = docker
        .list_networks(Some(options))
        .await
        .map_err(|e| classify(&e, |_, m| Error::Unavailable(m)))?;
    // The engine's name filter matches substrings.
    Ok(networks
        .into_iter()
        .filter(|n| n.name.as_deref() == Some(name))
        .filter_map(|n| n.id)
        .min())
}

/// Creates stack network `name` and returns the id every agent agrees on.
async fn create_network(docker: &Docker, stack: &str, name: &str) -> Result<String> {
    let request = NetworkCreateRequest {
        name: name.to_owned(),
        driver: Some("bridge".to_owned()),
        attachable: Some(true),
        labels: Some(labels::stack_labels(stack)),
        ..NetworkCreateRequest::default()
    };
    let created = match docker.create_network(request).await {
        Ok(response) => Some(response.id),
        // Another agent created it first.
        Err(e) if http_status(&e) == Some(409) => None,
        Err(e) => {
            return Err(classify(&e, |_, m| {
                Error::Rejected(format!("cannot create network {name}: {m}"))
            }));
        }
    };
    let winner = find_network(docker, name).await?;
    if let (Some(mine), Some(winner)) = (&created, &winner)
        && mine != winner
    {
        tracing::debug!(
            network = name,
            "another agent created it too; removing ours"
        );
        if let Err(e) = docker.remove_network(mine).await {
            tracing::debug!(network = name, error = %e, "cannot remove duplicate network");
        }
    }
    winner
        .or(created)
        .ok_or_else(|| Error::Unavailable(format!("network {name} vanished right after creation")))
}

#[cfg(test)]
mod tests {
    use super::is_stack_owned;

    #[test]
    fn stack_scope_is_the_stack_name_and_an_underscore() {
        assert!(is_stack_owned("shop_default", "shop"));
        assert!(is_stack_owned("shop_back_end", "shop"));
        assert!(!is_stack_owned("shop_", "shop"));
        assert!(!is_stack_owned("shopping_default", "shop"));
        assert!(!is_stack_owned("backend", "shop"));
        assert!(!is_stack_owned("shop", "shop"));
    }
}
