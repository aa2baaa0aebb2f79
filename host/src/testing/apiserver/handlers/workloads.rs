//! Deployments, StatefulSets and DaemonSets: served from the backing
//! cluster's workloads with their rollout status, and patched only the way
//! `kubectl rollout restart` patches them.

use serde_json::{Value, json};

use super::super::route::Route;
use super::super::status::ApiError;
use super::super::{Backend, Reply, objects, store};
use super::{Query, dry_run};
use crate::wit::WorkloadKind;

pub(super) fn workload_kind(resource: &str) -> Option<WorkloadKind> {
    match resource {
        "deployments" => Some(WorkloadKind::Deployment),
        "statefulsets" => Some(WorkloadKind::StatefulSet),
        "daemonsets" => Some(WorkloadKind::DaemonSet),
        _ => None,
    }
}

impl Backend {
    pub(super) async fn workload_object(&self, w: &crate::wit::Workload) -> Value {
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

    /// Give the containers under `spec` the configured literal environment.
    pub(super) fn add_env(&self, obj: &mut Value, spec: &str) {
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

    /// A restart patch (`kubectl rollout restart`, rotor's own), with the
    /// resourceVersion precondition a client may add; anything else is 422.
    pub(super) async fn restart_workload(
        &self,
        route: &Route,
        r: &str,
        ns: &str,
        name: &str,
        q: &Query,
        patch: &Value,
    ) -> Result<Reply, ApiError> {
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
                format!("the test API server applies only restart patches ({annotation}) to {r}"),
            )
            .about(r, name));
        }
        if dry_run(q) {
            let mut preview = current;
            store::merge_patch(&mut preview, &rest);
            return Ok(Reply::Json(200, preview));
        }
        self.cluster
            .restart_workload(kind, ns, name)
            .await
            .map_err(|e| ApiError::from_cluster(r, name, e))?;
        Ok(Reply::Json(200, self.get(route, ns, name).await?))
    }
}
