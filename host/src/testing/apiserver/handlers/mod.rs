//! Requests dispatched to the backing cluster: the front door (discovery,
//! routing, request counts, planned faults) and the dispatch by verb, with
//! what every handler shares. Each verb, and each resource family with
//! rules of its own, has a file, as the Kubernetes backend does.

mod certificates;
mod configmaps;
mod events;
mod issuers;
mod owners;
mod pods;
mod progress;
mod read;
mod secrets;
mod watch;
mod workloads;
mod write;

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use hyper::Method;
use serde_json::{Value, json};

use super::route::{Route, query};
use super::status::ApiError;
use super::{Backend, Fault, Reply, ServerOptions, discovery};

type Query = HashMap<String, String>;

fn list_kind(resource: &str) -> &'static str {
    match resource {
        "namespaces" => "NamespaceList",
        "pods" => "PodList",
        "secrets" => "SecretList",
        "configmaps" => "ConfigMapList",
        "events" => "EventList",
        "deployments" => "DeploymentList",
        "statefulsets" => "StatefulSetList",
        "daemonsets" => "DaemonSetList",
        "replicasets" => "ReplicaSetList",
        "leases" => "LeaseList",
        "certificates" => "CertificateList",
        "issuers" => "IssuerList",
        "clusterissuers" => "ClusterIssuerList",
        "bundles" => "BundleList",
        "rollouts" => "RolloutList",
        "strimzipodsets" => "StrimziPodSetList",
        _ => "List",
    }
}

/// Key of a store-held resource: `group/plural`, or `plural` for core.
fn store_key(route: &Route) -> String {
    if route.group.is_empty() {
        route.resource.clone()
    } else {
        format!("{}/{}", route.group, route.resource)
    }
}

/// `metadata.labels` or `metadata.annotations` of a written object as pairs.
fn metadata_pairs(obj: &Value, field: &str) -> Vec<crate::wit::KeyValue> {
    obj.pointer(&format!("/metadata/{field}"))
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| crate::wit::KeyValue::new(k, v.as_str().unwrap_or_default()))
        .collect()
}

fn dry_run(q: &Query) -> bool {
    q.get("dryRun").is_some_and(|v| v == "All")
}

fn parse_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("request body is not JSON: {e}")))
}

fn name_of(v: &Value) -> &str {
    v.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn success(code: u16) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code})
}

impl Backend {
    pub(super) async fn handle(
        self: Arc<Self>,
        method: &Method,
        path: &str,
        q: Option<&str>,
        body: &Bytes,
    ) -> Reply {
        let served = &self.opts;
        if let Some(d) = discovery_document(served, path) {
            self.count(format!("GET discovery {path}"));
            return Reply::Json(200, d);
        }
        let Some(route) = Route::parse(path) else {
            return Reply::Text(404, "404 page not found\n".into());
        };
        let mut q = query(q);
        // DeleteOptions carry dryRun in the body, not the query.
        if method == Method::DELETE {
            let body_dry_run = serde_json::from_slice::<Value>(body).ok().is_some_and(|b| {
                b.get("dryRun")
                    .and_then(Value::as_array)
                    .is_some_and(|d| d.iter().any(|v| v == "All"))
            });
            if body_dry_run {
                q.insert("dryRun".into(), "All".into());
            }
        }
        let full_resource = match &route.subresource {
            Some(s) => format!("{}/{s}", route.resource),
            None => route.resource.clone(),
        };
        if !discovery::serves(served, &route.group, &route.version, &full_resource) {
            return Reply::Text(404, "404 page not found\n".into());
        }
        let watch = q.get("watch").is_some_and(|w| w == "true" || w == "1");
        let verb = match (method.as_str(), route.name.is_some(), watch) {
            ("GET", _, true) => "watch",
            ("GET", false, _) => "list",
            ("GET", true, _) => "get",
            ("POST", ..) => "create",
            ("PUT", ..) => "update",
            ("PATCH", ..) => "patch",
            ("DELETE", ..) => "delete",
            _ => "other",
        };
        let key = format!("{verb} {full_resource}");
        self.count(key.clone());
        let fault = self.take_fault(&key);
        if let Some(fault) = fault.filter(|f| *f != Fault::ResetAfter) {
            return fault_reply(fault, &key);
        }
        tracing::debug!(%method, path, verb, "test API server request");
        let result = if watch {
            self.clone().watch(route, q).await
        } else {
            self.dispatch(method, &route, &q, body).await
        };
        if fault == Some(Fault::ResetAfter) {
            return Reply::Reset;
        }
        result.unwrap_or_else(Reply::from)
    }

    async fn dispatch(
        &self,
        method: &Method,
        route: &Route,
        q: &Query,
        body: &Bytes,
    ) -> Result<Reply, ApiError> {
        let ns = route.namespace.clone().unwrap_or_default();
        let sub = route.subresource.as_deref();
        match (method.as_str(), route.name.as_deref(), sub) {
            ("GET", None, None) => {
                let items = self.list(route, q).await?;
                Ok(Reply::Json(
                    200,
                    json!({
                        "apiVersion": route.api_version(),
                        "kind": list_kind(&route.resource),
                        "metadata": {"resourceVersion": self.versions.current().to_string()},
                        "items": items,
                    }),
                ))
            }
            ("GET", Some(name), None | Some("status")) => {
                Ok(Reply::Json(200, self.get(route, &ns, name).await?))
            }
            ("PATCH", Some(name), None) => self.patch(route, &ns, name, q, body).await,
            ("PUT", Some(name), Some("status")) => {
                self.update_status(route, &ns, name, q, body).await
            }
            ("PUT", Some(name), None) => self.update(route, &ns, name, q, body).await,
            ("POST", None, None) => self.create(route, &ns, q, body).await,
            ("POST", Some(name), Some("eviction")) => self.evict(&ns, name, q).await,
            ("GET", Some(name), Some("proxy")) => {
                self.pod_proxy(&ns, name, route.proxy_path.as_deref().unwrap_or("/"))
                    .await
            }
            ("DELETE", Some(name), None) => self.delete(route, &ns, name, q, body).await,
            _ => Err(ApiError::method_not_allowed(format!(
                "{method} is not supported on {}{}",
                route.resource,
                sub.map(|s| format!("/{s}")).unwrap_or_default()
            ))),
        }
    }
}

/// The discovery document at `path`, if it names one.
fn discovery_document(served: &ServerOptions, path: &str) -> Option<Value> {
    match path.trim_end_matches('/') {
        "/version" => Some(discovery::version()),
        "/api" => Some(discovery::core_versions()),
        "/apis" => Some(discovery::group_list(served)),
        p => {
            let segs: Vec<&str> = p.trim_start_matches('/').split('/').collect();
            match segs.as_slice() {
                ["api", v] => discovery::resource_list(served, "", v),
                ["apis", g] => discovery::group(served, g),
                ["apis", g, v] => discovery::resource_list(served, g, v),
                _ => None,
            }
        }
    }
}

/// The answer to a request a planned fault stops (any but `ResetAfter`).
fn fault_reply(fault: Fault, key: &str) -> Reply {
    match fault {
        Fault::Reset | Fault::ResetAfter => Reply::Reset,
        Fault::Status(code) => {
            let reason = match code {
                403 => "Forbidden",
                404 => "NotFound",
                409 => "Conflict",
                429 => "TooManyRequests",
                503 => "ServiceUnavailable",
                504 => "Timeout",
                _ => "InternalError",
            };
            Reply::from(ApiError::new(
                code,
                reason,
                format!("injected fault for {key}"),
            ))
        }
    }
}
