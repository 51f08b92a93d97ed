//! A node's certificate and private key: issued by [`super::ClusterCa`] on join, stored as
//! `node.pem` and `node-key.pem`, and presented on every connection to another node.

use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use crds::node::NodeRole;
use rand::RngCore;
use rcgen::string::Ia5String;
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, PublicKeyData, SanType, SerialNumber,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use time::OffsetDateTime;

use super::error::{Error, Result};
use super::files::{self, NODE_CERT_FILE, NODE_KEY_FILE};
use super::identity::{
    MANAGERS_DNS_NAME, PeerIdentity, node_dns_name, node_uri, parse_certificate, peer_identity,
    role_ou, validate_node_id,
};

/// How long a node certificate is valid unless the caller asks otherwise (Swarm: 90 days).
pub const DEFAULT_NODE_CERT_VALIDITY: Duration = Duration::from_secs(90 * 24 * 60 * 60);

/// How far in the past certificates start, so a peer whose clock is a little behind the issuing
/// manager's does not reject a brand-new certificate as "not yet valid".
pub const CLOCK_SKEW_ALLOWANCE: Duration = Duration::from_secs(5 * 60);

/// A node certificate with its private key. The key never shows in `Debug`.
#[derive(Clone)]
pub struct NodeCert {
    cert_pem: String,
    key_pem: String,
    der: CertificateDer<'static>,
    identity: PeerIdentity,
}

impl NodeCert {
    /// Reads a node certificate and its PKCS#8 private key from PEM, checking that the key
    /// belongs to the certificate and that the certificate names a node.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self> {
        let der = CertificateDer::from_pem_slice(cert_pem.as_bytes()).map_err(|source| {
            Error::PemInvalid {
                what: "node certificate",
                source,
            }
        })?;
        let key = KeyPair::from_pem(key_pem).map_err(|source| Error::KeyInvalid {
            what: "node private key",
            source,
        })?;
        let parsed = parse_certificate(&der, "node certificate")?;
        if parsed.public_key().raw != key.subject_public_key_info().as_slice() {
            return Err(Error::KeyMismatch { what: "node" });
        }
        let identity = peer_identity(&der)?;
        Ok(Self {
            cert_pem: cert_pem.to_owned(),
            key_pem: key_pem.to_owned(),
            der,
            identity,
        })
    }

    /// The certificate in PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The private key in PEM (PKCS#8). Secret: never log it.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// The certificate in DER.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.der
    }

    /// The private key in DER, as rustls wants it.
    pub fn private_key_der(&self) -> Result<PrivateKeyDer<'static>> {
        PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).map_err(|source| Error::PemInvalid {
            what: "node private key",
            source,
        })
    }

    /// Who this certificate says the node is.
    pub fn identity(&self) -> &PeerIdentity {
        &self.identity
    }

    /// When the certificate starts and ends, in seconds since the epoch.
    pub fn valid_between(&self) -> Result<(i64, i64)> {
        let parsed = parse_certificate(&self.der, "node certificate")?;
        let validity = parsed.validity();
        Ok((
            validity.not_before.timestamp(),
            validity.not_after.timestamp(),
        ))
    }

    /// Writes `node.pem` and `node-key.pem` (mode 0600) into `dir`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        files::write(&dir.join(NODE_CERT_FILE), &self.cert_pem)?;
        files::write(&dir.join(NODE_KEY_FILE), &self.key_pem)
    }

    /// Reads `node.pem` and `node-key.pem` from `dir`.
    pub fn load(dir: &Path) -> Result<Self> {
        let cert_pem = files::read(&dir.join(NODE_CERT_FILE))?;
        let key_pem = files::read(&dir.join(NODE_KEY_FILE))?;
        Self::from_pem(&cert_pem, &key_pem)
    }
}

impl fmt::Debug for NodeCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeCert")
            .field("identity", &self.identity)
            .field("key_pem", &"[secret key elided]")
            .finish()
    }
}

/// Parameters of a node certificate; see [`super::identity`] for where the identity goes.
pub(crate) fn node_params(
    cluster_id: &str,
    node_id: &str,
    role: NodeRole,
    ips: &[IpAddr],
    dns: &[String],
    validity: Duration,
) -> Result<CertificateParams> {
    validate_node_id(node_id)?;
    let (not_before, not_after) = validity_window(validity)?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, node_id);
    name.push(DnType::OrganizationalUnitName, role_ou(role));
    name.push(DnType::OrganizationName, cluster_id);
    let mut params = CertificateParams::default();
    params.distinguished_name = name;
    params.subject_alt_names = node_sans(node_id, role, ips, dns)?;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    // Every node both serves (Raft, agent sessions) and dials other nodes.
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.use_authority_key_identifier_extension = true;
    params.serial_number = Some(random_serial());
    params.not_before = not_before;
    params.not_after = not_after;
    Ok(params)
}

fn node_sans(
    node_id: &str,
    role: NodeRole,
    ips: &[IpAddr],
    dns: &[String],
) -> Result<Vec<SanType>> {
    let ia5 =
        |name: String| Ia5String::try_from(name.clone()).map_err(|_| Error::InvalidDnsName(name));
    let mut sans = vec![
        SanType::DnsName(ia5(node_dns_name(node_id))?),
        SanType::URI(ia5(node_uri(node_id))?),
    ];
    if role == NodeRole::Manager {
        sans.push(SanType::DnsName(ia5(MANAGERS_DNS_NAME.to_owned())?));
    }
    for name in dns {
        sans.push(SanType::DnsName(ia5(name.clone())?));
    }
    sans.extend(ips.iter().copied().map(SanType::IpAddress));
    Ok(sans)
}

/// A random positive 128-bit serial: unique per certificate without any shared counter.
pub(crate) fn random_serial() -> SerialNumber {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    // DER integers are signed; a clear top bit keeps the serial positive as RFC 5280 requires.
    bytes[0] &= 0x7f;
    SerialNumber::from_slice(&bytes)
}

/// `(not_before, not_after)`: from [`CLOCK_SKEW_ALLOWANCE`] ago until `validity` from now.
pub(crate) fn validity_window(validity: Duration) -> Result<(OffsetDateTime, OffsetDateTime)> {
    let invalid = || Error::InvalidValidity(validity);
    if validity.is_zero() {
        return Err(invalid());
    }
    let now = OffsetDateTime::now_utc();
    let not_before = now
        .checked_sub(time::Duration::try_from(CLOCK_SKEW_ALLOWANCE).map_err(|_| invalid())?)
        .ok_or_else(invalid)?;
    let not_after = now
        .checked_add(time::Duration::try_from(validity).map_err(|_| invalid())?)
        .filter(|end| end.year() <= 9999)
        .ok_or_else(invalid)?;
    Ok((not_before, not_after))
}
