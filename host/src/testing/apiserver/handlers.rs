//! Requests dispatched to the backing cluster, per resource.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::SinkExt;
use hyper::Method;
use serde_json::{Value, json};

use super::route::{Route, query};
use super::status::ApiError;
use super::{Backend, Reply, discovery, fields, objects};
use crate::cluster::ClusterError;
use crate::cluster::kube::progress::{PROGRESS_CONFIG_MAP, PROGRESS_KEY};
use crate::wit::{EventType, ObjectRef, SecretWrite, WorkloadKind};

/// How often a watch re-reads the backing cluster.
const WATCH_POLL: Duration = Duration::from_millis(20);

type Query = HashMap<String, String>;

fn workload_kind(resource: &str) -> Option<WorkloadKind> {
    match resource {
        "deployments" => Some(WorkloadKind::Deployment),
        "statefulsets" => Some(WorkloadKind::StatefulSet),
        "daemonsets" => Some(WorkloadKind::DaemonSet),
        _ => None,
    }
}

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
        let cm = self.opts.cert_manager;
        let discovery = match path.trim_end_matches('/') {
            "/version" => Some(discovery::version()),
            "/api" => Some(discovery::core_versions()),
            "/apis" => Some(discovery::group_list(cm)),
            p => {
                let segs: Vec<&str> = p.trim_start_matches('/').split('/').collect();
                match segs.as_slice() {
                    ["api", v] => discovery::resource_list(cm, "", v),
                    ["apis", g] => discovery::group(cm, g),
                    ["apis", g, v] => discovery::resource_list(cm, g, v),
                    _ => None,
                }
            }
        };
        if let Some(d) = discovery {
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
        if !discovery::serves(cm, &route.group, &route.version, &full_resource) {
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
        if let Some(fault) = fault.filter(|f| *f != super::Fault::ResetAfter) {
            return match fault {
                super::Fault::Reset | super::Fault::ResetAfter => Reply::Reset,
                super::Fault::Status(code) => {
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
            };
        }
        tracing::debug!(%method, path, verb, "test API server request");
        let result = if watch {
            self.clone().watch(route, q).await
        } else {
            self.dispatch(method, &route, &q, body).await
        };
        if fault == Some(super::Fault::ResetAfter) {
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
            ("DELETE", Some(name), None) => self.delete(route, &ns, name, q, body).await,
            _ => Err(ApiError::method_not_allowed(format!(
                "{method} is not supported on {}{}",
                route.resource,
                sub.map(|s| format!("/{s}")).unwrap_or_default()
            ))),
        }
    }

    fn is_progress(&self, route: &Route, ns: &str, name: &str) -> bool {
        route.group.is_empty()
            && route.resource == "configmaps"
            && ns == self.opts.rotor_namespace
            && name == PROGRESS_CONFIG_MAP
    }

    async fn progress_object(&self) -> Result<Option<Value>, ApiError> {
        let ns = &self.opts.rotor_namespace;
        let Some(v) = self
            .cluster
            .load_progress()
            .await
            .map_err(|e| ApiError::from_cluster("configmaps", PROGRESS_CONFIG_MAP, e))?
        else {
            return Ok(None);
        };
        let mut obj = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": PROGRESS_CONFIG_MAP, "namespace": ns},
            "data": {PROGRESS_KEY: v},
        });
        self.versions
            .stamp(&format!("configmaps/{ns}/{PROGRESS_CONFIG_MAP}"), &mut obj);
        Ok(Some(obj))
    }

    /// Every object of the route's resource (namespace and selectors applied).
    pub(super) async fn list(&self, route: &Route, q: &Query) -> Result<Vec<Value>, ApiError> {
        let ns = route.namespace.as_deref();
        let labels = q
            .get("labelSelector")
            .map(String::as_str)
            .unwrap_or_default();
        let field_reqs = fields::parse(
            q.get("fieldSelector")
                .map(String::as_str)
                .unwrap_or_default(),
        )?;
        let err = |e: ClusterError| ApiError::from_cluster(&route.resource, "", e);
        let label_unsupported = || {
            ApiError::bad_request(format!(
                "the test API server supports label selectors on namespaces, workloads and pods only, not {}",
                route.resource
            ))
        };
        let mut items: Vec<Value> = match (route.group.as_str(), route.resource.as_str()) {
            ("", "namespaces") => {
                let list = self.cluster.list_namespaces(labels).await.map_err(err)?;
                list.iter()
                    .map(|n| {
                        let mut o = objects::namespace(n);
                        self.versions
                            .stamp(&format!("namespaces//{}", n.name), &mut o);
                        o
                    })
                    .collect()
            }
            ("apps", r @ ("deployments" | "statefulsets" | "daemonsets")) => {
                let kind = workload_kind(r);
                let list = self
                    .cluster
                    .list_workloads(ns, kind, labels)
                    .await
                    .map_err(err)?;
                let mut out = Vec::new();
                for w in &list {
                    out.push(self.workload_object(w).await);
                }
                out
            }
            ("apps", "replicasets") => {
                if !labels.is_empty() {
                    return Err(label_unsupported());
                }
                let pods = self.cluster.list_pods(ns, "").await.map_err(err)?;
                objects::replica_sets(&pods)
                    .into_iter()
                    .map(|mut o| {
                        let key = format!(
                            "replicasets/{}/{}",
                            o["metadata"]["namespace"].as_str().unwrap_or_default(),
                            name_of(&o)
                        );
                        self.versions.stamp(&key, &mut o);
                        o
                    })
                    .collect()
            }
            ("", "pods") => {
                let pods = self.cluster.list_pods(ns, labels).await.map_err(err)?;
                let deleting = self
                    .cluster
                    .terminating_pods(ns, labels)
                    .await
                    .map_err(err)?;
                pods.iter()
                    .map(|p| {
                        let mut o = objects::pod(p);
                        self.add_env(&mut o, "/spec");
                        if deleting.contains(&format!("{}/{}", p.namespace, p.name)) {
                            o["metadata"]["deletionTimestamp"] = json!(objects::DELETING_SINCE);
                        }
                        self.versions
                            .stamp(&format!("pods/{}/{}", p.namespace, p.name), &mut o);
                        o
                    })
                    .collect()
            }
            ("cert-manager.io", "certificates") => {
                if !labels.is_empty() {
                    return Err(label_unsupported());
                }
                let list = self.cluster.list_certificates(ns).await.map_err(err)?;
                list.iter()
                    .map(|c| {
                        let mut o = objects::certificate(c);
                        self.versions
                            .stamp(&format!("certificates/{}/{}", c.namespace, c.name), &mut o);
                        o
                    })
                    .collect()
            }
            ("", "events") => {
                let kind = fields::pinned(&field_reqs, "involvedObject.kind");
                let name = fields::pinned(&field_reqs, "involvedObject.name");
                let (Some(kind), Some(name)) = (kind, name) else {
                    // The trait lists events per object only.
                    return Ok(Vec::new());
                };
                let involved = ObjectRef {
                    kind: kind.to_string(),
                    name: name.to_string(),
                    namespace: fields::pinned(&field_reqs, "involvedObject.namespace")
                        .map(String::from)
                        .or_else(|| ns.map(String::from))
                        .unwrap_or_default(),
                };
                let reason = fields::pinned(&field_reqs, "reason");
                let list = self
                    .cluster
                    .list_events(&involved, reason)
                    .await
                    .map_err(err)?;
                list.iter()
                    .enumerate()
                    .map(|(i, e)| objects::event(e, i))
                    .collect()
            }
            ("", "configmaps") => {
                // Only rotor's progress record can be enumerated.
                let mut out = Vec::new();
                if ns.is_none_or(|n| n == self.opts.rotor_namespace) {
                    out.extend(self.progress_object().await?);
                }
                out.extend(self.store.list("configmaps", ns));
                out
            }
            ("", "secrets") => self.store.list("secrets", ns),
            _ => {
                if !labels.is_empty() {
                    return Err(label_unsupported());
                }
                self.store.list(&store_key(route), ns)
            }
        };
        items.retain(|o| fields::matches(&field_reqs, o));
        // etcd returns objects in key order: namespace, then name.
        items.sort_by(|a, b| {
            let k = |o: &Value| {
                (
                    o.pointer("/metadata/namespace")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    name_of(o).to_string(),
                )
            };
            k(a).cmp(&k(b))
        });
        Ok(items)
    }

    async fn workload_object(&self, w: &crate::wit::Workload) -> Value {
        let status = if w.kind == WorkloadKind::Deployment {
            self.cluster
                .rollout_status(w.kind, &w.namespace, &w.name)
                .await
                .ok()
        } else {
            None
        };
        let mut o = objects::workload(w, status.as_ref());
        self.add_env(&mut o, "/spec/template/spec");
        let key = format!(
            "{}/{}/{}",
            objects::resource_of(w.kind),
            w.namespace,
            w.name
        );
        self.versions.stamp(&key, &mut o);
        o
    }

    async fn get(&self, route: &Route, ns: &str, name: &str) -> Result<Value, ApiError> {
        let err = |e: ClusterError| ApiError::from_cluster(&route.resource, name, e);
        let not_found = || ApiError::not_found(&route.resource, name);
        match (route.group.as_str(), route.resource.as_str()) {
            ("apps", r @ ("deployments" | "statefulsets" | "daemonsets")) => {
                let kind = workload_kind(r).ok_or_else(not_found)?;
                let w = self
                    .cluster
                    .get_workload(kind, ns, name)
                    .await
                    .map_err(err)?;
                Ok(self.workload_object(&w).await)
            }
            ("cert-manager.io", "certificates") => {
                let c = self.cluster.get_certificate(ns, name).await.map_err(err)?;
                let mut o = objects::certificate(&c);
                self.versions
                    .stamp(&format!("certificates/{ns}/{name}"), &mut o);
                Ok(o)
            }
            ("", "secrets") => match self.cluster.read_secret(ns, name).await {
                Ok(s) => Ok(objects::secret(&s)),
                Err(ClusterError::NotFound(_)) => {
                    self.store.get("secrets", ns, name).ok_or_else(not_found)
                }
                Err(e) => Err(err(e)),
            },
            ("", "configmaps") if self.is_progress(route, ns, name) => {
                self.progress_object().await?.ok_or_else(not_found)
            }
            ("", "configmaps") => match self.cluster.read_config_map(ns, name).await {
                Ok(c) => Ok(objects::config_map(&c)),
                Err(ClusterError::NotFound(_)) => {
                    self.store.get("configmaps", ns, name).ok_or_else(not_found)
                }
                Err(e) => Err(err(e)),
            },
            ("", "namespaces" | "pods") | ("apps", "replicasets") => {
                let r = Route {
                    name: None,
                    subresource: None,
                    ..route.clone()
                };
                let items = self.list(&r, &Query::new()).await?;
                items
                    .into_iter()
                    .find(|o| name_of(o) == name)
                    .ok_or_else(not_found)
            }
            _ => self
                .store
                .get(&store_key(route), ns, name)
                .ok_or_else(not_found),
        }
    }

    /// Merge (or strategic merge) patches: `kubectl rollout restart` on
    /// workloads, progress records, events, and store-held objects.
    async fn patch(
        &self,
        route: &Route,
        ns: &str,
        name: &str,
        q: &Query,
        body: &Bytes,
    ) -> Result<Reply, ApiError> {
        let patch = parse_body(body)?;
        match (route.group.as_str(), route.resource.as_str()) {
            ("apps", r @ ("deployments" | "statefulsets" | "daemonsets")) => {
                let kind = workload_kind(r).ok_or_else(|| ApiError::not_found(r, name))?;
                let current = self.get(route, ns, name).await?;
                if let Some(rv) = patch
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
                    && current
                        .pointer("/metadata/resourceVersion")
                        .and_then(Value::as_str)
                        != Some(rv)
                {
                    return Err(ApiError::conflict(r, name));
                }
                let mut rest = patch.clone();
                if let Some(m) = rest.get_mut("metadata").and_then(Value::as_object_mut) {
                    m.remove("resourceVersion");
                    if m.is_empty() {
                        rest.as_object_mut().map(|o| o.remove("metadata"));
                    }
                }
                let annotation = crate::cluster::kube::workloads::RESTARTED_AT;
                let restart_only = json!({"spec": {"template": {"metadata": {"annotations": {
                    annotation: rest.pointer(&format!("/spec/template/metadata/annotations/{}", annotation.replace('/', "~1"))).cloned().unwrap_or(Value::Null)
                }}}}});
                if rest != restart_only
                    || restart_only
                        .pointer("/spec/template/metadata/annotations")
                        .and_then(|a| a.get(annotation))
                        .is_none_or(Value::is_null)
                {
                    return Err(ApiError::new(
                        422,
                        "Invalid",
                        format!(
                            "the test API server applies only restart patches ({annotation}) to {r}"
                        ),
                    )
                    .about(r, name));
                }
                if dry_run(q) {
                    let mut preview = current;
                    super::store::merge_patch(&mut preview, &rest);
                    return Ok(Reply::Json(200, preview));
                }
                self.cluster
                    .restart_workload(kind, ns, name)
                    .await
                    .map_err(|e| ApiError::from_cluster(r, name, e))?;
                Ok(Reply::Json(200, self.get(route, ns, name).await?))
            }
            ("", "configmaps") if self.is_progress(route, ns, name) => {
                let mut current = self
                    .progress_object()
                    .await?
                    .ok_or_else(|| ApiError::not_found("configmaps", name))?;
                super::store::merge_patch(&mut current, &patch);
                let value = current
                    .pointer(&format!("/data/{PROGRESS_KEY}"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                if !dry_run(q) {
                    self.cluster
                        .save_progress(&value)
                        .await
                        .map_err(|e| ApiError::from_cluster("configmaps", name, e))?;
                }
                Ok(Reply::Json(
                    200,
                    self.progress_object().await?.unwrap_or(current),
                ))
            }
            ("events.k8s.io", "events") => {
                // kube's Recorder patches a repeated event's series.
                let current = self.store.get("events.k8s.io/events", ns, name);
                let mut ev = current.ok_or_else(|| ApiError::not_found("events", name))?;
                super::store::merge_patch(&mut ev, &patch);
                self.record(&ev).await?;
                let stored =
                    self.store
                        .patch("events.k8s.io/events", ns, name, &patch, &self.versions)?;
                Ok(Reply::Json(200, stored))
            }
            _ => {
                if dry_run(q) {
                    let mut preview = self.get(route, ns, name).await?;
                    super::store::merge_patch(&mut preview, &patch);
                    return Ok(Reply::Json(200, preview));
                }
                Ok(Reply::Json(
                    200,
                    self.store
                        .patch(&store_key(route), ns, name, &patch, &self.versions)?,
                ))
            }
        }
    }

    /// cmctl's renew: an update of a Certificate's status that adds
    /// `Issuing=True` triggers the backing cluster's renewal.
    async fn update_status(
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

    async fn update(
        &self,
        route: &Route,
        ns: &str,
        name: &str,
        q: &Query,
        body: &Bytes,
    ) -> Result<Reply, ApiError> {
        let obj = parse_body(body)?;
        if name_of(&obj) != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                name_of(&obj)
            )));
        }
        match (route.group.as_str(), route.resource.as_str()) {
            ("", "secrets") => {
                let rv = obj
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
                    .map(String::from);
                self.write_secret(ns, obj, rv, q).await
            }
            ("", "configmaps") if self.is_progress(route, ns, name) => {
                let value = obj
                    .pointer(&format!("/data/{PROGRESS_KEY}"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if !dry_run(q) {
                    self.cluster
                        .save_progress(value)
                        .await
                        .map_err(|e| ApiError::from_cluster("configmaps", name, e))?;
                }
                Ok(Reply::Json(
                    200,
                    self.progress_object().await?.unwrap_or(obj),
                ))
            }
            ("apps", _) | ("cert-manager.io", _) | ("", "configmaps" | "pods" | "namespaces") => {
                Err(ApiError::method_not_allowed(format!(
                    "the test API server does not replace {}: patch a restart instead",
                    route.resource
                )))
            }
            _ => {
                if dry_run(q) {
                    return Ok(Reply::Json(200, obj));
                }
                Ok(Reply::Json(
                    200,
                    self.store
                        .update(&store_key(route), ns, name, obj, &self.versions)?,
                ))
            }
        }
    }

    /// Give the containers under `spec` the configured literal environment.
    fn add_env(&self, obj: &mut Value, spec: &str) {
        if self.opts.container_env.is_empty() {
            return;
        }
        let env: Vec<Value> = self
            .opts
            .container_env
            .iter()
            .map(|(name, value)| json!({"name": name, "value": value}))
            .collect();
        for list in ["containers", "initContainers"] {
            let path = format!("{spec}/{list}");
            for c in obj
                .pointer_mut(&path)
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                c["env"] = Value::Array(env.clone());
            }
        }
    }

    async fn write_secret(
        &self,
        ns: &str,
        obj: Value,
        expected: Option<String>,
        q: &Query,
    ) -> Result<Reply, ApiError> {
        use base64::Engine as _;
        let name = name_of(&obj).to_string();
        let kv = |key: &str| -> Vec<crate::wit::KeyValue> {
            obj.pointer(&format!("/metadata/{key}"))
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(k, v)| crate::wit::KeyValue::new(k, v.as_str().unwrap_or_default()))
                .collect()
        };
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
            labels: kv("labels"),
            annotations: kv("annotations"),
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

    async fn create(
        &self,
        route: &Route,
        ns: &str,
        q: &Query,
        body: &Bytes,
    ) -> Result<Reply, ApiError> {
        let obj = parse_body(body)?;
        let name = name_of(&obj).to_string();
        match (route.group.as_str(), route.resource.as_str()) {
            ("", "secrets") => {
                if self.cluster.read_secret(ns, &name).await.is_ok() {
                    return Err(ApiError::already_exists("secrets", &name));
                }
                let reply = self.write_secret(ns, obj, None, q).await?;
                Ok(match reply {
                    Reply::Json(_, v) => Reply::Json(201, v),
                    other => other,
                })
            }
            ("", "configmaps") if self.is_progress(route, ns, &name) => {
                if self.progress_object().await?.is_some() {
                    return Err(ApiError::already_exists("configmaps", &name));
                }
                let value = obj
                    .pointer(&format!("/data/{PROGRESS_KEY}"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if !dry_run(q) {
                    self.cluster
                        .save_progress(value)
                        .await
                        .map_err(|e| ApiError::from_cluster("configmaps", &name, e))?;
                }
                Ok(Reply::Json(
                    201,
                    self.progress_object().await?.unwrap_or(obj),
                ))
            }
            ("events.k8s.io", "events") => {
                if dry_run(q) {
                    return Ok(Reply::Json(201, obj));
                }
                self.record(&obj).await?;
                Ok(Reply::Json(
                    201,
                    self.store
                        .create("events.k8s.io/events", ns, obj, &self.versions)?,
                ))
            }
            ("apps", _)
            | ("cert-manager.io", _)
            | ("", "configmaps" | "pods" | "namespaces" | "events") => {
                Err(ApiError::method_not_allowed(format!(
                    "the test API server does not create {}",
                    route.resource
                )))
            }
            _ => {
                if dry_run(q) {
                    return Ok(Reply::Json(201, obj));
                }
                Ok(Reply::Json(
                    201,
                    self.store
                        .create(&store_key(route), ns, obj, &self.versions)?,
                ))
            }
        }
    }

    /// An events.k8s.io/v1 Event handed to the backing cluster.
    async fn record(&self, ev: &Value) -> Result<(), ApiError> {
        let s = |p: &str| {
            ev.pointer(p)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let involved = ObjectRef {
            kind: s("/regarding/kind"),
            namespace: s("/regarding/namespace"),
            name: s("/regarding/name"),
        };
        let type_ = if s("/type") == "Warning" {
            EventType::Warning
        } else {
            EventType::Normal
        };
        self.cluster
            .record_event(&involved, type_, &s("/reason"), &s("/note"))
            .await
            .map_err(|e| ApiError::from_cluster("events", name_of(ev), e))
    }

    async fn delete(
        &self,
        route: &Route,
        ns: &str,
        name: &str,
        q: &Query,
        body: &Bytes,
    ) -> Result<Reply, ApiError> {
        match (route.group.as_str(), route.resource.as_str()) {
            ("", "secrets") => {
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
            ("", "pods") => {
                let pod = self.get(route, ns, name).await?;
                if !dry_run(q) {
                    self.cluster
                        .delete_pod(ns, name)
                        .await
                        .map_err(|e| ApiError::from_cluster("pods", name, e))?;
                }
                Ok(Reply::Json(200, pod))
            }
            ("", "configmaps") if self.is_progress(route, ns, name) => {
                let obj = self
                    .progress_object()
                    .await?
                    .ok_or_else(|| ApiError::not_found("configmaps", name))?;
                if !dry_run(q) {
                    self.cluster
                        .clear_progress()
                        .await
                        .map_err(|e| ApiError::from_cluster("configmaps", name, e))?;
                }
                Ok(Reply::Json(200, obj))
            }
            ("apps", _) | ("cert-manager.io", _) | ("", "configmaps" | "namespaces") => {
                Err(ApiError::method_not_allowed(format!(
                    "the test API server does not delete {}",
                    route.resource
                )))
            }
            _ => {
                if dry_run(q) {
                    return Ok(Reply::Json(200, self.get(route, ns, name).await?));
                }
                self.store.delete(&store_key(route), ns, name)?;
                Ok(Reply::Json(200, success(200)))
            }
        }
    }

    /// policy/v1 Eviction: a PodDisruptionBudget refusal is 429, as upstream.
    async fn evict(&self, ns: &str, name: &str, q: &Query) -> Result<Reply, ApiError> {
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

    /// Re-read the list every [`WATCH_POLL`] and send what changed as
    /// ADDED / MODIFIED / DELETED lines, until `timeoutSeconds` or the
    /// client goes away.
    async fn watch(self: Arc<Self>, route: Route, q: Query) -> Result<Reply, ApiError> {
        let route = Route {
            name: None,
            ..route
        };
        // Validate before answering 200.
        let first = self.list(&route, &q).await?;
        let since: Option<u64> = q
            .get("resourceVersion")
            .filter(|v| !v.is_empty() && *v != "0")
            .and_then(|v| v.parse().ok());
        let timeout = q
            .get("timeoutSeconds")
            .and_then(|t| t.parse::<u64>().ok())
            .unwrap_or(1800);
        let limit =
            Duration::from_secs(timeout).min(self.opts.watch_limit.unwrap_or(Duration::MAX));
        let (mut tx, rx) = futures::channel::mpsc::channel(64);
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + limit;
            let rv = |o: &Value| -> u64 {
                o.pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0)
            };
            let key = |o: &Value| {
                format!(
                    "{}/{}",
                    o.pointer("/metadata/namespace")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                    name_of(o)
                )
            };
            let mut known: HashMap<String, (u64, Value)> = HashMap::new();
            let mut items = first;
            let mut initial = true;
            loop {
                let mut lines = Vec::new();
                let mut present = HashSet::new();
                for o in items {
                    let k = key(&o);
                    present.insert(k.clone());
                    let v = rv(&o);
                    let event = match known.get(&k) {
                        None if initial => match since {
                            None => Some("ADDED"),
                            Some(s) if v > s => Some("MODIFIED"),
                            Some(_) => None,
                        },
                        None => Some("ADDED"),
                        Some((old, _)) if *old != v => Some("MODIFIED"),
                        Some(_) => None,
                    };
                    if let Some(t) = event {
                        lines.push(json!({"type": t, "object": o}));
                    }
                    known.insert(k, (v, o));
                }
                let gone: Vec<String> = known
                    .keys()
                    .filter(|k| !present.contains(*k))
                    .cloned()
                    .collect();
                for k in gone {
                    if let Some((_, o)) = known.remove(&k) {
                        lines.push(json!({"type": "DELETED", "object": o}));
                    }
                }
                initial = false;
                for l in lines {
                    let frame = hyper::body::Frame::data(Bytes::from(format!("{l}\n")));
                    if tx.send(Ok(frame)).await.is_err() {
                        return;
                    }
                }
                if tokio::time::Instant::now() >= deadline || tx.is_closed() {
                    return;
                }
                tokio::time::sleep(WATCH_POLL).await;
                items = match self.list(&route, &q).await {
                    Ok(i) => i,
                    Err(e) => {
                        let line = json!({"type": "ERROR", "object": e.body()});
                        let _ = tx
                            .send(Ok(hyper::body::Frame::data(Bytes::from(format!(
                                "{line}\n"
                            )))))
                            .await;
                        return;
                    }
                };
            }
        });
        Ok(Reply::Stream(rx))
    }
}
