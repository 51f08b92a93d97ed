//! Tests of the CA, node certificates, identities and their files (no network).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crds::node::NodeRole;
use x509_parser::extensions::GeneralName;

use super::files::{CA_CERT_FILE, CA_KEY_FILE, NODE_CERT_FILE, NODE_KEY_FILE};
use super::identity::parse_certificate;
use super::node::DEFAULT_NODE_CERT_VALIDITY;
use super::*;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn issue(ca: &ClusterCa, node_id: &str, role: NodeRole) -> NodeCert {
    ca.issue_node_cert(node_id, role, &[LOCALHOST], &[], DEFAULT_NODE_CERT_VALIDITY)
        .expect("node certificate issuance succeeds")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("file exists")
        .permissions()
        .mode()
        & 0o777
}

/// The SANs of a certificate as readable strings.
fn sans(der: &[u8]) -> Vec<String> {
    let cert = parse_certificate(der, "test").expect("issued certificate parses");
    let san = cert
        .subject_alternative_name()
        .expect("SAN extension present")
        .expect("SAN extension present");
    san.value
        .general_names
        .iter()
        .map(|name| match name {
            GeneralName::DNSName(dns) => format!("DNS:{dns}"),
            GeneralName::URI(uri) => format!("URI:{uri}"),
            GeneralName::IPAddress(ip) => format!("IP:{ip:?}"),
            other => format!("{other:?}"),
        })
        .collect()
}

