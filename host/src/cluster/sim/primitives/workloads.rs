//! Namespaces and workloads as the primitives see them: listing, reading,
//! `rollout restart`, and rollout status and waits, the waits moving the
//! virtual clock event by event instead of sleeping.

use crate::cluster::selector::Selector;
use crate::cluster::sim::fleet::WorldGuard;
use crate::cluster::sim::rollout;
use crate::cluster::sim::world::{World, kind_order};
use crate::cluster::{ClusterError, ClusterResult};
use crate::wit::{
    Namespace, RolloutOutcome, RolloutPhase, RolloutStatus, Timestamp, Workload, WorkloadKind,
    WorkloadRef,
};

use super::super::SimCluster;
use super::kv;

impl SimCluster {
    pub(in crate::cluster::sim) fn namespaces(
        &self,
        selector: &str,
    ) -> ClusterResult<Vec<Namespace>> {
        let sel = Selector::parse(selector)?;
        let w = self.lock();
        Ok(w.namespaces
            .values()
            .filter(|n| sel.matches(&n.labels))
            .map(|n| Namespace {
                name: n.name.clone(),
                labels: kv(&n.labels),
                annotations: kv(&n.annotations),
            })
            .collect())
    }

    pub(in crate::cluster::sim) fn workloads(
        &self,
        namespace: Option<&str>,
        kind: Option<WorkloadKind>,
        selector: &str,
    ) -> ClusterResult<Vec<Workload>> {
        let sel = Selector::parse(selector)?;
        let w = self.lock();
        let ids = w.workload_ids(namespace);
        Ok(ids
            .into_iter()
            .filter(|&id| {
                let wl = &w.workloads[id];
                kind.is_none_or(|k| kind_order(k) == kind_order(wl.kind)) && sel.matches(&wl.labels)
            })
            .map(|id| w.workload_view(id))
            .collect())
    }

    pub(in crate::cluster::sim) fn workload(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
    ) -> ClusterResult<Workload> {
        let w = self.lock();
        let id = w.workload_id(kind, namespace, name)?;
        Ok(w.workload_view(id))
    }

    pub(in crate::cluster::sim) fn restart(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
    ) -> ClusterResult<Timestamp> {
        let mut w = self.lock();
        let id = w.workload_id(kind, namespace, name)?;
        w.restart(id)
    }

    pub(in crate::cluster::sim) fn rollout(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
    ) -> ClusterResult<RolloutStatus> {
        let w = self.lock();
        let id = w.workload_id(kind, namespace, name)?;
        w.rollout_status(id)
    }

    pub(in crate::cluster::sim) fn await_rollout(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
        timeout_seconds: u32,
    ) -> ClusterResult<RolloutStatus> {
        let mut w = self.lock();
        let id = w.workload_id(kind, namespace, name)?;
        w.wait_rollouts(&[id], timeout_seconds)
            .map(|mut statuses| statuses.remove(0))
    }

    pub(in crate::cluster::sim) fn await_rollouts(
        &self,
        targets: &[WorkloadRef],
        timeout_seconds: u32,
    ) -> ClusterResult<Vec<RolloutOutcome>> {
        let mut w = self.lock();
        let ids = targets
            .iter()
            .map(|t| w.workload_id(t.kind, &t.namespace, &t.name))
            .collect::<ClusterResult<Vec<_>>>()?;
        let statuses = w.wait_rollouts(&ids, timeout_seconds)?;
        Ok(crate::cluster::finished(statuses))
    }
}

fn not_found_workload(kind: WorkloadKind, ns: &str, name: &str) -> ClusterError {
    ClusterError::NotFound(format!("{} {ns}/{name}", kind.as_kind()))
}

impl World {
    fn workload_id(&self, kind: WorkloadKind, ns: &str, name: &str) -> ClusterResult<usize> {
        self.find_workload(kind, ns, name)
            .ok_or_else(|| not_found_workload(kind, ns, name))
    }
}

impl WorldGuard<'_> {
    /// Until one of `wls` is complete or failed, or the deadline; time
    /// moves event by event, in every cluster sharing the clock. Every workload's status, in order.
    fn wait_rollouts(&mut self, wls: &[usize], timeout: u32) -> ClusterResult<Vec<RolloutStatus>> {
        let deadline = self.now + i64::from(timeout);
        // A status is a function of these; recompute it only when they change.
        let mut last: Vec<Option<(rollout::StatusInputs, RolloutStatus)>> = vec![None; wls.len()];
        loop {
            self.fleet.settle();
            let mut any_done = false;
            for (i, &wl) in wls.iter().enumerate() {
                let inputs = self.status_inputs(wl);
                let status = match last[i].take() {
                    Some((prev, status)) if prev == inputs => status,
                    _ => self.rollout_status(wl)?,
                };
                any_done |= status.phase != RolloutPhase::Progressing;
                last[i] = Some((inputs, status));
            }
            if any_done || wls.is_empty() || self.now >= deadline {
                return Ok(last.into_iter().flatten().map(|(_, s)| s).collect());
            }
            let next = self
                .fleet
                .next_event_time()
                .map_or(deadline, |t| t.min(deadline))
                .max(self.now + 1);
            self.fleet.advance_to(next);
        }
    }
}
