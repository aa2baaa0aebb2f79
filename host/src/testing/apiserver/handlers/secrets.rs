//! Secrets: writes go to the backing cluster with their resourceVersion
//! precondition (a stale one is 409, as upstream), deletes with
//! DeleteOptions' preconditions.

use bytes::Bytes;
use serde_json::Value;

use super::super::status::ApiError;
use super::super::{Backend, Reply, objects};
use super::{Query, dry_run, metadata_pairs, name_of, parse_body};
use crate::cluster::ClusterError;
use crate::wit::SecretWrite;

impl Backend {
    pub(super) async fn write_secret(
        &self,
        ns: &str,
        obj: Value,
        expected: Option<String>,
        q: &Query,
    ) -> Result<Reply, ApiError> {
        use base64::Engine as _;
        let name = name_of(&obj).to_string();
        let mut data = Vec::new();
        for (k, v) in obj
            .get("data")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(v.as_str().unwrap_or_default())
                .map_err(|e| {
                    ApiError::new(
                        422,
                        "Invalid",
                        format!("data[{k}]: illegal base64 data: {e}"),
                    )
                    .about("secrets", &name)
                })?;
            data.push((k.clone(), bytes));
        }
        let write = SecretWrite {
            namespace: ns.to_string(),
            name: name.clone(),
            type_: obj
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("Opaque")
                .to_string(),
            data,
            labels: metadata_pairs(&obj, "labels"),
            annotations: metadata_pairs(&obj, "annotations"),
            expected_resource_version: expected,
        };
        if dry_run(q) {
            return Ok(Reply::Json(200, obj));
        }
        self.cluster
            .write_secret(write)
            .await
            .map_err(|e| match e {
                ClusterError::Conflict(_) => ApiError::conflict("secrets", &name),
                e => ApiError::from_cluster("secrets", &name, e),
            })?;
        let s = self
            .cluster
            .read_secret(ns, &name)
            .await
            .map_err(|e| ApiError::from_cluster("secrets", &name, e))?;
        Ok(Reply::Json(200, objects::secret(&s)))
    }

    pub(super) async fn delete_secret(
        &self,
        ns: &str,
        name: &str,
        q: &Query,
        body: &Bytes,
    ) -> Result<Reply, ApiError> {
        let current = self
            .cluster
            .read_secret(ns, name)
            .await
            .map_err(|e| ApiError::from_cluster("secrets", name, e))?;
        // DeleteOptions' preconditions, as the API server checks them.
        let precondition = (!body.is_empty())
            .then(|| parse_body(body))
            .transpose()?
            .and_then(|o| {
                o.pointer("/preconditions/resourceVersion")
                    .and_then(Value::as_str)
                    .map(String::from)
            });
        let version = precondition.unwrap_or_else(|| current.resource_version.clone());
        if !dry_run(q) {
            self.cluster
                .delete_secret(ns, name, &version)
                .await
                .map_err(|e| match e {
                    ClusterError::Conflict(_) => ApiError::conflict("secrets", name),
                    e => ApiError::from_cluster("secrets", name, e),
                })?;
        }
        Ok(Reply::Json(200, objects::secret(&current)))
    }
}
