//! The joiner's end: reach a manager with only a token, check it is the token's cluster, and
//! receive a node certificate.

use std::time::Duration;

use crate::pki::tls;
use crate::pki::{CaCert, JoinToken, NodeCert};
use crate::protocol::{ErrorBody, JOIN_PATH, JoinRequest, JoinResponse};

/// How long joining may take end to end.
const JOIN_TIMEOUT: Duration = Duration::from_secs(15);

/// Why a join failed.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// The token is malformed or mistyped.
    #[error("{0}")]
    Token(#[from] crate::pki::token::Error),
    /// The role asked for is not the token's.
    #[error(
        "this is a {token} token but --role {asked} was given; use the {asked} token \
         (`reconciler token show {asked}` on a manager)"
    )]
    RoleMismatch {
        /// The token's role.
        token: &'static str,
        /// The role asked for.
        asked: &'static str,
    },
    /// The server is not a manager of the token's cluster.
    #[error("refusing to join {addr}: {rejection}")]
    Rejected {
        /// The address dialled.
        addr: String,
        /// Why.
        rejection: crate::pki::BootstrapRejection,
    },
    /// The manager could not be reached.
    #[error("cannot reach a manager at {addr}: {detail}")]
    Unreachable {
        /// The address dialled.
        addr: String,
        /// Why.
        detail: String,
    },
    /// The manager refused (wrong or rotated token, …).
    #[error("the manager at {addr} refused the join: {message}")]
    Refused {
        /// The address dialled.
        addr: String,
        /// Its explanation.
        message: String,
    },
    /// What the manager sent back does not hold together (wrong CA, unusable certificate).
    #[error("the manager at {addr} sent unusable credentials: {detail}")]
    BadCredentials {
        /// The address dialled.
        addr: String,
        /// What is wrong.
        detail: String,
    },
    /// TLS could not be configured.
    #[error("{0}")]
    Tls(#[from] tls::Error),
}

/// What a successful join yields.
#[derive(Debug)]
pub struct Joined {
    /// The manager's answer.
    pub response: JoinResponse,
    /// The cluster CA (its fingerprint matched the token's).
    pub ca: CaCert,
    /// This node's certificate and key.
    pub cert: NodeCert,
}

/// Joins through the manager at `addr` (`host:port`) with `request` (whose token is checked
/// here first, so a typo is reported without dialling anyone).
pub async fn join(addr: &str, request: &JoinRequest) -> Result<Joined, JoinError> {
    let token: JoinToken = request.token.trim().parse()?;
    if let Some(asked) = request.role
        && asked != token.role()
    {
        return Err(JoinError::RoleMismatch {
            token: crate::api::join::role_name(token.role()),
            asked: crate::api::join::role_name(asked),
        });
    }
    let config = tls::bootstrap_client_config(&token.ca_fingerprint())?;
    let unreachable = |detail: String| JoinError::Unreachable {
        addr: addr.to_owned(),
        detail,
    };
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(config.as_ref().clone())
        .connect_timeout(Duration::from_secs(5))
        .timeout(JOIN_TIMEOUT)
        .no_proxy()
        .build()
        .map_err(|e| unreachable(e.to_string()))?;
    let response = match client
        .post(format!("https://{addr}{JOIN_PATH}"))
        .json(request)
        .send()
        .await
    {
        Ok(response) => response,
        Err(err) => {
            if let Some(rejection) = tls::bootstrap_rejection(&err) {
                return Err(JoinError::Rejected {
                    addr: addr.to_owned(),
                    rejection: rejection.clone(),
                });
            }
            return Err(unreachable(error_chain(&err)));
        }
    };
    let status = response.status();
    if !status.is_success() {
        let message = match response.json::<ErrorBody>().await {
            Ok(body) => body.error,
            Err(_) => format!("HTTP {status}"),
        };
        return Err(JoinError::Refused {
            addr: addr.to_owned(),
            message,
        });
    }
    let answer: JoinResponse = response
        .json()
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let bad = |detail: String| JoinError::BadCredentials {
        addr: addr.to_owned(),
        detail,
    };
    let ca = CaCert::from_pem(&answer.ca_cert_pem).map_err(|e| bad(e.to_string()))?;
    if ca.fingerprint() != token.ca_fingerprint() {
        return Err(bad(format!(
            "its CA {} is not the token's {}",
            ca.fingerprint(),
            token.ca_fingerprint()
        )));
    }
    let cert =
        NodeCert::from_pem(&answer.cert_pem, &answer.key_pem).map_err(|e| bad(e.to_string()))?;
    if cert.identity().node_id != answer.node_id || cert.identity().role != answer.role {
        return Err(bad("the certificate names another node or role".to_owned()));
    }
    Ok(Joined {
        response: answer,
        ca,
        cert,
    })
}

/// An error with its causes, `a: b: c`, since reqwest hides the interesting part.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}
