//! How a node certificate names its node, and how a server reads that name back.
//!
//! A node certificate carries its identity twice, in places a reader cannot confuse:
//! - subject `CN=<node id>, OU=reconciler-manager|reconciler-worker, O=<cluster id>` — the role
//!   lives in the OU, as in Docker Swarm, so it is covered by the CA's signature;
//! - SAN `URI:reconciler://node/<node id>` — the machine-readable node id, and
//!   `DNS:<node id>.nodes.reconciler` so a client can dial a node by id as a TLS server name.
//!
//! Managers also carry `DNS:managers.reconciler`, a name only managers answer to.
//!
//! [`peer_identity`] trusts the certificate it is given: call it only on a certificate rustls
//! has already verified against the cluster CA (e.g. from
//! [`super::tls::peer_identity_of`]).

use crds::node::NodeRole;
use serde::{Deserialize, Serialize};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

use super::error::{Error, Result};

/// Prefix of the URI SAN that names the node: `reconciler://node/<node id>`.
pub const NODE_URI_PREFIX: &str = "reconciler://node/";
/// DNS suffix of a node's own name: `<node id>.nodes.reconciler`.
pub const NODE_DNS_SUFFIX: &str = "nodes.reconciler";
/// DNS name every manager certificate carries, for clients that want "any manager".
pub const MANAGERS_DNS_NAME: &str = "managers.reconciler";
/// Subject OU of manager certificates.
pub const MANAGER_OU: &str = "reconciler-manager";
/// Subject OU of worker certificates.
pub const WORKER_OU: &str = "reconciler-worker";

/// Who is on the other end of a verified connection, as its certificate says.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PeerIdentity {
    /// The node id (a DNS label).
    pub node_id: String,
    /// Manager or worker.
    pub role: NodeRole,
    /// The cluster the issuing CA belongs to (the subject's O).
    pub cluster_id: String,
}

/// Checks that a node id can be used as a DNS label: 1–63 of `[a-z0-9-]`, no leading or
/// trailing `-`. Lowercase only, so one node has exactly one spelling in certificates.
pub fn validate_node_id(node_id: &str) -> Result<()> {
    let chars_ok = node_id
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let ends_ok = !node_id.starts_with('-') && !node_id.ends_with('-');
    if (1..=63).contains(&node_id.len()) && chars_ok && ends_ok {
        Ok(())
    } else {
        Err(Error::InvalidNodeId(node_id.to_owned()))
    }
}

/// The DNS name a node's certificate carries: `<node id>.nodes.reconciler`.
pub fn node_dns_name(node_id: &str) -> String {
    format!("{node_id}.{NODE_DNS_SUFFIX}")
}

/// The URI SAN a node's certificate carries: `reconciler://node/<node id>`.
pub fn node_uri(node_id: &str) -> String {
    format!("{NODE_URI_PREFIX}{node_id}")
}

/// The subject OU that encodes `role`.
pub fn role_ou(role: NodeRole) -> &'static str {
    match role {
        NodeRole::Manager => MANAGER_OU,
        NodeRole::Worker => WORKER_OU,
    }
}

/// Reads the node id, role and cluster id from a DER certificate issued by [`super::ClusterCa`].
///
/// It does not verify the certificate: rustls must have done that first.
pub fn peer_identity(cert_der: &[u8]) -> Result<PeerIdentity> {
    let cert = parse_certificate(cert_der, "peer certificate")?;
    let node_id = node_id_of(&cert)?;
    let common_names = attribute_strings(cert.subject().iter_common_name())?;
    if common_names != [node_id.as_str()] {
        return Err(Error::AmbiguousIdentity(format!(
            "subject CN {common_names:?} differs from the URI node id {node_id:?}"
        )));
    }
    Ok(PeerIdentity {
        role: role_of(&cert)?,
        cluster_id: cluster_id_of(&cert)?,
        node_id,
    })
}

/// Parses DER into an X.509 certificate, refusing trailing bytes.
pub(crate) fn parse_certificate<'a>(
    der: &'a [u8],
    what: &'static str,
) -> Result<X509Certificate<'a>> {
    let invalid = |reason: String| Error::CertificateInvalid { what, reason };
    match x509_parser::parse_x509_certificate(der) {
        Ok((rest, _)) if !rest.is_empty() => Err(invalid(format!(
            "{} unexpected bytes after the certificate",
            rest.len()
        ))),
        Ok((_, cert)) => Ok(cert),
        Err(err) => Err(invalid(err.to_string())),
    }
}

/// The cluster id of a certificate: its subject's single O attribute.
pub(crate) fn cluster_id_of(cert: &X509Certificate<'_>) -> Result<String> {
    match attribute_strings(cert.subject().iter_organization())?.as_slice() {
        [one] => Ok((*one).to_owned()),
        other => Err(Error::AmbiguousIdentity(format!(
            "expected one subject O (the cluster id), found {other:?}"
        ))),
    }
}

/// The node id from the certificate's single `reconciler://node/` URI SAN.
fn node_id_of(cert: &X509Certificate<'_>) -> Result<String> {
    let missing = Error::MissingNodeId {
        prefix: NODE_URI_PREFIX,
    };
    let san = cert
        .subject_alternative_name()
        .map_err(|err| Error::CertificateInvalid {
            what: "peer certificate",
            reason: err.to_string(),
        })?
        .ok_or(missing)?;
    let ids: Vec<&str> = san
        .value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::URI(uri) => uri.strip_prefix(NODE_URI_PREFIX),
            _ => None,
        })
        .collect();
    match ids.as_slice() {
        [] => Err(Error::MissingNodeId {
            prefix: NODE_URI_PREFIX,
        }),
        [one] => {
            validate_node_id(one)?;
            Ok((*one).to_owned())
        }
        many => Err(Error::AmbiguousIdentity(format!(
            "several node URIs: {many:?}"
        ))),
    }
}

/// The role from the subject OU; any OU that is not a reconciler role is ignored.
fn role_of(cert: &X509Certificate<'_>) -> Result<NodeRole> {
    let roles: Vec<NodeRole> = attribute_strings(cert.subject().iter_organizational_unit())?
        .into_iter()
        .filter_map(|ou| match ou {
            MANAGER_OU => Some(NodeRole::Manager),
            WORKER_OU => Some(NodeRole::Worker),
            _ => None,
        })
        .collect();
    match roles.as_slice() {
        [one] => Ok(*one),
        [] => Err(Error::MissingRole {
            manager: MANAGER_OU,
            worker: WORKER_OU,
        }),
        many => Err(Error::AmbiguousIdentity(format!("several roles: {many:?}"))),
    }
}

fn attribute_strings<'a, 'b>(
    attributes: impl Iterator<Item = &'b x509_parser::x509::AttributeTypeAndValue<'a>>,
) -> Result<Vec<&'a str>>
where
    'a: 'b,
{
    attributes
        .map(|attr| {
            attr.as_str().map_err(|err| Error::CertificateInvalid {
                what: "peer certificate",
                reason: format!("a subject attribute is not a string: {err}"),
            })
        })
        .collect()
}
