//! How the CLI reaches a manager: which address (`--host`, `RECONCILER_HOST`, or the local
//! node's own endpoint) and which identity (the node certificate in the data directory).

use std::path::Path;
use std::time::Duration;

use crds::node::NodeRole;
pub use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::node::layout::{self, NodeConfig};
use crate::pki::tls;
use crate::protocol::ErrorBody;

/// Why the CLI could not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The data directory holds no cluster membership.
    #[error(
        "{0} is not a cluster node's data directory (no node.json); pass the manager's \
         --data-dir, or set RECONCILER_DATA_DIR"
    )]
    NotMember(String),
    /// The local node is a worker and no `--host` was given.
    #[error(
        "this node ({0}) is a worker; cluster commands run against a manager: use the data \
         directory of a manager"
    )]
    Worker(String),
    /// Identity files.
    #[error(transparent)]
    Layout(#[from] layout::Error),
    /// TLS configuration.
    #[error(transparent)]
    Tls(#[from] tls::Error),
    /// No answer.
    #[error("cannot reach the manager at {addr}: {detail} (is it running?)")]
    Connect {
        /// The address dialled.
        addr: String,
        /// Why.
        detail: String,
    },
    /// The manager answered with an error.
    #[error("{message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The manager's explanation.
        message: String,
    },
}

/// An authenticated connection to one manager.
#[derive(Debug, Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    /// The manager's `host:port`.
    pub addr: String,
}

impl ApiClient {
    /// A client using the identity in `data_dir`, talking to `host` or, without one, to the
    /// node's own endpoint (a manager) .
    pub fn new(data_dir: &Path, host: Option<&str>) -> Result<ApiClient, ClientError> {
        let config = NodeConfig::load(data_dir)?
            .ok_or_else(|| ClientError::NotMember(data_dir.display().to_string()))?;
        let addr = match host {
            Some(host) => host.to_owned(),
            None if config.role == NodeRole::Manager => config.api_addr.clone(),
            None => return Err(ClientError::Worker(config.node_id)),
        };
        let (ca, cert) = layout::load_credentials(data_dir)?;
        let tls = tls::client_config(&ca, &cert)?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls.as_ref().clone())
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(20))
            .no_proxy()
            .build()
            .map_err(|e| ClientError::Connect {
                addr: addr.clone(),
                detail: e.to_string(),
            })?;
        Ok(ApiClient { http, addr })
    }

    /// `GET path`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let answer = self.call::<(), T>(Method::GET, path, None).await?;
        answer.ok_or_else(|| ClientError::Api {
            status: 204,
            message: format!("the manager sent no body for {path}"),
        })
    }

    /// `method path` with an optional JSON body; `None` for `204 No Content`.
    pub async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<Option<T>, ClientError> {
        let connect = |detail: String| ClientError::Connect {
            addr: self.addr.clone(),
            detail,
        };
        let mut request = self
            .http
            .request(method, format!("https://{}{path}", self.addr));
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| connect(crate::node::join::error_chain(&e)))?;
        let status = response.status();
        if status == reqwest::StatusCode::NO_CONTENT {
            return Ok(None);
        }
        if !status.is_success() {
            let message = match response.json::<ErrorBody>().await {
                Ok(body) => body.error,
                Err(_) => format!("the manager answered HTTP {status}"),
            };
            return Err(ClientError::Api {
                status: status.as_u16(),
                message,
            });
        }
        response
            .json()
            .await
            .map(Some)
            .map_err(|e| connect(e.to_string()))
    }
}
