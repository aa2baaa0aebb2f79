//! Workload controllers in virtual time: Deployment (RollingUpdate with
//! maxSurge/maxUnavailable, Recreate), StatefulSet (ordinal order, partition,
//! OnDelete), DaemonSet (one pod per node), plus `kubectl rollout restart`
//! and kubectl's rollout-status rules and wording.
//!
//! Here: the pod counts and WIT view every kind shares, `rollout restart`
//! and the reconcile entry point; each kind's controller in its own file,
//! and kubectl's rollout-status rules in `status`.

mod daemonset;
mod deployment;
mod statefulset;
mod status;

use crate::cluster::ClusterError;
use crate::wit::{KeyValue, UpdateStrategy, Workload, WorkloadKind};

use super::world::{WlId, World, rfc3339, short_hash};

pub use status::StatusInputs;

/// Pod counts a workload's status reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub desired: u32,
    pub current: u32,
    pub updated: u32,
    pub ready: u32,
    pub available: u32,
}

const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

impl World {
    pub fn desired_replicas(&self, wl: WlId) -> u32 {
        let w = &self.workloads[wl];
        match w.kind {
            WorkloadKind::DaemonSet => self.node_names.len() as u32,
            _ => w.spec.replicas.unwrap_or(1),
        }
    }

    pub fn counts(&self, wl: WlId) -> Counts {
        let w = &self.workloads[wl];
        let mut c = Counts {
            desired: self.desired_replicas(wl),
            ..Counts::default()
        };
        for &pid in &w.pods {
            let p = self.pod(pid);
            if !p.active() {
                continue;
            }
            c.current += 1;
            if p.template_hash == w.template_hash {
                c.updated += 1;
            }
            if p.ready {
                c.ready += 1;
                c.available += 1;
            }
        }
        c
    }

    /// The WIT view of a workload.
    pub fn workload_view(&self, wl: WlId) -> Workload {
        let w = &self.workloads[wl];
        let c = self.counts(wl);
        let kv = |m: &std::collections::BTreeMap<String, String>| {
            m.iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
                .collect::<Vec<_>>()
        };
        let strategy = match w.strategy_type() {
            "OnDelete" => UpdateStrategy::OnDelete,
            "Recreate" => UpdateStrategy::Recreate,
            _ => UpdateStrategy::RollingUpdate,
        };
        Workload {
            kind: w.kind,
            namespace: w.namespace.clone(),
            name: w.name.clone(),
            labels: kv(&w.labels),
            template_labels: kv(&w.spec.template.metadata.labels),
            template_annotations: kv(&w.spec.template.metadata.annotations),
            selector: w.selector_string.clone(),
            strategy,
            paused: w.spec.paused,
            partition: self.partition(wl),
            generation: w.generation,
            observed_generation: w.observed_generation,
            desired: c.desired,
            current: c.current,
            updated: c.updated,
            ready: c.ready,
            available: c.available,
        }
    }

    fn partition(&self, wl: WlId) -> u32 {
        let w = &self.workloads[wl];
        if w.kind != WorkloadKind::StatefulSet || w.strategy_type() != "RollingUpdate" {
            return 0;
        }
        w.spec
            .update_strategy
            .as_ref()
            .and_then(|s| s.rolling_update.as_ref())
            .and_then(|r| r.partition)
            .unwrap_or(0)
    }

    /// `kubectl rollout restart`: stamp the template; the controller rolls.
    pub fn restart(&mut self, wl: WlId) -> Result<i64, ClusterError> {
        let now = self.now;
        let stamp = rfc3339(now);
        let w = &mut self.workloads[wl];
        if w.kind == WorkloadKind::Deployment && w.spec.paused {
            return Err(ClusterError::Invalid(format!(
                "deployments.apps {:?} can't restart paused deployment (run rollout resume first)",
                w.name
            )));
        }
        let annotations = &mut w.spec.template.metadata.annotations;
        if annotations.get(RESTARTED_AT) == Some(&stamp) {
            // The same patch twice in one second changes nothing, as in Kubernetes.
            return Ok(now);
        }
        annotations.insert(RESTARTED_AT.to_string(), stamp.clone());
        w.generation += 1;
        w.template_hash = short_hash(
            &format!("{}/{}/{}/{}", w.namespace, w.name, w.generation, stamp),
            10,
        );
        self.request_reconcile(wl);
        Ok(now)
    }

    pub fn reconcile(&mut self, wl: WlId) {
        let now = self.now;
        {
            let w = &mut self.workloads[wl];
            if w.observed_generation < w.generation {
                w.observed_generation = w.generation;
                if w.kind == WorkloadKind::Deployment {
                    w.set_progressing(true, "ReplicaSetUpdated", "is progressing.");
                    w.last_progress = now;
                }
            }
        }
        if self.workloads[wl].kind == WorkloadKind::Deployment {
            self.schedule_progress_deadline(wl);
        }
        match self.workloads[wl].kind {
            WorkloadKind::Deployment => self.reconcile_deployment(wl),
            WorkloadKind::StatefulSet => self.reconcile_statefulset(wl),
            WorkloadKind::DaemonSet => self.reconcile_daemonset(wl),
        }
        if self.workloads[wl].kind == WorkloadKind::Deployment {
            self.refresh_progressing(wl);
        }
    }

    fn pod_name_suffix(&mut self) -> String {
        short_hash(&format!("pod-{}", self.next_uid), 5)
    }

    fn node_for(&self, n: usize) -> String {
        self.node_names[n % self.node_names.len()].clone()
    }
}
