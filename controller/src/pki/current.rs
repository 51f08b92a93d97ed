//! The node's certificate in force, replaceable while the node runs: the servers and clients
//! built on it present a renewed certificate from their next handshake on, with no restart and
//! no connection dropped (connections already open stay authenticated by their handshake).

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use rustls::SignatureScheme;
use rustls::client::ResolvesClientCert;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::ca::CaCert;
use super::node::NodeCert;
use super::tls::{self, Error};

/// The certificate and key a node presents, shared by its TLS configs.
pub struct CurrentCert {
    state: RwLock<(NodeCert, Arc<CertifiedKey>)>,
}

impl CurrentCert {
    /// `node`'s certificate (sent with `ca`'s, which joiners pin) as the one in force.
    pub fn new(ca: &CaCert, node: &NodeCert) -> Result<Arc<CurrentCert>, Error> {
        Ok(Arc::new(CurrentCert {
            state: RwLock::new((node.clone(), certified(ca, node)?)),
        }))
    }

    /// Puts `node` in force for every later handshake.
    pub fn replace(&self, ca: &CaCert, node: &NodeCert) -> Result<(), Error> {
        let key = certified(ca, node)?;
        *self.state.write().unwrap_or_else(PoisonError::into_inner) = (node.clone(), key);
        Ok(())
    }

    /// The certificate in force.
    pub fn node(&self) -> NodeCert {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .0
            .clone()
    }

    fn key(&self) -> Arc<CertifiedKey> {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .1
            .clone()
    }
}

fn certified(ca: &CaCert, node: &NodeCert) -> Result<Arc<CertifiedKey>, Error> {
    let chain = vec![node.cert_der().clone(), ca.der().clone()];
    CertifiedKey::from_der(chain, node.private_key_der()?, &tls::crypto_provider())
        .map(Arc::new)
        .map_err(|source| Error::ConfigFailed {
            side: "certificate",
            source,
        })
}

impl fmt::Debug for CurrentCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CurrentCert")
            .field("node", &self.node())
            .finish()
    }
}

impl ResolvesServerCert for CurrentCert {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.key())
    }
}

impl ResolvesClientCert for CurrentCert {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(self.key())
    }

    fn has_certs(&self) -> bool {
        true
    }
}
