//! The pod table: lookups, admission of a workload's pods from their
//! template, start, readiness, termination and removal, and the trust
//! class each pod counts in for the outage checker.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::cluster::sim::linkerd::{Injection, TRUST_ROOT_SHA_ANNOTATION, inject_fields};
use crate::cluster::sim::manifest::Container;
use crate::wit::WorkloadKind;

use super::{Ev, Mesh, Pod, PodId, PodParts, WlId, World};

impl World {
    pub fn pod(&self, id: PodId) -> &Pod {
        self.pods[id]
            .as_ref()
            .expect("pod ids in indexes refer to live pods")
    }

    pub fn pod_mut(&mut self, id: PodId) -> &mut Pod {
        self.pods[id]
            .as_mut()
            .expect("pod ids in indexes refer to live pods")
    }

    pub fn pod_id(&self, ns: &str, name: &str) -> Option<PodId> {
        self.pod_index.get(ns)?.get(name).copied()
    }

    /// Pods in listing order (namespace, name), optionally one namespace.
    pub fn pod_ids(&self, ns: Option<&str>) -> Vec<PodId> {
        match ns {
            Some(ns) => self
                .pod_index
                .get(ns)
                .map(|m| m.values().copied().collect())
                .unwrap_or_default(),
            None => self
                .pod_index
                .values()
                .flat_map(|m| m.values().copied())
                .collect(),
        }
    }

    /// Add a pod to the table and its indexes (its start is scheduled by the caller).
    pub fn insert_pod(&mut self, mut pod: Pod) -> PodId {
        let id = self.free_pods.pop().unwrap_or(self.pods.len());
        pod.uid = self.next_uid;
        self.next_uid += 1;
        if !self.pod_index.contains_key(&pod.namespace) {
            self.pod_index
                .insert(pod.namespace.clone(), BTreeMap::new());
        }
        if let Some(names) = self.pod_index.get_mut(&pod.namespace) {
            names.insert(pod.name.clone(), id);
        }
        if let Some(wl) = pod.owner {
            self.workloads[wl].pods.insert(id);
        }
        if id == self.pods.len() {
            self.pods.push(Some(pod));
        } else {
            self.pods[id] = Some(pod);
        }
        id
    }

    /// Create a pod for a workload from its current template, at admission.
    pub fn create_workload_pod(
        &mut self,
        wl: WlId,
        name: String,
        node: String,
        ordinal: Option<u32>,
        hash: String,
    ) -> PodId {
        let parts = self.pod_parts(wl, &hash);
        let w = &self.workloads[wl];
        let mut labels = parts.labels;
        if w.kind == WorkloadKind::StatefulSet {
            Arc::make_mut(&mut labels)
                .insert("statefulset.kubernetes.io/pod-name".into(), name.clone());
        }
        let (annotations, containers, init_containers) =
            (parts.annotations, parts.containers, parts.init_containers);
        let pod = Pod {
            owner: Some(wl),
            template_hash: hash,
            ordinal,
            labels,
            annotations,
            containers,
            init_containers,
            created: self.now,
            never_ready: w.never_ready,
            unit: Some(w.unit),
            ..Pod::new(w.namespace.clone(), name, node, w.mesh)
        };
        let id = self.insert_pod(pod);
        self.admit(id);
        let uid = self.pod(id).uid;
        let start = self.now + self.spec.timings.pod_start_seconds;
        self.schedule(start, Ev::PodStarted { pod: id, uid });
        id
    }

