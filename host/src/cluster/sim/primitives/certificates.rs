//! Certificates as the primitives see them (read, list, manual renewal),
//! and signature checks that also accept the simulator's own stand-in
//! certificates, which vouch for each other by fingerprint.

use crate::cluster::sim::pki;
use crate::cluster::sim::world::World;
use crate::cluster::{ClusterError, ClusterResult};
use crate::wit::Certificate;

use super::super::SimCluster;

impl SimCluster {
    pub(in crate::cluster::sim) fn signed_by(
        &self,
        cert_pem: &str,
        issuer_pem: &str,
    ) -> ClusterResult<bool> {
        if crate::x509::verify_signed_by(cert_pem, issuer_pem)? {
            return Ok(true);
        }
        let w = self.lock();
        let known = |pem: &str| {
            let der = pki::pem_blocks(pem).ok()?.into_iter().next()?;
            w.pki.by_fingerprint(&pki::sha256_hex(&der))
        };
        Ok(match (known(cert_pem), known(issuer_pem)) {
            (Some(cert), Some(issuer)) => w.pki.vouched_for(cert, issuer),
            _ => false,
        })
    }

    pub(in crate::cluster::sim) fn certificate(
        &self,
        namespace: &str,
        name: &str,
    ) -> ClusterResult<Certificate> {
        let w = self.lock();
        let id = w.certificate_id(namespace, name)?;
        Ok(w.certificate_view(id))
    }

    pub(in crate::cluster::sim) fn certificates(
        &self,
        namespace: Option<&str>,
    ) -> ClusterResult<Vec<Certificate>> {
        let w = self.lock();
        Ok(w.certificate_index
            .iter()
            .filter(|((ns, _), _)| namespace.is_none_or(|n| n == ns))
            .map(|(_, &id)| w.certificate_view(id))
            .collect())
    }

    pub(in crate::cluster::sim) fn renew(&self, namespace: &str, name: &str) -> ClusterResult<()> {
        let mut w = self.lock();
        let id = w.certificate_id(namespace, name)?;
        w.begin_issuance(
            id,
            "ManuallyTriggered",
            "Certificate re-issuance manually triggered",
        );
        Ok(())
    }
}

impl World {
    fn certificate_id(&self, ns: &str, name: &str) -> ClusterResult<usize> {
        self.certificate_index
            .get(&(ns.to_string(), name.to_string()))
            .copied()
            .ok_or_else(|| ClusterError::NotFound(format!("Certificate {ns}/{name}")))
    }
}
