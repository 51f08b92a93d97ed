//! The cluster CA: one self-signed ECDSA P-256 certificate per cluster that signs every node
//! certificate, and the public half ([`CaCert`]) every node trusts.
//!
//! Why ECDSA P-256 with SHA-256: rustls verifies it with the ring provider in TLS 1.2 and 1.3,
//! ring can generate it (it cannot generate RSA keys), and unlike Ed25519 it is also accepted by
//! curl and browsers when an operator talks to the admin API directly.
//!
//! The CA may only sign leaf certificates (`pathLenConstraint = 0`): no node can mint an
//! intermediate CA, even with a stolen node key.

use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use crds::node::NodeRole;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PublicKeyData,
};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use sha2::{Digest, Sha256};

use super::encoding::hex_encode;
use super::error::{Error, Result};
use super::files::{self, CA_CERT_FILE, CA_KEY_FILE};
use super::identity::{cluster_id_of, parse_certificate};
use super::node::{NodeCert, node_params, random_serial, validity_window};

/// How long the cluster CA is valid. Rotating a CA means re-issuing every node certificate, so
/// it lives much longer than node certificates (Swarm uses 20 years).
pub const CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);

/// The common name of every cluster CA; the cluster id goes in the O attribute.
pub const CA_COMMON_NAME: &str = "reconciler cluster CA";

/// SHA-256 of a DER certificate as 64 lowercase hex digits: what join tokens carry and what
/// `reconciler ca fingerprint` would print.
pub fn fingerprint_of(cert_der: &[u8]) -> String {
    hex_encode(&Sha256::digest(cert_der))
}

/// The cluster CA certificate alone: what every node trusts. Holds no private key.
#[derive(Clone, PartialEq, Eq)]
pub struct CaCert {
    der: CertificateDer<'static>,
    pem: String,
    cluster_id: String,
}

impl CaCert {
    /// Reads a CA certificate from PEM and checks that it is a CA certificate.
    pub fn from_pem(pem: &str) -> Result<Self> {
        let der =
            CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|source| Error::PemInvalid {
                what: "CA certificate",
                source,
            })?;
        let cert = parse_certificate(&der, "CA certificate")?;
        if !cert.is_ca() {
            return Err(Error::NotACa);
        }
        let cluster_id = cluster_id_of(&cert)?;
        Ok(Self {
            pem: pem.to_owned(),
            der,
            cluster_id,
        })
    }

    /// The certificate in DER, e.g. for a rustls `RootCertStore`.
    pub fn der(&self) -> &CertificateDer<'static> {
        &self.der
    }

    /// The certificate in PEM, e.g. to hand to a joining node.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// The cluster this CA belongs to.
    pub fn cluster_id(&self) -> &str {
        &self.cluster_id
    }

    /// SHA-256 of the DER certificate, lowercase hex (see [`fingerprint_of`]).
    pub fn fingerprint(&self) -> String {
        fingerprint_of(&self.der)
    }

    /// Writes `ca.pem` into `dir`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        files::write(&dir.join(CA_CERT_FILE), &self.pem)
    }

    /// Reads `ca.pem` from `dir`.
    pub fn load(dir: &Path) -> Result<Self> {
        Self::from_pem(&files::read(&dir.join(CA_CERT_FILE))?)
    }
}

impl fmt::Debug for CaCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaCert")
            .field("cluster_id", &self.cluster_id)
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

/// The cluster CA's certificate and private key, both PEM. The key never shows in `Debug`.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CaPem {
    /// The CA certificate.
    pub cert_pem: String,
    /// The CA private key (PKCS#8). Secret: store with mode 0600.
    pub key_pem: String,
}

impl fmt::Debug for CaPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaPem")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"[secret key elided]")
            .finish()
    }
}

/// The cluster CA with its signing key: held by managers, used to issue node certificates.
pub struct ClusterCa {
    cert: CaCert,
    issuer: Issuer<'static, KeyPair>,
}

