//! Credentials for Git remotes, and the libgit2 callbacks that use them.
//!
//! - HTTPS: a token sent as the password (the user name defaults to `x-access-token`, which
//!   GitHub, Gitea and GitLab accept for tokens). Server certificates are verified by
//!   libgit2/OpenSSL as usual; we never override that.
//! - SSH: a private key file, or else the ssh-agent at `SSH_AUTH_SOCK`. Host keys are checked
//!   against a `known_hosts` file ([`super::known_hosts`]) with no trust on first use: an
//!   unknown host is refused with instructions to add it.
//!
//! Secrets are held in [`Secret`], whose `Debug` and `Display` print `***`, so a token cannot
//! reach a log line or an error message by accident.

use std::cell::RefCell;
use std::io;
use std::path::{Path, PathBuf};

use git2::cert::Cert;
use git2::{CertificateCheckStatus, Cred, CredentialType, RemoteCallbacks};

use super::known_hosts::{self, HostKeyStatus};

pub use crate::secret::Secret;

/// How to authenticate to a remote, and which SSH host keys to trust.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// HTTPS token, sent as the password.
    pub token: Option<Secret>,
    /// User name sent with the HTTPS token (default `x-access-token`), and for SSH when the URL
    /// names none (default `git`).
    pub username: Option<String>,
    /// SSH private key file; without it, the ssh-agent at `SSH_AUTH_SOCK` is tried.
    pub ssh_key: Option<PathBuf>,
    /// Passphrase of `ssh_key`, if it is encrypted.
    pub ssh_key_passphrase: Option<Secret>,
    /// The `known_hosts` file SSH host keys are checked against (default
    /// `$HOME/.ssh/known_hosts`).
    pub known_hosts: Option<PathBuf>,
    /// Send the token over an unencrypted `http://` remote (off: such a source is refused).
    pub allow_insecure_auth: bool,
}

impl Credentials {
    /// The token in environment variable `var`, or `None` when it is unset or empty.
    pub fn token_from_env(var: &str) -> Option<Secret> {
        std::env::var(var)
            .ok()
            .filter(|t| !t.is_empty())
            .map(Secret::from)
    }

    /// The token in the file at `path` (a mounted secret, say), without its trailing newline.
    pub fn token_from_file(path: &Path) -> io::Result<Secret> {
        let text = std::fs::read_to_string(path)?;
        Ok(Secret::from(text.trim_end_matches(['\n', '\r']).to_owned()))
    }

    /// The `known_hosts` file to use: the configured one, else `$HOME/.ssh/known_hosts`.
    pub fn known_hosts_path(&self) -> Option<PathBuf> {
        self.known_hosts.clone().or_else(|| {
            std::env::var_os("HOME")
                .map(|home| PathBuf::from(home).join(".ssh").join("known_hosts"))
        })
    }
}

/// Why authenticating to a remote, or trusting it, failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The remote asked for credentials and every configured method was rejected (or none was
    /// configured that it accepts).
    #[error(
        "authentication to {url} failed (tried: {tried}); check that the token or SSH key is \
         configured, valid and allowed to read the repository"
    )]
    AuthFailed {
        /// The remote, with any password in it masked.
        url: String,
        /// The methods tried, e.g. `ssh-key /keys/id_ed25519`, or `none` when nothing fit.
        tried: String,
    },
    /// The configured SSH key file does not exist or cannot be read.
    #[error("cannot read SSH key {path}: {source}; check the path and its permissions")]
    SshKeyUnreadable {
        /// The key file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The SSH server's host key is not in `known_hosts` (no trust on first use).
    #[error(
        "SSH host {host} (port {port}) is not in {known_hosts}; add its keys with \
         `ssh-keyscan -p {port} {host} >> {known_hosts}` and verify the fingerprints \
         (`ssh-keygen -lf {known_hosts}`) against ones obtained out of band before trusting them",
        known_hosts = known_hosts.display()
    )]
    UnknownHost {
        /// The host.
        host: String,
        /// Its SSH port.
        port: u16,
        /// The `known_hosts` file consulted.
        known_hosts: PathBuf,
    },
    /// The SSH server presented a key other than the one `known_hosts` lists for it.
    #[error(
        "SSH HOST KEY MISMATCH for {host} (port {port}): the key presented differs from the one in \
         {known_hosts}. Someone may be intercepting the connection (man-in-the-middle), or the \
         host key was changed. Refusing to connect; confirm the new key out of band before \
         replacing the entry",
        known_hosts = known_hosts.display()
    )]
    HostKeyMismatch {
        /// The host.
        host: String,
        /// Its SSH port.
        port: u16,
        /// The `known_hosts` file consulted.
        known_hosts: PathBuf,
    },
    /// The SSH server presented a key marked `@revoked` in `known_hosts`.
    #[error(
        "SSH host {host} (port {port}) presented a key marked @revoked in {known_hosts}; refusing \
         to connect. The key may be compromised: contact the server's administrator",
        known_hosts = known_hosts.display()
    )]
    HostKeyRevoked {
        /// The host.
        host: String,
        /// Its SSH port.
        port: u16,
        /// The `known_hosts` file consulted.
        known_hosts: PathBuf,
    },
    /// The `known_hosts` file exists but cannot be read.
    #[error("cannot read {path}: {source}; check its permissions")]
    KnownHostsUnreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// No `known_hosts` file was configured and `HOME` is not set, so no host can be trusted.
    #[error("no known_hosts file for SSH host {host}: set credentials.known_hosts or HOME")]
    NoKnownHosts {
        /// The host.
        host: String,
    },
    /// libssh2 did not give us the host key in a form we can check.
    #[error("SSH host {host} presented a host key of an unsupported type; refusing to connect")]
    UnsupportedHostKey {
        /// The host.
        host: String,
    },
}

