//! Reads: list (namespace, label and field selectors, key order) and get,
//! rebuilt from the backing cluster's records on every request, or taken
//! from the store for kinds the cluster has no records for.

use serde_json::{Value, json};

use super::super::route::Route;
use super::super::status::ApiError;
use super::super::{Backend, fields, objects};
use super::issuers::issuer_ref;
use super::owners::owner_kind;
use super::workloads::workload_kind;
use super::{Query, name_of, store_key};
use crate::cluster::ClusterError;
use crate::wit::ObjectRef;

impl Backend {
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
            ("cert-manager.io", "issuers" | "clusterissuers") => {
                if !labels.is_empty() {
                    return Err(label_unsupported());
                }
                self.issuer_objects(route, ns).await?
            }
            _ => {
                if !labels.is_empty() {
                    return Err(label_unsupported());
                }
                match owner_kind(route) {
                    Some(kind) => self.owner_objects(route, kind, ns).await?,
                    None => self.store.list(&store_key(route), ns),
                }
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

    pub(super) async fn get(&self, route: &Route, ns: &str, name: &str) -> Result<Value, ApiError> {
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
            ("cert-manager.io", "issuers" | "clusterissuers") => {
                let issuer = issuer_ref(route, ns, name).ok_or_else(not_found)?;
                self.issuer_object(route, &issuer).await
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
            _ => match owner_kind(route) {
                Some(kind) => self.owner_object(route, kind, ns, name).await,
                None => self
                    .store
                    .get(&store_key(route), ns, name)
                    .ok_or_else(not_found),
            },
        }
    }
}
