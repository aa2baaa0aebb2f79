//! `restart-owner` against a real API server: the one write each custom
//! controller reads as "restart your pods", through `DynamicObject` (no
//! generated types for Argo Rollouts or Strimzi).
//!
//! - A `Rollout` (argoproj.io/v1alpha1) gets a merge patch of
//!   `spec.restartAt`, an RFC 3339 UTC time, as `kubectl argo rollouts
//!   restart` writes it (argo-rollouts, `docs/features/restart.md`).
//! - A `StrimziPodSet` (core.strimzi.io/v1beta2) gets the annotation
//!   `strimzi.io/manual-rolling-update: "true"` (Strimzi's documentation,
//!   "Managing rolling updates"; strimzi-kafka-operator, `Annotations.java`).
//!
//! A merge patch of one field needs no read first: writing it twice writes
//! the same request again.

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch};
use serde_json::{Value, json};

use super::{KubeCluster, check_name, qualified};
use crate::cluster::{
    ClusterError, ClusterResult, ROLLOUT, STRIMZI_MANUAL_ROLLING_UPDATE, STRIMZI_POD_SET,
    check_owner_kind,
};
use crate::wit::{ObjectRef, Timestamp};

/// The API resource of a kind `restart-owner` knows.
fn owner_resource(kind: &str) -> ApiResource {
    let (kind, group, version, plural) = if kind == ROLLOUT.0 {
        ROLLOUT
    } else {
        STRIMZI_POD_SET
    };
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

/// The merge patch that asks `kind`'s controller for a restart at `stamp`.
pub fn restart_patch(kind: &str, stamp: &str) -> Value {
    if kind == ROLLOUT.0 {
        json!({"spec": {"restartAt": stamp}})
    } else {
        json!({"metadata": {"annotations": {STRIMZI_MANUAL_ROLLING_UPDATE: "true"}}})
    }
}

impl KubeCluster {
    pub(super) async fn restart_owner_object(&self, owner: &ObjectRef) -> ClusterResult<Timestamp> {
        check_owner_kind(&owner.kind)?;
        check_name("namespace", &owner.namespace)?;
        let ar = owner_resource(&owner.kind);
        check_name(&ar.plural, &owner.name)?;
        let now = self.clock.now().await;
        let stamp = jiff::Timestamp::from_second(now)
            .map_err(|e| ClusterError::Internal(format!("clock out of range: {e}")))?
            .to_string();
        let body = restart_patch(&owner.kind, &stamp);
        let patch = Patch::Merge(&body);
        let pp = self.patch_params();
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), &owner.namespace, &ar);
        let what = format!(
            "restart {}.{} {}",
            ar.plural,
            ar.group,
            qualified(&owner.namespace, &owner.name)
        );
        let missing = || {
            ClusterError::NotFound(format!(
                "no {}.{} on this API server: the {} CRD is not installed",
                ar.plural, ar.group, owner.kind
            ))
        };
        self.retry
            .run_crd(&what, missing, || api.patch(&owner.name, &pp, &patch))
            .await?;
        Ok(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_gets_the_write_its_controller_reads() {
        assert_eq!(
            restart_patch("Rollout", "2026-06-01T10:00:00Z"),
            json!({"spec": {"restartAt": "2026-06-01T10:00:00Z"}})
        );
        assert_eq!(
            restart_patch("StrimziPodSet", "2026-06-01T10:00:00Z"),
            json!({"metadata": {"annotations": {"strimzi.io/manual-rolling-update": "true"}}})
        );
        assert_eq!(
            owner_resource("Rollout").api_version,
            "argoproj.io/v1alpha1"
        );
        assert_eq!(owner_resource("StrimziPodSet").plural, "strimzipodsets");
    }
}
