//! Verifying push webhooks from GitHub, GitLab, Gitea/Forgejo and generic senders.
//!
//! A `git push` to the repository of compose files should not wait for the next poll: the forge
//! calls `POST /v1/webhook`, [`verify`] authenticates the request against the provider's shared
//! secret, and the endpoint asks the source loop for an immediate fetch by sending a [`Trigger`].
//!
//! # Trust
//! The body is only parsed after its signature (or GitLab token) has been checked, so an
//! unauthenticated caller learns nothing beyond "rejected" and cannot make us parse arbitrary
//! JSON. Signatures and tokens are compared in constant time. Logs record the provider, the
//! remote address (when the server is started with
//! `into_make_service_with_connect_info::<SocketAddr>()`), the reason and the body length, never
//! the payload, the signature or a secret.
//!
//! # Coalescing
//! The trigger channel is meant to be small (capacity 1 is enough): when it is full a fetch is
//! already pending and will see the newest commit anyway, so further pushes are acknowledged
//! without queueing more work.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::mpsc::{Sender, error::TrySendError};

/// Largest webhook body accepted; forges send far less for a push, even with many commits.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Path of the endpoint served by [`router`].
const PATH: &str = "/v1/webhook";

const GITHUB_EVENT: &str = "x-github-event";
const GITHUB_SIGNATURE: &str = "x-hub-signature-256";
const GITLAB_EVENT: &str = "x-gitlab-event";
const GITLAB_TOKEN: &str = "x-gitlab-token";
const GITEA_EVENTS: [&str; 2] = ["x-gitea-event", "x-forgejo-event"];
const GITEA_SIGNATURES: [&str; 2] = ["x-gitea-signature", "x-forgejo-signature"];
const GENERIC_SIGNATURE: &str = "x-reconciler-signature-256";

/// Prefix of the hex HMAC in the GitHub and generic signature headers.
const SHA256_PREFIX: &str = "sha256=";

type HmacSha256 = Hmac<Sha256>;

pub use crate::secret::Secret;

/// The webhook secret of each provider; a provider without one is refused.
#[derive(Debug, Default, Clone)]
pub struct Secrets {
    /// Secret of GitHub webhooks (`X-Hub-Signature-256`).
    pub github: Option<Secret>,
    /// Secret token of GitLab webhooks (`X-Gitlab-Token`).
    pub gitlab: Option<Secret>,
    /// Secret of Gitea and Forgejo webhooks (`X-Gitea-Signature` / `X-Forgejo-Signature`).
    pub gitea: Option<Secret>,
    /// Secret of generic senders (`X-Reconciler-Signature-256`).
    pub generic: Option<Secret>,
}

impl Secrets {
    /// The usable secret of `provider`.
    fn get(&self, provider: Provider) -> Option<&Secret> {
        let secret = match provider {
            Provider::GitHub => &self.github,
            Provider::GitLab => &self.gitlab,
            Provider::Gitea => &self.gitea,
            Provider::Generic => &self.generic,
        };
        // An empty key makes every signature forgeable, so it counts as not configured.
        secret.as_ref().filter(|secret| !secret.expose().is_empty())
    }
}

/// Who sent a webhook, as told by its headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// GitHub (`X-GitHub-Event`).
    GitHub,
    /// GitLab (`X-Gitlab-Event`).
    GitLab,
    /// Gitea or Forgejo (`X-Gitea-Event` / `X-Forgejo-Event`).
    Gitea,
    /// Any other sender signing with `X-Reconciler-Signature-256`.
    Generic,
}

impl Provider {
    /// Lower-case name used in logs and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GitHub => "github",
            Self::GitLab => "gitlab",
            Self::Gitea => "gitea",
            Self::Generic => "generic",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An authenticated push (or GitHub ping).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushEvent {
    /// Who sent it.
    pub provider: Provider,
    /// The updated ref, e.g. `refs/heads/main`, when the payload names one.
    pub reference: Option<String>,
    /// The new head SHA, when known; `None` for a deleted ref.
    pub after: Option<String>,
    /// A GitHub `ping` sent when the webhook is created: nothing to fetch.
    pub ping: bool,
}

/// Why a webhook request does not trigger a fetch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// No signature or token header we know of, or a known provider's header is missing.
    #[error("the request is not signed")]
    Unsigned {
        /// The provider named by the event header, if any.
        provider: Option<Provider>,
    },
    /// The provider is recognised but no webhook secret is configured for it.
    #[error("the {provider} webhook secret is not configured")]
    NotConfigured {
        /// The provider.
        provider: Provider,
    },
    /// The signature header is not hex of the right length with the expected prefix.
    #[error("the {header} header is malformed")]
    MalformedSignature {
        /// The provider.
        provider: Provider,
        /// The header's name (never its value).
        header: &'static str,
    },
    /// The signature does not match the body, or the GitLab token does not match.
    #[error("the {provider} signature or token does not match")]
    BadSignature {
        /// The provider.
        provider: Provider,
    },
    /// Authentic, but not a push to the followed branch.
    #[error("{reason}")]
    Ignored {
        /// The provider.
        provider: Provider,
        /// What was ignored and why.
        reason: String,
    },
    /// The signed body is not a JSON push payload.
    #[error(
        "the body is not a JSON push payload ({category} error at line {line} column {column})"
    )]
    MalformedBody {
        /// The provider.
        provider: Provider,
        /// serde_json's error category; its message is not kept because it can quote the body.
        category: &'static str,
        /// Line of the error.
        line: usize,
        /// Column of the error.
        column: usize,
    },
    /// The body exceeds [`MAX_BODY_BYTES`].
    #[error("the body is larger than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body could not be read from the connection.
    #[error("the body could not be read")]
    UnreadableBody,
    /// Nothing receives triggers any more, e.g. during shutdown.
    #[error("the trigger channel is closed")]
    Unavailable,
}

