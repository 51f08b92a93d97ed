//! The cluster PKI: a per-cluster CA, node certificates, join tokens and the rustls
//! configurations that make every manager/agent connection mutual TLS.
//!
//! # How a node joins
//! ```text
//! manager (holds ClusterCa)                      joiner (holds only the token)
//!   TokenStore::generate(ca.fingerprint())
//!   operator copies RCNTKN-1-<ca fp>-w-<secret>-<crc>  ──►  token.parse()  (typos caught here)
//!   tls::server_config_join  ◄── TLS ──  tls::bootstrap_client_config(token.ca_fingerprint())
//!                                         (refuses a manager whose CA is not the pinned one)
//!   TokenStore::verify(token)  ◄── token sent inside the connection
//!   ca.issue_node_cert(id, role, ips, …)  ──►  NodeCert::save(dir), CaCert::save(dir)
//! afterwards: tls::server_config / tls::client_config, mutual TLS with the cluster CA only;
//! servers read who called with tls::peer_identity_of.
//! ```
//!
//! # Layout
//! - [`ca`]: [`ClusterCa`] (generate, load/save, issue node certificates) and [`CaCert`].
//! - [`node`]: [`NodeCert`], a node's certificate and key.
//! - [`identity`]: where a certificate carries the node id and role; [`peer_identity`].
//! - [`token`]: [`JoinToken`] (format, parsing, checksum) and [`TokenStore`] (verify, rotate).
//! - [`tls`]: rustls server/client configs with the ring provider.
//! - [`current`]: [`CurrentCert`], the certificate in force, replaced when it is renewed.
//! - [`renewal`]: when a node certificate is renewed (two thirds into its validity).
//! - [`bootstrap`]: the pinned-CA verifier used by joiners ([`BootstrapRejection`]).
//! - [`files`]: file names and 0600 writes of keys.
//! - [`Error`]: errors about certificate material; `token` and `tls` have their own.
//!
//! Private keys and token secrets never appear in `Debug` output or error messages.

pub mod bootstrap;
pub mod ca;
pub mod current;
mod encoding;
mod error;
pub mod files;
pub mod identity;
pub mod node;
pub mod renewal;
pub mod tls;
pub mod token;
mod token_parse;

pub use bootstrap::BootstrapRejection;
pub use ca::{CaCert, CaPem, ClusterCa};
pub use current::CurrentCert;
pub use error::{Error, Result};
pub use identity::{PeerIdentity, peer_identity};
pub use node::NodeCert;
pub use token::{JoinToken, TokenStore};

#[cfg(test)]
mod ca_test;
#[cfg(test)]
mod tls_test;
