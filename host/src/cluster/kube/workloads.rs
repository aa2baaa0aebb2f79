//! Namespaces and workloads: list, get, restart the way `kubectl rollout
//! restart` does, and wait for a rollout by watching the one object.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Namespace as K8sNamespace;
use kube::api::{Api, ListParams, Patch, WatchEvent, WatchParams};
use serde_json::json;

use super::{KubeCluster, check_name, convert, qualified, rollout};
use crate::cluster::{ClusterError, ClusterResult};
use crate::wit::{Namespace, RolloutPhase, RolloutStatus, Timestamp, Workload, WorkloadKind};

/// The pod-template annotation `kubectl rollout restart` writes.
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

/// Longest single watch request; the server closes it and we reopen.
pub(super) const WATCH_SECONDS: u32 = 240;

/// A workload record, whether its Deployment hit ProgressDeadlineExceeded,
/// and its resourceVersion.
pub(super) type Seen = (Workload, bool, String);

pub(super) fn resource(kind: WorkloadKind) -> &'static str {
    match kind {
        WorkloadKind::Deployment => "deployment",
        WorkloadKind::StatefulSet => "statefulset",
        WorkloadKind::DaemonSet => "daemonset",
    }
}

pub(super) fn from_deployment(d: &Deployment) -> Seen {
    let (w, exceeded) = convert::deployment_record(d);
    (
        w,
        exceeded,
        d.metadata.resource_version.clone().unwrap_or_default(),
    )
}

pub(super) fn from_stateful_set(s: &StatefulSet) -> Seen {
    (
        convert::stateful_set_record(s),
        false,
        s.metadata.resource_version.clone().unwrap_or_default(),
    )
}

pub(super) fn from_daemon_set(d: &DaemonSet) -> Seen {
    (
        convert::daemon_set_record(d),
        false,
        d.metadata.resource_version.clone().unwrap_or_default(),
    )
}

