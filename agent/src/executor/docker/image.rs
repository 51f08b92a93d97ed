//! Images: the local image when present, else a pull (with the Docker CLI's credentials for the
//! registry, when it has some). A failed pull rejects the task with the engine's words.

use bollard::Docker;
use bollard::query_parameters::CreateImageOptionsBuilder;
use futures_util::StreamExt;

use super::auth;
use super::error::{classify, http_status};
use crate::executor::{Error, Result};

/// Makes sure `image` is on the engine, pulling it when it is not.
pub async fn ensure_image(docker: &Docker, image: &str) -> Result<()> {
    match docker.inspect_image(image).await {
        Ok(_) => return Ok(()),
        Err(e) if http_status(&e) == Some(404) => {}
        Err(e) => return Err(classify(&e, |_, m| Error::Unavailable(m))),
    }
    pull_image(docker, image).await
}

/// Pulls `image`; any answer but success rejects the task.
async fn pull_image(docker: &Docker, image: &str) -> Result<()> {
    let (repository, tag) = split_reference(image);
    let options = CreateImageOptionsBuilder::new()
        .from_image(repository)
        .tag(tag)
        .build();
    let credentials = auth::fetch_credentials(image);
    let mut progress = docker.create_image(Some(options), None, credentials);
    while let Some(item) = progress.next().await {
        if let Err(e) = item {
            let rejected = |_, message: String| {
                Error::Rejected(format!("cannot pull image {image}: {message}"))
            };
            return Err(match e {
                // An error in the progress stream is the engine's verdict on the pull.
                bollard::errors::Error::DockerStreamError { error } => rejected(0, error),
                other => classify(&other, rejected),
            });
        }
    }
    Ok(())
}

/// `(repository, tag or digest)`; a reference without either means `latest` (an empty tag would
/// pull every tag of the repository).
pub fn split_reference(image: &str) -> (&str, &str) {
    if let Some((repository, digest)) = image.split_once('@') {
        return (repository, digest);
    }
    let last_slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[last_slash..].rfind(':') {
        Some(colon) => {
            let at = last_slash + colon;
            (&image[..at], &image[at + 1..])
        }
        None => (image, "latest"),
    }
}

#[cfg(test)]
mod tests {
    use super::split_reference;

    #[test]
    fn references_split_into_repository_and_tag() {
        assert_eq!(split_reference("nginx"), ("nginx", "latest"));
        assert_eq!(split_reference("nginx:1.27"), ("nginx", "1.27"));
        assert_eq!(
            split_reference("localhost:5000/app"),
            ("localhost:5000/app", "latest")
        );
        assert_eq!(
            split_reference("localhost:5000/app:2"),
            ("localhost:5000/app", "2")
        );
        assert_eq!(
            split_reference("ghcr.io/o/app@sha256:abc"),
            ("ghcr.io/o/app", "sha256:abc")
        );
    }
}
