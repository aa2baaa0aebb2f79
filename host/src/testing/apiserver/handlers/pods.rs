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

    /// `pods/{name}:{port}/proxy/metrics`: the backend's `/metrics` of the
    /// pod, as the API server relays a pod's answer. Other paths are not
    /// served.
    pub(super) async fn pod_proxy(
        &self,
        ns: &str,
        name_port: &str,
        path: &str,
    ) -> Result<Reply, ApiError> {
        let (name, port) = match name_port
            .rsplit_once(':')
            .map(|(n, p)| (n, p.parse::<u16>()))
        {
            Some((name, Ok(port))) => (name, port),
            _ => {
                return Err(ApiError::new(
                    400,
                    "BadRequest",
                    format!("pod proxy: {name_port:?} names no port"),
                ));
            }
        };
        if path != "/metrics" {
            return Err(ApiError::new(
                404,
                "NotFound",
                format!("the test API server proxies only /metrics, not {path}"),
            ));
        }
        match self.cluster.get_pod_metrics(ns, name, port).await {
            Ok(text) => Ok(Reply::Text(200, text)),
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
