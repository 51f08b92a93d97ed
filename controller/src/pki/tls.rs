//! rustls configurations for every inter-node connection.
//!
//! | function | used by | peer authentication |
//! |---|---|---|
//! | [`server_config`] | Raft RPC, agent sessions, admin API | client cert from the cluster CA **required** |
//! | [`server_config_join`] | the join endpoint | client cert optional (a joiner has none; it sends its token) |
//! | [`client_config`] | nodes dialling nodes | server cert from the cluster CA, matching the name dialled |
//! | [`bootstrap_client_config`] | a node joining | server's CA must have the token's fingerprint ([`super::bootstrap`]) |
//!
//! The `*_current` variants present whatever certificate a [`CurrentCert`] holds, so a running
//! node's renewed certificate is used from the next handshake on.
//!
//! Every config is built with the ring provider passed explicitly, never the process-wide
//! default, so no other crate's choice (or lack of one) can change what we use. Servers send
//! their certificate followed by the CA certificate, which joiners need to check the pin.
//! ALPN offers `h2` then `http/1.1`, the transport being HTTP/2 over rustls.

use std::error::Error as StdError;
use std::io;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls::{
    CertificateError, ClientConfig, CommonState, RootCertStore, ServerConfig,
    server::VerifierBuilderError,
};
use rustls_pki_types::CertificateDer;

use super::bootstrap::{BootstrapRejection, PinnedCaVerifier};
use super::ca::CaCert;
use super::current::CurrentCert;
use super::encoding::hex_decode;
use super::identity::{PeerIdentity, peer_identity};
use super::node::NodeCert;

/// ALPN protocols offered by both sides, most preferred first.
pub const ALPN_PROTOCOLS: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Errors building TLS configurations or reading a connection's peer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The CA certificate cannot serve as a trust anchor.
    #[error("the cluster CA certificate cannot be used as a trust root: {0}; reload ca.pem")]
    TrustRootInvalid(#[source] rustls::Error),

    /// rustls could not build a certificate verifier.
    #[error("could not build the certificate verifier: {0}")]
    VerifierFailed(#[source] VerifierBuilderError),

    /// rustls rejected the node's certificate or key, or the protocol versions.
    #[error(
        "could not build the TLS {side} configuration: {source}; re-issue the node certificate"
    )]
    ConfigFailed {
        /// "server" or "client".
        side: &'static str,
        /// The rustls error.
        #[source]
        source: rustls::Error,
    },

    /// The node's certificate material could not be read.
    #[error(transparent)]
    Certificate(#[from] super::Error),

    /// The fingerprint given for bootstrapping is not a SHA-256 in lowercase hex.
    #[error("{0:?} is not a CA fingerprint: expected 64 lowercase hex digits (SHA-256)")]
    FingerprintInvalid(String),

    /// The connection has no verified peer certificate.
    #[error(
        "the peer presented no certificate; it is not a cluster node (or this is the join \
         endpoint, where joiners authenticate with a token)"
    )]
    NoPeerCertificate,
}

/// Result of the [`tls`](self) functions.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The crypto provider of every config: ring, created here rather than installed globally.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server that accepts only clients presenting a certificate issued by `ca`.
pub fn server_config(ca: &CaCert, node: &NodeCert) -> Result<Arc<ServerConfig>> {
    let provider = crypto_provider();
    let verifier = WebPkiClientVerifier::builder_with_provider(roots(ca)?, provider.clone())
        .build()
        .map_err(Error::VerifierFailed)?;
    build_server(provider, verifier, CurrentCert::new(ca, node)?)
}

/// A server for the join endpoint: it asks for a client certificate but does not require one,
/// since a joiner has none yet and authenticates with its token inside the connection. A
/// certificate that *is* presented must still be valid for `ca`, so members renewing their
/// certificate can use the same endpoint and be told apart with [`peer_identity_of`].
pub fn server_config_join(ca: &CaCert, node: &NodeCert) -> Result<Arc<ServerConfig>> {
    server_config_join_current(ca, CurrentCert::new(ca, node)?)
}

