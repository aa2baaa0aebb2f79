//! The Deployment controller: RollingUpdate within maxSurge and
//! maxUnavailable (25% each by default), Recreate, and the progress
//! deadline that turns a stalled rollout into `ProgressDeadlineExceeded`.

use crate::wit::WorkloadKind;

use super::super::world::{self, Ev, PodId, WlId, World};
use super::Counts;

/// `25%` of `total`, rounded as Kubernetes rounds surge (up) or unavailable (down).
fn quarter(total: u32, round_up: bool) -> u32 {
    if round_up {
        total.div_ceil(4)
    } else {
        total / 4
    }
}

/// A Deployment's rollout is done: every replica updated, no old one left,
/// every updated one available.
fn rolled_out(c: Counts) -> bool {
    c.updated >= c.desired && c.current <= c.updated && c.available >= c.updated
}

impl world::Workload {
    /// Set the Deployment's Progressing condition; the message names its
    /// ReplicaSet (`name-hash`) as the Deployment controller does.
    pub(super) fn set_progressing(&mut self, ok: bool, reason: &str, what: &str) {
        self.progressing = Some((
            ok,
            reason.into(),
            format!("ReplicaSet \"{}-{}\" {what}", self.name, self.template_hash),
        ));
    }
}

impl World {
    pub fn schedule_progress_deadline(&mut self, wl: WlId) {
        let w = &self.workloads[wl];
        if w.kind != WorkloadKind::Deployment {
            return;
        }
        let deadline = w.spec.progress_deadline_seconds.unwrap_or(600);
        let since = w.last_progress;
        self.schedule(since + deadline, Ev::ProgressDeadline { wl, since });
    }

    /// After a reconcile: Progressing turns true once rolled out, and back
    /// to true from a missed deadline when progress resumed within it.
    pub(super) fn refresh_progressing(&mut self, wl: WlId) {
        let complete = rolled_out(self.counts(wl));
        let now = self.now;
        let w = &mut self.workloads[wl];
        if complete {
            w.set_progressing(
                true,
                "NewReplicaSetAvailable",
                "has successfully progressed.",
            );
        } else if let Some((false, _, _)) = &w.progressing {
            let deadline = w.spec.progress_deadline_seconds.unwrap_or(600);
            if now - w.last_progress < deadline {
                w.set_progressing(true, "ReplicaSetUpdated", "is progressing.");
            }
        }
    }

    pub fn check_progress_deadline(&mut self, wl: WlId) {
        let complete = rolled_out(self.counts(wl));
        let now = self.now;
        let w = &mut self.workloads[wl];
        let deadline = w.spec.progress_deadline_seconds.unwrap_or(600);
        if !complete && now - w.last_progress >= deadline {
            w.set_progressing(
                false,
                "ProgressDeadlineExceeded",
                "has timed out progressing.",
            );
        }
    }

    pub(super) fn reconcile_deployment(&mut self, wl: WlId) {
        let desired = self.desired_replicas(wl);
        let w = &self.workloads[wl];
        let hash = w.template_hash.clone();
        let recreate = w.strategy_type() == "Recreate";
        let rolling = w
            .spec
            .strategy
            .as_ref()
            .and_then(|s| s.rolling_update.as_ref());
        let surge = rolling
            .and_then(|r| r.max_surge.as_ref())
            .map_or(Ok(quarter(desired, true)), |v| v.resolve(desired, true))
            .unwrap_or(1);
        let mut unavail = rolling
            .and_then(|r| r.max_unavailable.as_ref())
            .map_or(Ok(quarter(desired, false)), |v| v.resolve(desired, false))
            .unwrap_or(0);
        if surge == 0 && unavail == 0 {
            unavail = 1;
        }
        let mut new: Vec<PodId> = Vec::new();
        let mut old: Vec<PodId> = Vec::new();
        let mut terminating = 0u32;
        for &pid in &w.pods {
            let p = self.pod(pid);
            if !p.active() {
                terminating += 1;
            } else if p.template_hash == hash {
                new.push(pid);
            } else {
                old.push(pid);
            }
        }
        let ready = |world: &World, pid: PodId| world.pod(pid).ready;
        // Too many new pods (after a replacement raced): drop the newest.
        while new.len() as u32 > desired {
            if let Some(pid) = new.pop() {
                self.terminate_pod(pid);
            }
        }
        if recreate {
            if !old.is_empty() {
                for pid in old {
                    self.terminate_pod(pid);
                }
                return;
            }
            if terminating > 0 {
                return;
            }
            for _ in new.len() as u32..desired {
                self.create_deployment_pod(wl, &hash);
            }
            return;
        }
        let total = (new.len() + old.len()) as u32;
        let to_create = desired
            .saturating_sub(new.len() as u32)
            .min((desired + surge).saturating_sub(total));
        if to_create > 0 {
            for _ in 0..to_create {
                let pid = self.create_deployment_pod(wl, &hash);
                new.push(pid);
            }
            self.workloads[wl].last_progress = self.now;
            self.schedule_progress_deadline(wl);
        }
        let new_ready = new.iter().filter(|&&p| ready(self, p)).count() as u32;
        let total = (new.len() + old.len()) as u32;
        let min_available = desired.saturating_sub(unavail);
        let new_unavailable = new.len() as u32 - new_ready;
        let mut max_down = total
            .saturating_sub(min_available)
            .saturating_sub(new_unavailable);
        // Old pods that are not Ready go first: removing them costs no availability.
        old.sort_by_key(|&p| ready(self, p));
        for pid in old {
            if max_down == 0 {
                break;
            }
            self.terminate_pod(pid);
            max_down -= 1;
        }
    }

    fn create_deployment_pod(&mut self, wl: WlId, hash: &str) -> PodId {
        let suffix = self.pod_name_suffix();
        let name = format!("{}-{}-{}", self.workloads[wl].name, hash, suffix);
        let node = self.node_for(self.next_uid as usize);
        self.create_workload_pod(wl, name, node, None, hash.to_string())
    }
}
