//! Registry credentials for pulls, read from the Docker CLI's config file
//! (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`), `auths` section only.
//!
//! An entry matches when its key names the image's registry, with or without scheme and path
//! (`registry.example.com`, `https://registry.example.com/v1/`); Docker Hub's key is
//! `https://index.docker.io/v1/`. External credential stores (`credsStore`, `credHelpers`)
//! are not consulted: without a matching `auths` entry the pull is anonymous.

use std::path::PathBuf;

use base64::Engine as _;
use bollard::auth::DockerCredentials;

/// Docker Hub's registry host as the CLI writes it.
const DOCKER_HUB: &str = "index.docker.io";

/// The registry an image reference pulls from (Docker's rule: the first component when it has
/// a `.` or `:` or is `localhost`, else Docker Hub).
pub fn registry_of(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first,
        _ => DOCKER_HUB,
    }
}

/// The host part of an `auths` key.
fn host_of(key: &str) -> &str {
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = key.split('/').next().unwrap_or(key);
    match host {
        "docker.io" | "registry-1.docker.io" => DOCKER_HUB,
        other => other,
    }
}

/// Credentials for `registry` in the text of a config file, if it has an entry for it.
pub fn credentials_in(config: &str, registry: &str) -> Option<DockerCredentials> {
    let config: serde_json::Value = serde_json::from_str(config).ok()?;
    let auths = config.get("auths")?.as_object()?;
    let (key, entry) = auths
        .iter()
        .find(|(key, _)| host_of(key) == host_of(registry))?;
    let text = |field: &str| entry.get(field).and_then(|v| v.as_str()).map(str::to_owned);
    let (mut username, mut password) = (text("username"), text("password"));
    if let Some(auth) = text("auth").filter(|a| !a.is_empty()) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (user, pass) = decoded.split_once(':')?;
        username = Some(user.to_owned());
        password = Some(pass.to_owned());
    }
    let identitytoken = text("identitytoken");
    if username.is_none() && identitytoken.is_none() {
        return None;
    }
    Some(DockerCredentials {
        username,
        password,
        serveraddress: Some(key.clone()),
        identitytoken,
        ..DockerCredentials::default()
    })
}

/// Where the Docker CLI keeps its config file.
fn config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    let home = std::env::var_os("HOME")?;
    Some(PathBuf::from(home).join(".docker").join("config.json"))
}

/// Credentials for pulling `image`, when the config file has an entry for its registry.
pub fn fetch_credentials(image: &str) -> Option<DockerCredentials> {
    let text = std::fs::read_to_string(config_path()?).ok()?;
    credentials_in(&text, registry_of(image))
}

#[cfg(test)]
mod tests {
    use super::{credentials_in, registry_of};

    #[test]
    fn registries_of_image_references() {
        assert_eq!(registry_of("nginx"), "index.docker.io");
        assert_eq!(registry_of("library/nginx:1.27"), "index.docker.io");
        assert_eq!(registry_of("reconciler-test/echo:1"), "index.docker.io");
        assert_eq!(registry_of("ghcr.io/org/app:1"), "ghcr.io");
        assert_eq!(registry_of("localhost:5000/app"), "localhost:5000");
        assert_eq!(registry_of("localhost/app"), "localhost");
    }

    const CONFIG: &str = r#"{
      "auths": {
        "https://index.docker.io/v1/": {"auth": "aHViOnNlY3JldA=="},
        "registry.example.com": {"auth": "dXNlcjpwYTpzcw=="},
        "token.example.com": {"identitytoken": "tok"},
        "empty.example.com": {}
      },
      "credsStore": "desktop"
    }"#;

    #[test]
    fn base64_auth_entries_give_user_and_password() {
        let hub = credentials_in(CONFIG, "index.docker.io").expect("hub entry");
        assert_eq!(hub.username.as_deref(), Some("hub"));
        assert_eq!(hub.password.as_deref(), Some("secret"));
        assert_eq!(
            hub.serveraddress.as_deref(),
            Some("https://index.docker.io/v1/")
        );
        let private = credentials_in(CONFIG, "registry.example.com").expect("entry");
        assert_eq!(private.username.as_deref(), Some("user"));
        assert_eq!(
            private.password.as_deref(),
            Some("pa:ss"),
            "only the first : splits"
        );
    }

    #[test]
    fn identity_tokens_and_missing_entries() {
        let token = credentials_in(CONFIG, "token.example.com").expect("entry");
        assert_eq!(token.identitytoken.as_deref(), Some("tok"));
        assert!(credentials_in(CONFIG, "empty.example.com").is_none());
        assert!(credentials_in(CONFIG, "other.example.com").is_none());
        assert!(credentials_in("not json", "index.docker.io").is_none());
    }
}