/// [`server_config_join`] presenting whatever certificate is in force in `current`.
pub fn server_config_join_current(
    ca: &CaCert,
    current: Arc<CurrentCert>,
) -> Result<Arc<ServerConfig>> {
    let provider = crypto_provider();
    let verifier = WebPkiClientVerifier::builder_with_provider(roots(ca)?, provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(Error::VerifierFailed)?;
    build_server(provider, verifier, current)
}

/// A client that presents `node`'s certificate and trusts only servers certified by `ca`.
pub fn client_config(ca: &CaCert, node: &NodeCert) -> Result<Arc<ClientConfig>> {
    client_config_current(ca, CurrentCert::new(ca, node)?)
}

/// [`client_config`] presenting whatever certificate is in force in `current`.
pub fn client_config_current(ca: &CaCert, current: Arc<CurrentCert>) -> Result<Arc<ClientConfig>> {
    let provider = crypto_provider();
    let verifier = WebPkiServerVerifier::builder_with_provider(roots(ca)?, provider.clone())
        .build()
        .map_err(Error::VerifierFailed)?;
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(client_failed)?
        .with_webpki_verifier(verifier)
        .with_client_cert_resolver(current);
    config.alpn_protocols = alpn();
    Ok(Arc::new(config))
}

/// A client for a node that has only a join token: it presents no certificate and accepts a
/// manager only if the CA it sends has `expected_ca_fingerprint` (see [`super::bootstrap`]).
pub fn bootstrap_client_config(expected_ca_fingerprint: &str) -> Result<Arc<ClientConfig>> {
    if hex_decode::<32>(expected_ca_fingerprint).is_err() {
        return Err(Error::FingerprintInvalid(
            expected_ca_fingerprint.to_owned(),
        ));
    }
    let provider = crypto_provider();
    let verifier = PinnedCaVerifier::new(expected_ca_fingerprint.to_owned(), provider.clone());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(client_failed)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = alpn();
    Ok(Arc::new(config))
}

/// Who is on the other end of a finished handshake, read from its verified certificate.
/// Pass a `rustls::ServerConnection` (e.g. `tls_stream.get_ref().1`) or `ClientConnection`.
pub fn peer_identity_of(connection: &CommonState) -> Result<PeerIdentity> {
    let leaf = connection
        .peer_certificates()
        .and_then(<[CertificateDer<'_>]>::first)
        .ok_or(Error::NoPeerCertificate)?;
    Ok(peer_identity(leaf)?)
}

/// Finds the reason a bootstrap handshake was refused anywhere in an error chain (an
/// `io::Error` from tokio-rustls, a reqwest error, …), or `None` if it failed for another
/// reason.
pub fn bootstrap_rejection<'a>(
    error: &'a (dyn StdError + 'static),
) -> Option<&'a BootstrapRejection> {
    let mut current = Some(error);
    while let Some(err) = current {
        if let Some(found) = rejection_in(err) {
            return Some(found);
        }
        current = err.source();
    }
    None
}

/// Looks through the wrappers that `source()` skips: `io::Error` hides its payload, and
/// rustls keeps our error inside `CertificateError::Other`.
fn rejection_in<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a BootstrapRejection> {
    if let Some(found) = err.downcast_ref::<BootstrapRejection>() {
        return Some(found);
    }
    if let Some(inner) = err.downcast_ref::<io::Error>().and_then(io::Error::get_ref) {
        return rejection_in(inner);
    }
    match err.downcast_ref::<rustls::Error>() {
        Some(rustls::Error::InvalidCertificate(CertificateError::Other(other))) => {
            other.0.downcast_ref::<BootstrapRejection>()
        }
        _ => None,
    }
}

fn build_server(
    provider: Arc<CryptoProvider>,
    verifier: Arc<dyn ClientCertVerifier>,
    current: Arc<CurrentCert>,
) -> Result<Arc<ServerConfig>> {
    let server_failed = |source| Error::ConfigFailed {
        side: "server",
        source,
    };
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(server_failed)?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(current);
    config.alpn_protocols = alpn();
    Ok(Arc::new(config))
}

fn client_failed(source: rustls::Error) -> Error {
    Error::ConfigFailed {
        side: "client",
        source,
    }
}

/// A trust store holding only the cluster CA.
fn roots(ca: &CaCert) -> Result<Arc<RootCertStore>> {
    let mut roots = RootCertStore::empty();
    roots
        .add(ca.der().clone())
        .map_err(Error::TrustRootInvalid)?;
    Ok(Arc::new(roots))
}

/// The node's certificate followed by the CA's, so a peer can see which CA issued it.
fn alpn() -> Vec<Vec<u8>> {
    ALPN_PROTOCOLS.iter().map(|p| p.to_vec()).collect()
}