impl Rejection {
    /// The HTTP status answered for this rejection.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unsigned { .. }
            | Self::NotConfigured { .. }
            | Self::MalformedSignature { .. }
            | Self::BadSignature { .. } => StatusCode::UNAUTHORIZED,
            Self::Ignored { .. } => StatusCode::ACCEPTED,
            Self::MalformedBody { .. } | Self::UnreadableBody => StatusCode::BAD_REQUEST,
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The provider, when the headers named one.
    pub fn provider(&self) -> Option<Provider> {
        match self {
            Self::Unsigned { provider } => *provider,
            Self::NotConfigured { provider }
            | Self::MalformedSignature { provider, .. }
            | Self::BadSignature { provider }
            | Self::Ignored { provider, .. }
            | Self::MalformedBody { provider, .. } => Some(*provider),
            Self::TooLarge { .. } | Self::UnreadableBody | Self::Unavailable => None,
        }
    }

    /// The short reason told to the caller.
    ///
    /// A missing secret reads like a bad signature so that unauthenticated callers cannot probe
    /// which providers are configured; the log carries the full message for the operator.
    pub fn public_reason(&self) -> &str {
        match self {
            Self::Unsigned { .. } => "request is not signed",
            Self::NotConfigured { .. } | Self::BadSignature { .. } => "signature rejected",
            Self::MalformedSignature { .. } => "malformed signature header",
            Self::Ignored { reason, .. } => reason,
            Self::MalformedBody { .. } => "body is not a JSON push payload",
            Self::TooLarge { .. } => "body too large",
            Self::UnreadableBody => "body could not be read",
            Self::Unavailable => "shutting down",
        }
    }
}

/// Authenticates a webhook request and extracts the push it reports.
///
/// The provider is chosen from the event headers, the signature (or GitLab token) is checked
/// against that provider's secret, and only then is the body parsed. Authentic events that are
/// not pushes come back as [`Rejection::Ignored`].
pub fn verify(headers: &HeaderMap, body: &[u8], secrets: &Secrets) -> Result<PushEvent, Rejection> {
    let (provider, event) = detect(headers).ok_or(Rejection::Unsigned { provider: None })?;
    let secret = secrets
        .get(provider)
        .ok_or(Rejection::NotConfigured { provider })?;
    authenticate(provider, headers, body, secret)?;
    let ping = classify(provider, event)?;
    if ping {
        return Ok(PushEvent {
            provider,
            reference: None,
            after: None,
            ping,
        });
    }
    let payload = parse(provider, body)?;
    Ok(PushEvent {
        provider,
        reference: payload.reference,
        after: payload.after.filter(|sha| !is_null_sha(sha)),
        ping,
    })
}

/// The provider a request claims to come from, and its event header.
///
/// Gitea and Forgejo also send GitHub's headers for compatibility, so they are recognised first;
/// otherwise a Gitea push would be checked against the GitHub secret.
fn detect(headers: &HeaderMap) -> Option<(Provider, Option<&HeaderValue>)> {
    if let Some(event) = first_header(headers, &GITEA_EVENTS) {
        return Some((Provider::Gitea, Some(event)));
    }
    if let Some(event) = headers.get(GITLAB_EVENT) {
        return Some((Provider::GitLab, Some(event)));
    }
    if let Some(event) = headers.get(GITHUB_EVENT) {
        return Some((Provider::GitHub, Some(event)));
    }
    headers
        .contains_key(GENERIC_SIGNATURE)
        .then_some((Provider::Generic, None))
}

/// The first of `names` present in `headers`.
fn first_header<'a>(headers: &'a HeaderMap, names: &[&str]) -> Option<&'a HeaderValue> {
    names.iter().find_map(|name| headers.get(*name))
}

