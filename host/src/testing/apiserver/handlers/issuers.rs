//! Issuers and ClusterIssuers: the backing cluster's record of an issuer
//! (its CA Secret, generation and readiness) laid over the object the
//! store holds, and the one patch the backing cluster takes, a JSON merge
//! patch of `spec.ca.secretName`, so the simulated cert-manager signs
//! from the Secret a client pointed the issuer at.

use serde_json::{Value, json};

use super::super::route::Route;
use super::super::status::ApiError;
use super::super::{Backend, Reply, store};
use super::{Query, dry_run, store_key};
use crate::cluster::{ClusterError, IssuerKind, IssuerRef};
use crate::wit::Issuer;

/// The issuer a route names, if it names one.
pub(super) fn issuer_ref(route: &Route, ns: &str, name: &str) -> Option<IssuerRef> {
    match (route.group.as_str(), route.resource.as_str()) {
        ("cert-manager.io", "issuers") => Some(IssuerRef::namespaced(ns, name)),
        ("cert-manager.io", "clusterissuers") => Some(IssuerRef::cluster(name)),
        _ => None,
    }
}

/// `stored` (or a bare object when the store has none) with what the
/// backing cluster says of the issuer: generation, `spec.ca.secretName`
/// and a `Ready` condition at that generation.
fn overlay(issuer: &Issuer, stored: Option<Value>) -> Value {
    let mut o = stored.unwrap_or_else(|| {
        let mut metadata = json!({"name": issuer.name});
        if !issuer.namespace.is_empty() {
            metadata["namespace"] = json!(issuer.namespace);
        }
        json!({"apiVersion": "cert-manager.io/v1", "kind": issuer.kind,
               "metadata": metadata, "spec": {}})
    });
    o["metadata"]["generation"] = json!(issuer.generation);
    if let Some(secret) = &issuer.ca_secret_name {
        o["spec"]["ca"]["secretName"] = json!(secret);
    }
    let (status, reason) = if issuer.ready {
        ("True", "KeyPairVerified")
    } else {
        ("False", "ErrGetKeyPair")
    };
    o["status"] = json!({"conditions": [{
        "type": "Ready", "status": status, "reason": reason,
        "observedGeneration": issuer.generation,
    }]});
    o
}

impl Backend {
    /// An issuer as the backing cluster has it, else as the store does.
    pub(super) async fn issuer_object(
        &self,
        route: &Route,
        issuer: &IssuerRef,
    ) -> Result<Value, ApiError> {
        let stored = self
            .store
            .get(&store_key(route), &issuer.namespace, &issuer.name);
        match self.cluster.get_issuer(issuer).await {
            Ok(i) => {
                let mut o = overlay(&i, stored);
                let key = format!("{}/{}/{}", route.resource, issuer.namespace, issuer.name);
                self.versions.stamp(&key, &mut o);
                Ok(o)
            }
            Err(ClusterError::NotFound(_)) => {
                stored.ok_or_else(|| ApiError::not_found(&route.resource, &issuer.name))
            }
            Err(e) => Err(ApiError::from_cluster(&route.resource, &issuer.name, e)),
        }
    }

    /// The stored issuers of a list, each with the backing cluster's record.
    pub(super) async fn issuer_objects(
        &self,
        route: &Route,
        ns: Option<&str>,
    ) -> Result<Vec<Value>, ApiError> {
        let kind = match route.resource.as_str() {
            "clusterissuers" => IssuerKind::ClusterIssuer,
            _ => IssuerKind::Issuer,
        };
        let mut out = Vec::new();
        for o in self.store.list(&store_key(route), ns) {
            let name = o["metadata"]["name"].as_str().unwrap_or_default();
            let namespace = o["metadata"]["namespace"].as_str().unwrap_or_default();
            let issuer = IssuerRef {
                kind,
                namespace: namespace.to_string(),
                name: name.to_string(),
            };
            out.push(self.issuer_object(route, &issuer).await?);
        }
        Ok(out)
    }

    /// A merge patch of an issuer. One the backing cluster holds takes
    /// `{"spec":{"ca":{"secretName":...}}}` alone (a non-CA issuer is 422,
    /// as cert-manager's webhook refuses a second issuer type); one only
    /// the store holds is patched there.
    pub(super) async fn patch_issuer(
        &self,
        route: &Route,
        issuer: &IssuerRef,
        q: &Query,
        patch: &Value,
    ) -> Result<Reply, ApiError> {
        let resource = store_key(route);
        let known = match self.cluster.get_issuer(issuer).await {
            Ok(_) => true,
            Err(ClusterError::NotFound(_)) => false,
            Err(e) => return Err(ApiError::from_cluster(&route.resource, &issuer.name, e)),
        };
        let mut preview = self.issuer_object(route, issuer).await?;
        store::merge_patch(&mut preview, patch);
        if dry_run(q) {
            return Ok(Reply::Json(200, preview));
        }
        let patch_stored = || {
            self.store.patch(
                &resource,
                &issuer.namespace,
                &issuer.name,
                patch,
                &self.versions,
            )
        };
        if !known {
            return Ok(Reply::Json(200, patch_stored()?));
        }
        let secret = patch
            .pointer("/spec/ca/secretName")
            .and_then(Value::as_str)
            .filter(|s| *patch == json!({"spec": {"ca": {"secretName": s}}}))
            .ok_or_else(|| {
                ApiError::method_not_allowed(format!(
                    "the test API server patches only spec.ca.secretName of {}",
                    route.resource
                ))
            })?;
        self.cluster
            .set_ca_issuer_secret(issuer, secret)
            .await
            .map_err(|e| ApiError::from_cluster(&route.resource, &issuer.name, e))?;
        // Keep the stored spec (what a list shows) in step.
        if self
            .store
            .get(&resource, &issuer.namespace, &issuer.name)
            .is_some()
        {
            patch_stored()?;
        }
        Ok(Reply::Json(200, self.issuer_object(route, issuer).await?))
    }
}
