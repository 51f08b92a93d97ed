//! Tests of `credentials`.

use super::*;

const ED_A: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIKAEw47OpMY/f5nf8YYciOdZSnY5MO79TlxbwSv151db";
const ED_B: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIDoQQ9akk5wwL1bQEi2d1LrBxEI1K2hUflETLlCtgksO";

fn key(b64: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("valid base64")
}

#[test]
fn secret_never_prints() {
    let secret = Secret::from("hunter2".to_owned());
    assert_eq!(format!("{secret}"), "***");
    assert_eq!(format!("{secret:?}"), "***");
    let creds = Credentials {
        token: Some(secret.clone()),
        ssh_key_passphrase: Some(secret),
        ..Default::default()
    };
    assert!(!format!("{creds:?}").contains("hunter2"));
    assert_eq!(creds.token.as_ref().map(Secret::expose), Some("hunter2"));
}

#[test]
fn token_from_file_trims_newline() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("token");
    std::fs::write(&path, "abc123\r\n").expect("write fixture");
    assert_eq!(
        Credentials::token_from_file(&path)
            .expect("test setup")
            .expose(),
        "abc123"
    );
    std::fs::write(&path, "abc123").expect("write fixture");
    assert_eq!(
        Credentials::token_from_file(&path)
            .expect("test setup")
            .expose(),
        "abc123"
    );
    assert!(Credentials::token_from_file(&dir.path().join("missing")).is_err());
}

#[test]
fn token_from_env_ignores_unset() {
    assert!(Credentials::token_from_env("RECONCILER_TEST_SURELY_UNSET_VAR").is_none());
    // PATH is always set in a test process, and reading it is harmless.
    assert!(Credentials::token_from_env("PATH").is_some());
}

#[test]
fn known_hosts_default_is_explicit_path() {
    let creds = Credentials {
        known_hosts: Some("/etc/kh".into()),
        ..Default::default()
    };
    assert_eq!(creds.known_hosts_path(), Some(PathBuf::from("/etc/kh")));
}

#[test]
fn verify_against_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("known_hosts");
    std::fs::write(
        &file,
        format!("git.example.com ssh-ed25519 {ED_A}\n@revoked * ssh-ed25519 {ED_B}\n"),
    )
    .expect("write fixture");
    assert!(verify_host_key(&file, "git.example.com", 22, "ssh-ed25519", &key(ED_A)).is_ok());

    let unknown = verify_host_key(&file, "other.example.com", 2222, "ssh-ed25519", &key(ED_A))
        .expect_err("must fail");
    assert!(matches!(unknown, Error::UnknownHost { port: 2222, .. }));
    let message = unknown.to_string();
    assert!(
        message.contains("ssh-keyscan -p 2222 other.example.com >> "),
        "{message}"
    );
    assert!(message.contains("out of band"), "{message}");
    assert!(!unknown.is_temporary());

    let revoked = verify_host_key(&file, "git.example.com", 22, "ssh-ed25519", &key(ED_B))
        .expect_err("must fail");
    assert!(matches!(revoked, Error::HostKeyRevoked { .. }), "{revoked}");

    std::fs::write(&file, format!("git.example.com ssh-ed25519 {ED_A}\n")).expect("write fixture");
    let mismatch = verify_host_key(&file, "git.example.com", 22, "ssh-ed25519", &key(ED_B))
        .expect_err("must fail");
    assert!(matches!(mismatch, Error::HostKeyMismatch { .. }));
    assert!(mismatch.to_string().contains("man-in-the-middle"));

    let missing = verify_host_key(
        &dir.path().join("nope"),
        "git.example.com",
        22,
        "ssh-ed25519",
        &key(ED_A),
    );
    assert!(matches!(missing, Err(Error::UnknownHost { .. })));
}

#[test]
fn each_method_is_tried_once() {
    let creds = Credentials {
        token: Some(Secret::from("s3cret-token".to_owned())),
        ssh_key: Some("/nonexistent/key".into()),
        ..Default::default()
    };
    let auth = Authenticator::new(&creds, "https://git.example.com/repo.git", 22);
    let https = CredentialType::USER_PASS_PLAINTEXT;
    assert!(auth.credential(None, https).is_ok());
    let Err(err) = auth.credential(None, https) else {
        panic!("a second token attempt")
    };
    assert!(!err.message().contains("s3cret-token"));
    let failure = auth.take_failure().expect("test setup");
    let text = failure.to_string();
    assert!(text.contains("https://git.example.com/repo.git"), "{text}");
    assert!(text.contains("token as x-access-token"), "{text}");
    assert!(!text.contains("s3cret-token"), "{text}");
}

#[test]
fn missing_ssh_key_is_named() {
    let creds = Credentials {
        ssh_key: Some("/nonexistent/key".into()),
        ..Default::default()
    };
    let auth = Authenticator::new(&creds, "ssh://git@git.example.com/repo.git", 22);
    assert!(
        auth.credential(Some("git"), CredentialType::SSH_KEY)
            .is_err()
    );
    assert!(matches!(
        auth.take_failure(),
        Some(Error::SshKeyUnreadable { .. })
    ));
}

#[test]
fn username_then_nothing() {
    let creds = Credentials::default();
    let auth = Authenticator::new(&creds, "ssh://git.example.com/repo.git", 22);
    assert!(auth.credential(None, CredentialType::USERNAME).is_ok());
    // No key configured; whether an agent is available depends on the environment, so only
    // the no-token HTTPS case is checked for "none".
    let auth = Authenticator::new(&creds, "https://git.example.com/repo.git", 22);
    assert!(
        auth.credential(None, CredentialType::USER_PASS_PLAINTEXT)
            .is_err()
    );
    let failure = auth.take_failure().expect("test setup").to_string();
    assert!(failure.contains("tried: none"), "{failure}");
}

#[test]
fn usernames() {
    let creds = Credentials {
        username: Some("bot".into()),
        ..Default::default()
    };
    let auth = Authenticator::new(&creds, "u", 22);
    assert_eq!(auth.user_for(Method::Token, Some("url-user")), "bot");
    assert_eq!(auth.user_for(Method::SshKey, Some("git")), "git");
    let plain = Credentials::default();
    let auth = Authenticator::new(&plain, "u", 22);
    assert_eq!(auth.user_for(Method::Token, None), "x-access-token");
    assert_eq!(auth.user_for(Method::SshAgent, None), "git");
}