/// Checks the provider's signature or token.
fn authenticate(
    provider: Provider,
    headers: &HeaderMap,
    body: &[u8],
    secret: &Secret,
) -> Result<(), Rejection> {
    let (names, prefix): (&[&'static str], &str) = match provider {
        Provider::GitLab => return check_token(headers, secret),
        Provider::GitHub => (&[GITHUB_SIGNATURE], SHA256_PREFIX),
        Provider::Gitea => (&GITEA_SIGNATURES, ""),
        Provider::Generic => (&[GENERIC_SIGNATURE], SHA256_PREFIX),
    };
    let (header, value) = names
        .iter()
        .find_map(|name| headers.get(*name).map(|value| (*name, value)))
        .ok_or(Rejection::Unsigned {
            provider: Some(provider),
        })?;
    let tag = decode_signature(value, prefix)
        .ok_or(Rejection::MalformedSignature { provider, header })?;
    check_hmac(provider, secret, body, &tag)
}

/// The raw HMAC in a `<prefix><hex>` header value, if well formed.
fn decode_signature(value: &HeaderValue, prefix: &str) -> Option<Vec<u8>> {
    let hex_digits = value.to_str().ok()?.trim().strip_prefix(prefix)?;
    let tag = hex::decode(hex_digits).ok()?;
    (tag.len() == <Sha256 as Digest>::output_size()).then_some(tag)
}

/// Compares `tag` with the HMAC-SHA256 of `body` in constant time.
fn check_hmac(
    provider: Provider,
    secret: &Secret,
    body: &[u8],
    tag: &[u8],
) -> Result<(), Rejection> {
    // HMAC takes keys of any length, so this cannot fail; a rejection is still the safe answer.
    let mut mac = HmacSha256::new_from_slice(secret.expose().as_bytes())
        .map_err(|_| Rejection::BadSignature { provider })?;
    mac.update(body);
    mac.verify_slice(tag)
        .map_err(|_| Rejection::BadSignature { provider })
}

/// Compares GitLab's plain token with the secret in constant time.
fn check_token(headers: &HeaderMap, secret: &Secret) -> Result<(), Rejection> {
    let provider = Provider::GitLab;
    let token = headers.get(GITLAB_TOKEN).ok_or(Rejection::Unsigned {
        provider: Some(provider),
    })?;
    // Comparing digests keeps the comparison independent of the secret's length too.
    let given = Sha256::digest(token.as_bytes());
    let expected = Sha256::digest(secret.expose().as_bytes());
    if bool::from(given.ct_eq(&expected)) {
        Ok(())
    } else {
        Err(Rejection::BadSignature { provider })
    }
}

/// Whether an authentic event is a push (`Ok(false)`), a GitHub ping (`Ok(true)`) or ignored.
fn classify(provider: Provider, event: Option<&HeaderValue>) -> Result<bool, Rejection> {
    let name = event.and_then(|value| value.to_str().ok()).unwrap_or("");
    let push = match provider {
        Provider::GitHub if name == "ping" => return Ok(true),
        Provider::GitHub | Provider::Gitea => name == "push",
        Provider::GitLab => matches!(name, "Push Hook" | "Tag Push Hook"),
        Provider::Generic => true,
    };
    if push {
        Ok(false)
    } else {
        Err(Rejection::Ignored {
            provider,
            reason: format!("event {name:?} is not a push"),
        })
    }
}

/// The fields of a push payload we use; all forges and the generic format share them.
#[derive(Debug, Default, Deserialize)]
struct Payload {
    #[serde(rename = "ref")]
    reference: Option<String>,
    after: Option<String>,
}

/// Parses a signed body; generic senders may send none at all.
fn parse(provider: Provider, body: &[u8]) -> Result<Payload, Rejection> {
    if provider == Provider::Generic && body.trim_ascii().is_empty() {
        return Ok(Payload::default());
    }
    serde_json::from_slice(body).map_err(|err| Rejection::MalformedBody {
        provider,
        category: category_name(err.classify()),
        line: err.line(),
        column: err.column(),
    })
}

/// A stable name for serde_json's error category, safe to log.
fn category_name(category: serde_json::error::Category) -> &'static str {
    use serde_json::error::Category;
    match category {
        Category::Io => "io",
        Category::Syntax => "syntax",
        Category::Data => "data",
        Category::Eof => "eof",
    }
}

/// Forges report a deleted ref as a push whose new head is all zeros.
fn is_null_sha(sha: &str) -> bool {
    !sha.is_empty() && sha.bytes().all(|byte| byte == b'0')
}

/// A request for an immediate fetch, sent by the endpoint for each accepted push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    /// Who reported the push.
    pub provider: Provider,
    /// The pushed head SHA, when known.
    pub after: Option<String>,
    /// When the webhook arrived, to measure push-to-deploy latency.
    pub received: Instant,
}

