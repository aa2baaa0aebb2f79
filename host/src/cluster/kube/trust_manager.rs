//! Reading trust-manager's set-up from the API server (see
//! `cluster::trust_manager`): the Bundle and the ClusterBundle named like
//! the trust-roots ConfigMap, through the dynamic API because either CRD
//! may be missing, and the `--target-namespaces` of trust-manager's
//! Deployment, found by its chart's label.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use serde_json::Value;

use super::KubeCluster;
use crate::cluster::selector::Selector;
use crate::cluster::trust_manager::{
    BundleWriter, TRUST_MANAGER_LABEL, TrustManagerSetup, target_namespaces,
};
use crate::cluster::{ClusterError, ClusterResult};
use crate::linkerd::TRUST_ROOTS;

/// (group, version, kind, plural) of the two bundle APIs.
const BUNDLE_APIS: [(&str, &str, &str, &str); 2] = [
    ("trust.cert-manager.io", "v1alpha1", "Bundle", "bundles"),
    (
        "trust-manager.io",
        "v1alpha2",
        "ClusterBundle",
        "clusterbundles",
    ),
];

fn text(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// A selector as its string form; absent selects every namespace.
fn selector_text(v: Option<&Value>) -> Result<String, String> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(String::new());
    };
    let s: LabelSelector = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
    let labels = s.match_labels.unwrap_or_default();
    let exprs = s.match_expressions.unwrap_or_default();
    Selector::from_label_selector(
        &labels,
        exprs.iter().map(|e| {
            (
                e.key.as_str(),
                e.operator.as_str(),
                e.values.as_deref().unwrap_or_default(),
            )
        }),
    )
    .map(|s| s.to_string())
}

/// One bundle object, in either API's shape.
fn writer(kind: &str, obj: &Value) -> BundleWriter {
    let empty = Vec::new();
    let list = |p: &str| {
        obj.pointer(p)
            .and_then(Value::as_array)
            .unwrap_or(&empty)
            .clone()
    };
    let (secret_sources, target_key) = if kind == "Bundle" {
        let sources = list("/spec/sources")
            .iter()
            .filter_map(|s| Some((text(s, "/secret/name")?, text(s, "/secret/key")?)))
            .collect();
        (sources, text(obj, "/spec/target/configMap/key"))
    } else {
        let sources = list("/spec/sourceRefs")
            .iter()
            .filter(|s| text(s, "/kind").as_deref() == Some("Secret"))
            .filter_map(|s| Some((text(s, "/name")?, text(s, "/key")?)))
            .collect();
        let key = list("/spec/target/configMap/data")
            .iter()
            .find(|d| text(d, "/format").is_none_or(|f| f == "PEM"))
            .and_then(|d| text(d, "/key"));
        (sources, key)
    };
    BundleWriter {
        kind: kind.to_string(),
        name: text(obj, "/metadata/name").unwrap_or_default(),
        secret_sources,
        target_key,
        namespace_selector: selector_text(obj.pointer("/spec/target/namespaceSelector")),
        synced: list("/status/conditions")
            .iter()
            .find(|c| text(c, "/type").as_deref() == Some("Synced"))
            .and_then(|c| text(c, "/status")),
    }
}

impl KubeCluster {
    pub(super) async fn read_trust_manager_setup(&self) -> ClusterResult<TrustManagerSetup> {
        let mut bundles = Vec::new();
        for (group, version, kind, plural) in BUNDLE_APIS {
            let gvk = GroupVersionKind::gvk(group, version, kind);
            let ar = ApiResource::from_gvk_with_plural(&gvk, plural);
            let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &ar);
            let what = format!("get {plural} {TRUST_ROOTS}");
            match self.retry.run(&what, || api.get(TRUST_ROOTS)).await {
                Ok(o) => {
                    let v = serde_json::to_value(o)
                        .map_err(|e| ClusterError::Internal(format!("{what}: {e}")))?;
                    bundles.push(writer(kind, &v));
                }
                // The object, or the API itself, is not there.
                Err(ClusterError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(TrustManagerSetup {
            bundles,
            target_namespaces: self.trust_manager_target_namespaces().await?,
        })
    }

    /// `--target-namespaces` of the Deployment trust-manager's chart
    /// labels, if one runs with it.
    pub(super) async fn trust_manager_target_namespaces(
        &self,
    ) -> ClusterResult<Option<Vec<String>>> {
        let deployments: Api<Deployment> = Api::all(self.client.clone());
        let lp = ListParams::default().labels(TRUST_MANAGER_LABEL);
        let found = self
            .retry
            .run("list trust-manager deployments", || deployments.list(&lp))
            .await?;
        Ok(found
            .items
            .iter()
            .flat_map(|d| d.spec.as_ref().and_then(|s| s.template.spec.as_ref()))
            .flat_map(|s| &s.containers)
            .find_map(|c| target_namespaces(c.args.as_deref().unwrap_or_default())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_shapes_read_alike() {
        let bundle = json!({
            "metadata": {"name": "linkerd-identity-trust-roots"},
            "spec": {
                "sources": [{"secret": {"name": "anchor", "key": "tls.crt"}}, {"inLine": "x"}],
                "target": {"configMap": {"key": "ca-bundle.crt"},
                           "namespaceSelector": {"matchLabels": {"linkerd.io/is-control-plane": "true"}}}
            },
            "status": {"conditions": [{"type": "Synced", "status": "True"}]}
        });
        let w = writer("Bundle", &bundle);
        assert_eq!(w.secret_sources, vec![("anchor".into(), "tls.crt".into())]);
        assert_eq!(w.target_key.as_deref(), Some("ca-bundle.crt"));
        assert_eq!(
            w.namespace_selector.as_deref(),
            Ok("linkerd.io/is-control-plane=true")
        );
        assert_eq!(w.synced.as_deref(), Some("True"));

        let cluster_bundle = json!({
            "metadata": {"name": "linkerd-identity-trust-roots"},
            "spec": {
                "sourceRefs": [{"kind": "Secret", "name": "anchor", "key": "tls.crt"},
                               {"kind": "ConfigMap", "name": "other", "key": "ca.crt"}],
                "target": {"configMap": {"data": [{"key": "store.p12", "format": "PKCS12"}, {"key": "ca-bundle.crt"}]},
                           "namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["linkerd"]}]}}
            }
        });
        let w = writer("ClusterBundle", &cluster_bundle);
        assert_eq!(w.secret_sources, vec![("anchor".into(), "tls.crt".into())]);
        assert_eq!(w.target_key.as_deref(), Some("ca-bundle.crt"));
        assert_eq!(
            w.namespace_selector.as_deref(),
            Ok("kubernetes.io/metadata.name in (linkerd)")
        );
        assert_eq!(w.synced, None);
    }
}
