//! Pods as the primitives see them: the full view, the summary that skips
//! building labels, which are terminating, and deletion (an eviction is a
//! deletion: PodDisruptionBudgets are not modelled).

use crate::cluster::selector::Selector;
use crate::cluster::sim::linkerd::PROXY_CONTAINER;
use crate::cluster::sim::world::{self, World};
use crate::cluster::{ClusterError, ClusterResult};
use crate::linkerd::NOT_READY_KEY;
use crate::wit::{KeyValue, ObjectRef, Pod, PodSummary};

use super::super::SimCluster;
use super::kv;

impl SimCluster {
    /// The pods of `namespace` (all: `None`) matching `selector`, as `view` shows them.
    fn map_pods<T>(
        &self,
        namespace: Option<&str>,
        selector: &str,
        view: impl Fn(&World, &world::Pod) -> T,
    ) -> ClusterResult<Vec<T>> {
        let sel = Selector::parse(selector)?;
        let w = self.lock();
        Ok(w.pod_ids(namespace)
            .into_iter()
            .map(|id| w.pod(id))
            .filter(|p| sel.matches(&p.labels))
            .map(|p| view(&w, p))
            .collect())
    }

    pub(in crate::cluster::sim) fn pods(
        &self,
        namespace: Option<&str>,
        selector: &str,
    ) -> ClusterResult<Vec<Pod>> {
        self.map_pods(namespace, selector, |w, p| w.pod_view(p))
    }

    pub(in crate::cluster::sim) fn pod_summaries(
        &self,
        namespace: Option<&str>,
        selector: &str,
        annotations: &[String],
    ) -> ClusterResult<Vec<PodSummary>> {
        self.map_pods(namespace, selector, |w, p| w.pod_summary(p, annotations))
    }

    pub(in crate::cluster::sim) fn pods_being_deleted(
        &self,
        namespace: Option<&str>,
        selector: &str,
    ) -> ClusterResult<std::collections::BTreeSet<String>> {
        let named = self.map_pods(namespace, selector, |_, p| {
            p.terminating.then(|| format!("{}/{}", p.namespace, p.name))
        })?;
        Ok(named.into_iter().flatten().collect())
    }

    pub(in crate::cluster::sim) fn remove_pod(
        &self,
        namespace: &str,
        name: &str,
    ) -> ClusterResult<()> {
        let mut w = self.lock();
        let id = w
            .pod_id(namespace, name)
            .ok_or_else(|| ClusterError::NotFound(format!("Pod {namespace}/{name}")))?;
        w.terminate_pod(id);
        w.evaluate_outage();
        Ok(())
    }
}

impl World {
    fn pod_view(&self, p: &world::Pod) -> Pod {
        Pod {
            namespace: p.namespace.clone(),
            name: p.name.clone(),
            labels: kv(&p.labels),
            annotations: kv(&p.annotations),
            containers: (*p.containers).clone(),
            init_containers: (*p.init_containers).clone(),
            ready: p.ready && !p.terminating,
            phase: p.phase().into(),
            node_name: p.node.clone(),
            start_time: p.start_time,
            owner: self.owner_ref(p),
        }
    }

    /// [`PodSummary::answering`] of [`World::pod_view`], without building
    /// the labels. Of the init containers only the proxy runs on (a native
    /// sidecar); the model has no other sidecars.
    fn pod_summary(&self, p: &world::Pod, annotations: &[String]) -> PodSummary {
        let sidecars = p.init_containers.iter().filter(|c| *c == PROXY_CONTAINER);
        let containers = p.containers.iter().chain(sidecars).cloned().collect();
        PodSummary {
            namespace: p.namespace.clone(),
            name: p.name.clone(),
            annotations: annotations
                .iter()
                .filter_map(|k| {
                    let v = if k == NOT_READY_KEY {
                        self.not_ready_reason(p)?
                    } else {
                        p.annotations.get(k)?.clone()
                    };
                    Some(KeyValue::new(k.clone(), v))
                })
                .collect(),
            containers,
            ready: p.ready && !p.terminating,
            phase: p.phase().into(),
            node_name: p.node.clone(),
            start_time: p.start_time,
            owner: self.owner_ref(p),
        }
    }

    fn owner_ref(&self, p: &world::Pod) -> Option<ObjectRef> {
        let Some(wl) = p.owner else {
            // As the Kubernetes backend lists it: the ReplicaSet's owner.
            return p.foreign.as_ref().map(|f| ObjectRef {
                kind: f.owner.kind.clone(),
                namespace: p.namespace.clone(),
                name: f.owner.name.clone(),
            });
        };
        let w = &self.workloads[wl];
        Some(ObjectRef {
            kind: w.kind.as_kind().into(),
            namespace: w.namespace.clone(),
            name: w.name.clone(),
        })
    }
}
