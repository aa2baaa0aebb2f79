//! Restarts that custom controllers make when asked (`restart-owner`): an
//! Argo Rollout's `spec.restartAt` and a StrimziPodSet's
//! `strimzi.io/manual-rolling-update` annotation, each carried out by the
//! model of that controller over the pods [`super::foreign`] lists under
//! the owner.
//!
//! - Argo Rollouts (argo-rollouts, `rollout/restart.go` and
//!   `docs/features/restart.md`): once the current time is past
//!   `spec.restartAt`, the controller evicts the Rollout's pods created
//!   before that time (a pod created at that very second counts as new),
//!   never more at once than keeps `replicas - max(maxUnavailable, 1)` pods
//!   available; the ReplicaSet replaces each evicted pod. `maxUnavailable`
//!   defaults to 25% of the replicas, rounded down (argo-rollouts,
//!   `utils/defaults/defaults.go` and `utils/replicaset`'s
//!   `MaxUnavailable`); the model uses that default. The controller is
//!   requeued by ReplicaSet status changes and every 30 s while pods remain
//!   (`restartPodCheckTime`); the model looks again every second. When no
//!   pod is older than `restartAt`, it sets `status.restartedAt`.
//! - Strimzi (strimzi-kafka-operator, `KafkaReconciler.java`,
//!   `KafkaRoller.java`, `ClusterOperatorConfig.java`): the Cluster
//!   Operator reads the annotation on its next reconciliation, which runs
//!   on a timer every `STRIMZI_FULL_RECONCILIATION_INTERVAL_MS` (120000 by
//!   default), collects every pod of each annotated StrimziPodSet
//!   (`ReconcilerUtils.nodesFromPodSet`) and rolls them one at a time:
//!   delete, wait until the recreated pod is Ready, then the next
//!   (`restartAndAwaitReadiness`). The reconciliation then writes the set
//!   back without the annotation. The model's timer runs from the moment
//!   the scenario was loaded.
//!
//! The simulator has no Rollout or StrimziPodSet objects of their own: an
//! owner exists while a pod lists it, so one with no pods is `not-found`.

use crate::cluster::{ClusterError, ClusterResult, ROLLOUT, STRIMZI_POD_SET, check_owner_kind};
use crate::wit::ObjectRef;

use super::world::{Ev, PodId, World};

/// Strimzi's default `STRIMZI_FULL_RECONCILIATION_INTERVAL_MS`, in seconds.
pub const STRIMZI_RECONCILIATION_SECONDS: i64 = 120;

/// Argo Rollouts' default `maxUnavailable`, in percent of the replicas.
const ARGO_MAX_UNAVAILABLE_PERCENT: usize = 25;

/// One owner asked to restart, and how far its controller got.
#[derive(Debug, Clone)]
pub struct OwnerRestart {
    pub owner: ObjectRef,
    /// `spec.restartAt`, or when the annotation was written.
    pub asked_at: i64,
    /// Strimzi: the reconciliation that rolls began then, with these pods
    /// still to roll, in order.
    pub rolling: Option<(i64, Vec<String>)>,
    /// Argo's `status.restartedAt` set, or Strimzi's annotation removed.
    pub done: bool,
}

impl World {
    /// `restart-owner`: record the request and wake the owner's controller.
    pub fn restart_owner(&mut self, owner: &ObjectRef) -> ClusterResult<i64> {
        check_owner_kind(&owner.kind)?;
        if self.owner_pods(owner).is_empty() {
            let plural = if owner.kind == ROLLOUT.0 {
                ROLLOUT.3
            } else {
                STRIMZI_POD_SET.3
            };
            return Err(ClusterError::NotFound(format!(
                "{plural} {:?} in {} not found ({} {}/{})",
                owner.name, owner.namespace, owner.kind, owner.namespace, owner.name
            )));
        }
        let now = self.now;
        let idx = match self.owner_restarts.iter().position(|r| r.owner == *owner) {
            Some(i) => i,
            None => {
                self.owner_restarts.push(OwnerRestart {
                    owner: owner.clone(),
                    asked_at: now,
                    rolling: None,
                    done: true,
                });
                self.owner_restarts.len() - 1
            }
        };
        let r = &mut self.owner_restarts[idx];
        if owner.kind == ROLLOUT.0 {
            // A new restartAt replaces the old one: pods older than it go.
            r.asked_at = now;
            r.done = false;
            self.schedule(now, Ev::OwnerRestart(idx));
        } else if r.done {
            // Annotating a set that carries the annotation already changes
            // nothing: the roll under way goes on.
            r.asked_at = now;
            r.done = false;
            r.rolling = None;
            let since = now - self.loaded_at;
            let periods = since.div_euclid(STRIMZI_RECONCILIATION_SECONDS) + 1;
            let next = self.loaded_at + periods * STRIMZI_RECONCILIATION_SECONDS;
            self.schedule(next, Ev::OwnerRestart(idx));
        }
        Ok(now)
    }

