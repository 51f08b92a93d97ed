//! How a joining node authenticates a manager before it has any certificate: by the CA
//! fingerprint in its join token (trust on first use, pinned by the token).
//!
//! The verifier behind [`super::tls::bootstrap_client_config`] accepts a server only if
//! 1. the chain the server sent contains a certificate whose SHA-256 equals the token's
//!    fingerprint — the cluster CA, which managers always send after their own certificate;
//! 2. the server's certificate is signed by that CA, currently valid, and names the address
//!    dialled (ordinary WebPKI verification with that CA as the only root);
//! 3. the server's certificate says it is a manager — a worker's certificate is signed by the
//!    same CA but must not be able to collect join tokens by posing as a manager.
//!
//! A refusal carries a [`BootstrapRejection`] so the join command can explain it; recover it from
//! any error chain with [`super::tls::bootstrap_rejection`].

use std::fmt;
use std::sync::Arc;

use crds::node::NodeRole;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{CertificateError, DigitallySignedStruct, OtherError, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use super::ca::fingerprint_of;
use super::identity::peer_identity;

/// Why a joining node refused a manager during the bootstrap handshake.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
pub enum BootstrapRejection {
    /// No certificate in the server's chain has the CA fingerprint from the join token.
    #[error(
        "the manager's CA does not match the token: the token expects CA {expected}, the \
         manager presented {}; check that the token belongs to this cluster — otherwise \
         something is intercepting the connection",
        describe(.presented)
    )]
    CaMismatch {
        /// The fingerprint from the token.
        expected: String,
        /// Fingerprints of the chain certificates the server sent after its own.
        presented: Vec<String>,
    },

    /// The server's certificate is from the right CA but does not name a reconciler node.
    #[error("the manager's certificate names no reconciler node ({0}); refusing to join")]
    NoIdentity(String),

    /// The server's certificate is from the right CA but belongs to a worker.
    #[error(
        "the server is node {node_id:?}, a worker, not a manager; join through a manager's \
         address (`reconciler node ls` shows them)"
    )]
    NotAManager {
        /// The worker's node id.
        node_id: String,
    },
}

// rustls formats the wrapped error with `{:?}`; make that read as the message, not a struct.
impl fmt::Debug for BootstrapRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn describe(presented: &[String]) -> String {
    if presented.is_empty() {
        "no CA certificate".to_owned()
    } else {
        format!("CA {}", presented.join(" / "))
    }
}

/// A server certificate verifier that trusts exactly the CA with a given fingerprint, found in
/// the chain the server sends.
#[derive(Debug)]
pub(crate) struct PinnedCaVerifier {
    /// SHA-256 of the expected CA certificate, 64 lowercase hex digits.
    expected: String,
    provider: Arc<CryptoProvider>,
}

impl PinnedCaVerifier {
    /// A verifier for the CA with `expected_fingerprint` (already validated as lowercase hex).
    pub(crate) fn new(expected_fingerprint: String, provider: Arc<CryptoProvider>) -> Self {
        Self {
            expected: expected_fingerprint,
            provider,
        }
    }

    /// The certificate in `chain` that is the pinned CA.
    fn find_ca<'a>(
        &self,
        chain: &'a [CertificateDer<'a>],
    ) -> Result<&'a CertificateDer<'a>, rustls::Error> {
        chain
            .iter()
            .find(|cert| fingerprint_of(cert) == self.expected)
            .ok_or_else(|| {
                reject(BootstrapRejection::CaMismatch {
                    expected: self.expected.clone(),
                    presented: chain.iter().map(|cert| fingerprint_of(cert)).collect(),
                })
            })
    }
}

impl ServerCertVerifier for PinnedCaVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let ca = self.find_ca(intermediates)?;
        let mut roots = RootCertStore::empty();
        roots.add(ca.clone().into_owned())?;
        // Delegate chain, signature, validity and name checks to the standard verifier, with
        // the pinned CA as its only root.
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
            .build()
            .map_err(|err| rustls::Error::General(err.to_string()))?
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)?;
        let identity = peer_identity(end_entity)
            .map_err(|err| reject(BootstrapRejection::NoIdentity(err.to_string())))?;
        if identity.role != NodeRole::Manager {
            return Err(reject(BootstrapRejection::NotAManager {
                node_id: identity.node_id,
            }));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Wraps a rejection so it survives inside the rustls error and can be downcast later.
fn reject(rejection: BootstrapRejection) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(rejection))))
}
