//! Reading the live cluster, read-only, as a scenario the simulator loads:
//! what `rotor plan` runs a policy against. Each kind becomes one `List`
//! document, the way `kubectl get -o yaml` prints it. Secrets are read by
//! name only (those the Certificates name, and the previous anchor), never
//! listed.
//!
//! A plan is a file people keep and share, so it holds only what the
//! simulator reads: names, labels, annotations, owners, container names,
//! the proxy's trust anchors, status, and the certificates of Secrets. Never
//! a private key or any other Secret value, container environment, or the
//! annotation in which `kubectl apply` keeps a copy of the whole object. The
//! simulator signs with keys of its own where it needs them (`sim/pki.rs`).

use std::collections::BTreeSet;

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use serde_json::{Value, json};

use super::{KubeCluster, check_name};
use crate::cluster::{ClusterError, ClusterResult};
use crate::linkerd::{
    CERT_MANAGER_NS, CONTROL_PLANE_NS, PREVIOUS_ANCHOR, PROXY_CONTAINER, TRUST_ANCHORS_ENV,
    TRUST_ROOTS,
};

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
    (
        "trust-manager.io",
        "v1alpha2",
        "ClusterBundle",
        "clusterbundles",
        false,
    ),
];

/// Secrets a rotation needs besides the Certificates' own.
const EXTRA_SECRETS: &[(&str, &str)] = &[(CERT_MANAGER_NS, PREVIOUS_ANCHOR)];
/// ConfigMaps a rotation reads.
const CONFIG_MAPS: &[(&str, &str)] = &[(CONTROL_PLANE_NS, TRUST_ROOTS)];

fn api_resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

/// Annotations that copy a whole object (env values and Secret data too).
const COPYING_ANNOTATIONS: &[&str] = &["kubectl.kubernetes.io/last-applied-configuration"];
/// Secret keys that hold certificates: the only Secret data a plan keeps.
const CERTIFICATE_KEYS: &[&str] = &["tls.crt", "ca.crt"];

/// The fields of `v` named in `keys`, those present.
fn pick(v: &Value, keys: &[&str]) -> Value {
    let mut out = serde_json::Map::new();
    for k in keys {
        if let Some(x) = v.get(*k) {
            out.insert((*k).to_string(), x.clone());
        }
    }
    Value::Object(out)
}

fn metadata(obj: &Value) -> Value {
    let mut m = pick(
        obj.get("metadata").unwrap_or(&Value::Null),
        &[
            "name",
            "namespace",
            "labels",
            "annotations",
            "generation",
            "resourceVersion",
            "creationTimestamp",
            "deletionTimestamp",
            "ownerReferences",
        ],
    );
    if let Some(a) = m.get_mut("annotations").and_then(Value::as_object_mut) {
        for k in COPYING_ANNOTATIONS {
            a.remove(*k);
        }
    }
    m
}

/// Container names; the proxy's trust anchors too when `anchors` is set.
fn containers(list: Option<&Value>, anchors: bool) -> Value {
    let items = list.and_then(Value::as_array).into_iter().flatten();
    Value::Array(
        items
            .map(|c| {
                // restartPolicy marks a native sidecar among init containers.
                let mut out = pick(c, &["name", "restartPolicy"]);
                let proxy = c.get("name").and_then(Value::as_str) == Some(PROXY_CONTAINER);
                let env: Vec<Value> = c
                    .get("env")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter(|e| {
                        anchors
                            && proxy
                            && e.get("name").and_then(Value::as_str) == Some(TRUST_ANCHORS_ENV)
                    })
                    .map(|e| pick(e, &["name", "value"]))
                    .collect();
                if !env.is_empty() {
                    out["env"] = Value::Array(env);
                }
                out
            })
            .collect(),
    )
}

fn pod_spec(spec: &Value, anchors: bool) -> Value {
    let mut out = pick(spec, &["nodeName"]);
    out["containers"] = containers(spec.get("containers"), anchors);
    out["initContainers"] = containers(spec.get("initContainers"), anchors);
    out
}

/// Only what the simulator reads of an object (see the module comment).
fn keep_what_the_simulator_reads(obj: &Value, api_version: &str, kind: &str) -> Value {
    let mut out = json!({"apiVersion": api_version, "kind": kind, "metadata": metadata(obj)});
    let null = Value::Null;
    let spec = obj.get("spec").unwrap_or(&null);
    match kind {
        "Namespace" | "ReplicaSet" => {}
        "Pod" => {
            out["spec"] = pod_spec(spec, true);
            out["status"] = pick(
                obj.get("status").unwrap_or(&null),
                &["phase", "conditions", "startTime"],
            );
        }
        "Deployment" | "StatefulSet" | "DaemonSet" => {
            let mut s = pick(
                spec,
                &[
                    "replicas",
                    "selector",
                    "strategy",
                    "updateStrategy",
                    "paused",
                    "progressDeadlineSeconds",
                    "serviceName",
                ],
            );
            let template = spec.get("template").unwrap_or(&null);
            s["template"] = json!({
                "metadata": metadata(template),
                "spec": pod_spec(template.get("spec").unwrap_or(&null), false),
            });
            out["spec"] = s;
            out["status"] = obj.get("status").cloned().unwrap_or(Value::Null);
        }
        "Secret" => {
            out["type"] = obj.get("type").cloned().unwrap_or(Value::Null);
            out["data"] = pick(obj.get("data").unwrap_or(&null), CERTIFICATE_KEYS);
        }
        "ConfigMap" => out["data"] = obj.get("data").cloned().unwrap_or(Value::Null),
        // Certificates, Issuers, Bundles: references and status, no values.
        _ => {
            out["spec"] = spec.clone();
            if let Some(status) = obj.get("status") {
                out["status"] = status.clone();
            }
        }
    }
    out
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
                    .map(|v| keep_what_the_simulator_reads(&v, &api_version, kind))
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
                .map(|v| Some(keep_what_the_simulator_reads(&v, "v1", kind)))
                .map_err(|e| ClusterError::Internal(format!("{what}: {e}"))),
            Err(ClusterError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The cluster as multi-document scenario YAML. Optional kinds whose
    /// CRDs are missing (Issuers, Bundles, ClusterBundles) are left out with
    /// a warning.
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
        let mut spec = json!({"startTime": now.to_string()});
        // trust-manager writes targets only where `--target-namespaces` lets it.
        if let Some(list) = self.trust_manager_target_namespaces().await? {
            spec["trustManagerTargetNamespaces"] = json!(list);
        }
        docs.insert(
            0,
            json!({
                "apiVersion": "rotor.dev/v1alpha1",
                "kind": "Simulation",
                "metadata": {"name": "live-cluster"},
                "spec": spec,
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