/// What the endpoint needs: secrets, the followed branch, and where to send triggers.
#[derive(Debug, Clone)]
pub struct WebhookState {
    /// Webhook secrets per provider.
    pub secrets: Arc<Secrets>,
    /// The followed branch, e.g. `main` (a full `refs/...` name is also accepted).
    pub branch: String,
    /// Where accepted pushes go; capacity 1 is enough since triggers coalesce.
    pub trigger: Sender<Trigger>,
}

/// The webhook endpoint: `POST /v1/webhook`, bodies limited to [`MAX_BODY_BYTES`].
pub fn router(state: WebhookState) -> Router {
    Router::new()
        .route(PATH, post(receive))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(refuse_declared_oversize))
        .with_state(state)
}

/// Answers 413 at once when the declared `Content-Length` is over the limit: reading first
/// would keep the connection open for as long as the sender takes to send a body that is
/// refused anyway (or forever, when it never sends it).
async fn refuse_declared_oversize(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match declared_length(request.headers()) {
        Some(declared) if declared > MAX_BODY_BYTES as u64 => {
            let remote = request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| *addr);
            let too_large = Rejection::TooLarge {
                limit: MAX_BODY_BYTES,
            };
            reject(&too_large, remote, Some(declared))
        }
        _ => next.run(request).await,
    }
}

/// Handles one webhook delivery.
async fn receive(
    State(state): State<WebhookState>,
    remote: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let remote = remote.map(|Extension(ConnectInfo(addr))| addr);
    let body = match body {
        Ok(body) => body,
        Err(err) => return reject(&body_rejection(&err), remote, declared_length(&headers)),
    };
    let outcome = verify(&headers, &body, &state.secrets).and_then(|event| accept(&state, event));
    outcome.unwrap_or_else(|rejection| reject(&rejection, remote, u64::try_from(body.len()).ok()))
}

/// Answers a verified event: pong, ignore, or trigger a fetch.
fn accept(state: &WebhookState, event: PushEvent) -> Result<Response, Rejection> {
    let provider = event.provider.as_str();
    if event.ping {
        tracing::info!(provider, "webhook ping");
        return Ok((StatusCode::OK, Json(json!({ "status": "pong" }))).into_response());
    }
    follows_branch(&event, &state.branch)?;
    let trigger = Trigger {
        provider: event.provider,
        after: event.after.clone(),
        received: Instant::now(),
    };
    let after = event.after.as_deref();
    match state.trigger.try_send(trigger) {
        Ok(()) => tracing::info!(provider, after, "webhook triggered a fetch"),
        // A full channel means a fetch is already pending; it will see this push too.
        Err(TrySendError::Full(_)) => tracing::debug!(provider, after, "fetch already pending"),
        Err(TrySendError::Closed(_)) => return Err(Rejection::Unavailable),
    }
    let reply = json!({ "status": "fetch triggered", "after": after });
    Ok((StatusCode::ACCEPTED, Json(reply)).into_response())
}

/// Ignores pushes to other refs; a payload without a ref (generic senders) always counts.
fn follows_branch(event: &PushEvent, branch: &str) -> Result<(), Rejection> {
    let Some(reference) = event.reference.as_deref() else {
        return Ok(());
    };
    let followed = if branch.starts_with("refs/") {
        branch.to_owned()
    } else {
        format!("refs/heads/{branch}")
    };
    if reference == followed {
        return Ok(());
    }
    Err(Rejection::Ignored {
        provider: event.provider,
        reason: format!("push to {reference:?} is not for the followed branch {followed:?}"),
    })
}

/// Maps axum's body-buffering failure to ours, so it is logged and answered like the rest.
fn body_rejection(err: &BytesRejection) -> Rejection {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Rejection::TooLarge {
            limit: MAX_BODY_BYTES,
        }
    } else {
        Rejection::UnreadableBody
    }
}

/// The length the client announced, for logging a body we did not read.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Logs a rejection (without payload, signature or secret) and answers it.
fn reject(rejection: &Rejection, remote: Option<SocketAddr>, body_len: Option<u64>) -> Response {
    let provider = rejection.provider().map(Provider::as_str);
    let remote = remote.map(tracing::field::display);
    let status = if let Rejection::Ignored { .. } = rejection {
        // Authentic events we do not act on are routine, not a warning sign.
        tracing::info!(provider, remote, body_len, reason = %rejection, "webhook ignored");
        "ignored"
    } else {
        tracing::warn!(provider, remote, body_len, reason = %rejection, "webhook rejected");
        "rejected"
    };
    let reply = json!({ "status": status, "reason": rejection.public_reason() });
    (rejection.status(), Json(reply)).into_response()
}

#[cfg(test)]
#[path = "webhook_test.rs"]
mod tests;