    /// The live pods listed under `owner`, by name.
    fn owner_pods(&self, owner: &ObjectRef) -> Vec<PodId> {
        let mut ids: Vec<PodId> = self
            .pod_ids(Some(&owner.namespace))
            .into_iter()
            .filter(|&id| {
                self.pod(id)
                    .foreign
                    .as_ref()
                    .is_some_and(|f| f.owner.kind == owner.kind && f.owner.name == owner.name)
            })
            .collect();
        ids.sort_by(|a, b| self.pod(*a).name.cmp(&self.pod(*b).name));
        ids
    }

    /// The owner's controller acts on a pending restart.
    pub(super) fn owner_restart_due(&mut self, idx: usize) {
        if self.owner_restarts[idx].done {
            return;
        }
        let more = if self.owner_restarts[idx].owner.kind == ROLLOUT.0 {
            self.argo_restart_step(idx)
        } else {
            self.strimzi_roll_step(idx)
        };
        if more {
            self.schedule(self.now + 1, Ev::OwnerRestart(idx));
        } else {
            self.owner_restarts[idx].done = true;
        }
    }

    /// Evict what maxUnavailable allows of the pods older than
    /// `restartAt`; whether any remain.
    fn argo_restart_step(&mut self, idx: usize) -> bool {
        let r = self.owner_restarts[idx].clone();
        let live: Vec<PodId> = self
            .owner_pods(&r.owner)
            .into_iter()
            .filter(|&id| !self.pod(id).terminating)
            .collect();
        let replicas = live.len();
        let max_unavailable = replicas * ARGO_MAX_UNAVAILABLE_PERCENT / 100;
        let concurrent = max_unavailable.max(1);
        let available = live.iter().filter(|&&id| self.pod(id).ready).count();
        let mut can_restart = available as i64 - (replicas as i64 - concurrent as i64);
        let old: Vec<PodId> = live
            .into_iter()
            .filter(|&id| self.pod(id).created < r.asked_at)
            .collect();
        if old.is_empty() {
            return false;
        }
        for id in old {
            if can_restart <= 0 {
                break;
            }
            self.terminate_pod(id);
            can_restart -= 1;
        }
        true
    }

    /// Roll the set's pods one at a time, each recreated and Ready before
    /// the next; whether any remain.
    fn strimzi_roll_step(&mut self, idx: usize) -> bool {
        let owner = self.owner_restarts[idx].owner.clone();
        if self.owner_restarts[idx].rolling.is_none() {
            let names = self
                .owner_pods(&owner)
                .into_iter()
                .map(|id| self.pod(id).name.clone())
                .collect();
            self.owner_restarts[idx].rolling = Some((self.now, names));
        }
        loop {
            let Some((began, queue)) = self.owner_restarts[idx].rolling.clone() else {
                return false;
            };
            let Some(name) = queue.first() else {
                return false;
            };
            match self.pod_id(&owner.namespace, name) {
                Some(id) if self.pod(id).created < began => {
                    if !self.pod(id).terminating {
                        self.terminate_pod(id);
                    }
                    return true;
                }
                Some(id) if self.pod(id).ready && !self.pod(id).terminating => {
                    if let Some((_, q)) = self.owner_restarts[idx].rolling.as_mut() {
                        q.remove(0);
                    }
                }
                // Gone and not yet recreated, or recreated and not Ready.
                _ => return true,
            }
        }
    }
}
