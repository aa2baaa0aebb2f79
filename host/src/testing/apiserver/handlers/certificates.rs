//! Certificates' status subresource: cmctl's renew, the one write to a
//! Certificate the backing cluster takes.

use bytes::Bytes;
use serde_json::Value;

use super::super::route::Route;
use super::super::status::ApiError;
use super::super::{Backend, Reply};
use super::{Query, dry_run, parse_body};

impl Backend {
    /// cmctl's renew: an update of a Certificate's status that adds
    /// `Issuing=True` triggers the backing cluster's renewal.
    pub(super) async fn update_status(
        &self,
        route: &Route,
        ns: &str,
        name: &str,
        q: &Query,
        body: &Bytes,
    ) -> Result<Reply, ApiError> {
        let obj = parse_body(body)?;
        if route.resource != "certificates" {
            return Err(ApiError::method_not_allowed(format!(
                "status of {} cannot be written here",
                route.resource
            )));
        }
        let current = self.get(route, ns, name).await?;
        let rv = obj
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str);
        if rv.is_some()
            && rv
                != current
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
        {
            return Err(ApiError::conflict("certificates.cert-manager.io", name));
        }
        let issuing = |o: &Value| {
            o.pointer("/status/conditions")
                .and_then(Value::as_array)
                .is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c["type"] == "Issuing" && c["status"] == "True")
                })
        };
        if issuing(&obj) && !issuing(&current) && !dry_run(q) {
            self.cluster
                .renew_certificate(ns, name)
                .await
                .map_err(|e| ApiError::from_cluster("certificates", name, e))?;
        }
        Ok(Reply::Json(
            200,
            if dry_run(q) {
                obj
            } else {
                self.get(route, ns, name).await?
            },
        ))
    }
}