impl Error {
    /// Whether retrying later may succeed without anyone changing the configuration.
    ///
    /// Every case here needs a person: a wrong credential or an unverified host key stays wrong.
    pub fn is_temporary(&self) -> bool {
        false
    }
}

/// One way of authenticating, tried at most once per connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    /// Telling the SSH server which user we are (before any key is offered).
    Username,
    /// The configured SSH key file.
    SshKey,
    /// The ssh-agent.
    SshAgent,
    /// The HTTPS token.
    Token,
}

/// Answers libgit2's credential and certificate callbacks for one fetch, remembering what was
/// tried and why the connection was refused, since libgit2 reduces our errors to strings.
#[derive(Debug)]
pub struct Authenticator<'c> {
    credentials: &'c Credentials,
    url: String,
    port: u16,
    tried: RefCell<Vec<(Method, String)>>,
    failure: RefCell<Option<Error>>,
}

impl<'c> Authenticator<'c> {
    /// For a fetch from `url` (already masked: it only appears in messages); `port` is the SSH
    /// port, which libgit2 does not pass to the host-key callback.
    pub fn new(credentials: &'c Credentials, url: &str, port: u16) -> Self {
        Authenticator {
            credentials,
            url: url.to_owned(),
            port,
            tried: RefCell::new(Vec::new()),
            failure: RefCell::new(None),
        }
    }

