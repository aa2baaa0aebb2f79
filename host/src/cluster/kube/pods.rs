//! Pods: list with owners resolved (one ReplicaSet list per call, not a GET
//! per pod), delete, and evict through the policy/v1 Eviction API.

use std::collections::HashMap;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod as K8sPod;
use kube::api::{Api, EvictParams, ListParams};

use super::{KubeCluster, check_name, convert, error, qualified, sidecar};
use crate::cluster::{ClusterError, ClusterResult};
use crate::linkerd::NOT_READY_KEY;
use crate::wit::{Pod, PodSummary};

impl KubeCluster {
    fn pod_api(&self, namespace: Option<&str>) -> ClusterResult<Api<K8sPod>> {
        if let Some(ns) = namespace {
            check_name("namespace", ns)?;
        }
        Ok(match namespace {
            Some(ns) => Api::namespaced(self.client.clone(), ns),
            None => Api::all(self.client.clone()),
        })
    }

    /// `namespace/name` of the matching pods with a deletionTimestamp.
    pub(super) async fn pods_being_deleted(
        &self,
        namespace: Option<&str>,
        selector: &str,
    ) -> ClusterResult<std::collections::BTreeSet<String>> {
        let api = self.pod_api(namespace)?;
        let lp = ListParams::default().labels(selector);
        let pods = self.retry.run("list pods", || api.list(&lp)).await?.items;
        Ok(pods
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_some())
            .map(|p| {
                format!(
                    "{}/{}",
                    p.metadata.namespace.as_deref().unwrap_or_default(),
                    p.metadata.name.as_deref().unwrap_or_default()
                )
            })
            .collect())
    }

    pub(super) async fn pods(
        &self,
        namespace: Option<&str>,
        selector: &str,
    ) -> ClusterResult<Vec<Pod>> {
        let (pods, owners) = self.pods_and_owners(namespace, selector).await?;
        let mut out: Vec<Pod> = pods
            .iter()
            .map(|p| convert::pod_record(p, &owners))
            .collect();
        out.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        Ok(out)
    }

    /// `pods` reduced to `annotations`, with native sidecars among the
    /// containers and the host's answer to [`NOT_READY_KEY`] (see
    /// [`sidecar`](super::sidecar)).
    pub(super) async fn pod_summaries(
        &self,
        namespace: Option<&str>,
        selector: &str,
        annotations: &[String],
    ) -> ClusterResult<Vec<PodSummary>> {
        let (pods, owners) = self.pods_and_owners(namespace, selector).await?;
        let asked = annotations.iter().any(|k| k == NOT_READY_KEY);
        let mut out: Vec<PodSummary> = pods
            .iter()
            .map(|p| {
                let not_ready = asked.then(|| sidecar::proxy_stuck_in_init(p)).flatten();
                let mut s =
                    PodSummary::answering(convert::pod_record(p, &owners), annotations, not_ready);
                if let Some(spec) = &p.spec {
                    s.containers = sidecar::running_containers(spec);
                }
                s
            })
            .collect();
        out.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        Ok(out)
    }

    /// The matching pods and their ReplicaSets' owners
    /// ("namespace/replicaset" -> kind and name).
    async fn pods_and_owners(
        &self,
        namespace: Option<&str>,
        selector: &str,
    ) -> ClusterResult<(Vec<K8sPod>, HashMap<String, convert::RsOwner>)> {
        let api = self.pod_api(namespace)?;
        let lp = ListParams::default().labels(selector);
        let pods = self.retry.run("list pods", || api.list(&lp)).await?.items;
        // ReplicaSet -> Deployment never changes for a given ReplicaSet, so
        // the map is kept and the ReplicaSets are listed (once for the call)
        // only when a pod names one not seen before: after a restart.
        let wanted: Vec<String> = pods
            .iter()
            .flat_map(|p| {
                let ns = p.metadata.namespace.clone().unwrap_or_default();
                p.metadata
                    .owner_references
                    .iter()
                    .flatten()
                    .filter(|o| o.kind == "ReplicaSet")
                    .map(move |o| format!("{ns}/{}", o.name))
            })
            .collect();
        self.learn_from_names(&pods);
        let missing = {
            let known = self.rs_owners.lock().unwrap_or_else(|p| p.into_inner());
            wanted.iter().any(|k| !known.contains_key(k))
        };
        if missing {
            let rs_api: Api<ReplicaSet> = match namespace {
                Some(ns) => Api::namespaced(self.client.clone(), ns),
                None => Api::all(self.client.clone()),
            };
            let lp = ListParams::default();
            let sets = self
                .retry
                .run("list replicasets", || rs_api.list(&lp))
                .await?
                .items;
            let owners = convert::replica_set_owners(&sets);
            let mut known = self.rs_owners.lock().unwrap_or_else(|p| p.into_inner());
            for rs in &sets {
                let key = format!(
                    "{}/{}",
                    rs.metadata.namespace.clone().unwrap_or_default(),
                    rs.metadata.name.clone().unwrap_or_default()
                );
                let owner = owners.get(&key).cloned();
                known.insert(key, owner);
            }
        }
        let owners: HashMap<String, convert::RsOwner> = {
            let known = self.rs_owners.lock().unwrap_or_else(|p| p.into_inner());
            wanted
                .iter()
                .filter_map(|k| Some((k.clone(), known.get(k)?.clone()?)))
                .collect()
        };
        Ok((pods, owners))
    }

    /// The Deployment controller names its ReplicaSets
    /// `<deployment>-<pod-template-hash>`: a pod whose ReplicaSet is named
    /// that way after a Deployment rotor has already read belongs to it, and
    /// needs no ReplicaSet list (which would follow every restart).
    fn learn_from_names(&self, pods: &[K8sPod]) {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let mut known = self.rs_owners.lock().unwrap_or_else(|p| p.into_inner());
        for p in pods {
            let ns = p.metadata.namespace.clone().unwrap_or_default();
            let Some(hash) = p
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("pod-template-hash"))
            else {
                continue;
            };
            for o in p.metadata.owner_references.iter().flatten() {
                if o.kind != "ReplicaSet" || o.controller != Some(true) {
                    continue;
                }
                let key = format!("{ns}/{}", o.name);
                if known.contains_key(&key) {
                    continue;
                }
                let Some(deployment) = o.name.strip_suffix(&format!("-{hash}")) else {
                    continue;
                };
                if seen.contains_key(&("Deployment", ns.clone(), deployment.to_string())) {
                    known.insert(key, Some(("Deployment".into(), deployment.to_string())));
                }
            }
        }
    }

    pub(super) async fn remove_pod(&self, namespace: &str, name: &str) -> ClusterResult<()> {
        check_name("namespace", namespace)?;
        check_name("pod", name)?;
        let api: Api<K8sPod> = Api::namespaced(self.client.clone(), namespace);
        let dp = self.delete_params();
        let what = format!("delete pod {}", qualified(namespace, name));
        self.retry.run(&what, || api.delete(name, &dp)).await?;
        Ok(())
    }

    /// A PodDisruptionBudget that forbids the eviction answers 429; that is
    /// a `Conflict` (try later or another pod), not an overloaded server.
    pub(super) async fn evict(&self, namespace: &str, name: &str) -> ClusterResult<()> {
        check_name("namespace", namespace)?;
        check_name("pod", name)?;
        let api: Api<K8sPod> = Api::namespaced(self.client.clone(), namespace);
        let ep = EvictParams {
            delete_options: None,
            post_options: self.post_params(),
        };
        let what = format!("evict pod {}", qualified(namespace, name));
        let timeout = self.retry.call_timeout;
        match tokio::time::timeout(timeout, api.evict(name, &ep)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if error::status_code(&e) == Some(429) => {
                Err(ClusterError::Conflict(format!(
                    "{what}: blocked by a PodDisruptionBudget: {}",
                    error::map_error("", e)
                )))
            }
            Ok(Err(e)) => {
                let mapped = error::map_error(&what, e);
                if mapped.is_transient() {
                    // Retry the ordinary way (5xx, broken connections).
                    self.retry
                        .run(&what, || api.evict(name, &ep))
                        .await
                        .map(|_| ())
                } else {
                    Err(mapped)
                }
            }
            Err(_) => Err(ClusterError::Timeout(format!(
                "{what}: no answer from the API server within {}s",
                timeout.as_secs()
            ))),
        }
    }
}
