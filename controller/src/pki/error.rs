//! Errors about certificate material: generating, issuing, reading, parsing and storing the
//! cluster CA and node certificates. Join tokens ([`super::token::Error`]) and TLS configuration
//! ([`super::tls::Error`]) have their own enums.

use std::path::PathBuf;

/// What went wrong with the cluster CA, a node certificate or a peer's certificate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The cluster id is empty, too long or contains characters a certificate cannot carry.
    #[error("invalid cluster id {0:?}: use 1 to 64 printable ASCII characters without spaces")]
    InvalidClusterId(String),

    /// The node id cannot be used as a DNS label (see [`super::identity::validate_node_id`]).
    #[error(
        "invalid node id {0:?}: use 1 to 63 lowercase letters, digits or '-', \
         not starting or ending with '-'"
    )]
    InvalidNodeId(String),

    /// A DNS name given for a node certificate is not a valid IA5 (ASCII) string.
    #[error("invalid DNS name {0:?} for a node certificate: use an ASCII host name")]
    InvalidDnsName(String),

    /// A certificate validity is zero or reaches past the year 9999.
    #[error("invalid certificate validity {0:?}: use a positive duration of at most a few decades")]
    InvalidValidity(std::time::Duration),

    /// rcgen refused to create a key pair or certificate.
    #[error("could not {action}: {source}")]
    GenerateFailed {
        /// What was being generated, e.g. "sign the node certificate".
        action: &'static str,
        /// The rcgen error.
        #[source]
        source: rcgen::Error,
    },

    /// Text that should hold a PEM certificate or key holds none, or a malformed one.
    #[error("could not read the {what} from PEM: {source}; expected a '-----BEGIN …' block")]
    PemInvalid {
        /// Which object, e.g. "CA certificate".
        what: &'static str,
        /// The PEM decoding error.
        #[source]
        source: rustls_pki_types::pem::Error,
    },

    /// A private key is not one rcgen can sign with (it must be PKCS#8 ECDSA P-256).
    #[error("could not load the {what}: {source}; the key must be a PKCS#8 ECDSA P-256 key")]
    KeyInvalid {
        /// Which key, e.g. "CA private key".
        what: &'static str,
        /// The rcgen error.
        #[source]
        source: rcgen::Error,
    },

    /// DER bytes are not an X.509 certificate.
    #[error("the {what} is not a valid X.509 certificate: {reason}")]
    CertificateInvalid {
        /// Which certificate, e.g. "peer certificate".
        what: &'static str,
        /// The parser's explanation.
        reason: String,
    },

    /// The private key does not belong to the certificate it was loaded with.
    #[error(
        "the {what} private key does not match its certificate; \
         restore the key file that was written together with the certificate"
    )]
    KeyMismatch {
        /// Which pair, e.g. "CA".
        what: &'static str,
    },

    /// The certificate loaded as the cluster CA is not a CA certificate.
    #[error(
        "the certificate loaded as the cluster CA is not a CA (basicConstraints CA:FALSE); \
         point to the ca.pem written by `ClusterCa::save`"
    )]
    NotACa,

    /// A certificate lacks the `reconciler://node/<id>` URI that names the node.
    #[error(
        "the certificate carries no reconciler node identity (no URI SAN {prefix}<id>); \
         it was not issued by a reconciler cluster CA"
    )]
    MissingNodeId {
        /// The URI prefix looked for.
        prefix: &'static str,
    },

    /// A certificate's subject does not name a reconciler role in its OU.
    #[error(
        "the certificate's subject has no reconciler role (OU {manager:?} or {worker:?}); \
         it was not issued by a reconciler cluster CA"
    )]
    MissingRole {
        /// The OU of managers.
        manager: &'static str,
        /// The OU of workers.
        worker: &'static str,
    },

    /// The certificate names more than one node id or role, or its CN disagrees with its URI.
    #[error("the certificate's identity is ambiguous: {0}; refuse it and issue a new one")]
    AmbiguousIdentity(String),

    /// A file could not be read.
    #[error("could not read {path}: {source}")]
    ReadFailed {
        /// The file.
        path: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },

    /// A file could not be written (or its permissions set).
    #[error("could not write {path}: {source}; check that the directory exists and is writable")]
    WriteFailed {
        /// The file.
        path: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
}

/// Result of the certificate functions of [`crate::pki`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