impl ClusterCa {
    /// Creates a new self-signed CA for `cluster_id`, valid for [`CA_VALIDITY`].
    pub fn generate(cluster_id: &str) -> Result<Self> {
        validate_cluster_id(cluster_id)?;
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|source| {
            Error::GenerateFailed {
                action: "generate the CA key",
                source,
            }
        })?;
        let params = ca_params(cluster_id)?;
        let cert = params
            .self_signed(&key)
            .map_err(|source| Error::GenerateFailed {
                action: "self-sign the CA certificate",
                source,
            })?;
        Ok(Self {
            cert: CaCert {
                der: cert.der().clone(),
                pem: cert.pem(),
                cluster_id: cluster_id.to_owned(),
            },
            issuer: Issuer::new(params, key),
        })
    }

    /// Loads a CA from its PEM certificate and PEM (PKCS#8) private key, checking they match.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self> {
        let cert = CaCert::from_pem(cert_pem)?;
        let key = KeyPair::from_pem(key_pem).map_err(|source| Error::KeyInvalid {
            what: "CA private key",
            source,
        })?;
        let parsed = parse_certificate(&cert.der, "CA certificate")?;
        if parsed.public_key().raw != key.subject_public_key_info().as_slice() {
            return Err(Error::KeyMismatch { what: "CA" });
        }
        // Taking the issuer name from the certificate itself (not rebuilding it from the
        // cluster id) keeps issued certificates chaining byte-for-byte to this CA.
        let issuer =
            Issuer::from_ca_cert_der(&cert.der, key).map_err(|source| Error::KeyInvalid {
                what: "CA certificate as an issuer",
                source,
            })?;
        Ok(Self { cert, issuer })
    }

    /// The CA certificate and private key as PEM, e.g. to replicate to another manager.
    pub fn to_pem(&self) -> CaPem {
        CaPem {
            cert_pem: self.cert.pem.clone(),
            key_pem: self.issuer.key().serialize_pem(),
        }
    }

    /// The public half, for trust stores and joining nodes.
    pub fn cert(&self) -> &CaCert {
        &self.cert
    }

    /// The cluster this CA belongs to.
    pub fn cluster_id(&self) -> &str {
        self.cert.cluster_id()
    }

    /// SHA-256 of the CA certificate's DER, lowercase hex.
    pub fn fingerprint(&self) -> String {
        self.cert.fingerprint()
    }

    /// Issues a certificate and fresh ECDSA P-256 key for `node_id` acting as `role`, usable
    /// both as TLS server and client, with SANs for the node (see [`super::identity`]), each of
    /// `ips` and each extra `dns` name. Valid from a few minutes ago (clock skew) for `validity`.
    pub fn issue_node_cert(
        &self,
        node_id: &str,
        role: NodeRole,
        ips: &[IpAddr],
        dns: &[String],
        validity: Duration,
    ) -> Result<NodeCert> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|source| {
            Error::GenerateFailed {
                action: "generate the node key",
                source,
            }
        })?;
        let params = node_params(self.cluster_id(), node_id, role, ips, dns, validity)?;
        let cert =
            params
                .signed_by(&key, &self.issuer)
                .map_err(|source| Error::GenerateFailed {
                    action: "sign the node certificate",
                    source,
                })?;
        NodeCert::from_pem(&cert.pem(), &key.serialize_pem())
    }

    /// Writes `ca.pem` and `ca-key.pem` (mode 0600) into `dir`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        self.cert.save(dir)?;
        let key_pem = self.issuer.key().serialize_pem();
        files::write(&dir.join(CA_KEY_FILE), &key_pem)
    }

    /// Reads `ca.pem` and `ca-key.pem` from `dir`.
    pub fn load(dir: &Path) -> Result<Self> {
        let cert_pem = files::read(&dir.join(CA_CERT_FILE))?;
        let key_pem = files::read(&dir.join(CA_KEY_FILE))?;
        Self::from_pem(&cert_pem, &key_pem)
    }
}

impl fmt::Debug for ClusterCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterCa")
            .field("cert", &self.cert)
            .field("key", &"[secret key elided]")
            .finish()
    }
}

/// Parameters of the CA certificate: leaf-signing only, valid for [`CA_VALIDITY`].
fn ca_params(cluster_id: &str) -> Result<CertificateParams> {
    let (not_before, not_after) = validity_window(CA_VALIDITY)?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, CA_COMMON_NAME);
    name.push(DnType::OrganizationName, cluster_id);
    let mut params = CertificateParams::default();
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.serial_number = Some(random_serial());
    params.not_before = not_before;
    params.not_after = not_after;
    Ok(params)
}

/// A cluster id goes into certificate subjects and file names of operators' tooling, so keep it
/// to short printable ASCII.
fn validate_cluster_id(cluster_id: &str) -> Result<()> {
    let printable = cluster_id.bytes().all(|b| b.is_ascii_graphic());
    if (1..=64).contains(&cluster_id.len()) && printable {
        Ok(())
    } else {
        Err(Error::InvalidClusterId(cluster_id.to_owned()))
    }
}
