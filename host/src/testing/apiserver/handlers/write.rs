//! Writes by verb: create, update (replace), merge patch and delete, each
//! sent to the resource family that handles it; kinds the backing cluster
//! has no records for are written to the store, and kinds it models but
//! does not let clients write are refused with 405.

use bytes::Bytes;
use serde_json::Value;

use super::super::route::Route;
use super::super::status::ApiError;
use super::super::{Backend, Reply, store};
use super::issuers::issuer_ref;
use super::owners::owner_kind;
use super::{Query, dry_run, name_of, parse_body, store_key, success};

impl Backend {
    pub(super) async fn create(
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
                created(self.write_secret(ns, obj, None, q).await?)
            }
            ("", "configmaps") if self.is_progress(route, ns, &name) => {
                if self.progress_object().await?.is_some() {
                    return Err(ApiError::already_exists("configmaps", &name));
                }
                self.put_progress(obj, &name, q, 201).await
            }
            ("", "configmaps") => {
                if self.cluster.read_config_map(ns, &name).await.is_ok() {
                    return Err(ApiError::already_exists("configmaps", &name));
                }
                created(self.write_config_map(ns, obj, None, q).await?)
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
            ("apps" | "cert-manager.io" | "argoproj.io" | "core.strimzi.io", _)
            | ("", "pods" | "namespaces" | "events") => Err(ApiError::method_not_allowed(format!(
                "the test API server does not create {}",
                route.resource
            ))),
            _ => self.to_store(q, 201, obj, |obj| {
                self.store
                    .create(&store_key(route), ns, obj, &self.versions)
            }),
        }
    }

    pub(super) async fn update(
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
        let rv = obj
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .map(String::from);
        match (route.group.as_str(), route.resource.as_str()) {
            ("", "secrets") => self.write_secret(ns, obj, rv, q).await,
            ("", "configmaps") if self.is_progress(route, ns, name) => {
                self.put_progress(obj, name, q, 200).await
            }
            ("", "configmaps") => self.write_config_map(ns, obj, rv, q).await,
            ("apps" | "cert-manager.io" | "argoproj.io" | "core.strimzi.io", _)
            | ("", "pods" | "namespaces") => Err(ApiError::method_not_allowed(format!(
                "the test API server does not replace {}: patch a restart instead",
                route.resource
            ))),
            _ => self.to_store(q, 200, obj, |obj| {
                self.store
                    .update(&store_key(route), ns, name, obj, &self.versions)
            }),
        }
    }

    /// Merge (or strategic merge) patches: `kubectl rollout restart` on
    /// workloads, restart-owner on Rollouts and StrimziPodSets, progress
    /// records, events, and store-held objects.
    pub(super) async fn patch(
        &self,
        route: &Route,
        ns: &str,
        name: &str,
        q: &Query,
        body: &Bytes,
    ) -> Result<Reply, ApiError> {
        let patch = parse_body(body)?;
        if let Some(kind) = owner_kind(route) {
            return self.restart_owner(route, kind, ns, name, q, &patch).await;
        }
        match (route.group.as_str(), route.resource.as_str()) {
            ("apps", r @ ("deployments" | "statefulsets" | "daemonsets")) => {
                self.restart_workload(route, r, ns, name, q, &patch).await
            }
            ("", "configmaps") if self.is_progress(route, ns, name) => {
                self.patch_progress(name, q, &patch).await
            }
            ("events.k8s.io", "events") => self.patch_event(ns, name, &patch).await,
            ("cert-manager.io", "issuers" | "clusterissuers") => {
                let issuer = issuer_ref(route, ns, name)
                    .ok_or_else(|| ApiError::not_found(&route.resource, name))?;
                self.patch_issuer(route, &issuer, q, &patch).await
            }
            _ => {
                if dry_run(q) {
                    let mut preview = self.get(route, ns, name).await?;
                    store::merge_patch(&mut preview, &patch);
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

    pub(super) async fn delete(
        &self,
        route: &Route,
        ns: &str,
        name: &str,
        q: &Query,
        body: &Bytes,
    ) -> Result<Reply, ApiError> {
        match (route.group.as_str(), route.resource.as_str()) {
            ("", "secrets") => self.delete_secret(ns, name, q, body).await,
            ("", "pods") => self.delete_pod(route, ns, name, q).await,
            ("", "configmaps") if self.is_progress(route, ns, name) => {
                self.delete_progress(name, q).await
            }
            ("apps" | "cert-manager.io" | "argoproj.io" | "core.strimzi.io", _)
            | ("", "configmaps" | "namespaces") => Err(ApiError::method_not_allowed(format!(
                "the test API server does not delete {}",
                route.resource
            ))),
            _ => {
                if dry_run(q) {
                    return Ok(Reply::Json(200, self.get(route, ns, name).await?));
                }
                self.store.delete(&store_key(route), ns, name)?;
                Ok(Reply::Json(200, success(200)))
            }
        }
    }

    /// Write a store-held object, answering `code` with it as stored; under
    /// dryRun, answer with it as sent.
    fn to_store(
        &self,
        q: &Query,
        code: u16,
        obj: Value,
        write: impl FnOnce(Value) -> Result<Value, ApiError>,
    ) -> Result<Reply, ApiError> {
        if dry_run(q) {
            return Ok(Reply::Json(code, obj));
        }
        Ok(Reply::Json(code, write(obj)?))
    }
}

/// A write's answer as a create's: 201 Created.
fn created(reply: Reply) -> Result<Reply, ApiError> {
    Ok(match reply {
        Reply::Json(_, v) => Reply::Json(201, v),
        other => other,
    })
}
