//! cert-manager Issuers and ClusterIssuers through `DynamicObject`: read,
//! and a CA issuer pointed at another Secret with a JSON merge patch of
//! `spec.ca.secretName` alone (the rest of the spec, and the Secret, are
//! left as they are).

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch};
use serde_json::json;

use super::{KubeCluster, check_name, convert};
use crate::cluster::retry::on_conflict;
use crate::cluster::{ClusterError, ClusterResult, IssuerKind, IssuerRef};
use crate::wit::Issuer;

fn issuer_resource(kind: IssuerKind) -> ApiResource {
    let gvk = GroupVersionKind::gvk("cert-manager.io", "v1", kind.as_str());
    ApiResource::from_gvk_with_plural(&gvk, kind.plural())
}

impl KubeCluster {
    fn issuer_api(&self, issuer: &IssuerRef) -> Api<DynamicObject> {
        let ar = issuer_resource(issuer.kind);
        match issuer.namespace() {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &ar),
            None => Api::all_with(self.client.clone(), &ar),
        }
    }

    /// One issuer API call with the backend's retries; a missing CRD is
    /// one error that says so.
    async fn retried_issuer_call<T, F, Fut>(
        &self,
        issuer: &IssuerRef,
        what: &str,
        call: F,
    ) -> ClusterResult<T>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, kube::Error>>,
    {
        let missing = || {
            ClusterError::NotFound(format!(
                "{what}: cert-manager is not installed: no {}.cert-manager.io (install cert-manager, or check the API server's CRDs)",
                issuer.kind.plural()
            ))
        };
        self.retry.run_crd(what, missing, call).await
    }

    async fn issuer_object(&self, issuer: &IssuerRef) -> ClusterResult<DynamicObject> {
        if let Some(ns) = issuer.namespace() {
            check_name("namespace", ns)?;
        }
        check_name(issuer.kind.as_str(), &issuer.name)?;
        let api = self.issuer_api(issuer);
        let what = format!("get {issuer}");
        self.retried_issuer_call(issuer, &what, || api.get(&issuer.name))
            .await
    }

    pub(super) async fn issuer(&self, issuer: &IssuerRef) -> ClusterResult<Issuer> {
        Ok(convert::issuer_record(
            issuer.kind.as_str(),
            &self.issuer_object(issuer).await?,
        ))
    }

    /// Read the issuer (`invalid` when it has no `spec.ca`: a merge patch
    /// would give it a second issuer type), then merge-patch
    /// `spec.ca.secretName`; read again and repeated on a 409.
    pub(super) async fn point_ca_issuer(
        &self,
        issuer: &IssuerRef,
        secret_name: &str,
    ) -> ClusterResult<()> {
        check_name("secret", secret_name)?;
        let api = self.issuer_api(issuer);
        let what = format!("set the CA Secret of {issuer}");
        let patch = Patch::Merge(json!({"spec": {"ca": {"secretName": secret_name}}}));
        on_conflict(&what, || async {
            let current = self.issuer_object(issuer).await?;
            if current.data.pointer("/spec/ca").is_none() {
                return Err(ClusterError::Invalid(format!(
                    "{issuer} is not a CA issuer (no spec.ca): only a CA issuer signs from a Secret"
                )));
            }
            let pp = self.patch_params();
            self.retried_issuer_call(issuer, &what, || api.patch(&issuer.name, &pp, &patch))
                .await
                .map(|_| ())
        })
        .await
    }
}
