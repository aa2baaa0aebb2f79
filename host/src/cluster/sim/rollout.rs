//! Workload controllers in virtual time: Deployment (RollingUpdate with
//! maxSurge/maxUnavailable, Recreate), StatefulSet (ordinal order, partition,
//! OnDelete), DaemonSet (one pod per node), plus `kubectl rollout restart`
//! and kubectl's rollout-status rules and wording.

use crate::cluster::ClusterError;
use crate::wit::{KeyValue, RolloutPhase, RolloutStatus, UpdateStrategy, Workload, WorkloadKind};

use super::manifest::IntOrPercent;
use super::world::{Ev, PodId, WlId, World, rfc3339, short_hash};

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

/// Everything [`World::rollout_status`] reads, to tell cheaply whether it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusInputs {
    generation: i64,
    observed: i64,
    counts: Counts,
    progressing: Option<bool>,
    current_is_update: bool,
}

/// `25%` of `total`, rounded as Kubernetes rounds surge (up) or unavailable (down).
fn quarter(total: u32, round_up: bool) -> u32 {
    if round_up {
        total.div_ceil(4)
    } else {
        total / 4
    }
}

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
                    w.progressing = Some((
                        true,
                        "ReplicaSetUpdated".into(),
                        format!(
                            "ReplicaSet \"{}-{}\" is progressing.",
                            w.name, w.template_hash
                        ),
                    ));
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
            let c = self.counts(wl);
            let complete =
                c.updated >= c.desired && c.current <= c.updated && c.available >= c.updated;
            let w = &mut self.workloads[wl];
            if complete {
                w.progressing = Some((
                    true,
                    "NewReplicaSetAvailable".into(),
                    format!(
                        "ReplicaSet \"{}-{}\" has successfully progressed.",
                        w.name, w.template_hash
                    ),
                ));
            } else if let Some((false, _, _)) = &w.progressing {
                let deadline = w.spec.progress_deadline_seconds.unwrap_or(600);
                if now - w.last_progress < deadline {
                    w.progressing = Some((
                        true,
                        "ReplicaSetUpdated".into(),
                        format!(
                            "ReplicaSet \"{}-{}\" is progressing.",
                            w.name, w.template_hash
                        ),
                    ));
                }
            }
        }
    }

    pub fn schedule_progress_deadline(&mut self, wl: WlId) {
        let w = &self.workloads[wl];
        if w.kind != WorkloadKind::Deployment {
            return;
        }
        let deadline = w.spec.progress_deadline_seconds.unwrap_or(600);
        let since = w.last_progress;
        self.schedule(since + deadline, Ev::ProgressDeadline { wl, since });
    }

    pub fn check_progress_deadline(&mut self, wl: WlId) {
        let c = self.counts(wl);
        let complete = c.updated >= c.desired && c.current <= c.updated && c.available >= c.updated;
        let now = self.now;
        let w = &mut self.workloads[wl];
        let deadline = w.spec.progress_deadline_seconds.unwrap_or(600);
        if !complete && now - w.last_progress >= deadline {
            w.progressing = Some((
                false,
                "ProgressDeadlineExceeded".into(),
                format!(
                    "ReplicaSet \"{}-{}\" has timed out progressing.",
                    w.name, w.template_hash
                ),
            ));
        }
    }

    fn pod_name_suffix(&mut self) -> String {
        short_hash(&format!("pod-{}", self.next_uid), 5)
    }

    fn node_for(&self, n: usize) -> String {
        self.node_names[n % self.node_names.len()].clone()
    }

    fn reconcile_deployment(&mut self, wl: WlId) {
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

    fn reconcile_statefulset(&mut self, wl: WlId) {
        let replicas = self.desired_replicas(wl);
        let partition = self.partition(wl);
        let w = &self.workloads[wl];
        let rolling = w.strategy_type() == "RollingUpdate";
        let hash = w.template_hash.clone();
        let current = w.current_hash.clone();
        let mut by_ordinal = std::collections::BTreeMap::new();
        for &pid in &w.pods {
            if let Some(o) = self.pod(pid).ordinal {
                by_ordinal.insert(o, pid);
            }
        }
        // OrderedReady: create the lowest missing ordinal once all below are Ready.
        let mut all_ready = true;
        for i in 0..replicas {
            match by_ordinal.get(&i) {
                None => {
                    let h = if rolling && i < partition {
                        current.clone()
                    } else {
                        hash.clone()
                    };
                    let name = format!("{}-{}", self.workloads[wl].name, i);
                    let node = self.node_for(i as usize);
                    self.create_workload_pod(wl, name, node, Some(i), h);
                    all_ready = false;
                    break;
                }
                Some(&pid) => {
                    let p = self.pod(pid);
                    if !(p.active() && p.ready) {
                        all_ready = false;
                        break;
                    }
                }
            }
        }
        // Ordinals beyond replicas go, highest first.
        for (&o, &pid) in by_ordinal.iter().rev() {
            if o >= replicas && self.pod(pid).active() {
                self.terminate_pod(pid);
                return;
            }
        }
        if rolling && all_ready {
            for i in (partition..replicas).rev() {
                if let Some(&pid) = by_ordinal.get(&i)
                    && self.pod(pid).template_hash != hash
                {
                    self.terminate_pod(pid);
                    break;
                }
            }
        }
        let w = &self.workloads[wl];
        let all_updated = w.pods.len() as u32 == replicas
            && w.pods
                .iter()
                .all(|&p| self.pod(p).template_hash == w.template_hash);
        if all_updated {
            let w = &mut self.workloads[wl];
            w.current_hash = w.template_hash.clone();
        }
    }

    fn reconcile_daemonset(&mut self, wl: WlId) {
        let nodes = self.node_names.clone();
        let w = &self.workloads[wl];
        let rolling = w.strategy_type() == "RollingUpdate";
        let hash = w.template_hash.clone();
        let max_unavail = w
            .spec
            .update_strategy
            .as_ref()
            .and_then(|s| s.rolling_update.as_ref())
            .and_then(|r| r.max_unavailable.clone())
            .unwrap_or(IntOrPercent::Int(1))
            .resolve(nodes.len() as u32, true)
            .unwrap_or(1)
            .max(1);
        let mut on_node: std::collections::HashMap<&str, Vec<PodId>> = Default::default();
        for &pid in &w.pods {
            on_node
                .entry(self.pod(pid).node.as_str())
                .or_default()
                .push(pid);
        }
        let mut missing = Vec::new();
        let mut unavailable = 0u32;
        let mut old_ready = Vec::new();
        let mut old_unready = Vec::new();
        for node in &nodes {
            match on_node.get(node.as_str()) {
                None => {
                    missing.push(node.clone());
                    unavailable += 1;
                }
                Some(pids) => {
                    let active: Vec<PodId> = pids
                        .iter()
                        .copied()
                        .filter(|&p| self.pod(p).active())
                        .collect();
                    if !active.iter().any(|&p| self.pod(p).ready) {
                        unavailable += 1;
                    }
                    for p in active {
                        if self.pod(p).template_hash != hash {
                            if self.pod(p).ready {
                                old_ready.push(p);
                            } else {
                                old_unready.push(p);
                            }
                        }
                    }
                }
            }
        }
        for node in missing {
            let suffix = self.pod_name_suffix();
            let name = format!("{}-{}", self.workloads[wl].name, suffix);
            self.create_workload_pod(wl, name, node, None, hash.clone());
        }
        if !rolling {
            return;
        }
        for p in old_unready {
            self.terminate_pod(p);
        }
        for p in old_ready {
            if unavailable >= max_unavail {
                break;
            }
            self.terminate_pod(p);
            unavailable += 1;
        }
    }

    pub fn status_inputs(&self, wl: WlId) -> StatusInputs {
        let w = &self.workloads[wl];
        StatusInputs {
            generation: w.generation,
            observed: w.observed_generation,
            counts: self.counts(wl),
            progressing: w.progressing.as_ref().map(|p| p.0),
            current_is_update: w.current_hash == w.template_hash,
        }
    }

    /// kubectl's rollout-status rules for the kind, observedGeneration first.
    pub fn rollout_status(&self, wl: WlId) -> Result<RolloutStatus, ClusterError> {
        let w = &self.workloads[wl];
        let c = self.counts(wl);
        let status = |phase, message: String| RolloutStatus { phase, message };
        use RolloutPhase::{Complete, Failed, Progressing};
        match w.kind {
            WorkloadKind::Deployment => {
                if w.generation > w.observed_generation {
                    return Ok(status(
                        Progressing,
                        "Waiting for deployment spec update to be observed...".into(),
                    ));
                }
                if let Some((false, reason, _)) = &w.progressing
                    && reason == "ProgressDeadlineExceeded"
                {
                    return Ok(status(
                        Failed,
                        format!("deployment {:?} exceeded its progress deadline", w.name),
                    ));
                }
                if c.updated < c.desired {
                    return Ok(status(
                        Progressing,
                        format!(
                            "Waiting for deployment {:?} rollout to finish: {} out of {} new replicas have been updated...",
                            w.name, c.updated, c.desired
                        ),
                    ));
                }
                if c.current > c.updated {
                    return Ok(status(
                        Progressing,
                        format!(
                            "Waiting for deployment {:?} rollout to finish: {} old replicas are pending termination...",
                            w.name,
                            c.current - c.updated
                        ),
                    ));
                }
                if c.available < c.updated {
                    return Ok(status(
                        Progressing,
                        format!(
                            "Waiting for deployment {:?} rollout to finish: {} of {} updated replicas are available...",
                            w.name, c.available, c.updated
                        ),
                    ));
                }
                Ok(status(
                    Complete,
                    format!("deployment {:?} successfully rolled out", w.name),
                ))
            }
            WorkloadKind::DaemonSet => {
                if w.strategy_type() != "RollingUpdate" {
                    return Err(ClusterError::Invalid(
                        "rollout status is only available for RollingUpdate strategy type".into(),
                    ));
                }
                if w.generation > w.observed_generation {
                    return Ok(status(
                        Progressing,
                        "Waiting for daemon set spec update to be observed...".into(),
                    ));
                }
                if c.updated < c.desired {
                    return Ok(status(
                        Progressing,
                        format!(
                            "Waiting for daemon set {:?} rollout to finish: {} out of {} new pods have been updated...",
                            w.name, c.updated, c.desired
                        ),
                    ));
                }
                if c.available < c.desired {
                    return Ok(status(
                        Progressing,
                        format!(
                            "Waiting for daemon set {:?} rollout to finish: {} of {} updated pods are available...",
                            w.name, c.available, c.desired
                        ),
                    ));
                }
                Ok(status(
                    Complete,
                    format!("daemon set {:?} successfully rolled out", w.name),
                ))
            }
            WorkloadKind::StatefulSet => {
                if w.strategy_type() != "RollingUpdate" {
                    return Err(ClusterError::Invalid(
                        "rollout status is only available for RollingUpdate strategy type".into(),
                    ));
                }
                if w.observed_generation == 0 || w.generation > w.observed_generation {
                    return Ok(status(
                        Progressing,
                        "Waiting for statefulset spec update to be observed...".into(),
                    ));
                }
                if c.ready < c.desired {
                    return Ok(status(
                        Progressing,
                        format!("Waiting for {} pods to be ready...", c.desired - c.ready),
                    ));
                }
                let partition = self.partition(wl);
                let update_revision = format!("{}-{}", w.name, w.template_hash);
                if partition > 0 {
                    if c.updated < c.desired.saturating_sub(partition) {
                        return Ok(status(
                            Progressing,
                            format!(
                                "Waiting for partitioned roll out to finish: {} out of {} new pods have been updated...",
                                c.updated,
                                c.desired - partition
                            ),
                        ));
                    }
                    return Ok(status(
                        Complete,
                        format!(
                            "partitioned roll out complete: {} new pods have been updated...",
                            c.updated
                        ),
                    ));
                }
                if w.current_hash != w.template_hash {
                    return Ok(status(
                        Progressing,
                        format!(
                            "waiting for statefulset rolling update to complete {} pods at revision {}...",
                            c.updated, update_revision
                        ),
                    ));
                }
                Ok(status(
                    Complete,
                    format!(
                        "statefulset rolling update complete {} pods at revision {}...",
                        c.current, update_revision
                    ),
                ))
            }
        }
    }
}
