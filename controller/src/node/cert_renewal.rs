//! The node's end of certificate renewal: two thirds into its certificate's validity
//! ([`crate::pki::renewal`]) the node asks a manager for a new one for its current role, saves
//! it and puts it in force for every later handshake ([`CurrentCert`]) — no restart, no
//! connection dropped. A failed attempt is retried with backoff and a warning that says when the
//! certificate runs out.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crds::node::NodeRole;
use tokio_util::sync::CancellationToken;

use crate::api::session::RENEW_PATH;
use crate::node::layout;
use crate::node::runtime::RenewError;
use crate::pki::{CaCert, CurrentCert, NodeCert, renewal};
use crate::protocol::{ErrorBody, JoinResponse};

/// What the renewal loop needs.
pub struct Renewal {
    /// The certificate in force, replaced on renewal.
    pub current: Arc<CurrentCert>,
    /// The cluster CA, saved beside the new certificate.
    pub ca: CaCert,
    /// The node's data directory (`pki/` is rewritten there).
    pub data_dir: PathBuf,
    /// The node's id and role: a certificate for anything else is not taken.
    pub node_id: String,
    /// The role the node runs as; a role change is the session's business.
    pub role: NodeRole,
    /// Managers to ask, in order.
    pub managers: Vec<String>,
    /// The node's mutual-TLS client.
    pub client: reqwest::Client,
    /// The node's clock.
    pub clock: agent::clock::Clock,
}

/// Renews the certificate whenever it is due, until `stop`.
pub async fn run(renewal: Renewal, stop: CancellationToken) {
    let mut failures = 0u32;
    loop {
        let cert = renewal.current.node();
        let (not_before, not_after) = match cert.valid_between() {
            Ok(window) => window,
            Err(err) => {
                tracing::error!(error = %err, "cannot read the node certificate's validity; it will not be renewed");
                return;
            }
        };
        let now_s = (renewal.clock.now_ms() / 1_000) as i64;
        let due = renewal::renew_at(not_before, not_after);
        let wait = if failures > 0 {
            renewal::retry_after(failures - 1)
        } else {
            // At least a second: a certificate already due (a manager's clock far off) must not
            // turn this into a busy loop.
            Duration::from_secs(due.saturating_sub(now_s).max(1) as u64)
        };
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        match renew_once(&renewal).await {
            Ok(valid_until) => {
                failures = 0;
                tracing::info!(node = %renewal.node_id, valid_until, "renewed the node certificate");
            }
            Err(err) => {
                failures += 1;
                let left_s = not_after - (renewal.clock.now_ms() / 1_000) as i64;
                tracing::warn!(
                    node = %renewal.node_id,
                    error = %err,
                    expires_in_s = left_s,
                    retry_in = ?renewal::retry_after(failures - 1),
                    "renewing the node certificate failed; the node stops reaching the cluster \
                     when it expires"
                );
            }
        }
    }
}

/// One renewal: ask, check, save, put in force. The new certificate's end, in seconds.
async fn renew_once(renewal: &Renewal) -> Result<i64, RenewError> {
    let answer = request_certificate(&renewal.client, &renewal.managers).await?;
    if answer.role != renewal.role {
        return Err(RenewError::WrongRole {
            issued: answer.role,
        });
    }
    let refused = |message: String| RenewError::Refused { message };
    if answer.node_id != renewal.node_id {
        return Err(refused(format!(
            "the cluster issued a certificate for node {}",
            answer.node_id
        )));
    }
    let cert = NodeCert::from_pem(&answer.cert_pem, &answer.key_pem)
        .map_err(|e| refused(format!("the new certificate is unreadable: {e}")))?;
    let (_, not_after) = cert
        .valid_between()
        .map_err(|e| refused(format!("the new certificate is unreadable: {e}")))?;
    layout::save_credentials(&renewal.data_dir, &renewal.ca, &cert)
        .map_err(|e| refused(format!("cannot save the new certificate: {e}")))?;
    renewal
        .current
        .replace(&renewal.ca, &cert)
        .map_err(|e| refused(format!("cannot use the new certificate: {e}")))?;
    Ok(not_after)
}

/// A new certificate for the node's current role from the first manager that issues one.
pub async fn request_certificate(
    client: &reqwest::Client,
    managers: &[String],
) -> Result<JoinResponse, RenewError> {
    let mut last = RenewError::NoManager;
    for manager in managers {
        let sent = client
            .post(format!("https://{manager}{RENEW_PATH}"))
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => {
                return r.json().await.map_err(RenewError::Unreadable);
            }
            Ok(r) => {
                last = match r.json::<ErrorBody>().await {
                    Ok(e) => RenewError::Refused { message: e.error },
                    Err(e) => RenewError::Unreadable(e),
                }
            }
            Err(e) => last = RenewError::Unreachable(e),
        }
    }
    Err(last)
}
