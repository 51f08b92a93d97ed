//! Networks and named volumes a task needs, ensured before its container is created.
//!
//! A service spec names networks and volumes by their full names only. Names in the stack's
//! scope (`<stack>_<name>`) belong to the stack: they are created on demand (bridge networks,
//! `local` volumes) and labelled with the stack. Any other name is external (`external: true`,
//! or an explicit `name:`): it must already exist on the node, or the task is rejected with the
//! command that creates it.
//!
//! Several agents may share one engine and create the same network at the same moment. The
//! engine's duplicate-name check is not atomic (seen with Engine 28), and a duplicate is fatal
//! later: the engine resolves a container's networks by name when it starts, and fails with
//! "network … is ambiguous". So a network is looked up by listing, a creator lets concurrent
//! creations land before it looks again, the duplicate with the smallest id wins everywhere, and
//! whoever sees stack-owned duplicates removes the losers (the engine refuses while containers
//! use one, so nothing in use is ever cut off).
//!
//! Lookups run concurrently; only creation is one at a time in this process. The tasks that
//! waited for a creation (a new stack's first deploy: every replica at once) take its settled
//! result instead of listing again one after the other, for [`SETTLED_FOR`] after it.

use std::collections::{HashMap, HashSet};

use bollard::Docker;
use bollard::models::{NetworkCreateRequest, VolumeCreateRequest};
use bollard::query_parameters::ListNetworksOptionsBuilder;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::error::{classify, http_status};
use super::labels;
use crate::executor::{Error, Result};

/// How long a creator waits for concurrent creations of the same network to land.
const CREATION_SETTLE: std::time::Duration = std::time::Duration::from_millis(300);

/// How long the network a creation settled on answers for the tasks that waited for it.
pub const SETTLED_FOR: std::time::Duration = std::time::Duration::from_secs(2);

/// Networks and volumes this executor ensures.
#[derive(Debug, Default)]
pub struct Resources {
    /// One creation at a time in this process; what each recent creation settled on.
    networks: Mutex<HashMap<String, (String, Instant)>>,
    volumes: Mutex<HashSet<String>>,
}

/// Whether `name` is in `stack`'s scope (and so created on demand).
pub fn is_stack_owned(name: &str, stack: &str) -> bool {
    name.strip_prefix(stack)
        .is_some_and(|rest| rest.starts_with('_') && rest.len() > 1)
}

impl Resources {
    /// Forget what recent creations settled on (the engine lost a network): look again.
    pub async fn forget_networks(&self) {
        self.networks.lock().await.clear();
    }

    /// The id of network `name`, created first when the stack owns it and it is missing.
    pub async fn ensure_network(&self, docker: &Docker, stack: &str, name: &str) -> Result<String> {
        let owned = is_stack_owned(name, stack);
        let found = find_networks(docker, name).await?;
        let id = match found.first() {
            Some(_) if owned => settle(docker, name, found).await,
            Some(id) => Some(id.clone()),
            None if owned => self.create_once(docker, stack, name).await?,
            None => None,
        };
        id.ok_or_else(|| {
            Error::Rejected(format!(
                "network {name} is external but does not exist on this node; \
                 create it with docker network create {name}"
            ))
        })
    }

    /// Create stack network `name` unless another task of this process just did: one creation
    /// at a time here; other agents on the engine are handled by the winner rule.
    async fn create_once(
        &self,
        docker: &Docker,
        stack: &str,
        name: &str,
    ) -> Result<Option<String>> {
        let mut settled = self.networks.lock().await;
        settled.retain(|_, (_, at)| at.elapsed() < SETTLED_FOR);
        if let Some((id, _)) = settled.get(name) {
            return Ok(Some(id.clone()));
        }
        let found = find_networks(docker, name).await?;
        let id = match found.first() {
            Some(_) => settle(docker, name, found).await,
            None => create_network(docker, stack, name).await?,
        };
        if let Some(id) = &id {
            settled.insert(name.to_owned(), (id.clone(), Instant::now()));
        }
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

/// Ids of the networks called exactly `name`, smallest first.
async fn find_networks(docker: &Docker, name: &str) -> Result<Vec<String>> {
    let filters = HashMap::from([("name", vec![name])]);
    let options = ListNetworksOptionsBuilder::new().filters(&filters).build();
    let networks = docker
        .list_networks(Some(options))
        .await
        .map_err(|e| classify(&e, |_, m| Error::Unavailable(m)))?;
    // The engine's name filter matches substrings.
    let mut ids: Vec<String> = networks
        .into_iter()
        .filter(|n| n.name.as_deref() == Some(name))
        .filter_map(|n| n.id)
        .collect();
    ids.sort();
    Ok(ids)
}

/// The winner among `ids` (smallest first); the other copies are removed where the engine
/// allows it (one in use stays, and its containers fail to start until it is gone).
async fn settle(docker: &Docker, name: &str, ids: Vec<String>) -> Option<String> {
    let mut ids = ids.into_iter();
    let winner = ids.next()?;
    for loser in ids {
        tracing::info!(network = name, %winner, %loser, "removing a duplicate stack network");
        if let Err(e) = docker.remove_network(&loser).await {
            tracing::debug!(network = name, error = %e, "cannot remove a duplicate network yet");
        }
    }
    Some(winner)
}

/// Creates stack network `name` and returns the id every agent agrees on.
async fn create_network(docker: &Docker, stack: &str, name: &str) -> Result<Option<String>> {
    let request = NetworkCreateRequest {
        name: name.to_owned(),
        driver: Some("bridge".to_owned()),
        attachable: Some(true),
        labels: Some(labels::stack_labels(stack)),
        ..NetworkCreateRequest::default()
    };
    match docker.create_network(request).await {
        Ok(_) => {}
        // Another agent created it first.
        Err(e) if http_status(&e) == Some(409) => {}
        Err(e) => {
            return Err(classify(&e, |_, m| {
                Error::Rejected(format!("cannot create network {name}: {m}"))
            }));
        }
    }
    // Let other agents' concurrent creations land, then agree on one.
    tokio::time::sleep(CREATION_SETTLE).await;
    let found = find_networks(docker, name).await?;
    if found.is_empty() {
        return Err(Error::Unavailable(format!(
            "network {name} vanished right after creation"
        )));
    }
    Ok(settle(docker, name, found).await)
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
