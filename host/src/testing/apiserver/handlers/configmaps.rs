//! ConfigMaps other than the progress record: creates and replaces go to
//! the backing cluster with their resourceVersion precondition (a stale one
//! is 409, as upstream), so a policy's write of the trust roots reaches the
//! simulated injector.

use serde_json::Value;

use super::super::status::ApiError;
use super::super::{Backend, Reply, objects};
use super::{Query, dry_run, metadata_pairs, name_of};
use crate::cluster::ClusterError;
use crate::wit::{ConfigMapWrite, KeyValue};

impl Backend {
    pub(super) async fn write_config_map(
        &self,
        ns: &str,
        obj: Value,
        expected: Option<String>,
        q: &Query,
    ) -> Result<Reply, ApiError> {
        let name = name_of(&obj).to_string();
        let data = obj
            .get("data")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(k, v)| KeyValue::new(k, v.as_str().unwrap_or_default()))
            .collect();
        let write = ConfigMapWrite {
            namespace: ns.to_string(),
            name: name.clone(),
            data,
            labels: metadata_pairs(&obj, "labels"),
            annotations: metadata_pairs(&obj, "annotations"),
            expected_resource_version: expected,
        };
        if dry_run(q) {
            return Ok(Reply::Json(200, obj));
        }
        self.cluster
            .write_config_map(write)
            .await
            .map_err(|e| match e {
                ClusterError::Conflict(_) => ApiError::conflict("configmaps", &name),
                e => ApiError::from_cluster("configmaps", &name, e),
            })?;
        let c = self
            .cluster
            .read_config_map(ns, &name)
            .await
            .map_err(|e| ApiError::from_cluster("configmaps", &name, e))?;
        Ok(Reply::Json(200, objects::config_map(&c)))
    }
}
