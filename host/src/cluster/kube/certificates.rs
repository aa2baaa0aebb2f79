//! cert-manager Certificates through `DynamicObject` (no generated types),
//! and renewal the way `cmctl renew` does it.

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use serde_json::{Value, json};

use super::{KubeCluster, check_name, convert, qualified};
use crate::cluster::retry::on_conflict;
use crate::cluster::{ClusterError, ClusterResult};
use crate::wit::Certificate;

fn certificate_resource() -> ApiResource {
    let gvk = GroupVersionKind::gvk("cert-manager.io", "v1", "Certificate");
    ApiResource::from_gvk_with_plural(&gvk, "certificates")
}

fn not_installed() -> ClusterError {
    ClusterError::NotFound(
        "cert-manager is not installed: no certificates.cert-manager.io (install cert-manager, or check the API server's CRDs)".into(),
    )
}

impl KubeCluster {
    fn certificate_api(&self, namespace: Option<&str>) -> Api<DynamicObject> {
        let ar = certificate_resource();
        match namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &ar),
            None => Api::all_with(self.client.clone(), &ar),
        }
    }

    /// One Certificate API call with the backend's retries; when it fails
    /// because the Certificate CRD is not installed, one error that says so.
    async fn retried_certificate_call<T, F, Fut>(&self, what: &str, call: F) -> ClusterResult<T>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, kube::Error>>,
    {
        self.retry.run_crd(what, not_installed, call).await
    }

    async fn get_certificate_object(
        &self,
        namespace: &str,
        name: &str,
    ) -> ClusterResult<DynamicObject> {
        check_name("namespace", namespace)?;
        check_name("certificate", name)?;
        let api = self.certificate_api(Some(namespace));
        let what = format!("get certificate {}", qualified(namespace, name));
        self.retried_certificate_call(&what, || api.get(name)).await
    }

    pub(super) async fn certificate(
        &self,
        namespace: &str,
        name: &str,
    ) -> ClusterResult<Certificate> {
        Ok(convert::certificate_record(
            &self.get_certificate_object(namespace, name).await?,
        ))
    }

    pub(super) async fn certificates(
        &self,
        namespace: Option<&str>,
    ) -> ClusterResult<Vec<Certificate>> {
        if let Some(ns) = namespace {
            check_name("namespace", ns)?;
        }
        let api = self.certificate_api(namespace);
        let lp = ListParams::default();
        let list = self
            .retried_certificate_call("list certificates", || api.list(&lp))
            .await?;
        let mut out: Vec<Certificate> =
            list.items.iter().map(convert::certificate_record).collect();
        out.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        Ok(out)
    }

    /// Set `Issuing=True`, reason `ManuallyTriggered`, by updating the status
    /// subresource with the resourceVersion read (a merge patch would replace
    /// the whole conditions list and drop `Ready`); re-read on 409.
    pub(super) async fn renew(&self, namespace: &str, name: &str) -> ClusterResult<()> {
        let api = self.certificate_api(Some(namespace));
        let what = format!("renew certificate {}", qualified(namespace, name));
        on_conflict(&what, || async {
            let mut obj = self.get_certificate_object(namespace, name).await?;
            let now = jiff::Timestamp::from_second(self.clock.now().await)
                .map_err(|e| ClusterError::Internal(format!("clock out of range: {e}")))?;
            let generation = obj.metadata.generation;
            set_issuing(&mut obj, generation, &now.to_string());
            let pp = self.post_params();
            self.retry
                .run(&what, || api.replace_status(name, &pp, &obj))
                .await
                .map(|_| ())
        })
        .await
    }
}

/// Replace any `Issuing` condition with cmctl's manual trigger, keeping the rest.
fn set_issuing(obj: &mut DynamicObject, generation: Option<i64>, now: &str) {
    let status = obj
        .data
        .as_object_mut()
        .map(|d| d.entry("status").or_insert_with(|| json!({})));
    let Some(status) = status else { return };
    if !status.is_object() {
        *status = json!({});
    }
    let conditions = status
        .as_object_mut()
        .map(|s| s.entry("conditions").or_insert_with(|| json!([])));
    let Some(conditions) = conditions else { return };
    if !conditions.is_array() {
        *conditions = json!([]);
    }
    if let Some(list) = conditions.as_array_mut() {
        list.retain(|c| c.get("type").and_then(Value::as_str) != Some("Issuing"));
        let mut c = json!({
            "type": "Issuing",
            "status": "True",
            "reason": "ManuallyTriggered",
            "message": "Certificate re-issuance manually triggered",
            "lastTransitionTime": now,
        });
        if let Some(g) = generation {
            c["observedGeneration"] = json!(g);
        }
        list.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_issuing_keeps_ready_and_replaces_old_issuing() {
        let mut obj: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": "a", "namespace": "b", "generation": 3},
            "status": {"conditions": [
                {"type": "Ready", "status": "True"},
                {"type": "Issuing", "status": "False", "reason": "Failed"}
            ]}
        }))
        .unwrap();
        set_issuing(&mut obj, Some(3), "2026-01-01T00:00:00Z");
        let conds = obj.data["status"]["conditions"].as_array().unwrap();
        assert_eq!(conds.len(), 2);
        assert_eq!(conds[0]["type"], "Ready");
        assert_eq!(conds[1]["reason"], "ManuallyTriggered");
        assert_eq!(
            conds[1]["message"],
            "Certificate re-issuance manually triggered"
        );
        assert_eq!(conds[1]["observedGeneration"], 3);
    }

    #[test]
    fn a_bare_404_is_a_missing_crd() {
        let s = kube::core::Status::failure("404 page not found", "Failed to parse error data")
            .with_code(404);
        assert!(super::super::error::missing_crd(&kube::Error::Api(
            Box::new(s)
        )));
        let s =
            kube::core::Status::failure("certificates \"x\" not found", "NotFound").with_code(404);
        assert!(!super::super::error::missing_crd(&kube::Error::Api(
            Box::new(s)
        )));
    }
}
