//! rotor's progress record: its `rotor-progress` ConfigMap in rotor's
//! namespace maps onto the backing cluster's progress record, so a
//! rotation over the wire resumes as it would in a real cluster.

use serde_json::{Value, json};

use super::super::route::Route;
use super::super::status::ApiError;
use super::super::{Backend, Reply, store};
use super::{Query, dry_run};
use crate::cluster::kube::progress::{PROGRESS_CONFIG_MAP, PROGRESS_KEY};

impl Backend {
    pub(super) fn is_progress(&self, route: &Route, ns: &str, name: &str) -> bool {
        route.group.is_empty()
            && route.resource == "configmaps"
            && ns == self.opts.rotor_namespace
            && name == PROGRESS_CONFIG_MAP
    }

    pub(super) async fn progress_object(&self) -> Result<Option<Value>, ApiError> {
        let ns = &self.opts.rotor_namespace;
        let Some(v) = self
            .cluster
            .load_progress()
            .await
            .map_err(|e| ApiError::from_cluster("configmaps", PROGRESS_CONFIG_MAP, e))?
        else {
            return Ok(None);
        };
        let mut obj = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": PROGRESS_CONFIG_MAP, "namespace": ns},
            "data": {PROGRESS_KEY: v},
        });
        self.versions
            .stamp(&format!("configmaps/{ns}/{PROGRESS_CONFIG_MAP}"), &mut obj);
        Ok(Some(obj))
    }

    /// Save the record `obj` holds; answer with the record as saved.
    pub(super) async fn put_progress(
        &self,
        obj: Value,
        name: &str,
        q: &Query,
        code: u16,
    ) -> Result<Reply, ApiError> {
        let value = obj
            .pointer(&format!("/data/{PROGRESS_KEY}"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !dry_run(q) {
            self.cluster
                .save_progress(value)
                .await
                .map_err(|e| ApiError::from_cluster("configmaps", name, e))?;
        }
        Ok(Reply::Json(
            code,
            self.progress_object().await?.unwrap_or(obj),
        ))
    }

    /// A merge patch of the record.
    pub(super) async fn patch_progress(
        &self,
        name: &str,
        q: &Query,
        patch: &Value,
    ) -> Result<Reply, ApiError> {
        let mut current = self
            .progress_object()
            .await?
            .ok_or_else(|| ApiError::not_found("configmaps", name))?;
        store::merge_patch(&mut current, patch);
        self.put_progress(current, name, q, 200).await
    }

    pub(super) async fn delete_progress(&self, name: &str, q: &Query) -> Result<Reply, ApiError> {
        let obj = self
            .progress_object()
            .await?
            .ok_or_else(|| ApiError::not_found("configmaps", name))?;
        if !dry_run(q) {
            self.cluster
                .clear_progress()
                .await
                .map_err(|e| ApiError::from_cluster("configmaps", name, e))?;
        }
        Ok(Reply::Json(200, obj))
    }
}
