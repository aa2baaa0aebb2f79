//! cert-manager issuers as the primitives see them: read, and a CA
//! issuer pointed at another Secret.
//!
//! Readiness imitates cert-manager's issuer controller
//! (`pkg/controller/issuers/sync.go`), which runs the issuer's `Setup` on
//! every change and reports its outcome as `Ready` with the generation it
//! saw. A CA issuer's `Setup` (`pkg/issuer/ca/setup.go`) reads `tls.crt`
//! and `tls.key` of `spec.ca.secretName` in the issuer's namespace (a
//! ClusterIssuer's: the cluster resource namespace) and fails when either
//! is missing; a self-signed issuer's always succeeds. The simulated
//! controller is instant, so `Ready` is computed when read. Pointing an
//! issuer at a Secret that does not exist is accepted, as the API server
//! accepts it: the issuer is then not ready, and a Certificate it signs
//! fails issuance until the Secret appears (`World::issue_as_of`).

use crate::cluster::sim::certmanager::CLUSTER_RESOURCE_NAMESPACE;
use crate::cluster::sim::world::{IssuerRec, World};
use crate::cluster::{ClusterError, ClusterResult, IssuerRef};
use crate::wit::Issuer;

use super::super::SimCluster;

impl SimCluster {
    pub(in crate::cluster::sim) fn issuer(&self, issuer: &IssuerRef) -> ClusterResult<Issuer> {
        let w = self.lock();
        Ok(w.issuer_view(w.issuer_rec(issuer)?))
    }

    /// `spec.ca.secretName` set and the generation bumped; `invalid` (and
    /// nothing changed) for an issuer of another type.
    pub(in crate::cluster::sim) fn point_ca_issuer(
        &self,
        issuer: &IssuerRef,
        secret_name: &str,
    ) -> ClusterResult<()> {
        let mut w = self.lock();
        let key = (issuer.namespace.clone(), issuer.name.clone());
        let Some(rec) = w.issuers.get_mut(&key) else {
            return Err(ClusterError::NotFound(issuer.to_string()));
        };
        let Some(ca) = rec.spec.ca.as_mut() else {
            return Err(ClusterError::Invalid(format!(
                "{issuer} is not a CA issuer (no spec.ca): only a CA issuer signs from a Secret"
            )));
        };
        if ca.secret_name != secret_name {
            ca.secret_name = secret_name.to_string();
            rec.generation += 1;
        }
        Ok(())
    }
}

impl World {
    fn issuer_rec(&self, issuer: &IssuerRef) -> ClusterResult<&IssuerRec> {
        self.issuers
            .get(&(issuer.namespace.clone(), issuer.name.clone()))
            .ok_or_else(|| ClusterError::NotFound(issuer.to_string()))
    }

    /// Where a CA issuer's Secret lives: its own namespace, or for a
    /// ClusterIssuer cert-manager's cluster resource namespace.
    pub(in crate::cluster::sim) fn issuer_secret_namespace(rec: &IssuerRec) -> String {
        rec.namespace
            .clone()
            .unwrap_or_else(|| CLUSTER_RESOURCE_NAMESPACE.to_string())
    }

    /// What cert-manager's `Setup` would report, now.
    fn issuer_ready(&self, rec: &IssuerRec) -> bool {
        if rec.spec.self_signed.is_some() {
            return true;
        }
        let Some(ca) = &rec.spec.ca else {
            return false;
        };
        let key = (Self::issuer_secret_namespace(rec), ca.secret_name.clone());
        self.secrets.get(&key).is_some_and(|s| {
            ["tls.crt", "tls.key"]
                .iter()
                .all(|k| s.data.get(*k).is_some_and(|v| !v.is_empty()))
        })
    }

    fn issuer_view(&self, rec: &IssuerRec) -> Issuer {
        let kind = if rec.namespace.is_some() {
            "Issuer"
        } else {
            "ClusterIssuer"
        };
        Issuer {
            kind: kind.into(),
            namespace: rec.namespace.clone().unwrap_or_default(),
            name: rec.name.clone(),
            ca_secret_name: rec.spec.ca.as_ref().map(|ca| ca.secret_name.clone()),
            generation: rec.generation,
            ready: self.issuer_ready(rec),
        }
    }
}
