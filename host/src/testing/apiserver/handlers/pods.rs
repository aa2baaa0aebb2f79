//! Pods' writes: deletion and the policy/v1 eviction subresource, both
//! passed to the backing cluster, whose disruption budgets decide.

use super::super::route::Route;
use super::super::status::ApiError;
use super::super::{Backend, Reply};
use super::{Query, dry_run, success};
use crate::cluster::ClusterError;

impl Backend {
    /// policy/v1 Eviction: a PodDisruptionBudget refusal is 429, as upstream.
    pub(super) async fn evict(&self, ns: &str, name: &str, q: &Query) -> Result<Reply, ApiError> {
        if dry_run(q) {
            return Ok(Reply::Json(201, success(201)));
        }
        match self.cluster.evict_pod(ns, name).await {
            Ok(()) => Ok(Reply::Json(201, success(201))),
            Err(ClusterError::Conflict(m)) => Err(ApiError::new(
                429,
                "TooManyRequests",
                format!("Cannot evict pod as it would violate the pod's disruption budget. ({m})"),
            )
            .about("pods", name)),
            Err(e) => Err(ApiError::from_cluster("pods", name, e)),
        }
    }

    pub(super) async fn delete_pod(
        &self,
        route: &Route,
        ns: &str,
        name: &str,
        q: &Query,
    ) -> Result<Reply, ApiError> {
        let pod = self.get(route, ns, name).await?;
        if !dry_run(q) {
            self.cluster
                .delete_pod(ns, name)
                .await
                .map_err(|e| ApiError::from_cluster("pods", name, e))?;
        }
        Ok(Reply::Json(200, pod))
    }
}
