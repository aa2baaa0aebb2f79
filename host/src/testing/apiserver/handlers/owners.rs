//! Argo Rollouts and StrimziPodSets, the custom owners `restart-owner`
//! patches: one object per owner the backing cluster's pods name (the
//! `Cluster` trait has no records of them), patched only the way rotor's
//! Kubernetes backend patches them, each patch sent on to the backend's
//! `restart_owner`.
//!
//! The fields rotor wrote (`spec.restartAt`, the
//! `strimzi.io/manual-rolling-update` annotation) are kept in the store
//! under `group/plural` and served on the object, so a test reads back what
//! arrived; the controllers' own writes (Argo's `status.restartedAt`,
//! Strimzi removing the annotation) are not served.

use serde_json::{Value, json};

use super::super::route::Route;
use super::super::status::ApiError;
use super::super::{Backend, Reply, store};
use super::{Query, dry_run, store_key};
use crate::cluster::{ROLLOUT, STRIMZI_MANUAL_ROLLING_UPDATE, STRIMZI_POD_SET};
use crate::wit::ObjectRef;

/// (kind, group, version, plural) of a custom owner, as in `crate::cluster`.
type OwnerKind = (&'static str, &'static str, &'static str, &'static str);

/// The custom owner kind served at the route, if any.
pub(super) fn owner_kind(route: &Route) -> Option<OwnerKind> {
    [ROLLOUT, STRIMZI_POD_SET]
        .into_iter()
        .find(|(_, g, _, plural)| *g == route.group && *plural == route.resource)
}

/// Whether `patch` is the one write rotor's Kubernetes backend sends to
/// `kind`: a Rollout's `spec.restartAt` as an RFC 3339 time, or the
/// StrimziPodSet annotation set to "true".
fn is_restart_patch(kind: &str, patch: &Value) -> bool {
    if kind == ROLLOUT.0 {
        let at = patch.pointer("/spec/restartAt").and_then(Value::as_str);
        at.is_some_and(|t| t.parse::<jiff::Timestamp>().is_ok())
            && *patch == json!({"spec": {"restartAt": at}})
    } else {
        *patch == json!({"metadata": {"annotations": {STRIMZI_MANUAL_ROLLING_UPDATE: "true"}}})
    }
}

impl Backend {
    /// The owners of `kind` the backing cluster's pods name in `ns` (every
    /// namespace for `None`), with the fields rotor wrote to them.
    pub(super) async fn owner_objects(
        &self,
        route: &Route,
        kind: OwnerKind,
        ns: Option<&str>,
    ) -> Result<Vec<Value>, ApiError> {
        let pods = self
            .cluster
            .list_pods(ns, "")
            .await
            .map_err(|e| ApiError::from_cluster(kind.3, "", e))?;
        let mut owners: Vec<&ObjectRef> = pods
            .iter()
            .filter_map(|p| p.owner.as_ref())
            .filter(|o| o.kind == kind.0)
            .collect();
        owners.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        owners.dedup();
        let key = store_key(route);
        Ok(owners
            .into_iter()
            .map(|o| {
                let mut obj = json!({
                    "apiVersion": format!("{}/{}", kind.1, kind.2),
                    "kind": kind.0,
                    "metadata": {"name": o.name, "namespace": o.namespace},
                    "spec": {},
                });
                if let Some(mut written) = self.store.get(&key, &o.namespace, &o.name) {
                    if let Some(m) = written["metadata"].as_object_mut() {
                        m.remove("resourceVersion");
                    }
                    store::merge_patch(&mut obj, &written);
                }
                self.versions
                    .stamp(&format!("{}/{}/{}", kind.3, o.namespace, o.name), &mut obj);
                obj
            })
            .collect())
    }

    pub(super) async fn owner_object(
        &self,
        route: &Route,
        kind: OwnerKind,
        ns: &str,
        name: &str,
    ) -> Result<Value, ApiError> {
        self.owner_objects(route, kind, Some(ns))
            .await?
            .into_iter()
            .find(|o| o.pointer("/metadata/name").and_then(Value::as_str) == Some(name))
            .ok_or_else(|| ApiError::not_found(kind.3, name))
    }

    /// A restart patch, sent on to the backend's `restart_owner`; any other
    /// patch is 422, as the test API server applies no other.
    pub(super) async fn restart_owner(
        &self,
        route: &Route,
        kind: OwnerKind,
        ns: &str,
        name: &str,
        q: &Query,
        patch: &Value,
    ) -> Result<Reply, ApiError> {
        let mut current = self.owner_object(route, kind, ns, name).await?;
        if !is_restart_patch(kind.0, patch) {
            return Err(ApiError::new(
                422,
                "Invalid",
                format!(
                    "the test API server applies only restart patches to {} (spec.restartAt, or {STRIMZI_MANUAL_ROLLING_UPDATE}: \"true\"), not {patch}",
                    kind.3
                ),
            )
            .about(kind.3, name));
        }
        if dry_run(q) {
            store::merge_patch(&mut current, patch);
            return Ok(Reply::Json(200, current));
        }
        let owner = ObjectRef {
            kind: kind.0.into(),
            namespace: ns.into(),
            name: name.into(),
        };
        self.cluster
            .restart_owner(&owner)
            .await
            .map_err(|e| ApiError::from_cluster(kind.3, name, e))?;
        let key = store_key(route);
        let mut written = self
            .store
            .get(&key, ns, name)
            .unwrap_or_else(|| json!({"metadata": {"name": name, "namespace": ns}}));
        store::merge_patch(&mut written, patch);
        self.store.put(&key, ns, written, &self.versions);
        Ok(Reply::Json(
            200,
            self.owner_object(route, kind, ns, name).await?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_restart_write_of_each_kind_is_applied() {
        let rollout = json!({"spec": {"restartAt": "2026-06-01T10:00:00Z"}});
        assert!(is_restart_patch("Rollout", &rollout));
        assert!(!is_restart_patch(
            "Rollout",
            &json!({"spec": {"restartAt": "yesterday"}})
        ));
        assert!(!is_restart_patch(
            "Rollout",
            &json!({"spec": {"restartAt": "2026-06-01T10:00:00Z", "replicas": 0}})
        ));
        let strimzi =
            json!({"metadata": {"annotations": {"strimzi.io/manual-rolling-update": "true"}}});
        assert!(is_restart_patch("StrimziPodSet", &strimzi));
        assert!(!is_restart_patch("StrimziPodSet", &rollout));
        assert!(!is_restart_patch("Rollout", &strimzi));
    }
}
