//! Reading the live cluster, read-only, as a scenario the simulator loads:
//! what `rotor plan` runs a policy against. Each kind becomes one `List`
//! document, the way `kubectl get -o yaml` prints it. Secrets are read by
//! name only (those the Certificates name, and the previous anchor), never
//! listed.

use std::collections::BTreeSet;

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use serde_json::{Value, json};

use super::{KubeCluster, check_name};
use crate::cluster::{ClusterError, ClusterResult};

/// (group, version, kind, plural, required: a missing CRD is an error)
const KINDS: &[(&str, &str, &str, &str, bool)] = &[
    ("", "v1", "Namespace", "namespaces", true),
    ("apps", "v1", "Deployment", "deployments", true),
    ("apps", "v1", "StatefulSet", "statefulsets", true),
    ("apps", "v1", "DaemonSet", "daemonsets", true),
    ("apps", "v1", "ReplicaSet", "replicasets", true),
    ("", "v1", "Pod", "pods", true),
    ("cert-manager.io", "v1", "Certificate", "certificates", true),
    ("cert-manager.io", "v1", "Issuer", "issuers", false),
    (
        "cert-manager.io",
        "v1",
        "ClusterIssuer",
        "clusterissuers",
        false,
    ),
    (
        "trust.cert-manager.io",
        "v1alpha1",
        "Bundle",
        "bundles",
        false,
    ),
];

/// Secrets a rotation needs besides the Certificates' own.
const EXTRA_SECRETS: &[(&str, &str)] = &[("cert-manager", "linkerd-previous-anchor")];
/// ConfigMaps a rotation reads.
const CONFIG_MAPS: &[(&str, &str)] = &[("linkerd", "linkerd-identity-trust-roots")];

fn api_resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

/// Drop what only the API server needs; keep spec and status.
fn clean(mut obj: Value, api_version: &str, kind: &str) -> Value {
    obj["apiVersion"] = json!(api_version);
    obj["kind"] = json!(kind);
    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
        m.remove("selfLink");
    }
    obj
}

fn list_document(items: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "kind": "List", "items": items})
}

impl KubeCluster {
    async fn list_raw(
        &self,
        group: &str,
        version: &str,
        kind: &str,
        plural: &str,
    ) -> ClusterResult<Vec<Value>> {
        let ar = api_resource(group, version, kind, plural);
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &ar);
        let lp = ListParams::default();
        let what = format!("list {plural}");
        let list = self.retry.run(&what, || api.list(&lp)).await?;
        let api_version = ar.api_version.clone();
        list.items
            .into_iter()
            .map(|o| {
                serde_json::to_value(o)
                    .map(|v| clean(v, &api_version, kind))
                    .map_err(|e| ClusterError::Internal(format!("{what}: {e}")))
            })
            .collect()
    }

    async fn get_raw(
        &self,
        kind: &str,
        plural: &str,
        namespace: &str,
        name: &str,
    ) -> ClusterResult<Option<Value>> {
        check_name("namespace", namespace)?;
        check_name(plural, name)?;
        let ar = api_resource("", "v1", kind, plural);
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), namespace, &ar);
        let what = format!("get {plural} {namespace}/{name}");
        match self.retry.run(&what, || api.get(name)).await {
            Ok(o) => serde_json::to_value(o)
                .map(|v| Some(clean(v, "v1", kind)))
                .map_err(|e| ClusterError::Internal(format!("{what}: {e}"))),
            Err(ClusterError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The cluster as multi-document scenario YAML. Optional kinds whose
    /// CRDs are missing (Issuers, Bundles) are left out with a warning.
    pub async fn dump_scenario(&self) -> ClusterResult<String> {
        let mut docs = Vec::new();
        let mut secrets: BTreeSet<(String, String)> = EXTRA_SECRETS
            .iter()
            .map(|(n, s)| (n.to_string(), s.to_string()))
            .collect();
        for &(group, version, kind, plural, required) in KINDS {
            let items = match self.list_raw(group, version, kind, plural).await {
                Ok(items) => items,
                Err(ClusterError::NotFound(m) | ClusterError::Denied(m)) if !required => {
                    tracing::warn!(kind, "not read (the simulator uses its defaults): {m}");
                    continue;
                }
                Err(ClusterError::NotFound(_)) if group == "cert-manager.io" => {
                    return Err(ClusterError::NotFound(
                        "cert-manager is not installed: no certificates.cert-manager.io".into(),
                    ));
                }
                Err(e) => return Err(e),
            };
            if kind == "Certificate" {
                for c in &items {
                    let ns = c.pointer("/metadata/namespace").and_then(Value::as_str);
                    let secret = c.pointer("/spec/secretName").and_then(Value::as_str);
                    if let (Some(ns), Some(secret)) = (ns, secret) {
                        secrets.insert((ns.to_string(), secret.to_string()));
                    }
                }
            }
            docs.push(list_document(items));
        }
        let mut secret_items = Vec::new();
        for (ns, name) in &secrets {
            secret_items.extend(self.get_raw("Secret", "secrets", ns, name).await?);
        }
        docs.push(list_document(secret_items));
        let mut cm_items = Vec::new();
        for (ns, name) in CONFIG_MAPS {
            cm_items.extend(self.get_raw("ConfigMap", "configmaps", ns, name).await?);
        }
        docs.push(list_document(cm_items));
        // The simulated run starts at the cluster's present: certificates'
        // validity and pending renewals are judged against it.
        let now = jiff::Timestamp::from_second(self.clock.now().await)
            .map_err(|e| ClusterError::Internal(format!("clock out of range: {e}")))?;
        docs.insert(
            0,
            json!({
                "apiVersion": "rotor.dev/v1alpha1",
                "kind": "Simulation",
                "metadata": {"name": "live-cluster"},
                "spec": {"startTime": now.to_string()},
            }),
        );
        let mut out = String::new();
        for d in docs {
            out.push_str("---\n");
            out.push_str(
                &serde_norway::to_string(&d)
                    .map_err(|e| ClusterError::Internal(format!("scenario YAML: {e}")))?,
            );
        }
        Ok(out)
    }
}
