//! A pod's `/metrics` through the API server's pod proxy
//! (`GET /api/v1/namespaces/{ns}/pods/{name}:{port}/proxy/metrics`), as a
//! Prometheus scrape through the API server reads it: kube-rs has no call
//! for the proxy subresource, so the request is built here. The RBAC it
//! needs is `get` on `pods/proxy` in the pod's namespace.

use super::{KubeCluster, check_name, qualified};
use crate::cluster::{ClusterResult, check_metrics_size};

impl KubeCluster {
    pub(super) async fn pod_metrics(
        &self,
        namespace: &str,
        name: &str,
        port: u16,
    ) -> ClusterResult<String> {
        check_name("namespace", namespace)?;
        check_name("pod", name)?;
        let what = format!(
            "read metrics of pod {} port {port}",
            qualified(namespace, name)
        );
        let path = format!("/api/v1/namespaces/{namespace}/pods/{name}:{port}/proxy/metrics");
        let text = self
            .retry
            .run(&what, || {
                let request = http::Request::get(&path).body(Vec::new());
                let client = self.client.clone();
                async move {
                    let request = request.map_err(|e| {
                        kube::Error::BuildRequest(kube::core::request::Error::BuildRequest(e))
                    })?;
                    client.request_text(request).await
                }
            })
            .await?;
        check_metrics_size(&what, text)
    }
}