pub(super) fn api<K>(client: &kube::Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    <K as kube::Resource>::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

impl KubeCluster {
    fn remember(&self, seen: &Seen) {
        let (w, _, rv) = seen;
        if let Ok(mut m) = self.seen.lock() {
            let key = (w.kind.as_kind(), w.namespace.clone(), w.name.clone());
            // A watch may deliver an event older than a patch's answer: never
            // let it lower the generation a rollout wait must see observed.
            let newest = m
                .get(&key)
                .map_or(w.generation, |(_, _, g)| (*g).max(w.generation));
            m.insert(key, (rv.clone(), w.paused, newest));
        }
    }

    pub(super) async fn namespaces(&self, selector: &str) -> ClusterResult<Vec<Namespace>> {
        let api: Api<K8sNamespace> = Api::all(self.client.clone());
        let lp = ListParams::default().labels(selector);
        let list = self.retry.run("list namespaces", || api.list(&lp)).await?;
        let mut out: Vec<Namespace> = list.items.iter().map(convert::namespace_record).collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Workloads of one kind, in one namespace or all.
    pub(super) async fn workloads(
        &self,
        namespace: Option<&str>,
        kind: WorkloadKind,
        selector: &str,
    ) -> ClusterResult<Vec<(Workload, bool)>> {
        let lp = ListParams::default().labels(selector);
        let what = format!("list {}s", resource(kind));
        let seen: Vec<Seen> = match kind {
            WorkloadKind::Deployment => {
                let api: Api<Deployment> = api(&self.client, namespace);
                let l = self.retry.run(&what, || api.list(&lp)).await?;
                l.items.iter().map(from_deployment).collect()
            }
            WorkloadKind::StatefulSet => {
                let api: Api<StatefulSet> = api(&self.client, namespace);
                let l = self.retry.run(&what, || api.list(&lp)).await?;
                l.items.iter().map(from_stateful_set).collect()
            }
            WorkloadKind::DaemonSet => {
                let api: Api<DaemonSet> = api(&self.client, namespace);
                let l = self.retry.run(&what, || api.list(&lp)).await?;
                l.items.iter().map(from_daemon_set).collect()
            }
        };
        seen.iter().for_each(|s| self.remember(s));
        let mut out: Vec<(Workload, bool)> = seen.into_iter().map(|(w, e, _)| (w, e)).collect();
        out.sort_by(|a, b| (&a.0.namespace, &a.0.name).cmp(&(&b.0.namespace, &b.0.name)));
        Ok(out)
    }

    async fn get_seen(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
    ) -> ClusterResult<Seen> {
        check_name("namespace", namespace)?;
        check_name(resource(kind), name)?;
        let what = format!("get {} {}", resource(kind), qualified(namespace, name));
        let seen = match kind {
            WorkloadKind::Deployment => {
                let api: Api<Deployment> = Api::namespaced(self.client.clone(), namespace);
                from_deployment(&self.retry.run(&what, || api.get(name)).await?)
            }
            WorkloadKind::StatefulSet => {
                let api: Api<StatefulSet> = Api::namespaced(self.client.clone(), namespace);
                from_stateful_set(&self.retry.run(&what, || api.get(name)).await?)
            }
            WorkloadKind::DaemonSet => {
                let api: Api<DaemonSet> = Api::namespaced(self.client.clone(), namespace);
                from_daemon_set(&self.retry.run(&what, || api.get(name)).await?)
            }
        };
        self.remember(&seen);
        Ok(seen)
    }

    pub(super) async fn workload(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
    ) -> ClusterResult<(Workload, bool)> {
        let (w, e, _) = self.get_seen(kind, namespace, name).await?;
        Ok((w, e))
    }

    /// `kubectl rollout restart`: a merge patch of the pod template's
    /// `kubectl.kubernetes.io/restartedAt` (RFC 3339), field manager `rotor`.
    /// A paused Deployment is refused. When the workload was seen unpaused a
    /// moment ago, the patch carries that resourceVersion as a precondition
    /// instead of a fresh GET; a conflict falls back to kubectl's way (read,
    /// check, patch).
    pub(super) async fn restart(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
    ) -> ClusterResult<Timestamp> {
        check_name("namespace", namespace)?;
        check_name(resource(kind), name)?;
        let cached = self.seen.lock().ok().and_then(|m| {
            m.get(&(kind.as_kind(), namespace.to_string(), name.to_string()))
                .cloned()
        });
        let now = self.clock.now().await;
        let stamp = jiff::Timestamp::from_second(now)
            .map_err(|e| ClusterError::Internal(format!("clock out of range: {e}")))?
            .to_string();
        if let Some((rv, false, _)) = cached {
            match self
                .patch_restart(kind, namespace, name, &stamp, Some(&rv))
                .await
            {
                Err(ClusterError::Conflict(_)) => {}
                other => return other.map(|()| now),
            }
        }
        let (w, _, _) = self.get_seen(kind, namespace, name).await?;
        let ours = w
            .template_annotations
            .iter()
            .any(|kv| kv.key == RESTARTED_AT && kv.value == stamp);
        if ours {
            // A retried patch whose first attempt had landed: done already.
            return Ok(now);
        }
        if w.paused {
            return Err(ClusterError::Invalid(format!(
                "deployments.apps {name:?} in {namespace} can't restart paused deployment (run `kubectl rollout resume deployment/{name} -n {namespace}` first)"
            )));
        }
        // As kubectl does: read, check `paused`, patch without a
        // precondition (status updates during a rollout would keep failing it).
        self.patch_restart(kind, namespace, name, &stamp, None)
            .await
            .map(|()| now)
    }

    /// One merge patch, conditional on `resource_version` when given.
    async fn patch_restart(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
        stamp: &str,
        resource_version: Option<&str>,
    ) -> ClusterResult<()> {
        let mut body = json!({
            "spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}
        });
        if let Some(rv) = resource_version {
            body["metadata"] = json!({"resourceVersion": rv});
        }
        let patch = Patch::Merge(&body);
        let pp = self.patch_params();
        let what = format!("restart {} {}", resource(kind), qualified(namespace, name));
        let seen = match kind {
            WorkloadKind::Deployment => {
                let api: Api<Deployment> = Api::namespaced(self.client.clone(), namespace);
                from_deployment(
                    &self
                        .retry
                        .run(&what, || api.patch(name, &pp, &patch))
                        .await?,
                )
            }
            WorkloadKind::StatefulSet => {
                let api: Api<StatefulSet> = Api::namespaced(self.client.clone(), namespace);
                from_stateful_set(
                    &self
                        .retry
                        .run(&what, || api.patch(name, &pp, &patch))
                        .await?,
                )
            }
            WorkloadKind::DaemonSet => {
                let api: Api<DaemonSet> = Api::namespaced(self.client.clone(), namespace);
                from_daemon_set(
                    &self
                        .retry
                        .run(&what, || api.patch(name, &pp, &patch))
                        .await?,
                )
            }
        };
        // The next restart of this workload must not reuse this version's
        // precondition blindly: remember what the server returned.
        self.remember(&seen);
        Ok(())
    }

    /// Watch the one workload (field selector on its name) until its rollout
    /// is complete or failed, or `timeout_seconds` pass on the backend's clock.
    pub(super) async fn watch_rollout(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
        timeout_seconds: u32,
    ) -> ClusterResult<RolloutStatus> {
        check_name("namespace", namespace)?;
        check_name(resource(kind), name)?;
        let mut last: Option<RolloutStatus> = None;
        let watching = self.watch_until_done(kind, namespace, name, &mut last);
        tokio::select! {
            r = watching => r,
            _ = self.clock.sleep(timeout_seconds) => {
                match last {
                    Some(s) => Ok(RolloutStatus { phase: RolloutPhase::Progressing, message: s.message }),
                    None => {
                        // Nothing arrived at all: say why, from one read.
                        let (w, e) = self.workload(kind, namespace, name).await?;
                        let s = rollout::rollout_status(&w, e)?;
                        Ok(s)
                    }
                }
            }
        }
    }

    async fn watch_until_done(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
        last: &mut Option<RolloutStatus>,
    ) -> ClusterResult<RolloutStatus> {
        let what = format!("watch {} {}", resource(kind), qualified(namespace, name));
        // No resourceVersion on the first watch: the server starts with the
        // object's current state as an ADDED event, so no GET is needed.
        let mut rv = "0".to_string();
        let mut failures = 0u32;
        loop {
            let wp = WatchParams::default()
                .fields(&format!("metadata.name={name}"))
                .timeout(WATCH_SECONDS);
            let opened = match kind {
                WorkloadKind::Deployment => {
                    self.watch_kind::<Deployment>(namespace, &wp, &rv, from_deployment, &what)
                        .await
                }
                WorkloadKind::StatefulSet => {
                    self.watch_kind::<StatefulSet>(namespace, &wp, &rv, from_stateful_set, &what)
                        .await
                }
                WorkloadKind::DaemonSet => {
                    self.watch_kind::<DaemonSet>(namespace, &wp, &rv, from_daemon_set, &what)
                        .await
                }
            };
            let mut stream = match opened {
                Ok(s) => s,
                Err(e) if e.is_transient() && failures < self.retry.max_retries as u32 => {
                    failures += 1;
                    tokio::time::sleep(self.retry.min_delay * 2u32.pow(failures)).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let mut got_any = false;
            loop {
                let next = if got_any || rv != "0" {
                    stream.next().await
                } else {
                    // A missing object produces no first event: check once.
                    match tokio::time::timeout(Duration::from_secs(5), stream.next()).await {
                        Ok(n) => n,
                        Err(_) => {
                            let (w, e) = self.workload(kind, namespace, name).await?;
                            let s = rollout::rollout_status(&w, e)?;
                            if s.phase != RolloutPhase::Progressing {
                                return Ok(s);
                            }
                            *last = Some(s);
                            got_any = true;
                            continue;
                        }
                    }
                };
                match next {
                    None => break,
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "{what}: watch stream broke; reopening");
                        break;
                    }
                    Some(Ok(WatchUpdate::Object(seen))) => {
                        got_any = true;
                        failures = 0;
                        self.remember(&seen);
                        rv = seen.2.clone();
                        let s = rollout::rollout_status(&seen.0, seen.1)?;
                        if s.phase != RolloutPhase::Progressing {
                            return Ok(s);
                        }
                        *last = Some(s);
                    }
                    Some(Ok(WatchUpdate::Deleted)) => {
                        return Err(ClusterError::NotFound(format!(
                            "{} {} was deleted while waiting for its rollout",
                            resource(kind),
                            qualified(namespace, name)
                        )));
                    }
                    Some(Ok(WatchUpdate::Bookmark(v))) => rv = v,
                    Some(Ok(WatchUpdate::Expired)) => {
                        rv = "0".into();
                        break;
                    }
                }
            }
        }
    }

    async fn watch_kind<K>(
        &self,
        namespace: &str,
        wp: &WatchParams,
        rv: &str,
        seen: fn(&K) -> Seen,
        what: &str,
    ) -> ClusterResult<futures::stream::BoxStream<'static, Result<WatchUpdate, kube::Error>>>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + std::fmt::Debug
            + serde::de::DeserializeOwned
            + Send
            + 'static,
        <K as kube::Resource>::DynamicType: Default,
    {
        let api: Api<K> = Api::namespaced(self.client.clone(), namespace);
        let stream = self.retry.run(what, || api.watch(wp, rv)).await?;
        Ok(stream
            .map_ok(move |ev| match ev {
                WatchEvent::Added(o) | WatchEvent::Modified(o) => WatchUpdate::Object(seen(&o)),
                WatchEvent::Deleted(_) => WatchUpdate::Deleted,
                WatchEvent::Bookmark(b) => WatchUpdate::Bookmark(b.metadata.resource_version),
                WatchEvent::Error(_) => WatchUpdate::Expired,
            })
            .boxed())
    }
}

/// One watch event, reduced to what a rollout wait needs.
enum WatchUpdate {
    Object(Seen),
    Deleted,
    Bookmark(String),
    /// The server ended the watch with an error (410 Gone: start afresh).
    Expired,
}