    /// The shared parts of a revision's pods, built on first use.
    fn pod_parts(&mut self, wl: WlId, hash: &str) -> PodParts {
        if let Some(parts) = &self.workloads[wl].pod_parts
            && parts.hash == hash
        {
            return parts.clone();
        }
        let w = &self.workloads[wl];
        let mut labels = w.spec.template.metadata.labels.clone();
        let mut annotations = w.spec.template.metadata.annotations.clone();
        match w.kind {
            WorkloadKind::Deployment => {
                labels.insert("pod-template-hash".into(), hash.to_string());
            }
            WorkloadKind::StatefulSet => {
                labels.insert(
                    "controller-revision-hash".into(),
                    format!("{}-{}", w.name, hash),
                );
            }
            WorkloadKind::DaemonSet => {
                labels.insert("controller-revision-hash".into(), hash.to_string());
                labels.insert("pod-template-generation".into(), w.generation.to_string());
            }
        }
        let names = |cs: &[Container]| cs.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
        let mut containers = names(&w.spec.template.spec.containers);
        let mut init_containers = names(&w.spec.template.spec.init_containers);
        if w.mesh == Mesh::ControlPlane
            && let Some(sha) = &self.install_roots_sha
        {
            annotations
                .entry(TRUST_ROOT_SHA_ANNOTATION.to_string())
                .or_insert_with(|| sha.clone());
        }
        if w.mesh != Mesh::Off {
            let native = self.native_sidecar_wanted(&w.namespace, &annotations);
            let w = &self.workloads[wl];
            inject_fields(
                &w.namespace,
                Some((w.kind, &w.name)),
                &mut labels,
                &mut annotations,
                &mut containers,
                &mut init_containers,
                Injection {
                    version: self.spec.linkerd_version(),
                    native,
                },
            );
        }
        let parts = PodParts {
            hash: hash.to_string(),
            labels: Arc::new(labels),
            annotations: Arc::new(annotations),
            containers: Arc::new(containers),
            init_containers: Arc::new(init_containers),
            with_roots: None,
        };
        self.workloads[wl].pod_parts = Some(parts.clone());
        parts
    }

    pub(super) fn pod_started(&mut self, id: PodId) {
        {
            let now = self.now;
            let p = self.pod_mut(id);
            if p.terminating || p.running {
                return;
            }
            p.running = true;
            p.start_time = Some(now);
        }
        match self.pod(id).mesh {
            Mesh::Off => {
                let never = self.pod(id).never_ready;
                self.set_ready(id, !never);
            }
            Mesh::Injected | Mesh::ControlPlane => self.proxy_started(id),
        }
    }

    /// Readiness change: owners roll on, the checker re-counts.
    pub fn set_ready(&mut self, id: PodId, ready: bool) {
        let p = self.pod_mut(id);
        let changed = p.ready != ready;
        p.ready = ready;
        if ready {
            p.ever_ready = true;
        }
        let owner = p.owner;
        if changed {
            self.update_contrib(id);
            if let Some(wl) = owner {
                if ready {
                    self.workloads[wl].last_progress = self.now;
                    self.schedule_progress_deadline(wl);
                }
                self.request_reconcile(wl);
            }
        }
    }

    /// Begin deleting a pod: it stops serving now and is gone after podStopSeconds.
    pub fn terminate_pod(&mut self, id: PodId) {
        let stop = self.now + self.spec.timings.pod_stop_seconds;
        let p = self.pod_mut(id);
        if p.terminating {
            return;
        }
        p.terminating = true;
        p.gone_at = Some(stop);
        let uid = p.uid;
        let owner = p.owner;
        self.set_ready(id, false);
        self.update_contrib(id);
        self.schedule(stop, Ev::PodGone { pod: id, uid });
        if let Some(wl) = owner {
            self.request_reconcile(wl);
        }
        self.foreign_pod_deleted(id);
    }

    pub(super) fn remove_pod(&mut self, id: PodId) {
        let Some(p) = self.pods[id].take() else {
            return;
        };
        if p.running && !p.ever_ready {
            self.never_ready_log
                .push(format!("{}/{}", p.namespace, p.name));
        }
        if let Some(names) = self.pod_index.get_mut(&p.namespace) {
            names.remove(&p.name);
            if names.is_empty() {
                self.pod_index.remove(&p.namespace);
            }
        }
        self.free_pods.push(id);
        if let (Some(unit), Some(class)) = (p.unit, p.contrib) {
            self.outage.set_pod_class(unit, Some(class), None);
        }
        if let Some(wl) = p.owner {
            self.workloads[wl].pods.remove(&id);
            self.request_reconcile(wl);
        }
        self.foreign_pod_gone(&p);
    }

    /// Recompute which trust class a pod counts in.
    pub fn update_contrib(&mut self, id: PodId) {
        let p = self.pod(id);
        let Some(unit) = p.unit else { return };
        let class = match (p.ready && !p.terminating, p.roots, p.leaf) {
            (true, Some(roots), Some(leaf)) if p.mesh != Mesh::Off => {
                Some((roots, leaf.anchor, p.leaf_expired))
            }
            _ => None,
        };
        let old = p.contrib;
        let new = class.map(|(r, a, e)| self.outage.class_id(r, a, e));
        if old != new {
            self.pod_mut(id).contrib = new;
            self.outage.set_pod_class(unit, old, new);
        }
    }
}
