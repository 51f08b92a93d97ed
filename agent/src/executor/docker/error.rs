//! Errors of the Docker executor: reaching the engine ([`EngineError`]), and the engine's
//! answers classified into the executor's [`Error`] kinds by HTTP status, never by wording.

use crate::executor::Error;

/// Why the executor could not connect to the engine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// No engine answered at `host` (no socket, connection refused, no answer to the ping).
    #[error("cannot reach the Docker engine at {host} ({cause}); start Docker or set DOCKER_HOST")]
    Unreachable {
        /// The address tried (`unix:///var/run/docker.sock`, `tcp://…`).
        host: String,
        /// The innermost cause, e.g. `No such file or directory`.
        cause: String,
    },
    /// `DOCKER_HOST` names an address this build cannot use.
    #[error(
        "cannot use DOCKER_HOST={host} ({cause}); set it to unix:///path/to/docker.sock or tcp://host:port"
    )]
    UnsupportedHost {
        /// The value of `DOCKER_HOST`.
        host: String,
        /// What was wrong with it.
        cause: String,
    },
}

/// The HTTP status the engine answered with, if the error is an engine answer.
pub fn http_status(error: &bollard::errors::Error) -> Option<u16> {
    match error {
        bollard::errors::Error::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// The engine's own message for an answer, or the innermost cause of a transport failure.
pub fn engine_message(error: &bollard::errors::Error) -> String {
    match error {
        bollard::errors::Error::DockerResponseServerError { message, .. } => message.clone(),
        bollard::errors::Error::DockerStreamError { error } => error.clone(),
        bollard::errors::Error::SocketNotFoundError(_) => "No such file or directory".to_owned(),
        other => root_cause(other),
    }
}

/// The last error of a `source()` chain, without the `(os error N)` suffix.
pub fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut last = error;
    while let Some(next) = last.source() {
        last = next;
    }
    let text = last.to_string();
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_owned(),
        _ => text,
    }
}

/// Classifies a failed engine call: answers in `2xx`–`4xx`/`5xx` go to `answered` (which knows
/// what the call meant), anything else (no answer, broken connection, timeout) is passing.
pub fn classify(
    error: &bollard::errors::Error,
    answered: impl FnOnce(u16, String) -> Error,
) -> Error {
    match http_status(error) {
        Some(status) => answered(status, engine_message(error)),
        None => Error::Unavailable(format!("Docker engine: {}", engine_message(error))),
    }
}

/// For calls on an existing container: 404 means it is gone, other answers are passing
/// problems (the call is retried), never a verdict on the task.
pub fn container_call(container_id: &str) -> impl FnOnce(u16, String) -> Error + '_ {
    move |status, message| match status {
        404 => Error::Gone(container_id.to_owned()),
        _ => Error::Unavailable(message),
    }
}