#[test]
fn fingerprint_is_the_sha256_of_the_ca_der_in_lowercase_hex() {
    let ca = ClusterCa::generate("prod").expect("CA generation succeeds");
    let fingerprint = ca.fingerprint();
    assert_eq!(fingerprint.len(), 64);
    assert!(
        fingerprint
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    assert_eq!(fingerprint, ca::fingerprint_of(ca.cert().der()));
    assert_ne!(
        fingerprint,
        ClusterCa::generate("prod")
            .expect("CA generation succeeds")
            .fingerprint()
    );
    assert_eq!(ca.cluster_id(), "prod");
}

#[test]
fn node_certificates_name_the_node_role_and_addresses() {
    let ca = ClusterCa::generate("prod").expect("CA generation succeeds");
    let ips = [LOCALHOST, IpAddr::V6(Ipv6Addr::LOCALHOST)];
    let dns = ["node1.example.com".to_owned()];
    let cert = ca
        .issue_node_cert(
            "node-1",
            NodeRole::Manager,
            &ips,
            &dns,
            DEFAULT_NODE_CERT_VALIDITY,
        )
        .expect("node certificate issuance succeeds");
    let sans = sans(cert.cert_der());
    for expected in [
        "DNS:node-1.nodes.reconciler",
        "URI:reconciler://node/node-1",
        "DNS:managers.reconciler",
        "DNS:node1.example.com",
    ] {
        assert!(
            sans.iter().any(|san| san == expected),
            "{expected} in {sans:?}"
        );
    }
    assert_eq!(sans.iter().filter(|san| san.starts_with("IP:")).count(), 2);
    let identity = peer_identity(cert.cert_der()).expect("identity readable");
    assert_eq!(
        identity,
        PeerIdentity {
            node_id: "node-1".into(),
            role: NodeRole::Manager,
            cluster_id: "prod".into()
        }
    );
    assert_eq!(cert.identity(), &identity);
}

#[test]
fn only_managers_carry_the_managers_name() {
    let ca = ClusterCa::generate("prod").expect("CA generation succeeds");
    let worker = issue(&ca, "w1", NodeRole::Worker);
    assert!(
        !sans(worker.cert_der())
            .iter()
            .any(|s| s.contains("managers"))
    );
    assert_eq!(worker.identity().role, NodeRole::Worker);
}

#[test]
fn invalid_node_ids_and_validities_are_refused() {
    let ca = ClusterCa::generate("prod").expect("CA generation succeeds");
    for bad in ["", "Node1", "-a", "a-", "a.b", "a b", &"x".repeat(64)] {
        let err = ca
            .issue_node_cert(bad, NodeRole::Worker, &[], &[], DEFAULT_NODE_CERT_VALIDITY)
            .expect_err("must be refused");
        assert!(matches!(err, Error::InvalidNodeId(_)), "{bad:?}: {err}");
    }
    let zero = ca.issue_node_cert("a", NodeRole::Worker, &[], &[], std::time::Duration::ZERO);
    assert!(matches!(zero, Err(Error::InvalidValidity(_))));
    assert!(matches!(
        ClusterCa::generate(""),
        Err(Error::InvalidClusterId(_))
    ));
    assert!(matches!(
        ClusterCa::generate("a b"),
        Err(Error::InvalidClusterId(_))
    ));
}

#[test]
fn a_certificate_without_a_node_identity_is_refused() {
    let ca = ClusterCa::generate("prod").expect("CA generation succeeds");
    let err = peer_identity(ca.cert().der()).expect_err("must be refused");
    assert!(matches!(err, Error::MissingNodeId { .. }), "{err}");
    assert!(matches!(
        peer_identity(b"not a certificate"),
        Err(Error::CertificateInvalid { .. })
    ));
}

#[test]
fn ca_pem_round_trip_keeps_issuing_chaining_certificates() {
    let ca = ClusterCa::generate("prod").expect("CA generation succeeds");
    let pem = ca.to_pem();
    let loaded = ClusterCa::from_pem(&pem.cert_pem, &pem.key_pem).expect("PEM round trip");
    assert_eq!(loaded.fingerprint(), ca.fingerprint());
    assert_eq!(loaded.cluster_id(), "prod");
    let cert = issue(&loaded, "n1", NodeRole::Worker);
    let parsed = parse_certificate(cert.cert_der(), "test").expect("issued certificate parses");
    let ca_parsed = parse_certificate(ca.cert().der(), "test").expect("issued certificate parses");
    assert_eq!(parsed.issuer().as_raw(), ca_parsed.subject().as_raw());
    parsed
        .verify_signature(Some(ca_parsed.public_key()))
        .expect("signed by the CA");
}

#[test]
fn a_key_from_another_ca_is_refused() {
    let ca = ClusterCa::generate("prod").expect("CA generation succeeds");
    let other = ClusterCa::generate("prod").expect("CA generation succeeds");
    let err = ClusterCa::from_pem(&ca.to_pem().cert_pem, &other.to_pem().key_pem)
        .expect_err("must be refused");
    assert!(matches!(err, Error::KeyMismatch { what: "CA" }), "{err}");
}

#[test]
fn a_node_certificate_is_not_a_ca() {
    let ca = ClusterCa::generate("prod").expect("CA generation succeeds");
    let node = issue(&ca, "n1", NodeRole::Worker);
    let err = ClusterCa::from_pem(node.cert_pem(), node.key_pem()).expect_err("must be refused");
    assert!(matches!(err, Error::NotACa), "{err}");
    assert!(matches!(
        CaCert::from_pem("garbage"),
        Err(Error::PemInvalid { .. })
    ));
}

#[test]
fn debug_never_shows_private_keys() {
    let ca = ClusterCa::generate("prod").expect("CA generation succeeds");
    let node = issue(&ca, "n1", NodeRole::Worker);
    let pem = ca.to_pem();
    for debug in [format!("{ca:?}"), format!("{pem:?}"), format!("{node:?}")] {
        assert!(!debug.contains("PRIVATE KEY"), "{debug}");
        assert!(debug.contains("elided"), "{debug}");
    }
}

#[test]
fn ca_and_node_files_round_trip_all_0600() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = ClusterCa::generate("prod").expect("CA generation succeeds");
    let node = issue(&ca, "n1", NodeRole::Manager);
    ca.save(dir.path()).expect("save into temp dir");
    node.save(dir.path()).expect("save into temp dir");

    assert_eq!(mode(&dir.path().join(CA_KEY_FILE)), 0o600);
    assert_eq!(mode(&dir.path().join(NODE_KEY_FILE)), 0o600);
    assert_eq!(mode(&dir.path().join(CA_CERT_FILE)), 0o600);
    assert_eq!(mode(&dir.path().join(NODE_CERT_FILE)), 0o600);

    let loaded = ClusterCa::load(dir.path()).expect("load from the files just saved");
    assert_eq!(loaded.fingerprint(), ca.fingerprint());
    assert_eq!(loaded.to_pem().key_pem, ca.to_pem().key_pem);
    assert_eq!(
        CaCert::load(dir.path()).expect("load from the files just saved"),
        *ca.cert()
    );
    let node_loaded = NodeCert::load(dir.path()).expect("load from the files just saved");
    assert_eq!(node_loaded.cert_pem(), node.cert_pem());
    assert_eq!(node_loaded.identity(), node.identity());
}

#[test]
fn saving_again_replaces_files_and_keeps_0600() {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = dir.path().join(CA_KEY_FILE);
    ClusterCa::generate("prod")
        .expect("CA generation succeeds")
        .save(dir.path())
        .expect("save into temp dir");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let second = ClusterCa::generate("prod").expect("CA generation succeeds");
    second.save(dir.path()).expect("save into temp dir");
    assert_eq!(mode(&key), 0o600);
    assert_eq!(
        ClusterCa::load(dir.path())
            .expect("load from the files just saved")
            .fingerprint(),
        second.fingerprint()
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("temp dir readable")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn loading_from_an_empty_directory_names_the_missing_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let err = ClusterCa::load(dir.path()).expect_err("must be refused");
    assert!(err.to_string().contains(CA_CERT_FILE), "{err}");
}