    /// The callbacks to put in `FetchOptions`.
    pub fn callbacks(&self) -> RemoteCallbacks<'_> {
        let mut callbacks = RemoteCallbacks::new();
        callbacks.credentials(|_url, user, allowed| self.credential(user, allowed));
        callbacks.certificate_check(|cert, host| self.certificate(cert, host));
        callbacks
    }

    /// Why the connection was refused, if one of our callbacks refused it.
    pub fn take_failure(&self) -> Option<Error> {
        self.failure.borrow_mut().take()
    }

    fn credential(
        &self,
        url_user: Option<&str>,
        allowed: CredentialType,
    ) -> Result<Cred, git2::Error> {
        let Some(method) = self.next_method(allowed) else {
            return Err(self.fail(self.auth_failed()));
        };
        let user = self.user_for(method, url_user);
        let label = match method {
            Method::SshKey => format!("ssh-key {}", self.key_path().display()),
            other => format!("{} as {user}", method_name(other)),
        };
        tracing::debug!(url = %self.url, method = %label, "offering credentials");
        self.tried.borrow_mut().push((method, label));
        self.make_cred(method, &user).map_err(|e| self.fail(e))
    }

    /// The first method the server accepts that we have and have not tried yet. libgit2 calls
    /// back after each rejection, so trying each once is what stops an endless loop.
    fn next_method(&self, allowed: CredentialType) -> Option<Method> {
        let has_agent = std::env::var_os("SSH_AUTH_SOCK").is_some_and(|s| !s.is_empty());
        let candidates = [
            (allowed.contains(CredentialType::USERNAME), Method::Username),
            (
                allowed.contains(CredentialType::SSH_KEY) && self.credentials.ssh_key.is_some(),
                Method::SshKey,
            ),
            (
                allowed.contains(CredentialType::SSH_KEY)
                    && self.credentials.ssh_key.is_none()
                    && has_agent,
                Method::SshAgent,
            ),
            (
                allowed.contains(CredentialType::USER_PASS_PLAINTEXT)
                    && self.credentials.token.is_some(),
                Method::Token,
            ),
        ];
        let tried = self.tried.borrow();
        candidates
            .into_iter()
            .filter(|(usable, _)| *usable)
            .map(|(_, method)| method)
            .find(|method| !tried.iter().any(|(t, _)| t == method))
    }

    /// SSH: the URL's user (`git@…`), else the configured one, else `git`. HTTPS: the configured
    /// user, else the URL's, else `x-access-token`.
    fn user_for(&self, method: Method, url_user: Option<&str>) -> String {
        let configured = self.credentials.username.as_deref();
        let user = match method {
            Method::Token => configured.or(url_user).unwrap_or("x-access-token"),
            _ => url_user.or(configured).unwrap_or("git"),
        };
        user.to_owned()
    }

    fn key_path(&self) -> &Path {
        self.credentials.ssh_key.as_deref().unwrap_or(Path::new(""))
    }

    fn make_cred(&self, method: Method, user: &str) -> Result<Cred, Error> {
        let git = |e: git2::Error| Error::AuthFailed {
            url: self.url.clone(),
            tried: format!(
                "{} (libgit2 refused it: {})",
                method_name(method),
                e.message()
            ),
        };
        match method {
            Method::Username => Cred::username(user).map_err(git),
            Method::SshAgent => Cred::ssh_key_from_agent(user).map_err(git),
            Method::Token => {
                let token = self
                    .credentials
                    .token
                    .as_ref()
                    .map(Secret::expose)
                    .unwrap_or_default();
                Cred::userpass_plaintext(user, token).map_err(git)
            }
            Method::SshKey => {
                let path = self.key_path();
                // libgit2's message for a missing key file is vague; say which file and why.
                std::fs::File::open(path).map_err(|source| Error::SshKeyUnreadable {
                    path: path.to_owned(),
                    source,
                })?;
                let passphrase = self
                    .credentials
                    .ssh_key_passphrase
                    .as_ref()
                    .map(Secret::expose);
                Cred::ssh_key(user, None, path, passphrase).map_err(git)
            }
        }
    }

    fn auth_failed(&self) -> Error {
        let tried: Vec<String> = self
            .tried
            .borrow()
            .iter()
            .filter(|(m, _)| *m != Method::Username)
            .map(|(_, l)| l.clone())
            .collect();
        let tried = if tried.is_empty() {
            "none: no token, SSH key or ssh-agent configured".to_owned()
        } else {
            tried.join(", ")
        };
        Error::AuthFailed {
            url: self.url.clone(),
            tried,
        }
    }

    /// Remember `error` for the caller and give libgit2 a string version of it.
    fn fail(&self, error: Error) -> git2::Error {
        let message = error.to_string();
        self.failure.borrow_mut().replace(error);
        git2::Error::new(git2::ErrorCode::Auth, git2::ErrorClass::Callback, message)
    }

    fn certificate(
        &self,
        cert: &Cert<'_>,
        host: &str,
    ) -> Result<CertificateCheckStatus, git2::Error> {
        let Some(hostkey) = cert.as_hostkey() else {
            // An X.509 certificate: OpenSSL has verified it against the system roots; keep its verdict.
            return Ok(CertificateCheckStatus::CertificatePassthrough);
        };
        let Some(key) = hostkey.hostkey() else {
            return Err(self.fail(Error::UnsupportedHostKey {
                host: host.to_owned(),
            }));
        };
        // The blob names its own type; libgit2's enum is the fallback for odd blobs.
        let key_type = known_hosts::blob_key_type(key)
            .or_else(|| hostkey.hostkey_type().and_then(known_hosts::key_type_name));
        let Some(key_type) = key_type else {
            return Err(self.fail(Error::UnsupportedHostKey {
                host: host.to_owned(),
            }));
        };
        let Some(file) = self.credentials.known_hosts_path() else {
            return Err(self.fail(Error::NoKnownHosts {
                host: host.to_owned(),
            }));
        };
        match verify_host_key(&file, host, self.port, key_type, key) {
            Ok(()) => Ok(CertificateCheckStatus::CertificateOk),
            Err(e) => Err(self.fail(e)),
        }
    }
}

fn method_name(method: Method) -> &'static str {
    match method {
        Method::Username => "username",
        Method::SshKey => "ssh-key",
        Method::SshAgent => "ssh-agent",
        Method::Token => "token",
    }
}

/// Check `host`:`port`'s key against the `known_hosts` file at `file`. A missing file is treated
/// as empty, so the host is reported unknown (with instructions that create the file).
pub fn verify_host_key(
    file: &Path,
    host: &str,
    port: u16,
    key_type: &str,
    key: &[u8],
) -> Result<(), Error> {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(Error::KnownHostsUnreadable {
                path: file.to_owned(),
                source,
            });
        }
    };
    let (host, known_hosts) = (host.to_owned(), file.to_owned());
    match known_hosts::check(&text, &host, port, key_type, key) {
        HostKeyStatus::Match => Ok(()),
        HostKeyStatus::Unknown => Err(Error::UnknownHost {
            host,
            port,
            known_hosts,
        }),
        HostKeyStatus::Mismatch => {
            tracing::error!(%host, port, known_hosts = %known_hosts.display(), "SSH host key mismatch: possible man-in-the-middle");
            Err(Error::HostKeyMismatch {
                host,
                port,
                known_hosts,
            })
        }
        HostKeyStatus::Revoked => {
            tracing::error!(%host, port, known_hosts = %known_hosts.display(), "SSH host presented a revoked key");
            Err(Error::HostKeyRevoked {
                host,
                port,
                known_hosts,
            })
        }
    }
}

#[cfg(test)]
#[path = "credentials_test.rs"]
mod tests;
